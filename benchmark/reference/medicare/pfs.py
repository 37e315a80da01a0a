"""Medicare Physician Fee Schedule (PFS): the relative value files (PPRRVU) and the allowed amounts.

- :func:`load_pprrvu` parses one release: the CSV layout of 2022-2025 (5 banner rows, a 5-row stacked header, one
  row per HCPCS code + modifier) or the fixed-width text layout of 2026 (7 ``HDR`` lines, then 171-character
  records; field positions from the CMS read-me ``RVU26B.pdf``, see :data:`FIXED_WIDTH_FIELDS`). Descriptors are
  never read.
- :func:`medicare_amounts` computes the allowed amount for codes, nationally and in every locality, for the facility
  and non-facility settings::

      amount = [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x conversion factor

  with the facility PE RVU in the facility setting and the non-facility PE RVU otherwise; an ``NA`` indicator makes
  the code not payable in that setting. National amounts use GPCIs of 1.0. Amounts are rounded half-up to cents.
  Each payment year uses its own GPCI table (:mod:`.gpci`); a year without one borrows the nearest and says so.
- 2026 has two conversion factors: the file's (non-qualifying APM participants, the default) and the one for
  qualifying APM participants (``qp=True``, :data:`benchmark.config.QP_CONVERSION_FACTORS`).
- :func:`pfs_indicators` exposes the payment-policy indicators of a code with their meanings, and
  :func:`modifier_rules` what the common surgical modifiers do to the allowed amount under Medicare's rules.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from benchmark import cache, config
from benchmark.errors import InputFileError, UnknownParameterError
from benchmark.reference.medicare import gpci as gpci_tables
from benchmark.schema import MedicareAmountSchema, PfsRvuSchema, check_built

NATIONAL = "national"


class PfsFileError(InputFileError):
    """A Medicare file that does not have the published layout (the message names the file, line and column)."""


class MedicareLookupError(UnknownParameterError):
    """A payment year, code or locality the shipped CMS files do not have."""


# --------------------------------------------------------------------------------------------------- layouts
# Position -> name of the 31 PPRRVU CSV columns (0-based), as laid out in every release 2022-2025.
PPRRVU_COLUMNS: tuple[str, ...] = (
    "hcpcs",
    "modifier",
    "description",
    "status_code",
    "not_used_for_medicare_payment",
    "work_rvu",
    "non_facility_pe_rvu",
    "non_facility_na_indicator",
    "facility_pe_rvu",
    "facility_na_indicator",
    "mp_rvu",
    "non_facility_total",
    "facility_total",
    "pctc_ind",
    "global_days",
    "pre_op",
    "intra_op",
    "post_op",
    "mult_proc",
    "bilat_surg",
    "asst_surg",
    "co_surg",
    "team_surg",
    "endo_base",
    "conversion_factor",
    "physician_supervision",
    "calculation_flag",
    "diagnostic_imaging_family",
    "non_facility_pe_opps",
    "facility_pe_opps",
    "mp_opps",
)
# What the stacked header must spell at a few positions; a file that disagrees is not the layout we know.
_HEADER_CHECKS: dict[int, str] = {
    0: "HCPCS",
    1: "MOD",
    3: "STATUS CODE",
    5: "WORK RVU",
    6: "NON-FAC PE RVU",
    8: "FACILITY PE RVU",
    10: "MP RVU",
    14: "GLOB DAYS",
    18: "MULT PROC",
    20: "ASST SURG",
    24: "CONV FACTOR",
}

# The fixed-width data record of the 2026 PPRRVU text file: name, first and last column (1-based, inclusive, as
# printed in RVU26B.pdf "DATA RECORD"), and the pattern the field must match. Column 59 is not in the read-me's
# table; it holds the "+" of the CSV column NOT USED FOR MEDICARE PAYMENT (158 records of RVU26B).
_MONEY = r" *\d*\.\d\d"
FIXED_WIDTH_FIELDS: tuple[tuple[str, int, int, str], ...] = (
    ("hcpcs", 1, 5, r"[0-9A-Z]{5}"),
    ("modifier", 6, 7, r"[0-9A-Z ]{2}"),
    ("description", 8, 57, r".*"),  # never read: AMA descriptor (blank in the shipped file)
    ("status_code", 58, 58, r"[A-Z]"),
    ("not_used_for_medicare_payment", 59, 59, r"[+ ]"),
    ("work_rvu", 60, 65, _MONEY),
    ("non_facility_pe_rvu", 67, 72, _MONEY),
    ("non_facility_na_indicator", 73, 74, r"NA|  "),
    ("facility_pe_rvu", 76, 81, _MONEY),
    ("facility_na_indicator", 82, 83, r"NA|  "),
    ("mp_rvu", 85, 89, _MONEY),
    ("non_facility_total", 91, 96, _MONEY),
    ("facility_total", 97, 102, _MONEY),
    ("pctc_ind", 103, 103, r"[0-9]"),
    ("global_days", 104, 106, r"\d{3}|[A-Z]{3}"),
    ("pre_op", 107, 109, r"[.\d]\d\d"),
    ("intra_op", 110, 112, r"[.\d]\d\d"),
    ("post_op", 113, 115, r"[.\d]\d\d"),
    ("mult_proc", 116, 116, r"\d"),
    ("bilat_surg", 117, 117, r"\d"),
    ("asst_surg", 118, 118, r"\d"),
    ("co_surg", 119, 119, r"\d"),
    ("team_surg", 120, 120, r"\d"),
    ("pricing_indicator", 121, 121, r"[19]"),
    ("endo_base", 128, 132, r"[0-9A-Z]{5}| {5}"),
    ("conversion_factor", 133, 140, r" *\d+\.\d{4}"),
    ("physician_supervision", 142, 143, r"[0-9A-Z ]{2}"),
    ("calculation_flag", 144, 144, r"[0-9 ]"),
    ("diagnostic_imaging_family", 146, 147, r"\d\d| {2}"),
    ("non_facility_pe_opps", 152, 157, _MONEY),
    ("facility_pe_opps", 159, 164, _MONEY),
    ("mp_opps", 166, 171, _MONEY),
)
FIXED_WIDTH_RECORD_LENGTH = 171
_FIXED_WIDTH_FILLER = (66, 75, 84, 90, 122, 123, 124, 125, 126, 127, 141, 145, 148, 149, 150, 151, 158, 165)

_NUMERIC = [
    "work_rvu",
    "non_facility_pe_rvu",
    "facility_pe_rvu",
    "mp_rvu",
    "non_facility_total",
    "facility_total",
    "pre_op",
    "intra_op",
    "post_op",
    "conversion_factor",
]
# Status codes with RVUs that Medicare pays under the fee schedule.
PAYABLE_STATUS = frozenset({"A", "R", "T"})
_DROPPED = [
    "description",
    "physician_supervision",
    "calculation_flag",
    "diagnostic_imaging_family",
    "non_facility_pe_opps",
    "facility_pe_opps",
    "mp_opps",
    "pricing_indicator",
]


# --------------------------------------------------------------------------------------------------- PPRRVU
def load_pprrvu(year_or_path: int | str | Path) -> pd.DataFrame:
    """All rows of one PPRRVU release as a validated table (``PfsRvuSchema``).

    ``year_or_path`` is a payment year shipped in ``data/reference/medicare`` or the path of a PPRRVU file, CSV or
    fixed-width text (recognised by its ``HDR`` first line). Parsed once per process and file.
    """
    path = _pprrvu_path(year_or_path)
    stat = path.stat()
    return _load_pprrvu_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_pprrvu_cached(path_text: str, size: int, mtime_ns: int) -> pd.DataFrame:
    # parsed and validated once per file content (benchmark.cache: Parquet keyed by the file's sha256)
    return cache.parsed_file("medicare_pprrvu", path_text, _parse_pprrvu)


def _parse_pprrvu(path: Path) -> pd.DataFrame:
    with open(path, encoding="latin-1", newline="") as handle:
        first = handle.readline()
    frame = _read_fixed_width(path) if first.startswith("HDR") else _read_csv(path)
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column].replace("", "0"), errors="raise")
    frame["non_facility_na"] = frame.pop("non_facility_na_indicator").str.upper().eq("NA")
    frame["facility_na"] = frame.pop("facility_na_indicator").str.upper().eq("NA")
    # A spreadsheet re-save drops leading zeros ("90" for "090"): restore the published width.
    frame["global_days"] = frame["global_days"].map(lambda v: v.zfill(3) if v.isdigit() else v)
    frame["source_file"] = path.name
    frame = frame.drop(columns=[c for c in _DROPPED if c in frame.columns])
    columns = list(PfsRvuSchema.to_schema().columns)
    return PfsRvuSchema.validate(frame[columns], lazy=True)


def _pprrvu_path(year_or_path: int | str | Path) -> Path:
    if isinstance(year_or_path, int):
        if year_or_path not in config.PPRRVU_FILES:
            raise MedicareLookupError(
                f"No PFS release shipped for {year_or_path}; available: {sorted(config.PPRRVU_FILES)}"
            )
        return config.PPRRVU_FILES[year_or_path]
    path = Path(year_or_path)
    if not path.is_file():
        raise MedicareLookupError(f"PPRRVU file not found: {path}")
    return path


def _read_csv(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="latin-1") as handle:
        lines = list(csv.reader(handle))
    header_end = _find_header_end(lines, path)
    year = _banner_year(lines[:header_end], path)
    _check_header(lines, header_end, path)
    records = []
    for offset, row in enumerate(lines[header_end + 1 :], start=header_end + 2):
        if not row or not row[0].strip() or row[0] == "\x1a":
            continue  # blank rows and the DOS end-of-file mark (Ctrl-Z) some releases end with
        if len(row) < len(PPRRVU_COLUMNS):
            raise PfsFileError(f"{path.name}, line {offset}: {len(row)} columns, expected {len(PPRRVU_COLUMNS)}")
        record: dict[str, str | int] = dict(zip(PPRRVU_COLUMNS, (cell.strip() for cell in row)))
        record["source_line"] = offset
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame["year"] = year
    return frame


def _record_pattern() -> re.Pattern[str]:
    """One regular expression for a whole record: each field's pattern at its position, blanks in between."""
    parts, position = [], 1
    for name, start, end, pattern in FIXED_WIDTH_FIELDS:
        if start > position:
            parts.append(" " * (start - position))
        parts.append(f"(?P<{name}>{pattern})" if name != "description" else f".{{{end - start + 1}}}")
        position = end + 1
    return re.compile("".join(parts))


