"""The report factory: run many parameter sets through the code notebook, as a scheduler would.

A batch file is YAML::

    title: Colostomy family, monthly          # optional, heads the index page
    defaults: {year: 2025}                    # optional, applies to every report below
    reports:                                  # parameter sets, one report each
      - code: "44320"
      - {code: "44310", geography: TX}
    grid:                                     # optional (a mapping or a list of them): every combination
      codes: ["44320", "44141"]
      years: [2024, 2025]
      geographies: [all, TX]
      payer_sets: [[], [Aetna, BCBS]]

:func:`load_batch` validates everything before anything runs: top-level and parameter names are whitelisted, values
are typed by :class:`~benchmark.reporting.params.ReportParams` field by field (the YAML is read without type guessing, so
``code: 00100`` stays the string ``"00100"``), every set goes through ``ReportParams`` validation, relative data
sources are resolved against the batch file's folder, and two sets that would write the same folder are an error.

:func:`run_batch` writes each report to ``<out>/<report_slug>/`` with bounded parallel workers (separate processes,
forked from one that imported their modules once: :mod:`~benchmark.reporting.batch_worker`; each with one Jupyter
kernel that runs its reports one after the other, reset before each: :class:`~benchmark.reporting.kernel.SharedKernel`),
retries a report whose kernel did not start, keeps going past failures,
skips reports whose parameters, inputs and code version are unchanged since they were written (unless forced),
and writes ``manifest.json`` and ``index.html``. ``BatchRun.exit_status`` is the scheduler contract: 0 when every
report is written or up to date, 1 when any failed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
import typing
from collections.abc import Collection
from concurrent.futures import Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ParameterError, PaybenchError
from benchmark.files import atomic_write_text
from benchmark.reporting import output_folder, provenance
from benchmark.reporting.batch_index import write_index
from benchmark.reporting.batch_worker import relative_outputs, run_one, worker_pool
from benchmark.reporting.exports import chromium_version
from benchmark.reporting.formats import FORMATS, chosen
from benchmark.reporting.formats import parse as parse_formats
from benchmark.reporting.params import ReportParams, check_report
from benchmark.reporting.runner import (
    is_up_to_date,
    read_run_record,
    report_slug,
)
from benchmark.sources.source import special_file_problem

_log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MAX_BATCH_FILE_BYTES = 1 << 20  # a batch file is a few KB; anything far larger is not one
# One report keeps a kernel busy on one core while its worker exports; two workers fill a 2-core machine.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
TOP_LEVEL_KEYS = ("title", "defaults", "reports", "grid", "formats")
# grid key -> the report parameter each of its values sets
GRID_KEYS: dict[str, str] = {"codes": "code", "years": "year", "geographies": "geography", "payer_sets": "payers"}
# Parameters a batch may set: every ReportParams field except output_dir (the batch names folders itself).
PARAMETER_TYPES: dict[str, Any] = {
    name: hint for name, hint in typing.get_type_hints(ReportParams).items() if name != "output_dir"
}


class BatchSpecError(PaybenchError, ValueError):
    """The batch file is invalid; the message lists every problem with its location. Nothing was run."""


@dataclass(frozen=True)
class Batch:
    reports: tuple[ReportParams, ...]
    title: str = "Payer benchmark reports"
    source: Path | None = None  # the batch file
    formats: tuple[str, ...] = FORMATS  # the files every report writes (``formats:``; run_batch's formats override)


@dataclass
class ReportResult:
    """One report of a batch run, as the manifest records it."""

    slug: str
    parameters: dict[str, Any]
    status: str  # "ok" (written now), "skipped" (up to date), "failed"
    attempts: int = 0
    started: str | None = None
    finished: str | None = None
    seconds: float = 0.0
    error: dict[str, str] | None = None  # {"name": ..., "message": ...} (+ "failed_notebook")
    outputs: list[str] = field(default_factory=list)  # relative to the output root
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    input_checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchRun:
    out_dir: Path
    results: list[ReportResult]
    manifest: Path
    index: Path

    @property
    def exit_status(self) -> int:
        return _exit_status(self.results)

    def counts(self) -> dict[str, int]:
        return _counts(self.results)


# --------------------------------------------------------------------------------------------------- load
def load_batch(path: str | Path, *, providers: str | Path | None = None) -> Batch:
    """Read and validate a batch file; raises :class:`BatchSpecError` listing every problem.

    ``providers`` (a provider directory CSV, relative to the current folder) applies to every report that names none.
    """
    path = Path(path)
    try:
        if special_file_problem(path):
            raise BatchSpecError(f"{path}: cannot read the batch file: {special_file_problem(path)}")
        with open(path, "rb") as handle:
            data = handle.read(MAX_BATCH_FILE_BYTES + 1)
        if len(data) > MAX_BATCH_FILE_BYTES:
            raise BatchSpecError(f"{path}: larger than {MAX_BATCH_FILE_BYTES:,} bytes; not a batch file")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BatchSpecError(f"{path}: cannot read the batch file: {error}") from None
    try:
        _refuse_aliases(text, path)
        document = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar a string: no type guessing
    except yaml.YAMLError as error:
        raise BatchSpecError(f"{path}: not valid YAML: {str(error)[:500]}") from None
    default_providers = str(Path(providers).expanduser().resolve()) if providers else None
    return parse_batch(document, source=path, providers=default_providers)


def _refuse_aliases(text: str, path: Path) -> None:
    """Anchors and aliases (``&a`` / ``*a``) are refused before anything is built: a few lines of them expand to
    billions of values ("billion laughs"), and a batch file never needs them."""
    for event in yaml.parse(text, Loader=yaml.BaseLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise BatchSpecError(
                f"{path}:{mark.line + 1}:{mark.column + 1}: YAML anchors and aliases (&name / *name) are not "
                "allowed in batch files; write each value out"
            )


def parse_batch(document: Any, source: Path | None = None, providers: str | None = None) -> Batch:
    """Validate a batch mapping (scalars as strings, as :func:`load_batch` reads them, or typed values)."""
    where = str(source) if source else "batch"
    base = source.parent.resolve() if source else Path.cwd()
    problems: list[str] = []
    if not isinstance(document, dict):
        raise BatchSpecError(f"{where}: expected a mapping with a `reports:` list and/or a `grid:`")
    problems += [
        f"{where}: unknown key {key!r}; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        for key in document
        if key not in TOP_LEVEL_KEYS
    ]
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(f"{where}: defaults: expected a mapping of parameters")
        defaults = {}
    entries: list[tuple[str, dict[str, Any]]] = []
    reports = document.get("reports") or []
    if not isinstance(reports, list):
        problems.append(f"{where}: reports: expected a list of parameter mappings")
        reports = []
    for index, entry in enumerate(reports):
        if isinstance(entry, dict):
            entries.append((f"reports[{index}]", {**defaults, **entry}))
        else:
            problems.append(f'{where}: reports[{index}]: expected a mapping such as {{code: "44320"}}')
    grids = document.get("grid") or []
    for index, grid in enumerate(grids if isinstance(grids, list) else [grids]):
        label = f"grid[{index}]" if isinstance(grids, list) else "grid"
        expanded, grid_problems = expand_grid(grid, label)
        problems += [f"{where}: {p}" for p in grid_problems]
        entries += [(name, {**defaults, **values}) for name, values in expanded]
    if not entries and not problems:
        problems.append(f"{where}: no reports: give a `reports:` list or a `grid:`")
    batch_formats, formats_problem = _batch_formats(document.get("formats"))
    problems += [f"{where}: {formats_problem}"] if formats_problem else []

    params_list: list[ReportParams] = []
    seen: dict[str, str] = {}
    for name, values in entries:
        if providers and "providers" not in values:
            values = {**values, "providers": providers}
        params, entry_problems = _typed_params(values, base)
        if entry_problems or params is None:
            problems += [f"{where}: {name}: {p}" for p in entry_problems]
            continue
        slug = report_slug(params)
        if slug in seen:
            problems.append(f"{where}: {name}: same parameters as {seen[slug]} (both would write {slug}/)")
            continue
        seen[slug] = name
        params_list.append(params)
    if problems:
        raise BatchSpecError("invalid batch file:\n  " + "\n  ".join(problems))
    title = document.get("title")
    return Batch(
        tuple(params_list), str(title) if isinstance(title, str) and title else Batch.title, source, batch_formats
    )


def _batch_formats(value: Any) -> tuple[tuple[str, ...], str | None]:
    """The batch file's ``formats:`` (text as for ``--formats``, ``html,xlsx``, or a list, ``[html, xlsx]``; absent:
    all), with the problem when it is not one."""
    if value is None:
        return FORMATS, None
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        value = ",".join(value)
    if not isinstance(value, str):
        return FORMATS, "formats: expected a list such as [html, xlsx] or text such as html,xlsx"
    try:
        return parse_formats(value), None
    except ParameterError as error:
        return FORMATS, str(error)


def expand_grid(grid: Any, label: str = "grid") -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """``codes x years x geographies x payer_sets`` (plus any fixed parameters) as named parameter mappings."""
    if not isinstance(grid, dict):
        return [], [f'{label}: expected a mapping such as {{codes: ["44320"], years: [2025]}}']
    problems = []
    axes: list[tuple[str, list[Any]]] = []
    fixed: dict[str, Any] = {}
    for key, value in grid.items():
        if key in GRID_KEYS:
            if not isinstance(value, list) or not value:
                problems.append(f"{label}.{key}: expected a non-empty list")
            else:
                axes.append((GRID_KEYS[key], value))
        elif key in PARAMETER_TYPES:
            fixed[key] = value
        else:
            problems.append(
                f"{label}: unknown key {key!r}; grid axes: {', '.join(GRID_KEYS)}; or a fixed "
                f"parameter: {', '.join(PARAMETER_TYPES)}"
            )
    if problems or not axes:
        return [], problems or [f"{label}: no axes; give at least one of {', '.join(GRID_KEYS)}"]
    names = [name for name, _ in axes]
    expanded = []
    for combination in itertools.product(*(values for _, values in axes)):
        values = {**fixed, **dict(zip(names, combination))}
        shown = ", ".join(
            f"{n}={v if not isinstance(v, list) else '[' + ' '.join(map(str, v)) + ']'}"
            for n, v in zip(names, combination)
        )
        expanded.append((f"{label} ({shown})", values))
    return expanded, []


# --------------------------------------------------------------------------------------------------- run
def run_batch(
    batch: Batch,
    out_dir: str | Path,
    *,
    workers: int = DEFAULT_WORKERS,
    force: bool = False,
    progress: bool | None = None,
    overwrite: bool = False,
    formats: Collection[str] | None = None,
) -> BatchRun:
    """Run every report of ``batch`` under ``out_dir``; write ``manifest.json`` and ``index.html`` there.

    ``progress``: show a tqdm bar (None: only on a terminal). A report that fails does not stop the others.
    ``out_dir`` must be missing, empty or an earlier batch output root (else :class:`ParameterError`, nothing run,
    unless ``overwrite``: the reports are then written into it beside what is there, which is left alone).
    ``formats`` (:mod:`benchmark.reporting.formats`; None: the batch file's ``formats:``, else all): the exports every
    report writes; a report written with all of them is up to date (recorded in the manifest).
    """
    from tqdm import tqdm  # lazy for start-up time only (tqdm pulls in its notebook/rich integrations)

    if workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    wanted = chosen(batch.formats if formats is None else formats)
    root = output_folder.check_output_folder(out_dir, output_folder.BATCH_MARKER, overwrite=overwrite).resolve()
    try:  # a folder that cannot be written is refused before anything runs (exit 2), not after (no manifest)
        root.mkdir(parents=True, exist_ok=True)
        output_folder.write_marker(root, output_folder.BATCH_MARKER)
    except OSError as error:
        raise ParameterError(
            f"--out {out_dir}: cannot write the batch output there ({error.strerror or error})"
        ) from None
    started, clock = provenance.now_utc(), time.perf_counter()
    code = provenance.code_version()
    results: dict[str, ReportResult] = {}
    to_run: list[tuple[ReportParams, provenance.RunInputs]] = []
    for params in batch.reports:
        slug = report_slug(params)
        target = (root / slug).resolve()
        if not target.is_relative_to(root) or target == root:
            raise BatchSpecError(f"report folder {slug!r} is not inside {root}")
        inputs = provenance.run_inputs(params, code)
        result = ReportResult(
            slug, inputs.parameters, "pending", fingerprint=inputs.fingerprint, input_checksums=inputs.input_checksums
        )
        results[slug] = result
        if not force and is_up_to_date(target, inputs, wanted):
            _log.info("%s: skipped, up to date (parameters, inputs and code version unchanged)", slug)
            _mark_skipped(result, root)
        else:
            to_run.append((params, inputs))

    with tqdm(
        total=len(results),
        unit="report",
        desc="batch",
        disable=None if progress is None else not progress,
        initial=len(results) - len(to_run),
    ) as bar:
        for outcome in _execute(to_run, root, workers, wanted):
            result = results[outcome["slug"]]
            for key, value in outcome.items():
                setattr(result, key, value)
            bar.update(1)
            bar.set_postfix(_counts(results.values()), refresh=False)

    ordered = [results[report_slug(p)] for p in batch.reports]
    manifest = {
        "batch_file": str(batch.source) if batch.source else None,
        "batch_sha256": provenance.sha256_file(batch.source) if batch.source else None,
        "title": batch.title,
        "out_dir": str(root),
        "started": started,
        "finished": provenance.now_utc(),
        "seconds": round(time.perf_counter() - clock, 2),
        "workers": workers,
        "force": force,
        "formats": list(wanted),
        "code_version": code,
        "package_versions": {**provenance.package_versions(), "chromium": chromium_version()},
        "counts": _counts(ordered),
        "exit_status": _exit_status(ordered),
        "reports": [vars(r) for r in ordered],
    }
    manifest_path = root / MANIFEST_NAME
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    index = write_index(root, manifest)
    return BatchRun(root, ordered, manifest_path, index)


# --------------------------------------------------------------------------------------------------- helpers
def _execute(
    to_run: list[tuple[ReportParams, provenance.RunInputs]], root: Path, workers: int, formats: tuple[str, ...]
):
    """Yield one outcome mapping per report, as they finish (in worker processes: :mod:`.batch_worker`)."""
    if not to_run:
        return
    with worker_pool(min(workers, len(to_run))) as pool:
        futures: dict[Future, tuple[ReportParams, provenance.RunInputs]] = {
            pool.submit(run_one, params, inputs, str(root), formats): (params, inputs) for params, inputs in to_run
        }
        for future in as_completed(futures):
            params, _ = futures[future]
            try:
                yield future.result()
            except BrokenProcessPool as error:  # a worker process died (killed, out of memory)
                yield {
                    "slug": report_slug(params),
                    "status": "failed",
                    "attempts": 1,
                    "error": {"name": type(error).__name__, "message": f"worker process died: {error}"},
                }


def _mark_skipped(result: ReportResult, root: Path) -> None:
    record = read_run_record(root / result.slug) or {}
    result.status = "skipped"
    result.outputs = relative_outputs(root / result.slug, root)
    result.notes = [
        f"up to date: parameters, inputs and code version unchanged since {record.get('finished', 'the last run')}",
        *record.get("notes", []),
    ]


def _counts(results: Any) -> dict[str, int]:
    results = list(results)
    return {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}


def _exit_status(results: list[ReportResult]) -> int:
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def _typed_params(values: dict[str, Any], base: Path) -> tuple[ReportParams | None, list[str]]:
    """Convert one parameter mapping to :class:`ReportParams` by the declared field types; list every problem."""
    problems: list[str] = []
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in PARAMETER_TYPES:
            problems.append(f"unknown parameter {name!r}; allowed: {', '.join(PARAMETER_TYPES)}")
            continue
        converted, problem = _convert(name, value, PARAMETER_TYPES[name])
        if problem:
            problems.append(problem)
        else:
            clean[name] = converted
    if "code" not in clean and not any(p.startswith("code") for p in problems):
        problems.append('code: missing (every report needs a billing code, e.g. code: "44320")')
    if problems:
        return None, problems
    try:
        # relative sources and provider directories are relative to the batch file; every source must exist
        return check_report(ReportParams(**clean), base=base), []
    except ValueError as error:
        return None, [str(error).removeprefix("Invalid report parameters: ")]


def _convert(name: str, value: Any, hint: Any) -> tuple[Any, str | None]:
    if name == "data_source":  # one source or a list of them
        if isinstance(value, str) and value.strip():
            return value.strip(), None
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(v.strip() for v in value), None
        return None, f"data_source: expected 'sample', a path or URL, or a list of them, got {value!r}"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
            return None, f"{name}: expected a whole number, got {value!r}"
        return int(str(value).strip()), None
    if hint is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "code":
            return None, (
                f'code: got the number {value!r}; write codes as quoted strings (code: "{value}") so '
                "leading zeros survive"
            )
        if not isinstance(value, str):
            return None, f"{name}: expected text, got {value!r}"
        return value.strip(), None
    if hint is bool:  # YAML scalars arrive as text (load_batch reads without type guessing)
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return None, f"{name}: expected true or false, got {value!r}"
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"{name}: expected a list of names such as [Aetna, BCBS], got {value!r}"
        return tuple(v.strip() for v in value), None
    return None, f"{name}: unsupported parameter type {hint!r}"  # a new ReportParams field needs a rule here
