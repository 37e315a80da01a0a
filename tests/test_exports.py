"""Report exports: the HTML in headless Chromium (no payer script runs, no broken image), the PDF, CSV / XLSX tables
with formula injection neutralized, and the PDF step without Chromium."""

import csv
import html
import json
import re
import shutil

import pandas as pd
import psutil
import pytest
from PIL import Image

from benchmark.reporting import exports
from benchmark.reporting.report import ReportParams
from benchmark.reporting.runner import run_report

CHROMIUM = exports.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`; .ci/run installs it)"
)

IMG_FILE = "<img src=x onerror=document.title='pwned-file'>_standardcharges.csv"
FORMULA_FILE = "=HYPERLINK(1)+cmd_standardcharges.csv"
PAYERS = [
    "Aetna <script>document.title='pwned'</script>",
    "Cigna <img src=x onerror=document.title='pwned-img'>",
    "@SUM(1+1) Health Plan",
]
HEADER = (
    'hospital_name,last_updated_on,version,hospital_location,hospital_address,license_number|TX,"To the best '
    "of its knowledge and belief, the hospital has included all applicable standard charge information in "
    "accordance with the requirements of 45 CFR 180.50, and the information encoded is true, accurate, and "
    'complete as of the date indicated."'
)
COLUMNS = (
    "description,code|1,code|1|type,modifiers,setting,standard_charge|gross,standard_charge|discounted_cash,"
    "payer_name,plan_name,standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,"
    "standard_charge|negotiated_algorithm,estimated_amount,standard_charge|methodology,standard_charge|min,"
    "standard_charge|max,additional_generic_notes,billing_class"
)


def _hospital_csv(hospital: str, amounts: list[float]) -> str:
    """A CMS v2 tall standard-charge file (one 44320 professional rate per payer), hostile text in names."""
    quoted = hospital.replace('"', '""')
    lines = [HEADER, f'"{quoted}",2025-07-01,2.0.0,Test Hospital,"1 Main St, Houston, TX 77090",1,TRUE', COLUMNS]
    for payer, amount in zip(PAYERS, amounts):
        lines.append(
            f'Loop colostomy,44320,CPT,,inpatient,4000,3000,"{payer}","PPO <b>bold</b>",{amount:.2f},,,,'
            'fee schedule,1000,2000,"=1+1 note",professional'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    source = tmp_path_factory.mktemp("hostile-source")
    (source / IMG_FILE).write_text(
        _hospital_csv("<script>document.title='pwned-hospital'</script>", [1500.0, 1700.0, 1600.0])
    )
    (source / FORMULA_FILE).write_text(_hospital_csv("=cmd|' /C calc'!A0", [1550.0, 1650.0, 1625.0]))
    outputs = run_report(ReportParams(data_source=str(source)), tmp_path_factory.mktemp("out") / "report")
    return outputs


def test_a_single_report_prints_its_pdf_in_its_own_chromium_and_ends_it(hostile_report):
    """run_report without a printer starts Chromium while the notebook runs, prints the PDF in it, and ends it."""
    if CHROMIUM is None:
        assert hostile_report.pdf is None
    else:
        assert hostile_report.pdf.read_bytes()[:5] == b"%PDF-"
    assert not [p.name() for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]


# --------------------------------------------------------------------------------------------------- Chromium
# the report fills the window above the result (an iframe of the window's size, no border or margin), so that the
# screenshot Chromium takes of this page in the same run is a screenshot of the report
_WRAPPER = """<!DOCTYPE html><html><head><title>wrapper</title></head><body style="margin: 0">
<iframe id="report" src="{src}" width="1280" height="2400" style="border: 0; display: block"></iframe>
<pre id="result">pending</pre>
<script>
window.addEventListener('load', function () {{
  var out;
  try {{
    var d = document.getElementById('report').contentDocument;
    var images = Array.from(d.images);
    out = {{title: d.title, images: images.length, scripts: d.scripts.length,
           broken: images.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }}).length,
           injected: d.querySelectorAll('img[src="x"]').length, dom: d.documentElement.outerHTML}};
  }} catch (e) {{ out = {{error: String(e)}}; }}
  document.getElementById('result').textContent = JSON.stringify(out);
}});
</script></body></html>"""


@pytest.fixture(scope="module")
def in_chromium(hostile_report, tmp_path_factory) -> dict:
    """The report loaded in headless Chromium (scripts allowed, as a browser opens it), once for the tests below:
    its title, images (how many, how many broken), scripts, injected elements and the DOM Chromium built; and
    ``screenshot``, the 1280 x 2400 window of that page, the report (one Chromium for both: each costs ~1 s of CPU)."""
    folder = tmp_path_factory.mktemp("chromium")
    wrapper, shot = folder / "wrapper.html", folder / "report.png"
    wrapper.write_text(_WRAPPER.format(src=hostile_report.html.as_uri()))
    done = exports.headless_chromium(
        [
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--window-size=1280,2400",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--dump-dom",
            wrapper.as_uri(),
        ]
    )
    result = json.loads(html.unescape(re.search(r'<pre id="result">(.*?)</pre>', done.stdout).group(1)))
    return {**result, "screenshot": shot}


@needs_chromium
def test_report_in_chromium_runs_no_payer_script_and_every_image_loads(hostile_report, in_chromium):
    result = {key: value for key, value in in_chromium.items() if key not in ("dom", "screenshot")}
    # each chart shown once, embedded (the crosscheck chart in "Do payers and hospitals agree?")
    charts = len(list((hostile_report.out_dir / "charts").glob("*.png")))
    assert charts >= 6
    assert result == {
        "title": "CPT 44320 — payer benchmark report, 2026",  # the report's title (summary.json), default year
        "images": charts,
        "scripts": 0,
        "broken": 0,
        "injected": 0,
    }, result


@needs_chromium
def test_report_dom_shows_payer_supplied_text_as_text(in_chromium):
    dom = in_chromium["dom"]
    assert dom.startswith("<html") and dom.endswith("</html>")
    assert re.search(r"<title>CPT 44320 — payer benchmark report, 2026</title>", dom)
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)
    assert "&lt;img src=x onerror=document.title='pwned-file'&gt;_standardcharges.csv" in dom  # shown, as text
    assert not re.search(r"<img[^>]+src=\"x\"", dom)
    assert not re.search(r"<script", dom, flags=re.I)


@needs_chromium
def test_screenshot_of_the_report(in_chromium):
    with Image.open(in_chromium["screenshot"]) as image:
        assert image.size == (1280, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text, tables, charts: not a blank page


@needs_chromium
def test_pdf_is_printed_from_the_html(hostile_report):
    pdf = hostile_report.pdf
    assert pdf == hostile_report.out_dir / "report.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 3
    assert hostile_report.notes == ()


def test_a_failing_chromium_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(exports.CHROMIUM_ENV, shutil.which("false"))
    (tmp_path / "page.html").write_text("<p>hello</p>")
    with pytest.raises(exports.ExportError, match="exited with status 1"):
        exports.print_pdf(tmp_path / "page.html", tmp_path / "page.pdf")


def test_without_chromium_the_pdf_step_says_so_and_the_rest_is_written(hostile_report, tmp_path, monkeypatch):
    folder = tmp_path / "report"
    shutil.copytree(hostile_report.out_dir, folder, ignore=shutil.ignore_patterns("report.pdf", "deck.pptx", "tables*"))
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    made = exports.write_exports(folder)
    assert made.pdf is None and not (folder / "report.pdf").exists()
    assert made.notes == (exports.NO_CHROMIUM_NOTE,)
    assert "Chromium was not found" in made.notes[0] and "apt-get install chromium" in made.notes[0]
    always = [spec for spec in exports.TABLES if not spec.optional]  # a CPT report has no MS-DRG table (drg_rates)
    assert made.deck.stat().st_size > 0 and made.xlsx.stat().st_size > 0 and len(made.csv) == len(always) + 1


# --------------------------------------------------------------------------------------------------- tables
def test_tables_agree_with_summary_and_neutralize_formulas(hostile_report):
    import openpyxl

    summary = json.loads(hostile_report.summary.read_text())
    folder = hostile_report.out_dir
    with open(folder / "tables" / "files.csv", encoding="utf-8-sig", newline="") as handle:
        files = list(csv.DictReader(handle))
    names = sorted(row["source_file"] for row in files)
    assert names == sorted([IMG_FILE, "'" + FORMULA_FILE])
    with open(folder / "tables" / "benchmark_by_payer.csv", encoding="utf-8-sig", newline="") as handle:
        by_payer = {(r["payer_family"], r["pos_setting"]): r for r in csv.DictReader(handle)}
    assert set(by_payer) == {(p, s) for p, settings in summary["payers"].items() for s in settings}
    # medians of the two files' rates, by hand: Aetna (1500, 1550), Cigna (1700, 1650), "@SUM(1+1)" -> Other
    assert float(by_payer[("Aetna", "facility")]["median"]) == pytest.approx(1525.0)
    assert float(by_payer[("Cigna", "facility")]["median"]) == pytest.approx(1675.0)
    assert float(by_payer[("Other", "facility")]["median"]) == pytest.approx(1612.5)
    assert by_payer[("Aetna", "facility")]["data_label"] == summary["data_label"]

    book = openpyxl.load_workbook(folder / "tables.xlsx")
    assert book.sheetnames[:2] == ["about", "benchmark_by_payer"]
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    sheet = book["files"]
    header = [c.value for c in sheet[1]]
    values = sorted(row[header.index("source_file")] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert values == sorted([IMG_FILE, "'" + FORMULA_FILE])
    payer_sheet = book["benchmark_by_payer"]
    header = [c.value for c in payer_sheet[1]]
    medians = {(r[0], r[1]): r[header.index("median")] for r in payer_sheet.iter_rows(min_row=2, values_only=True)}
    assert medians == {(p, s): v["median"] for p, settings in summary["payers"].items() for s, v in settings.items()}


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")'])
def test_formula_like_text_is_neutralized(text):
    assert exports.neutralize_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["Aetna", "44320", "", " =1", "a=1", 5, -5.0, None, True])
def test_other_values_are_unchanged(value):
    assert exports.neutralize_formula(value) is value


def test_neutralized_tables_keep_numbers_numeric():
    table = pd.DataFrame({"name": ["=1+1", "ok"], "amount": [-5.0, 2.5], "n": [1, 2]})
    clean = exports.neutralized(table)
    assert clean["name"].tolist() == ["'=1+1", "ok"]
    assert clean["amount"].tolist() == [-5.0, 2.5] and clean["n"].tolist() == [1, 2]
    assert table["name"].tolist() == ["=1+1", "ok"]  # the input is not changed


def test_summary_tables_flatten_nested_keys():
    summary = {
        "code": "44320",
        "year": 2025,
        "data_label": "LABEL",
        "parameters": {"payers": ["Aetna", "BCBS"]},
        "payers": {"Aetna": {"facility": {"n": 3, "median": 10.0}, "non_facility": {"n": 1, "median": 5.0}}},
        "medicare": {"by_year": {"2024": {"facility": 1.0, "non_facility": None}}},
        "quarantine_by_reason": {"bad_amount": 2, "no_code": 1},
        "files": [],
        "data_gaps": ["gap one", "gap two"],
    }
    tables = exports.summary_tables(summary)
    assert tables["benchmark_by_payer"].to_dict(orient="records") == [
        {"payer_family": "Aetna", "pos_setting": "facility", "n": 3, "median": 10.0, "data_label": "LABEL"},
        {"payer_family": "Aetna", "pos_setting": "non_facility", "n": 1, "median": 5.0, "data_label": "LABEL"},
    ]
    assert tables["quarantine_by_reason"][["reason_code", "rows"]].values.tolist() == [
        ["bad_amount", 2],
        ["no_code", 1],
    ]
    assert tables["medicare_by_year"]["year"].tolist() == ["2024"]
    assert tables["data_gaps"]["data_gap"].tolist() == ["gap one", "gap two"]
    assert list(tables["files"].columns) == ["data_label"] and tables["files"].empty
    assert list(tables["modifiers"].columns) == ["modifier", "data_label"]
    about = dict(zip(tables["about"]["field"], tables["about"]["value"]))
    assert about["data_label"] == "LABEL" and about["parameter.payers"] == "Aetna, BCBS"
