"""Read hospital standard-charge machine-readable files (45 CFR 180) in the CMS CSV templates.

Supported: the CMS CSV templates v2.0-v2.2 and v3.0, tall and wide (see FORMATS.md section 2). JSON files are not
supported yet and raise :class:`HospitalFileError`.

Layout of a file
    Row 1 holds the general data element headers (hospital_name, last_updated_on, version, location_name or
    hospital_location, hospital_address, ``license_number|[state]``, type_2_npi, the attestation/affirmation text...),
    row 2 their values, row 3 the column headers, data from row 4. Headers are matched case-insensitively, with spaces
    around ``|`` and a UTF-8 BOM tolerated. A file is *tall* when row 3 has ``payer_name``/``plan_name`` and
    ``standard_charge|negotiated_*`` columns (one payer/plan per data row), *wide* when payer/plan are encoded in the
    headers (``standard_charge|[payer]|[plan]|negotiated_dollar``, ...; one data row carries many payer/plan groups).
    Lines are decoded as UTF-8, falling back line by line to cp1252 (the CMS v2 wide example itself has a cp1252
    dash); LF, CRLF and CR line ends are all accepted.

Output
    One rate row per (data row, payer/plan group, billing code): a data row with ``code|1`` = 611 (RC) and
    ``code|2`` = 70551 (CPT) gives two rows per payer/plan, so that either code can be benchmarked.

Row accounting (the unit of ``FileAccount``)
    The unit is a *candidate rate*: one (data row, payer/plan group, billing code). For each data row:

    - a payer/plan group counts when it has any payer-specific value (negotiated dollar, percentage or algorithm,
      methodology, estimated/median/percentile/count, or in wide files its additional_payer_notes); in a tall file
      the row itself is the only group. Each such group counts once per billing code on the row (once when the row
      has no code), i.e. ``rows_seen`` = data rows x payer-plan groups with a value x codes on the row;
    - a data row with no payer-specific value at all (only gross / discounted cash, say) counts once and is
      filtered out: it holds no negotiated rate;
    - a row with more non-blank cells than column headers counts once and is quarantined (``malformed_row``).

    This refines "data rows x payer-plan groups" by the number of codes, so that ``rows_loaded`` always equals the
    number of rate rows returned and ``rows_quarantined`` the number of quarantine rows. Outcomes of one unit:
    filtered out (code not in ``codes``; a modifier-only row, which has no billing code and describes a payment
    adjustment rather than a rate; a row without payer-specific value), deduplicated (the same code and type listed
    twice on one row), quarantined (with a reason code, see below) or loaded. Blank lines are not data rows.

Mapping decisions
    - ``pos_setting`` is always ``"facility"``: every item in a hospital file is furnished by or in the hospital,
      so the Medicare PFS facility amount is the comparator, even for professional services.
    - ``rate_type`` comes from the methodology (case rate, fee schedule, per diem, percent of total billed charges,
      other; underscores/hyphens/case tolerated). A missing or unknown methodology is quarantined
      (``unknown_methodology``) rather than guessed.
    - With a negotiated dollar, ``amount`` is that dollar in ``USD`` (``USD_per_day`` for per diem, ``USD_per_case``
      for case rate); otherwise ``amount`` is the negotiated percentage in ``percent``. ``amount_usd`` (per-service
      dollars) is set only for fee-schedule dollars and for percent-of-total-billed-charges rows: the published
      dollar if there is one (``dollar_basis`` "published negotiated_dollar"), else gross charge x percent / 100
      when the row has a gross charge. A percentage under another methodology (e.g. "115% of the state's workers'
      compensation amount" under fee schedule) is a percent of something other than charges and gets no dollars.
      Per diem, case rate and "other" dollars never get ``amount_usd``.
    - A value of N/A (NA, none, -, ...) counts as blank when another value is present.

Quarantine reason codes
    ``algorithm_only`` (only a negotiated_algorithm, kept in raw_value), ``not_a_number``, ``rate_not_positive``,
    ``placeholder_value`` (999999999, 99999999.99: seven or more 9s), ``unknown_methodology``,
    ``no_negotiated_charge`` (methodology or estimates without any dollar/percentage/algorithm),
    ``missing_billing_code`` (a charge on a row with no code and no modifier), ``missing_code_type``,
    ``missing_payer`` and ``malformed_row``.

File-level problems (not a CSV, no recognizable row-3 header, no description or code column, neither tall nor
wide, an unbalanced quote swallowing rows) raise :class:`HospitalFileError` naming the file, the line and what was
seen.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.ingest.result import FileAccount, IngestResult, file_sha256
from benchmark.payers import resolve_payer
from benchmark.schema import RATE_COLUMNS, QuarantineSchema, empty_quarantine, empty_rates, validate_rates


class HospitalFileError(ValueError):
    """The file as a whole cannot be read as a CMS hospital standard-charge CSV."""


def read_standard_charges(
    path: str | Path,
    codes: Iterable[str] | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
) -> IngestResult:
    """Negotiated rates of one hospital standard-charge CSV (CMS template v2.x or v3.0, tall or wide).

    ``codes`` keeps only rates whose billing code equals one of these strings exactly (``None`` keeps all).
    ``source_name`` replaces the file name in ``source_file`` (e.g. the published URL's file name).
    """
    path = Path(path)
    source_file = source_name or path.name
    if path.name.lower().endswith((".json", ".json.gz")):
        raise HospitalFileError(f"{source_file}: JSON hospital files are not supported yet")
    _check_looks_like_csv(path, source_file)
    wanted = None if codes is None else frozenset(str(code).strip() for code in codes)

    account = FileAccount(source_file=source_file, source_sha256=file_sha256(path))
    out = _Output(source_file=source_file, sha256=account.source_sha256, is_synthetic=is_synthetic)
    records = _csv_records(path, source_file)
    layout = _read_layout(records, source_file)
    out.hospital = layout.hospital
    for record in records:
        if any(cell.strip() for cell in record.cells):
            _read_data_row(record, layout, wanted, out, account)

    account.check()
    rates = validate_rates(pd.DataFrame(out.rates, columns=RATE_COLUMNS)) if out.rates else empty_rates()
    quarantine = QuarantineSchema.validate(pd.DataFrame(out.quarantine)) if out.quarantine else empty_quarantine()
    return IngestResult(rates=rates, quarantine=quarantine, accounts=[account])


# --------------------------------------------------------------------------------------------------------------------
# Layout: rows 1-3


_US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)
_ADDRESS_STATE = re.compile(r",\s*([A-Za-z]{2})\.?\s+\d{5}(?:-\d{4})?\s*$")
_CODE_HEADER = re.compile(r"^code\|(\d+)$")
_CODE_TYPE_HEADER = re.compile(r"^code\|(\d+)\|type$")

# Payer-specific fields: normalized tall header -> field name.
_TALL_FIELDS = {
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
_WIDE_SUFFIX_FIELDS = {
    "negotiated_dollar": "dollar",
    "negotiated_percentage": "percentage",
    "negotiated_algorithm": "algorithm",
    "methodology": "methodology",
}
_WIDE_PREFIX_FIELDS = {
    "estimated_amount": "estimated",
    "median_amount": "median",
    "10th_percentile": "p10",
    "90th_percentile": "p90",
    "count": "count",
    "additional_payer_notes": "notes",
}
_CHARGE_FIELDS = ("dollar", "percentage", "algorithm")


@dataclass(frozen=True)
class _Record:
    first_line: int  # 1-based physical line where the CSV record starts
    last_line: int
    cells: list[str]


@dataclass(frozen=True)
class _Hospital:
    provider_name: str | None
    state: str | None
    provider_npis: str | None


@dataclass
class _PayerColumns:
    """Where one payer/plan group's values are. Tall files have one group whose payer/plan come from the row."""

    payer: str | None
    plan: str | None
    label: str | None  # wide only: "standard_charge|payer|plan", used in source_locator
    columns: dict[str, int] = field(default_factory=dict)


@dataclass
class _Layout:
    kind: str  # "tall" | "wide"
    n_columns: int
    columns: dict[str, int]  # normalized fixed header -> first index
    codes: list[tuple[int, int | None]]  # (code column, type column) ordered by i
    groups: list[_PayerColumns]
    hospital: _Hospital


def _check_looks_like_csv(path: Path, source_file: str) -> None:
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"\x1f\x8b") or head.startswith(b"PK\x03\x04"):
        raise HospitalFileError(f"{source_file}: line 1: compressed data (gzip/zip), not a CSV; decompress it first")
    if b"\x00" in head:
        raise HospitalFileError(f"{source_file}: line 1: binary or UTF-16 data (NUL bytes), not a UTF-8/cp1252 CSV")
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start[:1] in (b"<", b"{", b"["):
        kind = "HTML/XML" if start[:1] == b"<" else "JSON"
        raise HospitalFileError(f"{source_file}: line 1: looks like {kind}, not a CSV: {start[:60]!r}")


