"""Output folders that never destroy what the tool did not write, and are never missing while replaced.

A report folder ``reports/44320`` is a symbolic link to a hidden sibling ``reports/.44320.r-<id>/`` that holds the
files. A new run writes a new hidden folder and replaces the link with :func:`os.replace` of a new link (one atomic
rename): a reader sees the old report or the new one, never neither, and a run killed at any moment leaves the old
report in place. The folders the tool writes hold a marker file (:data:`REPORT_MARKER`, :data:`BATCH_MARKER`);
anything else at the path is refused (:class:`~benchmark.errors.ParameterError`) unless the caller passes
``overwrite`` — and even then it is moved aside to a hidden sibling, not deleted, and the current folder (or a folder
containing it) is never replaced.

A real folder written by an older version (``run.json`` with a ``fingerprint``) is migrated: on Linux the link takes
its place in one ``renameat2(RENAME_EXCHANGE)`` and the old folder is then deleted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import ParameterError

log = logging.getLogger(__name__)

REPORT_MARKER = ".paybench-report"
BATCH_MARKER = ".paybench-batch"
_KIND_NAMES = {REPORT_MARKER: "report", BATCH_MARKER: "batch output root"}
_RENAME_EXCHANGE = 2  # linux/fs.h


def write_marker(folder: Path, marker: str) -> None:
    """Mark ``folder`` as written by payer-benchmark (what :func:`check_output_folder` accepts to replace)."""
    (Path(folder) / marker).write_text(
        json.dumps({"written_by": "payer-benchmark", "kind": _KIND_NAMES[marker]}) + "\n", encoding="utf-8"
    )


def is_tool_output(path: Path, marker: str) -> bool:
    """Whether ``path`` (a folder, or a link to one) was written by payer-benchmark as this kind of output."""
    path = Path(path)
    if (path / marker).is_file():
        return True
    if marker == REPORT_MARKER:  # a report of a version before markers: run.json with a fingerprint
        return _json_has(path / "run.json", "fingerprint")
    if marker == BATCH_MARKER:
        return _json_has(path / "manifest.json", "reports")
    return False


def check_output_folder(path: str | Path, marker: str, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Refuse an output path the tool may not replace; the resolved path (link itself kept) to write to.

    Accepted: a missing path, an empty folder, a previous output of the same kind (marker or older layout), or,
    with ``overwrite``, any other folder or link (moved aside when replaced, never deleted). The current folder
    and the folders above it are never accepted as a replaceable output.
    """
    target = Path(os.path.abspath(Path(path).expanduser()))
    kind = _KIND_NAMES[marker]
    cwd = Path.cwd().resolve()
    if target.exists() or target.is_symlink():
        if not target.is_symlink() and target.resolve() in (cwd, *cwd.parents):
            raise ParameterError(
                f"{option} {path}: the current folder (or one containing it) is never replaced by a {kind}; "
                "name a new folder"
            )
        replaceable = _is_empty_dir(target) or is_tool_output(target, marker) or overwrite
        if not replaceable:
            raise ParameterError(
                f"{option} {path}: exists and is not a previous {kind} of payer-benchmark (no {marker}); "
                f"refusing to replace it. Choose a new folder, or pass --overwrite to move it aside"
            )
    _check_writable(target.parent, path, kind, option)
    return target


def _check_writable(parent: Path, path: str | Path, kind: str, option: str) -> None:
    """Refuse an output whose folder cannot be made or written (a file in the way, no write permission, a
    read-only file system), before anything runs: the run writes its files in a hidden sibling of the output."""
    existing = parent
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        reason = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = f"no permission to write in {existing}"
    else:
        return
    raise ParameterError(f"{option} {path}: cannot write the {kind} there ({reason})")


def _is_empty_dir(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


def _json_has(path: Path, key: str) -> bool:
    try:
        return key in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


OWNER = ".paybench-owner"  # pid of the process writing an unpublished folder (removed when it is published)


def staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` for one run's files (becomes the report when published)."""
    folder = target.parent / f".{target.name}.r-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    (folder / OWNER).write_text(str(os.getpid()))
    return folder


def _abandoned(folder: Path) -> bool:
    """An unpublished folder whose writer is gone (killed): nothing will ever publish or delete it."""
    try:
        pid = int((folder / OWNER).read_text())
    except (OSError, ValueError):
        return False  # no owner recorded: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def content_folders(target: Path) -> list[Path]:
    """The hidden sibling folders that hold (or held) versions of the output at ``target``."""
    return sorted(p for p in target.parent.glob(f".{target.name}.r-*") if p.is_dir() and not p.is_symlink())


@contextmanager
def _swap_lock(target: Path) -> Iterator[None]:
    with open(target.parent / f".{target.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(folder: Path, target: Path, marker: str, *, overwrite: bool = False) -> None:
    """Make ``folder`` (a hidden sibling from :func:`staging_folder`) the output at ``target``, atomically.

    The previous output of the tool at ``target`` (its hidden folder, or a real folder of an older version) is
    deleted after the swap; anything else there (only with ``overwrite``) is moved aside to a hidden sibling.
    """
    folder, target = Path(folder), Path(target)
    with _swap_lock(target):
        check_output_folder(target, marker, overwrite=overwrite)  # again: it may have changed during the run
        write_marker(folder, marker)  # under the lock: a concurrent run never deletes an unfinished folder
        (folder / OWNER).unlink(missing_ok=True)
        link = target.parent / f".{target.name}.link-{uuid.uuid4().hex[:8]}"
        os.symlink(folder.name, link)
        old_real: Path | None = None
        if target.is_symlink() or not target.exists():
            os.replace(link, target)  # the commit point: one rename
        elif _is_empty_dir(target):
            target.rmdir()  # nothing was there to show
            os.replace(link, target)
        else:  # a real folder (older layout, or another folder with overwrite): exchange it with the link
            _exchange(link, target)
            old_real = link  # now the old folder
        # what the tool wrote before: every other version folder, and a real folder of the older layout
        current = target.resolve()
        for stale in content_folders(target):
            if stale.resolve() != current and (is_tool_output(stale, marker) or _abandoned(stale)):
                shutil.rmtree(stale, ignore_errors=True)  # an older version, or the folder of a killed run
        if old_real is not None:
            if is_tool_output(old_real, marker):
                shutil.rmtree(old_real, ignore_errors=True)
            else:
                aside = target.parent / f".{target.name}.replaced-{uuid.uuid4().hex[:8]}"
                os.rename(old_real, aside)
                log.warning("%s: the folder that was there is kept at %s (--overwrite)", target, aside)


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths in one step (Linux renameat2); else move ``b`` aside first (a short moment without it)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd = -100
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        log.info("renameat2 exchange not supported here (errno %s); replacing in two renames", ctypes.get_errno())
    aside = b.parent / f".{b.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(b, aside)
    os.replace(a, b)
    os.rename(aside, a)
