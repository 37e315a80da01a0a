"""Read a payer's Transparency-in-Coverage (TiC) in-network rate file into normalized rate rows.

Entry point: :func:`read_in_network`. It accepts schema 1.x and 2.x files (``.json`` or ``.json.gz``) and returns an
:class:`~benchmark.ingest.result.IngestResult` whose ``rates`` pass :func:`benchmark.schema.validate_rates`, whose
``quarantine`` passes ``QuarantineSchema`` and whose single :class:`FileAccount` balances.

How a file is read
    The file is streamed twice with ``ijson`` (C backend when available), never loaded whole:

    1. the *root scan* parses every byte (so a broken file is rejected before any row is produced), keeps the root
       scalars (``reporting_entity_name``, ``plan_name``, ...) and builds the root ``provider_references`` into a dict
       ``provider_group_id -> entry``. Root keys may come in any order (``provider_references`` after
       ``in_network``, ``version`` at the end).
    2. the *item pass* streams ``in_network`` items one at a time and turns each into rows.

    Shapes are recognised by structure, not by the declared ``version``: real files mix them. A negotiated rate may
    carry inline ``provider_groups`` (1.x), ``provider_references`` ids (1.x and 2.x), or both (rows for each).
    ``setting`` (2.x) becomes ``care_setting``; without it ``care_setting`` is ``"unknown"``. 2.x root references
    carry ``network_name[]`` (joined with ``|``); inline 1.x groups have no network name. 1.x root references that
    only hold a remote ``location`` URL are never fetched (no network access here).

What one row is ("a row seen")
    One row is one ``negotiated_price`` x one provider group: the unit every count in the :class:`FileAccount` uses,
    whether the row is loaded, quarantined or filtered out (filtered items are counted with the same rule, which is
    cheap because the item is already parsed). Where a dimension cannot be expanded it counts as ONE row:

    * a provider reference that cannot be resolved (id not found, remote ``location``, empty or duplicated entry)
      counts as one provider group (we cannot know how many groups it would hold);
    * a negotiated rate with no provider groups and no references counts as one provider group;
    * a negotiated rate with no ``negotiated_prices`` counts as one row (not multiplied by its groups);
    * an ``in_network`` item that is not an object or has no ``negotiated_rates`` counts as one row;
    * a ``negotiated_rates`` entry that is not an object counts as one row.

    Every quarantined row gets its own quarantine record, so ``len(quarantine) == rows_quarantined``. Nothing is
    deduplicated here (``rows_deduplicated`` is 0): the same price repeated for many provider groups is data.

Values
    * ``billing_code`` is kept as text exactly as published (stripped; never cast to a number), ``codes`` are compared
      to it exactly after stripping. ``billing_code_type`` is upper-cased.
    * ``modifiers``: ``billing_code_modifier`` stripped, upper-cased, sorted, unique, joined with ``|`` ("" if none).
    * ``service_codes``: stripped, one-digit codes zero-padded (``5`` -> ``05``), sorted, unique, joined with ``|``.
      ``pos_setting``: all codes in the CMS facility POS set -> ``facility``; none -> ``non_facility``; a mix or
      ``CSTM-00`` -> ``both``; no codes -> ``facility`` for institutional billing, else ``unknown``.
    * ``negotiated_rate`` must be a finite number > 0. A JSON number is used as is; a string holding a plain decimal
      number (``"123.45"``, ``"4.432E+04"``) is accepted too; anything else (``"$1,234.50"``, ``"N/A"``) is
      quarantined. ``amount_usd`` equals ``amount`` for negotiated / fee schedule / derived prices and is empty for
      percentages (no base charge is known in TiC) and per diems.
    * Provider identity: ``provider_npis`` are the group's NPIs as text, sorted, unique, ``|``-joined. The TIN-only
      placeholder NPI ``0`` is dropped, so ``npi: [0]`` (and ``npi: []``) gives ``provider_npis = None`` while
      ``provider_tin`` keeps the contract's TIN. A TIN value of ``"0"`` is likewise stored as None.
      ``provider_name`` is ``tin.business_name`` (2.x) when present.
    * ``payer_raw`` is ``reporting_entity_name`` (``issuer_name`` only if the former is missing); ``plan_raw`` is
      ``plan_name``, or ``issuer_name`` when there is no plan name (multi-plan files have neither, so None).
      ``plan_sponsor_name`` is not used. ``state`` and ``medicare_locality`` stay None (geography comes later from a
      provider directory). ``negotiation_arrangement`` is kept lower-case (``ffs``/``bundle``/``capitation``);
      bundled / covered codes are not carried yet.

``source_locator``
    The path of the price, then the provider group it is crossed with (a sibling of ``negotiated_prices`` inside the
    same ``negotiated_rates`` entry)::

      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_groups[2]
      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_references[0]->provider_group_id=5.provider_groups[1]

    the second form reads: reference number 0 of that negotiated rate, which points at root provider group id 5, whose
    ``provider_groups[1]`` is the group. Unresolvable references end at ``->provider_group_id=5``. Rows that could not
    be expanded (see above) use the path of the deepest element that exists, e.g. ``in_network[4].negotiated_rates[0]``.

Quarantine reason codes (item level; the file is still read)
    ``in_network_item_invalid``, ``negotiated_rates_missing``, ``negotiated_rate_invalid``,
    ``negotiated_prices_missing``, ``negotiated_price_invalid``, ``billing_code_missing``,
    ``billing_code_type_missing``, ``rate_missing``, ``rate_not_numeric``, ``rate_not_finite``, ``rate_not_positive``,
    ``negotiated_type_unknown``, ``billing_class_unknown``, ``setting_unknown``, ``provider_groups_missing``,
    ``provider_group_invalid``, ``provider_reference_missing``, ``provider_reference_remote``,
    ``provider_reference_empty``, ``provider_reference_duplicate``. A missing ``billing_class`` becomes ``"unknown"``;
    a present but unrecognised one is quarantined (same for ``setting``).

File-level problems raise :class:`TicFileError` and return nothing: not gzip although named ``.gz`` (e.g. an HTML
error page), truncated or corrupt gzip, empty file, invalid JSON (including bare ``NaN``/``Infinity`` literals, which
are not JSON; quoted ``"NaN"`` is quarantined as ``rate_not_finite``), several root documents, a root that is not an
object, no ``in_network`` array, no reporting entity name.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ijson
import pandas as pd

from benchmark.ingest.result import FileAccount, IngestResult, file_sha256
from benchmark.payers import resolve_payer
from benchmark.schema import (
    RATE_COLUMNS,
    QuarantineSchema,
    empty_quarantine,
    empty_rates,
    validate_rates,
)

# CMS place-of-service codes billed at the Medicare PFS facility rate.
FACILITY_POS_CODES = frozenset(
    {"19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"}
)
ALL_POS_CODE = "CSTM-00"

# negotiated_type -> (rate_type, amount_unit, amount is per-service dollars)
RATE_TYPES: dict[str, tuple[str, str, bool]] = {
    "negotiated": ("negotiated", "USD", True),
    "fee schedule": ("fee_schedule", "USD", True),
    "derived": ("derived", "USD", True),
    "percentage": ("percentage", "percent", False),
    "per diem": ("per_diem", "USD_per_day", False),
}
BILLING_CLASSES = frozenset({"professional", "institutional", "both"})
CARE_SETTINGS = frozenset({"inpatient", "outpatient", "both"})

_ROOT_FIELDS = frozenset(
    {
        "reporting_entity_name",
        "reporting_entity_type",
        "issuer_name",
        "plan_name",
        "plan_id_type",
        "plan_id",
        "plan_sponsor_name",
        "plan_market_type",
        "last_updated_on",
        "version",
    }
)
_SCALAR_EVENTS = frozenset({"string", "number", "boolean", "null"})
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE_TEXT = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_QUARANTINE_COLUMNS = list(QuarantineSchema.to_schema().columns)


class TicFileError(ValueError):
    """A TiC file that cannot be read at all (not JSON, truncated, wrong structure); nothing of it is returned."""


def read_in_network(
    path: str | Path,
    codes: Iterable[str] | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
) -> IngestResult:
    """Normalized rate rows (one per negotiated price x provider group) from one TiC in-network file.

    ``codes``: billing codes to keep, compared exactly after stripping (None keeps all); items for other codes are
    counted as ``rows_filtered_out``. ``source_name`` replaces the file name in ``source_file``. Item-level problems
    are quarantined; file-level problems raise :class:`TicFileError`.
    """
    path = Path(path)
    source_file = source_name or path.name
    wanted = _wanted_codes(codes)
    sha256 = file_sha256(path)
    root = _scan_root(path, source_file)
    reader = _ItemReader(root=root, source_file=source_file, sha256=sha256, is_synthetic=is_synthetic, wanted=wanted)
    for index, item in _stream_in_network(path, source_file):
        reader.read_item(index, item)
    return reader.result()


# ---------------------------------------------------------------------------------------------------------------------
# Opening and streaming the file


def _backend():
    try:
        return ijson.get_backend("yajl2_c")
    except Exception:  # the C extension is optional; fall back to ijson's default backend
        return ijson


class _Reader:
    """A binary reader that skips a UTF-8 BOM, remembers the first bytes and counts bytes handed to the parser."""

    def __init__(self, stream, head: bytes, compressed: bool) -> None:
        self._stream = stream
        self.head = head
        self.compressed = compressed
        self._pending = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._pending:
            data, self._pending = self._pending, b""
            if size is None or size < 0:
                data += self._stream.read()
            elif len(data) > size:
                data, self._pending = data[:size], data[size:]
        else:
            data = self._stream.read(size)
        self.bytes_read += len(data)
        return data


@contextmanager
def _open_json(path: Path, source_file: str) -> Iterator[_Reader]:
    """The file's JSON bytes (gunzipped when the content is gzip, whatever the name says)."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        compressed = magic == _GZIP_MAGIC
        if not compressed and path.name.lower().endswith(".gz"):
            start = raw.read(64)
            raise TicFileError(f"{source_file}: named .gz but is not gzip data; it starts with {start!r}{_hint(start)}")
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            head = stream.read(64)
        except (EOFError, OSError, zlib.error) as exc:
            raise TicFileError(f"{source_file}: cannot decompress: {exc}") from exc
        reader = _Reader(stream, head, compressed)
        try:
            yield reader
        finally:
            if compressed:
                stream.close()


