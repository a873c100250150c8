"""Pictures of the forward graph (`draw`) and of the gradient flow (`draw_backward`).

Both project the walked graph (`_graph.Graph`) onto drawn nodes: every op is drawn as
itself, as part of a collapsed module, or as part of a "hidden" group (`max_nodes`); edges
inside one collapsed or hidden group disappear, edges between groups are drawn once.
"""

from __future__ import annotations

from typing import Any

from ..graph import NodeView
from ..tensor import Tensor
from . import _style
from ._format import (
    describe_value,
    fmt_shape,
    input_name,
    is_argument,
    nonfinite,
    op_args,
    rule,
    saved_items,
    split_rule,
    summarize,
)
from ._graph import Graph, is_parameter
from ._picture import (
    BAD,
    GRAD,
    Options,
    Picture,
    Units,
    common_path,
    leaf_node,
    module_shapes,
    tensor_label,
)

# ops whose inputs can be swapped: their edges need no "x"/"y" labels
_COMMUTATIVE = {"Add", "Mul", "Maximum", "Minimum"}


def forward_picture(graph: Graph, opts: Options) -> Picture:
    """Nodes and edges of the forward graph: leaves, constants, ops and the tensors between."""
    pic = Picture(module_shapes=module_shapes(graph))
    units = Units(graph)
    roots = {NodeView.of(t) for t in graph.outputs if t.grad_fn is not None}
    leaf_ids = {id(t): f"leaf{k + 1}" for k, t in enumerate(graph.leaves)}
    out_leaves = {id(t) for t in graph.outputs if t.grad_fn is None}
    drawn_t: set[Any] = set()
    for t in graph.outputs:
        if t.grad_fn is None:
            leaf_node(pic, graph, t, leaf_ids[id(t)], (), opts, True)
    for n in reversed(graph.ops):
        if units.hidden(n):
            units.group_node(pic, n, False)
        else:
            _forward_inputs(pic, graph, units, n, leaf_ids, out_leaves, opts)
            if units.visible(n):
                lines = [(a, _style.GREY) for a in op_args(n)]
                if not opts.intermediates:
                    lines.append((f"→ {fmt_shape(n.shape)}", _style.GREY))
                pic.node(
                    units.id(n),
                    _style.label(n.name, lines),
                    _style.node_attrs("op"),
                    units.path(n),
                    "op",
                )
            else:
                units.group_node(pic, n, False)
        if _draws_output(graph, units, n, roots, opts):
            drawn_t.add(n)
            _op_output_node(pic, graph, units, n, n in roots, opts)
    for n in reversed(graph.ops):
        dst = units.id(n)
        if n in graph.hidden and not _on_border(graph, n):
            if n in drawn_t:
                pic.edge(dst, f"t{graph.order[n] + 1}")
            continue
        inputs = n.inputs
        shown = [
            i
            for i, e in enumerate(inputs)
            if e is not None or (opts.show_constants and not is_argument(n, i))
        ]
        named = units.visible(n) and len(shown) > 1 and n.name not in _COMMUTATIVE
        for i, e in enumerate(inputs):
            attrs = {"label": input_name(n, i)} if named and i in shown else {}
            if e is None:
                if f"c{graph.order[n] + 1}_{i}" in pic.ids:
                    pic.edge(f"c{graph.order[n] + 1}_{i}", dst, **attrs)
            elif isinstance(e, Tensor):
                if not units.hidden(n):
                    pic.edge(leaf_ids[id(e)], dst, **attrs)
            elif e in drawn_t:
                pic.edge(f"t{graph.order[e] + 1}", dst, **attrs)
            else:
                pic.edge(units.id(e), dst, **attrs)
        if n in drawn_t:
            pic.edge(dst, f"t{graph.order[n] + 1}")
    return pic


def _on_border(graph: Graph, n: Any) -> bool:
    """Whether a hidden op has an input outside its own group (only those need edges)."""
    own = graph.unit[n]
    return any(
        e is not None and not isinstance(e, Tensor) and graph.unit[e] != own for e in n.inputs
    )


def _forward_inputs(
    pic: Picture,
    graph: Graph,
    units: Units,
    n: Any,
    leaf_ids: dict[int, str],
    out_leaves: set[int],
    opts: Options,
) -> None:
    """Draw the leaves and constants that feed op `n`, just before `n` (reading order)."""
    for i, e in enumerate(n.inputs):
        if isinstance(e, Tensor):
            users = [c for c in graph.consumers_of_leaf(e) if not units.hidden(c)]
            path = common_path([units.path(c) for c in users]) if is_parameter(e) else ()
            leaf_node(pic, graph, e, leaf_ids[id(e)], path, opts, id(e) in out_leaves)
        elif e is None and opts.show_constants and units.visible(n) and not is_argument(n, i):
            value = graph.const_values.get((n, i))
            name = graph.const_names.get((n, i))
            what = "const" if value is None else f"const {describe_value(value)}"
            lines = [(what, _style.GREY)]
            bad = nonfinite(value) if value is not None else None
            if opts.show_data and value is not None and getattr(value, "ndim", 0):
                lines.append((summarize(value), None))
            if bad:
                lines.append((f"⚠ {bad}", BAD))
            # a named constant is the user's data (the model's input): draw it outside modules
            pic.node(
                f"c{graph.order[n] + 1}_{i}",
                _style.label(name, lines),
                _style.node_attrs("const", bool(bad)),
                () if name else units.path(n),
                "const" + ("+nan" if bad else ""),
            )


