"""Reports for an MS-DRG (`paybench report MS-DRG-470`): the code's form, fail-fast errors, the IPPS comparison.

The IPPS amount is computed here with Decimal from the quoted row of the hand-built Table 5 layout fixture
(tests/fixtures/ipps/table5_fy2026_layout.txt, NOT a CMS file: see its README) and the FY 2026 national standardized
amounts of Table 1B (labor $4,186.62 + non-labor $2,565.99, quoted in test_facility_baselines.py):
1.9289 x 6,752.61 = 13,025.109... -> $13,025.11. Payer rates are read from the sample hospital file with the csv
module (synthetic sample data — not actual payer rates), not through the readers under test.
"""

from __future__ import annotations

import csv
import json
import textwrap
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import rate_row
from pptx import Presentation

from benchmark import codes, config
from benchmark.cli import main
from benchmark.errors import ParameterError
from benchmark.reference.medicare import ipps
from benchmark.reporting import batch, report
from benchmark.reporting.params import ReportParams

TABLE5 = Path(__file__).parent / "fixtures" / "ipps" / "table5_fy2026_layout.txt"
ROW_470 = (
    "470\tYes\tNo\t08\tSURG\tMAJOR HIP AND KNEE JOINT REPLACEMENT OR REATTACHMENT OF LOWER EXTREMITY WITHOUT MCC"
    "\t1.9289\t1.9289\t1.9\t2.2"
)
TITLE_470 = "MAJOR HIP AND KNEE JOINT REPLACEMENT OR REATTACHMENT OF LOWER EXTREMITY WITHOUT MCC"
HOUSTON = config.SAMPLE_HOSPITAL_DIR / "284160435_sample-general-hospital-of-houston-synthetic_standardcharges.csv"


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def ipps_470() -> Decimal:
    weight = Decimal(ROW_470.split("\t")[7])  # "Weights - 10% Cap Applied"
    return cents(weight * (Decimal("4186.62") + Decimal("2565.99")))


def pct(amount: Decimal, base: Decimal) -> float:
    return float((amount / base * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))


def test_the_quoted_row_is_the_fixtures_and_the_amount_is_13025_11():
    lines = TABLE5.read_bytes().decode("cp1252").split("\r\n")
    assert ROW_470 in lines
    assert ipps_470() == Decimal("13025.11")


# --------------------------------------------------------------------------------------------------- the code
def test_report_codes_name_their_type():
    assert codes.parse("44320") == codes.ReportCode("44320", "44320", codes.CPT_HCPCS)
    assert codes.parse("MS-DRG-470") == codes.ReportCode("MS-DRG-470", "470", codes.MS_DRG)
    assert codes.parse("ms-drg-470").text == "MS-DRG-470"
    assert (codes.label("44320"), codes.label("MS-DRG-001")) == ("CPT 44320", "MS-DRG 001")
    ambiguous = codes.code_problem("470")
    assert "ambiguous" in ambiguous and "revenue code" in ambiguous and "MS-DRG-470" in ambiguous
    assert "MS-DRG-470" in codes.code_problem("MSDRG 470")
    for bad in ("0360", "4432", "MS-DRG-47", "MS-DRG-4700", 44320, None):
        assert codes.code_problem(bad), bad


def test_report_parameters_fail_fast():
    assert ReportParams(code="ms-drg-470").code == "MS-DRG-470"
    with pytest.raises(ParameterError, match="'470' is ambiguous.*write MS-DRG-470"):
        ReportParams(code="470")
    with pytest.raises(ParameterError, match="FY 2026 standardized amounts.*year must be 2026, got 2025"):
        ReportParams(code="MS-DRG-470", year=2025)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["report", "470"], "for an MS-DRG report write MS-DRG-470 (e.g. `paybench report MS-DRG-470"),
        (["report", "0360"], "MS-DRG written MS-DRG-470"),
        (["report", "MS-DRG-470", "--year", "2024"], "`paybench report MS-DRG-470 --year 2026`"),
        (["report", "MS-DRG-470", "--ipps-table5", "no-such-table5.txt"], "ipps_table5 'no-such-table5.txt': no such"),
        (["medicare", "470", "--json"], "write MS-DRG-470"),
        (["medicare", "MS-DRG-470", "--year", "2025"], "--year 2026"),
        (["medicare", "44320", "--ipps-table5", str(TABLE5)], "--ipps-table5 applies to an MS-DRG"),
    ],
)
def test_bad_codes_exit_2_with_a_working_example(capsys, tmp_path, argv, expected):
    assert main([*argv, *(["--out", str(tmp_path / "r")] if argv[0] == "report" else [])]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err and not captured.out
    assert not (tmp_path / "r").exists()


def test_batch_files_take_ms_drg_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        textwrap.dedent(
            f"""
            reports:
              - code: MS-DRG-470
                ipps_table5: {TABLE5}
              - code: ms-drg-001
            """
        )
    )
    loaded = batch.load_batch(good)
    assert [p.code for p in loaded.reports] == ["MS-DRG-470", "MS-DRG-001"]
    assert loaded.reports[0].ipps_table5 == str(TABLE5.resolve())
    bad = tmp_path / "bad.yaml"
    bad.write_text('reports:\n  - code: "470"\n  - {code: MS-DRG-470, ipps_table5: missing.txt}\n')
    with pytest.raises(batch.BatchSpecError) as caught:
        batch.load_batch(bad)
    assert "reports[0]: code '470' is ambiguous" in str(caught.value)
    assert f"reports[1]: ipps_table5 'missing.txt': no such file (looked for {tmp_path / 'missing.txt'})" in str(
        caught.value
    )