def _guarded(events: Iterator[Any], reader: _Reader, source_file: str) -> Iterator[Any]:
    """Pass parser output through, turning parser and decompression errors into TicFileError."""
    try:
        yield from events
    except ijson.JSONError as exc:
        raise _file_error(source_file, reader, "invalid JSON", exc) from exc
    except (EOFError, OSError, zlib.error) as exc:
        raise _file_error(source_file, reader, "corrupt or truncated gzip data", exc) from exc
    except UnicodeDecodeError as exc:
        raise _file_error(source_file, reader, "text is not UTF-8", exc) from exc


def _file_error(source_file: str, reader: _Reader, what: str, exc: BaseException) -> TicFileError:
    if reader.bytes_read == 0 and not reader.head.strip():
        return TicFileError(f"{source_file}: the file is empty")
    kind = "decompressed bytes" if reader.compressed else "bytes"
    message = " ".join(str(exc).split()) or type(exc).__name__
    return TicFileError(
        f"{source_file}: {what} ({reader.bytes_read:,} {kind} read so far; "
        f"parser said: {message}){_hint(reader.head)}"
    )


def _hint(start: bytes) -> str:
    text = start.lstrip(_UTF8_BOM).lstrip()
    if text.startswith(b"<"):
        return " — the content looks like an HTML/XML page (an error page or expired link?), not JSON"
    if text.startswith(b"PK\x03\x04"):
        return " — the content looks like a zip archive, not JSON"
    return ""


