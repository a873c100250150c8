"""Shape and indexing ops beyond the primitives: flip, roll, tril/triu, pad, tile,
repeat_interleave, moveaxis, split/chunk, diagonal, take_along_axis/gather/index_select,
scatter/scatter_add, masked_fill, outer, tensordot, meshgrid, unfold and einsum. Each op is
registered once (see registry.py): a `Function` subclass of its own, or, where the primitives
already give every order of derivative (moveaxis, split, outer, tensordot, meshgrid,
masked_fill), a composition of them.

Most of them move elements without changing them, so their gradients move the incoming
gradient back: the inverse movement where there is one (flip, roll), a mask (tril, triu,
scatter), a slice (constant padding), or a scatter-add where one input element feeds several
outputs (reflect and edge padding, tile, repeat_interleave, the gathers, unfold, diagonal).
einsum's gradient is an einsum of the incoming gradient with the other operands.
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
from .elementwise import mul as _mul
from .elementwise import where as _where
from .linalg import matmul as _matmul
from .registry import register
from .shape import BroadcastTo, GetItem, Reshape, Transpose, _scatter_add


def _pick(op: str, value: Any, alias: Any, name: str, alias_name: str) -> Any:
    """One argument given under NumPy's name or PyTorch's (`axis`/`dims`), not both."""
    if alias is None:
        return value
    if value is not None:
        raise TypeError(f"{op}: give {name}= or {alias_name}=, not both")
    return alias


def _named(op: str, fn: Any, *args: Any) -> Any:
    """fn(*args) for an op made of other ops, its floating-point errors (under np.errstate
    "raise") naming the op the user called rather than the part that raised."""
    try:
        return fn(*args)
    except FloatingPointError as e:
        raise FloatingPointError(f"{op}: {e}") from None


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

    def jvp(self, t: Any) -> Any:
        return t[self.index]


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

    def jvp(self, t: Any) -> Any:
        return _roll(t, self.shift, self.axis)


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

    def jvp(self, t: Any, t_k: Any = None) -> Any:
        (mask,) = self.saved
        return V.where(mask, t, 0)


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

    def jvp(self, t: Any, *rest: Any) -> Any:
        if self.mode == "constant":  # zeros in the border: the value is a constant
            return _scatter_add(t, self._shape, self.index)
        return t[self.index]  # each output element is a copy of the input at `index`


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

    def jvp(self, t: Any, t_reps: Any = None) -> Any:
        shape = tuple(1 if i % 2 == 0 else n for i, n in enumerate(self.blocks))
        return V.broadcast_to(t.reshape(shape), self.blocks).reshape(self._shape)


@register(method=True, numpy=np.tile)
def tile(x: Any, reps: Any) -> Tensor:
    """x repeated `reps` times along each axis (an int or a tuple; extra leading reps add
    axes), as np.tile and PyTorch's `Tensor.repeat(*sizes)` / `torch.tile`."""
    x = tensor_arg(x, "tile")
    reps = _ints(reps, "tile", "reps")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative reps {reps}")
    return Tile.apply(x, reps=reps)


