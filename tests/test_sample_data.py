"""The synthetic sample data: deterministic, committed as generated, valid in the public formats, clearly labeled.

These tests read the generated files with the standard library only (json, gzip, csv), independently of the
project's TiC and hospital readers, so a reader bug cannot hide a generator bug.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from benchmark import config
from benchmark.reference import medicare
from benchmark.synthetic import PLACEHOLDER_PRICES, generate_sample_data

LABEL = config.SYNTHETIC_LABEL
# Phrases of the AMA CPT descriptors of the sample codes (and close variants): none may appear in any file.
AMA_PHRASES = (
    "skin level cecostomy",
    "colostomy or skin level",
    "release of superficial scar",
    "reconstruction in-depth",
    "paracolostomy hernia",
    "ileostomy or jejunostomy",
    "kock procedure",
    "separate procedure",
    "congenital megacolon",
    "with multiple biopsies",
    "revision of colostomy",
    "revision of ileostomy",
    "continent ileostomy",
)
DOLLAR_TYPES = {"negotiated", "fee schedule", "derived"}
BCBS_LICENSEES = {
    "Anthem Blue Cross": "CA",
    "Empire HealthChoice Assurance, Inc.": "NY",
    "Blue Cross and Blue Shield of Texas": "TX",
    "Blue Cross and Blue Shield of Illinois": "IL",
    "Florida Blue": "FL",
}


# --------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample-a")
    generate_sample_data(out)
    return out


@pytest.fixture(scope="module")
def tic_docs(generated) -> dict[str, dict]:
    return {p.name: json.loads(gzip.decompress(p.read_bytes())) for p in sorted((generated / "tic").iterdir())}


@pytest.fixture(scope="module")
def directory(generated) -> list[dict]:
    with open(generated / "provider_directory.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def hospital_files(generated) -> dict[str, list[list[str]]]:
    files = {}
    for path in sorted((generated / "hospital").iterdir()):
        text = path.read_bytes().decode("utf-8-sig")
        files[path.name] = list(csv.reader(io.StringIO(text, newline="")))
    return files


def all_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def luhn_npi_ok(npi: str) -> bool:
    """NPI check written out independently: Luhn over '80840' + all ten digits must sum to a multiple of 10."""
    if not re.fullmatch(r"1\d{9}", npi):
        return False
    total = 0
    for index, char in enumerate(reversed("80840" + npi)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def tic_providers(doc: dict, negotiated_rate: dict) -> list[dict]:
    if "provider_groups" in negotiated_rate:
        return negotiated_rate["provider_groups"]
    refs = {r["provider_group_id"]: r["provider_groups"] for r in doc["provider_references"]}
    return [group for ref in negotiated_rate["provider_references"] for group in refs[ref]]


def iter_prices(doc: dict):
    for item in doc["in_network"]:
        for rate in item["negotiated_rates"]:
            for price in rate["negotiated_prices"]:
                yield item, rate, price


# --------------------------------------------------------------------------------------------------- determinism
def test_generating_twice_gives_byte_identical_files(generated, tmp_path):
    again = tmp_path / "sample-b"
    paths = generate_sample_data(again, seed=20250101)
    first, second = all_files(generated), all_files(again)
    assert sorted(first) == sorted(second)
    assert {p.relative_to(again).as_posix() for p in paths} == set(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two generations"


def test_another_seed_changes_the_rates(generated, tmp_path):
    other = tmp_path / "sample-other-seed"
    generate_sample_data(other, seed=7)
    name = next(n for n in all_files(generated) if n.startswith("tic/"))
    assert (generated / name).read_bytes() != (other / name).read_bytes()


def test_gzip_headers_have_zero_mtime_and_no_file_name(generated):
    for path in sorted((generated / "tic").glob("*.json.gz")):
        header = path.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[4:8] == b"\x00\x00\x00\x00", f"{path.name}: mtime set"
        assert header[3] & 0x08 == 0, f"{path.name}: file name stored in the gzip header"


def test_text_files_use_lf_line_endings(generated):
    for name, content in all_files(generated).items():
        if not name.endswith(".gz"):
            assert b"\r" not in content, name


def test_committed_sample_equals_a_fresh_generation(generated):
    committed = config.SAMPLE_DIR
    manifest_path = committed / "MANIFEST.json"
    assert manifest_path.is_file(), f"{manifest_path} missing: run `paybench sample-data` and commit data/sample"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    fresh = json.loads((generated / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest == fresh, "committed MANIFEST.json differs from a fresh generation"
    for entry in manifest["files"]:
        content = (committed / entry["path"]).read_bytes()
        assert len(content) == entry["bytes"], entry["path"]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], f"{entry['path']} changed since generation"
        assert content == (generated / entry["path"]).read_bytes(), entry["path"]
    assert manifest_path.read_bytes() == (generated / "MANIFEST.json").read_bytes()


def test_manifest_lists_every_file_with_hash_format_and_version(generated):
    manifest = json.loads((generated / "MANIFEST.json").read_text(encoding="utf-8"))
    files = all_files(generated)
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == set(files) - {"MANIFEST.json"}
    assert manifest["synthetic"] is True and manifest["label"] == LABEL and manifest["seed"] == 20250101
    for path, entry in listed.items():
        assert entry["synthetic"] is True
        assert entry["bytes"] == len(files[path])
        assert entry["sha256"] == hashlib.sha256(files[path]).hexdigest()
        assert entry["format"]
    versions = Counter(e["schema_version"] for e in manifest["files"] if e["path"].startswith(("tic/", "hospital/")))
    assert versions == {"1.3.1": 1, "2.0.0": 11, "3.0.0": 2}  # 9 TiC 2.x + 2 hospital v2.0.0
    assert sum(len(c) for c in files.values()) < 3_000_000


# --------------------------------------------------------------------------------------------------- labels
def test_every_file_carries_the_synthetic_label(generated, tic_docs):
    files = all_files(generated)
    for name, content in files.items():
        if name.startswith(("tic/", "hospital/")):
            assert "synthetic" in name.lower(), f"{name}: file name does not say synthetic"
        if name.startswith("tic/"):
            doc = tic_docs[Path(name).name]
            assert doc["plan_name"].endswith(" (SYNTHETIC SAMPLE)"), name
        else:
            assert LABEL in content.decode("utf-8"), f"{name} lacks the label {LABEL!r}"
    readme = (generated / "README.md").read_text(encoding="utf-8")
    assert LABEL in readme.splitlines()[0]
    with open(generated / "provider_directory.csv", newline="", encoding="utf-8") as handle:
        assert {row["data_label"] for row in csv.DictReader(handle)} == {LABEL}


def test_hospital_csvs_carry_the_label_in_provisions_and_notes(hospital_files):
    for name, rows in hospital_files.items():
        header, values = rows[0], rows[1]
        assert values[header.index("general_contract_provisions")] == LABEL, name
        notes = rows[2].index("additional_generic_notes")
        assert all(LABEL in row[notes] for row in rows[3:]), name


def test_no_ama_descriptor_text_anywhere(generated):
    for name, content in all_files(generated).items():
        text = (gzip.decompress(content) if name.endswith(".gz") else content).decode("utf-8").lower()
        for phrase in AMA_PHRASES:
            assert phrase not in text, f"{name} contains the descriptor phrase {phrase!r}"


def test_codes_have_plain_language_labels(tic_docs):
    for doc in tic_docs.values():
        for item in doc["in_network"]:
            assert item["name"].endswith("(plain-language label)")
            assert item["description"].endswith("(plain-language label)")


# --------------------------------------------------------------------------------------------------- identifiers
def test_every_npi_passes_the_luhn_check(directory, tic_docs, hospital_files):
    npis = {row["npi"] for row in directory}
    for doc in tic_docs.values():
        groups = [g for r in doc.get("provider_references", []) for g in r["provider_groups"]]
        groups += [g for _, rate, _ in iter_prices(doc) for g in rate.get("provider_groups", [])]
        npis |= {str(n) for g in groups for n in g["npi"] if n != 0}
    for rows in hospital_files.values():
        if "type_2_npi" in rows[0]:
            npis |= {n.strip() for n in rows[1][rows[0].index("type_2_npi")].split("|")}
    assert len(npis) > 100
    bad = sorted(n for n in npis if not luhn_npi_ok(n))
    assert not bad, f"NPIs failing the Luhn check: {bad[:5]}"
    assert luhn_npi_ok("1234567893") and not luhn_npi_ok("1234567890")  # the CMS worked example


def test_tic_npis_and_tins_are_in_the_directory(directory, tic_docs):
    npis, tins = {r["npi"] for r in directory}, {r["tin"] for r in directory}
    for doc in tic_docs.values():
        for _, rate, _ in iter_prices(doc):
            for group in tic_providers(doc, rate):
                assert group["tin"]["value"] in tins
                assert {str(n) for n in group["npi"]} <= npis | {"0"}
    assert all(re.fullmatch(r"\d{2}-\d{7}", t) for t in tins)


def test_provider_directory_shape(directory):
    assert list(directory[0]) == [
        "npi",
        "tin",
        "provider_name",
        "entity_type",
        "state",
        "county",
        "zip",
        "medicare_locality",
        "taxonomy",
        "data_label",
    ]
    localities = set(medicare.load_gpci()["locality_id"])
    assert {r["medicare_locality"] for r in directory} <= localities
    assert len({r["state"] for r in directory}) == 6
    assert len({r["npi"] for r in directory}) == len(directory)
    by_tin: dict[str, list[dict]] = {}
    for row in directory:
        by_tin.setdefault(row["tin"], []).append(row)
        assert re.fullmatch(r"\d{5}", row["zip"])
        assert row["entity_type"] in {"1", "2"}
    groups_per_market = Counter()
    for rows in by_tin.values():
        assert len({(r["state"], r["medicare_locality"]) for r in rows}) == 1
        surgeons = [r for r in rows if r["entity_type"] == "1"]
        if surgeons:
            groups_per_market[rows[0]["medicare_locality"]] += 1
            assert 2 <= len(surgeons) <= 6
        else:  # a hospital: one organization NPI under its own TIN
            assert len(rows) == 1 and rows[0]["entity_type"] == "2"
    assert len(groups_per_market) == 6 and all(5 <= n <= 8 for n in groups_per_market.values())
    assert "Lakeside Sample Surgical Group" in {r["provider_name"] for r in directory}
    # NUCC taxonomy: organizations are single-specialty groups (193400000X) or general acute care hospitals
    # (282N00000X); physicians are surgeons (208600000X), colorectal surgeons (208C00000X), or, in the planted
    # "zombie" group OH-G01 only, psychiatrists (2084P0800X)
    taxonomies = Counter((r["entity_type"], r["taxonomy"]) for r in directory)
    assert set(taxonomies) == {
        ("2", "193400000X"),
        ("2", "282N00000X"),
        ("1", "208600000X"),
        ("1", "208C00000X"),
        ("1", "2084P0800X"),
    }
    assert taxonomies[("2", "282N00000X")] == 4
    psychiatrists = [r for r in directory if r["taxonomy"] == "2084P0800X"]
    assert len({r["tin"] for r in psychiatrists}) == 1 and {r["state"] for r in psychiatrists} == {"OH"}
    colorectal = {r["tin"] for r in directory if "Colorectal" in r["provider_name"]}
    assert all(r["taxonomy"] in {"208C00000X", "193400000X", "2084P0800X"} for r in directory if r["tin"] in colorectal)


# --------------------------------------------------------------------------------------------------- TiC files
def test_tic_files_validate_against_the_cms_json_schemas(tic_docs, shared_reference):
    jsonschema = pytest.importorskip("jsonschema")
    schemas = {
        major: json.loads(
            (shared_reference / "tic" / "schemas" / folder / "in-network-rates.json").read_text(encoding="utf-8")
        )
        for major, folder in (("1", "v1.6.2"), ("2", "v2.2.0"))
    }
    for name, doc in tic_docs.items():
        validator = jsonschema.Draft7Validator(
            schemas[doc["version"][0]], format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, f"{name}: {errors[:3]}"


def test_tic_entities_plans_and_schema_versions(tic_docs):
    by_entity = Counter(doc["reporting_entity_name"] for doc in tic_docs.values())
    assert by_entity == {
        "Aetna Life Insurance Company": 1,
        "Cigna Health and Life Insurance Company": 2,
        "UnitedHealthcare Insurance Company": 2,
        **dict.fromkeys(BCBS_LICENSEES, 1),
    }
    for doc in tic_docs.values():
        if doc["reporting_entity_name"].startswith("Aetna"):
            assert doc["version"] == "1.3.1" and doc["plan_id_type"] == "EIN" and "provider_references" not in doc
            assert all("provider_groups" in rate and "setting" not in price for _, rate, price in iter_prices(doc))
        else:
            assert doc["version"] == "2.0.0" and doc["plan_id_type"] in {"ein", "hios"}
            assert all(r["network_name"] for r in doc["provider_references"])
            assert all(price["setting"] in {"inpatient", "outpatient", "both"} for _, _, price in iter_prices(doc))
    uhc = sorted(d["plan_name"] for d in tic_docs.values() if d["reporting_entity_name"].startswith("United"))
    assert "Medicare Advantage PPO" in uhc[1] and "Medicare Advantage" not in uhc[0]


def test_bcbs_licensees_publish_only_their_own_market(tic_docs, directory):
    state_of_tin = {r["tin"]: r["state"] for r in directory}
    for doc in tic_docs.values():
        if doc["reporting_entity_name"] in BCBS_LICENSEES:
            states = {state_of_tin[g["tin"]["value"]] for r in doc["provider_references"] for g in r["provider_groups"]}
            assert states == {BCBS_LICENSEES[doc["reporting_entity_name"]]}


def test_tic_quirks_are_present(tic_docs):
    types, modifiers, expirations = Counter(), Counter(), set()
    tin_only = per_diem_inpatient = 0
    for doc in tic_docs.values():
        for item, rate, price in iter_prices(doc):
            types[price["negotiated_type"]] += 1
            expirations.add(price["expiration_date"])
            for modifier in price.get("billing_code_modifier", []):
                modifiers[modifier] += 1
            if price["negotiated_type"] == "percentage":
                assert 45 <= price["negotiated_rate"] <= 70
            if (
                item["billing_code"] == "44320"
                and price["negotiated_type"] == "per diem"
                and price["billing_class"] == "institutional"
                and price.get("setting") == "inpatient"
            ):
                per_diem_inpatient += 1
            if doc["version"].startswith("1"):
                tin_only += sum(g["npi"] == [0] for g in rate["provider_groups"])
    assert {"negotiated", "fee schedule", "derived", "percentage", "per diem"} <= set(types)
    assert {"80", "62", "51"} <= set(modifiers)
    assert "9999-12-31" in expirations and len(expirations) >= 3
    assert tin_only >= 1 and per_diem_inpatient >= 1
    # provider_references after in_network in at least one 2.x file
    assert any(
        list(d).index("provider_references") > list(d).index("in_network")
        for d in tic_docs.values()
        if d["version"].startswith("2")
    )


def test_same_rates_across_two_plans_and_across_npis(tic_docs):
    cigna = [d for d in tic_docs.values() if d["reporting_entity_name"].startswith("Cigna")]
    assert len(cigna) == 2 and cigna[0]["plan_name"] != cigna[1]["plan_name"]
    assert cigna[0]["in_network"] == cigna[1]["in_network"]
    aetna = next(d for d in tic_docs.values() if d["version"].startswith("1"))
    repeated = Counter()
    for item, rate, _ in iter_prices(aetna):
        if len(rate["provider_groups"]) == 1 and len(rate["provider_groups"][0]["npi"]) == 1:
            key = (
                item["billing_code"],
                rate["provider_groups"][0]["tin"]["value"],
                json.dumps(rate["negotiated_prices"]),
            )
            repeated[key] += 1
    assert max(repeated.values()) >= 3  # one TIN's identical prices repeated once per NPI


PLANTED_PLACEHOLDERS = set(PLACEHOLDER_PRICES.values())


def test_modifier_rates_relative_to_the_base_rate(tic_docs):
    checked = 0
    for doc in tic_docs.values():
        for item in doc["in_network"]:
            for rate in item["negotiated_rates"]:
                prices = rate["negotiated_prices"]
                base = [
                    p
                    for p in prices
                    if p["billing_class"] == "professional"
                    and not p.get("billing_code_modifier")
                    and p["negotiated_type"] in {"negotiated", "derived"}
                    and p["service_code"] != ["11"]
                ]
                for price in prices:
                    modifier = price.get("billing_code_modifier")
                    if not modifier or not base or base[0]["negotiated_rate"] in PLANTED_PLACEHOLDERS:
                        continue  # (a planted placeholder is no base for the modifier rates)
                    share = price["negotiated_rate"] / base[0]["negotiated_rate"]
                    low, high = {"80": (0.155, 0.255), "62": (0.62, 0.63), "51": (0.495, 0.505)}[modifier[0]]
                    assert low <= share <= high, (item["billing_code"], modifier, share)
                    checked += 1
    assert checked > 50


def _medicare_facility(code: str, localities: set[str]) -> dict[str, float]:
    table = medicare.medicare_amounts(code, 2025, localities=sorted(localities))
    return {r.locality_id: float(r.amount) for r in table.itertuples() if r.setting == "facility"}


def test_professional_44320_rates_are_spread_around_the_locality_medicare_amount(tic_docs, directory):
    locality_of = {r["npi"]: r["medicare_locality"] for r in directory}
    locality_of_tin = {r["tin"]: r["medicare_locality"] for r in directory}
    amounts = _medicare_facility("44320", set(locality_of.values()))
    ratios: dict[str, list[float]] = {}
    for name, doc in tic_docs.items():
        for item, rate, price in iter_prices(doc):
            if (
                item["billing_code"] != "44320"
                or price["billing_class"] != "professional"
                or price["negotiated_type"] not in DOLLAR_TYPES
                or price.get("billing_code_modifier")
            ):
                continue
            for group in tic_providers(doc, rate):
                first = str(group["npi"][0])
                locality = locality_of[first] if first != "0" else locality_of_tin[group["tin"]["value"]]
                ratio = price["negotiated_rate"] / amounts[locality]
                assert 0.8 <= ratio <= 3.5, f"{name}: 44320 at {ratio:.2f} x Medicare in {locality}"
                ratios.setdefault(doc["plan_name"], []).append(ratio)
    assert len(ratios) == 10
    ma = ratios.pop("UnitedHealthcare Medicare Advantage PPO (SYNTHETIC SAMPLE)")
    assert all(0.9 <= r <= 1.1 for r in ma)
    commercial = sorted(r for values in ratios.values() for r in values)
    median = commercial[len(commercial) // 2]
    assert 1.2 <= median <= 2.2 and commercial[-1] / commercial[0] > 1.8  # spread, not a constant


def test_44320_is_the_richest_code(tic_docs):
    per_code = Counter(item["billing_code"] for doc in tic_docs.values() for item, _, _ in iter_prices(doc))
    assert per_code.most_common(1)[0][0] == "44320"
    assert set(per_code) == {"44310", "44312", "44314", "44316", "44320", "44322", "44340", "44345", "44346"}


# --------------------------------------------------------------------------------------------------- hospital CSVs
def _hospital_kind(rows: list[list[str]]) -> tuple[str, str]:
    version = rows[1][rows[0].index("version")]
    layout = "tall" if "payer_name" in rows[2] else "wide"
    return version, layout


def test_hospital_templates_and_general_data(hospital_files, directory):
    kinds = sorted(_hospital_kind(rows) for rows in hospital_files.values())
    assert kinds == [("2.0.0", "tall"), ("2.0.0", "wide"), ("3.0.0", "tall"), ("3.0.0", "wide")]
    hospitals = {r["provider_name"]: r for r in directory if r["entity_type"] == "2"}
    for name, rows in hospital_files.items():
        header, values = rows[0], rows[1]
        version, _ = _hospital_kind(rows)
        assert header[0] == "hospital_name" and len({len(r) for r in rows}) == 1, name
        state = next(h.split("|")[1] for h in header if h.startswith("license_number|"))
        assert hospitals[values[0]]["state"] == state
        if version == "3.0.0":
            assert header[:10] == [
                "hospital_name",
                "last_updated_on",
                "version",
                "location_name",
                "hospital_address",
                f"license_number|{state}",
                "type_2_npi",
                header[7],
                "attester_name",
                "general_contract_provisions",
            ]
            assert header[7].startswith("To the best of its knowledge and belief, this hospital")
            assert values[header.index("type_2_npi")] == hospitals[values[0]]["npi"]
        else:
            assert header[:8] == [
                "hospital_name",
                "last_updated_on",
                "version",
                "hospital_location",
                "hospital_address",
                f"license_number|{state}",
                header[6],
                "general_contract_provisions",
            ]
            assert header[6].startswith("To the best of its knowledge and belief, the hospital")
        assert values[header.index("version")] == version


def test_wide_headers_have_every_column_for_each_payer_plan(hospital_files):
    suffixes = {
        "2.0.0": {
            "negotiated_dollar",
            "negotiated_percentage",
            "negotiated_algorithm",
            "estimated_amount",
            "methodology",
            "additional_payer_notes",
        },
        "3.0.0": {
            "negotiated_dollar",
            "negotiated_percentage",
            "negotiated_algorithm",
            "median_amount",
            "10th_percentile",
            "90th_percentile",
            "count",
            "methodology",
            "additional_payer_notes",
        },
    }
    checked = 0
    for name, rows in hospital_files.items():
        version, layout = _hospital_kind(rows)
        if layout != "wide":
            continue
        columns: dict[tuple[str, str], list[str]] = {}
        for cell in rows[2]:
            parts = cell.split("|")
            if parts[0] == "standard_charge" and len(parts) == 4:
                columns.setdefault((parts[1], parts[2]), []).append(parts[3])
            elif len(parts) == 3 and parts[0] != "code":
                columns.setdefault((parts[1], parts[2]), []).append(parts[0])
        assert len(columns) == 5, name
        for pair, found in columns.items():
            assert len(found) == len(suffixes[version]) and set(found) == suffixes[version], (name, pair)
            checked += 1
        payers = {payer for payer, _ in columns}
        assert {"Aetna", "Cigna", "UnitedHealthcare"} <= payers and payers & set(BCBS_LICENSEES)
        assert ("UnitedHealthcare", "Medicare Advantage PPO") in columns
    assert checked == 10


def _records(rows: list[list[str]]) -> list[dict[str, str]]:
    """Rows as dicts keyed by the row-3 headers with the spaces around pipes removed."""
    header = [re.sub(r"\s*\|\s*", "|", h) for h in rows[2]]
    return [dict(zip(header, row)) for row in rows[3:]]


def _tall_charges(rows: list[list[str]]) -> list[dict[str, str]]:
    """One dict per item x payer/plan with tall-style keys, for tall and wide files alike."""
    records, version_layout = _records(rows), _hospital_kind(rows)
    if version_layout[1] == "tall":
        return records
    out = []
    for record in records:
        pairs = sorted(
            {tuple(k.split("|")[1:3]) for k in record if k.startswith("standard_charge|") and k.count("|") == 3}
        )
        for payer, plan in pairs:
            entry = {k: v for k, v in record.items() if k.count("|") < 2 or k.startswith("code|")}
            entry.update(payer_name=payer, plan_name=plan)
            for key, value in record.items():
                parts = key.split("|")
                if parts[0] == "standard_charge" and parts[1:3] == [payer, plan]:
                    entry[f"standard_charge|{parts[3]}"] = value
                elif len(parts) == 3 and parts[1:] == [payer, plan]:
                    entry[parts[0]] = value
            out.append(entry)
    return out


def test_hospital_rows_follow_the_conditional_rules(hospital_files):
    methods = Counter()
    for name, rows in hospital_files.items():
        version, _ = _hospital_kind(rows)
        charges = _tall_charges(rows)
        assert len(charges) >= 5 * 12
        for c in charges:
            money = ("standard_charge|gross", "standard_charge|discounted_cash")
            assert all(re.fullmatch(r"\d+\.\d{2}", c[k]) for k in money), (name, c["description"])
            methods[(c["standard_charge|methodology"], c["billing_class"])] += 1
            if c["standard_charge|negotiated_dollar"]:
                assert re.fullmatch(r"\d+\.\d{2}", c["standard_charge|negotiated_dollar"])
                assert (
                    float(c["standard_charge|min"])
                    <= float(c["standard_charge|negotiated_dollar"])
                    <= float(c["standard_charge|max"])
                )
            if c["standard_charge|negotiated_percentage"]:
                assert 45 <= float(c["standard_charge|negotiated_percentage"]) <= 70
                assert c["standard_charge|methodology"] == "percent of total billed charges"
                if version == "3.0.0":
                    assert re.fullmatch(r"1 through 10|[1-9]\d+", c["count"]) and c["count"] not in {"10"}
                    assert float(c["10th_percentile"]) <= float(c["median_amount"]) <= float(c["90th_percentile"])
                else:
                    assert float(c["estimated_amount"]) > 0
            assert c["setting"] in {"inpatient", "outpatient"}
            assert c["code|1"] and c["code|1|type"] in {"CPT", "RC", "MS-DRG"}
            if c["code|1|type"] == "MS-DRG":  # the sample's one MS-DRG item: a facility rate for an inpatient stay
                assert (c["code|1"], c["billing_class"], c["setting"]) == ("470", "facility", "inpatient")
    assert {
        ("fee schedule", "professional"),
        ("per diem", "facility"),
        ("case rate", "facility"),
        ("percent of total billed charges", "facility"),
    } <= set(methods)


def test_hospital_modifier_rows_and_medicare_spread(hospital_files, directory):
    hospitals = {r["provider_name"]: r["medicare_locality"] for r in directory if r["entity_type"] == "2"}
    amounts = _medicare_facility("44320", set(hospitals.values()))
    for name, rows in hospital_files.items():
        locality = hospitals[rows[1][0]]
        charges = _tall_charges(rows)
        assert {c["modifiers"] for c in charges} >= {"", "80", "62"}
        for c in charges:
            codes = {c["code|1"], c.get("code|2", "")}
            if (
                "44320" in codes
                and c["billing_class"] == "professional"
                and not c["modifiers"]
                and c["standard_charge|negotiated_dollar"]
            ):
                ratio = float(c["standard_charge|negotiated_dollar"]) / amounts[locality]
                assert 0.8 <= ratio <= 3.5, (name, c["payer_name"], ratio)


def test_readme_describes_the_files(generated):
    readme = (generated / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[0] == f"# {LABEL}"
    for path in all_files(generated):
        if path != "MANIFEST.json":
            assert f"`{path}`" in readme, path
    for needle in (
        "paybench sample-data",
        "generate_sample_data",
        "20250101",
        "9999-12-31",
        "npi: [0]",
        "per diem",
        "1.3.1",
        "2.0.0",
        "3.0.0",
    ):
        assert needle in readme, needle
