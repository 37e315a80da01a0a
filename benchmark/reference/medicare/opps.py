"""Medicare hospital outpatient payment (OPPS): Addendum B (HCPCS -> status indicator, APC, payment rate) and
Addendum A (APCs), the baseline for institutional outpatient rates.

The payment rates are national and unadjusted: CMS adjusts 60% of a rate by the hospital's wage index, and no wage
index is shipped, so a comparison uses the national unadjusted rate and says so. The status indicator decides what
a code gets (:func:`opps_status`): a separate payment (S, T, V, J1, J2, G, K, R, U, ...), packaged into another
service (N, Q1-Q4), inpatient only (C) or not paid under OPPS at all (A, B, E1, E2, M, Y, ...).
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
from benchmark.schema import OppsApcSchema, OppsRateSchema

PAID, PACKAGED, INPATIENT_ONLY, NOT_OPPS, NO_RATE = "paid", "packaged", "inpatient_only", "not_opps", "no_rate"

# Status indicators (OPPS Addendum D1) -> (category, plain words). Unknown indicators are said to be unknown.
STATUS_INDICATORS: dict[str, tuple[str, str]] = {
    "A": (NOT_OPPS, "not paid under OPPS: paid under another Medicare fee schedule or payment system"),
    "B": (NOT_OPPS, "not paid under OPPS: code not recognized on an outpatient hospital bill (another code may be)"),
    "C": (INPATIENT_ONLY, "inpatient only under Medicare: not paid under OPPS"),
    "D": (NOT_OPPS, "not paid under OPPS: discontinued code"),
    "E1": (NOT_OPPS, "not paid under OPPS: not covered by any Medicare outpatient benefit category"),
    "E2": (NOT_OPPS, "not paid under OPPS: no pricing information or claims data"),
    "F": (NOT_OPPS, "not paid under OPPS: paid at reasonable cost (corneal tissue, CRNA, hepatitis B vaccine)"),
    "G": (PAID, "paid separately under OPPS: pass-through drug or biological"),
    "H": (PAID, "paid separately under OPPS: pass-through device category"),
    "J1": (PAID, "paid under OPPS through a comprehensive APC (other services on the claim are packaged into it)"),
    "J2": (PAID, "paid under OPPS; may be paid through a comprehensive APC"),
    "K": (PAID, "paid separately under OPPS: non-pass-through drug or biological"),
    "L": (NOT_OPPS, "not paid under OPPS: vaccine paid at reasonable cost"),
    "M": (NOT_OPPS, "not paid under OPPS: not billable to the Medicare contractor"),
    "N": (PACKAGED, "packaged: no separate Medicare payment"),
    "P": (PAID, "paid under OPPS: partial hospitalization per diem"),
    "Q1": (PACKAGED, "packaged: no separate Medicare payment (conditionally packaged with S, T or V services)"),
    "Q2": (PACKAGED, "packaged: no separate Medicare payment (conditionally packaged with T services)"),
    "Q3": (PACKAGED, "packaged: no separate Medicare payment (conditionally paid through a composite APC)"),
    "Q4": (PACKAGED, "packaged: no separate Medicare payment (conditionally packaged laboratory test)"),
    "R": (PAID, "paid separately under OPPS: blood and blood products"),
    "S": (PAID, "paid separately under OPPS: procedure not discounted when multiple"),
    "T": (PAID, "paid separately under OPPS: procedure with the multiple-procedure reduction"),
    "U": (PAID, "paid separately under OPPS: brachytherapy source"),
    "V": (PAID, "paid separately under OPPS: clinic or emergency department visit"),
    "Y": (NOT_OPPS, "not paid under OPPS: non-implantable durable medical equipment (DMEPOS fee schedule)"),
}
NATIONAL_UNADJUSTED_NOTE = (
    "OPPS payment rates are national and unadjusted: CMS wage-adjusts 60% of the rate by the "
    "hospital's wage index (not shipped), so the comparison uses the national rate"
)

_B_COLUMNS = {
    "hcpcs": r"^HCPCS Code$",
    "comment_indicator": r"^CI$",
    "status_indicator": r"^SI$",
    "apc": r"^APC$",
    "relative_weight": r"^Relative Weight$",
    "payment_rate": r"^Payment Rate$",
    "national_copayment": r"^National Unadjusted Copayment$",
    "minimum_copayment": r"^Minimum Unadjusted Copayment$",
}
_A_COLUMNS = {
    "apc": r"^APC$",
    "group_title": r"^Group Title$",
    "status_indicator": r"^SI$",
    "relative_weight": r"^Relative Weight$",
    "payment_rate": r"^Payment Rate$",
    "national_copayment": r"^National Unadjusted Copayment$",
    "minimum_copayment": r"^Minimum Unadjusted Copayment$",
}


class OppsFileError(InputFileError):
    """An OPPS addendum that does not have the published layout."""


@dataclass(frozen=True)
class OppsStatus:
    """The OPPS status of one code: what Medicare's outpatient payment system does with it."""

    year: int
    hcpcs: str
    status_indicator: str | None  # None when the code is not in Addendum B
    category: str  # paid, packaged, inpatient_only, not_opps, no_rate (paid indicator without a rate), unknown
    words: str
    apc: str | None
    relative_weight: float | None
    payment_rate: float | None  # the national unadjusted rate when paid separately
    source_file: str
    source_line: int | None

    @property
    def comparable(self) -> bool:
        """True when a rate can be compared with an OPPS payment (separately paid with a published rate)."""
        return self.category == PAID and self.payment_rate is not None


