"""The seaborn/matplotlib charts draw without deprecation warnings (a warning today is an error in a later release),
what they draw, and how they are saved (PNG + SVG, the footnote wrapped to the figure's width)."""

from __future__ import annotations

import io
import warnings

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PIL import Image

import benchmark as bm
from benchmark import config
from benchmark.reporting import charts


def test_rate_distribution_and_heatmap_draw_without_warnings():
    rows = pd.DataFrame(
        {
            "payer_family": ["Aetna", "Aetna", "Aetna", "Cigna", "Cigna"],
            "amount_usd": [900.0, 1000.0, 1400.0, 1200.0, 1300.0],
        }
    )
    table = pd.DataFrame(
        {"payer_family": ["Aetna", "Cigna"], "state": ["TX", "FL"], "median_pct_of_medicare": [150.0, 210.0]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        box = charts.rate_distribution_chart(rows, "44320", 1168.68, synthetic=True, setting_label="facility")
        heat = charts.market_heatmap(table, "44320", synthetic=True)
    ax = box.axes[0]
    # one box per payer family, at the rows of their dots: Aetna's box spans its quartiles 950..1200
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Aetna", "Cigna"]
    aetna = ax.patches[0].get_path().vertices
    assert (aetna[:, 0].min(), aetna[:, 0].max()) == (950.0, 1200.0)
    assert abs(aetna[:, 1].mean()) < 0.3  # centred on category 0
    assert len(heat.axes[0].texts) == 2  # the two annotated cells
    plt.close(box)
    plt.close(heat)


def _rates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "payer_family": ["Aetna"] * 6 + ["Cigna"] * 3 + ["BCBS"],
            "amount_usd": [900.0, 950.0, 1000.0, 1100.0, 1250.0, 1400.0, 1200.0, 1300.0, 1350.0, 1000.0],
        }
    )


def test_every_rate_is_a_dot_on_its_payers_row_in_its_colour_the_same_each_time():
    first = charts.rate_distribution_chart(_rates(), "44320", 800.0, synthetic=True, setting_label="facility")
    again = charts.rate_distribution_chart(_rates(), "44320", 800.0, synthetic=True, setting_label="facility")
    ax = first.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Aetna", "BCBS", "Cigna"]  # payer order of the palette
    assert ax.get_ylim() == (2.5, -0.5)  # first payer on top, half a row of room around the rows
    dots = {tuple(c.get_facecolor()[0][:3]): c.get_offsets() for c in ax.collections}
    expected = {"Aetna": (0, [900, 950, 1000, 1100, 1250, 1400]), "BCBS": (1, [1000]), "Cigna": (2, [1200, 1300, 1350])}
    for family, (row, amounts) in expected.items():
        offsets = dots[matplotlib.colors.to_rgb(charts.PAYER_PALETTE[family])]
        assert list(offsets[:, 0]) == amounts  # every rate drawn once, at its amount
        assert all(abs(y - row) <= charts.JITTER for y in offsets[:, 1])  # spread within its row's band
    assert list(dots[matplotlib.colors.to_rgb(charts.PAYER_PALETTE["BCBS"])][:, 1]) == [1.0]  # one dot: on the row
    assert len(set(dots[matplotlib.colors.to_rgb(charts.PAYER_PALETTE["Aetna"])][:, 1])) == 6  # jittered apart
    # drawn again from the same rates: the same picture (the jitter is seeded, not taken from global random state)
    assert all((a.get_offsets() == b.get_offsets()).all() for a, b in zip(ax.collections, again.axes[0].collections))


def test_the_policy_matrix_colours_each_cell_by_what_it_rests_on():
    matrix = pd.DataFrame(
        {
            "payer_key": ["Medicare", "Medicare", "Aetna"],
            "policy_type": ["global_days", "co_surgery", "global_days"],
            "status": ["known", "known", "known"],
            "value": ["90-day global", "62.5% each", "As CMS"],
            "basis": ["derived", "derived", "illustrative"],
        }
    )
    fig = charts.policy_matrix_chart(matrix, "44320", ["Global days", "Co-surgery"], synthetic=True)
    ax = fig.axes[0]
    (cells,) = ax.collections  # one collection for the 2 x 2 cells
    colours = [matplotlib.colors.to_hex(c) for c in cells.get_facecolors()]
    basis = {name: colour.lower() for name, colour in charts.POLICY_BASIS_COLORS.items()}
    # row by row: Medicare (derived, derived), Aetna (illustrative, no co-surgery entry: unknown)
    assert colours == [basis["derived"], basis["derived"], basis["illustrative"], basis["unknown"]]
    corners = [tuple(path.vertices.min(axis=0)) for path in cells.get_paths()]
    assert corners == [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]  # unit cells at (column, row)
    texts = [t.get_text() for t in ax.texts]
    assert config.NOT_AVAILABLE == "Data not available"
    assert texts == ["90-day global", "62.5% each", "As CMS", "Data not\navailable"]  # wrapped at 17 characters


def test_saved_png_and_svg_have_the_figures_size_and_the_layout_stays_live(tmp_path):
    fig = charts.pct_of_medicare_chart(bm.benchmark_table("44320", by=("payer_family",)), "44320", 2025, synthetic=True)
    canvas, dpi = fig.canvas, fig.dpi
    paths = charts.save_figure(fig, tmp_path, "pct")
    assert fig.canvas is canvas and fig.dpi == dpi == 100  # drawn at 220 dpi on an Agg canvas, both put back
    with Image.open(paths["png"]) as image:
        # 10 x 5.625 in at 220 dpi, opaque (RGB), the resolution recorded
        assert (image.size, image.mode) == ((2200, 1237), "RGB")
        assert [round(v) for v in image.info["dpi"]] == [charts.PNG_DPI, charts.PNG_DPI]
        pixels = image.load()
        assert pixels[0, 0] == (255, 255, 255)
    svg = paths["svg"].read_text()
    assert 'width="720pt" height="405pt"' in svg and config.SYNTHETIC_LABEL.upper() in svg
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)  # back after the SVG reused the PNG's layout


def test_a_transparent_figure_keeps_its_alpha(tmp_path):
    fig = charts.pct_of_medicare_chart(pd.DataFrame(columns=["median_pct_of_medicare"]), "44320", 2025, synthetic=False)
    fig.patch.set_alpha(0.0)
    path = charts.save_figure(fig, tmp_path, "clear")["png"]
    with Image.open(path) as image:
        assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0


def test_the_footnote_is_wrapped_to_the_figures_width_and_again_when_it_changes():
    table = bm.benchmark_table("44320", by=("payer_family",))
    fig = charts.pct_of_medicare_chart(table, "44320", 2025, synthetic=True)
    (footnote,) = [t for t in fig.findobj(matplotlib.text.Text) if config.SYNTHETIC_LABEL.upper() in t.get_text()]
    whole = footnote.get_text()
    assert "\n" not in whole  # fits on one line of a 10 in figure
    fig.set_size_inches(4.5, 4.0)
    lines = footnote.get_text().split("\n")
    assert len(lines) >= 2 and " ".join(lines) == whole  # broken between words, nothing lost
    fig.savefig(io.BytesIO(), format="png")  # a plain savefig of the narrow figure
    for dpi in (72, 100, 220):  # the footnote stays inside, drawn at a low resolution (the widest hinting) or not
        fig.set_dpi(dpi)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        drawn = footnote.get_window_extent(canvas.get_renderer())
        assert drawn.x1 <= fig.bbox.x1 and drawn.y0 >= 0, dpi
    fig.set_size_inches(10, 5.625)
    assert footnote.get_text() == whole
