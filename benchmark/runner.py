"""Run the code-report notebook with papermill and export it: the one place that owns execution policy.

:func:`run_report` validates the parameters (codes stay strings: they are passed as Python values, never through
papermill's ``-p`` type guessing), executes ``notebooks/code_report.ipynb`` in a staging folder next to the output,
exports ``report.html`` without code cells, and only then swaps the staging folder into place, so a failed run never
leaves half a report.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmark import config
from benchmark.report import ReportParams

KERNEL_NAME = "payer-benchmark"
EXECUTED_NOTEBOOK = "code_report.ipynb"
REMOVE_TAG = "remove-in-report"  # notebook cells for notebook readers only (e.g. the how-to-run note)


class ReportRunError(RuntimeError):
    """The notebook failed; the message names the cell's error and where the failed notebook was kept."""


@dataclass(frozen=True)
class ReportOutputs:
    out_dir: Path
    notebook: Path
    html: Path
    summary: Path
    charts: tuple[Path, ...]


def report_slug(params: ReportParams) -> str:
    """Folder name of a report: the code, plus every non-default parameter as a safe ``name-value`` part.

    Only letters, digits, ``+`` and ``-`` survive in a part (no dots, no slashes), so no parameter value, payer text
    or path can steer the folder outside the output root; a data-source path becomes its base name + a short hash.
    """
    defaults = ReportParams(code=params.code)
    parts = [_safe(params.code)]
    for name, value in vars(params).items():
        if name in ("code", "output_dir") or value == getattr(defaults, name):
            continue
        if name == "data_source":
            digest = hashlib.sha1(str(value).encode()).hexdigest()[:8]
            text = f"{Path(str(value)).name}-{digest}"
        else:
            text = "+".join(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{_safe(name)}-{_safe(text)}")
    return "__".join(parts)[:150]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+-]+", "_", text).strip("_") or "x"


def ensure_kernel() -> str:
    """Register this interpreter as the Jupyter kernel ``payer-benchmark`` (in the environment, once)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(KERNEL_NAME)
        if Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (payer-benchmark)", prefix=sys.prefix)
    return KERNEL_NAME


def run_report(params: ReportParams, out_dir: str | Path | None = None, *, timeout: int = 900) -> ReportOutputs:
    """Execute the code notebook for ``params`` and write its outputs to ``out_dir`` (default reports/<slug>)."""
    import papermill as pm

    target = Path(out_dir) if out_dir else config.REPORTS_DIR / report_slug(params)
    target = target.resolve()
    staging = target.parent / f".{target.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    run_params = ReportParams.from_mapping({**params.as_notebook_parameters(), "output_dir": str(staging)})
    notebook = staging / EXECUTED_NOTEBOOK
    try:
        pm.execute_notebook(
            str(config.CODE_REPORT_NOTEBOOK), str(notebook), parameters=run_params.as_notebook_parameters(),
            kernel_name=ensure_kernel(), cwd=str(staging), progress_bar=False, execution_timeout=timeout,
        )
    except pm.PapermillExecutionError as error:
        kept = target.parent / f"{target.name}.failed.ipynb"
        shutil.copyfile(notebook, kept)
        shutil.rmtree(staging, ignore_errors=True)
        raise ReportRunError(f"CPT {params.code}: notebook cell {error.exec_count} raised {error.ename}: "
                             f"{error.evalue} (failed notebook kept at {kept})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    export_html(notebook, staging / "report.html", title=f"CPT {params.code} payer benchmark ({params.year})")
    _swap_into_place(staging, target)
    charts = tuple(sorted((target / "charts").glob("*")))
    return ReportOutputs(target, target / EXECUTED_NOTEBOOK, target / "report.html", target / "summary.json", charts)


def export_html(notebook: Path, html_path: Path, title: str) -> Path:
    """Export an executed notebook to HTML without code cells or prompts."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True), enabled=True)
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _swap_into_place(staging: Path, target: Path) -> None:
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
