"""``index.html`` of a batch: every report with its status and outputs, and an overview chart across the batch.

The overview chart (``index_charts/overview.png`` + ``.svg``, embedded in the page) shows, for every report written
in the batch, each payer's median % of Medicare in the report's main setting (the setting with the most rates), in
the project's payer palette. Every text on the page is escaped, and the page, like the reports, runs no script.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from benchmark import config
from benchmark.files import atomic_write_text
from benchmark.reporting import charts
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
    parts = [f"CPT {parameters['code']}", str(parameters["year"])]
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
_STYLE = """<style>
body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;max-width:1200px;margin:24px auto;
line-height:1.45;padding:0 16px}
h1{border-bottom:2px solid #0072B2;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0 14px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f2f5f9}td.num{text-align:right}
.ok{color:#007A4D;font-weight:bold}.skipped{color:#555;font-weight:bold}.failed{color:#B00020;font-weight:bold}
.banner{background:#fff4f4;border:2px solid #B00020;color:#B00020;padding:6px 10px;font-weight:bold;margin:8px 0}
.note{color:#555;font-size:12px}pre{white-space:pre-wrap;margin:0;font-size:12px}
</style>"""
_CSP = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
    "style-src 'unsafe-inline'\">"
)


def _page(root: Path, manifest: dict[str, Any], chart_png: Path, synthetic: bool) -> str:
    e = _e
    counts = manifest["counts"]
    rows = []
    for report in manifest["reports"]:
        folder = root / report["slug"]
        p = report["parameters"]
        links = " ".join(
            f"<a href='{_href(report['slug'], name)}'>{label}</a>"
            for name, label in OUTPUT_LINKS
            if (folder / name).exists()
        )
        if report["status"] == "failed" and links:
            links = f"previous version: {links}"
        detail = "; ".join(report.get("notes") or [])
        if report.get("error"):
            error = report["error"]
            notebook = error.get("failed_notebook")
            detail = f"<b>{e(error['name'])}</b><pre>{e(error['message'])}</pre>" + (
                f"<a href='{_href(notebook)}'>failed notebook</a>" if notebook else ""
            )
        else:
            detail = e(detail)
        rows.append(
            f"<tr><td><a href='{_href(report['slug'], 'report.html')}'>{e(report_label(p))}</a></td>"
            f"<td>{e(p['code'])}</td><td>{e(p['year'])}</td><td>{e(p.get('geography', 'all'))}</td>"
            f"<td>{e(', '.join(p.get('payers') or []) or 'all')}</td>"
            f"<td>{e(Path(str(p.get('data_source', 'sample'))).name)}</td>"
            f"<td class='{e(report['status'])}'>{e(report['status'])}</td>"
            f"<td class='num'>{float(report.get('seconds') or 0):.1f}</td><td>{links}</td><td>{detail}</td></tr>"
        )
    image = base64.b64encode(chart_png.read_bytes()).decode("ascii")
    banner = (
        (
            f"<div class='banner'>{e(config.SYNTHETIC_LABEL.capitalize())}: some reports of this batch are built "
            "from the synthetic sample; their payer rates are not real.</div>"
        )
        if synthetic
        else ""
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{_CSP}<title>{e(manifest['title'])}</title>"
        f"{_STYLE}</head><body><h1>{e(manifest['title'])}</h1>{banner}"
        f"<p>{len(manifest['reports'])} reports: {counts['ok']} written, {counts['skipped']} up to date (skipped), "
        f"{counts['failed']} failed. Run finished {e(manifest['finished'])} in {manifest['seconds']:.0f} s with "
        f"{manifest['workers']} workers; details in <a href='{_href('manifest.json')}'>manifest.json</a>.</p>"
        f"<figure><img alt='median percent of Medicare by payer for every report' src='data:image/png;base64,{image}'"
        " style='max-width:100%'/></figure>"
        "<table><thead><tr><th>Report</th><th>Code</th><th>Year</th><th>Geography</th><th>Payers</th>"
        "<th>Data</th><th>Status</th><th>Seconds</th><th>Outputs</th><th>Notes / error</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<p class='note'>Code version {e(manifest['code_version'][:12])}; payer-benchmark "
        f"{e(manifest['package_versions'].get('payer-benchmark', ''))}.</p></body></html>"
    )


def _href(*parts: str) -> str:
    return html.escape("/".join(quote(part) for part in parts), quote=True)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
