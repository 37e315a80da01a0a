"""Ingest: find the files of a source, route each to its reader, write what it read, account for every row.

- :func:`detect_format` tells a file's kind from its first bytes (not its name): a TiC in-network file, another TiC
  file (table of contents, allowed amounts, provider reference), a hospital standard-charge CSV or JSON.
- :func:`read_file` reads one file with the reader of its kind into an :class:`IngestResult`.
- :func:`ingest` does that for every file of every source. Without an output folder it returns everything in
  memory; with one, the folder is a rate store (:mod:`benchmark.store`): each file is staged as Parquet parts
  (:mod:`benchmark.ingest.output`), locally or on a Dask cluster (:mod:`benchmark.ingest.distributed`), and the
  run is committed to the store's manifest at once. Files already in the store are skipped. A file that cannot be
  read is rejected whole (nothing from it is written) and listed with its reason; the run goes on with the others.
"""

from __future__ import annotations

import gzip
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from benchmark.ingest.result import IngestResult, RejectedFile

TIC_IN_NETWORK = "tic_in_network"
TIC_OTHER = "tic_other"
HOSPITAL_CSV = "hospital_csv"
HOSPITAL_JSON = "hospital_json"
UNKNOWN = "unknown"
_SNIFF_BYTES = 64 * 1024


class UnsupportedFileError(ValueError):
    """A file whose kind the project cannot read (the message says what was seen)."""


@dataclass
class IngestRun:
    """What one ``ingest`` call did, file by file.

    In memory (no output folder) ``result`` holds every rate. Into a store, ``result`` holds the row accounts of the
    files read in this run and the files rejected or failed; the rates are in the store (``run.store``), and
    ``outcomes`` says per file what happened (loaded, skipped as already stored, rejected, failed).
    """

    out_dir: Path | None
    files: list[Path] = field(default_factory=list)
    result: IngestResult = field(default_factory=IngestResult)
    written: dict[str, Path] = field(default_factory=dict)
    outcomes: list = field(default_factory=list)  # list[benchmark.store.FileOutcome]
    store: object | None = None  # benchmark.store.Store
    commit: object | None = None  # benchmark.store.CommitSummary

    @property
    def rejected(self) -> list[RejectedFile]:
        return self.result.rejected

    @property
    def ok(self) -> bool:
        return not self.result.rejected

    def count(self, status: str) -> int:
        """Files of this run with outcome ``status`` (loaded, skipped, rejected, failed)."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


# In a folder, only files with these endings are read (notes, manifests and directories beside the data are not).
DATA_SUFFIXES = (".json", ".json.gz", ".gz", ".csv", ".csv.gz", ".zip")


def expand_sources(sources: Iterable[str | Path], policy=None) -> list[Path]:
    """Files of the given paths; folders are walked (sorted) for data files, hidden files skipped.

    URLs, members of zip archives and the in-network files a TiC table of contents lists come back as
    :class:`benchmark.ingest.sources.Source` objects (``policy``: a ``RemotePolicy`` for network access); see
    :func:`benchmark.ingest.sources.expand`. Plain local files stay paths.
    """
    from benchmark.ingest.sources import expand

    return expand(sources, policy, suffixes=DATA_SUFFIXES)


def detect_format(path: str | Path) -> str:
    """The kind of file at ``path``, from its (decompressed) first bytes."""
    head = _head(Path(path))
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        if b'"in_network"' in head:
            return TIC_IN_NETWORK
        if any(key in head for key in (b'"reporting_structure"', b'"out_of_network"', b'"provider_groups"')):
            return TIC_OTHER
        if any(key in head for key in (b'"standard_charge_information"', b'"hospital_name"')):
            return HOSPITAL_JSON
        if b'"reporting_entity_name"' in head:  # in_network may come after a long provider_references block
            return TIC_IN_NETWORK
        return UNKNOWN
    first_line = text.split(b"\n", 1)[0].lower()
    if b"," in first_line and b"hospital_name" in first_line:
        return HOSPITAL_CSV
    from benchmark.ingest.hospital import sniff_csv  # CMS rows 1-3, or a chargemaster header after a preamble

    return HOSPITAL_CSV if b"," in head and sniff_csv(head) else UNKNOWN


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read(_SNIFF_BYTES)
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(_SNIFF_BYTES)
        except (OSError, EOFError):
            return raw  # the reader reports the broken gzip with its own message
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) == 1:
                with archive.open(names[0]) as handle:
                    return handle.read(_SNIFF_BYTES)
    return raw


def reader_for(kind: str) -> Callable[..., IngestResult]:
    """The reader function of a file kind."""
    if kind == TIC_IN_NETWORK:
        from benchmark.ingest.tic import read_in_network

        return read_in_network
    if kind in (HOSPITAL_CSV, HOSPITAL_JSON):
        from benchmark.ingest.hospital import read_standard_charges

        return read_standard_charges
    raise UnsupportedFileError(_unsupported(kind))


def _unsupported(kind: str) -> str:
    return {
        TIC_OTHER: "a TiC table-of-contents, allowed-amounts or provider-reference file, not an in-network rate file",
        UNKNOWN: "neither a TiC in-network JSON nor a hospital standard-charge CSV or JSON (first bytes not "
                 "recognised)",
    }.get(kind, kind)


def read_file(path: str | Path, codes: Sequence[str] | None = None, *, is_synthetic: bool = False) -> IngestResult:
    """Read one file with the reader of its kind; a file that cannot be read comes back as rejected, whole."""
    from benchmark.ingest import sources

    if sources.routes_here(path):  # a URL, a zip member or archive, a TiC table of contents
        return sources.read_source(path, codes, is_synthetic=is_synthetic)
    path = Path(path)
    try:
        kind = detect_format(path)
        return reader_for(kind)(path, codes, is_synthetic=is_synthetic)
    except ValueError as error:  # TicFileError, HospitalFileError, UnsupportedFileError
        return IngestResult(rejected=[RejectedFile(str(path), str(error))])


ENGINES = ("local", "dask")


def ingest(sources: Iterable[str | Path], codes: Sequence[str] | None = None, out_dir: str | Path | None = None, *,
           is_synthetic: bool = False, progress: Callable[[Path, object], None] | None = None,
           engine: str = "local", scheduler: str | None = None, workers: int | None = None, retries: int = 2,
           reader: Callable[..., object] | None = None, client=None) -> IngestRun:
    """Read every file of ``sources`` (filtered to ``codes``); with ``out_dir``, into the rate store there.

    ``engine="dask"`` fans the files out over a Dask cluster (a connected ``client``, else the ``scheduler`` address,
    else a LocalCluster of ``workers`` processes); the store ends up the same as with the local engine. A file whose reading raises is
    tried ``1 + retries`` times, then recorded as failed. ``reader`` replaces :func:`read_file` (it may yield the
    file's rows in chunks). ``progress(source, outcome)`` is called after each file (an :class:`IngestResult` in
    memory, a :class:`benchmark.store.FileOutcome` into a store). Files under the shipped sample folder are always
    marked synthetic.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    files = expand_sources(sources)
    if out_dir is None:
        if engine != "local":
            raise ValueError("the dask engine writes into a store: give an output folder")
        parts = []
        for path in files:
            sample = isinstance(path, (str, Path)) and is_sample_file(path)
            part = (reader or read_file)(path, codes, is_synthetic=is_synthetic or sample)
            parts.append(part)
            if progress:
                progress(path, part)
        return IngestRun(None, files, IngestResult.combine(parts))
    return _ingest_into_store(files, codes, Path(out_dir), is_synthetic=is_synthetic, progress=progress,
                              engine=engine, scheduler=scheduler, workers=workers, retries=retries, reader=reader,
                              client=client)


