"""Read the CMS hospital standard-charge CSV templates (v2.0-v2.2 and v3.0, tall and wide) into units.

Layout (FORMATS.md section 2.1)
    Row 1 holds the general data element headers (hospital_name, last_updated_on, version, location_name or
    hospital_location, hospital_address, ``license_number|[state]``, type_2_npi, the attestation/affirmation text...),
    row 2 their values, row 3 the column headers, data from row 4. Headers are matched case-insensitively, with spaces
    around ``|`` and a UTF-8 BOM tolerated. A file is *tall* when row 3 has ``payer_name``/``plan_name`` and
    ``standard_charge|negotiated_*`` columns (one payer/plan per data row), *wide* when payer/plan are encoded in the
    headers (``standard_charge|[payer]|[plan]|negotiated_dollar``, ``median_amount|[payer]|[plan]``...; one data row
    carries many payer/plan groups). :func:`read_layout` lists every problem of rows 1-3 at once; the reader refuses
    the file when one of them is an error (no column headers, template placeholders like ``code|[i]`` left in,
    neither or both of tall and wide, a wide header with the wrong number of ``|`` segments, a meaningful column
    twice).

How rows are read (speed)
    Data rows are read in chunks of whole lines (8 MB; 16 MB for files of 200+ columns), counted and parsed by
    pyarrow's CSV reader in two worker threads -- only the columns rates are made from, as bytes -- while the main
    thread works on the previous chunk: counting, the code filter and the gathering of units are whole-column
    operations on the Arrow buffers, so only the units of wanted codes ever become Python objects. A chunk is read
    record by record with Python's csv module instead (same results, slower) when the fast parser cannot vouch for
    it: an odd number of quotes (a quoted field may cross the cut), rows shorter or longer than the header (or, when
    validating, bytes that are not UTF-8), or a row count that does not match the line count (quoted line breaks,
    blank lines: then line numbers come from the quote parity of each line). Line numbers are physical lines, as an
    editor shows them. Cells are decoded as UTF-8, else cp1252.

Row accounting (the unit of ``FileAccount``) -- see :mod:`benchmark.ingest.hospital.reader`.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import ParamSpec, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from benchmark.arrow_text import string_buffers
from benchmark.ingest.hospital.cell_facts import CellFacts
from benchmark.ingest.hospital.clean_units import CleanUnits
from benchmark.ingest.hospital.csvtext import ByteSource, Chunk, Record, UnbalancedQuoteError, records
from benchmark.normalize.hospital_units import (
    PAYER_FIELDS,
    SEVERITY_ERROR,
    SEVERITY_WARNING,
    UNIT_COLUMNS,
    HospitalFileError,
    HospitalMeta,
    Problem,
    Sink,
    code_variants,
)

_PARSE_THREADS = 2  # chunks parsed at the same time
CHUNK_BYTES = 8 << 20  # per 100 columns (a wide file's chunks are larger: per-column work is paid per chunk)
_PARSE_BLOCK = 4 << 20

US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)
_ADDRESS_STATE = re.compile(r",\s*([A-Za-z]{2})\.?\s+\d{5}(?:-\d{4})?\s*$")
_CODE_HEADER = re.compile(r"^code\|(\d+)$")
_CODE_TYPE_HEADER = re.compile(r"^code\|(\d+)\|type$")

# Payer-specific fields: normalized tall header -> unit field.
TALL_FIELDS = {
    "standard_charge|negotiated_dollar": "dollar",
    "standard_charge|negotiated_percentage": "percentage",
    "standard_charge|negotiated_algorithm": "algorithm",
    "standard_charge|methodology": "methodology",
    "estimated_amount": "estimated",
    "median_amount": "median",
    "10th_percentile": "p10",
    "90th_percentile": "p90",
    "count": "count",
}
# Wide headers: standard_charge|[payer]|[plan]|<suffix> and <prefix>|[payer]|[plan].
WIDE_SUFFIX_FIELDS = {
    "negotiated_dollar": "dollar",
    "negotiated_percentage": "percentage",
    "negotiated_algorithm": "algorithm",
    "methodology": "methodology",
}
WIDE_PREFIX_FIELDS = {
    "estimated_amount": "estimated",
    "median_amount": "median",
    "10th_percentile": "p10",
    "90th_percentile": "p90",
    "count": "count",
    "additional_payer_notes": "notes",
}
# Item fields: normalized header -> unit field.
ITEM_HEADERS = {
    "modifiers": "modifiers_raw",
    "setting": "setting_raw",
    "billing_class": "billing_class_raw",
    "standard_charge|gross": "gross_raw",
    "standard_charge|discounted_cash": "cash_raw",
    "standard_charge|min": "min_raw",
    "standard_charge|max": "max_raw",
    "drug_unit_of_measurement": "drug_unit_raw",
    "drug_type_of_measurement": "drug_type_raw",
}
_IGNORED_HEADERS = {"description", "additional_generic_notes", "financial_aid_policy", "general_contract_provisions"}
_CHARGE_FIELDS = ("dollar", "percentage", "algorithm")


@dataclass
class PayerColumns:
    """Where one payer/plan group's values are. Tall files have one group whose payer/plan come from the row."""

    payer: str | None
    plan: str | None
    label: str | None  # wide only: "standard_charge|payer|plan", used in source_locator
    columns: dict[str, int] = field(default_factory=dict)  # unit field -> column index
    value_fields: tuple[str, ...] = ()  # fields whose presence makes the group count


