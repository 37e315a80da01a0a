"""Rate flags (benchmark.analysis.flags): every flag on hand-built rates, expected values worked out by hand."""

from __future__ import annotations

import hashlib
import math

import pandas as pd
import pytest
from conftest import rate_row

from benchmark import config
from benchmark.analysis import flags

REPORT_DATE = "2026-12-06"

# NPI -> NUCC taxonomy (hand-picked from the CMS crosswalk: 2084P0800X psychiatry -> 26/86, 208600000X surgery -> 02,
# 193400000X single-specialty group -> 70 (not decisive), 363L00000X nurse practitioner -> 50, 282N00000X hospital -> A0)
DIRECTORY = pd.DataFrame(
    {
        "npi": ["1000000001", "1000000002", "1000000003", "1000000004", "1000000005", "1000000006"],
        "tin": ["11-1111111", "22-2222222", "33-3333333", "44-4444444", "55-5555555", "22-2222222"],
        "provider_name": ["Psych", "Surgeon", "Group", "NP", "Hospital", "Surgeon Two"],
        "state": ["TX"] * 6,
        "medicare_locality": [""] * 6,
        "taxonomy": ["2084P0800X", "208600000X", "193400000X", "363L00000X", "282N00000X", "2084P0800X|208C00000X"],
    }
)


