"""``deck.pptx``: a report as slides an analyst can drop into a presentation (python-pptx).

:func:`build_deck` reads a finished report folder (``summary.json`` and ``charts/*.png``) and writes a 16:9 deck: a
title slide, one chart per slide (title, the PNG scaled to fit, a source footnote that carries the synthetic-data
label when the chart shows synthetic payer rates), and the benchmark table by payer and setting as a native
PowerPoint table (editable, restyled by the deck's theme). Decks take the PNG charts: PowerPoint cannot embed SVG
through python-pptx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from benchmark import config
from benchmark.reporting.charts import PAYER_ORDER, PAYER_PALETTE
from benchmark.reporting.report import format_value

DECK_NAME = "deck.pptx"
SLIDE_WIDTH = Inches(13.333)  # 16:9 widescreen, 13.333 x 7.5 in
SLIDE_HEIGHT = Inches(7.5)
TABLE_ROWS_PER_SLIDE = 10
_BLANK_LAYOUT = 6  # "Blank" in python-pptx's default template: every text box is placed by this module
_RED = RGBColor(0xB0, 0x00, 0x20)
_GREY = RGBColor(0x44, 0x44, 0x44)
_MARGIN = Inches(0.5)


@dataclass(frozen=True)
class ChartSlide:
    title: str  # after "CPT <code>: "
    source: str  # footnote; {year} is the report's payment year
    payer_data: bool  # the chart shows payer rates (so the synthetic-data label applies)


CHART_SLIDES: dict[str, ChartSlide] = {
    "rate_distribution": ChartSlide(
        "negotiated rates by payer",
        "Payer TiC in-network files and hospital standard-charge files; Medicare national amount from CMS PFS {year}.",
        True,
    ),
    "pct_of_medicare": ChartSlide(
        "median % of Medicare by payer",
        "Payer price files; CMS Physician Fee Schedule {year}, locality-matched. Bars: interquartile range.",
        True,
    ),
    "pct_of_medicare_by_state": ChartSlide(
        "median % of Medicare by payer and state",
        "Payer price files; CMS Physician Fee Schedule {year}, locality-matched.",
        True,
    ),
    "medicare_localities": ChartSlide(
        "Medicare amount across payment localities",
        "CMS Physician Fee Schedule relative value file {year}; CMS GPCI table.",
        False,
    ),
    "medicare_by_year": ChartSlide(
        "Medicare national amount by year",
        "CMS Physician Fee Schedule relative value files (PPRRVU) of each year.",
        False,
    ),
    "policy_matrix": ChartSlide(
        "what each payer requires, by policy type",
        "CMS PFS indicators (Medicare); payer policy tables in data/policy/ (cell colour: what each entry rests on).",
        True,
    ),
    "crosscheck": ChartSlide(
        "do payers and hospitals agree?",
        "Payer TiC in-network files and hospital standard-charge files, the same contract compared (agree: within 3%).",
        True,
    ),
}
# (summary key, header, format_value kind, column width in inches; the widths add up to the 12.333 in table)
TABLE_COLUMNS: tuple[tuple[str, str, str | None, float], ...] = (
    ("payer_family", "Payer", None, 2.4),
    ("pos_setting", "Setting", "setting", 1.5),
    ("n", "n", "int", 0.9),
    ("p25", "P25", "money", 1.5),
    ("median", "Median", "money", 1.5),
    ("p75", "P75", "money", 1.5),
    ("median_pct_of_medicare", "Median % of Medicare", "pct", 1.9),
    ("small_sample", "Small sample", "flag", 1.133),
)


def build_deck(report_dir: str | Path, deck_path: str | Path | None = None) -> Path:
    """Write ``deck.pptx`` (or ``deck_path``) for the report in ``report_dir``; returns its path."""
    folder = Path(report_dir)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    prs.core_properties.title = f"CPT {summary['code']} payer benchmark, {summary['year']}"
    prs.core_properties.comments = summary["data_label"]
    _title_slide(prs, summary)
    for png in _chart_files(folder / "charts"):
        _chart_slide(prs, summary, png)
    rows = benchmark_table_rows(summary)
    for start in range(0, max(len(rows), 1), TABLE_ROWS_PER_SLIDE):
        _table_slide(prs, summary, rows[start : start + TABLE_ROWS_PER_SLIDE], continued=start > 0)
    target = Path(deck_path) if deck_path else folder / DECK_NAME
    prs.save(str(target))
    return target


def benchmark_table_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The benchmark table (payer x setting) of ``summary.json``, payers in palette order."""
    rank = {p: i for i, p in enumerate(PAYER_ORDER)}
    rows = [
        {"payer_family": payer, "pos_setting": setting, **stats}
        for payer, settings in summary.get("payers", {}).items()
        for setting, stats in settings.items()
    ]
    return sorted(rows, key=lambda r: (rank.get(r["payer_family"], len(rank)), r["payer_family"], r["pos_setting"]))


