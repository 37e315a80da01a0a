"""Read hospital price files published before the CMS templates (pre-2024 chargemasters) into units.

What such files look like (FORMATS.md sections 2.2 and 4; shared/reference/hpt/real/)
    Free-text preamble lines (hospital name, effective date, disclaimers, a line describing each section the
    hospital meant to publish), then one or more *sections*: an optional title line ("Gross Charges", "Inpatient
    Payer Specific Charge"), a header row, item rows. Header rows are free-form:
    ``HospCode,Code,Description,Code_Type,Gross Charge,Discounted Cash Price,Minimum Negotiated Charge,Maximum
    Negotiated Charge,Aetna-Commercial,United Healthcare-Medicare Advantage,...`` or ``Item Code,Description,CDM
    Revenue Code,CDM HCPCS,CDM Modifier, Standard Price ,Notes``: one column per payer-product, ``NA`` for blank,
    code types ``CPT/HCPCS``, ``DRG`` or blank, money as `` $1,231.21 ``.

How the layout is recognised
    A header row is a row that names a description column, at least one code column (hospital/CDM item code,
    CPT/HCPCS, revenue code, DRG, NDC, or a generic code with a code-type column) and at least one charge column
    (gross / standard price, discounted cash, minimum, maximum, or a payer-product column). Every header cell is
    given a role from a fixed vocabulary (:data:`_ROLES`); a non-blank header that matches none is a payer-product
    column, split into payer and plan at its last hyphen (``United Healthcare-Medicare Advantage``). A payer column
    whose first values are words rather than amounts is refused (the file is rejected naming the column and the
    values seen) rather than read as rates. A title line containing "inpatient" or "outpatient" sets the care
    setting of its section. Preamble lines ``Hospital Name,,<name>`` (and address, NPI, license, effective date)
    give the hospital's details. A file where no header row appears in the first :data:`SCAN_ROWS` rows is rejected.

How rows become rates
    Each section is read like a CMS wide file (:class:`benchmark.ingest.hospital.csv_layout.Layout` of kind "legacy"): one
    payer/plan group per payer column, one unit per (row, payer column with a value, code). ``NA`` and similar
    cells are blank. The hospital item code is a code of type ``CDM``; a code column's type comes from the header
    (``CDM HCPCS`` -> CPT/HCPCS, resolved by the code's shape) or from the row's code-type cell. No methodology is
    published: a dollar is ``negotiated`` (``case_rate`` for a DRG; per-service ``amount_usd`` only for CPT/HCPCS
    codes), a ``70%`` is a percentage of an unstated base (rate type ``other``, no dollars).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from benchmark.ingest.hospital.csv_layout import (
    US_STATES,
    Layout,
    PayerColumns,
    _RowReader,
    fit_to_header,
)
from benchmark.ingest.hospital.csvtext import ByteSource, Record, UnbalancedQuoteError, records
from benchmark.normalize.hospital_units import (
    SEVERITY_ERROR,
    SEVERITY_WARNING,
    HospitalFileError,
    HospitalMeta,
    Sink,
)

SCAN_ROWS = 200
BATCH_ROWS = 50_000
_NA_TOKENS = {"na", "n/a", "n.a.", "#n/a", "none", "null", "-", "--", "not applicable"}
_AMOUNT = re.compile(r"^\(?-?\$?\s*-?[\d,]*\.?\d+\s*%?\)?$")

# Header roles: (role, regular expression on the normalized header, implied code type).
_ROLES: list[tuple[str, re.Pattern[str], str | None]] = [
    (
        "ignored",
        re.compile(
            r"(rev(enue)?( code)?|ndc|drug|cpt|hcpcs) desc(ription)?|notes?|comments?|"
            r"dep(ar)?t(ment)?( (name|code|number|#))?|category|units?( of measure)?|qty|quantity|"
            r"effective date|status|count|row|line|cost center.*|gl (code|account)|charge type|"
            r"type of service|drug (unit|type).*|billing class description"
        ),
        None,
    ),
    (
        "description",
        re.compile(
            r"((item|charge|service|procedure|cdm|line item|procedure code) )?"
            r"(description|desc)|description of (service|item)|(item|service|charge|procedure) "
            r"name|service|procedure"
        ),
        None,
    ),
    ("code_type", re.compile(r"(billing )?code type|type of code|code set"), None),
    (
        "code",
        re.compile(
            r"(cdm |billing )?(cpt|hcpcs?|cpt ?4|cpt ?/ ?hcpcs?|hcpcs? ?/ ?cpt ?4?)( (code|#|number))?|"
            r"procedure code"
        ),
        "CPT/HCPCS",
    ),
    ("code", re.compile(r"(cdm )?(rev(enue)?\.? ?(code|cd)?|rc|ub ?04( rev(enue)? code)?)"), "RC"),
    ("code", re.compile(r"ms ?drg( (code|#|number))?"), "MS-DRG"),
    ("code", re.compile(r"apr ?drg( (code|#|number))?"), "APR-DRG"),
    ("code", re.compile(r"drg( (code|#|number))?"), "DRG"),
    ("code", re.compile(r"ndc( (code|#|number))?"), "NDC"),
    (
        "code",
        re.compile(
            r"hosp(ital)? ?code|hospcode|(item|charge|cdm|chargemaster|service|supply) "
            r"(code|number|no|#|id)|cdm|charge ?master( (code|number|#))?|item ?#|charge ?#"
        ),
        "CDM",
    ),
    ("code", re.compile(r"(billing )?code"), None),
    ("modifiers_raw", re.compile(r"(cdm |cpt |hcpcs )?(modifiers?|mod)( ?\d)?"), None),
    (
        "cash_raw",
        re.compile(
            r"(discounted )?cash( (price|discount|discounted price|charge|rate))?|"
            r"discounted cash price|self ?pay( (price|rate|charge|discount))?|"
            r"uninsured( (price|rate|discount))?"
        ),
        None,
    ),
    ("min_raw", re.compile(r"(de ?identified )?min(imum)?( negotiated)?( (charge|rate|price|amount))?"), None),
    ("max_raw", re.compile(r"(de ?identified )?max(imum)?( negotiated)?( (charge|rate|price|amount))?"), None),
    (
        "gross_raw",
        re.compile(
            r"((standard|gross|chargemaster|cdm|list|unit|hospital)( gross)? )?"
            r"(charges?|prices?|amount)|gross|standard (gross )?(charge|price)s?|rate"
        ),
        None,
    ),
    (
        "setting_raw",
        re.compile(
            r"setting|patient type|ip ?/ ?op|inpatient ?/ ?outpatient|care setting|"
            r"patient class"
        ),
        None,
    ),
    ("billing_class_raw", re.compile(r"billing class"), None),
]
_CODE_ROLES = ("code",)
_CHARGE_ROLES = ("gross_raw", "cash_raw", "min_raw", "max_raw")
_PREAMBLE_KEYS = [
    ("name", re.compile(r"(hospital|facility|provider)( name)?")),
    ("last_updated_on", re.compile(r"(effective|last updated|updated|as of)( date| on)?|date")),
    ("npis", re.compile(r"(type ?2 )?npi")),
    ("address", re.compile(r"(hospital )?address|location")),
    ("license", re.compile(r"(state )?license( number| #)?")),
]


@dataclass
class _Header:
    """A legacy header row: each column's role, the payer columns, the code columns."""

    line: int
    cells: list[str]
    roles: list[str | None]
    code_columns: list[tuple[int, str | None]]  # (column, implied type or None: from the code-type column)
    payers: list[tuple[int, str, str]]  # (column, payer, plan)


