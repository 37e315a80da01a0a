"""``paybench validate``: every problem of a file with location, reason and severity, nothing loaded or written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark import cli, config, lean_imports
from benchmark.ingest.hospital.cms_csv import ATTESTATION
from benchmark.ingest.validate import PROBLEM_COLUMNS, validate_file

FIXTURES = Path(__file__).parent / "fixtures" / "cms_validator"
# A complete CMS v3.0 tall file: general data elements, their values, the column headers (every required column).
GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|TX,type_2_npi,"
    f'"{ATTESTATION}",attester_name\n'
    'Test Hospital,2026-01-01,3.0.0,Test Hospital,"1 Main St, Austin, TX 78701",12345,1234567893,true,A. Person\n'
)
HEADER = (
    "description,code|1,code|1|type,setting,standard_charge|gross,payer_name,plan_name,modifiers,"
    "standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,standard_charge|negotiated_algorithm,"
    "standard_charge|methodology,standard_charge|min,standard_charge|max,standard_charge|discounted_cash,"
    "additional_generic_notes,drug_unit_of_measurement,drug_type_of_measurement,median_amount,10th_percentile,"
    "90th_percentile,count\n"
)
PAD = ",,,,,,,,"  # the eight optional columns after standard_charge|max, blank
GOOD = "Visit,99213,CPT,outpatient,200,Aetna,PPO,,100,,,fee schedule,90,110" + PAD


def row(text: str) -> str:
    """A data row of HEADER given its first 14 cells (the rest blank)."""
    return text + PAD


def _write(
    tmp_path: Path, body: str | bytes, name: str = "f.csv", general: str = GENERAL, header: str = HEADER
) -> Path:
    path = tmp_path / name
    path.write_bytes((general + header + body).encode("utf-8") if isinstance(body, str) else body)
    return path


def _problems(report) -> list[tuple[str, str, str]]:
    return list(report.problems[["location", "severity", "reason_code"]].itertuples(index=False, name=None))


def test_a_clean_file_has_no_problems(tmp_path: Path) -> None:
    report = validate_file(_write(tmp_path, GOOD + "\n"))
    assert report.problems.empty and report.readable and report.valid
    assert list(report.problems.columns) == PROBLEM_COLUMNS
    assert report.cms_version == "3.0.0"
    assert report.account.rows_loaded == 1 and "VALID (CMS v3.0.0 rules): 0 error(s), 0 warning(s)" in report.summary()


def test_every_row_problem_is_listed_without_a_cap(tmp_path: Path) -> None:
    bad = "".join(
        row(f"Visit,9{i:04d},CPT,outpatient,200,Aetna,PPO,,N/A,,,fee schedule,90,110") + "\n" for i in range(1500)
    )
    report = validate_file(_write(tmp_path, GOOD + "\n" + bad + GOOD.replace("99213", "99214") + "\n"))
    errors = report.problems[report.problems.severity == "error"]
    # CMS: a negotiated dollar must be a positive number; paybench does not load the row (a warning with its reason)
    assert len(errors) == 1500 and set(errors.reason_code) == {"invalid_number"}
    assert list(errors.location) == [f"line {n} column 9" for n in range(5, 1505)]  # in file order
    assert set(errors.raw_value) == {"N/A"}
    not_loaded = report.problems[report.problems.reason_code == "not_a_number"]
    assert len(not_loaded) == 1500 and set(not_loaded.severity) == {"warning"}
    assert not_loaded.detail.str.startswith("not loaded: ").all()
    assert report.account.rows_loaded == 2 and report.errors == 1500 and not report.valid


def test_all_header_problems_are_listed_not_only_the_first(tmp_path: Path) -> None:
    header = HEADER.replace("payer_name", "[payer_name]").replace(
        "standard_charge|min", "standard_charge|negotiated_dollar"
    )
    general = GENERAL.replace("2026-01-01", "2025-02-31")
    report = validate_file(_write(tmp_path, GOOD + "\n", general=general, header=header))
    assert not report.readable
    found = _problems(report)
    assert ("line 2 column 2", "error", "invalid_date") in found  # CMS: a real date, YYYY-MM-DD or M/D/YYYY
    assert ("line 3 column 6", "error", "placeholder") in found
    assert ("line 3", "error", "ambiguous_format") in found  # without payer_name it is neither tall nor wide
    assert ("line 3 column 13", "error", "duplicate_column") in found
    assert len(found) == 4  # the reader's own header errors restate these: listed once


def test_row_warnings_and_errors_in_one_file(tmp_path: Path) -> None:
    rows = (
        GOOD
        + "\n"
        + row("Lab,450,REV,outpatient,50,Aetna,PPO,,40,,,fee schedule,,")
        + "\n"  # code fixed; no min/max
        + "Visit,99214,CPT,outpatient,200,Aetna,PPO,,100\n"  # short row
        + row("Visit,99215,CPT,outpatient,200,,PPO,,100,,,fee schedule,90,110")
        + "\n"
    )  # no payer
    cp1252_row = row("Caf\u00e9,99216,CPT,outpatient,1,Aetna,PPO,,5,,,fee schedule,5,5").encode("cp1252") + b"\n"
    body = (GENERAL + HEADER + rows).encode("utf-8") + cp1252_row
    report = validate_file(_write(tmp_path, body))
    found = _problems(report)
    assert ("line 5", "warning", "code_normalized") in found
    assert ("line 5", "warning", "code_type_normalized") in found
    assert ("line 5 column 3", "error", "invalid_code_type") in found  # CMS: REV is not a code type (RC is)
    assert ("line 5 column 13", "error", "dollar_needs_min_max") in found
    assert ("line 6", "warning", "short_row") in found
    assert ("line 6 column 12", "error", "required_value") in found  # CMS: a dollar needs its methodology
    assert ("line 6", "warning", "unknown_methodology") in found  # not loaded
    assert ("line 7 column 6", "error", "required_value") in found  # CMS: a dollar needs the payer name
    assert ("line 7", "warning", "missing_payer") in found
    assert ("line 8", "warning", "not_utf8") in found
    detail = report.problems.set_index(["location", "reason_code"]).loc[("line 5", "code_normalized"), "detail"]
    assert detail == "code '450' read as '0450' (leading zeros restored)"


def test_an_unbalanced_quote_is_reported_and_the_rows_after_it_are_still_checked(tmp_path: Path) -> None:
    rows = [
        GOOD,
        row('"Broken,99214,CPT,outpatient,200,Aetna,PPO,,100,,,fee schedule,90,110'),
        GOOD.replace("99213", "99215"),
        row("Visit,99216,CPT,outpatient,200,Aetna,PPO,,see contract,,,fee schedule,1,1"),
    ]
    report = validate_file(_write(tmp_path, "\n".join(rows) + "\n"))
    found = _problems(report)
    assert ("line 5", "error", "unbalanced_quote") in found
    assert ("line 7 column 9", "error", "invalid_number") in found
    assert ("line 7", "warning", "not_a_number") in found
    assert report.account.rows_loaded == 2  # lines 4 and 6


def test_unreadable_and_foreign_files(tmp_path: Path) -> None:
    html = tmp_path / "page.csv"
    html.write_text("<html>403 Forbidden</html>")
    report = validate_file(html)
    assert report.errors == 1 and not report.readable
    assert report.problems.iloc[0].reason_code == "unsupported_file"
    tic = validate_file(FIXTURES / "tic_examples/v2/in-network-rates-fee-for-service-single-plan-sample.json")
    assert tic.readable and tic.valid and tic.layout == "TiC in-network rate file" and tic.cms_version == "2.2.0"


def test_a_chargemaster_is_readable_but_not_a_cms_file(shared_reference: Path) -> None:
    ecmc = validate_file(shared_reference / "hpt/real/ECMC_Charge_Master_2022.csv")
    assert ecmc.readable and not ecmc.valid and ecmc.cms_version is None
    assert list(ecmc.problems.reason_code) == ["not_cms_template", "no_payer_columns"]
    assert ecmc.account.rows_seen == ecmc.account.rows_filtered_out == 1_000  # item rows of the excerpt


def test_cli_prints_every_problem_writes_csv_and_sets_the_exit_status(tmp_path: Path, capsys) -> None:
    clean = _write(tmp_path, GOOD + "\n", name="clean.csv")
    assert cli.main(["validate", str(clean)]) == 0
    bad = _write(
        tmp_path,
        "".join(row(f"Visit,9{i:04d},CPT,outpatient,200,Aetna,PPO,,0,,,fee schedule,1,1") + "\n" for i in range(300)),
        name="bad.csv",
    )
    out_csv = tmp_path / "problems.csv"
    assert cli.main(["validate", str(clean), str(bad), "--csv", str(out_csv)]) == 1
    printed = capsys.readouterr().out
    assert printed.count("invalid_number") == 300 and "line 303 column 9: invalid_number" in printed
    assert printed.count("rate_not_positive") == 300  # the warnings saying why each rate is not loaded
    assert "INVALID (CMS v3.0.0 rules): 300 error(s), 300 warning(s); file readable" in printed
    written = pd.read_csv(out_csv, dtype=str)
    assert len(written) == 600 and set(written.source_file) == {"bad.csv"}


@pytest.mark.parametrize(
    "relative",
    ["V3.0.0_Tall_CSV_Format_Example.csv", "V3.0.0_Wide_CSV_Format_Example.csv", "v3_json_format_example.json"],
)
def test_the_cms_v3_examples_are_valid(relative: str) -> None:
    """CMS's own v3.0 examples are valid; their algorithm-only charges are listed as not loaded (warnings)."""
    report = validate_file(FIXTURES / "hpt_examples/v3.0.0" / relative)
    assert report.valid and report.cms_version == "3.0.0", report.problems.head().to_dict("records")
    algorithm_only = report.problems[report.problems.reason_code == "algorithm_only"]
    assert len(algorithm_only) > 0 and set(algorithm_only.severity) == {"warning"}


