"""End to end: `paybench report` runs the notebook and writes a report whose numbers agree with summary.json."""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import nbformat
import psutil
import pytest
from conftest import REPORT_DATE, ROOT
from PIL import Image

from benchmark import config
from benchmark.errors import ParameterError
from benchmark.reporting.report import SECTIONS, CodeReport, ReportParams, data_label
from benchmark.reporting.runner import ReportRunError, run_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report_dir(report_44320):
    """`paybench report 44320 --year 2025`, rendered once per run (conftest.py)."""
    return report_44320


class _Cells(HTMLParser):
    """Collects (data-key, text) of every element that carries a data-key."""

    def __init__(self):
        super().__init__()
        self.cells, self._stack = [], []

    def handle_starttag(self, tag, attrs):
        key = dict(attrs).get("data-key")
        self._stack.append([key, ""])

    def handle_endtag(self, tag):
        if self._stack:
            key, text = self._stack.pop()
            if key:
                self.cells.append((key, text.strip()))
            if self._stack:
                self._stack[-1][1] += text

    def handle_data(self, data):
        if self._stack:
            self._stack[-1][1] += data


def _lookup(summary, key):
    node = summary
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_outputs_exist(report_dir):
    for name in ("report.html", "summary.json", "code_report.ipynb"):
        assert (report_dir / name).stat().st_size > 0
    charts = sorted(p.name for p in (report_dir / "charts").iterdir())
    assert charts == sorted(
        f"{n}.{ext}"
        for n in (
            "crosscheck",
            "medicare_by_year",
            "medicare_localities",
            "pct_of_medicare",
            "pct_of_medicare_by_state",
            "policy_matrix",
            "rate_distribution",
        )
        for ext in ("png", "svg")
    )
    # the report is a link to its one version folder; beside them only the swap lock (no staging left behind)
    assert report_dir.is_symlink() and (report_dir / ".paybench-report").is_file()
    hidden = sorted(p.name for p in report_dir.parent.glob(".44320*"))
    assert hidden == sorted([report_dir.resolve().name, ".44320.lock"]), hidden


def test_html_has_every_section_the_label_and_no_code(report_dir):
    html = (report_dir / "report.html").read_text()
    for _, title in SECTIONS:
        assert title.replace("&", "&amp;") in html
    assert html.count(config.SYNTHETIC_LABEL) >= len(SECTIONS)
    assert "report.show(" not in html and "CodeReport.build" not in html
    assert "This notebook only shows" not in html  # the notebook-only note is removed from the report
    images = re.findall(r"<img [^>]*src=\"([^\"]{0,30})", html)
    assert len(images) == 7 and all(src.startswith("data:image/png;base64,") for src in images)  # embedded
    # "Do payers and hospitals agree?" comes right after Payment Benchmarking, with its chart and tables
    titles = [html.index(f"<h2>{title.replace('&', '&amp;')}</h2>") for _, title in SECTIONS]
    assert titles == sorted(titles)
    agree = html[html.index("<h2>Do payers and hospitals agree?</h2>") : html.index("<h2>Coverage &amp; Policy</h2>")]
    assert '<img alt="crosscheck"' in agree
    for heading in ("Verdicts by payer", "Largest disagreements", "Confidence of the benchmark rates by payer"):
        assert f"<h3>{heading}</h3>" in agree
    # the hospital's file by name (file names without address or query: test_report_assessment.py)
    assert ">294809839_sample-bayside-hospital-of-miami-synthetic_standardcharges.csv</span>" in agree
    assert "<h3>The same statistics with flagged rates included</h3>" in html
    assert "Data not available" in html  # e.g. non-facility Medicare amount of 44320, commercial policies
    # the Medicare section: the facility baseline in words, OPPS said national and unadjusted, years 2022-2026 with
    # the GPCI year each borrows
    assert "OPPS payment rates are national and unadjusted" in html and "inpatient only under Medicare" in html
    assert "2024 GPCIs (no 2022 GPCI table found)" in html and "2024 GPCIs (no 2023 GPCI table found)" in html
    assert "33.4009" in html


