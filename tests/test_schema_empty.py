"""The zero-row rate and quarantine tables are built without running pandera, with the dtypes validation gives."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from benchmark.schema import RATE_COLUMNS, QuarantineSchema, RateSchema, empty_quarantine, empty_rates


def _validated(model, columns: list[str]) -> pd.DataFrame:
    return model.validate(pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}), lazy=True)


def test_empty_rates_equal_a_validated_empty_table() -> None:
    built = empty_rates()
    pdt.assert_frame_equal(built, _validated(RateSchema, RATE_COLUMNS))
    assert {str(t) for t in built.dtypes} >= {"float64", "bool"}  # not object columns
    assert empty_rates() is not built  # a new table each time: callers may add to theirs


def test_empty_quarantine_equals_a_validated_empty_table() -> None:
    columns = list(QuarantineSchema.to_schema().columns)
    built = empty_quarantine()
    pdt.assert_frame_equal(built, _validated(QuarantineSchema, columns))
    assert list(built.columns) == columns and len(built) == 0
