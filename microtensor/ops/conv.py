"""Convolution and pooling ops (PyTorch's layouts: NCHW input, weight (out, in/groups, kh, kw)).

Convolution is one bilinear form seen three ways, so three Functions whose backwards call each
other and derivatives of any order come out: `Conv` y = conv(x, w); `ConvTranspose`
x' = conv_transpose(y', w), the adjoint of conv in x (PyTorch's conv_transpose2d); and
`ConvWeight` w' = the adjoint of conv in w. d conv / dx is a ConvTranspose of the gradient,
d conv / dw a ConvWeight of x and the gradient, and so on around the triangle. Each forward is
one im2col copy (a strided window view, `as_strided`) and one BLAS product; ConvTranspose adds
the columns back with a loop over the kh*kw kernel positions (never over pixels).

1-D convolutions are 2-D ones with a height of 1. Average pooling is a convolution with a
constant kernel of ones followed by a constant divisor, so it inherits every order of
derivative; max pooling (`MaxPool`) keeps the flat index of each window's maximum (the first
maximum in window order, PyTorch's convention on CPU: a later equal value does not replace it,
a nan does) and sends the gradient there; `MaxUnpool` puts values back at such indices.
Adaptive average pooling and the linear interpolation modes are products with constant
matrices (one per spatial axis); nearest interpolation is an index.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..function import Function, constant
from ..tensor import Tensor
from ._util import tensor_arg
from .shape import _scatter_add

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "interpolate", "max_pool1d", "max_pool2d", "max_unpool2d",
]

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]


# ------------------------------------------------------------------------ array kernels
def _pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) with (top, bottom), (left, right) borders of `value`."""
    (t, b), (left, r) = pads
    if not (t or b or left or r):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + t + b, w + left + r), value, dtype=x.dtype)
    out[:, :, t:t + h, left:left + w] = x
    return out


def _size(padded: int, k: int, s: int, d: int) -> int:
    """Output length of a window of k taps, d apart, every s along `padded` elements."""
    return (padded - d * (k - 1) - 1) // s + 1


def _windows(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair,
             out_hw: Pair) -> np.ndarray:
    """Read-only view (N, C, kh, kw, Ho, Wo) of every window of the padded input."""
    sn, sc, sh, sw = xp.strides
    n, c = xp.shape[:2]
    return as_strided(xp, (n, c, *kernel, *out_hw),
                      (sn, sc, dilation[0] * sh, dilation[1] * sw, stride[0] * sh,
                       stride[1] * sw), writeable=False)


# The convolution kernels work in a (C, H, W, N) layout, batch last: a window row of every
# image is then one contiguous run of Wo * N elements, so the im2col copy and the col2im adds
# move long runs instead of rows of a few pixels (several times faster at LeNet's sizes). The
# price is one transposing copy of the input and of the output, each kh*kw times smaller than
# the columns. They take any number of spatial axes (1-D convolutions use height 1, 3-D ones
# a depth axis more).
def _chwn(x: np.ndarray, pads: tuple[Pair, ...]) -> np.ndarray:
    """x (N, C, *spatial) as a C-contiguous (C, *padded spatial, N), zero borders."""
    moved = x.transpose(*range(1, x.ndim), 0)
    if not any(p0 or p1 for p0, p1 in pads):
        return np.ascontiguousarray(moved)
    out = np.zeros((x.shape[1], *(n + p0 + p1 for n, (p0, p1) in zip(x.shape[2:], pads)),
                    x.shape[0]), dtype=x.dtype)
    out[(slice(None), *(slice(p0, p0 + n) for n, (p0, _) in zip(x.shape[2:], pads)))] = moved
    return out


