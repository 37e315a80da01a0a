"""Medicare Physician Fee Schedule (PFS) engine, computed from the CMS files as published.

Public entry points come first:

- :func:`load_pprrvu` parses a PPRRVU relative-value file (5 banner rows, a 5-row stacked header, then one row per
  HCPCS code + modifier), descriptors excluded.
- :func:`load_gpci` and :func:`load_locality_counties` parse the GPCI table and the locality-county crosswalk.
- :func:`medicare_amounts` computes the allowed amount for codes, nationally and in every locality, for the facility
  and non-facility settings::

      amount = [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x conversion factor

  using the facility PE RVU in the facility setting and the non-facility PE RVU otherwise; an ``NA`` indicator makes
  the code not payable in that setting. National amounts use GPCIs of 1.0. Amounts are rounded half-up to cents.
- :func:`pfs_indicators` exposes the payment-policy indicators of a code with their meanings, and
  :func:`modifier_effects` what the common surgical modifiers do to the allowed amount under Medicare's rules.

Only the GPCI table for 2025 is shipped; for other payment years the locality amounts use it and say so in
``gpci_year`` (national amounts do not depend on GPCIs).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import config
from benchmark.errors import InputFileError, UnknownParameterError
from benchmark.schema import GpciSchema, LocalityCountySchema, MedicareAmountSchema, PfsRvuSchema

NATIONAL = "national"

# Position -> name of the 31 PPRRVU columns (0-based), as laid out in every release 2022-2025.
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


class PfsFileError(InputFileError):
    """A Medicare file that does not have the published layout."""


# --------------------------------------------------------------------------------------------------- PPRRVU
def load_pprrvu(year_or_path: int | str | Path) -> pd.DataFrame:
    """All rows of one PPRRVU release as a validated table (``PfsRvuSchema``).

    ``year_or_path`` is a payment year shipped in ``data/reference/medicare`` or the path of a PPRRVU CSV.
    """
    path = _pprrvu_path(year_or_path)
    return _load_pprrvu_cached(str(path))


@lru_cache(maxsize=8)
def _load_pprrvu_cached(path_text: str) -> pd.DataFrame:
    path = Path(path_text)
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
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column].replace("", "0"), errors="raise")
    frame["non_facility_na"] = frame.pop("non_facility_na_indicator").str.upper().eq("NA")
    frame["facility_na"] = frame.pop("facility_na_indicator").str.upper().eq("NA")
    # A spreadsheet re-save drops leading zeros ("90" for "090"): restore the published width.
    frame["global_days"] = frame["global_days"].map(lambda v: v.zfill(3) if v.isdigit() else v)
    frame["year"] = year
    frame["source_file"] = path.name
    frame = frame.drop(
        columns=[
            "description",
            "physician_supervision",
            "calculation_flag",
            "diagnostic_imaging_family",
            "non_facility_pe_opps",
            "facility_pe_opps",
            "mp_opps",
        ]
    )
    columns = list(PfsRvuSchema.to_schema().columns)
    return PfsRvuSchema.validate(frame[columns], lazy=True)


def _pprrvu_path(year_or_path: int | str | Path) -> Path:
    if isinstance(year_or_path, int):
        if year_or_path not in config.PPRRVU_FILES:
            raise UnknownParameterError(
                f"No PFS release shipped for {year_or_path}; available: {sorted(config.PPRRVU_FILES)}"
            )
        return config.PPRRVU_FILES[year_or_path]
    return Path(year_or_path)


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


# --------------------------------------------------------------------------------------------------- GPCI
def load_gpci(year_or_path: int | str | Path = 2025) -> pd.DataFrame:
    """The GPCI table (one row per locality) as a validated table (``GpciSchema``).

    MAC and locality numbers are normalized to 5 and 2 digits (spreadsheet re-saves drop the zeros) and the raw
    values are kept beside them. ``locality_id`` is ``MAC-locality``, e.g. ``01112-26``.
    """
    path = config.GPCI_FILES[year_or_path] if isinstance(year_or_path, int) else Path(year_or_path)
    return _load_gpci_cached(str(path))


@lru_cache(maxsize=4)
def _load_gpci_cached(path_text: str) -> pd.DataFrame:
    path = Path(path_text)
    with open(path, newline="", encoding="latin-1") as handle:
        lines = list(csv.reader(handle))
    header_index = next((i for i, row in enumerate(lines) if any("Locality Number" in c for c in row)), None)
    if header_index is None:
        raise PfsFileError(f"{path.name}: no header row naming 'Locality Number'")
    header = [c.strip() for c in lines[header_index]]
    year_match = re.search(r"(20\d\d) PW GPCI", ",".join(header))
    if not year_match:
        raise PfsFileError(f"{path.name}, line {header_index + 1}: no '<year> PW GPCI' column")
    records = []
    for line_no, row in enumerate(lines[header_index + 1 :], start=header_index + 2):
        if not row or not row[0].strip().isdigit():
            continue  # footnotes ("*Work GPCI reflects ...") and blank rows
        mac_raw, state, loc_raw, name, work, pe, mp = (c.strip() for c in row[:7])
        try:
            values = [float(work), float(pe), float(mp)]
        except ValueError as error:
            raise PfsFileError(f"{path.name}, line {line_no}: GPCI is not a number ({error})") from None
        records.append(
            {
                "gpci_year": int(year_match.group(1)),
                "mac": mac_raw.zfill(5),
                "mac_raw": mac_raw,
                "locality_number": loc_raw.zfill(2),
                "locality_number_raw": loc_raw,
                "state": state.upper(),
                "locality_name": name.rstrip("*").strip(),
                "gpci_work": values[0],
                "gpci_pe": values[1],
                "gpci_mp": values[2],
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame.insert(1, "locality_id", frame["mac"] + "-" + frame["locality_number"])
    return GpciSchema.validate(frame, lazy=True)


def load_locality_counties(year_or_path: int | str | Path = 2025) -> pd.DataFrame:
    """The locality-county crosswalk (``LocalityCountySchema``), state forward-filled, text stripped."""
    path = config.LOCALITY_COUNTY_FILES[year_or_path] if isinstance(year_or_path, int) else Path(year_or_path)
    with open(path, newline="", encoding="latin-1") as handle:
        lines = list(csv.reader(handle))
    header_index = next((i for i, row in enumerate(lines) if any("Locality Number" in c for c in row)), None)
    if header_index is None:
        raise PfsFileError(f"{path.name}: no header row naming 'Locality Number'")
    records, state = [], ""
    for row in lines[header_index + 1 :]:
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
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame.insert(0, "locality_id", frame["mac"] + "-" + frame["locality_number"])
    return LocalityCountySchema.validate(frame, lazy=True)


# --------------------------------------------------------------------------------------------------- amounts
def available_years() -> list[int]:
    """Payment years with a PFS release shipped in ``data/reference/medicare``."""
    return sorted(config.PPRRVU_FILES)


def medicare_amounts(
    codes: str | Iterable[str],
    year: int = 2025,
    *,
    localities: str | Sequence[str] | None = "all",
    modifier: str = "",
    gpci: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Allowed amounts for ``codes`` in ``year``: national plus each locality, facility and non-facility.

    ``localities``: ``"all"`` for every locality in the GPCI table, a list of locality ids, or None for national
    only. Codes absent from the release give no rows (callers render that as "Data not available").
    """
    code_list = [codes] if isinstance(codes, str) else list(codes)
    rvu = load_pprrvu(year)
    rows = rvu[rvu["hcpcs"].isin(code_list) & rvu["modifier"].eq(modifier)]
    areas = _areas(localities, gpci)
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
    return MedicareAmountSchema.validate(ordered, lazy=True)


