"""Read a payer's Transparency-in-Coverage (TiC) in-network rate file into normalized rate rows.

Entry point: :func:`read_in_network`. It accepts schema 1.x and 2.x files — a path, a ``.json``/``.json.gz`` file, a
single-file ``.zip``, an http(s) URL or a :class:`~benchmark.sources.source.Source` (a zip member, a file listed by a
table of contents, with its plans) — and returns an :class:`~benchmark.accounts.IngestResult` whose ``rates``
pass :func:`benchmark.schema.validate_rates`, whose ``quarantine`` passes ``QuarantineSchema`` and whose single
:class:`FileAccount` balances. A file-level problem raises :class:`TicFileError` and returns nothing of the file.

How a file is read (one pass, bounded memory; see :mod:`benchmark.ingest.tic.scan` for the scanner)
    The document streams once through :func:`~benchmark.ingest.tic.scan.scan_document` (gunzip in a thread, or for
    large local files in a helper process; every byte checked). Root keys may come in any order
    (``provider_references`` before or after ``in_network``, ``version`` last). ``in_network`` items arrive in batches
    decoded into small shapes (billing code, and per negotiated rate: the number of prices, the number of inline
    groups, the raw reference-id list), here or in the scanner helper process (:mod:`benchmark.ingest.tic.workers`),
    and are used in file order:

    * an item for a wanted code (or any item when ``codes`` is None) is copied as raw bytes to a spill file
      (memory up to 64 MB, then a temporary file);
    * any other item is counted (its rows, see below) and forgotten: it is never built as Python objects;
    * root ``provider_references`` entries are reduced to ``id -> (group count, where its bytes are)``; their bytes
      go to the spill file, and only the entries a kept item refers to are ever decoded.

    When the whole file has been read and checked, the kept items and the references they use are decoded (msgspec,
    with the standard library's duplicate-key check kept exact) and turned into rows, column by column
    (:mod:`benchmark.ingest.tic.rows`): a few MB of text at a time, a large item's ``negotiated_rates`` in pieces of
    ~1 MB of entries (the same rows, counts and duplicate-key problems as a whole decode; see
    ``_Collector._read_in_pieces``), so the memory of this step does not grow with the largest item. Nothing is
    returned for a file that fails at any point.

Memory bound
    Scanner (~100-150 MB with the defaults, see tic_scan) + ~100 bytes per distinct root ``provider_group_id`` + 8 bytes
    per integer reference id up to the largest one used (a dense count array) + the rows returned. The spill file
    holds the kept items and the root ``provider_references`` section (on disk beyond 64 MB). Measured peak RSS is
    in README.md (benchmarks/bench_tic.py).

What one row is ("a row seen")
    One row is one ``negotiated_price`` x one provider group: the unit every count in the :class:`FileAccount` uses,
    whether the row is loaded, quarantined, filtered out or deduplicated (filtered items are counted with the same
    rule from their shapes, without building them). Where a dimension cannot be expanded it counts as ONE row:

    * a provider reference that cannot be resolved (id not found, remote ``location``, empty or duplicated entry)
      counts as one provider group (we cannot know how many groups it would hold);
    * a negotiated rate with no provider groups and no references counts as one provider group;
    * a negotiated rate with no ``negotiated_prices`` counts as one row (not multiplied by its groups);
    * an ``in_network`` item that is not an object or has no ``negotiated_rates`` counts as one row;
    * a ``negotiated_rates`` entry that is not an object counts as one row.

    Every quarantined row gets its own quarantine record, so ``len(quarantine) == rows_quarantined``.

Deduplication (``deduplicate=True``)
    Two loaded rows of the same file are duplicates when every normalized column is equal except ``source_locator``
    (where it was found) — same code, type, modifiers, POS codes, setting, class, rate type, amount, expiration,
    arrangement, bundled/covered codes, provider NPIs, TIN, network and plan. The first is kept with
    ``dedup_count`` = how many identical rows it stands for; the others are counted in ``rows_deduplicated``. This
    collapses a rate repeated for the same provider group under several provider references, negotiated-rate
    entries or items; rates for different NPIs/TINs stay distinct rows (they are different contracts).

Values
    * ``billing_code`` is kept as text exactly as published (stripped; never cast to a number). ``codes`` (a list
      of codes and ranges, see :class:`CodeFilter`) are compared after stripping and upper-casing.
      ``billing_code_type`` is upper-cased.
    * ``modifiers``: ``billing_code_modifier`` stripped, upper-cased, sorted, unique, joined with ``|`` ("" if none).
    * ``service_codes``: stripped, one-digit codes zero-padded (``5`` -> ``05``), sorted, unique, joined with ``|``.
      ``pos_setting``: all codes in the CMS facility POS set -> ``facility``; none -> ``non_facility``; a mix or
      ``CSTM-00`` -> ``both``; no codes -> ``facility`` for institutional billing, else ``unknown``.
    * ``negotiated_rate`` must be a finite number > 0. A JSON number is used as is; a string holding a plain decimal
      number (``"123.45"``, ``"4.432E+04"``) is accepted too; anything else (``"$1,234.50"``, ``"N/A"``) is
      quarantined.
    * Rate types keep their meaning: ``negotiated``, ``fee schedule`` and ``derived`` (labelled in ``rate_type``)
      are per-service dollars, so ``amount_usd == amount``. A ``percentage`` stays a percentage (``amount_unit``
      ``percent``, e.g. 65 = 65 %): TiC defines it as a percent of billed charges, which the file does not contain,
      so ``amount_usd`` stays empty (the base is unknown; nothing is guessed) and ``dollar_basis`` is empty. A
      ``per diem`` stays a daily rate (``USD_per_day``, ``amount_usd`` empty).
    * Bundles keep their ``bundled_codes`` and capitation its ``covered_services`` (``TYPE:code``, ``|``-joined, in
      published order); ``severity_of_illness`` (2.x) and the price's ``additional_information`` are kept.
    * Provider identity: ``provider_npis`` are the group's NPIs as text, sorted, unique, ``|``-joined. The TIN-only
      placeholder NPI ``0`` is dropped, so ``npi: [0]`` (and ``npi: []``) gives ``provider_npis = None`` while
      ``provider_tin`` keeps the contract's TIN. A TIN value of ``"0"`` is likewise stored as None.
      ``provider_name`` is ``tin.business_name`` (2.x) when present. 2.x root references carry ``network_name[]``
      (joined with ``|``); inline 1.x groups have no network name.
    * ``payer_raw`` is ``reporting_entity_name`` (``issuer_name`` only if the former is missing). Plan columns come
      from the file's root (``plan_name``, or ``issuer_name`` when there is no plan name; ``plan_count`` 1), else
      from the plans a table of contents lists for the file (values joined with ``|``, at most 25 shown then
      ``(+N more)``; ``plan_count`` = number of plans), else they are empty (a multi-plan file read alone).
    * ``setting`` (2.x) becomes ``care_setting``; without it ``care_setting`` is ``"unknown"``.
    * 1.x root references that only hold a remote ``location`` are fetched when the source came from a URL or a
      table of contents, or when ``remote=`` is given (https only, public hosts only, see
      :class:`~benchmark.sources.source.RemotePolicy`); otherwise (and when fetching fails) their rows are
      quarantined.

``source_locator``
    The path of the price, then the provider group it is crossed with::

      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_groups[2]
      in_network[0].negotiated_rates[1].negotiated_prices[0].provider_references[0]->provider_group_id=5.provider_groups[1]

    the second form reads: reference number 0 of that negotiated rate, which points at root provider group id 5, whose
    ``provider_groups[1]`` is the group. Unresolvable references end at ``->provider_group_id=5``. Rows that could not
    be expanded (see above) use the path of the deepest element that exists, e.g. ``in_network[4].negotiated_rates[0]``.

Quarantine reason codes (item level; the file is still read)
    ``in_network_item_invalid``, ``negotiated_rates_missing``, ``negotiated_rate_invalid``,
    ``negotiated_prices_missing``, ``negotiated_price_invalid``, ``billing_code_missing``,
    ``billing_code_type_missing``, ``rate_missing``, ``rate_not_numeric``, ``rate_not_finite``, ``rate_not_positive``,
    ``negotiated_type_unknown``, ``billing_class_unknown``, ``setting_unknown``, ``key_misspelled`` (a key one or two
    letters away from a key that carries meaning, e.g. ``billing_code_modifer``: the rate would silently lose it),
    ``provider_groups_missing``, ``provider_group_invalid``, ``provider_reference_missing``,
    ``provider_reference_remote``, ``provider_reference_fetch_failed``, ``provider_reference_empty``,
    ``provider_reference_duplicate``, ``duplicate_key`` (a key repeated inside a kept ``in_network`` item: the item
    is ambiguous, so it is quarantined whole, as one row; the rest of the file is read). A missing ``billing_class``
    becomes ``"unknown"``; a present but unrecognised one is quarantined (same for ``setting``).

File-level problems (:class:`TicFileError`, nothing of the file is returned)
    Not gzip although named ``.gz`` (e.g. an HTML error page), truncated or corrupt gzip, trailing garbage, a gzip
    bomb (decompressed size or ratio cap), empty file, invalid JSON with byte offset and line:column (trailing
    commas, NaN/Infinity, unescaped quotes, several root documents), nesting deeper than ~1,000 levels, an item
    larger than ``Limits.max_item_bytes``, duplicate keys at the root or inside a provider reference that is decoded
    (items skipped by the code filter are checked for syntax only), text that is not UTF-8 (anywhere,
    with byte offset and line:column), a root that is not an object, no ``in_network`` array (the message lists
    the keys found, e.g. a misspelled ``in_networks``), no reporting entity name.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec

from benchmark.accounts import IngestResult
from benchmark.collector import gc_paused
from benchmark.errors import InputFileError
from benchmark.ingest.tic import workers as tic_workers
from benchmark.ingest.tic.items import (
    ITEM,
    CodeFilter,
    FilteredRowCounter,
    ItemBatchScan,
    ReferenceShape,
    id_text,
    reference_id,
    scan_item_batch,
    shape_usage,
    text_of,
)
from benchmark.ingest.tic.rows import (
    ESCAPED,
    ItemProblem,
    Reference,
    Root,
    RowBuilder,
    decode_elements,
    provider_of,
)
from benchmark.ingest.tic.scan import Batch, ScanError, StreamStats, element_spans, object_members, scan_document
from benchmark.sources.http import RemotePolicy, SourceError, fetch_json
from benchmark.sources.limits import Limits
from benchmark.sources.source import PlanInfo, Source, as_source

_ROOT_FIELDS = frozenset(
    {
        "reporting_entity_name",
        "reporting_entity_type",
        "issuer_name",
        "plan_name",
        "plan_id_type",
        "plan_id",
        "plan_sponsor_name",
        "plan_market_type",
        "last_updated_on",
        "version",
    }
)
_SPILL_IN_MEMORY = 64 << 20
_DECODE_CHUNK_BYTES = 4 << 20  # kept elements decoded together (bounds their Python objects: ~10x the text)
_PIECE_BYTES = 1 << 20  # entries of a larger item's negotiated_rates decoded together (see _read_in_pieces)


class TicFileError(InputFileError):
    """A TiC file that cannot be read at all (not JSON, truncated, wrong structure); nothing of it is returned."""


class TableOfContentsFound(TicFileError):
    """The document is a table of contents, not an in-network file (read it with sources.read_source)."""


@dataclass
class ReadProgress:
    """Where a read is (passed to progress callbacks after every chunk and at the end)."""

    source_name: str
    stored_bytes: int | None  # the stored (compressed) size when known
    raw_bytes: int  # stored bytes read so far
    json_bytes: int  # JSON text bytes so far
    prices_found: int  # negotiated prices in the items kept so far
    finished: bool = False


_PROGRESS: ContextVar[Callable[[ReadProgress], None] | None] = ContextVar("tic_progress", default=None)


@contextmanager
def reporting_progress(callback: Callable[[ReadProgress], None]) -> Iterator[None]:
    """Send the progress of every :func:`read_in_network` call inside the block to ``callback`` (e.g. a CLI bar)."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


