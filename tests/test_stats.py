"""Distribution statistics against values worked out by hand (linear interpolation, Hyndman-Fan type 7)."""

import math

import pandas as pd

from benchmark import config
from benchmark.analysis import stats


def test_five_values_by_hand():
    # sorted 100..500; position h = (n - 1) * q: p10 -> 0.4 -> 100 + 0.4 * 100 = 140; p90 -> 3.6 -> 460
    d = stats.distribution([300, 100, 500, 200, 400], [150, 250, 200])
    assert (d["n"], d["min"], d["p10"], d["p25"], d["median"], d["p75"], d["p90"], d["max"], d["mean"]) == (
        5,
        100,
        140,
        200,
        300,
        400,
        460,
        500,
        300,
    )
    assert (d["p25_pct_of_medicare"], d["median_pct_of_medicare"], d["p75_pct_of_medicare"]) == (175, 200, 225)
    assert d["n_with_medicare"] == 3 and d["small_sample"] is True


def test_ten_values_by_hand_and_small_sample_threshold():
    # 10, 20, ... 100: p10 h=0.9 -> 19; p25 h=2.25 -> 32.5; median 55; p75 h=6.75 -> 77.5; p90 h=8.1 -> 91
    d = stats.distribution([10 * i for i in range(1, 11)])
    assert (d["p10"], d["p25"], d["median"], d["p75"], d["p90"], d["mean"]) == (19, 32.5, 55, 77.5, 91, 55)
    assert config.SMALL_SAMPLE_N == 10 and d["small_sample"] is False
    assert d["median_pct_of_medicare"] is None and d["n_with_medicare"] == 0


def test_empty_and_missing_values():
    d = stats.distribution([float("nan"), None])
    assert d["n"] == 0 and d["median"] is None and d["small_sample"] is True


def test_distribution_table_groups(make_rates):
    rows = make_rates(
        *({"payer_family": "Aetna", "amount_usd": v, "amount": v} for v in (100.0, 200.0, 300.0)),
        *({"payer_family": "Cigna", "amount_usd": v, "amount": v, "pos_setting": "non_facility"} for v in (50.0,)),
    )
    rows = rows.assign(pct_of_medicare=[100.0, 200.0, math.nan, 80.0])
    table = stats.distribution_table(rows, ["payer_family", "pos_setting"])
    assert table[["payer_family", "pos_setting", "n", "median"]].values.tolist() == [
        ["Aetna", "facility", 3, 200.0],
        ["Cigna", "non_facility", 1, 50.0],
    ]
    aetna = table.iloc[0]
    assert aetna["median_pct_of_medicare"] == 150.0 and aetna["n_with_medicare"] == 2


def test_benchmark_rows_keep_only_comparable_base_rates(make_rates):
    rows = make_rates(
        {},  # kept
        {"modifiers": "80"},
        {"billing_class": "institutional"},
        {"billing_class": "unknown"},
        {"rate_type": "per_diem", "amount_unit": "USD_per_day", "amount_usd": None},
        {"product_line": "medicare_advantage"},
    )
    assert len(stats.benchmark_rows(rows)) == 1
    assert len(stats.benchmark_rows(rows, ["commercial", "medicare_advantage"])) == 2
    assert len(stats.benchmark_rows(rows, None)) == 2


def test_empty_table_is_valid():
    table = stats.distribution_table(pd.DataFrame(columns=["payer_family", "pos_setting", "amount_usd"]))
    assert table.empty and "median" in table.columns


def test_same_price_repeated_per_plan_or_npi_counts_once(make_rates):
    rows = make_rates(
        {"provider_tin": "11-1111111", "plan_raw": "PPO"},
        {"provider_tin": "11-1111111", "plan_raw": "HMO"},  # same contract, other plan: duplicate
        {"provider_tin": "22-2222222"},  # another provider: kept
        {"provider_tin": "11-1111111", "amount": 1200.0, "amount_usd": 1200.0},  # another price: kept
        {"provider_npis": "1234567893"},
        {"provider_npis": "1234567893", "source_locator": "in_network[1]"},  # same NPI group: duplicate
        {},  # no provider identity at all: never merged
        {"source_locator": "in_network[9]"},
    )
    kept = stats.benchmark_rows(rows)
    assert len(kept) == 6
    assert kept.index.tolist() == [0, 2, 3, 4, 6, 7]
