"""Helper processes that let one TiC read use a second core: an inflater and a batch scanner.

Why processes and not threads: gunzip, sha256 and msgspec are C code, but every call into them needs Python's GIL
back when it returns, and the scanner's decoding holds the GIL for ~10 ms at a time. A reader *thread* therefore
waits for the GIL after every call (measured: 0.55 s of isal inflate for a 1 GB file took 8.5 s next to a busy
Python thread). Helper processes share nothing but memory segments, so they run at full speed beside the scan.

* :class:`InflaterClient` stands in for the scanner's reader thread when the source is a local file: the helper
  reads the file, hashes it (sha256 of the stored bytes), gunzips it (isal), applies the gzip-bomb caps and counts
  newlines — the same :class:`~benchmark.ingest.tic.scan.Inflater` code as the thread — and hands over JSON chunks
  through a ring of shared-memory slots.
* :class:`BatchScanner` scans batches of ``in_network`` items (:func:`~benchmark.ingest.tic.items.scan_item_batch`)
  that the main process copied into its slots; the main process scans other batches itself meanwhile and applies
  every result in file order (``tic_scan``), so a result that proves a batch cut wrong is simply discarded.

The helpers start on first use (~0.1 s: they import msgspec and isal; the scanner loads numpy when a read starts),
serve one read at a time and stay up for the next read of the same process, unless the read goes on to build
many rows in batches (:func:`stop_if_idle`: their memory is freed meanwhile); :func:`shutdown` (also run at exit)
stops them. A read that finds them busy (another thread is reading) or cannot start them reads with the thread
alone. Files smaller than :data:`MIN_PARALLEL_BYTES` are read without helpers: starting them would cost more than
it saves.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import gc
import os
import socket
import subprocess
import sys
import threading
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING, Any

from benchmark.ingest.tic.scan import Inflater, ScanError, StreamStats
from benchmark.sources.limits import Limits

if TYPE_CHECKING:
    from benchmark.ingest.tic.items import CodeFilter

MIN_PARALLEL_BYTES = 48 << 20  # stored bytes; below this a read uses the reader thread only
INFLATE_SLOTS = 4
SCAN_SLOTS = 3
# glibc returns freed 8 MB buffers to the system and page-faults them back in on the next chunk (measured: the
# inflater's CPU time 2.1 s -> 0.9 s per GB with these). The helpers get them as environment variables; the reading
# process gets the same settings through mallopt (keep_freed_buffers) from its first read with helpers on.
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(512 << 20)}
_LOCK = threading.Lock()  # one read at a time uses the helpers
_STATE: dict[str, Any] = {}  # {"pid": ..., "inflater": _Helper, "scanner": _Helper} of this process


def helpers_wanted(stored_bytes: int | None, helpers: bool | None) -> bool:
    """Whether a read should use the helper processes: asked for, or (``None``) a large file on a multi-core machine."""
    if helpers is not None:
        return helpers
    forced = os.environ.get("PAYBENCH_TIC_HELPERS", "").strip()  # "0" never, "1" always (tests of the helpers)
    if forced in ("0", "1"):
        return forced == "1"
    return (os.cpu_count() or 1) >= 2 and stored_bytes is not None and stored_bytes >= MIN_PARALLEL_BYTES


class HelperLease:
    """Exclusive use of the helper processes for one read (``with acquire(limits) as lease: ...``)."""

    def __init__(self, inflater: _Helper, scanner: _Helper) -> None:
        self.inflater, self.scanner = inflater, scanner

    def __enter__(self) -> HelperLease:
        return self

    def __exit__(self, *exc: object) -> None:
        _LOCK.release()


def acquire(limits: Limits) -> HelperLease | None:
    """The helpers for one read, started if needed; None when another read holds them or they cannot start."""
    if not _LOCK.acquire(blocking=False):
        return None
    try:
        slot = 2 * limits.chunk_bytes + 2
        if _STATE.get("pid") != os.getpid() or _STATE.get("slot") != slot or not _alive():
            _stop_all()
            _STATE.update(pid=os.getpid(), slot=slot)
            # each helper kept as soon as it runs: the second failing to start stops the first (_stop_all below)
            _STATE["inflater"] = _Helper(INFLATE_SLOTS, slot)
            _STATE["scanner"] = _Helper(SCAN_SLOTS, slot)
        keep_freed_buffers()
        return HelperLease(_STATE["inflater"], _STATE["scanner"])
    except (OSError, RuntimeError, ValueError):
        _stop_all()
        _LOCK.release()
        return None


def keep_freed_buffers() -> None:
    """Let glibc keep freed large buffers for reuse in this process (see _MALLOC_ENV); a no-op elsewhere."""
    if _STATE.get("mallopt") == os.getpid():
        return
    _STATE["mallopt"] = os.getpid()
    try:
        libc = _libc()
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def give_back_freed_memory() -> None:
    """Undo :func:`keep_freed_buffers` in this process once its scan is over, and return the memory freed so far
    to the system (``malloc_trim``): building and writing rows in batches frees each batch, and glibc would
    otherwise keep up to 512 MB of it mapped (a no-op where the C library is not glibc)."""
    if _STATE.get("mallopt") != os.getpid():
        return
    _STATE.pop("mallopt", None)
    try:
        libc = _libc()
        libc.mallopt(-3, 128 << 10)  # M_MMAP_THRESHOLD: glibc's default; large buffers are unmapped when freed
        libc.mallopt(-1, 128 << 10)  # M_TRIM_THRESHOLD: glibc's default
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def trim_freed_memory() -> None:
    """Return the memory glibc holds freed to the system (a no-op elsewhere); cheap, called between batches."""
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library's functions (loaded once: ~40 us a time, twice the cost of a malloc_trim of a small heap)."""
    return ctypes.CDLL(None)


