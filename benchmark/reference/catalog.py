"""The billing-code catalog: plain-language descriptions of codes and a modifier reference table.

Both live as YAML in ``config.CATALOG_DIR`` (``codes.yaml``, ``modifiers.yaml``; provenance in its ``README.md``).
The text is written by project contributors in their own words: AMA CPT descriptors are copyrighted and never stored.

Every load is validated twice: first entry by entry while reading the YAML (quoted string codes, required fields
present and non-blank, no unknown or duplicate keys, no duplicate codes, related codes known, the authorship note
present), then the resulting table against :class:`CodeCatalogSchema` / :class:`ModifierSchema`. Any problem raises
:class:`CatalogError` naming the file and the entry.

Public API::

    load_codes(path=None) -> DataFrame        # one row per code, list fields joined with ", "
    get_code(code, path=None) -> CodeInfo     # KeyError for a code that is not catalogued
    load_modifiers(path=None) -> DataFrame    # one row per modifier
    get_modifier(modifier, path=None) -> ModifierInfo
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Series

import benchmark.lean_imports  # noqa: F401  (before any schema is built: pandera's types without dask)
from benchmark import config
from benchmark.errors import InputFileError
from benchmark.schema import check_built

CODES_FILE_NAME = "codes.yaml"
MODIFIERS_FILE_NAME = "modifiers.yaml"

AUTHORSHIP_NOTE = "Written by payer-benchmark contributors from general clinical knowledge; not the AMA CPT descriptor"
MODIFIER_AUTHORSHIP_NOTE = (
    "Written by payer-benchmark contributors from general coding knowledge; "
    "not the AMA CPT or CMS HCPCS modifier descriptor"
)

CODE_TYPES = ["CPT", "HCPCS"]
# "unverified" until checked against an OPPS Addendum B file; "yes"/"no" require a non-null opps_status.
INPATIENT_ONLY_VALUES = ["unverified", "yes", "no"]
MODIFIER_TYPES = ["CPT", "HCPCS Level II"]
# PPRRVU column(s) that govern a modifier's payment.
PFS_INDICATORS = ["MULT PROC", "BILAT SURG", "ASST SURG", "CO-SURG", "TEAM SURG", "PRE OP/INTRA OP/POST OP", "PCTC IND"]

_CODE_PATTERN = r"^[0-9A-Z]{5}$"
_MODIFIER_PATTERN = r"^[0-9A-Z]{2}$"
_NON_BLANK = r"(?s).*\S"  # pandera's str_matches anchors at the start only


class CatalogError(InputFileError):
    """A catalog YAML file is malformed or breaks a catalog rule."""


# --------------------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a statement comes from (or, for the authorship entry, who wrote it)."""

    title: str
    url: str | None = None
    note: str | None = None
    effective: str | None = None

    def render(self) -> str:
        return f"{self.title} <{self.url}>" if self.url else self.title


@dataclass(frozen=True)
class CodeInfo:
    """One catalogued billing code, as written in ``codes.yaml``."""

    code: str
    code_type: str
    short_label: str
    description: str
    family: str
    service_type: str
    typical_site_of_service: str
    inpatient_only: str
    opps_status: str | None
    opps_status_note: str
    clinical_context: str
    related_codes: tuple[str, ...]
    sources: tuple[Source, ...]
    authorship_note: str


@dataclass(frozen=True)
class ModifierInfo:
    """One modifier of the reference table, as written in ``modifiers.yaml``."""

    modifier: str
    modifier_type: str
    name: str
    when_to_use: str
    medicare_payment_rule: str
    pfs_indicator: str | None
    medicare_payment_factor: float | None
    sources: tuple[Source, ...]
    authorship_note: str


# --------------------------------------------------------------------------------------------------------------------
# Table contracts
# --------------------------------------------------------------------------------------------------------------------


class CodeCatalogSchema(pa.DataFrameModel):
    """One catalogued billing code per row; list fields joined (related codes with ", ", sources with "; ")."""

    code: Series[str] = pa.Field(str_matches=_CODE_PATTERN, unique=True)
    code_type: Series[str] = pa.Field(isin=CODE_TYPES)
    short_label: Series[str] = pa.Field(str_matches=_NON_BLANK)
    description: Series[str] = pa.Field(str_matches=_NON_BLANK)
    family: Series[str] = pa.Field(str_matches=_NON_BLANK)
    service_type: Series[str] = pa.Field(str_matches=_NON_BLANK)
    typical_site_of_service: Series[str] = pa.Field(str_matches=_NON_BLANK)
    inpatient_only: Series[str] = pa.Field(isin=INPATIENT_ONLY_VALUES)
    opps_status: Series[str] = pa.Field(nullable=True, description="null until verified from OPPS Addendum B")
    opps_status_note: Series[str] = pa.Field(str_matches=_NON_BLANK)
    clinical_context: Series[str] = pa.Field(str_matches=_NON_BLANK)
    related_codes: Series[str] = pa.Field(description='codes joined with ", "; empty string when none')
    sources: Series[str] = pa.Field(str_matches=_NON_BLANK, description='"title <url>" joined with "; "')
    authorship_note: Series[str] = pa.Field(isin=[AUTHORSHIP_NOTE])

    class Config:
        strict = True
        coerce = True
        ordered = True


