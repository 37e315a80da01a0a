"""``paybench``: the command line, a thin layer over the library (the same calls work from a notebook)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark import codes, config
from benchmark.collector import gc_paused
from benchmark.errors import ParameterError, PaybenchError
from benchmark.reporting import formats
from benchmark.safe_text import neutralize_terminal, write_csv
from benchmark.sources.http import redact

if TYPE_CHECKING:  # pandas is imported by the commands that need it (start-up time of `paybench --help`)
    import pandas as pd

    from benchmark.reporting.kernel import SharedKernel
    from benchmark.reporting.runner import ReportOutputs

EXIT_PARAMETER = 2  # a parameter or option that cannot be used (argparse uses 2 for malformed ones too)
EXIT_FAILED = 1  # an input could not be read or a step failed; the message says which and why
EXIT_BUG = 70  # an unexpected exception: a bug in paybench (EX_SOFTWARE)
_BUG_HINT = (
    "paybench: this is a bug in paybench, not a problem with your input. Please report it with the command you ran "
    "and the traceback above."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a malformed option (argparse printed why): its status
        return done.code if isinstance(done.code, int) else EXIT_PARAMETER
    _configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_PARAMETER
    try:
        return args.handler(args)
    except ParameterError as error:
        print(f"paybench: error: {neutralize_terminal(redact(error))}", file=sys.stderr)
        return EXIT_PARAMETER
    except (PaybenchError, OSError) as error:  # OSError: a missing, unreadable or unwritable file or folder
        print(f"paybench: error: {neutralize_terminal(redact(_one_line(error)))}", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        traceback.print_exc()
        print(_BUG_HINT, file=sys.stderr)
        return EXIT_BUG


def _one_line(error: BaseException) -> str:
    """An OSError as one line: what failed and on which file (``[Errno 28] No space left on device: 'x'``)."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error)