_RECORD = _record_pattern()


def _read_fixed_width(path: Path) -> pd.DataFrame:
    """The fixed-width PPRRVU text file (RVU26x): every field checked against its documented position."""
    with open(path, encoding="latin-1", newline="") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("HDR")]
    year = _fixed_width_year(path, header)
    names = [name for name, *_ in FIXED_WIDTH_FIELDS if name != "description"]
    records: list[tuple[str, ...]] = []
    source_lines: list[int] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("HDR") or not line.strip() or line == "\x1a":
            continue
        match = _RECORD.fullmatch(line)
        if match is None:
            raise PfsFileError(_layout_problem(path, number, line))
        records.append(match.group(*names))
        source_lines.append(number)
    if not records:
        raise PfsFileError(f"{path.name}: no data records after the HDR lines")
    frame = pd.DataFrame.from_records(records, columns=names)
    for name in names:
        frame[name] = frame[name].str.strip()
    frame["source_line"] = source_lines
    frame["year"] = year
    return frame


def _layout_problem(path: Path, number: int, line: str) -> str:
    """Where a record departs from the layout: its length, the first field that does not match, or a filler."""
    if len(line) != FIXED_WIDTH_RECORD_LENGTH:
        return (
            f"{path.name}, line {number}: record is {len(line)} characters, expected "
            f"{FIXED_WIDTH_RECORD_LENGTH} (fixed-width layout of RVU26B.pdf)"
        )
    for name, start, end, pattern in FIXED_WIDTH_FIELDS:
        value = line[start - 1 : end]
        if not re.fullmatch(pattern, value):
            return (
                f"{path.name}, line {number}, columns {start}-{end} ({name}): {value!r} is not in the published layout"
            )
    column = next(c for c in _FIXED_WIDTH_FILLER if line[c - 1] != " ")
    return f"{path.name}, line {number}, column {column}: filler holds {line[column - 1]!r}, expected a blank"