def national_amount(code: str, year: int = 2025, setting: str = "facility") -> float | None:
    """The national (unadjusted) allowed amount, or None if the code is not payable in that setting."""
    table = medicare_amounts(code, year, localities=None)
    match = table[table["setting"].eq(setting)]
    if match.empty or pd.isna(match["amount"].iloc[0]):
        return None
    return float(match["amount"].iloc[0])


def round_cents(values: pd.Series) -> pd.Series:
    """Round dollars half-up to cents (the tiny epsilon absorbs binary floating-point error)."""
    return np.floor(values * 100 + 0.5 + 1e-7) / 100


def _areas(localities: str | Sequence[str] | None, gpci: pd.DataFrame | None) -> pd.DataFrame:
    national = pd.DataFrame(
        [
            {
                "locality_id": NATIONAL,
                "locality_name": "National (unadjusted)",
                "state": None,
                "gpci_work": 1.0,
                "gpci_pe": 1.0,
                "gpci_mp": 1.0,
                "gpci_year": math.nan,
            }
        ]
    )
    if localities is None:
        return national
    table = load_gpci() if gpci is None else gpci
    if localities != "all":
        wanted = list(localities)
        unknown = sorted(set(wanted) - set(table["locality_id"]))
        if unknown:
            raise UnknownParameterError(f"Unknown Medicare locality id(s) {unknown}; ids look like '01112-26'")
        table = table[table["locality_id"].isin(wanted)]
    cols = ["locality_id", "locality_name", "state", "gpci_work", "gpci_pe", "gpci_mp", "gpci_year"]
    return pd.concat([national, table[cols].astype({"gpci_year": float})], ignore_index=True)


