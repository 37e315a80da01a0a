"""benchmark.collector: the garbage collector paused for one import, and on again after it, whatever happens."""

from __future__ import annotations

import gc
import sys

import pytest

from benchmark import cli
from benchmark.collector import import_paused
from benchmark.reporting.kernel import WARM_UP


def _module(tmp_path, monkeypatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_an_import_runs_with_the_collector_off_and_leaves_it_on(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "paused_probe", "import gc\nENABLED_WHILE_IMPORTED = gc.isenabled()\n")
    assert gc.isenabled()
    module = import_paused("paused_probe")
    assert module.ENABLED_WHILE_IMPORTED is False and gc.isenabled()


def test_a_failing_import_leaves_the_collector_on(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "failing_probe", "raise RuntimeError('broken module')\n")
    with pytest.raises(RuntimeError, match="broken module"):
        import_paused("failing_probe")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "off_probe", "X = 1\n")
    gc.disable()
    try:
        import_paused("off_probe")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_report_kernel_warms_up_through_it():
    namespace: dict = {}
    exec(WARM_UP, namespace)  # what SharedKernel sends a new kernel: the report's modules, imported paused
    assert "benchmark.reporting.report" in sys.modules and gc.isenabled()


def test_the_cli_imports_the_reporting_modules_paused_and_leaves_the_collector_on(tmp_path, capsys):
    batch_file = tmp_path / "b.yaml"
    batch_file.write_text("reports: not-a-list\n")
    assert cli.main(["batch", str(batch_file)]) == 2  # an invalid batch file: its modules imported, nothing run
    assert "nothing was run" in capsys.readouterr().err and gc.isenabled()
