"""Text the tool writes for people and spreadsheets: nothing in it runs or hides.

- Bidirectional control characters (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F
  marks) in a file or payer name can make text display in another order than it is stored (``exe.txt`` shown
  for ``txt.exe``). :func:`neutralize_bidi` replaces each with a visible ``[U+202E]``: in HTML
  (:func:`neutralize_html`, applied to whole pages) and in CSV cells.
- Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
  formula (``=HYPERLINK(...)``, ``@SUM(...)``). :func:`neutralize_cell` prefixes such text with an apostrophe, and
  :func:`write_csv` — the one way the tool writes a CSV file — applies both rules to every text cell and header.
- A terminal acts on control characters: an escape sequence from a file (``\x1b[2J``, ``\x1b]0;title\x07``) could
  clear the screen, recolour or hide text, or retitle the window when paybench prints a value it read.
  :func:`neutralize_terminal` writes each control character as its escape (``\x1b``) and each bidirectional one as
  ``[U+202E]``: the command line's problem lines and error messages go through it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BIDI_CONTROLS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def neutralize_bidi(text: str) -> str:
    """``text`` with every bidirectional control character shown as ``[U+XXXX]`` instead of acting."""
    return _BIDI.sub(lambda match: f"[U+{ord(match.group(0)):04X}]", text)


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1
_CONTROLS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def neutralize_terminal(text: str, *, one_line: bool = False) -> str:
    """``text`` as a terminal may show it: control characters written as their escapes (``\\x1b``), bidirectional
    controls as ``[U+XXXX]`` (:func:`neutralize_bidi`); with ``one_line`` tab and newline too (a value read from a
    file cannot start a line of its own)."""
    pattern = _CONTROLS_ONE_LINE if one_line else _CONTROLS
    return neutralize_bidi(pattern.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text))


def neutralize_html(page: str) -> str:
    """A whole HTML page with its bidirectional control characters made visible (:func:`neutralize_bidi`)."""
    return neutralize_bidi(page)


def neutralize_cell(value: Any) -> Any:
    """A spreadsheet cell that shows text as text: bidi controls made visible, formula starts prefixed with ``'``."""
    if not isinstance(value, str):
        return value
    value = neutralize_bidi(value)
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def neutralized(table: Any) -> Any:
    """A copy of a DataFrame with :func:`neutralize_cell` applied to every text cell and column name."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype.kind not in "biufcmM":  # text and mixed columns (numbers, booleans, dates stay)
            out[column] = out[column].astype(object).map(neutralize_cell)
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    return out


def write_csv(table: Any, path: str | Path, **options: Any) -> Path:
    """Write a DataFrame as CSV with every text cell neutralized (no index unless ``index=True`` is passed).

    Lines end in CRLF (RFC 4180): the csv module quotes only cells holding a character of the line terminator, so
    with a bare LF a carriage return inside a cell would be written unquoted and split the row in spreadsheets.
    """
    if options.get("lineterminator", "\r\n") != "\r\n":
        raise ValueError("write_csv ends lines in CRLF so that cells holding a CR or LF are quoted")
    options.setdefault("index", False)
    options["lineterminator"] = "\r\n"
    neutralized(table).to_csv(path, **options)
    return Path(path)
