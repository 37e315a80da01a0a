"""What each payer requires and how it pays modifiers: policy tables, the policy matrix and modifier payments.

Policies are plain CSV files in ``data/policy/`` (schema in its ``README.md``, contract in :class:`PolicySchema`):
one row is one payer's rule of one type (prior authorization, site of service, medical necessity, modifier rule,
global days, assistant at surgery, co-surgery, team surgery, bilateral surgery, multiple procedure reduction) for a
code, a code range or all codes, with its value, the percent of the allowed amount a modifier pays, the effective
date, the source (title and URL) and when it was last reviewed. Each row says what it rests on (``basis``):

- ``published``: a payer's public policy, cited (title, URL and effective date are required);
- ``derived``: computed from public data, here Medicare's rows from the CMS PFS indicators (:func:`medicare_policies`);
- ``illustrative``: made up for the synthetic sample; used only with synthetic data and always labelled so.

A row with ``status`` ``unknown`` says explicitly that the fact is not known (and why, in ``note``); no row at all is
unknown too. Both render as "Data not available".

Public entry points, in the order a report uses them:

- :func:`load_policies` / :func:`read_policy_file`: validated policy rows (bad rows rejected with file, line,
  column and reason).
- :func:`medicare_policies`: Medicare's rows for a code, derived from its PFS indicators.
- :func:`policy_matrix`: payers x policy types for a code (one row per cell, "missing" where nothing is known).
- :func:`modifier_payments`: what each modifier pays for each payer, in percent of the code's allowed amount and in
  dollars against a base amount per payer.
- :func:`policy_gaps`: the matrix's holes and caveats in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import config
from benchmark.errors import InputFileError
from benchmark.reference import medicare
from benchmark.schema import PAYER_FAMILIES, PRODUCT_LINES, check_built, optional

POLICY_DIR: Path = config.DATA_DIR / "policy"
# Policy type key -> label, in the order the matrix shows them.
POLICY_TYPES: dict[str, str] = {
    "prior_authorization": "Prior authorization",
    "site_of_service": "Site of service",
    "medical_necessity": "Medical necessity",
    "global_days": "Global days",
    "multiple_procedure_reduction": "Multiple procedure reduction",
    "assistant_at_surgery": "Assistant at surgery",
    "co_surgery": "Co-surgery",
    "team_surgery": "Team surgery",
    "bilateral_surgery": "Bilateral surgery",
    "modifier_rule": "Modifier rules",
}
BASES = ["published", "derived", "illustrative"]
STATUSES = ["known", "unknown"]
ALL_PRODUCTS = "all"
ALL_CODES = "ALL"
# The modifiers whose payment effect the report computes, in table order.
PAYMENT_MODIFIERS = medicare.PAYMENT_MODIFIERS
# PFS indicators a policy row may condition on (``applies_if``: "co_surg in 1|2").
CONDITION_FIELDS = (
    "status_code",
    "global_days",
    "mult_proc",
    "bilat_surg",
    "asst_surg",
    "co_surg",
    "team_surg",
    "pctc_ind",
)
CMS_PFS_URL = "https://www.cms.gov/medicare/payment/fee-schedules/physician/pfs-relative-value-files"
CMS_CLAIMS_MANUAL_CH12 = (
    "Medicare Claims Processing Manual, Chapter 12 (physicians / nonphysician practitioners), "
    "section 40 (surgeons and global surgery)"
)
CMS_CLAIMS_MANUAL_CH12_URL = "https://www.cms.gov/regulations-and-guidance/guidance/manuals/downloads/clm104c12.pdf"
_CODE = r"[0-9A-Z]{4}[0-9A-Z]"
_CODES_PATTERN = rf"^(ALL|{_CODE}(-{_CODE})?)$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_CONDITION_PATTERN = rf"^({'|'.join(CONDITION_FIELDS)}) in [0-9A-Z]+(\|[0-9A-Z]+)*$"
_FILE_COLUMNS = [
    "policy_id",
    "payer_family",
    "payer_brand",
    "product_line",
    "codes",
    "applies_if",
    "policy_type",
    "modifier",
    "value",
    "payment_pct",
    "status",
    "basis",
    "effective_date",
    "source_title",
    "source_url",
    "last_reviewed",
    "note",
]


class PolicyFileError(InputFileError):
    """A policy file with rows that break the schema (the message lists file, line, column and reason)."""


# --------------------------------------------------------------------------------------------------- schema
class PolicySchema(pa.DataFrameModel):
    """One payer policy row (see data/policy/README.md)."""

    policy_id: Series[str] = pa.Field(str_matches=r"^[a-z0-9][a-z0-9_.-]*$", unique=True)
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    payer_brand: Series[str] = pa.Field(nullable=True, description="empty: the whole family")
    product_line: Series[str] = pa.Field(isin=[*PRODUCT_LINES, ALL_PRODUCTS])
    codes: Series[str] = pa.Field(str_matches=_CODES_PATTERN, description="a code, FROM-TO (inclusive) or ALL")
    applies_if: Series[str] = pa.Field(
        nullable=True, str_matches=_CONDITION_PATTERN, description="PFS indicator condition, e.g. 'asst_surg in 0|2'"
    )
    policy_type: Series[str] = pa.Field(isin=list(POLICY_TYPES))
    modifier: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9A-Z]{2}$")
    value: Series[str] = pa.Field(
        str_matches=r"^.*[A-Za-z]",
        str_length={"max_value": 90},
        description="short words (the matrix cell); never a bare number",
    )
    payment_pct: Series[float] = pa.Field(
        nullable=True, ge=0, le=400, description="percent of the code's allowed amount paid with the modifier"
    )
    status: Series[str] = pa.Field(isin=STATUSES)
    basis: Series[str] = pa.Field(isin=BASES)
    effective_date: Series[str] = pa.Field(nullable=True, str_matches=_DATE_PATTERN)
    source_title: Series[str] = pa.Field(nullable=True)
    source_url: Series[str] = pa.Field(nullable=True, str_matches=r"^https?://\S+$")
    last_reviewed: Series[str] = pa.Field(str_matches=_DATE_PATTERN)
    note: Series[str] = pa.Field(nullable=True)
    policy_file: Series[str]
    policy_line: Series[int] = pa.Field(ge=2)

    class Config:
        strict = True
        coerce = True
        ordered = True

    @pa.dataframe_check(error="a published or derived fact needs effective_date, source_title and source_url")
    def cited_facts_have_a_source(cls, df: pd.DataFrame) -> Series[bool]:
        needs = df["basis"].isin(["published", "derived"]) & df["status"].eq("known")
        has = df["effective_date"].notna() & df["source_title"].notna() & df["source_url"].notna()
        return ~needs | has

    @pa.dataframe_check(error="illustrative rows must not claim a source URL (they are not real policies)")
    def illustrative_rows_cite_nothing(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df["basis"].eq("illustrative") | df["source_url"].isna()

    @pa.dataframe_check(error="Medicare rows are derived from CMS data, never illustrative")
    def medicare_is_never_illustrative(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(df["payer_family"].eq("Medicare") & df["basis"].eq("illustrative"))

    @pa.dataframe_check(error="modifier_rule rows name a modifier; payment_pct needs a modifier")
    def modifier_rows_name_the_modifier(cls, df: pd.DataFrame) -> Series[bool]:
        missing = df["policy_type"].eq("modifier_rule") & df["modifier"].isna()
        orphan_pct = df["payment_pct"].notna() & df["modifier"].isna()
        return ~(missing | orphan_pct)

    @pa.dataframe_check(error="an unknown row carries no payment_pct and says why in note")
    def unknown_rows_explain(cls, df: pd.DataFrame) -> Series[bool]:
        unknown = df["status"].eq("unknown")
        return ~unknown | (df["payment_pct"].isna() & df["note"].notna())

    @pa.dataframe_check(error="code range must run from a lower to a higher code of the same form")
    def code_ranges_are_ordered(cls, df: pd.DataFrame) -> Series[bool]:
        return df["codes"].map(_range_ok).astype(bool)

    @pa.dataframe_check(
        error="effective_date and last_reviewed must be real calendar dates, last_reviewed not in the future"
    )
    def dates_are_real(cls, df: pd.DataFrame) -> Series[bool]:
        today = date.today().isoformat()
        effective = df["effective_date"].map(lambda v: v is None or pd.isna(v) or _is_date(v)).astype(bool)
        reviewed = df["last_reviewed"].map(lambda v: _is_date(v) and v <= today).astype(bool)
        return effective & reviewed


class PolicyMatrixSchema(pa.DataFrameModel):
    """One cell of the payers x policy types matrix for one code."""

    payer_key: Series[str] = pa.Field(str_matches=r"^[^.]+$")
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    payer_brand: Series[str] = pa.Field(nullable=True)
    policy_type: Series[str] = pa.Field(isin=list(POLICY_TYPES))
    status: Series[str] = pa.Field(isin=[*STATUSES, "missing"])
    value: Series[str] = pa.Field(nullable=True)
    basis: Series[str] = pa.Field(nullable=True, isin=BASES)
    effective_date: Series[str] = pa.Field(nullable=True)
    source_title: Series[str] = pa.Field(nullable=True)
    source_url: Series[str] = pa.Field(nullable=True)
    policy_id: Series[str] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        ordered = True


class ModifierPaymentSchema(pa.DataFrameModel):
    """What one modifier pays for one payer: percent of the code's allowed amount and dollars against a base."""

    modifier: Series[str] = pa.Field(isin=list(PAYMENT_MODIFIERS))
    payer_key: Series[str] = pa.Field(str_matches=r"^[^.]+$")
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    rule: Series[str] = pa.Field(nullable=True)
    payment_pct: Series[float] = pa.Field(nullable=True, ge=0)
    change_pct: Series[float] = pa.Field(nullable=True)
    base_amount: Series[float] = pa.Field(nullable=True, gt=0)
    amount: Series[float] = pa.Field(nullable=True, ge=0)
    change_usd: Series[float] = pa.Field(nullable=True)
    basis: Series[str] = pa.Field(nullable=True, isin=BASES)
    effective_date: Series[str] = pa.Field(nullable=True)
    source_title: Series[str] = pa.Field(nullable=True)
    source_url: Series[str] = pa.Field(nullable=True)
    policy_id: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        ordered = True


