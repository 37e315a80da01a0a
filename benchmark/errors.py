"""The one exception base of payer-benchmark.

Every error meant for a user — a bad parameter, an input file that cannot be read, a store that is not a store —
derives from :class:`PaybenchError`. The CLI prints those as one line and exits with the documented status;
any other exception is a bug in this package and keeps its traceback.

Most subclasses also derive from ``ValueError`` (or ``RuntimeError``) so that callers written against the earlier
API keep catching them.
"""

from __future__ import annotations


class PaybenchError(Exception):
    """An error with a message meant for the user (what was wrong, where, and what to do)."""


class ParameterError(PaybenchError, ValueError):
    """A parameter or option that cannot be used (unknown code, year, payer, state, locality, missing source)."""


class InputFileError(PaybenchError, ValueError):
    """An input file that cannot be read as what it claims to be (the message names the file and the place)."""


class UnknownParameterError(ParameterError, KeyError):
    """A value that names nothing known: a year without data, an unknown locality, code or payer."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""
