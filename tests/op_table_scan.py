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
        if kind == "none":  # one axis, two, or all (np.linalg.norm's choices)
            axis = draw(S.axes(len(shape)))
            if isinstance(axis, tuple) and len(axis) not in (1, 2):
                axis = None
            return (x,), {"ord": None, "axis": axis, "keepdims": keepdims}
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
    OpSpec("median", mt.median, np.median, _reduction("smooth", unique=True)),
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


# ---------------------------------------------------------- rows of tests/test_torch_fuzz.py
def torch_fuzz_rows(fuzz_op: Any) -> dict[str, Any]:
    """tests/test_torch_fuzz.py's rows (`fuzz_op` is its `FuzzOp`; its helpers `require`,
    `no_ties`, `away_from` and `_reduction` come from the same module): each op with drawn
    arguments against its PyTorch spelling. Steps near a kink or a tie (|x| at 0 for the 1-
    and p<1 norms, tied |x| for the inf-norms, tied values for sort/topk/argmax) are not
    taken. The integer and boolean results (argmax, argmin, argsort, any, all) are compared
    cast to the input's dtype; they carry no gradient in either framework, and the input stays
    in the program's output (it is not consumed)."""
    import sys

    import torch

    fz = sys.modules[fuzz_op.__module__]
    require, away_from = fz.require, fz.away_from

    def distinct(a: np.ndarray, axis: Any) -> bool:
        """Every pair of values along `axis` (all of them for None) apart by a margin."""
        flat = np.ravel(a) if axis is None else np.moveaxis(np.atleast_1d(a), axis, -1)
        s = np.sort(flat, axis=-1)
        gap = fz.MARGIN * np.maximum(1.0, np.abs(s[..., 1:]))
        return bool((np.diff(s, axis=-1) > gap).all())

    def scan_axis(p: Any, x: Any) -> Any:
        nd = max(x.ndim, 1)
        return p.draw(st.none() | st.integers(-nd, nd - 1))

    def scan(name: str, th: Any) -> Any:
        def make(p: Any, x: Any) -> Any:
            x = p.condition(x, "real")
            axis = scan_axis(p, x)

            def th_fn(a: Any) -> Any:
                return th(a.reshape(-1), 0) if axis is None else th(a, axis)

            if p.draw(st.booleans()):
                return p.apply(f"{{}}.{name}(dim={axis!r})",
                               lambda a: getattr(a, name)(dim=axis), th_fn, x)
            fn = getattr(mt, name)
            return p.apply(f"mt.{name}({{}}, {axis!r})", lambda a: fn(a, axis), th_fn, x)

        return fuzz_op(name, make)

    def dims_of(axis: Any, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim)) if axis is None else (
            (axis,) if isinstance(axis, int) else tuple(axis))

    def th_prod(a: Any, dims: tuple[int, ...], keepdim: bool) -> Any:
        for d in sorted((d % a.ndim for d in dims), reverse=True):
            a = torch.prod(a, d, keepdim=keepdim)
        return a

    def spread(name: str) -> Any:
        """var and std with correction 0 or 1 (n - correction >= 1) over a drawn axis."""
        def make(p: Any, x: Any) -> Any:
            x = p.condition(x, "real")
            axis = p.draw(S.axes(x.ndim))
            dims = dims_of(axis, x.ndim)
            keepdim = p.draw(st.booleans())
            correction = p.draw(st.integers(0, 1))
            n = int(np.prod([x.shape[d] for d in dims]))
            require(bool(dims) and n - correction >= 1)
            if name == "std":  # away from a constant slice (std = 0: a nan gradient)
                require(n >= 2 and bool((np.ptp(x.data, axis=dims) > fz.MARGIN).all()))
            th = getattr(torch, name)
            return p.apply(f"mt.{name}({{}}, dim={axis!r}, correction={correction}, "
                           f"keepdim={keepdim})",
                           lambda a: getattr(mt, name)(a, dim=axis, correction=correction,
                                                       keepdim=keepdim),
                           lambda a: th(a, dim=dims, correction=correction, keepdim=keepdim),
                           x)

        return fuzz_op(name, make, min_dims=1)

    def norm(p: Any, x: Any) -> Any:
        x = p.condition(x, "real")
        keepdims = p.draw(st.booleans())
        kind = p.draw(st.sampled_from(["vector", "all", "matrix"] if x.ndim >= 2 else
                                      ["vector", "all"] if x.ndim else ["all"]))
        if kind == "matrix":
            a, b = p.draw(st.lists(st.integers(0, x.ndim - 1), min_size=2, max_size=2,
                                   unique=True))
            order = p.draw(st.sampled_from(["fro", 1, -1, np.inf, -np.inf]))
            if order != "fro":
                require(away_from(x.data, 0.0))
                summed, over = (a, b) if order in (1, -1) else (b, a)
                sums = np.abs(x.data).sum(axis=summed, keepdims=True)
                require(distinct(sums, over))
            return p.apply(f"mt.norm({{}}, {order!r}, axis={(a, b)}, keepdims={keepdims})",
                           lambda t: mt.norm(t, order, axis=(a, b), keepdims=keepdims),
                           lambda t: torch.linalg.matrix_norm(t, order, dim=(a, b),
                                                              keepdim=keepdims), x)
        order = p.draw(st.sampled_from([2, 1, 3, 0.5, np.inf, -np.inf]))
        axis = p.draw(S.one_axis(x.ndim)) if kind == "vector" else None
        if order != 2:
            require(away_from(x.data, 0.0))
        if np.isinf(order):
            require(distinct(np.abs(x.data), axis))
        require(float(np.abs(x.data).max(initial=0.0)) > 0.1)  # away from the zero vector
        dim = axis if kind == "vector" else None
        if kind == "all" and p.draw(st.booleans()):  # PyTorch's p=: over every element
            return p.apply(f"mt.norm({{}}, p={order!r})", lambda t: mt.norm(t, p=order),
                           lambda t: torch.linalg.vector_norm(t, order), x)
        if kind == "all" and x.ndim > 1:  # mt.norm(ord=number) of a matrix is a matrix norm
            return p.apply(f"{{}}.norm(p={order!r}, keepdim={keepdims})",
                           lambda t: t.norm(p=order, keepdim=keepdims),
                           lambda t: torch.linalg.vector_norm(t, order, keepdim=keepdims), x)
        if kind == "all":
            order = 2 if x.ndim == 0 else order
            return p.apply(f"mt.norm({{}}, {order!r}, keepdims={keepdims})",
                           lambda t: mt.norm(t, order if x.ndim else None, keepdims=keepdims),
                           lambda t: torch.linalg.vector_norm(t, order, keepdim=keepdims), x)
        return p.apply(f"mt.norm({{}}, {order!r}, axis={dim}, keepdims={keepdims})",
                       lambda t: mt.norm(t, order, axis=dim, keepdims=keepdims),
                       lambda t: torch.linalg.vector_norm(t, order, dim=dim, keepdim=keepdims),
                       x)

    def untracked(name: str, mt_fn: Any, th_fn: Any, ties: bool = True) -> Any:
        """argmax/argmin/argsort/any/all: the result cast to x's dtype, x not consumed."""
        def make(p: Any, x: Any) -> Any:
            x = p.condition(x, "real")
            axis = p.draw(S.one_axis(x.ndim)) if x.ndim else None
            keep = p.draw(st.booleans())
            if ties:
                require(distinct(x.data, axis))
            dtype = torch.float64 if x.dtype == np.float64 else torch.float32
            v = p.apply(f"mt.{name}({{}}, {axis!r}, {keep}).astype({x.dtype})",
                        lambda a: mt_fn(a, axis, keep).astype(a.dtype),
                        lambda a: th_fn(a, axis, keep).to(dtype), x)
            p.consumed.discard(id(x))
            return v

        return fuzz_op(name, make)

    def th_arg(fn: Any) -> Any:
        return lambda a, axis, keep: fn(a, dim=axis, keepdim=keep) if axis is not None else (
            fn(a).reshape((1,) * a.ndim) if keep else fn(a))

    def th_truth(fn: Any) -> Any:
        return lambda a, axis, keep: th_arg(fn)(a > 0, axis, keep)

    def sort(p: Any, x: Any) -> Any:
        x = p.condition(x, "real")
        axis = p.draw(S.one_axis(x.ndim)) if x.ndim else -1
        descending = p.draw(st.booleans())
        require(distinct(x.data, axis if x.ndim else None))
        return p.apply(f"mt.sort({{}}, {axis}, descending={descending})",
                       lambda a: mt.sort(a, axis, descending=descending),
                       lambda a: torch.sort(a, axis, descending=descending)[0], x)

    def topk(p: Any, x: Any) -> Any:
        x = p.condition(x, "real")
        axis = p.draw(S.one_axis(x.ndim)) if x.ndim else -1
        k = p.draw(st.integers(1, x.shape[axis] if x.ndim else 1))
        largest = p.draw(st.booleans())
        require(distinct(x.data, axis if x.ndim else None))
        return p.apply(f"mt.topk({{}}, {k}, dim={axis}, largest={largest})[0]",
                       lambda a: mt.topk(a, k, dim=axis, largest=largest)[0],
                       lambda a: torch.topk(a, k, dim=axis, largest=largest)[0], x)

    def median(p: Any, x: Any) -> Any:
        """NumPy's median (the mean of the two middle values) is torch.quantile(x, 0.5)."""
        x = p.condition(x, "real")
        axis = p.draw(S.one_axis(x.ndim)) if x.ndim and p.draw(st.booleans()) else None
        keepdims = p.draw(st.booleans())
        require(distinct(x.data, axis))

        def th_fn(a: Any) -> Any:
            if axis is None:
                out = torch.quantile(a.reshape(-1), 0.5)
                return out.reshape((1,) * a.ndim) if keepdims else out
            return torch.quantile(a, 0.5, dim=axis, keepdim=keepdims)

        return p.apply(f"mt.median({{}}, {axis!r}, {keepdims})",
                       lambda a: mt.median(a, axis, keepdims), th_fn, x)

    return {
        "var": spread("var"),
        "std": spread("std"),
        "prod": fz._reduction("prod", th_prod),
        "cumsum": scan("cumsum", torch.cumsum),
        "cumprod": scan("cumprod", torch.cumprod),
        # torch.logcumsumexp's double backward is wrong where the incoming gradient has exact
        # zeros (saturated tanh gives them; torch.autograd.gradgradcheck fails on
        # (logcumsumexp(x) * [1, 0, 0.5]).sum()): the same values by log(cumsum(exp)), shifted
        "logcumsumexp": scan("logcumsumexp", lambda a, d: torch.log(torch.cumsum(
            torch.exp(a - a.detach().amax()), d)) + a.detach().amax()),
        "norm": fuzz_op("norm", norm),
        "argmax": untracked("argmax", mt.argmax, th_arg(torch.argmax)),
        "argmin": untracked("argmin", mt.argmin, th_arg(torch.argmin)),
        "any": untracked("any", lambda a, ax, k: mt.any(a > 0, ax, k), th_truth(torch.any),
                         ties=False),
        "all": untracked("all", lambda a, ax, k: mt.all(a > 0, ax, k), th_truth(torch.all),
                         ties=False),
        "argsort": untracked("argsort", lambda a, ax, k: mt.argsort(a, -1 if ax is None else ax,
                                                                    descending=k),
                             lambda a, ax, k: torch.argsort(a, dim=-1 if ax is None else ax,
                                                            descending=k, stable=True)),
        "sort": fuzz_op("sort", sort),
        "topk": fuzz_op("topk", topk),
        "median": fuzz_op("median", median),
    }
