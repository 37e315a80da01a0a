"""TiC in-network reader throughput: the project's reader vs a plain ijson baseline, each in its own process.

Run: ``.venv/bin/python benchmarks/bench_tic.py [--size-mb 1000] [--codes 44320 99213] [--skip-baseline]``.

It generates (once; cached under ``benchmarks/_work/tic/``, which git ignores) a realistic synthetic schema-2.x
in-network file of about ``--size-mb`` MB of JSON — ~20,000 CPT/HCPCS items of 20-200 negotiated rates, each rate
with 1-30 provider-reference ids and 1-3 prices, and a root ``provider_references`` section of 60,000 provider groups
— in two layouts, ``provider_references`` *before* ``in_network`` and *after* it, each also gzipped. Then, in a fresh
process per measurement, it reads each file for a few codes and prints MB/s of uncompressed JSON, wall seconds and
peak RSS (VmHWM of that process plus its helper processes; CPU seconds include theirs), and the ratio to the
baseline measured in the same run on the same file.

The baseline is ``ijson.items(stream, "in_network.item")`` with its C backend, keeping the items of the same codes:
the usual way to stream these files in Python (it neither resolves provider references nor builds rows, so it does
less work than the project's reader). The numbers are synthetic sample data — not actual payer rates.

``--anchor`` measures instead the file shaped like a large payer's (issue 17): ``../shared/bench/gen_tic.py OUT
--scale 1.8 --groups 300000`` (1.455 GB of minified JSON, ``provider_references`` after ``in_network``; generated
once under ``benchmarks/_work/anchor-*`` unless ``--anchor-dir`` names a folder that holds it; gzipped with
``gzip -6 -k``), read for the 20 codes of its ``codes.txt``. From one run it prints, for the ``.json.gz`` and the
plain file: ``gzip -dc FILE > /dev/null`` (the floor every reader of a ``.gz`` pays), the project's whole
``paybench ingest`` into a new store (store commit included), ijson (C backend, items of the 20 codes kept), and
``mrf-extract`` (PyPI ``cms-mrf-extractor``, which converts the whole file, with no code filter) when it is
installed (``--mrf-extract PATH``, else looked up on PATH). Each runs as its own process tree; wall seconds, CPU
seconds (the tree's user + system time) and peak RSS (the largest sum of the tree's resident sizes, sampled every
20 ms) are measured from outside the same way for all, with the load average before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work" / "tic"
REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO.parent / "shared" / "bench" / "gen_tic.py"
GENERATOR_VERSION = 3
REFERENCE_GROUPS = 60_000
DEFAULT_CODES = ["44320", "99213", "27447"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000, help="approximate JSON size of each file (default 1000)")
    parser.add_argument("--codes", nargs="+", default=DEFAULT_CODES, help="codes to read (default 44320 99213 27447)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure only the project's reader")
    parser.add_argument("--anchor", action="store_true", help="measure the large-payer-shaped file of issue 17")
    parser.add_argument("--anchor-dir", type=Path, help="folder holding innet_pr_last.json(.gz) and codes.txt")
    parser.add_argument("--scale", type=float, default=1.8, help="gen_tic.py --scale of the anchor (default 1.8)")
    parser.add_argument("--groups", type=int, default=300_000, help="gen_tic.py --groups (default 300000)")
    parser.add_argument("--generator", type=Path, default=GENERATOR, help="path of gen_tic.py")
    parser.add_argument("--mrf-extract", help="the mrf-extract command of cms-mrf-extractor (default: on PATH)")
    parser.add_argument("--only", nargs="+", help="anchor: measure only these (gzip ours ijson mrf-extract)")
    parser.add_argument(
        "--forms",
        nargs="+",
        default=["gz", "json"],
        help="anchor: gz and/or json, measured in this order (a form given twice is measured twice; default: both)",
    )
    parser.add_argument("--worker", choices=["ours", "ijson"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.file, args.codes)
    if args.anchor:
        return anchor(args)

    files = generate(args.size_mb)
    print(
        f"TiC in-network reader, codes {' '.join(args.codes)}; {os.cpu_count()} cores; synthetic sample data — "
        "not actual payer rates"
    )
    print(f"load average before: {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    print(
        f"{'file':<44} {'reader':<7} {'MB/s':>7} {'seconds':>8} {'CPU s':>6} {'MB/CPU-s':>9} {'peak RSS MB':>12} "
        f"{'rows':>8} {'scan MB/s':>10}"
    )
    for layout in ("refs-first", "refs-last"):
        for path in (files[layout].with_suffix(".json.gz"), files[layout]):
            ours = _measure("ours", path, args.codes)
            _print(path, "ours", ours)
            if not args.skip_baseline and layout == "refs-first":
                baseline = _measure("ijson", path, args.codes)
                _print(path, "ijson", baseline)
                print(
                    f"{'':<44} {'ratio':<7} ours/ijson: {ours['mb_per_s'] / baseline['mb_per_s']:.1f}x MB/s, "
                    f"{ours['mb_per_cpu_s'] / baseline['mb_per_cpu_s']:.1f}x MB per CPU-second, "
                    f"peak RSS {ours['peak_rss_mb']:.0f} vs {baseline['peak_rss_mb']:.0f} MB"
                )
    return 0


def _print(path: Path, reader: str, result: dict) -> None:
    print(
        f"{path.name:<44} {reader:<7} {result['mb_per_s']:>7.1f} {result['seconds']:>8.2f} "
        f"{result['cpu_seconds']:>6.1f} {result['mb_per_cpu_s']:>9.1f} {result['peak_rss_mb']:>12.0f} "
        f"{result['rows']:>8} {result['scan_mb_per_s'] or 0:>10.1f}"
    )


def _measure(reader: str, path: Path, codes: list[str]) -> dict:
    command = [sys.executable, __file__, "--worker", reader, "--file", str(path), "--codes", *codes]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{reader} on {path.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _worker(reader: str, path: Path, codes: list[str]) -> int:
    json_bytes = (
        int(path.with_suffix("").with_suffix(".json").stat().st_size) if path.suffix == ".gz" else path.stat().st_size
    )
    if reader == "ours":
        from benchmark.ingest.tic.reader import read_in_network
        from benchmark.normalize.payers import resolve_payer

        resolve_payer("warm-up", None)  # payer rules load once per process; not part of reading a file
    else:
        import ijson

        backend = ijson.get_backend("yajl2_c")
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    scanned = []  # when the last chunk was scanned (rows are built after the whole file is checked)
    if reader == "ours":
        result = read_in_network(
            path,
            codes,
            is_synthetic=True,
            progress=lambda p: None if p.finished else scanned.append(time.perf_counter()),
        )
        rows = len(result.rates)
    else:
        wanted = set(codes)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:
            rows = sum(1 for item in backend.items(stream, "in_network.item") if item.get("billing_code") in wanted)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    helpers_mb = 0.0
    if reader == "ours":  # the inflater and batch-scanner helper processes (benchmark.ingest.tic.workers)
        from benchmark.ingest.tic import workers as tic_workers

        for role in ("inflater", "scanner"):
            helper = tic_workers._STATE.get(role)
            if helper is not None:
                helpers_mb += _peak_rss_mb(None, f"/proc/{helper.process.pid}/status")
                fields = Path(f"/proc/{helper.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    print(
        json.dumps(
            {
                "seconds": seconds,
                "mb_per_s": json_bytes / 1e6 / seconds,
                "peak_rss_mb": _peak_rss_mb(usage) + helpers_mb,
                "helpers_rss_mb": helpers_mb,
                "rows": rows,
                "cpu_seconds": cpu,
                "mb_per_cpu_s": json_bytes / 1e6 / cpu,
                "scan_mb_per_s": json_bytes / 1e6 / (scanned[-1] - start) if scanned else None,
            }
        )
    )
    return 0


def _peak_rss_mb(usage, status: str = "/proc/self/status") -> float:
    """A process's peak RSS: VmHWM (ru_maxrss can carry the parent's peak over fork + exec on Linux)."""
    try:
        for line in Path(status).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return usage.ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------------------------------
# --anchor: the large-payer-shaped file, end to end, against gzip -dc, ijson and cms-mrf-extractor


def anchor(args: argparse.Namespace) -> int:
    folder = args.anchor_dir or WORK.parent / f"anchor-{args.scale:g}-{args.groups}"
    plain = folder / "innet_pr_last.json"
    if not plain.exists():
        if not args.generator.exists():
            raise SystemExit(f"no {plain} and no generator at {args.generator} (give --generator or --anchor-dir)")
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(args.generator), str(folder), "--scale", str(args.scale)]
        subprocess.run([*command, "--groups", str(args.groups)], check=True, stdout=subprocess.DEVNULL)
    packed = plain.with_suffix(".json.gz")
    if not packed.exists():
        subprocess.run(["gzip", "-6", "-k", str(plain)], check=True)
    codes = (folder / "codes.txt").read_text().split()
    json_mb = plain.stat().st_size / 1e6
    mrf = args.mrf_extract or shutil.which("mrf-extract")
    only = set(args.only or ["gzip", "ours", "ijson", "mrf-extract"])
    print(
        f"TiC anchor file {plain.name}: {json_mb:,.0f} MB JSON, {packed.stat().st_size / 1e6:,.0f} MB gzip; "
        f"{len(codes)} codes; {os.cpu_count()} cores; synthetic sample data — not actual payer rates"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'file':<24} {'reader':<12} {'seconds':>8} {'MB/s':>7} {'CPU s':>7} {'MB/CPU-s':>8} {'peak RSS MB':>12} "
        f"{'peak PSS MB':>12}  note"
    )
    results: dict[tuple[int, str], dict] = {}  # (pass, reader) -> result: a form given twice is measured twice
    WORK.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-tic-", dir=WORK.parent) as scratch:
        for number, form in enumerate(args.forms):
            path = packed if form == "gz" else plain
            runs: list[tuple[str, list[str] | None, str]] = []
            if "gzip" in only:
                runs.append(("gzip -dc", ["sh", "-c", 'exec gzip -dc "$0" > /dev/null', str(packed)], ""))
            if "ours" in only:
                store = Path(scratch) / f"store-{number}-{form}"  # a new store each pass (else: nothing to ingest)
                paybench = Path(sys.executable).with_name("paybench")
                command = [str(paybench), "ingest", str(path), "--codes", *codes, "--out", str(store)]
                runs.append(("ours ingest", command, "paybench ingest, store commit included"))
            if "ijson" in only:
                command = [sys.executable, __file__, "--worker", "ijson", "--file", str(path), "--codes", *codes]
                runs.append(("ijson (C)", command, "items of the codes kept, no rows built"))
            if "mrf-extract" in only:
                if mrf:
                    source = Path(scratch) / f"mrf-in-{number}-{form}"
                    source.mkdir()
                    (source / path.name).symlink_to(path)
                    command = [mrf, str(source), "-o", str(Path(scratch) / f"mrf-out-{number}-{form}"), "-q"]
                    runs.append(("mrf-extract", command, "cms-mrf-extractor, whole file (no code filter)"))
                else:
                    runs.append(("mrf-extract", None, "not installed (pip install cms-mrf-extractor; --mrf-extract)"))
            for name, command, note in runs:
                if command is None:
                    print(f"{path.name:<24} {name:<12} {'-':>8} {'-':>7} {'-':>7} {'-':>8} {'-':>12} {'-':>12}  {note}")
                    continue
                result = _run_tree(command)
                if result["returncode"]:
                    note = f"FAILED (exit {result['returncode']}): {result['stderr'][-300:]}"
                results[(number, name)] = result
                print(
                    f"{path.name:<24} {name:<12} {result['seconds']:>8.1f} {json_mb / result['seconds']:>7.0f} "
                    f"{result['cpu_seconds']:>7.1f} {json_mb / max(result['cpu_seconds'], 1e-9):>8.0f} "
                    f"{result['peak_rss_mb']:>12,.0f} {result['peak_pss_mb']:>12,.0f}  {note}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    floors = [results[(number, "gzip -dc")] for number in range(len(args.forms)) if (number, "gzip -dc") in results]
    for number, form in enumerate(args.forms):
        ours = results.get((number, "ours ingest"))
        if not ours:
            continue
        floor = results.get((number, "gzip -dc")) or (floors[0] if floors else None)  # this pass's, else the first
        parts = []
        if floor:
            parts.append(
                f"vs gzip -dc: {ours['seconds'] / floor['seconds']:.2f}x wall, "
                f"{ours['cpu_seconds'] / floor['cpu_seconds']:.2f}x CPU"
            )
        for other in ("ijson (C)", "mrf-extract"):
            theirs = results.get((number, other))
            if theirs and not theirs["returncode"]:
                parts.append(
                    f"vs {other}: ours {ours['seconds'] / theirs['seconds']:.2f}x its wall time, "
                    f"{ours['cpu_seconds'] / theirs['cpu_seconds']:.2f}x its CPU time, "
                    f"RSS {ours['peak_rss_mb']:,.0f} vs {theirs['peak_rss_mb']:,.0f} MB"
                )
        print(f"ratios ({form}{f', pass {number + 1}' if len(args.forms) > 1 else ''}): " + "; ".join(parts))
    return 0


def _run_tree(command: list[str]) -> dict:
    """Run a command; its wall and CPU seconds (the whole process tree, from RUSAGE_CHILDREN) and the peak of the
    summed resident size of the tree (sampled every 20 ms from /proc)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read() if process.stderr else ""))
    reader.start()
    peak = peak_pss = 0
    while process.poll() is None:
        rss, pss = _tree_rss_kb(process.pid)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak / 1024,
        "peak_pss_mb": peak_pss / 1024,
        "returncode": process.returncode,
        "stderr": "".join(errors),
    }


