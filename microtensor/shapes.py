"""Pure shape helpers: undoing broadcasting and normalising axes. No Tensor in here."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    Works on an ndarray or on a Tensor (both have `.ndim` and `.sum(axis, keepdims)`), so the
    same rule serves first-order and differentiable (create_graph) backward passes.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    kept = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept:
        grad = grad.sum(axis=kept, keepdims=True)
    return grad


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Turn `axis` (None, an int or a tuple of ints, negatives allowed) into sorted axes.

    Raises ValueError naming `op` for an axis out of range or repeated, and TypeError for an
    axis that is not an integer.
    """
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for item in items:
        try:
            a = operator.index(item)
        except TypeError:
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}") from None
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def normalize_one_axis(axis: Any, ndim: int, op: str) -> int:
    """Normalise a single integer axis (for softmax, concatenate, stack)."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of dimension {ndim}")
    return a % ndim


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with every axis in `axes` set to 1 (the keepdims=True result shape)."""
    if len(axes) == len(shape):
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast result shape, or a ValueError naming `op` and every shape."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None
