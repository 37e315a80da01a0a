"""Issue 11: any source the way users give it, and every parameter checked before a kernel starts.

- each parameter error exits 2 within a second of CPU (no pandas import), names the valid choices, writes nothing;
- ``--version`` and help text for every argument of every subcommand;
- several sources, paths relative to the current folder, a folder holding a zip, a table of contents;
- ``--providers`` places TiC rates (golden: the sample directory's NPI 1544258845 is in NY, locality 13202-01);
- an up-to-date report is skipped unless forced; the cache gives back exactly what the files give.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from benchmark import cache, cli, config
from benchmark.analysis import rates
from benchmark.errors import ParameterError
from benchmark.reference import medicare
from benchmark.reporting import batch, exports, preflight, provenance, runner
from benchmark.reporting import params as params_module
from benchmark.reporting.kernel import SharedKernel
from benchmark.reporting.report import CodeReport, ReportParams

SAMPLE_TIC = sorted(config.SAMPLE_TIC_DIR.glob("*.json.gz"))
AETNA = next(p for p in SAMPLE_TIC if "aetna" in p.name)
PLACED_NPI = "1544258845"  # data/sample/provider_directory.csv: Lakeside Sample Surgical Group, NY, 13202-01


def _run_cli(args: list[str], cwd: Path, timeout: int = 120) -> tuple[int, str, float]:
    """Exit status, stderr and CPU seconds of ``paybench ARGS`` run in ``cwd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.returncode, done.stderr + done.stdout, cpu


BAD_PARAMETERS = {
    "malformed year": (["--year", "abc"], "2025"),
    "year without data": (["--year", "1999"], "2025"),
    "unknown state": (["--geography", "ZZ"], "TX"),
    "unknown locality": (["--geography", "01112-26"], "localities"),
    "geography neither state nor locality": (["--geography", "Texas"], "'TX'"),
    "unknown payer": (["--payers", "Aetna", "Humana"], "UnitedHealthcare"),
    "unknown product line": (["--product-lines", "gold"], "medicare_advantage"),
    "missing source": (["--source", "/nonexistent/tic"], "no such file or folder"),
    "missing relative source": (["--source", "data/sample/tic"], "no such file or folder"),
    "empty folder": (["--source", "empty"], "holds no data file"),
    "missing provider directory": (["--providers", "nope.csv"], "no such file"),
    "provider directory without its columns": (["--providers", "bad.csv"], "medicare_locality"),
}


@pytest.mark.parametrize("case", BAD_PARAMETERS)
def test_each_parameter_error_exits_2_fast_naming_the_choices_and_writes_nothing(case, tmp_path):
    args, named = BAD_PARAMETERS[case]
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.csv").write_text("npi,state\n1,TX\n", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    status, output, cpu = _run_cli(["report", "44320", "--out", "out", *args], tmp_path)
    assert status == 2, output
    assert named in output
    assert "Traceback" not in output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no folder, no .failed.ipynb
    assert cpu < 1.0, f"{cpu:.2f} s of CPU before the error"


BAD_CODES = {
    "bare 3-digit code": (["470"], "for an MS-DRG report write MS-DRG-470"),
    "revenue code": (["0360"], "or an MS-DRG written MS-DRG-470"),
    "MS-DRG with a PFS year": (["MS-DRG-470", "--year", "2025"], "year must be 2026"),
    "missing IPPS Table 5": (["MS-DRG-470", "--ipps-table5", "t5.txt"], "ipps_table5 't5.txt': no such file"),
    "IPPS Table 5 with a CPT code": (
        ["44320", "--ipps-table5", str(Path(__file__).parent / "fixtures" / "ipps" / "table5_fy2026_layout.txt")],
        "ipps_table5 is used only by an MS-DRG report (e.g. MS-DRG-470)",
    ),
}


@pytest.mark.parametrize("case", BAD_CODES)
def test_a_code_of_the_wrong_form_exits_2_fast_with_a_working_example(case, tmp_path):
    args, named = BAD_CODES[case]
    status, output, cpu = _run_cli(["report", *args, "--out", "out"], tmp_path)
    assert status == 2 and named in output and "Traceback" not in output, output
    assert not (tmp_path / "out").exists()
    assert cpu < 1.0, f"{cpu:.2f} s of CPU before the error"


def test_a_locality_error_suggests_ids_that_work():
    problems = preflight.geography_problems("01112-26")
    examples = [word for word in problems[0].replace("(", " ").split() if len(word) == 8 and word[5] == "-"]
    assert len(examples) == 3
    assert all(preflight.geography_problems(example) == [] for example in examples)


