"""The outputs made from a finished report, for people who do not open HTML: PDF, deck, CSV and XLSX tables.

:func:`write_exports` runs on a report folder that already holds ``report.html``, ``summary.json`` and ``charts/`` (the
runner calls it on the staging folder, so these files appear atomically with the rest of the report):

- ``report.pdf``: ``report.html`` printed by headless Chromium (Debian's ``chromium`` package). When no Chromium is
  installed the PDF is skipped with a note that says so, and everything else is still written; when Chromium is
  there but fails, that is an error (:class:`ExportError`).
- ``deck.pptx``: see :mod:`benchmark.reporting.deck`.
- ``tables/*.csv`` and ``tables.xlsx``: every table of the report, built from ``summary.json`` (so they hold exactly
  the numbers the report shows). Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab
  or carriage return) are neutralized with a leading apostrophe (OWASP "CSV injection").

Only the exports asked for are written (:mod:`benchmark.reporting.formats`, default all).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark import codes, safe_text, temp_folders
from benchmark.errors import PaybenchError
from benchmark.reporting import about
from benchmark.reporting.deck import build_deck
from benchmark.reporting.formats import CSV, FORMATS, PDF, PPTX, XLSX
from benchmark.safe_text import FORMULA_PREFIXES, neutralized  # noqa: F401 (the exports' cell rules, one place)
from benchmark.safe_text import neutralize_cell as neutralize_formula  # noqa: F401

_log = logging.getLogger(__name__)

PDF_NAME = "report.pdf"
XLSX_NAME = "tables.xlsx"
CSV_DIR = "tables"
CHROMIUM_ENV = "PAYBENCH_CHROMIUM"  # path of the Chromium to use; set it empty to turn the PDF step off
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Headless, sandbox-less (CI and containers run as root), and nothing that talks to the network.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
NO_CHROMIUM_NOTE = (
    f"{PDF_NAME} not written: Chromium was not found (install Debian's `chromium` package, "
    f"`apt-get install chromium`, or set {CHROMIUM_ENV} to its path)"
)


class ExportError(PaybenchError, RuntimeError):
    """An export step failed (for example Chromium could not print the PDF)."""


@dataclass(frozen=True)
class ExportOutputs:
    pdf: Path | None  # None when not asked for, or when no Chromium is installed (see ``notes``)
    deck: Path | None  # None when not asked for (also xlsx; csv then empty)
    xlsx: Path | None
    csv: tuple[Path, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """Where a table lives in ``summary.json``: ``keys`` name its nested mapping levels (the leading columns)."""

    name: str  # CSV file and XLSX sheet name
    path: str  # dotted key path in summary.json
    keys: tuple[str, ...] = ()
    value_column: str | None = None  # column of scalar leaves (``{reason: rows}``) or of a list of scalars
    payer_data: bool = True  # holds payer rates (gets the data_label column)
    optional: bool = False  # written only when summary.json has it (an MS-DRG report's tables)


TABLES: tuple[TableSpec, ...] = (
    TableSpec("benchmark_by_payer", "payers", ("payer_family", "pos_setting")),
    TableSpec("benchmark_by_state", "payers_by_state", ("payer_family", "state", "pos_setting")),
    TableSpec("other_product_lines", "other_product_lines", ("product_line", "payer_family", "pos_setting")),
    TableSpec("other_rate_types", "other_rate_types"),
    TableSpec("modifiers", "modifiers", ("modifier",)),
    TableSpec("modifier_payments", "modifier_payments", ("modifier", "payer_key")),
    TableSpec("policy_matrix", "policy.matrix", ("payer_key", "policy_type")),
    TableSpec("policy_gaps", "policy.gaps", value_column="policy_gap", payer_data=False),
    TableSpec("medicare_by_year", "medicare.by_year", ("year",), payer_data=False),
    TableSpec("medicare_localities", "medicare.localities", ("locality_id",), payer_data=False),
    TableSpec("medicare_years", "medicare.years", ("year",), payer_data=False),
    TableSpec("institutional_vs_medicare", "institutional", ("payer_family", "basis")),
    TableSpec("drg_rates", "drg_rates", ("product_line", "payer_family"), optional=True),
    TableSpec("files", "files"),
    TableSpec("quarantine_by_reason", "quarantine_by_reason", ("reason_code",), value_column="rows"),
    TableSpec("data_gaps", "data_gaps", value_column="data_gap", payer_data=False),
)


def write_exports(
    report_dir: str | Path,
    *,
    formats: Collection[str] = FORMATS,
    pdf_printer: Callable[[Path, Path], Path] | None = None,
) -> ExportOutputs:
    """Write the exports among ``formats`` (:mod:`benchmark.reporting.formats`; default all): the tables (CSV,
    XLSX), ``deck.pptx`` and, when Chromium is installed, ``report.pdf``.

    ``pdf_printer(html, pdf)`` prints the PDF (default :func:`print_pdf`, a Chromium started for it; a batch worker
    passes :meth:`benchmark.reporting.pdf_printer.PdfPrinter.print_pdf`, one Chromium for all its reports).
    """
    folder = Path(report_dir)
    notes: list[str] = []
    # Chromium prints the PDF in its own processes while this one writes the tables and the deck (a thread only
    # waits for it): on two cores the PDF costs little wall time beyond the rest
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paybench-pdf") as printer:
        printing = None
        if PDF in formats:
            if find_chromium() is None:
                notes.append(NO_CHROMIUM_NOTE)
                _log.info("%s", NO_CHROMIUM_NOTE)
            else:
                printing = printer.submit(pdf_printer or print_pdf, folder / "report.html", folder / PDF_NAME)
        csv_paths: list[Path] = []
        xlsx = deck = None
        if CSV in formats or XLSX in formats:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            tables = summary_tables(summary)
            if CSV in formats:
                csv_paths = write_csv(tables, folder / CSV_DIR)
            if XLSX in formats:
                xlsx = write_xlsx(tables, folder / XLSX_NAME, summary)
        if PPTX in formats:
            deck = build_deck(folder)
        pdf = printing.result() if printing is not None else None
    return ExportOutputs(pdf, deck, xlsx, tuple(csv_paths), tuple(notes))


# --------------------------------------------------------------------------------------------------- tables
def summary_tables(summary: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of a report as a DataFrame, from its ``summary.json`` (first table ``about``: what and whence).

    Nested mappings become rows, their keys the leading columns; tables with payer data carry a ``data_label``
    column (the synthetic-data label for the sample), so a table copied out alone still says what it is.
    """
    tables = {"about": _about(summary)}
    for spec in TABLES:
        node: Any = summary
        for part in spec.path.split("."):
            node = node.get(part, None if spec.optional else {}) if isinstance(node, dict) else {}
        if node is None:
            continue
        table = _flatten(node, spec.keys, spec.value_column)
        if spec.payer_data:
            table["data_label"] = summary["data_label"]
        tables[spec.name] = table
    return tables


