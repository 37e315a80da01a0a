"""The facility baselines: OPPS (hospital outpatient), CLFS (lab) and IPPS (inpatient DRG), against quoted CMS rows.

Expected values are typed in from the CMS files (the lines are quoted) and computed with Decimal, never taken from
the code under test.
"""

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from benchmark import config
from benchmark.reference.medicare import clfs, ipps, opps

FIXTURES = Path(__file__).parent / "fixtures" / "ipps"

# 2025_NFRM_Addendum_B_nodesc.txt (tab-separated; descriptor blanked), verbatim:
B_45378 = "45378\t\t\tT\t5311\t10.2245\t$911.71\t.\t$182.35\t\t\t\t"
B_G0463 = "G0463\t\t\tJ2\t5012\t1.4452\t$128.87\t.\t$25.78\t\t\t\t"
B_44320 = "44320\t\t\tC\t\t\t\t\t\t\t\t\t"
B_85025 = "85025\t\t\tQ4\t\t\t\t\t\t\t\t\t"
B_0001F = "0001F\t\t\tE1\t\t\t\t\t\t\t\t\t"
# 2025_NFRM_Addendum_A.txt: "5311\tLevel 1 Lower GI Procedures \tT\t10.2245\t$911.71\t.\t$182.35\t\t\t\t"
# PUF_CLFS_CY2026_Q3V1_nodesc.csv line 1498: "2026,85025,,20260101,N,00007.77,,,"; 612: "2026,80053,,20260101,N,00010.56,,,"


def test_quoted_opps_lines_are_in_the_shipped_file():
    lines = config.OPPS_ADDENDUM_B_FILES[2025].read_text(encoding="cp1252").splitlines()
    for line in (B_45378, B_G0463, B_44320, B_85025, B_0001F):
        assert line in lines


def test_opps_separately_paid_code():
    status = opps.opps_status("45378", 2025)
    assert (status.status_indicator, status.apc, status.relative_weight, status.payment_rate) == (
        "T",
        "5311",
        10.2245,
        911.71,
    )
    assert status.category == opps.PAID and status.comparable and status.year == 2025
    visit = opps.opps_status("G0463", 2025)
    assert (visit.status_indicator, visit.apc, visit.payment_rate) == ("J2", "5012", 128.87)


@pytest.mark.parametrize(
    "code,si,category,words",
    [
        ("44320", "C", opps.INPATIENT_ONLY, "inpatient only under Medicare"),
        ("85025", "Q4", opps.PACKAGED, "packaged: no separate Medicare payment"),
        ("0001F", "E1", opps.NOT_OPPS, "not paid under OPPS"),
    ],
)
def test_opps_status_words(code, si, category, words):
    status = opps.opps_status(code, 2026)  # 2026 uses the latest Addendum B shipped (CY 2025) and says which
    assert (status.status_indicator, status.category, status.year) == (si, category, 2025)
    assert status.words.startswith(words) and status.payment_rate is None and not status.comparable


def test_every_packaged_indicator_reads_packaged():
    for si in ("N", "Q1", "Q2", "Q3", "Q4"):
        assert opps.STATUS_INDICATORS[si][1].startswith("packaged: no separate Medicare payment")
    for si in ("B", "E1", "E2"):
        assert opps.STATUS_INDICATORS[si][1].startswith("not paid under OPPS")


def test_opps_missing_code_or_year_is_not_available():
    assert opps.opps_status("ZZZZZ", 2025).words.startswith(config.NOT_AVAILABLE)
    early = opps.opps_status("45378", 2024)
    assert early.status_indicator is None and early.words.startswith(config.NOT_AVAILABLE)


def test_addendum_b_agrees_with_addendum_a_for_every_paid_apc():
    b = opps.load_addendum_b(2025)
    a = opps.load_addendum_a(2025).set_index("apc")
    assert len(b) == 18682 and b["payment_rate"].notna().sum() == 6636  # SOURCE.md counts
    paid = b[b["status_indicator"].isin(["S", "T", "V", "J1", "J2"]) & b["payment_rate"].notna()]
    assert len(paid) > 3000
    assert (paid["payment_rate"].to_numpy() == a.loc[paid["apc"], "payment_rate"].to_numpy()).all()
    assert a.loc["5311", "group_title"] == "Level 1 Lower GI Procedures"
    stray = b.set_index("hcpcs").loc["A4341"]  # the code cell ends with a stray 0xFF byte in the CMS file
    assert stray["hcpcs_raw"] == "A4341\xff" and stray["status_indicator"] == "N"


def test_opps_bad_layout_is_reported(tmp_path):
    lines = config.OPPS_ADDENDUM_B_FILES[2025].read_bytes().decode("cp1252").split("\r\n")
    bad = tmp_path / "addb.txt"
    bad.write_text(
        "\r\n".join(lines[:5] + ["45378\t\t\tT\t5311\t10.2245\t$9x1.71\t.\t$182.35\t\t\t\t"]), encoding="cp1252"
    )
    with pytest.raises(opps.OppsFileError, match=r"addb.txt, line 6, Payment Rate: '\$9x1.71'"):
        opps.load_addendum_b(bad)