@register(method=True, export=False)
def repeat(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's `Tensor.repeat(*sizes)`: x tiled `sizes` times along each axis, at least one
    size per axis (extra leading sizes add axes), as np.tile. A method only: np.repeat,
    which repeats each element in place, is `repeat_interleave`."""
    x = tensor_arg(x, "repeat")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    reps = _ints(sizes, "repeat", "sizes")
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} sizes for a tensor of {x.ndim} axes (shape "
                         f"{x.shape}); give one per axis")
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: negative sizes {reps}")
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

    def jvp(self, t: Any, *rest: Any) -> Any:
        return (t.reshape(-1) if self.axis is None else t)[self.index]


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


# ------------------------------------------------------------------- axes and pieces
@register(method=True, numpy=np.moveaxis)
def moveaxis(x: Any, source: Any, destination: Any) -> Tensor:
    """Move the axes `source` to the positions `destination` (ints or sequences of ints),
    the others keeping their order, as np.moveaxis (PyTorch's movedim)."""
    x = tensor_arg(x, "moveaxis")
    src, dst = _ints(source, "moveaxis", "source"), _ints(destination, "moveaxis", "destination")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {src} and destination {dst} differ in length")
    src = _axes_list(src, x.ndim, "moveaxis")
    dst = _axes_list(dst, x.ndim, "moveaxis")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Transpose.apply(x, axes=tuple(order))


def _axes_list(axes: tuple[int, ...], ndim: int, op: str) -> tuple[int, ...]:
    """Distinct axes in range, negatives counted from the end, in the order given."""
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axes}")
    return tuple(out)


def _slices(x: Tensor, axis: int, bounds: list[int]) -> list[Tensor]:
    lead = (slice(None),) * axis
    return [GetItem.apply(x, index=lead + (slice(b, e),)) for b, e in zip(bounds, bounds[1:])]


@register(numpy=np.split)
def split(x: Any, indices_or_sections: Any, axis: Any = 0, *, dim: Any = None) -> list[Tensor]:
    """A list of pieces of x along `axis`, as np.split: an int N makes N equal pieces (an
    error when the axis does not divide), a sequence of ints gives the indices to cut at.
    (PyTorch's torch.split takes piece sizes instead: see `chunk` for equal pieces.)"""
    x = tensor_arg(x, "split")
    axis = normalize_one_axis(_pick("split", axis, dim, "axis", "dim"), x.ndim, "split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, (tuple, list, np.ndarray, Tensor)):
        raw_cuts = indices_or_sections.data if isinstance(indices_or_sections, Tensor) \
            else indices_or_sections
        cuts = [min(max(c + n if c < 0 else c, 0), n)
                for c in _ints(raw_cuts, "split", "indices")]
        bounds = [0, *cuts, n]
        bounds = [bounds[0]] + [max(b, bounds[0]) for b in bounds[1:]]
        return [GetItem.apply(x, index=(slice(None),) * axis + (slice(b, max(b, e)),))
                for b, e in zip(bounds, bounds[1:])]
    try:
        sections = operator.index(indices_or_sections)
    except TypeError:
        raise TypeError(f"split: indices_or_sections must be an int or a sequence of ints, "
                        f"got {indices_or_sections!r}") from None
    if sections <= 0 or n % sections:
        raise ValueError(f"split: {sections} sections do not divide axis {axis} of length {n} "
                         f"(tensor shape {x.shape}) into equal pieces")
    step = n // sections
    return _slices(x, axis, [i * step for i in range(sections + 1)])


@register(method=True)
def chunk(x: Any, chunks: int, axis: int = 0, *, dim: Any = None) -> list[Tensor]:
    """At most `chunks` pieces of x along `axis`, each of ceil(n / chunks) elements but the
    last, as torch.chunk (`dim=` too)."""
    x = tensor_arg(x, "chunk")
    axis = normalize_one_axis(_pick("chunk", axis, dim, "axis", "dim"), x.ndim, "chunk")
    try:
        chunks = operator.index(chunks)
    except TypeError:
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r}") from None
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[axis]
    if n == 0:  # PyTorch: `chunks` empty pieces
        return _slices(x, axis, [0] * (chunks + 1))
    step = -(-n // chunks)
    bounds = [*range(0, n, step), n]
    return _slices(x, axis, bounds)


class Diagonal(Function):
    """The diagonal (offset k) of the axes axis1, axis2, as a last axis.
    d/dx = zeros like x with grad placed on that diagonal"""

    def forward(self, x: np.ndarray, offset: int = 0, axis1: int = 0,
                axis2: int = 1) -> np.ndarray:
        rest = [a for a in range(x.ndim) if a not in (axis1, axis2)]
        self.perm = (*rest, axis1, axis2)
        self.inverse = tuple(np.argsort(self.perm))
        moved = x.transpose(self.perm)
        self.moved_shape = moved.shape
        rows, cols = moved.shape[-2:]
        length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
        i = np.arange(length)
        self.index = (Ellipsis, i - min(offset, 0), i + max(offset, 0))
        return moved[self.index]

    def backward(self, grad: Any) -> Any:
        return _scatter_add(grad, self.moved_shape, self.index).transpose(self.inverse)

    def jvp(self, t: Any) -> Any:
        return t.transpose(self.perm)[self.index]


@register(method=True, numpy=np.diagonal)
def diagonal(x: Any, offset: Any = 0, axis1: Any = None, axis2: Any = None, *,
             dim1: Any = None, dim2: Any = None) -> Tensor:
    """The elements x[..., i, i + offset] of the axes axis1 (default 0) and axis2 (default
    1), along a new last axis, as np.diagonal and torch.diagonal (`dim1=`, `dim2=` too)."""
    x = tensor_arg(x, "diagonal")
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs at least 2 axes, got a tensor of shape {x.shape}")
    a1 = _pick("diagonal", axis1, dim1, "axis1", "dim1")
    a2 = _pick("diagonal", axis2, dim2, "axis2", "dim2")
    a1 = normalize_one_axis(0 if a1 is None else a1, x.ndim, "diagonal")
    a2 = normalize_one_axis(1 if a2 is None else a2, x.ndim, "diagonal")
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 are the same axis ({a1})")
    try:
        offset = operator.index(offset)
    except TypeError:
        raise TypeError(f"diagonal: offset must be an int, got {offset!r}") from None
    return Diagonal.apply(x, offset=offset, axis1=a1, axis2=a2)


# ------------------------------------------------------------------- gather and scatter
class Gather(Function):
    """x at an integer index array (take_along_axis, gather, index_select, unfold).
    d/dx = zeros like x with grad added at the index (repeats add up)"""

    def forward(self, x: np.ndarray, index: Any = None) -> np.ndarray:
        self.in_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad: Any) -> Any:
        return _scatter_add(grad, self.in_shape, self.index)

    def jvp(self, t: Any) -> Any:
        return t[self.index]


def _index_array(index: Any, op: str) -> np.ndarray:
    """An integer index (Tensor, array or list) as an array, or a TypeError naming op."""
    arr = np.asarray(index.data if isinstance(index, Tensor) else index)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{op}: indices must be integers, got {arr.dtype}")
    return arr.astype(np.intp, copy=False)


def _along(x_shape: tuple[int, ...], idx: np.ndarray, axis: int, op: str,
           broadcast: bool) -> tuple[Any, ...]:
    """The full index of x that takes `idx` along `axis` and the matching position along every
    other axis: NumPy's take_along_axis (`broadcast`: idx's other axes broadcast against x's)
    or PyTorch's gather (idx's other axes at most x's, taking their first elements)."""
    if idx.ndim != len(x_shape):
        raise ValueError(f"{op}: indices of shape {idx.shape} need as many axes as the tensor "
                         f"of shape {x_shape}")
    n = x_shape[axis]
    if idx.size and not (-n <= idx.min() and idx.max() < n):
        raise IndexError(f"{op}: an index is out of range for axis {axis} of length {n} "
                         f"(tensor shape {x_shape})")
    full = []
    for d, size in enumerate(x_shape):
        shape = [1] * len(x_shape)
        if d == axis:
            full.append(idx % n if n else idx)
            continue
        if broadcast:
            if idx.shape[d] not in (1, size) and size != 1:
                raise ValueError(f"{op}: indices of shape {idx.shape} do not broadcast against "
                                 f"the tensor of shape {x_shape} (axis {d})")
            shape[d] = size
            full.append(np.arange(size).reshape(shape))
        else:
            if idx.shape[d] > size:
                raise ValueError(f"{op}: index of shape {idx.shape} is larger than the tensor "
                                 f"of shape {x_shape} along axis {d}")
            shape[d] = idx.shape[d]
            full.append(np.arange(idx.shape[d]).reshape(shape))
    return tuple(full)


@register(numpy=np.take_along_axis)
def take_along_axis(x: Any, indices: Any, axis: Any = -1, *, dim: Any = None) -> Tensor:
    """x's elements at `indices` along `axis` (default the last, as NumPy 2; None: of the
    flattened x), the other axes matched position by position (broadcasting), as
    np.take_along_axis (PyTorch's take_along_dim, `dim=` too)."""
    x = tensor_arg(x, "take_along_axis")
    idx = _index_array(indices, "take_along_axis")
    if dim is not None:
        if axis != -1:
            raise TypeError("take_along_axis: give axis= or dim=, not both")
        axis = dim
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis: with axis=None the indices must be 1-D, got "
                             f"shape {idx.shape}")
        x, axis = Reshape.apply(x, shape=(-1,)), 0
    axis = normalize_one_axis(axis, x.ndim, "take_along_axis")
    return Gather.apply(x, index=_along(x.shape, idx, axis, "take_along_axis", True))


