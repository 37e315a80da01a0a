"""Generate the project's SAMPLE commercial price data, in the real public file formats.

Every number written here is invented (``config.SYNTHETIC_LABEL``). The files exist so the readers, the
statistics and the report can run end to end without downloading terabytes of payer files, and so that each
quirk real files have is present at least once. Real files are read by exactly the same code.

:func:`generate_sample_data` writes, under ``out_dir`` (default ``config.SAMPLE_DIR``):

- ``tic/*.json.gz``: Transparency in Coverage in-network rate files, one per reporting entity and plan (Aetna in
  the 1.x layout, every other payer in the 2.x layout), each valid against the CMS JSON schema of its version;
- ``hospital/*.csv``: hospital standard-charge files in the CMS CSV templates (v2.0.0 tall and wide, v3.0.0 tall
  and wide), one per fictional hospital;
- ``provider_directory.csv``: an NPPES-like directory of the fictional providers (NPI, TIN, county, ZIP and the
  Medicare locality of the county);
- ``README.md`` (what each file is and which quirks it carries) and ``MANIFEST.json`` (bytes, sha256, format and
  schema version of every file).

The output is deterministic: every random draw comes from ``numpy.random.default_rng`` seeded with ``seed`` plus a
stable key (a CRC-32 of a text naming the draw), so it does not depend on call order; JSON uses fixed separators,
gzip has ``mtime=0`` and no file name, CSV uses ``"\\n"`` line endings. Generating twice gives byte-identical files.

The rates are spread around the Medicare Physician Fee Schedule *locality* facility amount of each code
(:func:`benchmark.reference.medicare.medicare_amounts`): a payer x market multiplier (commercial about 110%-260% of Medicare,
Medicare Advantage about 95%-105%), a lognormal factor per provider group and a small per-code jitter.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark import config
from benchmark.reference import medicare

DEFAULT_SEED = 20250101
PAYMENT_YEAR = 2025
TIC_LAST_UPDATED = "2025-12-01"
SYNTHETIC_PLAN_SUFFIX = " (SYNTHETIC SAMPLE)"

CODES: tuple[str, ...] = ("44310", "44312", "44314", "44316", "44320", "44322", "44340", "44345", "44346")
RICH_CODE = "44320"
# Our own short plain-language labels (never the AMA CPT descriptors).
CODE_LABELS: dict[str, str] = {
    "44310": "Small-bowel stoma creation (plain-language label)",
    "44312": "Ileostomy stoma touch-up, minor (plain-language label)",
    "44314": "Ileostomy stoma rebuild, major (plain-language label)",
    "44316": "Internal-pouch ileostomy creation (plain-language label)",
    "44320": "Colostomy creation (plain-language label)",
    "44322": "Colostomy creation plus several tissue samples (plain-language label)",
    "44340": "Colostomy stoma touch-up, minor (plain-language label)",
    "44345": "Colostomy stoma rebuild, major (plain-language label)",
    "44346": "Colostomy stoma rebuild with nearby hernia fix (plain-language label)",
}
FACILITY_LABEL = "Colostomy creation - hospital inpatient stay, facility fee (plain-language label)"
# One MS-DRG listed by every sample hospital, so that an MS-DRG report (`paybench report MS-DRG-470`) has rows: a
# case rate per inpatient stay (Cigna: percent of billed charges, which has no dollar amount to compare).
SAMPLE_DRG = "470"
DRG_LABEL = "Hip or knee joint replacement, inpatient stay without major complications (plain-language label)"
MODIFIER_LABELS = {"80": "assistant surgeon", "62": "co-surgeon", "51": "additional procedure same session"}
# Hospital professional rows: the two minor revisions are listed as outpatient, the rest as inpatient.
HOSPITAL_SETTING = {code: ("outpatient" if code in {"44312", "44340"} else "inpatient") for code in CODES}

# IRS EIN prefixes never assigned to a campus: EINs built on them are well-formed but cannot be real.
_UNASSIGNED_EIN_PREFIXES = ("07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89")

TIC_SCHEMA_FILES = {"1": "schemas/v1.6.2/in-network-rates.json", "2": "schemas/v2.2.0/in-network-rates.json"}


# --------------------------------------------------------------------------------------------------- markets
@dataclass(frozen=True)
class Market:
    key: str
    locality_id: str
    state: str
    city: str
    counties: tuple[tuple[str, tuple[str, ...]], ...]  # (county, ZIP codes in it)
    bcbs: str | None  # the local Blue Cross Blue Shield licensee publishing a TiC file for this market
    commercial_effect: float  # log-scale market effect on commercial multipliers


MARKETS: tuple[Market, ...] = (
    Market(
        "NY",
        "13202-01",
        "NY",
        "Manhattan",
        (("New York", ("10016", "10021", "10032", "10065")),),
        "Empire HealthChoice Assurance, Inc.",
        0.22,
    ),
    Market(
        "TX",
        "04412-18",
        "TX",
        "Houston",
        (("Harris", ("77002", "77024", "77030", "77090")),),
        "Blue Cross and Blue Shield of Texas",
        0.00,
    ),
    Market("FL", "09102-04", "FL", "Miami", (("Miami-Dade", ("33136", "33156", "33176")),), "Florida Blue", -0.08),
    Market(
        "IL",
        "06102-16",
        "IL",
        "Chicago",
        (("Cook", ("60201", "60611", "60612", "60637")),),
        "Blue Cross and Blue Shield of Illinois",
        0.06,
    ),
    Market(
        "CA",
        "01182-18",
        "CA",
        "Los Angeles",
        (("Los Angeles", ("90033", "90048", "90095", "91105")),),
        "Anthem Blue Cross",
        0.18,
    ),
    Market(
        "OH",
        "15202-00",
        "OH",
        "Ohio (statewide)",
        (("Franklin", ("43210", "43215")), ("Cuyahoga", ("44106", "44195")), ("Hamilton", ("45219",))),
        None,
        -0.14,
    ),
)
MARKET_BY_KEY = {m.key: m for m in MARKETS}

_GROUP_PLACES = (
    "Lakeside",
    "Riverbend",
    "Northgate",
    "Summit",
    "Harborview",
    "Maplewood",
    "Cedar Ridge",
    "Oakmont",
    "Willow Creek",
    "Stonebridge",
    "Pinecrest",
    "Brookfield",
    "Fairhaven",
    "Silver Lake",
    "Elm Grove",
    "Bayview",
)
_GROUP_KINDS = (
    "Sample Surgical Group",
    "Sample Colorectal Associates",
    "Sample General Surgery Partners",
    "Sample Surgical Specialists",
)
_FIRST_NAMES = (
    "Avery",
    "Jordan",
    "Morgan",
    "Riley",
    "Casey",
    "Quinn",
    "Rowan",
    "Emerson",
    "Harper",
    "Reese",
    "Sage",
    "Parker",
    "Dakota",
    "Finley",
    "Hayden",
    "Kendall",
)
_LAST_NAMES = (
    "Samplewell",
    "Examplar",
    "Fictionby",
    "Mockridge",
    "Testwood",
    "Placeholt",
    "Demoray",
    "Notaro",
    "Specimen",
    "Dummont",
    "Proxley",
    "Stubbins",
)

HOSPITALS_SPEC: tuple[tuple[str, str, str, str], ...] = (
    # (market, name, template, street)
    ("TX", "Sample General Hospital of Houston", "v2.0.0-tall", "1200 Sample Medical Way"),
    ("FL", "Sample Bayside Hospital of Miami", "v2.0.0-wide", "450 Example Causeway"),
    ("IL", "Sample Lakeshore Medical Center of Chicago", "v3.0.0-tall", "77 Fictional Avenue"),
    ("CA", "Sample Community Hospital of Los Angeles", "v3.0.0-wide", "3300 Placeholder Boulevard"),
)


@dataclass
class Provider:
    npi: int
    name: str
    entity_type: int  # 1 individual, 2 organization
    taxonomy: str = ""  # NUCC taxonomy code (the provider directory's taxonomy column)


@dataclass
class Entity:
    """A billing entity with one TIN: a surgeon group or a hospital."""

    entity_id: str
    kind: str  # "group" | "hospital"
    name: str
    tin: str
    market: Market
    county: str
    zip: str
    providers: list[Provider] = field(default_factory=list)

    @property
    def npis(self) -> list[int]:
        return [p.npi for p in self.providers]


# --------------------------------------------------------------------------------------------------- payers
@dataclass(frozen=True)
class TicPlan:
    key: str
    family: str  # contract family: files of one family share contracts (and so rates)
    reporting_entity_name: str
    plan_name: str  # without the synthetic suffix
    plan_market_type: str
    plan_id_type: str  # "EIN" (1.x style) / "ein" / "hios"
    network_name: str
    schema: str  # "1" or "2"
    version: str
    markets: tuple[str, ...]
    product: str = "commercial"  # or "medicare_advantage"
    provider_references_last: bool = False

    @property
    def full_plan_name(self) -> str:
        return self.plan_name + SYNTHETIC_PLAN_SUFFIX


ALL_MARKETS = tuple(m.key for m in MARKETS)
TIC_PLANS: tuple[TicPlan, ...] = (
    TicPlan(
        "aetna",
        "aetna",
        "Aetna Life Insurance Company",
        "Aetna Open Access Managed Choice",
        "group",
        "EIN",
        "Open Access Managed Choice",
        "1",
        "1.3.1",
        ALL_MARKETS,
    ),
    TicPlan(
        "anthem-ca",
        "bcbs",
        "Anthem Blue Cross",
        "Anthem Blue Cross PPO",
        "group",
        "ein",
        "Anthem Blue Cross PPO Network",
        "2",
        "2.0.0",
        ("CA",),
    ),
    TicPlan(
        "empire-ny",
        "bcbs",
        "Empire HealthChoice Assurance, Inc.",
        "Empire BlueCross BlueShield EPO",
        "individual",
        "hios",
        "Empire Pathway EPO Network",
        "2",
        "2.0.0",
        ("NY",),
    ),
    TicPlan(
        "bcbstx",
        "bcbs",
        "Blue Cross and Blue Shield of Texas",
        "BlueChoice PPO",
        "group",
        "ein",
        "BlueChoice PPO Network",
        "2",
        "2.0.0",
        ("TX",),
    ),
    TicPlan(
        "bcbsil",
        "bcbs",
        "Blue Cross and Blue Shield of Illinois",
        "Blue Choice Preferred PPO",
        "group",
        "ein",
        "Blue Choice Preferred PPO Network",
        "2",
        "2.0.0",
        ("IL",),
    ),
    TicPlan(
        "florida-blue",
        "bcbs",
        "Florida Blue",
        "BlueOptions PPO",
        "individual",
        "hios",
        "BlueOptions Network",
        "2",
        "2.0.0",
        ("FL",),
    ),
    TicPlan(
        "cigna-oap",
        "cigna",
        "Cigna Health and Life Insurance Company",
        "Cigna Open Access Plus",
        "group",
        "ein",
        "Open Access Plus",
        "2",
        "2.0.0",
        ALL_MARKETS,
        provider_references_last=True,
    ),
    TicPlan(
        "cigna-ppo",
        "cigna",
        "Cigna Health and Life Insurance Company",
        "Cigna PPO",
        "group",
        "ein",
        "Cigna PPO Network",
        "2",
        "2.0.0",
        ALL_MARKETS,
        provider_references_last=True,
    ),
    TicPlan(
        "uhc",
        "uhc",
        "UnitedHealthcare Insurance Company",
        "UnitedHealthcare Choice Plus",
        "group",
        "ein",
        "Choice Plus",
        "2",
        "2.0.0",
        ALL_MARKETS,
    ),
    TicPlan(
        "uhc-ma",
        "uhc_ma",
        "UnitedHealthcare Insurance Company",
        "UnitedHealthcare Medicare Advantage PPO",
        "individual",
        "hios",
        "Medicare Advantage PPO",
        "2",
        "2.0.0",
        ALL_MARKETS,
        product="medicare_advantage",
    ),
)

# Commercial base multiplier (x Medicare) and lognormal group spread per contract family.
FAMILY_BASE = {"aetna": 1.55, "bcbs": 1.45, "cigna": 1.70, "uhc": 1.60}
FAMILY_SIGMA = {"aetna": 0.18, "bcbs": 0.14, "cigna": 0.24, "uhc": 0.20}
COMMERCIAL_RATIO_BOUNDS = (0.9, 3.2)  # after the group spread and code jitter
MA_RATIO_BOUNDS = (0.95, 1.05)  # market level
MA_FINAL_BOUNDS = (0.93, 1.07)  # after the per-group step
EXPIRATIONS = (("9999-12-31", 0.35), ("2026-12-31", 0.30), ("2026-06-30", 0.15), ("2027-03-31", 0.20))
# NUCC taxonomy codes of the provider directory: surgeons, group organizations, hospitals; and the "zombie" group
# whose physicians are psychiatrists although payers list colostomy rates for it (benchmark.analysis.flags).
TAXONOMY_SURGEON = "208600000X"  # Allopathic & Osteopathic Physicians / Surgery
TAXONOMY_COLORECTAL = "208C00000X"  # ... / Colon & Rectal Surgery
TAXONOMY_GROUP = "193400000X"  # Group / Single-Specialty
TAXONOMY_HOSPITAL = "282N00000X"  # Hospitals / General Acute Care Hospital
TAXONOMY_PSYCHIATRY = "2084P0800X"  # ... / Psychiatry & Neurology, Psychiatry
ZOMBIE_GROUP = "OH-G01"
# Quirks that the rate flags and the payer-hospital cross-check must find (each documented in the sample README):
# (family, group, code) -> published amount instead of the contract's rate
PLACEHOLDER_PRICES = {("cigna", "TX-G01", "44310"): 999999.99, ("aetna", "CA-G01", "44340"): 1.0}
# (family, hospital market) -> factor on the facility amount in the payer's file (the hospital's file keeps the
# contract amount): the two files disagree
TIC_FACILITY_MISMATCH = {("uhc", "FL"): 1.08}
# family -> extra codes with an institutional rate in the payer's file that no hospital file lists (payer only)
TIC_EXTRA_FACILITY_CODES = {"cigna": ("44310",)}
# (family, hospital market) -> the payer's file states the per diem as a case amount for a 5-day stay: the two files
# use different kinds of amount (not comparable)
TIC_CASE_FOR_PER_DIEM = {("aetna", "IL"): 5}
# How each contract family pays the hospital's inpatient stay for 44320: methodology by market (default first).
FACILITY_METHOD = {
    "aetna": {"*": "per diem"},
    "bcbs": {"*": "case rate", "TX": "per diem", "IL": "per diem"},
    "cigna": {"*": "percent of total billed charges"},
    "uhc": {"*": "case rate"},
    "uhc_ma": {"*": "per diem"},
}

# Hospital payer/plan columns: (payer name, plan name, contract family). The BCBS payer is the market's licensee.
HOSPITAL_PLANS = (
    ("Aetna", "Open Access Managed Choice", "aetna"),
    (None, None, "bcbs"),
    ("Cigna", "Open Access Plus", "cigna"),
    ("UnitedHealthcare", "Choice Plus", "uhc"),
    ("UnitedHealthcare", "Medicare Advantage PPO", "uhc_ma"),
)

V2_AFFIRMATION = (
    "To the best of its knowledge and belief, the hospital has included all applicable standard charge information "
    "in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, accurate, and "
    "complete as of the date indicated."
)
V3_ATTESTATION = (
    "To the best of its knowledge and belief, this hospital has included all applicable standard charge information "
    "in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, accurate, and "
    "complete as of the date in the file. This hospital has included all payer-specific negotiated charges in "
    "dollars that can be expressed as a dollar amount. For payer-specific negotiated charges that cannot be expressed "
    "as a dollar amount in the machine-readable file or not knowable in advance, the hospital attests that the "
    "payer-specific negotiated charge is based on a contractual algorithm, percentage or formula that precludes the "
    "provision of a dollar amount and has provided all necessary information available to the hospital for the "
    "public to be able to derive the dollar amount, including, but not limited to, the specific fee schedule or "
    "components referenced in such percentage, algorithm or formula."
)


# --------------------------------------------------------------------------------------------------- public API
def generate_sample_data(out_dir: Path | None = None, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the synthetic sample files under ``out_dir`` (default ``config.SAMPLE_DIR``); return their paths.

    Layout: ``tic/`` (TiC in-network ``.json.gz``), ``hospital/`` (standard-charge CSVs),
    ``provider_directory.csv``, ``README.md`` and ``MANIFEST.json`` (written last, listing all the others).
    """
    out = Path(out_dir) if out_dir is not None else config.SAMPLE_DIR
    gen = _Generator(seed)
    files: list[tuple[str, bytes, dict]] = []  # (relative path, content, manifest metadata)
    for plan in TIC_PLANS:
        name, content, meta = gen.tic_file(plan)
        files.append((f"tic/{name}", content, meta))
    for spec in HOSPITALS_SPEC:
        name, content, meta = gen.hospital_file(spec[0])
        files.append((f"hospital/{name}", content, meta))
    files.append(
        (
            "provider_directory.csv",
            gen.provider_directory(),
            {
                "format": "provider directory CSV (NPPES-like)",
                "schema_version": None,
                "description": "Fictional providers: NPI, TIN, county, ZIP and Medicare locality",
            },
        )
    )
    files.append(
        (
            "README.md",
            _readme(files, seed).encode("utf-8"),
            {"format": "markdown", "schema_version": None, "description": "What the sample files are"},
        )
    )

    _remove_stale(out, {rel for rel, _, _ in files})
    written: list[Path] = []
    entries = []
    for rel, content, meta in files:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
        entries.append(
            {
                "path": rel,
                "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "format": meta["format"],
                "schema_version": meta["schema_version"],
                "synthetic": True,
                "description": meta["description"],
            }
        )
    manifest = {
        "label": config.SYNTHETIC_LABEL,
        "synthetic": True,
        "generator": "benchmark.synthetic.generate_sample_data",
        "cli": "paybench sample-data",
        "seed": seed,
        "medicare_payment_year": PAYMENT_YEAR,
        "files": entries,
    }
    manifest_path = out / "MANIFEST.json"
    manifest_path.write_bytes(_json_pretty(manifest))
    written.append(manifest_path)
    return written