class _RedactingFilter(logging.Filter):
    """No URL credential or query string reaches a log line (the package's one redaction rule)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact(message), None
        return True


def _configure_logging(verbosity: int) -> None:
    """The package logger: warnings only by default, decisions (skips, retries, exports) with -v, details -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("paybench: %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("benchmark")
    handler.addFilter(_RedactingFilter())
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paybench",
        description="Per-billing-code payer benchmark reports.",
        epilog="Exit status: 0 done; 1 an input could not be read or a step failed; 2 a parameter or option "
        "cannot be used (nothing was run or written); 70 a bug in paybench.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log decisions (-v) and details (-vv) to stderr"
    )
    sub = parser.add_subparsers(title="commands")

    report = sub.add_parser("report", help="run the code-report notebook and write reports/<code>/")
    report.add_argument(
        "code", help="CPT/HCPCS code, e.g. 44320, or an MS-DRG written MS-DRG-470 (a bare 3-digit code is ambiguous)"
    )
    report.add_argument("--out", type=Path, help="output folder (default: reports/<code>[__params])")
    report.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder that is not a previous report (it is moved aside to a hidden folder, not deleted)",
    )
    report.add_argument(
        "--year",
        type=_year,
        default=config.DEFAULT_MEDICARE_YEAR,
        help=f"Medicare payment year, one of {_years()} (default {config.DEFAULT_MEDICARE_YEAR})",
    )
    report.add_argument(
        "--ipps-table5",
        type=Path,
        default=None,
        help="a CMS IPPS Table 5 file (MS-DRG weights): DRG-coded rates are then compared with the FY 2026 IPPS "
        "national operating payment",
    )
    report.add_argument(
        "--payers",
        nargs="*",
        default=[],
        help="payer families: Aetna BCBS Cigna UnitedHealthcare Medicare Other (default: all)",
    )
    report.add_argument(
        "--geography", default="all", help="'all' (default), a state (TX) or a Medicare locality id (04412-18)"
    )
    report.add_argument(
        "--source",
        nargs="+",
        default=["sample"],
        metavar="SOURCE",
        help="one or more of: 'sample' (synthetic, shipped), TiC in-network / hospital standard-charge files, "
        "folders or .zip archives of them, a TiC table of contents, http(s) URLs, a rate store folder "
        "(from `paybench ingest`); paths are relative to the current folder (default: sample)",
    )
    report.add_argument(
        "--providers",
        type=Path,
        default=None,
        metavar="CSV",
        help="provider directory placing TiC rates: a CSV with npi, tin, state, medicare_locality "
        "(optional taxonomy, provider_name); without it TiC rates are compared with the national Medicare amount",
    )
    report.add_argument(
        "--force", action="store_true", help="re-run even when the report in the output folder is up to date"
    )
    report.add_argument(
        "--product-lines",
        nargs="+",
        default=["commercial"],
        help="product lines in the benchmark, among commercial medicare_advantage medicaid exchange tpa unknown "
        "(default: commercial)",
    )
    report.add_argument(
        "--report-date",
        default="",
        metavar="YYYY-MM-DD",
        help="date contracts must not have expired by (expired rates are flagged); default: the run date (UTC), "
        "written into summary.json",
    )
    report.add_argument(
        "--keep-implausible",
        action="store_true",
        help="keep rates flagged only implausible_provider (a provider whose specialty would not perform the code) "
        "in the benchmark statistics; they are left out by default",
    )
    report.add_argument(
        "--min-confidence",
        default="",
        metavar="LEVEL",
        help="benchmark only rates of this confidence or higher, lowest first: 'flagged', 'disputed', "
        "'single source', 'corroborated' (default: every rate not flagged)",
    )
    _formats_option(report)
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
    batch.add_argument(
        "--providers",
        type=Path,
        default=None,
        metavar="CSV",
        help="provider directory for every report that names none (npi, tin, state, medicare_locality)",
    )
    batch.add_argument(
        "--overwrite", action="store_true", help="write into an --out folder that is not an earlier batch output"
    )
    _formats_option(batch, batch=True)
    batch.set_defaults(handler=_batch)

    ingest = sub.add_parser("ingest", help="read TiC / hospital files into a rate store (Parquet + manifest)")
    ingest.add_argument(
        "sources", nargs="+", help="files, folders, .zip archives, TiC tables of contents or http(s) URLs"
    )
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
        "--providers",
        type=Path,
        default=None,
        metavar="CSV",
        help="provider directory (npi, tin, state, medicare_locality) saved with the store: reports from the store "
        "place its TiC rates with it",
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

    validate = sub.add_parser(
        "validate", help="check TiC / hospital files against CMS's rules and list every problem, without loading them"
    )
    validate.add_argument("files", nargs="+", type=Path, help="files to check (zips: every data file inside)")
    validate.add_argument("--csv", type=Path, default=None, help="also write all problems to this CSV file")
    validate.add_argument(
        "--cms-version",
        default=None,
        help="check against this CMS version instead of the one the file declares (hospital: 2.0.0, 2.1.0, 2.2.0, "
        "3.0.0; TiC: 1.6.2, 2.2.0)",
    )
    validate.set_defaults(handler=_validate)

    sample = sub.add_parser("sample-data", help="regenerate the synthetic sample files (deterministic)")
    sample.add_argument("--out", type=Path, default=None, help=f"output folder (default {config.SAMPLE_DIR})")
    sample.set_defaults(handler=_sample_data)

    pfs = sub.add_parser(
        "medicare",
        help="print every Medicare baseline of a code: PFS, OPPS, CLFS, IPPS for an MS-DRG (--json for scripts)",
        description="Medicare amounts of a code from the shipped CMS files: physician fee schedule "
        "(national and a locality), hospital outpatient (OPPS, national unadjusted) and lab (CLFS); for an MS-DRG "
        "(MS-DRG-470) the IPPS national operating payment, which needs the CMS Table 5 (--ipps-table5 FILE). "
        "Exit status 0, 1 when no file of the year lists the code (or no Table 5 is given for an MS-DRG), 2 for an "
        "unknown year or locality or a code that is not written as one of these.",
    )
    pfs.add_argument("code", help="CPT/HCPCS code, e.g. 44320, or an MS-DRG written MS-DRG-470")
    pfs.add_argument(
        "--year",
        type=_year,
        default=config.DEFAULT_MEDICARE_YEAR,
        help=f"payment year, one of {_years()} (default {config.DEFAULT_MEDICARE_YEAR})",
    )
    pfs.add_argument("--locality", default=None, help="a Medicare locality id, e.g. 04412-18 (default: national)")
    pfs.add_argument("--json", action="store_true", help="print one JSON object (amounts in dollars, null = none)")
    pfs.add_argument(
        "--qp", action="store_true", help="use the qualifying-APM-participant conversion factor (2026 on: 33.5675)"
    )
    pfs.add_argument(
        "--ipps-table5",
        type=Path,
        default=None,
        help="for an MS-DRG (MS-DRG-470): a CMS IPPS Table 5 file, giving the DRG's weight and the FY "
        f"{config.IPPS_FISCAL_YEAR} IPPS national operating payment",
    )
    pfs.set_defaults(handler=_medicare)

    store = sub.add_parser("store", help="maintain a rate store: verify it, delete what crashed runs left")
    store_sub = store.add_subparsers(title="store commands")
    verify = store_sub.add_parser("verify", help="check the manifest against the parts; exit 1 on any problem")
    verify.add_argument("store", type=Path, help="rate store folder")
    verify.set_defaults(handler=_store_verify)
    vacuum = store_sub.add_parser(
        "vacuum", help="delete staging of dead runs, temporary manifests and parts no manifest entry names"
    )
    vacuum.add_argument("store", type=Path, help="rate store folder")
    vacuum.set_defaults(handler=_store_vacuum)

    payers = sub.add_parser("payers", help="payer identity rules: review the strings they do not resolve")
    payers_sub = payers.add_subparsers(title="payers commands")
    review = payers_sub.add_parser(
        "review", help="list unmatched payer / plan strings of TiC / hospital files, with counts"
    )
    review.add_argument("sources", nargs="+", help="files or folders ('sample' for the shipped sample)")
    review.add_argument("--codes", nargs="*", default=None, help="billing codes to read (default: all)")
    review.add_argument("--out", type=Path, default=None, help="also write the list as CSV here")
    review.set_defaults(handler=_payers_review)

    trace = sub.add_parser(
        "trace",
        help="list the rows behind a benchmark statistic: source, sha256, locator, published value, what was done",
    )
    _assessment_options(trace)
    trace.add_argument("--payer", default=None, help="payer family, e.g. Aetna (default: all)")
    trace.add_argument("--setting", default=None, help="Medicare setting: facility or non_facility (default: all)")
    trace.add_argument("--out", type=Path, default=None, help="also write every column as CSV here")
    trace.set_defaults(handler=_trace)

    assess = sub.add_parser(
        "assess",
        help="which rates to believe: flags, payer-hospital cross-check, confidence, statistics with and without "
        "flagged rates",
    )
    _assessment_options(assess)
    assess.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON here")
    assess.add_argument(
        "--keep-verdicts",
        action="store_true",
        help="with a rate store as --source: keep the cross-check verdicts of the code in <store>/crosscheck/",
    )
    assess.set_defaults(handler=_assess)
    return parser


