"""The report sections and the batch index come from jinja2 templates and say what the f-string HTML said.

``tests/fixtures/golden/`` holds the section HTML and the batch index page as the code wrote them before the
templates (commit "golden: ..."), for 44320 (a code with sample rates), 99213 (no rates, no catalog entry) and a
TX-only 44320. The test compares them after parsing: the same elements, attributes (values unescaped) and text
(whitespace runs collapsed); ``<style>`` contents are layout and are not compared. Later content changes update the
golden files in their own commits, which say what changed and why.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmark.reporting import batch_index, html_render
from benchmark.reporting.report import SECTIONS, ReportParams

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
CASES = {
    "44320": ReportParams(code="44320", report_date="2026-12-06"),
    "99213": ReportParams(code="99213", report_date="2026-12-06"),
    "44320_TX": ReportParams(code="44320", geography="TX", report_date="2026-12-06"),
}


class _Tokens(HTMLParser):
    """Start tags (with sorted, unescaped attributes), end tags and whitespace-collapsed text, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple] = []
        self._in_style = False
        self._text = ""

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", self._text).strip()
        if text and not self._in_style:
            self.tokens.append(("text", text))
        self._text = ""

    def handle_starttag(self, tag, attrs):
        self._flush()
        self.tokens.append(("start", tag, tuple(sorted((k, v or "") for k, v in attrs))))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self._flush()
        self.tokens.append(("start", tag, tuple(sorted((k, v or "") for k, v in attrs))))

    def handle_endtag(self, tag):
        self._flush()
        self._in_style = False if tag == "style" else self._in_style
        self.tokens.append(("end", tag))

    def handle_data(self, data):
        self._text += data

    def handle_decl(self, decl):
        self.tokens.append(("decl", decl.lower()))


def normalized(page: str) -> list[tuple]:
    parser = _Tokens()
    parser.feed(page)
    parser.close()
    parser._flush()
    return parser.tokens


def _diff(expected: list[tuple], actual: list[tuple]) -> str:
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            return f"first difference at token {i}: expected {e!r}, got {a!r}"
    return f"lengths differ: expected {len(expected)} tokens, got {len(actual)}"


@pytest.fixture(scope="module")
def reports(built_report):
    """The three reports, built once per run (conftest.py, shared with the other report tests); the build time set
    as in the golden files on a copy (the shared report keeps its own)."""
    built = {}
    for name, params in CASES.items():
        built[name] = copy.copy(built_report(params))
        built[name].generated_at = "2026-12-07T00:00:00Z"  # as in the golden files
    return built


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("section", [s for s, _ in SECTIONS])
def test_every_section_says_what_the_golden_file_says(reports, case, section):
    expected = normalized((GOLDEN / f"report_{case}_{section}.html").read_text(encoding="utf-8"))
    actual = normalized(reports[case].section_html(section))
    assert actual == expected, _diff(expected, actual)


def test_the_batch_index_says_what_the_golden_file_says(tmp_path):
    manifest = json.loads((GOLDEN / "index_manifest.json").read_text(encoding="utf-8"))
    folder = tmp_path / "cpt-44320-2025"
    folder.mkdir()
    for name in ("report.html", "summary.json"):
        (folder / name).write_text("{}")
    png = tmp_path / "chart.png"
    png.write_bytes((GOLDEN / "index_chart.png").read_bytes())
    expected = normalized((GOLDEN / "index_page.html").read_text(encoding="utf-8"))
    actual = normalized(batch_index._page(tmp_path, manifest, png, True))
    assert actual == expected, _diff(expected, actual)


def test_normalizing_keeps_differences_in_text_attributes_and_order():
    # the comparison must be able to fail: each of these differs from the first page
    page = "<p class='a'>Median <b>$1.00</b></p>"
    assert normalized(page) == normalized('<p class="a">\n  Median   <b>$1.00</b>\n</p>')
    for other in (
        "<p class='b'>Median <b>$1.00</b></p>",
        "<p class='a'>Median <b>$1.01</b></p>",
        "<p class='a'><b>$1.00</b> Median</p>",
    ):
        assert normalized(page) != normalized(other)


def test_templates_escape_payer_supplied_text():
    macros = html_render.environment().get_template("sections/_macros.html.j2").module
    records = [{"payer_raw": "<script>alert(1)</script>"}]
    table = str(macros.table(records, [("payer_raw", "Payer", None)], "x", ["@index"]))
    assert "<script>" not in table and "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert 'data-key="x.0.payer_raw"' in table