def write_csv(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """One UTF-8 CSV per table (with a byte-order mark, so spreadsheet programs read the text as UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables.items():
        path = folder / f"{name}.csv"
        safe_text.write_csv(table, path, encoding="utf-8-sig")
        paths.append(path)
    return paths


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path, summary: dict[str, Any]) -> Path:
    """One sheet per table; text is written as text (never as a formula or link), headers bold, top row frozen."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    workbook.set_properties(
        {
            "title": f"{codes.label(summary['code'])} payer benchmark tables ({summary['year']})",
            "comments": summary["data_label"],
        }
    )
    header = workbook.add_format({"bold": True, "bg_color": "#F2F5F9", "border": 1})
    for name, table in tables.items():
        sheet = workbook.add_worksheet(name[:31])
        clean = neutralized(table)
        for column, title in enumerate(clean.columns):
            sheet.write_string(0, column, title, header)
        for row, record in enumerate(clean.itertuples(index=False), start=1):
            for column, value in enumerate(record):
                _write_cell(sheet, row, column, value)
        sheet.freeze_panes(1, 0)
        sheet.autofit()
    workbook.close()
    return path


# --------------------------------------------------------------------------------------------------- PDF
def find_chromium() -> str | None:
    """The Chromium executable: ``$PAYBENCH_CHROMIUM`` when set (empty: none), else ``chromium`` on the PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured is not None:
        return configured if configured and shutil.which(configured) else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


PROFILE_KIND = "chromium"  # folders paybench-chromium-<pid>-<random> (benchmark.temp_folders)


def chromium_profile_folder() -> Path:
    """A new temporary folder for one Chromium's profile, named after this process, after removing the ones killed
    processes left (:func:`benchmark.temp_folders.remove_left`): its maker removes it when Chromium ends, but a
    process killed with SIGKILL cannot."""
    return temp_folders.new_folder(PROFILE_KIND)


def headless_chromium(args: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with :data:`CHROMIUM_FLAGS`, a fresh profile folder and ``args``; raise on failure."""
    chromium = find_chromium()
    if chromium is None:
        raise ExportError(NO_CHROMIUM_NOTE)
    profile = chromium_profile_folder()
    try:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise ExportError(f"Chromium did not finish within {timeout:g} s: {' '.join(args)}") from error
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0:
        raise ExportError(f"Chromium exited with status {done.returncode}: {stderr_tail(done.stderr)}")
    return done


