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
from ._loss_args import (
    as_input,
    as_target,
    as_weight,
    check_fraction,
    check_index,
    check_positive,
    check_reduction,
    checked_labels,
    class_labels,
    class_weight,
)
from .elementwise import where

__all__ = [
    "BinaryCrossEntropy", "SoftmaxCrossEntropy", "Softplus", "SquaredError",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "check_fraction", "check_index",
    "check_kl_reduction", "check_positive", "check_reduction",
    "class_labels", "cosine_embedding_loss", "cross_entropy", "huber_loss", "kl_div",
    "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss", "softplus",
]

_BCE_EPS = 1e-12  # PyTorch's floor on p * (1 - p) in the BCE gradient
_LOG_FLOOR = -100.0  # PyTorch's clamp on log(p) and log(1 - p) in BCE


def check_labels(labels: np.ndarray, n_classes: int) -> None:
    """Raise IndexError if a class label is outside 0..n_classes-1. The fused cross-entropy
    picks each row's label by flat index, where a label out of range would silently read
    another row's logit; the loss functions check labels before the op too, but a step
    replayed by mt.compile runs only the op, so the op checks for itself (two reductions)."""
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)].flat[0]
        raise IndexError(f"cross_entropy: label {bad} is out of range for {n_classes} classes "
                         "(labels are 0 .. n_classes - 1)")


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

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.fn('logaddexp', np.logaddexp, 'numpy')}(0, {e.args[0]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad * expit(x)."""
        from scipy import special  # what V.sigmoid calls on an array

        expit = e.fn("expit", special.expit, "scipy.special")
        return [f"{e.targets[0]} = {e.grad} * {expit}({e.args[0]})"], [e.targets[0]]

    def jvp(self, t: Any) -> Any:
        """d softplus = sigmoid(x) * t."""
        if t is None:
            return None
        (x,) = self.saved
        return V.sigmoid(x) * t


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

    def emit_forward(self, e: Any) -> list[str] | None:
        """Code template (mt.compile, see microtensor.compiler.Emit): the difference, then
        one vdot for a summed or mean loss."""
        reduction = e.kwargs.get("reduction", "mean")
        diff, out = e.local("diff", f"{e.out}_diff"), e.out
        lines = [f"{diff} = {e.args[0]} - {e.args[1]}"]
        if reduction == "none":
            return [*lines, f"{out} = {diff} * {diff}"]
        if not e.out_value.size or not np.size(e.values[0]):
            return None
        asarray, vdot = e.fn("asarray", np.asarray, "numpy"), e.fn("vdot", np.vdot, "numpy")
        lines.append(f"{out} = {vdot}({diff}, {diff})")
        n = np.size(np.broadcast(e.values[0], e.values[1]))
        total = f"{out} / {n}" if reduction == "mean" else out
        return [*lines, f"{out} = {asarray}({total})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: 2 (x - y) times the gradient (over the count for a mean)."""
        diff, g = e.local("diff"), e.targets[0] or e.local("g")
        if self.reduction == "none":
            scale = f"(2 * {e.grad})"
        elif self.reduction == "mean":
            scale = f"(2.0 * float({e.grad}) / {max(self.count, 1)})"
        else:
            scale = f"(2.0 * float({e.grad}))"
        lines = [f"{g} = {diff} * {scale}"]
        out: list[Any] = [g if self.needs_input_grad[0] else None, None]
        if self.needs_input_grad[1]:
            out[1] = e.targets[1]
            lines.append(f"{out[1]} = -{g}")
        return lines, out

    def jvp(self, t_x: Any, t_y: Any) -> Any:
        """d loss = 2 (x - y) (t_x - t_y), reduced as the loss is."""
        if t_x is None and t_y is None:
            return None
        x, y, diff = self.saved
        dt = t_x if t_y is None else (-t_y if t_x is None else t_x - t_y)
        d = (2 * diff) * dt
        if self.reduction == "none":
            return d
        total = d.sum()
        return total / max(self.count, 1) if self.reduction == "mean" else total


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
        check_labels(labels, n_cols)  # a label out of range would pick from another row
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

    def emit_forward(self, e: Any) -> list[str] | None:
        """Code template for (batch, classes) logits (mt.compile, compiler.Emit): the
        row max, exponentials, row sums by BLAS, and each row's pick by flat index."""
        logits, labels = e.values[0], e.kwargs.get("labels")
        if np.ndim(logits) != 2 or type(labels) is not np.ndarray or "labels" not in e.kw:
            return None
        n_rows, n_cols = logits.shape
        reduction = e.kwargs.get("reduction", "mean")
        x, out = e.args[0], e.out
        shifted, exps, sums, picks = (e.local(k, f"{out}_{k}")
                                      for k in ("shifted", "exps", "sums", "picks"))
        fn = e.fn
        from ._derivatives import row_max

        ones = e.const(f"ones_{n_cols}x1", _ones_column(n_cols, logits.dtype),
                       f"np.ones(({n_cols}, 1), {str(logits.dtype)!r})")
        starts = e.const(f"row_starts_{n_rows}", _row_starts(n_rows, n_cols),
                         f"np.arange(0, {n_rows * n_cols}, {n_cols})")
        lines = [
            f"{shifted} = {fn('subtract', np.subtract, 'numpy')}({x}, "
            f"{fn('row_max', row_max, 'microtensor.ops._derivatives')}({x}), order='C')",
            f"{exps} = {fn('exp', np.exp, 'numpy')}({shifted})",
            f"{sums} = {fn('dot', np.dot, 'numpy')}({exps}, {ones})",
            f"{fn('check_labels', check_labels, 'microtensor.ops.losses')}"
            f"({e.kw['labels']}, {n_cols})",
            f"{picks} = {starts} + {e.kw['labels']}.reshape(-1)",
            f"{out} = {fn('log', np.log, 'numpy')}({sums}[:, 0]) - "
            f"{shifted}.reshape(-1)[{picks}]",
        ]
        asarray = fn("asarray", np.asarray, "numpy")
        if reduction == "mean":
            lines.append(f"{out} = {asarray}({out}.mean())")
        elif reduction == "sum":
            lines.append(f"{out} = {asarray}({fn('add', np.add, 'numpy')}.reduce({out}, "
                         "axis=None))")
        else:
            lines.append(f"{out} = {out}.reshape({labels.shape!r})")
        return lines

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: softmax - onehot(labels), times the gradient."""
        d = e.targets[0]
        divide = e.fn("divide", np.divide, "numpy")
        lines = [f"{d} = {divide}({e.local('exps')}, {e.local('sums')}, order='C')",
                 f"{d}.reshape(-1)[{e.local('picks')}] -= 1  # softmax - onehot(labels)"]
        if self.reduction == "none":
            return [*lines, f"{d} = {d} * {e.grad}[..., None]"], [d]
        scale = e.local("scale", f"{e.out}_scale")
        count = max(self.count, 1) if self.reduction == "mean" else 1
        lines.append(f"{scale} = float({e.grad}) / {count}")
        lines.append(f"if {scale} != 1: {d} *= {scale}")
        return lines, [d]

    def jvp(self, t: Any) -> Any:
        """d loss_row = sum_c (softmax - onehot(label))_c t_c, reduced as the loss is."""
        if t is None:
            return None
        logits, exps, sums = self.saved
        d = np.divide(exps, sums, order="C")
        d.reshape(-1)[self.picks] -= 1
        rows = (d.reshape(logits.shape) * t).sum(axis=-1)
        if self.reduction == "none":
            return rows
        total = rows.sum()
        return total / max(self.count, 1) if self.reduction == "mean" else total


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

    @staticmethod
    def _check_probabilities(p: np.ndarray) -> None:
        """forward's error for probabilities outside [0, 1] (a nan loss made by them)."""
        if p.size and (np.min(p) < 0 or np.max(p) > 1):
            raise ValueError(
                "binary_cross_entropy: input must be probabilities in [0, 1], got values in "
                f"[{np.min(p):g}, {np.max(p):g}] (for logits use "
                "binary_cross_entropy_with_logits)"
            )

    def emit_forward(self, e: Any) -> list[str] | None:
        """Code template for a summed or mean loss (mt.compile, see compiler.Emit): the
        clamped logs, then two vdots."""
        reduction = e.kwargs.get("reduction", "none")
        p = e.values[0]
        if reduction == "none" or type(p) is not np.ndarray or not p.size:
            return None
        fn, x, y, out = e.fn, e.args[0], e.args[1], e.out
        log_p, log_q = e.local("log_p", f"{out}_log_p"), e.local("log_q", f"{out}_log_q")
        asarray, maximum = fn("asarray", np.asarray, "numpy"), fn("maximum", np.maximum, "numpy")
        vdot = fn("vdot", np.vdot, "numpy")
        check = fn("BinaryCrossEntropy", BinaryCrossEntropy, "microtensor.ops.losses")
        floor = e.lit(_LOG_FLOOR)
        lines = [
            f"with {fn('errstate', np.errstate, 'numpy')}(divide='ignore', invalid='ignore'):\n"
            f"    {log_p} = {asarray}({fn('log', np.log, 'numpy')}({x}))\n"
            f"    {log_q} = {asarray}({fn('log1p', np.log1p, 'numpy')}(-{x}))",
            f"{maximum}({log_p}, {floor}, out={log_p})",
            f"{maximum}({log_q}, {floor}, out={log_q})",
            f"{out} = -({vdot}({y}, {log_p}) + {vdot}(1 - {y}, {log_q}))",
            f"if {out} != {out}: {check}._check_probabilities({x})  # nan: outside [0, 1]?",
        ]
        if reduction == "mean":
            lines.append(f"{out} = {out} / {p.size}")
        lines.append(f"{out} = {asarray}({out}, dtype={str(p.dtype)!r})")
        return lines

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: (p - y) / max(p (1 - p), 1e-12) times the gradient."""
        fn, p, y = e.fn, e.args[0], e.args[1]
        g = e.local("scale", f"{e.out}_scale")
        lines = [f"{g} = float({e.grad})" + (f" / {max(self.count, 1)}"
                                             if self.reduction == "mean" else "")]
        maximum = fn("maximum", np.maximum, "numpy")
        out: list[Any] = [None, None]
        if self.needs_input_grad[0]:
            d = out[0] = e.targets[0]
            pv, yv = e.values[0], e.values[1]
            diff = np.broadcast_shapes(np.shape(pv), np.shape(yv))
            fits = diff == pv.shape and np.result_type(pv, yv) == pv.dtype
            denom = f"{maximum}({p} * (1 - {p}), {e.lit(_BCE_EPS)})"
            lines.append(f"{d} = {p} - {y}")
            lines.append(f"{d} /= {denom}" if fits else f"{d} = {d} / {denom}")
            lines.append(f"if {g} != 1: {d} *= {g}")
        if self.needs_input_grad[1]:
            out[1] = e.targets[1]
            log, floor = fn("log", np.log, "numpy"), e.lit(math.exp(_LOG_FLOOR))
            lines.append(f"{out[1]} = {g} * ({log}({maximum}(1 - {p}, {floor})) - "
                         f"{log}({maximum}({p}, {floor})))")
        return lines, out

    def jvp(self, t_p: Any, t_y: Any) -> Any:
        """d loss = (p - y) / max(p (1 - p), 1e-12) t_p + (log(1 - p) - log(p)) t_y (logs
        clamped as in forward), reduced as the loss is: PyTorch's forward-mode rule."""
        if t_p is None and t_y is None:
            return None
        p, y = self.saved
        d = None
        if t_p is not None:
            d = (p - y) / np.maximum(p * (1 - p), _BCE_EPS) * t_p
        if t_y is not None:
            floor = math.exp(_LOG_FLOOR)
            dy = (np.log(np.maximum(1 - p, floor)) - np.log(np.maximum(p, floor))) * t_y
            d = dy if d is None else d + dy
        if self.reduction == "none":
            return d
        total = d.sum()
        return total / max(self.count, 1) if self.reduction == "mean" else total


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


def _old_order(weight: Any, reduction: str) -> tuple[Any, str]:
    """(weight, reduction), taking a string in weight's place as the reduction: before
    PyTorch's per-class weight arrived, the third argument was `reduction`, and a weight is
    never a string, so both spellings keep working."""
    if isinstance(weight, str):
        return None, weight
    return weight, reduction


def _rows(x: Tensor, where: str) -> Tensor:
    """PyTorch's class layout turned into rows: (C,) -> (C,), (N, C) as it is, and
    (N, C, d1, ...) -> (N, d1, ..., C), the class axis moved last (a view)."""
    if x.ndim == 0:
        raise ValueError(f"{where}: input needs a class axis, got a 0-d tensor")
    if x.ndim <= 2:
        return x
    return x.transpose((0, *range(2, x.ndim), 1))


def _label_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The labels' shape for an input of `shape` (PyTorch's layout: the class axis is 1)."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def _picked_loss(logp: Tensor, labels: np.ndarray, weight: Any, ignore_index: int,
                 reduction: str, smoothing: float) -> Tensor:
    """-logp[label] per position (class axis last), weighted by `weight[label]`, positions
    whose label is `ignore_index` left out, mixed with the label-smoothing term
    -sum_c weight_c logp_c / C; the mean divides by the total weight of the kept positions,
    as PyTorch's nll_loss and cross_entropy do."""
    n_classes = logp.shape[-1]
    flat = logp.reshape(-1, n_classes)
    kept = labels.reshape(-1) != ignore_index
    safe = np.where(kept, labels.reshape(-1), 0)
    mask = kept.astype(flat.dtype)
    w = mask if weight is None else weight[safe] * mask
    loss = -flat[np.arange(flat.shape[0]), safe] * w
    smooth = None
    if smoothing:
        smooth = -(flat if weight is None else flat * weight).sum(axis=-1) * mask
    if reduction == "none":
        out = loss if smooth is None else (1 - smoothing) * loss + smooth * (smoothing / n_classes)
        return out.reshape(labels.shape)
    total = loss.sum()
    if smooth is not None:
        total = (1 - smoothing) * total + smooth.sum() * (smoothing / n_classes)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as PyTorch
        return total / w.sum()


