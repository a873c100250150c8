"""Replaying a backward pass for study: `explain` and the gradients in `draw_backward`.

Why a replay instead of `backward()` or `mt.grad`: the replay calls each node's own
`backward` formula, in the engine's order (every node after all of its consumers), fits each
result to its input exactly as the engine does (undoing broadcasting, casting the dtype), and
keeps every intermediate gradient, including the one sent along each edge, which the engine
never exposes. It writes nothing: no `.grad` (of leaves or of retain_grad tensors), no freed
saved values, no hooks called (a hook that changes gradients is therefore not reflected), so
the user's graph and gradients are exactly as they were. The graph must still hold its saved
values: explain before `backward()`, or after `backward(retain_graph=True)`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from ..grad_mode import no_grad
from ..shapes import unbroadcast
from ..tensor import Tensor
from ._format import (
    TEXT_LIMIT,
    describe_value,
    fmt_shape,
    input_name,
    is_argument,
    op_args,
    rule,
    summarize,
)
from ._graph import Graph, build, owner_label, scope_of


@dataclass
class Replay:
    """Gradients of one replayed backward pass, keyed by node (and input index)."""

    seeds: list[Any]
    incoming: dict[Any, np.ndarray] = field(default_factory=dict)
    outgoing: dict[tuple[Any, int], np.ndarray] = field(default_factory=dict)
    summed_from: dict[tuple[Any, int], tuple[int, ...]] = field(default_factory=dict)
    leaf_total: dict[int, np.ndarray] = field(default_factory=dict)
    leaf_parts: dict[int, list[Any]] = field(default_factory=dict)


def check_not_freed(graph: Graph) -> None:
    """Raise a RuntimeError saying what to do if backward() already freed the graph."""
    for n in graph.ops:
        if getattr(n, "_freed", False):
            raise RuntimeError(
                f"viz: the graph through {type(n).__name__} was freed by an earlier backward(), "
                "so its saved values are gone; call explain before backward(), or call "
                "backward(retain_graph=True)"
            )


def _seed(t: Tensor, gradient: Any) -> np.ndarray:
    if gradient is None:
        if t.size != 1:
            raise RuntimeError(
                f"viz: a gradient can be implied only for a one-element output; this output has "
                f"shape {t.shape}, so pass gradient= (an array of that shape)"
            )
        return np.ones_like(t.data)
    g = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=t.dtype)
    if g.shape != t.shape:
        raise ValueError(f"viz: gradient shape {g.shape} does not match the output {t.shape}")
    return g


def replay(graph: Graph, gradients: list[Any] | None = None) -> Replay:
    """Run every node's backward on arrays, recording the gradient on each edge."""
    check_not_freed(graph)
    gradients = gradients or [None] * len(graph.outputs)
    r = Replay(seeds=[])
    for t, g in zip(graph.outputs, gradients):
        seed = _seed(t, g) if t.requires_grad else None
        r.seeds.append(seed)
        if seed is None:
            continue
        if t.grad_fn is None:
            _to_leaf(r, t, seed, None)
        else:
            n = t.grad_fn
            r.incoming[n] = r.incoming[n] + seed if n in r.incoming else seed
    with no_grad():
        for n in graph.ops:
            g = r.incoming.get(n)
            if g is None:
                continue
            results = n.backward(g)
            if type(results) is not tuple:
                results = tuple(results) if isinstance(results, list) else (results,)
            for i, (e, result) in enumerate(zip(n._edges, results)):
                if e is None or result is None:
                    continue
                shape, dtype = (e.shape, e.dtype) if isinstance(e, Tensor) else (e._shape, e._dtype)
                gi = np.asarray(result.data if isinstance(result, Tensor) else result)
                if gi.shape != shape:
                    r.summed_from[(n, i)] = gi.shape
                    gi = unbroadcast(gi, shape)
                gi = np.array(gi, dtype=dtype)
                r.outgoing[(n, i)] = gi
                if isinstance(e, Tensor):
                    _to_leaf(r, e, gi, (n, i))
                else:
                    r.incoming[e] = r.incoming[e] + gi if e in r.incoming else gi
    return r