def _formats_option(command: argparse.ArgumentParser, *, batch: bool = False) -> None:
    default = "the batch file's formats:, else all" if batch else "all"
    command.add_argument(
        "--formats",
        type=_formats,
        default=None if batch else formats.FORMATS,
        metavar="LIST",
        help=f"files to write, comma-separated among {','.join(formats.FORMATS)} (default: {default}); html, the "
        "report itself with summary.json and charts, is always written, every export is made from it",
    )


def _assessment_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("code", help="CPT/HCPCS code, e.g. 44320")
    command.add_argument("--geography", default="all", help="'all', a state (TX) or a locality id (04412-18)")
    command.add_argument(
        "--source", default="sample", help="'sample' (synthetic, shipped), a rate store or TiC / hospital files"
    )
    command.add_argument(
        "--providers", type=Path, default=None, help="provider directory CSV (npi, tin, ..., optional taxonomy)"
    )
    command.add_argument(
        "--year",
        type=int,
        default=config.DEFAULT_MEDICARE_YEAR,
        help=f"Medicare PFS payment year (default {config.DEFAULT_MEDICARE_YEAR}, like a report)",
    )
    command.add_argument(
        "--product-lines",
        nargs="+",
        default=["commercial"],
        help="product lines in the benchmark (default: commercial)",
    )
    command.add_argument(
        "--report-date",
        default=None,
        help="date contracts must not have expired by (YYYY-MM-DD; default: the run date, UTC, as for a report)",
    )
    command.add_argument(
        "--keep-implausible", action="store_true", help="keep implausible-provider rates in the statistics"
    )
    command.add_argument(
        "--min-confidence",
        default=None,
        choices=["flagged", "disputed", "single source", "corroborated"],
        help="restrict the benchmark statistic to rates of this confidence or higher (as the report's option)",
    )


