"""The CMS rules for hospital standard-charge JSON files (schemas v2.0.0-v3.0.0) and CMS's alerts for them.

Errors are the violations of CMS's JSON Schema of the version (:mod:`benchmark.ingest.cms_schema`): required
elements, types (``"105.34"`` where a number is required, a number where a string is), enumerations, empty
strings (v3.0), and the conditional rules the schema encodes (a payer-specific charge needs a dollar, percentage or
algorithm; a dollar needs minimum and maximum; "other" needs notes; percentage/algorithm needs the estimated amount
(v2.2) or the count and allowed amounts (v3.0); NDC needs drug information...). Warnings are CMS's alerts:
``false_attestation`` (the attestation/affirmation confirmed ``false``), ``version_mismatch`` (the file's
``version`` is not one the schema's version expects), ``nine_nines`` (999999999 as estimated amount, count, median
or percentile) and ``estimated_amount_deprecated`` (v3.0 files that still encode estimated_amount).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.errors import ParameterError
from benchmark.ingest.cms_schema import HOSPITAL_VERSIONS, check_document, root_value
from benchmark.ingest.hospital.cms_csv import coerce_version
from benchmark.ingest.hospital.csvtext import open_bytes
from benchmark.ingest.json_events import skip_bom
from benchmark.normalize.hospital_units import SEVERITY_ERROR, SEVERITY_WARNING, Problem

# Versions a file may declare without an alert, per schema version checked against (CMS's validator).
_EXPECTED = {
    "2.1.0": ("2.0.0", "2.1.0"),
    "2.2.0": ("2.0.0", "2.2.0", "2.2.1"),
    "2.2.1": ("2.0.0", "2.2.0", "2.2.1"),
    "3.0.0": ("3.0.0",),
}
NINE_NINES = 999999999


def choose_json_version(declared: Any, override: str | None) -> tuple[str, Problem | None]:
    """The hospital schema version to check against, and a warning when the declared one is not a CMS version."""
    if override:
        text = override.strip().removeprefix("v")
        chosen = text if text in HOSPITAL_VERSIONS else coerce_version(text)
        if chosen is None:
            raise ParameterError(f"--cms-version {override!r}: CMS versions are {', '.join(HOSPITAL_VERSIONS)}")
        return chosen, None
    text = str(declared).strip().removeprefix("v") if declared is not None else ""
    if text in HOSPITAL_VERSIONS:
        return text, None
    chosen = coerce_version(text)
    if chosen is not None:
        return chosen, None
    return "3.0.0", Problem(
        "version",
        SEVERITY_WARNING,
        "version_unknown",
        f"version {declared!r} is not a CMS schema version ({', '.join(HOSPITAL_VERSIONS)}); "
        "checked against 3.0.0; use --cms-version to choose",
        None if declared is None else str(declared),
    )


def check_hospital_json(path: Path, override: str | None = None) -> tuple[str, list[Problem]]:
    """(the CMS version used, every error and alert) of one hospital JSON file (plain or gzip)."""
    try:
        with open_bytes(path) as stream:
            declared = root_value(skip_bom(stream), "version")
    except ValueError as error:
        return override or "?", [Problem("file", SEVERITY_ERROR, "invalid_json", str(error))]
    version, note = choose_json_version(declared, override)
    alerts: list[Problem] = [note] if note else []

    def on_element(array: str, index: int, item: Any) -> None:
        if array == "standard_charge_information" and isinstance(item, dict):
            alerts.extend(_item_alerts(item, index, version))

    with open_bytes(path) as stream:
        try:
            root, problems = check_document(skip_bom(stream), "hospital", version, on_element=on_element)
        except ValueError as error:
            return version, [Problem("file", SEVERITY_ERROR, "invalid_json", str(error))]
    alerts += _root_alerts(root, version)
    return version, problems + alerts


def _root_alerts(root: dict[str, Any], version: str) -> list[Problem]:
    alerts = []
    declared = root.get("version")
    expected = _EXPECTED.get(version)
    if expected and isinstance(declared, str) and declared not in expected:
        alerts.append(
            Problem(
                "version",
                SEVERITY_WARNING,
                "version_mismatch",
                f"version {declared!r}; a CMS v{version} file says {' or '.join(expected)}",
                declared,
            )
        )
    for element, confirm in (("affirmation", "confirm_affirmation"), ("attestation", "confirm_attestation")):
        block = root.get(element)
        if isinstance(block, dict) and block.get(confirm) is False:
            alerts.append(
                Problem(
                    f"{element}.{confirm}",
                    SEVERITY_WARNING,
                    "false_attestation",
                    f"the hospital answers false to the {element} statement",
                    "false",
                )
            )
    return alerts


def _item_alerts(item: dict[str, Any], index: int, version: str) -> list[Problem]:
    alerts = []
    for s, charge in enumerate(item.get("standard_charges") or []):
        if not isinstance(charge, dict):
            continue
        for p, payer in enumerate(charge.get("payers_information") or []):
            if not isinstance(payer, dict):
                continue
            where = f"standard_charge_information[{index}].standard_charges[{s}].payers_information[{p}]"
            fields: list[tuple[str, int | str]] = []
            if version.startswith("2.2"):
                fields = [("estimated_amount", NINE_NINES)]
            elif version.startswith("3"):
                fields = [
                    ("count", str(NINE_NINES)),
                    ("median_amount", NINE_NINES),
                    ("10th_percentile", NINE_NINES),
                    ("90th_percentile", NINE_NINES),
                ]
                if "estimated_amount" in payer:
                    alerts.append(
                        Problem(
                            where,
                            SEVERITY_WARNING,
                            "estimated_amount_deprecated",
                            "estimated_amount is no longer a data element as of 2026-01-01 (v3.0): "
                            "replaced by median, 10th/90th percentile and count of allowed amounts",
                        )
                    )
            for name, nines in fields:
                value = payer.get(name)
                if value == nines and type(value) is type(nines):
                    alerts.append(
                        Problem(
                            f"{where}.{name}",
                            SEVERITY_WARNING,
                            "nine_nines",
                            f"999999999 (nine 9s) encoded as {name}; CMS asks for the actual amount",
                            str(value),
                        )
                    )
    return alerts
