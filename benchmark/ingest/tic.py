"""Read a payer's Transparency-in-Coverage (TiC) in-network rate file into normalized rate rows.

Entry point: :func:`read_in_network`. It accepts schema 1.x and 2.x files — a path, a ``.json``/``.json.gz`` file, a
single-file ``.zip``, an http(s) URL or a :class:`~benchmark.ingest.sources.Source` (a zip member, a file listed by a
table of contents, with its plans) — and returns an :class:`~benchmark.ingest.result.IngestResult` whose ``rates``
pass :func:`benchmark.schema.validate_rates`, whose ``quarantine`` passes ``QuarantineSchema`` and whose single
:class:`FileAccount` balances. A file-level problem raises :class:`TicFileError` and returns nothing of the file.

How a file is read (one pass, bounded memory; see :mod:`benchmark.ingest.tic_scan` for the scanner)
    The document streams once through :func:`~benchmark.ingest.tic_scan.scan_document` (gunzip in a thread, every
    byte checked). Root keys may come in any order (``provider_references`` before or after ``in_network``,
    ``version`` last). ``in_network`` items arrive in batches decoded into small shapes (billing code, and per
    negotiated rate: the number of prices, the number of inline groups, the raw reference-id list):

    * an item for a wanted code (or any item when ``codes`` is None) is copied as raw bytes to a spill file
      (memory up to 64 MB, then a temporary file);
    * any other item is counted (its rows, see below) and forgotten: it is never built as Python objects;
    * root ``provider_references`` entries are reduced to ``id -> (group count, where its bytes are)``; their bytes
      go to the spill file, and only the entries a kept item refers to are ever decoded.

    When the whole file has been read and checked, the kept items are decoded (``json`` with a duplicate-key check)
    and turned into rows. Nothing is returned for a file that fails at any point.

Memory bound
    Scanner (~100-150 MB with the defaults, see tic_scan) + ~100 bytes per distinct root ``provider_group_id`` + 8 bytes
    per integer reference id up to the largest one used (a dense count array) + the rows returned. The spill file
    holds the kept items and the root ``provider_references`` section (on disk beyond 64 MB). Measured peak RSS is
    in README.md (benchmarks/bench_tic.py).

What one row is ("a row seen")
    One row is one ``negotiated_price`` x one provider group: the unit every count in the :class:`FileAccount` uses,
    whether the row is loaded, quarantined, filtered out or deduplicated (filtered items are counted with the same
    rule from their shapes, without building them). Where a dimension cannot be expanded it counts as ONE row:

    * a provider reference that cannot be resolved (id not found, remote ``location``, empty or duplicated entry)
      counts as one provider group (we cannot know how many groups it would hold);
    * a negotiated rate with no provider groups and no references counts as one provider group;
    * a negotiated rate with no ``negotiated_prices`` counts as one row (not multiplied by its groups);
    * an ``in_network`` item that is not an object or has no ``negotiated_rates`` counts as one row;
    * a ``negotiated_rates`` entry that is not an object counts as one row.

    Every quarantined row gets its own quarantine record, so ``len(quarantine) == rows_quarantined``.

Deduplication (``deduplicate=True``)
    Two loaded rows of the same file are duplicates when every normalized column is equal except ``source_locator``
    (where it was found) — same code, type, modifiers, POS codes, setting, class, rate type, amount, expiration,
    arrangement, bundled/covered codes, provider NPIs, TIN, network and plan. The first is kept with
    ``dedup_count`` = how many identical rows it stands for; the others are counted in ``rows_deduplicated``. This
    collapses a rate repeated for the same provider group under several provider references, negotiated-rate
    entries or items; rates for different NPIs/TINs stay distinct rows (they are different contracts).

Values
    * ``billing_code`` is kept as text exactly as published (stripped; never cast to a number). ``codes`` (a list
      of codes and ranges, see :class:`CodeFilter`) are compared after stripping and upper-casing.
      ``billing_code_type`` is upper-cased.
    * ``modifiers``: ``billing_code_modifier`` stripped, upper-cased, sorted, unique, joined with ``|`` ("" if none).
    * ``service_codes``: stripped, one-digit codes zero-padded (``5`` -> ``05``), sorted, unique, joined with ``|``.
      ``pos_setting``: all codes in the CMS facility POS set -> ``facility``; none -> ``non_facility``; a mix or
      ``CSTM-00`` -> ``both``; no codes -> ``facility`` for institutional billing, else ``unknown``.
    * ``negotiated_rate`` must be a finite number > 0. A JSON number is used as is; a string holding a plain decimal
      number (``"123.45"``, ``"4.432E+04"``) is accepted too; anything else (``"$1,234.50"``, ``"N/A"``) is
      quarantined.
    * Rate types keep their meaning: ``negotiated``, ``fee schedule`` and ``derived`` (labelled in ``rate_type``)
      are per-service dollars, so ``amount_usd == amount``. A ``percentage`` stays a percentage (``amount_unit``
      ``percent``, e.g. 65 = 65 %): TiC defines it as a percent of billed charges, which the file does not contain,
      so ``amount_usd`` stays empty (the base is unknown; nothing is guessed) and ``dollar_basis`` is empty. A
      ``per diem`` stays a daily rate (``USD_per_day``, ``amount_usd`` empty).
    * Bundles keep their ``bundled_codes`` and capitation its ``covered_services`` (``TYPE:code``, ``|``-joined, in
      published order); ``severity_of_illness`` (2.x) and the price's ``additional_information`` are kept.
    * Provider identity: ``provider_npis`` are the group's NPIs as text, sorted, unique, ``|``-joined. The TIN-only
      placeholder NPI ``0`` is dropped, so ``npi: [0]`` (and ``npi: []``) gives ``provider_npis = None`` while
      ``provider_tin`` keeps the contract's TIN. A TIN value of ``"0"`` is likewise stored as None.
      ``provider_name`` is ``tin.business_name`` (2.x) when present. 2.x root references carry ``network_name[]``
      (joined with ``|``); inline 1.x groups have no network name.
    * ``payer_raw`` is ``reporting_entity_name`` (``issuer_name`` only if the former is missing). Plan columns come
      from the file's root (``plan_name``, or ``issuer_name`` when there is no plan name; ``plan_count`` 1), else
      from the plans a table of contents lists for the file (values joined with ``|``, at most 25 shown then
      ``(+N more)``; ``plan_count`` = number of plans), else they are empty (a multi-plan file read alone).
    * ``setting`` (2.x) becomes ``care_setting``; without it ``care_setting`` is ``"unknown"``.
    * 1.x root references that only hold a remote ``location`` are fetched when the source came from a URL or a
      table of contents, or when ``remote=`` is given (https only, public hosts only, see
      :class:`~benchmark.ingest.sources.RemotePolicy`); otherwise (and when fetching fails) their rows are
      quarantined.

``source_locator``
    The path of the price, then the provider group it is crossed with::

      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_groups[2]
      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_references[0]->provider_group_id=5.provider_groups[1]

    the second form reads: reference number 0 of that negotiated rate, which points at root provider group id 5, whose
    ``provider_groups[1]`` is the group. Unresolvable references end at ``->provider_group_id=5``. Rows that could not
    be expanded (see above) use the path of the deepest element that exists, e.g. ``in_network[4].negotiated_rates[0]``.

Quarantine reason codes (item level; the file is still read)
    ``in_network_item_invalid``, ``negotiated_rates_missing``, ``negotiated_rate_invalid``,
    ``negotiated_prices_missing``, ``negotiated_price_invalid``, ``billing_code_missing``,
    ``billing_code_type_missing``, ``rate_missing``, ``rate_not_numeric``, ``rate_not_finite``, ``rate_not_positive``,
    ``negotiated_type_unknown``, ``billing_class_unknown``, ``setting_unknown``, ``key_misspelled`` (a key one or two
    letters away from a key that carries meaning, e.g. ``billing_code_modifer``: the rate would silently lose it),
    ``provider_groups_missing``, ``provider_group_invalid``, ``provider_reference_missing``,
    ``provider_reference_remote``, ``provider_reference_fetch_failed``, ``provider_reference_empty``,
    ``provider_reference_duplicate``. A missing ``billing_class`` becomes ``"unknown"``; a present but unrecognised
    one is quarantined (same for ``setting``).

File-level problems (:class:`TicFileError`, nothing of the file is returned)
    Not gzip although named ``.gz`` (e.g. an HTML error page), truncated or corrupt gzip, trailing garbage, a gzip
    bomb (decompressed size or ratio cap), empty file, invalid JSON with byte offset and line:column (trailing
    commas, NaN/Infinity, unescaped quotes, several root documents), nesting deeper than ~1,000 levels, an item
    larger than ``Limits.max_item_bytes``, duplicate keys (at the root, or inside an item or provider reference that
    is decoded — items skipped by the code filter are checked for syntax only), text that is not UTF-8 in a decoded
    item, a root that is not an object, no ``in_network`` array (the message lists the keys found, e.g. a misspelled
    ``in_networks``), no reporting entity name.
"""

