"""``paybench validate`` agrees with CMS on what a valid file is.

The cases are CMS's own: the fixtures of CMS's hospital validator (CMSgov/hpt-validator) with the verdicts its unit
tests assert, files reproducing the scenarios of those unit tests, CMS's hospital examples, and the TiC guide's
examples and spec-test scenarios (tests/fixtures/cms_validator/PROVENANCE.md, manifest.json). Each case is checked
against the CMS version CMS's test used. The verdict (valid / invalid) must match on at least 95% of the cases;
every disagreement is listed. Within a matching verdict, the rule ids CMS's test names must be among those reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from benchmark import config
from benchmark.ingest.validate import validate_sources

FIXTURES = Path(__file__).parent / "fixtures" / "cms_validator"
CASES = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))["cases"]
TARGET = 0.95
# Cases where paybench knowingly reports a different rule than CMS's test names (the verdict is the same); the
# README ("Where paybench differs from CMS") says why.
RULE_DIFFERENCES = {
    # '{}': no key tells a hospital file from a TiC file, so paybench cannot pick a schema; CMS is told the kind
    "hpt_validator/sample-empty.json": "unsupported_file",
}


def _case_id(case: dict) -> str:
    return f"{case['file']}@{case['cms_version']}"


def _verdict(case: dict) -> tuple[str, set[str], set[str]]:
    [report] = validate_sources([FIXTURES / case["file"]], cms_version=case["cms_version"])
    problems = report.problems
    errors = set(problems.reason_code[problems.severity == "error"])
    warnings = set(problems.reason_code[problems.severity == "warning"])
    return ("valid" if report.valid else "invalid"), errors, warnings


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[str, set[str], set[str]]]:
    return {_case_id(case): _verdict(case) for case in CASES}


def test_the_case_set_is_cms_material() -> None:
    assert len(CASES) >= 200
    kinds = {case["kind"] for case in CASES}
    assert {"hospital", "tic_in_network", "tic_toc", "tic_allowed_amounts"} <= kinds
    versions = {case["cms_version"] for case in CASES if case["kind"] == "hospital"}
    assert {"2.0.0", "2.1.0", "2.2.0", "3.0.0"} <= versions
    assert {case["format"] for case in CASES} == {"csv", "json"}
    verdicts = [case["verdict"] for case in CASES]
    assert verdicts.count("valid") > 50 and verdicts.count("invalid") > 50


def test_agreement_with_cms_is_at_least_95_percent(outcomes) -> None:
    disagreements = [
        f"{_case_id(case)}: CMS says {case['verdict']}, paybench {outcomes[_case_id(case)][0]} "
        f"(errors {sorted(outcomes[_case_id(case)][1])})"
        for case in CASES
        if outcomes[_case_id(case)][0] != case["verdict"]
    ]
    rate = 1 - len(disagreements) / len(CASES)
    print(f"agreement with CMS: {rate:.1%} of {len(CASES)} cases; disagreements: {disagreements or 'none'}")
    assert rate >= TARGET, "\n".join(disagreements)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_each_case(case: dict, outcomes) -> None:
    """Per case: the verdict, and the rules CMS's test names among the errors / warnings reported."""
    verdict, errors, warnings = outcomes[_case_id(case)]
    assert verdict == case["verdict"], f"{case['source']}: errors {sorted(errors)}"
    expected_errors = set(case["errors"])
    if case["file"] in RULE_DIFFERENCES:
        expected_errors = {RULE_DIFFERENCES[case["file"]]}
    assert expected_errors <= errors, f"{case['source']}: expected {sorted(expected_errors)}, got {sorted(errors)}"
    assert set(case["warnings"]) <= warnings, f"{case['source']}: warnings {sorted(warnings)}"


def _table(path: Path) -> list[tuple[str, str, int]]:
    rows = re.findall(r"^\| (\S+) \| .+ \| ([0-9a-f]{64}) \| ([\d,]+) \|$", path.read_text(), flags=re.M)
    return [(name, digest, int(size.replace(",", ""))) for name, digest, size in rows]


def test_fixture_checksums() -> None:
    """Every fixture file is listed in PROVENANCE.md with its sha256 and size, and still has them."""
    listed = _table(FIXTURES / "PROVENANCE.md")
    files = sorted(
        p.relative_to(FIXTURES).as_posix()
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.name not in ("PROVENANCE.md", "manifest.json")
    )
    assert sorted(name for name, _, _ in listed) == files
    for name, digest, size in listed:
        data = (FIXTURES / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, size), name
    for case in CASES:  # the manifest names the same bytes
        data = (FIXTURES / case["file"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (case["sha256"], case["bytes"]), case["file"]


def test_schema_checksums() -> None:
    """The CMS schemas validate applies are CMS's published bytes (data/cms_schemas/PROVENANCE.md)."""
    folder = config.DATA_DIR / "cms_schemas"
    listed = _table(folder / "PROVENANCE.md")
    assert sorted(name for name, _, _ in listed) == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*.json")
    )
    for name, digest, size in listed:
        data = (folder / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, size), name