def _csv_records(path: Path, source_file: str) -> Iterator[_Record]:
    """CSV records with the physical lines they span."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 27))
    reader = csv.reader(_physical_lines(path))
    last = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise HospitalFileError(f"{source_file}: line {reader.line_num}: unreadable CSV ({exc})") from exc
        yield _Record(first_line=last + 1, last_line=reader.line_num, cells=cells)
        last = reader.line_num


def _physical_lines(path: Path) -> Iterator[str]:
    """Decoded lines, each ending in "\\n" (CR and CRLF normalized); UTF-8 with a per-line cp1252 fallback."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle):
            if number == 0:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
            if text.endswith("\r\n"):
                text = text[:-2] + "\n"
            if "\r" not in text:
                yield text
                continue
            *pieces, tail = text.split("\r")
            for piece in pieces:
                yield piece + "\n"
            if tail:
                yield tail


def _read_layout(records: Iterator[_Record], source_file: str) -> _Layout:
    rows = [record for _, record in zip(range(3), records)]
    if rows and _is_column_header_row([_norm(c) for c in rows[0].cells]):
        raise HospitalFileError(
            f"{source_file}: line {rows[0].first_line}: the column headers (description, code|1, ...) are on the "
            "first row; the two general-data rows (hospital_name, last_updated_on, ... and their values) are missing"
        )
    if len(rows) < 3:
        raise HospitalFileError(
            f"{source_file}: only {len(rows)} CSV row(s); expected general headers, their values and column headers"
        )
    general, values, header = rows
    names = [_norm(c) for c in header.cells]
    seen = ", ".join(repr(c[:40]) for c in header.cells[:8]) or "an empty row"
    if not _is_column_header_row(names):
        missing = "'description'" if "description" not in names else "'code|1'"
        if any("[" in n for n in names):
            missing += " (template placeholders like code|[i] or [payer_name] not replaced)"
        raise HospitalFileError(
            f"{source_file}: line {header.first_line}: expected the CMS column-header row (description, code|1, "
            f"code|1|type, setting, ...) but it has no {missing} column; saw {seen}"
        )

    columns: dict[str, int] = {}
    code_cols: dict[int, int] = {}
    type_cols: dict[int, int] = {}
    groups: dict[tuple[str, str], _PayerColumns] = {}
    for index, (raw, name) in enumerate(zip(header.cells, names)):
        if m := _CODE_HEADER.match(name):
            code_cols.setdefault(int(m.group(1)), index)
        elif m := _CODE_TYPE_HEADER.match(name):
            type_cols.setdefault(int(m.group(1)), index)
        elif wide := _wide_header(raw):
            payer, plan, field_name = wide
            group = groups.setdefault(
                (payer.lower(), plan.lower()), _PayerColumns(payer, plan, f"standard_charge|{payer}|{plan}")
            )
            group.columns.setdefault(field_name, index)
        else:
            columns.setdefault(name, index)

    tall_fields = {f: columns[h] for h, f in _TALL_FIELDS.items() if h in columns}
    is_tall = "payer_name" in columns and any(f in tall_fields for f in _CHARGE_FIELDS)
    if is_tall and groups:
        raise HospitalFileError(
            f"{source_file}: line {header.first_line}: both tall (payer_name, plan_name) and wide "
            f"(standard_charge|[payer]|[plan]|...) payer columns; cannot tell the layout"
        )
    if not is_tall and not groups:
        raise HospitalFileError(
            f"{source_file}: line {header.first_line}: neither tall (payer_name + standard_charge|negotiated_*) "
            f"nor wide (standard_charge|[payer]|[plan]|negotiated_*) payer columns; saw {seen}"
        )
    return _Layout(
        kind="tall" if is_tall else "wide",
        n_columns=len(header.cells),
        columns=columns,
        codes=[(code_cols[i], type_cols.get(i)) for i in sorted(code_cols)],
        groups=[_PayerColumns(None, None, None, tall_fields)] if is_tall else list(groups.values()),
        hospital=_hospital(general.cells, values.cells),
    )


