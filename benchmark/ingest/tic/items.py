"""In-network items as the TiC scan sees them: the code filter, the msgspec shapes, and one batch's scan result.

:func:`scan_item_batch` is the unit of parallel work of the TiC reader: it decodes a batch of consecutive
``in_network`` items (one JSON array text) into small shapes, decides which items the code filter keeps, and counts
the rows of the others, without changing any state. The reader's main thread runs it, and so does the helper process
of :mod:`benchmark.ingest.tic.workers`; the main thread applies the results in file order. This module is light on
purpose (msgspec, numpy and the standard library): the helper process imports it and must start fast.

Row count of a filtered-out item (the same rule as for loaded rows)
    A negotiated rate with ``n`` prices, ``g`` inline groups and references ``r1..rk`` holds
    ``n * (g + groups(r1) + ... + groups(rk))`` rows (``n * 1`` when that sum is 0; 1 when ``n`` is 0); an item
    without negotiated rates counts 1. ``groups(r)`` is only known once the root ``provider_references`` are read,
    so prices are summed per reference id here and multiplied out at the end (:meth:`FilteredRowCounter.total`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from benchmark.ingest.tic.scan import Batch


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
    def parse(cls, codes: Iterable[str] | str | CodeFilter | None) -> CodeFilter | None:
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


# ---------------------------------------------------------------------------------------------------------------------
# Shapes: what msgspec builds for every element (tuples, empty structs and raw slices: ~2x faster than lists)


class _Empty(msgspec.Struct, gc=False):
    pass


NO_REFERENCES = msgspec.Raw(b"")


class RateShape(msgspec.Struct, gc=False):
    negotiated_prices: tuple[_Empty, ...] = ()
    provider_references: msgspec.Raw = NO_REFERENCES
    provider_groups: tuple[_Empty, ...] = ()


class ItemShape(msgspec.Struct, gc=False):
    billing_code: Any = None
    negotiated_rates: tuple[RateShape, ...] = ()


class ReferenceShape(msgspec.Struct, gc=False):
    provider_group_id: Any = None
    provider_groups: tuple[_Empty, ...] = ()


ITEMS = msgspec.json.Decoder(list[ItemShape])
ITEM = msgspec.json.Decoder(ItemShape)
_ANY = msgspec.json.Decoder()
_RATES_OF = attrgetter("negotiated_rates")
_PRICES_OF = attrgetter("negotiated_prices")
_GROUPS_OF = attrgetter("provider_groups")
_REFERENCES_OF = attrgetter("provider_references")
_MAX_DENSE_ID = 50_000_000
_FOLD_PENDING = 4_000_000  # (id, prices) pairs held before they are added up (~32 MB)
_LIST_PUNCTUATION = b"[] \t\r\n"
_BAR_TO_COMMA = bytes.maketrans(b"|", b",")


# ---------------------------------------------------------------------------------------------------------------------
# One batch


@dataclass
class KeptItem:
    """A wanted item of a batch: where it lies in the batch text, its prices and the reference ids it uses."""

    position: int  # index within the batch
    start: int  # span in the batch text (b"[" + elements + b"]")
    end: int
    prices: int
    reference_ids: list[Any]


@dataclass
class ItemBatchScan:
    """What one batch holds; applying it (in file order) is the caller's job."""

    count: int
    kept: list[KeptItem]
    filtered: FilteredRowCounter


def scan_item_batch(data: bytes | memoryview, wanted: CodeFilter | None, separator: bytes | None) -> ItemBatchScan:
    """Decode one batch (a JSON array text of items) and sort its items into kept and counted-out.

    Raises msgspec/ValueError/RecursionError when the batch is not a list of ordinary items (a wrong cut, odd
    types, bad syntax): the caller then reads the region exactly, item by item.
    """
    shapes = ITEMS.decode(data)
    kept_positions, others = [], []
    for position, shape in enumerate(shapes):
        if wanted is None or wanted.matches(text_of(shape.billing_code)):
            kept_positions.append(position)
        else:
            others.append(shape)
    counter = FilteredRowCounter()
    if others:
        counter.add_shapes(others)
    kept = []
    if kept_positions:
        text = bytes(data)
        spans = Batch(text, 0, 0, separator).spans(len(shapes))
        for position in kept_positions:
            start, end = spans[position]
            prices, ids = shape_usage(shapes[position])
            kept.append(KeptItem(position, start, end, prices, ids))
    return ItemBatchScan(len(shapes), kept, counter)