def npi_check_digit(first_nine: str) -> int:
    """Luhn check digit of an NPI: computed over ``80840`` + the first nine digits (the card-issuer prefix)."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:  # rightmost payload digit is doubled (the check digit will sit to its right)
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_is_valid(npi: int | str) -> bool:
    """True for a 10-digit NPI whose last digit is the Luhn check digit (with the 80840 prefix)."""
    text = str(npi)
    return bool(re.fullmatch(r"[12]\d{9}", text)) and npi_check_digit(text[:9]) == int(text[9])


# --------------------------------------------------------------------------------------------------- generator
class _Generator:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._used_npis: set[int] = set()
        self._used_eins: set[str] = set()
        self._ein_counter = 0
        self.medicare = self._medicare_amounts()
        self.modifiers = {
            code: {e.modifier: e for e in medicare.modifier_effects(code, PAYMENT_YEAR)} for code in CODES
        }
        self.groups: list[Entity] = []
        self.hospitals: list[Entity] = []
        self._build_providers()

    # ---- randomness
    def rng(self, *key: object) -> np.random.Generator:
        """An RNG that depends only on the seed and the key text (not on how many draws came before)."""
        text = "|".join(str(k) for k in key)
        return np.random.default_rng([self.seed, zlib.crc32(text.encode("utf-8"))])

    def _new_npi(self, rng: np.random.Generator) -> int:
        while True:
            body = "1" + f"{int(rng.integers(0, 10**8)):08d}"
            npi = int(body + str(npi_check_digit(body)))
            if npi not in self._used_npis:
                self._used_npis.add(npi)
                return npi

    def _new_ein(self, rng: np.random.Generator) -> str:
        while True:
            prefix = _UNASSIGNED_EIN_PREFIXES[self._ein_counter % len(_UNASSIGNED_EIN_PREFIXES)]
            ein = f"{prefix}-{int(rng.integers(0, 10**7)):07d}"
            if ein not in self._used_eins:
                self._used_eins.add(ein)
                self._ein_counter += 1
                return ein

    # ---- reference amounts
    def _medicare_amounts(self) -> dict[tuple[str, str, str], float]:
        known = set(medicare.load_gpci()["locality_id"])
        missing = [m.locality_id for m in MARKETS if m.locality_id not in known]
        if missing:
            raise KeyError(f"Sample markets name unknown Medicare localities {missing}")
        table = medicare.medicare_amounts(list(CODES), PAYMENT_YEAR, localities=[m.locality_id for m in MARKETS])
        amounts: dict[tuple[str, str, str], float] = {}
        for row in table.itertuples(index=False):
            if row.locality_id != medicare.NATIONAL and not (row.amount is None or math.isnan(row.amount)):
                amounts[(row.hcpcs, row.locality_id, row.setting)] = float(row.amount)
        for code in CODES:
            for market in MARKETS:
                if (code, market.locality_id, "facility") not in amounts:
                    raise KeyError(f"No {PAYMENT_YEAR} Medicare facility amount for {code} in {market.locality_id}")
        return amounts

    def medicare_facility(self, code: str, market: Market) -> float:
        return self.medicare[(code, market.locality_id, "facility")]

    # ---- providers
    def _build_providers(self) -> None:
        rng = self.rng("providers")
        names = [f"{place} {kind}" for place in _GROUP_PLACES for kind in _GROUP_KINDS]
        order = rng.permutation(len(names))
        pool = [names[i] for i in order if names[i] != "Lakeside Sample Surgical Group"]
        pool.insert(0, "Lakeside Sample Surgical Group")
        used_people: set[str] = set()
        for market in MARKETS:
            for index in range(int(rng.integers(5, 9))):
                county, zips = market.counties[int(rng.integers(0, len(market.counties)))]
                name = pool.pop(0)
                entity = Entity(
                    f"{market.key}-G{index + 1:02d}",
                    "group",
                    name,
                    self._new_ein(rng),
                    market,
                    county,
                    zips[int(rng.integers(0, len(zips)))],
                )
                entity.providers.append(Provider(self._new_npi(rng), name, 2, TAXONOMY_GROUP))
                for _ in range(int(rng.integers(2, 7))):
                    while True:
                        person = (
                            f"{_FIRST_NAMES[int(rng.integers(0, len(_FIRST_NAMES)))]} "
                            f"{_LAST_NAMES[int(rng.integers(0, len(_LAST_NAMES)))]}, MD"
                        )
                        if person not in used_people:
                            used_people.add(person)
                            break
                    taxonomy = TAXONOMY_COLORECTAL if "Colorectal" in name else TAXONOMY_SURGEON
                    if entity.entity_id == ZOMBIE_GROUP:
                        taxonomy = TAXONOMY_PSYCHIATRY
                    entity.providers.append(Provider(self._new_npi(rng), person, 1, taxonomy))
                self.groups.append(entity)
        for index, (market_key, name, _, _) in enumerate(HOSPITALS_SPEC):
            market = MARKET_BY_KEY[market_key]
            county, zips = market.counties[0]
            hospital = Entity(
                f"{market_key}-H{index + 1:02d}", "hospital", name, self._new_ein(rng), market, county, zips[-1]
            )
            hospital.providers.append(Provider(self._new_npi(rng), name, 2, TAXONOMY_HOSPITAL))
            self.hospitals.append(hospital)

    def entities_in(self, markets: tuple[str, ...], kind: str) -> list[Entity]:
        pool = self.groups if kind == "group" else self.hospitals
        return [e for m in markets for e in pool if e.market.key == m]

    def provider_directory(self) -> bytes:
        rows = [
            [
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
        ]
        for entity in self.groups + self.hospitals:
            for provider in entity.providers:
                rows.append(
                    [
                        str(provider.npi),
                        entity.tin,
                        provider.name,
                        str(provider.entity_type),
                        entity.market.state,
                        entity.county,
                        entity.zip,
                        entity.market.locality_id,
                        provider.taxonomy,
                        config.SYNTHETIC_LABEL,
                    ]
                )
        return _csv_bytes(rows)

    # ---- contracts
    def market_multiplier(self, family: str, market: Market) -> float:
        rng = self.rng("market-multiplier", family, market.key)
        if family == "uhc_ma":
            return float(rng.uniform(*MA_RATIO_BOUNDS))
        value = FAMILY_BASE[family] * math.exp(market.commercial_effect + rng.normal(0.0, 0.08))
        return float(np.clip(value, 1.10, 2.60))

    def ratio(self, family: str, entity: Entity, code: str) -> float:
        """Rate / Medicare locality facility amount for ``code`` under this family's contract with ``entity``."""
        market = self.market_multiplier(family, entity.market)
        if family == "uhc_ma":
            # Medicare Advantage contracts pay a flat percent of Medicare: most groups of a market get the same one.
            step = (0.0, 0.0, 0.0, -0.02, 0.02)[int(self.rng("ma-step", entity.entity_id).integers(0, 5))]
            return float(np.clip(round(market + step, 2), *MA_FINAL_BOUNDS))
        sigma = FAMILY_SIGMA[family]
        group = float(
            np.clip(self.rng("group-factor", family, entity.entity_id).normal(0.0, sigma), -2 * sigma, 2 * sigma)
        )
        jitter = float(np.clip(self.rng("code-jitter", family, entity.entity_id, code).normal(0.0, 0.03), -0.06, 0.06))
        return float(np.clip(market * math.exp(group + jitter), *COMMERCIAL_RATIO_BOUNDS))

    def rate(self, family: str, entity: Entity, code: str) -> float:
        return _cents(self.medicare_facility(code, entity.market) * self.ratio(family, entity, code))

    def expiration(self, family: str, entity: Entity) -> str:
        # Medicare Advantage: one contract term per market; commercial: one per provider contract.
        who = entity.market.key if family == "uhc_ma" else entity.entity_id
        rng = self.rng("expiration", family, who)
        dates = [date for date, _ in EXPIRATIONS]
        weights = [weight for _, weight in EXPIRATIONS]
        return dates[int(rng.choice(len(dates), p=np.array(weights) / sum(weights)))]

    def facility_method(self, family: str, market: Market) -> str:
        table = FACILITY_METHOD[family]
        return table.get(market.key, table["*"])

    def facility_amount(self, family: str, hospital: Entity) -> float:
        """Per diem ($/day), case rate ($/stay) or percent of billed charges, per the family's methodology."""
        method = self.facility_method(family, hospital.market)
        rng = self.rng("facility", family, hospital.entity_id)
        level = math.exp(hospital.market.commercial_effect)
        if method == "per diem":
            base = rng.uniform(2600, 3400) if family == "uhc_ma" else rng.uniform(3800, 6200) * level
            return _cents(base)
        if method == "case rate":
            return _cents(rng.uniform(24000, 46000) * level)
        return float(rng.integers(90, 141)) / 2  # 45.0 .. 70.0 percent, in half points

    def gross_charge(self, code: str, hospital: Entity) -> float:
        rng = self.rng("gross", code, hospital.entity_id)
        return float(round(self.medicare_facility(code, hospital.market) * rng.uniform(3.2, 4.6)))

    def facility_gross_charge(self, hospital: Entity) -> float:
        return float(round(self.rng("facility-gross", hospital.entity_id).uniform(68000, 96000)))

    # ---- TiC
    def tic_file(self, plan: TicPlan) -> tuple[str, bytes, dict]:
        doc = self._tic_v1(plan) if plan.schema == "1" else self._tic_v2(plan)
        content = _gzip_bytes(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        name = (
            f"{TIC_LAST_UPDATED}_{_slug(plan.reporting_entity_name)}_{_slug(plan.full_plan_name)}"
            f"_in-network-rates.json.gz"
        )
        markets = ", ".join(f"{MARKET_BY_KEY[m].city} {MARKET_BY_KEY[m].locality_id}" for m in plan.markets)
        meta = {
            "format": f"TiC in-network rates JSON (schema {plan.schema}.x), gzip",
            "schema_version": plan.version,
            "description": f"{plan.reporting_entity_name} - {plan.full_plan_name}; markets: {markets}",
            "reporting_entity_name": plan.reporting_entity_name,
            "plan_name": plan.full_plan_name,
        }
        return name, content, meta

    def _plan_header(self, plan: TicPlan) -> dict:
        rng = self.rng("plan-id", plan.key)
        header: dict = {
            "reporting_entity_name": plan.reporting_entity_name,
            "reporting_entity_type": "health insurance issuer",
        }
        if plan.schema == "2":
            header["issuer_name"] = plan.reporting_entity_name
        header["plan_name"] = plan.full_plan_name
        header["plan_id_type"] = plan.plan_id_type
        if plan.plan_id_type.lower() == "ein":
            header["plan_id"] = self._new_ein(rng).replace("-", "")
            if plan.schema == "2":
                header["plan_sponsor_name"] = "Synthetic Sample Employer Health Plan (fictional sponsor)"
        else:
            state = MARKET_BY_KEY[plan.markets[0]].state if len(plan.markets) == 1 else "US"
            header["plan_id"] = f"9{int(rng.integers(0, 10**4)):04d}{state}{int(rng.integers(1, 1000)):03d}"
        header["plan_market_type"] = plan.plan_market_type
        header["last_updated_on"] = TIC_LAST_UPDATED
        header["version"] = plan.version
        return header

    def _professional_prices(self, plan: TicPlan, entity: Entity, code: str, with_setting: bool) -> list[dict]:
        """Negotiated prices of one surgeon group for one code under the plan's contract family."""
        family = plan.family
        rng = self.rng("prices", family, entity.entity_id, code)
        style = self.rng("style", family, entity.entity_id)
        pos = ["21"] if style.uniform() < 0.5 and family != "uhc_ma" else ["21", "22"]
        setting = "inpatient" if pos == ["21"] else "both"
        expires = self.expiration(family, entity)
        flags = self._group_flags(plan, entity)

        def price(
            kind: str,
            amount: float,
            modifiers: list[str] | None = None,
            codes: list[str] | None = None,
            where: str | None = None,
            info: str | None = None,
        ) -> dict:
            item: dict = {
                "negotiated_type": kind,
                "negotiated_rate": amount,
                "expiration_date": expires,
                "service_code": list(codes or pos),
                "billing_class": "professional",
            }
            if with_setting:
                item["setting"] = where or setting
            if modifiers:
                item["billing_code_modifier"] = modifiers
            if info:
                item["additional_information"] = info
            return item

        if flags["percentage"]:
            percent = float(self.rng("pct-of-charges", family, entity.entity_id).integers(90, 141)) / 2
            return [price("percentage", percent, info="Percent of billed charges")]
        base = self.rate(family, entity, code)
        kind = "derived" if flags["derived"] else "negotiated"
        prices = [price(kind, PLACEHOLDER_PRICES.get((family, entity.entity_id, code), base))]
        if flags["fee_schedule"]:
            prices.append(price("fee schedule", _cents(base * rng.uniform(0.95, 0.99))))
        non_facility = self.medicare.get((code, entity.market.locality_id, "non_facility"))
        if non_facility and style.uniform() < 0.3:  # office rows only where Medicare pays the code in an office
            prices.append(
                price(kind, _cents(non_facility * self.ratio(family, entity, code)), codes=["11"], where="outpatient")
            )
        if family == "uhc_ma":
            return prices
        effects = self.modifiers[code]
        chance = 0.75 if code == RICH_CODE else 0.2
        if effects["80"].allowed and rng.uniform() < chance:
            prices.append(price(kind, _cents(base * rng.uniform(0.16, 0.25)), ["80"]))
        if effects["62"].allowed and rng.uniform() < chance * 0.8:
            prices.append(price(kind, _cents(base * 0.625), ["62"]))
        if effects["51"].allowed and rng.uniform() < chance * 0.6:
            prices.append(price(kind, _cents(base * 0.5), ["51"]))
        return prices

    def _group_flags(self, plan: TicPlan, entity: Entity) -> dict[str, bool]:
        """Contract quirks of one group under one family (same for every plan of the family)."""
        groups = self.entities_in(plan.markets, "group")
        position = groups.index(entity)
        pick = self.rng("flag-pick", plan.family)
        derived_at = int(pick.integers(0, len(groups))) if plan.family in {"uhc", "bcbs"} else -1
        percentage_at = int(pick.integers(0, len(groups))) if plan.family in {"aetna", "cigna"} else -1
        if percentage_at >= 0 and percentage_at == derived_at:
            percentage_at = (percentage_at + 1) % len(groups)
        fee = plan.family != "uhc_ma" and (
            self.rng("fee-flag", plan.family, entity.entity_id).uniform() < 0.06
            or position == (derived_at + 1) % len(groups)
        )
        return {
            "derived": position == derived_at,
            "percentage": position == percentage_at and len(groups) > 2,
            "fee_schedule": fee and position not in {derived_at, percentage_at},
        }

    def _codes_for(self, plan: TicPlan, entity: Entity) -> list[str]:
        """44320 always; the other codes for most groups (not every group has a rate for every code)."""
        keep = [RICH_CODE]
        for code in CODES:
            if code != RICH_CODE and self.rng("has-code", plan.family, entity.entity_id, code).uniform() < 0.8:
                keep.append(code)
        return [c for c in CODES if c in keep]

    def _institutional_codes(self, plan: TicPlan) -> tuple[str, ...]:
        return (RICH_CODE, *TIC_EXTRA_FACILITY_CODES.get(plan.family, ()))

    def _institutional_price(self, plan: TicPlan, hospital: Entity, with_setting: bool) -> dict:
        method = self.facility_method(plan.family, hospital.market)
        kind = {"per diem": "per diem", "case rate": "negotiated", "percent of total billed charges": "percentage"}
        amount = self.facility_amount(plan.family, hospital)
        factor = TIC_FACILITY_MISMATCH.get((plan.family, hospital.market.key))
        if factor and method != "percent of total billed charges":
            amount = _cents(amount * factor)
        days = TIC_CASE_FOR_PER_DIEM.get((plan.family, hospital.market.key))
        if days and method == "per diem":
            method, amount = "case rate", _cents(amount * days)
        item: dict = {
            "negotiated_type": kind[method],
            "negotiated_rate": amount,
            "expiration_date": self.expiration(plan.family, hospital),
            "billing_class": "institutional",
        }
        if with_setting:
            item["setting"] = "inpatient"
        if days and method == "case rate":
            item["additional_information"] = f"Per diem contract stated as the amount of a {days}-day stay"
        elif method == "case rate":
            item["additional_information"] = "Case rate for the whole inpatient stay"
        elif method == "percent of total billed charges":
            item["additional_information"] = "Percent of total billed charges for the inpatient stay"
        return item

    def _tic_v1(self, plan: TicPlan) -> dict:
        """1.x layout: inline provider_groups, upper-case EIN, no setting; per-NPI duplicates; one TIN-only entry."""
        groups = self.entities_in(plan.markets, "group")
        tin_only = groups[int(self.rng("tin-only", plan.key).integers(0, len(groups)))]
        in_network = []
        for code in CODES:
            rates = []
            for group in groups:
                if code not in self._codes_for(plan, group):
                    continue
                prices = self._professional_prices(plan, group, code, with_setting=False)
                tin = {"type": "ein", "value": group.tin}
                if group is tin_only:
                    rates.append({"provider_groups": [{"npi": [0], "tin": tin}], "negotiated_prices": prices})
                elif self.rng("per-npi", plan.key, group.entity_id).uniform() < 0.35:
                    for npi in group.npis:  # the same rate repeated once per NPI
                        rates.append({"provider_groups": [{"npi": [npi], "tin": tin}], "negotiated_prices": prices})
                else:
                    rates.append({"provider_groups": [{"npi": group.npis, "tin": tin}], "negotiated_prices": prices})
            if code in self._institutional_codes(plan):
                for hospital in self.entities_in(plan.markets, "hospital"):
                    rates.append(
                        {
                            "provider_groups": [{"npi": hospital.npis, "tin": {"type": "ein", "value": hospital.tin}}],
                            "negotiated_prices": [self._institutional_price(plan, hospital, False)],
                        }
                    )
            in_network.append(_in_network_item(code, rates))
        doc = self._plan_header(plan)
        doc["in_network"] = in_network
        return doc

    def _tic_v2(self, plan: TicPlan) -> dict:
        """2.x layout: root provider_references (network_name, business_name), setting on every price."""
        entities = self.entities_in(plan.markets, "group") + self.entities_in(plan.markets, "hospital")
        ref_ids = {e.entity_id: i + 1 for i, e in enumerate(entities)}
        references = [
            {
                "provider_group_id": ref_ids[e.entity_id],
                "network_name": [plan.network_name],
                "provider_groups": [{"npi": e.npis, "tin": {"type": "ein", "value": e.tin, "business_name": e.name}}],
            }
            for e in entities
        ]
        in_network = []
        for code in CODES:
            merged: dict[str, tuple[list[int], list[dict]]] = {}  # identical price lists share one entry
            for entity in entities:
                if entity.kind == "group":
                    if code not in self._codes_for(plan, entity):
                        continue
                    prices = self._professional_prices(plan, entity, code, with_setting=True)
                elif code in self._institutional_codes(plan):
                    prices = [self._institutional_price(plan, entity, True)]
                else:
                    continue
                key = json.dumps(prices, sort_keys=True)
                merged.setdefault(key, ([], prices))[0].append(ref_ids[entity.entity_id])
            rates = [{"provider_references": refs, "negotiated_prices": prices} for refs, prices in merged.values()]
            in_network.append(_in_network_item(code, rates))
        doc = self._plan_header(plan)
        if plan.provider_references_last:
            doc["in_network"] = in_network
            doc["provider_references"] = references
        else:
            doc["provider_references"] = references
            doc["in_network"] = in_network
        return doc

    # ---- hospitals
    def hospital_file(self, market_key: str) -> tuple[str, bytes, dict]:
        hospital = next(h for h in self.hospitals if h.market.key == market_key)
        spec = next(s for s in HOSPITALS_SPEC if s[0] == market_key)
        template = spec[2]
        version, layout = template.split("-")
        items = self._hospital_items(hospital, version)
        plans = self._hospital_plans(hospital)
        rows = self._hospital_header(hospital, spec, version, layout)
        if layout == "tall":
            rows += _tall_rows(items, plans, version)
        else:
            rows += _wide_rows(items, plans, version)
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        content = _csv_bytes(rows)
        if template == "v3.0.0-wide":
            content = b"\xef\xbb\xbf" + content  # the CMS v3 wide example starts with a UTF-8 BOM
        name = f"{hospital.tin.replace('-', '')}_{_slug(hospital.name)}-synthetic_standardcharges.csv"
        meta = {
            "format": f"hospital standard charges CSV, {layout}",
            "schema_version": version[1:],
            "description": f"{hospital.name} ({hospital.market.city}, {hospital.market.state}, locality "
            f"{hospital.market.locality_id}); CMS {version} {layout} template",
        }
        return name, content, meta

    def _hospital_plans(self, hospital: Entity) -> list[tuple[str, str, str]]:
        """(payer, plan, family) columns; the BCBS payer and plan are the market's licensee and its TiC plan."""
        bcbs = next(p for p in TIC_PLANS if p.family == "bcbs" and p.markets == (hospital.market.key,))
        return [
            (payer or bcbs.reporting_entity_name, plan or bcbs.plan_name, family)
            for payer, plan, family in HOSPITAL_PLANS
        ]

    def _hospital_header(self, hospital: Entity, spec: tuple, version: str, layout: str) -> list[list[str]]:
        market = hospital.market
        address = f"{spec[3]}, {market.city}, {market.state} {hospital.zip}"
        license_number = f"{90000 + int(self.rng('license', hospital.entity_id).integers(0, 10000)):05d}"
        if version == "v2.0.0":
            head = [
                "hospital_name",
                "last_updated_on",
                "version",
                "hospital_location",
                "hospital_address",
                f"license_number|{market.state}",
                V2_AFFIRMATION,
                "general_contract_provisions",
            ]
            values = [
                hospital.name,
                "2025-07-01",
                "2.0.0",
                hospital.name,
                address,
                license_number,
                "TRUE",
                config.SYNTHETIC_LABEL,
            ]
        else:
            # The v3 tall example writes the date as M/D/YYYY; the wide one here uses ISO (both are accepted).
            updated = "1/15/2026" if layout == "tall" else "2026-01-15"
            head = [
                "hospital_name",
                "last_updated_on",
                "version",
                "location_name",
                "hospital_address",
                f"license_number|{market.state}",
                "type_2_npi",
                V3_ATTESTATION,
                "attester_name",
                "general_contract_provisions",
            ]
            values = [
                hospital.name,
                updated,
                "3.0.0",
                hospital.name,
                address,
                license_number,
                str(hospital.npis[0]),
                "TRUE",
                "Sample Attester (fictional)",
                config.SYNTHETIC_LABEL,
            ]
        return [head, values]

    def _hospital_items(self, hospital: Entity, version: str) -> list[dict]:
        """Items (one per description/code/setting/modifier/billing class) with each payer plan's charge."""
        items = []
        plans = self._hospital_plans(hospital)
        v3 = version == "v3.0.0"
        for code in CODES:
            gross = self.gross_charge(code, hospital)
            charges = {}
            for payer, plan, family in plans:
                percent_row = family == "cigna" and code == "44345"
                if percent_row:
                    percent = float(self.rng("hosp-pct", hospital.entity_id, code).integers(100, 141)) / 2
                    charges[(payer, plan)] = self._percent_charge(
                        hospital,
                        code,
                        percent,
                        gross,
                        v3,
                        "Percent of total billed charges for the professional service",
                    )
                else:
                    amount = self.rate(family, hospital, code)
                    share = _pct_text(amount, self.medicare_facility(code, hospital.market))
                    charges[(payer, plan)] = {
                        "dollar": amount,
                        "methodology": "fee schedule",
                        "note": f"Fee schedule: about {share} of the Medicare physician fee schedule amount",
                    }
            items.append(
                _item(
                    CODE_LABELS[code],
                    [(code, "CPT")],
                    HOSPITAL_SETTING[code],
                    "professional",
                    "",
                    gross,
                    self._cash(gross, hospital, code),
                    charges,
                )
            )
            if code == RICH_CODE:
                for modifier in ("80", "62"):
                    factor_rng = self.rng("hosp-mod", hospital.entity_id, modifier)
                    charges = {}
                    for payer, plan, family in plans:
                        base = self.rate(family, hospital, code)
                        factor = factor_rng.uniform(0.16, 0.25) if modifier == "80" else 0.625
                        charges[(payer, plan)] = {
                            "dollar": _cents(base * factor),
                            "methodology": "fee schedule",
                            "note": f"Modifier {modifier} ({MODIFIER_LABELS[modifier]}): "
                            f"{factor:.1%} of the base fee schedule amount",
                        }
                    mod_gross = float(round(gross * (0.25 if modifier == "80" else 0.625)))
                    label = CODE_LABELS[code].replace(
                        " (plain-language label)", f", {MODIFIER_LABELS[modifier]} (plain-language label)"
                    )
                    items.append(
                        _item(
                            label,
                            [(code, "CPT")],
                            HOSPITAL_SETTING[code],
                            "professional",
                            modifier,
                            mod_gross,
                            self._cash(mod_gross, hospital, code + modifier),
                            charges,
                        )
                    )
                items.append(self._facility_item(hospital, plans, v3))
        items.append(self._drg_item(hospital, plans, v3))
        return items

    def _drg_item(self, hospital: Entity, plans: list[tuple[str, str, str]], v3: bool) -> dict:
        """MS-DRG 470: a case rate per stay for every payer but Cigna (percent of total billed charges)."""
        gross = float(round(self.rng("drg-gross", hospital.entity_id).uniform(52000, 78000)))
        level = math.exp(hospital.market.commercial_effect)
        charges = {}
        for payer, plan, family in plans:
            if family == "cigna":
                percent = float(self.rng("drg-pct", hospital.entity_id).integers(90, 141)) / 2
                charges[(payer, plan)] = self._percent_charge(
                    hospital, "drg", percent, gross, v3, "Percent of total billed charges for the inpatient stay"
                )
                continue
            low, high = (12500.0, 15500.0) if family == "uhc_ma" else (17000.0, 34000.0)
            amount = self.rng("drg", family, hospital.entity_id).uniform(low, high)
            charges[(payer, plan)] = {
                "dollar": _cents(amount * (1.0 if family == "uhc_ma" else level)),
                "methodology": "case rate",
                "note": "One case rate for the whole inpatient stay (MS-DRG)",
            }
        return _item(
            DRG_LABEL,
            [(SAMPLE_DRG, "MS-DRG")],
            "inpatient",
            "facility",
            "",
            gross,
            self._cash(gross, hospital, "drg"),
            charges,
        )

    def _facility_item(self, hospital: Entity, plans: list[tuple[str, str, str]], v3: bool) -> dict:
        gross = self.facility_gross_charge(hospital)
        charges = {}
        for payer, plan, family in plans:
            method = self.facility_method(family, hospital.market)
            amount = self.facility_amount(family, hospital)
            if method == "percent of total billed charges":
                charges[(payer, plan)] = self._percent_charge(
                    hospital, "facility", amount, gross, v3, "Percent of total billed charges for the inpatient stay"
                )
            elif method == "per diem":
                charges[(payer, plan)] = {"dollar": amount, "methodology": "per diem", "note": "Paid per inpatient day"}
            else:
                charges[(payer, plan)] = {
                    "dollar": amount,
                    "methodology": "case rate",
                    "note": "One case rate for the whole inpatient stay",
                }
        # v3 files put the revenue code first and the CPT code second, as the CMS v3 examples do.
        codes = [("0360", "RC"), (RICH_CODE, "CPT")] if v3 else [(RICH_CODE, "CPT"), ("0360", "RC")]
        return _item(
            FACILITY_LABEL, codes, "inpatient", "facility", "", gross, self._cash(gross, hospital, "facility"), charges
        )

    def _percent_charge(self, hospital: Entity, key: str, percent: float, gross: float, v3: bool, note: str) -> dict:
        rng = self.rng("allowed-stats", hospital.entity_id, key)
        expected = gross * percent / 100
        charge: dict = {"percentage": percent, "methodology": "percent of total billed charges", "note": note}
        if v3:
            count = int(rng.integers(3, 40))
            charge["count"] = "1 through 10" if count <= 10 else str(count)
            median = expected * rng.uniform(0.9, 1.1)
            charge["median"] = _cents(median)
            charge["p10"] = _cents(median * rng.uniform(0.7, 0.85))
            charge["p90"] = _cents(median * rng.uniform(1.15, 1.4))
        else:
            charge["estimated"] = _cents(expected)
        return charge

    def _cash(self, gross: float, hospital: Entity, key: str) -> float:
        return _cents(gross * self.rng("cash", hospital.entity_id, key).uniform(0.55, 0.8))


# --------------------------------------------------------------------------------------------------- hospital rows
def _item(
    description: str,
    codes: list[tuple[str, str]],
    setting: str,
    billing_class: str,
    modifiers: str,
    gross: float,
    cash: float,
    charges: dict,
) -> dict:
    dollars = [c["dollar"] for c in charges.values() if "dollar" in c]
    return {
        "description": description,
        "codes": codes,
        "setting": setting,
        "billing_class": billing_class,
        "modifiers": modifiers,
        "gross": gross,
        "cash": cash,
        "charges": charges,
        "min": min(dollars) if dollars else None,
        "max": max(dollars) if dollars else None,
    }


def _code_cells(item: dict) -> list[str]:
    cells = []
    for index in range(2):
        code, kind = item["codes"][index] if index < len(item["codes"]) else ("", "")
        cells += [code, kind]
    return cells


def _tall_rows(items: list[dict], plans: list[tuple[str, str, str]], version: str) -> list[list[str]]:
    if version == "v2.0.0":
        header = [
            "description",
            "code|1",
            "code|1|type",
            "code|2",
            "code|2|type",
            "modifiers",
            "setting",
            "drug_unit_of_measurement",
            "drug_type_of_measurement",
            "standard_charge|gross",
            "standard_charge|discounted_cash",
            "payer_name",
            "plan_name",
            "standard_charge|negotiated_dollar",
            "standard_charge|negotiated_percentage",
            "standard_charge|negotiated_algorithm",
            "estimated_amount",
            "standard_charge|methodology",
            "standard_charge|min",
            "standard_charge|max",
            "additional_generic_notes",
            "billing_class",
        ]
    else:  # the CMS v3 tall example's header, spaces around the pipes included
        header = [
            "description",
            "code | 1",
            "code | 1 | type",
            "code | 2",
            "code | 2 | type",
            "setting",
            "drug_unit_of_measurement",
            "drug_type_of_measurement",
            "standard_charge | gross",
            "standard_charge | discounted_cash",
            "payer_name",
            "plan_name",
            "modifiers",
            "standard_charge | negotiated_dollar",
            "standard_charge | negotiated_percentage",
            "standard_charge | negotiated_algorithm",
            "median_amount",
            "10th_percentile",
            "90th_percentile",
            "count",
            "standard_charge | min",
            "standard_charge | max",
            "standard_charge | methodology",
            "additional_generic_notes",
            "billing_class",
        ]
    rows = [header]
    for item in items:
        for payer, plan, _ in plans:
            charge = item["charges"][(payer, plan)]
            notes = f"{config.SYNTHETIC_LABEL}. {charge['note']}"
            common = [_money(item["gross"]), _money(item["cash"])]
            negotiated = [_money(charge.get("dollar")), _number(charge.get("percentage")), ""]
            if version == "v2.0.0":
                rows.append(
                    [
                        item["description"],
                        *_code_cells(item),
                        item["modifiers"],
                        item["setting"],
                        "",
                        "",
                        *common,
                        payer,
                        plan,
                        *negotiated,
                        _money(charge.get("estimated")),
                        charge["methodology"],
                        _money(item["min"]),
                        _money(item["max"]),
                        notes,
                        item["billing_class"],
                    ]
                )
            else:
                rows.append(
                    [
                        item["description"],
                        *_code_cells(item),
                        item["setting"],
                        "",
                        "",
                        *common,
                        payer,
                        plan,
                        item["modifiers"],
                        *negotiated,
                        _money(charge.get("median")),
                        _money(charge.get("p10")),
                        _money(charge.get("p90")),
                        charge.get("count", ""),
                        _money(item["min"]),
                        _money(item["max"]),
                        charge["methodology"],
                        notes,
                        item["billing_class"],
                    ]
                )
    return rows


def wide_payer_columns(payer: str, plan: str, version: str) -> list[str]:
    """The header cells one payer/plan pair gets in a wide file: 6 in v2.0.0, 9 in v3.0.0."""
    pair = f"{payer}|{plan}"
    if version == "v2.0.0":
        return [
            f"standard_charge|{pair}|negotiated_dollar",
            f"standard_charge|{pair}|negotiated_percentage",
            f"standard_charge|{pair}|negotiated_algorithm",
            f"estimated_amount|{pair}",
            f"standard_charge|{pair}|methodology",
            f"additional_payer_notes|{pair}",
        ]
    return [
        f"standard_charge|{pair}|negotiated_dollar",
        f"standard_charge|{pair}|negotiated_percentage",
        f"standard_charge|{pair}|negotiated_algorithm",
        f"median_amount|{pair}",
        f"10th_percentile|{pair}",
        f"90th_percentile|{pair}",
        f"count|{pair}",
        f"standard_charge|{pair}|methodology",
        f"additional_payer_notes|{pair}",
    ]


def _wide_rows(items: list[dict], plans: list[tuple[str, str, str]], version: str) -> list[list[str]]:
    header = [
        "description",
        "code|1",
        "code|1|type",
        "code|2",
        "code|2|type",
        "modifiers",
        "setting",
        "drug_unit_of_measurement",
        "drug_type_of_measurement",
        "standard_charge|gross",
        "standard_charge|discounted_cash",
    ]
    for payer, plan, _ in plans:
        header += wide_payer_columns(payer, plan, version)
    header += ["standard_charge|min", "standard_charge|max", "additional_generic_notes", "billing_class"]
    rows = [header]
    for item in items:
        row = [
            item["description"],
            *_code_cells(item),
            item["modifiers"],
            item["setting"],
            "",
            "",
            _money(item["gross"]),
            _money(item["cash"]),
        ]
        for payer, plan, _ in plans:
            charge = item["charges"][(payer, plan)]
            negotiated = [_money(charge.get("dollar")), _number(charge.get("percentage")), ""]
            if version == "v2.0.0":
                row += [*negotiated, _money(charge.get("estimated")), charge["methodology"], charge["note"]]
            else:
                row += [
                    *negotiated,
                    _money(charge.get("median")),
                    _money(charge.get("p10")),
                    _money(charge.get("p90")),
                    charge.get("count", ""),
                    charge["methodology"],
                    charge["note"],
                ]
        row += [_money(item["min"]), _money(item["max"]), config.SYNTHETIC_LABEL, item["billing_class"]]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------- helpers
def _in_network_item(code: str, rates: list[dict]) -> dict:
    return {
        "negotiation_arrangement": "ffs",
        "name": CODE_LABELS[code],
        "billing_code_type": "CPT",
        "billing_code_type_version": str(PAYMENT_YEAR),
        "billing_code": code,
        "description": CODE_LABELS[code],
        "negotiated_rates": rates,
    }


def _cents(value: float) -> float:
    return float(math.floor(float(value) * 100 + 0.5 + 1e-7) / 100)


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _pct_text(amount: float, base: float) -> str:
    return f"{amount / base:.0%}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(data)
    return buffer.getvalue()


def _json_pretty(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, separators=(",", ": "), ensure_ascii=False) + "\n").encode("utf-8")


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Delete generated files of an earlier run that this run no longer writes (only *synthetic* names)."""
    for folder in ("tic", "hospital"):
        directory = out / folder
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.is_file() and "synthetic" in path.name.lower() and f"{folder}/{path.name}" not in keep:
                    path.unlink()


# --------------------------------------------------------------------------------------------------- README
def _readme(files: list[tuple[str, bytes, dict]], seed: int) -> str:
    lines = [
        f"# {config.SYNTHETIC_LABEL}",
        "",
        "Every number, name, NPI and TIN in this folder is invented. The files reproduce the *formats* of real",
        "public price files (Transparency in Coverage in-network files and hospital standard-charge CSVs) so the",
        "project runs end to end without downloading payer data. Do not read any rate here as a real price.",
        "",
        "## How it was made",
        "",
        "Generated by `paybench sample-data`, i.e. `benchmark.synthetic.generate_sample_data()`",
        f"(seed `{seed}`). The output is deterministic: running it again writes byte-identical files",
        "(`MANIFEST.json` lists the bytes and sha256 of each file; `tests/test_sample_data.py` checks it).",
        "Do not edit these files by hand; change the generator and re-run it.",
        "",
        "Rates are spread around the Medicare Physician Fee Schedule amount (2025, facility setting) of each code in",
        "the provider's Medicare locality: a payer x market multiplier (commercial about 110%-260% of Medicare,",
        "UnitedHealthcare Medicare Advantage about 95%-105%), a lognormal factor per provider group (sigma",
        "0.14-0.24 commercial) and a small per-code jitter, rounded to cents.",
        "",
        "Real files are read by exactly the same code (`benchmark.ingest.tic.reader`, `benchmark.ingest.hospital.reader`); the",
        "provider directory stands in for NPPES to place NPIs and TINs in a Medicare locality.",
        "",
        "## Codes and markets",
        "",
        "CPT " + ", ".join(CODES) + f" ({RICH_CODE} has the richest data).",
        "Descriptions are our own plain-language labels, never the AMA CPT descriptors.",
        "",
        "| market | Medicare locality id | state | counties |",
        "|---|---|---|---|",
    ]
    for market in MARKETS:
        lines.append(
            f"| {market.city} | {market.locality_id} | {market.state} | {', '.join(c for c, _ in market.counties)} |"
        )
    lines += ["", "## Files", "", "| file | format | schema version | bytes | content |", "|---|---|---|---|---|"]
    for rel, content, meta in files:
        lines.append(
            f"| `{rel}` | {meta['format']} | {meta['schema_version'] or '-'} | {len(content)} | {meta['description']} |"
        )
    lines += [
        "| `README.md` | markdown | - | - | this file |",
        "| `MANIFEST.json` | JSON | - | - | path, bytes, sha256, format, schema version and `synthetic: true` "
        "of every file above |",
        "",
        "Labels: every TiC `plan_name` ends with `(SYNTHETIC SAMPLE)`; every hospital CSV carries the text",
        f'"{config.SYNTHETIC_LABEL}" in `general_contract_provisions` and in `additional_generic_notes`; the',
        "provider directory has a `data_label` column with the same text; every data file name contains",
        '"synthetic".',
        "",
        "Payer entity names are real payer names (that is what the payer-resolution code has to handle); the plans,",
        "networks, sponsors, providers and amounts are fictional. NPIs are 10 digits starting with 1 with a correct",
        "Luhn check digit (80840 prefix), drawn at random and not looked up, so a match with a real NPI would be a",
        "coincidence. EINs use IRS prefixes that were never assigned (07, 08, 09, 17, ...), so they cannot be real.",
        "",
        "## Quirks included (each is something real files do)",
        "",
        "TiC in-network files:",
        '- Two schema generations: Aetna is a 1.x file (`version` "1.3.1", inline `provider_groups` inside each',
        '  negotiated rate, upper-case `plan_id_type` "EIN", no `setting`, no `business_name`); every other file is',
        '  2.x (`version` "2.0.0", root `provider_references` with `network_name`, `setting` on every price,',
        "  `issuer_name`, `plan_sponsor_name`, `tin.business_name`).",
        "- Same rate duplicated across plans: the two Cigna files (Open Access Plus and PPO) carry identical rates.",
        "- Same rate duplicated across NPIs: in the Aetna file some groups have one negotiated-rate entry per NPI,",
        "  each repeating the same prices; in 2.x files groups with identical prices share one entry listing several",
        "  `provider_references`.",
        "- TIN-only contract: one Aetna group is listed with `npi: [0]` (look it up by TIN).",
        "- `provider_references` placed AFTER `in_network` in both Cigna files (a streaming reader must cope).",
        '- Modifier rows: `billing_code_modifier` ["80"] at 16%-25% of the base rate, ["62"] at 62.5%, ["51"]',
        "  at 50% (only where the PFS indicators allow the modifier), most often for 44320.",
        "- `percentage` rows (percent of billed charges, 45-70, whole numbers): one surgeon group in the Aetna and",
        "  Cigna files, and Cigna's institutional rows.",
        "- Institutional rows for 44320 for the four hospitals: `per diem` (Aetna, UnitedHealthcare Medicare",
        "  Advantage, BCBS of Texas and of Illinois; `setting` inpatient in 2.x), `negotiated` case rates (Anthem,",
        "  Florida Blue, UnitedHealthcare commercial) and `percentage` (Cigna). None is comparable with the PFS.",
        "- `fee schedule` rows next to the negotiated rate (cost-sharing basis, a little lower) and `derived` rows",
        "  (one group per UnitedHealthcare commercial / BCBS file).",
        "- Expiration dates 2026-06-30, 2026-12-31, 2027-03-31 and `9999-12-31` (no expiration).",
        '- Place of service ["21"] (setting inpatient) or ["21","22"] (setting both). None of the nine codes',
        '  is payable in an office under the PFS (non-facility NA), so there are no ["11"] rows.',
        "- Not every group has a rate for every code; 44320 is present for all groups.",
        "- The UnitedHealthcare Medicare Advantage file sits next to the commercial file of the same reporting",
        '  entity; its `plan_name` says "Medicare Advantage PPO" and its rates are near 100% of Medicare.',
        "",
        "Hospital standard-charge CSVs (row 1 general headers, row 2 their values, row 3 item headers, as the CMS",
        "examples):",
        "- Four template variants: v2.0.0 tall (Houston), v2.0.0 wide (Miami), v3.0.0 tall (Chicago), v3.0.0 wide",
        "  (Los Angeles); `license_number|<state>` header, `type_2_npi` and `attester_name` in v3.",
        "- The v3.0.0 tall file copies the CMS v3 tall example's spaced headers (`code | 1`,",
        "  `standard_charge | gross`).",
        "- The v3.0.0 wide file starts with a UTF-8 byte-order mark, as the CMS v3 wide example does.",
        "- v3 tall `last_updated_on` is written M/D/YYYY (`1/15/2026`), as in the CMS v3 example; the others are ISO.",
        "- The facility row of 44320 in v3 files has the revenue code `0360` in `code|1` and the CPT code in `code|2`",
        "  (v2 files: CPT first).",
        "- Payers: Aetna, the market's BCBS licensee by its own name, Cigna, UnitedHealthcare Choice Plus and",
        "  UnitedHealthcare Medicare Advantage PPO.",
        "- Professional rows (optional `billing_class` column = professional) with methodology `fee schedule`; one",
        "  professional `percent of total billed charges` row (Cigna, 44345).",
        "- 44320 facility row (`billing_class` facility, setting inpatient) mixing `per diem`, `case rate` and",
        "  `percent of total billed charges` for different payers; `standard_charge|min`/`max` are taken over all",
        "  dollar amounts of the item, so they mix per diem and case rates as real files do.",
        "- One MS-DRG row (code `470`, type `MS-DRG`, billing class facility, setting inpatient): a `case rate` per",
        "  stay for every payer but Cigna (`percent of total billed charges`), so `paybench report MS-DRG-470` has",
        "  rates; with a CMS IPPS Table 5 (`--ipps-table5`) they are compared with the IPPS national payment.",
        '- Percentage rows carry the gross charge; v3 rows add `count` ("1 through 10" or an integer string) with',
        "  median / 10th / 90th percentile allowed amounts; v2 rows add `estimated_amount`.",
        "- Modifier rows: 44320 with `modifiers` 80 (assistant surgeon) and 62 (co-surgeon), in dollars.",
        "- Gross charge and discounted cash price on every item; money written plainly (`1234.56`).",
        "",
        "Provider directory (`provider_directory.csv`): columns `npi, tin, provider_name, entity_type` (1 individual,",
        "2 organization), `state, county, zip, medicare_locality` (MAC-locality id of the county), `taxonomy` (NUCC",
        f"code: surgeons {TAXONOMY_SURGEON}, or {TAXONOMY_COLORECTAL} in the colorectal groups; group organizations",
        f"{TAXONOMY_GROUP}; hospitals {TAXONOMY_HOSPITAL}) and `data_label`.",
        "Each surgeon group has an organization NPI plus 2-6 surgeon NPIs under one TIN; the hospitals have one",
        "type-2 NPI each.",
        "",
        "## Planted problems (for the rate flags and the payer-hospital cross-check)",
        "",
        "Invented on purpose, so that `paybench assess` and `paybench trace` have something to find:",
        f'- A "zombie" group: the physicians of group `{ZOMBIE_GROUP}` carry the psychiatry taxonomy',
        f"  {TAXONOMY_PSYCHIATRY} although the payers list colostomy rates for them (flag `implausible_provider`).",
        "- Placeholder amounts: "
        + "; ".join(
            f"{family} group `{group}` {code}: {amount:,.2f}"
            for (family, group, code), amount in PLACEHOLDER_PRICES.items()
        )
        + " (flag `placeholder`; with the Medicare and outlier flags where they apply).",
        "- The payer's file and the hospital's file disagree: "
        + "; ".join(
            f"{family} facility amount at the {market} hospital x {factor}"
            for (family, market), factor in TIC_FACILITY_MISMATCH.items()
        )
        + " in the TiC file (verdict `disagree`).",
        "- Payer-only rates: "
        + "; ".join(
            f"{family} files list institutional rates for {', '.join(codes)} that no hospital file lists"
            for family, codes in TIC_EXTRA_FACILITY_CODES.items()
        )
        + " (verdict `payer only`); hospital-only rows are the `0360` revenue-code rows and the hospitals'",
        "  professional rows (verdict `hospital only`).",
        "- Different kinds of amount: "
        + "; ".join(
            f"{family} states its per diem at the {market} hospital as a {days}-day case amount"
            for (family, market), days in TIC_CASE_FOR_PER_DIEM.items()
        )
        + " (verdict `not comparable`).",
        "- Contracts that expired on 2026-06-30 (flag `expired` for a report dated after it).",
        "",
        "## Left out",
        "",
        "No allowed-amounts (out-of-network) or table-of-contents files, no hospital JSON files, no broken files",
        "(truncated gzip, invalid JSON, Excel-mangled codes): the tests build those on the fly where needed.",
        "",
    ]
    return "\n".join(lines)
