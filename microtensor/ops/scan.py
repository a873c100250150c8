"""Reductions and scans beyond the primitives: var, std, prod, cumulative ops, norms, arg
reductions, sorting. Each op is a `Function` subclass registered once (see registry.py).

Every op takes NumPy's `axis`/`keepdims` and PyTorch's `dim`/`keepdim` as aliases. The
gradients that need care: prod and cumprod are right with zeros in the input (no division by
an input: products of the other elements, as exclusive cumulative products), logcumsumexp's
backward never forms exp of a large number (it runs through logcumsumexp itself), and sort and
topk send each value's gradient back to the position it came from (a gather by the inverse
permutation, so it is a recorded op under create_graph too).
"""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from ..function import Function, constant
from ..shapes import kept_shape, normalize_axis, normalize_one_axis
from ..tensor import Tensor, _make
from . import vocab as V
from ._util import tensor_arg
from .registry import register


class _Unset:
    """The default of PyTorch's `dim=` aliases: not given (then `axis` decides)."""

    def __repr__(self) -> str:
        return "<not given>"


_UNSET = _Unset()


def _alias(op: str, axis: Any, dim: Any, keepdims: Any = False, keepdim: Any = None
           ) -> tuple[Any, bool]:
    """`axis` and `keepdims`, given as NumPy's names or PyTorch's `dim`/`keepdim` (not both)."""
    if dim is not _UNSET:
        if axis is not None and axis is not _UNSET:
            raise TypeError(f"{op}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if keepdims is None:  # NumPy's positional out=None, where NumPy's signature has it
        keepdims = False
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be a bool, got {keepdims!r}")
    return (None if axis is _UNSET else axis), bool(keepdims)


def _floats(x: Any, op: str) -> Tensor:
    """A float Tensor: integer and bool inputs become float64, as NumPy's var/norm make them
    (such tensors never require grad, so no graph is cut)."""
    x = tensor_arg(x, op)
    return x if x.data.dtype.kind == "f" else _make(x.data.astype(np.float64))


def _flip(a: Any, axis: int) -> Any:
    """`a` reversed along `axis` (a slice: a view of an array, a recorded GetItem of a Tensor)."""
    return a[(slice(None),) * (axis % a.ndim) + (slice(None, None, -1),)]


def _along(idx: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The index that picks `idx[..., i, ...]` along `axis` of an array of idx's shape (NumPy's
    take_along_axis as one advanced index, which a Tensor's [] records too)."""
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid)


def _reduced(x: np.ndarray, axes: tuple[int, ...], kdims: bool) -> tuple[int, ...]:
    return kept_shape(x.shape, axes) if kdims else tuple(
        n for i, n in enumerate(x.shape) if i not in axes)


# ------------------------------------------------------------------ variance and deviation
class Var(Function):
    """var(x, axis, ddof) = sum((x - mean) ** 2) / (n - ddof).
    d/dx = 2 (x - mean) / (n - ddof)"""

    def forward(self, x: np.ndarray, axis: Any = None, ddof: float = 0,
                keepdims: bool = False) -> np.ndarray:
        self.axes = normalize_axis(axis, x.ndim, self.name.lower())
        self.keepdims, self.kshape = keepdims, kept_shape(x.shape, self.axes)
        n = int(np.prod([x.shape[a] for a in self.axes], dtype=np.int64))
        self.denom = np.float64(builtins.max(n - ddof, 0))  # 0: inf (or 0 / 0 = nan), as NumPy
        out = self._value(x, ddof)
        self.save_for_backward(x, out)
        return out

    def _value(self, x: np.ndarray, ddof: float) -> np.ndarray:
        return np.asarray(np.var(x, axis=self.axes, ddof=ddof, keepdims=self.keepdims))

    def _expand(self, grad: Any) -> Any:
        return grad if self.keepdims else grad.reshape(self.kshape)

    def backward(self, grad: Any) -> Any:
        x, _ = self.saved
        if x.size == 0:
            return V.zeros_like(x)
        centred = x - x.mean(axis=self.axes, keepdims=True)
        return self._expand(grad) * centred * float(2.0 / self.denom)

    def jvp(self, t: Any) -> Any:
        """A reduction: the slice's partial derivatives times t, summed (V.reduction_jvp)."""
        return V.reduction_jvp(self, t)


class Std(Var):
    """std(x, axis, ddof) = sqrt(var).   d/dx = (x - mean) / ((n - ddof) * std)"""

    def _value(self, x: np.ndarray, ddof: float) -> np.ndarray:
        return np.asarray(np.std(x, axis=self.axes, ddof=ddof, keepdims=self.keepdims))

    def backward(self, grad: Any) -> Any:
        x, out = self.saved
        if x.size == 0:
            return V.zeros_like(x)
        centred = x - x.mean(axis=self.axes, keepdims=True)
        return self._expand(grad) * centred / (self._expand(out) * float(self.denom))


def _ddof(op: str, ddof: Any, correction: Any, unbiased: Any) -> Any:
    """The degrees of freedom removed: NumPy's ddof, PyTorch's correction or unbiased."""
    given = [v for v in (correction, unbiased) if v is not None]
    if len(given) > 1 or (given and ddof != 0):
        raise TypeError(f"{op}: give one of ddof, correction and unbiased")
    if unbiased is not None:
        return 1 if unbiased else 0
    d = ddof if correction is None else correction
    # a bool counts as 0 or 1, so PyTorch's positional var(x, dim, unbiased) reads right too
    if not isinstance(d, (int, float, np.integer, np.floating, np.bool_)):
        raise TypeError(f"{op}: ddof must be a number, got {d!r}")
    return int(d) if isinstance(d, (bool, np.bool_)) else d


@register(method=True)
def var(x: Any, axis: Any = None, ddof: float = 0, keepdims: bool = False, *,
        correction: float | None = None, unbiased: bool | None = None, dim: Any = _UNSET,
        keepdim: bool | None = None) -> Tensor:
    """Variance over `axis`: sum((x - mean) ** 2) / (n - ddof). NumPy's default ddof=0 (the
    population variance); `correction=1` (PyTorch's name, and its default) or `unbiased=True`
    give the sample variance. n - ddof <= 0 gives inf or nan, as NumPy does."""
    axis, keepdims = _alias("var", axis, dim, keepdims, keepdim)
    return Var.apply(_floats(x, "var"), axis=axis, ddof=_ddof("var", ddof, correction, unbiased),
                     keepdims=keepdims)


@register(method=True)
def std(x: Any, axis: Any = None, ddof: float = 0, keepdims: bool = False, *,
        correction: float | None = None, unbiased: bool | None = None, dim: Any = _UNSET,
        keepdim: bool | None = None) -> Tensor:
    """Standard deviation over `axis`: sqrt(var(x, axis, ddof)) (see `var` for ddof and
    correction). Its gradient at a constant slice (std = 0) is nan, as PyTorch's."""
    axis, keepdims = _alias("std", axis, dim, keepdims, keepdim)
    return Std.apply(_floats(x, "std"), axis=axis, ddof=_ddof("std", ddof, correction, unbiased),
                     keepdims=keepdims)


# ------------------------------------------------------------------------- cumulative ops
class _Scan(Function):
    """Shared setup of a scan along one axis: axis=None scans the flattened input."""

    def _setup(self, x: np.ndarray, axis: Any) -> tuple[np.ndarray, int]:
        self.in_shape = x.shape
        if axis is None:
            flat, ax = x.reshape(-1), 0
        elif x.ndim == 0:  # a 0-d tensor is one element along axis 0 or -1 (as PyTorch)
            normalize_one_axis(axis, 1, self.name.lower())
            flat, ax = x.reshape(1), 0
        else:
            flat, ax = x, normalize_one_axis(axis, x.ndim, self.name.lower())
        self.flat_shape = flat.shape
        return flat, ax

    def _back(self, grad: Any) -> Any:
        return grad.reshape(self.in_shape)

    def _out(self, out: np.ndarray, axis: Any) -> np.ndarray:
        return out if axis is None else out.reshape(self.in_shape)


def _rev_cumsum(a: Any, axis: int) -> Any:
    return _flip(_cumsum(_flip(a, axis), axis), axis)


class CumSum(_Scan):
    """cumsum(x, axis).   d/dx_k = sum over i >= k of g_i (a reversed cumulative sum)"""

    def forward(self, x: np.ndarray, axis: Any = None) -> np.ndarray:
        flat, self.axis = self._setup(x, axis)
        return self._out(np.cumsum(flat, axis=self.axis), axis)

    def backward(self, grad: Any) -> Any:
        g = grad.reshape(-1) if grad.ndim == 0 else grad
        return self._back(_rev_cumsum(g, self.axis))

    def jvp(self, t: Any) -> Any:
        return _cumsum(t.reshape(self.flat_shape), self.axis).reshape(self._shape)


class CumProd(_Scan):
    """cumprod(x, axis).   d/dx_k = sum over i >= k of g_i * prod_{j <= i, j != k} x_j.

    At first order, when every |x| is well inside the normal range (and no product
    underflowed), that is revcumsum(g * y)_k / x_k, O(n). Otherwise (zeros, tiny values whose
    products underflow) and under create_graph (the derivative of that quotient is a
    difference of terms of size 1/x**2 that cancel badly for small |x|), no division: the
    product of the x_j before k (an exclusive cumprod) times sum_{i >= k} g_i prod_{k < j <= i}
    x_j, from an (n, n) table of partial products per slice: O(n^2), and a polynomial in x,
    so its own derivatives are right too."""

    def forward(self, x: np.ndarray, axis: Any = None) -> np.ndarray:
        flat, self.axis = self._setup(x, axis)
        out = np.cumprod(flat, axis=self.axis)
        if flat.dtype.kind == "f":
            info = np.finfo(flat.dtype)
            mag, top = np.abs(flat), np.abs(out)
            divisible = bool(((mag >= np.sqrt(info.tiny)) & (mag <= np.sqrt(info.max))
                              & (top >= info.tiny) & (top <= info.max)).all())
        else:
            divisible = False  # an integer tensor never requires grad
        self.save_for_backward(x, constant(divisible))
        return self._out(out, axis)

    def backward(self, grad: Any) -> Any:
        x, divisible = self.saved
        ax, shape = self.axis, self.flat_shape
        x, g = x.reshape(shape), grad.reshape(shape)
        if divisible:
            return V.first_order(grad, lambda: self._back(_rev_cumsum(g * np.cumprod(x, ax), ax)
                                                          / x), lambda: self._table(x, g))
        return self._table(x, g)

    def _table(self, x: Any, g: Any) -> Any:
        """The division-free gradient (see the class docstring), on arrays or Tensors."""
        ax, shape = self.axis, self.flat_shape
        last = len(shape) - 1
        perm = (*(i for i in range(last + 1) if i != ax), ax)
        xm, gm = x.transpose(perm), g.transpose(perm)
        n, lead = shape[ax], xm.shape[:-1]
        later = np.triu(np.ones((n, n), dtype=bool), 1)  # [k, j]: j > k
        table = _cumprod(V.where(later, xm.reshape((*lead, 1, n)), 1), -1)  # prod_{k<j<=i}
        tail = (V.where(np.triu(np.ones((n, n), dtype=bool)), table, 0)
                * gm.reshape((*lead, 1, n))).sum(axis=-1)
        ones = np.ones((*lead, 1), dtype=xm.dtype)
        head = _cumprod(np.concatenate([ones, xm[..., : n - 1]], axis=-1), -1)
        return self._back((head * tail).transpose(tuple(np.argsort(perm))))

    def jvp(self, t: Any) -> Any:
        """d y_i = sum_{k <= i} t_k prod_{j <= i, j != k} x_j: y_i * cumsum(t / x)_i where
        that division is safe (as backward decides), else the division-free table."""
        x, divisible = self.saved
        ax, shape = self.axis, self.flat_shape
        x, t = x.reshape(shape), t.reshape(shape)
        if divisible:  # the quotient only on arrays: recorded (x or t a Tensor, so that the
            # tangent is differentiated) its derivative cancels as backward's does
            def quotient() -> Any:
                return (_cumsum(t / x, ax) * np.cumprod(x, ax)).reshape(self._shape)

            def table() -> Any:
                return self._table_jvp(x, t)

            return V.first_order(x, lambda: V.first_order(t, quotient, table), table)
        return self._table_jvp(x, t)

    def _table_jvp(self, x: Any, t: Any) -> Any:
        """The division-free tangent: sum over k <= i of t_k * (prod_{j < k} x_j) *
        (prod_{k < j <= i} x_j), from the (n, n) table of partial products `_table` uses."""
        ax, shape = self.axis, self.flat_shape
        last = len(shape) - 1
        perm = (*(i for i in range(last + 1) if i != ax), ax)
        xm, tm = x.transpose(perm), t.transpose(perm)
        n, lead = shape[ax], xm.shape[:-1]
        later = np.triu(np.ones((n, n), dtype=bool), 1)
        table = _cumprod(V.where(later, xm.reshape((*lead, 1, n)), 1), -1)
        ones = np.ones((*lead, 1), dtype=xm.dtype)
        head = _cumprod(np.concatenate([ones, xm[..., : n - 1]], axis=-1), -1)
        weighted = (head * tm).reshape((*lead, n, 1))
        out = (V.where(np.triu(np.ones((n, n), dtype=bool)), table, 0) * weighted).sum(axis=-2)
        return out.transpose(tuple(int(a) for a in np.argsort(perm))).reshape(self._shape)


class LogCumSumExp(_Scan):
    """logcumsumexp(x, axis): y_i = log(sum_{j <= i} exp(x_j)), by logaddexp, stable.
    d/dx_k = sum_{i >= k} g_i exp(x_k - y_i), computed as exp(x_k + revlogcumsumexp(log g - y))
    for the positive and negative parts of g (no term exceeds 1: no overflow)."""

    def forward(self, x: np.ndarray, axis: Any = None) -> np.ndarray:
        flat, self.axis = self._setup(x, axis)
        out = self._out(np.logaddexp.accumulate(flat, axis=self.axis), axis)
        self.save_for_backward(x, out)
        return out

    def backward(self, grad: Any) -> Any:
        x, y = self.saved
        ax, shape = self.axis, self.flat_shape
        x, y, g = x.reshape(shape), y.reshape(shape), grad.reshape(shape)
        # a -inf input adds nothing (gradient 0); the -inf of y before a slice's first finite
        # x meets only such inputs, so it is replaced by 0 to keep inf - inf out of the formula
        xinf, yinf = V.mask(np.isneginf, x), V.mask(np.isneginf, y)
        if xinf.any():
            x = V.where(xinf, 0, x)
        if yinf.any():
            y = V.where(yinf, 0, y)
        out = None
        for sign, part in ((1.0, V.mask(np.greater, g, 0)), (-1.0, V.mask(np.less, g, 0))):
            if not part.any():
                continue
            log_g = V.where(part, V.log(V.where(part, g * sign, 1)), -np.inf)
            rev = _flip(_logcumsumexp(_flip(log_g - y, ax), ax), ax)
            term = V.exp(x + rev) * sign
            out = term if out is None else out + term
        if out is None:
            return V.zeros_like(g).reshape(self.in_shape)
        if xinf.any():
            out = V.where(xinf, 0, out)
        return self._back(out)

    def jvp(self, t: Any) -> Any:
        """d y_i = sum_{j <= i} exp(x_j - y_i) t_j, as exp(logcumsumexp(x + log t) - y) for
        the positive and negative parts of t (no term exceeds 1: no overflow)."""
        x, y = self.saved
        ax, shape = self.axis, self.flat_shape
        x, y, t = x.reshape(shape), y.reshape(shape), t.reshape(shape)
        yinf = V.mask(np.isneginf, y)  # nothing finite yet: the tangent is 0 there
        if yinf.any():
            y = V.where(yinf, 0, y)
        out = None
        for sign, part in ((1.0, V.mask(np.greater, t, 0)), (-1.0, V.mask(np.less, t, 0))):
            if not part.any():
                continue
            log_t = V.where(part, V.log(V.where(part, t * sign, 1)), -np.inf)
            term = V.exp(_logcumsumexp(x + log_t, ax) - y) * sign
            out = term if out is None else out + term
        if out is None:
            return V.zeros_like(t).reshape(self._shape)
        if yinf.any():
            out = V.where(yinf, 0, out)
        return out.reshape(self._shape)


def _scan_arg(op: str, axis: Any, dim: Any) -> Any:
    return _one_axis(op, axis, dim, None)


@register(method=True, numpy=np.cumsum)
def cumsum(x: Any, axis: Any = None, *, dim: Any = _UNSET) -> Tensor:
    """Cumulative sum along `axis` (None: along the flattened input, as NumPy)."""
    return CumSum.apply(tensor_arg(x, "cumsum"), axis=_scan_arg("cumsum", axis, dim))


@register(method=True, numpy=np.cumprod)
def cumprod(x: Any, axis: Any = None, *, dim: Any = _UNSET) -> Tensor:
    """Cumulative product along `axis` (None: flattened); the gradient is right with zeros."""
    return CumProd.apply(tensor_arg(x, "cumprod"), axis=_scan_arg("cumprod", axis, dim))


@register(method=True)
def logcumsumexp(x: Any, axis: Any = None, *, dim: Any = _UNSET) -> Tensor:
    """log(cumsum(exp(x))) along `axis` (None: flattened) without overflow."""
    return LogCumSumExp.apply(_floats(x, "logcumsumexp"),
                              axis=_scan_arg("logcumsumexp", axis, dim))


# the scans as words of the backward vocabulary: NumPy on arrays, the recorded op on Tensors
_cumsum = V.dual(lambda a, axis: np.cumsum(a, axis=axis), cumsum)
_cumprod = V.dual(lambda a, axis: np.cumprod(a, axis=axis), cumprod)
_logcumsumexp = V.dual(lambda a, axis: np.logaddexp.accumulate(a, axis=axis), logcumsumexp)


# ---------------------------------------------------------------------------------- prod
class Prod(Function):
    """prod(x, axis).   d/dx_k = product of the other elements of its slice, formed as the
    product of the exclusive cumulative products from the left and from the right: right
    with one zero (the zero's gradient is the product of the rest) and with several (0)."""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        self.axes = normalize_axis(axis, x.ndim, "prod")
        self.keepdims, self.kshape = keepdims, kept_shape(x.shape, self.axes)
        self.save_for_backward(x)
        return np.asarray(np.prod(x, axis=self.axes, keepdims=keepdims))

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        g = grad if self.keepdims else grad.reshape(self.kshape)
        if x.size == 0:
            return V.zeros_like(x)
        kept = [i for i in range(x.ndim) if i not in self.axes]
        perm = (*kept, *self.axes)
        moved = x.transpose(perm) if x.ndim else x.reshape(1)
        rows = moved.reshape((*moved.shape[: len(kept)], -1))
        n = rows.shape[-1]
        ones = np.ones((*rows.shape[:-1], 1), dtype=rows.dtype)
        left = _cumprod(np.concatenate([ones, rows[..., : n - 1]], axis=-1), -1)
        right = _flip(_cumprod(np.concatenate([ones, _flip(rows, -1)[..., : n - 1]], axis=-1),
                               -1), -1)
        others = (left * right).reshape(moved.shape)
        if x.ndim == 0:
            return g * others.reshape(())
        return g * others.transpose(tuple(np.argsort(perm)))

    def jvp(self, t: Any) -> Any:
        """A reduction: the slice's partial derivatives times t, summed (V.reduction_jvp)."""
        return V.reduction_jvp(self, t)


@register(method=True, numpy=np.prod)
def prod(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,
         keepdim: bool | None = None) -> Tensor:
    """Product over `axis` (int, tuple or None); the gradient is right with zeros."""
    axis, keepdims = _alias("prod", axis, dim, keepdims, keepdim)
    return Prod.apply(tensor_arg(x, "prod"), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------------- norm
def _order(op: str, ord: Any) -> float:  # noqa: A002 - NumPy's name
    if isinstance(ord, bool) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise ValueError(f"{op}: invalid norm order {ord!r} for a vector norm")
    return float(ord)


class VectorNorm(Function):
    """||x||_p over `axis`: (sum |x|^p) ** (1/p); inf: max |x|; -inf: min |x|; 0: count of
    nonzeros.   d/dx = sign(x) |x|^(p-1) / ||x||^(p-1) (0 where the norm is 0, as PyTorch);
    inf/-inf: sign(x) shared equally among the elements of largest (smallest) |x|; 0: none"""

    def forward(self, x: np.ndarray, ord: float = 2.0, axis: Any = None,  # noqa: A002
                keepdims: bool = False) -> np.ndarray:
        self.axes = normalize_axis(axis, x.ndim, "norm")
        self.keepdims, self.kshape, self.ord = keepdims, kept_shape(x.shape, self.axes), ord
        a = np.abs(x)
        if np.isinf(ord):
            if x.size == 0 and builtins.any(x.shape[i] == 0 for i in self.axes):
                raise ValueError(f"norm: ord={ord} of an empty axis of shape {x.shape}")
            out = (np.max if ord > 0 else np.min)(a, axis=self.axes, keepdims=keepdims)
        elif ord == 0:
            out = (a != 0).sum(axis=self.axes, keepdims=keepdims).astype(x.dtype)
        elif ord == 1:
            out = a.sum(axis=self.axes, keepdims=keepdims)
        elif ord == 2:
            out = np.sqrt((x * x).sum(axis=self.axes, keepdims=keepdims))
        else:
            out = (a**ord).sum(axis=self.axes, keepdims=keepdims) ** (1.0 / ord)
        out = np.asarray(out, dtype=x.dtype)
        self.save_for_backward(x, out)
        return out

    def backward(self, grad: Any) -> Any:
        x, out = self.saved
        g = grad if self.keepdims else grad.reshape(self.kshape)
        n = out if self.keepdims else out.reshape(self.kshape)
        p = self.ord
        sign = V.mask(np.sign, x)
        if p == 0:
            return V.zeros_like(x)
        if p == 1:
            return g * sign
        if np.isinf(p):
            hit = V.mask(lambda a, m: np.abs(a) == m, x, n).astype(sign.dtype)
            return g * sign * (hit / hit.sum(axis=self.axes, keepdims=True))
        zero = V.mask(np.equal, n, 0)
        safe = V.where(zero, 1, n) if zero.any() else n
        if p == 2:
            scaled = x / safe
        else:
            # |x| ** (p - 1) at x = 0 would be inf for p < 1: sign(0) = 0 makes those 0
            flat = V.mask(np.equal, x, 0)
            size = np.abs(x) if not flat.any() else V.where(flat, 1, np.abs(x))
            scaled = sign * size ** (p - 1) / safe ** (p - 1)
        return g * (V.where(zero, 0, scaled) if zero.any() else scaled)

    def jvp(self, t: Any) -> Any:
        """A reduction: the slice's partial derivatives times t, summed (V.reduction_jvp)."""
        return V.reduction_jvp(self, t)


def _matrix_norm(x: Tensor, ord: Any, axes: tuple[int, int], keepdims: bool) -> Tensor:  # noqa: A002
    """NumPy's matrix norms 1, -1, inf, -inf (max/min of absolute column or row sums)."""
    if ord in ("nuc", 2, -2):
        raise ValueError(f"norm: the matrix norm ord={ord!r} (singular values) is not "
                         "supported; use ord='fro' or a vector norm over one axis")
    if ord not in (1, -1, np.inf, -np.inf):
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    row, col = axes
    summed, over = (row, col) if ord in (1, -1) else (col, row)
    if x.shape[over] == 0:
        raise ValueError(f"norm: the matrix norm ord={ord!r} of an empty axis (input shape "
                         f"{x.shape})")
    sums = np.abs(x).sum(axis=summed, keepdims=True)
    out = sums.max(axis=over, keepdims=True) if ord > 0 else sums.min(axis=over, keepdims=True)
    return out if keepdims else out.squeeze(axes)


@register(method=True, numpy=np.linalg.norm)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False, *,  # noqa: A002
         p: Any = _UNSET, dim: Any = _UNSET, keepdim: bool | None = None) -> Tensor:
    """A vector or matrix norm, as np.linalg.norm: ord=None is the 2-norm of the flattened
    input (the Frobenius norm of a matrix); a number (inf, -inf, 0, 1, 2, any p) with an int
    axis, or a 1-D input, is the vector p-norm; with two axes (or a 2-D input), 'fro' and the
    matrix norms 1, -1, inf, -inf. PyTorch's `p=` takes the vector p-norm over `dim` (all
    elements when None), as torch.norm does."""
    x = _floats(x, "norm")
    axis, keepdims = _alias("norm", axis, dim, keepdims, keepdim)
    if p is not _UNSET:
        if ord is not None:
            raise TypeError("norm: give ord or p, not both")
        order = 2.0 if p == "fro" or p is None else _order("norm", p)
        return VectorNorm.apply(x, ord=order, axis=axis, keepdims=keepdims)
    if axis is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        axes = (axis,)
    if ord is None and (axis is None or len(axes) in (1, 2)):
        return VectorNorm.apply(x, ord=2.0, axis=axis, keepdims=keepdims)
    if ord == "fro" and len(axes) == 2:
        return VectorNorm.apply(x, ord=2.0, axis=axes, keepdims=keepdims)
    if len(axes) == 1:
        return VectorNorm.apply(x, ord=_order("norm", ord), axis=axes, keepdims=keepdims)
    if len(axes) == 2:
        normalized = normalize_axis(axes, x.ndim, "norm")
        if len(normalized) == 2:
            return _matrix_norm(x, ord, tuple(a % x.ndim for a in axes), keepdims)
    raise ValueError(f"norm: ord={ord!r} needs one axis (a vector norm) or two (a matrix "
                     f"norm), got axis={axis!r} for a tensor of dimension {x.ndim}")


# ------------------------------------------------------------ results without a gradient
def _arg_reduce(op: str, fn: Any, x: Any, axis: Any, keepdims: bool) -> Tensor:
    x = tensor_arg(x, op)
    a = x.data
    if axis is not None:
        axis = normalize_one_axis(axis, builtins.max(a.ndim, 1), op)
        if a.ndim == 0:
            return _make(np.zeros((), dtype=np.int64))
    elif a.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
    if axis is not None and a.shape[axis] == 0:
        raise ValueError(f"{op}: cannot reduce an empty axis of shape {a.shape}")
    return _make(np.asarray(fn(a, axis=axis, keepdims=keepdims), dtype=np.int64))


@register(method=True, numpy=np.argmax)
def argmax(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,
           keepdim: bool | None = None) -> Tensor:
    """Index of the largest element along `axis` (of the flattened input when None): an
    int64 Tensor, no gradient. The first one among ties; nan counts as the largest."""
    axis, keepdims = _alias("argmax", axis, dim, keepdims, keepdim)
    return _arg_reduce("argmax", np.argmax, x, axis, keepdims)


@register(method=True, numpy=np.argmin)
def argmin(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,
           keepdim: bool | None = None) -> Tensor:
    """Index of the smallest element along `axis` (see argmax)."""
    axis, keepdims = _alias("argmin", axis, dim, keepdims, keepdim)
    return _arg_reduce("argmin", np.argmin, x, axis, keepdims)


def _truth(op: str, fn: Any, x: Any, axis: Any, keepdims: bool) -> Tensor:
    a = tensor_arg(x, op).data
    return _make(np.asarray(fn(a, axis=normalize_axis(axis, a.ndim, op), keepdims=keepdims)))


@register(method=True, numpy=np.any)
def any(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:
    """True where some element along `axis` is nonzero: a bool Tensor, no gradient."""
    axis, keepdims = _alias("any", axis, dim, keepdims, keepdim)
    return _truth("any", np.any, x, axis, keepdims)


@register(method=True, numpy=np.all)
def all(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,  # noqa: A001
        keepdim: bool | None = None) -> Tensor:
    """True where every element along `axis` is nonzero: a bool Tensor, no gradient."""
    axis, keepdims = _alias("all", axis, dim, keepdims, keepdim)
    return _truth("all", np.all, x, axis, keepdims)


# ---------------------------------------------------------------------------------- sorting
def _order_of(op: str, a: np.ndarray, axis: Any, descending: bool) -> tuple[np.ndarray, int]:
    """The sorting permutation of `a` along `axis` (a 0-d array as one element): stable, so
    ties keep their order in either direction, and nan last ascending, first descending (as
    PyTorch)."""
    if a.ndim == 0:
        normalize_one_axis(axis, 1, op)
        return np.zeros((), dtype=np.int64), 0
    ax = normalize_one_axis(axis, a.ndim, op)
    if not descending:
        return np.argsort(a, axis=ax, kind="stable"), ax
    n = a.shape[ax]
    return n - 1 - _flip(np.argsort(_flip(a, ax), axis=ax, kind="stable"), ax), ax


class Sort(Function):
    """The values of x sorted along `axis` (the first k of them: topk).   The gradient of each
    value goes back to the position it came from: a gather by the inverse permutation of the
    (zero-padded) incoming gradient"""

    def forward(self, x: np.ndarray, axis: int = -1, descending: bool = False,
                k: int | None = None) -> np.ndarray:
        order, ax = _order_of(self.name.lower(), x, axis, descending)
        self.axis, self.k, self.in_shape = ax, k, x.shape
        if x.ndim == 0:
            return x.copy()
        if k is not None:
            order = order[(slice(None),) * ax + (slice(0, k),)]
        self.save_for_backward(constant(order))
        return x[_along(order, ax)]

    def backward(self, grad: Any) -> Any:
        if not self.in_shape:
            return grad
        (order,) = self.saved
        ax, n = self.axis, self.in_shape[self.axis]
        if self.k is not None and self.k < n:
            pad_shape = list(order.shape)
            pad_shape[ax] = n - self.k
            grad = np.concatenate([grad, np.zeros(pad_shape, dtype=grad.dtype)], axis=ax)
            full = np.zeros(self.in_shape, dtype=np.int64)
            full[_along(order, ax)] = 1  # the positions taken; the rest get the padding
            rest = np.argsort(full, axis=ax, kind="stable")
            rest = rest[(slice(None),) * ax + (slice(0, n - self.k),)]
            order = np.concatenate([order, rest], axis=ax)
        inverse = np.argsort(order, axis=ax)
        return grad[_along(inverse, ax)]

    def jvp(self, t: Any) -> Any:
        if not self.in_shape:
            return t
        (order,) = self.saved
        return t[_along(order, self.axis)]


class TopK(Sort):
    """topk: the k largest (or smallest) values along `axis` (see Sort)."""


def _one_axis(op: str, axis: Any, dim: Any, default: Any = -1) -> Any:
    """`axis`, or PyTorch's `dim` when given (then `axis` must be left at its default)."""
    if dim is _UNSET:
        return axis
    if axis is not default:
        raise TypeError(f"{op}: give axis or dim, not both")
    return dim


def _sort_kw(op: str, axis: Any, dim: Any, kind: Any, order: Any) -> Any:
    if order is not None:
        raise TypeError(f"{op}: order= (structured arrays) is not supported")
    if kind not in (None, "quicksort", "mergesort", "heapsort", "stable"):
        raise ValueError(f"{op}: unknown sort kind {kind!r}")
    return _one_axis(op, axis, dim)


@register(method=True, numpy=np.sort)
def sort(x: Any, axis: Any = -1, kind: str | None = None, order: Any = None, *,
         descending: bool = False, stable: bool | None = None, dim: Any = _UNSET) -> Tensor:
    """The values sorted along `axis` (NumPy's signature; `mt.argsort` gives the indices).
    Always a stable sort (ties keep their order, whatever `kind`); `descending=True` puts the
    largest first, nan first. Each value's gradient goes back to its original position."""
    axis = _sort_kw("sort", axis, dim, kind, order)
    x = tensor_arg(x, "sort")
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    return Sort.apply(x, axis=axis, descending=bool(descending))


@register(method=True, numpy=np.argsort)
def argsort(x: Any, axis: Any = -1, kind: str | None = None, order: Any = None, *,
            descending: bool = False, stable: bool | None = None, dim: Any = _UNSET) -> Tensor:
    """The indices that sort `x` along `axis` (stable; see `sort`): an int64 Tensor, no
    gradient."""
    axis = _sort_kw("argsort", axis, dim, kind, order)
    a = tensor_arg(x, "argsort").data
    if axis is None:
        a, axis = a.reshape(-1), 0
    return _make(np.asarray(_order_of("argsort", a, axis, bool(descending))[0], dtype=np.int64))


@register(method=True)
def topk(x: Any, k: int, axis: Any = -1, largest: bool = True, sorted: bool = True, *,  # noqa: A002
         dim: Any = _UNSET) -> tuple[Tensor, Tensor]:
    """The k largest (`largest=False`: smallest) elements along `axis`, as PyTorch's
    torch.topk: (values, indices), values in sorted order (always; `sorted` is accepted).
    Ties are taken in index order; the gradient goes back to the values' positions."""
    axis = _one_axis("topk", axis, dim)
    x = tensor_arg(x, "topk")
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"topk: k must be an int, got {k!r}") from None
    ax = normalize_one_axis(axis, builtins.max(x.ndim, 1), "topk")
    n = x.shape[ax] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for an axis of size {n} "
                         f"(input shape {x.shape})")
    order, _ = _order_of("topk", x.data, ax, bool(largest))
    indices = order if x.ndim == 0 else order[(slice(None),) * ax + (slice(0, k),)]
    return TopK.apply(x, axis=ax, descending=bool(largest), k=k), _make(
        np.asarray(indices, dtype=np.int64))