def _norm(header: str) -> str:
    """Header as matched: BOM dropped, lower case, no spaces around "|"."""
    return "|".join(part.strip().lower() for part in header.replace("\ufeff", "").split("|"))


def _is_column_header_row(names: list[str]) -> bool:
    return "description" in names and any(_CODE_HEADER.match(n) for n in names)


def _wide_header(raw: str) -> tuple[str, str, str] | None:
    """(payer, plan, field) of a wide payer-specific header, else None.

    A "|" inside a payer name gives extra segments: the plan is taken as the segment just before the field suffix
    (or the last one) and the payer as everything between, re-joined with "|".
    """
    parts = [p.strip() for p in raw.replace("\ufeff", "").split("|")]
    prefix, suffix = parts[0].lower(), parts[-1].lower()
    if prefix == "standard_charge" and suffix in _WIDE_SUFFIX_FIELDS and len(parts) >= 4:
        return "|".join(parts[1:-2]), parts[-2], _WIDE_SUFFIX_FIELDS[suffix]
    if prefix in _WIDE_PREFIX_FIELDS and len(parts) >= 3:
        return "|".join(parts[1:-1]), parts[-1], _WIDE_PREFIX_FIELDS[prefix]
    return None


def _hospital(general: list[str], values: list[str]) -> _Hospital:
    meta: dict[str, str] = {}
    for name, value in zip((_norm(c) for c in general), values):
        if name and value.strip():
            meta.setdefault(name, value.strip())
    state = None
    for name in (_norm(c) for c in general):
        if (m := re.fullmatch(r"license_number\|([a-z]{2})", name)) and m.group(1).upper() in _US_STATES:
            state = m.group(1).upper()
            break
    if state is None:
        found = {
            m.group(1).upper()
            for address in meta.get("hospital_address", "").split("|")
            if (m := _ADDRESS_STATE.search(address.strip()))
        }
        found &= _US_STATES
        state = found.pop() if len(found) == 1 else None
    npis = [n.strip() for n in meta.get("type_2_npi", "").split("|") if n.strip()]
    return _Hospital(meta.get("hospital_name"), state, "|".join(npis) or None)


