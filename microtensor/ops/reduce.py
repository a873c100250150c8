"""Reductions (sum, mean, max, min, logsumexp) and the softmax family.

softmax and log_softmax are fused ops rather than compositions of exp/sum/div: one node instead
of five, and a backward that never divides by a sum that underflowed (see each docstring).
Each also takes PyTorch's names `dim=` and `keepdim=` for `axis=` and `keepdims=`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, constant
from ..shapes import kept_shape, normalize_axis, normalize_one_axis
from ..tensor import Tensor, _make
from . import vocab as V
from ._util import tensor_arg
from .registry import register


class _Reduction(Function):
    """Shared setup: normalised axes and the keepdims shape, for backward to re-expand."""

    def _setup(self, x: np.ndarray, axis: Any, keepdims: bool) -> tuple[int, ...]:
        axes = normalize_axis(axis, x.ndim, self.name.lower())
        self.axes, self.keepdims = axes, keepdims
        self.in_shape, self.kshape = x.shape, kept_shape(x.shape, axes)
        return axes

    def _expand(self, grad: Any) -> Any:
        """Reshape a reduced gradient to keepdims form, ready to broadcast against x."""
        return grad if self.keepdims else grad.reshape(self.kshape)

    # -- code templates (mt.compile, see microtensor.compiler.Emit)
    def _emit_reduce(self, e: Any, method: str) -> list[str]:
        x = e.values[0]
        axis, keepdims = e.kwargs.get("axis"), bool(e.kwargs.get("keepdims", False))
        axes = normalize_axis(axis, np.ndim(x), method)
        asarray = e.fn("asarray", np.asarray, "numpy")
        return [f"{e.out} = {asarray}({e.args[0]}.{method}(axis={axes!r}, "
                f"keepdims={keepdims!r}))"]

    def _emit_expand(self, e: Any) -> str:
        return e.grad if self.keepdims else f"{e.grad}.reshape({self.kshape!r})"

    def _emit_fill(self, e: Any, value: str) -> tuple[list[str], list[Any]]:
        d = e.targets[0]
        empty = e.fn("empty", np.empty, "numpy")
        return [f"{d} = {empty}({self.in_shape!r}, {str(e.out_value.dtype)!r})",
                f"{d}[...] = {value}"], [d]


class Sum(_Reduction):
    """sum(x, axis).   d/dx = 1 (the gradient is broadcast back over the summed axes)"""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = self._setup(x, axis, keepdims)
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    def backward(self, grad: Any) -> Any:
        return V.broadcast_to(self._expand(grad), self.in_shape)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit): the axes normalised
        when traced."""
        return self._emit_reduce(e, "sum")

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: V.broadcast_to's new array filled with the gradient."""
        return self._emit_fill(e, self._emit_expand(e))

    def jvp(self, t: Any) -> Any:
        return t.sum(axis=self.axes, keepdims=self.keepdims)


class Mean(_Reduction):
    """mean(x, axis).   d/dx = 1 / n, n = number of elements averaged"""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = self._setup(x, axis, keepdims)
        self.count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    def backward(self, grad: Any) -> Any:
        return V.broadcast_to(self._expand(grad) / (self.count or 1), self.in_shape)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return self._emit_reduce(e, "mean")

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: the gradient over the count, filled into a new array."""
        return self._emit_fill(e, f"{self._emit_expand(e)} / {self.count or 1}")

    def jvp(self, t: Any) -> Any:
        return t.mean(axis=self.axes, keepdims=self.keepdims)


class Max(_Reduction):
    """max(x, axis).   d/dx = 1 / k at the k tied maxima of each slice, 0 elsewhere"""

    _reduce = staticmethod(np.max)

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = self._setup(x, axis, keepdims)
        if x.size == 0 and any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name.lower()}: cannot reduce an empty axis of shape {x.shape}")
        out = self._reduce(x, axis=axes, keepdims=True)
        self.save_for_backward(constant(x == out))
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape)
                                                      if i not in axes))

    def backward(self, grad: Any) -> Any:
        (mask,) = self.saved  # a constant: always an array
        mask = mask.astype(grad.dtype)
        return self._expand(grad) * (mask / mask.sum(axis=self.axes, keepdims=True))

    def jvp(self, t: Any) -> Any:
        """A reduction: the slice's partial derivatives times t, summed (V.reduction_jvp)."""
        return V.reduction_jvp(self, t)