def test_every_number_in_the_report_is_in_summary_json(report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    parser = _Cells()
    parser.feed((report_dir / "report.html").read_text())
    assert len(parser.cells) > 300
    for key, text in parser.cells:
        value = _lookup(summary, key)
        if text in (config.NOT_AVAILABLE, config.NOT_PAYABLE_NA):
            assert value is None, key
        elif re.fullmatch(r"\$?-?[\d,]+(\.\d+)?%?", text):
            number = float(text.replace("$", "").replace(",", "").replace("%", ""))
            assert value == pytest.approx(number, abs=0.051), key
        else:
            expected = {True: "yes", False: "no"}.get(value, value)
            assert text.rstrip("…") in str(expected).replace("_", "-") or text == str(expected), key


def test_summary_agrees_with_the_cms_files(report_dir):
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["code"] == "44320" and summary["synthetic"] is True
    assert summary["data_label"] == "synthetic sample data — not actual payer rates"
    medicare = summary["medicare"]
    # The default year is 2026 (PPRRVU2026 line 5281: 44320 facility total 33.59 x 33.4009 = 1,121.94); 2022-2025
    # from FORMATS.md 3.6; Houston 2026 by hand with GPCI2026.csv "04412,TX,18,HOUSTON,1.008,1.008,0.993,1.376":
    # (19.41 x 1.008 + 9.68 x 0.993 + 4.50 x 1.376) x 33.4009 = 1,181.37 (see test_medicare_2026.py)
    assert medicare["national"] == {"facility": 1121.94, "non_facility": None}
    assert {y: v["facility"] for y, v in medicare["by_year"].items()} == {
        "2022": 1234.40,
        "2023": 1210.45,
        "2024": 1196.69,
        "2025": 1168.68,
        "2026": 1121.94,
    }
    assert medicare["localities"]["04412-18"]["facility"] == 1181.37
    assert medicare["gpci_year"] == 2026 and medicare["conversion_factor"] == 33.4009
    assert medicare["years"]["2022"]["geography"] == "2024 GPCIs (no 2022 GPCI table found)"
    assert medicare["years"]["2023"]["geography"] == "2024 GPCIs (no 2023 GPCI table found)"
    assert medicare["facility_baseline"]["basis"] is None  # 44320 is OPPS status C
    assert "inpatient only under Medicare" in medicare["facility_baseline"]["words"]
    assert len(medicare["localities"]) == 109
    assert set(summary["payers"]) == {"Aetna", "BCBS", "Cigna", "UnitedHealthcare"}
    for family, settings in summary["payers"].items():
        stats = settings["facility"]
        assert (
            stats["min"]
            <= stats["p10"]
            <= stats["p25"]
            <= stats["median"]
            <= stats["p75"]
            <= stats["p90"]
            <= stats["max"]
        ), family
        assert 80 < stats["median_pct_of_medicare"] < 350, family
    assert set(summary["other_product_lines"]) == {"medicare_advantage"}
    assert summary["counts"]["rows_quarantined"] == 0 and summary["counts"]["files"] == 14


def test_charts_are_presentation_resolution(report_dir):
    for png in (report_dir / "charts").glob("*.png"):
        dpi = Image.open(png).info["dpi"]
        assert min(dpi) >= 199.9, png.name
    for svg in (report_dir / "charts").glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")


def test_executed_notebook_records_string_parameters(report_dir):
    nb = nbformat.read(report_dir / "code_report.ipynb", as_version=4)
    parameters = nb.metadata["papermill"]["parameters"]
    assert parameters["code"] == "44320" and isinstance(parameters["code"], str)
    assert parameters["payers"] == [] and parameters["year"] == 2026


def test_a_missing_source_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ParameterError, match="no such file or folder"):
        run_report(ReportParams(data_source=str(tmp_path / "missing-folder")), tmp_path / "broken")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_leaves_no_half_report(tmp_path):
    target = tmp_path / "broken"
    # passes the checks before the run (its header is right), fails in the notebook: not UTF-8 below the header
    header = config.SAMPLE_PROVIDER_DIRECTORY.read_bytes().split(b"\n", 1)[0]
    providers = tmp_path / "providers.csv"
    providers.write_bytes(header + b"\n" + b"1,2,x,1,TX,a,1,04412-18,y\n" * 5000 + b"\xff\n")
    with pytest.raises(ReportRunError, match="UnicodeDecodeError"):
        run_report(ReportParams(providers=str(providers)), target)
    # the report's own kernel and the Chromium it started for the PDF ended with it
    assert not [p.name() for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]
    providers.unlink()
    assert not target.exists()
    assert (tmp_path / "broken.failed.ipynb").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.failed.ipynb"]


def test_a_code_without_rates_or_catalog_entry_reads_data_not_available(built_report):
    report = built_report(ReportParams(code="99213", report_date=REPORT_DATE))  # built once per run (conftest)
    summary = report.summary()
    assert summary["payers"] == {}
    # PPRRVU2026 line 12909: 99213 totals 2.85 (non-facility) / 1.72 (facility) RVU x 33.4009 = 95.19 / 57.45
    assert summary["medicare"]["national"] == {"facility": 57.45, "non_facility": 95.19}
    gaps = report.data_gaps()
    assert "Aetna: no commercial rates for 99213 in the data" in gaps
    assert any("No catalog entry" in g for g in gaps)
    overview = report.section_html("code_overview")
    assert overview.count(config.NOT_AVAILABLE) >= 4  # description, family, service type, site of service
    assert config.NOT_AVAILABLE in report.section_html("payment")


def test_payer_supplied_text_is_escaped(make_rates):
    from benchmark.reporting import html_render

    table = make_rates({"payer_raw": "<script>alert(1)</script>"})
    macros = html_render.environment().get_template("sections/_macros.html.j2").module
    html = str(macros.table(table.to_dict(orient="records"), [("payer_raw", "Payer", None)], "x", ["@index"]))
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("synthetic", "source_label", "expected"),
    [
        (True, config.SYNTHETIC_LABEL, config.SYNTHETIC_LABEL),  # the sample
        (
            True,
            f"user-supplied files and {config.SYNTHETIC_LABEL}",
            f"user-supplied files and {config.SYNTHETIC_LABEL}",
        ),
        (True, "rate store s (5 files)", config.SYNTHETIC_LABEL),  # a store built from the sample
        (False, "user-supplied files", "user-supplied files"),
        (False, "rate store s (5 files)", "rate store s (5 files)"),
    ],
)
def test_the_data_label_names_user_files_beside_the_sample_and_never_drops_the_synthetic_label(
    synthetic, source_label, expected
):
    label = data_label(synthetic, source_label)
    assert label == expected
    assert (config.SYNTHETIC_LABEL in label) == synthetic


def test_a_report_of_user_files_with_the_sample_says_both_in_its_summary_and_pages():
    user_file = ROOT / "tests/fixtures/reference/tic/v2/in-network-rates-all-negotiated-types-sample.json"
    mixed = f"user-supplied files and {config.SYNTHETIC_LABEL}"
    report = CodeReport.build(ReportParams(code="44320", data_source=("sample", str(user_file))))
    assert report.synthetic and report.summary()["data_label"] == mixed
    assert mixed in report.section_html("summary") and mixed in report.section_html("methodology")
