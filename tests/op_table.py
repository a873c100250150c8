"""The table of ops that drives the parametrized op tests (forward, gradcheck, gradgradcheck,
dtype, shape and no-mutation properties): one row per op, MyGrad-style. Every op registered in
microtensor/ops/registry.py has a row named after it (tests/test_registry.py checks); further
rows cover operator variants (radd, pow_int, ...) and the fused layers.

A row gives the op as microtensor calls it, the NumPy reference, and a `cases(dtype, broadcast)`
strategy of `(arrays, kwargs)` drawn from tests/strategies.py. `broadcast=False` draws equal
shapes; `broadcast=True` draws mutually broadcastable ones (the same for unary ops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import strategies as S
from hypothesis import strategies as st

import microtensor as mt
import nn

Case = tuple[tuple[np.ndarray, ...], dict[str, Any]]


@dataclass(frozen=True)
class OpSpec:
    """One op: `fn(*tensors, **kw)` in microtensor against `ref(*arrays, **kw)` in NumPy."""

    name: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    cases: Callable[[Any, bool], st.SearchStrategy[Case]]

    def __repr__(self) -> str:
        return self.name


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x - _np_logsumexp(x, axis=axis, keepdims=True)


# ------------------------------------------------------------------------- case strategies
def _elementwise(*domains: str, offsets: tuple[float, ...] = ()) -> Any:
    """Cases for an elementwise op with one input per domain."""
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        n = len(domains)
        shape_sets = S.broadcastable_shapes(n) if broadcast else S.equal_shapes(n)

        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            ss = draw(shape_sets)
            arrs = tuple(
                draw(S.arrays(s, dtype, d, offset=offsets[i] if offsets else 0.05))
                for i, (s, d) in enumerate(zip(ss, domains))
            )
            return arrs, {}

        return draw_case()

    cases.domains = domains  # read by the fuzzers for an op the table describes this way
    return cases


def _where_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        sc, sa, sb = draw(S.broadcastable_shapes(3) if broadcast else S.equal_shapes(3))
        cond = draw(S.hnp.arrays(np.bool_, sc))
        return (cond, draw(S.arrays(sa, dtype)), draw(S.arrays(sb, dtype))), {}

    return draw_case()


def _reduction(domain: str, unique: bool = False, keepdims: bool = True) -> Any:
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes())
            x = draw(S.arrays(shape, dtype, domain, unique=unique))
            kw: dict[str, Any] = {"axis": draw(S.axes(len(shape)))}
            if keepdims:
                kw["keepdims"] = draw(st.booleans())
            return (x,), kw

        return draw_case()

    return cases


def _softmax_like(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(S.shapes(min_dims=1))
        return (draw(S.arrays(shape, dtype, "wide")),), {"axis": draw(S.one_axis(len(shape)))}

    return draw_case()


def _matmul_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        sx, sy = draw(S.matmul_shapes())
        return (draw(S.arrays(sx, dtype)), draw(S.arrays(sy, dtype))), {}

    return draw_case()


def _linear_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    """x (..., in), weight (in, out) and bias (out,) for nn.functional.linear."""
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        batch = draw(st.lists(st.integers(1, 3), max_size=2))
        n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        shapes = [(*batch, n_in), (n_in, n_out), (n_out,)]
        return tuple(draw(S.arrays(shape, dtype)) for shape in shapes), {}

    return draw_case()


def _np_linear(activation: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda x, w, b: activation(x @ w + b)


def _unary_with(kw_strategy: Callable[[tuple[int, ...]], st.SearchStrategy[dict[str, Any]]],
                min_dims: int = 0) -> Any:
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes(min_dims=min_dims))
            return (draw(S.arrays(shape, dtype)),), draw(kw_strategy(shape))

        return draw_case()

    return cases


def _join_cases(stack: bool) -> Any:
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            if stack:
                shape = draw(S.shapes(max_dims=2))
                count = draw(st.integers(1, 3))
                arrs = tuple(draw(S.arrays(shape, dtype)) for _ in range(count))
                return arrs, {"axis": draw(S.one_axis(len(shape) + 1))}
            shape_list, axis = draw(S.concat_shapes())
            return tuple(draw(S.arrays(s, dtype)) for s in shape_list), {"axis": axis}

        return draw_case()

    return cases


def _broadcast_to_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        sa, sb = draw(S.broadcastable_shapes(2))
        target = np.broadcast_shapes(sa, sb)
        return (draw(S.arrays(sa, dtype)),), {"shape": target}

    return draw_case()


def _squeeze_kw(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    ones = [i for i, n in enumerate(shape) if n == 1]
    subsets = st.lists(st.sampled_from(ones), unique=True).map(tuple) if ones else st.just(())
    return st.one_of(st.just({"axis": None}), subsets.map(lambda a: {"axis": a}))


def _np_swapaxes(x: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.swapaxes(x, a, b)


def _where(c: Any, a: Any, b: Any) -> Any:
    return mt.where(c, a, b)


def _getitem_kw(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return S.index_expressions(shape).map(lambda i: {"index": i})


# ------------------------------------------------------------------------------- the table
OPS: list[OpSpec] = [
    OpSpec("add", lambda x, y: x + y, np.add, _elementwise("real", "real")),
    OpSpec("sub", lambda x, y: x - y, np.subtract, _elementwise("real", "real")),
    OpSpec("mul", lambda x, y: x * y, np.multiply, _elementwise("real", "real")),
    OpSpec("div", lambda x, y: x / y, np.divide, _elementwise("real", "nonzero")),
    OpSpec("pow", lambda x, y: x**y, np.power, _elementwise("positive", "real")),
    OpSpec("pow_int", lambda x: x**3, lambda x: x**3, _elementwise("real")),
    OpSpec("pow_square", lambda x: x**2, np.square, _elementwise("real")),
    OpSpec("pow_half", lambda x: x**0.5, np.sqrt, _elementwise("positive")),
    OpSpec("pow_negative", lambda x: x**-2, lambda x: x**-2.0, _elementwise("nonzero")),
    OpSpec("rpow", lambda x: 2.0**x, lambda x: 2.0**x, _elementwise("real")),
    OpSpec("radd", lambda x: 1.5 + x, lambda x: 1.5 + x, _elementwise("real")),
    OpSpec("rsub", lambda x: 1.5 - x, lambda x: 1.5 - x, _elementwise("real")),
    OpSpec("rmul", lambda x: 1.5 * x, lambda x: 1.5 * x, _elementwise("real")),
    OpSpec("rdiv", lambda x: 1.5 / x, lambda x: 1.5 / x, _elementwise("nonzero")),
    OpSpec("neg", lambda x: -x, np.negative, _elementwise("real")),
    OpSpec("matmul", lambda x, y: x @ y, np.matmul, _matmul_cases),
    OpSpec("exp", mt.exp, np.exp, _elementwise("real")),
    OpSpec("log", mt.log, np.log, _elementwise("positive")),
    OpSpec("log1p", mt.log1p, np.log1p, _elementwise("positive")),
    OpSpec("sqrt", mt.sqrt, np.sqrt, _elementwise("positive")),
    OpSpec("abs", mt.abs, np.abs, _elementwise("smooth")),
    OpSpec("tanh", mt.tanh, np.tanh, _elementwise("wide")),
    OpSpec("sigmoid", mt.sigmoid, _np_sigmoid, _elementwise("wide")),
    OpSpec("relu", mt.relu, lambda x: np.maximum(x, 0), _elementwise("smooth")),
    OpSpec("clip", lambda x: x.clip(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
           _elementwise("smooth")),
    OpSpec("clip_low", lambda x: x.clip(min=0.0), lambda x: np.clip(x, 0.0, None),
           _elementwise("smooth")),
    OpSpec("maximum", mt.maximum, np.maximum,
           _elementwise("smooth", "smooth", offsets=(0.03, 0.07))),
    OpSpec("minimum", mt.minimum, np.minimum,
           _elementwise("smooth", "smooth", offsets=(0.03, 0.07))),
    OpSpec("where", _where, np.where, _where_cases),
    OpSpec("sum", mt.sum, np.sum, _reduction("real")),
    OpSpec("mean", mt.mean, np.mean, _reduction("real")),
    OpSpec("max", mt.max, np.max, _reduction("smooth", unique=True)),
    OpSpec("min", mt.min, np.min, _reduction("smooth", unique=True)),
    OpSpec("logsumexp", mt.logsumexp, _np_logsumexp, _reduction("wide")),
    OpSpec("softmax", mt.softmax, _np_softmax, _softmax_like),
    OpSpec("log_softmax", mt.log_softmax, _np_log_softmax, _softmax_like),
    OpSpec("reshape", lambda x, shape: x.reshape(shape), np.reshape,
           _unary_with(lambda s: S.reshape_targets(s).map(lambda t: {"shape": t}))),
    OpSpec("transpose", lambda x, axes: x.transpose(axes), np.transpose,
           _unary_with(lambda s: S.permutations_of(len(s)).map(lambda p: {"axes": p}))),
    OpSpec("T", lambda x: x.T, np.transpose, _elementwise("real")),
    OpSpec("swapaxes", mt.swapaxes, _np_swapaxes,
           _unary_with(lambda s: st.tuples(S.one_axis(len(s)), S.one_axis(len(s))).map(
               lambda ab: {"a": ab[0], "b": ab[1]}), min_dims=1)),
    OpSpec("getitem", lambda x, index: x[index], lambda x, index: x[index],
           _unary_with(_getitem_kw)),
    OpSpec("concatenate", lambda *xs, axis: mt.concatenate(xs, axis=axis),
           lambda *xs, axis: np.concatenate(xs, axis=axis), _join_cases(stack=False)),
    OpSpec("stack", lambda *xs, axis: mt.stack(xs, axis=axis),
           lambda *xs, axis: np.stack(xs, axis=axis), _join_cases(stack=True)),
    OpSpec("broadcast_to", mt.broadcast_to, np.broadcast_to, _broadcast_to_cases),
    OpSpec("squeeze", mt.squeeze, np.squeeze, _unary_with(_squeeze_kw)),
    OpSpec("expand_dims", mt.expand_dims, np.expand_dims,
           _unary_with(lambda s: S.one_axis(len(s) + 1).map(lambda a: {"axis": a}))),
    OpSpec("astype", lambda x: x.astype(x.dtype), lambda x: x.astype(x.dtype),
           _elementwise("real")),
]
# nn.Linear(activation=...): x @ weight + bias and the activation as one node (nn/_fused.py);
# ReLU's kink at z == 0 defeats central differences on drawn data: tests/test_linear_activation
OPS += [
    OpSpec("linear_sigmoid", lambda x, w, b: nn.functional.linear(x, w, b, "sigmoid"),
           _np_linear(_np_sigmoid), _linear_cases),
    OpSpec("linear_tanh", lambda x, w, b: nn.functional.linear(x, w, b, "tanh"),
           _np_linear(np.tanh), _linear_cases),
]

# rows of the ops added later, one file per family (each imports OpSpec and the case helpers
# from this module, so they are imported here, after those are defined)
from op_table_indexing import ROWS as _INDEXING_ROWS  # noqa: E402
from op_table_math import ROWS as _MATH_ROWS  # noqa: E402
from op_table_scan import ROWS as _SCAN_ROWS  # noqa: E402

OPS += _MATH_ROWS + _SCAN_ROWS + _INDEXING_ROWS

BY_NAME = {op.name: op for op in OPS}