class Min(Max):
    """min(x, axis).   d/dx = 1 / k at the k tied minima of each slice, 0 elsewhere"""

    _reduce = staticmethod(np.min)


class LogSumExp(_Reduction):
    """logsumexp(x, axis).   d/dx = exp(x - out) = softmax(x)  (0 for an all -inf slice)"""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = self._setup(x, axis, keepdims)
        shifted, self.shift = _shifted(x, axes)
        out = _log_sum_exp_shifted(shifted, axes) + self.shift
        if not keepdims:
            out = out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
        self.save_for_backward(x)
        return out

    def backward(self, grad: Any) -> Any:
        # softmax recomputed from x - max, not exp(x - out): `out` carries the rounding of the
        # large max (float32 at x = 4096: relative error 2e-4). The max is a constant here:
        # the softmax does not depend on the shift.
        (x,) = self.saved
        e = V.exp(x - self.shift)
        total = e.sum(axis=self.axes, keepdims=True)
        empty = V.mask(np.equal, total, 0)  # an all -inf slice: zero gradient, not 0 / 0
        if empty.any():
            total = V.where(empty, 1, total)
        # only a slice holding +inf (whose shift fell back to 0) sums to inf: there the result
        # is inf and, as PyTorch's exp(x - out) gives, d/dx is nan at each +inf and 0 elsewhere
        top = V.mask(np.isposinf, total)
        if top.any():
            with np.errstate(invalid="ignore"):  # inf - inf
                e = V.where(top, V.exp(x - np.inf), e)
            total = V.where(top, 1, total)
        return self._expand(grad) * (e / total)

    def jvp(self, t: Any) -> Any:
        """A reduction: the slice's partial derivatives times t, summed (V.reduction_jvp)."""
        return V.reduction_jvp(self, t)


