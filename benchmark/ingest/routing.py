"""Routing: find the files of what a user names, tell each file's kind from its bytes, read it with its reader.

- :func:`expand_sources` turns paths, folders, URLs, zips and TiC tables of contents into readable files (plain
  local files stay paths; URLs, zip members and the files a table of contents lists are
  :class:`~benchmark.sources.source.Source` objects).
- :func:`detect_format` tells a file's kind from its first bytes (not its name): a TiC in-network file, another TiC
  file (table of contents, allowed amounts, provider reference), a hospital standard-charge CSV or JSON.
- :func:`read_file` reads one file with the reader of its kind into an :class:`IngestResult`; a file that cannot be
  read comes back as rejected, whole, with its reason.
"""

from __future__ import annotations

import gzip
import io
import logging
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmark import config
from benchmark.accounts import IngestResult, RejectedFile
from benchmark.errors import InputFileError
from benchmark.ingest.hospital.reader import HospitalFileError, read_standard_charges, sniff_csv
from benchmark.ingest.tic.reader import TableOfContentsFound, TicFileError, iter_in_network, read_in_network
from benchmark.ingest.tic.scan import ScanError
from benchmark.ingest.tic.toc import read_table_of_contents
from benchmark.sources.http import RemotePolicy, SourceError, is_url, redact
from benchmark.sources.limits import GZIP_MAGIC, ZIP_MAGIC, Limits
from benchmark.sources.source import (
    SNIFF_BYTES,
    ZIP_SCHEME,
    Source,
    as_source,
    check_regular_file,
    head_bytes,
    is_remembered,
    no_data_member,
    remember,
    routes_here,
    special_file_problem,
    zip_sources,
)

_log = logging.getLogger(__name__)

TIC_IN_NETWORK = "tic_in_network"
TIC_OTHER = "tic_other"
HOSPITAL_CSV = "hospital_csv"
HOSPITAL_JSON = "hospital_json"
UNKNOWN = "unknown"


class UnsupportedFileError(InputFileError):
    """A file whose kind the project cannot read (the message says what was seen)."""


DATA_SUFFIXES = config.DATA_SUFFIXES


def expand_sources(sources: Iterable[str | Path | Source], policy=None) -> list[Path | Source]:
    """Files of the given paths; folders are walked (sorted) for data files, hidden files skipped.

    URLs, members of zip archives and the in-network files a TiC table of contents lists come back as
    :class:`benchmark.sources.source.Source` objects (``policy``: a ``RemotePolicy`` for network access); see
    :func:`benchmark.sources.source.expand`. Plain local files stay paths.
    """
    return expand(sources, policy, suffixes=DATA_SUFFIXES)


def detect_format(path: str | Path) -> str:
    """The kind of file at ``path``, from its (decompressed) first bytes."""
    return format_of(_head(Path(path)))


