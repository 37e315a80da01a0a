"""Check price-transparency files the way CMS does, and list everything the readers would change or not load.

:func:`validate_sources` takes files (zips are opened: every data member is checked, whatever its format) and
returns one :class:`ValidationReport` per file; :func:`validate_file` checks one plain file. The verdict is CMS's:

- **errors** are the CMS rules the file breaks -- hospital files against the rules of the version they declare
  (``cms_version`` checks against another: 2.0.0, 2.1.0, 2.2.0, 3.0.0), CSV (:mod:`benchmark.ingest.hospital.cms_csv`)
  and JSON (:mod:`benchmark.ingest.hospital.cms_json`); TiC in-network, table-of-contents and allowed-amounts files
  against CMS's JSON Schema of their version (:mod:`benchmark.ingest.cms_schema`) -- and the problems that keep a
  file from being read at all (not a price file, a zip without a data file, a pre-2.0 hospital JSON, a CSV that is
  neither a CMS template nor a chargemaster, a header and no data rows, invalid JSON, an unbalanced quote...);
- **warnings** are CMS's alerts (nine 9s, a false attestation, an unexpected ``version``...) and everything the
  reader does to the data that the user should know about: each value it normalizes (reason codes such as
  ``code_normalized``, ``amount_normalized``, ``setting_unknown``, ``number_from_text``) and each candidate rate it
  does not load (its quarantine reason, detail ``not loaded: ...``; modifier-only rows ``modifier_row_not_loaded``).

A file is valid when it has no error; ``paybench validate`` exits 1 otherwise. Nothing is cut off (use the CSV
output for big files); nothing is written. The README's "CMS rules" table lists every rule and where paybench
knowingly differs from CMS.
"""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark.accounts import FileAccount
from benchmark.ingest import cms_schema, routing
from benchmark.ingest.hospital.reader import check_standard_charges
from benchmark.ingest.tic.reader import TicFileError, read_in_network
from benchmark.normalize.hospital_units import SEVERITY_ERROR, SEVERITY_WARNING, Problem
from benchmark.safe_text import neutralize_terminal
from benchmark.schema import check_built
from benchmark.sources.http import SourceError
from benchmark.sources.limits import ZIP_MAGIC, Limits
from benchmark.sources.source import Source, head_bytes, zip_sources

SEVERITIES = [SEVERITY_ERROR, SEVERITY_WARNING]
# Reader problems that restate a CMS rule checked by the CMS checks (so that a problem is listed once).
_RESTATED = frozenset(
    {
        "bad_date",
        "missing_general_value",
        "duplicate_column",
        "placeholder_header",
        "tall_and_wide",
        "neither_tall_nor_wide",
        "incomplete_wide_group",
        "missing_min_max",
        "missing_count",
        "missing_estimated_amount",
        "other_without_note",
    }
)
# Reader errors that stay errors in a readable file (the file itself is damaged there); other reader errors of a
# readable file are candidate rates not loaded: warnings, the verdict on the data being CMS's.
_FILE_DAMAGE = frozenset({"unbalanced_quote"})


class ProblemSchema(pa.DataFrameModel):
    """One problem found in a file."""

    source_file: Series[str]
    location: Series[str] = pa.Field(description="line N [column C] or JSON path; 'file' for the whole file")
    severity: Series[str] = pa.Field(isin=SEVERITIES)
    reason_code: Series[str]
    detail: Series[str]
    raw_value: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        ordered = True


PROBLEM_COLUMNS = list(ProblemSchema.to_schema().columns)


