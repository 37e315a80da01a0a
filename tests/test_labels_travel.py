"""The synthetic-data label travels with the numbers: analyst-API tables and figures, however they are saved."""

from __future__ import annotations

import io

import matplotlib
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import benchmark as bm
from benchmark import config
from benchmark.reporting import charts

LABEL = "synthetic sample data — not actual payer rates"  # written out: the label the data rules require


@pytest.fixture(scope="module")
def table():
    return bm.benchmark_table("44320")


def test_the_label_is_the_one_the_data_rules_require():
    assert config.SYNTHETIC_LABEL == LABEL


def test_an_analyst_table_from_the_sample_carries_the_label(table):
    assert isinstance(table, pd.DataFrame)
    assert table.attrs["label"] == LABEL and table.attrs["synthetic"] is True
    assert LABEL in table._repr_html_() and LABEL in repr(table)  # the notebook caption and the text repr
    derived = table[table["payer_family"] == "Aetna"].head(1)  # a selection keeps it
    assert derived.attrs["label"] == LABEL and LABEL in derived._repr_html_()


def test_compared_rates_carry_the_label():
    rates = bm.compared_rates("44320")
    assert rates.attrs["label"] == LABEL and len(rates) > 100


def _inside(fig, plain_png: bytes) -> list[str]:
    """Sides where what the figure draws (footnote, tick labels, titles, legends) leaves the figure's area."""
    assert plain_png[:8] == b"\x89PNG\r\n\x1a\n"
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # laid out as a draw places it, without rendering the pixels again
    drawn = fig.get_tightbbox(canvas.get_renderer())  # inches, only what is drawn
    page = fig.bbox_inches
    tolerance = 0.01
    sides = {
        "left": drawn.x0 < page.x0 - tolerance,
        "bottom": drawn.y0 < page.y0 - tolerance,
        "right": drawn.x1 > page.x1 + tolerance,
        "top": drawn.y1 > page.y1 + tolerance,
    }
    return [side for side, out in sides.items() if out]


@pytest.mark.parametrize("plot", ["plot_pct_of_medicare", "plot_rate_distribution"])
def test_a_figure_saved_with_a_plain_savefig_keeps_its_footer_and_labels(plot):
    fig = getattr(bm, plot)("44320")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # no bbox_inches, no style: the way a chart goes into slides
    footers = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if LABEL.upper() in t.get_text()]
    assert len(footers) == 1
    assert _inside(fig, buffer.getvalue()) == []
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    if plot == "plot_pct_of_medicare":
        assert "UnitedHealthcare" in ticks


def test_every_report_chart_keeps_its_texts_inside_the_figure(built_report):
    from conftest import REPORT_DATE

    from benchmark.reporting.report import ReportParams

    report = built_report(ReportParams(code="44320", report_date=REPORT_DATE))  # built once per run (conftest)
    for name, draw in report.figures().items():
        fig = draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        assert _inside(fig, buffer.getvalue()) == [], name


def test_figures_are_not_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    charts.pct_of_medicare_chart(bm.benchmark_table("44320", by=("payer_family",)), "44320", 2025, synthetic=True)
    assert plt.get_fignums() == before  # so a notebook shows a returned figure once, not twice
