"""The cyclic garbage collector, paused while the tool does bulk work of its own.

Reading a large file and importing the reporting modules each make hundreds of thousands of objects and no garbage
cycles; the collector's passes over them meanwhile free nothing (reference counting frees what is dropped) and cost
~15 % of an import of :mod:`benchmark.reporting.report` and more than the parsing of a TiC read. :func:`gc_paused`
switches the collector off for the duration of one such piece of work only, never for the process.
"""

from __future__ import annotations

import gc
import importlib
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_PAUSES = 0  # pieces of work in this process that are inside gc_paused()
_WAS_ENABLED = False  # the collector's state before the first of them


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the ``with`` block runs.

    The pause is undone on every exit, an exception included. Blocks that overlap (threads of a Dask worker or a
    notebook kernel) share it: the collector is switched back on when the last of them ends, and only if it was on
    when the first began (a caller that switched it off keeps it off).
    """
    global _PAUSES, _WAS_ENABLED
    with _LOCK:
        if _PAUSES == 0:
            _WAS_ENABLED = gc.isenabled()
            gc.disable()
        _PAUSES += 1
    try:
        yield
    finally:
        with _LOCK:
            _PAUSES -= 1
            if _PAUSES == 0 and _WAS_ENABLED:
                gc.enable()


def import_paused(name: str) -> types.ModuleType:
    """``importlib.import_module(name)`` inside :func:`gc_paused` (a report kernel's warm-up)."""
    with gc_paused():
        return importlib.import_module(name)