@dataclass
class Layout:
    """Where everything is in the rows of one table (a CMS template file, or one section of a legacy file)."""

    kind: str  # "tall" | "wide" | "legacy" (legacy sections read like wide files: one group per payer column)
    header_line: int
    headers: list[str]
    columns: dict[str, int]  # normalized fixed header -> first index
    codes: list[tuple[int, int | None]]  # (code column, type column) ordered by i
    groups: list[PayerColumns]
    meta: HospitalMeta

    @property
    def n_columns(self) -> int:
        return len(self.headers)

    def describe(self) -> str:
        what = f"{len(self.groups)} payer/plan groups" if self.kind == "wide" else "one payer/plan per row"
        return (
            f"CMS template v{self.meta.version or '?'} CSV, {self.kind} ({self.n_columns} columns, {what}, "
            f"{len(self.codes)} code columns), column headers on line {self.header_line}"
        )


# ----------------------------------------------------------------------------------------------------------------
# Rows 1-3


def norm_header(header: str) -> str:
    """Header as matched: BOM dropped, lower case, no spaces around "|"."""
    return "|".join(part.strip().lower() for part in header.replace("\ufeff", "").split("|"))


def is_column_header_row(cells: list[str]) -> bool:
    names = [norm_header(c) for c in cells]
    return "description" in names and any(_CODE_HEADER.match(n) for n in names)


def looks_like_template(first: list[Record]) -> bool:
    """Rows 1-3 are CMS template rows: the column headers on row 3 (or, wrongly, on row 1)."""
    return any(is_column_header_row(r.cells) for r in first[:3]) or (
        bool(first) and "hospital_name" in [norm_header(c) for c in first[0].cells]
    )


def read_layout(first: list[Record]) -> tuple[Layout | None, list[Problem]]:
    """The layout from rows 1-3 and every problem found in them (the layout is None after an error)."""
    problems: list[Problem] = []

    def error(line: int, reason: str, detail: str) -> tuple[None, list[Problem]]:
        problems.append(Problem(f"line {line}", SEVERITY_ERROR, reason, detail))
        return None, problems

    if first and is_column_header_row(first[0].cells):
        return error(
            first[0].first_line,
            "missing_general_rows",
            "the column headers (description, code|1, ...) are on the first row; the two general-data rows "
            "(hospital_name, last_updated_on, ... and their values) are missing",
        )
    if len(first) < 3:
        return error(
            first[-1].last_line if first else 1,
            "too_few_rows",
            f"only {len(first)} CSV row(s); expected general headers, their values and column headers",
        )
    general, values, header = first[:3]
    names = [norm_header(c) for c in header.cells]
    seen = ", ".join(repr(c[:40]) for c in header.cells[:8]) or "an empty row"
    line = header.first_line
    if not is_column_header_row(header.cells):
        missing = "'description'" if "description" not in names else "'code|1'"
        if any("[" in n for n in names):
            missing += " (template placeholders like code|[i] or [payer_name] not replaced)"
        error(
            line,
            "no_column_headers",
            f"expected the CMS column-header row (description, code|1, code|1|type, "
            f"setting, ...) but it has no {missing} column; saw {seen}",
        )
        if "description" not in names:
            return None, problems  # not a header row at all: nothing more to check in it

    columns: dict[str, int] = {}
    code_cols: dict[int, int] = {}
    type_cols: dict[int, int] = {}
    groups: dict[tuple[str, str], PayerColumns] = {}
    first_seen: dict[str, int] = {}
    for index, (raw, name) in enumerate(zip(header.cells, names)):
        where = f"line {line} column {index + 1}"
        if name in first_seen and name:
            meaningful = name not in _IGNORED_HEADERS
            problems.append(
                Problem(
                    where,
                    SEVERITY_ERROR if meaningful else SEVERITY_WARNING,
                    "duplicate_column",
                    f"column {raw.strip()!r} appears twice (columns {first_seen[name] + 1} and {index + 1})"
                    + ("; cannot tell which one holds the values" if meaningful else "; the first one is read"),
                )
            )
            continue
        first_seen[name] = index
        if "[" in name and "]" in name:
            problems.append(
                Problem(
                    where,
                    SEVERITY_ERROR,
                    "placeholder_header",
                    f"template placeholder left in column header {raw.strip()!r}",
                )
            )
        elif m := _CODE_HEADER.match(name):
            code_cols[int(m.group(1))] = index
        elif m := _CODE_TYPE_HEADER.match(name):
            type_cols[int(m.group(1))] = index
        elif (wide := _wide_header(raw)) is not None:
            if isinstance(wide, str):
                problems.append(Problem(where, SEVERITY_ERROR, "bad_wide_header", wide))
                continue
            payer, plan, field_name = wide
            group = groups.setdefault(
                (payer.lower(), plan.lower()), PayerColumns(payer, plan, f"standard_charge|{payer}|{plan}")
            )
            group.columns[field_name] = index
        else:
            columns[name] = index
            known = (
                name in ITEM_HEADERS
                or name in TALL_FIELDS
                or name in _IGNORED_HEADERS
                or name in ("payer_name", "plan_name")
            )
            if not known and name:
                problems.append(
                    Problem(
                        where,
                        SEVERITY_WARNING,
                        "unknown_column",
                        f"column {raw.strip()!r} is not in the CMS data dictionary; ignored",
                    )
                )
    for i, index in sorted(type_cols.items()):
        if i not in code_cols:
            problems.append(
                Problem(
                    f"line {line} column {index + 1}",
                    SEVERITY_ERROR,
                    "code_type_without_code",
                    f"code|{i}|type has no code|{i} column",
                )
            )

    tall_fields = {f: columns[h] for h, f in TALL_FIELDS.items() if h in columns}
    is_tall = "payer_name" in columns and any(f in tall_fields for f in _CHARGE_FIELDS)
    if is_tall and groups:
        problems.append(
            Problem(
                f"line {line}",
                SEVERITY_ERROR,
                "tall_and_wide",
                "both tall (payer_name, plan_name) and wide (standard_charge|[payer]|[plan]|...) payer "
                "columns; cannot tell the layout",
            )
        )
    elif not is_tall and not groups:
        problems.append(
            Problem(
                f"line {line}",
                SEVERITY_ERROR,
                "neither_tall_nor_wide",
                "neither tall (payer_name + standard_charge|negotiated_*) nor wide "
                f"(standard_charge|[payer]|[plan]|negotiated_*) payer columns; saw {seen}",
            )
        )
    meta = _hospital(general, values, problems)
    if is_tall:
        notes = columns.get("additional_generic_notes")
        tall_group = PayerColumns(None, None, None, dict(tall_fields), tuple(tall_fields))
        if notes is not None:
            tall_group.columns["notes"] = notes
        payer_groups = [tall_group]
    else:
        payer_groups = list(groups.values())
        for group in payer_groups:
            group.value_fields = tuple(group.columns)
            expected = {"dollar", "percentage", "algorithm", "methodology", "notes"} | (
                {"median", "p10", "p90", "count"} if (meta.version or "").startswith("3") else {"estimated"}
            )
            absent = sorted(expected - set(group.columns))
            if absent:
                problems.append(
                    Problem(
                        f"line {line}",
                        SEVERITY_WARNING,
                        "incomplete_wide_group",
                        f"payer/plan {group.label!r} lacks the {', '.join(absent)} column(s) the "
                        "template requires for every payer/plan",
                    )
                )
    if any(p.severity == SEVERITY_ERROR for p in problems):
        return None, problems
    layout = Layout(
        kind="tall" if is_tall else "wide",
        header_line=line,
        headers=header.cells,
        columns=columns,
        codes=[(code_cols[i], type_cols.get(i)) for i in sorted(code_cols)],
        groups=payer_groups,
        meta=meta,
    )
    return layout, problems


