"""Candidate rates of a hospital standard-charge file ("units") and their vectorized normalization into rates.

Every hospital layout reader (CMS CSV tall and wide, CMS JSON, pre-template chargemasters) turns what it reads into
one table of *units*: one row per (item, payer/plan, billing code), with every value still the text the hospital
published (``UNIT_COLUMNS``). :class:`Sink` gathers those tables and turns them, many thousands at a time, into
validated rate rows and quarantine rows with whole-column operations; readers only count, locate and gather.

Normalization rules (the original text is kept next to every normalized value)
    - Codes (``normalize_code``): spaces trimmed; Excel damage undone where no digit was lost (``44320.0`` ->
      ``44320``; leading zeros restored from the code type's length: revenue code ``450`` -> ``0450``, CPT ``100`` ->
      ``00100``, DRG ``1`` -> ``001``, DRG ``0470`` -> ``470``); a modifier glued to a CPT/HCPCS code (``44320-80``,
      ``99213 25``) moved to the modifiers; a type word written before the code (``CPT 44320``) dropped. Code types
      are mapped to the CMS enum (``CPT4``/``CPT-4`` -> CPT, ``HCPC`` -> HCPCS, ``REV``/``Revenue Code`` -> RC,
      ``MSDRG`` -> MS-DRG) and CPT vs HCPCS follows the code's shape (``99213`` is CPT, ``J1450`` is HCPCS), also for
      the legacy combined type ``CPT/HCPCS``. Quarantined instead: a code in scientific notation (``2.14338E+06``:
      digits lost, ``code_mangled``), a CPT/HCPCS/revenue code of impossible shape (``invalid_code``) and a code
      without a type (``missing_code_type``).
    - Amounts (``parse_amounts``): ``$1,234.50``, `` $1,231.21 ``, ``(5.00)``, ``4.432E+04`` and ``70%`` (percentage
      fields) are read; ``N/A``, ``NA``, ``-`` and similar count as blank when another value is given. Quarantined:
      text (``not_a_number``), zero or negative (``rate_not_positive``), seven or more 9s (``placeholder_value``),
      a percentage below 1 (``.705`` for 70.5%: ``percentage_fraction``; CMS requires whole-number percentages),
      a ``%`` in a dollar field (``percent_in_dollar_field``).
    - Methodology -> ``rate_type``: case rate, fee schedule, per diem, percent of total billed charges, other
      (case, spaces, ``_`` and ``-`` tolerated); anything else is quarantined (``unknown_methodology``), not guessed.
      Pre-template files state no methodology: a dollar there is ``negotiated`` (``case_rate`` for a DRG).
    - Dollars: ``amount`` is the published value in its unit (USD, ``USD_per_day`` for per diem, ``USD_per_case``
      for a case rate, ``percent``). ``amount_usd`` holds per-service dollars only: a fee-schedule (or pre-template
      CPT/HCPCS) dollar; for percent of total billed charges the published dollar, else gross charge x percent / 100
      with ``dollar_basis`` recording the base. Per diem, case rate, "other" and percentages of anything else never
      get ``amount_usd``, so they cannot enter a per-service distribution.
    - Setting inpatient / outpatient / both (``IP``/``OP`` tolerated) -> ``care_setting``; billing class
      professional / facility (-> institutional) / both. ``pos_setting`` is ``facility`` for every hospital row.

Outcomes of a unit, in this order: filtered out (code not wanted; a modifier-only row), deduplicated (the same code
and type twice for one payer on one row), quarantined (code problems, then ``missing_payer``, then the price
problems above, then ``unknown_methodology``) or loaded.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.accounts import FileAccount, IngestResult, declared_date
from benchmark.arrow_text import string_buffers
from benchmark.errors import InputFileError
from benchmark.normalize.payers import resolve_payer
from benchmark.schema import (
    RATE_COLUMNS,
    QuarantineSchema,
    check_built,
    check_built_rates,
    empty_quarantine,
    empty_rates,
    in_rate_columns,
)


class HospitalFileError(InputFileError):
    """The file as a whole cannot be read as a hospital standard-charge file (the message says where and why)."""


# Payer-specific value fields of a unit, in the order used to pick a raw value for a quarantine row.
PAYER_FIELDS = [
    "methodology",
    "dollar",
    "percentage",
    "algorithm",
    "estimated",
    "median",
    "p10",
    "p90",
    "count",
    "notes",
]
ITEM_FIELDS = [
    "code_raw",
    "code_type_raw",
    "modifiers_raw",
    "setting_raw",
    "billing_class_raw",
    "gross_raw",
    "cash_raw",
    "min_raw",
    "max_raw",
    "drug_unit_raw",
    "drug_type_raw",
]
UNIT_COLUMNS = ["row_key", "group", "locator", *ITEM_FIELDS, "payer", "plan", *PAYER_FIELDS]

SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"


class Problem(NamedTuple):
    """Something wrong in a file: where, how bad, which rule, what was seen. (A named tuple: a big file has
    hundreds of thousands of them, and a tuple is made three times faster than a frozen dataclass.)"""

    location: str
    severity: str
    reason_code: str
    detail: str
    raw_value: str | None = None


@dataclass
class HospitalMeta:
    """The hospital a file speaks for (general data elements)."""

    name: str | None = None
    state: str | None = None
    npis: str | None = None
    location: str | None = None
    address: str | None = None
    license: str | None = None
    last_updated_on: str | None = None
    version: str | None = None


def wanted_codes(codes: Iterable[str] | None) -> frozenset[str] | None:
    return None if codes is None else frozenset(str(code).strip() for code in codes)


def code_variants(wanted: frozenset[str]) -> list[str]:
    """Raw spellings whose normalized code can be one of ``wanted`` without punctuation: upper case, with leading
    zeros dropped (Excel) or one added (DRG ``0470``). Codes with punctuation or spaces are checked one by one."""
    variants: set[str] = set()
    for code in wanted:
        upper = code.upper()
        variants |= {upper, "0" + upper}
        stripped = upper
        while stripped.startswith("0") and len(stripped) > 1:
            stripped = stripped[1:]
            variants.add(stripped)
    return sorted(variants)


# ----------------------------------------------------------------------------------------------------------------
# The sink: units in, rates out


@dataclass
class Sink:
    """Collects units, quarantine rows, counts and (when asked) problems of one file; normalizes in bulk."""

    source_file: str
    sha256: str
    is_synthetic: bool
    wanted: frozenset[str] | None
    collect_problems: bool = False
    check_only: bool = False  # validation: count and check the units, build no rate rows (nor merge duplicates)
    flush_units: int = 200_000
    meta: HospitalMeta = field(default_factory=HospitalMeta)
    account: FileAccount = field(init=False)
    problems: list[Problem] = field(default_factory=list)
    _pending: list[tuple[dict[str, np.ndarray], bool, frozenset[str]]] = field(default_factory=list)
    _pending_rows: int = 0
    _pending_quarantine: list[tuple[list[str], list[str], list[str]]] = field(default_factory=list)
    _rates: list[pd.DataFrame] = field(default_factory=list)
    _quarantine: list[pd.DataFrame] = field(default_factory=list)
    _quarantine_rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.account = FileAccount(source_file=self.source_file, source_sha256=self.sha256)

    def set_sha256(self, sha256: str) -> None:
        """The file's sha256, when it was computed while reading."""
        self.sha256 = self.account.source_sha256 = sha256

    # -- what readers call ---------------------------------------------------------------------------------------

    def filtered(self, count: int) -> None:
        """``count`` units seen and filtered out before becoming units (no payer value, code not wanted...)."""
        self.account.rows_seen += int(count)
        self.account.rows_filtered_out += int(count)

    def quarantine(self, locator: str, reason: str, detail: str, raw: str | None) -> None:
        """One unit seen and quarantined by the reader itself (a malformed row)."""
        self.account.rows_seen += 1
        self.account.rows_quarantined += 1
        self._quarantine_rows.append(
            {
                "source_file": self.source_file,
                "source_locator": locator,
                "reason_code": reason,
                "detail": detail,
                "raw_value": raw,
            }
        )

    def problem(self, location: str, severity: str, reason: str, detail: str, raw: str | None = None) -> None:
        if self.collect_problems:
            self.problems.append(Problem(location, severity, reason, detail, raw))

    def units(
        self,
        columns: dict[str, np.ndarray] | None,
        *,
        legacy: bool = False,
        file_columns: frozenset[str] = frozenset(),
        clean: int = 0,
        algorithm_only: tuple[list[str], list[str], list[str]] | None = None,
    ) -> None:
        """Units to normalize: ``UNIT_COLUMNS`` as arrays of text (``row_key`` and ``group`` integers); each unit
        is one row seen. ``file_columns`` names the optional CMS columns the file has (``count``, ``estimated``,
        ``min``, ``max``) for the conditional-rule warnings. ``clean``: units of the same rows that need no
        normalization and are loaded as published (validation's fast path,
        :mod:`benchmark.ingest.hospital.clean_units`); they count toward a batch as if they were in it, so that
        batches (and so the order of the problems) are the same either way. ``algorithm_only``: (locators, codes,
        algorithms) of units of rows without any other unit to normalize, quarantined as ``algorithm_only``
        when the batch is (their problems follow the batch's: they share no line with them)."""
        size = len(columns["locator"]) if columns is not None else 0
        fast = len(algorithm_only[0]) if algorithm_only is not None else 0
        if not size and not clean and not fast:
            return
        self.account.rows_seen += size + clean + fast
        self.account.rows_loaded += clean
        if columns is not None and size:
            self._pending.append((columns, legacy, file_columns))
        if algorithm_only is not None and fast:
            self._pending_quarantine.append(algorithm_only)
        self._pending_rows += size + clean + fast
        if self._pending_rows >= self.flush_units:
            self.flush()

    def flush(self) -> None:
        batches: dict[tuple[bool, frozenset[str]], list[dict[str, np.ndarray]]] = {}
        for columns, legacy, file_columns in self._pending:
            batches.setdefault((legacy, file_columns), []).append(columns)
        for (legacy, file_columns), parts in batches.items():
            frame = pd.DataFrame({name: _unit_column([part[name] for part in parts]) for name in UNIT_COLUMNS})
            rates, quarantine, counts, problems = normalize_units(
                frame,
                self.wanted,
                legacy=legacy,
                source_file=self.source_file,
                file_columns=file_columns,
                collect_problems=self.collect_problems,
                check_only=self.check_only,
            )
            self.account.rows_loaded += counts["loaded"]
            self.account.rows_quarantined += counts["quarantined"]
            self.account.rows_filtered_out += counts["filtered"]
            self.account.rows_deduplicated += counts["deduplicated"]
            if len(rates):
                self._rates.append(rates)
            if len(quarantine):
                self._quarantine.append(quarantine)
            self.problems += problems
        for locators, codes, algorithms in self._pending_quarantine:
            details = [algorithm_only_detail(code) for code in codes]
            self.account.rows_quarantined += len(locators)
            self._quarantine.append(
                pd.DataFrame(
                    {
                        "source_file": self.source_file,
                        "source_locator": locators,
                        "reason_code": "algorithm_only",
                        "detail": details,
                        "raw_value": algorithms,
                    }
                )
            )
            if self.collect_problems:
                self.problems += [
                    Problem(locator, SEVERITY_ERROR, "algorithm_only", detail, algorithm)
                    for locator, detail, algorithm in zip(locators, details, algorithms)
                ]
        self._pending, self._pending_rows, self._pending_quarantine = [], 0, []

    def result(self) -> IngestResult:
        """Validated rates (with the hospital's details), quarantine and the balanced account."""
        self.flush()
        if self._rates and not self.check_only:
            rates, merged = merge_identical(pd.concat(self._rates, ignore_index=True))
            self.account.rows_loaded -= merged
            self.account.rows_deduplicated += merged
            meta = self.meta
            file_values = {
                "provider_name": meta.name,
                "state": meta.state,
                "provider_npis": meta.npis,
                "hospital_location": meta.location,
                "hospital_address": meta.address,
                "hospital_license": meta.license,
                "source_file": self.source_file,
                "source_sha256": self.sha256,
                "is_synthetic": self.is_synthetic,
            }
            # one table of the file's values beside the rates (the dtypes nine column assignments give, at half
            # the cost)
            rates = pd.concat([rates, pd.DataFrame(file_values, index=rates.index)], axis=1)
            rates = check_built_rates(in_rate_columns(rates))
        else:
            rates = empty_rates()
        self.account.file_date = declared_date(self.meta.last_updated_on)
        self.account.check()
        parts = self._quarantine + ([pd.DataFrame(self._quarantine_rows)] if self._quarantine_rows else [])
        quarantine = check_built(QuarantineSchema, pd.concat(parts, ignore_index=True)) if parts else empty_quarantine()
        for row in self._quarantine_rows:
            self.problem(row["source_locator"], SEVERITY_ERROR, row["reason_code"], row["detail"], row["raw_value"])
        return IngestResult(rates=rates, quarantine=quarantine, accounts=[self.account])