BATCH_ROWS = 65_536  # rows per batch of iter_in_network (~60 MB of rate table each)


def read_in_network(
    path: str | Path | Source,
    codes: Iterable[str] | str | CodeFilter | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
    plans: Iterable[PlanInfo] | None = None,
    remote: RemotePolicy | None = None,
    limits: Limits | None = None,
    deduplicate: bool = True,
    progress: Callable[[ReadProgress], None] | None = None,
    helpers: bool | None = None,
) -> IngestResult:
    """Normalized rate rows (one per negotiated price x provider group) from one TiC in-network file.

    ``codes``: billing codes and ranges to keep (see :class:`CodeFilter`; None keeps all); items for other codes
    are counted as ``rows_filtered_out`` without being built. ``source_name`` replaces the file name in
    ``source_file``. ``plans`` (from a table of contents) describe the plans a multi-plan file serves. ``remote``
    allows fetching 1.x remote provider-reference files. ``helpers``: use the helper processes of
    :mod:`~benchmark.ingest.tic.workers` (a second core for gunzip and scanning); None decides by file size and
    cores. Item-level problems are quarantined; file-level problems raise :class:`TicFileError`.

    All rows at once, in memory: for a large output use :func:`iter_in_network` (bounded batches).
    """
    (result,) = iter_in_network(
        path,
        codes,
        is_synthetic=is_synthetic,
        source_name=source_name,
        plans=plans,
        remote=remote,
        limits=limits,
        deduplicate=deduplicate,
        progress=progress,
        helpers=helpers,
        batch_rows=None,
    )
    return result


