"""Fused loss ops: one graph node each instead of four to six.

On the seed networks a training step is a dozen ops on arrays of a few hundred numbers, so
Python overhead per node, not arithmetic, decides the speed (benchmarks/: W1-W3). Each op
here replaces a chain of primitives whose backward it computes in one formula, and folds in
the reduction. Both backwards are written over arrays or Tensors (see microtensor/function.py),
so gradients of gradients still work: under `create_graph=True` they recompute what they need
from the tracked inputs instead of using the values saved as constants.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from microtensor import Function, Tensor
from microtensor.ops import elementwise as _elementwise


def _scale(grad: Any, reduction: str, count: int) -> Any:
    """The per-element factor of the incoming gradient for a reduced loss."""
    if reduction == "mean":
        return grad / max(count, 1)
    if reduction == "sum":
        return grad
    return grad[..., None] if grad.ndim else grad


@functools.lru_cache(maxsize=64)
def _row_starts(n_rows: int, n_cols: int) -> np.ndarray:
    """The flat index of each row's first element in an (n_rows, n_cols) array, read-only
    and kept."""
    starts = np.arange(0, n_rows * n_cols, n_cols)
    starts.flags.writeable = False
    return starts


@functools.lru_cache(maxsize=64)
def _ones_column(n: int, dtype: np.dtype) -> np.ndarray:
    """np.ones((n, 1), dtype), read-only and kept (a row sum is `x @ _ones_column(...)`)."""
    ones = np.ones((n, 1), dtype=dtype)
    ones.flags.writeable = False
    return ones


@functools.lru_cache(maxsize=64)
def _ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    """np.ones(n, dtype), read-only and kept (a column sum is `_ones_row(...) @ x`)."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


# np.dot rather than @ for 2-D arrays: the same BLAS call without the ufunc machinery around
# matmul, 0.5-0.8 us less per product (a W1 step makes eight); @ stays for Tensors
# (create_graph) and for batch axes, where np.dot is not a batched product
_dot = np.dot


def _row_max(flat: np.ndarray) -> np.ndarray:
    """flat.max(axis=1, keepdims=True), fast for few columns: NumPy reduces a short last axis
    one row at a time (150 x 3: 8 us), while an elementwise maximum over the columns runs
    down whole columns (2 us; 4x faster at 8192 x 10 too). The columns are taken as 1-D
    views: the same maximum over (n, 1) slices is twice as slow. NaN propagates the same way.
    """
    n_cols = flat.shape[1]
    if n_cols < 2 or n_cols > 16:
        return flat.max(axis=1, keepdims=True, initial=-np.inf)
    top = np.maximum(flat[:, 0], flat[:, 1])
    for j in range(2, n_cols):
        np.maximum(top, flat[:, j], out=top)
    return top[:, None]


