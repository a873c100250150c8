"""Gradient utilities: clipping by global norm or by value, in place."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from microtensor import Tensor


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[np.ndarray]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so that their joint `norm_type`-norm is at
    most `max_norm`; returns the norm before clipping. Like PyTorch, the scale is
    max_norm / (norm + 1e-6), applied only when it is below 1."""
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
        total **= 1.0 / norm_type
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            np.multiply(g, coef, out=g)
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