def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """RSS and PSS (shared pages divided among the processes that map them) of a process and all its descendants,
    in kB (0 for those that ended meanwhile). RSS counts the helpers' shared-memory slots once per process."""
    total = total_pss = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    total += int(line.split()[1])
                elif line.startswith("Pss:"):
                    total_pss += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total, total_pss


# ---------------------------------------------------------------------------------------------------------------------
# The synthetic file


def generate(size_mb: int) -> dict[str, Path]:
    """Both layouts (and their .gz) of a ~size_mb MB file, generated once and cached."""
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {
        layout: WORK / f"in-network-v{GENERATOR_VERSION}-{size_mb}MB-{layout}.json"
        for layout in ("refs-first", "refs-last")
    }
    if all(p.exists() and p.with_suffix(".json.gz").exists() for p in paths.values()):
        return paths
    started = time.perf_counter()
    rnd = random.Random(44320)
    references = _references(rnd)
    items = WORK / "items.tmp"
    with open(items, "wb") as out:
        written, index = 0, 0
        while written < size_mb * 1_000_000 - len(references):
            chunk = (b"," if index else b"") + json.dumps(_item(rnd, index), separators=(",", ":")).encode()
            out.write(chunk)
            written += len(chunk)
            index += 1
    head = json.dumps(
        {
            "reporting_entity_name": "Synthetic Health Plan (synthetic sample data — not actual payer rates)",
            "reporting_entity_type": "health insurance issuer",
            "plan_name": "Synthetic PPO",
            "plan_id_type": "ein",
            "plan_id": "12-3456789",
            "plan_sponsor_name": "Synthetic Employer",
            "issuer_name": "Synthetic Health Plan",
            "plan_market_type": "group",
            "last_updated_on": "2026-01-01",
            "version": "2.0.0",
        },
        separators=(",", ":"),
    ).encode()[:-1]
    for layout, path in paths.items():
        with open(path, "wb") as out, open(items, "rb") as body:
            out.write(head)
            if layout == "refs-first":
                out.write(b',"provider_references":' + references)
            out.write(b',"in_network":[')
            while block := body.read(1 << 24):
                out.write(block)
            out.write(b"]")
            if layout == "refs-last":
                out.write(b',"provider_references":' + references)
            out.write(b"}")
        _gzip(path)
    items.unlink()
    print(
        f"generated {', '.join(p.name for p in paths.values())} (+ .gz) in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return paths


def _gzip(path: Path) -> None:
    try:
        from isal import igzip as packer  # fast; the output is ordinary gzip
    except ImportError:  # pragma: no cover
        packer = gzip
    with open(path, "rb") as source, packer.open(path.with_suffix(".json.gz"), "wb", compresslevel=2) as target:
        while block := source.read(1 << 24):
            target.write(block)


def _references(rnd: random.Random) -> bytes:
    entries = []
    for group_id in range(1, REFERENCE_GROUPS + 1):
        groups = [
            {
                "npi": [rnd.randrange(1_000_000_000, 9_999_999_999) for _ in range(rnd.randint(1, 12))],
                "tin": {
                    "type": "ein",
                    "value": f"{rnd.randrange(10, 99)}-{rnd.randrange(1_000_000, 9_999_999)}",
                    "business_name": f"Synthetic Medical Group {rnd.randrange(100_000)}",
                },
            }
            for _ in range(rnd.randint(1, 4))
        ]
        entries.append(
            {
                "provider_group_id": group_id,
                "network_name": ["Synthetic Choice", "Synthetic Open Access"],
                "provider_groups": groups,
            }
        )
    return json.dumps(entries, separators=(",", ":")).encode()


_POS = ["11", "19", "21", "22", "23", "24", "02", "10"]
# Real files repeat the same provider-reference lists (one per contract / fee schedule) across codes.
_CONTRACTS = [
    random.Random(n).sample(range(1, REFERENCE_GROUPS + 1), random.Random(-n).randint(1, 10)) for n in range(3000)
]


def _item(rnd: random.Random, index: int) -> dict:
    code = ["44320", "99213", "27447"][index % 3] if index % 1000 < 3 else _code(rnd, index)
    rates = []
    for _ in range(rnd.randint(20, 200)):
        prices = []
        for _ in range(rnd.randint(1, 3)):
            kind = rnd.random()
            price = {
                "negotiated_type": "negotiated" if kind < 0.8 else "fee schedule" if kind < 0.9 else "percentage",
                "negotiated_rate": round(rnd.uniform(40, 4000), 2) if kind < 0.9 else rnd.choice([55, 65, 70.5]),
                "expiration_date": "9999-12-31",
                "service_code": sorted(rnd.sample(_POS, rnd.randint(1, 4))),
                "billing_class": rnd.choice(["professional", "institutional"]),
                "setting": rnd.choice(["outpatient", "inpatient", "both"]),
            }
            if rnd.random() < 0.2:
                price["billing_code_modifier"] = [rnd.choice(["26", "TC", "80", "59"])]
            prices.append(price)
        references = (
            rnd.choice(_CONTRACTS)
            if rnd.random() < 0.8
            else rnd.sample(range(1, REFERENCE_GROUPS + 1), rnd.randint(1, 10))
        )
        rates.append({"provider_references": references, "negotiated_prices": prices})
    return {
        "negotiation_arrangement": "ffs",
        "name": f"Synthetic service {index}",
        "billing_code_type": "CPT",
        "billing_code_type_version": "2026",
        "billing_code": code,
        "description": "Synthetic service description (not an AMA descriptor)",
        "negotiated_rates": rates,
    }


def _code(rnd: random.Random, index: int) -> str:
    if index % 7 == 0:
        return f"{rnd.choice('ABCEGHJ')}{rnd.randrange(10_000):04d}"
    return f"{10_000 + (index * 37) % 89_999:05d}"


if __name__ == "__main__":
    raise SystemExit(main())
