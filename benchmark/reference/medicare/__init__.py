"""Medicare payment baselines computed from the CMS files as published (``data/reference/<kind>/``).

- :mod:`.pfs`: Physician Fee Schedule relative values (CSV 2022-2025, fixed width 2026) and allowed amounts.
- :mod:`.gpci`: each year's GPCIs and locality-county crosswalk (a year without its own borrows the nearest, flagged).
- :mod:`.indicators`: PFS payment-policy indicators and Medicare's modifier rules.
- :mod:`.opps`: hospital outpatient (OPPS Addendum B / A): status indicator, APC, national unadjusted rate.
- :mod:`.clfs`: Clinical Laboratory Fee Schedule national rates.
- :mod:`.ipps`: inpatient standardized amounts and a reader for the user's CMS Table 5 (MS-DRG weights).
- :mod:`.baseline`: all of them for one code (``paybench medicare --json``).

Every file is parsed once per process (cached by path; PPRRVU and Table 5 files also by modification time).
"""

from __future__ import annotations

from benchmark.reference.medicare.baseline import drg_baseline, medicare_baseline
from benchmark.reference.medicare.gpci import (
    county_year_for,
    geography_note,
    gpci_for_year,
    gpci_year_for,
    load_gpci,
    load_locality_counties,
)
from benchmark.reference.medicare.indicators import (
    ASST_MEANINGS,
    BILAT_MEANINGS,
    BY_REPORT,
    CO_SURG_MEANINGS,
    GLOBAL_DAYS_MEANINGS,
    MULT_PROC_MEANINGS,
    NOT_APPLICABLE,
    NOT_PAID,
    PAID,
    PAYMENT_MODIFIERS,
    PCTC_MEANINGS,
    STATUS_MEANINGS,
    TEAM_MEANINGS,
    ModifierEffect,
    PfsIndicators,
    modifier_effects,
    modifier_rules,
    pfs_indicators,
)
from benchmark.reference.medicare.pfs import (
    NATIONAL,
    PAYABLE_STATUS,
    MedicareLookupError,
    PfsFileError,
    available_years,
    conversion_factor,
    load_pprrvu,
    medicare_amounts,
    national_amount,
    round_cents,
)

__all__ = [
    "ASST_MEANINGS",
    "BILAT_MEANINGS",
    "CO_SURG_MEANINGS",
    "GLOBAL_DAYS_MEANINGS",
    "MULT_PROC_MEANINGS",
    "PCTC_MEANINGS",
    "STATUS_MEANINGS",
    "TEAM_MEANINGS",
    "BY_REPORT",
    "NATIONAL",
    "NOT_APPLICABLE",
    "NOT_PAID",
    "PAID",
    "PAYABLE_STATUS",
    "PAYMENT_MODIFIERS",
    "MedicareLookupError",
    "ModifierEffect",
    "PfsFileError",
    "PfsIndicators",
    "available_years",
    "conversion_factor",
    "county_year_for",
    "geography_note",
    "gpci_for_year",
    "gpci_year_for",
    "load_gpci",
    "load_locality_counties",
    "load_pprrvu",
    "medicare_amounts",
    "drg_baseline",
    "medicare_baseline",
    "modifier_effects",
    "modifier_rules",
    "national_amount",
    "pfs_indicators",
    "round_cents",
]
