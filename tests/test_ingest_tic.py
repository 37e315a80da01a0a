"""Tests of the TiC in-network reader against the CMS example files and hand-built broken files.

Expected row counts below were counted by hand from the example files: one row per negotiated price x provider
group (a provider reference id expands to the groups of that root provider_references entry).
"""

from __future__ import annotations

import gc
import gzip
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark.collector import gc_paused
from benchmark.files import sha256_file
from benchmark.ingest.tic import reader as tic_reader
from benchmark.ingest.tic.reader import TicFileError, read_in_network
from benchmark.schema import QuarantineSchema, validate_rates

NPIS_1_TO_5 = "1111111111|2222222222|3333333333|4444444444|5555555555"


@pytest.fixture
def tic(shared_reference: Path) -> Path:
    return shared_reference / "tic"


def loc(item: int, rate: int, price: int, group: str) -> str:
    """source_locator of a price x provider group; ``group`` is the part after the price."""
    return f"in_network[{item}].negotiated_rates[{rate}].negotiated_prices[{price}].{group}"


def counts(account) -> tuple[int, int, int, int]:
    return account.rows_seen, account.rows_loaded, account.rows_quarantined, account.rows_filtered_out


def row_at(rates: pd.DataFrame, locator: str) -> pd.Series:
    match = rates[rates["source_locator"] == locator]
    assert len(match) == 1, f"{len(match)} rows at {locator}"
    return match.iloc[0]


def assert_consistent(result) -> None:
    """Account balances, its numbers match the tables, and the tables pass their schemas."""
    (account,) = result.accounts
    account.check()
    result.accounts_frame()
    assert account.rows_loaded == len(result.rates)
    assert account.rows_quarantined == len(result.quarantine)
    assert account.rows_deduplicated == 0
    validate_rates(result.rates)
    QuarantineSchema.validate(result.quarantine)
    assert result.rates["source_locator"].is_unique


# ---------------------------------------------------------------------------------------------------------------------
# CMS example files


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("v1.6.2/in-network-rates-fee-for-service-single-plan-sample.json", 8),  # 2x2 + 1 + ref1(2 groups) + 1
        ("v1.6.2/in-network-rates-multiple-plans-sample.json", 9),  # 2x2 + 1x2 + 2x1 + 1x1
        ("v1.6.2/in-network-rates-bundle-single-plan-sample.json", 3),  # 2x1 + 1x1
        ("v1.6.2/in-network-rates-capitation-single-plan-sample.json", 3),
        ("v1.6.2/in-network-rates-no-npi.json", 1),
        ("v2/in-network-rates-all-negotiated-types-sample.json", 15),  # 2 + 2 + 1 + 2 + (2+1)x2 + 1x2
        ("v2/in-network-rates-fee-for-service-single-plan-sample.json", 10),  # 2x2 + 2x1 + 2x1 + 2x1
        ("v2/in-network-rates-multiple-plans-sample.json", 12),  # 2x2 + 2x2 + 2x1 + 2x1
        ("v2/in-network-rates-bundle-single-plan-sample.json", 4),
        ("v2/in-network-rates-capitation-single-plan-sample.json", 4),
        ("v2/in-network-rates-no-npi.json", 1),
    ],
)
def test_example_row_counts(tic: Path, name: str, rows: int) -> None:
    result = read_in_network(tic / name)
    assert_consistent(result)
    assert len(result.rates) == rows
    assert result.accounts[0].rows_seen == rows
    assert result.quarantine.empty
    assert (result.rates["source_type"] == "tic").all()
    assert (result.rates["source_file"] == Path(name).name).all()
    assert (result.rates["source_sha256"] == sha256_file(tic / name)).all()
    assert not result.rates["is_synthetic"].any()
    assert result.rates["state"].isna().all() and result.rates["medicare_locality"].isna().all()


def test_v1_fee_for_service_values(tic: Path) -> None:
    rates = read_in_network(tic / "v1.6.2/in-network-rates-fee-for-service-single-plan-sample.json").rates
    assert set(rates["billing_code"]) == {"27447", "27448"}
    assert (rates["payer_raw"] == "medicare").all() and (rates["plan_raw"] == "medicaid").all()
    assert (rates["plan_id"] == "1111111111").all()
    assert (rates["payer_family"] == "Medicare").all()
    assert (rates["care_setting"] == "unknown").all()  # no `setting` in 1.x
    assert rates["network_name"].isna().all()

    first = row_at(rates, "in_network[0].negotiated_rates[0].negotiated_prices[0].provider_groups[1]")
    assert first["billing_code"] == "27447" and first["billing_code_type"] == "CPT"
    assert first["amount"] == 123.45 and first["amount_usd"] == 123.45 and first["amount_unit"] == "USD"
    assert first["rate_type"] == "negotiated" and first["billing_class"] == "professional"
    assert first["modifiers"] == "AS"
    assert first["service_codes"] == "11|18|19" and first["pos_setting"] == "both"  # 19 facility, 11/18 not
    assert first["provider_npis"] == NPIS_1_TO_5 and first["provider_tin"] == "22-2222222"
    assert first["expiration_date"] == "2022-01-01" and first["negotiation_arrangement"] == "ffs"

    institutional = row_at(rates, "in_network[0].negotiated_rates[0].negotiated_prices[1].provider_groups[0]")
    assert institutional["amount"] == 1230.45 and institutional["modifiers"] == ""
    assert institutional["billing_class"] == "institutional" and institutional["pos_setting"] == "facility"
    assert pd.isna(institutional["service_codes"])

    office = row_at(rates, "in_network[0].negotiated_rates[1].negotiated_prices[0].provider_groups[0]")
    assert office["pos_setting"] == "non_facility" and office["service_codes"] == "05|06|07"
    assert office["provider_npis"] == "6666666666|7777777777|8888888888|9999999999"

    # 1.x provider_references [1] expand to the two groups of root provider group id 1
    for group, tin in ((0, "11-1111111"), (1, "22-2222222")):
        where = (  # the full locator format, spelled out once
            "in_network[1].negotiated_rates[0].negotiated_prices[0]"
            f".provider_references[0]->provider_group_id=1.provider_groups[{group}]"
        )
        assert where == loc(1, 0, 0, f"provider_references[0]->provider_group_id=1.provider_groups[{group}]")
        referenced = row_at(rates, where)
        assert referenced["amount"] == 12003.45 and referenced["provider_tin"] == tin
        assert referenced["service_codes"] == "CSTM-00" and referenced["pos_setting"] == "both"

    tin_npi = row_at(rates, "in_network[1].negotiated_rates[1].negotiated_prices[0].provider_groups[0]")
    assert tin_npi["provider_tin"] == "6666666666" and tin_npi["provider_npis"] == "6666666666"
    assert tin_npi["amount"] == 12.45


