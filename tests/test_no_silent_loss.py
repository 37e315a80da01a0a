"""No file loses its rates in silence: zips, unsupported layouts, header-only files, repeated rows (issue 13)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from benchmark import cli
from benchmark.ingest.hospital.reader import HospitalFileError, read_standard_charges
from benchmark.ingest.routing import expand_sources, read_file
from benchmark.ingest.validate import validate_file, validate_sources

FIXTURES = Path(__file__).parent / "fixtures" / "cms_validator"
V3_TALL = FIXTURES / "hpt_examples/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv"
V3_JSON = FIXTURES / "hpt_examples/v3.0.0/v3_json_format_example.json"
TIC = FIXTURES / "tic_examples/v2/in-network-rates-fee-for-service-single-plan-sample.json"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def test_every_data_file_of_a_zip_is_read_whatever_its_format(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "mrf.zip",
        {
            "hospital/v3_tall.csv": V3_TALL.read_bytes(),
            "hospital/v3.json": V3_JSON.read_bytes(),
            "payer/rates.json": TIC.read_bytes(),
            "README.txt": b"not data",
        },
    )
    files = expand_sources([archive])
    assert [f.name for f in files] == [
        "mrf.zip!hospital/v3_tall.csv",
        "mrf.zip!hospital/v3.json",
        "mrf.zip!payer/rates.json",
    ]
    direct = read_standard_charges(V3_TALL)
    from_zip = read_file(files[0])
    assert not from_zip.rejected
    assert len(from_zip.rates) == len(direct.rates) > 0
    assert set(from_zip.rates.source_file) == {"mrf.zip!hospital/v3_tall.csv"}
    assert from_zip.accounts[0].rows_seen == direct.accounts[0].rows_seen
    assert len(read_file(files[1]).rates) == len(read_standard_charges(V3_JSON).rates) > 0
    assert len(read_file(files[2]).rates) > 0


def test_ingest_of_a_zip_with_a_hospital_csv_loads_it(tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "hospital.zip", {"V3.0.0_Tall_CSV_Format_Example.csv": V3_TALL.read_bytes()})
    assert cli.main(["ingest", str(archive), "--out", str(tmp_path / "store")]) == 0
    printed = capsys.readouterr().out
    expected = len(read_standard_charges(V3_TALL).rates)
    assert "1 files: 1 read into the store" in printed and f"loaded {expected:,}" in printed


def test_a_zip_without_a_data_file_is_refused_with_its_reason(tmp_path: Path, capsys) -> None:
    archive = _zip(tmp_path / "empty.zip", {"readme.txt": b"nothing here", "logo.png": b"\x89PNG"})
    assert cli.main(["ingest", str(archive), "--out", str(tmp_path / "store")]) == 1
    captured = capsys.readouterr()
    assert "1 rejected" in captured.out
    assert "a zip archive without a data file" in captured.err and "readme.txt, logo.png" in captured.err
    [report] = validate_sources([archive])
    assert not report.valid and list(report.problems.reason_code) == ["empty_archive"]
    assert cli.main(["validate", str(archive)]) == 1


def test_validate_checks_each_member_of_a_zip(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "two.zip", {"a.csv": V3_TALL.read_bytes(), "b.csv": b"not,a,price,file\n1,2,3,4\n"})
    reports = validate_sources([archive])
    assert [r.name for r in reports] == ["two.zip!a.csv", "two.zip!b.csv"]
    assert reports[0].valid and reports[0].cms_version == "3.0.0"
    assert not reports[1].valid and list(reports[1].problems.reason_code) == ["unsupported_file"]


def _pre_2_json(path: Path) -> Path:
    """A hospital JSON in the pre-2.0 layout the issue describes (rates under standard_charge / contracting_method)."""
    item = {
        "description": "Major joint replacement",
        "code_information": [{"code": "470", "type": "MS-DRG"}],
        "standard_charges": [
            {
                "setting": "inpatient",
                "gross_charge": 3000,
                "payers_information": [
                    {
                        "payer_name": "Aetna",
                        "plan_name": "PPO",
                        "standard_charge": 1000,
                        "contracting_method": "case rate",
                    },
                    {
                        "payer_name": "Cigna",
                        "plan_name": "HMO",
                        "standard_charge": 25,
                        "contracting_method": "case rate",
                    },
                ],
            }
        ],
    }
    document = {
        "hospital_name": "Old Hospital",
        "last_updated_on": "2023-01-01",
        "version": "1.1",
        "hospital_location": "Old Hospital",
        "standard_charge_information": [item],
    }
    path.write_text(json.dumps(document))
    return path


def test_a_pre_2_0_hospital_json_is_refused(tmp_path: Path, capsys) -> None:
    path = _pre_2_json(tmp_path / "old.json")
    with pytest.raises(HospitalFileError, match=r"pre-2\.0 hospital JSON.*contracting_method, standard_charge"):
        read_standard_charges(path)
    assert cli.main(["ingest", str(path), "--out", str(tmp_path / "store")]) == 1
    assert "pre-2.0 hospital JSON" in capsys.readouterr().err
    report = validate_file(path)
    assert not report.valid and not report.readable
    assert "unreadable_file" in set(report.problems.reason_code)


def test_a_v2_json_payer_entry_with_unknown_names_is_quarantined_not_dropped(tmp_path: Path) -> None:
    document = json.loads(V3_JSON.read_text(encoding="utf-8-sig"))
    payer = document["standard_charge_information"][0]["standard_charges"][0]["payers_information"][0]
    payer.clear()
    payer.update({"payer_name": "Aetna", "plan_name": "PPO", "negotiated_rate": 1000})
    path = tmp_path / "v3.json"
    path.write_text(json.dumps(document))
    result = read_standard_charges(path)
    flagged = result.quarantine[result.quarantine.reason_code == "unrecognized_payer_fields"]
    assert list(flagged.source_locator) == ["standard_charge_information[0].standard_charges[0].payers_information[0]"]


def test_a_file_with_a_header_and_no_rows_is_refused(tmp_path: Path, capsys) -> None:
    lines = V3_TALL.read_bytes().splitlines(keepends=True)
    path = tmp_path / "header_only.csv"
    path.write_bytes(b"".join(lines[:3]))
    with pytest.raises(HospitalFileError, match="no data row"):
        read_standard_charges(path)
    assert cli.main(["ingest", str(path), "--out", str(tmp_path / "store")]) == 1
    assert "no data row" in capsys.readouterr().err
    report = validate_file(path)
    assert not report.valid and "no_data_rows" in set(report.problems.reason_code)


def test_a_csv_that_is_not_a_price_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,amount\nwidget,3\n")
    result = read_file(path)
    assert result.rates.empty and len(result.rejected) == 1
    assert cli.main(["validate", str(path)]) == 1


def test_identical_rows_are_merged_with_a_count(tmp_path: Path) -> None:
    """A file that repeats a whole payer block counts each distinct rate once (dedup_count = copies)."""
    lines = V3_TALL.read_bytes().splitlines(keepends=True)
    path = tmp_path / "repeated.csv"
    path.write_bytes(b"".join(lines) + b"".join(lines[3:13]))  # rows 4-13 published twice
    once, twice = read_standard_charges(V3_TALL), read_standard_charges(path)
    a, b = once.accounts[0], twice.accounts[0]
    assert b.rows_loaded == a.rows_loaded and len(twice.rates) == len(once.rates)
    assert b.rows_deduplicated - a.rows_deduplicated == b.rows_seen - a.rows_seen > 0
    assert b.rows_seen == b.rows_loaded + b.rows_quarantined + b.rows_filtered_out + b.rows_deduplicated
    per_payer_once = once.rates.groupby("payer_raw").size()
    per_payer_twice = twice.rates.groupby("payer_raw").size()
    assert per_payer_once.equals(per_payer_twice)  # n per payer counts distinct rates
    repeated = twice.rates[twice.rates.source_locator.isin([f"line {n}" for n in range(4, 14)])]
    assert (repeated.dedup_count >= 2).all()
    assert (twice.rates.dedup_count.sum()) == b.rows_loaded + b.rows_deduplicated


def test_cms_version_option_checks_against_another_version(tmp_path: Path, capsys) -> None:
    assert cli.main(["validate", str(V3_TALL)]) == 0
    assert cli.main(["validate", str(V3_TALL), "--cms-version", "2.2.0"]) == 1
    printed = capsys.readouterr().out
    assert "INVALID (CMS v2.2.0 rules)" in printed and "column_missing" in printed  # v2.2 requires estimated_amount
    assert cli.main(["validate", str(V3_TALL), "--cms-version", "9.9"]) == 2
    assert "--cms-version '9.9'" in capsys.readouterr().err


def test_ingest_names_a_file_read_with_rows_but_no_rate_loaded(tmp_path: Path, capsys) -> None:
    """Exit 0 is right (nothing failed), but a file that gave no rate is said on stderr, with its counts."""
    [rows] = read_standard_charges(V3_TALL).accounts
    assert cli.main(["ingest", str(V3_TALL), "--codes", "00000", "--out", str(tmp_path / "none")]) == 0
    err = capsys.readouterr().err
    assert f"NO RATES {V3_TALL.name}: {rows.rows_seen:,} rows seen, none loaded for the codes asked" in err
    assert f"filtered out {rows.rows_seen:,}" in err  # every row is outside the codes asked
    assert cli.main(["ingest", str(V3_TALL), "--out", str(tmp_path / "some")]) == 0
    assert "NO RATES" not in capsys.readouterr().err