# --------------------------------------------------------------------------------------------------- loading
@dataclass
class PolicyLoad:
    """Validated policy rows plus the rows rejected (file, line, column, reason)."""

    policies: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "line", "column", "reason"]))

    def raise_if_rejected(self) -> None:
        if len(self.rejected):
            lines = [f"{r.file}, line {r.line}: column {r.column!r}: {r.reason}" for r in self.rejected.itertuples()]
            raise PolicyFileError(f"{len(self.rejected)} bad policy row(s):\n  " + "\n  ".join(lines))


def load_policies(
    paths: Iterable[str | Path] | None = None, *, include_illustrative: bool = True, strict: bool = True
) -> pd.DataFrame:
    """Every policy row of ``paths`` (default: every ``data/policy/*.csv``), validated.

    ``include_illustrative=False`` drops the rows made up for the synthetic sample (use it with real data).
    ``strict`` raises :class:`PolicyFileError` listing every bad row; otherwise bad rows are left out (use
    :func:`read_policy_file` to see them).
    """
    files = sorted(POLICY_DIR.glob("*.csv")) if paths is None else [Path(p) for p in paths]
    loads = [read_policy_file(path) for path in files]
    if strict:
        for load in loads:
            load.raise_if_rejected()
    frames = [load.policies for load in loads if len(load.policies)]
    table = pd.concat(frames, ignore_index=True) if frames else _empty_policies()
    duplicated = table["policy_id"].duplicated(keep=False)
    if duplicated.any():
        where = [f"{r.policy_file}, line {r.policy_line}" for r in table[duplicated].itertuples()]
        raise PolicyFileError(
            f"policy_id repeated across files: {sorted(set(table.loc[duplicated, 'policy_id']))} ({'; '.join(where)})"
        )
    if not include_illustrative:
        table = table[table["basis"] != "illustrative"]
    return check_built(PolicySchema, table.reset_index(drop=True))


