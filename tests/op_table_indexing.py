"""Op-table rows for the shape and indexing ops (microtensor/ops/indexing.py):
one row per registered op (see tests/op_table.py), and the rows these ops add to the two
fuzzers (`fuzz_rows` for tests/test_fuzz.py, `torch_fuzz_rows` for tests/test_torch_fuzz.py),
kept here so that each fuzzer file holds one line for this family."""

from __future__ import annotations

from typing import Any

import numpy as np
import strategies as S
from hypothesis import strategies as st
from op_table import Case, OpSpec, _unary_with

import microtensor as mt


# ------------------------------------------------------------------------- case strategies
def _flip_kw(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return S.axes(len(shape)).map(lambda a: {"axis": a})


@st.composite
def _roll_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    shift = st.integers(-5, 5)
    if not shape or draw(st.booleans()):
        return {"shift": draw(shift), "axis": None}
    axes = draw(st.lists(S.one_axis(len(shape)), min_size=1, max_size=3))
    if len(axes) == 1 and draw(st.booleans()):
        return {"shift": draw(shift), "axis": axes[0]}
    return {"shift": tuple(draw(shift) for _ in axes), "axis": tuple(axes)}


def _triangle_kw(shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.integers(-3, 3).map(lambda k: {"k": k})


_MODES = ["constant", "reflect", "edge", "replicate", "symmetric", "wrap", "circular"]


@st.composite
def _pad_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    mode = draw(st.sampled_from(_MODES))
    form = draw(st.sampled_from(["int", "pair", "per_axis"]))
    width = st.integers(0, 3)
    if form == "int":
        pw: Any = draw(width)
    elif form == "pair":
        pw = (draw(width), draw(width))
    else:
        pw = tuple((draw(width), draw(width)) for _ in shape)
    kw: dict[str, Any] = {"pad_width": pw, "mode": mode}
    if mode == "constant" and draw(st.booleans()):
        kw["value"] = draw(st.sampled_from([0.0, -1.5, 2.0]))
    return kw


def _np_pad(x: np.ndarray, pad_width: Any, mode: str = "constant", value: Any = 0) -> Any:
    mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    if mode == "constant":
        return np.pad(x, pad_width, mode=mode, constant_values=value)
    return np.pad(x, pad_width, mode=mode)


@st.composite
def _tile_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    reps = draw(st.lists(st.integers(0, 3), max_size=len(shape) + 1))
    return {"reps": tuple(reps) if draw(st.booleans()) or not reps else reps[0]}


@st.composite
def _repeat_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    axis = draw(st.one_of(st.none(), S.one_axis(len(shape)))) if shape else None
    n = int(np.prod(shape)) if axis is None else shape[axis]
    if draw(st.booleans()):
        return {"repeats": draw(st.integers(0, 3)), "axis": axis}
    counts = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return {"repeats": counts, "axis": axis}


def _np_repeat(x: np.ndarray, repeats: Any, axis: Any = None) -> np.ndarray:
    return np.repeat(x, repeats, axis)


@st.composite
def _moveaxis_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    n = len(shape)
    src = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n)) if n else []
    dst = draw(st.permutations(range(n)))[:len(src)]
    if len(src) == 1 and draw(st.booleans()):
        return {"source": src[0] - n * draw(st.integers(0, 1)), "destination": dst[0]}
    return {"source": tuple(src), "destination": tuple(dst)}


@st.composite
def _split_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    axis = draw(S.one_axis(len(shape)))
    n = shape[axis]
    if draw(st.booleans()):
        return {"indices_or_sections": draw(st.sampled_from(
            [d for d in range(1, n + 1) if n % d == 0])), "axis": axis}
    return {"indices_or_sections": draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)),
            "axis": axis}


def _flat(pieces: Any, join: Any) -> Any:
    return join([p.reshape(-1) for p in pieces])


@st.composite
def _chunk_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"chunks": draw(st.integers(1, 5)), "axis": draw(S.one_axis(len(shape)))}