from __future__ import annotations

import difflib
import gc
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, compress
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from benchmark.ingest.result import FileAccount, IngestResult
from benchmark.ingest.sources import PlanInfo, RemotePolicy, Source, SourceError, as_source, fetch_json
from benchmark.ingest.tic_scan import Batch, Limits, ScanError, StreamStats, scan_document
from benchmark.payers import resolve_payer
from benchmark.schema import (
    HOSPITAL_DETAIL_COLUMNS,
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
MAX_PLANS_SHOWN = 25

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
# Keys whose loss changes a row's meaning; an unknown key this close to one of them is a misspelling.
_ITEM_KEYS = frozenset({"negotiation_arrangement", "billing_code_type", "billing_code_type_version", "billing_code",
                        "negotiated_rates", "bundled_codes", "covered_services", "severity_of_illness"})
_ITEM_OTHER_KEYS = frozenset({"name", "description"})
_RATE_KEYS = frozenset({"negotiated_prices", "provider_references", "provider_groups"})
_PRICE_KEYS = frozenset({"negotiated_type", "negotiated_rate", "expiration_date", "service_code", "billing_class",
                         "setting", "billing_code_modifier", "additional_information"})
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE_TEXT = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_QUARANTINE_COLUMNS = list(QuarantineSchema.to_schema().columns)
_SPILL_IN_MEMORY = 64 << 20


class TicFileError(ValueError):
    """A TiC file that cannot be read at all (not JSON, truncated, wrong structure); nothing of it is returned."""


class TableOfContentsFound(TicFileError):
    """The document is a table of contents, not an in-network file (read it with sources.read_source)."""


@dataclass(frozen=True)
class CodeFilter:
    """Billing codes to keep: exact codes and inclusive ranges (``"44300-44346"``, ``"J0100-J0200"``).

    Codes are compared after stripping and upper-casing. A range matches codes of the same length as its ends that
    sort between them (so ``99201-99215`` holds ``99213`` but not ``992130``); an entry whose two sides differ in
    length (``44320-80``) is an exact code, not a range.
    """

    codes: frozenset[str] = frozenset()
    ranges: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, codes: "Iterable[str] | str | CodeFilter | None") -> "CodeFilter | None":
        """A filter from codes and ranges; None (keep everything) for None or ``"all"``."""
        if codes is None or isinstance(codes, CodeFilter):
            return codes
        if isinstance(codes, str):
            codes = [codes]
        exact, ranges = set(), []
        for entry in codes:
            text = str(entry).strip().upper()
            if text == "ALL":
                return None
            low, sep, high = text.partition("-")
            low, high = low.strip(), high.strip()
            if sep and low and len(low) == len(high) and low <= high:
                ranges.append((low, high))
            elif text:
                exact.add(text)
        return cls(frozenset(exact), tuple(ranges))

    def matches(self, code: str | None) -> bool:
        if code is None:
            return False
        code = code.upper()
        if code in self.codes:
            return True
        return any(len(code) == len(low) and low <= code <= high for low, high in self.ranges)


@dataclass
class ReadProgress:
    """Where a read is (passed to progress callbacks after every chunk and at the end)."""

    source_name: str
    stored_bytes: int | None  # the stored (compressed) size when known
    raw_bytes: int  # stored bytes read so far
    json_bytes: int  # JSON text bytes so far
    prices_found: int  # negotiated prices in the items kept so far
    finished: bool = False


