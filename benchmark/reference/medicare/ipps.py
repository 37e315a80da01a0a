"""Medicare inpatient payment (IPPS): the FY national standardized amounts (Tables 1A-1E, shipped) and the MS-DRG
relative weights of Table 5 (not shipped: a user passes the CMS file).

A DRG's national operating payment here is ``weight x (labor-related + non-labor-related standardized amount)``
with a wage index of 1.0 (Table 1B: wage index <= 1; 1A splits the same total differently) for a hospital that
submits quality data and is a meaningful EHR user. It leaves out the wage index, capital (Table 1D), outliers,
DSH, IME and the quality programs, and says so (:data:`IPPS_NOTE`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from benchmark import config
from benchmark.errors import InputFileError
from benchmark.reference.medicare.pfs import round_cents
from benchmark.schema import DrgWeightSchema

TABLE5_NEEDED = "Medicare comparison needs the CMS IPPS Table 5 (MS-DRG weights)"
IPPS_NOTE = (
    "IPPS national operating payment: MS-DRG weight x the FY {fy} national standardized amount (labor + "
    "non-labor, wage index 1.0, hospital submitting quality data and a meaningful EHR user); capital, "
    "wage index, outliers, DSH and IME are not included"
)


class IppsFileError(InputFileError):
    """An IPPS table that does not have the published layout."""


@dataclass(frozen=True)
class StandardizedAmounts:
    """FY national standardized amounts (Tables 1A, 1B, 1D) for a hospital submitting quality data and a
    meaningful EHR user."""

    fiscal_year: int
    labor_1a: float
    nonlabor_1a: float
    labor_1b: float
    nonlabor_1b: float
    capital: float
    source_file: str

    @property
    def operating(self) -> float:
        """Labor + non-labor at a wage index of 1.0 (Table 1B, the table for wage indexes <= 1)."""
        return round(self.labor_1b + self.nonlabor_1b, 2)


@dataclass(frozen=True)
class DrgPayment:
    """The national operating IPPS payment of one MS-DRG."""

    fiscal_year: int
    drg: str
    weight: float | None
    standardized_amount: float
    amount: float | None  # None when Table 5 lists the DRG without a weight
    table5_file: str
    table5_line: int
    title: str | None = None  # the file's MS-DRG Title (CMS public text), None when it has none
    gmlos: float | None = None
    amlos: float | None = None


def load_standardized_amounts(path: str | Path | None = None) -> StandardizedAmounts:
    """Tables 1A, 1B and 1D of the shipped FY file (or ``path``), first column pair of 1A / 1B."""
    target = Path(path) if path else config.IPPS_TABLES_1A_1E
    return _standardized_cached(str(target))


@lru_cache(maxsize=2)
def _standardized_cached(path_text: str) -> StandardizedAmounts:
    path = Path(path_text)
    with open(path, newline="", encoding="latin-1") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    title = " ".join(rows[0]) if rows else ""
    fy = re.search(r"FY (20\d\d)", title)
    if not fy:
        raise IppsFileError(f"{path.name}, line 1: the title does not name the fiscal year ('FY yyyy')")

    def first_amounts(table: str) -> list[float]:
        start = next((i for i, row in enumerate(rows) if row and row[0].lstrip('"').startswith(table)), None)
        if start is None:
            raise IppsFileError(f"{path.name}: no {table} in the file")
        for row in rows[start + 1 :]:
            amounts = [c for c in row if re.fullmatch(r"\s*\$[\d,]+\.\d\d\s*", c)]
            if amounts:
                return [float(c.strip().lstrip("$").replace(",", "")) for c in amounts]
        raise IppsFileError(f"{path.name}: {table} has no dollar amounts")

    a, b, d = first_amounts("TABLE 1A"), first_amounts("TABLE 1B"), first_amounts("TABLE 1D")
    return StandardizedAmounts(int(fy.group(1)), a[0], a[1], b[0], b[1], d[0], path.name)


def load_table5(path: str | Path) -> pd.DataFrame:
    """A CMS IPPS Table 5 (MS-DRG, weights, mean lengths of stay) as a validated table (``DrgWeightSchema``).

    Reads the tab-separated ``.txt`` CMS publishes (also ``.csv`` and ``.xlsx``): title lines, then a header row
    starting with ``MS-DRG``. The weight is the ``Weights - 10% Cap Applied`` column when the file has one, else
    ``Weights``. DRGs without a weight (998, 999) keep an empty weight. The ``MS-DRG Title`` column (CMS public text,
    not shipped with payer-benchmark) is kept when the file has one.
    """
    target = Path(path)
    if not target.is_file():
        raise IppsFileError(f"IPPS Table 5 file not found: {target}")
    return _table5_cached(str(target.resolve()), target.stat().st_mtime_ns)


def _table5_rows(path: Path) -> list[tuple[int, list[str]]]:
    if path.suffix.lower() in (".xlsx", ".xls"):
        sheet = pd.read_excel(path, header=None, dtype=str).fillna("")
        return [(index + 1, list(row)) for index, row in enumerate(sheet.itertuples(index=False))]
    text = path.read_bytes().decode("cp1252", errors="replace")
    delimiter = "\t" if text.count("\t") >= text.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [(reader.line_num, row) for row in reader]


@lru_cache(maxsize=4)
def _table5_cached(path_text: str, mtime_ns: int) -> pd.DataFrame:
    path = Path(path_text)
    rows = _table5_rows(path)
    header_at = next((k for k, (_, row) in enumerate(rows[:30]) if row and row[0].strip().upper() == "MS-DRG"), None)
    if header_at is None:
        raise IppsFileError(f"{path.name}: no header row starting with 'MS-DRG' in the first 30 lines (CMS Table 5)")
    header_line, header = rows[header_at][0], [" ".join(c.split()) for c in rows[header_at][1]]
    title = " ".join(" ".join(row) for _, row in rows[: header_at + 1])
    fy = re.search(r"FY ?(20\d\d)", title)
    if not fy:
        raise IppsFileError(
            f"{path.name}, line {header_line}: neither the title nor the header names the fiscal year ('FY yyyy')"
        )

    def find(*names: str) -> int | None:
        for name in names:
            for index, cell in enumerate(header):
                if cell.lower() == name.lower():
                    return index
        return None

    weight_col = find("Weights - 10% Cap Applied", "Weights")
    if weight_col is None:
        raise IppsFileError(f"{path.name}, line {header_line}: no 'Weights' column")
    gmlos, amlos = find("Geometric mean LOS"), find("Arithmetic mean LOS")
    title_col = find("MS-DRG Title")
    records: list[dict[str, object]] = []
    for line, row in rows[header_at + 1 :]:
        first = row[0].strip() if row else ""
        if not first.isdigit():
            if "".join(str(c) for c in row).strip() and records:
                break  # footnotes after the last DRG
            continue
        weight = _number(row, weight_col, path, line, "weight")
        records.append(
            {
                "fiscal_year": int(fy.group(1)),
                "drg": first.zfill(3),
                "title": _text(row, title_col),
                "weight": weight,
                "weight_column": header[weight_col],
                "gmlos": _number(row, gmlos, path, line, "GMLOS"),
                "amlos": _number(row, amlos, path, line, "AMLOS"),
                "source_file": path.name,
                "source_line": line,
            }
        )
    if not records:
        raise IppsFileError(f"{path.name}: no MS-DRG rows after the header")
    return DrgWeightSchema.validate(pd.DataFrame.from_records(records), lazy=True)


def _text(row: list[str], index: int | None) -> str | None:
    if index is None or index >= len(row):
        return None
    text = " ".join(str(row[index]).split())
    return text or None


def _number(row: list[str], index: int | None, path: Path, line: int, what: str) -> float | None:
    if index is None or index >= len(row):
        return None
    text = str(row[index]).strip()
    if text in ("", "N/A", "NA", "."):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise IppsFileError(f"{path.name}, line {line}: {what} {text!r} is not a number") from None


def drg_payment(drg: str, table5: pd.DataFrame, amounts: StandardizedAmounts | None = None) -> DrgPayment | None:
    """The national operating payment of MS-DRG ``drg`` (None when Table 5 does not list it).

    Table 5 and the standardized amounts must be of the same fiscal year (a weight is never mixed with another
    year's amounts).
    """
    amounts = amounts or load_standardized_amounts()
    code = str(drg).strip().zfill(3)
    match = table5[table5["drg"].eq(code)]
    if match.empty:
        return None
    row = match.iloc[0]
    if int(row["fiscal_year"]) != amounts.fiscal_year:
        raise IppsFileError(
            f"{row['source_file']}: Table 5 is for FY {int(row['fiscal_year'])}, the standardized "
            f"amounts shipped are FY {amounts.fiscal_year}; pass the FY {amounts.fiscal_year} "
            "Table 5"
        )
    weight = None if pd.isna(row["weight"]) else float(row["weight"])
    amount = None if weight is None else float(round_cents(pd.Series([weight * amounts.operating])).iloc[0])
    return DrgPayment(
        amounts.fiscal_year,
        code,
        weight,
        amounts.operating,
        amount,
        row["source_file"],
        int(row["source_line"]),
        title=None if pd.isna(row["title"]) else str(row["title"]),
        gmlos=None if pd.isna(row["gmlos"]) else float(row["gmlos"]),
        amlos=None if pd.isna(row["amlos"]) else float(row["amlos"]),
    )
