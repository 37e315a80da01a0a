"""payer-benchmark: per-billing-code benchmark reports from public health-insurance price data.

The analyst API, three lines from import to a table and a chart::

    import benchmark as bm
    table = bm.benchmark_table("44320")
    bm.plot_pct_of_medicare("44320")
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from benchmark import config

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "benchmark_table",
    "compared_rates",
    "plot_pct_of_medicare",
    "plot_rate_distribution",
    "medicare_amounts",
    "national_amount",
    "pfs_indicators",
]


# The analyst API imports the analysis and reporting layers on first use, for start-up time only (pandas, pandera,
# matplotlib): the TiC reader's helper processes import light submodules such as ``benchmark.ingest.tic.items``,
# and importing a submodule imports this package first. No import cycle is involved.


def __getattr__(name: str) -> Any:
    """The Medicare functions load on first use (see above)."""
    if name in ("medicare_amounts", "national_amount", "pfs_indicators"):
        from benchmark.reference import medicare

        return getattr(medicare, name)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")


def compared_rates(code: str, year: int = config.DEFAULT_MEDICARE_YEAR, source: str = "sample") -> pd.DataFrame:
    """Every rate for ``code`` in ``source`` with its locality-matched Medicare amount and percent of Medicare.

    The table carries its data label (``attrs["label"]``, shown as a caption in notebooks): the synthetic-data label
    for the sample.
    """
    from benchmark.analysis import rates

    loaded = rates.load_rates(source, codes=[code])
    return _labelled(rates.compare_to_medicare(loaded.rates, year), source)


def _labelled(frame: pd.DataFrame, source: Any) -> pd.DataFrame:
    from benchmark.analysis import labelled, rates

    data = rates.resolve_source(source)
    return labelled.labelled(frame, labelled.data_label(data.is_synthetic, data.label), synthetic=data.is_synthetic)


def benchmark_table(
    code: str,
    year: int = config.DEFAULT_MEDICARE_YEAR,
    source: str = "sample",
    by: Sequence[str] = ("payer_family", "pos_setting"),
    product_lines: Sequence[str] | None = ("commercial",),
) -> pd.DataFrame:
    """n, min, p10, p25, median, p75, p90, max, mean and % of Medicare per group of ``by``.

    ``source`` may be a rate store folder (``paybench ingest --out``): the query then runs in DuckDB over the store.
    The table carries its data label (``attrs["label"]``, shown as a caption in notebooks).
    """
    from benchmark.analysis import benchmark_sql, stats
    from benchmark.store import rate_store

    if rate_store.is_store(source):
        table = benchmark_sql.benchmark_table(rate_store.open_store(source), code, year, by, product_lines)
        return _labelled(table, source)
    rows = stats.benchmark_rows(compared_rates(code, year, source), product_lines)
    return _labelled(stats.distribution_table(rows, by), source)


def plot_pct_of_medicare(code: str, year: int = config.DEFAULT_MEDICARE_YEAR, source: str = "sample"):
    """Bar chart of the median percent of Medicare by payer."""
    from benchmark.reporting import charts

    table = benchmark_table(code, year, source, by=("payer_family",))
    return charts.pct_of_medicare_chart(table, code, year, synthetic=bool(table.attrs.get("synthetic")))


def plot_rate_distribution(
    code: str, year: int = config.DEFAULT_MEDICARE_YEAR, source: str = "sample", setting: str = "facility"
):
    """Box-and-dots chart of the rates by payer in one setting."""
    from benchmark.analysis import stats
    from benchmark.reference.medicare import national_amount
    from benchmark.reporting import charts

    compared = compared_rates(code, year, source)
    rows = stats.benchmark_rows(compared)
    rows = rows[rows["pos_setting"] == setting]
    return charts.rate_distribution_chart(
        rows,
        code,
        national_amount(code, year, setting),
        synthetic=bool(compared.attrs.get("synthetic")),
        setting_label=setting.replace("_", "-"),
    )


# The package logs its decisions (files skipped or rejected, retries, exports not written) to the "benchmark" logger
# tree: silent unless the application configures logging (`paybench -v` does).
logging.getLogger(__name__).addHandler(logging.NullHandler())