@register(method=True)
def gather(x: Any, dim: Any, index: Any) -> Tensor:
    """torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (index has x's number
    of axes and at most its size along the others)."""
    x = tensor_arg(x, "gather")
    axis = normalize_one_axis(dim, x.ndim, "gather")
    idx = _index_array(index, "gather")
    return Gather.apply(x, index=_along(x.shape, idx, axis, "gather", False))


@register(method=True)
def index_select(x: Any, dim: Any, index: Any) -> Tensor:
    """torch.index_select: the slices of x at the 1-D integer `index` along `dim`."""
    x = tensor_arg(x, "index_select")
    axis = normalize_one_axis(dim, x.ndim, "index_select")
    idx = _index_array(index, "index_select")
    if idx.ndim != 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    n = x.shape[axis]
    if idx.size and not (-n <= idx.min() and idx.max() < n):
        raise IndexError(f"index_select: an index is out of range for axis {axis} of length "
                         f"{n} (tensor shape {x.shape})")
    return Gather.apply(x, index=(slice(None),) * axis + (idx,))


class Scatter(Function):
    """x with src written (or added, `add`) at an index.   d/dx = grad (zero where written),
    d/dsrc = grad at the index"""

    def forward(self, x: np.ndarray, src: np.ndarray, index: Any = None,
                add: bool = False) -> np.ndarray:
        self.index, self.add = index, add
        out = np.array(x, dtype=np.result_type(x, src), copy=True)
        if add:
            np.add.at(out, index, src)
        else:
            out[index] = src
            written = np.zeros(x.shape, dtype=bool)
            written[index] = True
            # where an index repeats, the last write wins: only that element of src reaches
            # the output, so only it gets a gradient
            flat = np.ravel_multi_index(np.broadcast_arrays(*index), x.shape).ravel()
            last = flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]
            won = np.zeros(flat.size, dtype=bool)
            won[last] = True
            self.save_for_backward(constant(written), constant(won.reshape(src.shape)))
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        if self.add:
            return grad, grad[self.index]
        written, won = self.saved
        return V.where(written, 0, grad), V.where(won, grad[self.index], 0)

    def jvp(self, tx: Any, tsrc: Any) -> Any:
        if self.add:
            return V.add_tangents(tx, None if tsrc is None else _scatter_add(
                tsrc, self._shape, self.index))
        written, won = self.saved  # a written element's tangent is its (last) source's
        return V.add_tangents(None if tx is None else V.where(written, 0, tx),
                              None if tsrc is None else _scatter_add(
                                  V.where(won, tsrc, 0), self._shape, self.index))


