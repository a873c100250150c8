"""Helpers shared by the op files: operand checks and array-or-Tensor dispatch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

_NUMBER = (int, float, np.integer, np.floating, np.bool_)


def operand(x: Any, op: str) -> Any:
    """Check one operand of an arithmetic op: a Tensor, a real number or a numeric array.

    Python numbers stay Python numbers, so NumPy's rules keep a float32 tensor float32; lists
    become float64 arrays. Anything else is a TypeError naming the op.
    """
    if isinstance(x, (Tensor, bool)) or (isinstance(x, _NUMBER) and not isinstance(x, bool)):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{op}: unsupported array dtype {x.dtype}")
        return x
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"{op}: cannot use this {type(x).__name__} as a number array ({e})"
            ) from None
        return arr
    raise TypeError(
        f"{op}: unsupported operand of type {type(x).__name__}; expected a Tensor, a real "
        "number or a numeric array"
    )


# NumPy's dtype for a Python scalar that meets only other Python scalars, with its kind's rank:
# in an all-Python-scalar op the highest kind decides the result's dtype (NEP 50)
_PY_SCALAR = {bool: (0, np.bool_), int: (1, np.int64), float: (2, np.float64)}


def operands(x: Any, y: Any, op: str) -> tuple[Any, Any]:
    """Check both operands of a binary op (see `operand`); a Tensor costs one isinstance.

    Two plain Python numbers would run Python arithmetic (1.0 / 0.0 a ZeroDivisionError,
    (-8.0) ** (1/3) complex, True + True an int). Instead a float among them becomes a 0-d
    float64 array (the other stays a weak Python scalar), and bools and ints both become 0-d
    bool or int64 arrays, so NumPy's rules and error state apply as they do to np.add(x, y):
    True + True is True, 1.0 / 0.0 is inf (under errstate(divide="raise"), an error).
    """
    if isinstance(x, Tensor):  # the operators: a Tensor and a Tensor or a Python number
        if isinstance(y, Tensor) or type(y) in _PY_SCALAR:
            return x, y
        return x, operand(y, op)
    if isinstance(y, Tensor):
        return (x if type(x) in _PY_SCALAR else operand(x, op)), y
    x, y = operand(x, op), operand(y, op)
    kx, ky = _PY_SCALAR.get(type(x)), _PY_SCALAR.get(type(y))
    if kx is None or ky is None:
        return x, y
    if kx[0] == 2 or ky[0] == 2:  # a float: the other operand stays weak (2**70 is fine)
        return (np.array(x), y) if kx[0] == 2 else (x, np.array(y))
    try:  # bools and ints: both converted, so an int beyond int64 is refused here, as NumPy does
        return np.array(x, dtype=kx[1]), np.array(y, dtype=ky[1])
    except OverflowError as e:
        raise ValueError(f"{op}: {e}") from None


def tensor_arg(x: Any, op: str) -> Tensor:
    """The Tensor argument of a one-tensor function (mt.exp(x), mt.sum(x), mt.reshape(x)):
    a Tensor as it is, or a Tensor made from a real number or a numeric array or list (a
    TypeError naming the op for anything else: complex, strings, objects, ragged lists)."""
    if isinstance(x, Tensor):
        return x
    return Tensor(operand(x, op))


def raw(x: Any) -> Any:
    """The array behind `x` (a Tensor's data, or `x` itself)."""
    return x.data if isinstance(x, Tensor) else x


def dtype_of(x: Any) -> np.dtype:
    """dtype of an array or Tensor gradient."""
    return x.data.dtype if isinstance(x, Tensor) else x.dtype