def print_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (no header or footer lines)."""
    pdf_path.unlink(missing_ok=True)
    done = headless_chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", Path(html_path).resolve().as_uri()], timeout=timeout
    )
    if not pdf_path.is_file() or not pdf_path.read_bytes()[:5] == b"%PDF-":
        raise ExportError(f"Chromium did not write a PDF for {html_path}: {stderr_tail(done.stderr)}")
    return pdf_path


def chromium_version() -> str:
    """``Chromium 1xx...`` or ``not installed`` (recorded in the batch manifest)."""
    chromium = find_chromium()
    if chromium is None:
        return "not installed"
    try:
        done = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({type(error).__name__})"
    return done.stdout.strip() or "unknown"


# --------------------------------------------------------------------------------------------------- helpers
def _about(summary: dict[str, Any]) -> pd.DataFrame:
    rows: list[tuple[str, Any]] = [
        ("data_label", summary["data_label"]),
        ("code", summary["code"]),
        ("year", summary["year"]),
    ]
    rows += [
        (f"parameter.{k}", ", ".join(v) if isinstance(v, list) else v) for k, v in summary.get("parameters", {}).items()
    ]
    rows += [(key, summary.get(key)) for key in ("title", "synthetic", "generated_on", "package_version")]
    facts = summary.get("report") or {}
    rows += [(f"report.{key}", facts.get(key)) for key in ("geography_label", "generated_at") if key in facts]
    rows += [(f"source.{s['name']}", about.source_line(s)) for s in facts.get("sources", [])]
    rows.append(("medicare.conversion_factor", summary.get("medicare", {}).get("conversion_factor")))
    rows += [(f"counts.{k}", v) for k, v in summary.get("counts", {}).items()]
    return pd.DataFrame({"field": [r[0] for r in rows], "value": [_text(r[1]) for r in rows]}, dtype=object)


def _text(value: Any) -> Any:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else value


def _flatten(node: Any, keys: tuple[str, ...], value_column: str | None) -> pd.DataFrame:
    """Rows of a summary node: a list of records or scalars, or mappings nested ``len(keys)`` deep."""
    empty = pd.DataFrame(columns=[*keys, *([value_column] if value_column else [])])
    if isinstance(node, list):
        if not node:
            return empty
        if not isinstance(node[0], dict):
            return pd.DataFrame({value_column or "value": node}, dtype=object)
        return pd.DataFrame.from_records(node)
    records: list[dict[str, Any]] = []

    def walk(value: Any, path: list[str]) -> None:
        if isinstance(value, dict) and len(path) < len(keys):
            for key, child in value.items():
                walk(child, [*path, key])
        else:
            row = dict(zip(keys, path))
            records.append({**row, **value} if isinstance(value, dict) else {**row, value_column or "value": value})

    walk(node, [])
    return pd.DataFrame.from_records(records) if records else empty


def _write_cell(sheet: Any, row: int, column: int, value: Any) -> None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        sheet.write_number(row, column, value)
    elif hasattr(value, "item"):  # numpy scalar
        _write_cell(sheet, row, column, value.item())
    else:
        sheet.write_string(row, column, str(value))


def stderr_tail(text: str, lines: int = 5) -> str:
    """The last lines of what Chromium wrote to stderr, without its D-Bus complaints (one line)."""
    useful = [line for line in text.splitlines() if line.strip() and "dbus" not in line.lower()]
    return " | ".join(useful[-lines:]) or "no message"
