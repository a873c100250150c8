"""RMSprop and Adagrad (PyTorch's equations): steps scaled by a running size of the gradient."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from microtensor import Tensor

from .optimizer import Optimizer, check_flag, check_number


def _checked_step(out: dict[str, Any], index: int, where: str) -> dict[str, Any]:
    """A loaded state's 'step' as a whole number >= 0 (else a ValueError naming it)."""
    step = out.get("step", 0)
    if isinstance(step, np.ndarray) and step.shape == ():
        step = step.item()
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"{where}: state 'step' of parameter {index} must be a whole "
                         f"number >= 0, got {step!r}")
    if "step" in out:
        out["step"] = int(step)
    return out


class RMSprop(Optimizer):
    """RMSprop, as PyTorch computes it:

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        centered: m = alpha * m + (1 - alpha) * g,  s = sqrt(v - m * m) + eps
        otherwise s = sqrt(v) + eps
        momentum > 0: b = momentum * b + g / s,  p = p - lr * b
        otherwise p = p - lr * g / s
    """

    _state_arrays = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params: Iterable[Any] | Tensor, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("alpha", "eps", "momentum"):
            check_number("RMSprop", name, group[name])
        check_flag("RMSprop", "centered", group["centered"])

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0
                                          else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _checked_state(self, p: Tensor, index: int, state: dict[str, Any],
                       group: dict[str, Any], where: str) -> dict[str, Any]:
        return _checked_step(super()._checked_state(p, index, state, group, where), index,
                             where)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, momentum = group["weight_decay"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if wd != 0:
            grad = grad + wd * p.data
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * grad * grad
        if group["centered"]:
            m = state["grad_avg"]
            m *= alpha
            m += (1 - alpha) * grad
            s = np.sqrt(v - m * m)
        else:
            s = np.sqrt(v)
        s += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / s
            p.data -= lr * buf
        else:
            np.divide(grad, s, out=s)
            s *= lr
            p.data -= s


class Adagrad(Optimizer):
    """Adagrad, as PyTorch computes it (step t counts from 1; the sum starts at
    initial_accumulator_value):

        g = grad + weight_decay * p
        sum = sum + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """

    _state_arrays = ("sum",)

    def __init__(self, params: Iterable[Any] | Tensor, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("lr_decay", "initial_accumulator_value", "eps"):
            check_number("Adagrad", name, group[name])

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "sum")

    def _checked_state(self, p: Tensor, index: int, state: dict[str, Any],
                       group: dict[str, Any], where: str) -> dict[str, Any]:
        return _checked_step(super()._checked_state(p, index, state, group, where), index,
                             where)

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        t = state["step"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        acc = state["sum"]
        acc += grad * grad
        s = np.sqrt(acc)
        s += group["eps"]
        np.divide(grad, s, out=s)
        s *= clr
        p.data -= s