def header_key(text: str) -> str:
    """Header text as matched: lower case, punctuation except "/#%" as spaces, single spaces."""
    text = text.replace("\ufeff", "").replace("®", "").lower()
    text = re.sub(r"[_\-.:()\[\]]+", " ", text)
    return " ".join(text.split())


def find_header(cells: list[str], line: int) -> _Header | None:
    """The legacy header this row is, or None (see the module docstring for the rule)."""
    filled = [c for c in cells if c.strip()]
    if len(filled) < 3:
        return None
    roles: list[str | None] = []
    code_columns: list[tuple[int, str | None]] = []
    payers: list[tuple[int, str, str]] = []
    for index, cell in enumerate(cells):
        key = header_key(cell)
        if not key:
            roles.append(None)
            continue
        role, implied = _role(key)
        roles.append(role)
        if role == "code":
            code_columns.append((index, implied))
        elif role == "payer":
            payer, plan = split_payer_plan(cell)
            payers.append((index, payer, plan))
    has_description = "description" in roles
    has_code = bool(code_columns)
    has_charge = any(r in _CHARGE_ROLES for r in roles) or bool(payers)
    if not (has_description and has_code and has_charge):
        return None
    if any(role == "payer" and re.fullmatch(r"[\d$.,\s%()-]+", cells[i]) for i, role in enumerate(roles)):
        return None  # a number where a header should be: a data row
    return _Header(line, cells, roles, code_columns, payers)


