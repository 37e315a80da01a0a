"""Nothing changes for users: results equal those of the code before the layout move (commit a6b4aa4).

The goldens in tests/fixtures/golden/ were made by running that commit in its own checkout (see
tests/fixtures/PROVENANCE.md) and reducing its outputs with the functions below, which read files only (JSON,
Parquet), not through the code under test:

- ``summary_44320_2025.json``: the summary.json of `paybench report 44320 --year 2025` on the sample, minus the keys
  that change from run to run (date, package version);
- ``sample_store.json``: a store built from the sample: rows and a digest of every rate (all columns but the random
  part ids), and of the manifest's loaded files (minus paths, run ids and times);
- ``cli.json``: what `paybench medicare` and `paybench validate` / `payers review` on the sample print.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmark import cli, config
from benchmark.schema import RateSchema
from benchmark.store.rate_store import open_store

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
VOLATILE_SUMMARY_KEYS = ("generated_on", "package_version")
VOLATILE_RATE_COLUMNS = ("_part", "_row")  # a part's id is random per run; _row is the row within it
VOLATILE_MANIFEST_COLUMNS = ("seq", "source_path", "part_id", "ingested_at", "run_id", "reason")
# Commands and their output before the move; run from the project root (paths in the output are as given).
CLI_COMMANDS = {
    "medicare 44320 --year 2025": ["medicare", "44320", "--year", "2025"],
    "medicare 99213 --year 2024": ["medicare", "99213", "--year", "2024"],
    "payers review sample": ["payers", "review", "sample"],
}
VALIDATE = "validate data/sample/tic/* data/sample/hospital/*"


def summary_without_volatile(summary: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in summary.items() if key not in VOLATILE_SUMMARY_KEYS}
    if isinstance(kept.get("report"), dict):  # what the report is: all but when it was built and by which version
        kept["report"] = {k: v for k, v in kept["report"].items() if k not in ("generated_at", "package_version")}
    return kept


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def table_digest(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns and a sha256 of the rows sorted as text (independent of row order and dtypes)."""
    columns = sorted(frame.columns)
    lines = sorted("\t".join(_cell(v) for v in row) for row in frame[columns].itertuples(index=False, name=None))
    return {"rows": len(lines), "columns": columns, "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()}


def store_digest(root: Path) -> dict[str, Any]:
    """The rows as stored (every column of the parts, partition folders included): wide parts read as they are, tidy
    TiC parts (layout 2) through the store's ``rates`` view, which gives them the columns wide parts have."""
    with open_store(root).connect() as con:
        rates = con.execute("SELECT * FROM rates").df()
    # typed as pyarrow's Hive discovery of the parts typed them when the golden digest was taken: nullable integers
    # restored from the parts' pandas metadata, an all-digit code_prefix read as a number
    integers = [name for name, column in RateSchema.to_schema().columns.items() if str(column.dtype) == "Int64"]
    rates = rates.astype(dict.fromkeys(integers, "Int64"))
    if rates["code_prefix"].str.isdigit().all():
        rates["code_prefix"] = rates["code_prefix"].astype(int)
    manifest = pd.read_parquet(root / "manifest.parquet")
    loaded = manifest[manifest["status"] == "loaded"]
    return {
        "rates": table_digest(rates.drop(columns=list(VOLATILE_RATE_COLUMNS))),
        "loaded_files": table_digest(loaded.drop(columns=list(VOLATILE_MANIFEST_COLUMNS))),
    }


def _golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def test_the_44320_summary_is_unchanged(report_44320: Path) -> None:
    summary = json.loads((report_44320 / "summary.json").read_text(encoding="utf-8"))
    assert summary_without_volatile(summary) == _golden("summary_44320.json")


def test_a_store_built_from_the_sample_is_unchanged(sample_store: Path) -> None:
    assert store_digest(sample_store) == _golden("sample_store.json")


@pytest.mark.parametrize("command", [*CLI_COMMANDS, VALIDATE])
def test_cli_output_is_unchanged(command: str, capsys, monkeypatch) -> None:
    monkeypatch.chdir(config.PROJECT_ROOT)
    if command == VALIDATE:
        files = sorted(str(p.relative_to(config.PROJECT_ROOT)) for p in config.SAMPLE_TIC_DIR.iterdir())
        files += sorted(str(p.relative_to(config.PROJECT_ROOT)) for p in config.SAMPLE_HOSPITAL_DIR.iterdir())
        argv = ["validate", *files]
    else:
        argv = CLI_COMMANDS[command]
    status = cli.main(argv)
    printed = capsys.readouterr()
    assert {"exit": status, "stdout": printed.out, "stderr": printed.err} == _golden("cli.json")[command]