def iter_in_network(
    path: str | Path | Source,
    codes: Iterable[str] | str | CodeFilter | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
    plans: Iterable[PlanInfo] | None = None,
    remote: RemotePolicy | None = None,
    limits: Limits | None = None,
    deduplicate: bool = True,
    progress: Callable[[ReadProgress], None] | None = None,
    helpers: bool | None = None,
    batch_rows: int | None = BATCH_ROWS,
    tidy: bool = False,
) -> Iterator[IngestResult]:
    """:func:`read_in_network` in batches of about ``batch_rows`` rate rows (None: one batch), in file order.

    The whole file is read and checked before the first batch comes (a file-level problem raises
    :class:`TicFileError` at the first ``next``, and nothing of the file has been returned). Each batch's rates are
    validated; the last batch carries the quarantine table and the file's account, which balances for the batches
    together. Memory stays bounded by the batch size, not by the rows of the file: only the kept prices, the
    provider groups they use and one integer per row (for deduplication across batches) are held for the file.

    ``tidy``: the batches carry their rows as :class:`~benchmark.accounts.TidyRates` (for the rate store, which keeps
    TiC rows that way) and no wide ``rates``; the rows, accounts and quarantine are the same.
    """
    try:
        source = as_source(path, remote)
    except SourceError as error:
        raise TicFileError(str(error)) from None
    name = source_name or source.name
    policy = remote if remote is not None else (source.policy if source.is_url or source.found_in else None)
    collector = _Collector(name=name, wanted=CodeFilter.parse(codes))
    listener = progress or _PROGRESS.get()
    stored = source.size

    def report(stats: StreamStats, finished: bool = False) -> None:
        if listener:
            listener(ReadProgress(name, stored, stats.raw_bytes, stats.json_bytes, collector.prices_found, finished))

    expect_gzip = source.file_name.lower().endswith(".gz")
    lease = tic_workers.acquire(limits or Limits()) if tic_workers.helpers_wanted(stored, helpers) else None
    leases = [lease] if lease is not None else []  # given back once the scan is over (or on failure)
    try:
        reader = _use_helpers(lease, collector, source, name, limits or Limits(), expect_gzip) if lease else None
        with gc_paused(), source.open(limits) as stream, collector.spill:
            stats = scan_document(
                stream,
                collector,
                name=name,
                limits=limits,
                progress=report,
                expect_gzip=expect_gzip,
                reader=reader,
                stored_bytes=stored,
            )
            collector.check_root()
            if leases:  # the rows are built without the helpers: their memory is freed first when there is much
                _release_helpers(leases, collector)
                tic_workers.give_back_freed_memory()  # the scan's buffer settings are not wanted while rows are built
                if batch_rows is not None and collector.prices_found > batch_rows:  # rows >= prices: many rows
                    tic_workers.stop_if_idle()
            rows = collector.finish(
                sha256=stats.sha256 or "",
                is_synthetic=is_synthetic,
                plans=tuple(plans) if plans is not None else source.plans,
                policy=policy,
                deduplicate=deduplicate,
            )
        report(stats, finished=True)
    except ScanError as error:
        raise TicFileError(str(error)) from None
    except SourceError as error:
        raise TicFileError(f"{name}: {error}" if name not in str(error) else str(error)) from None
    except OSError as error:
        raise TicFileError(f"{name}: cannot read ({error})") from None
    finally:
        _release_helpers(leases, collector)
    collector.release()
    if lease is not None:
        tic_workers.give_back_freed_memory()  # (done already unless the scan failed)
        if batch_rows is not None and rows.account.rows_loaded > batch_rows:
            tic_workers.stop_if_idle()  # building many rows takes seconds: the helpers' memory is better freed
    for batch in rows.results(batch_rows, tidy=tidy):
        yield batch
        del batch
        tic_workers.trim_freed_memory()


