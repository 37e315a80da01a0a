"""Large kept items read in pieces: the same rows, quarantine, account and errors as an item decoded whole.

The reader decodes an item larger than ``_DECODE_CHUNK_BYTES`` with its ``negotiated_rates`` a piece
(``_PIECE_BYTES`` of entries) at a time. Here both are forced tiny, so every item of a file is read in pieces of one
or a few entries, and the results are compared with the golden tables (captured from the reader before issue 17,
tests/test_tic_equivalence.py) and with the same file read whole; which key a repeated-key item is quarantined for
is computed independently with ``json.loads`` and its duplicate-key hook.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from test_tic_equivalence import CASES, _assert_same_account, _assert_same_rows, _golden, _stem

from benchmark.accounts import IngestResult
from benchmark.ingest.tic import reader as reader_module
from benchmark.ingest.tic.reader import TicFileError, iter_in_network, read_in_network
from benchmark.ingest.tic.scan import object_members


@pytest.fixture
def pieces(monkeypatch):
    """Every kept item read in pieces of about ``size`` bytes of entries (set ``.size``); counts items and pieces."""

    class Counter:
        items = 0
        pieces = 0

    counter = Counter()
    read_in_pieces, pieces_of = reader_module._Collector._read_in_pieces, reader_module._Collector._pieces

    def counted_read(self, rows, kept, text):
        counter.items += 1
        return read_in_pieces(self, rows, kept, text)

    def counted_pieces(self, *args):
        for piece in pieces_of(self, *args):
            counter.pieces += 1
            yield piece

    monkeypatch.setattr(reader_module, "_DECODE_CHUNK_BYTES", 0)
    monkeypatch.setattr(reader_module._Collector, "_read_in_pieces", counted_read)
    monkeypatch.setattr(reader_module._Collector, "_pieces", counted_pieces)

    def resize(size: int) -> None:
        monkeypatch.setattr(reader_module, "_PIECE_BYTES", size)

    counter.resize = resize  # type: ignore[attr-defined]
    resize(1)
    return counter


# The CMS examples in pieces of both sizes; the two generated files (~1 s a read in pieces this small) one size each:
# references last in pieces of one entry, references first in pieces of a few. Measured with coverage (branch mode,
# benchmark/ingest/tic): the other two pairs reach no line or branch that these do not.
PIECES = [(path, codes, size) for path, codes in CASES if codes is None for size in (1, 700)] + [
    (path, codes, 1 if "last" in path.name else 700) for path, codes in CASES if codes is not None
]


@pytest.mark.parametrize("path,codes,size", PIECES, ids=[f"{_stem(p)}-{size}" for p, _, size in PIECES])
def test_items_read_in_pieces_give_the_rows_of_the_reader_before(path, codes, size, pieces):
    """CMS examples and the small generated large-payer files: every item in pieces of one entry (size 1) or of a
    few (700 bytes), the provider references a piece at a time too; rows, quarantine and account are the golden
    ones, whole and in batches."""
    pieces.resize(size)
    rates, quarantine, account = _golden(path)
    batches = list(iter_in_network(path, codes, helpers=False, batch_rows=4000))
    assert pieces.items > 0 and pieces.pieces >= pieces.items
    if codes is not None:  # the generated files: items of many entries, so many pieces; and several batches
        assert pieces.pieces > 5 * pieces.items and len(batches) > 1
    frames = [batch.rates for batch in batches if len(batch.rates)]
    _assert_same_rows(pd.concat(frames, ignore_index=True) if frames else batches[0].rates, rates)
    _assert_same_rows(batches[-1].quarantine, quarantine)
    _assert_same_account(batches[-1].accounts[0], account, path)


# ---------------------------------------------------------------------------------------------------------------------
# Repeated keys


def _price(amount: float, billing_class: str = "professional") -> dict[str, Any]:
    return {
        "negotiated_type": "negotiated",
        "negotiated_rate": amount,
        "expiration_date": "9999-12-31",
        "billing_class": billing_class,
        "service_code": ["11"],
    }


def _rate(number: int) -> dict[str, Any]:
    """Rates alternate root references (1 and 2, 2 and 3) with an inline group, so a piece adds group rows."""
    if number % 2:
        return {"provider_references": [1 + number % 3, 2 + number % 3], "negotiated_prices": [_price(100.0 + number)]}
    return {
        "provider_groups": [{"npi": [1000000000 + number], "tin": {"type": "ein", "value": f"{number:02d}-0000000"}}],
        "negotiated_prices": [_price(100.0 + number), _price(50.0 + number, "institutional")],
    }


def _item(code: str, rates: int) -> dict[str, Any]:
    return {
        "negotiation_arrangement": "ffs",
        "name": "synthetic",
        "billing_code_type": "CPT",
        "billing_code_type_version": "2024",
        "billing_code": code,
        "description": "synthetic sample data — not actual payer rates",
        "negotiated_rates": [_rate(number) for number in range(rates)],
    }


def _document(items: list[str]) -> str:
    """A file whose in_network holds these item texts; its root references used by the items come first."""
    references = [
        {
            "provider_group_id": group_id,
            "provider_groups": [
                {"npi": [1111111110 + group_id, 2222222220 + group_id], "tin": {"type": "ein", "value": f"{group_id}"}}
            ],
        }
        for group_id in (1, 2, 3, 4)
    ]
    references[3]["provider_groups"][0]["npi"] = ["1111111114", "2222222224"]  # not the usual shape: read lazily
    head = json.dumps({"reporting_entity_name": "Synthetic Plan", "reporting_entity_type": "health insurance issuer"})
    return (
        head[:-1] + ', "provider_references": ' + json.dumps(references) + ', "in_network": [' + ", ".join(items) + "]}"
    )


class _Repeated(ValueError):
    pass


def _hook(pairs):
    keys = [key for key, _ in pairs]
    for number, key in enumerate(keys):
        if key in keys[:number]:
            raise _Repeated(key)
    return dict(pairs)


def _named_key(text: str) -> str | None:
    """The key json.loads with a duplicate-key hook names for this item text (None: no repeated key)."""
    try:
        json.loads(text, object_pairs_hook=_hook)
    except _Repeated as error:
        return error.args[0]
    return None


def _entry_text(number: int, repeat: str | None = None) -> str:
    """A negotiated_rates entry's text; ``repeat``: a key of its first price written twice."""
    text = json.dumps(_rate(number))
    if repeat is not None:
        text = text.replace(f'"{repeat}": ', f'"{repeat}": "x", "{repeat}": ', 1)
    return text


