"""Losses, numerically stable, with their fused ops (`import nn.functional as F` re-exports them).

Losses take `reduction="mean" | "sum" | "none"`; targets may be Tensors, arrays or lists and
are cast to the input's dtype (a float32 model stays float32); a weight scales each element's
loss and must broadcast to the input's shape (it never adds elements). Four losses are fused
ops, one node with the reduction folded in, whose docstrings say why: `SquaredError`
(mse_loss), `BinaryCrossEntropy`, `SoftmaxCrossEntropy` (cross-entropy with class labels) and
`Softplus` (the stable term of BCE with logits); the rest are built from core ops. The fused
backwards are written over arrays or Tensors (see microtensor/function.py): under
`create_graph=True` they recompute what they need from the tracked inputs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor
from . import vocab as V
from ._loss_args import as_input, as_target, as_weight, check_reduction, class_labels
from .elementwise import where

__all__ = [
    "BinaryCrossEntropy", "SoftmaxCrossEntropy", "Softplus", "SquaredError",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "check_reduction",
    "class_labels", "cross_entropy", "l1_loss", "mse_loss", "nll_loss", "softplus",
]

_BCE_EPS = 1e-12  # PyTorch's floor on p * (1 - p) in the BCE gradient
_LOG_FLOOR = -100.0  # PyTorch's clamp on log(p) and log(1 - p) in BCE


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


class Softplus(Function):
    """softplus(x) = log(1 + exp(x)), computed as np.logaddexp(0, x).   d/dx = sigmoid(x)

    Fused because the core has no log1p: log(1 + exp(x)) from core ops rounds 1 + 1e-22 to 1
    and returns 0 for softplus(-50) = 1.9e-22, losing all relative precision of small losses
    (a confident right answer in BCE-with-logits); logaddexp keeps it and never overflows.
    The derivative is Sigmoid's own (expit, or the op under create_graph).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.logaddexp(0, x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * V.sigmoid(x)


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
        self.save_for_backward(x, y, constant(diff))  # first order only: see backward
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
        # forward's difference at first order; x - y, recorded, under create_graph
        d = V.first_order(grad, lambda: diff, lambda: x - y)
        if self.reduction == "none":
            g = d * (2 * grad)
        else:  # a 0-d gradient: at first order a Python number (cheaper, keeps d's dtype)
            scale = 2.0 * V.scalar(grad)
            g = d * (scale / max(self.count, 1) if self.reduction == "mean" else scale)
        return (g if need_x else None), (-g if need_y else None)