def _report(args: argparse.Namespace) -> int:
    from benchmark.reporting import output_folder
    from benchmark.reporting.preflight import (
        assessment_problems,
        check_sources,
        check_table5,
        parameter_problems,
        table5_use_problems,
    )

    # every value and source checked before the heavy imports (pandas, matplotlib) and before anything is written
    code = args.code.strip()
    problems = parameter_problems(code, args.year, args.payers, args.geography, args.product_lines)
    problems += assessment_problems(args.report_date, args.keep_implausible, args.min_confidence)
    sources, providers, source_problems = check_sources(
        [str(s) for s in args.source], str(args.providers) if args.providers else ""
    )
    table5, table5_problem = check_table5(str(args.ipps_table5) if args.ipps_table5 else "")
    source_problems += [table5_problem] if table5_problem else []
    if not problems and args.ipps_table5:
        problems += table5_use_problems(code, str(args.ipps_table5))
    if problems or source_problems:
        raise ParameterError("; ".join(problems + source_problems))
    if args.out:  # an --out the tool may not replace is refused before a kernel starts (run_report checks it again)
        output_folder.check_output_folder(args.out, output_folder.REPORT_MARKER, overwrite=args.overwrite)

    from benchmark.reporting.kernel import SharedKernel

    # When the report will run (--force, or an --out folder holding no report yet), its kernel starts now and boots
    # on the other core while the reporting modules below are imported; else run_report starts one if it must.
    kernel = SharedKernel() if args.force or (args.out and not (Path(args.out) / "run.json").exists()) else None
    if kernel is not None:
        kernel.start(Path.cwd())
    try:
        return _run_report(args, code, sources, providers, table5, kernel)
    finally:
        if kernel is not None:
            kernel.close()


def _run_report(
    args: argparse.Namespace,
    code: str,
    sources: str | tuple[str, ...],
    providers: str,
    table5: str,
    kernel: SharedKernel | None,
) -> int:
    with gc_paused():  # the reporting modules (pandas, papermill, nbconvert...): ~0.2 s of garbage passes less
        from benchmark.reporting.params import ReportParams
        from benchmark.reporting.runner import run_report

    params = ReportParams(
        code=code,
        year=args.year,
        payers=tuple(args.payers),
        geography=args.geography,
        data_source=sources,
        product_lines=tuple(args.product_lines),
        ipps_table5=table5,
        providers=providers,
        report_date=args.report_date,
        keep_implausible=args.keep_implausible,
        min_confidence=args.min_confidence,
    )
    outputs = run_report(
        params, args.out, force=args.force, overwrite=args.overwrite, shared_kernel=kernel, formats=args.formats
    )
    if outputs.skipped:
        print(
            f"{codes.label(params.code)} report in {outputs.out_dir} is up to date (same parameters, inputs and code; "
            "--force re-runs it)"
        )
        return 0
    print(f"{codes.label(params.code)} report written to {outputs.out_dir}")
    _print_written(outputs, args.formats)
    return 0


def _print_written(outputs: ReportOutputs, asked: tuple[str, ...]) -> None:
    """The files of a written report, one per line; the tables only when CSV was asked for; notes on stderr."""
    for path in (outputs.html, outputs.pdf, outputs.deck, outputs.xlsx, outputs.summary, outputs.notebook):
        if path is not None:
            print(f"  {path.relative_to(outputs.out_dir)}")
    tables = f"; tables/: {len(outputs.csv)} CSV files" if "csv" in asked else ""
    print(f"  charts/: {len(outputs.charts)} files (PNG + SVG){tables}")
    for note in outputs.notes:
        print(f"  NOTE: {note}", file=sys.stderr)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("payer-benchmark")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _years() -> list[int]:
    return sorted(config.PPRRVU_FILES)


