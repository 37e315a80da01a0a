"""Store and distributed-ingest benchmarks: Dask scaling, and a per-code benchmark over a 100M-row store.

Run: ``.venv/bin/python benchmarks/bench_store.py [--files 12] [--rows 100_000_000] [--skip-ingest] [--skip-query]``.

1. **Ingest scaling.** Generates ``--files`` TiC in-network files (synthetic, gzip) and ingests them into a fresh
   store with the local engine and with ``--engine dask`` on LocalClusters of 1 and of 2 workers (started and warmed
   up before the clock starts), alternating the three for ``--rounds`` rounds; prints the best time of each and the
   1-worker / 2-worker ratio.
2. **Per-code query over a big store.** Writes a ``--rows`` store straight into the partitioned layout with DuckDB
   (no reader involved: the rows are generated, labelled synthetic, with a manifest of 1,000 generated files), then
   runs, each in its own process so peak RSS is its own: the project's per-code benchmark
   (``benchmark_table(code, source=store)``), the report's per-code read (``load_rates(store, [code])`` +
   ``compare_to_medicare`` + statistics), and a baseline that scans every part for the code's rows without the
   partition pruning. Prints seconds, peak RSS and ratios. The generated store is deleted afterwards.

Everything is written under ``benchmarks/_work/`` (ignored by git) and removed at the end; check free disk space first
(``df -h``): 100M rows take about 3 GB.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parent / "_work"
CODE = "44320"
N_CODES = 2000
N_FILES_IN_BIG_STORE = 1000
FAMILIES = {
    "Aetna": "Aetna Life Insurance Company",
    "BCBS": "Blue Cross and Blue Shield of Texas",
    "Cigna": "Cigna Health and Life Insurance Company",
    "UnitedHealthcare": "UnitedHealthcare Insurance Company",
    "Other": "Example Regional Health Plan",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=12, help="generated TiC files for the scaling benchmark")
    parser.add_argument("--items", type=int, default=400, help="in_network items (codes) per generated file")
    parser.add_argument("--groups", type=int, default=20, help="provider groups per item (2 prices each)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the scaling benchmark (best kept)")
    parser.add_argument("--rows", type=int, default=100_000_000, help="rows of the generated store")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return
    WORK_DIR.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=WORK_DIR, prefix="bench_store-"))
    try:
        if not args.skip_ingest:
            bench_ingest_scaling(work, args.files, args.items, args.groups, args.rounds)
        if not args.skip_query:
            bench_per_code_query(work, args.rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------------- 1. scaling
def bench_ingest_scaling(work: Path, n_files: int, items: int, groups: int, rounds: int) -> None:
    import os

    from benchmark.store import distributed, pipeline

    files = [
        generate_tic_file(work / "tic" / f"generated-{i:03d}_in-network-rates.json.gz", i, items, groups)
        for i in range(n_files)
    ]
    size = sum(f.stat().st_size for f in files)
    print(
        f"ingest: {n_files} generated TiC files, {items} codes x {groups} provider groups x 2 prices each, "
        f"{size / 1e6:.1f} MB gzip (synthetic, in {work}); load average before: {os.getloadavg()[0]:.1f}"
    )
    timings: dict[str, list[float]] = {"dask-1": [], "dask-2": [], "local": []}
    with distributed.local_cluster(workers=1) as one, distributed.local_cluster(workers=2) as two:
        addresses = {"dask-1": one.scheduler_address, "dask-2": two.scheduler_address}
        for name, address in addresses.items():  # workers import the package before the clock starts
            pipeline.ingest(files[:2], None, work / f"warm-{name}", engine="dask", scheduler=address)
        for round_number in range(rounds):  # alternate the three, so a busy moment of the machine hits all alike
            for name in timings:
                out = work / f"store-{name}-{round_number}"
                start = time.perf_counter()
                if name == "local":
                    run = pipeline.ingest(files, None, out)
                else:
                    run = pipeline.ingest(files, None, out, engine="dask", scheduler=addresses[name])
                timings[name].append(time.perf_counter() - start)
                assert run.ok and run.count("loaded") == n_files
                rates = int(run.store.manifest()["rows_loaded"].sum())
                shutil.rmtree(out)
    best = {name: min(values) for name, values in timings.items()}
    for name, label in (
        ("local", "local engine (baseline)"),
        ("dask-1", "dask, 1 worker"),
        ("dask-2", "dask, 2 workers"),
    ):
        print(
            f"  {label:<24} best of {rounds}: {best[name]:6.1f} s ({rates / best[name]:,.0f} rates/s; "
            f"all: {', '.join(f'{t:.1f}' for t in timings[name])})"
        )
    print(
        f"  scaling 1 -> 2 workers: x{best['dask-1'] / best['dask-2']:.2f} (ideal x2.00 on 2 free cores); "
        f"dask 2 workers / local: x{best['dask-2'] / best['local']:.2f} time; "
        f"load average after: {os.getloadavg()[0]:.1f}"
    )


def generate_tic_file(path: Path, seed: int, items: int, groups: int = 10) -> Path:
    """A synthetic TiC in-network file (schema 1.x layout of the shipped sample) with ``items`` codes."""
    import numpy as np

    from benchmark import config

    rng = np.random.default_rng(seed)
    family = list(FAMILIES)[seed % 4]
    codes = [f"{10021 + 43 * i:05d}" for i in rng.choice(N_CODES, size=items, replace=False)]
    in_network = []
    for code in codes:
        rates = []
        for _group in range(groups):
            npi = int(1_000_000_000 + rng.integers(0, 899_999_999))
            tin = f"{rng.integers(10, 99)}-{rng.integers(1_000_000, 9_999_999)}"
            amount = float(np.round(rng.uniform(150, 5000), 2))
            rates.append(
                {
                    "provider_groups": [{"npi": [npi], "tin": {"type": "ein", "value": tin}}],
                    "negotiated_prices": [
                        {
                            "negotiated_type": "negotiated",
                            "negotiated_rate": amount,
                            "expiration_date": "9999-12-31",
                            "service_code": ["21", "22"],
                            "billing_class": "professional",
                        },
                        {
                            "negotiated_type": "negotiated",
                            "negotiated_rate": round(amount * 1.2, 2),
                            "expiration_date": "9999-12-31",
                            "service_code": ["11"],
                            "billing_class": "professional",
                        },
                    ],
                }
            )
        in_network.append(
            {
                "negotiation_arrangement": "ffs",
                "name": f"Generated code {code}",
                "billing_code_type": "CPT",
                "billing_code_type_version": "2025",
                "billing_code": code,
                "description": f"Generated code {code}",
                "negotiated_rates": rates,
            }
        )
    document = {
        "reporting_entity_name": FAMILIES[family],
        "reporting_entity_type": "health insurance issuer",
        "plan_name": f"Generated plan {seed} ({config.SYNTHETIC_LABEL})",
        "plan_id_type": "EIN",
        "plan_id": f"{700000000 + seed}",
        "plan_market_type": "group",
        "last_updated_on": "2025-12-01",
        "version": "1.3.1",
        "in_network": in_network,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=1) as handle:
        json.dump(document, handle)
    return path


# --------------------------------------------------------------------------------------------------- 2. query
def bench_per_code_query(work: Path, rows: int) -> None:
    root = work / "big-store"
    start = time.perf_counter()
    generate_store(root, rows)
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    print(
        f"\nper-code query: generated store of {rows:,} rows, {size / 1e9:.2f} GB Parquet, "
        f"{sum(1 for _ in root.rglob('*.parquet')):,} files, in {time.perf_counter() - start:.0f} s"
    )
    results = {kind: _in_own_process(kind, root) for kind in ("benchmark_table", "report_read", "full_scan")}
    ours = results["benchmark_table"]
    print(
        f"  benchmark_table({CODE!r}, source=store): {ours['seconds']:6.2f} s, peak RSS {ours['rss_mb']:,.0f} MB, "
        f"{ours['groups']} payer x setting groups from {ours['rows']:,} rows"
    )
    read = results["report_read"]
    print(
        f"  report path: load_rates(store, [{CODE!r}]) + compare_to_medicare + stats: {read['seconds']:6.2f} s, "
        f"peak RSS {read['rss_mb']:,.0f} MB ({read['rows']:,} rates)"
    )
    scan = results["full_scan"]
    print(
        f"  baseline, DuckDB scanning all parts for the code (no partition pruning): {scan['seconds']:6.2f} s, "
        f"peak RSS {scan['rss_mb']:,.0f} MB ({scan['rows']:,} rows)"
    )
    print(
        f"  benchmark_table / full scan: x{ours['seconds'] / scan['seconds']:.2f} time; "
        f"report path / full scan: x{read['seconds'] / scan['seconds']:.2f} time"
    )


def generate_store(root: Path, rows: int) -> None:
    """A store of ``rows`` generated rates written with DuckDB straight into the partitioned layout + manifest."""
    import duckdb
    import pandas as pd

    from benchmark.schema import RATE_COLUMNS
    from benchmark.store import rate_store as st

    store = st.open_store(root, create=True)
    families = list(FAMILIES)
    payer_case = " ".join(f"WHEN {i} THEN '{FAMILIES[f]}'" for i, f in enumerate(families))
    family_case = " ".join(f"WHEN {i} THEN '{f}'" for i, f in enumerate(families))
    localities = ["04412-18", "04412-31", "03102-00", "05402-05", "01112-26", "13202-01", "09102-03", "06102-16"]
    states = ["TX", "TX", "AZ", "IL", "CA", "NY", "FL", "CO"]
    columns = {  # every generated column; columns of RateSchema not listed here read back as empty
        "source_type": "CASE WHEN h % 10 < 8 THEN 'tic' ELSE 'hospital' END",
        "payer_raw": f"CASE h % 5 {payer_case} END",
        "payer_family": f"CASE h % 5 {family_case} END",
        "payer_brand": "NULL::VARCHAR",
        "plan_raw": "'Generated plan ' || (h % 50)::VARCHAR",
        "plan_id": "NULL::VARCHAR",
        "product_line": "CASE WHEN h % 9 = 0 THEN 'medicare_advantage' ELSE 'commercial' END",
        "network_name": "NULL::VARCHAR",
        "billing_code": "code",
        "billing_code_type": "'CPT'",
        "modifiers": "CASE WHEN h % 11 = 0 THEN '26' ELSE '' END",
        "pos_setting": "CASE WHEN h % 3 = 0 THEN 'non_facility' ELSE 'facility' END",
        "care_setting": "'unknown'",
        "billing_class": "CASE WHEN h % 7 = 0 THEN 'institutional' ELSE 'professional' END",
        "rate_type": "'negotiated'",
        "amount": "amount",
        "amount_unit": "'USD'",
        "amount_usd": "amount",
        "dollar_basis": "NULL::VARCHAR",
        "service_codes": "'21|22'",
        "negotiation_arrangement": "'ffs'",
        "expiration_date": "'9999-12-31'",
        "provider_npis": "(1000000000 + (h >> 8) % 800000)::VARCHAR",
        "provider_tin": "'TIN' || ((h >> 8) % 200000)::VARCHAR",
        "provider_name": "NULL::VARCHAR",
        "state": f"CASE WHEN h % 2 = 0 THEN NULL ELSE {_array(states)}[(1 + (h >> 4) % {len(states)})::BIGINT] END",
        "medicare_locality": f"CASE WHEN h % 2 = 0 THEN NULL ELSE {_array(localities)}[(1 + (h >> 4) % "
        f"{len(localities)})::BIGINT] END",
        "source_file": "'generated-' || file::VARCHAR || '.json.gz'",
        "source_locator": "'in_network[' || (i % 100000)::VARCHAR || ']'",
        "source_sha256": "sha256('generated file ' || file::VARCHAR)",
        "is_synthetic": "TRUE",
        "_part": "part",
        "_row": "i",
    }
    unknown = [c for c in columns if c not in RATE_COLUMNS and not c.startswith("_")]
    assert not unknown, f"generated columns not in the rate schema: {unknown}"
    codes = sorted({CODE, *(f"{10021 + 43 * i:05d}" for i in range(N_CODES - 1))})
    per_code = rows // len(codes)  # every code gets the same number of rows; row i has code i // per_code
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.register("code_list", pd.DataFrame({"k": range(len(codes)), "code": codes}))
    con.execute(
        f"CREATE TABLE parts AS SELECT range AS file, "
        f"substr(sha256('generated file ' || range::VARCHAR), 1, 16) || '-' || "
        f"substr(md5(range::VARCHAR), 1, 8) AS part FROM range({N_FILES_IN_BIG_STORE})"
    )
    select = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    batches = 20  # by code range: each batch writes the partitions of its own codes only
    for batch in range(batches):
        first, last = len(codes) * batch // batches, len(codes) * (batch + 1) // batches
        con.execute(f"""
            COPY (
                WITH g AS (
                    SELECT i, hash(i) AS h FROM range({first * per_code}, {last * per_code}) t(i)
                ), r AS (
                    SELECT g.i, g.h, c.code, p.file, p.part, round(150 + (g.h % 485000) / 100.0, 2) AS amount
                    FROM g JOIN code_list c ON c.k = g.i // {per_code}
                           JOIN parts p ON p.file = g.h % {N_FILES_IN_BIG_STORE}
                )
                SELECT {select}, upper(substr(code, 1, {store.prefix_length})) AS code_prefix
                FROM r ORDER BY code
            ) TO '{root / st.RATES_DIR}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072,
                PARTITION_BY (source_type, payer_family, code_prefix), OVERWRITE_OR_IGNORE true,
                FILENAME_PATTERN 'generated-{batch:02d}-{{i}}')
        """)
    counts = con.execute(f"""
        SELECT p.file, p.part, count(*) AS n FROM parts p
        JOIN (SELECT hash(i) % {N_FILES_IN_BIG_STORE} AS file FROM range({per_code * len(codes)}) t(i)) r USING (file)
        GROUP BY ALL ORDER BY p.file""").df()
    manifest = pd.DataFrame(
        {
            "seq": range(len(counts)),
            "source_path": "generated://file-" + counts["file"].astype(str),
            "source_file": "generated-" + counts["file"].astype(str) + ".json.gz",
            "sha256": [hashlib.sha256(f"generated file {f}".encode()).hexdigest() for f in counts["file"]],
            "size_bytes": None,
            "status": st.LOADED,
            "reason": None,
            "codes": st.ALL_CODES,
            "rows_seen": counts["n"],
            "rows_loaded": counts["n"],
            "rows_quarantined": 0,
            "rows_filtered_out": 0,
            "rows_deduplicated": 0,
            "part_id": counts["part"],
            "schema_version": st.schema_version(),
            "is_synthetic": True,
            "ingested_at": "generated",
            "run_id": "generated",
            "engine": "generated",
        }
    )
    st.ManifestSchema.validate(manifest[st.MANIFEST_COLUMNS]).to_parquet(root / st.MANIFEST, index=False)


def _array(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _in_own_process(kind: str, root: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _child(kind: str, root: str) -> dict:
    """One measurement, in this fresh process: seconds and peak RSS."""
    import benchmark as bm
    from benchmark.analysis import rates, stats
    from benchmark.reference import medicare

    medicare.medicare_amounts([CODE], 2025, localities="all")  # load the CMS files before the clock starts
    rates._single_locality_states()
    start = time.perf_counter()
    if kind == "benchmark_table":
        table = bm.benchmark_table(CODE, source=root)
        result = {"groups": len(table), "rows": int(table["n"].sum())}
    elif kind == "report_read":
        loaded = rates.load_rates(root, codes=[CODE])
        compared = rates.compare_to_medicare(loaded.rates, 2025)
        stats.distribution_table(stats.benchmark_rows(compared))
        result = {"rows": len(loaded.rates)}
    elif kind == "full_scan":
        import duckdb

        frame = (
            duckdb.connect()
            .execute(
                "SELECT * FROM read_parquet(?, hive_partitioning=true, union_by_name=true) WHERE billing_code = ?",
                [str(Path(root) / "rates" / "**" / "*.parquet"), CODE],
            )
            .df()
        )
        result = {"rows": len(frame)}
    else:
        raise ValueError(kind)
    result["seconds"] = time.perf_counter() - start
    result["rss_mb"] = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ``ru_maxrss`` would include the parent's peak (kept across fork + exec),
    so ``VmHWM`` of the current address space is read where it exists."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
