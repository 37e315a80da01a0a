"""``deck.pptx``: a report as slides an analyst can drop into a presentation (python-pptx).

:func:`build_deck` reads a finished report folder (``summary.json`` and ``slides/*.png``, the slide pictures of the
charts that have data) and writes a 16:9 deck: a title slide that says what the report is (code, year, payers,
geography, product lines, data sources, when and by what), one slide per chart picture (the picture carries no title
or footnote of its own), the benchmark table and the policy matrix as native PowerPoint tables (editable, restyled by
the deck's theme). Every slide comes from a layout with a title placeholder ("Title Slide", "Title Only"), so outline
views and accessibility checkers see one title per slide; no text is smaller than 10 pt; the footer of every slide
names the source and, for payer data from the sample, carries the synthetic-data label. Decks take PNG pictures:
PowerPoint cannot embed SVG through python-pptx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from benchmark import codes, config
from benchmark.reference import policy
from benchmark.reporting import about
from benchmark.reporting.html_render import format_value
from benchmark.reporting.palette import PAYER_ORDER, PAYER_PALETTE

DECK_NAME = "deck.pptx"
SLIDES_DIR = "slides"  # slide pictures written by CodeReport.write_outputs
SLIDE_WIDTH = Inches(13.333)  # 16:9 widescreen, 13.333 x 7.5 in
SLIDE_HEIGHT = Inches(7.5)
TABLE_ROWS_PER_SLIDE = 10
POLICY_TYPES_PER_SLIDE = 5
MIN_FONT_PT = 10  # no text of the deck is smaller
TITLE_LAYOUT = 0  # "Title Slide" of python-pptx's default template: title + subtitle placeholders
TITLE_ONLY_LAYOUT = 5  # "Title Only": a title placeholder, the body is placed by this module
_RED = RGBColor(0xB0, 0x00, 0x20)
_GREY = RGBColor(0x44, 0x44, 0x44)
_MARGIN = Inches(0.5)
_BODY_TOP = Inches(1.25)
_FOOTER_TOP = Inches(6.85)


@dataclass(frozen=True)
class ChartSlide:
    title: str  # after "CPT <code>: "
    source: str  # footer; {year} is the report's payment year
    payer_data: bool  # the chart shows payer rates (so the synthetic-data label applies)


CHART_SLIDES: dict[str, ChartSlide] = {
    "rate_distribution": ChartSlide(
        "professional fees by payer",
        "Payer TiC in-network files and hospital standard-charge files (professional fees); Medicare national amount "
        "from CMS PFS {year}.",
        True,
    ),
    "pct_of_medicare": ChartSlide(
        "median % of Medicare by payer",
        "Payer price files; % of the CMS PFS {year} amount of the same locality. Bars: interquartile range.",
        True,
    ),
    "pct_of_medicare_by_state": ChartSlide(
        "median % of Medicare by payer and state",
        "Payer price files; % of the CMS PFS {year} amount of the same locality.",
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


# (summary key, header, format_value kind, width in inches) of an MS-DRG report's table slide
DRG_TABLE_COLUMNS: tuple[tuple[str, str, str | None, float], ...] = (
    ("product_line", "Product line", "setting", 2.0),
    ("payer_family", "Payer", None, 2.2),
    ("n", "n", "int", 0.8),
    ("min", "Min", "money", 1.5),
    ("median", "Median", "money", 1.5),
    ("max", "Max", "money", 1.5),
    ("median_pct_of_ipps", "Median % of Medicare (IPPS)", "pct", 2.0),
)


def build_deck(report_dir: str | Path, deck_path: str | Path | None = None) -> Path:
    """Write ``deck.pptx`` (or ``deck_path``) for the report in ``report_dir``; returns its path."""
    folder = Path(report_dir)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    prs.core_properties.title = _title(summary)
    prs.core_properties.comments = summary["data_label"]
    _title_slide(prs, summary)
    for png in _chart_files(folder / SLIDES_DIR):
        _chart_slide(prs, summary, png)
    drg = summary.get("code_type") == codes.MS_DRG
    rows = drg_table_rows(summary) if drg else benchmark_table_rows(summary)
    for start in range(0, max(len(rows), 1), TABLE_ROWS_PER_SLIDE):
        part = rows[start : start + TABLE_ROWS_PER_SLIDE]
        if drg:
            _drg_table_slide(prs, summary, part, continued=start > 0)
        else:
            _table_slide(prs, summary, part, continued=start > 0)
    matrix = summary.get("policy", {}).get("matrix") or {}
    types = list(dict.fromkeys(t for cells in matrix.values() for t in cells))
    for start in range(0, len(types), POLICY_TYPES_PER_SLIDE):
        _policy_slide(prs, summary, matrix, types[start : start + POLICY_TYPES_PER_SLIDE], continued=start > 0)
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


def drg_table_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """An MS-DRG report's per-stay rates (product line x payer) of ``summary.json``, payers in palette order."""
    rank = {p: i for i, p in enumerate(PAYER_ORDER)}
    rows = [
        {"product_line": line, "payer_family": payer, **stats}
        for line, payers in summary.get("drg_rates", {}).items()
        for payer, stats in payers.items()
    ]
    return sorted(rows, key=lambda r: (r["product_line"], rank.get(r["payer_family"], len(rank)), r["payer_family"]))


