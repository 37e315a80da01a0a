"""The rate store's layout 2: TiC rows stored tidy (narrow rows + their part's price, group and prefix tables) and read
back as the wide rows the reader gives; stores of layout 1 (wide TiC rows) still read, alone and with tidy parts.

The oracle is the TiC reader (``read_in_network``, wide rows, no store code involved) on the same files, compared
column by column with ``assert_frame_equal``; a layout-1 store written by the code before the change is a fixture
(tests/fixtures/golden/store_v1, see PROVENANCE.md).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmark import config
from benchmark.accounts import IngestResult
from benchmark.ingest import routing
from benchmark.ingest.tic import rows
from benchmark.ingest.tic.reader import iter_in_network, read_in_network
from benchmark.store import pipeline as store_pipeline
from benchmark.store import rate_store as st

FIXTURES = Path(__file__).parent / "fixtures"
CMS = FIXTURES / "reference" / "tic"
BENCH = FIXTURES / "reference" / "bench"
TINY_CODES = (BENCH / "tiny_codes.txt").read_text().split()
CMS_IN_NETWORK = sorted(CMS.glob("*/in-network-rates-*.json"))
NARROW_COLUMNS = {"billing_code", "_price", "_group", "_prefix", "dedup_count", "_part", "_row"}


def _expected(*reads: tuple[Path, list[str] | None]) -> pd.DataFrame:
    """The reader's rows of each (file, codes), in that order (what a store of those files must give back)."""
    return IngestResult.combine([read_in_network(path, codes, helpers=False) for path, codes in reads]).rates


def _copy(files: list[Path], folder: Path) -> list[Path]:
    """Copies of ``files`` in one folder (two CMS examples share a name across versions: numbered)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for number, path in enumerate(files):
        copy = folder / f"{number:02d}-{path.name}"
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


def test_cms_examples_read_back_from_tidy_parts_as_the_reader_gives_them(tmp_path):
    files = _copy(CMS_IN_NETWORK, tmp_path / "files")
    assert len(files) >= 10
    run = store_pipeline.ingest(files, None, tmp_path / "s")
    loaded = [path for path, outcome in zip(files, run.outcomes) if outcome.status == "loaded"]
    assert len(loaded) >= 8
    store = st.open_store(tmp_path / "s")
    expected = _expected(*((path, None) for path in loaded))
    assert len(expected) > 50
    pd.testing.assert_frame_equal(store.read_rates(), expected)
    code = expected["billing_code"].iloc[0]
    pd.testing.assert_frame_equal(
        store.read_rates([code]), expected[expected["billing_code"].eq(code)].reset_index(drop=True)
    )
    assert store.verify() == []
    # every TiC rate part is narrow; each loaded part has its three tables, once
    rate_parts = list((tmp_path / "s" / st.RATES_DIR).rglob("*.parquet"))
    assert rate_parts and all(set(pq.read_schema(p).names) == NARROW_COLUMNS for p in rate_parts)
    parts = set(store.manifest().query("status == 'loaded' and rows_loaded > 0")["part_id"])
    for table in (st.PRICES, st.GROUPS, st.PREFIXES):
        found = sorted(
            st.PART_FILE.match(p.name)["part"] for p in (tmp_path / "s" / st.DIMENSIONS_DIR / table).iterdir()
        )
        assert set(found) == parts and len(found) == len(parts), table
    assert json.loads((tmp_path / "s" / st.STORE_INFO).read_text())["layout_version"] == 2


@pytest.mark.parametrize("name", ["innet_pr_last_tiny.json.gz", "innet_pr_first_tiny.json.gz"])
def test_large_payer_shaped_files_read_back_as_the_reader_gives_them(tmp_path, name):
    store_pipeline.ingest([BENCH / name], TINY_CODES, tmp_path / "s")
    store = st.open_store(tmp_path / "s")
    expected = _expected((BENCH / name, TINY_CODES))
    assert len(expected) > 5_000
    pd.testing.assert_frame_equal(store.read_rates(), expected)
    with store.connect() as con:  # the view: the same rows, in ingest order
        view = con.execute(
            "SELECT r.* EXCLUDE (_part, _row, code_prefix) FROM rates r JOIN committed c ON r._part = c.part_id "
            "ORDER BY c.seq, r._row"
        ).df()
    assert list(view["source_locator"]) == list(expected["source_locator"])
    assert list(view["amount"]) == list(expected["amount"])


def test_rows_in_many_batches_and_tables_checked_in_slices_read_back_the_same(tmp_path, monkeypatch):
    """The tables are built and checked _TABLE_ROWS rows at a time and written with the file's last batch: with
    tiny slices and batches (many of each) the store still gives back the reader's rows."""
    name = "innet_pr_last_tiny.json.gz"
    monkeypatch.setattr(rows, "_TABLE_ROWS", 97)
    monkeypatch.setattr(routing, "iter_in_network", functools.partial(iter_in_network, batch_rows=500))
    store_pipeline.ingest([BENCH / name], TINY_CODES, tmp_path / "s")
    store = st.open_store(tmp_path / "s")
    pd.testing.assert_frame_equal(store.read_rates(), _expected((BENCH / name, TINY_CODES)))
    chunks = {p.name.rsplit("-", 2)[1] for p in (tmp_path / "s" / st.RATES_DIR).rglob("*.parquet")}
    assert len(chunks) > 5  # many batches
    (prices,) = (tmp_path / "s" / st.DIMENSIONS_DIR / st.PRICES).iterdir()
    (groups,) = (tmp_path / "s" / st.DIMENSIONS_DIR / st.GROUPS).iterdir()
    assert pq.read_metadata(prices).num_rows > 3 * 97 and pq.read_metadata(groups).num_rows > 3 * 97  # many slices
    assert prices.name.rsplit("-", 2)[1] == max(chunks)  # written with the last batch
    assert store.verify() == []


