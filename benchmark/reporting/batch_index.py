"""``index.html`` of a batch: every report with its status and outputs, and an overview chart across the batch.

The overview chart (``index_charts/overview.png`` + ``.svg``, embedded in the page) shows, for every report written
in the batch, each payer's median % of Medicare in the report's main setting (the setting with the most rates), in
the project's payer palette. Every text on the page is escaped, and the page, like the reports, runs no script.
The page's layout is ``templates/batch_index.html.j2`` (jinja2, autoescape on).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from benchmark import codes
from benchmark.files import atomic_write_text
from benchmark.reporting import charts, html_render
from benchmark.safe_text import neutralize_html

INDEX_NAME = "index.html"
CHARTS_DIR = "index_charts"
OUTPUT_LINKS: tuple[tuple[str, str], ...] = (
    ("report.html", "HTML"),
    ("report.pdf", "PDF"),
    ("deck.pptx", "deck"),
    ("tables.xlsx", "XLSX"),
    ("tables", "CSV"),
    ("summary.json", "JSON"),
)


def write_index(root: Path, manifest: dict[str, Any]) -> Path:
    """Write ``root/index.html`` (and the overview chart) for a batch ``manifest``; returns the page's path."""
    table, synthetic = overview_table(root, manifest["reports"])
    paths = charts.save_figure(charts.batch_overview_chart(table, synthetic=synthetic), root / CHARTS_DIR, "overview")
    index = root / INDEX_NAME
    atomic_write_text(index, neutralize_html(_page(root, manifest, paths["png"], synthetic)) + "\n")
    return index


def overview_table(root: Path, reports: list[dict[str, Any]]) -> tuple[pd.DataFrame, bool]:
    """``report, payer_family, pos_setting, median_pct_of_medicare`` of every written report; any synthetic?"""
    rows, synthetic = [], False
    for report in reports:
        summary_path = root / report["slug"] / "summary.json"
        if report["status"] not in ("ok", "skipped") or not summary_path.is_file():
            continue
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        synthetic = synthetic or bool(summary.get("synthetic"))
        payers = summary.get("payers", {})
        totals: dict[str, int] = {}
        for settings in payers.values():
            for setting, stats in settings.items():
                totals[setting] = totals.get(setting, 0) + int(stats.get("n") or 0)
        if not totals:
            rows.append(
                {
                    "report": f"{report_label(report['parameters'])} (no payer rates)",
                    "payer_family": None,
                    "pos_setting": None,
                    "median_pct_of_medicare": None,
                }
            )
            continue
        main = max(sorted(totals), key=lambda s: totals[s])
        label = f"{report_label(report['parameters'])} ({main.replace('_', '-')})"
        for family, settings in payers.items():
            if main in settings:
                rows.append(
                    {
                        "report": label,
                        "payer_family": family,
                        "pos_setting": main,
                        "median_pct_of_medicare": settings[main].get("median_pct_of_medicare"),
                    }
                )
    columns = ["report", "payer_family", "pos_setting", "median_pct_of_medicare"]
    table = pd.DataFrame(rows, columns=columns)
    table["median_pct_of_medicare"] = pd.to_numeric(table["median_pct_of_medicare"])
    return table, synthetic


def report_label(parameters: dict[str, Any]) -> str:
    """A short label: the code and year, plus each parameter that is not the default."""
    parts = [codes.label(parameters["code"]), str(parameters["year"])]
    if parameters.get("geography", "all") != "all":
        parts.append(str(parameters["geography"]))
    if parameters.get("payers"):
        parts.append("+".join(parameters["payers"]))
    if list(parameters.get("product_lines") or []) != ["commercial"]:
        parts.append("+".join(parameters.get("product_lines") or []))
    if parameters.get("data_source", "sample") != "sample":
        parts.append(Path(str(parameters["data_source"])).name)
    return " · ".join(parts)


# --------------------------------------------------------------------------------------------------- HTML
def _page(root: Path, manifest: dict[str, Any], chart_png: Path, synthetic: bool) -> str:
    """The page (``templates/batch_index.html.j2``, autoescape on): this function gathers the values, the template
    lays them out."""
    reports = []
    for report in manifest["reports"]:
        folder = root / report["slug"]
        p = report["parameters"]
        error = report.get("error")
        notebook = error.get("failed_notebook") if error else None
        reports.append(
            {
                "href": _href(report["slug"], "report.html"),
                "label": report_label(p),
                "code": p["code"],
                "year": p["year"],
                "geography": p.get("geography", "all"),
                "payers": ", ".join(p.get("payers") or []) or "all",
                "data": Path(str(p.get("data_source", "sample"))).name,
                "status": report["status"],
                "failed": report["status"] == "failed",
                "seconds": float(report.get("seconds") or 0),
                "links": [
                    (_href(report["slug"], name), label) for name, label in OUTPUT_LINKS if (folder / name).exists()
                ],
                "notes": "; ".join(report.get("notes") or []),
                "error": {
                    "name": error["name"],
                    "message": error["message"],
                    "notebook_href": _href(notebook) if notebook else None,
                }
                if error
                else None,
            }
        )
    return html_render.render(
        "batch_index.html.j2",
        title=manifest["title"],
        synthetic=synthetic,
        reports=reports,
        counts=manifest["counts"],
        finished=manifest["finished"],
        seconds=manifest["seconds"],
        workers=manifest["workers"],
        image=base64.b64encode(chart_png.read_bytes()).decode("ascii"),
        code_version=manifest["code_version"][:12],
        package_version=manifest["package_versions"].get("payer-benchmark", ""),
    )


def _href(*parts: str) -> str:
    """A relative link: each path part percent-encoded (the template escapes the result)."""
    return "/".join(quote(part) for part in parts)
