"""Temporary folders of this tool that outlive a call: named after the process that made them, so that what a killed
process left can be told apart from what a running one uses, and removed.

A Chromium profile (:mod:`benchmark.reporting.exports`) and a report kernel's sockets
(:mod:`benchmark.reporting.kernel`) each live in a folder ``paybench-<kind>-<pid>-<random>`` of the system's
temporary folder. Their maker removes them when it is done; a process killed with SIGKILL cannot, so making a new
folder of a kind first removes the folders of that kind whose process no longer runs (:func:`remove_left`). Only
folders of this user, of that exact name pattern, whose process has ended (in this process's PID namespace) are
removed: never a running process's folder, another user's, a file or link of that name, or anything else.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

_log = logging.getLogger(__name__)
_TOOL = "paybench-"  # every folder's name starts so: paybench-<kind>-<pid>-<random>


def prefix(kind: str) -> str:
    """The start of the name of a folder of ``kind``: ``paybench-<kind>-`` (then the process id, ``-``, random)."""
    return f"{_TOOL}{kind}-"


def new_folder(kind: str) -> Path:
    """A new temporary folder of ``kind`` named after this process (after removing those killed processes left)."""
    remove_left(kind)
    return Path(tempfile.mkdtemp(prefix=f"{prefix(kind)}{os.getpid()}-"))


def remove_left(kind: str, folder: Path | None = None) -> list[Path]:
    """Remove the folders of ``kind`` that no running process owns, in ``folder`` (default: the temporary folder);
    returns them (see the module's docstring for what is never removed)."""
    pattern = re.compile(rf"{re.escape(prefix(kind))}(\d+)-")
    removed: list[Path] = []
    for entry in _entries(folder):
        named = pattern.match(entry.name)
        if named is None or running(int(named.group(1))) or not _own_folder(entry):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        _log.debug("removed %s: left by process %s, which no longer runs", entry.path, named[1])
        removed.append(Path(entry.path))
    return removed


def remove_own(pid: int | None = None, folder: Path | None = None) -> list[Path]:
    """Remove the folders of every kind that process ``pid`` (default: this one) made, in ``folder`` (default: the
    temporary folder): for a process about to end without its makers' own clean-up (a batch worker whose batch
    died). Folders of this user only, never a file or a link."""
    pattern = re.compile(rf"{re.escape(_TOOL)}[a-z]+-{pid or os.getpid()}-")
    removed = []
    for entry in _entries(folder):
        if pattern.match(entry.name) and _own_folder(entry):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def running(pid: int) -> bool:
    """Whether process ``pid`` exists (in this PID namespace; a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, as another user
        return True
    return True


def _entries(folder: Path | None) -> list[os.DirEntry]:
    try:
        return list(os.scandir(folder or tempfile.gettempdir()))
    except OSError:
        return []


def _own_folder(entry: os.DirEntry) -> bool:
    """A folder (not a file, not a link) of this user."""
    try:
        return entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False
