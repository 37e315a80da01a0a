"""The rate store: round trip, layout, manifest, idempotent and incremental ingest, crash safety, DuckDB queries.

The oracle everywhere is the in-memory path on the same files (``store_pipeline.ingest(..., out_dir=None)``,
``benchmark_table`` on the files): the store must give back exactly what reading the files gives.
"""

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import benchmark as bm
from benchmark import cli, config
from benchmark.accounts import FileAccount, IngestResult
from benchmark.analysis import benchmark_sql, rates, stats
from benchmark.ingest import routing as pipeline
from benchmark.ingest.tic.reader import read_in_network
from benchmark.reporting.report import CodeReport, ReportParams
from benchmark.store import pipeline as store_pipeline
from benchmark.store import rate_store as st
from benchmark.store import staging as output

SAMPLE = [config.SAMPLE_TIC_DIR, config.SAMPLE_HOSPITAL_DIR]
RUN_COLUMNS = ["part_id", "ingested_at", "run_id", "engine"]


@pytest.fixture(scope="module")
def sample_files():
    return pipeline.expand_sources(SAMPLE)


@pytest.fixture(scope="module")
def in_memory():
    return store_pipeline.ingest(SAMPLE, None, None)


def _part_files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*.parquet") if p.name != st.MANIFEST)


def _manifest_without_run_columns(root):
    return st.open_store(root).manifest().drop(columns=RUN_COLUMNS).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------- round trip
def test_store_gives_back_exactly_what_the_files_give(sample_store, in_memory):
    store = st.open_store(sample_store)
    pd.testing.assert_frame_equal(store.read_rates(), in_memory.result.rates)  # same rows, same order, same types
    pd.testing.assert_frame_equal(store.read_quarantine(), in_memory.result.quarantine)
    pd.testing.assert_frame_equal(store.accounts(), in_memory.result.accounts_frame())
    one_code = in_memory.result.rates[in_memory.result.rates["billing_code"].eq("44320")].reset_index(drop=True)
    pd.testing.assert_frame_equal(store.read_rates(["44320"]), one_code)
    assert store.is_synthetic and store.read_rates()["is_synthetic"].all()  # sample files are always synthetic


def test_manifest_records_each_file_checked_independently(sample_store, sample_files):
    manifest = st.open_store(sample_store).manifest()
    assert list(manifest["source_path"]) == [str(p.resolve()) for p in sample_files]
    assert list(manifest["seq"]) == list(range(14))
    con = duckdb.connect()
    for row, path in zip(manifest.itertuples(), sample_files):
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row.size_bytes == path.stat().st_size
        assert (row.status, row.codes, row.schema_version) == ("loaded", "*", st.schema_version())
        # rows of this file counted straight from the Parquet parts with DuckDB, not through the store's reader
        stored = con.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE _part = ?",
            [str(sample_store / "rates" / "**" / "*.parquet"), row.part_id],
        ).fetchone()[0]
        assert stored == row.rows_loaded > 0
        assert row.rows_seen == (row.rows_loaded + row.rows_quarantined + row.rows_filtered_out + row.rows_deduplicated)


def test_parts_are_partitioned_by_source_payer_and_code_prefix_and_sorted(sample_store):
    parts = list((sample_store / "rates").rglob("*.parquet"))
    assert {p.parts[-4] for p in parts} == {"source_type=tic", "source_type=hospital"}
    every = st.open_store(sample_store).read_rates()
    seen = set()
    for path in parts:
        table = pq.read_table(path).to_pandas()  # a part file alone: partition values are in its path only
        assert "source_type" not in table and "payer_family" not in table
        source_type, family, prefix = (path.parts[-4 + i].split("=", 1)[1] for i in range(3))
        assert table["billing_code"].str[:3].eq(prefix).all()
        assert table["billing_code"].is_monotonic_increasing
        assert st.PART_FILE.match(path.name)
        seen.add((source_type, family, prefix))
    expected = set(zip(every["source_type"], every["payer_family"], every["billing_code"].str[:3]))
    assert seen == expected and len(expected) > 8
    assert sum(len(pq.read_metadata(p).schema.names) and pq.read_metadata(p).num_rows for p in parts) == len(every)
    # standard Hive layout: pyarrow reads the whole folder as a dataset
    assert pq.read_table(sample_store / "rates").num_rows == len(every)
    pruned = st.open_store(sample_store).part_files(["44320"])
    assert pruned and all("/code_prefix=443/" in f for f in pruned)
    assert len(pruned) < len(parts)


