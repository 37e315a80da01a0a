"""Every shipped Medicare baseline of one code in one year, together: PFS (professional), OPPS (hospital
outpatient) and CLFS (lab). :func:`medicare_baseline` is what ``paybench medicare --json`` prints. The inpatient
(IPPS) baseline needs the user's CMS Table 5 and is computed per MS-DRG by :func:`.ipps.drg_payment`;
:func:`ipps_baseline` is its block (in ``paybench medicare MS-DRG-470 --json`` and an MS-DRG report's summary.json),
:func:`drg_baseline` the whole answer for an MS-DRG.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark import codes, config
from benchmark.reference.medicare import clfs, gpci, ipps, opps
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
    """Every baseline of ``code``: ``{"code", "year", "locality", "pfs", "opps", "clfs", "ipps", "notes"}``.

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
        "ipps": None,  # an inpatient stay is paid by MS-DRG: `paybench medicare MS-DRG-470 --ipps-table5 FILE`
        "notes": notes,
    }


def ipps_baseline(drg: str, table5: pd.DataFrame | None) -> tuple[dict[str, Any] | None, str | None]:
    """The IPPS block of MS-DRG ``drg`` (weight, FY standardized amounts, payment, Table 5 row) and None, or None and
    the reason there is none (no Table 5 given, the DRG not in it, no weight). Never estimated."""
    amounts = ipps.load_standardized_amounts()
    if table5 is None:
        return None, (
            f"{ipps.TABLE5_NEEDED}: no Table 5 was given (--ipps-table5 FILE, the CMS FY {amounts.fiscal_year} "
            "file); payer-benchmark ships the standardized amounts but no MS-DRG weights, and never estimates one"
        )
    payment = ipps.drg_payment(drg, table5, amounts)
    if payment is None:
        return None, f"MS-DRG {drg} is not in the Table 5 given: {config.NOT_AVAILABLE}"
    if payment.amount is None:
        return None, f"the Table 5 given lists MS-DRG {drg} without a weight: {config.NOT_AVAILABLE}"
    return {
        "fiscal_year": payment.fiscal_year,
        "drg": payment.drg,
        "title": payment.title,
        "weight": payment.weight,
        "standardized_amount": {
            "labor": amounts.labor_1b,
            "non_labor": amounts.nonlabor_1b,
            "total": amounts.operating,
            "table": "1B",
            "source_file": amounts.source_file,
        },
        "wage_index": 1.0,
        "payment": payment.amount,
        "gmlos": payment.gmlos,
        "amlos": payment.amlos,
        "table5_file": payment.table5_file,
        "table5_line": payment.table5_line,
        "national": True,
        "note": ipps.IPPS_NOTE.format(fy=payment.fiscal_year),
    }, None


def drg_baseline(code: str, table5: pd.DataFrame | None = None) -> dict[str, Any]:
    """What ``paybench medicare MS-DRG-470 --json`` prints: the keys of :func:`medicare_baseline` (``pfs``, ``opps``
    and ``clfs`` null: an MS-DRG is paid under the IPPS only) and ``ipps``, null with the reason in ``notes``."""
    parsed = codes.parse(code)
    block, reason = ipps_baseline(parsed.billing_code, table5)
    return {
        "code": parsed.text,
        "code_type": parsed.kind,
        "billing_code": parsed.billing_code,
        "year": config.IPPS_FISCAL_YEAR,
        "locality": NATIONAL,
        "pfs": None,
        "opps": None,
        "clfs": None,
        "ipps": block,
        "notes": [reason] if reason else [],
    }
