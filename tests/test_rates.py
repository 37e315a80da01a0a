"""Rates placed on the map and compared with Medicare: each expected amount is typed in from the CMS files."""

import pandas as pd
import pytest

from benchmark.analysis import rates

# 2025 44320 facility: national 36.13 x 32.3465 = 1,168.68; Houston (04412-18) by hand in test_medicare: 1,237.05;
# Alabama (10112-00, one statewide locality): (19.91*1 + 11.82*0.869 + 4.40*0.575) * 32.3465 = 1,058.11
HOUSTON, ALABAMA, NATIONAL = 1237.05, 1058.11, 1168.68


def test_alabama_by_hand():
    assert round((19.91 * 1 + 11.82 * 0.869 + 4.40 * 0.575) * 32.3465, 2) == ALABAMA


def test_percent_of_medicare_by_locality_state_and_national(make_rates):
    table = make_rates(
        {"medicare_locality": "04412-18", "state": "TX", "amount_usd": 2474.10, "amount": 2474.10},
        {"state": "AL", "amount_usd": 1058.11, "amount": 1058.11},
        {"amount_usd": 584.34, "amount": 584.34},
    )
    placed = rates.attach_geography(table, None)
    assert placed["medicare_locality"].tolist()[:2] == ["04412-18", "10112-00"]
    compared = rates.compare_to_medicare(placed, 2025)
    assert compared["medicare_amount"].tolist() == [HOUSTON, ALABAMA, NATIONAL]
    assert compared["pct_of_medicare"].tolist() == [200.0, 100.0, 50.0]
    assert compared["medicare_match"].tolist() == [rates.MATCH_LOCALITY, rates.MATCH_STATE, rates.MATCH_NATIONAL]


def test_rates_that_are_not_compared_say_why(make_rates):
    table = make_rates(
        {"billing_class": "institutional"},
        {"modifiers": "80"},
        {"rate_type": "per_diem", "amount_unit": "USD_per_day", "amount_usd": None},
        {"rate_type": "percentage", "amount_unit": "percent", "amount": 55.0, "amount_usd": None},
        {"pos_setting": "non_facility"},  # 44320 has a non-facility NA indicator
        {"billing_class": "unknown"},
        {"pos_setting": "both"},  # payable only in the facility setting: compared there
    )
    compared = rates.compare_to_medicare(table, 2025)
    notes = compared["comparison_note"].tolist()
    assert notes[0].startswith("institutional")
    assert notes[1].startswith("modifier 80")
    assert notes[2] == "per diem rate: not a per-service dollar amount"
    assert notes[3] == "percentage rate: not a per-service dollar amount"
    assert notes[4] == "Medicare does not pay 44320 in the non-facility setting"
    assert notes[5].startswith("billing class unknown")
    assert pd.isna(notes[6]) and compared["medicare_setting"].iloc[6] == "facility"
    assert compared["pct_of_medicare"].iloc[:6].isna().all()
    assert compared["pct_of_medicare"].iloc[6] == round(1000 / NATIONAL * 100, 1)


def test_provider_directory_fills_geography_by_npi_then_tin(make_rates, tmp_path):
    directory = tmp_path / "dir.csv"
    directory.write_text(
        "npi,tin,provider_name,state,medicare_locality\n"
        "1234567893,11-1111111,A,TX,04412-18\n9999999999,22-2222222,B,NY,13202-01\n"
    )
    table = make_rates({"provider_npis": "1234567893|1111111112"}, {"provider_tin": "22-2222222"}, {})
    placed = rates.attach_geography(table, rates.load_provider_directory(directory))
    assert placed["state"].tolist()[:2] == ["TX", "NY"] and pd.isna(placed["state"].iloc[2])
    assert placed["medicare_locality"].tolist()[:2] == ["04412-18", "13202-01"]


def test_bad_provider_directory_and_missing_source(tmp_path):
    bad = tmp_path / "dir.csv"
    bad.write_text("npi,name\n1,x\n")
    with pytest.raises(ValueError, match="lacks column"):
        rates.load_provider_directory(bad)
    with pytest.raises(FileNotFoundError):
        rates.resolve_source(tmp_path / "nope.json")


def test_load_cms_examples_through_one_entry_point(shared_reference):
    files = [
        shared_reference / "tic" / "v2" / "in-network-rates-fee-for-service-single-plan-sample.json",
        shared_reference / "hpt" / "v3.0.0" / "V3.0.0_Tall_CSV_Format_Example.csv",
    ]
    result = rates.load_rates(files, codes=["99283", "27447"])
    assert set(result.rates["source_type"]) == {"tic", "hospital"} and not result.rejected
    assert set(result.rates["billing_code"]) <= {"99283", "27447"}
    for account in result.accounts:
        account.check()


def test_folder_reads_rate_files_and_lists_rejected_ones(shared_reference):
    result = rates.load_rates([shared_reference / "tic" / "v2", shared_reference / "hpt" / "v3.0.0"])
    rejected = {r.source_file.rsplit("/", 1)[-1]: r.reason for r in result.rejected}
    assert "not an in-network rate file" in rejected["allowed-amounts-single-plan-sample.json"]
    assert "not an in-network rate file" in rejected["table-of-contents-sample.json"]
    # the blank CMS templates still hold placeholders
    assert "code|1" in rejected["V3.0.0_Tall_CSV_Format_Template.csv"]
    assert "v3_json_format_example.json" not in rejected
    assert len(result.accounts) == 6 + 3  # six TiC in-network examples, two hospital CSV examples, one JSON
    with pytest.raises(ValueError, match="V3.0.0_Wide_CSV_Format_Template.csv"):
        rates.load_rates([shared_reference / "hpt" / "v3.0.0"], strict=True)


def test_sample_files_named_by_path_are_still_labelled_synthetic(shared_reference):
    from benchmark import config
    from benchmark.reporting.report import CodeReport, ReportParams

    by_path = rates.resolve_source([config.SAMPLE_TIC_DIR])
    assert by_path.is_synthetic and by_path.label == config.SYNTHETIC_LABEL
    loaded = rates.load_rates([config.SAMPLE_TIC_DIR], codes=["44320"])
    assert loaded.rates["is_synthetic"].all()
    mixed = rates.resolve_source([config.SAMPLE_TIC_DIR, shared_reference / "tic" / "v2"])
    assert mixed.is_synthetic and mixed.label == f"user-supplied files and {config.SYNTHETIC_LABEL}"
    flags = rates.load_rates([config.SAMPLE_TIC_DIR, shared_reference / "tic" / "v2"]).rates
    assert flags.groupby("source_file")["is_synthetic"].all().sum() == 10  # the 10 sample files, not the CMS ones
    assert not flags.loc[flags["source_file"].str.startswith("in-network"), "is_synthetic"].any()
    report = CodeReport.build(ReportParams(data_source=str(config.SAMPLE_TIC_DIR)))
    assert report.synthetic and config.SYNTHETIC_LABEL in report.section_html("summary")
