"""The rate assessment (flags, payer-hospital cross-check, confidence) in the report's data: CodeReport, summary.json,
charts and the `paybench report` options. Reports are built in-process (no notebook) on the synthetic sample and its
planted problems (benchmark.synthetic, README "Planted problems")."""

import datetime as dt
import shlex

import pandas as pd
import pytest
from matplotlib import pyplot as plt

from benchmark import cli, config, synthetic
from benchmark.analysis import confidence, flags, trace
from benchmark.errors import ParameterError
from benchmark.reporting import assessment_view, batch, charts, preflight
from benchmark.reporting.report import CodeReport, ReportParams

CIGNA_PLACEHOLDER = 999999.99  # synthetic.PLACEHOLDER_PRICES: Cigna, group TX-G01, 44310


@pytest.fixture(scope="module")
def report_44310() -> CodeReport:
    return CodeReport.build(ReportParams(code="44310", report_date="2026-12-06"))


@pytest.fixture(scope="module")
def report_44320_corroborated() -> CodeReport:
    # no report_date: the run date (UTC) is used and written down
    return CodeReport.build(ReportParams(code="44320", min_confidence="corroborated"))


def _zombie_tins() -> set[str]:
    directory = pd.read_csv(config.SAMPLE_PROVIDER_DIRECTORY, dtype=str)
    return set(directory.loc[directory["taxonomy"].eq(synthetic.TAXONOMY_PSYCHIATRY), "tin"])


def test_the_placeholder_is_out_of_the_benchmark_and_in_the_all_rates_statistics(report_44310):
    summary = report_44310.summary()
    kept = summary["payers"]["Cigna"]["facility"]
    everything = summary["assessment"]["benchmark_all_rates"]["Cigna"]["facility"]
    assert everything["max"] == CIGNA_PLACEHOLDER
    assert kept["max"] < 10000
    assert CIGNA_PLACEHOLDER not in set(report_44310.benchmark_rows["amount_usd"])
    # nothing deleted: the placeholder row is still there, flagged, with its reason
    row = report_44310.benchmark_rows_all[report_44310.benchmark_rows_all["amount_usd"].eq(CIGNA_PLACEHOLDER)]
    assert len(row) == 1 and bool(row["placeholder"].iloc[0]) and row["state"].iloc[0] == "TX"
    # the all-rates n is the kept n plus the Cigna facility rates flagged
    all_cigna = report_44310.benchmark_rows_all
    all_cigna = all_cigna[all_cigna["payer_family"].eq("Cigna") & all_cigna["pos_setting"].eq("facility")]
    assert everything["n"] == len(all_cigna) == kept["n"] + int(all_cigna["flagged"].sum())
    # existing keys unchanged, new counts added
    assert summary["counts"]["rates_in_benchmark"] == len(report_44310.benchmark_rows)
    assert summary["assessment"]["rates_in_benchmark_all_rates"] == len(report_44310.benchmark_rows_all)


def test_expired_contracts_counted_against_the_given_report_date(report_44310):
    summary = report_44310.summary()
    assert summary["report_date"] == "2026-12-06" == summary["parameters"]["report_date"]
    assert summary["assessment"]["report_date_basis"] == "parameter"
    rows = report_44310.compared
    # the synthetic contracts expiring 2026-06-30 are before 2026-12-06: each one flagged expired, no other date is
    expiring = rows["expiration_date"].astype("string").eq("2026-06-30").fillna(False)
    assert expiring.any()
    assert rows.loc[expiring, "expired"].all() and not rows.loc[~expiring, "expired"].any()


def test_the_zombie_group_is_counted_as_implausible_provider(report_44310):
    flagged = report_44310.summary()["assessment"]["flags_all_rates"]["n_flagged_by_reason"]
    rates = report_44310.compared
    zombie = rates["provider_tin"].isin(_zombie_tins()) & rates["source_type"].eq("tic")
    assert zombie.sum() > 0
    assert flagged[flags.IMPLAUSIBLE] == int(zombie.sum())


def test_data_gaps_name_the_flags_and_the_specialty_table(report_44310):
    gaps = report_44310.data_gaps()
    bench = report_44310.summary()["assessment"]["flags_benchmark_rows"]
    line = next(g for g in gaps if "benchmark rates flagged and left out" in g)
    assert line.startswith(f"{bench['n_flagged']} of {bench['n_rates']} benchmark rates")
    assert f"placeholder {bench['n_flagged_by_reason']['placeholder']}" in line
    assert any(g.startswith("Specialty table") and "version" in g for g in gaps)


