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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    """(byte length, first byte, last byte) of every cell of a string array (0 for empty cells), from its buffers."""
    n = len(array)
    buffers = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets: np.ndarray = np.frombuffer(buffers[1], dtype=width, count=n + 1, offset=array.offset * width().itemsize)
    lengths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    first = np.zeros(n, dtype=np.uint8)
    last = np.zeros(n, dtype=np.uint8)
    filled = np.flatnonzero(lengths)
    if len(filled) and buffers[2] is not None:
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        first[filled] = data[offsets[:-1][filled]]
        last[filled] = data[offsets[1:][filled] - 1]
    return lengths, first, last


class CellFacts:
    """Facts about the columns of one table (columns named ``c<index>``, text), each computed on first use.

    ``trimmed=True`` asks about the cells trimmed of whitespace (Arrow's ``utf8_trim_whitespace``), ``False`` about
    the cells as published; in a column without a cell to trim both are the same array and share their facts.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self._raw: dict[int, pa.Array] = {}
        self._bounds: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._edges: dict[int, bool] = {}
        self._trimmed: dict[int, tuple[pa.Array, np.ndarray]] = {}
        self._numbers: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._dictionaries: dict[tuple[int, bool], tuple[pa.Array, np.ndarray] | None] = {}

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

    def bounds(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(byte length, first byte, last byte) of every cell as published."""
        if index not in self._bounds:
            self._bounds[index] = bounds(self.raw(index))
        return self._bounds[index]

    def trimmable(self, index: int) -> bool:
        """Whether any cell of the column starts or ends with a byte that trimming could remove."""
        if index not in self._edges:
            lengths, first, last = self.bounds(index)
            self._edges[index] = bool(((lengths > 0) & (TRIMMABLE[first] | TRIMMABLE[last])).any())
        return self._edges[index]

    def tight(self, index: int) -> np.ndarray:
        """Non-empty cells whose first and last bytes are neither whitespace nor non-ASCII (``strip`` keeps them)."""
        lengths, first, last = self.bounds(index)
        return (lengths > 0) & ~TRIMMABLE[first] & ~TRIMMABLE[last]

    def text(self, index: int, trimmed: bool) -> tuple[pa.Array, np.ndarray]:
        """(cells, their byte lengths), trimmed or as published."""
        if not trimmed or not self.trimmable(index):
            return self.raw(index), self.bounds(index)[0]
        if index not in self._trimmed:
            array = pc.utf8_trim_whitespace(self.raw(index))
            self._trimmed[index] = (array, bounds(array)[0])
        return self._trimmed[index]

    def _key(self, index: int, trimmed: bool) -> tuple[int, bool]:
        return (index, trimmed and self.trimmable(index))

    def numbers(self, index: int, trimmed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(plain, value): whether each cell is a plain decimal -- ASCII digits with at most one point, at least one
        digit -- and its value (meaningless where it is not plain)."""
        key = self._key(index, trimmed)
        if key not in self._numbers:
            text = self.text(index, trimmed)[0]
            plain = pc.ascii_is_decimal(pc.replace_substring(text, ".", "", max_replacements=1))
            plain_np = np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)
            if plain_np.any():
                value = pc.cast(pc.if_else(plain, text, "0"), pa.float64()).to_numpy(zero_copy_only=False)
            else:
                value = np.zeros(self.n, dtype=np.float64)
            self._numbers[key] = (plain_np, value)
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