class ModifierSchema(pa.DataFrameModel):
    """One modifier per row with its general Medicare payment rule."""

    modifier: Series[str] = pa.Field(str_matches=_MODIFIER_PATTERN, unique=True)
    modifier_type: Series[str] = pa.Field(isin=MODIFIER_TYPES)
    name: Series[str] = pa.Field(str_matches=_NON_BLANK)
    when_to_use: Series[str] = pa.Field(str_matches=_NON_BLANK)
    medicare_payment_rule: Series[str] = pa.Field(str_matches=_NON_BLANK)
    pfs_indicator: Series[str] = pa.Field(nullable=True, isin=PFS_INDICATORS)
    medicare_payment_factor: Series[float] = pa.Field(
        nullable=True, gt=0, le=2, description="fixed multiplier of the fee-schedule amount; null when none"
    )
    sources: Series[str] = pa.Field(str_matches=_NON_BLANK, description='"title <url>" joined with "; "')
    authorship_note: Series[str] = pa.Field(isin=[MODIFIER_AUTHORSHIP_NOTE])

    class Config:
        strict = True
        coerce = True
        ordered = True


# --------------------------------------------------------------------------------------------------------------------
# YAML reading
# --------------------------------------------------------------------------------------------------------------------


# libyaml's parser when PyYAML was built with it (the same safe constructor and resolver, several times faster)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Safe loader that refuses a mapping with the same key twice (PyYAML silently keeps the last one)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise CatalogError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _read_entries(path: Path, top_key: str) -> list[Any]:
    if not path.is_file():
        raise CatalogError(f"{path}: catalog file not found")
    try:
        with path.open(encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_UniqueKeyLoader)
    except CatalogError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or set(document) != {top_key}:
        raise CatalogError(f"{path}: expected a mapping with the single top-level key {top_key!r}")
    entries = document[top_key]
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: {top_key!r} must be a non-empty list")
    return entries


class _EntryReader:
    """Typed field access for one YAML entry, with errors that name the file and the entry."""

    def __init__(self, path: Path, index: int, entry: Any, key_field: str, allowed: set[str]) -> None:
        self.where = f"{path}: entry #{index + 1}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{self.where} is not a mapping")
        self.entry = entry
        key = entry.get(key_field)
        if isinstance(key, str) and key.strip():
            self.where += f" ({key_field} {key.strip()!r})"
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            raise CatalogError(f"{self.where}: unknown field(s) {unknown}")
        missing = sorted(allowed - set(map(str, entry)))
        if missing:
            raise CatalogError(f"{self.where}: missing field(s) {missing}")

    def text(self, name: str) -> str:
        value = self.entry[name]
        if not isinstance(value, str):
            raise CatalogError(
                f"{self.where}: {name} must be a string (quote it in the YAML), got {type(value).__name__} {value!r}"
            )
        value = value.strip()
        if not value:
            raise CatalogError(f"{self.where}: {name} is empty")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.entry[name] is None else self.text(name)

    def optional_number(self, name: str) -> float | None:
        value = self.entry[name]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CatalogError(f"{self.where}: {name} must be a number or null, got {value!r}")
        return float(value)

    def code_list(self, name: str) -> tuple[str, ...]:
        value = self.entry[name]
        if not isinstance(value, list):
            raise CatalogError(f"{self.where}: {name} must be a list")
        codes = []
        for item in value:
            if not isinstance(item, str) or not re.fullmatch(_CODE_PATTERN, item.strip()):
                raise CatalogError(f"{self.where}: {name} item {item!r} is not a quoted 5-character code")
            codes.append(item.strip())
        if len(set(codes)) != len(codes):
            raise CatalogError(f"{self.where}: {name} lists a code twice")
        return tuple(codes)

    def sources(self, name: str = "sources") -> tuple[Source, ...]:
        value = self.entry[name]
        if not isinstance(value, list) or not value:
            raise CatalogError(f"{self.where}: {name} must be a non-empty list")
        allowed = {f.name for f in fields(Source)}
        out = []
        for item in value:
            if not isinstance(item, dict):
                raise CatalogError(f"{self.where}: every source must be a mapping, got {item!r}")
            unknown = sorted(set(map(str, item)) - allowed)
            if unknown:
                raise CatalogError(f"{self.where}: source has unknown field(s) {unknown}")
            title = item.get("title")
            if not isinstance(title, str) or not title.strip():
                raise CatalogError(f"{self.where}: every source needs a non-empty title")
            url = item.get("url")
            if url is not None and (not isinstance(url, str) or not re.match(r"^https?://\S+$", url.strip())):
                raise CatalogError(f"{self.where}: source url must be an http(s) address or null, got {url!r}")
            note = item.get("note")
            if note is not None and (not isinstance(note, str) or not note.strip()):
                raise CatalogError(f"{self.where}: source note must be non-empty text or null")
            effective = item.get("effective")
            if isinstance(effective, (dt.date, dt.datetime)):
                effective = effective.isoformat()
            elif effective is not None and not isinstance(effective, str):
                raise CatalogError(f"{self.where}: source effective must be a date string or null")
            out.append(
                Source(
                    title=title.strip(),
                    url=url.strip() if url else None,
                    note=note.strip() if note else None,
                    effective=effective,
                )
            )
        return tuple(out)

    def authorship(self, sources: tuple[Source, ...], expected: str) -> str:
        if not any(source.note == expected for source in sources):
            raise CatalogError(f"{self.where}: sources must include the authorship note {expected!r}")
        return expected


