"""Worker processes die with their batch: a killed ``paybench batch`` stops, it does not keep writing reports.

:func:`die_with_parent` (a process-pool initializer) starts a thread that checks every :data:`POLL_SECONDS` whether
the batch process that asked for the worker is still its parent (a ``spawn``-started worker) or its parent's parent
(a worker forked by the fork server the batch started: :mod:`benchmark.reporting.batch_worker`). A process whose
parent dies gets another parent, so this holds exactly while the batch runs, and a process id used again later
cannot fool it. When it no longer holds (the batch was killed, even with ``kill -9``, which no handler can catch;
the fork server does not end first while its workers run: they hold its pipe open), the worker kills every process
it started — the Jupyter kernel runs in a session of its own, so a process-group signal would miss it; descendants
are found in ``/proc`` (Linux) — and then exits at once, without publishing the report it was writing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from benchmark import temp_folders

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


def die_with_parent(parent_pid: int, poll_seconds: float = POLL_SECONDS) -> None:
    """Start the watch in this (worker) process; ``parent_pid`` is the pid of the batch process that asked for it."""
    if not _started_by(parent_pid):  # the batch is already gone
        _stop()
    thread = threading.Thread(target=_watch, args=(parent_pid, poll_seconds), name="parent-watch", daemon=True)
    thread.start()


def _watch(parent_pid: int, poll_seconds: float) -> None:
    stopped = threading.Event()
    while not stopped.wait(poll_seconds):
        if not _started_by(parent_pid):
            _stop()


def _started_by(parent_pid: int) -> bool:
    """Whether ``parent_pid`` is this process's parent or its parent's parent."""
    parent = os.getppid()
    return parent_pid in (parent, parent_of(parent))


def _stop() -> None:
    log.warning("the batch process died: stopping this worker and the processes it started")
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    temp_folders.remove_own()  # its kernel's sockets and Chromium's profile: no clean-up runs after os._exit
    os._exit(1)


class _Stat(NamedTuple):
    """The fields of ``/proc/<pid>/stat`` this module reads."""

    pid: int
    state: str  # "Z": ended, not yet reaped
    ppid: int
    pgrp: int


def _stat(path: Path) -> _Stat | None:
    """One process's stat (``/proc/<pid>/stat``); None when it has ended."""
    try:
        text = path.read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 3:
        return None
    return _Stat(int(path.parent.name), fields[0], int(fields[1]), int(fields[2]))


def _all_stats() -> Iterator[_Stat]:
    """The stat of every process in ``/proc`` (those that end meanwhile left out)."""
    for path in Path("/proc").glob("[0-9]*/stat"):
        stat = _stat(path)
        if stat is not None:
            yield stat


def parent_of(pid: int) -> int | None:
    """The parent of process ``pid`` (from ``/proc``); None when it has ended."""
    stat = _stat(Path(f"/proc/{pid}/stat"))
    return None if stat is None else stat.ppid


def group_members(group: int) -> list[int]:
    """The processes of process group ``group`` still running (an ended one not yet reaped, a zombie, is not), from
    ``/proc``: a group's members stay in it when their parent dies, where :func:`descendants` no longer finds them."""
    return [stat.pid for stat in _all_stats() if stat.pgrp == group and stat.state != "Z"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from ``/proc``; empty where there is none."""
    children: dict[int, list[int]] = {}
    for stat in _all_stats():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