def _release_helpers(leases: list[tic_workers.HelperLease], collector: _Collector) -> None:
    """Give back the helpers of a read (once: ``leases`` is emptied), their scanner's batch pool closed."""
    while leases:
        with leases.pop():
            try:
                if collector.pool is not None:
                    collector.pool.close()
            except ScanError:  # the helper died; the error that stopped the read (if any) is what matters
                tic_workers.shutdown_after_failure()


def _use_helpers(
    lease: tic_workers.HelperLease, collector: _Collector, source: Source, name: str, limits: Limits, expect_gzip: bool
) -> Callable[[StreamStats], tic_workers.InflaterClient] | None:
    """Give in_network batches to the scanner helper; for a local file, also the reading and gunzip (the
    inflater helper opens the file itself). Returns the reader factory for scan_document (None: a reader thread)."""
    collector.pool = tic_workers.BatchScanner(lease.scanner, collector.wanted)
    if source.is_url or source.members:  # a download or a zip member is read by this process's reader thread
        return None

    def reader(stats: StreamStats) -> tic_workers.InflaterClient:
        return tic_workers.InflaterClient(
            lease.inflater, source.location, name=name, limits=limits, expect_gzip=expect_gzip, stats=stats
        )

    return reader


# ---------------------------------------------------------------------------------------------------------------------
# The scan: shapes of items and references (what msgspec builds for every element)


_REFERENCES = msgspec.json.Decoder(list[ReferenceShape])
_REFERENCE = msgspec.json.Decoder(ReferenceShape)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_LISTS = msgspec.json.Decoder(list[list[msgspec.Raw]])
_ANY = msgspec.json.Decoder()
_GROUP_ID_OF = attrgetter("provider_group_id")
_GROUPS_OF = attrgetter("provider_groups")


@dataclass
class _Kept:
    index: int
    offset: int  # absolute offset of the item in the JSON text
    spill_at: int
    size: int


