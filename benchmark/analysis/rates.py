"""Load normalized rates from files, place them on the map, and compare them with Medicare.

- :func:`load_rates` reads any mix of TiC in-network files and hospital standard-charge files (or the shipped
  synthetic sample) into one validated rate table, attaching state and Medicare locality from a provider directory.
- :func:`compare_to_medicare` adds the locality-matched Medicare PFS amount and each rate as a percent of it.

Comparison rules (also printed in every report's methodology section):
- Only per-service dollar rates (negotiated, fee schedule, derived, or a percentage converted with a known base)
  billed as professional services, without modifiers, are compared; per diem, case rates, percentages without a
  base, institutional (facility-fee) rates and rates whose billing class is unknown or "both" are not comparable
  with the physician fee schedule and get no percentage (``comparison_note`` says why).
- The Medicare setting follows the rate's place of service: facility POS -> facility amount, office POS ->
  non-facility amount; a rate valid in both uses the only payable setting when the code is payable in just one.
- Geography: the provider's Medicare locality; else the state's locality when the state has only one; else the
  national amount, and the row says which (``medicare_match``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from benchmark import config
from benchmark.accounts import FileAccount, IngestResult
from benchmark.errors import InputFileError
from benchmark.ingest.routing import expand_sources, is_sample_file, read_file
from benchmark.reference import medicare
from benchmark.schema import PER_SERVICE_RATE_TYPES, RateSchema, validate_rates
from benchmark.sources.source import Source, local_path
from benchmark.store.rate_store import LOADED, is_store, open_store

SAMPLE = "sample"
MATCH_LOCALITY = "locality"
MATCH_STATE = "state (single locality)"
MATCH_NATIONAL = "national (locality unknown)"
NOT_COMPARED = "not compared"


class ComparedRateSchema(RateSchema):
    """A normalized rate with its Medicare comparison."""

    medicare_year: Series[int]
    medicare_setting: Series[str] = pa.Field(nullable=True)
    medicare_locality_used: Series[str] = pa.Field(nullable=True)
    medicare_match: Series[str] = pa.Field(isin=[MATCH_LOCALITY, MATCH_STATE, MATCH_NATIONAL, NOT_COMPARED])
    medicare_amount: Series[float] = pa.Field(nullable=True, gt=0)
    pct_of_medicare: Series[float] = pa.Field(nullable=True, gt=0)
    comparison_note: Series[str] = pa.Field(nullable=True)


@dataclass(frozen=True)
class DataSource:
    """Files to read and whether they are the synthetic sample."""

    paths: tuple[Path | Source, ...]  # local files; URLs, zip members and listed files as Source
    is_synthetic: bool
    provider_directory: Path | None
    label: str
    store: Path | None = None  # a rate store folder (benchmark.store.rate_store), read instead of files


def resolve_source(
    source: str | Path | Sequence[str | Path] = SAMPLE, provider_directory: str | Path | None = None
) -> DataSource:
    """``"sample"`` for the shipped synthetic data, else files or folders of TiC / hospital files."""
    if isinstance(source, (str, Path)) and str(source) == SAMPLE:
        paths = sorted(config.SAMPLE_TIC_DIR.glob("*.json*")) + sorted(config.SAMPLE_HOSPITAL_DIR.glob("*.csv"))
        if not paths:
            raise FileNotFoundError(f"No sample files under {config.SAMPLE_DIR}; run `paybench sample-data`")
        return DataSource(tuple(paths), True, config.SAMPLE_PROVIDER_DIRECTORY, config.SYNTHETIC_LABEL)
    items = [source] if isinstance(source, (str, Path)) else list(source)
    directory = Path(provider_directory) if provider_directory else None
    if len(items) == 1 and is_store(items[0]):
        store = open_store(items[0])
        loaded = int(store.manifest()["status"].eq(LOADED).sum())
        label = f"rate store {Path(items[0]).name} ({loaded} files)"
        return DataSource((), store.is_synthetic, directory, label, store=Path(items[0]))
    files = tuple(expand_sources(items))
    samples = sum(is_sample_file(local_path(f)) for f in files)
    if not samples:
        return DataSource(files, False, directory, "user-supplied files")
    # sample files named by path are still the synthetic sample: label them so (as a store built from them is)
    label = config.SYNTHETIC_LABEL if samples == len(files) else f"user-supplied files and {config.SYNTHETIC_LABEL}"
    return DataSource(files, True, directory, label)


def load_rates(
    source: str | Path | Sequence[str | Path] = SAMPLE,
    codes: Iterable[str] | None = None,
    provider_directory: str | Path | None = None,
    *,
    strict: bool = False,
) -> IngestResult:
    """Read every file of ``source`` (filtered to ``codes``) into one validated rate table with geography.

    Each file goes to the reader of its kind (detected from its content). A file that cannot be read at all (wrong
    format, corrupt, not a rate file) is listed in ``result.rejected`` with the reason and nothing from it is
    loaded; with ``strict=True`` a rejected file raises instead.

    ``source`` may be a rate store folder (:mod:`benchmark.store.rate_store`, recognised by its manifest): the rates of
    ``codes`` are then read from it with DuckDB, in ingest order; ``result.accounts`` and ``result.quarantine`` are
    those of the ingest, and ``result.rejected`` lists the files the store rejected or failed and the files ingested
    with a code filter that left out some of ``codes``.
    """
    data = resolve_source(source, provider_directory)
    code_list = None if codes is None else [str(c) for c in codes]
    if data.store is not None:
        result = _load_from_store(data.store, code_list)
    else:
        result = IngestResult.combine(
            [read_file(path, code_list, is_synthetic=is_sample_file(local_path(path))) for path in data.paths]
        )
    if strict and result.rejected:
        raise InputFileError("; ".join(f"{r.source_file}: {r.reason}" for r in result.rejected))
    directory = load_provider_directory(data.provider_directory) if data.provider_directory else None
    result.rates = attach_geography(result.rates, directory)
    return result


def _load_from_store(root: Path, codes: list[str] | None) -> IngestResult:
    store = open_store(root)
    accounts = [FileAccount(**record) for record in store.accounts().to_dict(orient="records")]
    rejected = store.rejected() + (store.coverage_gaps(codes) if codes else [])
    return IngestResult(
        rates=store.read_rates(codes), quarantine=store.read_quarantine(), accounts=accounts, rejected=rejected
    )


# --------------------------------------------------------------------------------------------------- geography
def load_provider_directory(path: str | Path) -> pd.DataFrame:
    """An NPPES-like provider directory: ``npi, tin, provider_name, state, medicare_locality`` (all text)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"npi", "tin", "state", "medicare_locality"} - set(frame.columns)
    if missing:
        raise InputFileError(f"{path}: provider directory lacks column(s) {sorted(missing)}")
    return frame


