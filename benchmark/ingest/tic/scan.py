"""Stream one JSON document fast and in bounded memory: the byte-level scanner under the TiC reader.

Entry point: :func:`scan_document`. It reads a binary stream (a file, a zip member, an HTTP body), gunzips it when
the content is gzip, checks every byte of the JSON text, and hands the caller's :class:`DocumentHandler` the root
object's keys one at a time: a root array (``in_network``, ``provider_references``) arrives as *batches* of many
elements, any other root value as its raw JSON text.

How it is fast (pure Python over C-level wheels; the numbers are in README.md)
    * An :class:`Inflater` reads the raw bytes, hashes them (sha256), gunzips them (``isal`` when installed, else
      zlib) and counts newlines while the main thread parses the previous chunk: in a thread of this process, or,
      for large local files, in a helper process (``tic_workers``), where it does not wait for the GIL. A stream of
      at most ``AT_ONCE_BYTES`` (32 KiB) is read whole first, in the main thread (no thread to start).
    * Batches of a root array whose handler scans without side effects (``ScanningArrayHandler``: the in_network
      items) are scanned here or in a helper process, whichever is free, and applied strictly in file order.
    * Elements of a root array are not found one by one. After the first element the scanner learns the bytes that
      separate two elements (``,`` + whitespace + ``{`` + the first key, e.g. ``,{"negotiation_arrangement"``) and
      cuts a chunk-sized region at the last separator with one ``bytes.rfind``. The handler decodes the whole region
      as one JSON array with msgspec into small typed shapes that skip every field it does not name. The decode
      itself proves the cut right: the region is a prefix of the true stream, JSON parsing is deterministic, and
      the region parses as complete elements only if the cut falls between two elements. A wrong cut (the pattern
      inside a string, keys in another order) or a type that does not fit the shape falls back to the exact path.
    * The exact path finds one element's end with msgspec too: decoding from the element's start raises "trailing
      characters (byte N)" at the separator after it, which gives the end without a Python loop over bytes.

What is checked (a failure raises :class:`ScanError`; the caller commits nothing)
    Every byte is parsed by msgspec (strict JSON: no NaN/Infinity, no trailing commas, no comments, no second
    document); the gzip CRC and length; gzip trailing garbage; the decompressed size and compression ratio caps
    (gzip bombs); an element larger than ``max_item_bytes``; nesting deeper than the parser's recursion limit
    (about 1,000 levels); duplicate root keys. Error messages give the byte offset in the decompressed JSON and the
    line and column. Every byte is also checked to be UTF-8 by the inflater (an ASCII chunk at memory speed,
    others with the incremental decoder), skipped elements included.

Memory bound
    About ``queue_chunks + 3`` chunks (``chunk_bytes`` each, 8 MiB by default) plus the largest single element
    (at most ``max_item_bytes``) twice while it is assembled, plus what the handler keeps; with helper processes
    also up to ``_MAX_PENDING`` batches not yet applied (~chunk-sized each) and the helpers' shared-memory slots
    (2 x chunk_bytes each: 4 for the inflater, ``tic_workers.SCAN_SLOTS`` for the scanner). With the defaults and
    ordinary elements (< 10 MB) a whole read that keeps no rows stays a few hundred MB above the libraries,
    whatever the file size (measured on 1 GB: README.md).
"""

from __future__ import annotations

import codecs
import hashlib
import queue
import re
import threading
import types
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, runtime_checkable

import msgspec

from benchmark.errors import InputFileError
from benchmark.sources.limits import GZIP_MAGIC, Limits

_inflate: types.ModuleType
try:  # python-isal: gunzip at ~1 GB/s instead of zlib's ~400 MB/s; optional, same API
    from isal import isal_zlib

    _inflate = isal_zlib
    # isal's stub declares `error: Exception` (an instance); it is the exception class zlib.error
    _INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, isal_zlib.error)  # type: ignore[assignment]
except ImportError:  # pragma: no cover - isal is a declared dependency; zlib is the fallback
    _inflate = zlib
    _INFLATE_ERRORS = (zlib.error,)

UTF8_BOM = b"\xef\xbb\xbf"
_WS = re.compile(rb"[ \t\r\n]*")


def _skip_ws(data: bytes | memoryview, at: int) -> int:
    """The offset of the first non-whitespace byte from ``at`` (``_WS`` matches everywhere, maybe empty)."""
    match = _WS.match(data, at)
    assert match is not None
    return match.end()


_KEY = re.compile(rb'"(?:[^"\\\x00-\x1f]|\\.)*"')
_SEPARATOR = re.compile(rb',[ \t\r\n]*\{[ \t\r\n]*"(?:[^"\\\x00-\x1f]|\\.){1,64}"')
_BYTE = re.compile(r"\(byte (\d+)\)")
_RAW = msgspec.json.Decoder(msgspec.Raw)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_TRAILING = "JSON is malformed: trailing characters"
_TRUNCATED = "Input data was truncated"


class ScanError(InputFileError):
    """A document that cannot be read at all; the message says where and why."""


@dataclass
class StreamStats:
    """What has been read so far (updated by the reader thread, read by progress callbacks)."""

    raw_bytes: int = 0
    json_bytes: int = 0
    compressed: bool = False
    sha256: str | None = None