class ScatterAdd(Scatter):
    """x with src added at an index (repeats add up).   d/dx = grad, d/dsrc = grad at the
    index"""


def _scatter(x: Any, dim: Any, index: Any, src: Any, op: str, add: bool) -> Tensor:
    x = tensor_arg(x, op)
    axis = normalize_one_axis(dim, x.ndim, op)
    idx = _index_array(index, op)
    full = _along(x.shape, idx, axis, op, False)
    if isinstance(src, (int, float, np.integer, np.floating)) and not isinstance(src, bool):
        src = np.full(idx.shape, src, dtype=x.dtype)
    src = tensor_arg(src, op)
    if src.ndim != idx.ndim or any(s < i for s, i in zip(src.shape, idx.shape)):
        raise ValueError(f"{op}: src of shape {src.shape} must have the index's {idx.ndim} axes "
                         f"and at least its shape {idx.shape}")
    if src.shape != idx.shape:
        src = GetItem.apply(src, index=tuple(slice(0, n) for n in idx.shape))
    return (ScatterAdd if add else Scatter).apply(x, src, index=full, add=add)


@register(method=True)
def scatter(x: Any, dim: Any, index: Any, src: Any) -> Tensor:
    """torch.scatter, functional (a new tensor): x with out[i][index[i][j]] = src[i][j] for
    dim 1; `src` a tensor (its leading part of the index's shape is used) or a number. Where
    an index repeats, the last write wins (PyTorch leaves it unspecified)."""
    return _scatter(x, dim, index, src, "scatter", False)


@register(method=True)
def scatter_add(x: Any, dim: Any, index: Any, src: Any) -> Tensor:
    """torch.scatter_add, functional: x with src added at out[i][index[i][j]] for dim 1
    (repeated indices add up)."""
    return _scatter(x, dim, index, src, "scatter_add", True)