def shutdown_after_failure() -> None:
    """Stop helpers that failed (the caller holds the lease); the next read starts new ones."""
    _stop_all()


def stop_if_idle() -> None:
    """Stop the helper processes unless a read is using them (the next large read starts them again, ~0.1 s)."""
    if _LOCK.acquire(blocking=False):
        try:
            _stop_all()
        finally:
            _LOCK.release()


def shutdown() -> None:
    """Stop the helper processes of this process (they are started again on the next large read)."""
    with _LOCK:
        _stop_all()


def _alive() -> bool:
    """Both helpers were started and run."""
    return all(role in _STATE and _STATE[role].alive() for role in ("inflater", "scanner"))


def _stop_all() -> None:
    for role in ("inflater", "scanner"):
        helper = _STATE.pop(role, None)
        if helper is not None and _STATE.get("pid", os.getpid()) == os.getpid():
            helper.stop()
    for key in ("pid", "slot"):
        _STATE.pop(key, None)


atexit.register(_stop_all)


def _buffer(memory: SharedMemory) -> memoryview:
    """The segment's bytes (``buf`` is None only after ``close``, which the owners call last)."""
    buf = memory.buf
    if buf is None:
        raise ScanError("the shared memory segment is closed")
    return buf


class _Helper:
    """One helper process with its shared-memory slots and a control connection.

    Started as ``python -c ...`` rather than with multiprocessing's spawn, which would re-run the caller's
    ``__main__`` script in the child (a script without a ``__main__`` guard would read its files again there).
    """

    def __init__(self, slots: int, slot_bytes: int) -> None:
        self.slots, self.slot_bytes = slots, slot_bytes
        self.memory = SharedMemory(create=True, size=slots * slot_bytes)
        ours, theirs = socket.socketpair()
        code = (
            f"from benchmark.ingest.tic.workers import _main; _main({theirs.fileno()}, {self.memory.name!r}, "
            f"{slots}, {slot_bytes})"
        )
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                env={**os.environ, **_MALLOC_ENV},
            )
        except BaseException:  # not started: its shared memory is nobody's (it would stay in /dev/shm)
            ours.close()
            self.memory.close()
            self.memory.unlink()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    def view(self, slot: int) -> memoryview:
        start = slot * self.slot_bytes
        return _buffer(self.memory)[start : start + self.slot_bytes]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=2)
        self.conn.close()
        try:
            self.memory.close()
            self.memory.unlink()
        except (BufferError, FileNotFoundError):
            pass


# ---------------------------------------------------------------------------------------------------------------------
# Main-process side


