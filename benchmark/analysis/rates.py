"""Load normalized rates from files, place them on the map, and compare them with Medicare.

- :func:`load_rates` reads any mix of TiC in-network files and hospital standard-charge files (or the shipped
  synthetic sample) into one validated rate table, attaching state and Medicare locality from a provider directory.
- :func:`compare_to_medicare` adds the locality-matched Medicare PFS amount and each rate as a percent of it, and
  for institutional rates the Medicare facility baseline in columns of their own (``facility_*``).

Comparison rules (also printed in every report's methodology section):
- Only per-service dollar rates (negotiated, fee schedule, derived, or a percentage converted with a known base)
  billed as professional services, without modifiers, are compared; per diem, case rates, percentages without a
  base, institutional (facility-fee) rates and rates whose billing class is unknown or "both" are not comparable
  with the physician fee schedule and get no percentage (``comparison_note`` says why).
- The Medicare setting follows the rate's place of service: facility POS -> facility amount, office POS ->
  non-facility amount; a rate valid in both uses the only payable setting when the code is payable in just one.
- Geography: the provider's Medicare locality; else the state's locality when the state has only one; else the
  national amount, and the row says which (``medicare_match``).
- Lab codes (not paid under the PFS, listed with a rate in the CLFS of the year) are compared with the national CLFS
  rate; ``medicare_basis`` says which fee schedule a professional rate is compared with (PFS or CLFS).
- Institutional (facility-fee) rates are never compared with the PFS: they get ``facility_medicare_basis``,
  ``facility_medicare_amount`` and ``pct_of_facility_medicare``: a DRG-coded (MS-DRG) rate against the IPPS national
  operating payment when a CMS Table 5 is given (else a note that it is needed); a lab code against the CLFS rate;
  an inpatient rate billed by CPT/HCPCS is not compared (Medicare pays the stay by DRG); any other code against the
  OPPS national unadjusted payment when the status indicator pays it separately, else the status in words
  (packaged, inpatient only, not paid under OPPS). The percentages of the two sets are never pooled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import cache, config
from benchmark.accounts import FileAccount, IngestResult, RejectedFile
from benchmark.errors import InputFileError, ParameterError
from benchmark.ingest.routing import expand_sources, is_sample_file, read_file
from benchmark.reference import medicare
from benchmark.reference.medicare import clfs, ipps, opps
from benchmark.reference.medicare.baseline import CLFS_BASIS, IPPS_BASIS, OPPS_BASIS, PFS_BASIS
from benchmark.schema import PER_SERVICE_RATE_TYPES, RateSchema, check_built, check_built_rates
from benchmark.sources.source import Source, local_path
from benchmark.store.rate_store import LOADED, is_store, open_store

SAMPLE = "sample"
MATCH_LOCALITY = "locality"
MATCH_STATE = "state (single locality)"
MATCH_NATIONAL = "national (locality unknown)"
MATCH_CLFS = "national (CLFS: no geographic adjustment)"
NOT_COMPARED = "not compared"
FACILITY_BASES = [OPPS_BASIS, CLFS_BASIS, IPPS_BASIS]
RATES_CACHE = "rates"  # cache namespace of the rates read from a set of files (benchmark.cache)
STORE_PROVIDERS = "providers.csv"  # a provider directory saved in a rate store folder by `paybench ingest --providers`


class ComparedRateSchema(RateSchema):
    """A normalized rate with its Medicare comparison."""

    medicare_year: Series[int]
    medicare_setting: Series[str] = pa.Field(nullable=True)
    medicare_locality_used: Series[str] = pa.Field(nullable=True)
    medicare_match: Series[str] = pa.Field(isin=[MATCH_LOCALITY, MATCH_STATE, MATCH_NATIONAL, MATCH_CLFS, NOT_COMPARED])
    medicare_basis: Series[str] = pa.Field(nullable=True, isin=[PFS_BASIS, CLFS_BASIS])
    medicare_amount: Series[float] = pa.Field(nullable=True, gt=0)
    pct_of_medicare: Series[float] = pa.Field(nullable=True, gt=0)
    comparison_note: Series[str] = pa.Field(nullable=True)
    facility_medicare_basis: Series[str] = pa.Field(nullable=True, isin=FACILITY_BASES)
    facility_medicare_amount: Series[float] = pa.Field(nullable=True, gt=0)
    pct_of_facility_medicare: Series[float] = pa.Field(nullable=True, gt=0)
    facility_comparison_note: Series[str] = pa.Field(nullable=True)


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
    """``"sample"`` for the shipped synthetic data, else files, folders, zips, URLs or one rate store.

    Several sources may be given (``"sample"`` among them). ``provider_directory`` places the rates (state and
    Medicare locality by NPI / TIN); without it the sample uses its own directory and a rate store the one saved
    with it by ``paybench ingest --providers`` (``providers.csv`` in the store folder), if any.
    """
    items = [source] if isinstance(source, (str, Path)) else list(source)
    directory = Path(provider_directory) if provider_directory else None
    if [str(i) for i in items] == [SAMPLE]:
        paths = _sample_paths()
        return DataSource(paths, True, directory or config.SAMPLE_PROVIDER_DIRECTORY, config.SYNTHETIC_LABEL)
    if len(items) == 1 and is_store(items[0]):
        store = open_store(items[0])
        loaded = int(store.manifest()["status"].eq(LOADED).sum())
        label = f"rate store {Path(items[0]).name} ({loaded} files)"
        saved = Path(items[0]) / STORE_PROVIDERS
        directory = directory or (saved if saved.is_file() else None)
        return DataSource((), store.is_synthetic, directory, label, store=Path(items[0]))
    stores = [str(i) for i in items if is_store(i)]
    if stores:
        raise ParameterError(f"a rate store is read on its own, not with other sources: {', '.join(stores)}")
    with_sample = any(str(i) == SAMPLE for i in items)
    files = tuple(expand_sources([i for i in items if str(i) != SAMPLE]))
    if with_sample:
        files = _sample_paths() + files
        directory = directory or config.SAMPLE_PROVIDER_DIRECTORY
    files = tuple({str(f): f for f in files}.values())  # a file named twice (or also in a folder) is read once
    samples = sum(is_sample_file(local_path(f)) for f in files)
    if not samples:
        return DataSource(files, False, directory, "user-supplied files")
    # sample files named by path are still the synthetic sample: label them so (as a store built from them is)
    label = config.SYNTHETIC_LABEL if samples == len(files) else f"user-supplied files and {config.SYNTHETIC_LABEL}"
    return DataSource(files, True, directory, label)


def _sample_paths() -> tuple[Path, ...]:
    paths = sorted(config.SAMPLE_TIC_DIR.glob("*.json*")) + sorted(config.SAMPLE_HOSPITAL_DIR.glob("*.csv"))
    if not paths:
        raise FileNotFoundError(f"No sample files under {config.SAMPLE_DIR}; run `paybench sample-data`")
    return tuple(paths)


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
        directory = load_provider_directory(data.provider_directory) if data.provider_directory else None
        result.rates = attach_geography(result.rates, directory)
    else:
        result = _read_files_cached(data, code_list)
    if strict and result.rejected:
        raise InputFileError("; ".join(f"{r.source_file}: {r.reason}" for r in result.rejected))
    return result


def _read_files(data: DataSource, codes: list[str] | None) -> IngestResult:
    """Every file read by its reader, combined, and placed by the provider directory (validated)."""
    result = IngestResult.combine(
        [read_file(path, codes, is_synthetic=is_sample_file(local_path(path))) for path in data.paths]
    )
    directory = load_provider_directory(data.provider_directory) if data.provider_directory else None
    result.rates = attach_geography(result.rates, directory)
    return result


def _read_files_cached(data: DataSource, codes: list[str] | None) -> IngestResult:
    """:func:`_read_files`, kept in the cache (:mod:`benchmark.cache`) by the sha256 of every file read, the codes
    and the provider directory: an unchanged source is read back from Parquet as validated when it was written.
    Sources read over the network are never cached (their bytes are not known before reading them)."""
    key = _cache_key(data, codes)
    if key is None:
        return _read_files(data, codes)
    hit = cache.load(RATES_CACHE, key)
    if hit is not None:
        tables, meta = hit
        return IngestResult(
            rates=tables["rates"],
            quarantine=tables["quarantine"],
            accounts=[FileAccount(**record) for record in meta["accounts"]],
            rejected=[RejectedFile(**record) for record in meta["rejected"]],
        )
    result = _read_files(data, codes)
    meta = {"accounts": [vars(a) for a in result.accounts], "rejected": [vars(r) for r in result.rejected]}
    cache.save(RATES_CACHE, key, {"rates": result.rates, "quarantine": result.quarantine}, meta)
    return result


def _cache_key(data: DataSource, codes: list[str] | None) -> str | None:
    parts: list[object] = []
    for item in data.paths:
        local = item if isinstance(item, Path) else None
        if isinstance(item, Source) and not item.is_url:
            local = Path(item.location)  # a member of a local zip: its archive's bytes decide
        if local is None:
            return None
        parts.append([str(item), str(local.resolve()), cache.file_digest(local)])
    directory = data.provider_directory
    parts.append(["providers", str(directory), cache.file_digest(directory) if directory else None])
    parts.append(["codes", codes])
    return cache.key_of("rates", parts)


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
    return check_built_rates(out)


def _name_key(name: object) -> str | None:
    return " ".join(str(name).upper().split()) if isinstance(name, str) and name.strip() else None


def single_locality_states() -> pd.Series:
    gpci = medicare.load_gpci()
    counts = gpci.groupby("state")["locality_id"].agg(["count", "first"])
    return counts.loc[counts["count"] == 1, "first"]


# --------------------------------------------------------------------------------------------------- Medicare
def compare_to_medicare(
    rates: pd.DataFrame, year: int = config.DEFAULT_MEDICARE_YEAR, *, table5: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each rate with the matching Medicare amount and its percent of Medicare (see module rules).

    ``table5``: a CMS IPPS Table 5 (:func:`benchmark.reference.medicare.ipps.load_table5`) for DRG-coded rates.
    """
    out = rates.copy()
    codes = sorted(out["billing_code"].unique()) if len(out) else []
    amounts = medicare.medicare_amounts(codes, year, localities="all") if codes else None
    out["medicare_year"] = year
    note = _why_not_comparable(out)
    eligible = note.isna()
    setting = out["pos_setting"].where(out["pos_setting"].isin(["facility", "non_facility"]))
    if amounts is not None:
        only = out["billing_code"].map(only_payable_setting(amounts))
        if only.notna().any():  # (an all-empty map is float-typed: nothing to fill)
            setting = setting.fillna(only)
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
    # a lab code without a PFS amount is compared with the national CLFS rate, whatever the setting
    lab_rates = clfs_rates(codes, year)
    lab_rows = eligible & amount.isna() & out["billing_code"].isin(list(lab_rates))
    amount = amount.mask(lab_rows, out["billing_code"].map(lab_rates))
    basis = pd.Series(PFS_BASIS, index=out.index).mask(lab_rows, CLFS_BASIS)
    match = match.mask(lab_rows, MATCH_CLFS)
    locality = locality.mask(lab_rows, medicare.NATIONAL)
    note = note.mask(lab_rows, None)
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
    out["medicare_basis"] = basis.where(compared)
    out["medicare_amount"] = amount.where(compared)
    out["pct_of_medicare"] = (out["amount_usd"] / out["medicare_amount"] * 100).round(1)
    out["comparison_note"] = note
    facility = compare_institutional(out, year, table5)
    for column in facility.columns:
        out[column] = facility[column]
    columns = list(ComparedRateSchema.to_schema().columns)
    return check_built(ComparedRateSchema, out[columns])