def _draws_output(graph: Graph, units: Units, n: Any, roots: set[Any], opts: Options) -> bool:
    """Whether the tensor made by op `n` gets its own node."""
    if n in roots:
        return True
    if units.hidden(n):
        return False
    known = n in graph.known or n in graph.node_names
    if units.visible(n):
        return opts.intermediates or known
    own = graph.unit[n]
    crosses = any(graph.unit[c] != own for c in graph.consumers.get(n, ()))
    return crosses and (opts.intermediates or known)


def _op_output_node(
    pic: Picture, graph: Graph, units: Units, n: Any, is_output: bool, opts: Options
) -> None:
    t = graph.known.get(n)
    data = t.data if t is not None else graph.values.get(n)
    grad = t.grad.data if t is not None and t.grad is not None else None
    name = graph.op_name(n)
    title = name or ("output" if is_output else None)
    text, bad = tensor_label(title, n.shape, n.dtype, data, grad, opts, italic=not name)
    kind = "output" if is_output else "tensor"
    path = () if is_output else units.path(n)
    pic.node(
        f"t{graph.order[n] + 1}",
        text,
        _style.node_attrs(kind, bad, is_output),
        path,
        kind + ("+nan" if bad else ""),
    )


def backward_picture(graph: Graph, opts: Options, replay: Any | None) -> Picture:
    """Nodes and edges of the gradient flow: seed -> each op's backward -> the leaves."""
    pic = Picture()
    units = Units(graph)
    leaf_ids = {id(t): f"leaf{k + 1}" for k, t in enumerate(graph.leaves)}
    for k, t in enumerate(graph.outputs):
        if t.grad_fn is None:
            continue
        single = len(graph.outputs) == 1
        name = graph.op_name(NodeView.of(t)) or ("out" if single else f"out{k + 1}")
        seed = replay.seeds[k] if replay is not None else None
        lines: list[tuple[str, str | None]] = [(f"{fmt_shape(t.shape)} {t.dtype}", _style.GREY)]
        if seed is not None and opts.show_grad:
            lines.append((summarize(seed), GRAD))
        else:
            lines.append(("ones" if t.size == 1 else "the given gradient", None))
        pic.node(
            f"seed{k + 1}",
            _style.label(f"∂{name}/∂{name}", lines),
            _style.node_attrs("seed"),
            (),
            "seed",
        )
        pic.edge(f"seed{k + 1}", units.id(NodeView.of(t)), label=fmt_shape(t.shape))
    for n in graph.ops:
        if units.visible(n):
            _backward_node(pic, units, n, opts, replay)
        else:
            units.group_node(pic, n, True)
            if n in graph.hidden and not _on_border(graph, n):
                continue
        for i, e in enumerate(n.inputs):
            if e is None:
                continue
            if isinstance(e, Tensor):
                if units.hidden(n):
                    continue
                users = [c for c in graph.consumers_of_leaf(e) if not units.hidden(c)]
                path = common_path([units.path(c) for c in users]) if is_parameter(e) else ()
                leaf_node(pic, graph, e, leaf_ids[id(e)], path, opts, False, backward=True)
                dst, shape = leaf_ids[id(e)], e.shape
            else:
                dst, shape = units.id(e), e.shape
            text = fmt_shape(shape)
            if replay is not None and opts.show_grad and (n, i) in replay.outgoing:
                # "\\n" is DOT's own line break: the DOT text stays one line per edge
                text += "\\n" + summarize(replay.outgoing[(n, i)])
                if (n, i) in replay.summed_from:
                    text += f"\\n(summed from {fmt_shape(replay.summed_from[(n, i)])})"
            pic.edge(units.id(n), dst, label=text, color=GRAD, fontcolor=GRAD)
    return pic


def _backward_node(pic: Picture, units: Units, n: Any, opts: Options, replay: Any) -> None:
    definition, derivative = split_rule(rule(n))
    lines: list[tuple[str, str | None]] = []
    name = units.graph.op_name(n)
    if name:
        lines.append((f"of {name}", None))
    if definition:
        lines.append((definition, _style.GREY))
    lines.append((derivative, None))
    lines += [(a, _style.GREY) for a in op_args(n)]
    bad = False
    if n.freed:
        lines.append(("saved: freed by backward()", _style.GREY))
    else:
        items = saved_items(n)
        if not items:
            lines.append(("saved: nothing", _style.GREY))
        for what, value in items:
            text = f"saved {what}: {describe_value(value)}"
            if opts.show_data and getattr(value, "ndim", 0):
                text += f"  {summarize(value)}"
            lines.append((text, _style.GREY))
    if replay is not None and opts.show_grad and n in replay.incoming:
        g = replay.incoming[n]
        lines.append((f"grad in {summarize(g)}", GRAD))
        worst = nonfinite(g)
        if worst:
            bad = True
            lines.append((f"⚠ grad: {worst}", BAD))
    pic.node(
        units.id(n),
        _style.label(f"{n.name}Backward", lines),
        _style.node_attrs("backward", bad),
        units.path(n),
        "backward" + ("+nan" if bad else ""),
    )
