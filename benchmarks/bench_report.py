"""A warm ``paybench report 44320`` against papermill executing a one-cell notebook, measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_report.py [--repeat 3] [--batch 50]``. Every figure comes from this run, on
the shipped sample, into a temporary folder; each command runs as a child process and is timed by wall clock and
by CPU seconds (user + system of the process and of every process below it: the Jupyter kernel, Chromium). On Linux
this script is a "child subreaper": Chromium's helper processes (zygote, renderers), which their browser leaves
behind to exit on their own, are then reaped here and their CPU counted too (~3 of Chromium's ~4.5 CPU seconds per
one-shot PDF were missed before; the header line says whether it applies):

1. baseline: papermill executes a one-cell notebook (``x = 1``) with the project's kernel;
2. the first ``paybench report 44320`` (fills the cache: rates, Medicare years, policy files);
3. a warm report: the same command again with ``--force`` (outputs present, everything re-run, caches warm);
4. the same command without ``--force``: the report is up to date and skipped.

The ratio printed is warm report / one-cell notebook (issue 11 asks for at most 3x). ``--batch N`` also runs a batch
of N distinct reports (codes x years x geographies of the sample) on 2 worker processes (``--workers`` for another
count), timed the same way (target: 50 reports in at most 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYBENCH = [sys.executable, "-m", "benchmark.cli"]
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
ORPHAN_WAIT_SECONDS = 5.0  # how long orphaned helpers of a finished command get to exit before the next one starts
CODES = ["44320", "44310", "44312", "44322", "44340", "44345", "44346", "44314", "44316", "44141", "44143", "44188"]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its waited-for descendants) of one command; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def count_orphans() -> bool:
    """Become the reaper of this process's orphaned descendants (Linux), so that their CPU is counted."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def reap_orphans(wait: float = ORPHAN_WAIT_SECONDS) -> None:
    """Reap the orphaned descendants reparented to this process (their CPU then counts in RUSAGE_CHILDREN)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return
        if pid == 0:  # some still run
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(runs)


def line(name: str, wall: float, cpu: float, base: tuple[float, float] | None = None) -> None:
    ratio = f" | x{wall / base[0]:5.2f} wall, x{cpu / base[1]:5.2f} CPU of the one-cell notebook" if base else ""
    print(f"{name:<52} {wall:7.2f} s wall {cpu:7.2f} s CPU{ratio}", flush=True)


def one_cell_notebook(folder: Path) -> Path:
    import nbformat

    path = folder / "one_cell.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(notebook, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed command; the best is shown")
    parser.add_argument("--batch", type=int, default=0, help="also time a batch of this many reports")
    parser.add_argument("--workers", type=int, default=2, help="batch worker processes (default 2)")
    args = parser.parse_args()

    from benchmark.reporting.runner import ensure_kernel

    kernel = ensure_kernel()
    orphans = "counted" if count_orphans() else "not counted (no child subreaper on this system)"
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; best of {args.repeat} runs; CPU of orphaned "
        f"helper processes {orphans}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        work = Path(tmp)
        cache = {**os.environ, "PAYBENCH_CACHE": str(work / "cache")}  # a cold cache of its own
        notebook = one_cell_notebook(work)
        papermill = [
            sys.executable,
            "-c",
            "import sys, papermill as pm; pm.execute_notebook(sys.argv[1], sys.argv[2], kernel_name=sys.argv[3], "
            "progress_bar=False)",
            str(notebook),
            str(work / "one_cell.out.ipynb"),
            kernel,
        ]
        base = best([timed(papermill) for _ in range(args.repeat)])
        line("papermill, one-cell notebook (baseline)", *base)
        report = [*PAYBENCH, "report", "44320", "--out", str(work / "44320")]
        line("paybench report 44320, first run (cold cache)", *timed(report, cache), base)
        warm = best([timed([*report, "--force"], cache) for _ in range(args.repeat)])
        line("paybench report 44320 --force (warm)", *warm, base)
        line("paybench report 44320, up to date (skipped)", *best([timed(report, cache)]), base)
        print(
            f"warm report / one-cell notebook: x{warm[0] / base[0]:.2f} wall, x{warm[1] / base[1]:.2f} CPU "
            "(target: at most x3)"
        )
        if args.batch:
            batch_file = work / "batch.yaml"
            batch_file.write_text(_batch_yaml(args.batch), encoding="utf-8")
            command = [
                *PAYBENCH,
                "batch",
                str(batch_file),
                "--out",
                str(work / "batch"),
                "--workers",
                str(args.workers),
            ]
            load = os.getloadavg()[0]
            wall, cpu = timed(command, cache)
            line(f"paybench batch, {args.batch} reports, {args.workers} workers", wall, cpu, base)
            print(
                f"batch: {wall / 60:.1f} min wall for {args.batch} reports (target: 50 in at most 5 min); "
                f"{cpu / args.batch:.2f} CPU s per report, {cpu / wall:.2f} cores busy; load average "
                f"{load:.1f} at its start, {os.getloadavg()[0]:.1f} at its end"
            )


def _batch_yaml(count: int) -> str:
    combos = [(c, y, g) for g in ("all", "TX") for y in (2025, 2024, 2023, 2022) for c in CODES][:count]
    lines = ["title: bench_report batch", "reports:"]
    lines += [f'  - {{code: "{c}", year: {y}, geography: {g}}}' for c, y, g in combos]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