class _Collector:
    """The document handler: root fields, kept items, reference table, counts of filtered rows."""

    def __init__(self, *, name: str, wanted: CodeFilter | None) -> None:
        self.name, self.wanted = name, wanted
        self.root_keys: list[str] = []
        self.fields: dict[str, Any] = {}
        self.in_network_is_array = False
        self.items_closed = False
        self.spill = tempfile.SpooledTemporaryFile(max_size=_SPILL_IN_MEMORY)  # noqa: SIM115 - closed by close()
        self.kept: list[_Kept] = []
        self.needed: set[Any] = set()  # reference ids the kept items use
        self.prices_found = 0
        self.filtered = FilteredRowCounter()
        self.table: dict[Any, tuple[int, int, int]] = {}  # reference id -> (groups, spilled batch, position)
        self.duplicates: set[Any] = set()
        self.batches: list[tuple[int, int]] = []  # spilled reference batches: (offset, size)
        self.pool: tic_workers.BatchScanner | None = None  # scans in_network batches in a helper process

    # -- DocumentHandler ---------------------------------------------------------------------------------------------

    def root_value(self, key: str, data: bytes, offset: int) -> None:
        self.root_keys.append(key)
        if key in _ROOT_FIELDS:
            value = self._loads(data, f"root value {key!r}", offset)
            if not isinstance(value, (dict, list)):
                self.fields[key] = value

    def root_array(self, key: str):
        self.root_keys.append(key)
        if key == "in_network":
            self.in_network_is_array = True
            return _ItemArray(self)
        if key == "provider_references":
            return _ReferenceArray(self)
        if key == "reporting_structure":
            raise TableOfContentsFound(
                f"{self.name}: a table of contents (reporting_structure), not an in-network file"
            )
        return _SkipArray()

    # -- used by the array handlers ----------------------------------------------------------------------------------

    def keep(self, index: int, data: bytes, offset: int, prices: int, reference_ids: Iterable[Any]) -> None:
        """Spill a wanted item; note its prices (progress) and the reference ids it uses."""
        at = self.spill.tell()
        self.spill.write(data)
        self.kept.append(_Kept(index, offset, at, len(data)))
        self.prices_found += prices
        self.needed.update(reference_ids)

    def store_batch(self, data: bytes) -> int:
        at = self.spill.tell()
        self.spill.write(data)
        self.batches.append((at, len(data)))
        return len(self.batches) - 1

    def register_many(self, keys: list[Any], groups: list[int], places: list[tuple[int, int]]) -> None:
        """:meth:`register` for a whole batch (dict operations in C)."""
        entries = {key: (count or 1, batch, position) for key, count, (batch, position) in zip(keys, groups, places)}
        entries.pop(None, None)
        if len(entries) != len(keys) - keys.count(None):
            self.duplicates.update(key for key, seen in Counter(keys).items() if seen > 1 and key is not None)
        clash = entries.keys() & self.table.keys()
        if clash:
            self.duplicates |= clash
            for key in clash:
                del entries[key]
        self.table.update(entries)

    def register(self, key: Any, groups: int, batch: int, position: int) -> None:
        if key is None:
            return  # cannot be referenced; rates pointing at it are quarantined as provider_reference_missing
        if key in self.table:
            self.duplicates.add(key)
            return
        self.table[key] = (groups or 1, batch, position)

    def check_root(self) -> None:
        if "in_network" not in self.root_keys:
            found = ", ".join(self.root_keys[:20]) or "none"
            raise TicFileError(f"{self.name}: no 'in_network' key at the root (root keys found: {found})")
        if not self.in_network_is_array:
            raise TicFileError(f"{self.name}: root 'in_network' is not an array")
        if _text(self.fields.get("reporting_entity_name")) is None and _text(self.fields.get("issuer_name")) is None:
            raise TicFileError(f"{self.name}: no reporting_entity_name (nor issuer_name) at the root")

    def release(self) -> None:
        """Forget the scan's tables once the rows are prepared (they are not needed to build them)."""
        self.kept = []
        self._forget_references()

    def _forget_references(self) -> None:
        """Forget the reference table and the filtered-row counts (~100 bytes per root reference id, 8 per integer
        id up to the largest: ~60 MB for 300,000 references) once the kept items' references are decoded."""
        self.needed, self.table, self.batches = set(), {}, []
        self.duplicates = set()
        self.filtered = FilteredRowCounter()

    # -- after the scan ----------------------------------------------------------------------------------------------

    def finish(
        self,
        *,
        sha256: str,
        is_synthetic: bool,
        plans: tuple[PlanInfo, ...],
        policy: RemotePolicy | None,
        deduplicate: bool,
    ) -> RowBuilder:
        """The kept items (decoded ~_DECODE_CHUNK_BYTES at a time, a larger one in pieces) read into a
        :class:`RowBuilder`, with the file's account complete (its ``results`` build the rows)."""
        root = Root(fields=self.fields)
        self._load_references(root, policy)
        filtered = self.filtered.total(self.table, self.duplicates)
        self._forget_references()  # what the rows need of them is in `root` now: freed before the items are decoded
        rows = RowBuilder(
            root=root,
            source_file=self.name,
            sha256=sha256,
            is_synthetic=is_synthetic,
            wanted=self.wanted,
            plans=plans,
            deduplicate=deduplicate,
        )
        for chunk in _chunks(self.kept, attrgetter("size")):
            for large, run in groupby(chunk, lambda kept: kept.size > _DECODE_CHUNK_BYTES):
                if large:  # alone in its chunk unless _chunks is told otherwise (tests)
                    for kept in run:
                        self._read_in_pieces(rows, kept, self._spilled(kept))
                    continue
                kept_run = list(run)
                raws = list(map(self._spilled, kept_run))
                places = [(f"in_network[{kept.index}]", kept.offset) for kept in kept_run]
                for kept, item in zip(kept_run, self._decode_many(raws, places, item_level=True)):
                    rows.read_item(kept.index, item)
            rows.compact()  # the chunk's prices into columns: the price table grows by ~100 bytes a price
        rows.account.rows_seen += filtered
        rows.account.rows_filtered_out += filtered
        return rows

    def _spilled(self, kept: _Kept) -> bytes:
        self.spill.seek(kept.spill_at)
        return self.spill.read(kept.size)

    def _read_in_pieces(self, rows: RowBuilder, kept: _Kept, text: bytes) -> None:
        """Read a large kept item with its ``negotiated_rates`` decoded ~_PIECE_BYTES of entries at a time (each
        piece's Python objects freed before the next is decoded), with the results of a whole-item decode.

        The whole item's ``json.loads`` with the duplicate-key hook names the first object, in the order objects
        close, that repeats a key. Here: a repeated key of the item itself (it closes last) leaves only the question
        which key to name, answered by checking its values in order; else the values before ``negotiated_rates``
        are checked first, then those after it, whose problem stands only if no entry of ``negotiated_rates``
        repeats a key (entries close first), then the entries, piece by piece, as they are read. A repeated key
        found in a piece after earlier pieces were read takes back what they added (:meth:`RowBuilder.rollback`);
        the item is then quarantined whole, as one row. An item that is not an object, whose text does not parse,
        or without a ``negotiated_rates`` array is decoded whole (the results and errors of a small item).
        """
        where, offset = f"in_network[{kept.index}]", kept.offset
        members = object_members(text)
        if members is None:
            self._read_whole(rows, kept, text)
            return
        keys = [_member_key(key) for key, _, _ in members]
        repeated = _first_repeated(keys)
        if repeated is not None:
            problem = self._first_duplicate(text, members, keys, where, offset)
            rows.read_item(kept.index, problem or _duplicate_key(repeated, where, offset))
            return
        number = keys.index("negotiated_rates") if "negotiated_rates" in keys else None
        raws = self._array_elements(text, members[number]) if number is not None else None
        if number is None or raws is None:
            self._read_whole(rows, kept, text)
            return
        before = self._decode_values(text, members[:number], keys[:number], where, offset)
        if isinstance(before, ItemProblem):
            rows.read_item(kept.index, before)
            return
        after = self._decode_values(text, members[number + 1 :], keys[number + 1 :], where, offset)
        if isinstance(after, ItemProblem):  # an entry of negotiated_rates that repeats a key closes before it
            problem = self._first_duplicate(text, [members[number]], [keys[number]], where, offset)
            rows.read_item(kept.index, problem or after)
            return
        item = dict(zip(keys, [*before, raws, *after]))
        mark = rows.mark()
        read = rows.start_item(kept.index, item, raws)
        read_bytes = 0  # since the price table was last moved into columns
        for first, size, piece in self._pieces(text, members[number], raws, where, offset):
            if isinstance(piece, ItemProblem):
                rows.rollback(mark)
                rows.read_item(kept.index, piece)
                return
            if read is not None:
                read(piece, first)
            del piece
            read_bytes += size
            if read_bytes >= _DECODE_CHUNK_BYTES:  # as often as for chunks of small items (each call costs)
                rows.compact()
                read_bytes = 0

    def _read_whole(self, rows: RowBuilder, kept: _Kept, text: bytes) -> None:
        (item,) = self._decode_many([text], [(f"in_network[{kept.index}]", kept.offset)], item_level=True)
        rows.read_item(kept.index, item)

    @staticmethod
    def _array_elements(text: bytes, member: tuple[bytes, int, int]) -> list[msgspec.Raw] | None:
        """The texts of the elements of a member's value, if it is an array."""
        _, start, end = member
        if text[start : start + 1] != b"[":
            return None
        try:
            return _RAW_LIST.decode(memoryview(text)[start:end])
        except (msgspec.MsgspecError, ValueError, RecursionError):
            return None

    def _pieces(
        self, text: bytes, member: tuple[bytes, int, int], raws: list[msgspec.Raw], where: str, offset: int
    ) -> Iterator[tuple[int, int, list[Any] | ItemProblem]]:
        """(index of the first, bytes, the decoded elements or the item's problem) for consecutive runs of about
        _PIECE_BYTES of an array's elements (``raws``; the array is ``member``'s value)."""
        _, start, end = member
        spans: list[tuple[int, int]] = []

        def place(first: int, number: int) -> tuple[str, int]:  # for an error message: where an element starts
            if not spans:
                spans.extend(element_spans(text[start:end], len(raws)))
            index = first + number
            return f"{where}.{_member_key(member[0])}[{index}]", offset + start + spans[index][0]

        first = 0
        for piece in _chunks(raws, len, _PIECE_BYTES):
            yield first, sum(map(len, piece)), self._decode_checked(piece, (where, offset), partial(place, first))
            first += len(piece)

    def _decode_values(
        self, text: bytes, members: list[tuple[bytes, int, int]], keys: list[str], where: str, offset: int
    ) -> list[Any] | ItemProblem:
        """The values of some members of an item (decoded together), or the item's problem."""
        view = memoryview(text)
        return self._decode_checked(
            [view[start:end] for _, start, end in members],
            (where, offset),
            lambda k: (f"{where}.{keys[k]}", offset + members[k][1]),
        )

    def _first_duplicate(
        self, text: bytes, members: list[tuple[bytes, int, int]], keys: list[str], where: str, offset: int
    ) -> ItemProblem | None:
        """The problem of the first object inside these members' values (in the order objects close) that repeats a
        key, or None; arrays are decoded piece by piece, nothing is kept."""
        for number, member in enumerate(members):
            raws = self._array_elements(text, member)
            if raws is None:
                found = self._decode_values(text, [member], [keys[number]], where, offset)
                if isinstance(found, ItemProblem):
                    return found
                continue
            for _, _, piece in self._pieces(text, member, raws, where, offset):
                if isinstance(piece, ItemProblem):
                    return piece
        return None

    def _decode_checked(
        self, raws: list, item: tuple[str, int | None], place: Callable[[int], tuple[str, int | None]]
    ) -> list[Any] | ItemProblem:
        """Elements of one item decoded as by :meth:`_decode_many`: the first that repeats a key gives the item's
        problem (``item``: where the item is and its offset); a decode error names the element (``place(k)``: its
        JSON path and offset)."""
        values = decode_elements(raws)
        if values is None:
            values = [ESCAPED] * len(raws)
        for number, value in enumerate(values):
            if value is ESCAPED:
                data = bytes(raws[number])
                try:
                    values[number] = json.loads(data, object_pairs_hook=_no_duplicate_keys)
                except _DuplicateKey as error:
                    return _duplicate_key(error.key, *item)
                except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                    self._loads(data, *place(number))  # raises the error a whole-item decode raises, for the element
                    raise
        return values

    def _load_references(self, root: Root, policy: RemotePolicy | None) -> None:
        """Decode the root provider references the kept items use (in file order), then fetch remote ones."""
        by_batch: dict[int, list[int]] = {}
        for key in self.needed:
            if key in self.duplicates:
                root.duplicate_ids.add(str(key))
                root.references[str(key)] = Reference([], None, None)
            elif key in self.table:
                _, batch, position = self.table[key]
                by_batch.setdefault(batch, []).append(position)
        for chunk in _chunks(sorted(by_batch.items()), lambda item: self.batches[item[0]][1]):
            texts = self._read_batches([batch for batch, _ in chunk])
            if len(texts) > 64:  # many small batches (one entry each after in_network): one call for all
                found = _RAW_LISTS.decode(b"[" + b",".join(texts) + b"]")
            else:
                found = list(map(_RAW_LIST.decode, texts))
            raws = [
                entries[position] for (_, positions), entries in zip(chunk, found) for position in sorted(positions)
            ]
            del found
            for piece in _chunks(raws, len, _PIECE_BYTES):  # their structs and NPI texts built a piece at a time
                if not root.add_encoded_references(piece):  # not the usual shape: decode with every check
                    for entry in self._decode_many(piece, [("a provider_references entry", None)] * len(piece)):
                        root.add_reference(entry)
        remote = [ref for ref in root.references.values() if ref.location and not ref.groups]
        if remote and policy is not None and policy.follow_provider_references:
            fetched: dict[str, Any] = {}
            for reference in remote:
                _fetch_reference(reference, policy, fetched)

    def _read_batches(self, numbers: list[int]) -> list[memoryview]:
        """The spilled bytes of reference batches (in spill order), adjacent ones read in one call."""
        spans: list[list] = []  # [offset, end, batch numbers]
        for number in numbers:
            offset, size = self.batches[number]
            if spans and spans[-1][1] == offset:
                spans[-1][1] = offset + size
                spans[-1][2].append(number)
            else:
                spans.append([offset, offset + size, [number]])
        parts = []
        for start, end, members in spans:
            self.spill.seek(start)
            data = memoryview(self.spill.read(end - start))
            for number in members:
                offset, size = self.batches[number]
                parts.append(data[offset - start : offset - start + size])
        return parts

    def _decode_many(self, raws: list, places: list[tuple[str, int | None]], *, item_level: bool = False) -> list[Any]:
        """Decode elements in one msgspec call when that is exact (see tic_rows.decode_elements), else like _loads.
        ``item_level``: a repeated key inside an element gives an :class:`ItemProblem` instead of failing the file."""
        values = decode_elements(raws)
        if values is None:
            values = [ESCAPED] * len(raws)
        return [
            self._loads(bytes(raw), where, offset, item_level=item_level) if value is ESCAPED else value
            for raw, (where, offset), value in zip(raws, places, values)
        ]

    def _loads(self, data: bytes, where: str, offset: int | None, *, item_level: bool = False) -> Any:
        """Decode one element with the standard library (it reports duplicate keys, msgspec keeps the last one)."""
        at = f" (starting at byte {offset:,})" if offset is not None else ""
        try:
            return json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as error:
            if item_level:
                return _duplicate_key(error.key, where, offset)
            raise TicFileError(
                f"{self.name}: duplicate key {error.key!r} in {where}{at}; the file is ambiguous"
            ) from None
        except UnicodeDecodeError as error:
            raise TicFileError(f"{self.name}: text is not UTF-8 in {where}{at} ({error})") from None
        except (ValueError, RecursionError) as error:
            raise TicFileError(f"{self.name}: cannot decode {where}{at} ({error})") from None