# --------------------------------------------------------------------------------------------------- indicators
STATUS_MEANINGS = {
    "A": "Active: separately paid under the PFS",
    "B": "Bundled into another service; not paid separately",
    "C": "Carrier-priced: the MAC sets the amount",
    "D": "Deleted code",
    "E": "Excluded from the PFS by regulation",
    "F": "Deleted code; no grace period",
    "I": "Not valid for Medicare; another code is used",
    "J": "Anesthesia service",
    "M": "Quality measurement code; not paid",
    "N": "Non-covered service",
    "P": "Bundled or excluded",
    "R": "Restricted coverage; paid by report",
    "T": "Paid only when no other service is billed",
    "X": "Statutory exclusion; not a PFS service",
}
GLOBAL_DAYS_MEANINGS = {
    "000": "0-day global: procedure day only",
    "010": "10-day global period",
    "090": "90-day global period (major surgery): day-before pre-op, the procedure and 90 days of post-op care",
    "MMM": "Maternity global",
    "XXX": "Global concept does not apply",
    "YYY": "Carrier sets the global period",
    "ZZZ": "Add-on code within another service's global period",
}
MULT_PROC_MEANINGS = {
    "0": "No multiple-procedure reduction",
    "1": "Pre-1996 standard reduction rules",
    "2": "Standard reduction: 100% for the highest-valued procedure, 50% for each additional",
    "3": "Endoscopic base-code reduction",
    "4": "Diagnostic imaging reduction",
    "5": "Therapy reduction",
    "6": "Diagnostic cardiovascular reduction",
    "7": "Diagnostic ophthalmology reduction",
    "9": "Concept does not apply",
}
BILAT_MEANINGS = {
    "0": "150% bilateral adjustment does not apply",
    "1": "Bilateral: 150% of the fee schedule amount",
    "2": "Already priced as bilateral: no adjustment",
    "3": "Each side paid at 100%",
    "9": "Concept does not apply",
}
ASST_MEANINGS = {
    "0": "Assistant paid only with documentation of medical necessity",
    "1": "Assistant at surgery not paid",
    "2": "Assistant at surgery paid (16% of the fee schedule amount)",
    "9": "Concept does not apply",
}
CO_SURG_MEANINGS = {
    "0": "Co-surgeons not permitted",
    "1": "Co-surgeons paid with supporting documentation (62.5% each)",
    "2": "Co-surgeons permitted (62.5% each)",
    "9": "Concept does not apply",
}
TEAM_MEANINGS = {
    "0": "Team surgeons not permitted",
    "1": "Team surgery paid with supporting documentation (by report)",
    "2": "Team surgeons permitted (by report)",
    "9": "Concept does not apply",
}
PCTC_MEANINGS = {
    "0": "Physician service: professional/technical split does not apply",
    "1": "Diagnostic test with professional (-26) and technical (TC) components",
    "2": "Professional component only code",
    "3": "Technical component only code",
    "4": "Global test only code",
    "5": "Incident-to code",
    "6": "Laboratory physician interpretation",
    "7": "Physical therapy service",
    "8": "Physician interpretation code",
    "9": "Concept does not apply",
}


