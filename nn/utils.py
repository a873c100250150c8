"""Gradient utilities: clipping by global norm or by value, in place."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from microtensor import Tensor


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[np.ndarray]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> float:
    """Scale all gradients together, in place, so that their joint `norm_type`-norm is at
    most `max_norm`; returns the norm before clipping. Like PyTorch, the scale is
    max_norm / (norm + 1e-6), applied only when it is below 1. `norm_type` is any p > 0 or
    inf; p = 0 is refused (a count of nonzero entries, not a size to scale down: PyTorch
    counts the parameters whose gradient is nonzero, which is no joint norm either)."""
    _check_real("clip_grad_norm_", "max_norm", max_norm, allow_inf=True)
    _check_real("clip_grad_norm_", "norm_type", norm_type, allow_inf=True)
    if norm_type == 0:
        raise ValueError("clip_grad_norm_: norm_type 0 counts nonzero entries, it is not a "
                         "norm to clip by; use a norm_type > 0 (2 is the usual) or inf")
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
    _check_real("clip_grad_value_", "clip_value", clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def _check_real(where: str, name: str, value: Any, allow_inf: bool = False) -> None:
    """Refuse a bound that is not a real number >= 0 (finite unless `allow_inf`)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r} of type "
                        f"{type(value).__name__}")
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        kind = "a number >= 0 or inf" if allow_inf else "a finite number >= 0"
        raise ValueError(f"{where}: {name} must be {kind}, got {value!r}")
