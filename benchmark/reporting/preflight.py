"""Check a report's parameters and sources before any kernel starts (fail fast, leave nothing behind).

Everything here loads without pandas (a parameter error must come back within a second):

- :func:`parameter_problems` checks the values of a report (code, year, payers, geography, product lines) and names
  the valid choices; :class:`~benchmark.reporting.params.ReportParams` refuses a parameter set with any problem.
- :func:`check_sources` resolves relative paths against the current folder (the notebook runs elsewhere) and checks
  that each source and the provider directory exist and look usable.
- :func:`benchmark.reporting.params.check_report` does both for a ``ReportParams``; ``paybench report``, ``run_report`` and the batch loader call
  it, so a bad value raises one :class:`~benchmark.errors.ParameterError` (CLI exit status 2) before anything runs.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from benchmark import codes, config
from benchmark.sources.http import is_url
from benchmark.sources.source import ZIP_SCHEME

SAMPLE = "sample"
PROVIDER_COLUMNS = ("npi", "tin", "state", "medicare_locality")
CODE_PATTERN = codes.CPT_PATTERN  # a CPT/HCPCS code; an MS-DRG is written MS-DRG-470 (benchmark.codes)


def parameter_problems(
    code: object, year: object, payers: Sequence[str], geography: str, product_lines: Sequence[str]
) -> list[str]:
    """Every problem of a report's values, each naming the valid choices (empty: all usable)."""
    problems = []
    code_problem = codes.code_problem(code)
    if code_problem:
        problems.append(code_problem)
    years = sorted(config.PPRRVU_FILES)
    if isinstance(year, bool) or not isinstance(year, int) or year not in years:
        problems.append(f"year must be one of {years} (the payment years with a shipped PFS release), got {year!r}")
    elif code_problem is None and codes.parse(str(code)).is_drg and year != config.IPPS_FISCAL_YEAR:
        problems.append(
            f"an MS-DRG report compares rates with the IPPS FY {config.IPPS_FISCAL_YEAR} standardized amounts, the "
            f"only fiscal year shipped: year must be {config.IPPS_FISCAL_YEAR}, got {year!r} (e.g. `paybench report "
            f"{codes.normalize(code)} --year {config.IPPS_FISCAL_YEAR}`)"
        )
    unknown = [p for p in payers if p not in config.PAYER_FAMILIES]
    if unknown:
        problems.append(f"payers must be payer families {config.PAYER_FAMILIES}, got {unknown}")
    problems += geography_problems(geography)
    bad_lines = [p for p in product_lines if p not in config.PRODUCT_LINES]
    if bad_lines:
        problems.append(f"product_lines must be among {config.PRODUCT_LINES}, got {bad_lines}")
    return problems


# the levels of benchmark.analysis.confidence.LEVELS, lowest first (repeated here: this module loads without pandas;
# tests/test_report_assessment.py checks they are the same)
CONFIDENCE_LEVELS = ("flagged", "disputed", "single source", "corroborated")


def assessment_problems(report_date: object, keep_implausible: object, min_confidence: object) -> list[str]:
    """Problems of the rate-assessment parameters: ``report_date`` ISO ``YYYY-MM-DD`` or "" (the run date, UTC),
    ``keep_implausible`` a boolean, ``min_confidence`` "" (no restriction) or a confidence level."""
    problems = []
    if not isinstance(report_date, str) or (report_date and not _is_iso_day(report_date)):
        problems.append(f"report_date must be a date YYYY-MM-DD (or empty: the run date, UTC), got {report_date!r}")
    if not isinstance(keep_implausible, bool):
        problems.append(f"keep_implausible must be true or false, got {keep_implausible!r}")
    if not isinstance(min_confidence, str) or (min_confidence and min_confidence not in CONFIDENCE_LEVELS):
        problems.append(
            f"min_confidence must be one of {list(CONFIDENCE_LEVELS)} (or empty: all), got {min_confidence!r}"
        )
    return problems


