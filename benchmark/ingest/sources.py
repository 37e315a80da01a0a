"""Where TiC files come from: local paths, folders, zip archives, http(s) URLs and tables of contents.

- :class:`Source` is one readable input: a local file, a member of a (nested) zip archive, or a URL, with the plans a
  table of contents attached to it. :meth:`Source.open` gives its stored bytes as a stream.
- :func:`expand` turns what a user names (paths, folders, URLs, zips, table-of-contents files) into sources; plain
  local files stay :class:`~pathlib.Path` objects.
- :func:`read_source` reads one source with the right reader (an in-network file, or every file a table of
  contents lists) into an :class:`IngestResult`; a source that cannot be read comes back as rejected.
- :class:`HttpReader` streams an HTTP(S) body with retries and resume (``Range``), checking every hop.

Network rules (:class:`RemotePolicy`)
    URLs a user gives may be ``http`` or ``https``. URLs *found inside files* (table-of-contents ``location``, 1.x
    remote provider references, redirects) are followed only over ``https`` unless ``allow_http_links``. No URL is
    fetched from a private, loopback, link-local, multicast or reserved address (checked on every address the host
    name resolves to, and the connection goes to the checked address, so DNS cannot change it in between) unless
    ``allow_private_hosts`` — tests set it for their server on 127.0.0.1. A URL's query string (signed-URL tokens)
    is never written to output: ``source_file`` keeps scheme, host and path only.

Zip archives
    Every data member (``.json``, ``.json.gz``, ``.gz``, ``.zip``) becomes a source named ``archive.zip!member``;
    zips inside zips are opened up to :data:`MAX_ZIP_DEPTH` levels. A member whose declared size exceeds
    ``Limits.max_decompressed_bytes`` or whose compression ratio exceeds ``Limits.max_compression_ratio`` is
    rejected (zip bomb). Zips are read from local files only.

Table of contents
    ``reporting_structure[].in_network_files[].location`` become sources, one per distinct location, each carrying
    the plans (``reporting_plans``) of every structure that lists it. ``allowed_amount_file`` entries are not rate
    files and are reported in :attr:`TableOfContents.skipped`.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json
import shutil
import socket
import ssl
import tempfile
import time
import zipfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import msgspec

from benchmark.ingest.result import IngestResult, RejectedFile
from benchmark.ingest.tic_scan import GZIP_MAGIC, Batch, Limits, ScanError, scan_document

MAX_ZIP_DEPTH = 3
DATA_SUFFIXES = (".json", ".json.gz", ".gz", ".zip")
_SNIFF_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_USER_AGENT = "payer-benchmark (TiC reader; +https://github.com)"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


class SourceError(ValueError):
    """A source that cannot be opened (unsafe URL, HTTP error, bad archive); the message says why."""


@dataclass(frozen=True)
class RemotePolicy:
    """Rules for network access (see the module docstring)."""

    allow_private_hosts: bool = False
    allow_http_links: bool = False
    follow_provider_references: bool = True  # fetch 1.x remote provider-reference files a wanted rate needs
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5  # seconds before the first retry; doubles each time (capped at 30 s)
    max_redirects: int = 5
    max_reference_file_bytes: int = 256 << 20


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
                stream: BinaryIO = stack.enter_context(HttpReader(self.location, self.policy, is_link=self.is_link))
            else:
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
_EXPANDED: dict[str, Source] = {}  # spec -> source made by expand() in this process (keeps plans and policy)


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def public_url(url: str) -> str:
    """A URL without query, fragment or credentials (safe to store and print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def as_source(value: str | Path | Source, policy: RemotePolicy | None = None) -> Source:
    """A :class:`Source` for a path, URL or source (single-member zips open their member)."""
    if isinstance(value, Source):
        return value
    if isinstance(value, str) and value in _EXPANDED:
        known = _EXPANDED[value]
        return replace(known, policy=policy) if policy is not None else known
    if isinstance(value, str) and value.startswith(ZIP_SCHEME):
        location, *members = value[len(ZIP_SCHEME):].split("!")
        return Source(location, members=tuple(members), policy=policy or RemotePolicy())
    if is_url(value):
        return Source(str(value), policy=policy or RemotePolicy())
    path = Path(value)
    source = Source(str(path), policy=policy or RemotePolicy())
    if path.is_file() and _head_bytes(path).startswith(_ZIP_MAGIC):
        members = _zip_sources(source, Limits())
        if len(members) != 1:
            names = ", ".join(m.name for m in members[:5]) or "none"
            raise SourceError(f"{path}: a zip archive with {len(members)} data files ({names}); read it as a folder")
        return members[0]
    return source


# ---------------------------------------------------------------------------------------------------------------------
# Expanding what the user named


def expand(sources: Iterable[str | Path | Source], policy: RemotePolicy | None = None,
           limits: Limits | None = None, suffixes: tuple[str, ...] = DATA_SUFFIXES) -> list[Path | Source]:
    """Files to read: folders walked (sorted; names ending in ``suffixes``, hidden files skipped), zips opened,
    local tables of contents replaced by the files they list. Plain local files stay paths."""
    policy, limits = policy or RemotePolicy(), limits or Limits()
    files: list[Path | Source] = []
    for source in sources:
        if isinstance(source, Source):
            files.append(source)
        elif is_url(source) or (isinstance(source, str) and (source in _EXPANDED or source.startswith(ZIP_SCHEME))):
            files.append(as_source(str(source), policy))
        else:
            path = Path(source)
            if path.is_dir():
                for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                                    and p.name.lower().endswith(suffixes)):
                    files += _expand_local(child, policy, limits, named=False)
            elif path.is_file():
                files += _expand_local(path, policy, limits, named=True)
            else:
                raise FileNotFoundError(f"{source}: no such file or folder")
    for file in files:
        if isinstance(file, Source):
            _EXPANDED[file.spec] = file
    return files


