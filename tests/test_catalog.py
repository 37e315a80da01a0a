"""The billing-code catalog and modifier table: content, copyright guard and loader validation."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark import config
from benchmark.reference.catalog import (
    AUTHORSHIP_NOTE,
    MODIFIER_AUTHORSHIP_NOTE,
    CatalogError,
    CodeCatalogSchema,
    CodeInfo,
    ModifierSchema,
    get_code,
    get_modifier,
    load_codes,
    load_modifiers,
)

FAMILY_CODES = ["44310", "44312", "44314", "44316", "44320", "44322", "44340", "44345", "44346"]
EXTRACT_CODES = ["44141", "44143", "44188", "44620", "44626"]
REQUIRED_CODES = FAMILY_CODES + EXTRACT_CODES
REQUIRED_MODIFIERS = [
    "22", "50", "51", "52", "53", "54", "55", "56", "58", "59", "62", "66", "76", "78", "79",
    "80", "81", "82", "AS", "XE", "XS", "XP", "XU", "26", "TC",
]  # fmt: skip
CODE_TEXT_FIELDS = [
    "code_type", "short_label", "description", "family", "service_type", "typical_site_of_service",
    "inpatient_only", "opps_status_note", "clinical_context",
]  # fmt: skip
MODIFIER_TEXT_FIELDS = ["modifier_type", "name", "when_to_use", "medicare_payment_rule"]

# Phrasing that belongs to AMA CPT descriptors of this family; our own text must never contain it. Compared after
# lower-casing and turning hyphens into spaces, so "skin-level cecostomy" is caught as well.
AMA_DESCRIPTOR_PHRASES = [
    "skin level cecostomy",
    "(separate procedure)",
    "reconstruction in depth",
    "release of superficial scar",
    "congenital megacolon",
    "with multiple biopsies",
    "non tube",
    "paracolostomy hernia",
    "hartmann type procedure",
    "closure of distal segment",
    "closure of enterostomy",
    "resection and colorectal anastomosis",
    "laparoscopy, surgical",
    "colectomy, partial",
]
# Official CPT modifier names; our modifier names are our own words.
AMA_MODIFIER_NAMES = [
    "increased procedural services",
    "bilateral procedure",
    "multiple procedures",
    "reduced services",
    "discontinued procedure",
    "surgical care only",
    "postoperative management only",
    "preoperative management only",
    "staged or related procedure",
    "distinct procedural service",
    "two surgeons",
    "surgical team",
    "repeat procedure or service",
    "unplanned return to the operating",
    "unrelated procedure or service",
    "assistant surgeon",
    "minimum assistant surgeon",
    "professional component",
]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("-", " ").replace("\u2011", " "))


@pytest.fixture(scope="module")
def codes() -> pd.DataFrame:
    return load_codes()


@pytest.fixture(scope="module")
def modifiers() -> pd.DataFrame:
    return load_modifiers()


@pytest.fixture(scope="module")
def raw_codes() -> list[dict]:
    with (config.CATALOG_DIR / "codes.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["codes"]


@pytest.fixture(scope="module")
def raw_modifiers() -> list[dict]:
    with (config.CATALOG_DIR / "modifiers.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["modifiers"]


# --- content ---------------------------------------------------------------------------------------------------------


def test_every_required_code_present_once(codes):
    assert sorted(codes["code"]) == sorted(REQUIRED_CODES)
    assert codes["code"].is_unique


def test_codes_are_five_character_strings(codes, raw_codes):
    assert all(isinstance(code, str) and re.fullmatch(r"\d{5}", code) for code in codes["code"])
    # in the YAML itself too: an unquoted code would be an int (and 0-prefixed codes would be mangled)
    assert all(isinstance(entry["code"], str) for entry in raw_codes)
    assert all(isinstance(c, str) for entry in raw_codes for c in entry["related_codes"])


def test_code_text_fields_non_empty(codes):
    for column in CODE_TEXT_FIELDS + ["related_codes", "sources"]:
        blank = codes[codes[column].fillna("").str.strip() == ""]
        assert blank.empty, f"{column} blank for {list(blank['code'])}"
    assert set(codes["code_type"]) == {"CPT"}
    assert set(codes["family"]) == {"Enterostomy / colostomy"}
    assert set(codes["service_type"]) == {"Surgical procedure — digestive system"}


def test_description_lengths_are_plain_language_sized(codes):
    for row in codes.itertuples():
        sentences = len(re.findall(r"[.!?](\s|$)", row.description))
        assert 1 <= sentences <= 3, (row.code, sentences)
        assert 3 <= len(row.short_label.split()) <= 6, (row.code, row.short_label)


def test_opps_status_is_not_claimed(codes):
    assert codes["opps_status"].isna().all()
    assert set(codes["inpatient_only"]) == {"unverified"}
    assert set(codes["opps_status_note"]) == {"Not verified from an OPPS Addendum B file"}
    for site in codes["typical_site_of_service"]:
        assert "inpatient-only" not in site.lower() and "inpatient only" not in site.lower()


def test_related_codes_stay_in_catalog_and_are_symmetric_enough(codes):
    catalogued = set(codes["code"])
    for row in codes.itertuples():
        related = row.related_codes.split(", ")
        assert related and set(related) <= catalogued, row.code
        assert row.code not in related


def test_family_relations_that_matter_clinically():
    # creation <-> revision <-> closure links an analyst will follow
    assert "44626" in get_code("44143").related_codes  # Hartmann resection -> Hartmann reversal
    assert "44143" in get_code("44626").related_codes
    assert "44188" in get_code("44320").related_codes  # open <-> laparoscopic colostomy
    assert {"44340", "44345", "44346"} <= set(get_code("44320").related_codes)
    assert {"44312", "44314", "44316"} <= set(get_code("44310").related_codes)


def test_catalogued_codes_are_active_in_the_medicare_extract():
    rows = {}
    for line in config.PPRRVU_FILES[2025].read_text(encoding="latin-1").splitlines():
        cells = line.split(",")
        if cells[0] in REQUIRED_CODES and cells[1] == "":
            rows[cells[0]] = cells
    assert sorted(rows) == sorted(REQUIRED_CODES)
    assert all(cells[3] == "A" for cells in rows.values())
    assert all(cells[2] == "" for cells in rows.values()), "descriptor column must stay blank"


def test_get_code_returns_frozen_record():
    info = get_code("44320")
    assert isinstance(info, CodeInfo)
    assert info.code == "44320" and info.code_type == "CPT"
    assert isinstance(info.related_codes, tuple) and "44188" in info.related_codes
    assert info.opps_status is None
    assert info.authorship_note == AUTHORSHIP_NOTE
    with pytest.raises(AttributeError):
        info.description = "changed"  # type: ignore[misc]
    assert get_code(" 44320 ") == info


def test_get_code_matches_frame(codes):
    row = codes.set_index("code").loc["44143"]
    info = get_code("44143")
    assert row["description"] == info.description
    assert row["related_codes"] == ", ".join(info.related_codes)


@pytest.mark.parametrize("unknown", ["99999", "4432", "00000", "", "44320-51"])
def test_unknown_code_raises_key_error(unknown):
    with pytest.raises(KeyError, match="not in the code catalog"):
        get_code(unknown)


def test_non_string_code_is_a_type_error():
    with pytest.raises(TypeError):
        get_code(44320)  # type: ignore[arg-type]


def test_frames_pass_their_schemas(codes, modifiers):
    CodeCatalogSchema.validate(codes)
    ModifierSchema.validate(modifiers)
    assert list(codes.columns) == list(CodeCatalogSchema.to_schema().columns)
    assert list(modifiers.columns) == list(ModifierSchema.to_schema().columns)


def test_loader_reads_from_config_catalog_dir(tmp_path, monkeypatch):
    for name in ("codes.yaml", "modifiers.yaml"):
        (tmp_path / name).write_text((config.CATALOG_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(config, "CATALOG_DIR", tmp_path)
    assert len(load_codes()) == len(REQUIRED_CODES)
    assert len(load_modifiers()) == len(REQUIRED_MODIFIERS)
    (tmp_path / "codes.yaml").unlink()
    with pytest.raises(CatalogError, match="not found"):
        load_codes()


# --- modifiers --------------------------------------------------------------------------------------------------------


def test_every_required_modifier_present_once(modifiers, raw_modifiers):
    assert sorted(modifiers["modifier"]) == sorted(REQUIRED_MODIFIERS)
    assert modifiers["modifier"].is_unique
    assert all(isinstance(entry["modifier"], str) for entry in raw_modifiers)


def test_modifier_text_fields_non_empty(modifiers):
    for column in MODIFIER_TEXT_FIELDS + ["sources"]:
        assert (modifiers[column].str.strip() != "").all(), column


@pytest.mark.parametrize(
    ("modifier", "factor"),
    [("51", 0.5), ("80", 0.16), ("81", 0.16), ("82", 0.16), ("62", 0.625), ("50", 1.5), ("AS", 0.136)],
)
def test_modifier_payment_factors(modifiers, modifier, factor):
    value = modifiers.set_index("modifier").loc[modifier, "medicare_payment_factor"]
    assert value == pytest.approx(factor)
    assert get_modifier(modifier).medicare_payment_factor == pytest.approx(factor)


def test_as_factor_is_85_percent_of_assistant_rate():
    assert get_modifier("AS").medicare_payment_factor == pytest.approx(
        0.85 * get_modifier("80").medicare_payment_factor
    )


def test_modifiers_without_fixed_factor_are_null(modifiers):
    fixed = {"50", "51", "62", "80", "81", "82", "AS"}
    others = modifiers[~modifiers["modifier"].isin(fixed)]
    assert others["medicare_payment_factor"].isna().all()


@pytest.mark.parametrize(
    ("modifier", "indicator"),
    [
        ("50", "BILAT SURG"), ("51", "MULT PROC"), ("62", "CO-SURG"), ("66", "TEAM SURG"), ("80", "ASST SURG"),
        ("AS", "ASST SURG"), ("54", "PRE OP/INTRA OP/POST OP"), ("55", "PRE OP/INTRA OP/POST OP"),
        ("56", "PRE OP/INTRA OP/POST OP"), ("78", "PRE OP/INTRA OP/POST OP"), ("26", "PCTC IND"), ("TC", "PCTC IND"),
        ("22", None), ("59", None), ("XS", None), ("58", None), ("79", None),
    ],
)  # fmt: skip
def test_modifier_pfs_indicator(modifier, indicator):
    assert get_modifier(modifier).pfs_indicator == indicator


def test_global_period_modifiers_say_the_right_thing():
    rule = {m: get_modifier(m).medicare_payment_rule.lower() for m in ("58", "78", "79")}
    assert "new global period" in rule["58"] and "full" in rule["58"]
    assert "new global period" in rule["79"] and "full" in rule["79"]
    assert "intra" in rule["78"] and "no new global period" in rule["78"]


def test_unknown_modifier_raises_key_error():
    with pytest.raises(KeyError, match="not in the modifier table"):
        get_modifier("ZZ")


# --- copyright / authorship guard ---------------------------------------------------------------------------------------


def test_no_ama_descriptor_phrasing_in_code_text(raw_codes):
    for entry in raw_codes:
        for field in ("short_label", "description", "clinical_context"):
            text = _normalize(entry[field])
            for phrase in AMA_DESCRIPTOR_PHRASES:
                assert _normalize(phrase) not in text, f"{entry['code']} {field} contains {phrase!r}"


def test_no_official_modifier_names(raw_modifiers):
    for entry in raw_modifiers:
        name = _normalize(entry["name"])
        for official in AMA_MODIFIER_NAMES:
            assert official not in name, f"{entry['modifier']} name contains {official!r}"


def test_every_code_entry_carries_the_authorship_note(raw_codes, codes):
    for entry in raw_codes:
        notes = [" ".join(str(source.get("note") or "").split()) for source in entry["sources"]]
        assert AUTHORSHIP_NOTE in notes, entry["code"]
    assert set(codes["authorship_note"]) == {AUTHORSHIP_NOTE}


def test_every_modifier_entry_carries_the_authorship_note(raw_modifiers, modifiers):
    for entry in raw_modifiers:
        notes = [" ".join(str(source.get("note") or "").split()) for source in entry["sources"]]
        assert MODIFIER_AUTHORSHIP_NOTE in notes, entry["modifier"]
    assert set(modifiers["authorship_note"]) == {MODIFIER_AUTHORSHIP_NOTE}


def test_readme_states_provenance():
    readme = (config.CATALOG_DIR / "README.md").read_text(encoding="utf-8")
    assert "AMA" in readme and AUTHORSHIP_NOTE in readme


# --- broken files are rejected -------------------------------------------------------------------------------------------


def _valid_code_entry(code: str, related: list[str]) -> dict:
    return {
        "code": code,
        "code_type": "CPT",
        "short_label": "Test label here",
        "description": "A test description.",
        "family": "Enterostomy / colostomy",
        "service_type": "Surgical procedure — digestive system",
        "typical_site_of_service": "Typically inpatient hospital",
        "inpatient_only": "unverified",
        "opps_status": None,
        "opps_status_note": "Not verified from an OPPS Addendum B file",
        "clinical_context": "Test context.",
        "related_codes": related,
        "sources": [{"title": "Authorship", "url": None, "note": AUTHORSHIP_NOTE}],
    }


def _write_codes(path: Path, entries: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"codes": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def good_entries() -> list[dict]:
    return [_valid_code_entry("44320", ["44340"]), _valid_code_entry("44340", ["44320"])]


def test_minimal_valid_file_loads(tmp_path, good_entries):
    path = _write_codes(tmp_path / "codes.yaml", good_entries)
    frame = load_codes(path)
    assert list(frame["code"]) == ["44320", "44340"]
    assert get_code("44340", path=path).related_codes == ("44320",)
    with pytest.raises(KeyError):
        get_code("44310", path=path)


def test_duplicate_code_rejected(tmp_path, good_entries):
    path = _write_codes(tmp_path / "codes.yaml", good_entries + [copy.deepcopy(good_entries[0])])
    with pytest.raises(CatalogError, match="more than once"):
        load_codes(path)
    with pytest.raises(CatalogError):
        get_code("44320", path=path)


@pytest.mark.parametrize("value", ["delete", "", "   ", None])
def test_missing_or_blank_description_rejected(tmp_path, good_entries, value):
    if value == "delete":
        del good_entries[1]["description"]
    else:
        good_entries[1]["description"] = value
    path = _write_codes(tmp_path / "codes.yaml", good_entries)
    with pytest.raises(CatalogError, match="description"):
        load_codes(path)


def test_unquoted_code_rejected(tmp_path, good_entries):
    text = yaml.safe_dump({"codes": good_entries}, allow_unicode=True, sort_keys=False)
    text = text.replace("code: '44320'", "code: 44320", 1)
    assert "code: 44320\n" in text
    path = tmp_path / "codes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="must be a string"):
        load_codes(path)


@pytest.mark.parametrize("bad_code", ["4432", "443200", "44 20"])
def test_code_must_have_five_characters(tmp_path, good_entries, bad_code):
    good_entries[0]["code"] = bad_code
    good_entries[1]["related_codes"] = []
    path = _write_codes(tmp_path / "codes.yaml", good_entries)
    with pytest.raises(CatalogError, match="5-character"):
        load_codes(path)


def test_duplicate_yaml_key_rejected(tmp_path, good_entries):
    text = yaml.safe_dump({"codes": good_entries}, allow_unicode=True, sort_keys=False)
    text = text.replace(
        "  description: A test description.\n", "  description: A test description.\n  description: Other.\n", 1
    )
    path = tmp_path / "codes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="duplicate key 'description'"):
        load_codes(path)


def test_missing_authorship_note_rejected(tmp_path, good_entries):
    good_entries[0]["sources"] = [{"title": "Somewhere", "url": None, "note": "no authorship here"}]
    path = _write_codes(tmp_path / "codes.yaml", good_entries)
    with pytest.raises(CatalogError, match="authorship"):
        load_codes(path)


def test_unknown_related_code_and_unknown_field_rejected(tmp_path, good_entries):
    good_entries[0]["related_codes"] = ["44999"]
    with pytest.raises(CatalogError, match="not in the catalog"):
        load_codes(_write_codes(tmp_path / "a.yaml", good_entries))
    good_entries[0]["related_codes"] = ["44340"]
    good_entries[0]["descripton"] = "typo"
    with pytest.raises(CatalogError, match="unknown field"):
        load_codes(_write_codes(tmp_path / "b.yaml", good_entries))


def test_inpatient_only_claim_needs_verified_opps_status(tmp_path, good_entries):
    good_entries[0]["inpatient_only"] = "yes"
    with pytest.raises(CatalogError, match="opps_status"):
        load_codes(_write_codes(tmp_path / "codes.yaml", good_entries))


def test_broken_modifier_file_rejected(tmp_path, raw_modifiers):
    entries = copy.deepcopy(raw_modifiers[:3])
    path = tmp_path / "modifiers.yaml"
    path.write_text(yaml.safe_dump({"modifiers": entries + [copy.deepcopy(entries[1])]}), encoding="utf-8")
    with pytest.raises(CatalogError, match="more than once"):
        load_modifiers(path)
    entries[2]["medicare_payment_factor"] = "half"
    path.write_text(yaml.safe_dump({"modifiers": entries}), encoding="utf-8")
    with pytest.raises(CatalogError, match="number"):
        load_modifiers(path)
    entries[2]["medicare_payment_factor"] = 0.5
    entries[2]["pfs_indicator"] = "MULTI PROC"
    path.write_text(yaml.safe_dump({"modifiers": entries}), encoding="utf-8")
    with pytest.raises(CatalogError, match="ModifierSchema"):
        load_modifiers(path)
    del entries[2]["when_to_use"]
    path.write_text(yaml.safe_dump({"modifiers": entries}), encoding="utf-8")
    with pytest.raises(CatalogError, match="when_to_use"):
        load_modifiers(path)


def test_missing_file_and_wrong_top_level_rejected(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_codes(tmp_path / "nope.yaml")
    path = tmp_path / "codes.yaml"
    path.write_text("items: []\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="top-level"):
        load_codes(path)