@pytest.fixture(scope="module")
def tiny_rates():
    """One TiC file's rates over many code prefixes (a small file of the large-payer shape, tests/fixtures)."""
    bench = Path(__file__).parent / "fixtures" / "reference" / "bench"
    codes = (bench / "tiny_codes.txt").read_text().split()
    return read_in_network(bench / "innet_pr_last_tiny.json.gz", codes, helpers=False).rates


def _written(folder):
    """Every Parquet file under ``folder``: its relative path -> (schema with metadata, table, row groups)."""
    found = {}
    for path in sorted(folder.rglob("*.parquet")):
        table = pq.read_table(path)
        found[str(path.relative_to(folder))] = (table.schema, table, pq.read_metadata(path).num_row_groups)
    return found


def _same_files(found: dict, expected: dict) -> None:
    """The files of :func:`_written` are the same: names, schemas with metadata, rows in order (compared by Arrow,
    value by value, as their ``to_pylist()`` lists would be) and row groups."""
    assert found.keys() == expected.keys()
    for name, (schema, table, row_groups) in expected.items():
        assert found[name][0].equals(schema, check_metadata=True), name
        assert found[name][1].equals(table), name
        assert found[name][2] == row_groups, name


@pytest.mark.parametrize("split", [False, True])
def test_staged_parts_are_the_files_write_dataset_writes(tmp_path, tiny_rates, monkeypatch, split):
    """write_parts writes each partition's run of rows with pq.write_table when the partitions are runs of the sorted
    rows; the files (paths, schema, rows in order, row groups) are those ds.write_dataset writes. With ``split``, a
    partition is in two runs (two payer families sharing code prefixes): write_dataset writes it, as before."""
    rates = tiny_rates
    if split:
        rates = rates.assign(payer_family=["Aetna" if i % 2 else "Cigna" for i in range(len(rates))])
    chunk = IngestResult(rates=rates, quarantine=pd.DataFrame(), accounts=[])
    used = []
    write_runs = output._write_runs
    monkeypatch.setattr(output, "_write_runs", lambda *args: used.append(write_runs(*args)) or used[-1])
    ours = output.write_parts(chunk, tmp_path / "ours", "0123456789abcdef-01234567", 3, 10, 5)
    assert used == [not split]
    monkeypatch.setattr(output, "_write_runs", lambda *args: False)
    theirs = output.write_parts(chunk, tmp_path / "theirs", "0123456789abcdef-01234567", 3, 10, 5)
    assert [p.relative_to(tmp_path / "ours") for p in ours] == [p.relative_to(tmp_path / "theirs") for p in theirs]
    assert len(ours) > 10
    _same_files(_written(tmp_path / "ours"), _written(tmp_path / "theirs"))


