"""Row counts of filtered-out items: the vectorized batch counter against the plain per-item rule."""

from __future__ import annotations

import json
import random

import pytest

from benchmark.ingest.tic.items import ITEMS, FilteredRowCounter

ODD_REFERENCES = [
    "[]",
    "[ ]",
    "[\n]",
    "null",
    '""',
    "[1, 2]",
    "[ 3 ,4 ]",
    '["5"]',
    "[5.0]",
    "[-7]",
    "7",
    "[123456789012345678901]",
    "[0]",
    "[1,1]",
    '[ "x-9" ]',
    "[[1]]",
    '{"a": 1}',
]


def rate_text(rnd: random.Random, odd: float = 0.3) -> str:
    parts = [f'"negotiated_prices": [{", ".join(["{}"] * rnd.randint(0, 3))}]']
    if rnd.random() < 0.8:
        references = (
            rnd.choice(ODD_REFERENCES)
            if rnd.random() < odd
            else json.dumps(rnd.sample(range(1, 60), rnd.randint(0, 5)))
        )
        parts.append(f'"provider_references": {references}')
    if rnd.random() < 0.3:
        parts.append(f'"provider_groups": [{", ".join(["{}"] * rnd.randint(0, 2))}]')
    rnd.shuffle(parts)
    return "{" + ", ".join(parts) + "}"


@pytest.mark.parametrize("odd", [0.0, 0.3])  # 0: integer lists and "[]" only (numpy path); .3: the general path
def test_batch_counter_matches_the_per_item_rule(odd: float) -> None:
    rnd = random.Random(44320)
    items = [
        f'{{"billing_code": "{n}", "negotiated_rates": '
        f"[{', '.join(rate_text(rnd, odd) for _ in range(rnd.randint(0, 6)))}]}}"
        for n in range(400)
    ]
    text = ("[" + ", ".join(items) + "]").encode()
    batch = FilteredRowCounter()
    batch.add_shapes(ITEMS.decode(text))
    one_by_one = FilteredRowCounter()
    for item in json.loads(text):
        one_by_one.add_item(item)
    table = {key: (key % 4 + 1, 0, 0) for key in range(1, 60)}  # groups per reference id; others count 1
    assert batch.direct == one_by_one.direct
    assert batch.total(table, {7}) == one_by_one.total(table, {7})
    assert batch.total(table, set()) > len(items)


def test_counters_of_separate_batches_add_up() -> None:
    rnd = random.Random(7)
    texts = [
        (
            "[" + ", ".join(f'{{"billing_code": "1", "negotiated_rates": [{rate_text(rnd)}]}}' for _ in range(50)) + "]"
        ).encode()
        for _ in range(4)
    ]
    whole, parts = FilteredRowCounter(), FilteredRowCounter()
    for text in texts:
        whole.add_shapes(ITEMS.decode(text))
        part = FilteredRowCounter()
        part.add_shapes(ITEMS.decode(text))
        parts.absorb(part.compact())
    table = dict.fromkeys(range(1, 60), (2, 0, 0))
    assert parts.total(table, set()) == whole.total(table, set()) and parts.direct == whole.direct
