"""The check of reader-built rate batches (schema.check_built_rates): as strict as validate_rates, same errors.

The TiC reader builds each batch from typed Arrow / numpy columns and checks it with check_built_rates instead of
pandera's full validation (whose fixed cost is ~0.2 s per batch). A good batch must pass unchanged; a batch broken in
any way the schema forbids must fail with the SchemaErrors validate_rates raises, with the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from benchmark.ingest.tic.reader import iter_in_network
from benchmark.schema import check_built_rates, validate_rates

BENCH = Path(__file__).parent / "fixtures" / "reference" / "bench"
CODES = (BENCH / "tiny_codes.txt").read_text().split()


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    """A batch as the reader returns it (a small file of the large-payer shape, several batches)."""
    batches = list(iter_in_network(BENCH / "innet_pr_last_tiny.json.gz", CODES, helpers=False, batch_rows=2000))
    assert len(batches) > 1
    return batches[0].rates


def test_a_reader_batch_passes_as_it_is(batch: pd.DataFrame) -> None:
    assert check_built_rates(batch) is batch  # the quick path: nothing to coerce, nothing copied
    pd.testing.assert_frame_equal(validate_rates(batch), batch)


def _set(column: str, value: object, row: int = 3) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[column].astype(object).to_numpy(copy=True)
        values[row] = value
        frame[column] = pd.Series(values, index=frame.index).astype(frame[column].dtype)
        return frame

    return change


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: frame.drop(columns=[column])


def _retype(column: str, dtype: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(dtype)
        return frame

    return change


BROKEN = {
    "amount not positive (greater_than)": _set("amount", -1.5),
    "amount missing (not nullable)": _set("amount", np.nan),
    "amount_usd zero (greater_than, nullable)": _set("amount_usd", 0.0),
    "rate_type unknown (isin)": _set("rate_type", "bogus"),
    "payer_family unknown (isin)": _set("payer_family", "Nope"),
    "pos_setting unknown (isin)": _set("pos_setting", "FACILITY"),
    "billing_code empty (str_length)": _set("billing_code", ""),
    "billing_code missing (not nullable)": _set("billing_code", None),
    "source_locator missing (not nullable)": _set("source_locator", None),
    "source_sha256 not a hash (custom check)": _set("source_sha256", "not-a-hash"),
    "state not two capitals (str_matches)": _set("state", "ny"),
    "medicare_locality pattern (str_matches)": _set("medicare_locality", "1234-5"),
    "dedup_count zero (ge 1)": _set("dedup_count", 0),
    "plan_count zero (ge 1)": _set("plan_count", 0),
    "gross_charge negative (greater_than)": _set("gross_charge", -3.0),
    "a column missing (strict)": _drop("provider_npis"),
    "an extra column (strict)": lambda frame: frame.assign(extra="x"),
    "columns out of order (ordered)": lambda frame: frame[[*frame.columns[1:], frame.columns[0]]],
    "dedup_count as text that cannot be an integer": lambda frame: frame.assign(dedup_count="many"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_batch_fails_as_validate_rates_fails(batch: pd.DataFrame, name: str) -> None:
    frame = BROKEN[name](batch.copy())
    with pytest.raises(pandera.errors.SchemaErrors) as expected:
        validate_rates(frame.copy())
    with pytest.raises(pandera.errors.SchemaErrors) as found:
        check_built_rates(frame)
    assert str(found.value) == str(expected.value)


def test_a_batch_of_other_dtypes_is_coerced_as_before(batch: pd.DataFrame) -> None:
    """A column of another dtype that validate_rates can coerce is coerced (not refused, not left as it is)."""
    frame = _retype("dedup_count", "float64")(_retype("amount", "object")(batch.copy()))
    checked = check_built_rates(frame)
    assert checked is not frame
    pd.testing.assert_frame_equal(checked, validate_rates(frame.copy()))
    pd.testing.assert_frame_equal(checked, batch)
