"""The TiC row builder's fast paths give the rows of its general paths, on a file made to reach both.

Two shortcuts of :class:`benchmark.ingest.tic.rows.RowBuilder` are checked here against the same builder with them
turned off (every price parsed by ``_parse_price`` on its own, every reference id looked up one by one):

* a negotiated price is known by its values other than the amount (its *shape*): a shape key of texts, missing
  values and tuples of texts is remembered with its parsed values or its problem, and reused;
* a rate's integer reference ids are looked up, with the rest of its item's, in one numpy search of the root
  references known by an integer id.

The file mixes what each shortcut must leave to the general path: integer service codes, nested lists, unknown
and misspelled keys, prices that are not objects, bad amounts, unknown types; reference ids that are missing,
duplicated, text, negative, beyond 64 bits, booleans, scalars, empty lists, of an entry without groups; inline
groups beside references. Some expectations are also counted by hand (see the comments).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmark.ingest.tic import reader as reader_module
from benchmark.ingest.tic import rows as rows_module
from benchmark.ingest.tic.reader import iter_in_network, read_in_network

HUGE_ID = 2**70


def _price(rng: random.Random) -> object:
    """One negotiated price: mostly a few repeated shapes (different amounts), sometimes an odd one."""
    shape = rng.choice(
        [
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": ["11", "22"]},
            {"negotiated_type": "negotiated", "billing_class": "institutional", "expiration_date": "9999-12-31"},
            {"negotiated_type": "fee schedule", "billing_class": "Professional", "billing_code_modifier": ["26", "TC"]},
            {"negotiated_type": "percentage", "billing_class": "institutional", "setting": "Inpatient"},
            {"negotiated_type": "per diem", "billing_class": "both", "additional_information": "note"},
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": [11, "02"]},
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": [["11"]]},
            {"negotiated_type": "capitated", "billing_class": "professional"},
            {"negotiated_type": "negotiated", "billing_class": "clinic"},
            {"negotiated_typ": "negotiated", "billing_class": "professional"},
            {"negotiated_type": "negotiated", "billing_class": "professional", "remark": "x"},
            {"negotiated_type": "derived", "billing_class": "professional", "expiration_date": 20251231},
            {"negotiated_type": "negotiated", "billing_class": "professional", "billing_code_modifier": "26"},
            # equal as Python values, not as texts: 1 == 1.0 == True, but "01", "1.0" and "TRUE" as service codes
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": [1]},
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": [1.0]},
            {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": [True]},
            {"negotiated_type": "negotiated", "billing_class": "professional", "expiration_date": 1},
            {"negotiated_type": "negotiated", "billing_class": "professional", "expiration_date": True},
            {"negotiated_type": "negotiated", "billing_class": "professional", "expiration_date": 1.0},
        ]
    )
    if rng.random() < 0.03:
        return "not an object"
    amount = rng.choice([125.5, 80.0, 99.99, 42.0, 250.0])
    if rng.random() < 0.08:
        amount = rng.choice(["12.50", 10, 0, -3.0, None, "abc"])
    return {**shape, "negotiated_rate": amount}


def _references(rng: random.Random, other: int) -> object:
    choice = rng.random()
    if choice < 0.75:
        return rng.sample([1, 2, 3, 4, 6, other, 12], rng.randint(1, 4))
    return rng.choice([[1, 999], [5], [2, 5], ["2"], [HUGE_ID], [True], [], 1, [7], [1, 2.0]])


def _file(seed: int, other: int = -3) -> dict:
    """The file; ``other``: the id of one more reference (-3: ids are looked up in a sorted table, 9: by index)."""
    rng = random.Random(seed)
    items = []
    for index in range(12):
        rates = []
        for _ in range(rng.randint(3, 12)):
            rate: dict = {"negotiated_prices": [_price(rng) for _ in range(rng.randint(1, 4))]}
            if rng.random() < 0.85:
                rate["provider_references"] = _references(rng, other)
            if rng.random() < 0.25 or "provider_references" not in rate:
                rate["provider_groups"] = [
                    {"npi": [1700000000 + rng.randint(0, 3)], "tin": {"type": "ein", "value": "1"}}
                ]
            rates.append(rate)
        items.append(
            {
                "negotiation_arrangement": "ffs",
                "name": f"item {index}",
                "billing_code_type": "CPT",
                "billing_code_type_version": "2024",
                "billing_code": f"{99200 + index % 5}",
                "description": "synthetic sample data — not actual payer rates",
                "negotiated_rates": rates,
            }
        )

    def group(npis: list[int], tin: str) -> dict:
        return {"npi": npis, "tin": {"type": "ein", "value": tin, "business_name": f"Group {tin}"}}

    references = [
        {"provider_group_id": 1, "network_name": ["Open"], "provider_groups": [group([1234567893, 1111111112], "11")]},
        {"provider_group_id": 2, "provider_groups": [group([1999999999], "22"), group([1222222222], "23")]},
        {"provider_group_id": 3, "provider_groups": [group([1234567893], "11")]},  # the values of group 1's
        {"provider_group_id": 4, "network_name": "Choice", "provider_groups": [group([0, 1333333333], "0")]},
        {"provider_group_id": 5, "provider_groups": [group([1444444444], "55")]},
        {"provider_group_id": 5, "provider_groups": [group([1555555555], "56")]},  # a repeated id
        {"provider_group_id": 6, "provider_groups": [group([1666666666], "66")] * 3},
        {"provider_group_id": other, "provider_groups": [group([1777777777], "77")]},
        {"provider_group_id": HUGE_ID, "provider_groups": [group([1888888888], "88")]},
        {"provider_group_id": 7, "provider_groups": []},  # no groups
        {"provider_group_id": 12, "provider_groups": [group([1234567893], "12")]},
    ]
    return {
        "reporting_entity_name": "Synthetic Insurer",
        "reporting_entity_type": "health insurance issuer",
        "plan_name": "Synthetic plan",
        "last_updated_on": "2025-01-01",
        "version": "1.3.1",
        "in_network": items,
        "provider_references": references,
    }


def _general_paths_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No price shape is remembered and no reference id is found through the numpy table; prices and NPIs are
    encoded and joined by Arrow however few they are."""
    monkeypatch.setattr(rows_module, "_remembered_key", lambda key: False)
    monkeypatch.setattr(rows_module, "_FEW_ROWS", -1)
    monkeypatch.setattr(rows_module, "_FEW_NPI_VALUES", -1)
    empty = rows_module._IdTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    monkeypatch.setattr(rows_module._IdTable, "of", staticmethod(lambda span_of_id: empty))


