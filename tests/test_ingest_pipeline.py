"""The ingest pipeline: content-based routing, a Parquet store that round-trips, rejected files and exit status."""

import gzip
import json

import pandas as pd
import pytest

from benchmark import cli, config
from benchmark.ingest import routing as pipeline
from benchmark.store import pipeline as store_pipeline
from benchmark.store import rate_store as st


@pytest.mark.parametrize(
    "relative,kind",
    [
        ("tic/v2/in-network-rates-fee-for-service-single-plan-sample.json", pipeline.TIC_IN_NETWORK),
        ("tic/v1.6.2/in-network-rates-no-npi.json", pipeline.TIC_IN_NETWORK),
        ("tic/v2/table-of-contents-sample.json", pipeline.TIC_OTHER),
        ("tic/v2/allowed-amounts-single-plan-sample.json", pipeline.TIC_OTHER),
        ("tic/v1.6.2/provider-reference.json", pipeline.TIC_OTHER),
        ("hpt/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv", pipeline.HOSPITAL_CSV),
        ("hpt/v2.0.0/V2.0.0_Wide_CSV_Format_Example.csv", pipeline.HOSPITAL_CSV),
        ("hpt/v3.0.0/v3_json_format_example.json", pipeline.HOSPITAL_JSON),
        ("hpt/v2.0.0/V2.0.0_JSON_Format_Example.json", pipeline.HOSPITAL_JSON),
    ],
)
def test_detect_format_from_content(shared_reference, relative, kind):
    assert pipeline.detect_format(shared_reference / relative) == kind


def test_detect_format_ignores_names(tmp_path):
    misleading = tmp_path / "rates.csv"
    with gzip.open(misleading, "wt") as handle:
        json.dump({"reporting_entity_name": "X", "in_network": []}, handle)
    assert pipeline.detect_format(misleading) == pipeline.TIC_IN_NETWORK
    html = tmp_path / "file.json.gz"
    html.write_bytes(b"<html><body>403 Forbidden</body></html>")
    assert pipeline.detect_format(html) == pipeline.UNKNOWN


def test_ingest_writes_a_store_that_round_trips(tmp_path):
    sources = [config.SAMPLE_TIC_DIR, config.SAMPLE_HOSPITAL_DIR]
    run = store_pipeline.ingest(sources, ["44320"], tmp_path / "out", is_synthetic=True)
    assert run.ok and len(run.files) == 14 and run.count("loaded") == 14
    in_memory = store_pipeline.ingest(sources, ["44320"], None, is_synthetic=True)
    store = st.open_store(tmp_path / "out")
    back = store.read_rates()
    pd.testing.assert_frame_equal(back, in_memory.result.rates)
    assert back["billing_code"].eq("44320").all() and back["is_synthetic"].all()
    pd.testing.assert_frame_equal(store.accounts(), run.result.accounts_frame())
    accounts = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert (
        accounts["rows_seen"]
        == accounts[["rows_loaded", "rows_quarantined", "rows_filtered_out", "rows_deduplicated"]].sum(axis=1)
    ).all()
    assert accounts["rows_loaded"].sum() == len(back) and store.rejected() == []


def test_cli_ingest_exit_status_names_rejected_files(tmp_path, shared_reference, capsys):
    good = shared_reference / "tic" / "v2" / "in-network-rates-no-npi.json"
    bad = tmp_path / "expired.json.gz"
    bad.write_bytes(b"<html>Request has expired</html>")
    assert cli.main(["ingest", str(good), "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["ingest", str(good), str(bad), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "REJECTED" in err and "expired.json.gz" in err
    rejected = st.open_store(tmp_path / "b").rejected()
    assert [r.source_file for r in rejected] == [str(bad)]
    assert rejected[0].reason.startswith("rejected: ")
    rates_a, rates_b = st.open_store(tmp_path / "a").read_rates(), st.open_store(tmp_path / "b").read_rates()
    assert len(rates_b) == len(rates_a) > 0


def test_a_folder_with_other_files_lists_them_as_rejected(tmp_path):
    run = store_pipeline.ingest([config.SAMPLE_DIR], ["44320"], None)
    rejected = sorted(r.source_file.rsplit("/", 1)[-1] for r in run.rejected)
    assert rejected == ["MANIFEST.json", "provider_directory.csv"]  # README.md is not a data file: not read
    assert len(run.result.accounts) == 14
