"""Medicare Clinical Laboratory Fee Schedule (CLFS): the national payment rate of lab codes.

The CMS public-use file has a few preamble lines, then ``YEAR,HCPCS,MOD,EFF_DATE,INDICATOR,RATE,SHORTDESC,
LONGDESC,EXTENDEDLONGDESC`` with one row per code + modifier (``QW``: CLIA-waived test). The descriptor columns are
never read. Lab rates are national: the CLFS has no geographic adjustment. A rate of 0.00 means the file gives no
national rate for the code (contractor-priced), never a price of zero.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from benchmark import cache, config
from benchmark.errors import InputFileError, UnknownParameterError
from benchmark.schema import ClfsRateSchema

_COLUMNS = ("YEAR", "HCPCS", "MOD", "EFF_DATE", "INDICATOR", "RATE")


class ClfsFileError(InputFileError):
    """A CLFS file that does not have the published layout."""


@dataclass(frozen=True)
class ClfsRate:
    """The CLFS row of one code: the national rate (None when the file gives none), as published."""

    year: int
    hcpcs: str
    modifier: str
    rate: float | None
    indicator: str
    effective_date: str
    source_file: str
    source_line: int


def available_years() -> list[int]:
    """Calendar years with a CLFS file shipped in ``data/reference/clfs``."""
    return sorted(config.CLFS_FILES)


def load_clfs(year_or_path: int | str | Path = config.DEFAULT_MEDICARE_YEAR) -> pd.DataFrame:
    """The CLFS as a validated table (``ClfsRateSchema``), one row per code + modifier."""
    if isinstance(year_or_path, int):
        if year_or_path not in config.CLFS_FILES:
            raise UnknownParameterError(f"No CLFS file shipped for {year_or_path}; available: {available_years()}")
        path = config.CLFS_FILES[year_or_path]
    else:
        path = Path(year_or_path)
    return _load_cached(str(path))


def clfs_rate(code: str, year: int = config.DEFAULT_MEDICARE_YEAR, modifier: str = "") -> ClfsRate | None:
    """The CLFS row of ``code`` (+ ``modifier``) in ``year``, or None when no file for the year lists it."""
    if year not in config.CLFS_FILES:
        return None
    table = load_clfs(year)
    match = table[table["hcpcs"].eq(code) & table["modifier"].eq(modifier)]
    if match.empty:
        return None
    row = match.iloc[0]
    rate = float(row["rate"])
    return ClfsRate(
        int(row["year"]),
        code,
        modifier,
        rate if rate > 0 else None,
        row["indicator"],
        row["effective_date"],
        row["source_file"],
        int(row["source_line"]),
    )


@lru_cache(maxsize=4)
def _load_cached(path_text: str) -> pd.DataFrame:
    # parsed and validated once per file content (benchmark.cache: Parquet keyed by the file's sha256)
    return cache.parsed_file("medicare_clfs", path_text, _parse)


def _parse(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="latin-1") as handle:
        reader = csv.reader(handle)
        numbered = [(reader.line_num, row) for row in reader]  # line_num: physical line where the row ends
    rows = [row for _, row in numbered]
    header_index = next((i for i, row in enumerate(rows[:30]) if row and row[0].strip() == "YEAR"), None)
    if header_index is None:
        raise ClfsFileError(f"{path.name}: no header row starting with 'YEAR' in the first 30 lines")
    header = [cell.strip() for cell in rows[header_index]]
    if tuple(header[: len(_COLUMNS)]) != _COLUMNS:
        raise ClfsFileError(
            f"{path.name}, line {header_index + 1}: header {header[: len(_COLUMNS)]} is not {list(_COLUMNS)}"
        )
    records = []
    for line, row in numbered[header_index + 1 :]:
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(_COLUMNS):
            raise ClfsFileError(f"{path.name}, line {line}: {len(row)} columns, expected at least {len(_COLUMNS)}")
        year, code, modifier, effective, indicator, rate = (cell.strip() for cell in row[: len(_COLUMNS)])
        if not re.fullmatch(r"20\d\d", year) or not re.fullmatch(r"[0-9A-Z]{5}", code):
            raise ClfsFileError(f"{path.name}, line {line}: year {year!r} / HCPCS {code!r} not as published")
        if not re.fullmatch(r"\d+\.\d\d", rate):
            raise ClfsFileError(f"{path.name}, line {line}: RATE {rate!r} is not an amount")
        records.append(
            {
                "year": int(year),
                "hcpcs": code,
                "modifier": modifier,
                "effective_date": effective,
                "indicator": indicator,
                "rate": float(rate),
                "source_file": path.name,
                "source_line": line,
            }
        )
    return ClfsRateSchema.validate(pd.DataFrame.from_records(records), lazy=True)
