"""Which rates not to believe: flags as columns (nothing is deleted), and statistics with and without them.

:func:`flag_rates` adds one boolean column per reason, ``flag_reasons`` (the reasons pipe-joined, empty when none),
``flagged`` and ``plausibility_check`` (why ``implausible_provider`` is what it is). The rules:

- ``implausible_provider``: the provider's specialties, from the provider directory's NUCC ``taxonomy`` column
  (pipe-joined when several) mapped to CMS Medicare specialty codes with the CMS taxonomy crosswalk
  (``data/reference/taxonomy``), include none of the specialties that plausibly perform the code for the rate's
  billing class (``data/reference/plausibility/code_specialties.yaml``, versioned, basis stated there). A rate's
  providers are its NPIs, else the directory's NPIs of its TIN. A provider group with one surgeon is plausible.
  On a professional rate a facility's specialty (hospital, surgical center) is not decisive: a hospital's file or
  contract lists professional charges of its employed physicians under its own NPI.
  Not checked (never flagged, ``plausibility_check`` says why): no directory with taxonomy, a code without a table
  entry, or no provider with a decisive specialty (group practice, unknown and undefined-physician codes say
  nothing about what a provider does).
- ``below_10pct_medicare`` / ``above_2000pct_medicare``: ``pct_of_medicare`` (from ``compare_to_medicare``) below
  10 or above 2,000. Rates without a Medicare comparison are not tested.
- ``outlier_log_iqr``: ``log(amount)`` outside [Q1 - 3 IQR, Q3 + 3 IQR] of the log amounts of the same billing
  code, modifiers, billing class and unit (quartiles by linear interpolation, as in ``stats``), over every row passed in;
  groups of fewer than :data:`OUTLIER_MIN_N` rates are not tested.
- ``expired``: an ISO ``expiration_date`` (``YYYY-MM-DD``) before the report date. Other date text is not tested.
- ``placeholder``: a dollar amount of at most $1.00 (0.01, 1); an amount whose whole-dollar part is at least five
  9s with 00 or 99 cents (99999, 999999.99, 999999999); or the same dollar amount (and unit) published by one file
  for one provider for at least :data:`PLACEHOLDER_REPEAT_CODES` distinct billing codes (a filler value, not a price). The
  repeat rule sees only the codes passed in: a table of one code never triggers it.

By default every flag takes a rate out of the "excluding flagged" statistics; ``keep_implausible=True`` keeps rates
whose only flag is ``implausible_provider``. :func:`flagged_distribution_table` gives every statistic twice:
``rates = "all"`` and ``rates = "excluding flagged"``; :func:`flag_counts` gives n flagged by reason.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmark import config
from benchmark.analysis.stats import DEFAULT_GROUPS, distribution_table
from benchmark.errors import InputFileError

IMPLAUSIBLE = "implausible_provider"
BELOW_MEDICARE = "below_10pct_medicare"
ABOVE_MEDICARE = "above_2000pct_medicare"
OUTLIER = "outlier_log_iqr"
EXPIRED = "expired"
PLACEHOLDER = "placeholder"
FLAG_COLUMNS: tuple[str, ...] = (IMPLAUSIBLE, BELOW_MEDICARE, ABOVE_MEDICARE, OUTLIER, EXPIRED, PLACEHOLDER)

BELOW_PCT = 10.0
ABOVE_PCT = 2000.0
IQR_FENCE = 3.0
OUTLIER_MIN_N = 8
OUTLIER_GROUP: tuple[str, ...] = ("billing_code", "modifiers", "billing_class", "amount_unit")
PLACEHOLDER_MAX_USD = 1.00
PLACEHOLDER_MIN_NINES = 5
PLACEHOLDER_REPEAT_CODES = 5

CHECK_PLAUSIBLE = "plausible"
CHECK_IMPLAUSIBLE = "implausible: no listed specialty for this code"
CHECK_NO_DIRECTORY = "not checked: no provider directory with taxonomy"
CHECK_NO_ENTRY = "not checked: code has no entry in the specialty table"
CHECK_UNKNOWN = "not checked: provider specialty unknown"

ALL_RATES = "all"
EXCLUDING_FLAGGED = "excluding flagged"


# --------------------------------------------------------------------------------------------------- reference
@dataclass(frozen=True)
class SpecialtyTable:
    """Which CMS specialties plausibly perform each code (``code_specialties.yaml``)."""

    version: str
    date: str
    basis: str
    professional: dict[str, frozenset[str]]
    institutional: dict[str, frozenset[str]]
    non_decisive: frozenset[str]
    assistant_modifiers: frozenset[str]
    assistant_specialties: frozenset[str]
    source: str

    @property
    def facility_specialties(self) -> frozenset[str]:
        """Every specialty listed for institutional rates (hospitals, surgical centers)."""
        return frozenset().union(*self.institutional.values()) if self.institutional else frozenset()

    @property
    def codes(self) -> list[str]:
        return sorted(set(self.professional) | set(self.institutional))


def load_specialty_table(path: str | Path | None = None) -> SpecialtyTable:
    """Read the versioned code -> plausible specialties table (default: the shipped one)."""
    file = Path(path) if path else config.CODE_SPECIALTIES_FILE
    return _load_specialty_table(str(file))


@lru_cache(maxsize=4)
def _load_specialty_table(file: str) -> SpecialtyTable:
    with open(file, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    try:
        groups = raw["groups"]
        professional: dict[str, frozenset[str]] = {}
        institutional: dict[str, frozenset[str]] = {}
        for code, group in raw["codes"].items():
            if not isinstance(code, str):
                raise InputFileError(f"{file}: code {code!r} must be quoted text")
            professional[code] = frozenset(str(s) for s in groups[group].get("professional", []))
            institutional[code] = frozenset(str(s) for s in groups[group].get("institutional", []))
        return SpecialtyTable(
            version=str(raw["version"]),
            date=str(raw["date"]),
            basis=str(raw["basis"]),
            professional=professional,
            institutional=institutional,
            non_decisive=frozenset(str(s) for s in raw.get("non_decisive_specialties", [])),
            assistant_modifiers=frozenset(str(s) for s in raw.get("assistant_modifiers", [])),
            assistant_specialties=frozenset(str(s) for s in raw.get("assistant_specialties", [])),
            source=Path(file).name,
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise InputFileError(f"{file}: not a specialty table ({error!r})") from error


@lru_cache(maxsize=2)
def load_taxonomy_crosswalk(path: str | None = None) -> pd.DataFrame:
    """``taxonomy_code -> specialty_code`` pairs of the CMS crosswalk (footnote markers and spaces stripped)."""
    file = path or str(config.TAXONOMY_CROSSWALK_FILE)
    raw = pd.read_csv(file, dtype=str, keep_default_na=False)
    specialty = raw.iloc[:, 0].str.replace(r"\[\d+\]", "", regex=True).str.strip()
    taxonomy = raw.iloc[:, 2].str.strip()
    frame = pd.DataFrame({"taxonomy_code": taxonomy, "specialty_code": specialty})
    frame = frame[frame["taxonomy_code"].ne("") & frame["specialty_code"].ne("")]
    return frame.drop_duplicates().reset_index(drop=True)


# --------------------------------------------------------------------------------------------------- flags
def flag_rates(
    rates: pd.DataFrame,
    directory: pd.DataFrame | None = None,
    report_date: dt.date | str | None = None,
    specialties: SpecialtyTable | None = None,
) -> pd.DataFrame:
    """``rates`` (a rate table, ideally with ``compare_to_medicare`` columns) with the flag columns added."""
    out = rates.copy()
    report_day = _iso_day(report_date)
    table = specialties or load_specialty_table()
    implausible, check = implausible_provider(out, directory, table)
    out[IMPLAUSIBLE] = implausible
    out["plausibility_check"] = check
    pct = out["pct_of_medicare"] if "pct_of_medicare" in out else pd.Series(np.nan, index=out.index)
    pct = pd.to_numeric(pct, errors="coerce")
    out[BELOW_MEDICARE] = (pct < BELOW_PCT).fillna(False).astype(bool)
    out[ABOVE_MEDICARE] = (pct > ABOVE_PCT).fillna(False).astype(bool)
    out[OUTLIER] = outlier_log_iqr(out)
    expiry = out["expiration_date"].astype("string")
    iso = expiry.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    out[EXPIRED] = (iso & (expiry < report_day)).fillna(False).astype(bool)
    out[PLACEHOLDER] = placeholder(out)
    flags = out[list(FLAG_COLUMNS)]
    out["flagged"] = flags.any(axis=1)
    out["flag_reasons"] = _join_reasons(flags)
    return out


def _iso_day(value: dt.date | str | None) -> str:
    if value is None:
        return dt.date.today().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InputFileError(f"report date {text!r} is not YYYY-MM-DD")
    return text


def _join_reasons(flags: pd.DataFrame) -> pd.Series:
    reasons = pd.Series("", index=flags.index, dtype=object)
    for column in flags.columns:
        add = flags[column].to_numpy(bool)
        reasons[add] = np.where(reasons[add] == "", column, reasons[add] + "|" + column)
    return reasons.astype("str")


def outlier_log_iqr(rates: pd.DataFrame) -> pd.Series:
    """True where ``log(amount)`` is outside [Q1 - 3 IQR, Q3 + 3 IQR] of its :data:`OUTLIER_GROUP` group."""
    result = pd.Series(False, index=rates.index)
    if rates.empty:
        return result
    logs = np.log(pd.to_numeric(rates["amount"], errors="coerce").where(lambda a: a > 0))
    grouped = logs.groupby(group_ids([rates[c] for c in OUTLIER_GROUP]), sort=False)
    count = grouped.transform("count")
    q1 = grouped.transform("quantile", 0.25)  # linear interpolation, as numpy.percentile
    q3 = grouped.transform("quantile", 0.75)
    iqr = q3 - q1
    outside = (logs < q1 - IQR_FENCE * iqr) | (logs > q3 + IQR_FENCE * iqr)
    return (outside & (count >= OUTLIER_MIN_N)).fillna(False).astype(bool)


def placeholder(rates: pd.DataFrame) -> pd.Series:
    """True for tiny, all-nines or many-code repeated amounts (see module rules)."""
    if rates.empty:
        return pd.Series(False, index=rates.index)
    amount = pd.to_numeric(rates["amount"], errors="coerce")
    dollars = rates["amount_unit"].isin(["USD", "USD_per_day", "USD_per_case"])
    tiny = dollars & (amount <= PLACEHOLDER_MAX_USD)
    cents = (amount * 100).round().astype("Int64")
    whole, frac = cents // 100, cents % 100
    large = (whole >= int("9" * PLACEHOLDER_MIN_NINES)).fillna(False).to_numpy(bool)  # test the few large ones
    nines = pd.Series(False, index=rates.index)
    if large.any():
        digits = whole[large].astype("string")
        nines[large] = digits.str.fullmatch(f"9{{{PLACEHOLDER_MIN_NINES},}}").fillna(False).to_numpy(bool) & frac[
            large
        ].isin([0, 99]).fillna(False).to_numpy(bool)
    provider = rates["provider_tin"].astype("string").fillna(rates["provider_npis"].astype("string"))
    provider = provider.fillna(rates["provider_name"].astype("string")).fillna("")
    contract = group_ids([rates["source_file"], provider, cents, rates["amount_unit"]])
    code = pd.factorize(rates["billing_code"])[0]
    pairs = pd.DataFrame({"contract": contract, "code": code}).drop_duplicates()
    codes = np.bincount(pairs["contract"].to_numpy(), minlength=int(contract.max()) + 1)[contract]
    repeated = dollars & (codes >= PLACEHOLDER_REPEAT_CODES)  # a percentage of charges is legitimately shared
    return (tiny | nines | repeated).fillna(False).astype(bool)


def implausible_provider(
    rates: pd.DataFrame, directory: pd.DataFrame | None, table: SpecialtyTable
) -> tuple[pd.Series, pd.Series]:
    """(flag, plausibility_check) per rate; see the module rules. Vectorized over distinct providers and codes."""
    flag = pd.Series(False, index=rates.index)
    has_entry = rates["billing_code"].isin(table.codes).to_numpy(bool)
    if directory is None or "taxonomy" not in directory.columns or rates.empty:
        check = np.where(has_entry, CHECK_NO_DIRECTORY, CHECK_NO_ENTRY)
        return flag, pd.Series(check, index=rates.index, dtype="str")
    text = {c: rates[c].astype("string").fillna("") for c in ("provider_npis", "provider_tin", "billing_code")}
    modifiers = rates["modifiers"].astype("string").fillna("")
    is_assistant = {m: bool(set(str(m).split("|")) & table.assistant_modifiers) for m in modifiers.unique()}
    combos = pd.DataFrame(
        {
            **text,
            "billing_class": rates["billing_class"].astype("string").fillna(""),
            "assistant": modifiers.map(is_assistant).astype(bool),
        }
    )
    combo_of_row = group_ids([combos[c] for c in combos.columns])
    first_row = pd.Series(np.arange(len(combos))).groupby(combo_of_row, sort=True).first().to_numpy()
    unique = combos.iloc[first_row].reset_index(drop=True)
    unique["combo"] = np.arange(len(unique))
    known = _combo_specialties(unique, directory, table)  # combo, specialty (decisive ones)
    allowed = _allowed_specialties(table)  # billing_code, billing_class, assistant, specialty
    matched = known.merge(unique, on="combo").merge(
        allowed, on=["billing_code", "billing_class", "assistant", "specialty"]
    )
    check = np.where(unique["combo"].isin(known["combo"]), CHECK_IMPLAUSIBLE, CHECK_UNKNOWN)
    check = np.where(unique["combo"].isin(matched["combo"]), CHECK_PLAUSIBLE, check)
    check = np.where(unique["billing_code"].isin(table.codes), check, CHECK_NO_ENTRY)
    result = pd.Series(check[combo_of_row], index=rates.index).astype("str")
    return result.eq(CHECK_IMPLAUSIBLE).astype(bool), result


def _combo_specialties(combos: pd.DataFrame, directory: pd.DataFrame, table: SpecialtyTable) -> pd.DataFrame:
    """``combo, specialty``: the decisive specialties of each combination's providers (its NPIs, else its TIN's)."""
    crosswalk = load_taxonomy_crosswalk()
    entries = directory[["npi", "tin", "taxonomy"]].astype("string").fillna("")
    taxonomies = entries.assign(taxonomy_code=entries["taxonomy"].str.split("|")).explode("taxonomy_code")
    taxonomies["taxonomy_code"] = taxonomies["taxonomy_code"].str.strip()
    npi_specialty = taxonomies.merge(crosswalk, on="taxonomy_code")[["npi", "specialty_code"]].drop_duplicates()
    npi_specialty = npi_specialty[~npi_specialty["specialty_code"].isin(table.non_decisive)]
    by_npi = combos[["combo", "provider_npis"]].assign(npi=combos["provider_npis"].str.split("|"))
    by_npi = by_npi.explode("npi")[["combo", "npi"]]
    by_npi = by_npi[by_npi["npi"].astype("string").fillna("").ne("")]
    tin_only = combos[combos["provider_npis"].eq("") & combos["provider_tin"].ne("")]
    by_tin = tin_only[["combo", "provider_tin"]].merge(entries[["npi", "tin"]], left_on="provider_tin", right_on="tin")[
        ["combo", "npi"]
    ]
    members = pd.concat([by_npi, by_tin], ignore_index=True).astype({"npi": "string"})
    found = members.merge(npi_specialty, on="npi")[["combo", "specialty_code"]].rename(
        columns={"specialty_code": "specialty"}
    )
    # a facility (hospital, surgical center) on a professional rate bills for its employed professionals
    professional = combos.loc[combos["billing_class"].eq("professional"), "combo"]
    facility = found["combo"].isin(professional) & found["specialty"].isin(table.facility_specialties)
    return found[~facility].drop_duplicates()


def _allowed_specialties(table: SpecialtyTable) -> pd.DataFrame:
    """``billing_code, billing_class, assistant, specialty`` for every billing class the rate schema knows."""
    records = []
    for code in table.codes:
        professional = table.professional.get(code, frozenset())
        institutional = table.institutional.get(code, frozenset())
        for billing_class in ("professional", "institutional", "both", "unknown", ""):
            for assistant in (False, True):
                allowed: set[str] = set()
                if billing_class != "institutional":
                    allowed |= professional | (table.assistant_specialties if assistant else frozenset())
                if billing_class != "professional":
                    allowed |= institutional
                records += [(code, billing_class, assistant, s) for s in sorted(allowed)]
    frame = pd.DataFrame.from_records(records, columns=["billing_code", "billing_class", "assistant", "specialty"])
    return frame.astype({"billing_code": "string", "billing_class": "string", "specialty": "string"})


def group_ids(columns: Sequence[pd.Series]) -> np.ndarray:
    """One integer per distinct combination of ``columns`` (missing values form their own group), 0..k-1."""
    ids = pd.factorize(columns[0], use_na_sentinel=False)[0].astype("int64")
    for column in columns[1:]:
        codes = pd.factorize(column, use_na_sentinel=False)[0].astype("int64")
        ids = pd.factorize(ids * (int(codes.max()) + 1) + codes)[0].astype("int64")
    return ids


# --------------------------------------------------------------------------------------------------- statistics
def excluded(flagged: pd.DataFrame, keep_implausible: bool = False) -> pd.Series:
    """True for rates left out of the "excluding flagged" statistics."""
    columns = [c for c in FLAG_COLUMNS if not (keep_implausible and c == IMPLAUSIBLE)]
    return flagged[columns].any(axis=1)


def flagged_distribution_table(
    rows: pd.DataFrame, by: Sequence[str] = DEFAULT_GROUPS, keep_implausible: bool = False
) -> pd.DataFrame:
    """Every statistic of ``stats.distribution_table`` twice: ``rates`` = "all" and "excluding flagged"."""
    out = excluded(rows, keep_implausible)
    both = [
        distribution_table(rows, by).assign(rates=ALL_RATES),
        distribution_table(rows[~out], by).assign(rates=EXCLUDING_FLAGGED),
    ]
    frame = pd.concat(both, ignore_index=True)
    return frame[["rates", *[c for c in frame.columns if c != "rates"]]]


def flag_counts(flagged: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """n rates, n flagged and n per reason (a rate with two reasons counts under each), per group of ``by``."""
    by = list(by)
    counts = flagged[[*by, *FLAG_COLUMNS, "flagged"]].copy()
    counts["n"] = 1
    if by:
        table = counts.groupby(by, sort=True, dropna=False)[["n", "flagged", *FLAG_COLUMNS]].sum().reset_index()
    else:
        table = counts[["n", "flagged", *FLAG_COLUMNS]].sum().to_frame().T
    table = table.rename(columns={"flagged": "n_flagged"})
    for column in ["n", "n_flagged", *FLAG_COLUMNS]:
        table[column] = table[column].astype(int)
    return table.reset_index(drop=True)


def flag_summary(flagged: pd.DataFrame, table: SpecialtyTable | None = None) -> dict:
    """n flagged by reason and the codes the plausibility check could not test, for summary.json / Data Gaps."""
    table = table or load_specialty_table()
    totals = flag_counts(flagged).iloc[0].to_dict() if len(flagged) else {}
    checks = flagged["plausibility_check"].value_counts().to_dict() if len(flagged) else {}
    unlisted = sorted(set(flagged["billing_code"]) - set(table.codes)) if len(flagged) else []
    return {
        "n_rates": int(totals.get("n", 0)),
        "n_flagged": int(totals.get("n_flagged", 0)),
        "n_flagged_by_reason": {c: int(totals.get(c, 0)) for c in FLAG_COLUMNS},
        "plausibility_checks": {str(k): int(v) for k, v in checks.items()},
        "codes_without_specialty_entry": unlisted,
        "specialty_table": {"version": table.version, "date": table.date, "basis": table.basis, "file": table.source},
    }
