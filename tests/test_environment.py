"""The install paths agree: pyproject (pip, primary), environment.yml (conda mirror), README, CI and the kernel."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml

from benchmark import config

ROOT = config.PROJECT_ROOT
# PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"isal": "python-isal"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower().split("[")[0], match.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(map(_name_and_spec, project["dependencies"] + project["optional-dependencies"]["test"]))
    pip_deps = {CONDA_NAMES.get(name, name): spec for name, spec in pip_deps.items()}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(map(_name_and_spec, conda))
    python_spec = conda_deps.pop("python")
    conda_deps.pop("pip")
    assert conda_deps == pip_deps
    assert python_spec == project["requires-python"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."]
    assert env["channels"] == ["conda-forge"]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks[:2] for line in block.splitlines() if line.strip()]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    report_command, test_command = _readme_commands()[:2]
    assert "paybench report 44320" in report_command and "python3 -m venv .venv" in report_command
    assert test_command.endswith("-m pytest") and "python3 -m venv .venv" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci


def test_console_script_and_package_names():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "payer-benchmark"
    assert project["scripts"] == {"paybench": "benchmark.cli:main"}
    assert project["requires-python"] == ">=3.11"


def test_kernel_is_registered_by_name_for_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    from benchmark.reporting.kernel import KERNEL_NAME, ensure_kernel

    assert ensure_kernel() == KERNEL_NAME
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()


def _imported_top_level_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    local = {path.stem for path in folder.glob("*.py")}  # scripts importing their neighbours (benchmarks/run.py)
    return names - set(sys.stdlib_module_names) - local - {"benchmark", "__future__"}


def _declared(requirements: list[str]) -> set[str]:
    """Distribution names a requirement list installs on purpose: names and their extras (dask[distributed])."""
    names = set()
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[([^\]]+)\])?.*", requirement)
        assert match, requirement
        names.add(match[1])
        names.update(extra.strip() for extra in (match[2] or "").split(","))
    return {re.sub(r"[-_.]+", "-", name).lower() for name in names if name}


def test_every_imported_library_is_declared():
    """The package's imports are runtime dependencies; the tests' and benchmarks' are runtime or test ones."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _declared(project["dependencies"])
    test = runtime | _declared(project["optional-dependencies"]["test"])
    distributions = importlib.metadata.packages_distributions()

    def undeclared(folder: Path, declared: set[str]) -> set[str]:
        missing = set()
        for module in _imported_top_level_modules(folder):
            names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
            if not names & declared:
                missing.add(f"{module} ({', '.join(sorted(names))})")
        return missing

    assert undeclared(ROOT / "benchmark", runtime) == set()
    assert undeclared(ROOT / "tests", test) == set()
    assert undeclared(ROOT / "benchmarks", test) == set()
