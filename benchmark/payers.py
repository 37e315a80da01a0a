"""Resolve a raw payer / plan string to a payer family, brand and product line.

Rules are data (``data/payers/aliases.csv`` and ``product_lines.csv``): each has an id and a note, and the first
matching rule wins, so specific rules come before generic ones. An unmatched payer stays in the data as family
``Other`` with product line ``unknown``; nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from benchmark import config


@dataclass(frozen=True)
class PayerIdentity:
    payer_family: str
    payer_brand: str | None
    product_line: str
    rule_id: str | None


@lru_cache(maxsize=1)
def _rules() -> tuple[list[tuple[re.Pattern[str], str, str | None, str]], list[tuple[re.Pattern[str], str, str]]]:
    aliases = pd.read_csv(config.DATA_DIR / "payers" / "aliases.csv", dtype=str, keep_default_na=False)
    products = pd.read_csv(config.DATA_DIR / "payers" / "product_lines.csv", dtype=str, keep_default_na=False)
    alias_rules = [
        (re.compile(r.pattern, re.IGNORECASE), r.payer_family, r.payer_brand or None, r.rule_id)
        for r in aliases.itertuples()
    ]
    product_rules = [(re.compile(r.pattern, re.IGNORECASE), r.product_line, r.rule_id) for r in products.itertuples()]
    return alias_rules, product_rules


def _clean(text: str | None) -> str:
    return re.sub(r"[\s_\-]+", " ", text or "").strip()


@lru_cache(maxsize=65536)
def resolve_payer(payer_raw: str, plan_raw: str | None = None) -> PayerIdentity:
    """Family, brand and product line of a payer string (plus its plan string, which often names the product)."""
    alias_rules, product_rules = _rules()
    payer_text, plan_text = _clean(payer_raw), _clean(plan_raw)
    family, brand, rule_id = "Other", None, None
    for pattern, fam, br, rid in alias_rules:
        if pattern.search(payer_text):
            family, brand, rule_id = fam, br, rid
            break
    if family == "Medicare":
        return PayerIdentity(family, brand, "unknown", rule_id)
    product = "unknown"
    for text in (plan_text, payer_text):
        for pattern, line, _ in product_rules:
            if text and pattern.search(text):
                product = line
                break
        if product != "unknown":
            break
    if product == "unknown" and family != "Other":
        product = "commercial" if not plan_text else "unknown"
    return PayerIdentity(family, brand, product, rule_id)