def test_statistic_queries_reproduce_each_statistic(report_44310):
    summary = report_44310.summary()
    queries = summary["assessment"]["statistic_queries"]
    cigna = [q for q in queries if q["payer_family"] == "Cigna" and q["pos_setting"] == "facility" and "state" not in q]
    by_rates = {q["rates"]: q for q in cigna}
    assert by_rates[flags.EXCLUDING_FLAGGED]["n"] == summary["payers"]["Cigna"]["facility"]["n"]
    assert by_rates[flags.ALL_RATES]["n"] == summary["assessment"]["benchmark_all_rates"]["Cigna"]["facility"]["n"]
    query = by_rates[flags.EXCLUDING_FLAGGED]["query"]
    assert query.startswith("paybench trace 44310 --payer Cigna --setting facility --geography all --source sample")
    assert query.endswith("--report-date 2026-12-06")
    # the rows trace lists for it are the statistic's rows
    rows = trace.trace_rows(report_44310.compared, "Cigna", "facility")
    in_stat = rows["role"].eq(trace.IN_STATISTIC).sum()
    assert in_stat == by_rates[flags.EXCLUDING_FLAGGED]["n"]
    assert in_stat + rows["role"].eq(trace.IN_ALL_ONLY).sum() == by_rates[flags.ALL_RATES]["n"]


def test_a_by_state_statistic_has_a_query_whose_trace_lists_its_rows(report_44310, tmp_path):
    summary = report_44310.summary()
    by_state = [q for q in summary["assessment"]["statistic_queries"] if "state" in q]
    # one query per row of the page's by-state tables (without and with flagged rates)
    assert len(by_state) == len(report_44310.by_state) + len(report_44310.by_state_all_rates)
    query = max((q for q in by_state if q["rates"] == flags.EXCLUDING_FLAGGED), key=lambda q: q["n"])
    words = shlex.split(query["query"])
    assert words[words.index("--geography") + 1] == query["state"]
    out = tmp_path / "trace.csv"
    assert cli.main([*words[1:], "--out", str(out)]) == 0
    rows = pd.read_csv(out, dtype={"role": str})
    stats = report_44310.by_state.set_index(["payer_family", "state", "pos_setting"])
    key = (query["payer_family"], query["state"], query["pos_setting"])
    counted = rows[rows["role"].eq(trace.IN_STATISTIC)]
    assert len(counted) == query["n"] == stats.loc[key, "n"] > 0
    assert abs(counted["amount_usd"].median() - stats.loc[key, "median"]) <= 0.005 + 1e-9


def test_the_planted_disagreement_is_in_summary_with_both_sources(report_44320_corroborated):
    crosscheck = report_44320_corroborated.summary()["assessment"]["crosscheck"]
    assert crosscheck["verdicts"]["disagree"] == 2  # the UHC TiC rate and the hospital's row, each one verdict
    (row,) = crosscheck["largest_disagreements"]
    # planted: UnitedHealthcare's TiC case rate at the Miami hospital is the hospital's amount x 1.08
    assert row["payer_family"] == "UnitedHealthcare"
    assert row["hospital_amount"] == 40059.76 and row["payer_amount"] == round(40059.76 * 1.08, 2)
    assert "unitedhealthcare" in row["source_file"] and "in-network-rates" in row["source_file"]
    assert "bayside-hospital-of-miami" in row["counterpart_source_file"]
    by_payer = {r["payer_family"]: r for r in crosscheck["by_payer"]}
    assert by_payer["UnitedHealthcare"]["disagree"] == 2


def test_min_confidence_restricts_the_benchmark(report_44320_corroborated):
    report = report_44320_corroborated
    every = report.benchmark_rows_all
    assert set(report.benchmark_rows["confidence"]) <= {confidence.CORROBORATED}
    expected = int(every["confidence"].eq(confidence.CORROBORATED).sum())
    assert len(report.benchmark_rows) == expected < int((~every["flagged"]).sum())
    summary = report.summary()
    assert summary["counts"]["rates_in_benchmark"] == expected
    assert summary["assessment"]["min_confidence"] == "corroborated"
    assert any("confidence 'corroborated' or higher" in g for g in report.data_gaps())


def test_report_date_defaults_to_the_run_date_in_utc(report_44320_corroborated):
    summary = report_44320_corroborated.summary()
    today = dt.datetime.now(dt.UTC).date()
    assert summary["report_date"] in {today.isoformat(), (today - dt.timedelta(days=1)).isoformat()}
    assert summary["parameters"]["report_date"] == summary["report_date"]
    assert summary["assessment"]["report_date_basis"].startswith("run date (UTC)")


