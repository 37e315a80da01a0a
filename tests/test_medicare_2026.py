"""The 2026 PFS: the fixed-width PPRRVU file read from its documented layout, both conversion factors, and each
payment year's own GPCIs, against amounts computed by hand from quoted CMS rows.

Field positions are those of the CMS read-me RVU26B.pdf ("DATA RECORD", 1-based, inclusive): HCPCS 1-5, modifier
6-7, status 58, work RVU 60-65, non-facility PE 67-72, non-facility NA 73-74, facility PE 76-81, facility NA 82-83,
MP 85-89, totals 91-96 / 97-102, PC/TC 103, global 104-106, pre/intra/post 107-115, mult/bilat/asst/co/team
116-120, conversion factor 133-140. Every expected amount below is Decimal arithmetic on the quoted values, rounded
half-up to cents.
"""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from benchmark import config
from benchmark.reference import medicare

# PPRRVU2026_Apr_nonQPP_nodesc.txt, lines 5281, 12909, 7780 and the 45378 record, verbatim (descriptor blanked).
LINE_44320 = (
    "44320" + " " * 52 + "A  19.41   9.68NA   9.68    4.50  33.59 33.590090.09.81.10202109"
    "            33.4009 090 99      0.00   0.00   0.00"
)
LINE_99213 = (
    "99213" + " " * 52 + "A   1.30   1.46     0.33    0.09   2.85  1.720XXX.00.00.00000009"
    "            33.4009 090 99      0.00   0.00   0.00"
)
LINE_71046 = (
    "71046" + " " * 52 + "A   0.21   0.76     0.76NA  0.02   0.99  0.991XXX.00.00.00000009"
    "            33.4009 090 99      2.70   2.70   0.05"
)
LINE_45378 = (
    "45378" + " " * 52 + "A   3.18   7.73     1.34    0.41  11.32  4.930000.00.00.00201009"
    "            33.4009 090 99      0.00   0.00   0.00"
)

# GPCI2026.csv (work without floor, work with floor, PE, MP) and GPCI2024.csv (work, PE, MP), verbatim rows:
#   04412,TX,18,HOUSTON,1.008,1.008,0.993,1.376          04412,TX,18,HOUSTON,1.014,1.003,1.409
#   13202,NY,01,MANHATTAN,1.064,1.064,1.162,1.586        13202,NY,01,MANHATTAN,1.065,1.166,1.656
#   02102,AK,01,ALASKA*,1.500,1.500,1.065,0.551          02102,AK,01,ALASKA*,1.500,1.081,0.592
#   04412,TX,99,REST OF TEXAS,0.991,1.000,0.949,0.903    04412,TX,99,REST OF TEXAS,1.000,0.945,0.934
GPCI_2026 = {
    "04412-18": ("1.008", "0.993", "1.376"),
    "13202-01": ("1.064", "1.162", "1.586"),
    "02102-01": ("1.500", "1.065", "0.551"),
    "04412-99": ("0.991", "0.949", "0.903"),
}
GPCI_2024 = {
    "04412-18": ("1.014", "1.003", "1.409"),
    "13202-01": ("1.065", "1.166", "1.656"),
    "02102-01": ("1.500", "1.081", "0.592"),
    "04412-99": ("1.000", "0.945", "0.934"),
}
# PPRRVU rows of 44320 (work, facility PE, MP, CF): 2022 line 10030, 2023 line 10551, 2024 line 10863:
#   44320,,,A,,19.91,11.31,NA,11.31,,4.45,35.67,35.67,0,090,...,34.6062
#   44320,,,A,,19.91,11.44,NA,11.44,,4.37,35.72,35.72,0,090,...,33.8872
#   44320,,,A,,19.91,11.56,NA,11.56,,4.48,35.95,35.95,0,090,...,33.2875
RVU_44320 = {
    2022: ("19.91", "11.31", "4.45", "34.6062"),
    2023: ("19.91", "11.44", "4.37", "33.8872"),
    2024: ("19.91", "11.56", "4.48", "33.2875"),
    2026: ("19.41", "9.68", "4.50", "33.4009"),
}


