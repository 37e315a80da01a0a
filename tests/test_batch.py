"""The batch runner: YAML validated before anything runs, grid expansion, a batch with one failing parameter set,
the skip-if-unchanged rule, and retries when the kernel does not start."""

import hashlib
import itertools
import json
import shutil
import sys
import textwrap

import pytest

from benchmark import cli, config
from benchmark.reporting import batch, batch_worker, exports, provenance
from benchmark.reporting.report import ReportParams
from benchmark.reporting.runner import KernelStartError, ReportRunError, report_slug, run_report

HOUSTON = "284160435_sample-general-hospital-of-houston-synthetic_standardcharges.csv"


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------------------------------- validation
def test_codes_stay_strings_and_values_are_typed_by_the_parameter_fields(tmp_path):
    spec = _write(
        tmp_path / "b.yaml",
        """
        reports:
          - code: 00100        # unquoted: YAML 1.1 would read the octal number 64
          - {code: "44320", year: 2024, payers: [Aetna, BCBS], geography: TX}
    """,
    )
    loaded = batch.load_batch(spec)
    assert loaded.reports == (
        ReportParams(code="00100"),
        ReportParams(code="44320", year=2024, payers=("Aetna", "BCBS"), geography="TX"),
    )
    assert isinstance(loaded.reports[1].year, int)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", ("html", "pdf", "pptx", "xlsx", "csv")),  # no formats key: every format
        ("formats: xlsx, html", ("html", "xlsx")),
        ("formats: [pptx]", ("html", "pptx")),
        ("formats: [CSV, pdf]", ("html", "pdf", "csv")),
    ],
)
def test_the_batch_file_names_the_files_every_report_writes(line, expected, tmp_path):
    spec = _write(tmp_path / "b.yaml", f'{line}\nreports:\n  - code: "44320"\n')
    assert batch.load_batch(spec).formats == expected


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("formats: html, docx", "'docx'"),
        ("formats: []", "got none"),
        ("formats: {pdf: yes}", "expected a list such as [html, xlsx]"),
    ],
)
def test_a_bad_formats_key_is_a_batch_file_error_naming_the_choices(line, named, tmp_path):
    spec = _write(tmp_path / "b.yaml", f'{line}\nreports:\n  - code: "44320"\n')
    with pytest.raises(batch.BatchSpecError) as error:
        batch.load_batch(spec)
    assert f"{spec}: formats: expected" in str(error.value) and named in str(error.value)
    assert "html, pdf, pptx, xlsx, csv" in str(error.value) or "list such as" in str(error.value)


def test_grid_expands_to_every_combination_with_defaults(tmp_path):
    spec = _write(
        tmp_path / "b.yaml",
        """
        title: Grid
        defaults: {product_lines: [commercial, medicare_advantage]}
        reports:
          - code: "44320"
        grid:
          codes: ["44310", "44312"]
          years: [2024, 2025]
          geographies: [all, TX]
          payer_sets: [[], [Aetna, BCBS]]
    """,
    )
    loaded = batch.load_batch(spec)
    assert loaded.title == "Grid" and len(loaded.reports) == 1 + 2 * 2 * 2 * 2
    expected = [
        ReportParams(code=c, year=y, geography=g, payers=p, product_lines=("commercial", "medicare_advantage"))
        for c, y, g, p in itertools.product(["44310", "44312"], [2024, 2025], ["all", "TX"], [(), ("Aetna", "BCBS")])
    ]
    assert list(loaded.reports[1:]) == expected
    assert loaded.reports[0].product_lines == ("commercial", "medicare_advantage")


def test_every_problem_is_reported_with_its_location_before_anything_runs(tmp_path):
    spec = _write(
        tmp_path / "b.yaml",
        """
        colour: blue
        reports:
          - code: 44320
            year: twenty
          - code: "4432"
          - code: "44320"
            payers: Aetna
            output_dir: /etc
          - code: "44320"
            bogus: 1
          - year: 2025
        grid:
          codes: ["44320"]
          states: [TX]
    """,
    )
    with pytest.raises(batch.BatchSpecError) as caught:
        batch.load_batch(spec)
    message = str(caught.value)
    for expected in (
        f"{spec}: unknown key 'colour'",
        "reports[0]: year: expected a whole number, got 'twenty'",
        "reports[1]: code must be a 5-character CPT/HCPCS string or an MS-DRG (a 5-character CPT/HCPCS code such as "
        "44320, or an MS-DRG written MS-DRG-470), got '4432'",
        "reports[2]: payers: expected a list of names",
        "reports[2]: unknown parameter 'output_dir'",
        "reports[3]: unknown parameter 'bogus'",
        "reports[4]: code: missing",
        "grid: unknown key 'states'",
    ):
        assert expected in message, expected
    assert "reports[0]: code" not in message  # an unquoted 44320 reads as the string "44320"


