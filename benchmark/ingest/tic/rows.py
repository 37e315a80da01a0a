"""Rows of a TiC in-network file: the items the scan kept -> rate rows, quarantine records and the row account.

:func:`benchmark.ingest.tic.reader.read_in_network` scans a file once, keeping the wanted ``in_network`` items and the root
``provider_references`` entries they use as raw bytes. This module is the second phase: it decodes them and builds
the :class:`~benchmark.accounts.IngestResult`. What every column, count, locator and reason code means is
described in the :mod:`benchmark.ingest.tic.reader` docstring; this module implements it.

How the work is organised (columnar: no Python object per row)
    * :func:`decode_elements` decodes many JSON elements in one msgspec call and keeps the duplicate-key rejection
      of the standard library exact: text without a backslash has no escapes, so every ``:`` in it is either a
      key's separator or a character of a string; re-encoding the decoded value gives the same strings once each,
      so it holds fewer ``:`` exactly when a repeated key was collapsed. Anything else (escapes, a decode error, a
      count that differs) goes back to ``json.loads`` with the duplicate-key hook, which reports it as before.
    * :meth:`Root.add_encoded_references` reads the provider references of the usual shape (schema keys only,
      integer NPIs) into small msgspec structs the same way, turns all their NPI lists into text at once with Arrow
      and puts every group in a *group table* (network name, NPIs, TIN, name, where it is). Any other entry goes
      through :func:`decode_elements` and :meth:`Root.add_reference`; the results are the same.
    * :class:`RowBuilder` gives every valid negotiated price a row in a *price table* (item and price values,
      locator) and turns each negotiated rate into a *block*: its valid prices x its valid provider slots (spans of
      the group table; inline groups are added to it). A block's rows are never built one by one; problems are
      quarantined row by row, in the documented order.
    * :meth:`RowBuilder.result` expands the blocks into per-row (price, group) index arrays with numpy, deduplicates
      on integer classes of price values and group values (the first occurrence kept, in order, with its count),
      and builds every column with Arrow ``take`` from the small tables; a column holding one value in the whole
      file (the per-file constants, often the rate type or the network name) is one small chunk repeated. The frame
      has the dtypes :func:`benchmark.schema.validate_rates` produces, so its coercion changes nothing, and it is
      validated before it is returned.
    * For the rate store, :meth:`RowBuilder.results` with ``tidy`` gives the same rows (same plan, deduplication and
      batches) without building them: per row its billing code, price row, group row, locator prefix and count, and
      once per file the price, group and prefix tables (:class:`~benchmark.accounts.TidyRates`), cut from one frame
      of every price and group that is validated as rows are.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET, UnsetType

from benchmark.accounts import (
    GROUP_KEY,
    PREFIX_KEY,
    PRICE_KEY,
    FileAccount,
    IngestResult,
    TidyRates,
    declared_date,
)
from benchmark.ingest.tic.items import CodeFilter, id_text, reference_id, text_of
from benchmark.normalize.payers import resolve_payer
from benchmark.schema import (
    HOSPITAL_DETAIL_COLUMNS,
    RATE_COLUMNS,
    QuarantineSchema,
    RateSchema,
    check_built,
    check_built_rates,
    empty_quarantine,
    empty_rates,
)
from benchmark.sources.source import PlanInfo

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

# Keys whose loss changes a row's meaning; an unknown key this close to one of them is a misspelling.
_ITEM_KEYS = frozenset(
    {
        "negotiation_arrangement",
        "billing_code_type",
        "billing_code_type_version",
        "billing_code",
        "negotiated_rates",
        "bundled_codes",
        "covered_services",
        "severity_of_illness",
    }
)
_ITEM_OTHER_KEYS = frozenset({"name", "description"})
_RATE_KEYS = frozenset({"negotiated_prices", "provider_references", "provider_groups"})
_PRICE_KEYS = frozenset(
    {
        "negotiated_type",
        "negotiated_rate",
        "expiration_date",
        "service_code",
        "billing_class",
        "setting",
        "billing_code_modifier",
        "additional_information",
    }
)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE_TEXT = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_QUARANTINE_COLUMNS = list(QuarantineSchema.to_schema().columns)

# The columns of the price table (item values, then the price's) and of the group table, in their tuples' order.
_PRICE_FIELDS = (
    "billing_code",
    "billing_code_type",
    "negotiation_arrangement",
    "severity_of_illness",
    "bundled_codes",
    "covered_services",
    "modifiers",
    "pos_setting",
    "care_setting",
    "billing_class",
    "rate_type",
    "amount",
    "amount_unit",
    "amount_usd",
    "service_codes",
    "expiration_date",
    "additional_information",
)
_ITEM_FIELDS = 6  # the first fields are the item's
_GROUP_FIELDS = ("network_name", "provider_npis", "provider_tin", "provider_name")
_FLOAT_FIELDS = frozenset({"amount", "amount_usd"})
_STRING = pd.StringDtype("pyarrow", na_value=np.nan)  # the "str" dtype validate_rates gives text columns
_ANY = msgspec.json.Decoder()
_INT_ONLY = frozenset({int})
_STR_ONLY = frozenset({str})

# Arrow data built here (the rate table, NPI texts) comes from the C allocator, which reuses the memory the reader
# has just freed; the default pool (mimalloc) maps fresh huge pages for it, whose first touch cost 15-250 ms per
# 100 MB on the benchmark machine (measured; the C allocator: ~5-60 ms).
_TABLE_MEMORY = pa.system_memory_pool()
# A provider group's values: (NPIs joined, TIN, business name).
Provider = tuple  # tuple[str | None, str | None, str | None]


# ---------------------------------------------------------------------------------------------------------------------
# Decoding kept elements


class Escaped:
    """Placeholder of :func:`decode_elements` for an element to decode with the standard library."""


ESCAPED = Escaped()


def _decode_once_per_key(decoder: msgspec.json.Decoder, text: bytes) -> Any | None:
    """``decoder.decode(text)`` for text without a backslash, or None when msgspec cannot decode it or a repeated key
    was collapsed: every ``:`` of such text is a key's separator or a character of a string, and re-encoding the
    value writes each kept key and string once, so it holds fewer ``:`` exactly when a repeated key was dropped."""
    try:
        value = decoder.decode(text)
        again = msgspec.json.encode(value)
    except (msgspec.MsgspecError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    return value if text.count(b":") == again.count(b":") else None


def decode_elements(raws: list[bytes] | list[msgspec.Raw]) -> list[Any] | None:
    """JSON elements decoded in one msgspec call, exactly as ``json.loads`` would give them.

    Returns None when any element may hold a repeated key or msgspec cannot decode one (the caller then decodes all
    of them, in order, with the standard library and its duplicate-key hook, which reports the problem); an element
    whose text holds a backslash comes back as :data:`ESCAPED` (decode that one with the standard library).
    """
    if not raws:
        return []
    text = b"[" + b",".join(raws) + b"]"
    escaped = None
    if b"\\" in text:
        escaped = [b"\\" in bytes(raw) for raw in raws]
        text = b"[" + b",".join([raw for raw, skip in zip(raws, escaped) if not skip]) + b"]"
    values = _decode_once_per_key(_ANY, text)
    if values is None or escaped is None:
        return values
    found = iter(values)
    return [ESCAPED if skip else next(found) for skip in escaped]


# ---------------------------------------------------------------------------------------------------------------------
# Root: fields and the provider references the kept items use


class InTable:
    """A provider group whose values are rows of the group table already (from Reference.first_row on)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<group in the group table>"


IN_TABLE = InTable()


@dataclass(slots=True)
class Reference:
    """A root provider_references entry: its groups (None for a group that is not an object), or where they are."""

    groups: list[Provider | InTable | None]
    network_name: str | None
    location: str | None
    fetch_error: str | None = None
    first_row: int | None = None  # row of its first group in the group table, once its groups are there


class GroupTable:
    """Provider groups column by column: the values a rate row takes from its group, and where the group is."""

    __slots__ = ("networks", "npis", "tins", "names", "ids", "positions")

    def __init__(self) -> None:
        self.networks: list[str | None] = []
        self.npis: list[str | None] = []
        self.tins: list[str | None] = []
        self.names: list[str | None] = []
        self.ids: list[str | None] = []  # the provider_group_id text of a root reference's group; None inline
        self.positions: list[int] = []  # index in its provider_groups array

    def __len__(self) -> int:
        return len(self.npis)

    def add(self, network: str | None, provider: Provider, reference: str | None, position: int) -> int:
        self.networks.append(network)
        self.npis.append(provider[0])
        self.tins.append(provider[1])
        self.names.append(provider[2])
        self.ids.append(reference)
        self.positions.append(position)
        return len(self.npis) - 1

    def add_reference(self, key: str, reference: Reference) -> int:
        """Rows for every group of a reference (a group that is not an object gets an empty row, never loaded)."""
        first, size = len(self.npis), len(reference.groups)
        npis, tins, names = zip(*(group or _NO_PROVIDER for group in reference.groups)) if size else ((), (), ())
        self.npis.extend(npis)
        self.tins.extend(tins)
        self.names.extend(names)
        self.networks.extend([reference.network_name] * size)
        self.ids.extend([key] * size)
        self.positions.extend(range(size))
        reference.first_row = first
        return first