# --------------------------------------------------------------------------------------------------------------------
# Data rows


@dataclass
class _Output:
    source_file: str
    sha256: str
    is_synthetic: bool
    hospital: _Hospital | None = None
    rates: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)

    def add_quarantine(self, locator: str, reason: str, detail: str, raw: str | None) -> None:
        self.quarantine.append(
            {
                "source_file": self.source_file,
                "source_locator": locator,
                "reason_code": reason,
                "detail": detail,
                "raw_value": raw,
            }
        )


@dataclass(frozen=True)
class _Item:
    codes: list[tuple[str, str]]  # (billing code, normalized type or "")
    modifiers: str
    care_setting: str
    billing_class: str
    gross: float | None


@dataclass(frozen=True)
class _Offer:
    """One payer/plan's values on one data row."""

    payer: str | None
    plan: str | None
    locator: str
    values: dict[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True)
class _Price:
    rate_type: str
    amount: float
    unit: str
    amount_usd: float | None = None
    dollar_basis: str | None = None


@dataclass(frozen=True)
class _Problem:
    reason: str
    detail: str
    raw: str | None


_CODE_TYPE_SYNONYMS = {"CPT4": "CPT", "CPT-4": "CPT", "HCPC": "HCPCS", "REV": "RC"}
_CARE_SETTINGS = {"inpatient", "outpatient", "both"}
_BILLING_CLASSES = {"professional": "professional", "facility": "institutional", "both": "both"}
_METHODOLOGIES = {
    "case rate": "case_rate",
    "fee schedule": "fee_schedule",
    "per diem": "per_diem",
    "percent of total billed charges": "percentage",
    "percentage of total billed charges": "percentage",
    "percent of billed charges": "percentage",
    "other": "other",
}
_DOLLAR_UNITS = {"per_diem": "USD_per_day", "case_rate": "USD_per_case"}
_NA_TOKENS = {"n/a", "na", "n.a.", "#n/a", "none", "null", "nan", "-", "--", "not applicable"}
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+|\d+(?:\.\d*)?[eE][+-]?\d+")


