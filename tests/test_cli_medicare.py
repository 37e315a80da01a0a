"""`paybench medicare CODE [--year] [--locality] [--json] [--qp]`: the JSON contract for scripts.

Expected amounts: 44320 2026 national facility 33.59 x 33.4009 = 1,121.94 (x 33.5675 = 1,127.53); Houston 2026
(19.41 x 1.008 + 9.68 x 0.993 + 4.50 x 1.376) x 33.4009 = 1,181.37 (GPCI2026.csv: 04412,TX,18,HOUSTON,1.008,1.008,
0.993,1.376); 45378 CY 2025 OPPS SI T, APC 5311, $911.71; 85025 CLFS 2026 $7.77 (see the quoted CMS rows in
test_medicare_2026.py and test_facility_baselines.py).
"""

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from benchmark.cli import main


def run_json(capsys, *args: str) -> tuple[int, dict]:
    status = main(["medicare", *args, "--json"])
    return status, json.loads(capsys.readouterr().out)


def test_json_contract_for_44320(capsys):
    status, out = run_json(capsys, "44320")
    assert status == 0
    assert (out["code"], out["year"], out["locality"]) == ("44320", 2026, "national")
    pfs = out["pfs"]
    assert (pfs["facility"], pfs["non_facility"], pfs["conversion_factor"], pfs["gpci_year"]) == (
        1121.94,
        None,
        33.4009,
        None,
    )
    assert out["opps"]["status_indicator"] == "C" and out["opps"]["apc"] is None
    assert out["opps"]["payment_rate"] is None and out["opps"]["words"].startswith("inpatient only under Medicare")
    assert out["clfs"] is None


def test_json_locality_qp_opps_and_clfs(capsys):
    _, houston = run_json(capsys, "44320", "--locality", "04412-18")
    assert houston["pfs"]["facility"] == 1181.37 and houston["pfs"]["gpci_year"] == 2026
    _, qp = run_json(capsys, "44320", "--qp")
    assert qp["pfs"]["facility"] == 1127.53 and qp["pfs"]["conversion_factor"] == 33.5675
    _, colonoscopy = run_json(capsys, "45378")
    assert {k: colonoscopy["opps"][k] for k in ("status_indicator", "apc", "payment_rate")} == {
        "status_indicator": "T",
        "apc": "5311",
        "payment_rate": 911.71,
    }
    assert colonoscopy["opps"]["year"] == 2025 and colonoscopy["opps"]["national_unadjusted"] is True
    _, lab = run_json(capsys, "85025")
    assert lab["clfs"]["rate"] == 7.77 and lab["pfs"]["facility"] is None and lab["pfs"]["status_code"] == "X"


def test_borrowed_gpci_year_is_said(capsys):
    _, out = run_json(capsys, "44320", "--year", "2022", "--locality", "13202-01")
    assert out["pfs"]["gpci_year"] == 2024 and out["opps"] is None and out["clfs"] is None
    assert any("2022 locality amounts use the 2024 GPCIs" in note for note in out["notes"])


def test_unknown_code_and_bad_options(capsys):
    status, out = run_json(capsys, "ZZZZZ")
    assert status == 1 and out["pfs"] is None and out["opps"] is None and out["clfs"] is None
    assert main(["medicare", "44320", "--year", "2021"]) == 2  # a parameter that names nothing known
    assert "expected a PFS payment year, one of [2022, 2023, 2024, 2025, 2026], got '2021'" in capsys.readouterr().err
    assert main(["medicare", "44320", "--year", "2025", "--qp"]) == 2


def test_text_output(capsys):
    assert main(["medicare", "45378", "--locality", "04412-18"]) == 0
    text = capsys.readouterr().out
    assert "OPPS CY 2025: SI T, APC 5311, national unadjusted rate $911.71" in text
    assert "PFS HOUSTON" in text and "2026 GPCIs" in text


TABLE5 = Path(__file__).parent / "fixtures" / "ipps" / "table5_fy2026_layout.txt"


def test_ms_drg_json_carries_an_ipps_block(capsys):
    # Table 5 layout fixture (not a CMS file), its line 5: "470\tYes\tNo\t08\tSURG\t...\t1.9289\t1.9289\t1.9\t2.2";
    # FY 2026 Table 1B: labor $4,186.62 + non-labor $2,565.99
    expected = (Decimal("1.9289") * (Decimal("4186.62") + Decimal("2565.99"))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    status, out = run_json(capsys, "MS-DRG-470", "--ipps-table5", str(TABLE5))
    assert status == 0
    assert (out["code"], out["code_type"], out["billing_code"], out["year"]) == ("MS-DRG-470", "MS-DRG", "470", 2026)
    assert out["pfs"] is None and out["opps"] is None and out["clfs"] is None and out["notes"] == []
    block = out["ipps"]
    assert (block["weight"], block["payment"], block["wage_index"]) == (1.9289, float(expected), 1.0)
    assert (block["standardized_amount"]["labor"], block["standardized_amount"]["non_labor"]) == (4186.62, 2565.99)
    assert block["title"].startswith("MAJOR HIP AND KNEE") and (block["table5_file"], block["table5_line"]) == (
        TABLE5.name,
        5,
    )
    assert "capital, wage index, outliers, DSH and IME are not included" in block["note"]


def test_ms_drg_json_without_table5_or_weight_is_null_with_the_reason(capsys):
    status, out = run_json(capsys, "ms-drg-470")
    assert status == 1 and out["code"] == "MS-DRG-470" and out["ipps"] is None
    assert out["notes"][0].startswith("Medicare comparison needs the CMS IPPS Table 5 (MS-DRG weights)")
    status, out = run_json(capsys, "MS-DRG-999", "--ipps-table5", str(TABLE5))  # listed without a weight
    assert status == 1 and out["ipps"] is None and "without a weight" in out["notes"][0]
    status, out = run_json(capsys, "MS-DRG-123", "--ipps-table5", str(TABLE5))
    assert status == 1 and out["notes"] == ["MS-DRG 123 is not in the Table 5 given: Data not available"]
    _, cpt = run_json(capsys, "44320")
    assert cpt["ipps"] is None  # a CPT code: the key is there, empty
