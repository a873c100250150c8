"""summary(model, input_shape): the table people know from Keras and torchinfo, one row per
module in call order with its output shape and parameter count.

    >>> print(nn.summary(model, (64, 1, 28, 28)))
    Layer (type)              Output shape          Param #
    ========================================================
    0: Conv2d                 (64, 6, 24, 24)           156
    ...

It runs one forward pass on zeros of `input_shape` (the batch axis included, as torchinfo's
`input_size`) under `no_grad`, with a forward hook on every module, and removes the hooks
afterwards, even when the forward fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor

from .module import Module

__all__ = ["Summary", "SummaryRow", "summary"]


@dataclass(frozen=True)
class SummaryRow:
    """One called module: its dotted name, class, depth below the model, output shape(s) and
    the parameters it holds itself (not counting its children's)."""

    name: str
    kind: str
    depth: int
    output_shape: Any
    params: int
    trainable: int


@dataclass(frozen=True)
class Summary:
    """The rows (in call order) and totals; `str()` is the table."""

    rows: tuple[SummaryRow, ...]
    input_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    output_shape: Any

    def __str__(self) -> str:
        head = ("Layer (type)", "Output shape", "Param #")
        body = [("  " * r.depth + (f"{r.name}: {r.kind}" if r.name else r.kind),
                 _shape_text(r.output_shape), f"{r.params:,}") for r in self.rows]
        w0 = max(len(head[0]), *(len(b[0]) for b in body)) if body else len(head[0])
        w1 = max(len(head[1]), *(len(b[1]) for b in body)) if body else len(head[1])
        w2 = max(len(head[2]), *(len(b[2]) for b in body)) if body else len(head[2])
        line = "=" * (w0 + w1 + w2 + 4)
        out = [f"{head[0]:<{w0}}  {head[1]:<{w1}}  {head[2]:>{w2}}", line]
        out += [f"{a:<{w0}}  {b:<{w1}}  {c:>{w2}}" for a, b, c in body]
        out += [line,
                f"Input shape: {_shape_text(self.input_shape)}",
                f"Output shape: {_shape_text(self.output_shape)}",
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}"]
        return "\n".join(out)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the table
        p.text(str(self))


def _shapes(value: Any) -> Any:
    """The shape of a Tensor/array output, or the nested shapes of a tuple/list of them."""
    if isinstance(value, (Tensor, np.ndarray)):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shapes(v) for v in value]
    return None


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return str(tuple(shape))


def summary(model: Module, input_shape: Sequence[int] | Sequence[Sequence[int]],
            dtype: Any = None) -> Summary:
    """Run `model` once on zeros of `input_shape` (batch axis included; a list of shapes for a
    model taking several inputs) and tabulate every module it called: name, class, output
    shape, own parameter count; totals at the end. `dtype` defaults to the model's first
    parameter's (float64 for a model without parameters). Nothing about the model changes:
    no gradient is recorded, train/eval mode is kept (so BatchNorm's running statistics would
    move in train mode, as in torchinfo: call `model.eval()` first to avoid that)."""
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    shapes = _input_shapes(input_shape)
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else np.float64
    names = {id(m): n for n, m in model.named_modules()}  # "" for the model itself
    # a row is opened when a module is entered (so a container comes before its layers, in
    # call order) and filled in when it returns
    opened: list[tuple[Module, int]] = []
    rows: list[SummaryRow | None] = []

    def enter(module: Module, args: Any) -> None:
        opened.append((module, len(rows)))
        rows.append(None)

    def leave(module: Module, args: Any, output: Any) -> None:
        _, slot = opened.pop()
        own = [p for p in module.parameters() if _owned(module, p)]
        name = names.get(id(module), "")
        rows[slot] = SummaryRow(
            name=name, kind=type(module).__name__,
            depth=name.count(".") + 1 if name else 0, output_shape=_shapes(output),
            params=sum(p.size for p in own),
            trainable=sum(p.size for p in own if p.requires_grad))

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(enter))
        handles.append(m.register_forward_hook(leave))
    try:
        inputs = [mt.zeros(s, dtype=dtype) for s in shapes]
        with mt.no_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    total = sum(p.size for p in params)
    trainable = sum(p.size for p in params if p.requires_grad)
    shown = shapes[0] if len(shapes) == 1 else tuple(shapes)
    return Summary(rows=tuple(r for r in rows if r is not None), input_shape=shown,
                   total_params=total, trainable_params=trainable, output_shape=_shapes(out))


def _owned(module: Module, p: Any) -> bool:
    """True when parameter `p` belongs to `module` itself rather than to one of its children."""
    return all(p is not q for child in module.children() for q in child.parameters())


def _input_shapes(input_shape: Any) -> list[tuple[int, ...]]:
    try:
        items = list(input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a shape such as (64, 1, 28, 28), got "
                        f"{input_shape!r}") from None
    many = bool(items) and all(isinstance(i, (tuple, list)) for i in items)
    shapes = items if many else [items]
    out = []
    for s in shapes:
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                   for n in s):
            raise TypeError(f"summary: input_shape must hold non-negative integers, got {s!r}")
        out.append(tuple(int(n) for n in s))
    return out