class Batch:
    """Consecutive elements of a root array as one JSON array text, ready for a single msgspec decode."""

    __slots__ = ("data", "offset", "first_index", "_separator")

    def __init__(self, data: bytes, offset: int, first_index: int, separator: bytes | None) -> None:
        self.data = data  # b"[" + elements + b"]"
        self.offset = offset  # absolute offset in the JSON text of data[1]
        self.first_index = first_index
        self._separator = separator

    @property
    def separator(self) -> bytes | None:
        """The learned bytes between two elements (None when not known)."""
        return self._separator

    def spans(self, count: int) -> list[tuple[int, int]]:
        """(start, end) of each of the ``count`` elements inside ``data`` (the batch is known to be valid)."""
        data, separator = self.data, self._separator
        if separator:
            cuts, at = [], data.find(separator, 1)
            while at != -1:
                cuts.append(at)
                at = data.find(separator, at + 1)
            if len(cuts) == count - 1:
                spans = list(zip([1] + [cut + 1 for cut in cuts], cuts + [len(data) - 1]))
                if all(_is_one_value(data, start, end) for start, end in spans):
                    return spans
        return element_spans(data, count)


class ArrayHandler(Protocol):
    def batch(self, batch: Batch) -> int:
        """Decode the batch, use it, return its number of elements (msgspec errors propagate: see module doc)."""

    def element(self, index: int, data: bytes, offset: int) -> None:
        """One element, exactly delimited (the slow path: odd shapes, the first element, huge elements)."""

    def close(self, count: int) -> None:
        """The array ended after ``count`` elements."""


@runtime_checkable
class ScanningArrayHandler(Protocol):
    """An array handler whose batches are scanned without side effects (possibly in a helper process, ``pool``)
    and then applied in file order (instead of :meth:`ArrayHandler.batch`)."""

    pool: Any  # a batch pool (tic_workers.BatchScanner) or None

    def element(self, index: int, data: bytes, offset: int) -> None:
        """One element, exactly delimited (as :meth:`ArrayHandler.element`)."""

    def close(self, count: int) -> None:
        """The array ended after ``count`` elements."""

    def scan(self, data: bytes | memoryview, separator: bytes | None) -> Any:
        """Scan a batch text (``[`` + elements + ``]``); raise when it is not a list of ordinary elements."""

    def apply(self, scan: Any, first_index: int, offset: int, text: Callable[[slice], bytes]) -> int:
        """Use a scan (in file order); return the number of elements."""


@dataclass
class _Pending:
    """A batch cut from the buffer whose scan is not applied yet (absolute offsets of its region)."""

    start: int
    cut: int
    buf: bytes  # the buffer object the batch was cut from, and its absolute offset
    buf_base: int
    seq: int | None = None  # the helper's batch number while it is being scanned there
    scan: Any = None  # the scan result (None: failed, read exactly)


_MAX_PENDING = 10


@dataclass
class _Piece:
    """An earlier buffer object kept while a batch cut from it is pending, with the line count at its start."""

    base: int
    data: bytes
    lines_before: int
    last_newline: int


class DocumentHandler(Protocol):
    def root_value(self, key: str, data: bytes, offset: int) -> None:
        """A root value that is not an array (raw JSON text, complete and syntactically valid)."""

    def root_array(self, key: str) -> ArrayHandler:
        """The handler for the elements of the root array under ``key``."""


def scan_document(
    raw: BinaryIO,
    handler: DocumentHandler,
    *,
    name: str,
    limits: Limits | None = None,
    expect_gzip: bool = False,
    progress: Callable[[StreamStats], None] | None = None,
    reader: Callable[[StreamStats], Any] | None = None,
    stored_bytes: int | None = None,
) -> StreamStats:
    """Read, check and stream the JSON document in ``raw`` through ``handler``; the stats say what was read.

    ``name`` prefixes every error message. ``expect_gzip`` (the name ends in ``.gz``) turns non-gzip content into
    an error instead of reading it as plain JSON. ``progress`` is called after every chunk. ``reader`` makes the
    object that delivers the JSON chunks (``get``/``close``, e.g. the inflater helper process of ``tic_workers``)
    instead of a reader thread over ``raw``. ``stored_bytes``: the size of ``raw`` when known; a stream of at most
    :data:`AT_ONCE_BYTES` is read whole in this thread before it is scanned (no reader thread to start).
    """
    limits = limits or Limits()
    stats = StreamStats()
    chunks: Any  # the object delivering JSON chunks (get/close)
    if reader is not None:
        chunks = reader(stats)
    elif stored_bytes is not None and stored_bytes <= AT_ONCE_BYTES:
        chunks = _ReadAtOnce(raw, name=name, limits=limits, expect_gzip=expect_gzip, stats=stats)
    else:
        chunks = _ReaderThread(raw, name=name, limits=limits, expect_gzip=expect_gzip, stats=stats)
        chunks.start()
    try:
        _Scanner(chunks, handler, name=name, limits=limits, stats=stats, progress=progress).document()
    finally:
        chunks.close()
    return stats


# ---------------------------------------------------------------------------------------------------------------------
# Reader thread: raw bytes -> sha256, gunzip, caps, newline counts -> queue of chunks