def test_v1_multiple_plans_has_no_plan(tic: Path) -> None:
    rates = read_in_network(tic / "v1.6.2/in-network-rates-multiple-plans-sample.json").rates
    assert rates["plan_raw"].isna().all() and rates["plan_id"].isna().all()
    assert (rates["payer_raw"] == "cms").all() and (rates["payer_family"] == "Other").all()
    derived = rates[rates["rate_type"] == "derived"]
    assert len(derived) == 1
    assert derived.iloc[0]["billing_class"] == "both" and derived.iloc[0]["pos_setting"] == "unknown"
    assert derived.iloc[0]["amount_usd"] == 120.45


def test_v1_tin_only_contract_keeps_tin_without_npi(tic: Path) -> None:
    (row,) = read_in_network(tic / "v1.6.2/in-network-rates-no-npi.json").rates.itertuples()
    assert row.provider_npis is None or pd.isna(row.provider_npis)  # npi [0] = TIN-only contract
    assert row.provider_tin == "11-1111111"
    assert row.pos_setting == "facility"  # institutional without service codes


@pytest.mark.parametrize(("version", "rows"), [("v1.6.2", 3), ("v2", 4)])
def test_bundle_and_capitation_arrangements(tic: Path, version: str, rows: int) -> None:
    bundle = read_in_network(tic / version / "in-network-rates-bundle-single-plan-sample.json").rates
    assert (bundle["negotiation_arrangement"] == "bundle").all() and len(bundle) == rows
    assert (bundle["billing_code"] == "81.54").all() and (bundle["billing_code_type"] == "ICD").all()
    assert sorted(bundle["amount"].unique()) == [20000.0, 25000.0]
    capitation = read_in_network(tic / version / "in-network-rates-capitation-single-plan-sample.json").rates
    assert (capitation["negotiation_arrangement"] == "capitation").all() and len(capitation) == rows


def test_v2_all_negotiated_types(tic: Path) -> None:
    rates = read_in_network(tic / "v2/in-network-rates-all-negotiated-types-sample.json").rates
    assert rates["rate_type"].value_counts().to_dict() == {
        "negotiated": 6,
        "fee_schedule": 3,
        "percentage": 3,
        "derived": 2,
        "per_diem": 1,
    }
    assert (rates["payer_raw"] == "Comprehensive Health Insurance").all()
    assert (rates["plan_raw"] == "Plan D PPO").all() and (rates["plan_id"] == "4444444444").all()
    assert (rates["product_line"] == "commercial").all()

    percent = row_at(rates, loc(1, 0, 0, "provider_references[0]->provider_group_id=1.provider_groups[0]"))
    assert percent["billing_code"] == "97110" and percent["amount"] == 65.0
    assert percent["amount_unit"] == "percent" and math.isnan(percent["amount_usd"])
    assert percent["service_codes"] == "11|22" and percent["pos_setting"] == "both"
    assert percent["care_setting"] == "outpatient"
    assert percent["network_name"] == "Comprehensive Health Network"
    assert percent["provider_npis"] == "1234567890|2345678901|3456789012"
    assert percent["provider_tin"] == "12-3456789" and percent["provider_name"] == "Premier Medical Associates"

    icu = row_at(rates, loc(2, 0, 0, "provider_references[0]->provider_group_id=2.provider_groups[0]"))
    assert icu["billing_code"] == "0200" and icu["billing_code_type"] == "RC"  # leading zero kept
    assert icu["rate_type"] == "per_diem" and icu["amount"] == 5500.0 and icu["amount_unit"] == "USD_per_day"
    assert math.isnan(icu["amount_usd"]) and icu["care_setting"] == "inpatient" and icu["pos_setting"] == "facility"
    assert icu["network_name"] == "Comprehensive Health Plus Network"
    assert icu["provider_name"] == "City General Hospital"

    # references [1, 2] give three groups per price; the second reference points at group id 2
    knee = rates[rates["billing_code"] == "27447"]
    assert len(knee) == 6
    fee = row_at(rates, loc(4, 0, 0, "provider_references[1]->provider_group_id=2.provider_groups[0]"))
    assert fee["rate_type"] == "fee_schedule" and fee["amount_usd"] == 8500.0 and fee["pos_setting"] == "facility"
    assert fee["provider_tin"] == "34-5678901"


def test_v2_fee_for_service_values(tic: Path) -> None:
    rates = read_in_network(tic / "v2/in-network-rates-fee-for-service-single-plan-sample.json").rates
    assert (rates["care_setting"] == "inpatient").all()
    assert (rates["network_name"] == "ACME Choice Provider Group").all()  # only group id 1 is referenced
    assert (rates["plan_raw"] == "Plan A PPO").all()
    assert (rates["modifiers"] == "AS").sum() == 2
    first = row_at(rates, loc(0, 0, 0, "provider_references[0]->provider_group_id=1.provider_groups[1]"))
    assert first["amount"] == 123.45 and first["provider_tin"] == "22-2222222"
    assert first["provider_name"] == "Midland Medical Group" and first["provider_npis"] == NPIS_1_TO_5


def test_v2_no_npi_file(tic: Path) -> None:
    (row,) = read_in_network(tic / "v2/in-network-rates-no-npi.json").rates.itertuples()
    assert row.provider_npis == "1111111111" and row.provider_tin == "1234567890"
    assert row.plan_raw == "medicaid" and pd.isna(row.provider_name)