def _stream_in_network(path: Path, source_file: str) -> Iterator[tuple[int, Any]]:
    """(index, item) for every element of the root ``in_network`` array, one at a time."""
    with _open_json(path, source_file) as reader:
        items = _backend().items(reader, "in_network.item")
        yield from enumerate(_guarded(items, reader, source_file))


# ---------------------------------------------------------------------------------------------------------------------
# Root scan: root scalars and provider_references


@dataclass(frozen=True)
class _Provider:
    npis: str | None
    tin: str | None
    name: str | None


@dataclass
class _Reference:
    groups: list[_Provider | None]  # None for a group entry that is not an object
    network_name: str | None
    location: str | None


@dataclass
class _Root:
    is_object: bool = False
    keys: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    in_network_is_array: bool = False
    references: dict[str, _Reference] = field(default_factory=dict)
    duplicate_ids: set[str] = field(default_factory=set)

    def add_reference(self, entry: Any) -> None:
        if not isinstance(entry, dict) or _ref_key(entry.get("provider_group_id")) is None:
            return  # cannot be referenced; rates pointing at it are quarantined as provider_reference_missing
        key = _ref_key(entry.get("provider_group_id"))
        if key in self.references:
            self.duplicate_ids.add(key)
            return
        groups = entry.get("provider_groups")
        groups = groups if isinstance(groups, list) else []
        names = entry.get("network_name")
        names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        network = "|".join(t for t in (_text(n) for n in names) if t) or None
        self.references[key] = _Reference(
            groups=[_provider(g) if isinstance(g, dict) else None for g in groups],
            network_name=network,
            location=_text(entry.get("location")),
        )


