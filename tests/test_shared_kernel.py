"""A batch worker's kernel (kernel.SharedKernel): one kernel process for many reports, each starting from an empty
namespace in its own folder; a dead kernel is replaced; close() ends it."""

import os
import signal
import time

import pytest
from jupyter_client.blocking import BlockingKernelClient

from benchmark.reporting.kernel import SharedKernel

pytestmark = pytest.mark.slow


def _run(manager, code: str) -> dict:
    """Execute ``code`` in the kernel: the user expressions ``pid``, ``cwd`` and ``has_x`` evaluated after it, and the
    number of its cell (``cell``, the ``In [n]`` of a notebook)."""
    client = BlockingKernelClient(parent=manager, **manager.get_connection_info(session=True))
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(
            code,
            user_expressions={
                "pid": "__import__('os').getpid()",
                "cwd": "__import__('os').getcwd()",
                "has_x": "'x' in dir()",
            },
            timeout=60,
            output_hook=lambda message: None,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        values = {k: v["data"]["text/plain"] for k, v in reply["content"]["user_expressions"].items()}
        return {**values, "cell": reply["content"]["execution_count"]}
    finally:
        client.stop_channels()


def _evaluate(manager, expressions: dict[str, str]) -> dict[str, str]:
    client = BlockingKernelClient(parent=manager, **manager.get_connection_info(session=True))
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("", user_expressions=expressions, timeout=60, output_hook=lambda m: None)
        return {k: v["data"]["text/plain"] for k, v in reply["content"]["user_expressions"].items()}
    finally:
        client.stop_channels()


def test_one_kernel_serves_reports_one_after_the_other_from_a_clean_namespace(tmp_path):
    """A new kernel is sent the warm-up import (kernel.WARM_UP) at start, without waiting for it: the report's modules
    are loaded before the notebook asks for them, and nothing is left in the namespace the notebook sees. The same
    kernel then serves the next report from an empty namespace in that report's folder; a dead kernel is replaced;
    close() ends it. (One test: each kernel started costs seconds of CPU.)"""
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    for folder in (first, second, third):
        folder.mkdir()
    kernel = SharedKernel()
    try:
        manager = kernel.ready(first)  # a new kernel: started, warm-up sent, no reset
        expressions = {
            "warm": "'benchmark.reporting.report' in __import__('sys').modules",
            # what ipykernel itself puts in a new kernel's namespace is left out (its ``open`` among them)
            "names": "sorted(n for n in dir() if not n.startswith('_') and n not in ('In', 'Out', 'exit', 'quit', "
            "'get_ipython', 'open'))",
        }
        deadline = time.monotonic() + 120
        values = _evaluate(manager, expressions)
        while values["warm"] != "True" and time.monotonic() < deadline:  # the import may still be running
            time.sleep(0.5)
            values = _evaluate(manager, expressions)
        assert values == {"warm": "True", "names": "[]"}

        state = _run(manager, "x = 1")  # the first report's cell
        assert state["has_x"] == "True" and state["cwd"] == repr(str(first))
        pid = int(state["pid"])

        again = _run(kernel.ready(second), "pass")
        assert int(again["pid"]) == pid  # the same kernel process
        assert again["has_x"] == "False"  # the first report's names are gone
        assert again["cwd"] == repr(str(second))
        assert state["cell"] == again["cell"] == 1  # each report's cells are numbered from In [1], as in a new kernel

        os.kill(pid, signal.SIGKILL)  # a kernel that died is replaced
        replaced = _run(kernel.ready(third), "pass")
        assert int(replaced["pid"]) != pid and replaced["cwd"] == repr(str(third))
        last = int(replaced["pid"])
    finally:
        kernel.close()
    with pytest.raises(ProcessLookupError):
        os.kill(last, 0)