def _fixed_width_year(path: Path, header: list[str]) -> int:
    """Payment year of a fixed-width release: the file name (PPRRVU2026_..., PPRRVU26_...) or the HDR copyright."""
    match = re.search(r"PPRRVU(20\d\d|\d\d)(?!\d)", path.name, re.IGNORECASE)
    if match:
        digits = match.group(1)
        return int(digits) if len(digits) == 4 else 2000 + int(digits)
    for line in header:
        found = re.match(r"HDR (20\d\d) AMERICAN MEDICAL ASSOCIATION", line)
        if found:
            return int(found.group(1))
    raise PfsFileError(f"{path.name}: neither the file name nor the HDR lines name the fee-schedule year")


def _find_header_end(lines: list[list[str]], path: Path) -> int:
    """Index of the last stacked-header row (the one that starts with HCPCS)."""
    for index, row in enumerate(lines[:40]):
        if row and row[0].strip().upper() == "HCPCS":
            return index
    raise PfsFileError(f"{path.name}: no header row starting with 'HCPCS' in the first 40 lines")


def _banner_year(banner: list[list[str]], path: Path) -> int:
    for row in banner:
        match = re.search(r"\b(20\d\d) National Physician Fee Schedule", " ".join(row))
        if match:
            return int(match.group(1))
    raise PfsFileError(f"{path.name}: banner rows do not name the fee-schedule year")