def nll_loss(input: Any, target: Any, weight: Any = None,  # noqa: A002
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer class labels given log-probabilities, PyTorch's
    layout: input (C,) with a label (), (N, C) with labels (N,), or (N, C, d1, ...) with
    labels (N, d1, ...). `weight` (one per class) scales each position's loss; positions
    labelled `ignore_index` count for nothing; the mean divides by the sum of the kept
    positions' weights."""
    where = "nll_loss"
    weight, reduction = _old_order(weight, reduction)
    check_reduction(reduction, where)
    logp = as_input(input, where)
    rows = _rows(logp, where)
    n_classes = logp.shape[1 if logp.ndim > 1 else 0]
    ignore_index = check_index(ignore_index, where, "ignore_index")
    labels, _ = checked_labels(target, n_classes, _label_shape(logp.shape), where,
                               ignore_index, logp.shape)
    w = None if weight is None else class_weight(weight, logp, n_classes, where)
    return _picked_loss(rows, labels, w, ignore_index, reduction, 0.0)


def cross_entropy(input: Any, target: Any, weight: Any = None,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits, computed through log_softmax (stable for any logits), with
    PyTorch's layout and options. `input` is (C,), (N, C) or (N, C, d1, ...) (the class axis
    is axis 1); `target` is integer class labels of shape (), (N,) or (N, d1, ...) (a Tensor,
    array or list; each in 0..C-1 or equal to `ignore_index`), or class probabilities of the
    input's shape (a floating array). `weight` (one per class) scales each loss,
    `label_smoothing` mixes the target with the uniform distribution, and the mean divides by
    the kept positions' total weight for labels, by the number of positions for probabilities.
    The plain case (labels, no weight, no smoothing, nothing ignored) is one fused node
    (`SoftmaxCrossEntropy`)."""
    where = "cross_entropy"
    weight, reduction = _old_order(weight, reduction)
    check_reduction(reduction, where)
    logits = as_input(input, where)
    rows = _rows(logits, where)
    n_classes = logits.shape[1 if logits.ndim > 1 else 0]
    ignore_index = check_index(ignore_index, where, "ignore_index")
    smoothing = check_fraction(label_smoothing, where, "label_smoothing")
    w = None if weight is None else class_weight(weight, logits, n_classes, where)
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind == "f" and raw.shape == logits.shape:
        probs = as_target(target, logits, where)
        if logits.ndim > 2:
            probs = probs.transpose((0, *range(2, logits.ndim), 1))
        if smoothing:
            probs = probs * (1 - smoothing) + smoothing / n_classes
        logp = rows.log_softmax(axis=-1)
        loss = -((logp if w is None else logp * w) * probs).sum(axis=-1)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):  # no positions: nan
                return loss.sum() / math.prod(rows.shape[:-1])
        return _reduce(loss, reduction)
    labels, ignored = checked_labels(target, n_classes, _label_shape(logits.shape), where,
                                     ignore_index, logits.shape)
    if w is None and not smoothing and not ignored:
        return SoftmaxCrossEntropy.apply(rows, labels=labels, reduction=reduction)
    return _picked_loss(rows.log_softmax(axis=-1), labels, w, ignore_index, reduction,
                        smoothing)


def huber_loss(input: Any, target: Any, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0) -> Tensor:
    """Huber loss: 0.5 d**2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere, with
    d = input - target (quadratic near 0, linear in the tails).   d/dinput = clip(d, -delta,
    delta)"""
    where = "huber_loss"
    check_reduction(reduction, where)
    delta = check_positive(delta, where, "delta")
    x = as_input(input, where)
    d = x - as_target(target, x, where)
    a = d.abs()
    small = a.data < delta
    loss = _where(small, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: 0.5 d**2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (the Huber loss
    divided by beta; beta = 0 is the L1 loss, as in PyTorch)."""
    where = "smooth_l1_loss"
    check_reduction(reduction, where)
    beta = check_positive(beta, where, "beta", strict=False)
    x = as_input(input, where)
    d = x - as_target(target, x, where)
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    loss = _where(a.data < beta, (0.5 / beta) * d * d, a - 0.5 * beta)
    return _reduce(loss, reduction)


def check_kl_reduction(reduction: str, where: str) -> None:
    """Refuse a KL reduction other than "mean", "sum", "none" or "batchmean" (naming it)."""
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{where}: reduction must be 'mean', 'sum', 'none' or 'batchmean', "
                         f"got {reduction!r}")