def test_the_light_gpci_reading_agrees_with_the_medicare_parser():
    states, localities = preflight.gpci_places()
    gpci = medicare.load_gpci()
    assert set(localities) == set(gpci["locality_id"])
    assert states == sorted(set(gpci["state"]))


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"paybench {version('payer-benchmark')}"


def test_every_argument_of_every_subcommand_has_help():
    def walk(parser: argparse.ArgumentParser, where: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{where} {name}")
            elif not isinstance(action, argparse._HelpAction):
                yield where, action

    missing = [f"{where}: {action.dest}" for where, action in walk(cli._parser(), "paybench") if not action.help]
    assert missing == []


# ------------------------------------------------------------------------------------------------ sources
def test_relative_sources_and_provider_directory_are_resolved_against_the_current_folder(monkeypatch):
    monkeypatch.chdir(config.PROJECT_ROOT)
    params = params_module.check_report(
        ReportParams(data_source="data/sample/tic", providers="data/sample/provider_directory.csv")
    )
    assert params.data_source == str(config.SAMPLE_TIC_DIR)
    assert params.providers == str(config.SAMPLE_PROVIDER_DIRECTORY)


def test_several_sources_are_read_together(tmp_path):
    source = rates.resolve_source([str(AETNA), str(config.SAMPLE_HOSPITAL_DIR)])
    assert source.paths[0] == AETNA and len(source.paths) == 1 + len(list(config.SAMPLE_HOSPITAL_DIR.glob("*.csv")))
    loaded = rates.load_rates([str(AETNA), str(config.SAMPLE_HOSPITAL_DIR)], codes=["44320"])
    assert set(loaded.rates["source_type"]) == {"tic", "hospital"}
    assert {Path(a.source_file).name for a in loaded.accounts} >= {AETNA.name}


def test_sample_among_other_sources_keeps_its_files_and_directory():
    source = rates.resolve_source(["sample", str(AETNA)])
    assert source.is_synthetic and source.provider_directory == config.SAMPLE_PROVIDER_DIRECTORY
    assert source.paths.count(AETNA) == 1  # named twice (in the sample and by path): read once


def test_a_list_with_one_source_is_the_same_report_as_the_source():
    assert ReportParams(data_source=("sample",)) == ReportParams()
    assert runner.report_slug(ReportParams(data_source=[str(AETNA)])) == runner.report_slug(
        ReportParams(data_source=str(AETNA))
    )


def test_providers_place_tic_rates():
    unplaced = rates.load_rates([str(AETNA)], codes=["44320"]).rates
    placed = rates.load_rates([str(AETNA)], codes=["44320"], provider_directory=config.SAMPLE_PROVIDER_DIRECTORY)
    assert unplaced["state"].isna().all()
    rows = placed.rates[placed.rates["provider_npis"].str.split("|").str[0].eq(PLACED_NPI)]
    assert len(rows) and set(rows["state"]) == {"NY"} and set(rows["medicare_locality"]) == {"13202-01"}
    compared = rates.compare_to_medicare(unplaced, 2025)
    assert set(compared["medicare_match"]) <= {rates.MATCH_NATIONAL, rates.NOT_COMPARED}


def test_a_folder_holding_a_zip_and_a_table_of_contents_are_fingerprinted(tmp_path):
    folder = tmp_path / "mrf"
    folder.mkdir()
    with zipfile.ZipFile(folder / "rates.zip", "w") as archive:
        archive.write(AETNA, AETNA.name)
    checksums = provenance.input_checksums(ReportParams(data_source=str(folder)))
    assert checksums[str((folder / "rates.zip").resolve())] == cache.file_digest(folder / "rates.zip")

    toc = tmp_path / "index.json"
    toc.write_text(
        json.dumps(
            {
                "reporting_entity_name": "Acme",
                "reporting_entity_type": "health insurance issuer",
                "reporting_structure": [
                    {
                        "reporting_plans": [{"plan_name": "Gold", "plan_id_type": "EIN", "plan_id": "1"}],
                        "in_network_files": [{"description": "x", "location": "https://example.org/in.json.gz"}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    inputs = provenance.run_inputs(ReportParams(data_source=str(toc)))
    assert inputs.input_checksums["https://example.org/in.json.gz"] == provenance.REMOTE
    assert not runner.is_up_to_date(tmp_path, inputs)  # a URL's bytes are unknown: never skipped


def test_a_rate_store_is_read_alone(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / config.STORE_MANIFEST).write_bytes(b"")
    with pytest.raises(ParameterError, match="on its own"):
        params_module.check_report(ReportParams(data_source=(str(store), str(AETNA))))


def test_batch_files_take_a_list_of_sources_and_a_provider_directory(tmp_path):
    (tmp_path / "tic").mkdir()
    (tmp_path / "tic" / AETNA.name).write_bytes(AETNA.read_bytes())
    (tmp_path / "dir.csv").write_bytes(config.SAMPLE_PROVIDER_DIRECTORY.read_bytes())
    document = {"reports": [{"code": "44320", "data_source": ["tic", "sample"], "providers": "dir.csv"}]}
    parsed = batch.parse_batch(document, source=tmp_path / "b.yaml")
    assert parsed.reports[0].data_source == (str(tmp_path / "tic"), "sample")
    assert parsed.reports[0].providers == str(tmp_path / "dir.csv")
    with pytest.raises(batch.BatchSpecError, match="no such file"):
        batch.parse_batch({"reports": [{"code": "44320", "data_source": "missing"}]}, source=tmp_path / "b.yaml")


# ------------------------------------------------------------------------------------------------ skip rule
def test_an_up_to_date_report_is_skipped_unless_forced(tmp_path, monkeypatch):
    params = ReportParams(data_source=str(AETNA))
    inputs = provenance.run_inputs(params)
    folder = tmp_path / "44320"
    folder.mkdir()
    (folder / "report.html").write_text("<html></html>", encoding="utf-8")
    record = {**inputs.as_record(), "outputs": ["report.html"], "notes": []}
    (folder / runner.RUN_RECORD).write_text(json.dumps(record), encoding="utf-8")

    outputs = runner.run_report(params, folder)
    assert outputs.skipped and outputs.html == folder / "report.html"

    # a run starts with the report's kernel: stopped there (no kernel, no Chromium started for nothing)
    monkeypatch.setattr(SharedKernel, "start", _kernel_started)
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    with pytest.raises(RuntimeError, match="kernel started"):
        runner.run_report(params, folder, force=True)
    assert (folder / "report.html").is_file()  # a failed forced run leaves the report as it was


def _kernel_started(*args, **kwargs):
    raise RuntimeError("kernel started")


def test_a_report_dated_by_its_run_is_not_up_to_date_the_next_day(tmp_path, monkeypatch):
    # expired-contract flags depend on the report date: without report_date it is the run date (UTC), so a report
    # written yesterday is run again today; one with a report_date stays up to date whatever the run date. A run is
    # stopped where it starts the report's kernel (SharedKernel.start)
    monkeypatch.setattr(SharedKernel, "start", _kernel_started)
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)

    def written(params, run_date):
        folder = tmp_path / f"{params.report_date or 'run-date'}-{run_date}"
        folder.mkdir()
        (folder / "report.html").write_text("<html></html>", encoding="utf-8")
        inputs = provenance.run_inputs(params, run_date=run_date)
        record = {**inputs.as_record(), "outputs": ["report.html"], "notes": []}
        (folder / runner.RUN_RECORD).write_text(json.dumps(record), encoding="utf-8")
        return folder, inputs

    undated = ReportParams(data_source=str(AETNA))
    folder, inputs = written(undated, yesterday)
    assert inputs.report_date == yesterday.isoformat()
    assert provenance.run_inputs(undated, run_date=yesterday).fingerprint == inputs.fingerprint
    assert not runner.is_up_to_date(folder, provenance.run_inputs(undated, run_date=today))
    with pytest.raises(RuntimeError, match="kernel started"):  # the runner's own date (today): run again
        runner.run_report(undated, folder)
    folder, _ = written(undated, today)
    assert runner.run_report(undated, folder).skipped  # written today: up to date
    dated = ReportParams(data_source=str(AETNA), report_date="2026-06-30")
    folder, inputs = written(dated, yesterday)
    assert inputs.report_date == "2026-06-30"
    assert runner.is_up_to_date(folder, provenance.run_inputs(dated, run_date=today))
    assert runner.run_report(dated, folder).skipped


# ------------------------------------------------------------------------------------------------ cache
def test_the_cache_gives_back_what_the_files_give(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYBENCH_CACHE", "off")
    fresh = rates.load_rates([str(AETNA)], codes=["44320"], provider_directory=config.SAMPLE_PROVIDER_DIRECTORY)
    monkeypatch.setenv("PAYBENCH_CACHE", str(tmp_path / "cache"))
    first = rates.load_rates([str(AETNA)], codes=["44320"], provider_directory=config.SAMPLE_PROVIDER_DIRECTORY)
    again = rates.load_rates([str(AETNA)], codes=["44320"], provider_directory=config.SAMPLE_PROVIDER_DIRECTORY)
    assert list((tmp_path / "cache" / rates.RATES_CACHE).iterdir())  # written once, then read
    for result in (first, again):
        pd.testing.assert_frame_equal(result.rates, fresh.rates)
        pd.testing.assert_frame_equal(result.quarantine, fresh.quarantine)
        assert result.accounts == fresh.accounts and result.rejected == fresh.rejected


def test_a_changed_file_is_never_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYBENCH_CACHE", str(tmp_path / "cache"))
    copy = tmp_path / AETNA.name
    copy.write_bytes(AETNA.read_bytes())
    first = rates.load_rates([str(copy)], codes=["44320"])
    document = json.loads(gzip.decompress(copy.read_bytes()))
    item = next(i for i in document["in_network"] if i["billing_code"] == "44320")
    item["negotiated_rates"][0]["negotiated_prices"][0]["negotiated_rate"] = 4321.0
    copy.write_bytes(gzip.compress(json.dumps(document).encode()))
    second = rates.load_rates([str(copy)], codes=["44320"])
    assert 4321.0 in set(second.rates["amount"]) and 4321.0 not in set(first.rates["amount"])


@pytest.mark.slow
def test_a_report_from_the_cache_says_what_a_report_from_the_files_says(tmp_path, monkeypatch):
    # two builds on an empty cache folder: the first reads every file (every lookup misses; it writes the entries),
    # the second reads the rates from those entries. (A build with the cache off reads the same files the same way
    # and writes nothing: a third build with it would only repeat the first, ~1/3 of this test's time.)
    monkeypatch.setenv("PAYBENCH_CACHE", str(tmp_path / "cache"))
    looked_up: list[tuple[str, bool]] = []
    load = cache.load

    def spied_load(namespace, key):
        hit = load(namespace, key)
        looked_up.append((namespace, hit is not None))
        return hit

    monkeypatch.setattr(cache, "load", spied_load)
    fresh = CodeReport.build(ReportParams()).summary()
    assert (rates.RATES_CACHE, False) in looked_up and not [hit for _, hit in looked_up if hit]  # from the files
    looked_up.clear()
    cached = CodeReport.build(ReportParams()).summary()
    assert (rates.RATES_CACHE, True) in looked_up  # the rates read back from the cache
    for summary in (fresh, cached):  # the build time differs between two builds; everything else must not
        summary["report"].pop("generated_at")
    assert cached == fresh


# ------------------------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_a_tic_only_report_from_a_relative_path(tmp_path, monkeypatch, capsys):
    # in this process, from the project folder (as a user types it there); the HTML only: this test does not look at
    # the exports (test_pdf.py, test_exports.py and test_deck.py do), and it checks --formats html end to end
    monkeypatch.chdir(ROOT)
    out = tmp_path / "tic-only"
    argv = ["report", "44320", "--source", "data/sample/tic", "--out", str(out), "--formats", "html"]
    status = cli.main(argv)
    assert status == 0, capsys.readouterr()
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        ".paybench-report",
        "charts",
        "code_report.ipynb",
        "report.html",
        "run.json",
        "slides",
        "summary.json",
    ]
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["formats"] == ["html"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    national = summary["counts"]["rates_in_benchmark"]
    assert national > 0 and summary["payers_by_state"] == {}
    assert f"{national} rates have no known locality and are compared with the national amount" in summary["data_gaps"]
    html = (out / "report.html").read_text(encoding="utf-8")
    by_geography = html[html.index("By geography") :][:400]
    assert config.NOT_AVAILABLE in by_geography
    capsys.readouterr()
    status = cli.main(argv)
    printed = capsys.readouterr()
    output = printed.err + printed.out
    assert status == 0 and "up to date" in output, output


ROOT = config.PROJECT_ROOT


def test_ingest_saves_the_provider_directory_and_the_store_places_rates_with_it(tmp_path, capsys):
    store = tmp_path / "store"
    assert (
        cli.main(["ingest", str(AETNA), "--codes", "44320", "--out", str(store), "--providers", str(PROVIDERS_CSV)])
        == 0
    )
    assert (store / rates.STORE_PROVIDERS).read_bytes() == PROVIDERS_CSV.read_bytes()
    placed = rates.load_rates(str(store), codes=["44320"]).rates
    rows = placed[placed["provider_npis"].str.split("|").str[0].eq(PLACED_NPI)]
    assert len(rows) and set(rows["state"]) == {"NY"}


def test_ingest_refuses_a_provider_directory_without_its_columns_before_reading(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("npi,state\n1,TX\n", encoding="utf-8")
    assert cli.main(["ingest", str(AETNA), "--out", str(tmp_path / "store"), "--providers", str(bad)]) == 2
    assert not (tmp_path / "store").exists()
    assert "medicare_locality" in capsys.readouterr().err


PROVIDERS_CSV = config.SAMPLE_PROVIDER_DIRECTORY
