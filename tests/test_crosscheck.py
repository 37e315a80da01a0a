"""Payer vs hospital cross-check and confidence: every verdict and level on hand-built rates (expected by hand)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import rate_row

from benchmark.analysis import confidence, crosscheck, flags
from benchmark.errors import ParameterError

HOSPITAL_FILE = "123456789_test-hospital_standardcharges.csv"  # CMS naming: the EIN 12-3456789 first
DIRECTORY = pd.DataFrame(
    {
        "npi": ["1111111111", "2222222222"],
        "tin": ["12-3456789", "99-9999999"],
        "provider_name": ["Test Hospital", "Some Surgical Group"],
        "state": ["TX", "TX"],
        "medicare_locality": ["", ""],
    }
)


def hospital(code: str, amount: float, unit: str, **extra) -> dict:
    row = dict(
        source_type="hospital",
        payer_raw="Aetna",
        billing_code=code,
        billing_class="institutional",
        care_setting="inpatient",
        amount=amount,
        amount_unit=unit,
        amount_usd=amount if unit == "USD" else None,
        provider_name="Test Hospital",
        source_file=HOSPITAL_FILE,
        source_locator=f"line {code}",
    )
    row.update(extra)
    return row


def tic(code: str, amount: float, unit: str, **extra) -> dict:
    row = dict(
        billing_code=code,
        billing_class="institutional",
        amount=amount,
        amount_unit=unit,
        amount_usd=amount if unit == "USD" else None,
        provider_tin="12-3456789",
        source_file="aetna.json",
        source_locator=f"in_network[{code}]",
    )
    row.update(extra)
    return row


ROWS = {
    "t1": tic("44320", 10300.0, "USD"),  # 300 / 10000 = 3.0% -> agree (the boundary)
    "t2": tic("44310", 5200.0, "USD", provider_tin=None, provider_npis="3333333333|1111111111"),  # 4% -> disagree
    "t3": tic("44312", 2050.0, "USD_per_day", care_setting="unknown"),  # 2.5% of the daily amount -> agree
    "t4": tic("44314", 51.0, "percent"),  # 1 point -> agree
    "t5": tic("44322", 3000.0, "USD"),  # the hospital lists no 44322 contract -> payer only
    "t6": tic("44320", 10000.0, "USD", provider_tin="99-9999999"),  # a physician group: no hospital file
    "t7": tic("44340", 41.5, "percent"),  # 1.5 points -> disagree
    "t8": tic("44345", 800.0, "USD"),  # the hospital states a percentage -> not comparable
    "t9": tic("44320", 10000.0, "USD", product_line="medicare_advantage"),  # other product line -> payer only
    "t10": tic("44310", 5000.0, "USD", care_setting="outpatient"),  # other setting -> payer only
    "h1": hospital("44320", 10000.0, "USD_per_case"),
    "h2": hospital("44310", 5000.0, "USD"),
    "h3": hospital("44312", 2000.0, "USD_per_day"),
    "h4": hospital("44314", 50.0, "percent"),
    "h5": hospital("44316", 7000.0, "USD"),  # no TiC rate for it -> hospital only
    "h6": hospital(
        "44320", 9000.0, "USD", payer_raw="Cigna", payer_family="Cigna", payer_brand="Cigna"
    ),  # no Cigna file
    "h7": hospital("44340", 40.0, "percent"),
    "h8": hospital("44345", 45.0, "percent"),
}
EXPECTED = {
    "t1": (crosscheck.AGREE, 10000.0, 0.03),
    "t2": (crosscheck.DISAGREE, 5000.0, 0.04),
    "t3": (crosscheck.AGREE, 2000.0, 0.025),
    "t4": (crosscheck.AGREE, 50.0, 0.02),
    "t5": (crosscheck.PAYER_ONLY, None, None),
    "t6": (crosscheck.NOT_CHECKED, None, None),
    "t7": (crosscheck.DISAGREE, 40.0, 0.0375),
    "t8": (crosscheck.NOT_COMPARABLE, 45.0, None),
    "t9": (crosscheck.PAYER_ONLY, None, None),
    "t10": (crosscheck.PAYER_ONLY, None, None),
    "h1": (crosscheck.AGREE, 10300.0, 0.03),
    "h2": (crosscheck.DISAGREE, 5200.0, 0.04),  # its closest TiC rate in the same setting is t2
    "h3": (crosscheck.AGREE, 2050.0, 0.025),
    "h4": (crosscheck.AGREE, 51.0, 0.02),
    "h5": (crosscheck.HOSPITAL_ONLY, None, None),
    "h6": (crosscheck.NOT_CHECKED, None, None),
    "h7": (crosscheck.DISAGREE, 41.5, 0.0375),
    "h8": (crosscheck.NOT_COMPARABLE, 800.0, None),
}


@pytest.fixture(scope="module")
def checked() -> pd.DataFrame:
    rates = pd.DataFrame([rate_row(**row) for row in ROWS.values()], index=list(ROWS))
    return crosscheck.crosscheck(rates, DIRECTORY)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_verdict(checked, name):
    verdict, other, difference = EXPECTED[name]
    row = checked.loc[name]
    assert row["crosscheck"] == verdict
    if other is None:
        assert pd.isna(row["counterpart_amount"])
    else:
        assert row["counterpart_amount"] == pytest.approx(other)
    if difference is None:
        assert pd.isna(row["crosscheck_difference"])
    else:
        assert row["crosscheck_difference"] == pytest.approx(difference)


def test_the_hospital_is_known_from_the_file_name_and_the_directory(checked):
    identities = crosscheck.hospital_identities(checked, DIRECTORY)
    assert identities.to_dict(orient="records") == [
        {"source_file": HOSPITAL_FILE, "hospital_key": "12-3456789", "tin": "12-3456789", "npis": {"1111111111"}}
    ]
    assert checked.loc["t2", "crosscheck_hospital"] == "12-3456789"  # matched by NPI alone
    assert checked.loc["t2", "counterpart_source_file"] == HOSPITAL_FILE
    assert checked.loc["t2", "counterpart_locator"] == "line 44310"
    # without the EIN in the file name, the directory's TIN for the hospital's name identifies it
    renamed = checked.assign(source_file=checked["source_file"].replace(HOSPITAL_FILE, "charges.csv"))
    again = crosscheck.crosscheck(renamed[list(rate_row())], DIRECTORY)
    assert again.loc["t1", "crosscheck"] == crosscheck.AGREE


def test_verdicts_by_payer_and_largest_disagreements(checked):
    table = crosscheck.verdicts_by_payer(checked)
    assert table.to_dict(orient="records") == [
        {
            "payer_family": "Aetna",
            "agree": 6,  # t1 t3 t4 h1 h3 h4
            "disagree": 4,  # t2 t7 h2 h7
            "payer only": 3,  # t5 t9 t10
            "hospital only": 1,  # h5
            "not comparable": 2,  # t8 h8
        }
    ]  # Cigna (h6) was not cross-checked: no row
    largest = crosscheck.largest_disagreements(checked)
    assert largest["payer_amount"].tolist() == [5200.0, 41.5]  # 4% before 3.75%
    assert largest["hospital_amount"].tolist() == [5000.0, 40.0]
    assert largest["counterpart_source_file"].tolist() == [HOSPITAL_FILE, HOSPITAL_FILE]
    assert largest["difference_pct"].tolist()[0] == 4.0  # 200 / 5000
    assert largest["difference_pct"].tolist()[1] == pytest.approx(3.75, abs=0.05)  # 1.5 / 40, one decimal
    summary = crosscheck.crosscheck_summary(checked)
    assert summary["verdicts"][crosscheck.NOT_CHECKED] == 2


def test_confidence_levels(checked):
    rated = flags.flag_rates(checked, None, "2026-12-06")
    rated.loc["t1", flags.EXPIRED] = True  # agree, but flagged: flagged wins
    levels = confidence.confidence(rated)
    assert levels["t1"] == confidence.FLAGGED
    assert levels["h1"] == confidence.CORROBORATED
    assert levels["t2"] == confidence.DISPUTED
    assert levels["t5"] == confidence.SINGLE_SOURCE and levels["h5"] == confidence.SINGLE_SOURCE
    assert levels["t6"] == confidence.SINGLE_SOURCE and levels["t8"] == confidence.SINGLE_SOURCE
    rated = confidence.with_confidence(rated)
    assert sorted(confidence.at_least(rated, "corroborated").index) == ["h1", "h3", "h4", "t3", "t4"]
    assert len(confidence.at_least(rated, "single source")) == 18 - 1 - 4  # not flagged t1, not the 4 disputed
    assert len(confidence.at_least(rated, "flagged")) == 18
    mix = confidence.confidence_mix(rated).set_index("payer_family")
    assert mix.loc["Aetna"].to_dict() == {
        "flagged": 1,
        "disputed": 4,
        "single source": 7,
        "corroborated": 5,
    }  # t5 t6 t8 t9 t10 h5 h8 single
    with pytest.raises(ParameterError):
        confidence.at_least(rated, "certain")


def test_implausible_only_rate_is_judged_on_its_crosscheck_when_kept(checked):
    rated = flags.flag_rates(checked, None, "2026-12-06")
    rated.loc["h1", flags.IMPLAUSIBLE] = True
    assert confidence.confidence(rated)["h1"] == confidence.FLAGGED
    assert confidence.confidence(rated, keep_implausible=True)["h1"] == confidence.CORROBORATED


@pytest.fixture(scope="module")
def assessed_sample() -> pd.DataFrame:
    from benchmark import config
    from benchmark.analysis import assessment
    from benchmark.analysis.rates import compare_to_medicare, load_provider_directory, load_rates

    loaded = load_rates("sample", codes=["44310", "44320", "44340"])
    directory = load_provider_directory(config.SAMPLE_PROVIDER_DIRECTORY)
    return assessment.assess(compare_to_medicare(loaded.rates), directory, "2026-12-06")


def test_the_synthetic_sample_shows_every_verdict_and_flag(assessed_sample):
    """The problems planted by benchmark.synthetic (README "Planted problems") are found where they were put."""
    from benchmark import synthetic

    rates = assessed_sample
    assert set(rates["crosscheck"]) == set(crosscheck.VERDICTS)
    for column in flags.FLAG_COLUMNS:
        assert rates[column].any(), column
    assert set(rates["confidence"]) == set(confidence.LEVELS)
    # UnitedHealthcare's TiC case rate at the Miami hospital is the hospital's amount x 1.08: both sides disagree
    # by 8% of the hospital's amount
    disagree = rates[rates["crosscheck"].eq(crosscheck.DISAGREE) & rates["source_type"].eq("tic")]
    assert set(disagree["payer_family"]) == {"UnitedHealthcare"} and set(disagree["state"]) == {"FL"}
    assert disagree["crosscheck_difference"].round(4).tolist() == [0.08]
    assert (disagree["amount"] / disagree["counterpart_amount"]).round(3).tolist() == [1.08]
    # Cigna's institutional 44310 rates have no hospital counterpart
    payer_only = rates[rates["crosscheck"].eq(crosscheck.PAYER_ONLY)]
    assert set(zip(payer_only["payer_family"], payer_only["billing_code"])) == {("Cigna", "44310")}
    # Aetna's Chicago per diem stated as a 5-day case amount: not comparable with the hospital's per diem
    apart = rates[rates["crosscheck"].eq(crosscheck.NOT_COMPARABLE) & rates["source_type"].eq("tic")]
    assert len(apart) == 1 and apart.iloc[0]["amount"] == pytest.approx(5 * apart.iloc[0]["counterpart_amount"])
    # the zombie group's rates are the implausible ones (its TIN, every code)
    zombie_tins = {r.tin for r in load_directory_rows() if r.taxonomy == synthetic.TAXONOMY_PSYCHIATRY}
    implausible = rates[rates[flags.IMPLAUSIBLE]]
    assert set(implausible["provider_tin"]) == zombie_tins
    # the two planted placeholders
    placeholders = rates[rates[flags.PLACEHOLDER]]
    assert sorted(placeholders["amount"].unique()) == [1.0, 999999.99]


def load_directory_rows():
    from benchmark import config

    return list(pd.read_csv(config.SAMPLE_PROVIDER_DIRECTORY, dtype=str).itertuples())


def test_verdicts_kept_beside_a_store(checked, tmp_path):
    from benchmark.store import verdicts
    from benchmark.store.rate_store import MANIFEST, open_store

    root = tmp_path / "store"
    store = open_store(root, create=True)
    path = crosscheck.keep_in_store(root, checked)
    assert path == root / "crosscheck" / "verdicts.parquet"
    kept, current = verdicts.read_verdicts(store)
    assert current
    assert len(kept) == 16  # 18 rates, 2 not cross-checked (t6, h6)
    t2 = kept[kept["source_locator"].eq("in_network[44310]") & kept["crosscheck"].ne(crosscheck.PAYER_ONLY)]
    assert t2["crosscheck"].tolist() == [crosscheck.DISAGREE] and t2["counterpart_amount"].tolist() == [5000.0]
    assert t2["counterpart_locator"].tolist() == ["line 44310"]
    assert set(kept["rule_version"]) == {crosscheck.RULE_VERSION}
    (root / MANIFEST).write_bytes((root / MANIFEST).read_bytes() + b" ")  # the store changed since
    assert verdicts.read_verdicts(store)[1] is False