def test_code_filter(tic: Path) -> None:
    path = tic / "v2/in-network-rates-all-negotiated-types-sample.json"
    result = read_in_network(path, codes=(c for c in ["27447", " 0200 "]))
    assert_consistent(result)
    assert sorted(result.rates["billing_code"].unique()) == ["0200", "27447"]
    account = result.accounts[0]
    assert counts(account) == (15, 7, 0, 8)

    nothing = read_in_network(path, codes=["200"])  # exact match only: "200" is not "0200"
    assert nothing.rates.empty and nothing.accounts[0].rows_filtered_out == 15
    assert_consistent(nothing)

    single = read_in_network(path, codes="99214")  # a lone string is one code, not five characters
    assert list(single.rates["billing_code"].unique()) == ["99214"] and len(single.rates) == 2


def test_gzip_input_and_source_name(tic: Path, tmp_path: Path) -> None:
    plain = tic / "v2/in-network-rates-multiple-plans-sample.json"
    packed = tmp_path / "2024-01-01_cms_in-network-rates.json.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    result = read_in_network(packed, is_synthetic=True, source_name="cms/multi.json.gz")
    assert_consistent(result)
    assert len(result.rates) == 12
    assert (result.rates["source_file"] == "cms/multi.json.gz").all()
    assert (result.rates["source_sha256"] == sha256_file(packed)).all()  # hash of the stored (compressed) bytes
    assert result.rates["is_synthetic"].all()
    expected = read_in_network(plain).rates.drop(columns=["source_file", "source_sha256", "is_synthetic"])
    pd.testing.assert_frame_equal(result.rates.drop(columns=["source_file", "source_sha256", "is_synthetic"]), expected)


# ---------------------------------------------------------------------------------------------------------------------
# Hand-built files: reference order, quarantine, filtering counts


def price(rate, negotiated_type="negotiated", **extra) -> dict:
    return {
        "negotiated_type": negotiated_type,
        "negotiated_rate": rate,
        "expiration_date": "9999-12-31",
        "billing_class": "professional",
        "service_code": ["11"],
        **extra,
    }


def messy_file() -> dict:
    """A 1.x-style file with provider_references AFTER in_network and `version` last.

    Rows (price x group):
      in_network[0] 00100, ref 7 (2 groups) x 3 prices (250.5, 0, -5)      -> 2 loaded, 4 rate_not_positive
      in_network[1] 99213, ref 99 (missing) x 1                            -> 1 provider_reference_missing
                           ref 8 (remote location) x 1                     -> 1 provider_reference_remote
                           inline npi [0] group x 4 ("NaN", "$1,234.50",
                           type "capitated", "95.00")                      -> 3 quarantined, 1 loaded
      in_network[2] 27447, ref 7 (2 groups) x 2 prices                     -> 4 loaded
    total 16 seen = 7 loaded + 9 quarantined
    """
    return {
        "reporting_entity_name": "Aetna Life Insurance Company",
        "reporting_entity_type": "health insurance issuer",
        "plan_name": "Choice POS II",
        "plan_id_type": "EIN",
        "plan_id": "12-3456789",
        "plan_market_type": "group",
        "last_updated_on": "2024-01-01",
        "in_network": [
            {
                "negotiation_arrangement": "ffs",
                "name": "Anesthesia for lip procedure",
                "billing_code_type": "cpt",
                "billing_code_type_version": "2024",
                "billing_code": "00100",
                "description": "Anesthesia",
                "negotiated_rates": [
                    {
                        "provider_references": [7],
                        "negotiated_prices": [
                            price(250.5, billing_code_modifier=["TC", "26", "26"], service_code=["21"]),
                            price(0),
                            price(-5),
                        ],
                    }
                ],
            },
            {
                "negotiation_arrangement": "ffs",
                "name": "Office visit",
                "billing_code_type": "CPT",
                "billing_code_type_version": "2024",
                "billing_code": "99213",
                "description": "Office visit",
                "negotiated_rates": [
                    {"provider_references": [99], "negotiated_prices": [price(100)]},
                    {"provider_references": [8], "negotiated_prices": [price(100)]},
                    {
                        "provider_groups": [{"npi": [0], "tin": {"type": "ein", "value": "98-7654321"}}],
                        "negotiated_prices": [
                            price("NaN"),
                            price("$1,234.50"),
                            price(80, negotiated_type="capitated"),
                            price("95.00", service_code=["5"]),
                        ],
                    },
                ],
            },
            {
                "negotiation_arrangement": "ffs",
                "name": "Knee replacement",
                "billing_code_type": "CPT",
                "billing_code_type_version": "2024",
                "billing_code": "27447",
                "description": "Knee",
                "negotiated_rates": [
                    {"provider_references": [7], "negotiated_prices": [price(1500), price(1400.25, "fee schedule")]}
                ],
            },
        ],
        "provider_references": [
            {
                "provider_group_id": 7,
                "network_name": ["Open Access", "Choice POS"],
                "provider_groups": [
                    {
                        "npi": [1234567893, 1111111112],
                        "tin": {"type": "ein", "value": "11-2223333", "business_name": "Group One"},
                    },
                    {"npi": [1999999999], "tin": {"type": "npi", "value": "1999999999"}},
                ],
            },
            {"provider_group_id": 8, "location": "https://example.com/provider-references/8.json"},
        ],
        "version": "1.3.1",
    }


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document, indent=1))
    return path