def _why_not_comparable(rates: pd.DataFrame) -> pd.Series:
    """Why a rate is not compared with the PFS amount (None where it is comparable)."""
    kind = rates["rate_type"].str.replace("_", " ")
    kind = kind.where(kind.str.endswith("rate"), kind + " rate")
    reasons = [
        (
            rates["billing_class"].eq("institutional"),
            pd.Series(
                "institutional (facility) rate: compared with the Medicare facility baseline, not the PFS",
                index=rates.index,
            ),
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


def clfs_rates(codes: Sequence[str], year: int) -> dict[str, float]:
    """Code -> national CLFS rate for the lab codes among ``codes`` (codes without a rate are absent)."""
    found = {code: clfs.clfs_rate(code, year) for code in codes}
    return {code: row.rate for code, row in found.items() if row is not None and row.rate is not None}


def only_payable_setting(amounts: pd.DataFrame) -> pd.Series:
    """Code -> its only payable setting nationally (codes payable in both or neither are absent)."""
    national = amounts[amounts["locality_id"].eq(medicare.NATIONAL) & amounts["payable"]]
    counts = national.groupby("hcpcs")["setting"].agg(["count", "first"])
    return counts.loc[counts["count"] == 1, "first"]


# --------------------------------------------------------------------------------------------------- facility


def compare_institutional(rates: pd.DataFrame, year: int, table5: pd.DataFrame | None = None) -> pd.DataFrame:
    """The facility columns of :func:`compare_to_medicare`: each institutional rate against the Medicare facility
    baseline of its code (see the module rules), never against the physician fee schedule.

    Returns ``facility_medicare_basis``, ``facility_medicare_amount``, ``pct_of_facility_medicare`` and
    ``facility_comparison_note`` for every row (empty for professional rates).
    """
    out = pd.DataFrame(index=rates.index)
    out["facility_medicare_basis"] = None
    out["facility_medicare_amount"] = float("nan")
    out["facility_comparison_note"] = None
    # a DRG is a payment for an inpatient stay: a facility rate whatever billing class the file gives
    institutional = rates["billing_class"].eq("institutional") | rates["billing_code_type"].str.upper().str.contains(
        "DRG", regex=False
    )
    if not institutional.any():
        out["pct_of_facility_medicare"] = float("nan")
        return out
    kind = pd.Series("hcpcs", index=rates.index).mask(rates["care_setting"].eq("inpatient"), "inpatient")
    code_type = rates["billing_code_type"].str.upper()
    kind = kind.mask(code_type.str.contains("DRG", regex=False), "other_drg").mask(code_type.eq("MS-DRG"), "drg")
    keys = pd.Series(list(zip(rates["billing_code"], kind)), index=rates.index)[institutional]
    found = {key: _facility_baseline(key[0], key[1], year, table5) for key in keys.unique()}
    basis = keys.map(lambda key: found[key][0])
    amount = keys.map(lambda key: found[key][1]).astype(float)
    note = keys.map(lambda key: found[key][2])
    dollars = facility_dollars(rates)
    has_dollars = dollars.notna() & rates["modifiers"].eq("")
    lost = amount.notna() & ~has_dollars[institutional]
    note = note.mask(
        lost,
        rates["modifiers"].ne("")[institutional].map({True: "modifier rate: not compared", False: "no dollar amount"}),
    )
    out.loc[institutional, "facility_medicare_basis"] = basis.mask(lost)
    out.loc[institutional, "facility_medicare_amount"] = amount.mask(lost)
    out.loc[institutional, "facility_comparison_note"] = note
    out["pct_of_facility_medicare"] = (dollars / out["facility_medicare_amount"] * 100).round(1)
    return out


def facility_dollars(rates: pd.DataFrame) -> pd.Series:
    """The dollar amount a facility rate is compared with: the per-service dollars, or for a DRG the case rate
    (an IPPS payment is a payment per stay)."""
    drg_case = rates["billing_code_type"].str.upper().str.contains("DRG", regex=False) & rates["amount_unit"].eq(
        "USD_per_case"
    )
    return rates["amount_usd"].mask(drg_case & rates["amount_usd"].isna(), rates["amount"])


def _facility_baseline(
    code: str, kind: str, year: int, table5: pd.DataFrame | None
) -> tuple[str | None, float | None, str | None]:
    """(basis, national amount, note) of one code: IPPS for DRGs, CLFS for lab codes, OPPS otherwise."""
    if kind == "drg":
        if table5 is None:
            return None, None, ipps.TABLE5_NEEDED
        payment = ipps.drg_payment(code, table5)
        if payment is None:
            return None, None, f"MS-DRG {code} is not in the Table 5 given: {config.NOT_AVAILABLE}"
        if payment.amount is None:
            return None, None, f"Table 5 gives MS-DRG {code} no weight"
        return IPPS_BASIS, payment.amount, ipps.IPPS_NOTE.format(fy=payment.fiscal_year)
    if kind == "other_drg":
        return None, None, "DRG not stated as MS-DRG: Medicare's IPPS weights apply to MS-DRGs only"
    if kind == "inpatient":
        return None, None, "inpatient rate billed by CPT/HCPCS: Medicare pays an inpatient stay by MS-DRG (IPPS)"
    lab = clfs.clfs_rate(code, year)
    if lab is not None and lab.rate is not None:
        return CLFS_BASIS, lab.rate, f"CLFS {lab.year} national rate (labs have no geographic adjustment)"
    status = opps.opps_status(code, year)
    if status.comparable:
        return (
            OPPS_BASIS,
            status.payment_rate,
            (f"OPPS CY {status.year} SI {status.status_indicator}, APC {status.apc}, national unadjusted rate"),
        )
    if lab is not None:
        return None, None, f"{code}: {lab.year} CLFS gives no national rate"
    return (
        None,
        None,
        f"OPPS CY {status.year} SI {status.status_indicator}: {status.words}"
        if status.status_indicator
        else status.words,
    )
