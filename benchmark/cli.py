"""``paybench``: the command line, a thin layer over the library (the same calls work from a notebook)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from benchmark import config
from benchmark.errors import ParameterError, PaybenchError

EXIT_PARAMETER = 2  # a parameter or option that cannot be used (argparse uses 2 for malformed ones too)
EXIT_FAILED = 1  # an input could not be read or a step failed; the message says which and why
EXIT_BUG = 70  # an unexpected exception: a bug in paybench (EX_SOFTWARE)
_BUG_HINT = (
    "paybench: this is a bug in paybench, not a problem with your input. Please report it with the command you ran "
    "and the traceback above."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_PARAMETER
    try:
        return args.handler(args)
    except ParameterError as error:
        print(f"paybench: error: {error}", file=sys.stderr)
        return EXIT_PARAMETER
    except (PaybenchError, OSError) as error:  # OSError: a missing, unreadable or unwritable file or folder
        print(f"paybench: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        traceback.print_exc()
        print(_BUG_HINT, file=sys.stderr)
        return EXIT_BUG


def _configure_logging(verbosity: int) -> None:
    """The package logger: warnings only by default, decisions (skips, retries, exports) with -v, details -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("paybench: %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("benchmark")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paybench", description="Per-billing-code payer benchmark reports.")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log decisions (-v) and details (-vv) to stderr"
    )
    sub = parser.add_subparsers(title="commands")

    report = sub.add_parser("report", help="run the code-report notebook and write reports/<code>/")
    report.add_argument("code", help="CPT/HCPCS code, e.g. 44320")
    report.add_argument("--out", type=Path, help="output folder (default: reports/<code>[__params])")
    report.add_argument("--year", type=int, default=2025, help="Medicare PFS payment year (default 2025)")
    report.add_argument("--payers", nargs="*", default=[], help="payer families, e.g. Aetna BCBS (default: all)")
    report.add_argument("--geography", default="all", help="'all', a state (TX) or a locality id (04412-18)")
    report.add_argument(
        "--source", default="sample", help="'sample' (synthetic, shipped) or a TiC / hospital file or folder"
    )
    report.add_argument(
        "--product-lines",
        nargs="+",
        default=["commercial"],
        help="product lines in the benchmark (default: commercial)",
    )
    report.set_defaults(handler=_report)

    batch = sub.add_parser(
        "batch",
        help="run every report of a YAML batch file; exit 1 if any failed",
        description="Run the reports of a batch file (see benchmark.reporting.batch). Exit status: 0 every "
        "report written or up to date, 1 any report failed (the others are written; see "
        "manifest.json), 2 invalid batch file (nothing run).",
    )
    batch.add_argument("batch_file", type=Path, help="YAML batch file, e.g. batches/colostomy_family.yaml")
    batch.add_argument("--out", type=Path, default=None, help="output root (default: reports/<batch file name>/)")
    batch.add_argument(
        "--workers",
        type=_at_least_one,
        default=None,
        help="reports run at the same time (default: 2, or 1 on a 1-core machine)",
    )
    batch.add_argument("--force", action="store_true", help="re-run reports that are up to date")
    batch.set_defaults(handler=_batch)

    ingest = sub.add_parser("ingest", help="read TiC / hospital files into a rate store (Parquet + manifest)")
    ingest.add_argument("sources", nargs="+", help="files or folders")
    ingest.add_argument(
        "--codes", nargs="*", default=None, help="billing codes to keep (default: all), e.g. 44320 44310"
    )
    ingest.add_argument(
        "--out",
        type=Path,
        default=Path("ingested"),
        help="rate store folder, created if missing; files already in it are skipped (default ./ingested)",
    )
    ingest.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="read files one by one here (local) or fan them out over a Dask cluster (dask)",
    )
    ingest.add_argument(
        "--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster)"
    )
    ingest.add_argument(
        "--workers",
        type=int,
        default=None,
        help="LocalCluster worker processes for --engine dask without --scheduler (default 2)",
    )
    ingest.add_argument(
        "--allow-private-hosts",
        action="store_true",
        help="let URLs reach private/loopback addresses (local test servers only)",
    )
    ingest.add_argument(
        "--allow-http-links",
        action="store_true",
        help="follow plain-http links found inside files (default: https only)",
    )
    ingest.set_defaults(handler=_ingest)

    validate = sub.add_parser("validate", help="list every problem of TiC / hospital files, without loading them")
    validate.add_argument("files", nargs="+", type=Path, help="files to check")
    validate.add_argument("--csv", type=Path, default=None, help="also write all problems to this CSV file")
    validate.set_defaults(handler=_validate)

    sample = sub.add_parser("sample-data", help="regenerate the synthetic sample files (deterministic)")
    sample.add_argument("--out", type=Path, default=None, help=f"output folder (default {config.SAMPLE_DIR})")
    sample.set_defaults(handler=_sample_data)

    pfs = sub.add_parser("medicare", help="print Medicare PFS amounts for a code")
    pfs.add_argument("code")
    pfs.add_argument("--year", type=int, default=2025)
    pfs.add_argument("--locality", nargs="*", default=None, help="locality ids (default: national only)")
    pfs.set_defaults(handler=_medicare)

    payers = sub.add_parser("payers", help="payer identity rules: review the strings they do not resolve")
    payers_sub = payers.add_subparsers(title="payers commands")
    review = payers_sub.add_parser(
        "review", help="list unmatched payer / plan strings of TiC / hospital files, with counts"
    )
    review.add_argument("sources", nargs="+", help="files or folders ('sample' for the shipped sample)")
    review.add_argument("--codes", nargs="*", default=None, help="billing codes to read (default: all)")
    review.add_argument("--out", type=Path, default=None, help="also write the list as CSV here")
    review.set_defaults(handler=_payers_review)
    return parser