def routes_here(value: object) -> bool:
    """True for what :func:`read_source` reads and the plain per-file readers do not: URLs, sources, zips."""
    if isinstance(value, Source) or is_url(value) or (isinstance(value, str) and value.startswith(ZIP_SCHEME)):
        return True
    try:
        return _head_bytes(Path(value)).startswith(_ZIP_MAGIC)
    except (OSError, TypeError, ValueError):
        return False


def _expand_local(path: Path, policy: RemotePolicy, limits: Limits, *, named: bool) -> list[Path | Source]:
    """A local file as sources: a zip's members; a table of contents' files when the user named it (inside a folder
    it stays a file, rejected on reading: the folder usually holds the files it lists, and following its links
    would download them again)."""
    head = _head_bytes(path)
    if head.startswith(_ZIP_MAGIC):
        try:
            return list(_zip_sources(Source(str(path), policy=policy), limits))
        except (SourceError, zipfile.BadZipFile, OSError) as error:
            return [Source(str(path), policy=policy, problem=str(error))]
    if named and _is_table_of_contents(_json_head(path, head)):
        try:
            return list(read_table_of_contents(Source(str(path), policy=policy), limits=limits).sources())
        except (SourceError, ScanError) as error:
            return [Source(str(path), policy=policy, problem=str(error))]
    return [path]


def _head_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(_SNIFF_BYTES)


def _json_head(path: Path, head: bytes) -> bytes:
    if head.startswith(GZIP_MAGIC):
        import gzip

        try:
            with gzip.open(path, "rb") as handle:
                return handle.read(_SNIFF_BYTES)
        except (OSError, EOFError):
            return b""
    return head


def _is_table_of_contents(head: bytes) -> bool:
    return b'"reporting_structure"' in head


# ---------------------------------------------------------------------------------------------------------------------
# Zip archives


def _zip_sources(archive: Source, limits: Limits, depth: int = 0) -> list[Source]:
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
                found += _zip_sources(member, limits, depth + 1)
            else:
                found.append(member)
    return found


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
    return stack.enter_context(zipped.open(info))


def _check_member(info: zipfile.ZipInfo, limits: Limits, name: str) -> None:
    if info.file_size > limits.max_decompressed_bytes:
        raise SourceError(f"{name}: declares {info.file_size:,} bytes, above the cap of "
                          f"{limits.max_decompressed_bytes:,} (Limits.max_decompressed_bytes); possible zip bomb")
    if info.file_size > limits.ratio_grace_bytes and info.file_size > limits.max_compression_ratio * max(
            info.compress_size, 1):
        raise SourceError(f"{name}: compression ratio above {limits.max_compression_ratio:g}:1 "
                          f"({info.file_size:,} from {info.compress_size:,} bytes); possible zip bomb")


