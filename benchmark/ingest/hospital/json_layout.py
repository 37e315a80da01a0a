"""Read CMS hospital standard-charge JSON files (schemas v2.0-v2.2.1 and v3.0) into units.

Layout (FORMATS.md section 2.2)
    The root holds the general data elements (hospital_name, last_updated_on, version, location_name[] -- v2:
    hospital_location[] --, hospital_address[], license_information {license_number, state}, type_2_npi[] (v3),
    attestation (v3) / affirmation (v2)), ``standard_charge_information[]`` and ``modifier_information[]``. Each
    item has code_information[] {code, type} and standard_charges[] {setting, gross_charge, discounted_cash, minimum,
    maximum, modifier_code[] (v3), billing_class, payers_information[]}; each payers_information entry has payer_name,
    plan_name, methodology, standard_charge_dollar / _percentage / _algorithm, additional_payer_notes and
    estimated_amount (v2) or median_amount, 10th_percentile, 90th_percentile, count (v3).

The file is streamed (ijson, one item in memory at a time), so the root fields may come before or after the
items. Numbers keep their published text (``Decimal``), so ``20000`` stays ``"20000"`` in ``amount_raw``.

Units and accounting mirror the CSV templates: one unit per (item, standard_charges entry, payers_information entry
with a value, code). A standard_charges entry without any payer entry with a value is one unit, filtered out (no
negotiated rate); a payer entry without any value is one unit, filtered out; every modifier_payer_information
entry is one unit, filtered out (a modifier describes a payment adjustment, not a rate). Locators are JSON paths:
``standard_charge_information[3].standard_charges[0].payers_information[1]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson
import numpy as np

from benchmark.ingest.hospital.csv_layout import US_STATES, WIDE_PREFIX_FIELDS
from benchmark.ingest.json_events import parse, skip_bom, whole_value
from benchmark.normalize.hospital_units import (
    PAYER_FIELDS,
    SEVERITY_WARNING,
    UNIT_COLUMNS,
    HospitalFileError,
    HospitalMeta,
    Sink,
)

_BATCH_UNITS = 50_000
# payers_information keys -> unit fields; the estimate / percentile / count / notes keys are named as in the CSV
# template's wide headers.
_PAYER_KEYS = {
    "methodology": "methodology",
    "standard_charge_dollar": "dollar",
    "standard_charge_percentage": "percentage",
    "standard_charge_algorithm": "algorithm",
    **WIDE_PREFIX_FIELDS,
}
# keys of a payers_information entry that are not values of a rate
_PAYER_NAMES = {"payer_name", "plan_name"}
# numeric elements (JSON numbers in every CMS schema): a JSON string there is read, with a warning
_NUMBER_KEYS = (
    "gross_charge",
    "discounted_cash",
    "minimum",
    "maximum",
    "standard_charge_dollar",
    "standard_charge_percentage",
    "estimated_amount",
    "median_amount",
    "10th_percentile",
    "90th_percentile",
)
_ITEMS = "standard_charge_information.item"
_MODIFIER_PAYERS = "modifier_information.item.modifier_payer_information.item"


def read_json(stream: BinaryIO, sink: Sink) -> str:
    """Read one hospital JSON document from ``stream`` into ``sink``; the layout's description."""
    reader = _JsonUnits(sink)
    root: dict[str, Any] = {}
    items = modifiers = 0
    saw_items = False
    for kind, value in _events(skip_bom(stream)):
        if kind == "item":
            reader.version = str(root.get("version", ""))
            reader.item(items, value)
            items += 1
        elif kind == "modifier_payer":
            modifiers += 1
            sink.filtered(1)
        elif kind == "items_array":
            saw_items = True
        else:
            root[kind] = value
    reader.flush()
    version = str(root.get("version", "")).strip().removeprefix("v")
    if reader.unrecognized and version[:1].isdigit() and int(version.split(".")[0]) < 2:
        raise HospitalFileError(
            f"a pre-2.0 hospital JSON (version {root.get('version')!r}): its payers_information entries hold "
            f"{', '.join(sorted(reader.unrecognized))} instead of the CMS v2.0+ elements (standard_charge_dollar, "
            "standard_charge_percentage, standard_charge_algorithm, methodology); this layout is not supported"
        )
    if not saw_items:
        raise HospitalFileError(
            "the JSON root has no standard_charge_information array; keys seen: " + (", ".join(sorted(root)) or "none")
        )
    sink.meta = _meta(root, sink)
    version = sink.meta.version or "?"
    return (
        f"CMS hospital JSON v{version}: {items} standard_charge_information items, {modifiers} modifier payer entries"
    )