@pytest.mark.parametrize("max_runs", [4096, 3])
def test_chunks_are_sorted_by_code_as_a_stable_sort_sorts_them(tiny_rates, monkeypatch, max_runs):
    """Runs of equal codes put in code order give the rows of a stable sort (with few runs allowed: the row sort)."""
    monkeypatch.setattr(output, "_MAX_RUNS", max_runs)
    table = pa.Table.from_pandas(tiny_rates, preserve_index=False)
    blocks = [table.slice(start, 700) for start in range(0, table.num_rows, 700)]
    mixed = pa.concat_tables(blocks[1::2] + blocks[::2])  # runs of one code cut and interleaved
    mixed = mixed.append_column(st.ROW_COLUMN, pa.array(range(mixed.num_rows), pa.int64()))
    expected = pa.Table.from_pylist(  # a stable sort computed in Python: code, then position
        sorted(mixed.to_pylist(), key=lambda row: (row["billing_code"], row[st.ROW_COLUMN])), schema=mixed.schema
    )
    found = output._sorted_by_code(mixed)
    assert found.equals(expected)
    assert found[st.ROW_COLUMN].to_pylist() != list(range(mixed.num_rows))  # it did reorder


def test_code_prefixes_once_per_distinct_code_are_the_prefixes_row_by_row():
    codes = pd.Series(["44320", "44320", " 99213", "0001A", "J1234", "0001A", "", "ab-c"], dtype="str")
    expected = [st.code_prefix(code, 3) for code in codes]
    assert output._code_prefixes(codes, 3).to_pylist() == expected == st.code_prefixes(codes, 3).tolist()
    with_missing = pd.Series(["44320", None, "99213"], dtype="str")
    assert output._code_prefixes(with_missing, 3).to_pylist() == st.code_prefixes(with_missing, 3).tolist()


def test_write_runs_refuses_a_split_partition(tmp_path, tiny_rates):
    table = pa.Table.from_pandas(tiny_rates, preserve_index=False).sort_by("billing_code")
    prefixes = pa.array(st.code_prefixes(table["billing_code"].to_pandas(), 3), pa.string())
    table = table.append_column("code_prefix", prefixes)
    assert output._write_runs(table, tmp_path / "runs", "stem")
    families = pa.array(["Aetna" if i % 2 else "Cigna" for i in range(table.num_rows)], pa.string())
    table = table.set_column(table.schema.get_field_index("payer_family"), "payer_family", families)
    assert not output._write_runs(table, tmp_path / "split", "stem")
    assert not (tmp_path / "split").exists()  # nothing written


def _loaded_account(rows):
    return FileAccount("innet_pr_last_tiny.json.gz", "0" * 64, rows_seen=rows, rows_loaded=rows)


def _chunked_reader(rates, account, sizes, seen):
    """A reader giving ``rates`` in chunks of ``sizes`` rows (the account with the last), noting in ``seen`` when
    each chunk is asked for and which writes had ended by then."""

    def reader(path, codes, *, is_synthetic=False):
        start = 0
        for number, size in enumerate(sizes):
            seen.append(("asked", number))
            last = number == len(sizes) - 1
            part = rates.iloc[start : start + size].reset_index(drop=True)
            yield IngestResult(rates=part, quarantine=pd.DataFrame(), accounts=[account] if last else [])
            start += size

    return reader


def test_chunks_are_written_in_a_thread_in_order_one_at_a_time(tmp_path, tiny_rates, monkeypatch):
    """stage_file writes each chunk while the reader builds the next: the files are those of write_parts called in
    turn on the same chunks; writes never overlap, and a chunk is asked for only once the write before the previous
    one has ended (at most two chunks held)."""
    sizes = [700, 1, 2500, len(tiny_rates) - 3201]
    account = _loaded_account(len(tiny_rates))
    seen: list = []
    write_parts = output.write_parts
    running = []

    def noted(chunk, folder, part_id, number, *args):
        running.append(number)
        assert len(running) == 1  # one write at a time
        found = write_parts(chunk, folder, part_id, number, *args)
        seen.append(("written", number))
        running.remove(number)
        return found

    monkeypatch.setattr(output, "write_parts", noted)
    source = tmp_path / "innet_pr_last_tiny.json.gz"
    source.write_bytes(b"not read: the reader below gives the rows")
    task = output.FileTask(
        str(source), None, str(tmp_path / "staging"), reader=_chunked_reader(tiny_rates, account, sizes, seen)
    )
    outcome = output.stage_file(task, {})
    assert outcome.status == "loaded" and outcome.rates_written == len(tiny_rates)
    assert [event for event in seen if event[0] == "written"] == [("written", n) for n in range(4)]
    for number in range(2, 4):  # chunk n is asked for after chunk n - 2 was written
        assert seen.index(("written", number - 2)) < seen.index(("asked", number))
    expected = tmp_path / "expected"
    start = 0
    for number, size in enumerate(sizes):
        chunk = IngestResult(
            rates=tiny_rates.iloc[start : start + size].reset_index(drop=True), quarantine=pd.DataFrame()
        )
        write_parts(chunk, expected, outcome.part_id, number, start, 0)
        start += size
    found = _written(Path(outcome.staged))
    assert len(found) > 4
    _same_files(found, _written(expected))