def _shifted(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """x minus its (finite) max over `axes`, and that max: every exp(shifted) is <= 1."""
    shift = V.max_keepdims(x, axes)
    shift = np.where(np.isfinite(shift), shift, 0).astype(x.dtype)
    return x - shift, shift


def _log_sum_exp_shifted(shifted: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log(sum(exp(shifted))) over `axes`, keepdims, for an already shifted array."""
    with np.errstate(divide="ignore"):  # an all -inf slice: log(0) = -inf, on purpose
        return np.log(np.exp(shifted).sum(axis=axes, keepdims=True))


class Softmax(Function):
    """softmax(x, axis).   Jacobian-vector product: d/dx = s * (g - sum(g * s, axis))"""

    def forward(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        self.axis = normalize_one_axis(axis, x.ndim, "softmax")
        e = np.exp(x - V.max_keepdims(x, self.axis))
        out = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        gs = grad * out
        return gs - out * gs.sum(axis=self.axis, keepdims=True)

    def jvp(self, t: Any) -> Any:
        return self.backward(t)  # the Jacobian diag(s) - s s^T is symmetric


class LogSoftmax(Function):
    """log_softmax(x, axis) = x - logsumexp(x).   d/dx = g - softmax(x) * sum(g, axis)"""

    def forward(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        self.axis = normalize_one_axis(axis, x.ndim, "log_softmax")
        # (x - max) - log(sum(exp(x - max))), never x - (max + log(...)): adding and then
        # subtracting a large max would cost float32 its last digits (x = 512: error 3e-5)
        shifted, _ = _shifted(x, (self.axis,))
        out = shifted - _log_sum_exp_shifted(shifted, (self.axis,))
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad - np.exp(out) * grad.sum(axis=self.axis, keepdims=True)

    def jvp(self, t: Any) -> Any:
        """d out = t - sum(softmax(x) * t, axis)"""
        (out,) = self.saved
        return t - (np.exp(out) * t).sum(axis=self.axis, keepdims=True)


def _floats(x: Any, op: str) -> Tensor:
    """The argument of logsumexp and the softmax family as a float Tensor: their results are
    floats, as NumPy's exp makes them, and the max they shift by starts from -inf (which an
    integer array cannot hold). Integer and bool tensors become float64; they never require
    grad, so no graph is cut."""
    x = x if isinstance(x, Tensor) else tensor_arg(x, op)
    return x if x.data.dtype.kind == "f" else _make(x.data.astype(np.float64))


def torch_names(op: str, axis: Any, keepdims: bool, dim: Any, keepdim: Any,
                default: Any = None) -> tuple[Any, bool]:
    """`axis` and `keepdims`, with PyTorch's `dim` and `keepdim` in their place when given
    (callers test `dim is not None or keepdim is not None` first, so the usual call pays one
    comparison). Giving both names of one argument is a TypeError: silently preferring one
    would hide a mistake. `default` is the op's own default for `axis` (-1 for softmax), which
    cannot be told apart from `axis` not given."""
    if dim is not None:
        if axis is not default and axis != default:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; dim is PyTorch's "
                            "name for axis, give one of them")
        axis = dim
    if keepdim is not None:
        if keepdims is not False:
            raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                            "keepdim is PyTorch's name for keepdims, give one of them")
        keepdims = bool(keepdim)
    return axis, keepdims


@register(method=True, numpy=np.sum)
def sum(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Sum over `axis` (int, tuple, negative or None for all)."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "sum")
    if dim is not None or keepdim is not None:  # PyTorch's names
        axis, keepdims = torch_names("sum", axis, keepdims, dim, keepdim)
    return Sum.apply(x, axis=axis, keepdims=keepdims)


@register(method=True, numpy=np.mean)
def mean(x: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Mean over `axis`."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "mean")
    if dim is not None or keepdim is not None:  # PyTorch's names
        axis, keepdims = torch_names("mean", axis, keepdims, dim, keepdim)
    return Mean.apply(x, axis=axis, keepdims=keepdims)


@register(method=True, numpy=(np.max, np.amax))
def max(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Maximum over `axis`; tied maxima share the gradient equally."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "max")
    if dim is not None or keepdim is not None:  # PyTorch's names
        axis, keepdims = torch_names("max", axis, keepdims, dim, keepdim)
    return Max.apply(x, axis=axis, keepdims=keepdims)


@register(method=True, numpy=(np.min, np.amin))
def min(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Minimum over `axis`; tied minima share the gradient equally."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "min")
    if dim is not None or keepdim is not None:  # PyTorch's names
        axis, keepdims = torch_names("min", axis, keepdims, dim, keepdim)
    return Min.apply(x, axis=axis, keepdims=keepdims)


@register(method=True)
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,
              keepdim: bool | None = None) -> Tensor:
    """log(sum(exp(x), axis)) without overflow; an all -inf slice gives -inf."""
    if not isinstance(x, Tensor) or x.data.dtype.kind != "f":
        x = _floats(x, "logsumexp")
    if dim is not None or keepdim is not None:  # PyTorch's names
        axis, keepdims = torch_names("logsumexp", axis, keepdims, dim, keepdim)
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


@register(method=True)
def softmax(x: Any, axis: int = -1, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x), axis) without overflow."""
    if dim is not None:  # PyTorch's name
        axis, _ = torch_names("softmax", axis, False, dim, None, -1)
    if not isinstance(x, Tensor) or x.data.dtype.kind != "f":
        x = _floats(x, "softmax")
    return Softmax.apply(x, axis=axis)


@register(method=True)
def log_softmax(x: Any, axis: int = -1, dim: int | None = None) -> Tensor:
    """x - logsumexp(x, axis) without overflow."""
    if dim is not None:  # PyTorch's name
        axis, _ = torch_names("log_softmax", axis, False, dim, None, -1)
    if not isinstance(x, Tensor) or x.data.dtype.kind != "f":
        x = _floats(x, "log_softmax")
    return LogSoftmax.apply(x, axis=axis)