def test_two_sets_writing_the_same_folder_are_an_error(tmp_path):
    # year 2026 is the default payment year: the second report is the same as the first
    spec = _write(
        tmp_path / "b.yaml",
        """
        reports:
          - code: "44320"
          - {code: "44320", year: 2026}
    """,
    )
    with pytest.raises(
        batch.BatchSpecError,
        match=r"reports\[1\]: same parameters as reports\[0\] \(both would write "
        r"44320/\)",
    ):
        batch.load_batch(spec)


def test_relative_data_sources_are_read_from_the_batch_files_folder(tmp_path):
    (tmp_path / "sub" / "data").mkdir(parents=True)
    (tmp_path / "sub" / "data" / "rates.json").write_text("{}", encoding="utf-8")  # sources are checked at load
    spec = _write(
        tmp_path / "sub" / "b.yaml",
        """
        reports: [{code: "44320", data_source: data}, {code: "44320"}]
    """,
    )
    loaded = batch.load_batch(spec)
    assert loaded.reports[0].data_source == str((tmp_path / "sub" / "data").resolve())
    assert loaded.reports[1].data_source == "sample"
    slug = report_slug(loaded.reports[0])
    assert slug.startswith("44320__data_source-data-") and "/" not in slug


def test_cli_exits_2_on_an_invalid_batch_and_writes_nothing(tmp_path, capsys):
    spec = _write(tmp_path / "b.yaml", 'reports:\n  - {code: "44320", year: 1999}\n')
    assert cli.main(["batch", str(spec), "--out", str(tmp_path / "out")]) == batch.EXIT_INVALID
    assert "year must be one of" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------------- skip rule
def _written_report(folder, inputs):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text("<p>report</p>")
    (folder / "run.json").write_text(json.dumps({"fingerprint": inputs.fingerprint, "outputs": ["report.html"]}))


