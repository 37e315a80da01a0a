"""Shared pytest fixtures."""

from __future__ import annotations

import ast
import fcntl
import functools
import gc
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

FIXTURES = Path(__file__).parent / "fixtures"
REPORT_DATE = "2026-12-06"  # the fixed report date of the shared reports (expired contracts are counted against it)
ROOT = FIXTURES.parent.parent
_BACKGROUND: dict[str, subprocess.Popen] = {}  # checks started when the tests were collected (see below)

# ------------------------------------------------------------------------------------------ the garbage collector
# Collecting the tests imports every test module and, through them, most of pandas, pyarrow, pandera, matplotlib and
# the tool: ~260,000 objects that live as long as the test process. Python's full (generation 2) collections examine
# every one of them each time: ~14 while the tests are collected (~1.1 s of CPU per process, so per xdist worker) and
# ~20 while they run. Moved to the permanent generation (gc.freeze) as they are made, they are not examined again;
# they are freed by reference counting as before, and one full collection once the tests are collected frees the
# cycles that became garbage meanwhile (pytest_collection_finish). Objects made by the tests are collected as ever,
# with a youngest generation of 10,000 objects instead of 700: a test process allocates millions of containers
# (DataFrames, Arrow tables, parsed JSON), and each young collection also counts towards the older ones, which walk
# every object still alive; at 10,000 they cost ~0.5 s instead of ~1.4 s of CPU per 40 s of tests. The garbage they
# free is the same, found a little later.
gc.freeze()
gc.set_threshold(10_000, 10, 10)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    gc.freeze()  # a test module just imported (see above)


