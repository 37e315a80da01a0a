"""The CMS hospital price-transparency rules (45 CFR 180.50 data dictionary, v2.0.0-v3.0.0) for CSV files.

These are the rules by which CMS decides whether a hospital standard-charge CSV is valid (the data dictionary's
required columns, value types, enumerations and conditional requirements); ``paybench validate`` reports every
broken rule as an ``error`` and every CMS "alert" as a ``warning``. Rule ids are the ``reason_code`` of the
problem; the README lists them all, per version.

How the file is checked
    - Rows 1-2 (general data elements): the required headers of the version, matched case-insensitively with
      spaces around ``|`` ignored (``hospital_ location`` is not ``hospital_location``); each needs a value
      (``license_number|[state]`` may be blank, its state must be a US postal code); ``last_updated_on`` is
      YYYY-MM-DD or M/D/YYYY and a real date; the attestation (v3) / affirmation (v2) value is ``true`` or ``false``.
      Alerts: ``false``; a ``version`` that is not the one of the template (``3.0.0``; ``2.0.0`` for v2.1/v2.2).
    - Row 3 (column headers): tall (``payer_name`` and ``plan_name``) or wide (payer and plan in the headers), not
      both, not neither; every required column of the version present once; no template placeholder left (v3).
      When row 3 has an error the data rows are not checked (as CMS does).
    - Data rows: see :class:`RowRules` (vectorized on Arrow columns of one chunk of rows).

Version: the one the file declares (``--cms-version`` overrides). The CSV template's version string stayed
``2.0.0`` through v2.2, so a file declaring 2.0.0 whose columns are the 2.2 ones (``estimated_amount``, drug
units, ``modifiers``) is checked against 2.2.0.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.errors import ParameterError
from benchmark.ingest.hospital.cell_facts import CellFacts
from benchmark.ingest.hospital.csv_layout import US_STATES, valid_date
from benchmark.ingest.hospital.csvtext import Record
from benchmark.normalize.hospital_units import (
    CMS_CODE_TYPES_V2,
    CMS_CODE_TYPES_V3_ADDED,
    SEVERITY_ERROR,
    SEVERITY_WARNING,
    Problem,
)

CMS_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "3.0.0")

AFFIRMATION = (
    "To the best of its knowledge and belief, the hospital has included all applicable standard charge "
    "information in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, "
    "accurate, and complete as of the date indicated."
)
ATTESTATION = (
    "To the best of its knowledge and belief, this hospital has included all applicable standard charge "
    "information in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, "
    "accurate, and complete as of the date in the file. This hospital has included all payer-specific "
    "negotiated charges in dollars that can be expressed as a dollar amount. For payer-specific negotiated "
    "charges that cannot be expressed as a dollar amount in the machine-readable file or not knowable in "
    "advance, the hospital attests that the payer-specific negotiated charge is based on a contractual "
    "algorithm, percentage or formula that precludes the provision of a dollar amount and has provided all "
    "necessary information available to the hospital for the public to be able to derive the dollar amount, "
    "including, but not limited to, the specific fee schedule or components referenced in such percentage, "
    "algorithm or formula."
)
SETTINGS = ("inpatient", "outpatient", "both")
METHODOLOGIES = ("case rate", "fee schedule", "percent of total billed charges", "per diem", "other")
DRUG_TYPES = ("GR", "ME", "ML", "UN", "F2", "EA", "GM")
NINE_NINES = "999999999"
# A positive number as CMS writes it: digits with an optional decimal point, nothing else ($, commas, signs, E).
_NUMBER = r"^(\d+|\d+\.\d*|\.\d+)$"
_COUNT = r"^(0|1[1-9]|[2-9]\d|[1-9]\d{2,})$"  # 0, or 11 and more ("1 through 10" is checked apart)


def key(header: str) -> str:
    """A column header as CMS matches it: parts between ``|`` trimmed, lower case, joined by `` | ``."""
    return " | ".join(part.strip().lower() for part in header.replace("\ufeff", "").split("|"))


def at_least(version: str, floor: str) -> bool:
    return _tuple(version) >= _tuple(floor)


def _tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def coerce_version(text: str | None) -> str | None:
    """``3``, ``v3.0``, `` 2.2.1 `` -> ``3.0.0``, ``2.0.0``, ``2.2.0`` (a CMS version, else None)."""
    m = re.match(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text or "")
    if not m:
        return None
    found = f"{m.group(1)}.{m.group(2) or 0}.0"
    return found if found in CMS_VERSIONS else None


def choose_version(declared: str | None, columns: list[str], override: str | None = None) -> tuple[str, Problem | None]:
    """The CMS version to check against, and a warning when it is not simply the declared one."""
    if override:
        chosen = coerce_version(override)
        if chosen is None:
            raise ParameterError(f"--cms-version {override!r}: CMS versions are {', '.join(CMS_VERSIONS)}")
        return chosen, None
    keys = {key(c).split(" | ")[0] for c in columns}
    has_v22 = bool(keys & {"estimated_amount", "drug_unit_of_measurement", "modifiers"})
    has_v3 = bool(keys & {"median_amount", "10th_percentile", "90th_percentile", "count"})
    chosen = coerce_version(declared)
    if chosen == "2.0.0" and has_v22:
        return "2.2.0", None
    if chosen is not None:
        return chosen, None
    guess = "3.0.0" if has_v3 else "2.2.0"
    return guess, Problem(
        "line 2",
        SEVERITY_WARNING,
        "version_unknown",
        f"version {declared!r} is not a CMS template version ({', '.join(CMS_VERSIONS)}); "
        f"checked against {guess} (its columns look like it); use --cms-version to choose",
    )


# ----------------------------------------------------------------------------------------------------------------
# Rows 1-3


@dataclass
class HeaderCheck:
    """What rows 1-3 say: the version checked against, every problem, and the row rules (None: rows not checked)."""

    version: str | None
    problems: list[Problem]
    rows: RowRules | None


def check_header(first: list[Record], override: str | None = None) -> HeaderCheck:
    """The CMS rules of rows 1-3 of a template CSV (``first``: its first three records)."""
    blank = [i for i, record in enumerate(first[:3]) if i != 1 and record.is_blank()]
    if len(first) < 3 or blank:
        line = first[blank[0]].first_line if blank else (first[-1].last_line + 1 if first else 1)
        return HeaderCheck(
            None,
            [
                Problem(
                    f"line {line}",
                    SEVERITY_ERROR,
                    "header_blank",
                    "row 1 (general data element names) and row 3 (column headers) of a CMS "
                    "CSV must not be blank or missing",
                )
            ],
            None,
        )
    general, values, header = (r.cells for r in first[:3])
    declared = None
    names = [key(c) for c in general]
    if "version" in names and names.index("version") < len(values):
        declared = values[names.index("version")]
    version, note = choose_version(declared, header, override)
    problems = [note] if note else []
    problems += check_general(general, values, version, first[0].first_line, first[1].first_line)
    columns, found = check_columns(header, version, first[2].first_line)
    problems += found
    return HeaderCheck(version, problems, RowRules(columns) if columns is not None else None)


def no_data_rows(header_line: int) -> Problem:
    return Problem(
        f"line {header_line}",
        SEVERITY_ERROR,
        "no_data_rows",
        "the column headers are followed by no data row (a CMS file needs at least one item)",
    )


@dataclass
class Columns:
    """Where each column the rules read is (row 3), in CMS terms."""

    version: str
    tall: bool
    index: dict[str, int]  # normalized column name -> index (first occurrence)
    code_count: int
    payers_plans: list[str] = field(default_factory=list)  # "payer | plan", lower case (wide)


def check_general(
    headers: list[str], values: list[str], version: str, line: int, value_line: int | None = None
) -> list[Problem]:
    """Rows 1-2: required general data elements, their values, and the alerts."""
    problems: list[Problem] = []
    required = ["hospital_name", "last_updated_on", "version", "hospital_address", "license_number | [state]"]
    required += (
        ["location_name", "type_2_npi", key(ATTESTATION), "attester_name"]
        if at_least(version, "3.0.0")
        else ["hospital_location", key(AFFIRMATION)]
    )
    remaining = list(required)
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = key(header)
        if not name.strip():
            continue
        parts = name.split(" | ")
        if len(parts) == 2 and parts[0] == "license_number" and "license_number | [state]" in remaining:
            if parts[1].upper() in US_STATES:
                remaining.remove("license_number | [state]")
                found["license_number"] = index
            else:
                problems.append(
                    Problem(
                        f"line {line} column {index + 1}",
                        SEVERITY_ERROR,
                        "invalid_state_code",
                        f"license_number|{parts[1]}: {parts[1]!r} is not a US state or territory postal code",
                        header,
                    )
                )
            continue
        if name in remaining:
            remaining.remove(name)
            found[name] = index
        elif name in found:
            problems.append(
                Problem(
                    f"line {line} column {index + 1}",
                    SEVERITY_ERROR,
                    "duplicate_header_column",
                    f"general data element {_short(header)!r} appears twice",
                    None,
                )
            )
    for name in remaining:
        problems.append(
            Problem(
                f"line {line}",
                SEVERITY_ERROR,
                "header_column_missing",
                f"required general data element {_short(name)!r} is missing from row 1 (CMS v{version})",
            )
        )
    value_line = value_line or line + 1
    for name, index in found.items():
        if name == "license_number":
            continue
        value = values[index].strip() if index < len(values) else ""
        where = f"line {value_line} column {index + 1}"
        if not value:
            problems.append(
                Problem(
                    where, SEVERITY_ERROR, "header_value_missing", f"general data element {_short(name)!r} has no value"
                )
            )
        elif name == "last_updated_on" and not valid_date(value):
            problems.append(
                Problem(
                    where,
                    SEVERITY_ERROR,
                    "invalid_date",
                    "last_updated_on is not a real date in YYYY-MM-DD or M/D/YYYY form",
                    value,
                )
            )
        elif name in (key(ATTESTATION), key(AFFIRMATION)) and value.lower() not in ("true", "false"):
            problems.append(
                Problem(
                    where,
                    SEVERITY_ERROR,
                    "invalid_attestation",
                    "the attestation/affirmation value must be true or false",
                    value,
                )
            )
    if problems:
        return problems
    declared = values[found["version"]].strip() if "version" in found and found["version"] < len(values) else ""
    expected = "3.0.0" if at_least(version, "3.0.0") else "2.0.0" if at_least(version, "2.1.0") else None
    if expected and declared != expected:
        problems.append(
            Problem(
                f"line {value_line} column {found['version'] + 1}",
                SEVERITY_WARNING,
                "version_mismatch",
                f"version {declared!r}; the CMS v{version} template says {expected!r}",
                declared,
            )
        )
    for name in (key(ATTESTATION), key(AFFIRMATION)):
        if name in found and found[name] < len(values) and values[found[name]].strip().lower() == "false":
            problems.append(
                Problem(
                    f"line {value_line} column {found[name] + 1}",
                    SEVERITY_WARNING,
                    "false_attestation",
                    "the hospital answers 'false' to the attestation statement",
                    "false",
                )
            )
    return problems


def check_columns(headers: list[str], version: str, line: int) -> tuple[Columns | None, list[Problem]]:
    """Row 3: layout, required columns, duplicates, placeholders. None when the data rows cannot be checked."""
    problems: list[Problem] = []
    names = [key(h) for h in headers]
    tall = "payer_name" in names and "plan_name" in names
    payers_plans: list[str] = []
    for name in names:
        parts = name.split(" | ")
        wide = (
            len(parts) == 4
            and parts[0] == "standard_charge"
            and parts[3] in ("negotiated_dollar", "negotiated_percentage", "negotiated_algorithm", "methodology")
        ) or (len(parts) == 3 and parts[0] in _wide_prefixes(version))
        if wide:
            payer_plan = f"{parts[1]} | {parts[2]}"
            if at_least(version, "3.0.0") and ("[payer_name]" in parts or "[plan_name]" in parts):
                continue  # reported as a placeholder below
            if payer_plan not in payers_plans:
                payers_plans.append(payer_plan)
    if at_least(version, "3.0.0"):
        for position, name in enumerate(names):
            parts = name.split(" | ")
            if any(re.fullmatch(r"\[(i|payer_name|plan_name)\]", p) for p in parts):
                problems.append(
                    Problem(
                        f"line {line} column {position + 1}",
                        SEVERITY_ERROR,
                        "placeholder",
                        f"template placeholder left in column header {headers[position].strip()!r}",
                    )
                )
    ambiguous = tall == bool(payers_plans)
    if ambiguous:
        problems.append(
            Problem(
                f"line {line}",
                SEVERITY_ERROR,
                "ambiguous_format",
                "both tall (payer_name, plan_name) and wide (standard_charge|[payer]|[plan]|...) columns"
                if tall
                else "neither tall (payer_name, plan_name) nor wide (standard_charge|[payer]|[plan]|...) columns",
            )
        )
    code_count = max(
        [int(m.group(1)) for n in names if (m := re.fullmatch(r"code \| (\d+)(?: \| type)?", n))], default=0
    )
    expected = expected_columns(version, code_count, payers_plans if not tall else [])
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name.strip():
            continue
        if name in index:
            if name in expected:
                problems.append(
                    Problem(
                        f"line {line} column {i + 1}",
                        SEVERITY_ERROR,
                        "duplicate_column",
                        f"column {headers[i].strip()!r} appears twice (columns {index[name] + 1} and {i + 1})",
                    )
                )
            continue
        index[name] = i
    if ambiguous:  # which columns are required depends on the layout
        return None, problems
    for name in expected:
        if name not in index:
            problems.append(
                Problem(
                    f"line {line}",
                    SEVERITY_ERROR,
                    "column_missing",
                    f"required column {name!r} is missing (CMS v{version}, {'tall' if tall else 'wide'})",
                )
            )
    if at_least(version, "3.0.0"):
        for i, name in enumerate(names):
            if name.split(" | ")[0] == "estimated_amount":
                problems.append(
                    Problem(
                        f"line {line} column {i + 1}",
                        SEVERITY_WARNING,
                        "estimated_amount_deprecated",
                        "estimated_amount is no longer a data element as of 2026-01-01 (v3.0): "
                        "replaced by median, 10th/90th percentile and count of allowed amounts",
                    )
                )
    if any(p.severity == SEVERITY_ERROR for p in problems):
        return None, problems
    return Columns(version, tall, index, code_count, payers_plans), problems


def _wide_prefixes(version: str) -> tuple[str, ...]:
    if at_least(version, "3.0.0"):
        return ("additional_payer_notes", "median_amount", "10th_percentile", "90th_percentile", "count")
    if at_least(version, "2.2.0"):
        return ("additional_payer_notes", "estimated_amount")
    return ("additional_payer_notes",)


def expected_columns(version: str, code_count: int, payers_plans: list[str]) -> list[str]:
    """Required data columns of a CMS version (tall when ``payers_plans`` is empty)."""
    columns = [
        "description",
        "setting",
        "standard_charge | gross",
        "standard_charge | discounted_cash",
        "standard_charge | min",
        "standard_charge | max",
        "additional_generic_notes",
    ]
    for i in range(1, max(1, code_count) + 1):
        columns += [f"code | {i}", f"code | {i} | type"]
    if payers_plans:
        for pp in payers_plans:
            columns += [
                f"standard_charge | {pp} | negotiated_dollar",
                f"standard_charge | {pp} | negotiated_percentage",
                f"standard_charge | {pp} | negotiated_algorithm",
                f"standard_charge | {pp} | methodology",
                f"additional_payer_notes | {pp}",
            ]
    else:
        columns += [
            "payer_name",
            "plan_name",
            "standard_charge | negotiated_dollar",
            "standard_charge | negotiated_percentage",
            "standard_charge | negotiated_algorithm",
            "standard_charge | methodology",
        ]
    if at_least(version, "2.2.0"):
        columns += ["drug_unit_of_measurement", "drug_type_of_measurement", "modifiers"]
    allowed = (["estimated_amount"] if version.startswith("2.2") else []) + (
        ["median_amount", "10th_percentile", "90th_percentile", "count"] if at_least(version, "3.0.0") else []
    )
    for name in allowed:
        columns += [f"{name} | {pp}" for pp in payers_plans] if payers_plans else [name]
    return columns


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def _charge_field(tall: bool, payer_plan: str) -> Callable[[str], str]:
    """The column name of a negotiated-charge field: ``standard_charge | <field>`` in a tall file,
    ``standard_charge | <payer> | <plan> | <field>`` in a wide one."""
    if tall:
        return lambda name: f"standard_charge | {name}"
    return lambda name: f"standard_charge | {payer_plan} | {name}"


def _payer_field(tall: bool, payer_plan: str) -> Callable[[str], str]:
    """The column name of a per-payer field (``median_amount``, ...): as is in a tall file, suffixed with
    ``| <payer> | <plan>`` in a wide one."""
    if tall:
        return lambda name: name
    return lambda name: f"{name} | {payer_plan}"


# ----------------------------------------------------------------------------------------------------------------
# Data rows


class RowRules:
    """The CMS data-row rules of one file, applied to tables of rows (columns ``c<index>``, all text)."""

    def __init__(self, columns: Columns) -> None:
        self.c = columns
        self.v = columns.version
        self.code_types = pa.array(
            list(CMS_CODE_TYPES_V2) + (list(CMS_CODE_TYPES_V3_ADDED) if at_least(self.v, "3.0.0") else [])
        )
        self.rows_checked = 0
        self.problems: list[Problem] = []
        # the columns read as numbers, and those of few distinct values, each looked at in one batch per table
        v, c = self.v, columns
        numbers = ["standard_charge | gross", "standard_charge | discounted_cash", "standard_charge | min"]
        numbers += ["standard_charge | max", "drug_unit_of_measurement"]
        distinct = [f"code | {i} | type" for i in range(1, c.code_count + 1)] + ["setting", "drug_type_of_measurement"]
        for pp in [""] if c.tall else c.payers_plans:
            sc, extra = _charge_field(c.tall, pp), _payer_field(c.tall, pp)
            numbers += [sc("negotiated_dollar"), sc("negotiated_percentage"), extra("estimated_amount")]
            numbers += [extra(name) for name in ("median_amount", "10th_percentile", "90th_percentile")]
            distinct += [sc("methodology")] + ([extra("count")] if at_least(v, "3.0.0") else [])
        self._numbers = [c.index[name] for name in numbers if name in c.index]
        self._distinct = [c.index[name] for name in distinct if name in c.index]
        # per field, its column name in each payer/plan group (one group, the plain names, in a tall file)
        groups = [""] if c.tall else c.payers_plans
        charge_fields = ("negotiated_dollar", "negotiated_percentage", "negotiated_algorithm", "methodology")
        payer_fields = ("estimated_amount", "median_amount", "10th_percentile", "90th_percentile", "count")
        self._charge_names = {f: [_charge_field(c.tall, pp)(f) for pp in groups] for f in charge_fields}
        self._payer_names = {f: [_payer_field(c.tall, pp)(f) for pp in groups] for f in payer_fields}
        self._notes_names = [
            "additional_generic_notes" if c.tall else f"additional_payer_notes | {pp}" for pp in groups
        ]

    def check(self, table: pa.Table, lines: np.ndarray, facts: CellFacts | None = None) -> None:
        """Add every broken rule (errors) and alert (warnings) of the rows of ``table`` (``lines``: their line
        numbers; ``facts``: the table's column facts, shared with the reader) to :attr:`problems`."""
        n = table.num_rows
        if n == 0:
            return
        self.rows_checked += n
        facts = facts if facts is not None else CellFacts(table)
        self.prefetch(facts)
        checker = _Table(facts, self.c.index, lines)
        self._run(checker)
        self.problems += checker.problems

    def prefetch(self, facts: CellFacts) -> None:
        """The numbers and distinct values of the columns the rules read as such, each in one batch per table."""
        facts.prefetch_numbers(self._numbers, trimmed=True)
        facts.prefetch_dictionaries(self._distinct, trimmed=True)

    def _run(self, t: _Table) -> None:
        v, c = self.v, self.c
        t.required("description")
        codes = [(f"code | {i}", f"code | {i} | type") for i in range(1, c.code_count + 1)]
        for code, kind in codes:
            t.required(code, when=t.has(kind), why=f"when {kind} is given")
            t.required(kind, when=t.has(code), why=f"when {code} is given")
            t.enum(kind, self.code_types, "invalid_code_type", when=t.has(code))
        for name in (
            "standard_charge | gross",
            "standard_charge | discounted_cash",
            "standard_charge | min",
            "standard_charge | max",
        ):
            t.number(name)
        # the rules of each payer/plan group, evaluated for every group at once and flagged group by group
        sc, extra = self._charge_names, self._payer_names
        per_group = _PerGroup(t)
        per_group.number(sc["negotiated_dollar"])
        per_group.number(sc["negotiated_percentage"])
        per_group.enum(sc["methodology"], METHODOLOGIES, "invalid_methodology", lower=True)
        if v.startswith("2.2"):
            per_group.number(extra["estimated_amount"])
        if at_least(v, "3.0.0"):
            for name in ("median_amount", "10th_percentile", "90th_percentile"):
                per_group.number(extra[name])
            per_group.count(extra["count"])
        per_group.emit()
        if at_least(v, "2.2.0"):
            drug = t.has("drug_unit_of_measurement") | t.has("drug_type_of_measurement")
            t.required("drug_unit_of_measurement", when=drug, why="when drug_type_of_measurement is given")
            t.number("drug_unit_of_measurement", when=drug)
            t.required("drug_type_of_measurement", when=drug, why="when drug_unit_of_measurement is given")
            t.enum("drug_type_of_measurement", DRUG_TYPES, "invalid_drug_type", when=drug)
            ndc = np.zeros(t.n, dtype=bool)
            for _, kind in codes:
                ndc |= t.equals(kind, "NDC")
            missing = ndc & ~(t.has("drug_unit_of_measurement") & t.has("drug_type_of_measurement"))
            t.flag(
                missing,
                "ndc_needs_drug_info",
                "code type NDC needs drug_unit_of_measurement and drug_type_of_measurement",
                "drug_unit_of_measurement",
            )
        any_code = np.zeros(t.n, dtype=bool)
        for code, kind in codes:
            any_code |= t.has(code) | t.has(kind)
        if at_least(v, "2.2.0"):
            modifier = ~any_code & t.has("modifiers")
            t.flag(
                ~any_code & ~modifier, "code_missing", "no code and code type on the row (and no modifier)", "code | 1"
            )
            item = ~modifier
            self._modifier_rules(t, modifier)
        else:
            t.flag(~any_code, "code_missing", "no code and code type on the row", "code | 1")
            item = np.ones(t.n, dtype=bool)
        self._item_rules(t, item)
        self._alerts(t)

    def _modifier_rules(self, t: _Table, rows: np.ndarray) -> None:
        if not rows.any():
            return
        info = t.has("additional_generic_notes").copy()  # has() returns its cached array: never change it in place
        for pp in [""] if self.c.tall else self.c.payers_plans:
            for f in ("negotiated_dollar", "negotiated_percentage", "negotiated_algorithm"):
                info |= t.has(f"standard_charge | {f}" if self.c.tall else f"standard_charge | {pp} | {f}")
            if not self.c.tall:
                info |= t.has(f"additional_payer_notes | {pp}")
        t.flag(
            rows & ~info,
            "modifier_missing_info",
            "a modifier row (no code) needs additional notes or a payer-specific charge",
            "additional_generic_notes",
        )

    def _item_rules(self, t: _Table, rows: np.ndarray) -> None:
        v, c = self.v, self.c
        t.required("setting", when=rows)
        t.enum("setting", SETTINGS, "invalid_setting", when=rows, lower=True)
        if not at_least(v, "2.1.0"):
            return
        sc, extra, notes = self._charge_names, self._payer_names, self._notes_names
        dollar, pct, alg = (
            t.has_each(sc[f]) for f in ("negotiated_dollar", "negotiated_percentage", "negotiated_algorithm")
        )
        any_charge = dollar | pct | alg
        charged = t.has("standard_charge | gross") | t.has("standard_charge | discounted_cash") | any_charge.any(axis=0)
        any_dollar = dollar.any(axis=0)
        why = "when a payer-specific negotiated charge (dollar, percentage or algorithm) is given"
        per_group = _PerGroup(t)
        if c.tall:
            per_group.required(["payer_name"], when=rows & any_charge, why=why)
            per_group.required(["plan_name"], when=rows & any_charge, why=why)
        per_group.required(sc["methodology"], when=rows & any_charge, why=why)
        per_group.flag(
            rows & t.equals_each(sc["methodology"], "OTHER") & ~t.has_each(notes),
            "other_needs_notes",
            lambda name: "methodology 'other' needs an explanation in the additional notes",
            notes,
        )
        if v.startswith("2.2"):
            per_group.flag(
                rows & ~dollar & (pct | alg) & ~t.has_each(extra["estimated_amount"]),
                "estimate_missing",
                lambda name: "a charge given only as a percentage or algorithm needs an estimated_amount",
                extra["estimated_amount"],
            )
        if at_least(v, "3.0.0"):
            count = extra["count"]
            per_group.flag(
                rows & (pct | alg) & ~t.has_each(count),
                "count_missing",
                lambda name: "a percentage or algorithm charge needs the count of allowed amounts",
                count,
            )
            zero = t.equals_each(count, "0")
            for what, rule in (
                ("median_amount", "median_missing"),
                ("10th_percentile", "p10_missing"),
                ("90th_percentile", "p90_missing"),
            ):
                detail = f"a percentage or algorithm charge with a count other than 0 needs {what}"
                per_group.flag(
                    rows & (pct | alg) & ~zero & ~t.has_each(extra[what]),
                    rule,
                    functools.partial(_same_detail, detail),
                    extra[what],
                )
            per_group.flag(
                rows & zero & ~t.has_each(notes),
                "count_zero_needs_notes",
                lambda name: "a count of allowed amounts of 0 needs an explanation in the additional notes",
                notes,
            )
            if c.tall:
                per_group.flag(
                    rows & t.has("payer_name") & t.has("plan_name") & ~any_charge,
                    "payer_without_charge",
                    lambda name: (
                        "payer and plan are given but no payer-specific charge (dollar, percentage or algorithm)"
                    ),
                    ["payer_name"],
                )
        per_group.emit()
        t.flag(
            rows & ~charged,
            "no_charge",
            "an item needs a gross charge, discounted cash price or payer-specific charge",
            "standard_charge | gross",
        )
        t.flag(
            rows & any_dollar & ~(t.has("standard_charge | min") & t.has("standard_charge | max")),
            "dollar_needs_min_max",
            "a payer-specific dollar amount needs the de-identified minimum and maximum",
            "standard_charge | min",
        )

    def _alerts(self, t: _Table) -> None:
        v = self.v
        fields = (["estimated_amount"] if at_least(v, "2.2.0") else []) + (
            ["count", "median_amount", "10th_percentile", "90th_percentile"] if at_least(v, "3.0.0") else []
        )
        per_group = _PerGroup(t)
        for what in fields:
            names = self._payer_names[what]
            per_group.flag(
                t.equals_each(names, NINE_NINES),
                "nine_nines",
                lambda name: f"999999999 (nine 9s) encoded in {name}; CMS asks for the actual amount",
                names,
                severity=SEVERITY_WARNING,
            )
        per_group.emit()


class _Table:
    """Column tests on one table, and the problems they find (located by line and column).

    Cells are read trimmed (Arrow's ``utf8_trim_whitespace``; only columns that have a cell to trim are trimmed);
    the per-column facts (lengths, numbers, distinct values) come from the table's :class:`CellFacts`, shared with
    the other checks of the same rows. A test of a column of few distinct values (an enumeration, a count, a
    comparison with one value) is evaluated on its distinct values and mapped back to the rows."""

    def __init__(self, facts: CellFacts, index: dict[str, int], lines: np.ndarray) -> None:
        self.facts, self.index, self.lines, self.n = facts, index, lines, facts.n
        self.problems: list[Problem] = []
        self._has: dict[str, np.ndarray] = {}
        self._false = np.zeros(self.n, dtype=bool)
        self._answers: dict[tuple, np.ndarray] = {}  # (dictionary, test) -> answer per distinct value
        self._equal: dict[tuple[str, str], np.ndarray] = {}
        self._none = np.zeros(self.n, dtype=bool)  # "no cell": never changed, never handed out to be changed
        self._none.flags.writeable = False

    def text(self, name: str) -> pa.Array | None:
        if name not in self.index:
            return None
        return self.facts.text(self.index[name], trimmed=True)[0]

    def has(self, name: str) -> np.ndarray:
        if name not in self._has:
            if name not in self.index:
                self._has[name] = self._false
            else:
                self._has[name] = self.facts.text(self.index[name], trimmed=True)[1] > 0
        return self._has[name]

    def _on_values(self, name: str, key: tuple, test: Callable[[pa.Array], pa.Array]) -> np.ndarray:
        """``test`` (an Arrow kernel, cell by cell) of every cell, evaluated on the column's distinct values. Columns
        sharing one dictionary (the payer/plan groups' methodologies and counts) share the answers of a test:
        ``key`` names the test (the same key, the same test)."""
        index = self.index[name]
        found = self.facts.dictionary(index, trimmed=True)
        if found is None:  # not for parsed text (no nulls); kept for safety
            text = self.facts.text(index, trimmed=True)[0]
            return np.asarray(test(text).to_numpy(zero_copy_only=False), dtype=bool)
        memo = (id(found[0]), *key)
        values = self._answers.get(memo)
        if values is None:
            values = np.asarray(test(found[0]).to_numpy(zero_copy_only=False), dtype=bool)
            self._answers[memo] = values
        return self.facts.per_value(index, True, values)

    def equals(self, name: str, value: str) -> np.ndarray:
        key = (name, value)
        if key not in self._equal:
            self._equal[key] = self._equals(name, value)
        return self._equal[key]

    def _equals(self, name: str, value: str) -> np.ndarray:
        text = self.text(name)
        if text is None:
            return self._false
        upper = value.upper()
        index = self.index[name]
        if self.facts.has_dictionary(index, trimmed=True):
            return self._on_values(name, ("equals", upper), lambda values: pc.equal(pc.utf8_upper(values), upper))
        if upper.isascii() and not set(upper) & {"I", "S"}:
            # only ASCII text upper-cases to such a value (the non-ASCII letters whose upper case is ASCII are the
            # dotless i and the long s), so only cells of its length can equal it
            candidates = np.flatnonzero(self.facts.text(index, trimmed=True)[1] == len(upper))
        else:
            candidates = np.arange(self.n)
        out = np.zeros(self.n, dtype=bool)
        if len(candidates):
            picked = text.take(pa.array(candidates)) if len(candidates) < self.n else text
            same = pc.equal(pc.utf8_upper(picked), upper).to_numpy(zero_copy_only=False)
            out[candidates] = np.asarray(same, dtype=bool)
        return out

    def required(self, name: str, when: np.ndarray | None = None, why: str = "") -> None:
        rows = ~self.has(name) if when is None else when & ~self.has(name)
        self.flag(rows, "required_value", f"{name} is required" + (f" {why}" if why else ""), name)

    def number(self, name: str, when: np.ndarray | None = None) -> None:
        bad = self.number_bad(name)
        if when is not None:
            bad = bad & when
        self.flag(bad, "invalid_number", number_detail(name), name, raw=True)

    def number_bad(self, name: str) -> np.ndarray:
        """Non-empty cells that are not a positive plain number (CMS's pattern: digits with at most one point, at
        least one digit; RE2's \\d is ASCII)."""
        if name not in self.index:
            return self._none
        has = self.has(name)
        if not has.any():
            return self._none
        plain, value = self.facts.numbers(self.index[name], trimmed=True)
        return has & ~(plain & (value > 0))

    def count(self, name: str) -> None:
        self.flag(self.count_bad(name), "invalid_count", count_detail(name), name, raw=True)

    def count_bad(self, name: str) -> np.ndarray:
        if name not in self.index:
            return self._none
        has = self.has(name)
        if not has.any():
            return self._none
        ok = self._on_values(name, ("count",), lambda values: pc.match_substring_regex(values, _COUNT))
        ok |= self.equals(name, "1 THROUGH 10")
        return has & ~ok

    def enum(self, name: str, allowed, rule: str, when: np.ndarray | None = None, lower: bool = False) -> None:
        if name not in self.index:
            return
        values = _upper_values(allowed)
        self.flag(self.enum_bad(name, values, when), rule, enum_detail(name, values, lower), name, raw=True)

    def enum_bad(self, name: str, values: pa.Array, when: np.ndarray | None = None) -> np.ndarray:
        """Non-empty cells (where ``when``) that are none of ``values`` (upper case) as written, in lower case or
        upper-cased."""
        if name not in self.index:
            return self._none
        has = self.has(name)
        look = has if when is None else has & when
        if not look.any():
            return self._none
        listed = values.to_pylist()

        def known(cells: pa.Array) -> pa.Array:
            # as written (upper, lower or as listed), else upper-cased
            spellings = pa.array(sorted({v for a in listed for v in (a, a.lower(), a.upper())}))
            return pc.or_(pc.is_in(cells, value_set=spellings), pc.is_in(pc.utf8_upper(cells), value_set=values))

        return look & ~self._on_values(name, ("enum", tuple(listed)), known)

    def has_each(self, names: list[str]) -> np.ndarray:
        """:meth:`has` of each column of ``names``: [column, row]."""
        return np.stack([self.has(name) for name in names])

    def equals_each(self, names: list[str], value: str) -> np.ndarray:
        return np.stack([self.equals(name, value) for name in names])

    def flag(
        self,
        rows: np.ndarray,
        rule: str,
        detail: str,
        column: str,
        *,
        raw: bool = False,
        severity: str = SEVERITY_ERROR,
    ) -> None:
        if not rows.any():
            return
        where = np.flatnonzero(rows)
        position = self.index.get(column)
        suffix = f" column {position + 1}" if position is not None else ""
        text = self.text(column) if raw else None  # None too when the column is absent
        values = text.take(pa.array(where)).to_pylist() if text is not None else [None] * len(where)
        self.problems += [
            Problem(f"line {line}{suffix}", severity, rule, detail, value)
            for line, value in zip(self.lines[where].tolist(), values)
        ]


def _same_detail(detail: str, name: str) -> str:
    return detail


def number_detail(name: str) -> str:
    return f"{name} must be a positive number (digits and a decimal point only)"


def count_detail(name: str) -> str:
    return f"{name} must be 0, '1 through 10' or a whole number of 11 or more"


def enum_detail(name: str, values: pa.Array, lower: bool) -> str:
    shown = ", ".join(a.lower() if lower else a for a in values.to_pylist())
    return f"{name} is not one of the CMS values ({_short(shown)})"


def _upper_values(allowed) -> pa.Array:
    return pa.array([a.upper() for a in allowed]) if not isinstance(allowed, pa.Array) else allowed


class _PerGroup:
    """Rules of the payer/plan groups (one group in a tall file, one per payer and plan in a wide one), evaluated
    for every group at once ([group, row] masks) and flagged as the rules would be one group after the other:
    group by group, in each group the rules in the order they were added. Nothing to flag (a valid file): one
    ``any`` per rule instead of one per rule and group."""

    def __init__(self, t: _Table) -> None:
        self.t = t
        self.rules: list[tuple[np.ndarray, str, Callable[[str], str], list[str], bool, str]] = []

    def flag(
        self,
        rows: np.ndarray,
        rule: str,
        detail: Callable[[str], str],
        names: list[str],
        *,
        raw: bool = False,
        severity: str = SEVERITY_ERROR,
    ) -> None:
        """``rows``: [group, row] (``names``: the column of each group) -- ``detail`` words a problem from the
        group's column name."""
        self.rules.append((rows, rule, detail, names, raw, severity))

    def required(self, names: list[str], when: np.ndarray, why: str) -> None:
        self.flag(
            when & ~self.t.has_each(names),
            "required_value",
            lambda name: f"{name} is required" + (f" {why}" if why else ""),
            names,
        )

    def number(self, names: list[str]) -> None:
        self.flag(
            np.stack([self.t.number_bad(name) for name in names]), "invalid_number", number_detail, names, raw=True
        )

    def count(self, names: list[str]) -> None:
        self.flag(np.stack([self.t.count_bad(name) for name in names]), "invalid_count", count_detail, names, raw=True)

    def enum(self, names: list[str], allowed, rule: str, lower: bool = False) -> None:
        values = _upper_values(allowed)
        bad = np.stack([self.t.enum_bad(name, values) for name in names])
        self.flag(bad, rule, lambda name: enum_detail(name, values, lower), names, raw=True)

    def emit(self) -> None:
        if not any(rows.any() for rows, *_ in self.rules):
            return
        groups = max(len(names) for *_, names, _, _ in self.rules)
        for g in range(groups):
            for rows, rule, detail, names, raw, severity in self.rules:
                if g < len(names) and rows[g].any():
                    name = names[g]
                    self.t.flag(rows[g], rule, detail(name), name, raw=raw, severity=severity)