def _read_data_row(
    record: _Record, layout: _Layout, wanted: frozenset[str] | None, out: _Output, account: FileAccount
) -> None:
    """Account for one data row and turn its (payer/plan group x code) units into rates or quarantine rows."""
    cells = record.cells + [""] * (layout.n_columns - len(record.cells))
    line = f"line {record.first_line}"
    _check_not_swallowing_rows(record, layout, out.source_file)
    if any(cell.strip() for cell in cells[layout.n_columns:]):
        account.rows_seen += 1
        account.rows_quarantined += 1
        detail = f"{len(cells)} cells but {layout.n_columns} column headers; columns cannot be aligned"
        out.add_quarantine(line, "malformed_row", detail, ",".join(cells)[:500])
        return

    offers = [offer for offer in _offers(cells, layout, line) if _has_payer_value(offer)]
    if not offers:
        account.rows_seen += 1
        account.rows_filtered_out += 1
        return
    item = _item(cells, layout)
    for offer in offers:
        units: list[tuple[str, str] | None] = list(item.codes) or [None]
        account.rows_seen += len(units)
        done: set[tuple[str, str]] = set()
        for code in units:
            if code is None:
                if item.modifiers or wanted is not None:  # modifier-only row, or cannot match the code filter
                    account.rows_filtered_out += 1
                else:
                    account.rows_quarantined += 1
                    out.add_quarantine(offer.locator, "missing_billing_code",
                                       "payer-specific charge on a row with no code and no modifier", None)
                continue
            if wanted is not None and code[0] not in wanted:
                account.rows_filtered_out += 1
                continue
            if code in done:
                account.rows_deduplicated += 1
                continue
            done.add(code)
            result = _rate_row(item, code, offer, out)
            if isinstance(result, _Problem):
                account.rows_quarantined += 1
                out.add_quarantine(offer.locator, result.reason, f"code {code[0]}: {result.detail}", result.raw)
            else:
                account.rows_loaded += 1
                out.rates.append(result)


def _check_not_swallowing_rows(record: _Record, layout: _Layout, source_file: str) -> None:
    """An unbalanced quote turns the following lines into one field: refuse rather than lose them silently."""
    if record.last_line == record.first_line or layout.n_columns < 4:
        return
    for cell in record.cells:
        if any(part.count(",") >= layout.n_columns - 1 for part in cell.split("\n")[1:]):
            raise HospitalFileError(
                f"{source_file}: line {record.first_line}: a quoted field runs to line {record.last_line} and "
                "contains what look like whole CSV rows (unbalanced quote?)"
            )


def _offers(cells: list[str], layout: _Layout, line: str) -> Iterator[_Offer]:
    def cell(index: int | None) -> str:
        return cells[index].strip() if index is not None else ""

    for group in layout.groups:
        values = {name: cell(index) for name, index in group.columns.items()}
        if layout.kind == "tall":
            payer, plan = cell(layout.columns.get("payer_name")), cell(layout.columns.get("plan_name"))
            yield _Offer(payer or None, plan or None, line, values)
        else:
            yield _Offer(group.payer or None, group.plan or None, f"{line} column {group.label}", values)


def _has_payer_value(offer: _Offer) -> bool:
    return any(offer.values.values())


def _item(cells: list[str], layout: _Layout) -> _Item:
    def cell(name: str) -> str:
        index = layout.columns.get(name)
        return cells[index].strip() if index is not None else ""

    codes = []
    for code_index, type_index in layout.codes:
        code = cells[code_index].strip()
        if code:
            code_type = cells[type_index].strip().upper() if type_index is not None else ""
            codes.append((code, _CODE_TYPE_SYNONYMS.get(code_type, code_type)))
    modifiers = sorted({m.strip().upper() for m in cell("modifiers").split("|") if m.strip()})
    setting = cell("setting").lower()
    gross, problem = _parse_number(cell("standard_charge|gross")) if cell("standard_charge|gross") else (None, None)
    return _Item(
        codes=codes,
        modifiers="|".join(modifiers),
        care_setting=setting if setting in _CARE_SETTINGS else "unknown",
        billing_class=_BILLING_CLASSES.get(cell("billing_class").lower(), "unknown"),
        gross=None if problem else gross,
    )


