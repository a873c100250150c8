"""The shared machinery of pictures: options, the node/edge list, drawing units (an op, a
collapsed module, a hidden group), tensor labels, and writing it all into a Digraph with one
nested cluster per module."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..tensor import Tensor
from . import _style
from ._format import fmt_shape, nonfinite, summarize
from ._graph import Graph, is_parameter, owner_label, scope_of
from ._render import digraph_class

BAD = "#dc2626"
GRAD = "#c2410c"


@dataclass
class Options:
    """What `draw` and `draw_backward` were asked to show."""

    show_data: bool = False
    show_grad: bool = False
    intermediates: bool = True
    show_constants: bool = True
    legend: bool = True
    rankdir: str = "TB"
    title: str | None = None
    max_nodes: int | None = None


@dataclass
class Picture:
    """Nodes (with their cluster path) and edges, in the order they will be written."""

    nodes: list[tuple[str, str, dict[str, str], tuple[Any, ...]]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    edge_keys: set[tuple[str, str]] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    # the output shape of each module's cluster (keyed by the ids of its owner path)
    module_shapes: dict[tuple[int, ...], tuple[int, ...]] = field(default_factory=dict)

    def node(
        self, nid: str, text: str, attrs: dict[str, str], path: tuple[Any, ...], kind: str
    ) -> None:
        """Add a node once (later calls with the same id are ignored)."""
        if nid in self.ids:
            return
        self.ids.add(nid)
        self.nodes.append((nid, text, attrs, path))
        # "param+nan": a parameter holding nan; the legend lists both kinds
        self.kinds.update(kind.split("+"))

    def edge(self, src: str, dst: str, **attrs: str) -> None:
        """Add an edge once; self-loops (inside one collapsed or hidden group) are dropped."""
        if src == dst or (src, dst) in self.edge_keys:
            return
        self.edge_keys.add((src, dst))
        self.edges.append((src, dst, attrs))


def module_shapes(graph: Graph) -> dict[tuple[int, ...], tuple[int, ...]]:
    """The output shape of every module seen in the graph: that of the last op recorded inside
    it (a layer's result is what it computes last), keyed by the ids of its owner path."""
    last: dict[tuple[int, ...], Any] = {}
    for n in graph.ops:
        path = scope_of(n)
        for d in range(1, len(path) + 1):
            key = tuple(id(o) for o in path[:d])
            if key not in last or n.order > last[key].order:
                last[key] = n
    return {key: tuple(n.shape) for key, n in last.items()}


class Units:
    """Drawn ids and cluster paths of op units (an op, a collapsed module, a hidden group)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.modules = {
            u: k + 1
            for k, u in enumerate(
                u for u in graph.units if isinstance(u, tuple) and u[0] == "module"
            )
        }
        self.counts: dict[Any, Counter[str]] = {}
        for n in graph.ops:
            u = graph.unit[n]
            if u != n:
                self.counts.setdefault(u, Counter())[n.name] += 1

    def id(self, n: Any) -> str:
        u = self.graph.unit[n]
        if u == n:
            return f"op{self.graph.order[n] + 1}"
        if u[0] == "module":
            return f"mod{self.modules[u]}"
        return f"hid{u[1] + 1}"

    def path(self, n: Any) -> tuple[Any, ...]:
        u = self.graph.unit[n]
        if u == n:
            return scope_of(n)
        return u[1][:-1] if u[0] == "module" else ()

    def visible(self, n: Any) -> bool:
        return self.graph.unit[n] == n

    def hidden(self, n: Any) -> bool:
        return n in self.graph.hidden

    def group_node(self, pic: Picture, n: Any, backward: bool) -> None:
        """Draw the collapsed-module or hidden node that `n` belongs to (once)."""
        if self.id(n) in pic.ids:
            return
        u = self.graph.unit[n]
        counts = self.counts[u]
        total = sum(counts.values())
        top = ", ".join(f"{k} ×{v:,}" for k, v in counts.most_common(3))
        top += ", ..." if len(counts) > 3 else ""
        if u[0] == "module":
            title = owner_label(u[1][-1]) + (" (backward)" if backward else "")
            text = _style.label(title, [(f"{total} op{'s' * (total != 1)}: {top}", _style.GREY)])
            pic.node(self.id(n), text, _style.node_attrs("module"), self.path(n), "module")
        else:
            text = _style.label(
                f"⋯ {total:,} ops hidden", [(top, _style.GREY), ("(max_nodes)", _style.GREY)]
            )
            pic.node(self.id(n), text, _style.node_attrs("hidden"), (), "hidden")


def common_path(paths: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The longest common prefix of cluster paths (compared by identity of the owners)."""
    if not paths:
        return ()
    first = paths[0]
    k = len(first)
    for p in paths[1:]:
        k = min(k, len(p))
        for i in range(k):
            if p[i] is not first[i]:
                k = i
                break
    return first[:k]


def tensor_label(
    title: str | None,
    shape: tuple[int, ...],
    dtype: Any,
    data: Any,
    grad: Any,
    opts: Options,
    italic: bool = False,
) -> tuple[str, bool]:
    """Label of a tensor node, and whether it holds nan/inf (in its value or its gradient)."""
    lines: list[tuple[str, str | None]] = [(f"{fmt_shape(shape)} {dtype}", _style.GREY)]
    bad = nonfinite(data) if data is not None else None
    grad_bad = nonfinite(grad) if grad is not None else None
    if opts.show_data and data is not None:
        lines.append((f"data {summarize(data)}", None))
    if opts.show_grad and grad is not None:
        lines.append((f"grad {summarize(grad)}", GRAD))
    if bad:
        lines.append((f"⚠ {bad}", BAD))
    if grad_bad:
        lines.append((f"⚠ grad: {grad_bad}", BAD))
    return _style.label(title, lines, italic_title=italic), bool(bad or grad_bad)


def leaf_node(
    pic: Picture,
    graph: Graph,
    t: Tensor,
    nid: str,
    path: tuple[Any, ...],
    opts: Options,
    output: bool,
    backward: bool = False,
) -> None:
    """Draw a leaf tensor: a parameter, a leaf that requires grad, or (as an output that
    requires no grad) a constant; its value is left out of backward pictures."""
    kind = "param" if is_parameter(t) else ("input" if t.requires_grad else "const")
    grad = t.grad.data if t.grad is not None else None
    name = graph.leaf_name(t)
    text, bad = tensor_label(
        name or ("output" if output else None),
        t.shape,
        t.dtype,
        None if backward else t.data,
        grad,
        opts,
        italic=not name,
    )
    pic.node(nid, text, _style.node_attrs(kind, bad, output), path, kind + ("+nan" if bad else ""))
    if output:
        pic.kinds.add("output")


def to_digraph(pic: Picture, opts: Options, footnote: str | None, name: str) -> Any:
    """Write a picture into a (microtensor) graphviz Digraph, clusters nested per module."""
    cls = digraph_class()
    title = opts.title
    if footnote:
        title = f"{title}\\n{footnote}" if title else footnote
    g = cls(
        name=name,
        graph_attr=_style.graph_attrs(opts.rankdir, title),
        node_attr={"fontname": _style.FONT, "fontsize": "11", "margin": "0.1,0.05"},
        edge_attr={
            "fontname": _style.FONT,
            "fontsize": "8",
            "color": "#4b5563",
            "fontcolor": _style.GREY,
            "arrowsize": "0.7",
        },
    )
    clusters: dict[tuple[int, ...], Any] = {}
    order: list[tuple[tuple[int, ...], tuple[Any, ...]]] = []
    for _, _, _, path in pic.nodes:
        for d in range(1, len(path) + 1):
            key = tuple(id(o) for o in path[:d])
            if key not in clusters:
                text = owner_label(path[d - 1])
                if key in pic.module_shapes:
                    text += f"  → {fmt_shape(pic.module_shapes[key])}"
                clusters[key] = cls(
                    name=f"cluster_{len(clusters) + 1}",
                    graph_attr=_style.cluster_attrs(text, d),
                )
                order.append((key, path[:d]))
    for nid, text, attrs, path in pic.nodes:
        target = clusters[tuple(id(o) for o in path)] if path else g
        target.node(nid, label=text, **attrs)
    # a child cluster must be complete before it is copied into its parent: deepest first
    for key, _ in sorted(order, key=lambda kp: -len(kp[0])):
        parent = clusters[key[:-1]] if len(key) > 1 else g
        parent.subgraph(clusters[key])
    for src, dst, attrs in pic.edges:
        g.edge(src, dst, **attrs)
    if opts.legend:
        notes = ["tensor values: outputs, leaves, saved"] if opts.show_data else []
        g.node("legend", label=_style.legend(sorted(pic.kinds), notes), shape="plaintext", style="")
    return g