def _duplicate_key(key: str, where: str, offset: int | None) -> ItemProblem:
    """The problem of a kept item in which a key is repeated (the item at ``where``, starting at byte ``offset``)."""
    at = f" (starting at byte {offset:,})" if offset is not None else ""
    return ItemProblem(
        "duplicate_key",
        f"duplicate key {key!r} in {where}{at}; the item is ambiguous (which value holds?) and is not read",
    )


def _member_key(text: bytes) -> str:
    """A member's key (its JSON text) as ``json.loads`` gives it."""
    return text[1:-1].decode() if b"\\" not in text else json.loads(text)


def _first_repeated(keys: list[str]) -> str | None:
    """The key the duplicate-key hook names for an object with these keys in this order (the first one seen
    again), or None."""
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None


def _chunks(elements: list, size_of: Callable[[Any], int], limit: int = _DECODE_CHUNK_BYTES) -> Iterator[list]:
    """Consecutive runs of elements of at most ``limit`` bytes together (an element larger than that alone)."""
    chunk: list = []
    total = 0
    for element in elements:
        size = size_of(element)
        if chunk and total + size > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(element)
        total += size
    if chunk:
        yield chunk


class _ItemArray:
    """``in_network``: keep wanted items, count the rows of the others.

    A batch is scanned (:func:`~benchmark.ingest.tic.items.scan_item_batch`: pure, here or in a helper process)
    and then applied in file order (:meth:`apply`); single elements take the exact path (:meth:`element`).
    """

    def __init__(self, collector: _Collector) -> None:
        self.c = collector
        self.pool = collector.pool

    def scan(self, data: bytes | memoryview, separator: bytes | None) -> ItemBatchScan:
        return scan_item_batch(data, self.c.wanted, separator)

    def apply(self, scan: ItemBatchScan, first_index: int, offset: int, text: Callable[[slice], bytes]) -> int:
        """Use a batch's scan: ``offset`` is the absolute offset of the batch's first byte after ``[``;
        ``text(slice)`` returns bytes of the batch text (``[`` + elements + ``]``)."""
        self.c.filtered.absorb(scan.filtered)
        for kept in scan.kept:
            self.c.keep(
                first_index + kept.position,
                text(slice(kept.start, kept.end)),
                offset + kept.start - 1,
                kept.prices,
                kept.reference_ids,
            )
        return scan.count

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            shape = ITEM.decode(data)
        except (msgspec.MsgspecError, ValueError, RecursionError):
            shape = None
        if shape is not None:
            if self.c.wanted is None or self.c.wanted.matches(_text(shape.billing_code)):
                self.c.keep(index, data, offset, *shape_usage(shape))
            else:
                self.c.filtered.add_shapes([shape])
            return
        try:  # an odd shape (a string item, provider_groups as an object...): decode it as plain Python values
            item = _ANY.decode(data)
        except (msgspec.MsgspecError, ValueError) as error:
            raise ScanError(
                f"{self.c.name}: in_network[{index}] cannot be decoded ({error}) at byte {offset:,}"
            ) from None
        if not isinstance(item, dict):
            self.c.keep(index, data, offset, 0, ())
        elif self.c.wanted is None or self.c.wanted.matches(_text(item.get("billing_code"))):
            rates = item.get("negotiated_rates")
            rates = [rate for rate in rates if isinstance(rate, dict)] if isinstance(rates, list) else []
            prices = sum(len(r.get("negotiated_prices") or ()) for r in rates)
            ids = [_reference_id(ref) for rate in rates for ref in _references_in(rate.get("provider_references"))]
            self.c.keep(index, data, offset, prices, ids)
        else:
            self.c.filtered.add_item(item)

    def close(self, count: int) -> None:
        self.c.items_closed = True