def _ingest_into_store(files: list[Path], codes: Sequence[str] | None, out_dir: Path, *, is_synthetic: bool,
                       progress, engine: str, scheduler: str | None, workers: int | None, retries: int,
                       reader, client) -> IngestRun:
    from benchmark.ingest.output import FileTask, local_path, stage_with_retries
    from benchmark.store import FAILED, LOADED, REJECTED, new_run_id, open_store

    store = open_store(out_dir, create=True)
    store.vacuum(parts=False)  # staging left by runs that died
    run_id = new_run_id()
    code_filter = None if codes is None else tuple(str(c).strip() for c in codes)
    with store.staging(run_id) as staging:
        tasks = [FileTask(source=f, codes=code_filter,
                          staging=str(staging), is_synthetic=is_synthetic or is_sample_file(local_path(f)),
                          reader=reader, prefix_length=store.prefix_length) for f in files]
        loaded = store.loaded_codes()
        if engine == "dask":
            from benchmark.ingest.distributed import stage_on_dask

            outcomes = stage_on_dask(tasks, loaded, scheduler=scheduler, workers=workers, retries=retries,
                                     client=client, progress=progress)
        else:
            outcomes = []
            for task in tasks:
                outcomes.append(stage_with_retries(task, loaded, retries))
                if progress:
                    progress(task.source, outcomes[-1])
        summary = store.commit(outcomes, run_id=run_id, engine=engine)
    read = [o for o in outcomes if o.status == LOADED]
    bad = [RejectedFile(o.source, o.reason if o.status == REJECTED else f"failed: {o.reason}")
           for o in outcomes if o.status in (REJECTED, FAILED)]
    result = IngestResult(accounts=[a for o in read for a in o.accounts], rejected=bad)
    written = {"store": store.root, "manifest": store.root / "manifest.parquet"}
    return IngestRun(out_dir, files, result, written, outcomes=outcomes, store=store, commit=summary)


def is_sample_file(path: str | Path | None) -> bool:
    """Whether a file lies under the shipped synthetic sample folder (its rows are then labelled synthetic)."""
    from benchmark import config

    if path is None:
        return False
    try:
        return Path(path).resolve().is_relative_to(config.SAMPLE_DIR.resolve())
    except (OSError, ValueError):
        return False
