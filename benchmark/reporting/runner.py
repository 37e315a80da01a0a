"""Run the code-report notebook with papermill and export it: the one place that owns execution policy.

:func:`run_report` validates the parameters (codes stay strings: they are passed as Python values, never through
papermill's ``-p`` type guessing), executes ``notebooks/code_report.ipynb`` in a staging folder next to the output,
exports ``report.html`` without code cells, writes the exports made from it that are asked for (``report.pdf``,
``deck.pptx``, ``tables.xlsx``, ``tables/*.csv``: :mod:`benchmark.reporting.exports`,
:mod:`benchmark.reporting.formats`) and ``run.json`` (parameters, input checksums, code
version, package versions, timings: :mod:`benchmark.reporting.provenance`), and only then swaps the staging folder into place,
so a failed run never leaves half a report.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark import codes, config, lean_imports
from benchmark.reporting import about, exports, output_folder, provenance
from benchmark.reporting.formats import FORMATS, PDF, chosen, covers
from benchmark.reporting.kernel import KernelStartError, ReportRunError, SharedKernel, ensure_kernel
from benchmark.reporting.params import ReportParams, check_report
from benchmark.reporting.pdf_printer import PdfPrinter
from benchmark.safe_text import neutralize_html

EXECUTED_NOTEBOOK = "code_report.ipynb"
REMOVE_TAG = "remove-in-report"  # notebook cells for notebook readers only (e.g. the how-to-run note)
RUN_RECORD = "run.json"
HTML_TEMPLATE = config.TEMPLATES_DIR / "report.html.j2"
NOTEBOOK_ENGINE = "paybench-nbclient"  # papermill's nbclient engine, the notebook written once (notebook_engine)


@dataclass(frozen=True)
class ReportOutputs:
    out_dir: Path
    notebook: Path
    html: Path
    summary: Path
    charts: tuple[Path, ...]
    deck: Path | None = None
    pdf: Path | None = None  # None when no Chromium is installed (see ``notes``)
    xlsx: Path | None = None
    csv: tuple[Path, ...] = ()
    run_record: Path | None = None
    notes: tuple[str, ...] = ()  # what was not produced and why
    skipped: bool = False  # the report in out_dir was up to date: nothing was run (see is_up_to_date)


def report_slug(params: ReportParams) -> str:
    """Folder name of a report: the code, plus every non-default parameter as a safe ``name-value`` part.

    Only letters, digits, ``+`` and ``-`` survive in a part (no dots, no slashes), so no parameter value, payer text
    or path can steer the folder outside the output root; a data-source path becomes its base name + a short hash.
    """
    defaults = ReportParams(code=params.code)
    parts = [_safe(params.code)]
    for name, value in vars(params).items():
        if name in ("code", "output_dir") or value == getattr(defaults, name):
            continue
        if name in ("data_source", "providers", "ipps_table5"):
            digest = hashlib.sha1(str(value).encode()).hexdigest()[:8]
            names = [value] if isinstance(value, str) else list(value)
            text = "+".join(Path(str(v)).name for v in names)[:40] + f"-{digest}"
        else:
            text = "+".join(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{_safe(name)}-{_safe(text)}")
    return "__".join(parts)[:150]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+-]+", "_", text).strip("_") or "x"


def run_report(
    params: ReportParams,
    out_dir: str | Path | None = None,
    *,
    timeout: int = 900,
    kernel_name: str | None = None,
    inputs: provenance.RunInputs | None = None,
    force: bool = False,
    overwrite: bool = False,
    shared_kernel: SharedKernel | None = None,
    pdf_printer: Callable[[Path, Path], Path] | None = None,
    formats: Collection[str] = FORMATS,
) -> ReportOutputs:
    """Execute the code notebook for ``params`` and write its outputs to ``out_dir`` (default reports/<slug>).

    The parameters and sources are checked first (:func:`benchmark.reporting.preflight.check_report`: a
    :class:`~benchmark.errors.ParameterError` before anything starts or is written). ``out_dir`` must be missing,
    empty or a previous report of the tool (:mod:`benchmark.reporting.output_folder`; ``overwrite`` moves anything
    else aside); it becomes a link to a hidden sibling folder, replaced in one rename, so a report is at the path at
    every moment. A report already in ``out_dir`` with the same fingerprint (parameters, input sha256, code version)
    is not run again unless ``force``: the result then has ``skipped=True``. ``inputs`` (checksums and fingerprint,
    computed when not given) goes into ``run.json``. ``shared_kernel`` runs the notebook in that kernel (reset
    first: :class:`SharedKernel`) instead of a new kernel started and shut down for this report; ``pdf_printer``
    prints ``report.pdf`` (:func:`~benchmark.reporting.exports.write_exports`; a batch worker's long-lived Chromium).
    ``formats`` (:mod:`benchmark.reporting.formats`, default all) names the exports to write, recorded in ``run.json``;
    a report written with every one of them is up to date for this run (a PDF not asked for starts no Chromium).
    Raises
    :class:`ReportRunError` when a cell fails (the failed notebook is kept beside the output folder) and
    :class:`KernelStartError` when the kernel never ran a cell.
    """
    params = check_report(params)
    wanted = chosen(formats)
    started, clock = provenance.now_utc(), time.perf_counter()
    inputs = inputs or provenance.run_inputs(params)
    target = Path(out_dir) if out_dir else config.REPORTS_DIR / report_slug(params)
    target = output_folder.check_output_folder(target, output_folder.REPORT_MARKER, overwrite=overwrite)
    if not force and is_up_to_date(target, inputs, wanted):
        return existing_outputs(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    failed_notebook = failed_notebook_path(target)
    failed_notebook.unlink(missing_ok=True)  # from an earlier run of the same report
    staging = output_folder.staging_folder(target)
    run_params = ReportParams.from_mapping({**params.as_notebook_parameters(), "output_dir": str(staging)})
    notebook = staging / EXECUTED_NOTEBOOK
    kernel = kernel_name or (shared_kernel.kernel_name if shared_kernel else None) or ensure_kernel()
    # this report's own kernel unless a shared one is given, started first: it boots and imports the report's
    # modules on the other core while this process imports papermill and builds the HTML exporter
    owned = shared_kernel is None
    report_kernel = shared_kernel or SharedKernel(kernel)
    # no printer given (a single report): this report's own Chromium, started while the notebook runs, so that the
    # PDF does not wait for Chromium to start after it
    own_printer = PdfPrinter() if PDF in wanted and pdf_printer is None and exports.find_chromium() else None
    starting: threading.Thread | None = None
    if own_printer is not None:
        pdf_printer = own_printer.print_pdf
        starting = threading.Thread(target=own_printer.start, name="paybench-chromium-start")
        starting.start()
    try:
        try:  # nothing of a run that fails is left in the staging folder
            try:
                if owned:
                    report_kernel.start(staging)
                pm = papermill_module()
                html_exporter()
                _execute(pm, run_params, notebook, failed_notebook, kernel, report_kernel.ready(staging), timeout)
            finally:
                if owned:
                    report_kernel.close()
            export_html(notebook, staging / "report.html", title=_report_title(staging, params))
            made = exports.write_exports(staging, formats=wanted, pdf_printer=pdf_printer)
            _write_run_record(staging, inputs, wanted, started, time.perf_counter() - clock, made.notes)
            output_folder.publish(staging, target, output_folder.REPORT_MARKER, overwrite=overwrite)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        if own_printer is not None and starting is not None:
            starting.join()  # a Chromium still starting is ended too, not left behind
            own_printer.close()

    def moved(path: Path) -> Path:
        return target / path.relative_to(staging)

    return ReportOutputs(
        target,
        target / EXECUTED_NOTEBOOK,
        target / "report.html",
        target / "summary.json",
        tuple(sorted((target / "charts").glob("*"))),
        deck=moved(made.deck) if made.deck else None,
        pdf=moved(made.pdf) if made.pdf else None,
        xlsx=moved(made.xlsx) if made.xlsx else None,
        csv=tuple(map(moved, made.csv)),
        run_record=target / RUN_RECORD,
        notes=made.notes,
    )


def papermill_module() -> Any:
    """papermill, imported when a report first runs (not at start: start-up time of a skipped report), after
    jsonschema is imported lean (papermill imports it through nbformat: see :mod:`benchmark.lean_imports`), with the
    engine the runner executes the notebook with registered (:data:`NOTEBOOK_ENGINE`)."""
    lean_imports.import_jsonschema()
    import papermill as pm  # lazy: start-up time of a skipped report

    from benchmark.reporting.notebook_engine import NotebookWrittenOnce  # lazy: it imports papermill

    pm.engines.papermill_engines.register(NOTEBOOK_ENGINE, NotebookWrittenOnce)
    return pm


def _execute(
    pm: Any, params: ReportParams, notebook: Path, failed_notebook: Path, kernel: str, km: Any, timeout: int
) -> None:
    """Run the code notebook into ``notebook`` in the started kernel ``km`` (papermill runs the cells in it and
    leaves it running). A failed run keeps its notebook at ``failed_notebook`` and raises :class:`ReportRunError`,
    or :class:`KernelStartError` when no cell ran."""
    try:
        pm.execute_notebook(
            str(config.CODE_REPORT_NOTEBOOK),
            str(notebook),
            parameters=params.as_notebook_parameters(),
            engine_name=NOTEBOOK_ENGINE,
            # the notebook is written when the run ends, not at every cell's start and end (~24 writes of ~2 MB)
            request_save_on_cell_execute=False,
            written_on_failure=str(notebook),  # ... or fails (benchmark.reporting.notebook_engine)
            kernel_name=kernel,
            cwd=str(notebook.parent),
            progress_bar=False,
            execution_timeout=timeout,
            km=km,
        )
    except pm.PapermillExecutionError as error:
        shutil.copyfile(notebook, failed_notebook)
        raise ReportRunError(
            f"{codes.label(params.code)}: notebook cell {error.exec_count} raised {error.ename}: "
            f"{error.evalue} (failed notebook kept at {failed_notebook})",
            ename=error.ename,
            evalue=error.evalue,
        ) from None
    except Exception as error:  # the kernel did not start or died, a cell timed out, or papermill could not start
        kernel_never_ran = notebook.is_file() and not _any_cell_started(notebook)
        if notebook.is_file() and not kernel_never_ran:
            try:
                shutil.copyfile(notebook, failed_notebook)
            except OSError:  # a full disk: the error that stopped the run is the one to report
                failed_notebook.unlink(missing_ok=True)
        if kernel_never_ran:
            raise KernelStartError(
                f"{codes.label(params.code)}: the Jupyter kernel {kernel!r} did not start: {type(error).__name__}: {error}",
                ename=type(error).__name__,
                evalue=str(error),
            ) from error
        raise


def is_up_to_date(report_dir: Path, inputs: provenance.RunInputs, formats: Collection[str] = FORMATS) -> bool:
    """A written report whose ``run.json`` has the same fingerprint, was written with every one of ``formats``
    (a ``run.json`` without ``formats`` was written with all of them) and whose listed outputs all exist.

    A report read from a URL is never up to date: its bytes are not known without downloading them.
    """
    if any(value == provenance.REMOTE for value in inputs.input_checksums.values()):
        return False
    record = read_run_record(report_dir)
    if not record or record.get("fingerprint") != inputs.fingerprint:
        return False
    if not covers(record.get("formats", FORMATS), formats):
        return False
    return all((Path(report_dir) / name).is_file() for name in record.get("outputs") or [None])


def existing_outputs(target: Path) -> ReportOutputs:
    """The outputs of the up-to-date report in ``target`` (as listed in its ``run.json``), marked skipped."""
    record = read_run_record(target) or {}
    listed = [target / name for name in record.get("outputs", [])]

    def one(name: str) -> Path | None:
        return target / name if (target / name) in listed else None

    return ReportOutputs(
        target,
        target / EXECUTED_NOTEBOOK,
        target / "report.html",
        target / "summary.json",
        tuple(sorted(p for p in listed if p.parent.name == "charts")),
        deck=one("deck.pptx"),
        pdf=one("report.pdf"),
        xlsx=one("tables.xlsx"),
        csv=tuple(sorted(p for p in listed if p.parent.name == "tables")),
        run_record=target / RUN_RECORD,
        notes=tuple(record.get("notes", [])),
        skipped=True,
    )


def failed_notebook_path(target: Path) -> Path:
    """Where the executed notebook of a failed run of the report in ``target`` is kept (beside the folder)."""
    return Path(target).parent / f"{Path(target).name}.failed.ipynb"


def read_run_record(report_dir: Path) -> dict | None:
    """The ``run.json`` of a finished report, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((Path(report_dir) / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _report_title(staging: Path, params: ReportParams) -> str:
    """The page title: the report's own (summary.json ``title``: a geography report names its geography)."""
    summary = staging / "summary.json"
    if summary.is_file():
        title = json.loads(summary.read_text(encoding="utf-8")).get("title")
        if title:
            return str(title)
    return about.report_title(params.code, params.year, params.geography)


@lru_cache(maxsize=1)
def html_exporter() -> Any:
    """The nbconvert exporter of ``report.html`` (``templates/report.html.j2``, no code cells, prompts or scripts),
    built once per process: its templates compile on first use (~0.5 s), and a batch worker exports many reports."""
    lean_imports.import_jsonschema()  # before nbformat imports it: see benchmark.lean_imports
    import nbformat
    from nbconvert import HTMLExporter  # lazy: start-up time of the commands that export nothing
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file=str(HTML_TEMPLATE),
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True), enabled=True)
    exporter.from_notebook_node(nbformat.v4.new_notebook())  # compiles its templates (and selectors) now
    return exporter


def export_html(notebook: Path, html_path: Path, title: str) -> Path:
    """Export an executed notebook to HTML without code cells, prompts or scripts (``templates/report.html.j2``)."""
    lean_imports.import_jsonschema()  # before nbformat imports it: see benchmark.lean_imports
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    html_path.write_text(neutralize_html(body), encoding="utf-8")  # bidi controls from file / payer names shown
    return html_path


def _any_cell_started(notebook: Path) -> bool:
    """Whether papermill recorded a start time for any cell of the (partly) executed notebook."""
    lean_imports.import_jsonschema()  # before nbformat imports it: see benchmark.lean_imports
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError):
        return False
    return any(cell.get("metadata", {}).get("papermill", {}).get("start_time") for cell in nb.cells)


def _write_run_record(
    folder: Path,
    inputs: provenance.RunInputs,
    formats: tuple[str, ...],
    started: str,
    seconds: float,
    notes: tuple[str, ...],
) -> None:
    outputs = sorted(  # the tool's bookkeeping files (.paybench-*) are not outputs
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".paybench-")
    )
    record = {
        **inputs.as_record(),
        "started": started,
        "finished": provenance.now_utc(),
        "seconds": round(seconds, 2),
        "package_versions": provenance.package_versions(),
        "formats": list(formats),
        "outputs": outputs,
        "notes": list(notes),
    }
    (folder / RUN_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