class Inflater:
    """Raw bytes -> sha256, gunzip, caps, newline counts -> chunks handed to :meth:`put` (a subclass's transport).

    ``put`` receives ``(chunk, newlines)`` for every chunk of JSON text and ``None`` at the end; errors propagate
    to the caller of :meth:`run_stream`. Used by the reader thread here and by the inflater helper process
    (:mod:`benchmark.ingest.tic.workers`).
    """

    def __init__(
        self, raw: BinaryIO | None, *, name: str, limits: Limits, expect_gzip: bool, stats: StreamStats
    ) -> None:
        """``raw``: the stored bytes; None when a subclass opens them itself before :meth:`run_stream`."""
        self.raw, self.label, self.limits, self.expect_gzip, self.stats = raw, name, limits, expect_gzip, stats
        self._hasher = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()  # every byte must be UTF-8, skipped items included
        self._text_bytes = 0  # JSON bytes handed on so far
        self._lines = 0  # newlines in them
        self._last_newline = -1  # absolute offset of the last one

    def put(self, item: tuple[bytes, int] | None) -> None:
        raise NotImplementedError

    def stopped(self) -> bool:
        return False

    def run_stream(self) -> None:
        self._read()
        self._flush()
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ScanError(
                f"{self.label}: text is not UTF-8: the file ends inside a multi-byte character "
                f"(byte {self._text_bytes:,})"
            ) from None
        self.stats.sha256 = self._hasher.hexdigest()
        self.put(None)

    def _raw_read(self, size: int) -> bytes:
        if self.stopped():
            raise ScanError(f"{self.label}: reading stopped")
        if self.raw is None:
            raise ScanError(f"{self.label}: nothing to read (no stream opened)")
        data = self.raw.read(size)
        if data:
            self._hasher.update(data)
            self.stats.raw_bytes += len(data)
        return data

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self.stats.json_bytes += len(data)
        limits = self.limits
        if self.stats.json_bytes > limits.max_decompressed_bytes:
            raise ScanError(
                f"{self.label}: decompressed size exceeds the cap of {limits.max_decompressed_bytes:,} bytes "
                "(Limits.max_decompressed_bytes); refusing a possible gzip bomb"
            )
        if (
            self.stats.compressed
            and self.stats.json_bytes > limits.ratio_grace_bytes
            and self.stats.json_bytes > limits.max_compression_ratio * max(self.stats.raw_bytes, 1)
        ):
            raise ScanError(
                f"{self.label}: compression ratio above {limits.max_compression_ratio:g}:1 "
                f"({self.stats.json_bytes:,} bytes out of {self.stats.raw_bytes:,}); refusing a possible gzip bomb "
                "(Limits.max_compression_ratio)"
            )
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= limits.chunk_bytes // 2:  # gunzip output is ~chunk_bytes: no join, no extra copy
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        chunk = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        newlines = _newlines(chunk)
        self._check_utf8(chunk)
        if newlines:
            self._lines += newlines
            self._last_newline = self._text_bytes + chunk.rfind(b"\n")
        self._text_bytes += len(chunk)
        self.put((chunk, newlines))

    def _check_utf8(self, chunk: bytes) -> None:
        """Reject text that is not UTF-8 (an ASCII chunk, the usual case, is known valid at memory speed)."""
        if chunk.isascii() and not self._utf8.getstate()[0]:
            return
        try:
            self._utf8.decode(chunk)
        except UnicodeDecodeError as error:
            at = max(error.start - len(self._utf8.getstate()[0]), 0)
            offset = self._text_bytes + at
            line = self._lines + chunk.count(b"\n", 0, at) + 1
            last = chunk.rfind(b"\n", 0, at)
            column = at - last if last >= 0 else offset - self._last_newline
            raise ScanError(
                f"{self.label}: text is not UTF-8 ({error.reason}) at byte {offset:,} "
                f"(line {line:,}, column {column:,}) near {chunk[max(at - 20, 0) : at + 20]!r}"
            ) from None

    def _read(self) -> None:
        first = self._raw_read(min(self.limits.chunk_bytes, 1 << 20))  # small: the first chunk comes sooner
        if first[:2] != GZIP_MAGIC:
            if self.expect_gzip:
                raise ScanError(
                    f"{self.label}: named .gz but is not gzip data; it starts with {first[:64]!r}{content_hint(first)}"
                )
            data = first
            while data:
                self._emit(data)
                data = self._raw_read(self.limits.chunk_bytes)
            return
        self.stats.compressed = True
        self._gunzip(first)

    def _gunzip(self, data: bytes) -> None:
        step = 2 * self.limits.chunk_bytes  # ~chunk-sized outputs from 1 MiB of input fit whole: no remainders
        inflater: Any = _inflate.decompressobj(wbits=31)  # a decompressor, or _EndOfStream after the last member
        try:
            while True:
                feed = data
                while feed:
                    self._emit(inflater.decompress(feed, step))
                    feed = inflater.unconsumed_tail
                    if inflater.eof:
                        rest = inflater.unused_data
                        feed = b""
                        if rest:
                            inflater = self._next_member(rest)
                            feed = rest if inflater is not None else b""
                            inflater = inflater or _EndOfStream()
                data = self._raw_read(1 << 20)
                if not data:
                    break
                if inflater.eof:  # bytes after a complete member: another member, zero padding or garbage
                    inflater = self._next_member(data) or _EndOfStream()
        except _INFLATE_ERRORS as error:
            raise ScanError(
                f"{self.label}: corrupt or truncated gzip data after {self.stats.raw_bytes:,} compressed bytes "
                f"({error})"
            ) from error
        if not inflater.eof:
            raise ScanError(
                f"{self.label}: corrupt or truncated gzip data: the file ends before the end of the compressed stream "
                f"({self.stats.raw_bytes:,} compressed bytes, {self.stats.json_bytes:,} bytes of JSON)"
            )

    def _next_member(self, data: bytes):
        """A fresh decompressor when ``data`` starts another gzip member; None for zero padding; else an error."""
        if data.startswith(GZIP_MAGIC):
            return _inflate.decompressobj(wbits=31)
        if not data.strip(b"\x00"):
            return None
        raise ScanError(
            f"{self.label}: corrupt or truncated gzip data: {data[:16]!r}... after the end of the gzip stream"
        )