# --------------------------------------------------------------------------------------------------- slides
def _title(summary: dict[str, Any]) -> str:
    return summary.get("title") or f"{codes.label(summary['code'])} — payer benchmark report, {summary['year']}"


def _title_slide(prs: Any, summary: dict[str, Any]) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_LAYOUT])
    title = slide.shapes.title
    _place(title, Inches(0.8), Inches(0.6), Inches(11.7), Inches(1.5))
    _set_text(title.text_frame, [(_title(summary), 36, True, None)])
    facts = summary.get("report") or {}
    params = summary.get("parameters", {})
    lines: list[tuple[str, int, bool, RGBColor | None]] = [
        (
            f"Medicare IPPS fiscal year {summary['year']}"
            if summary.get("code_type") == codes.MS_DRG
            else f"Medicare PFS payment year {summary['year']}",
            16,
            False,
            _GREY,
        ),
        ("Payers: " + ", ".join(facts.get("payers") or params.get("payers") or ["all"]), 16, False, _GREY),
        ("Geography: " + str(facts.get("geography_label") or params.get("geography", "all")), 16, False, _GREY),
        (
            "Product lines: " + ", ".join(facts.get("product_lines") or params.get("product_lines") or []),
            16,
            False,
            _GREY,
        ),
    ]
    lines += [("Source: " + about.source_line(source), 12, False, _GREY) for source in facts.get("sources", [])]
    lines.append(
        (
            f"Rates: {summary['data_label']}",
            16,
            bool(summary.get("synthetic")),
            _RED if summary.get("synthetic") else _GREY,
        )
    )
    generated = facts.get("generated_at") or summary.get("generated_on", "")
    version = facts.get("package_version") or summary.get("package_version", "")
    lines.append((f"Generated {generated} (UTC) by payer-benchmark {version}", 12, False, _GREY))
    body = next(p for p in slide.placeholders if p.placeholder_format.idx == 1)  # the subtitle placeholder
    _place(body, Inches(0.8), Inches(2.3), Inches(11.7), Inches(4.6))
    _set_text(body.text_frame, lines, align=PP_ALIGN.LEFT)


def _titled_slide(prs: Any, text: str) -> Any:
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY_LAYOUT])
    title = slide.shapes.title
    _place(title, _MARGIN, Inches(0.3), SLIDE_WIDTH - 2 * _MARGIN, Inches(0.85))
    _set_text(title.text_frame, [(text, 28, True, None)], align=PP_ALIGN.LEFT)
    return slide


def _chart_slide(prs: Any, summary: dict[str, Any], png: Path) -> None:
    spec = CHART_SLIDES.get(png.stem, ChartSlide(png.stem.replace("_", " "), "See the report's methodology.", True))
    slide = _titled_slide(prs, f"{codes.label(summary['code'])}: {spec.title}")
    box_left, box_top = _MARGIN, _BODY_TOP
    box_width, box_height = SLIDE_WIDTH - 2 * _MARGIN, _FOOTER_TOP - _BODY_TOP - Inches(0.05)
    with Image.open(png) as image:
        width_px, height_px = image.size
    scale = min(box_width / width_px, box_height / height_px)
    width, height = Emu(int(width_px * scale)), Emu(int(height_px * scale))
    picture = slide.shapes.add_picture(
        str(png), box_left + (box_width - width) // 2, box_top + (box_height - height) // 2, width, height
    )
    picture.name = f"Chart: {spec.title}"
    _footer(slide, summary, spec.source.format(year=summary["year"]), spec.payer_data)


def _table_slide(
    prs: Any,
    summary: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    continued: bool,
    columns: tuple[tuple[str, str, str | None, float], ...] = TABLE_COLUMNS,
    title: str | None = None,
    source: str | None = None,
) -> None:
    lines = ", ".join(summary.get("parameters", {}).get("product_lines") or [])
    slide = _titled_slide(
        prs,
        (title or f"{codes.label(summary['code'])}: {lines} professional fees by payer and setting")
        + (" (continued)" if continued else ""),
    )
    body = rows or [{"payer_family": config.NOT_AVAILABLE}]
    shape = slide.shapes.add_table(
        len(body) + 1, len(columns), _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.45) * (len(body) + 1)
    )
    table = shape.table
    for column, (_, label, kind, width) in enumerate(columns):
        table.columns[column].width = Inches(width)
        _cell(table.cell(0, column), label, bold=True, right=kind in ("int", "money", "pct"))
    for row_index, row in enumerate(body, start=1):
        for column, (key, _, kind, _) in enumerate(columns):
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
    _footer(
        slide,
        summary,
        source
        or f"Payer price files; % of the CMS Physician Fee Schedule {summary['year']} amount of the same locality. "
        f"Fewer than {config.SMALL_SAMPLE_N} rates: small sample.",
        True,
    )