def test_every_value_the_reader_changes_is_a_warning_with_its_reason(tmp_path: Path) -> None:
    """The issue's list: '$34' read as 34, code types BOAT / MS-DRGG kept, a bad setting read as unknown, a 10th
    percentile of 0 dropped, a modifier-only row not loaded -- each is listed, with its reason code."""
    rows = [
        row("Visit,99213,CPT,outpatient,$34,Aetna,PPO,,100,,,fee schedule,90,110"),
        row("Boat,99214,BOAT,outpatient,200,Aetna,PPO,,100,,,fee schedule,90,110"),
        row("Joint,470,MS-DRGG,inpatient,200,Aetna,PPO,,100,,,case rate,90,110"),
        row("Visit,99215,CPT,sometimes,200,Aetna,PPO,,100,,,fee schedule,90,110"),
        "Visit,99216,CPT,outpatient,200,Aetna,PPO,,,50,,fee schedule,,,,,,,120,0,150,12",
        row(",,,,,Aetna,PPO,25,100,,,fee schedule,,"),
    ]
    report = validate_file(_write(tmp_path, "\n".join(rows) + "\n"))
    warnings = {(p.location, p.reason_code): p.detail for p in report.problems.itertuples() if p.severity == "warning"}
    assert warnings[("line 4", "amount_normalized")] == "gross charge '$34' read as 34"
    assert "'BOAT' is not a CMS code type; kept as published" in warnings[("line 5", "code_type_unknown")]
    assert "'MS-DRGG'" in warnings[("line 6", "code_type_unknown")]
    assert warnings[("line 7", "setting_unknown")] == "setting 'sometimes' is not a CMS value; read as 'unknown'"
    assert "10th percentile '0' is not a usable amount" in warnings[("line 8", "value_dropped")]
    assert ("line 9", "modifier_row_not_loaded") in warnings
    errors = set(_problems(report))  # and CMS calls each of them an error
    assert {
        ("line 4 column 5", "error", "invalid_number"),
        ("line 5 column 3", "error", "invalid_code_type"),
        ("line 6 column 3", "error", "invalid_code_type"),
        ("line 7 column 4", "error", "invalid_setting"),
        ("line 8 column 20", "error", "invalid_number"),
    } <= errors


