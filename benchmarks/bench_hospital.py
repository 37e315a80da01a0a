"""Speed benchmark of the hospital standard-charge CSV reader (or of ``paybench validate``) against baselines, same run.

Run: ``.venv/bin/python benchmarks/bench_hospital.py [--size-mb 300] [--keep] [--work-dir DIR] [--validate]
[--baseline CHECKOUT]``.

It generates two synthetic CMS v3.0 files into ``--work-dir`` (default ``benchmarks/_work/``, git-ignored; deleted
afterwards unless ``--keep``; files of the right size already there are reused): a *tall* file of about
``--size-mb`` MB (24 columns, one payer/plan per row, quoted descriptions with commas, free-text notes on some
rows) and a *wide* file of about the same size with 401 columns (43 payer/plan groups x 9 columns). Then, each in
its own fresh process so that peak RSS is that task's alone:

- ours: :func:`benchmark.ingest.hospital.reader.read_standard_charges` with a 25-code set -- parse, filter to the codes,
  normalize and validate, i.e. end to end;
- baseline: ``pandas.read_csv(path, skiprows=2)`` with default options -- parse only, no filtering, no rows.

With ``--validate``, ours is ``paybench validate`` of the whole file
(:func:`benchmark.ingest.validate.validate_file`: every CMS rule on every row, every value change and every
candidate rate not loaded listed), against two baselines: ``pyarrow.csv.read_csv`` of every column as text (the
parser validate itself uses, parse only: the floor of any CSV check) and ``wc -l`` (reading the bytes). The generated files are valid CMS v3.0 files (no CMS error: the benchmark times
the normal path); the tall one has algorithm-only charges, which validate lists as warnings (not loaded).

``--baseline CHECKOUT`` adds one more task: the same as ours, run with the ``benchmark`` package of another checkout
of the repository (e.g. a ``git worktree`` of main), to compare two versions in the same run. Ours is always the
``benchmark`` package beside this script.

Each is run ``--repeat`` times, alternating. It prints the best and median MB/s (file bytes / wall time), CPU
seconds (all threads; steadier than wall time on a shared machine), MB per CPU-second, peak RSS and the ratio
ours / baseline. The generated data are synthetic (random amounts, invented payer names): synthetic sample data --
not actual payer rates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parent / "_work"
REPO = Path(__file__).resolve().parent.parent
CODES = [
    "44320",
    "44310",
    "44312",
    "44314",
    "44316",
    "44322",
    "44340",
    "44345",
    "44346",
    "44620",
    "44626",
    "44141",
    "44143",
    "44188",
    "99213",
    "99214",
    "99283",
    "99284",
    "70551",
    "27447",
    "47562",
    "45378",
    "43239",
    "66984",
    "J1450",
]
# The v3.0 attestation statement, word for word (CMS matches the header text): the files are valid CMS v3.0 files,
# so that the benchmark times the normal path (a valid file), not the wording of a CMS error on every row.
_ATTESTATION = (
    "To the best of its knowledge and belief, this hospital has included all applicable standard charge "
    "information in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, "
    "accurate, and complete as of the date in the file. This hospital has included all payer-specific "
    "negotiated charges in dollars that can be expressed as a dollar amount. For payer-specific negotiated "
    "charges that cannot be expressed as a dollar amount in the machine-readable file or not knowable in "
    "advance, the hospital attests that the payer-specific negotiated charge is based on a contractual "
    "algorithm, percentage or formula that precludes the provision of a dollar amount and has provided all "
    "necessary information available to the hospital for the public to be able to derive the dollar amount, "
    "including, but not limited to, the specific fee schedule or components referenced in such percentage, "
    "algorithm or formula."
)
_GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|NY,type_2_npi,"
    f'"{_ATTESTATION}",attester_name\n'
    'Benchmark General Hospital (synthetic),2026-01-01,3.0.0,Benchmark General Hospital,"1 Example Way, Buffalo, '
    'NY 14215",123456,1234567893,true,Synthetic Attester\n'
)
_TALL_HEADER = (
    "description,code|1,code|1|type,code|2,code|2|type,modifiers,setting,drug_unit_of_measurement,"
    "drug_type_of_measurement,standard_charge|gross,standard_charge|discounted_cash,payer_name,plan_name,"
    "standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,standard_charge|negotiated_algorithm,"
    "median_amount,10th_percentile,90th_percentile,count,standard_charge|min,standard_charge|max,"
    "standard_charge|methodology,additional_generic_notes\n"
)
_PAYERS = [
    "Aetna",
    "Blue Cross Blue Shield of Western New York",
    "Cigna Healthcare",
    "UnitedHealthcare",
    "Humana",
    "Fidelis Care",
    "Independent Health",
    "Univera Healthcare",
    "Highmark",
    "Excellus BlueCross",
    "MVP Health Care",
    "Wellcare",
    "Oscar Health",
]
_PLANS = [
    "PPO",
    "HMO",
    "Choice Plus",
    "Open Access Managed Choice",
    "Medicare Advantage HMO",
    "Medicaid Managed Care",
    "Exchange Silver",
    "POS II",
    "EPO",
    "Commercial",
]
_WORDS = [
    "colostomy",
    "repair",
    "injection",
    "catheter",
    "needle",
    "vein",
    "blood",
    "drainage",
    "imaging",
    "contrast",
    "without",
    "with",
    "tissue",
    "bone",
    "replacement",
    "knee",
    "hip",
    "lumbar",
    "cervical",
    "office",
    "visit",
    "established",
    "patient",
    "emergency",
    "level",
    "moderate",
    "complexity",
    "single",
    "view",
    "bilateral",
    "unilateral",
    "anesthesia",
    "laparoscopic",
    "open",
    "removal",
]
_NOTES = [
    "Rate subject to outlier provisions of the agreement.",
    "Paid at 140% of the OPPS APC rate.",
    '"Includes all implants and supplies, excludes professional fees."',
    "",
]
_CODE_POOL_SIZE = 8000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=300.0, help="approximate size of each file (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files in benchmarks/_work/")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each reader (default 3)")
    parser.add_argument("--validate", action="store_true", help="time `paybench validate` instead of the reader")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR, help="where the generated files go")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of the repository: its `benchmark` package timed as well"
    )
    parser.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)

    work_dir = args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    files = {"tall": work_dir / "bench_tall_v3_valid.csv", "wide": work_dir / "bench_wide_v3_valid.csv"}
    tasks = ["ours", "arrow", "wc"] if args.validate else ["ours", "pandas"]
    roots = {"ours": REPO}
    if args.baseline:
        if not (args.baseline / "benchmark" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: no benchmark/ package there")
        tasks.insert(1, "base")
        roots["base"] = args.baseline.resolve()
    names = {
        "ours": "paybench validate (all CMS rules, all rows)"
        if args.validate
        else f"ours (parse + filter to {len(CODES)} codes + normalize)",
        "pandas": "pandas read_csv (parse only)",
        "arrow": "pyarrow.csv.read_csv, all columns text (parse only)",
        "wc": "wc -l (read the bytes)",
        "base": f"the same, baseline checkout {args.baseline.name if args.baseline else ''}",
    }
    target = int(args.size_mb * 1e6)
    for kind, path in files.items():
        if not path.exists() or abs(path.stat().st_size - target) > 0.05 * target:
            start = time.perf_counter()
            (write_tall if kind == "tall" else write_wide)(path, target)
            print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.0f} s")
    try:
        print(
            f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
            f"{args.repeat} runs of each, alternating; best (median) shown"
        )
        for kind, path in files.items():
            size = path.stat().st_size
            runs: dict[str, list[dict]] = {task: [] for task in tasks}
            for _ in range(args.repeat):
                for task in runs:
                    child = ("validate" if args.validate else "ours") if task in roots else task
                    runs[task].append(_run(child, path, roots.get(task, REPO)))
            best = {task: min(r, key=lambda run: run["seconds"]) for task, r in runs.items()}
            median = {task: statistics.median(run["seconds"] for run in r) for task, r in runs.items()}
            for task in tasks:
                run = best[task]
                print(
                    f"{kind:<5} {size / 1e6:5.0f} MB | {names[task]:<52} {size / run['seconds'] / 1e6:6.1f} "
                    f"({size / median[task] / 1e6:6.1f}) MB/s wall, {run['cpu_seconds']:6.2f} CPU s "
                    f"({size / max(run['cpu_seconds'], 1e-9) / 1e6:6.1f} MB per CPU-s), peak RSS "
                    f"{max(r['max_rss_mb'] for r in runs[task]):5.0f} MB"
                )
            ours = best["ours"]
            extra = f", {ours['problems']:,} problems" if "problems" in ours else ""
            print(f"{kind:<5} ours: {ours['rates']:,} rates of {ours['rows_seen']:,} candidate rates{extra}")
            if "base" in best:
                base = best["base"]
                extra = f", {base['problems']:,} problems" if "problems" in base else ""
                print(f"{kind:<5} base: {base['rates']:,} rates of {base['rows_seen']:,} candidate rates{extra}")
            for task in tasks[1:]:
                baseline = best[task]
                print(
                    f"{kind:<5} ours/{task} time x{ours['seconds'] / baseline['seconds']:.2f} (median "
                    f"x{median['ours'] / median[task]:.2f}), CPU x{ours['cpu_seconds'] / max(baseline['cpu_seconds'], 1e-9):.2f}"
                )
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            for path in files.values():
                path.unlink(missing_ok=True)
    return 0


def _run(task: str, path: Path, root: Path) -> dict:
    """One task in a fresh interpreter (imports done before the clock starts), importing ``benchmark`` from the
    checkout ``root``; its JSON report."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    output = subprocess.run(
        [sys.executable, __file__, "--child", task, str(path)], check=True, capture_output=True, text=True, env=env
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _child(task: str, path_text: str) -> int:
    path = Path(path_text)
    if task == "ours":
        from benchmark.ingest.hospital.reader import read_standard_charges

        cpu, start = _cpu(), time.perf_counter()
        result = read_standard_charges(path, CODES, is_synthetic=True)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        report = {"rates": len(result.rates), "rows_seen": result.accounts[0].rows_seen}
    elif task == "validate":
        from benchmark.ingest.validate import validate_file

        cpu, start = _cpu(), time.perf_counter()
        checked = validate_file(path)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        report = {
            "rates": checked.account.rows_loaded,
            "rows_seen": checked.account.rows_seen,
            "problems": len(checked.problems),
        }
    elif task == "arrow":
        import csv

        import pyarrow as pa
        import pyarrow.csv as pacsv

        with open(path, encoding="utf-8", newline="") as handle:
            width = len(next(row for i, row in enumerate(csv.reader(handle)) if i == 2))
        names = [f"c{i}" for i in range(width)]
        cpu, start = _cpu(), time.perf_counter()
        table = pacsv.read_csv(  # the data rows (after the general rows and the column headers), every column text
            path,
            read_options=pacsv.ReadOptions(skip_rows=3, column_names=names),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        report = {"rates": 0, "rows_seen": table.num_rows}
    elif task == "wc":
        cpu, start = _children_cpu(), time.perf_counter()
        lines = subprocess.run(["wc", "-l", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
        report = {"rates": 0, "rows_seen": int(lines)}
    else:
        import pandas as pd

        cpu, start = _cpu(), time.perf_counter()
        frame = pd.read_csv(path, skiprows=2)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        report = {"rates": 0, "rows_seen": len(frame)}
    report.update(
        seconds=seconds, cpu_seconds=cpu, max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    print(json.dumps(report))
    return 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------------------------------------------
# Synthetic files (deterministic)


def _code_pool(rng: random.Random) -> list[str]:
    pool = [str(rng.randint(10000, 99999)) for _ in range(_CODE_POOL_SIZE - len(CODES))] + CODES
    rng.shuffle(pool)
    return pool


def _description(rng: random.Random) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 11))).upper()
    if rng.random() < 0.3:
        return f'"{text}, {rng.choice(_WORDS).upper()} {rng.randint(1, 99)} MG"'
    return text


def _code_type(code: str) -> str:
    """CPT for a five-digit code, HCPCS for a letter and four digits (J1450)."""
    return "CPT" if code.isdigit() else "HCPCS"


def _money(value: float) -> str:
    return f"{value:.2f}"


def write_tall(path: Path, target_bytes: int, seed: int = 2026) -> None:
    """A CMS v3.0 tall file of about ``target_bytes``: items of 4-12 payer/plan rows each."""
    rng = random.Random(seed)
    pool = _code_pool(rng)
    pairs = [(p, q) for p in _PAYERS for q in rng.sample(_PLANS, 3)]
    with open(path, "w", encoding="utf-8", newline="") as out:
        written = out.write(_GENERAL + _TALL_HEADER)
        while written < target_bytes:
            description, code = _description(rng), rng.choice(pool)
            revenue = f"0{rng.randint(250, 999)}"
            gross = rng.uniform(40, 40000)
            setting = rng.choice(("outpatient", "inpatient", "both"))
            lines = []
            for payer, plan in rng.sample(pairs, rng.randint(4, 12)):
                roll = rng.random()
                dollar = percentage = algorithm = median = p10 = p90 = count = ""
                if roll < 0.72:
                    dollar, methodology = _money(gross * rng.uniform(0.2, 0.9)), "fee schedule"
                elif roll < 0.86:
                    percentage, methodology = str(rng.randint(30, 95)), "percent of total billed charges"
                    median, p10, p90 = (_money(gross * f) for f in (0.5, 0.3, 0.7))
                    count = str(rng.randint(11, 400))
                elif roll < 0.96:
                    dollar, methodology = _money(gross * 1.4), "case rate"
                else:
                    algorithm = "Paid per the payer's APR-DRG grouper times the hospital base rate"
                    methodology = "other"  # CMS: 'other' needs notes, a count other than 0 needs the percentiles
                    median, p10, p90 = (_money(gross * f) for f in (0.9, 0.6, 1.2))
                    count = "1 through 10"
                if methodology == "other":
                    notes = rng.choice(_NOTES[:3])
                else:
                    notes = rng.choice(_NOTES) if rng.random() < 0.1 else ""
                lines.append(
                    ",".join(
                        (
                            description,
                            code,
                            _code_type(code),
                            revenue,
                            "RC",
                            "",
                            setting,
                            "",
                            "",
                            _money(gross),
                            _money(gross * 0.6),
                            payer,
                            plan,
                            dollar,
                            percentage,
                            algorithm,
                            median,
                            p10,
                            p90,
                            count,
                            _money(gross * 0.2),
                            _money(gross * 0.9),
                            methodology,
                            notes,
                        )
                    )
                )
            written += out.write("\n".join(lines) + "\n")


def write_wide(path: Path, target_bytes: int, seed: int = 2027) -> None:
    """A CMS v3.0 wide file of about ``target_bytes``: 14 item columns + 43 payer/plan groups x 9 = 401 columns."""
    rng = random.Random(seed)
    pool = _code_pool(rng)
    pairs = [(p, q) for p in _PAYERS for q in _PLANS][:43]
    header = [
        "description",
        "code|1",
        "code|1|type",
        "code|2",
        "code|2|type",
        "modifiers",
        "setting",
        "drug_unit_of_measurement",
        "drug_type_of_measurement",
        "standard_charge|gross",
        "standard_charge|discounted_cash",
    ]
    for payer, plan in pairs:
        header += [
            f"standard_charge|{payer}|{plan}|{s}"
            for s in ("negotiated_dollar", "negotiated_percentage", "negotiated_algorithm")
        ]
        header += [f"{m}|{payer}|{plan}" for m in ("median_amount", "10th_percentile", "90th_percentile", "count")]
        header += [f"standard_charge|{payer}|{plan}|methodology", f"additional_payer_notes|{payer}|{plan}"]
    header += ["standard_charge|min", "standard_charge|max", "additional_generic_notes"]
    with open(path, "w", encoding="utf-8", newline="") as out:
        written = out.write(_GENERAL + ",".join(header) + "\n")
        while written < target_bytes:
            gross = rng.uniform(40, 40000)
            code = rng.choice(pool)
            cells = [
                _description(rng),
                code,
                _code_type(code),
                f"0{rng.randint(250, 999)}",
                "RC",
                "",
                rng.choice(("outpatient", "inpatient", "both")),
                "",
                "",
                _money(gross),
                _money(gross * 0.6),
            ]
            for _ in pairs:
                roll = rng.random()
                if roll < 0.55:
                    cells += [_money(gross * rng.uniform(0.2, 0.9)), "", "", "", "", "", "", "fee schedule", ""]
                elif roll < 0.65:
                    cells += [
                        "",
                        str(rng.randint(30, 95)),
                        "",
                        _money(gross * 0.5),
                        _money(gross * 0.3),
                        _money(gross * 0.7),
                        str(rng.randint(11, 400)),
                        "percent of total billed charges",
                        "",
                    ]
                elif roll < 0.7:
                    cells += [_money(gross * 1.4), "", "", "", "", "", "", "case rate", rng.choice(_NOTES)]
                else:
                    cells += [""] * 9
            cells += [_money(gross * 0.2), _money(gross * 0.9), rng.choice(_NOTES) if rng.random() < 0.1 else ""]
            written += out.write(",".join(cells) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
