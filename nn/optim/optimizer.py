"""Optimizer: the base class that holds parameter groups and per-parameter state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor


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
        """Validate a group's hyperparameters (subclasses extend it)."""
        if not group["lr"] >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0:
            raise ValueError(
                f"{type(self).__name__}: invalid weight_decay {group['weight_decay']}"
            )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (`.grad = None`, or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

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

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict()` returned (same parameters in the same groups)."""
        groups = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(g["params"]) for g in groups] != sizes:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: groups of sizes "
                f"{[len(g['params']) for g in groups]} do not match this optimizer's {sizes}"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        for g, saved in zip(self.param_groups, groups):
            g.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {
            params[int(i)]: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                             for k, v in st.items()}
            for i, st in state_dict["state"].items()
        }

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} defines no _update")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in group.items() if k != "params"]
        return "\n".join(lines) + "\n)"