def test_a_failed_chunk_write_fails_the_file(tmp_path, tiny_rates, monkeypatch):
    """An error of the writing thread is raised by stage_file (the engine then retries the file); no later chunk
    is written after it."""
    account = _loaded_account(len(tiny_rates))
    seen: list = []
    write_parts = output.write_parts

    def failing(chunk, folder, part_id, number, *args):
        if number == 1:
            raise OSError("disk full")
        seen.append(("written", number))
        return write_parts(chunk, folder, part_id, number, *args)

    monkeypatch.setattr(output, "write_parts", failing)
    source = tmp_path / "innet_pr_last_tiny.json.gz"
    source.write_bytes(b"not read")
    sizes = [1000, 1000, 1000, len(tiny_rates) - 3000]
    reader = _chunked_reader(tiny_rates, account, sizes, seen)
    with pytest.raises(OSError, match="disk full"):
        output.stage_file(output.FileTask(str(source), None, str(tmp_path / "staging"), reader=reader), {})
    assert [event for event in seen if event[0] == "written"] == [("written", 0)]


# --------------------------------------------------------------------------------------------------- idempotent
def test_the_same_file_twice_adds_nothing(tmp_path, sample_files):
    root = tmp_path / "s"
    store_pipeline.ingest(sample_files[:3], ["44320"], root)
    before_manifest, before_parts = st.open_store(root).manifest(), _part_files(root)
    again = store_pipeline.ingest(sample_files[:3], ["44320"], root)
    assert again.count("skipped") == 3 and again.count("loaded") == 0 and again.ok
    copy = tmp_path / "renamed-copy.json.gz"  # the same bytes under another name and path
    shutil.copy(sample_files[0], copy)
    assert store_pipeline.ingest([copy], ["44320"], root).count("skipped") == 1
    pd.testing.assert_frame_equal(st.open_store(root).manifest(), before_manifest)
    assert _part_files(root) == before_parts


def test_incremental_ingest_reads_only_new_files_and_ends_where_one_run_ends(tmp_path, sample_files, in_memory):
    root = tmp_path / "s"
    first = store_pipeline.ingest(sample_files[:5], None, root)
    second = store_pipeline.ingest(sample_files, None, root)
    assert first.count("loaded") == 5 and second.count("loaded") == 9 and second.count("skipped") == 5
    assert [len(o.accounts) for o in second.outcomes if o.status == "skipped"] == [0] * 5  # not read again
    pd.testing.assert_frame_equal(st.open_store(root).read_rates(), in_memory.result.rates)


def test_a_wider_code_filter_rereads_and_replaces_the_file(tmp_path, sample_files):
    root = tmp_path / "s"
    store_pipeline.ingest(sample_files[:2], ["44320"], root)
    old_parts = set(st.open_store(root).manifest()["part_id"])
    wider = store_pipeline.ingest(sample_files[:2], ["44310"], root)
    assert wider.commit.replaced == 2
    store = st.open_store(root)
    assert list(store.manifest()["codes"]) == ["44310|44320"] * 2
    assert not old_parts & {p.name.rsplit("-", 1)[0] for p in (root / "rates").rglob("*.parquet")}  # old deleted
    both = store_pipeline.ingest(sample_files[:2], ["44310", "44320"], None).result.rates
    pd.testing.assert_frame_equal(store.read_rates(), both)  # each row once
    assert store_pipeline.ingest(sample_files[:2], ["44310"], root).count("skipped") == 2  # now covered
    assert store.coverage_gaps(["44320"]) == []
    gap = store.coverage_gaps(["44320", "99213"])
    assert len(gap) == 2 and "99213 not read" in gap[0].reason