def _wide_header(raw: str) -> tuple[str, str, str] | str | None:
    """(payer, plan, field) of a wide payer-specific header; a message when it is one with the wrong number of
    ``|`` segments; None when it is not a wide header.

    A "|" inside a payer name gives extra segments: the plan is taken as the segment just before the field suffix
    (or the last one) and the payer as everything between, re-joined with "|".
    """
    parts = [p.strip() for p in raw.replace("\ufeff", "").split("|")]
    prefix, suffix = parts[0].lower(), parts[-1].lower()
    if prefix == "standard_charge" and suffix in WIDE_SUFFIX_FIELDS and len(parts) > 2:
        if len(parts) < 4 or not all(parts[1:-1]):
            return (
                f"wide header {raw.strip()!r} has {len(parts)} '|' segments; expected "
                f"standard_charge|[payer_name]|[plan_name]|{suffix}"
            )
        return "|".join(parts[1:-2]), parts[-2], WIDE_SUFFIX_FIELDS[suffix]
    if prefix in WIDE_PREFIX_FIELDS and len(parts) > 1:
        if len(parts) < 3 or not all(parts[1:]):
            return (
                f"wide header {raw.strip()!r} has {len(parts)} '|' segments; expected {prefix}|[payer_name]|[plan_name]"
            )
        return "|".join(parts[1:-1]), parts[-1], WIDE_PREFIX_FIELDS[prefix]
    return None


