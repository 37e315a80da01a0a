"""The rate store: normalized rows as a partitioned Parquet dataset, a manifest of ingested files, DuckDB to query it.

One store is one folder::

    store.json                       what this folder is: layout version, code-prefix length
    manifest.parquet                 one row per ingested file (ManifestSchema): the commit point
    rates/source_type=<tic|hospital>/payer_family=<family>/code_prefix=<first 3 chars>/<part_id>-<chunk>-<n>.parquet
                                     (Hive layout: those three values are in the path, not in the files)
    dimensions/<prices|groups|prefixes>/<part_id>-<chunk>-0.parquet
                                     the tables of a part holding tidy TiC rows (one of each per part)
    quarantine/<part_id>-<chunk>-0.parquet
    _staging/<run_id>/...            work in progress of a running ingest (never read)

Rules that make it safe and cheap to read:

- **Visibility by manifest.** Every Parquet row carries ``_part`` (the id of the attempt that wrote it) and ``_row``
  (its position in the reader's output). A row is visible only when its ``_part`` is the committed part of a
  ``loaded`` manifest entry. Ingest writes parts into ``_staging``, moves them into the tree and then replaces
  ``manifest.parquet`` in one rename (under a lock): a run or worker that dies before that leaves nothing visible,
  and :meth:`Store.vacuum` deletes what it left.
- **Concurrent writers and readers.** A commit re-reads the manifest under the lock (``.lock``), so commits are
  serializable; one that would replace a part a concurrent run committed for other codes is refused
  (``conflict``) and the ingest reads that file again for the union. Readers work on a :meth:`Store.snapshot`: the
  manifest they read and its parts, which nothing deletes while they hold ``.readers.lock`` shared (replaced parts
  are deleted by the commit when no reader is active, else by :meth:`Store.vacuum`). Creating a store takes the
  lock too, so concurrent creations of one new store all succeed, and a creation killed before its manifest is
  finished by the next one. :meth:`Store.verify` checks the manifest against the parts.
- **Idempotent and incremental.** A file is identified by the sha256 of its bytes. A file whose content is already
  loaded with a code filter that covers the requested one adds nothing; one loaded for fewer codes is read again
  for the union of both and its old part is replaced. Rejected and failed files are retried by the next run.
- **Per-code reads.** Parts are partitioned by source type, payer family and code prefix and sorted by code, so a
  per-code read opens only the folders of that code's prefix and DuckDB skips row groups of other codes.
  :mod:`benchmark.analysis.benchmark_sql` pushes the benchmark's filter, geography fill, deduplication and Medicare
  join down to DuckDB over :meth:`Store.connect`, so a store gives the same numbers as the in-memory path.
- **Wide and tidy rows.** A hospital file's rate parts hold wide rows (every column of the rate schema). A TiC
  file's (layout 2) hold tidy rows: ``billing_code``, ``_price``, ``_group``, ``_prefix`` (rows of the part's
  ``prices`` and ``groups`` tables and of its ``prefixes``) and ``dedup_count``; ``prices`` holds each price's rate
  columns (the file's constants included) and ``price_locator``, ``groups`` the group columns (network name, NPIs,
  TIN, name) and ``locator_suffix``. :func:`rates_relation` joins them back into wide rows (``source_locator`` =
  price_locator || prefix || locator_suffix) and unions them with wide parts: the one relation every read uses
  (:meth:`Store.read_rates`, :mod:`benchmark.analysis.benchmark_sql`, the ``rates`` view of :meth:`Store.connect`).
  A part is tidy when it has dimension tables. Stores of layout 1 (wide TiC rows) read unchanged; their first
  commit of a new part records layout 2 in ``store.json``, which older versions refuse instead of misreading.
- Rows keep the rate schema; columns added to :class:`~benchmark.schema.RateSchema` later read back as empty in
  older parts (``union_by_name``). ``schema_version`` in the manifest is a fingerprint of the schema a part used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pyarrow.parquet as pq
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import config
from benchmark.accounts import GROUP_KEY, PREFIX_KEY, PRICE_KEY, FileAccount, RejectedFile
from benchmark.errors import ParameterError, PaybenchError
from benchmark.files import atomic_write_text
from benchmark.schema import (
    RATE_COLUMNS,
    FileAccountSchema,
    QuarantineSchema,
    RateSchema,
    check_built,
    check_built_rates,
    empty_quarantine,
    empty_rates,
    empty_table,
    rows_balance,
)
from benchmark.sources.http import redact

MANIFEST = config.STORE_MANIFEST
STORE_INFO = "store.json"
RATES_DIR = "rates"
QUARANTINE_DIR = "quarantine"
DIMENSIONS_DIR = "dimensions"  # the price, group and prefix tables of parts holding tidy TiC rows
PRICES, GROUPS, PREFIXES = "prices", "groups", "prefixes"
STAGING_DIR = "_staging"
LAYOUT_VERSION = 2  # 2: TiC rows tidy (rates + dimensions); 1 (wide rows only) is read as well
CODE_PREFIX_LENGTH = 3
ALL_CODES = "*"  # the ``codes`` value of a file read without a code filter

LOADED = "loaded"
REJECTED = "rejected"
FAILED = "failed"
SKIPPED = "skipped"  # an outcome only: the file was already in the store; never a manifest status
CONFLICT = "conflict"  # an outcome only: a concurrent commit stored the file for other codes; read it again

PART_COLUMN = "_part"
ROW_COLUMN = "_row"
PARTITION_COLUMNS = ("source_type", "payer_family")  # in folder names only (Hive layout), as is code_prefix
# How DuckDB reads the rate parts: partition values from the path, as text; columns added later read as NULL.
READ_RATES_OPTIONS = (
    "hive_partitioning=true, union_by_name=true, "
    "hive_types={'source_type': VARCHAR, 'payer_family': VARCHAR, 'code_prefix': VARCHAR}"
)
READERS_LOCK = ".readers.lock"  # shared by readers of a snapshot; deleting parts needs it alone
# Names the ingest gives part files: <part_id>-<chunk>-<n>.parquet, part_id = <sha256[:16] or x...>-<8 hex>.
PART_FILE = re.compile(r"^(?P<part>[0-9a-fx]{16}-[0-9a-f]{8})-\d{5}-\d+\.parquet$")
_ACCOUNT_COLUMNS = ["rows_seen", "rows_loaded", "rows_quarantined", "rows_filtered_out", "rows_deduplicated"]


class StoreError(PaybenchError, ValueError):
    """A folder that is not a store, or a store this version cannot read."""


class StoreFolderError(StoreError, ParameterError):
    """An output folder that is neither a store nor empty: the tool does not write into what it did not make."""


class ManifestSchema(pa.DataFrameModel):
    """One ingested source file: identity, outcome, row account and the part that holds its rows."""

    seq: Series[int] = pa.Field(ge=0, description="commit order; rows read back in (seq, _row) order")
    source_path: Series[str] = pa.Field(description="the path or URL as given to the ingest")
    source_file: Series[str] = pa.Field(description="the name the rows carry in source_file")
    sha256: Series[str] = pa.Field(nullable=True, str_matches=r"^[0-9a-f]{64}$")
    size_bytes: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    status: Series[str] = pa.Field(isin=[LOADED, REJECTED, FAILED])
    reason: Series[str] = pa.Field(nullable=True)
    codes: Series[str] = pa.Field(description="'*' (all codes) or the pipe-joined code filter it was read with")
    rows_seen: Series[int] = pa.Field(ge=0)
    rows_loaded: Series[int] = pa.Field(ge=0)
    rows_quarantined: Series[int] = pa.Field(ge=0)
    rows_filtered_out: Series[int] = pa.Field(ge=0)
    rows_deduplicated: Series[int] = pa.Field(ge=0)
    file_date: Series[str] = pa.Field(nullable=True, description="the date the file declares (last_updated_on)")
    part_id: Series[str] = pa.Field(nullable=True, description="committed part of a loaded file")
    schema_version: Series[str]
    is_synthetic: Series[bool]
    ingested_at: Series[str] = pa.Field(description="ISO 8601, UTC")
    run_id: Series[str]
    engine: Series[str]

    class Config:
        strict = True
        coerce = True
        ordered = True

    @pa.dataframe_check
    @classmethod
    def rows_balance(cls, df: pd.DataFrame) -> Series[bool]:
        return rows_balance(df)


MANIFEST_COLUMNS: list[str] = list(ManifestSchema.to_schema().columns)


@dataclass
class FileOutcome:
    """What ingesting one source file did (returned by a worker, committed by :meth:`Store.commit`)."""

    source: str
    source_file: str
    status: str
    sha256: str | None = None
    size_bytes: int | None = None
    reason: str | None = None
    codes: str = ALL_CODES
    accounts: list[FileAccount] = field(default_factory=list)
    part_id: str | None = None
    staged: str | None = None  # folder holding this attempt's parts until commit
    rates_written: int = 0
    quarantine_written: int = 0
    is_synthetic: bool = False
    attempts: int = 1

    def account(self) -> dict[str, int | str | None]:
        """The file's row account, summed over the reader's accounts (zeros for a file that was not read), and the
        date the file declares (None when it declares none)."""
        account: dict[str, int | str | None] = {
            name: sum(getattr(a, name) for a in self.accounts) for name in _ACCOUNT_COLUMNS
        }
        account["file_date"] = next((a.file_date for a in self.accounts if a.file_date), None)
        return account


@dataclass(frozen=True)
class CommitSummary:
    """What one commit changed in the manifest."""

    loaded: int
    replaced: int
    rejected: int
    failed: int
    already_stored: int


def is_store(path: str | Path) -> bool:
    """A store is a folder with a manifest."""
    try:
        return (Path(path) / MANIFEST).is_file()
    except (TypeError, OSError):
        return False


def check_store_folder(root: str | Path) -> None:
    """Raise :class:`StoreFolderError` unless ``root`` is a store, missing, empty, or a store whose creation was
    killed before its manifest was written (only ``store.json`` and hidden lock files: it is finished on open)."""
    root = Path(root)
    if is_store(root) or not (root.exists() or root.is_symlink()):
        return
    if not root.is_dir():
        raise StoreFolderError(f"{root}: exists and is not a folder; choose a new folder for the store")
    foreign = [p.name for p in root.iterdir() if not p.name.startswith(".") and p.name != STORE_INFO]
    if foreign or ((root / STORE_INFO).exists() and not _json_has(root / STORE_INFO, "format")):
        raise StoreFolderError(
            f"{root}: exists and is not an empty folder or a rate store (no {MANIFEST}); "
            "choose a new folder for the store"
        )


def open_store(root: str | Path, *, create: bool = False) -> Store:
    """The store at ``root``; with ``create`` an empty folder (or a missing one) becomes a new store."""
    return Store.open(root, create=create)


@lru_cache(maxsize=1)
def schema_version() -> str:
    """A fingerprint of the rate schema (names, types, nullability): changes whenever a column does."""
    columns = RateSchema.to_schema().columns
    text = json.dumps([[name, str(column.dtype), bool(column.nullable)] for name, column in columns.items()])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def codes_key(codes: Iterable[str] | None) -> str:
    """The manifest's ``codes`` value of a code filter."""
    if codes is None:
        return ALL_CODES
    return "|".join(sorted({str(c).strip() for c in codes}))


