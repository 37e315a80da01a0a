"""The TiC reader's helper processes (inflater + batch scanner) give exactly the single-process result.

Small chunks make even small files produce many batches, so the scanner helper takes some of them while the main
process scans others; results must be applied in file order, and a batch cut at a false separator must be read
again exactly. Expected row counts come from a full ``json`` parse of the same document (``expected_rows``).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from test_ingest_tic import expected_rows, synthetic_file

from benchmark.accounts import IngestResult
from benchmark.ingest.tic import workers as tic_workers
from benchmark.ingest.tic.reader import TicFileError, iter_in_network, read_in_network
from benchmark.ingest.tic.rows import RowBuilder
from benchmark.sources.limits import Limits

HELPER_CHUNKS = Limits(chunk_bytes=3001, queue_chunks=2)  # ~100 batches for a 300 KB file
WANTED = ["10003", "10011"]


@pytest.fixture(scope="module", autouse=True)
def _helpers_stopped_after_the_module():
    """The helper processes are started by the first read that asks for them and reused by the next reads, as in a
    long-lived process (a start waits for the helpers' imports: ~0.1-0.4 s); a read that fails stops them and the
    next one starts new ones (test_bad_files_fail_the_same_way_and_the_helpers_recover). Stopped after the module."""
    yield
    tic_workers.shutdown()


@pytest.fixture()
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sequence numbers of the batches the scanner helper accepted during the test."""
    accepted: list[int] = []
    original = tic_workers.BatchScanner.submit

    def submit(self, seq, region, separator):
        ok = original(self, seq, region, separator)
        if ok:
            accepted.append(seq)
        return ok

    monkeypatch.setattr(tic_workers.BatchScanner, "submit", submit)
    return accepted


def write_gz(path: Path, document: dict) -> Path:
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    return path


def assert_same(helped, alone) -> None:
    pd.testing.assert_frame_equal(helped.rates, alone.rates)
    pd.testing.assert_frame_equal(helped.quarantine, alone.quarantine)
    assert helped.accounts == alone.accounts


@pytest.mark.parametrize("references_first", [True, False])
def test_helpers_give_the_single_process_result(tmp_path: Path, submitted: list[int], references_first: bool) -> None:
    document = synthetic_file(11, items=400, references_first=references_first)
    path = write_gz(tmp_path / "synthetic.json.gz", document)
    kept, filtered = expected_rows(document, set(WANTED))
    alone = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=False, deduplicate=False)
    assert not submitted
    helped = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=True, deduplicate=False)
    assert len(submitted) > 10  # the scanner helper really scanned batches
    assert_same(helped, alone)
    account = helped.accounts[0]
    assert account.rows_filtered_out == filtered and account.rows_loaded + account.rows_quarantined == kept
    assert account.source_sha256 == alone.accounts[0].source_sha256  # hashed by the inflater helper


def test_false_separators_inside_items_are_read_exactly(tmp_path: Path, submitted: list[int]) -> None:
    document = synthetic_file(5, items=300)
    for index, item in enumerate(document["in_network"]):  # nested objects that start like an item: false cuts
        item["history"] = [{"negotiation_arrangement": "ffs", "note": f"version {n}"} for n in range(index % 4 + 2)]
    path = write_gz(tmp_path / "nested.json.gz", document)
    kept, filtered = expected_rows(document, set(WANTED))
    alone = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=False)
    helped = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=True)
    assert submitted
    assert_same(helped, alone)
    assert helped.accounts[0].rows_filtered_out == filtered
    everything = read_in_network(path, limits=HELPER_CHUNKS, helpers=True, deduplicate=False)
    assert everything.accounts[0].rows_seen == kept + filtered


