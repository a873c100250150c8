"""Differential fuzzer against PyTorch: random programs of 3-12 ops run in microtensor and in
PyTorch (CPU) on the same data.

Each example builds a program step by step. A step picks an op from `FUZZ_OPS` (every public op
of microtensor: operators, reflected forms, Tensor methods, `mt.*` functions, shape ops and
indexing; and nn.functional's activations, `linear` and every loss), picks its tensor operands
among the values computed so far or makes fresh leaves (0-d, size-1 axes, broadcasting shapes
up to 4-D; float32 or float64; C-ordered, Fortran-ordered, strided `a[::2]` / `a[::-1]` or
transposed views), and runs it in both frameworks. After every step the two values must agree
(shape, dtype, values within a per-dtype tolerance). The program's output is a weighted sum of
every value nothing consumed; then, against PyTorch:

- first-order gradients of every leaf from `backward()` (microtensor's array path), with each
  `.grad` an ndarray-backed Tensor of its leaf's shape and dtype;
- the same gradients from `mt.grad(..., create_graph=True)` (the Tensor path);
- a Hessian-vector product: the gradient of sum(grad * v) with respect to every leaf.

Domains: an operand that is outside its op's domain (log and sqrt of positives, a divisor away
from 0, pow with a positive base, probabilities for BCE, bounded arguments of exp) is first
mapped into it by recorded ops (`tanh(x) * 3`, `sigmoid(x) * 2 + 0.25`, ...), so values stay
finite. Data come from a drawn seed (continuous values: no accidental ties); a step whose
operands sit within a small margin of a kink or a tie is not taken, because microtensor's kink
conventions differ from PyTorch's on purpose (relu'(0) = 0.5, abs'(0) = 0, ties of max/min
share the gradient 1/k; see README). `nn.functional.linear` takes microtensor's (in, out)
weight; PyTorch is given its transpose.

dtypes follow NumPy's promotion (microtensor's rule): PyTorch's operands are cast to NumPy's
result type first (PyTorch would keep float32 for a 0-d float64 partner); a loss target is cast
to the input's dtype, as nn.functional documents.

Size: each profile's `max_examples` (tests/conftest.py) times PROGRAMS_PER_EXAMPLE programs:
the `ci` profile runs 900 programs (~1 minute); `HYPOTHESIS_PROFILE=thorough` runs 15,000
(`explore`: the same number, freshly random on each run).
A failure prints the whole program (`note` lines) with its leaves' values.

The op list, FUZZ_OPS, of `FuzzOp(name, make)` (`make(program, x)` applies the op to operand
`x` through `program.apply(...)`), holds every op of microtensor's registry (its own row, or one
made from its op-table row) and the operator variants and nn.functional ops after them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from op_table import BY_NAME

import microtensor as mt
import nn.functional as F
from microtensor.ops.registry import REGISTRY

torch = pytest.importorskip("torch")
TF = torch.nn.functional

PROGRAMS_PER_EXAMPLE = 15  # the fuzzer runs max_examples * this many programs per profile
MAX_SIZE = 64  # elements of any value: programs stay cheap
MARGIN = 1e-3  # relative distance kept from a kink or a tie
TOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 2e-3}  # rtol; atol = rtol * scale

BOUNDS = {"real": (-2.0, 2.0), "bounded": (-2.0, 2.0), "positive": (0.3, 3.0),
          "nonzero": (0.4, 2.0), "prob": (0.05, 0.95)}  # fresh data (|x| for "nonzero")
_TORCH_DTYPE = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


class SkipStepError(Exception):
    """The drawn step is not applicable to these operands (a kink, a tie, an empty result)."""


@dataclass
class Val:
    """One value of the program in both frameworks."""

    name: str
    mt: mt.Tensor
    th: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return self.mt.shape

    @property
    def ndim(self) -> int:
        return self.mt.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.mt.dtype

    @property
    def data(self) -> np.ndarray:
        return self.mt.data


@dataclass(frozen=True)
class FuzzOp:
    """One op: `make(program, x)` applies it to `x` (drawing its other arguments through the
    program) and returns the result, or raises SkipStepError."""

    name: str
    make: Callable[[Program, Val], Val]
    min_dims: int = 0
    domain: str = "real"


def th_dtype(dtype: Any) -> Any:
    return _TORCH_DTYPE[np.dtype(dtype)]


def promote(*ths: Any) -> list[Any]:
    """PyTorch tensors cast to NumPy's result type (NumPy 2 treats a 0-d array like any array,
    PyTorch like a weak scalar)."""
    dts = [t.dtype for t in ths if isinstance(t, torch.Tensor)]
    np_dts = [np.float64 if d == torch.float64 else np.float32 for d in dts]
    target = th_dtype(np.result_type(*np_dts))
    return [t.to(target) if isinstance(t, torch.Tensor) else t for t in ths]


def assert_close(got: np.ndarray, want: Any, what: str, dtype: Any = None) -> None:
    """microtensor's array against PyTorch's tensor: the same shape and dtype, values within a
    tolerance for `dtype` (default: the compared dtype) relative to the larger of 1 and the
    largest magnitude."""
    # added to real zeros: PyTorch may return a second-order gradient as a lazy ZeroTensor,
    # whose numpy(force=True) can crash the interpreter
    want_np = (torch.zeros(want.shape, dtype=want.dtype) + want.detach()).numpy()
    assert isinstance(got, np.ndarray), f"{what}: {type(got).__name__}, not an ndarray"
    assert got.shape == want_np.shape, f"{what}: shape {got.shape} != torch {want_np.shape}"
    assert got.dtype == want_np.dtype, f"{what}: dtype {got.dtype} != torch {want_np.dtype}"
    rtol = TOL[np.dtype(dtype or got.dtype)]
    finite = want_np[np.isfinite(want_np)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want_np, rtol=rtol, atol=rtol * scale, err_msg=what)


class Program:
    """A program being drawn: values in both frameworks, their leaves, and its text."""

    def __init__(self, draw: st.DrawFn, seed: int) -> None:
        self.draw = draw
        self.rng = np.random.default_rng(seed)
        self.values: list[Val] = []
        self.leaves: list[Val] = []
        self.consumed: set[int] = set()
        self.lines: list[str] = []
        self.low_dtype = False  # a float32 value took part: tolerances of float32

    # ------------------------------------------------------------------ values
    def _add(self, m: mt.Tensor, t: Any) -> Val:
        v = Val(f"v{len(self.values)}", m, t)
        self.values.append(v)
        if v.dtype == np.float32:
            self.low_dtype = True
        return v

    def leaf(self, shape: tuple[int, ...], dtype: Any = None, domain: str = "real") -> Val:
        """A fresh leaf of `shape` with values in `domain`, float32 or float64, in a drawn
        memory layout (C, Fortran, strided, reversed or a transposed view)."""
        if dtype is None:
            dtype = self.draw(st.sampled_from([np.float64, np.float32]))
        layouts = ["C", "F", "strided", "reversed", "transposed"] if shape else ["C"]
        layout = self.draw(st.sampled_from(layouts))
        lo, hi = BOUNDS[domain]
        n = len(shape)

        def values(size: tuple[int, ...]) -> np.ndarray:
            v = self.rng.uniform(lo, hi, size)
            if domain == "nonzero":
                v *= self.rng.choice([-1.0, 1.0], size)
            return v.astype(dtype)

        if layout == "strided":  # every other element along one axis
            axis = int(self.rng.integers(n))
            big = list(shape)
            big[axis] *= 2
            a = values(tuple(big))[(slice(None),) * axis + (slice(None, None, 2),)]
        elif layout == "transposed":  # a permuted view of a C-ordered array
            perm = self.rng.permutation(n)
            a = values(tuple(shape[i] for i in perm)).transpose(np.argsort(perm))
        elif layout == "reversed":  # a negative stride
            a = values(shape)[::-1]
        elif layout == "F":
            a = np.asfortranarray(values(shape))
        else:
            a = values(shape)
        assert a.shape == tuple(shape)
        m = mt.Tensor(a, requires_grad=True)
        t = torch.tensor(a.copy(order="C"), requires_grad=True)  # ascontiguousarray makes 0-d 1-d
        v = self._add(m, t)
        self.leaves.append(v)
        line = f"{v.name} = leaf({shape}, {np.dtype(dtype).name}, {layout})"
        self.lines.append(line)
        note(line)
        return v

    def const(self, shape: tuple[int, ...], dtype: Any, lo: float = -2.0,
              hi: float = 2.0) -> np.ndarray:
        """A constant array (no gradient), written into the program's text."""
        return self.rng.uniform(lo, hi, shape).astype(dtype)

    def apply(self, text: str, mt_fn: Callable[..., Any], th_fn: Callable[..., Any],
              *args: Val) -> Val:
        """Run one step in both frameworks on `args`, compare the values, record the step."""
        for a in args:
            self.consumed.add(id(a))
        m = mt_fn(*(a.mt for a in args))
        t = th_fn(*(a.th for a in args))
        v = self._add(m, t)
        line = f"{v.name} = " + text.format(*(a.name for a in args))
        self.lines.append(line)
        note(line)
        assert isinstance(m, mt.Tensor), f"{line}: got {type(m).__name__}"
        assert_close(m.data, t, f"forward of {line}",
                     np.float32 if self.low_dtype else None)
        return v

    # ------------------------------------------------------------------ operands
    def pick(self, min_dims: int = 0) -> Val:
        """A value to work on: the latest one (half the time, for depth), another one, or a
        fresh leaf."""
        usable = [v for v in self.values if v.ndim >= min_dims and v.mt.size]
        choice = self.draw(st.sampled_from(["last", "any", "fresh"]))
        if usable and choice == "last":
            return usable[-1]
        if usable and choice == "any":
            return self.draw(st.sampled_from(usable))
        return self.leaf(self.draw(shapes(min_dims=min_dims)))

    def operand(self, shape: tuple[int, ...], domain: str = "real",
                dtype: Any = None) -> Val:
        """A value of exactly `shape` (an existing one or a fresh leaf), mapped into `domain`."""
        same = [v for v in self.values if v.shape == shape and (dtype is None or v.dtype == dtype)]
        if same and self.draw(st.booleans()):
            return self.condition(self.draw(st.sampled_from(same)), domain)
        return self.leaf(shape, dtype, domain)

    def condition(self, v: Val, domain: str) -> Val:
        """`v` itself if its values lie in `domain`, else `v` mapped into it by recorded ops."""
        a = v.data
        big = float(np.abs(a).max()) if a.size else 0.0
        if domain == "real" and big <= 30:
            return v
        if domain == "bounded" and big <= 3:
            return v
        if domain == "positive" and (not a.size or (a.min() >= 0.2 and big <= 30)):
            return v
        if domain == "nonzero" and (not a.size or (np.abs(a).min() >= 0.3 and big <= 30)):
            return v
        if domain == "prob" and (not a.size or (a.min() >= 0.02 and a.max() <= 0.98)):
            return v
        v = self.apply("tanh({})", lambda x: x.tanh(), torch.tanh, v)
        if domain in ("real", "bounded"):
            return self.apply("{} * 3.0", lambda x: x * 3.0, lambda x: x * 3.0, v)
        if domain == "prob":
            v = self.apply("{} * 3.0", lambda x: x * 3.0, lambda x: x * 3.0, v)
            return self.apply("sigmoid({})", lambda x: x.sigmoid(), torch.sigmoid, v)
        v = self.apply("sigmoid({})", lambda x: x.sigmoid(), torch.sigmoid, v)
        v = self.apply("{} * 2.0", lambda x: x * 2.0, lambda x: x * 2.0, v)
        return self.apply("{} + 0.3", lambda x: x + 0.3, lambda x: x + 0.3, v)

    def partner_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts with `shape` (equal, size-1 axes, fewer or more axes)."""
        kind = self.draw(st.sampled_from(["same", "ones", "fewer", "more", "scalar"]))
        if kind == "same":
            return shape
        if kind == "scalar":
            return ()
        if kind == "ones":
            return tuple(self.draw(st.sampled_from([n, 1])) for n in shape)
        if kind == "fewer":
            return shape[self.draw(st.integers(0, len(shape))):]
        extra = self.draw(st.lists(st.integers(1, 3), max_size=max(0, 4 - len(shape))))
        out = tuple(extra) + shape
        return out if int(np.prod(out)) <= MAX_SIZE else shape

    def out(self) -> tuple[mt.Tensor, Any]:
        """The program's scalar output: each unconsumed value times random weights, summed."""
        total_m, total_t = None, None
        for v in self.values:
            if id(v) in self.consumed:
                continue
            w = self.const(v.shape, v.dtype, 0.5, 1.5)
            m = (v.mt * w).sum()
            t = (v.th * torch.from_numpy(w)).sum()
            total_m = m if total_m is None else total_m + m
            total_t = t if total_t is None else torch.add(*promote(total_t, t))
        return total_m, total_t