# ---------------------------------------------------------------------------------------------------------------------
# Reading a source


def read_source(value: str | Path | Source, codes: Any = None, *, is_synthetic: bool = False,
                policy: RemotePolicy | None = None, limits: Limits | None = None) -> IngestResult:
    """Rates of one source: an in-network file, or every in-network file of a table of contents (combined)."""
    from benchmark.ingest.tic import TableOfContentsFound, TicFileError, read_in_network

    name = value.name if isinstance(value, Source) else str(value)
    try:
        source = as_source(value, policy)
        name = source.name
        if source.problem:
            raise SourceError(source.problem)
        try:
            return read_in_network(source, codes, is_synthetic=is_synthetic, limits=limits)
        except TableOfContentsFound:
            toc = read_table_of_contents(source, limits=limits)
            parts = [read_source(s, codes, is_synthetic=is_synthetic, limits=limits) for s in toc.sources()]
            return IngestResult.combine(parts) if parts else IngestResult()
    except (TicFileError, SourceError, ScanError, OSError) as error:
        message = str(error)
        return IngestResult(rejected=[RejectedFile(name, message if name in message else f"{name}: {message}")])


# ---------------------------------------------------------------------------------------------------------------------
# Table of contents


@dataclass
class TocFile:
    """One in-network file a table of contents lists, with every plan that uses it."""

    location: str
    description: str | None
    plans: list[PlanInfo] = field(default_factory=list)


@dataclass
class TableOfContents:
    """What a table-of-contents file lists."""

    source: Source
    reporting_entity_name: str | None = None
    files: dict[str, TocFile] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # allowed-amount files and unusable entries, with the reason

    def sources(self) -> Iterator[Source]:
        for entry in self.files.values():
            yield Source(entry.location, plans=tuple(entry.plans), policy=self.source.policy, is_link=True,
                         found_in=self.source.name)


class _Empty(msgspec.Struct, gc=False):
    pass


class _FileLocation(msgspec.Struct, gc=False):
    location: Any = None
    description: Any = None


class _Structure(msgspec.Struct, gc=False):
    reporting_plans: list[dict[str, Any]] = []
    in_network_files: list[_FileLocation] = []
    allowed_amount_file: _FileLocation | None = None


_STRUCTURES = msgspec.json.Decoder(list[_Structure])
_STRUCTURE = msgspec.json.Decoder(_Structure)


def read_table_of_contents(value: str | Path | Source, *, limits: Limits | None = None) -> TableOfContents:
    """The in-network files a table of contents lists (streamed, so multi-GB indexes work)."""
    source = as_source(value)
    toc = TableOfContents(source)
    handler = _TocHandler(toc)
    with source.open(limits) as stream:
        try:
            scan_document(stream, handler, name=source.name, limits=limits,
                          expect_gzip=source.file_name.lower().endswith(".gz"))
        except msgspec.MsgspecError as error:
            raise SourceError(f"{source.name}: table of contents does not match the schema ({error})") from error
    if not handler.saw_structure:
        raise SourceError(f"{source.name}: no 'reporting_structure' array at the root; not a table of contents")
    return toc