# ---------------------------------------------------------------------------------- median
@register(method=True, numpy=np.median)
def median(x: Any, axis: Any = None, keepdims: bool = False, *, dim: Any = _UNSET,
           keepdim: bool | None = None) -> Tensor:
    """The median over `axis` (int, tuple or None), as NumPy's: the mean of the two middle
    values of an even-sized slice (PyTorch's torch.median takes the lower one), nan for a
    slice holding nan or none. Composed of sort, indexing and a mean, so the gradient goes to
    the middle element (1/2 to each of the two middle ones)."""
    axis, keepdims = _alias("median", axis, dim, keepdims, keepdim)
    x = _floats(x, "median")
    axes = normalize_axis(axis, x.ndim, "median")
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if n == 0:  # NumPy's median of an empty slice: nan
        return x.sum(axis=axes, keepdims=keepdims) * np.nan
    kept = [i for i in range(x.ndim) if i not in axes]
    rows = x.transpose((*kept, *axes)) if x.ndim else x
    rows = rows.reshape((*(x.shape[i] for i in kept), n))
    ordered = sort(rows, -1)
    out = (ordered[..., (n - 1) // 2] + ordered[..., n // 2]) * 0.5
    missing = np.isnan(rows.data).any(axis=-1)
    if missing.any():
        out = V.where(missing, np.nan, out)
    return out.reshape(_reduced(x.data, axes, keepdims))