def test_crosscheck_chart_saved_with_the_others(report_44320_corroborated, tmp_path):
    paths = report_44320_corroborated.write_charts(tmp_path)
    assert set(paths["crosscheck"]) == {"png", "svg"}
    assert (tmp_path / "crosscheck.png").stat().st_size > 0 and (tmp_path / "crosscheck.svg").stat().st_size > 0


# --------------------------------------------------------------------------------------------------- charts
def _footer(fig) -> str:
    return " ".join(t.get_text() for t in fig.texts)


def test_crosscheck_chart_stacks_verdicts_and_carries_the_label():
    table = pd.DataFrame(
        {"payer_family": ["Cigna", "Aetna"], "agree": [3, 0], "disagree": [1, 2], "payer only": [0, 4]}
    )
    fig = charts.crosscheck_chart(table, "44320", synthetic=True)
    ax = fig.axes[0]
    widths = sorted(round(p.get_width()) for p in ax.patches)
    assert widths == [0, 0, 1, 2, 3, 4]  # one bar per payer and verdict
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["agree", "disagree", "payer only"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Aetna", "Cigna"]  # payer order of the palette
    assert config.SYNTHETIC_LABEL.upper() in _footer(fig)
    plt.close(fig)


def test_crosscheck_chart_without_data_says_so():
    for table in (
        pd.DataFrame(columns=["payer_family", "agree"]),
        pd.DataFrame({"payer_family": ["BCBS"], "agree": [0]}),
    ):
        fig = charts.crosscheck_chart(table, "44320", synthetic=True)
        assert config.NOT_AVAILABLE in [t.get_text() for t in fig.axes[0].texts]
        assert config.SYNTHETIC_LABEL.upper() in _footer(fig)
        plt.close(fig)


def test_flagged_points_are_marked_in_the_rate_distribution():
    kept = pd.DataFrame({"payer_family": ["Cigna"] * 3 + ["Aetna"] * 2, "amount_usd": [900.0, 1000, 1100, 950, 1050]})
    flagged = pd.DataFrame({"payer_family": ["Cigna", "Aetna"], "amount_usd": [999999.99, 1000.0]})
    fig = charts.rate_distribution_chart(
        kept, "44310", 1000.0, synthetic=True, setting_label="facility", flagged=flagged
    )
    ax = fig.axes[0]
    (label,) = [t.get_text() for t in ax.get_legend().get_texts()]
    assert label == "flagged rate, left out of the statistics (n=2; 1 beyond the axis, at its edge)"
    low, high = ax.get_xlim()
    assert high < 2000  # the axis spans the kept rates, not the placeholder
    assert config.SYNTHETIC_LABEL.upper() in _footer(fig)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------- parameters
def test_confidence_levels_of_preflight_are_the_analysis_levels():
    assert preflight.CONFIDENCE_LEVELS == confidence.LEVELS


@pytest.mark.parametrize(
    "bad",
    [
        {"min_confidence": "high"},
        {"report_date": "2026-13-01"},
        {"report_date": "12/06/2026"},
        {"keep_implausible": "yes"},
    ],
)
def test_invalid_assessment_parameters_are_refused(bad):
    with pytest.raises(ParameterError, match=next(iter(bad))):
        ReportParams(**bad)


@pytest.mark.parametrize(
    "options", [["--min-confidence", "high"], ["--report-date", "2026-02-30"], ["--report-date", "tomorrow"]]
)
def test_invalid_report_options_exit_2_before_anything_runs(options, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["report", "44310", "--out", str(out), *options]) == 2
    assert not out.exists()
    assert options[0].removeprefix("--").replace("-", "_") in capsys.readouterr().err


def test_batch_files_accept_the_assessment_keys(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(
        "defaults:\n  keep_implausible: true\n  min_confidence: single source\n"
        'reports:\n  - code: "44310"\n    report_date: 2026-12-06\n'
    )
    (params,) = batch.load_batch(path).reports
    assert (params.keep_implausible, params.min_confidence, params.report_date) == (True, "single source", "2026-12-06")
    path.write_text(
        'reports:\n  - code: "44310"\n    keep_implausible: maybe\n  - code: "44320"\n    min_confidence: high\n'
    )
    with pytest.raises(batch.BatchSpecError, match="keep_implausible: expected true or false") as error:
        batch.load_batch(path)
    assert "reports[1]: min_confidence must be one of" in str(error.value)


def test_summary_json_keeps_the_assessment_block(report_44310, tmp_path):
    import json

    path = report_44310.write_summary(tmp_path / "summary.json")
    written = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    block = written["assessment"]
    for key in ("flags_benchmark_rows", "flags_all_rates", "crosscheck", "confidence_by_payer"):
        assert key in block, key
    assert block["benchmark_all_rates"]["Cigna"]["facility"]["max"] == CIGNA_PLACEHOLDER
    assert written["payers"]["Cigna"]["facility"]["max"] < 10000


# --------------------------------------------------------------------------------------------------- on the page
def test_the_agreement_section_shows_verdicts_disagreements_confidence_and_flags(report_44320_corroborated):
    report = report_44320_corroborated
    html = report.section_html("crosscheck")
    assert "<h2>Do payers and hospitals agree?</h2>" in html and config.SYNTHETIC_LABEL in html
    # verdicts by payer: UnitedHealthcare's row carries the planted disagreement (its TiC rate and the hospital's)
    uhc = next(
        i for i, r in enumerate(report.assessment["crosscheck"]["by_payer"]) if r["payer_family"] == "UnitedHealthcare"
    )
    assert f'data-key="assessment.crosscheck.by_payer.{uhc}.disagree">2</td>' in html
    # the largest disagreement: both values, the difference (43,264.54 / 40,059.76 - 1 = 8.0%), both files by name
    assert 'largest_disagreements.0.payer_amount">43,264.54</td>' in html
    assert 'largest_disagreements.0.hospital_amount">40,059.76</td>' in html
    assert 'largest_disagreements.0.difference_pct">8.0%</td>' in html
    assert "294809839_sample-bayside-hospital-of-miami-synthetic_standardcharges.csv</span>" in html
    assert "line 11 column standard_charge" in html
    # confidence mix by payer and flags by reason, as counted in the report's rates
    mix = confidence.confidence_mix(report.benchmark_rows_all).set_index("payer_family")
    assert (
        f'data-key="assessment.confidence_by_payer.{uhc}.flagged">{mix.loc["UnitedHealthcare", "flagged"]}</td>' in html
    )
    expired = int(report.benchmark_rows_all["expired"].sum())
    assert f'n_flagged_by_reason.expired">{expired}</td>' in html and expired > 0
    assert "restricted to <b>corroborated</b> rates or higher" in html
    assert "(the run date, UTC)" in html  # no report_date given


def test_payment_benchmarking_shows_every_statistic_with_flagged_rates_too(report_44310):
    html = report_44310.section_html("payment")
    kept = html.index("Professional fees by payer and setting")
    included = html.index("The same statistics with flagged rates included")
    assert kept < included < html.index("<h3>By geography</h3>")
    # the Cigna placeholder (999,999.99) is the all-rates maximum only
    assert 'data-key="assessment.benchmark_all_rates.Cigna.facility.max">$999,999.99</td>' in html
    # and by state: the placeholder's group is in TX
    assert 'data-key="assessment.benchmark_all_rates_by_state.Cigna.TX.facility.max">$999,999.99</td>' in html
    assert html.count("$999,999.99") == 2  # in the two flagged-included tables only
    assert html.index("<h3>By geography</h3>") < html.index("<h3>By geography, flagged rates included</h3>")
    left_out = len(report_44310.benchmark_rows_all) - len(report_44310.benchmark_rows)
    assert f"The table above leaves out {left_out} flagged rates" in html and left_out > 0


@pytest.mark.parametrize(
    ("source_file", "shown"),
    [
        ("294809839_x_standardcharges.csv", "294809839_x_standardcharges.csv"),
        ("https://files.example.org/2025/in-network.json.gz", "in-network.json.gz"),
        ("https://files.example.org/a/rates.json?sig=SECRET&exp=1", "rates.json"),
        ("tic.zip!inner/folder/rates.json", "tic.zip!rates.json"),
        ("/home/me/data/file.csv", "file.csv"),
    ],
)
def test_sources_are_shown_by_file_name_without_address_or_query(source_file, shown):
    assert assessment_view.file_name(source_file) == shown


def test_the_agreement_section_without_any_cross_check_says_so():
    block = {
        "crosscheck": {
            "verdicts": {"not cross-checked": 3},
            "by_payer": [],
            "tolerance": {"dollars_share_of_hospital_amount": 0.03, "percent_points": 1.0},
            "largest_disagreements": [],
        },
        "flags_benchmark_rows": {"n_rates": 3, "n_flagged": 0, "n_flagged_by_reason": {}},
        "flags_all_rates": {"n_rates": 3, "n_flagged": 0, "n_flagged_by_reason": {}},
        "confidence_by_payer": [],
    }
    context = assessment_view.crosscheck_context(block)
    assert context["disagreements"] == [] and [r["benchmark"] for r in context["flag_reasons"]] == [0] * 6
