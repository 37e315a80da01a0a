"""The parameters of one report (:class:`ReportParams`) and :func:`check_report`, which makes their local paths
absolute and refuses a parameter set with a problem.

Loads without pandas, like :mod:`benchmark.reporting.preflight` whose checks it applies: ``paybench report`` builds
its parameters before the heavy imports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark import codes, config
from benchmark.errors import ParameterError
from benchmark.reporting import preflight


@dataclass(frozen=True)
class ReportParams:
    """The parameters of one report; the notebook's parameters cell mirrors these names and types."""

    code: str = "44320"  # a CPT/HCPCS code, or an MS-DRG written MS-DRG-470 (benchmark.codes)
    year: int = config.DEFAULT_MEDICARE_YEAR
    payers: tuple[str, ...] = ()
    geography: str = "all"
    data_source: str | tuple[str, ...] = "sample"  # one source, or several (files, folders, zips, URLs, a store)
    product_lines: tuple[str, ...] = ("commercial",)
    ipps_table5: str = ""  # a CMS IPPS Table 5 file (MS-DRG weights) for DRG-coded rates; "" = none
    output_dir: str = ""
    providers: str = ""  # provider directory CSV (npi, tin, state, medicare_locality) placing TiC rates; "": none
    report_date: str = ""  # YYYY-MM-DD contracts must not have expired by; "": the run date (UTC), kept in summary.json
    keep_implausible: bool = False  # keep rates flagged only implausible_provider in the benchmark statistics
    min_confidence: str = ""  # restrict the benchmark to this confidence level or higher (confidence.LEVELS); "": all

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", codes.normalize(self.code))  # ms-drg-470 -> MS-DRG-470
        problems = (
            _source_problems(self)
            + preflight.parameter_problems(self.code, self.year, self.payers, self.geography, self.product_lines)
            + preflight.assessment_problems(self.report_date, self.keep_implausible, self.min_confidence)
        )
        if not problems:
            problems += preflight.table5_use_problems(self.code, self.ipps_table5)
        if problems:
            raise ParameterError("Invalid report parameters: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ReportParams:
        """Parameters from a notebook / YAML mapping (lists become tuples; unknown names are an error)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ParameterError(f"Unknown report parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        clean: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**clean)

    def as_notebook_parameters(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}


def _source_problems(params: ReportParams) -> list[str]:
    """Shape of ``data_source`` / ``providers``; one source given as a list becomes that string (same report)."""
    source = params.data_source
    if isinstance(source, (list, tuple)):
        source = tuple(source)
        if len(source) == 1:
            source = source[0]
        object.__setattr__(params, "data_source", source)
    items = [source] if isinstance(source, str) else list(source)
    if not items or not all(isinstance(s, str) and s.strip() for s in items):
        return [f"data_source must be 'sample', a path or URL, or a list of them, got {params.data_source!r}"]
    if not isinstance(params.providers, str):
        return [f"providers must be the path of a provider directory CSV, got {params.providers!r}"]
    return []


def check_report(params: ReportParams, *, base: str | Path | None = None) -> ReportParams:
    """``params`` with every local path made absolute (against ``base``, default the current folder), or a
    :class:`ParameterError` naming each problem with its sources and what would work instead."""
    data_source, providers, problems = preflight.check_sources(params.data_source, params.providers, base)
    table5, table5_problem = preflight.check_table5(params.ipps_table5, base)
    if table5_problem:
        problems.append(table5_problem)
    if problems:
        raise ParameterError("; ".join(problems))
    return dataclasses.replace(params, data_source=data_source, providers=providers, ipps_table5=table5)