@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 0) -> tuple[int, ...]:
    """Leaf shapes: 0-d to 4-D, sides 1-4 (size-1 axes often), at most MAX_SIZE elements."""
    return draw(S.shapes(min_dims=min_dims, max_dims=4, max_side=4).filter(
        lambda s: int(np.prod(s)) <= MAX_SIZE))


# ---------------------------------------------------------------------------- checks
def away_from(a: np.ndarray, *points: float) -> bool:
    """No element of `a` within MARGIN (relative) of any of `points` (kinks)."""
    scale = np.maximum(1.0, np.abs(a))
    return all(bool((np.abs(a - p) > MARGIN * scale).all()) for p in points)


def fits(*shapes: tuple[int, ...]) -> bool:
    """The shapes broadcast together to at most MAX_SIZE elements."""
    try:
        return int(np.prod(np.broadcast_shapes(*shapes))) <= MAX_SIZE
    except ValueError:
        return False


def require(ok: bool) -> None:
    if not ok:
        raise SkipStepError


def no_ties(a: np.ndarray, axis: Any) -> bool:
    """Every slice reduced along `axis` has a unique max and min (with a margin)."""
    if a.ndim == 0:
        return True
    axes = tuple(range(a.ndim)) if axis is None else (
        (axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(ax % a.ndim for ax in axes)
    if not axes:
        return True
    kept = [ax for ax in range(a.ndim) if ax not in axes]
    width = int(np.prod([a.shape[x] for x in axes]))
    rows = np.transpose(a, kept + list(axes)).reshape(-1, width)
    if rows.shape[1] < 2:
        return True
    s = np.sort(rows, axis=1)
    gap = MARGIN * np.maximum(1.0, np.abs(s))
    top = (s[:, -1] - s[:, -2]) > gap[:, -1]
    bottom = (s[:, 1] - s[:, 0]) > gap[:, 0]
    return bool(top.all() and bottom.all())


# ---------------------------------------------------------------------------- the ops
def _binary(name: str, mt_fn: Callable[[Any, Any], Any], th_fn: Callable[[Any, Any], Any],
            domains: tuple[str, str] = ("real", "real"),
            check: Callable[[np.ndarray, np.ndarray], bool] | None = None,
            numpy_left: bool = True) -> FuzzOp:
    """An elementwise binary op: a tensor partner of a broadcasting shape (either side), a
    constant array, or a Python float."""
    def make(p: Program, x: Val) -> Val:
        kind = p.draw(st.sampled_from(["tensor", "tensor", "array", "float"]))
        swap = p.draw(st.booleans())  # x on the right
        x = p.condition(x, domains[1] if swap else domains[0])
        dom = domains[0] if swap else domains[1]
        if kind == "float":
            lo, hi = BOUNDS[dom]
            c = round(float(p.rng.uniform(lo, hi)), 3) * (-1 if dom == "nonzero" and p.draw(
                st.booleans()) else 1)
            if check:
                require(check(np.asarray(c), x.data) if swap else check(x.data, np.asarray(c)))
            if swap:
                return p.apply(f"{c!r} {name} {{}}", lambda a: mt_fn(c, a),
                               lambda a: th_fn(c, a), x)
            return p.apply(f"{{}} {name} {c!r}", lambda a: mt_fn(a, c),
                           lambda a: th_fn(a, c), x)
        shape = p.partner_shape(x.shape)
        require(fits(shape, x.shape))
        if kind == "array":
            dtype = p.draw(st.sampled_from([x.dtype, np.float64, np.float32]))
            c = p.const(shape, dtype, *BOUNDS[dom])
            if dom == "nonzero":
                c *= p.rng.choice([-1, 1], shape).astype(dtype)
            if check:
                require(check(c, x.data) if swap else check(x.data, c))
            ct = torch.from_numpy(c)
            if swap and numpy_left:
                return p.apply(f"ndarray{shape}:{c.dtype} {name} {{}}",
                               lambda a: mt_fn(c, a), lambda a: th_fn(*promote(ct, a)), x)
            return p.apply(f"{{}} {name} ndarray{shape}:{c.dtype}",
                           lambda a: mt_fn(a, c), lambda a: th_fn(*promote(a, ct)), x)
        y = p.operand(shape, dom)
        a, b = (y, x) if swap else (x, y)
        if check:
            require(check(a.data, b.data))
        return p.apply(f"{{}} {name} {{}}", mt_fn, lambda s, t: th_fn(*promote(s, t)), a, b)

    return FuzzOp(name, make)


def _apart(a: np.ndarray, b: np.ndarray) -> bool:
    """maximum / minimum: no element pair within MARGIN of a tie."""
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return bool((np.abs(a - b) > MARGIN * scale).all())


def _function(name: str, mt_fn: Callable[[Any, Any], Any], th_fn: Callable[[Any, Any], Any],
              check: Callable[[np.ndarray, np.ndarray], bool] | None = None) -> FuzzOp:
    """mt.maximum / mt.minimum: a tensor partner of a broadcasting shape or a Python float."""
    def make(p: Program, x: Val) -> Val:
        if p.draw(st.booleans()):
            c = round(float(p.rng.uniform(-2, 2)), 3)
            require(check is None or check(x.data, np.asarray(c)))
            return p.apply(f"mt.{name}({{}}, {c!r})", lambda a: mt_fn(a, c),
                           lambda a: th_fn(a, torch.tensor(c, dtype=a.dtype)), x)
        shape = p.partner_shape(x.shape)
        require(fits(shape, x.shape))
        y = p.operand(shape)
        x = p.condition(x, "real")
        require(check is None or check(x.data, y.data))
        return p.apply(f"mt.{name}({{}}, {{}})", mt_fn, lambda s, t: th_fn(*promote(s, t)), x, y)

    return FuzzOp(name, make)


def _unary(name: str, mt_method: str, th_fn: Callable[[Any], Any], domain: str = "real",
           kinks: tuple[float, ...] = (), mt_function: Callable[[Any], Any] | None = None
           ) -> FuzzOp:
    """A unary op, called as a Tensor method or (when it has one) as the mt.* function."""
    def make(p: Program, x: Val) -> Val:
        x = p.condition(x, domain)
        if kinks:
            require(away_from(x.data, *kinks))
        if mt_function is not None and p.draw(st.booleans()):
            prefix = "" if mt_function is abs else "mt."
            return p.apply(f"{prefix}{mt_method}({{}})", mt_function, th_fn, x)
        return p.apply(f"{{}}.{mt_method}()", lambda a: getattr(a, mt_method)(), th_fn, x)

    return FuzzOp(name, make, domain=domain)


def _simple(name: str, text: str, mt_fn: Callable[[Any], Any], th_fn: Callable[[Any], Any],
            domain: str = "real") -> FuzzOp:
    def make(p: Program, x: Val) -> Val:
        return p.apply(text, mt_fn, th_fn, p.condition(x, domain))

    return FuzzOp(name, make, domain=domain)


def _pow_scalar(p: Program, x: Val) -> Val:
    k = p.draw(st.sampled_from([2, 3, -1, -2, 0.5, 1.5, -0.5, 2.0]))
    domain = "real" if isinstance(k, int) and k > 0 else (
        "nonzero" if isinstance(k, int) or k == 2.0 else "positive")
    x = p.condition(x, domain)
    return p.apply(f"{{}} ** {k!r}", lambda a: a**k, lambda a: a**k, x)


def _rpow(p: Program, x: Val) -> Val:
    c = p.draw(st.sampled_from([2.0, 0.5, 3.7]))
    return p.apply(f"{c!r} ** {{}}", lambda a: c**a, lambda a: c**a, p.condition(x, "bounded"))


def _clip(p: Program, x: Val) -> Val:
    x = p.condition(x, "real")
    lo = round(float(p.rng.uniform(-1.5, 0)), 3) if p.draw(st.booleans()) else None
    hi = round(float(p.rng.uniform(0, 1.5)), 3) if lo is None or p.draw(st.booleans()) else None
    require(away_from(x.data, *(b for b in (lo, hi) if b is not None)))
    if p.draw(st.booleans()):
        return p.apply(f"mt.clip({{}}, {lo}, {hi})", lambda a: mt.clip(a, lo, hi),
                       lambda a: torch.clamp(a, lo, hi), x)
    return p.apply(f"{{}}.clip(min={lo}, max={hi})", lambda a: a.clip(min=lo, max=hi),
                   lambda a: torch.clamp(a, lo, hi), x)


def _where(p: Program, x: Val) -> Val:
    x = p.condition(x, "real")
    cond = np.asarray(p.rng.random(p.partner_shape(x.shape)) < 0.5)
    cond_t = torch.from_numpy(cond)
    if p.draw(st.booleans()):
        c = round(float(p.rng.uniform(-2, 2)), 3)
        require(fits(cond.shape, x.shape))
        return p.apply(f"mt.where(cond{cond.shape}, {{}}, {c!r})", lambda a: mt.where(cond, a, c),
                       lambda a: torch.where(cond_t, a, torch.tensor(c, dtype=a.dtype)), x)
    y = p.operand(p.partner_shape(x.shape))
    require(fits(cond.shape, x.shape, y.shape))
    a, b = (y, x) if p.draw(st.booleans()) else (x, y)
    return p.apply(f"mt.where(cond{cond.shape}, {{}}, {{}})", lambda s, t: mt.where(cond, s, t),
                   lambda s, t: torch.where(cond_t, *promote(s, t)), a, b)


def _axes_th(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _reduction(name: str, th_reduce: Callable[[Any, tuple[int, ...], bool], Any],
               ties: bool = False, domain: str = "real") -> FuzzOp:
    """sum / mean / max / min / logsumexp over a drawn axis (None, an int, a tuple, maybe
    empty), keepdims or not; as a method or an mt.* function."""
    def make(p: Program, x: Val) -> Val:
        x = p.condition(x, domain)
        axis = p.draw(S.axes(x.ndim))
        keepdims = p.draw(st.booleans())
        if ties:
            require(no_ties(x.data, axis))
        dims = _axes_th(axis, x.ndim)

        def th_fn(a: Any) -> Any:
            if not dims:  # NumPy reduces over no axis (identity); PyTorch's dim=() means all
                return a * 1
            return th_reduce(a, dims, keepdims)

        if p.draw(st.booleans()):
            fn = getattr(mt, name)
            return p.apply(f"mt.{name}({{}}, axis={axis!r}, keepdims={keepdims})",
                           lambda a: fn(a, axis=axis, keepdims=keepdims), th_fn, x)
        return p.apply(f"{{}}.{name}(axis={axis!r}, keepdims={keepdims})",
                       lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), th_fn, x)

    return FuzzOp(name, make, domain=domain)


def _softmax_like(name: str, th_fn: Callable[..., Any], functional: Any) -> FuzzOp:
    def make(p: Program, x: Val) -> Val:
        x = p.condition(x, "real")
        axis = p.draw(S.one_axis(x.ndim))
        form = p.draw(st.sampled_from(["method", "mt", "F"]))
        if form == "F":
            return p.apply(f"F.{name}({{}}, axis={axis})", lambda a: functional(a, axis=axis),
                           lambda a: th_fn(a, dim=axis), x)
        if form == "mt":
            fn = getattr(mt, name)
            return p.apply(f"mt.{name}({{}}, axis={axis})", lambda a: fn(a, axis=axis),
                           lambda a: th_fn(a, dim=axis), x)
        return p.apply(f"{{}}.{name}(axis={axis})", lambda a: getattr(a, name)(axis=axis),
                       lambda a: th_fn(a, dim=axis), x)

    return FuzzOp(name, make, min_dims=1)


def _reshape(p: Program, x: Val) -> Val:
    target = p.draw(S.reshape_targets(x.shape))
    if p.draw(st.booleans()):
        return p.apply(f"mt.reshape({{}}, {target})", lambda a: mt.reshape(a, target),
                       lambda a: a.reshape(target), x)
    return p.apply(f"{{}}.reshape({target})", lambda a: a.reshape(target),
                   lambda a: a.reshape(target), x)


def _transpose(p: Program, x: Val) -> Val:
    kind = p.draw(st.sampled_from(["axes", "none", "T", "mt"]))

    def reverse(a: Any) -> Any:
        return a.permute(tuple(reversed(range(a.ndim))))

    if kind == "T":
        return p.apply("{}.T", lambda a: a.T, reverse, x)
    if kind == "none":
        return p.apply("{}.transpose()", lambda a: a.transpose(), reverse, x)
    perm = p.draw(S.permutations_of(x.ndim))
    if kind == "mt":
        return p.apply(f"mt.transpose({{}}, {perm})", lambda a: mt.transpose(a, perm),
                       lambda a: a.permute(perm), x)
    return p.apply(f"{{}}.transpose({perm})", lambda a: a.transpose(perm),
                   lambda a: a.permute(perm), x)


def _swapaxes(p: Program, x: Val) -> Val:
    a0, a1 = p.draw(S.one_axis(x.ndim)), p.draw(S.one_axis(x.ndim))
    return p.apply(f"mt.swapaxes({{}}, {a0}, {a1})", lambda a: mt.swapaxes(a, a0, a1),
                   lambda a: torch.swapaxes(a, a0, a1), x)


def _getitem(p: Program, x: Val) -> Val:
    """x[index] for a drawn index (ints, slices with negative steps, None, Ellipsis, an int
    array or list with repeats, a boolean mask); PyTorch (no negative steps) gathers the same
    elements by their flat positions, which is the same function and the same gradient."""
    index = p.draw(S.index_expressions(x.shape))
    positions = np.arange(max(x.mt.size, 1)).reshape(x.shape)[index]
    require(positions.size > 0)
    flat = torch.from_numpy(np.array(positions, order="C"))  # a copy: no negative strides
    return p.apply(f"{{}}[{index!r}]", lambda a: a[index], lambda a: a.reshape(-1)[flat], x)


def _concatenate(p: Program, x: Val) -> Val:
    axis = p.draw(S.one_axis(x.ndim))
    others = []
    for _ in range(p.draw(st.integers(0, 2))):
        shape = list(x.shape)
        shape[axis] = p.draw(st.integers(1, 3))
        require(int(np.prod(shape)) * (len(others) + 2) <= MAX_SIZE)
        others.append(p.operand(tuple(shape)))
    x = p.condition(x, "real")
    vals = [x, *others]
    order = p.draw(st.permutations(range(len(vals))))
    vals = [vals[i] for i in order]
    return p.apply(f"mt.concatenate([{', '.join('{}' for _ in vals)}], axis={axis})",
                   lambda *a: mt.concatenate(a, axis=axis),
                   lambda *a: torch.cat(promote(*a), dim=axis), *vals)


def _stack(p: Program, x: Val) -> Val:
    require(x.ndim < 4)
    axis = p.draw(S.one_axis(x.ndim + 1))
    count = p.draw(st.integers(0, 2))
    require(x.mt.size * (count + 1) <= MAX_SIZE)
    vals = [p.condition(x, "real")] + [p.operand(x.shape) for _ in range(count)]
    return p.apply(f"mt.stack([{', '.join('{}' for _ in vals)}], axis={axis})",
                   lambda *a: mt.stack(a, axis=axis),
                   lambda *a: torch.stack(promote(*a), dim=axis), *vals)


def _broadcast_to(p: Program, x: Val) -> Val:
    target = np.broadcast_shapes(x.shape, p.partner_shape(x.shape))
    require(int(np.prod(target)) <= MAX_SIZE)
    return p.apply(f"mt.broadcast_to({{}}, {target})", lambda a: mt.broadcast_to(a, target),
                   lambda a: torch.broadcast_to(a, target), x)


def _squeeze(p: Program, x: Val) -> Val:
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    axis = p.draw(st.one_of(st.none(), st.lists(st.sampled_from(ones), unique=True).map(tuple))
                  if ones else st.none())
    th_axis = tuple(ones) if axis is None else axis

    def th_fn(a: Any) -> Any:
        return torch.squeeze(a, dim=th_axis) if th_axis else a * 1

    if p.draw(st.booleans()):
        return p.apply(f"{{}}.squeeze({axis!r})", lambda a: a.squeeze(axis), th_fn, x)
    return p.apply(f"mt.squeeze({{}}, {axis!r})", lambda a: mt.squeeze(a, axis), th_fn, x)


def _expand_dims(p: Program, x: Val) -> Val:
    require(x.ndim < 4)
    axis = p.draw(S.one_axis(x.ndim + 1))
    if p.draw(st.booleans()):
        return p.apply(f"{{}}.expand_dims({axis})", lambda a: a.expand_dims(axis),
                       lambda a: torch.unsqueeze(a, axis), x)
    return p.apply(f"mt.expand_dims({{}}, {axis})", lambda a: mt.expand_dims(a, axis),
                   lambda a: torch.unsqueeze(a, axis), x)


def _astype(p: Program, x: Val) -> Val:
    dtype = np.dtype(p.draw(st.sampled_from([np.float32, np.float64])))
    return p.apply(f"{{}}.astype({dtype.name})", lambda a: a.astype(dtype),
                   lambda a: a.to(th_dtype(dtype)), x)


def _matmul(p: Program, x: Val) -> Val:
    """x @ y with x on either side: vector-vector, matrix-vector, matrix-matrix and batched with
    broadcasting batch axes."""
    x = p.condition(x, "real")
    right = p.draw(st.booleans())  # x is the right operand
    n = p.draw(st.integers(1, 4))
    if x.ndim == 1:
        k = x.shape[0]
        kind = p.draw(st.sampled_from(["vector", "matrix"]))
        if kind == "vector":
            other: tuple[int, ...] = (k,)
        else:
            batch = p.draw(st.lists(st.integers(1, 2), max_size=2))
            other = (*batch, n, k) if right else (*batch, k, n)
    else:
        k = x.shape[-2] if right else x.shape[-1]
        if p.draw(st.booleans()):
            other = (k,)
        else:
            batch = p.partner_shape(x.shape[:-2]) if x.ndim > 2 else ()
            other = (*batch, n, k) if right else (*batch, k, n)
    require(int(np.prod(other)) <= MAX_SIZE and len(other) <= 4)
    y = p.operand(other)
    a, b = (y, x) if right else (x, y)
    if p.draw(st.booleans()):
        return p.apply("mt.matmul({}, {})", mt.matmul,
                       lambda s, t: torch.matmul(*promote(s, t)), a, b)
    return p.apply("{} @ {}", lambda s, t: s @ t, lambda s, t: torch.matmul(*promote(s, t)), a, b)


def _linear(p: Program, x: Val) -> Val:
    """nn.functional.linear(x, weight (in, out), bias (out,) or None, activation): PyTorch gets
    the transposed weight."""
    x = p.condition(x, "real")
    n_in, n_out = x.shape[-1], p.draw(st.integers(1, 4))
    require(x.mt.size // n_in * n_out <= MAX_SIZE)
    w = p.operand((n_in, n_out))
    bias = p.draw(st.booleans())
    activation = p.draw(st.sampled_from([None, "sigmoid", "tanh", "relu"]))
    args = [x, w] + ([p.operand((n_out,))] if bias else [])
    if activation == "relu":
        z = x.data @ w.data + (args[2].data if bias else 0)
        require(away_from(z, 0.0))
    th_act = {None: lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
              "relu": torch.relu}[activation]

    def th_fn(a: Any, b: Any, c: Any = None) -> Any:
        a, b, *rest = promote(a, b, *([] if c is None else [c]))
        return th_act(TF.linear(a, b.T, rest[0] if rest else None))

    text = "F.linear({}, {}" + (", {}" if bias else ", None") + f", activation={activation!r})"
    return p.apply(text, lambda *a: F.linear(*a[:2], a[2] if bias else None, activation),
                   th_fn, *args)


def _leaky_relu(p: Program, x: Val) -> Val:
    x = p.condition(x, "real")
    require(away_from(x.data, 0.0))
    slope = p.draw(st.sampled_from([0.01, 0.2, -0.5]))
    return p.apply(f"F.leaky_relu({{}}, {slope})", lambda a: F.leaky_relu(a, slope),
                   lambda a: TF.leaky_relu(a, slope), x)


def _dropout_identity(p: Program, x: Val) -> Val:
    """dropout in eval mode, or with p = 0: the identity (the random case is not comparable)."""
    if p.draw(st.booleans()):
        return p.apply("F.dropout({}, 0.5, training=False)",
                       lambda a: F.dropout(a, 0.5, training=False),
                       lambda a: TF.dropout(a, 0.5, training=False), x)
    return p.apply("F.dropout({}, 0.0)", lambda a: F.dropout(a, 0.0),
                   lambda a: TF.dropout(a, 0.0), x)


# ------------------------------------------------------------------------------ losses
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def _target(p: Program, x: Val, domain: str) -> tuple[list[Val], Any, Any, str]:
    """A loss target of x's shape: a differentiable value, a constant array of any float
    dtype, or (as microtensor allows) a list. Returns (extra args, mt target builder,
    torch target builder, text)."""
    lo, hi = {"real": (-2.0, 2.0), "prob": (0.0, 1.0)}[domain]
    kind = p.draw(st.sampled_from(["tensor", "array", "array", "list"]))
    if kind == "tensor":
        y = p.operand(x.shape, domain)
        return [y], None, None, "{}"
    c = p.const(x.shape, p.draw(st.sampled_from([np.float64, np.float32])), lo, hi)
    if domain == "prob" and p.draw(st.booleans()):
        c = np.round(c)  # hard labels 0 / 1
    mt_target = c.tolist() if kind == "list" else c
    return [], mt_target, torch.from_numpy(np.asarray(c, dtype=x.dtype)), f"{kind}{c.shape}"


def _loss(name: str, domain: str, target_domain: str,
          th_loss: Callable[..., Any], kink: bool = False,
          extras: Callable[[Program, Val], tuple[dict[str, Any], dict[str, Any], str]]
          | None = None) -> FuzzOp:
    """A loss(input, target, reduction): mse_loss, l1_loss, binary_cross_entropy(+logits)."""
    mt_loss = getattr(F, name)

    def make(p: Program, x: Val) -> Val:
        x = p.condition(x, domain)
        reduction = p.draw(REDUCTIONS)
        tvals, mt_t, th_t, ttext = _target(p, x, target_domain)
        kw_mt, kw_th, kw_text = extras(p, x) if extras else ({}, {}, "")
        if kink:
            y = tvals[0].data if tvals else np.asarray(mt_t, dtype=x.dtype)
            require(away_from(x.data - y, 0.0))
        text = f"F.{name}({{}}, {ttext}, reduction={reduction!r}{kw_text})"
        if tvals:
            return p.apply(text, lambda a, b: mt_loss(a, b, reduction=reduction, **kw_mt),
                           lambda a, b: th_loss(a, b.to(a.dtype), reduction=reduction,
                                                **kw_th),
                           x, *tvals)
        return p.apply(text, lambda a: mt_loss(a, mt_t, reduction=reduction, **kw_mt),
                       lambda a: th_loss(a, th_t, reduction=reduction, **kw_th), x)

    return FuzzOp(name, make, domain=domain)


def _weights(p: Program, x: Val, *names: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Optional constant `weight` (broadcasting to x) / `pos_weight` (the last axis)."""
    kw_mt: dict[str, Any] = {}
    kw_th: dict[str, Any] = {}
    text = ""
    for name in names:
        if not p.draw(st.booleans()):
            continue
        shape = p.partner_shape(x.shape) if name == "weight" else x.shape[-1:]
        require(np.broadcast_shapes(shape, x.shape) == x.shape)
        c = p.const(shape, x.dtype, 0.2, 2.0)
        kw_mt[name] = c
        kw_th[name] = torch.from_numpy(c)
        text += f", {name}=ndarray{shape}"
    return kw_mt, kw_th, text


def _bce(p: Program, x: Val) -> tuple[dict[str, Any], dict[str, Any], str]:
    return _weights(p, x, "weight")


def _bce_logits(p: Program, x: Val) -> tuple[dict[str, Any], dict[str, Any], str]:
    return _weights(p, x, "weight", "pos_weight")


def _th_contiguous(a: Any) -> Any:
    """The same layout in both (classes on axis 1 from 2-D on, PyTorch's); contiguous for
    PyTorch, whose nll_loss backward refuses a permuted 4-D input."""
    return a.contiguous() if a.ndim > 2 else a


def _class_loss(name: str) -> FuzzOp:
    """nll_loss / cross_entropy with integer labels (int array, int list, or a float Tensor
    of whole numbers), and cross_entropy with class probabilities (a constant or a
    differentiable value). Classes on axis 1 (axis 0 of a 1-D input), as PyTorch's."""
    mt_loss = getattr(F, name)
    th_loss = getattr(TF, name)

    def make(p: Program, x: Val) -> Val:
        x = p.condition(x, "real")
        reduction = p.draw(REDUCTIONS)
        axis = 1 if len(x.shape) >= 2 else 0
        n_classes = x.shape[axis]
        rest = x.shape[:axis] + x.shape[axis + 1:]
        probs = name == "cross_entropy" and p.draw(st.booleans())
        if probs:
            if p.draw(st.booleans()):
                t = p.operand(x.shape)
                return p.apply(f"F.{name}({{}}, {{}}, reduction={reduction!r})",
                               lambda a, b: mt_loss(a, b, reduction=reduction),
                               lambda a, b: th_loss(_th_contiguous(a),
                                                    _th_contiguous(b.to(a.dtype)),
                                                    reduction=reduction), x, t)
            c = np.moveaxis(p.rng.dirichlet(np.ones(n_classes), rest), -1, axis)
            c = np.ascontiguousarray(c).astype(x.dtype)
            ct = torch.from_numpy(c)
            return p.apply(f"F.{name}({{}}, probs{c.shape}, reduction={reduction!r})",
                           lambda a: mt_loss(a, c, reduction=reduction),
                           lambda a: th_loss(_th_contiguous(a), ct, reduction=reduction), x)
        labels = p.rng.integers(0, n_classes, rest)
        kind = p.draw(st.sampled_from(["int array", "list", "float Tensor"]))
        given_labels: Any = {"int array": labels, "list": labels.tolist(),
                             "float Tensor": mt.tensor(labels.astype(np.float64))}[kind]
        lt = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        return p.apply(f"F.{name}({{}}, labels {kind} {labels.tolist()}, "
                       f"reduction={reduction!r})",
                       lambda a: mt_loss(a, given_labels, reduction=reduction),
                       lambda a: th_loss(_th_contiguous(a), lt, reduction=reduction), x)

    return FuzzOp(name, make, min_dims=1)


# ------------------------------------------------------------------------------ the list
# The rows of registered ops (tests/test_registry.py: microtensor/ops/registry.py), keyed by the
# registered name; a registered op without a row here gets one from its op-table row
# (`_from_op_table`). The second list is what is not a registered op of its own: operator
# variants, the nn.functional activations and losses.
_REGISTERED: dict[str, FuzzOp] = {
    "add": _binary("+", lambda a, b: a + b, torch.add),
    "sub": _binary("-", lambda a, b: a - b, torch.sub),
    "mul": _binary("*", lambda a, b: a * b, torch.mul),
    "div": _binary("/", lambda a, b: a / b, torch.div, ("real", "nonzero")),
    "pow": _binary("**", lambda a, b: a**b, torch.pow, ("positive", "bounded")),
    "neg": _simple("neg", "-{}", lambda a: -a, torch.neg),
    "exp": _unary("exp", "exp", torch.exp, "bounded", mt_function=mt.exp),
    "log": _unary("log", "log", torch.log, "positive", mt_function=mt.log),
    "sqrt": _unary("sqrt", "sqrt", torch.sqrt, "positive", mt_function=mt.sqrt),
    "abs": _unary("abs", "abs", torch.abs, kinks=(0.0,), mt_function=mt.abs),
    "tanh": _unary("tanh", "tanh", torch.tanh, mt_function=mt.tanh),
    "sigmoid": _unary("sigmoid", "sigmoid", torch.sigmoid, mt_function=mt.sigmoid),
    "relu": _unary("relu", "relu", torch.relu, kinks=(0.0,), mt_function=mt.relu),
    "clip": FuzzOp("clip", _clip),
    "maximum": _function("maximum", mt.maximum, torch.maximum, _apart),
    "minimum": _function("minimum", mt.minimum, torch.minimum, _apart),
    "where": FuzzOp("where", _where),
    "sum": _reduction("sum", lambda a, d, k: torch.sum(a, dim=d, keepdim=k)),
    "mean": _reduction("mean", lambda a, d, k: torch.mean(a, dim=d, keepdim=k)),
    "max": _reduction("max", lambda a, d, k: torch.amax(a, dim=d, keepdim=k), ties=True),
    "min": _reduction("min", lambda a, d, k: torch.amin(a, dim=d, keepdim=k), ties=True),
    "logsumexp": _reduction("logsumexp", lambda a, d, k: torch.logsumexp(a, dim=d, keepdim=k)),
    "softmax": _softmax_like("softmax", torch.softmax, F.softmax),
    "log_softmax": _softmax_like("log_softmax", torch.log_softmax, F.log_softmax),
    "matmul": FuzzOp("matmul", _matmul, min_dims=1),
    "reshape": FuzzOp("reshape", _reshape),
    "transpose": FuzzOp("transpose", _transpose),
    "swapaxes": FuzzOp("swapaxes", _swapaxes, min_dims=1),
    "getitem": FuzzOp("getitem", _getitem),
    "concatenate": FuzzOp("concatenate", _concatenate, min_dims=1),
    "stack": FuzzOp("stack", _stack),
    "broadcast_to": FuzzOp("broadcast_to", _broadcast_to),
    "squeeze": FuzzOp("squeeze", _squeeze),
    "expand_dims": FuzzOp("expand_dims", _expand_dims),
    "astype": FuzzOp("astype", _astype),
    # -- rows of ops/math.py
    "tan": _simple("tan", "mt.tan(tanh({}) * 1.25)", lambda a: mt.tan(a.tanh() * 1.25),
                   lambda a: torch.tan(torch.tanh(a) * 1.25)),
    "arcsin": _simple("arcsin", "mt.arcsin(tanh({}) * 0.875)",
                      lambda a: mt.arcsin(a.tanh() * 0.875),
                      lambda a: torch.arcsin(torch.tanh(a) * 0.875)),
    "arccos": _simple("arccos", "{}.tanh().__mul__(0.875).arccos()",
                      lambda a: (a.tanh() * 0.875).arccos(),
                      lambda a: torch.arccos(torch.tanh(a) * 0.875)),
    "arctanh": _simple("arctanh", "mt.arctanh(tanh({}) * 0.875)",
                       lambda a: mt.arctanh(a.tanh() * 0.875),
                       lambda a: torch.arctanh(torch.tanh(a) * 0.875)),
    "arccosh": _simple("arccosh", "mt.arccosh({0} * {0} + 1.125)",
                       lambda a: mt.arccosh(a * a + 1.125),
                       lambda a: torch.arccosh(a * a + 1.125)),
    "arctan2": _function("arctan2", mt.arctan2, torch.arctan2,  # away from the branch cut
                         lambda y, x: bool(((x > 0) | (np.abs(y) > MARGIN)).all())),
    "copysign": _function("copysign", mt.copysign, torch.copysign,
                          lambda a, b: away_from(a, 0.0) and away_from(b, 0.0)),
    "sign": _unary("sign", "sign", torch.sign, kinks=(0.0,), mt_function=mt.sign),
    "floor": _unary("floor", "floor", torch.floor, kinks=tuple(map(float, range(-31, 32))),
                    mt_function=mt.floor),
    "ceil": _unary("ceil", "ceil", torch.ceil, kinks=tuple(map(float, range(-31, 32))),
                   mt_function=mt.ceil),
    "trunc": _unary("trunc", "trunc", torch.trunc, kinks=tuple(map(float, range(-31, 32))),
                    mt_function=mt.trunc),
    "round": _unary("round", "round", torch.round, kinks=tuple(k + 0.5 for k in range(-31, 31)),
                    mt_function=mt.round),
    # PyTorch's // (floor_divide) has no derivative: floor(a / b) is its value with zero gradient
    "floor_divide": FuzzOp("floor_divide", _binary(
        "//", lambda a, b: a // b, lambda a, b: torch.floor(a / b), ("real", "nonzero"),
        lambda a, b: away_from(a / b % 1, 0.0, 1.0)).make),
    # PyTorch's number % tensor has no derivative: a - b * floor(a / b) is its value there
    "remainder": FuzzOp("remainder", _binary(
        "%", lambda a, b: a % b,
        lambda a, b: a % b if torch.is_tensor(a) else a - b * torch.floor(a / b),
        ("real", "nonzero"),
        lambda a, b: away_from(a / b % 1, 0.0, 1.0)).make),
    "lerp": _function("lerp", lambda a, b: mt.lerp(a, b, 0.375),
                      lambda a, b: torch.lerp(a, b, 0.375)),
    # -- rows of ops/scan.py
    **__import__("op_table_scan").torch_fuzz_rows(FuzzOp),
    # -- rows of ops/indexing.py
    **__import__("op_table_indexing").torch_fuzz_rows(FuzzOp, require, promote),
}

def _pad(p: Program, x: Val) -> Val:
    """F.pad in PyTorch's form: pairs from the last axis; constant (negative widths crop),
    reflect (widths below the axis), replicate, circular (widths up to the axis)."""
    require(bool(x.shape))
    x = p.condition(x, "real")
    mode = p.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    n_axes = p.draw(st.integers(1, min(len(x.shape), 3)))
    if mode != "constant":  # PyTorch pads k axes of a (k + 1)- or (k + 2)-D input only
        require(len(x.shape) in (n_axes + 1, n_axes + 2))
    widths: list[int] = []
    for k in range(n_axes):
        size = x.shape[-1 - k]
        top = min({"reflect": size - 1, "circular": size}.get(mode, 2), 2)
        low = -(size // 2) if mode == "constant" else 0
        require(top >= 0)
        widths += [p.draw(st.integers(low, top)), p.draw(st.integers(low, top))]
    if mode == "replicate":
        require(all(n > 0 for n in x.shape))
    pad = tuple(widths)
    kw = {"value": 0.5} if mode == "constant" else {}
    return p.apply(f"F.pad({{}}, {pad}, mode={mode!r})", lambda a: F.pad(a, pad, mode, **kw),
                   lambda a: TF.pad(a, pad, mode=mode, **kw), x)


_MORE: list[FuzzOp] = [
    FuzzOp("pow_scalar", _pow_scalar),
    FuzzOp("rpow", _rpow),
    _simple("pos", "+{}", lambda a: +a, lambda a: a * 1),
    _unary("abs()", "abs", torch.abs, kinks=(0.0,), mt_function=abs),
    _simple("flatten", "{}.flatten()", lambda a: a.flatten(), torch.flatten),
    # nn.functional: activations, linear, dropout (identity cases) and every loss
    _simple("F.sigmoid", "F.sigmoid({})", F.sigmoid, torch.sigmoid),
    _simple("F.tanh", "F.tanh({})", F.tanh, torch.tanh),
    _unary("F.relu", "relu", torch.relu, kinks=(0.0,), mt_function=F.relu),
    FuzzOp("F.leaky_relu", _leaky_relu),
    _simple("F.softplus", "F.softplus({})", F.softplus, TF.softplus),
    *__import__("op_table_math").torch_fuzz_activations(globals()),  # gelu, silu, elu, ...
    FuzzOp("F.linear", _linear, min_dims=1),
    FuzzOp("F.dropout", _dropout_identity),
    FuzzOp("F.pad", _pad, min_dims=1),
    _loss("mse_loss", "real", "real", TF.mse_loss),
    _loss("l1_loss", "real", "real", TF.l1_loss, kink=True),
    _loss("binary_cross_entropy", "prob", "prob", TF.binary_cross_entropy, extras=_bce),
    _loss("binary_cross_entropy_with_logits", "real", "prob",
          TF.binary_cross_entropy_with_logits, extras=_bce_logits),
    _class_loss("nll_loss"),
    _class_loss("cross_entropy"),
]

_FUZZ_DOMAINS = {"positive": "positive", "nonzero": "nonzero"}  # the op table's, else "real"


def _from_op_table(name: str) -> FuzzOp:
    """The row of a registered elementwise op from its op-table row: torch.<name> as the
    reference, the table's domains; called as the method and as mt.<name> where it is one."""
    entry, row = REGISTRY[name], BY_NAME[name]
    domains = [_FUZZ_DOMAINS.get(d, "real") for d in getattr(row.cases, "domains", ())]
    th_fn = getattr(torch, name, None)
    if th_fn is None or len(domains) not in (1, 2):
        raise LookupError(f"tests/test_torch_fuzz.py: the registered op {name!r} needs a row "
                          "in _REGISTERED (no torch function of its name, or not elementwise)")
    if len(domains) == 2:
        return _function(name, entry.fn, th_fn)
    if entry.method is None:
        return _simple(name, f"mt.{name}({{}})", entry.fn, th_fn, domains[0])
    return _unary(name, entry.method, th_fn, domains[0],
                  mt_function=entry.fn if entry.export else None)


FUZZ_OPS: list[FuzzOp] = [
    _REGISTERED.get(name) or _from_op_table(name) for name in REGISTRY
] + _MORE


# ------------------------------------------------------------------------------ the test
def _grads_mt(out: mt.Tensor, leaves: Sequence[Val], create_graph: bool) -> list[Any]:
    return list(mt.grad(out, [v.mt for v in leaves], retain_graph=True,
                        create_graph=create_graph))


def _hvp_mt(grads: list[Any], leaves: Sequence[Val], vs: list[np.ndarray]) -> list[np.ndarray]:
    terms = [(g * v).sum() for g, v in zip(grads, vs) if g.requires_grad]
    if not terms:
        return [np.zeros(leaf.shape, leaf.dtype) for leaf in leaves]
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    hv = mt.grad(s, [v.mt for v in leaves], allow_unused=True)
    return [np.zeros(leaf.shape, leaf.dtype) if h is None else h.data
            for h, leaf in zip(hv, leaves)]


def _hvp_th(grads: list[Any], leaves: Sequence[Val], vs: list[np.ndarray]) -> list[Any]:
    terms = [(g * torch.from_numpy(v)).sum() for g, v in zip(grads, vs) if g.requires_grad]
    if not terms:
        return [torch.zeros(leaf.shape, dtype=th_dtype(leaf.dtype)) for leaf in leaves]
    s = terms[0]
    for t in terms[1:]:
        s = torch.add(*promote(s, t))
    hv = torch.autograd.grad(s, [v.th for v in leaves], allow_unused=True)
    return [torch.zeros(leaf.shape, dtype=th_dtype(leaf.dtype)) if h is None else h
            for h, leaf in zip(hv, leaves)]


def run_program(draw: st.DrawFn) -> int:
    """Draw and check one program; return its number of ops."""
    p = Program(draw, draw(st.integers(0, 2**32 - 1), label="seed"))
    n_ops = draw(st.integers(3, 12), label="ops")
    applied = 0
    for _ in range(4 * n_ops):  # steps that do not apply are redrawn, within reason
        if applied >= n_ops:
            break
        op = draw(st.sampled_from(FUZZ_OPS), label="op")
        x = p.pick(op.min_dims)
        try:
            op.make(p, x)
        except SkipStepError:
            continue
        applied += 1
    for leaf in p.leaves:
        note(f"{leaf.name} = {leaf.data!r}")
    out_m, out_t = p.out()
    assert_close(out_m.data, out_t, "output", np.float32 if p.low_dtype else None)
    tol = np.float32 if p.low_dtype else None

    # first order, array path: backward() accumulates into .grad
    out_m.backward(retain_graph=True)
    th_grads = torch.autograd.grad(out_t, [v.th for v in p.leaves], create_graph=True)
    for leaf, g in zip(p.leaves, th_grads):
        got = leaf.mt.grad
        assert isinstance(got, mt.Tensor), f"{leaf.name}.grad is {type(got).__name__}"
        assert_close(got.data, g, f"backward(): {leaf.name}.grad", tol)

    # first order, Tensor path (create_graph=True), then a Hessian-vector product
    mt_grads = _grads_mt(out_m, p.leaves, create_graph=True)
    for leaf, gm, g in zip(p.leaves, mt_grads, th_grads):
        assert_close(gm.data, g, f"grad(create_graph=True) of {leaf.name}", tol)
    vs = [p.const(leaf.shape, leaf.dtype, -1.0, 1.0) for leaf in p.leaves]
    for leaf, hm, ht in zip(p.leaves, _hvp_mt(mt_grads, p.leaves, vs),
                            _hvp_th(list(th_grads), p.leaves, vs)):
        assert_close(hm, ht, f"Hessian-vector product at {leaf.name}", tol)
    return applied


@pytest.mark.slow
@settings(max_examples=settings.default.max_examples * PROGRAMS_PER_EXAMPLE,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_torch_fuzz_programs_match_pytorch(data):
    """A random program of 3-12 ops over every public op and nn.functional loss gives
    PyTorch's values, dtypes, gradients (backward() and create_graph=True) and Hessian-vector
    products, on float32/float64 leaves of any layout and broadcasting shapes."""
    run_program(data.draw)  # under the conftest's errstate: an overflow or nan is a failure


def test_torch_fuzz_op_list_covers_the_public_api():
    """Every public op of microtensor and every nn.functional loss and activation has an entry
    in FUZZ_OPS (so a new op cannot be left out of the fuzz by accident)."""
    names = {op.name for op in FUZZ_OPS}
    not_ops = {"Function", "GradcheckError", "RemovableHandle", "Tensor", "arange", "constant",
               "default_generator", "detect_anomaly", "enable_grad", "eye", "full", "grad",
               "gradcheck", "gradgradcheck", "is_anomaly_enabled", "is_grad_enabled",
               "manual_seed", "no_grad", "ones", "ones_like", "ops", "rand", "randn", "scope",
               "set_grad_enabled", "tensor", "zeros", "zeros_like",
               # factories, dtype names and grad modes: no op to differentiate
               "empty", "float16", "float32", "float64", "from_numpy", "full_like",
               "inference_mode", "int32", "int64", "linspace", "logspace", "normal",
               "rand_like", "randint", "randn_like", "randperm", "uniform",
               # mt.compile and its marks: a transform of a step, not an op
               "compile", "compile_effect", "CompileError"}
    assert mt.cat is mt.concatenate  # an alias: fuzzed as concatenate
    not_ops.add("cat")
    missing = set(mt.__all__) - not_ops - names
    functional = {"sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax", "log_softmax",
                  "linear", "dropout", "mse_loss", "l1_loss", "binary_cross_entropy",
                  "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy",
                  "gelu", "silu", "elu", "selu", "celu", "logsigmoid", "hardtanh", "relu6",
                  "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink", "glu",
                  "softmin", "pad"}
    public_f = {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))
                and getattr(getattr(F, n), "__module__", "") == F.__name__
                and n[0].islower()}
    missing |= {f"F.{n}" for n in public_f - functional - {"one_hot"}}
    missing |= {f"F.{n}" for n in functional
                if f"F.{n}" not in names and n not in names}
    assert not missing, f"ops missing from FUZZ_OPS: {sorted(missing)}"