def test_bad_files_fail_the_same_way_and_the_helpers_recover(tmp_path: Path, submitted: list[int]) -> None:
    document = synthetic_file(3, items=300)
    text = json.dumps(document).encode()
    key = b'"negotiated_rates"'
    middle = len(text) // 2 + text[len(text) // 2 :].index(key)  # an error deep in the file: "key";
    broken = text[:middle] + key + b";" + text[middle + len(key) :]
    broken_path = tmp_path / "syntax.json.gz"
    broken_path.write_bytes(gzip.compress(broken))
    messages = []
    for helpers in (False, True):
        with pytest.raises(TicFileError) as raised:
            read_in_network(broken_path, WANTED, limits=HELPER_CHUNKS, helpers=helpers)
        messages.append(re.sub(r"\([\d,]+ bytes read so far; ", "(", str(raised.value)))  # read-ahead differs
    assert messages[0] == messages[1] and f"at byte {middle + len(key):,} (line 1, column" in messages[0]
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(text)[: len(gzip.compress(text)) // 2])
    with pytest.raises(TicFileError, match="truncated"):
        read_in_network(truncated, WANTED, limits=HELPER_CHUNKS, helpers=True)
    good = write_gz(tmp_path / "good.json.gz", document)  # the helpers serve the next read normally
    assert_same(
        read_in_network(good, WANTED, limits=HELPER_CHUNKS, helpers=True),
        read_in_network(good, WANTED, limits=HELPER_CHUNKS, helpers=False),
    )


def test_helpers_are_used_only_for_large_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYBENCH_TIC_HELPERS", raising=False)
    assert not tic_workers.helpers_wanted(1 << 20, None)
    assert not tic_workers.helpers_wanted(None, None)  # unknown size (a URL)
    assert tic_workers.helpers_wanted(1 << 30, True) and not tic_workers.helpers_wanted(1 << 30, False)
    monkeypatch.setenv("PAYBENCH_TIC_HELPERS", "0")
    assert not tic_workers.helpers_wanted(1 << 30, None)


@pytest.mark.parametrize("helpers", [False, True])
def test_text_that_is_not_utf8_is_rejected_even_in_skipped_items(
    tmp_path: Path, submitted: list[int], helpers: bool
) -> None:
    document = synthetic_file(9, items=200)
    text = json.dumps(document, ensure_ascii=False).encode()
    at = text.index(b'"name": "n"', len(text) // 2) + len(b'"name": "')  # an item far from the start...
    code = re.search(rb'"billing_code": "(\d+)"', text[at:]).group(1).decode()
    assert code not in WANTED  # ...that the code filter skips
    latin1 = text[:at] + "Clínica".encode("latin-1") + text[at + 1 :]  # é as one Latin-1 byte: not UTF-8
    path = tmp_path / "latin1.json.gz"
    path.write_bytes(gzip.compress(latin1))
    with pytest.raises(TicFileError, match=rf"not UTF-8 .*at byte {at + 2:,} \(line 1, column {at + 3:,}\)"):
        read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=helpers)
    accented = tmp_path / "utf8.json.gz"  # the same text in UTF-8 reads fine
    accented.write_bytes(gzip.compress(text[:at] + "Clínica".encode() + text[at + 1 :]))
    assert read_in_network(accented, WANTED, limits=HELPER_CHUNKS, helpers=helpers).accounts[0].rows_loaded > 0


def test_helpers_are_stopped_before_a_large_build(
    tmp_path: Path, submitted: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read in batches whose kept items hold more prices than a batch has rows: the helpers are given back and
    stopped when the scan ends, before the kept items are decoded into rows, whose values do not change."""
    document = synthetic_file(12, items=200)
    path = write_gz(tmp_path / "synthetic.json.gz", document)
    alone = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=False)
    alive_while_building: list[bool] = []
    read_item = RowBuilder.read_item

    def spy(self, index, item):
        alive_while_building.append("scanner" in tic_workers._STATE and tic_workers._alive())
        return read_item(self, index, item)

    monkeypatch.setattr(RowBuilder, "read_item", spy)
    helped = read_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=True)
    assert submitted and alive_while_building and all(alive_while_building)  # one batch: the helpers stay up
    assert helped.accounts[0].rows_loaded > 100
    alive_while_building.clear()
    # batches of 100 rows: fewer than the kept items' ~150 prices (and ~640 rows), so the helpers are stopped, in ~7
    # batches (each batch has a fixed cost of ~15 ms; batches of 10 rows made ~50 of them and reached no other code)
    batches = list(iter_in_network(path, WANTED, limits=HELPER_CHUNKS, helpers=True, batch_rows=100))
    assert alive_while_building and not any(alive_while_building)
    assert len(batches) > 2
    assert_same(helped, alone)
    assert_same(IngestResult.combine(batches), alone)


def test_a_helper_that_cannot_start_leaves_no_process_and_no_shared_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner helper fails to start after the inflater started: acquire gives no helpers (the read goes on in one
    process) and leaves nothing behind: the inflater is stopped, neither helper's shared memory stays in /dev/shm."""
    tic_workers.shutdown()
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        if started:
            raise OSError("cannot start the second helper")
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    shm_before = set(os.listdir("/dev/shm"))
    monkeypatch.setattr(tic_workers.subprocess, "Popen", popen)
    assert tic_workers.acquire(Limits()) is None
    assert len(started) == 1 and started[0].poll() is not None  # the inflater was stopped
    assert set(os.listdir("/dev/shm")) <= shm_before
    monkeypatch.setattr(tic_workers.subprocess, "Popen", real_popen)
    with tic_workers.acquire(Limits()) as lease:  # the next read starts both
        assert lease.inflater.alive() and lease.scanner.alive()