def _events(stream: Any) -> Iterator[tuple[str, Any]]:
    """("item", dict) per standard_charge_information item, ("modifier_payer", None) per modifier payer entry,
    ("items_array", None) once, and (root key, value) for each other root field."""
    parser = parse(stream)
    try:
        first = next(parser, None)
        if first is None:
            raise HospitalFileError("the file is empty")
        if first[1] != "start_map":
            raise HospitalFileError(f"the JSON root is a {first[1].removeprefix('start_')}, not an object")
        for prefix, event, value in parser:
            if prefix == _ITEMS and event == "start_map":
                yield "item", whole_value(event, value, parser)
            elif prefix == _MODIFIER_PAYERS and event == "start_map":
                yield "modifier_payer", None
            elif prefix == "standard_charge_information" and event == "start_array":
                yield "items_array", None
            elif "." not in prefix and prefix and prefix not in ("standard_charge_information", "modifier_information"):
                if event in ("start_map", "start_array"):
                    yield prefix, whole_value(event, value, parser)
                elif event not in ("map_key", "end_map", "end_array"):
                    yield prefix, value
    except ijson.JSONError as error:
        raise HospitalFileError(f"invalid JSON ({' '.join(str(error).split())})") from error
    except UnicodeDecodeError as error:
        raise HospitalFileError(f"text is not UTF-8 ({error})") from error


