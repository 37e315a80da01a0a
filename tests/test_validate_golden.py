"""The full problem list of ``paybench validate`` on messy hospital files is exactly what it was before the validate
speed-up of issue 13 (Must 5): a speed-up may not add, drop or reword a single problem.

``tests/fixtures/validate_golden/problems.json.gz`` (one problem a line) and ``summaries.json`` were written by the pre-speed-up code
(commit 37fd3ff) for the messy files of that folder (``make_messy.py``; synthetic sample data -- not actual payer
rates) and for every hospital CSV/JSON of ``tests/fixtures/cms_validator`` (not the TiC ones). This is a regression golden, not a proof
of correctness: the rules themselves are tested in test_validate.py, test_cms_parity.py and the reader tests.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from benchmark.ingest.validate import PROBLEM_COLUMNS, validate_file

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "validate_golden"
_EXPECTED = [json.loads(line) for line in gzip.decompress((GOLDEN / "problems.json.gz").read_bytes()).splitlines()]
_SUMMARIES = json.loads((GOLDEN / "summaries.json").read_text())


def test_the_golden_covers_the_messy_files_and_the_cms_fixtures() -> None:
    assert len(_SUMMARIES) > 140
    assert {"validate_golden/messy_tall_v3.csv", "validate_golden/messy_wide_v3.csv"} <= set(_SUMMARIES)
    assert len(_EXPECTED) > 7000


@pytest.mark.parametrize("relative", sorted(_SUMMARIES))
def test_problem_list_is_unchanged(relative: str) -> None:
    report = validate_file(FIXTURES / relative)
    assert report.summary() == _SUMMARIES[relative]
    found = report.problems.assign(source_file=relative)[PROBLEM_COLUMNS].astype(object)
    found = found.where(found.notna(), None).to_dict("records")
    assert found == [problem for problem in _EXPECTED if problem["source_file"] == relative]