def _year(text: str) -> int:
    """A payment year with a shipped PFS release; anything else is a parameter error (exit 2, like argparse's)."""
    if not text.strip().isdigit() or int(text) not in _years():
        raise argparse.ArgumentTypeError(f"expected a PFS payment year, one of {_years()}, got {text!r}")
    return int(text)


def _formats(text: str) -> tuple[str, ...]:
    """``--formats``: checked names in their canonical order (benchmark.reporting.formats); else exit 2."""
    try:
        return formats.parse(text)
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _batch(args: argparse.Namespace) -> int:
    with gc_paused():  # the reporting modules, as for a report
        from benchmark.reporting.batch import DEFAULT_WORKERS, EXIT_INVALID, BatchSpecError, load_batch, run_batch

    try:
        batch = load_batch(args.batch_file, providers=_checked_providers(args.providers))
    except BatchSpecError as error:
        print(f"paybench batch: {error}\nnothing was run", file=sys.stderr)
        return EXIT_INVALID
    out = args.out or config.REPORTS_DIR / args.batch_file.stem
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    run = run_batch(batch, out, workers=workers, force=args.force, overwrite=args.overwrite, formats=args.formats)
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
    from benchmark.store.rate_store import check_store_folder

    providers = _checked_providers(args.providers)
    policy = RemotePolicy(allow_private_hosts=args.allow_private_hosts, allow_http_links=args.allow_http_links)
    check_store_folder(args.out)  # a folder that is not a store is refused before anything is read
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
        print(f"  REJECTED {redact(rejected.source_file)}: {redact(rejected.reason)}", file=sys.stderr)
    for line in _no_rates_lines(accounts, args.codes):
        print(line, file=sys.stderr)
    assert run.store is not None  # ingest with an output folder writes into a store
    if providers is not None:
        from benchmark.analysis.rates import STORE_PROVIDERS
        from benchmark.files import atomic_write_bytes

        atomic_write_bytes(Path(args.out) / STORE_PROVIDERS, providers.read_bytes())
        print(
            f"provider directory {providers.name} saved with the store ({STORE_PROVIDERS}): reports place rates by it"
        )
    manifest = run.store.manifest()
    stored = manifest[manifest["status"].eq("loaded")]
    print(
        f"store {args.out}/: {len(stored)} files, {int(stored['rows_loaded'].sum()):,} rates "
        f"({args.engine} engine; manifest: {run.written['manifest'].name})"
    )
    return 0 if run.ok else 1


def _no_rates_lines(accounts: pd.DataFrame, codes: list[str] | None) -> list[str]:
    """One warning per file read with rows but none loaded: a success in numbers that is easy to miss."""
    wanted = " for the codes asked" if codes else ""
    lines = []
    for account in accounts.itertuples():
        if account.rows_seen and not account.rows_loaded:
            lines.append(
                f"  NO RATES {redact(account.source_file)}: {account.rows_seen:,} rows seen, none loaded{wanted} "
                f"(quarantined {account.rows_quarantined:,}, filtered out {account.rows_filtered_out:,}, "
                f"deduplicated {account.rows_deduplicated:,}); `paybench validate` on it lists why"
            )
    return lines


def _checked_providers(path: Path | None) -> Path | None:
    """The provider directory of ``--providers``, checked (exists, has its columns) before anything is read."""
    if path is None:
        return None
    from benchmark.reporting.preflight import check_provider_directory

    resolved, problem = check_provider_directory(path, Path.cwd())
    if problem:
        raise ParameterError(problem)
    return Path(resolved)


def _validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from benchmark.ingest.validate import format_problem, validate_sources

    reports = validate_sources(args.files, cms_version=args.cms_version)
    for report in reports:
        print(neutralize_terminal(f"{report.name or report.path}: {report.layout or report.kind}", one_line=True))
        for problem in report.problems.itertuples(index=False):
            print(f"  {format_problem(problem)}")
        print(f"  {report.summary()}")
    if args.csv:
        write_csv(pd.concat([r.problems for r in reports], ignore_index=True), args.csv)
        print(f"problems written to {args.csv}")
    return 0 if all(r.valid for r in reports) else 1


