"""Write one source file's rows as Parquet parts of the store's layout, in a staging folder.

:func:`stage_file` is the unit of work of every ingest engine (the local loop and each Dask task run the same
function, which is why their results are identical): identify the file (sha256 and size of its bytes), skip it if
the store already holds that content for the requested codes, read it with its reader, and write the rates and
quarantined rows, chunk by chunk as the reader yields them, as Parquet parts under the run's staging folder. Nothing
written here is visible to readers until :meth:`benchmark.store.rate_store.Store.commit` records the file in the manifest; a
file that is rejected takes its parts with it, and a worker that dies leaves only staging files that the commit
never sees.

Each rates part holds one partition (source type, payer family, code prefix: Hive-style folder names, so those
two columns live in the path, not in the file), sorted by billing code, with the other columns of the rate schema
plus ``_part`` (the attempt's part id) and ``_row`` (the row's position in the reader's
output, so rows read back in the reader's order). A TiC in-network file is read in tidy form
(:class:`~benchmark.accounts.TidyRates`): its rate parts hold the narrow rows (``billing_code``, ``_price``,
``_group``, ``_prefix``, ``dedup_count``, ``_part``, ``_row``) in the same folders and order, and its price, group
and prefix tables are written once, with its last batch, under ``dimensions/`` (see
:mod:`benchmark.store.rate_store`).
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from benchmark.accounts import FileAccount, IngestResult, TidyRates
from benchmark.files import sha256_file
from benchmark.ingest.routing import read_file_in_batches
from benchmark.sources.http import redact
from benchmark.sources.source import local_path
from benchmark.store.rate_store import (
    ALL_CODES,
    CODE_PREFIX_LENGTH,
    DIMENSIONS_DIR,
    FAILED,
    GROUPS,
    LOADED,
    PART_COLUMN,
    PARTITION_COLUMNS,
    PREFIXES,
    PRICES,
    QUARANTINE_DIR,
    RATES_DIR,
    REJECTED,
    ROW_COLUMN,
    SKIPPED,
    FileOutcome,
    code_prefixes,
    codes_key,
    codes_of,
    covers,
    union_codes,
)

_log = logging.getLogger(__name__)

# A reader: (source, codes or None, is_synthetic=...) -> one IngestResult, or an iterable of them (chunks of one file).
Reader = Callable[..., IngestResult | Iterable[IngestResult]]
ROW_GROUP_SIZE = 128 * 1024  # rows; DuckDB skips whole row groups whose billing_code range excludes the code
# Hive folders source_type=/payer_family=/code_prefix=: those columns are kept in the path, not in the files.
_PARTITIONING = ds.partitioning(
    pa.schema([(name, pa.string()) for name in (*PARTITION_COLUMNS, "code_prefix")]), flavor="hive"
)


@dataclass(frozen=True)
class FileTask:
    """One source file to stage: where it is, what to keep, where the run's staging folder is.

    ``source`` is a local path (text), a URL, or a :class:`benchmark.sources.source.Source` as
    ``pipeline.expand_sources`` returns it (a zip member, or an in-network file listed by a table of contents: the
    object itself travels to the worker, with the plan metadata it carries).
    """

    source: Any
    codes: tuple[str, ...] | None
    staging: str
    is_synthetic: bool = False
    reader: Reader | None = None  # default: benchmark.ingest.routing.read_file
    prefix_length: int = CODE_PREFIX_LENGTH

    @property
    def codes_key(self) -> str:
        return codes_key(self.codes)

    @property
    def key(self) -> str:
        """The source as the manifest records it: an absolute local path, a URL or a ``zip://`` spec."""
        local = local_path(self.source)
        return str(local.resolve()) if local else redact(self.source)

    @property
    def name(self) -> str:
        """The name the reader writes to ``source_file``."""
        if hasattr(self.source, "name") and not isinstance(self.source, (str, Path)):
            return self.source.name
        local = local_path(self.source)
        return local.name if local else redact(self.source).rstrip("/").rsplit("/", 1)[-1]


