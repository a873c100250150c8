"""Forward-mode automatic differentiation: tangents carried forward through every op by the
op's own `jvp` rule (true forward mode, one pass per tangent direction, no double-vjp).

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        y_primal, y_tangent = forward_ad.unpack_dual(y)

`dual_level()` pushes a `_ForwardAD` level on the function-transform stack (grad_mode's
`_state.transforms`), so `Function.apply` hands it every op call (see function._transformed).
Its `process` runs the op and then the node's `jvp` on the inputs' tangents, and remembers the
output's tangent. A level keeps tangents in a table beside the Tensors (Tensor is untouched):
by the Tensor's id, and, for a non-leaf Tensor, also by its data array's id, because reverse
mode hands backward formulas new handles on saved inputs and outputs (engine._attach) that
share the array; that is what lets a gradient computed under a level carry tangents
(forward-over-reverse). A leaf made from the same array (`detach()`, `Tensor(x.data)`) gets no
tangent: it is a constant, as in PyTorch.

With reverse mode: when an input requires grad in grad mode, the op joins the graph as usual
and its jvp runs on the saved values attached to the graph, so the output tangent is itself
differentiable (reverse-over-forward). Under an outer transform (a jvp inside a jvp) the op
runs through the outer level and the rule runs on Tensors, so the outer level sees the rule's
ops too (forward-over-forward).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from .engine import _attach
from .function import _run_for_jvp
from .grad_mode import _state
from .tensor import Tensor, _make

__all__ = ["UnpackedDual", "dual_level", "make_dual", "unpack_dual"]


class _ForwardAD:
    """One forward-mode level: a table of tangents and the op hook that extends it."""

    def __init__(self) -> None:
        # id -> (the object the id belongs to, kept alive so the id is not reused, tangent)
        self.by_tensor: dict[int, tuple[Any, Any]] = {}
        self.by_array: dict[int, tuple[Any, Any]] = {}

    def tangent(self, t: Any) -> Any:
        """The tangent of Tensor `t` at this level, or None."""
        entry = self.by_tensor.get(id(t))
        if entry is None and t.grad_fn is not None:  # a new handle on a node (engine._attach)
            entry = self.by_array.get(id(t.data))
        return None if entry is None else entry[1]

    def set(self, t: Tensor, tangent: Any) -> None:
        """Give Tensor `t` the tangent `tangent` (an array, or a Tensor) at this level."""
        self.by_tensor[id(t)] = (t, tangent)
        if t.grad_fn is not None:
            self.by_array[id(t.data)] = (t.data, tangent)

    def process(self, cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the op `cls` on `args` and compute its output's tangent with the node's jvp."""
        by_tensor = self.by_tensor
        tangents: list[Any] = []
        mask: list[bool] = []
        dual = False
        for a in args:
            t = None
            if isinstance(a, Tensor) and (by_tensor or self.by_array):
                t = self.tangent(a)
            tangents.append(t)
            mask.append(t is not None)
            dual = dual or t is not None
        if not dual:
            return cls.apply(*args, **kwargs)  # to the next level out, or the op itself
        if _state.transforms:
            # outer levels must see the op and the rule: run the op through them, and the
            # rule on Tensors (the arguments and the output), not on their arrays
            for a in args:
                if isinstance(a, Tensor) and type(a) is not Tensor:
                    # a Tensor subclass whose array is not its value (vmap's BatchedTensor):
                    # the rule's node cannot run forward on it
                    raise NotImplementedError(
                        f"forward mode: {cls.__name__} got a {type(a).__name__} (jvp inside "
                        "vmap); forward mode runs each op's rule on plain values, so put vmap "
                        "inside jvp instead: mt.func.jvp(mt.func.vmap(f), ...)")
            out = cls.apply(*args, **kwargs)
            _, node, _ = _run_for_jvp(cls, args, kwargs, mask, record_graph=False)
            attached = tuple(s if src is None else out if src == -1 else args[src]
                             for s, src in zip(node.saved, _sources(node)))
            tangents = [t if t is None or isinstance(t, Tensor) else _make(np.asarray(t))
                        for t in tangents]
        else:
            out, node, recorded = _run_for_jvp(cls, args, kwargs, mask)
            # the tangent must be differentiable when reverse mode may ask for it
            attached = _attach(node, node.saved) if recorded and node.saved else None
        if out.data.dtype.kind != "f":  # integer and bool results carry no tangent
            return out
        if attached is not None:
            saved, node.saved = node.saved, attached
            try:
                t_out = node.jvp(*tangents)
            finally:
                node.saved = saved
        else:
            t_out = node.jvp(*tangents)
        if t_out is not None:
            self.set(out, _fit(t_out, out.data))
        return out