def attach_geography(rates: pd.DataFrame, directory: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``state`` and ``medicare_locality`` from the provider directory (by NPI, then TIN, then exact name).

    Values already in the rate (a hospital file states its own state) are kept; the directory fills the gaps.
    A state with exactly one Medicare locality gets that locality.
    """
    if rates.empty:
        return rates
    out = rates.copy()
    if directory is not None and len(directory):
        by_npi = directory.drop_duplicates("npi").set_index("npi")
        by_tin = directory.drop_duplicates("tin").set_index("tin")
        first_npi = out["provider_npis"].fillna("").str.split("|").str[0]
        name_key = out["provider_name"].map(_name_key)
        by_name = None
        if "provider_name" in directory:
            named = directory.assign(key=directory["provider_name"].map(_name_key))
            by_name = named.drop_duplicates("key", keep=False).set_index("key")  # ambiguous names never match
        for column in ("state", "medicare_locality"):
            from_npi = first_npi.map(by_npi[column]).replace("", None)
            from_tin = out["provider_tin"].map(by_tin[column]).replace("", None)
            out[column] = out[column].fillna(from_npi).fillna(from_tin)
            if by_name is not None:
                from_name = name_key.map(by_name[column]).replace("", None)
                # a name match is trusted only within the state the file itself gives
                same_state = out["state"].isna() | out["state"].eq(name_key.map(by_name["state"]))
                out[column] = out[column].fillna(from_name.where(same_state))
    single = single_locality_states()
    out["medicare_locality"] = out["medicare_locality"].fillna(out["state"].map(single))
    return validate_rates(out)


def _name_key(name: object) -> str | None:
    return " ".join(str(name).upper().split()) if isinstance(name, str) and name.strip() else None


def single_locality_states() -> pd.Series:
    gpci = medicare.load_gpci()
    counts = gpci.groupby("state")["locality_id"].agg(["count", "first"])
    return counts.loc[counts["count"] == 1, "first"]


# --------------------------------------------------------------------------------------------------- Medicare
def compare_to_medicare(rates: pd.DataFrame, year: int = 2025) -> pd.DataFrame:
    """Each rate with the matching Medicare PFS amount and its percent of Medicare (see module rules)."""
    out = rates.copy()
    codes = sorted(out["billing_code"].unique()) if len(out) else []
    amounts = medicare.medicare_amounts(codes, year, localities="all") if codes else None
    out["medicare_year"] = year
    note = _why_not_comparable(out)
    setting = out["pos_setting"].where(out["pos_setting"].isin(["facility", "non_facility"]))
    if amounts is not None:
        setting = setting.fillna(out["billing_code"].map(only_payable_setting(amounts)))
    note = note.fillna(
        setting.isna().map({True: "place of service does not determine a payable Medicare setting", False: None})
    )
    locality = out["medicare_locality"].fillna(medicare.NATIONAL)
    single = out["state"].map(single_locality_states())
    match = pd.Series(MATCH_LOCALITY, index=out.index).where(out["medicare_locality"].notna(), MATCH_NATIONAL)
    match = match.where(~(out["medicare_locality"].notna() & single.eq(out["medicare_locality"])), MATCH_STATE)
    amount = pd.Series(float("nan"), index=out.index)
    if amounts is not None:
        lookup = amounts.set_index(["hcpcs", "locality_id", "setting"])["amount"]
        keys = pd.MultiIndex.from_arrays([out["billing_code"], locality, setting.fillna("")])
        amount = pd.Series(lookup.reindex(keys).to_numpy(), index=out.index)
    unpaid = note.isna() & amount.isna()
    note = note.where(
        ~unpaid,
        "Medicare does not pay "
        + out["billing_code"]
        + " in the "
        + setting.fillna("").str.replace("_", "-")
        + " setting",
    )
    compared = note.isna()
    out["medicare_setting"] = setting.where(compared)
    out["medicare_locality_used"] = locality.where(compared)
    out["medicare_match"] = match.where(compared, NOT_COMPARED)
    out["medicare_amount"] = amount.where(compared)
    out["pct_of_medicare"] = (out["amount_usd"] / out["medicare_amount"] * 100).round(1)
    out["comparison_note"] = note
    columns = list(ComparedRateSchema.to_schema().columns)
    return ComparedRateSchema.validate(out[columns], lazy=True)


def _why_not_comparable(rates: pd.DataFrame) -> pd.Series:
    """Why a rate is not compared with the PFS amount (None where it is comparable)."""
    kind = rates["rate_type"].str.replace("_", " ")
    kind = kind.where(kind.str.endswith("rate"), kind + " rate")
    reasons = [
        (
            rates["billing_class"].eq("institutional"),
            pd.Series("institutional (facility) rate: no Medicare facility payment loaded", index=rates.index),
        ),
        (
            rates["billing_class"].ne("professional"),
            "billing class " + rates["billing_class"] + ": professional and facility fees cannot be told apart",
        ),
        (
            ~rates["rate_type"].isin(PER_SERVICE_RATE_TYPES) & rates["amount_usd"].isna(),
            kind + ": not a per-service dollar amount",
        ),
        (rates["amount_usd"].isna(), pd.Series("no dollar amount", index=rates.index)),
        (
            rates["modifiers"].ne(""),
            "modifier " + rates["modifiers"] + ": compared in the modifier table, not the base distribution",
        ),
    ]
    note = pd.Series(None, index=rates.index, dtype=object)
    for condition, text in reversed(reasons):  # the first matching reason wins
        note = note.mask(condition, text)
    return note


def only_payable_setting(amounts: pd.DataFrame) -> pd.Series:
    """Code -> its only payable setting nationally (codes payable in both or neither are absent)."""
    national = amounts[amounts["locality_id"].eq(medicare.NATIONAL) & amounts["payable"]]
    counts = national.groupby("hcpcs")["setting"].agg(["count", "first"])
    return counts.loc[counts["count"] == 1, "first"]