def codes_of(key: str) -> list[str] | None:
    """The code filter of a manifest ``codes`` value (None = all codes)."""
    return None if key == ALL_CODES else [c for c in key.split("|") if c]


def covers(stored: str | None, wanted: str) -> bool:
    """Whether rows read with filter ``stored`` include every row that filter ``wanted`` would read."""
    if stored is None:
        return False
    if stored == ALL_CODES:
        return True
    return wanted != ALL_CODES and set(codes_of(wanted) or []) <= set(codes_of(stored) or [])


def union_codes(a: str | None, b: str) -> str:
    """The filter that reads both ``a`` and ``b``."""
    if a is None:
        return b
    if ALL_CODES in (a, b):
        return ALL_CODES
    return codes_key([*(codes_of(a) or ()), *(codes_of(b) or ())])


def code_prefix(code: str, length: int = CODE_PREFIX_LENGTH) -> str:
    """The ``code_prefix`` partition value of a billing code (upper case; anything but letters and digits -> _)."""
    return re.sub(r"[^0-9A-Z]", "_", str(code).strip().upper()[:length]) or "_"


def code_prefixes(codes: pd.Series, length: int = CODE_PREFIX_LENGTH) -> pd.Series:
    """:func:`code_prefix` of every code of a column (vectorized)."""
    prefixes = codes.astype(str).str.strip().str.upper().str[:length].str.replace(r"[^0-9A-Z]", "_", regex=True)
    return prefixes.where(prefixes.str.len() > 0, "_")