def _scan_root(path: Path, source_file: str) -> _Root:
    """Parse the whole file once: root scalars, root provider_references, and the file-level structure checks."""
    root = _Root()
    with _open_json(path, source_file) as reader:
        events = _watch_root(_guarded(_backend().parse(reader), reader, source_file), root)
        for entry in _backend().items(events, "provider_references.item"):
            root.add_reference(entry)
    if not root.is_object:
        raise TicFileError(f"{source_file}: the JSON root is not an object")
    if "in_network" not in root.keys:
        found = ", ".join(root.keys[:20]) or "none"
        raise TicFileError(f"{source_file}: no 'in_network' key at the root (root keys found: {found})")
    if not root.in_network_is_array:
        raise TicFileError(f"{source_file}: root 'in_network' is not an array")
    if _text(root.fields.get("reporting_entity_name")) is None and _text(root.fields.get("issuer_name")) is None:
        raise TicFileError(f"{source_file}: no reporting_entity_name (nor issuer_name) at the root")
    return root


def _watch_root(events: Iterator[tuple[str, str, Any]], root: _Root) -> Iterator[tuple[str, str, Any]]:
    """Pass parse events through, noting the root's shape, keys and scalar fields on the way."""
    for prefix, event, value in events:
        if prefix == "":
            if event == "start_map":
                root.is_object = True
            elif event == "map_key":
                root.keys.append(value)
        elif event in _SCALAR_EVENTS and prefix in _ROOT_FIELDS:
            root.fields[prefix] = value
        elif prefix == "in_network" and event == "start_array":
            root.in_network_is_array = True
        yield prefix, event, value


# ---------------------------------------------------------------------------------------------------------------------
# Item pass: in_network items -> rows, quarantine records and the account


@dataclass(frozen=True)
class _Problem:
    reason_code: str
    detail: str
    raw_value: str | None = None


@dataclass(frozen=True)
class _Slot:
    """One provider group a negotiated price is crossed with (or the reason it cannot be)."""

    locator: str
    provider: _Provider | None
    network_name: str | None
    problem: _Problem | None


@dataclass(frozen=True)
class _Price:
    rate_type: str
    amount: float
    amount_unit: str
    amount_usd: float | None
    billing_class: str
    care_setting: str
    pos_setting: str
    service_codes: str | None
    modifiers: str
    expiration_date: str | None


