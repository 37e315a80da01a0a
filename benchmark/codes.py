"""The billing code a report is about: a CPT/HCPCS code (``44320``) or an MS-DRG written ``MS-DRG-470``.

Rates store a code as ``billing_code`` + ``billing_code_type``: an MS-DRG is ``("470", "MS-DRG")`` (3 digits), a
revenue code ``("0360", "RC")`` (4 digits), a CPT/HCPCS code 5 characters. A bare 3-digit code would not say
whether it is an MS-DRG, another DRG family or a revenue code published without its leading zero, so a report of
an MS-DRG names the type in the code itself (``MS-DRG-470``); the same string works on ``paybench report``,
``paybench medicare`` and in batch files. Loads without pandas (preflight uses it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CPT_HCPCS = "CPT/HCPCS"
MS_DRG = "MS-DRG"
DRG_PREFIX = "MS-DRG-"
CPT_PATTERN = re.compile(r"[0-9A-Z]{4}[0-9A-Z]")
DRG_PATTERN = re.compile(r"MS-DRG-(\d{3})", re.IGNORECASE)
EXAMPLES = "a 5-character CPT/HCPCS code such as 44320, or an MS-DRG written MS-DRG-470"


@dataclass(frozen=True)
class ReportCode:
    """A report's code: ``text`` as the report names it, ``billing_code`` / ``billing_code_type`` as rates store it."""

    text: str  # "44320" or "MS-DRG-470"
    billing_code: str  # "44320" or "470"
    kind: str  # CPT_HCPCS or MS_DRG

    @property
    def is_drg(self) -> bool:
        return self.kind == MS_DRG

    @property
    def label(self) -> str:
        """How the report names the code: ``CPT 44320`` (as it always has) or ``MS-DRG 470``."""
        return f"MS-DRG {self.billing_code}" if self.is_drg else f"CPT {self.billing_code}"


def normalize(code: object) -> object:
    """``code`` with an MS-DRG's prefix in upper case (``ms-drg-470`` -> ``MS-DRG-470``); anything else as given."""
    if isinstance(code, str):
        text = code.strip()
        match = DRG_PATTERN.fullmatch(text)
        return f"{DRG_PREFIX}{match.group(1)}" if match else text
    return code


def code_problem(code: object) -> str | None:
    """What is wrong with a report code (None: usable), naming what would work."""
    if isinstance(code, str):
        text = code.strip()
        if CPT_PATTERN.fullmatch(text) or DRG_PATTERN.fullmatch(text):
            return None
        if re.fullmatch(r"\d{3}", text):
            return (
                f"code {text!r} is ambiguous: 3 digits could be an MS-DRG, another DRG family or a revenue code; for an "
                f"MS-DRG report write {DRG_PREFIX}{text} (e.g. `paybench report {DRG_PREFIX}{text} --ipps-table5 FILE`)"
            )
        if re.fullmatch(r"(?i)(MS-?DRG)[\s_-]*\d{1,4}", text):
            return f"an MS-DRG is written MS-DRG- and 3 digits (e.g. MS-DRG-470), got {text!r}"
    return f"code must be a 5-character CPT/HCPCS string or an MS-DRG ({EXAMPLES}), got {code!r}"


def parse(code: str) -> ReportCode:
    """The :class:`ReportCode` of a valid report code (see :func:`code_problem`); ValueError otherwise."""
    problem = code_problem(code)
    if problem:
        raise ValueError(problem)
    text = str(normalize(code))
    match = DRG_PATTERN.fullmatch(text)
    if match:
        return ReportCode(text, match.group(1), MS_DRG)
    return ReportCode(text, text, CPT_HCPCS)


def label(code: str) -> str:
    """``CPT 44320`` or ``MS-DRG 470``: how titles and headings name a report's code (any other text as given)."""
    try:
        return parse(code).label
    except ValueError:
        return f"CPT {code}"
