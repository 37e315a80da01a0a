"""Read hospital standard-charge machine-readable files (45 CFR 180) into normalized rates.

Supported, recognised from the content (not the name; gzip-compressed or not):

- the CMS CSV templates v2.0-v2.2 and v3.0, tall and wide (:mod:`benchmark.ingest.hospital.csv_layout`);
- the CMS JSON schemas v2.0-v2.2.1 and v3.0 (:mod:`benchmark.ingest.hospital.json_layout`);
- pre-template chargemasters: free-text preamble, one or more sections, one column per payer-product
  (:mod:`benchmark.ingest.hospital.legacy`).

A file that is none of these -- HTML or XML (an error page), zip, UTF-16 or binary, a CSV whose rows 1-3 are not the
CMS header rows and in which no chargemaster header row can be found -- is refused with a
:class:`HospitalFileError` that names the file, the line and what was seen. Nothing is guessed.

Each reader produces candidate rates ("units", text as published); :mod:`benchmark.normalize.hospital_units`
normalizes them with whole-column operations (codes, amounts, methodology, dollars) -- its docstring lists the
rules and reason codes. Every rate keeps the published text next to the normalized value (``billing_code_raw``,
``billing_code_type_raw``, ``amount_raw``, ``methodology_raw``) and carries the item's gross charge, discounted
cash price, de-identified min/max, the v2 estimated amount or the v3 median / 10th / 90th percentile / count, and
the hospital's name, location, address, license and type 2 NPIs.

Row accounting (the unit of ``FileAccount``)
    The unit is a *candidate rate*: one (data row, payer/plan group, billing code). For each data row:

    - a payer/plan group counts when any of its payer-specific cells is not empty (negotiated dollar, percentage
      or algorithm, methodology, estimated/median/percentile/count, or in wide and JSON files its
      additional_payer_notes); in a tall file the row itself is the only group. Each such group counts once per
      billing code on the row (once when the row has no code), i.e. ``rows_seen`` = data rows x payer-plan groups
      with a value x codes on the row. (A group whose cells hold only spaces counts, and is filtered out.)
    - a data row with no payer-specific value at all (only gross / discounted cash, say) counts once and is
      filtered out: it holds no negotiated rate;
    - a row with more non-blank cells than column headers counts once and is quarantined (``malformed_row``).

    So ``rows_loaded`` always equals the number of rate rows returned, ``rows_quarantined`` the number of quarantine
    rows, and ``rows_seen`` does not depend on the code filter. Outcomes of one unit: filtered out (code not in
    ``codes``; a modifier-only row, which has no billing code and describes a payment adjustment rather than a rate;
    a row without payer-specific value), deduplicated (the same code and type listed twice on one row), quarantined
    (with a reason code) or loaded. Blank lines and rows of empty cells are not data rows. The account is checked
    (seen = loaded + quarantined + filtered out + deduplicated) before anything is returned.

Mapping decisions
    - ``pos_setting`` is always ``"facility"``: every item in a hospital file is furnished by or in the hospital,
      so the Medicare PFS facility amount is the comparator, even for professional services.
    - ``rate_type`` comes from the methodology; ``amount_usd`` (per-service dollars) is set only for fee-schedule
      dollars, for percent-of-total-billed-charges rows (published dollar, else gross x percent with the base in
      ``dollar_basis``) and for pre-template CPT/HCPCS dollars. Per diem, case rate and "other" never get it.
    - ``state`` comes from the ``license_number|[state]`` header (JSON: license_information.state), else from the
      addresses when they all name one state.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from benchmark.accounts import IngestResult
from benchmark.files import sha256_file
from benchmark.ingest.hospital import cms_csv, cms_json
from benchmark.ingest.hospital.csv_layout import looks_like_template, read_layout, read_rows
from benchmark.ingest.hospital.csvtext import UTF8_BOM, ByteSource, Record, open_bytes, records
from benchmark.ingest.hospital.json_layout import read_json
from benchmark.ingest.hospital.legacy import SCAN_ROWS, looks_like_legacy, read_legacy
from benchmark.normalize.hospital_units import (
    SEVERITY_ERROR,
    HospitalFileError,
    Problem,
    Sink,
    wanted_codes,
)

__all__ = ["HospitalFileError", "FileCheck", "read_standard_charges", "check_standard_charges", "sniff_csv"]


def read_standard_charges(
    path: str | Path,
    codes: Iterable[str] | None = None,
    *,
    is_synthetic: bool = False,
    source_name: str | None = None,
) -> IngestResult:
    """Negotiated rates of one hospital standard-charge file (CMS CSV tall/wide, CMS JSON, or a legacy layout).

    ``codes`` keeps only rates whose normalized billing code equals one of these strings (``None`` keeps all).
    ``source_name`` replaces the file name in ``source_file`` (e.g. the published URL's file name).
    Raises :class:`HospitalFileError` when the file as a whole cannot be read.
    """
    check = _read(Path(path), codes, is_synthetic=is_synthetic, source_name=source_name, collect=False)
    assert check.result is not None
    return check.result


@dataclass
class FileCheck:
    """What reading one file found: its layout, every problem, and the result when the file could be read."""

    source_file: str
    layout: str | None
    problems: list[Problem] = field(default_factory=list)
    result: IngestResult | None = None
    cms_version: str | None = None  # the CMS version the file was checked against (None: not a CMS template)
    cms_override: str | None = None
    cms_problems: list[Problem] = field(default_factory=list)  # the CMS rules broken, and CMS's alerts


def check_standard_charges(
    path: str | Path, *, source_name: str | None = None, cms_version: str | None = None
) -> FileCheck:
    """Read a file only to list its problems (file-level and row-level, errors and warnings) and check it against
    the CMS rules of its version (``cms_version`` to choose another: ``"2.2.0"``...); never raises
    :class:`HospitalFileError` -- a file that cannot be read comes back with its error problems and no result.
    Nothing is loaded, so the file is not hashed (the account's ``source_sha256`` is empty)."""
    return _read(Path(path), None, is_synthetic=False, source_name=source_name, collect=True, cms_version=cms_version)


def sniff_csv(head: bytes) -> bool:
    """Whether the first bytes of a CSV look like a hospital standard-charge file (template or legacy)."""
    text = head.removeprefix(UTF8_BOM)
    cut = max(text.rfind(b"\n"), text.rfind(b"\r"))
    if cut > 0:
        text = text[: cut + 1]
    try:
        first = list(islice(records(ByteSource(io.BytesIO(text))), 200))
    except ValueError:
        return False
    return looks_like_template(first) or looks_like_legacy(first)


# ----------------------------------------------------------------------------------------------------------------


def _read(
    path: Path,
    codes: Iterable[str] | None,
    *,
    is_synthetic: bool,
    source_name: str | None,
    collect: bool,
    cms_version: str | None = None,
) -> FileCheck:
    source_file = source_name or path.name
    check = FileCheck(source_file=source_file, layout=None, cms_override=cms_version)
    sink = Sink(
        source_file=source_file,
        sha256="",
        is_synthetic=is_synthetic,
        wanted=wanted_codes(codes),
        collect_problems=collect,
        check_only=collect,
    )
    if collect:  # validation loads nothing, so no rate needs the file's hash for its provenance: not computed
        read = _read_into(path, sink, check, collect)
    elif _file_size(path) <= _HASH_IN_THREAD_BYTES:  # hashed after reading: a thread costs a small file more
        read = _read_into(path, sink, check, collect)
        sink.set_sha256(sha256_file(path))
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:  # hash the file while reading it (hashlib releases the GIL)
            sha256 = pool.submit(sha256_file, path)
            read = _read_into(path, sink, check, collect)
            sink.set_sha256(sha256.result())
    if read:
        check.result = sink.result()
        check.problems = sink.problems
    return check


# a file larger than this is hashed in a thread while it is read (hashing 1 MB takes about a millisecond)
_HASH_IN_THREAD_BYTES = 1 << 20


def _file_size(path: Path) -> int:
    """The file's size in bytes; 0 when it cannot be looked at (reading it then says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_into(path: Path, sink: Sink, check: FileCheck, collect: bool) -> bool:
    """Read ``path`` into ``sink`` (its layout into ``check``). A file-level error raises, or with ``collect`` is
    put in ``check.problems`` with everything found before it, and False is returned."""
    source_file = check.source_file

    def fail(location: str, detail: str, reason: str = "unreadable_file") -> bool:
        if not collect:
            raise HospitalFileError(f"{source_file}: {location}: {detail}")
        problem = Problem(location, SEVERITY_ERROR, reason, detail)
        check.problems = sink.problems + ([] if problem in sink.problems else [problem])
        return False

    try:
        head = _first_bytes(path)
    except HospitalFileError as error:
        return fail("line 1", str(error), "not_a_hospital_file")
    if head.startswith(b"PK\x03\x04"):
        return fail("line 1", "a zip archive, not a CSV or JSON file; unzip it first", "not_a_hospital_file")
    if b"\x00" in head[:4096]:
        return fail(
            "line 1", "binary or UTF-16 data (NUL bytes), not a UTF-8/cp1252 CSV or JSON", "not_a_hospital_file"
        )
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start[:1] == b"<":
        return fail(
            "line 1",
            f"looks like HTML/XML (an error page or expired link?), not a CSV or JSON: {start[:60]!r}",
            "not_a_hospital_file",
        )
    try:
        with open_bytes(path) as stream:
            if start[:1] in (b"{", b"["):
                if collect:
                    check.cms_version, check.cms_problems = cms_json.check_hospital_json(path, check.cms_override)
                check.layout = read_json(stream, sink)
            else:
                layout_problem = _read_csv(ByteSource(stream), sink, check, collect)
                if layout_problem is not None:
                    return fail(layout_problem.location, layout_problem.detail, layout_problem.reason_code)
    except HospitalFileError as error:
        message = str(error)
        location, _, detail = (
            message.partition(": ") if message.startswith(("line ", "column ")) else ("file", "", message)
        )
        return fail(location, detail or message)
    except (EOFError, OSError, zlib.error) as error:  # a truncated or corrupt gzip stream
        return fail("file", f"cannot decompress: corrupt or truncated gzip data ({error})", "not_a_hospital_file")
    return True


def _read_csv(source: ByteSource, sink: Sink, check: FileCheck, collect: bool) -> Problem | None:
    """Read a CSV (template or legacy) into ``sink``; the first file-level error, if any (all are in problems)."""
    try:
        first = list(islice(records(source), 3))
    except ValueError as error:
        raise HospitalFileError(str(error)) from error
    if not first:
        return Problem("line 1", SEVERITY_ERROR, "empty_file", "the file is empty")
    if looks_like_template(first):
        cms = cms_csv.check_header(first, check.cms_override) if collect else None
        if cms is not None:
            check.cms_version = cms.version
            check.cms_problems = cms.problems
        layout, problems = read_layout(first)
        sink.problems += problems if collect else []
        if layout is None:
            errors = [p for p in problems if p.severity == SEVERITY_ERROR]
            if collect:
                return errors[0]  # all of them are in the problems already
            others = (
                f" (and {len(errors) - 1} more error(s); `paybench validate` lists them)" if len(errors) > 1 else ""
            )
            return Problem(errors[0].location, SEVERITY_ERROR, errors[0].reason_code, errors[0].detail + others)
        sink.meta = layout.meta
        check.layout = layout.describe()
        rows = cms.rows if cms is not None else None
        read_rows(source, layout, sink, resync=collect, check=rows)
        if rows is not None:
            check.cms_problems += rows.problems
        if sink.account.rows_seen == 0:
            return cms_csv.no_data_rows(layout.header_line)
        return None
    template_problem = read_layout(first)[1][0]
    more: list[Record] = list(first)
    try:
        more += list(islice(records(source), SCAN_ROWS - len(first)))
    except ValueError as error:
        raise HospitalFileError(str(error)) from error
    description = read_legacy(more, source, sink, resync=collect)
    if description is None:
        return Problem(
            template_problem.location,
            SEVERITY_ERROR,
            "unknown_layout",
            f"{template_problem.detail}; nor is it a pre-template chargemaster: no row among the first "
            f"{min(len(more), SCAN_ROWS)} names a description, a code and a charge column",
        )
    check.layout = description
    return None


def _first_bytes(path: Path, size: int = 65536) -> bytes:
    with open_bytes(path) as stream:
        try:
            return stream.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise HospitalFileError(f"cannot decompress: corrupt gzip data ({error})") from error
