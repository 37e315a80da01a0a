"""The report's Medicare facility baseline and institutional table, from rates compared by hand-checked rules.

Amounts are those of the CMS rows quoted in test_facility_baselines.py: 45378 OPPS CY 2025 SI T, APC 5311,
$911.71; 85025 CLFS 2026 $7.77; 44320 OPPS SI C (inpatient only).
"""

import pandas as pd
from conftest import rate_row

from benchmark.analysis import rates
from benchmark.reference import medicare
from benchmark.reporting import charts, report
from benchmark.schema import validate_rates


def institutional(**overrides) -> dict:
    values = {"billing_class": "institutional", "pos_setting": "facility", "care_setting": "outpatient"}
    return rate_row(**{**values, **overrides})


def test_facility_baseline_in_words():
    empty = rates.compare_to_medicare(validate_rates(pd.DataFrame([rate_row()])), 2026)
    opps = report._facility_baseline("45378", 2026, empty)
    assert (opps["basis"], opps["amount"]) == ("OPPS", 911.71) and "SI T, APC 5311" in opps["label"]
    lab = report._facility_baseline("85025", 2026, empty)
    assert (lab["basis"], lab["amount"]) == ("CLFS", 7.77)
    colostomy = report._facility_baseline("44320", 2026, empty)
    assert colostomy["basis"] is None and "inpatient only under Medicare" in colostomy["words"]
    packaged = report._facility_baseline("36415", 2025, empty)  # "36415\t\t\tQ4..." and no CY 2025 CLFS shipped
    assert packaged["basis"] is None and "packaged: no separate Medicare payment" in packaged["words"]


def test_institutional_table_by_payer_and_basis():
    rows = [
        institutional(billing_code="45378", amount=1500.0, amount_usd=1500.0),
        institutional(billing_code="45378", amount=1823.42, amount_usd=1823.42),
        institutional(
            billing_code="45378", payer_family="Cigna", payer_brand="Cigna", amount=911.71, amount_usd=911.71
        ),
        rate_row(billing_code="45378", amount=500.0, amount_usd=500.0),  # professional: not in this table
    ]
    compared = rates.compare_to_medicare(validate_rates(pd.DataFrame(rows)), 2026)
    table = report._institutional_table(compared, ("commercial",)).set_index(["payer_family", "basis"])
    assert list(table.index) == [("Aetna", "OPPS"), ("Cigna", "OPPS")]
    aetna = table.loc[("Aetna", "OPPS")]
    # 1500 / 911.71 = 164.5%, 1823.42 / 911.71 = 200.0%: median 182.25 -> 182.2 (numpy rounds half to even)
    assert (aetna["n"], aetna["median"], aetna["medicare_amount"]) == (2, 1661.71, 911.71)
    assert aetna["median_pct_of_facility_medicare"] == 182.2
    assert table.loc[("Cigna", "OPPS"), "median_pct_of_facility_medicare"] == 100.0


def test_localities_chart_says_when_gpcis_are_borrowed():
    for year, label in ((2022, "(2022 has no GPCI table: 2024 GPCIs)"), (2026, "lowest to highest")):
        amounts = medicare.medicare_amounts("44320", year)
        figure = charts.medicare_localities_chart(amounts[amounts["setting"] == "facility"], "44320", year, [])
        assert figure.axes[0].get_xlabel().endswith(label)
