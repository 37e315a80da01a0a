"""Confidence per rate, from its flags (:mod:`.flags`) and its payer-hospital verdict (:mod:`.crosscheck`).

Levels, lowest first (:data:`LEVELS`):

- ``flagged``: any flag that takes the rate out of the statistics (with ``keep_implausible=True`` a rate flagged
  only ``implausible_provider`` is judged on its cross-check instead);
- ``disputed``: the payer's and the hospital's files give different amounts for the contract (``disagree``);
- ``single source``: only one side publishes the contract, or it was not cross-checked, or the other side uses a
  different kind of amount (``payer only``, ``hospital only``, ``not cross-checked``, ``not comparable``);
- ``corroborated``: both files give the same amount within tolerance (``agree``).

``min_confidence`` keeps rates at or above a level: ``"single source"`` keeps single-source and corroborated rates.
"""

from __future__ import annotations

import pandas as pd

from benchmark.analysis import crosscheck, flags
from benchmark.errors import ParameterError

FLAGGED = "flagged"
DISPUTED = "disputed"
SINGLE_SOURCE = "single source"
CORROBORATED = "corroborated"
LEVELS: tuple[str, ...] = (FLAGGED, DISPUTED, SINGLE_SOURCE, CORROBORATED)


def confidence(rates: pd.DataFrame, keep_implausible: bool = False) -> pd.Series:
    """The confidence level of each rate (needs the flag and/or cross-check columns; missing ones count as none)."""
    verdict = rates["crosscheck"] if "crosscheck" in rates else pd.Series(crosscheck.NOT_CHECKED, index=rates.index)
    level = pd.Series(SINGLE_SOURCE, index=rates.index, dtype=object)
    level[verdict.eq(crosscheck.AGREE).fillna(False).to_numpy(bool)] = CORROBORATED
    level[verdict.eq(crosscheck.DISAGREE).fillna(False).to_numpy(bool)] = DISPUTED
    if all(c in rates for c in flags.FLAG_COLUMNS):
        level[flags.excluded(rates, keep_implausible).to_numpy(bool)] = FLAGGED
    return level.astype("string")


def with_confidence(rates: pd.DataFrame, keep_implausible: bool = False) -> pd.DataFrame:
    """``rates`` with a ``confidence`` column."""
    return rates.assign(confidence=confidence(rates, keep_implausible))


def at_least(rates: pd.DataFrame, min_confidence: str | None) -> pd.DataFrame:
    """The rates whose ``confidence`` is ``min_confidence`` or higher (all rates for None)."""
    if min_confidence is None:
        return rates
    return rates[rates["confidence"].isin(list(levels_at_least(min_confidence)))]


def levels_at_least(min_confidence: str | None) -> tuple[str, ...]:
    """The levels ``min_confidence`` keeps, lowest first (every level for None or "")."""
    if not min_confidence:
        return LEVELS
    if min_confidence not in LEVELS:
        raise ParameterError(f"min_confidence {min_confidence!r}: use one of {', '.join(LEVELS)}")
    return LEVELS[LEVELS.index(min_confidence) :]


def confidence_mix(rates: pd.DataFrame, by: str = "payer_family") -> pd.DataFrame:
    """Rates per ``by`` and confidence level (one column per level, lowest first)."""
    table = pd.crosstab(rates[by], rates["confidence"]) if len(rates) else pd.DataFrame()
    table = table.reindex(columns=list(LEVELS), fill_value=0)
    table.index.name = by
    table.columns.name = None
    return table.reset_index().astype(dict.fromkeys(LEVELS, int))