@dataclass
class _TocHandler:
    toc: TableOfContents
    saw_structure: bool = False
    _plans: dict[PlanInfo, PlanInfo] = field(default_factory=dict)  # interned

    def root_value(self, key: str, data: bytes, offset: int) -> None:
        if key == "reporting_entity_name":
            value = msgspec.json.decode(data)
            self.toc.reporting_entity_name = value if isinstance(value, str) else None

    def root_array(self, key: str):
        if key == "reporting_structure":
            self.saw_structure = True
            return self
        return _SkipArray()

    def batch(self, batch: Batch) -> int:
        structures = _STRUCTURES.decode(batch.data)
        for index, structure in enumerate(structures):
            self._structure(batch.first_index + index, structure)
        return len(structures)

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            structure = _STRUCTURE.decode(data)
        except msgspec.MsgspecError as error:
            self.toc.skipped.append(f"reporting_structure[{index}]: not a reporting structure ({error})")
            return
        self._structure(index, structure)

    def close(self, count: int) -> None:
        pass

    def _structure(self, index: int, structure: _Structure) -> None:
        plans = [self._plan(p) for p in structure.reporting_plans if isinstance(p, dict)]
        if structure.allowed_amount_file is not None:
            self.toc.skipped.append(
                f"reporting_structure[{index}].allowed_amount_file: {_text(structure.allowed_amount_file.location)} "
                "(allowed amounts, not negotiated rates)"
            )
        for file_index, entry in enumerate(structure.in_network_files):
            location = _text(entry.location)
            if location is None:
                self.toc.skipped.append(f"reporting_structure[{index}].in_network_files[{file_index}]: no location")
                continue
            known = self.toc.files.get(location)
            if known is None:
                known = self.toc.files[location] = TocFile(location, _text(entry.description))
            for plan in plans:
                if plan not in known.plans:
                    known.plans.append(plan)

    def _plan(self, raw: dict[str, Any]) -> PlanInfo:
        plan_id_type = _text(raw.get("plan_id_type"))
        plan = PlanInfo(
            plan_name=_text(raw.get("plan_name")),
            plan_id_type=plan_id_type.lower() if plan_id_type else None,
            plan_id=_text(raw.get("plan_id")),
            plan_market_type=(_text(raw.get("plan_market_type")) or "").lower() or None,
            issuer_name=_text(raw.get("issuer_name")),
            plan_sponsor_name=_text(raw.get("plan_sponsor_name")),
        )
        return self._plans.setdefault(plan, plan)


class _SkipArray:
    """Checks the elements of a root array nobody needs (syntax only)."""

    def batch(self, batch: Batch) -> int:
        return len(msgspec.json.decode(batch.data, type=list[msgspec.Raw]))

    def element(self, index: int, data: bytes, offset: int) -> None:
        pass

    def close(self, count: int) -> None:
        pass


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------------------------------------------------
# URLs: safety checks and a resumable streaming reader


