"""Tests of the hospital standard-charge CSV reader (benchmark.ingest.hospital.reader).

Expected counts were worked out by hand from the CMS example files in tests/fixtures/reference/hpt (copies of shared/reference/hpt; see the comments).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from benchmark.ingest.hospital import reader
from benchmark.ingest.hospital.reader import HospitalFileError, read_standard_charges
from benchmark.normalize.payers import resolve_payer
from benchmark.schema import QuarantineSchema, validate_rates

V2_TALL = "hpt/v2.0.0/V2.0.0_Tall_CSV_Format_Example.csv"
V2_WIDE = "hpt/v2.0.0/V2.0.0_Wide_CSV_Format_Example.csv"
V3_TALL = "hpt/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv"
V3_WIDE = "hpt/v3.0.0/V3.0.0_Wide_CSV_Format_Example.csv"


def _account(result) -> dict:
    account = result.accounts[0]
    account.check()
    result.accounts_frame()  # the schema re-checks the balance
    validate_rates(result.rates)
    QuarantineSchema.validate(result.quarantine)
    return {k: v for k, v in vars(account).items() if k.startswith("rows_")}


def _one(rates: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=rates.index)
    for column, value in where.items():
        mask &= rates[column] == value
    found = rates[mask]
    assert len(found) == 1, f"{len(found)} rows match {where}"
    return found.iloc[0]


def _counts(loaded: int, quarantined: int = 0, filtered: int = 0, deduplicated: int = 0) -> dict:
    return {
        "rows_seen": loaded + quarantined + filtered + deduplicated,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "rows_filtered_out": filtered,
        "rows_deduplicated": deduplicated,
    }


# ---------------------------------------------------------------------------------------------------------------
# CMS examples


def test_v2_tall_example(shared_reference: Path) -> None:
    result = read_standard_charges(shared_reference / V2_TALL, is_synthetic=True)
    rates = result.rates
    # 31 data rows, one payer each. 470 MS-DRG + 175869 LOCAL: 4 rows x 2 codes = 8; 92626: 2; H0017: 4; 762: 3;
    # NDC-only rows: 8; J1450/J3420 + NDC: 4 rows x 2 codes = 8  -> 33 loaded. The 6 modifier-only rows (no code)
    # are filtered out.
    assert _account(result) == _counts(loaded=33, filtered=6)
    assert len(rates) == 33 and result.quarantine.empty

    case = rates[(rates.billing_code == "470") & (rates.payer_raw == "Platform Health Insurance")]
    assert list(case.source_locator) == ["line 4", "line 5", "line 6"]
    first = case.iloc[0]
    assert (first.plan_raw, first.billing_code_type, first.care_setting) == ("PPO", "MS-DRG", "inpatient")
    assert (first.rate_type, first.amount, first.amount_unit) == ("case_rate", 20000.0, "USD_per_case")
    assert pd.isna(first.amount_usd)

    pct = _one(rates, billing_code="92626", payer_raw="Region Health Insurance")
    assert (pct.plan_raw, pct.rate_type, pct.amount, pct.amount_unit) == ("HMO", "fee_schedule", 115.0, "percent")
    assert pd.isna(pct.amount_usd)  # 115% of workers' comp: not a percent of charges, no dollars derived
    fee = _one(rates, billing_code="92626", payer_raw="Platform Health Insurance")
    assert (fee.amount, fee.amount_unit, fee.amount_usd, fee.care_setting) == (98.98, "USD", 98.98, "outpatient")
    assert pd.isna(fee.dollar_basis)

    per_diem = rates[(rates.billing_code == "H0017")]
    assert sorted(per_diem.amount) == [1200.0, 1500.0, 1800.0, 2000.0]
    assert set(per_diem.rate_type) == {"per_diem"} and set(per_diem.amount_unit) == {"USD_per_day"}
    assert per_diem.amount_usd.isna().all()

    ndc = _one(rates, billing_code="0093-8739-01", payer_raw="Platform Health Insurance")
    assert (ndc.billing_code_type, ndc.care_setting, ndc.amount) == ("NDC", "both", 3.0)

    assert set(rates.provider_name) == {"West Mercy Hospital"}
    assert set(rates.state) == {"CA"}  # from the license_number|CA header
    assert rates.provider_npis.isna().all()  # v2 has no type_2_npi
    assert set(rates.source_type) == {"hospital"} and set(rates.pos_setting) == {"facility"}
    assert set(rates.billing_class) == {"unknown"} and set(rates.modifiers) == {""}
    assert rates.is_synthetic.all()
    identity = resolve_payer("Platform Health Insurance", "PPO")
    assert (first.payer_family, first.product_line) == (identity.payer_family, identity.product_line)


def test_v2_wide_example(shared_reference: Path) -> None:
    result = read_standard_charges(shared_reference / V2_WIDE)
    rates = result.rates
    # 20 data rows x 2 payer groups. Rows 4-6 (470/175869) carry both groups: 3 x 2 x 2 = 12; 92626: 2; H0017: 4;
    # 762: 2 + 1; aspirin 2, mexiletine 1 + 1, J1450/NDC 4, kit 2, permethrin 2, J3420/NDC 4  -> 37 loaded.
    # Modifier-only rows (3) x 2 groups = 6 filtered out. Region's block of rows 4-6 is the same rate three times
    # (only Platform's algorithm text differs between the rows): for codes 470 and 175869 one rate each stands for
    # three rows (dedup_count 3), 2 x 2 = 4 rows merged away -> 33 loaded.
    assert _account(result) == _counts(loaded=33, filtered=6, deduplicated=4)

    region = rates[(rates.billing_code == "470") & (rates.payer_raw == "Region_Health_Insurance")]
    assert list(region.source_locator) == ["line 4 column standard_charge|Region_Health_Insurance|HMO"]
    assert list(region.dedup_count) == [3]
    platform = rates[(rates.billing_code == "470") & (rates.payer_raw == "Platform_Health_Insurance")]
    assert len(platform) == 3 and set(platform.dedup_count) == {1}  # different algorithm text: distinct rates
    assert set(region.rate_type) == {"percentage"} and set(region.amount) == {50.0}
    assert region.amount_usd.isna().all()  # no gross charge on the row: no dollar base
    obs = rates[rates.billing_code == "0762"]  # line 12 has a cp1252 dash in the description
    assert sorted(obs.amount) == [8000.0, 9000.0, 10000.0]
    assert set(obs.plan_raw) == {"PPO", "HMO"}
    assert set(obs.billing_code_raw) == {"762"} and set(obs.billing_code_type) == {"RC"}  # Excel dropped the 0


def test_v3_tall_example(shared_reference: Path) -> None:
    result = read_standard_charges(shared_reference / V3_TALL)
    rates, quarantine = result.rates, result.quarantine
    # 45 data rows: 43 rates; the algorithm-only rows (786 x2, 278/C1785 x2 x2 codes, 885 x2, 001 x2) = 10
    # quarantined; the 6 modifier-only rows filtered out.
    assert _account(result) == _counts(loaded=43, quarantined=10, filtered=6)
    assert set(quarantine.reason_code) == {"algorithm_only"}
    drg = quarantine[quarantine.source_locator == "line 14"].iloc[0]
    assert drg.raw_value.startswith("Allowed amount = $8,000 + MAX")

    mri = _one(rates, billing_code="70551", payer_raw="Platform Health Insurance")
    assert (mri.billing_code_type, mri.amount, mri.amount_usd, mri.rate_type) == ("CPT", 400.0, 400.0, "fee_schedule")
    assert mri.source_locator == "line 4"
    assert len(rates[rates.source_locator == "line 4"]) == 2  # 611 RC and 70551 CPT

    er = _one(rates, billing_code="99283", payer_raw="Platform Health Insurance")
    assert (er.rate_type, er.amount, er.amount_unit, er.amount_usd) == ("percentage", 80.0, "percent", 3200.0)
    assert er.dollar_basis == "percent of gross charge (80% x 4000)"
    assert _one(rates, billing_code="99283", payer_raw="Region Health Insurance").amount_usd == 3000.0

    bed = _one(rates, billing_code="0120", payer_raw="Region Health Insurance")  # revenue code 120 -> 0120
    assert (bed.rate_type, bed.amount, bed.amount_unit, bed.billing_code_raw) == (
        "per_diem",
        1400.0,
        "USD_per_day",
        "120",
    )
    assert pd.isna(bed.amount_usd)
    assert set(rates.provider_npis) == {"0000000001|0000000002|0000000003"}
    assert set(rates.state) == {"CA"}


def test_v3_wide_example(shared_reference: Path) -> None:
    result = read_standard_charges(shared_reference / V3_WIDE, source_name="west-mercy.csv")
    rates = result.rates
    # Same content as the tall example, one row per item: 43 rates, 10 algorithm-only, 6 modifier-only.
    assert _account(result) == _counts(loaded=43, quarantined=10, filtered=6)
    assert set(result.quarantine.reason_code) == {"algorithm_only"}
    assert set(rates.source_file) == {"west-mercy.csv"}
    assert set(rates.provider_name) == {"West Mercy Hospital"}  # despite the BOM before hospital_name

    hernia = _one(rates, billing_code="49505", payer_raw="Region Health Insurance")
    assert (hernia.plan_raw, hernia.rate_type, hernia.amount) == ("HMO", "fee_schedule", 360.0)
    assert hernia.source_locator == "line 5 column standard_charge|Region Health Insurance|HMO"
    transplant = result.quarantine[result.quarantine.source_locator.str.startswith("line 12 ")]
    assert len(transplant) == 2 and transplant.detail.str.startswith("code 001:").all()


@pytest.mark.parametrize("in_thread", [False, True])
def test_rates_and_account_carry_the_file_sha256(shared_reference: Path, monkeypatch, in_thread: bool) -> None:
    # a small file is hashed after it is read, a large one in a thread while it is read: the same digest, the one
    # hashlib gives for the file's bytes
    monkeypatch.setattr(reader, "_HASH_IN_THREAD_BYTES", -1 if in_thread else 1 << 40)
    path = shared_reference / V3_TALL
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    result = read_standard_charges(path)
    assert result.accounts[0].source_sha256 == expected
    assert set(result.rates.source_sha256) == {expected}


def test_code_filter_compares_normalized_codes_exactly(shared_reference: Path) -> None:
    path = shared_reference / V3_TALL
    result = read_standard_charges(path, codes=["70551", "99283"])
    assert _account(result) == _counts(loaded=4, filtered=55)
    assert sorted(result.rates.billing_code) == ["70551", "70551", "99283", "99283"]

    drugs = read_standard_charges(path, codes={"0093-8739-01"})
    assert sorted(drugs.rates.amount) == [3.0, 350.0]
    # the file writes revenue code 450, which is read as 0450 (a 4-digit revenue code whose 0 a spreadsheet dropped)
    assert read_standard_charges(path, codes=["450"]).rates.empty
    emergency = read_standard_charges(path, codes=["0450"]).rates
    assert len(emergency) == 2 and set(emergency.billing_code_raw) == {"450"}
    algorithm = read_standard_charges(path, codes=["001"])  # only algorithm rows for DRG 001
    assert _account(algorithm) == _counts(loaded=0, quarantined=2, filtered=57)


# ---------------------------------------------------------------------------------------------------------------
# Hand-written files

GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|TX,type_2_npi\n"
    'Test Hospital,2026-01-01,3.0.0,Test Hospital,"1 Main St, Austin, TX 78701",12345,1234567893\n'
)
TALL_HEADER = (
    "description,code|1,code|1|type,setting,standard_charge|gross,payer_name,plan_name,modifiers,"
    "standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,standard_charge|negotiated_algorithm,"
    "standard_charge|methodology\n"
)


def _tall(tmp_path: Path, *rows: str, general: str = GENERAL, header: str = TALL_HEADER, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(general + header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_bom_spaces_around_pipes_and_case(tmp_path: Path) -> None:
    general = (
        "\ufeffHospital_Name , last_updated_on,version,location_name,Hospital_Address,License_Number | tx\n"
        'Pipe Hospital,2026-01-01,3.0.0,x,"9 Elm St, Reno, NV 89501",1\n'
    )
    header = (
        "Description,Code | 1,CODE | 1 | Type,Code | 2,code | 2 | type,Setting,Payer_Name,Plan_Name,Modifiers,"
        "Standard_Charge | Negotiated_Dollar,standard_charge | methodology,Billing_Class\n"
    )
    row = "Visit,99213,cpt4,J0001,hcpc,Outpatient,Aetna,Choice POS II, 62 | 50 ,125,Fee Schedule,facility"
    path = _tall(tmp_path, row, general=general, header=header)
    result = read_standard_charges(path)
    assert _account(result) == _counts(loaded=2)
    visit = _one(result.rates, billing_code="99213")
    assert (visit.billing_code_type, visit.modifiers, visit.care_setting) == ("CPT", "50|62", "outpatient")
    assert (visit.billing_class, visit.amount, visit.rate_type) == ("institutional", 125.0, "fee_schedule")
    assert (visit.provider_name, visit.state, visit.payer_family) == ("Pipe Hospital", "TX", "Aetna")
    assert _one(result.rates, billing_code="J0001").billing_code_type == "HCPCS"


def test_currency_text_is_parsed(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        'Visit,99213,CPT,outpatient,,Aetna,PPO,,"$1,234.50",,,fee schedule',
        'Visit,99214,CPT,outpatient,,Aetna,PPO,," $1,231.21 ",,,fee schedule',
        "Visit,99215,CPT,outpatient,,Aetna,PPO,,1234.5,,,fee schedule",
    )
    result = read_standard_charges(path)
    assert _account(result) == _counts(loaded=3)
    assert list(result.rates.amount) == [1234.5, 1231.21, 1234.5]
    assert list(result.rates.amount_usd) == [1234.5, 1231.21, 1234.5]
    assert list(result.rates.source_locator) == ["line 4", "line 5", "line 6"]


def test_na_zero_negative_and_placeholders_are_quarantined(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        "Visit,99211,CPT,outpatient,,Aetna,PPO,,N/A,,,fee schedule",
        "Visit,99212,CPT,outpatient,,Aetna,PPO,,NA,40,,fee schedule",  # N/A beside a percentage: blank
        "Visit,99213,CPT,outpatient,,Aetna,PPO,,0,,,fee schedule",
        "Visit,99214,CPT,outpatient,,Aetna,PPO,,-5.00,,,fee schedule",
        "Visit,99215,CPT,outpatient,,Aetna,PPO,,999999999,,,fee schedule",
        "Visit,99216,CPT,outpatient,,Aetna,PPO,,99999999.99,,,fee schedule",
        "Visit,99217,CPT,outpatient,,Aetna,PPO,,see contract,,,fee schedule",
    )
    result = read_standard_charges(path)
    assert _account(result) == _counts(loaded=1, quarantined=6)
    kept = result.rates.iloc[0]
    assert (kept.billing_code, kept.amount, kept.amount_unit) == ("99212", 40.0, "percent")
    q = result.quarantine.set_index("source_locator")
    assert q.loc["line 4", ["reason_code", "raw_value"]].tolist() == ["not_a_number", "N/A"]
    assert q.loc["line 6", ["reason_code", "raw_value"]].tolist() == ["rate_not_positive", "0"]
    assert q.loc["line 7", "reason_code"] == "rate_not_positive"
    assert q.loc["line 8", ["reason_code", "raw_value"]].tolist() == ["placeholder_value", "999999999"]
    assert q.loc["line 9", ["reason_code", "raw_value"]].tolist() == ["placeholder_value", "99999999.99"]
    assert q.loc["line 10", ["reason_code", "raw_value"]].tolist() == ["not_a_number", "see contract"]
    assert set(result.quarantine.source_file) == {"t.csv"}


def test_percent_of_charges_uses_gross_or_published_dollar(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        'ER,99283,CPT,outpatient,"$1,250.00",Aetna,PPO,,,40,,percent of total billed charges',
        "ER,99284,CPT,outpatient,1000,Aetna,PPO,,420,40,,percent of total billed charges",
        "ER,99285,CPT,outpatient,,Aetna,PPO,,,40,,percent of total billed charges",
    )
    rates = read_standard_charges(path).rates
    gross = _one(rates, billing_code="99283")
    assert (gross.amount, gross.amount_unit, gross.rate_type) == (40.0, "percent", "percentage")
    assert gross.amount_usd == pytest.approx(1250 * 40 / 100)
    assert gross.dollar_basis == "percent of gross charge (40% x 1250)"
    published = _one(rates, billing_code="99284")
    assert (published.amount, published.amount_usd) == (40.0, 420.0)
    assert published.dollar_basis == "published negotiated_dollar"
    no_base = _one(rates, billing_code="99285")
    assert no_base.amount == 40.0 and pd.isna(no_base.amount_usd) and pd.isna(no_base.dollar_basis)


def test_per_diem_case_rate_and_other_get_no_per_service_dollars(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        "Bed,0120,RC,inpatient,5000,Cigna,OAP,,1400,,,per diem",
        "Hip,470,MS-DRG,inpatient,,Cigna,OAP,,20000,,,case rate",
        "Implant,C1785,HCPCS,outpatient,,Cigna,OAP,,900,,,other",
    )
    rates = read_standard_charges(path).rates
    bed = _one(rates, billing_code="0120")
    assert (bed.rate_type, bed.amount, bed.amount_unit, bed.billing_code_type) == (
        "per_diem",
        1400.0,
        "USD_per_day",
        "RC",
    )
    assert pd.isna(bed.amount_usd)
    hip = _one(rates, billing_code="470")
    assert (hip.rate_type, hip.amount_unit) == ("case_rate", "USD_per_case") and pd.isna(hip.amount_usd)
    other = _one(rates, billing_code="C1785")
    assert (other.rate_type, other.amount_unit) == ("other", "USD") and pd.isna(other.amount_usd)


def test_row_outcomes_are_all_accounted(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        "Gross only,99213,CPT,outpatient,150,,,,,,,",  # no payer value: filtered
        "Bilateral,,,both,,Aetna,PPO,50,,150,,",  # modifier-only: filtered
        "Algorithm,786,MS-DRG,inpatient,,Aetna,PPO,,,,See contract formula,case rate",
        "No type,99214,,outpatient,,Aetna,PPO,,100,,,fee schedule",
        "No payer,99215,CPT,outpatient,,,PPO,,100,,,fee schedule",
        "Odd method,99216,CPT,outpatient,,Aetna,PPO,,100,,,capitation",
        "No code,,,outpatient,,Aetna,PPO,,100,,,fee schedule",
        "Too long,99217,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule,extra,cells",
        "Methodology only,99218,CPT,outpatient,,Aetna,PPO,,,,,fee schedule",
        "",  # blank line: not a row
        "Fine,99219,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule",
    )
    result = read_standard_charges(path)
    assert _account(result) == _counts(loaded=1, quarantined=7, filtered=2)
    reasons = dict(zip(result.quarantine.source_locator, result.quarantine.reason_code))
    assert reasons == {
        "line 6": "algorithm_only",
        "line 7": "missing_code_type",
        "line 8": "missing_payer",
        "line 9": "unknown_methodology",
        "line 10": "missing_billing_code",
        "line 11": "malformed_row",
        "line 12": "no_negotiated_charge",
    }
    assert result.rates.iloc[0].source_locator == "line 14"


def test_duplicate_code_on_one_row_is_deduplicated(tmp_path: Path) -> None:
    header = (
        "description,code|1,code|1|type,code|2,code|2|type,setting,payer_name,plan_name,"
        "standard_charge|negotiated_dollar,standard_charge|methodology\n"
    )
    path = _tall(tmp_path, "MRI,70551,CPT,70551,cpt,outpatient,Aetna,PPO,400,fee schedule", header=header)
    result = read_standard_charges(path)
    assert _account(result) == _counts(loaded=1, deduplicated=1)


def test_wide_file_with_pipe_spaces_and_state_from_address(tmp_path: Path) -> None:
    general = (
        "hospital_name,last_updated_on,version,hospital_location,hospital_address,license_number|[state]\n"
        'Wide Hospital,2025-01-01,2.0.0,x,"5 Oak Rd, Tampa, FL 33601|7 Bay St, Miami, FL 33101",1\n'
    )
    header = (
        "description,code | 1,code | 1 | type,setting,standard_charge | gross,"
        "standard_charge | Cigna | OAP | negotiated_dollar,standard_charge | Cigna | OAP | negotiated_percentage,"
        "standard_charge | Cigna | OAP | methodology,additional_payer_notes | Cigna | OAP,"
        "standard_charge|UHC|Choice Plus|negotiated_dollar,standard_charge|UHC|Choice Plus|methodology\n"
    )
    path = _tall(
        tmp_path,
        "Visit,99213,CPT,outpatient,200,95,,fee schedule,,,",
        "Labs,80048,CPT,outpatient,300,,,,note only,,",
        "Gross only,80053,CPT,outpatient,300,,,,,,",
        general=general,
        header=header,
    )
    result = read_standard_charges(path)
    # line 4: Cigna loaded (UHC empty); line 5: Cigna has a note but no charge -> no_negotiated_charge;
    # line 6: no payer value at all -> filtered out.
    assert _account(result) == _counts(loaded=1, quarantined=1, filtered=1)
    visit = result.rates.iloc[0]
    assert (visit.payer_raw, visit.plan_raw, visit.state) == ("Cigna", "OAP", "FL")
    assert visit.source_locator == "line 4 column standard_charge|Cigna|OAP"
    assert result.quarantine.iloc[0].raw_value == "note only"


def test_physical_lines_count_multiline_fields_and_cr_endings(tmp_path: Path) -> None:
    body = (
        GENERAL
        + TALL_HEADER
        + '"Visit,\nlong description",99213,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule\r\n'
        + "Visit,99214,CPT,outpatient,,Aetna,PPO,,110,,,fee schedule\r"
        + "Visit,99215,CPT,outpatient,,Aetna,PPO,,120,,,fee schedule\n"
    )
    path = tmp_path / "lines.csv"
    path.write_bytes(body.encode("utf-8"))
    rates = read_standard_charges(path).rates
    assert list(rates.source_locator) == ["line 4", "line 6", "line 7"]


def test_cp1252_bytes_are_decoded(tmp_path: Path) -> None:
    body = (GENERAL + TALL_HEADER).encode() + "Obs \u2014 room,0762,RC,outpatient,,Aetna,PPO,,90,,,case rate\n".encode(
        "cp1252"
    )
    path = tmp_path / "cp.csv"
    path.write_bytes(body)
    rates = read_standard_charges(path).rates
    assert rates.iloc[0].billing_code == "0762" and rates.iloc[0].amount_unit == "USD_per_case"


# ---------------------------------------------------------------------------------------------------------------
# File-level errors


def test_file_without_general_header_rows_raises(tmp_path: Path) -> None:
    path = tmp_path / "no_header.csv"
    path.write_text(TALL_HEADER + "Visit,99213,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule\n")
    with pytest.raises(HospitalFileError, match=r"no_header\.csv: line 1: .*general-data rows"):
        read_standard_charges(path)


def test_file_of_data_only_raises_naming_line_3(tmp_path: Path) -> None:
    path = tmp_path / "data_only.csv"
    path.write_text("".join("Visit,99213,CPT,outpatient,100\n" for _ in range(5)))
    with pytest.raises(HospitalFileError, match=r"data_only\.csv: line 3: .*no 'description' column; saw 'Visit'"):
        read_standard_charges(path)


def test_neither_tall_nor_wide_raises(tmp_path: Path) -> None:
    path = _tall(
        tmp_path,
        "Visit,99213,CPT,outpatient,100",
        header="description,code|1,code|1|type,setting,standard_charge|gross\n",
    )
    with pytest.raises(HospitalFileError, match="neither tall"):
        read_standard_charges(path)


def test_unbalanced_quote_raises(tmp_path: Path) -> None:
    rows = ['"Visit,99213,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule'] + [
        f"Visit,9921{i},CPT,outpatient,,Aetna,PPO,,100,,,fee schedule" for i in range(4, 8)
    ]
    with pytest.raises(HospitalFileError, match="line 4: .*unbalanced quote"):
        read_standard_charges(_tall(tmp_path, *rows))


def test_html_and_other_non_csv_files_raise(tmp_path: Path) -> None:
    html = tmp_path / "expired.csv"
    html.write_text("<html><body>AccessDenied</body></html>")
    with pytest.raises(HospitalFileError, match=r"expired\.csv: line 1: looks like HTML"):
        read_standard_charges(html)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((GENERAL + TALL_HEADER).encode("utf-16"))
    with pytest.raises(HospitalFileError, match=r"utf16\.csv: line 1: binary or UTF-16"):
        read_standard_charges(utf16)
