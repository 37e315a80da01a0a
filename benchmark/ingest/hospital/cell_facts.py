"""Per-column facts of one table of CSV rows, computed once and shared by everything that looks at the table.

Validating a hospital CSV, two checks read the same columns of every chunk of rows: the CMS row rules
(:class:`benchmark.ingest.hospital.cms_csv.RowRules`, on cells trimmed of whitespace) and the fast path that tells
which candidate rates need no normalization (:class:`benchmark.ingest.hospital.clean_units.CleanUnits`, on cells as
published). Both want the byte length and first and last byte of every cell, whether a cell is a plain positive
number and its value, and a column's distinct values. :class:`CellFacts` computes each of these once per column
(from the Arrow buffers, or with one Arrow kernel per column) and keeps it for the next question.

Distinct values: a column of few distinct values (code types, settings, methodologies, payer names, counts) is
dictionary-encoded once; a rule is then evaluated on its distinct values with the same Arrow kernels as it would be
on the cells, and mapped back to the rows by the dictionary indices -- the same answer, computed on a few hundred
values instead of a hundred thousand cells.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.arrow_text import string_buffers

# Bytes a cell may start or end with that Arrow's utf8_trim_whitespace (and Python's str.strip) could remove: ASCII
# whitespace, the \x1c-\x1f separators, any non-ASCII byte (Unicode spaces). A cell whose first and last bytes are
# none of them is its own trimmed form.
TRIMMABLE = np.zeros(256, dtype=bool)
TRIMMABLE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
TRIMMABLE[128:] = True


def single(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One Arrow array of a column (its chunks combined)."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def bounds(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(byte length, first byte, last byte) of every cell of a string array, from its buffers. The first and last
    bytes of an empty cell mean nothing: look at them only where the length is not 0."""
    n = len(array)
    offsets, data = string_buffers(array)
    lengths = offsets[1:] - offsets[:-1]
    if not len(data) or not n:
        return lengths, np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.uint8)
    top = len(data) - 1
    first = data[np.minimum(offsets[:-1], top)]
    last = data[np.clip(offsets[1:] - 1, 0, top)]
    return lengths, first, last


def plain_decimals(text: pa.Array) -> np.ndarray:
    """Whether each cell is a plain decimal: ASCII digits with at most one point and at least one digit. Looked at
    on the bytes (numpy over the Arrow buffers): a cell is plain when it has no byte other than 0-9 and ``.``, at
    most one ``.``, and is longer than its points."""
    n = len(text)
    offsets, data = string_buffers(text)
    lengths = offsets[1:] - offsets[:-1]
    if not len(data) or not n:
        return np.zeros(n, dtype=bool)
    start = int(offsets[0])
    body = data[start : int(offsets[-1])]
    # per byte 0 for a digit, 1 for a point, 2 for anything else; per cell their sum (a running total read at the
    # cells' ends): plain = no other byte and at most one point (sum <= 1), and a digit (length > sum)
    point = body == 46
    weight = (((body - np.uint8(48)) >= 10) & ~point).view(np.uint8) * np.uint8(2) + point.view(np.uint8)
    total = np.zeros(len(body) + 1, dtype=np.int32 if len(body) < 1 << 29 else np.int64)
    np.cumsum(weight, dtype=total.dtype, out=total[1:])
    sums = total[offsets[1:] - start] - total[offsets[:-1] - start]
    return (sums <= 1) & (lengths > sums)


