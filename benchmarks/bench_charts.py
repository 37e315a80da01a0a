"""Drawing and saving a report's charts against plain matplotlib figures saved as often, measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_charts.py [--codes 44320 44310] [--repeat 3]``. For each code the report is
built once (not timed); then, best of ``--repeat`` runs, each timed by wall clock and by this process's CPU seconds:

1. the report's charts: every chart of ``CodeReport.figures()`` drawn and written as ``charts.save_chart`` does on a
   cache miss (PNG + SVG, and the slide picture of every slide chart with data), into a temporary folder;
2. the baseline: a plain matplotlib figure of the same size (a line, a title, axis labels) drawn and saved with
   matplotlib's defaults as many times: one PNG at ``charts.PNG_DPI`` and one SVG per chart, one PNG at
   ``charts.SLIDE_DPI`` per slide picture.

The ratio printed is charts / baseline (CPU and wall); the machine is shared, so only the ratio of one run means
anything. The load average is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from benchmark.reporting import charts
from benchmark.reporting.report import SLIDE_CHARTS, CodeReport


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeat`` runs (by CPU)."""
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        runs.append((time.process_time() - cpu, time.perf_counter() - wall))
    cpu, wall = min(runs)
    return wall, cpu


def report_charts(report: CodeReport, folder: Path) -> Callable[[], tuple[int, int]]:
    """Draw and write every chart of ``report`` as on a chart-cache miss; returns (charts, slide pictures)."""

    def run() -> tuple[int, int]:
        slides = 0
        figures = report.figures()
        for name, draw in figures.items():
            slides_dir = folder / "slides" if name in SLIDE_CHARTS else None
            slides += charts.draw_and_save(draw, folder / "charts", name, slides_dir)[1] is not None
        return len(figures), slides

    return run


def baseline(charts_count: int, slides: int, folder: Path) -> Callable[[], None]:
    """A plain figure of the charts' size, saved with matplotlib's defaults as many times as the charts are."""

    def run() -> None:
        for number in range(charts_count + slides):
            fig = Figure(figsize=(10, 5.625))
            ax = fig.add_subplot()
            ax.plot([1, 2, 3, 4], [1100.0, 1900.0, 2400.0, 2100.0], marker="o")
            ax.set_title("Plain matplotlib figure")
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            if number < charts_count:
                fig.savefig(folder / f"plain{number}.png", dpi=charts.PNG_DPI)
                fig.savefig(folder / f"plain{number}.svg")
            else:
                fig.savefig(folder / f"slide{number}.png", dpi=charts.SLIDE_DPI)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", nargs="+", default=["44320", "44310"], help="report codes (sample data)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed step; the fastest is shown")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; best of {args.repeat} runs", flush=True)
    for code in args.codes:
        report = CodeReport.build(code=code)
        with tempfile.TemporaryDirectory(prefix="bench_charts_") as tmp:
            ours = report_charts(report, Path(tmp) / "report")
            count, slides = ours()  # warm-up: imports, fonts, the report's lazy tables
            plain = baseline(count, slides, Path(tmp))
            plain()
            ours_wall, ours_cpu = timed(ours, args.repeat)
            base_wall, base_cpu = timed(plain, args.repeat)
        files = f"{count} charts (PNG+SVG) + {slides} slide PNGs"
        print(
            f"CPT {code}: {files:<34} charts {ours_cpu:6.2f} s CPU {ours_wall:6.2f} s wall | "
            f"plain figures {base_cpu:6.2f} s CPU {base_wall:6.2f} s wall | "
            f"charts/plain x{ours_cpu / base_cpu:5.2f} CPU, x{ours_wall / base_wall:5.2f} wall",
            flush=True,
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