def _unit_column(parts: list[np.ndarray]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One unit column from its batches: text as a pandas ``str`` array made through Arrow (what pandas would infer
    from the object array, at half the cost; the array made directly, as ``pd.array(..., dtype="str")`` makes it,
    without its checks: 2 us instead of 25 per column); anything else as it is."""
    joined = np.concatenate([np.asarray(part) for part in parts])
    if joined.dtype == object and len(joined) and pd.api.types.infer_dtype(joined, skipna=False) == "string":
        return pd.arrays.ArrowStringArray(pa.array(joined, type=pa.large_string()), dtype=_STR)
    return joined


_STR = pd.api.types.pandas_dtype("str")  # pandas' default string dtype (Arrow storage, NaN for missing)


# ----------------------------------------------------------------------------------------------------------------
# Normalization of a unit table


_NA_TOKENS = {"n/a", "na", "n.a.", "#n/a", "none", "null", "nan", "-", "--", "not applicable"}
_CARE_SETTINGS = {
    "inpatient": "inpatient",
    "outpatient": "outpatient",
    "both": "both",
    "ip": "inpatient",
    "op": "outpatient",
    "inpatient/outpatient": "both",
    "ip/op": "both",
    "in patient": "inpatient",
    "out patient": "outpatient",
}
_BILLING_CLASSES = {
    "professional": "professional",
    "prof": "professional",
    "facility": "institutional",
    "institutional": "institutional",
    "fac": "institutional",
    "both": "both",
}
_METHODOLOGIES = {
    "case rate": "case_rate",
    "fee schedule": "fee_schedule",
    "per diem": "per_diem",
    "percent of total billed charges": "percentage",
    "percentage of total billed charges": "percentage",
    "percent of billed charges": "percentage",
    "percentage of billed charges": "percentage",
    "percent of charges": "percentage",
    "% of total billed charges": "percentage",
    "% of billed charges": "percentage",
    "% of charges": "percentage",
    "other": "other",
}
_DOLLAR_UNITS = {"per_diem": "USD_per_day", "case_rate": "USD_per_case"}
_PLAIN_NUMBER = r"^(?:\d+(?:\.\d*)?|\.\d+)$"
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+|\d+(?:\.\d*)?[eE][+-]?\d+|\d*\.\d+[eE][+-]?\d+")
_PLACEHOLDER = r"^9{7,}(?:\.(?:9*|0*))?$"


def merge_identical(rates: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the rates with identical rows merged, how many rows were merged away).

    Two rates are identical when every column but ``source_locator`` (where they were found) is equal -- a file
    that repeats a whole payer block, say. The first is kept with ``dedup_count`` = how many rows it stands for
    (1 = unique). Rows are hashed first; only rows sharing a hash are compared column by column, so a hash
    collision never merges two different rates.
    """
    keys = [c for c in rates.columns if c != "source_locator"]
    count = np.ones(len(rates), dtype=np.int64)
    keep = np.ones(len(rates), dtype=bool)
    if len(rates) > 1:
        hashes = pd.util.hash_pandas_object(rates[keys], index=False).to_numpy()
        _, inverse, sizes = np.unique(hashes, return_inverse=True, return_counts=True)
        suspects = np.flatnonzero(sizes[inverse] > 1)
        if len(suspects):
            group = rates.iloc[suspects][keys].groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
            count[suspects] = np.bincount(group)[group]
            keep[suspects[pd.Series(group).duplicated().to_numpy()]] = False
    merged = rates[keep].copy() if not keep.all() else rates
    merged["dedup_count"] = pd.array(count[keep], dtype="Int64")
    return merged.reset_index(drop=True), int((~keep).sum())


def normalize_units(
    units: pd.DataFrame,
    wanted: frozenset[str] | None,
    *,
    legacy: bool,
    source_file: str,
    file_columns: frozenset[str] = frozenset(),
    collect_problems: bool = False,
    check_only: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], list[Problem]]:
    """(rates without the file-level columns, quarantine, outcome counts, problems) of a unit table.
    ``check_only``: outcomes, quarantine and problems only; no rate rows are built (validation)."""
    u = units.reset_index(drop=True)
    n = len(u)
    codes = normalize_codes(u["code_raw"], u["code_type_raw"])
    code, ctype = codes["code"], codes["code_type"]
    outcome = np.zeros(n, dtype=np.int8)  # 0 pending, 1 filtered, 2 deduplicated, 3 quarantined, 4 loaded
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    raw = np.full(n, None, dtype=object)
    problems: list[Problem] = []

    def quarantine(mask: np.ndarray, why, text, value) -> None:
        """Quarantine the pending units of ``mask``; ``why``, ``text`` and ``value`` are scalars or per-unit, or
        functions returning them, called only when a unit is quarantined (most files quarantine little: the
        texts of the details are not built for nothing)."""
        mask = mask & (outcome == 0)
        if not mask.any():
            return
        outcome[mask] = 3
        for target, source in ((reason, why), (detail, text), (raw, value)):
            source = source() if callable(source) else source
            target[mask] = (
                np.asarray(source, dtype=object)[mask] if isinstance(source, (pd.Series, np.ndarray)) else source
            )

    @functools.cache  # made once, when a detail first needs it
    def code_label() -> pd.Series:
        """``"code <normalized code, else the published one>: "`` per unit, the start of every detail."""
        return "code " + code.where(code != "", u["code_raw"].str.strip()) + ": "

    # a payer/plan group whose payer cells hold only spaces has no value after all: filtered out, like a row
    # without any payer value
    text = {name: u[name].str.strip() for name in PAYER_FIELDS}
    outcome[np.logical_and.reduce([(text[name] == "").to_numpy() for name in PAYER_FIELDS])] = 1
    no_code = (code == "").to_numpy() & (codes["code_problem"] == "").to_numpy()
    modifiers_text = u["modifiers_raw"].str.strip()
    modifier_only = no_code & (modifiers_text != "").to_numpy() & (outcome == 0)
    outcome[no_code & ((modifiers_text != "").to_numpy() | (wanted is not None))] = 1
    if collect_problems and modifier_only.any():
        problems += [
            Problem(
                loc,
                SEVERITY_WARNING,
                "modifier_row_not_loaded",
                f"a modifier row (modifiers {mods!r}, no code): it describes a payment adjustment, not a rate; "
                "not loaded",
                mods,
            )
            for loc, mods in zip(u["locator"][modifier_only], modifiers_text[modifier_only])
        ]
    quarantine(no_code, "missing_billing_code", "payer-specific charge on a row with no code and no modifier", None)
    if wanted is not None:
        outcome[(outcome == 0) & ~code.isin(wanted).to_numpy()] = 1
    dup_key = pd.DataFrame({"r": u["row_key"], "g": u["group"], "c": code, "t": ctype})
    duplicated = dup_key.duplicated().to_numpy() & (outcome == 0)
    outcome[duplicated] = 2

    quarantine(
        (codes["code_problem"] != "").to_numpy(),
        codes["code_problem"],
        lambda: code_label() + codes["code_detail"],
        u["code_raw"],
    )
    payer = u["payer"].str.strip()
    plan = u["plan"].str.strip()
    quarantine(
        (payer == "").to_numpy(),
        "missing_payer",
        lambda: code_label() + "payer-specific charge without a payer name",
        lambda: plan.replace("", None),
    )

    # -- price -------------------------------------------------------------------------------------------------
    if legacy:  # one value per payer column: "70%" is a percentage
        moved = text["dollar"].str.endswith("%") & (text["percentage"] == "")
        text["percentage"] = text["percentage"].where(~moved, text["dollar"])
        text["dollar"] = text["dollar"].where(~moved, "")
    present = {name: (text[name] != "").to_numpy() for name in ("dollar", "percentage", "algorithm")}
    na = {name: present[name] & text[name].str.lower().isin(_NA_TOKENS).to_numpy() for name in present}
    real = {name: present[name] & ~na[name] for name in present}
    no_number = ~(real["dollar"] | real["percentage"])
    quarantine(
        no_number & real["algorithm"],
        "algorithm_only",
        lambda: code_label() + "negotiated_algorithm only; no dollar or percentage to load",
        text["algorithm"],
    )

    def first_present() -> pd.Series:
        return text["dollar"].where(
            present["dollar"], text["percentage"].where(present["percentage"], text["algorithm"])
        )

    quarantine(
        no_number & (present["dollar"] | present["percentage"] | present["algorithm"]),
        "not_a_number",
        lambda: code_label() + "negotiated charge is N/A and no other value is given",
        first_present,
    )

    def first_value() -> pd.Series:
        first = pd.Series("", index=u.index)
        for name in reversed(PAYER_FIELDS):
            first = text[name].where(text[name] != "", first)
        return first.replace("", None)

    quarantine(
        no_number,
        "no_negotiated_charge",
        lambda: code_label() + "no negotiated dollar, percentage or algorithm",
        first_value,
    )

    dollar, dollar_problem = parse_amounts(text["dollar"].where(real["dollar"], ""))
    percent, percent_problem = parse_amounts(text["percentage"].where(real["percentage"], ""), percent=True)
    for name, problem_codes in (("dollar", dollar_problem), ("percentage", percent_problem)):
        bad = (problem_codes != "").to_numpy()
        if bad.any():
            cells = text[name]
            quarantine(
                bad,
                problem_codes,
                lambda name=name, cells=cells: (
                    code_label() + f"negotiated_{name} " + _map_distinct(cells, repr) + " is not a usable rate"
                ),
                cells,
            )

    methodology_key = _map_distinct(text["methodology"].str.lower(), _squeeze_separators).str.strip()
    rate_type = _map_distinct(methodology_key, _METHODOLOGIES.get)  # missing: not a CMS methodology
    if legacy:
        drg = ctype.str.contains("DRG", regex=False)
        legacy_type = pd.Series(np.where(drg, "case_rate", "negotiated"), index=u.index)
        legacy_type = legacy_type.where(~np.isnan(dollar), "other")
        rate_type = rate_type.fillna(legacy_type.where(methodology_key == ""))
    unknown = rate_type.isna().to_numpy()

    def method_detail() -> pd.Series:
        return code_label() + pd.Series(
            np.where(
                methodology_key == "",
                "no methodology",
                "methodology " + _map_distinct(text["methodology"], repr) + " is not a CMS methodology",
            ),
            index=u.index,
        )

    quarantine(unknown, "unknown_methodology", method_detail, lambda: text["methodology"].replace("", None))

    loaded = outcome == 0
    outcome[loaded] = 4
    counts = {
        "loaded": int(loaded.sum()),
        "quarantined": int((outcome == 3).sum()),
        "filtered": int((outcome == 1).sum()),
        "deduplicated": int((outcome == 2).sum()),
    }

    quarantine_frame = pd.DataFrame(
        {
            "source_file": source_file,
            "source_locator": u["locator"].to_numpy()[outcome == 3],
            "reason_code": reason[outcome == 3],
            "detail": detail[outcome == 3],
            "raw_value": raw[outcome == 3],
        }
    )
    if collect_problems:
        problems += [
            Problem(loc, SEVERITY_ERROR, why, text_, value)
            for loc, why, text_, value in zip(
                *(quarantine_frame[name].tolist() for name in ("source_locator", "reason_code", "detail", "raw_value"))
            )
        ]
        checked = u[_WARNING_COLUMNS]  # only the columns the warnings look at are taken (a copy per column)
        problems += _unit_warnings(_rows(checked, loaded), _rows(codes, loaded), text, loaded, file_columns)
        problems += _value_warnings(
            _rows(checked, loaded),
            _rows(ctype, loaded),
            {k: _rows(v, loaded) for k, v in text.items()},
            {k: v[loaded] for k, v in na.items()},
        )
    if not loaded.any() or check_only:
        return pd.DataFrame(columns=RATE_COLUMNS), quarantine_frame, counts, problems

    ul = u[loaded]
    rt = rate_type[loaded]
    d = dollar[loaded]
    p = percent[loaded]
    aux = _aux_amounts(
        {
            "gross_charge": ul["gross_raw"],
            "discounted_cash": ul["cash_raw"],
            "min_charge": ul["min_raw"],
            "max_charge": ul["max_raw"],
            "estimated_amount": text["estimated"][loaded],
            "median_amount": text["median"][loaded],
            "p10_amount": text["p10"][loaded],
            "p90_amount": text["p90"][loaded],
            "drug_unit": ul["drug_unit_raw"],
        }
    )
    gross = aux["gross_charge"]
    has_d, has_p = ~np.isnan(d), ~np.isnan(p)
    is_pct = (rt == "percentage").to_numpy()
    is_fee = (rt == "fee_schedule").to_numpy()
    is_negotiated = (rt == "negotiated").to_numpy()
    per_service_code = ctype[loaded].isin(["CPT", "HCPCS"]).to_numpy()

    amount = np.where(is_pct & has_p, p, np.where(has_d, d, p))
    unit = np.where(is_pct & has_p, "percent", np.where(has_d, _map_distinct(rt, _dollar_unit).to_numpy(), "percent"))
    derived = np.round(gross * p / 100, 2)
    use_gross = is_pct & has_p & ~has_d & ~np.isnan(gross) & (derived > 0)
    amount_usd = np.where(is_pct & has_d, d, np.nan)
    amount_usd = np.where(use_gross, derived, amount_usd)
    amount_usd = np.where(is_fee & has_d, d, amount_usd)
    amount_usd = np.where(is_negotiated & has_d & per_service_code, d, amount_usd)
    basis = np.full(len(ul), None, dtype=object)
    basis[is_pct & has_d] = "published negotiated_dollar"
    if use_gross.any():
        basis[use_gross] = [
            f"percent of gross charge ({_fmt(pv)}% x {_fmt(gv)})" for pv, gv in zip(p[use_gross], gross[use_gross])
        ]
    amount_raw = np.where(
        is_pct & has_p, text["percentage"][loaded], np.where(has_d, text["dollar"][loaded], text["percentage"][loaded])
    )

    keys = list(zip(payer[loaded], plan[loaded]))
    identities = {key: resolve_payer(key[0], key[1] or None) for key in dict.fromkeys(keys)}
    modifiers = _join_modifiers(modifiers_text[loaded], codes["code_modifier"][loaded])

    rates = pd.DataFrame(
        {
            "source_type": "hospital",
            "payer_raw": payer[loaded],
            "payer_family": [identities[k].payer_family for k in keys],
            "payer_brand": [identities[k].payer_brand for k in keys],
            "plan_raw": plan[loaded].replace("", None),
            "product_line": [identities[k].product_line for k in keys],
            "billing_code": code[loaded],
            "billing_code_type": ctype[loaded],
            "modifiers": modifiers,
            "pos_setting": "facility",
            "care_setting": _map_distinct(ul["setting_raw"].str.strip().str.lower(), _care_setting),
            "billing_class": _map_distinct(ul["billing_class_raw"].str.strip().str.lower(), _billing_class),
            "rate_type": rt,
            "amount": amount,
            "amount_unit": unit,
            "amount_usd": amount_usd,
            "dollar_basis": basis,
            "source_locator": ul["locator"],
            "billing_code_raw": ul["code_raw"],
            "billing_code_type_raw": ul["code_type_raw"].replace("", None),
            "amount_raw": amount_raw,
            "methodology_raw": text["methodology"][loaded].replace("", None),
            "negotiated_algorithm": text["algorithm"][loaded].where(~na["algorithm"][loaded], "").replace("", None),
            "gross_charge": gross,
            "discounted_cash": aux["discounted_cash"],
            "min_charge": aux["min_charge"],
            "max_charge": aux["max_charge"],
            "estimated_amount": aux["estimated_amount"],
            "median_amount": aux["median_amount"],
            "p10_amount": aux["p10_amount"],
            "p90_amount": aux["p90_amount"],
            "allowed_count": text["count"][loaded].replace("", None),
            "drug_unit": aux["drug_unit"],
            "drug_unit_type": ul["drug_type_raw"].str.strip().str.upper().replace("", None),
        }
    )
    return rates, quarantine_frame, counts, problems


