"""Every shipped Medicare baseline of one code in one year, together: PFS (professional), OPPS (hospital
outpatient) and CLFS (lab). :func:`medicare_baseline` is what ``paybench medicare --json`` prints. The inpatient
(IPPS) baseline needs the user's CMS Table 5 and is computed per MS-DRG by :func:`.ipps.drg_payment`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark import config
from benchmark.reference.medicare import clfs, gpci, opps
from benchmark.reference.medicare.indicators import STATUS_MEANINGS
from benchmark.reference.medicare.pfs import (
    NATIONAL,
    PAYABLE_STATUS,
    MedicareLookupError,
    load_pprrvu,
    medicare_amounts,
)

OPPS_BASIS, CLFS_BASIS, IPPS_BASIS, PFS_BASIS = "OPPS", "CLFS", "IPPS", "PFS"


def _cents(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)


def pfs_baseline(code: str, year: int, locality: str = NATIONAL, *, qp: bool = False) -> dict[str, Any] | None:
    """The PFS amounts of ``code`` in one locality (or national), or None when the release does not list it."""
    localities = None if locality == NATIONAL else [locality]
    table = medicare_amounts(code, year, localities=localities, qp=qp)
    table = table[table["locality_id"].eq(locality)]
    if table.empty:
        return None
    by_setting = table.set_index("setting")
    gpci_year = None if locality == NATIONAL else int(by_setting["gpci_year"].iloc[0])
    rvu = load_pprrvu(year)
    status = str(rvu.loc[rvu["hcpcs"].eq(code) & rvu["modifier"].eq(""), "status_code"].iloc[0])
    return {
        "facility": _cents(by_setting.loc["facility", "amount"]),
        "non_facility": _cents(by_setting.loc["non_facility", "amount"]),
        "conversion_factor": float(by_setting["conversion_factor"].iloc[0]),
        "qp": qp,
        "status_code": status,
        "status": STATUS_MEANINGS.get(status, f"status {status!r} is not in the published list"),
        "paid_under_pfs": status in PAYABLE_STATUS,
        "gpci_year": gpci_year,
        "geography_note": None if locality == NATIONAL else gpci.geography_note(year),
        "locality_name": str(by_setting["locality_name"].iloc[0]),
        "rvu": {
            "work": float(by_setting["work_rvu"].iloc[0]),
            "mp": float(by_setting["mp_rvu"].iloc[0]),
            "facility_pe": float(by_setting.loc["facility", "pe_rvu"]),
            "non_facility_pe": float(by_setting.loc["non_facility", "pe_rvu"]),
        },
        "gpci": None
        if locality == NATIONAL
        else {
            "work": float(by_setting["gpci_work"].iloc[0]),
            "pe": float(by_setting["gpci_pe"].iloc[0]),
            "mp": float(by_setting["gpci_mp"].iloc[0]),
        },
    }


def opps_baseline(code: str, year: int) -> dict[str, Any] | None:
    """The OPPS status and national unadjusted rate of ``code``, or None when no Addendum B lists it."""
    status = opps.opps_status(code, year)
    if status.status_indicator is None:
        return None
    return {
        "year": status.year,
        "status_indicator": status.status_indicator,
        "apc": status.apc,
        "payment_rate": _cents(status.payment_rate),
        "relative_weight": status.relative_weight,
        "category": status.category,
        "words": status.words,
        "national_unadjusted": True,
        "note": opps.NATIONAL_UNADJUSTED_NOTE if status.payment_rate is not None else None,
    }


def clfs_baseline(code: str, year: int) -> dict[str, Any] | None:
    """The CLFS national rate of ``code``, or None when no CLFS file of the year lists it."""
    row = clfs.clfs_rate(code, year)
    if row is None:
        return None
    return {
        "year": row.year,
        "rate": _cents(row.rate),
        "indicator": row.indicator,
        "effective_date": row.effective_date,
        "national": True,
        "note": None if row.rate is not None else "the CLFS gives no national rate for this code (rate 0.00)",
    }


def medicare_baseline(
    code: str, year: int = config.DEFAULT_MEDICARE_YEAR, locality: str = NATIONAL, *, qp: bool = False
) -> dict[str, Any]:
    """Every baseline of ``code``: ``{"code", "year", "locality", "pfs", "opps", "clfs", "notes"}``.

    ``pfs``, ``opps`` and ``clfs`` are None when the CMS file of the year does not list the code; amounts are
    rounded to cents and None where CMS gives none.
    """
    if year not in config.PPRRVU_FILES:
        raise MedicareLookupError(f"No PFS release shipped for {year}; available: {sorted(config.PPRRVU_FILES)}")
    notes = []
    pfs = pfs_baseline(code, year, locality, qp=qp)
    if pfs is None:
        notes.append(f"{code} is not in the {year} PFS release: {config.NOT_AVAILABLE}")
    elif pfs["geography_note"]:
        notes.append(pfs["geography_note"])
    opps_part = opps_baseline(code, year)
    if opps_part is None:
        notes.append(opps.opps_status(code, year).words)
    elif opps_part["year"] != year:
        notes.append(f"No CY {year} OPPS Addendum B is shipped: the OPPS status and rate are CY {opps_part['year']}")
    clfs_part = clfs_baseline(code, year)
    return {
        "code": code,
        "year": year,
        "locality": locality,
        "pfs": pfs,
        "opps": opps_part,
        "clfs": clfs_part,
        "notes": notes,
    }
