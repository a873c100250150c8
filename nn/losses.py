"""Loss modules: thin wrappers that hold the options of the `nn.functional` losses."""

from __future__ import annotations

from typing import Any

from microtensor import Tensor
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
    """Cross-entropy of logits (N, C) against integer labels (N,) or class probabilities
    (N, C); log_softmax is applied inside, so the model ends with a Linear layer."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """cross_entropy(input, target)."""
        return F.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of integer labels given log-probabilities (after LogSoftmax)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        """nll_loss(input, target)."""
        return F.nll_loss(input, target, reduction=self.reduction)