_PROGRESS: ContextVar[Callable[[ReadProgress], None] | None] = ContextVar("tic_progress", default=None)


@contextmanager
def reporting_progress(callback: Callable[[ReadProgress], None]) -> Iterator[None]:
    """Send the progress of every :func:`read_in_network` call inside the block to ``callback`` (e.g. a CLI bar)."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def read_in_network(
    path: str | Path | Source,
    codes: Iterable[str] | str | CodeFilter | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
    plans: Iterable[PlanInfo] | None = None,
    remote: RemotePolicy | None = None,
    limits: Limits | None = None,
    deduplicate: bool = True,
    progress: Callable[[ReadProgress], None] | None = None,
) -> IngestResult:
    """Normalized rate rows (one per negotiated price x provider group) from one TiC in-network file.

    ``codes``: billing codes and ranges to keep (see :class:`CodeFilter`; None keeps all); items for other codes
    are counted as ``rows_filtered_out`` without being built. ``source_name`` replaces the file name in
    ``source_file``. ``plans`` (from a table of contents) describe the plans a multi-plan file serves. ``remote``
    allows fetching 1.x remote provider-reference files. Item-level problems are quarantined; file-level problems
    raise :class:`TicFileError`.
    """
    try:
        source = as_source(path, remote)
    except SourceError as error:
        raise TicFileError(str(error)) from None
    name = source_name or source.name
    policy = remote if remote is not None else (source.policy if source.is_url or source.found_in else None)
    collector = _Collector(name=name, wanted=CodeFilter.parse(codes))
    listener = progress or _PROGRESS.get()
    stored = source.size

    def report(stats: StreamStats, finished: bool = False) -> None:
        if listener:
            listener(ReadProgress(name, stored, stats.raw_bytes, stats.json_bytes, collector.prices_found, finished))

    try:
        with _gc_paused(), source.open(limits) as stream, collector.spill:
            stats = scan_document(stream, collector, name=name, limits=limits, progress=report,
                                  expect_gzip=source.file_name.lower().endswith(".gz"))
            collector.check_root()
            result = collector.finish(
                sha256=stats.sha256 or "",
                is_synthetic=is_synthetic,
                plans=tuple(plans) if plans is not None else source.plans,
                policy=policy,
                deduplicate=deduplicate,
            )
        report(stats, finished=True)
        return result
    except ScanError as error:
        raise TicFileError(str(error)) from None
    except SourceError as error:
        raise TicFileError(f"{name}: {error}" if name not in str(error) else str(error)) from None
    except OSError as error:
        raise TicFileError(f"{name}: cannot read ({error})") from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while reading: the reader makes millions of short-lived tuples and no cycles,
    and generation-2 passes over them cost more than the parsing (refcounting still frees everything at once)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------------------------------
# The scan: shapes of items and references (what msgspec builds for every element)


class _Empty(msgspec.Struct, gc=False):
    pass


_NO_REFERENCES = msgspec.Raw(b"")


# Tuples, empty structs and raw slices: msgspec builds these ~2x faster than lists of anything.
class _RateShape(msgspec.Struct, gc=False):
    negotiated_prices: tuple[_Empty, ...] = ()
    provider_references: msgspec.Raw = _NO_REFERENCES
    provider_groups: tuple[_Empty, ...] = ()


class _ItemShape(msgspec.Struct, gc=False):
    billing_code: Any = None
    negotiated_rates: tuple[_RateShape, ...] = ()


class _ReferenceShape(msgspec.Struct, gc=False):
    provider_group_id: Any = None
    provider_groups: tuple[_Empty, ...] = ()


_ITEMS = msgspec.json.Decoder(list[_ItemShape])
_ITEM = msgspec.json.Decoder(_ItemShape)
_REFERENCES = msgspec.json.Decoder(list[_ReferenceShape])
_REFERENCE = msgspec.json.Decoder(_ReferenceShape)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_INT_LISTS = msgspec.json.Decoder(list[list[int]])
_ANY = msgspec.json.Decoder()
_RATES_OF = attrgetter("negotiated_rates")
_PRICES_OF = attrgetter("negotiated_prices")
_GROUPS_OF = attrgetter("provider_groups")
_REFERENCES_OF = attrgetter("provider_references")
_GROUP_ID_OF = attrgetter("provider_group_id")
_MAX_DENSE_ID = 50_000_000
_LIST_PUNCTUATION = b"[] \t\r\n"
_INTEGER_TEXT = b"0123456789,-"


@dataclass
class _Kept:
    index: int
    offset: int  # absolute offset of the item in the JSON text
    spill_at: int
    size: int


class _Collector:
    """The document handler: root fields, kept items, reference table, counts of filtered rows."""

    def __init__(self, *, name: str, wanted: CodeFilter | None) -> None:
        self.name, self.wanted = name, wanted
        self.root_keys: list[str] = []
        self.fields: dict[str, Any] = {}
        self.in_network_is_array = False
        self.items_closed = False
        self.spill = tempfile.SpooledTemporaryFile(max_size=_SPILL_IN_MEMORY)
        self.kept: list[_Kept] = []
        self.needed: set[Any] = set()  # reference ids the kept items use
        self.prices_found = 0
        self.filtered = _FilteredRows()
        self.table: dict[Any, tuple[int, int, int]] = {}  # reference id -> (groups, spilled batch, position)
        self.duplicates: set[Any] = set()
        self.batches: list[tuple[int, int]] = []  # spilled reference batches: (offset, size)

    # -- DocumentHandler ---------------------------------------------------------------------------------------------

    def root_value(self, key: str, data: bytes, offset: int) -> None:
        self.root_keys.append(key)
        if key in _ROOT_FIELDS:
            value = self._loads(data, f"root value {key!r}", offset)
            if not isinstance(value, (dict, list)):
                self.fields[key] = value

    def root_array(self, key: str):
        self.root_keys.append(key)
        if key == "in_network":
            self.in_network_is_array = True
            return _ItemArray(self)
        if key == "provider_references":
            return _ReferenceArray(self)
        if key == "reporting_structure":
            raise TableOfContentsFound(f"{self.name}: a table of contents (reporting_structure), not an in-network file")
        return _SkipArray()

    # -- used by the array handlers ----------------------------------------------------------------------------------

    def keep(self, index: int, data: bytes, offset: int, rates: list | None, references: Iterable[bytes]) -> None:
        at = self.spill.tell()
        self.spill.write(data)
        self.kept.append(_Kept(index, offset, at, len(data)))
        if rates:
            self.prices_found += sum(len(r.negotiated_prices or ()) if isinstance(r, _RateShape) else
                                     len(r.get("negotiated_prices") or ()) if isinstance(r, dict) else 0
                                     for r in rates)
        for raw in references:
            self.needed.update(_reference_ids(raw))

    def store_batch(self, data: bytes) -> int:
        at = self.spill.tell()
        self.spill.write(data)
        self.batches.append((at, len(data)))
        return len(self.batches) - 1

    def register_many(self, keys: list[Any], groups: list[int], places: list[tuple[int, int]]) -> None:
        """:meth:`register` for a whole batch (dict operations in C)."""
        entries = {key: (count or 1, batch, position) for key, count, (batch, position) in zip(keys, groups, places)}
        entries.pop(None, None)
        if len(entries) != len(keys) - keys.count(None):
            self.duplicates.update(key for key, seen in Counter(keys).items() if seen > 1 and key is not None)
        clash = entries.keys() & self.table.keys()
        if clash:
            self.duplicates |= clash
            for key in clash:
                del entries[key]
        self.table.update(entries)

    def register(self, key: Any, groups: int, batch: int, position: int) -> None:
        if key is None:
            return  # cannot be referenced; rates pointing at it are quarantined as provider_reference_missing
        if key in self.table:
            self.duplicates.add(key)
            return
        self.table[key] = (groups or 1, batch, position)

    def check_root(self) -> None:
        if "in_network" not in self.root_keys:
            found = ", ".join(self.root_keys[:20]) or "none"
            raise TicFileError(f"{self.name}: no 'in_network' key at the root (root keys found: {found})")
        if not self.in_network_is_array:
            raise TicFileError(f"{self.name}: root 'in_network' is not an array")
        if _text(self.fields.get("reporting_entity_name")) is None and _text(self.fields.get("issuer_name")) is None:
            raise TicFileError(f"{self.name}: no reporting_entity_name (nor issuer_name) at the root")

    # -- after the scan ----------------------------------------------------------------------------------------------

    def finish(self, *, sha256: str, is_synthetic: bool, plans: tuple[PlanInfo, ...], policy: RemotePolicy | None,
               deduplicate: bool) -> IngestResult:
        root = _Root(fields=self.fields)
        self._load_references(root, policy)
        reader = _ItemReader(root=root, source_file=self.name, sha256=sha256, is_synthetic=is_synthetic,
                             wanted=self.wanted, plans=plans)
        reader.deduplicate = deduplicate
        for kept in self.kept:
            self.spill.seek(kept.spill_at)
            item = self._loads(self.spill.read(kept.size), f"in_network[{kept.index}]", kept.offset)
            reader.read_item(kept.index, item)
        filtered = self.filtered.total(self.table, self.duplicates)
        reader.account.rows_seen += filtered
        reader.account.rows_filtered_out += filtered
        return reader.result()

    def _load_references(self, root: _Root, policy: RemotePolicy | None) -> None:
        by_batch: dict[int, list[int]] = {}
        for key in self.needed:
            if key in self.duplicates:
                root.duplicate_ids.add(str(key))
                root.references[str(key)] = _Reference([], None, None)
            elif key in self.table:
                _, batch, position = self.table[key]
                by_batch.setdefault(batch, []).append(position)
        for batch, positions in sorted(by_batch.items()):
            offset, size = self.batches[batch]
            self.spill.seek(offset)
            entries = _RAW_LIST.decode(self.spill.read(size))
            for position in sorted(positions):
                root.add_reference(self._loads(bytes(entries[position]), "a provider_references entry", None))
        remote = [ref for ref in root.references.values() if ref.location and not ref.groups]
        if remote and policy is not None and policy.follow_provider_references:
            fetched: dict[str, Any] = {}
            for reference in remote:
                _fetch_reference(reference, policy, fetched)

    def _loads(self, data: bytes, where: str, offset: int | None) -> Any:
        """Decode one element with the standard library (it reports duplicate keys, msgspec keeps the last one)."""
        at = f" (starting at byte {offset:,})" if offset is not None else ""
        try:
            return json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as error:
            raise TicFileError(f"{self.name}: duplicate key {error.key!r} in {where}{at}; the file is ambiguous") from None
        except UnicodeDecodeError as error:
            raise TicFileError(f"{self.name}: text is not UTF-8 in {where}{at} ({error})") from None
        except (ValueError, RecursionError) as error:
            raise TicFileError(f"{self.name}: cannot decode {where}{at} ({error})") from None


class _ItemArray:
    """``in_network``: keep wanted items, count the rows of the others."""

    def __init__(self, collector: _Collector) -> None:
        self.c = collector

    def batch(self, batch: Batch) -> int:
        shapes = _ITEMS.decode(batch.data)
        wanted, kept, others = self.c.wanted, [], []
        for position, shape in enumerate(shapes):
            if wanted is None or wanted.matches(_text(shape.billing_code)):
                kept.append(position)
            else:
                others.append(shape)
        if others:
            self.c.filtered.add_shapes(others)
        if kept:
            spans = batch.spans(len(shapes))
            for position in kept:
                start, end = spans[position]
                self._keep_shape(batch.first_index + position, batch.data[start:end], batch.offset + start - 1,
                                 shapes[position])
        return len(shapes)

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            shape = _ITEM.decode(data)
        except (msgspec.MsgspecError, ValueError, RecursionError):
            shape = None
        if shape is not None:
            if self.c.wanted is None or self.c.wanted.matches(_text(shape.billing_code)):
                self._keep_shape(index, data, offset, shape)
            else:
                self.c.filtered.add_shapes([shape])
            return
        try:  # an odd shape (a string item, provider_groups as an object...): decode it as plain Python values
            item = _ANY.decode(data)
        except (msgspec.MsgspecError, ValueError) as error:
            raise ScanError(f"{self.c.name}: in_network[{index}] cannot be decoded ({error}) at byte {offset:,}") from None
        if not isinstance(item, dict):
            self.c.keep(index, data, offset, None, ())
        elif self.c.wanted is None or self.c.wanted.matches(_text(item.get("billing_code"))):
            rates = item.get("negotiated_rates")
            rates = rates if isinstance(rates, list) else []
            references = [msgspec.json.encode(r.get("provider_references")) for r in rates
                          if isinstance(r, dict) and r.get("provider_references") is not None]
            self.c.keep(index, data, offset, rates, references)
        else:
            self.c.filtered.add_item(item)

    def close(self, count: int) -> None:
        self.c.items_closed = True

    def _keep_shape(self, index: int, data: bytes, offset: int, shape: _ItemShape) -> None:
        rates = shape.negotiated_rates
        references = [bytes(r.provider_references) for r in rates if r.provider_references is not _NO_REFERENCES]
        self.c.keep(index, data, offset, rates, references)


class _ReferenceArray:
    """Root ``provider_references``: an id table; entries spilled (or, after in_network, only the needed ones)."""

    def __init__(self, collector: _Collector) -> None:
        self.c = collector

    def batch(self, batch: Batch) -> int:
        shapes = _REFERENCES.decode(batch.data)
        c = self.c
        keys = list(map(_reference_id, map(_GROUP_ID_OF, shapes)))
        groups = list(map(len, map(_GROUPS_OF, shapes)))
        if not c.items_closed:  # kept items may need any of them later: spill the batch
            number = c.store_batch(batch.data)
            c.register_many(keys, groups, [(number, position) for position in range(len(keys))])
            return len(shapes)
        places = [(-1, 0)] * len(keys)  # after in_network: only the entries the kept items use are stored
        needed = [position for position, key in enumerate(keys) if key in c.needed and key not in c.table]
        if needed:
            spans = batch.spans(len(shapes))
            for position in needed:
                start, end = spans[position]
                places[position] = (c.store_batch(b"[" + batch.data[start:end] + b"]"), 0)
        c.register_many(keys, groups, places)
        return len(shapes)

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            shape = _REFERENCE.decode(data)
            key, groups = _reference_id(shape.provider_group_id), len(shape.provider_groups or ())
        except (msgspec.MsgspecError, ValueError, RecursionError):
            try:
                entry = _ANY.decode(data)
            except (msgspec.MsgspecError, ValueError) as error:
                raise ScanError(f"{self.c.name}: provider_references[{index}] cannot be decoded ({error}) "
                                f"at byte {offset:,}") from None
            if not isinstance(entry, dict):
                return  # cannot be referenced
            found = entry.get("provider_groups")
            key, groups = _reference_id(entry.get("provider_group_id")), len(found) if isinstance(found, list) else 0
        number = self.c.store_batch(b"[" + data + b"]")
        self.c.register(key, groups, number, 0)

    def close(self, count: int) -> None:
        pass


class _SkipArray:
    """Any other root array: checked for syntax, not kept."""

    def batch(self, batch: Batch) -> int:
        return len(_RAW_LIST.decode(batch.data))

    def element(self, index: int, data: bytes, offset: int) -> None:
        pass

    def close(self, count: int) -> None:
        pass


class _FilteredRows:
    """Rows of filtered-out items, counted with the loaded-row rule from shapes (references resolved at the end).

    A negotiated rate with ``n`` prices, ``g`` inline groups and references ``r1..rk`` holds
    ``n * (g + groups(r1) + ... + groups(rk))`` rows (``n * 1`` when that sum is 0; 1 when ``n`` is 0). The work is
    done per batch with C-level iteration and numpy, not a Python loop per rate: the batch's reference lists are
    decoded in one call and their prices added per reference id (``np.bincount`` into a dense array for ordinary
    integer ids; a dict for anything else).
    """

    def __init__(self) -> None:
        self.direct = 0
        self.dense = np.zeros(0, dtype=np.int64)  # prices per integer id 0.._MAX_DENSE_ID
        self.per_id: dict[Any, float] = {}  # prices per any other id

    def add_shapes(self, items: list[_ItemShape]) -> None:
        """Count the rows of filtered items (one batch at a time)."""
        item_rates = list(map(_RATES_OF, items))
        rates = list(chain.from_iterable(item_rates))
        self.direct += item_rates.count(())  # an item without negotiated_rates counts one row
        if not rates:
            return
        size = len(rates)
        prices = np.fromiter(map(len, map(_PRICES_OF, rates)), np.int64, size)
        groups = np.fromiter(map(len, map(_GROUPS_OF, rates)), np.int64, size)
        raws = list(map(_REFERENCES_OF, rates))
        has_references = np.fromiter(map(len, raws), np.int64, size) > 0
        no_prices = prices == 0
        self.direct += int(no_prices.sum() + (prices * groups).sum() + prices[(groups == 0) & ~has_references].sum())
        counted = has_references & ~no_prices
        for selection, alone in ((counted & (groups > 0), False), (counted & (groups == 0), True)):
            for weight in np.unique(prices[selection]).tolist():  # usually 1, 2 or 3 prices per rate
                chosen = selection & (prices == weight)
                if not self._add_integer_lists(list(compress(raws, chosen.tolist())), weight, alone):
                    self._add_lists(list(compress(raws, chosen.tolist())), prices[chosen], alone)

    def _add_integer_lists(self, raws: list, weight: int, alone: bool) -> bool:
        """The fast path: lists of plain integers parsed by numpy in one call; False if the text is anything else."""
        lengths = np.fromiter(map(len, raws), np.int64, len(raws))
        empty = {i for i in np.flatnonzero(lengths <= 8).tolist() if not bytes(raws[i]).translate(None, _LIST_PUNCTUATION)}
        if empty:  # "[]" (an empty list) would leave ",," behind
            raws = [raw for i, raw in enumerate(raws) if i not in empty]
        joined = b",".join(raws).translate(None, _LIST_PUNCTUATION)
        if joined.translate(None, _INTEGER_TEXT):
            return False  # strings, floats, null, nested values: the general path decides
        ids = np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)
        if ids.size != (joined.count(b",") + 1 if joined else 0):
            return False
        if alone:
            self.direct += len(empty) * weight
        self._add(ids, np.full(ids.size, weight, np.int64))
        return True

    def _add_lists(self, raws: list, weights: np.ndarray, alone: bool) -> None:
        """Add ``weights`` (prices) to every id of each raw reference list; ``alone``: an empty list counts 1."""
        try:
            decoded = _INT_LISTS.decode(b"[" + b",".join(map(bytes, raws)) + b"]")
        except (msgspec.MsgspecError, ValueError):  # ids that are not integers, null, a scalar: one list at a time
            for raw, weight in zip(raws, weights.tolist()):
                ids = _reference_ids(bytes(raw))
                if not ids and alone:
                    self.direct += weight
                for key in ids:
                    self.per_id[key] = self.per_id.get(key, 0) + weight
            return
        lengths = np.fromiter(map(len, decoded), np.int64, len(decoded))
        if alone:
            self.direct += int(weights[lengths == 0].sum())
        ids = np.fromiter(chain.from_iterable(decoded), np.int64, int(lengths.sum()))
        self._add(ids, np.repeat(weights, lengths))

    def add_item(self, item: dict) -> None:
        rates = item.get("negotiated_rates")
        if not isinstance(rates, list) or not rates:
            self.direct += 1
            return
        for rate in rates:
            prices = rate.get("negotiated_prices") if isinstance(rate, dict) else None
            if not isinstance(prices, list) or not prices:
                self.direct += 1
                continue
            groups = rate.get("provider_groups")
            inline = 1 if isinstance(groups, dict) else len(groups) if isinstance(groups, list) else 0
            references = rate.get("provider_references")
            references = [] if references is None else references if isinstance(references, list) else [references]
            if not references:
                self.direct += len(prices) * (inline or 1)
                continue
            self.direct += len(prices) * inline
            for reference in references:
                key = _reference_id(reference)
                self.per_id[key] = self.per_id.get(key, 0) + len(prices)

    def _add(self, ids: np.ndarray, weights: np.ndarray) -> None:
        if not ids.size:
            return
        if ids.min() >= 0 and ids.max() < _MAX_DENSE_ID:
            sums = np.bincount(ids, weights=weights).round().astype(np.int64)
            if sums.size > self.dense.size:
                self.dense = np.concatenate([self.dense, np.zeros(sums.size - self.dense.size, np.int64)])
            self.dense[: sums.size] += sums
            return
        unique, inverse = np.unique(ids, return_inverse=True)
        for key, weight in zip(unique.tolist(), np.bincount(inverse, weights=weights).tolist()):
            self.per_id[key] = self.per_id.get(key, 0) + weight

    def total(self, table: dict[Any, tuple[int, int, int]], duplicates: set[Any]) -> int:
        """All filtered rows, given the reference table (groups per id; unknown or duplicated ids count 1)."""

        def groups_of(key: Any) -> int:
            entry = None if key in duplicates else table.get(key)
            return entry[0] if entry else 1

        total = self.direct
        if self.dense.size:
            used = np.flatnonzero(self.dense)
            groups = np.fromiter(map(groups_of, used.tolist()), np.int64, used.size)
            total += int((self.dense[used] * groups).sum())
        total += sum(weight * groups_of(key) for key, weight in self.per_id.items())
        return int(total)


def _reference_ids(raw: bytes) -> list[Any]:
    """Reference ids of a raw ``provider_references`` value (a list, or one scalar)."""
    try:
        value = _ANY.decode(raw)
    except (msgspec.MsgspecError, ValueError):
        return [None]
    if value is None:
        return []
    return [_reference_id(v) for v in value] if isinstance(value, list) else [_reference_id(value)]


def _reference_id(value: Any) -> Any:
    """A hashable id: ints stay ints (``5``, ``5.0`` and ``"5"`` are the same id); other text as text."""
    if type(value) is int:
        return value
    key = _ref_key(value)
    if key is not None and key.isascii() and key.isdigit() and (len(key) == 1 or key[0] != "0"):
        return int(key)
    return key


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _fetch_reference(reference: _Reference, policy: RemotePolicy, fetched: dict[str, Any]) -> None:
    """Fill a 1.x remote provider reference from its ``location`` (a provider-reference file)."""
    location = reference.location
    if location not in fetched:
        try:
            fetched[location] = fetch_json(location, policy, max_bytes=policy.max_reference_file_bytes)
        except (SourceError, OSError, ValueError) as error:
            fetched[location] = error
    document = fetched[location]
    if isinstance(document, Exception):
        reference.fetch_error = str(document)
        return
    groups = document.get("provider_groups") if isinstance(document, dict) else None
    if not isinstance(groups, list):
        reference.fetch_error = "the provider-reference file has no provider_groups array"
        return
    reference.groups = [_provider(g) if isinstance(g, dict) else None for g in groups]


# ---------------------------------------------------------------------------------------------------------------------
# Root: fields and the provider references the kept items use


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
    fetch_error: str | None = None


@dataclass
class _Root:
    fields: dict[str, Any] = field(default_factory=dict)
    references: dict[str, _Reference] = field(default_factory=dict)
    duplicate_ids: set[str] = field(default_factory=set)

    def add_reference(self, entry: Any) -> None:
        if not isinstance(entry, dict) or _ref_key(entry.get("provider_group_id")) is None:
            return
        key = str(_reference_id(entry.get("provider_group_id")))
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


# ---------------------------------------------------------------------------------------------------------------------
# Kept items -> rows, quarantine records and the account


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
    additional_information: str | None


@dataclass(frozen=True)
class _Plan:
    """Plan columns of every row of a file."""

    plan_raw: str | None
    plan_id: str | None
    plan_id_type: str | None
    plan_market_type: str | None
    issuer_name: str | None
    plan_sponsor_name: str | None
    plan_count: int | None


class _ItemReader:
    """Turns in_network items into rate rows and quarantine records, keeping the file's row account."""

    def __init__(self, *, root: _Root, source_file: str, sha256: str, is_synthetic: bool,
                 wanted: CodeFilter | None, plans: tuple[PlanInfo, ...] = ()):
        self.root = root
        self.source_file = source_file
        self.sha256 = sha256
        self.is_synthetic = is_synthetic
        self.wanted = wanted
        self.account = FileAccount(source_file=source_file, source_sha256=sha256)
        self.rows: dict[tuple, list] = {}  # the per-row values (_ROW_FIELDS) -> [first locator, count]
        self.loaded: list[tuple] = []  # every loaded row's values, in order, when not deduplicating
        self.locators: list[str] = []
        self.quarantined: list[dict[str, Any]] = []
        fields = root.fields
        self.payer_raw = _text(fields.get("reporting_entity_name")) or _text(fields.get("issuer_name"))
        self.plan = _plan_columns(fields, plans)
        self.identity = resolve_payer(self.payer_raw, self.plan.plan_raw)
        plan = self.plan
        self.constants: dict[str, Any] = {  # columns equal on every row of the file
            **dict.fromkeys(RATE_COLUMNS),
            "source_type": "tic",
            "payer_raw": self.payer_raw,
            "payer_family": self.identity.payer_family,
            "payer_brand": self.identity.payer_brand,
            "plan_raw": plan.plan_raw,
            "plan_id": plan.plan_id,
            "product_line": self.identity.product_line,
            "source_file": source_file,
            "source_sha256": sha256,
            "is_synthetic": is_synthetic,
            "plan_id_type": plan.plan_id_type,
            "plan_market_type": plan.plan_market_type,
            "issuer_name": plan.issuer_name,
            "plan_sponsor_name": plan.plan_sponsor_name,
            "plan_count": plan.plan_count,
            **dict.fromkeys(HOSPITAL_DETAIL_COLUMNS),  # hospital standard-charge details: none in TiC
        }
        self.deduplicate = True

    # -- public to the module ------------------------------------------------------------------------------------

    def read_item(self, index: int, item: Any) -> None:
        base = f"in_network[{index}]"
        if not isinstance(item, dict):
            self._quarantine(base, _Problem("in_network_item_invalid", "in_network item is not an object", _raw(item)))
            return
        code = _text(item.get("billing_code"))
        if self.wanted is not None and not self.wanted.matches(code):
            self._filter_out(item)
            return
        rates = item.get("negotiated_rates")
        if not isinstance(rates, list) or not rates:
            problem = _Problem("negotiated_rates_missing", "item has no negotiated_rates array", _raw(rates))
            self._quarantine(f"{base}.negotiated_rates", problem)
            return
        item_problem = _item_problem(item, code)
        details = _ItemDetails(item)
        for rate_index, rate in enumerate(rates):
            self._read_rate(f"{base}.negotiated_rates[{rate_index}]", details, code, rate, item_problem)

    def result(self) -> IngestResult:
        self.account.check()
        if self.deduplicate:
            values, locators, counts = list(self.rows), [v[0] for v in self.rows.values()], \
                [v[1] for v in self.rows.values()]
        else:
            values, locators, counts = self.loaded, self.locators, None
        rates = validate_rates(_rate_frame(self.constants, values, locators, counts)) if values else empty_rates()
        if self.quarantined:
            quarantine = QuarantineSchema.validate(pd.DataFrame(self.quarantined, columns=_QUARANTINE_COLUMNS))
        else:
            quarantine = empty_quarantine()
        return IngestResult(rates=rates, quarantine=quarantine, accounts=[self.account])

    # -- one negotiated_rates entry --------------------------------------------------------------------------------

    def _read_rate(self, locator: str, details: "_ItemDetails", code: str | None, rate: Any,
                   item_problem: _Problem | None) -> None:
        if not isinstance(rate, dict):
            self._quarantine(locator, _Problem("negotiated_rate_invalid", "negotiated_rates entry is not an object"))
            return
        prices = rate.get("negotiated_prices")
        if not isinstance(prices, list) or not prices:
            problem = _Problem("negotiated_prices_missing", "negotiated rate has no negotiated_prices", _raw(prices))
            self._quarantine(locator, problem)
            return
        rate_problem = item_problem or _misspelled(rate, _RATE_KEYS, _RATE_KEYS)
        slots = self._slots(rate)
        for price_index, price in enumerate(prices):
            price_locator = f"{locator}.negotiated_prices[{price_index}]"
            parsed = _parse_price(price) if rate_problem is None else rate_problem
            for slot in slots:
                row_locator = f"{price_locator}.{slot.locator}"
                problem = parsed if isinstance(parsed, _Problem) else slot.problem
                if problem is not None:
                    self._quarantine(row_locator, problem)
                else:
                    self._load(row_locator, details, code, parsed, slot)

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
        lookup = str(_reference_id(ref_id)) if key is not None else None
        entry = self.root.references.get(lookup) if lookup is not None else None
        if entry is None:
            problem = _Problem("provider_reference_missing", "no root provider reference has this id", _raw(ref_id))
        elif lookup in self.root.duplicate_ids:
            problem = _Problem("provider_reference_duplicate", "several root provider_references share this id", key)
        elif entry.groups:
            invalid = _Problem("provider_group_invalid", "a group of this provider reference is not an object", key)
            return [
                _Slot(f"{locator}.provider_groups[{i}]", group, entry.network_name, None if group else invalid)
                for i, group in enumerate(entry.groups)
            ]
        elif entry.fetch_error is not None:
            problem = _Problem(
                "provider_reference_fetch_failed",
                f"provider group id {key}: remote provider-reference file {entry.location} could not be read: "
                f"{entry.fetch_error}",
                key,
            )
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

    def _load(self, locator: str, details: "_ItemDetails", code: str, price: _Price, slot: _Slot) -> None:
        provider = slot.provider
        values = (
            slot.network_name, code, details.billing_code_type, price.modifiers, price.pos_setting,
            price.care_setting, price.billing_class, price.rate_type, price.amount, price.amount_unit,
            price.amount_usd, price.service_codes, details.arrangement, price.expiration_date, provider.npis,
            provider.tin, provider.name, details.severity_of_illness, details.bundled_codes, details.covered_services,
            price.additional_information,
        )
        self.account.rows_seen += 1
        self.account.rows_loaded += 1
        if not self.deduplicate:
            self.loaded.append(values)
            self.locators.append(locator)
            return
        earlier = self.rows.get(values)
        if earlier is None:
            self.rows[values] = [locator, 1]
        else:  # a duplicate (see the module docstring): the first row stands for it
            earlier[1] += 1
            self.account.rows_loaded -= 1
            self.account.rows_deduplicated += 1

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

    def _filter_out(self, item: dict) -> None:
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