def test_provider_references_after_in_network_and_quarantine(tmp_path: Path) -> None:
    path = write_json(tmp_path / "refs-last.json", messy_file())
    result = read_in_network(path)
    assert_consistent(result)
    account = result.accounts[0]
    assert counts(account) == (16, 7, 9, 0)
    rates = result.rates
    assert (rates["payer_family"] == "Aetna").all() and (rates["plan_raw"] == "Choice POS II").all()

    anesthesia = row_at(rates, loc(0, 0, 0, "provider_references[0]->provider_group_id=7.provider_groups[0]"))
    assert anesthesia["billing_code"] == "00100"  # never an int
    assert anesthesia["billing_code_type"] == "CPT"  # upper-cased
    assert anesthesia["modifiers"] == "26|TC"
    assert anesthesia["network_name"] == "Open Access|Choice POS"
    assert anesthesia["provider_npis"] == "1111111112|1234567893" and anesthesia["provider_name"] == "Group One"
    assert anesthesia["pos_setting"] == "facility" and anesthesia["service_codes"] == "21"
    assert anesthesia["expiration_date"] == "9999-12-31"

    text_rate = row_at(rates, "in_network[1].negotiated_rates[2].negotiated_prices[3].provider_groups[0]")
    assert text_rate["amount"] == 95.0 and text_rate["service_codes"] == "05"
    assert pd.isna(text_rate["provider_npis"]) and text_rate["provider_tin"] == "98-7654321"

    quarantine = result.quarantine.set_index("source_locator")
    assert quarantine["reason_code"].value_counts().to_dict() == {
        "rate_not_positive": 4,
        "provider_reference_missing": 1,
        "provider_reference_remote": 1,
        "rate_not_finite": 1,
        "rate_not_numeric": 1,
        "negotiated_type_unknown": 1,
    }
    zero = quarantine.loc[loc(0, 0, 1, "provider_references[0]->provider_group_id=7.provider_groups[1]")]
    assert zero["reason_code"] == "rate_not_positive" and zero["raw_value"] == "0"
    negative = quarantine.loc[loc(0, 0, 2, "provider_references[0]->provider_group_id=7.provider_groups[0]")]
    assert negative["raw_value"] == "-5"
    missing = quarantine.loc[loc(1, 0, 0, "provider_references[0]->provider_group_id=99")]
    assert missing["reason_code"] == "provider_reference_missing" and missing["raw_value"] == "99"
    remote = quarantine.loc[loc(1, 1, 0, "provider_references[0]->provider_group_id=8")]
    assert remote["reason_code"] == "provider_reference_remote"
    assert "https://example.com/provider-references/8.json" in remote["detail"]
    assert quarantine.loc[loc(1, 2, 1, "provider_groups[0]"), "raw_value"] == "$1,234.50"
    assert quarantine.loc[loc(1, 2, 2, "provider_groups[0]"), "raw_value"] == "capitated"
    assert (result.quarantine["source_file"] == "refs-last.json").all()


def test_reference_order_does_not_matter(tmp_path: Path) -> None:
    document = messy_file()
    references_first = {"provider_references": document.pop("provider_references"), **document}
    last = read_in_network(write_json(tmp_path / "last.json", messy_file()))
    first = read_in_network(write_json(tmp_path / "first.json", references_first))
    columns = ["source_locator", "amount", "provider_npis", "provider_tin", "network_name"]
    pd.testing.assert_frame_equal(first.rates[columns], last.rates[columns])
    without_file = [q.drop(columns="source_file") for q in (first.quarantine, last.quarantine)]
    pd.testing.assert_frame_equal(*without_file)


def test_filtered_rows_are_counted_like_loaded_rows(tmp_path: Path) -> None:
    result = read_in_network(write_json(tmp_path / "messy.json", messy_file()), codes=["00100"])
    assert_consistent(result)
    account = result.accounts[0]
    # 99213: 1 (missing ref) + 1 (remote ref) + 4 prices x 1 group; 27447: 2 prices x 2 groups
    assert counts(account) == (16, 2, 4, 6 + 4)
    assert set(result.quarantine["reason_code"]) == {"rate_not_positive"}


def test_item_level_problems_are_quarantined(tmp_path: Path) -> None:
    document = messy_file()
    document["in_network"] = [
        {
            "billing_code_type": "CPT",
            "negotiated_rates": [{"provider_references": [7], "negotiated_prices": [price(1)]}],
        },
        {"billing_code": "99214", "billing_code_type": "CPT", "negotiated_rates": []},
        {"billing_code": "99215", "billing_code_type": "CPT", "negotiated_rates": [{"negotiated_prices": [price(10)]}]},
        "not an object",
        {
            "billing_code": "99212",
            "billing_code_type": "CPT",
            "negotiated_rates": [{"provider_references": [7], "negotiated_prices": [price(10, setting="ambulatory")]}],
        },
    ]
    result = read_in_network(write_json(tmp_path / "items.json", document))
    assert_consistent(result)
    assert result.rates.empty
    assert result.quarantine["reason_code"].value_counts().to_dict() == {
        "billing_code_missing": 2,  # one price x two groups of reference 7
        "negotiated_rates_missing": 1,
        "provider_groups_missing": 1,
        "in_network_item_invalid": 1,
        "setting_unknown": 2,
    }


# ---------------------------------------------------------------------------------------------------------------------
# File-level problems


@pytest.fixture
def good_bytes(tic: Path) -> bytes:
    return (tic / "v2/in-network-rates-all-negotiated-types-sample.json").read_bytes()


def test_truncated_gzip_raises(tmp_path: Path, good_bytes: bytes) -> None:
    packed = gzip.compress(good_bytes)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(TicFileError, match=r"cut\.json\.gz: corrupt or truncated gzip"):
        read_in_network(path)


def test_html_page_saved_as_json_gz_raises(tmp_path: Path) -> None:
    html = b"<!DOCTYPE html><html><body><h1>403 Forbidden</h1>Request has expired</body></html>"
    path = tmp_path / "2024-01-01_payer_in-network-rates.json.gz"
    path.write_bytes(html)
    with pytest.raises(TicFileError, match=r"in-network-rates\.json\.gz: named \.gz but is not gzip.*HTML"):
        read_in_network(path)
    path.write_bytes(gzip.compress(html))  # an error page that was gzipped by the server
    with pytest.raises(TicFileError, match=r"invalid JSON.*HTML"):
        read_in_network(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b'{"reporting_entity_name": "x", "in_network": [1,]}', "invalid JSON"),
        (b'{"reporting_entity_name": "x", "in_network": [{"negotiated_rate": NaN}]}', "invalid JSON"),
        (b'{"reporting_entity_name": "x", "in_network": []} {"in_network": []}', "invalid JSON"),
        (b'[{"in_network": []}]', "root is not an object"),
        (b'{"reporting_entity_name": "x", "in_networks": []}', r"no 'in_network' key.*in_networks"),
        (b'{"reporting_entity_name": "x", "in_network": {}}', "'in_network' is not an array"),
        (b'{"reporting_entity_type": "x", "in_network": []}', "no reporting_entity_name"),
    ],
)
def test_broken_json_raises(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(TicFileError, match=message) as caught:
        read_in_network(path)
    assert "broken.json" in str(caught.value)


def test_truncated_plain_json_raises_with_position(tmp_path: Path, good_bytes: bytes) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(good_bytes[:-200])  # valid items first, then the file stops: nothing partial is returned
    expected = r"cut\.json: invalid JSON \([\d,]+ bytes read so far; parser said: .*premature EOF"
    with pytest.raises(TicFileError, match=expected):
        read_in_network(path)


def test_utf8_bom_is_accepted(tmp_path: Path, good_bytes: bytes) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + good_bytes)
    assert len(read_in_network(path).rates) == 15


