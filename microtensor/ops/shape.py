"""Shape ops: reshape, transpose, indexing, concatenate, stack, broadcast_to."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..function import Function
from ..shapes import normalize_one_axis, unbroadcast
from ..tensor import Tensor
from . import vocab as V
from ._util import tensor_arg
from .reduce import torch_names
from .registry import register


class Reshape(Function):
    """x.reshape(shape).   d/dx = grad.reshape(x.shape)"""

    def forward(self, x: np.ndarray, shape: tuple[int, ...] = ()) -> np.ndarray:
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} (size {x.size}) "
                f"into shape {shape}"
            ) from None

    def backward(self, grad: Any) -> Any:
        return grad.reshape(self.in_shape)

    def jvp(self, t: Any) -> Any:
        return t.reshape(self._shape)


class Transpose(Function):
    """x.transpose(axes).   d/dx = grad.transpose(inverse permutation)"""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        if axes is None:
            axes = tuple(range(x.ndim))[::-1]
        if sorted(a % x.ndim if x.ndim else a for a in axes) != list(range(x.ndim)) or any(
            not -x.ndim <= a < x.ndim for a in axes
        ):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the {x.ndim} axes of "
                f"a tensor of shape {x.shape}"
            )
        self.inverse = tuple(np.argsort([a % x.ndim for a in axes]))
        return x.transpose(axes)

    def backward(self, grad: Any) -> Any:
        return grad.transpose(self.inverse)

    def jvp(self, t: Any) -> Any:
        return t.transpose(tuple(int(a) for a in np.argsort(self.inverse)))


class BroadcastTo(Function):
    """broadcast_to(x, shape).   d/dx = grad summed back to x.shape"""

    def forward(self, x: np.ndarray, shape: tuple[int, ...] = ()) -> np.ndarray:
        self.in_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to shape {shape}"
            ) from None

    def backward(self, grad: Any) -> Any:
        return unbroadcast(grad, self.in_shape)

    def jvp(self, t: Any) -> Any:
        return V.broadcast_to(t, self._shape)


class GetItem(Function):
    """x[index].   d/dx = zeros like x with grad added at `index` (repeats add up)"""

    def forward(self, x: np.ndarray, index: Any = None) -> np.ndarray:
        self.in_shape, self.index = x.shape, index
        try:
            return np.asarray(x[index])
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None

    def backward(self, grad: Any) -> Any:
        return _scatter_add(grad, self.in_shape, self.index)

    def jvp(self, t: Any) -> Any:
        return t[self.index]


class IndexAdd(Function):
    """zeros(shape) with grad added at `index` (the backward of getitem).   d/dg = grad[index]"""

    def forward(self, grad: np.ndarray, shape: tuple[int, ...] = (), index: Any = None) -> Any:
        self.index = index
        return _index_add(grad, shape, index)

    def backward(self, grad: Any) -> Any:
        return grad[self.index]

    def jvp(self, t: Any) -> Any:
        return _scatter_add(t, self._shape, self.index)


def _index_add(grad: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=grad.dtype)
    if _is_basic(index):
        out[index] = grad
    else:
        np.add.at(out, index, grad)
    return out


def _index_add_recorded(grad: Tensor, shape: tuple[int, ...], index: Any) -> Tensor:
    return IndexAdd.apply(grad, shape=shape, index=index)


# zeros(shape) with grad added at index: GetItem's backward, a word of the vocabulary
_scatter_add = V.dual(_index_add, _index_add_recorded)


def _is_basic(index: Any) -> bool:
    """True when `index` has no integer or boolean arrays (so no element is selected twice)."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, np.ndarray) for i in items)


def _clean_index(index: Any) -> Any:
    """Replace Tensors and lists inside an index by arrays, and check their dtypes."""
    if isinstance(index, tuple):
        return tuple(_clean_index_item(i) for i in index)
    return _clean_index_item(index)


