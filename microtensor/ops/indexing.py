"""Shape and indexing ops beyond the primitives: flip, roll, the triangles, pad, tile and
repeat_interleave. Each op is a `Function` subclass registered once (see registry.py).

Most of them move elements without changing them, so their gradients move the incoming
gradient back: the inverse movement where there is one (flip, roll), a mask (tril, triu), a
slice (constant padding), or a scatter-add where one input element feeds several outputs
(reflect and edge padding, tile, repeat_interleave).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..function import Function, constant
from ..shapes import normalize_axis, normalize_one_axis
from ..tensor import Tensor
from . import vocab as V
from ._util import tensor_arg
from .registry import register
from .shape import _scatter_add


def _pick(op: str, value: Any, alias: Any, name: str, alias_name: str) -> Any:
    """One argument given under NumPy's name or PyTorch's (`axis`/`dims`), not both."""
    if alias is None:
        return value
    if value is not None:
        raise TypeError(f"{op}: give {name}= or {alias_name}=, not both")
    return alias


def _ints(value: Any, op: str, what: str) -> tuple[int, ...]:
    """`value` (an int or a sequence of ints) as a tuple of ints, or a TypeError naming op."""
    items = value if isinstance(value, (tuple, list, np.ndarray)) else (value,)
    try:
        return tuple(operator.index(v) for v in np.asarray(items).ravel().tolist()) \
            if isinstance(items, np.ndarray) else tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int or a sequence of ints, got "
                        f"{value!r}") from None


# ---------------------------------------------------------------------------------- flip
class Flip(Function):
    """x reversed along `axes`.   d/dx = grad reversed along the same axes"""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] = ()) -> np.ndarray:
        self.index = tuple(slice(None, None, -1) if i in axes else slice(None)
                           for i in range(x.ndim))
        return x[self.index]

    def backward(self, grad: Any) -> Any:
        return grad[self.index]


@register(method=True, numpy=np.flip)
def flip(x: Any, axis: Any = None, *, dims: Any = None) -> Tensor:
    """Reverse the order of elements along `axis` (an int, a tuple, or None for every axis;
    PyTorch's `dims=` too), as np.flip."""
    x = tensor_arg(x, "flip")
    axis = _pick("flip", axis, dims, "axis", "dims")
    return Flip.apply(x, axes=normalize_axis(axis, x.ndim, "flip"))


# ---------------------------------------------------------------------------------- roll
def _roll_arrays(x: np.ndarray, shift: Any, axis: Any) -> np.ndarray:
    return np.roll(x, shift, axis)


def _roll_tensors(x: Tensor, shift: Any, axis: Any) -> Tensor:
    return Roll.apply(x, shift=shift, axis=axis)


# the array rolled, or the Roll op recorded: Roll's backward (a roll the other way)
_roll = V.dual(_roll_arrays, _roll_tensors)


class Roll(Function):
    """x rolled by `shift` along `axis` (None: the flattened x).   d/dx = grad rolled back"""

    def forward(self, x: np.ndarray, shift: Any = 0, axis: Any = None) -> np.ndarray:
        self.shift, self.axis = shift, axis
        return np.roll(x, shift, axis)

    def backward(self, grad: Any) -> Any:
        return _roll(grad, tuple(-s for s in self.shift), self.axis)


@register(method=True, numpy=np.roll)
def roll(x: Any, shift: Any = None, axis: Any = None, *, shifts: Any = None,
         dims: Any = None) -> Tensor:
    """Shift elements cyclically by `shift` places along `axis` (ints or tuples of ints, one
    shift per axis; axis None rolls the flattened tensor and keeps its shape), as np.roll;
    PyTorch's `shifts=`/`dims=` too."""
    x = tensor_arg(x, "roll")
    shift = _pick("roll", shift, shifts, "shift", "shifts")
    axis = _pick("roll", axis, dims, "axis", "dims")
    if shift is None:
        raise TypeError("roll: missing the shift")
    shift = _ints(shift, "roll", "shift")
    if axis is None:
        # NumPy rolls the flattened array by every shift in turn: by their sum
        return Roll.apply(x, shift=(sum(shift),), axis=None)
    axes = _ints(axis, "roll", "axis")
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"roll: axis {a} is out of bounds for a tensor of dimension "
                             f"{x.ndim}")
    axes = tuple(a % x.ndim for a in axes)
    try:  # one shift per axis, by NumPy's broadcasting of the two
        (n,) = np.broadcast_shapes((len(shift),), (len(axes),))
    except ValueError:
        raise ValueError(f"roll: shift {shift} and axis {axes} differ in length") from None
    shift, axes = tuple(np.broadcast_to(shift, n).tolist()), tuple(np.broadcast_to(axes, n)
                                                                    .tolist())
    return Roll.apply(x, shift=shift, axis=axes)