class _ItemReader:
    """Turns in_network items into rate rows and quarantine records, keeping the file's row account."""

    def __init__(self, *, root: _Root, source_file: str, sha256: str, is_synthetic: bool, wanted: set[str] | None):
        self.root = root
        self.source_file = source_file
        self.sha256 = sha256
        self.is_synthetic = is_synthetic
        self.wanted = wanted
        self.account = FileAccount(source_file=source_file, source_sha256=sha256)
        self.rows: list[dict[str, Any]] = []
        self.quarantined: list[dict[str, Any]] = []
        fields = root.fields
        self.payer_raw = _text(fields.get("reporting_entity_name")) or _text(fields.get("issuer_name"))
        self.plan_raw = _text(fields.get("plan_name")) or _text(fields.get("issuer_name"))
        self.plan_id = _text(fields.get("plan_id"))
        self.identity = resolve_payer(self.payer_raw, self.plan_raw)

    # -- public to the module ------------------------------------------------------------------------------------

    def read_item(self, index: int, item: Any) -> None:
        base = f"in_network[{index}]"
        if not isinstance(item, dict):
            self._quarantine(base, _Problem("in_network_item_invalid", "in_network item is not an object", _raw(item)))
            return
        code = _text(item.get("billing_code"))
        if self.wanted is not None and code not in self.wanted:
            self._filter_out(base, item)
            return
        rates = item.get("negotiated_rates")
        if not isinstance(rates, list) or not rates:
            problem = _Problem("negotiated_rates_missing", "item has no negotiated_rates array", _raw(rates))
            self._quarantine(f"{base}.negotiated_rates", problem)
            return
        item_problem = _item_problem(item, code)
        for rate_index, rate in enumerate(rates):
            self._read_rate(f"{base}.negotiated_rates[{rate_index}]", item, code, rate, item_problem)

    def result(self) -> IngestResult:
        self.account.check()
        rates = validate_rates(pd.DataFrame(self.rows, columns=RATE_COLUMNS)) if self.rows else empty_rates()
        if self.quarantined:
            quarantine = QuarantineSchema.validate(pd.DataFrame(self.quarantined, columns=_QUARANTINE_COLUMNS))
        else:
            quarantine = empty_quarantine()
        return IngestResult(rates=rates, quarantine=quarantine, accounts=[self.account])

    # -- one negotiated_rates entry --------------------------------------------------------------------------------

    def _read_rate(self, locator: str, item: dict, code: str | None, rate: Any, item_problem: _Problem | None) -> None:
        if not isinstance(rate, dict):
            self._quarantine(locator, _Problem("negotiated_rate_invalid", "negotiated_rates entry is not an object"))
            return
        prices = rate.get("negotiated_prices")
        if not isinstance(prices, list) or not prices:
            problem = _Problem("negotiated_prices_missing", "negotiated rate has no negotiated_prices", _raw(prices))
            self._quarantine(locator, problem)
            return
        slots = self._slots(rate)
        for price_index, price in enumerate(prices):
            price_locator = f"{locator}.negotiated_prices[{price_index}]"
            parsed = _parse_price(price) if item_problem is None else item_problem
            for slot in slots:
                row_locator = f"{price_locator}.{slot.locator}"
                problem = parsed if isinstance(parsed, _Problem) else slot.problem
                if problem is not None:
                    self._quarantine(row_locator, problem)
                else:
                    self._load(row_locator, item, code, parsed, slot)

    def _slots(self, rate: dict) -> list[_Slot]:
        """The provider groups of one negotiated rate: inline groups, then resolved references."""
        slots: list[_Slot] = []
        groups = rate.get("provider_groups")
        if isinstance(groups, dict):
            groups = [groups]
        for group_index, group in enumerate(groups if isinstance(groups, list) else []):
            locator = f"provider_groups[{group_index}]"
            if isinstance(group, dict):
                slots.append(_Slot(locator, _provider(group), None, None))
            else:
                problem = _Problem("provider_group_invalid", "provider group is not an object", _raw(group))
                slots.append(_Slot(locator, None, None, problem))
        references = rate.get("provider_references")
        if references is not None and not isinstance(references, list):
            references = [references]
        for ref_index, ref_id in enumerate(references or []):
            slots.extend(self._reference_slots(f"provider_references[{ref_index}]", ref_id))
        if not slots:
            problem = _Problem("provider_groups_missing", "negotiated rate has neither provider_groups nor references")
            slots.append(_Slot("provider_groups", None, None, problem))
        return slots

    def _reference_slots(self, locator: str, ref_id: Any) -> list[_Slot]:
        key = _ref_key(ref_id)
        locator = f"{locator}->provider_group_id={key if key is not None else _raw(ref_id)}"
        entry = self.root.references.get(key) if key is not None else None
        if entry is None:
            problem = _Problem("provider_reference_missing", "no root provider reference has this id", _raw(ref_id))
        elif key in self.root.duplicate_ids:
            problem = _Problem("provider_reference_duplicate", "several root provider_references share this id", key)
        elif entry.groups:
            invalid = _Problem("provider_group_invalid", "a group of this provider reference is not an object", key)
            return [
                _Slot(f"{locator}.provider_groups[{i}]", group, entry.network_name, None if group else invalid)
                for i, group in enumerate(entry.groups)
            ]
        elif entry.location is not None:
            problem = _Problem(
                "provider_reference_remote",
                f"provider group id {key} is a remote provider-reference file (not fetched): {entry.location}",
                key,
            )
        else:
            problem = _Problem("provider_reference_empty", "root provider_references entry has no provider groups", key)
        return [_Slot(locator, None, None, problem)]

    # -- accounting --------------------------------------------------------------------------------------------------

    def _load(self, locator: str, item: dict, code: str, price: _Price, slot: _Slot) -> None:
        provider = slot.provider
        self.rows.append(
            {
                "source_type": "tic",
                "payer_raw": self.payer_raw,
                "payer_family": self.identity.payer_family,
                "payer_brand": self.identity.payer_brand,
                "plan_raw": self.plan_raw,
                "plan_id": self.plan_id,
                "product_line": self.identity.product_line,
                "network_name": slot.network_name,
                "billing_code": code,
                "billing_code_type": _text(item.get("billing_code_type")).upper(),
                "modifiers": price.modifiers,
                "pos_setting": price.pos_setting,
                "care_setting": price.care_setting,
                "billing_class": price.billing_class,
                "rate_type": price.rate_type,
                "amount": price.amount,
                "amount_unit": price.amount_unit,
                "amount_usd": price.amount_usd,
                "dollar_basis": None,
                "service_codes": price.service_codes,
                "negotiation_arrangement": (_text(item.get("negotiation_arrangement")) or "").lower() or None,
                "expiration_date": price.expiration_date,
                "provider_npis": provider.npis,
                "provider_tin": provider.tin,
                "provider_name": provider.name,
                "state": None,
                "medicare_locality": None,
                "source_file": self.source_file,
                "source_locator": locator,
                "source_sha256": self.sha256,
                "is_synthetic": self.is_synthetic,
            }
        )
        self.account.rows_seen += 1
        self.account.rows_loaded += 1

    def _quarantine(self, locator: str, problem: _Problem) -> None:
        self.quarantined.append(
            {
                "source_file": self.source_file,
                "source_locator": locator,
                "reason_code": problem.reason_code,
                "detail": problem.detail,
                "raw_value": problem.raw_value,
            }
        )
        self.account.rows_seen += 1
        self.account.rows_quarantined += 1

    def _filter_out(self, base: str, item: dict) -> None:
        """Count an unwanted item's rows with the same rule as loaded ones (see the module docstring)."""
        rates = item.get("negotiated_rates")
        count = 0
        if isinstance(rates, list) and rates:
            for rate in rates:
                prices = rate.get("negotiated_prices") if isinstance(rate, dict) else None
                if isinstance(prices, list) and prices:
                    count += len(prices) * len(self._slots(rate))
                else:
                    count += 1
        else:
            count = 1
        self.account.rows_seen += count
        self.account.rows_filtered_out += count


