"""Ingest on Dask: the same store as the local engine, and faults (a killed worker, a failing file) handled.

One LocalCluster (2 worker processes) serves the module; the readers injected below are shipped to the workers by
value (cloudpickle), so the worker processes need not import this test module.
"""

import functools
import hashlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple

import cloudpickle
import pandas as pd
import psutil
import pytest

from benchmark import cli, config
from benchmark.accounts import IngestResult
from benchmark.ingest import routing as pipeline
from benchmark.store import distributed
from benchmark.store import pipeline as store_pipeline
from benchmark.store import rate_store as st

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SAMPLE = [config.SAMPLE_TIC_DIR, config.SAMPLE_HOSPITAL_DIR]
RUN_COLUMNS = ["part_id", "ingested_at", "run_id", "engine"]


@pytest.fixture(scope="module")
def scheduler():
    # Dask's distributed, imported here and not with the module: every xdist worker collects this module, one runs
    # it (the import is ~0.2 s of CPU; benchmark.store.distributed imports it when it starts a cluster, too)
    from distributed.utils import get_mp_context

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with distributed.local_cluster(workers=2, retries=2) as cluster:
        assert get_mp_context().get_start_method() == "forkserver"  # its workers are forked
        yield cluster.scheduler_address
    assert not _new_processes(before), "worker processes left running"


@pytest.fixture(scope="module")
def sample_files():
    """Four TiC and two hospital files of the sample: both readers, small enough to keep the tests quick."""
    tic, hospital = (pipeline.expand_sources([folder]) for folder in SAMPLE)
    return tic[:4] + hospital[:2]


class _Tables(NamedTuple):
    """What a store gives back: its rates, its quarantine and its manifest (without the run's own columns)."""

    rates: pd.DataFrame
    quarantine: pd.DataFrame
    manifest: pd.DataFrame


def _tables(store: st.Store) -> _Tables:
    return _Tables(store.read_rates(), store.read_quarantine(), store.manifest().drop(columns=RUN_COLUMNS))


@pytest.fixture(scope="module")
def local_store(tmp_path_factory, sample_files) -> _Tables:
    """The files ingested by the local engine, read back once for the module (the tests only compare with it)."""
    root = tmp_path_factory.mktemp("local") / "s"
    assert store_pipeline.ingest(sample_files, None, root).ok
    return _tables(st.open_store(root))


def _new_processes(before: set[int]) -> list:
    """Child processes started since ``before`` that are still alive (multiprocessing's resource tracker and fork
    server, one each per parent process for its lifetime, are not workers; the processes the fork server forked are
    its children, not this process's, and are counted)."""
    new = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before
        and "resource_tracker" not in " ".join(p.cmdline())
        and not (p.ppid() == os.getpid() and "multiprocessing.forkserver" in " ".join(p.cmdline()))
    ]
    _, alive = psutil.wait_procs(new, timeout=10)
    return [(p.pid, p.cmdline()) for p in alive]


def _same_store(got: st.Store, expected: _Tables) -> None:
    found = _tables(got)
    pd.testing.assert_frame_equal(found.rates, expected.rates)
    pd.testing.assert_frame_equal(found.quarantine, expected.quarantine)
    pd.testing.assert_frame_equal(found.manifest, expected.manifest)


def _no_leftovers(root: Path) -> None:
    committed = set(st.open_store(root).manifest()["part_id"].dropna())
    parts = {st.PART_FILE.match(p.name)["part"] for p in (root / "rates").rglob("*.parquet")}
    assert parts == committed
    assert not any((root / st.STAGING_DIR).iterdir())


# --------------------------------------------------------------------------------------------------- readers
def _dies_mid_file(path, codes, *, is_synthetic=False, target, marker):
    """Yields the file's rows in two chunks; the first time it reads ``target`` its process is killed in between."""
    result = pipeline.read_file(path, codes, is_synthetic=is_synthetic)
    half = len(result.rates) // 2
    yield IngestResult(rates=result.rates.iloc[:half].reset_index(drop=True))
    if path.name == target and not os.path.exists(marker):
        # staging writes a chunk in a thread while the reader goes on: wait until the first chunk's parts are on disk
        own = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        deadline = time.monotonic() + 60
        while True:
            staged = sorted(str(p) for p in Path(marker).parent.glob("s/_staging/*/*/rates/**/*.parquet"))
            if any(_staged_part(p).startswith(own) for p in staged) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        Path(marker).write_text("\n".join([str(os.getpid()), *staged]))
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-file, after writing its first parts
    yield IngestResult(
        rates=result.rates.iloc[half:].reset_index(drop=True), quarantine=result.quarantine, accounts=result.accounts
    )


def _staged_part(path: str) -> str:
    """The part id of a staged rate file: <part_id>/rates/a/b/c/file."""
    return Path(path).parent.parent.parent.parent.parent.name


def _always_fails(path, codes, *, is_synthetic=False, target):
    if path.name == target:
        raise RuntimeError("injected failure")
    return pipeline.read_file(path, codes, is_synthetic=is_synthetic)


