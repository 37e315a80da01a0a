"""The benchmark query over a rate store, in DuckDB: the same rows and numbers as the in-memory path.

:func:`benchmark_rows` pushes the benchmark filter (:data:`benchmark.analysis.stats.BENCHMARK_FILTER`, the one
definition both engines use), the single-locality-state fill of ``attach_geography``, the ``DEDUP_KEY``
deduplication keeping the first row in ingest order, and the Medicare join down to DuckDB, reading only the
partitions of the code's prefix. :func:`benchmark_table` computes the statistics on the result with
:func:`benchmark.analysis.stats.distribution_table`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from benchmark import config
from benchmark.analysis.rates import clfs_rates, only_payable_setting, single_locality_states
from benchmark.analysis.stats import BENCHMARK_FILTER, DEDUP_KEY, NOT_NULL, PROVIDER_KEY_COLUMNS, distribution_table
from benchmark.reference import medicare
from benchmark.schema import RATE_COLUMNS, empty_rates
from benchmark.store.rate_store import PART_COLUMN, ROW_COLUMN, Store, rates_relation


def _filter_sql(alias: str) -> str:
    """:data:`BENCHMARK_FILTER` as a SQL condition on table ``alias`` (values are fixed strings of this module)."""
    terms = []
    for column, value in BENCHMARK_FILTER:
        if value is NOT_NULL:
            terms.append(f"{alias}.{column} IS NOT NULL")
        else:
            assert isinstance(value, str) and "'" not in value
            terms.append(f"{alias}.{column} = '{value}'")
    return " AND ".join(terms)


def benchmark_rows(
    store: Store,
    code: str,
    year: int = config.DEFAULT_MEDICARE_YEAR,
    product_lines: Sequence[str] | None = ("commercial",),
) -> pd.DataFrame:
    """The rows of one code's benchmark distributions, as ``stats.benchmark_rows(compare_to_medicare(...))``.

    Computed in DuckDB: partition pruning by code prefix, the benchmark filter (per-service dollars, no
    modifiers, professional, product lines), the single-locality-state fill of ``attach_geography``, the
    ``DEDUP_KEY`` deduplication keeping the first row in ingest order, and the Medicare amount of the
    row's locality and setting. The result has the rate columns plus ``medicare_setting``,
    ``medicare_locality_used``, ``medicare_amount`` and ``pct_of_medicare`` (the last computed here with the
    same expression as ``rates.compare_to_medicare``).
    """
    code = str(code)
    amounts = medicare.medicare_amounts([code], year, localities="all")
    only_payable = only_payable_setting(amounts)
    single = single_locality_states()
    lookup = amounts[["hcpcs", "locality_id", "setting", "amount"]]
    product_filter = "TRUE" if product_lines is None else "r.product_line IN (SELECT unnest($product_lines))"
    partition_by = ", ".join(DEDUP_KEY)  # provider_key is computed in the query, as in stats
    with store.snapshot() as snap:
        files = store.rate_files([code], committed=snap.parts)
        if not files:
            return _empty_benchmark_rows()
        con = snap.con
        con.register(
            "single_locality",
            pd.DataFrame({"state": single.index.astype(str), "locality": single.to_numpy(dtype=object)}),
        )
        con.register(
            "only_payable",
            pd.DataFrame({"hcpcs": only_payable.index.astype(str), "setting": only_payable.to_numpy(dtype=object)}),
        )
        con.register("medicare", lookup)
        params: dict[str, object] = {"code": code}
        if product_lines is not None:
            params["product_lines"] = list(product_lines)
        query = _query(rates_relation(files), product_filter, partition_by)
        frame = con.execute(query, params).df()
    frame = frame.drop(columns=["_seq", ROW_COLUMN])
    frame = frame.reindex(columns=[*RATE_COLUMNS, "medicare_setting", "medicare_locality_used", "medicare_amount"])
    lab_rate = clfs_rates([code], year).get(code)
    if lab_rate is not None:  # a lab code without a PFS amount: the national CLFS rate (as compare_to_medicare)
        lab = frame["medicare_amount"].isna()
        setting = frame["pos_setting"].where(frame["pos_setting"].isin(["facility", "non_facility"]))
        frame.loc[lab, "medicare_amount"] = lab_rate
        frame.loc[lab, "medicare_setting"] = setting[lab]
        frame.loc[lab, "medicare_locality_used"] = medicare.NATIONAL
    frame["pct_of_medicare"] = (frame["amount_usd"] / frame["medicare_amount"] * 100).round(1)
    return frame


def _query(relation: str, product_filter: str, partition_by: str) -> str:
    """The query of :func:`benchmark_rows` over the rate relation ``relation`` (see
    :func:`benchmark.store.rate_store.rates_relation`)."""
    return f"""
        WITH picked AS (
            SELECT r.* EXCLUDE ({PART_COLUMN}), c.seq AS _seq
            FROM ({relation}) r JOIN committed c ON r.{PART_COLUMN} = c.part_id
            WHERE r.billing_code = $code AND {_filter_sql("r")} AND {product_filter}
        ), placed AS (
            SELECT p.* REPLACE (coalesce(p.medicare_locality, s.locality) AS medicare_locality)
            FROM picked p LEFT JOIN single_locality s ON p.state = s.state
        ), keyed AS (
            SELECT *, coalesce({", ".join(PROVIDER_KEY_COLUMNS)},
                               'row:' || source_file || ':' || source_locator) AS provider_key
            FROM placed
        ), unique_rows AS (
            SELECT * FROM keyed
            QUALIFY row_number() OVER (PARTITION BY {partition_by} ORDER BY _seq, {ROW_COLUMN}) = 1
        ), matched AS (
            SELECT u.*,
                   coalesce(CASE WHEN u.pos_setting IN ('facility', 'non_facility') THEN u.pos_setting END,
                            o.setting) AS _setting,
                   coalesce(u.medicare_locality, '{medicare.NATIONAL}') AS _locality
            FROM unique_rows u LEFT JOIN only_payable o ON o.hcpcs = u.billing_code
        )
        SELECT m.* EXCLUDE (provider_key, _setting, _locality),
               CASE WHEN a.amount IS NOT NULL THEN m._setting END AS medicare_setting,
               CASE WHEN a.amount IS NOT NULL THEN m._locality END AS medicare_locality_used,
               a.amount AS medicare_amount
        FROM matched m LEFT JOIN medicare a
          ON a.hcpcs = m.billing_code AND a.locality_id = m._locality AND a.setting = m._setting
        ORDER BY m._seq, m.{ROW_COLUMN}
    """


def benchmark_table(
    store: Store,
    code: str,
    year: int = config.DEFAULT_MEDICARE_YEAR,
    by: Sequence[str] = ("payer_family", "pos_setting"),
    product_lines: Sequence[str] | None = ("commercial",),
) -> pd.DataFrame:
    """n, min, p10, p25, median, p75, p90, max, mean and % of Medicare per group of ``by`` (DistributionSchema)."""
    return distribution_table(benchmark_rows(store, code, year, product_lines), by)


def _empty_benchmark_rows() -> pd.DataFrame:
    columns = [*RATE_COLUMNS, "medicare_setting", "medicare_locality_used", "medicare_amount", "pct_of_medicare"]
    frame = empty_rates().reindex(columns=columns)
    for column in ("medicare_amount", "pct_of_medicare"):
        frame[column] = frame[column].astype(float)
    return frame