class _ItemDetails:
    """Item-level values shared by every row of an in_network item."""

    __slots__ = ("billing_code_type", "arrangement", "severity_of_illness", "bundled_codes", "covered_services")

    def __init__(self, item: dict) -> None:
        self.billing_code_type = (_text(item.get("billing_code_type")) or "").upper()
        self.arrangement = (_text(item.get("negotiation_arrangement")) or "").lower() or None
        self.severity_of_illness = _text(item.get("severity_of_illness"))
        self.bundled_codes = _contained_codes(item.get("bundled_codes"))
        self.covered_services = _contained_codes(item.get("covered_services"))


# The columns _ItemReader._load fills per row, in the order of its value tuples (the others are per file).
_ROW_FIELDS = (
    "network_name", "billing_code", "billing_code_type", "modifiers", "pos_setting", "care_setting", "billing_class",
    "rate_type", "amount", "amount_unit", "amount_usd", "service_codes", "negotiation_arrangement",
    "expiration_date", "provider_npis", "provider_tin", "provider_name", "severity_of_illness", "bundled_codes",
    "covered_services", "additional_information",
)


def _rate_frame(constants: dict[str, Any], values: list[tuple], locators: list[str],
                counts: list[int] | None) -> pd.DataFrame:
    """The rate table, built column by column (per-file constants repeated; no dict per row)."""
    size = len(values)
    columns = dict(zip(_ROW_FIELDS, map(list, zip(*values))))
    columns["source_locator"] = locators
    columns["dedup_count"] = counts if counts is not None else [None] * size
    frame = {name: columns[name] if name in columns else [constants.get(name)] * size for name in RATE_COLUMNS}
    return pd.DataFrame(frame, columns=RATE_COLUMNS)


