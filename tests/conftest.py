"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmark import config


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The shared reference folder (public example files, schemas, FORMATS.md) that sits beside the checkout.

    ``PAYBENCH_SHARED_REFERENCE`` points at it explicitly (CI checks the project out elsewhere); otherwise it is
    ``<PROJECT_ROOT>/../shared/reference``. Tests that need it are skipped when it is not there.
    """
    configured = os.environ.get("PAYBENCH_SHARED_REFERENCE")
    folder = Path(configured) if configured else Path(config.PROJECT_ROOT).parent / "shared" / "reference"
    if not folder.is_dir():
        source = "PAYBENCH_SHARED_REFERENCE" if configured else "PROJECT_ROOT/../shared/reference"
        pytest.skip(f"shared reference folder not found at {folder} (from {source}); set PAYBENCH_SHARED_REFERENCE")
    return folder