class InflaterClient:
    """The scanner's reader (``get``/``close``) backed by the inflater helper reading ``path`` itself."""

    def __init__(
        self, helper: _Helper, path: str, *, name: str, limits: Limits, expect_gzip: bool, stats: StreamStats
    ) -> None:
        self.helper, self.stats, self.label = helper, stats, name
        self.done = False
        self.lent: tuple[int, memoryview] | None = None  # the slot whose view the scanner holds
        helper.conn.send(("inflate", path, name, limits, expect_gzip))

    def get(self) -> Any:
        """The next ``(chunk, newlines)``, None at the end, or the exception that stopped the reading. The chunk is
        a view of a shared-memory slot, valid until the next call (the scanner copies it into its buffer)."""
        self._free_previous()
        if self.done:
            return None
        try:
            message = self.helper.conn.recv()
        except (EOFError, OSError) as error:
            self.done = True
            return ScanError(f"{self.label}: the inflater helper process stopped ({error})")
        kind = message[0]
        if kind == "chunk":
            _, slot, length, newlines, raw_bytes, json_bytes, compressed = message
            self.lent = (slot, self.helper.view(slot))
            self.stats.raw_bytes, self.stats.json_bytes, self.stats.compressed = raw_bytes, json_bytes, compressed
            return self.lent[1][:length], newlines
        self.done = True
        if kind == "end":
            _, self.stats.sha256, self.stats.raw_bytes, self.stats.json_bytes, self.stats.compressed = message
            return None
        if kind == "error":
            _, error_kind, text = message
            return ScanError(text) if error_kind == "scan" else OSError(text)
        return ScanError(f"{self.label}: the inflater helper process answered {kind!r} out of turn")

    def _free_previous(self) -> None:
        if self.lent is not None:
            slot, view = self.lent
            self.lent = None
            view.release()
            if not self.done:
                self.helper.conn.send(("free", slot))

    def close(self) -> None:
        """Stop the helper's current job (if any) and wait until it says it stopped."""
        self._free_previous()
        if self.done:
            return
        self.done = True
        try:  # exactly one "cancelled" answers a cancel, whether the job was still running or had just ended
            self.helper.conn.send(("cancel",))
            while self.helper.conn.recv()[0] != "cancelled":
                pass
        except (EOFError, OSError):
            pass


class BatchScanner:
    """Batches of in_network items scanned by the scanner helper: ``submit`` copies one into a free slot,
    ``results`` collects finished ones (``seq -> ItemBatchScan``, or None when the batch must be read exactly)."""

    def __init__(self, helper: _Helper, wanted: CodeFilter | None) -> None:
        self.helper = helper
        self.free = list(range(helper.slots))
        self.outstanding: set[int] = set()
        self.finished: dict[int, Any] = {}
        helper.conn.send(("filter", wanted))

    def submit(self, seq: int, region: memoryview, separator: bytes | None) -> bool:
        """Copy ``[`` + region + ``]`` into a free slot and start scanning it; False when no slot can take it."""
        if not self.free:
            self.collect()  # results read now free their slots (they are applied later, in order)
        if not self.free or len(region) + 2 > self.helper.slot_bytes:
            return False
        slot = self.free.pop()
        size = len(region)
        with self.helper.view(slot) as view:
            view[0:1] = b"["
            view[1 : size + 1] = region
            view[size + 1 : size + 2] = b"]"
        self.helper.conn.send(("scan", seq, slot, size + 2, separator))
        self.outstanding.add(seq)
        return True

    def collect(self, wait_for: int | None = None) -> None:
        """Take finished results; with ``wait_for``, block until that batch is done."""
        conn = self.helper.conn
        while self.outstanding and (conn.poll() or (wait_for is not None and wait_for not in self.finished)):
            try:
                _, seq, slot, result = conn.recv()
            except (EOFError, OSError) as error:
                raise ScanError(f"the batch scanner helper process stopped ({error})") from None
            self.free.append(slot)
            self.outstanding.discard(seq)
            self.finished[seq] = result

    def take(self, seq: int) -> Any:
        return self.finished.pop(seq)

    def discard(self, seqs: list[int]) -> None:
        """Forget batches whose results are no longer wanted (a batch before them proved wrong)."""
        for seq in seqs:
            self.finished.pop(seq, None)
        self.collect_all()
        for seq in seqs:
            self.finished.pop(seq, None)

    def collect_all(self) -> None:
        while self.outstanding:
            self.collect(wait_for=next(iter(self.outstanding)))

    def close(self) -> None:
        self.collect_all()
        self.finished.clear()


# ---------------------------------------------------------------------------------------------------------------------
# Helper-process side