# --------------------------------------------------------------------------------------------------- the type check
def _start_mypy() -> subprocess.Popen | None:
    """``mypy`` over benchmark/ ([tool.mypy] in pyproject.toml), started in the project folder, output in pipes."""
    found = Path(sys.executable).parent / "mypy"
    command = str(found) if found.exists() else shutil.which("mypy")
    if command is None:
        return None
    return subprocess.Popen([command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _is_worker(config: pytest.Config) -> bool:
    """This process is a pytest-xdist worker (``-n 2``, pyproject.toml's default), not a run in one process."""
    return hasattr(config, "workerinput")


def pytest_collection_finish(session: pytest.Session) -> None:
    """When the run includes tests/test_code_quality.py::test_types_check, start mypy now, in the background: without
    a .mypy_cache (a fresh clone, CI) it needs ~30 s of CPU, which then overlap with the other tests (on a second
    core) instead of adding to the run's time; the test reads the result (fixture ``type_check``). Not in an xdist
    worker: every worker collects every test, and the second core is busy with the other worker; the fixture starts
    mypy when the test runs."""
    gc.unfreeze()  # the garbage collector (see above): the cycles left by collecting, freed once
    gc.collect()
    gc.freeze()
    if _is_worker(session.config):
        return
    if any(item.path.name == "test_code_quality.py" and item.name == "test_types_check" for item in session.items):
        started = _start_mypy()
        if started is not None:
            _BACKGROUND["mypy"] = started


# the fixtures that execute the report notebook (a Jupyter kernel, exports, Chromium): their tests are "slow", so
# `pytest -m "not slow"` runs every test that needs no kernel
RENDERS_A_REPORT = {"report_44320", "hostile_report", "three_runs"}

# ------------------------------------------------------------------------------------------ tests on every core
# pyproject.toml runs the tests in pytest-xdist workers, `--dist=loadfile --no-loadscope-reorder`: a worker takes a
# whole file at a time, files in the order the items have after pytest_collection_modifyitems. Two changes to
# loadfile here, through xdist's public scheduler hook (FileGroupScheduling):
# - the session fixtures below are built once per worker that asks for them (the 44320 report takes a kernel and
#   ~30 s of CPU), so the files whose tests or fixtures ask for one are one unit of work, run by one worker;
# - units start longest first (GROUP_SECONDS), so that no long unit starts last while the other
#   workers are idle; the others follow in the files' order.
# `-n 0` runs everything in one process, in the files' order.
SHARED_SESSION_FIXTURES = frozenset({"report_44320", "built_report", "sample_store"})
SHARED_GROUP = "shared session fixtures"
GROUP_SECONDS = {  # worker seconds, the mean of two `-n 2` runs from a fresh clone on 2 cores shared with other jobs
    # (load average 2-10): only their order matters. test_code_quality.py waits on mypy (~33 s CPU without its cache)
    SHARED_GROUP: 440,
    "test_batch.py": 160,
    "test_tic_equivalence.py": 140,
    "test_code_quality.py": 140,
    "test_distributed.py": 130,
    "test_report_sources.py": 130,
    "test_cms_parity.py": 120,
    "test_store_concurrency.py": 120,
    "test_validate_golden.py": 100,
    "test_no_secrets.py": 70,
    "test_ingest_tic.py": 60,
    "test_exports.py": 50,
    "test_report_assessment.py": 50,
    "test_charts_edge_cases.py": 50,
    "test_rates.py": 40,
    "test_validate_fast_path.py": 40,
    "test_ingest_hospital_formats.py": 40,
    "test_ingest_pipeline.py": 40,
    "test_ingest_hospital_bad_input.py": 30,
    "test_ingest_hospital.py": 30,
}


@functools.cache
def _group(path: Path) -> str:
    """A test file's unit of work: the shared group when a function in it takes one of the shared session fixtures
    as an argument (a test or a fixture) or names one in a string (``usefixtures``, ``getfixturevalue``); else the
    file itself."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return SHARED_GROUP if names & SHARED_SESSION_FIXTURES else path.name


class FileGroupScheduling(LoadScopeScheduling):
    """xdist's loadfile with the files that share a session fixture as one scope (see above). Overrides
    ``_split_scope``, as xdist's own LoadFileScheduling does (tested with pytest-xdist 3.8; pyproject.toml pins the
    range). Not ``--dist=loadgroup``: with pytest 9.2 it no longer groups (pytest-xdist issue 1386)."""

    def _split_scope(self, nodeid: str) -> str:
        return _group(self.config.rootpath / nodeid.split("::", 1)[0])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling | None:
    return FileGroupScheduling(config, log) if config.getoption("dist") == "loadfile" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if RENDERS_A_REPORT & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if _is_worker(config):  # the order the workers send to the scheduler (the same in every worker)
        position = {item: index for index, item in enumerate(items)}
        items.sort(key=lambda item: (-GROUP_SECONDS.get(_group(item.path), 0), position[item]))


def pytest_sessionstart(session: pytest.Session) -> None:
    """In a process that collects the tests (an xdist worker, or a run in one process, ``--collect-only`` included),
    jsonschema is imported first without rfc3987_syntax, as the tool itself imports it (benchmark.lean_imports):
    test modules import nbformat and papermill, which import jsonschema; with rfc3987_syntax each test process would
    compile its lark grammars (~1.5-6 s of CPU per xdist worker) for two JSON-Schema formats no schema here uses.
    Not in xdist's controller (its "dsession" plugin), which imports no test module: it no longer imports pandas,
    pandera and jsonschema for nothing (~0.6 s of CPU).

    xdist workers register the Jupyter kernel one at a time: two workers installing the kernel spec at once (a
    fresh environment, e.g. CI) can delete each other's files. Once registered, ``ensure_kernel`` only reads it."""
    if not session.config.pluginmanager.has_plugin("dsession"):
        from benchmark import lean_imports

        lean_imports.import_jsonschema()
    if not _is_worker(session.config):
        return
    from benchmark.reporting.runner import ensure_kernel

    prefix = hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"payer-benchmark-kernel-{prefix}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ensure_kernel()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for process in _BACKGROUND.values():  # a run stopped before the test read its check
        process.kill()
        process.communicate()


@pytest.fixture(scope="session")
def type_check() -> subprocess.CompletedProcess:
    """mypy's exit status and output: from the run started when the tests were collected, or started now."""
    process = _BACKGROUND.pop("mypy", None) or _start_mypy()
    if process is None:
        pytest.fail("mypy is not installed: `pip install -e '.[test]'` installs it")
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The public example files the tests read (CMS TiC and hospital examples, schemas, a real chargemaster):
    copies inside the repository, in the layout of the project's shared reference folder (tests/fixtures/PROVENANCE.md
    says where each came from; tests/test_fixtures.py checks their checksums)."""
    return FIXTURES / "reference"


@pytest.fixture(scope="session")
def report_44320(tmp_path_factory) -> Path:
    """One full report, rendered once for the whole run and shared by the report, deck and golden tests (read only):
    `paybench report 44320 --report-date 2026-12-06` on the sample (default payment year) (notebook, HTML, summary.json, charts, deck, XLSX, CSV, PDF
    when Chromium is installed)."""
    from benchmark import cli

    out = tmp_path_factory.mktemp("shared-report") / "44320"
    assert cli.main(["report", "44320", "--report-date", REPORT_DATE, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def built_report():
    """``built_report(params)``: ``CodeReport.build(params)`` in this process, built once per distinct parameters for
    the whole run and shared by every test that asks for the same parameters (read only: a test that changes one,
    e.g. its ``generated_at``, changes a ``copy.copy`` of it)."""
    from benchmark.reporting.report import CodeReport

    built: dict = {}

    def build(params):
        if params not in built:
            built[params] = CodeReport.build(params)
        return built[params]

    return build


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """The whole sample, all codes, in one rate store (built once for the run; read only)."""
    from benchmark import config
    from benchmark.store import pipeline

    root = tmp_path_factory.mktemp("store") / "s"
    run = pipeline.ingest([config.SAMPLE_TIC_DIR, config.SAMPLE_HOSPITAL_DIR], None, root)
    assert run.ok and run.count("loaded") == 14
    return root


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def rate_row(**overrides) -> dict:
    """One valid normalized rate row (RateSchema) for hand-built test tables; override any column."""
    row = {
        "source_type": "tic",
        "payer_raw": "Aetna Life Insurance Company",
        "payer_family": "Aetna",
        "payer_brand": "Aetna",
        "plan_raw": "Test PPO",
        "plan_id": None,
        "product_line": "commercial",
        "network_name": None,
        "billing_code": "44320",
        "billing_code_type": "CPT",
        "modifiers": "",
        "pos_setting": "facility",
        "care_setting": "unknown",
        "billing_class": "professional",
        "rate_type": "negotiated",
        "amount": 1000.0,
        "amount_unit": "USD",
        "amount_usd": 1000.0,
        "dollar_basis": None,
        "service_codes": "21",
        "negotiation_arrangement": "ffs",
        "expiration_date": None,
        "provider_npis": None,
        "provider_tin": None,
        "provider_name": None,
        "state": None,
        "medicare_locality": None,
        "source_file": "test.json",
        "source_locator": "in_network[0]",
        "source_sha256": "0" * 64,
        "is_synthetic": True,
        "severity_of_illness": None,
        "bundled_codes": None,
        "covered_services": None,
        "additional_information": None,
        "plan_id_type": None,
        "plan_market_type": None,
        "issuer_name": None,
        "plan_sponsor_name": None,
        "plan_count": None,
        "dedup_count": None,
        "billing_code_raw": None,
        "billing_code_type_raw": None,
        "amount_raw": None,
        "methodology_raw": None,
        "negotiated_algorithm": None,
        "gross_charge": None,
        "discounted_cash": None,
        "min_charge": None,
        "max_charge": None,
        "estimated_amount": None,
        "median_amount": None,
        "p10_amount": None,
        "p90_amount": None,
        "allowed_count": None,
        "drug_unit": None,
        "drug_unit_type": None,
        "hospital_location": None,
        "hospital_address": None,
        "hospital_license": None,
    }
    row.update(overrides)
    return row


@pytest.fixture
def make_rates():
    """Build a validated rate table from row overrides: ``make_rates(dict(amount_usd=5.0), ...)``."""
    import pandas as pd

    from benchmark.schema import validate_rates

    def build(*rows: dict) -> pd.DataFrame:
        return validate_rates(pd.DataFrame([rate_row(**r) for r in rows]))

    return build