def _np_chunk(x: np.ndarray, chunks: int, axis: int) -> list[np.ndarray]:
    n = x.shape[axis]
    step = -(-n // chunks)
    return np.split(x, list(range(step, n, step)), axis=axis)


@st.composite
def _diagonal_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    a1, a2 = draw(st.lists(S.one_axis(len(shape)), min_size=2, max_size=2).filter(
        lambda ab: ab[0] % len(shape) != ab[1] % len(shape)))
    return {"offset": draw(st.integers(-3, 3)), "axis1": a1, "axis2": a2}


def _gather_cases(kind: str) -> Any:
    """x and an integer index along a drawn axis: take_along_axis (NumPy's broadcasting
    index), gather (PyTorch's: at most x's size on the other axes), index_select (1-D)."""
    def cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
        @st.composite
        def draw_case(draw: st.DrawFn) -> Case:
            shape = draw(S.shapes(min_dims=1))
            x = draw(S.arrays(shape, dtype))
            axis = draw(S.one_axis(len(shape)))
            n = shape[axis]
            if kind == "index_select":
                idx = np.array(draw(st.lists(st.integers(-n, n - 1), max_size=5)), dtype=np.intp)
                return (x,), {"dim": axis, "index": idx}
            ishape = [draw(st.integers(1, s)) if kind == "gather" else draw(
                st.sampled_from([1, s])) for s in shape]
            ishape[axis] = draw(st.integers(0, 4))
            low = -n if kind == "take_along_axis" else 0
            idx = draw(S.hnp.arrays(np.intp, tuple(ishape), elements=st.integers(low, n - 1)))
            if kind == "gather":
                return (x,), {"dim": axis, "index": idx}
            return (x,), {"indices": idx, "axis": axis}

        return draw_case()

    return cases


def _np_gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    grids = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
    grids[dim] = index
    return x[tuple(grids)]


def _scatter_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        shape = draw(S.shapes(min_dims=1))
        axis = draw(S.one_axis(len(shape)))
        ishape = [draw(st.integers(1, s)) for s in shape]
        ishape[axis] = draw(st.integers(0, 4))
        idx = draw(S.hnp.arrays(np.intp, tuple(ishape),
                                elements=st.integers(0, shape[axis] - 1)))
        sshape = tuple(i + draw(st.integers(0, 1)) for i in ishape)
        return (draw(S.arrays(shape, dtype)), draw(S.arrays(sshape, dtype))), {
            "dim": axis, "index": idx}

    return draw_case()


def _np_scatter(add: bool) -> Any:
    def ref(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
        out = x.copy()
        grids = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
        grids[dim] = index
        part = src[tuple(slice(0, n) for n in index.shape)]
        if add:
            np.add.at(out, tuple(grids), part)
        else:
            out[tuple(grids)] = part
        return out

    return ref


@st.composite
def _masked_fill_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    mshape = draw(S.hnp.broadcastable_shapes(shape, max_dims=len(shape)).filter(
        lambda m: np.broadcast_shapes(m, shape) == shape))
    return {"mask": draw(S.hnp.arrays(np.bool_, mshape)),
            "value": draw(st.sampled_from([0.0, -1.5, 3.0]))}


def _outer_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        return (draw(S.arrays(draw(S.shapes(max_dims=2)), dtype)),
                draw(S.arrays(draw(S.shapes(max_dims=2)), dtype))), {}

    return draw_case()


def _tensordot_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        sa = draw(S.shapes(max_dims=3))
        k = draw(st.integers(0, len(sa)))
        summed = draw(st.permutations(range(len(sa))))[:k]
        pos_b = draw(st.permutations(range(k + draw(st.integers(0, 2)))))
        sb = [draw(st.integers(1, 3)) for _ in pos_b]
        ax_b = list(pos_b[:k])
        for i, j in zip(summed, ax_b):
            sb[j] = sa[i]
        arrs = (draw(S.arrays(sa, dtype)), draw(S.arrays(tuple(sb), dtype)))
        if k == len(summed) and list(summed) == list(range(len(sa) - k, len(sa))) and \
                ax_b == list(range(k)) and draw(st.booleans()):
            return arrs, {"axes": k}
        return arrs, {"axes": (tuple(summed), tuple(ax_b))}

    return draw_case()


def _meshgrid_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        count = draw(st.integers(1, 3))
        arrs = tuple(draw(S.arrays((draw(st.integers(1, 3)),), dtype)) for _ in range(count))
        return arrs, {"indexing": draw(st.sampled_from(["xy", "ij"])),
                      "sparse": draw(st.booleans())}

    return draw_case()


def _mt_meshgrid(*xs: Any, **kw: Any) -> Any:
    return mt.concatenate([g.reshape(-1) for g in mt.meshgrid(*xs, **kw)])


def _np_meshgrid(*xs: Any, **kw: Any) -> Any:
    return np.concatenate([g.reshape(-1) for g in np.meshgrid(*xs, **kw)])


@st.composite
def _unfold_kw(draw: st.DrawFn, shape: tuple[int, ...]) -> dict[str, Any]:
    axis = draw(S.one_axis(len(shape)))
    size = draw(st.integers(0, shape[axis]))
    return {"dimension": axis, "size": size, "step": draw(st.integers(1, 3))}


def _np_unfold(x: np.ndarray, dimension: int, size: int, step: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=dimension)
    return windows[(slice(None),) * (dimension % x.ndim) + (slice(None, None, step),)]


# subscripts and operand shapes for einsum: products, traces, diagonals, sums, broadcasting,
# ellipses, implicit outputs, three operands
_EINSUM_FORMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 2)]), ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]), ("ii", [(2, 2)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]),
    ("ji", [(2, 3)]), ("...ii->...i", [(2, 3, 3)]), ("bii,bjj->bij", [(2, 2, 2), (2, 2, 2)]),
    ("i,j->ij", [(3,), (2,)]), ("i,i->", [(4,), (4,)]), ("ij,jk,kl->il", [(2, 3), (3, 2),
                                                                          (2, 2)]),
    ("...j,...j->...", [(1, 3), (2, 3)]), ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("iij->j", [(2, 2, 3)]), ("ij,k->ijk", [(2, 2), (3,)]), ("Ab,b", [(2, 3), (3,)]),
    ("i...,i...->...", [(2, 3), (2, 3)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]), ("...", [(2, 3)]), ("...i->...", [(2, 2, 3)]),
]