def read_policy_file(path: str | Path) -> PolicyLoad:
    """One policy CSV: the rows that pass :class:`PolicySchema` and, apart, every rejected row with its reasons."""
    file = Path(path)
    raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    missing = [c for c in _FILE_COLUMNS if c not in raw.columns]
    extra = [c for c in raw.columns if c not in _FILE_COLUMNS]
    if missing or extra:
        raise PolicyFileError(f"{file}, line 1: columns must be {_FILE_COLUMNS}; missing {missing}, unexpected {extra}")
    frame = raw.apply(lambda column: column.str.strip()).replace("", None)
    frame["policy_file"] = file.name
    frame["policy_line"] = range(2, len(frame) + 2)
    rejected: list[dict] = []
    bad_index: set[int] = set()
    pct = pd.to_numeric(frame["payment_pct"], errors="coerce")
    for index in frame.index[frame["payment_pct"].notna() & pct.isna()]:
        rejected.append(_rejection(frame, index, "payment_pct", f"not a number: {frame.at[index, 'payment_pct']!r}"))
        bad_index.add(index)
    frame["payment_pct"] = pct
    try:  # check_built: pandera's validate, and its failure cases, only when a rule fails
        check_built(PolicySchema, frame)
    except pa.errors.SchemaErrors as error:
        for case in error.failure_cases.itertuples():
            if case.index is None or pd.isna(case.index):
                raise PolicyFileError(f"{file}: {case.check} ({case.failure_case!r})") from None
            index = int(case.index)
            row_check = case.schema_context == "DataFrameSchema"  # reported once per column: one row problem
            column = case.column if not row_check and isinstance(case.column, str) and case.column in frame else "(row)"
            reason = _reason(case.check, case.failure_case, column)
            rejected.append(_rejection(frame, index, column, reason))
            bad_index.add(index)
    good = frame.drop(index=sorted(bad_index))
    good = check_built(PolicySchema, good) if len(good) else _empty_policies()
    table = pd.DataFrame.from_records(rejected, columns=["file", "line", "column", "reason"]).drop_duplicates()
    return PolicyLoad(good.reset_index(drop=True), table.sort_values(["line", "column"], ignore_index=True))