@dataclass(frozen=True)
class Snapshot:
    """What :meth:`Store.snapshot` yields: a DuckDB connection and the committed part ids it sees."""

    con: Any  # duckdb.DuckDBPyConnection (duckdb is imported lazily)
    parts: frozenset[str]


# --------------------------------------------------------------------------------------------------- the store
class Store:
    """A rate store folder (see the module docstring for the layout and rules)."""

    def __init__(self, root: Path, prefix_length: int = CODE_PREFIX_LENGTH):
        self.root = root
        self.prefix_length = prefix_length

    @classmethod
    def open(cls, root: str | Path, *, create: bool = False) -> Store:
        root = Path(root)
        if is_store(root):
            return cls._existing(root)
        if not create:
            raise StoreError(f"{root}: not a rate store (no {MANIFEST})")
        check_store_folder(root)
        root.mkdir(parents=True, exist_ok=True)
        store = cls(root)
        with store._lock():  # concurrent creations of one new store: the first creates it, the others open it
            if is_store(root):
                return cls._existing(root)
            check_store_folder(root)
            info = {
                "format": "payer-benchmark rate store",
                "layout_version": LAYOUT_VERSION,
                "code_prefix_length": CODE_PREFIX_LENGTH,
                "created_at": _now(),
            }
            atomic_write_text(root / STORE_INFO, json.dumps(info, indent=2) + "\n")
            store._write_manifest(empty_table(ManifestSchema))  # the manifest makes the folder a store
        return store

    @classmethod
    def _existing(cls, root: Path) -> Store:
        info = json.loads((root / STORE_INFO).read_text()) if (root / STORE_INFO).is_file() else {}
        if info.get("layout_version", LAYOUT_VERSION) > LAYOUT_VERSION:
            raise StoreError(
                f"{root}: store layout version {info['layout_version']} is newer than this "
                f"version of payer-benchmark reads ({LAYOUT_VERSION})"
            )
        return cls(root, int(info.get("code_prefix_length", CODE_PREFIX_LENGTH)))

    # ----------------------------------------------------------------------------------------------- manifest
    def manifest(self) -> pd.DataFrame:
        """Every ingested file, in commit order (validated)."""
        # read through one open file: given a path, pyarrow opens it once for the footer and again for the data,
        # and a commit replacing the manifest in between pairs one file's footer with the other's pages
        with open(self.root / MANIFEST, "rb") as handle:
            return _manifest_frame(pd.read_parquet(handle))

    def loaded_codes(self) -> dict[str, str]:
        """sha256 -> code filter of every loaded file (what a new ingest may skip)."""
        return _loaded_codes(self.manifest())

    def loaded_files(self) -> tuple[dict[str, str], set[int] | None]:
        """:meth:`loaded_codes` and the sizes in bytes of every loaded file, None when some size is unknown (a file
        of another size is not in the store: no need to hash it before reading it, see
        :func:`benchmark.store.staging.stage_file`), from one read of the manifest (an ingest needs both)."""
        manifest = self.manifest()
        return _loaded_codes(manifest), _loaded_sizes(manifest)

    @property
    def is_synthetic(self) -> bool:
        """Whether any loaded file is synthetic (reports built from the store then carry the label)."""
        manifest = self.manifest()
        return bool(manifest.loc[manifest["status"].eq(LOADED), "is_synthetic"].any())

    def accounts(self) -> pd.DataFrame:
        """Per-file row accounts of the loaded files (FileAccountSchema)."""
        loaded = self.manifest()
        loaded = loaded[loaded["status"].eq(LOADED)]
        frame = loaded.rename(columns={"sha256": "source_sha256"})[list(FileAccountSchema.to_schema().columns)]
        return check_built(FileAccountSchema, frame.reset_index(drop=True))

    def rejected(self) -> list[RejectedFile]:
        """Files that were rejected or failed, with the reason."""
        manifest = self.manifest()
        bad = manifest[manifest["status"].ne(LOADED)]
        return [
            RejectedFile(redact(row.source_path), redact(f"{row.status}: {row.reason}")) for row in bad.itertuples()
        ]

    def coverage_gaps(self, codes: Iterable[str]) -> list[RejectedFile]:
        """Loaded files that were read with a code filter leaving out some of ``codes`` (their rows are missing)."""
        wanted = set(map(str, codes))
        gaps = []
        manifest = self.manifest()
        for row in manifest[manifest["status"].eq(LOADED)].itertuples():
            missing = sorted(wanted - set(codes_of(row.codes) or wanted))
            if missing:
                gaps.append(
                    RejectedFile(
                        redact(row.source_path),
                        f"ingested into the store for codes {row.codes} only; {', '.join(missing)} not read",
                    )
                )
        return gaps

    # ----------------------------------------------------------------------------------------------- reads
    def read_rates(
        self,
        codes: Iterable[str] | None = None,
        *,
        payer_families: Sequence[str] | None = None,
        source_types: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Committed rates (of ``codes``, payer families, source types), in ingest order, validated."""
        code_list = None if codes is None else sorted({str(c) for c in codes})
        where, params = _rate_filter(code_list, payer_families, source_types)
        with self.snapshot() as snap:
            files = self.rate_files(code_list, payer_families, source_types, committed=snap.parts)
            if not files:
                return empty_rates()
            frame = snap.con.execute(
                f"SELECT r.* EXCLUDE ({PART_COLUMN}, {ROW_COLUMN}) FROM ({rates_relation(files)}) r "
                f"JOIN committed c ON r.{PART_COLUMN} = c.part_id WHERE {where} ORDER BY c.seq, r.{ROW_COLUMN}",
                params,
            ).df()
        return check_built_rates(frame.reindex(columns=RATE_COLUMNS))

    def read_quarantine(self) -> pd.DataFrame:
        """Quarantined rows of the loaded files, in ingest order (QuarantineSchema)."""
        with self.snapshot() as snap:
            files = [
                str(p) for p in sorted((self.root / QUARANTINE_DIR).glob("*.parquet")) if _part_of(p.name) in snap.parts
            ]
            if not files:
                return empty_quarantine()
            frame = snap.con.execute(
                f"SELECT q.* EXCLUDE ({PART_COLUMN}, {ROW_COLUMN}) FROM read_parquet($files, union_by_name=true) q "
                f"JOIN committed c ON q.{PART_COLUMN} = c.part_id ORDER BY c.seq, q.{ROW_COLUMN}",
                {"files": files},
            ).df()
        columns = list(QuarantineSchema.to_schema().columns)
        return check_built(QuarantineSchema, frame.reindex(columns=columns))

    def part_files(
        self,
        codes: Sequence[str] | None = None,
        payer_families: Sequence[str] | None = None,
        source_types: Sequence[str] | None = None,
        *,
        committed: set[str] | frozenset[str] | None = None,
    ) -> list[str]:
        """Parquet files of the partitions that can hold these codes / families / source types (pruned by path),
        of committed parts only (``committed``: the part ids of the snapshot a :meth:`connect` reads; default the
        current manifest's)."""
        if committed is None:
            manifest = self.manifest()
            committed = set(manifest.loc[manifest["status"].eq(LOADED), "part_id"].dropna())
        base = self.root / RATES_DIR
        if not base.is_dir():
            return []
        types = [f"source_type={t}" for t in source_types] if source_types else ["source_type=*"]
        families = [f"payer_family={f}" for f in payer_families] if payer_families else ["payer_family=*"]
        prefixes = (
            sorted({f"code_prefix={code_prefix(c, self.prefix_length)}" for c in codes}) if codes else ["code_prefix=*"]
        )
        files: set[str] = set()
        for t in types:
            for f in families:
                for p in prefixes:
                    files.update(
                        str(path) for path in base.glob(f"{t}/{f}/{p}/*.parquet") if _part_of(path.name) in committed
                    )
        return sorted(files)

    def rate_files(
        self,
        codes: Sequence[str] | None = None,
        payer_families: Sequence[str] | None = None,
        source_types: Sequence[str] | None = None,
        *,
        committed: set[str] | frozenset[str] | None = None,
    ) -> RateFiles:
        """:meth:`part_files`, told apart: parts of wide rows, parts of tidy rows and the dimension tables of those
        parts (a part is tidy when it has a dimension table; :func:`rates_relation` reads them as one relation)."""
        files = self.part_files(codes, payer_families, source_types, committed=committed)
        tables = {
            name: {_part_of(p.name): str(p) for p in sorted((self.root / DIMENSIONS_DIR / name).glob("*.parquet"))}
            for name in (PRICES, GROUPS, PREFIXES)
        }
        with_tables = set().union(*tables.values())
        tidy = [f for f in files if _part_of(Path(f).name) in with_tables]
        parts = {_part_of(Path(f).name) for f in tidy}
        return RateFiles(
            wide=tuple(f for f in files if _part_of(Path(f).name) not in with_tables),
            tidy=tuple(tidy),
            **{name: tuple(path for part, path in found.items() if part in parts) for name, found in tables.items()},
        )

    # ----------------------------------------------------------------------------------------------- writes
    @contextmanager
    def staging(self, run_id: str | None = None) -> Iterator[Path]:
        """A staging folder for one ingest run, locked while the run is alive and removed when it ends."""
        run_id = run_id or new_run_id()
        folder = self.root / STAGING_DIR / run_id
        # created and its marker locked under the store's lock, which vacuum holds: another run's vacuum never sees
        # this folder without a locked marker (it would take it for a dead run's and delete it)
        with self._lock():
            folder.mkdir(parents=True, exist_ok=True)
            handle = open(folder / ".active", "w")  # noqa: SIM115 (closed by the with below)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except BaseException:
                handle.close()
                raise
        with handle:
            try:
                yield folder
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    def commit(self, outcomes: Sequence[FileOutcome], *, run_id: str, engine: str) -> CommitSummary:
        """Make the staged parts of loaded files visible and record every outcome, in one manifest replacement.

        The manifest is re-read under the store's lock, so commits are serializable. ``outcomes`` are taken in
        order (the order of the sources). A loaded file whose content is already stored with a covering code
        filter (read twice in one run, or by a concurrent run) is discarded and its outcome becomes ``skipped``.
        One read for a filter that covers the stored one replaces it. One whose filter neither covers nor is
        covered by what a concurrent run committed meanwhile (A stored F for 44320 while this run read F for
        44310) would lose rows: it is not committed, its outcome becomes ``conflict`` and the caller reads the
        file again for the union (:func:`benchmark.store.pipeline.ingest` does). Parts replaced are deleted after
        the manifest is written when no reader holds a snapshot (else :meth:`vacuum` deletes them later).
        """
        counts = dict(loaded=0, replaced=0, rejected=0, failed=0, already_stored=0)
        obsolete: list[str] = []
        published: list[str | None] = []
        with self._lock(), self._unpublish_on_error(published):
            manifest = self.manifest()
            seq = int(manifest["seq"].max()) + 1 if len(manifest) else 0
            now = _now()
            for outcome in outcomes:
                if outcome.status in (SKIPPED, CONFLICT):
                    counts["already_stored"] += outcome.status == SKIPPED
                    continue
                same_path = manifest["source_path"].eq(outcome.source)
                if outcome.status == LOADED:
                    same = manifest["status"].eq(LOADED) & manifest["sha256"].eq(outcome.sha256)
                    if same.any():
                        stored = manifest.loc[same, "codes"].iloc[0]
                        if covers(stored, outcome.codes):
                            _discard(outcome)
                            outcome.status = SKIPPED
                            counts["already_stored"] += 1
                            continue
                        if not covers(outcome.codes, stored):
                            _discard(outcome)
                            outcome.status = CONFLICT
                            outcome.codes = union_codes(stored, outcome.codes)
                            continue
                    # a wider re-read of the same content, or new content at the same path, replaces the old part
                    replaced = same | same_path
                    obsolete += list(manifest.loc[replaced, "part_id"].dropna())
                    counts["replaced" if (replaced & manifest["status"].eq(LOADED)).any() else "loaded"] += 1
                    published.append(outcome.part_id)
                    self._publish(outcome)
                    manifest = manifest[~replaced]
                else:  # a bad new version of a file does not remove the rows of its last good version
                    counts[outcome.status] += 1
                    manifest = manifest[~(same_path & manifest["status"].ne(LOADED))]
                manifest = pd.concat([manifest, _manifest_row(outcome, seq, now, run_id, engine)], ignore_index=True)
                seq += 1
            if any(published):
                self._upgrade_layout()  # before the manifest: older versions must not read tidy parts as wide
            self._write_manifest(manifest)
            published.clear()  # committed: from here on they are the store's
            if obsolete:
                with self._read_lock(exclusive=True, wait=False) as alone:
                    if alone:  # no reader holds a snapshot that may name these parts
                        for part_id in obsolete:
                            self._delete_part(part_id)
        return CommitSummary(**counts)

    def vacuum(self, *, parts: bool = True) -> list[Path]:
        """Delete what crashed runs left: staging folders of runs no longer alive, temporary manifests and (with
        ``parts``, which lists every file of the store and waits for readers to finish) part files no manifest
        entry names. Every ingest starts with ``vacuum(parts=False)``."""
        removed: list[Path] = []
        with self._lock():
            staging = self.root / STAGING_DIR
            for folder in sorted(staging.iterdir()) if staging.is_dir() else []:
                if _is_abandoned(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
            for temporary in self.root.glob(f".{MANIFEST}.*.tmp"):  # manifests are written under this lock
                temporary.unlink(missing_ok=True)
                removed.append(temporary)
            if not parts:
                return removed
            with self._read_lock(exclusive=True):
                committed = set(self.manifest()["part_id"].dropna())
                for path in self._all_part_files():
                    part = _part_of(path.name)
                    if part and part not in committed:
                        path.unlink()
                        removed.append(path)
        return removed

    def verify(self) -> list[str]:
        """Every problem of the store (empty when sound): the manifest's schema and row accounts, parts of loaded
        files that are missing or hold another number of rows than the manifest says, and leftovers
        (uncommitted parts, staging of dead runs, temporary manifests) that :meth:`vacuum` deletes."""
        problems: list[str] = []
        try:
            manifest = self.manifest()
        except Exception as error:  # any unreadable or invalid manifest is the finding
            return [f"{MANIFEST}: unreadable or invalid ({type(error).__name__}: {str(error).splitlines()[0]})"]
        with self._read_lock():
            counts: dict[tuple[str, str], int] = {}
            tables: dict[str, set[str]] = {}  # part -> the dimension tables it has
            tidy: dict[str, Path] = {}  # part -> a rate file of tidy rows
            leftovers = 0
            loaded = manifest[manifest["status"].eq(LOADED)]
            committed = set(loaded["part_id"].dropna())
            for path in self._all_part_files():
                part = _part_of(path.name)
                if part is None or part not in committed:
                    leftovers += 1
                    continue
                kind = QUARANTINE_DIR if path.is_relative_to(self.root / QUARANTINE_DIR) else RATES_DIR
                try:
                    metadata = pq.ParquetFile(path).metadata
                except Exception as error:  # a damaged part is a finding, whatever pyarrow raises
                    problems.append(f"{path.relative_to(self.root)}: unreadable part ({type(error).__name__})")
                    continue
                if path.is_relative_to(self.root / DIMENSIONS_DIR):
                    tables.setdefault(part, set()).add(path.parent.name)
                    continue
                if kind == RATES_DIR and PRICE_KEY in metadata.schema.names:
                    tidy.setdefault(part, path)
                counts[(part, kind)] = counts.get((part, kind), 0) + metadata.num_rows
            for part, path in tidy.items():
                missing = [name for name in (PRICES, GROUPS, PREFIXES) if name not in tables.get(part, set())]
                if missing:
                    problems.append(
                        f"{path.relative_to(self.root)}: part {part} holds tidy rows without its "
                        f"{', '.join(missing)} table{'s' if len(missing) > 1 else ''}"
                    )
            for row in loaded.itertuples():
                for kind, expected in ((RATES_DIR, row.rows_loaded), (QUARANTINE_DIR, row.rows_quarantined)):
                    found = counts.get((row.part_id, kind), 0)
                    if found != expected:
                        problems.append(
                            f"{row.source_file}: part {row.part_id} holds {found:,} {kind} rows, the manifest "
                            f"says {expected:,}"
                        )
        if leftovers:
            problems.append(f"{leftovers} part files of no loaded file (run `paybench store vacuum`)")
        staging = self.root / STAGING_DIR
        dead = [f for f in (sorted(staging.iterdir()) if staging.is_dir() else []) if _is_abandoned(f)]
        if dead:
            problems.append(f"{len(dead)} staging folders of runs that died (run `paybench store vacuum`)")
        temporaries = list(self.root.glob(f".{MANIFEST}.*.tmp"))
        if temporaries and self._lock_free():
            problems.append(f"{len(temporaries)} temporary manifests (run `paybench store vacuum`)")
        return problems

    def _all_part_files(self) -> list[Path]:
        return [p for base in self._part_folders() for p in sorted(base.rglob("*.parquet"))]

    def _part_folders(self) -> tuple[Path, ...]:
        """The folders holding part files: every file of a part is under one of them (``<part_id>-*.parquet``)."""
        return (self.root / RATES_DIR, self.root / QUARANTINE_DIR, self.root / DIMENSIONS_DIR)

    def _lock_free(self) -> bool:
        with open(self.root / ".lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
            return True

    # ----------------------------------------------------------------------------------------------- private
    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One consistent view of the store: a DuckDB connection with the table ``committed`` (part_id, seq) of
        the manifest read on entry, and that manifest's part ids. While it is open no part of the snapshot is
        deleted (a shared lock that commits and :meth:`vacuum` respect), so its files stay readable."""
        import duckdb

        with self._read_lock():
            con = duckdb.connect()
            try:
                manifest = self.manifest()
                committed = manifest.loc[manifest["status"].eq(LOADED), ["part_id", "seq"]].reset_index(drop=True)
                con.register("committed", committed.astype({"part_id": object, "seq": "int64"}))
                yield Snapshot(con, frozenset(committed["part_id"].dropna()))
            finally:
                con.close()

    @contextmanager
    def connect(self):
        """The DuckDB connection of a :meth:`snapshot`, with the view ``rates``: every committed rate row, wide (the
        rate columns, ``_part``, ``_row`` and ``code_prefix``; join ``committed`` on ``_part`` = ``part_id`` and
        order by ``seq, _row`` for the ingest order), when the store holds any."""
        with self.snapshot() as snap:
            files = self.rate_files(committed=snap.parts)
            if files:
                snap.con.execute(f"CREATE TEMP VIEW rates AS {rates_relation(files)}")
            yield snap.con

    @contextmanager
    def _read_lock(self, *, exclusive: bool = False, wait: bool = True):
        """Readers share it while they read parts; deleting parts needs it alone. Yields whether it is held
        (False: ``wait=False`` and readers hold it). A read-only store that has no lock file has no writers."""
        try:
            handle = open(self.root / READERS_LOCK, "a")  # noqa: SIM115 (closed by the with below)
        except OSError:
            try:  # a store this user may only read: a shared lock needs no write access
                handle = open(self.root / READERS_LOCK)  # noqa: SIM115
            except OSError:
                yield True
                return
        with handle:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle, mode)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _lock(self):
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _unpublish_on_error(self, published: list[str | None]):
        """A commit that fails before its manifest is written (a full disk) takes the parts it moved in with it."""
        try:
            yield
        except BaseException:
            for part_id in published:
                if part_id:
                    self._delete_part(part_id)
            raise

    def _publish(self, outcome: FileOutcome) -> None:
        """Move a loaded file's staged parts into the tree (not yet visible: the manifest is written after)."""
        if not outcome.staged:
            return
        staged = Path(outcome.staged)
        for kind in (RATES_DIR, QUARANTINE_DIR, DIMENSIONS_DIR):
            for path in sorted((staged / kind).rglob("*.parquet")):
                target = self.root / kind / path.relative_to(staged / kind)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
        shutil.rmtree(staged, ignore_errors=True)

    def _upgrade_layout(self) -> None:
        """Record this version's layout in ``store.json`` (a store made by an older version holds wide parts only,
        which this version reads; once it holds tidy parts, an older version must refuse it instead of misreading)."""
        path = self.root / STORE_INFO
        info = json.loads(path.read_text()) if path.is_file() else {}
        if info.get("layout_version", 1) < LAYOUT_VERSION:
            info["layout_version"] = LAYOUT_VERSION
            atomic_write_text(path, json.dumps(info, indent=2) + "\n")

    def _delete_part(self, part_id: str) -> None:
        for base in self._part_folders():
            for path in base.rglob(f"{part_id}-*.parquet") if base.is_dir() else []:
                path.unlink(missing_ok=True)

    def _write_manifest(self, manifest: pd.DataFrame) -> None:
        frame = check_built(ManifestSchema, manifest.reset_index(drop=True)[MANIFEST_COLUMNS])
        temporary = self.root / f".{MANIFEST}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            frame.to_parquet(temporary, index=False)
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, self.root / MANIFEST)  # the commit point
        except BaseException:  # a full disk or a kill: no temporary manifest left behind
            temporary.unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class RateFiles:
    """The Parquet files one read of rates uses (see :meth:`Store.rate_files`)."""

    wide: tuple[str, ...]  # rate parts of wide rows (hospital files; TiC files stored before layout 2)
    tidy: tuple[str, ...]  # rate parts of tidy TiC rows
    prices: tuple[str, ...]  # the dimension tables of the parts of ``tidy``
    groups: tuple[str, ...]
    prefixes: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.wide or self.tidy)


def rates_relation(files: RateFiles) -> str:
    """The SQL of one relation of wide rate rows over ``files``: wide parts as they are, UNION ALL BY NAME the tidy
    rows joined with their part's price, group and prefix tables, ``source_locator`` = the price's locator || the
    prefix || the group's suffix. Columns: those of the rate schema the parts hold (one a part lacks reads as NULL),
    ``_part``, ``_row`` and ``code_prefix``. Every tidy row is kept (left joins): a part's missing table gives NULLs,
    which the rate schema's checks refuse, and a table no part has an error, never fewer rows. ``files`` must not be
    empty."""
    selects = []
    if files.wide:
        selects.append(f"SELECT * FROM read_parquet({_sql_list(files.wide)}, {READ_RATES_OPTIONS})")
    if files.tidy:
        tables = "union_by_name=true"
        selects.append(
            f"""SELECT n.* EXCLUDE ({PRICE_KEY}, {GROUP_KEY}, {PREFIX_KEY}),
                   p.* EXCLUDE ({PART_COLUMN}, {PRICE_KEY}, price_locator),
                   g.* EXCLUDE ({PART_COLUMN}, {GROUP_KEY}, locator_suffix),
                   p.price_locator || x.prefix || g.locator_suffix AS source_locator
            FROM read_parquet({_sql_list(files.tidy)}, {READ_RATES_OPTIONS}) n
            LEFT JOIN read_parquet({_sql_list(files.prices)}, {tables}) p
              ON p.{PART_COLUMN} = n.{PART_COLUMN} AND p.{PRICE_KEY} = n.{PRICE_KEY}
            LEFT JOIN read_parquet({_sql_list(files.groups)}, {tables}) g
              ON g.{PART_COLUMN} = n.{PART_COLUMN} AND g.{GROUP_KEY} = n.{GROUP_KEY}
            LEFT JOIN read_parquet({_sql_list(files.prefixes)}, {tables}) x
              ON x.{PART_COLUMN} = n.{PART_COLUMN} AND x.{PREFIX_KEY} = n.{PREFIX_KEY}"""
        )
    if not selects:
        raise ValueError("rates_relation needs at least one rate file")
    return "\nUNION ALL BY NAME\n".join(selects)


def _sql_list(paths: Sequence[str]) -> str:
    """A SQL list literal of file paths (a view cannot take parameters)."""
    return "[" + ", ".join("'" + path.replace("'", "''") + "'" for path in paths) + "]"


def new_run_id() -> str:
    """A sortable, unique id of one ingest run."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def _rate_filter(
    codes: Sequence[str] | None, families: Sequence[str] | None, types: Sequence[str] | None
) -> tuple[str, dict]:
    clauses: list[str] = ["TRUE"]
    params: dict[str, object] = {}
    for column, values in (("billing_code", codes), ("payer_family", families), ("source_type", types)):
        if values:  # a list of parameters (not a subquery), so DuckDB can prune row groups by their statistics
            names = [f"{column}_{i}" for i in range(len(values))]
            clauses.append(f"r.{column} IN ({', '.join('$' + n for n in names)})")
            params.update(zip(names, map(str, values)))
    return " AND ".join(clauses), params


def _manifest_row(outcome: FileOutcome, seq: int, now: str, run_id: str, engine: str) -> pd.DataFrame:
    account = outcome.account()
    row = {
        "seq": seq,
        "source_path": redact(outcome.source),  # no credential or signed query string is ever stored
        "source_file": redact(outcome.source_file),
        "sha256": outcome.sha256,
        "size_bytes": outcome.size_bytes,
        "status": outcome.status,
        "reason": None if outcome.reason is None else redact(outcome.reason),
        "codes": outcome.codes,
        **account,
        "part_id": outcome.part_id if outcome.status == LOADED else None,
        "schema_version": schema_version(),
        "is_synthetic": outcome.is_synthetic,
        "ingested_at": now,
        "run_id": run_id,
        "engine": engine,
    }
    return check_built(ManifestSchema, pd.DataFrame([row], columns=MANIFEST_COLUMNS))


def _manifest_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A manifest as read, validated (one written before file dates were recorded gets an empty file_date)."""
    if "file_date" not in frame.columns:
        frame["file_date"] = None
    return check_built(ManifestSchema, frame[MANIFEST_COLUMNS])


def _loaded_codes(manifest: pd.DataFrame) -> dict[str, str]:
    loaded = manifest[manifest["status"].eq(LOADED)]
    return dict(zip(loaded["sha256"], loaded["codes"]))


def _loaded_sizes(manifest: pd.DataFrame) -> set[int] | None:
    sizes = manifest.loc[manifest["status"].eq(LOADED), "size_bytes"]
    if sizes.isna().any():  # a file stored without its size (a remote source): any size may be it
        return None
    return {int(size) for size in sizes}


def _part_of(name: str) -> str | None:
    match = PART_FILE.match(name)
    return match["part"] if match else None


def _discard(outcome: FileOutcome) -> None:
    if outcome.staged:
        shutil.rmtree(outcome.staged, ignore_errors=True)


def _is_abandoned(folder: Path) -> bool:
    marker = folder / ".active"
    if not marker.exists():
        return True
    with open(marker, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live run holds it
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def _json_has(path: Path, key: str) -> bool:
    try:
        return key in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
