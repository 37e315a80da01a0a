"""The report says what it is: title, parameters, data sources (files, sha256, dates), time and version."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from datetime import UTC, datetime
from importlib.metadata import version

import pytest
from conftest import REPORT_DATE

from benchmark import config
from benchmark.accounts import declared_date
from benchmark.reporting import about
from benchmark.reporting.report import CodeReport, ReportParams

# data/reference/medicare/PROVENANCE.md: sha256 of PPRRVU2026_Apr_nonQPP_nodesc.txt (the default payment year)
PPRRVU_2026_SHA = "d3821c7ebe4a73f10f4a3e88ebec0e13b168e8726911da7d4996fe95effb254e"


@pytest.fixture(scope="module")
def locality_report():
    return CodeReport.build(ReportParams(code="44320", geography="04412-18"))


@pytest.fixture(scope="module")
def state_report(built_report):
    """Built once per run (conftest.py), shared with the template golden test."""
    return built_report(ReportParams(code="44320", geography="TX", report_date=REPORT_DATE))


def test_dates_come_from_file_names_only_when_they_are_real_dates():
    assert about.name_date("2025-12-01_aetna_ppo_in-network-rates.json.gz") == "2025-12-01"
    assert about.name_date("/x/2024-02-29_cigna_index.json") == "2024-02-29"
    assert about.name_date("2025-02-30_cigna_in-network-rates.json") is None  # not a calendar date
    assert about.name_date("284160435_general-hospital_standardcharges.csv") is None


def test_declared_dates_are_read_in_the_forms_cms_files_use():
    assert declared_date("2026-01-15") == "2026-01-15"
    assert declared_date("1/15/2026") == "2026-01-15"  # CMS's v3.0 CSV example writes M/D/YYYY
    assert declared_date(" 2026-01-15T08:30:00Z ") == "2026-01-15"
    for not_a_date in ("2026-02-30", "13/01/2026", "January 2026", "", None, 20260115):
        assert declared_date(not_a_date) is None, not_a_date


def test_a_file_is_dated_by_what_it_declares_then_by_its_name():
    files = [
        ("2025-12-01_acme_in-network-rates.json", "a" * 64, "2025-11-20"),  # declared wins over the name
        ("2025-12-01_acme_other_in-network-rates.json", "b" * 64, None),  # name only
        ("hospital_standardcharges.csv", "c" * 64, "2026-01-15"),  # declared only
        ("no-date.csv", "d" * 64, None),
    ]
    source = about.files_source("Rates", "label", files)
    assert [f["date"] for f in source["files"]] == ["2025-11-20", "2025-12-01", "2026-01-15", None]
    assert source["date_range"] == {"from": "2025-11-20", "to": "2026-01-15"}
    assert source["files_without_date"] == 1
    assert about.source_line(source).endswith(
        "dated 2025-11-20 to 2026-01-15 (last_updated_on in each file, else its name); "
        "1 without a date (none declared in the file or its name)"
    )


def _declared(path) -> str:
    """last_updated_on as the file writes it, read without paybench (TiC: JSON root; hospital CSV: header row 2)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)["last_updated_on"]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        names, values = next(csv.reader(handle)), next(csv.reader(handle))
    return values[names.index("last_updated_on")]


def test_fingerprint_is_the_sha256_of_the_sorted_file_digests():
    digests = ["b" * 64, "a" * 64]
    expected = hashlib.sha256(("a" * 64 + "\n" + "b" * 64).encode()).hexdigest()[:12]
    assert about.fingerprint(digests) == expected


def test_a_geography_report_names_its_geography_in_title_and_summary(locality_report, state_report):
    summary = locality_report.summary()
    assert summary["title"] == "CPT 44320 — payer benchmark report, 2026 — Medicare locality 04412-18 (Houston)"
    assert summary["report"]["geography"] == "04412-18"
    assert state_report.summary()["title"].endswith("— state TX")
    head = state_report.section_html("summary").split("<h2>")[0]  # the first screen, before the first section title
    assert "<h1>CPT 44320 — payer benchmark report, 2026 — state TX</h1>" in head


def test_summary_json_states_sources_time_and_version(state_report):
    facts = state_report.summary()["report"]
    assert facts["code"] == "44320" and facts["year"] == 2026
    assert facts["payers"] == ["all"] and facts["product_lines"] == ["commercial"]
    assert facts["package_version"] == version("payer-benchmark")
    when = datetime.strptime(facts["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 3600
    rates, medicare = facts["sources"]
    sample = sorted(config.SAMPLE_TIC_DIR.glob("*.json*")) + sorted(config.SAMPLE_HOSPITAL_DIR.glob("*.csv"))
    assert rates["file_count"] == len(sample) == 14
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sample}
    assert {f["file"]: f["sha256"] for f in rates["files"]} == {n: d[:12] for n, d in digests.items()}
    assert rates["fingerprint"] == hashlib.sha256("\n".join(sorted(digests.values())).encode()).hexdigest()[:12]
    declared = {p.name: _declared(p) for p in sample}
    # CMS's two forms (2026-01-15 and 1/15/2026) written as ISO dates; every sample file declares one
    iso = {
        n: datetime.strptime(d, "%m/%d/%Y" if "/" in d else "%Y-%m-%d").date().isoformat() for n, d in declared.items()
    }
    assert {f["file"]: f["date"] for f in rates["files"]} == iso
    assert rates["date_range"] == {"from": min(iso.values()), "to": max(iso.values())}
    assert rates["date_range"] == {"from": "2025-07-01", "to": "2026-01-15"}
    assert rates["files_without_date"] == 0
    assert {"file": "PPRRVU2026_Apr_nonQPP_nodesc.txt", "sha256": PPRRVU_2026_SHA[:12], "date": None} in medicare[
        "files"
    ]


def test_the_first_screen_says_what_the_report_is(state_report):
    head = state_report.section_html("summary").split("<h2>")[0]
    text = re.sub(r"<[^>]+>", " ", head)
    text = re.sub(r"\s+", " ", text)
    for fact in (
        "CPT 44320",
        "Medicare payment year 2026",
        "Payers all",
        "Geography state TX",
        "Product lines commercial",
        "14 files; sha256 ",
        "dated 2025-07-01 to 2026-01-15 (last_updated_on in each file, else its name)",
        "(UTC) by payer-benchmark " + version("payer-benchmark"),
        config.SYNTHETIC_LABEL,
    ):
        assert fact in text, fact