@dataclass(frozen=True)
class PfsIndicators:
    """The PFS payment-policy indicators of one code in one release, as published and in words."""

    year: int
    hcpcs: str
    status_code: str
    global_days: str
    pre_op: float
    intra_op: float
    post_op: float
    mult_proc: str
    bilat_surg: str
    asst_surg: str
    co_surg: str
    team_surg: str
    pctc_ind: str
    facility_na: bool
    non_facility_na: bool
    conversion_factor: float
    source_file: str
    source_line: int

    def meanings(self) -> dict[str, str]:
        """Each indicator in plain words (unknown values say so rather than guessing)."""

        def say(table: dict[str, str], value: str) -> str:
            return table.get(value, f"Indicator value {value!r} is not in the published list")

        return {
            "status": say(STATUS_MEANINGS, self.status_code),
            "global_days": say(GLOBAL_DAYS_MEANINGS, self.global_days),
            "global_shares": f"pre-op {self.pre_op:.0%}, intra-op {self.intra_op:.0%}, post-op {self.post_op:.0%}",
            "multiple_procedure": say(MULT_PROC_MEANINGS, self.mult_proc),
            "bilateral": say(BILAT_MEANINGS, self.bilat_surg),
            "assistant_at_surgery": say(ASST_MEANINGS, self.asst_surg),
            "co_surgeons": say(CO_SURG_MEANINGS, self.co_surg),
            "team_surgery": say(TEAM_MEANINGS, self.team_surg),
            "pc_tc": say(PCTC_MEANINGS, self.pctc_ind),
            "site_of_service": _site_meaning(self.facility_na, self.non_facility_na),
        }


def _site_meaning(facility_na: bool, non_facility_na: bool) -> str:
    if non_facility_na and not facility_na:
        return "Payable only in a facility setting (non-facility NA indicator set)"
    if facility_na and not non_facility_na:
        return "Payable only in a non-facility setting (facility NA indicator set)"
    if facility_na and non_facility_na:
        return "Not payable in either setting"
    return "Payable in facility and non-facility settings"


def pfs_indicators(code: str, year: int = 2025, modifier: str = "") -> PfsIndicators:
    """The indicators of ``code`` in the ``year`` release; KeyError if the release does not list it."""
    table = load_pprrvu(year)
    match = table[table["hcpcs"].eq(code) & table["modifier"].eq(modifier)]
    if match.empty:
        raise UnknownParameterError(f"HCPCS {code!r} (modifier {modifier!r}) is not in the {year} PFS release")
    row = match.iloc[0]
    fields = PfsIndicators.__dataclass_fields__
    values: dict[str, Any] = {name: _plain(row[name]) for name in fields}  # plain Python values of the row
    return PfsIndicators(**values)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------------------------------- modifiers
PAYMENT_MODIFIERS: tuple[str, ...] = (
    "51",
    "50",
    "62",
    "66",
    "80",
    "81",
    "82",
    "AS",
    "54",
    "55",
    "56",
    "22",
    "52",
    "53",
)
PAID, NOT_PAID, BY_REPORT, NOT_APPLICABLE = "paid", "not_paid", "by_report", "not_applicable"


@dataclass(frozen=True)
class ModifierEffect:
    """What Medicare pays for a code billed with a modifier, as a share of the code's fee schedule amount."""

    modifier: str
    status: str  # paid, not_paid, by_report (priced by report / at the contractor's discretion), not_applicable
    factor: float | None  # share of the fee schedule amount when paid
    rule: str

    @property
    def allowed(self) -> bool | None:
        """True when paid, False when not paid or not applicable, None when priced by report."""
        return {PAID: True, NOT_PAID: False, NOT_APPLICABLE: False}.get(self.status)

    @property
    def payment_pct(self) -> float | None:
        """Percent of the fee schedule amount: 0 when not paid, None when by report or not applicable."""
        if self.status == PAID and self.factor is not None:
            return round(self.factor * 100, 2)
        return 0.0 if self.status == NOT_PAID else None


def modifier_effects(code: str, year: int = 2025) -> list[ModifierEffect]:
    """Medicare's effect of each of :data:`PAYMENT_MODIFIERS` on ``code`` (see :func:`modifier_rules`)."""
    return list(modifier_rules(pfs_indicators(code, year)).values())


