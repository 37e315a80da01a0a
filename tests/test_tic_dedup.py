"""Deduplication of the TiC reader's rows, batch by batch, against a row-by-row count in plain Python.

Rows are a negotiated rate's prices x its provider slots (:class:`benchmark.ingest.tic.rows._RowPlan`); two rows
are duplicates when their price values and group values are equal. The oracle walks every row in file order with a
dict keyed by (price values, group values): the first row of each key is kept, with the number of rows of its key.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.ingest.tic.rows import _RowPlan


def _plan(rng: np.random.Generator, blocks: int, groups: int) -> _RowPlan:
    prices = rng.integers(1, 4, blocks)
    slots = rng.integers(1, 7, blocks)
    return _RowPlan(
        block_rows=prices * slots,
        block_first_price=np.cumsum(prices) - prices,
        block_slots=slots,
        block_slot_start=np.cumsum(slots) - slots,
        slot_group=rng.integers(0, groups, int(slots.sum())),
        slot_prefix=np.zeros(int(slots.sum()), np.int64),
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("batch_rows", [None, 1, 37, 400])
def test_rows_kept_and_counts_are_those_of_a_row_by_row_count(seed: int, batch_rows: int | None) -> None:
    rng = np.random.default_rng(seed)
    plan = _plan(rng, blocks=300, groups=40)
    price_count = int(plan.block_first_price[-1] + plan.block_rows[-1] // plan.block_slots[-1])
    # most prices have values of their own; some share them (a few value classes), as files repeat rates
    price_classes = np.arange(price_count) + 10
    shared = rng.random(price_count) < [0.0, 0.2, 0.5, 0.9, 1.0, 0.3][seed]
    price_classes[shared] = rng.integers(0, 10, int(shared.sum()))
    group_classes = rng.integers(0, [3, 8, 40, 2, 5, 1][seed], 40)  # few classes: groups repeat within a rate

    expected_keep, seen_at = [], {}
    all_keys = []
    for block in range(len(plan.block_rows)):
        first, width, start = plan.block_first_price[block], plan.block_slots[block], plan.block_slot_start[block]
        for price in range(first, first + plan.block_rows[block] // width):
            for slot in range(start, start + width):
                key = (int(price_classes[price]), int(group_classes[plan.slot_group[slot]]))
                all_keys.append(key)
                expected_keep.append(key not in seen_at)
                seen_at.setdefault(key, len(all_keys) - 1)
    totals = {key: all_keys.count(key) for key in seen_at}
    expected_counts = [totals[key] for key, kept in zip(all_keys, expected_keep) if kept]

    ranges = plan.ranges(batch_rows)
    duplicates = plan.duplicates(ranges, price_classes, group_classes)
    keep, counts = [], []
    for number, (start, end, row_start, row_end) in enumerate(ranges):
        price, group, _ = plan.rows(start, end)
        assert len(price) == row_end - row_start
        batch_keep, batch_counts = duplicates.batch(number, price, group)
        assert len(batch_counts) == int(batch_keep.sum())
        keep.extend(batch_keep.tolist())
        counts.extend(batch_counts.tolist())
    assert keep == expected_keep
    assert counts == expected_counts
    assert duplicates.kept == len(seen_at) == sum(expected_keep)
    assert len(seen_at) < len(all_keys)  # the case has duplicates