def _newlines(chunk: bytes) -> int:
    """Newlines in a chunk (for line:column in error messages). Minified JSON has none, which ``find`` tells at memchr
    speed; no numpy here, so that the inflater helper process starts in a few tens of milliseconds."""
    return chunk.count(b"\n") if chunk.find(b"\n") >= 0 else 0


class _ReaderThread(Inflater, threading.Thread):
    """The inflater in a thread of this process (a queue of chunks for the scanner)."""

    def __init__(self, raw: BinaryIO, *, name: str, limits: Limits, expect_gzip: bool, stats: StreamStats) -> None:
        Inflater.__init__(self, raw, name=name, limits=limits, expect_gzip=expect_gzip, stats=stats)
        threading.Thread.__init__(self, daemon=True, name=f"tic-reader {name[:40]}")
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, limits.queue_chunks))
        self._stop_event = threading.Event()

    def get(self) -> Any:
        """The next ``(chunk, newlines)``, None at the end, or the exception that stopped the reading."""
        return self.queue.get()

    def close(self) -> None:
        self._stop_event.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.join(timeout=5)

    def run(self) -> None:
        try:
            self.run_stream()
        except BaseException as error:  # handed to the main thread, which raises it
            self.put(error)

    def stopped(self) -> bool:
        return self._stop_event.is_set()

    def put(self, item: Any) -> None:
        while not self._stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


# A stream this small is read whole before it is scanned: starting and joining a reader thread costs more than the
# reading (~0.3 ms of a CMS example's ~5 ms). Gunzipped, it holds at most ~33 MB (deflate's ratio is at most ~1032:1),
# within the memory bound of the reader thread's queue (module docstring).
AT_ONCE_BYTES = 32 << 10


class _ReadAtOnce(Inflater):
    """The inflater run to the end in the caller's thread when it is made: its chunks (and the exception that stopped
    the reading, in its place) handed out in order, as the reader thread hands them."""

    def __init__(self, raw: BinaryIO, *, name: str, limits: Limits, expect_gzip: bool, stats: StreamStats) -> None:
        super().__init__(raw, name=name, limits=limits, expect_gzip=expect_gzip, stats=stats)
        self._chunks: deque[Any] = deque()
        try:
            self.run_stream()
        except Exception as error:  # raised by the scanner when it comes to it
            self.put(error)

    def put(self, item: Any) -> None:
        self._chunks.append(item)

    def get(self) -> Any:
        return self._chunks.popleft()

    def close(self) -> None:
        self._chunks.clear()


class _EndOfStream:
    """Stands for a finished gzip stream followed only by zero padding."""

    eof = True
    unused_data = b""
    unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if data.strip(b"\x00"):
            raise zlib.error("data after the end of the gzip stream")
        return b""


def content_hint(start: bytes) -> str:
    """A hint about what non-JSON content is (an HTML error page, a zip archive)."""
    text = start.lstrip(UTF8_BOM).lstrip()
    if text.startswith(b"<"):
        return " — the content looks like an HTML/XML page (an error page or expired link?), not JSON"
    if text.startswith(b"PK\x03\x04"):
        return " — the content looks like a zip archive, not JSON"
    return ""


# ---------------------------------------------------------------------------------------------------------------------
# Main thread: the root object and its arrays


@dataclass
class _Position:
    """Newline bookkeeping for line:column of an absolute offset."""

    lines_before: int = 0  # newlines before buf[0]
    last_newline: int = -1  # absolute offset of the last newline before buf[0]
    buffer_newlines: int = 0  # newlines inside buf


