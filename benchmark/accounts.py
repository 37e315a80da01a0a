"""What every reader returns: loaded rates, quarantined rows and a per-file row account that must balance."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def extend(self, other: IngestResult) -> IngestResult:
        """Combine two results (see :meth:`combine`)."""
        return IngestResult.combine([self, other])

    @classmethod
    def combine(cls, results: list[IngestResult]) -> IngestResult:
        """One result from many: accounts re-checked, tables concatenated and validated once."""
        for result in results:
            for account in result.accounts:
                account.check()
        rates = [r.rates for r in results if len(r.rates)]
        quarantine = [r.quarantine for r in results if len(r.quarantine)]
        return cls(
            rates=validate_rates(pd.concat(rates, ignore_index=True)) if rates else empty_rates(),
            quarantine=(
                QuarantineSchema.validate(pd.concat(quarantine, ignore_index=True))
                if quarantine
                else empty_quarantine()
            ),
            accounts=[a for r in results for a in r.accounts],
            rejected=[f for r in results for f in r.rejected],
        )
