"""Who the payer is: a raw payer / plan string resolved to a payer family, brand (licensee) and product line.

The rules are data, curated and versioned in ``data/payers/`` (see its ``README.md``):

- ``aliases.csv``: payer rules. Each has an id, a kind (``exact``: the whole normalized string; ``token``: every
  listed word appears, in any order; ``pattern``: a regular expression), the family and brand it gives, the product
  line the brand implies (if any), a note, a source and an example string that must resolve to it.
- ``product_lines.csv``: product-line rules (Medicare Advantage, Medicaid managed care, exchange, TPA / self-funded,
  commercial), ``strong`` ones (a plan naming Medicare or Medicaid) and ``weak`` ones (PPO, HMO... that say
  "commercial" only when nothing stronger does).

Public entry points first:

- :func:`resolve_payer` -> :class:`PayerIdentity` for one payer string and its plan string.
- :func:`review_list` -> the strings no rule recognises (family ``Other`` or product ``unknown``) with their counts,
  for a curator to extend the rules; nothing unmatched is ever dropped from the data.
- :func:`load_alias_rules`, :func:`load_product_rules`: the validated rule tables; :func:`table_version`.

Resolution order: exact payer rules, then token and pattern rules in file order (specific before generic: the
first that matches wins). When the payer string matches nothing, or only the generic "Blue Cross / Blue Shield"
rule, the plan string is tried for a more precise brand. Product line: a strong product rule in the plan, then in
the payer string; else the product the brand implies (UMR -> TPA, Aetna Better Health -> Medicaid); else a weak
(commercial) rule; else ``commercial`` for a recognised commercial payer with no plan name, ``unknown`` otherwise.
Traditional Medicare has no product line of its own (``unknown``); a Medicare payer string whose plan names a
Medicare Advantage product is Medicare Advantage under the plan's carrier (or ``Other``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import config
from benchmark.errors import InputFileError
from benchmark.schema import PAYER_FAMILIES, PRODUCT_LINES, check_built, optional

PAYERS_DIR: Path = config.DATA_DIR / "payers"
MATCH_KINDS = ["exact", "token", "pattern"]
UNMATCHED_FAMILY = "Other"
UNKNOWN_PRODUCT = "unknown"
# Families whose rates can be commercial (Medicare is traditional Medicare; Other is everyone else).
_COMMERCIAL_CAPABLE = {"Aetna", "BCBS", "Cigna", "UnitedHealthcare"}


@dataclass(frozen=True)
class PayerIdentity:
    """What a payer / plan string resolved to, and which rules said so."""

    payer_family: str
    payer_brand: str | None
    product_line: str
    rule_id: str | None
    product_rule_id: str | None = None

    @property
    def matched(self) -> bool:
        """A payer rule recognised the string."""
        return self.rule_id is not None


class PayerRuleError(InputFileError):
    """A rule file that does not follow the documented layout (the message names the file, line and column)."""


# --------------------------------------------------------------------------------------------------- resolve
@lru_cache(maxsize=131072)
def resolve_payer(payer_raw: str | None, plan_raw: str | None = None) -> PayerIdentity:
    """Family, brand and product line of a payer string (plus its plan string, which often names the product).

    ``resolve_payer("EMPIRE HEALTHCHOICE ASSURANCE-PPO")`` is family ``BCBS``, brand ``Empire (Elevance Health)``,
    product ``commercial``; ``resolve_payer("United Healthcare-Medicare Advantage")`` is ``UnitedHealthcare``,
    ``medicare_advantage``. An unmatched string is family ``Other`` (with whatever product its words say).
    """
    payer_text, plan_text = normalize(payer_raw), normalize(plan_raw)
    if plan_text == payer_text:
        plan_text = ""  # a plan "name" that repeats the payer (TiC files fall back to issuer_name) says nothing
    rule = _match_alias(payer_text)
    plan_rule = _match_alias(plan_text) if plan_text else None
    if rule is not None and rule.payer_family == "Medicare":
        return _traditional_medicare(rule, plan_text, plan_rule)
    plan_names_payer = plan_rule is not None and plan_rule.payer_family != "Medicare"
    if (
        plan_names_payer
        and plan_rule is not None
        and (rule is None or (not rule.payer_brand and plan_rule.payer_family == rule.payer_family))
    ):
        rule = plan_rule  # "BCBS" + plan "Anthem Blue Cross PPO"; "Managed Care" + plan "Aetna HMO"
    product, product_rule = _product_line(rule, payer_text, plan_text)
    return _identity(rule, product, product_rule)


def resolve_many(pairs: Iterable[tuple[str | None, str | None]]) -> list[PayerIdentity]:
    """:func:`resolve_payer` over many (payer, plan) pairs (each distinct pair is resolved once)."""
    return [resolve_payer(payer, plan) for payer, plan in pairs]


def clear_caches(*, rules: bool = True) -> None:
    """Forget cached resolutions (and, with ``rules``, the loaded rule tables): call after editing data/payers/."""
    for cached in (resolve_payer, _match_alias, _strong_product):
        cached.cache_clear()
    if rules:
        _alias_rules.cache_clear()
        _product_rules.cache_clear()


def normalize(text: str | None) -> str:
    """Lower case, ``&`` -> ``and``, ``BlueCross`` -> ``blue cross``, punctuation and ``_`` as spaces, one space.

    Rules are written against this form (``"EMPIRE HEALTHCHOICE ASSURANCE-PPO"`` -> ``"empire healthchoice
    assurance ppo"``; ``"i150180_VIVA_MEDICARE_HMO"`` -> ``"i150180 viva medicare hmo"``).
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    out = str(text).lower().replace("&", " and ").replace("+", " plus ")
    out = re.sub(r"blue(cross|shield|card|care|choice|options|plus|kc)", r"blue \1", out)
    out = re.sub(r"[^0-9a-z]+", " ", out)
    return " ".join(out.split())


def table_version() -> str:
    """Version of the curated rule tables (``data/payers/VERSION``)."""
    return (PAYERS_DIR / "VERSION").read_text(encoding="utf-8").strip()


# --------------------------------------------------------------------------------------------------- review list
def review_list(rates: pd.DataFrame, *, min_count: int = 1) -> pd.DataFrame:
    """Payer / plan strings that the current rules do not fully resolve, most frequent first.

    ``rates`` is any table with ``payer_raw``, ``plan_raw`` and ``source_file`` columns (a normalized rate table).
    Each distinct pair is resolved again with the current rules (so a curator can edit ``data/payers/`` and re-run)
    and kept when its family is ``Other`` (no payer rule) or its product line is ``unknown`` (no product signal).
    Columns: ``payer_raw, plan_raw, rows, files, payer_family, payer_brand, product_line, issue``.
    """
    columns = ["payer_raw", "plan_raw", "rows", "files", "payer_family", "payer_brand", "product_line", "issue"]
    if rates.empty:
        return ReviewListSchema.validate(pd.DataFrame(columns=columns), lazy=True)
    frame = rates[["payer_raw", "plan_raw", "source_file"]].astype(object)
    frame = frame.assign(payer_raw=frame["payer_raw"].fillna(""), plan_raw=frame["plan_raw"].fillna(""))
    grouped = (
        frame.groupby(["payer_raw", "plan_raw"], sort=False)
        .agg(rows=("source_file", "size"), files=("source_file", "nunique"))
        .reset_index()
    )
    records = []
    for row in grouped.itertuples(index=False):
        identity = resolve_payer(row.payer_raw or None, row.plan_raw or None)
        issues = []
        if not identity.matched:
            issues.append("no payer rule")
        if identity.product_line == UNKNOWN_PRODUCT and identity.payer_family != "Medicare":
            issues.append("no product-line signal")
        if issues and row.rows >= min_count:
            records.append(
                {
                    "payer_raw": row.payer_raw,
                    "plan_raw": row.plan_raw or None,
                    "rows": int(row.rows),
                    "files": int(row.files),
                    "payer_family": identity.payer_family,
                    "payer_brand": identity.payer_brand,
                    "product_line": identity.product_line,
                    "issue": "; ".join(issues),
                }
            )
    table = pd.DataFrame.from_records(records, columns=columns)
    table = table.sort_values(
        ["rows", "payer_raw", "plan_raw"], ascending=[False, True, True], ignore_index=True, na_position="first"
    )
    return ReviewListSchema.validate(table, lazy=True)


class ReviewListSchema(pa.DataFrameModel):
    """One payer / plan string pair that needs a curator's rule, with how often it occurs."""

    payer_raw: Series[str]
    plan_raw: Series[str] = pa.Field(nullable=True)
    rows: Series[int] = pa.Field(ge=1)
    files: Series[int] = pa.Field(ge=1)
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    payer_brand: Series[str] = pa.Field(nullable=True)
    product_line: Series[str] = pa.Field(isin=PRODUCT_LINES)
    issue: Series[str]

    class Config:
        strict = True
        coerce = True
        ordered = True


# --------------------------------------------------------------------------------------------------- rule tables
class AliasRuleSchema(pa.DataFrameModel):
    """One payer rule of ``aliases.csv``."""

    rule_id: Series[str] = pa.Field(str_matches=r"^[a-z0-9][a-z0-9-]*$", unique=True)
    match: Series[str] = pa.Field(isin=MATCH_KINDS)
    value: Series[str] = pa.Field(str_length={"min_value": 1})
    payer_family: Series[str] = pa.Field(isin=PAYER_FAMILIES)
    payer_brand: Series[str] = pa.Field(nullable=True)
    product_line: Series[str] = pa.Field(nullable=True, isin=PRODUCT_LINES)
    note: Series[str] = pa.Field(str_length={"min_value": 3})
    source: Series[str] = pa.Field(str_length={"min_value": 3})
    # the CSV column "example"; a field named so would hide DataFrameModel.example()
    example_text: Series[str] = pa.Field(alias="example", str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = True
        ordered = True


class ProductRuleSchema(pa.DataFrameModel):
    """One product-line rule of ``product_lines.csv``."""

    rule_id: Series[str] = pa.Field(str_matches=r"^[a-z0-9][a-z0-9-]*$", unique=True)
    strength: Series[str] = pa.Field(isin=["strong", "weak"])
    pattern: Series[str] = pa.Field(str_length={"min_value": 1})
    product_line: Series[str] = pa.Field(isin=PRODUCT_LINES)
    note: Series[str] = pa.Field(str_length={"min_value": 3})
    # the CSV column "example"; a field named so would hide DataFrameModel.example()
    example_text: Series[str] = pa.Field(alias="example", str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = True
        ordered = True


def load_alias_rules(path: str | Path | None = None) -> pd.DataFrame:
    """``aliases.csv`` as a validated table; a bad rule raises :class:`PayerRuleError` naming its line."""
    file = Path(path) if path else PAYERS_DIR / "aliases.csv"
    frame = _read_rule_csv(file)
    table = _validate_rules(frame, AliasRuleSchema, file)
    problems = []
    for index, row in table.iterrows():
        where = f"{file.name}, line {index + 2}, rule {row.rule_id!r}"
        if row.match == "pattern":
            try:
                re.compile(row.value)
            except re.error as error:
                problems.append(f"{where}: column 'value': invalid regular expression ({error})")
        elif row.value != normalize(row.value):
            problems.append(
                f"{where}: column 'value': {row.match} value {row.value!r} is not in normalized form "
                f"({normalize(row.value)!r})"
            )
        if row.payer_family != "BCBS" and optional(row.payer_brand) is None:
            problems.append(f"{where}: column 'payer_brand': only the generic BCBS rule may leave the brand empty")
    if problems:
        raise PayerRuleError("Invalid payer rules:\n  " + "\n  ".join(problems))
    return table


def load_product_rules(path: str | Path | None = None) -> pd.DataFrame:
    """``product_lines.csv`` as a validated table; a bad rule raises :class:`PayerRuleError` naming its line."""
    file = Path(path) if path else PAYERS_DIR / "product_lines.csv"
    table = _validate_rules(_read_rule_csv(file), ProductRuleSchema, file)
    problems = []
    for index, row in table.iterrows():
        try:
            re.compile(row.pattern)
        except re.error as error:
            problems.append(
                f"{file.name}, line {index + 2}, rule {row.rule_id!r}: column 'pattern': invalid "
                f"regular expression ({error})"
            )
    if problems:
        raise PayerRuleError("Invalid product-line rules:\n  " + "\n  ".join(problems))
    return table


# --------------------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _AliasRule:
    rule_id: str
    kind: str
    value: str
    regex: re.Pattern[str] | None
    tokens: frozenset[str]
    payer_family: str
    payer_brand: str | None
    product_line: str | None

    def matches(self, text: str, words: frozenset[str]) -> bool:
        if self.kind == "exact":
            return text == self.value
        if self.kind == "token":
            return self.tokens <= words
        return self.regex is not None and self.regex.search(text) is not None


@lru_cache(maxsize=1)
def _alias_rules() -> tuple[_AliasRule, ...]:
    table = load_alias_rules()
    rules = [
        _AliasRule(
            r.rule_id,
            r.match,
            r.value,
            re.compile(r.value) if r.match == "pattern" else None,
            frozenset(r.value.split()),
            r.payer_family,
            optional(r.payer_brand),
            optional(r.product_line),
        )
        for r in table.itertuples()
    ]
    return tuple(sorted(rules, key=lambda rule: rule.kind != "exact"))  # stable: exact first, then file order


@lru_cache(maxsize=1)
def _product_rules() -> tuple[tuple[str, re.Pattern[str], str, str], ...]:
    table = load_product_rules()
    return tuple((r.rule_id, re.compile(r.pattern), r.product_line, r.strength) for r in table.itertuples())


@lru_cache(maxsize=65536)
def _match_alias(text: str) -> _AliasRule | None:
    if not text:
        return None
    words = frozenset(text.split())
    return next((rule for rule in _alias_rules() if rule.matches(text, words)), None)


@lru_cache(maxsize=65536)
def _strong_product(text: str) -> tuple[str, str] | None:
    for rule_id, regex, line, kind in _product_rules():
        if kind == "strong" and text and regex.search(text):
            return line, rule_id
    return None


def _product_line(rule: _AliasRule | None, payer_text: str, plan_text: str) -> tuple[str, str | None]:
    rules = _product_rules()
    for text in (plan_text, payer_text):
        strong = _strong_product(text)
        if strong:
            return strong
    if rule is not None and rule.product_line:
        return rule.product_line, f"brand:{rule.rule_id}"
    for text in (plan_text, payer_text):
        for rule_id, regex, line, kind in rules:
            if kind == "weak" and text and regex.search(text):
                return line, rule_id
    if rule is not None and rule.payer_family in _COMMERCIAL_CAPABLE and not plan_text:
        return "commercial", "default:no-plan-name"
    return UNKNOWN_PRODUCT, None


def _traditional_medicare(rule: _AliasRule, plan_text: str, plan_rule: _AliasRule | None) -> PayerIdentity:
    """A traditional-Medicare payer string: Medicare, unless the plan names a Medicare Advantage product."""
    if plan_rule is None or plan_rule.payer_family != "Medicare":  # "Part B" as a plan says nothing more
        strong = _strong_product(plan_text)
        if strong and strong[0] == "medicare_advantage":
            return _identity(plan_rule, strong[0], strong[1])  # the plan's carrier, or Other
    return _identity(rule, UNKNOWN_PRODUCT, None)


def _identity(rule: _AliasRule | None, product: str, product_rule: str | None) -> PayerIdentity:
    if rule is None:
        return PayerIdentity(UNMATCHED_FAMILY, None, product, None, product_rule)
    return PayerIdentity(rule.payer_family, rule.payer_brand, product, rule.rule_id, product_rule)


def _read_rule_csv(file: Path) -> pd.DataFrame:
    if not file.exists():
        raise FileNotFoundError(f"Payer rule file not found: {file}")
    frame = pd.read_csv(file, dtype=str, keep_default_na=False, comment=None)
    frame = frame.apply(lambda column: column.str.strip())
    return frame.replace("", None)


def _validate_rules(frame: pd.DataFrame, schema: type[pa.DataFrameModel], file: Path) -> pd.DataFrame:
    try:  # check_built: pandera's validate, and its failure cases, only when a rule fails
        return check_built(schema, frame)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
        lines = []
        for case in cases.itertuples():
            index = case.index
            where = f"line {int(index) + 2}" if index is not None and not pd.isna(index) else "header"
            lines.append(f"{file.name}, {where}: column {case.column!r}: {case.check} (got {case.failure_case!r})")
        raise PayerRuleError(f"Invalid rule file {file}:\n  " + "\n  ".join(lines)) from None