# --------------------------------------------------------------------------------------------------- bad files
def test_rejected_files_are_recorded_and_retried(tmp_path, sample_files, capsys):
    root = tmp_path / "s"
    bad = tmp_path / "expired.json.gz"
    bad.write_bytes(b"<html>Request has expired</html>")
    assert cli.main(["ingest", str(sample_files[0]), str(bad), "--codes", "44320", "--out", str(root)]) == 1
    captured = capsys.readouterr()
    assert "REJECTED" in captured.err and "expired.json.gz" in captured.err
    assert "1 read into the store, 0 already in it, 1 rejected, 0 failed" in captured.out
    manifest = st.open_store(root).manifest().set_index("source_file")
    assert manifest.loc["expired.json.gz", "status"] == "rejected"
    assert "neither a TiC in-network JSON nor a hospital" in manifest.loc["expired.json.gz", "reason"]
    assert pd.isna(manifest.loc["expired.json.gz", "part_id"])
    # the publisher fixes the file at the same path: the next run loads it and the rejection is gone
    shutil.copy(sample_files[1], bad)
    assert cli.main(["ingest", str(sample_files[0]), str(bad), "--codes", "44320", "--out", str(root)]) == 0
    assert "1 read into the store, 1 already in it, 0 rejected" in capsys.readouterr().out
    manifest = st.open_store(root).manifest()
    assert list(manifest["status"]) == ["loaded", "loaded"] and st.open_store(root).rejected() == []


def test_a_file_whose_reader_raises_is_marked_failed_and_the_rest_completes(tmp_path, sample_files):
    def flaky(path, codes, *, is_synthetic=False):
        if path.name == sample_files[1].name:
            raise OSError("disk read error")
        return pipeline.read_file(path, codes, is_synthetic=is_synthetic)

    root = tmp_path / "s"
    run = store_pipeline.ingest(sample_files[:3], ["44320"], root, reader=flaky, retries=1)
    assert [o.status for o in run.outcomes] == ["loaded", "failed", "loaded"] and not run.ok
    manifest = st.open_store(root).manifest()
    assert manifest.loc[1, "reason"] == "OSError: disk read error (after 2 attempts)"
    rerun = store_pipeline.ingest(sample_files[:3], ["44320"], root)
    assert [o.status for o in rerun.outcomes] == ["skipped", "loaded", "skipped"]
    expected = store_pipeline.ingest(sample_files[:3], ["44320"], None).result.rates
    order = [0, 2, 1]  # the failed file was committed last, so its rows come last
    expected = pd.concat([expected[expected["source_file"].eq(sample_files[i].name)] for i in order], ignore_index=True)
    pd.testing.assert_frame_equal(st.open_store(root).read_rates(), expected)


def test_uncommitted_parts_are_invisible_and_vacuumed(tmp_path, sample_files):
    root = tmp_path / "s"
    store_pipeline.ingest(sample_files[:1], ["44320"], root)
    store = st.open_store(root)
    before = store.read_rates()
    # a run that staged a file and died before its commit, and a part moved in by a commit that never finished
    dead_run = root / st.STAGING_DIR / "dead-run"
    dead_run.mkdir(parents=True)
    staged = output.stage_file(output.FileTask(str(sample_files[1]), ("44320",), str(dead_run)), {})
    assert staged.status == "loaded" and staged.rates_written > 0
    orphan = next(iter((root / "rates").rglob("*.parquet")))
    orphan_copy = orphan.with_name("0123456789abcdef-00000000-00000-0.parquet")
    table = pq.read_table(orphan)
    fake_part = pa.array(["0123456789abcdef-00000000"] * table.num_rows)
    pq.write_table(table.set_column(table.schema.get_field_index("_part"), "_part", fake_part), orphan_copy)
    pd.testing.assert_frame_equal(store.read_rates(), before)
    removed = store.vacuum()
    assert dead_run in removed and orphan_copy in removed and not dead_run.exists() and orphan.exists()
    pd.testing.assert_frame_equal(store.read_rates(), before)


