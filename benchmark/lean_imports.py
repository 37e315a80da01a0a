"""Two optional imports that third-party libraries make at import time and the tool never uses, avoided in one place.

Each costs seconds of CPU in every process that pays it (the CLI, each report's kernel, each batch worker), so a
warm report spent more time importing than computing. Each is avoided for the duration of one import or one call
only, and what it turns off is named here:

1. **pandera -> dask.** The first time pandera builds a schema from a ``DataFrameModel`` (``Model.to_schema()``,
   ``Model.validate()``) it asks which annotation types mean "a Series" or "an Index"
   (``pandera.typing.get_series_types`` and its two siblings, computed once per process). To answer, it imports
   ``pandera.typing.dask``, which imports ``dask.dataframe`` (installed: the distributed store runs on it), ~1.5 s
   of CPU. Importing this module answers those three questions once with ``pandera.typing.dask`` standing in as
   "dask not installed"; the stand-in is removed right after, so ``import pandera.typing.dask`` later gets the real
   module. Turned off, for the process: pandera does not recognise ``pandera.typing.dask.DataFrame`` / ``Series``
   / ``Index`` annotations in a ``DataFrameModel`` or under ``@pa.check_types``. The project annotates its models
   with pandas types only, and validating a dask DataFrame with a schema (``schema.validate(ddf)``) does not go
   through that module, so no check of the project changes. Nothing is done when dask's DataFrame is already
   imported (the real answer then costs nothing). Every module defining a ``DataFrameModel`` imports this one.
2. **jsonschema -> rfc3987_syntax.** ``import jsonschema`` (papermill and nbconvert import it through nbformat)
   imports ``rfc3987_syntax`` when installed (jupyter-events depends on it), which compiles ~40 lark grammars:
   ~2 s of CPU. :func:`import_jsonschema` imports jsonschema with that one module unavailable; jsonschema then has
   no checker for the JSON-Schema formats ``iri`` and ``iri-reference`` (an ``iri`` value is accepted unchecked).
   No schema the tool validates uses them: nbformat's notebook schema has no ``format``, and the CMS schemas
   (``data/cms_schemas``) use ``date`` and ``uri`` only, whose checkers stay. Nothing is done when jsonschema was
   already imported. The runner calls it before importing papermill or nbconvert, the CMS schema check
   (`benchmark.ingest.cms_schema`) to import jsonschema, and the tests' conftest before the test modules import them.
"""

from __future__ import annotations

import importlib
import sys
import types

import pandera.typing

_DASK_TYPING = "pandera.typing.dask"
_IRI_SYNTAX = "rfc3987_syntax"


def _settle_pandera_types_without_dask() -> None:
    if _DASK_TYPING in sys.modules or "dask.dataframe" in sys.modules:
        return
    stand_in = types.ModuleType(_DASK_TYPING, "stand-in while pandera settles its types (benchmark.lean_imports)")
    stand_in.DASK_INSTALLED = False  # type: ignore[attr-defined]
    sys.modules[_DASK_TYPING] = stand_in
    try:
        pandera.typing.get_dataframe_types()
        pandera.typing.get_series_types()
        pandera.typing.get_index_types()
    finally:
        if sys.modules.get(_DASK_TYPING) is stand_in:
            del sys.modules[_DASK_TYPING]
        if getattr(pandera.typing, "dask", None) is stand_in:
            del pandera.typing.dask  # type: ignore[attr-defined]


def import_jsonschema() -> types.ModuleType:
    """``jsonschema``, imported without ``rfc3987_syntax`` (see the module's docstring, point 2)."""
    if "jsonschema" in sys.modules or _IRI_SYNTAX in sys.modules:
        return importlib.import_module("jsonschema")
    sys.modules[_IRI_SYNTAX] = None  # type: ignore[assignment]  # None: "import rfc3987_syntax" raises ImportError
    try:
        return importlib.import_module("jsonschema")
    finally:
        if sys.modules.get(_IRI_SYNTAX, ...) is None:
            del sys.modules[_IRI_SYNTAX]


_settle_pandera_types_without_dask()
