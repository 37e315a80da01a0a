"""``paybench``: the command line, a thin layer over the library (the same calls work from a notebook)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from benchmark import config


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as error:
        print(f"paybench: error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paybench", description="Per-billing-code payer benchmark reports.")
    sub = parser.add_subparsers(title="commands")

    report = sub.add_parser("report", help="run the code-report notebook and write reports/<code>/")
    report.add_argument("code", help="CPT/HCPCS code, e.g. 44320")
    report.add_argument("--out", type=Path, help="output folder (default: reports/<code>[__params])")
    report.add_argument("--year", type=int, default=2025, help="Medicare PFS payment year (default 2025)")
    report.add_argument("--payers", nargs="*", default=[], help="payer families, e.g. Aetna BCBS (default: all)")
    report.add_argument("--geography", default="all", help="'all', a state (TX) or a locality id (04412-18)")
    report.add_argument("--source", default="sample",
                        help="'sample' (synthetic, shipped) or a TiC / hospital file or folder")
    report.add_argument("--product-lines", nargs="+", default=["commercial"],
                        help="product lines in the benchmark (default: commercial)")
    report.set_defaults(handler=_report)

    ingest = sub.add_parser("ingest", help="read TiC / hospital files into normalized Parquet tables")
    ingest.add_argument("sources", nargs="+", help="files or folders")
    ingest.add_argument("--codes", nargs="*", default=None,
                        help="billing codes to keep (default: all), e.g. 44320 44310")
    ingest.add_argument("--out", type=Path, default=Path("ingested"), help="output folder (default ./ingested)")
    ingest.set_defaults(handler=_ingest)

    sample = sub.add_parser("sample-data", help="regenerate the synthetic sample files (deterministic)")
    sample.add_argument("--out", type=Path, default=None, help=f"output folder (default {config.SAMPLE_DIR})")
    sample.set_defaults(handler=_sample_data)

    pfs = sub.add_parser("medicare", help="print Medicare PFS amounts for a code")
    pfs.add_argument("code")
    pfs.add_argument("--year", type=int, default=2025)
    pfs.add_argument("--locality", nargs="*", default=None, help="locality ids (default: national only)")
    pfs.set_defaults(handler=_medicare)
    return parser


def _report(args: argparse.Namespace) -> int:
    from benchmark.report import ReportParams
    from benchmark.runner import run_report

    params = ReportParams(code=args.code.strip(), year=args.year, payers=tuple(args.payers),
                          geography=args.geography, data_source=str(args.source),
                          product_lines=tuple(args.product_lines))
    outputs = run_report(params, args.out)
    print(f"CPT {params.code} report written to {outputs.out_dir}")
    for path in (outputs.html, outputs.summary, outputs.notebook):
        print(f"  {path.relative_to(outputs.out_dir)}")
    print(f"  charts/: {len(outputs.charts)} files (PNG + SVG)")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmark.ingest.pipeline import expand_sources, ingest

    files = expand_sources(args.sources)
    with tqdm(total=len(files), unit="file", desc="ingest", disable=None) as bar:
        def advance(path: Path, part) -> None:
            bar.set_postfix_str(f"{path.name[:40]}: {len(part.rates):,} rates")
            bar.update(1)

        run = ingest(files, args.codes, args.out, progress=advance)
    accounts = run.result.accounts_frame()
    totals = accounts[["rows_seen", "rows_loaded", "rows_quarantined", "rows_filtered_out",
                       "rows_deduplicated"]].sum()
    print(f"{len(files)} files: {len(accounts)} read, {len(run.rejected)} rejected")
    print("rows: " + ", ".join(f"{name.removeprefix('rows_')} {int(value):,}" for name, value in totals.items()))
    for rejected in run.rejected:
        print(f"  REJECTED {rejected.source_file}: {rejected.reason}", file=sys.stderr)
    print(f"written to {args.out}/: " + ", ".join(p.name for p in run.written.values()))
    return 0 if run.ok else 1


def _sample_data(args: argparse.Namespace) -> int:
    from benchmark.sample_data import generate_sample_data

    paths = generate_sample_data(args.out)
    print(f"{len(paths)} synthetic sample files written ({config.SYNTHETIC_LABEL})")
    for path in paths:
        print(f"  {path}")
    return 0


def _medicare(args: argparse.Namespace) -> int:
    from benchmark.medicare import medicare_amounts

    table = medicare_amounts(args.code, args.year, localities=args.locality)
    if table.empty:
        print(f"{args.code} is not in the {args.year} PFS release: {config.NOT_AVAILABLE}")
        return 1
    columns = ["year", "hcpcs", "locality_id", "locality_name", "setting", "payable", "amount"]
    print(table[columns].to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
