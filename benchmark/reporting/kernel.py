"""The Jupyter kernel that runs the report notebook: its registration, errors, and :class:`SharedKernel`.

A light module (jupyter_client is imported when a kernel is started): the CLI starts a report's kernel before it
imports the heavy reporting modules, so that the kernel boots on the other core meanwhile.
"""

from __future__ import annotations

import logging
import queue
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmark import temp_folders
from benchmark.errors import PaybenchError

KERNEL_NAME = "payer-benchmark"
# The kernel's channels are Unix sockets in a folder of this process (paybench-kernel-<pid>-<random>, mode 0700,
# removed at close; left by a killed process, removed by the next start: benchmark.temp_folders), not TCP ports on
# the loopback interface, which any local user can connect to (ipykernel warns about those on every start).
SOCKETS_KIND = "kernel"
# What a new report kernel imports before the first cell asks for it (the notebook's first import; nothing is bound
# in the kernel's namespace): kernel start and these imports take seconds, done on the other core meanwhile, with the
# garbage collector paused for the import (benchmark.collector: ~0.1 s of CPU less).
WARM_UP = "__import__('benchmark.collector').collector.import_paused('benchmark.reporting.report')"
RESET_POLL_SECONDS = 1.0  # how often a reset waiting for its reply asks whether the kernel still runs
_log = logging.getLogger(__name__)


class ReportRunError(PaybenchError, RuntimeError):
    """The notebook failed; the message names the cell's error and where the failed notebook was kept.

    ``ename`` / ``evalue`` are the error raised inside the notebook (``FileNotFoundError``, its message).
    """

    def __init__(self, message: str, *, ename: str = "", evalue: str = "") -> None:
        super().__init__(message)
        self.ename, self.evalue = ename, evalue


class KernelStartError(ReportRunError):
    """The Jupyter kernel did not start, so no cell ran (e.g. it died at launch, or a port was taken): retryable."""


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


class SharedKernel:
    """One Jupyter kernel that runs report after report in one process (a batch worker), instead of one per report;
    :func:`run_report` also uses one for a single report, started early (:meth:`start`).

    Starting a kernel and importing the report's libraries in it costs seconds of CPU per report. A new kernel is
    sent :data:`WARM_UP` at start. Before each report the kernel's namespace is cleared (``%reset -f``) and its
    working folder set to the report's staging folder, so each report starts from the notebook's own cells as in a
    fresh kernel; imported modules (and the caches they keep, all keyed by their inputs) stay. A kernel that died,
    or whose reset failed, is replaced by a new one. :meth:`close` shuts it down (a batch worker does so when it
    exits).
    """

    def __init__(self, kernel_name: str | None = None) -> None:
        self.kernel_name = kernel_name
        self._manager: Any = None  # jupyter_client AsyncKernelManager, started
        self._warm_client: Any = None  # the client that sent WARM_UP to a new kernel, stopped once it is ready
        self._sockets: Path | None = None  # the folder of the kernel's sockets

    def start(self, cwd: Path) -> None:
        """Start a new kernel in ``cwd`` and have it import the report's modules (:data:`WARM_UP`) without waiting.

        The kernel boots and imports on the other core while this process goes on (importing papermill and the
        exporters): :meth:`ready` then waits for it. Raises :class:`KernelStartError` when it does not start.
        """
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.close()
        self._sockets = temp_folders.new_folder(SOCKETS_KIND)
        manager = AsyncKernelManager(
            kernel_name=self.kernel_name or ensure_kernel(), transport="ipc", ip=str(self._sockets / "kernel")
        )
        try:
            run_sync(manager.start_kernel)(cwd=str(cwd))
        except Exception as error:
            self._remove_sockets()
            raise KernelStartError(
                f"the Jupyter kernel {manager.kernel_name!r} did not start: {type(error).__name__}: {error}",
                ename=type(error).__name__,
                evalue=str(error),
            ) from error
        self._manager = manager
        # queued on the shell channel until the kernel listens; the kernel runs requests in order, so the report's
        # cells (and the reset before them) run after this import. Silent: no output, no execution count. Its own
        # session (not the manager's): clients sharing one have the same socket identity, and the kernel would
        # send the next client's replies to this one.
        session = manager.session.clone()  # the key and signature scheme of the kernel's messages ...
        session.session = str(uuid.uuid4())  # ... under another session id (the socket identity)
        ports = {k: v for k, v in manager.get_connection_info().items() if k not in ("key", "signature_scheme")}
        self._warm_client = BlockingKernelClient(session=session, **ports)
        self._warm_client.start_channels(iopub=False, stdin=False, hb=False, control=False)
        self._warm_client.execute(WARM_UP, silent=True, store_history=False)

    def ready(self, cwd: Path) -> Any:
        """The kernel manager of a kernel with an empty namespace whose working folder is ``cwd`` (started now when
        there is none or it died). Raises :class:`KernelStartError` when a new kernel does not start."""
        from jupyter_core.utils import run_sync

        if self._manager is not None and run_sync(self._manager.is_alive)() and self._reset(cwd):
            return self._manager
        self.start(cwd)
        return self._manager

    def _reset(self, cwd: Path, timeout: float = 60) -> bool:
        """Clear the kernel's namespace and set its working folder; False when it died or did not answer.

        The request and its reply go over the shell channel only, which queues both: no IOPub subscription to wait
        for (``wait_for_ready`` listens to IOPub for 0.2 s after the kernel answers), and the reset prints nothing.
        """
        from jupyter_client.blocking import BlockingKernelClient

        # the manager as parent: "is the kernel alive" asks it (a bare client trusts a heartbeat not yet heard)
        client = BlockingKernelClient(parent=self._manager, **self._manager.get_connection_info(session=True))
        client.start_channels(iopub=False, stdin=False, hb=False, control=False)
        try:
            request = client.execute(
                # cells numbered from 1 again (In [1], ...) as in a new kernel: %reset keeps the count going
                f"%reset -f\nimport os as _os\n_os.chdir({str(cwd)!r})\ndel _os\nget_ipython().execution_count = 1",
                store_history=False,
            )
            deadline = time.monotonic() + timeout
            while True:
                try:
                    reply = client.get_shell_msg(timeout=RESET_POLL_SECONDS)
                except queue.Empty:
                    if not client.is_alive():
                        raise RuntimeError("the kernel died") from None
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no reply within {timeout:g} s") from None
                    continue
                if reply["parent_header"].get("msg_id") == request:
                    return bool(reply["content"]["status"] == "ok")
        except Exception as error:  # a kernel that does not answer is replaced
            _log.info(
                "the shared report kernel did not reset (%s: %s): starting a new one", type(error).__name__, error
            )
            return False
        finally:
            client.stop_channels()
            self._stop_warm_client()

    def _stop_warm_client(self) -> None:
        warm, self._warm_client = self._warm_client, None
        if warm is not None:
            warm.stop_channels()

    def close(self) -> None:
        """Shut the kernel down (nothing when none was started)."""
        from jupyter_core.utils import run_sync

        self._stop_warm_client()
        manager, self._manager = self._manager, None
        if manager is not None:
            try:
                run_sync(manager.shutdown_kernel)(now=True)
            except Exception as error:  # already gone
                _log.debug("shared report kernel shutdown: %s", error)
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        folder, self._sockets = self._sockets, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
