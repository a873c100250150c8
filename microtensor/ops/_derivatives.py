"""Derivative pieces shared by the primitives and the fused ops, written once.

A fused op (ops/fused.py, ops/losses.py) computes in one node what a chain of primitives
computes in several; its backward must give the primitives' gradients bit for bit, so it calls
the same helpers they call: the sigmoid and tanh gradients, ReLU's slope with its kink rule,
the row max that shifts a softmax, and SciPy's expit. Gradient helpers take arrays (first
order: computed in place where the result is new) or Tensors (under create_graph: recorded as
ops) alike, so the op bodies that call them need no branch of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

# relu'(0): the mean of the one-sided slopes 0 and 1, which is also what central differences
# measure (the same rule gives abs'(0) = 0 and maximum's ties 0.5 each, see elementwise.py)
RELU_SLOPE_AT_ZERO = 0.5


def expit(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """SciPy's expit, sigmoid as one ufunc (into `out` if given), imported on first use (SciPy
    adds a quarter second to `import microtensor`): this function replaces itself with it, so
    call it as `_derivatives.expit(...)` rather than importing the name."""
    from scipy import special

    globals()["expit"] = special.expit
    return special.expit(x, out=out)


def sigmoid(x: Any) -> Any:
    """sigmoid(x): expit on an array, the Sigmoid op on a Tensor (recorded)."""
    return x.sigmoid() if isinstance(x, Tensor) else expit(x)


def sigmoid_grad(grad: Any, out: Any) -> Any:
    """grad * out * (1 - out): the gradient through out = sigmoid(z), given the output."""
    if isinstance(out, Tensor) or isinstance(grad, Tensor):  # create_graph: recorded
        return grad * out * (1 - out)
    d = 1 - out  # the same product, with no temporaries beyond the result
    d *= out
    d *= grad
    return d


def tanh_grad(grad: Any, out: Any) -> Any:
    """grad * (1 - out**2): the gradient through out = tanh(z), given the output."""
    return grad * (1 - out * out)


def relu_slope(x: Any) -> np.ndarray:
    """relu'(x) as a new constant array: 1 above 0, 0 below, RELU_SLOPE_AT_ZERO at 0, nan at
    nan. (sign(x) + 1) / 2 gives all four in two in-place steps."""
    slope = np.sign(x.data if isinstance(x, Tensor) else x)
    slope += 1
    slope *= RELU_SLOPE_AT_ZERO
    return slope


def relu_slope_of_output(out: Any, zeros: np.ndarray) -> np.ndarray:
    """relu'(z) as a new constant array, from out = relu(z) and the C-order flat indices where
    z == 0 (what a fused op keeps instead of z): sign(out) is the slope everywhere else."""
    slope = np.sign(out.data if isinstance(out, Tensor) else out)
    if zeros.size:  # np.put: C-order flat indices, written through in any layout
        np.put(slope, zeros, RELU_SLOPE_AT_ZERO)
    return slope


def row_max(flat: np.ndarray) -> np.ndarray:
    """flat.max(axis=1, keepdims=True) of a 2-D array (-inf for a row of nothing), fast for few
    columns: NumPy reduces a short last axis one row at a time (150 x 3: 8 us), while an
    elementwise maximum over the columns runs down whole columns (2 us; 4x faster at
    8192 x 10 too). The columns are taken as 1-D views: the same maximum over (n, 1) slices
    is twice as slow. NaN propagates the same way."""
    n_cols = flat.shape[1]
    if n_cols < 2 or n_cols > 16:
        return flat.max(axis=1, keepdims=True, initial=-np.inf)
    top = np.maximum(flat[:, 0], flat[:, 1])
    for j in range(2, n_cols):
        np.maximum(top, flat[:, j], out=top)
    return top[:, None]


def max_keepdims(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """np.max(x, axis, keepdims=True, initial=-inf), the shift of a stable softmax, through
    `row_max` for the last axis of a 2-D array (the usual (batch, classes) logits)."""
    if x.ndim == 2 and axis in (1, -1, (1,), (-1,)):
        return row_max(x)
    return np.max(x, axis=axis, keepdims=True, initial=-np.inf)