def stage_file(task: FileTask, loaded: Mapping[str, str], loaded_sizes: Collection[int] | None = None) -> FileOutcome:
    """Read one file into staged parts (``loaded``: sha256 -> code filter already in the store).

    ``loaded_sizes``: the sizes of the files loaded in the store, when known. A local file of another size cannot be
    one of them, so it is not hashed before reading: its readers hash the bytes as they read them (the sha256 of the
    stored bytes, as :func:`benchmark.files.sha256_file` gives it), which is then its identity; other files (or
    ``None``) are hashed first, to skip them when already stored. Unexpected errors propagate (the engine retries
    the file, then records it as failed); a file its reader rejects comes back ``rejected`` with nothing staged.
    """
    before = _stat(task.source)  # taken before hashing: any change during hashing or reading shows after the read
    sha256: str | None
    size: int | None
    if before is not None and loaded_sizes is not None and before[2] not in loaded_sizes:
        sha256, size = None, before[2]  # not in the store: the reader's hash identifies it (read once, hashed once)
    else:
        sha256, size = _identify(task.source)
    wanted = task.codes_key
    if sha256 and covers(loaded.get(sha256), wanted):
        _log.info("%s: skipped, already in the store (same sha256, codes %s)", task.name, loaded[sha256])
        return _outcome(task, SKIPPED, sha256, size, codes=loaded[sha256])
    to_read = union_codes(loaded.get(sha256) if sha256 else None, wanted)
    part_id = f"{(sha256 or 'x' * 16)[:16]}-{uuid.uuid4().hex[:8]}"
    folder = Path(task.staging) / part_id
    accounts: dict[str, FileAccount] = {}
    rates_written = quarantine_written = 0
    with _BackgroundWrites() as writes:
        for chunk_number, chunk in enumerate(_chunks(task, codes_of(to_read))):
            if chunk.rejected:
                writes.wait()
                shutil.rmtree(folder, ignore_errors=True)
                reason = "; ".join(r.reason for r in chunk.rejected)
                return _outcome(task, REJECTED, sha256, size, reason=reason, codes=to_read)
            for account in chunk.accounts:
                _add_account(accounts, account)
            writes.submit(
                write_parts, chunk, folder, part_id, chunk_number, rates_written, quarantine_written, task.prefix_length
            )
            rates_written += len(chunk.rates) + (chunk.tidy.rows.num_rows if chunk.tidy is not None else 0)
            quarantine_written += len(chunk.quarantine)
            del chunk  # the writer holds it until written: at most two batches in memory (one written, one built)
    for account in accounts.values():
        account.check()
    if before is not None and _stat(task.source) != before:  # stored rows must come from the bytes hashed
        shutil.rmtree(folder, ignore_errors=True)
        reason = f"{task.name}: the file changed while it was read (size or modification time); read it again"
        return _outcome(task, REJECTED, None, None, reason=reason, codes=to_read)
    if not sha256:  # a remote source or a new size: identified by the reader's hash of the bytes it streamed
        sha256 = next((a.source_sha256 for a in accounts.values() if a.source_sha256), None)
        if sha256 is None and before is not None:  # a reader that gave no hash: hash the local file now
            sha256 = _identify(task.source)[0]
        if sha256 and covers(loaded.get(sha256), wanted):
            shutil.rmtree(folder, ignore_errors=True)
            _log.info("%s: skipped, already in the store (same sha256, codes %s)", task.name, loaded[sha256])
            return _outcome(task, SKIPPED, sha256, size, codes=loaded[sha256])
    outcome = _outcome(task, LOADED, sha256, size, codes=to_read, accounts=list(accounts.values()))
    outcome.part_id, outcome.staged = part_id, str(folder)
    outcome.rates_written, outcome.quarantine_written = rates_written, quarantine_written
    return outcome