# ----------------------------------------------------------------------------------------------------------------
# Values the normalization keeps as they are, without a word (validation's fast path,
# :mod:`benchmark.ingest.hospital.clean_units`). Conservative: True only when :func:`normalize_units` would load the
# value unchanged and report nothing about it; text with spaces at either end or non-ASCII text is never clean.


def _tidy(text: str) -> bool:
    return text.isascii() and text == text.strip()


def clean_code(code_raw: str, stripped: str, type_raw: str) -> tuple[tuple[str, str] | None, bool]:
    """(the normalized (code, type) -- None when the code cell is blank --, whether the pair is clean: a code and a
    CMS code type that the normalization neither changes nor questions). ``stripped``: ``code_raw`` stripped as
    :func:`normalize_codes` strips it."""
    shape = _CLEAN_SHAPES.get(type_raw)
    if shape is not None and shape.fullmatch(code_raw):
        # the common case, decided without normalize_code: what it returns for these (tests/test_clean_code_fast.py
        # compares the two on every such input)
        return (code_raw, type_raw), True
    return _clean_code(code_raw, stripped, type_raw)


# a code of these shapes with this exact type is one normalize_code keeps as it is, without a word ([0-9], not \d:
# Python's \d is any Unicode digit)
_CLEAN_SHAPES = {"CPT": re.compile(r"[0-9]{5}"), "HCPCS": re.compile(r"[A-V][0-9]{4}"), "RC": re.compile(r"[0-9]{4}")}


