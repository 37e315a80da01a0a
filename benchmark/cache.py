"""A folder cache of tables computed from files: keyed by the files' sha256, the arguments and the code version.

What is read from input files and validated once (the rates of a code read from a set of TiC / hospital files,
tables parsed from CMS files) is kept as Parquet under :data:`benchmark.config.CACHE_DIR` and read back as it was
written, without validating it again: an entry's key covers the sha256 of every input file, the arguments, and
:func:`code_digest` (the source of the package), so a changed file, argument or reader never meets an old entry.

- :func:`key_of` makes a key from any JSON-able parts (use :func:`file_digest` for files);
- :func:`load` / :func:`save` read and write one entry: named DataFrames plus a JSON-able ``meta`` mapping;
- entries are written into a temporary folder and renamed into place, so a reader sees a whole entry or none, and
  two processes writing the same entry both succeed (the second rename loses, harmlessly: same key, same content).

``PAYBENCH_CACHE=off`` turns the cache off (every load misses, nothing is written); ``PAYBENCH_CACHE=<folder>``
moves it. A table that Parquet cannot hold is simply not cached (logged at debug level).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark import config, files

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
META = "meta.json"


def enabled() -> bool:
    return os.environ.get("PAYBENCH_CACHE", "").strip().lower() not in ("off", "0", "no", "false")


def folder() -> Path:
    """The cache folder (``PAYBENCH_CACHE`` when it names one, else ``config.CACHE_DIR``)."""
    value = os.environ.get("PAYBENCH_CACHE", "").strip()
    return (
        Path(value).expanduser()
        if value and enabled() and value.lower() not in ("on", "1", "yes")
        else config.CACHE_DIR
    )


def file_digest(path: str | Path) -> str:
    """sha256 of a file; remembered per (path, size, mtime) within the process."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return files.sha256_file(path)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 over the package's Python sources (any change to a reader or parser makes new keys)."""
    digest = hashlib.sha256()
    for path in sorted(config.PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(config.PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def key_of(*parts: Any) -> str:
    """A key from JSON-able parts (lists, strings, numbers, mappings), always with the code digest."""
    payload = json.dumps([code_digest(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def load(namespace: str, key: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
    """The tables and meta of an entry, or None (no entry, cache off, or an unreadable entry)."""
    if not enabled():
        return None
    entry = folder() / namespace / key
    try:
        meta = json.loads((entry / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    import pandas as pd  # lazy: start-up time (this module is imported by light command paths)

    try:
        tables = {name: pd.read_parquet(entry / f"{name}.parquet") for name in meta.get("tables", [])}
    except Exception as error:  # a damaged entry is a miss, never an error
        log.debug("cache entry %s unreadable (%s): recomputing", entry, error)
        return None
    return tables, meta.get("meta", {})


def save(namespace: str, key: str, tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None) -> bool:
    """Write an entry (whole or not at all); False when the cache is off or a table cannot be stored."""

    def fill(staging: Path) -> dict[str, Any]:
        for name, table in tables.items():
            table.to_parquet(staging / f"{name}.parquet", index=False)
        return {"tables": list(tables), "meta": meta or {}}

    # a table Parquet cannot hold, a full disk, or another process won the rename
    return _write_entry(namespace, key, fill, Exception)


def folder_digests(path: str | Path) -> list[list[str]]:
    """``[name, sha256]`` of every file under a folder (sorted): a key part for tables built from the folder."""
    root = Path(path)
    return [[str(p.relative_to(root)), file_digest(p)] for p in sorted(root.rglob("*")) if p.is_file()]


def cached_frame(namespace: str, parts: list[Any], build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()``, kept under the key of ``parts`` (which must name every input of it, e.g. file digests)."""
    key = key_of(namespace, parts)
    hit = load(namespace, key)
    if hit is not None and "frame" in hit[0]:
        return hit[0]["frame"]
    frame = build()
    save(namespace, key, {"frame": frame})
    return frame


def parsed_file(namespace: str, path: str | Path, parse: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
    """``parse(path)`` (a validated table read from one input file), kept under the file's sha256 and name.

    For reference files (CMS fee schedules...) that every report reads: the first process parses and validates
    the file, later ones read the Parquet entry back as it was written. A parse error is raised, never cached.
    """
    path = Path(path)
    return cached_frame(namespace, [path.name, file_digest(path)], lambda: parse(path))


def load_files(namespace: str, key: str) -> Path | None:
    """The folder of a whole file entry written by :func:`save_files`, or None (no entry, or the cache is off)."""
    if not enabled():
        return None
    entry = folder() / namespace / key
    return entry if (entry / META).is_file() else None


def save_files(namespace: str, key: str, sources: dict[str, Path]) -> bool:
    """Copy ``sources`` (entry file name -> file) into an entry, whole or not at all (as :func:`save`)."""

    def fill(staging: Path) -> dict[str, Any]:
        for name, source in sources.items():
            shutil.copyfile(source, staging / name)
        return {"files": sorted(sources)}

    return _write_entry(namespace, key, fill, OSError)  # a full disk, or another process won the rename


def _write_entry(
    namespace: str, key: str, fill: Callable[[Path], dict[str, Any]], failures: type[BaseException]
) -> bool:
    """Fill a staging folder (``fill`` returns the entry's META record) and rename it into place: an entry is whole
    or absent. False when the cache is off or the entry could not be written (``failures``: the errors that mean
    that, logged at debug level); True when it exists, also when another process wrote it first."""
    if not enabled():
        return False
    root = folder() / namespace
    entry = root / key
    if (entry / META).is_file():
        return True
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{key[:12]}."))
    except OSError as error:
        log.debug("cache folder %s not writable (%s): not cached", root, error)
        return False
    try:
        record = fill(staging)
        (staging / META).write_text(json.dumps(record, default=str), encoding="utf-8")
        os.rename(staging, entry)
        return True
    except failures as error:
        log.debug("cache entry %s/%s not written (%s)", namespace, key, error)
        shutil.rmtree(staging, ignore_errors=True)
        return (entry / META).is_file()