def _einsum_cases(dtype: Any, broadcast: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def draw_case(draw: st.DrawFn) -> Case:
        spec, shapes = draw(st.sampled_from(_EINSUM_FORMS))
        return tuple(draw(S.arrays(s, dtype)) for s in shapes), {"subscripts": spec}

    return draw_case()


def _mt_einsum(*xs: Any, subscripts: str) -> Any:
    return mt.einsum(subscripts, *xs)


def _np_einsum(*xs: Any, subscripts: str) -> Any:
    return np.einsum(subscripts, *xs)


# ------------------------------------------------------------------------------- the rows
ROWS: list[OpSpec] = [
    OpSpec("flip", mt.flip, np.flip, _unary_with(_flip_kw)),
    OpSpec("roll", mt.roll, np.roll, _unary_with(_roll_kw)),
    OpSpec("tril", mt.tril, np.tril, _unary_with(_triangle_kw, min_dims=1)),
    OpSpec("triu", mt.triu, np.triu, _unary_with(_triangle_kw, min_dims=1)),
    OpSpec("pad", mt.pad, _np_pad, _unary_with(_pad_kw, min_dims=1)),
    OpSpec("tile", mt.tile, np.tile, _unary_with(_tile_kw)),
    OpSpec("repeat_interleave", mt.repeat_interleave, _np_repeat, _unary_with(_repeat_kw)),
    OpSpec("repeat", lambda x, reps: x.repeat(*reps), np.tile,
           _unary_with(lambda s: st.lists(st.integers(0, 2), min_size=len(s),
                                          max_size=len(s) + 1).map(lambda r: {"reps": r}))),
    OpSpec("moveaxis", mt.moveaxis, np.moveaxis, _unary_with(_moveaxis_kw)),
    OpSpec("split", lambda x, **kw: _flat(mt.split(x, **kw), mt.concatenate),
           lambda x, **kw: _flat(np.split(x, **kw), np.concatenate),
           _unary_with(_split_kw, min_dims=1)),
    OpSpec("chunk", lambda x, **kw: _flat(mt.chunk(x, **kw), mt.concatenate),
           lambda x, **kw: _flat(_np_chunk(x, **kw), np.concatenate),
           _unary_with(_chunk_kw, min_dims=1)),
    OpSpec("diagonal", mt.diagonal, np.diagonal, _unary_with(_diagonal_kw, min_dims=2)),
    OpSpec("take_along_axis", mt.take_along_axis, np.take_along_axis,
           _gather_cases("take_along_axis")),
    OpSpec("gather", mt.gather, _np_gather, _gather_cases("gather")),
    OpSpec("index_select", mt.index_select,
           lambda x, dim, index: np.take(x, index, axis=dim), _gather_cases("index_select")),
    OpSpec("scatter", lambda x, src, dim, index: mt.scatter(x, dim, index, src),
           _np_scatter(False), _scatter_cases),
    OpSpec("scatter_add", lambda x, src, dim, index: mt.scatter_add(x, dim, index, src),
           _np_scatter(True), _scatter_cases),
    OpSpec("masked_fill", mt.masked_fill,
           lambda x, mask, value: np.where(mask, np.asarray(value, x.dtype), x),
           _unary_with(_masked_fill_kw)),
    OpSpec("outer", mt.outer, np.outer, _outer_cases),
    OpSpec("tensordot", mt.tensordot, np.tensordot, _tensordot_cases),
    OpSpec("meshgrid", _mt_meshgrid, _np_meshgrid, _meshgrid_cases),
    OpSpec("unfold", mt.unfold, _np_unfold, _unary_with(_unfold_kw, min_dims=1)),
    OpSpec("einsum", _mt_einsum, _np_einsum, _einsum_cases),
]


# ---------------------------------------------------------------- rows of tests/test_fuzz.py
def _ints_only(value: Any) -> Any:
    """NumPy takes a float count, shift or diagonal (np.roll(x, 1.5), np.tril(x, 1.5),
    np.repeat(x, 1.5)) and truncates it; microtensor refuses one, as PyTorch does (a decision:
    the reference refuses it too)."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if isinstance(item, (tuple, list)):
            _ints_only(item)
        elif item is not None and not isinstance(item, (int, np.integer)):
            raise TypeError(f"not an int: {item!r}")
    return value


def _np_roll_checked(a: Any, k: Any) -> Any:
    if k[0] is None:  # np.roll(x, None, ()) passes: no shift is a mistake to microtensor
        raise TypeError("no shift")
    return np.roll(a, *_ints_only(k))


def _np_repeat_checked(a: Any, k: Any) -> Any:
    if k[1] is not None and np.ndim(a) == 0:  # NumPy's legacy axis=0 of a 0-d array
        raise ValueError("axis out of bounds")
    return np.repeat(a, *_ints_only(k))


def _np_repeat_sizes(a: Any, sizes: Any) -> Any:
    """PyTorch's Tensor.repeat rule (a size per axis at least) on np.tile."""
    if len(_ints_only(sizes)) < np.ndim(a):
        raise ValueError("too few sizes")
    return _np_tile_checked(a, sizes)


def _np_tile_checked(a: Any, reps: Any) -> Any:
    """np.tile, refusing a negative count (NumPy returns an empty array for an empty input
    instead of refusing)."""
    counts = _ints_only(reps)
    if any(r < 0 for r in (counts if isinstance(counts, (tuple, list)) else (counts,))):
        raise ValueError("negative reps")
    return np.tile(a, reps)


def _nonnegative(axes: Any) -> Any:
    if isinstance(axes, int) and axes < 0:  # NumPy reads tensordot(a, b, -1) as axes=0
        raise ValueError("negative axes")
    return axes


def _np_split_checked(a: Any, ios: Any, axis: Any) -> Any:
    _ints_only((ios, axis))
    if np.ndim(a) == 0:
        raise ValueError("0-d")
    if isinstance(ios, int) and (ios <= 0 or np.shape(a)[axis] % ios):
        raise ValueError("unequal division")
    return np.split(a, ios, axis)


def _np_chunk_checked(a: Any, chunks: Any, axis: Any) -> Any:
    _ints_only((chunks, axis))
    if chunks <= 0 or np.ndim(a) == 0:
        raise ValueError("chunks")
    a = np.asarray(a)
    np.moveaxis(a, axis, 0)  # the axis check
    return [a] if a.shape[axis] == 0 else _np_chunk(a, chunks, axis)


def _np_take_checked(a: Any, idx: Any, axis: Any) -> Any:
    _ints_only(axis)
    if np.ndim(a) == 0:
        raise ValueError("0-d")
    return np.take_along_axis(np.asarray(a), idx, axis)


def _np_gather_checked(a: Any, dim: Any, idx: Any) -> Any:
    _ints_only(dim)
    a = np.asarray(a)
    if idx.dtype.kind not in "iu":
        raise TypeError("indices")
    d = np.moveaxis(np.empty(a.shape), dim, 0).ndim and dim % a.ndim
    n = a.shape[d]
    if idx.ndim != a.ndim or any(i > s for j, (i, s) in enumerate(zip(idx.shape, a.shape))
                                 if j != d):
        raise ValueError("index shape")
    if idx.size and not (-n <= idx.min() and idx.max() < n):
        raise IndexError("out of range")
    return _np_gather(a, d, idx)


def _np_index_select_checked(a: Any, dim: Any, idx: Any) -> Any:
    _ints_only(dim)
    if np.ndim(a) == 0:
        raise ValueError("0-d")
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise TypeError("index")
    return np.take(a, idx, axis=dim)


def _np_scatter_checked(a: Any, dim: Any, idx: Any, src: Any, add: bool) -> Any:
    a = np.asarray(a)
    gathered = _np_gather_checked(a, dim, idx)  # the same checks as gather
    d = dim % a.ndim
    if isinstance(src, float):
        src = np.full(idx.shape, src, dtype=a.dtype)
    if src.ndim != idx.ndim or any(s < i for s, i in zip(src.shape, idx.shape)):
        raise ValueError("src shape")
    del gathered
    return _np_scatter(add)(a, src, d, idx)


def _np_masked_fill_checked(a: Any, mask: np.ndarray, value: Any) -> Any:
    a = np.asarray(a)
    if mask.dtype != np.bool_ or np.broadcast_shapes(mask.shape, a.shape) != a.shape:
        raise ValueError("mask")
    return np.where(mask, np.asarray(value).astype(a.dtype) if a.dtype.kind == "f"
                    else value, a)


def _np_unfold_checked(a: Any, dim: Any, size: Any, step: Any) -> Any:
    _ints_only((dim, size, step))
    a = np.asarray(a)
    if a.ndim == 0 or step <= 0 or size < 0 or size > a.shape[dim]:
        raise ValueError("windows")
    return _np_unfold(a, dim, size, step)


def _not_finite(a: Any, b: Any, _: Any) -> np.ndarray:
    """Compare nothing when an operand holds nan or inf: NumPy's BLAS products skip a zero
    factor (np.dot(-0.0, nan) is 0), so the position of nan in a sum of products depends on
    the summation route, which microtensor need not copy."""
    finite = all(np.isfinite(np.asarray(x, dtype=np.float64)).all() for x in (a, b)
                 if np.asarray(x).dtype.kind in "biuf")
    return np.array(not finite)


def _or(extra: Any, default: Any) -> Any:
    """The drawn extra argument, or (None: test_fuzz's exhaustive bad-input test, which passes
    no extra argument) a valid one."""
    return default if extra is None else extra


def _py(a: Any) -> Any:
    """A Python number as microtensor takes it in a tensor argument: a float64 array (a Python
    bool too, where NumPy would keep bool); anything else as it is."""
    return np.asarray(a, dtype=np.float64) if isinstance(a, (bool, int, float)) else a


def fuzz_rows(op: Any) -> list[Any]:
    """tests/test_fuzz.py's rows (`op` is its `Op` tuple): hostile operands and arguments,
    NumPy's own function as the reference (NumPy refusing means microtensor must refuse)."""
    axis = st.sampled_from([None, 0, 1, -1, 2, 5, (0, 1), (1, 0), (0, 0), (), 1.5, "0", [0]])
    shift = st.sampled_from([0, 1, -2, 7, (1, 2), 1.5, "1", None])
    k = st.sampled_from([0, 1, -1, 3, 1.5, "0"])
    widths = st.sampled_from([0, 1, (1, 2), ((0, 1), (2, 0)), -1, 1.5, "x",
                              ((1, 1), (1, 1), (1, 1))])
    modes = st.sampled_from(["constant", "reflect", "edge", "wrap", "symmetric", "bogus"])
    reps = st.sampled_from([0, 1, 2, [1, 2], -1, 1.5, "2"])
    one = st.sampled_from([0, 1, -1, 2, 5, 1.5, "0"])
    sections = st.sampled_from([1, 2, 3, [1], [0, 2], [-1], [], 0, 1.5, "x"])
    indices = st.sampled_from([np.array([0]), np.array([[0, 1]]), np.array([[-1]]),
                               np.array([5]), np.array([0.5]), np.array([], dtype=np.intp),
                               np.zeros((1, 1, 1), dtype=np.intp)])
    srcs = st.sampled_from([1.0, np.zeros((1, 1)), np.ones((2, 3))])
    masks = st.sampled_from([np.array(True), np.array([True, False]), np.array([[False]]),
                             np.array([1, 0])])
    return [
        op("flip", 1, axis, mt.flip, np.flip),
        op("roll", 1, st.tuples(shift, axis), lambda a, k: mt.roll(a, *_or(k, (1, None))),
           lambda a, k: _np_roll_checked(a, _or(k, (1, None)))),
        op("tril", 1, k, lambda a, k: mt.tril(a, _or(k, 0)),
           lambda a, k: np.tril(a, _ints_only(_or(k, 0)))),
        op("triu", 1, k, lambda a, k: mt.triu(a, _or(k, 0)),
           lambda a, k: np.triu(a, _ints_only(_or(k, 0)))),
        op("pad", 1, st.tuples(widths, modes), lambda a, k: mt.pad(a, *_or(k, (1, "edge"))),
           lambda a, k: np.pad(a, _ints_only(_or(k, (1,))[0]), _or(k, (1, "edge"))[1])),
        op("tile", 1, st.sampled_from([0, 1, 2, (2, 1), (1, 2, 2), (), -1, 1.5, "2"]),
           lambda a, k: mt.tile(a, _or(k, 2)), lambda a, k: _np_tile_checked(a, _or(k, 2))),
        op("repeat_interleave", 1, st.tuples(reps, axis),
           lambda a, k: mt.repeat_interleave(a, *_or(k, (2, None))),
           lambda a, k: _np_repeat_checked(a, _or(k, (2, None)))),
        op("repeat", 1, st.sampled_from([(1,), (2, 1), (1, 2, 2), (), (-1,), (1.5,), ("2",)]),
           lambda a, k: mt.ops.repeat(a, *_or(k, (2,))),
           lambda a, k: _np_repeat_sizes(a, _or(k, (2,)))),
        op("moveaxis", 1, st.tuples(one, one), lambda a, k: mt.moveaxis(a, *_or(k, (0, -1))),
           lambda a, k: np.moveaxis(a, *_ints_only(_or(k, (0, -1))))),
        op("split", 1, st.tuples(sections, one),
           lambda a, k: _flat(mt.split(a, *_or(k, (1, 0))), mt.concatenate),
           lambda a, k: _flat(_np_split_checked(a, *_or(k, (1, 0))), np.concatenate)),
        op("chunk", 1, st.tuples(st.sampled_from([1, 2, 3, 0, -1, 1.5]), one),
           lambda a, k: _flat(mt.chunk(a, *_or(k, (2, 0))), mt.concatenate),
           lambda a, k: _flat(_np_chunk_checked(a, *_or(k, (2, 0))), np.concatenate)),
        op("diagonal", 1, st.tuples(st.sampled_from([0, 1, -1, 5]), one, one),
           lambda a, k: mt.diagonal(a, *_or(k, (0, 0, 1))),
           lambda a, k: np.diagonal(a, *_ints_only(_or(k, (0, 0, 1))))),
        op("take_along_axis", 1, st.tuples(indices, one),
           lambda a, k: mt.take_along_axis(a, *_or(k, (np.array([0]), -1))),
           lambda a, k: _np_take_checked(a, *_or(k, (np.array([0]), -1)))),
        op("gather", 1, st.tuples(one, indices),
           lambda a, k: mt.gather(a, *_or(k, (0, np.array([0])))),
           lambda a, k: _np_gather_checked(a, *_or(k, (0, np.array([0]))))),
        op("index_select", 1, st.tuples(one, indices),
           lambda a, k: mt.index_select(a, *_or(k, (0, np.array([0])))),
           lambda a, k: _np_index_select_checked(a, *_or(k, (0, np.array([0]))))),
        op("scatter", 1, st.tuples(one, indices, srcs),
           lambda a, k: mt.scatter(a, *_or(k, (0, np.array([0]), 1.0))),
           lambda a, k: _np_scatter_checked(a, *_or(k, (0, np.array([0]), 1.0)), add=False)),
        op("scatter_add", 1, st.tuples(one, indices, srcs),
           lambda a, k: mt.scatter_add(a, *_or(k, (0, np.array([0]), 1.0))),
           lambda a, k: _np_scatter_checked(a, *_or(k, (0, np.array([0]), 1.0)), add=True)),
        op("masked_fill", 1, st.tuples(masks, st.sampled_from([0.0, -1.5, np.inf, 2])),
           lambda a, k: mt.masked_fill(a, *_or(k, (np.array(True), 0.0))),
           lambda a, k: _np_masked_fill_checked(a, *_or(k, (np.array(True), 0.0)))),
        op("outer", 2, st.just(None), lambda a, b, _: mt.outer(a, b),
           lambda a, b, _: np.outer(a, b)),
        op("tensordot", 2, st.sampled_from([0, 1, 2, ((0,), (0,)), ((1, 0), (0, 1)), -1, 1.5,
                                            "x"]),
           lambda a, b, k: mt.tensordot(a, b, _or(k, 0)),
           lambda a, b, k: np.tensordot(_py(a), _py(b), _nonnegative(_ints_only(_or(k, 0)))),
           _not_finite),
        op("meshgrid", 2, st.sampled_from(["xy", "ij", "bogus", None]),
           lambda a, b, k: _flat(mt.meshgrid(a, b, indexing=_or(k, "xy")), mt.concatenate),
           lambda a, b, k: _flat(np.meshgrid(_py(a), _py(b), indexing=_or(k, "xy")),
                                 np.concatenate)),
        op("unfold", 1, st.tuples(one, st.sampled_from([0, 1, 2, 5, -1]),
                                  st.sampled_from([1, 2, 0])),
           lambda a, k: mt.unfold(a, *_or(k, (0, 1, 1))),
           lambda a, k: _np_unfold_checked(a, *_or(k, (0, 1, 1)))),
        op("einsum", 2, st.sampled_from(["ij,jk->ik", "i,i->", "i,j", "...,...", "ii,j",
                                         "ij,ij->", "i,i->i", "bad!", "i,i->j", 3]),
           lambda a, b, k: mt.einsum(_or(k, "...,..."), a, b),
           lambda a, b, k: np.einsum(_or(k, "...,..."), _py(a), _py(b)), _not_finite),
    ]


# ---------------------------------------------------------- rows of tests/test_torch_fuzz.py
def torch_fuzz_rows(fuzz_op: Any, require: Any, promote: Any) -> dict[str, Any]:
    """tests/test_torch_fuzz.py's rows (`fuzz_op` is its `FuzzOp`, `require` skips a step,
    `promote` casts PyTorch operands to NumPy's result type): each op with drawn
    arguments against its PyTorch spelling (torch.flip(x, dims), torch.roll(x, shifts,
    dims), F.pad's reversed (last axis first) pairs, Tensor.repeat, ...)."""
    import torch
    import torch.nn.functional as torch_f

    def _flip(p: Any, x: Any) -> Any:
        axis = p.draw(S.axes(x.ndim))
        dims = tuple(range(x.ndim)) if axis is None else (
            (axis,) if isinstance(axis, int) else axis)
        return p.apply(f"mt.flip({{}}, {axis!r})", lambda a: mt.flip(a, axis),
                       lambda a: torch.flip(a, dims) if dims else a * 1, x)

    def _roll(p: Any, x: Any) -> Any:
        kw = p.draw(_roll_kw(x.shape))
        shift, axis = kw["shift"], kw["axis"]

        def th(a: Any) -> Any:
            return torch.roll(a, shift, axis) if axis is not None else torch.roll(a, shift)

        return p.apply(f"{{}}.roll({shift!r}, {axis!r})", lambda a: a.roll(shift, axis), th, x)

    def _triangle(name: str) -> Any:
        def make(p: Any, x: Any) -> Any:
            k = p.draw(st.integers(-3, 3))
            th = getattr(torch, name)
            return p.apply(f"mt.{name}({{}}, {k})", lambda a: getattr(mt, name)(a, k),
                           lambda a: th(a, diagonal=k), x)

        return fuzz_op(name, make, min_dims=2)

    def _pad(p: Any, x: Any) -> Any:
        mode = p.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
        # PyTorch pads the last 1 to 3 axes of a 2-D to 5-D input in the non-constant modes
        # (a 1-D one gets a leading axis here), with reflect widths below the axis length
        # and circular ones at most it
        if mode == "constant":
            last = x.ndim
        else:
            last = 1 if x.ndim == 1 else min(3, x.ndim - 1)
        pairs = []
        for n in x.shape[x.ndim - last:]:
            top = min(2, {"reflect": n - 1, "circular": n}.get(mode, 2))
            pairs.append((p.draw(st.integers(0, top)), p.draw(st.integers(0, top))))
        pw = [(0, 0)] * (x.ndim - last) + pairs
        out = int(np.prod([n + b + a for n, (b, a) in zip(x.shape, pw)]))
        if out > 64:
            pw, pairs = [(0, 0)] * x.ndim, [(0, 0)] * last
        value = 0.5 if mode == "constant" else None
        flat = [w for pair in reversed(pairs) for w in pair]

        def th(a: Any) -> Any:
            if mode == "constant":
                return torch_f.pad(a, flat, mode=mode, value=value)
            if a.ndim == 1:
                return torch_f.pad(a[None], flat, mode=mode)[0]
            return torch_f.pad(a, flat, mode=mode)

        return p.apply(f"mt.pad({{}}, {pw}, {mode!r}, {value!r})",
                       lambda a: mt.pad(a, pw, mode, value), th, x)

    def _tile(p: Any, x: Any) -> Any:
        reps = tuple(p.draw(st.lists(st.integers(1, 2), max_size=x.ndim + 1)))
        out = int(np.prod(reps)) * max(x.mt.size, 1)
        if out > 64:
            reps = ()
        if p.draw(st.booleans()) and len(reps) >= x.ndim:
            return p.apply(f"{{}}.tile({reps})", lambda a: a.tile(reps),
                           lambda a: a.repeat(*reps) if reps else a * 1, x)
        return p.apply(f"mt.tile({{}}, {reps})", lambda a: mt.tile(a, reps),
                       lambda a: torch.tile(a, reps), x)

    def _repeat(p: Any, x: Any) -> Any:
        sizes = tuple(p.draw(st.lists(st.integers(1, 2), min_size=x.ndim,
                                      max_size=x.ndim + 1)))
        require(int(np.prod(sizes)) * max(x.mt.size, 1) <= 64)
        return p.apply(f"{{}}.repeat{sizes}", lambda a: a.repeat(*sizes),
                       lambda a: a.repeat(*sizes) if sizes else a * 1, x)

    def _repeat_interleave(p: Any, x: Any) -> Any:
        axis = p.draw(st.one_of(st.none(), S.one_axis(x.ndim))) if x.ndim else None
        n = x.mt.size if axis is None else x.shape[axis]
        if p.draw(st.booleans()):
            reps: Any = p.draw(st.integers(0, 2))
            th_reps: Any = reps
        else:
            reps = p.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
            th_reps = torch.tensor(reps, dtype=torch.int64)
        return p.apply(f"mt.repeat_interleave({{}}, {reps!r}, {axis!r})",
                       lambda a: mt.repeat_interleave(a, reps, axis),
                       lambda a: torch.repeat_interleave(a, th_reps, dim=axis), x)

    def _moveaxis(p: Any, x: Any) -> Any:
        kw = p.draw(_moveaxis_kw(x.shape))
        src, dst = kw["source"], kw["destination"]
        return p.apply(f"mt.moveaxis({{}}, {src!r}, {dst!r})",
                       lambda a: mt.moveaxis(a, src, dst), lambda a: torch.movedim(a, src, dst),
                       x)

    def _pieces(p: Any, x: Any) -> Any:
        """split or chunk; the pieces are then joined flat (one value for the program)."""
        axis = p.draw(S.one_axis(x.ndim))
        n = x.shape[axis]
        if p.draw(st.booleans()):
            k = p.draw(st.integers(1, 4))
            return p.apply(f"mt.chunk({{}}, {k}, {axis})",
                           lambda a: _flat(mt.chunk(a, k, axis), mt.concatenate),
                           lambda a: torch.cat([c.reshape(-1) for c in torch.chunk(a, k, axis)]),
                           x)
        cuts = sorted(p.draw(st.lists(st.integers(0, n), max_size=3)))
        sizes = [e - b for b, e in zip([0, *cuts], [*cuts, n])]
        return p.apply(f"mt.split({{}}, {cuts}, {axis})",
                       lambda a: _flat(mt.split(a, cuts, axis), mt.concatenate),
                       lambda a: torch.cat([c.reshape(-1) for c in torch.split(a, sizes, axis)]),
                       x)

    def _diagonal(p: Any, x: Any) -> Any:
        kw = p.draw(_diagonal_kw(x.shape))
        off, a1, a2 = kw["offset"], kw["axis1"], kw["axis2"]
        return p.apply(f"{{}}.diagonal({off}, {a1}, {a2})", lambda a: a.diagonal(off, a1, a2),
                       lambda a: torch.diagonal(a, off, a1, a2), x)

    def _gathers(kind: str) -> Any:
        def make(p: Any, x: Any) -> Any:
            axis = p.draw(S.one_axis(x.ndim))
            n = x.shape[axis]
            if kind == "index_select":
                idx = np.array(p.draw(st.lists(st.integers(0, n - 1), max_size=4)), np.int64)
                ti = torch.from_numpy(idx)
                return p.apply(f"{{}}.index_select({axis}, {idx.tolist()})",
                               lambda a: a.index_select(axis, idx),
                               lambda a: torch.index_select(a, axis, ti), x)
            ishape = [p.draw(st.integers(1, s)) for s in x.shape]
            ishape[axis] = p.draw(st.integers(0, 4))
            idx = p.rng.integers(0, n, size=ishape)
            ti = torch.from_numpy(idx)
            if kind == "take_along_axis":
                full = [s if d != axis % x.ndim else i
                        for d, (s, i) in enumerate(zip(x.shape, ishape))]
                idx = p.rng.integers(0, n, size=full)
                ti = torch.from_numpy(idx)
                return p.apply(f"mt.take_along_axis({{}}, idx{idx.shape}, {axis})",
                               lambda a: mt.take_along_axis(a, idx, axis),
                               lambda a: torch.take_along_dim(a, ti, axis), x)
            return p.apply(f"{{}}.gather({axis}, idx{idx.shape})",
                           lambda a: a.gather(axis, idx), lambda a: torch.gather(a, axis, ti), x)

        return make

    def _scatters(add: bool) -> Any:
        name = "scatter_add" if add else "scatter"

        def make(p: Any, x: Any) -> Any:
            axis = p.draw(S.one_axis(x.ndim))
            ishape = [p.draw(st.integers(1, s)) for s in x.shape]
            ishape[axis] = p.draw(st.integers(0, 3))
            if add:
                idx = p.rng.integers(0, x.shape[axis], size=ishape)
            else:  # distinct targets: PyTorch leaves repeated ones unspecified
                idx = np.argsort(p.rng.random([x.shape[axis] if d == axis % x.ndim else n
                                               for d, n in enumerate(ishape)]), axis=axis)
                idx = np.take(idx, np.arange(min(ishape[axis], x.shape[axis])), axis=axis)
            src = p.operand(idx.shape)
            ti = torch.from_numpy(idx)
            th = torch.scatter_add if add else torch.scatter
            return p.apply(f"mt.{name}({{}}, {axis}, idx{idx.shape}, {{}})",
                           lambda a, b: getattr(mt, name)(a, axis, idx, b),
                           lambda a, b: th(promote(a, b)[0], axis, ti, promote(a, b)[1]),
                           x, src)

        return make

    def _masked_fill(p: Any, x: Any) -> Any:
        mask = np.asarray(p.rng.random(x.shape) < 0.5)
        tm = torch.from_numpy(mask)
        v = p.draw(st.sampled_from([0.0, -1.5, 2.0]))
        return p.apply(f"{{}}.masked_fill(mask, {v})", lambda a: a.masked_fill(mask, v),
                       lambda a: a.masked_fill(tm, v), x)

    def _outer(p: Any, x: Any) -> Any:
        require(x.ndim == 1)
        y = p.operand((p.draw(st.integers(1, 4)),))
        return p.apply("mt.outer({}, {})", mt.outer,
                       lambda a, b: torch.outer(*promote(a, b)), x, y)

    def _tensordot(p: Any, x: Any) -> Any:
        k = p.draw(st.integers(0, x.ndim))
        summed = list(p.draw(st.permutations(range(x.ndim)))[:k])
        extra = [p.draw(st.integers(1, 3)) for _ in range(p.draw(st.integers(0, 1)))]
        shape = tuple(x.shape[i] for i in summed) + tuple(extra)
        require(int(np.prod(shape)) <= 64)
        y = p.operand(shape)
        dims = (tuple(summed), tuple(range(k)))
        return p.apply(f"mt.tensordot({{}}, {{}}, {dims})",
                       lambda a, b: mt.tensordot(a, b, dims),
                       lambda a, b: torch.tensordot(*promote(a, b), dims=dims), x, y)

    def _meshgrid(p: Any, x: Any) -> Any:
        require(x.ndim == 1)
        y = p.operand((p.draw(st.integers(1, 3)),))
        ind = p.draw(st.sampled_from(["xy", "ij"]))
        return p.apply(f"mt.meshgrid({{}}, {{}}, indexing={ind!r})",
                       lambda a, b: _flat(mt.meshgrid(a, b, indexing=ind), mt.concatenate),
                       lambda a, b: torch.cat([g.reshape(-1) for g in torch.meshgrid(
                           *promote(a, b), indexing=ind)]), x, y)

    def _unfold(p: Any, x: Any) -> Any:
        axis = p.draw(S.one_axis(x.ndim))
        size = p.draw(st.integers(0, x.shape[axis]))
        step = p.draw(st.integers(1, 3))
        return p.apply(f"{{}}.unfold({axis}, {size}, {step})",
                       lambda a: a.unfold(axis, size, step),
                       lambda a: a.unfold(axis, size, step), x)

    def _einsum(p: Any, x: Any) -> Any:
        letters = "abcd"[:x.ndim]
        if x.ndim >= 2 and x.shape[0] == x.shape[1] and p.draw(st.booleans()):
            term = "a" + "a" + letters[2:]  # a diagonal
        else:
            term = letters
        kind = p.draw(st.sampled_from(["one", "two", "ellipsis"]))
        if kind == "ellipsis":
            out = "..." + p.draw(st.sampled_from(["", "z"]))
            spec = f"...{'z' if x.ndim else ''}->{out if x.ndim else '...'}"
            return p.apply(f"mt.einsum({spec!r}, {{}})", lambda a: mt.einsum(spec, a),
                           lambda a: torch.einsum(spec, a), x)
        keep = "".join(c for c in dict.fromkeys(term) if p.draw(st.booleans()))
        if kind == "one":
            spec = f"{term}->{keep}"
            return p.apply(f"mt.einsum({spec!r}, {{}})", lambda a: mt.einsum(spec, a),
                           lambda a: torch.einsum(spec, a), x)
        other_letters = [c for c in dict.fromkeys(term) if p.draw(st.booleans())] + ["e"]
        sizes = {c: x.shape[term.index(c)] for c in dict.fromkeys(term)}
        sizes["e"] = p.draw(st.integers(1, 3))
        y = p.operand(tuple(sizes[c] for c in other_letters))
        out = keep + ("e" if p.draw(st.booleans()) else "")
        spec = f"{term},{''.join(other_letters)}->{out}"
        return p.apply(f"mt.einsum({spec!r}, {{}}, {{}})",
                       lambda a, b: mt.einsum(spec, a, b),
                       lambda a, b: torch.einsum(spec, *promote(a, b)), x, y)

    return {
        "moveaxis": fuzz_op("moveaxis", _moveaxis),
        "split": fuzz_op("split", _pieces, min_dims=1),
        "chunk": fuzz_op("chunk", _pieces, min_dims=1),
        "diagonal": fuzz_op("diagonal", _diagonal, min_dims=2),
        "take_along_axis": fuzz_op("take_along_axis", _gathers("take_along_axis"), min_dims=1),
        "gather": fuzz_op("gather", _gathers("gather"), min_dims=1),
        "index_select": fuzz_op("index_select", _gathers("index_select"), min_dims=1),
        "scatter": fuzz_op("scatter", _scatters(False), min_dims=1),
        "scatter_add": fuzz_op("scatter_add", _scatters(True), min_dims=1),
        "masked_fill": fuzz_op("masked_fill", _masked_fill),
        "outer": fuzz_op("outer", _outer, min_dims=1),
        "tensordot": fuzz_op("tensordot", _tensordot),
        "meshgrid": fuzz_op("meshgrid", _meshgrid, min_dims=1),
        "unfold": fuzz_op("unfold", _unfold, min_dims=1),
        "einsum": fuzz_op("einsum", _einsum),
        "flip": fuzz_op("flip", _flip),
        "roll": fuzz_op("roll", _roll),
        "tril": _triangle("tril"),
        "triu": _triangle("triu"),
        "pad": fuzz_op("pad", _pad, min_dims=1),
        "tile": fuzz_op("tile", _tile),
        "repeat": fuzz_op("repeat", _repeat),
        "repeat_interleave": fuzz_op("repeat_interleave", _repeat_interleave),
    }