@dataclass
class _Scanner:
    reader: Any  # _ReaderThread or tic_workers.InflaterClient: get() and close()
    handler: DocumentHandler
    name: str
    limits: Limits
    stats: StreamStats
    progress: Callable[[StreamStats], None] | None
    buf: bytes = b""
    pos: int = 0  # everything before pos may be dropped
    base: int = 0  # absolute offset of buf[0]
    eof: bool = False
    where_: _Position = field(default_factory=_Position)
    hold: int | None = None  # absolute offset of the oldest pending batch (its text stays available)
    retained: list = field(default_factory=list)  # _Piece: earlier buffers that hold pending batches' text

    # -- the document ------------------------------------------------------------------------------------------------

    def document(self) -> None:
        first = self._peek()
        if first is None:
            raise ScanError(f"{self.name}: the file is empty")
        if first != b"{":
            if first == b"[":
                raise ScanError(f"{self.name}: the JSON root is not an object (it is an array)")
            raise self._syntax(self.base + self.pos, "expected '{' at the start of the document")
        self.pos += 1
        seen: set[str] = set()
        if self._peek() == b"}":
            self.pos += 1
        else:
            while True:
                key = self._key()
                if key in seen:
                    raise ScanError(f"{self.name}: duplicate root key {key!r} {self.where(self.base + self.pos)}")
                seen.add(key)
                self._expect(b":", f"expected ':' after root key {key!r}")
                value = self._peek()
                if value is None:
                    raise self._truncated(f"the file ends after root key {key!r}")
                if value == b"[":
                    self._array(key, self.handler.root_array(key))
                else:
                    start = self.pos
                    end = self._value_end(f"root value {key!r}")
                    start = self.pos  # _value_end keeps pos at the value's start (the buffer may have moved)
                    self.handler.root_value(key, self.buf[start:end], self.base + start)
                    self.pos = end
                separator = self._peek()
                if separator == b",":
                    self.pos += 1
                    continue
                if separator == b"}":
                    self.pos += 1
                    break
                if separator is None:
                    raise self._truncated(f"the file ends after root value {key!r}")
                raise self._syntax(self.base + self.pos, f"expected ',' or '}}' after root value {key!r}")
        rest = self._peek()
        if rest is not None:
            raise self._syntax(
                self.base + self.pos, "data after the end of the JSON document (a second root document?)"
            )

    def _key(self) -> str:
        if self._peek() != b'"':
            if self._peek() is None:
                raise self._truncated("the file ends inside the root object")
            raise self._syntax(self.base + self.pos, "expected a root key (a JSON string)")
        while True:
            match = _KEY.match(self.buf, self.pos)
            if match:
                break
            if len(self.buf) - self.pos > 1 << 20:
                raise self._syntax(self.base + self.pos, "invalid root key (not a JSON string)")
            if not self._more():
                raise self._truncated("the file ends inside a root key")
        try:
            key = msgspec.json.decode(match.group(), type=str)
        except msgspec.DecodeError as error:
            raise self._syntax(self.base + self.pos, f"invalid root key ({error})") from None
        self.pos = match.end()
        return key

    def _expect(self, char: bytes, message: str) -> None:
        found = self._peek()
        if found != char:
            if found is None:
                raise self._truncated(message)
            raise self._syntax(self.base + self.pos, message)
        self.pos += 1

    # -- arrays ------------------------------------------------------------------------------------------------------

    def _array(self, key: str, handler: ArrayHandler | ScanningArrayHandler) -> None:
        if isinstance(handler, ScanningArrayHandler):
            self._scanned_array(key, handler)
            return
        self.pos += 1  # '['
        index = 0
        separator: bytes | None = None
        batch_after = 0  # no batch may end at or before this absolute offset (a cut that proved wrong)
        if self._peek() == b"]":
            self.pos += 1
            handler.close(0)
            return
        while True:
            start = self.pos
            cut = self.buf.rfind(separator, start) if separator else -1
            if cut > start and self.base + cut > batch_after:
                count, stopped = self._batch(key, handler, index, start, cut, separator)
                index += count
                if stopped is not None:  # the cut was inside an element: read the next one exactly
                    self.pos = stopped
                    batch_after = self.base + cut
                    continue
                self.pos = cut
            else:
                end = self._value_end(f"{key}[{index}]")
                handler.element(index, self.buf[self.pos : end], self.base + self.pos)
                index += 1
                self.pos = end
                separator = self._learn_separator(end) or separator
            if self._next_element(key):
                continue
            self._close_array(key, handler, index)
            return

    def _scanned_array(self, key: str, handler: ScanningArrayHandler) -> None:
        """A root array whose handler scans batches without side effects: each batch goes to the handler's helper
        process when it has a free slot, else is scanned here; results are applied strictly in file order, so a
        batch that proves its cut wrong is read exactly from its start and the batches after it are discarded."""
        pool = handler.pool
        self.pos += 1  # '['
        index, seq, separator, batch_after = 0, 0, None, 0
        pending: deque[_Pending] = deque()
        if self._peek() == b"]":
            self.pos += 1
            handler.close(0)
            return
        at_element = True
        while True:
            failure = None
            if at_element:
                start = self.pos
                cut = self._batch_cut(separator, batch_after)
                if cut is not None:
                    start = self.pos  # reading more may have moved the buffer
                    entry = _Pending(self.base + start, self.base + cut, self.buf, self.base)
                    with memoryview(self.buf) as view, view[start:cut] as region:
                        if pool is not None and pool.submit(seq, region, separator):
                            entry.seq = seq
                        else:
                            entry.scan = self._scan_here(handler, region, separator)
                    seq += 1
                    pending.append(entry)
                    self.hold = pending[0].start
                    self.pos = cut
                    index, failure = self._settle(pending, handler, index, wait_all=False)
                else:
                    index, failure = self._settle(pending, handler, index, wait_all=True)
                    if failure is None:
                        end = self._value_end(f"{key}[{index}]")
                        handler.element(index, self.buf[self.pos : end], self.base + self.pos)
                        index += 1
                        self.pos = end
                        separator = self._learn_separator(end) or separator
                if failure is not None:
                    index, at_element, batch_after = self._recover(key, handler, index, failure, batch_after)
                    continue
            if self._next_element(key):
                at_element = True
                continue
            index, failure = self._settle(pending, handler, index, wait_all=True)  # the end, or an error: all in
            if failure is not None:
                index, at_element, batch_after = self._recover(key, handler, index, failure, batch_after)
                continue
            self._close_array(key, handler, index)
            return

    def _next_element(self, key: str) -> bool:
        """After an element: True past a ',' (another element follows); False before anything else."""
        if self._peek() != b",":
            return False
        self.pos += 1
        if self._peek() == b"]":
            raise self._syntax(self.base + self.pos, f"trailing comma in {key}")
        return True

    def _close_array(self, key: str, handler: ArrayHandler | ScanningArrayHandler, count: int) -> None:
        """At the array's ']' (after ``count`` elements): close it; anything else is an error."""
        following = self._peek()
        if following == b"]":
            self.pos += 1
            handler.close(count)
            return
        if following is None:
            raise self._truncated(f"premature EOF: the file ends inside {key} (after element {count - 1})")
        raise self._syntax(self.base + self.pos, f"expected ',' or ']' after {key}[{count - 1}]")

    def _batch_cut(self, separator: bytes | None, batch_after: int) -> int | None:
        """Where a batch starting at pos can end (the last separator buffered), reading up to two more chunks to
        find one; None when the next element must be read exactly (no separator known or near, the array's end)."""
        if not separator:
            return None
        while True:
            cut = self.buf.rfind(separator, self.pos)
            if cut > self.pos and self.base + cut > batch_after:
                return cut
            if self.eof or len(self.buf) - self.pos > 2 * self.limits.chunk_bytes or not self._more():
                return None

    def _scan_here(self, handler: ScanningArrayHandler, region: memoryview, separator: bytes | None) -> Any:
        try:
            return handler.scan(b"".join((b"[", region, b"]")), separator)
        except (msgspec.MsgspecError, ValueError, RecursionError, TypeError):
            return None  # the exact path decides what is wrong

    def _settle(
        self, pending: deque[_Pending], handler: ScanningArrayHandler, index: int, wait_all: bool
    ) -> tuple[int, _Pending | None]:
        """Apply finished batches in order; wait when asked (or when too many are pending). Returns the index after
        them and the first batch whose scan failed (the batches after it are dropped)."""
        pool = handler.pool
        while pending:
            head = pending[0]
            if head.seq is not None:
                if head.seq not in pool.finished:
                    wait = wait_all or len(pending) > _MAX_PENDING
                    pool.collect(wait_for=head.seq if wait else None)
                    if head.seq not in pool.finished:
                        break
                head.scan, head.seq = pool.take(head.seq), None
            pending.popleft()
            if head.scan is None:
                if pool is not None:
                    pool.discard([entry.seq for entry in pending if entry.seq is not None])
                pending.clear()
                self.hold = None
                return index, head
            base = head.start - head.buf_base - 1  # index in head.buf of the batch text's "[" (one before the region)

            def text(part: slice, data: bytes = head.buf, base: int = base) -> bytes:
                return data[base + part.start : base + part.stop]

            index += handler.apply(head.scan, index, head.start, text)
        self.hold = pending[0].start if pending else None
        if self.hold is None:
            self.retained.clear()
        elif self.retained:
            self.retained = [piece for piece in self.retained if piece.base + len(piece.data) > self.hold]
        return index, None

    def _recover(
        self, key: str, handler: ScanningArrayHandler, index: int, failed: _Pending, batch_after: int
    ) -> tuple[int, bool, int]:
        """Read a batch whose scan failed exactly; (index after it, whether pos is at an element, batch_after)."""
        self._rewind(failed.start)
        start, cut = failed.start - self.base, failed.cut - self.base
        count, stopped = self._exact_region(key, handler, index, start, cut)
        if stopped is not None:  # the cut was inside an element: read on from that element
            self.pos = stopped
            return index + count, True, failed.cut
        self.pos = cut
        return index + count, False, batch_after

    def _batch(
        self, key: str, handler: ArrayHandler, index: int, start: int, cut: int, separator: bytes | None
    ) -> tuple[int, int | None]:
        """Elements in buf[start:cut]: (count, None) when all were read; (count, restart) when cut was wrong."""
        with memoryview(self.buf) as view:  # one copy of the region, brackets included
            data = b"".join((b"[", view[start:cut], b"]"))
        batch = Batch(data, self.base + start, index, separator)
        try:
            return handler.batch(batch), None
        except (msgspec.MsgspecError, ValueError, RecursionError):
            pass  # odd element types, a syntax error or a wrong cut: the exact path decides which
        return self._exact_region(key, handler, index, start, cut)

    def _exact_region(
        self, key: str, handler: ArrayHandler | ScanningArrayHandler, index: int, start: int, cut: int
    ) -> tuple[int, int | None]:
        count, at = 0, start
        view = memoryview(self.buf)
        try:
            while True:
                try:
                    _RAW.decode(view[at:cut])
                    end = cut  # the element runs to the cut
                except msgspec.DecodeError as error:
                    message = str(error)
                    if message.startswith(_TRAILING):
                        end = at + _error_byte(message) - 1
                    elif _cut_short(message, cut - at):
                        return count, at  # the cut falls inside this element
                    else:
                        raise self._syntax(self.base + at + _error_byte(message), message) from None
                except RecursionError:
                    raise self._nesting(self.base + at, f"{key}[{index + count}]") from None
                handler.element(index + count, self.buf[at:end], self.base + at)
                count += 1
                if end >= cut:
                    return count, None
                at = _skip_ws(self.buf, end)
                if self.buf[at : at + 1] != b",":
                    raise self._syntax(self.base + at, f"expected ',' or ']' after {key}[{index + count - 1}]")
                at = _skip_ws(self.buf, at + 1)
                if at >= cut:
                    raise self._syntax(self.base + at, f"expected an element after ',' in {key}")
        finally:
            view.release()

    def _learn_separator(self, end: int) -> bytes | None:
        """The bytes between two elements up to the next element's first key, e.g. ``,{"provider_group_id"``."""
        at = _skip_ws(self.buf, end)
        match = _SEPARATOR.match(self.buf, at)
        return match.group() if match else None

    # -- one value, exactly -----------------------------------------------------------------------------------------

    def _value_end(self, what: str) -> int:
        """Index (in the current buffer) just past the JSON value starting at ``self.pos``; reads more as needed."""
        want = 0
        while True:
            view = memoryview(self.buf)[self.pos :]
            try:
                _RAW.decode(view)
                if self.eof:
                    return len(self.buf)
            except msgspec.DecodeError as error:
                message = str(error)
                if message.startswith(_TRAILING):
                    return self.pos + _error_byte(message) - 1
                if self.eof and message.startswith(_TRUNCATED):
                    raise self._truncated(f"premature EOF: the file ends inside {what}") from None
                if self.eof or not _cut_short(message, len(self.buf) - self.pos):
                    raise self._syntax(self.base + self.pos + _error_byte(message), message) from None
            except RecursionError:
                raise self._nesting(self.base + self.pos, what) from None
            finally:
                view.release()
            have = len(self.buf) - self.pos
            if have > self.limits.max_item_bytes:
                raise ScanError(
                    f"{self.name}: {what} is larger than {self.limits.max_item_bytes:,} bytes "
                    f"(Limits.max_item_bytes) {self.where(self.base + self.pos)}"
                )
            want = max(want * 2, have + 1)
            while len(self.buf) - self.pos < want and self._more():
                pass

    # -- the buffer --------------------------------------------------------------------------------------------------

    def _peek(self) -> bytes | None:
        """The next non-whitespace byte (pos moved onto it), or None at the end of the document."""
        while True:
            self.pos = _skip_ws(self.buf, self.pos)
            if self.pos < len(self.buf):
                return self.buf[self.pos : self.pos + 1]
            if not self._more():
                return None

    def _more(self) -> bool:
        """Append the next chunk (dropping bytes before pos); False at the end of the stream."""
        if self.eof:
            return False
        item = self.reader.get()
        if isinstance(item, BaseException):
            raise item
        if item is None:
            self.eof = True
            self._report()
            return False
        chunk, newlines = item  # bytes, or a memoryview valid until the next get()
        if self.base == 0 and not self.buf and bytes(chunk[:3]) == UTF8_BOM:
            self.pos = len(UTF8_BOM)
            self.buf = bytes(chunk)
            self.where_.buffer_newlines = newlines
            return True
        self._append(chunk)
        self.where_.buffer_newlines += newlines
        self._report()
        return True

    def _append(self, chunk: bytes | memoryview) -> None:
        """buf = buf[pos:] + chunk in one copy. While batches are pending, the old buffer object is kept (not
        copied) so that a batch that proves wrong can be read again from its start (:meth:`_rewind`)."""
        drop, where = self.pos, self.where_
        if self.hold is not None and self.base + len(self.buf) > self.hold:
            self.retained.append(_Piece(self.base, self.buf, where.lines_before, where.last_newline))
        if drop:
            tail_newlines = self.buf.count(b"\n", drop)
            if where.buffer_newlines - tail_newlines:
                where.lines_before += where.buffer_newlines - tail_newlines
                where.last_newline = self.base + self.buf.rfind(b"\n", 0, drop)
            where.buffer_newlines = tail_newlines
        if drop < len(self.buf):
            with memoryview(self.buf) as view:
                self.buf = b"".join((view[drop:], chunk))
        else:
            self.buf = bytes(chunk)  # the same object when chunk is bytes; a copy of a shared-memory view
        self.base += drop
        self.pos -= drop

    def _rewind(self, offset: int) -> None:
        """Make the buffer hold the text from ``offset`` (the start of a pending batch) again; pos = offset."""
        first = next((i for i, piece in enumerate(self.retained) if piece.base + len(piece.data) > offset), None)
        if first is not None:
            pieces, parts, at = self.retained[first:], [], self.retained[first].base
            for piece in pieces:
                parts.append(memoryview(piece.data)[at - piece.base :])
                at = piece.base + len(piece.data)
            parts.append(memoryview(self.buf)[at - self.base :])
            head = pieces[0]
            self.buf, self.base = b"".join(parts), head.base
            self.where_ = _Position(head.lines_before, head.last_newline, self.buf.count(b"\n"))
            for part in parts:
                part.release()
        self.retained.clear()
        self.pos = offset - self.base

    def _report(self) -> None:
        if self.progress:
            self.progress(self.stats)

    # -- errors ------------------------------------------------------------------------------------------------------

    def where(self, offset: int) -> str:
        """``at byte N (line L, column C)`` for an absolute offset in the JSON text (while it is buffered)."""
        index = offset - self.base
        if not 0 <= index <= len(self.buf):
            return f"at byte {offset:,}"
        line = self.where_.lines_before + self.buf.count(b"\n", 0, index) + 1
        last = self.buf.rfind(b"\n", 0, index)
        column = index - last if last >= 0 else offset - self.where_.last_newline
        return f"at byte {offset:,} (line {line:,}, column {column:,})"

    def _syntax(self, offset: int, detail: str) -> ScanError:
        detail = _BYTE.sub("", detail).strip()  # msgspec's offset is relative to a slice; ours follows
        index = offset - self.base
        start = self.buf[index : index + 40] if 0 <= index < len(self.buf) else b""
        hint = content_hint(self.buf[:64]) if self.base == 0 and offset <= 64 else ""
        return ScanError(
            f"{self.name}: invalid JSON ({self.stats.json_bytes:,} bytes read so far; parser said: {detail}) "
            f"{self.where(offset)} near {start!r}{hint}"
        )

    def _truncated(self, detail: str) -> ScanError:
        if "premature EOF" not in detail:
            detail = f"premature EOF: {detail}"
        return ScanError(
            f"{self.name}: invalid JSON ({self.stats.json_bytes:,} bytes read so far; parser said: {detail}) "
            f"{self.where(self.base + len(self.buf))} — the file is truncated"
        )

    def _nesting(self, offset: int, what: str) -> ScanError:
        return ScanError(
            f"{self.name}: excessive nesting in {what} (deeper than the parser's limit of about 1,000 levels) "
            f"{self.where(offset)}"
        )


