"""Stateless activations and losses (`import nn.functional as F`), numerically stable.

The losses and `softplus` live in the core with their fused ops (microtensor/ops/losses.py)
and are re-exported here under PyTorch's names; `linear` calls the fused layer ops of
microtensor/ops/fused.py. Losses take `reduction="mean" | "sum" | "none"`; targets may be
Tensors, arrays or lists and are cast to the input's dtype (a float32 model stays float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops import fused
from microtensor.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    class_labels,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
    softplus,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "l1_loss", "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss", "one_hot", "relu",
    "sigmoid", "softmax", "softplus", "tanh",
]


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


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x), axis), stable for any x."""
    return _tensor(x, "softmax").softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x, axis), stable for any x."""
    return _tensor(x, "log_softmax").log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight + bias, with weight of shape (in, out) and bias of shape (out,): one fused
    node (see microtensor/ops/fused.py); other shapes fall back to matmul and broadcasting add.
    `activation` ("sigmoid", "tanh" or "relu") is applied inside the same node, as
    nn.Linear(..., activation=...) does."""
    if activation is not None:
        fn = fused.linear_function(activation)  # a ValueError for an unknown activation
        return fn(_tensor(x, "linear"), _tensor(weight, "linear"),
                  None if bias is None else _tensor(bias, "linear"))
    if (isinstance(weight, Tensor) and weight.ndim == 2 and isinstance(x, Tensor)
            and (bias is None or (isinstance(bias, Tensor) and bias.shape == weight.shape[1:]))):
        return fused.linear(x, weight, bias)
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
    arr = class_labels(labels, num_classes, None, "one_hot")
    return (arr[..., None] == np.arange(num_classes)).astype(dtype)


# ---------------------------------------------------------------------- helpers
def _tensor(x: Any, where: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{where}: expected a Tensor or an array, got {type(x).__name__}")
