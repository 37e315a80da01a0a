"""The per-code benchmark report: every number, table and chart of one report, built once.

:meth:`CodeReport.build` loads the rates, compares them with Medicare and computes every table; the notebook only
shows its sections (:meth:`CodeReport.show`), and :meth:`CodeReport.summary` holds every number the report shows
(``summary.json``). The report keeps the numbers; the section layout is in jinja2 templates
(``templates/sections/``, autoescape on, so every payer-supplied string is escaped). Each number cell carries
``data-key``, the path of the same number in ``summary.json``, so the two can be checked against each other.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark import cache, codes, config
from benchmark.analysis import assessment, confidence, crosscheck, flags, rates, stats, trace
from benchmark.reference import catalog, medicare, policy
from benchmark.reference.medicare import baseline, clfs, ipps, opps
from benchmark.reporting import about, assessment_view, charts, html_render, preflight
from benchmark.reporting.params import ReportParams
from benchmark.schema import PAYER_FAMILIES, PRODUCT_LINES, optional

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary & Overview"),
    ("code_overview", "Billing Code Overview"),
    ("clinical", "Clinical & Coding Specifications"),
    ("payment", "Payment Benchmarking"),
    ("crosscheck", "Do payers and hospitals agree?"),
    ("policy", "Coverage & Policy"),
    ("methodology", "Methodology, Sources and Data Gaps"),
)
NA = config.NOT_AVAILABLE
COMMERCIAL_FAMILIES = [p for p in PAYER_FAMILIES if p not in ("Medicare", "Other")]
POLICY_TYPES = list(policy.POLICY_TYPES.values())  # the policy matrix's columns (labels)
# an MS-DRG (a whole inpatient stay) has no global days, surgical indicators or modifier rules: only these apply
DRG_POLICY_TYPES = ("prior_authorization", "site_of_service", "medical_necessity")
# Modifiers of surgery (global package, bilateral, multiple procedures, co-, team and assistant surgeons): shown
# only for codes in a global surgical package, not for codes whose global concept does not apply (E/M visits...).
SURGICAL_MODIFIERS = frozenset(
    {"22", "50", "51", "54", "55", "56", "58", "62", "66", "78", "79", "80", "81", "82", "AS"}
)
NO_GLOBAL_PACKAGE = "XXX"  # PFS GLOB DAYS: the global concept does not apply
# sections an MS-DRG report lays out with its own template (sections/drg_<name>.html.j2, context _context_drg_<name>):
# no PFS amounts, indicators, global days or surgical modifiers
DRG_SECTIONS: tuple[str, ...] = ("summary", "code_overview", "clinical", "payment")
DRG_CHARTS: tuple[str, ...] = ("policy_matrix", "crosscheck")  # the charts an MS-DRG report draws


def surgical(indicators: medicare.PfsIndicators | None) -> bool:
    """Whether a code is in a global surgical package (PFS global days other than XXX); unknown codes count as
    surgical, so nothing is hidden for them."""
    return indicators is None or indicators.global_days != NO_GLOBAL_PACKAGE


def data_label(synthetic: bool, source_label: str) -> str:
    """What a report's rates are, as its pages, tables and summary say it: the source's label, which for data with
    synthetic sample rates in it holds :data:`config.SYNTHETIC_LABEL` word for word (the sample alone: that label; the
    sample with user-supplied files: both named); any other synthetic source (a rate store built from the sample):
    the synthetic label."""
    if synthetic and config.SYNTHETIC_LABEL not in source_label:
        return config.SYNTHETIC_LABEL
    return source_label


# --------------------------------------------------------------------------------------------------- the report


@dataclass
class CodeReport:
    params: ReportParams
    synthetic: bool
    source_label: str
    code_info: Any
    indicators: medicare.PfsIndicators | None
    medicare_by_year: pd.DataFrame
    medicare_localities: pd.DataFrame
    compared: pd.DataFrame
    benchmark_rows: pd.DataFrame
    by_setting: pd.DataFrame
    by_state: pd.DataFrame
    other_products: pd.DataFrame
    other_rate_types: pd.DataFrame
    modifier_table: pd.DataFrame
    accounts: pd.DataFrame
    quarantine: pd.DataFrame
    rejected: list = field(default_factory=list)
    duplicates_collapsed: int = 0  # benchmark rows that repeated a price already counted (stats.DEDUP_KEY)
    chart_paths: dict[str, dict[str, Path]] = field(default_factory=dict)
    policies: pd.DataFrame = field(default_factory=pd.DataFrame)  # policy rows used (payers' + Medicare's)
    policy_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)  # payers x policy types (policy module)
    modifier_payments: pd.DataFrame = field(default_factory=pd.DataFrame)  # modifier x payer: % and dollars
    facility_baseline: dict = field(default_factory=dict)  # OPPS / CLFS / IPPS baseline of the code (or why none)
    institutional: pd.DataFrame = field(default_factory=pd.DataFrame)  # facility fees vs that baseline, by payer
    # which rates to believe (benchmark.analysis.assessment): ``compared`` carries the flag, cross-check and
    # confidence columns; ``benchmark_rows`` / ``by_setting`` / ``by_state`` leave flagged rates out (and keep
    # ``min_confidence`` and above); the same statistics over every benchmark rate, flagged ones included:
    benchmark_rows_all: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_setting_all_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_state_all_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    assessment: dict = field(default_factory=dict)  # assessment.assessment_summary over the report's rates
    report_date_is_run_date: bool = False  # params.report_date was not given: the run date (UTC) was used
    # an MS-DRG report (code MS-DRG-470): the IPPS block (baseline.ipps_baseline) or None with the reason, the
    # MS-DRG rates by product line and payer, and the rates of the same number under another code type (left out)
    ipps: dict | None = None
    ipps_reason: str | None = None
    drg_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    other_code_types: dict = field(default_factory=dict)
    generated_at: str = field(default_factory=about.utc_now)  # UTC, when the report was built

    # ----------------------------------------------------------------------------------------------- build
    @classmethod
    def build(cls, params: ReportParams | None = None, **overrides: Any) -> CodeReport:
        """Load, compare and summarize everything the report for ``params.code`` shows."""
        params = params or ReportParams.from_mapping(overrides)
        run_date = not params.report_date
        if run_date:  # the run date, written into the parameters so that summary.json reproduces it
            params = dataclasses.replace(params, report_date=datetime.now(UTC).date().isoformat())
        providers = params.providers or None
        code = codes.parse(params.code)
        source = rates.resolve_source(params.data_source, providers)
        loaded = rates.load_rates(params.data_source, codes=[code.billing_code], provider_directory=providers)
        directory = rates.load_provider_directory(source.provider_directory) if source.provider_directory else None
        table5 = ipps.load_table5(params.ipps_table5) if params.ipps_table5 else None
        of_type, other_code_types = _of_code_type(loaded.rates, code)
        # assessed over every payer of the geography (the cross-check needs each payer's hospital rows, and the
        # outlier / placeholder rules see the same rows as `paybench trace`), then restricted to the report's payers
        assessed = assessment.assess(
            rates.compare_to_medicare(_in_geography(of_type, params), params.year, table5=table5),
            directory,
            params.report_date,
            params.keep_implausible,
        )
        compared = _of_payers(assessed, params)
        eligible = stats.benchmark_rows(compared, params.product_lines, unique=False)
        bench_all = stats.deduplicate(eligible)
        # the benchmark: flagged rates left out (kept as rows and columns in `compared` / `benchmark_rows_all`)
        bench = bench_all[~flags.excluded(bench_all, params.keep_implausible)]
        bench = confidence.at_least(bench, params.min_confidence or None)
        other_products = stats.distribution_table(
            stats.benchmark_rows(compared, [p for p in PRODUCT_LINES if p not in params.product_lines]),
            ["product_line", "payer_family", "pos_setting"],
        )
        report = cls(
            params=params,
            synthetic=source.is_synthetic,
            source_label=source.label,
            # an MS-DRG has no catalog entry, PFS indicators or PFS amounts (Medicare pays the stay under the IPPS)
            code_info=None if code.is_drg else _catalog_entry(params.code),
            indicators=None if code.is_drg else _indicators(params.code, params.year),
            # all shipped PFS years: parsed once per set of Medicare files (benchmark.cache, keyed by their sha256)
            medicare_by_year=_no_pfs_amounts(params.year)
            if code.is_drg
            else cache.cached_frame(
                "medicare_by_year",
                [params.code, cache.folder_digests(config.MEDICARE_DIR)],
                lambda: _medicare_by_year(params.code),
            ),
            medicare_localities=_no_pfs_amounts(params.year)
            if code.is_drg
            else medicare.medicare_amounts(params.code, params.year, localities="all"),
            compared=compared,
            benchmark_rows=bench,
            benchmark_rows_all=bench_all,
            by_setting_all_rates=stats.distribution_table(bench_all, ["payer_family", "pos_setting"]),
            by_state_all_rates=stats.distribution_table(
                bench_all.dropna(subset=["state"]), ["payer_family", "state", "pos_setting"]
            ),
            assessment=assessment.assessment_summary(compared, params.product_lines),
            report_date_is_run_date=run_date,
            duplicates_collapsed=len(eligible) - len(bench_all),
            by_setting=stats.distribution_table(bench, ["payer_family", "pos_setting"]),
            # rates without a known state (TiC rates no provider directory places) are counted in Data Gaps only
            by_state=stats.distribution_table(bench.dropna(subset=["state"]), ["payer_family", "state", "pos_setting"]),
            other_products=other_products,
            other_rate_types=_other_rate_types(compared),
            modifier_table=_modifier_table(params.code, params.year, compared),
            accounts=loaded.accounts_frame(),
            quarantine=loaded.quarantine,
            rejected=list(loaded.rejected),
        )
        report.policies, report.policy_matrix, report.modifier_payments = _policy_tables(report)
        report.institutional = _institutional_table(compared, params.product_lines)
        if code.is_drg:
            report.ipps, report.ipps_reason = baseline.ipps_baseline(code.billing_code, table5)
            report.facility_baseline = _drg_facility_baseline(report.ipps, report.ipps_reason)
            report.drg_rates = _drg_table(compared)
            report.other_code_types = other_code_types
        else:
            report.facility_baseline = _facility_baseline(params.code, params.year, compared)
        if params.output_dir:
            report.write_outputs(Path(params.output_dir))
        return report

    # ----------------------------------------------------------------------------------------------- outputs
    def figures(self) -> dict[str, Callable[[], Any]]:
        """Chart name -> function drawing it (so a notebook can draw one without writing files)."""
        code, year = self.params.code, self.params.year
        main_setting = self._main_setting()
        rows = self.benchmark_rows[self.benchmark_rows["pos_setting"] == main_setting]
        all_rows = self.benchmark_rows_all
        flagged_rows = all_rows[
            all_rows["pos_setting"].eq(main_setting) & flags.excluded(all_rows, self.params.keep_implausible)
        ]
        by_payer = stats.distribution_table(rows, ["payer_family"])
        state_rows = self.by_state[self.by_state["pos_setting"] == main_setting]
        payable = self.medicare_localities.dropna(subset=["amount"])
        locality_setting = "facility" if (payable["setting"] == "facility").any() else "non_facility"
        in_data = sorted(set(self.benchmark_rows["medicare_locality_used"].dropna()) - {medicare.NATIONAL})
        national = self._medicare_national(main_setting)
        # partials, not lambdas: charts.save_chart keys its cache on the chart function and these arguments
        drawn: dict[str, Callable[[], Any]] = {
            "rate_distribution": partial(
                charts.rate_distribution_chart,
                rows,
                code,
                national,
                synthetic=self.synthetic,
                setting_label=main_setting.replace("_", "-"),
                flagged=flagged_rows,
            ),
            "pct_of_medicare": partial(charts.pct_of_medicare_chart, by_payer, code, year, synthetic=self.synthetic),
            "pct_of_medicare_by_state": partial(charts.market_heatmap, state_rows, code, synthetic=self.synthetic),
            "medicare_localities": partial(
                charts.medicare_localities_chart,
                self.medicare_localities[self.medicare_localities["setting"] == locality_setting],
                code,
                year,
                in_data,
            ),
            "medicare_by_year": partial(charts.medicare_trend_chart, self.medicare_by_year, code),
            "policy_matrix": partial(
                charts.policy_matrix_chart, self.policy_matrix, code, self._policy_labels(), synthetic=self.synthetic
            ),
            "crosscheck": partial(
                charts.crosscheck_chart, crosscheck.verdicts_by_payer(self.compared), code, synthetic=self.synthetic
            ),
        }
        if self.code.is_drg:  # no professional fees or PFS amounts: those charts would be empty
            return {name: draw for name, draw in drawn.items() if name in DRG_CHARTS}
        return drawn

    def write_charts(self, out_dir: Path, slides_dir: Path | None = None) -> dict[str, dict[str, Path]]:
        """Draw and save every chart as PNG and SVG under ``out_dir``; with ``slides_dir``, also the slide picture
        of every chart that has data (:func:`charts.save_chart`: a chart drawn before from equal inputs is copied)."""
        self.chart_paths = {}
        for name, draw in self.figures().items():
            slides = slides_dir if name in SLIDE_CHARTS else None
            self.chart_paths[name] = charts.save_chart(draw, out_dir, name, slides)
        return self.chart_paths

    def write_outputs(self, out_dir: Path) -> None:
        """Charts (PNG + SVG) under ``out_dir/charts``, slide pictures under ``out_dir/slides``, ``summary.json``."""
        self.write_charts(out_dir / "charts", out_dir / "slides")
        self.write_summary(out_dir / "summary.json")

    def write_summary(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        return path

    def show(self, section: str) -> None:
        """Display one section in a notebook."""
        from IPython.display import HTML, display

        display(HTML(self.section_html(section)))

    # ----------------------------------------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """Every number the report shows, keyed by payer and metric (``summary.json``)."""
        p = self.params
        nat = {s: _none(self._medicare_national(s)) for s in ("facility", "non_facility")}
        by_year = {
            str(int(r.year)): {"setting": r.setting, "amount": _none(r.amount), "cf": r.conversion_factor}
            for r in self.medicare_by_year.itertuples()
            if r.setting == "facility"
        }
        by_year_all: dict[str, dict[str, float | None]] = {}
        for r in self.medicare_by_year.itertuples():
            by_year_all.setdefault(str(int(r.year)), {})[r.setting] = _none(r.amount)
        localities: dict[str, dict[str, Any]] = {}
        for r in self.medicare_localities[self.medicare_localities["locality_id"] != medicare.NATIONAL].itertuples():
            localities.setdefault(r.locality_id, {"name": r.locality_name, "state": r.state})[r.setting] = _none(
                r.amount
            )
        summary: dict[str, Any] = {
            "code": p.code,
            "code_type": self.code.kind,
            "year": p.year,
            "title": self.title(),
            "report": self.about(),
            "parameters": {k: v for k, v in p.as_notebook_parameters().items() if k != "output_dir"},
            "synthetic": self.synthetic,
            "data_label": self._data_label(),
            "generated_on": date.today().isoformat(),
            "package_version": package_version("payer-benchmark"),
            "medicare": {
                "national": nat,
                "by_year": by_year_all,
                "years": _nested(_years_table(self.medicare_by_year), ["year"]),
                "localities": localities,
                "conversion_factor": by_year.get(str(p.year), {}).get("cf"),
                "gpci_year": medicare.gpci_year_for(p.year),
                "geography_note": medicare.geography_note(p.year),
                "facility_baseline": self.facility_baseline,
                "not_payable_na": self._not_payable(p.year),
                "pct_of_medicare_against": f"the {p.year} Medicare PFS amount of the same setting and locality "
                "(national where the locality is unknown)",
            },
            "institutional": _nested(self.institutional, ["payer_family", "basis"]),
            "payers": _nested(self.by_setting, ["payer_family", "pos_setting"]),
            "payers_by_state": _nested(self.by_state, ["payer_family", "state", "pos_setting"]),
            "other_product_lines": _nested(self.other_products, ["product_line", "payer_family", "pos_setting"]),
            "other_rate_types": _records(self.other_rate_types),
            "modifiers": _nested(self.modifier_table, ["modifier"]),
            "modifier_payments": _nested(self.modifier_payments, ["modifier", "payer_key"]),
            "policy": {
                "matrix": _nested(self.policy_matrix, ["payer_key", "policy_type"]),
                "gaps": policy.policy_gaps(self.policy_matrix),
                "illustrative_entries": bool(self.policy_matrix["basis"].eq("illustrative").any())
                if len(self.policy_matrix)
                else False,
            },
            "counts": {
                "rates_loaded": int(len(self.compared)),
                "rates_in_benchmark": int(len(self.benchmark_rows)),
                "duplicate_rates_collapsed": self.duplicates_collapsed,
                "rates_compared_with_medicare": int(self.compared["pct_of_medicare"].notna().sum()),
                "rates_billing_class_not_given": int(self.compared["billing_class"].eq("unknown").sum()),
                "institutional_rates_compared": int(self.compared["pct_of_facility_medicare"].notna().sum()),
                "rows_quarantined": int(len(self.quarantine)),
                "files": int(len(self.accounts)),
                "files_rejected": len(self.rejected),
            },
            "files": _records(self.accounts),
            "quarantine_by_reason": {
                str(k): int(v) for k, v in self.quarantine["reason_code"].value_counts().sort_index().items()
            },
            "data_gaps": self.data_gaps(),
            "report_date": p.report_date,
            "assessment": self.assessment_block(),
        }
        if self.code.is_drg:
            summary["billing_code"] = self.code.billing_code
            summary["drg_title"] = self._drg_title()
            summary["medicare"]["ipps"] = self.ipps
            summary["medicare"]["ipps_reason"] = self.ipps_reason
            summary["drg_rates"] = _nested(self.drg_rates, ["product_line", "payer_family"])
            summary["counts"]["rates_of_other_code_types"] = self.other_code_types
        return summary

    @property
    def code(self) -> codes.ReportCode:
        """The report's code: CPT/HCPCS or MS-DRG (benchmark.codes)."""
        return codes.parse(self.params.code)

    def _drg_title(self) -> str:
        """An MS-DRG's title: from the user's Table 5 (CMS public text), else just "MS-DRG 470" (none ships)."""
        title = self.ipps.get("title") if self.ipps else None
        return title or self.code.label

    def assessment_block(self) -> dict[str, Any]:
        """summary.json's ``assessment``: flags, cross-check verdicts and confidence mix
        (``assessment.assessment_summary``), the benchmark statistics over every rate (flagged included, same shape
        as ``payers``) and, for each statistic, the ``paybench trace`` command listing its rows."""
        p = self.params
        return _plain(
            {
                **self.assessment,
                "report_date": p.report_date,
                "report_date_basis": "run date (UTC), parameter not given"
                if self.report_date_is_run_date
                else "parameter",
                "keep_implausible": p.keep_implausible,
                "min_confidence": p.min_confidence or None,
                "rates_in_benchmark": int(len(self.benchmark_rows)),
                "rates_in_benchmark_all_rates": int(len(self.benchmark_rows_all)),
                "benchmark_all_rates": _nested(self.by_setting_all_rates, ["payer_family", "pos_setting"]),
                "benchmark_all_rates_by_state": _nested(
                    self.by_state_all_rates, ["payer_family", "state", "pos_setting"]
                ),
                "statistic_queries": self._statistic_queries(),
            }
        )

    def _statistic_queries(self) -> list[dict]:
        p = self.params
        sources = preflight.source_list(p.data_source)
        options: dict[str, Any] = {"geography": p.geography, "source": sources[0], "year": p.year}
        options.update(product_lines=p.product_lines, providers=p.providers or None, report_date=p.report_date)
        options.update(keep_implausible=p.keep_implausible, min_confidence=p.min_confidence or None)
        # each statistic of the page: by payer and setting, then by state (its query names the state), each
        # without and with the flagged rates
        tables = [
            self.by_setting.assign(rates=flags.EXCLUDING_FLAGGED),
            self.by_setting_all_rates.assign(rates=flags.ALL_RATES),
            self.by_state.assign(rates=flags.EXCLUDING_FLAGGED),
            self.by_state_all_rates.assign(rates=flags.ALL_RATES),
        ]
        queries = [
            query for table in tables if len(table) for query in trace.statistic_queries(table, p.code, **options)
        ]
        for query in queries:
            if query["rates"] == flags.EXCLUDING_FLAGGED:
                query["rows"] = f"role '{trace.IN_STATISTIC}'"
            else:
                roles = [trace.IN_STATISTIC, trace.IN_ALL_ONLY] + ([trace.BELOW_CONFIDENCE] if p.min_confidence else [])
                query["rows"] = "roles " + ", ".join(f"'{r}'" for r in roles[:-1]) + f" and '{roles[-1]}'"
            if len(sources) > 1:
                query["note"] = "the report read several sources; `paybench trace` reads one (the first is named)"
        return queries

    def title(self) -> str:
        """The report's title; a geography report names its state or locality."""
        return about.report_title(self.params.code, self.params.year, self.params.geography, self._locality_names())

    def about(self) -> dict[str, Any]:
        """What this report is: code, year, payers, geography, product lines, data sources, when and by what."""
        p = self.params
        rates_files = [(r.source_file, r.source_sha256, r.file_date) for r in self.accounts.itertuples()]
        return {
            "title": self.title(),
            "code": p.code,
            "year": p.year,
            "payers": list(p.payers) or ["all"],
            "geography": p.geography,
            "geography_label": about.geography_label(p.geography, self._locality_names()),
            "product_lines": list(p.product_lines),
            "data_label": self._data_label(),
            "synthetic": self.synthetic,
            "sources": [
                about.files_source("Rates", self._data_label(), rates_files),
                about.ipps_source(config.IPPS_FISCAL_YEAR, p.ipps_table5)
                if self.code.is_drg
                else about.medicare_source(p.year),
            ],
            "generated_at": self.generated_at,
            "package_version": package_version("payer-benchmark"),
        }

    def _locality_names(self) -> dict[str, str]:
        table = self.medicare_localities
        return dict(zip(table["locality_id"], table["locality_name"]))

    def data_gaps(self) -> list[str]:
        """What the inputs do not contain, in words (shown in the report and kept in summary.json)."""
        p = self.params
        gaps = [f"File not loaded: {Path(r.source_file).name}: {r.reason}" for r in self.rejected]
        if self.code.is_drg:
            in_lines = self.compared[self.compared["product_line"].isin(list(p.product_lines))]
            present = set(in_lines["payer_family"])
        else:
            present = set(self.by_setting["payer_family"])
        wanted = list(p.payers) or COMMERCIAL_FAMILIES
        for family in wanted:
            if family not in present:
                gaps.append(f"{family}: no {', '.join(p.product_lines)} rates for {p.code} in the data")
        if self.code.is_drg:
            gaps.extend(self._drg_gaps())  # no PFS amount: Medicare pays the stay under the IPPS
        else:
            gaps.extend(self._pfs_gaps())
        geography = None if self.code.is_drg else medicare.geography_note(p.year)  # PFS locality geography
        if geography:
            gaps.append(geography)
        institutional = self.compared[_is_facility_rate(self.compared)]
        uncompared = institutional[institutional["pct_of_facility_medicare"].isna()]
        for note, count in uncompared["facility_comparison_note"].fillna(NA).value_counts().sort_index().items():
            gaps.append(f"{count} facility (institutional) rates have no % of Medicare: {note}")
        gaps.extend(self._billing_class_gaps())
        gaps.extend(f"Policy: {gap}" for gap in policy.policy_gaps(self.policy_matrix))
        small = self.by_setting[self.by_setting["small_sample"]]
        for r in small.itertuples():
            gaps.append(f"{r.payer_family} ({r.pos_setting.replace('_', '-')}): only {r.n} rates, a small sample")
        national = self.benchmark_rows["medicare_match"].eq(rates.MATCH_NATIONAL).sum()
        if national:
            gaps.append(f"{national} rates have no known locality and are compared with the national amount")
        gaps.extend(self._assessment_gaps())
        return gaps

    def _pfs_gaps(self) -> list[str]:
        """Data Gaps of a CPT/HCPCS code's catalog entry and PFS amounts."""
        p = self.params
        gaps = []
        if self.code_info is None:
            gaps.append(f"No catalog entry (plain-language description, clinical context) for {p.code}")
        if self.indicators is None:
            gaps.append(f"{p.code} is not in the {p.year} Medicare PFS release")
        else:
            for setting in ("facility", "non_facility"):
                if self._medicare_national(setting) is None:
                    gaps.append(
                        f"Medicare does not pay {p.code} in the {setting.replace('_', '-')} setting "
                        "(PFS NA indicator); rates in that setting have no % of Medicare"
                    )
        return gaps

    def _drg_gaps(self) -> list[str]:
        """Data Gaps of an MS-DRG report: the IPPS baseline (or why none), the title, other code types left out."""
        gaps = []
        if self.ipps is None:
            gaps.append(f"No Medicare amount for {self.code.label}: {self.ipps_reason}")
        else:
            gaps.append(
                f"The IPPS amount is national (wage index 1.0): capital, the hospital's wage index, outliers, DSH "
                f"and IME are not included (FY {self.ipps['fiscal_year']} standardized amounts, Table 1B)"
            )
        if not (self.ipps and self.ipps.get("title")):
            gaps.append(
                f"No title for {self.code.label}: MS-DRG titles come from the CMS IPPS Table 5, which payer-benchmark "
                "does not ship" + (" (the file given has no MS-DRG Title column)" if self.ipps else "")
            )
        gaps.append(f"No plain-language description or clinical context for {self.code.label} (the catalog covers CPT)")
        for code_type, count in self.other_code_types.items():
            gaps.append(
                f"{count} rates of code {self.code.billing_code} have the code type {code_type}, not MS-DRG: they are "
                "another code and are not in this report"
            )
        return gaps

    def _billing_class_gaps(self) -> list[str]:
        """Rates whose file does not say professional or institutional (v2.0 hospital files may leave it blank) or
        says both: never assumed to be either, so compared with no Medicare baseline (PFS or facility)."""
        gaps = []
        billing_class = self.compared["billing_class"]
        drg = self.compared["billing_code_type"].str.upper().str.contains("DRG", regex=False)
        for value, words in (("unknown", "billing class not given"), ("both", "billing class 'both'")):
            count = int((billing_class.eq(value) & ~drg).sum())
            if count:
                gaps.append(
                    f"{count} rates have no % of Medicare: {words} (professional and facility fees cannot be told "
                    "apart, so neither the PFS nor the facility baseline applies; they are not assumed to be either)"
                )
        return gaps

    def _assessment_gaps(self) -> list[str]:
        """Data Gaps of the rate assessment: n flagged by reason, the specialty table and what it does not cover."""
        p = self.params
        if not self.assessment:
            return []
        bench = self.assessment["flags_benchmark_rows"]
        gaps = []
        reasons = {k: v for k, v in bench["n_flagged_by_reason"].items() if v}
        if bench["n_flagged"]:
            kept = " (rates flagged only implausible_provider kept: --keep-implausible)" if p.keep_implausible else ""
            gaps.append(
                f"{bench['n_flagged']} of {bench['n_rates']} benchmark rates flagged and left out of the statistics"
                f"{kept}: "
                + ", ".join(f"{k} {v}" for k, v in reasons.items())
                + " (the statistics with them: Payment Benchmarking; reasons: 'Do payers and hospitals agree?')"
            )
        left_out = len(self.benchmark_rows_all) - len(self.benchmark_rows)
        if p.min_confidence:
            gaps.append(
                f"Benchmark restricted to confidence '{p.min_confidence}' or higher ({left_out} rates left out)"
            )
        table = bench["specialty_table"]
        unlisted = bench["codes_without_specialty_entry"]
        if unlisted:
            gaps.append(
                f"No entry in the specialty table for {', '.join(unlisted)}: implausible-provider rates are not "
                "filtered for it"
            )
        gaps.append(
            f"Specialty table (which specialties plausibly perform a code) version {table['version']} "
            f"({table['date']}): {table['basis']}"
        )
        if self.report_date_is_run_date:
            gaps.append(f"Contracts counted as expired against the run date {p.report_date} (no report_date given)")
        return gaps

    # ----------------------------------------------------------------------------------------------- helpers
    def _main_setting(self) -> str:
        counts = self.benchmark_rows["pos_setting"].value_counts()
        return str(counts.index[0]) if len(counts) else "facility"

    def _not_payable(self, year: int) -> dict[str, bool]:
        """Setting -> whether CMS's NA indicator says the code is not payable there in ``year`` (PFS)."""
        ind = self.indicators if year == self.params.year else _indicators(self.params.code, year)
        if ind is None:
            return {"facility": False, "non_facility": False}
        return {"facility": bool(ind.facility_na), "non_facility": bool(ind.non_facility_na)}

    def _medicare_national(self, setting: str) -> float | None:
        table = self.medicare_localities
        row = table[(table["locality_id"] == medicare.NATIONAL) & (table["setting"] == setting)]
        return None if row.empty or pd.isna(row["amount"].iloc[0]) else float(row["amount"].iloc[0])

    # ----------------------------------------------------------------------------------------------- HTML
    def section_html(self, section: str) -> str:
        """One section as HTML (``templates/sections/<section>.html.j2``; every value escaped by jinja2)."""
        contexts = {
            "summary": self._context_summary,
            "code_overview": self._context_code_overview,
            "clinical": self._context_clinical,
            "payment": self._context_payment,
            "crosscheck": lambda: assessment_view.crosscheck_context(self.assessment_block()),
            "policy": self._context_policy,
            "methodology": self._context_methodology,
        }
        if section not in contexts:
            raise KeyError(f"Unknown section {section!r}; sections: {[s for s, _ in SECTIONS]}")
        template = f"sections/{section}.html.j2"
        if self.code.is_drg and section in DRG_SECTIONS:  # an MS-DRG's own layout: no PFS parts (templates/drg_*)
            template, contexts[section] = f"sections/drg_{section}.html.j2", getattr(self, f"_context_drg_{section}")
        return html_render.render(
            template,
            section=section,
            title=dict(SECTIONS)[section],
            report_title=self.title(),
            first=section == SECTIONS[0][0],
            synthetic=self.synthetic,
            code=self.params.code,
            code_label=self.code.label,
            year=self.params.year,
            product_lines=list(self.params.product_lines),
            charts=self._charts_context(),
            **contexts[section](),
        )

    def _data_label(self) -> str:
        return data_label(self.synthetic, self.source_label)

    def _context_summary(self) -> dict[str, Any]:
        table = self.by_setting[self.by_setting["pos_setting"] == self._main_setting()]
        ranked = table.dropna(subset=["median_pct_of_medicare"])
        spread = None
        if len(ranked):
            spread = {
                "low": table.loc[ranked["median_pct_of_medicare"].idxmin()].to_dict(),
                "high": table.loc[ranked["median_pct_of_medicare"].idxmax()].to_dict(),
            }
        return {
            "about": self.about(),
            "short_label": self.code_info.short_label if self.code_info else NA,
            "data_label": self._data_label(),
            "medicare_advantage": "medicare_advantage" in self.params.product_lines,
            "national": {s: self._medicare_national(s) for s in ("facility", "non_facility")},
            "not_payable": self._not_payable(self.params.year),
            "fee_kind": "professional-fee",
            "national_matched": int(self.benchmark_rows["medicare_match"].eq(rates.MATCH_NATIONAL).sum()),
            "payers": table.to_dict(orient="records"),
            "range": spread,
        }

    def _context_code_overview(self) -> dict[str, Any]:
        info, ind = self.code_info, self.indicators
        meanings = ind.meanings() if ind else {}
        rows = [
            ("Code", f"CPT {self.params.code}"),
            ("Plain-language description", info.description if info else NA),
            ("Code family", info.family if info else NA),
            ("Service type", info.service_type if info else NA),
            ("Typical site of service", info.typical_site_of_service if info else NA),
            ("Medicare status", f"{ind.status_code}: {meanings['status']}" if ind else NA),
            ("Global period", f"{ind.global_days}: {meanings['global_days']}" if ind else NA),
            ("Medicare site-of-service rule", meanings.get("site_of_service", NA)),
            ("Related codes", ", ".join(info.related_codes) if info and info.related_codes else NA),
        ]
        return {"rows": rows}

    def _context_clinical(self) -> dict[str, Any]:
        info, ind = self.code_info, self.indicators
        indicator_rows: list[tuple[str, str]] = []
        source = None
        if ind:
            m = ind.meanings()
            indicator_rows = [("Global days", f"{ind.global_days} — {m['global_days']}")]
            if surgical(ind):
                indicator_rows += [
                    ("Pre / intra / post-operative shares", m["global_shares"]),
                    ("Multiple procedure (MULT PROC)", f"{ind.mult_proc} — {m['multiple_procedure']}"),
                    ("Bilateral surgery (BILAT SURG)", f"{ind.bilat_surg} — {m['bilateral']}"),
                    ("Assistant at surgery (ASST SURG)", f"{ind.asst_surg} — {m['assistant_at_surgery']}"),
                    ("Co-surgeons (CO-SURG)", f"{ind.co_surg} — {m['co_surgeons']}"),
                    ("Team surgery (TEAM SURG)", f"{ind.team_surg} — {m['team_surgery']}"),
                ]
            indicator_rows.append(("Professional / technical (PCTC IND)", f"{ind.pctc_ind} — {m['pc_tc']}"))
            source = {"file": ind.source_file, "line": ind.source_line, "year": ind.year}
        return {
            "clinical_context": info.clinical_context if info else NA,
            "indicator_rows": indicator_rows,
            "indicators_source": source,
            "surgical": surgical(ind),
            "modifiers": self.modifier_table.to_dict(orient="records"),
            "modifier_columns": MODIFIER_COLUMNS,
            "modifier_payments": self._modifier_payments_context(),
        }

    def _modifier_payments_context(self) -> dict[str, Any] | None:
        table = self.modifier_payments
        if table.empty:
            return None
        first = table["modifier"].iloc[0]
        rows = []
        for modifier, group in table.groupby("modifier", sort=False):
            cells = []
            for r in group.itertuples():
                rule = optional(r.rule)
                title = f"{rule or ''}. {optional(r.source_title) or ''} {optional(r.effective_date) or ''}".strip(". ")
                cells.append(
                    {
                        "payer_key": r.payer_key,
                        "payment_pct": r.payment_pct,
                        "change_pct": r.change_pct,
                        "amount": r.amount,
                        "rule": rule,
                        "basis": r.basis,
                        "title": title,
                    }
                )
            rows.append({"modifier": modifier, "cells": cells})
        return {
            "payer_keys": list(dict.fromkeys(table["payer_key"])),
            "first": first,
            "bases": [
                {"payer_key": r.payer_key, "amount": r.base_amount}
                for r in table[table["modifier"] == first].itertuples()
            ],
            "rows": rows,
        }

    def _context_payment(self) -> dict[str, Any]:
        p = self.params
        medicare_years = [
            {**row, "not_payable": self._not_payable(int(row["year"]))}
            for row in _years_table(self.medicare_by_year).to_dict(orient="records")
        ]
        cf = self.medicare_by_year[self.medicare_by_year["year"] == p.year]["conversion_factor"]
        return {
            "stat_columns": STAT_COLUMNS,
            "other_rate_columns": OTHER_RATE_COLUMNS,
            "by_setting": self.by_setting.to_dict(orient="records"),
            "by_state": self.by_state.to_dict(orient="records"),
            "other_products": self.other_products.to_dict(orient="records"),
            "other_rate_types": self.other_rate_types.to_dict(orient="records"),
            "medicare_years": medicare_years,
            "pfs_national": {s: self._medicare_national(s) for s in ("facility", "non_facility")},
            "pfs_not_payable": self._not_payable(p.year),
            "conversion_factor": float(cf.iloc[0]) if len(cf) else None,
            "facility_baseline": self.facility_baseline,
            "opps_note": opps.NATIONAL_UNADJUSTED_NOTE,
            "institutional": self.institutional.to_dict(orient="records"),
            "institutional_columns": INSTITUTIONAL_COLUMNS,
            # the same statistics with flagged rates included (summary.json assessment.benchmark_all_rates)
            "by_setting_all_rates": self.by_setting_all_rates.to_dict(orient="records"),
            "by_state_all_rates": self.by_state_all_rates.to_dict(orient="records"),
            "rates_left_out": len(self.benchmark_rows_all) - len(self.benchmark_rows),
            "min_confidence": p.min_confidence,
            "keep_implausible": p.keep_implausible,
        }

    def _context_policy(self) -> dict[str, Any]:
        matrix = self.policy_matrix
        payers = []
        for key, cells in matrix.groupby("payer_key", sort=False):
            payers.append(
                {
                    "key": key,
                    "cells": [
                        {
                            "policy_type": cell.policy_type,
                            "known": cell.status == "known",
                            "value": cell.value,
                            "basis": cell.basis,
                            "title": f"{optional(cell.source_title) or ''} {optional(cell.effective_date) or ''}".strip(),
                        }
                        for cell in cells.itertuples()
                    ],
                }
            )
        sources = []
        if len(matrix):
            known = matrix[matrix["status"].eq("known") & matrix["source_title"].notna()]
            for cell in known.drop_duplicates(["source_title", "source_url"]).itertuples():
                sources.append(
                    {
                        "payer_key": cell.payer_key,
                        "title": cell.source_title,
                        "effective": optional(cell.effective_date),
                        "url": optional(cell.source_url),
                    }
                )
        return {
            "policy_types": self._policy_labels(),
            "matrix": payers,
            "sources": sources,
            "gaps": policy.policy_gaps(matrix) if len(matrix) else [],
        }

    def _context_methodology(self) -> dict[str, Any]:
        quarantine = self.quarantine["reason_code"].value_counts().sort_index()
        gpci = sorted(set(self.medicare_localities["gpci_year"].dropna().astype(int)))
        return {
            "duplicates_collapsed": self.duplicates_collapsed,
            "small_sample_n": config.SMALL_SAMPLE_N,
            "gpci_year": gpci[0] if gpci else None,
            "data_label": self._data_label(),
            "accounts": self.accounts.to_dict(orient="records"),
            "account_columns": ACCOUNT_COLUMNS,
            "quarantine": [(str(k), int(v)) for k, v in quarantine.items()],
            "data_gaps": self.data_gaps(),
            "ipps_table5": Path(self.params.ipps_table5).name if self.params.ipps_table5 else "",
        }

    # ----------------------------------------------------------------------------------------------- MS-DRG sections
    def _context_drg_summary(self) -> dict[str, Any]:
        lines = self.drg_rates[self.drg_rates["product_line"].isin(list(self.params.product_lines))]
        return {
            "about": self.about(),
            "drg_title": self._drg_title(),
            "data_label": self._data_label(),
            "medicare_advantage": "medicare_advantage" in self.params.product_lines,
            "ipps": self.ipps,
            "ipps_reason": self.ipps_reason,
            "payers": lines.to_dict(orient="records"),
        }

    def _context_drg_code_overview(self) -> dict[str, Any]:
        block = self.ipps or {}
        label = self.code.label
        weight = block.get("weight")
        los = [block.get("gmlos"), block.get("amlos")]
        rows = [
            ("Code", label),
            ("Title (CMS IPPS Table 5)", block.get("title") or f"{label} (no title: the CMS Table 5 was not given)"),
            (
                "Code type",
                "MS-DRG (Medicare Severity Diagnosis Related Group): one Medicare payment for a whole inpatient stay, "
                "under the Inpatient Prospective Payment System (IPPS)",
            ),
            (f"Relative weight (FY {config.IPPS_FISCAL_YEAR})", NA if weight is None else f"{weight:.4f}"),
            (
                "Geometric / arithmetic mean length of stay (days)",
                NA if los == [None, None] else " / ".join(NA if v is None else f"{v:g}" for v in los),
            ),
            ("Plain-language description", NA),
        ]
        source = f"{block['table5_file']}, line {block['table5_line']}" if block else None
        return {"rows": rows, "table5_source": source}

    def _context_drg_clinical(self) -> dict[str, Any]:
        return {
            "modifiers": self.modifier_table.to_dict(orient="records"),
            "modifier_columns": MODIFIER_COLUMNS,
        }

    def _context_drg_payment(self) -> dict[str, Any]:
        return {
            "drg_rates": self.drg_rates.to_dict(orient="records"),
            "drg_columns": DRG_COLUMNS,
            "other_rate_types": self.other_rate_types.to_dict(orient="records"),
            "other_rate_columns": OTHER_RATE_COLUMNS,
            "ipps": self.ipps,
            "ipps_reason": self.ipps_reason,
            "facility_baseline": self.facility_baseline,
        }

    def _policy_labels(self) -> list[str]:
        """The policy matrix's columns: every policy type, or for an MS-DRG those that apply to a stay."""
        if self.code.is_drg:
            return [policy.POLICY_TYPES[t] for t in DRG_POLICY_TYPES]
        return POLICY_TYPES

    def _charts_context(self) -> dict[str, dict[str, str] | None]:
        """Chart name -> ``{alt, data}`` (base64 PNG) for every chart written by :meth:`write_charts`."""
        out: dict[str, dict[str, str] | None] = dict.fromkeys(CHART_NAMES)
        for name, paths in self.chart_paths.items():
            if paths:
                data = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
                out[name] = {"alt": name.replace("_", " "), "data": data}
        return out