def _cut_short(message: str, length: int) -> bool:
    """True when a decode error may only mean that the text stops early (``12.`` or ``tr`` at the very end)."""
    return message.startswith(_TRUNCATED) or _error_byte(message) >= length - 64


def _error_byte(message: str) -> int:
    match = _BYTE.search(message)
    return int(match.group(1)) if match else 0


def _is_one_value(data: bytes, start: int, end: int) -> bool:
    """True when data[start:end] is exactly one complete JSON value (whitespace around it allowed)."""
    try:
        _RAW.decode(data[start:end])
        return True
    except msgspec.DecodeError:
        return False


def element_spans(data: bytes, count: int) -> list[tuple[int, int]]:
    """Element spans of a valid JSON array text (``count`` elements, ``[`` at offset 0), found one at a time."""
    spans, at = [], _skip_ws(data, 1)
    view = memoryview(data)
    try:
        for _ in range(count):
            try:
                _RAW.decode(view[at:])
                raise AssertionError("a valid batch ends with ']'")
            except msgspec.DecodeError as error:
                end = at + _error_byte(str(error)) - 1
            spans.append((at, end))
            at = _skip_ws(data, end) + 1  # past ',' (or ']' after the last one)
            at = _skip_ws(data, at)
    finally:
        view.release()
    return spans


