"""Medicare reference parsing: cold (first read in a fresh process) and warm (cached) times of every CMS file.

Run: ``.venv/bin/python benchmarks/bench_medicare.py``. Each cold figure is measured in a new Python process that
imports the package first (the import is not counted), so nothing is cached; the warm figure is the second call
in the same process (the per-process cache: files are parsed once per process, keyed by path, size and
modification time). Wall and CPU seconds are printed side by side; the machine's other load shows in wall time.
Baseline in the same run: the 2025 CSV PPRRVU (the layout read before the 2026 fixed-width file existed).
"""

from __future__ import annotations

import json
import subprocess
import sys

LOADERS = {
    "PPRRVU 2026 (fixed width)": "medicare.load_pprrvu(2026)",
    "PPRRVU 2025 (CSV, baseline)": "medicare.load_pprrvu(2025)",
    "GPCI 2026": "medicare.load_gpci(2026)",
    "OPPS Addendum B CY 2025": "opps.load_addendum_b(2025)",
    "OPPS Addendum A CY 2025": "opps.load_addendum_a(2025)",
    "CLFS 2026": "clfs.load_clfs(2026)",
    "IPPS Tables 1A-1E": "ipps.load_standardized_amounts()",
    "medicare_baseline('44320') (all files)": "medicare.medicare_baseline('44320')",
}

CHILD = """
import json, time, sys
from benchmark.reference import medicare
from benchmark.reference.medicare import clfs, ipps, opps
call = sys.argv[1]
out = {}
for label in ("cold", "warm"):
    wall, cpu = time.perf_counter(), time.process_time()
    eval(call)
    out[label] = (time.perf_counter() - wall, time.process_time() - cpu)
print(json.dumps(out))
"""


def main() -> None:
    timings = {}
    for label, call in LOADERS.items():
        result = subprocess.run([sys.executable, "-c", CHILD, call], capture_output=True, text=True, check=True)
        timings[label] = json.loads(result.stdout)
    baseline = timings["PPRRVU 2025 (CSV, baseline)"]["cold"][1]
    print(f"{'file':42} {'cold wall':>10} {'cold CPU':>9} {'warm wall':>10} {'CPU vs 2025 CSV':>16}")
    for label, times in timings.items():
        (cold_wall, cold_cpu), (warm_wall, _) = times["cold"], times["warm"]
        print(f"{label:42} {cold_wall:9.3f}s {cold_cpu:8.3f}s {warm_wall * 1000:8.2f}ms {cold_cpu / baseline:15.2f}x")


if __name__ == "__main__":
    main()
