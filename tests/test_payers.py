"""Payer identity: real-world spellings, every BCBS licensee, product lines, rule-file validation, the review list."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark import cli
from benchmark.analysis import stats
from benchmark.normalize import payers
from benchmark.normalize.payers import PayerRuleError, normalize, resolve_payer

ELEVANCE = "Anthem (Elevance Health)"


# --------------------------------------------------------------------------------------------------- real spellings
@pytest.mark.parametrize(
    ("payer", "plan", "family", "brand", "product"),
    [
        # hospital payer columns (wide-format headers, tall payer_name / plan_name)
        ("EMPIRE HEALTHCHOICE ASSURANCE-PPO", None, "BCBS", "Empire (Elevance Health)", "commercial"),
        ("United Healthcare-Medicare Advantage", None, "UnitedHealthcare", "UnitedHealthcare", "medicare_advantage"),
        ("i150180_VIVA_MEDICARE_2025", None, "Other", "VIVA Health", "medicare_advantage"),
        ("UHC", None, "UnitedHealthcare", "UnitedHealthcare", "commercial"),
        ("UnitedHealthcare Community Plan", None, "UnitedHealthcare", "UnitedHealthcare Community Plan", "medicaid"),
        (
            "UnitedHealthcare Community Plan",
            "Dual Complete HMO D-SNP",
            "UnitedHealthcare",
            "UnitedHealthcare Community Plan",
            "medicare_advantage",
        ),
        ("UMR", None, "UnitedHealthcare", "UMR", "tpa"),
        ("UMR", "UnitedHealthcare Choice Plus", "UnitedHealthcare", "UMR", "tpa"),  # network name is not the product
        ("Oxford Health Insurance", None, "UnitedHealthcare", "Oxford (UnitedHealthcare)", "commercial"),
        ("Anthem Blue Cross", None, "BCBS", ELEVANCE, "commercial"),
        ("Highmark", None, "BCBS", "Highmark", "commercial"),
        ("BCBS of TX", None, "BCBS", "BCBS of Texas (HCSC)", "commercial"),
        ("Aetna Better Health", None, "Aetna", "Aetna Better Health", "medicaid"),
        ("Cigna Healthcare of Texas", None, "Cigna", "Cigna", "commercial"),
        ("AETNA MEDICARE", None, "Aetna", "Aetna", "medicare_advantage"),
        ("BLUE CROSS BLUE SHIELD-MEDICARE ADVANTAGE", None, "BCBS", None, "medicare_advantage"),
        ("HUMANA GOLD PLUS HMO", None, "Other", "Humana", "medicare_advantage"),
        ("Medicare", "Humana Medicare Advantage", "Other", "Humana", "medicare_advantage"),
        ("MEDICARE", None, "Medicare", "Medicare", "unknown"),
        ("Medicare Part B", None, "Medicare", "Medicare", "unknown"),
        ("Novitas Solutions - Medicare Part B", None, "Medicare", "Medicare", "unknown"),
        ("MEDICAID", None, "Other", None, "medicaid"),
        ("MOLINA HEALTHCARE-MEDICAID", None, "Other", "Molina Healthcare", "medicaid"),
        ("AMBETTER", None, "Other", "Ambetter (Centene)", "exchange"),
        ("Anthem Blue Cross", "Individual Silver 3000 Exchange", "BCBS", ELEVANCE, "exchange"),
        ("BCBS", "Anthem PPO", "BCBS", ELEVANCE, "commercial"),  # generic Blue payer, licensee named by the plan
        ("Managed Care", "Aetna Choice POS II", "Aetna", "Aetna", "commercial"),
        ("The Empire Plan", None, "Other", "The Empire Plan (NYSHIP)", "tpa"),  # not Empire BlueCross
        ("AARP Medicare Supplement Plan G", None, "UnitedHealthcare", "AARP (UnitedHealthcare)", "unknown"),
        ("TRICARE", "Tricare Select PPO", "Other", "TRICARE / VA (federal military and veterans programs)", "unknown"),
        ("Cigna-HealthSpring", None, "Cigna", "Cigna-HealthSpring", "medicare_advantage"),
        ("HealthSpring", None, "Other", "HealthSpring (HCSC since 2025; formerly Cigna)", "medicare_advantage"),
        ("Rocky Mountain Hospital and Medical Service, Inc.", None, "BCBS", ELEVANCE, "commercial"),
        (
            "Rocky Mountain Health Plans",
            None,
            "UnitedHealthcare",
            "Rocky Mountain Health Plans (UnitedHealthcare)",
            "commercial",
        ),
        ("Noridian Healthcare Solutions", None, "Medicare", "Medicare", "unknown"),  # the MAC, not BCBS of ND
        ("Florida Blue Medicare", None, "BCBS", "Florida Blue", "medicare_advantage"),
        ("Healthy Blue Louisiana", None, "BCBS", "Healthy Blue (Medicaid)", "medicaid"),
        ("Platform Health Insurance", "PPO", "Other", None, "commercial"),  # CMS example payer: unmatched, kept
        ("SELF PAY", None, "Other", None, "unknown"),
        # TiC reporting entities (+ plan names)
        (
            "UnitedHealthcare Insurance Company",
            "UnitedHealthcare Choice Plus",
            "UnitedHealthcare",
            "UnitedHealthcare",
            "commercial",
        ),
        (
            "UnitedHealthcare Insurance Company",
            "UnitedHealthcare Insurance Company",
            "UnitedHealthcare",
            "UnitedHealthcare",
            "commercial",
        ),  # plan_raw fell back to issuer_name: says nothing
        (
            "United HealthCare Services, Inc.",
            "UnitedHealthcare Medicare Advantage PPO",
            "UnitedHealthcare",
            "UnitedHealthcare",
            "medicare_advantage",
        ),
        ("Aetna Life Insurance Company", "Aetna Open Access Managed Choice", "Aetna", "Aetna", "commercial"),
        ("Aetna Signature Administrators", None, "Aetna", "Aetna Signature Administrators", "tpa"),
        ("Cigna Health and Life Insurance Company", "Cigna Open Access Plus", "Cigna", "Cigna", "commercial"),
        ("Connecticut General Life Insurance Company", None, "Cigna", "Cigna", "commercial"),
        (
            "Empire HealthChoice Assurance, Inc.",
            "Empire BlueCross BlueShield EPO",
            "BCBS",
            "Empire (Elevance Health)",
            "commercial",
        ),
        ("Health Care Service Corporation, a Mutual Legal Reserve Company", None, "BCBS", "HCSC", "commercial"),
        ("Blue Cross Blue Shield of Michigan Mutual Insurance Company", None, "BCBS", "BCBS of Michigan", "commercial"),
        ("Horizon Healthcare Services, Inc.", None, "BCBS", "Horizon BCBSNJ", "commercial"),
        ("Louisiana Health Service & Indemnity Company", None, "BCBS", "Louisiana Blue", "commercial"),
        ("Hawaii Medical Service Association", None, "BCBS", "HMSA (Hawaii)", "commercial"),
        ("Meritain Health", None, "Aetna", "Meritain Health (Aetna)", "tpa"),
    ],
)
def test_real_world_spellings(payer, plan, family, brand, product):
    identity = resolve_payer(payer, plan)
    assert (identity.payer_family, identity.payer_brand, identity.product_line) == (family, brand, product)


def test_normalize_makes_spellings_comparable():
    assert normalize("EMPIRE HEALTHCHOICE ASSURANCE-PPO") == "empire healthchoice assurance ppo"
    assert normalize("i150180_VIVA_MEDICARE_HMO") == "i150180 viva medicare hmo"
    assert normalize("BlueCross BlueShield of Tennessee") == "blue cross blue shield of tennessee"
    assert normalize("Blue Cross & Blue Shield of Mississippi") == "blue cross and blue shield of mississippi"
    assert normalize("  Triple-S  Salud, Inc. ") == "triple s salud inc"
    assert normalize(None) == "" and normalize(float("nan")) == ""


# --------------------------------------------------------------------------------------------------- BCBS licensees
# Every independent licensee of the Blue Cross Blue Shield Association, as its members, hospitals and TiC files
# write it, with the licensee (brand) it must resolve to.
BCBS_LICENSEES = [
    # Elevance Health
    ("Anthem Blue Cross", ELEVANCE),  # California
    ("Anthem Blue Cross and Blue Shield of Colorado", ELEVANCE),
    ("Anthem Health Plans, Inc. (Connecticut)", ELEVANCE),
    ("Blue Cross and Blue Shield Healthcare Plan of Georgia", ELEVANCE),
    ("Anthem Insurance Companies, Inc. (Indiana)", ELEVANCE),
    ("Anthem Health Plans of Kentucky", ELEVANCE),
    ("Anthem Health Plans of Maine", ELEVANCE),
    ("RightCHOICE Managed Care (Anthem Missouri)", ELEVANCE),
    ("Anthem Blue Cross and Blue Shield Nevada", ELEVANCE),
    ("Matthew Thornton Health Plan", ELEVANCE),  # New Hampshire
    ("Community Insurance Company", ELEVANCE),  # Ohio
    ("Anthem HealthKeepers", ELEVANCE),  # Virginia
    ("Blue Cross Blue Shield of Wisconsin", ELEVANCE),
    ("Empire BlueCross BlueShield", "Empire (Elevance Health)"),
    # HCSC
    ("Blue Cross and Blue Shield of Illinois", "BCBS of Illinois (HCSC)"),
    ("BlueCross BlueShield of Texas", "BCBS of Texas (HCSC)"),
    ("Blue Cross and Blue Shield of Oklahoma", "BCBS of Oklahoma (HCSC)"),
    ("Blue Cross and Blue Shield of New Mexico", "BCBS of New Mexico (HCSC)"),
    ("Blue Cross and Blue Shield of Montana", "BCBS of Montana (HCSC)"),
    # Highmark Health
    ("Highmark Blue Cross Blue Shield", "Highmark"),  # western Pennsylvania
    ("Highmark Blue Shield", "Highmark"),  # central Pennsylvania
    ("Highmark Blue Cross Blue Shield Delaware", "Highmark"),
    ("Highmark Blue Cross Blue Shield West Virginia", "Highmark"),
    ("Mountain State Blue Cross Blue Shield", "Highmark"),
    ("BlueCross BlueShield of Western New York", "Highmark Western and Northeastern New York"),
    ("BlueShield of Northeastern New York", "Highmark Western and Northeastern New York"),
    ("Highmark Blue Cross Blue Shield Western New York", "Highmark Western and Northeastern New York"),
    ("Blue Cross of Northeastern Pennsylvania", "Blue Cross of Northeastern Pennsylvania (Highmark)"),
    # the other independent licensees
    ("Florida Blue", "Florida Blue"),
    ("Blue Cross and Blue Shield of Florida, Inc.", "Florida Blue"),
    ("Regence BlueShield", "Regence (Cambia)"),  # Washington
    ("Regence BlueCross BlueShield of Oregon", "Regence (Cambia)"),
    ("Regence BlueCross BlueShield of Utah", "Regence (Cambia)"),
    ("Regence BlueShield of Idaho", "Regence (Cambia)"),
    ("Premera Blue Cross", "Premera Blue Cross"),
    ("Premera Blue Cross Blue Shield of Alaska", "Premera Blue Cross"),
    ("Independence Blue Cross", "Independence Blue Cross"),
    ("Keystone Health Plan East", "Independence Blue Cross"),
    ("Horizon Blue Cross Blue Shield of New Jersey", "Horizon BCBSNJ"),
    ("CareFirst BlueCross BlueShield", "CareFirst"),
    ("Group Hospitalization and Medical Services, Inc.", "CareFirst"),
    ("Excellus BlueCross BlueShield", "Excellus BCBS"),
    ("Blue Cross Blue Shield of Michigan", "BCBS of Michigan"),
    ("Blue Care Network of Michigan", "BCBS of Michigan"),
    ("Wellmark Blue Cross and Blue Shield", "Wellmark BCBS"),  # Iowa
    ("Wellmark Blue Cross Blue Shield of South Dakota", "Wellmark BCBS"),
    ("Blue Shield of California", "Blue Shield of California"),
    ("Capital Blue Cross", "Capital Blue Cross"),
    ("Arkansas Blue Cross and Blue Shield", "Arkansas Blue Cross and Blue Shield"),
    ("USAble Mutual Insurance Company", "Arkansas Blue Cross and Blue Shield"),
    ("Blue Cross and Blue Shield of Alabama", "BCBS of Alabama"),
    ("Blue Cross and Blue Shield of Kansas", "BCBS of Kansas"),
    ("Blue Cross and Blue Shield of Kansas City", "Blue KC (BCBS of Kansas City)"),
    ("Blue KC", "Blue KC (BCBS of Kansas City)"),
    ("Blue Cross and Blue Shield of Louisiana", "Louisiana Blue"),
    ("Blue Cross Blue Shield of Massachusetts", "BCBS of Massachusetts"),
    ("Blue Cross and Blue Shield of Minnesota", "BCBS of Minnesota"),
    ("Blue Cross & Blue Shield of Mississippi", "BCBS of Mississippi"),
    ("Blue Cross and Blue Shield of Nebraska", "BCBS of Nebraska"),
    ("Blue Cross and Blue Shield of North Carolina", "Blue Cross NC"),
    ("Blue Cross Blue Shield of North Dakota", "BCBS of North Dakota"),
    ("Blue Cross & Blue Shield of Rhode Island", "BCBS of Rhode Island"),
    ("BlueCross BlueShield of South Carolina", "BCBS of South Carolina"),
    ("BlueCross BlueShield of Tennessee", "BlueCross BlueShield of Tennessee"),
    ("Blue Cross and Blue Shield of Vermont", "BCBS of Vermont"),
    ("Blue Cross Blue Shield of Arizona", "BCBS of Arizona (AZ Blue)"),
    ("Hawaii Medical Service Association", "HMSA (Hawaii)"),
    ("HMSA", "HMSA (Hawaii)"),
    ("Blue Cross of Idaho Health Service, Inc.", "Blue Cross of Idaho"),
    ("Triple-S Salud, Inc.", "Triple-S (Puerto Rico)"),
    ("Blue Cross Blue Shield of Wyoming", "BCBS of Wyoming"),
]


@pytest.mark.parametrize(("name", "brand"), BCBS_LICENSEES)
def test_every_bcbs_licensee_is_named(name, brand):
    identity = resolve_payer(name)
    assert identity.payer_family == "BCBS", name
    assert identity.payer_brand == brand, name
    assert identity.product_line == "commercial"  # a licensee name alone: its commercial book
    assert identity.rule_id != "bcbs-generic", name


def test_licensee_list_covers_every_licensee_rule():
    """Every licensee-specific BCBS rule of the table is exercised by a name in BCBS_LICENSEES (or is a program)."""
    rules = payers.load_alias_rules()
    bcbs = rules[(rules["payer_family"] == "BCBS") & rules["payer_brand"].notna()]
    hit = {resolve_payer(name).rule_id for name, _ in BCBS_LICENSEES}
    programs = {
        "bcbs-fep",
        "bcbs-bluecard",
        "bcbs-healthy-blue",
        "bcbs-hcsc-community",
        "bcbs-highmark-wholecare",
        "bcbs-highmark-health-options",
        "bcbs-horizon-nj-health",
        "bcbs-blue-shield-ca-promise",
        "bcbs-bluecare-tennessee",
        "bcbs-hcsc",
        "bcbs-florida-hmo",
        "bcbs-horizon-exact",
        "bcbs-independence-exact",
        "bcbs-anthem-states",
        "bcbs-regence-states",
    }
    assert set(bcbs["rule_id"]) - hit - programs == set()


@pytest.mark.parametrize(
    ("name", "brand"),
    [
        ("Blue Cross Blue Shield of Kansas City", "Blue KC (BCBS of Kansas City)"),  # not BCBS of Kansas
        ("Blue Cross of California", ELEVANCE),  # Anthem's legal name; not Blue Shield of California
        ("Blue Shield of California", "Blue Shield of California"),
        ("Regence BlueShield of Idaho", "Regence (Cambia)"),  # not Blue Cross of Idaho
        ("HORIZON", "Horizon BCBSNJ"),
        ("IBC", "Independence Blue Cross"),
    ],
)
def test_neighbouring_licensees_are_told_apart(name, brand):
    assert resolve_payer(name).payer_brand == brand


def test_generic_blue_strings_stay_bcbs_without_a_licensee():
    for text in ("BLUE CROSS", "BCBS PPO", "Blue Cross Blue Shield of New York", "BCBS MA"):
        identity = resolve_payer(text)
        assert identity.payer_family == "BCBS" and identity.payer_brand is None, text


# --------------------------------------------------------------------------------------------------- rule table
def test_every_rule_resolves_its_own_example():
    """Each rule's example resolves to that rule: catches a rule shadowed by an earlier, broader one."""
    for rule in payers.load_alias_rules().itertuples():
        assert resolve_payer(rule.example).rule_id == rule.rule_id, (rule.rule_id, rule.example)