def available_years() -> list[int]:
    """Calendar years with an OPPS Addendum B shipped in ``data/reference/opps``."""
    return sorted(config.OPPS_ADDENDUM_B_FILES)


def opps_year_for(year: int) -> int | None:
    """The OPPS year used for payment ``year``: the same year, else the latest shipped year before it, else None."""
    earlier = [y for y in available_years() if y <= year]
    return max(earlier) if earlier else None


def load_addendum_b(year_or_path: int | str | Path = 2025) -> pd.DataFrame:
    """Addendum B (one row per HCPCS code) as a validated table (``OppsRateSchema``); descriptors never read."""
    path = _path(year_or_path, config.OPPS_ADDENDUM_B_FILES, "OPPS Addendum B")
    return _load_b_cached(str(path))


def load_addendum_a(year_or_path: int | str | Path = 2025) -> pd.DataFrame:
    """Addendum A (one row per APC) as a validated table (``OppsApcSchema``)."""
    path = _path(year_or_path, config.OPPS_ADDENDUM_A_FILES, "OPPS Addendum A")
    return _load_a_cached(str(path))


def opps_status(code: str, year: int = config.DEFAULT_MEDICARE_YEAR) -> OppsStatus:
    """The OPPS status of ``code`` for payment ``year`` (the latest Addendum B not after ``year``)."""
    opps_year = opps_year_for(year)
    if opps_year is None:
        return OppsStatus(
            year,
            code,
            None,
            NO_RATE,
            f"{config.NOT_AVAILABLE}: no OPPS Addendum B for {year} or earlier is shipped",
            None,
            None,
            None,
            "",
            None,
        )
    table = load_addendum_b(opps_year)
    match = table[table["hcpcs"].eq(code)]
    source = config.OPPS_ADDENDUM_B_FILES[opps_year].name
    if match.empty:
        return OppsStatus(
            opps_year,
            code,
            None,
            NO_RATE,
            f"{config.NOT_AVAILABLE}: {code} is not in the CY {opps_year} OPPS Addendum B",
            None,
            None,
            None,
            source,
            None,
        )
    row = match.iloc[0]
    si = row["status_indicator"]
    category, words = STATUS_INDICATORS.get(
        si, ("unknown", f"status indicator {si!r} is not in the list this product knows (see CMS OPPS Addendum D1)")
    )
    rate = None if pd.isna(row["payment_rate"]) else float(row["payment_rate"])
    if category == PAID and rate is None:
        category, words = NO_RATE, f"{words}; Addendum B gives no payment rate"
    weight = None if pd.isna(row["relative_weight"]) else float(row["relative_weight"])
    return OppsStatus(
        opps_year,
        code,
        si,
        category,
        words,
        row["apc"] or None,
        weight,
        rate if category == PAID else None,
        source,
        int(row["source_line"]),
    )


def _path(year_or_path: int | str | Path, files: dict[int, Path], what: str) -> Path:
    if isinstance(year_or_path, int):
        if year_or_path not in files:
            raise UnknownParameterError(f"No {what} shipped for {year_or_path}; available: {sorted(files)}")
        return files[year_or_path]
    return Path(year_or_path)