def format_of(head: bytes) -> str:
    """The kind of file whose (decompressed) first bytes are ``head``."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        if b'"in_network"' in head or b'"provider_references"' in head:
            # provider_references is a root key of in-network files only; it may fill far more than the head
            # (its provider_groups too), with in_network after it
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
    # CMS rows 1-3, or a chargemaster header after a preamble
    return HOSPITAL_CSV if b"," in head and sniff_csv(head) else UNKNOWN


def _head(path: Path) -> bytes:
    check_regular_file(path)
    with open(path, "rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    if raw.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(SNIFF_BYTES)
        except (OSError, EOFError):
            return raw  # the reader reports the broken gzip with its own message
    if raw.startswith(ZIP_MAGIC):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) == 1:
                with archive.open(names[0]) as handle:
                    return handle.read(SNIFF_BYTES)
    return raw


def reader_for(kind: str) -> Callable[..., IngestResult]:
    """The reader function of a file kind."""
    if kind == TIC_IN_NETWORK:
        return read_in_network
    if kind in (HOSPITAL_CSV, HOSPITAL_JSON):
        return read_standard_charges
    raise UnsupportedFileError(_unsupported(kind))


def _unsupported(kind: str) -> str:
    return {
        TIC_OTHER: "a TiC table-of-contents, allowed-amounts or provider-reference file, not an in-network rate file",
        UNKNOWN: "neither a TiC in-network JSON nor a hospital standard-charge CSV or JSON (first bytes not "
        "recognised)",
    }.get(kind, kind)


def read_file(
    path: str | Path | Source, codes: Sequence[str] | None = None, *, is_synthetic: bool = False
) -> IngestResult:
    """Read one file with the reader of its kind; a file that cannot be read comes back as rejected, whole."""
    if isinstance(path, Source) or routes_here(path):  # a URL, a zip member or archive
        return read_source(path, codes, is_synthetic=is_synthetic)
    path = Path(path)
    try:
        kind = detect_format(path)
        return reader_for(kind)(path, codes, is_synthetic=is_synthetic)
    except ValueError as error:  # TicFileError, HospitalFileError, UnsupportedFileError
        _log.info("%s: rejected: %s", path.name, error)
        return IngestResult(rejected=[RejectedFile(str(path), str(error))])


def read_file_in_batches(
    path: str | Path | Source, codes: Sequence[str] | None = None, *, is_synthetic: bool = False, tidy: bool = False
) -> Iterator[IngestResult]:
    """:func:`read_file` in batches of bounded size where the reader can (a local TiC in-network file: see
    :func:`benchmark.ingest.tic.reader.iter_in_network`); other files come as one result. A file that cannot be
    read comes back as one rejected result, before any of its rows. ``tidy``: a local TiC in-network file's batches
    carry their rows in tidy form (:class:`~benchmark.accounts.TidyRates`, for the rate store); other files' rows
    are wide whatever it says."""
    if not isinstance(path, Source) and not routes_here(path):
        local = Path(path)
        try:
            kind = detect_format(local)
        except ValueError:
            kind = None  # read_file rejects it with its reason
        if kind == TIC_IN_NETWORK:
            batches = iter_in_network(local, codes, is_synthetic=is_synthetic, tidy=tidy)
            try:
                first = next(batches)
            except ValueError as error:  # TicFileError
                _log.info("%s: rejected: %s", local.name, error)
                yield IngestResult(rejected=[RejectedFile(str(local), str(error))])
                return
            yield first
            yield from batches
            return
    yield read_file(path, codes, is_synthetic=is_synthetic)


def is_sample_file(path: str | Path | None) -> bool:
    """Whether a file lies under the shipped synthetic sample folder (its rows are then labelled synthetic)."""
    if path is None:
        return False
    try:
        return Path(path).resolve().is_relative_to(config.SAMPLE_DIR.resolve())
    except (OSError, ValueError):
        return False


def expand(
    sources: Iterable[str | Path | Source],
    policy: RemotePolicy | None = None,
    limits: Limits | None = None,
    suffixes: tuple[str, ...] = DATA_SUFFIXES,
) -> list[Path | Source]:
    """Files to read: folders walked (sorted; names ending in ``suffixes``, hidden files skipped), zips opened,
    local tables of contents replaced by the files they list. Plain local files stay paths."""
    policy, limits = policy or RemotePolicy(), limits or Limits()
    files: list[Path | Source] = []
    for source in sources:
        if isinstance(source, Source):
            files.append(source)
        elif is_url(source) or (isinstance(source, str) and (is_remembered(source) or source.startswith(ZIP_SCHEME))):
            files.append(as_source(str(source), policy))
        else:
            path = Path(source)
            if path.is_dir():
                for child in sorted(
                    p
                    for p in path.rglob("*")
                    if (p.is_file() or special_file_problem(p))  # a FIFO or device is rejected, not skipped
                    and not p.name.startswith(".")
                    and p.name.lower().endswith(suffixes)
                ):
                    files += _expand_local(child, policy, limits, named=False)
            elif path.is_file():
                files += _expand_local(path, policy, limits, named=True)
            elif special_file_problem(path):  # a FIFO or device: rejected with its reason, never opened
                files.append(Source(str(path), policy=policy, problem=special_file_problem(path)))
            else:
                raise FileNotFoundError(f"{source}: no such file or folder")
    for file in files:
        if isinstance(file, Source):
            remember(file)
    return files


def _expand_local(path: Path, policy: RemotePolicy, limits: Limits, *, named: bool) -> list[Path | Source]:
    """A local file as sources: a zip's members; a table of contents' files when the user named it (inside a folder
    it stays a file, rejected on reading: the folder usually holds the files it lists, and following its links
    would download them again)."""
    problem = _name_problem(path)
    if problem:
        return [Source(_printable(path), policy=policy, problem=problem)]
    try:
        head = head_bytes(path)
    except (SourceError, OSError) as error:  # unreadable (permissions) or special: this file is rejected, not the run
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return [Source(str(path), policy=policy, problem=f"{path}: cannot be read ({reason})")]
    if head.startswith(ZIP_MAGIC):
        try:
            members: list[Path | Source] = list(zip_sources(Source(str(path), policy=policy), limits))
        except (SourceError, zipfile.BadZipFile, OSError) as error:
            return [Source(str(path), policy=policy, problem=str(error))]
        return members or [Source(str(path), policy=policy, problem=no_data_member(path))]
    if named and _is_table_of_contents(_json_head(path, head)):
        try:
            return list(read_table_of_contents(Source(str(path), policy=policy), limits=limits).sources())
        except (SourceError, ScanError) as error:
            return [Source(str(path), policy=policy, problem=str(error))]
    return [path]


def _name_problem(path: Path) -> str | None:
    """A file name that is not valid UTF-8 cannot be recorded as written: the file is rejected with its reason."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return f"{_printable(path)}: the file name is not valid UTF-8; rename the file to read it"
    return None


