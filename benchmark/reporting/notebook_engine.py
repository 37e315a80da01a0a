"""The papermill engine the runner executes the report notebook with: papermill's own (nbclient), with the executed
notebook written once, when the run ends, instead of at every cell's start and end.

papermill's engine writes the whole executed notebook when a run starts, when each cell starts and ends, and when
the run ends: ~24 writes per report of a notebook that grows to ~2 MB (the sections' HTML, charts included), ~0.1-0.2 s
of CPU that nothing reads, since the runner reads the notebook only once the run is over. The runner calls papermill
with ``request_save_on_cell_execute=False``: papermill then writes the notebook itself when the run ends without an
error or with a failed cell (marked in it), and this engine writes it when the run raises anything else (the kernel
did not start or died, a cell timed out), as papermill's last write would have had it: the cells as far as they ran,
each with its papermill start time and status. The runner keeps that notebook beside the report, or tells from it
that no cell ran (:mod:`benchmark.reporting.runner`).

Imported by :func:`benchmark.reporting.runner.papermill_module` (after jsonschema is imported lean), which registers
:class:`NotebookWrittenOnce` with papermill.
"""

from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine
from papermill.iorw import write_ipynb


class NotebookWrittenOnce(NBClientEngine):
    """papermill's nbclient engine; ``written_on_failure`` (an engine keyword of ``papermill.execute_notebook``) is
    where the notebook is written when the run raises."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, *, written_on_failure: str, **kwargs: Any) -> Any:
        try:
            return super().execute_notebook(nb, kernel_name, **kwargs)
        except BaseException:
            # the engine executes ``nb`` in place and finalizes its metadata (end time, cell statuses) on the way out
            write_ipynb(nb, written_on_failure)
            raise
