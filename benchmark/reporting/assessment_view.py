"""What the report shows of the rate assessment (:mod:`benchmark.analysis.assessment`): the section "Do payers and
hospitals agree?" (verdicts by payer, the largest disagreements with both values and their files, the confidence mix
by payer, flagged rates by reason) and the benchmark statistics with flagged rates included (Payment Benchmarking).

Every number comes from the report's ``assessment`` block of ``summary.json`` (the templates key each cell to it);
files are shown by name (a URL's last path part: no address, no query string).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from benchmark.analysis import confidence, crosscheck, flags

# flag -> what it means, in the words of the report (rules: benchmark.analysis.flags)
FLAG_WORDS: dict[str, str] = {
    flags.IMPLAUSIBLE: "the provider's specialty would not perform the code (specialty table)",
    flags.BELOW_MEDICARE: "below 10% of the matching Medicare amount",
    flags.ABOVE_MEDICARE: "above 2,000% of the matching Medicare amount",
    flags.OUTLIER: "outside Q1 − 3 IQR to Q3 + 3 IQR of the code's log amounts",
    flags.EXPIRED: "contract expired before the report date",
    flags.PLACEHOLDER: "placeholder amount ($1.00 or less, all nines, or one amount for many codes)",
}
VERDICT_COLUMNS: list[tuple[str, str, str | None]] = [
    ("payer_family", "Payer", None),
    *[(v, v.capitalize(), "int") for v in crosscheck.VERDICTS if v != crosscheck.NOT_CHECKED],
]
CONFIDENCE_COLUMNS: list[tuple[str, str, str | None]] = [
    ("payer_family", "Payer", None),
    *[(level, level.capitalize(), "int") for level in reversed(confidence.LEVELS)],
]
DISAGREEMENT_COLUMNS: list[tuple[str, str, str | None]] = [
    ("payer_family", "Payer", None),
    ("crosscheck_hospital", "Hospital (TIN)", None),
    ("billing_class", "Billing class", None),
    ("amount_unit", "Unit", None),
    ("payer_amount", "Payer file", "number"),
    ("hospital_amount", "Hospital file", "number"),
    ("difference_pct", "Difference, % of hospital's", "pct"),
    ("source_file", "Payer source (file, place)", None),
    ("counterpart_source_file", "Hospital source (file, place)", None),
]


def file_name(source_file: Any) -> str:
    """The name a report shows for a ``source_file``: its last path part, a URL's without address or query
    (``archive.zip!member`` keeps both names)."""
    parts = []
    for part in str(source_file).split("!"):
        path = urlsplit(part).path if "://" in part else part
        parts.append(PurePosixPath(path.replace("\\", "/")).name or path)
    return "!".join(parts)


def crosscheck_context(block: dict[str, Any]) -> dict[str, Any]:
    """The template context of the section, from the report's ``assessment`` block (``CodeReport.assessment_block``)."""
    check = block.get("crosscheck") or {}
    bench = block.get("flags_benchmark_rows") or {}
    every = block.get("flags_all_rates") or {}
    disagreements = [
        {
            **row,
            "source_file": file_name(row["source_file"]),
            "counterpart_source_file": file_name(row["counterpart_source_file"]),
        }
        for row in check.get("largest_disagreements", [])
    ]
    reasons = [
        {
            "reason": reason,
            "words": FLAG_WORDS.get(reason, reason),
            "benchmark": (bench.get("n_flagged_by_reason") or {}).get(reason, 0),
            "all": (every.get("n_flagged_by_reason") or {}).get(reason, 0),
        }
        for reason in flags.FLAG_COLUMNS
    ]
    return {
        "verdicts": check.get("verdicts", {}),
        "verdict_names": list(crosscheck.VERDICTS),
        "by_payer": check.get("by_payer", []),
        "verdict_columns": VERDICT_COLUMNS,
        "tolerance": check.get("tolerance", {}),
        "disagreements": disagreements,
        "disagreement_columns": DISAGREEMENT_COLUMNS,
        "confidence_by_payer": block.get("confidence_by_payer", []),
        "confidence_columns": CONFIDENCE_COLUMNS,
        "flags_benchmark": bench,
        "flags_all": every,
        "flag_reasons": reasons,
        "keep_implausible": block.get("keep_implausible", False),
        "min_confidence": block.get("min_confidence"),
        "report_date": block.get("report_date"),
        "report_date_basis": block.get("report_date_basis"),
    }
