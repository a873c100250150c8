"""The one source of test inputs: shapes, broadcastable shapes, axes, index expressions, arrays.

Sizes stay small on purpose: gradcheck evaluates the function twice per input element, so a
4x3 input is already 24 forward passes. Domains keep central differences honest:

- "real": any value in [-2, 2];
- "positive": [0.5, 3] (log, sqrt, a pow base with a tensor exponent);
- "nonzero": |x| in [0.5, 2] (denominators, negative powers);
- "smooth": a grid k / 10 + offset that never hits 0 or +-0.5 and whose values are at least
  0.1 apart, so no element sits within eps of a kink (abs, relu, clip bounds) and, with
  `unique=True`, no slice has a tied maximum;
- "wide": [-5, 5] (exp, sigmoid, tanh beyond their linear region).
"""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

DTYPES = (np.float64, np.float32)
MAX_SIZE = 24

_BOUNDS = {"real": (-2.0, 2.0), "positive": (0.5, 3.0), "wide": (-5.0, 5.0)}


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, including 0-d and size-1 axes, at most MAX_SIZE elements."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).filter(lambda s: int(np.prod(s)) <= MAX_SIZE)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 3) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """`num_shapes` mutually broadcastable shapes (size-1 axes, missing leading axes, 0-d),
    each with at most MAX_SIZE elements."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda b: b.input_shapes).filter(
        lambda ss: all(int(np.prod(s)) <= MAX_SIZE for s in ss)
    )


def equal_shapes(num_shapes: int = 2) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """`num_shapes` copies of one shape: the no-broadcasting case of a binary op."""
    return shapes().map(lambda s: (s,) * num_shapes)


@st.composite
def axes(draw: st.DrawFn, ndim: int, allow_none: bool = True,
         allow_tuple: bool = True) -> Any:
    """A valid `axis` argument for an array of `ndim` dims: None, an int (maybe negative) or a
    tuple of distinct ints (maybe negative, maybe empty, in any order)."""
    kinds = ["none"] if allow_none else []
    if ndim:
        kinds.append("int")
    if allow_tuple:
        kinds.append("tuple")
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


def one_axis(ndim: int) -> st.SearchStrategy[int]:
    """A single valid axis (negative allowed) for softmax-like ops; `ndim` must be >= 1."""
    return st.integers(-ndim, ndim - 1)


def _grid(offset: float) -> st.SearchStrategy[float]:
    return st.integers(-20, 20).map(lambda k: k / 10 + offset)


def elements(domain: str, dtype: Any = np.float64, offset: float = 0.05
             ) -> st.SearchStrategy[float]:
    """Scalar values from a domain (see the module docstring)."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    if domain == "smooth":
        return _grid(offset)
    if domain == "nonzero":
        mag = st.floats(0.5, 2.0, width=width)
        return st.tuples(mag, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    lo, hi = _BOUNDS[domain]
    return st.floats(lo, hi, width=width)


def arrays(shape: tuple[int, ...], dtype: Any = np.float64, domain: str = "real",
           unique: bool = False, offset: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """A float array of `shape` and `dtype` with values from `domain`; `unique=True` makes
    every value distinct (no ties for max/min)."""
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(domain, dtype, offset),
                      unique=unique)


# Memory layouts every op must handle (NumPy hands ops views of any of them): C order,
# Fortran order, the last two axes transposed (neither C nor F beyond 2-D), and a view of a
# larger buffer with a step of 2 on every axis, negative on the last one.
LAYOUTS = ("C", "F", "transposed", "strided")


def relayout(a: np.ndarray, layout: str) -> np.ndarray:
    """A fresh array equal to `a` in the memory layout `layout` (one of LAYOUTS)."""
    if a.ndim == 0 or layout == "C":
        return np.array(a, order="C")
    if layout == "F":
        return np.array(a, order="F")
    if layout == "transposed":
        if a.ndim == 1:
            return np.array(a)[::1]
        return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
    if layout == "strided":
        buf = np.zeros(tuple(2 * n for n in a.shape), dtype=a.dtype)
        steps = (slice(None, None, 2),) * (a.ndim - 1) + (slice(None, None, -2),)
        view = buf[steps]
        view[...] = a
        return view
    raise ValueError(f"unknown layout {layout!r}")


def layouts() -> st.SearchStrategy[str]:
    """One of LAYOUTS."""
    return st.sampled_from(LAYOUTS)


def float_dtypes() -> st.SearchStrategy[Any]:
    """float64 or float32."""
    return st.sampled_from(DTYPES)


def scalars(domain: str = "real") -> st.SearchStrategy[float]:
    """A Python float from a domain (for reflected ops and scalar operands)."""
    return elements(domain)


@st.composite
def reshape_targets(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape with as many elements as `shape`, possibly with one -1."""
    size = int(np.prod(shape))
    dims: list[int] = []
    left = size
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, left + 1) if left % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        left //= d
    if left != 1 or not dims:
        dims.append(left)
    dims = draw(st.permutations(dims))
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def permutations_of(draw: st.DrawFn, ndim: int) -> tuple[int, ...]:
    """A permutation of range(ndim), some entries written as negative axes."""
    perm = draw(st.permutations(list(range(ndim))))
    return tuple(a - ndim if draw(st.booleans()) else a for a in perm)