def _sources(node: Any) -> tuple[Any, ...]:
    """What each saved value of `node` is: an argument index, -1 (the output) or None."""
    return getattr(node, "_saved_src", ()) or (None,) * len(node.saved)


def _fit(t: Any, like: np.ndarray) -> Any:
    """Tangent `t` in the shape and dtype of the output `like` (a rule may return a tangent
    that broadcasts to it, or a NumPy scalar for a 0-d output)."""
    if not isinstance(t, Tensor):
        t = np.asarray(t)
    if t.shape != like.shape:
        t = np.broadcast_to(t, like.shape)
    if t.dtype != like.dtype:
        t = t.astype(like.dtype)
    return t


def _levels() -> list[_ForwardAD]:
    return [lv for lv in _state.transforms if isinstance(lv, _ForwardAD)]


def _innermost(where: str) -> _ForwardAD:
    levels = _levels()
    if not levels:
        raise RuntimeError(f"{where}: no forward-mode level is active; call it inside "
                           "`with microtensor.forward_ad.dual_level():`")
    return levels[-1]


@contextmanager
def dual_level() -> Iterator[_ForwardAD]:
    """A forward-mode level: inside it, `make_dual` gives Tensors tangents and every op
    carries them forward; leaving it drops every tangent of the level. Levels nest (the
    innermost is the one make_dual and unpack_dual use)."""
    level = _ForwardAD()
    prev = _state.transforms
    _state.transforms = (*prev, level)
    try:
        yield level
    finally:
        _state.transforms = prev


def make_dual(primal: Any, tangent: Any) -> Tensor:
    """`primal` (a float Tensor or array) with `tangent` (same shape; cast to its dtype) as
    its tangent at the innermost level. A Tensor comes back as itself (so reverse mode sees
    through it), anything else as a new Tensor."""
    level = _innermost("make_dual")
    p = primal if isinstance(primal, Tensor) else _make(np.array(primal))
    if p.data.dtype.kind != "f":
        raise TypeError(f"make_dual: the primal must be a float tensor, got dtype {p.dtype} "
                        "(integer and bool values have no tangent)")
    if not isinstance(tangent, Tensor):
        try:
            tangent = np.asarray(tangent)
        except (TypeError, ValueError) as e:
            raise TypeError(f"make_dual: cannot use the tangent as an array ({e})") from None
        if tangent.dtype.kind not in "biuf":
            raise TypeError(f"make_dual: the tangent must be a real array, got {tangent.dtype}")
    if tangent.shape != p.shape:
        raise ValueError(f"make_dual: tangent shape {tuple(tangent.shape)} does not match the "
                         f"primal shape {p.shape}")
    if tangent.dtype != p.dtype:
        tangent = tangent.astype(p.dtype)
    level.set(p, tangent)
    return p


class UnpackedDual(NamedTuple):
    """A dual Tensor's parts: the primal and its tangent (None when it has none)."""

    primal: Tensor
    tangent: Tensor | None


def unpack_dual(t: Tensor) -> UnpackedDual:
    """`t`'s primal and tangent at the innermost level (the tangent None if it has none)."""
    level = _innermost("unpack_dual")
    if not isinstance(t, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(t).__name__}")
    tangent = level.tangent(t)
    if tangent is not None and not isinstance(tangent, Tensor):
        tangent = _make(np.asarray(tangent))
    return UnpackedDual(t, tangent)


def _share_tangents(src: Tensor, dst: Tensor) -> None:
    """Give `dst` the tangents `src` has at every active level (mt.func.grad makes a new leaf
    from its argument, which must keep the argument's tangents for forward-over-reverse)."""
    for level in _levels():
        t = level.tangent(src)
        if t is not None:
            level.set(dst, t)