def _clean_code(code_raw: str, stripped: str, type_raw: str) -> tuple[tuple[str, str] | None, bool]:
    """:func:`clean_code` through :func:`normalize_code` (any input)."""
    if not code_raw.strip():
        return None, False
    code, kind, modifier, problem, _, _ = normalize_code(stripped, type_raw)
    clean = (
        _tidy(code_raw)
        and _tidy(type_raw)
        and not problem
        and not modifier
        and code == code_raw
        and kind == type_raw.upper()
        and kind in CMS_CODE_TYPES
    )
    return (code, kind), clean


def clean_setting_value(text: str, column: str) -> bool:
    """A setting (``column`` "setting") or billing class ("billing_class") that is blank or a CMS value as is."""
    if text == "":
        return True
    table = _CARE_SETTINGS if column == "setting" else _BILLING_CLASSES
    key = text.lower()
    return _tidy(text) and table.get(key) == key


def clean_methodology(text: str, *, other: bool = False) -> bool:
    """A methodology the normalization knows (``other``: instead, whether it is "other", which needs a note)."""
    key = _squeeze_separators(text.lower()).strip()
    if other:
        return _METHODOLOGIES.get(key) == "other" or text.strip().lower() == "other"
    return _tidy(text) and key in _METHODOLOGIES