# --------------------------------------------------------------------------------------------------- Medicare
def medicare_policies(
    code: str, year: int = config.DEFAULT_MEDICARE_YEAR, *, reviewed: date | None = None
) -> pd.DataFrame:
    """Medicare's policy rows for ``code``, derived from its PFS indicators in the ``year`` release.

    Global days (with the pre / intra / post shares), multiple-procedure reduction, bilateral, assistant, co- and
    team surgery, and the site-of-service rule of the NA indicators; prior authorization and medical necessity are
    explicit unknowns (not PFS concepts; no NCD / LCD or prior-authorization source is loaded). Modifier rows carry
    the percent of the fee-schedule amount Medicare pays (Medicare Claims Processing Manual, ch. 12). A code not in
    the release gives explicit unknown rows only.
    """
    reviewed_on = (reviewed or date.today()).isoformat()
    try:
        ind = medicare.pfs_indicators(code, year)
    except KeyError:
        rows = [
            _unknown_medicare(code, year, key, f"{code} is not in the {year} PFS release", reviewed_on)
            for key in POLICY_TYPES
            if key != "modifier_rule"
        ]
        return _finish(rows, "derived:medicare")
    meaning = ind.meanings()
    pfs = {
        "source_title": f"CMS PFS relative value file {ind.source_file}, line {ind.source_line} "
        f"(payment year {ind.year})",
        "source_url": CMS_PFS_URL,
    }
    manual = {
        "source_title": f"{CMS_CLAIMS_MANUAL_CH12}; indicators from {ind.source_file}, line {ind.source_line}",
        "source_url": CMS_CLAIMS_MANUAL_CH12_URL,
    }
    rows = [
        _medicare_row(code, year, "site_of_service", _site_value(ind), meaning["site_of_service"], pfs, reviewed_on),
        _medicare_row(
            code,
            year,
            "global_days",
            _global_value(ind),
            f"{meaning['global_days']}; {meaning['global_shares']}",
            pfs,
            reviewed_on,
        ),
        _medicare_row(
            code,
            year,
            "multiple_procedure_reduction",
            _indicator_value("MULT PROC", ind.mult_proc, meaning["multiple_procedure"]),
            meaning["multiple_procedure"],
            pfs,
            reviewed_on,
        ),
        _medicare_row(
            code,
            year,
            "assistant_at_surgery",
            _indicator_value("ASST SURG", ind.asst_surg, meaning["assistant_at_surgery"]),
            meaning["assistant_at_surgery"],
            pfs,
            reviewed_on,
        ),
        _medicare_row(
            code,
            year,
            "co_surgery",
            _indicator_value("CO-SURG", ind.co_surg, meaning["co_surgeons"]),
            meaning["co_surgeons"],
            pfs,
            reviewed_on,
        ),
        _medicare_row(
            code,
            year,
            "team_surgery",
            _indicator_value("TEAM SURG", ind.team_surg, meaning["team_surgery"]),
            meaning["team_surgery"],
            pfs,
            reviewed_on,
        ),
        _medicare_row(
            code,
            year,
            "bilateral_surgery",
            _indicator_value("BILAT SURG", ind.bilat_surg, meaning["bilateral"]),
            meaning["bilateral"],
            pfs,
            reviewed_on,
        ),
        _unknown_medicare(
            code,
            year,
            "prior_authorization",
            "Prior authorization is not a PFS indicator; no Medicare prior-authorization list is loaded",
            reviewed_on,
        ),
        _unknown_medicare(
            code, year, "medical_necessity", "Medical-necessity coverage (NCDs / LCDs) is not loaded", reviewed_on
        ),
    ]
    for modifier, (pct, value) in medicare_modifier_rules(ind).items():
        row = _medicare_row(code, year, "modifier_rule", value, None, manual, reviewed_on)
        row.update(
            policy_id=f"medicare-{year}-{code.lower()}-mod-{modifier.lower()}", modifier=modifier, payment_pct=pct
        )
        rows.append(row)
    return _finish(rows, "derived:medicare")


