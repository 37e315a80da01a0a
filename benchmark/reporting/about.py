"""What a report is: its title, parameters and data sources, as the report's first screen, the PDF's first page,
the deck's title slide and ``summary.json`` (key ``report``) all state them.

A data source is described by its files: how many, their names, the sha256 of each (short form: 12 hex digits) and
one fingerprint (the sha256 of the files' sorted sha256s, short form), and the date range of the files. A file's date
is the date it declares (``last_updated_on``, required in CMS hospital and TiC files), else the date its name carries
(the TiC file-naming convention ``YYYY-MM-DD_<payer>_...``); a file with neither is counted as without a date rather
than dated by guess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark import codes, config
from benchmark.files import sha256_file

SHORT = 12  # hex digits of a short sha256
DATES_FROM_FILES = "last_updated_on in each file, else its name"
_NAME_DATE = re.compile(r"(?:^|[_\-])(\d{4}-\d{2}-\d{2})(?=[_\-.])")


def utc_now() -> str:
    """Now, UTC, to the second: ``2026-12-07T00:15:03Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(sha: str) -> str:
    return str(sha)[:SHORT]


def fingerprint(shas: Iterable[str]) -> str:
    """One short sha256 for a set of files: the sha256 of their sorted full sha256s, one per line."""
    text = "\n".join(sorted(str(s) for s in shas))
    return short(hashlib.sha256(text.encode("ascii")).hexdigest())


def name_date(name: str) -> str | None:
    """The ``YYYY-MM-DD`` date a file name carries (a real calendar date), else None."""
    match = _NAME_DATE.search(Path(name).name)
    if not match:
        return None
    try:
        datetime.strptime(match.group(1), "%Y-%m-%d")
    except ValueError:
        return None
    return match.group(1)


def geography_label(geography: str, locality_names: dict[str, str] | None = None) -> str:
    """``all`` -> "all states and localities"; ``TX`` -> "state TX"; a locality id -> "Medicare locality <id> (name)"."""
    if geography == "all":
        return "all states and localities"
    if len(geography) == 2:
        return f"state {geography}"
    name = (locality_names or {}).get(geography)
    return f"Medicare locality {geography}" + (f" ({name.title()})" if name else "")


def report_title(code: str, year: int, geography: str, locality_names: dict[str, str] | None = None) -> str:
    """The report's title; a geography report names its geography."""
    title = f"{codes.label(code)} — payer benchmark report, {year}"
    return title if geography == "all" else f"{title} — {geography_label(geography, locality_names)}"


def files_source(name: str, label: str, files: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """A data source of ``files`` (file name, full sha256, the date the file declares or None). A file is dated by
    the date it declares (``last_updated_on``), else by the date in its name, else counted as without a date."""
    file_dates = [declared or name_date(file) for file, _, declared in files]
    dates = sorted(d for d in file_dates if d)
    undated = sum(1 for d in file_dates if d is None)
    return {
        "name": name,
        "label": label,
        "file_count": len(files),
        "fingerprint": fingerprint(s for _, s, _ in files) if files else None,
        "files": [{"file": Path(f).name, "sha256": short(s), "date": d} for (f, s, _), d in zip(files, file_dates)],
        "date_range": {"from": dates[0], "to": dates[-1]} if dates else None,
        "files_without_date": undated,
        "dates_from": DATES_FROM_FILES,
    }


def medicare_source(year: int) -> dict[str, Any]:
    """The CMS PFS files a report of ``year`` uses (relative values of the year, GPCIs, locality counties)."""
    paths = [config.PPRRVU_FILES[year], *config.GPCI_FILES.values(), *config.LOCALITY_COUNTY_FILES.values()]
    source = files_source(
        "Medicare",
        f"CMS Physician Fee Schedule {year} (data/reference/medicare/PROVENANCE.md)",
        [(p.name, sha256_file(p), None) for p in paths if p.is_file()],
    )
    source["date_range"] = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
    source["dates_from"] = "payment year"
    return source


def ipps_source(fiscal_year: int, table5: str = "") -> dict[str, Any]:
    """The IPPS files an MS-DRG report uses: the shipped standardized amounts and the user's Table 5, if any."""
    paths = [config.IPPS_TABLES_1A_1E, *([Path(table5)] if table5 else [])]
    label = f"CMS IPPS FY {fiscal_year} standardized amounts (data/reference/ipps/PROVENANCE.md)"
    source = files_source(
        "Medicare",
        label + (", MS-DRG weights from the CMS Table 5 given" if table5 else ", no Table 5 (MS-DRG weights) given"),
        [(p.name, sha256_file(p), None) for p in paths if p.is_file()],
    )
    # the federal fiscal year: discharges from October 1 of the year before to September 30
    source["date_range"] = {"from": f"{fiscal_year - 1}-10-01", "to": f"{fiscal_year}-09-30"}
    source["dates_from"] = "fiscal year"
    return source


def source_line(source: dict[str, Any]) -> str:
    """One line for a person: label, files, fingerprint, dates."""
    count = source["file_count"]
    parts = [f"{source['label']}: {count} file{'s' if count != 1 else ''}"]
    if source.get("fingerprint"):
        parts.append(f"sha256 {source['fingerprint']}")
    dates = source.get("date_range")
    if dates:
        span = dates["from"] if dates["from"] == dates["to"] else f"{dates['from']} to {dates['to']}"
        parts.append(f"dated {span} ({source['dates_from']})")
    if source.get("files_without_date") and source.get("dates_from") == DATES_FROM_FILES:
        parts.append(f"{source['files_without_date']} without a date (none declared in the file or its name)")
    return "; ".join(parts)