def _table(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([rate_row(**r) for r in rows])


def test_shipped_reference_files_match_their_provenance():
    provenance = (config.TAXONOMY_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    for name, digest, size in [
        (
            "Y2025_1_medicare_provider_and_supplier_taxonomy_crosswalk_october_2025.csv",
            "d1c88c35f731b6aa8057b56f3b2c19504ee5181caeae62e4038fcabe232f5954",
            "66,179",
        ),
        ("Y2025_1_taxonomy_notes.csv", "d8f9901fc26f45826cbd433dff347d8d7a027f919158103185c292d9b20243d7", "2,369"),
    ]:
        data = (config.TAXONOMY_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert f"{len(data):,}" == size
        assert digest in provenance and size in provenance


def test_crosswalk_strips_footnotes_and_keeps_every_specialty_of_a_taxonomy():
    crosswalk = flags.load_taxonomy_crosswalk()
    by_taxonomy = crosswalk.groupby("taxonomy_code")["specialty_code"].agg(set)
    assert by_taxonomy["208C00000X"] == {"02", "28"}  # crosswalk rows 02 and 28 both list colon & rectal surgery
    assert by_taxonomy["282N00000X"] == {"A0"}  # "A0[7]" in the file
    assert by_taxonomy["207Q00000X"] == {"08"}  # "207Q00000X " with a trailing space in the file
    assert by_taxonomy["2084P0800X"] == {"26", "86"}


def test_specialty_table_covers_the_catalog_and_states_its_basis():
    table = flags.load_specialty_table()
    catalog = ["44310", "44312", "44314", "44316", "44320", "44322", "44340"]
    catalog += ["44345", "44346", "44141", "44143", "44188", "44620", "44626"]
    assert sorted(table.codes) == sorted(catalog)
    assert table.basis == "project judgement, clinical scope of the specialty"
    assert table.version == "1.0" and table.date == "2026-12-06"
    assert table.professional["44320"] == {"02", "28", "91", "98"}
    assert table.institutional["44312"] == {"A0", "49"}


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        (dict(provider_npis="1000000001"), flags.CHECK_IMPLAUSIBLE),  # psychiatrist with a colostomy rate
        (dict(provider_npis="1000000001|1000000002"), flags.CHECK_PLAUSIBLE),  # group with one surgeon
        (dict(provider_npis="1000000006"), flags.CHECK_PLAUSIBLE),  # two taxonomies, one colorectal surgery
        (dict(provider_npis="1000000003"), flags.CHECK_UNKNOWN),  # group practice code says nothing
        (dict(provider_npis="9999999999"), flags.CHECK_UNKNOWN),  # not in the directory
        (dict(provider_npis="1000000004"), flags.CHECK_IMPLAUSIBLE),  # nurse practitioner as the surgeon
        (dict(provider_npis="1000000004", modifiers="80"), flags.CHECK_PLAUSIBLE),  # ... as assistant
        (dict(provider_tin="11-1111111"), flags.CHECK_IMPLAUSIBLE),  # no NPIs: the TIN's directory NPIs
        (dict(provider_tin="22-2222222"), flags.CHECK_PLAUSIBLE),
        (dict(provider_npis="1000000005", billing_class="institutional"), flags.CHECK_PLAUSIBLE),
        # a hospital NPI on a professional rate: its employed physicians, specialty unknown
        (dict(provider_npis="1000000005", billing_class="professional"), flags.CHECK_UNKNOWN),
        (dict(provider_npis="1000000005|1000000001", billing_class="professional"), flags.CHECK_IMPLAUSIBLE),
        (dict(provider_npis="1000000002", billing_class="institutional"), flags.CHECK_IMPLAUSIBLE),
        (dict(provider_npis="1000000002", billing_class="both"), flags.CHECK_PLAUSIBLE),
        (dict(provider_npis="1000000001", billing_code="0360"), flags.CHECK_NO_ENTRY),  # no table entry
    ],
)
def test_implausible_provider(overrides, check):
    flagged = flags.flag_rates(_table(overrides), DIRECTORY, REPORT_DATE)
    assert flagged["plausibility_check"].tolist() == [check]
    assert flagged[flags.IMPLAUSIBLE].tolist() == [check == flags.CHECK_IMPLAUSIBLE]


def test_without_a_taxonomy_directory_nothing_is_flagged_and_the_output_says_so():
    rates = _table(dict(provider_npis="1000000001"), dict(provider_npis="1000000001", billing_code="0360"))
    for directory in (None, DIRECTORY.drop(columns="taxonomy")):
        flagged = flags.flag_rates(rates, directory, REPORT_DATE)
        assert flagged[flags.IMPLAUSIBLE].tolist() == [False, False]
        assert flagged["plausibility_check"].tolist() == [flags.CHECK_NO_DIRECTORY, flags.CHECK_NO_ENTRY]


def test_medicare_bounds():
    rates = _table(*[{} for _ in range(5)]).assign(pct_of_medicare=[9.9, 10.0, 2000.0, 2000.1, float("nan")])
    flagged = flags.flag_rates(rates, None, REPORT_DATE)
    assert flagged[flags.BELOW_MEDICARE].tolist() == [True, False, False, False, False]
    assert flagged[flags.ABOVE_MEDICARE].tolist() == [False, False, False, True, False]


def test_outlier_log_iqr_by_hand():
    # log2 amounts 1..7 and 30: linear quartiles at positions 1.75 and 5.25 -> Q1 = 2.75, Q3 = 6.25, IQR = 3.5,
    # fences 2.75 - 10.5 = -7.75 and 6.25 + 10.5 = 16.75 (in log2 units; the natural log scales both sides alike).
    amounts = [2.0**k for k in (1, 2, 3, 4, 5, 6, 7, 30)]
    flagged = flags.flag_rates(_table(*[dict(amount=a, amount_usd=a) for a in amounts]), None, REPORT_DATE)
    assert flagged[flags.OUTLIER].tolist() == [False] * 7 + [True]
    inside = [2.0**k for k in (1, 2, 3, 4, 5, 6, 7, 16)]  # 16 < 16.75
    flagged = flags.flag_rates(_table(*[dict(amount=a, amount_usd=a) for a in inside]), None, REPORT_DATE)
    assert not flagged[flags.OUTLIER].any()
    too_few = amounts[1:]  # 7 rates: not tested
    assert not flags.flag_rates(_table(*[dict(amount=a) for a in too_few]), None, REPORT_DATE)[flags.OUTLIER].any()


def test_outlier_groups_do_not_mix_modifiers_or_billing_classes():
    amounts = [2.0**k for k in (1, 2, 3, 4, 5, 6, 7)]
    rows = [dict(amount=a) for a in amounts] + [dict(amount=2.0**30, modifiers="80")]
    rows += [dict(amount=2.0**30, billing_class="institutional")]
    assert not flags.flag_rates(_table(*rows), None, REPORT_DATE)[flags.OUTLIER].any()


def test_expired_against_the_report_date():
    dates = ["2026-12-05", "2026-12-06", "9999-12-31", "12/31/2025", None]
    flagged = flags.flag_rates(_table(*[dict(expiration_date=d) for d in dates]), None, REPORT_DATE)
    assert flagged[flags.EXPIRED].tolist() == [True, False, False, False, False]
    with pytest.raises(ValueError):
        flags.flag_rates(_table({}), None, "12/06/2026")


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (0.01, "USD", True),
        (1.0, "USD", True),
        (1.01, "USD", False),
        (99999.0, "USD", True),
        (9999.99, "USD", False),  # four 9s only
        (999999.99, "USD", True),
        (999999999.0, "USD", True),
        (99999.5, "USD", False),  # 50 cents
        (1.0, "percent", False),  # 1% is a (low) percentage, not a dollar placeholder
    ],
)
def test_placeholder_values(amount, unit, expected):
    flagged = flags.flag_rates(_table(dict(amount=amount, amount_unit=unit)), None, REPORT_DATE)
    assert flagged[flags.PLACEHOLDER].tolist() == [expected]


