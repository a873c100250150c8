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


def torch_fuzz_activations(ns: dict[str, Any]) -> list[Any]:
    """The torch fuzzer's rows (tests/test_torch_fuzz.py, whose namespace `ns` gives FuzzOp,
    away_from, require and the two functional modules) for nn.functional's activations:
    each called with PyTorch's arguments on a value of the program, away from its kinks
    (where microtensor's gradient is the average of the one-sided ones, PyTorch's is not)."""
    from hypothesis import strategies as hst

    fuzz_op, away_from, require = ns["FuzzOp"], ns["away_from"], ns["require"]
    functional, torch_functional = ns["F"], ns["TF"]

    def activation(name: str, label: str = "", kinks: tuple[float, ...] = (),
                   reference: Any = None, **kw: Any) -> Any:
        text = f"F.{name}({{}}" + "".join(f", {k}={v!r}" for k, v in kw.items()) + ")"
        reference = reference or (lambda a: getattr(torch_functional, name)(a, **kw))

        def make(p: Any, x: Any) -> Any:
            x = p.condition(x, "real")
            require(away_from(x.data, *kinks))
            return p.apply(text, lambda a: getattr(functional, name)(a, **kw), reference, x)

        return fuzz_op(label or f"F.{name}", make)

    def along_dim(name: str) -> Any:
        def make(p: Any, x: Any) -> Any:
            x = p.condition(x, "real")
            dim = p.draw(hst.integers(-x.ndim, x.ndim - 1))
            require(name != "glu" or x.shape[dim] % 2 == 0)
            return p.apply(f"F.{name}({{}}, dim={dim})",
                           lambda a: getattr(functional, name)(a, dim=dim),
                           lambda a: getattr(torch_functional, name)(a, dim=dim), x)

        return fuzz_op(f"F.{name}", make, min_dims=1)

    return [
        activation("gelu"), activation("gelu", "F.gelu(tanh)", approximate="tanh"),
        activation("silu"), activation("elu", kinks=(0.0,)),
        activation("elu", "F.elu(alpha)", kinks=(0.0,), alpha=0.5),
        activation("selu", kinks=(0.0,)), activation("celu", kinks=(0.0,), alpha=1.7),
        activation("logsigmoid"), activation("hardtanh", kinks=(-1.0, 1.0)),
        activation("hardtanh", "F.hardtanh(bounds)", kinks=(-0.5, 2.0), min_val=-0.5,
                   max_val=2.0),
        activation("relu6", kinks=(0.0, 6.0)),
        # PyTorch's hardsigmoid has no second derivative: its formula is the reference
        activation("hardsigmoid", kinks=(-3.0, 3.0),
                   reference=lambda a: torch_functional.relu6(a + 3.0) / 6.0),
        activation("hardswish", kinks=(-3.0, 3.0)), activation("mish"),
        activation("softsign", kinks=(0.0,)), activation("tanhshrink"),
        activation("softplus", "F.softplus(beta, threshold)", kinks=(1.5,), beta=2.0,
                   threshold=3.0),
        along_dim("glu"), along_dim("softmin"),
    ]