class Root:
    """The file's root fields, the provider references (by id text) the kept items use, and the group table."""

    def __init__(self, fields: dict[str, Any] | None = None) -> None:
        self.fields: dict[str, Any] = fields if fields is not None else {}
        self.references: dict[str, Reference] = {}
        self.duplicate_ids: set[str] = set()
        self.groups = GroupTable()
        # (integer id, id text, first group row, count) of references added in bulk, for RowBuilder.span_of_id
        self.integer_spans: list[tuple[int, str, int, int]] = []

    def add_reference(self, entry: Any) -> None:
        """Add one decoded provider_references entry (ignored without an id; a repeated id is marked duplicate)."""
        if not isinstance(entry, dict):
            return
        key = _reference_key(entry.get("provider_group_id"))
        if key is None:
            return
        if key in self.references:
            self.duplicate_ids.add(key)
            return
        groups = entry.get("provider_groups")
        self.references[key] = Reference(
            [provider_of(g) if type(g) is dict else None for g in groups] if isinstance(groups, list) else [],
            _network_name(entry.get("network_name")),
            _text(entry.get("location")),
        )

    def add_encoded_references(self, raws: list[bytes]) -> bool:
        """Add provider_references entries from their JSON text, if every one has the usual shape; else add
        nothing and return False (then decode them with duplicate-key checks and use :meth:`add_reference`).

        The usual shape: only the keys of the TiC schema, ids and names as integers or text, NPIs as flat arrays of
        integers, and no backslash (no escapes) anywhere. Such entries are decoded into small structs in one
        msgspec call; a repeated key is found as in :func:`decode_elements`; every NPI array is turned into text at
        once with Arrow (:func:`_npi_texts`). The results are those of :meth:`add_reference`.
        """
        text = b"[" + b",".join(raws) + b"]"
        if b"\\" in text:
            return False
        entries = _decode_once_per_key(_REFERENCE_ENTRIES, text)
        if entries is None:
            return False
        added: dict[str, _ReferenceEntry] = {}
        duplicates = []
        references = self.references
        for entry in entries:
            group_id = entry.provider_group_id
            key = str(group_id) if type(group_id) is int else _reference_key(None if group_id is UNSET else group_id)
            if key is None:
                continue
            if key in references or key in added:
                duplicates.append(key)
            else:
                added[key] = entry
        keys, kept = list(added), list(added.values())
        group_lists = [[] if entry.provider_groups is UNSET else entry.provider_groups for entry in kept]
        sizes = list(map(len, group_lists))
        groups = list(chain.from_iterable(group_lists))
        digits = _npi_digits([group.npi for group in groups])
        if digits is None:
            return False  # an NPI value that is not a flat array of integers: the general rules apply
        tins, names = _tins_and_names([group.tin for group in groups])
        networks = [None if entry.network_name is UNSET else _network_name_of(entry.network_name) for entry in kept]
        table = self.groups
        first = len(table)
        table.npis.extend(_npi_texts(digits, len(groups)))
        table.tins.extend(tins)
        table.names.extend(names)
        table.networks.extend(chain.from_iterable(map(repeat, networks, sizes)))
        table.ids.extend(chain.from_iterable(map(repeat, keys, sizes)))
        table.positions.extend(chain.from_iterable(map(range, sizes)))
        self.duplicate_ids.update(duplicates)
        start = 0
        for key, entry, size, network in zip(keys, kept, sizes, networks):
            location = None if entry.location is UNSET else _text(entry.location)
            references[key] = Reference([IN_TABLE] * size, network, location, None, first + start if size else None)
            if size and type(entry.provider_group_id) is int:
                self.integer_spans.append((entry.provider_group_id, key, first + start, size))
            start += size
        return True


def provider_of(group: dict) -> Provider:
    """NPIs (placeholder 0 dropped), TIN (placeholder "0" dropped) and business name of a provider group."""
    npi = group.get("npi")
    if type(npi) is list and set(map(type, npi)) <= _INT_ONLY:  # the usual list of integers: their text is str()
        texts = set(map(str, npi))
    else:
        texts = {t for t in map(id_text, _as_list(npi)) if t}
    texts.discard("0")
    tin = group.get("tin")
    if type(tin) is dict:
        tin_value, name = _id_text(tin.get("value")), _text(tin.get("business_name"))
    else:
        tin_value, name = _id_text(tin), None
    return "|".join(sorted(texts)) or None, None if tin_value == "0" else tin_value, name


def _reference_key(value: Any) -> str | None:
    """The text a provider reference id is known by (``5``, ``5.0`` and ``"5"`` all give "5"); None if blank."""
    if type(value) is int:
        return str(value)
    if id_text(value) is None:
        return None
    return str(reference_id(value))


def _network_name(names: Any) -> str | None:
    names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
    return "|".join(t for t in map(_text, names) if t) or None


def _network_name_of(names: str | list[str]) -> str | None:
    """_network_name of a text or a list of texts, remembered (files repeat a few network lists)."""
    key = names if type(names) is str else tuple(names)
    if key in _NETWORK_NAMES:
        return _NETWORK_NAMES[key]
    network = _network_name(names)
    _remember(_NETWORK_NAMES, key, network)
    return network


# The usual shape of a root provider_references entry (anything else takes the general path, see
# Root.add_encoded_references): omitted keys stay UNSET, so encoding the struct again gives back exactly its keys.
class _Tin(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: str | UnsetType = UNSET
    value: str | UnsetType = UNSET
    business_name: str | UnsetType = UNSET


_NO_NPI = msgspec.Raw(b"")


class _Group(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    npi: msgspec.Raw = _NO_NPI
    tin: _Tin | str | UnsetType = UNSET


class _ReferenceEntry(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    provider_group_id: int | str | UnsetType = UNSET
    network_name: list[str] | str | UnsetType = UNSET
    provider_groups: list[_Group] | UnsetType = UNSET
    location: str | UnsetType = UNSET


_REFERENCE_ENTRIES = msgspec.json.Decoder(list[_ReferenceEntry])
_NPI_CHARACTERS = b"0123456789,;[] \t\r\n"  # digits, commas, brackets, white space (";" joins values)


def _npi_digits(raws: list[msgspec.Raw]) -> str | None:
    """The integers of every raw ``npi`` value (empty: no key) as ``"123,456;;789"`` (one value per ``;``), or None
    unless every value is a flat array of non-negative integer literals (whose text is their digits)."""
    joined = b";".join(raws)
    if joined.translate(None, _NPI_CHARACTERS):
        return None  # text, fractions, signs, null or objects: not plain integers
    present = len(raws) - list(map(len, raws)).count(0)
    if joined.count(b"[") != present or (b";" + joined).count(b";[") != present:
        return None  # a bare number or a nested array: every value must be one "[...]"
    return joined.translate(None, b"[] \t\r\n").decode("ascii")


def _npi_texts(digits: str, count: int) -> list[str | None]:
    """provider_of's NPI text for each of the ``count`` values of :func:`_npi_digits`, all at once with Arrow."""
    if count <= _FEW_NPI_VALUES:  # Arrow's ~15 calls cost ~130 us whatever the size; Python ~0.5 us a value
        return [_joined_npis(value) for value in digits.split(";")] if count else []
    text, pool = pa.large_string(), _TABLE_MEMORY
    values = pc.list_flatten(pc.split_pattern(pa.array([digits], text, memory_pool=pool), ";", memory_pool=pool))
    lists = pc.split_pattern(values, ",", memory_pool=pool)  # per raw value: its integers as text
    tokens = pc.list_flatten(lists, memory_pool=pool)
    wanted = pc.and_(
        pc.not_equal(tokens, pa.scalar("", text), memory_pool=pool),
        pc.not_equal(tokens, pa.scalar("0", text), memory_pool=pool),
        memory_pool=pool,
    )
    owner = pc.filter(pc.list_parent_indices(lists, memory_pool=pool), wanted, memory_pool=pool)
    npi = pc.filter(tokens, wanted, memory_pool=pool)
    order = pc.sort_indices(
        pa.table({"owner": owner, "npi": npi}), [("owner", "ascending"), ("npi", "ascending")], memory_pool=pool
    )
    owner = pc.take(owner, order, memory_pool=pool).to_numpy().astype(np.int64)
    npi = pc.take(npi, order, memory_pool=pool)
    distinct = np.ones(len(owner), bool)
    if len(owner) > 1:  # the same NPI twice in a group counts once
        same = pc.equal(npi.slice(1), npi.slice(0, len(owner) - 1), memory_pool=pool).to_numpy(zero_copy_only=False)
        distinct[1:] = ~(same & (owner[1:] == owner[:-1]))
    owner, npi = owner[distinct], pc.filter(npi, pa.array(distinct), memory_pool=pool)
    offsets = pa.array(
        np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=count)))), pa.int64(), memory_pool=pool
    )
    joined_npis = pc.binary_join(pa.LargeListArray.from_arrays(offsets, npi), pa.scalar("|", text), memory_pool=pool)
    return [value or None for value in joined_npis.to_pylist()]


_FEW_NPI_VALUES = 64


def _joined_npis(value: str) -> str | None:
    """provider_of's NPI text of one value of :func:`_npi_digits` (its integers' texts, commas between)."""
    texts = set(value.split(","))
    texts.discard("")
    texts.discard("0")
    return "|".join(sorted(texts)) or None


def _tins_and_names(values: list[Any]) -> tuple[list[str | None], list[str | None]]:
    """provider_of's TIN and business name for each decoded ``tin`` (a _Tin, text, or UNSET)."""
    tins: list[str | None] = []
    names: list[str | None] = []
    for tin in values:
        if type(tin) is _Tin:
            value = None if tin.value is UNSET else tin.value.strip() or None
            names.append(None if tin.business_name is UNSET else tin.business_name.strip() or None)
        else:
            value = None if tin is UNSET else tin.strip() or None
            names.append(None)
        tins.append(None if value == "0" else value)
    return tins, names


# ---------------------------------------------------------------------------------------------------------------------
# Kept items -> rows, quarantine records and the account


@dataclass(frozen=True)
class _Problem:
    reason_code: str
    detail: str
    raw_value: str | None = None


@dataclass(frozen=True)
class ItemProblem:
    """A kept ``in_network`` item that cannot be read without ambiguity (a repeated key): quarantined whole, as one
    row, with its reason; the other items of the file are read."""

    reason_code: str
    detail: str


@dataclass(frozen=True)
class BuilderMark:
    """The lengths of a :class:`RowBuilder`'s tables and its counts at one moment (see :meth:`RowBuilder.mark`)."""

    price_chunks: int
    prices: int
    blocks: int
    spans: int  # spans in span_chunks (the span list's length, compacted)
    span_chunks: int
    explicit_spans: int
    prefixes: int
    groups: int
    quarantined: int
    counts: tuple[int, int, int, int]  # rows seen, loaded, quarantined, filtered out


@dataclass(frozen=True)
class _Slot:
    """One provider group a price is crossed with: its locator and group-table row, or why it cannot be."""

    locator: str
    prefix: int  # index into RowBuilder.prefixes ("." or ".provider_references[j]")
    group: int | None  # row of the group table
    problem: _Problem | None


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