def _read_table(path: Path, columns: dict[str, str]) -> tuple[int, list[tuple[int, dict[str, str]]]]:
    """(calendar year, [(line number, {column: text})]) of a tab-separated CMS addendum (cp1252, quoted cells)."""
    with open(path, newline="", encoding="cp1252", errors="strict") as handle:
        reader = csv.reader(handle, delimiter="\t")
        numbered = [(reader.line_num, row) for row in reader]  # line_num: physical line where the row ends
    rows = [row for _, row in numbered]
    title = " ".join(" ".join(row) for row in rows[:3])
    year_match = re.search(r"CY (20\d\d)", title)
    if not year_match:
        raise OppsFileError(f"{path.name}: the title rows do not name the calendar year ('... for CY yyyy')")
    header_index = next((i for i, row in enumerate(rows[:20]) if row and row[0].strip() in ("HCPCS Code", "APC")), None)
    if header_index is None:
        raise OppsFileError(f"{path.name}: no header row starting with 'HCPCS Code' or 'APC' in the first 20 rows")
    header = [cell.strip() for cell in rows[header_index]]
    positions = {}
    for name, pattern in columns.items():
        found = [i for i, cell in enumerate(header) if re.match(pattern, cell)]
        if not found:
            raise OppsFileError(f"{path.name}, line {numbered[header_index][0]}: no column {pattern.strip('^$')!r}")
        positions[name] = found[0]
    out = []
    for line_no, row in numbered[header_index + 1 :]:
        if not row or not row[0].strip():
            continue
        cells = row + [""] * (len(header) - len(row))
        out.append((line_no, {name: cells[index] for name, index in positions.items()}))
    return int(year_match.group(1)), out


def _money(text: str, path: Path, line: int, column: str) -> float | None:
    value = text.strip().replace("$", "").replace(",", "")
    if value in ("", "."):
        return None
    try:
        return float(value)
    except ValueError:
        raise OppsFileError(f"{path.name}, line {line}, {column}: {text!r} is not an amount") from None


@lru_cache(maxsize=4)
def _load_b_cached(path_text: str) -> pd.DataFrame:
    # parsed and validated once per file content (benchmark.cache: Parquet keyed by the file's sha256)
    return cache.parsed_file("medicare_opps_b", path_text, _parse_b)


# The money columns both addenda carry, with the CMS header that names each in an error message.
_AMOUNT_HEADERS = {
    "relative_weight": "Relative Weight",
    "payment_rate": "Payment Rate",
    "national_copayment": "National Unadjusted Copayment",
    "minimum_copayment": "Minimum Unadjusted Copayment",
}


def _amounts(cells: dict[str, str], path: Path, line: int) -> dict[str, float | None]:
    return {name: _money(cells[name], path, line, header) for name, header in _AMOUNT_HEADERS.items()}


def _parse_b(path: Path) -> pd.DataFrame:
    year, rows = _read_table(path, _B_COLUMNS)
    records = []
    for line, cells in rows:
        raw = cells["hcpcs"]
        code = raw.strip(" \t\xa0\xff")  # one CY 2025 row ends its code with a stray 0xFF byte (A4341)
        if not re.fullmatch(r"[0-9A-Z]{5}", code):
            raise OppsFileError(f"{path.name}, line {line}: HCPCS {raw!r} is not a 5-character code")
        records.append(
            {
                "year": year,
                "hcpcs": code,
                "hcpcs_raw": raw,
                "comment_indicator": cells["comment_indicator"].strip(),
                "status_indicator": cells["status_indicator"].strip(),
                "apc": cells["apc"].strip(),
                **_amounts(cells, path, line),
                "source_file": path.name,
                "source_line": line,
            }
        )
    return OppsRateSchema.validate(pd.DataFrame.from_records(records), lazy=True)


@lru_cache(maxsize=4)
def _load_a_cached(path_text: str) -> pd.DataFrame:
    path = Path(path_text)
    year, rows = _read_table(path, _A_COLUMNS)
    records = [
        {
            "year": year,
            "apc": cells["apc"].strip(),
            "group_title": cells["group_title"].strip(),
            "status_indicator": cells["status_indicator"].strip(),
            **_amounts(cells, path, line),
            "source_file": path.name,
            "source_line": line,
        }
        for line, cells in rows
    ]
    return OppsApcSchema.validate(pd.DataFrame.from_records(records), lazy=True)
