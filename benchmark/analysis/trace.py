"""Every figure traceable: the rows behind a benchmark statistic, and the command that reproduces it.

:func:`trace` lists, for one code and payer family (optionally one Medicare setting and one geography), every loaded
rate with where it came from (file, sha256, JSON path or line), the value as published and what was done to it:
normalized (the text the amount was read from, how dollars were derived), deduplicated (which row it repeats),
flagged (why), cross-checked (against which hospital / payer figure) and compared with which Medicare amount; and
its ``role``: in the statistic, in the statistic with flagged rates only, below the report's minimum confidence, a
duplicate of a counted row, or not in the benchmark (and why). Given a report's ``report_date``,
``keep_implausible`` and ``min_confidence``, the rows of role :data:`IN_STATISTIC` are exactly the rates behind that
report's statistic.

:func:`statistic_queries` gives, for each row of a benchmark table, the ``paybench trace`` command that lists its
rows (for ``summary.json``).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.analysis import assessment, confidence, flags
from benchmark.analysis.rates import compare_to_medicare, load_provider_directory, load_rates, resolve_source
from benchmark.analysis.stats import BENCHMARK_FILTER, DEDUP_KEY, NOT_NULL, PROVIDER_KEY_COLUMNS

IN_STATISTIC = "in statistic"
IN_ALL_ONLY = "in statistic with flagged rates only"
BELOW_CONFIDENCE = "in statistic with all rates only: confidence below the minimum"
DUPLICATE = "duplicate"
NOT_IN_BENCHMARK = "not in benchmark"

TRACE_COLUMNS: list[str] = [
    "role",
    "source_file",
    "source_sha256",
    "source_locator",
    "published",
    "amount",
    "amount_unit",
    "amount_usd",
    "normalized",
    "duplicate_of",
    "flag_reasons",
    "confidence",
    "crosscheck",
    "counterpart",
    "medicare_amount",
    "medicare_comparison",
    "pct_of_medicare",
    "payer_raw",
    "plan_raw",
    "product_line",
    "billing_code",
    "modifiers",
    "pos_setting",
    "billing_class",
    "rate_type",
    "provider_tin",
    "state",
    "medicare_locality",
]


def trace(
    code: str,
    payer: str | None = None,
    setting: str | None = None,
    geography: str = "all",
    source: str | Path | Sequence[str | Path] = "sample",
    provider_directory: str | Path | None = None,
    year: int = 2025,
    product_lines: Sequence[str] | None = ("commercial",),
    report_date: dt.date | str | None = None,
    keep_implausible: bool = False,
    min_confidence: str | None = None,
) -> pd.DataFrame:
    """The rows behind the statistic of ``code`` for ``payer`` (a payer family) in ``setting`` and ``geography``
    (``report_date`` None: the run date, UTC, as a report made without one)."""
    if report_date is None:
        report_date = dt.datetime.now(dt.UTC).date()
    data = resolve_source(source, provider_directory)
    loaded = load_rates(source, codes=[str(code)], provider_directory=provider_directory)
    directory = load_provider_directory(data.provider_directory) if data.provider_directory else None
    rates = loaded.rates
    if geography != "all":
        rates = rates[rates["state" if len(geography) == 2 else "medicare_locality"].eq(geography)]
    # the cross-check needs the hospital rows of every payer: filter by payer after it
    assessed = assessment.assess(compare_to_medicare(rates, year), directory, report_date, keep_implausible)
    return trace_rows(assessed, payer, setting, product_lines, keep_implausible, min_confidence)


def trace_rows(
    assessed: pd.DataFrame,
    payer: str | None = None,
    setting: str | None = None,
    product_lines: Sequence[str] | None = ("commercial",),
    keep_implausible: bool = False,
    min_confidence: str | None = None,
) -> pd.DataFrame:
    """:func:`trace` on already assessed rates (``assessment.assess`` output)."""
    kept_levels = list(confidence.levels_at_least(min_confidence))
    out = assessed
    if payer:
        out = out[out["payer_family"].eq(payer)]
    if setting:
        out = out[out["pos_setting"].eq(setting)]
    out = out.copy()
    reason = _why_not_in_benchmark(out, product_lines)
    eligible = reason.isna()
    duplicate_of = _duplicate_of(out[eligible])
    excluded = flags.excluded(out, keep_implausible).to_numpy(bool)
    below = ~out["confidence"].isin(kept_levels).to_numpy(bool)
    role = pd.Series(NOT_IN_BENCHMARK + ": ", index=out.index, dtype=object) + reason.fillna("")
    counted = eligible.to_numpy(bool)
    role[counted] = np.where(excluded[counted], IN_ALL_ONLY, np.where(below[counted], BELOW_CONFIDENCE, IN_STATISTIC))
    is_duplicate = duplicate_of.reindex(out.index).notna()
    role[is_duplicate] = DUPLICATE
    out["role"] = role
    out["duplicate_of"] = duplicate_of.reindex(out.index)
    out["published"] = (
        out["amount_raw"]
        .astype("string")
        .fillna(out["amount"].map(lambda a: f"{a:.2f}").astype("string") + " " + out["amount_unit"].astype("string"))
    )
    out["normalized"] = _normalized(out)
    out["counterpart"] = _counterpart(out)
    out["medicare_comparison"] = _medicare_comparison(out)
    return out[TRACE_COLUMNS].reset_index(drop=True)


def _why_not_in_benchmark(rates: pd.DataFrame, product_lines: Sequence[str] | None) -> pd.Series:
    reason = pd.Series(None, index=rates.index, dtype=object)
    texts = {
        "amount_usd": "no per-service dollar amount",
        "modifiers": "modifier rate (modifier table)",
        "billing_class": "billing class is not professional",
    }
    for column, value in reversed(BENCHMARK_FILTER):
        fails = rates[column].isna() if value is NOT_NULL else rates[column].ne(value).fillna(True)
        reason = reason.mask(fails.to_numpy(bool), texts.get(column, f"{column} filter"))
    if product_lines is not None:
        other = ~rates["product_line"].isin(list(product_lines))
        reason = reason.mask(other.to_numpy(bool) & reason.isna().to_numpy(bool), "product line not benchmarked")
    return reason


def _duplicate_of(eligible: pd.DataFrame) -> pd.Series:
    """For each eligible row repeating a counted price (``stats.DEDUP_KEY``): ``file locator`` of the counted row."""
    if eligible.empty:
        return pd.Series(dtype="string")
    provider = eligible[PROVIDER_KEY_COLUMNS[0]]
    for column in PROVIDER_KEY_COLUMNS[1:]:
        provider = provider.fillna(eligible[column])
    provider = provider.fillna("row:" + eligible["source_file"] + ":" + eligible["source_locator"])
    keyed = eligible.assign(provider_key=provider, _where=eligible["source_file"] + " " + eligible["source_locator"])
    first = keyed.groupby(DEDUP_KEY, dropna=False, sort=False)["_where"].transform("first")
    return first.where(keyed.duplicated(subset=DEDUP_KEY, keep="first")).astype("string")


def _normalized(rates: pd.DataFrame) -> pd.Series:
    parts = pd.Series("", index=rates.index, dtype=object)

    def add(mask: pd.Series, text: pd.Series | str) -> None:
        mask = mask.fillna(False).to_numpy(bool)
        piece = text if isinstance(text, str) else text[mask]
        parts[mask] = np.where(parts[mask] == "", piece, parts[mask] + "; " + piece)

    code_raw = rates["billing_code_raw"].astype("string")
    add(code_raw.notna() & code_raw.ne(rates["billing_code"]), "code read from " + code_raw.fillna(""))
    add(rates["amount_raw"].notna(), "amount read from text " + rates["amount_raw"].astype("string").fillna(""))
    add(rates["dollar_basis"].notna(), "dollars: " + rates["dollar_basis"].astype("string").fillna(""))
    add(rates["payer_raw"].notna(), "payer " + rates["payer_raw"].astype("string") + " -> " + rates["payer_family"])
    return parts.astype("string")


def _counterpart(rates: pd.DataFrame) -> pd.Series:
    text = (
        rates["counterpart_amount"].map(lambda a: f"{a:,.2f}" if pd.notna(a) else "").astype("string")
        + " "
        + rates["counterpart_unit"].fillna("")
        + " in "
        + rates["counterpart_source_file"].fillna("")
        + " "
        + rates["counterpart_locator"].fillna("")
    )
    return text.where(rates["counterpart_source_file"].notna())


def _medicare_comparison(rates: pd.DataFrame) -> pd.Series:
    text = (
        "Medicare "
        + rates["medicare_year"].astype("string")
        + " "
        + rates["medicare_setting"].astype("string").fillna("")
        + ", "
        + rates["medicare_match"].astype("string")
        + " "
        + rates["medicare_locality_used"].astype("string").fillna("")
    )
    return text.where(rates["medicare_amount"].notna(), rates["comparison_note"].astype("string"))


# --------------------------------------------------------------------------------------------------- queries
def trace_command(
    code: str,
    payer: str | None = None,
    setting: str | None = None,
    geography: str = "all",
    source: str | Path = "sample",
    year: int = 2025,
    product_lines: Sequence[str] | None = ("commercial",),
    providers: str | Path | None = None,
    report_date: str | None = None,
    keep_implausible: bool = False,
    min_confidence: str | None = None,
) -> str:
    """The ``paybench trace`` command line that lists the rows of one statistic."""
    words = ["paybench", "trace", str(code)]
    if payer:
        words += ["--payer", payer]
    if setting:
        words += ["--setting", setting]
    words += ["--geography", geography, "--source", str(source), "--year", str(year)]
    if product_lines is not None and list(product_lines) != ["commercial"]:
        words += ["--product-lines", *product_lines]
    if providers:
        words += ["--providers", str(providers)]
    if report_date:
        words += ["--report-date", report_date]
    if keep_implausible:
        words += ["--keep-implausible"]
    if min_confidence:
        words += ["--min-confidence", min_confidence]
    return shlex.join(words)


def statistic_queries(table: pd.DataFrame, code: str, **options: object) -> list[dict]:
    """For each row of a benchmark table grouped by ``payer_family`` (and ``pos_setting`` / ``state``): the group and
    the ``paybench trace`` command that lists its rows (``options`` as :func:`trace_command`)."""
    queries = []
    for row in table.to_dict(orient="records"):
        geography = row.get("state") or options.get("geography") or "all"
        extra = {k: v for k, v in options.items() if k != "geography"}
        command = trace_command(code, row.get("payer_family"), row.get("pos_setting"), str(geography), **extra)  # type: ignore[arg-type]
        group = {k: row[k] for k in ("rates", "payer_family", "pos_setting", "state") if k in row}
        queries.append({**group, "n": int(row["n"]), "query": command})
    return queries