# ---------------------------------------------------------------------------------------------------------------------
# Streaming: filtered rows counted without building items, any layout, any chunking

import random  # noqa: E402
import zlib  # noqa: E402

from benchmark.ingest.tic.reader import CodeFilter, ReadProgress  # noqa: E402
from benchmark.ingest.tic.scan import Limits  # noqa: E402

SMALL_CHUNKS = Limits(chunk_bytes=997, queue_chunks=2)  # odd size: items, keys and numbers cut at every place


def synthetic_file(seed: int, items: int = 40, references_first: bool = True, shuffle_keys: bool = False) -> dict:
    """A 2.x-style file with numbered codes, shared and unique reference lists, 1-3 prices per rate."""
    rnd = random.Random(seed)
    references = [
        {
            "provider_group_id": group_id,
            "network_name": [f"Net {group_id % 3}"],
            "provider_groups": [
                {"npi": [1000000000 + group_id * 10 + g], "tin": {"type": "ein", "value": f"{g:02d}-1"}}
                for g in range(rnd.randint(1, 4))
            ],
        }
        for group_id in range(1, 30)
    ]
    in_network = []
    for index in range(items):
        rates = []
        for _ in range(rnd.randint(1, 6)):
            rate = {
                "provider_references": rnd.sample(range(1, 33), rnd.randint(0, 4)),  # ids 30-32 do not exist
                "negotiated_prices": [price(round(rnd.uniform(10, 900), 2)) for _ in range(rnd.randint(0, 3))],
            }
            if rnd.random() < 0.2:
                rate["provider_groups"] = [
                    {"npi": [1999999990 + rnd.randint(0, 9)], "tin": {"type": "ein", "value": "77-1"}}
                ]
            rates.append(rate)
        item = {
            "negotiation_arrangement": "ffs",
            "name": "n",
            "billing_code_type": "CPT",
            "billing_code_type_version": "2024",
            "billing_code": f"{10000 + index % 17:05d}",
            "description": "d",
            "negotiated_rates": rates if index % 11 else [],
        }
        if shuffle_keys:
            keys = list(item)
            rnd.shuffle(keys)
            item = {key: item[key] for key in keys}
        in_network.append(item)
    head = {
        "reporting_entity_name": "Synthetic Insurer",
        "reporting_entity_type": "health insurance issuer",
        "last_updated_on": "2024-01-01",
        "version": "2.0.0",
    }
    if references_first:
        return {**head, "provider_references": references, "in_network": in_network}
    return {**head, "in_network": in_network, "provider_references": references}


def expected_rows(document: dict, wanted: set[str]) -> tuple[int, int]:
    """(rows of wanted items, rows of the others), counted from the parsed document by the row rule."""
    groups = {r["provider_group_id"]: len(r["provider_groups"]) for r in document["provider_references"]}
    counts = {True: 0, False: 0}
    for item in document["in_network"]:
        rows = 0
        for rate in item["negotiated_rates"] or [None]:
            if rate is None or not rate["negotiated_prices"]:
                rows += 1
                continue
            slots = len(rate.get("provider_groups", [])) + sum(groups.get(r, 1) for r in rate["provider_references"])
            rows += len(rate["negotiated_prices"]) * max(slots, 1)
        counts[item["billing_code"] in wanted] += rows
    return counts[True], counts[False]


@pytest.mark.parametrize("layout", ["references_first", "references_last", "shuffled_keys", "indented"])
def test_filtered_rows_match_a_full_parse(tmp_path: Path, layout: str) -> None:
    document = synthetic_file(7, references_first=layout != "references_last", shuffle_keys=layout == "shuffled_keys")
    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(document, indent=2 if layout == "indented" else None))
    wanted = {"10003", "10011"}
    kept, filtered = expected_rows(document, wanted)
    assert kept and filtered
    for limits in (None, SMALL_CHUNKS):
        result = read_in_network(path, sorted(wanted), limits=limits, deduplicate=False)
        account = result.accounts[0]
        assert account.rows_filtered_out == filtered
        assert account.rows_loaded + account.rows_quarantined == kept
        assert set(result.quarantine["reason_code"]) <= {
            "provider_reference_missing",
            "negotiated_prices_missing",
            "provider_groups_missing",
            "negotiated_rates_missing",
        }
    everything = read_in_network(path, deduplicate=False)
    assert everything.accounts[0].rows_seen == kept + filtered and everything.accounts[0].rows_filtered_out == 0
    subset = everything.rates[everything.rates["billing_code"].isin(wanted)].reset_index(drop=True)
    pd.testing.assert_frame_equal(read_in_network(path, sorted(wanted), deduplicate=False).rates, subset)


def test_chunk_size_does_not_change_the_result(tic: Path, tmp_path: Path) -> None:
    for name in (
        "v2/in-network-rates-all-negotiated-types-sample.json",
        "v1.6.2/in-network-rates-fee-for-service-single-plan-sample.json",
    ):
        packed = tmp_path / "packed.json.gz"
        packed.write_bytes(gzip.compress((tic / name).read_bytes()))
        whole = read_in_network(tic / name)
        small = read_in_network(packed, limits=SMALL_CHUNKS)
        columns = [c for c in whole.rates.columns if c not in ("source_file", "source_sha256")]
        pd.testing.assert_frame_equal(small.rates[columns], whole.rates[columns])
    messy = write_json(tmp_path / "messy.json", messy_file())
    assert counts(read_in_network(messy, ["00100"], limits=SMALL_CHUNKS).accounts[0]) == (16, 2, 4, 10)


