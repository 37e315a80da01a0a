"""Speed benchmarks: the project's code against a baseline measured in the same run, printed as ratios.

Run: ``.venv/bin/python benchmarks/run.py``. Each benchmark times the project's implementation and a plain
baseline on the same input in this process, best of ``REPEAT`` runs, and prints both and their ratio; numbers from
different machines or runs are not compared.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from collections.abc import Callable

REPEAT = 3


def best_of(function: Callable[[], object], repeat: int = REPEAT) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def report(name: str, ours: float, baseline: float, baseline_name: str) -> None:
    print(
        f"{name:<58} ours {ours * 1000:9.1f} ms | {baseline_name} {baseline * 1000:9.1f} ms | "
        f"ours/baseline time x{ours / baseline:6.2f}"
    )


def bench_pfs_all_localities() -> None:
    """Medicare amounts for the 14 colostomy-family codes x 110 areas x 2 settings x 4 years."""
    from benchmark import config
    from benchmark.reference import medicare

    codes = [
        "44141",
        "44143",
        "44188",
        "44310",
        "44312",
        "44314",
        "44316",
        "44320",
        "44322",
        "44340",
        "44345",
        "44346",
        "44620",
        "44626",
    ]
    for year in medicare.available_years():  # warm the file caches for both sides
        medicare.load_pprrvu(year)
    with open(config.GPCI_FILES[2025], encoding="latin-1") as handle:
        gpci_rows = list(csv.reader(handle))[3:112]

    def ours() -> None:
        for year in medicare.available_years():
            medicare.medicare_amounts(codes, year, localities="all")

    def loop() -> None:  # the spreadsheet way: one row at a time
        for year in medicare.available_years():
            rvu = medicare.load_pprrvu(year)
            for row in rvu[rvu["hcpcs"].isin(codes)].itertuples():
                for g in gpci_rows:
                    for pe in (row.facility_pe_rvu, row.non_facility_pe_rvu):
                        round(
                            (row.work_rvu * float(g[4]) + pe * float(g[5]) + row.mp_rvu * float(g[6]))
                            * row.conversion_factor,
                            2,
                        )

    report("PFS amounts, 14 codes x 109 localities x 2 settings x 4 years", best_of(ours), best_of(loop), "row loop")


def bench_sample_tic_read() -> None:
    """Read every shipped TiC sample file for one code: streaming reader vs json.load of the whole document."""
    from benchmark import config
    from benchmark.ingest.tic.reader import read_in_network

    files = sorted(config.SAMPLE_TIC_DIR.glob("*.json.gz"))

    def ours() -> None:
        for path in files:
            read_in_network(path, ["44320"])

    def whole_document() -> None:
        for path in files:
            with gzip.open(path, "rb") as handle:
                document = json.load(handle)
            [item for item in document["in_network"] if item["billing_code"] == "44320"]

    report(
        f"TiC sample, {len(files)} files, code 44320 to validated rows",
        best_of(ours),
        best_of(whole_document),
        "json.load (no rows)",
    )


def bench_report_build() -> None:
    """Build every table of the 44320 report (no charts) vs only loading the rates."""
    from benchmark.analysis import rates
    from benchmark.reporting.report import CodeReport, ReportParams

    def ours() -> None:
        CodeReport.build(ReportParams())

    def load_only() -> None:
        rates.load_rates("sample", codes=["44320"])

    ours_time, load_time = best_of(ours), best_of(load_only)
    print(
        f"{'44320 report tables (no charts) vs loading its rates alone':<58} ours {ours_time * 1000:9.1f} ms | "
        f"load only {load_time * 1000:9.1f} ms | ours/baseline time x{ours_time / load_time:6.2f}"
    )


if __name__ == "__main__":
    bench_pfs_all_localities()
    bench_sample_tic_read()
    bench_report_build()