def _role(key: str) -> tuple[str, str | None]:
    for role, pattern, implied in _ROLES:
        if pattern.fullmatch(key):
            return role, implied
    return "payer", None


def split_payer_plan(header: str) -> tuple[str, str]:
    """Payer and plan of a payer-product header, split at its last hyphen (or "|").

    "United Healthcare-Medicare Advantage" -> ("United Healthcare", "Medicare Advantage"); "Cigna" -> ("Cigna", "").
    """
    text = " ".join(header.replace("\ufeff", "").split())
    for separator in ("|", " - ", "-"):
        if separator in text:
            payer, _, plan = text.rpartition(separator)
            if payer.strip() and plan.strip():
                return payer.strip(), plan.strip()
    return text, ""


def looks_like_legacy(first: list[Record]) -> bool:
    return any(find_header(r.cells, r.first_line) for r in first[:SCAN_ROWS])


def read_legacy(first: list[Record], source: ByteSource, sink: Sink, *, resync: bool = False) -> str | None:
    """Read a legacy file into ``sink``; the description of its layout, or None when no header row was found in the
    first :data:`SCAN_ROWS` rows (``first`` holds the records read so far)."""
    rows = _records(first, source, sink, resync)
    meta = HospitalMeta()
    preamble: list[Record] = []
    for record in rows:
        header = find_header(record.cells, record.first_line)
        if header:
            break
        preamble.append(record)
        if len(preamble) >= SCAN_ROWS:
            return None
    else:
        return None
    _preamble_meta(preamble, meta)
    title = _title_before(preamble)
    sink.meta = meta
    sections = [_Section(header, title, meta)]
    batch: list[Record] = []
    for record in rows:
        if record.is_blank():
            continue
        if (next_header := find_header(record.cells, record.first_line)) is not None:
            sections[-1].read(batch, sink)
            batch = []
            sections.append(_Section(next_header, title, meta))
            continue
        if _is_title(record):
            sections[-1].read(batch, sink)
            batch = []
            title = next(c.strip() for c in record.cells if c.strip())
            continue
        batch.append(record)
        if len(batch) >= BATCH_ROWS:
            sections[-1].read(batch, sink)
            batch = []
    sections[-1].read(batch, sink)
    for section in sections:
        if not section.header.payers:
            sink.problem(
                f"line {section.header.line}",
                SEVERITY_WARNING,
                "no_payer_columns",
                f"section {section.title or 'without title'!r} has no payer-specific charge column; its "
                f"{section.rows} item rows hold no negotiated rate (counted as filtered out)",
            )
    for line in sorted(set(source.cp1252_lines)):
        sink.problem(f"line {line}", SEVERITY_WARNING, "not_utf8", "bytes that are not UTF-8; decoded as cp1252")
    parts = [s.describe() for s in sections]
    return (
        f"pre-template chargemaster (legacy layout), {len(sections)} section(s): "
        + "; ".join(parts)
        + (f"; hospital {meta.name!r}" if meta.name else "")
    )


def _records(first: list[Record], source: ByteSource, sink: Sink, resync: bool) -> Iterator[Record]:
    yield from first

    def unbalanced(error: UnbalancedQuoteError) -> None:
        sink.problem(
            f"line {error.first_line}",
            SEVERITY_ERROR,
            "unbalanced_quote",
            str(error).split(": ", 1)[1] + "; the line was skipped",
        )

    try:
        yield from records(source, swallow_columns=8, on_unbalanced=unbalanced if resync else None)
    except UnbalancedQuoteError as error:
        raise HospitalFileError(str(error)) from error
    except ValueError as error:
        raise HospitalFileError(str(error)) from error


def _preamble_meta(preamble: list[Record], meta: HospitalMeta) -> None:
    for record in preamble:
        filled = [c.strip() for c in record.cells if c.strip()]
        if len(filled) < 2:
            continue
        key = header_key(filled[0])
        for name, pattern in _PREAMBLE_KEYS:
            if pattern.fullmatch(key) and getattr(meta, name) is None:
                setattr(meta, name, filled[1])
                break
    if meta.address:
        m = re.search(r",\s*([A-Za-z]{2})\.?\s+\d{5}(?:-\d{4})?\s*$", meta.address)
        if m and m.group(1).upper() in US_STATES:
            meta.state = m.group(1).upper()


