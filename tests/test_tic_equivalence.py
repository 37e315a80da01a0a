"""The TiC reader's rows are those of the reader before issue 17, whole, in batches and through the store.

The expected tables were not computed by the code under test: ``tests/fixtures/golden/tic_rows/capture.py`` ran
main's reader (commit 5c5bf67, before the batched reader) on the CMS examples and on a small file of the large-payer
shape made by ``shared/bench/gen_tic.py`` (see tests/fixtures/PROVENANCE.md), and wrote its rates, quarantine and
account. Every column is compared, values and types, row by row in order.
"""

from __future__ import annotations

import functools
import gzip
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.accounts import IngestResult
from benchmark.files import sha256_file
from benchmark.ingest.tic import reader as reader_module
from benchmark.ingest.tic.reader import iter_in_network, read_in_network
from benchmark.store.pipeline import ingest

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "golden" / "tic_rows"
BENCH = FIXTURES / "reference" / "bench"
BENCH_CODES = (BENCH / "tiny_codes.txt").read_text().split()
CMS = [
    *sorted((FIXTURES / "reference/tic/v1.6.2").glob("in-network-*.json")),
    *sorted((FIXTURES / "reference/tic/v2").glob("in-network-*.json")),
]
TINY = [BENCH / "innet_pr_last_tiny.json.gz", BENCH / "innet_pr_first_tiny.json.gz"]
CASES = [(path, None) for path in CMS] + [(path, BENCH_CODES) for path in TINY]


def _stem(path: Path) -> str:
    return f"{path.parent.name}__{path.name.split('.')[0]}"


@functools.cache
def _golden(path: Path) -> tuple[pa.Table, pa.Table, dict]:
    """The golden rates, quarantine and account of a file (read once per process; read only)."""
    name = _stem(path)
    return (
        pq.read_table(GOLDEN / f"{name}.rates.parquet"),
        pq.read_table(GOLDEN / f"{name}.quarantine.parquet"),
        json.loads((GOLDEN / f"{name}.account.json").read_text()),
    )


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _assert_same_rows(frame: pd.DataFrame, expected: pa.Table) -> None:
    actual = _table(frame).replace_schema_metadata(None)
    expected = expected.replace_schema_metadata(None)
    assert actual.schema == expected.schema
    assert actual.num_rows == expected.num_rows
    for name in expected.column_names:
        assert actual[name].to_pylist() == expected[name].to_pylist(), name