def test_a_report_is_up_to_date_only_while_parameters_inputs_and_code_are_unchanged(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(config.SAMPLE_HOSPITAL_DIR / HOUSTON, data / HOUSTON)
    params = ReportParams(data_source=str(data))
    inputs = provenance.run_inputs(params)
    folder = tmp_path / "out" / report_slug(params)
    _written_report(folder, inputs)
    assert (
        inputs.input_checksums[str((data / HOUSTON).resolve())]
        == hashlib.sha256((data / HOUSTON).read_bytes()).hexdigest()
    )
    assert "data/reference/medicare/PPRRVU2025_Oct_nodesc.csv" in inputs.input_checksums

    assert batch.is_up_to_date(folder, provenance.run_inputs(params))
    assert not batch.is_up_to_date(folder, provenance.run_inputs(ReportParams(data_source=str(data), year=2024)))
    assert not batch.is_up_to_date(folder, provenance.run_inputs(params, code="another code version"))
    (data / HOUSTON).write_text((data / HOUSTON).read_text().replace("Houston", "Houston (edited)", 1))
    assert not batch.is_up_to_date(folder, provenance.run_inputs(params))
    _written_report(folder, provenance.run_inputs(params))
    assert batch.is_up_to_date(folder, provenance.run_inputs(params))
    (folder / "report.html").unlink()
    assert not batch.is_up_to_date(folder, provenance.run_inputs(params))  # an output is missing


# --------------------------------------------------------------------------------------------------- retries
def test_kernel_start_failures_are_retried_and_other_failures_are_not():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise KernelStartError("kernel did not start")
        return "done"

    assert batch_worker.run_with_retries(flaky, attempts=3, delay=0) == ("done", 3)

    calls.clear()

    def never_starts():
        calls.append(1)
        raise KernelStartError("kernel did not start")

    with pytest.raises(KernelStartError) as caught:
        batch_worker.run_with_retries(never_starts, attempts=3, delay=0)
    assert len(calls) == 3 and caught.value.attempts == 3

    calls.clear()

    def notebook_fails():
        calls.append(1)
        raise ReportRunError("cell 3 raised ValueError", ename="ValueError")

    with pytest.raises(ReportRunError):
        batch_worker.run_with_retries(notebook_fails, attempts=3, delay=0)
    assert len(calls) == 1


def test_a_kernel_that_dies_at_start_is_a_kernel_start_error(tmp_path, monkeypatch):
    spec = tmp_path / "jupyter" / "kernels" / "dies-at-start"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"],
                "display_name": "dies at start",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    target = tmp_path / "out" / "44320"
    with pytest.raises(KernelStartError, match="did not start"):  # the HTML only: no Chromium started for a PDF
        run_report(ReportParams(), target, kernel_name="dies-at-start", formats=("html",))
    assert list((tmp_path / "out").iterdir()) == []  # no staging folder, no failed notebook: no cell ran


# --------------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """Three batch runs into one output folder: the batch file (every format, its ``formats:`` list); a batch file
    of its good report alone, unchanged, asking for the HTML only (``formats: html``; the full report is up to date
    for it: nothing runs, no worker starts); and the batch file again after the good report's input file changed
    (the HTML only: ``--formats html`` over the file's list), where the failed report, its inputs unchanged, runs
    again. Each run records the files the good report's folder holds."""
    root = tmp_path_factory.mktemp("batch")
    for folder in ("data", "data-bad"):  # the failing report reads its own copy: its inputs never change
        (root / folder).mkdir()
        shutil.copy(config.SAMPLE_HOSPITAL_DIR / HOUSTON, root / folder / HOUSTON)
    original_sha256 = hashlib.sha256((root / "data" / HOUSTON).read_bytes()).hexdigest()
    # sources are checked before anything runs (a missing one makes the batch invalid); this directory passes the
    # check (its header is right) and fails inside the notebook: a byte that is not UTF-8 far below the header
    header = config.SAMPLE_PROVIDER_DIRECTORY.read_bytes().split(b"\n", 1)[0]
    (root / "bad-providers.csv").write_bytes(header + b"\n" + b"1,2,x,1,TX,a,1,04412-18,y\n" * 5000 + b"\xff\n")
    spec = _write(
        root / "reports.yaml",
        """
        title: Test batch <b>
        formats: [html, pdf, pptx, xlsx, csv]
        reports:
          - code: "44320"
            data_source: data             # relative to this file
          - code: "44320"
            data_source: data-bad
            providers: bad-providers.csv  # fails inside the notebook: UnicodeDecodeError
    """,
    )
    alone = _write(root / "good-report.yaml", 'formats: html\nreports:\n  - {code: "44320", data_source: data}\n')
    out = root / "out"
    runs = []
    steps = (
        ("first", spec, ["--workers", "2"]),  # the two reports side by side
        ("unchanged", alone, []),
        # one worker: one process and one kernel for both reports, not one of each per report (what the tests read
        # of this run, its statuses, fingerprints, checksums and the report folder, does not depend on it)
        ("input changed", spec, ["--workers", "1", "--formats", "html"]),
    )
    for step, batch_file, options in steps:
        if step == "input changed":
            csv = root / "data" / HOUSTON
            csv.write_text(csv.read_text().replace("Houston", "Houston (edited)", 1))
        status = cli.main(["batch", str(batch_file), "--out", str(out), *options])
        manifest = json.loads((out / "manifest.json").read_text())
        ok_slug = manifest["reports"][0]["slug"]
        files = sorted(str(p.relative_to(out / ok_slug)) for p in (out / ok_slug).rglob("*") if p.is_file())
        runs.append(
            {
                "status": status,
                "manifest": manifest,
                "run_json": (out / ok_slug / "run.json").read_text(),
                "files": files,
            }
        )
    runs[0]["data_sha256"] = original_sha256
    return root, out, runs


@pytest.mark.slow
def test_first_run_writes_the_good_report_and_records_the_failure(three_runs):
    root, out, runs = three_runs
    first = runs[0]
    assert first["status"] == batch.EXIT_FAILED and first["manifest"]["exit_status"] == 1
    good, bad = first["manifest"]["reports"]
    assert (good["status"], bad["status"]) == ("ok", "failed")
    assert first["manifest"]["counts"] == {"ok": 1, "skipped": 0, "failed": 1}
    assert bad["error"]["name"] == "UnicodeDecodeError" and "utf-8" in bad["error"]["message"]
    assert (out / bad["error"]["failed_notebook"]).is_file() and not (out / bad["slug"]).exists()
    assert good["error"] is None and good["attempts"] == 1 and good["seconds"] > 0
    assert max(good["started"], bad["started"]) <= min(good["finished"], bad["finished"])  # ran side by side
    assert first["manifest"]["formats"] == ["html", "pdf", "pptx", "xlsx", "csv"]  # all by default
    for name in (
        "report.html",
        "summary.json",
        "deck.pptx",
        "tables.xlsx",
        "tables/benchmark_by_payer.csv",
        "run.json",
        "code_report.ipynb",
        "charts/pct_of_medicare.png",
    ):
        assert name in first["files"], name
        assert f"{good['slug']}/{name}" in good["outputs"]
    assert ("report.pdf" in first["files"]) == (exports.find_chromium() is not None)
    assert json.loads(first["run_json"])["formats"] == ["html", "pdf", "pptx", "xlsx", "csv"]
    assert good["input_checksums"][str((root / "data" / HOUSTON).resolve())] == first["data_sha256"]
    assert good["parameters"] == {
        "code": "44320",
        "year": 2026,  # the default payment year
        "payers": [],
        "geography": "all",
        "data_source": str((root / "data").resolve()),
        "product_lines": ["commercial"],
        "ipps_table5": "",
        "providers": "",
        "report_date": "",  # the run date (UTC): summary.json names it
        "keep_implausible": False,
        "min_confidence": "",
    }
    versions = first["manifest"]["package_versions"]
    assert versions["payer-benchmark"] and versions["papermill"] and "chromium" in versions
    assert not [p for p in out.iterdir() if ".staging-" in p.name or ".old-" in p.name]


@pytest.mark.slow
def test_index_page_links_every_report_and_shows_the_overview_chart(three_runs):
    _, out, runs = three_runs
    page = (out / "index.html").read_text()
    for report in runs[-1]["manifest"]["reports"]:
        assert f'href="{report["slug"]}/report.html"' in page
    assert "<h1>Test batch &lt;b&gt;</h1>" in page  # escaped
    assert "UnicodeDecodeError" in page and "failed notebook" in page
    assert 'src="data:image/png;base64,' in page and "<script" not in page
    assert (out / "index_charts" / "overview.png").is_file() and (out / "index_charts" / "overview.svg").is_file()


@pytest.mark.slow
def test_an_unchanged_report_is_skipped_and_a_changed_input_reruns_it(three_runs):
    root, _, (first, unchanged, changed) = three_runs
    assert changed["status"] == batch.EXIT_FAILED  # the bad set fails every time
    good = [run["manifest"]["reports"][0] for run in (first, unchanged, changed)]
    assert unchanged["manifest"]["reports"] == [good[1]] and unchanged["status"] == batch.EXIT_OK
    if unchanged["manifest"]["code_version"] == first["manifest"]["code_version"]:
        assert [g["status"] for g in good] == ["ok", "skipped", "ok"]
        assert unchanged["manifest"]["counts"] == {"ok": 0, "skipped": 1, "failed": 0}
        assert unchanged["run_json"] == first["run_json"]  # not rewritten
        assert good[1]["fingerprint"] == good[0]["fingerprint"]
        assert good[1]["notes"][0].startswith("up to date: parameters, inputs and code version unchanged")
    else:  # someone edited the package while the test ran (a shared working tree): a new code version re-runs
        assert [g["status"] for g in good] == ["ok", "ok", "ok"]
        assert good[1]["fingerprint"] != good[0]["fingerprint"]
    assert good[2]["fingerprint"] not in (good[0]["fingerprint"], good[1]["fingerprint"])
    # failures are always run again, inputs unchanged or not
    bad = [run["manifest"]["reports"][1] for run in (first, changed)]
    assert [b["status"] for b in bad] == ["failed", "failed"] and bad[1]["started"] > bad[0]["finished"]
    if changed["manifest"]["code_version"] == first["manifest"]["code_version"]:
        assert bad[1]["fingerprint"] == bad[0]["fingerprint"]  # same parameters, inputs and code
    data_file = str((root / "data" / HOUSTON).resolve())
    assert good[2]["input_checksums"][data_file] == hashlib.sha256((root / "data" / HOUSTON).read_bytes()).hexdigest()
    assert good[2]["input_checksums"][data_file] != good[0]["input_checksums"][data_file]
    assert json.loads(changed["run_json"])["fingerprint"] == good[2]["fingerprint"]


@pytest.mark.slow
def test_a_run_asking_for_the_html_only_writes_no_export(three_runs):
    _, _, (first, unchanged, changed) = three_runs
    assert first["manifest"]["formats"] == ["html", "pdf", "pptx", "xlsx", "csv"]
    assert unchanged["manifest"]["formats"] == changed["manifest"]["formats"] == ["html"]
    good = changed["manifest"]["reports"][0]
    assert good["status"] == "ok" and json.loads(changed["run_json"])["formats"] == ["html"]
    written = set(changed["files"])
    assert {"report.html", "summary.json", "run.json", "code_report.ipynb", "charts/pct_of_medicare.png"} <= written
    assert not [name for name in written if name in ("report.pdf", "deck.pptx", "tables.xlsx") or "tables/" in name]
    listed = [f"{good['slug']}/{name}" for name in changed["files"] if not name.startswith(".paybench-")]
    assert listed == good["outputs"]
    assert set(first["files"]) - written >= {"deck.pptx", "tables.xlsx", "tables/benchmark_by_payer.csv"}