def kl_div(input: Any, target: Any, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with `input` log-probabilities, PyTorch's pointwise
    target * (log target - input) (0 where target is 0), or exp(target) (target - input) when
    `log_target`. reduction "batchmean" divides the sum by the batch size (input.shape[0]),
    the true KL divergence per sample; "mean" divides by the number of elements."""
    where = "kl_div"
    check_kl_reduction(reduction, where)
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"{where}: log_target must be True or False, got {log_target!r}")
    x = as_input(input, where)
    t = as_target(target, x, where)
    if log_target:
        loss = (t - x) * (t.exp() if isinstance(t, Tensor) else np.exp(t))
    else:
        raw = t.data if isinstance(t, Tensor) else t
        pos = raw > 0
        # log of the positive targets only (log 0 would be -inf, and 0 * -inf nan)
        safe = _where(pos, t, np.ones_like(raw))
        log_t = safe.log() if isinstance(safe, Tensor) else np.log(safe)
        loss = _where(pos, t * (log_t - x), np.zeros_like(raw))
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return loss.sum() / n
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Any, input2: Any, target: Any,
                          margin: float = 0.0, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; rows
    of (N, D) inputs with targets (N,), or one (D,) pair with a 0-d target. The cosine is
    PyTorch's: x1.x2 / sqrt((|x1|**2 + 1e-12) (|x2|**2 + 1e-12))."""
    where = "cosine_embedding_loss"
    check_reduction(reduction, where)
    a = as_input(input1, where)
    b = as_input(input2, where)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"{where}: input1 and input2 must have the same shape (N, D) or "
                         f"(D,), got {a.shape} and {b.shape}")
    y = target.data if isinstance(target, Tensor) else np.asarray(target)
    if y.shape != a.shape[:-1]:
        raise ValueError(f"{where}: target of shape {y.shape} does not match inputs of shape "
                         f"{a.shape}; expected shape {a.shape[:-1]}")
    if not np.isin(y, (1, -1)).all():
        raise ValueError(f"{where}: target values must be 1 or -1")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer,
                                                           np.floating)):
        raise TypeError(f"{where}: margin must be a number, got {margin!r}")
    dot = (a * b).sum(axis=-1)
    cos = dot / ((a * a).sum(axis=-1) + 1e-12) ** 0.5 / ((b * b).sum(axis=-1) + 1e-12) ** 0.5
    zero = np.zeros(y.shape, dtype=a.dtype)
    loss = _where(y == 1, 1 - cos, zero) + _where(y == -1, (cos - margin).relu(), zero)
    return _reduce(loss, reduction)


def _where(cond: np.ndarray, a: Any, b: Any) -> Any:
    """mt.where on Tensors, np.where when neither side is one (a constant target)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return where(cond, a, b)
    return np.where(cond, a, b)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