def _plan_columns(fields: dict[str, Any], plans: tuple[PlanInfo, ...]) -> _Plan:
    """The file's own plan (single-plan file), else the table of contents' plans, else nothing."""
    plan_id_type = _text(fields.get("plan_id_type"))
    own = _Plan(
        plan_raw=_text(fields.get("plan_name")) or _text(fields.get("issuer_name")),
        plan_id=_text(fields.get("plan_id")),
        plan_id_type=plan_id_type.lower() if plan_id_type else None,
        plan_market_type=(_text(fields.get("plan_market_type")) or "").lower() or None,
        issuer_name=_text(fields.get("issuer_name")),
        plan_sponsor_name=_text(fields.get("plan_sponsor_name")),
        plan_count=1 if _text(fields.get("plan_name")) or _text(fields.get("plan_id")) else None,
    )
    if own.plan_count or not plans:
        return own
    return _Plan(
        plan_raw=_joined(p.plan_name for p in plans),
        plan_id=_joined(p.plan_id for p in plans),
        plan_id_type=_joined(p.plan_id_type for p in plans),
        plan_market_type=_joined(p.plan_market_type for p in plans),
        issuer_name=_joined(p.issuer_name for p in plans) or own.issuer_name,
        plan_sponsor_name=_joined(p.plan_sponsor_name for p in plans),
        plan_count=len(plans),
    )


