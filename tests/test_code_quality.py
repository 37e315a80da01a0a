"""Lint, format, types and the layer contract run with the test suite, so CI (the README's test command) fails on them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import config

ROOT = config.PACKAGE_DIR.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[test]'` installs it")
    return on_path


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_passes():
    run = _run(_tool("ruff"), "check", "benchmark", "tests", "benchmarks")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_is_applied():
    run = _run(_tool("ruff"), "format", "--check", "benchmark", "tests", "benchmarks")
    assert run.returncode == 0, run.stdout + run.stderr


def test_imports_go_one_way():
    """import-linter's contracts in pyproject.toml: layers (cli -> reporting -> ... -> base) and reader independence."""
    run = _run(_tool("lint-imports"), "--no-cache")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_layer_contract_fails_on_a_wrong_way_import(tmp_path):
    """The check is real: a reference-layer module importing the analysis layer breaks the contract."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "benchmark", tree / "benchmark", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    catalog = tree / "benchmark" / "reference" / "catalog.py"
    catalog.write_text(catalog.read_text() + "\nfrom benchmark.analysis import stats  # wrong way\n")
    run = subprocess.run(
        [_tool("lint-imports"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tree), "PATH": str(BIN)},
    )
    assert run.returncode != 0
    assert "benchmark.reference.catalog -> benchmark.analysis.stats" in run.stdout


def test_types_check(type_check):
    """mypy over benchmark/ (configuration: [tool.mypy] in pyproject.toml), started in the background when the tests
    were collected (conftest.py)."""
    run = type_check
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout


def test_the_type_check_fails_on_a_type_error(tmp_path):
    """The check is real: with the project's configuration, a function returning a str where an int is declared
    fails it."""
    broken = tmp_path / "broken.py"
    broken.write_text('def count() -> int:\n    return "not a number"\n')
    run = _run(_tool("mypy"), "--config-file", "pyproject.toml", "--cache-dir", str(tmp_path / "cache"), str(broken))
    assert run.returncode != 0
    assert "broken.py:2: error" in run.stdout and "[return-value]" in run.stdout