# --------------------------------------------------------------------------------------------------- the report
def houston_470() -> dict[tuple[str, str], Decimal]:
    """(payer, plan) -> negotiated dollar of the MS-DRG 470 rows of the sample's Houston file (CMS v2.0 tall)."""
    with open(HOUSTON, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[2]
    out = {}
    for row in rows[3:]:
        record = dict(zip(header, row))
        if record["code|1"] == "470" and record["code|1|type"] == "MS-DRG":
            dollar = record["standard_charge|negotiated_dollar"]
            if dollar:
                out[(record["payer_name"], record["plan_name"])] = Decimal(dollar)
    return out


@pytest.fixture(scope="module")
def houston_rates() -> dict[tuple[str, str], Decimal]:
    rates = houston_470()
    assert len(rates) == 4  # Aetna, BCBS TX, UHC Choice Plus, UHC Medicare Advantage (Cigna: a percentage)
    return rates


@pytest.fixture(scope="module")
def without_table5() -> report.CodeReport:
    return report.CodeReport.build(ReportParams(code="MS-DRG-470", geography="TX", report_date="2026-12-06"))


def test_drg_report_without_table5_says_why_and_guesses_nothing(without_table5, houston_rates):
    summary = without_table5.summary()
    assert (summary["code"], summary["code_type"], summary["billing_code"]) == ("MS-DRG-470", "MS-DRG", "470")
    assert summary["title"].startswith("MS-DRG 470 — payer benchmark report") and summary["drg_title"] == "MS-DRG 470"
    assert summary["medicare"]["ipps"] is None
    assert summary["medicare"]["ipps_reason"].startswith(ipps.TABLE5_NEEDED + ": no Table 5 was given")
    assert summary["medicare"]["facility_baseline"]["basis"] is None
    assert summary["medicare"]["national"] == {"facility": None, "non_facility": None}  # no PFS amount
    assert summary["medicare"]["by_year"] == {} and summary["medicare"]["localities"] == {}
    aetna = summary["drg_rates"]["commercial"]["Aetna"]
    assert (aetna["n"], aetna["median"]) == (1, float(houston_rates[("Aetna", "Open Access Managed Choice")]))
    assert aetna["ipps_amount"] is None and aetna["median_pct_of_ipps"] is None and aetna["n_compared"] == 0
    assert summary["counts"]["institutional_rates_compared"] == 0
    assert any(g.startswith("No Medicare amount for MS-DRG 470: " + ipps.TABLE5_NEEDED) for g in summary["data_gaps"])
    assert any(g.startswith("No title for MS-DRG 470") for g in summary["data_gaps"])
    assert not any("PFS release" in g or "catalog entry" in g or "county" in g for g in summary["data_gaps"])
    assert summary["data_label"] == config.SYNTHETIC_LABEL
    payment = without_table5.section_html("payment")
    assert ipps.TABLE5_NEEDED in payment and "no weight is ever estimated" in payment and "$13,025" not in payment
    assert "Physician Fee Schedule" not in payment and "Conversion factor" not in payment
    overview = without_table5.section_html("code_overview")
    assert "MS-DRG 470 (no title: the CMS Table 5 was not given)" in overview and "Global period" not in overview


@pytest.fixture(scope="module")
def with_table5(tmp_path_factory) -> Path:
    """`paybench report MS-DRG-470 --ipps-table5 FIXTURE --geography TX` through the notebook (HTML, summary, the CSV
    tables and the deck the tests read: no PDF, so no Chromium, and no XLSX; the exports of a DRG report are the
    exports of any report, tested on the shared 44320 report)."""
    out = tmp_path_factory.mktemp("drg") / "r"
    argv = ["report", "MS-DRG-470", "--ipps-table5", str(TABLE5), "--geography", "TX", "--report-date", "2026-12-06"]
    assert main([*argv, "--out", str(out), "--formats", "html,csv,pptx"]) == 0
    return out


def test_drg_report_with_table5_compares_with_the_ipps_amount(with_table5, houston_rates):
    summary = json.loads((with_table5 / "summary.json").read_text(encoding="utf-8"))
    amount = ipps_470()
    block = summary["medicare"]["ipps"]
    assert (block["weight"], block["payment"], block["wage_index"], block["table5_line"]) == (
        1.9289,
        float(amount),
        1.0,
        5,
    )
    assert block["standardized_amount"] == {
        "labor": 4186.62,
        "non_labor": 2565.99,
        "total": 6752.61,
        "table": "1B",
        "source_file": config.IPPS_TABLES_1A_1E.name,
    }
    assert summary["drg_title"] == TITLE_470 and summary["medicare"]["ipps_reason"] is None
    baseline = summary["medicare"]["facility_baseline"]
    assert (baseline["basis"], baseline["amount"]) == ("IPPS", float(amount)) and "wage index 1.0" in baseline["words"]
    expected = {
        ("commercial", "Aetna"): houston_rates[("Aetna", "Open Access Managed Choice")],
        ("commercial", "BCBS"): houston_rates[("Blue Cross and Blue Shield of Texas", "BlueChoice PPO")],
        ("commercial", "UnitedHealthcare"): houston_rates[("UnitedHealthcare", "Choice Plus")],
        ("medicare_advantage", "UnitedHealthcare"): houston_rates[("UnitedHealthcare", "Medicare Advantage PPO")],
    }
    for (line, payer), dollars in expected.items():
        row = summary["drg_rates"][line][payer]
        assert (row["n"], row["median"], row["ipps_amount"]) == (1, float(dollars), float(amount)), payer
        assert row["median_pct_of_ipps"] == pct(dollars, amount), payer
    assert summary["counts"]["rates_compared_with_medicare"] == 0  # never against the physician fee schedule
    html = (with_table5 / "report.html").read_text(encoding="utf-8")
    assert "<h1>MS-DRG 470 — payer benchmark report, 2026 — state TX</h1>" in html and "CPT 470" not in html
    assert TITLE_470 in html and "$13,025.11" in html and "1.9289" in html and "wage index 1.0" in html
    assert 'data-key="medicare.ipps.payment"' in html
    aetna_pct = f"{pct(expected[('commercial', 'Aetna')], amount):.1f}%"
    assert f'data-key="drg_rates.commercial.Aetna.median_pct_of_ipps">{aetna_pct}' in html
    for absent in (
        "Global period",
        "Global days</th>",
        "Conversion factor",
        "Assistant at surgery",
        "work RVU",
        "work GPCI",
    ):
        assert absent not in html, absent
    assert config.SYNTHETIC_LABEL in html
    drg_csv = (with_table5 / "tables" / "drg_rates.csv").read_text(encoding="utf-8")
    assert "Aetna" in drg_csv and config.SYNTHETIC_LABEL in drg_csv


def test_drg_deck_shows_rates_per_stay_not_professional_fees(with_table5, houston_rates):
    slides = list(Presentation(str(with_table5 / "deck.pptx")).slides)
    texts = [" | ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in slides]
    assert "Medicare IPPS fiscal year 2026" in texts[0]
    assert not any("professional fees" in text for text in texts)
    table_slide = next(slide for slide, text in zip(slides, texts) if "rates per inpatient stay" in text)
    table = next(shape.table for shape in table_slide.shapes if shape.has_table)
    cells = [[cell.text for cell in row.cells] for row in table.rows]
    aetna = next(row for row in cells if row[:2] == ["commercial", "Aetna"])
    dollars = houston_rates[("Aetna", "Open Access Managed Choice")]
    assert aetna[4] == f"${dollars:,.2f}" and aetna[6] == f"{pct(dollars, ipps_470()):.1f}%"


def test_rates_of_other_drg_families_are_counted_not_mixed():
    frame = pd.DataFrame(
        [
            rate_row(billing_code="470", billing_code_type="MS-DRG"),
            rate_row(billing_code="470", billing_code_type="APR-DRG"),
            rate_row(billing_code="470", billing_code_type="DRG"),
        ]
    )
    kept, others = report._of_code_type(frame, codes.parse("MS-DRG-470"))
    assert list(kept["billing_code_type"]) == ["MS-DRG"] and others == {"APR-DRG": 1, "DRG": 1}
    same, none = report._of_code_type(frame, codes.parse("44320"))
    assert len(same) == 3 and none == {}


def test_rates_whose_billing_class_is_not_given_are_a_data_gap():
    compared = pd.DataFrame(
        {
            "billing_class": ["unknown", "unknown", "both", "professional", "unknown"],
            "billing_code_type": ["CPT", "CPT", "CPT", "CPT", "MS-DRG"],  # a DRG is a facility rate whatever
        }
    )
    gaps = report.CodeReport._billing_class_gaps(SimpleNamespace(compared=compared))
    assert gaps[0].startswith("2 rates have no % of Medicare: billing class not given")
    assert "not assumed to be either" in gaps[0]
    assert gaps[1].startswith("1 rates have no % of Medicare: billing class 'both'") and len(gaps) == 2
