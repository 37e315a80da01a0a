"""Medicare PFS engine against values computed by hand from the published CMS rows.

Every expected amount below was computed outside the engine: the RVUs and GPCIs are typed in from the CMS files
(the lines are quoted), multiplied with Python's Decimal and rounded half-up to cents.
"""

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from benchmark import config
from benchmark.reference import medicare


def by_hand(work: str, pe: str, mp: str, gpci: tuple[str, str, str], cf: str) -> float:
    total = Decimal(work) * Decimal(gpci[0]) + Decimal(pe) * Decimal(gpci[1]) + Decimal(mp) * Decimal(gpci[2])
    return float((total * Decimal(cf)).quantize(Decimal("0.01"), ROUND_HALF_UP))


NATIONAL = ("1", "1", "1")
MANHATTAN = ("1.065", "1.166", "1.656")  # GPCI2025.csv: 13202,NY,1,MANHATTAN,1.065,1.166,1.656
HOUSTON = ("1.014", "1.003", "1.409")  # GPCI2025.csv: 4412,TX,18,HOUSTON,1.014,1.003,1.409
ALASKA = ("1.5", "1.081", "0.592")  # GPCI2025.csv: 2102,AK,1,ALASKA*,1.5,1.081,0.592

# PPRRVU2025_Oct: 99213,,,A,,1.30,1.35,,0.57,,0.10,2.75,1.97,...,32.3465
# PPRRVU2025_Oct: 44340,,,A,,9.28,7.74,NA,7.74,,1.99,19.01,19.01,...,32.3465
# PPRRVU2025_Oct: 44320,,,A,,19.91,11.82,NA,11.82,,4.40,36.13,36.13,...,32.3465
# PPRRVU22_APR:   44320 19.91 / 11.31 / 4.45, CF 34.6062; 44340 9.28 / 7.34 / 2.03
# PPRRVU2025_Oct: 71046,26,,A,,0.22,0.08,,0.08,,0.01,0.31,0.31,...
CASES = [
    ("44320", "", 2025, "national", "facility", by_hand("19.91", "11.82", "4.40", NATIONAL, "32.3465")),
    ("99213", "", 2025, "13202-01", "non_facility", by_hand("1.30", "1.35", "0.10", MANHATTAN, "32.3465")),
    ("99213", "", 2025, "13202-01", "facility", by_hand("1.30", "0.57", "0.10", MANHATTAN, "32.3465")),
    ("44340", "", 2025, "02102-01", "facility", by_hand("9.28", "7.74", "1.99", ALASKA, "32.3465")),
    ("44340", "", 2025, "04412-18", "facility", by_hand("9.28", "7.74", "1.99", HOUSTON, "32.3465")),
    ("44320", "", 2025, "04412-18", "facility", by_hand("19.91", "11.82", "4.40", HOUSTON, "32.3465")),
    ("44320", "", 2022, "national", "facility", by_hand("19.91", "11.31", "4.45", NATIONAL, "34.6062")),
    ("44320", "", 2022, "13202-01", "facility", by_hand("19.91", "11.31", "4.45", MANHATTAN, "34.6062")),
    ("44340", "", 2022, "national", "facility", by_hand("9.28", "7.34", "2.03", NATIONAL, "34.6062")),
    ("71046", "26", 2025, "national", "facility", by_hand("0.22", "0.08", "0.01", NATIONAL, "32.3465")),
]


@pytest.mark.parametrize("code,modifier,year,locality,setting,expected", CASES)
def test_amount_matches_hand_calculation(code, modifier, year, locality, setting, expected):
    table = medicare.medicare_amounts(code, year, localities="all", modifier=modifier)
    row = table[(table["locality_id"] == locality) & (table["setting"] == setting)]
    assert len(row) == 1
    assert row["amount"].iloc[0] == pytest.approx(expected, abs=0.001)


def test_issue_example_and_published_family_values():
    # FORMATS.md 3.6 lists the national facility amounts of the family for 2025 and 44320 for 2022-2025.
    assert medicare.national_amount("44320", 2025) == 1168.68
    assert [medicare.national_amount("44320", y) for y in (2022, 2023, 2024)] == [1234.40, 1210.45, 1196.69]
    published = {
        "44310": 1011.15,
        "44312": 583.85,
        "44314": 975.89,
        "44316": 1380.55,
        "44322": 979.45,
        "44340": 614.91,
        "44345": 1024.41,
        "44346": 1151.86,
        "44141": 1755.44,
        "44626": 1539.05,
    }
    assert {c: medicare.national_amount(c, 2025) for c in published} == published


def test_na_indicator_means_not_payable():
    table = medicare.medicare_amounts("44320", 2025, localities="all")
    non_facility = table[table["setting"] == "non_facility"]
    assert len(non_facility) == 110 and not non_facility["payable"].any() and non_facility["amount"].isna().all()
    assert medicare.national_amount("44320", 2025, "non_facility") is None
    # 71046 has a facility NA indicator (diagnostic test), so the facility side is the unpayable one.
    chest = medicare.medicare_amounts("71046", 2025, localities=None)
    assert chest.set_index("setting").loc["facility", "payable"] == False  # noqa: E712
    assert chest.set_index("setting").loc["non_facility", "amount"] == by_hand(
        "0.22", "0.77", "0.02", NATIONAL, "32.3465"
    )