def test_every_product_rule_matches_its_own_example_first():
    rules = payers.load_product_rules()
    for rule in rules.itertuples():
        text = normalize(rule.example)
        first = next(r.rule_id for r in rules.itertuples() if re.search(r.pattern, text))
        assert first == rule.rule_id, (rule.rule_id, rule.example)


def test_rule_table_has_notes_sources_and_a_version():
    rules = payers.load_alias_rules()
    assert len(rules) >= 100 and set(rules["match"]) == {"exact", "token", "pattern"}
    assert rules["note"].str.len().min() > 10 and rules["source"].notna().all()
    assert payers.table_version() >= "2026.11.26"


def _write_rules(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["rule_id", "match", "value", "payer_family", "payer_brand", "product_line", "note", "source", "example"]
        )
        writer.writerows(rows)
    return path


def test_bad_rule_files_are_rejected_with_file_line_and_column(tmp_path):
    good = ["acme", "token", "acme", "Other", "Acme Health", "", "a note", "a source", "Acme"]
    bad_family = ["zeta", "token", "zeta", "Zeta Health", "Zeta", "", "a note", "a source", "Zeta"]
    with pytest.raises(PayerRuleError, match=r"rules.csv, line 3: column 'payer_family'"):
        payers.load_alias_rules(_write_rules(tmp_path / "rules.csv", [good, bad_family]))
    bad_regex = ["broken", "pattern", "(unclosed", "Other", "Broken", "", "a note", "a source", "x"]
    unnormalized = ["shout", "exact", "ACME INC.", "Other", "Acme", "", "a note", "a source", "x"]
    with pytest.raises(PayerRuleError) as error:
        payers.load_alias_rules(_write_rules(tmp_path / "rules2.csv", [good, bad_regex, unnormalized]))
    message = str(error.value)
    assert "line 3, rule 'broken': column 'value': invalid regular expression" in message
    assert "line 4, rule 'shout': column 'value'" in message and "'acme inc'" in message
    duplicate = list(good)
    with pytest.raises(PayerRuleError, match="rule_id"):
        payers.load_alias_rules(_write_rules(tmp_path / "rules3.csv", [good, duplicate]))