def _to_leaf(r: Replay, t: Tensor, g: np.ndarray, source: Any) -> None:
    key = id(t)
    r.leaf_total[key] = r.leaf_total[key] + g if key in r.leaf_total else g
    r.leaf_parts.setdefault(key, []).append(source)


def _grad_text(g: np.ndarray) -> str:
    return f"{fmt_shape(g.shape)} {summarize(g, TEXT_LIMIT)}"


def explain(
    output: Tensor,
    gradient: Any = None,
    names: Any = None,
    file: TextIO | None = None,
) -> str:
    """Print the chain rule at work: the backward pass of `output`, node by node.

    For every op, in backward order (each after all of its consumers), it prints the op and
    its arguments, the derivative rule (the first line of the op's docstring), the gradient
    coming in (shape and values, or min/mean/max when large) and the gradient sent to each
    input, named after forward's parameters (d/dx, d/dy) and marked when broadcasting was
    undone. It ends with each leaf's total: what `backward()` would add to its `.grad`.

    The pass is replayed, not run: `.grad`, `retain_grad` tensors, hooks and the graph's saved
    values are left untouched (so hooks that change gradients are not reflected). It needs an
    unfreed graph: call it before `backward()` or after `backward(retain_graph=True)`.
    `gradient` seeds a non-scalar output; `names` maps tensors to names ({tensor: name}, or
    {name: tensor} such as `locals()`). Prints to `file` (default stdout; pass an
    `io.StringIO()` to keep it quiet) and returns the same text.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise RuntimeError(
            "explain: this tensor does not require grad, so there is no backward pass to show"
        )
    graph = build([output], names)
    r = replay(graph, [gradient])
    out_name = (
        graph.op_name(output.grad_fn) if output.grad_fn is not None else graph.leaf_name(output)
    ) or "out"

    def label(e: Any) -> str:
        if isinstance(e, Tensor):
            return graph.leaf_name(e) or f"leaf {fmt_shape(e.shape)}"
        name = graph.op_name(e)
        return f"[{graph.order[e] + 1}] {type(e).__name__}" + (f" '{name}'" if name else "")

    n_leaves = sum(1 for t in graph.leaves if t.requires_grad)
    lines = [
        f"explain({out_name}): backward pass through {len(graph.ops)} op"
        f"{'s' * (len(graph.ops) != 1)} to {n_leaves} lea{'ves' if n_leaves != 1 else 'f'}",
        f"seed: ∂{out_name}/∂{out_name} = {_grad_text(r.seeds[0])}",
    ]
    for n in graph.ops:
        if n not in r.incoming:
            continue
        args = ", ".join(op_args(n))
        lines.append("")
        where = " > ".join(owner_label(o) for o in scope_of(n))
        lines.append(
            f"{label(n)}{f' ({args})' if args else ''} -> {fmt_shape(n._shape)}"
            + (f"   in {where}" if where else "")
        )
        lines.append(f"    rule:     {rule(n)}")
        lines.append(f"    grad in:  {_grad_text(r.incoming[n])}")
        for i, e in enumerate(n._edges):
            d = f"d/d{input_name(n, i)}"
            if e is None:
                if not is_argument(n, i):
                    value = graph.const_values.get((n, i))
                    what = graph.const_names.get((n, i)) or (
                        describe_value(value) if value is not None else ""
                    )
                    lines.append(f"    {d}: constant {what}".rstrip() + " (no gradient)")
                continue
            if (n, i) not in r.outgoing:
                lines.append(f"    {d} -> {label(e)}: no gradient")
                continue
            text = f"    {d} -> {label(e)}: {_grad_text(r.outgoing[(n, i)])}"
            if (n, i) in r.summed_from:
                text += f"  (summed from {fmt_shape(r.summed_from[(n, i)])}: broadcasting)"
            lines.append(text)
    lines.append("")
    lines.append("leaf gradients (what backward() adds to .grad):")
    for t in graph.leaves:
        if id(t) not in r.leaf_total:
            continue
        parts = r.leaf_parts[id(t)]
        text = f"    {label(t)}: {_grad_text(r.leaf_total[id(t)])}"
        if len(parts) > 1:
            text += "  (sum over " + ", ".join(label(p[0]) for p in parts if p) + ")"
        lines.append(text)
    text = "\n".join(lines) + "\n"
    print(text, end="", file=file if file is not None else sys.stdout)
    return text