# --------------------------------------------------------------------------------------------------- slides
def _title_slide(prs: Any, summary: dict[str, Any]) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[_BLANK_LAYOUT])
    params = summary.get("parameters", {})
    _text(
        slide,
        f"CPT {summary['code']} — payer benchmark",
        Inches(0.8),
        Inches(2.0),
        Inches(11.7),
        Inches(1.2),
        size=40,
        bold=True,
    )
    details = [
        f"Medicare PFS payment year {summary['year']}",
        "Payers: " + (", ".join(params.get("payers") or []) or "all"),
        f"Geography: {params.get('geography', 'all')}",
        "Product lines: " + ", ".join(params.get("product_lines") or []),
    ]
    _text(slide, "  ·  ".join(details), Inches(0.8), Inches(3.3), Inches(11.7), Inches(0.8), size=18, color=_GREY)
    _text(
        slide,
        f"Rates: {summary['data_label']}",
        Inches(0.8),
        Inches(4.2),
        Inches(11.7),
        Inches(0.6),
        size=18,
        bold=summary.get("synthetic", False),
        color=_RED if summary.get("synthetic") else _GREY,
    )
    _text(
        slide,
        f"Generated {summary.get('generated_on', '')} by payer-benchmark {summary.get('package_version', '')}"
        " from public price files and the CMS Medicare Physician Fee Schedule.",
        Inches(0.8),
        Inches(6.3),
        Inches(11.7),
        Inches(0.5),
        size=12,
        color=_GREY,
    )


def _chart_slide(prs: Any, summary: dict[str, Any], png: Path) -> None:
    from PIL import Image

    spec = CHART_SLIDES.get(png.stem, ChartSlide(png.stem.replace("_", " "), "See the report's methodology.", True))
    slide = prs.slides.add_slide(prs.slide_layouts[_BLANK_LAYOUT])
    _slide_title(slide, f"CPT {summary['code']}: {spec.title}")
    box_left, box_top = _MARGIN, Inches(1.25)
    box_width, box_height = SLIDE_WIDTH - 2 * _MARGIN, Inches(5.35)
    with Image.open(png) as image:
        width_px, height_px = image.size
    scale = min(box_width / width_px, box_height / height_px)
    width, height = Emu(int(width_px * scale)), Emu(int(height_px * scale))
    slide.shapes.add_picture(
        str(png), box_left + (box_width - width) // 2, box_top + (box_height - height) // 2, width, height
    )
    _footnote(slide, summary, spec.source.format(year=summary["year"]), spec.payer_data)


def _table_slide(prs: Any, summary: dict[str, Any], rows: list[dict[str, Any]], *, continued: bool) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[_BLANK_LAYOUT])
    lines = ", ".join(summary.get("parameters", {}).get("product_lines") or [])
    _slide_title(
        slide, f"CPT {summary['code']}: {lines} rates by payer and setting" + (" (continued)" if continued else "")
    )
    body = rows or [{"payer_family": config.NOT_AVAILABLE}]
    shape = slide.shapes.add_table(
        len(body) + 1,
        len(TABLE_COLUMNS),
        _MARGIN,
        Inches(1.35),
        SLIDE_WIDTH - 2 * _MARGIN,
        Inches(0.45) * (len(body) + 1),
    )
    table = shape.table
    for column, (_, label, kind, width) in enumerate(TABLE_COLUMNS):
        table.columns[column].width = Inches(width)
        _cell(table.cell(0, column), label, bold=True, right=kind in ("int", "money", "pct"))
    for row_index, row in enumerate(body, start=1):
        for column, (key, _, kind, _) in enumerate(TABLE_COLUMNS):
            value = row.get(key)
            text = "" if key not in row else format_value(value, kind)
            color = _rgb(PAYER_PALETTE[value]) if key == "payer_family" and value in PAYER_PALETTE else None
            _cell(
                table.cell(row_index, column),
                text,
                bold=key == "payer_family",
                color=color,
                right=kind in ("int", "money", "pct"),
            )
    _footnote(
        slide,
        summary,
        f"Payer price files; % of the CMS Physician Fee Schedule {summary['year']} amount of "
        f"the same locality. Fewer than {config.SMALL_SAMPLE_N} rates: small sample.",
        True,
    )


# --------------------------------------------------------------------------------------------------- helpers
def _chart_files(folder: Path) -> list[Path]:
    pngs = {p.stem: p for p in folder.glob("*.png")} if folder.is_dir() else {}
    known = [pngs[name] for name in CHART_SLIDES if name in pngs]
    return known + sorted(p for name, p in pngs.items() if name not in CHART_SLIDES)


def _slide_title(slide: Any, text: str) -> None:
    _text(slide, text, _MARGIN, Inches(0.35), SLIDE_WIDTH - 2 * _MARGIN, Inches(0.8), size=28, bold=True)


def _footnote(slide: Any, summary: dict[str, Any], source: str, payer_data: bool) -> None:
    synthetic = payer_data and summary.get("synthetic", False)
    text = f"Source: {source}" + (f"  |  {config.SYNTHETIC_LABEL.upper()}" if synthetic else "")
    _text(
        slide,
        text,
        _MARGIN,
        Inches(6.75),
        SLIDE_WIDTH - 2 * _MARGIN,
        Inches(0.5),
        size=11,
        color=_RED if synthetic else _GREY,
        bold=synthetic,
    )


def _text(
    slide: Any,
    text: str,
    left: int,
    top: int,
    width: int,
    height: int,
    *,
    size: int,
    bold: bool = False,
    color: RGBColor | None = None,
) -> None:
    frame = slide.shapes.add_textbox(left, top, width, height).text_frame
    frame.word_wrap = True
    run = frame.paragraphs[0].add_run()
    run.text = text
    run.font.size, run.font.bold = Pt(size), bold
    if color is not None:
        run.font.color.rgb = color


def _cell(cell: Any, text: str, *, bold: bool = False, color: RGBColor | None = None, right: bool = False) -> None:
    from pptx.enum.text import PP_ALIGN

    cell.text = text
    paragraph = cell.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.RIGHT if right else PP_ALIGN.LEFT
    for run in paragraph.runs:
        run.font.size, run.font.bold = Pt(14), bold
        if color is not None:
            run.font.color.rgb = color


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#"))