def _references_in(value: Any) -> list:
    """A ``provider_references`` value as a list of ids (a scalar is one id; null none)."""
    return [] if value is None else value if isinstance(value, list) else [value]


class _ReferenceArray:
    """Root ``provider_references``: an id table; entries spilled (or, after in_network, only the needed ones)."""

    def __init__(self, collector: _Collector) -> None:
        self.c = collector

    def batch(self, batch: Batch) -> int:
        shapes = _REFERENCES.decode(batch.data)
        c = self.c
        keys = list(map(_reference_id, map(_GROUP_ID_OF, shapes)))
        groups = list(map(len, map(_GROUPS_OF, shapes)))
        if not c.items_closed:  # kept items may need any of them later: spill the batch
            number = c.store_batch(batch.data)
            c.register_many(keys, groups, [(number, position) for position in range(len(keys))])
            return len(shapes)
        places = [(-1, 0)] * len(keys)  # after in_network: only the entries the kept items use are stored
        needed = [position for position, key in enumerate(keys) if key in c.needed and key not in c.table]
        if needed:  # stored together, as one batch of their own (their texts cut by msgspec: exact, one call)
            texts = _RAW_LIST.decode(batch.data)
            number = c.store_batch(b"[" + b",".join([texts[position] for position in needed]) + b"]")
            for stored, position in enumerate(needed):
                places[position] = (number, stored)
        c.register_many(keys, groups, places)
        return len(shapes)

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            shape = _REFERENCE.decode(data)
            key, groups = _reference_id(shape.provider_group_id), len(shape.provider_groups or ())
        except (msgspec.MsgspecError, ValueError, RecursionError):
            try:
                entry = _ANY.decode(data)
            except (msgspec.MsgspecError, ValueError) as error:
                raise ScanError(
                    f"{self.c.name}: provider_references[{index}] cannot be decoded ({error}) at byte {offset:,}"
                ) from None
            if not isinstance(entry, dict):
                return  # cannot be referenced
            found = entry.get("provider_groups")
            key, groups = _reference_id(entry.get("provider_group_id")), len(found) if isinstance(found, list) else 0
        number = self.c.store_batch(b"[" + data + b"]")
        self.c.register(key, groups, number, 0)

    def close(self, count: int) -> None:
        pass


