"""Ingest into a rate store: every file of every source read, staged and committed at once.

:func:`ingest` does that for every file of every source. Without an output folder it returns everything in
memory; with one, the folder is a rate store (:mod:`benchmark.store.rate_store`): each file is staged as Parquet
parts (:mod:`benchmark.store.staging`), locally or on a Dask cluster (:mod:`benchmark.store.distributed`), and the
run is committed to the store's manifest at once. Files already in the store are skipped. A file that cannot be
read is rejected whole (nothing from it is written) and listed with its reason; the run goes on with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.accounts import IngestResult, RejectedFile
from benchmark.errors import ParameterError
from benchmark.ingest.routing import expand_sources, is_sample_file, read_file
from benchmark.sources.http import redact
from benchmark.sources.source import Source, local_path
from benchmark.store.distributed import stage_on_dask
from benchmark.store.rate_store import (
    CONFLICT,
    FAILED,
    LOADED,
    REJECTED,
    CommitSummary,
    FileOutcome,
    Store,
    new_run_id,
    open_store,
)
from benchmark.store.staging import FileTask, stage_with_retries


@dataclass
class IngestRun:
    """What one ``ingest`` call did, file by file.

    In memory (no output folder) ``result`` holds every rate. Into a store, ``result`` holds the row accounts of the
    files read in this run and the files rejected or failed; the rates are in the store (``run.store``), and
    ``outcomes`` says per file what happened (loaded, skipped as already stored, rejected, failed).
    """

    out_dir: Path | None
    files: list[Path | Source] = field(default_factory=list)  # local files; URLs, zip members as Source
    result: IngestResult = field(default_factory=IngestResult)
    written: dict[str, Path] = field(default_factory=dict)
    outcomes: list[FileOutcome] = field(default_factory=list)
    store: Store | None = None
    commit: CommitSummary | None = None

    @property
    def rejected(self) -> list[RejectedFile]:
        return self.result.rejected

    @property
    def ok(self) -> bool:
        return not self.result.rejected

    def count(self, status: str) -> int:
        """Files of this run with outcome ``status`` (loaded, skipped, rejected, failed)."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


ENGINES = ("local", "dask")
COMMIT_ATTEMPTS = 5  # commits of one run, re-reading files a concurrent run stored for other codes meanwhile


def ingest(
    sources: Iterable[str | Path | Source],
    codes: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    *,
    is_synthetic: bool = False,
    progress: Callable[[Path | Source, object], None] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = 2,
    reader: Callable[..., object] | None = None,
    client=None,
) -> IngestRun:
    """Read every file of ``sources`` (filtered to ``codes``); with ``out_dir``, into the rate store there.

    ``engine="dask"`` fans the files out over a Dask cluster (a connected ``client``, else the ``scheduler`` address,
    else a LocalCluster of ``workers`` processes); the store ends up the same as with the local engine. A file whose reading raises is
    tried ``1 + retries`` times, then recorded as failed. ``reader`` replaces :func:`read_file` (it may yield the
    file's rows in chunks). ``progress(source, outcome)`` is called after each file (an :class:`IngestResult` in
    memory, a :class:`benchmark.store.rate_store.FileOutcome` into a store). Files under the shipped sample folder are always
    marked synthetic.
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
    files = expand_sources(sources)
    if out_dir is None:
        if engine != "local":
            raise ParameterError("the dask engine writes into a store: give an output folder")
        parts: list[IngestResult] = []
        for path in files:
            sample = isinstance(path, (str, Path)) and is_sample_file(path)
            part = (reader or read_file)(path, codes, is_synthetic=is_synthetic or sample)
            if not isinstance(part, IngestResult):  # chunks are for a store
                raise TypeError(f"reader returned {type(part).__name__}; without a store it must be an IngestResult")
            parts.append(part)
            if progress:
                progress(path, part)
        return IngestRun(None, files, IngestResult.combine(parts))
    return _ingest_into_store(
        files,
        codes,
        Path(out_dir),
        is_synthetic=is_synthetic,
        progress=progress,
        engine=engine,
        scheduler=scheduler,
        workers=workers,
        retries=retries,
        reader=reader,
        client=client,
    )


def _ingest_into_store(
    files: list[Path | Source],
    codes: Sequence[str] | None,
    out_dir: Path,
    *,
    is_synthetic: bool,
    progress,
    engine: str,
    scheduler: str | None,
    workers: int | None,
    retries: int,
    reader,
    client,
) -> IngestRun:
    store = open_store(out_dir, create=True)
    store.vacuum(parts=False)  # staging left by runs that died
    run_id = new_run_id()
    code_filter = None if codes is None else tuple(str(c).strip() for c in codes)
    with store.staging(run_id) as staging:
        tasks = [
            FileTask(
                source=f,
                codes=code_filter,
                staging=str(staging),
                is_synthetic=is_synthetic or is_sample_file(local_path(f)),
                reader=reader,
                prefix_length=store.prefix_length,
            )
            for f in files
        ]
        loaded, sizes = store.loaded_files()
        if engine == "dask":
            outcomes = stage_on_dask(
                tasks, loaded, scheduler=scheduler, workers=workers, retries=retries, client=client, progress=progress
            )
        else:
            outcomes = []
            for task in tasks:
                outcomes.append(stage_with_retries(task, loaded, retries, sizes))
                if progress:
                    progress(task.source, outcomes[-1])
        summary = store.commit(outcomes, run_id=run_id, engine=engine)
        for _ in range(COMMIT_ATTEMPTS - 1):  # a concurrent run stored some files for other codes: read them again
            again = [i for i, outcome in enumerate(outcomes) if outcome.status == CONFLICT]
            if not again:
                break
            loaded, sizes = store.loaded_files()
            for i in again:
                outcomes[i] = stage_with_retries(tasks[i], loaded, retries, sizes)
            more = store.commit([outcomes[i] for i in again], run_id=run_id, engine=engine)
            summary = CommitSummary(**{k: getattr(summary, k) + getattr(more, k) for k in vars(summary)})
        for outcome in outcomes:
            if outcome.status == CONFLICT:  # still losing the race after every attempt: say so, store nothing
                outcome.status, outcome.reason = FAILED, "concurrent ingests kept storing this file for other codes"
    read = [o for o in outcomes if o.status == LOADED]
    bad = [
        RejectedFile(redact(o.source), redact((o.reason or "") if o.status == REJECTED else f"failed: {o.reason}"))
        for o in outcomes
        if o.status in (REJECTED, FAILED)
    ]
    result = IngestResult(accounts=[a for o in read for a in o.accounts], rejected=bad)
    written = {"store": store.root, "manifest": store.root / "manifest.parquet"}
    return IngestRun(out_dir, files, result, written, outcomes=outcomes, store=store, commit=summary)
