"""What a report run depends on: input checksums, the code version, package versions, and one fingerprint of them.

A report is fully determined by its parameters, its input files (the rate files of its data source, or a rate
store's manifest, which every commit replaces; the provider directory, and the reference data under ``data/``: Medicare files, code catalog, payer rules) and the code that turns
them into outputs (the ``benchmark`` package, its style and templates, and the report notebook). :func:`run_inputs`
hashes all of them; the runner writes the result into each report's ``run.json`` and the batch skips a report whose
fingerprint has not changed since it was last written. A report made without ``report_date`` is dated by its run
(UTC; expired-contract flags depend on it), so the effective report date is part of the fingerprint: yesterday's
report is not up to date today.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmark import config, files
from benchmark.analysis.rates import resolve_source
from benchmark.reporting.params import ReportParams
from benchmark.store.rate_store import MANIFEST, STORE_INFO

# Packages whose versions are recorded with every run (the ones that shape a report's numbers and files).
RECORDED_PACKAGES: tuple[str, ...] = (
    "payer-benchmark",
    "pandas",
    "numpy",
    "pandera",
    "pyarrow",
    "ijson",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "python-pptx",
    "xlsxwriter",
    "pyyaml",
    "tqdm",
)
REMOTE = "remote"  # checksum recorded for a URL source (not downloaded just to hash it)
MISSING = "missing"  # checksum recorded for an input that does not exist (the run itself then says why it failed)
NOT_CHECKED = "not checked"  # a URL or a zip member among the inputs: its bytes are read by the report, not here
_CODE_SUFFIXES = (".py", ".mplstyle", ".j2")


@dataclass(frozen=True)
class RunInputs:
    """The checksums a report run depends on, and their fingerprint (equal fingerprints: identical outputs)."""

    parameters: dict[str, Any]
    input_checksums: dict[str, str]
    code_version: str
    fingerprint: str
    report_date: str = ""  # the effective report date: the parameter, else the run date (UTC)

    def as_record(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "code_version": self.code_version,
            "parameters": self.parameters,
            "report_date": self.report_date,
            "input_checksums": self.input_checksums,
        }


def effective_report_date(params: ReportParams, run_date: date | None = None) -> str:
    """The date a report of ``params`` is made for: its ``report_date``, else ``run_date`` (default: today, UTC)."""
    return params.report_date or (run_date or datetime.now(UTC).date()).isoformat()


def run_inputs(params: ReportParams, code: str | None = None, *, run_date: date | None = None) -> RunInputs:
    """Checksums of every input of the report for ``params`` plus the code version (pass ``code`` to reuse one)
    and the effective report date (:func:`effective_report_date`; ``run_date`` stands for today, UTC)."""
    parameters = {k: v for k, v in params.as_notebook_parameters().items() if k != "output_dir"}
    checksums = input_checksums(params)
    code = code or code_version()
    report_date = effective_report_date(params, run_date)
    payload = json.dumps(
        {"parameters": parameters, "inputs": checksums, "code": code, "report_date": report_date}, sort_keys=True
    )
    return RunInputs(parameters, checksums, code, hashlib.sha256(payload.encode()).hexdigest(), report_date)


def input_checksums(params: ReportParams) -> dict[str, str]:
    """``{file: sha256}`` of the report's data-source files and the reference data (``missing`` when absent).

    Files inside the project are keyed by their path relative to the project root, others by their absolute path; a
    member of a zip archive counts as its archive; a URL is recorded as ``remote`` (not downloaded to be hashed, so a
    report read from a URL is never considered up to date).
    """
    files: list[Path] = [
        p for p in sorted(config.DATA_DIR.rglob("*")) if p.is_file() and config.SAMPLE_DIR not in p.parents
    ]
    try:
        source = resolve_source(params.data_source, params.providers or None)
    except (FileNotFoundError, ValueError, OSError):
        return {**{_key(p): sha256_file(p) for p in files}, str(params.data_source): MISSING}
    remote: dict[str, str] = {}
    for item in source.paths:
        if isinstance(item, Path):
            files.append(item)
        elif getattr(item, "is_url", False):
            remote[item.name] = REMOTE
        else:  # a member of a local zip archive (or a file a local table of contents lists)
            files.append(Path(item.location))
    if source.provider_directory:
        files.append(source.provider_directory)
    if source.store is not None:  # a store's state is its manifest: every commit (new files, wider codes) changes it
        files += [source.store / MANIFEST, source.store / STORE_INFO]
    if params.ipps_table5:  # the user's CMS IPPS Table 5
        files.append(Path(params.ipps_table5))
    unique = list(dict.fromkeys(files))
    return {**{_key(p): sha256_file(p) if p.is_file() else MISSING for p in unique}, **remote}


def code_version() -> str:
    """sha256 over the package version and the source of everything that builds a report (package + notebook)."""
    digest = hashlib.sha256(version_of("payer-benchmark").encode())
    files = sorted(
        p for p in config.PACKAGE_DIR.rglob("*") if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts
    )
    for path in [*files, config.CODE_REPORT_NOTEBOOK]:
        digest.update(
            str(
                path.relative_to(config.PROJECT_ROOT) if path.is_relative_to(config.PROJECT_ROOT) else path.name
            ).encode()
        )
        digest.update(path.read_bytes())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and of :data:`RECORDED_PACKAGES` (``not installed`` for an absent one)."""
    return {"python": platform.python_version(), **{name: version_of(name) for name in RECORDED_PACKAGES}}


def now_utc() -> str:
    """The current time, UTC, ISO 8601 to the second (run records and manifests)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def version_of(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def sha256_file(path: Path) -> str:
    """sha256 of a file; cached per (path, size, mtime) within the process (bounded: the newest 4,096 files)."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return files.sha256_file(path)


def _key(path: Path) -> str:
    resolved = path.resolve()
    return (
        str(resolved.relative_to(config.PROJECT_ROOT))
        if resolved.is_relative_to(config.PROJECT_ROOT)
        else str(resolved)
    )