def _clean_index_item(i: Any) -> Any:
    if i is None or i is Ellipsis or isinstance(i, (slice, bool, np.bool_)):
        return i
    if isinstance(i, Tensor):
        i = i.data
    # a tuple inside the index is a sequence of positions, as a list is (NumPy and PyTorch:
    # t[(0, 1), 0] is [t[0, 0], t[1, 0]]); only the outer tuple separates the axes
    if isinstance(i, (list, tuple, np.ndarray)):
        arr = np.asarray(i)
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.intp)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must be integer or boolean, got {arr.dtype}")
        return arr
    try:
        return operator.index(i)
    except TypeError:
        raise IndexError(
            f"getitem: only integers, slices, None, ..., and integer or boolean arrays are "
            f"valid indices, got {type(i).__name__}"
        ) from None


class Concatenate(Function):
    """concatenate(xs, axis).   d/dx_i = the slice of grad that came from x_i"""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        if not xs:
            raise ValueError("concatenate: need at least one tensor")
        ndim = np.ndim(xs[0])
        if ndim == 0:
            raise ValueError(
                "concatenate: 0-d tensors have no axis to join along (shapes "
                f"{', '.join(str(np.shape(x)) for x in xs)}); use mt.stack"
            )
        self.axis = normalize_one_axis(axis, ndim, "concatenate")
        try:
            out = np.concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ValueError(
                f"concatenate: shapes {shapes} must match except along axis {axis}"
            ) from None
        self.bounds = np.cumsum([0] + [np.shape(x)[self.axis] for x in xs])
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        b = self.bounds
        return tuple(
            grad[lead + (slice(int(b[i]), int(b[i + 1])),)] if need else None
            for i, need in enumerate(self.needs_input_grad)
        )

    def jvp(self, *tangents: Any) -> Any:
        if all(t is None for t in tangents):
            return None
        b, shape = self.bounds, list(self._shape)
        parts = []
        for i, t in enumerate(tangents):
            shape[self.axis] = int(b[i + 1] - b[i])
            parts.append(np.zeros(shape, dtype=self._dtype) if t is None else t)
        return np.concatenate(parts, axis=self.axis)


class Stack(Function):
    """stack(xs, axis).   d/dx_i = grad taken at position i along the new axis"""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        if not xs:
            raise ValueError("stack: need at least one tensor")
        self.axis = normalize_one_axis(axis, np.ndim(xs[0]) + 1, "stack")
        try:
            return np.stack(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ValueError(f"stack: all shapes must be equal, got {shapes}") from None

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (i,)] if need else None for i, need in enumerate(self.needs_input_grad)
        )

    def jvp(self, *tangents: Any) -> Any:
        if all(t is None for t in tangents):
            return None
        shape = tuple(n for i, n in enumerate(self._shape) if i != self.axis)
        return np.stack([np.zeros(shape, dtype=self._dtype) if t is None else t
                         for t in tangents], axis=self.axis)


@register(numpy=np.reshape)
def reshape(x: Any, shape: Any) -> Tensor:
    """Same values in a new shape (a tuple or an int; one entry may be -1)."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "reshape")
    if isinstance(shape, np.ndarray) and shape.ndim == 1:  # NumPy accepts an array of ints
        shape = tuple(shape.tolist())
    if isinstance(shape, (list, tuple)):
        try:
            shape = tuple(operator.index(n) for n in shape)
        except TypeError:
            raise TypeError(f"reshape: shape must be integers, got {shape!r}") from None
    else:
        try:
            shape = (operator.index(shape),)
        except TypeError:
            raise TypeError(f"reshape: shape must be integers, got {shape!r}") from None
    return Reshape.apply(x, shape=shape)


@register(numpy=np.transpose)
def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute axes; None reverses them (NumPy's `.T`)."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "transpose")
    if axes is not None:
        try:  # NumPy accepts one int for a 1-D array: a.transpose(0), np.transpose(a, 0)
            axes = (operator.index(axes),)
        except TypeError:
            try:
                axes = tuple(operator.index(a) for a in axes)
            except TypeError:
                raise TypeError(f"transpose: axes must be integers, got {axes!r}") from None
    return Transpose.apply(x, axes=axes)


@register(numpy=np.swapaxes)
def swapaxes(x: Any, a: int, b: int) -> Tensor:
    """Exchange two axes."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "swapaxes")
    axes = list(range(x.ndim))
    a, b = normalize_one_axis(a, x.ndim, "swapaxes"), normalize_one_axis(b, x.ndim, "swapaxes")
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


