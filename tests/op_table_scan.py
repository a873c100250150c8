"""Op-table rows for the reductions and scans (microtensor/ops/scan.py):
one row per registered op (see tests/op_table.py).

argmax, argmin, argsort, any and all give integer or boolean results with no gradient; the
table's properties are about float outputs and their gradients, so their rows call the op and
add `0 * x.sum()`: the values (cast to the input's dtype) are compared with NumPy's in every
layout, and the gradient that comes back is exactly zero (central differences agree: the
drawn values have no ties within eps, and any/all are symmetric about a zero)."""

from __future__ import annotations

from typing import Any

import numpy as np
import strategies as S
from hypothesis import strategies as st
from op_table import Case, OpSpec, _reduction

import microtensor as mt

ROWS: list[OpSpec] = []


def _untracked(fn: Any) -> Any:
    """The op's integer/bool result as a float of x's dtype, plus 0 * x.sum() (see above)."""
    return lambda x, **kw: fn(x, **kw).astype(x.dtype) + 0 * x.sum()


def _as_dtype(ref: Any) -> Any:
    return lambda x, **kw: np.asarray(ref(x, **kw)).astype(x.dtype)


def _var_cases(spread: bool) -> Any:
    """x, axis, keepdims and ddof (0 or 1, n - ddof >= 1). With `spread`, each reduced slice
    holds at least two distinct values (std's gradient at a constant slice is nan)."""
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes(min_dims=1 if spread else 0, min_side=2 if spread else 1))
            axis = draw(S.axes(len(shape)))
            if spread and axis == ():
                axis = None
            domain = "smooth" if spread else "real"
            x = draw(S.arrays(shape, dtype, domain, unique=spread))
            n = int(np.prod([shape[a] for a in np.atleast_1d(
                np.arange(len(shape)) if axis is None else axis).astype(int)]))
            ddof = draw(st.integers(0, 1 if n > 1 else 0))
            return (x,), {"axis": axis, "keepdims": draw(st.booleans()), "ddof": ddof}

        return draw_case()

    return cases


def _scan_cases(domain: str) -> Any:
    """x (at least 1-D) and an axis (None: the flattened input)."""
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes(min_dims=1))
            x = draw(S.arrays(shape, dtype, domain))
            return (x,), {"axis": draw(st.none() | S.one_axis(len(shape)))}

        return draw_case()

    return cases


def _np_logcumsumexp(x: np.ndarray, axis: Any) -> np.ndarray:
    flat = x.reshape(-1) if axis is None else x
    return np.log(np.cumsum(np.exp(flat), axis=0 if axis is None else axis))


def _norm_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    """Vector norms over one axis (or a 1-D input) for ord in 1, 2, 3, 0.5, inf, -inf, 0;
    ord=None over any axes; 'fro' over two axes. Values on a grid away from 0 with distinct
    magnitudes (no kink of |x|, no tie of max |x|)."""
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        kind = draw(st.sampled_from(["vector", "none", "fro"]))
        shape = draw(S.shapes(min_dims=2 if kind == "fro" else 1))
        x = draw(S.arrays(shape, dtype, "smooth", unique=True, offset=0.03))
        keepdims = draw(st.booleans())
        if kind == "none":
            return (x,), {"ord": None, "axis": draw(S.axes(len(shape))), "keepdims": keepdims}
        if kind == "fro":
            a, b = draw(st.lists(S.one_axis(len(shape)), min_size=2, max_size=2, unique_by=lambda
                                 i: i % len(shape)))
            return (x,), {"ord": "fro", "axis": (a, b), "keepdims": keepdims}
        ord_ = draw(st.sampled_from([1, 2, 3, 0.5, np.inf, -np.inf, 0]))
        return (x,), {"ord": ord_, "axis": draw(S.one_axis(len(shape))), "keepdims": keepdims}

    return draw_case()


def _np_norm(x: np.ndarray, ord: Any, axis: Any, keepdims: bool) -> np.ndarray:  # noqa: A002
    if ord is None:  # np.linalg.norm takes at most two axes: the 2-norm of all those given
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    return np.linalg.norm(x, ord, axis, keepdims)


def _arg_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(S.shapes(min_dims=1))
        x = draw(S.arrays(shape, dtype, "smooth", unique=True))
        return (x,), {"axis": draw(st.none() | S.one_axis(len(shape))),
                      "keepdims": draw(st.booleans())}

    return draw_case()


def _truth_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    """Arrays with some exact zeros (so any and all vary), a drawn axis and keepdims."""
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(S.shapes())
        x = draw(S.arrays(shape, dtype, "smooth"))
        x = x * draw(S.hnp.arrays(np.bool_, shape)).astype(dtype)
        return (x,), {"axis": draw(S.axes(len(shape))), "keepdims": draw(st.booleans())}

    return draw_case()


def _sort_cases(with_k: bool) -> Any:
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes(min_dims=1))
            x = draw(S.arrays(shape, dtype, "smooth", unique=True))
            axis = draw(S.one_axis(len(shape)))
            if with_k:
                return (x,), {"k": draw(st.integers(0, shape[axis])), "axis": axis,
                              "largest": draw(st.booleans())}
            return (x,), {"axis": axis, "descending": draw(st.booleans())}

        return draw_case()

    return cases