@functools.cache
def _declared_date(path: Path) -> str:
    """The root's last_updated_on, read with json (the whole file: ~0.25 s for a generated one, so once a process)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)["last_updated_on"]


def _assert_same_account(got, golden: dict, path: Path) -> None:
    """The golden account, plus the date the file declares (added after the golden was captured): the root's
    last_updated_on, read here with json and checked as an ISO calendar date."""
    assert got.file_date == date.fromisoformat(_declared_date(path)).isoformat()
    assert {k: v for k, v in vars(got).items() if k != "file_date"} == golden


def test_the_golden_inputs_are_there():
    assert len(CMS) == 11  # 5 in-network examples of v1.6.2, 6 of v2
    for path, _ in CASES:
        assert (GOLDEN / f"{_stem(path)}.rates.parquet").exists(), path.name


@pytest.mark.parametrize("path,codes", CASES, ids=[_stem(p) for p, _ in CASES])
def test_whole_read_gives_the_rows_of_the_reader_before(path, codes):
    rates, quarantine, account = _golden(path)
    result = read_in_network(path, codes, helpers=False)
    _assert_same_rows(result.rates, rates)
    _assert_same_rows(result.quarantine, quarantine)
    (got,) = result.accounts
    got.check()
    _assert_same_account(got, account, path)


@pytest.mark.parametrize("path,codes", CASES, ids=[_stem(p) for p, _ in CASES])
def test_items_decoded_one_at_a_time_give_the_same_rows(path, codes, monkeypatch):
    """Each kept item in a decode chunk of its own: the price table is moved into columns after every item (text
    dictionary-encoded per chunk, the dictionaries unified at the end), and rows, counts and deduplication stay
    those of the reader before."""
    chunks = reader_module._chunks
    sizes = []

    def one_by_one(elements, size_of, limit=0):
        for chunk in chunks(elements, size_of, 1):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(reader_module, "_chunks", one_by_one)
    rates, quarantine, account = _golden(path)
    batches = list(iter_in_network(path, codes, helpers=False, batch_rows=4000))
    assert sizes and set(sizes) == {1}
    frames = [batch.rates for batch in batches if len(batch.rates)]
    _assert_same_rows(pd.concat(frames, ignore_index=True) if frames else batches[0].rates, rates)
    _assert_same_rows(batches[-1].quarantine, quarantine)
    _assert_same_account(batches[-1].accounts[0], account, path)


# The generated files in batches of 317 rows (~35 batches; batches of 4000 rows are compared with the golden tables
# in the test above and in test_tic_pieces.py: in batches of 4000 here too, they reached no other line or branch).
BATCHED = [(path, None, rows) for path in CMS for rows in (1, 4)] + [(path, BENCH_CODES, 317) for path in TINY]


@functools.cache
def _batches(path: Path, codes: tuple[str, ...] | None, batch_rows: int) -> tuple[IngestResult, ...]:
    """The reader's batches of a file (no helper processes), read once per process: the tests below look at the
    same reads (read only)."""
    return tuple(iter_in_network(path, codes, helpers=False, batch_rows=batch_rows))


@pytest.mark.parametrize("path,codes,batch_rows", BATCHED, ids=[f"{_stem(p)}-{n}" for p, _, n in BATCHED])
def test_batches_together_are_the_rows_of_the_reader_before(path, codes, batch_rows):
    """Batches of one or a few rows give, together, the golden rows, quarantine and account. (These files hold no
    duplicate rows; duplicates whose class is cut across batches are checked in tests/test_tic_dedup.py against a
    row-by-row count.)"""
    rates, quarantine, account = _golden(path)
    batches = _batches(path, None if codes is None else tuple(codes), batch_rows)
    assert all(not batch.accounts for batch in batches[:-1])
    (got,) = batches[-1].accounts
    got.check()
    _assert_same_account(got, account, path)
    frames = [batch.rates for batch in batches if len(batch.rates)]
    _assert_same_rows(pd.concat(frames, ignore_index=True) if frames else batches[0].rates, rates)
    _assert_same_rows(batches[-1].quarantine, quarantine)
    assert all(not len(batch.quarantine) for batch in batches[:-1])


def test_batches_are_bounded_by_the_rows_of_one_negotiated_rate():
    batches = _batches(TINY[0], tuple(BENCH_CODES), 317)
    sizes = [len(batch.rates) for batch in batches]
    assert len(batches) > 5
    assert max(sizes) <= 317 + 3 * 200  # one rate: at most 3 prices x its groups (this file's largest: < 200)


def test_helper_processes_give_the_same_rows():
    path = TINY[0]
    rates, _, account = _golden(path)
    batches = list(iter_in_network(path, BENCH_CODES, helpers=True, batch_rows=2000))
    _assert_same_rows(pd.concat([b.rates for b in batches], ignore_index=True), rates)
    _assert_same_account(batches[-1].accounts[0], account, path)


def test_the_account_hash_is_the_files_sha256():
    """The store identifies a file it did not hash beforehand by the reader's hash: it must be sha256_file's (the
    reads of the batch tests above, gzip and plain JSON)."""
    for path, codes, batch_rows in ((TINY[0], tuple(BENCH_CODES), 317), (CMS[0], None, 1)):
        batches = _batches(path, codes, batch_rows)
        assert batches[-1].accounts[0].source_sha256 == sha256_file(path)


def test_ingest_stores_the_rows_of_the_reader_before(tmp_path):
    """One of the two generated files: they differ in where the root's provider_references sit, which only the
    reader sees (both files are compared with the golden tables above and in test_tic_pieces.py); the store's code
    that runs is the same for both (measured with coverage: the second file adds 3 lines of the reader only)."""
    path = TINY[0]
    rates, _, account = _golden(path)
    run = ingest([path], BENCH_CODES, tmp_path / "store")
    assert run.ok and run.count("loaded") == 1
    stored = run.store.read_rates()
    _assert_same_rows(stored, rates)
    (outcome,) = run.outcomes
    assert outcome.sha256 == sha256_file(path)
    _assert_same_account(outcome.accounts[0], account, path)
    again = ingest([path], BENCH_CODES, tmp_path / "store")  # same bytes, same codes: skipped without reading
    assert again.count("skipped") == 1
    assert len(again.store.read_rates()) == len(rates)