def _joined(values: Iterable[str | None]) -> str | None:
    distinct = list(dict.fromkeys(v for v in values if v))
    if len(distinct) > MAX_PLANS_SHOWN:
        return "|".join(distinct[:MAX_PLANS_SHOWN]) + f"|(+{len(distinct) - MAX_PLANS_SHOWN} more)"
    return "|".join(distinct) or None


def _contained_codes(value: Any) -> str | None:
    """``bundled_codes`` / ``covered_services`` as ``TYPE:code`` joined with ``|`` (published order, unique)."""
    codes = []
    for entry in _as_list(value):
        if not isinstance(entry, dict):
            continue
        code = _text(entry.get("billing_code"))
        if code:
            kind = (_text(entry.get("billing_code_type")) or "").upper()
            codes.append(f"{kind}:{code}" if kind else code)
    return "|".join(dict.fromkeys(codes)) or None


# ---------------------------------------------------------------------------------------------------------------------
# Value parsing


def _item_problem(item: dict, code: str | None) -> _Problem | None:
    """A problem that spoils every row of an in_network item."""
    if code is None:
        return _Problem("billing_code_missing", "in_network item has no billing_code", _raw(item.get("billing_code")))
    if _text(item.get("billing_code_type")) is None:
        return _Problem("billing_code_type_missing", "in_network item has no billing_code_type", code)
    return _misspelled(item, _ITEM_KEYS, _ITEM_KEYS | _ITEM_OTHER_KEYS)


