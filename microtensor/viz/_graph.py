"""The graph as pictures see it: an iterative walk from the outputs, numbered deterministically.

The core graph holds op nodes (read through `microtensor.graph.NodeView`, never through
their private slots) and leaf Tensors; intermediate Tensors are not referenced by it. So an
intermediate is identified with the op that made it, its shape and dtype come from the node,
and its value is known only when something still holds it: it is an output given to us, a
tensor named in `names`, a tensor that called `retain_grad()`, or an array saved for backward
(by its own op, as `out`, or by a consumer, as an input).

Numbering follows a breadth-first topological order from the outputs (the order in which a
backward pass may run the nodes), with inputs visited in argument order, so the same graph
always gives the same numbers and the same DOT text: nothing depends on `id()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..graph import NodeView
from ..tensor import Tensor


@dataclass
class Graph:
    """Everything the drawing and explaining code needs, in deterministic order."""

    outputs: list[Tensor]
    ops: list[NodeView]
    order: dict[NodeView, int]
    leaves: list[Tensor]
    consumers: dict[NodeView, list[NodeView]]
    known: dict[NodeView, Tensor]
    values: dict[NodeView, Any]
    const_values: dict[tuple[NodeView, int], Any]
    names: dict[int, str]
    node_names: dict[NodeView, str]
    leaf_users: dict[int, list[NodeView]] = field(default_factory=dict)
    const_names: dict[tuple[NodeView, int], str] = field(default_factory=dict)
    unit: dict[Any, Any] = field(default_factory=dict)
    units: list[Any] = field(default_factory=list)
    hidden: dict[Any, int] = field(default_factory=dict)
    hidden_groups: list[list[Any]] = field(default_factory=list)

    def leaf_name(self, t: Tensor) -> str | None:
        """The name of a leaf tensor: from `names`, else its `.name`."""
        return self.names.get(id(t)) or t.name

    def op_name(self, fn: NodeView) -> str | None:
        """The name of the tensor an op produced, when one is known."""
        return self.node_names.get(fn)

    def consumers_of_leaf(self, t: Tensor) -> list[NodeView]:
        """The ops that take leaf `t` as an input, in graph order."""
        return self.leaf_users.get(id(t), [])

    @property
    def hidden_count(self) -> int:
        """How many op nodes `max_nodes` hid."""
        return len(self.hidden)


def is_parameter(t: Tensor) -> bool:
    """True for nn.Parameter (checked by class name: viz sits below nn and cannot import it)."""
    return any(c.__name__ == "Parameter" for c in type(t).__mro__)


def build(outputs: Iterable[Tensor], names: Mapping[Any, Any] | None = None) -> Graph:
    """Walk the graph behind `outputs` (iteratively) and collect what pictures need."""
    outs: list[Tensor] = []
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"viz: expected Tensors to draw, got {type(t).__name__}")
        if not any(t is o for o in outs):
            outs.append(t)
    if not outs:
        raise ValueError("viz: give at least one tensor to draw")
    roots = []
    seen: set[NodeView] = set()
    for t in outs:
        n = NodeView.of(t)
        if n is not None and n not in seen:
            seen.add(n)
            roots.append(n)
    ops, consumers = _toposort(roots, seen)
    order = {n: i for i, n in enumerate(ops)}
    leaves = _leaves(outs, ops)
    name_map = _name_map(names)
    node_names: dict[NodeView, str] = {}
    known: dict[NodeView, Tensor] = {}
    for n in ops:
        owner = n.retained
        if owner is not None:
            known[n] = owner
    extra = [v for v in (names or {}).values() if isinstance(v, Tensor)]
    extra += [k for k in (names or {}) if isinstance(k, Tensor)]
    for t in extra + outs:
        n = NodeView.of(t)
        if n is not None and n in order:
            known[n] = t
    for n, t in known.items():
        name = name_map.get(id(t)) or t.name
        if name:
            node_names[n] = name
    values, const_values = _saved_values(ops)
    # a constant is only an array in the graph; name it after the tensor that holds that array
    data_names = {id(t.data): name_map.get(id(t)) or t.name for t in extra + outs}
    const_names = {k: data_names[id(v)] for k, v in const_values.items() if data_names.get(id(v))}
    leaf_users: dict[int, list[NodeView]] = {}
    for n in ops:
        for e in n.inputs:
            if isinstance(e, Tensor):
                users = leaf_users.setdefault(id(e), [])
                if not users or users[-1] != n:
                    users.append(n)
    return Graph(
        outs,
        ops,
        order,
        leaves,
        consumers,
        known,
        values,
        const_values,
        name_map,
        node_names,
        leaf_users,
        const_names,
    )


def _toposort(
    roots: list[NodeView], seen: set[NodeView]
) -> tuple[list[NodeView], dict[NodeView, list[NodeView]]]:
    """Kahn's algorithm from the roots: every node after all of its consumers."""
    deps: dict[NodeView, int] = {}
    consumers: dict[NodeView, list[NodeView]] = {}
    inputs: dict[NodeView, tuple[Any, ...]] = {}  # each node's inputs, viewed once
    stack = list(reversed(roots))
    while stack:
        n = stack.pop()
        inputs[n] = n.inputs
        for e in inputs[n]:
            if e is None or isinstance(e, Tensor):
                continue
            deps[e] = deps.get(e, 0) + 1
            consumers.setdefault(e, []).append(n)
            if e not in seen:
                seen.add(e)
                stack.append(e)
    ready = deque(r for r in roots if not deps.get(r))
    ops = []
    while ready:
        n = ready.popleft()
        ops.append(n)
        for e in inputs[n]:
            if e is None or isinstance(e, Tensor):
                continue
            deps[e] -= 1
            if not deps[e]:
                ready.append(e)
    return ops, consumers