def _main(fd: int, memory_name: str, slots: int, slot_bytes: int) -> None:
    """Entry point of a helper process (see :class:`_Helper`)."""
    _serve(Connection(fd), memory_name, slots, slot_bytes)


def _serve(conn: Connection, memory_name: str, slots: int, slot_bytes: int) -> None:
    """The helper's loop: one job at a time until "stop"."""
    gc.disable()  # scans make millions of short-lived objects and no cycles (as in the reading process)
    memory = SharedMemory(name=memory_name)
    try:  # the main process owns (and unlinks) the segment; our own resource tracker would unlink it at our exit
        resource_tracker.unregister(memory._name, "shared_memory")  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - tracker details differ between versions
        pass
    wanted: CodeFilter | None = None
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "stop":
                return
            if kind == "filter":  # a read starts: load the scanning code (numpy) while the first chunk is read
                # lazy for start-up time only: the inflater helper never needs numpy; no cycle is involved
                from benchmark.ingest.tic.items import scan_item_batch

                wanted = message[1]
            elif kind == "scan":
                from benchmark.ingest.tic.items import scan_item_batch

                _, seq, slot, length, separator = message
                start = slot * slot_bytes
                with _buffer(memory)[start : start + length] as view:
                    try:
                        result = scan_item_batch(view, wanted, separator)
                        result.filtered = result.filtered.compact()
                    except (ValueError, RecursionError, TypeError):  # msgspec errors are ValueErrors
                        result = None
                conn.send(("scanned", seq, slot, result))
            elif kind == "inflate":
                _, path, name, limits, expect_gzip = message
                _SlotInflater(conn, memory, slots, slot_bytes, path, name, limits, expect_gzip).serve()
            elif kind in ("cancel", "free") and kind == "cancel":
                conn.send(("cancelled",))
    finally:
        memory.close()


class _JobCancelled(Exception):
    pass


class _SlotInflater(Inflater):
    """The inflater writing chunks into the helper's slots (waiting for the main process to free them)."""

    def __init__(
        self,
        conn: Connection,
        memory: SharedMemory,
        slots: int,
        slot_bytes: int,
        path: str,
        name: str,
        limits: Limits,
        expect_gzip: bool,
    ) -> None:
        self.conn, self.memory, self.slot_bytes, self.path = conn, memory, slot_bytes, path
        self.free = list(range(slots))
        self.cancelled = False
        super().__init__(
            None,
            name=name,
            limits=limits,
            expect_gzip=expect_gzip,
            stats=StreamStats(),
        )

    def serve(self) -> None:
        try:
            with open(self.path, "rb") as self.raw:
                self.run_stream()
            stats = self.stats
            self.conn.send(("end", stats.sha256, stats.raw_bytes, stats.json_bytes, stats.compressed))
        except _JobCancelled:
            self.conn.send(("cancelled",))
        except ScanError as error:
            self._fail("scan", str(error))
        except OSError as error:
            self._fail("os", f"{self.label}: cannot read ({error})")
        except Exception as error:
            self._fail("scan", f"{self.label}: {type(error).__name__}: {error}")

    def stopped(self) -> bool:
        self._read_messages(block=False)
        return self.cancelled

    def put(self, item: tuple[bytes, int] | None) -> None:
        if item is None:
            return
        chunk, newlines = item
        for at in range(0, len(chunk), self.slot_bytes):  # a chunk larger than a slot goes in pieces
            piece = chunk[at : at + self.slot_bytes]
            while not self.free:
                self._read_messages(block=True)
            slot = self.free.pop()
            start = slot * self.slot_bytes
            _buffer(self.memory)[start : start + len(piece)] = piece
            lines = newlines if len(piece) == len(chunk) else piece.count(b"\n")
            stats = self.stats
            self.conn.send(("chunk", slot, len(piece), lines, stats.raw_bytes, stats.json_bytes, stats.compressed))

    def _read_messages(self, block: bool) -> None:
        while block or self.conn.poll():
            block = False
            message = self.conn.recv()
            if message[0] == "free":
                self.free.append(message[1])
            elif message[0] == "cancel":
                self.cancelled = True
        if self.cancelled:
            raise _JobCancelled

    def _fail(self, kind: str, text: str) -> None:
        if self.cancelled:
            self.conn.send(("cancelled",))
        else:
            self.conn.send(("error", kind, text))