def clean_algorithm(text: str) -> bool:
    """A negotiated algorithm that is a real value (not blank, not N/A), written without spaces at either end."""
    return bool(text) and _tidy(text) and text.lower() not in _NA_TOKENS


def algorithm_only_detail(code: str) -> str:
    """The detail of an ``algorithm_only`` quarantine (code as normalized)."""
    return f"code {code}: negotiated_algorithm only; no dollar or percentage to load"


def clean_payer(text: str) -> bool:
    """A payer name that is not blank however it is stripped."""
    return any(c.isascii() and c.isalnum() for c in text)


_WARNING_COLUMNS = [
    "locator",
    "code_raw",
    "code_type_raw",
    "setting_raw",
    "billing_class_raw",
    "gross_raw",
    "cash_raw",
    "min_raw",
    "max_raw",
    "drug_unit_raw",
]


def _rows(frame: pd.DataFrame | pd.Series, mask: np.ndarray) -> pd.DataFrame | pd.Series:
    """``frame[mask]``, without a copy when every row is kept."""
    return frame if mask.all() else frame[mask]


def _map_distinct(values: pd.Series, func) -> pd.Series:
    """``values.map(func)`` for a column of text, ``func`` called once per distinct value (a column of a million
    rates holds a few hundred methodologies or amounts); a missing result is missing. With ``func`` a dict's
    ``get``, what ``values.map(dict)`` gives, at a fifth of the cost on a small column and half on a large one."""
    numbers, distinct = pd.factorize(values, use_na_sentinel=False)
    mapped = np.asarray([func(value) for value in distinct], dtype=object)
    return pd.Series(mapped[numbers] if len(distinct) else mapped[:0], index=values.index, dtype="str")


_SEPARATORS = re.compile(r"[\s_\-]+")


def _dollar_unit(rate_type: str) -> str:
    return _DOLLAR_UNITS.get(rate_type, "USD")


def _care_setting(key: str) -> str:
    return _CARE_SETTINGS.get(key, "unknown")


def _billing_class(key: str) -> str:
    return _BILLING_CLASSES.get(key, "unknown")


def _squeeze_separators(text: str) -> str:
    return _SEPARATORS.sub(" ", text)


def _join_modifiers(published: pd.Series, split_off: pd.Series) -> list[str]:
    out = []
    for text, extra in zip(published, split_off):
        if not text and not extra:
            out.append("")
            continue
        found = {m.strip().upper() for m in text.split("|") if m.strip()}
        if extra:
            found.add(extra)
        out.append("|".join(sorted(found)))
    return out


def _aux_amounts(columns: dict[str, pd.Series]) -> dict[str, np.ndarray]:
    """Secondary dollar columns (gross, cash, min, max, estimates) of the same rows: per column the numbers, NaN
    where blank or unusable. Short columns go through one :func:`parse_amounts` end to end (its cost is then mostly
    per call: 10 ms for nine calls on 300 rows, 3 ms for one); long ones one by one (joining them costs more than
    it saves from about 10,000 rows)."""
    parts = [text.str.strip() for text in columns.values()]
    found = _column_by_column(parts, lambda cells: (_usable(*parse_amounts(cells)),))
    return {name: values for name, (values,) in zip(columns, found)}


_AUX_JOINED_ROWS = 5_000


def _column_by_column(
    columns: list[pd.Series], per_cell: Callable[[pd.Series], tuple[np.ndarray, ...]]
) -> list[tuple[np.ndarray, ...]]:
    """``[per_cell(cells) for cells in columns]`` for columns of the same rows, ``per_cell`` giving arrays of one value
    per cell: short columns in one call over them joined end to end, its results split back (the cost of such a call
    is mostly per call), long ones one by one (joining them costs more than it saves from about 10,000 rows)."""
    if not columns:
        return []
    if len(columns[0]) > _AUX_JOINED_ROWS:
        return [per_cell(cells) for cells in columns]
    joined = per_cell(pd.concat(columns, ignore_index=True))
    ends = np.cumsum([len(cells) for cells in columns])[:-1]
    return list(zip(*(np.split(result, ends) for result in joined), strict=True))


def _usable(values: np.ndarray, problems: pd.Series) -> np.ndarray:
    """``values`` with NaN where a problem was found."""
    values[(problems != "").to_numpy()] = np.nan
    return values


