"""Batch runner speed: parallel workers against one worker, an up-to-date re-run, and the exports of one report.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--reports 4]``. Every figure is measured in this run, on the
shipped sample, into a temporary folder:

1. ``--reports`` reports (codes of the sample) with 2 workers vs the same batch with 1 worker (the baseline:
   reports one after the other). Each worker keeps one kernel for its reports (reset before each), runs the
   notebook in it, then writes the report's exports.
2. The same batch again, every report up to date (fingerprints checked, nothing run) vs the 2-worker run.
3. The exports of one report (CSV, XLSX, deck, PDF when Chromium is installed) vs the whole ``run_report`` of it.

Timings are wall-clock, once each (a batch run takes tens of seconds); the machine's other load shows in them.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

CODES = ["44320", "44310", "44312", "44322", "44340", "44345", "44346", "44314", "44316"]


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=4, help=f"reports in the batch (at most {len(CODES)})")
    args = parser.parse_args()

    from benchmark.reporting import exports
    from benchmark.reporting.batch import Batch, run_batch
    from benchmark.reporting.report import ReportParams
    from benchmark.reporting.runner import run_report

    batch = Batch(tuple(ReportParams(code=code) for code in CODES[: args.reports]))
    with tempfile.TemporaryDirectory(prefix="paybench-bench-") as folder:
        work = Path(folder)
        one = _timed(lambda: run_batch(batch, work / "one", workers=1, force=True, progress=False))
        two = _timed(lambda: run_batch(batch, work / "two", workers=2, force=True, progress=False))
        skip = _timed(lambda: run_batch(batch, work / "two", workers=2, progress=False))
        print(
            f"{f'batch of {args.reports} reports, 2 workers vs 1 worker':<58} ours {two:7.1f} s | 1 worker "
            f"{one:7.1f} s | ours/baseline time x{two / one:5.2f}"
        )
        print(
            f"{'the same batch, all up to date (skipped) vs 2 workers':<58} ours {skip:7.1f} s | full run "
            f"{two:7.1f} s | ours/baseline time x{skip / two:5.2f}"
        )

        single = _timed(lambda: run_report(ReportParams(), work / "single"))
        copy = work / "copy"
        shutil.copytree(work / "single", copy)
        export = _timed(lambda: exports.write_exports(copy))
        pdf = "with PDF" if exports.find_chromium() else "no Chromium: without PDF"
        print(
            f"{f'exports of one report ({pdf}) vs its whole run':<58} ours {export:7.1f} s | run_report "
            f"{single:7.1f} s | ours/baseline time x{export / single:5.2f}"
        )


if __name__ == "__main__":
    main()
