"""Every illustrative sample policy agrees with the PFS indicators of each code it applies to.

The indicator meanings are written here by hand from the CMS PFS relative value file documentation (RVU file
"Indicators" section), not taken from the code under test:

- BILAT SURG 1: the 150% bilateral adjustment applies; 3: each side at 100% (200%); 0 and 2: no 150% adjustment
  (so a bilateral line pays at most 100%); 9: the concept does not apply (no bilateral payment).
- ASST SURG 1: an assistant at surgery may not be paid (80, 81, 82, AS pay nothing).
- CO-SURG 0: co-surgeons not permitted; 9: concept does not apply (62 pays nothing).
- TEAM SURG 0: team surgeons not permitted; 9: concept does not apply (66 pays nothing).
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from benchmark.reference import medicare, policy

YEAR = 2025
BILATERAL_MAX_PCT = {"0": 100.0, "1": 150.0, "2": 100.0, "3": 200.0, "9": 0.0}
NOT_PAYABLE = {  # modifier -> (indicator, values where it may not be paid)
    "80": ("asst_surg", {"1", "9"}),
    "81": ("asst_surg", {"1", "9"}),
    "82": ("asst_surg", {"1", "9"}),
    "AS": ("asst_surg", {"1", "9"}),
    "62": ("co_surg", {"0", "9"}),
    "66": ("team_surg", {"0", "9"}),
}


@functools.cache
def _every_code() -> tuple[str, ...]:
    rvu = medicare.load_pprrvu(YEAR)
    return tuple(sorted(set(rvu.loc[rvu["modifier"].eq(""), "hcpcs"])))


@functools.cache
def _codes_in(codes: str) -> tuple[str, ...]:
    """The PFS codes a policy's ``codes`` text covers (cached: many policies name the same codes, and matching every
    PFS code against one text is the slow part of the check)."""
    return tuple(c for c in _every_code() if policy.code_matches(c, codes))


@pytest.fixture(scope="module")
def policies() -> pd.DataFrame:
    """The shipped policy files, read once for the module (tests that change a row change a copy)."""
    return policy.load_policies()


def _conflicts(rows) -> list[str]:
    problems = []
    for row in rows.itertuples():
        pct = row.payment_pct
        if row.modifier is None or pct is None or pct != pct:
            continue
        for code in _codes_in(row.codes):
            ind = medicare.pfs_indicators(code, YEAR)
            if not policy.condition_holds(row.applies_if, ind):
                continue
            if row.modifier == "50" and pct > BILATERAL_MAX_PCT.get(ind.bilat_surg, 0.0):
                problems.append(f"{row.policy_id}: pays {pct}% for 50 on {code} (BILAT SURG {ind.bilat_surg})")
            if row.modifier in NOT_PAYABLE and pct > 0:
                field, forbidden = NOT_PAYABLE[row.modifier]
                if getattr(ind, field) in forbidden:
                    problems.append(
                        f"{row.policy_id}: pays {pct}% for {row.modifier} on {code} ({field} {getattr(ind, field)})"
                    )
    return problems


def test_every_illustrative_sample_policy_agrees_with_the_codes_pfs_indicators(policies):
    illustrative = policies[policies["basis"].eq("illustrative")]
    assert len(illustrative) > 40 and illustrative["modifier"].notna().sum() > 30
    assert _conflicts(illustrative) == []


def test_the_check_finds_a_bilateral_policy_that_the_indicator_forbids(policies):
    # 44320 has BILAT SURG 0 and ASST SURG 2; 44340 has ASST SURG 1 (PPRRVU2025_Oct, read by hand)
    assert medicare.pfs_indicators("44320", YEAR).bilat_surg == "0"
    assert medicare.pfs_indicators("44340", YEAR).asst_surg == "1"
    row = policies[policies["basis"].eq("illustrative") & policies["modifier"].eq("80")].iloc[[0]].copy()
    row["codes"], row["applies_if"] = "44340", None
    assert _conflicts(row) == [
        f"{row['policy_id'].iloc[0]}: pays {row['payment_pct'].iloc[0]}% for 80 on 44340 (asst_surg 1)"
    ]
    row["modifier"], row["payment_pct"], row["codes"] = "50", 150.0, "44320"
    assert len(_conflicts(row)) == 1


@pytest.mark.parametrize("modifier", ["50", "62", "80", "81", "82", "AS"])
def test_illustrative_policies_stay_labelled_illustrative(policies, modifier):
    rows = policies[policies["policy_id"].str.startswith("sample-") & policies["modifier"].eq(modifier)]
    assert len(rows) and rows["basis"].eq("illustrative").all()
    assert rows["value"].str.contains("illustrative").all()
