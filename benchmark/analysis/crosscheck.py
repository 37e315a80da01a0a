"""Do payers and hospitals agree? A payer's TiC rate and a hospital's standard charge for the same contract, compared.

:func:`crosscheck` adds a verdict per rate (column ``crosscheck``) and the counterpart it was compared with. The rules:

- **The hospital.** A hospital standard-charge row belongs to the hospital of its file: its TIN is the EIN the CMS
  file-naming convention puts first in the file name (``<ein>_<name>_standardcharges.csv``), else the directory TIN
  of the hospital's name (exact, case- and space-insensitive; ambiguous names never match); its NPIs are the
  directory NPIs of that TIN and of that name. A TiC rate is *at* a hospital when its ``provider_tin`` is the
  hospital's TIN or one of its ``provider_npis`` is one of the hospital's NPIs.
- **The same contract.** Same ``payer_family``, same ``payer_brand`` (the family when a side has none), same
  ``product_line``, same hospital, ``billing_code``, ``modifiers`` and ``billing_class``, and a compatible setting:
  the same ``care_setting``, or a side that does not say (``both`` / ``unknown``). Plan names are not compared (the
  two files rarely spell them alike).
- **The same kind of amount.** Dollars per service or per case (``USD``, ``USD_per_case``: a TiC negotiated amount
  for an institutional code is what the hospital file calls a case rate), dollars per day (``USD_per_day``) and
  percentages (``percent``) are compared only within their kind; otherwise the verdict is ``not comparable``.
- **Tolerance.** Dollar amounts agree when they differ by at most :data:`DOLLAR_TOLERANCE` (3%) of the hospital's
  amount, per diems likewise (3% of the daily amount); percentages of charges agree when they differ by at most
  :data:`PERCENT_POINTS_TOLERANCE` (1) percentage point (3% of a typical 35-70% rate is 1-2 points; one point is
  the stricter reading). Each rate is compared with its closest counterpart in the contract;
  ``crosscheck_difference`` is |payer - hospital| / hospital for every kind (so disagreements sort together).
- **Verdicts.** ``agree``, ``disagree`` (both values kept: ``amount`` and ``counterpart_amount``), ``payer only``
  (a TiC rate at a hospital whose file is loaded but lists no such contract), ``hospital only`` (a hospital row for a
  payer whose TiC file is loaded but has no such rate for the hospital), ``not comparable`` (only another kind of
  amount on the other side), and ``not cross-checked`` (no counterpart file in the data: a TiC rate not at any
  loaded hospital, or a hospital row for a payer with no loaded TiC file).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from benchmark.store import verdicts as kept_verdicts
from benchmark.store.rate_store import open_store

RULE_VERSION = "1"  # bump when a rule below changes: verdicts kept in a store say which rules made them
AGREE = "agree"
DISAGREE = "disagree"
PAYER_ONLY = "payer only"
HOSPITAL_ONLY = "hospital only"
NOT_COMPARABLE = "not comparable"
NOT_CHECKED = "not cross-checked"
VERDICTS: tuple[str, ...] = (AGREE, DISAGREE, PAYER_ONLY, HOSPITAL_ONLY, NOT_COMPARABLE, NOT_CHECKED)

DOLLAR_TOLERANCE = 0.03
PERCENT_POINTS_TOLERANCE = 1.0
AMOUNT_KIND = {"USD": "dollars", "USD_per_case": "dollars", "USD_per_day": "per day", "percent": "percent"}
CONTRACT_KEY: tuple[str, ...] = (
    "payer_family",
    "brand",
    "product_line",
    "hospital_key",
    "billing_code",
    "modifiers",
    "billing_class",
)
CROSSCHECK_COLUMNS: tuple[str, ...] = (
    "crosscheck",
    "crosscheck_hospital",
    "counterpart_amount",
    "counterpart_unit",
    "counterpart_source_file",
    "counterpart_locator",
    "crosscheck_difference",
)
_OPEN_SETTINGS = ("both", "unknown")
_EIN_IN_NAME = re.compile(r"^(\d{2})-?(\d{7})_")


def _name_key(values: pd.Series) -> pd.Series:
    return values.astype("string").str.upper().str.split().str.join(" ")


def hospital_identities(rates: pd.DataFrame, directory: pd.DataFrame | None) -> pd.DataFrame:
    """One row per hospital file: ``source_file, hospital_key, tin, npis`` (a set), ``name``."""
    hospital = rates[rates["source_type"].eq("hospital")]
    files = hospital.drop_duplicates("source_file")[["source_file", "provider_name", "hospital_location"]]
    by_name: dict[str, tuple[str, str]] = {}
    tin_npis: dict[str, set[str]] = {}
    if directory is not None and len(directory):
        entries = directory.astype(dict.fromkeys(("npi", "tin", "provider_name"), "string"))
        keys = _name_key(entries["provider_name"])
        unique = ~keys.duplicated(keep=False)
        by_name = {
            k: (str(n), str(t))
            for k, n, t in zip(keys[unique], entries["npi"][unique], entries["tin"][unique], strict=True)
        }
        for npi, tin in zip(entries["npi"], entries["tin"], strict=True):
            tin_npis.setdefault(str(tin), set()).add(str(npi))
    records = []
    for source_file, provider_name, location in files.itertuples(index=False):
        name = provider_name if isinstance(provider_name, str) else location if isinstance(location, str) else ""
        match = _EIN_IN_NAME.match(PurePath(str(source_file)).name)
        named = by_name.get(" ".join(name.upper().split()))
        tin = f"{match.group(1)}-{match.group(2)}" if match else named[1] if named else None
        npis = set(tin_npis.get(tin, set())) if tin else set()
        if named:
            npis.add(named[0])
        records.append(
            {"source_file": source_file, "hospital_key": tin or f"file:{source_file}", "tin": tin, "npis": npis}
        )
    return pd.DataFrame.from_records(records, columns=["source_file", "hospital_key", "tin", "npis"])


def _tic_hospital(tic: pd.DataFrame, hospitals: pd.DataFrame) -> pd.Series:
    """The hospital key of each TiC rate at a loaded hospital (NA elsewhere): by TIN, else by any of its NPIs."""
    by_tin = {tin: key for key, tin in zip(hospitals["hospital_key"], hospitals["tin"], strict=True) if tin}
    by_npi = {npi: key for key, npis in zip(hospitals["hospital_key"], hospitals["npis"], strict=True) for npi in npis}
    key = tic["provider_tin"].astype("string").map(by_tin).astype("string")
    if by_npi:
        npis = tic["provider_npis"].astype("string")
        open_rows = key.isna() & npis.notna()
        several = open_rows & npis.str.contains("|", regex=False).fillna(False)
        key = key.fillna(npis.where(open_rows & ~several).map(by_npi).astype("string"))
        if several.any():  # groups of several NPIs: any member at a hospital places the rate there
            members = npis[several].str.split("|").explode()
            found = members.map(by_npi).dropna()
            key = key.fillna(found.groupby(level=0).first().astype("string"))
    return key


def crosscheck(rates: pd.DataFrame, directory: pd.DataFrame | None = None) -> pd.DataFrame:
    """``rates`` with the verdict columns (:data:`CROSSCHECK_COLUMNS`) added; see the module rules."""
    out = rates.reset_index(drop=True)  # positions: the caller's index may repeat labels; restored at the end
    out["crosscheck"] = NOT_CHECKED
    for column in CROSSCHECK_COLUMNS[1:]:
        out[column] = pd.Series(
            np.nan if column in ("counterpart_amount", "crosscheck_difference") else None, index=out.index
        )
    hospitals = hospital_identities(out, directory)
    if hospitals.empty:
        return _typed(out).set_axis(rates.index)
    is_tic = out["source_type"].eq("tic").to_numpy(bool)
    side_hospital = pd.Series(pd.NA, index=out.index, dtype="string")
    side_hospital[is_tic] = _tic_hospital(out[is_tic], hospitals)
    hospital_of_file = hospitals.set_index("source_file")["hospital_key"]
    side_hospital[~is_tic] = out.loc[~is_tic, "source_file"].map(hospital_of_file).astype("string")
    tic_payers = out.loc[is_tic, ["payer_family", "payer_brand"]].drop_duplicates()
    payers_with_tic = {
        (str(f), str(b) if isinstance(b, str) else str(f))
        for f, b in zip(tic_payers["payer_family"], tic_payers["payer_brand"], strict=True)
    }
    positions = np.flatnonzero(side_hospital.notna().to_numpy(bool))  # only rows at a loaded hospital are keyed
    sub = out.iloc[positions]
    keyed = pd.DataFrame(
        {
            "row": positions,
            "side": np.where(is_tic[positions], "tic", "hospital"),
            "payer_family": sub["payer_family"].astype("string").to_numpy(),
            "brand": sub["payer_brand"].astype("string").fillna(sub["payer_family"].astype("string")).to_numpy(),
            "product_line": sub["product_line"].astype("string").to_numpy(),
            "hospital_key": side_hospital.iloc[positions].to_numpy(),
            "billing_code": sub["billing_code"].astype("string").to_numpy(),
            "modifiers": sub["modifiers"].astype("string").to_numpy(),
            "billing_class": sub["billing_class"].astype("string").to_numpy(),
            "setting": sub["care_setting"].astype("string").to_numpy(),
            "kind": sub["amount_unit"].map(AMOUNT_KIND).astype("string").to_numpy(),
            "amount": sub["amount"].astype(float).to_numpy(),
            "source_file": sub["source_file"].astype("string").to_numpy(),
            "locator": sub["source_locator"].astype("string").to_numpy(),
            "unit": sub["amount_unit"].astype("string").to_numpy(),
        }
    )
    hospital_side = keyed[keyed["side"].eq("hospital")]
    payer_known = [
        (f, b) in payers_with_tic for f, b in zip(hospital_side["payer_family"], hospital_side["brand"], strict=True)
    ]
    hospital_side = hospital_side[np.asarray(payer_known, dtype=bool)]
    tic_side = keyed[keyed["side"].eq("tic")]
    n = len(out)
    verdict = np.full(n, NOT_CHECKED, dtype=object)
    verdict[tic_side["row"].to_numpy()] = PAYER_ONLY
    verdict[hospital_side["row"].to_numpy()] = HOSPITAL_ONLY
    counterpart = {c: np.full(n, None, dtype=object) for c in ("unit", "file", "loc")}
    other_amount = np.full(n, np.nan)
    difference = np.full(n, np.nan)
    key = list(CONTRACT_KEY)
    pairs = tic_side.merge(hospital_side, on=key, suffixes=("_t", "_h"))
    setting_ok = (
        pairs["setting_t"].eq(pairs["setting_h"])
        | pairs["setting_t"].isin(_OPEN_SETTINGS)
        | pairs["setting_h"].isin(_OPEN_SETTINGS)
    ).fillna(False)
    pairs = pairs[setting_ok.to_numpy(bool)]
    if len(pairs):
        same_kind = pairs["kind_t"].eq(pairs["kind_h"]).fillna(False).to_numpy(bool)
        gap = (pairs["amount_t"] - pairs["amount_h"]).abs().to_numpy()
        percent = pairs["kind_t"].eq("percent").fillna(False).to_numpy(bool)
        relative = gap / pairs["amount_h"].to_numpy()  # share of the hospital's figure (percentages: points, below)
        pairs = pairs.assign(
            _same=same_kind,
            _diff=np.where(same_kind, relative, np.inf),
            _agree=same_kind
            & np.where(percent, gap <= PERCENT_POINTS_TOLERANCE + 1e-9, relative <= DOLLAR_TOLERANCE + 1e-12),
        )
        for own, other in (("t", "h"), ("h", "t")):
            best = pairs.sort_values([f"row_{own}", "_diff", f"row_{other}"]).drop_duplicates(f"row_{own}")
            rows = best[f"row_{own}"].to_numpy()
            same = best["_same"].to_numpy(bool)
            verdict[rows] = np.where(best["_agree"], AGREE, np.where(same, DISAGREE, NOT_COMPARABLE))
            other_amount[rows] = best[f"amount_{other}"].to_numpy()
            counterpart["unit"][rows] = best[f"unit_{other}"].to_numpy()
            counterpart["file"][rows] = best[f"source_file_{other}"].to_numpy()
            counterpart["loc"][rows] = best[f"locator_{other}"].to_numpy()
            difference[rows] = np.where(same, best["_diff"].to_numpy(), np.nan)
    out["crosscheck"] = verdict
    out["crosscheck_hospital"] = side_hospital.where(pd.Series(verdict != NOT_CHECKED, index=out.index)).to_numpy()
    out["counterpart_amount"] = other_amount
    out["counterpart_unit"] = counterpart["unit"]
    out["counterpart_source_file"] = counterpart["file"]
    out["counterpart_locator"] = counterpart["loc"]
    out["crosscheck_difference"] = difference
    return _typed(out).set_axis(rates.index)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    for column in (
        "crosscheck",
        "crosscheck_hospital",
        "counterpart_unit",
        "counterpart_source_file",
        "counterpart_locator",
    ):
        out[column] = out[column].astype("string")
    for column in ("counterpart_amount", "crosscheck_difference"):
        out[column] = out[column].astype(float)
    return out


def verdicts_by_payer(checked: pd.DataFrame) -> pd.DataFrame:
    """Rates per payer family and verdict (rows cross-checked only; ``not cross-checked`` left out)."""
    scope = checked[checked["crosscheck"].ne(NOT_CHECKED)]
    table = pd.crosstab(scope["payer_family"], scope["crosscheck"]) if len(scope) else pd.DataFrame()
    table = table.reindex(columns=list(VERDICTS[:-1]), fill_value=0)
    table.index.name = "payer_family"
    table.columns.name = None
    return table.reset_index().astype(dict.fromkeys(VERDICTS[:-1], int))


def largest_disagreements(checked: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` TiC rates that disagree most with the hospital's figure, both values and both sources
    (``difference_pct``: ``crosscheck_difference`` in percent, one decimal, as the report shows it)."""
    columns = [
        "payer_family",
        "payer_raw",
        "product_line",
        "crosscheck_hospital",
        "billing_code",
        "billing_class",
        "amount_unit",
        "amount",
        "counterpart_amount",
        "crosscheck_difference",
        "source_file",
        "source_locator",
        "counterpart_source_file",
        "counterpart_locator",
    ]
    rows = checked[checked["crosscheck"].eq(DISAGREE) & checked["source_type"].eq("tic")]
    rows = rows.sort_values("crosscheck_difference", ascending=False, kind="stable").head(n)
    out = rows[columns].rename(columns={"amount": "payer_amount", "counterpart_amount": "hospital_amount"})
    return out.assign(difference_pct=(out["crosscheck_difference"].astype(float) * 100).round(1))


def crosscheck_summary(checked: pd.DataFrame, n: int = 10) -> dict:
    """The numbers for summary.json: verdict counts overall and by payer, the tolerances, the largest disagreements."""
    counts = checked["crosscheck"].value_counts().to_dict()
    return {
        "verdicts": {v: int(counts.get(v, 0)) for v in VERDICTS},
        "by_payer": verdicts_by_payer(checked).to_dict(orient="records"),
        "tolerance": {"dollars_share_of_hospital_amount": DOLLAR_TOLERANCE, "percent_points": PERCENT_POINTS_TOLERANCE},
        "largest_disagreements": largest_disagreements(checked, n).to_dict(orient="records"),
    }


def keep_in_store(store_root: str | Path, checked: pd.DataFrame) -> Path:
    """Write the verdicts of the cross-checked rates of ``checked`` beside the rate store at ``store_root``
    (:mod:`benchmark.store.verdicts`); returns the file written."""
    scope = checked[checked["crosscheck"].ne(NOT_CHECKED)]
    return kept_verdicts.write_verdicts(open_store(store_root), scope, RULE_VERSION)
