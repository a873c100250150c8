"""Learning-rate schedules: the articles' "learning rate that changes over time".

Each schedule sets `group["lr"]` of its optimizer from a closed form in the epoch count
(`last_epoch`), which `step()` advances; call `scheduler.step()` after `optimizer.step()`.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from microtensor import Tensor, compile_effect

from .optimizer import Optimizer, check_number


def _check_count(where: str, name: str, value: Any, minimum: int) -> None:
    """Refuse an epoch count that is not a whole number >= minimum, naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be a whole number, got {value!r} of type "
                        f"{type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")


def _check_plain(value: Any, label: str) -> None:
    """Refuse anything in a loaded schedule state but numbers, strings, None and lists,
    tuples and dicts of them (a TypeError naming the entry)."""
    if value is None or isinstance(value, (numbers.Number, str)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, label)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_plain(k, label)
            _check_plain(v, label)
        return
    raise TypeError(f"{label} must hold only numbers, strings, lists and dicts, got "
                    f"{type(value).__name__}")


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

    @compile_effect  # inside a compiled step the call itself is replayed
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

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state as plain values (numbers, strings, lists and dicts of them):
        every attribute but the optimizer and functions (a LambdaLR's lr_lambda is code, not
        state: the new scheduler brings its own), as PyTorch's."""
        return {k: copy.deepcopy(v) for k, v in vars(self).items()
                if k != "optimizer" and not callable(v)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned. Checked before anything changes: a dict, no
        key this schedule does not have, only plain values (no code), and one learning rate
        per parameter group."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected the dict that state_dict() returns, got "
                            f"{type(state_dict).__name__}")
        known = self.state_dict()
        for key, value in state_dict.items():
            if key not in known:
                raise ValueError(f"{where}: unknown entry {key!r} (this schedule's state has "
                                 f"{sorted(known)})")
            _check_plain(value, f"{where}: entry {key!r}")
        n = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr", "min_lrs"):
            value = state_dict.get(key)
            if isinstance(value, (list, tuple)) and len(value) not in (0, n):
                raise ValueError(f"{where}: entry {key!r} has {len(value)} values, but the "
                                 f"optimizer has {n} parameter groups")
        for key, value in state_dict.items():
            setattr(self, key, copy.deepcopy(value))


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


def _per_group(where: str, name: str, value: Any, n: int) -> list[float]:
    """One value per parameter group from a number or a list of n numbers, each checked."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{where}: expected {n} values of {name} (one per parameter group), "
                         f"got {len(values)}")
    for v in values:
        check_number(where, name, v)
    return [float(v) for v in values]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), PyTorch's: over `total_steps` steps (or
    epochs * steps_per_epoch) the lr rises from max_lr / div_factor to max_lr during the first
    pct_start of the steps, then falls to initial_lr / final_div_factor (with `three_phase`,
    it first falls back to the initial lr symmetrically, then to the minimum), annealed by
    half cosines ("cos") or straight lines ("linear"). With `cycle_momentum` the momentum
    (SGD's momentum, Adam's beta1) moves the opposite way between max_momentum and
    base_momentum. Call `step()` after every batch; stepping past total_steps is an error."""

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        where = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: expected an Optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            _check_count(where, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            _check_count(where, "epochs", epochs, 1)
            _check_count(where, "steps_per_epoch", steps_per_epoch, 1)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{where}: give total_steps, or both epochs and steps_per_epoch")
        check_number(where, "pct_start", pct_start)
        if pct_start > 1:
            raise ValueError(f"{where}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            check_number(where, name, value)
            if value == 0:
                raise ValueError(f"{where}: {name} must be > 0")
        groups = optimizer.param_groups
        n = len(groups)
        max_lrs = _per_group(where, "max_lr", max_lr, n)
        self.total_steps = int(total_steps)
        self.anneal_strategy = anneal_strategy
        self.cycle_momentum = bool(cycle_momentum)
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
                {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        self.use_beta1 = False
        if self.cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"{where}: optimizer has no momentum to cycle (neither "
                                 "'momentum' nor 'betas'); pass cycle_momentum=False")
            self.use_beta1 = "betas" in defaults
            max_ms = _per_group(where, "max_momentum", max_momentum, n)
            base_ms = _per_group(where, "base_momentum", base_momentum, n)
        if last_epoch == -1:
            for i, group in enumerate(groups):
                group["initial_lr"] = max_lrs[i] / div_factor
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if self.cycle_momentum:
                    self._set_momentum(group, max_ms[i])
                    group["max_momentum"], group["base_momentum"] = max_ms[i], base_ms[i]
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, but total_steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            phases = self._schedule_phases
            for i, phase in enumerate(phases):
                end = phase["end_step"]
                if step <= end or i == len(phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start = end
            lrs.append(lr)
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Divide the lr by 1 / `factor` when a metric stops improving, PyTorch's rule: after
    more than `patience` steps in a row without an improvement (for mode "min": a value below
    best * (1 - threshold) with threshold_mode "rel", below best - threshold with "abs"; the
    other way for "max"), each group's lr becomes max(lr * factor, min_lr) (changes smaller
    than `eps` are skipped), then `cooldown` steps pass before counting again. Call
    `step(metric)` once per epoch with the validation metric."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0,
                 eps: float = 1e-8) -> None:
        where = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: expected an Optimizer, got {type(optimizer).__name__}")
        check_number(where, "factor", factor)
        if factor >= 1.0:
            raise ValueError(f"{where}: factor must be < 1.0, got {factor}")
        _check_count(where, "patience", patience, 0)
        _check_count(where, "cooldown", cooldown, 0)
        check_number(where, "threshold", threshold)
        check_number(where, "eps", eps)
        if mode not in ("min", "max"):
            raise ValueError(f"{where}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.optimizer = optimizer
        self.min_lrs = _per_group(where, "min_lr", min_lr, len(optimizer.param_groups))
        self.mode, self.factor, self.patience = mode, float(factor), patience
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = cooldown, float(eps)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self.last_epoch = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric `a` improves on `best` by more than the threshold."""
        if self.mode == "min":
            bound = best * (1 - self.threshold) if self.threshold_mode == "rel" else (
                best - self.threshold)
            return a < bound
        bound = best * (1 + self.threshold) if self.threshold_mode == "rel" else (
            best + self.threshold)
        return a > bound

    @compile_effect  # a metric Tensor passed in is read when the call is replayed
    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number, or a 0-d array or Tensor) and lower the
        learning rates if it has not improved for more than `patience` epochs."""
        try:
            current = float(metrics.item() if isinstance(metrics, Tensor) else metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: metrics must be a number, got "
                            f"{metrics!r}") from None
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:
        return list(self._last_lr)