def _unit_warnings(
    units: pd.DataFrame,
    codes: pd.DataFrame,
    text: dict[str, pd.Series],
    loaded: np.ndarray,
    file_columns: frozenset[str],
) -> list[Problem]:
    """What was fixed or is missing on loaded units (validation report only)."""
    out: list[Problem] = []
    code_raw = units["code_raw"].str.strip()
    changed = (codes["code"] != code_raw) | (codes["code_modifier"] != "")
    for locator, raw_code, new_code, modifier, note in _picked(
        changed, units["locator"], code_raw, codes["code"], codes["code_modifier"], codes["code_note"]
    ):
        what = f"code {raw_code!r} read as {new_code!r}" + (f" with modifier {modifier}" if modifier else "")
        out.append(Problem(locator, SEVERITY_WARNING, "code_normalized", f"{what} ({note})", raw_code))
    type_raw = units["code_type_raw"].str.strip().str.upper()
    retyped = (codes["code_type"] != type_raw) & (type_raw != "")
    for locator, raw_type, new_type, code in _picked(
        retyped, units["locator"], units["code_type_raw"], codes["code_type"], codes["code"]
    ):
        out.append(
            Problem(
                locator,
                SEVERITY_WARNING,
                "code_type_normalized",
                f"code {code}: code type {raw_type.strip()!r} read as {new_type}",
                raw_type,
            )
        )
    dollar = text["dollar"][loaded]
    if {"min", "max"} <= file_columns:
        missing = (dollar != "") & ((units["min_raw"].str.strip() == "") | (units["max_raw"].str.strip() == ""))
        for (locator,) in _picked(missing, units["locator"]):
            out.append(
                Problem(
                    locator,
                    SEVERITY_WARNING,
                    "missing_min_max",
                    "a negotiated dollar without standard_charge|min and |max (CMS conditional rule)",
                )
            )
    needs_estimate = (text["percentage"][loaded] != "") | (text["algorithm"][loaded] != "")
    for column, rule in (("count", "count"), ("estimated", "estimated_amount")):
        if column in file_columns:
            missing = needs_estimate & (text[column][loaded] == "")
            for (locator,) in _picked(missing, units["locator"]):
                out.append(
                    Problem(
                        locator,
                        SEVERITY_WARNING,
                        f"missing_{rule}",
                        f"a negotiated percentage or algorithm without {rule} (CMS conditional rule)",
                    )
                )
    other = text["methodology"][loaded].str.lower().eq("other") & (text["notes"][loaded] == "")
    for (locator,) in _picked(other, units["locator"]):
        out.append(
            Problem(
                locator,
                SEVERITY_WARNING,
                "other_without_note",
                "methodology 'other' without an explanation in the payer notes (CMS conditional rule)",
            )
        )
    return out


_VALUE_NAMES = {"dollar": "negotiated_dollar", "percentage": "negotiated_percentage"}
_AUX_NAMES = {
    "gross_raw": "gross charge",
    "cash_raw": "discounted cash",
    "min_raw": "minimum",
    "max_raw": "maximum",
    "drug_unit_raw": "drug unit",
}
_AUX_PAYER = {
    "estimated": "estimated amount",
    "median": "median amount",
    "p10": "10th percentile",
    "p90": "90th percentile",
}
# CMS code types of the v2.0-v2.2 data dictionary and those v3.0 adds; a code type outside them is kept as
# published, with a warning
CMS_CODE_TYPES_V2 = (
    "CPT",
    "HCPCS",
    "ICD",
    "DRG",
    "MS-DRG",
    "R-DRG",
    "S-DRG",
    "APS-DRG",
    "AP-DRG",
    "APR-DRG",
    "APC",
    "NDC",
    "HIPPS",
    "LOCAL",
    "EAPG",
    "CDT",
    "RC",
    "CDM",
    "TRIS-DRG",
)
CMS_CODE_TYPES_V3_ADDED = ("CMG", "MS-LTC-DRG")
CMS_CODE_TYPES = frozenset(CMS_CODE_TYPES_V2 + CMS_CODE_TYPES_V3_ADDED)


def _value_warnings(
    units: pd.DataFrame, ctype: pd.Series, text: dict[str, pd.Series], na: dict[str, np.ndarray]
) -> list[Problem]:
    """Every value of a loaded unit that the reader changed, or could not use and left blank (validation report)."""
    out: list[Problem] = []
    locator = units["locator"]
    for name, label in _VALUE_NAMES.items():
        cells = text[name]
        for loc, raw in _picked(na[name], locator, cells):
            out.append(
                Problem(
                    loc, SEVERITY_WARNING, "na_as_blank", f"{label} {raw!r} read as blank (another value is given)", raw
                )
            )
        changed = (cells != "") & ~na[name] & ~plain_numbers(cells)
        for loc, raw in _picked(changed, locator, cells):
            value, _ = parse_amount(raw, percent=name == "percentage")
            out.append(
                Problem(
                    loc,
                    SEVERITY_WARNING,
                    "amount_normalized",
                    f"{label} {raw!r} read as {_fmt(value) if value is not None else 'blank'}",
                    raw,
                )
            )
    aux = {label: units[column].str.strip() for column, label in _AUX_NAMES.items()}
    aux |= {label: text[name] for name, label in _AUX_PAYER.items()}
    filled_aux = {label: (cells != "").to_numpy() for label, cells in aux.items()}
    aux = {label: cells for label, cells in aux.items() if filled_aux[label].any()}
    for label, cells, filled, (plain, unusable) in zip(
        aux, aux.values(), (filled_aux[label] for label in aux), _amount_verdicts(list(aux.values()))
    ):
        for loc, raw in _picked(unusable, locator, cells):
            dropped_why = "rate_not_positive" if float(raw) <= 0 else "placeholder_value"
            out.append(
                Problem(
                    loc,
                    SEVERITY_WARNING,
                    "value_dropped",
                    f"{label} {raw!r} is not a usable amount ({dropped_why}); stored as blank",
                    raw,
                )
            )
        odd = filled & ~plain
        for loc, raw in _picked(odd, locator, cells):
            value, why = parse_amount(raw)
            if why or value is None:
                problem = Problem(
                    loc,
                    SEVERITY_WARNING,
                    "value_dropped",
                    f"{label} {raw!r} is not a usable amount ({why}); stored as blank",
                    raw,
                )
            else:
                problem = Problem(
                    loc, SEVERITY_WARNING, "amount_normalized", f"{label} {raw!r} read as {_fmt(value)}", raw
                )
            out.append(problem)
    for column, table, label in (
        ("setting_raw", _CARE_SETTINGS, "setting"),
        ("billing_class_raw", _BILLING_CLASSES, "billing class"),
    ):
        raw = units[column].str.strip()
        unknown, renamed, new_values = _setting_verdicts(raw, table)
        for loc, value in _picked(unknown, locator, raw):
            out.append(
                Problem(
                    loc,
                    SEVERITY_WARNING,
                    f"{column.removesuffix('_raw')}_unknown",
                    f"{label} {value!r} is not a CMS value; read as 'unknown'",
                    value,
                )
            )
        for loc, value, new in _picked(renamed, locator, raw, new_values):
            out.append(
                Problem(
                    loc,
                    SEVERITY_WARNING,
                    f"{column.removesuffix('_raw')}_normalized",
                    f"{label} {value!r} read as {new!r}",
                    value,
                )
            )
    unknown_type = (ctype != "") & ~ctype.isin(CMS_CODE_TYPES)
    for loc, value in _picked(unknown_type, locator, ctype):
        out.append(
            Problem(
                loc,
                SEVERITY_WARNING,
                "code_type_unknown",
                f"code type {value!r} is not a CMS code type; kept as published",
                value,
            )
        )
    return out


def _picked(mask: pd.Series | np.ndarray, *columns: pd.Series | np.ndarray) -> Iterator[tuple]:
    """``zip(*(column[mask] for column in columns))``, without indexing anything when the mask picks nothing (the
    common case: most checks find nothing, and indexing a column costs more than the check)."""
    if not np.asarray(mask).any():
        return iter(())
    return zip(*(column[mask] for column in columns))


def _amount_verdicts(columns: list[pd.Series]) -> list[tuple[np.ndarray, ...]]:
    """Per column of stripped amount texts (of the same rows), (plain-number cells, plain cells that are no usable
    amount: zero or a placeholder), blank cells neither (:func:`_column_by_column`)."""
    return _column_by_column(columns, _amount_verdict)


