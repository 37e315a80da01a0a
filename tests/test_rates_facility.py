"""Institutional rates get their own Medicare baseline (OPPS, CLFS, IPPS), never the physician fee schedule.

Expected amounts are typed in from the CMS files (quoted in tests/test_facility_baselines.py) and percentages are
computed here with Decimal.
"""

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from conftest import rate_row

from benchmark.analysis import rates
from benchmark.reference.medicare import ipps
from benchmark.schema import validate_rates

TABLE5 = Path(__file__).parent / "fixtures" / "ipps" / "table5_fy2026_layout.txt"


def pct(amount: str, base: str) -> float:
    return float((Decimal(amount) / Decimal(base) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))


def institutional(**overrides) -> dict:
    values = {"billing_class": "institutional", "pos_setting": "facility", "care_setting": "outpatient"}
    values.update(overrides)
    return rate_row(**values)


@pytest.fixture(scope="module")
def compared() -> pd.DataFrame:
    rows = [
        institutional(billing_code="45378", amount=1500.0, amount_usd=1500.0),  # OPPS T, APC 5311, $911.71
        institutional(billing_code="44320", amount=9000.0, amount_usd=9000.0),  # OPPS C: inpatient only
        institutional(billing_code="85025", amount=15.54, amount_usd=15.54),  # CLFS 2026 $7.77
        institutional(
            billing_code="470",
            billing_code_type="MS-DRG",
            care_setting="inpatient",
            rate_type="case_rate",
            amount=25000.0,
            amount_usd=25000.0,
            amount_unit="USD_per_case",
            service_codes=None,
        ),
        institutional(billing_code="0001F", amount=10.0, amount_usd=10.0),  # OPPS E1: not paid under OPPS
        institutional(billing_code="44320", care_setting="inpatient", amount=9000.0, amount_usd=9000.0),
        rate_row(billing_code="44320", amount=2243.88, amount_usd=2243.88),  # professional, facility POS
    ]
    return rates.compare_to_medicare(validate_rates(pd.DataFrame(rows)), 2026)


def test_outpatient_rate_against_opps(compared):
    row = compared.iloc[0]
    assert (row["facility_medicare_basis"], row["facility_medicare_amount"]) == ("OPPS", 911.71)
    assert row["pct_of_facility_medicare"] == pct("1500", "911.71")  # 164.5
    assert "national unadjusted" in row["facility_comparison_note"] and "CY 2025" in row["facility_comparison_note"]
    assert pd.isna(row["pct_of_medicare"])  # never the physician fee schedule


def test_status_indicator_words_when_not_comparable(compared):
    assert "inpatient only under Medicare" in compared.iloc[1]["facility_comparison_note"]
    assert "not paid under OPPS" in compared.iloc[4]["facility_comparison_note"]
    assert "MS-DRG" in compared.iloc[5]["facility_comparison_note"]  # inpatient CPT rate: Medicare pays by DRG
    for index in (1, 4, 5):
        assert pd.isna(compared.iloc[index]["pct_of_facility_medicare"])


def test_lab_rate_against_clfs(compared):
    row = compared.iloc[2]
    assert (row["facility_medicare_basis"], row["facility_medicare_amount"]) == ("CLFS", 7.77)
    assert row["pct_of_facility_medicare"] == pct("15.54", "7.77") == 200.0


def test_drg_rate_needs_table5(compared):
    row = compared.iloc[3]
    assert row["facility_comparison_note"] == ipps.TABLE5_NEEDED and pd.isna(row["pct_of_facility_medicare"])


def test_drg_rate_with_table5():
    row = institutional(
        billing_code="470",
        billing_code_type="MS-DRG",
        care_setting="inpatient",
        rate_type="case_rate",
        amount=25000.0,
        amount_usd=25000.0,
        amount_unit="USD_per_case",
    )
    table5 = ipps.load_table5(TABLE5)
    out = rates.compare_to_medicare(validate_rates(pd.DataFrame([row])), 2026, table5=table5).iloc[0]
    expected = (Decimal("1.9289") * (Decimal("4186.62") + Decimal("2565.99"))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert out["facility_medicare_basis"] == "IPPS" and out["facility_medicare_amount"] == float(expected)
    assert out["pct_of_facility_medicare"] == pct("25000", str(expected))
    assert "wage index 1.0" in out["facility_comparison_note"]


def test_professional_rate_keeps_the_pfs_comparison(compared):
    row = compared.iloc[6]
    assert row["medicare_basis"] == "PFS" and row["medicare_amount"] == 1121.94  # 33.59 x 33.4009
    assert row["pct_of_medicare"] == pct("2243.88", "1121.94") == 200.0
    assert pd.isna(row["facility_medicare_basis"]) and pd.isna(row["pct_of_facility_medicare"])


def test_professional_lab_rate_against_clfs():
    rows = [
        rate_row(billing_code="85025", amount=11.66, amount_usd=11.66, pos_setting="non_facility"),
        rate_row(billing_code="85025", amount=11.66, amount_usd=11.66, pos_setting="both"),
    ]
    out = rates.compare_to_medicare(validate_rates(pd.DataFrame(rows)), 2026)
    assert out["medicare_basis"].tolist() == ["CLFS", "CLFS"] and out["medicare_amount"].tolist() == [7.77, 7.77]
    assert out["pct_of_medicare"].tolist() == [pct("11.66", "7.77")] * 2  # 150.1
    assert out["medicare_match"].tolist() == [rates.MATCH_CLFS] * 2
    assert out["medicare_locality_used"].tolist() == ["national"] * 2
    none_2025 = rates.compare_to_medicare(validate_rates(pd.DataFrame(rows[:1])), 2025).iloc[0]
    assert pd.isna(none_2025["pct_of_medicare"])  # no CY 2025 CLFS shipped: not compared, never a guess
    assert none_2025["comparison_note"] == "Medicare does not pay 85025 in the non-facility setting"


def test_cms_example_drg_rates_against_ipps(shared_reference):
    # V3.0.0_Tall_CSV_Format_Example.csv lines 8-9: MS-DRG 470, inpatient, case rates $49,000 and $14,000
    example = shared_reference / "hpt" / "v3.0.0" / "V3.0.0_Tall_CSV_Format_Example.csv"
    loaded = rates.load_rates([example], codes=["470"]).rates
    dollars = loaded[loaded["amount_unit"].eq("USD_per_case")]
    assert sorted(dollars["amount"]) == [14000.0, 49000.0] and dollars["amount_usd"].isna().all()
    without = rates.compare_to_medicare(dollars, 2026)
    assert (without["facility_comparison_note"] == ipps.TABLE5_NEEDED).all()
    out = rates.compare_to_medicare(dollars, 2026, table5=ipps.load_table5(TABLE5))
    ipps_amount = (Decimal("1.9289") * Decimal("6752.61")).quantize(Decimal("0.01"), ROUND_HALF_UP)  # 13,025.11
    assert set(out["facility_medicare_basis"]) == {"IPPS"} and set(out["facility_medicare_amount"]) == {
        float(ipps_amount)
    }
    assert sorted(out["pct_of_facility_medicare"]) == [pct("14000", str(ipps_amount)), pct("49000", str(ipps_amount))]
    assert out["pct_of_medicare"].isna().all()  # never against the physician fee schedule