def _printable(path: Path) -> str:
    """The path as text, undecodable bytes of its name shown as ``\\xNN``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _json_head(path: Path, head: bytes) -> bytes:
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(SNIFF_BYTES)
        except (OSError, EOFError):
            return b""
    return head


def _is_table_of_contents(head: bytes) -> bool:
    return b'"reporting_structure"' in head


def read_source(
    value: str | Path | Source,
    codes: Any = None,
    *,
    is_synthetic: bool = False,
    policy: RemotePolicy | None = None,
    limits: Limits | None = None,
) -> IngestResult:
    """Rates of one source: an in-network file, or every in-network file of a table of contents (combined)."""
    name = value.name if isinstance(value, Source) else str(value)
    try:
        source = as_source(value, policy)
        name = source.name
        if source.problem:
            raise SourceError(source.problem)
        if source.members and _source_format(source, limits) in (HOSPITAL_CSV, HOSPITAL_JSON):
            return _read_hospital_source(source, codes, is_synthetic=is_synthetic, limits=limits)
        try:
            return read_in_network(source, codes, is_synthetic=is_synthetic, limits=limits)
        except TableOfContentsFound:
            toc = read_table_of_contents(source, limits=limits)
            parts = [read_source(s, codes, is_synthetic=is_synthetic, limits=limits) for s in toc.sources()]
            return IngestResult.combine(parts) if parts else IngestResult()
    except (TicFileError, HospitalFileError, SourceError, ScanError, OSError, EOFError) as error:
        message, name = redact(error), redact(name)
        return IngestResult(rejected=[RejectedFile(name, message if name in message else f"{name}: {message}")])


def _source_format(source: Source, limits: Limits | None) -> str:
    """The kind of a zip member, from its first bytes (gunzipped when gzip)."""
    with source.open(limits) as stream:
        head = stream.read(SNIFF_BYTES)
        if head[:2] == GZIP_MAGIC:
            rest = head + stream.read(SNIFF_BYTES)
            try:
                head = gzip.GzipFile(fileobj=io.BytesIO(rest)).read(SNIFF_BYTES)
            except (OSError, EOFError):  # the first bytes of a longer stream: read what decompresses
                head = _gunzip_head(rest)
    return format_of(head)


def _gunzip_head(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return decompressor.decompress(data, SNIFF_BYTES)
    except zlib.error:
        return b""


def _read_hospital_source(source: Source, codes: Any, *, is_synthetic: bool, limits: Limits | None) -> IngestResult:
    """A hospital file inside a zip: copied to a temporary file (the reader seeks), read under its member name."""
    with tempfile.TemporaryDirectory(prefix="paybench-member-") as folder:
        local = Path(folder) / "member"
        with source.open(limits) as stream, open(local, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        return read_standard_charges(local, codes, is_synthetic=is_synthetic, source_name=source.name)