def medicare_modifier_rules(ind: medicare.PfsIndicators) -> dict[str, tuple[float | None, str]]:
    """Modifier -> (percent of the fee-schedule amount, rule in words) under Medicare's rules for these indicators.

    Percent is None when Medicare prices the line by report or at the contractor's discretion, and when the concept
    does not apply to the code; 0 when Medicare does not pay the modifier for the code. The rules themselves live in
    :func:`benchmark.reference.medicare.modifier_rules`.
    """
    return {m: (effect.payment_pct, effect.rule) for m, effect in medicare.modifier_rules(ind).items()}


# --------------------------------------------------------------------------------------------------- matrix
def policy_matrix(
    code: str,
    policies: pd.DataFrame,
    *,
    families: Sequence[str],
    product_lines: Sequence[str] = ("commercial",),
    year: int = config.DEFAULT_MEDICARE_YEAR,
    as_of: date | None = None,
) -> pd.DataFrame:
    """Payers x policy types for ``code``: one validated row per cell (:class:`PolicyMatrixSchema`).

    ``policies`` holds the payer rows (:func:`load_policies`) and Medicare's (:func:`medicare_policies`). Rows are
    Medicare, then each of ``families`` (family-wide policies), then each brand with brand-specific policies for the
    code (for example one BCBS licensee's published policy). For each cell the most specific applicable policy wins:
    the exact code over a range over ALL, a product line over ``all``, then the latest effective date not after
    ``as_of``. The ``modifier_rule`` cell counts the payer's modifier rules (see :func:`modifier_payments`).
    """
    indicators = _indicators(code, year)
    applicable = applicable_policies(code, policies, product_lines=product_lines, indicators=indicators, as_of=as_of)
    by_payer = _by_payer(applicable)
    records = []
    for key, family, brand in _payer_rows(applicable, families):
        mine = by_payer.get((family, brand), [])
        for policy_type in POLICY_TYPES:
            cell = [row for row in mine if row["policy_type"] == policy_type]
            if policy_type == "modifier_rule":
                records.append(_modifier_cell(key, family, brand, cell))
                continue
            best = _most_specific(cell)
            if best is None:
                records.append(_empty_cell(key, family, brand, policy_type))
            else:
                records.append(
                    {
                        "payer_key": key,
                        "payer_family": family,
                        "payer_brand": brand,
                        "policy_type": policy_type,
                        "status": best["status"],
                        "value": best["value"] if best["status"] == "known" else None,
                        "basis": best["basis"],
                        "effective_date": optional(best["effective_date"]),
                        "source_title": optional(best["source_title"]),
                        "source_url": optional(best["source_url"]),
                        "policy_id": best["policy_id"],
                        "note": optional(best["note"]),
                    }
                )
    frame = pd.DataFrame.from_records(records, columns=list(PolicyMatrixSchema.to_schema().columns))
    return check_built(PolicyMatrixSchema, frame)


def applicable_policies(
    code: str,
    policies: pd.DataFrame,
    *,
    product_lines: Sequence[str] = ("commercial",),
    indicators: medicare.PfsIndicators | None = None,
    as_of: date | None = None,
) -> pd.DataFrame:
    """The rows of ``policies`` that apply to ``code``: code or range, product line (or ``all``), the PFS
    condition of ``applies_if``, and an effective date not after ``as_of`` (today by default)."""
    if policies.empty:
        return policies
    day = (as_of or date.today()).isoformat()
    lines = set(product_lines) | {ALL_PRODUCTS}
    keep = (
        policies["codes"].map(lambda codes: code_matches(code, codes)).astype(bool)
        & policies["product_line"].isin(lines)
        & policies["applies_if"].map(lambda condition: condition_holds(condition, indicators)).astype(bool)
        & policies["effective_date"].map(lambda d: d is None or pd.isna(d) or d <= day).astype(bool)
    )
    return policies[keep]