@register(method=True, numpy=np.squeeze)
def squeeze(x: Any, axis: Any = None, dim: Any = None) -> Tensor:
    """Drop length-one axes (all of them, or those in `axis`; `dim` is PyTorch's name)."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "squeeze")
    if dim is not None:
        axis, _ = torch_names("squeeze", axis, False, dim, None)
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        from ..shapes import normalize_axis

        axes = normalize_axis(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} is not of length one")
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return Reshape.apply(x, shape=shape)


@register(method=True, numpy=np.expand_dims)
def expand_dims(x: Any, axis: int | None = None, dim: int | None = None) -> Tensor:
    """Insert a length-one axis at `axis` (`dim` is PyTorch's name; one of them is required)."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "expand_dims")
    if dim is not None:
        axis, _ = torch_names("expand_dims", axis, False, dim, None)
    elif axis is None:
        raise TypeError("expand_dims: missing the axis (or dim) where the new axis goes")
    a = normalize_one_axis(axis, x.ndim + 1, "expand_dims")
    return Reshape.apply(x, shape=x.shape[:a] + (1,) + x.shape[a:])


@register(numpy=np.broadcast_to)
def broadcast_to(x: Any, shape: Any) -> Tensor:
    """View `x` with NumPy broadcasting to `shape`; the gradient is summed back."""
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
    return BroadcastTo.apply(tensor_arg(x, "broadcast_to"), shape=shape)


@register(export=False)
def getitem(x: Any, index: Any) -> Tensor:
    """x[index]: slices, ints, None, ..., integer/boolean arrays or lists, mixed."""
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "getitem")
    return GetItem.apply(x, index=_clean_index(index))


@register(numpy=np.concatenate)
def concatenate(tensors: Any, axis: int = 0, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (`dim` is PyTorch's name for it; `mt.cat` too)."""
    if dim is not None:
        axis, _ = torch_names("concatenate", axis, False, dim, None, 0)
    return Concatenate.apply(*_sequence(tensors, "concatenate"), axis=axis)


@register(numpy=np.stack)
def stack(tensors: Any, axis: int = 0, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (`dim` is PyTorch's name for it)."""
    if dim is not None:
        axis, _ = torch_names("stack", axis, False, dim, None, 0)
    return Stack.apply(*_sequence(tensors, "stack"), axis=axis)


def _sequence(tensors: Any, op: str) -> list[Any]:
    if isinstance(tensors, (Tensor, np.ndarray)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op}: expected a sequence of tensors, got {type(tensors).__name__}")
    items = [_item(t, op) for t in tensors]
    if not items:
        raise ValueError(f"{op}: need at least one tensor")
    return items


def _item(t: Any, op: str) -> Tensor:
    """One element of the sequence. A Python number becomes what NumPy's own stack and
    concatenate make of it (np.asarray: bool, int64 or float64), so the result's dtype is
    NumPy's: stack([False, float32 tensor]) is float32, as np.stack gives."""
    if type(t) in (bool, int, float):
        arr = np.asarray(t)
        if arr.dtype.kind == "O":  # an int beyond int64
            raise ValueError(f"{op}: the integer {t} does not fit in int64")
        return Tensor(arr)
    return tensor_arg(t, op)