@register(method=True)
def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """x with `value` (a number or a 0-d tensor) where the boolean `mask` (broadcast to x's
    shape) is true, as torch.masked_fill."""
    x = tensor_arg(x, "masked_fill")
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be boolean, got {m.dtype}")
    try:
        shape = np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{value.shape}")
    return _named("masked_fill", _where, m, value, x)


# ------------------------------------------------------------- products and grids
@register(numpy=np.outer)
def outer(a: Any, b: Any) -> Tensor:
    """The outer product of the flattened a and b: out[i, j] = a[i] * b[j], as np.outer
    (torch.outer takes 1-D tensors only)."""
    # a Python number stays a weak scalar, as NumPy's multiply keeps it (float32 stays so)
    if type(a) in (bool, int, float) and type(b) not in (bool, int, float):
        col, row = a, Reshape.apply(tensor_arg(b, "outer"), shape=(1, -1))
    elif type(b) in (bool, int, float) and type(a) not in (bool, int, float):
        col, row = Reshape.apply(tensor_arg(a, "outer"), shape=(-1, 1)), b
    else:
        col = Reshape.apply(tensor_arg(a, "outer"), shape=(-1, 1))
        row = Reshape.apply(tensor_arg(b, "outer"), shape=(1, -1))
    return _named("outer", _mul, col, row)


def _tensordot_axes(axes: Any, nd_a: int, nd_b: int) -> tuple[tuple[int, ...], ...]:
    """np.tensordot's `axes` (an int N: the last N of a with the first N of b; or two
    sequences) as two tuples of non-negative axes."""
    try:
        n = operator.index(axes)
    except TypeError:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair of axis sequences, got "
                            f"{axes!r}") from None
        ax_a, ax_b = _ints(ax_a, "tensordot", "axes"), _ints(ax_b, "tensordot", "axes")
    else:
        if not 0 <= n <= min(nd_a, nd_b):
            raise ValueError(f"tensordot: cannot sum over {n} axes of tensors of {nd_a} and "
                             f"{nd_b} axes")
        ax_a, ax_b = tuple(range(nd_a - n, nd_a)), tuple(range(n))
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {ax_a} and {ax_b} differ in length")
    return _axes_list(ax_a, nd_a, "tensordot"), _axes_list(ax_b, nd_b, "tensordot")


@register(numpy=np.tensordot)
def tensordot(a: Any, b: Any, axes: Any = 2, *, dims: Any = None) -> Tensor:
    """Sum the products of a and b over the axes `axes` (an int N: a's last N with b's first
    N; or (a's axes, b's axes)), as np.tensordot and torch.tensordot (`dims=` too): the
    remaining axes of a, then those of b. Made of transpose, reshape and matmul."""
    a, b = tensor_arg(a, "tensordot"), tensor_arg(b, "tensordot")
    ax_a, ax_b = _tensordot_axes(_pick("tensordot", None if axes == 2 else axes, dims, "axes",
                                       "dims") if dims is not None else axes, a.ndim, b.ndim)
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: axis {i} of a (shape {a.shape}) and axis {j} of b "
                             f"(shape {b.shape}) differ in length")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    left = Reshape.apply(Transpose.apply(a, axes=(*free_a, *ax_a)), shape=(-1, k) if k else (
        int(np.prod([a.shape[i] for i in free_a], dtype=np.int64)), 0))
    right = Reshape.apply(Transpose.apply(b, axes=(*ax_b, *free_b)), shape=(k, -1) if k else (
        0, int(np.prod([b.shape[j] for j in free_b], dtype=np.int64))))
    return Reshape.apply(_named("tensordot", _matmul, left, right), shape=out_shape)


