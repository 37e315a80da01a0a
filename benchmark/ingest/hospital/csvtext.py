"""Physical lines and CSV records of messy text files, numbered the way an editor numbers them.

Files published by hospitals arrive as UTF-8 with or without a BOM, with cp1252 bytes here and there, with LF, CRLF
and lone CR line ends mixed in one file, gzip-compressed or not, and with quoted fields that span lines. A
:class:`ByteSource` reads such a file front to back exactly once (no seeking, so a gzip stream works the same) and
hands out either

- whole-line chunks of raw bytes (:meth:`ByteSource.take_chunk`), for a fast columnar parser, or
- :class:`Record` objects (:func:`records`): decoded CSV records with the physical line where each starts and ends;
  a line that is not valid UTF-8 is decoded as cp1252 and its number is remembered (``cp1252_lines``).

Both advance the same position and line counter, so a reader can switch between them at any record boundary.
Line numbers are 1-based; a line ends at LF, CRLF or a lone CR.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

UTF8_BOM = b"\xef\xbb\xbf"
MAX_RECORD_LINES = 10_000  # a quoted field longer than this is an unclosed quote
# No physical line of a standard-charge CSV comes near this (a wide header of thousands of payer-plan columns is
# about 1 MB); a longer one is refused as soon as its first 16 MB are read, so memory stays bounded.
MAX_LINE_BYTES = 16 << 20
_LINE_END = re.compile(rb"\r\n|\n|\r")
_READ_SIZE = 8 << 20
# the first read: most files are small, and a fresh 8 MB buffer costs a small file more than reading it (its pages
# are zeroed); a larger file goes on in _READ_SIZE buffers
_FIRST_READ_SIZE = 64 << 10
_SPARE_BUFFERS = 6  # buffers kept for reuse (chunks in flight hold a few)


class LineTooLongError(ValueError):
    """A physical line longer than :data:`MAX_LINE_BYTES` (not a CSV a hospital publishes; refused early)."""

    def __init__(self, line: int) -> None:
        super().__init__(
            f"line {line}: longer than {MAX_LINE_BYTES >> 20} MB without a line end; not a readable CSV "
            "(limit csvtext.MAX_LINE_BYTES)"
        )
        self.line = line


class UnbalancedQuoteError(ValueError):
    """A quoted field that swallows what look like whole CSV rows (an unbalanced quote)."""

    def __init__(self, first_line: int, last_line: int) -> None:
        super().__init__(
            f"line {first_line}: a quoted field runs to line {last_line} and contains what look like "
            "whole CSV rows (unbalanced quote?)"
        )
        self.first_line = first_line
        self.last_line = last_line


@dataclass(frozen=True)
class Record:
    """One CSV record: its cells and the physical lines it spans."""

    first_line: int
    last_line: int
    cells: list[str]

    def is_blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when the content (not the name) is gzip."""
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


