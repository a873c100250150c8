"""Optimizer: the base class that holds parameter groups and per-parameter state."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor, compile_effect


class Optimizer:
    """Base class of optimizers.

    `params` is an iterable of tensors, or of dicts `{"params": [...], "lr": ...}` (parameter
    groups, each with its own hyperparameters; missing ones come from `defaults`).
    Learning-rate schedules change `group["lr"]` in `param_groups`. Subclasses implement
    `_update(p, grad, state, group)`, which changes `p.data` in place; `step()` calls it for
    every parameter that has a gradient, outside any graph.
    """

    def __init__(self, params: Iterable[Any] | Tensor, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        items = [params] if isinstance(params, Tensor) else list(params)
        if not items:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        where = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{where}: a parameter group is a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{where}: parameter {i} ({p.name}) is not a leaf tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{where}: parameter {i} ({p.name}) has dtype {p.dtype}")
            if id(p) in seen:
                raise ValueError(
                    f"{where}: parameter {i} ({p.name}) appears in more than one place"
                )
            seen.add(id(p))
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses extend it): each is a real number
        (a string or None is a TypeError naming it), finite and in range (else a ValueError)."""
        where = type(self).__name__
        check_number(where, "lr", group["lr"], what="learning rate")
        if "weight_decay" in group:
            check_number(where, "weight_decay", group["weight_decay"])

    @compile_effect  # mt.compile replays the call itself (it is not made of ops)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (`.grad = None`, or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    @compile_effect
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; `closure` (optional) re-evaluates the
        loss first, with grad mode on, and its result is returned."""
        loss = None
        if closure is not None:
            with mt.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """`_update` every parameter of `group` that has a gradient (a subclass may override
        this with a cheaper loop for a common case)."""
        for p in group["params"]:
            if p.grad is not None:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self._update(p, p.grad.data, state, group)

    def state_dict(self) -> dict[str, Any]:
        """The hyperparameters of each group and copies of the per-parameter state, with
        parameters named by their position (0, 1, ... across groups), like PyTorch's."""
        params = [p for g in self.param_groups for p in g["params"]]
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state[p].items()}
            for i, p in enumerate(params) if p in self.state
        }
        groups, start = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups}

    # the state entries a parameter's state must have once it has any (arrays of the
    # parameter's shape), and the optional ones; subclasses name theirs
    _state_arrays: tuple[str, ...] = ()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned (same parameters in the same groups).

        Everything is checked before anything changes, so a failure leaves the optimizer as
        it was: the dict's structure, the group sizes, each hyperparameter (as the
        constructor checks it), and each state array's shape against its parameter's (a
        ValueError names the parameter and both shapes). Arrays are copied and cast to their
        parameter's dtype."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected the dict that state_dict() returns, got "
                            f"{type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise ValueError(f"{where}: the dict has no {' or '.join(map(repr, missing))} "
                             "entry (expected what state_dict() returns: {'state': {...}, "
                             "'param_groups': [...]})")
        groups, states = state_dict["param_groups"], state_dict["state"]
        if not (isinstance(groups, (list, tuple)) and all(
                isinstance(g, Mapping) and isinstance(g.get("params"), (list, tuple))
                for g in groups)):
            raise ValueError(f"{where}: 'param_groups' must be a list of dicts, each with a "
                             "'params' list")
        if not isinstance(states, Mapping):
            raise ValueError(f"{where}: 'state' must be a dict of parameter index -> dict, "
                             f"got {type(states).__name__}")
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(g["params"]) for g in groups] != sizes:
            raise ValueError(
                f"{where}: groups of sizes "
                f"{[len(g['params']) for g in groups]} do not match this optimizer's {sizes}"
            )
        new_groups = []
        for g, saved in zip(self.param_groups, groups):
            merged = {**g, **{k: v for k, v in saved.items() if k != "params"},
                      "params": g["params"]}
            self._check(merged)
            new_groups.append(merged)
        params = [p for g in self.param_groups for p in g["params"]]
        group_of = [g for g in new_groups for _ in g["params"]]
        new_state = {}
        for i, st in states.items():
            index = _index(i, len(params), where)
            if not isinstance(st, Mapping):
                raise ValueError(f"{where}: the state of parameter {index} must be a dict, got "
                                 f"{type(st).__name__}")
            p = params[index]
            new_state[p] = self._checked_state(p, index, dict(st), group_of[index], where)
        for g, merged in zip(self.param_groups, new_groups):
            g.update(merged)
        self.state = new_state

    def _checked_state(self, p: Tensor, index: int, state: dict[str, Any],
                       group: dict[str, Any], where: str) -> dict[str, Any]:
        """A copy of one parameter's saved state, its arrays checked against the parameter."""
        label = f"parameter {index}" + (f" ({p.name})" if p.name else "")
        if state:
            absent = [k for k in self._required_state(group) if k not in state]
            if absent:
                raise ValueError(f"{where}: the state of {label} lacks {absent}")
        out = {}
        for key, saved in state.items():
            value = saved.data if isinstance(saved, Tensor) else saved
            if key in self._state_arrays or isinstance(value, np.ndarray):
                if not (isinstance(value, np.ndarray) and value.dtype.kind in "fiu"):
                    raise ValueError(f"{where}: state {key!r} of {label} must be an array of "
                                     f"shape {p.shape}, got {type(value).__name__}")
                if value.shape != p.shape:
                    raise ValueError(f"{where}: state {key!r} of {label} has shape "
                                     f"{value.shape}, but the parameter has shape {p.shape}")
                value = value.astype(p.dtype, copy=True)
            out[key] = value
        return out

    def _required_state(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The state entries a parameter's non-empty state must have (subclasses say)."""
        return ()

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} defines no _update")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in group.items() if k != "params"]
        return "\n".join(lines) + "\n)"


def check_number(where: str, name: str, value: Any, minimum: float | None = 0.0,
                 what: str | None = None) -> None:
    """Refuse a hyperparameter that is not a finite real number >= `minimum` (no bound when
    None): a TypeError for a non-number (a string, None, a bool), a ValueError otherwise,
    each naming it."""
    label = what or name
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {label} ({name}) must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(f"{where}: invalid {label} ({name}) {value!r}: it must be a finite "
                         f"number{bound}")


def check_flag(where: str, name: str, value: Any) -> None:
    """Refuse a switch that is not a bool (a TypeError naming it)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")


def _index(key: Any, count: int, where: str) -> int:
    """A parameter index from a state dict's key (an int, or its text after a round trip
    through JSON), checked against the number of parameters."""
    if isinstance(key, (bool, np.bool_)):
        index = None
    elif isinstance(key, numbers.Integral):
        index = int(key)
    elif isinstance(key, str) and key.strip().lstrip("-").isdigit():
        index = int(key)
    else:
        index = None
    if index is None or not 0 <= index < count:
        raise ValueError(f"{where}: the state key {key!r} is not a parameter index "
                         f"(0..{count - 1})")
    return index
