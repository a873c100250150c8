"""Stateless activations and losses (`import nn.functional as F`), numerically stable.

Losses take `reduction="mean" | "sum" | "none"`; targets may be Tensors, arrays or lists and
are cast to the input's dtype (a float32 model stays float32). Everything is built from core
ops except four fused ops, `BinaryCrossEntropy` and `Softplus` here, `SoftmaxCrossEntropy`
(cross-entropy with class labels) and `SquaredError` (mse_loss) in nn/_fused.py, whose
docstrings say why.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Function, Tensor

from ._fused import LINEAR_OPS as _LINEAR_OPS
from ._fused import Linear as _Linear
from ._fused import SoftmaxCrossEntropy, SquaredError

_REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {np.dtype(f"{k}{size}"): np.dtype(f"u{size}") for k in "iu" for size in (1, 2, 4, 8)}
_BCE_EPS = 1e-12  # PyTorch's floor on p * (1 - p) in the BCE gradient
_LOG_FLOOR = -100.0  # PyTorch's clamp on log(p) and log(1 - p) in BCE


# ---------------------------------------------------------------------- activations
def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for any x."""
    return _tensor(x, "sigmoid").sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _tensor(x, "tanh").tanh()


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return _tensor(x, "relu").relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (the gradient at 0 is negative_slope)."""
    x = _tensor(x, "leaky_relu")
    return mt.where(x.data > 0, x, x * negative_slope)


class Softplus(Function):
    """softplus(x) = log(1 + exp(x)), computed as np.logaddexp(0, x).   d/dx = sigmoid(x)

    Fused because the core has no log1p: log(1 + exp(x)) from core ops rounds 1 + 1e-22 to 1
    and returns 0 for softplus(-50) = 1.9e-22, losing all relative precision of small losses
    (a confident right answer in BCE-with-logits); logaddexp keeps it and never overflows.
    Backward is written over arrays or Tensors (second order works).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.logaddexp(0, x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        if isinstance(x, Tensor):
            return grad * x.sigmoid()
        return grad * np.exp(-np.logaddexp(0, -x))


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)), stable and precise for any x (a fused op, see `Softplus`)."""
    return Softplus.apply(_tensor(x, "softplus"))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x), axis), stable for any x."""
    return _tensor(x, "softmax").softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x, axis), stable for any x."""
    return _tensor(x, "log_softmax").log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight + bias, with weight of shape (in, out) and bias of shape (out,): one fused
    node (see nn/_fused.py); other shapes fall back to matmul and broadcasting add.
    `activation` ("sigmoid", "tanh" or "relu") is applied inside the same node, as
    nn.Linear(..., activation=...) does."""
    if activation is not None:
        op = _LINEAR_OPS.get(activation) if isinstance(activation, str) else None
        if op is None:
            raise ValueError("linear: activation must be None, 'sigmoid', 'tanh' or 'relu', "
                             f"got {activation!r}")
        x = _tensor(x, "linear")
        args = (x, _tensor(weight, "linear")) + (() if bias is None else
                                                  (_tensor(bias, "linear"),))
        return op.apply(*args)
    if (isinstance(weight, Tensor) and weight.ndim == 2 and isinstance(x, Tensor)
            and (bias is None or (isinstance(bias, Tensor) and bias.shape == weight.shape[1:]))):
        return _Linear.apply(x, weight) if bias is None else _Linear.apply(x, weight, bias)
    y = x @ weight
    return y if bias is None else y + bias


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability `p`, scale the rest by
    1 / (1 - p); the identity when not `training` or p == 0. Uses the shared generator."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = _tensor(x, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    scale = (mt.default_generator().random(x.shape) >= p).astype(x.dtype)
    scale *= 1.0 / (1.0 - p)
    return x * scale


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """An array of shape labels.shape + (num_classes,) with a 1 at each label."""
    arr = _class_labels(labels, num_classes, None, "one_hot")
    return (arr[..., None] == np.arange(num_classes)).astype(dtype)