def test_every_locality_and_year_present():
    table = medicare.medicare_amounts(["44320", "44310"], 2023, localities="all")
    assert set(table["hcpcs"]) == {"44320", "44310"}
    assert table["locality_id"].nunique() == 110  # 109 localities + national
    local = table[table["locality_id"] != "national"]
    # no 2023 GPCI table was found: 2023 borrows the nearest year's (2024) and every row says so
    assert (local["gpci_year"] == 2024).all() and local["gpci_borrowed"].all()
    assert medicare.available_years() == [2022, 2023, 2024, 2025, 2026]


def test_pprrvu_layout_and_conversion_factors():
    cfs = {y: medicare.load_pprrvu(y)["conversion_factor"].unique().tolist() for y in medicare.available_years()}
    assert cfs == {2022: [34.6062], 2023: [33.8872], 2024: [33.2875], 2025: [32.3465], 2026: [33.4009]}
    rvu = medicare.load_pprrvu(2025)
    assert len(rvu) == 19090  # the release's code rows (SOURCE.md)
    assert rvu["hcpcs"].map(type).eq(str).all()
    assert "00100" in set(rvu["hcpcs"])  # leading zeros kept
    row = rvu[rvu["hcpcs"] == "44320"].iloc[0]
    assert row["source_line"] == 5228 and row["global_days"] == "090"


def test_indicators_of_44320_and_family():
    ind = medicare.pfs_indicators("44320", 2025)
    assert (
        ind.status_code,
        ind.global_days,
        ind.mult_proc,
        ind.bilat_surg,
        ind.asst_surg,
        ind.co_surg,
        ind.team_surg,
        ind.pctc_ind,
    ) == ("A", "090", "2", "0", "2", "1", "0", "0")
    assert (ind.pre_op, ind.intra_op, ind.post_op) == (0.09, 0.81, 0.10)
    assert ind.non_facility_na and not ind.facility_na
    assert "facility" in ind.meanings()["site_of_service"]
    assert medicare.pfs_indicators("44312", 2025).asst_surg == "0"
    assert medicare.pfs_indicators("44340", 2025).asst_surg == "1"
    with pytest.raises(KeyError, match="not in the 2025 PFS release"):
        medicare.pfs_indicators("ABCDE", 2025)


def test_modifier_effects_follow_indicators():
    effects = {e.modifier: e for e in medicare.modifier_effects("44320", 2025)}
    assert effects["51"].factor == 0.5 and effects["62"].factor == 0.625 and effects["80"].factor == 0.16
    assert effects["AS"].factor == pytest.approx(0.136)
    # BILAT SURG 0: no 150% adjustment, the line is paid at 100%; TEAM SURG 0: team surgeons not paid
    assert effects["50"].factor == 1.0 and effects["50"].payment_pct == 100.0
    assert effects["66"].allowed is False and effects["66"].payment_pct == 0.0
    assert effects["81"].factor == 0.16 and [e.modifier for e in medicare.modifier_effects("44320", 2025)] == list(
        medicare.PAYMENT_MODIFIERS
    )
    assert effects["54"].factor == pytest.approx(0.90) and effects["55"].factor == pytest.approx(0.10)
    assert effects["22"].allowed is None and effects["22"].payment_pct is None  # by report
    no_assist = {e.modifier: e for e in medicare.modifier_effects("44340", 2025)}
    assert no_assist["80"].allowed is False and no_assist["80"].factor is None


def test_respread_file_and_bad_header(tmp_path):
    source = config.PPRRVU_FILES[2025].read_text(encoding="latin-1").splitlines()
    # A spreadsheet re-save drops the zeros of GLOB DAYS: the loader restores the published width.
    resaved = [line.replace(",090,", ",90,") for line in source]
    path = tmp_path / "PPRRVU25_resaved.csv"
    path.write_text("\n".join(resaved), encoding="latin-1")
    assert medicare.load_pprrvu(path).set_index("hcpcs").loc["44320", "global_days"] == "090"
    broken = (
        source[:9]
        + [source[9].replace("HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU", "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,XXX")]
        + source[10:20]
    )
    bad = tmp_path / "PPRRVU_bad.csv"
    bad.write_text("\n".join(broken), encoding="latin-1")
    with pytest.raises(medicare.PfsFileError, match="line 10, column 6"):
        medicare.load_pprrvu(bad)


def test_gpci_normalizes_spreadsheet_damage_and_keeps_raw():
    gpci = medicare.load_gpci(2025)
    assert len(gpci) == 109
    alaska = gpci.set_index("locality_id").loc["02102-01"]
    assert (alaska["mac_raw"], alaska["locality_number_raw"], alaska["state"]) == ("2102", "1", "AK")
    assert alaska["locality_name"] == "ALASKA"
    counties = medicare.load_locality_counties(2025)
    assert set(counties["locality_id"]) == set(gpci["locality_id"])
    assert counties.set_index("locality_id").loc["04412-18", "state_name"] == "TEXAS"


def test_unknown_locality_is_an_error():
    with pytest.raises(KeyError, match="Unknown Medicare locality"):
        medicare.medicare_amounts("44320", 2025, localities=["99999-99"])


def test_amounts_table_is_validated_and_typed():
    table = medicare.medicare_amounts("44320", 2025, localities=["13202-01"])
    assert list(table["locality_id"].unique()) == ["13202-01", "national"]
    assert pd.api.types.is_float_dtype(table["amount"])
