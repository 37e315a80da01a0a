"""Write an ingest's tables as Parquet: rates, quarantine, per-file row accounts and rejected files.

Each table is written to a temporary name and renamed into place, so a reader never sees half a file. Columns keep
their schema types (codes and ids stay strings).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from benchmark.ingest.result import IngestResult


def write_run(result: IngestResult, out_dir: Path) -> dict[str, Path]:
    """``rates.parquet``, ``quarantine.parquet``, ``accounts.parquet`` and ``rejected.json`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "rates": _write_parquet(result.rates, out_dir / "rates.parquet"),
        "quarantine": _write_parquet(result.quarantine, out_dir / "quarantine.parquet"),
        "accounts": _write_parquet(result.accounts_frame(), out_dir / "accounts.parquet"),
    }
    rejected = [{"source_file": r.source_file, "reason": r.reason} for r in result.rejected]
    written["rejected"] = _atomic_text(out_dir / "rejected.json", json.dumps(rejected, indent=2) + "\n")
    return written


def read_rates(out_dir: str | Path) -> pd.DataFrame:
    """The rates an ingest wrote, validated again on the way in."""
    from benchmark.schema import validate_rates

    return validate_rates(pd.read_parquet(Path(out_dir) / "rates.parquet"))


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(temporary, index=False)
    temporary.replace(path)
    return path


def _atomic_text(path: Path, text: str) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return path