@register(numpy=np.meshgrid)
def meshgrid(*xs: Any, indexing: str = "xy", sparse: bool = False,
             copy: bool = True) -> list[Tensor]:
    """Coordinate grids from 1-D tensors (others are flattened), as np.meshgrid: "xy"
    (Cartesian, the default) swaps the first two output axes, "ij" (matrix, PyTorch's usual)
    does not; `sparse` keeps length-one axes instead of broadcasting."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [Reshape.apply(tensor_arg(x, "meshgrid"), shape=(-1,)) for x in xs]
    n = len(ts)
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        axis = (1 if i == 0 else 0 if i == 1 else i) if indexing == "xy" and n > 1 else i
        view = [1] * n
        view[axis] = t.shape[0]
        g = Reshape.apply(t, shape=tuple(view))
        out.append(g if sparse else BroadcastTo.apply(g, shape=tuple(shape)))
    return out


class Unfold(Function):
    """Sliding windows of `size` elements every `step` along `axis`, as a new last axis
    (torch.Tensor.unfold).   d/dx = the windows' gradients added back where they came from"""

    def forward(self, x: np.ndarray, axis: int = 0, size: int = 1, step: int = 1) -> np.ndarray:
        count = (x.shape[axis] - size) // step + 1
        starts = np.arange(count) * step
        self.in_shape = x.shape
        self.index = (slice(None),) * axis + (starts[:, None] + np.arange(size),)
        # x[index] holds (windows, size) at `axis`; the window's elements go last
        self.perm = (*range(axis + 1), *range(axis + 2, x.ndim + 1), axis + 1)
        self.inverse = tuple(np.argsort(self.perm))
        return x[self.index].transpose(self.perm)

    def backward(self, grad: Any) -> Any:
        return _scatter_add(grad.transpose(self.inverse), self.in_shape, self.index)

    def jvp(self, t: Any) -> Any:
        return t[self.index].transpose(self.perm)


@register(method=True)
def unfold(x: Any, dimension: Any, size: Any, step: Any) -> Tensor:
    """torch.Tensor.unfold: every window of `size` elements, `step` apart, along
    `dimension`, that fits; the windows replace that axis and their elements form a new
    last axis (shape (..., (n - size) // step + 1, ..., size))."""
    x = tensor_arg(x, "unfold")
    if x.ndim == 0:
        raise ValueError("unfold: a 0-d tensor has no axis to slide along")
    axis = normalize_one_axis(dimension, x.ndim, "unfold")
    try:
        size, step = operator.index(size), operator.index(step)
    except TypeError:
        raise TypeError(f"unfold: size and step must be ints, got {size!r}, {step!r}") from None
    if step <= 0 or size < 0 or size > x.shape[axis]:
        raise ValueError(f"unfold: windows of size {size} and step {step} do not fit axis "
                         f"{axis} of length {x.shape[axis]} (tensor shape {x.shape})")
    return Unfold.apply(x, axis=axis, size=size, step=step)


