"""deck.pptx read back with python-pptx (16:9, slides, pictures, native table) and rendered by LibreOffice."""

import json
import math
import re
import shutil
import subprocess

import pytest
from pptx import Presentation
from pptx.util import Inches

from benchmark import config
from benchmark.reporting.deck import CHART_SLIDES, TABLE_ROWS_PER_SLIDE, build_deck

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def report_dir(report_44320_2025):
    """The 44320 report rendered once per run (conftest.py): charts/, summary.json and the deck its export built."""
    return report_44320_2025


@pytest.fixture(scope="module")
def deck(report_dir):
    return Presentation(str(report_dir / "deck.pptx"))


def _texts(slide) -> list[str]:
    return [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]


def test_slides_are_16_to_9(deck):
    assert (deck.slide_width, deck.slide_height) == (Inches(13.333), Inches(7.5))
    assert deck.slide_width / deck.slide_height == pytest.approx(16 / 9, abs=0.001)


def test_title_then_one_slide_per_chart_then_the_table(deck, report_dir):
    charts = sorted(p.stem for p in (report_dir / "charts").glob("*.png"))
    assert len(charts) >= 5
    slides = list(deck.slides)
    assert len(slides) == 1 + len(charts) + 1  # 4 payers: one table slide
    title = " ".join(_texts(slides[0]))
    assert "CPT 44320" in title and config.SYNTHETIC_LABEL in title
    shown = []
    for slide in slides[1:-1]:
        pictures = [s for s in slide.shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == 1
        blob = pictures[0].image.blob
        stem = next(name for name in charts if (report_dir / "charts" / f"{name}.png").read_bytes() == blob)
        shown.append(stem)
        picture = pictures[0]
        assert picture.left >= 0 and picture.top >= 0
        assert picture.left + picture.width <= deck.slide_width and picture.top + picture.height <= deck.slide_height
        texts = _texts(slide)
        assert any(t.startswith("CPT 44320: ") for t in texts)
        footnote = next(t for t in texts if t.startswith("Source: "))
        expected_label = CHART_SLIDES[stem].payer_data if stem in CHART_SLIDES else True
        assert (config.SYNTHETIC_LABEL.upper() in footnote) == expected_label, stem
    assert sorted(shown) == charts  # every chart once
    assert shown[:5] == [
        "rate_distribution",
        "pct_of_medicare",
        "pct_of_medicare_by_state",
        "medicare_localities",
        "medicare_by_year",
    ]


def test_benchmark_table_is_a_native_table_with_the_summary_numbers(deck, report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    slide = list(deck.slides)[-1]
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
