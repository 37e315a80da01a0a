"""Trace (benchmark.analysis.trace) and the CLI commands trace / assess: hand-built rows, roles worked out by hand."""

from __future__ import annotations

import json
import shlex

import pandas as pd

from benchmark import cli
from benchmark.analysis import assessment, trace
from benchmark.analysis.rates import compare_to_medicare
from benchmark.reporting.report import CodeReport, ReportParams

A = "Aetna"
TIN = "11-1111111"


def _assessed(make_rates) -> pd.DataFrame:
    rows = [
        dict(amount=1000.0, amount_usd=1000.0, provider_tin=TIN, source_locator="L1"),  # counted
        dict(amount=1000.0, amount_usd=1000.0, provider_tin=TIN, source_locator="L2", plan_raw="Other"),  # repeat
        dict(amount=500.0, amount_usd=500.0, provider_tin=TIN, source_locator="L3", modifiers="80"),
        dict(amount=2000.0, amount_usd=2000.0, provider_tin=TIN, source_locator="L4", expiration_date="2020-01-01"),
        dict(amount=3000.0, amount_usd=3000.0, provider_tin=TIN, source_locator="L5", billing_class="institutional"),
        dict(amount=900.0, amount_usd=900.0, provider_tin=TIN, source_locator="L6", product_line="medicare_advantage"),
        dict(amount=800.0, amount_usd=800.0, payer_family="Cigna", payer_raw="Cigna", source_locator="L7"),
        dict(amount=1100.0, amount_usd=1100.0, provider_tin=TIN, source_locator="L8", amount_raw="$1,100.00"),
    ]
    compared = compare_to_medicare(make_rates(*rows), 2025)
    return assessment.assess(compared, None, "2026-12-06")


def test_trace_rows_roles_and_provenance(make_rates):
    rows = trace.trace_rows(_assessed(make_rates), payer=A, setting="facility")
    by_locator = rows.set_index("source_locator")
    assert list(by_locator.index) == ["L1", "L2", "L3", "L4", "L5", "L6", "L8"]  # Cigna's L7 is another payer
    assert by_locator["role"].to_dict() == {
        "L1": trace.IN_STATISTIC,
        "L2": trace.DUPLICATE,
        "L3": "not in benchmark: modifier rate (modifier table)",
        "L4": trace.IN_ALL_ONLY,
        "L5": "not in benchmark: billing class is not professional",
        "L6": "not in benchmark: product line not benchmarked",
        "L8": trace.IN_STATISTIC,
    }
    assert by_locator.loc["L2", "duplicate_of"] == "test.json L1"
    assert by_locator.loc["L4", "flag_reasons"] == "expired"
    assert by_locator.loc["L8", "published"] == "$1,100.00"
    assert by_locator.loc["L1", "published"] == "1000.00 USD"
    assert "amount read from text $1,100.00" in by_locator.loc["L8", "normalized"]
    assert by_locator.loc["L1", "source_sha256"] == "0" * 64
    # national Medicare amount (no locality on the rows): the comparison says which amount was used
    assert by_locator.loc["L1", "medicare_comparison"].startswith("Medicare 2025 facility, national")
    assert by_locator.loc["L1", "pct_of_medicare"] == round(1000.0 / by_locator.loc["L1", "medicare_amount"] * 100, 1)
    # the statistic's n, with and without flagged rates, is the count of its roles
    table = assessment.benchmark_table(_assessed(make_rates)).set_index(["rates", "payer_family"])
    assert table.loc[("all", A), "n"] == 3  # L1, L4, L8
    assert table.loc[("excluding flagged", A), "n"] == 2  # L1, L8


def test_statistic_queries_reproduce_each_row():
    table = pd.DataFrame(
        {"rates": ["all"], "payer_family": ["BCBS"], "pos_setting": ["facility"], "n": [12]},
    )
    queries = trace.statistic_queries(table, "44320", source="sample", year=2024, report_date="2026-12-06")
    assert queries == [
        {
            "rates": "all",
            "payer_family": "BCBS",
            "pos_setting": "facility",
            "n": 12,
            "query": "paybench trace 44320 --payer BCBS --setting facility --geography all --source sample "
            "--year 2024 --report-date 2026-12-06",
        }
    ]
    command = trace.trace_command("44320", "Blue Cross", None, "TX", "my files/x.json", product_lines=["exchange"])
    assert command == (
        "paybench trace 44320 --payer 'Blue Cross' --geography TX --source 'my files/x.json' --year 2025 "
        "--product-lines exchange"
    )