class SoftmaxCrossEntropy(Function):
    """-log_softmax(logits)[label], reduced.   d/dlogits = softmax(logits) - onehot(label)

    The composite (log_softmax, pick, reshape, negate, reduce) is six nodes; this is one, and
    its backward is the textbook p - y, computed without ever dividing by a probability.
    `labels` are checked integer class labels of the logits' leading shape.
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray = None,
                reduction: str = "mean") -> np.ndarray:
        self.reduction, self.labels = reduction, labels
        flat = logits.reshape(-1, logits.shape[-1])  # a view when it can be: any layout
        n_rows, n_cols = flat.shape
        # C order whatever the logits' layout (x.T, a Fortran-ordered leaf): the flat indices
        # `picks` below and in backward address rows in C order, and read through views
        shifted = np.subtract(flat, _row_max(flat), order="C")
        exps = np.exp(shifted)
        sums = _dot(exps, _ones_column(n_cols, exps.dtype))  # row sums, through BLAS
        # each row's label as an index into the flattened array: one index array is cheaper
        # to pick with (and to update in backward) than a pair
        self.picks = picks = _row_starts(n_rows, n_cols) + labels.reshape(-1)
        loss = np.log(sums[:, 0]) - shifted.reshape(-1)[picks]
        self.count = loss.size
        if self.needs_input_grad[0]:
            self.save_for_backward(logits, exps, sums)
        if reduction == "mean":
            return np.asarray(loss.mean())
        if reduction == "sum":
            return np.asarray(np.add.reduce(loss, axis=None))
        return loss.reshape(labels.shape)

    def backward(self, grad: Any) -> Any:
        logits, exps, sums = self.saved
        if isinstance(grad, Tensor):
            onehot = np.zeros(logits.shape, dtype=logits.dtype)
            np.put(onehot, self.picks, 1)
            d = logits.softmax(axis=-1) - onehot
            return d * _scale(grad, self.reduction, self.count)
        # the softmax, made C-ordered so that reshape(-1) is a view the update writes through
        # (on a Fortran-ordered d it would be a copy, and the `- onehot` would be lost)
        d = np.divide(exps, sums, order="C")
        flat = d.reshape(-1)
        flat[self.picks] -= 1
        d = d.reshape(logits.shape)
        if self.reduction == "none":
            return d * grad[..., None]
        # a 0-d gradient: applied as a Python number, only when it is not 1
        scale = float(grad) / (max(self.count, 1) if self.reduction == "mean" else 1)
        if scale != 1.0:
            d *= scale
        return d


class SquaredError(Function):
    """(x - y)**2, reduced.   d/dx = 2 (x - y),  d/dy = -2 (x - y)

    One node instead of three (subtract, square, reduce); a summed or mean square is one
    `vdot`. x and y are saved as they are, so under create_graph the backward formula is
    differentiable as written; first-order backward reuses the forward's difference.
    """

    def forward(self, x: np.ndarray, y: Any, reduction: str = "mean") -> np.ndarray:
        self.reduction = reduction
        diff = x - y
        self.count = diff.size
        self.save_for_backward(x, y, diff)
        if reduction == "none" or not diff.size:  # (the mean of nothing is nan, as in NumPy)
            sq = diff * diff
            return sq if reduction == "none" else np.asarray(sq.mean() if reduction == "mean"
                                                             else sq.sum())
        total = np.vdot(diff, diff)
        if not math.isfinite(total) and np.geterr()["over"] == "raise":
            diff * diff  # raises FloatingPointError as the elementwise square would
        return np.asarray(total / diff.size if reduction == "mean" else total)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y, diff = self.saved
        need_x, need_y = self.needs_input_grad
        if isinstance(grad, Tensor):  # create_graph: the formula over the tracked inputs
            g = (x - y) * (2 * grad if self.reduction == "none" else
                           2 * _scale(grad, self.reduction, self.count))
        elif self.reduction == "none":
            g = diff * (2 * grad)
        else:  # a 0-d gradient: multiply by a Python number (cheaper, keeps diff's dtype)
            scale = 2.0 * float(grad)
            g = diff * (scale / max(self.count, 1) if self.reduction == "mean" else scale)
        return (g if need_x else None), (-g if need_y else None)


class Linear(Function):
    """x @ weight + bias.   d/dx = grad @ weight^T,  d/dweight = x^T @ grad,  d/dbias = sum(grad)

    One node instead of two (MatMul, then Add with a broadcast bias whose gradient the engine
    would sum back): nn.Linear is in every network, so this is the most frequent pair of ops.
    Leading axes of x are batch axes; weight is (in, out).
    """

    _fresh_grads = True  # three matmuls: new arrays (the engine need not copy them)

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        if weight.ndim != 2 or (bias is not None and bias.shape != weight.shape[1:]):
            raise ValueError(
                f"linear: weight must be (in, out) and bias (out,), got weight {weight.shape}"
                + ("" if bias is None else f" and bias {bias.shape}")
            )
        if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape "
                f"{weight.shape} (weight has {weight.shape[0]} input features)"
            )
        out = _dot(x, weight) if x.ndim == 2 else x @ weight
        if bias is not None:
            if bias.dtype == out.dtype:
                out += bias  # out is ours: no second array for the sum
            else:
                out = out + bias
        self.save_for_backward(x, weight)
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight = self.saved
        return self._grads(grad, x, weight)

    def _grads(self, grad: Any, x: Any, weight: Any) -> tuple[Any, ...]:
        """The gradients of x, weight (and bias) given the gradient of x @ weight + bias."""
        needs = self.needs_input_grad
        if type(grad) is np.ndarray and grad.ndim == 2:  # first order, one batch axis
            grad_x = _dot(grad, weight.T) if needs[0] else None
            grad_w = _dot(x.T, grad) if needs[1] else None
            if len(needs) == 2:
                return grad_x, grad_w
            return grad_x, grad_w, (_dot(_ones_row(grad.shape[0], grad.dtype), grad)
                                    if needs[2] else None)
        grad_x = grad @ weight.T if needs[0] else None
        rows = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
        grad_w = None
        if needs[1]:
            flat = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
            grad_w = flat.T @ rows
        if len(needs) == 2:
            return grad_x, grad_w
        grad_b = None
        if needs[2]:  # the column sums, through BLAS (3x NumPy's sum(axis=0), any size)
            grad_b = (_ones_row(rows.shape[0], rows.dtype) @ rows
                      if type(rows) is np.ndarray else rows.sum(axis=0))
        return grad_x, grad_w, grad_b


class LinearSigmoid(Linear):
    """sigmoid(x @ weight + bias).   dz = grad * out * (1 - out), then Linear's rule with dz

    nn.Linear(..., activation="sigmoid"). One node instead of two (Linear, then Sigmoid), the
    sigmoid computed in place on the product: on the seeds' networks (a handful of rows) a
    node costs more in Python than in arithmetic. Values and gradients are the same, bit for
    bit, as the two ops'; the price is that the pre-activation z is never a tensor of its
    own (no picture of it, no hook on it).
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = super().forward(x, weight, bias)
        _elementwise._expit(out, out=out)  # Sigmoid's expit (looked up: it loads lazily)
        self.saved = (x, weight, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out = self.saved
        if isinstance(out, Tensor):  # create_graph
            return self._grads(grad * out * (1 - out), x, weight)
        d = 1 - out
        d *= out
        d *= grad
        return self._grads(d, x, weight)


class LinearTanh(Linear):
    """tanh(x @ weight + bias).   dz = grad * (1 - out**2), then Linear's rule with dz

    nn.Linear(..., activation="tanh"): Linear then Tanh as one node, tanh in place (as
    LinearSigmoid)."""

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = super().forward(x, weight, bias)
        np.tanh(out, out=out)
        self.saved = (x, weight, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out = self.saved
        return self._grads(grad * (1 - out * out), x, weight)


class LinearReLU(Linear):
    """max(x @ weight + bias, 0).   dz = grad * (1, 0, 0.5 where z >, <, == 0), then Linear's rule

    nn.Linear(..., activation="relu"): Linear then Relu as one node, the max taken in place.
    Relu's slope is sign(out) except at z == 0 exactly (0.5 there), so what is kept is the
    output (which the next layer keeps anyway) and the flat indices of those exact zeros
    (almost always none): no array of z's size beyond what the unfused pair keeps.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        z = super().forward(x, weight, bias)
        if any(self.needs_input_grad):
            self.saved = (x, weight, z, np.flatnonzero(z == 0))
        np.maximum(z, 0, out=z)  # NaN stays NaN, so sign(out) is Relu's NaN slope too
        return z

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out, at_zero = self.saved
        slope = np.sign(out.data if isinstance(out, Tensor) else out)  # a constant
        if at_zero.size:  # np.put: C-order flat indices, written through in any layout
            np.put(slope, at_zero, 0.5)
        if isinstance(grad, Tensor):  # create_graph
            return self._grads(grad * slope, x, weight)
        slope *= grad
        return self._grads(slope, x, weight)


# nn.Linear(activation=...) and nn.functional.linear(activation=...): the op for each choice
LINEAR_OPS = {None: Linear, "sigmoid": LinearSigmoid, "tanh": LinearTanh, "relu": LinearReLU}