_CODE_FIELDS = {f.name for f in fields(CodeInfo)} - {"authorship_note"}
_MODIFIER_FIELDS = {f.name for f in fields(ModifierInfo)} - {"authorship_note"}


def _parse_code(path: Path, index: int, entry: Any) -> CodeInfo:
    reader = _EntryReader(path, index, entry, "code", _CODE_FIELDS)
    code = reader.text("code")
    if not re.fullmatch(_CODE_PATTERN, code):
        raise CatalogError(f"{reader.where}: code {code!r} is not a 5-character code")
    sources = reader.sources()
    info = CodeInfo(
        code=code,
        code_type=reader.text("code_type"),
        short_label=reader.text("short_label"),
        description=reader.text("description"),
        family=reader.text("family"),
        service_type=reader.text("service_type"),
        typical_site_of_service=reader.text("typical_site_of_service"),
        inpatient_only=reader.text("inpatient_only"),
        opps_status=reader.optional_text("opps_status"),
        opps_status_note=reader.text("opps_status_note"),
        clinical_context=reader.text("clinical_context"),
        related_codes=reader.code_list("related_codes"),
        sources=sources,
        authorship_note=reader.authorship(sources, AUTHORSHIP_NOTE),
    )
    if info.code in info.related_codes:
        raise CatalogError(f"{reader.where}: related_codes lists the code itself")
    if info.inpatient_only != "unverified" and info.opps_status is None:
        raise CatalogError(f"{reader.where}: inpatient_only may only be claimed with a verified opps_status")
    return info


def _parse_modifier(path: Path, index: int, entry: Any) -> ModifierInfo:
    reader = _EntryReader(path, index, entry, "modifier", _MODIFIER_FIELDS)
    modifier = reader.text("modifier").upper()
    if not re.fullmatch(_MODIFIER_PATTERN, modifier):
        raise CatalogError(f"{reader.where}: modifier {modifier!r} is not a 2-character modifier")
    sources = reader.sources()
    return ModifierInfo(
        modifier=modifier,
        modifier_type=reader.text("modifier_type"),
        name=reader.text("name"),
        when_to_use=reader.text("when_to_use"),
        medicare_payment_rule=reader.text("medicare_payment_rule"),
        pfs_indicator=reader.optional_text("pfs_indicator"),
        medicare_payment_factor=reader.optional_number("medicare_payment_factor"),
        sources=sources,
        authorship_note=reader.authorship(sources, MODIFIER_AUTHORSHIP_NOTE),
    )


def _file_key(path: Path | str | None, default_name: str) -> tuple[str, int, int]:
    resolved = Path(path) if path is not None else config.CATALOG_DIR / default_name
    resolved = resolved.resolve()
    try:
        stat = resolved.stat()
    except FileNotFoundError:
        raise CatalogError(f"{resolved}: catalog file not found") from None
    return str(resolved), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=16)
