"""The cross-check link and verdict kept beside a rate store: ``<store>/crosscheck/verdicts.parquet``.

One row per rate that was cross-checked: the rate's identity (``source_file``, ``source_sha256``,
``source_locator``), its verdict, the hospital it was matched to and the counterpart row (file, locator, amount,
unit) with the relative difference, plus when and with which rule version the verdicts were computed. The file is
written whole and atomically (:func:`benchmark.files.atomic_write_bytes`); the rate parts and the manifest are not
touched. A verdict is valid for the store's content at the time: ``store_manifest_sha256`` records the manifest it
was computed from, and :func:`read_verdicts` says when the store has changed since.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import pandas as pd

from benchmark.files import atomic_write_bytes, sha256_file
from benchmark.store.rate_store import MANIFEST, Store

log = logging.getLogger(__name__)

VERDICTS_DIR = "crosscheck"
VERDICTS_FILE = "verdicts.parquet"
VERDICT_COLUMNS: list[str] = [
    "source_file",
    "source_sha256",
    "source_locator",
    "crosscheck",
    "crosscheck_hospital",
    "counterpart_source_file",
    "counterpart_locator",
    "counterpart_amount",
    "counterpart_unit",
    "crosscheck_difference",
]


def verdicts_path(store: Store) -> Path:
    return store.root / VERDICTS_DIR / VERDICTS_FILE


def write_verdicts(store: Store, checked: pd.DataFrame, rule_version: str) -> Path:
    """Keep the verdict columns of ``checked`` (rates with cross-check columns) beside ``store``."""
    frame = checked[VERDICT_COLUMNS].reset_index(drop=True).copy()
    frame["computed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    frame["rule_version"] = rule_version
    frame["store_manifest_sha256"] = sha256_file(store.root / MANIFEST)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    path = verdicts_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_verdicts(store: Store) -> tuple[pd.DataFrame | None, bool]:
    """(the kept verdicts or None, whether they were computed from the store's current manifest)."""
    path = verdicts_path(store)
    if not path.is_file():
        return None, False
    with open(path, "rb") as handle:  # one open file (a path is opened twice, and the file may be replaced between)
        frame = pd.read_parquet(handle)
    current = len(frame) == 0 or frame["store_manifest_sha256"].iloc[0] == sha256_file(store.root / MANIFEST)
    if not current:
        log.info("cross-check verdicts in %s predate the store's manifest: recompute them", path)
    return frame, current