def _hospital(general: Record, values: Record, problems: list[Problem]) -> HospitalMeta:
    meta: dict[str, str] = {}
    names = [norm_header(c) for c in general.cells]
    for name, value in zip(names, values.cells):
        if name and value.strip():
            meta.setdefault(name, value.strip())
    state = license_number = None
    for name, value in zip(names, values.cells + [""] * len(names)):
        if m := re.fullmatch(r"license_number\|(.+)", name):
            license_number = value.strip() or None
            if m.group(1).upper() in US_STATES:
                state = m.group(1).upper()
            break
    if state is None:
        found = {
            m.group(1).upper()
            for address in meta.get("hospital_address", "").split("|")
            if (m := _ADDRESS_STATE.search(address.strip()))
        } & US_STATES
        state = found.pop() if len(found) == 1 else None
    where = f"line {values.first_line}"
    for required in ("hospital_name", "last_updated_on", "version"):
        if required not in meta:
            problems.append(
                Problem(
                    where, SEVERITY_WARNING, "missing_general_value", f"general data element {required} has no value"
                )
            )
    updated = meta.get("last_updated_on")
    if updated and not valid_date(updated.strip()):
        problems.append(
            Problem(
                where,
                SEVERITY_WARNING,
                "bad_date",
                f"last_updated_on {updated!r} is not a real date in YYYY-MM-DD or M/D/YYYY form",
                updated,
            )
        )
    return HospitalMeta(
        name=meta.get("hospital_name"),
        state=state,
        npis=_pipe_join(meta.get("type_2_npi")),
        location=_pipe_join(meta.get("location_name") or meta.get("hospital_location")),
        address=_pipe_join(meta.get("hospital_address")),
        license=license_number,
        last_updated_on=updated,
        version=meta.get("version"),
    )


def _pipe_join(text: str | None) -> str | None:
    parts = [p.strip() for p in (text or "").split("|") if p.strip()]
    return "|".join(parts) or None


def valid_date(text: str) -> bool:
    """A CMS date: YYYY-MM-DD or M/D/YYYY (month and day of one or two digits), and a real calendar date. The one
    rule of the reader's warning and of ``paybench validate`` (:mod:`.cms_csv`)."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------------------------------
# Data rows


def read_rows(
    source: ByteSource, layout: Layout, sink: Sink, *, resync: bool = False, check: RowCheck | None = None
) -> None:
    """Read every data row after the header into ``sink`` (fast columnar chunks, record by record when needed).

    ``resync`` (validation): after an unbalanced quote, report it and go on from the next line instead of failing.
    ``check`` (validation): rules applied to every table of rows (all columns, as text; it keeps its problems).
    """
    reader = _RowReader(layout, sink)
    parser = _ChunkParser(layout, all_columns=sink.collect_problems)
    # validating: per-column facts shared by the CMS rules and the fast path (the columns are text there), computed
    # in the parsing threads beside the checks of the chunk before (they only read the chunk's own table)
    prepare = functools.partial(_prepare, check, reader) if sink.check_only else None
    for table, lines, full, ready in _tables(source, layout, sink, parser, resync=resync, prepare=prepare):
        facts = ready if ready is not None else CellFacts(table) if sink.check_only else None
        if check is not None:
            check.check(table, lines, facts)
        reader.table(table, lines, full, facts)
    for line in sorted(set(source.cp1252_lines)):
        sink.problem(f"line {line}", SEVERITY_WARNING, "not_utf8", "bytes that are not UTF-8; decoded as cp1252")


class RowCheck(Protocol):
    """Rules applied to the data rows while they are read (:class:`benchmark.ingest.hospital.cms_csv.RowRules`)."""

    def check(self, table: pa.Table, lines: np.ndarray, facts: CellFacts | None = None) -> None: ...

    def prefetch(self, facts: CellFacts) -> None: ...


def _prepare(check: RowCheck | None, reader: _RowReader, table: pa.Table) -> CellFacts:
    """The facts of a table's columns that the row rules and the fast path will ask for (what they would compute
    on first use, computed ahead)."""
    facts = CellFacts(table)
    if check is not None:
        check.prefetch(facts)
    reader.prefetch(table, facts)
    return facts


_Parsed = tuple[pa.Table, np.ndarray, "Callable[[], pa.Table] | None", CellFacts | None]
_NO_LINES = np.zeros(0, dtype=np.int64)


def _tables(
    source: ByteSource,
    layout: Layout,
    sink: Sink,
    parser: _ChunkParser,
    *,
    resync: bool,
    prepare: Callable[[pa.Table], CellFacts] | None = None,
) -> Iterator[_Parsed]:
    """Tables of data rows in file order (with their facts from ``prepare``, when given and the chunk was parsed
    whole). The next chunks are counted, parsed and prepared by worker threads (numpy and pyarrow release the GIL;
    one pyarrow parse uses one core) while the caller works on the current one; a chunk the fast parser cannot
    vouch for is read record by record."""

    def work(chunk: Chunk) -> tuple[pa.Table | None, np.ndarray, int, CellFacts | None]:
        table, rows_at, lines = parser.parse(chunk)
        return table, rows_at, lines, prepare(table) if prepare is not None and table is not None else None

    size = CHUNK_BYTES * max(1, min(2, layout.n_columns // 100))
    line = source.line  # where the next chunk to yield starts
    # the rest of a file that fits in one chunk (most files) is parsed in this thread: there is nothing to overlap,
    # and starting and joining the threads would cost a small file more than its parse
    pool = _InPlace() if source.fits(size) else ThreadPoolExecutor(max_workers=_PARSE_THREADS)
    with pool:
        ahead: deque[tuple[Chunk, Future]] = deque()
        while True:
            while len(ahead) <= _PARSE_THREADS and not source.exhausted:
                chunk = source.take_chunk(size, count=False)
                ahead.append((chunk, pool.submit(work, chunk)))
            if not ahead:
                return
            chunk, future = ahead.popleft()
            table, rows_at, lines, facts = future.result()
            if table is not None:
                yield table, line + rows_at, functools.partial(parser.full, chunk) if parser.partial else None, facts
                line += lines
                continue
            put_back = [chunk] + [c for c, _ in ahead]
            for _, pending in ahead:
                pending.result()
            ahead.clear()
            source.push_back(b"".join(bytes(c.data) for c in put_back), 0)
            source.line = line
            table, row_lines = _slow_table(source, layout, sink, source.offset + len(chunk.data), resync=resync)
            yield table, row_lines, None, None
            line = source.line


_P = ParamSpec("_P")
_T = TypeVar("_T")


class _InPlace(Executor):
    """An executor that runs each task at once in the calling thread (its future is done when submit returns)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # delivered by future.result(), as a thread pool does
            future.set_exception(error)
        return future