def _item_text(rates: int = 30, *, inner: int | None = None, top: str = "", before: str = "", after: str = "") -> str:
    """An item with ``rates`` entries; ``inner``: entry with a repeated key; ``top``: member(s) added at the end of
    the item itself; ``before``/``after``: members written before/after negotiated_rates."""
    item = _item("44320", rates)
    entries = [_entry_text(n, "billing_class" if n == inner else None) for n in range(rates)]
    del item["negotiated_rates"]
    own = json.dumps(item)[1:-1]
    parts = [own, before, '"negotiated_rates": [' + ", ".join(entries) + "]", after, top]
    return "{" + ", ".join(part for part in parts if part) + "}"


BUNDLE = '"bundled_codes": [{"billing_code_type": "CPT", "billing_code": "1"%s}]'
COVERED = '"covered_services": [{"billing_code_type": "CPT", "billing_code": "2"%s}]'
REPEATS = {  # item text -> the key json.loads names for it
    "entry late": dict(inner=27),
    "entry first": dict(inner=0),
    "top: negotiated_rates twice": dict(top='"negotiated_rates": []'),
    "top: billing_code twice": dict(top='"billing_code": "99213"'),
    "top and entry": dict(inner=12, top='"billing_code": "99213"'),
    "after": dict(after=BUNDLE % ', "billing_code": "3"'),
    "after and entry": dict(inner=5, after=BUNDLE % ', "billing_code": "3"'),
    "before and entry": dict(inner=5, before=COVERED % ', "billing_code_type": "HCPCS"', after=BUNDLE % ""),
    "before and after": dict(before=COVERED % ', "billing_code": "3"', after=BUNDLE % ', "billing_code_type": "x"'),
    "none": dict(before=COVERED % "", after=BUNDLE % ""),
}


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.rates, b.rates)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    assert [vars(x) for x in a.accounts] == [vars(x) for x in b.accounts]


