"""A batch worker's kernel (kernel.SharedKernel): one kernel process for many reports, each starting from an empty
namespace in its own folder; a dead kernel is replaced; close() ends it."""

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from jupyter_client.blocking import BlockingKernelClient

from benchmark import temp_folders
from benchmark.reporting import kernel as kernel_module
from benchmark.reporting.kernel import SOCKETS_KIND, SharedKernel

pytestmark = pytest.mark.slow


def _execute(manager, code: str, expressions: dict[str, str]) -> dict:
    """The kernel's reply to ``code`` with ``expressions`` (user expressions) evaluated after it. The reply, user
    expressions included, comes on the shell channel: no IOPub to wait for (``wait_for_ready`` listens to it 0.2 s)."""
    client = BlockingKernelClient(parent=manager, **manager.get_connection_info(session=True))
    client.start_channels(iopub=False, stdin=False, hb=False, control=False)
    try:
        request = client.execute(code, user_expressions=expressions)
        while (reply := client.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != request:
            pass
        return reply["content"]
    finally:
        client.stop_channels()


def _run(manager, code: str) -> dict:
    """Execute ``code`` in the kernel: the user expressions ``pid``, ``cwd`` and ``has_x`` evaluated after it, and the
    number of its cell (``cell``, the ``In [n]`` of a notebook)."""
    expressions = {"pid": "__import__('os').getpid()", "cwd": "__import__('os').getcwd()", "has_x": "'x' in dir()"}
    content = _execute(manager, code, expressions)
    assert content["status"] == "ok", content
    values = {k: v["data"]["text/plain"] for k, v in content["user_expressions"].items()}
    return {**values, "cell": content["execution_count"]}


def _evaluate(manager, expressions: dict[str, str]) -> dict[str, str]:
    content = _execute(manager, "", expressions)
    return {k: v["data"]["text/plain"] for k, v in content["user_expressions"].items()}


def _sockets_folder(manager) -> Path:
    """The folder of a kernel's channels: Unix sockets (transport ipc), not TCP ports."""
    info = manager.get_connection_info()
    assert info["transport"] == "ipc" and manager.transport == "ipc"
    folder = Path(info["ip"]).parent
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith(f"{temp_folders.prefix(SOCKETS_KIND)}{os.getpid()}-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # this user's only
    shell = Path(f"{info['ip']}-{info['shell_port']}")
    deadline = time.monotonic() + 60
    while not shell.exists() and time.monotonic() < deadline:  # bound by the kernel as it starts
        time.sleep(0.1)
    assert shell.is_socket()
    return folder


def test_one_kernel_serves_reports_one_after_the_other_from_a_clean_namespace(tmp_path, capfd, monkeypatch):
    """A new kernel is sent the warm-up import (kernel.WARM_UP) at start, without waiting for it: the report's modules
    are loaded before the notebook asks for them, and nothing is left in the namespace the notebook sees. The same
    kernel then serves the next report from an empty namespace in that report's folder; a dead kernel is replaced;
    close() ends it. (One test: each kernel started costs seconds of CPU.)"""
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    for folder in (first, second, third):
        folder.mkdir()
    # a sockets folder that a killed process left (its process has ended): removed when a kernel starts
    ended = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True).stdout)
    left = Path(tempfile.gettempdir()) / f"{temp_folders.prefix(SOCKETS_KIND)}{ended}-left"
    left.mkdir()
    kernel = SharedKernel()
    try:
        manager = kernel.ready(first)  # a new kernel: started, warm-up sent, no reset
        assert not left.exists()
        sockets = _sockets_folder(manager)
        expressions = {
            "warm": "'benchmark.reporting.report' in __import__('sys').modules",
            # what ipykernel itself puts in a new kernel's namespace is left out (its ``open`` among them)
            "names": "sorted(n for n in dir() if not n.startswith('_') and n not in ('In', 'Out', 'exit', 'quit', "
            "'get_ipython', 'open'))",
        }
        deadline = time.monotonic() + 120
        values = _evaluate(manager, expressions)
        while values["warm"] != "True" and time.monotonic() < deadline:  # the import may still be running
            time.sleep(0.1)
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

        # the replacement's warm-up was checked above on the first kernel: a light one here (the report's modules
        # would cost the new kernel ~1.2 s of CPU that this test does not look at)
        monkeypatch.setattr(kernel_module, "WARM_UP", "__import__('os')")
        os.kill(pid, signal.SIGKILL)  # a kernel that died is replaced
        replaced = _run(kernel.ready(third), "pass")
        assert int(replaced["pid"]) != pid and replaced["cwd"] == repr(str(third))
        last = int(replaced["pid"])
        assert not sockets.exists()  # the dead kernel's sockets went with it
        sockets = _sockets_folder(kernel.ready(third))
    finally:
        kernel.close()
    with pytest.raises(ProcessLookupError):
        os.kill(last, 0)
    assert not sockets.exists()
    # no channel on a TCP port: ipykernel's warning about unencrypted TCP is never printed (the kernels write to
    # this process's stderr)
    assert "without encryption" not in capfd.readouterr().err