def test_placeholder_amount_repeated_for_many_codes():
    codes = ["44310", "44312", "44314", "44316", "44320"]
    same = [dict(billing_code=c, amount=1234.56, provider_tin="22-2222222") for c in codes]
    assert flags.flag_rates(_table(*same), None, REPORT_DATE)[flags.PLACEHOLDER].tolist() == [True] * 5
    assert not flags.flag_rates(_table(*same[:4]), None, REPORT_DATE)[flags.PLACEHOLDER].any()  # 4 codes
    other_provider = same[:4] + [dict(same[4], provider_tin="33-3333333")]
    assert not flags.flag_rates(_table(*other_provider), None, REPORT_DATE)[flags.PLACEHOLDER].any()
    percent = [dict(r, amount=45.0, amount_unit="percent") for r in same]  # a shared percentage is a real term
    assert not flags.flag_rates(_table(*percent), None, REPORT_DATE)[flags.PLACEHOLDER].any()


def test_reasons_columns_and_counts():
    rows = [
        dict(expiration_date="2020-01-01", amount=0.01, amount_usd=0.01),  # expired and placeholder
        dict(expiration_date="2020-01-01"),
        dict(provider_npis="1000000001"),  # implausible
        {},
    ]
    flagged = flags.flag_rates(_table(*rows), DIRECTORY, REPORT_DATE)
    assert flagged["flag_reasons"].tolist() == ["expired|placeholder", "expired", "implausible_provider", ""]
    assert flagged["flagged"].tolist() == [True, True, True, False]
    counts = flags.flag_counts(flagged).iloc[0].to_dict()
    assert counts == {
        "n": 4,
        "n_flagged": 3,
        "implausible_provider": 1,
        "below_10pct_medicare": 0,
        "above_2000pct_medicare": 0,
        "outlier_log_iqr": 0,
        "expired": 2,
        "placeholder": 1,
    }
    summary = flags.flag_summary(flagged)
    assert summary["n_flagged_by_reason"]["expired"] == 2 and summary["codes_without_specialty_entry"] == []


def test_statistics_with_and_without_flagged_rates():
    rows = [dict(amount_usd=a, amount=a) for a in (100.0, 200.0, 300.0)]
    rows += [dict(amount_usd=400.0, amount=400.0, expiration_date="2020-01-01")]
    rows += [dict(amount_usd=500.0, amount=500.0, provider_npis="1000000001")]  # implausible only
    flagged = flags.flag_rates(_table(*rows), DIRECTORY, REPORT_DATE)
    table = flags.flagged_distribution_table(flagged).set_index("rates")
    assert table.loc["all", "n"] == 5 and table.loc["all", "median"] == 300.0
    assert table.loc["excluding flagged", "n"] == 3 and table.loc["excluding flagged", "median"] == 200.0
    kept = flags.flagged_distribution_table(flagged, keep_implausible=True).set_index("rates")
    # 100, 200, 300, 500: median (200 + 300) / 2
    assert kept.loc["excluding flagged", "n"] == 4 and kept.loc["excluding flagged", "median"] == 250.0
    assert math.isclose(kept.loc["all", "mean"], 300.0)