def _one_item_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = reader_module._chunks
    monkeypatch.setattr(reader_module, "_chunks", lambda elements, size_of, limit=0: chunks(elements, size_of, 1))


def _read(path: Path, batch_rows: int | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    batches = list(iter_in_network(path, helpers=False, batch_rows=batch_rows))
    frames = [batch.rates for batch in batches if len(batch.rates)]
    rates = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return rates, batches[-1].quarantine, vars(batches[-1].accounts[0])


def _chunking(monkeypatch: pytest.MonkeyPatch, chunked: bool) -> None:
    """``chunked``: the price table is compacted after every item (shapes not remembered are dropped in between)."""
    if chunked:
        _one_item_per_chunk(monkeypatch)


@pytest.fixture(scope="module")
def general_paths(tmp_path_factory):
    """``general_paths(seed, other, chunked)``: the file's path and its rows, quarantine and account read whole by
    the general paths only (the expected values; each read once for the module, read only)."""
    folder = tmp_path_factory.mktemp("fast-paths")
    read: dict[tuple[int, int, bool], tuple[Path, tuple[pd.DataFrame, pd.DataFrame, dict]]] = {}

    def general(seed: int, other: int, chunked: bool) -> tuple[Path, tuple[pd.DataFrame, pd.DataFrame, dict]]:
        if (seed, other, chunked) not in read:
            path = folder / f"in-network-{seed}-{other}.json"
            if not path.exists():
                path.write_text(json.dumps(_file(seed, other)))
            with pytest.MonkeyPatch.context() as general_only:
                _general_paths_only(general_only)
                _chunking(general_only, chunked)
                read[seed, other, chunked] = path, _read(path, None)
        return read[seed, other, chunked]

    return general


# Every file (4 seeds x sorted/indexed ids) is read by the fast paths whole, in one decode chunk and an item per
# chunk: 16 cases. Batches (batch_rows=7: ~55 batches a file, fewer rows than many a rate has) are cut after the fast
# paths have done their work: RowBuilder.results builds them from the finished price and group tables and the row
# plan (one block per negotiated rate, whichever path read it), and each batch has a fixed cost (~15 ms, mostly
# check_built_rates). So two of the 16 are also read in batches: sorted ids an item per chunk, indexed ids in one
# chunk (each kind of id table and each chunking once); their batches together are compared with the general paths'
# whole read. Measured with coverage (branch mode, benchmark/ingest/tic and schema.py): batching all 16 reaches no
# line or branch that one batched case does not.
_BATCHED = {(-3, True, 1), (9, False, 2)}  # (other, chunked, seed)
_CASES = [
    (other, chunked, seed, batch_rows)
    for other in (-3, 9)
    for chunked in (False, True)
    for seed in range(4)
    for batch_rows in (None, 7)
    if batch_rows is None or (other, chunked, seed) in _BATCHED
]


@pytest.mark.parametrize(
    "other,chunked,seed,batch_rows",
    _CASES,
    ids=[
        f"{'sorted' if other < 0 else 'indexed'}-ids-{'item-per-chunk' if chunked else 'chunk'}-{rows}-{seed}"
        for other, chunked, seed, rows in _CASES
    ],
)
def test_fast_paths_give_the_rows_of_the_general_paths(monkeypatch, general_paths, seed, batch_rows, chunked, other):
    path, slow = general_paths(seed, other, chunked)
    tables = []
    table_of = rows_module._IdTable.of
    monkeypatch.setattr(
        rows_module._IdTable, "of", staticmethod(lambda spans: tables.append(table_of(spans)) or tables[-1])
    )
    _chunking(monkeypatch, chunked)
    found_sets = []
    found = rows_module.RowBuilder._found_references

    def spy(self, rates):
        result = found(self, rates)
        found_sets.append(result is not None and any(entry is not None for entry in result))
        return result

    monkeypatch.setattr(rows_module.RowBuilder, "_found_references", spy)
    fast = _read(path, batch_rows)
    assert any(found_sets) and not all(found_sets)  # both ways of looking references up were taken
    assert tables and all((table.row_of is None) == (other < 0) for table in tables)
    pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
    assert list(fast[0].dtypes.astype(str)) == list(slow[0].dtypes.astype(str))
    pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    assert fast[2] == slow[2]
    account = fast[2]
    assert account["rows_seen"] == (
        account["rows_loaded"]
        + account["rows_quarantined"]
        + account["rows_filtered_out"]
        + account["rows_deduplicated"]
    )
    assert account["rows_quarantined"] > 0 and account["rows_loaded"] > 0


def test_a_small_file_counted_by_hand(tmp_path):
    """Two items; the rows and locators written out by hand."""
    document = _file(0)
    document["in_network"] = [
        {
            "billing_code_type": "CPT",
            "billing_code": "99213",
            "negotiated_rates": [
                {  # 2 prices of one shape (remembered) x reference 2's two groups: 4 rows
                    "provider_references": [2],
                    "negotiated_prices": [
                        {"negotiated_type": "negotiated", "billing_class": "professional", "negotiated_rate": 10.0},
                        {"negotiated_type": "negotiated", "billing_class": "professional", "negotiated_rate": 20.0},
                    ],
                },
                {  # reference 5 is repeated in the root: 1 row quarantined
                    "provider_references": [5],
                    "negotiated_prices": [
                        {"negotiated_type": "percentage", "billing_class": "professional", "negotiated_rate": 80.0}
                    ],
                },
            ],
        },
        {
            "billing_code_type": "CPT",
            "billing_code": "99214",
            "negotiated_rates": [
                {  # the same shape again, then a percentage (no dollar amount): 2 prices x reference -3: 2 rows
                    "provider_references": [-3],
                    "negotiated_prices": [
                        {"negotiated_type": "negotiated", "billing_class": "professional", "negotiated_rate": 30.0},
                        {"negotiated_type": "percentage", "billing_class": "professional", "negotiated_rate": 80.0},
                    ],
                }
            ],
        },
    ]
    path = tmp_path / "small.json"
    path.write_text(json.dumps(document))
    result = read_in_network(path, helpers=False)
    rates = result.rates
    assert list(rates["source_locator"]) == [
        "in_network[0].negotiated_rates[0].negotiated_prices[0].provider_references[0]->provider_group_id=2"
        ".provider_groups[0]",
        "in_network[0].negotiated_rates[0].negotiated_prices[0].provider_references[0]->provider_group_id=2"
        ".provider_groups[1]",
        "in_network[0].negotiated_rates[0].negotiated_prices[1].provider_references[0]->provider_group_id=2"
        ".provider_groups[0]",
        "in_network[0].negotiated_rates[0].negotiated_prices[1].provider_references[0]->provider_group_id=2"
        ".provider_groups[1]",
        "in_network[1].negotiated_rates[0].negotiated_prices[0].provider_references[0]->provider_group_id=-3"
        ".provider_groups[0]",
        "in_network[1].negotiated_rates[0].negotiated_prices[1].provider_references[0]->provider_group_id=-3"
        ".provider_groups[0]",
    ]
    assert list(rates["amount"]) == [10.0, 10.0, 20.0, 20.0, 30.0, 80.0]
    assert rates["amount_usd"].tolist()[:5] == [10.0, 10.0, 20.0, 20.0, 30.0]
    assert np.isnan(rates["amount_usd"].iloc[5])
    assert list(rates["rate_type"]) == ["negotiated"] * 5 + ["percentage"]
    assert list(rates["amount_unit"]) == ["USD"] * 5 + ["percent"]
    assert list(rates["billing_code"]) == ["99213"] * 4 + ["99214"] * 2
    assert list(rates["provider_tin"]) == ["22", "23", "22", "23", "77", "77"]
    assert list(result.quarantine["reason_code"]) == ["provider_reference_duplicate"]
    assert list(result.quarantine["source_locator"]) == [
        "in_network[0].negotiated_rates[1].negotiated_prices[0].provider_references[0]->provider_group_id=5"
    ]
    (account,) = result.accounts
    assert (account.rows_seen, account.rows_loaded, account.rows_quarantined) == (7, 6, 1)


def test_npi_texts_of_a_few_groups_are_those_arrow_gives_many(monkeypatch):
    """The NPI texts of a few provider groups are joined in Python, of many with Arrow: the same texts (distinct
    NPIs sorted as text, the placeholder 0 dropped, none for an empty list or no ``npi`` key)."""
    by_hand = ("17,5,17;;0;0,5", 4, ["17|5", None, None, "5"])
    rng = random.Random(7)
    values = [
        ",".join(str(rng.choice([0, 5, 17, 1234567893, 1111111112, 2**70])) for _ in range(rng.randint(0, 4)))
        for _ in range(200)
    ]
    few = [rows_module._npi_texts(value, 1)[0] for value in values]
    assert rows_module._npi_texts(*by_hand[:2]) == by_hand[2]
    monkeypatch.setattr(rows_module, "_FEW_NPI_VALUES", 0)  # Arrow whatever the count
    assert rows_module._npi_texts(*by_hand[:2]) == by_hand[2]
    assert rows_module._npi_texts(";".join(values), len(values)) == few
    assert rows_module._npi_texts("", 0) == []


def test_a_few_texts_are_dictionary_encoded_as_arrow_encodes_them():
    """_encoded_few gives the dictionary array Arrow's dictionary_encode and take give (values, dictionary order,
    missing values as null indices), with and without missing values."""
    rng = random.Random(3)
    for values in [("b", "a", None, "b"), ("x",), ("a", "b")] + [
        tuple(rng.choice(["p", "q", "r", None, "é"]) for _ in range(rng.randint(1, 9))) for _ in range(50)
    ]:
        inverse = np.array([rng.randrange(len(values)) for _ in range(20)] + list(range(len(values))))
        encoded = pc.dictionary_encode(pa.array(values, pa.large_string()))
        expected = pa.DictionaryArray.from_arrays(
            pc.take(encoded.indices, pa.array(inverse.astype(np.int32))), encoded.dictionary
        )
        assert rows_module._encoded_few(values, inverse).equals(expected)
    assert rows_module._encoded_few(("b", "a", None, "b"), np.array([3, 2, 1])).to_pylist() == ["b", None, "a"]