class _ChunkParser:
    """Parses chunks of whole lines into columns named c0, c1, ... (by column index).

    Reading rates, only the columns rates are made from are parsed, as bytes (``binary``: no UTF-8 check; the
    few cells that become units are decoded, UTF-8 else cp1252). Validating, every column is parsed as UTF-8 text,
    so that a line with other bytes goes the record-by-record way and is reported.
    """

    def __init__(self, layout: Layout, *, all_columns: bool) -> None:
        self.names = [f"c{i}" for i in range(layout.n_columns)]
        needed = set(_needed_columns(layout))
        self.include = self.names if all_columns else [n for i, n in enumerate(self.names) if i in needed]
        types = {n: pa.string() if all_columns else pa.binary() for n in self.names}
        self.read_options = pacsv.ReadOptions(column_names=self.names, block_size=_PARSE_BLOCK)
        self.convert = pacsv.ConvertOptions(
            column_types=types,
            include_columns=self.include,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self.convert_all = pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
        )
        self.plain = pacsv.ParseOptions(newlines_in_values=False)
        self.quoted = pacsv.ParseOptions(newlines_in_values=True)

    @property
    def partial(self) -> bool:
        return len(self.include) < len(self.names)

    def parse(self, chunk: Chunk) -> tuple[pa.Table | None, np.ndarray, int]:
        """(the chunk's table or None when it must be read record by record, the line of each row counted from
        the chunk's first line = 0, the number of lines in the chunk)."""
        chunk = chunk.counted()
        if chunk.quotes % 2:
            return None, _NO_LINES, chunk.lines
        table = self._read(chunk, self.convert)
        if table is None:
            return None, _NO_LINES, chunk.lines
        if table.num_rows == chunk.lines:
            return table, np.arange(chunk.lines, dtype=np.int64), chunk.lines
        rows_at = _record_lines(chunk.data, 0)
        if len(rows_at) != table.num_rows:
            return None, _NO_LINES, chunk.lines
        return table, rows_at, chunk.lines

    def full(self, chunk: Chunk) -> pa.Table | None:
        """The chunk with every column (when :attr:`partial`, to look at the columns not parsed)."""
        return self._read(chunk.counted(), self.convert_all)

    def _read(self, chunk: Chunk, convert: pacsv.ConvertOptions) -> pa.Table | None:
        """Parse assuming no quoted line breaks (faster: blocks are parsed in parallel from any line end); a
        quoted line break then cuts its record in two rows of the wrong width, so the chunk is parsed again
        allowing them. None when that fails too (short or long rows, bytes that are not UTF-8)."""
        for options in (self.plain, self.quoted) if chunk.quotes else (self.plain,):
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(chunk.data),
                    read_options=self.read_options,
                    convert_options=convert,
                    parse_options=options,
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue
            return table.combine_chunks()  # one Arrow chunk per column: cheaper to look at its buffers
        return None


def _needed_columns(layout: Layout) -> list[int]:
    """Columns the rates are made from (the others -- description, drug units, free text -- are not parsed)."""
    needed = [i for pair in layout.codes for i in pair if i is not None]
    needed += [layout.columns[h] for h in (*ITEM_HEADERS, "payer_name", "plan_name") if h in layout.columns]
    needed += [i for group in layout.groups for i in group.columns.values()]
    return sorted(set(needed))