# --------------------------------------------------------------------------------------------------- product lines
def test_commercial_benchmark_excludes_other_product_lines(make_rates):
    strings = [
        ("Aetna Life Insurance Company", "Aetna Choice POS II"),
        ("AETNA MEDICARE", None),
        ("Aetna Better Health", None),
        ("Anthem Blue Cross", "Silver 3000 Exchange"),
        ("UMR", None),
        ("Cigna", "Open Access Plus"),
    ]
    rows = []
    for index, (payer, plan) in enumerate(strings):
        identity = resolve_payer(payer, plan)
        rows.append(
            {
                "payer_raw": payer,
                "plan_raw": plan,
                "payer_family": identity.payer_family,
                "payer_brand": identity.payer_brand,
                "product_line": identity.product_line,
                "provider_tin": f"11-000000{index}",
            }
        )
    table = make_rates(*rows)
    assert table["product_line"].tolist() == [
        "commercial",
        "medicare_advantage",
        "medicaid",
        "exchange",
        "tpa",
        "commercial",
    ]
    bench = stats.benchmark_rows(table)  # default: commercial only
    assert bench["payer_raw"].tolist() == ["Aetna Life Insurance Company", "Cigna"]


def test_sample_data_keeps_medicare_advantage_out_of_the_commercial_benchmark():
    from benchmark.analysis.rates import load_rates

    rates = load_rates("sample", codes=["44320"]).rates
    ma = rates[rates["plan_raw"].fillna("").str.contains("Medicare Advantage")]
    assert len(ma) and (ma["product_line"] == "medicare_advantage").all()
    assert set(ma["payer_family"]) == {"UnitedHealthcare"}
    bench = stats.benchmark_rows(rates.assign(pct_of_medicare=None))
    assert not bench["plan_raw"].fillna("").str.contains("Medicare Advantage").any()
    assert set(bench["product_line"]) == {"commercial"}