def object_members(text: bytes) -> list[tuple[bytes, int, int]] | None:
    """(key text as published, value start, value end) of every member of the JSON object ``text``, in order,
    repeated keys included; None when ``text`` is not exactly one valid JSON object (whitespace around it allowed).

    Each value's end is found by msgspec (decoding from its start raises "trailing characters (byte N)" at the byte
    after it), so the values are checked but not built: a member holding a large array costs one C-level pass.
    """
    at = _skip_ws(text, 0)
    if text[at : at + 1] != b"{":
        return None
    members: list[tuple[bytes, int, int]] = []
    view = memoryview(text)
    try:
        at = _skip_ws(text, at + 1)
        if text[at : at + 1] == b"}":
            return members if _skip_ws(text, at + 1) == len(text) else None
        while True:
            match = _KEY.match(text, at)
            if match is None:
                return None
            at = _skip_ws(text, match.end())
            if text[at : at + 1] != b":":
                return None
            start = _skip_ws(text, at + 1)
            try:
                _RAW.decode(view[start:])
                return None  # the value runs to the end of the text: no closing brace
            except msgspec.DecodeError as error:
                message = str(error)
                if not message.startswith(_TRAILING):
                    return None
                end = start + _error_byte(message) - 1
            except RecursionError:
                return None
            members.append((match.group(), start, end))
            at = _skip_ws(text, end)
            if text[at : at + 1] == b"}":
                return members if _skip_ws(text, at + 1) == len(text) else None
            if text[at : at + 1] != b",":
                return None
            at = _skip_ws(text, at + 1)
    finally:
        view.release()