def by_hand(work: str, pe: str, mp: str, gpci: tuple[str, str, str], cf: str) -> float:
    total = Decimal(work) * Decimal(gpci[0]) + Decimal(pe) * Decimal(gpci[1]) + Decimal(mp) * Decimal(gpci[2])
    return float((total * Decimal(cf)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def field(line: str, first: int, last: int) -> str:
    return line[first - 1 : last]


def test_quoted_lines_are_in_the_shipped_file():
    text = config.PPRRVU_FILES[2026].read_text(encoding="latin-1").splitlines()
    assert text[5280] == LINE_44320 and text[12908] == LINE_99213 and text[7779] == LINE_71046
    assert LINE_45378 in text


def test_every_used_field_of_44320_read_from_its_position():
    row = medicare.load_pprrvu(2026).set_index(["hcpcs", "modifier"]).loc[("44320", "")]
    assert (field(LINE_44320, 1, 5), row.name[0]) == ("44320", "44320")
    assert field(LINE_44320, 58, 58) == row["status_code"] == "A"
    assert float(field(LINE_44320, 60, 65)) == row["work_rvu"] == 19.41
    assert float(field(LINE_44320, 67, 72)) == row["non_facility_pe_rvu"] == 9.68
    assert field(LINE_44320, 73, 74) == "NA" and row["non_facility_na"]
    assert float(field(LINE_44320, 76, 81)) == row["facility_pe_rvu"] == 9.68
    assert field(LINE_44320, 82, 83) == "  " and not row["facility_na"]
    assert float(field(LINE_44320, 85, 89)) == row["mp_rvu"] == 4.50
    assert float(field(LINE_44320, 91, 96)) == row["non_facility_total"] == 33.59
    assert float(field(LINE_44320, 97, 102)) == row["facility_total"] == 33.59
    assert field(LINE_44320, 103, 103) == row["pctc_ind"] == "0"
    assert field(LINE_44320, 104, 106) == row["global_days"] == "090"
    assert (row["pre_op"], row["intra_op"], row["post_op"]) == (0.09, 0.81, 0.10)
    assert field(LINE_44320, 107, 115) == ".09.81.10"
    assert field(LINE_44320, 116, 120) == "20210"
    assert (row["mult_proc"], row["bilat_surg"], row["asst_surg"], row["co_surg"], row["team_surg"]) == (
        "2",
        "0",
        "2",
        "1",
        "0",
    )
    assert float(field(LINE_44320, 133, 140)) == row["conversion_factor"] == 33.4009
    assert row["source_line"] == 5281 and row["year"] == 2026


def test_modifier_rows_and_na_indicators_2026():
    rvu = medicare.load_pprrvu(2026).set_index(["hcpcs", "modifier"])
    assert len(rvu) == 19277  # records after the 7 HDR lines (SOURCE.md)
    pc = rvu.loc[("71046", "26")]  # "7104626 ... A   0.21   0.08     0.08    0.01   0.30  0.30..."
    assert (pc["work_rvu"], pc["facility_pe_rvu"], pc["mp_rvu"]) == (0.21, 0.08, 0.01)
    glob = rvu.loc[("71046", "")]
    assert glob["facility_na"] and not glob["non_facility_na"]
    assert rvu.loc[("45378", "53"), "work_rvu"] == 1.59
    assert "description" not in rvu.columns  # descriptors are never read
    assert set(rvu["conversion_factor"]) == {33.4009}


def test_issue_example_and_qp_conversion_factor():
    assert (
        medicare.national_amount("44320", 2026)
        == 1121.94
        == by_hand("19.41", "9.68", "4.50", ("1", "1", "1"), "33.4009")
    )
    assert medicare.national_amount("44320", 2026, qp=True) == by_hand(
        "19.41", "9.68", "4.50", ("1", "1", "1"), "33.5675"
    )  # 1,127.53
    assert medicare.conversion_factor(2026) == 33.4009 and medicare.conversion_factor(2026, qp=True) == 33.5675
    with pytest.raises(medicare.MedicareLookupError, match="qualifying-APM"):
        medicare.conversion_factor(2025, qp=True)
    assert config.DEFAULT_MEDICARE_YEAR == 2026
    assert medicare.national_amount("44320") == 1121.94  # the default year


@pytest.mark.parametrize(
    "code,setting,rvu",
    [
        ("99213", "non_facility", ("1.30", "1.46", "0.09")),
        ("99213", "facility", ("1.30", "0.33", "0.09")),
        ("45378", "facility", ("3.18", "1.34", "0.41")),
        ("45378", "non_facility", ("3.18", "7.73", "0.41")),
        ("44320", "facility", ("19.41", "9.68", "4.50")),
    ],
)
@pytest.mark.parametrize("locality", sorted(GPCI_2026))
def test_2026_locality_amounts_use_2026_gpcis(code, setting, rvu, locality):
    table = medicare.medicare_amounts(code, 2026, localities=[locality])
    row = table[(table["locality_id"] == locality) & (table["setting"] == setting)].iloc[0]
    assert row["amount"] == by_hand(*rvu, GPCI_2026[locality], "33.4009")
    assert row["gpci_year"] == 2026 and not row["gpci_borrowed"]


@pytest.mark.parametrize("year", [2022, 2023, 2024])
@pytest.mark.parametrize("locality", sorted(GPCI_2024))
def test_2022_to_2024_use_2024_gpcis_and_say_so(year, locality):
    work, pe, mp, cf = RVU_44320[year]
    table = medicare.medicare_amounts("44320", year, localities=[locality])
    row = table[(table["locality_id"] == locality) & (table["setting"] == "facility")].iloc[0]
    assert row["amount"] == by_hand(work, pe, mp, GPCI_2024[locality], cf)
    assert row["gpci_year"] == 2024 and row["gpci_borrowed"] == (year != 2024)


def test_each_year_its_own_gpci_table_and_counties():
    assert [medicare.gpci_year_for(y) for y in (2022, 2023, 2024, 2025, 2026)] == [2024, 2024, 2024, 2025, 2026]
    assert [medicare.county_year_for(y) for y in (2022, 2023, 2024, 2025, 2026)] == [2024, 2024, 2024, 2025, 2025]
    assert medicare.geography_note(2024) is None and medicare.geography_note(2025) is None
    assert "2023 locality amounts use the 2024 GPCIs" in medicare.geography_note(2023)
    assert "counties are those of 2025" in medicare.geography_note(2026)
    gpci26 = medicare.load_gpci(2026).set_index("locality_id")
    assert len(gpci26) == 109
    rest_of_texas = gpci26.loc["04412-99"]  # 2026 work GPCI without the floor; the floored value kept beside it
    assert (rest_of_texas["gpci_work"], rest_of_texas["gpci_work_floor"]) == (0.991, 1.0)
    gpci24 = medicare.load_gpci(2024).set_index("locality_id")
    assert gpci24.loc["13202-01", ["gpci_work", "gpci_pe", "gpci_mp"]].tolist() == [1.065, 1.166, 1.656]
    counties = medicare.load_locality_counties(2024)
    assert set(counties["locality_id"]) == set(gpci24.index) and set(counties["county_year"]) == {2024}
    # 24LOCCO.csv line 148: "4412,18,,HOUSTON,HARRIS " (state forward-filled from the TEXAS block)
    houston = counties.set_index("locality_id").loc["04412-18"]
    assert (houston["state_name"], houston["counties"], houston["source_line"]) == ("TEXAS", "HARRIS", 148)


def test_fixed_width_layout_errors_name_line_and_columns(tmp_path):
    lines = config.PPRRVU_FILES[2026].read_text(encoding="latin-1").splitlines()
    shifted = lines[:7] + [" " + lines[7][:-1]] + lines[8:20]
    path = tmp_path / "PPRRVU2026_bad.txt"
    path.write_text("\n".join(shifted), encoding="latin-1")
    with pytest.raises(medicare.PfsFileError, match=r"line 8, columns 1-5 \(hcpcs\)"):
        medicare.load_pprrvu(path)
    bad_rvu = lines[:7] + [lines[7][:59] + "  x.00" + lines[7][65:]]
    path.write_text("\n".join(bad_rvu), encoding="latin-1")
    with pytest.raises(medicare.PfsFileError, match=r"line 8, columns 60-65 \(work_rvu\)"):
        medicare.load_pprrvu(path)
    short = lines[:7] + [lines[7][:150]]
    path.write_text("\n".join(short), encoding="latin-1")
    with pytest.raises(medicare.PfsFileError, match="line 8: record is 150 characters, expected 171"):
        medicare.load_pprrvu(path)


def test_code_not_in_release_is_not_available():
    assert medicare.medicare_amounts("ZZZZZ", 2026, localities=None).empty
    assert medicare.national_amount("ZZZZZ", 2026) is None
    with pytest.raises(medicare.MedicareLookupError, match="No PFS release shipped for 2021"):
        medicare.medicare_amounts("44320", 2021)
