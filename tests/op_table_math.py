"""Op-table rows for the elementwise math and activations (microtensor/ops/math.py):
one row per registered op (see tests/op_table.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import strategies as S
from hypothesis import strategies as st
from op_table import Case, OpSpec, _elementwise
from scipy import special

import microtensor as mt


def _in_range(lo: float, hi: float) -> Any:
    """Cases for a unary op defined on (lo, hi) only (arcsin, arccosh, ...): values drawn from
    inside it, away from its ends (where the derivative is infinite)."""
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        width = 32 if np.dtype(dtype) == np.float32 else 64

        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes())
            values = st.floats(lo, hi, width=width)
            return (draw(S.hnp.arrays(np.dtype(dtype), shape, elements=values)),), {}

        return draw_case()

    cases.domains = ("bounded",)  # one operand (the fuzzers read the arity from this)
    return cases


def _np_lerp(start: np.ndarray, end: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return start + weight * (end - start)


ROWS: list[OpSpec] = [
    OpSpec("sin", mt.sin, np.sin, _elementwise("wide")),
    OpSpec("cos", mt.cos, np.cos, _elementwise("wide")),
    OpSpec("tan", mt.tan, np.tan, _in_range(-1.25, 1.25)),
    OpSpec("arcsin", mt.arcsin, np.arcsin, _in_range(-0.875, 0.875)),
    OpSpec("arccos", mt.arccos, np.arccos, _in_range(-0.875, 0.875)),
    OpSpec("arctan", mt.arctan, np.arctan, _elementwise("wide")),
    OpSpec("arctan2", mt.arctan2, np.arctan2,  # x > 0: away from the branch cut
           _elementwise("real", "positive")),
    OpSpec("sinh", mt.sinh, np.sinh, _elementwise("real")),
    OpSpec("cosh", mt.cosh, np.cosh, _elementwise("real")),
    OpSpec("arcsinh", mt.arcsinh, np.arcsinh, _elementwise("wide")),
    OpSpec("arccosh", mt.arccosh, np.arccosh, _in_range(1.125, 4.0)),
    OpSpec("arctanh", mt.arctanh, np.arctanh, _in_range(-0.875, 0.875)),
    OpSpec("expm1", mt.expm1, np.expm1, _elementwise("real")),
    OpSpec("exp2", mt.exp2, np.exp2, _elementwise("real")),
    OpSpec("log2", mt.log2, np.log2, _elementwise("positive")),
    OpSpec("log10", mt.log10, np.log10, _elementwise("positive")),
    OpSpec("rsqrt", mt.rsqrt, lambda x: 1 / np.sqrt(x), _elementwise("positive")),
    OpSpec("square", mt.square, np.square, _elementwise("real")),
    OpSpec("reciprocal", mt.reciprocal, lambda x: 1 / x, _elementwise("nonzero")),
    OpSpec("erf", mt.erf, special.erf, _elementwise("real")),
    OpSpec("logaddexp", mt.logaddexp, np.logaddexp, _elementwise("wide", "wide")),
    OpSpec("hypot", mt.hypot, np.hypot, _elementwise("nonzero", "nonzero")),
    OpSpec("copysign", mt.copysign, np.copysign, _elementwise("nonzero", "nonzero")),
    # piecewise constant: drawn on the "smooth" grid (k / 10 + 0.05), never on a jump
    OpSpec("sign", mt.sign, np.sign, _elementwise("smooth")),
    OpSpec("floor", mt.floor, np.floor, _elementwise("smooth")),
    OpSpec("ceil", mt.ceil, np.ceil, _elementwise("smooth")),
    OpSpec("trunc", mt.trunc, np.trunc, _elementwise("smooth")),
    OpSpec("round", mt.round, np.round, _elementwise("smooth")),
    OpSpec("floor_divide", mt.floor_divide, np.floor_divide,
           _elementwise("smooth", "nonzero")),
    OpSpec("remainder", mt.remainder, np.remainder, _elementwise("smooth", "nonzero")),
    OpSpec("lerp", mt.lerp, _np_lerp, _elementwise("real", "real", "real")),
]