class SoftmaxCrossEntropy(Function):
    """-log_softmax(logits)[label], reduced.   d/dlogits = softmax(logits) - onehot(label)

    The composite (log_softmax, pick, reshape, negate, reduce) is six nodes; this is one, and
    its backward is the textbook p - y, computed without ever dividing by a probability. The
    shift is the softmax's own row max; under create_graph the softmax is the Softmax op.
    `labels` are checked integer class labels of the logits' leading shape (`class_labels`).
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray = None,
                reduction: str = "mean") -> np.ndarray:
        self.reduction, self.labels = reduction, labels
        flat = logits.reshape(-1, logits.shape[-1])  # a view when it can be: any layout
        n_rows, n_cols = flat.shape
        # C order whatever the logits' layout (x.T, a Fortran-ordered leaf): the flat indices
        # `picks` below and in backward address rows in C order, and read through views
        shifted = np.subtract(flat, V.row_max(flat), order="C")
        exps = np.exp(shifted)
        sums = np.dot(exps, _ones_column(n_cols, exps.dtype))  # row sums, through BLAS
        # each row's label as an index into the flattened array: one index array is cheaper
        # to pick with (and to update in backward) than a pair
        self.picks = picks = _row_starts(n_rows, n_cols) + labels.reshape(-1)
        loss = np.log(sums[:, 0]) - shifted.reshape(-1)[picks]
        self.count = loss.size
        if self.needs_input_grad[0]:
            self.save_for_backward(logits, constant(exps), constant(sums))  # first order only
        if reduction == "mean":
            return np.asarray(loss.mean())
        if reduction == "sum":
            return np.asarray(np.add.reduce(loss, axis=None))
        return loss.reshape(labels.shape)

    def backward(self, grad: Any) -> Any:
        logits, exps, sums = self.saved
        # the softmax: forward's exponentials over their sums at first order (made C-ordered,
        # so that sub_at writes through a flat view), the recorded Softmax under create_graph
        p = V.first_order(grad, lambda: np.divide(exps, sums, order="C").reshape(logits.shape),
                          lambda: logits.softmax(axis=-1))
        d = V.sub_at(p, self.picks, 1)  # p - onehot(labels)
        if self.reduction == "none":
            return d * grad[..., None]
        # a 0-d gradient: at first order a Python number, applied only when it is not 1
        return V.mul_(d, V.scalar(grad) / (max(self.count, 1) if self.reduction == "mean"
                                          else 1))


class BinaryCrossEntropy(Function):
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as PyTorch does, so p = 0
    or 1 gives a finite loss (100 per wrong certain answer).
    d/dp = (p - y) / max(p (1 - p), 1e-12),  d/dy = log(1 - p) - log(p)  (clamped alike)

    Fused rather than composed from log and clip: the composite's backward divides by p and by
    1 - p, which overflows float32 near p = 0 or 1 (and gives inf * 0 = nan), while this
    formula stays finite everywhere; it is PyTorch's gradient too. Written over arrays or
    Tensors, so second order works. A summed or mean loss is two `vdot`s. Probabilities
    outside [0, 1] are refused here: they make a log nan, so the range is checked only then.
    """

    def forward(self, p: np.ndarray, y: np.ndarray, reduction: str = "none") -> np.ndarray:
        self.save_for_backward(p, y)
        self.reduction, self.count = reduction, p.size
        with np.errstate(divide="ignore", invalid="ignore"):
            # np.asarray: a ufunc on a 0-d array returns a scalar, which `out=` cannot take
            log_p = np.asarray(np.log(p))
            log_q = np.asarray(np.log1p(-p))
        np.maximum(log_p, _LOG_FLOOR, out=log_p)
        np.maximum(log_q, _LOG_FLOOR, out=log_q)
        if reduction == "none":
            loss = -(y * log_p + (1 - y) * log_q)
            nan = bool(np.isnan(loss).any())
        else:
            loss = -(np.vdot(y, log_p) + np.vdot(1 - y, log_q))
            nan = math.isnan(loss)
            if reduction == "mean":
                loss = loss / p.size if p.size else np.nan  # the mean of nothing, as in NumPy
        if nan and p.size and (np.min(p) < 0 or np.max(p) > 1):
            raise ValueError(
                "binary_cross_entropy: input must be probabilities in [0, 1], got values in "
                f"[{np.min(p):g}, {np.max(p):g}] (for logits use "
                "binary_cross_entropy_with_logits)"
            )
        return np.asarray(loss, dtype=p.dtype)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        p, y = self.saved
        need_p, need_y = self.needs_input_grad
        if self.reduction != "none":  # a 0-d gradient: at first order a Python number
            grad = V.scalar(grad)
            if self.reduction == "mean":
                grad = grad / max(self.count, 1)
        grad_p = None
        if need_p:  # (p - y) / max(p (1 - p), eps), times grad (in place where it can be)
            grad_p = V.mul_(V.div_(p - y, np.maximum(p * (1 - p), _BCE_EPS)), grad)
        grad_y = None
        if need_y:
            floor = math.exp(_LOG_FLOOR)
            grad_y = grad * (np.log(np.maximum(1 - p, floor)) - np.log(np.maximum(p, floor)))
        return grad_p, grad_y