def _sample_data(args: argparse.Namespace) -> int:
    from benchmark.synthetic import generate_sample_data

    paths = generate_sample_data(args.out)
    print(f"{len(paths)} synthetic sample files written ({config.SYNTHETIC_LABEL})")
    for path in paths:
        print(f"  {path}")
    return 0


def _medicare(args: argparse.Namespace) -> int:
    code = args.code.strip()
    problem = codes.code_problem(code)
    if problem and re.fullmatch(r"\d{3}|(?i:MS-?DRG).*", code):  # an MS-DRG not written MS-DRG-470: say how
        raise ParameterError(problem)
    if problem is None and codes.parse(code).is_drg:
        return _medicare_drg(args, code)
    if args.ipps_table5:
        raise ParameterError(f"--ipps-table5 applies to an MS-DRG (e.g. MS-DRG-470), not to {code!r}")
    from benchmark.reference.medicare import NATIONAL, medicare_baseline

    baseline = medicare_baseline(code, args.year, args.locality or NATIONAL, qp=args.qp)
    found = any(baseline[part] is not None for part in ("pfs", "opps", "clfs"))
    if args.json:
        print(json.dumps(baseline, indent=2))
        return 0 if found else 1
    print(_medicare_text(baseline))
    return 0 if found else 1


def _medicare_drg(args: argparse.Namespace, code: str) -> int:
    """An MS-DRG: its IPPS national operating payment with the user's Table 5, else null and the reason (exit 1)."""
    if args.year != config.IPPS_FISCAL_YEAR:
        raise ParameterError(
            f"an MS-DRG is compared with the IPPS FY {config.IPPS_FISCAL_YEAR} standardized amounts, the only fiscal "
            f"year shipped: --year {config.IPPS_FISCAL_YEAR} (or none), got {args.year}"
        )
    if args.locality:
        raise ParameterError("--locality: the IPPS payment shown is national (wage index 1.0); give no locality")
    from benchmark.reference.medicare import drg_baseline, ipps

    table5 = ipps.load_table5(args.ipps_table5) if args.ipps_table5 else None
    baseline = drg_baseline(code, table5)
    if args.json:
        print(json.dumps(baseline, indent=2))
    else:
        block = baseline["ipps"]
        lines = [f"{codes.label(code)}, IPPS FY {baseline['year']}, national"]
        if block is None:
            lines.append(f"  IPPS: {config.NOT_AVAILABLE}")
        else:
            amounts = block["standardized_amount"]
            lines.append(
                f"  IPPS: weight {block['weight']} x ${amounts['total']:,.2f} (labor ${amounts['labor']:,.2f} + "
                f"non-labor ${amounts['non_labor']:,.2f}, wage index 1.0) = ${block['payment']:,.2f}"
                + (f" ({block['title']})" if block["title"] else "")
            )
            lines.append(f"  NOTE: {block['note']}")
        lines.extend(f"  NOTE: {note}" for note in baseline["notes"])
        print("\n".join(lines))
    return 0 if baseline["ipps"] is not None else 1


def _medicare_text(baseline: dict) -> str:
    def money(value: float | None) -> str:
        return config.NOT_AVAILABLE if value is None else f"${value:,.2f}"

    code, year = baseline["code"], baseline["year"]
    lines = [f"{code}, payment year {year}, {baseline['locality']}"]
    pfs = baseline["pfs"]
    if pfs is None:
        lines.append(f"  PFS: {config.NOT_AVAILABLE} ({code} is not in the {year} release)")
    else:
        cf = f"conversion factor {pfs['conversion_factor']}{' (qualifying APM)' if pfs['qp'] else ''}"
        gpci = f", {pfs['gpci_year']} GPCIs" if pfs["gpci_year"] else ""
        lines.append(
            f"  PFS {pfs['locality_name']}: facility {money(pfs['facility'])}, non-facility "
            f"{money(pfs['non_facility'])} ({cf}{gpci})"
        )
    opps = baseline["opps"]
    if opps is None:
        lines.append(f"  OPPS: {config.NOT_AVAILABLE}")
    else:
        rate = f", national unadjusted rate {money(opps['payment_rate'])}" if opps["payment_rate"] is not None else ""
        apc = f", APC {opps['apc']}" if opps["apc"] else ""
        lines.append(f"  OPPS CY {opps['year']}: SI {opps['status_indicator']}{apc}{rate} ({opps['words']})")
    lab = baseline["clfs"]
    lines.append(
        f"  CLFS: {config.NOT_AVAILABLE}" if lab is None else f"  CLFS {lab['year']}: {money(lab['rate'])} (national)"
    )
    lines.extend(f"  NOTE: {note}" for note in baseline["notes"])
    return "\n".join(lines)


