"""Payer policy tables: schema validation with bad rows, Medicare's rows from the PFS, the matrix, modifier math.

Expected values are typed in from the CMS PPRRVU file (FORMATS.md 3.6: 44320 is GLOB 090, PRE/INTRA/POST
0.09/0.81/0.10, MULT 2, BILAT 0, ASST 2, CO-SURG 1, TEAM 0, non-facility NA; 44312 ASST 0; 44340 ASST 1) and the
modifier dollars are computed by hand from the 2025 national facility amount of 44320, 36.13 x 32.3465 = $1,168.68.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from benchmark.reference import medicare, policy
from benchmark.reference.policy import PolicyFileError

NATIONAL_44320 = 1168.68
COLUMNS = [
    "policy_id",
    "payer_family",
    "payer_brand",
    "product_line",
    "codes",
    "applies_if",
    "policy_type",
    "modifier",
    "value",
    "payment_pct",
    "status",
    "basis",
    "effective_date",
    "source_title",
    "source_url",
    "last_reviewed",
    "note",
]


def row(**overrides) -> dict:
    """A valid published policy row (fictional payer document at example.org); override any column."""
    base = {
        "policy_id": "acme-1",
        "payer_family": "Aetna",
        "payer_brand": "",
        "product_line": "commercial",
        "codes": "44320",
        "applies_if": "",
        "policy_type": "assistant_at_surgery",
        "modifier": "",
        "value": "Allowed: 20%",
        "payment_pct": "",
        "status": "known",
        "basis": "published",
        "effective_date": "2024-01-01",
        "source_title": "Test payment policy",
        "source_url": "https://example.org/p",
        "last_reviewed": "2026-01-15",
        "note": "",
    }
    base.update(overrides)
    return base


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------------------------------- schema
def test_shipped_policy_files_are_valid_and_honest():
    table = policy.load_policies()
    assert set(table["basis"]) == {"published", "illustrative"}
    published = table[table["basis"] == "published"]
    assert published["source_url"].str.startswith("http").all()
    assert published["effective_date"].notna().all() and published["source_title"].notna().all()
    illustrative = table[table["basis"] == "illustrative"]
    assert illustrative["source_url"].isna().all()
    assert set(illustrative["payer_family"]) == {"Aetna", "BCBS", "Cigna", "UnitedHealthcare"}
    assert illustrative["note"].str.contains("not a real payer policy").all()
    assert set(policy.load_policies(include_illustrative=False)["basis"]) == {"published"}


def test_bad_rows_are_rejected_with_line_column_and_reason(tmp_path):
    future = (date.today() + timedelta(days=30)).isoformat()
    rows = [
        row(policy_id="good"),  # line 2
        row(policy_id="no-url", source_url=""),  # 3: published without a source URL
        row(policy_id="bad-family", payer_family="Acme"),  # 4
        row(policy_id="bad-range", codes="44346-44310"),  # 5: range runs backwards
        row(policy_id="no-modifier", policy_type="modifier_rule", payment_pct="50"),  # 6
        row(policy_id="bare-number", value="62.5%"),  # 7: the value must say what it means
        row(policy_id="pct-text", modifier="80", policy_type="modifier_rule", payment_pct="sixteen"),  # 8
        row(policy_id="bad-date", effective_date="2025-02-31"),  # 9: not a calendar date
        row(policy_id="future-review", last_reviewed=future),  # 10
        row(policy_id="fake-medicare", payer_family="Medicare", basis="illustrative", source_url=""),  # 11
        row(policy_id="illustrative-url", basis="illustrative"),  # 12: invented rows may not cite a URL
        row(policy_id="unknown-no-why", status="unknown"),  # 13
        row(policy_id="bad-condition", applies_if="asst_surg = 2"),  # 14
        row(policy_id="good"),  # 15: duplicate id
    ]
    load = policy.read_policy_file(write(tmp_path / "payer.csv", rows))
    assert load.policies["policy_id"].tolist() == []  # "good" is duplicated, so both copies are rejected
    by_line = load.rejected.groupby("line")["column"].apply(set).to_dict()
    assert by_line[3] == {"(row)"} and by_line[4] == {"payer_family"} and by_line[5] == {"(row)"}
    assert by_line[6] == {"(row)"} and by_line[7] == {"value"} and by_line[8] == {"payment_pct"}
    assert by_line[9] == {"(row)"} and by_line[10] == {"(row)"} and by_line[11] == {"(row)"}
    assert by_line[12] == {"(row)"} and by_line[13] == {"(row)"} and by_line[14] == {"applies_if"}
    assert by_line[2] == {"policy_id"} and by_line[15] == {"policy_id"}
    reasons = dict(zip(load.rejected["line"], load.rejected["reason"]))
    assert "needs effective_date, source_title and source_url" in reasons[3]
    assert "'Acme' is not one of the allowed values" in reasons[4]
    assert "not a number: 'sixteen'" in reasons[8]
    with pytest.raises(PolicyFileError, match=r"payer.csv, line 4: column 'payer_family'"):
        policy.load_policies([tmp_path / "payer.csv"])


def test_good_rows_load_beside_rejected_ones(tmp_path):
    load = policy.read_policy_file(write(tmp_path / "p.csv", [row(policy_id="ok"), row(policy_id="x", codes="443")]))
    assert load.policies["policy_id"].tolist() == ["ok"] and load.policies["policy_line"].tolist() == [2]
    assert load.rejected[["line", "column"]].values.tolist() == [[3, "codes"]]
    assert len(policy.load_policies([tmp_path / "p.csv"], strict=False)) == 1


def test_a_file_with_wrong_columns_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("policy_id,payer\nx,Aetna\n")
    with pytest.raises(PolicyFileError, match="line 1: columns must be"):
        policy.read_policy_file(path)


# --------------------------------------------------------------------------------------------------- Medicare
def test_medicare_rows_come_from_the_pfs_indicators():
    rows = policy.medicare_policies("44320", 2025, reviewed=date(2026, 11, 26)).set_index("policy_id")
    value = rows["value"].to_dict()
    assert value["medicare-2025-44320-global-days"] == "90-day global (pre 9% / intra 81% / post 10%)"
    assert value["medicare-2025-44320-site-of-service"] == "Facility setting only (non-facility NA)"
    assert value["medicare-2025-44320-multiple-procedure-reduction"].endswith("(MULT PROC 2)")
    assert value["medicare-2025-44320-assistant-at-surgery"] == "Paid 16% (ASST SURG 2)"
    assert value["medicare-2025-44320-co-surgery"] == "62.5% each with documentation (CO-SURG 1)"
    assert value["medicare-2025-44320-team-surgery"] == "Not permitted (TEAM SURG 0)"
    assert value["medicare-2025-44320-bilateral-surgery"] == "150% adjustment does not apply (BILAT SURG 0)"
    assert rows.loc["medicare-2025-44320-prior-authorization", "status"] == "unknown"
    assert rows.loc["medicare-2025-44320-medical-necessity", "status"] == "unknown"
    assert (rows["basis"] == "derived").all() and (rows["last_reviewed"] == "2026-11-26").all()
    known = rows[rows["status"] == "known"]
    assert known["source_title"].str.contains("PPRRVU2025_Oct_nodesc.csv, line 5228").all()
    pct = rows[rows["policy_type"] == "modifier_rule"].set_index("modifier")["payment_pct"]
    assert pct.dropna().to_dict() == {
        "51": 50.0,
        "50": 100.0,
        "62": 62.5,
        "66": 0.0,
        "80": 16.0,
        "81": 16.0,
        "82": 16.0,
        "AS": 13.6,
        "54": 90.0,
        "55": 10.0,
        "56": 9.0,
    }
    assert pct[["22", "52", "53"]].isna().all()  # by report


@pytest.mark.parametrize(("code", "assistant"), [("44312", 16.0), ("44340", 0.0)])
def test_assistant_indicator_decides_medicare_assistant_payment(code, assistant):
    rows = policy.medicare_policies(code, 2025)
    pct = rows[rows["policy_type"] == "modifier_rule"].set_index("modifier")["payment_pct"]
    assert pct["80"] == assistant and pct["AS"] == (13.6 if assistant else 0.0)


def test_medicare_rules_agree_with_the_medicare_engine():
    """The policy module and medicare.modifier_effects are separate implementations of the same CMS rules."""
    for code in ("44320", "44312", "44340", "44141"):
        rules = policy.medicare_modifier_rules(medicare.pfs_indicators(code, 2025))
        for effect in medicare.modifier_effects(code, 2025):
            if effect.allowed and effect.factor is not None:
                assert rules[effect.modifier][0] == pytest.approx(effect.factor * 100), (code, effect.modifier)


def test_a_code_outside_the_pfs_is_explicitly_unknown():
    rows = policy.medicare_policies("0001U", 2025)
    assert (rows["status"] == "unknown").all() and rows["note"].str.contains("not in the 2025 PFS").all()


# --------------------------------------------------------------------------------------------------- matching
@pytest.mark.parametrize(
    ("code", "codes", "expected"),
    [
        ("44320", "44320", True),
        ("44320", "44310-44346", True),
        ("44347", "44310-44346", False),
        ("4432", "44310-44346", False),
        ("J0120", "44310-44346", False),
        ("0002T", "0001T-0999T", True),
        ("99213", "ALL", True),
    ],
)
def test_code_ranges(code, codes, expected):
    assert policy.code_matches(code, codes) is expected


def test_most_specific_applicable_policy_wins(tmp_path):
    rows = [
        row(policy_id="all-codes", codes="ALL", value="Allowed: 20% (all codes)"),
        row(policy_id="range", codes="44310-44346", value="Allowed: 18% (range)"),
        row(policy_id="exact-all-lines", product_line="all", value="Allowed: 17% (any product)"),
        row(policy_id="exact", value="Allowed: 16% (exact)"),
        row(policy_id="future", value="Allowed: 99% (not yet)", effective_date="2099-01-01"),
        row(policy_id="ma-only", product_line="medicare_advantage", value="Allowed: 15% (MA)"),
    ]
    table = policy.load_policies([write(tmp_path / "p.csv", rows)])
    matrix = policy.policy_matrix("44320", table, families=["Aetna"]).set_index(["payer_key", "policy_type"])
    assert matrix.loc[("Aetna", "assistant_at_surgery"), "policy_id"] == "exact"
    assert matrix.loc[("Aetna", "co_surgery"), "status"] == "missing"
    assert matrix.loc[("Medicare", "global_days"), "status"] == "missing"  # no Medicare rows were passed
    other = policy.policy_matrix("44316", table, families=["Aetna"]).set_index(["payer_key", "policy_type"])
    assert other.loc[("Aetna", "assistant_at_surgery"), "policy_id"] == "range"
    ma = policy.policy_matrix("44320", table, families=["Aetna"], product_lines=["medicare_advantage"])
    assert ma.set_index(["payer_key", "policy_type"]).loc[("Aetna", "assistant_at_surgery"), "policy_id"] == "ma-only"


def test_pfs_conditions_and_brand_rows(tmp_path):
    rows = [
        row(
            policy_id="bcbs-x-80",
            payer_family="BCBS",
            payer_brand="Horizon BCBSNJ",
            codes="ALL",
            applies_if="asst_surg in 2",
            policy_type="modifier_rule",
            modifier="80",
            payment_pct="20",
            value="Assistant: 20%",
        )
    ]
    table = policy.load_policies([write(tmp_path / "p.csv", rows)])
    matrix = policy.policy_matrix("44320", table, families=["BCBS"])  # 44320: ASST SURG 2
    assert list(dict.fromkeys(matrix["payer_key"])) == ["Medicare", "BCBS", "BCBS / Horizon BCBSNJ"]
    cell = matrix.set_index(["payer_key", "policy_type"]).loc[("BCBS / Horizon BCBSNJ", "modifier_rule")]
    assert cell["value"] == "1 modifier rule: 80" and cell["basis"] == "published"
    assert matrix.set_index(["payer_key", "policy_type"]).loc[("BCBS", "modifier_rule"), "status"] == "missing"
    none = policy.policy_matrix("44340", table, families=["BCBS"])  # 44340: ASST SURG 1, the condition fails
    assert "BCBS / Horizon BCBSNJ" not in set(none["payer_key"])


def test_gaps_name_missing_and_illustrative_entries():
    policies = pd.concat([policy.load_policies(), policy.medicare_policies("44320", 2025)], ignore_index=True)
    matrix = policy.policy_matrix("44320", policies, families=["Aetna", "BCBS", "Cigna", "UnitedHealthcare"])
    gaps = policy.policy_gaps(matrix)
    assert "Aetna: no policy for medical necessity: Data not available" in gaps
    assert any(g.startswith("Medicare, prior authorization: unknown (") for g in gaps)
    assert any("illustrative values shipped with the synthetic sample, not real payer policies" in g for g in gaps)
    real = pd.concat([policy.load_policies(include_illustrative=False), policy.medicare_policies("44320", 2025)])
    real_matrix = policy.policy_matrix("44320", real, families=["Aetna"])
    assert (real_matrix.loc[real_matrix["payer_key"] == "Aetna", "status"] == "missing").all()


# --------------------------------------------------------------------------------------------------- modifier math
def test_medicare_modifier_dollars_by_hand():
    policies = policy.medicare_policies("44320", 2025)
    table = policy.modifier_payments(
        "44320", policies, payers=[("Medicare", "Medicare", None)], base_amounts={"Medicare": NATIONAL_44320}
    ).set_index("modifier")
    # 1168.68 x 0.50 = 584.34; x 0.625 = 730.425 -> 730.43 (half up); x 0.16 = 186.9888; x 0.136 = 158.94048;
    # x 0.90 = 1051.812; x 0.10 = 116.868; x 0.09 = 105.1812; x 1.00 (BILAT 0: no 150%) = 1168.68; x 0 = 0
    assert table["amount"].dropna().to_dict() == {
        "51": 584.34,
        "50": 1168.68,
        "62": 730.43,
        "66": 0.0,
        "80": 186.99,
        "81": 186.99,
        "82": 186.99,
        "AS": 158.94,
        "54": 1051.81,
        "55": 116.87,
        "56": 105.18,
    }
    assert table.loc["51", "change_usd"] == -584.34 and table.loc["62", "change_usd"] == -438.25
    assert table.loc["51", "change_pct"] == -50.0 and table.loc["AS", "change_pct"] == -86.4
    assert pd.isna(table.loc["22", "amount"]) and table.loc["22", "rule"] == "By report: no automatic increase"
    assert (table["base_amount"] == NATIONAL_44320).all()


def test_commercial_modifier_dollars_by_hand(tmp_path):
    rows = [
        row(policy_id=f"m-{m.lower()}", policy_type="modifier_rule", modifier=m, payment_pct=p, value=f"Pays {p}%")
        for m, p in (("80", "20"), ("AS", "13.6"), ("22", "125"), ("51", "50"))
    ]
    rows.append(row(policy_id="m-66", policy_type="modifier_rule", modifier="66", value="Team surgery by report"))
    table = policy.load_policies([write(tmp_path / "p.csv", rows)])
    result = policy.modifier_payments(
        "44320",
        table,
        payers=[("Aetna", "Aetna", None), ("Cigna", "Cigna", None)],
        base_amounts={"Aetna": 1234.56, "Cigna": None},
    )
    aetna = result[result["payer_key"] == "Aetna"].set_index("modifier")
    # 1234.56 x 0.20 = 246.912 -> 246.91; x 0.136 = 167.90016 -> 167.90; x 1.25 = 1543.20; x 0.5 = 617.28
    assert aetna["amount"].dropna().to_dict() == {"51": 617.28, "80": 246.91, "AS": 167.90, "22": 1543.2}
    assert aetna.loc["22", "change_usd"] == 308.64 and aetna.loc["22", "change_pct"] == 25.0
    assert aetna.loc["80", "change_usd"] == -987.65
    assert aetna.loc["66", "rule"] == "Team surgery by report" and pd.isna(aetna.loc["66", "payment_pct"])
    assert pd.isna(aetna.loc["62", "rule"])  # no rule stated: nothing invented
    cigna = result[result["payer_key"] == "Cigna"]
    assert cigna["payment_pct"].isna().all() and cigna["amount"].isna().all()


def test_round_half_up_matches_the_medicare_engine():
    assert policy.round_half_up(730.425) == 730.43 and policy.round_half_up(0.125) == 0.13
    assert policy.round_half_up(-584.345) == -584.35


# --------------------------------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def sample_report(built_report):
    """The 44320 report on the sample (default parameters, the shared report date), built once per run (conftest)."""
    from conftest import REPORT_DATE

    from benchmark.reporting.report import ReportParams

    return built_report(ReportParams(report_date=REPORT_DATE))


def test_report_shows_matrix_chart_gaps_and_modifier_payments(sample_report):
    summary = sample_report.summary()
    matrix = summary["policy"]["matrix"]
    assert list(matrix)[:5] == ["Medicare", "Aetna", "BCBS", "Cigna", "UnitedHealthcare"]
    assert matrix["Medicare"]["global_days"]["value"].startswith("90-day global")
    assert matrix["Aetna"]["prior_authorization"]["basis"] == "illustrative"
    assert summary["policy"]["illustrative_entries"] is True
    payments = summary["modifier_payments"]
    # the default report year is 2026: 44320 national facility 33.59 x 33.4009 = 1,121.94; x 50% = 560.97 (51),
    # x 62.5% = 701.2125 -> 701.21 (62)
    assert payments["51"]["Medicare"]["amount"] == 560.97 and payments["62"]["Medicare"]["amount"] == 701.21
    aetna_base = summary["payers"]["Aetna"]["facility"]["median"]
    assert payments["80"]["Aetna"]["base_amount"] == aetna_base
    assert payments["80"]["Aetna"]["amount"] == policy.round_half_up(aetna_base * 0.16)
    html = sample_report.section_html("policy")
    assert "pb-matrix" in html and "Policy gaps" in html and "illustrative" in html
    assert "https://www.horizonblue.com/" in html  # a cited published policy is listed with its source
    assert "policy_matrix" in sample_report.figures()
    assert "What each modifier pays, by payer" in sample_report.section_html("clinical")
    assert any(g.startswith("Policy: ") for g in sample_report.data_gaps())
    assert "Medicare Advantage and Medicaid plans are excluded" in sample_report.section_html("summary")