def _im2col(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
            pads: tuple[Pair, ...], dilation: tuple[int, ...], groups: int,
            out_hw: tuple[int, ...] | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """The columns (G, C/G*prod(kernel), prod(out)*N) of x and the output's spatial size: one
    copy of a window view. `out_hw` (the adjoints' case) may ask for fewer windows than fit: a
    transposed convolution's output_padding leaves elements no window of the forward
    convolution reads."""
    xp = _chwn(x, pads)
    c, *padded, n = xp.shape
    if out_hw is None:
        out_hw = tuple(_size(m, k, s, d) for m, k, s, d in zip(padded, kernel, stride, dilation))
    sc, *sp, sn = xp.strides
    win = as_strided(xp, (c, *kernel, *out_hw, n),
                     (sc, *(d * t for d, t in zip(dilation, sp)),
                      *(s * t for s, t in zip(stride, sp)), sn), writeable=False)
    # explicit sizes, not -1: an empty batch leaves -1 ambiguous
    cols = np.ascontiguousarray(win).reshape(groups, c // groups * math.prod(kernel),
                                             math.prod(out_hw) * n)
    return cols, tuple(out_hw)


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over a leading group axis; one group (the usual case) as one 2-D BLAS call."""
    if a.shape[0] == 1:
        return np.dot(a[0], b[0])[None]
    return np.matmul(a, b)


def _grouped(y: np.ndarray, groups: int) -> np.ndarray:
    """y (N, O, *spatial) as (G, O/G, prod(spatial)*N), the layout of the products."""
    moved = np.ascontiguousarray(y.transpose(*range(1, y.ndim), 0))
    return moved.reshape(groups, y.shape[1] // groups, math.prod(y.shape[2:]) * y.shape[0])


def _nchw(y: np.ndarray) -> np.ndarray:
    """A (C, *spatial, N) array back in PyTorch's layout, contiguous."""
    return np.ascontiguousarray(y.transpose(y.ndim - 1, *range(y.ndim - 1)))


def _conv(x: np.ndarray, w: np.ndarray, stride: tuple[int, ...], pads: tuple[Pair, ...],
          dilation: tuple[int, ...], groups: int,
          out_hw: tuple[int, ...] | None = None) -> np.ndarray:
    """y[n, o] = sum over c, i, j of w[o, c, i, j] * xpad[n, g*C/G + c, s*h + d*i, s*w + d*j]
    (written for 2-D; any number of spatial axes)."""
    cols, out = _im2col(x, w.shape[2:], stride, pads, dilation, groups, out_hw)
    y = _gemm(w.reshape(groups, w.shape[0] // groups, -1), cols)
    return _nchw(y.reshape(w.shape[0], *out, x.shape[0]))


def _conv_weight(x: np.ndarray, gy: np.ndarray, kernel: tuple[int, ...],
                 stride: tuple[int, ...], pads: tuple[Pair, ...], dilation: tuple[int, ...],
                 groups: int) -> np.ndarray:
    """The adjoint of conv in w: sum over n and positions of gy times the windows of x."""
    cols, _ = _im2col(x, kernel, stride, pads, dilation, groups, gy.shape[2:])
    gw = _gemm(_grouped(gy, groups), cols.transpose(0, 2, 1))
    return gw.reshape(gy.shape[1], x.shape[1] // groups, *kernel)


def _conv_transpose(gy: np.ndarray, w: np.ndarray, size: tuple[int, ...],
                    stride: tuple[int, ...], pads: tuple[Pair, ...],
                    dilation: tuple[int, ...], groups: int) -> np.ndarray:
    """The adjoint of conv in x: each column of w^T gy added back over its window (col2im),
    one strided add per kernel position; the padding is cut off at the end."""
    n, _, *out = gy.shape
    o, cg, *kernel = w.shape
    cols = _gemm(w.reshape(groups, o // groups, -1).transpose(0, 2, 1), _grouped(gy, groups))
    cols = cols.reshape(groups * cg, *kernel, *out, n)
    acc = np.zeros((groups * cg, *(m + p0 + p1 for m, (p0, p1) in zip(size, pads)), n),
                   dtype=cols.dtype)
    for taps in itertools.product(*(range(k) for k in kernel)):
        window = tuple(slice(i * d, i * d + s * (m - 1) + 1, s)
                       for i, d, s, m in zip(taps, dilation, stride, out))
        acc[(slice(None), *window)] += cols[(slice(None), *taps)]
    return _nchw(acc[(slice(None), *(slice(p0, p0 + m) for m, (p0, _) in zip(size, pads)))])


# --------------------------------------------------- the three Functions of the bilinear form
def _tensors(*values: Any) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def _cfg(node: Any) -> dict[str, Any]:
    return {"stride": node.stride, "pads": node.pads, "dilation": node.dilation,
            "groups": node.groups}


def _conv_any(x: Any, w: Any, cfg: dict[str, Any], out_hw: Pair | None = None) -> Any:
    """conv on arrays, or the recorded Conv when either is a Tensor (create_graph)."""
    if _tensors(x, w):
        return Conv.apply(x, w, out_hw=out_hw, **cfg)
    return _conv(x, w, out_hw=out_hw, **cfg)


def _conv_transpose_any(gy: Any, w: Any, size: Pair, cfg: dict[str, Any]) -> Any:
    if _tensors(gy, w):
        return ConvTranspose.apply(gy, w, size=size, **cfg)
    return _conv_transpose(gy, w, size, **cfg)


def _conv_weight_any(x: Any, gy: Any, kernel: Pair, cfg: dict[str, Any]) -> Any:
    if _tensors(x, gy):
        return ConvWeight.apply(x, gy, kernel=kernel, **cfg)
    return _conv_weight(x, gy, kernel, **cfg)


def _add(a: Any, b: Any) -> Any:
    return b if a is None else (a if b is None else a + b)


class _Bilinear(Function):
    """What the three convolution Functions share: the geometry of the convolution."""

    def _keep(self, stride: Pair, pads: Pads, dilation: Pair, groups: int) -> None:
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups


class Conv(_Bilinear):
    """y = conv2d(x, w) without bias (cross-correlation).
    d/dx = conv_transpose(grad, w);  d/dw = conv_weight(x, grad)"""

    def forward(self, x: np.ndarray, w: np.ndarray, stride: Pair = (1, 1),
                pads: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1),
                groups: int = 1, out_hw: Pair | None = None) -> np.ndarray:
        self._keep(stride, pads, dilation, groups)
        self.size, self.kernel = x.shape[2:], w.shape[2:]
        self.save_for_backward(x, w)
        y = _conv(x, w, stride, pads, dilation, groups, out_hw)
        self.out_hw = y.shape[2:]
        return y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, w = self.saved
        cfg = _cfg(self)
        gx = _conv_transpose_any(grad, w, self.size, cfg) if self.needs_input_grad[0] else None
        gw = _conv_weight_any(x, grad, self.kernel, cfg) if self.needs_input_grad[1] else None
        return gx, gw

    def jvp(self, tx: Any, tw: Any) -> Any:
        x, w = self.saved
        cfg = _cfg(self)
        return _add(None if tx is None else _conv_any(tx, w, cfg, self.out_hw),
                    None if tw is None else _conv_any(x, tw, cfg, self.out_hw))


class ConvTranspose(_Bilinear):
    """x = conv_transpose2d(y, w) without bias, of spatial `size`: the adjoint of conv in x.
    d/dy = conv(grad, w);  d/dw = conv_weight(grad, y)"""

    def forward(self, y: np.ndarray, w: np.ndarray, size: Pair = (1, 1), stride: Pair = (1, 1),
                pads: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1),
                groups: int = 1) -> np.ndarray:
        self._keep(stride, pads, dilation, groups)
        self.size, self.kernel, self.out_hw = size, w.shape[2:], y.shape[2:]
        self.save_for_backward(y, w)
        return _conv_transpose(y, w, size, stride, pads, dilation, groups)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        y, w = self.saved
        cfg = _cfg(self)
        gy = _conv_any(grad, w, cfg, self.out_hw) if self.needs_input_grad[0] else None
        gw = _conv_weight_any(grad, y, self.kernel, cfg) if self.needs_input_grad[1] else None
        return gy, gw

    def jvp(self, ty: Any, tw: Any) -> Any:
        y, w = self.saved
        cfg = _cfg(self)
        return _add(None if ty is None else _conv_transpose_any(ty, w, self.size, cfg),
                    None if tw is None else _conv_transpose_any(y, tw, self.size, cfg))


class ConvWeight(_Bilinear):
    """w = conv_weight(x, y) of kernel `kernel`: the adjoint of conv in w (its weight gradient).
    d/dx = conv_transpose(y, grad);  d/dy = conv(x, grad)"""

    def forward(self, x: np.ndarray, y: np.ndarray, kernel: Pair = (1, 1), stride: Pair = (1, 1),
                pads: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1),
                groups: int = 1) -> np.ndarray:
        self._keep(stride, pads, dilation, groups)
        self.size, self.kernel, self.out_hw = x.shape[2:], kernel, y.shape[2:]
        self.save_for_backward(x, y)
        return _conv_weight(x, y, kernel, stride, pads, dilation, groups)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved
        cfg = _cfg(self)
        gx = _conv_transpose_any(y, grad, self.size, cfg) if self.needs_input_grad[0] else None
        gy = _conv_any(x, grad, cfg, self.out_hw) if self.needs_input_grad[1] else None
        return gx, gy

    def jvp(self, tx: Any, ty: Any) -> Any:
        x, y = self.saved
        cfg = _cfg(self)
        return _add(None if tx is None else _conv_weight_any(tx, y, self.kernel, cfg),
                    None if ty is None else _conv_weight_any(x, ty, self.kernel, cfg))


# ---------------------------------------------------------------------------- max pooling
def _scatter_flat(grad: Any, flat: np.ndarray, shape: tuple[int, ...], unique: bool) -> Any:
    """zeros(shape) with grad added at the C-order flat indices `flat` (grad's shape): an
    assignment when no index repeats, a bincount when windows overlap, the recorded IndexAdd
    on a Tensor."""
    if isinstance(grad, Tensor):
        size = math.prod(shape)
        return _scatter_add(grad.reshape(-1), (size,), (flat.reshape(-1),)).reshape(shape)
    if unique:
        out = np.zeros(math.prod(shape), dtype=grad.dtype)
        out[flat.reshape(-1)] = grad.reshape(-1)
    else:
        out = np.bincount(flat.reshape(-1), weights=grad.reshape(-1),
                          minlength=math.prod(shape)).astype(grad.dtype, copy=False)
    return out.reshape(shape)


def _max_windows(x: np.ndarray, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                 index: bool = True) -> tuple[np.ndarray, Any, tuple[int, ...]]:
    """The maximum of each window, the C-order flat index of its first maximum (its last nan,
    if any: PyTorch's CPU rule) in the padded input (None unless `index`), and the padded
    shape."""
    # the padding never wins: -inf, or the smallest integer of an integer input
    xp = _pad(x, pads, -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min)
    n, c, hp, wp = xp.shape
    out_hw = (_size(hp, kernel[0], stride[0], dilation[0]),
              _size(wp, kernel[1], stride[1], dilation[1]))
    win = _windows(xp, kernel, stride, dilation, out_hw)
    taps = [win[:, :, k // kernel[1], k % kernel[1]] for k in range(kernel[0] * kernel[1])]
    best = taps[0].copy()
    # the tap's offset in the padded plane is kept rather than its number, so the flat index
    # is two adds away; strict > keeps the first maximum
    offsets = [(k // kernel[1]) * dilation[0] * wp + (k % kernel[1]) * dilation[1]
               for k in range(len(taps))]
    flat = np.zeros(best.shape, dtype=np.intp) if index else None
    for k in range(1, len(taps)):
        if index:
            np.putmask(flat, taps[k] > best, offsets[k])
        np.maximum(best, taps[k], out=best)  # a nan wins, as in PyTorch
    if not index:  # no gradient will be asked for (inference): the maximum is all
        return best, None, (n, c, hp, wp)
    if np.isnan(best).any():  # PyTorch's kernel takes every nan it meets: the last one
        for k, v in enumerate(taps):
            np.putmask(flat, np.isnan(v), offsets[k])
    flat += np.arange(out_hw[0])[:, None] * (stride[0] * wp) + np.arange(out_hw[1]) * stride[1]
    flat += np.arange(n * c).reshape(n, c, 1, 1) * (hp * wp)
    return best, flat, (n, c, hp, wp)


def _flat_to_plane(flat: np.ndarray, padded: tuple[int, ...], pads: Pads,
                   width: int) -> np.ndarray:
    """PyTorch's return_indices from flat padded indices: the position in the unpadded H*W
    plane."""
    hp, wp = padded[2:]
    (t, _), (left, _) = pads
    pos = flat % (hp * wp)
    return (pos // wp - t) * width + (pos % wp - left)


class MaxPool(Function):
    """y = the maximum of each window of x (padded with -inf).
    d/dx = grad sent to the first maximum of each window (summed where windows share it)"""

    def forward(self, x: np.ndarray, kernel: Pair = (1, 1), stride: Pair = (1, 1),
                pads: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1)) -> np.ndarray:
        best, self.flat, self.padded = _max_windows(x, kernel, stride, pads, dilation,
                                                    any(self.needs_input_grad))
        self.pads, self.in_hw = pads, x.shape[2:]
        self.unique = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))
        self.save_for_backward(constant(self.flat))
        return best

    def _crop(self, g: Any) -> Any:
        (t, _), (left, _) = self.pads
        return g[:, :, t:t + self.in_hw[0], left:left + self.in_hw[1]]

    def backward(self, grad: Any) -> Any:
        (flat,) = self.saved
        return self._crop(_scatter_flat(grad, flat, self.padded, self.unique))

    def jvp(self, tx: Any) -> Any:
        if tx is None:
            return None
        (t, b), (left, r) = self.pads
        padded = np.pad(tx, ((0, 0), (0, 0), (t, b), (left, r)))
        return padded.reshape(-1)[self.flat]


def _unpool_any(x: Any, flat: np.ndarray, shape: tuple[int, ...]) -> Any:
    if isinstance(x, Tensor):
        return MaxUnpool.apply(x, flat=flat, shape=shape)
    out = np.zeros(math.prod(shape), dtype=x.dtype)
    out[flat.reshape(-1)] = x.reshape(-1)
    return out.reshape(shape)


class MaxUnpool(Function):
    """y = zeros(shape) with x written at the C-order flat indices `flat` (x's shape).
    d/dx = grad read at flat (PyTorch's max_unpool gradient, also where an index repeats)"""

    def forward(self, x: np.ndarray, flat: Any = None, shape: tuple[int, ...] = ()) -> Any:
        self.flat, self.shape = flat, shape
        return _unpool_any(x, flat, shape)

    def backward(self, grad: Any) -> Any:
        return grad.reshape(-1)[self.flat]

    def jvp(self, tx: Any) -> Any:
        return None if tx is None else _unpool_any(tx, self.flat, self.shape)


# ----------------------------------------------------------------------- argument checks
def _ints(value: Any, n: int, op: str, what: str) -> tuple[int, ...]:
    """An int or a sequence of `n` ints as an n-tuple of ints, else a clear error."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    try:
        items = tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int or a tuple of {n} ints, "
                        f"got {value!r}") from None
    if len(items) != n:
        raise ValueError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    return items


def _input(x: Any, ndim: int, op: str, kinds: str = "f") -> Tensor:
    x = tensor_arg(x, op)
    if x.ndim != ndim:
        layout = "(N, C, H, W)" if ndim == 4 else "(N, C, L)"
        raise ValueError(f"{op}: expected a {ndim}-D input {layout}, got shape {x.shape}")
    if x.dtype.kind not in kinds:
        raise TypeError(f"{op}: expected a {'real' if 'i' in kinds else 'floating-point'} "
                        f"input, got {x.dtype}")
    return x


def _to2d(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])


def _conv_args(op: str, x: Tensor, w: Any, bias: Any, stride: Any, padding: Any,
               dilation: Any, groups: Any, nd: int, transposed: bool = False) -> tuple:
    """Check a convolution's arguments (nd spatial dims) and return them normalized."""
    w = tensor_arg(w, op)
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight, got shape {w.shape}")
    groups = _ints(groups, 1, op, "groups")[0]
    stride = _ints(stride, nd, op, "stride")
    dilation = _ints(dilation, nd, op, "dilation")
    if groups < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: stride, dilation and groups must be positive, got stride "
                         f"{stride}, dilation {dilation}, groups {groups}")
    c = x.shape[1]
    if transposed:
        if c != w.shape[0] or c % groups:
            raise ValueError(f"{op}: input of shape {x.shape} has {c} channels; weight of "
                             f"shape {w.shape} expects {w.shape[0]} (in_channels, divisible "
                             f"by groups={groups})")
    elif w.shape[0] % groups or c != w.shape[1] * groups:
        raise ValueError(f"{op}: input of shape {x.shape} has {c} channels; weight of shape "
                         f"{w.shape} with groups={groups} expects {w.shape[1] * groups} "
                         f"(and out_channels {w.shape[0]} divisible by groups)")
    kernel = w.shape[2:]
    if isinstance(padding, str):
        if padding not in ("same", "valid") or transposed:
            raise ValueError(f"{op}: padding must be an int, a tuple of ints"
                             f"{'' if transposed else ', same or valid'}; got {padding!r}")
        if padding == "same" and max(stride) > 1:
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        if padding == "valid":
            pads = ((0, 0),) * nd
        else:  # the extra element of an odd total goes after, as in PyTorch
            totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
    else:
        pads = tuple((p, p) for p in _ints(padding, nd, op, "padding"))
        if min(p for p, _ in pads) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    if bias is not None:
        bias = tensor_arg(bias, op)
        out_c = w.shape[1] * groups if transposed else w.shape[0]
        if bias.shape != (out_c,):
            raise ValueError(f"{op}: bias of shape {bias.shape} does not match the "
                             f"{out_c} output channels (weight shape {w.shape})")
    if not transposed:
        for axis, (n_in, k, d, (p0, p1)) in enumerate(zip(x.shape[2:], kernel, dilation, pads)):
            if n_in + p0 + p1 < d * (k - 1) + 1:
                raise ValueError(
                    f"{op}: kernel of size {tuple(kernel)} (dilation {dilation}) is larger "
                    f"than the padded input (input shape {x.shape}, padding {padding!r}) "
                    f"along spatial axis {axis}")
    return w, bias, stride, pads, dilation, groups


def _with_bias(y: Tensor, bias: Tensor | None) -> Tensor:
    if bias is None:
        return y
    return y + bias.reshape((-1,) + (1,) * (y.ndim - 2))


# ----------------------------------------------------------------- convolution functions
def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv2d: input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,); padding
    an int, a pair, "valid" or "same" (stride 1). Output (N, O, Ho, Wo) with
    Ho = (H + 2p - d(kh - 1) - 1) // s + 1."""
    x = _input(input, 4, "conv2d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv2d", x, weight, bias, stride, padding, dilation, groups, 2)
    y = Conv.apply(x, w, stride=stride, pads=pads, dilation=dilation, groups=groups)
    return _with_bias(y, bias)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv1d: input (N, C, L), weight (O, C/groups, k), bias (O,); a 2-D
    convolution of height 1."""
    x = _input(input, 3, "conv1d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv1d", x, weight, bias, stride, padding, dilation, groups, 1)
    y = Conv.apply(_to2d(x), w.reshape(*w.shape[:2], 1, w.shape[2]), stride=(1, *stride),
                   pads=((0, 0), *pads), dilation=(1, *dilation), groups=groups)
    return _with_bias(y.reshape(y.shape[0], y.shape[1], y.shape[3]), bias)


def _transpose_size(op: str, x: Tensor, w: Tensor, stride: tuple[int, ...],
                    pads: tuple[Pair, ...], dilation: tuple[int, ...],
                    output_padding: Any) -> tuple[int, ...]:
    nd = len(stride)
    extra = _ints(output_padding, nd, op, "output_padding")
    size = []
    for n_in, k, s, d, (p, _), e in zip(x.shape[2:], w.shape[2:], stride, dilation, pads, extra):
        if not 0 <= e < max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding!r} must be smaller than "
                             f"stride or dilation (stride {stride}, dilation {dilation})")
        size.append((n_in - 1) * s - 2 * p + d * (k - 1) + e + 1)
    if min(size) < 1:
        raise ValueError(f"{op}: input of shape {x.shape}, weight of shape {w.shape} and "
                         f"padding {tuple(p for p, _ in pads)} give an empty output {size}")
    return tuple(size)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """PyTorch's F.conv_transpose2d (the gradient of conv2d with respect to its input):
    input (N, C, H, W), weight (C, O/groups, kh, kw), bias (O,); output height
    (H - 1) s - 2p + d (kh - 1) + output_padding + 1."""
    x = _input(input, 4, "conv_transpose2d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv_transpose2d", x, weight, bias, stride, padding, dilation, groups, 2, True)
    size = _transpose_size("conv_transpose2d", x, w, stride, pads, dilation, output_padding)
    y = ConvTranspose.apply(x, w, size=size, stride=stride, pads=pads, dilation=dilation,
                            groups=groups)
    return _with_bias(y, bias)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """PyTorch's F.conv_transpose1d: input (N, C, L), weight (C, O/groups, k), bias (O,)."""
    x = _input(input, 3, "conv_transpose1d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv_transpose1d", x, weight, bias, stride, padding, dilation, groups, 1, True)
    (length,) = _transpose_size("conv_transpose1d", x, w, stride, pads, dilation,
                                output_padding)
    y = ConvTranspose.apply(_to2d(x), w.reshape(*w.shape[:2], 1, w.shape[2]),
                            size=(1, length), stride=(1, *stride), pads=((0, 0), *pads),
                            dilation=(1, *dilation), groups=groups)
    return _with_bias(y.reshape(y.shape[0], y.shape[1], y.shape[3]), bias)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """PyTorch's F.conv3d: input (N, C, D, H, W), weight (O, C/groups, kd, kh, kw), bias (O,);
    conv2d with a depth axis more."""
    x = _input(input, 5, "conv3d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv3d", x, weight, bias, stride, padding, dilation, groups, 3)
    y = Conv.apply(x, w, stride=stride, pads=pads, dilation=dilation, groups=groups)
    return _with_bias(y, bias)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """PyTorch's F.conv_transpose3d: input (N, C, D, H, W), weight (C, O/groups, kd, kh, kw),
    bias (O,); conv_transpose2d with a depth axis more."""
    x = _input(input, 5, "conv_transpose3d")
    w, bias, stride, pads, dilation, groups = _conv_args(
        "conv_transpose3d", x, weight, bias, stride, padding, dilation, groups, 3, True)
    size = _transpose_size("conv_transpose3d", x, w, stride, pads, dilation, output_padding)
    y = ConvTranspose.apply(x, w, size=size, stride=stride, pads=pads, dilation=dilation,
                            groups=groups)
    return _with_bias(y, bias)


# --------------------------------------------------------------------- pooling functions
def _pool_geometry(op: str, shape: tuple[int, ...], kernel_size: Any, stride: Any,
                   padding: Any, dilation: Any, ceil_mode: bool, nd: int) -> tuple:
    """Kernel, stride, padding pairs (the right one grown for ceil_mode), dilation, output
    size and the symmetric padding, following PyTorch's pooling output-size rule."""
    kernel = _ints(kernel_size, nd, op, "kernel_size")
    stride = kernel if stride is None or stride == () else _ints(stride, nd, op, "stride")
    padding = _ints(padding, nd, op, "padding")
    dilation = _ints(dilation, nd, op, "dilation")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive and "
                         f"padding non-negative, got {kernel}, {stride}, {dilation}, {padding}")
    pads, out = [], []
    for n_in, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation):
        eff = d * (k - 1) + 1
        if 2 * p > eff:
            raise ValueError(f"{op}: padding {padding} should be at most half of the "
                             f"(dilated) kernel size {kernel}")
        span = n_in + 2 * p - eff
        if span < 0:
            raise ValueError(f"{op}: kernel of size {kernel} (dilation {dilation}, padding "
                             f"{padding}) is larger than the input of shape {tuple(shape)}")
        m = -(-span // s) + 1 if ceil_mode else span // s + 1
        if ceil_mode and (m - 1) * s >= n_in + p:  # the last window must start inside
            m -= 1
        pads.append((p, p + max(0, (m - 1) * s + eff - (n_in + 2 * p))))
        out.append(m)
    return kernel, stride, tuple(pads), dilation, tuple(out), padding


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """PyTorch's F.max_pool2d on (N, C, H, W), floating point or integer: the maximum of each
    window (stride defaults to the kernel size, padding never wins). The gradient goes to the
    first maximum of each window. With return_indices, also each maximum's flat index in its
    H*W plane."""
    x = _input(input, 4, "max_pool2d", "fiu")
    kernel, stride, pads, dilation, _, _ = _pool_geometry(
        "max_pool2d", x.shape, kernel_size, stride, padding, dilation, ceil_mode, 2)
    y = MaxPool.apply(x, kernel=kernel, stride=stride, pads=pads, dilation=dilation)
    if not return_indices:
        return y
    _, flat, padded = _max_windows(x.data, kernel, stride, pads, dilation)
    return y, Tensor(_flat_to_plane(flat, padded, pads, x.shape[3]).astype(np.int64))


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """PyTorch's F.max_pool1d on (N, C, L): max_pool2d of height 1."""
    x = _input(input, 3, "max_pool1d", "fiu")
    k, s, p, d = (_ints(v, 1, "max_pool1d", name) for v, name in (
        (kernel_size, "kernel_size"), (kernel_size if stride is None else stride, "stride"),
        (padding, "padding"), (dilation, "dilation")))
    out = max_pool2d(_to2d(x), (1, *k), (1, *s), (0, *p), (1, *d), ceil_mode, return_indices)
    if return_indices:
        y, idx = out
        return y.reshape(y.shape[0], y.shape[1], -1), idx.reshape(y.shape[0], y.shape[1], -1)
    return out.reshape(out.shape[0], out.shape[1], -1)


def max_unpool2d(input: Any, indices: Any, kernel_size: Any, stride: Any = None,  # noqa: A002
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """PyTorch's F.max_unpool2d: each value of input (N, C, H, W) put back at its position
    `indices` (max_pool2d's return_indices) in a zero (N, C, Ho, Wo) plane, Ho = (H - 1)
    stride - 2 padding + kernel unless output_size (its last two entries) says otherwise.
    A position named twice takes one of the values (PyTorch writes, it does not add) and
    both read its gradient back.   d/dinput = the gradient read back at the indices"""
    x = _input(input, 4, "max_unpool2d")
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.shape != x.shape or idx.dtype.kind not in "iu":
        raise ValueError(f"max_unpool2d: indices must be integers of the input's shape "
                         f"{x.shape}, got {idx.dtype} of shape {idx.shape}")
    kernel = _ints(kernel_size, 2, "max_unpool2d", "kernel_size")
    stride = kernel if stride is None else _ints(stride, 2, "max_unpool2d", "stride")
    padding = _ints(padding, 2, "max_unpool2d", "padding")
    if output_size is None:
        out = tuple((n - 1) * s - 2 * p + k
                    for n, s, p, k in zip(x.shape[2:], stride, padding, kernel))
    else:
        out = _ints(tuple(output_size)[-2:], 2, "max_unpool2d", "output_size")
    n, c = x.shape[:2]
    plane = out[0] * out[1]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise ValueError(f"max_unpool2d: an index lies outside the output plane {out} "
                         f"(indices from {idx.min()} to {idx.max()})")
    flat = idx.astype(np.intp) + np.arange(n * c).reshape(n, c, 1, 1) * plane
    return MaxUnpool.apply(x, flat=flat, shape=(n, c, *out))


def _counts(n_in: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """How many elements each window along one axis averages, PyTorch's rule: padding counts
    when include_pad, the part of a ceil_mode window past the padding never does."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n_in + p)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, n_in)
    return end - start


def _avg_pool(op: str, x: Tensor, nd: int, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    """Average pooling over nd spatial axes: a convolution of each channel with a kernel of
    ones, times the constant reciprocal window counts."""
    kernel, stride, pads, _, out, padding = _pool_geometry(
        op, x.shape, kernel_size, stride, padding, 1, ceil_mode, nd)
    n, c, *sp = x.shape
    ones = np.ones((1, 1, *kernel), dtype=x.dtype)
    y = Conv.apply(x.reshape(n * c, 1, *sp), ones, stride=stride, pads=pads,
                   dilation=(1,) * nd, groups=1).reshape(n, c, *out)
    if divisor_override:
        return y * (1.0 / divisor_override)
    counts = functools.reduce(np.multiply.outer, (
        _counts(m, o, k, s, p, count_include_pad)
        for m, o, k, s, p in zip(sp, out, kernel, stride, padding)))
    return y * (1.0 / counts).astype(x.dtype)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """PyTorch's F.avg_pool2d on (N, C, H, W): the mean of each window (stride defaults to the
    kernel size; zero padding, counted in the divisor when count_include_pad). A convolution
    of each channel with a kernel of ones, divided by the window counts."""
    return _avg_pool("avg_pool2d", _input(input, 4, "avg_pool2d"), 2, kernel_size, stride,
                     padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """PyTorch's F.avg_pool3d on (N, C, D, H, W): avg_pool2d with a depth axis more."""
    return _avg_pool("avg_pool3d", _input(input, 5, "avg_pool3d"), 3, kernel_size, stride,
                     padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """PyTorch's F.avg_pool1d on (N, C, L): avg_pool2d of height 1."""
    x = _input(input, 3, "avg_pool1d")
    k, s, p = (_ints(v, 1, "avg_pool1d", name) for v, name in (
        (kernel_size, "kernel_size"), (kernel_size if stride is None else stride, "stride"),
        (padding, "padding")))
    y = avg_pool2d(_to2d(x), (1, *k), (1, *s), (0, *p), ceil_mode, count_include_pad)
    return y.reshape(y.shape[0], y.shape[1], -1)


def _bins(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """(n_out, n_in) averaging matrix of adaptive pooling: bin i spans
    floor(i n_in / n_out) .. ceil((i + 1) n_in / n_out)."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """PyTorch's F.adaptive_avg_pool2d on (N, C, H, W) or (C, H, W): the mean over PyTorch's
    bins, as two products with averaging matrices; None in output_size keeps that size."""
    x = tensor_arg(input, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{x.shape}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size!r}")
    h, w = x.shape[-2:]
    oh, ow = (n if o is None else operator.index(o) for n, o in zip((h, w), sizes))
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got "
                         f"{output_size!r}")
    return _bins(h, oh, x.dtype) @ x @ _bins(w, ow, x.dtype).T


def adaptive_avg_pool1d(input: Any, output_size: int) -> Tensor:  # noqa: A002
    """PyTorch's F.adaptive_avg_pool1d on (N, C, L) or (C, L)."""
    x = tensor_arg(input, "adaptive_avg_pool1d")
    size = _ints(output_size, 1, "adaptive_avg_pool1d", "output_size")[0]
    if x.ndim not in (2, 3) or size < 1:
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input and a positive "
                         f"output_size, got shape {x.shape} and {output_size!r}")
    return x @ _bins(x.shape[-1], size, x.dtype).T


_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
          "trilinear": (3,)}


def _linear_weights(n_in: int, n_out: int, scale: float, align_corners: bool,
                    dtype: Any) -> np.ndarray:
    """(n_out, n_in) matrix of linear interpolation along one axis, PyTorch's source index:
    dst * (in - 1) / (out - 1) with align_corners, else (dst + 0.5) * scale - 0.5 clamped at 0;
    the weights 1 - f and f go to the two neighbours (the last element stands alone)."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(m, (np.arange(n_out), i0), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), i1), frac)
    return m.astype(dtype)


def _along(x: Tensor, k: int, m: np.ndarray) -> Tensor:
    """m (out, in) applied along spatial axis k of x (N, C, *spatial): one recorded matmul."""
    n, c, *sp = x.shape
    before, after = math.prod(sp[:k]), math.prod(sp[k + 1:])
    y = m @ x.reshape(n, c, before, sp[k], after)
    return y.reshape(n, c, *sp[:k], m.shape[0], *sp[k + 1:])


def interpolate(input: Any, size: Any = None, scale_factor: Any = None,  # noqa: A002
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """PyTorch's F.interpolate on (N, C, L), (N, C, H, W) or (N, C, D, H, W): modes "nearest"
    (output index i reads input index floor(i * scale)), "nearest-exact" (floor((i + 0.5) *
    scale)), and "linear" / "bilinear" / "trilinear" (3-D / 4-D / 5-D input, align_corners as
    in PyTorch), where scale is in / out, or 1 / scale_factor when a scale is given and
    recompute_scale_factor is not True. The linear modes are one product with an
    interpolation matrix per axis, so every order of derivative comes with them."""
    x = tensor_arg(input, "interpolate")
    nd = x.ndim - 2
    if mode not in _MODES:
        raise ValueError(f"interpolate: unknown mode {mode!r}; use one of {sorted(_MODES)}")
    if nd not in _MODES[mode]:
        raise ValueError(f"interpolate: mode {mode!r} takes a "
                         f"{' or '.join(str(d + 2) for d in _MODES[mode])}-D input, got shape "
                         f"{x.shape}")
    linear = mode.endswith("linear")
    if align_corners is not None and not linear:
        raise ValueError("interpolate: align_corners applies to the linear modes only; "
                         f"leave it None for {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = x.shape[2:]
    if size is not None:
        out = _ints(size, nd, "interpolate", "size")
        scales = [n / o for n, o in zip(in_sizes, out)]
    else:
        factors = (tuple(float(f) for f in scale_factor)
                   if isinstance(scale_factor, (tuple, list)) else (float(scale_factor),) * nd)
        if len(factors) != nd or min(factors) <= 0:
            raise ValueError(f"interpolate: scale_factor must be positive, one per spatial "
                             f"axis, got {scale_factor!r}")
        out = tuple(math.floor(n * f) for n, f in zip(in_sizes, factors))
        scales = ([n / o for n, o in zip(in_sizes, out)] if recompute_scale_factor
                  else [1.0 / f for f in factors])
    if min(out) < 1:
        raise ValueError(f"interpolate: output size {out} is empty (input shape {x.shape})")
    if linear:
        if x.dtype.kind != "f":
            raise TypeError(f"interpolate: mode {mode!r} needs a floating-point input, got "
                            f"{x.dtype}")
        for k, (n, o, sc) in enumerate(zip(in_sizes, out, scales)):
            x = _along(x, k, _linear_weights(n, o, sc, bool(align_corners), x.dtype))
        return x
    shift = 0.5 if mode == "nearest-exact" else 0.0
    # PyTorch computes the source index in float32
    idx = [np.minimum(np.floor((np.arange(o, dtype=np.float32) + np.float32(shift))
                               * np.float32(sc)).astype(np.intp), n - 1)
           for o, sc, n in zip(out, scales, in_sizes)]
    return x[(slice(None), slice(None), *np.ix_(*idx))]