def _parse_price(price: Any) -> _Price | _Problem:
    """A negotiated_price object, checked and normalized (or the first problem found in it)."""
    if not isinstance(price, dict):
        return _Problem("negotiated_price_invalid", "negotiated price is not an object", _raw(price))
    amount = _parse_rate(price.get("negotiated_rate"))
    if isinstance(amount, _Problem):
        return amount
    misspelled = _misspelled(price, _PRICE_KEYS, _PRICE_KEYS)
    if misspelled is not None:
        return misspelled
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
        additional_information=_text(price.get("additional_information")),
    )


_MISSPELLINGS: dict[tuple[str, frozenset[str]], str | None] = {}


def _misspelled(obj: dict, meaningful: frozenset[str], known: frozenset[str]) -> _Problem | None:
    """A key that is not a known key but nearly is one that carries meaning (a typo that would lose data)."""
    for key in obj:
        if key in known:
            continue
        cache_key = (key, meaningful)
        if cache_key not in _MISSPELLINGS:
            close = difflib.get_close_matches(key, meaningful, n=1, cutoff=0.85) if len(_MISSPELLINGS) < 10_000 else []
            _MISSPELLINGS[cache_key] = close[0] if close else None
        meant = _MISSPELLINGS[cache_key]
        if meant is not None and meant not in obj:
            return _Problem("key_misspelled", f"unknown key {key!r} looks like a misspelled {meant!r}", key)
    return None


def _parse_rate(raw: Any) -> float | _Problem:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _Problem("rate_missing", "negotiated_rate is missing or blank", _raw(raw))
    if isinstance(raw, bool):
        return _Problem("rate_not_numeric", "negotiated_rate is not a number", _raw(raw))
    if isinstance(raw, (int, float, Decimal)):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
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