def code_matches(code: str, codes: str) -> bool:
    """Whether ``code`` is ``codes`` (a code, an inclusive ``FROM-TO`` range of codes of the same form, or ALL)."""
    if codes == ALL_CODES:
        return True
    if "-" not in codes:
        return code == codes
    low, high = codes.split("-")
    return len(code) == len(low) and _same_form(code, low) and low <= code <= high


def condition_holds(condition: str | None, indicators: medicare.PfsIndicators | None) -> bool:
    """``applies_if`` ("co_surg in 1|2") against the code's PFS indicators; no condition always holds, and a
    condition cannot hold for a code without indicators."""
    if condition is None or (isinstance(condition, float) and pd.isna(condition)):
        return True
    if indicators is None:
        return False
    name, values = condition.split(" in ")
    return str(getattr(indicators, name)) in values.split("|")


# --------------------------------------------------------------------------------------------------- modifiers
def modifier_payments(
    code: str,
    policies: pd.DataFrame,
    *,
    payers: Sequence[tuple[str, str, str | None]],
    base_amounts: Mapping[str, float | None],
    product_lines: Sequence[str] = ("commercial",),
    year: int = config.DEFAULT_MEDICARE_YEAR,
    as_of: date | None = None,
) -> pd.DataFrame:
    """What each of :data:`PAYMENT_MODIFIERS` pays for each payer (``(payer_key, family, brand)``), validated.

    ``payment_pct`` is the percent of the code's allowed amount without the modifier (Medicare: PFS rules; other
    payers: their ``modifier_rule`` rows), ``change_pct`` = payment_pct - 100, and with a base amount for the payer
    (Medicare: the national fee-schedule amount; a commercial payer: its median benchmark rate)
    ``amount`` = base x payment_pct / 100 rounded half-up to cents and ``change_usd`` = amount - base. A modifier
    the payer states no percent for has empty numbers and, if a rule in words exists, that rule.
    """
    indicators = _indicators(code, year)
    applicable = applicable_policies(code, policies, product_lines=product_lines, indicators=indicators, as_of=as_of)
    applicable = applicable[applicable["policy_type"] == "modifier_rule"]
    by_payer = _by_payer(applicable)
    records = []
    for modifier in PAYMENT_MODIFIERS:
        for key, family, brand in payers:
            best = _most_specific([row for row in by_payer.get((family, brand), []) if row["modifier"] == modifier])
            base = base_amounts.get(key)
            record = {
                "modifier": modifier,
                "payer_key": key,
                "payer_family": family,
                "rule": None,
                "payment_pct": None,
                "change_pct": None,
                "base_amount": base,
                "amount": None,
                "change_usd": None,
                "basis": None,
                "effective_date": None,
                "source_title": None,
                "source_url": None,
                "policy_id": None,
            }
            if best is not None and best["status"] == "known":
                pct = optional_float(best["payment_pct"])
                record.update(
                    rule=best["value"],
                    payment_pct=pct,
                    basis=best["basis"],
                    effective_date=optional(best["effective_date"]),
                    source_title=optional(best["source_title"]),
                    source_url=optional(best["source_url"]),
                    policy_id=best["policy_id"],
                )
                if pct is not None:
                    record["change_pct"] = round(pct - 100, 2)
                    if base is not None:
                        amount = round_half_up(base * pct / 100)
                        record.update(amount=amount, change_usd=round_half_up(amount - base))
            records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(ModifierPaymentSchema.to_schema().columns))
    return check_built(ModifierPaymentSchema, frame)


def round_half_up(value: float) -> float:
    """Dollars rounded half-up to cents by the Medicare engine's rule (:func:`benchmark.reference.medicare.round_cents`
    on the magnitude; a negative amount keeps its sign). NaN stays NaN."""
    cents = float(medicare.round_cents(abs(value)))
    return cents if value >= 0 else -cents


def optional_float(value: Any) -> float | None:
    """A table cell as a float; None for a missing one."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return float(value)


# --------------------------------------------------------------------------------------------------- gaps
def policy_gaps(matrix: pd.DataFrame) -> list[str]:
    """The matrix's holes and caveats in words: per payer, the policy types with no known value (and why, where a
    row says so), and which payers' entries are illustrative rather than real."""
    gaps = []
    for key, cells in matrix.groupby("payer_key", sort=False):
        missing = [POLICY_TYPES[t].lower() for t in cells.loc[cells["status"] == "missing", "policy_type"]]
        if missing:
            gaps.append(f"{key}: no policy for {', '.join(missing)}: {config.NOT_AVAILABLE}")
        for cell in cells[(cells["status"] == "unknown") & cells["note"].notna()].itertuples():
            gaps.append(f"{key}, {POLICY_TYPES[cell.policy_type].lower()}: unknown ({cell.note})")
    illustrative = [
        str(k) for k, cells in matrix.groupby("payer_key", sort=False) if cells["basis"].eq("illustrative").any()
    ]
    if illustrative:
        gaps.append(
            f"Policy entries of {', '.join(illustrative)} are illustrative values shipped with the synthetic "
            "sample, not real payer policies"
        )
    return gaps


