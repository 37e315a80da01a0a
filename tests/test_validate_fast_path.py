"""Validation's fast path (:mod:`benchmark.ingest.hospital.clean_units`) changes nothing but the time.

Candidate rates that need no normalization are only counted; the others are normalized as before. On the messy
files of ``tests/fixtures/validate_golden`` (every kind of value the reader fixes, quarantines or warns about;
synthetic sample data -- not actual payer rates) and on a file of clean rows mixed with rows that each hold one
value the normalization changes or questions, the problem list and the account must be the same with the fast
path switched off, and the fast path must have taken exactly the clean rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.ingest.hospital import clean_units
from benchmark.ingest.hospital.cms_csv import ATTESTATION
from benchmark.ingest.validate import validate_file
from benchmark.normalize import hospital_units

GOLDEN = Path(__file__).parent / "fixtures" / "validate_golden"
MESSY = ["messy_tall_v3.csv", "messy_wide_v3.csv", "messy_wide_v22.csv"]


def _validate(path: Path, monkeypatch: pytest.MonkeyPatch, *, fast: bool) -> tuple[object, int]:
    """(the report, how many candidate rates the fast path took)."""
    taken = 0
    original = hospital_units.Sink.units

    def counting(self, columns, *, legacy=False, file_columns=frozenset(), clean=0, algorithm_only=None):
        nonlocal taken
        taken += clean + (len(algorithm_only[0]) if algorithm_only else 0)
        return original(
            self, columns, legacy=legacy, file_columns=file_columns, clean=clean, algorithm_only=algorithm_only
        )

    with monkeypatch.context() as patch:
        patch.setattr(hospital_units.Sink, "units", counting)
        if not fast:
            patch.setattr(clean_units.CleanUnits, "usable", lambda self, table: False)
        report = validate_file(path)
    return report, taken


@pytest.mark.parametrize("name", MESSY)
def test_same_problems_and_account_with_and_without_the_fast_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, taken = _validate(GOLDEN / name, monkeypatch, fast=True)
    slow, none = _validate(GOLDEN / name, monkeypatch, fast=False)
    assert none == 0
    assert taken < fast.account.rows_seen  # messy rows are not taken
    assert fast.summary() == slow.summary()
    assert vars(fast.account) == vars(slow.account)
    assert fast.problems.equals(slow.problems)


def _tall(rows: list[str]) -> str:
    general = (
        "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|NY,type_2_npi,"
        f'"{ATTESTATION}",attester_name\n'
        'Fast Path Hospital (synthetic),2026-01-01,3.0.0,Main,"1 Example Way, Buffalo, NY 14215",1,1234567893,'
        "true,A. Tester\n"
    )
    header = (
        "description,code|1,code|1|type,setting,standard_charge|gross,standard_charge|discounted_cash,payer_name,"
        "plan_name,standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,"
        "standard_charge|negotiated_algorithm,median_amount,10th_percentile,90th_percentile,count,"
        "standard_charge|min,standard_charge|max,standard_charge|methodology,additional_generic_notes\n"
    )
    return general + header + "".join(row + "\n" for row in rows)


# One clean row, then rows that each differ from it in one value the normalization reads differently or warns
# about: none of those may be counted by the fast path.
CLEAN = "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,"
NOT_CLEAN = [
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO, 50.00,,,,,,,20.00,90.00,fee schedule,",  # space
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,$50.00,,,,,,,20.00,90.00,fee schedule,",  # dollar sign
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,9999999,,,,,,,20.00,90.00,fee schedule,",  # placeholder
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,0.00,,,,,,,20.00,90.00,fee schedule,",  # not positive
    "Item,44320,CPT,outpatient,0,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # gross zero
    "Item,44320,CPT,ip,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # setting renamed
    "Item,44320,CPT4,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # type renamed
    "Item,44320.0,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # Excel code
    "Item,J1450,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # CPT -> HCPCS
    "Item,44320,CPT,outpatient,100.00,60.00,,PPO,50.00,,,,,,,20.00,90.00,fee schedule,",  # no payer
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,,90.00,fee schedule,",  # no min
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,,0.5,,,,,12,20.00,90.00,fee schedule,",  # fraction
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,,70,,,,,,20.00,90.00,fee schedule,",  # no count
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,other,",  # other, no note
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,50.00,,,,,,,20.00,90.00,fees,",  # unknown methodology
    "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,N/A,,,,,,,20.00,90.00,fee schedule,",  # N/A
]


@pytest.mark.parametrize("row", NOT_CLEAN)
def test_values_the_normalization_changes_or_questions_are_never_clean(
    row: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.csv"
    path.write_text(_tall([CLEAN, row]), encoding="utf-8")
    fast, taken = _validate(path, monkeypatch, fast=True)
    slow, _ = _validate(path, monkeypatch, fast=False)
    assert taken == 1  # the clean row only
    assert fast.problems.equals(slow.problems)
    assert vars(fast.account) == vars(slow.account)


def test_clean_rows_mixed_with_messy_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [line for messy in NOT_CLEAN for line in (CLEAN, messy, CLEAN.replace("44320", "99213"))]
    path = tmp_path / "mixed.csv"
    path.write_text(_tall(rows * 5), encoding="utf-8")
    fast, taken = _validate(path, monkeypatch, fast=True)
    slow, _ = _validate(path, monkeypatch, fast=False)
    assert taken == 2 * len(NOT_CLEAN) * 5
    assert fast.problems.equals(slow.problems)
    assert vars(fast.account) == vars(slow.account)
    assert fast.account.rows_quarantined > 0 and len(fast.problems) > 0  # the messy rows' outcomes are there


# Algorithm-only charges (CMS v3.0 allows them; paybench does not load them): quarantined directly when the row has
# nothing else to normalize, through the normalization otherwise -- the same problems either way.
ALGORITHM = "Item,44320,CPT,outpatient,100.00,60.00,Aetna,PPO,,,Per contract,,,,1 through 10,20.00,90.00,other,note"


def test_algorithm_only_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [ALGORITHM, CLEAN, ALGORITHM.replace("Per contract", "N/A"), ALGORITHM.replace("Aetna", "")]
    rows += [ALGORITHM.replace("44320", "4432"), ALGORITHM.replace("Per contract", " Per contract")]
    path = tmp_path / "algorithm.csv"
    path.write_text(_tall(rows * 3), encoding="utf-8")
    fast, taken = _validate(path, monkeypatch, fast=True)
    slow, _ = _validate(path, monkeypatch, fast=False)
    assert taken == 2 * 3  # the first two rows of each six: one algorithm-only, one clean
    assert fast.problems.equals(slow.problems)
    assert vars(fast.account) == vars(slow.account)
    assert (fast.problems["reason_code"] == "algorithm_only").sum() == 3 * 3