def test_code_filter_lists_and_ranges(tmp_path: Path) -> None:
    spec = CodeFilter.parse(["44300-44346", "j0100-J0200", "99213", "44320-80"])
    assert spec.matches("44320") and spec.matches("44300") and spec.matches("44346") and not spec.matches("44347")
    assert spec.matches("J0150") and spec.matches("j0150") and not spec.matches("J01500")
    assert spec.matches("99213") and spec.matches("44320-80") and not spec.matches("99214") and not spec.matches(None)
    assert CodeFilter.parse(None) is None and CodeFilter.parse(["all"]) is None
    document = synthetic_file(3)
    path = write_json(tmp_path / "ranges.json", document)
    ranged = read_in_network(path, ["10002-10004"], deduplicate=False)
    assert set(ranged.rates["billing_code"]) == {"10002", "10003", "10004"}
    kept, filtered = expected_rows(document, {"10002", "10003", "10004"})
    assert ranged.accounts[0].rows_filtered_out == filtered


def test_progress_reports_bytes_and_prices(tmp_path: Path) -> None:
    path = write_json(tmp_path / "progress.json", synthetic_file(5))
    seen: list[ReadProgress] = []
    read_in_network(path, ["10003"], progress=seen.append, limits=Limits(chunk_bytes=4096))
    assert len(seen) > 3 and seen[-1].finished
    assert seen[-1].raw_bytes == seen[-1].json_bytes == path.stat().st_size == seen[-1].stored_bytes
    assert [p.raw_bytes for p in seen] == sorted(p.raw_bytes for p in seen)
    document = synthetic_file(5)
    prices = sum(
        len(r["negotiated_prices"])
        for i in document["in_network"]
        if i["billing_code"] == "10003"
        for r in i["negotiated_rates"]
    )
    assert seen[-1].prices_found == prices > 0


# ---------------------------------------------------------------------------------------------------------------------
# Semantics: bundles, capitation, plans, percentages, deduplication, misspelled keys


@pytest.mark.parametrize("version", ["v1.6.2", "v2"])
def test_bundles_keep_bundled_codes_and_capitation_covered_services(tic: Path, version: str) -> None:
    bundle = read_in_network(tic / version / "in-network-rates-bundle-single-plan-sample.json").rates
    assert (bundle["bundled_codes"] == "CPT:27447|CPT:27446").all() and bundle["covered_services"].isna().all()
    capitation = read_in_network(tic / version / "in-network-rates-capitation-single-plan-sample.json").rates
    assert (capitation["covered_services"] == "CPT:27447|CPT:27446").all() and capitation["bundled_codes"].isna().all()
    assert (capitation["plan_id_type"] == "hios").all() and (capitation["plan_market_type"] == "individual").all()
    assert (capitation["plan_count"] == 1).all()


def test_v2_plan_columns_and_price_notes(tic: Path) -> None:
    rates = read_in_network(tic / "v2/in-network-rates-all-negotiated-types-sample.json").rates
    assert (rates["plan_id_type"] == "ein").all() and (rates["plan_market_type"] == "group").all()
    assert (rates["issuer_name"] == "Comprehensive Health Issuer").all()
    assert (rates["plan_sponsor_name"] == "Comprehensive Employee Group").all()
    percent = rates[rates["rate_type"] == "percentage"].set_index("billing_code")
    assert (percent.loc["97110", "additional_information"] == "65% of billed charges arrangement").all()
    assert percent.loc["99285", "additional_information"] is None or pd.isna(
        percent.loc["99285", "additional_information"]
    )
    assert list(percent["amount"]) == [65.0, 65.0, 75.5] and (percent["amount_unit"] == "percent").all()
    assert percent["amount_usd"].isna().all() and percent["dollar_basis"].isna().all()
    assert set(rates["rate_type"]) == {"negotiated", "fee_schedule", "derived", "percentage", "per_diem"}
    assert (rates["dedup_count"] == 1).all()
    multi = read_in_network(tic / "v1.6.2/in-network-rates-multiple-plans-sample.json").rates
    assert multi["plan_count"].isna().all() and multi["plan_id_type"].isna().all()


def test_severity_of_illness_is_kept(tmp_path: Path) -> None:
    document = messy_file()
    document["in_network"] = [
        {
            **document["in_network"][2],
            "billing_code_type": "MS-DRG",
            "billing_code": "470",
            "severity_of_illness": "Major",
        }
    ]
    rates = read_in_network(write_json(tmp_path / "drg.json", document)).rates
    assert (rates["severity_of_illness"] == "Major").all() and (rates["billing_code"] == "470").all()


def test_duplicate_rates_are_merged_and_counted(tmp_path: Path) -> None:
    document = messy_file()
    same_groups = {**document["provider_references"][0], "provider_group_id": 9}  # groups of 7 again
    document["provider_references"].append(same_groups)
    knee = document["in_network"][2]
    knee["negotiated_rates"].append({"provider_references": [9], "negotiated_prices": [price(1500)]})
    knee["negotiated_rates"].append({"provider_references": [7, 9], "negotiated_prices": [price(1500)]})
    result = read_in_network(write_json(tmp_path / "dupes.json", document))
    account = result.accounts[0]
    # knee: 4 rows as before + 2 (ref 9) + 4 (refs 7 and 9), all 1500 rows identical per group: 2 groups survive
    assert account.rows_seen == 16 + 6 and account.rows_deduplicated == 6
    assert account.rows_loaded == 7 and len(result.rates) == 7
    knee_rows = result.rates[(result.rates["billing_code"] == "27447") & (result.rates["amount"] == 1500)]
    assert sorted(knee_rows["dedup_count"]) == [4, 4]
    first = row_at(result.rates, loc(2, 0, 0, "provider_references[0]->provider_group_id=7.provider_groups[0]"))
    assert first["dedup_count"] == 4  # the first occurrence is kept, with its locator
    unmerged = read_in_network(write_json(tmp_path / "dupes.json", document), deduplicate=False)
    assert len(unmerged.rates) == 13 and unmerged.rates["dedup_count"].isna().all()


