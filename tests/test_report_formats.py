"""``--formats``: which exports a report writes (benchmark.reporting.formats), checked before anything runs, recorded
in run.json, and part of the rule that skips an up-to-date report.

End to end: tests/test_batch.py (a batch run with ``--formats html``, and one whose full reports are up to date for
``--formats html``) and tests/test_report_sources.py (a TiC-only report with ``--formats html``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark import cli, config
from benchmark.errors import ParameterError
from benchmark.reporting import exports, formats, provenance, runner
from benchmark.reporting.kernel import SharedKernel
from benchmark.reporting.report import ReportParams

AETNA = next(p for p in sorted(config.SAMPLE_TIC_DIR.glob("*.json.gz")) if "aetna" in p.name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("html,pdf,pptx,xlsx,csv", ("html", "pdf", "pptx", "xlsx", "csv")),
        ("xlsx,html", ("html", "xlsx")),  # listed in one order whatever the order typed
        (" CSV , pptx ", ("html", "pptx", "csv")),
        ("pdf", ("html", "pdf")),  # html is always written: the PDF is printed from it
        ("html,html", ("html",)),
    ],
)
def test_formats_as_typed(text, expected):
    assert formats.parse(text) == expected


@pytest.mark.parametrize(("text", "named"), [("docx", "'docx'"), ("html,PNG", "'png'"), ("", "none"), (",", "none")])
def test_an_unknown_or_empty_list_is_a_parameter_error_naming_the_choices(text, named):
    with pytest.raises(ParameterError) as raised:
        formats.parse(text)
    assert (
        str(raised.value)
        == f"formats: expected some of html, pdf, pptx, xlsx, csv (html is always written), got {named}"
    )


@pytest.mark.parametrize("command", ["report 44320", "batch batches/colostomy_family.yaml"])
def test_the_cli_refuses_an_unknown_format_before_anything_runs(command, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([*command.split(), "--out", str(out), "--formats", "html,docx"]) == 2
    error = capsys.readouterr().err
    assert "argument --formats: formats: expected some of html, pdf, pptx, xlsx, csv" in error and "'docx'" in error
    assert not out.exists()


@pytest.mark.parametrize(("command", "default"), [("report", "all"), ("batch", "the batch file's formats:, else all")])
def test_report_and_batch_help_describe_formats(command, default, capsys):
    assert cli.main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"--formats LIST files to write, comma-separated among html,pdf,pptx,xlsx,csv (default: {default})" in text


# ------------------------------------------------------------------------------------------------ exports
def _report_folder(folder: Path) -> Path:
    """A report folder as the notebook leaves it, reduced to what the exports read: report.html, summary.json."""
    folder.mkdir()
    (folder / "report.html").write_text("<p>report</p>", encoding="utf-8")
    summary = {
        "code": "44320",
        "year": 2026,
        "data_label": "user-supplied files",
        "synthetic": False,
        "parameters": {"product_lines": ["commercial"]},
        "payers": {"Aetna": {"facility": {"n": 3, "median": 1525.0, "small_sample": True}}},
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        (("html",), set()),
        (("html", "xlsx"), {"tables.xlsx"}),
        (("html", "pptx", "csv"), {"deck.pptx", "tables/benchmark_by_payer.csv", "tables/about.csv"}),
    ],
)
def test_only_the_exports_asked_for_are_written_and_no_chromium_starts_without_pdf(
    asked, written, tmp_path, monkeypatch
):
    started = tmp_path / "chromium-started"
    fake = tmp_path / "fake-chromium"  # would leave a trace, and fail the export, if it were started
    fake.write_text(f"#!/bin/sh\ntouch {started}\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(exports.CHROMIUM_ENV, str(fake))
    folder = _report_folder(tmp_path / "report")
    made = exports.write_exports(folder, formats=asked)
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {"report.html", "summary.json"}
    assert written <= files  # the named ones; and nothing of an export not asked for:
    assert ("deck.pptx" in files) == ("pptx" in asked) and ("tables.xlsx" in files) == ("xlsx" in asked)
    assert any(f.startswith("tables/") for f in files) == ("csv" in asked)
    assert (made.deck is not None, made.xlsx is not None, bool(made.csv)) == (
        "pptx" in asked,
        "xlsx" in asked,
        "csv" in asked,
    )
    assert made.pdf is None and made.notes == () and not started.exists()


def test_a_pdf_asked_for_without_chromium_is_a_note_and_the_rest_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    folder = _report_folder(tmp_path / "report")
    made = exports.write_exports(folder, formats=("html", "pdf", "xlsx"))
    assert made.notes == (exports.NO_CHROMIUM_NOTE,) and made.pdf is None
    assert made.xlsx == folder / "tables.xlsx" and made.xlsx.is_file() and not (folder / "deck.pptx").exists()


# ------------------------------------------------------------------------------------------------ skip rule
def _written(folder: Path, inputs: provenance.RunInputs, written_formats: list[str] | None) -> Path:
    """A finished report in ``folder`` whose run.json records ``written_formats`` (None: no record, as before)."""
    folder.mkdir()
    (folder / "report.html").write_text("<html></html>", encoding="utf-8")
    record = {**inputs.as_record(), "outputs": ["report.html"], "notes": []}
    if written_formats is not None:
        record["formats"] = written_formats
    (folder / runner.RUN_RECORD).write_text(json.dumps(record), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("written", "asked", "up_to_date"),
    [
        (["html"], ("html",), True),
        (["html", "pdf", "pptx", "xlsx", "csv"], ("html",), True),  # fewer formats than written
        (["html", "xlsx"], ("html", "csv", "xlsx"), False),  # a format it lacks
        (["html"], ("html", "pdf", "pptx", "xlsx", "csv"), False),
        (None, ("html", "pdf", "pptx", "xlsx", "csv"), True),  # a run.json from before --formats: every format
    ],
)
def test_a_report_is_up_to_date_for_the_formats_it_was_written_with_or_fewer(written, asked, up_to_date, tmp_path):
    params = ReportParams(data_source=str(AETNA))
    inputs = provenance.run_inputs(params)
    folder = _written(tmp_path / "44320", inputs, written)
    assert runner.is_up_to_date(folder, inputs, asked) is up_to_date


def test_run_report_skips_by_the_formats_asked_for_and_records_them(tmp_path, monkeypatch):
    params = ReportParams(data_source=str(AETNA))
    folder = _written(tmp_path / "44320", provenance.run_inputs(params), ["html", "xlsx"])
    assert runner.run_report(params, folder, formats=("xlsx",)).skipped

    def kernel_started(*args, **kwargs):
        raise RuntimeError("kernel started")

    monkeypatch.setattr(SharedKernel, "start", kernel_started)
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    with pytest.raises(RuntimeError, match="kernel started"):  # a format the report lacks: it runs
        runner.run_report(params, folder, formats=("xlsx", "pptx"))
    with pytest.raises(ParameterError, match="got 'docx'"):
        runner.run_report(params, folder, formats=("docx",))
    assert json.loads((folder / runner.RUN_RECORD).read_text())["formats"] == ["html", "xlsx"]  # left as it was


@pytest.mark.parametrize(
    ("asked", "tables_line"),
    [("html,csv", "; tables/: 2 CSV files"), ("html,xlsx", ""), ("html", "")],
)
def test_the_cli_lists_tables_only_when_csv_was_asked_for(asked, tables_line, tmp_path, capsys):
    folder, chosen = tmp_path / "out", formats.parse(asked)
    csv = (folder / "tables" / "a.csv", folder / "tables" / "b.csv") if "csv" in chosen else ()
    xlsx = folder / "tables.xlsx" if "xlsx" in chosen else None
    outputs = runner.ReportOutputs(
        folder, folder / "n.ipynb", folder / "report.html", folder / "summary.json", (), xlsx=xlsx, csv=csv
    )
    cli._print_written(outputs, chosen)
    printed = capsys.readouterr().out.splitlines()
    assert f"  charts/: 0 files (PNG + SVG){tables_line}" in printed
    assert ("  tables.xlsx" in printed) == ("xlsx" in chosen) and "  report.html" in printed
