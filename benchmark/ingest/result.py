"""What every reader returns: loaded rates, quarantined rows and a per-file row account that must balance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.schema import FileAccountSchema, QuarantineSchema, empty_quarantine, empty_rates, validate_rates


class RowAccountError(RuntimeError):
    """Rows in a file do not add up: some were lost without a reason."""


@dataclass
class FileAccount:
    """Row accounting for one source file: seen = loaded + quarantined + filtered_out + deduplicated."""

    source_file: str
    source_sha256: str
    rows_seen: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_filtered_out: int = 0
    rows_deduplicated: int = 0

    def check(self) -> None:
        accounted = self.rows_loaded + self.rows_quarantined + self.rows_filtered_out + self.rows_deduplicated
        if accounted != self.rows_seen:
            raise RowAccountError(
                f"{self.source_file}: {self.rows_seen} rows seen but {accounted} accounted for "
                f"(loaded {self.rows_loaded}, quarantined {self.rows_quarantined}, "
                f"filtered out {self.rows_filtered_out}, deduplicated {self.rows_deduplicated})"
            )


@dataclass(frozen=True)
class RejectedFile:
    """A whole file that was not loaded, and why (nothing from it is in the rates)."""

    source_file: str
    reason: str


@dataclass
class IngestResult:
    """Rates, quarantine and accounts from one or more files, and the files rejected whole."""

    rates: pd.DataFrame = field(default_factory=empty_rates)
    quarantine: pd.DataFrame = field(default_factory=empty_quarantine)
    accounts: list[FileAccount] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)

    def accounts_frame(self) -> pd.DataFrame:
        """Per-file accounts as a validated table (the schema re-checks that every file balances)."""
        cols = list(FileAccountSchema.to_schema().columns)
        frame = pd.DataFrame([vars(a) for a in self.accounts], columns=cols)
        return FileAccountSchema.validate(frame, lazy=True)

    def extend(self, other: "IngestResult") -> "IngestResult":
        """Combine two results (the rate and quarantine tables are re-validated)."""
        for account in other.accounts:
            account.check()
        return IngestResult(
            rates=_concat(self.rates, other.rates, validate_rates),
            quarantine=_concat(self.quarantine, other.quarantine, QuarantineSchema.validate),
            accounts=[*self.accounts, *other.accounts],
            rejected=[*self.rejected, *other.rejected],
        )


def _concat(a: pd.DataFrame, b: pd.DataFrame, validate) -> pd.DataFrame:
    frames = [f for f in (a, b) if len(f)]
    if not frames:
        return a
    return validate(pd.concat(frames, ignore_index=True))


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes as stored (compressed files are hashed compressed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