def _plain_numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(plain, value) of every cell (see :meth:`CellFacts.numbers`)."""
    plain_np = plain_decimals(text)
    if not plain_np.any():
        return plain_np, np.zeros(len(text), dtype=np.float64)
    if plain_np.all():
        value = pc.cast(text, pa.float64())
    else:
        value = pc.cast(pc.if_else(pa.array(plain_np), text, "0"), pa.float64())
    return plain_np, np.asarray(value.to_numpy(zero_copy_only=False), dtype=np.float64)


class CellFacts:
    """Facts about the columns of one table (columns named ``c<index>``, text), each computed on first use.

    ``trimmed=True`` asks about the cells trimmed of whitespace (Arrow's ``utf8_trim_whitespace``), ``False`` about
    the cells as published; in a column without a cell to trim both are the same array and share their facts.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self._raw: dict[int, pa.Array] = {}
        self._lengths: dict[int, np.ndarray] = {}
        self._bounds: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._edges: dict[int, bool] = {}
        self._trimmed: dict[int, tuple[pa.Array, np.ndarray]] = {}
        self._numbers: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._dictionaries: dict[tuple[int, bool], tuple[pa.Array, np.ndarray] | None] = {}
        # every column end to end, once (a wide file has hundreds of columns: one pass instead of one per column)
        self._joined: pa.Array | None = None
        self._position: dict[int, int] = {}  # column index -> its place in _joined
        self._batched = False

    def has_column(self, index: int) -> bool:
        return f"c{index}" in self.table.column_names

    def raw(self, index: int) -> pa.Array:
        """The column as published (one array, text)."""
        if index not in self._raw:
            array = single(self.table.column(f"c{index}"))
            if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
                array = array.cast(pa.string())
            self._raw[index] = array
        return self._raw[index]

    def lengths(self, index: int) -> np.ndarray:
        """Byte length of every cell as published."""
        if index not in self._lengths:
            self._batch()
        if index not in self._lengths:
            self._lengths[index] = self.bounds(index)[0]
        return self._lengths[index]

    def bounds(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(byte length, first byte, last byte) of every cell as published."""
        if index not in self._bounds:
            self._bounds[index] = bounds(self.raw(index))
            self._lengths.setdefault(index, self._bounds[index][0])
        return self._bounds[index]

    def _batch(self) -> None:
        """Lengths and edges of every column at once, from the columns joined end to end (when they are all text
        without nulls and fit 32-bit offsets; else column by column). The first and last bytes of the cells are
        looked at only in the columns that hold a byte that could be trimmed at all (a space, a control
        character, a non-ASCII byte): in the others no cell can start or end with one."""
        if self._batched:
            return
        self._batched = True
        indices = [int(name[1:]) for name in self.table.column_names if name[:1] == "c" and name[1:].isdigit()]
        if len(indices) < 2 or self.n == 0 or not all(pa.types.is_string(t) for t in self.table.schema.types):
            return
        arrays = [self.raw(i) for i in indices]
        if any(not pa.types.is_string(a.type) or a.null_count for a in arrays):
            return
        if sum(a.nbytes for a in arrays) >= 1 << 30:
            return
        joined = pa.concat_arrays(arrays)
        n, count = self.n, len(arrays)
        offsets, everything = string_buffers(joined)
        lengths = offsets[1:] - offsets[:-1]
        # per column, whether any of its cells starts or ends with a byte to trim; looked at cell by cell only in
        # the columns holding a byte <= 32 or >= 128 at all (a superset of TRIMMABLE)
        edges = np.zeros(count, dtype=bool)
        if len(everything):
            data = everything[offsets[0] : offsets[-1]]
            hits = np.flatnonzero((data - np.uint8(33)) >= 95) + offsets[0]  # byte - 33 wraps below 33
            starts = offsets[np.arange(count + 1) * n]  # where each column's bytes begin (and the last ends)
            suspect = np.flatnonzero(np.searchsorted(hits, starts[1:]) > np.searchsorted(hits, starts[:-1]))
            if len(suspect):
                cells = (suspect[:, None] * n + np.arange(n)).ravel()
                size, begin = lengths[cells], offsets[cells]
                top = len(everything) - 1
                first = everything[np.minimum(begin, top)]
                last = everything[np.clip(begin + size - 1, 0, top)]
                edge = (size > 0) & (TRIMMABLE[first] | TRIMMABLE[last])
                edges[suspect] = edge.reshape(len(suspect), n).any(axis=1)
        for k, index in enumerate(indices):
            self._lengths[index] = lengths[k * n : (k + 1) * n]
            self._edges[index] = bool(edges[k])
            self._position[index] = k
        self._joined = joined

    def _edge_cells(self, index: int) -> np.ndarray:
        lengths, first, last = self.bounds(index)
        return (lengths > 0) & (TRIMMABLE[first] | TRIMMABLE[last])

    def _not_yet(self, indices: list[int], trimmed: bool, done: Mapping[tuple[int, bool], object]) -> list[int]:
        """The distinct columns of ``indices`` in the joined batch whose facts are not in ``done`` yet (a column
        with a cell to trim, when ``trimmed``, is left to the per-column methods)."""
        return [
            i
            for i in dict.fromkeys(indices)
            if i in self._position and self._key(i, trimmed) not in done and not self._key(i, trimmed)[1]
        ]

    def prefetch_numbers(self, indices: list[int], trimmed: bool) -> None:
        """:meth:`numbers` of several columns with one pass of the Arrow kernels over all their non-empty cells
        (columns with a cell to trim, when ``trimmed``, are left to :meth:`numbers`)."""
        self._batch()
        todo = self._not_yet(indices, trimmed, self._numbers)
        if len(todo) < 2 or self._joined is None:
            return
        n = self.n
        positions = np.array([self._position[i] for i in todo], dtype=np.int64)
        # the non-empty cells of the columns, as places in a [column, row] block and in the joined array
        block = np.flatnonzero(np.stack([self._lengths[i] for i in todo]))
        where = positions[block // n] * n + block % n
        plain = np.zeros(len(todo) * n, dtype=bool)
        value = np.zeros(len(todo) * n, dtype=np.float64)
        if len(where):
            plain[block], value[block] = _plain_numbers(self._joined.take(pa.array(where)))
        for k, i in enumerate(todo):
            self._numbers[(i, False)] = (plain[k * n : (k + 1) * n], value[k * n : (k + 1) * n])

    def prefetch_dictionaries(self, indices: list[int], trimmed: bool) -> None:
        """:meth:`dictionary` of several columns as one dictionary encoding of all their cells (one dictionary
        shared by the columns)."""
        self._batch()
        todo = self._not_yet(indices, trimmed, self._dictionaries)
        if len(todo) < 2 or self._joined is None:
            return
        n = self.n
        joined = pa.concat_arrays([self._joined.slice(self._position[i] * n, n) for i in todo])
        encoded = pc.dictionary_encode(joined)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        for k, i in enumerate(todo):
            self._dictionaries[(i, False)] = (encoded.dictionary, codes[k * n : (k + 1) * n])

    def trimmable(self, index: int) -> bool:
        """Whether any cell of the column starts or ends with a byte that trimming could remove."""
        if index not in self._edges:
            self._batch()
        if index not in self._edges:
            self._edges[index] = bool(self._edge_cells(index).any())
        return self._edges[index]

    def tight(self, index: int) -> np.ndarray:
        """Non-empty cells whose first and last bytes are neither whitespace nor non-ASCII (``strip`` keeps them)."""
        if not self.trimmable(index):
            return self.lengths(index) > 0
        lengths, first, last = self.bounds(index)
        return (lengths > 0) & ~TRIMMABLE[first] & ~TRIMMABLE[last]

    def text(self, index: int, trimmed: bool) -> tuple[pa.Array, np.ndarray]:
        """(cells, their byte lengths), trimmed or as published."""
        if not trimmed or not self.trimmable(index):
            return self.raw(index), self.lengths(index)
        if index not in self._trimmed:
            array = pc.utf8_trim_whitespace(self.raw(index))
            self._trimmed[index] = (array, bounds(array)[0])
        return self._trimmed[index]

    def _key(self, index: int, trimmed: bool) -> tuple[int, bool]:
        return (index, trimmed and self.trimmable(index))

    def numbers(self, index: int, trimmed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(plain, value): whether each cell is a plain decimal -- ASCII digits with at most one point, at least one
        digit -- and its value (0 where it is not plain). Only the non-empty cells are looked at (an empty cell is
        not plain): many amount columns are mostly empty."""
        key = self._key(index, trimmed)
        if key not in self._numbers:
            text, lengths = self.text(index, trimmed)
            filled = lengths > 0
            count = int(np.count_nonzero(filled))
            if count == self.n:
                self._numbers[key] = _plain_numbers(text)
            else:
                plain = np.zeros(self.n, dtype=bool)
                value = np.zeros(self.n, dtype=np.float64)
                if count:
                    rows = np.flatnonzero(filled)
                    plain[rows], value[rows] = _plain_numbers(text.take(pa.array(rows)))
                self._numbers[key] = (plain, value)
        return self._numbers[key]

    def dictionary(self, index: int, trimmed: bool) -> tuple[pa.Array, np.ndarray] | None:
        """(distinct values, index of each cell's value) -- None when the column has nulls (never, for parsed
        text) -- computed once per column."""
        key = self._key(index, trimmed)
        if key not in self._dictionaries:
            text = self.text(index, trimmed)[0]
            found = None
            if text.null_count == 0:
                encoded = pc.dictionary_encode(text)
                found = (encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False))
            self._dictionaries[key] = found
        return self._dictionaries[key]

    def has_dictionary(self, index: int, trimmed: bool) -> bool:
        return self._key(index, trimmed) in self._dictionaries

    def per_value(self, index: int, trimmed: bool, values: np.ndarray) -> np.ndarray:
        """An answer per distinct value (in dictionary order) mapped to the cells."""
        found = self.dictionary(index, trimmed)
        assert found is not None
        return values[found[1]] if len(values) else np.zeros(self.n, dtype=values.dtype)