# ---------------------------------------------------------------------------------------------------------------------
# Value parsing


def _item_problem(item: dict, code: str | None) -> _Problem | None:
    """A problem that spoils every row of an in_network item."""
    if code is None:
        return _Problem("billing_code_missing", "in_network item has no billing_code", _raw(item.get("billing_code")))
    if _text(item.get("billing_code_type")) is None:
        return _Problem("billing_code_type_missing", "in_network item has no billing_code_type", code)
    return None


def _parse_price(price: Any) -> _Price | _Problem:
    """A negotiated_price object, checked and normalized (or the first problem found in it)."""
    if not isinstance(price, dict):
        return _Problem("negotiated_price_invalid", "negotiated price is not an object", _raw(price))
    amount = _parse_rate(price.get("negotiated_rate"))
    if isinstance(amount, _Problem):
        return amount
    raw_type = price.get("negotiated_type")
    type_key = " ".join((_text(raw_type) or "").lower().replace("_", " ").split())
    if type_key not in RATE_TYPES:
        return _Problem("negotiated_type_unknown", "negotiated_type is not one of the TiC values", _raw(raw_type))
    rate_type, unit, per_service = RATE_TYPES[type_key]
    raw_class = _text(price.get("billing_class"))
    billing_class = raw_class.lower() if raw_class else "unknown"
    if raw_class and billing_class not in BILLING_CLASSES:
        return _Problem("billing_class_unknown", "billing_class is not professional/institutional/both", raw_class)
    raw_setting = _text(price.get("setting"))
    care_setting = raw_setting.lower() if raw_setting else "unknown"
    if raw_setting and care_setting not in CARE_SETTINGS:
        return _Problem("setting_unknown", "setting is not inpatient/outpatient/both", raw_setting)
    service_codes = _service_codes(price.get("service_code"))
    return _Price(
        rate_type=rate_type,
        amount=amount,
        amount_unit=unit,
        amount_usd=amount if per_service else None,
        billing_class=billing_class,
        care_setting=care_setting,
        pos_setting=_pos_setting(service_codes, billing_class),
        service_codes="|".join(service_codes) or None,
        modifiers="|".join(sorted({m.upper() for m in _texts(price.get("billing_code_modifier"))})),
        expiration_date=_text(price.get("expiration_date")),
    )