def _leaves(outs: list[Tensor], ops: list[NodeView]) -> list[Tensor]:
    leaves = []
    seen: set[int] = set()
    for t in outs:
        if t.grad_fn is None and id(t) not in seen:
            seen.add(id(t))
            leaves.append(t)
    for n in ops:
        for e in n.inputs:
            if isinstance(e, Tensor) and id(e) not in seen:
                seen.add(id(e))
                leaves.append(e)
    return leaves


def _name_map(names: Mapping[Any, Any] | None) -> dict[int, str]:
    """id(tensor) -> name from {tensor: name} or from {name: tensor} (such as `locals()`).

    Keyed by id because Tensor.__eq__ is elementwise, so Tensors make poor dict keys for
    lookups by equality. For {name: tensor} the first name wins and names starting with "_"
    are skipped, so `names=locals()` does what one expects.
    """
    out: dict[int, str] = {}
    for k, v in (names or {}).items():
        if isinstance(k, Tensor) and isinstance(v, str):
            out[id(k)] = v
        elif isinstance(v, Tensor) and isinstance(k, str) and not k.startswith("_"):
            out.setdefault(id(v), k)
    return out


def _saved_values(
    ops: list[NodeView],
) -> tuple[dict[NodeView, Any], dict[tuple[NodeView, int], Any]]:
    """Values of intermediates and constants that ops still hold for backward."""
    values: dict[NodeView, Any] = {}
    consts: dict[tuple[NodeView, int], Any] = {}
    for c in ops:
        saved = c.saved
        inputs = c.inputs if saved else ()
        for kind, i, value in saved:
            if kind == "output":
                values.setdefault(c, value)
            elif kind == "input":
                e = inputs[i]
                if e is None:
                    consts[(c, i)] = value
                elif not isinstance(e, Tensor):
                    values.setdefault(e, value)
    return values, consts


def scope_of(fn: NodeView) -> tuple[Any, ...]:
    """The modules (outermost first) that were running when the op was recorded."""
    return fn.scope


def owner_name(owner: Any) -> str | None:
    """A module's dotted name, if it exposes one (nn.Module does once it is called)."""
    for attr in ("full_name", "path", "name"):
        try:
            value = getattr(owner, attr, None)
        except Exception:  # a module's __getattr__ may raise anything
            value = None
        if isinstance(value, str) and value:
            return value
    return None


def owner_label(owner: Any) -> str:
    """ "fc1: Linear" for a named module, "Linear" otherwise."""
    cls = type(owner).__name__
    name = owner_name(owner)
    return f"{name}: {cls}" if name and name != cls else cls


def _matches(owner: Any, patterns: list[Any]) -> bool:
    for p in patterns:
        if isinstance(p, str):
            if p in (type(owner).__name__, owner_name(owner)):
                return True
        elif isinstance(p, type):
            if isinstance(owner, p):
                return True
        elif p is owner:
            return True
    return False


def group(graph: Graph, collapse: Iterable[Any] | None, max_nodes: int | None) -> None:
    """Assign every op to a drawing unit: itself, a collapsed module (the outermost module in
    its scope that matches `collapse`: a class name, a dotted module name, a class or the
    module object), or a hidden group when `max_nodes` units are exceeded.

    The budget keeps the units nearest the outputs and nearest the leaves (the two ends of
    the topological order) and hides the middle; hidden ops that touch each other form one
    "... N ops hidden" node each (or a single one, if there would be too many).
    """
    patterns = list(collapse or ())
    units: list[Any] = []
    seen: set[Any] = set()
    for n in graph.ops:
        u: Any = n
        if patterns:
            for depth, owner in enumerate(scope_of(n)):
                if _matches(owner, patterns):
                    u = ("module", scope_of(n)[: depth + 1])
                    break
        graph.unit[n] = u
        if u not in seen:
            seen.add(u)
            units.append(u)
    if max_nodes is not None and len(units) > max(max_nodes, 0):
        head = (max_nodes + 1) // 2
        tail = max_nodes - head
        kept = set(units[:head]) | set(units[len(units) - tail :] if tail else ())
        hidden_ops = [n for n in graph.ops if graph.unit[n] not in kept]
        _hide(graph, hidden_ops, max(1, max_nodes // 4))
        units = [u for u in units if u in kept]
    graph.units = units


def _hide(graph: Graph, hidden_ops: list[Any], most_groups: int) -> None:
    """Union-find the hidden ops into connected groups (iteratively, in a linear pass)."""
    parent = {n: n for n in hidden_ops}

    def find(n: Any) -> Any:
        root = n
        while parent[root] != root:
            root = parent[root]
        while parent[n] != root:
            parent[n], n = root, parent[n]
        return root

    for n in hidden_ops:
        for e in n.inputs:
            if e is not None and not isinstance(e, Tensor) and e in parent:
                a, b = find(n), find(e)
                if a != b:
                    # keep the earlier node as the root, so numbering stays deterministic
                    if graph.order[a] < graph.order[b]:
                        parent[b] = a
                    else:
                        parent[a] = b
    groups: dict[Any, int] = {}
    members: list[list[Any]] = []
    for n in hidden_ops:
        r = find(n)
        if r not in groups:
            groups[r] = len(members)
            members.append([])
        members[groups[r]].append(n)
    if len(members) > most_groups:
        members = [hidden_ops]
    for gi, ms in enumerate(members):
        for n in ms:
            graph.hidden[n] = gi
            graph.unit[n] = ("hidden", gi)
    graph.hidden_groups = members