class _BackgroundWrites:
    """Writes a file's chunks in one thread, in order, while the reader builds the next chunk (Parquet encoding and
    compression release the GIL: on 2 cores the writes overlap the reader's work instead of following it).

    :meth:`submit` first waits for the previous write (so at most one chunk is being written while the next is
    built) and re-raises its error; leaving the ``with`` block waits for the last write, an error included."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paybench-stage")
        self._pending: Future | None = None

    def __enter__(self) -> _BackgroundWrites:
        return self

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(function, *args)

    def wait(self) -> None:
        """Wait for the write under way (if any); its error is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:  # an error is on its way out: let the write end, keep the first error
                futures.wait([self._pending])
        finally:
            self._pool.shutdown(wait=True)


def stage_with_retries(
    task: FileTask, loaded: Mapping[str, str], retries: int = 2, loaded_sizes: Collection[int] | None = None
) -> FileOutcome:
    """:func:`stage_file`, tried ``1 + retries`` times; the last error makes a ``failed`` outcome."""
    for attempt in range(1, retries + 2):
        try:
            outcome = stage_file(task, loaded, loaded_sizes)
            outcome.attempts = attempt
            return outcome
        except Exception as error:
            last = error
            if attempt <= retries:
                _log.info("%s: attempt %d failed (%s: %s); retrying", task.name, attempt, type(error).__name__, error)
    _log.info("%s: failed after %d attempt(s): %s: %s", task.name, retries + 1, type(last).__name__, last)
    return failed_outcome(task, last, retries + 1)


def failed_outcome(task: FileTask, error: BaseException, attempts: int) -> FileOutcome:
    """The outcome of a file whose every attempt raised (or whose worker died)."""
    reason = f"{type(error).__name__}: {redact(error)} (after {attempts} attempt{'s' if attempts > 1 else ''})"
    outcome = _outcome(task, FAILED, None, None, reason=reason)
    outcome.attempts = attempts
    return outcome


def write_parts(
    chunk: IngestResult,
    folder: Path,
    part_id: str,
    chunk_number: int,
    rate_offset: int = 0,
    quarantine_offset: int = 0,
    prefix_length: int = CODE_PREFIX_LENGTH,
) -> list[Path]:
    """Write one chunk's rates (per partition, sorted by code) and quarantine under ``folder``; the files written."""
    stem = f"{part_id}-{chunk_number:05d}"
    rates = chunk.rates
    if len(rates):
        table = pa.Table.from_pandas(rates, preserve_index=False)  # Arrow-backed columns: no copy of their data
        _write_rate_table(table, rates["billing_code"], folder, part_id, stem, rate_offset, prefix_length)
    if chunk.tidy is not None:
        _write_tidy(chunk.tidy, folder, part_id, stem, rate_offset, prefix_length)
    quarantine = chunk.quarantine
    if len(quarantine):
        quarantine = quarantine.assign(
            **{
                PART_COLUMN: part_id,
                ROW_COLUMN: np.arange(quarantine_offset, quarantine_offset + len(quarantine), dtype="int64"),
            }
        )
        path = folder / QUARANTINE_DIR / f"{stem}-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(quarantine, preserve_index=False), path, compression="zstd")
    return sorted(p for p in folder.rglob(f"{stem}-*.parquet"))


def _write_tidy(tidy: TidyRates, folder: Path, part_id: str, stem: str, rate_offset: int, prefix_length: int) -> None:
    """A tidy batch: its rows as rate parts (the layout of wide rows: partition folders, sorted by code, ``_part``
    and ``_row``), and the file's price, group and prefix tables once (with its last batch) under
    ``dimensions/<table>/``, each with ``_part``."""
    rows = tidy.rows
    if rows.num_rows:
        for name, value in tidy.partition.items():
            rows = rows.append_column(name, pa.repeat(pa.scalar(value, pa.string()), rows.num_rows))
        codes = rows["billing_code"].to_pandas()
        _write_rate_table(rows, codes, folder, part_id, stem, rate_offset, prefix_length)
    for name, table in ((PRICES, tidy.prices), (GROUPS, tidy.groups), (PREFIXES, tidy.prefixes)):
        if table is not None:
            path = folder / DIMENSIONS_DIR / name / f"{stem}-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            part = pa.repeat(pa.scalar(part_id, pa.string()), table.num_rows).dictionary_encode()
            pq.write_table(table.add_column(0, PART_COLUMN, part), path, compression="zstd")