def test_an_item_repeated_in_a_later_decode_chunk_is_deduplicated(tmp_path: Path, monkeypatch) -> None:
    """Items decoded one per chunk (their prices moved into columns after each one): a copy of an item later in the
    file is a duplicate of every row of the first, counted on the first rows, exactly as in one chunk."""
    document = messy_file()
    knee = document["in_network"][2]
    path = write_json(tmp_path / "repeated.json", {**document, "in_network": [*document["in_network"], knee]})
    once = read_in_network(write_json(tmp_path / "once.json", document))
    knee_rows = once.rates[once.rates["billing_code"].eq("27447")]
    chunks = tic_reader._chunks
    monkeypatch.setattr(tic_reader, "_chunks", lambda elements, size_of, limit=0: chunks(elements, size_of, 1))
    result = read_in_network(path)
    account = result.accounts[0]
    assert account.rows_deduplicated == once.accounts[0].rows_deduplicated + len(knee_rows) > 0
    assert account.rows_loaded == once.accounts[0].rows_loaded
    doubled = result.rates[result.rates["billing_code"].eq("27447")]
    assert list(doubled["dedup_count"]) == [2 * count for count in knee_rows["dedup_count"]]
    assert list(doubled["source_locator"]) == list(knee_rows["source_locator"])  # the first rows are kept


def test_misspelled_keys_are_quarantined(tmp_path: Path) -> None:
    document = messy_file()
    typo = price(123)
    typo["billing_code_modifer"] = ["26"]  # a typo that would silently drop the modifier
    extension = price(124, payer_extension="kept")  # an unknown key unlike any TiC key is allowed
    document["in_network"][2]["negotiated_rates"] = [
        {"provider_references": [7], "negotiated_prices": [typo, extension]}
    ]
    result = read_in_network(write_json(tmp_path / "typo.json", document), ["27447"])
    assert list(result.quarantine["reason_code"].unique()) == ["key_misspelled"]
    assert "billing_code_modifier" in result.quarantine["detail"].iloc[0] and len(result.quarantine) == 2
    assert (result.rates["amount"] == 124).all() and len(result.rates) == 2


def test_misspelled_keys_are_found_after_many_unknown_keys(tmp_path: Path) -> None:
    """A long-lived worker judges keys as a fresh one does: before, the typo cache stopped looking for typos once
    10,000 unknown keys had been seen (so `billing_code_modifer` then loaded, losing its modifier)."""

    def typo_file(key: str) -> Path:
        document = messy_file()
        typo = price(123)
        typo[key] = ["26"]
        document["in_network"][2]["negotiated_rates"] = [{"provider_references": [7], "negotiated_prices": [typo]}]
        return write_json(tmp_path / "typo.json", document)

    fresh = read_in_network(typo_file("billing_code_modifer"), ["27447"]).quarantine
    assert list(fresh["reason_code"]) == ["key_misspelled", "key_misspelled"]  # 1 price x 2 provider groups

    document = messy_file()
    extensions = {f"vendor_extension_{n:05d}": n for n in range(12_000)}  # unknown keys unlike any TiC key
    document["in_network"][2]["negotiated_rates"] = [
        {"provider_references": [7], "negotiated_prices": [price(124, **extensions)]}
    ]
    many = read_in_network(write_json(tmp_path / "many.json", document), ["27447"])
    assert many.quarantine.empty and len(many.rates) == 2  # extensions are allowed

    after = read_in_network(typo_file("billing_code_modifiers_"), ["27447"]).quarantine  # a typo not seen yet
    assert list(after["reason_code"]) == ["key_misspelled", "key_misspelled"]
    assert after["detail"].str.contains("misspelled 'billing_code_modifier'").all()


# ---------------------------------------------------------------------------------------------------------------------
# Bad files: rejected whole, with a position


def test_syntax_error_reports_byte_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(
        b'{"reporting_entity_name": "x",\n "in_network": [\n  {"billing_code": "1" "negotiated_rates": []}\n ]\n}'
    )
    with pytest.raises(TicFileError, match=r"bad\.json: invalid JSON .* at byte 71 \(line 3, column 24\)"):
        read_in_network(path)
    packed = tmp_path / "bad.json.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(TicFileError, match=r"at byte 71 \(line 3, column 24\)"):
        read_in_network(packed, limits=Limits(chunk_bytes=16))


def test_syntax_error_deep_in_a_large_file_is_found_in_a_skipped_item(tmp_path: Path) -> None:
    text = json.dumps(synthetic_file(11, items=300))
    marker = '"negotiated_rate": '
    cut = text.index(marker, len(text) * 3 // 4) + len(marker)
    end = min(text.index(",", cut), text.index("}", cut))
    path = tmp_path / "deep.json"
    path.write_text(text[:cut] + "1.2.3" + text[end:])  # the item's code is not wanted: it is still checked
    where = f"at byte {cut + 3:,} (line 1, column {cut + 4:,})"
    with pytest.raises(TicFileError, match=re.escape(where)):
        read_in_network(path, ["99999"], limits=Limits(chunk_bytes=8192))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"reporting_entity_name": "x", "reporting_entity_name": "y", "in_network": []}',
            "duplicate root key 'reporting_entity_name'",
        ),
        (b'{"reporting_entity_name": "x", "in_network": [' + b"[" * 3000 + b"]" * 3000 + b"]}", "excessive nesting"),
        (b'{"reporting_entity_name": "x", "in_network": [{"negotiated_rate": Infinity}]}', "invalid JSON"),
        (b'{"reporting_entity_name": "x", "in_network": [{"a": 1}, ]}', "invalid JSON"),
        (b'{"reporting_entity_name": "x \\"y" z", "in_network": []}', "invalid JSON"),
        (b'{"reporting_entity_name": "x", "in_network": []}\n{"in_network": []}', "a second root document"),
    ],
)
def test_more_broken_json_raises(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(TicFileError, match=message):
        read_in_network(path)


def test_gzip_bombs_and_damaged_gzip_are_rejected(tmp_path: Path, good_bytes: bytes) -> None:
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b'{"reporting_entity_name": "x", "in_network": [' + b" " * (80 << 20) + b"]}"))
    with pytest.raises(TicFileError, match=r"bomb\.json\.gz: compression ratio above 200:1"):
        read_in_network(bomb)
    with pytest.raises(TicFileError, match="decompressed size exceeds the cap of 4,096 bytes"):
        read_in_network(bomb, limits=Limits(max_decompressed_bytes=4096))
    packed = bytearray(gzip.compress(good_bytes))
    packed[-6] ^= 0xFF  # the CRC no longer matches
    crc = tmp_path / "crc.json.gz"
    crc.write_bytes(bytes(packed))
    with pytest.raises(TicFileError, match="corrupt or truncated gzip"):
        read_in_network(crc)
    garbage = tmp_path / "garbage.json.gz"
    garbage.write_bytes(gzip.compress(good_bytes) + b"<html>oops</html>")
    with pytest.raises(TicFileError, match="after the end of the gzip stream"):
        read_in_network(garbage)
    members = tmp_path / "members.json.gz"  # concatenated gzip members are one valid stream
    members.write_bytes(gzip.compress(good_bytes[:1000]) + gzip.compress(good_bytes[1000:]) + b"\0" * 8)
    assert len(read_in_network(members).rates) == 15