def _np_sort(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    out = np.sort(x, axis=axis)
    return np.flip(out, axis=axis) if descending else out


def _np_argsort(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    return np.argsort(-x if descending else x, axis=axis, kind="stable")


def _np_topk(x: np.ndarray, k: int, axis: int, largest: bool) -> np.ndarray:
    ordered = _np_sort(x, axis, largest)
    return np.take(ordered, np.arange(k), axis=axis)


ROWS += [
    OpSpec("var", mt.var, np.var, _var_cases(spread=False)),
    OpSpec("std", mt.std, np.std, _var_cases(spread=True)),
    OpSpec("prod", mt.prod, np.prod, _reduction("real")),
    OpSpec("cumsum", mt.cumsum, np.cumsum, _scan_cases("real")),
    OpSpec("cumprod", mt.cumprod, np.cumprod, _scan_cases("real")),
    OpSpec("logcumsumexp", mt.logcumsumexp, _np_logcumsumexp, _scan_cases("wide")),
    OpSpec("norm", mt.norm, _np_norm, _norm_cases),
    OpSpec("argmax", _untracked(mt.argmax), _as_dtype(np.argmax), _arg_cases),
    OpSpec("argmin", _untracked(mt.argmin), _as_dtype(np.argmin), _arg_cases),
    OpSpec("any", _untracked(mt.any), _as_dtype(np.any), _truth_cases),
    OpSpec("all", _untracked(mt.all), _as_dtype(np.all), _truth_cases),
    OpSpec("sort", mt.sort, _np_sort, _sort_cases(with_k=False)),
    OpSpec("argsort", _untracked(mt.argsort), _as_dtype(_np_argsort), _sort_cases(with_k=False)),
    OpSpec("topk", lambda x, **kw: mt.topk(x, **kw)[0], _np_topk, _sort_cases(with_k=True)),
]


# ------------------------------------------ NumPy references for tests/test_fuzz.py's rows
# (microtensor's documented semantics where they differ from NumPy's function of the name:
# a 0-d tensor scans and sorts as one element and stays 0-d, as in PyTorch; descending sorts
# are stable with nan first; np.linalg.norm's matrix 2-norms are refused)
def fuzz_axis(a: np.ndarray, axis: Any) -> int:
    """`axis` of `a` (a 0-d array as 1-D) as an int in range, or NumPy's errors."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis {axis!r} is not an int")
    nd = np.ndim(a) or 1
    if not -nd <= axis < nd:
        raise ValueError("axis out of range")
    return int(axis) % nd


def fuzz_scan(fn: Any) -> Any:
    """The reference of a scan: `fn(a1d_or_nd, axis)` along `axis`; None scans the
    flattened input."""
    def ref(a: np.ndarray, axis: Any) -> np.ndarray:
        if axis is None:
            return fn(np.ravel(a), 0)
        return fn(np.atleast_1d(a), fuzz_axis(a, axis)).reshape(np.shape(a))

    return ref


def _sorted(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    if not descending:
        return np.sort(a, axis)
    return np.flip(np.sort(np.flip(a, axis), axis, kind="stable"), axis)


def _argsorted(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    if not descending:
        return np.argsort(a, axis, kind="stable")
    return a.shape[axis] - 1 - np.flip(np.argsort(np.flip(a, axis), axis, kind="stable"), axis)




def fuzz_sort_ref(values: bool) -> Any:
    """mt.sort (values) or mt.argsort against NumPy: extra = (axis, descending) or None."""
    pick = _sorted if values else _argsorted

    def ref(a: np.ndarray, extra: Any) -> np.ndarray:
        axis, descending = (-1, False) if extra is None else extra
        return fuzz_scan(lambda b, ax: pick(b, ax, bool(descending)))(a, axis)

    return ref


def fuzz_topk_ref(a: np.ndarray, extra: Any) -> np.ndarray:
    """mt.topk(a, k, axis, largest) values: extra = (k, axis, largest), or None for k=1."""
    k, axis, largest = (1, -1, True) if extra is None else extra
    ax = fuzz_axis(a, axis)
    if np.ndim(a) == 0:
        if k not in (0, 1):
            raise ValueError("k out of range")
        return np.asarray(a)
    if not 0 <= k <= np.shape(a)[ax]:
        raise ValueError("k out of range")
    return np.take(_sorted(a, ax, largest), np.arange(k), axis=ax)


def fuzz_norm_ref(a: np.ndarray, extra: Any) -> np.ndarray:
    """np.linalg.norm(a, ord, axis, keepdims), less the matrix norms of singular values."""
    if extra is None:
        return np.linalg.norm(a)
    ord_, axis, keepdims = extra
    axis = tuple(axis) if isinstance(axis, list) else axis  # mt.norm takes a list as a tuple
    for item in (() if axis is None else axis if isinstance(axis, tuple) else (axis,)):
        if not isinstance(item, (int, np.integer)) or isinstance(item, bool):
            raise TypeError("axis must be ints")  # np.linalg.norm truncates a float axis
    matrix = (np.ndim(a) == 2) if axis is None else (isinstance(axis, tuple) and len(axis) == 2)
    if matrix and ord_ in (2, -2, "nuc"):
        raise ValueError("matrix 2-norm refused")
    return np.linalg.norm(a, ord_, axis, keepdims)
