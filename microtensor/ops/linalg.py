"""Matrix product with np.matmul semantics (1-D, 2-D and batched N-D)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor
from . import vocab as V
from ._util import operand
from .registry import register


class MatMul(Function):
    """x @ y.   d/dx = grad @ y^T,  d/dy = x^T @ grad  (over the last two axes, batched)

    1-D operands are promoted the way np.matmul promotes them (x to a row, y to a column) and
    the gradient is reshaped back; the engine sums the batch axes that were broadcast.
    """

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        _check_matmul(np.shape(x), np.shape(y))
        self.save_for_backward(x, y)
        return np.matmul(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved
        need_x, need_y = self.needs_input_grad
        x_vec, y_vec = x.ndim == 1, y.ndim == 1
        if x_vec and y_vec:
            return (grad * y if need_x else None), (grad * x if need_y else None)
        x2 = x[None, :] if x_vec else x
        y2 = y[:, None] if y_vec else y
        if x_vec:
            grad = grad[..., None, :]
        elif y_vec:
            grad = grad[..., None]
        grad_x = grad_y = None
        if need_x:
            grad_x = grad @ V.mT(y2)
            if x_vec:
                grad_x = grad_x[..., 0, :]
        if need_y:
            grad_y = V.mT(x2) @ grad
            if y_vec:
                grad_y = grad_y[..., 0]
        return grad_x, grad_y

    def emit_forward(self, e: Any) -> list[str] | None:
        """Code template for two matrices (mt.compile, see microtensor.compiler.Emit)."""
        if np.ndim(e.values[0]) != 2 or np.ndim(e.values[1]) != 2:
            return None
        return [f"{e.out} = {e.fn('matmul', np.matmul, 'numpy')}({e.args[0]}, {e.args[1]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad @ y.T, x.T @ grad."""
        lines, out = [], [None, None]
        if self.needs_input_grad[0]:
            out[0] = e.targets[0]
            lines.append(f"{out[0]} = {e.grad} @ {e.args[1]}.T")
        if self.needs_input_grad[1]:
            out[1] = e.targets[1]
            lines.append(f"{out[1]} = {e.args[0]}.T @ {e.grad}")
        return lines, out

    def jvp(self, tx: Any, ty: Any) -> Any:
        x, y = self.saved
        return V.add_tangents(None if tx is None else V.matmul(tx, y),
                              None if ty is None else V.matmul(x, ty))


def _check_matmul(xs: tuple[int, ...], ys: tuple[int, ...]) -> None:
    """Raise a ValueError naming both shapes unless np.matmul accepts them."""
    if len(xs) == 0 or len(ys) == 0:
        raise ValueError(f"matmul: 0-d operands are not allowed (shapes {xs} and {ys}); use *")
    k_x = xs[-1]
    k_y = ys[0] if len(ys) == 1 else ys[-2]
    if k_x != k_y:
        raise ValueError(
            f"matmul: shapes {xs} and {ys} are not aligned: {k_x} (last axis of the first) "
            f"!= {k_y} ({'only' if len(ys) == 1 else 'second-to-last'} axis of the second)"
        )
    bx, by = xs[:-2], ys[:-2]
    if not bx or not by or bx == by:
        return  # nothing to broadcast: skip NumPy's (slow, Python-level) shape check
    try:
        np.broadcast_shapes(bx, by)
    except ValueError:
        raise ValueError(
            f"matmul: batch axes of shapes {xs} and {ys} cannot be broadcast together"
        ) from None


@register(numpy=np.matmul)
def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with np.matmul semantics."""
    return MatMul.apply(operand(x, "matmul"), operand(y, "matmul"))