# ---------------------------------------------------------------------- functions
def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, stable and precise for any x (a fused op, see
    `Softplus`), and x itself where beta * x > threshold (PyTorch's rule, gradient 1 there).
    d/dx = sigmoid(beta * x) below the threshold."""
    t = as_input(x, "softplus")
    for name, value in (("beta", beta), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"softplus: {name} must be a number, got {type(value).__name__}")
    if beta == 0 or not math.isfinite(beta):
        raise ValueError(f"softplus: beta must be a finite number other than 0, got {beta}")
    out = Softplus.apply(t) if beta == 1 else Softplus.apply(t * beta) / beta
    above = beta * t.data > threshold
    return where(above, t, out) if above.any() else out


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target)**2, reduced. `reduction="sum"` is the first seed's sum of squares."""
    check_reduction(reduction, "mse_loss")
    x = as_input(input, "mse_loss")
    return SquaredError.apply(x, as_target(target, x, "mse_loss"), reduction=reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, reduced."""
    check_reduction(reduction, "l1_loss")
    x = as_input(input, "l1_loss")
    return _reduce((x - as_target(target, x, "l1_loss")).abs(), reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """Cross-entropy of probabilities `input` in [0, 1] against targets in [0, 1]:
    -(y log p + (1 - y) log(1 - p)), logs clamped at -100 (PyTorch's convention) so the loss
    and its gradient are finite even at p = 0 or 1. `weight` multiplies each element."""
    where = "binary_cross_entropy"
    check_reduction(reduction, where)
    p = as_input(input, where)
    y = as_target(target, p, where)
    if weight is None:  # the reduction folded into the op: one node (see the class)
        return BinaryCrossEntropy.apply(p, y, reduction=reduction)
    w = as_weight(weight, p, where, "weight")
    return _reduce(BinaryCrossEntropy.apply(p, y) * w, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any,  # noqa: A002
                                     weight: Any = None, pos_weight: Any = None,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(input) computed from the logits without ever forming
    the probabilities: max(x, 0) - x y + softplus(-|x|), finite (value and gradient) for any x
    and precise for small losses. `pos_weight` weighs the positive term (PyTorch's
    convention), `weight` each element.
    """
    where = "binary_cross_entropy_with_logits"
    check_reduction(reduction, where)
    x = as_input(input, where)
    y = as_target(target, x, where)
    w = None if weight is None else as_weight(weight, x, where, "weight")
    soft = Softplus.apply(-x.abs())  # log1p(exp(-|x|)) at full precision
    if pos_weight is None:
        loss = x.relu() - x * y + soft
    else:
        pw = as_weight(pos_weight, x, where, "pos_weight")
        loss = (1 - y) * x + (1 + (pw - 1) * y) * (soft + (-x).relu())
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Negative log-likelihood of integer class labels given log-probabilities `input` of
    shape (..., C) (class axis last) and labels of shape (...)."""
    check_reduction(reduction, "nll_loss")
    logp = as_input(input, "nll_loss")
    if logp.ndim == 0:
        raise ValueError("nll_loss: input needs a class axis, got a 0-d tensor")
    labels = class_labels(target, logp.shape[-1], logp.shape[:-1], "nll_loss")
    flat = logp.reshape(-1, logp.shape[-1])
    picked = flat[np.arange(flat.shape[0]), labels.ravel()].reshape(labels.shape)
    return _reduce(-picked, reduction)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Cross-entropy of logits `input` (..., C), class axis last, computed through
    log_softmax (stable for any logits). `target` is either integer class labels of shape (...)
    (a Tensor, array or list; each must be in 0..C-1) or class probabilities of the logits'
    shape (a floating array): then the loss is -sum(target * log_softmax(input), axis=-1)."""
    check_reduction(reduction, "cross_entropy")
    logits = as_input(input, "cross_entropy")
    if logits.ndim == 0:
        raise ValueError("cross_entropy: input needs a class axis, got a 0-d tensor")
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind == "f" and raw.shape == logits.shape:
        logp = logits.log_softmax(axis=-1)
        probs = as_target(target, logits, "cross_entropy")
        return _reduce(-(probs * logp).sum(axis=-1), reduction)
    labels = class_labels(target, logits.shape[-1], logits.shape[:-1], "cross_entropy")
    return SoftmaxCrossEntropy.apply(logits, labels=labels, reduction=reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
