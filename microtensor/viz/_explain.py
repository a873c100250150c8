"""Replaying a backward pass for study: `explain` and the gradients in `draw_backward`.

The replay is the engine's own walk, watched (`microtensor.graph.record_backward`): the same
order, the same fitting of each gradient to its input (undoing broadcasting, casting the
dtype) and the same sums, with every intermediate gradient kept, including the one sent along
each edge, which `backward()` never exposes. It writes nothing: no `.grad` (of leaves or of
retain_grad tensors), no freed saved values, no hooks called (a hook that changes gradients
is therefore not reflected), so the user's graph and gradients are exactly as they were. The
graph must still hold its saved values: explain before `backward()`, or after
`backward(retain_graph=True)`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from ..graph import BackwardRecord, NodeView, record_backward
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


def check_not_freed(graph: Graph) -> None:
    """Raise a RuntimeError saying what to do if backward() already freed the graph."""
    for n in graph.ops:
        if n.freed:
            raise RuntimeError(
                f"viz: the graph through {n.name} was freed by an earlier backward(), "
                "so its saved values are gone; call explain before backward(), or call "
                "backward(retain_graph=True)"
            )


def replay(graph: Graph, gradients: list[Any] | None = None) -> BackwardRecord:
    """Run the engine's backward walk over `graph` on arrays, recording the gradient on each
    edge (see the module docstring)."""
    check_not_freed(graph)
    return record_backward(graph.outputs, gradients or [None] * len(graph.outputs), name="viz")


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
    node = NodeView.of(output)
    out_name = (graph.op_name(node) if node is not None else graph.leaf_name(output)) or "out"

    def label(e: Any) -> str:
        if isinstance(e, Tensor):
            return graph.leaf_name(e) or f"leaf {fmt_shape(e.shape)}"
        name = graph.op_name(e)
        return f"[{graph.order[e] + 1}] {e.name}" + (f" '{name}'" if name else "")

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
            f"{label(n)}{f' ({args})' if args else ''} -> {fmt_shape(n.shape)}"
            + (f"   in {where}" if where else "")
        )
        lines.append(f"    rule:     {rule(n)}")
        lines.append(f"    grad in:  {_grad_text(r.incoming[n])}")
        for i, e in enumerate(n.inputs):
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