def _record_lines(chunk: memoryview, first_line: int) -> np.ndarray:
    """Line numbers where the non-blank records of ``chunk`` start (quote parity at each line start is even)."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    lf, cr = data == 10, data == 13
    lone_cr = cr & ~np.append(lf[1:], False)
    ends = np.flatnonzero(lf | lone_cr)
    starts = np.concatenate(([0], ends + 1))
    content_end = np.concatenate((ends, [len(data)]))
    crlf = np.zeros(len(content_end), dtype=bool)
    crlf[:-1] = lf[ends] & (ends > 0) & cr[np.maximum(ends - 1, 0)]
    content_end = content_end - crlf
    if starts[-1] >= len(data):  # the chunk ends with a line end: no line after it
        starts, content_end = starts[:-1], content_end[:-1]
    quotes = np.concatenate(([0], np.cumsum(data == 34)))
    even = quotes[starts] % 2 == 0
    return first_line + np.flatnonzero(even & (content_end > starts)).astype(np.int64)


def fit_to_header(record: Record, width: int, sink, *, warn_short: bool = True) -> list[str] | None:
    """The cells of ``record`` aligned to ``width`` column headers.

    Short rows are padded with blanks (a ``short_row`` warning when ``warn_short``); extra cells are dropped when
    blank; a row whose extra cells hold data cannot be aligned: it is quarantined (``malformed_row``) and None
    returned.
    """
    cells = record.cells
    if len(cells) > width:
        if any(c.strip() for c in cells[width:]):
            sink.quarantine(
                f"line {record.first_line}",
                "malformed_row",
                f"{len(cells)} cells but {width} column headers; columns cannot be aligned",
                ",".join(cells)[:500],
            )
            return None
        return cells[:width]
    if len(cells) < width:
        if warn_short:
            sink.problem(
                f"line {record.first_line}",
                SEVERITY_WARNING,
                "short_row",
                f"{len(cells)} cells but {width} column headers; the missing cells are read as blank",
            )
        return cells + [""] * (width - len(cells))
    return cells


def _slow_table(
    source: ByteSource, layout: Layout, sink: Sink, stop: int, *, resync: bool
) -> tuple[pa.Table, np.ndarray]:
    """Records up to ``stop`` read one by one: short rows padded, long rows quarantined, blank records skipped."""
    width = layout.n_columns
    rows: list[list[str]] = []
    lines: list[int] = []

    def unbalanced(error: UnbalancedQuoteError) -> None:
        sink.problem(
            f"line {error.first_line}",
            SEVERITY_ERROR,
            "unbalanced_quote",
            str(error).split(": ", 1)[1] + "; the line was skipped",
        )

    try:
        for record in records(
            source, stop_at_offset=stop, swallow_columns=width, on_unbalanced=unbalanced if resync else None
        ):
            if record.is_blank():
                continue
            cells = fit_to_header(record, width, sink)
            if cells is None:
                continue
            rows.append(cells)
            lines.append(record.first_line)
    except UnbalancedQuoteError as error:
        raise HospitalFileError(str(error)) from error
    except ValueError as error:
        raise HospitalFileError(str(error)) from error
    columns = list(zip(*rows)) if rows else [()] * width
    table = pa.table({f"c{i}": pa.array(list(col), type=pa.string()) for i, col in enumerate(columns)})
    return table, np.asarray(lines, dtype=np.int64)


class _RowReader:
    """Counts the units of each table and gathers the kept ones (whole-column operations on the Arrow buffers)."""

    def __init__(self, layout: Layout, sink: Sink) -> None:
        self.layout = layout
        self.sink = sink
        self.variants = pa.array(code_variants(sink.wanted), type=pa.string()) if sink.wanted is not None else None
        fixed = {"min": "standard_charge|min", "max": "standard_charge|max"}
        self.file_columns = frozenset(
            {k for k, header in fixed.items() if header in layout.columns}
            | {k for g in layout.groups for k in ("count", "estimated") if k in g.columns}
        )
        self.legacy = layout.kind == "legacy"
        self.clean: CleanUnits | None = None
        if sink.check_only and sink.collect_problems and sink.wanted is None and layout.kind in ("tall", "wide"):
            self.clean = CleanUnits(
                layout.codes,
                {name: layout.columns[header] for header, name in ITEM_HEADERS.items() if header in layout.columns},
                [(g.columns, None if layout.kind == "tall" else g.payer or "") for g in layout.groups],
                layout.columns.get("payer_name") if layout.kind == "tall" else None,
                self.file_columns,
            )

    def prefetch(self, table: pa.Table, facts: CellFacts) -> None:
        """Compute ahead the facts :meth:`table` will ask for (the fast path's)."""
        if self.clean is not None and self.clean.usable(table):
            self.clean.prefetch(facts)

    def table(
        self,
        table: pa.Table,
        lines: np.ndarray,
        full: Callable[[], pa.Table | None] | None = None,
        facts: CellFacts | None = None,
    ) -> None:
        """Count and gather the rows of ``table`` (columns named c<index>; ``full`` gives every column when some
        were not parsed, to tell a row with only a description from a blank one; ``facts``: the table's column
        facts, when they are shared with other checks)."""
        n = table.num_rows
        if n == 0:
            return
        layout, sink = self.layout, self.sink
        value_columns = [[group.columns[name] for name in group.value_fields] for group in layout.groups]
        needed = {i for columns in value_columns for i in columns}
        if facts is not None:  # the lengths are known already
            cells = {i: facts.lengths(i) > 0 for i in needed}
        else:
            cells = {i: nonempty(table.column(f"c{i}")) for i in needed}
        cache: dict[int, np.ndarray] = {}

        def filled(index: int) -> np.ndarray:
            if index not in cache:
                cache[index] = nonblank(table.column(f"c{index}"))
            return cache[index]

        group_has = np.zeros((len(layout.groups), n), dtype=bool)  # any non-empty payer cell (spaces count here)
        for g, columns in enumerate(value_columns):
            for index in columns:
                group_has[g] |= cells[index]
        groups_per_row = group_has.sum(axis=0)
        no_value = groups_per_row == 0
        if no_value.any():
            rows = np.flatnonzero(no_value)
            taken = pa.array(rows)
            any_cell = np.zeros(len(rows), dtype=bool)
            for column in table.take(taken).columns:
                any_cell |= nonblank(column)
            if full is not None and not any_cell.all() and (whole := full()) is not None:
                for column in whole.take(taken).columns:  # a row with only a description is a row
                    any_cell |= nonblank(column)
            sink.filtered(int(any_cell.sum()))  # a row without payer value: one unit, filtered out
            if len(rows) == n:
                return

        code_filled = [filled(code) for code, _ in layout.codes]
        n_codes = np.sum(code_filled, axis=0) if code_filled else np.zeros(n, dtype=np.int64)
        seen = int((groups_per_row * np.maximum(n_codes, 1)).sum())
        if sink.wanted is None:
            keep_code = code_filled
            codeless = ~no_value & (n_codes == 0)
        else:
            keep_code = [
                self._candidates(table.column(f"c{code}"), f) for (code, _), f in zip(layout.codes, code_filled)
            ]
            codeless = np.zeros(n, dtype=bool)
        kept_per_row = np.sum(keep_code, axis=0) if keep_code else np.zeros(n, dtype=np.int64)
        emitted = int((groups_per_row * (kept_per_row + codeless)).sum())
        sink.filtered(seen - emitted)
        rows = np.flatnonzero(~no_value & ((kept_per_row > 0) | codeless))
        clean, n_clean, algorithm_only = None, 0, None
        if self.clean is not None and len(rows) and keep_code and self.clean.usable(table):
            # validation: units that need no normalization are only counted, algorithm-only ones of rows with
            # nothing else to normalize quarantined directly (see clean_units)
            units = group_has[:, None, :] & np.stack(keep_code)[None, :, :]
            clean, algorithm = self.clean.masks(table, facts)
            clean &= units
            algorithm &= units & ~clean
            slow_rows = (units & ~clean & ~algorithm).any(axis=(0, 1)) | (codeless & ~no_value)
            algorithm &= ~slow_rows[None, None, :]
            if algorithm.any():
                algorithm_only = self._algorithm_only(table, lines, algorithm)
                clean |= algorithm
            n_clean = int(clean.sum()) - (len(algorithm_only[0]) if algorithm_only else 0)
            rows = rows[slow_rows[rows]]
            clean = clean[:, :, rows]
        if len(rows) or n_clean or algorithm_only:
            sink.units(
                self._units(
                    table,
                    rows,
                    lines[rows],
                    group_has[:, rows],
                    [k[rows] for k in keep_code],
                    codeless[rows],
                    clean,
                )
                if len(rows)
                else None,
                legacy=self.legacy,
                file_columns=self.file_columns,
                clean=n_clean,
                algorithm_only=algorithm_only,
            )

    def _algorithm_only(self, table: pa.Table, lines: np.ndarray, units: np.ndarray) -> tuple[list, list, list]:
        """(locators, codes, algorithms) of the algorithm-only ``units`` ([group, slot, row]) in unit order."""
        layout = self.layout
        row, group, slot = np.nonzero(units.transpose(2, 0, 1))  # row by row, then group, then code slot
        code_columns = [code for code, _ in layout.codes]
        codes = np.empty(len(row), dtype=object)
        algorithms = np.empty(len(row), dtype=object)
        for k, column in enumerate(code_columns):
            at = np.flatnonzero(slot == k)
            if len(at):
                codes[at] = table.column(f"c{column}").take(pa.array(row[at])).to_pylist()
        for g, payer_group in enumerate(layout.groups):
            at = np.flatnonzero(group == g)
            if len(at):
                column = table.column(f"c{payer_group.columns['algorithm']}")
                algorithms[at] = column.take(pa.array(row[at])).to_pylist()
        line_numbers = lines[row].tolist()
        if layout.kind == "tall":
            locators = [f"line {line}" for line in line_numbers]
        else:
            labels = [f" column {g.label}" for g in layout.groups]
            locators = [f"line {line}{labels[g]}" for line, g in zip(line_numbers, group.tolist())]
        return locators, codes.tolist(), algorithms.tolist()

    def _candidates(self, column: pa.ChunkedArray, filled: np.ndarray) -> np.ndarray:
        """Code cells whose normalized code may be wanted: a known spelling, or one with other characters than
        0-9 and A-Z (punctuation, spaces, lower case), which is normalized and checked one by one."""
        assert self.variants is not None  # called with a code filter only
        variants = self.variants if pa.types.is_string(column.type) else self.variants.cast(column.type)
        known = pc.is_in(column, value_set=variants).to_numpy(zero_copy_only=False)
        return filled & (known | _has_bytes_outside(column, _CODE_BYTES))

    def _units(
        self,
        table: pa.Table,
        rows: np.ndarray,
        lines: np.ndarray,
        group_has: np.ndarray,
        keep_code: list[np.ndarray],
        codeless: np.ndarray,
        clean: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Unit columns (object arrays of text) for the kept ``rows``: one unit per (row, group, code slot), but for
        the ``clean`` ones ([group, slot, row]: counted already)."""
        layout = self.layout
        kept = _as_text(table.take(pa.array(rows)))  # one call for every column, then one cast
        columns = {
            int(name[1:]): column.to_numpy(zero_copy_only=False)
            for name, column in zip(kept.column_names, kept.columns)
        }
        blank = np.full(len(rows), "", dtype=object)

        def cells(index: int | None) -> np.ndarray:
            return blank if index is None else columns[index]

        unit_row, unit_group, unit_slot = [], [], []
        slots = list(enumerate(keep_code)) + [(-1, codeless)]
        for g in range(len(layout.groups)):
            for k, mask in slots:
                wanted = group_has[g] & mask
                if clean is not None and k >= 0:
                    wanted &= ~clean[g, k]
                idx = np.flatnonzero(wanted)
                if len(idx):
                    unit_row.append(idx)
                    unit_group.append(np.full(len(idx), g))
                    unit_slot.append(np.full(len(idx), k))
        row = np.concatenate(unit_row)
        group = np.concatenate(unit_group)
        slot = np.concatenate(unit_slot)
        order = np.lexsort((slot, group, row))
        row, group, slot = row[order], group[order], slot[order]

        def pick(indices: list[int | None], by: np.ndarray) -> np.ndarray:
            """Per unit, the cell of column ``indices[by]`` (blank where the column is None or ``by`` is -1)."""
            matrix = np.column_stack([cells(index) for index in indices] + [blank])
            return matrix[row, by]

        data: dict[str, np.ndarray] = {
            "row_key": lines[row],
            "group": group,
            "code_raw": pick([c for c, _ in layout.codes], slot),
            "code_type_raw": pick([t for _, t in layout.codes], slot),
        }
        for header, name in ITEM_HEADERS.items():
            index = layout.columns.get(header)
            data[name] = cells(index)[row] if index is not None else np.full(len(row), "", dtype=object)
        for name in PAYER_FIELDS:
            data[name] = pick([g.columns.get(name) for g in layout.groups], group)
        line_text = np.char.add("line ", lines[row].astype(str))
        if layout.kind == "tall":
            data["payer"] = pick([layout.columns.get("payer_name")], np.zeros(len(row), dtype=int))
            data["plan"] = pick([layout.columns.get("plan_name")], np.zeros(len(row), dtype=int))
            data["locator"] = line_text.astype(object)
        else:
            data["payer"] = np.array([g.payer or "" for g in layout.groups], dtype=object)[group]
            data["plan"] = np.array([g.plan or "" for g in layout.groups], dtype=object)[group]
            labels = np.array([f" column {g.label}" for g in layout.groups])
            data["locator"] = np.char.add(line_text, labels[group]).astype(object)
        return {name: data[name] for name in UNIT_COLUMNS}


_SPACE_OR_NON_ASCII = np.zeros(256, dtype=bool)
_SPACE_OR_NON_ASCII[[9, 10, 11, 12, 13, 32]] = True
_SPACE_OR_NON_ASCII[128:] = True
_CODE_BYTES = np.zeros(256, dtype=bool)
_CODE_BYTES[ord("0") : ord("9") + 1] = True
_CODE_BYTES[ord("A") : ord("Z") + 1] = True


def _string_chunks(column: pa.ChunkedArray | pa.Array) -> Iterator[tuple[pa.Array, np.ndarray, np.ndarray]]:
    """(chunk, offsets, data bytes) of each chunk of a string column, straight from the Arrow buffers."""
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if len(chunk) == 0:
            continue
        offsets, data = string_buffers(chunk)
        yield chunk, offsets, data


def nonblank(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Cells that are not empty or whitespace only, from the Arrow offsets (no string objects); only cells that
    start with a space, a tab or a non-ASCII byte are looked at one by one."""
    parts = []
    for chunk, offsets, data in _string_chunks(column):
        filled = offsets[1:] != offsets[:-1]
        if len(data):
            starts_blank = _SPACE_OR_NON_ASCII[data[offsets[:-1][filled]]]
            if starts_blank.any():
                for i in np.flatnonzero(filled)[starts_blank]:
                    filled[i] = bool(_decode(chunk[int(i)].as_py()).strip())
        parts.append(filled)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _as_text(table: pa.Table) -> pa.Table:
    """The table with bytes columns as text: UTF-8, else (column by column, cell by cell) cp1252."""
    if not any(pa.types.is_binary(t) for t in table.schema.types):
        return table
    try:
        return table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))
    except pa.ArrowInvalid:
        columns = []
        for column in table.columns:
            try:
                columns.append(column.cast(pa.string()))
            except pa.ArrowInvalid:
                columns.append(pa.array([_decode(value) for value in column.to_pylist()], type=pa.string()))
        return pa.table(columns, names=table.column_names)


def _decode(value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", errors="replace")


def nonempty(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Cells that are not the empty string (a cell of spaces is not empty): a comparison of the Arrow offsets."""
    parts = [offsets[1:] != offsets[:-1] for _, offsets, _ in _string_chunks(column)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _has_bytes_outside(column: pa.ChunkedArray, allowed: np.ndarray) -> np.ndarray:
    """Cells holding at least one byte outside ``allowed`` (a 256-entry table)."""
    parts = []
    for _, offsets, data in _string_chunks(column):
        bad = np.concatenate(([0], np.cumsum(~allowed[data], dtype=np.int64)))
        parts.append(bad[offsets[1:]] > bad[offsets[:-1]])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