@st.composite
def _axis_index(draw: st.DrawFn, n: int, advanced: bool) -> Any:
    """One index item for an axis of length `n`."""
    kinds = ["slice", "int"] + (["array", "list", "tuple", "mask"] if advanced else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "slice":
        start = draw(st.none() | st.integers(-n - 1, n + 1))
        stop = draw(st.none() | st.integers(-n - 1, n + 1))
        step = draw(st.none() | st.sampled_from([1, 2, -1, -2]))
        return slice(start, stop, step)
    if kind == "mask":
        return draw(hnp.arrays(np.bool_, (n,)))
    picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))  # repeats allowed
    if kind == "tuple":  # inside the index a tuple is a sequence of positions, like a list
        return tuple(picks)
    return picks if kind == "list" else np.array(picks, dtype=np.intp)


@st.composite
def index_expressions(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """An index for an array of `shape`: ints, slices (negative steps too), None, Ellipsis, and
    at most one integer array, integer list or tuple (with repeats) or boolean mask, mixed
    freely; or a whole-array boolean mask."""
    if shape and draw(st.integers(0, 7)) == 0:
        return draw(hnp.arrays(np.bool_, shape))
    n_used = draw(st.integers(0, len(shape)))
    advanced_at = draw(st.integers(-1, n_used - 1)) if n_used else -1
    items: list[Any] = [
        draw(_axis_index(n, advanced=(i == advanced_at))) for i, n in enumerate(shape[:n_used])
    ]
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if n_used < len(shape) and draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    index: Any = tuple(items)
    if len(items) == 1 and draw(st.booleans()):
        index = items[0]
    try:
        np.empty(shape)[index]
    except IndexError:
        assume(False)
    return index


@st.composite
def matmul_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Operand shapes np.matmul accepts: 1-D x 1-D, 1-D x N-D, N-D x 1-D, 2-D x 2-D and batched
    N-D with broadcasting batch axes."""
    m, k, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch_x, batch_y = draw(broadcastable_shapes(2, max_dims=2, max_side=2))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "vm":
        return (k,), batch_y + (k, n)
    if kind == "mv":
        return batch_x + (m, k), (k,)
    if kind == "mm":
        return (m, k), (k, n)
    return batch_x + (m, k), batch_y + (k, n)


@st.composite
def concat_shapes(draw: st.DrawFn, count: int | None = None) -> tuple[list[tuple[int, ...]], int]:
    """Shapes that agree except along one axis, and that axis (maybe negative)."""
    base = draw(shapes(min_dims=1))
    count = count or draw(st.integers(1, 3))
    axis = draw(one_axis(len(base)))
    out = []
    for _ in range(count):
        s = list(base)
        s[axis] = draw(st.integers(1, 3))
        out.append(tuple(s))
    return out, axis
