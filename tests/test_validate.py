"""``paybench validate``: every problem of a file with location, reason and severity, nothing loaded or written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark import cli
from benchmark.ingest.validate import PROBLEM_COLUMNS, validate_file

GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|TX,type_2_npi\n"
    'Test Hospital,2026-01-01,3.0.0,Test Hospital,"1 Main St, Austin, TX 78701",12345,1234567893\n'
)
HEADER = (
    "description,code|1,code|1|type,setting,standard_charge|gross,payer_name,plan_name,modifiers,"
    "standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,standard_charge|negotiated_algorithm,"
    "standard_charge|methodology,standard_charge|min,standard_charge|max\n"
)
GOOD = "Visit,99213,CPT,outpatient,200,Aetna,PPO,,100,,,fee schedule,90,110"


def _write(tmp_path: Path, body: str, name: str = "f.csv", general: str = GENERAL, header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_bytes((general + header + body).encode("utf-8") if isinstance(body, str) else body)
    return path


def _problems(report) -> list[tuple[str, str, str]]:
    return list(report.problems[["location", "severity", "reason_code"]].itertuples(index=False, name=None))


def test_a_clean_file_has_no_problems(tmp_path: Path) -> None:
    report = validate_file(_write(tmp_path, GOOD + "\n"))
    assert report.problems.empty and report.readable
    assert list(report.problems.columns) == PROBLEM_COLUMNS
    assert report.account.rows_loaded == 1 and "0 error(s), 0 warning(s)" in report.summary()


def test_every_row_problem_is_listed_without_a_cap(tmp_path: Path) -> None:
    bad = "".join(f"Visit,9{i:04d},CPT,outpatient,200,Aetna,PPO,,N/A,,,fee schedule,90,110\n" for i in range(1500))
    report = validate_file(_write(tmp_path, GOOD + "\n" + bad + GOOD.replace("99213", "99214") + "\n"))
    errors = report.problems[report.problems.severity == "error"]
    assert len(errors) == 1500 and set(errors.reason_code) == {"not_a_number"}
    assert list(errors.location) == [f"line {n}" for n in range(5, 1505)]  # in file order
    assert report.account.rows_loaded == 2 and report.errors == 1500


def test_all_header_problems_are_listed_not_only_the_first(tmp_path: Path) -> None:
    header = HEADER.replace("payer_name", "[payer_name]").replace(
        "standard_charge|min", "standard_charge|negotiated_dollar"
    )
    general = GENERAL.replace("2026-01-01", "2025-02-31")
    report = validate_file(_write(tmp_path, GOOD + "\n", general=general, header=header))
    assert not report.readable
    found = _problems(report)
    assert ("line 2", "warning", "bad_date") in found
    assert ("line 3 column 6", "error", "placeholder_header") in found
    assert ("line 3 column 13", "error", "duplicate_column") in found
    assert ("line 3", "error", "neither_tall_nor_wide") in found  # without payer_name it is not tall


def test_row_warnings_and_errors_in_one_file(tmp_path: Path) -> None:
    rows = (
        GOOD
        + "\n"
        + "Lab,450,REV,outpatient,50,Aetna,PPO,,40,,,fee schedule,,\n"  # code fixed; no min/max
        + "Visit,99214,CPT,outpatient,200,Aetna,PPO,,100\n"  # short row
        + "Visit,99215,CPT,outpatient,200,,PPO,,100,,,fee schedule,90,110\n"
    )  # no payer
    cp1252_row = "Caf\u00e9,99216,CPT,outpatient,1,Aetna,PPO,,5,,,fee schedule,5,5\n".encode("cp1252")
    body = (GENERAL + HEADER + rows).encode("utf-8") + cp1252_row
    report = validate_file(_write(tmp_path, body))
    found = _problems(report)
    assert ("line 5", "warning", "code_normalized") in found
    assert ("line 5", "warning", "code_type_normalized") in found
    assert ("line 5", "warning", "missing_min_max") in found
    assert ("line 6", "warning", "short_row") in found
    assert ("line 6", "error", "unknown_methodology") in found  # the missing cells held the methodology
    assert ("line 7", "error", "missing_payer") in found
    assert ("line 8", "warning", "not_utf8") in found
    detail = report.problems.set_index(["location", "reason_code"]).loc[("line 5", "code_normalized"), "detail"]
    assert detail == "code '450' read as '0450' (leading zeros restored)"


def test_an_unbalanced_quote_is_reported_and_the_rows_after_it_are_still_checked(tmp_path: Path) -> None:
    rows = [
        GOOD,
        '"Broken,99214,CPT,outpatient,200,Aetna,PPO,,100,,,fee schedule,90,110',
        GOOD.replace("99213", "99215"),
        "Visit,99216,CPT,outpatient,200,Aetna,PPO,,see contract,,,fee schedule,1,1",
    ]
    report = validate_file(_write(tmp_path, "\n".join(rows) + "\n"))
    found = _problems(report)
    assert ("line 5", "error", "unbalanced_quote") in found
    assert ("line 7", "error", "not_a_number") in found
    assert report.account.rows_loaded == 2  # lines 4 and 6


def test_unreadable_and_foreign_files(tmp_path: Path, shared_reference: Path) -> None:
    html = tmp_path / "page.csv"
    html.write_text("<html>403 Forbidden</html>")
    report = validate_file(html)
    assert report.errors == 1 and not report.readable
    assert report.problems.iloc[0].reason_code == "unsupported_file"
    tic = validate_file(shared_reference / "tic/v2/in-network-rates-fee-for-service-single-plan-sample.json")
    assert tic.readable and tic.layout == "TiC in-network rate file"
    ecmc = validate_file(shared_reference / "hpt/real/ECMC_Charge_Master_2022.csv")
    assert ecmc.errors == 0 and list(ecmc.problems.reason_code) == ["no_payer_columns"]
    assert ecmc.account.rows_seen == ecmc.account.rows_filtered_out == 1_000  # item rows of the excerpt


def test_cli_prints_every_problem_writes_csv_and_sets_the_exit_status(tmp_path: Path, capsys) -> None:
    clean = _write(tmp_path, GOOD + "\n", name="clean.csv")
    assert cli.main(["validate", str(clean)]) == 0
    bad = _write(
        tmp_path,
        "".join(f"Visit,9{i:04d},CPT,outpatient,200,Aetna,PPO,,0,,,fee schedule,1,1\n" for i in range(300)),
        name="bad.csv",
    )
    out_csv = tmp_path / "problems.csv"
    assert cli.main(["validate", str(clean), str(bad), "--csv", str(out_csv)]) == 1
    printed = capsys.readouterr().out
    assert printed.count("rate_not_positive") == 300 and "line 303: rate_not_positive" in printed
    assert "300 error(s), 0 warning(s); file readable" in printed
    written = pd.read_csv(out_csv, dtype=str)
    assert len(written) == 300 and set(written.source_file) == {"bad.csv"}


@pytest.mark.parametrize(
    "relative", ["hpt/v3.0.0/V3.0.0_Tall_CSV_Format_Example.csv", "hpt/v3.0.0/v3_json_format_example.json"]
)
def test_cms_examples_list_only_their_unloadable_rows_as_errors(shared_reference: Path, relative: str) -> None:
    report = validate_file(shared_reference / relative)
    errors = report.problems[report.problems.severity == "error"]
    assert set(errors.reason_code) == {"algorithm_only"} and len(errors) == report.account.rows_quarantined == 10
