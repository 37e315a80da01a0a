"""What every reader returns: loaded rates, quarantined rows and a per-file row account that must balance."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pyarrow as pa

from benchmark.schema import (
    FileAccountSchema,
    QuarantineSchema,
    check_built,
    check_built_rates,
    empty_quarantine,
    empty_rates,
)


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
    file_date: str | None = None  # ISO date the file declares (its last_updated_on), when it declares a real one

    def check(self) -> None:
        accounted = self.rows_loaded + self.rows_quarantined + self.rows_filtered_out + self.rows_deduplicated
        if accounted != self.rows_seen:
            raise RowAccountError(
                f"{self.source_file}: {self.rows_seen} rows seen but {accounted} accounted for "
                f"(loaded {self.rows_loaded}, quarantined {self.rows_quarantined}, "
                f"filtered out {self.rows_filtered_out}, deduplicated {self.rows_deduplicated})"
            )


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: .*)?")


def declared_date(value: object) -> str | None:
    """The ISO date (YYYY-MM-DD) of a file's declared date -- ``2026-01-15``, ``2026-01-15T08:00:00Z`` or the
    ``1/15/2026`` form of CMS's v3 CSV example -- or None for anything else (not a string, not a calendar date)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if m := _ISO_DATE.fullmatch(text):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _US_DATE.fullmatch(text):
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


@dataclass(frozen=True)
class RejectedFile:
    """A whole file that was not loaded, and why (nothing from it is in the rates)."""

    source_file: str
    reason: str


# The integer columns that tie a tidy rate row to its price, group and locator prefix (see TidyRates).
PRICE_KEY, GROUP_KEY, PREFIX_KEY = "_price", "_group", "_prefix"


@dataclass(frozen=True)
class TidyRates:
    """A batch of one TiC file's rate rows in tidy form, as the rate store keeps them (only the store asks for it).

    ``rows`` holds one row per rate row, in the reader's order: ``billing_code``, the row of the price table
    (``_price``), of the group table (``_group``), the index of its locator prefix (``_prefix``) and ``dedup_count``.
    The three tables come with the file's last batch (None in the others): ``prices`` (``_price``, every rate column
    a row takes from its price or from the file's constants, and ``price_locator``), ``groups`` (``_group``, the
    group columns and ``locator_suffix``) and ``prefixes`` (``_prefix``, ``prefix``). A row's wide form is its price's
    and its group's columns, ``source_locator`` = price_locator || prefix || locator_suffix, and ``partition``'s
    values (``source_type``, ``payer_family``)."""

    rows: pa.Table
    partition: dict[str, str]
    prices: pa.Table | None = None
    groups: pa.Table | None = None
    prefixes: pa.Table | None = None


@dataclass
class IngestResult:
    """Rates, quarantine and accounts from one or more files, and the files rejected whole (``tidy``: the rates of a
    batch in tidy form instead of ``rates``, when the rate store asked the TiC reader for them)."""

    rates: pd.DataFrame = field(default_factory=empty_rates)
    quarantine: pd.DataFrame = field(default_factory=empty_quarantine)
    accounts: list[FileAccount] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    tidy: TidyRates | None = None

    def accounts_frame(self) -> pd.DataFrame:
        """Per-file accounts as a validated table (the schema re-checks that every file balances)."""
        cols = list(FileAccountSchema.to_schema().columns)
        frame = pd.DataFrame([vars(a) for a in self.accounts], columns=cols)
        return check_built(FileAccountSchema, frame)

    def extend(self, other: IngestResult) -> IngestResult:
        """Combine two results (see :meth:`combine`)."""
        return IngestResult.combine([self, other])

    @classmethod
    def combine(cls, results: list[IngestResult]) -> IngestResult:
        """One result from many: accounts re-checked, tables concatenated and validated once."""
        for result in results:
            if result.tidy is not None:  # never dropped: tidy batches are written by the store, not combined
                raise ValueError("tidy rate batches cannot be combined in memory (read the file without tidy=True)")
            for account in result.accounts:
                account.check()
        rates = [r.rates for r in results if len(r.rates)]
        quarantine = [r.quarantine for r in results if len(r.quarantine)]
        return cls(
            rates=check_built_rates(pd.concat(rates, ignore_index=True)) if rates else empty_rates(),
            quarantine=(
                check_built(QuarantineSchema, pd.concat(quarantine, ignore_index=True))
                if quarantine
                else empty_quarantine()
            ),
            accounts=[a for r in results for a in r.accounts],
            rejected=[f for r in results for f in r.rejected],
        )