class _JsonUnits:
    """Turns items into unit rows (text values) and hands them to the sink in batches."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.rows: list[dict[str, object]] = []
        self.row_key = 0
        self.version = ""  # the root's version, when it came before the items
        self.unrecognized: set[str] = set()  # payer keys holding values that no CMS v2+ element name matches

    def item(self, index: int, item: Any) -> None:
        base = f"standard_charge_information[{index}]"
        if not isinstance(item, dict):
            self.sink.quarantine(base, "malformed_item", "an item that is not a JSON object", _text(item)[:200])
            return
        drug = item.get("drug_information")
        if not isinstance(drug, dict):
            drug = {}
        codes = [c for c in _as_list(item.get("code_information")) if isinstance(c, dict)]
        code_pairs = [(_text(c.get("code")), _text(c.get("type"))) for c in codes if _text(c.get("code"))]
        for j, charge in enumerate(_as_list(item.get("standard_charges"))):
            where = f"{base}.standard_charges[{j}]"
            self.row_key += 1
            if not isinstance(charge, dict):
                self.sink.quarantine(
                    where, "malformed_item", "a standard_charges entry that is not an object", _text(charge)[:200]
                )
                continue
            shared = {
                "modifiers_raw": "|".join(_text(m) for m in _as_list(charge.get("modifier_code")) if _text(m)),
                "setting_raw": _text(charge.get("setting")),
                "billing_class_raw": _text(charge.get("billing_class")),
                "gross_raw": _text(charge.get("gross_charge")),
                "cash_raw": _text(charge.get("discounted_cash")),
                "min_raw": _text(charge.get("minimum")),
                "max_raw": _text(charge.get("maximum")),
                "drug_unit_raw": _text(drug.get("unit")),
                "drug_type_raw": _text(drug.get("type")),
            }
            self._numbers_as_text(charge, where)
            payers = _as_list(charge.get("payers_information"))
            valued = []
            for k, payer in enumerate(payers):
                values = (
                    {field: _text(payer.get(key)) for key, field in _PAYER_KEYS.items()}
                    if isinstance(payer, dict)
                    else {}
                )
                if any(values.values()):
                    valued.append((k, payer, values))
                    self._numbers_as_text(payer, f"{where}.payers_information[{k}]")
                elif isinstance(payer, dict) and (other := self._other_values(payer)):
                    self.unrecognized |= set(other)
                    self.sink.quarantine(
                        f"{where}.payers_information[{k}]",
                        "unrecognized_payer_fields",
                        f"a payer entry whose values are under {', '.join(sorted(other))}, not CMS element names",
                        _text({key: payer[key] for key in other})[:200],
                    )
                else:
                    self.sink.filtered(1)  # a payer entry with no value at all
            if not valued and not payers:
                self.sink.filtered(1)  # gross / cash / min / max only: no negotiated rate
            for k, payer, values in valued:
                unit_base = {
                    "row_key": self.row_key,
                    "group": k,
                    "locator": f"{where}.payers_information[{k}]",
                    **shared,
                    "payer": _text(payer.get("payer_name")),
                    "plan": _text(payer.get("plan_name")),
                    **{name: values.get(name, "") for name in PAYER_FIELDS},
                }
                for code, code_type in code_pairs or [("", "")]:
                    self.rows.append({**unit_base, "code_raw": code, "code_type_raw": code_type})
        if len(self.rows) >= _BATCH_UNITS:
            self.flush()

    def _numbers_as_text(self, entry: dict[str, Any], where: str) -> None:
        for key in _NUMBER_KEYS:
            value = entry.get(key)
            if isinstance(value, str) and value.strip():
                self.sink.problem(
                    f"{where}.{key}",
                    SEVERITY_WARNING,
                    "number_from_text",
                    f"{key} is the JSON string {value!r}, not a number; read as its text",
                    value,
                )

    @staticmethod
    def _other_values(payer: dict[str, Any]) -> list[str]:
        """Keys of a payer entry that hold a value but are not CMS element names."""
        return [
            key for key, value in payer.items() if key not in _PAYER_KEYS and key not in _PAYER_NAMES and _text(value)
        ]

    def flush(self) -> None:
        if self.rows:
            columns = {
                name: np.array(
                    [row[name] for row in self.rows], dtype=np.int64 if name in ("row_key", "group") else object
                )
                for name in UNIT_COLUMNS
            }
            # the CMS conditional rules to check: v3 needs count, v2.2 estimated_amount, both min/max
            rules = {"min", "max"} | (
                {"count"} if self.version.startswith("3") else {"estimated"} if self.version.startswith("2") else set()
            )
            self.sink.units(columns, file_columns=frozenset(rules) if self.version else frozenset())
            self.rows = []


def _meta(root: dict[str, Any], sink: Sink) -> HospitalMeta:
    license_info = root.get("license_information")
    if not isinstance(license_info, dict):
        license_info = {}
    state = _text(license_info.get("state")).upper() or None
    if state not in US_STATES:
        state = None
    for required in ("hospital_name", "last_updated_on", "version"):
        if not _text(root.get(required)):
            sink.problem(required, SEVERITY_WARNING, "missing_general_value", f"{required} has no value")
    return HospitalMeta(
        name=_text(root.get("hospital_name")) or None,
        state=state,
        npis=_joined(root.get("type_2_npi")),
        location=_joined(root.get("location_name") or root.get("hospital_location")),
        address=_joined(root.get("hospital_address")),
        license=_text(license_info.get("license_number")) or None,
        last_updated_on=_text(root.get("last_updated_on")) or None,
        version=_text(root.get("version")) or None,
    )


def _joined(value: Any) -> str | None:
    parts = [_text(v) for v in _as_list(value)]
    return "|".join(p for p in parts if p) or None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A JSON value as the text it was published as ("" for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return str(value)
    return str(value).strip()
