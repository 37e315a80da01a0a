"""TiC table-of-contents files: the in-network files they list, with the plans of each.

``reporting_structure[].in_network_files[].location`` become sources, one per distinct location, each carrying
the plans (``reporting_plans``) of every structure that lists it. ``allowed_amount_file`` entries are not rate
files and are reported in :attr:`TableOfContents.skipped`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from benchmark.ingest.tic.scan import Batch, scan_document
from benchmark.sources.http import SourceError, is_url, redact
from benchmark.sources.limits import Limits
from benchmark.sources.source import PlanInfo, Source, as_source


@dataclass
class TocFile:
    """One in-network file a table of contents lists, with every plan that uses it."""

    location: str
    description: str | None
    plans: list[PlanInfo] = field(default_factory=list)
    problem: str | None = None  # why the entry is not read (it becomes a rejected file with this reason)


@dataclass
class TableOfContents:
    """What a table-of-contents file lists."""

    source: Source
    reporting_entity_name: str | None = None
    files: dict[str, TocFile] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # allowed-amount files and unusable entries, with the reason

    def sources(self) -> Iterator[Source]:
        for entry in self.files.values():
            yield Source(
                entry.location,
                plans=tuple(entry.plans),
                policy=self.source.policy,
                is_link=True,
                found_in=self.source.name,
                problem=entry.problem,
            )


class _Empty(msgspec.Struct, gc=False):
    pass


class _FileLocation(msgspec.Struct, gc=False):
    location: Any = None
    description: Any = None


class _Structure(msgspec.Struct, gc=False):
    reporting_plans: list[dict[str, Any]] = []
    in_network_files: list[_FileLocation] = []
    allowed_amount_file: _FileLocation | None = None


_STRUCTURES = msgspec.json.Decoder(list[_Structure])
_STRUCTURE = msgspec.json.Decoder(_Structure)


def read_table_of_contents(value: str | Path | Source, *, limits: Limits | None = None) -> TableOfContents:
    """The in-network files a table of contents lists (streamed, so multi-GB indexes work)."""
    source = as_source(value)
    toc = TableOfContents(source)
    handler = _TocHandler(toc)
    with source.open(limits) as stream:
        try:
            scan_document(
                stream,
                handler,
                name=source.name,
                limits=limits,
                expect_gzip=source.file_name.lower().endswith(".gz"),
                stored_bytes=source.size,
            )
        except msgspec.MsgspecError as error:
            raise SourceError(f"{source.name}: table of contents does not match the schema ({error})") from error
    if not handler.saw_structure:
        raise SourceError(f"{source.name}: no 'reporting_structure' array at the root; not a table of contents")
    return toc


@dataclass
class _TocHandler:
    toc: TableOfContents
    saw_structure: bool = False
    _plans: dict[PlanInfo, PlanInfo] = field(default_factory=dict)  # interned

    def root_value(self, key: str, data: bytes, offset: int) -> None:
        if key == "reporting_entity_name":
            value = msgspec.json.decode(data)
            self.toc.reporting_entity_name = value if isinstance(value, str) else None

    def root_array(self, key: str):
        if key == "reporting_structure":
            self.saw_structure = True
            return self
        return _SkipArray()

    def batch(self, batch: Batch) -> int:
        structures = _STRUCTURES.decode(batch.data)
        for index, structure in enumerate(structures):
            self._structure(batch.first_index + index, structure)
        return len(structures)

    def element(self, index: int, data: bytes, offset: int) -> None:
        try:
            structure = _STRUCTURE.decode(data)
        except msgspec.MsgspecError as error:
            self.toc.skipped.append(f"reporting_structure[{index}]: not a reporting structure ({error})")
            return
        self._structure(index, structure)

    def close(self, count: int) -> None:
        pass

    def _structure(self, index: int, structure: _Structure) -> None:
        plans = [self._plan(p) for p in structure.reporting_plans if isinstance(p, dict)]
        if structure.allowed_amount_file is not None:
            self.toc.skipped.append(
                f"reporting_structure[{index}].allowed_amount_file: {_text(structure.allowed_amount_file.location)} "
                "(allowed amounts, not negotiated rates)"
            )
        for file_index, entry in enumerate(structure.in_network_files):
            location = _text(entry.location)
            if location is None:
                self.toc.skipped.append(f"reporting_structure[{index}].in_network_files[{file_index}]: no location")
                continue
            known = self.toc.files.get(location)
            if known is None:
                known = self.toc.files[location] = TocFile(location, _text(entry.description))
                if not is_url(location):  # a link in a file never reads a local path, file: URL or other scheme
                    known.problem = (
                        f"reporting_structure[{index}].in_network_files[{file_index}].location "
                        f"{redact(location)[:200]!r}: not an https URL; links found in files are only followed "
                        "over https, never to local files"
                    )
            for plan in plans:
                if plan not in known.plans:
                    known.plans.append(plan)

    def _plan(self, raw: dict[str, Any]) -> PlanInfo:
        plan_id_type = _text(raw.get("plan_id_type"))
        plan = PlanInfo(
            plan_name=_text(raw.get("plan_name")),
            plan_id_type=plan_id_type.lower() if plan_id_type else None,
            plan_id=_text(raw.get("plan_id")),
            plan_market_type=(_text(raw.get("plan_market_type")) or "").lower() or None,
            issuer_name=_text(raw.get("issuer_name")),
            plan_sponsor_name=_text(raw.get("plan_sponsor_name")),
        )
        return self._plans.setdefault(plan, plan)


class _SkipArray:
    """Checks the elements of a root array nobody needs (syntax only)."""

    def batch(self, batch: Batch) -> int:
        return len(msgspec.json.decode(batch.data, type=list[msgspec.Raw]))

    def element(self, index: int, data: bytes, offset: int) -> None:
        pass

    def close(self, count: int) -> None:
        pass


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None