def _code_index(path: str, _mtime_ns: int, _size: int) -> dict[str, CodeInfo]:
    """Codes of one file version (the cache key includes mtime and size, so an edited file is re-read)."""
    file = Path(path)
    index: dict[str, CodeInfo] = {}
    for i, entry in enumerate(_read_entries(file, "codes")):
        info = _parse_code(file, i, entry)
        if info.code in index:
            raise CatalogError(f"{file}: code {info.code!r} appears more than once")
        index[info.code] = info
    for info in index.values():
        unknown = [c for c in info.related_codes if c not in index]
        if unknown:
            raise CatalogError(f"{file}: code {info.code!r} lists related code(s) not in the catalog: {unknown}")
    return index


@lru_cache(maxsize=16)
def _modifier_index(path: str, _mtime_ns: int, _size: int) -> dict[str, ModifierInfo]:
    file = Path(path)
    index: dict[str, ModifierInfo] = {}
    for i, entry in enumerate(_read_entries(file, "modifiers")):
        info = _parse_modifier(file, i, entry)
        if info.modifier in index:
            raise CatalogError(f"{file}: modifier {info.modifier!r} appears more than once")
        index[info.modifier] = info
    return index


def _validate(frame: pd.DataFrame, schema: type[pa.DataFrameModel], path: str) -> pd.DataFrame:
    try:
        return check_built(schema, frame)
    except (SchemaError, SchemaErrors) as exc:
        raise CatalogError(f"{path}: catalog table fails {schema.__name__}:\n{exc}") from exc


def _join_sources(sources: tuple[Source, ...]) -> str:
    return "; ".join(source.render() for source in sources)


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def load_codes(path: Path | str | None = None) -> pd.DataFrame:
    """The code catalog, one row per code (validated by :class:`CodeCatalogSchema`).

    ``path`` defaults to ``config.CATALOG_DIR / "codes.yaml"``. Raises :class:`CatalogError` on any problem.
    """
    key = _file_key(path, CODES_FILE_NAME)
    rows = []
    for info in _code_index(*key).values():
        row = asdict(info)
        row["related_codes"] = ", ".join(info.related_codes)
        row["sources"] = _join_sources(info.sources)
        rows.append(row)
    columns = list(CodeCatalogSchema.to_schema().columns)
    frame = pd.DataFrame(rows, columns=columns)
    return _validate(frame, CodeCatalogSchema, key[0])


def get_code(code: str, path: Path | str | None = None) -> CodeInfo:
    """Everything the catalog says about one code.

    Raises ``KeyError`` (callers render :data:`benchmark.config.NOT_AVAILABLE`) when the code is not catalogued.
    """
    if not isinstance(code, str):
        raise TypeError(f"billing codes are strings (leading zeros matter), got {type(code).__name__} {code!r}")
    key = _file_key(path, CODES_FILE_NAME)
    index = _code_index(*key)
    wanted = code.strip().upper()
    if wanted not in index:
        raise KeyError(
            f"billing code {code!r} is not in the code catalog ({key[0]}); catalogued codes: {', '.join(sorted(index))}"
        )
    return index[wanted]


def load_modifiers(path: Path | str | None = None) -> pd.DataFrame:
    """The modifier reference table, one row per modifier (validated by :class:`ModifierSchema`).

    ``path`` defaults to ``config.CATALOG_DIR / "modifiers.yaml"``. Raises :class:`CatalogError` on any problem.
    """
    key = _file_key(path, MODIFIERS_FILE_NAME)
    rows = []
    for info in _modifier_index(*key).values():
        row = asdict(info)
        row["sources"] = _join_sources(info.sources)
        rows.append(row)
    columns = list(ModifierSchema.to_schema().columns)
    frame = pd.DataFrame(rows, columns=columns)
    frame["medicare_payment_factor"] = frame["medicare_payment_factor"].astype("float64")
    return _validate(frame, ModifierSchema, key[0])


def get_modifier(modifier: str, path: Path | str | None = None) -> ModifierInfo:
    """One modifier of the reference table; ``KeyError`` when it is not listed."""
    if not isinstance(modifier, str):
        raise TypeError(f"modifiers are strings, got {type(modifier).__name__} {modifier!r}")
    key = _file_key(path, MODIFIERS_FILE_NAME)
    index = _modifier_index(*key)
    wanted = modifier.strip().upper()
    if wanted not in index:
        raise KeyError(f"modifier {modifier!r} is not in the modifier table ({key[0]}); listed: {', '.join(index)}")
    return index[wanted]
