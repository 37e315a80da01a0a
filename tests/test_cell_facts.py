"""CellFacts: the per-column facts validation shares between the CMS row rules and the fast path, batched or not."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from benchmark.ingest.hospital.cell_facts import CellFacts, plain_decimals

AMOUNTS = ["12.50", "", " 3", "0", "1e5", "7.", ".5", "abc", "9999999", "1.2.3", "$4", "."]
# plain decimal = ASCII digits with at most one point and at least one digit, as written
PLAIN = [True, False, False, True, False, True, True, False, True, False, False, False]
VALUES = {0: 12.5, 3: 0.0, 5: 7.0, 6: 0.5, 8: 9999999.0}
SECOND = ["4", "", "", "x", "", "", "10.25", "", "", "", "", "3"]
WORDS = ["OTHER", "other", "fee schedule", "", "case rate", "OTHER", "", "x", "per diem", "", "", "Other"]
CODES = ["CPT", "HCPCS", "", "CPT", "RC", "", "", "", "CPT", "NDC", "", "CPT"]


def _table() -> pa.Table:
    columns = [AMOUNTS, SECOND, WORDS, CODES]
    return pa.table({f"c{i}": pa.array(column, pa.string()) for i, column in enumerate(columns)})


def test_numbers_as_published_and_trimmed() -> None:
    facts = CellFacts(_table())
    plain, value = facts.numbers(0, trimmed=False)
    assert plain.tolist() == PLAIN
    for row, expected in VALUES.items():
        assert value[row] == expected
    trimmed_plain, trimmed_value = facts.numbers(0, trimmed=True)
    assert trimmed_plain[2] and trimmed_value[2] == 3.0  # " 3" trimmed is a plain 3
    assert trimmed_plain.tolist() == [p or row == 2 for row, p in enumerate(PLAIN)]


def test_batched_numbers_equal_column_by_column() -> None:
    batched = CellFacts(_table())
    batched.prefetch_numbers([0, 1], trimmed=False)
    for index in (0, 1):
        alone = CellFacts(_table()).numbers(index, trimmed=False)
        got = batched.numbers(index, trimmed=False)
        assert got[0].tolist() == alone[0].tolist()
        assert got[1][got[0]].tolist() == alone[1][alone[0]].tolist()
    plain, value = batched.numbers(1, trimmed=False)
    assert plain.tolist() == [c not in ("", "x") for c in SECOND]
    assert value[6] == 10.25 and value[11] == 3.0


def test_lengths_edges_and_tight_cells() -> None:
    facts = CellFacts(_table())
    lengths = facts.bounds(0)[0]
    assert lengths.tolist() == [len(c.encode()) for c in AMOUNTS]
    assert facts.trimmable(0)  # " 3"
    assert not facts.trimmable(2)
    assert facts.tight(0).tolist() == [bool(c) and c == c.strip() for c in AMOUNTS]
    assert facts.text(0, trimmed=True)[0].to_pylist()[2] == "3"
    assert facts.text(0, trimmed=False)[0].to_pylist()[2] == " 3"


def test_shared_dictionary_maps_back_to_every_cell() -> None:
    facts = CellFacts(_table())
    facts.prefetch_dictionaries([2, 3], trimmed=False)
    for index, cells in ((2, WORDS), (3, CODES)):
        found = facts.dictionary(index, trimmed=False)
        assert found is not None
        values = np.array(found[0].to_pylist(), dtype=object)
        assert facts.per_value(index, False, values).tolist() == cells
    # one dictionary for both columns: every distinct value of either, once
    shared = facts.dictionary(2, trimmed=False)
    assert shared is not None and sorted(shared[0].to_pylist()) == sorted(set(WORDS) | set(CODES))


def test_plain_decimals_on_the_bytes_match_a_regular_expression() -> None:
    # every string of up to 3 characters over digits, point, space, sign, letter, non-ASCII digit, and longer ones
    alphabet = ["0", "7", ".", " ", "-", "e", "\u0663", "$"]
    cells = [""] + alphabet
    cells += [a + b for a in alphabet for b in alphabet]
    cells += [a + b + c for a in alphabet[:4] for b in alphabet[:4] for c in alphabet[:4]]
    cells += ["12345.678", "1.2.3", "..5", "0012", "9" * 40, "１２", "5\n", "3.14e2"]
    expected = [
        re.fullmatch(r"[0-9]*\.?[0-9]*", c) is not None and any(ch.isdigit() and ch.isascii() for ch in c)
        for c in cells
    ]
    array = pa.array(cells, pa.string())
    assert plain_decimals(array).tolist() == expected
    # a slice (offsets not starting at 0) and a large_string array give the same answers
    assert plain_decimals(array.slice(5, 40)).tolist() == expected[5:45]
    assert plain_decimals(array.cast(pa.large_string())).tolist() == expected
