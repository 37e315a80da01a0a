"""Benchmark statistics: rate distributions per payer x setting (x geography) and percent of Medicare.

Percentiles use linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7), the convention
of pandas and most spreadsheet PERCENTILE functions. A group with fewer than ``config.SMALL_SAMPLE_N`` rates is
flagged ``small_sample``: its percentiles are shown but should not be read as a market distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark import config
from benchmark.schema import DistributionSchema, check_built

DEFAULT_GROUPS: tuple[str, ...] = ("payer_family", "pos_setting")
STAT_COLUMNS: list[str] = list(DistributionSchema.to_schema().columns)


# A price counts once per payer, product line, provider (TIN, else NPIs, else name), code, modifiers, setting,
# billing class, rate type, amount and locality: the same contract repeated per plan or per NPI is one price.
DEDUP_KEY: list[str] = [
    "payer_family",
    "payer_raw",
    "product_line",
    "provider_key",
    "billing_code",
    "modifiers",
    "pos_setting",
    "billing_class",
    "rate_type",
    "amount",
    "amount_unit",
    "medicare_locality",
]


# The rows that enter a benchmark distribution, as data: (column, required value), NOT_NULL meaning "has a value".
# Both engines use it: :func:`benchmark_rows` in pandas and :mod:`benchmark.analysis.benchmark_sql` in DuckDB.
NOT_NULL = object()
BENCHMARK_FILTER: tuple[tuple[str, object], ...] = (
    ("amount_usd", NOT_NULL),  # a per-service dollar amount
    ("modifiers", ""),  # the base service: modifier rates go to the modifier table
    ("billing_class", "professional"),  # comparable with the physician fee schedule
)
# Rows without a provider identity are never merged: their key falls back to the row's own place in its file.
PROVIDER_KEY_COLUMNS: tuple[str, ...] = ("provider_tin", "provider_npis", "provider_name")


def deduplicate(rates: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each ``DEDUP_KEY`` group; a row with no provider identity is never merged."""
    if rates.empty:
        return rates
    provider = rates[PROVIDER_KEY_COLUMNS[0]]
    for column in PROVIDER_KEY_COLUMNS[1:]:
        provider = provider.fillna(rates[column])
    provider = provider.fillna("row:" + rates["source_file"] + ":" + rates["source_locator"])
    keyed = rates.assign(provider_key=provider)
    return rates[~keyed.duplicated(subset=DEDUP_KEY, keep="first")]


def benchmark_rows(
    compared: pd.DataFrame, product_lines: Sequence[str] | None = ("commercial",), unique: bool = True
) -> pd.DataFrame:
    """The rates that enter the benchmark distributions, each distinct price once (see ``DEDUP_KEY``).

    Per-service dollar rates without modifiers, billed as professional services, in the requested product lines
    (commercial by default: Medicare Advantage and Medicaid plans are benchmarked separately). Facility fees and
    rates of unknown billing class are summarized apart (they are not the same service price).
    """
    keep = pd.Series(True, index=compared.index)
    for column, value in BENCHMARK_FILTER:
        keep &= compared[column].notna() if value is NOT_NULL else compared[column].eq(value)
    if product_lines is not None:
        keep &= compared["product_line"].isin(list(product_lines))
    return deduplicate(compared[keep]) if unique else compared[keep]


def distribution(values: pd.Series | np.ndarray | Sequence[float], pct_of_medicare: pd.Series | None = None) -> dict:
    """n, min, p10, p25, median, p75, p90, max, mean of ``values`` (NaN dropped), and of percent of Medicare."""
    data = pd.Series(values, dtype=float).dropna().to_numpy()
    pct = pd.Series(pct_of_medicare if pct_of_medicare is not None else [], dtype=float).dropna().to_numpy()
    result: dict[str, float | int | bool | None] = {"n": int(data.size)}
    if data.size:
        q = np.percentile(data, [10, 25, 50, 75, 90])
        result.update(
            min=float(data.min()),
            p10=q[0],
            p25=q[1],
            median=q[2],
            p75=q[3],
            p90=q[4],
            max=float(data.max()),
            mean=float(data.mean()),
        )
    else:
        result.update(dict.fromkeys(("min", "p10", "p25", "median", "p75", "p90", "max", "mean")))
    result["n_with_medicare"] = int(pct.size)
    if pct.size:
        pq = np.percentile(pct, [25, 50, 75])
        result.update(p25_pct_of_medicare=pq[0], median_pct_of_medicare=pq[1], p75_pct_of_medicare=pq[2])
    else:
        result.update(p25_pct_of_medicare=None, median_pct_of_medicare=None, p75_pct_of_medicare=None)
    result["small_sample"] = int(data.size) < config.SMALL_SAMPLE_N
    return {k: (round(float(v), 2) if isinstance(v, (float, np.floating)) else v) for k, v in result.items()}


def distribution_table(rows: pd.DataFrame, by: Sequence[str] = DEFAULT_GROUPS) -> pd.DataFrame:
    """One validated row of statistics per group of ``by`` over ``amount_usd`` (and ``pct_of_medicare``)."""
    by = list(by)
    records = []
    if len(rows):
        for key, group in rows.groupby(by, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            pct = group.get("pct_of_medicare", None)
            records.append({**dict(zip(by, key)), **distribution(group["amount_usd"], pct)})
    frame = pd.DataFrame.from_records(records, columns=[*by, *STAT_COLUMNS])
    for column in by:
        frame[column] = frame[column].astype("str")
    return check_built(DistributionSchema, frame)