@pytest.fixture(scope="module")
def whole_reads() -> dict[str, IngestResult]:
    """The whole read of each REPEATS file, shared by its three ways of reading in pieces (read only)."""
    return {}


@pytest.mark.parametrize("size,chunk", [(1, 0), (900, 0), (1, 2000)])
@pytest.mark.parametrize("case", list(REPEATS))
def test_a_repeated_key_in_an_item_read_in_pieces_quarantines_it_as_a_whole_read_does(
    tmp_path, case, size, chunk, pieces, monkeypatch, whole_reads
):
    """The ambiguous item (in_network[1]) sits between two items that use the same references: whatever its
    earlier pieces added (prices, inline groups, reference groups, counts) is taken back, and the item is one
    quarantined row naming the key json.loads names, at the item's own offset. ``chunk``: items larger than it are
    read in pieces, the price table moved into columns after every piece (0) or after ~2,000 bytes of pieces (then
    some prices read are still Python tuples when the item is taken back)."""
    monkeypatch.setattr(reader_module, "_DECODE_CHUNK_BYTES", chunk)
    bad = _item_text(**REPEATS[case])
    good = json.dumps(_item("44320", 9))
    path = tmp_path / "repeats.json"
    text = _document([good, bad, good.replace("44320", "44321")])
    path.write_text(text, encoding="utf-8")
    named = _named_key(bad)
    assert (named is None) == (case == "none")
    pieces.resize(size)
    split = read_in_network(path, helpers=False, deduplicate=False)
    assert pieces.items == sum(len(item.encode()) > chunk for item in (good, bad, good)) >= 1
    if case not in whole_reads:
        pieces.resize(1 << 30)
        with pytest.MonkeyPatch.context() as whole_read:
            whole_read.setattr(reader_module, "_DECODE_CHUNK_BYTES", 1 << 30)
            whole_reads[case] = read_in_network(path, helpers=False, deduplicate=False)
    _same(split, whole_reads[case])
    (account,) = split.accounts
    good_rows = 2 * 9 * 2  # 2 items of 9 rates, each 1 price x 2 referenced groups or 2 prices x 1 inline group
    bad_rows = 30 * 2
    if named is None:
        assert len(split.quarantine) == 0 and account.rows_loaded == good_rows + bad_rows
        return
    offset = len(text[: text.index(bad)].encode())
    assert list(split.quarantine.reason_code) == ["duplicate_key"]
    assert list(split.quarantine.source_locator) == ["in_network[1]"]
    assert split.quarantine.detail.iloc[0].startswith(
        f"duplicate key {named!r} in in_network[1] (starting at byte {offset:,}); "
    )
    assert (account.rows_seen, account.rows_loaded, account.rows_quarantined) == (good_rows + 1, good_rows, 1)
    assert set(split.rates.billing_code) == {"44320", "44321"}


def test_a_repeated_key_found_in_a_late_piece_takes_back_the_groups_of_earlier_pieces(tmp_path, pieces):
    """The item with a repeated key is the first to use reference 4 (in its early pieces only); the next item uses
    it too and gets its groups, exactly as if the ambiguous item had never been read."""
    entries = [json.dumps({"provider_references": [4], "negotiated_prices": [_price(70.0)]})] * 5
    bad = _item_text(30, inner=28).replace('"negotiated_rates": [', '"negotiated_rates": [' + ", ".join(entries) + ", ")
    user = json.dumps({**_item("44320", 1), "negotiated_rates": [json.loads(entries[0])]})
    path = tmp_path / "late.json"
    path.write_text(_document([bad, user]), encoding="utf-8")
    pieces.resize(1)
    split = read_in_network(path, helpers=False)
    assert pieces.pieces > 5
    with pytest.MonkeyPatch.context() as whole_read:
        whole_read.setattr(reader_module, "_DECODE_CHUNK_BYTES", 1 << 30)
        pieces.resize(1 << 30)
        whole = read_in_network(path, helpers=False)
    _same(split, whole)
    assert list(split.rates.source_locator) == [
        "in_network[1].negotiated_rates[0].negotiated_prices[0].provider_references[0]->provider_group_id=4"
        ".provider_groups[0]"
    ]
    assert list(split.rates.provider_npis) == ["1111111114|2222222224"]


