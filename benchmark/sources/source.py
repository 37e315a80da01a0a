"""Where input files come from: local paths, members of (nested) zip archives and http(s) URLs.

- :class:`Source` is one readable input: a local file, a member of a (nested) zip archive, or a URL, with the plans a
  table of contents attached to it. :meth:`Source.open` gives its stored bytes as a stream.
- :func:`as_source` turns a path, URL or ``zip://`` spec into a source; :func:`zip_sources` lists a zip's data files.

Zip archives
    Every data member (``.json``, ``.csv``, ``.json.gz``, ``.csv.gz``, ``.gz``, ``.zip``), whatever its format (TiC
    or hospital), becomes a source named ``archive.zip!member``;
    zips inside zips are opened up to :data:`MAX_ZIP_DEPTH` levels. A member whose declared size exceeds
    ``Limits.max_decompressed_bytes`` or whose compression ratio exceeds ``Limits.max_compression_ratio`` is
    rejected (zip bomb). Zips are read from local files only.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from benchmark.sources.http import HttpReader, RemotePolicy, SourceError, is_url, public_url
from benchmark.sources.limits import ZIP_MAGIC, Limits

MAX_ZIP_DEPTH = 3
DATA_SUFFIXES = (".json", ".json.gz", ".csv", ".csv.gz", ".gz", ".zip")
SNIFF_BYTES = 64 * 1024
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class PlanInfo:
    """One plan a table of contents lists for an in-network file."""

    plan_name: str | None = None
    plan_id_type: str | None = None
    plan_id: str | None = None
    plan_market_type: str | None = None
    issuer_name: str | None = None
    plan_sponsor_name: str | None = None


@dataclass(frozen=True)
class Source:
    """One readable input (see the module docstring)."""

    location: str  # a local path or a URL
    members: tuple[str, ...] = ()  # path through (nested) zip archives
    plans: tuple[PlanInfo, ...] = ()
    policy: RemotePolicy = field(default_factory=RemotePolicy)
    is_link: bool = False  # the URL was found inside a file (stricter rules)
    found_in: str | None = None  # the table of contents that listed it
    problem: str | None = None  # why it cannot be read (found while expanding); read_source rejects it

    @property
    def is_url(self) -> bool:
        return is_url(self.location)

    @property
    def name(self) -> str:
        """The name written to ``source_file``: file name, URL without query, or ``archive.zip!member``."""
        base = public_url(self.location) if self.is_url else Path(self.location).name
        return "!".join([base, *self.members])

    @property
    def file_name(self) -> str:
        """The last path component (decides whether content must be gzip)."""
        last = self.members[-1] if self.members else urlsplit(self.location).path if self.is_url else self.location
        return last.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def size(self) -> int | None:
        """Stored size in bytes when known without opening (local files)."""
        if self.is_url or self.members:
            return None
        try:
            return Path(self.location).stat().st_size
        except OSError:
            return None

    @contextmanager
    def open(self, limits: Limits | None = None) -> Iterator[BinaryIO]:
        """The stored bytes (still compressed if the file is gzip), streamed."""
        limits = limits or Limits()
        with ExitStack() as stack:
            if self.is_url:
                if self.members:
                    raise SourceError(f"{self.name}: zip archives are read from local files only; download it first")
                reader = HttpReader(self.location, self.policy, is_link=self.is_link)
                stream = cast(BinaryIO, stack.enter_context(reader))  # a raw stream with read/readinto, not IO
            else:
                check_regular_file(self.location)
                stream = stack.enter_context(open(self.location, "rb"))
            for depth, member in enumerate(self.members):
                stream = _open_member(stack, stream, member, limits, f"{self.name} (level {depth + 1})")
            yield stream

    @property
    def spec(self) -> str:
        """A string that :func:`as_source` turns back into this source (``zip://`` for zip members).

        Plans and network policy do not fit in it: a source made by :func:`expand` is remembered in this process
        under its spec, so reading the spec here gets them back (another process reads it with defaults).
        """
        if not self.members:
            return self.location
        return "!".join([f"{ZIP_SCHEME}{Path(self.location).resolve()}", *self.members])

    def __str__(self) -> str:
        return self.spec


ZIP_SCHEME = "zip://"
_EXPANDED: dict[str, Source] = {}  # spec -> source made by expansion in this process (keeps plans and policy)


def is_remembered(spec: object) -> bool:
    """Whether ``spec`` names a source made by expansion in this process."""
    return isinstance(spec, str) and spec in _EXPANDED


def remember(source: Source) -> None:
    """Keep a source made by expansion, so that its spec read back in this process gets its plans and policy."""
    _EXPANDED[source.spec] = source


def as_source(value: str | Path | Source, policy: RemotePolicy | None = None) -> Source:
    """A :class:`Source` for a path, URL or source (single-member zips open their member)."""
    if isinstance(value, Source):
        return value
    if isinstance(value, str) and value in _EXPANDED:
        known = _EXPANDED[value]
        return replace(known, policy=policy) if policy is not None else known
    if isinstance(value, str) and value.startswith(ZIP_SCHEME):
        location, *members = value[len(ZIP_SCHEME) :].split("!")
        return Source(location, members=tuple(members), policy=policy or RemotePolicy())
    if is_url(value):
        return Source(str(value), policy=policy or RemotePolicy())
    path = Path(value)
    source = Source(str(path), policy=policy or RemotePolicy())
    if path.is_file() and head_bytes(path).startswith(ZIP_MAGIC):
        members = zip_sources(source, Limits())
        if not members:
            raise SourceError(no_data_member(path))
        if len(members) != 1:
            names = ", ".join(m.name for m in members[:5]) or "none"
            raise SourceError(f"{path}: a zip archive with {len(members)} data files ({names}); read it as a folder")
        return members[0]
    return source


def routes_here(value: object) -> bool:
    """True for what :func:`read_source` reads and the plain per-file readers do not: URLs, sources, zips."""
    if isinstance(value, Source) or is_url(value) or (isinstance(value, str) and value.startswith(ZIP_SCHEME)):
        return True
    if not isinstance(value, (str, os.PathLike)):
        return False
    try:
        return head_bytes(Path(value)).startswith(ZIP_MAGIC)
    except (OSError, ValueError):
        return False


def head_bytes(path: Path) -> bytes:
    check_regular_file(path)
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def special_file_problem(path: str | Path) -> str | None:
    """Why ``path`` must not be opened (a FIFO, device or socket: reading it could block forever or never end),
    found without opening it; None for a regular file (or a missing one: opening it then says so)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    return f"{path}: {kind}, not a regular file; only regular files are read"


def check_regular_file(path: str | Path) -> None:
    """Raise :class:`SourceError` for a special file (:func:`special_file_problem`) before it is opened."""
    problem = special_file_problem(path)
    if problem:
        raise SourceError(problem)


def local_path(source: Any) -> Path | None:
    """The local file a source is (None for a URL or a member inside an archive)."""
    if isinstance(source, Path):
        return source
    if isinstance(source, str):
        return None if _URL.match(source) else Path(source)
    location, members = getattr(source, "location", None), getattr(source, "members", ())
    if location is None or members or _URL.match(str(location)):
        return None
    return Path(location)


# ---------------------------------------------------------------------------------------------------------------------
# Zip archives


def zip_sources(archive: Source, limits: Limits, depth: int = 0) -> list[Source]:
    """Sources for the data members of a zip (recursing into zips inside it)."""
    if depth >= MAX_ZIP_DEPTH:
        raise SourceError(f"{archive.name}: zip archives nested deeper than {MAX_ZIP_DEPTH} levels")
    found: list[Source] = []
    with archive.open(limits) as stream, _as_zip(stream, archive.name) as zipped:
        for info in zipped.infolist():
            if info.is_dir() or not info.filename.lower().endswith(DATA_SUFFIXES):
                continue
            _check_member(info, limits, f"{archive.name}!{info.filename}")
            member = replace(archive, members=archive.members + (info.filename,))
            if info.filename.lower().endswith(".zip"):
                found += zip_sources(member, limits, depth + 1)
            else:
                found.append(member)
    return found


def no_data_member(path: Path) -> str:
    """Why a local zip archive gives no file to read (what it holds instead)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as error:
        return f"{path.name}: not a readable zip archive ({error})"
    held = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "") if names else "no files at all"
    return f"{path.name}: a zip archive without a data file ({', '.join(DATA_SUFFIXES)}); it holds: {held}"


@contextmanager
def _as_zip(stream: BinaryIO, name: str) -> Iterator[zipfile.ZipFile]:
    try:
        if stream.seekable():
            with zipfile.ZipFile(stream) as zipped:
                yield zipped
            return
        with tempfile.TemporaryFile() as spill:  # a zip inside a zip: zipfile needs to seek
            shutil.copyfileobj(stream, spill, 1 << 20)
            spill.seek(0)
            with zipfile.ZipFile(spill) as zipped:
                yield zipped
    except zipfile.BadZipFile as error:
        raise SourceError(f"{name}: not a readable zip archive ({error})") from error


def _open_member(stack: ExitStack, stream: BinaryIO, member: str, limits: Limits, name: str) -> BinaryIO:
    zipped = stack.enter_context(_as_zip(stream, name))
    try:
        info = zipped.getinfo(member)
    except KeyError:
        raise SourceError(f"{name}: no member {member!r} in the archive") from None
    _check_member(info, limits, f"{name}!{member}")
    return cast(BinaryIO, stack.enter_context(zipped.open(info)))  # typeshed says IO[bytes]: a ZipExtFile is binary


def _check_member(info: zipfile.ZipInfo, limits: Limits, name: str) -> None:
    if info.file_size > limits.max_decompressed_bytes:
        raise SourceError(
            f"{name}: declares {info.file_size:,} bytes, above the cap of "
            f"{limits.max_decompressed_bytes:,} (Limits.max_decompressed_bytes); possible zip bomb"
        )
    if info.file_size > limits.ratio_grace_bytes and info.file_size > limits.max_compression_ratio * max(
        info.compress_size, 1
    ):
        raise SourceError(
            f"{name}: compression ratio above {limits.max_compression_ratio:g}:1 "
            f"({info.file_size:,} from {info.compress_size:,} bytes); possible zip bomb"
        )