# ---------------------------------------------------------------------- losses
def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target)**2, reduced. `reduction="sum"` is the first seed's sum of squares."""
    _check_reduction(reduction, "mse_loss")
    input = _tensor(input, "mse_loss")  # noqa: A001
    return SquaredError.apply(input, _target(target, input, "mse_loss"), reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, reduced."""
    _check_reduction(reduction, "l1_loss")
    input = _tensor(input, "l1_loss")  # noqa: A001
    return _reduce((input - _target(target, input, "l1_loss")).abs(), reduction)


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
        if isinstance(grad, Tensor) or self.reduction == "none":
            if self.reduction == "mean":
                grad = grad / max(self.count, 1)
            grad_p = grad * (p - y) / np.maximum(p * (1 - p), _BCE_EPS) if need_p else None
        else:  # a 0-d gradient: applied as a Python number, only when it is not 1
            scale = float(grad) / (max(self.count, 1) if self.reduction == "mean" else 1)
            grad = scale
            grad_p = None
            if need_p:
                grad_p = np.asarray(p - y)  # an array even for 0-d p, so /= stays in place
                grad_p /= np.maximum(p * (1 - p), _BCE_EPS)
                if scale != 1.0:
                    grad_p *= scale
        grad_y = None
        if need_y:
            floor = math.exp(_LOG_FLOOR)
            grad_y = grad * (np.log(np.maximum(1 - p, floor)) - np.log(np.maximum(p, floor)))
        return grad_p, grad_y


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """Cross-entropy of probabilities `input` in [0, 1] against targets in [0, 1]:
    -(y log p + (1 - y) log(1 - p)), logs clamped at -100 (PyTorch's convention) so the loss
    and its gradient are finite even at p = 0 or 1. `weight` multiplies each element."""
    _check_reduction(reduction, "binary_cross_entropy")
    input = _tensor(input, "binary_cross_entropy")  # noqa: A001
    y = _target(target, input, "binary_cross_entropy")
    if weight is None:  # the reduction folded into the op: one node (see the class)
        return BinaryCrossEntropy.apply(input, y, reduction=reduction)
    loss = BinaryCrossEntropy.apply(input, y)
    loss = loss * _target(weight, input, "binary_cross_entropy", same_shape=False)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any,  # noqa: A002
                                     weight: Any = None, pos_weight: Any = None,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(input) computed from the logits without ever forming
    the probabilities: max(x, 0) - x y + softplus(-|x|), finite (value and gradient) for any x
    and precise for small losses. `pos_weight` weighs the positive term (PyTorch's
    convention), `weight` each element.
    """
    where = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, where)
    x = _tensor(input, where)
    y = _target(target, x, where)
    soft = softplus(-x.abs())  # log1p(exp(-|x|)) at full precision
    if pos_weight is None:
        loss = x.relu() - x * y + soft
    else:
        pw = _target(pos_weight, x, where, same_shape=False)
        loss = (1 - y) * x + (1 + (pw - 1) * y) * (soft + (-x).relu())
    if weight is not None:
        loss = loss * _target(weight, x, where, same_shape=False)
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Negative log-likelihood of integer class labels given log-probabilities `input` of
    shape (..., C) (class axis last) and labels of shape (...)."""
    _check_reduction(reduction, "nll_loss")
    logp = _tensor(input, "nll_loss")
    if logp.ndim == 0:
        raise ValueError("nll_loss: input needs a class axis, got a 0-d tensor")
    labels = _class_labels(target, logp.shape[-1], logp.shape[:-1], "nll_loss")
    return _reduce(-_pick(logp, labels), reduction)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Cross-entropy of logits `input` (..., C), class axis last, computed through
    log_softmax (stable for any logits). `target` is either integer class labels of shape (...)
    (a Tensor, array or list; each must be in 0..C-1) or class probabilities of the logits'
    shape (a floating array): then the loss is -sum(target * log_softmax(input), axis=-1)."""
    _check_reduction(reduction, "cross_entropy")
    logits = _tensor(input, "cross_entropy")
    if logits.ndim == 0:
        raise ValueError("cross_entropy: input needs a class axis, got a 0-d tensor")
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind == "f" and raw.shape == logits.shape:
        logp = logits.log_softmax(axis=-1)
        probs = _target(target, logits, "cross_entropy")
        return _reduce(-(probs * logp).sum(axis=-1), reduction)
    labels = _class_labels(target, logits.shape[-1], logits.shape[:-1], "cross_entropy")
    return SoftmaxCrossEntropy.apply(logits, labels=labels, reduction=reduction)


# ---------------------------------------------------------------------- helpers
def _tensor(x: Any, where: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{where}: expected a Tensor or an array, got {type(x).__name__}")


def _target(target: Any, like: Tensor, where: str, same_shape: bool = True) -> Any:
    """`target` as an array (or Tensor, kept differentiable) of `like`'s dtype and shape."""
    dtype = like.data.dtype
    if isinstance(target, Tensor):
        t = target if target.data.dtype == dtype else target.astype(dtype)
    else:
        try:
            t = np.asarray(target, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{where}: target must be numeric ({e})") from None
    if same_shape and t.shape != like.data.shape:
        raise ValueError(
            f"{where}: target shape {t.shape} differs from input shape {like.shape}; reshape "
            "one of them (broadcasting here is almost always a bug)"
        )
    return t


def _class_labels(target: Any, num_classes: int, shape: tuple[int, ...] | None,
                  where: str) -> np.ndarray:
    """Class labels as an int array, checked for dtype, shape and range. Floating labels are
    accepted when every value is a whole number (`mt.tensor([0, 2])` is float64)."""
    arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{where}: class labels must be integers, got dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        hint = (" (or class probabilities of the input's shape)"
                if where == "cross_entropy" else "")
        raise ValueError(
            f"{where}: labels of shape {arr.shape} do not match input of shape "
            f"{tuple(shape) + (num_classes,)}; expected labels of shape {tuple(shape)}{hint}"
        )
    if arr.dtype.kind == "f":
        _first_bad(arr, ~np.isfinite(arr) | (arr != np.round(arr)), where,
                   "is not a whole number")
    # integers: one reduction over an unsigned view (where a negative label is huge) says
    # whether any label is out of range; only then is the first bad one looked for
    unsigned = _UNSIGNED.get(arr.dtype)
    if unsigned is None or (arr.size and np.maximum.reduce(arr.view(unsigned), axis=None)
                            >= num_classes):
        _first_bad(arr, (arr < 0) | (arr >= num_classes), where,
                   f"is out of range for {num_classes} classes (labels must be in "
                   f"0..{num_classes - 1})")
    return arr.astype(np.intp, copy=False)


def _first_bad(arr: np.ndarray, bad: np.ndarray, where: str, why: str) -> None:
    """Raise a ValueError naming the first flagged label and its index, if any."""
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        at = f" at index {idx[0] if len(idx) == 1 else idx}" if idx else ""
        value = arr[idx].item()
        raise ValueError(f"{where}: class label {value!r}{at} {why}")


def _pick(logp: Tensor, labels: np.ndarray) -> Tensor:
    """logp[..., labels]: each row's entry at its label, in the labels' shape."""
    flat = logp.reshape(-1, logp.shape[-1])
    picked = flat[np.arange(flat.shape[0]), labels.ravel()]
    return picked.reshape(labels.shape)


def _check_reduction(reduction: str, where: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
