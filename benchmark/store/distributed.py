"""Ingest on a Dask cluster: one task per source file, each worker writing its file's Parquet parts to staging.

:func:`stage_on_dask` runs :func:`benchmark.store.staging.stage_file` (the same function the local engine runs)
for every file on a Dask cluster and returns the outcomes in the order of the files; the caller
(:func:`benchmark.ingest.routing.ingest`) then commits them to the store's manifest in one atomic replacement.
``paybench ingest ... --engine dask [--scheduler tcp://HOST:PORT] [--workers N]`` is the command-line form.

- With no scheduler address a :class:`distributed.LocalCluster` is started for the run (``workers`` processes, one
  thread each: a reader is CPU-bound Python, so processes, not threads, give parallelism; forked by a fork server:
  :data:`WORKER_START`) and closed after it.
- With a scheduler address the run uses that cluster as it is (Kubernetes, HPC, ...: see the README). Every worker
  must see the source files and the store folder at the same paths (a shared file system) and have this package
  installed.
- Faults: a task that raises is retried ``retries`` times by Dask; a worker that dies mid-file (killed, out of
  memory) makes the scheduler run the task again on another worker (the LocalCluster allows ``retries`` such
  deaths per task; an external scheduler uses its own ``distributed.scheduler.allowed-failures``). What a failed or
  dead attempt wrote stays in staging, is never committed and is removed with the run's staging folder. A file whose
  every attempt failed is recorded ``failed`` in the manifest; the rest of the run completes and the next run reads
  only the files that are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from benchmark.store.rate_store import FileOutcome
from benchmark.store.staging import FileTask, failed_outcome, stage_file

DEFAULT_WORKERS = 2
# A LocalCluster's worker processes are forked from a fork server that imported Dask, pandas and numpy once (Dask's
# ``forkserver`` method, which preloads them there), not spawned each importing them (~1 s of CPU a worker); each
# worker still dies with the ingest (Dask's own pipe from the process that started it).
WORKER_START = "forkserver"


def stage_on_dask(
    tasks: Sequence[FileTask],
    loaded: Mapping[str, str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = 2,
    client=None,
    progress: Callable[[str, FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Stage every task on a Dask cluster; one outcome per task, in task order (see the module docstring)."""
    if not tasks:
        return []
    with _connected(client, scheduler, workers or DEFAULT_WORKERS, retries) as dask_client:
        from distributed import as_completed

        [loaded_on_workers] = dask_client.scatter([dict(loaded)], broadcast=True)
        futures = dask_client.map(stage_file, list(tasks), loaded=loaded_on_workers, retries=retries, pure=False)
        position = {future.key: index for index, future in enumerate(futures)}
        outcomes: list[FileOutcome | None] = [None] * len(tasks)
        for future in as_completed(futures):
            index = position[future.key]
            try:
                outcome = future.result()
            except Exception as error:
                outcome = failed_outcome(tasks[index], error, retries + 1)
            outcomes[index] = outcome
            if progress:
                progress(tasks[index].source, outcome)
            future.release()
    return [o for o in outcomes if o is not None]


@contextmanager
def local_cluster(workers: int = DEFAULT_WORKERS, retries: int = 2) -> Iterator[object]:
    """A LocalCluster of ``workers`` single-threaded processes (closed on exit), as the dask engine starts it."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set(
            {
                "distributed.scheduler.allowed-failures": retries,
                "distributed.worker.multiprocessing-method": WORKER_START,
            }
        ),
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
    ):
        yield cluster


@contextmanager
def _connected(client, scheduler: str | None, workers: int, retries: int):
    from distributed import Client

    if client is not None:
        yield client
    elif scheduler:
        with Client(scheduler, timeout="30s") as connected:
            yield connected
    else:
        with local_cluster(workers, retries) as cluster, Client(cluster) as connected:
            yield connected
