"""schema.in_rate_columns: a reader's table put in the rate columns so check_built_rates can take it as it is, with
exactly the values and dtypes pandera's coercion (validate_rates) would have given it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import config
from benchmark.ingest.hospital.reader import read_standard_charges
from benchmark.normalize import hospital_units
from benchmark.schema import RATE_COLUMNS, check_built_rates, in_rate_columns, validate_rates

HPT = Path(__file__).parent / "fixtures" / "reference" / "hpt"
FILES = [
    *sorted(config.SAMPLE_HOSPITAL_DIR.glob("*.csv")),
    *sorted((HPT / "v2.0.0").glob("*Example*")),
    *sorted((HPT / "v3.0.0").glob("*xample*")),
]


def test_the_files_are_there() -> None:
    assert len(FILES) == 4 + 3 + 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_hospital_rates_are_the_ones_pandera_coercion_gives(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quick = read_standard_charges(path, is_synthetic=True).rates
    assert len(quick) > 0
    monkeypatch.setattr(hospital_units, "in_rate_columns", lambda df: df.reindex(columns=RATE_COLUMNS))
    monkeypatch.setattr(hospital_units, "check_built_rates", validate_rates)
    pandera = read_standard_charges(path, is_synthetic=True).rates
    pd.testing.assert_frame_equal(quick, pandera)


def test_only_what_coercion_would_do_is_done() -> None:
    frame = pd.DataFrame(
        {
            "billing_code": ["44320", "44310"],
            "amount": [1200.5, 900.0],
            "provider_npis": ["1234567893", None],  # Python str and None: the string dtype, missing kept
            "plan_id": [12345, None],  # not text: left to pandera, which coerces it
        }
    )
    out = in_rate_columns(frame)
    assert list(out.columns) == RATE_COLUMNS
    empty = validate_rates(pd.DataFrame({c: pd.Series([], dtype=object) for c in RATE_COLUMNS}))
    assert out["provider_npis"].dtype == empty["provider_npis"].dtype
    assert out["provider_npis"].iloc[0] == "1234567893" and pd.isna(out["provider_npis"].iloc[1])
    assert out["plan_id"].dtype == np.float64  # unchanged: ints are not text
    added = [c for c in RATE_COLUMNS if c not in frame.columns and not pd.api.types.is_bool_dtype(empty[c])]
    assert added and all(out[c].dtype == empty[c].dtype and out[c].isna().all() for c in added)
    for column in frame.columns:  # the given columns keep their values
        assert out[column].astype(object).where(out[column].notna(), None).tolist() == (
            frame[column].astype(object).where(frame[column].notna(), None).tolist()
        )
    bools = [c for c in RATE_COLUMNS if pd.api.types.is_bool_dtype(empty[c])]
    assert all(out[c].isna().all() and out[c].dtype == np.float64 for c in bools)  # as reindex adds them


def test_a_table_that_check_built_rates_takes_is_one_validate_rates_leaves_as_it_is() -> None:
    rates = read_standard_charges(FILES[0], is_synthetic=True).rates
    again = in_rate_columns(rates.drop(columns=["plan_id", "network_name"]))
    assert check_built_rates(again) is again  # nothing left to coerce: the quick path
    pd.testing.assert_frame_equal(validate_rates(again), again)


def test_a_table_with_a_column_twice_is_refused_naming_it() -> None:
    frame = pd.DataFrame([["44320", "TX", "IL"]], columns=["billing_code", "state", "state"])
    with pytest.raises(ValueError, match=r"repeated: \['state'\]"):
        in_rate_columns(frame)
