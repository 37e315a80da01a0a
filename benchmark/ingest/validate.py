"""Check a price-transparency file without loading it: every problem, with where it is, how bad and why.

:func:`validate_file` recognises the file's kind from its content (like ``paybench ingest``), reads it with the
reader of that kind and lists

- file-level problems (severity ``error``: the file, or its header, cannot be read -- an HTML page, a zip, template
  placeholders left in the headers, a wide header with the wrong number of ``|`` segments, a meaningful column
  twice, neither tall nor wide, an unbalanced quote swallowing rows...) -- all of those found in the header rows,
  not only the first;
- every row that would be quarantined (severity ``error``, with the same reason code and the published value);
- every value that was normalized or breaks a CMS rule but can still be loaded (severity ``warning``: a revenue
  code ``450`` read as ``0450``, a modifier split off a code, cp1252 bytes, a short row, a negotiated dollar without
  min/max, an impossible ``last_updated_on``...).

Nothing is cut off: the list has every problem, however many (use the CSV output for big files). An unbalanced
quote is reported and reading resumes on the next line, so the rows after it are checked too. Nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from benchmark.accounts import FileAccount
from benchmark.ingest import routing as pipeline
from benchmark.ingest.hospital.reader import check_standard_charges
from benchmark.ingest.tic.reader import read_in_network
from benchmark.normalize.hospital_units import SEVERITY_ERROR, SEVERITY_WARNING, Problem

SEVERITIES = [SEVERITY_ERROR, SEVERITY_WARNING]


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

    @property
    def errors(self) -> int:
        return int((self.problems["severity"] == SEVERITY_ERROR).sum())

    @property
    def warnings(self) -> int:
        return int((self.problems["severity"] == SEVERITY_WARNING).sum())

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
                f"quarantined, {a.rows_filtered_out:,} without a rate, {a.rows_deduplicated:,} duplicates"
            )
        state = "readable" if self.readable else "NOT readable"
        return f"{self.errors:,} error(s), {self.warnings:,} warning(s); file {state}{rows}"


def validate_file(path: str | Path) -> ValidationReport:
    """Every problem of one file (see the module docstring); never raises for a bad file."""
    path = Path(path)
    kind = pipeline.detect_format(path)
    problems: list[Problem] = []
    layout = None
    account = None
    if kind in (pipeline.HOSPITAL_CSV, pipeline.HOSPITAL_JSON):
        check = check_standard_charges(path)
        problems, layout = check.problems, check.layout
        account = check.result.accounts[0] if check.result else None
    elif kind == pipeline.TIC_IN_NETWORK:
        layout = "TiC in-network rate file"
        try:
            result = read_in_network(path)
        except ValueError as error:
            problems.append(Problem("file", SEVERITY_ERROR, "unreadable_file", _without_name(str(error), path)))
        else:
            account = result.accounts[0]
            problems += [
                Problem(q.source_locator, SEVERITY_ERROR, q.reason_code, q.detail, q.raw_value)
                for q in result.quarantine.itertuples(index=False)
            ]
    else:
        try:
            pipeline.reader_for(kind)
            message = kind
        except pipeline.UnsupportedFileError as error:
            message = str(error)
        if kind == pipeline.UNKNOWN:
            with open(path, "rb") as handle:
                message += f"; it starts with {handle.read(80)!r}"
        problems.append(Problem("file", SEVERITY_ERROR, "unsupported_file", message))
    frame = pd.DataFrame(
        [
            {
                "source_file": path.name,
                "location": p.location,
                "severity": p.severity,
                "reason_code": p.reason_code,
                "detail": p.detail,
                "raw_value": p.raw_value,
            }
            for p in problems
        ],
        columns=PROBLEM_COLUMNS,
    )
    frame = frame.iloc[_file_order(frame["location"])].reset_index(drop=True) if len(frame) else frame
    return ValidationReport(path, kind, layout, ProblemSchema.validate(frame), account)


def format_problem(row: Any) -> str:
    """One problem as a line of text (``row``: a problems-table row, a Series or an itertuples() tuple)."""
    raw = getattr(row, "raw_value", None)
    shown = f"  [value: {raw[:80]!r}]" if isinstance(raw, str) and raw else ""
    return f"{row.severity:<7}  {row.location}: {row.reason_code}: {row.detail}{shown}"


def _file_order(locations: pd.Series) -> list[int]:
    """Positions sorting problems by line number (file-level ones first, JSON paths in document order)."""

    def key(item: tuple[int, str]) -> tuple:
        position, location = item
        if m := re.match(r"line (\d+)", location):
            return (1, int(m.group(1)), position)
        numbers = tuple(int(n) for n in re.findall(r"\[(\d+)\]", location))
        return (0 if not numbers else 1, numbers or (0,), position)

    return [position for position, _ in sorted(enumerate(locations), key=key)]


def _without_name(message: str, path: Path) -> str:
    return message.removeprefix(f"{path.name}: ")
