"""The seaborn/matplotlib charts draw without deprecation warnings (a warning today is an error in a later release)."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd

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
