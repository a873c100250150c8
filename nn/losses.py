"""Loss modules: thin wrappers that hold the options of the `nn.functional` losses."""

from __future__ import annotations

from typing import Any

from microtensor import Tensor
from microtensor.ops import losses
from microtensor.ops.losses import check_reduction

from . import functional as F
from .module import Module


class _Loss(Module):
    """Shared part: a validated `reduction` ("mean", "sum" or "none")."""

    def __init__(self, reduction: str = "mean") -> None:
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Squared error (input - target)**2; `reduction="sum"` is the first seed's sum of
    squares, "mean" (the default) divides it by the number of elements."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """mse_loss(input, target)."""
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Absolute error |input - target|."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """l1_loss(input, target)."""
        return F.l1_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (after a Sigmoid), finite even at p = 0 or 1
    (logs clamped at -100). `weight` multiplies each element's loss."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """binary_cross_entropy(input, target)."""
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (no Sigmoid layer needed), stable for any logit.
    `pos_weight` weighs positives, `weight` each element."""

    def __init__(self, weight: Any = None, pos_weight: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """binary_cross_entropy_with_logits(input, target)."""
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.pos_weight, self.reduction
        )


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against integer labels or class probabilities, PyTorch's
    layout: (N, C) logits with (N,) labels, (N, C, d1, ...) with (N, d1, ...), or (C,) with
    a label; log_softmax is applied inside, so the model ends with a Linear layer. `weight`
    (one per class), `ignore_index` and `label_smoothing` as in PyTorch."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        losses.check_fraction(label_smoothing, "CrossEntropyLoss", "label_smoothing")
        losses.check_index(ignore_index, "CrossEntropyLoss", "ignore_index")
        self.weight, self.ignore_index = weight, ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """cross_entropy(input, target, ...)."""
        return losses.cross_entropy(input, target, self.weight, self.ignore_index,
                                    self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        extra = "" if not self.label_smoothing else f", label_smoothing={self.label_smoothing}"
        return super().extra_repr() + extra


class NLLLoss(_Loss):
    """Negative log-likelihood of integer labels given log-probabilities (after LogSoftmax),
    with PyTorch's layout, `weight` and `ignore_index`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        losses.check_index(ignore_index, "NLLLoss", "ignore_index")
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """nll_loss(input, target, ...)."""
        return losses.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class HuberLoss(_Loss):
    """Huber loss: quadratic (0.5 d**2) where |d| < delta, linear beyond."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = losses.check_positive(delta, "HuberLoss", "delta")

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """huber_loss(input, target, reduction, delta)."""
        return losses.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1: 0.5 d**2 / beta where |d| < beta, |d| - 0.5 beta beyond."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = losses.check_positive(beta, "SmoothL1Loss", "beta", strict=False)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """smooth_l1_loss(input, target, reduction, beta)."""
        return losses.smooth_l1_loss(input, target, self.reduction, self.beta)


class KLDivLoss(Module):
    """KL divergence of log-probabilities `input` from `target` (probabilities, or
    log-probabilities with `log_target=True`); reduction "batchmean" is the true KL per
    sample, "mean" divides by the number of elements (PyTorch's default, kept)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        losses.check_kl_reduction(reduction, "KLDivLoss")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """kl_div(input, target, reduction, log_target)."""
        return losses.kl_div(input, target, self.reduction, self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for pairs labelled 1, max(0, cos(x1, x2) - margin) for -1."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        """cosine_embedding_loss(input1, input2, target, margin, reduction)."""
        return losses.cosine_embedding_loss(input1, input2, target, self.margin,
                                            self.reduction)


__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "HuberLoss",
    "KLDivLoss", "L1Loss", "MSELoss", "NLLLoss", "SmoothL1Loss",
]