@dataclass
class ValidationReport:
    """What :func:`validate_file` found in one file."""

    path: Path
    kind: str
    layout: str | None
    problems: pd.DataFrame
    account: FileAccount | None
    name: str | None = None  # shown instead of the path (``archive.zip!member``)
    cms_version: str | None = None  # the CMS version the file was checked against

    @property
    def errors(self) -> int:
        return int((self.problems["severity"] == SEVERITY_ERROR).sum())

    @property
    def warnings(self) -> int:
        return int((self.problems["severity"] == SEVERITY_WARNING).sum())

    @property
    def valid(self) -> bool:
        """No error: CMS's rules are met and the file can be read."""
        return self.errors == 0

    @property
    def readable(self) -> bool:
        """The file as a whole can be read (its rows may still have problems)."""
        return self.account is not None

    def summary(self) -> str:
        rows = ""
        if self.account:
            a = self.account
            rows = (
                f"; candidate rates: {a.rows_seen:,} seen, {a.rows_loaded:,} loadable, {a.rows_quarantined:,} "
                f"quarantined, {a.rows_filtered_out:,} filtered out, {a.rows_deduplicated:,} duplicates"
            )
        state = "readable" if self.readable else "holds no rates to load" if self.valid else "NOT readable"
        verdict = "VALID" if self.valid else "INVALID"
        against = f" (CMS v{self.cms_version} rules)" if self.cms_version else ""
        return f"{verdict}{against}: {self.errors:,} error(s), {self.warnings:,} warning(s); file {state}{rows}"


def validate_sources(paths: Iterable[str | Path], cms_version: str | None = None) -> list[ValidationReport]:
    """One report per file; a zip gives one report per data member (or one error report when it has none)."""
    reports: list[ValidationReport] = []
    for path in map(Path, paths):
        if path.is_file() and head_bytes(path).startswith(ZIP_MAGIC):
            reports += _validate_zip(path, cms_version)
        else:
            reports.append(validate_file(path, cms_version))
    return reports


def validate_file(path: str | Path, cms_version: str | None = None, *, name: str | None = None) -> ValidationReport:
    """Every problem of one file (see the module docstring); never raises for a bad file."""
    # The objects that exist before (modules, reference tables) are left out of the garbage collector's full
    # passes while the file is checked: a big file makes hundreds of thousands of problems, and each full pass
    # would walk everything again. They are handed back afterwards.
    gc.freeze()
    try:
        return _validate_file(Path(path), cms_version, name)
    finally:
        gc.unfreeze()


def _validate_file(path: Path, cms_version: str | None, name: str | None) -> ValidationReport:
    shown = name or path.name
    layout: str | None = None
    account: FileAccount | None = None
    used: str | None = None
    problems: list[Problem] = []
    hospital: _Columns | None = None  # a hospital file's problems (column-wise)
    try:  # a FIFO or device is refused before it is opened; an unreadable file is one problem, not a crash
        kind = routing.detect_format(path)
    except (SourceError, OSError) as error:
        kind = routing.UNKNOWN
        reason = "not_a_regular_file" if isinstance(error, SourceError) else "unreadable_file"
        problems.append(Problem("file", SEVERITY_ERROR, reason, _without_name(_os_message(error), path)))
    if problems:
        pass  # the file could not be opened: nothing more to check
    elif kind in (routing.HOSPITAL_CSV, routing.HOSPITAL_JSON):
        check = check_standard_charges(path, source_name=shown, cms_version=cms_version)
        layout, used = check.layout, check.cms_version
        account = check.result.accounts[0] if check.result else None
        first: list[Problem] = []
        if account is not None and used is None and kind == routing.HOSPITAL_CSV:
            first.append(
                Problem(
                    "file",
                    SEVERITY_ERROR,
                    "not_cms_template",
                    "not a CMS template file (v2.0-v3.0 CSV): a pre-template chargemaster that "
                    "paybench can read, but CMS requires the template layout",
                ),
            )
        hospital = _concat(
            _columns(first + check.cms_problems),
            _reader_problems(check.problems, readable=account is not None, cms_checked=used is not None),
        )
    elif kind in (routing.TIC_IN_NETWORK, routing.TIC_OTHER):
        used, layout, account, problems = _check_tic(path, kind, cms_version)
    else:
        message = routing._unsupported(kind)
        if kind == routing.UNKNOWN:
            with open(path, "rb") as handle:
                message += f"; it starts with {handle.read(80)!r}"
        problems.append(Problem("file", SEVERITY_ERROR, "unsupported_file", message))
    return _report(path, shown, kind, layout, problems if hospital is None else hospital, account, used)


