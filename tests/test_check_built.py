"""schema.check_built: ``model.validate(df, lazy=True)`` without pandera's fixed cost, for any model of the project.

pandera is the oracle here: for every table, valid or broken, check_built must give what ``model.validate`` gives
(the same table, or the same error with the same message), and must not change the caller's table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pytest
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Index, Series

from benchmark import config, schema
from benchmark.analysis import stats
from benchmark.ingest.validate import PROBLEM_COLUMNS, ProblemSchema, validate_sources
from benchmark.reference import policy
from benchmark.schema import DistributionSchema, check_built
from benchmark.store import pipeline
from benchmark.store.rate_store import ManifestSchema, open_store


@pytest.fixture(scope="module")
def policies() -> pd.DataFrame:
    """The shipped sample policies (illustrative rows included) as PolicySchema gives them."""
    return policy.load_policies(include_illustrative=True)


def _same_outcome(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> None:
    """check_built and model.validate agree on ``frame``: the same table, or the same error message."""
    before = frame.copy()
    expected: pd.DataFrame | SchemaErrors
    try:
        expected = model.validate(frame.copy(), lazy=True)
    except SchemaErrors as error:
        expected = error
    # outside the except block: an error raised while handling another one would carry it in its traceback text
    if isinstance(expected, SchemaErrors):
        with pytest.raises(SchemaErrors) as found:
            check_built(model, frame)
        assert str(found.value) == str(expected)
    else:
        pd.testing.assert_frame_equal(check_built(model, frame), expected)
    pd.testing.assert_frame_equal(frame, before)  # the caller's table is left as it was


def test_a_valid_typed_table_is_returned_as_it_is(policies: pd.DataFrame) -> None:
    assert len(policies) > 10
    assert check_built(policy.PolicySchema, policies) is policies
    _same_outcome(policy.PolicySchema, policies)


def test_a_table_of_python_objects_is_coerced_like_validate_does(policies: pd.DataFrame) -> None:
    loose = policies.astype(object)
    assert all(dtype is np.dtype(object) for dtype in loose.dtypes)
    checked = check_built(policy.PolicySchema, loose)
    assert checked is not loose
    pd.testing.assert_frame_equal(checked, policies)
    assert all(dtype is np.dtype(object) for dtype in loose.dtypes)  # coerced in a copy


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda f: f.assign(policy_id=f["policy_id"].iloc[0]), id="unique policy_id repeated"),
        pytest.param(lambda f: f.assign(payer_family="Acme"), id="isin"),
        pytest.param(lambda f: f.assign(policy_id="Not An Id"), id="str_matches"),
        pytest.param(lambda f: f.assign(status=None), id="missing in a non-nullable column"),
        pytest.param(lambda f: f.assign(payment_pct=-5.0), id="number out of range"),
        pytest.param(lambda f: f.assign(policy_line="line two"), id="cannot be coerced"),
        pytest.param(
            lambda f: f.assign(source_url=f["source_url"].where(f["basis"] != "illustrative", "https://example.com/p")),
            id="table-level check: illustrative rows claim no source URL",
        ),
        pytest.param(lambda f: f.drop(columns=["note"]), id="a column missing"),
        pytest.param(lambda f: f.assign(extra=1), id="a column too many (strict)"),
        pytest.param(lambda f: f[list(reversed(f.columns))], id="columns out of order (ordered)"),
    ],
)
def test_a_broken_table_fails_exactly_as_validate_fails(policies: pd.DataFrame, break_it) -> None:
    broken = break_it(policies.copy())
    with pytest.raises(SchemaErrors):
        policy.PolicySchema.validate(broken.copy(), lazy=True)
    _same_outcome(policy.PolicySchema, broken)


def test_a_non_strict_model_takes_other_columns_and_leaves_them_unchecked() -> None:
    rows = pd.DataFrame(
        {
            "payer_family": ["Aetna", "Aetna", "Cigna"],
            "pos_setting": ["facility", "facility", "facility"],
            "amount_usd": [100.0, 300.0, 250.0],
            "pct_of_medicare": [110.0, 130.0, None],
        }
    )
    table = stats.distribution_table(rows)
    assert list(table["payer_family"]) == ["Aetna", "Cigna"]
    assert check_built(DistributionSchema, table) is table
    _same_outcome(DistributionSchema, table)
    _same_outcome(DistributionSchema, table.assign(n=-1))  # a rule of the model still holds with other columns


def test_validate_decides_what_check_built_does_not_cover_itself() -> None:
    class Indexed(pa.DataFrameModel):
        idx: Index[int] = pa.Field(ge=0)
        value: Series[float] = pa.Field(gt=0)

        class Config:
            strict = True
            coerce = True

    good = pd.DataFrame({"value": [1.0, 2.0]})
    _same_outcome(Indexed, good)
    _same_outcome(Indexed, good.set_axis([-1, 0]))  # the index rule: only pandera checks it


def test_a_non_lazy_check_raises_the_first_error_as_validate_does(policies: pd.DataFrame) -> None:
    broken = policies.assign(payer_family="Acme")
    with pytest.raises(SchemaError) as expected:
        policy.PolicySchema.validate(broken.copy())
    with pytest.raises(SchemaError) as found:
        check_built(policy.PolicySchema, broken, lazy=False)
    assert str(found.value) == str(expected.value)


class _Texts(pa.DataFrameModel):
    code: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    kind: Series[str] = pa.Field(isin=["a", "b"])

    class Config:
        strict = True
        coerce = True
        ordered = True


@pytest.mark.parametrize(
    "codes,kinds,passes",
    [
        ([["AB", None], [None, "CD"]], [["a", "b"], ["b", "a"]], True),  # missing codes are allowed, in any chunk
        ([[None, None], [None, None]], [["a", "a"], ["b", "b"]], True),
        ([["AB", None], ["abc", "CD"]], [["a", "b"], ["b", "a"]], False),  # a bad code in the second chunk
        ([["AB", "CD"], ["EF", "GH"]], [["a", "b"], [None, "a"]], False),  # a missing kind
        ([["AB", "CD"], ["EF", "GH"]], [["a", "c"], ["b", "a"]], False),  # a kind not allowed
    ],
)
def test_arrow_text_columns_in_chunks_are_checked_as_validate_checks_them(codes, kinds, passes) -> None:
    """Text columns held by Arrow in several chunks (as the TiC reader builds them), with missing values."""
    dtype = _Texts.validate(pd.DataFrame({"code": ["AB"], "kind": ["a"]}))["code"].dtype

    def column(chunks: list[list[str | None]]) -> pd.Series:
        text = pyarrow.chunked_array([pyarrow.array(chunk, pyarrow.large_string()) for chunk in chunks])
        return pd.Series(pd.arrays.ArrowStringArray(text, dtype=dtype))

    frame = pd.DataFrame({"code": column(codes), "kind": column(kinds)})
    assert (frame.dtypes == dtype).all()
    _same_outcome(_Texts, frame)
    if passes:
        assert check_built(_Texts, frame) is frame


# ------------------------------------------------------------------ the store's manifest and validate's problem table
@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> pd.DataFrame:
    """The manifest of a store of two sample files (a TiC file and a hospital file), as the store reads it."""
    root = tmp_path_factory.mktemp("store") / "s"
    files = sorted(config.SAMPLE_TIC_DIR.glob("*.json.gz"))[:1] + sorted(config.SAMPLE_HOSPITAL_DIR.glob("*.csv"))[:1]
    assert pipeline.ingest(files, ["44320"], root).ok
    return open_store(root).manifest()


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda f: f, id="as read"),
        pytest.param(lambda f: f.astype(object), id="python objects"),
        pytest.param(lambda f: f.assign(rows_loaded=f["rows_loaded"] + 1), id="table check: rows do not balance"),
        pytest.param(lambda f: f.assign(status="half"), id="isin"),
        pytest.param(lambda f: f.assign(sha256="ABC"), id="str_matches"),
        pytest.param(lambda f: f.assign(seq=-1), id="ge"),
        pytest.param(lambda f: f.assign(run_id=None), id="missing in a non-nullable column"),
        pytest.param(lambda f: f.iloc[:0].astype(object), id="empty, untyped"),
    ],
)
def test_the_store_manifest_is_checked_as_validate_checks_it(manifest: pd.DataFrame, break_it) -> None:
    assert len(manifest) == 2 and set(manifest["status"]) == {"loaded"}
    _same_outcome(ManifestSchema, break_it(manifest.copy()))


def test_validate_problem_tables_are_checked_as_validate_checks_them() -> None:
    [report] = validate_sources(
        [config.SAMPLE_HOSPITAL_DIR / "284160435_sample-general-hospital-of-houston-synthetic_standardcharges.csv"]
    )
    problems = report.problems
    assert list(problems.columns) == PROBLEM_COLUMNS
    _same_outcome(ProblemSchema, problems)
    row = pd.DataFrame(
        {
            "source_file": ["f.csv"] * 2,
            "location": ["line 3", "file"],
            "severity": ["error", "warning"],
            "reason_code": ["bad_date", "x"],
            "detail": ["d", "e"],
            "raw_value": [None, "v"],
        }
    )
    _same_outcome(ProblemSchema, row)
    _same_outcome(ProblemSchema, row.assign(severity=["error", "fatal"]))  # isin
    _same_outcome(ProblemSchema, row.assign(detail=[None, "e"]))  # missing in a non-nullable column


# ------------------------------------------------------------------ rules run on Arrow / numpy values, not Series
class _Numbers(pa.DataFrameModel):
    price: Series[float] = pa.Field(nullable=True, gt=0)
    count: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    whole: Series[int] = pa.Field(le=10)
    state: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    code: Series[str] = pa.Field(str_length={"min_value": 3})

    class Config:
        strict = True
        coerce = True
        ordered = True


def _numbers(**changes) -> pd.DataFrame:
    columns = {
        "price": [1.5, np.nan, 2.0],
        "count": pd.array([0, None, 7], dtype="Int64"),
        "whole": [10, -3, 0],
        "state": ["TX", None, "IL"],
        "code": ["abc", "abcd", "ééé"],  # three characters, six bytes
    }
    frame = _Numbers.validate(pd.DataFrame(columns))
    return frame.assign(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="valid, missing values in nullable columns"),
        pytest.param({"price": [1.5, np.nan, 0.0]}, id="float gt: the bound itself"),
        pytest.param({"price": [np.nan, np.nan, np.nan]}, id="float gt: all missing"),
        pytest.param({"count": pd.array([0, None, -1], dtype="Int64")}, id="Int64 ge below the bound"),
        pytest.param({"count": pd.array([None, None, None], dtype="Int64")}, id="Int64 all missing"),
        pytest.param({"whole": [11, 0, 0]}, id="int le above the bound"),
        pytest.param({"state": ["TX", "Texas", "IL"]}, id="str_matches: a new value fails"),
        pytest.param({"code": ["abc", "ab", "abcd"]}, id="str_length below the minimum"),
        pytest.param({"code": ["ab", "ab", "ab"]}, id="str_length: one short value, repeated"),
        pytest.param({"code": ["abc", "éé", "abcd"]}, id="str_length counts characters, not bytes"),
    ],
)
def test_rules_on_arrow_and_numpy_values_decide_as_validate_does(changes) -> None:
    _same_outcome(_Numbers, _numbers(**changes))


def test_a_pattern_remembers_only_values_it_passed_and_at_most_a_bounded_number(monkeypatch) -> None:

    monkeypatch.setattr(schema, "_PASSED_MAX", 3)
    _same_outcome(_Numbers, _numbers(state=["TX", "IL", "TX"]))
    _same_outcome(_Numbers, _numbers(state=["TX", "Il", "IL"]))  # a failing value among remembered ones
    _same_outcome(_Numbers, _numbers(state=["TX", "Il", "IL"]))  # ... fails again: it was not remembered
    for states in (["AA", "BB", "CC"], ["DD", "EE", "FF"], ["GG", "HH", "xx"]):
        _same_outcome(_Numbers, _numbers(state=states))
    [rule] = [rules for name, _, _, rules in schema._fast_rules(_Numbers).columns if name == "state"][0]
    assert rule.passed <= {"TX", "IL", "AA", "BB", "CC", "DD", "EE", "FF", "GG", "HH"}
    assert len(rule.passed) <= 3


@pytest.mark.parametrize(
    "loose",
    [
        pytest.param({"state": np.array(["TX", None, "IL"], dtype=object)}, id="object text with None"),
        pytest.param({"state": np.array([None, None, None], dtype=object)}, id="object, all None"),
        pytest.param({"state": np.array([None, np.nan, "IL"], dtype=object)}, id="object text with NaN"),
        pytest.param({"state": np.array(["TX", 5, "IL"], dtype=object)}, id="object text with a number"),
        pytest.param({"count": np.array([0, 3, 7], dtype="int64")}, id="numpy int64 to Int64"),
        pytest.param({"count": np.array([0, 3, -7], dtype="int64")}, id="numpy int64 to Int64, out of range"),
        pytest.param({"count": np.array([0, 2**63, 7], dtype="uint64")}, id="uint64 Int64 cannot hold"),
        pytest.param({"count": np.array([0.0, 3.0, 7.0])}, id="float to Int64: pandera decides"),
        pytest.param(
            {"state": np.array(["TX", None, "IL"], dtype=object), "count": np.array([1, 2, 3], dtype="int64")},
            id="both kinds at once",
        ),
    ],
)
def test_a_table_built_loosely_is_cast_as_validate_casts_it(loose) -> None:
    frame = _numbers()
    for name, values in loose.items():
        frame[name] = pd.Series(values, dtype=values.dtype)  # as given: object stays object
    assert not (frame.dtypes == _numbers().dtypes).all()
    _same_outcome(_Numbers, frame)