def _report(args: argparse.Namespace) -> int:
    from benchmark.reporting.report import ReportParams
    from benchmark.reporting.runner import run_report

    params = ReportParams(
        code=args.code.strip(),
        year=args.year,
        payers=tuple(args.payers),
        geography=args.geography,
        data_source=str(args.source),
        product_lines=tuple(args.product_lines),
    )
    outputs = run_report(params, args.out)
    print(f"CPT {params.code} report written to {outputs.out_dir}")
    for path in (outputs.html, outputs.pdf, outputs.deck, outputs.xlsx, outputs.summary, outputs.notebook):
        if path is not None:
            print(f"  {path.relative_to(outputs.out_dir)}")
    print(f"  charts/: {len(outputs.charts)} files (PNG + SVG); tables/: {len(outputs.csv)} CSV files")
    for note in outputs.notes:
        print(f"  NOTE: {note}", file=sys.stderr)
    return 0


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _batch(args: argparse.Namespace) -> int:
    from benchmark.reporting.batch import DEFAULT_WORKERS, EXIT_INVALID, BatchSpecError, load_batch, run_batch

    try:
        batch = load_batch(args.batch_file)
    except BatchSpecError as error:
        print(f"paybench batch: {error}\nnothing was run", file=sys.stderr)
        return EXIT_INVALID
    out = args.out or config.REPORTS_DIR / args.batch_file.stem
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    run = run_batch(batch, out, workers=workers, force=args.force)
    counts = run.counts()
    print(
        f"{len(run.results)} reports in {run.out_dir}: {counts['ok']} written, {counts['skipped']} up to date, "
        f"{counts['failed']} failed"
    )
    for result in run.results:
        if result.status == "failed" and result.error is not None:
            print(
                f"  FAILED {result.slug}: {result.error['name']}: {result.error['message'].splitlines()[0]}",
                file=sys.stderr,
            )
    print(f"  index: {run.index}\n  manifest: {run.manifest}")
    return run.exit_status