def _parse_rate(raw: Any) -> float | _Problem:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _Problem("rate_missing", "negotiated_rate is missing or blank", _raw(raw))
    if isinstance(raw, bool):
        return _Problem("rate_not_numeric", "negotiated_rate is not a number", _raw(raw))
    if isinstance(raw, (int, float, Decimal)):
        value = float(raw)
    elif isinstance(raw, str) and (_NUMBER_TEXT.fullmatch(raw.strip()) or _NON_FINITE_TEXT.fullmatch(raw.strip())):
        value = float(raw.strip())
    else:
        return _Problem("rate_not_numeric", "negotiated_rate is not a number", _raw(raw))
    if not math.isfinite(value):
        return _Problem("rate_not_finite", "negotiated_rate is NaN or infinite", _raw(raw))
    if value <= 0:
        return _Problem("rate_not_positive", "negotiated_rate is zero or negative", _raw(raw))
    return value


def _service_codes(raw: Any) -> list[str]:
    codes = set()
    for text in _texts(raw):
        text = text.upper()
        codes.add(text.zfill(2) if text.isdigit() and len(text) == 1 else text)
    return sorted(codes)


def _pos_setting(service_codes: list[str], billing_class: str) -> str:
    if not service_codes:
        return "facility" if billing_class == "institutional" else "unknown"
    if ALL_POS_CODE in service_codes:
        return "both"
    facility = sum(code in FACILITY_POS_CODES for code in service_codes)
    if facility == len(service_codes):
        return "facility"
    return "non_facility" if facility == 0 else "both"


def _provider(group: dict) -> _Provider:
    """NPIs (placeholder 0 dropped), TIN (placeholder "0" dropped) and business name of a provider group."""
    npis = sorted({npi for npi in (_id_text(v) for v in _as_list(group.get("npi"))) if npi and npi != "0"})
    tin = group.get("tin")
    if isinstance(tin, dict):
        tin_value, name = _id_text(tin.get("value")), _text(tin.get("business_name"))
    else:
        tin_value, name = _id_text(tin), None
    return _Provider(npis="|".join(npis) or None, tin=None if tin_value == "0" else tin_value, name=name)


# ---------------------------------------------------------------------------------------------------------------------
# Small text helpers


def _wanted_codes(codes: Iterable[str] | None) -> set[str] | None:
    if codes is None:
        return None
    if isinstance(codes, str):
        codes = [codes]
    return {str(code).strip() for code in codes}


def _text(value: Any) -> str | None:
    """Stripped text of a scalar, None for missing/blank/containers."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _id_text(value: Any) -> str | None:
    """Text of an identifier that may have been published as a number (5 and 5.0 both give "5")."""
    if isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return _text(value)


def _ref_key(value: Any) -> str | None:
    return _id_text(value)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _texts(value: Any) -> list[str]:
    return [t for t in (_text(v) for v in _as_list(value)) if t]


def _raw(value: Any, limit: int = 200) -> str | None:
    """A short text form of an offending value for the quarantine table."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
