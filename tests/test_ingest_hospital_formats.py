"""The CMS hospital formats beyond the CSV basics: JSON v2/v3, the v2/v3 detail columns, the templates, routing.

JSON counts are computed independently from the raw document with the json module (not with the reader's code);
the JSON and CSV examples of one CMS version describe the same charges, so their rates must agree.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.accounts import IngestResult
from benchmark.ingest import routing as pipeline
from benchmark.ingest.hospital.reader import HospitalFileError, read_standard_charges
from benchmark.schema import QuarantineSchema, validate_rates

V2_TALL = "hpt/v2.0.0/V2.0.0_Tall_CSV_Format_Example.csv"
V2_JSON = "hpt/v2.0.0/V2.0.0_JSON_Format_Example.json"
V3_TALL = "hpt/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv"
V3_WIDE = "hpt/v3.0.0/V3.0.0_Wide_CSV_Format_Example.csv"
V3_JSON = "hpt/v3.0.0/v3_json_format_example.json"
# What defines a rate; identical between the JSON and CSV examples of one version.
RATE_KEY = [
    "payer_raw",
    "plan_raw",
    "billing_code",
    "billing_code_type",
    "modifiers",
    "care_setting",
    "rate_type",
    "amount",
    "amount_unit",
    "amount_usd",
    "dollar_basis",
    "gross_charge",
    "discounted_cash",
    "methodology_raw",
    "drug_unit",
    "drug_unit_type",
    "provider_name",
    "state",
    "hospital_license",
]


def _accounts(result) -> dict:
    account = result.accounts[0]
    account.check()
    validate_rates(result.rates)
    QuarantineSchema.validate(result.quarantine)
    return {k: v for k, v in vars(account).items() if k.startswith("rows_")}


def _expected_json_counts(document: dict) -> dict:
    """Units of a CMS JSON document, counted from the raw JSON (independently of the reader)."""
    seen = loaded = quarantined = filtered = 0
    payer_keys = {
        "standard_charge_dollar",
        "standard_charge_percentage",
        "standard_charge_algorithm",
        "methodology",
        "estimated_amount",
        "median_amount",
        "10th_percentile",
        "90th_percentile",
        "count",
        "additional_payer_notes",
    }
    for item in document["standard_charge_information"]:
        codes = max(1, len(item["code_information"]))
        for charge in item["standard_charges"]:
            payers = charge.get("payers_information", [])
            if not payers:
                seen, filtered = seen + 1, filtered + 1
            for payer in payers:
                assert payer_keys & set(payer)
                seen += codes
                if "standard_charge_dollar" in payer or "standard_charge_percentage" in payer:
                    loaded += codes
                else:
                    quarantined += codes  # algorithm only
    for modifier in document.get("modifier_information", []):
        n = len(modifier["modifier_payer_information"])
        seen, filtered = seen + n, filtered + n
    return {
        "rows_seen": seen,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "rows_filtered_out": filtered,
        "rows_deduplicated": 0,
    }


@functools.cache
def _read(path: Path) -> IngestResult:
    """``read_standard_charges(path)`` of an example file, read once for the module (the tests only read it)."""
    return read_standard_charges(path)


def _rate_table(rates: pd.DataFrame) -> pd.DataFrame:
    table = rates[RATE_KEY].astype(object).where(rates[RATE_KEY].notna(), "")
    return table.astype(str).sort_values(RATE_KEY).reset_index(drop=True)


@pytest.mark.parametrize("relative", [V2_JSON, V3_JSON])
def test_json_examples_parse_to_exactly_their_charges(shared_reference: Path, relative: str) -> None:
    path = shared_reference / relative
    result = read_standard_charges(path, is_synthetic=True)
    expected = _expected_json_counts(json.loads(path.read_text(encoding="utf-8")))
    assert _accounts(result) == expected
    assert len(result.rates) == expected["rows_loaded"] and len(result.quarantine) == expected["rows_quarantined"]
    assert set(result.quarantine.reason_code) <= {"algorithm_only"}


@pytest.mark.parametrize("csv_file,json_file", [(V2_TALL, V2_JSON), (V3_TALL, V3_JSON), (V3_WIDE, V3_JSON)])
def test_json_and_csv_examples_give_the_same_rates(shared_reference: Path, csv_file: str, json_file: str) -> None:
    from_csv = _read(shared_reference / csv_file)
    from_json = _read(shared_reference / json_file)
    pd.testing.assert_frame_equal(_rate_table(from_csv.rates), _rate_table(from_json.rates))
    assert _accounts(from_csv) == _accounts(from_json)


def test_v3_json_values_and_locators(shared_reference: Path) -> None:
    result = _read(shared_reference / V3_JSON)
    rates = result.rates
    er = rates[(rates.billing_code == "99283") & (rates.payer_raw == "Platform Health Insurance")].iloc[0]
    assert (er.amount, er.amount_unit, er.amount_usd, er.amount_raw) == (80.0, "percent", 3200.0, "80")
    assert (er.median_amount, er.p10_amount, er.p90_amount, er.allowed_count) == (12000.12, 5123.74, 16784.22, "299")
    assert (er.gross_charge, er.discounted_cash) == (4000.0, 3600.0)
    assert er.source_locator == "standard_charge_information[9].standard_charges[0].payers_information[0]"
    assert (er.hospital_location, er.hospital_license, er.state) == (
        "West Mercy Hospital|West Mercy Surgical Center",
        "50056",
        "CA",
    )
    assert er.hospital_address == "12 Main Street, Fullerton, CA  92832|23 Ocean Ave, San Jose, CA 94088"
    assert er.provider_npis == "0000000001|0000000002|0000000003"
    algorithm = result.quarantine[result.quarantine.reason_code == "algorithm_only"]
    assert algorithm.source_locator.str.startswith("standard_charge_information[").all()


def test_v2_and_v3_detail_columns_from_csv(shared_reference: Path) -> None:
    v2 = _read(shared_reference / V2_TALL).rates
    hip = v2[(v2.billing_code == "470") & (v2.payer_raw == "Region Health Insurance")].iloc[0]
    # line 7: 50% of total billed charges, estimated_amount 23145.98, min/max 20000, no gross charge: no dollars
    assert (hip.rate_type, hip.amount, hip.estimated_amount) == ("percentage", 50.0, 23145.98)
    assert (hip.min_charge, hip.max_charge) == (20000.0, 20000.0) and pd.isna(hip.amount_usd)
    drg = v2[(v2.billing_code == "470") & (v2.source_locator == "line 4")].iloc[0]
    assert (drg.negotiated_algorithm, drg.methodology_raw) == ("MS-DRG", "case rate")
    assert pd.isna(v2.median_amount).all() and pd.isna(v2.allowed_count).all()

    v3 = _read(shared_reference / V3_TALL).rates
    drug = v3[(v3.billing_code == "J1450") & (v3.payer_raw == "Region Health Insurance")].iloc[0]
    assert (drug.amount, drug.gross_charge, drug.discounted_cash, drug.min_charge, drug.max_charge) == (
        37.0,
        75.0,
        45.0,
        35.0,
        37.0,
    )
    assert (drug.drug_unit, drug.drug_unit_type) == (100.0, "ML")  # 100 ML of fluconazole 2 mg/ml
    assert v3.estimated_amount.isna().all()
    assert set(v3.hospital_license) == {"50056"} and set(v3.billing_code_type_raw.dropna()) <= {
        "RC",
        "CPT",
        "MS-DRG",
        "HCPCS",
        "NDC",
    }


def test_blank_templates_are_refused_naming_the_placeholders(shared_reference: Path) -> None:
    for template in (
        "hpt/v3.0.0/V3.0.0_Tall_CSV_Format_Template.csv",
        "hpt/v2.0.0/V2.0.0_Wide_CSV_Format_Template.csv",
    ):
        with pytest.raises(HospitalFileError, match=r"line 3: .*template placeholders like code\|\[i\]"):
            read_standard_charges(shared_reference / template)


def test_gzip_json_and_csv_are_read_like_plain_files(shared_reference: Path, tmp_path: Path) -> None:
    for relative in (V3_JSON, V3_TALL):
        packed = tmp_path / (Path(relative).name + ".gz")
        packed.write_bytes(gzip.compress((shared_reference / relative).read_bytes()))
        plain = _read(shared_reference / relative)
        result = read_standard_charges(packed)
        assert _accounts(result) == _accounts(plain)
        pd.testing.assert_frame_equal(_rate_table(result.rates), _rate_table(plain.rates))


def test_bad_json_is_a_file_level_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"hospital_name": "X", "standard_charge_information": [{"description": "a",}]}')
    with pytest.raises(HospitalFileError, match=r"broken\.json: .*invalid JSON"):
        read_standard_charges(broken)
    no_items = tmp_path / "no_items.json"
    no_items.write_text('{"hospital_name": "X", "version": "3.0.0"}')
    with pytest.raises(HospitalFileError, match="no standard_charge_information array; keys seen: hospital_name"):
        read_standard_charges(no_items)
    array = tmp_path / "array.json"
    array.write_text('[{"hospital_name": "X"}]')
    with pytest.raises(HospitalFileError, match="root is a array"):
        read_standard_charges(array)


def test_json_values_published_as_text_are_normalized(tmp_path: Path) -> None:
    document = {
        "hospital_name": "Text Hospital",
        "version": "3.0.0",
        "last_updated_on": "2026-01-01",
        "license_information": {"state": "TX", "license_number": "77"},
        "standard_charge_information": [
            {
                "description": "visit",
                "code_information": [{"code": "99213.0", "type": "CPT4"}],
                "standard_charges": [
                    {
                        "setting": "Outpatient",
                        "gross_charge": "$1,200.00",
                        "payers_information": [
                            {
                                "payer_name": "Aetna",
                                "plan_name": "PPO",
                                "methodology": "percent of total billed charges",
                                "standard_charge_percentage": "50%",
                            },
                            {
                                "payer_name": "Cigna",
                                "plan_name": "OAP",
                                "methodology": "fee schedule",
                                "standard_charge_dollar": "N/A",
                            },
                            {
                                "payer_name": "UHC",
                                "plan_name": "Choice",
                                "methodology": "fee schedule",
                                "standard_charge_dollar": 0,
                            },
                            {},
                        ],
                    }
                ],
            },
            {
                "description": "gross only",
                "code_information": [{"code": "99214", "type": "CPT"}],
                "standard_charges": [{"setting": "outpatient", "gross_charge": 100}],
            },
        ],
    }
    path = tmp_path / "text.json"
    path.write_text(json.dumps(document))
    result = read_standard_charges(path)
    # 3 payer entries with values (1 code each) + the empty payer entry (filtered) + the gross-only charge (filtered)
    assert _accounts(result) == {
        "rows_seen": 5,
        "rows_loaded": 1,
        "rows_quarantined": 2,
        "rows_filtered_out": 2,
        "rows_deduplicated": 0,
    }
    rate = result.rates.iloc[0]
    assert (rate.billing_code, rate.billing_code_raw, rate.billing_code_type, rate.billing_code_type_raw) == (
        "99213",
        "99213.0",
        "CPT",
        "CPT4",
    )
    assert (rate.amount, rate.amount_usd, rate.dollar_basis, rate.care_setting) == (
        50.0,
        600.0,
        "percent of gross charge (50% x 1200)",
        "outpatient",
    )
    assert (rate.state, rate.hospital_license, rate.provider_name) == ("TX", "77", "Text Hospital")
    reasons = dict(zip(result.quarantine.source_locator, result.quarantine.reason_code))
    assert reasons == {
        "standard_charge_information[0].standard_charges[0].payers_information[1]": "not_a_number",
        "standard_charge_information[0].standard_charges[0].payers_information[2]": "rate_not_positive",
    }


@pytest.mark.parametrize(
    "relative,kind",
    [
        (V3_JSON, pipeline.HOSPITAL_JSON),
        (V2_JSON, pipeline.HOSPITAL_JSON),
        (V3_TALL, pipeline.HOSPITAL_CSV),
        ("hpt/real/ECMC_Charge_Master_2022.csv", pipeline.HOSPITAL_CSV),
    ],
)
def test_pipeline_routes_hospital_json_and_legacy_csv(shared_reference: Path, relative: str, kind: str) -> None:
    path = shared_reference / relative
    assert pipeline.detect_format(path) == kind
    result = pipeline.read_file(path)
    assert not result.rejected and result.accounts[0].rows_seen > 0


def test_detect_format_finds_a_legacy_header_after_a_long_preamble(tmp_path: Path) -> None:
    preamble = "".join(f"Disclaimer line {i},,{'x' * 90}\n" for i in range(120))  # > 8 KB before the header
    path = tmp_path / "chargemaster.csv"
    path.write_text(preamble + "Charge Code,Charge Description,CPT/HCPCS,Price\n1001,Visit,99213,$120.00\n")
    assert pipeline.detect_format(path) == pipeline.HOSPITAL_CSV
    other = tmp_path / "directory.csv"
    other.write_text("npi,tin,provider_name,state\n1234567893,12-3456789,A,TX\n")
    assert pipeline.detect_format(other) == pipeline.UNKNOWN
