"""Medicare geography: the GPCI table (Addendum E) and the locality-county crosswalk (yyLOCCO) of each year.

Each payment year uses its own tables. A year without a shipped table borrows the nearest year's (the later one on
a tie) and every amount computed with it says so (``gpci_year`` differs from the payment year): see
:func:`gpci_year_for` and :func:`county_year_for`.

The 2026 table lists two work GPCIs, without and with the 1.0 floor; CMS's note in the file says the floor was
extended only through January 31, 2026, so ``gpci_work`` is the value without the floor (in force from February 1,
2026) and ``gpci_work_floor`` keeps the floored value. Years whose table has one work column use it for both.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from benchmark import cache, config
from benchmark.errors import InputFileError, UnknownParameterError
from benchmark.schema import GpciSchema, LocalityCountySchema


class GpciFileError(InputFileError):
    """A GPCI or locality-county file that does not have the published layout."""


def _nearest(year: int, available: list[int], what: str) -> int:
    if not available:
        raise UnknownParameterError(f"No {what} is shipped")
    return min(available, key=lambda y: (abs(y - year), -y))


def gpci_year_for(year: int) -> int:
    """The GPCI table used for payment ``year``: its own when shipped, else the nearest year's."""
    return _nearest(year, sorted(config.GPCI_FILES), "GPCI table")


def county_year_for(year: int) -> int:
    """The locality-county crosswalk used for payment ``year``: its own when shipped, else the nearest year's."""
    return _nearest(year, sorted(config.LOCALITY_COUNTY_FILES), "locality-county file")


def gpci_for_year(year: int) -> pd.DataFrame:
    """The GPCI table that applies to payment ``year`` (``gpci_year`` says which table it is)."""
    return load_gpci(gpci_year_for(year))


def geography_note(year: int) -> str | None:
    """A sentence when ``year`` borrows another year's GPCIs or counties, else None."""
    gpci_year, county_year = gpci_year_for(year), county_year_for(year)
    parts = []
    if gpci_year != year:
        parts.append(f"no {year} GPCI table was found: {year} locality amounts use the {gpci_year} GPCIs")
    if county_year != year:
        parts.append(f"no {year} locality-county file was found: counties are those of {county_year}")
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# --------------------------------------------------------------------------------------------------- GPCI
def load_gpci(year_or_path: int | str | Path = config.DEFAULT_MEDICARE_YEAR) -> pd.DataFrame:
    """A GPCI table (one row per locality) as a validated table (``GpciSchema``).

    ``year_or_path``: a year with a shipped table (``config.GPCI_FILES``; see :func:`gpci_for_year` for payment
    years) or a path. MAC and locality numbers are normalized to 5 and 2 digits (spreadsheet re-saves drop the
    zeros) and the raw values are kept beside them. ``locality_id`` is ``MAC-locality``, e.g. ``01112-26``.
    """
    if isinstance(year_or_path, int):
        if year_or_path not in config.GPCI_FILES:
            raise UnknownParameterError(
                f"No GPCI table shipped for {year_or_path}; available: {sorted(config.GPCI_FILES)}"
            )
        path = config.GPCI_FILES[year_or_path]
    else:
        path = Path(year_or_path)
    return _load_gpci_cached(str(path))


def _column(header: list[str], pattern: str, path: Path, line: int, required: bool = True) -> int | None:
    for index, name in enumerate(header):
        if re.search(pattern, name, re.IGNORECASE):
            return index
    if required:
        raise GpciFileError(f"{path.name}, line {line}: no column matching {pattern!r} in the header")
    return None


@lru_cache(maxsize=8)
def _load_gpci_cached(path_text: str) -> pd.DataFrame:
    # parsed and validated once per file content (benchmark.cache: Parquet keyed by the file's sha256)
    return cache.parsed_file("medicare_gpci", path_text, _parse_gpci)


