"""HTML from jinja2 templates (``benchmark/reporting/templates/``) with autoescape on.

Every value a template prints is escaped unless a template marks it safe; the Python side passes numbers and
records, the templates own the layout. Filters: ``fmt(kind)`` (:func:`format_value`, the one way a cell shows a
value), ``money`` and ``pct``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import pandas as pd

from benchmark import config
from benchmark.reporting import about

NA = config.NOT_AVAILABLE
NUMERIC_KINDS = ("money", "pct", "int", "number", "factor")


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, kind: str | None) -> str:
    """How a table cell shows a value (the summary-agreement test and the deck use the same function)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return NA
    if kind == "money":
        return f"${float(value):,.2f}"
    if kind == "pct":
        return f"{float(value):.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "number":
        return f"{float(value):,.2f}"
    if kind == "factor":
        return f"{float(value):g}"
    if kind == "flag":
        return "yes" if bool(value) else "no"
    if kind == "setting":
        return str(value).replace("_", "-")
    if kind == "sha":
        return str(value)[:12] + "…"
    return str(value)


def _money(value: Any) -> str:
    return NA if is_missing(value) else f"${float(value):,.2f}"


def _pct(value: Any) -> str:
    return NA if is_missing(value) else f"{float(value):.1f}%"


@cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescape on for every template, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(config.TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(fmt=format_value, money=_money, pct=_pct)
    env.tests["missing"] = is_missing
    env.globals.update(
        source_line=about.source_line,
        NOT_PAYABLE_NA=config.NOT_PAYABLE_NA,
        NA=NA,
        NUMERIC_KINDS=NUMERIC_KINDS,
        SYNTHETIC_LABEL=config.SYNTHETIC_LABEL,
    )
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a path under the templates folder) with ``context``."""
    return environment().get_template(template).render(**context)
