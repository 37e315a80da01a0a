"""Ingest: find the files of a source, route each to its reader, write what it read, account for every row.

- :func:`detect_format` tells a file's kind from its first bytes (not its name): a TiC in-network file, another TiC
  file (table of contents, allowed amounts, provider reference), a hospital standard-charge CSV or JSON.
- :func:`read_file` reads one file with the reader of its kind into an :class:`IngestResult`.
- :func:`ingest` does that for every file of every source and writes the rates, the quarantine and the row
  accounts under an output folder as Parquet (see :mod:`benchmark.ingest.output`). A file that cannot be read is
  rejected whole (nothing from it is written) and listed with its reason; the run goes on with the other files.
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
    """What one ``ingest`` call did, file by file."""

    out_dir: Path | None
    files: list[Path] = field(default_factory=list)
    result: IngestResult = field(default_factory=IngestResult)
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def rejected(self) -> list[RejectedFile]:
        return self.result.rejected

    @property
    def ok(self) -> bool:
        return not self.result.rejected


# In a folder, only files with these endings are read (notes, manifests and directories beside the data are not).
DATA_SUFFIXES = (".json", ".json.gz", ".gz", ".csv", ".csv.gz", ".zip")


def expand_sources(sources: Iterable[str | Path]) -> list[Path]:
    """Files of the given paths; folders are walked (sorted) for data files, hidden files skipped."""
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                            and p.name.lower().endswith(DATA_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{source}: no such file or folder")
    return files


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
    if b"," in first_line and (b"hospital_name" in first_line or b"description" in head[:8192].lower()):
        return HOSPITAL_CSV
    return UNKNOWN


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
    if kind == HOSPITAL_CSV:
        from benchmark.ingest.hospital import read_standard_charges

        return read_standard_charges
    raise UnsupportedFileError(_unsupported(kind))


def _unsupported(kind: str) -> str:
    return {
        TIC_OTHER: "a TiC table-of-contents, allowed-amounts or provider-reference file, not an in-network rate file",
        HOSPITAL_JSON: "a hospital standard-charge JSON file, which this version does not read yet",
        UNKNOWN: "neither a TiC in-network JSON nor a hospital standard-charge CSV (first bytes not recognised)",
    }.get(kind, kind)


def read_file(path: str | Path, codes: Sequence[str] | None = None, *, is_synthetic: bool = False) -> IngestResult:
    """Read one file with the reader of its kind; a file that cannot be read comes back as rejected, whole."""
    path = Path(path)
    try:
        kind = detect_format(path)
        return reader_for(kind)(path, codes, is_synthetic=is_synthetic)
    except ValueError as error:  # TicFileError, HospitalFileError, UnsupportedFileError
        return IngestResult(rejected=[RejectedFile(str(path), str(error))])


def ingest(sources: Iterable[str | Path], codes: Sequence[str] | None = None, out_dir: str | Path | None = None, *,
           is_synthetic: bool = False, progress: Callable[[Path, IngestResult], None] | None = None) -> IngestRun:
    """Read every file of ``sources`` (filtered to ``codes``); write rates, quarantine and accounts to ``out_dir``."""
    from benchmark.ingest.output import write_run

    files = expand_sources(sources)
    parts = []
    for path in files:
        part = read_file(path, codes, is_synthetic=is_synthetic)
        parts.append(part)
        if progress:
            progress(path, part)
    run = IngestRun(Path(out_dir) if out_dir else None, files, IngestResult.combine(parts))
    if run.out_dir:
        run.written = write_run(run.result, run.out_dir)
    return run
