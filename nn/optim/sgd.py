"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's equations)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from microtensor import Tensor

from .optimizer import Optimizer, check_flag, check_number


class SGD(Optimizer):
    """Stochastic gradient descent, as PyTorch computes it:

        g = grad + weight_decay * p
        b = g (first step), else b = momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov), else g = b            (only when momentum != 0)
        p = p - lr * g

    With momentum 0 this is the seeds' `W -= learn_rate * dW`; weight decay is the articles'
    "regularisation" (an L2 penalty of weight_decay / 2 * |p|**2). `dampening` is keyword-only
    so the positional order is DESIGN.md's (params, lr, momentum, weight_decay, nesterov).
    """

    def __init__(self, params: Iterable[Any] | Tensor, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *,
                 dampening: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    _state_arrays = ("momentum_buffer",)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        check_number("SGD", "momentum", group["momentum"])
        check_number("SGD", "dampening", group["dampening"], minimum=None)
        check_flag("SGD", "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")

    def _update_group(self, group: dict[str, Any]) -> None:
        if group["momentum"] != 0 or group["weight_decay"] != 0:
            super()._update_group(group)
            return
        lr = group["lr"]  # plain SGD, the seeds' W -= lr * dW: no state, no scratch arrays
        for p in group["params"]:
            grad = p.grad
            if grad is not None:
                p.data -= lr * grad.data

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        owned = False  # whether `d` is a scratch array we may overwrite
        d = grad
        if wd != 0:
            d = p.data * wd
            d += grad
            owned = True
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, copy=True)
            else:
                buf *= momentum
                damp = 1 - group["dampening"]
                if damp == 1:
                    buf += d
                else:
                    buf += damp * d
            if group["nesterov"]:
                if owned:
                    d += momentum * buf
                else:
                    d = d + momentum * buf
                    owned = True
            else:
                d, owned = buf, False
        if owned:
            d *= lr
            p.data -= d
        else:
            p.data -= lr * d