def _write_rate_table(
    table: pa.Table, codes: pd.Series, folder: Path, part_id: str, stem: str, rate_offset: int, prefix_length: int
) -> None:
    """Rate rows (wide or tidy; ``codes``: their billing codes) with ``_part`` and ``_row``, per partition, sorted by
    code, under ``folder/rates``."""
    rows = table.num_rows
    table = (
        table.append_column(PART_COLUMN, pa.repeat(pa.scalar(part_id, pa.string()), rows).dictionary_encode())
        .append_column(ROW_COLUMN, pa.array(np.arange(rate_offset, rate_offset + rows, dtype="int64")))
        .append_column("code_prefix", _code_prefixes(codes, prefix_length))
    )
    unsorted = not pc.all(pc.greater_equal(table["billing_code"][1:], table["billing_code"][:-1])).as_py()
    if not _write_runs(_sorted_by_code(table) if unsorted else table, folder / RATES_DIR, stem):
        ds.write_dataset(  # one chunk in (the row sort's): one row group per file, as it has always written
            table.sort_by([("billing_code", "ascending")]) if unsorted else table,
            folder / RATES_DIR,
            format="parquet",
            partitioning=_PARTITIONING,
            basename_template=stem + "-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            preserve_order=True,
            max_partitions=1_000_000,
            max_rows_per_group=ROW_GROUP_SIZE,
            file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        )


# --------------------------------------------------------------------------------------------------- helpers
_SAFE_FOLDER_VALUE = re.compile(r"[0-9A-Za-z_]+")
_MAX_RUNS = 4096  # runs of equal codes in a chunk above which it is sorted row by row


def _code_prefixes(codes: pd.Series, length: int) -> pa.Array:
    """:func:`code_prefixes` of a column, computed once per distinct code (a chunk holds few distinct codes)."""
    numbers, distinct = pd.factorize(codes)
    if (numbers < 0).any():  # a missing code: computed row by row, as code_prefixes does
        return pa.array(code_prefixes(codes, length), pa.string())
    prefixes = pa.array(code_prefixes(pd.Series(distinct, dtype=codes.dtype), length), pa.string())
    return prefixes.take(pa.array(numbers))


def _sorted_by_code(table: pa.Table) -> pa.Table:
    """``table.sort_by("billing_code")`` (a stable sort) without copying the rows when they come in few runs of equal
    codes (a reader's chunk: one item's rows share its code): the runs' slices in the stable order of their codes.
    Python orders text by code point and Arrow by UTF-8 bytes: the same order."""
    codes = table["billing_code"]
    rows = table.num_rows
    if codes.null_count or rows < 2:
        return table.sort_by([("billing_code", "ascending")])
    change = pc.not_equal(codes.slice(1), codes.slice(0, rows - 1)).to_numpy(zero_copy_only=False)
    starts = np.concatenate(([0], np.flatnonzero(change) + 1))
    if len(starts) > _MAX_RUNS:
        return table.sort_by([("billing_code", "ascending")])
    ends = [*starts[1:].tolist(), rows]
    run_codes = codes.take(pa.array(starts)).to_pylist()
    order = sorted(range(len(starts)), key=run_codes.__getitem__)  # sorted() is stable
    return pa.concat_tables([table.slice(int(starts[i]), ends[i] - int(starts[i])) for i in order])