def _parse_gpci(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="latin-1") as handle:
        lines = list(csv.reader(handle))
    header_index = next((i for i, row in enumerate(lines) if any("Locality Number" in c for c in row)), None)
    if header_index is None:
        raise GpciFileError(f"{path.name}: no header row naming 'Locality Number'")
    header = [c.strip() for c in lines[header_index]]
    line = header_index + 1
    year_match = re.search(r"(20\d\d) PW GPCI", ",".join(header))
    if not year_match:
        raise GpciFileError(f"{path.name}, line {line}: no '<year> PW GPCI' column")
    floor_col = _column(header, r"PW GPCI \(with 1\.0 Floor\)", path, line, required=False)
    no_floor_col = _column(header, r"PW GPCI \(without 1\.0 Floor\)", path, line, required=False)
    if floor_col is None and no_floor_col is None:
        floor_col = _column(header, r"PW GPCI", path, line)
    work_col = no_floor_col if no_floor_col is not None else floor_col
    pe_col, mp_col = _column(header, r"PE GPCI", path, line), _column(header, r"MP GPCI", path, line)
    # required columns: _column raised rather than return None; the floor column alone is optional
    assert work_col is not None and pe_col is not None and mp_col is not None
    records = []
    for line_no, row in enumerate(lines[header_index + 1 :], start=header_index + 2):
        if not row or not row[0].strip().isdigit():
            continue  # footnotes ("*Work GPCI reflects ...") and blank rows
        cells = [c.strip() for c in row]
        try:
            work, pe, mp = float(cells[work_col]), float(cells[pe_col]), float(cells[mp_col])
            work_floor = float(cells[floor_col]) if floor_col is not None else work
        except (ValueError, IndexError) as error:
            raise GpciFileError(f"{path.name}, line {line_no}: GPCI is not a number ({error})") from None
        records.append(
            {
                "gpci_year": int(year_match.group(1)),
                "mac": cells[0].zfill(5),
                "mac_raw": cells[0],
                "locality_number": cells[2].zfill(2),
                "locality_number_raw": cells[2],
                "state": cells[1].upper(),
                "locality_name": cells[3].rstrip("*").strip(),
                "gpci_work": work,
                "gpci_work_floor": work_floor,
                "gpci_pe": pe,
                "gpci_mp": mp,
                "source_file": path.name,
                "source_line": line_no,
            }
        )
    if not records:
        raise GpciFileError(f"{path.name}: no locality rows after the header")
    frame = pd.DataFrame.from_records(records)
    frame.insert(1, "locality_id", frame["mac"] + "-" + frame["locality_number"])
    return GpciSchema.validate(frame, lazy=True)


# --------------------------------------------------------------------------------------------------- counties
def load_locality_counties(year_or_path: int | str | Path = config.DEFAULT_MEDICARE_YEAR) -> pd.DataFrame:
    """The locality-county crosswalk (``LocalityCountySchema``), state forward-filled, text stripped.

    A year without its own file gets the nearest year's (``county_year`` says which).
    """
    if isinstance(year_or_path, int):
        county_year = county_year_for(year_or_path)
        path = config.LOCALITY_COUNTY_FILES[county_year]
    else:
        path = Path(year_or_path)
    return _load_counties_cached(str(path))


@lru_cache(maxsize=8)
def _load_counties_cached(path_text: str) -> pd.DataFrame:
    # parsed and validated once per file content (benchmark.cache: Parquet keyed by the file's sha256)
    return cache.parsed_file("medicare_locality_counties", path_text, _parse_counties)


def _parse_counties(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="latin-1") as handle:
        lines = list(csv.reader(handle))
    title = " ".join(lines[0]) if lines else ""
    year_match = re.search(r"(20\d\d) LOCALITIES", title)
    if not year_match:
        raise GpciFileError(
            f"{path.name}, line 1: title does not name the year ('COUNTIES INCLUDED IN yyyy LOCALITIES')"
        )
    header_index = next((i for i, row in enumerate(lines) if any("Locality Number" in c for c in row)), None)
    if header_index is None:
        raise GpciFileError(f"{path.name}: no header row naming 'Locality Number'")
    records, state = [], ""
    for line_no, row in enumerate(lines[header_index + 1 :], start=header_index + 2):
        cells = [c.strip() for c in row] + [""] * 5
        if not cells[0].isdigit():
            continue  # blank separator rows
        state = cells[2] or state
        records.append(
            {
                "mac": cells[0].zfill(5),
                "locality_number": cells[1].zfill(2),
                "state_name": state,
                "fee_schedule_area": cells[3],
                "counties": cells[4],
                "county_year": int(year_match.group(1)),
                "source_line": line_no,
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame.insert(0, "locality_id", frame["mac"] + "-" + frame["locality_number"])
    return LocalityCountySchema.validate(frame, lazy=True)
