"""What real hospital files get wrong (FORMATS.md section 4): each is normalized with its raw value kept, quarantined
with a reason code, or refused as a whole with the line and column -- and the fast columnar path reads messy files
exactly like the record-by-record path."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from benchmark.ingest.hospital import csv_layout as hospital_csv
from benchmark.ingest.hospital.reader import HospitalFileError, check_standard_charges, read_standard_charges
from benchmark.normalize.hospital_units import normalize_code, parse_amount
from benchmark.schema import QuarantineSchema, validate_rates

GENERAL = (
    "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|TX,type_2_npi\n"
    'Test Hospital,2026-01-01,3.0.0,Test Hospital,"1 Main St, Austin, TX 78701",12345,1234567893\n'
)
HEADER = (
    "description,code|1,code|1|type,setting,standard_charge|gross,payer_name,plan_name,modifiers,"
    "standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,standard_charge|negotiated_algorithm,"
    "standard_charge|methodology\n"
)


def _file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(GENERAL + header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _checked(result):
    result.accounts[0].check()
    validate_rates(result.rates)
    QuarantineSchema.validate(result.quarantine)
    return result


def _row(
    code: str,
    code_type: str,
    dollar: str = "100",
    percentage: str = "",
    modifiers: str = "",
    methodology: str = "fee schedule",
    gross: str = "",
) -> str:
    return f"Item,{code},{code_type},outpatient,{gross},Aetna,PPO,{modifiers},{dollar},{percentage},,{methodology}"


@pytest.mark.parametrize(
    "raw,kind,expected",
    [
        ("44320.0", "CPT", ("44320", "CPT", "", "")),  # Excel decimal
        ("100", "CPT", ("00100", "CPT", "", "")),  # Excel dropped the zeros of anesthesia code 00100
        ("450", "RC", ("0450", "RC", "", "")),  # revenue codes have 4 digits
        ("450", "Rev Code", ("0450", "RC", "", "")),
        ("1", "MS-DRG", ("001", "MS-DRG", "", "")),
        ("0470", "MSDRG", ("470", "MS-DRG", "", "")),  # DRG written with a leading zero
        ("44320-80", "CPT", ("44320", "CPT", "80", "")),  # modifier glued to the code
        ("99213 25", "CPT4", ("99213", "CPT", "25", "")),
        ("CPT 44320", "CPT", ("44320", "CPT", "", "")),  # type word before the code
        ("j1450", "CPT", ("J1450", "HCPCS", "", "")),  # CPT/HCPCS swapped: the shape decides
        ("99213", "HCPC", ("99213", "CPT", "", "")),
        ("0013A", "CPT/HCPCS", ("0013A", "CPT", "", "")),
        ("2.14338E+06", "NDC", ("2.14338E+06", "NDC", "", "code_mangled")),
        ("4510036000", "CPT", ("4510036000", "CPT", "", "invalid_code")),
        ("99213", "", ("99213", "", "", "missing_code_type")),
        ("ABC1", "LOCAL", ("ABC1", "LOCAL", "", "")),
    ],
)
def test_normalize_code(raw: str, kind: str, expected: tuple) -> None:
    code, code_type, modifier, problem, _, _ = normalize_code(raw, kind)
    assert (code, code_type, modifier, problem) == expected


@pytest.mark.parametrize(
    "text,percent,expected",
    [
        ("$1,234.50", False, (1234.5, None)),
        (" $1,231.21 ", False, (1231.21, None)),
        ("(5.00)", False, (-5.0, "rate_not_positive")),
        ("-$5", False, (-5.0, "rate_not_positive")),
        ("4.432E+04", False, (44320.0, None)),
        ("70%", True, (70.0, None)),
        ("70%", False, (None, "percent_in_dollar_field")),
        ("1.234,50", False, (None, "not_a_number")),
        ("VARIES", False, (None, "not_a_number")),
        ("999999999", False, (999999999.0, "placeholder_value")),
        ("9999999.00", False, (9999999.0, "placeholder_value")),
        ("inf", False, (None, "not_a_number")),
    ],
)
def test_parse_amount(text: str, percent: bool, expected: tuple) -> None:
    assert parse_amount(text, percent=percent) == expected


def test_codes_are_normalized_with_the_published_value_kept(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _row("44320.0", "CPT"),
        _row("44320-80", "CPT", modifiers="50"),
        _row("450", "REV"),
        _row("2.14338E+06", "NDC"),
        _row("4510036000", "CPT"),
    )
    result = _checked(read_standard_charges(path))
    rates = result.rates.set_index("source_locator")
    assert rates.loc["line 4", ["billing_code", "billing_code_raw", "modifiers"]].tolist() == ["44320", "44320.0", ""]
    assert rates.loc["line 5", ["billing_code", "billing_code_raw", "modifiers"]].tolist() == [
        "44320",
        "44320-80",
        "50|80",
    ]
    assert rates.loc["line 6", ["billing_code", "billing_code_type", "billing_code_type_raw"]].tolist() == [
        "0450",
        "RC",
        "REV",
    ]
    q = result.quarantine.set_index("source_locator")
    assert q.loc["line 7", ["reason_code", "raw_value"]].tolist() == ["code_mangled", "2.14338E+06"]
    assert q.loc["line 8", ["reason_code", "raw_value"]].tolist() == ["invalid_code", "4510036000"]
    assert read_standard_charges(path, codes=["44320"]).accounts[0].rows_loaded == 2  # both spellings match


def test_amount_problems_are_quarantined_with_reason_and_raw_value(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _row("99211", "CPT", dollar="", percentage=".705", methodology="percent of total billed charges"),
        _row("99212", "CPT", dollar="70%"),
        _row("99213", "CPT", dollar="4.432E+04"),
        _row("99214", "CPT", dollar='"1.234,50"'),
        _row(
            "99215", "CPT", dollar="", percentage="70%", methodology="percent of total billed charges", gross='"$2,000"'
        ),
    )
    result = _checked(read_standard_charges(path))
    q = result.quarantine.set_index("source_locator")
    assert q.loc["line 4", ["reason_code", "raw_value"]].tolist() == ["percentage_fraction", ".705"]
    assert q.loc["line 5", ["reason_code", "raw_value"]].tolist() == ["percent_in_dollar_field", "70%"]
    assert q.loc["line 7", ["reason_code", "raw_value"]].tolist() == ["not_a_number", "1.234,50"]
    rates = result.rates.set_index("source_locator")
    assert rates.loc["line 6", ["amount", "amount_raw"]].tolist() == [44320.0, "4.432E+04"]
    assert rates.loc["line 8", ["amount", "amount_usd", "amount_raw", "gross_charge"]].tolist() == [
        70.0,
        1400.0,
        "70%",
        2000.0,
    ]


def test_blank_cells_of_spaces_are_blank(tmp_path: Path) -> None:
    path = _file(tmp_path, "Item,99213,CPT,outpatient,, ,  ,,   ,\t,,  ", _row("99214", "CPT"))
    result = _checked(read_standard_charges(path))
    # line 4 has only spaces in its payer fields: no payer value, one unit filtered out
    assert (result.accounts[0].rows_seen, result.accounts[0].rows_filtered_out, len(result.rates)) == (2, 1, 1)


def test_header_problems_are_file_level_errors_with_line_and_column(tmp_path: Path) -> None:
    duplicated = HEADER.replace("standard_charge|methodology", "standard_charge|negotiated_dollar")
    with pytest.raises(
        HospitalFileError,
        match=r"line 3 column 12: column 'standard_charge\|negotiated_dollar' "
        r"appears twice \(columns 9 and 12\)",
    ):
        read_standard_charges(_file(tmp_path, _row("99213", "CPT") + ",x", header=duplicated))
    # a repeated description is harmless: the first one is read
    notes_twice = HEADER.replace("setting,", "setting,description,")
    rows = ["Item,99213,CPT,outpatient,again,,Aetna,PPO,,100,,,fee schedule"]
    assert len(read_standard_charges(_file(tmp_path, *rows, header=notes_twice, name="d.csv")).rates) == 1

    wide = (
        "description,code|1,code|1|type,setting,standard_charge|Aetna|negotiated_dollar,"
        "standard_charge|Aetna|PPO|methodology\n"
    )
    with pytest.raises(
        HospitalFileError,
        match=r"line 3 column 5: wide header 'standard_charge\|Aetna\|"
        r"negotiated_dollar' has 3 '\|' segments",
    ):
        read_standard_charges(_file(tmp_path, "Item,99213,CPT,outpatient,100,fee schedule", header=wide, name="w.csv"))
    placeholder = HEADER.replace("payer_name", "[payer_name]")
    with pytest.raises(HospitalFileError, match=r"template placeholder left in column header '\[payer_name\]'"):
        read_standard_charges(_file(tmp_path, _row("99213", "CPT"), header=placeholder, name="p.csv"))


def test_short_rows_are_padded_and_long_rows_quarantined(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "Item,99213,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule",
        "Item,99214,CPT,outpatient,,Aetna,PPO,,100",  # short: methodology missing -> quarantined
        "Item,99215,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule,,,",  # long but the extra cells are blank
        "Item,99216,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule,oops",
    )
    result = _checked(read_standard_charges(path))
    reasons = dict(zip(result.quarantine.source_locator, result.quarantine.reason_code))
    assert reasons == {"line 5": "unknown_methodology", "line 7": "malformed_row"}
    assert sorted(result.rates.billing_code) == ["99213", "99215"]


def test_unbalanced_quote_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = [
        _row("99213", "CPT"),
        'Item "12 in,99214,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule',
        '"Broken,99215,CPT,outpatient,,Aetna,PPO,,100,,,fee schedule',
    ]
    rows += [_row(f"9921{i}", "CPT") for i in range(6, 9)]
    with pytest.raises(HospitalFileError, match=r"t\.csv: line 6: a quoted field runs to line 9 .*unbalanced quote"):
        read_standard_charges(_file(tmp_path, *rows))


# ----------------------------------------------------------------------------------------------------------------
# The fast columnar path and the record-by-record path agree


def _messy_file(path: Path, rows: int = 600, seed: int = 7) -> None:
    """A tall file with everything that forces care: CRLF / CR / LF mixed, quoted line breaks, blank lines, cp1252
    bytes, short and long rows, spaces-only cells, duplicated codes, bad values, several codes per row."""
    rng = random.Random(seed)
    header = (
        "description,code|1,code|1|type,code|2,code|2|type,setting,standard_charge|gross,payer_name,plan_name,"
        "modifiers,standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,"
        "standard_charge|negotiated_algorithm,standard_charge|methodology\n"
    )
    out = bytearray((GENERAL + header).encode("utf-8"))
    codes = ["44320", "44320.0", "44310", "450", "99213", "J1450", "47562-80", "", "0470"]
    for _i in range(rows):
        description = rng.choice(["Visit", '"Visit, level 2"', '"two\nline"', "Caf\u00e9 \u2014 room"])
        c1, c2 = rng.choice(codes), rng.choice(codes)
        t1 = "RC" if c1 == "450" else ("MS-DRG" if c1 == "0470" else "CPT")
        t2 = rng.choice(["CPT", "cpt4", ""]) if c2 else ""
        dollar = rng.choice(["100", '"$1,200.50"', "250", "75.5", "", "N/A", "0", "999999999", " "])
        percent = rng.choice(["", "", "", "40", ".5"])
        method = rng.choice(
            ["fee schedule"] * 4 + ["percent of total billed charges", "per diem", "case rate", "capitation"]
        )
        cells = [
            description,
            c1,
            t1,
            c2,
            t2,
            "outpatient",
            rng.choice(["", "1000"]),
            rng.choice(["Aetna", "Cigna", "", "Caf\u00e9 Health"]),
            "PPO",
            rng.choice(["", "50"]),
            dollar,
            percent,
            rng.choice(["", "", "", "see contract"]),
            method,
        ]
        roll = rng.random()
        if roll < 0.03:
            cells = cells[:9]
        elif roll < 0.05:
            cells.append("extra")
        line = ",".join(cells)
        encoding = "cp1252" if ("\u2014" in line or "\u00e9" in line) and rng.random() < 0.5 else "utf-8"
        out += line.encode(encoding) + rng.choice([b"\n", b"\r\n", b"\r"])
        if rng.random() < 0.02:
            out += b"\n"
    path.write_bytes(bytes(out))


def _frames(result) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    rates = result.rates.sort_values(["source_locator", "billing_code", "billing_code_raw"]).reset_index(drop=True)
    quarantine = result.quarantine.sort_values(["source_locator", "detail"]).reset_index(drop=True)
    return rates, quarantine, vars(result.accounts[0])


def test_fast_and_record_by_record_paths_agree_on_a_messy_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "messy.csv"
    _messy_file(path)
    monkeypatch.setattr(hospital_csv, "CHUNK_BYTES", 2048)  # many chunks: cuts land everywhere
    fast = _checked(read_standard_charges(path))
    monkeypatch.setattr(hospital_csv._ChunkParser, "_read", lambda self, chunk, convert: None)
    slow = _checked(read_standard_charges(path))
    for a, b in zip(_frames(fast), _frames(slow)):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        else:
            assert a == b
    assert len(fast.rates) > 100 and len(fast.quarantine) > 100
    assert set(fast.quarantine.reason_code) >= {
        "malformed_row",
        "unknown_methodology",
        "placeholder_value",
        "missing_payer",
        "rate_not_positive",
        "percentage_fraction",
    }
    assert fast.accounts[0].rows_deduplicated > 0
    assert "Caf\u00e9 Health" in set(fast.rates.payer_raw)  # cp1252 and UTF-8 lines decode alike


def test_fast_path_on_a_clean_file_matches_the_record_path(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "clean.csv"
    rows = [
        f"Item {i},{44300 + i % 40},CPT,0{300 + i % 9},RC,outpatient,1000,Aetna,PPO,,{100 + i},,,fee schedule"
        for i in range(3000)
    ]
    header = (
        "description,code|1,code|1|type,code|2,code|2|type,setting,standard_charge|gross,payer_name,plan_name,"
        "modifiers,standard_charge|negotiated_dollar,standard_charge|negotiated_percentage,"
        "standard_charge|negotiated_algorithm,standard_charge|methodology\n"
    )
    path.write_text(GENERAL + header + "\n".join(rows) + "\n")
    monkeypatch.setattr(hospital_csv, "CHUNK_BYTES", 16384)
    calls = []
    original = hospital_csv._ChunkParser.parse

    def counting(self, chunk):
        parsed = original(self, chunk)
        calls.append(parsed[0] is not None)
        return parsed

    monkeypatch.setattr(hospital_csv._ChunkParser, "parse", counting)
    fast = _checked(read_standard_charges(path, codes=["44320", "0305"]))
    assert len(calls) > 5 and all(calls)  # every chunk went through the columnar parser
    monkeypatch.setattr(hospital_csv._ChunkParser, "_read", lambda self, chunk, convert: None)
    slow = _checked(read_standard_charges(path, codes=["44320", "0305"]))
    pd.testing.assert_frame_equal(_frames(fast)[0], _frames(slow)[0])
    assert vars(fast.accounts[0]) == vars(slow.accounts[0])
    # 3000 rows x 2 codes = 6000 units whatever the filter; 44320 on 75 rows, revenue code 0305 on 333 or 334
    assert fast.accounts[0].rows_seen == 6000
    assert (fast.rates.billing_code == "44320").sum() == 75
    assert (fast.rates.billing_code == "0305").sum() == sum(1 for i in range(3000) if i % 9 == 5)
    assert fast.rates.loc[fast.rates.billing_code == "44320", "source_locator"].iloc[0] == "line 24"


def test_code_filter_never_changes_rows_seen(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    _messy_file(path, rows=300, seed=11)
    everything = _checked(read_standard_charges(path))
    some = _checked(read_standard_charges(path, codes=["44320", "0450"]))
    assert everything.accounts[0].rows_seen == some.accounts[0].rows_seen
    expected = everything.rates[everything.rates.billing_code.isin(["44320", "0450"])]
    pd.testing.assert_frame_equal(
        _frames(some)[0], _frames(type(everything)(rates=expected, accounts=[everything.accounts[0]]))[0]
    )


def test_broken_containers_are_file_level_errors(tmp_path: Path) -> None:
    import gzip
    import zipfile

    good = GENERAL + HEADER + "".join(_row(f"9{i:04d}", "CPT") + "\n" for i in range(2000))
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(good.encode())[:-400])
    with pytest.raises(HospitalFileError, match=r"cut\.csv\.gz: .*corrupt or truncated gzip"):
        read_standard_charges(truncated)
    packed = tmp_path / "charges.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("charges.csv", good)
    with pytest.raises(HospitalFileError, match=r"charges\.zip: line 1: a zip archive"):
        read_standard_charges(packed)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(HospitalFileError, match=r"empty\.csv: line 1: the file is empty"):
        read_standard_charges(empty)


def test_a_row_with_only_a_description_is_a_row_and_a_row_of_empty_cells_is_not(tmp_path: Path) -> None:
    # the description is not parsed when reading rates: the reader looks at the whole row again for such rows
    path = _file(tmp_path, "LABORATORY,,,,,,,,,,,", ",,,,,,,,,,,", _row("99213", "CPT"))
    result = _checked(read_standard_charges(path))
    assert vars(result.accounts[0])["rows_seen"] == 2 and result.accounts[0].rows_filtered_out == 1
    assert len(result.rates) == 1


@pytest.mark.parametrize(
    ("updated", "real_date"),
    [
        ("2026-01-01", True),
        ("1/5/2026", True),
        ("01/05/2026", True),
        ("2026-1-5", False),  # strptime's %m took one digit: the reader said nothing where validate said invalid
        ("2026-02-30", False),
        ("01/05/26", False),
        ("Jan 5 2026", False),
    ],
)
def test_last_updated_on_is_read_with_the_date_rule_validate_applies(updated, real_date, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(GENERAL.replace("2026-01-01", updated) + HEADER + _row("44320", "CPT") + "\n", encoding="utf-8")
    check = check_standard_charges(path)
    warned = [p for p in check.problems if p.reason_code == "bad_date"]
    assert (not warned) == real_date
    cms_invalid = [p for p in check.cms_problems if "last_updated_on" in p.detail or "date" in p.reason_code]
    assert (not cms_invalid) == real_date, cms_invalid
