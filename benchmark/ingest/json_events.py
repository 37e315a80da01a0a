"""Walking a JSON document's events with ijson: the parser, a leading BOM skipped, one value built whole.

Shared by the CMS schema check (:mod:`benchmark.ingest.cms_schema`) and the hospital JSON reader
(:mod:`benchmark.ingest.hospital.json_layout`): each walks the ``(prefix, event, value)`` events its own way and,
where a value must be held whole (an array element, a root field), builds it with :func:`whole_value` from the same
events, so that only that value is ever in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any, BinaryIO, Protocol

import ijson

UTF8_BOM = b"\xef\xbb\xbf"
_OPENS = frozenset({"start_map", "start_array"})
_CLOSES = frozenset({"end_map", "end_array"})

Events = Iterator[tuple[str, str, Any]]


class ByteReader(Protocol):
    """What the parser reads from: a binary file, or one wrapped by :func:`skip_bom`."""

    def read(self, size: int = -1, /) -> bytes: ...


def parse(stream: ByteReader, *, use_float: bool = False) -> Events:
    """ijson's ``(prefix, event, value)`` events of ``stream``, from its C backend (yajl2_c) when it is installed.
    ``use_float``: numbers as int/float (as JSON Schema types them) instead of int/Decimal (their published text)."""
    return _backend().parse(stream, use_float=use_float)


def whole_value(event: str, value: Any, events: Events) -> Any:
    """The object or array that opens with ``event`` (``start_map`` or ``start_array``; ``value`` its value), built
    from ``events`` -- the iterator the caller is walking -- up to the event that closes it; the caller's walk goes
    on after it."""
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, event, value in events:
        builder.event(event, value)
        if event in _OPENS:
            depth += 1
        elif event in _CLOSES:
            depth -= 1
            if depth == 0:
                return builder.value
    raise ijson.IncompleteJSONError("the document ends inside a value")


def skip_bom(stream: BinaryIO) -> ByteReader:
    """``stream`` with a leading UTF-8 BOM skipped (it must be at its start)."""
    return _SkipBom(stream)


class _SkipBom:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        head = stream.read(3)
        self._head = b"" if head == UTF8_BOM else head

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for 0 bytes to learn the stream's type
            return b""
        if self._head:
            head, self._head = self._head, b""
            return head + self._stream.read(size - len(head) if size and size > 0 else -1)
        return self._stream.read(size)


@cache
def _backend() -> Any:
    try:
        return ijson.get_backend("yajl2_c")
    except Exception:  # the C backend is optional
        return ijson