def test_an_existing_folder_that_is_not_a_store_is_refused(tmp_path, capsys):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "rates.parquet").write_bytes(b"x")
    with pytest.raises(st.StoreError, match="not an empty folder or a rate store"):
        st.open_store(tmp_path / "old", create=True)
    with pytest.raises(st.StoreError, match="not a rate store"):
        st.open_store(tmp_path / "nothing")
    assert not st.is_store(tmp_path / "old")


def test_parts_written_before_a_column_was_added_read_back_empty(tmp_path, sample_files):
    root = tmp_path / "s"
    store_pipeline.ingest(sample_files[:1], ["44320"], root)
    expected = st.open_store(root).read_rates()
    changed = 0
    for path in root.rglob("*.parquet"):  # as if network_name had been added to the schema later
        table = pq.read_table(path)
        if "network_name" in table.column_names:  # a wide part, or a tidy TiC part's groups table
            pq.write_table(table.drop_columns(["network_name"]), path)
            changed += 1
    assert changed and not any("network_name" in pq.read_schema(p).names for p in root.rglob("*.parquet"))
    back = st.open_store(root).read_rates()
    assert back["network_name"].isna().all()
    pd.testing.assert_frame_equal(back.drop(columns="network_name"), expected.drop(columns="network_name"))


def test_the_manifest_keeps_the_date_each_file_declares(tmp_path):
    example = (
        config.PROJECT_ROOT / "tests/fixtures/cms_validator/hpt_examples/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv"
    )
    assert example.read_text(encoding="utf-8").splitlines()[1].split(",")[1] == "4/1/2026"  # its last_updated_on
    root = tmp_path / "s"
    store_pipeline.ingest([example], None, root)
    store = st.open_store(root)
    assert list(store.manifest()["file_date"]) == ["2026-04-01"]
    assert list(store.accounts()["file_date"]) == ["2026-04-01"]


def test_a_manifest_written_before_file_dates_reads_and_takes_new_files(tmp_path, sample_files):
    root = tmp_path / "s"
    store_pipeline.ingest(sample_files[:1], ["44320"], root)
    manifest = root / st.MANIFEST
    pq.write_table(pq.read_table(manifest).drop_columns(["file_date"]), manifest)  # as an older version wrote it
    assert st.open_store(root).manifest()["file_date"].isna().all()
    assert store_pipeline.ingest(sample_files[1:2], ["44320"], root).ok  # the next commit writes the column
    assert list(st.open_store(root).manifest()["file_date"].isna()) == [True, False]


# --------------------------------------------------------------------------------------------------- analysis
@pytest.mark.parametrize(
    "by,product_lines",
    [
        (("payer_family", "pos_setting"), ("commercial",)),
        (("payer_family", "state", "pos_setting"), ("commercial",)),
        (("product_line", "payer_family", "pos_setting"), None),
    ],
)
def test_benchmark_table_over_the_store_equals_the_files(sample_store, sample_files, by, product_lines):
    for code in ("44320", "44310"):
        from_files = bm.benchmark_table(code, source=[str(p) for p in sample_files], by=by, product_lines=product_lines)
        from_store = bm.benchmark_table(code, source=str(sample_store), by=by, product_lines=product_lines)
        assert len(from_store) > 0
        pd.testing.assert_frame_equal(from_store, from_files)


