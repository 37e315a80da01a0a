"""Every path the project uses, anchored at the project root.

Nothing else in the package hard-codes a path. ``PAYBENCH_HOME`` overrides the project root (for example when the
package is installed somewhere else but the data folder lives in a checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR: Path = Path(__file__).resolve().parent
PROJECT_ROOT: Path = Path(os.environ.get("PAYBENCH_HOME", PACKAGE_DIR.parent)).resolve()

DATA_DIR: Path = PROJECT_ROOT / "data"
REFERENCE_DIR: Path = DATA_DIR / "reference"
MEDICARE_DIR: Path = REFERENCE_DIR / "medicare"
CATALOG_DIR: Path = DATA_DIR / "catalog"
SAMPLE_DIR: Path = DATA_DIR / "sample"
SAMPLE_TIC_DIR: Path = SAMPLE_DIR / "tic"
SAMPLE_HOSPITAL_DIR: Path = SAMPLE_DIR / "hospital"
SAMPLE_PROVIDER_DIRECTORY: Path = SAMPLE_DIR / "provider_directory.csv"

NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
CODE_REPORT_NOTEBOOK: Path = NOTEBOOKS_DIR / "code_report.ipynb"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
CACHE_DIR: Path = PROJECT_ROOT / ".cache"  # tables read from input files, by sha256 (benchmark.cache; PAYBENCH_CACHE)

STYLE_FILE: Path = PACKAGE_DIR / "reporting" / "styles" / "benchmark.mplstyle"
TEMPLATES_DIR: Path = PACKAGE_DIR / "reporting" / "templates"

# Medicare payment year used when none is given (reports, CLI, analyst API).
DEFAULT_MEDICARE_YEAR: int = 2026
OPPS_DIR: Path = REFERENCE_DIR / "opps"
CLFS_DIR: Path = REFERENCE_DIR / "clfs"
IPPS_DIR: Path = REFERENCE_DIR / "ipps"

# PFS releases shipped in data/reference/medicare, one per payment year (see data/reference/medicare/PROVENANCE.md).
PPRRVU_FILES: dict[int, Path] = {
    2022: MEDICARE_DIR / "PPRRVU22_APR_nodesc.csv",
    2023: MEDICARE_DIR / "PPRRVU23_OCT_nodesc.csv",
    2024: MEDICARE_DIR / "PPRRVU24_APR_nodesc.csv",
    2025: MEDICARE_DIR / "PPRRVU2025_Oct_nodesc.csv",
    2026: MEDICARE_DIR / "PPRRVU2026_Apr_nonQPP_nodesc.txt",
}
# The 2026 conversion factor for qualifying APM participants (the PPRRVU file carries the non-QP 33.4009): CY 2026
# PFS final rule (CMS-1832-F), as reported in data/reference/medicare/PROVENANCE.md.
QP_CONVERSION_FACTORS: dict[int, float] = {2026: 33.5675}
# GPCI tables and locality-county crosswalks by the year they belong to; other years borrow the nearest (flagged).
GPCI_FILES: dict[int, Path] = {
    2024: MEDICARE_DIR / "GPCI2024.csv",
    2025: MEDICARE_DIR / "GPCI2025.csv",
    2026: MEDICARE_DIR / "GPCI2026.csv",
}
LOCALITY_COUNTY_FILES: dict[int, Path] = {2024: MEDICARE_DIR / "24LOCCO.csv", 2025: MEDICARE_DIR / "25LOCCO1.csv"}
# Hospital outpatient (OPPS), lab (CLFS) and inpatient (IPPS) baselines (see each folder's PROVENANCE.md).
OPPS_ADDENDUM_B_FILES: dict[int, Path] = {2025: OPPS_DIR / "2025_NFRM_Addendum_B_nodesc.txt"}
OPPS_ADDENDUM_A_FILES: dict[int, Path] = {2025: OPPS_DIR / "2025_NFRM_Addendum_A.txt"}
CLFS_FILES: dict[int, Path] = {2026: CLFS_DIR / "PUF_CLFS_CY2026_Q3V1_nodesc.csv"}
IPPS_TABLES_1A_1E: Path = IPPS_DIR / "FY2026_CMS-1833-F_Tables_1A-1E.txt"
# the fiscal year of the shipped standardized amounts (a test checks the file says so); an MS-DRG report uses it
IPPS_FISCAL_YEAR: int = 2026

# Vocabulary shared by the whole package that must load without pandas (parameter checks run before anything heavy).
PAYER_FAMILIES: list[str] = ["Aetna", "BCBS", "Cigna", "UnitedHealthcare", "Medicare", "Other"]
PRODUCT_LINES: list[str] = ["commercial", "medicare_advantage", "medicaid", "exchange", "tpa", "unknown"]
# In a folder, only files with these endings are read (notes, manifests and directories beside the data are not).
DATA_SUFFIXES: tuple[str, ...] = (".json", ".json.gz", ".gz", ".csv", ".csv.gz", ".zip")
STORE_MANIFEST: str = "manifest.parquet"  # a folder holding this file is a rate store (benchmark.store.rate_store)

SYNTHETIC_LABEL: str = "synthetic sample data — not actual payer rates"
NOT_AVAILABLE: str = "Data not available"
NOT_PAYABLE_NA: str = "Not payable in this setting (PFS indicator NA)"  # CMS says so: not missing data
# Fewer rates than this in a distribution cell and the cell is flagged as a small sample.
SMALL_SAMPLE_N: int = 10
# Rate flags (benchmark.analysis.flags): taxonomy crosswalk and which specialties plausibly perform each code.
TAXONOMY_DIR: Path = REFERENCE_DIR / "taxonomy"
TAXONOMY_CROSSWALK_FILE: Path = (
    TAXONOMY_DIR / "Y2025_1_medicare_provider_and_supplier_taxonomy_crosswalk_october_2025.csv"
)
CODE_SPECIALTIES_FILE: Path = REFERENCE_DIR / "plausibility" / "code_specialties.yaml"