def _amount_verdict(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    plain = plain_numbers(cells) & (cells != "").to_numpy()
    return plain, plain & (_zeros(cells) | _placeholders(cells, plain))


def _setting_verdicts(raw: pd.Series, table: dict[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(not blank and not in ``table`` once lower-cased, in it under another name, that name) per cell of ``raw``,
    decided once per distinct value (a column holds a handful)."""
    numbers, distinct = pd.factorize(raw, use_na_sentinel=False)
    keys = pd.Series(distinct, dtype=raw.dtype).str.lower()
    names = [table.get(key) for key in keys]
    filled = [value != "" for value in distinct]
    unknown = np.array([f and name is None for f, name in zip(filled, names)], dtype=bool)
    renamed = np.array(
        [f and name is not None and name != key for f, name, key in zip(filled, names, keys)], dtype=bool
    )
    return unknown[numbers], renamed[numbers], np.array(names, dtype=object)[numbers]


# ----------------------------------------------------------------------------------------------------------------
# Amounts


def parse_amounts(text: pd.Series, *, percent: bool = False) -> tuple[np.ndarray, pd.Series]:
    """(values, problem codes) of a column of stripped amount texts; blank gives NaN and no problem.

    Plain decimals are converted in one vectorized pass; anything else (currency signs, commas, parentheses,
    exponents, ``%``) goes through :func:`parse_amount` once per distinct text.
    """
    text = text.astype("str")
    values = np.full(len(text), np.nan)
    problems = pd.Series("", index=text.index, dtype=object)
    filled = (text != "").to_numpy()
    if not filled.any():
        return values, problems
    plain = plain_numbers(text) & filled
    if plain.any():
        values[plain] = pd.to_numeric(text[plain]).to_numpy(dtype=float)
        # (a masked assignment costs more than the check: only made when some cell is picked, here and below)
        placeholder = _placeholders(text, plain)
        if placeholder.any():
            problems[placeholder] = "placeholder_value"
        not_positive = plain & (values <= 0)
        if not_positive.any():
            problems[not_positive] = "rate_not_positive"
    other = filled & ~plain
    if other.any():
        parsed = {t: parse_amount(t, percent=percent) for t in text[other].unique()}
        values[other] = [parsed[t][0] if parsed[t][0] is not None else np.nan for t in text[other]]
        problems[other] = [parsed[t][1] or "" for t in text[other]]
    if percent:
        fraction = (problems == "").to_numpy() & (values < 1)
        if fraction.any():
            problems[fraction] = "percentage_fraction"
    return values, problems


_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_DOT = np.zeros(256, dtype=bool)
_DOT[ord(".")] = True
_ASCII = np.zeros(256, dtype=bool)
_ASCII[:128] = True
_ZERO_BYTES = _DOT.copy()
_ZERO_BYTES[ord("0")] = True


def _arrow_text(text: pd.Series | pa.Array) -> pa.Array:
    if isinstance(text, pd.Series):
        array = pa.array(text.array) if len(text) else pa.array([], type=pa.large_string())
    else:
        array = text
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    return array


def _byte_counts(text: pd.Series | pa.Array, *tables: np.ndarray) -> list[np.ndarray]:
    """Per cell of a text column, how many of its UTF-8 bytes each 256-entry table allows, and its length in bytes
    (from the Arrow buffers: no Python string per cell)."""
    offsets, data = string_buffers(_arrow_text(text))
    start = int(offsets[0]) if len(offsets) else 0
    end = int(offsets[-1]) if len(offsets) else 0
    data = data[start:end]
    offsets = offsets.astype(np.int64) - start  # only this slice's bytes are looked at
    lengths = offsets[1:] - offsets[:-1]
    out = []
    if len(tables) == 2 and (not len(lengths) or lengths.max() < 1 << 16):  # both counts from one running sum
        weights = tables[0].astype(np.int64) + (tables[1].astype(np.int64) << 16)
        running = np.concatenate(([0], np.cumsum(weights[data])))
        both = running[offsets[1:]] - running[offsets[:-1]]
        return [both & 0xFFFF, both >> 16, lengths]
    for table in tables:
        running = np.concatenate(([0], np.cumsum(table[data], dtype=np.int64)))
        out.append(running[offsets[1:]] - running[offsets[:-1]])
    out.append(lengths)
    return out


def _trailing_newline(array: pa.Array) -> np.ndarray:
    """Cells ending with a line feed (Python's ``$`` matches before it)."""
    last = pc.utf8_slice_codeunits(array, -1)
    return np.asarray(pc.equal(last, "\n").to_numpy(zero_copy_only=False), dtype=bool)


def plain_numbers(text: pd.Series | pa.Array) -> np.ndarray:
    """Cells that are plain decimals, ``^(?:\\d+(?:\\.\\d*)?|\\.\\d+)$``: digits, at most one point, at least one
    digit -- tested on the bytes; non-ASCII cells go through the regex as before (pandas' ``str.match`` for a
    Series: Python's regex, where ``\\d`` is any Unicode digit and ``$`` matches before a final line feed; Arrow's
    RE2 for an Arrow array)."""
    array = _arrow_text(text)
    python = isinstance(text, pd.Series)
    digits, dots, length = _byte_counts(array, _DIGIT, _DOT)
    if python:
        length = length - _trailing_newline(array)
    plain = (digits > 0) & (dots <= 1) & (digits + dots == length)
    if pc.any(pc.not_equal(pc.binary_length(array), pc.utf8_length(array))).as_py():
        ascii_count, size = _byte_counts(array, _ASCII)
        odd = np.flatnonzero(~plain & (ascii_count != size))
    else:
        odd = np.zeros(0, dtype=np.int64)
    if len(odd):  # non-ASCII text (other Unicode digits?): the regex decides
        if python:
            found = text.iloc[odd].str.match(_PLAIN_NUMBER).to_numpy()
        else:
            found = pc.match_substring_regex(array.take(pa.array(odd)), _PLAIN_NUMBER).to_numpy(zero_copy_only=False)
        plain[odd] = np.asarray(found, dtype=bool)
    return plain


def _zeros(text: pd.Series) -> np.ndarray:
    """Cells matching ``^0*\\.?0*$`` (Python's regex: a final line feed allowed), tested on the bytes."""
    array = _arrow_text(text)
    inside, dots, length = _byte_counts(array, _ZERO_BYTES, _DOT)
    return (inside == length - _trailing_newline(array)) & (dots <= 1)


def _placeholders(text: pd.Series, plain: np.ndarray) -> np.ndarray:
    """Plain-number cells that are placeholders (seven or more 9s, ``_PLACEHOLDER``), the regex run only on the
    few cells whose first seven bytes are 9s (read from the Arrow buffers, no pandas string operation: every cell
    the regex matches is one of them)."""
    out = np.zeros(len(text), dtype=bool)
    if not plain.any():
        return out
    offsets, data = string_buffers(_arrow_text(text))
    long = np.flatnonzero(plain & ((offsets[1:] - offsets[:-1]) >= 7))
    starts = offsets[long].astype(np.int64)
    nines = np.ones(len(long), dtype=bool)
    for k in range(7):  # in bounds: each of these cells has seven bytes at least
        nines &= data[starts + k] == ord("9")
    candidates = long[nines]
    if len(candidates):
        out[candidates] = text.iloc[candidates].str.match(_PLACEHOLDER).to_numpy()
    return out


def parse_amount(text: str, *, percent: bool = False) -> tuple[float | None, str | None]:
    """(value, None) or (value or None, problem code) for one amount text.

    Accepts "$1,234.50", " $1,231.21 ", "(5.00)", "-$5", "4.4E+04" and, for percentages, "70%".
    """
    t = text.strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1].strip()
    for _ in range(2):  # "-$5" and "$-5"
        if t.startswith("-"):
            negative, t = True, t[1:].strip()
        t = t.removeprefix("$").strip()
    if t.endswith("%"):
        if not percent:
            return None, "percent_in_dollar_field"
        t = t[:-1].strip()
    if not _NUMBER.fullmatch(t):
        return None, "not_a_number"
    plain = t.replace(",", "")
    value = -float(plain) if negative else float(plain)
    if not math.isfinite(value):
        return None, "not_a_number"
    if value <= 0:
        return value, "rate_not_positive"
    whole, _, fraction = plain.lower().partition("e")[0].partition(".")
    if len(whole) >= 7 and set(whole) == {"9"} and (set(fraction) <= {"9"} or set(fraction) <= {"0"}):
        return value, "placeholder_value"
    return value, None


def _fmt(value: float) -> str:
    """70.5 -> "70.5", 4000.0 -> "4000"."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


# ----------------------------------------------------------------------------------------------------------------
# Codes


_CPT_SHAPE = re.compile(r"\d{4}[0-9AFMTU]")
_HCPCS_SHAPE = re.compile(r"[A-V]\d{4}")
_GLUED_MODIFIER = re.compile(r"([0-9A-Z]{5})(?:\s*-\s*|\s+)([0-9A-Z]{2})")
_EXCEL_DECIMAL = re.compile(r"(\d+)\.0+")
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?E\+?\d+")
_TYPE_PREFIX = re.compile(r"(?:CPT4?|HCPCS?|CPT4?/HCPCS?|HCPCS?/CPT4?|REV|RC|DRG|MS-DRG|NDC)[\s:#/-]+(\S+)")
_CPT_OR_HCPCS = "CPT/HCPCS"  # a combined type: which one follows from the code's shape
_DRG_TYPES = {"DRG", "MS-DRG", "R-DRG", "S-DRG", "APS-DRG", "AP-DRG", "APR-DRG", "TRIS-DRG", "MS-LTC-DRG"}
_TYPE_SYNONYMS = {
    "CPT4": "CPT",
    "CPT-4": "CPT",
    "CPT 4": "CPT",
    "CPT CODE": "CPT",
    "CPT®": "CPT",
    "AMA CPT": "CPT",
    "HCPC": "HCPCS",
    "HCPCS II": "HCPCS",
    "HCPCS LEVEL II": "HCPCS",
    "HCPCS CODE": "HCPCS",
    "CPT/HCPCS": _CPT_OR_HCPCS,
    "HCPCS/CPT": _CPT_OR_HCPCS,
    "CPT/HCPC": _CPT_OR_HCPCS,
    "HCPC/CPT": _CPT_OR_HCPCS,
    "CPT HCPCS": _CPT_OR_HCPCS,
    "CPT-HCPCS": _CPT_OR_HCPCS,
    "CPT4/HCPCS": _CPT_OR_HCPCS,
    "HCPCS/CPT4": _CPT_OR_HCPCS,
    "REV": "RC",
    "REV CODE": "RC",
    "REVENUE": "RC",
    "REVENUE CODE": "RC",
    "UB04": "RC",
    "UB-04": "RC",
    "MSDRG": "MS-DRG",
    "MS DRG": "MS-DRG",
    "APRDRG": "APR-DRG",
    "APR DRG": "APR-DRG",
    "NDC CODE": "NDC",
    "CHARGE CODE": "CDM",
    "CHARGEMASTER": "CDM",
    "LOCAL CODE": "LOCAL",
    "ICD-10": "ICD",
    "ICD10": "ICD",
}


def normalize_codes(code_raw: pd.Series, type_raw: pd.Series) -> pd.DataFrame:
    """``code``, ``code_type``, ``code_modifier``, ``code_problem``, ``code_detail``, ``code_note`` per unit
    (see :func:`normalize_code`), computed once per distinct (code, type) pair."""
    code = code_raw.astype("str").str.strip()
    kind = type_raw.astype("str")
    columns = ["code", "code_type", "code_modifier", "code_problem", "code_detail", "code_note"]
    if not len(code):
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns}, index=code_raw.index)
    # number each distinct (code, type) by first appearance; normalize each once; spread back by that number (the
    # pair's number from the numbers of its parts: no separator a cell could hold, so no two pairs share one)
    code_numbers, _ = pd.factorize(code, use_na_sentinel=False)
    kind_numbers, kinds = pd.factorize(kind, use_na_sentinel=False)
    numbers, _ = pd.factorize(code_numbers.astype(np.int64) * max(len(kinds), 1) + kind_numbers)
    _, first = np.unique(numbers, return_index=True)
    table = pd.DataFrame(
        [normalize_code(c, t) for c, t in zip(code.iloc[first], kind.iloc[first])], columns=columns
    ).astype("str")
    return table.iloc[numbers].set_axis(code_raw.index)


def normalize_code(code_raw: str, type_raw: str) -> tuple[str, str, str, str, str, str]:
    """(code, type, split-off modifier, problem code, problem detail, what was changed) of one published code."""
    code = code_raw.strip().upper()
    kind = re.sub(r"[\s_]+", " ", type_raw.strip().upper())
    kind = _TYPE_SYNONYMS.get(kind, kind)
    if not code:
        return "", kind, "", "", "", ""
    notes = []
    if _SCIENTIFIC.fullmatch(code):
        return (
            code,
            kind,
            "",
            "code_mangled",
            (f"{code_raw.strip()!r} is in scientific notation (a spreadsheet rounded it; digits are lost)"),
            "",
        )
    if not kind:
        return code, "", "", "missing_code_type", "billing code without a code type", ""
    if m := _EXCEL_DECIMAL.fullmatch(code):
        code = m.group(1)
        notes.append("spreadsheet decimal dropped")
    if (m := _TYPE_PREFIX.fullmatch(code)) and m.group(1):
        code = m.group(1)
        notes.append("type word before the code dropped")
    modifier = ""
    if kind in ("CPT", "HCPCS", _CPT_OR_HCPCS):
        if m := _GLUED_MODIFIER.fullmatch(code):
            code, modifier = m.group(1), m.group(2)
            notes.append("modifier split off")
        if code.isdigit() and len(code) < 5:
            code = code.zfill(5)
            notes.append("leading zeros restored")
        if _CPT_SHAPE.fullmatch(code):
            kind = "CPT"
        elif _HCPCS_SHAPE.fullmatch(code):
            kind = "HCPCS"
        else:
            return code, kind, "", "invalid_code", f"{code_raw.strip()!r} is not a CPT or HCPCS code", ""
    elif kind == "RC":
        if code.isdigit() and len(code) < 4:
            code = code.zfill(4)
            notes.append("leading zeros restored")
        if not (code.isdigit() and len(code) == 4):
            return code, kind, "", "invalid_code", f"{code_raw.strip()!r} is not a 4-digit revenue code", ""
    elif kind in _DRG_TYPES and code.isdigit():
        if len(code) < 3:
            code = code.zfill(3)
            notes.append("leading zeros restored")
        elif len(code) == 4 and code.startswith("0"):
            code = code[1:]
            notes.append("extra leading zero dropped")
    return code, kind, modifier, "", "", "; ".join(notes)
