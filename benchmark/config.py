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

# PFS releases shipped in data/reference/medicare, one per payment year (see data/reference/medicare/PROVENANCE.md).
PPRRVU_FILES: dict[int, Path] = {
    2022: MEDICARE_DIR / "PPRRVU22_APR_nodesc.csv",
    2023: MEDICARE_DIR / "PPRRVU23_OCT_nodesc.csv",
    2024: MEDICARE_DIR / "PPRRVU24_APR_nodesc.csv",
    2025: MEDICARE_DIR / "PPRRVU2025_Oct_nodesc.csv",
}
GPCI_FILES: dict[int, Path] = {2025: MEDICARE_DIR / "GPCI2025.csv"}
LOCALITY_COUNTY_FILES: dict[int, Path] = {2025: MEDICARE_DIR / "25LOCCO1.csv"}

# Vocabulary shared by the whole package that must load without pandas (parameter checks run before anything heavy).
PAYER_FAMILIES: list[str] = ["Aetna", "BCBS", "Cigna", "UnitedHealthcare", "Medicare", "Other"]
PRODUCT_LINES: list[str] = ["commercial", "medicare_advantage", "medicaid", "exchange", "tpa", "unknown"]
# In a folder, only files with these endings are read (notes, manifests and directories beside the data are not).
DATA_SUFFIXES: tuple[str, ...] = (".json", ".json.gz", ".gz", ".csv", ".csv.gz", ".zip")
STORE_MANIFEST: str = "manifest.parquet"  # a folder holding this file is a rate store (benchmark.store.rate_store)

SYNTHETIC_LABEL: str = "synthetic sample data — not actual payer rates"
NOT_AVAILABLE: str = "Data not available"
# Fewer rates than this in a distribution cell and the cell is flagged as a small sample.
SMALL_SAMPLE_N: int = 10
