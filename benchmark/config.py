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

SYNTHETIC_LABEL: str = "synthetic sample data — not actual payer rates"
NOT_AVAILABLE: str = "Data not available"
NOT_PAYABLE_NA: str = "Not payable in this setting (PFS indicator NA)"  # CMS says so: not missing data
# Fewer rates than this in a distribution cell and the cell is flagged as a small sample.
SMALL_SAMPLE_N: int = 10
