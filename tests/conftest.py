"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPORT_DATE = "2026-12-06"  # the fixed report date of the shared reports (expired contracts are counted against it)
ROOT = FIXTURES.parent.parent
_BACKGROUND: dict[str, subprocess.Popen] = {}  # checks started when the tests were collected (see below)


# --------------------------------------------------------------------------------------------------- the type check
def _start_mypy() -> subprocess.Popen | None:
    """``mypy`` over benchmark/ ([tool.mypy] in pyproject.toml), started in the project folder, output in pipes."""
    found = Path(sys.executable).parent / "mypy"
    command = str(found) if found.exists() else shutil.which("mypy")
    if command is None:
        return None
    return subprocess.Popen([command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """When the run includes tests/test_code_quality.py::test_types_check, start mypy now, in the background: without
    a .mypy_cache (a fresh clone, CI) it needs ~30 s of CPU, which then overlap with the other tests (on a second
    core) instead of adding to the run's time; the test reads the result (fixture ``type_check``)."""
    if any(item.nodeid.endswith("test_code_quality.py::test_types_check") for item in session.items):
        started = _start_mypy()
        if started is not None:
            _BACKGROUND["mypy"] = started


# the fixtures that execute the report notebook (a Jupyter kernel, exports, Chromium): their tests are "slow", so
# `pytest -m "not slow"` runs every test that needs no kernel
RENDERS_A_REPORT = {"report_44320", "hostile_report", "three_runs"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RENDERS_A_REPORT & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