def _rate_row(item: _Item, code: tuple[str, str], offer: _Offer, out: _Output) -> dict | _Problem:
    if not code[1]:
        return _Problem("missing_code_type", "billing code without a code type", code[0])
    if not offer.payer:
        return _Problem("missing_payer", "payer-specific charge without a payer name", offer.plan)
    price = _price(offer, item.gross)
    if isinstance(price, _Problem):
        return price
    identity = resolve_payer(offer.payer, offer.plan)
    hospital = out.hospital
    return {
        "source_type": "hospital",
        "payer_raw": offer.payer,
        "payer_family": identity.payer_family,
        "payer_brand": identity.payer_brand,
        "plan_raw": offer.plan,
        "plan_id": None,
        "product_line": identity.product_line,
        "network_name": None,
        "billing_code": code[0],
        "billing_code_type": code[1],
        "modifiers": item.modifiers,
        "pos_setting": "facility",
        "care_setting": item.care_setting,
        "billing_class": item.billing_class,
        "rate_type": price.rate_type,
        "amount": price.amount,
        "amount_unit": price.unit,
        "amount_usd": price.amount_usd,
        "dollar_basis": price.dollar_basis,
        "service_codes": None,
        "negotiation_arrangement": None,
        "expiration_date": None,
        "provider_npis": hospital.provider_npis if hospital else None,
        "provider_tin": None,
        "provider_name": hospital.provider_name if hospital else None,
        "state": hospital.state if hospital else None,
        "medicare_locality": None,
        "source_file": out.source_file,
        "source_locator": offer.locator,
        "source_sha256": out.sha256,
        "is_synthetic": out.is_synthetic,
    }


def _price(offer: _Offer, gross: float | None) -> _Price | _Problem:
    """The published rate of one offer, or why it cannot be loaded."""
    present = {name: offer.get(name) for name in _CHARGE_FIELDS if offer.get(name)}
    real = {name: text for name, text in present.items() if text.lower() not in _NA_TOKENS}
    algorithm = real.pop("algorithm", None)
    if not real:
        if algorithm:
            return _Problem("algorithm_only", "negotiated_algorithm only; no dollar or percentage to load", algorithm)
        if present:
            return _Problem("not_a_number", "negotiated charge is N/A and no other value is given",
                            next(iter(present.values())))
        raw = offer.get("methodology") or next(v for v in offer.values.values() if v)
        return _Problem("no_negotiated_charge", "no negotiated dollar, percentage or algorithm", raw)

    numbers: dict[str, float] = {}
    for name, text in real.items():
        value, problem = _parse_number(text, percent=name == "percentage")
        if problem:
            return _Problem(problem, f"negotiated_{name} {text!r} is not a usable rate", text)
        numbers[name] = value

    methodology = re.sub(r"[\s_\-]+", " ", offer.get("methodology").lower()).strip()
    rate_type = _METHODOLOGIES.get(methodology)
    if rate_type is None:
        detail = f"methodology {offer.get('methodology')!r} is not a CMS methodology" if methodology else (
            "no methodology")
        return _Problem("unknown_methodology", detail, offer.get("methodology") or None)

    dollar, percent = numbers.get("dollar"), numbers.get("percentage")
    if rate_type == "percentage":
        if percent is None:
            return _Price(rate_type, dollar, "USD", dollar, "published negotiated_dollar")
        if dollar is not None:
            return _Price(rate_type, percent, "percent", dollar, "published negotiated_dollar")
        if gross is not None and (usd := round(gross * percent / 100, 2)) > 0:
            return _Price(rate_type, percent, "percent", usd,
                          f"percent of gross charge ({_fmt(percent)}% x {_fmt(gross)})")
        return _Price(rate_type, percent, "percent")
    if dollar is not None:
        return _Price(rate_type, dollar, _DOLLAR_UNITS.get(rate_type, "USD"),
                      dollar if rate_type == "fee_schedule" else None)
    return _Price(rate_type, percent, "percent")


def _parse_number(text: str, *, percent: bool = False) -> tuple[float | None, str | None]:
    """(value, None) or (value or None, reason code). Accepts "$1,234.50", " $1,231.21 ", "(5.00)", "4.4E+04"."""
    t = text.strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1].strip()
    for _ in range(2):  # "-$5" and "$-5"
        if t.startswith("-"):
            negative, t = True, t[1:].strip()
        t = t.removeprefix("$").strip()
    if percent and t.endswith("%"):
        t = t[:-1].strip()
    if not _NUMBER.fullmatch(t):
        return None, "not_a_number"
    plain = t.replace(",", "")
    value = -float(plain) if negative else float(plain)
    if not math.isfinite(value):
        return None, "not_a_number"
    if value <= 0:
        return value, "rate_not_positive"
    whole, _, fraction = plain.lower().partition("e")[0].partition(".")
    if len(whole) >= 7 and set(whole) == {"9"} and (set(fraction) <= {"9"} or set(fraction) <= {"0"}):
        return value, "placeholder_value"
    return value, None


def _fmt(value: float) -> str:
    """70.5 -> "70.5", 4000.0 -> "4000"."""
    return f"{value:.4f}".rstrip("0").rstrip(".")