def _is_iso_day(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_sources(
    data_source: str | Sequence[str], providers: str = "", base: str | Path | None = None
) -> tuple[str | tuple[str, ...], str, list[str]]:
    """The sources (local paths absolute; one source stays a string), the provider directory, and every problem."""
    base = Path(base) if base is not None else Path.cwd()
    problems: list[str] = []
    resolved = []
    for value in source_list(data_source):
        path, problem = check_source(value, base)
        resolved.append(path)
        if problem:
            problems.append(problem)
    stores = [p for p in resolved if is_store(p)]
    if stores and len(resolved) > 1:
        problems.append(f"a rate store is read on its own, not with other sources: {', '.join(stores)}")
    if providers:
        providers, problem = check_provider_directory(providers, base)
        if problem:
            problems.append(problem)
    return (resolved[0] if len(resolved) == 1 else tuple(resolved)), providers, problems


def is_store(path: str | Path) -> bool:
    """A rate store folder (it has the store's manifest)."""
    try:
        return (Path(path) / config.STORE_MANIFEST).is_file()
    except (TypeError, OSError):
        return False


def source_list(data_source: str | Sequence[str]) -> list[str]:
    """The sources of a report, one string each (``data_source`` is one string or several)."""
    return [data_source] if isinstance(data_source, str) else list(data_source)


def check_source(value: str, base: Path) -> tuple[str, str | None]:
    """One source as it will be passed on (local paths absolute) and what is wrong with it (None: usable)."""
    text = str(value).strip()
    if text == SAMPLE:
        if not config.SAMPLE_TIC_DIR.is_dir() and not config.SAMPLE_HOSPITAL_DIR.is_dir():
            return text, f"no sample files under {config.SAMPLE_DIR}; run `paybench sample-data`"
        return text, None
    if is_url(text):
        return text, None  # reachability is the reader's job (retries, resume); the syntax is all we can check here
    if text.startswith(ZIP_SCHEME):
        text = text[len(ZIP_SCHEME) :].split("!")[0]
    if "://" in text:
        return text, f"source {text!r}: only http(s) URLs are read (or 'sample', or a file or folder)"
    path = (base / Path(text).expanduser()).resolve()
    if not path.exists():
        return str(path), (
            f"source {text!r}: no such file or folder (looked for {path}); give a TiC / hospital file, a folder or "
            f".zip of them, a rate store folder, an http(s) URL or 'sample'"
        )
    if path.is_dir() and not is_store(path) and not _has_data_file(path):
        return str(path), (
            f"source {text!r}: the folder holds no data file (names ending in {', '.join(config.DATA_SUFFIXES)}) and is "
            "not a rate store"
        )
    if path.is_file():
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            return str(path), f"source {text!r}: cannot be read ({error.strerror or error})"
    return str(path), None


def _has_data_file(folder: Path) -> bool:
    return any(
        p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(config.DATA_SUFFIXES)
        for p in folder.rglob("*")
    )


def check_provider_directory(value: str | Path, base: Path) -> tuple[str, str | None]:
    """A provider directory CSV made absolute, and what is wrong with it (a missing file or column)."""
    path = (base / Path(str(value)).expanduser()).resolve()
    if not path.is_file():
        return str(path), f"providers {str(value)!r}: no such file (looked for {path})"
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError) as error:
        return str(path), f"providers {str(value)!r}: cannot be read as a CSV file ({error})"
    missing = [c for c in PROVIDER_COLUMNS if c not in {h.strip() for h in header}]
    if missing:
        return str(path), (
            f"providers {str(value)!r}: no column(s) {', '.join(missing)}; a provider directory is a CSV with "
            f"{', '.join(PROVIDER_COLUMNS)} (and optionally taxonomy, provider_name)"
        )
    return str(path), None


def check_table5(value: str, base: str | Path | None = None) -> tuple[str, str | None]:
    """A CMS IPPS Table 5 path made absolute (against ``base``, default the current folder) and what is wrong with
    it ("" stays "": none given). Its layout is checked when the report reads it."""
    if not value:
        return "", None
    path = (Path(base) if base is not None else Path.cwd()) / Path(str(value)).expanduser()
    path = path.resolve()
    if not path.is_file():
        return str(path), (
            f"ipps_table5 {str(value)!r}: no such file (looked for {path}); give the CMS IPPS Table 5 (MS-DRG "
            "weights, .txt / .csv / .xlsx as CMS publishes it)"
        )
    return str(path), None


def table5_use_problems(code: str, table5: str) -> list[str]:
    """A Table 5 given for a report whose rates cannot be DRG-coded (a valid CPT/HCPCS ``code``) is refused."""
    if not table5 or codes.parse(code).is_drg:
        return []
    return [
        f"ipps_table5 is used only by an MS-DRG report (e.g. MS-DRG-470): the rates of {code} are not DRG-coded, so "
        "a Table 5 would change nothing in its report"
    ]


def geography_problems(geography: object) -> list[str]:
    """``all``, a state with a Medicare locality, or a locality id of the GPCI table; the message lists what exists."""
    if geography == "all":
        return []
    states, localities = gpci_places()
    if isinstance(geography, str) and re.fullmatch(r"[A-Z]{2}", geography):
        if geography not in states:
            return [
                f"geography {geography!r}: not a state with a Medicare payment locality; states: {' '.join(states)}"
            ]
        return []
    if isinstance(geography, str) and geography in localities:
        return []
    examples = ", ".join(
        f"{lid} ({name})" for lid, name in list(localities.items())[:: max(1, len(localities) // 3)][:3]
    )
    what = (
        "not a Medicare locality id of the GPCI table"
        if isinstance(geography, str) and re.fullmatch(r"\d{5}-\d{2}", geography)
        else "expected 'all', a state such as 'TX' or a Medicare locality id"
    )
    return [
        f"geography {geography!r}: {what} ({len(localities)} localities, e.g. {examples}; "
        "`paybench medicare CODE --locality all` lists them)"
    ]


@lru_cache(maxsize=4)
def gpci_places(year: int | None = None) -> tuple[list[str], dict[str, str]]:
    """States and ``{locality id: "ST Name"}`` of the shipped GPCI table, read with the csv module (no pandas).

    The ids are built as :func:`benchmark.reference.medicare.load_gpci` builds them (MAC to 5 digits, locality
    number to 2); a test checks the two agree.
    """
    path = config.GPCI_FILES[year or max(config.GPCI_FILES)]
    with open(path, newline="", encoding="latin-1") as handle:
        rows = list(csv.reader(handle))
    header = next((i for i, row in enumerate(rows) if any("Locality Number" in c for c in row)), None)
    if header is None:
        return [], {}
    localities: dict[str, str] = {}
    for row in rows[header + 1 :]:
        if len(row) < 4 or not row[0].strip().isdigit():
            continue
        mac, state, number, name = (c.strip() for c in row[:4])
        localities[f"{mac.zfill(5)}-{number.zfill(2)}"] = f"{state.upper()} {name.rstrip('*').strip().title()}"
    states = sorted({place.split(" ", 1)[0] for place in localities.values()})
    return states, localities
