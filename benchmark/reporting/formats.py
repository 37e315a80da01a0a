"""Which files a report writes: ``paybench report/batch --formats html,pdf,pptx,xlsx,csv`` (default: all).

``html`` is the report itself -- ``report.html`` with ``summary.json``, ``charts/``, ``slides/`` and the executed
notebook -- and is always written: every export is made from it. The others are the exports of
:mod:`benchmark.reporting.exports`: ``pdf`` (``report.pdf``, printed by Chromium), ``pptx`` (``deck.pptx``), ``xlsx``
(``tables.xlsx``) and ``csv`` (``tables/*.csv``). A report that needs no PDF then starts no Chromium.

``run.json`` records the formats a report was written with; a report is up to date for a run asking for the same
formats or fewer (:func:`covers`). Loads without pandas: the CLI checks ``--formats`` before the heavy imports.
"""

from __future__ import annotations

from collections.abc import Collection

from benchmark.errors import ParameterError

HTML, PDF, PPTX, XLSX, CSV = "html", "pdf", "pptx", "xlsx", "csv"
FORMATS: tuple[str, ...] = (HTML, PDF, PPTX, XLSX, CSV)  # the order they are listed in (run.json, the manifest)


def chosen(names: Collection[str]) -> tuple[str, ...]:
    """``names`` checked and in :data:`FORMATS` order, ``html`` included; a :class:`ParameterError` naming the
    choices for an unknown name or for no name at all."""
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        given = ", ".join(map(repr, unknown)) if unknown else "none"
        raise ParameterError(f"formats: expected some of {', '.join(FORMATS)} (html is always written), got {given}")
    return tuple(name for name in FORMATS if name == HTML or name in names)


def parse(text: str) -> tuple[str, ...]:
    """``--formats`` as typed: names separated by commas (``html,xlsx``), checked by :func:`chosen`."""
    return chosen([name.strip().lower() for name in text.split(",") if name.strip()])


def covers(written: Collection[str], wanted: Collection[str]) -> bool:
    """Whether a report written with the formats ``written`` holds every format of ``wanted``."""
    return set(wanted) <= set(written)
