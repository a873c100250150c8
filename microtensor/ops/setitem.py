"""Assignment into a tensor that is part of a graph: `y[index] = value` as an op.

PyTorch lets a tensor computed by ops (not a leaf that requires grad) be assigned into, and
rewires its history so that the gradient of what was overwritten is zero and the assigned
value gets the gradient of its positions. microtensor does the same, one way simpler: the
assignment writes into a copy of the tensor's array and the tensor takes the copy
(copy-on-write). So no value an earlier op saved for backward is ever changed under it, and
the gradient is always that of the values the tensor holds; what differs from PyTorch is that
a view of the tensor taken before the assignment (`row = y[1]`) keeps the old values. Without
a graph (no value requires grad, or under `no_grad`) assignment stays in place, as in NumPy.

    y = x * 2            # x requires grad
    y[0] = w             # y's history: SetItem(Mul(x, 2), w)
    y.sum().backward()   # x.grad is 0 at row 0, w.grad is 1 there
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor


class SetItem(Function):
    """x with `value` written at `index`.   d/dx = grad with zeros at index;
    d/dvalue = grad[index] (summed over the axes value was broadcast along)"""

    def forward(self, x: np.ndarray, value: Any, index: Any = None) -> np.ndarray:
        out = x.copy()
        try:
            out[index] = value
        except ValueError as e:  # NumPy's broadcast message, with the two shapes named
            raise ValueError(
                f"setitem: a value of shape {np.shape(value)} cannot be assigned to "
                f"positions of shape {np.shape(x[index])} ({e})"
            ) from None
        self.index = index
        self.shape, self.dtype = out.shape, out.dtype
        return out

    def backward(self, grad: Any) -> Any:
        gx = _put(grad, self.index, 0.0) if self.needs_input_grad[0] else None
        gv = grad[self.index] if self.needs_input_grad[1] else None
        return gx, gv

    def jvp(self, tx: Any, tv: Any) -> Any:
        if tx is None and tv is None:
            return None
        base = np.zeros(self.shape, self.dtype) if tx is None else tx
        return _put(base, self.index, 0.0 if tv is None else tv)


def _put(x: Any, index: Any, value: Any) -> Any:
    """x with `value` at `index` (a new value): on arrays a copy, on Tensors the recorded op;
    an array `x` with a Tensor `value` is recorded too (a tangent or gradient that is only
    partly tracked)."""
    if isinstance(x, Tensor) or isinstance(value, Tensor):
        return SetItem.apply(x if isinstance(x, Tensor) else Tensor(x), value, index=index)
    out = x.copy()
    out[index] = value
    return out