def _store_verify(args: argparse.Namespace) -> int:
    from benchmark.store.rate_store import open_store

    problems = open_store(args.store).verify()
    for problem in problems:
        print(f"  {problem}")
    print(f"store {args.store}: " + (f"{len(problems)} problems" if problems else "sound"))
    return 1 if problems else 0


def _store_vacuum(args: argparse.Namespace) -> int:
    from benchmark.store.rate_store import open_store

    removed = open_store(args.store).vacuum()
    print(f"store {args.store}: {len(removed)} leftovers deleted")
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
        write_csv(table, args.out)
        print(f"written to {args.out}")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from benchmark.analysis.trace import trace

    rows = trace(
        args.code.strip(),
        args.payer,
        args.setting,
        args.geography,
        args.source,
        args.providers,
        args.year,
        args.product_lines,
        args.report_date,
        args.keep_implausible,
        args.min_confidence,
    )
    print(f"{len(rows)} rates of {args.code} behind the statistic; by role:")
    print(rows["role"].value_counts().to_string())
    columns = ["role", "source_file", "source_locator", "published", "amount_usd", "flag_reasons", "crosscheck"]
    if len(rows):
        print(rows[columns].to_string(index=False, max_colwidth=48))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(args.out, index=False)
        print(f"written to {args.out}")
    return 0


def _run_date() -> str:
    """Today's date in UTC (YYYY-MM-DD): the report date of a report made without one."""
    return dt.datetime.now(dt.UTC).date().isoformat()


def _assess(args: argparse.Namespace) -> int:
    import json

    from benchmark.analysis import assessment
    from benchmark.analysis.crosscheck import keep_in_store
    from benchmark.analysis.rates import compare_to_medicare, load_provider_directory, load_rates, resolve_source
    from benchmark.analysis.trace import statistic_queries

    data = resolve_source(args.source, args.providers)
    loaded = load_rates(args.source, codes=[args.code.strip()], provider_directory=args.providers)
    rates = loaded.rates
    if args.geography != "all":
        rates = rates[rates["state" if len(args.geography) == 2 else "medicare_locality"].eq(args.geography)]
    directory = load_provider_directory(data.provider_directory) if data.provider_directory else None
    report_date = args.report_date or _run_date()  # as a report made without --report-date
    assessed = assessment.assess(compare_to_medicare(rates, args.year), directory, report_date, args.keep_implausible)
    table = assessment.benchmark_table(
        assessed,
        product_lines=args.product_lines,
        keep_implausible=args.keep_implausible,
        min_confidence=args.min_confidence,
    )
    summary = assessment.assessment_summary(assessed, args.product_lines)
    if args.keep_verdicts:
        if data.store is None:
            raise ParameterError("--keep-verdicts needs a rate store as --source")
        print(f"cross-check verdicts kept in {keep_in_store(data.store, assessed)}")
    if data.is_synthetic:
        print(config.SYNTHETIC_LABEL)
    columns = ["rates", "payer_family", "pos_setting", "n", "median", "median_pct_of_medicare"]
    print(table[columns].to_string(index=False))
    print("flagged benchmark rates by reason:", summary["flags_benchmark_rows"]["n_flagged_by_reason"])
    print("cross-check verdicts:", summary["crosscheck"]["verdicts"])
    if args.out:
        options = {"source": args.source, "geography": args.geography, "year": args.year}
        options.update(product_lines=args.product_lines, providers=args.providers, report_date=report_date)
        options.update(keep_implausible=args.keep_implausible, min_confidence=args.min_confidence)
        summary["queries"] = statistic_queries(table, args.code.strip(), **options)
        summary["data_label"] = config.SYNTHETIC_LABEL if data.is_synthetic else data.label
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