# ----------------------------------------------------------------------------- triangles
class _Triangle(Function):
    """x with the elements outside a triangle of its last two axes set to zero.
    d/dx = grad with the same elements set to zero"""

    lower = True

    def forward(self, x: np.ndarray, k: int = 0) -> np.ndarray:
        mask = np.tri(*x.shape[-2:], k=k if self.lower else k - 1, dtype=bool)
        if not self.lower:
            mask = ~mask
        self.save_for_backward(constant(mask))
        return np.where(mask, x, np.zeros(1, dtype=x.dtype))

    def backward(self, grad: Any) -> Any:
        (mask,) = self.saved
        return V.where(mask, grad, 0)


class Tril(_Triangle):
    """tril(x, k): zero above the k-th diagonal.   d/dx = tril(grad, k)"""

    lower = True


class Triu(_Triangle):
    """triu(x, k): zero below the k-th diagonal.   d/dx = triu(grad, k)"""

    lower = False


def _triangle(x: Any, k: Any, diagonal: Any, op: str, lower: bool) -> Tensor:
    x = tensor_arg(x, op)
    if diagonal is not None:
        if k != 0:
            raise TypeError(f"{op}: give k= or diagonal=, not both")
        k = diagonal
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"{op}: k must be an int, got {k!r}") from None
    if x.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no triangle (shape {x.shape})")
    return (Tril if lower else Triu).apply(x, k=k)


@register(method=True, numpy=np.tril)
def tril(x: Any, k: Any = 0, *, diagonal: Any = None) -> Tensor:
    """The lower triangle of the last two axes (elements above the k-th diagonal set to
    zero), as np.tril (a 1-D x is treated as a row repeated into a square); PyTorch's
    `diagonal=` too."""
    return _triangle(x, k, diagonal, "tril", True)


@register(method=True, numpy=np.triu)
def triu(x: Any, k: Any = 0, *, diagonal: Any = None) -> Tensor:
    """The upper triangle of the last two axes (elements below the k-th diagonal set to
    zero), as np.triu; PyTorch's `diagonal=` too."""
    return _triangle(x, k, diagonal, "triu", False)


# ----------------------------------------------------------------------------------- pad
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge",
              "replicate": "edge", "symmetric": "symmetric", "wrap": "wrap",
              "circular": "wrap"}


class Pad(Function):
    """x padded by `pad_width` ((before, after) per axis) in `mode`.
    d/dx = constant mode: the interior of grad; reflect/edge/symmetric/wrap: grad added back
    at the element each output came from (an element copied into the border gets the sum)"""

    def forward(self, x: np.ndarray, pad_width: tuple[tuple[int, int], ...] = (),
                mode: str = "constant", value: Any = 0) -> np.ndarray:
        if x.ndim == 0:  # nothing to pad (NumPy's np.pad returns the value as it is)
            mode = "constant"
        self.in_shape, self.mode = x.shape, mode
        widths = np.array(pad_width, dtype=np.intp).reshape(x.ndim, 2)
        try:
            if x.ndim == 0:
                out = x.copy()
            elif mode == "constant":
                out = np.pad(x, widths, mode="constant", constant_values=value)
            else:
                out = np.pad(x, widths, mode=mode)
        except ValueError as e:
            raise ValueError(f"pad: {e} (tensor shape {x.shape}, mode {mode!r})") from None
        if mode == "constant":
            self.index = tuple(slice(b, b + n) for (b, _), n in zip(pad_width, x.shape))
        else:
            # the source position of each output element, one axis at a time: the padding of
            # an index range, taken as an outer-product index (np.ix_)
            self.index = np.ix_(*(np.pad(np.arange(n), pw, mode=mode)
                                  for n, pw in zip(x.shape, pad_width)))
        return out

    def backward(self, grad: Any) -> Any:
        if self.mode == "constant":
            return grad[self.index]
        return _scatter_add(grad, self.in_shape, self.index)


def _pad_width(pad_width: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """NumPy's pad_width forms (n, (n,), (before, after), one pair per axis) as pairs."""
    try:
        arr = np.asarray(pad_width)
    except (ValueError, TypeError):
        raise TypeError(f"pad: pad_width must be ints, got {pad_width!r}") from None
    if arr.dtype.kind not in "iu" and not (arr.dtype == object or arr.size == 0):
        raise TypeError(f"pad: pad_width must be ints, got {pad_width!r}")
    if arr.size and (arr.astype(np.int64) < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} holds a negative width")
    try:
        arr = np.broadcast_to(arr.astype(np.int64), (ndim, 2))
    except (ValueError, TypeError):
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of dimension "
                         f"{ndim} (one (before, after) pair per axis)") from None
    return tuple((int(b), int(a)) for b, a in arr)