def _drg_table_slide(prs: Any, summary: dict[str, Any], rows: list[dict[str, Any]], *, continued: bool) -> None:
    """An MS-DRG report's per-stay rates by product line and payer against the IPPS amount (or why there is none)."""
    medicare = summary.get("medicare", {})
    block = medicare.get("ipps")
    source = (
        f"Payer price files; % of the Medicare IPPS FY {block['fiscal_year']} national operating payment "
        f"({format_value(block['payment'], 'money')}: weight x standardized amount, wage index 1.0)."
        if block
        else f"Payer price files. Medicare: {medicare.get('ipps_reason') or config.NOT_AVAILABLE}."
    )
    title = f"{codes.label(summary['code'])}: rates per inpatient stay by product line and payer"
    _table_slide(prs, summary, rows, continued=continued, columns=DRG_TABLE_COLUMNS, title=title, source=source)


def _policy_slide(
    prs: Any, summary: dict[str, Any], matrix: dict[str, dict[str, Any]], types: list[str], *, continued: bool
) -> None:
    slide = _titled_slide(
        prs,
        f"{codes.label(summary['code'])}: what each payer requires, by policy type"
        + (" (continued)" if continued else ""),
    )
    payers = list(matrix)
    first = Inches(2.4)
    rest = (SLIDE_WIDTH - 2 * _MARGIN - first) / max(len(types), 1)
    shape = slide.shapes.add_table(
        len(payers) + 1, len(types) + 1, _MARGIN, _BODY_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.4) * (len(payers) + 1)
    )
    table = shape.table
    table.columns[0].width = first
    _cell(table.cell(0, 0), "Payer", bold=True)
    for column, policy_type in enumerate(types, start=1):
        table.columns[column].width = Emu(int(rest))
        _cell(table.cell(0, column), policy.POLICY_TYPES.get(policy_type, policy_type), bold=True, size=10)
    illustrative = False
    for row, payer in enumerate(payers, start=1):
        _cell(table.cell(row, 0), payer, bold=True, size=10)
        for column, policy_type in enumerate(types, start=1):
            entry = matrix[payer].get(policy_type) or {}
            known = entry.get("status") == "known"
            text = str(entry.get("value")) if known else config.NOT_AVAILABLE
            if known and entry.get("basis") == "illustrative":
                text += " (illustrative)"
                illustrative = True
            _cell(table.cell(row, column), text, color=None if known else _GREY, size=10)
    _footer(
        slide,
        summary,
        f"CMS PFS {summary['year']} indicators (Medicare); payer policy tables in data/policy/"
        + ("; illustrative entries are invented for the synthetic sample." if illustrative else "."),
        illustrative,
    )


# --------------------------------------------------------------------------------------------------- helpers
def _chart_files(folder: Path) -> list[Path]:
    pngs = {p.stem: p for p in folder.glob("*.png")} if folder.is_dir() else {}
    known = [pngs[name] for name in CHART_SLIDES if name in pngs]
    return known + sorted(p for name, p in pngs.items() if name not in CHART_SLIDES)


def _place(shape: Any, left: int, top: int, width: int, height: int) -> None:
    shape.left, shape.top, shape.width, shape.height = int(left), int(top), int(width), int(height)


def _set_text(frame: Any, lines: list[tuple[str, int, bool, RGBColor | None]], *, align: Any = PP_ALIGN.LEFT) -> None:
    """Replace a text frame's text by ``lines`` (text, size in pt, bold, colour), one paragraph each."""
    frame.clear()
    frame.word_wrap = True
    for index, (text, size, bold, color) in enumerate(lines):
        paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
        paragraph.alignment = align
        run = paragraph.add_run()
        run.text = text
        run.font.size, run.font.bold = Pt(max(size, MIN_FONT_PT)), bold
        if color is not None:
            run.font.color.rgb = color


def _footer(slide: Any, summary: dict[str, Any], source: str, payer_data: bool) -> None:
    synthetic = payer_data and summary.get("synthetic", False)
    text = f"Source: {source}" + (f"  |  {config.SYNTHETIC_LABEL.upper()}" if synthetic else "")
    box = slide.shapes.add_textbox(_MARGIN, _FOOTER_TOP, SLIDE_WIDTH - 2 * _MARGIN, Inches(0.5))
    box.name = "Footer"
    _set_text(box.text_frame, [(text, 11, bool(synthetic), _RED if synthetic else _GREY)])


def _cell(
    cell: Any, text: str, *, bold: bool = False, color: RGBColor | None = None, right: bool = False, size: int = 12
) -> None:
    cell.text = text
    paragraph = cell.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.RIGHT if right else PP_ALIGN.LEFT
    for run in paragraph.runs:
        run.font.size, run.font.bold = Pt(max(size, MIN_FONT_PT)), bold
        if color is not None:
            run.font.color.rgb = color


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#"))