def _write_runs(table: pa.Table, base: Path, stem: str) -> bool:
    """Write ``table`` (sorted by billing code) as ``ds.write_dataset`` with the Hive partitioning above writes it
    (one file ``<stem>-0.parquet`` per partition folder, the partition columns left out of the file, rows in order)
    when each partition's rows are one run of consecutive rows: the usual case, since the code prefix follows the
    sorted codes and a file has one source type and payer family. ``pq.write_table`` on each run's slice costs a
    third of ``write_dataset`` (~0.1 s instead of ~0.3 s of CPU per batch of 65,536 rows). Returns False, having
    written nothing, when a partition is split in several runs or a folder value is not plain letters, digits and
    ``_`` (write_dataset then writes it, escaping values as it does)."""
    keys = [*PARTITION_COLUMNS, "code_prefix"]
    rows = table.num_rows
    change = np.zeros(rows, bool)
    change[0] = True
    for name in keys:
        values = table[name]
        if values.null_count:
            return False
        if rows > 1:
            change[1:] |= pc.not_equal(values.slice(1), values.slice(0, rows - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(change)
    ends = [*starts[1:].tolist(), rows]
    folders: list[str] = []
    seen: set[str] = set()
    for values in zip(*(table[name].take(starts).to_pylist() for name in keys)):  # each run's first row
        if not all(isinstance(value, str) and _SAFE_FOLDER_VALUE.fullmatch(value) for value in values):
            return False
        folder = "/".join(f"{name}={value}" for name, value in zip(keys, values))
        if folder in seen:
            return False  # a partition in several runs
        seen.add(folder)
        folders.append(folder)
    data = table.drop_columns(keys)
    for folder, start, end in zip(folders, starts.tolist(), ends):
        path = base / folder / f"{stem}-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data.slice(start, end - start), path, compression="zstd", row_group_size=ROW_GROUP_SIZE)
    return True


def _identify(source: Any) -> tuple[str | None, int | None]:
    """sha256 and size of a local file's bytes; (None, None) for others (the reader's hash identifies them)."""
    path = local_path(source)
    if path is None or getattr(source, "problem", None):  # a source rejected while expanding is never opened
        return None, None
    return sha256_file(path), path.stat().st_size


def _stat(source: Any) -> tuple[int, int, int, int] | None:
    """Identity of a local file's current bytes as the file system tells it (device, inode, size, mtime in ns)."""
    path = local_path(source)
    if path is None or getattr(source, "problem", None):
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _chunks(task: FileTask, codes: list[str] | None) -> Iterable[IngestResult]:
    source = task.source if not isinstance(task.source, str) or local_path(task.source) is None else Path(task.source)
    if task.reader is None:  # a large TiC file comes in batches of bounded size, its rows tidy
        return read_file_in_batches(source, codes, is_synthetic=task.is_synthetic, tidy=True)
    result = task.reader(source, codes, is_synthetic=task.is_synthetic)
    return [result] if isinstance(result, IngestResult) else result


def _add_account(accounts: dict[str, FileAccount], account: FileAccount) -> None:
    known = accounts.get(account.source_file)
    if known is None:
        accounts[account.source_file] = FileAccount(**vars(account))
        return
    for name in ("rows_seen", "rows_loaded", "rows_quarantined", "rows_filtered_out", "rows_deduplicated"):
        setattr(known, name, getattr(known, name) + getattr(account, name))
    known.file_date = known.file_date or account.file_date


def _outcome(
    task: FileTask,
    status: str,
    sha256: str | None,
    size: int | None,
    *,
    reason: str | None = None,
    codes: str | None = None,
    accounts: list[FileAccount] | None = None,
) -> FileOutcome:
    name = accounts[0].source_file if accounts else task.name
    return FileOutcome(
        source=task.key,
        source_file=name,
        status=status,
        sha256=sha256,
        size_bytes=size,
        reason=reason,
        codes=codes or task.codes_key or ALL_CODES,
        accounts=accounts or [],
        is_synthetic=task.is_synthetic,
    )
