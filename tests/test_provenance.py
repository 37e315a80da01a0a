"""Every file under data/reference/<kind>/ is listed in that folder's PROVENANCE.md with its exact size and sha256,
and the AMA descriptor fields of the CMS files shipped there are blank."""

import csv
import hashlib
import re
from pathlib import Path

import pytest

from benchmark import config

FOLDERS = sorted(p for p in config.REFERENCE_DIR.iterdir() if p.is_dir())


def listed_files(provenance: Path) -> dict[str, tuple[int, str]]:
    """``{file name: (bytes, sha256)}`` from the table rows of a PROVENANCE.md (file in backticks, first cell)."""
    listed = {}
    for line in provenance.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([^`]+)`", cells[0]) if line.startswith("|") else None
        if not name:
            continue
        sizes = [c for c in cells if re.fullmatch(r"\d{1,3}(,\d{3})*", c)]
        digests = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
        assert len(sizes) == 1 and len(digests) == 1, f"{provenance}: row of {name.group(1)} needs one size, one sha256"
        listed[name.group(1)] = (int(sizes[0].replace(",", "")), digests[0])
    return listed


def test_every_reference_folder_has_provenance():
    assert {p.name for p in FOLDERS} >= {"medicare", "opps", "clfs", "ipps"}
    for folder in FOLDERS:
        assert (folder / "PROVENANCE.md").is_file(), folder


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_sizes_and_checksums_match(folder):
    listed = listed_files(folder / "PROVENANCE.md")
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != "PROVENANCE.md"}
    assert present == set(listed), (
        f"{folder.name}: files not listed {present - set(listed)}, listed but missing {set(listed) - present}"
    )
    for name, (size, digest) in listed.items():
        data = (folder / name).read_bytes()
        assert len(data) == size, f"{folder.name}/{name}: {len(data)} bytes, PROVENANCE.md says {size}"
        assert hashlib.sha256(data).hexdigest() == digest, f"{folder.name}/{name}: sha256 differs from PROVENANCE.md"


def test_pprrvu_descriptors_are_blank():
    for year, path in config.PPRRVU_FILES.items():
        lines = path.read_text(encoding="latin-1").splitlines()
        if lines[0].startswith("HDR"):  # fixed width: DESCRIPTION is columns 8-57
            records = [line for line in lines if not line.startswith("HDR")]
            assert records and all(line[7:57].strip() == "" for line in records), year
            continue
        rows = list(csv.reader(lines))
        header = next(i for i, row in enumerate(rows) if row and row[0] == "HCPCS")
        data = [row for row in rows[header + 1 :] if row and row[0].strip() and row[0] != "\x1a"]
        assert rows[header][2] == "DESCRIPTION" and all(row[2] == "" for row in data), year


def test_opps_and_clfs_descriptors_are_blank():
    for path in config.OPPS_ADDENDUM_B_FILES.values():
        rows = list(csv.reader(path.read_text(encoding="cp1252").splitlines(), delimiter="\t"))
        header = next(i for i, row in enumerate(rows) if row and row[0] == "HCPCS Code")
        assert rows[header][1] == "Short Descriptor"
        assert all(row[1] == "" for row in rows[header + 1 :] if row)
    for path in config.CLFS_FILES.values():
        rows = list(csv.reader(path.read_text(encoding="latin-1").splitlines()))
        header = next(i for i, row in enumerate(rows) if row and row[0] == "YEAR")
        assert rows[header][6:9] == ["SHORTDESC", "LONGDESC", "EXTENDEDLONGDESC"]
        assert all(row[6:9] == ["", "", ""] for row in rows[header + 1 :] if row)