# ---------------------------------------------------------------------------------- einsum
def _einsum_parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """np.einsum's subscripts made explicit: one string of letters per operand (an ellipsis
    replaced by letters of its own, right-aligned across operands as broadcasting is) and
    the output's letters (implicit mode: the ellipsis, then the letters used once, sorted)."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__} "
                        "(the interleaved operand, sublist form is not supported)")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, got "
                         f"{len(shapes)}")
    for part in [*terms, rhs]:
        body = part.replace("...", "", 1)
        if body and not (body.isascii() and body.isalpha()):
            raise ValueError(f"einsum: invalid subscripts {subscripts!r} (letters and one "
                             "'...' per operand)")
    used = set(spec) - {".", ",", "-", ">"}
    spare = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    widths = []
    for term, shape in zip(terms, shapes):
        letters = len(term.replace("...", ""))
        width = len(shape) - letters
        if width < 0 or (width > 0 and "..." not in term):
            raise ValueError(f"einsum: subscripts {term!r} do not match an operand of shape "
                             f"{shape}")
        widths.append(width if "..." in term else 0)
    ell = max(widths, default=0)
    if ell > len(spare):
        raise ValueError("einsum: too many axes under the ellipsis")
    ell_letters = "".join(spare[:ell])
    explicit = [t.replace("...", ell_letters[ell - w:]) for t, w in zip(terms, widths)]
    if arrow:
        if ell and "..." not in rhs:
            raise ValueError("einsum: output has more dimensions than subscripts given, but no "
                             "'...' to broadcast the extra dimensions")
        out = rhs.replace("...", ell_letters)
        seen = set("".join(explicit))
        if len(set(out)) != len(out) or not set(out) <= seen:
            raise ValueError(f"einsum: output subscripts {rhs!r} repeat a letter or use one no "
                             "operand has")
    else:
        counts = {c: "".join(explicit).count(c) for c in set("".join(explicit))}
        out = ell_letters + "".join(sorted(c for c, n in counts.items()
                                           if n == 1 and c not in ell_letters))
    return explicit, out


def _einsum_arrays(grad: np.ndarray, subscripts: str, others: tuple[Any, ...]) -> np.ndarray:
    return np.einsum(subscripts, grad, *others, optimize=len(others) > 1)


def _einsum_tensors(grad: Tensor, subscripts: str, others: tuple[Any, ...]) -> Tensor:
    return Einsum.apply(grad, *others, subscripts=subscripts)


# einsum of the incoming gradient with the other operands: Einsum's backward
_contract = V.dual(_einsum_arrays, _einsum_tensors)


class Einsum(Function):
    """np.einsum with explicit subscripts ("ij,jk->ik").   d/d(operand k) = the einsum of
    grad with the other operands onto k's letters; a letter repeated in k (a diagonal) gets
    the gradient on that diagonal only, a letter only k has (summed) gets it broadcast"""

    def forward(self, *arrays: np.ndarray, subscripts: str = "") -> np.ndarray:
        lhs, self.out = subscripts.split("->")
        self.terms = lhs.split(",")
        self.shapes = [a.shape for a in arrays]
        self.save_for_backward(*arrays)
        try:
            return np.asarray(np.einsum(subscripts, *arrays, optimize=len(arrays) > 2))
        except ValueError as e:
            shapes = ", ".join(str(s) for s in self.shapes)
            raise ValueError(f"einsum: {e} (subscripts {subscripts!r}, shapes {shapes})") from None

    def backward(self, grad: Any) -> tuple[Any, ...]:
        return tuple(self._grad_of(k, grad) if need else None
                     for k, need in enumerate(self.needs_input_grad))

    def _grad_of(self, k: int, grad: Any) -> Any:
        term, shape = self.terms[k], self.shapes[k]
        others = [t for i, t in enumerate(self.terms) if i != k]
        unique = "".join(dict.fromkeys(term))
        size = {c: shape[term.index(c)] for c in unique}
        reached = set(self.out).union(*others)
        target = "".join(c for c in unique if c in reached)
        g = _contract(grad, ",".join([self.out, *others]) + "->" + target,
                      tuple(v for i, v in enumerate(self.saved) if i != k))
        # back to k's sizes: summed where k was broadcast (size 1), then a length-one axis
        # broadcast for each letter only k has
        g = V.sum_to(g, tuple(size[c] for c in target))
        if target != unique:
            g = g.reshape(tuple(size[c] if c in target else 1 for c in unique))
            g = V.broadcast_to(g, tuple(size[c] for c in unique))
        if unique == term:
            return g
        # a repeated letter: the gradient lies on the diagonal of those axes
        index = tuple(np.arange(size[c]).reshape(
            [size[c] if j == unique.index(c) else 1 for j in range(len(unique))])
            for c in term)
        return _scatter_add(g, shape, index)

    def jvp(self, *tangents: Any) -> Any:
        """Multilinear: the einsum with operand k replaced by its tangent, summed over k."""
        total = None
        for k, t in enumerate(tangents):
            if t is None:
                continue
            others = tuple(v for i, v in enumerate(self.saved) if i != k)
            terms = [self.terms[k], *(s for i, s in enumerate(self.terms) if i != k)]
            part = _contract(t, ",".join(terms) + "->" + self.out, others)
            total = part if total is None else total + part
        return total


@register(numpy=np.einsum)
def einsum(subscripts: str, *operands: Any, out: Any = None, optimize: Any = None,
           **kwargs: Any) -> Tensor:
    """Einstein summation, as np.einsum and torch.einsum: any subscripts, a letter repeated
    in one operand (its diagonal), letters summed over, "..." for broadcast leading axes,
    implicit (no "->") or explicit output. The operands may also come as one list
    (torch.einsum's form)."""
    if out is not None or kwargs:
        raise TypeError(f"einsum: unsupported arguments {['out', *kwargs]}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [tensor_arg(t, "einsum") for t in operands]
    terms, out_letters = _einsum_parse(subscripts, [t.shape for t in ts])
    for term, t in zip(terms, ts):
        if len(set(term)) != len(term):
            for c in set(term):
                sizes = {t.shape[i] for i, d in enumerate(term) if d == c}
                if len(sizes) > 1:
                    raise ValueError(f"einsum: the repeated subscript {c!r} labels axes of "
                                     f"different lengths in an operand of shape {t.shape}")
    return Einsum.apply(*ts, subscripts=",".join(terms) + "->" + out_letters)