# --------------------------------------------------------------------------------------------------- review list
def test_review_list_counts_unmatched_strings(make_rates):
    table = make_rates(
        *({"payer_raw": "Acme Health Plan", "plan_raw": "Gold PPO", "source_file": f"f{i % 2}.json"} for i in range(5)),
        {"payer_raw": "Zeta Mutual", "plan_raw": None, "source_file": "f0.json"},
        {"payer_raw": "Aetna Life Insurance Company", "plan_raw": "Open Access Managed Choice"},  # resolved
        {"payer_raw": "Aetna", "plan_raw": "Special Arrangement 7"},  # family known, product unknown
    )
    review = payers.review_list(table)
    assert review[["payer_raw", "rows", "files", "issue"]].values.tolist() == [
        ["Acme Health Plan", 5, 2, "no payer rule"],
        ["Aetna", 1, 1, "no product-line signal"],
        ["Zeta Mutual", 1, 1, "no payer rule; no product-line signal"],
    ]
    assert review.loc[0, "product_line"] == "commercial" and review.loc[0, "payer_family"] == "Other"
    assert payers.review_list(table.iloc[0:0]).empty


def test_review_command_lists_the_cms_example_payers(shared_reference, tmp_path, capsys):
    out = tmp_path / "review.csv"
    assert cli.main(["payers", "review", str(shared_reference / "hpt" / "v3.0.0"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "payer rules version" in printed and "Platform Health Insurance" in printed
    written = pd.read_csv(out)
    from benchmark.analysis.rates import load_rates

    rates = load_rates([shared_reference / "hpt" / "v3.0.0"]).rates
    pairs = rates.assign(plan_raw=rates["plan_raw"].fillna("")).groupby(["payer_raw", "plan_raw"]).size()
    for row in written.fillna({"plan_raw": ""}).itertuples():
        assert row.rows == pairs[(row.payer_raw, row.plan_raw)]
    assert set(written["payer_raw"]) == {"Platform Health Insurance", "Region Health Insurance"}
    assert int(written["rows"].sum()) == len(rates)  # every row of these files is unmatched: all accounted for


def test_review_command_on_the_sample_finds_nothing(capsys):
    assert cli.main(["payers", "review", "sample", "--codes", "44320"]) == 0
    assert "0 payer / plan strings need a rule" in capsys.readouterr().out