def test_the_store_query_deduplicates_and_places_rates_like_the_in_memory_path(tmp_path, make_rates):
    # duplicates whose kept row matters (first in ingest order wins the state), an AZ rate whose locality comes
    # from its state (AZ has one locality, 03102-00), rates with no provider identity (never merged), one with a
    # modifier (excluded), one valid in both settings
    rows = make_rates(
        dict(provider_tin="111", state="GA", amount=900.0, amount_usd=900.0, source_locator="a"),
        dict(provider_tin="111", state="FL", amount=900.0, amount_usd=900.0, source_locator="b"),
        dict(provider_tin="222", state="AZ", amount=1500.0, amount_usd=1500.0, source_locator="c"),
        dict(provider_tin=None, amount=1200.0, amount_usd=1200.0, source_locator="d"),
        dict(provider_tin=None, amount=1200.0, amount_usd=1200.0, source_locator="e"),
        dict(provider_tin="333", modifiers="26", amount=400.0, amount_usd=400.0, source_locator="f"),
        dict(
            provider_tin="444",
            payer_family="Cigna",
            payer_raw="Cigna",
            pos_setting="both",
            amount=1100.0,
            amount_usd=1100.0,
            medicare_locality="04412-18",
            state="TX",
            source_locator="g",
        ),
    )
    source = tmp_path / "rows.json"
    source.write_text("{}")

    def hand_made(path, codes, *, is_synthetic=False):
        account = FileAccount(path.name, "0" * 64, rows_seen=len(rows), rows_loaded=len(rows))
        return IngestResult(rates=rows, accounts=[account])

    root = tmp_path / "s"
    store_pipeline.ingest([source], ["44320"], root, reader=hand_made)
    compared = rates.compare_to_medicare(rates.attach_geography(rows, None), 2025)
    expected_rows = stats.benchmark_rows(compared)
    got_rows = benchmark_sql.benchmark_rows(st.open_store(root), "44320", 2025)
    assert list(got_rows["source_locator"]) == list(expected_rows["source_locator"]) == ["a", "c", "d", "e", "g"]
    for column in (
        "state",
        "medicare_locality",
        "medicare_setting",
        "medicare_locality_used",
        "medicare_amount",
        "pct_of_medicare",
    ):
        pd.testing.assert_series_equal(
            got_rows[column].reset_index(drop=True), expected_rows[column].reset_index(drop=True), check_dtype=False
        )
    assert got_rows["medicare_locality"].tolist()[1] == "03102-00"
    assert got_rows["medicare_amount"].notna().all()
    by = ("payer_family", "state", "pos_setting")
    pd.testing.assert_frame_equal(
        benchmark_sql.benchmark_table(st.open_store(root), "44320", 2025, by=by),
        stats.distribution_table(expected_rows, by),
    )
    # 44320 is paid only in the facility setting: the "both" rate is compared with the facility amount
    assert got_rows.set_index("source_locator").loc["g", "medicare_setting"] == "facility"


def test_report_from_a_store_matches_the_files(sample_store, sample_files):
    report = CodeReport.build(ReportParams(data_source=str(sample_store)))
    direct = rates.load_rates([str(p) for p in sample_files], codes=["44320"])
    expected = rates.compare_to_medicare(direct.rates)  # the default year, as the report
    # both paths know that files from the shipped sample folder are synthetic
    assert report.compared["is_synthetic"].all() and expected["is_synthetic"].all()
    # the report's rates carry the assessment columns (flags, cross-check, confidence) beside the compared ones
    pd.testing.assert_frame_equal(report.compared[list(expected.columns)], expected)
    summary = report.summary()
    assert summary["synthetic"] is True and summary["data_label"] == config.SYNTHETIC_LABEL
    assert summary["counts"]["files"] == 14 and summary["counts"]["files_rejected"] == 0
    assert set(summary["payers"]) == {"Aetna", "BCBS", "Cigna", "UnitedHealthcare"}