def test_a_json_number_given_as_text_is_a_warning(tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "hpt_examples/v3.0.0/v3_json_format_example.json").read_text("utf-8-sig"))
    charge = document["standard_charge_information"][0]["standard_charges"][0]
    charge["gross_charge"] = "105.34"
    path = tmp_path / "text_number.json"
    path.write_text(json.dumps(document))
    report = validate_file(path)
    found = report.problems.set_index(["location", "reason_code"])
    where = "standard_charge_information[0].standard_charges[0].gross_charge"
    assert found.loc[(where, "number_from_text"), "severity"] == "warning"
    assert found.loc[(where, "schema"), "severity"] == "error"  # CMS: gross_charge must be a number
    assert not report.valid


def test_a_modifier_row_does_not_hide_the_notes_rule_of_the_rows_beside_it(tmp_path: Path) -> None:
    """A modifier row's check (notes or a charge) once widened, in place, the cached "has additional notes" column
    of the chunk, so an "other" methodology row without notes passed when a modifier row came before it."""
    other = row("Visit,99213,CPT,outpatient,200,Aetna,PPO,,100,,,other,90,110") + "\n"
    modifier = row("Mod,,,,,Aetna,PPO,25,100,,,fee schedule,90,110") + "\n"
    alone = validate_file(_write(tmp_path, other, name="alone.csv"))
    beside = validate_file(_write(tmp_path, modifier + other, name="beside.csv"))
    assert ("line 4 column 16", "error", "other_needs_notes") in _problems(alone)
    assert ("line 5 column 16", "error", "other_needs_notes") in _problems(beside)


def _formats(node: object) -> set[str]:
    if isinstance(node, dict):
        own = {node["format"]} if isinstance(node.get("format"), str) else set()
        return own.union(*(_formats(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(value) for value in node))
    return set()


def test_every_format_a_cms_schema_names_has_a_checker() -> None:
    """jsonschema is imported without rfc3987_syntax (benchmark.lean_imports), so it has no checker for ``iri`` or
    ``iri-reference``: a shipped CMS schema that named one would have those values accepted unchecked."""
    schemas = sorted(config.DATA_DIR.joinpath("cms_schemas").rglob("*.json"))
    assert schemas
    named = set().union(*(_formats(json.loads(path.read_text(encoding="utf-8"))) for path in schemas))
    assert named >= {"date", "uri"}  # what the schemas use today: the walk above finds them
    checkers = lean_imports.import_jsonschema().Draft7Validator.FORMAT_CHECKER.checkers
    assert named <= set(checkers), f"formats without a checker: {sorted(named - set(checkers))}"
