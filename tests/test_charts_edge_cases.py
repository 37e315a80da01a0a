"""Every chart function draws (and saves) a figure for empty, one-row and all-NaN input: no exception, and a chart
without data says so ("Data not available") instead of failing (the state heat map once crashed on rates without
a state: ``zero-size array to reduction operation fmin``), and keeps what it draws inside the figure."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from benchmark import config
from benchmark.reporting import charts

NAN = math.nan


def _rates(n: int, *, nan: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "payer_family": ["Aetna"] * n,
            "amount_usd": [NAN if nan else 1234.5] * n,
            "pos_setting": ["facility"] * n,
        }
    )


def _distribution(n: int, *, nan: bool = False, state: bool = True) -> pd.DataFrame:
    value = NAN if nan else 150.0
    frame = pd.DataFrame(
        {
            "payer_family": ["Aetna"] * n,
            "state": (["TX"] if state else [None]) * n,
            "pos_setting": ["facility"] * n,
            "median_pct_of_medicare": [value] * n,
            "p25_pct_of_medicare": [value] * n,
            "p75_pct_of_medicare": [value] * n,
        }
    )
    return frame


def _localities(n: int, *, nan: bool = False) -> pd.DataFrame:
    ids = ["04412-18", "national"][:n]
    return pd.DataFrame(
        {
            "locality_id": ids,
            "locality_name": ["AUSTIN", "NATIONAL"][: len(ids)],
            "state": ["TX", ""][: len(ids)],
            "setting": ["facility"] * len(ids),
            "amount": [NAN if nan else 700.0] * len(ids),
            "gpci_year": [NAN if nan else 2025] * len(ids),
        }
    )


def _by_year(n: int, *, nan: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": [2025] * n,
            "setting": ["facility"] * n,
            "amount": [NAN if nan else 700.0] * n,
            "conversion_factor": [NAN if nan else 32.3465] * n,
        }
    )


def _policy(n: int, *, nan: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "payer_key": ["Aetna"] * n,
            "policy_type": ["prior_authorization"] * n,
            "status": [None if nan else "known"] * n,
            "value": [None if nan else "Required"] * n,
            "basis": [None if nan else "illustrative"] * n,
        }
    )


def _batch(n: int, *, nan: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "report": ["44320"] * n,
            "payer_family": ["Aetna"] * n,
            "median_pct_of_medicare": [NAN if nan else 150.0] * n,
        }
    )


def _verdicts(n: int, *, nan: bool = False) -> pd.DataFrame:
    count = NAN if nan else 3
    return pd.DataFrame({"payer_family": ["Aetna"] * n, "agree": [count] * n, "disagree": [count] * n})


DRAWERS = {
    "rate_distribution_chart": lambda rows: charts.rate_distribution_chart(
        _rates(**rows), "44320", 700.0, synthetic=True, setting_label="facility"
    ),
    "rate_distribution_chart (no Medicare amount)": lambda rows: charts.rate_distribution_chart(
        _rates(**rows), "44320", None, synthetic=False, setting_label="facility"
    ),
    "pct_of_medicare_chart": lambda rows: charts.pct_of_medicare_chart(
        _distribution(**rows), "44320", 2025, synthetic=True
    ),
    "market_heatmap": lambda rows: charts.market_heatmap(_distribution(**rows), "44320", synthetic=True),
    "market_heatmap (rates without a state)": lambda rows: charts.market_heatmap(
        _distribution(**rows, state=False), "44320", synthetic=True
    ),
    "medicare_localities_chart": lambda rows: charts.medicare_localities_chart(
        _localities(**rows), "44320", 2025, ["04412-18"]
    ),
    "medicare_trend_chart": lambda rows: charts.medicare_trend_chart(_by_year(**rows), "44320"),
    "policy_matrix_chart": lambda rows: charts.policy_matrix_chart(
        _policy(**rows), "44320", ["Prior authorization"], synthetic=True
    ),
    "batch_overview_chart": lambda rows: charts.batch_overview_chart(_batch(**rows), synthetic=True),
    "rate_distribution_chart (flagged rates)": lambda rows: charts.rate_distribution_chart(
        _rates(**rows), "44320", 700.0, synthetic=True, setting_label="facility", flagged=_rates(**rows)
    ),
    "crosscheck_chart": lambda rows: charts.crosscheck_chart(_verdicts(**rows), "44320", synthetic=True),
}
CASES = {"empty": {"n": 0}, "one row": {"n": 1}, "all NaN": {"n": 2, "nan": True}}


def test_every_chart_function_is_covered():
    public = {
        name
        for name in dir(charts)
        if name.endswith("_chart") or name == "market_heatmap"
        if callable(getattr(charts, name)) and not name.startswith(("_", "save_"))  # save_chart draws via a drawer
    }
    assert public <= {name.split(" ")[0] for name in DRAWERS}


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("chart", DRAWERS)
def test_chart_handles_input(chart, case, tmp_path, monkeypatch):
    # the PNG at 72 dpi, not the reports' 220 (tests/test_charts.py checks that one): these inputs are about drawing
    # and saving without data, which a resolution does not change, and 220 dpi is most of the time of 33 saves
    monkeypatch.setattr(charts, "PNG_DPI", 72)
    fig = DRAWERS[chart](CASES[case])
    paths = charts.save_figure(fig, tmp_path, "chart")
    assert paths["png"].stat().st_size > 0 and paths["svg"].stat().st_size > 0
    if case != "one row":
        assert config.NOT_AVAILABLE in _texts(fig), "a chart without data must say so"
    elif chart not in ("market_heatmap (rates without a state)", "policy_matrix_chart"):  # its legend names it
        assert config.NOT_AVAILABLE not in _texts(fig)
    # saved without a tight bounding box: what the chart draws (titles, legends, labels, footnote) fits in the figure
    # (laid out again by a draw that renders nothing: the places and text sizes of a draw, without its pixels)
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    drawn, page = fig.get_tightbbox(canvas.get_renderer()), fig.bbox_inches
    assert page.x0 - 0.01 <= drawn.x0 and drawn.x1 <= page.x1 + 0.01, (drawn, page)
    assert page.y0 - 0.01 <= drawn.y0 and drawn.y1 <= page.y1 + 0.01, (drawn, page)
    plt.close("all")


def test_heatmap_without_state_says_not_available():
    fig = charts.market_heatmap(_distribution(3, state=False), "44320", synthetic=False)
    assert config.NOT_AVAILABLE in _texts(fig)
    plt.close(fig)