def _ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmark.ingest.routing import expand_sources
    from benchmark.ingest.tic.reader import reporting_progress
    from benchmark.sources.http import RemotePolicy
    from benchmark.sources.source import Source
    from benchmark.store.pipeline import ingest

    policy = RemotePolicy(allow_private_hosts=args.allow_private_hosts, allow_http_links=args.allow_http_links)
    files = expand_sources(args.sources, policy=policy)
    sizes = [f.size if isinstance(f, Source) else Path(f).stat().st_size for f in files]
    seen = {"files": 0, "finished_bytes": 0, "file_bytes": 0, "rates": 0, "json_bytes": 0}
    started = time.perf_counter()
    # bytes of stored (compressed) data read, updated inside TiC files after every chunk; rates found so far
    with tqdm(total=sum(s or 0 for s in sizes) or None, unit="B", unit_scale=True, desc="ingest", disable=None) as bar:

        def show(name: str, prices: int = 0) -> None:
            found = f"{seen['rates']:,} rates" + (f" + {prices:,} prices found" if prices else "")
            bar.set_postfix_str(f"file {min(seen['files'] + 1, len(files))}/{len(files)} {name[-40:]}: {found}")

        def inside_file(progress) -> None:
            bar.update(progress.raw_bytes - seen["file_bytes"])
            seen["file_bytes"] = progress.raw_bytes
            if progress.finished:
                seen["json_bytes"] += progress.json_bytes
            show(progress.source_name, progress.prices_found)

        def advance(path, part) -> None:
            size = sizes[seen["files"]] if seen["files"] < len(sizes) else None
            seen["finished_bytes"] += size or seen["file_bytes"]
            bar.update(max(seen["finished_bytes"] - bar.n, 0))
            seen["files"] += 1
            seen["file_bytes"] = 0
            seen["rates"] += part.rates_written if hasattr(part, "rates_written") else len(part.rates)
            show(getattr(path, "name", None) or Path(str(path)).name)

        with reporting_progress(inside_file):
            run = ingest(
                files,
                args.codes,
                args.out,
                progress=advance,
                engine=args.engine,
                scheduler=args.scheduler,
                workers=args.workers,
            )
    elapsed = time.perf_counter() - started
    accounts = run.result.accounts_frame()
    totals = accounts[["rows_seen", "rows_loaded", "rows_quarantined", "rows_filtered_out", "rows_deduplicated"]].sum()
    print(
        f"{len(files)} files: {run.count('loaded')} read into the store, {run.count('skipped')} already in it, "
        f"{run.count('rejected')} rejected, {run.count('failed')} failed"
    )
    print("rows: " + ", ".join(f"{name.removeprefix('rows_')} {int(value):,}" for name, value in totals.items()))
    if seen["json_bytes"]:
        print(
            f"TiC JSON read: {seen['json_bytes'] / 1e6:,.1f} MB in {elapsed:,.1f} s "
            f"({seen['json_bytes'] / 1e6 / max(elapsed, 1e-9):,.1f} MB/s overall, all files and start-up included)"
        )
    for rejected in run.rejected:
        print(f"  REJECTED {rejected.source_file}: {rejected.reason}", file=sys.stderr)
    assert run.store is not None  # ingest with an output folder writes into a store
    manifest = run.store.manifest()
    stored = manifest[manifest["status"].eq("loaded")]
    print(
        f"store {args.out}/: {len(stored)} files, {int(stored['rows_loaded'].sum()):,} rates "
        f"({args.engine} engine; manifest: {run.written['manifest'].name})"
    )
    return 0 if run.ok else 1


def _validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from benchmark.ingest.validate import format_problem, validate_file

    reports = [validate_file(path) for path in args.files]
    for report in reports:
        print(f"{report.path}: {report.layout or report.kind}")
        for problem in report.problems.itertuples(index=False):
            print(f"  {format_problem(problem)}")
        print(f"  {report.summary()}")
    if args.csv:
        pd.concat([r.problems for r in reports], ignore_index=True).to_csv(args.csv, index=False)
        print(f"problems written to {args.csv}")
    return 1 if any(r.errors for r in reports) else 0


def _sample_data(args: argparse.Namespace) -> int:
    from benchmark.synthetic import generate_sample_data

    paths = generate_sample_data(args.out)
    print(f"{len(paths)} synthetic sample files written ({config.SYNTHETIC_LABEL})")
    for path in paths:
        print(f"  {path}")
    return 0


def _medicare(args: argparse.Namespace) -> int:
    from benchmark.reference.medicare import medicare_amounts

    table = medicare_amounts(args.code, args.year, localities=args.locality)
    if table.empty:
        print(f"{args.code} is not in the {args.year} PFS release: {config.NOT_AVAILABLE}")
        return 1
    columns = ["year", "hcpcs", "locality_id", "locality_name", "setting", "payable", "amount"]
    print(table[columns].to_string(index=False))
    return 0


def _payers_review(args: argparse.Namespace) -> int:
    from benchmark.analysis.payer_review import review_sources
    from benchmark.normalize.payers import table_version

    sources = args.sources[0] if args.sources == ["sample"] else args.sources
    table = review_sources(sources, codes=args.codes)
    print(
        f"payer rules version {table_version()}: {len(table)} payer / plan strings need a rule "
        f"({int(table['rows'].sum()) if len(table) else 0:,} rows)"
    )
    if len(table):
        print(table.to_string(index=False, max_colwidth=60))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