@register(method=True, numpy=np.pad)
def pad(x: Any, pad_width: Any, mode: str = "constant", value: Any = None, *,
        constant_values: Any = None) -> Tensor:
    """Pad with `pad_width` elements before and after each axis (NumPy's forms: an int, a
    pair, or a pair per axis), as np.pad. Modes: "constant" (filled with `value`, NumPy's
    `constant_values=` too, default 0), "reflect", "edge" (PyTorch's "replicate"),
    "symmetric" and "wrap" (PyTorch's "circular")."""
    x = tensor_arg(x, "pad")
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; use one of {sorted(_PAD_MODES)}")
    mode = _PAD_MODES[mode]
    value = _pick("pad", value, constant_values, "value", "constant_values")
    if value is None:
        value = 0
    elif mode != "constant":
        raise ValueError(f"pad: a fill value applies to mode 'constant' only, not {mode!r}")
    if isinstance(value, Tensor) or not isinstance(value, (int, float, np.integer,
                                                           np.floating, bool, np.bool_)):
        raise TypeError(f"pad: value must be a real number, got {type(value).__name__}")
    return Pad.apply(x, pad_width=_pad_width(pad_width, x.ndim), mode=mode, value=value)


# ---------------------------------------------------------------------- tile and repeat
class Tile(Function):
    """np.tile(x, reps): x repeated as blocks.   d/dx = the sum of grad's blocks"""

    def forward(self, x: np.ndarray, reps: tuple[int, ...] = ()) -> np.ndarray:
        d = max(len(reps), x.ndim)
        shape = (1,) * (d - x.ndim) + x.shape
        reps = (1,) * (d - len(reps)) + reps
        self.in_shape = x.shape
        # grad seen as (r0, n0, r1, n1, ...): summing the r axes adds the blocks up
        self.blocks = tuple(v for pair in zip(reps, shape) for v in pair)
        self.block_axes = tuple(range(0, 2 * d, 2))
        return np.tile(x, reps)

    def backward(self, grad: Any) -> Any:
        return grad.reshape(self.blocks).sum(axis=self.block_axes).reshape(self.in_shape)


@register(method=True, numpy=np.tile)
def tile(x: Any, reps: Any) -> Tensor:
    """x repeated `reps` times along each axis (an int or a tuple; extra leading reps add
    axes), as np.tile and PyTorch's `Tensor.repeat(*sizes)` / `torch.tile`."""
    x = tensor_arg(x, "tile")
    reps = _ints(reps, "tile", "reps")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative reps {reps}")
    return Tile.apply(x, reps=reps)


class RepeatInterleave(Function):
    """np.repeat(x, repeats, axis): each element repeated in place.
    d/dx = the sum of the gradients of an element's copies"""

    def forward(self, x: np.ndarray, repeats: Any = 1, axis: int | None = None) -> np.ndarray:
        self.in_shape, self.axis = x.shape, axis
        n = x.size if axis is None else x.shape[axis]
        try:
            out = np.repeat(x, repeats, axis)
            source = np.repeat(np.arange(n), repeats)
        except ValueError as e:
            raise ValueError(f"repeat_interleave: {e} (tensor shape {x.shape}, repeats "
                             f"{np.shape(repeats) or repeats}, axis {axis})") from None
        self.index = (source,) if axis is None else (slice(None),) * axis + (source,)
        return out

    def backward(self, grad: Any) -> Any:
        if self.axis is None:
            n = 1
            for s in self.in_shape:
                n *= s
            return _scatter_add(grad, (n,), self.index).reshape(self.in_shape)
        return _scatter_add(grad, self.in_shape, self.index)


@register(method=True, numpy=np.repeat)
def repeat_interleave(x: Any, repeats: Any, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Repeat each element `repeats` times (an int, or one count per element along the axis)
    along `axis` (None: of the flattened tensor), as np.repeat and torch.repeat_interleave
    (`dim=` too)."""
    x = tensor_arg(x, "repeat_interleave")
    axis = _pick("repeat_interleave", axis, dim, "axis", "dim")
    if axis is not None:
        axis = normalize_one_axis(axis, x.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor):
        repeats = repeats.data
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"repeat_interleave: repeats must be an int or a 1-D sequence of ints, "
                        f"got {repeats!r}")
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: negative repeats {counts.tolist()}")
    return RepeatInterleave.apply(x, repeats=counts, axis=axis)