def test_an_item_larger_than_the_cap_is_rejected(tmp_path: Path) -> None:
    path = write_json(tmp_path / "big.json", synthetic_file(2, items=3))
    with pytest.raises(TicFileError, match=r"in_network\[1\] is larger than 2,000 bytes"):  # [0] has no rates
        read_in_network(path, limits=Limits(max_item_bytes=2000, chunk_bytes=1024))


def test_a_table_of_contents_is_not_an_in_network_file(tic: Path) -> None:
    with pytest.raises(TicFileError, match="table of contents"):
        read_in_network(tic / "v2/table-of-contents-sample.json")


def test_zlib_is_used_when_isal_is_missing(monkeypatch, tmp_path: Path, good_bytes: bytes) -> None:
    from benchmark.ingest.tic import scan as tic_scan

    monkeypatch.setattr(tic_scan, "_inflate", zlib)
    monkeypatch.setattr(tic_scan, "_INFLATE_ERRORS", (zlib.error,))
    packed = tmp_path / "z.json.gz"
    packed.write_bytes(gzip.compress(good_bytes))
    assert len(read_in_network(packed).rates) == 15


@pytest.mark.parametrize("references_first", [True, False])
def test_duplicated_provider_group_ids_are_quarantined_in_either_layout(tmp_path: Path, references_first: bool) -> None:
    document = messy_file()
    document["provider_references"].append({"provider_group_id": 7, "provider_groups": [{"npi": [1], "tin": "1"}]})
    if references_first:
        document = {"provider_references": document.pop("provider_references"), **document}
    result = read_in_network(
        write_json(tmp_path / "dup-ids.json", document), ["00100", "27447"], limits=Limits(chunk_bytes=512)
    )
    assert_consistent(result)
    duplicated = result.quarantine[result.quarantine["reason_code"] == "provider_reference_duplicate"]
    # id 7 is duplicated: each valid price pointing at it is one quarantined row (00100: 1 of 3 prices is valid)
    assert len(duplicated) == 1 + 2 and result.rates.empty
    assert result.accounts[0].rows_filtered_out == 1 + 1 + 4  # 99213: missing ref, remote ref, 4 prices x 1 group


def test_a_duplicate_key_inside_an_item_quarantines_that_item_only(tmp_path: Path) -> None:
    """One ambiguous item of a file is quarantined (duplicate_key); the other items are read."""
    good = {
        "billing_code": "44320",
        "billing_code_type": "CPT",
        "negotiation_arrangement": "ffs",
        "negotiated_rates": [
            {
                "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "11-1111111"}}],
                "negotiated_prices": [
                    {
                        "negotiated_type": "negotiated",
                        "negotiated_rate": 500.0,
                        "expiration_date": "9999-12-31",
                        "billing_class": "professional",
                    }
                ],
            }
        ],
    }
    item = json.dumps(good)
    ambiguous = item.replace('"billing_code": "44320"', '"billing_code": "44320", "billing_code": "44321"')
    path = tmp_path / "one-bad-item.json"
    path.write_text(
        '{"reporting_entity_name": "x", "reporting_entity_type": "y", "in_network": ['
        + ",".join([item, ambiguous, item.replace("500.0", "600.0")])
        + "]}"
    )
    result = read_in_network(path)
    assert sorted(result.rates.amount) == [500.0, 600.0]
    assert list(result.quarantine.reason_code) == ["duplicate_key"]
    assert list(result.quarantine.source_locator) == ["in_network[1]"]
    assert "duplicate key 'billing_code'" in result.quarantine.detail.iloc[0]
    account = result.accounts[0]
    assert (account.rows_seen, account.rows_loaded, account.rows_quarantined) == (3, 2, 1)


def test_a_duplicate_root_key_still_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "root.json"
    path.write_bytes(b'{"reporting_entity_name": "x", "in_network": [], "reporting_entity_name": "y"}')
    with pytest.raises(TicFileError, match="duplicate root key 'reporting_entity_name'"):
        read_in_network(path)


# ---------------------------------------------------------------------------------------------------------------------
# The garbage collector is paused for the read only


def test_gc_is_on_after_a_read_and_after_a_read_that_raised(tmp_path: Path) -> None:
    assert gc.isenabled()
    read_in_network(write_json(tmp_path / "ok.json", messy_file()))
    assert gc.isenabled()
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"reporting_entity_name": "x", "in_network": [ {"billing_code": ')
    with pytest.raises(TicFileError):
        read_in_network(broken)
    assert gc.isenabled()
    with pytest.raises(TicFileError):
        read_in_network(tmp_path / "missing.json")
    assert gc.isenabled()


def test_gc_left_off_by_the_caller_stays_off(tmp_path: Path) -> None:
    gc.disable()
    try:
        read_in_network(write_json(tmp_path / "ok.json", messy_file()))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_reads_share_one_pause() -> None:
    """Two reads in threads: the collector stays off until the later one ends, then is on again."""
    first, second = gc_paused(), gc_paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second read is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()