def _check_header(lines: list[list[str]], header_end: int, path: Path) -> None:
    stacked = lines[header_end - 4 : header_end + 1]
    for position, expected in _HEADER_CHECKS.items():
        words = " ".join(row[position].strip() for row in stacked if len(row) > position and row[position].strip())
        if words.replace("CO- ", "CO-") != expected:
            raise PfsFileError(
                f"{path.name}, line {header_end + 1}, column {position + 1}: header reads {words!r}, "
                f"expected {expected!r}"
            )


# --------------------------------------------------------------------------------------------------- amounts
def available_years() -> list[int]:
    """Payment years with a PFS release shipped in ``data/reference/medicare``."""
    return sorted(config.PPRRVU_FILES)


def conversion_factor(year: int, *, qp: bool = False) -> float:
    """The PFS conversion factor of ``year``: the release's own, or the qualifying-APM one with ``qp=True``."""
    if qp:
        if year not in config.QP_CONVERSION_FACTORS:
            raise MedicareLookupError(
                f"No separate qualifying-APM conversion factor for {year}; CMS has two "
                f"conversion factors from 2026 ({sorted(config.QP_CONVERSION_FACTORS)})"
            )
        return config.QP_CONVERSION_FACTORS[year]
    factors = load_pprrvu(year)["conversion_factor"].unique()
    return float(factors[0])


