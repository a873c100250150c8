"""Pictures of computation graphs, and the chain rule as text.

    import microtensor as mt
    g = mt.viz.draw(loss, names=locals(), show_data=True)   # a graphviz.Digraph
    mt.viz.save(g, "loss.svg")                              # or g.render(...); .dot needs no dot
    mt.viz.draw_backward(loss, show_grad=True)              # the gradient flow
    mt.viz.explain(loss)                                    # backward, node by node, as text
    mt.viz.explore(loss, "loss.html", model=model)          # the same, interactive, one HTML file
    mt.viz.code(mt.compile(step))                           # the compiled step's NumPy program

The only part of microtensor that imports graphviz, and only when a picture is made, so
`import microtensor` works without it. DOT text needs just the `graphviz` Python package;
rendering needs Graphviz's `dot` program (DotNotFoundError says how to install it).
Digraphs display inline in Jupyter.

What a picture can show about a tensor depends on what the graph still holds: the graph
keeps op nodes and leaves, not intermediate tensors. Values (`show_data`) are shown for the
outputs, the leaves, tensors passed in `names` or kept by `retain_grad()`, and intermediates
still saved for backward (by their op or a consumer); gradients (`show_grad`) for leaves and
for outputs or intermediates that kept one (`retain_grad()`), and in `draw_backward` for
every edge, by replaying the backward pass (see `explain`). Any tensor whose known value or
gradient holds nan or inf is drawn in red whatever the options.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..tensor import Tensor
from ._code import CodePage, code
from ._draw import backward_picture, forward_picture
from ._explain import explain, replay
from ._explore import Explorer, explore
from ._graph import build, group
from ._picture import Options, to_digraph
from ._render import DotNotFoundError, save

__all__ = ["CodePage", "DotNotFoundError", "Explorer", "code", "draw", "draw_backward",
           "explain", "explore", "save"]

#: Default `max_nodes`: more op nodes than this and the middle of the graph is hidden.
MAX_NODES = 300


def _footnote(graph: Any, max_nodes: int | None) -> str | None:
    if not graph.hidden_count:
        return None
    return f"max_nodes={max_nodes}: {graph.hidden_count:,} of {len(graph.ops):,} ops hidden"


def draw(
    *outputs: Tensor,
    show_data: bool = False,
    show_grad: bool = False,
    names: Mapping[Any, Any] | None = None,
    collapse: Iterable[Any] | None = None,
    max_nodes: int | None = MAX_NODES,
    rankdir: str = "TB",
    intermediates: bool = True,
    show_constants: bool = True,
    legend: bool = True,
    title: str | None = None,
) -> Any:
    """The forward graph that made `outputs`, as a `graphviz.Digraph`.

    Tensors are boxes (name, shape, dtype): parameters, leaves that require grad, constants,
    intermediates and outputs each in their own colour, and any tensor holding nan/inf in
    red. Ops are ellipses with their key arguments (axis, keepdims, shape, index,
    exponent). Ops recorded inside `mt.scope(module)` (every nn.Module call) are grouped in
    one nested cluster per module; `collapse` turns the modules it names (class names,
    dotted names, classes or module objects) into one node each.

    Options: `show_data` / `show_grad` add values and gradients where known, small tensors
    in full and large ones as min / mean / max. The graph does not keep intermediate
    tensors, so values are shown for outputs, leaves, tensors in `names` or kept by
    `retain_grad()`, and intermediates still saved for backward; gradients for leaves and
    for outputs or intermediates that kept one (`retain_grad()`);
    `names` maps tensors to names, as {tensor: name} or {name: tensor} (`names=locals()`
    names every local tensor; a tensor's own `.name` and nn parameter names are used
    anyway); `max_nodes` (None: no limit) keeps that many op nodes (a collapsed module counts
    as one), nearest the outputs and
    nearest the leaves, and replaces the rest by "N ops hidden" nodes, counted in the
    picture's footnote and in the result's `hidden_ops`; `intermediates=False` leaves out
    unnamed intermediate tensors (op to op edges, the op shows its output shape);
    `show_constants=False` leaves out inputs that need no grad; `rankdir` is Graphviz's
    ("TB", "LR", ...); `legend` adds the colour key; `title` labels the picture.

    The graph is walked iteratively (a 100,000-op chain is fine) and numbered in a fixed
    order, so the same graph always gives the same DOT text.
    """
    graph = build(outputs, names)
    group(graph, collapse, max_nodes)
    opts = Options(
        show_data, show_grad, intermediates, show_constants, legend, rankdir, title, max_nodes
    )
    g = to_digraph(forward_picture(graph, opts), opts, _footnote(graph, max_nodes), "forward")
    g.hidden_ops = graph.hidden_count
    return g


def draw_backward(
    *outputs: Tensor,
    gradient: Any = None,
    show_data: bool = False,
    show_grad: bool = False,
    names: Mapping[Any, Any] | None = None,
    collapse: Iterable[Any] | None = None,
    max_nodes: int | None = MAX_NODES,
    rankdir: str = "TB",
    legend: bool = True,
    title: str | None = None,
) -> Any:
    """The gradient flow of `outputs`, as a `graphviz.Digraph`.

    From each output's gradient seed, an edge runs to the backward node of every op
    ("SigmoidBackward"): its derivative rule (from the op's docstring), its arguments, and
    what it saved for backward (which input or "out", shape and dtype; "freed" once a
    backward without retain_graph has run), then on to the leaves whose `.grad` it
    accumulates. Edges carry the shape of the gradient they move.

    `show_grad` writes the gradient values on every edge and node, computed by replaying the
    backward pass without touching `.grad` (see `explain`; skipped, with a note, when the
    graph was already freed), plus each leaf's current `.grad`; `gradient` seeds a
    non-scalar output (one array, or a list with one per output). `show_data` adds the
    saved values. The other options are `draw`'s.
    """
    graph = build(outputs, names)
    group(graph, collapse, max_nodes)
    opts = Options(show_data, show_grad, False, False, legend, rankdir, title, max_nodes)
    footnote = _footnote(graph, max_nodes)
    flow = None
    if show_grad:
        grads = gradient if isinstance(gradient, (list, tuple)) else [gradient] * len(outputs)
        if not any(n.freed for n in graph.ops):
            flow = replay(graph, list(grads))
        else:
            note = "gradients not shown: backward() already freed this graph"
            footnote = f"{footnote}\\n{note}" if footnote else note
    g = to_digraph(backward_picture(graph, opts, flow), opts, footnote, "backward")
    g.hidden_ops = graph.hidden_count
    return g
