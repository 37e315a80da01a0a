"""The CMS row rules of the payer/plan groups of a wide file, evaluated for every group at once, flag exactly what
the rules say, in the order CMS's rules are listed group by group (a hand-written file with known errors)."""

from __future__ import annotations

from pathlib import Path

from benchmark.ingest.hospital.cms_csv import ATTESTATION
from benchmark.ingest.validate import validate_file

GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|TX,type_2_npi,"
    f'"{ATTESTATION}",attester_name\n'
    'Test Hospital,2026-01-01,3.0.0,Test Hospital,"1 Main St, Austin, TX 78701",12345,1234567893,true,A. Person\n'
)
GROUPS = ["Aetna|PPO", "Cigna|HMO"]
FIELDS = ["negotiated_dollar", "negotiated_percentage", "negotiated_algorithm"]
EXTRA = ["median_amount", "10th_percentile", "90th_percentile", "count"]
HEADER = ["description", "code|1", "code|1|type", "setting", "standard_charge|gross", "standard_charge|discounted_cash"]
for _g in GROUPS:
    HEADER += [f"standard_charge|{_g}|{f}" for f in FIELDS] + [f"{e}|{_g}" for e in EXTRA]
    HEADER += [f"standard_charge|{_g}|methodology", f"additional_payer_notes|{_g}"]
HEADER += ["standard_charge|min", "standard_charge|max", "additional_generic_notes", "modifiers"]
HEADER += ["drug_unit_of_measurement", "drug_type_of_measurement"]
CMS_RULES = {
    "invalid_number",
    "invalid_methodology",
    "invalid_count",
    "other_needs_notes",
    "count_missing",
    "median_missing",
    "p10_missing",
    "p90_missing",
    "count_zero_needs_notes",
    "dollar_needs_min_max",
    "nine_nines",
    "required_value",
    "no_charge",
}


def _row(cells: dict[str, str]) -> str:
    base = {"description": "Visit", "code|1": "99213", "code|1|type": "CPT", "setting": "outpatient"}
    base["standard_charge|gross"] = "200"
    values = {**base, **cells}
    assert set(values) <= set(HEADER)
    return ",".join(values.get(name, "") for name in HEADER) + "\n"


def _at(line: int, column: str) -> str:
    return f"line {line} column {HEADER.index(column) + 1}"


def test_group_rules_flag_known_errors_in_rule_order(tmp_path: Path) -> None:
    a, b = GROUPS
    rows = [
        # line 4: group A's dollar is not a number; group B's methodology is not a CMS one
        _row(
            {
                f"standard_charge|{a}|negotiated_dollar": "abc",
                f"standard_charge|{a}|methodology": "fee schedule",
                f"standard_charge|{b}|negotiated_dollar": "50",
                f"standard_charge|{b}|methodology": "per visit",
                "standard_charge|min": "40",
                "standard_charge|max": "60",
            }
        ),
        # line 5: A a percentage with methodology 'other', no notes, no count; B a count of 5 (not a CMS count)
        # and none of the percentiles a count other than 0 needs
        _row(
            {
                f"standard_charge|{a}|negotiated_percentage": "50",
                f"standard_charge|{a}|methodology": "other",
                f"standard_charge|{b}|negotiated_percentage": "40",
                f"count|{b}": "5",
                f"standard_charge|{b}|methodology": "case rate",
            }
        ),
        # line 6: A a dollar without max and a median of nine 9s; B a count of 0 without notes
        _row(
            {
                f"standard_charge|{a}|negotiated_dollar": "10",
                f"median_amount|{a}": "999999999",
                f"standard_charge|{a}|methodology": "fee schedule",
                f"standard_charge|{b}|negotiated_percentage": "30",
                f"count|{b}": "0",
                f"standard_charge|{b}|methodology": "percent of total billed charges",
                "standard_charge|min": "5",
            }
        ),
    ]
    path = tmp_path / "wide.csv"
    path.write_text(GENERAL + ",".join(HEADER) + "\n" + "".join(rows), encoding="utf-8")
    report = validate_file(path)
    found = [
        (loc, rule)
        for loc, rule in report.problems[["location", "reason_code"]].itertuples(index=False, name=None)
        if rule in CMS_RULES
    ]
    assert found == [
        (_at(4, f"standard_charge|{a}|negotiated_dollar"), "invalid_number"),
        (_at(4, f"standard_charge|{b}|methodology"), "invalid_methodology"),
        # line 5: the value rules (B's count), then the item rules group by group
        (_at(5, f"count|{b}"), "invalid_count"),
        (_at(5, f"additional_payer_notes|{a}"), "other_needs_notes"),
        (_at(5, f"count|{a}"), "count_missing"),
        (_at(5, f"median_amount|{a}"), "median_missing"),
        (_at(5, f"10th_percentile|{a}"), "p10_missing"),
        (_at(5, f"90th_percentile|{a}"), "p90_missing"),
        (_at(5, f"median_amount|{b}"), "median_missing"),
        (_at(5, f"10th_percentile|{b}"), "p10_missing"),
        (_at(5, f"90th_percentile|{b}"), "p90_missing"),
        # line 6: B's count of 0, the row's missing max, then the alert on A's median
        (_at(6, f"additional_payer_notes|{b}"), "count_zero_needs_notes"),
        (_at(6, "standard_charge|min"), "dollar_needs_min_max"),
        (_at(6, f"median_amount|{a}"), "nine_nines"),
    ]
    severities = dict(zip(report.problems.reason_code, report.problems.severity))
    assert severities["nine_nines"] == "warning" and severities["invalid_count"] == "error"