def medicare_amounts(
    codes: str | Iterable[str],
    year: int = config.DEFAULT_MEDICARE_YEAR,
    *,
    localities: str | Sequence[str] | None = "all",
    modifier: str = "",
    gpci: pd.DataFrame | None = None,
    qp: bool = False,
) -> pd.DataFrame:
    """Allowed amounts for ``codes`` in ``year``: national plus each locality, facility and non-facility.

    ``localities``: ``"all"`` for every locality in the year's GPCI table, a list of locality ids, or None for
    national only. ``gpci`` overrides the year's table. ``qp=True`` uses the qualifying-APM conversion factor
    (2026 on). Codes absent from the release give no rows (callers render that as "Data not available").
    """
    code_list = [codes] if isinstance(codes, str) else list(codes)
    rvu = load_pprrvu(year)
    rows = rvu[rvu["hcpcs"].isin(code_list) & rvu["modifier"].eq(modifier)]
    if qp:
        rows = rows.assign(conversion_factor=conversion_factor(year, qp=True))
    areas = _areas(year, localities, gpci)
    frames = []
    for setting, pe_column, na_column in (
        ("facility", "facility_pe_rvu", "facility_na"),
        ("non_facility", "non_facility_pe_rvu", "non_facility_na"),
    ):
        part = rows[["year", "hcpcs", "modifier", "work_rvu", "mp_rvu", "conversion_factor", "status_code"]].copy()
        part["pe_rvu"] = rows[pe_column]
        part["payable"] = ~rows[na_column] & rows["status_code"].isin(PAYABLE_STATUS)
        part["setting"] = setting
        frames.append(part.merge(areas, how="cross"))
    result = pd.concat(frames, ignore_index=True)
    raw = (
        result["work_rvu"] * result["gpci_work"]
        + result["pe_rvu"] * result["gpci_pe"]
        + result["mp_rvu"] * result["gpci_mp"]
    ) * result["conversion_factor"]
    result["amount"] = round_cents(raw).where(result["payable"])
    columns = list(MedicareAmountSchema.to_schema().columns)
    ordered = result[columns].sort_values(["hcpcs", "setting", "locality_id"], ignore_index=True)
    return check_built(MedicareAmountSchema, ordered)


def national_amount(
    code: str, year: int = config.DEFAULT_MEDICARE_YEAR, setting: str = "facility", *, qp: bool = False
) -> float | None:
    """The national (unadjusted) allowed amount, or None if the code is not payable in that setting."""
    table = medicare_amounts(code, year, localities=None, qp=qp)
    match = table[table["setting"].eq(setting)]
    if match.empty or pd.isna(match["amount"].iloc[0]):
        return None
    return float(match["amount"].iloc[0])


_Dollars = TypeVar("_Dollars", pd.Series, float)


def round_cents(values: _Dollars) -> _Dollars:
    """Round dollars half-up to cents (the tiny epsilon absorbs binary floating-point error): a Series, or one
    non-negative number (:func:`benchmark.reference.policy.round_half_up` gives negative numbers their sign)."""
    return np.floor(values * 100 + 0.5 + 1e-7) / 100


def _areas(year: int, localities: str | Sequence[str] | None, gpci: pd.DataFrame | None) -> pd.DataFrame:
    national = pd.DataFrame(
        [
            {
                "locality_id": NATIONAL,
                "locality_name": "National (unadjusted)",
                "state": None,
                "gpci_work": 1.0,
                "gpci_pe": 1.0,
                "gpci_mp": 1.0,
                "gpci_year": np.nan,
                "gpci_borrowed": False,
            }
        ]
    )
    if localities is None:
        return national
    table = gpci_tables.gpci_for_year(year) if gpci is None else gpci
    if localities != "all":
        wanted = [localities] if isinstance(localities, str) else list(localities)
        unknown = sorted(set(wanted) - set(table["locality_id"]))
        if unknown:
            raise MedicareLookupError(f"Unknown Medicare locality id(s) {unknown}; ids look like '01112-26'")
        table = table[table["locality_id"].isin(wanted)]
    table = table.assign(gpci_borrowed=table["gpci_year"].ne(year))
    cols = ["locality_id", "locality_name", "state", "gpci_work", "gpci_pe", "gpci_mp", "gpci_year", "gpci_borrowed"]
    return pd.concat([national, table[cols].astype({"gpci_year": float})], ignore_index=True)
