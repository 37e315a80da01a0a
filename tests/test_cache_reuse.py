"""What a warm report reuses instead of redoing: parsed CMS files and drawn charts (benchmark.cache).

A reused result must be the one a fresh computation gives, and any change of an input must miss the cache.
"""

from __future__ import annotations

import shutil
from functools import partial

import pandas as pd
import pytest

from benchmark import cache, config
from benchmark.reference.medicare import gpci, opps, pfs
from benchmark.reporting import charts

TABLE = pd.DataFrame(
    {
        "payer_family": ["Aetna", "Cigna"],
        "median_pct_of_medicare": [150.0, 210.0],
        "p25_pct_of_medicare": [140.0, 190.0],
        "p75_pct_of_medicare": [160.0, 230.0],
    }
)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _parse_counting(parse, calls, parsed=None):
    """``parse`` noting each call in ``calls``; with a list ``parsed``, a deep copy of each result it returned (taken
    before the cache saw it) is added to that list."""

    def counted(path):
        calls.append(path.name)
        table = parse(path)
        if parsed is not None:
            parsed.append(table.copy(deep=True))
        return table

    return counted


@pytest.mark.parametrize(
    ("parse", "path"),
    [
        (pfs._parse_pprrvu, config.PPRRVU_FILES[2026]),  # fixed-width text
        (pfs._parse_pprrvu, config.PPRRVU_FILES[2025]),  # CSV
        (opps._parse_b, config.OPPS_ADDENDUM_B_FILES[2025]),
        (gpci._parse_gpci, config.GPCI_FILES[2026]),
    ],
)
def test_a_cached_cms_table_equals_a_fresh_parse(cache_dir, parse, path):
    calls: list[str] = []
    parsed: list[pd.DataFrame] = []
    first = cache.parsed_file("t", path, _parse_counting(parse, calls, parsed))
    again = cache.parsed_file("t", path, _parse_counting(parse, calls, parsed))
    assert calls == [path.name]  # parsed once, then read back
    # the fresh parse is the parser's own result of that one call, copied before the cache wrote it (not a second
    # parse of the same bytes: the parsers are pure, and a parse of the large PFS files takes ~0.3 s)
    [fresh] = parsed
    for table in (first, again):
        pd.testing.assert_frame_equal(table, fresh, check_exact=True)
        assert list(table.dtypes) == list(fresh.dtypes)


def test_a_changed_cms_file_is_parsed_again(cache_dir, tmp_path):
    copy = tmp_path / "GPCI2026.csv"
    shutil.copyfile(config.GPCI_FILES[2026], copy)
    before = cache.parsed_file("t", copy, gpci._parse_gpci)
    text = copy.read_text(encoding="latin-1")
    row = next(line for line in text.splitlines() if "ALABAMA" in line.upper())
    copy.write_text(text.replace(row, row.replace("1.000", "1.500", 1)), encoding="latin-1")
    after = cache.parsed_file("t", copy, gpci._parse_gpci)
    pd.testing.assert_frame_equal(after, gpci._parse_gpci(copy))
    assert not before.equals(after)


def test_the_cache_off_parses_every_time(monkeypatch):
    monkeypatch.setenv("PAYBENCH_CACHE", "off")
    calls: list[str] = []
    for _ in range(2):
        cache.parsed_file("t", config.GPCI_FILES[2026], _parse_counting(gpci._parse_gpci, calls))
    assert len(calls) == 2


def _counting_chart(calls):
    def draw(table, code, year, *, synthetic):
        calls.append(code)
        return charts.pct_of_medicare_chart(table, code, year, synthetic=synthetic)

    return draw


def test_a_chart_from_equal_inputs_is_copied_not_drawn(cache_dir, tmp_path):
    first = charts.save_chart(
        partial(charts.pct_of_medicare_chart, TABLE, "44320", 2026, synthetic=True), tmp_path / "a", "pct", tmp_path
    )
    entry = next((cache_dir / "charts").iterdir())
    (entry / "chart.png").write_bytes(b"from the cache")  # so a copy is told apart from a new drawing
    again = charts.save_chart(
        partial(charts.pct_of_medicare_chart, TABLE.copy(), "44320", 2026, synthetic=True),
        tmp_path / "b",
        "pct",
        tmp_path / "slides",
    )
    assert again["png"].read_bytes() == b"from the cache"
    assert again["svg"].read_bytes() == first["svg"].read_bytes()
    assert (tmp_path / "slides" / "pct.png").read_bytes() == (tmp_path / "pct.png").read_bytes()  # slide picture


@pytest.fixture(scope="module")
def base_chart_cache(tmp_path_factory):
    """A cache folder holding one entry: the chart of TABLE for 44320, 2026, synthetic, drawn once for the module
    (each test below copies it into its own empty cache folder)."""
    folder = tmp_path_factory.mktemp("base-chart")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAYBENCH_CACHE", str(folder / "cache"))
        charts.save_chart(partial(charts.pct_of_medicare_chart, TABLE, "44320", 2026, synthetic=True), folder, "pct")
    assert len(list((folder / "cache" / "charts").iterdir())) == 1
    return folder / "cache"


@pytest.mark.parametrize(
    "change",
    [
        {"table": TABLE.assign(median_pct_of_medicare=[150.0, 210.5])},  # one number
        {"table": TABLE.astype({"median_pct_of_medicare": "float32"})},  # a dtype
        {"synthetic": False},  # the label
        {"code": "44310"},
    ],
)
def test_any_changed_chart_input_draws_again(cache_dir, tmp_path, change, base_chart_cache):
    shutil.copytree(base_chart_cache, cache_dir)  # the base chart's entry: the base below is copied, not drawn
    base = {"table": TABLE, "code": "44320", "synthetic": True}
    for number, arguments in enumerate((base, {**base, **change})):
        draw = partial(
            charts.pct_of_medicare_chart, arguments["table"], arguments["code"], 2026, synthetic=arguments["synthetic"]
        )
        charts.save_chart(draw, tmp_path / str(number), "pct")
    assert len(list((cache_dir / "charts").iterdir())) == 2


def test_a_chart_without_a_named_function_is_always_drawn(cache_dir, tmp_path):
    calls: list[str] = []
    for number in range(2):
        charts.save_chart(
            lambda: _counting_chart(calls)(TABLE, "44320", 2026, synthetic=True), tmp_path / f"{number}", "x"
        )
    assert calls == ["44320", "44320"] and not (cache_dir / "charts").exists()
