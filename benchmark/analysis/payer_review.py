"""The payer review list of files: payer / plan strings no rule resolves well, with counts (``paybench payers review``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from benchmark.analysis.rates import load_rates
from benchmark.normalize.payers import review_list


def review_sources(sources: str | Path | Sequence[str | Path], codes: Iterable[str] | None = None) -> pd.DataFrame:
    """:func:`~benchmark.normalize.payers.review_list` of every TiC / hospital file of ``sources`` (``"sample"``
    for the shipped sample)."""
    loaded = load_rates(sources, codes=codes)
    return review_list(loaded.rates)
