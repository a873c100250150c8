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


def raw(x: Any) -> Any:
    """The array behind `x` (a Tensor's data, or `x` itself)."""
    return x.data if isinstance(x, Tensor) else x


def dtype_of(x: Any) -> np.dtype:
    """dtype of an array or Tensor gradient."""
    return x.data.dtype if isinstance(x, Tensor) else x.dtype
