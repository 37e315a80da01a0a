"""The copied fixtures are what tests/fixtures/PROVENANCE.md says they are: every file listed, sizes and sha256 equal."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
CHECKED = ("reference", "golden")  # folders whose every file must be in the table
ROW = re.compile(r"^\| `([^`]+)` \| .* \| `([0-9a-f]{64})` \| (\d+) \|$")


def _table() -> dict[str, tuple[str, int]]:
    rows = {}
    for line in (FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = (match[2], int(match[3]))
    return rows


def test_every_listed_fixture_has_its_recorded_size_and_sha256():
    table = _table()
    assert len(table) >= 30
    for name, (sha256, size) in table.items():
        data = (FIXTURES / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256), name


def test_every_copied_fixture_is_listed():
    table = _table()
    present = {
        path.relative_to(FIXTURES).as_posix()
        for folder in CHECKED
        if (FIXTURES / folder).is_dir()
        for path in (FIXTURES / folder).rglob("*")
        if path.is_file()
    }
    assert present - set(table) == set(), "fixtures without a provenance row"
    assert {name for name in table if name.split("/")[0] in CHECKED} == present


def test_the_real_chargemaster_excerpt_is_the_start_of_the_published_file():
    """The excerpt ends where the table says: 14 lines up to the header, then 1,000 item rows, all CRLF."""
    text = (FIXTURES / "reference/hpt/real/ECMC_Charge_Master_2022.csv").read_bytes().decode("utf-8")
    lines = text.split("\r\n")
    assert lines[-1] == "" and len(lines) == 1015
    assert lines[0].startswith("Hospital Name,,Erie County Medical Center")
    assert lines[13].startswith("Item Code,Description,CDM Revenue Code")