def check_url(url: str, policy: RemotePolicy, *, is_link: bool) -> list[str]:
    """The addresses ``url`` may be fetched from under ``policy`` (raises :class:`SourceError` otherwise)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(f"{public_url(url)}: only http(s) URLs are read (scheme {scheme!r})")
    if scheme == "http" and is_link and not policy.allow_http_links:
        raise SourceError(f"{public_url(url)}: a link found inside a file is only followed over https "
                          "(RemotePolicy.allow_http_links)")
    host = parts.hostname
    if not host:
        raise SourceError(f"{public_url(url)}: the URL has no host")
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise SourceError(f"{public_url(url)}: cannot resolve host {host!r} ({error})") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not policy.allow_private_hosts:
        for address in addresses:
            if not _is_public(address):
                raise SourceError(
                    f"{public_url(url)}: host {host!r} resolves to the non-public address {address}; refused "
                    "(RemotePolicy.allow_private_hosts)"
                )
    return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _RetryableError(Exception):
    pass


class HttpReader(io.RawIOBase):
    """A streamed HTTP(S) GET that survives dropped connections: it retries and resumes with ``Range``.

    Retries (``RemotePolicy.retries``, exponential backoff) cover connection errors, timeouts, truncated bodies and
    the statuses 408/425/429/5xx (``Retry-After`` honoured up to 30 s). A resume sends ``Range: bytes=N-`` with
    ``If-Range`` (the first response's ETag or Last-Modified): a server that answers 200 instead of 206 sends the
    whole body again, whose first N bytes are skipped — unless the validator changed, which is an error (the file
    was replaced during the download). Every redirect target passes :func:`check_url` as a link.
    """

    def __init__(self, url: str, policy: RemotePolicy, *, is_link: bool = False) -> None:
        super().__init__()
        self.url, self.policy, self.is_link = url, policy, is_link
        self.position = 0
        self.length: int | None = None
        self.resumes = 0
        self._validator: str | None = None
        self._response: http.client.HTTPResponse | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._with_retries(lambda: self._request(0))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._response is None:
            return 0
        attempt = 0
        while True:
            try:
                count = self._response.readinto(buffer)
                if count == 0 and self.length is not None and self.position < self.length:
                    raise http.client.IncompleteRead(b"", self.length - self.position)
                self.position += count
                return count
            except (http.client.HTTPException, OSError) as error:
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(f"{public_url(self.url)}: download failed after {self.position:,} bytes and "
                                      f"{self.policy.retries} retries ({error!r})") from error
                self._sleep(attempt, None)
                self.resumes += 1
                self._with_retries(lambda: self._request(self.position))

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        if self._connection is not None:
            self._connection.close()
        self._response = self._connection = None
        super().close()

    # -- requests ---------------------------------------------------------------------------------------------------

    def _with_retries(self, request) -> None:
        attempt = 0
        while True:
            try:
                request()
                return
            except (_RetryableError, http.client.HTTPException, OSError) as error:
                if isinstance(error, SourceError):
                    raise
                attempt += 1
                if attempt > self.policy.retries:
                    raise SourceError(f"{public_url(self.url)}: giving up after {self.policy.retries} retries "
                                      f"({error})") from error
                self._sleep(attempt, getattr(error, "retry_after", None))

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self.policy.backoff * 2 ** (attempt - 1)
        time.sleep(min(max(delay, 0.0), 30.0))

    def _request(self, start: int) -> None:
        if self._response is not None:
            self._response.close()
            self._connection.close()
            self._response = self._connection = None
        url, is_link = self.url, self.is_link
        for _ in range(self.policy.max_redirects + 1):
            addresses = check_url(url, self.policy, is_link=is_link)
            parts = urlsplit(url)
            connection = _connection(parts, addresses[0], self.policy.timeout)
            headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
            if start:
                headers["Range"] = f"bytes={start}-"
                if self._validator:
                    headers["If-Range"] = self._validator
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status in _REDIRECT_STATUS:
                location = response.getheader("Location")
                response.close()
                connection.close()
                if not location:
                    raise SourceError(f"{public_url(url)}: redirect without a Location header")
                url, is_link = urljoin(url, location), True
                continue
            if response.status in _RETRY_STATUS:
                response.close()
                connection.close()
                error = _RetryableError(f"HTTP {response.status} {response.reason}")
                error.retry_after = _retry_after(response.getheader("Retry-After"))  # type: ignore[attr-defined]
                raise error
            if response.status >= 400:
                response.close()
                connection.close()
                hint = " (an expired or unauthorized link?)" if response.status in (401, 403) else ""
                raise SourceError(f"{public_url(url)}: HTTP {response.status} {response.reason}{hint}")
            self._accept(response, start, url)
            self._connection = connection
            return
        raise SourceError(f"{public_url(self.url)}: more than {self.policy.max_redirects} redirects")

    def _accept(self, response: http.client.HTTPResponse, start: int, url: str) -> None:
        validator = response.getheader("ETag") or response.getheader("Last-Modified")
        if start == 0:
            self._validator = validator
            length = response.getheader("Content-Length")
            self.length = int(length) if length and length.isdigit() else None
            self._response = response
            return
        if response.status == 206:
            content_range = response.getheader("Content-Range") or ""
            if not content_range.startswith(f"bytes {start}-"):
                response.close()
                raise SourceError(f"{public_url(url)}: resume at byte {start:,} got Content-Range {content_range!r}")
            self._response = response
            return
        if self._validator and validator and validator != self._validator:
            response.close()
            raise SourceError(f"{public_url(url)}: the file changed during the download (validator "
                              f"{self._validator!r} -> {validator!r})")
        skip = start  # the server ignored Range: skip what was already read
        while skip:
            data = response.read(min(skip, 1 << 20))
            if not data:
                raise http.client.IncompleteRead(b"", skip)
            skip -= len(data)
        self._response = response


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked by :func:`check_url`, not to whatever DNS says next."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _connection(parts, address: str, timeout: float) -> http.client.HTTPConnection:
    kind = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
    return kind(parts.hostname, parts.port, address, timeout)


def fetch_json(url: str, policy: RemotePolicy, *, max_bytes: int) -> Any:
    """A small JSON document found by a link (a 1.x provider-reference file), gunzipped if needed, size-capped."""
    import gzip

    with HttpReader(url, policy, is_link=True) as reader:
        data = io.BufferedReader(reader).read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(f"{public_url(url)}: larger than {max_bytes:,} bytes")
    if data.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            data = unpacked.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SourceError(f"{public_url(url)}: larger than {max_bytes:,} bytes once decompressed")
    try:
        return json.loads(data)
    except ValueError as error:
        raise SourceError(f"{public_url(url)}: not JSON ({error})") from error