class _SkipArray:
    """Any other root array: checked for syntax, not kept."""

    def batch(self, batch: Batch) -> int:
        return len(_RAW_LIST.decode(batch.data))

    def element(self, index: int, data: bytes, offset: int) -> None:
        pass

    def close(self, count: int) -> None:
        pass


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _fetch_reference(reference: Reference, policy: RemotePolicy, fetched: dict[str, Any]) -> None:
    """Fill a 1.x remote provider reference from its ``location`` (a provider-reference file)."""
    location = reference.location
    assert location is not None  # only references with a location are fetched
    if location not in fetched:
        try:
            fetched[location] = fetch_json(location, policy, max_bytes=policy.max_reference_file_bytes)
        except (SourceError, OSError, ValueError) as error:
            fetched[location] = error
    document = fetched[location]
    if isinstance(document, Exception):
        reference.fetch_error = str(document)
        return
    groups = document.get("provider_groups") if isinstance(document, dict) else None
    if not isinstance(groups, list):
        reference.fetch_error = "the provider-reference file has no provider_groups array"
        return
    reference.groups = [provider_of(g) if isinstance(g, dict) else None for g in groups]


# ---------------------------------------------------------------------------------------------------------------------
# Text and id helpers of the scan (tic_items')

_text = text_of
_ref_key = id_text
_reference_id = reference_id
