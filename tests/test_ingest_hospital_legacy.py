"""Pre-template hospital price files: a hand-written multi-section chargemaster and the real ECMC file.

Expected counts are worked out by hand in the comments (unit = row x payer column with a value x code).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from benchmark.ingest.hospital.reader import HospitalFileError, check_standard_charges, read_standard_charges
from benchmark.schema import QuarantineSchema, validate_rates

ECMC = "hpt/real/ECMC_Charge_Master_2022.csv"

LEGACY = """Hospital Name,,Sample Legacy Hospital (synthetic)
Address,,"100 Test Road, Albany, NY 12208"
Effective Date,,1/1/2022 12:00am
Payer Disclaimer,,"In the absence of plan-level rates, all plans of a payer share one rate."
,,,,
Inpatient Payer Specific Charge
HospCode,Code,Description,Code_Type,Gross Charge,Discounted Cash Price,Minimum Negotiated Charge,\
Maximum Negotiated Charge,Aetna-Commercial,United Healthcare-Medicare Advantage,EMPIRE HEALTHCHOICE ASSURANCE-PPO
1001,470,HIP REPLACEMENT,DRG," $40,000.00 "," $30,000.00 "," $18,000.00 "," $25,000.00 "," $18,000.00 ",NA,\
" $25,000.00 "
,,,,
Outpatient Payer Specific Charge
HospCode,Code,Description,Code_Type,Gross Charge,Discounted Cash Price,Minimum Negotiated Charge,\
Maximum Negotiated Charge,Aetna-Commercial,Cigna-OAP
2001,44320,COLOSTOMY,CPT/HCPCS," $5,000.00 "," $4,000.00 ",NA,NA," $1,231.21 ",NA
2002,,SUPPLY,, $10.00 ,NA,NA,NA,NA,NA
2003,J1450,FLUCONAZOLE INJ,CPT/HCPCS, $75.00 ,NA,NA,NA,70%,N/A
2004,99213,OFFICE VISIT,, $150.00 ,NA,NA,NA, $100.00 ,
2005,99214,OFFICE VISIT,CPT/HCPCS,1,1,1,1,5,6,EXTRA
"""


def _account(result) -> dict:
    account = result.accounts[0]
    account.check()
    validate_rates(result.rates)
    QuarantineSchema.validate(result.quarantine)
    return {k: v for k, v in vars(account).items() if k.startswith("rows_")}


def _legacy(tmp_path: Path, text: str = LEGACY, name: str = "legacy.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.replace("\\\n", ""), encoding="utf-8")
    return path


def test_legacy_sections_payer_columns_and_money_text(tmp_path: Path) -> None:
    result = read_standard_charges(_legacy(tmp_path), is_synthetic=True)
    # inpatient line 8: Aetna and Empire have values (UHC is NA) x codes 1001 (CDM) and 470 (DRG) = 4 loaded;
    # outpatient line 12: Aetna x (2001, 44320) = 2 loaded; line 13: every payer NA -> 1 filtered;
    # line 14: Aetna 70% x (2003, J1450) = 2 loaded (Cigna N/A is blank); line 15: Aetna x 2004 loaded, 99213 has
    # no code type -> quarantined; line 16: 11 cells under 10 headers -> 1 quarantined (malformed).
    assert _account(result) == {
        "rows_seen": 12,
        "rows_loaded": 9,
        "rows_quarantined": 2,
        "rows_filtered_out": 1,
        "rows_deduplicated": 0,
    }
    rates = result.rates.set_index(["source_locator", "billing_code"])
    drg = rates.loc[("line 8 column EMPIRE HEALTHCHOICE ASSURANCE-PPO", "470")]
    assert (drg.payer_raw, drg.plan_raw, drg.billing_code_type, drg.care_setting) == (
        "EMPIRE HEALTHCHOICE ASSURANCE",
        "PPO",
        "DRG",
        "inpatient",
    )
    assert (drg.rate_type, drg.amount, drg.amount_unit, drg.amount_raw) == (
        "case_rate",
        25000.0,
        "USD_per_case",
        "$25,000.00",
    )
    assert pd.isna(drg.amount_usd)  # a DRG payment is per case: never a per-service dollar
    assert (drg.gross_charge, drg.discounted_cash, drg.min_charge, drg.max_charge) == (
        40000.0,
        30000.0,
        18000.0,
        25000.0,
    )
    cdm = rates.loc[("line 8 column Aetna-Commercial", "1001")]
    assert (cdm.billing_code_type, cdm.rate_type, cdm.amount) == ("CDM", "negotiated", 18000.0)
    assert pd.isna(cdm.amount_usd)

    colostomy = rates.loc[("line 12 column Aetna-Commercial", "44320")]
    assert (colostomy.payer_raw, colostomy.plan_raw, colostomy.billing_code_type) == ("Aetna", "Commercial", "CPT")
    assert (colostomy.amount, colostomy.amount_usd, colostomy.amount_raw) == (1231.21, 1231.21, "$1,231.21")
    assert (colostomy.care_setting, colostomy.billing_code_type_raw) == ("outpatient", "CPT/HCPCS")
    assert pd.isna(colostomy.min_charge)  # NA
    drug = rates.loc[("line 14 column Aetna-Commercial", "J1450")]
    assert (drug.billing_code_type, drug.rate_type, drug.amount, drug.amount_unit) == (
        "HCPCS",
        "other",
        70.0,
        "percent",
    )  # a percentage of an unstated base: no dollars
    assert pd.isna(drug.amount_usd)

    assert set(result.rates.provider_name) == {"Sample Legacy Hospital (synthetic)"}
    assert set(result.rates.state) == {"NY"} and set(result.rates.hospital_address) == {
        "100 Test Road, Albany, NY 12208"
    }
    reasons = dict(zip(result.quarantine.source_locator, result.quarantine.reason_code))
    assert reasons == {"line 15 column Aetna-Commercial": "missing_code_type", "line 16": "malformed_row"}


def test_legacy_code_filter_and_layout_description(tmp_path: Path) -> None:
    path = _legacy(tmp_path)
    result = read_standard_charges(path, codes=["44320"])
    assert _account(result)["rows_seen"] == 12 and len(result.rates) == 1
    check = check_standard_charges(path)
    assert check.layout.startswith("pre-template chargemaster (legacy layout), 2 section(s)")
    assert "'Inpatient Payer Specific Charge': header on line 7, 1 item rows" in check.layout
    assert "'Outpatient Payer Specific Charge': header on line 11, 5 item rows" in check.layout


def test_real_ecmc_chargemaster_is_read(shared_reference: Path) -> None:
    path = shared_reference / ECMC
    result = read_standard_charges(path)
    # Gross charges only: every item row is one unit without a negotiated rate (filtered out). Count the item rows
    # independently: non-blank CSV rows after the header on line 14.
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    items = sum(1 for row in rows[14:] if any(cell.strip() for cell in row))
    assert items == 1_000  # the fixture is the file's first 1,000 item rows (tests/fixtures/PROVENANCE.md)
    assert _account(result) == {
        "rows_seen": items,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "rows_filtered_out": items,
        "rows_deduplicated": 0,
    }
    check = check_standard_charges(path)
    assert "'Gross Charges': header on line 14" in check.layout and "Erie County Medical Center" in check.layout
    assert [p.reason_code for p in check.problems] == ["no_payer_columns"]


def test_real_ecmc_rows_with_a_payer_column_added(shared_reference: Path, tmp_path: Path) -> None:
    """The real file with one payer column filled in on line 17: its money text and codes are read."""
    lines = (shared_reference / ECMC).read_bytes().decode("utf-8").split("\r\n")
    assert lines[13].startswith("Item Code,Description") and lines[16].startswith("4510364301,")
    lines[13] = lines[13].replace(" ,Notes,,", " ,Notes,Aetna-Commercial,", 1)
    cells = next(csv.reader([lines[16]]))
    cells[7] = "$999.00"
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    lines[16] = out.getvalue()
    path = tmp_path / "ecmc_with_payer.csv"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    result = read_standard_charges(path)
    rates = result.rates.sort_values("billing_code_type")
    # line 17: item code 4510364301 (CDM), revenue code 391 (-> 0391), HCPCS 36430 (CPT) x Aetna = 3 rates
    assert list(rates.billing_code) == ["4510364301", "36430", "0391"]
    assert list(rates.billing_code_type) == ["CDM", "CPT", "RC"]
    assert set(rates.gross_charge) == {1231.21} and set(rates.amount) == {999.0}
    assert set(rates.source_locator) == {"line 17 column Aetna-Commercial"}
    assert rates.set_index("billing_code").loc["36430", "amount_usd"] == 999.0
    assert result.accounts[0].rows_loaded == 3


def test_unknown_layout_is_refused_naming_what_was_seen(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id,name,amount\n1,alpha,3\n2,beta,4\n3,gamma,5\n")
    with pytest.raises(
        HospitalFileError,
        match=r"export\.csv: line 3: expected the CMS column-header row .*saw '2', "
        r"'beta', '4'; nor is it a pre-template chargemaster",
    ):
        read_standard_charges(path)


def test_a_payer_column_that_holds_words_is_refused(tmp_path: Path) -> None:
    text = (
        "Charge Code,Description,CPT Code,Price,Department\n"  # Department is known: ignored
        "1,Visit,99213,$100,Clinic\n"
    )
    assert len(read_standard_charges(_legacy(tmp_path, text, "ok.csv")).rates) == 0
    text = "Charge Code,Description,CPT Code,Price,Patient Category\n1,Visit,99213,$100,Adult\n2,X,99214,$5,Child\n"
    with pytest.raises(HospitalFileError, match=r"line 1 column 5: header 'Patient Category' .*saw 'Adult', 'Child'"):
        read_standard_charges(_legacy(tmp_path, text, "words.csv"))