def test_a_tidy_batch_is_never_combined_in_memory():
    batches = iter_in_network(BENCH / "innet_pr_last_tiny.json.gz", TINY_CODES[:2], helpers=False, tidy=True)
    first = next(batches)
    assert first.tidy is not None and len(first.rates) == 0
    with pytest.raises(ValueError, match="tidy"):
        IngestResult.combine([first])


V1 = FIXTURES / "golden" / "store_v1"
V1_READS = [
    (CMS / "v2" / "in-network-rates-fee-for-service-single-plan-sample.json", None),
    (CMS / "v1.6.2" / "in-network-rates-multiple-plans-sample.json", None),
    (BENCH / "innet_pr_first_tiny.json.gz", TINY_CODES[:6]),
]


def test_a_store_of_wide_tic_parts_still_reads_alone_and_with_tidy_parts(tmp_path):
    root = tmp_path / "s"
    shutil.copytree(V1, root)
    assert json.loads((root / st.STORE_INFO).read_text())["layout_version"] == 1
    store = st.open_store(root)
    expected = _expected(*V1_READS)
    pd.testing.assert_frame_equal(store.read_rates(), expected)
    assert store.verify() == []
    # a tidy part added: the old wide parts and the new narrow ones read as one table, in ingest order
    run = store_pipeline.ingest([BENCH / "innet_pr_last_tiny.json.gz"], TINY_CODES[:6], root)
    assert [o.status for o in run.outcomes] == ["loaded"]
    both = _expected(*V1_READS, (BENCH / "innet_pr_last_tiny.json.gz", TINY_CODES[:6]))
    pd.testing.assert_frame_equal(store.read_rates(), both)
    code = TINY_CODES[0]
    pd.testing.assert_frame_equal(store.read_rates([code]), both[both["billing_code"].eq(code)].reset_index(drop=True))
    assert json.loads((root / st.STORE_INFO).read_text())["layout_version"] == 2  # older versions now refuse it
    assert store.verify() == []


def test_replaced_vacuumed_and_verified_tidy_parts_take_their_tables_along(tmp_path):
    root = tmp_path / "s"
    tiny = BENCH / "innet_pr_last_tiny.json.gz"
    store_pipeline.ingest([tiny], TINY_CODES[:2], root)
    store = st.open_store(root)
    first = store.manifest()["part_id"].iloc[0]
    store_pipeline.ingest([tiny], TINY_CODES[:4], root)  # a wider read of the same file replaces its part
    second = store.manifest()["part_id"].iloc[0]
    assert second != first
    names = [p.name for p in root.rglob("*.parquet")]
    assert not [n for n in names if n.startswith(first)]  # rows and tables of the replaced part deleted
    assert sum(n.startswith(second) for n in names) > 3
    pd.testing.assert_frame_equal(store.read_rates(), _expected((tiny, TINY_CODES[:4])))
    # a table of a part no manifest names is a leftover that vacuum deletes
    prices = next((root / st.DIMENSIONS_DIR / st.PRICES).glob("*.parquet"))
    orphan = prices.with_name("0123456789abcdef-00000000-00000-0.parquet")
    shutil.copyfile(prices, orphan)
    assert any("part files of no loaded file" in problem for problem in store.verify())
    assert orphan in store.vacuum() and not orphan.exists() and store.verify() == []
    # a committed part that lost a table is a finding, and its rows are never read without it
    groups = next((root / st.DIMENSIONS_DIR / st.GROUPS).glob("*.parquet"))
    groups.unlink()
    assert any("without its groups table" in problem for problem in store.verify())
    with pytest.raises(Exception):  # noqa: B017 (DuckDB or the schema check: either refuses, no row is dropped)
        store.read_rates()


def test_hospital_rows_stay_wide_beside_tidy_tic_rows(tmp_path):
    hospital = sorted(config.SAMPLE_HOSPITAL_DIR.iterdir())[0]
    files = [hospital, CMS / "v2" / "in-network-rates-fee-for-service-single-plan-sample.json"]
    store_pipeline.ingest(files, None, tmp_path / "s")
    forms = {}
    for path in (tmp_path / "s" / st.RATES_DIR).rglob("*.parquet"):
        names = set(pq.read_schema(path).names)
        forms.setdefault(path.parts[-4], set()).add("tidy" if names == NARROW_COLUMNS else "wide")
    assert forms == {"source_type=hospital": {"wide"}, "source_type=tic": {"tidy"}}
    in_memory = store_pipeline.ingest(files, None, None).result.rates  # the readers' rows, no store involved
    pd.testing.assert_frame_equal(st.open_store(tmp_path / "s").read_rates(), in_memory)
