"""The PFS payment-policy indicators of a code, in words, and what the common modifiers do to its amount.

:func:`pfs_indicators` reads them from a PPRRVU release (:mod:`.pfs`); :func:`modifier_rules` is the single
implementation of Medicare's modifier rules (Claims Processing Manual, ch. 12) that the report's modifier tables,
the policy matrix and the sample generator read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark import config
from benchmark.reference.medicare.pfs import MedicareLookupError, load_pprrvu

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


def pfs_indicators(code: str, year: int = config.DEFAULT_MEDICARE_YEAR, modifier: str = "") -> PfsIndicators:
    """The indicators of ``code`` in the ``year`` release; KeyError if the release does not list it."""
    table = load_pprrvu(year)
    match = table[table["hcpcs"].eq(code) & table["modifier"].eq(modifier)]
    if match.empty:
        raise MedicareLookupError(f"HCPCS {code!r} (modifier {modifier!r}) is not in the {year} PFS release")
    row = match.iloc[0]
    fields = PfsIndicators.__dataclass_fields__
    values: dict[str, Any] = {name: _plain(row[name]) for name in fields}  # the table's schema types each column
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


def modifier_effects(code: str, year: int = config.DEFAULT_MEDICARE_YEAR) -> list[ModifierEffect]:
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