def test_cli_trace_and_assess_on_the_sample(tmp_path, capsys):
    out = tmp_path / "trace.csv"
    code = cli.main(["trace", "44320", "--payer", "UnitedHealthcare", "--report-date", "2026-12-06", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out, dtype=str)
    assert rows["payer_raw"].str.contains("UnitedHealthcare").all()
    assert set(rows["crosscheck"]) >= {"agree", "disagree", "not cross-checked"}
    summary_file = tmp_path / "assess.json"
    code = cli.main(["assess", "44320", "--report-date", "2026-12-06", "--out", str(summary_file)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "synthetic sample data — not actual payer rates" in printed
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["crosscheck"]["verdicts"]["disagree"] == 2
    uhc = [q for q in summary["queries"] if q["payer_family"] == "UnitedHealthcare" and q["rates"] == "all"]
    assert uhc[0]["query"].startswith("paybench trace 44320 --payer UnitedHealthcare --setting facility")
    # the trace of that statistic lists exactly its n rows as counted
    counted = rows[rows["role"].isin([trace.IN_STATISTIC, trace.IN_ALL_ONLY]) & rows["pos_setting"].eq("facility")]
    assert len(counted) == uhc[0]["n"]
    # argparse rejects an unknown level before anything is read: a parameter error, exit 2
    assert cli.main(["assess", "44320", "--min-confidence", "certain"]) == 2


HOSPITAL_TIN = "12-3456789"
HOSPITAL_FILE = "123456789_test-hospital_standardcharges.csv"  # CMS naming: the hospital's EIN first


def _assessed_with_confidence(make_rates) -> pd.DataFrame:
    """A corroborated pair (payer 1000, hospital 1010: 1% apart), a single-source rate and an expired one."""
    rows = [
        dict(amount=1000.0, amount_usd=1000.0, provider_tin=HOSPITAL_TIN, source_locator="L1"),
        dict(amount=1200.0, amount_usd=1200.0, provider_tin="99-9999999", source_locator="L2"),  # no hospital file
        dict(amount=2000.0, amount_usd=2000.0, provider_tin=TIN, source_locator="L3", expiration_date="2020-01-01"),
        dict(
            source_type="hospital",
            payer_raw="Aetna",
            amount=1010.0,
            amount_usd=1010.0,
            provider_name="Test Hospital",
            source_file=HOSPITAL_FILE,
            source_locator="H1",
        ),
    ]
    compared = compare_to_medicare(make_rates(*rows), 2025)
    return assessment.assess(compared, None, "2026-12-06")


def test_trace_with_min_confidence_lists_exactly_the_restricted_statistic(make_rates):
    assessed = _assessed_with_confidence(make_rates)
    rows = trace.trace_rows(assessed, payer=A, min_confidence="corroborated")
    roles = rows.set_index("source_locator")["role"].to_dict()
    assert roles == {
        "L1": trace.IN_STATISTIC,  # agrees with H1: corroborated
        "L2": trace.BELOW_CONFIDENCE,  # single source
        "L3": trace.IN_ALL_ONLY,  # expired: flagged
        "H1": trace.IN_STATISTIC,
    }
    # the same rows as the report's restricted statistic: n 2, median (1000 + 1010) / 2 = 1005
    table = assessment.benchmark_table(assessed, min_confidence="corroborated").set_index(["rates", "payer_family"])
    counted = rows[rows["role"].eq(trace.IN_STATISTIC)]
    assert table.loc[("excluding flagged", A), "n"] == len(counted) == 2
    assert table.loc[("excluding flagged", A), "median"] == counted["amount_usd"].median() == 1005.0
    # without the option every unflagged rate is in the statistic
    plain = trace.trace_rows(assessed, payer=A).set_index("source_locator")["role"]
    assert plain["L2"] == trace.IN_STATISTIC and plain["L3"] == trace.IN_ALL_ONLY
    command = trace.trace_command("44320", A, keep_implausible=True, min_confidence="single source")
    assert command.endswith("--keep-implausible --min-confidence 'single source'")


def test_the_trace_of_a_restricted_reports_statistic_reproduces_its_n_and_median(tmp_path):
    # a report restricted every way the report allows: geography, payers, implausible rates kept, min confidence
    params = ReportParams(
        code="44320",
        geography="TX",
        payers=("Cigna", "UnitedHealthcare"),
        report_date="2026-12-06",
        keep_implausible=True,
        min_confidence="single source",
    )
    report = CodeReport.build(params)
    queries = report.summary()["assessment"]["statistic_queries"]
    assert {q["payer_family"] for q in queries} == {"Cigna", "UnitedHealthcare"}
    stats = report.by_setting.set_index(["payer_family", "pos_setting"])
    stats_all = report.by_setting_all_rates.set_index(["payer_family", "pos_setting"])
    for family in ("Cigna", "UnitedHealthcare"):
        query = next(
            q for q in queries if q["payer_family"] == family and q["rates"] == "excluding flagged" and "state" not in q
        )
        words = shlex.split(query["query"])
        assert words[:2] == ["paybench", "trace"]
        assert "--keep-implausible" in words and words[words.index("--min-confidence") + 1] == "single source"
        out = tmp_path / f"{family}.csv"
        assert cli.main([*words[1:], "--out", str(out)]) == 0
        rows = pd.read_csv(out, dtype={"role": str})
        counted = rows[rows["role"].eq(trace.IN_STATISTIC)]
        key = (family, query["pos_setting"])
        assert len(counted) == query["n"] == stats.loc[key, "n"] > 0
        # the report shows medians to the cent (rounded half up, so compare within half a cent)
        assert abs(counted["amount_usd"].median() - stats.loc[key, "median"]) <= 0.005 + 1e-9
        with_flagged = rows[rows["role"].isin([trace.IN_STATISTIC, trace.IN_ALL_ONLY, trace.BELOW_CONFIDENCE])]
        assert len(with_flagged) == stats_all.loc[key, "n"]
        assert abs(with_flagged["amount_usd"].median() - stats_all.loc[key, "median"]) <= 0.005 + 1e-9