def modifier_rules(ind: PfsIndicators) -> dict[str, ModifierEffect]:
    """Modifier -> Medicare's payment rule for a code with these PFS indicators (Claims Processing Manual, ch. 12).

    The single implementation of these rules: the report's modifier tables, the policy matrix and the sample
    generator all read it.
    """

    def rule(
        modifier: str,
        value: str,
        table: dict[str, tuple[str, float | None, str]],
        name: str,
        otherwise: str = NOT_APPLICABLE,
    ) -> ModifierEffect:
        status, factor, text = table.get(value, (otherwise, None, f"Concept does not apply ({name} {value})"))
        return ModifierEffect(modifier, status, factor, text)

    assistant = {
        "2": (PAID, 0.16, "Paid 16% (ASST SURG 2)"),
        "0": (PAID, 0.16, "Paid 16% with documentation of medical necessity (ASST SURG 0)"),
        "1": (NOT_PAID, None, "Not paid (ASST SURG 1)"),
    }
    non_physician = {
        "2": (PAID, 0.136, "Paid 13.6%: 85% of 16% (ASST SURG 2)"),
        "0": (PAID, 0.136, "Paid 13.6% with documentation (ASST SURG 0)"),
        "1": (NOT_PAID, None, "Not paid (ASST SURG 1)"),
    }
    rules = {
        "51": rule(
            "51",
            ind.mult_proc,
            {
                "2": (PAID, 0.5, "Paid 50% as a secondary procedure (MULT PROC 2)"),
                "0": (PAID, 1.0, "No reduction (MULT PROC 0)"),
            },
            "MULT PROC",
            BY_REPORT,
        ),
        "50": rule(
            "50",
            ind.bilat_surg,
            {
                "0": (PAID, 1.0, "No 150% adjustment: both sides 100% (BILAT SURG 0)"),
                "1": (PAID, 1.5, "Paid 150% for both sides (BILAT SURG 1)"),
                "2": (PAID, 1.0, "Already bilateral: 100% (BILAT SURG 2)"),
                "3": (PAID, 2.0, "Each side 100% (BILAT SURG 3)"),
            },
            "BILAT SURG",
        ),
        "62": rule(
            "62",
            ind.co_surg,
            {
                "1": (PAID, 0.625, "Paid 62.5% each, with documentation (CO-SURG 1)"),
                "2": (PAID, 0.625, "Paid 62.5% each (CO-SURG 2)"),
                "0": (NOT_PAID, None, "Not paid (CO-SURG 0)"),
            },
            "CO-SURG",
        ),
        "66": rule(
            "66",
            ind.team_surg,
            {
                "1": (BY_REPORT, None, "By report, with documentation (TEAM SURG 1)"),
                "2": (BY_REPORT, None, "By report (TEAM SURG 2)"),
                "0": (NOT_PAID, None, "Not paid (TEAM SURG 0)"),
            },
            "TEAM SURG",
        ),
    }
    for modifier in ("80", "81", "82"):
        rules[modifier] = rule(modifier, ind.asst_surg, assistant, "ASST SURG")
    rules["AS"] = rule("AS", ind.asst_surg, non_physician, "ASST SURG")
    if ind.global_days in ("010", "090"):
        for modifier, share, text in (
            ("54", ind.pre_op + ind.intra_op, "Surgical care only: pre-op + intra-op share"),
            ("55", ind.post_op, "Post-operative care only: post-op share"),
            ("56", ind.pre_op, "Pre-operative care only: pre-op share"),
        ):
            rules[modifier] = ModifierEffect(modifier, PAID, round(share, 4), text)
    else:
        for modifier in ("54", "55", "56"):
            rules[modifier] = ModifierEffect(
                modifier, NOT_APPLICABLE, None, f"Split care does not apply (global {ind.global_days})"
            )
    rules["22"] = ModifierEffect("22", BY_REPORT, None, "By report: no automatic increase")
    rules["52"] = ModifierEffect("52", BY_REPORT, None, "Reduced at the contractor's discretion")
    rules["53"] = ModifierEffect("53", BY_REPORT, None, "By report (discontinued procedure)")
    return {modifier: rules[modifier] for modifier in PAYMENT_MODIFIERS}