def format_problem(row: Any) -> str:
    """One problem as a line of text, for a terminal: what came from the file cannot act there (control and
    bidirectional characters shown as escapes, :func:`~benchmark.safe_text.neutralize_terminal`)."""
    raw = getattr(row, "raw_value", None)
    shown = f"  [value: {raw[:80]!r}]" if isinstance(raw, str) and raw else ""
    return neutralize_terminal(
        f"{row.severity:<7}  {row.location}: {row.reason_code}: {row.detail}{shown}", one_line=True
    )


# ----------------------------------------------------------------------------------------------------------------


# Problems as columns (location, severity, reason_code, detail, raw_value): a big file has hundreds of thousands
_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _columns(problems: list[Problem]) -> _Columns:
    if not problems:
        return tuple(np.empty(0, dtype=object) for _ in range(5))  # type: ignore[return-value]
    return tuple(np.array(column, dtype=object) for column in zip(*problems))  # type: ignore[return-value]


def _concat(*parts: _Columns) -> _Columns:
    return tuple(np.concatenate(columns) for columns in zip(*parts))  # type: ignore[return-value]


def _reader_problems(found: list[Problem], *, readable: bool, cms_checked: bool) -> _Columns:
    """The reader's problems as validation problems: those restating a CMS rule dropped when the CMS rules were
    checked; in a readable file, its errors (candidate rates not loaded) become warnings (column-wise)."""
    location, severity, reason, detail, raw = _columns(found)
    if not len(location):
        return location, severity, reason, detail, raw
    kinds = set(reason.tolist())
    keep = np.ones(len(reason), dtype=bool)
    if cms_checked and kinds & _RESTATED:
        keep = ~np.isin(reason, list(kinds & _RESTATED))
    if readable:
        demote = severity == SEVERITY_ERROR
        if kinds & _FILE_DAMAGE:
            demote &= ~np.isin(reason, list(kinds & _FILE_DAMAGE))
        if demote.any():
            severity = severity.copy()
            detail = detail.copy()
            severity[demote] = SEVERITY_WARNING
            detail[demote] = np.add("not loaded: ", detail[demote])
    if not keep.all():
        return location[keep], severity[keep], reason[keep], detail[keep], raw[keep]
    return location, severity, reason, detail, raw


def _check_tic(
    path: Path, kind: str, cms_version: str | None
) -> tuple[str | None, str, FileAccount | None, list[Problem]]:
    """(CMS version, layout, account, problems) of a TiC file: the CMS schema, then (in-network) the reader."""
    schema_kind = cms_schema.tic_kind(path) if kind == routing.TIC_OTHER else "in-network-rates"
    names = {
        "in-network-rates": "TiC in-network rate file",
        "table-of-contents": "TiC table of contents",
        "allowed-amounts": "TiC allowed-amounts file",
        "provider-reference": "TiC provider-reference file",
    }
    if schema_kind is None:
        return None, "TiC file", None, [Problem("file", SEVERITY_ERROR, "unsupported_file", routing._unsupported(kind))]
    used, problems = cms_schema.check_tic_file(path, schema_kind, cms_version)
    layout = f"{names[schema_kind]}"
    account = None
    if schema_kind == "in-network-rates":
        try:
            result = read_in_network(path)
        except TicFileError as error:
            problems.append(Problem("file", SEVERITY_ERROR, "unreadable_file", _without_name(str(error), path)))
        else:
            account = result.accounts[0]
            quarantine = result.quarantine  # (column by column: itertuples makes a namedtuple class each call)
            problems += [
                Problem(locator, SEVERITY_WARNING, reason, f"not loaded: {detail}", raw)
                for locator, reason, detail, raw in zip(
                    quarantine["source_locator"],
                    quarantine["reason_code"],
                    quarantine["detail"],
                    quarantine["raw_value"],
                )
            ]
    return used, layout, account, problems