def shape_usage(shape: ItemShape) -> tuple[int, list[Any]]:
    """(negotiated prices, reference ids used) of a kept item."""
    rates = shape.negotiated_rates
    prices = sum(len(rate.negotiated_prices) for rate in rates)
    ids: list[Any] = []
    for rate in rates:
        if rate.provider_references is not NO_REFERENCES:
            ids.extend(reference_ids(bytes(rate.provider_references)))
    return prices, ids


# ---------------------------------------------------------------------------------------------------------------------
# Rows of filtered-out items


@dataclass
class FilteredRowCounter:
    """Rows of filtered-out items, counted with the loaded-row rule from shapes (references resolved at the end).

    The work is done per batch with C-level iteration and numpy, not a Python loop per rate: the batch's reference
    lists are decoded in one call and their (id, prices) pairs kept as arrays for ordinary integer ids (a dict for
    anything else). The pairs are added up per id (``np.bincount`` into a dense array) only once several million are
    pending, not per batch: ids run to millions, so a dense array per batch would cost more than the batch (and more
    still to send from a helper process). Counters of separate batches add up with :meth:`absorb`.
    """

    direct: int = 0
    dense: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # prices per integer id
    per_id: dict[Any, float] = field(default_factory=dict)  # prices per any other id
    pending_ids: list[np.ndarray] = field(default_factory=list)  # integer ids not yet added to dense
    pending_weights: list[np.ndarray] = field(default_factory=list)  # their prices (int32, same lengths)
    pending: int = 0  # ids in pending_ids

    def add_shapes(self, items: list[ItemShape]) -> None:
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
        lengths = np.fromiter(map(len, raws), np.int64, size)
        blank = [i for i in np.flatnonzero(lengths == 2).tolist() if bytes(raws[i]) == b"[]"]  # no id (others: below)
        if blank:
            lengths[blank] = 0
        has_ids = lengths > 0
        self.direct += int((prices == 0).sum() + (prices * groups).sum() + prices[(groups == 0) & ~has_ids].sum())
        counted = has_ids & (prices > 0)
        if counted.any():
            chosen, weights = list(compress(raws, counted.tolist())), prices[counted]
            if not self._add_integer_lists(chosen, weights):
                self._add_lists(chosen, weights, groups[counted] == 0)

    def add_item(self, item: dict) -> None:
        """Count the rows of one filtered item decoded as plain Python values (the slow path)."""
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
                key = reference_id(reference)
                self.per_id[key] = self.per_id.get(key, 0) + len(prices)

    def absorb(self, other: FilteredRowCounter) -> None:
        """Add another counter's rows (a batch scanned elsewhere) to this one."""
        self.direct += other.direct
        used = np.flatnonzero(other.dense)
        if used.size:
            self._grow(int(used[-1]) + 1)
            self.dense[used] += other.dense[used]
        for ids, weights in zip(other.pending_ids, other.pending_weights):
            self._pend(ids, weights)
        for key, weight in other.per_id.items():
            self.per_id[key] = self.per_id.get(key, 0) + weight

    def compact(self) -> FilteredRowCounter:
        """The same counts with the dense array cut after its last used id (smaller to send between processes)."""
        used = np.flatnonzero(self.dense)
        dense = self.dense[: int(used[-1]) + 1] if used.size else self.dense[:0]
        return FilteredRowCounter(
            self.direct, dense, self.per_id, list(self.pending_ids), list(self.pending_weights), self.pending
        )

    def total(self, table: dict[Any, tuple[int, int, int]], duplicates: set[Any]) -> int:
        """All filtered rows, given the reference table (groups per id; unknown or duplicated ids count 1)."""

        def groups_of(key: Any) -> int:
            entry = None if key in duplicates else table.get(key)
            return entry[0] if entry else 1

        self._fold()
        total: float = self.direct
        if self.dense.size:
            used = np.flatnonzero(self.dense)
            groups = np.fromiter(map(groups_of, used.tolist()), np.int64, used.size)
            total += int((self.dense[used] * groups).sum())
        total += sum(weight * groups_of(key) for key, weight in self.per_id.items())
        return int(total)

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _add_integer_lists(self, raws: list, weights: np.ndarray) -> bool:
        """The fast path: lists of plain non-negative integers, all parsed by numpy in one call; each list's ids get
        its weight (tokens counted per list from the separators). False if the text is anything else."""
        text = b"|".join(raws).translate(None, _LIST_PUNCTUATION)
        if text.translate(None, b"0123456789,|"):
            return False  # strings, floats, negative numbers, null, nested values: the general path decides
        codes = np.frombuffer(text, np.uint8)
        separators = np.flatnonzero((codes == 44) | (codes == 124))
        token_lengths = np.diff(np.concatenate(([-1], separators, [codes.size]))) - 1
        if token_lengths.size and (token_lengths.min() < 1 or token_lengths.max() > 18):
            return False  # an empty token (e.g. "[ ]", an empty list with a space) or a number too long for int64
        bars = np.flatnonzero(codes[separators] == 124)
        per_list = np.diff(np.concatenate(([-1], bars, [separators.size])))
        ids = np.fromstring(text.translate(_BAR_TO_COMMA), dtype=np.int64, sep=",")
        if ids.size != int(per_list.sum()) or per_list.size != len(raws):
            return False
        self._add(ids, np.repeat(weights, per_list))
        return True

    def _add_lists(self, raws: list, weights: np.ndarray, alone: np.ndarray) -> None:
        """Add each list's weight (prices) to every id it holds; a list without ids counts its weight once when
        ``alone`` (the rate has no inline groups either)."""
        for raw, weight, single in zip(raws, weights.tolist(), alone.tolist()):
            ids = reference_ids(bytes(raw))
            if not ids and single:
                self.direct += weight
            for key in ids:
                self.per_id[key] = self.per_id.get(key, 0) + weight

    def _add(self, ids: np.ndarray, weights: np.ndarray) -> None:
        if not ids.size:
            return
        if ids.min() >= 0 and ids.max() < _MAX_DENSE_ID:
            self._pend(ids.astype(np.int32), weights.astype(np.int32))  # ids < _MAX_DENSE_ID < 2**31
            return
        unique, inverse = np.unique(ids, return_inverse=True)
        for key, weight in zip(unique.tolist(), np.bincount(inverse, weights=weights).tolist()):
            self.per_id[key] = self.per_id.get(key, 0) + weight

    def _pend(self, ids: np.ndarray, weights: np.ndarray) -> None:
        """Note (id, prices) pairs of integer ids in ``[0, _MAX_DENSE_ID)``; add them up when many are pending."""
        self.pending_ids.append(ids)
        self.pending_weights.append(weights)
        self.pending += ids.size
        if self.pending >= _FOLD_PENDING:
            self._fold()

    def _fold(self) -> None:
        """Add the pending pairs to the dense array (one bincount for all of them)."""
        if not self.pending_ids:
            return
        ids, weights = np.concatenate(self.pending_ids), np.concatenate(self.pending_weights)
        self.pending_ids, self.pending_weights, self.pending = [], [], 0
        size = max(int(ids.max()) + 1, self.dense.size)
        sums = np.bincount(ids, weights=weights, minlength=size)  # float64: exact for sums below 2**53
        if self.dense.size == size:
            self.dense += sums.astype(np.int64)
        else:
            sums = sums.astype(np.int64)
            sums[: self.dense.size] += self.dense
            self.dense = sums

    def _grow(self, size: int) -> None:
        if size > self.dense.size:
            self.dense = np.concatenate([self.dense, np.zeros(size - self.dense.size, np.int64)])


# ---------------------------------------------------------------------------------------------------------------------
# Identifiers and text


def reference_ids(raw: bytes) -> list[Any]:
    """Reference ids of a raw ``provider_references`` value (a list, or one scalar)."""
    try:
        value = _ANY.decode(raw)
    except (msgspec.MsgspecError, ValueError):
        return [None]
    if value is None:
        return []
    return [reference_id(v) for v in value] if isinstance(value, list) else [reference_id(value)]


def reference_id(value: Any) -> Any:
    """A hashable id: ints stay ints (``5``, ``5.0`` and ``"5"`` are the same id); other text as text."""
    if type(value) is int:
        return value
    key = id_text(value)
    if key is not None and key.isascii() and key.isdigit() and (len(key) == 1 or key[0] != "0"):
        return int(key)
    return key


def text_of(value: Any) -> str | None:
    """Stripped text of a scalar, None for missing/blank/containers."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def id_text(value: Any) -> str | None:
    """Text of an identifier that may have been published as a number (5 and 5.0 both give "5")."""
    if isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return text_of(value)