class ByteSource:
    """Sequential reader of a byte stream that keeps the physical line number of its position.

    Bytes are read into large buffers. A buffer is used again once nothing refers to it any more (no chunk view,
    no parser still holding one): fresh multi-megabyte allocations cost page faults on every read.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buffer: bytes | bytearray = b""
        self._pos = 0  # start of the unconsumed bytes in _buffer
        self._end = 0  # end of the valid bytes in _buffer
        self._eof = False
        self._spare: list[bytearray] = []
        self.line = 1  # physical line number at the current position
        self.offset = 0  # bytes consumed
        self.cp1252_lines: list[int] = []
        self._read_size = _FIRST_READ_SIZE
        self._fill(4)
        self._read_size = _READ_SIZE
        if self._buffer[:3] == UTF8_BOM and self._end >= 3:
            self._pos = len(UTF8_BOM)
            self.offset = len(UTF8_BOM)

    @property
    def exhausted(self) -> bool:
        return self._eof and self._pos >= self._end

    def fits(self, size: int) -> bool:
        """Whether the rest of the stream is at most ``size`` bytes (read ahead only as far as
        :meth:`take_chunk` of ``size`` reads)."""
        self._fill(size + 1)
        return self._eof and self._available() <= size

    def _available(self) -> int:
        return self._end - self._pos

    def _fill(self, size: int) -> None:
        """Read until ``size`` unconsumed bytes are buffered (or the end of the stream), into a new or unused
        buffer: views handed out earlier keep theirs alive and unchanged."""
        if self._available() >= size or self._eof:
            return
        remainder = self._available()
        capacity = remainder + max(self._read_size, size - remainder)
        buffer = self._unused_buffer(capacity)
        buffer[:remainder] = memoryview(self._buffer)[self._pos : self._end]
        filled = remainder
        with memoryview(buffer) as view:
            while filled < capacity:
                count = self._stream.readinto(view[filled:capacity])  # type: ignore[attr-defined]
                if not count:
                    self._eof = True
                    break
                filled += count
        if isinstance(self._buffer, bytearray):
            self._spare.append(self._buffer)
        self._buffer, self._pos, self._end = buffer, 0, filled

    def _unused_buffer(self, capacity: int) -> bytearray:
        if capacity < _READ_SIZE:  # the first read's small buffer: not worth keeping
            return bytearray(capacity)
        for index in range(len(self._spare)):
            candidate = self._spare[index]
            # referred to only by the list, this variable and getrefcount's argument: nothing else uses it
            if len(candidate) >= capacity and sys.getrefcount(candidate) <= 3:
                return self._spare.pop(index)
        del self._spare[:-_SPARE_BUFFERS]  # the oldest still in use: let them go
        return bytearray(-(-(capacity + (1 << 20)) // (1 << 20)) << 20)  # whole MB and some room: reusable

    # -- raw chunks ----------------------------------------------------------------------------------------------

    def take_chunk(self, size: int, *, count: bool = True) -> Chunk:
        """About ``size`` bytes of whole physical lines from the current position (a zero-copy view), with the
        number of lines and of double quotes they hold.

        The chunk ends after a line end (or at the end of the file). The caller must make sure no quoted field
        crosses the cut, or give the bytes back with :meth:`push_back`. With ``count=False`` the lines are not
        counted (:meth:`Chunk.counted` does it, e.g. in another thread) and :attr:`line` is left to the caller.
        """
        self._fill(size + 1)
        buffer, pos, stop = self._buffer, self._pos, self._end
        if stop - pos <= size and self._eof:
            cut = stop
        else:
            end = pos + size
            cut = max(buffer.rfind(b"\n", pos, end), buffer.rfind(b"\r", pos, end - 1)) + 1
            if cut <= pos:  # one line longer than size: take that line whole
                match = _LINE_END.search(buffer, end, stop)
                while match is None and not self._eof:
                    if self._available() > MAX_LINE_BYTES:
                        raise LineTooLongError(self.line)
                    self._fill(self._available() * 2)
                    buffer, pos, stop = self._buffer, self._pos, self._end
                    match = _LINE_END.search(buffer, pos + size, stop)
                cut = match.end() if match else stop
        chunk = Chunk(memoryview(buffer)[pos:cut], self.line)
        self._pos = cut
        self.offset += cut - pos
        if count:
            chunk = chunk.counted()
            self.line += chunk.lines
        return chunk

    def push_back(self, data: bytes, lines: int) -> None:
        """Put ``data`` (``lines`` physical lines just consumed) back in front of the current position."""
        start = self._pos - len(data)
        if start >= 0 and memoryview(self._buffer)[start : self._pos] == data:
            self._pos = start  # still in the buffer: no copy
        else:
            self._buffer = data + bytes(memoryview(self._buffer)[self._pos : self._end])
            self._pos, self._end = 0, len(self._buffer)
        self.offset -= len(data)
        self.line -= lines

    # -- decoded lines -------------------------------------------------------------------------------------------

    def next_line(self) -> tuple[str, bytes] | None:
        """The next physical line decoded (UTF-8, else cp1252) and ending in "\\n", with its raw bytes; None at the
        end of the file."""
        while True:
            match = _LINE_END.search(self._buffer, self._pos, self._end)
            if match and not (match.group() == b"\r" and match.end() == self._end and not self._eof):
                start, end = self._pos, match.end()
                raw = bytes(self._buffer[start : match.start()])
                break
            if self._eof:
                if self._pos >= self._end:
                    return None
                start, end = self._pos, self._end
                raw = bytes(self._buffer[start:end])
                break
            if self._available() > MAX_LINE_BYTES:
                raise LineTooLongError(self.line)
            self._fill(self._available() + _READ_SIZE)
        whole = bytes(self._buffer[start:end])
        self._pos = end
        self.offset += end - start
        number = self.line
        self.line += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
            self.cp1252_lines.append(number)
        return text + "\n", whole


@dataclass(frozen=True)
class Chunk:
    """Whole physical lines of raw bytes: where they start, how many lines and double quotes they hold (-1: not
    counted yet)."""

    data: memoryview
    first_line: int
    lines: int = -1
    quotes: int = -1

    def counted(self) -> Chunk:
        """This chunk with its lines and quotes counted (vector instructions; the GIL is released)."""
        if self.lines >= 0:
            return self
        array = np.frombuffer(self.data, dtype=np.uint8)
        return Chunk(self.data, self.first_line, count_lines(self.data), int(np.count_nonzero(array == 34)))


def count_lines(data: bytes | bytearray | memoryview) -> int:
    """Physical lines in ``data`` (LF, CRLF and lone CR each end one; an unterminated last line counts)."""
    array = np.frombuffer(data, dtype=np.uint8)
    if not len(array):
        return 0
    lf = array == 10
    ends = int(np.count_nonzero(lf))
    cr = array == 13
    if cr.any():
        ends += int(np.count_nonzero(cr)) - int(np.count_nonzero(cr[:-1] & lf[1:]))
    return ends + (int(array[-1]) not in (10, 13))


def records(
    source: ByteSource,
    *,
    stop_at_offset: int | None = None,
    swallow_columns: int | None = None,
    on_unbalanced: Callable[[UnbalancedQuoteError], None] | None = None,
) -> Iterator[Record]:
    """CSV records from the current position of ``source``.

    Stops at the end of the file, or after the first record that ends at or beyond ``stop_at_offset``.
    ``swallow_columns``: a quoted field whose later lines hold at least ``swallow_columns - 1`` commas (whole rows),
    or that runs over :data:`MAX_RECORD_LINES` lines, is an unclosed quote eating the file:
    :class:`UnbalancedQuoteError` is raised or, when ``on_unbalanced`` is given, passed to it and reading resumes
    on the line after the one that opened the quote.
    """
    state: dict = {"first": source.line, "raw": []}
    threshold = max(3, swallow_columns - 1) if swallow_columns else None

    def lines() -> Iterator[str]:
        while True:
            line = source.next_line()
            if line is None:
                return
            state["raw"].append(line[1])
            if threshold and len(state["raw"]) > MAX_RECORD_LINES:
                raise UnbalancedQuoteError(state["first"], source.line - 1)
            yield line[0]

    def swallowing(cells: list[str], threshold: int) -> bool:
        return any(part.count(",") >= threshold for cell in cells if "\n" in cell for part in cell.split("\n")[1:])

    reader = csv.reader(lines())
    while True:
        state["first"], state["raw"] = source.line, []
        try:
            cells = next(reader)
            if threshold and len(state["raw"]) > 1 and swallowing(cells, threshold):
                raise UnbalancedQuoteError(state["first"], source.line - 1)
        except StopIteration:
            return
        except UnbalancedQuoteError as error:
            if on_unbalanced is None:
                raise
            on_unbalanced(error)
            rest = state["raw"][1:]
            source.push_back(b"".join(rest), len(rest))
            reader = csv.reader(lines())
            continue
        except csv.Error as exc:
            raise ValueError(f"line {state['first']}: unreadable CSV ({exc})") from exc
        yield Record(state["first"], source.line - 1, cells)
        if stop_at_offset is not None and source.offset >= stop_at_offset:
            return
