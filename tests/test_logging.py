"""Decisions are logged to the package logger ("benchmark"): silent by default, shown by `paybench -v`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.store import pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
TIC_FILE = FIXTURES / "tic" / "v2" / "in-network-rates-no-npi.json"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.name, record.getMessage()))


@pytest.fixture
def records():
    """The package logger's records at INFO (its CLI configuration, if a test ran the CLI, is put back after)."""
    logger = logging.getLogger("benchmark")
    saved = logger.level, list(logger.handlers), logger.propagate
    handler = _Records()
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    yield handler.messages
    logger.level, logger.propagate = saved[0], saved[2]
    logger.handlers[:] = saved[1]


def _html(tmp_path: Path) -> Path:
    page = tmp_path / "page.json"
    page.write_text("<html>403 Forbidden</html>")
    return page


def test_ingest_logs_files_rejected_and_skipped_as_already_stored(tmp_path: Path, records) -> None:
    store = tmp_path / "store"
    pipeline.ingest([TIC_FILE, _html(tmp_path)], None, store)
    assert [(name, message.split(": ")[:2]) for name, message in records] == [
        ("benchmark.ingest.routing", ["page.json", "rejected"])
    ]
    records.clear()
    pipeline.ingest([TIC_FILE], None, store)
    assert records == [
        (
            "benchmark.store.staging",
            "in-network-rates-no-npi.json: skipped, already in the store (same sha256, codes *)",
        )
    ]


def test_retries_are_logged(tmp_path: Path, records) -> None:
    calls = []

    def flaky(path, codes, *, is_synthetic=False):
        calls.append(path)
        if len(calls) == 1:
            raise ConnectionResetError("connection reset by peer")
        from benchmark.ingest.routing import read_file

        return read_file(path, codes, is_synthetic=is_synthetic)

    pipeline.ingest([TIC_FILE], None, tmp_path / "store", reader=flaky, retries=1)
    assert len(calls) == 2
    assert (
        "benchmark.store.staging",
        "in-network-rates-no-npi.json: attempt 1 failed (ConnectionResetError: connection reset by peer); retrying",
    ) in records


@pytest.fixture
def logger_state():
    """Puts the package logger back as it was after a test that runs the CLI (which configures it)."""
    logger = logging.getLogger("benchmark")
    saved = logger.level, list(logger.handlers), logger.propagate
    yield
    logger.level, logger.propagate = saved[0], saved[2]
    logger.handlers[:] = saved[1]


def test_cli_is_quiet_by_default_and_shows_decisions_with_v(tmp_path: Path, capsys, logger_state) -> None:
    store = str(tmp_path / "store")
    assert cli.main(["ingest", str(TIC_FILE), "--out", store]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["ingest", str(TIC_FILE), "--out", store]) == 0
    assert capsys.readouterr().err == ""  # the summary on stdout says "1 already in it"
    assert cli.main(["-v", "ingest", str(TIC_FILE), "--out", store]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "paybench: INFO benchmark.store.staging: in-network-rates-no-npi.json: skipped, already in the store "
        "(same sha256, codes *)"
    ]


def test_the_library_alone_prints_nothing(tmp_path: Path) -> None:
    """Without logging configured, the package writes nothing to stderr (its records stop at a NullHandler)."""
    code = (
        "import logging, sys; from pathlib import Path; from benchmark.store import pipeline; "
        "logging.getLogger('benchmark').warning('a warning reaches no handler'); "
        "pipeline.ingest([Path(sys.argv[1]), Path(sys.argv[2])], None, Path(sys.argv[3]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(TIC_FILE), str(_html(tmp_path)), str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and run.stderr == ""