def _title_before(preamble: list[Record]) -> str:
    for record in reversed(preamble):
        if not record.is_blank():
            return next(c.strip() for c in record.cells if c.strip()) if _is_title(record) else ""
    return ""


def _is_title(record: Record) -> bool:
    filled = [c.strip() for c in record.cells if c.strip()]
    return len(filled) == 1 and " " in filled[0] and not any(ch.isdigit() for ch in filled[0])


class _Section:
    """One header row and the item rows under it, read in batches through the CMS wide-file machinery."""

    def __init__(self, header: _Header, title: str, meta: HospitalMeta) -> None:
        self.header = header
        self.title = title
        self.rows = 0
        self.checked_payers = False
        self.layout, self.constants = self._layout(header, title, meta)
        self.reader: _RowReader | None = None

    def describe(self) -> str:
        payers = len(self.header.payers)
        named = f"{self.title!r}: " if self.title else ""
        return (
            f"{named}header on line {self.header.line}, {self.rows} item rows, "
            f"{len(self.header.code_columns)} code column(s), {payers} payer column(s)"
        )

    @staticmethod
    def _layout(header: _Header, title: str, meta: HospitalMeta) -> tuple[Layout, list[str]]:
        width = len(header.cells)
        headers = list(header.cells)
        constants: list[str] = []

        def constant(value: str) -> int:
            headers.append(f"<{value}>")
            constants.append(value)
            return width + len(constants) - 1

        type_column = next((i for i, r in enumerate(header.roles) if r == "code_type"), None)
        codes = [(column, constant(implied) if implied else type_column) for column, implied in header.code_columns]
        columns = {}
        for role, key in (
            ("modifiers_raw", "modifiers"),
            ("setting_raw", "setting"),
            ("billing_class_raw", "billing_class"),
            ("gross_raw", "standard_charge|gross"),
            ("cash_raw", "standard_charge|discounted_cash"),
            ("min_raw", "standard_charge|min"),
            ("max_raw", "standard_charge|max"),
        ):
            if role in header.roles:
                columns[key] = header.roles.index(role)
        lowered = title.lower()
        if "setting" not in columns and ("inpatient" in lowered) != ("outpatient" in lowered):
            columns["setting"] = constant("inpatient" if "inpatient" in lowered else "outpatient")
        groups = [
            PayerColumns(payer, plan, " ".join(header.cells[column].split()), {"dollar": column}, ("dollar",))
            for column, payer, plan in header.payers
        ]
        layout = Layout(
            kind="legacy",
            header_line=header.line,
            headers=headers,
            columns=columns,
            codes=codes,
            groups=groups,
            meta=meta,
        )
        return layout, constants

    def read(self, batch: list[Record], sink: Sink) -> None:
        if not batch:
            return
        if not self.checked_payers:
            self._check_payer_columns(batch)
        if self.reader is None:
            self.reader = _RowReader(self.layout, sink)
        width = len(self.header.cells)
        rows, lines = [], []
        for record in batch:
            cells = fit_to_header(record, width, sink, warn_short=False)
            if cells is None:
                continue
            rows.append(["" if c.strip().lower() in _NA_TOKENS else c for c in cells] + self.constants)
            lines.append(record.first_line)
        self.rows += len(batch)
        if not rows:
            return
        table = pa.table({f"c{i}": pa.array(list(column), type=pa.string()) for i, column in enumerate(zip(*rows))})
        self.reader.table(table, np.asarray(lines, dtype=np.int64))

    def _check_payer_columns(self, batch: list[Record]) -> None:
        """Refuse a payer column whose first values are words, not amounts (it is some other column)."""
        self.checked_payers = True
        for column, _payer, _plan in self.header.payers:
            values = [r.cells[column].strip() for r in batch[:50] if len(r.cells) > column]
            values = [v for v in values if v and v.lower() not in _NA_TOKENS]
            words = [v for v in values if not _AMOUNT.match(v)]
            if values and len(words) * 2 > len(values):
                raise HospitalFileError(
                    f"line {self.header.line} column {column + 1}: header {self.header.cells[column].strip()!r} is "
                    f"not a known chargemaster column, so it would be read as a payer-specific charge, but its values are "
                    f"not amounts (saw {', '.join(repr(w) for w in words[:3])}); cannot tell what the column is"
                )
