"""deck.pptx read back with python-pptx (16:9, slides, pictures, native table) and rendered by LibreOffice."""

import copy
import io
import json
import math
import re
import shutil
import subprocess

import pytest
from conftest import REPORT_DATE
from PIL import Image
from pptx import Presentation
from pptx.util import Inches, Pt

from benchmark import config
from benchmark.reporting.deck import CHART_SLIDES, TABLE_ROWS_PER_SLIDE, build_deck
from benchmark.reporting.report import ReportParams

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def report_dir(report_44320):
    """The 44320 report rendered once per run (conftest.py): charts/, summary.json and the deck its export built."""
    return report_44320


@pytest.fixture(scope="module")
def deck(report_dir):
    return Presentation(str(report_dir / "deck.pptx"))


def _texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


def test_slides_are_16_to_9(deck):
    assert (deck.slide_width, deck.slide_height) == (Inches(13.333), Inches(7.5))
    assert deck.slide_width / deck.slide_height == pytest.approx(16 / 9, abs=0.001)


def test_title_then_one_slide_per_chart_then_the_tables(deck, report_dir):
    charts = sorted(p.stem for p in (report_dir / "slides").glob("*.png"))
    assert charts == sorted(CHART_SLIDES)  # 44320 has data for every chart; the policy matrix is a table
    slides = list(deck.slides)
    assert len(slides) == 1 + len(charts) + 1 + 2  # 4 payers: one table slide; 10 policy types: two slides
    title = " ".join(_texts(slides[0]))
    assert "CPT 44320" in title and config.SYNTHETIC_LABEL in title
    shown = []
    for slide in slides[1 : 1 + len(charts)]:
        pictures = [s for s in slide.shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == 1
        blob = pictures[0].image.blob
        stem = next(name for name in charts if (report_dir / "slides" / f"{name}.png").read_bytes() == blob)
        shown.append(stem)
        picture = pictures[0]
        assert picture.left >= 0 and picture.top >= 0
        assert picture.left + picture.width <= deck.slide_width and picture.top + picture.height <= deck.slide_height
        assert slide.shapes.title.text_frame.text.startswith("CPT 44320: ")
        footer = next(t for t in _texts(slide) if t.startswith("Source: "))
        assert (config.SYNTHETIC_LABEL.upper() in footer) == CHART_SLIDES[stem].payer_data, stem
    assert shown == list(CHART_SLIDES)  # every chart once, in the deck's order


def test_every_slide_has_one_title_from_its_layout(deck):
    for number, slide in enumerate(deck.slides, start=1):
        titles = [s for s in slide.placeholders if s.placeholder_format.type in (1, 3)]  # TITLE, CENTER_TITLE
        assert len(titles) == 1 and titles[0].text_frame.text.strip(), number
        assert slide.shapes.title is titles[0] or slide.shapes.title.shape_id == titles[0].shape_id
        assert slide.slide_layout.name in ("Title Slide", "Title Only"), number


def _runs(slide):
    for shape in slide.shapes:
        frames = [shape.text_frame] if shape.has_text_frame else []
        if shape.has_table:
            frames += [cell.text_frame for row in shape.table.rows for cell in row.cells]
        for frame in frames:
            for paragraph in frame.paragraphs:
                yield from (run for run in paragraph.runs if run.text.strip())


def test_no_text_is_smaller_than_10_pt(deck):
    sizes = [
        (number, run.text[:30], run.font.size) for number, slide in enumerate(deck.slides, 1) for run in _runs(slide)
    ]
    assert sizes
    assert [s for s in sizes if s[2] is None or s[2] < Pt(10)] == []


def test_slide_pictures_show_their_text_at_10_pt_or_more(deck, report_dir):
    # slide pictures are drawn with every text >= 11 pt at 150 dpi; shown at >= 10/11 of their drawn size
    for slide in deck.slides:
        for picture in (s for s in slide.shapes if s.shape_type == 13):
            with Image.open(io.BytesIO(picture.image.blob)) as image:
                drawn_width_in = image.size[0] / 150
            assert picture.width / Inches(1) >= drawn_width_in * 10 / 11


def test_every_content_slide_has_a_source_footer_and_the_title_slide_says_what_the_report_is(deck):
    slides = list(deck.slides)
    for slide in slides[1:]:
        assert any(t.startswith("Source: ") for t in _texts(slide))
    title = " ".join(_texts(slides[0]))
    for fact in ("Payers: all", "Geography: all states and localities", "Product lines: commercial", "Generated "):
        assert fact in title
    assert re.search(r"14 files; sha256 [0-9a-f]{12}", title) and "payer-benchmark 0.1.0" in title


def test_a_code_without_payer_rates_gets_no_empty_chart_slides(tmp_path, built_report):
    # the 99213 report built once per run (conftest.py); its charts, slide pictures and summary.json written here (on
    # a copy: writing records the chart paths on the report)
    copy.copy(built_report(ReportParams(code="99213", report_date=REPORT_DATE))).write_outputs(tmp_path)
    deck = Presentation(str(build_deck(tmp_path)))
    titles = [slide.shapes.title.text_frame.text for slide in deck.slides]
    assert not any(
        t.endswith(("professional fees by payer", "median % of Medicare by payer", "by payer and state"))
        for t in titles
    )
    assert "CPT 99213: Medicare national amount by year" in titles  # Medicare has data for 99213


def test_benchmark_table_is_a_native_table_with_the_summary_numbers(deck, report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    slide = next(s for s in deck.slides if "by payer and setting" in s.shapes.title.text_frame.text)
    tables = [s.table for s in slide.shapes if s.has_table]
    assert len(tables) == 1
    table = tables[0]
    cells = [[table.cell(r, c).text for c in range(len(table.columns))] for r in range(len(table.rows))]
    assert cells[0] == ["Payer", "Setting", "n", "P25", "Median", "P75", "Median % of Medicare", "Small sample"]
    assert [row[0] for row in cells[1:]] == ["Aetna", "BCBS", "Cigna", "UnitedHealthcare"]  # palette order
    for row in cells[1:]:
        stats = summary["payers"][row[0]]["facility"]
        assert row[1] == "facility" and row[2] == str(stats["n"])
        assert row[4] == "${:,.2f}".format(stats["median"])
        assert row[6] == "{:.1f}%".format(stats["median_pct_of_medicare"])
    footnote = " ".join(_texts(slide))
    assert config.SYNTHETIC_LABEL.upper() in footnote


def test_a_long_table_continues_on_more_slides_and_no_charts_means_no_chart_slides(tmp_path):
    payers = {f"Payer {i:02d}": {"facility": {"n": i, "median": 100.0 + i, "small_sample": True}} for i in range(23)}
    summary = {
        "code": "99213",
        "year": 2025,
        "data_label": "user-supplied files",
        "synthetic": False,
        "parameters": {"product_lines": ["commercial"]},
        "payers": payers,
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    deck = Presentation(str(build_deck(tmp_path)))
    slides = list(deck.slides)
    assert len(slides) == 1 + math.ceil(23 / TABLE_ROWS_PER_SLIDE)
    rows = [len(next(s for s in slide.shapes if s.has_table).table.rows) - 1 for slide in slides[1:]]
    assert rows == [10, 10, 3]
    assert "(continued)" in " ".join(_texts(slides[2]))
    assert all(config.SYNTHETIC_LABEL.upper() not in " ".join(_texts(s)) for s in slides)  # real data: no label


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice not installed (Debian package libreoffice-impress)")
def test_libreoffice_renders_every_slide(deck, report_dir, tmp_path):
    done = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(report_dir / "deck.pptx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    pdf = tmp_path / "deck.pdf"
    assert pdf.is_file(), done.stderr
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    assert pages == len(deck.slides)
    assert pdf.stat().st_size > 200_000  # the chart pictures are in it


def test_slide_pictures_have_no_title_or_footnote_of_their_own(tmp_path):
    import pandas as pd

    from benchmark.reporting import charts

    table = pd.DataFrame(
        {
            "payer_family": ["Aetna", "UnitedHealthcare"],
            "median_pct_of_medicare": [150.0, 120.0],
            "p25_pct_of_medicare": [140.0, 110.0],
            "p75_pct_of_medicare": [160.0, 130.0],
        }
    )
    fig = charts.pct_of_medicare_chart(table, "44320", 2025, synthetic=True)
    assert fig.axes[0].get_title(loc="left")  # the report's chart has its title
    charts.save_slide_figure(fig, tmp_path, "pct_of_medicare")
    assert (tmp_path / "pct_of_medicare.png").is_file()
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))]
    assert not any(t.startswith("CPT 44320") for t in texts)  # no title
    assert not any(config.SYNTHETIC_LABEL.upper() in t for t in texts)  # no footnote: the slide's footer has it
    sizes = [a.get_fontsize() for a in fig.findobj(lambda a: hasattr(a, "get_fontsize")) if a.get_text().strip()]
    assert min(sizes) >= 11
