"""Which candidate rates of a chunk of CSV rows need no normalization at all (validation's fast path).

``paybench validate`` lists every value the reader would change and every candidate rate it would not load; on a
big file nearly every candidate rate is plainly fine: a code and code type that normalize to themselves, plain
positive amounts, a known methodology, setting and billing class. Such a unit is loaded as published and has no
problem to report, so it only needs to be counted; only the others go through
:func:`benchmark.normalize.hospital_units.normalize_units` (which decides and words their problems exactly as
before).

The test here is *conservative*: a unit is called clean only when the normalization would load it and find
nothing to say about it -- a cell with a space at either end, a non-ASCII byte, a currency sign, an N/A, a zero or
a ``9999999`` is never clean. It works on the Arrow columns of one chunk: amounts with vectorized byte checks,
every other value (codes and their types, settings, methodologies, payer names) once per distinct value (a chunk
of rows holds few of them), with the answers kept across chunks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.ingest.hospital.cell_facts import CellFacts
from benchmark.normalize.hospital_units import (
    clean_algorithm,
    clean_code,
    clean_methodology,
    clean_payer,
    clean_setting_value,
)

_PLACEHOLDER = 9_999_999  # seven 9s or more is a placeholder: a plain number this big is not clean


class _Columns:
    """Per-column answers of one table of rows, from its :class:`CellFacts` (shared with the CMS row rules)."""

    def __init__(self, facts: CellFacts) -> None:
        self.facts = facts
        self.n = facts.n
        self._memo: dict[tuple, np.ndarray] = {}

    def array(self, index: int) -> pa.Array:
        return self.facts.raw(index)

    def empty(self, index: int | None) -> np.ndarray:
        if index is None:
            return np.ones(self.n, dtype=bool)
        return self.facts.lengths(index) == 0

    def tight(self, index: int | None) -> np.ndarray:
        """Non-empty cells whose first and last bytes are neither a space nor non-ASCII (``strip`` keeps them)."""
        if index is None:
            return np.zeros(self.n, dtype=bool)
        key = ("tight", index)
        if key not in self._memo:
            self._memo[key] = self.facts.tight(index)
        return self._memo[key]

    def amount(self, index: int | None, minimum: float = 0.0) -> np.ndarray:
        """Cells that are blank, or a plain decimal (digits and at most one point) above ``minimum`` that is not
        a placeholder: what the normalization reads as it is, without a word."""
        if index is None:
            return np.ones(self.n, dtype=bool)
        key = ("amount", index, minimum)
        if key not in self._memo:
            out = self.empty(index)
            if not out.all():
                plain, value = self.facts.numbers(index, trimmed=False)
                above = value > 0 if minimum == 0 else value >= minimum
                out = out | (plain & above & (value < _PLACEHOLDER))
            self._memo[key] = out
        return self._memo[key]

    def distinct(self, index: int | None, test: Callable[[str], bool], cache: dict[str, bool]) -> np.ndarray:
        """``test`` of every cell, called once per distinct value (answers kept in ``cache`` across chunks)."""
        if index is None:
            return np.full(self.n, test(""), dtype=bool)
        found = self.facts.dictionary(index, trimmed=False)
        assert found is not None  # parsed text has no nulls
        # columns sharing one dictionary (the payer/plan groups' methodologies and algorithms) share the answers
        key = ("distinct", id(found[0]), id(cache))
        answers = self._memo.get(key)
        if answers is None:
            values = found[0].to_pylist()
            answers = np.empty(len(values), dtype=bool)
            for position, value in enumerate(values):
                known = cache.get(value)
                if known is None:
                    known = cache[value] = bool(test(value))
                answers[position] = known
            self._memo[key] = answers
        return self.facts.per_value(index, False, answers) if len(answers) else np.zeros(self.n, bool)


class CleanUnits:
    """Tells, per chunk, which units (row, payer/plan group, code slot) of a CMS template file are clean.

    ``codes``: (code column, type column) per slot; ``items``: unit item field -> column (``setting_raw``,
    ``gross_raw``...); ``groups``: per payer/plan group its field -> column and its payer (None in a tall file,
    where ``payer_column`` holds the payer); ``file_columns``: the optional columns the conditional-rule warnings
    depend on (``min``, ``max``, ``count``, ``estimated``).
    """

    def __init__(
        self,
        codes: list[tuple[int, int | None]],
        items: dict[str, int],
        groups: list[tuple[dict[str, int], str | None]],
        payer_column: int | None,
        file_columns: frozenset[str],
    ) -> None:
        self.codes = codes
        self.items = items
        self.groups = groups
        self.payer_column = payer_column
        self.file_columns = file_columns
        self._seen = pa.array([], pa.string())  # every (code, type) key seen (_code_ids), and per entry:
        self._ids = np.zeros(0, dtype=np.int64)  # the id of its normalized (code, type) (-1: no code)
        self._clean = np.zeros(0, dtype=bool)  # whether it is clean
        self._pairs: dict[tuple[str, str], int] = {}
        self._settings: dict[str, bool] = {}
        self._classes: dict[str, bool] = {}
        self._methods: dict[str, bool] = {}
        self._others: dict[str, bool] = {}
        self._payers: dict[str, bool] = {}
        self._algorithms: dict[str, bool] = {}

    def usable(self, table: pa.Table) -> bool:
        return all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in table.schema.types)

    def prefetch(self, facts: CellFacts) -> None:
        """The same question about every payer/plan group's column: one batch each (a wide file has hundreds)."""
        amounts = ("dollar", "percentage", "estimated", "median", "p10", "p90")
        facts.prefetch_numbers([i for g, _ in self.groups for name, i in g.items() if name in amounts], trimmed=False)
        texts = ("methodology", "algorithm")
        facts.prefetch_dictionaries(
            [i for g, _ in self.groups for name, i in g.items() if name in texts], trimmed=False
        )

    def masks(self, table: pa.Table, facts: CellFacts | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(clean units, algorithm-only units): boolean arrays [group, slot, row]. A clean unit needs no
        normalization; an algorithm-only unit (a clean code and payer, no dollar nor percentage, a negotiated
        algorithm that is not N/A) is quarantined as ``algorithm_only`` and nothing else is said about it."""
        facts = facts if facts is not None else CellFacts(table)
        self.prefetch(facts)
        t = _Columns(facts)
        n = t.n
        items = self.items
        slots = [self._code_ids(t, code, kind) for code, kind in self.codes]
        base = np.ones(n, dtype=bool)
        for a in range(len(slots)):  # the same normalized code twice on a row: deduplication, not clean
            for b in range(a + 1, len(slots)):
                base &= ~((slots[a][0] == slots[b][0]) & (slots[a][0] >= 0))
        if self.payer_column is not None:
            base &= t.distinct(self.payer_column, clean_payer, self._payers)
        row_ok = base & t.distinct(
            items.get("setting_raw"), lambda v: clean_setting_value(v, "setting"), self._settings
        )
        row_ok &= t.distinct(
            items.get("billing_class_raw"), lambda v: clean_setting_value(v, "billing_class"), self._classes
        )
        for name in ("gross_raw", "cash_raw", "min_raw", "max_raw", "drug_unit_raw"):
            row_ok &= t.amount(items.get(name))
        min_max = {"min", "max"} <= self.file_columns
        has_min_max = t.tight(items.get("min_raw")) & t.tight(items.get("max_raw")) if min_max else None
        out = np.zeros((len(self.groups), len(self.codes), n), dtype=bool)
        algorithm_only = np.zeros_like(out)
        for g, (columns, payer) in enumerate(self.groups):
            if payer is not None and not clean_payer(payer):
                continue
            dollar, percentage = columns.get("dollar"), columns.get("percentage")
            no_number = t.empty(dollar) & t.empty(percentage)
            algorithm = base & no_number & t.distinct(columns.get("algorithm"), clean_algorithm, self._algorithms)
            ok = row_ok & t.amount(dollar) & t.amount(percentage, minimum=1.0) & ~no_number
            method = columns.get("methodology")
            ok &= t.distinct(method, clean_methodology, self._methods)
            other = t.distinct(method, lambda v: clean_methodology(v, other=True), self._others)
            if other.any():
                ok &= ~other | t.tight(columns.get("notes"))
            for name in ("estimated", "median", "p10", "p90"):
                ok &= t.amount(columns.get(name))
            needs = ~t.empty(percentage) | ~t.empty(columns.get("algorithm"))
            for name in ("count", "estimated"):
                if name in self.file_columns:
                    ok &= ~needs | t.tight(columns.get(name))
            if has_min_max is not None:
                ok &= t.empty(dollar) | has_min_max
            for k, (_, clean) in enumerate(slots):
                out[g, k] = ok & clean
                algorithm_only[g, k] = algorithm & clean
        return out, algorithm_only

    def _code_ids(self, t: _Columns, code: int, kind: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Per row of one code slot: the id of its normalized (code, type) (-1: no code), and whether it is clean
        (a code and type the normalization keeps as they are, without a word). Each distinct (code, type) is
        normalized once per file; rows find theirs with one hash lookup (``index_in``) of the pairs seen so far."""
        if t.n == 0:
            return np.full(0, -1, dtype=np.int64), np.zeros(0, dtype=bool)
        codes = t.array(code)
        kinds = t.array(kind) if kind is not None else pa.repeat(pa.scalar("", codes.type), t.n)
        # "<length of the code>:<code>:<type>": a key no two (code, type) pairs share, whatever their cells hold
        lengths = pc.cast(pc.utf8_length(codes), codes.type)
        joined = pc.binary_join_element_wise(lengths, codes, kinds, ":")
        found = pc.index_in(joined, value_set=self._seen) if len(self._seen) else None
        missing = joined if found is None else joined.filter(found.is_null())
        if len(missing):
            new = pc.unique(missing).to_pylist()
            raw = [_code_and_type(value) for value in new]
            # codes are stripped as the normalization strips them (Arrow's whitespace)
            stripped = pc.utf8_trim_whitespace(pa.array([r[0] for r in raw], pa.string())).to_pylist()
            ids, clean = [], []
            for (raw_code, raw_kind), stripped_code in zip(raw, stripped):
                pair, ok = clean_code(raw_code, stripped_code, raw_kind)
                ids.append(-1 if pair is None else self._pairs.setdefault(pair, len(self._pairs)))
                clean.append(ok)
            self._seen = pa.concat_arrays([self._seen, pa.array(new, pa.string())])
            self._ids = np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)])
            self._clean = np.concatenate([self._clean, np.asarray(clean, dtype=bool)])
            found = pc.index_in(joined, value_set=self._seen)
        assert found is not None
        index = found.to_numpy(zero_copy_only=False).astype(np.int64)
        return self._ids[index], self._clean[index]


def _code_and_type(key: str) -> tuple[str, str]:
    """The (code, type) of a key of :meth:`_code_ids` ("<length of the code>:<code>:<type>")."""
    length, _, rest = key.partition(":")
    size = int(length)
    return rest[:size], rest[size + 1 :]