# --------------------------------------------------------------------------------------------------- tests
def test_dask_engine_builds_the_same_store_as_the_local_engine(tmp_path, scheduler, sample_files, local_store):
    run = store_pipeline.ingest(sample_files, None, tmp_path / "s", engine="dask", scheduler=scheduler)
    assert run.ok and run.count("loaded") == 6
    got = st.open_store(tmp_path / "s")
    _same_store(got, local_store)
    assert set(got.manifest()["engine"]) == {"dask"}
    _no_leftovers(tmp_path / "s")
    again = store_pipeline.ingest(sample_files, None, tmp_path / "s", engine="dask", scheduler=scheduler)
    assert again.count("skipped") == 6 and again.commit.loaded == 0  # idempotent on Dask too


def test_a_worker_killed_mid_file_leaves_no_partial_parts(tmp_path, scheduler, sample_files, local_store):
    target = sample_files[3].name
    marker = tmp_path / "killed.txt"
    reader = functools.partial(_dies_mid_file, target=target, marker=str(marker))
    run = store_pipeline.ingest(sample_files, None, tmp_path / "s", engine="dask", scheduler=scheduler, reader=reader)
    pid, *staged = marker.read_text().splitlines()
    own = hashlib.sha256(sample_files[3].read_bytes()).hexdigest()[:16]
    partial = [p for p in staged if _staged_part(p).startswith(own)]
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    assert partial, "the killed attempt had written parts before it died"
    assert not any(Path(p).exists() for p in partial)
    dead_parts = {_staged_part(p) for p in partial}
    assert not dead_parts & set(st.open_store(tmp_path / "s").manifest()["part_id"])
    assert run.ok and run.count("loaded") == 6  # the file was retried on a live worker
    _same_store(st.open_store(tmp_path / "s"), local_store)
    _no_leftovers(tmp_path / "s")


def test_a_failing_file_is_marked_failed_and_a_rerun_finishes_only_it(tmp_path, scheduler, sample_files, local_store):
    target = sample_files[5].name
    reader = functools.partial(_always_fails, target=target)
    run = store_pipeline.ingest(
        sample_files, None, tmp_path / "s", engine="dask", scheduler=scheduler, reader=reader, retries=1
    )
    assert not run.ok and run.count("failed") == 1 and run.count("loaded") == 5
    manifest = st.open_store(tmp_path / "s").manifest().set_index("source_file")
    assert manifest.loc[target, "status"] == "failed"
    assert manifest.loc[target, "reason"].startswith("RuntimeError: injected failure")
    assert (manifest.drop(index=target)["status"] == "loaded").all()
    parts_before = set(manifest["part_id"].dropna())
    rerun = store_pipeline.ingest(sample_files, None, tmp_path / "s", engine="dask", scheduler=scheduler)
    assert rerun.ok and rerun.count("loaded") == 1 and rerun.count("skipped") == 5
    store = st.open_store(tmp_path / "s")
    assert parts_before < set(store.manifest()["part_id"])  # the 5 stored parts were kept, one was added
    expected = local_store.rates
    got = store.read_rates()
    key = ["source_file", "source_locator", "billing_code", "provider_npis", "amount"]
    pd.testing.assert_frame_equal(got.sort_values(key, ignore_index=True), expected.sort_values(key, ignore_index=True))
    _no_leftovers(tmp_path / "s")


def test_cli_dask_engine_with_its_own_local_cluster(tmp_path, sample_files, capsys):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    bad = tmp_path / "expired.json.gz"
    bad.write_bytes(b"<html>Request has expired</html>")
    code = cli.main(
        [
            "ingest",
            *map(str, sample_files[:2]),
            str(bad),
            "--codes",
            "44320",
            "--out",
            str(tmp_path / "s"),
            "--engine",
            "dask",
            "--workers",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "2 read into the store, 0 already in it, 1 rejected, 0 failed" in out and "dask engine" in out
    local = store_pipeline.ingest(sample_files[:2], ["44320"], None).result.rates
    pd.testing.assert_frame_equal(st.open_store(tmp_path / "s").read_rates(), local)
    assert not _new_processes(before), "worker processes left running"


def test_members_of_an_archive_fan_out_as_their_own_tasks(tmp_path, scheduler, sample_files):
    import zipfile

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sample_files[:2]:
            bundle.write(path, path.name)
    tasks_seen = []
    run = store_pipeline.ingest(
        [archive],
        ["44320"],
        tmp_path / "dask",
        engine="dask",
        scheduler=scheduler,
        progress=lambda source, outcome: tasks_seen.append(source),
    )
    local = store_pipeline.ingest([archive], ["44320"], tmp_path / "local")
    assert run.ok and run.count("loaded") == 2 and len(tasks_seen) == 2
    _same_store(st.open_store(tmp_path / "dask"), _tables(st.open_store(tmp_path / "local")))
    manifest = st.open_store(tmp_path / "dask").manifest()
    assert list(manifest["source_file"]) == [f"bundle.zip!{p.name}" for p in sample_files[:2]]
    assert manifest["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()  # identified by the reader's hash
    assert local.ok
    again = store_pipeline.ingest([archive], ["44320"], tmp_path / "dask", engine="dask", scheduler=scheduler)
    assert again.count("skipped") == 2