# --------------------------------------------------------------------------------------------------- data helpers
def _in_geography(frame: pd.DataFrame, params: ReportParams) -> pd.DataFrame:
    if params.geography == "all":
        return frame
    column = "state" if len(params.geography) == 2 else "medicare_locality"
    return frame[frame[column] == params.geography]


def _of_payers(frame: pd.DataFrame, params: ReportParams) -> pd.DataFrame:
    return frame[frame["payer_family"].isin(list(params.payers))] if params.payers else frame


def _catalog_entry(code: str):
    try:
        return catalog.get_code(code)
    except KeyError:
        return None


def _indicators(code: str, year: int) -> medicare.PfsIndicators | None:
    try:
        return medicare.pfs_indicators(code, year)
    except KeyError:
        return None


def _of_code_type(frame: pd.DataFrame, code: codes.ReportCode) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rates of the report's code and, for an MS-DRG, how many rates of the same number had another code type
    (``{"APR-DRG": 2, "DRG": 1}``: an APR-DRG or a DRG of unstated family is not MS-DRG 470; they are left out and
    counted in Data Gaps). A CPT/HCPCS code keeps every row (a 5-character code is never a DRG or revenue code)."""
    if not code.is_drg or frame.empty:
        return frame, {}
    code_type = frame["billing_code_type"].str.upper()
    keep = code_type.eq(codes.MS_DRG)
    others = code_type[~keep].value_counts().sort_index()
    return frame[keep], {str(k): int(v) for k, v in others.items()}


def _no_pfs_amounts(year: int) -> pd.DataFrame:
    """An empty PFS amount table (MedicareAmountSchema): an MS-DRG has no physician fee schedule amount."""
    return medicare.medicare_amounts([], year, localities=None)


def _drg_facility_baseline(block: dict | None, reason: str | None) -> dict[str, Any]:
    """The facility baseline of an MS-DRG report: the IPPS national operating payment, or None with the reason."""
    if block is None:
        return {"basis": None, "amount": None, "label": None, "words": reason}
    return {
        "basis": rates.IPPS_BASIS,
        "amount": block["payment"],
        "label": f"IPPS FY {block['fiscal_year']}, national, wage index 1.0",
        "words": block["note"],
    }


DRG_COLUMNS = [
    ("product_line", "Product line", "setting"),
    ("payer_family", "Payer", None),
    ("n", "n", "int"),
    ("min", "Min", "money"),
    ("median", "Median", "money"),
    ("max", "Max", "money"),
    ("ipps_amount", "Medicare IPPS amount", "money"),
    ("median_pct_of_ipps", "Median % of Medicare (IPPS)", "pct"),
    ("n_compared", "n compared", "int"),
]


def _drg_table(compared: pd.DataFrame) -> pd.DataFrame:
    """MS-DRG dollar rates per stay by product line and payer: n, min, median, max, the IPPS amount and the median %
    of it. The dollars are those :func:`rates.compare_to_medicare` compares: a case rate, or a percent of charges
    with the dollar amount the file gives or derives from the gross charge (``dollar_basis``); per diem rates (per
    day) and percentages without a base have none and stay in ``other_rate_types`` only."""
    columns = [c for c, _, _ in DRG_COLUMNS]
    dollars = rates.facility_dollars(compared)
    per_stay = dollars.notna() & compared["modifiers"].eq("")
    rows = stats.deduplicate(compared[per_stay]).assign(dollars=dollars)
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = rows.groupby(["product_line", "payer_family"], sort=True)
    table = grouped.agg(
        n=("dollars", "size"),
        min=("dollars", "min"),
        median=("dollars", "median"),
        max=("dollars", "max"),
        ipps_amount=("facility_medicare_amount", "max"),
        median_pct_of_ipps=("pct_of_facility_medicare", "median"),
        n_compared=("pct_of_facility_medicare", "count"),
    ).reset_index()
    for column in ("min", "median", "max"):
        table[column] = table[column].round(2)
    table["median_pct_of_ipps"] = table["median_pct_of_ipps"].round(1)
    return table[columns]


def _medicare_by_year(code: str) -> pd.DataFrame:
    frames = []
    for year in medicare.available_years():
        national = medicare.medicare_amounts(code, year, localities=None)
        frames.append(national)
    return pd.concat(frames, ignore_index=True)


INSTITUTIONAL_COLUMNS = [
    ("payer_family", "Payer", None),
    ("basis", "Medicare basis", None),
    ("n", "n", "int"),
    ("median", "Median", "money"),
    ("medicare_amount", "Medicare amount", "money"),
    ("median_pct_of_facility_medicare", "Median % of Medicare (facility)", "pct"),
]


def _years_table(by_year: pd.DataFrame) -> pd.DataFrame:
    """One row per payment year: national facility / non-facility amounts, conversion factor, GPCI year used."""
    rows = []
    for year, group in by_year.groupby("year", sort=True):
        amounts = group.set_index("setting")["amount"]
        gpci_year = medicare.gpci_year_for(int(year))
        rows.append(
            {
                "year": int(year),
                "facility": _none(amounts.get("facility")),
                "non_facility": _none(amounts.get("non_facility")),
                "conversion_factor": float(group["conversion_factor"].iloc[0]),
                "geography": f"{gpci_year} GPCIs"
                + ("" if gpci_year == year else f" (no {int(year)} GPCI table found)"),
            }
        )
    return pd.DataFrame(rows)


def _is_facility_rate(compared: pd.DataFrame) -> pd.Series:
    """Rows compared (or not) with the Medicare facility baseline: institutional and DRG-coded rates."""
    return compared["facility_medicare_basis"].notna() | compared["facility_comparison_note"].notna()


def _facility_baseline(code: str, year: int, compared: pd.DataFrame) -> dict[str, Any]:
    """The Medicare facility baseline of ``code``: what the institutional rates of the report are compared with.

    IPPS when the data's institutional rates are DRG-coded, else CLFS for a lab code, else OPPS; ``basis`` is None
    with the reason in ``words`` when none applies.
    """
    institutional = compared[_is_facility_rate(compared)]
    used = institutional.dropna(subset=["facility_medicare_basis"])
    if len(used):
        row = used.iloc[0]
        return {
            "basis": row["facility_medicare_basis"],
            "amount": float(row["facility_medicare_amount"]),
            "label": str(row["facility_comparison_note"]).split(",")[0],
            "words": str(row["facility_comparison_note"]),
        }
    if len(institutional) and institutional["facility_comparison_note"].notna().any():
        return {
            "basis": None,
            "amount": None,
            "label": None,
            "words": str(institutional["facility_comparison_note"].dropna().iloc[0]),
        }
    lab = clfs.clfs_rate(code, year)
    if lab is not None and lab.rate is not None:
        return {
            "basis": "CLFS",
            "amount": lab.rate,
            "label": f"CLFS {lab.year}, national",
            "words": "Clinical Laboratory Fee Schedule national rate (no geographic adjustment).",
        }
    status = opps.opps_status(code, year)
    if status.comparable:
        return {
            "basis": "OPPS",
            "amount": status.payment_rate,
            "label": f"OPPS CY {status.year}, SI {status.status_indicator}, APC {status.apc}",
            "words": "National unadjusted payment rate (CMS wage-adjusts 60% of it).",
        }
    words = (
        status.words
        if status.status_indicator is None
        else (f"OPPS CY {status.year} status indicator {status.status_indicator}: {status.words}.")
    )
    return {"basis": None, "amount": None, "label": None, "words": words}


def _institutional_table(compared: pd.DataFrame, product_lines: Sequence[str]) -> pd.DataFrame:
    """Institutional rates compared with the facility baseline, by payer: n, median, baseline, median %."""
    columns = ["payer_family", "basis", "n", "median", "medicare_amount", "median_pct_of_facility_medicare"]
    rows = compared[compared["pct_of_facility_medicare"].notna() & compared["product_line"].isin(list(product_lines))]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows = rows.assign(facility_dollars=rates.facility_dollars(rows))
    grouped = rows.groupby(["payer_family", "facility_medicare_basis"], sort=True)
    table = (
        grouped.agg(
            n=("facility_dollars", "size"),
            median=("facility_dollars", "median"),
            medicare_amount=("facility_medicare_amount", "median"),
            median_pct_of_facility_medicare=("pct_of_facility_medicare", "median"),
        )
        .reset_index()
        .rename(columns={"facility_medicare_basis": "basis"})
    )
    table["median"] = table["median"].round(2)
    table["median_pct_of_facility_medicare"] = table["median_pct_of_facility_medicare"].round(1)
    return table[columns]


def _other_rate_types(compared: pd.DataFrame) -> pd.DataFrame:
    """Counts and medians, in their own units, of rates that are not per-service dollars."""
    rows = compared[compared["amount_usd"].isna() | compared["billing_class"].ne("professional")]
    if rows.empty:
        return pd.DataFrame(columns=["rate_type", "billing_class", "payer_family", "unit", "n", "median"])
    grouped = rows.groupby(["rate_type", "billing_class", "payer_family", "amount_unit"], sort=True)["amount"]
    table = grouped.agg(n="size", median="median").reset_index().rename(columns={"amount_unit": "unit"})
    table["median"] = table["median"].round(2)
    return table


def _modifier_table(code: str, year: int, compared: pd.DataFrame) -> pd.DataFrame:
    """Modifier reference + Medicare effect from PFS indicators + what commercial rate files hold."""
    ind = _indicators(code, year)
    effects = policy.medicare_modifier_rules(ind) if ind else {}  # modifier -> (percent, rule)
    reference = catalog.load_modifiers()
    national = medicare.national_amount(code, year, "facility") if effects else None
    base = stats.benchmark_rows(compared)
    base_median = base.groupby("payer_family")["amount_usd"].median()
    commercial = stats.deduplicate(
        compared[
            compared["product_line"].eq("commercial")
            & compared["amount_usd"].notna()
            & compared["billing_class"].eq("professional")
        ]
    )
    # each commercial rate once as (its modifiers, payer family, amount), looked up per modifier below
    rated = list(
        zip(
            [mods.split("|") for mods in commercial["modifiers"]],
            commercial["payer_family"],
            commercial["amount_usd"],
            strict=True,
        )
    )
    records = []
    for ref in reference.itertuples():
        effect = effects.get(ref.modifier)
        with_mod = [(family, amount) for mods, family, amount in rated if ref.modifier in mods]
        pct_of_base = [amount / base_median[family] * 100 for family, amount in with_mod if family in base_median.index]
        if effect is None and not with_mod:
            continue
        if not surgical(ind) and ref.modifier in SURGICAL_MODIFIERS and not with_mod:
            continue
        factor = effect[0] / 100 if effect and effect[0] is not None else None
        records.append(
            {
                "modifier": ref.modifier,
                "name": ref.name,
                "when_to_use": ref.when_to_use,
                "medicare_rule": effect[1] if effect else ref.medicare_payment_rule,
                "medicare_factor": factor,
                "medicare_amount": policy.round_half_up(national * factor) if national and factor is not None else None,
                "commercial_n": int(len(with_mod)),
                "commercial_median_pct_of_base": round(float(pd.Series(pct_of_base).median()), 1)
                if pct_of_base
                else None,
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "modifier",
            "name",
            "when_to_use",
            "medicare_rule",
            "medicare_factor",
            "medicare_amount",
            "commercial_n",
            "commercial_median_pct_of_base",
        ],
    )


def _policy_tables(report: CodeReport) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Policy rows (payers' + Medicare's), the payers x policy types matrix and the modifier payments of a report.

    Illustrative policy rows are used only with the synthetic sample; the base of each payer's modifier dollars is
    Medicare's national amount (main setting) and each commercial payer's median benchmark rate.
    """
    p = report.params
    payers = cache.cached_frame(  # the policy files, read and validated once per set of files (by sha256)
        "policies",
        [report.synthetic, cache.folder_digests(policy.POLICY_DIR)],
        lambda: policy.load_policies(include_illustrative=report.synthetic),
    )
    # Medicare's own rows come from the PFS indicators, which an MS-DRG has none of
    medicare_rows = [] if report.code.is_drg else [policy.medicare_policies(p.code, p.year)]
    policies = pd.concat([payers, *medicare_rows], ignore_index=True)
    families = [f for f in (list(p.payers) or COMMERCIAL_FAMILIES) if f != "Medicare"]
    matrix = policy.policy_matrix(p.code, policies, families=families, product_lines=p.product_lines, year=p.year)
    main = report._main_setting()
    other = "non_facility" if main == "facility" else "facility"
    bases: dict[str, float | None] = {
        policy.payer_key("Medicare"): report._medicare_national(main) or report._medicare_national(other)
    }
    in_main = report.by_setting[report.by_setting["pos_setting"] == main]
    for r in in_main.itertuples():
        bases[policy.payer_key(r.payer_family)] = None if pd.isna(r.median) else float(r.median)
    rows = report.benchmark_rows[report.benchmark_rows["pos_setting"] == main]
    payer_rows = list(dict.fromkeys(zip(matrix["payer_key"], matrix["payer_family"], matrix["payer_brand"])))
    for key, family, brand in payer_rows:
        if brand and not pd.isna(brand):
            amounts = rows.loc[rows["payer_brand"].eq(brand) & rows["payer_family"].eq(family), "amount_usd"]
            bases[key] = round(float(amounts.median()), 2) if len(amounts) else None
    payments = policy.modifier_payments(
        p.code,
        policies,
        payers=[(k, f, None if b is None or pd.isna(b) else b) for k, f, b in payer_rows],
        base_amounts=bases,
        product_lines=p.product_lines,
        year=p.year,
    )
    if not surgical(report.indicators):
        payments = payments[~payments["modifier"].isin(SURGICAL_MODIFIERS)].reset_index(drop=True)
    if report.code.is_drg:
        matrix = matrix[matrix["policy_type"].isin(DRG_POLICY_TYPES)].reset_index(drop=True)
        payments = payments.iloc[0:0]  # modifier payments are professional-fee rules
    return policies, matrix, payments


