"""Check a JSON price-transparency file against CMS's published JSON Schema, streaming.

CMS decides whether a hospital JSON file (45 CFR 180, schemas v2.0.0-v3.0.0) or a TiC file (in-network rates,
table of contents, allowed amounts; schemas v1.6.2 and v2.2.0) is valid with its JSON Schema: the schema documents
are copied verbatim into ``data/cms_schemas/`` (provenance beside them) and applied with :mod:`jsonschema`.

Files can be many GB, so the document is never held whole: the root is validated with only the first element of
each big array in place (so ``minItems`` and the element's own rules are checked in context), and every further
element is validated on its own against the array's item schema. Each broken rule is one ``error`` problem whose
location is the JSON path of the value (``in_network[12].negotiated_rates[0]``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import ijson

from benchmark import config, lean_imports
from benchmark.errors import ParameterError
from benchmark.ingest.json_events import ByteReader, parse, skip_bom, whole_value
from benchmark.normalize.hospital_units import SEVERITY_ERROR, SEVERITY_WARNING, Problem

if TYPE_CHECKING:
    import jsonschema

SCHEMA_DIR = config.DATA_DIR / "cms_schemas"
HOSPITAL_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.2.1", "3.0.0")
TIC_VERSIONS = ("1.6.2", "2.2.0")


# The big arrays of each kind of file: streamed element by element.
ARRAYS = {
    "hospital": ("standard_charge_information", "modifier_information"),
    "in-network-rates": ("in_network", "provider_references"),
    "table-of-contents": ("reporting_structure",),
    "allowed-amounts": ("out_of_network",),
    "provider-reference": ("provider_groups",),
}


@cache
def load_schema(kind: str, version: str) -> dict[str, Any]:
    """A CMS schema document: ``kind`` "hospital" or a TiC schema name, ``version`` one of the versions kept."""
    if kind == "hospital":
        path = SCHEMA_DIR / "hospital" / f"v{version}.json"
    else:
        path = SCHEMA_DIR / "tic" / f"v{version}" / f"{kind}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _validators(kind: str, version: str) -> tuple[jsonschema.Draft7Validator, dict[str, jsonschema.Draft7Validator]]:
    # lazy: start-up time (importing jsonschema costs ~0.3 s of CPU, in every process that imports the readers, e.g.
    # each report's CLI and kernel, although only a CMS JSON check uses it); without rfc3987_syntax (lean_imports)
    draft7: type[jsonschema.Draft7Validator] = lean_imports.import_jsonschema().Draft7Validator

    schema = load_schema(kind, version)
    items: dict[str, jsonschema.Draft7Validator] = {}
    for name in ARRAYS[kind]:
        item = schema.get("properties", {}).get(name, {}).get("items")
        if item is not None:
            sub = {**item, "definitions": schema.get("definitions", {})}
            items[name] = draft7(sub, format_checker=draft7.FORMAT_CHECKER)
    return draft7(schema, format_checker=draft7.FORMAT_CHECKER), items


def check_document(
    stream: ByteReader, kind: str, version: str, *, on_element=None
) -> tuple[dict[str, Any], list[Problem]]:
    """Every schema violation of the JSON document in ``stream``; also the root (big arrays cut to one element).

    ``on_element(array, index, value)`` is called for every element of a big array (e.g. for alerts).
    Raises :class:`ValueError` for text that is not JSON.
    """
    root_validator, item_validators = _validators(kind, version)
    problems: list[Problem] = []
    root: dict[str, Any] = {}
    for array, index, value in _stream(stream, ARRAYS[kind]):
        if array is None:
            root[index] = value
            continue
        if on_element is not None:
            on_element(array, index, value)
        if index == 0:
            root[array] = [value]
        elif array in item_validators:
            problems += _errors(item_validators[array], value, f"{array}[{index}]")
    problems = _errors(root_validator, root, "") + problems
    return root, problems


def _errors(validator: jsonschema.Draft7Validator, value: Any, base: str) -> list[Problem]:
    found = []
    for error in validator.iter_errors(value):
        found.append(
            Problem(
                _path(base, error.absolute_path) or "root",
                SEVERITY_ERROR,
                "schema",
                _message(error),
                _raw(error.instance),
            )
        )
    return found


def _path(base: str, parts) -> str:
    text = base
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        reasons = sorted({e.message for e in error.context})[:3]
        return f"matches none of the allowed forms ({'; '.join(_short(r) for r in reasons)})"
    if error.validator in ("if", "then"):
        return "breaks a conditional rule: " + _short(error.message)
    return _short(error.message)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _raw(value: Any) -> str | None:
    if isinstance(value, (dict, list)):
        return None
    return None if value is None else str(value)[:200]


def _stream(stream: ByteReader, arrays: tuple[str, ...]) -> Iterator[tuple[str | None, Any, Any]]:
    """(None, key, value) for each root field that is not a big array; (array, index, element) for the elements of
    the big arrays. Numbers are int/float (as JSON Schema types them)."""
    events = parse(stream, use_float=True)
    try:
        first = next(events, None)
    except ijson.JSONError as error:
        raise ValueError(f"invalid JSON ({' '.join(str(error).split())})") from error
    if first is None:
        raise ValueError("the file is empty")
    if first[1] != "start_map":
        raise ValueError(f"the JSON root is a {first[1].removeprefix('start_')}, not an object")
    item_prefixes = {f"{a}.item": a for a in arrays}
    index: dict[str, int] = {}
    try:
        for prefix, event, value in events:
            if prefix in item_prefixes and event not in ("end_array",):
                array = item_prefixes[prefix]
                position = index.get(array, 0)
                index[array] = position + 1
                if event in ("start_map", "start_array"):
                    yield array, position, whole_value(event, value, events)
                else:
                    yield array, position, value
            elif prefix in arrays:
                if event == "start_array":
                    index.setdefault(prefix, 0)
                elif event == "start_map":  # not an array: validated at the root
                    yield None, prefix, whole_value(event, value, events)
                elif event not in ("end_array", "end_map", "map_key"):
                    yield None, prefix, value
            elif prefix and "." not in prefix and event != "map_key":
                if event in ("start_map", "start_array"):
                    yield None, prefix, whole_value(event, value, events)
                elif event not in ("end_map", "end_array"):
                    yield None, prefix, value
    except ijson.JSONError as error:
        raise ValueError(f"invalid JSON ({' '.join(str(error).split())})") from error
    for array in arrays:
        if array in index and index[array] == 0:
            yield None, array, []


def root_value(stream: ByteReader, name: str) -> Any:
    """The value of root key ``name`` when it is a string or number (None when absent), reading only as far as it."""
    try:
        for prefix, event, value in parse(stream, use_float=True):
            if prefix == name and event in ("string", "number", "integer", "double"):
                return value
            if prefix == "" and event == "end_map":
                return None
    except ijson.JSONError as error:
        raise ValueError(f"invalid JSON ({' '.join(str(error).split())})") from error
    return None


# ----------------------------------------------------------------------------------------------------------------
# TiC files


def tic_kind(path: Path) -> str | None:
    """Which CMS TiC schema a JSON file follows, from its first bytes (None when it is none of them)."""
    with _open(path) as stream:
        head = stream.read(1 << 16)
    if b'"in_network"' in head:
        return "in-network-rates"
    if b'"reporting_structure"' in head:
        return "table-of-contents"
    if b'"out_of_network"' in head:
        return "allowed-amounts"
    if b'"provider_groups"' in head:
        return "provider-reference"
    if b'"reporting_entity_name"' in head:
        return "in-network-rates"
    return None


def tic_version(declared: Any, override: str | None = None) -> tuple[str, Problem | None]:
    """The TiC schema version kept for a declared ``version``: 1.x -> 1.6.2 (the last 1.x schema), 2.x -> 2.2.0."""
    text = str(override if override else declared if declared is not None else "").strip().removeprefix("v")
    major = text.split(".", 1)[0]
    if major == "1":
        return "1.6.2", None
    if major == "2":
        return "2.2.0", None
    if override:
        raise ParameterError(f"--cms-version {override!r}: TiC schemas kept are {', '.join(TIC_VERSIONS)}")
    return "2.2.0", Problem(
        "version",
        SEVERITY_WARNING,
        "version_unknown",
        f"version {declared!r} is not a TiC schema version; checked against 2.2.0",
        None if declared is None else str(declared),
    )


def check_tic_file(path: Path, kind: str, override: str | None = None) -> tuple[str, list[Problem]]:
    """(the schema version used, every schema violation) of a TiC JSON file (plain or gzip)."""
    try:
        with _open(path) as stream:
            declared = root_value(skip_bom(stream), "version")
    except (ValueError, OSError, EOFError) as error:
        return override or "?", [Problem("file", SEVERITY_ERROR, "invalid_json", str(error))]
    version, note = tic_version(declared, override)
    if kind == "provider-reference" and version != "1.6.2":
        return version, [
            Problem(
                "file",
                SEVERITY_ERROR,
                "schema",
                "a stand-alone provider-reference file, which TiC schema 2.x no longer has",
            )
        ]
    try:
        with _open(path) as stream:
            _, problems = check_document(skip_bom(stream), kind, version)
    except (ValueError, OSError, EOFError) as error:
        return version, [Problem("file", SEVERITY_ERROR, "invalid_json", str(error))]
    return version, ([note] if note else []) + problems


def _open(path: Path) -> BinaryIO:
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle
