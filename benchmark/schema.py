"""The table contracts of the project, in one place.

Every public function that returns a table validates it against one of these models before returning it.
Codes, NPIs, TINs, plan ids and locality ids are strings everywhere (``00100`` must never become ``100``).

The central one is :class:`RateSchema`, the normalized rate row that every reader (TiC in-network files, hospital
standard-charge files, anything added later) produces and every benchmark consumes. One row is one price for one
billing code (+ modifiers) under one payer/plan, for one provider group, with its provenance.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_lib
import pyarrow.compute as pc
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import config

PAYER_FAMILIES = config.PAYER_FAMILIES
PRODUCT_LINES = config.PRODUCT_LINES
SOURCE_TYPES = ["tic", "hospital"]
POS_SETTINGS = ["facility", "non_facility", "both", "unknown"]
CARE_SETTINGS = ["inpatient", "outpatient", "both", "unknown"]
BILLING_CLASSES = ["professional", "institutional", "both", "unknown"]
RATE_TYPES = ["negotiated", "fee_schedule", "derived", "percentage", "per_diem", "case_rate", "other"]
AMOUNT_UNITS = ["USD", "percent", "USD_per_day", "USD_per_case", "other"]
# Rate types whose dollar amount is a price for one unit of the billed service, so they can share a distribution.
PER_SERVICE_RATE_TYPES = ["negotiated", "fee_schedule", "derived"]
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class RateSchema(pa.DataFrameModel):
    """One normalized negotiated rate with its provenance."""

    source_type: Series[str] = pa.Field(isin=SOURCE_TYPES)
    payer_raw: Series[str]
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    payer_brand: Series[str] = pa.Field(nullable=True)
    plan_raw: Series[str] = pa.Field(nullable=True)
    plan_id: Series[str] = pa.Field(nullable=True)
    product_line: Series[str] = pa.Field(isin=PRODUCT_LINES)
    network_name: Series[str] = pa.Field(nullable=True)
    billing_code: Series[str] = pa.Field(str_length={"min_value": 1})
    billing_code_type: Series[str]
    modifiers: Series[str] = pa.Field(description="pipe-joined, sorted; empty string when none")
    pos_setting: Series[str] = pa.Field(isin=POS_SETTINGS, description="Medicare PFS facility / non-facility")
    care_setting: Series[str] = pa.Field(isin=CARE_SETTINGS, description="inpatient / outpatient")
    billing_class: Series[str] = pa.Field(isin=BILLING_CLASSES)
    rate_type: Series[str] = pa.Field(isin=RATE_TYPES)
    amount: Series[float] = pa.Field(gt=0, description="the rate as published, in amount_unit")
    amount_unit: Series[str] = pa.Field(isin=AMOUNT_UNITS)
    amount_usd: Series[float] = pa.Field(
        nullable=True,
        gt=0,
        description="per-service dollars; empty for per diem, case rate and percentages without a base",
    )
    dollar_basis: Series[str] = pa.Field(nullable=True, description="how amount_usd was obtained when not published")
    service_codes: Series[str] = pa.Field(nullable=True, description="pipe-joined CMS place-of-service codes")
    negotiation_arrangement: Series[str] = pa.Field(nullable=True)
    expiration_date: Series[str] = pa.Field(nullable=True)
    provider_npis: Series[str] = pa.Field(nullable=True, description="pipe-joined NPIs of the provider group")
    provider_tin: Series[str] = pa.Field(nullable=True)
    provider_name: Series[str] = pa.Field(nullable=True)
    state: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Z]{2}$")
    medicare_locality: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{5}-\d{2}$")
    source_file: Series[str]
    source_locator: Series[str] = pa.Field(description="JSON path or line number inside source_file")
    source_sha256: Series[str] = pa.Field(description="the file's hash (checked by source_sha256_is_a_hash)")
    is_synthetic: Series[bool]
    # Transparency-in-Coverage details (empty where a source does not publish them, e.g. hospital files).
    severity_of_illness: Series[str] = pa.Field(nullable=True, description="TiC 2.x, for DRG-type codes")
    bundled_codes: Series[str] = pa.Field(nullable=True, description="bundle: contained codes, TYPE:code pipe-joined")
    covered_services: Series[str] = pa.Field(
        nullable=True, description="capitation: covered codes, TYPE:code pipe-joined"
    )
    additional_information: Series[str] = pa.Field(nullable=True, description="negotiated price's free-text note")
    plan_id_type: Series[str] = pa.Field(nullable=True, description="ein / hios, lower-cased")
    plan_market_type: Series[str] = pa.Field(nullable=True, description="group / individual")
    issuer_name: Series[str] = pa.Field(nullable=True)
    plan_sponsor_name: Series[str] = pa.Field(nullable=True)
    plan_count: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=1, description="plans the rate applies to, when known (single-plan file or table of contents)"
    )
    dedup_count: Series[pd.Int64Dtype] = pa.Field(
        nullable=True,
        ge=1,
        description="identical source rows this row stands for (1 = unique); empty if not deduplicated",
    )
    # Hospital standard-charge details (45 CFR 180; empty where a source does not publish them, e.g. TiC files).
    billing_code_raw: Series[str] = pa.Field(nullable=True, description="code as published (44320.0, 450, 44320-80)")
    billing_code_type_raw: Series[str] = pa.Field(nullable=True, description="code type as published (CPT4, REV)")
    amount_raw: Series[str] = pa.Field(nullable=True, description="the published text amount was read from")
    methodology_raw: Series[str] = pa.Field(nullable=True, description="standard_charge|methodology as published")
    negotiated_algorithm: Series[str] = pa.Field(nullable=True, description="standard_charge|negotiated_algorithm")
    gross_charge: Series[float] = pa.Field(nullable=True, gt=0, description="the item's gross charge, USD")
    discounted_cash: Series[float] = pa.Field(nullable=True, gt=0, description="the item's discounted cash price")
    min_charge: Series[float] = pa.Field(nullable=True, gt=0, description="de-identified minimum negotiated charge")
    max_charge: Series[float] = pa.Field(nullable=True, gt=0, description="de-identified maximum negotiated charge")
    estimated_amount: Series[float] = pa.Field(nullable=True, gt=0, description="v2.x estimated allowed amount")
    median_amount: Series[float] = pa.Field(nullable=True, gt=0, description="v3 median allowed amount")
    p10_amount: Series[float] = pa.Field(nullable=True, gt=0, description="v3 10th percentile allowed amount")
    p90_amount: Series[float] = pa.Field(nullable=True, gt=0, description="v3 90th percentile allowed amount")
    allowed_count: Series[str] = pa.Field(nullable=True, description='v3 count of allowed amounts ("1 through 10")')
    drug_unit: Series[float] = pa.Field(nullable=True, gt=0, description="drug_unit_of_measurement: units priced")
    drug_unit_type: Series[str] = pa.Field(nullable=True, description="drug_type_of_measurement (GR, ME, ML, UN...)")
    hospital_location: Series[str] = pa.Field(nullable=True, description="location names, pipe-joined")
    hospital_address: Series[str] = pa.Field(nullable=True, description="addresses, pipe-joined")
    hospital_license: Series[str] = pa.Field(nullable=True, description="state license number as published")

    class Config:
        strict = True
        coerce = True
        ordered = True

    @pa.check("source_sha256", name=f"str_matches('{SHA256_PATTERN}')", error=f"str_matches('{SHA256_PATTERN}')")
    def source_sha256_is_a_hash(cls, series: Series[str]) -> Series[bool]:
        """The str_matches check, testing each distinct hash once (a file's rows share one): ~3 ms instead of ~45 ms
        for 183,000 rows, where the built-in check scans every row twice."""
        return matches_per_distinct_value(series, SHA256_PATTERN)


class QuarantineSchema(pa.DataFrameModel):
    """A row or item that could not be loaded, with the reason; nothing is dropped without one."""

    source_file: Series[str]
    source_locator: Series[str]
    reason_code: Series[str]
    detail: Series[str]
    raw_value: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        ordered = True


class FileAccountSchema(pa.DataFrameModel):
    """Per-file row accounting: seen = loaded + quarantined + filtered_out + deduplicated."""

    source_file: Series[str]
    source_sha256: Series[str]
    rows_seen: Series[int] = pa.Field(ge=0)
    rows_loaded: Series[int] = pa.Field(ge=0)
    rows_quarantined: Series[int] = pa.Field(ge=0)
    rows_filtered_out: Series[int] = pa.Field(ge=0)
    rows_deduplicated: Series[int] = pa.Field(ge=0)
    file_date: Series[str] = pa.Field(
        nullable=True, str_matches=r"^\d{4}-\d{2}-\d{2}$", description="the date the file declares (last_updated_on)"
    )

    class Config:
        strict = True
        coerce = True
        ordered = True

    @pa.dataframe_check
    @classmethod
    def rows_balance(cls, df: pd.DataFrame) -> Series[bool]:
        return rows_balance(df)


def matches_per_distinct_value(series: pd.Series, pattern: str) -> pd.Series:
    """``series.str.match(pattern, na=False)`` (pandera's str_matches), testing each distinct value once."""
    distinct = series.dropna().unique()
    matching = distinct[pd.Series(distinct, dtype=series.dtype).str.match(pattern, na=False).to_numpy(bool)]
    if len(matching) == 1:  # the usual case: one file, one hash
        return (series == matching[0]).fillna(False).astype(bool)
    return series.isin(matching)


def rows_balance(df: pd.DataFrame) -> pd.Series:
    """Per row of an account table: rows seen = loaded + quarantined + filtered out + deduplicated."""
    return df["rows_seen"] == (
        df["rows_loaded"] + df["rows_quarantined"] + df["rows_filtered_out"] + df["rows_deduplicated"]
    )


class PfsRvuSchema(pa.DataFrameModel):
    """One PPRRVU row (code + modifier) of one PFS release, descriptors excluded."""

    year: Series[int] = pa.Field(ge=1992)
    hcpcs: Series[str] = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: Series[str] = pa.Field(description="empty string for the global row")
    status_code: Series[str]
    not_used_for_medicare_payment: Series[str]
    work_rvu: Series[float] = pa.Field(ge=0)
    non_facility_pe_rvu: Series[float] = pa.Field(ge=0)
    non_facility_na: Series[bool]
    facility_pe_rvu: Series[float] = pa.Field(ge=0)
    facility_na: Series[bool]
    mp_rvu: Series[float] = pa.Field(ge=0)
    non_facility_total: Series[float] = pa.Field(ge=0)
    facility_total: Series[float] = pa.Field(ge=0)
    pctc_ind: Series[str]
    global_days: Series[str]
    pre_op: Series[float] = pa.Field(ge=0, le=1)
    intra_op: Series[float] = pa.Field(ge=0, le=1)
    post_op: Series[float] = pa.Field(ge=0, le=1)
    mult_proc: Series[str]
    bilat_surg: Series[str]
    asst_surg: Series[str]
    co_surg: Series[str]
    team_surg: Series[str]
    endo_base: Series[str]
    conversion_factor: Series[float] = pa.Field(gt=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class GpciSchema(pa.DataFrameModel):
    """One Medicare payment locality with its three GPCIs."""

    gpci_year: Series[int]
    locality_id: Series[str] = pa.Field(str_matches=r"^\d{5}-\d{2}$", unique=True)
    mac: Series[str] = pa.Field(str_matches=r"^\d{5}$")
    mac_raw: Series[str]
    locality_number: Series[str] = pa.Field(str_matches=r"^\d{2}$")
    locality_number_raw: Series[str]
    state: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}$")
    locality_name: Series[str]
    gpci_work: Series[float] = pa.Field(gt=0, description="work GPCI used (2026: without the 1.0 floor)")
    gpci_work_floor: Series[float] = pa.Field(gt=0, description="work GPCI with the 1.0 floor")
    gpci_pe: Series[float] = pa.Field(gt=0)
    gpci_mp: Series[float] = pa.Field(gt=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class LocalityCountySchema(pa.DataFrameModel):
    """Counties included in a Medicare locality (one row per locality, counties as published)."""

    locality_id: Series[str] = pa.Field(str_matches=r"^\d{5}-\d{2}$")
    mac: Series[str]
    locality_number: Series[str]
    state_name: Series[str]
    fee_schedule_area: Series[str]
    counties: Series[str]
    county_year: Series[int] = pa.Field(description="year of the locality-county file")
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class MedicareAmountSchema(pa.DataFrameModel):
    """A Medicare PFS allowed amount for one code, year, locality (or national) and setting."""

    year: Series[int]
    hcpcs: Series[str]
    modifier: Series[str]
    locality_id: Series[str] = pa.Field(description="'national' or MAC-locality like 01112-26")
    locality_name: Series[str]
    state: Series[str] = pa.Field(nullable=True)
    setting: Series[str] = pa.Field(isin=["facility", "non_facility"])
    payable: Series[bool] = pa.Field(description="False when the NA indicator is set or the status is not payable")
    work_rvu: Series[float]
    pe_rvu: Series[float]
    mp_rvu: Series[float]
    gpci_work: Series[float]
    gpci_pe: Series[float]
    gpci_mp: Series[float]
    gpci_year: Series[float] = pa.Field(nullable=True, description="year of the GPCI table used; empty for national")
    gpci_borrowed: Series[bool] = pa.Field(description="True when the GPCI table is another year's (none shipped)")
    conversion_factor: Series[float]
    amount: Series[float] = pa.Field(nullable=True, ge=0, description="dollars, rounded to cents; empty if not payable")

    class Config:
        strict = True
        coerce = True


class OppsRateSchema(pa.DataFrameModel):
    """One HCPCS row of an OPPS Addendum B (descriptor excluded)."""

    year: Series[int] = pa.Field(ge=2000)
    hcpcs: Series[str] = pa.Field(str_matches=r"^[0-9A-Z]{5}$", unique=True)
    hcpcs_raw: Series[str] = pa.Field(description="the code cell as published (a few carry stray bytes)")
    comment_indicator: Series[str]
    status_indicator: Series[str] = pa.Field(str_matches=r"^[A-Z][0-9]?$")
    apc: Series[str]
    relative_weight: Series[float] = pa.Field(nullable=True, ge=0)
    payment_rate: Series[float] = pa.Field(nullable=True, ge=0, description="national unadjusted, dollars")
    national_copayment: Series[float] = pa.Field(nullable=True, ge=0)
    minimum_copayment: Series[float] = pa.Field(nullable=True, ge=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class OppsApcSchema(pa.DataFrameModel):
    """One APC row of an OPPS Addendum A."""

    year: Series[int] = pa.Field(ge=2000)
    apc: Series[str] = pa.Field(str_matches=r"^\d{4}$", unique=True)
    group_title: Series[str]
    status_indicator: Series[str]
    relative_weight: Series[float] = pa.Field(nullable=True, ge=0)
    payment_rate: Series[float] = pa.Field(nullable=True, ge=0)
    national_copayment: Series[float] = pa.Field(nullable=True, ge=0)
    minimum_copayment: Series[float] = pa.Field(nullable=True, ge=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class ClfsRateSchema(pa.DataFrameModel):
    """One code + modifier row of the Clinical Laboratory Fee Schedule (descriptors excluded)."""

    year: Series[int] = pa.Field(ge=2000)
    hcpcs: Series[str] = pa.Field(str_matches=r"^[0-9A-Z]{5}$")
    modifier: Series[str]
    effective_date: Series[str] = pa.Field(str_matches=r"^\d{8}$")
    indicator: Series[str]
    rate: Series[float] = pa.Field(ge=0, description="national rate, dollars; 0.00 = no national rate")
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="one row per code + modifier")
    def unique_code_modifier(cls, df: pd.DataFrame) -> bool:
        return not df.duplicated(["hcpcs", "modifier"]).any()


class DrgWeightSchema(pa.DataFrameModel):
    """One MS-DRG of a CMS IPPS Table 5 (its title is CMS public text, read from the user's file)."""

    fiscal_year: Series[int] = pa.Field(ge=2000)
    drg: Series[str] = pa.Field(str_matches=r"^\d{3}$", unique=True)
    title: Series[str] = pa.Field(nullable=True, description="MS-DRG Title column, empty when the file has none")
    weight: Series[float] = pa.Field(nullable=True, gt=0)
    weight_column: Series[str]
    gmlos: Series[float] = pa.Field(nullable=True, ge=0)
    amlos: Series[float] = pa.Field(nullable=True, ge=0)
    source_file: Series[str]
    source_line: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        coerce = True


class DistributionSchema(pa.DataFrameModel):
    """Summary statistics of a rate distribution for one group (payer x setting x geography...)."""

    n: Series[int] = pa.Field(ge=0)
    min: Series[float] = pa.Field(nullable=True)
    p10: Series[float] = pa.Field(nullable=True)
    p25: Series[float] = pa.Field(nullable=True)
    median: Series[float] = pa.Field(nullable=True)
    p75: Series[float] = pa.Field(nullable=True)
    p90: Series[float] = pa.Field(nullable=True)
    max: Series[float] = pa.Field(nullable=True)
    mean: Series[float] = pa.Field(nullable=True)
    n_with_medicare: Series[int] = pa.Field(ge=0)
    median_pct_of_medicare: Series[float] = pa.Field(nullable=True)
    p25_pct_of_medicare: Series[float] = pa.Field(nullable=True)
    p75_pct_of_medicare: Series[float] = pa.Field(nullable=True)
    small_sample: Series[bool]

    class Config:
        coerce = True


RATE_COLUMNS: list[str] = list(RateSchema.to_schema().columns)
# Rate columns only hospital standard-charge files fill (every other source leaves them empty).
HOSPITAL_DETAIL_COLUMNS: list[str] = [
    "billing_code_raw",
    "billing_code_type_raw",
    "amount_raw",
    "methodology_raw",
    "negotiated_algorithm",
    "gross_charge",
    "discounted_cash",
    "min_charge",
    "max_charge",
    "estimated_amount",
    "median_amount",
    "p10_amount",
    "p90_amount",
    "allowed_count",
    "drug_unit",
    "drug_unit_type",
    "hospital_location",
    "hospital_address",
    "hospital_license",
]


def empty_rates() -> pd.DataFrame:
    """A zero-row table in the rate schema (a new frame each call, copied from one validated once per process)."""
    return empty_table(RateSchema)


def empty_table(model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row table of ``model`` (a new frame each call, copied from one validated once per process)."""
    return _validated_empty(model).copy()


@functools.cache
def _validated_empty(model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row table of ``model``, validated once per process (callers copy it or only read it)."""
    return model.validate(_untyped(list(model.to_schema().columns)))


def _untyped(columns: list[str]) -> pd.DataFrame:
    """A zero-row table of these columns, each of Python objects (what validation coerces from)."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def in_rate_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df.reindex(columns=RATE_COLUMNS)`` with the added columns (all missing) and the text columns held as Python
    objects already in the dtype :func:`validate_rates` coerces them to, so that :func:`check_built_rates` can take
    the table as it is. Only changes that coercion would make: an added column is all missing in either form; a
    column of ``str`` values (and missing ones) becomes the string dtype. Added ``bool`` columns stay as reindex
    makes them (NaN; pandera then decides). Built as one table from its columns (half the time of reindexing and
    setting the added columns one by one)."""
    if not df.columns.is_unique:
        raise ValueError(
            f"a rate table has each column once; repeated: {sorted(set(df.columns[df.columns.duplicated()]))}"
        )
    dtypes = _validated_empty(RateSchema).dtypes
    present = _dtypes(df)
    columns: dict[str, Any] = {}
    for name in RATE_COLUMNS:
        target, found = dtypes[name], present.get(name)
        if found is None:
            columns[name] = _missing(target, df.index)
        elif _python_text(df[name], found, target):
            columns[name] = df[name].astype(target).array
        else:
            columns[name] = df[name].array
    return pd.DataFrame(columns, index=df.index)


def _python_text(column: pd.Series, found: Any, target: Any) -> bool:
    """Whether ``column`` (of dtype ``found``) holds Python text and missing values only, to be held in the text
    dtype ``target``: a cast that changes no value (what pandera's coercion makes of it)."""
    return (
        found == np.dtype(object)
        and isinstance(target, pd.StringDtype)
        and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    )


def _nullable_integers(found: Any, target: Any) -> bool:
    """Whether ``found`` is a numpy integer dtype and ``target`` a pandas extension integer dtype (``Int64``...)."""
    return (
        _is_numpy_number(found)
        and found.kind in "iu"
        and isinstance(target, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_integer_dtype(target)
    )


def _dtypes(df: pd.DataFrame) -> dict[Any, Any]:
    """Column -> dtype, in one call (not a Series per column)."""
    return dict(zip(df.columns, df.dtypes, strict=True))


def _missing(target: Any, index: pd.Index) -> Any:
    """A column of missing values for ``index``: in ``target`` (text held by Arrow: Arrow's nulls), a ``bool`` target
    as reindex adds it (NaN)."""
    if pd.api.types.is_bool_dtype(target):
        return np.full(len(index), np.nan)
    if isinstance(target, pd.StringDtype) and target.storage == "pyarrow":
        return pd.arrays.ArrowStringArray(pa_lib.nulls(len(index), pa_lib.large_string()), dtype=target)
    return pd.Series(index=index, dtype=target).array


def validate_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Validate (and coerce) a rate table, reporting every failing column at once."""
    return RateSchema.validate(df, lazy=True)


def check_built_rates(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`validate_rates` for a rate table built with the exact columns and dtypes already (a reader's batch of
    typed Arrow / numpy columns): :func:`check_built` with :class:`RateSchema`."""
    return check_built(RateSchema, df)


def check_built(model: type[pa.DataFrameModel], df: pd.DataFrame, *, lazy: bool = True) -> pd.DataFrame:
    """``model.validate(df, lazy=lazy)`` for a table built in the model's columns and dtypes already: the same rules,
    checked column by column without pandera's fixed cost (~0.05-0.3 s per call, most of it set-up; the rules
    themselves take a few ms on 65,000 rows).

    Checked here: exactly the model's columns (in its order when the model is ``ordered``), each column's dtype equal
    to the one ``model.validate`` gives it (so its coercion would change nothing), no missing value in a non-nullable
    column, no repeated value in a ``unique`` column, every column check (pandera's builtin checks as the same pandas
    operation pandera runs, on the column's distinct non-missing values; any other check through pandera's own
    ``Check``), and every table-level check through pandera's own ``Check``.

    Returns ``df`` itself when all of that holds. Otherwise (a rule fails, a value would be coerced, or the model uses
    a feature this function does not cover: an index, regex columns, table-level ``unique``, checks that do not skip
    missing values, warnings instead of errors) the table goes to ``model.validate``, which coerces it or raises the
    errors it always raises, with the same message: a bad table fails exactly as it would have.
    """
    known = _fast_rules(model)
    if known is not None and isinstance(df, pd.DataFrame) and _same_columns(known, df):
        typed = df if _typed(known, df) else _cast(known, df)
        typed = _coerced(model, df) if typed is None else typed
        if typed is not None and _fast_rules_hold(known, typed):
            return typed
    return model.validate(df, lazy=lazy)


def _cast(known: _FastRules, df: pd.DataFrame) -> pd.DataFrame | None:
    """``df`` with its columns cast to the model's dtypes, when every column to cast is one of the two kinds a built
    table usually has and the cast is exact: Python text and missing values (``object``) to text, numpy integers to
    pandas' nullable integers. None otherwise (pandera's own coercion then decides). The caller's table is unchanged."""
    dtypes = _dtypes(df)
    cast = {}
    for name, target in known.dtypes.items():
        found = dtypes[name]
        if found == target:
            continue
        if not (_python_text(df[name], found, target) or _nullable_integers(found, target)):
            return None
        try:
            cast[name] = df[name].astype(target)
        except (TypeError, ValueError, OverflowError):  # an integer the target cannot hold: pandera reports it
            return None
    return df.assign(**cast)


def _coerced(model: type[pa.DataFrameModel], df: pd.DataFrame) -> pd.DataFrame | None:
    """A copy of ``df`` with pandera's own coercion of the model (the first step of ``model.validate``); None if it fails."""
    try:
        return model.to_schema().coerce_dtype(df.copy())  # a copy, as validate makes: coerce_dtype works in place
    except (SchemaError, SchemaErrors):
        return None


_SeriesRule = Callable[[pd.Series], "pd.Series | bool"]

# pandera's comparison checks, as the operators pandera applies (``values > min_value``, ...): the same operator on a
# Series or on a column's numpy values.
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "greater_than": operator.gt,
    "greater_than_or_equal_to": operator.ge,
    "less_than": operator.lt,
    "less_than_or_equal_to": operator.le,
}


class _Rule(NamedTuple):
    """One column check for :func:`check_built`: ``on_series`` is the check as the pandas operation pandera runs (or
    pandera itself), the reference; ``kind`` and ``arg`` let :func:`_holds` run the same operation on a column's Arrow
    or numpy values without building a Series (``kind`` "" when only the Series form exists). ``passed`` holds text
    values a ``str_matches`` rule has passed before (a pattern's verdict on a value never changes), at most
    ``_PASSED_MAX`` of them."""

    kind: str
    arg: Any
    on_series: _SeriesRule
    passed: set[str]


_PASSED_MAX = 10_000  # values remembered per str_matches rule: states, localities, file hashes seen by this process


def _check_rule(check: pa.Check) -> _Rule | None:
    """The rule of one column check as a pandas operation on distinct non-missing values: pandera's builtin checks
    as the expressions pandera runs (pandera/backends/pandas/builtin_checks.py), any other check through pandera
    itself; None when the check does not behave like an element-wise rule that skips missing values."""
    if not check.ignore_na or check.raise_warning or check.groupby is not None or check.n_failure_cases is not None:
        return None
    name, stats = check.name, check.statistics or {}
    if name == f"str_matches('{SHA256_PATTERN}')" and not stats:  # RateSchema.source_sha256_is_a_hash
        return _Rule("str_matches", None, lambda values: values.str.match(SHA256_PATTERN, na=False), set())
    if name == "isin":
        allowed = list(stats["allowed_values"])
        return _Rule(
            "isin",
            tuple(value for value in allowed if isinstance(value, str)),
            lambda values: values.isin(allowed),
            set(),
        )
    if name in _COMPARE:
        bound = stats["max_value" if name.startswith("less") else "min_value"]
        compare = _COMPARE[name]
        return _Rule(name, bound, lambda values: compare(values, bound), set())
    if name == "str_matches":
        pattern = stats["pattern"]
        return _Rule("str_matches", None, lambda values: values.str.match(pattern, na=False), set())
    if name == "str_length" and stats.get("exact_value") is None and stats.get("max_value") is None:
        shortest = stats["min_value"]
        return _Rule("str_length", shortest, lambda values: values.str.len() >= shortest, set())
    # any other check: pandera's own verdict on the distinct values
    return _Rule("", None, lambda values: check(values).check_passed, set())


class _FastRules(NamedTuple):
    """What :func:`check_built` checks for one model."""

    names: list[str]  # the model's columns, in its order
    strict: bool  # no other column allowed (otherwise others may follow, unchecked, as pandera leaves them)
    ordered: bool
    dtypes: dict[str, Any]  # column -> the dtype ``model.validate`` gives it
    columns: list[tuple[str, bool, bool, list[_Rule]]]  # (column, nullable, unique, rules)
    table_checks: list[pa.Check]


@functools.cache
def _fast_rules(model: type[pa.DataFrameModel]) -> _FastRules | None:
    """The model's rules for :func:`check_built`, or None when it uses something check_built does not check itself."""
    schema = model.to_schema()
    if schema.index is not None or schema.unique or schema.add_missing_columns or schema.drop_invalid_rows:
        return None
    if schema.strict not in (True, False) or (schema.ordered and not schema.strict):  # "filter", or order among others
        return None
    if any(c.raise_warning or c.groupby is not None or c.n_failure_cases is not None for c in schema.checks):
        return None
    names = list(schema.columns)
    dtypes = dict(schema.coerce_dtype(_untyped(names)).dtypes)
    columns = []
    for name, column in schema.columns.items():
        if column.regex or not column.required:
            return None
        found = [_check_rule(check) for check in column.checks]
        rules = [rule for rule in found if rule is not None]
        if len(rules) < len(found):
            return None
        columns.append((name, bool(column.nullable), bool(column.unique), rules))
    return _FastRules(names, bool(schema.strict), bool(schema.ordered), dtypes, columns, list(schema.checks))


def _same_columns(known: _FastRules, df: pd.DataFrame) -> bool:
    """``df`` has the model's columns (and no other when the model is strict), in its order when it is ordered."""
    if not df.columns.is_unique:
        return False
    if known.ordered:
        return list(df.columns) == known.names
    if known.strict:
        return len(df.columns) == len(known.names) and set(df.columns) == set(known.names)
    return set(known.names) <= set(df.columns)


def _typed(known: _FastRules, df: pd.DataFrame) -> bool:
    dtypes = _dtypes(df)
    return all(dtypes[name] == dtype for name, dtype in known.dtypes.items())


def _fast_rules_hold(known: _FastRules, df: pd.DataFrame) -> bool:
    """Whether ``df`` (with the model's columns) passes the model as it is (see :func:`check_built`)."""
    dtypes = _dtypes(df)
    for name, nullable, unique, rules in known.columns:
        if dtypes[name] != known.dtypes[name]:
            return False
        if not rules and nullable and not unique:
            continue
        series = df[name]
        has_missing = _has_missing(series)
        if has_missing and (not nullable or unique):
            return False
        if unique and series.duplicated().any():
            return False
        if rules:
            present = _present(series, has_missing)
            if not all(_holds(rule, present, series.dtype) for rule in rules):
                return False
    return all(_passed(check(df).check_passed) for check in known.table_checks)


# A column's non-missing values as :func:`_holds` takes them: Arrow's distinct values for text held by Arrow, the
# numpy values for a numpy number or bool column, the distinct values as a Series otherwise.
_Present: TypeAlias = "pa_lib.ChunkedArray | pa_lib.Array | np.ndarray | pd.Series"


def _is_numpy_number(dtype: object) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _has_missing(series: pd.Series) -> bool:
    """Whether a column holds a missing value (text held by Arrow: Arrow's null count; numpy numbers: NaN, the only
    missing value they can hold; no mask Series built)."""
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        return bool(series.array.__arrow_array__().null_count)
    if _is_numpy_number(series.dtype):
        return series.dtype.kind == "f" and bool(np.isnan(series.to_numpy()).any())
    return bool(series.isna().any())


def _present(series: pd.Series, has_missing: bool) -> _Present:
    """The column's non-missing values in the form :func:`_holds` takes (see ``_Present``)."""
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        return pc.unique(series.array.__arrow_array__()).drop_null()
    if _is_numpy_number(series.dtype):
        values = series.to_numpy()
        return values[~np.isnan(values)] if has_missing else values
    if isinstance(series.array, pd.arrays.IntegerArray):  # Int64 and kin: the present values as plain numpy integers
        array = series.array
        return (array[~array.isna()] if has_missing else array).to_numpy()
    present = series[series.notna()] if has_missing else series
    return pd.Series(present.unique(), dtype=series.dtype)


def _holds(rule: _Rule, present: _Present, dtype: Any) -> bool:
    """Whether every value in ``present`` passes ``rule``: on Arrow text, Arrow's ``is_in`` and ``utf8_length``
    (the kernels pandas runs for ``isin`` and ``str.len`` on text held by Arrow); on numpy numbers, numpy's
    comparison (what the Series comparison runs); any other rule on the distinct values as a Series."""
    if isinstance(present, pa_lib.Array | pa_lib.ChunkedArray):
        if rule.kind == "isin":
            allowed = pa_lib.array(rule.arg, type=present.type)
            return len(present) == 0 or bool(pc.all(pc.is_in(present, value_set=allowed)).as_py())
        if rule.kind == "str_length":
            return len(present) == 0 or pc.min(pc.utf8_length(present)).as_py() >= rule.arg
        if rule.kind == "str_matches":
            return _matches(rule, present.to_pylist(), dtype)
        present = pd.Series(pd.arrays.ArrowStringArray(present, dtype=dtype))
    elif isinstance(present, np.ndarray):
        if rule.kind in _COMPARE:
            return bool(_COMPARE[rule.kind](present, rule.arg).all())
        present = pd.Series(pd.unique(present), dtype=dtype)
    return _passed(rule.on_series(present))


def _matches(rule: _Rule, values: list[str], dtype: Any) -> bool:
    """A ``str_matches`` rule on distinct text values: the pandas operation on the values it has not passed before."""
    new = [value for value in values if value not in rule.passed]
    if not new:
        return True
    if not _passed(rule.on_series(pd.Series(new, dtype=dtype))):
        return False
    if len(rule.passed) + len(new) <= _PASSED_MAX:
        rule.passed.update(new)
    return True


def _passed(result: object) -> bool:
    """A rule's outcome as one bool: every element True (a missing result counts as failed: pandera decides)."""
    if isinstance(result, pd.Series | pd.DataFrame):
        return bool(result.fillna(False).astype(bool).to_numpy().all())
    return bool(result)


def empty_quarantine() -> pd.DataFrame:
    """A zero-row quarantine table (a new frame each call, copied from one validated once per process)."""
    return empty_table(QuarantineSchema)


def optional(value: object) -> str | None:
    """Text of a value, or None for missing/blank."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None