def _nested(table: pd.DataFrame, keys: Sequence[str]) -> dict:
    out: dict = {}
    for record in _records(table):
        node = out
        for key in keys[:-1]:
            node = node.setdefault(str(record[key]), {})
        node[str(record[keys[-1]])] = {k: v for k, v in record.items() if k not in keys}
    return out


def _records(table: pd.DataFrame) -> list[dict]:
    return [{k: _none(v) for k, v in row.items()} for row in table.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    """``value`` with every nested missing value (NaN, NA, NaT) as None and numpy scalars as Python ones (JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is not None and not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return _none(value)


def _none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------------- table columns
# (column, header, format_value kind) of each report table; the templates lay them out.
STAT_COLUMNS: list[tuple[str, str, str | None]] = [
    ("n", "n", "int"),
    ("min", "Min", "money"),
    ("p10", "P10", "money"),
    ("p25", "P25", "money"),
    ("median", "Median", "money"),
    ("p75", "P75", "money"),
    ("p90", "P90", "money"),
    ("max", "Max", "money"),
    ("mean", "Mean", "money"),
    ("median_pct_of_medicare", "Median % of Medicare (locality-matched)", "pct"),
    ("small_sample", "Small sample", "flag"),
]
OTHER_RATE_COLUMNS: list[tuple[str, str, str | None]] = [
    ("rate_type", "Rate type", "setting"),
    ("billing_class", "Billing class", None),
    ("payer_family", "Payer", None),
    ("unit", "Unit", None),
    ("n", "n", "int"),
    ("median", "Median", "number"),
]
MODIFIER_COLUMNS: list[tuple[str, str, str | None]] = [
    ("modifier", "Modifier", None),
    ("name", "Name", None),
    ("when_to_use", "When to use", None),
    ("medicare_rule", "Medicare payment effect", None),
    ("medicare_factor", "Medicare factor", "factor"),
    ("medicare_amount", "Medicare national amount with modifier", "money"),
    ("commercial_n", "Commercial rates with modifier", "int"),
    ("commercial_median_pct_of_base", "Commercial median, % of same payer's base median", "pct"),
]
ACCOUNT_COLUMNS: list[tuple[str, str, str | None]] = [
    ("source_file", "File", None),
    ("rows_seen", "Seen", "int"),
    ("rows_loaded", "Loaded", "int"),
    ("rows_quarantined", "Quarantined", "int"),
    ("rows_filtered_out", "Filtered out", "int"),
    ("rows_deduplicated", "Deduplicated", "int"),
    ("source_sha256", "sha256", "sha"),
]
# charts the deck shows as pictures (the policy matrix is a native table there, its text would be too small)
SLIDE_CHARTS: tuple[str, ...] = (
    "rate_distribution",
    "pct_of_medicare",
    "pct_of_medicare_by_state",
    "medicare_localities",
    "medicare_by_year",
    "crosscheck",
)
CHART_NAMES: tuple[str, ...] = (
    "rate_distribution",
    "pct_of_medicare",
    "pct_of_medicare_by_state",
    "medicare_localities",
    "medicare_by_year",
    "policy_matrix",
    "crosscheck",
)