def payer_key(family: str, brand: str | None = None) -> str:
    """The matrix / summary.json key of a payer row: the family, or "family / brand" for a brand's own row."""
    key = family if not brand else f"{family} / {brand}"
    return key.replace(".", "")


# --------------------------------------------------------------------------------------------------- helpers
def _indicators(code: str, year: int) -> medicare.PfsIndicators | None:
    try:
        return medicare.pfs_indicators(code, year)
    except KeyError:
        return None


def _payer_rows(applicable: pd.DataFrame, families: Sequence[str]) -> list[tuple[str, str, str | None]]:
    rows: list[tuple[str, str, str | None]] = [(payer_key("Medicare"), "Medicare", None)]
    rows += [(payer_key(f), f, None) for f in families if f != "Medicare"]
    branded = applicable[applicable["payer_brand"].notna() & applicable["payer_family"].isin(list(families))]
    for family, brand in sorted(set(zip(branded["payer_family"], branded["payer_brand"]))):
        rows.append((payer_key(family, brand), family, brand))
    return rows


def _by_payer(applicable: pd.DataFrame) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    """The rows of ``applicable`` as records by (family, brand): brand None for the family's own rows, in table
    order (the matrix and the modifier table look up each payer's rows here, not by a scan of the table per cell)."""
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in applicable.to_dict("records"):
        brand = row["payer_brand"]
        groups.setdefault((row["payer_family"], None if _missing(brand) else brand), []).append(row)
    return groups


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _most_specific(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row that wins a cell: the exact code over a range over ALL, a product line over ``all``, then the latest
    effective date (a row without one last); among equals, the first in table order."""
    if not rows:
        return None

    def rank(row: dict[str, Any]) -> tuple[int, int]:
        codes = row["codes"]
        return (2 if codes == ALL_CODES else (1 if "-" in codes else 0), int(row["product_line"] == ALL_PRODUCTS))

    def dated(row: dict[str, Any]) -> str:
        return "" if _missing(row["effective_date"]) else str(row["effective_date"])

    by_date = sorted(rows, key=dated, reverse=True)  # stable: equal dates keep table order
    return min(by_date, key=rank)  # min keeps the first of equal ranks


def _modifier_cell(key: str, family: str, brand: str | None, rows: list[dict[str, Any]]) -> dict:
    known = [row for row in rows if row["status"] == "known"]
    empty = _empty_cell(key, family, brand, "modifier_rule")
    if not known:
        return empty
    modifiers = sorted({row["modifier"] for row in known}, key=lambda m: (PAYMENT_MODIFIERS + (m,)).index(m))
    bases = sorted({row["basis"] for row in known})
    dated = [row["effective_date"] for row in known if not _missing(row["effective_date"])]
    titles = list(dict.fromkeys(row["source_title"] for row in known if not _missing(row["source_title"])))
    urls = list(dict.fromkeys(row["source_url"] for row in known if not _missing(row["source_url"])))
    empty.update(
        status="known",
        value=f"{len(modifiers)} modifier rule{'s' if len(modifiers) > 1 else ''}: {', '.join(modifiers)}",
        basis=min(bases, key=BASES.index),  # the firmest basis among the rules: published first
        effective_date=max(dated) if dated else None,
        source_title="; ".join(titles) or None,
        source_url=urls[0] if urls else None,
        policy_id=",".join(row["policy_id"] for row in known),
    )
    return empty


def _empty_cell(key: str, family: str, brand: str | None, policy_type: str) -> dict:
    return {
        "payer_key": key,
        "payer_family": family,
        "payer_brand": brand,
        "policy_type": policy_type,
        "status": "missing",
        "value": None,
        "basis": None,
        "effective_date": None,
        "source_title": None,
        "source_url": None,
        "policy_id": None,
        "note": None,
    }


def _medicare_row(
    code: str, year: int, policy_type: str, value: str, note: str | None, source: dict, reviewed_on: str
) -> dict:
    return {
        "policy_id": f"medicare-{year}-{code.lower()}-{policy_type.replace('_', '-')}",
        "payer_family": "Medicare",
        "payer_brand": None,
        "product_line": ALL_PRODUCTS,
        "codes": code,
        "applies_if": None,
        "policy_type": policy_type,
        "modifier": None,
        "value": value,
        "payment_pct": None,
        "status": "known",
        "basis": "derived",
        "effective_date": f"{year}-01-01",
        **source,
        "last_reviewed": reviewed_on,
        "note": note,
    }


def _unknown_medicare(code: str, year: int, policy_type: str, why: str, reviewed_on: str) -> dict:
    row = _medicare_row(
        code, year, policy_type, "Unknown", why, {"source_title": None, "source_url": None}, reviewed_on
    )
    row.update(status="unknown", effective_date=None)
    return row


def _finish(rows: list[dict], origin: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=_FILE_COLUMNS)
    frame["policy_file"] = origin
    frame["policy_line"] = range(2, len(frame) + 2)
    return check_built(PolicySchema, frame)


def _site_value(ind: medicare.PfsIndicators) -> str:
    if ind.non_facility_na and not ind.facility_na:
        return "Facility setting only (non-facility NA)"
    if ind.facility_na and not ind.non_facility_na:
        return "Non-facility setting only (facility NA)"
    if ind.facility_na and ind.non_facility_na:
        return "Not payable in either setting"
    return "Facility and non-facility"


def _global_value(ind: medicare.PfsIndicators) -> str:
    if ind.global_days.isdigit():
        return (
            f"{int(ind.global_days)}-day global (pre {ind.pre_op:.0%} / intra {ind.intra_op:.0%} / "
            f"post {ind.post_op:.0%})"
        )
    return f"{ind.global_days}: {medicare.GLOBAL_DAYS_MEANINGS.get(ind.global_days, 'see CMS definition')}"


# Short matrix values of the PFS indicators (the full CMS meaning goes in the row's note).
_INDICATOR_VALUES: dict[str, dict[str, str]] = {
    "MULT PROC": {
        "0": "No reduction",
        "2": "100% highest-valued, 50% each other",
        "3": "Endoscopic base-code rule",
        "4": "Diagnostic imaging reduction",
        "5": "Therapy reduction",
        "9": "Does not apply",
    },
    "ASST SURG": {"0": "Paid 16% with documentation", "1": "Not paid", "2": "Paid 16%", "9": "Does not apply"},
    "CO-SURG": {"0": "Not permitted", "1": "62.5% each with documentation", "2": "62.5% each", "9": "Does not apply"},
    "TEAM SURG": {"0": "Not permitted", "1": "By report with documentation", "2": "By report", "9": "Does not apply"},
    "BILAT SURG": {
        "0": "150% adjustment does not apply",
        "1": "150% for both sides",
        "2": "Already bilateral: 100%",
        "3": "Each side 100%",
        "9": "Does not apply",
    },
}


def _indicator_value(name: str, value: str, meaning: str) -> str:
    short = _INDICATOR_VALUES[name].get(value, meaning)
    return f"{short} ({name} {value})"


def _empty_policies() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in [*_FILE_COLUMNS, "policy_file", "policy_line"]})
    return PolicySchema.validate(frame)


def _range_ok(codes: str) -> bool:
    if not isinstance(codes, str) or "-" not in codes:
        return True
    low, high = codes.split("-")
    return _same_form(low, high) and low <= high


def _same_form(a: str, b: str) -> bool:
    """Both all digits, or the same letter positions (J0120-J9999, 0001T-0999T)."""
    return len(a) == len(b) and [c.isdigit() for c in a] == [c.isdigit() for c in b]


def _is_date(text: object) -> bool:
    try:
        date.fromisoformat(str(text))
        return True
    except ValueError:
        return False


def _rejection(frame: pd.DataFrame, index: int, column: str, reason: str) -> dict:
    return {
        "file": frame.at[index, "policy_file"],
        "line": int(frame.at[index, "policy_line"]),
        "column": column,
        "reason": reason,
    }


def _reason(check: object, failure: object, column: str) -> str:
    text = str(check)
    if text.startswith("isin"):
        return f"{failure!r} is not one of the allowed values ({text})"
    if text.startswith("str_matches"):
        return f"{failure!r} does not have the required form ({text})"
    if text in ("not_nullable", "column_in_dataframe"):
        return "a value is required"
    if text == "field_uniqueness" or text.startswith("unique"):
        return f"{failure!r} appears more than once"
    if column == "(row)":
        return text
    return f"{text} (got {failure!r})"
