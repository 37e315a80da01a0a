"""Payer-hospital cross-check over a store of a million generated rates, against the plain benchmark query.

Run: ``.venv/bin/python benchmarks/bench_crosscheck.py [--rows 1_000_000] [--hospitals 50]``.

Writes a rate store of ``--rows`` generated rates (synthetic, labelled so; DuckDB straight into the partitioned
layout with a manifest, no reader involved) under ``benchmarks/_work/``: 1 row in 20 a hospital standard-charge
row (institutional, in a file named ``<ein>_hospital-<k>_standardcharges.csv``), 1 in 20 the payer's TiC rate for the
same contract (at the hospital's TIN; 1 contract in 10 published 10% higher by the payer), the rest professional TiC
rates of physician groups (not at any hospital). Then, in this one process, after a warm-up of the Medicare tables:

1. the plain benchmark query of one code over the store (``benchmark_sql.benchmark_table``), the baseline;
2. the same statistics in pandas over every rate of the store (``stats.distribution_table(benchmark_rows(...))``);
3. reading every rate of the store into pandas (``Store.read_rates``), needed by 4 and 5;
4. the cross-check of every rate (``crosscheck.crosscheck``) with a directory of the hospitals;
5. the flags of every rate (``flags.flag_rates``; the directory's hospitals have a taxonomy, the physician groups'
   NPIs are not in it, so their plausibility check runs and finds the specialty unknown).

Prints wall and CPU seconds of each and the cross-check / baseline ratios; checks the verdict counts against the
generated truth. The store is deleted afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parent / "_work"
CODES = ["44320", *(f"{40000 + 7 * i:05d}" for i in range(499))]
FAMILIES = {
    "Aetna": "Aetna Life Insurance Company",
    "BCBS": "Blue Cross and Blue Shield of Texas",
    "Cigna": "Cigna Health and Life Insurance Company",
    "UnitedHealthcare": "UnitedHealthcare Insurance Company",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hospitals", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    root = WORK_DIR / "crosscheck_store"
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        directory = generate_store(root, args.rows, args.hospitals)
        print(f"generated store of {args.rows:,} rates in {time.perf_counter() - started:.1f} s ({root})")
        measure(root, directory, args.rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def measure(root: Path, directory, rows: int) -> None:
    from benchmark.analysis import benchmark_sql, crosscheck, flags, stats
    from benchmark.analysis.rates import single_locality_states
    from benchmark.reference import medicare
    from benchmark.store.rate_store import open_store

    store = open_store(root)
    medicare.medicare_amounts([CODES[0]], 2025, localities="all")  # CMS tables loaded before the clock starts
    single_locality_states()
    timings: dict[str, tuple[float, float]] = {}

    def timed(name: str, call):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    table = timed("plain benchmark query (DuckDB, one code)", lambda: benchmark_sql.benchmark_table(store, CODES[0]))
    rates = timed("read every rate into pandas", lambda: store.read_rates(None))
    timed("benchmark statistics in pandas, every rate", lambda: stats.distribution_table(stats.benchmark_rows(rates)))
    checked = timed("cross-check, every rate", lambda: crosscheck.crosscheck(rates, directory))
    flagged = timed("flags, every rate", lambda: flags.flag_rates(rates, directory, "2026-12-06"))
    print(
        f"\n{len(rates):,} rates read; benchmark table of {CODES[0]}: {int(table['n'].sum()):,} rates in {len(table)} groups"
    )
    width = max(len(name) for name in timings)
    for name, (wall, cpu) in timings.items():
        print(f"  {name:<{width}}  wall {wall:7.2f} s   CPU {cpu:7.2f} s")
    base_wall, base_cpu = timings["plain benchmark query (DuckDB, one code)"]
    cross_wall, cross_cpu = timings["cross-check, every rate"]
    print(f"  cross-check / plain benchmark query: x{cross_wall / base_wall:.1f} wall, x{cross_cpu / base_cpu:.1f} CPU")
    counts = checked["crosscheck"].value_counts().to_dict()
    print("  verdicts:", counts)
    print("  flagged:", int(flagged["flagged"].sum()))
    contracts = (rows + 19) // 20  # row i % 20 == 0 hospital, == 1 payer
    disagree = len(range(0, contracts, 10))
    expected = {"agree": 2 * (contracts - disagree), "disagree": 2 * disagree}
    assert {k: counts.get(k, 0) for k in expected} == expected, (counts, expected)
    print("  verdict counts match the generated truth")


def generate_store(root: Path, rows: int, hospitals: int):
    """Write the store; return the provider directory of the hospitals."""
    import duckdb
    import pandas as pd

    from benchmark.schema import RATE_COLUMNS
    from benchmark.store import rate_store as st

    store = st.open_store(root, create=True)
    n_families = len(FAMILIES)
    families = list(FAMILIES)
    payer_case = " ".join(f"WHEN {i} THEN '{FAMILIES[f]}'" for i, f in enumerate(families))
    family_case = " ".join(f"WHEN {i} THEN '{f}'" for i, f in enumerate(families))
    codes = "[" + ", ".join(f"'{c}'" for c in CODES) + "]"
    # c = contract number (i // 20), k = its hospital, kind = i % 20 (0 hospital row, 1 the payer's rate, else group)
    kind = "(i % 20)"
    hospital_file = f"(100000000 + c % {hospitals})::VARCHAR || '_hospital-' || (c % {hospitals})::VARCHAR || '_standardcharges.csv'"
    family = f"(c // {hospitals}) % {n_families}"
    columns = {
        "source_type": f"CASE WHEN {kind} = 0 THEN 'hospital' ELSE 'tic' END",
        "payer_raw": f"CASE {family} {payer_case} END",
        "payer_family": f"CASE {family} {family_case} END",
        "payer_brand": "NULL::VARCHAR",
        "plan_raw": "'Generated plan (SYNTHETIC SAMPLE)'",
        "plan_id": "NULL::VARCHAR",
        "product_line": "'commercial'",
        "network_name": "NULL::VARCHAR",
        "billing_code": f"{codes}[(1 + (c // {hospitals * n_families}) % {len(CODES)})::BIGINT]",
        "billing_code_type": "'CPT'",
        "modifiers": "''",
        "pos_setting": "'facility'",
        "care_setting": f"CASE WHEN {kind} <= 1 THEN 'inpatient' ELSE 'unknown' END",
        "billing_class": f"CASE WHEN {kind} <= 1 THEN 'institutional' ELSE 'professional' END",
        "rate_type": "'negotiated'",
        "amount": "amount",
        "amount_unit": "'USD'",
        "amount_usd": "amount",
        "expiration_date": "'9999-12-31'",
        "provider_npis": f"CASE WHEN {kind} <= 1 THEN NULL ELSE (1000000000 + (h >> 8) % 800000)::VARCHAR END",
        "provider_tin": f"CASE WHEN {kind} = 0 THEN NULL WHEN {kind} = 1 THEN "
        f"substr((100000000 + c % {hospitals})::VARCHAR, 1, 2) || '-' || substr((100000000 + c % {hospitals})::VARCHAR, 3) "
        "ELSE 'TIN' || ((h >> 8) % 200000)::VARCHAR END",
        "provider_name": f"CASE WHEN {kind} = 0 THEN 'Generated Hospital ' || (c % {hospitals})::VARCHAR END",
        "state": "'TX'",
        "medicare_locality": "'04412-18'",
        "source_file": f"CASE WHEN {kind} = 0 THEN {hospital_file} ELSE 'generated-tic-' || ({family})::VARCHAR || '.json.gz' END",
        "source_locator": "'row ' || i::VARCHAR",
        "source_sha256": "sha256(source_file_key)",
        "is_synthetic": "TRUE",
        "_row": "i",
    }
    unknown = [c for c in columns if c not in RATE_COLUMNS and not c.startswith("_")]
    assert not unknown, unknown
    select = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    # every contract (hospital x family x code) occurs once, so the generated truth is known
    assert (rows + 19) // 20 <= hospitals * n_families * len(CODES), "more contracts than hospitals x families x codes"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    # the payer's rate (kind 1) is the hospital's amount, 10% higher for every 10th contract
    con.execute(f"""
        CREATE TABLE generated AS
        WITH g AS (SELECT i, i // 20 AS c, hash(i) AS h FROM range({rows}) t(i))
        SELECT *, CASE WHEN {kind} = 0 THEN {hospital_file}
                       ELSE 'generated-tic-' || ({family})::VARCHAR || '.json.gz' END AS source_file_key,
               CASE WHEN {kind} > 1 THEN round(500 + (h % 300000) / 100.0, 2)
                    WHEN {kind} = 1 AND c % 10 = 0 THEN round((20000 + hash(c) % 20000) * 1.1, 2)
                    ELSE (20000 + hash(c) % 20000)::DOUBLE END AS amount
        FROM g
    """)
    files = con.execute("SELECT source_file_key AS f, count(*) AS n FROM generated GROUP BY 1 ORDER BY 1").df()
    # part ids and part file names as the ingest writes them (rate_store.PART_FILE: <sha256[:16]>-<8 hex>, then
    # -<chunk>-<n>.parquet): the store reads only files whose name names a committed part
    files["part"] = [
        (lambda digest: f"{digest[:16]}-{digest[16:24]}")(hashlib.sha256(f.encode()).hexdigest()) for f in files["f"]
    ]
    for f, part in zip(files["f"], files["part"]):
        con.execute(
            f"""
            COPY (
                SELECT {select}, '{part}' AS _part, upper(substr(billing_code, 1, {store.prefix_length})) AS code_prefix
                FROM generated g WHERE g.source_file_key = $f
            ) TO '{root / st.RATES_DIR}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072,
                PARTITION_BY (source_type, payer_family, code_prefix), OVERWRITE_OR_IGNORE true,
                FILENAME_PATTERN '{part}-00000-{{i}}')
        """,
            {"f": f},
        )
    manifest = pd.DataFrame(
        {
            "seq": range(len(files)),
            "source_path": "generated://" + files["f"],
            "source_file": files["f"],
            "sha256": [hashlib.sha256(f.encode()).hexdigest() for f in files["f"]],
            "size_bytes": None,
            "status": st.LOADED,
            "reason": None,
            "codes": st.ALL_CODES,
            "rows_seen": files["n"],
            "rows_loaded": files["n"],
            "rows_quarantined": 0,
            "rows_filtered_out": 0,
            "rows_deduplicated": 0,
            "part_id": files["part"],
            "schema_version": st.schema_version(),
            "is_synthetic": True,
            "ingested_at": "generated",
            "run_id": "generated",
            "engine": "generated",
        }
    )
    st.ManifestSchema.validate(manifest[st.MANIFEST_COLUMNS]).to_parquet(root / st.MANIFEST, index=False)
    ein = [100000000 + k for k in range(hospitals)]
    return pd.DataFrame(
        {
            "npi": [str(1900000000 + k) for k in range(hospitals)],
            "tin": [f"{str(e)[:2]}-{str(e)[2:]}" for e in ein],
            "provider_name": [f"Generated Hospital {k}" for k in range(hospitals)],
            "state": "TX",
            "medicare_locality": "",
            "taxonomy": "282N00000X",
        }
    )


if __name__ == "__main__":
    main()
