"""Adam and AdamW (PyTorch's equations), updating parameters in place with one scratch array."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from microtensor import Tensor

from .optimizer import Optimizer, check_flag, check_number


class Adam(Optimizer):
    """Adam, as PyTorch computes it (step t counts from 1):

        g = grad + weight_decay * p              (L2 penalty; AdamW decouples it instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g      (amsgrad: v_max = max(v_max, v), used below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any] | Tensor, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    _state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        where = type(self).__name__
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        for k, b in enumerate(betas, start=1):
            check_number(where, f"betas[{k - 1}]", b, what=f"beta{k}")
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{where}: betas must be in [0, 1), got {(b1, b2)}")
        group["betas"] = (b1, b2)
        check_number(where, "eps", group["eps"])
        check_flag(where, "amsgrad", group["amsgrad"])

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"]
                                                    else ())

    def _checked_state(self, p: Tensor, index: int, state: dict[str, Any],
                       group: dict[str, Any], where: str) -> dict[str, Any]:
        out = super()._checked_state(p, index, state, group, where)
        step = out.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"{where}: state 'step' of parameter {index} must be a whole "
                             f"number >= 0, got {step!r}")
        if "step" in out:
            out["step"] = int(step)
        return out

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        b1, b2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if wd != 0:
            if self._decoupled:
                p.data *= 1 - lr * wd
            else:
                grad = grad + wd * p.data
        tmp = np.multiply(grad, 1 - b1)
        m *= b1
        m += tmp
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - b2
        v *= b2
        v += tmp
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2**t)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - b1**t)
        p.data -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch computes it: first
    p = p * (1 - lr * weight_decay), then the Adam step on the raw gradient. Default
    weight_decay 1e-2."""

    _decoupled = True

    def __init__(self, params: Iterable[Any] | Tensor, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
