"""Learning-rate schedules: the articles' "learning rate that changes over time".

Each schedule sets `group["lr"]` of its optimizer from a closed form in the epoch count
(`last_epoch`), which `step()` advances; call `scheduler.step()` after `optimizer.step()`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from .optimizer import Optimizer, check_number


def _check_count(where: str, name: str, value: Any, minimum: int) -> None:
    """Refuse an epoch count that is not a whole number >= minimum, naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be a whole number, got {value!r} of type "
                        f"{type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")


class LRScheduler:
    """Base class: remembers each group's initial lr (`base_lrs`) and, on every `step()`,
    sets `group["lr"] = get_lr()[i]`. Construction applies epoch 0."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        _check_count(type(self).__name__, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        self.base_lrs = [group.get("initial_lr", group["lr"]) for group in
                         optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()  # first, so that a schedule that fails leaves the optimizer untouched
        for group, base in zip(optimizer.param_groups, self.base_lrs):
            group.setdefault("initial_lr", base)

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch `self.last_epoch`."""
        raise NotImplementedError(f"{type(self).__name__} defines no get_lr")

    def step(self) -> None:
        """Advance one epoch and set the groups' learning rates."""
        epoch = self.last_epoch + 1
        self.last_epoch = epoch
        try:
            lrs = self.get_lr()
            for lr in lrs:  # checked before any group changes: a bad lr changes nothing
                check_number(type(self).__name__, "lr", lr,
                             what=f"learning rate at epoch {epoch}")
        except BaseException:
            self.last_epoch = epoch - 1
            raise
        self._last_lr = [float(lr) for lr in lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last `step()`, one per group."""
        return list(self._last_lr)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): decay by `gamma` every `step_size`."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_count("StepLR", "step_size", step_size, 1)
        check_number("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [b * self.gamma**self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: half a cosine
    from base_lr down to eta_min over T_max epochs (and back up after, periodically)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        _check_count("CosineAnnealingLR", "T_max", T_max, 1)
        check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch), for any schedule you can write as a function."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float],
                 last_epoch: int = -1) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda must be a function of the epoch, got "
                            f"{type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.lr_lambda(self.last_epoch)
        check_number("LambdaLR", "lr_lambda", factor,
                     what=f"learning rate factor at epoch {self.last_epoch}")
        return [b * factor for b in self.base_lrs]
