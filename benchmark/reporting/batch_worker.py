"""A batch's worker processes: the pool that starts them, and what each runs (one kernel, one Chromium, its reports).

:func:`worker_pool` starts the workers from a *fork server* (:mod:`multiprocessing`'s ``forkserver`` start method)
that loads this module, and with it the runner, the exporters, pandas and the rest, once, and what a report run loads
on first use (:mod:`.batch_preload`); each worker is a fork of it, started in milliseconds instead of loading all of
that again (~3 s of CPU per worker with ``spawn``). The fork server is a clean process started by the batch (not a
fork of the batch, whose threads a fork would copy mid-step); it stays until the batch process exits. What a spawned
worker got from the batch, a forked one gets too: the batch's current folder and ``sys.path`` (multiprocessing sends
them) and its environment variables as they are when the pool starts (:func:`start_worker` sets them). Modules read
their settings when the fork server imports them, so a setting read at import time (``PAYBENCH_HOME``) is the one of
the batch's first pool in a process.

Each worker dies with the batch (:func:`~benchmark.reporting.parent_watch.die_with_parent`: the batch is the fork
server's parent), keeps one Jupyter kernel and one Chromium for all its reports, and ends them when it exits.
"""

from __future__ import annotations

import logging
import multiprocessing.util
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmark.reporting import provenance
from benchmark.reporting.kernel import KernelStartError, ReportRunError, SharedKernel
from benchmark.reporting.params import ReportParams
from benchmark.reporting.parent_watch import die_with_parent
from benchmark.reporting.pdf_printer import PdfPrinter
from benchmark.reporting.runner import failed_notebook_path, report_slug, run_report

_log = logging.getLogger(__name__)

KERNEL_START_ATTEMPTS = 3  # a report whose kernel does not start is tried this often in all
RETRY_DELAY_SECONDS = 2.0
START_METHOD = "forkserver"
PRELOAD = "benchmark.reporting.batch_preload"  # what the fork server loads (this module among it) before it forks

# The worker's Jupyter kernel and PDF printer (one Chromium), kept from one report to the next: set by start_worker.
_worker_kernel: SharedKernel | None = None
_worker_printer: PdfPrinter | None = None


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` batch worker processes, forked from a fork server that loaded :data:`PRELOAD` (started
    now unless this process already runs one: what it loaded is then what it was started with)."""
    context = get_context(START_METHOD)
    context.set_forkserver_preload([PRELOAD])
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(), dict(os.environ)),
    )


def start_worker(parent_pid: int, environment: dict[str, str]) -> None:
    """Worker initializer: take the batch's environment, die with the batch process (a killed batch stops: its
    workers, their kernels and Chromium do not go on), and keep one kernel and one Chromium for all the worker's
    reports, ended when the worker exits."""
    global _worker_kernel, _worker_printer
    os.environ.clear()
    os.environ.update(environment)
    die_with_parent(parent_pid)
    _worker_kernel = SharedKernel()
    _worker_printer = PdfPrinter()
    # multiprocessing runs its finalizers (not atexit handlers) when a pool worker exits
    multiprocessing.util.Finalize(_worker_kernel, _worker_kernel.close, exitpriority=10)
    multiprocessing.util.Finalize(_worker_printer, _worker_printer.close, exitpriority=10)


def run_one(params: ReportParams, inputs: provenance.RunInputs, root: str, formats: tuple[str, ...]) -> dict[str, Any]:
    """Worker: run one report (retrying kernel-start failures) and describe the outcome; never raises."""
    slug = report_slug(params)
    target = Path(root) / slug
    started, clock = provenance.now_utc(), time.perf_counter()
    outcome: dict[str, Any] = {"slug": slug, "started": started}
    try:
        outputs, attempts = run_with_retries(
            lambda: run_report(
                params,
                target,
                inputs=inputs,
                force=True,
                shared_kernel=_worker_kernel,
                pdf_printer=_worker_printer.print_pdf if _worker_printer else None,
                formats=formats,
            )
        )
        outcome.update(
            status="ok", attempts=attempts, notes=list(outputs.notes), outputs=relative_outputs(target, Path(root))
        )
    except Exception as error:  # one failed report must not stop the others
        name = getattr(error, "ename", "") or type(error).__name__
        message = (
            str(error)
            if isinstance(error, ReportRunError)
            else f"{error}\n{''.join(traceback.format_exception(error)[-3:])}".strip()
        )
        outcome.update(
            status="failed", attempts=getattr(error, "attempts", 1), error={"name": name, "message": message}
        )
        _log.info("%s: failed: %s: %s", slug, name, message.splitlines()[0] if message else "")
        failed_notebook = failed_notebook_path(target)
        if failed_notebook.exists():
            outcome["error"]["failed_notebook"] = failed_notebook.name
    outcome.update(finished=provenance.now_utc(), seconds=round(time.perf_counter() - clock, 2))
    return outcome


def run_with_retries(
    run: Callable[[], Any], *, attempts: int = KERNEL_START_ATTEMPTS, delay: float = RETRY_DELAY_SECONDS
) -> tuple[Any, int]:
    """``run()``, again after a :class:`~benchmark.reporting.kernel.KernelStartError`, at most ``attempts`` times in all.

    Returns ``(result, attempts used)``; the last KernelStartError, or any other error, propagates (with the attempt
    count as ``error.attempts``).
    """
    for attempt in range(1, attempts + 1):
        try:
            return run(), attempt
        except KernelStartError as error:
            if attempt == attempts:
                vars(error)["attempts"] = attempt  # the count rides on the exception (read with getattr)
                raise
            _log.info("the report kernel did not start (attempt %d of %d: %s); retrying", attempt, attempts, error)
            time.sleep(delay * attempt)
        except BaseException as error:
            vars(error)["attempts"] = attempt
            raise
    raise AssertionError("unreachable")


def relative_outputs(folder: Path, root: Path) -> list[str]:
    """The files of a written report (its folder under the batch root), relative to the root; not the tool's
    bookkeeping files (``.paybench-*``)."""
    return sorted(
        str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".paybench-")
    )
