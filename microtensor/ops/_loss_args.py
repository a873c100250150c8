"""Argument checks of the losses (ops/losses.py): inputs, targets, weights, class labels and
`reduction`, each refused with a ValueError or TypeError that names the loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {np.dtype(f"{k}{size}"): np.dtype(f"u{size}") for k in "iu" for size in (1, 2, 4, 8)}


def check_reduction(reduction: str, where: str) -> None:
    """Refuse a `reduction` other than "mean", "sum" or "none" (a ValueError naming `where`)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )


def as_input(x: Any, where: str) -> Tensor:
    """A loss's input as a Tensor: a Tensor as it is, an array, list or number wrapped."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{where}: expected a Tensor or an array, got {type(x).__name__}")


def _cast(value: Any, like: Tensor, where: str, name: str) -> Any:
    dtype = like.data.dtype
    if isinstance(value, Tensor):
        return value if value.data.dtype == dtype else value.astype(dtype)
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: {name} must be numeric ({e})") from None


def as_target(target: Any, like: Tensor, where: str) -> Any:
    """`target` as an array (or Tensor, kept differentiable) of `like`'s dtype and shape."""
    t = _cast(target, like, where, "target")
    if t.shape != like.data.shape:
        raise ValueError(
            f"{where}: target shape {t.shape} differs from input shape {like.shape}; reshape "
            "one of them (broadcasting here is almost always a bug)"
        )
    return t


def as_weight(weight: Any, like: Tensor, where: str, name: str) -> Any:
    """A per-element weight (`name`: "weight", "pos_weight") as an array or Tensor of `like`'s
    dtype that broadcasts to `like`'s shape without enlarging it, as PyTorch requires: a
    weight scales each element's loss, it never adds elements."""
    w = _cast(weight, like, where, name)
    shape = like.data.shape
    try:
        fits = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: {name} of shape {w.shape} does not broadcast to the input's shape "
            f"{shape} (a weight scales each element's loss and may not add elements)"
        )
    return w


def class_labels(target: Any, num_classes: int, shape: tuple[int, ...] | None,
                 where: str) -> np.ndarray:
    """Class labels as an intp array, checked for dtype, shape (when `shape` is given) and
    range 0..num_classes-1. Floating labels are accepted when every value is a whole number
    (`mt.tensor([0, 2])` is float64)."""
    return checked_labels(target, num_classes, shape, where)[0]


def checked_labels(target: Any, num_classes: int, shape: tuple[int, ...] | None, where: str,
                   ignore_index: int | None = None,
                   input_shape: tuple[int, ...] | None = None) -> tuple[np.ndarray, bool]:
    """`class_labels` that also accepts labels equal to `ignore_index` (PyTorch's
    ignore_index: those positions are left out of the loss), and says whether any is there:
    (labels as intp, any ignored). `input_shape`, when given, is the input's shape as the
    error for a shape mismatch shows it."""
    arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{where}: class labels must be integers, got dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        hint = (" (or class probabilities of the input's shape)"
                if where == "cross_entropy" else "")
        shown = tuple(shape) + (num_classes,) if input_shape is None else tuple(input_shape)
        layout = ("" if input_shape is None or len(input_shape) < 3 else
                  "; the class axis is axis 1, as in PyTorch: (N, C, d1, ...) logits take "
                  "(N, d1, ...) labels")
        raise ValueError(
            f"{where}: labels of shape {arr.shape} do not match input of shape "
            f"{shown}; expected labels of shape {tuple(shape)}{hint}{layout}"
        )
    if arr.dtype.kind == "f":
        _first_bad(arr, ~np.isfinite(arr) | (arr != np.round(arr)), where,
                   "is not a whole number")
    # integers: one reduction over an unsigned view (where a negative label is huge) says
    # whether any label is out of range; only then is the first bad one looked for
    unsigned = _UNSIGNED.get(arr.dtype)
    ignored = False
    if unsigned is None or (arr.size and np.maximum.reduce(arr.view(unsigned), axis=None)
                            >= num_classes):
        bad = (arr < 0) | (arr >= num_classes)
        if ignore_index is not None:
            skip = arr == ignore_index
            ignored = bool(skip.any())
            bad &= ~skip
        _first_bad(arr, bad, where,
                   f"is out of range for {num_classes} classes (labels must be in "
                   f"0..{num_classes - 1}" + ("" if ignore_index is None else
                                              f", or ignore_index={ignore_index}") + ")")
    elif ignore_index is not None and 0 <= ignore_index < num_classes:
        ignored = bool((arr == ignore_index).any())
    return arr.astype(np.intp, copy=False), ignored


def check_index(value: Any, where: str, name: str) -> int:
    """An integer option such as `ignore_index` (a bool or a non-integer is a TypeError)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be an integer, got {value!r}")
    return int(value)


def check_fraction(value: Any, where: str, name: str) -> float:
    """A number in [0, 1] such as `label_smoothing` (TypeError or ValueError naming it)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{where}: {name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1], got {value!r}")
    return float(value)


def check_positive(value: Any, where: str, name: str, strict: bool = True) -> float:
    """A finite number > 0 (>= 0 when not `strict`), such as Huber's delta (named if not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (strict and v == 0):
        raise ValueError(f"{where}: {name} must be a finite number "
                         f"{'> 0' if strict else '>= 0'}, got {value!r}")
    return v


def class_weight(weight: Any, like: Tensor, num_classes: int, where: str) -> Any:
    """A per-class `weight` (PyTorch's cross_entropy / nll_loss weight) as an array or
    Tensor of `like`'s dtype and shape (num_classes,)."""
    w = _cast(weight, like, where, "weight")
    if w.shape != (num_classes,):
        raise ValueError(f"{where}: weight must have one entry per class, shape "
                         f"({num_classes},), got shape {w.shape}")
    return w


def _first_bad(arr: np.ndarray, bad: np.ndarray, where: str, why: str) -> None:
    """Raise a ValueError naming the first flagged label and its index, if any."""
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        at = f" at index {idx[0] if len(idx) == 1 else idx}" if idx else ""
        value = arr[idx].item()
        raise ValueError(f"{where}: class label {value!r}{at} {why}")