def test_clfs_rates():
    rate = clfs.clfs_rate("85025", 2026)
    assert (rate.rate, rate.indicator, rate.effective_date, rate.source_line) == (7.77, "N", "20260101", 1498)
    assert clfs.clfs_rate("80053", 2026).rate == 10.56 and clfs.clfs_rate("36415", 2026).rate == 9.34
    assert clfs.clfs_rate("85025", 2026, "QW").rate == 7.77
    assert clfs.clfs_rate("85025", 2025) is None  # no CY 2025 file: not available, never a guess
    assert clfs.clfs_rate("44320", 2026) is None
    no_rate = clfs.clfs_rate("0526U", 2026)  # "2026,0526U,,20260101,L,00000.00,,,": no national rate
    assert no_rate.rate is None and no_rate.indicator == "L"
    table = clfs.load_clfs(2026)
    assert len(table) == 2206 and not table.duplicated(["hcpcs", "modifier"]).any()


def test_clfs_bad_rate_is_reported(tmp_path):
    lines = config.CLFS_FILES[2026].read_text(encoding="latin-1").splitlines()
    bad = tmp_path / "clfs.csv"
    bad.write_text("\n".join(lines[:6] + ["2026,85025,,20260101,N,7.7,,,"]), encoding="latin-1")
    with pytest.raises(clfs.ClfsFileError, match="clfs.csv, line 7: RATE '7.7'"):
        clfs.load_clfs(bad)


def test_ipps_standardized_amounts():
    # FY2026_CMS-1833-F_Tables_1A-1E.txt: 1A "$4,456.72 " / "$2,295.89 "; 1B "$4,186.62 " / "$2,565.99 "; 1D $524.15
    amounts = ipps.load_standardized_amounts()
    assert (amounts.fiscal_year, amounts.labor_1a, amounts.nonlabor_1a) == (2026, 4456.72, 2295.89)
    assert (amounts.labor_1b, amounts.nonlabor_1b, amounts.capital) == (4186.62, 2565.99, 524.15)
    assert amounts.operating == float(Decimal("4186.62") + Decimal("2565.99")) == 6752.61
    assert float(Decimal("4456.72") + Decimal("2295.89")) == amounts.operating  # 1A splits the same total


def test_table5_reader_and_drg_payment():
    table = ipps.load_table5(FIXTURES / "table5_fy2026_layout.txt")
    assert list(table["drg"]) == ["001", "470", "998", "999"]
    assert set(table["weight_column"]) == {"Weights - 10% Cap Applied"}
    assert table.set_index("drg").loc["999", "weight"] != table.set_index("drg").loc["999", "weight"]  # NaN
    payment = ipps.drg_payment("470", table)
    expected = float((Decimal("1.9289") * Decimal("6752.61")).quantize(Decimal("0.01"), ROUND_HALF_UP))
    assert (payment.weight, payment.amount, payment.standardized_amount) == (1.9289, expected, 6752.61)
    assert payment.table5_line == 5  # the quoted title spans two lines, then the header
    assert ipps.drg_payment("999", table).amount is None
    assert ipps.drg_payment("123", table) is None
    # the MS-DRG Title column (CMS public text in a CMS file; here the fixture's own row), spaces normalized
    assert payment.title == "MAJOR HIP AND KNEE JOINT REPLACEMENT OR REATTACHMENT OF LOWER EXTREMITY WITHOUT MCC"
    assert (payment.gmlos, payment.amlos) == (1.9, 2.2)
    assert table.set_index("drg").loc["999", "title"] == "UNGROUPABLE"
    assert ipps.drg_payment("001", table).gmlos is None  # empty GMLOS / AMLOS cells stay empty


def test_shipped_standardized_amounts_are_of_the_configured_fiscal_year():
    # an MS-DRG report's year is config.IPPS_FISCAL_YEAR: the shipped Tables 1A-1E must say the same year
    assert ipps.load_standardized_amounts().fiscal_year == config.IPPS_FISCAL_YEAR == 2026


def test_table5_of_another_year_or_layout_is_refused(tmp_path):
    text = (FIXTURES / "table5_fy2026_layout.txt").read_bytes().decode("cp1252")
    other = tmp_path / "t5_2025.txt"
    other.write_bytes(text.replace("FY 2026", "FY 2025").encode("cp1252"))
    with pytest.raises(ipps.IppsFileError, match="Table 5 is for FY 2025"):
        ipps.drg_payment("470", ipps.load_table5(other))
    broken = tmp_path / "t5_bad.txt"
    broken.write_bytes(
        text.replace("Weights - Before Cap", "W1").replace("Weights - 10% Cap Applied", "W2").encode("cp1252")
    )
    with pytest.raises(ipps.IppsFileError, match="no 'Weights' column"):
        ipps.load_table5(broken)
    with pytest.raises(ipps.IppsFileError, match="not found"):
        ipps.load_table5(tmp_path / "missing.txt")