class RowBuilder:
    """Turns in_network items into rate rows and quarantine records, keeping the file's row account.

    How it works, in three steps (each table is described where ``__init__`` makes it):

    1. **Reading** (:meth:`read_item`, or :meth:`start_item` and its reader called piece by piece for a large item):
       every negotiated rate of a kept item is checked. A rate whose prices and provider groups are all valid becomes
       one *block*: a run of prices (each an amount and a *shape*, the price's other values parsed once per distinct
       key) crossed with a run of *spans* (first row and count of provider groups in the group table; a root reference
       found by its integer id is a row of ``id_table``). A rate with a problem is read row by row: its valid prices
       crossed with its valid provider groups become one block (each group a span of one, with its own locator
       part), every other price x group a quarantine record. Unwanted items are only counted.
       :meth:`mark` and :meth:`rollback` undo what an item read in pieces added, when a later piece makes the item
       ambiguous.
    2. **Compacting** (:meth:`compact`, after every few MB of items): the prices, their locators and the spans read
       since the last call move from Python lists into numpy and Arrow columns, so the memory kept per price stays
       ~100 bytes however many there are.
    3. **Building** (:meth:`results`): the blocks are expanded into rows (``_row_plan``: one row per price x group),
       deduplicated file-wide, and cut into batches of typed Arrow / numpy columns checked by ``check_built_rates``
       (or, ``tidy``, into batches of index columns and the tables they index);
       the Python-side tables are dropped as soon as their content is in columns.
    """

    def __init__(
        self,
        *,
        root: Root,
        source_file: str,
        sha256: str,
        is_synthetic: bool,
        wanted: CodeFilter | None,
        plans: tuple[PlanInfo, ...] = (),
        deduplicate: bool = True,
    ) -> None:
        self.root = root
        self.source_file = source_file
        self.wanted = wanted
        self.deduplicate = deduplicate
        fields = root.fields
        self.account = FileAccount(
            source_file=source_file, source_sha256=sha256, file_date=declared_date(fields.get("last_updated_on"))
        )
        self.quarantined: list[dict[str, Any]] = []
        payer_raw = _text(fields.get("reporting_entity_name")) or _text(fields.get("issuer_name"))
        plan = _plan_columns(fields, plans)
        identity = resolve_payer(payer_raw, plan.plan_raw)
        self.constants: dict[str, Any] = {  # columns equal on every row of the file
            **dict.fromkeys(RATE_COLUMNS),
            "source_type": "tic",
            "payer_raw": payer_raw,
            "payer_family": identity.payer_family,
            "payer_brand": identity.payer_brand,
            "plan_raw": plan.plan_raw,
            "plan_id": plan.plan_id,
            "product_line": identity.product_line,
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
        # The price table: one row per valid negotiated price (the item's values + the price's, and its locator).
        # Since the last compact(), a price is its values without the amount (a row of `shapes`: the tuple of
        # _parse_price, whose amount fields are ignored) and its amount; its item and place come from its run
        # (consecutive prices of one rate: count, row of `items`, item index in the file, rate index, index of its
        # first price). Prices whose values other than the amount are equal share a shape (see _price_of), so a
        # price costs two numbers until compact() makes columns of them.
        self.items: list[tuple] = []  # item values of the items read since the last compact()
        self.shapes: list[tuple | None] = []  # shapes (those only of prices compacted already: None)
        self.shape_of: dict[tuple, int | _Problem] = {}  # a remembered shape key -> its shape, or its problem
        self.passing_shapes: list[int] = []  # shapes not remembered, used since the last compact()
        self.price_shapes: list[int] = []
        self.price_amounts: list[float] = []
        self.price_runs: list[tuple[int, int, int, int, int]] = []
        self.price_chunks: list[dict[str, Any]] = []  # earlier prices, column by column (see compact)
        self.locator_chunks: list[pa.Array] = []
        self.prices_compacted = 0  # prices in price_chunks
        self.groups = root.groups  # the references' groups, and inline groups added as rates use them
        # integer reference id -> (first group row, count), None if a slot of that id is a problem
        duplicates = root.duplicate_ids
        self.span_of_id: dict[int, tuple[int, int] | None] = {
            ref_id: (first, size) for ref_id, key, first, size in root.integer_spans if key not in duplicates
        }
        self.id_table = _IdTable.of(self.span_of_id)  # the same spans as sorted numpy arrays (see read_item)
        self.found_rows: list[int] = []  # id_table rows of the current item's reference ids
        # Locator parts between a price and a group: 0 = inline group, j + 1 = provider_references[j].
        self.prefixes: list[str] = ["."]
        # Blocks: the valid prices (consecutive rows of the price table) x the valid slots of one negotiated rate;
        # slots are spans (first group row, count), each block's spans consecutive in the span list. The prefix of a
        # block's k-th span is block_prefix[block] + k (0: inline groups first, then references 1, 2, ...), or,
        # where block_prefix is -1 (a rate read row by row), explicit_prefixes[span].
        # The span list holds one integer per span: p >= 0 is the span of row p of `id_table` (a root reference
        # found by its integer id), -1 - k the k-th entry of `spans` (any other span). Its integers are moved to
        # numpy by compact() (`span_chunks`, then `span_codes` since the last compact).
        self.block_first_price: list[int] = []
        self.block_prices: list[int] = []
        self.block_spans: list[int] = []
        self.block_prefix: list[int] = []
        self.spans: list[tuple[int, int]] = []
        self.span_codes: list[int] = []
        self.span_chunks: list[np.ndarray] = []
        self.spans_compacted = 0
        self.explicit_prefixes: dict[int, int] = {}

    # -- public to the package ---------------------------------------------------------------------------------------

    def read_item(self, index: int, item: Any) -> None:
        """Read one kept in_network item (``index`` is its position in the file's array)."""
        rates = item.get("negotiated_rates") if isinstance(item, dict) else None
        read = self.start_item(index, item, rates)
        if read is not None:
            assert isinstance(rates, list)  # start_item reads no other negotiated_rates value
            read(rates, 0)

    def start_item(self, index: int, item: Any, rates: Any) -> Callable[[list, int], None] | None:
        """Check a kept item's own values and count it if it has no rates to read; else return the function that
        reads a run of its ``negotiated_rates`` (the decoded entries, the index of the first): the whole array at
        once (:meth:`read_item`), or piece by piece for a large item. ``rates`` is the item's ``negotiated_rates``
        value; for an item read in pieces, the list of its entries' texts (only its length is looked at here)."""
        base = f"in_network[{index}]"
        if isinstance(item, ItemProblem):
            self._quarantine(base, _Problem(item.reason_code, item.detail))
            return None
        if not isinstance(item, dict):
            self._quarantine(base, _Problem("in_network_item_invalid", "in_network item is not an object", _raw(item)))
            return None
        code = _text(item.get("billing_code"))
        if self.wanted is not None and not self.wanted.matches(code):
            if isinstance(rates, list) and rates:
                return self._filter_out
            self._count_filtered(1)  # no negotiated_rates array: one row
            return None
        if not isinstance(rates, list) or not rates:
            problem = _Problem("negotiated_rates_missing", "item has no negotiated_rates array", _raw(rates))
            self._quarantine(f"{base}.negotiated_rates", problem)
            return None
        item_problem = _item_problem(item, code)
        values = (
            code,
            (_text(item.get("billing_code_type")) or "").upper(),
            (_text(item.get("negotiation_arrangement")) or "").lower() or None,
            _text(item.get("severity_of_illness")),
            _contained_codes(item.get("bundled_codes")),
            _contained_codes(item.get("covered_services")),
        )

        def read(run: list, first: int) -> None:
            found = self._found_references(run)
            item = (index, len(self.items))  # (a row of `items` per run: compact() may come between runs)
            self.items.append(values)
            for rate_index, rate in enumerate(run, first):
                self._read_rate(
                    base,
                    rate_index,
                    item,
                    values,
                    rate,
                    item_problem,
                    found[rate_index - first] if found is not None else None,
                )

        return read

    def mark(self) -> BuilderMark:
        """Where the builder is (its prices moved into columns first): :meth:`rollback` undoes what was read after."""
        self.compact()
        account = self.account
        return BuilderMark(
            price_chunks=len(self.price_chunks),
            prices=self.prices_compacted,
            blocks=len(self.block_first_price),
            spans=self.spans_compacted,
            span_chunks=len(self.span_chunks),
            explicit_spans=len(self.spans),
            prefixes=len(self.prefixes),
            groups=len(self.groups),
            quarantined=len(self.quarantined),
            counts=(account.rows_seen, account.rows_loaded, account.rows_quarantined, account.rows_filtered_out),
        )

    def rollback(self, mark: BuilderMark) -> None:
        """Forget everything read since ``mark`` (an item read in pieces that turns out to be ambiguous): its
        prices, blocks, spans, quarantine records and counts, and the group rows added for it (a provider reference
        whose groups were first added then is added again when an item uses it, as if never used)."""
        self.items, self.price_shapes, self.price_amounts, self.price_runs, self.span_codes = [], [], [], [], []
        del self.price_chunks[mark.price_chunks :], self.locator_chunks[mark.price_chunks :]
        self.prices_compacted = mark.prices
        for blocks in (self.block_first_price, self.block_prices, self.block_spans, self.block_prefix):
            del blocks[mark.blocks :]
        del self.span_chunks[mark.span_chunks :], self.spans[mark.explicit_spans :]
        self.spans_compacted = mark.spans
        del self.prefixes[mark.prefixes :], self.quarantined[mark.quarantined :]
        for span in [span for span in self.explicit_prefixes if span >= mark.spans]:
            del self.explicit_prefixes[span]
        groups = self.groups
        if len(groups) > mark.groups:
            for column in (groups.networks, groups.npis, groups.tins, groups.names, groups.ids, groups.positions):
                del column[mark.groups :]
            for reference in self.root.references.values():
                if reference.first_row is not None and reference.first_row >= mark.groups:
                    reference.first_row = None
            for ref_id in [key for key, span in self.span_of_id.items() if span is not None and span[0] >= mark.groups]:
                del self.span_of_id[ref_id]
        account = self.account
        account.rows_seen, account.rows_loaded, account.rows_quarantined, account.rows_filtered_out = mark.counts

    def _found_references(self, rates: list) -> list[tuple[int, int, int] | None] | None:
        """Per rate, when its ``provider_references`` is a non-empty list of integer ids that all name root
        references whose groups are in the group table (``id_table``): (first, end, slots), where
        ``found_rows[first:end]`` are the id_table rows of its ids, in order, and slots their groups; else None
        (the rate's references are looked up one by one, by :meth:`_add_clean_spans` or :meth:`_slots`). All the
        run's ids are looked up in one numpy step; None for all when the run has any other id."""
        table = self.id_table
        if not len(table.ids):
            return None
        lists = []
        for rate in rates:
            references = rate.get("provider_references") if type(rate) is dict else None
            lists.append(references if type(references) is list else ())
        ids_found = list(chain.from_iterable(lists))
        if not ids_found or not set(map(type, ids_found)) <= _INT_ONLY:  # (bool is not int here)
            return None
        try:
            ids = np.array(ids_found, np.int64)
        except OverflowError:
            return None
        rows, known = table.find(ids)
        counts = np.fromiter(map(len, lists), np.int64, len(lists))
        ends = np.cumsum(counts)
        starts = ends - counts
        unknown = np.concatenate(([0], np.cumsum(~known)))
        slots = np.concatenate(([0], np.cumsum(np.where(known, table.sizes[rows], 0))))
        usable = ((unknown[ends] - unknown[starts]) == 0) & (counts > 0)
        self.found_rows = rows.tolist()
        return [
            (start, end, total) if use else None
            for start, end, total, use in zip(
                starts.tolist(), ends.tolist(), (slots[ends] - slots[starts]).tolist(), usable.tolist()
            )
        ]

    def compact(self) -> None:
        """Move the prices read so far from Python tuples into columns: text dictionary-encoded, amounts as
        floats, locators as Arrow text (~100 bytes a price instead of ~500): the reader calls it after every chunk
        of items, so the price table of a large output stays small."""
        if self.span_codes:
            self.span_chunks.append(np.array(self.span_codes, np.int64))
            self.spans_compacted += len(self.span_codes)
            self.span_codes = []
        if self.price_shapes:
            runs = np.array(self.price_runs, np.int64).reshape(-1, 5)
            counts = runs[:, 0]
            starts = np.cumsum(counts) - counts
            price_items = np.repeat(runs[:, 1], counts)
            self.price_chunks.append(self._price_chunk(price_items))
            first_price = np.repeat(runs[:, 4] - starts, counts) + np.arange(len(price_items))
            self.locator_chunks.append(
                _price_locators(np.repeat(runs[:, 2], counts), np.repeat(runs[:, 3], counts), first_price)
            )
            self.prices_compacted += len(self.price_shapes)
        for shape in self.passing_shapes:  # no later price uses them
            self.shapes[shape] = None
        self.items, self.passing_shapes, self.price_shapes, self.price_amounts = [], [], [], []
        self.price_runs = []

    def _price_chunk(self, price_items: np.ndarray) -> dict[str, Any]:
        """The prices read since the last compact() as columns: text dictionary-encoded (Arrow; each dictionary
        holds only values of these prices), amounts as floats (numpy; a missing amount_usd is NaN)."""
        columns: dict[str, Any] = {}
        amounts = np.array(self.price_amounts, np.float64)
        for table, numbers, fields in (
            (self.items, price_items, _PRICE_FIELDS[:_ITEM_FIELDS]),
            (self.shapes, np.array(self.price_shapes, np.int64), _PRICE_FIELDS[_ITEM_FIELDS:]),
        ):
            used, inverse = np.unique(numbers, return_inverse=True)
            rows = [table[number] for number in used.tolist()]
            positions = pa.array(inverse.astype(np.int32), pa.int32())
            for name, values in zip(fields, zip(*rows)):
                if name == "amount":
                    columns[name] = amounts
                elif name == "amount_usd":  # the amount where the price's type is per-service dollars
                    per_service = np.array([value is not None for value in values], bool)
                    columns[name] = np.where(per_service[inverse], amounts, np.nan)
                elif len(rows) <= _FEW_ROWS:
                    columns[name] = _encoded_few(values, inverse)
                else:
                    text = pa.array(values, pa.large_string(), memory_pool=_TABLE_MEMORY)
                    encoded = pc.dictionary_encode(text, memory_pool=_TABLE_MEMORY)
                    indices = pc.take(encoded.indices, positions, memory_pool=_TABLE_MEMORY)
                    columns[name] = pa.DictionaryArray.from_arrays(indices, encoded.dictionary)
        return columns

    def _price_of(self, price: Any) -> tuple[float, int] | _Problem:
        """_parse_price of one price as (amount, shape), or its problem. A price whose keys are all TiC keys is
        known by the values _parse_price reads besides the amount (lists as tuples): a key of texts, missing
        values and tuples of texts only is remembered with its shape (or problem), and a price with an equal key
        gets the same (text equals only text, so a key that finds one has the same values)."""
        if type(price) is not dict:
            problem = _parse_price(price)  # not an object: its problem
            assert isinstance(problem, _Problem)
            return problem
        amount = price.get("negotiated_rate")
        if not (type(amount) is float and 0.0 < amount < math.inf):  # as in _parse_price: the amount comes first
            amount = _parse_rate(amount)
            if isinstance(amount, _Problem):
                return amount
        key = None
        if price.keys() <= _PRICE_KEYS:
            get = price.get
            codes, modifiers = get("service_code"), get("billing_code_modifier")
            key = (
                get("negotiated_type"),
                get("billing_class"),
                get("setting"),
                tuple(codes) if type(codes) is list else codes,
                tuple(modifiers) if type(modifiers) is list else modifiers,
                get("expiration_date"),
                get("additional_information"),
            )
            try:
                known = self.shape_of.get(key)
            except TypeError:  # an unhashable value (a nested list or an object): not remembered
                key, known = None, None
            if known is not None:
                return known if type(known) is _Problem else (amount, known)  # type: ignore[return-value]
        parsed = _parse_price(price)
        if isinstance(parsed, _Problem):
            if key is not None and _remembered_key(key) and len(self.shape_of) < _REMEMBERED:
                self.shape_of[key] = parsed
            return parsed
        shape = len(self.shapes)
        self.shapes.append(parsed)
        if key is not None and _remembered_key(key) and len(self.shape_of) < _REMEMBERED:
            self.shape_of[key] = shape
        else:
            self.passing_shapes.append(shape)
        return parsed[5], shape

    def _add_price(self, item: tuple[int, int], rate_index: int, price_index: int, parsed: tuple) -> None:
        """One price of a rate read row by row (a shape of its own)."""
        self.passing_shapes.append(len(self.shapes))
        self.price_shapes.append(len(self.shapes))
        self.shapes.append(parsed)
        self.price_amounts.append(parsed[5])
        self.price_runs.append((1, item[1], item[0], rate_index, price_index))

    def result(self) -> IngestResult:
        """The validated rates and quarantine tables and the balanced account of everything read (one batch)."""
        return next(iter(self.results(None)))

    def results(self, batch_rows: int | None = None, *, tidy: bool = False) -> Iterator[IngestResult]:
        """The rates in batches of about ``batch_rows`` rows (None: all in one), in file order, each validated.

        The last batch carries the quarantine table and the file's balanced account (the others carry none), so the
        batches combined are exactly :meth:`result`. The builder's rows are built once (its Python-side tables are
        dropped when the first batch is built). Only one batch of rows is built at a time: what is kept for the
        whole file is the price and group tables and, to deduplicate across batches, a class number per row of the
        prices whose values recur (the first row of each class is kept, in file order, with the count of rows it
        stands for; see :meth:`_RowPlan.duplicates`). A negotiated
        rate's rows are never split, so a batch may exceed ``batch_rows`` by one rate's rows.

        With ``tidy`` the batches carry the same rows as :class:`~benchmark.accounts.TidyRates` instead of wide
        ``rates`` (the same plan, deduplication and batches; the price, group and prefix tables come with the last
        batch, validated as rows: every price and every group is a row of a frame checked by ``check_built_rates``).
        """
        plan = self._row_plan()
        if plan is None:
            self.account.check()
            yield IngestResult(rates=empty_rates(), quarantine=self._quarantine_frame(), accounts=[self.account])
            return
        prices, groups = self._price_columns(), self._group_columns()
        single = {  # a column holding one value in the whole file: one small chunk repeated in every batch
            name: values[0].as_py()
            for table in (prices, groups)
            for name, values in table.items()
            if not isinstance(values, np.ndarray) and _one_value(values)
        }
        ranges = plan.ranges(batch_rows)
        dedup = None
        if self.deduplicate:  # (a column of one value tells no rows apart)
            price_classes = _classes([v for name, v in prices.items() if name not in single], prices["amount"].size)
            group_classes = _classes([v for name, v in groups.items() if name not in single], len(self.groups))
            dedup = plan.duplicates(ranges, price_classes, group_classes)
            self.account.rows_deduplicated += self.account.rows_loaded - dedup.kept
            self.account.rows_loaded = dedup.kept
        self.account.check()
        parts = self._locator_parts()
        self._forget_tables()  # what the batches need is in Arrow and numpy now
        partition = {name: str(self.constants[name]) for name in TIDY_PARTITION_COLUMNS}
        for number, (start, end, _, _) in enumerate(ranges):
            rows = plan.rows(start, end)
            batch_counts = None
            if dedup is not None:
                keep, batch_counts = dedup.batch(number, rows[0], rows[1])
                rows = (rows[0][keep], rows[1][keep], rows[2][keep])
            last = number == len(ranges) - 1
            if not len(rows[0]) and not last:
                continue
            batch_tidy = None
            if tidy:
                rates = empty_rates()
                batch_tidy = TidyRates(self._narrow(rows, prices, batch_counts, single), partition)
                if last:  # the tables come with the last batch: no batch is held while they are built and written
                    batch_tidy = self._tidy_tables(batch_tidy, prices, groups, single, parts)
            else:
                rates = check_built_rates(self._frame(rows, prices, groups, batch_counts, single, parts))
            yield IngestResult(
                rates=rates,
                quarantine=self._quarantine_frame() if last else empty_quarantine(),
                accounts=[self.account] if last else [],
                tidy=batch_tidy,
            )

    def _forget_tables(self) -> None:
        """Drop the Python-side price, span and group tables (a builder's rows are built once)."""
        self.items, self.shapes, self.passing_shapes, self.price_shapes, self.price_runs = [], [], [], [], []
        self.shape_of, self.price_amounts = {}, []
        self.spans, self.span_codes, self.span_chunks = [], [], []
        self.price_chunks, self.locator_chunks = [], []
        self.root.groups = self.groups = GroupTable()
        self.root.references.clear()
        self.span_of_id.clear()

    def _quarantine_frame(self) -> pd.DataFrame:
        if self.quarantined:
            return check_built(QuarantineSchema, pd.DataFrame(self.quarantined, columns=_QUARANTINE_COLUMNS))
        return empty_quarantine()

    # -- one negotiated_rates entry --------------------------------------------------------------------------------

    def _read_rate(
        self,
        base: str,
        rate_index: int,
        item: tuple[int, int],
        item_values: tuple,
        rate: Any,
        item_problem: _Problem | None,
        found: tuple[int, int, int] | None,
    ) -> None:
        """Read ``rate``, the ``rate_index``-th negotiated rate of the item ``base`` (``item``: its index in the
        file and its row of ``items``)."""
        if not isinstance(rate, dict):
            self._quarantine(
                f"{base}.negotiated_rates[{rate_index}]",
                _Problem("negotiated_rate_invalid", "negotiated_rates entry is not an object"),
            )
            return
        prices = rate.get("negotiated_prices")
        if not isinstance(prices, list) or not prices:
            problem = _Problem("negotiated_prices_missing", "negotiated rate has no negotiated_prices", _raw(prices))
            self._quarantine(f"{base}.negotiated_rates[{rate_index}]", problem)
            return
        rate_problem = item_problem
        if rate_problem is None and not rate.keys() <= _RATE_KEYS:
            rate_problem = _misspelled(rate, _RATE_KEYS, _RATE_KEYS)
        if rate_problem is None:
            parsed: list[Any] = list(map(self._price_of, prices))  # (amount, shape) pairs, or _Problem
            if _Problem not in map(type, parsed):
                slots = self._add_clean_spans(rate, found)
                if slots:  # every price is valid and every slot a provider group: all rows are loaded
                    count = len(prices)
                    self.block_first_price.append(self.prices_compacted + len(self.price_shapes))
                    self.price_amounts.extend(map(_FIRST, parsed))
                    self.price_shapes.extend(map(_SECOND, parsed))
                    self.price_runs.append((count, item[1], item[0], rate_index, 0))
                    self.block_prices.append(count)
                    self.account.rows_seen += count * slots
                    self.account.rows_loaded += count * slots
                    return
        self._read_rate_row_by_row(
            f"{base}.negotiated_rates[{rate_index}]", (item, rate_index), prices, self._slots(rate), rate_problem
        )

    def _read_rate_row_by_row(
        self,
        locator: str,
        place: tuple[tuple[int, int], int],
        prices: list,
        slots: list[_Slot],
        rate_problem: _Problem | None,
    ) -> None:
        """A rate with a problem somewhere: each price x slot is quarantined or loaded, in order."""
        good_slots = [slot for slot in slots if slot.problem is None]
        first, count = self.prices_compacted + len(self.price_shapes), 0
        for price_index, price in enumerate(prices):
            price_locator = f"{locator}.negotiated_prices[{price_index}]"
            parsed = _parse_price(price) if rate_problem is None else rate_problem
            if isinstance(parsed, _Problem):
                for slot in slots:
                    self._quarantine(f"{price_locator}.{slot.locator}", parsed)
                continue
            self._add_price(place[0], place[1], price_index, parsed)
            count += 1
            for slot in slots:
                if slot.problem is not None:
                    self._quarantine(f"{price_locator}.{slot.locator}", slot.problem)
        if count and good_slots:
            self.account.rows_seen += count * len(good_slots)
            self.account.rows_loaded += count * len(good_slots)
            self.block_first_price.append(first)
            self.block_prices.append(count)
            self.block_spans.append(len(good_slots))
            self.block_prefix.append(-1)
            for slot in good_slots:
                assert slot.group is not None  # a slot without a problem has its group row
                self.explicit_prefixes[self.spans_compacted + len(self.span_codes)] = slot.prefix
                self._add_span((slot.group, 1))

    def _add_span(self, span: tuple[int, int]) -> None:
        self.span_codes.append(-1 - len(self.spans))
        self.spans.append(span)

    def _add_clean_spans(self, rate: dict, found_ids: tuple[int, int, int] | None = None) -> int:
        """Add the rate's slots as spans of a new block if every one is a provider group; the number of slots, or
        0 (nothing added) if any slot is a problem or there is none. ``found_ids``: its references, found by
        :meth:`_found_references`."""
        groups = rate.get("provider_groups")
        if type(groups) is dict:
            groups = [groups]
        if type(groups) is not list or not groups:
            groups = None
        elif not all(type(group) is dict for group in groups):
            return 0
        if found_ids is not None:  # every reference is a root reference of the id table
            first, end, slots = found_ids
            references = end - first
            self._name_references(references)
        else:
            listed = rate.get("provider_references")
            found: list = []
            if listed is not None:
                if type(listed) is not list:
                    listed = [listed]
                known = self.span_of_id
                if set(map(type, listed)) <= _INT_ONLY:  # the usual integer ids (bool is not int here)
                    try:
                        found = list(map(known.__getitem__, listed))
                    except KeyError:
                        found = [
                            known[ref_id] if ref_id in known else self._reference_span(ref_id) for ref_id in listed
                        ]
                else:
                    found = list(map(self._reference_span, listed))
                if None in found:
                    return 0
                self._name_references(len(listed))
            references, slots = len(found), sum(map(_COUNT_OF, found))
            if groups is None and not slots:
                return 0
        if groups is not None:
            self._add_span((len(self.groups), len(groups)))
            for position, group in enumerate(groups):
                self.groups.add(None, provider_of(group), None, position)
            slots += len(groups)
        if found_ids is not None:
            self.span_codes.extend(self.found_rows[first:end])
        else:
            for span in found:
                self._add_span(span)
        self.block_spans.append(references + (groups is not None))
        self.block_prefix.append(0 if groups is not None else 1)
        return slots

    def _name_references(self, count: int) -> None:
        """Locator parts for provider_references[0] .. [count - 1] (``prefixes`` 1 .. count), made once."""
        while len(self.prefixes) <= count:
            self.prefixes.append(f".provider_references[{len(self.prefixes) - 1}]")

    def _reference_span(self, ref_id: Any) -> tuple[int, int] | None:
        """(first group row, count) of a reference id whose groups are all objects; None otherwise."""
        span = None
        lookup = _reference_key(ref_id)
        entry = self.root.references.get(lookup) if lookup is not None else None
        if (
            entry is not None
            and lookup is not None
            and lookup not in self.root.duplicate_ids
            and entry.groups
            and None not in entry.groups
        ):
            first = entry.first_row if entry.first_row is not None else self.groups.add_reference(lookup, entry)
            span = (first, len(entry.groups))
        if type(ref_id) is int:
            self.span_of_id[ref_id] = span
        return span

    def _slots(self, rate: dict) -> list[_Slot]:
        """The provider groups of one negotiated rate: inline groups, then resolved references."""
        slots: list[_Slot] = []
        groups = rate.get("provider_groups")
        if isinstance(groups, dict):
            groups = [groups]
        for group_index, group in enumerate(groups if isinstance(groups, list) else []):
            locator = f"provider_groups[{group_index}]"
            if isinstance(group, dict):
                slots.append(_Slot(locator, 0, self.groups.add(None, provider_of(group), None, group_index), None))
            else:
                problem = _Problem("provider_group_invalid", "provider group is not an object", _raw(group))
                slots.append(_Slot(locator, 0, None, problem))
        references = rate.get("provider_references")
        if references is not None and not isinstance(references, list):
            references = [references]
        for ref_index, ref_id in enumerate(references or []):
            slots.extend(self._reference_slots(ref_index, ref_id))
        if not slots:
            problem = _Problem("provider_groups_missing", "negotiated rate has neither provider_groups nor references")
            slots.append(_Slot("provider_groups", 0, None, problem))
        return slots

    def _reference_slots(self, ref_index: int, ref_id: Any) -> list[_Slot]:
        key = id_text(ref_id)
        locator = f"provider_references[{ref_index}]->provider_group_id={key if key is not None else _raw(ref_id)}"
        lookup = str(reference_id(ref_id)) if key is not None else None
        entry = self.root.references.get(lookup) if lookup is not None else None
        if entry is None:
            problem = _Problem("provider_reference_missing", "no root provider reference has this id", _raw(ref_id))
        elif lookup in self.root.duplicate_ids:
            problem = _Problem("provider_reference_duplicate", "several root provider_references share this id", key)
        elif entry.groups:
            invalid = _Problem("provider_group_invalid", "a group of this provider reference is not an object", key)
            self._name_references(ref_index + 1)
            assert lookup is not None  # entry was found by it
            first = entry.first_row if entry.first_row is not None else self.groups.add_reference(lookup, entry)
            return [
                _Slot(f"{locator}.provider_groups[{i}]", ref_index + 1, first + i, None if group else invalid)
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
        return [_Slot(locator, 0, None, problem)]

    # -- accounting --------------------------------------------------------------------------------------------------

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

    def _filter_out(self, rates: list, first: int = 0) -> None:
        """Count the rows of negotiated rates of an unwanted item with the same rule as loaded ones (see the tic
        module docstring)."""
        count = 0
        for rate in rates:
            prices = rate.get("negotiated_prices") if isinstance(rate, dict) else None
            if isinstance(prices, list) and prices:
                count += len(prices) * len(self._slots(rate))
            else:
                count += 1
        self._count_filtered(count)

    def _count_filtered(self, count: int) -> None:
        self.account.rows_seen += count
        self.account.rows_filtered_out += count

    # -- the table ---------------------------------------------------------------------------------------------------

    def _row_plan(self) -> _RowPlan | None:
        """Where every loaded row comes from, per block (see :class:`_RowPlan`); None if no row is loaded."""
        if not self.block_prices:
            return None
        spans = self._span_array()
        span_count = spans[:, 1]
        span_start = np.cumsum(span_count) - span_count
        block_spans = np.array(self.block_spans, np.int64)
        block_span_start = np.cumsum(block_spans) - block_spans
        span_prefix = (
            np.repeat(np.array(self.block_prefix, np.int64), block_spans)
            + np.arange(len(spans))
            - np.repeat(block_span_start, block_spans)
        )
        if self.explicit_prefixes:
            span_prefix[np.fromiter(self.explicit_prefixes, np.int64)] = list(self.explicit_prefixes.values())
        # Expand the spans: slot -> group row and prefix.
        slot_group = np.repeat(spans[:, 0] - span_start, span_count) + np.arange(int(span_count.sum()))
        slot_prefix = np.repeat(span_prefix, span_count)
        block_slots = np.add.reduceat(span_count, block_span_start)
        block_slot_start = np.cumsum(block_slots) - block_slots
        prices = np.array(self.block_prices, np.int64)
        plan = _RowPlan(
            block_rows=prices * block_slots,
            block_first_price=np.array(self.block_first_price, np.int64),
            block_slots=block_slots,
            block_slot_start=block_slot_start,
            slot_group=slot_group,
            slot_prefix=slot_prefix,
        )
        total = int(plan.block_rows.sum())
        if total != self.account.rows_loaded:
            raise AssertionError(f"{self.source_file}: {total} rows built for {self.account.rows_loaded} loaded")
        return plan

    def _span_array(self) -> np.ndarray:
        """Every span as a row (first group row, count), in order (see the span list in __init__)."""
        self.compact()
        codes = np.concatenate(self.span_chunks) if self.span_chunks else np.zeros(0, np.int64)
        spans = np.empty((len(codes), 2), np.int64)
        by_id = codes >= 0
        spans[by_id, 0] = self.id_table.firsts[codes[by_id]]
        spans[by_id, 1] = self.id_table.sizes[codes[by_id]]
        others = ~by_id
        if others.any():
            listed = np.fromiter(chain.from_iterable(self.spans), np.int64, 2 * len(self.spans)).reshape(-1, 2)
            spans[others] = listed[-1 - codes[others]]
        return spans

    def _price_columns(self) -> dict[str, Any]:
        """The price table's value columns (Arrow text dictionary-encoded, one dictionary per column; numpy
        floats); every price is moved to the chunks first."""
        self.compact()
        columns: dict[str, Any] = {}
        for name in _PRICE_FIELDS if self.price_chunks else ():
            chunks = [chunk[name] for chunk in self.price_chunks]
            if name in _FLOAT_FIELDS:
                columns[name] = np.concatenate(chunks)
            else:
                columns[name] = pa.concat_arrays(pa.chunked_array(chunks).unify_dictionaries().chunks)
            for chunk in self.price_chunks:  # each column's chunks freed once it is joined
                del chunk[name]
        return columns

    def _group_columns(self) -> dict[str, pa.Array]:
        """The group table's value columns (Arrow text)."""
        table = self.groups
        return {
            name: pa.array(values, pa.large_string(), memory_pool=_TABLE_MEMORY)
            for name, values in zip(_GROUP_FIELDS, (table.networks, table.npis, table.tins, table.names))
        }

    def _locator_parts(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        """The pieces of every ``source_locator``: per price its locator, per prefix number its text, per group row
        its suffix (built once per file)."""
        text, pool = pa.large_string(), _TABLE_MEMORY
        positions = pc.cast(pa.array(self.groups.positions, pa.int64(), memory_pool=pool), text, memory_pool=pool)
        ids = pa.array(self.groups.ids, text, memory_pool=pool)
        inline = pc.binary_join_element_wise(
            pa.scalar("provider_groups[", text), positions, pa.scalar("]", text), pa.scalar("", text), memory_pool=pool
        )
        referenced = pc.binary_join_element_wise(
            pa.scalar("->provider_group_id=", text),
            ids,
            pa.scalar(".provider_groups[", text),
            positions,
            pa.scalar("]", text),
            pa.scalar("", text),
            memory_pool=pool,
        )
        suffixes = pc.if_else(pc.is_null(ids), inline, referenced, memory_pool=pool)
        self.compact()
        price_locators = (
            pa.concat_arrays(self.locator_chunks, memory_pool=pool) if self.locator_chunks else pa.array([], text)
        )
        prefixes = pa.array(self.prefixes, text, memory_pool=pool)
        return price_locators, prefixes, suffixes

    @staticmethod
    def _locators(
        price: np.ndarray, group: np.ndarray, prefix: np.ndarray, parts: tuple[pa.Array, pa.Array, pa.Array]
    ) -> pa.ChunkedArray:
        """``<price locator>[.provider_references[j]]<group suffix>`` for every row (joined by Arrow, a slice of
        rows at a time so that the pieces stay small)."""
        text = pa.large_string()
        price_locators, prefixes, suffixes = parts
        chunks = [
            pc.binary_join_element_wise(
                pc.take(price_locators, price[start : start + _LOCATOR_ROWS], memory_pool=_TABLE_MEMORY),
                pc.take(prefixes, prefix[start : start + _LOCATOR_ROWS], memory_pool=_TABLE_MEMORY),
                pc.take(suffixes, group[start : start + _LOCATOR_ROWS], memory_pool=_TABLE_MEMORY),
                pa.scalar("", text),
                memory_pool=_TABLE_MEMORY,
            )
            for start in range(0, len(price), _LOCATOR_ROWS)
        ]
        return pa.chunked_array(chunks, text)

    def _frame(
        self,
        rows: tuple[np.ndarray, np.ndarray, np.ndarray],
        prices: dict[str, Any],
        groups: dict[str, pa.Array],
        counts: np.ndarray | None,
        single: dict[str, Any],
        parts: tuple[pa.Array, pa.Array, pa.Array],
    ) -> pd.DataFrame:
        """The rate table from the row index arrays (column by column; dtypes as validate_rates makes them);
        ``single``: the text columns that hold one value in the whole file, with that value."""
        price, group, prefix = rows
        size = len(price)
        price_take, group_take = pa.array(price), pa.array(group)
        repeated: dict[str | None, pa.ChunkedArray] = {}
        columns: dict[str, Any] = {}
        for table, take, index in ((prices, price_take, price), (groups, group_take, group)):
            for name, values in table.items():
                taken = _taken(name, values, take, index, single, repeated)
                columns[name] = taken if isinstance(taken, np.ndarray) else _strings(taken)
        columns["source_locator"] = _strings(self._locators(price, group, prefix, parts))
        if counts is not None:
            columns["dedup_count"] = pd.arrays.IntegerArray(counts.astype(np.int64), np.zeros(size, bool))
        constants = {name: value for name, value in self.constants.items() if name not in columns}
        columns.update(_constants(constants, size, repeated))
        # The dict in RATE_COLUMNS order, without ``columns=``: pandas then does not look every key up again
        # (~0.3 ms a batch, most of a small file's frame)
        return pd.DataFrame({name: columns[name] for name in RATE_COLUMNS}, copy=False)

    def _tidy_tables(
        self,
        batch: TidyRates,
        prices: dict[str, Any],
        groups: dict[str, pa.Array],
        single: dict[str, Any],
        parts: tuple[pa.Array, pa.Array, pa.Array],
    ) -> TidyRates:
        """The file's last ``batch`` with the price, group and prefix tables of :class:`~benchmark.accounts.TidyRates`.

        The tables are cut from frames built by :meth:`_frame` and checked by ``check_built_rates``, whose row ``i``
        holds price ``i`` and group ``i`` (the last one where a table is shorter): every value a wide row can take
        passes the checks it passes there, with the dtypes it has there. The frames are built and checked
        ``_TABLE_ROWS`` rows at a time, so that this step needs no more memory than one batch of wide rows."""
        price_count, group_count = len(prices["amount"]), len(groups["provider_npis"])
        if not price_count or not group_count:  # no row can be built (a row is a price x a group): no tables
            return batch
        group_names = [name for name in RATE_COLUMNS if name in groups]
        price_names = [name for name in RATE_COLUMNS if name not in _NOT_PRICE_COLUMNS and name not in groups]
        price_slices, group_slices = [], []
        for start in range(0, max(price_count, group_count), _TABLE_ROWS):
            index = np.arange(start, min(start + _TABLE_ROWS, max(price_count, group_count)))
            rows = (np.minimum(index, price_count - 1), np.minimum(index, group_count - 1), np.zeros_like(index))
            frame = check_built_rates(self._frame(rows, prices, groups, None, single, parts))
            if start < price_count:
                price_slice = frame.iloc[: price_count - start][price_names]
                price_slices.append(pa.Table.from_pandas(price_slice, preserve_index=False))
            if start < group_count:
                group_slice = frame.iloc[: group_count - start][group_names]
                group_slices.append(pa.Table.from_pandas(group_slice, preserve_index=False))
            del frame
        price_table, group_table = pa.concat_tables(price_slices), pa.concat_tables(group_slices)
        price_locators, prefixes, suffixes = parts
        return replace(
            batch,
            prices=_numbered(PRICE_KEY, price_table.append_column("price_locator", price_locators)),
            groups=_numbered(GROUP_KEY, group_table.append_column("locator_suffix", suffixes)),
            prefixes=_numbered(PREFIX_KEY, pa.table({"prefix": prefixes})),
        )

    @staticmethod
    def _narrow(
        rows: tuple[np.ndarray, np.ndarray, np.ndarray],
        prices: dict[str, Any],
        counts: np.ndarray | None,
        single: dict[str, Any],
    ) -> pa.Table:
        """The rows of :class:`~benchmark.accounts.TidyRates`: billing code, price, group, prefix, dedup count."""
        price, group, prefix = rows
        codes = _taken("billing_code", prices["billing_code"], pa.array(price), price, single, {})
        count = pa.array(counts, pa.int64()) if counts is not None else pa.nulls(len(price), pa.int64())
        return pa.table(
            {
                "billing_code": codes,
                PRICE_KEY: pa.array(price, pa.int64()),
                GROUP_KEY: pa.array(group, pa.int64()),
                PREFIX_KEY: pa.array(prefix, pa.int64()),
                "dedup_count": count,
            }
        )


TIDY_PARTITION_COLUMNS = ("source_type", "payer_family")  # the values every row of a file shares, kept in folders
# Rate columns a tidy price does not hold: the row's own, the group's (see _tidy_tables) and the partition's.
_NOT_PRICE_COLUMNS = frozenset({"billing_code", "source_locator", "dedup_count", *TIDY_PARTITION_COLUMNS})


def _numbered(key: str, table: pa.Table) -> pa.Table:
    """``table`` with its row numbers as the first column ``key``."""
    return table.add_column(0, key, pa.array(np.arange(table.num_rows), pa.int64()))


def _taken(
    name: str,
    values: pa.Array | np.ndarray,
    take: pa.Array,
    index: np.ndarray,
    single: dict[str, Any],
    repeated: dict[str | None, pa.ChunkedArray],
) -> pa.Array | pa.ChunkedArray | np.ndarray:
    """Column ``name`` of a price or group table at rows ``index`` (``take``: the same as Arrow): floats in numpy, text
    as plain Arrow text (a column of one value in the whole file: one chunk repeated, see :func:`_repeated_text`)."""
    if isinstance(values, np.ndarray):
        return values[index]
    if name in single:  # one value in the whole file
        return _repeated_text(single[name], len(index), repeated)
    if pa.types.is_dictionary(values.type):
        indices = pc.take(values.indices, take, memory_pool=_TABLE_MEMORY)
        return pc.take(values.dictionary, indices, memory_pool=_TABLE_MEMORY)
    return pc.take(values, take, memory_pool=_TABLE_MEMORY)


# A price chunk whose items or shapes are this few is dictionary-encoded in Python (_encoded_few): Arrow's three calls
# a column cost ~25 us whatever the size (a small file, or a large item read in pieces, compacts such chunks).
_FEW_ROWS = 64


def _encoded_few(values: tuple, inverse: np.ndarray) -> pa.DictionaryArray:
    """``values[inverse]`` (texts or None) dictionary-encoded as Arrow's ``dictionary_encode`` and ``take`` encode
    it: the dictionary holds each text once, in order of its first place in ``values``; a None is a null index."""
    index: dict[str, int] = {}
    codes = [-1 if value is None else index.setdefault(value, len(index)) for value in values]
    taken = np.array(codes, np.int32)[inverse]
    missing = taken < 0
    indices = pa.array(taken, pa.int32(), mask=missing if missing.any() else None, memory_pool=_TABLE_MEMORY)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(index), pa.large_string(), memory_pool=_TABLE_MEMORY))


_NO_PROVIDER: Provider = (None, None, None)
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_COUNT_OF = itemgetter(1)


@dataclass(frozen=True)
class _IdTable:
    """Root references known by an integer id, sorted by id: their group-table spans (first row, count)."""

    ids: np.ndarray
    firsts: np.ndarray
    sizes: np.ndarray
    row_of: np.ndarray | None = None  # the row of each id from 0 on (-1: none), when ids are few of that range

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table row of each id (a valid row, whatever it holds, where the id is not in the table), and
        whether the id is there."""
        if self.row_of is not None:
            inside = (ids >= 0) & (ids < len(self.row_of))
            rows = self.row_of[np.where(inside, ids, 0)]
            return np.maximum(rows, 0), inside & (rows >= 0)
        rows = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return rows, self.ids[rows] == ids

    @staticmethod
    def of(span_of_id: dict[int, tuple[int, int] | None]) -> _IdTable:
        known = [
            (ref_id, span) for ref_id, span in span_of_id.items() if span is not None and -(2**63) <= ref_id < 2**63
        ]
        ids = np.fromiter((ref_id for ref_id, _ in known), np.int64, len(known))
        order = np.argsort(ids, kind="stable")
        spans = np.fromiter(chain.from_iterable(span for _, span in known), np.int64, 2 * len(known)).reshape(-1, 2)
        ids = ids[order]
        row_of = None
        if len(ids) and ids[0] >= 0 and ids[-1] < _DENSE_IDS * len(ids):  # ids numbered from 0 or 1, as usual
            row_of = np.full(int(ids[-1]) + 1, -1, np.int32)  # (4 bytes an id: at most 64 a reference)
            row_of[ids] = np.arange(len(ids))
        return _IdTable(ids, spans[order, 0], spans[order, 1], row_of)


_DENSE_IDS = 16  # an id table is indexed by id when its largest id is below this many times its size


@dataclass(frozen=True)
class _RowPlan:
    """Every loaded row, block by block: a block is one negotiated rate's valid prices (outer loop) x its valid
    provider slots (inner loop); rows are numbered in file order across blocks."""

    block_rows: np.ndarray  # rows of each block
    block_first_price: np.ndarray  # its first row of the price table (its prices are consecutive)
    block_slots: np.ndarray  # its slots
    block_slot_start: np.ndarray  # its first slot in slot_group / slot_prefix
    slot_group: np.ndarray  # per slot: row of the group table
    slot_prefix: np.ndarray  # per slot: index into RowBuilder.prefixes

    def ranges(self, batch_rows: int | None) -> list[tuple[int, int, int, int]]:
        """(first block, end block, first row, end row) of consecutive blocks holding about ``batch_rows`` rows
        together (at least one block each; None: one range for all)."""
        blocks = len(self.block_rows)
        ends = np.cumsum(self.block_rows)
        total = int(ends[-1]) if blocks else 0
        if batch_rows is None or total <= batch_rows:
            return [(0, blocks, 0, total)]
        ranges = []
        start, row_start = 0, 0
        while start < blocks:
            end = max(int(np.searchsorted(ends, row_start + batch_rows, side="right")), start + 1)
            row_end = int(ends[end - 1])
            ranges.append((start, end, row_start, row_end))
            start, row_start = end, row_end
        return ranges

    def rows(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows of blocks ``start:end``, in order, as (price row, group row, prefix) index arrays."""
        block_rows = self.block_rows[start:end]
        total = int(block_rows.sum())
        block = np.repeat(np.arange(start, end), block_rows)
        local = np.arange(total) - np.repeat(np.cumsum(block_rows) - block_rows, block_rows)
        width = self.block_slots[block]
        price = self.block_first_price[block] + local // width
        slot = self.block_slot_start[block] + local % width
        return price, self.slot_group[slot], self.slot_prefix[slot]

    def duplicates(
        self, ranges: list[tuple[int, int, int, int]], price_classes: np.ndarray, group_classes: np.ndarray
    ) -> _Duplicates:
        """Which rows are duplicates of an earlier row of the file (see :class:`_Duplicates`).

        Two rows are duplicates when their price values and group values are equal (every column but the locator):
        price and group rows are numbered by their distinct values, so a row's values are two integers. A price
        whose values no other price has can only repeat its own rows: those are one run of one block (its slots),
        so they are deduplicated batch by batch; only the rows of prices whose values recur elsewhere in the file
        are numbered together, file-wide (memory grows with those rows only, not with every row of the file).
        """
        width = int(group_classes.max()) + 1
        shared = np.bincount(price_classes)[price_classes] > 1  # per price: another price has its values
        keys, starts, alone_kept, held = [], [], 0, 0
        for start, end, _, _ in ranges:
            price, group, _ = self.rows(start, end)
            recurring = shared[price]
            starts.append(held)
            if recurring.any():
                keys.append(price_classes[price[recurring]] * width + group_classes[group[recurring]])
                held += len(keys[-1])
            alone = ~recurring
            alone_kept += len(pd.unique(price[alone] * width + group_classes[group[alone]]))
        first, counts = _first_and_counts(np.concatenate(keys) if keys else np.zeros(0, np.int64))
        return _Duplicates(
            width=width,
            group_classes=group_classes,
            shared=shared,
            shared_first=first,
            shared_counts=counts,
            shared_start=starts,
            kept=alone_kept + int(first.sum()),
        )


@dataclass(frozen=True)
class _Duplicates:
    """The rows to keep when deduplicating, batch by batch (the ranges of :meth:`_RowPlan.ranges`), and the count
    of rows each kept row stands for. A row is kept when it is the first of the file with its values."""

    width: int  # group classes are below it
    group_classes: np.ndarray  # per group row: the number of its values
    shared: np.ndarray  # per price: another price of the file has the same values
    shared_first: np.ndarray  # per row of such a price, in file order: the first of the file with its values
    shared_counts: np.ndarray  # per such row: how many rows of the file have its values
    shared_start: list[int]  # per range: its first row in shared_first / shared_counts
    kept: int  # rows kept in the whole file

    def batch(self, number: int, price: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Range ``number``'s rows to keep (a mask of ``price``/``group``, its rows) and their counts."""
        recurring = self.shared[price]
        keep = np.empty(len(price), bool)
        counts = np.empty(len(price), np.int64)
        start = self.shared_start[number]
        held = int(recurring.sum())
        keep[recurring] = self.shared_first[start : start + held]
        counts[recurring] = self.shared_counts[start : start + held]
        alone = ~recurring
        keep[alone], counts[alone] = _first_and_counts(price[alone] * self.width + self.group_classes[group[alone]])
        return keep, counts[keep]


def _first_and_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key: whether it is the first occurrence of its value, and how many times its value occurs."""
    classes, _ = pd.factorize(keys)  # numbered in order of first occurrence
    classes = classes.astype(np.int64, copy=False)
    first = np.empty(len(classes), bool)
    if len(classes):
        first[0] = True
        first[1:] = classes[1:] > np.maximum.accumulate(classes)[:-1]
    return first, np.bincount(classes)[classes]


def _remembered_key(key: tuple) -> bool:
    """Whether a key of RowBuilder._price_of holds only texts, missing values and tuples of texts."""
    return all(
        value is None or type(value) is str or (type(value) is tuple and set(map(type, value)) <= _STR_ONLY)
        for value in key
    )


def _price_locators(items: np.ndarray, rates: np.ndarray, prices: np.ndarray) -> pa.Array:
    """``in_network[i].negotiated_rates[j].negotiated_prices[k]`` for every (i, j, k), joined by Arrow."""
    text, pool = pa.large_string(), _TABLE_MEMORY

    def numbers(values: np.ndarray) -> pa.Array:
        return pc.cast(pa.array(values, pa.int64(), memory_pool=pool), text, memory_pool=pool)

    return pc.binary_join_element_wise(
        pa.scalar("in_network[", text),
        numbers(items),
        pa.scalar("].negotiated_rates[", text),
        numbers(rates),
        pa.scalar("].negotiated_prices[", text),
        numbers(prices),
        pa.scalar("]", text),
        pa.scalar("", text),
        memory_pool=pool,
    )


def _one_value(values: pa.Array) -> bool:
    """True when a text column holds one value on every row, a missing value counting as a value (of a
    dictionary-encoded column: its dictionary holds each value once, each one used). Compared with the first value,
    not counted in a hash table: for the group table's text (millions of rows) the default memory pool of a
    ``count_distinct`` kept ~200 MB mapped at the file's peak."""
    if pa.types.is_dictionary(values.type):
        return len(values.dictionary) + (values.null_count > 0) == 1
    if not len(values) or values.null_count:
        return values.null_count == len(values) > 0
    same = pc.equal(values, values[0], memory_pool=_TABLE_MEMORY)
    return bool(pc.all(same, memory_pool=_TABLE_MEMORY).as_py())


def _codes(values: pa.Array | np.ndarray) -> np.ndarray:
    """Per row a number shared exactly by the rows with equal values; -1 for a missing value (None, or NaN in a
    float column, where it stands for None: amounts are finite)."""
    if isinstance(values, np.ndarray):
        return pd.factorize(values)[0].astype(np.int64)
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(values, memory_pool=_TABLE_MEMORY)
    indices = values.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return indices.to_numpy().astype(np.int64)


def _classes(columns: Iterable[pa.Array | np.ndarray], rows: int) -> np.ndarray:
    """Per row of a table of columns (text in Arrow, floats in numpy; ``rows`` rows, all in one class when there is
    no column): a number shared exactly by the rows whose values are all equal (a missing value equals only a
    missing value), numbered from 0 in order of first row.

    The columns' codes are combined as digits of one integer (each column's radix its number of codes), which is
    numbered densely only where the next digit would take it past 64 bits, and once at the end: one hash pass for
    a small table instead of one per column."""
    classes: np.ndarray | None = None
    bound = 0  # classes are below it
    for values in columns:
        digits = _codes(values) + 1  # 0: missing
        radix = int(digits.max()) + 1 if len(digits) else 1
        if classes is None:
            classes, bound = digits, radix
            continue
        if bound * radix > _CLASS_BOUND:
            classes = pd.factorize(classes)[0].astype(np.int64, copy=False)
            bound = int(classes.max()) + 1 if len(classes) else 1
        classes = classes * radix + digits
        bound *= radix
    if classes is None:
        return np.zeros(rows, np.int64)
    return pd.factorize(classes)[0].astype(np.int64, copy=False)


_CLASS_BOUND = 2**62  # combined class numbers stay below it (int64)


def _strings(values: pa.Array | pa.ChunkedArray) -> pd.arrays.ArrowStringArray:
    return pd.arrays.ArrowStringArray(values, dtype=_STRING)


# The dtype validate_rates gives each rate column: "string[pyarrow]" (the str dtype), float64, Int64 or bool.
_KINDS = {name: str(column.dtype) for name, column in RateSchema.to_schema().columns.items()}
_REPEAT_ROWS = 8192  # a constant text column repeats one chunk of this many rows
_LOCATOR_ROWS = 32768  # source locators are joined this many rows at a time
_TABLE_ROWS = 65_536  # price / group table rows checked at a time (RowBuilder._tidy_tables): a batch's memory


def _constants(constants: dict[str, Any], size: int, repeated: dict[str | None, pa.ChunkedArray]) -> dict[str, Any]:
    """Columns holding one value (or nothing) on every row, in the dtypes validate_rates gives them (text columns
    from :func:`_repeated_text`; float columns share one array: pandas copies on write)."""
    columns: dict[str, Any] = {}
    floats: dict[Any, np.ndarray] = {}
    for name, value in constants.items():
        kind = _KINDS[name]
        if kind == "string[pyarrow]":
            columns[name] = _strings(_repeated_text(None if value is None else str(value), size, repeated))
        elif kind == "Int64":
            columns[name] = pd.arrays.IntegerArray(
                np.full(size, 0 if value is None else value, np.int64), np.full(size, value is None)
            )
        elif kind == "bool":
            columns[name] = np.full(size, value, dtype=bool)
        else:  # float64
            if value not in floats:
                floats[value] = np.full(size, np.nan if value is None else value, dtype=np.float64)
            columns[name] = floats[value]
    return columns


def _repeated_text(text: str | None, size: int, repeated: dict[str | None, pa.ChunkedArray]) -> pa.ChunkedArray:
    """``size`` times ``text`` (or missing): one Arrow chunk of it, referenced as many times as needed (Arrow data
    is immutable, so columns share it): 183,000 rows of an 80-character text cost 0.7 MB instead of 15 MB. Chunks
    made for one table are remembered in ``repeated``."""
    if text not in repeated:
        rows = min(size, _REPEAT_ROWS)
        text_type = pa.large_string()
        chunk = (
            pa.nulls(rows, text_type, memory_pool=_TABLE_MEMORY)
            if text is None
            else pa.repeat(pa.scalar(text, text_type), rows, memory_pool=_TABLE_MEMORY)
        )
        whole, rest = divmod(size, rows) if rows else (0, 0)
        repeated[text] = pa.chunked_array([chunk] * whole + ([chunk.slice(0, rest)] if rest else []), text_type)
    return repeated[text]


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


def _parse_price(price: Any) -> tuple | _Problem:
    """A negotiated_price object, checked and normalized (or the first problem found in it).

    The values, in _PRICE_FIELDS order after the item's: modifiers, pos_setting, care_setting, billing_class,
    rate_type, amount, amount_unit, amount_usd, service_codes, expiration_date, additional_information. Texts that
    repeat from price to price (types, code lists) are normalized once and remembered (see _remember).
    """
    if not isinstance(price, dict):
        return _Problem("negotiated_price_invalid", "negotiated price is not an object", _raw(price))
    amount = price.get("negotiated_rate")
    if not (type(amount) is float and 0.0 < amount < math.inf):  # else: a finite positive float, used as is
        amount = _parse_rate(amount)
        if isinstance(amount, _Problem):
            return amount
    if not price.keys() <= _PRICE_KEYS:
        misspelled = _misspelled(price, _PRICE_KEYS, _PRICE_KEYS)
        if misspelled is not None:
            return misspelled
    raw_type = price.get("negotiated_type")
    known = _RATE_TYPE_OF.get(raw_type) if type(raw_type) is str else None
    if known is None:
        type_key = " ".join((_text(raw_type) or "").lower().replace("_", " ").split())
        if type_key not in RATE_TYPES:
            return _Problem("negotiated_type_unknown", "negotiated_type is not one of the TiC values", _raw(raw_type))
        known = RATE_TYPES[type_key]
        if type(raw_type) is str:
            _remember(_RATE_TYPE_OF, raw_type, known)
    rate_type, unit, per_service = known
    raw_class = _text(price.get("billing_class"))
    billing_class = raw_class.lower() if raw_class else "unknown"
    if raw_class and billing_class not in BILLING_CLASSES:
        return _Problem("billing_class_unknown", "billing_class is not professional/institutional/both", raw_class)
    raw_setting = _text(price.get("setting"))
    care_setting = raw_setting.lower() if raw_setting else "unknown"
    if raw_setting and care_setting not in CARE_SETTINGS:
        return _Problem("setting_unknown", "setting is not inpatient/outpatient/both", raw_setting)
    raw_codes = price.get("service_code")
    key = service = None
    if type(raw_codes) is list:
        try:  # a remembered key holds str values only, so a list that finds one holds the same str values
            service = _SERVICE_CODES_OF.get((tuple(raw_codes), billing_class))
        except TypeError:  # an unhashable value (a nested list): not remembered
            pass
        if service is None and set(map(type, raw_codes)) <= _STR_ONLY:
            key = (tuple(raw_codes), billing_class)
    if service is None:
        service_codes = _service_codes(raw_codes)
        service = _pos_setting(service_codes, billing_class), "|".join(service_codes) or None
        if key is not None:
            _remember(_SERVICE_CODES_OF, key, service)
    raw_modifiers = price.get("billing_code_modifier")
    if raw_modifiers is None:
        modifiers = ""
    else:
        key = (
            tuple(raw_modifiers) if type(raw_modifiers) is list and set(map(type, raw_modifiers)) <= _STR_ONLY else None
        )
        joined = _MODIFIERS_OF.get(key) if key is not None else None
        if joined is None:
            joined = "|".join(sorted({m.upper() for m in _texts(raw_modifiers)}))
            if key is not None:
                _remember(_MODIFIERS_OF, key, joined)
        modifiers = joined
    return (
        modifiers,
        service[0],
        care_setting,
        billing_class,
        rate_type,
        amount,
        unit,
        amount if per_service else None,
        service[1],
        _text(price.get("expiration_date")),
        _text(price.get("additional_information")),
    )


# Normalized forms of texts that repeat from price to price (keys: str values only, so 1 and "1" never meet).
_RATE_TYPE_OF: dict[str, tuple[str, str, bool]] = {}  # negotiated_type as published -> RATE_TYPES entry
_SERVICE_CODES_OF: dict[tuple, tuple[str, str | None]] = {}  # (service codes, billing class) -> (pos, joined)
_MODIFIERS_OF: dict[tuple, str] = {}  # billing_code_modifier list -> joined
_REMEMBERED = 10_000  # entries per table at most
_NETWORK_NAMES: dict[Any, str | None] = {}  # network_name text or list -> joined


def _remember(table: dict, key: Any, value: Any) -> None:
    if len(table) < _REMEMBERED:
        table[key] = value


_MISSPELLING_MEMORY = 4_096  # (unknown key, key set) pairs remembered; the least recently used are forgotten


@functools.lru_cache(maxsize=_MISSPELLING_MEMORY)
def _closest_key(key: str, meaningful: frozenset[str]) -> str | None:
    """The meaningful key that ``key`` nearly spells, or None. A pure function of its arguments: the bounded cache
    forgets old entries but never changes an answer, so a long-lived worker judges keys as a fresh one does."""
    close = difflib.get_close_matches(key, meaningful, n=1, cutoff=0.85)
    return close[0] if close else None


def _misspelled(obj: dict, meaningful: frozenset[str], known: frozenset[str]) -> _Problem | None:
    """A key that is not a known key but nearly is one that carries meaning (a typo that would lose data)."""
    for key in obj:
        if key in known:
            continue
        meant = _closest_key(key, meaningful)
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


# ---------------------------------------------------------------------------------------------------------------------
# Small text helpers (the same results as benchmark.ingest.tic.items.text_of / id_text, with a fast path for text)


def _text(value: Any) -> str | None:
    """Stripped text of a scalar, None for missing/blank/containers."""
    if type(value) is str:
        return value.strip() or None
    return text_of(value)


def _id_text(value: Any) -> str | None:
    """Text of an identifier that may have been published as a number (5 and 5.0 both give "5")."""
    if type(value) is str:
        return value.strip() or None
    return id_text(value)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _texts(value: Any) -> list[str]:
    return [t for t in map(_text, _as_list(value)) if t]


def _raw(value: Any, limit: int = 200) -> str | None:
    """A short text form of an offending value for the quarantine table."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
