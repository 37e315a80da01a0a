"""Which rates to believe, in one call: cross-check, flags and confidence on compared rates, and the benchmark
table with and without flagged rates (what a report or ``summary.json`` needs from :mod:`.crosscheck`,
:mod:`.flags` and :mod:`.confidence`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from benchmark.analysis import confidence, crosscheck, flags
from benchmark.analysis.stats import DEFAULT_GROUPS, benchmark_rows


def assess(
    compared: pd.DataFrame,
    directory: pd.DataFrame | None = None,
    report_date: dt.date | str | None = None,
    keep_implausible: bool = False,
    specialties: flags.SpecialtyTable | None = None,
) -> pd.DataFrame:
    """Every rate of ``compared`` (``rates.compare_to_medicare`` output, all sources and billing classes, so that
    payer and hospital rows can meet) with the cross-check, flag and ``confidence`` columns."""
    checked = crosscheck.crosscheck(compared, directory)
    flagged = flags.flag_rates(checked, directory, report_date, specialties)
    return confidence.with_confidence(flagged, keep_implausible)


def benchmark_table(
    assessed: pd.DataFrame,
    by: Sequence[str] = DEFAULT_GROUPS,
    product_lines: Sequence[str] | None = ("commercial",),
    keep_implausible: bool = False,
    min_confidence: str | None = None,
) -> pd.DataFrame:
    """The benchmark statistics twice (``rates`` = "all" / "excluding flagged", see ``flags``) over the benchmark
    rows of ``assessed``, restricted to ``min_confidence`` and above when given."""
    rows = confidence.at_least(benchmark_rows(assessed, product_lines), min_confidence)
    return flags.flagged_distribution_table(rows, by, keep_implausible)


def assessment_summary(assessed: pd.DataFrame, product_lines: Sequence[str] | None = ("commercial",)) -> dict:
    """The numbers for ``summary.json``: flags (over the benchmark rows and over all rates), cross-check verdicts,
    and the confidence mix by payer."""
    rows = benchmark_rows(assessed, product_lines)
    return {
        "flags_benchmark_rows": flags.flag_summary(rows),
        "flags_all_rates": flags.flag_summary(assessed),
        "crosscheck": crosscheck.crosscheck_summary(assessed),
        "confidence_by_payer": confidence.confidence_mix(rows).to_dict(orient="records"),
    }