def _validate_zip(path: Path, cms_version: str | None) -> list[ValidationReport]:
    try:
        members = zip_sources(Source(str(path)), Limits())
    except (SourceError, zipfile.BadZipFile, OSError) as error:
        problem = Problem("file", SEVERITY_ERROR, "unreadable_archive", str(error))
        return [_report(path, path.name, "zip", None, [problem], None, None)]
    if not members:
        return [_report(path, path.name, "zip", None, [_empty_archive(path)], None, None)]
    reports = []
    for member in members:
        try:
            with _spilled(member) as local:
                reports.append(validate_file(local, cms_version, name=member.name))
        except (SourceError, zipfile.BadZipFile, OSError) as error:
            problem = Problem("file", SEVERITY_ERROR, "unreadable_archive", str(error))
            reports.append(_report(path, member.name, "zip member", None, [problem], None, None))
    return reports


def _empty_archive(path: Path) -> Problem:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "") if names else "no files at all"
    return Problem(
        "file",
        SEVERITY_ERROR,
        "empty_archive",
        f"a zip archive without a data file (.csv, .json, .gz, .zip); it holds: {shown}",
    )


@contextmanager
def _spilled(member: Source) -> Iterator[Path]:
    """A zip member as a temporary local file (readers and checks need to seek)."""
    suffix = "".join(Path(member.file_name).suffixes[-2:])
    with tempfile.TemporaryDirectory(prefix="paybench-validate-") as folder:
        local = Path(folder) / f"member{suffix}"
        with member.open() as stream, open(local, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        yield local


def _report(
    path: Path,
    shown: str,
    kind: str,
    layout: str | None,
    problems: list[Problem] | _Columns,
    account: FileAccount | None,
    used: str | None,
) -> ValidationReport:
    location, severity, reason, detail, raw = _columns(problems) if isinstance(problems, list) else problems
    frame = pd.DataFrame(
        {
            "source_file": [shown] * len(location),
            "location": location,
            "severity": severity,
            "reason_code": reason,
            "detail": detail,
            "raw_value": pd.Series(raw, dtype=object),
        },  # in PROBLEM_COLUMNS order (columns= would have pandas look every key up again)
    )
    frame = frame.iloc[_file_order(frame["location"])].reset_index(drop=True) if len(frame) else frame
    return ValidationReport(path, kind, layout, check_built(ProblemSchema, frame, lazy=False), account, shown, used)


def _os_message(error: BaseException) -> str:
    if isinstance(error, OSError) and not isinstance(error, SourceError) and error.strerror:
        return error.strerror
    return str(error)


def _file_order(locations: pd.Series) -> list[int] | np.ndarray:
    """Positions sorting problems by line number (file-level ones first, JSON paths in document order)."""
    text = pyarrow.array(locations.tolist(), pyarrow.string())
    found = pc.struct_field(pc.extract_regex(text, r"^line (?P<n>\d+)"), "n")
    on_line = found.is_valid().to_numpy(zero_copy_only=False)
    if on_line.all() or not locations[~on_line].str.contains(r"\[\d+\]", regex=True).any():
        # CSV problems: "line N ..." sorted by N, the others ("file", a header name) first; ties keep their order
        number = pc.cast(found.fill_null("0"), pyarrow.int64()).to_numpy(zero_copy_only=False)
        return np.lexsort((np.arange(len(locations)), number, on_line))

    def key(item: tuple[int, str]) -> tuple:
        position, location = item
        if m := re.match(r"line (\d+)", location):
            return (1, int(m.group(1)), position)
        numbers = tuple(int(n) for n in re.findall(r"\[(\d+)\]", location))
        return (0 if not numbers else 1, numbers or (0,), position)

    return [position for position, _ in sorted(enumerate(locations), key=key)]


def _without_name(message: str, path: Path) -> str:
    return message.removeprefix(f"{path.name}: ")