# ---------------------------------------------------------------------------------------------------------------------
# Malformed text (the scan rejects it first in a file; here the kept item is handed to the collector directly)


def _finish(text: bytes, *, split: bool, monkeypatch) -> TicFileError:
    monkeypatch.setattr(reader_module, "_DECODE_CHUNK_BYTES", 0 if split else 1 << 30)
    monkeypatch.setattr(reader_module, "_PIECE_BYTES", 1)
    collector = reader_module._Collector(name="bad.json", wanted=None)
    collector.fields = {"reporting_entity_name": "Synthetic Plan"}
    collector.keep(0, json.dumps(_item("1", 1)).encode(), 500, 1, [])
    collector.keep(1, text, 1_000, 0, [])
    with pytest.raises(TicFileError) as raised:
        collector.finish(sha256="", is_synthetic=True, plans=(), policy=None, deduplicate=True)
    return raised.value


def test_text_that_is_not_utf8_in_a_piece_names_the_file_the_entry_and_its_offset(monkeypatch):
    entries = [_entry_text(n) for n in range(6)]
    entries[4] = entries[4].replace("negotiated", "negoti\udcffated", 1)
    text = _item_text(6).encode()
    text = text.replace(_entry_text(4).encode(), entries[4].encode("utf-8", "surrogateescape"))
    at = 1_000 + text.index(entries[4].encode("utf-8", "surrogateescape"))
    error = _finish(text, split=True, monkeypatch=monkeypatch)
    assert str(error).startswith(
        f"bad.json: text is not UTF-8 in in_network[1].negotiated_rates[4] (starting at byte {at:,})"
    )
    whole = _finish(text, split=False, monkeypatch=monkeypatch)
    assert str(whole).startswith("bad.json: text is not UTF-8 in in_network[1] (starting at byte 1,000)")


def test_an_item_that_does_not_parse_reports_what_a_whole_read_reports(monkeypatch):
    """Broken syntax in an entry: the item is decoded whole, so the message is the one of a whole read."""
    text = _item_text(6).replace('"negotiated_prices": [', '"negotiated_prices": [,', 1).encode()
    split = _finish(text, split=True, monkeypatch=monkeypatch)
    whole = _finish(text, split=False, monkeypatch=monkeypatch)
    assert str(split) == str(whole)
    assert str(split).startswith("bad.json: cannot decode in_network[1] (starting at byte 1,000)")


# ---------------------------------------------------------------------------------------------------------------------
# object_members


@pytest.mark.parametrize(
    "text,expected",
    [
        (b'{"a": 1, "b" :[1, {"c": [2]}], "a":"x"}', [(b'"a"', b"1"), (b'"b"', b'[1, {"c": [2]}]'), (b'"a"', b'"x"')]),
        (b' \n{ "k\\u0041" : {"q": null} }\n', [(b'"k\\u0041"', b'{"q": null}')]),
        (b"{}", []),
        (b"{ }", []),
    ],
)
def test_object_members_gives_every_member_in_order(text, expected):
    members = object_members(text)
    assert members is not None
    assert [(key, text[start:end].strip()) for key, start, end in members] == expected


@pytest.mark.parametrize(
    "text",
    [b"[1]", b'{"a": 1,}', b'{"a": 1', b'{"a" 1}', b'{"a": 1 "b": 2}', b'{"a": 1} {}', b'{"a": tru}', b"{1: 2}", b""],
)
def test_object_members_refuses_what_is_not_one_json_object(text):
    assert object_members(text) is None
