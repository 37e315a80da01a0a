"""clean_code decides the common codes (5-digit CPT, HCPCS level II, 4-digit revenue codes, each with its exact
type) without normalize_code; on every such input the answer is the one normalize_code gives."""

from __future__ import annotations

import itertools
import string

from benchmark.normalize.hospital_units import _clean_code, clean_code


def _same(codes: list[str], kind: str) -> None:
    for code in codes:
        assert clean_code(code, code, kind) == _clean_code(code, code, kind), (code, kind)


def test_every_five_digit_cpt_code() -> None:
    codes = [f"{i:05d}" for i in range(100_000)]
    _same(codes, "CPT")
    assert clean_code("99213", "99213", "CPT") == (("99213", "CPT"), True)


def test_every_hcpcs_level_two_shape() -> None:
    codes = [letter + f"{i:04d}" for letter in string.ascii_uppercase[:22] for i in range(0, 10_000, 3)]
    _same(codes, "HCPCS")
    assert clean_code("J1450", "J1450", "HCPCS") == (("J1450", "HCPCS"), True)


def test_every_revenue_code() -> None:
    _same([f"{i:04d}" for i in range(10_000)], "RC")


def test_near_misses_go_the_general_way() -> None:
    # other shapes, lower case, spaces, Unicode digits, other spellings of the type: not the fast path, and the
    # general answer is kept (some of them are not clean)
    odd = ["9921", "992133", "99213 ", " 99213", "j1450", "W1450", "１２３４５", "0001T", "99213-25", "١٢٣٤٥"]
    for code, kind in itertools.product(odd, ["CPT", "cpt", "HCPCS", "RC", "CPT4", " CPT"]):
        assert clean_code(code, code.strip(), kind) == _clean_code(code, code.strip(), kind)
    assert clean_code("99213 ", "99213", "CPT")[1] is False
    assert clean_code("99213", "99213", "cpt") == (("99213", "CPT"), True)  # the general way upper-cases the type
    assert clean_code("W1450", "W1450", "HCPCS") == _clean_code("W1450", "W1450", "HCPCS")
