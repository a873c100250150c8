"""`explore`: the graph and its backward pass as one self-contained, interactive HTML page.

Python does the thinking, the page only shows: the graph is walked by `_graph.build`, the
backward pass is the engine's own walk watched by `graph.record_backward` (so the page steps
through the nodes in the order the engine runs them, with the very arrays it moves), values
are encoded once (small arrays in full, large ones as a down-sampled heat map plus min / mean
/ max), and the layout is computed here, by Graphviz's `dot` when it is installed and the
graph is not huge, else by a small layered layout. The page is one file: the script and style
from `explore_assets/` inline, the data as JSON in a non-executed script block with every
"<", ">" and "&" escaped (no value can end the block), and a Content-Security-Policy that
forbids every request, so opening it never touches the network.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..graph import BackwardRecord, NodeView
from ..tensor import Tensor
from ._explain import replay
from ._format import fmt_shape, input_name, is_argument, nonfinite, op_args
from ._graph import Graph, build, group, is_parameter, owner_label

#: Default `max_nodes`: op nodes beyond this are summarized ("N ops hidden").
MAX_NODES = 20_000
#: Default `max_values`: numbers embedded in the page, over all arrays; beyond it only stats.
MAX_VALUES = 2_000_000
#: Arrays with at most this many elements are embedded in full.
FULL_LIMIT = 64
#: Heat maps are down-sampled to at most this many rows and columns.
HEAT_SIDE = 48
#: Graphviz lays out graphs up to this many nodes (dot is superlinear; beyond, the layered one).
DOT_LIMIT = 1500
#: In "auto", dot gets this many seconds, then the layered layout is used: dot's time depends
#: on the graph's shape more than on its size (a few hundred nodes with a wide fan-out can
#: take minutes).
DOT_SECONDS = 10.0
#: Module groups start collapsed when the graph has more nodes than this.
COLLAPSE_ABOVE = 300

_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data:; connect-src 'none'; font-src 'none'; media-src 'none'; "
        "object-src 'none'; frame-src 'none'; worker-src 'none'; base-uri 'none'; "
        "form-action 'none'")


@dataclass
class Explorer:
    """The explorer page for one graph: `.html` is the whole page (one self-contained file),
    `.path` where it was last saved (None until then), `.nodes` how many graph nodes it draws
    and `.left_out` what the size guards left out, in words. `save(path)` writes it; in
    Jupyter it displays itself in a sandboxed iframe (`_repr_html_`), where its script runs."""

    html: str = field(repr=False)  # megabytes for a big graph: not for a REPL's echo
    path: Path | None = None
    nodes: int = 0
    left_out: list[str] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        """Write the page to `path` (UTF-8) and return it as a Path."""
        target = Path(path)
        target.write_text(self.html, encoding="utf-8")
        self.path = target
        return target

    def _repr_html_(self) -> str:
        # srcdoc rather than the page itself: Jupyter does not run <script> in HTML output
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'sandbox="allow-scripts" style="width:100%;height:640px;border:1px solid #ccc">'
                "</iframe>")


def explore(
    output: Tensor | Sequence[Tensor],
    path: str | Path | None = None,
    *,
    model: Any = None,
    inputs: Mapping[str, Tensor] | Sequence[Tensor] | None = None,
    gradient: Any = None,
    names: Mapping[Any, Any] | None = None,
    max_nodes: int | None = MAX_NODES,
    max_values: int = MAX_VALUES,
    layout: str = "auto",
    title: str | None = None,
) -> Explorer:
    """An interactive page of the graph behind `output` and of its backward pass, step by step.

    The forward graph is drawn top to bottom, ops inside the modules that ran them (collapsible
    groups, collapsed from the start above a few hundred nodes), parameters by their dotted
    names. Clicking a node shows its op, formula and derivative rule (the op's docstring),
    input and output shapes, its value and its gradient. Prev / Next (or the arrow keys) walk
    the backward pass in the engine's own order, showing at each step the chain rule in
    numbers: the gradient coming in (as a sum of parts where a tensor is reused), the rule,
    and what goes to each input; for the seed articles' networks the matching line of their
    hand-derived backprop. The pass is replayed (`graph.record_backward`): `.grad` is not
    touched, and the graph must not have been freed by a backward() without retain_graph
    (then the page shows the leaves' `.grad` and no steps). nan and inf are marked in red.

    `model` (an nn.Module) names its parameters by their dotted names and titles the page;
    `inputs` names input tensors ({name: tensor}, or tensors named by their `.name`); `names`
    is `draw`'s; `gradient` seeds a non-scalar output. Size guards: at most `max_nodes` op
    nodes (the rest summarized, None: no limit) and `max_values` embedded numbers (further
    arrays keep min / mean / max only); what they left out is said on the page and in
    `.left_out`. `layout`: "auto" (Graphviz's `dot` when on PATH, the graph has at most
    1,500 nodes and dot takes at most 10 s; else a layered layout), "dot" or "python".
    Writes the page to `path` when given.
    """
    try:
        outputs = [output] if isinstance(output, Tensor) else list(output)
    except TypeError:
        outputs = []
    if not outputs or not all(isinstance(t, Tensor) for t in outputs):
        raise TypeError(f"explore: expected Tensors (a Tensor or a sequence of them), got "
                        f"{type(output).__name__}")
    if layout not in ("auto", "dot", "python"):
        raise ValueError(f"explore: layout must be 'auto', 'dot' or 'python', got {layout!r}")
    if max_values < 0:
        raise ValueError(f"explore: max_values must be >= 0, got {max_values}")
    graph = build(outputs, _all_names(model, inputs, names))
    group(graph, None, max_nodes)
    left_out: list[str] = []
    if graph.hidden_count:
        left_out.append(f"{graph.hidden_count:,} of {len(graph.ops):,} ops summarized "
                        f"(max_nodes={max_nodes:,}); stepping skips them")
    record = None
    grads = list(gradient) if isinstance(gradient, (list, tuple)) else [gradient] * len(outputs)
    if len(grads) != len(outputs) or len(graph.outputs) != len(outputs):
        raise ValueError(f"explore: give each output once and one gradient per output, got "
                         f"{len(outputs)} outputs ({len(graph.outputs)} distinct) and "
                         f"{len(grads)} gradients")
    unseeded = [fmt_shape(t.shape) for t, g in zip(outputs, grads)
                if t.requires_grad and g is None and t.size != 1]
    if not any(t.requires_grad for t in graph.outputs):
        left_out.append("the output does not require grad: no backward pass to step through")
    elif any(n.freed for n in graph.ops):
        left_out.append("backward() already freed this graph (call it with retain_graph=True, "
                        "or explore before it): no steps; leaves show their .grad")
    elif unseeded:
        left_out.append(f"an output of shape {unseeded[0]} needs a seed to step through "
                        "backward: pass gradient= (an array of its shape)")
    else:
        record = replay(graph, grads)
    enc = _Encoder(max_values)
    data = _Payload(graph, record, enc).build()
    if enc.dropped:
        left_out.append(f"values of {enc.dropped:,} arrays beyond max_values={max_values:,} "
                        "numbers: shown as min / mean / max only")
    data["layout"] = _lay_out(data, layout)
    data["leftOut"] = left_out
    data["title"] = title or _title(outputs, model)
    data["collapsed"] = len(data["nodes"]) > COLLAPSE_ABOVE
    page = Explorer(_page(data, data["title"]), None, len(data["nodes"]), left_out)
    if path is not None:
        page.save(path)
    return page


def _all_names(model: Any, inputs: Any, names: Mapping[Any, Any] | None) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    if model is not None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"explore: model must be an nn.Module, got {type(model).__name__}")
        out.update((p, n) for n, p in model.named_parameters())
    if isinstance(inputs, Mapping):
        out.update((t, str(k)) for k, t in inputs.items() if isinstance(t, Tensor))
    elif inputs is not None:
        for k, t in enumerate([inputs] if isinstance(inputs, Tensor) else inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"explore: inputs[{k}] is a {type(t).__name__}, not a Tensor")
            out[t] = t.name or f"input{k}"
    for k, v in (names or {}).items():
        if isinstance(k, Tensor) and isinstance(v, str):
            out[k] = v
        elif isinstance(v, Tensor) and isinstance(k, str) and not k.startswith("_"):
            out.setdefault(v, k)
    return out  # {tensor: name}: Tensors hash by identity


def _title(outputs: list[Tensor], model: Any) -> str:
    what = type(model).__name__ if model is not None else "graph"
    name = outputs[0].name or "output"
    return f"microtensor explorer: {what} → {name}"


class _Encoder:
    """Arrays to JSON-ready dicts under a budget of embedded numbers."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.dropped = 0

    def __call__(self, a: Any) -> dict[str, Any] | None:
        if a is None:
            return None
        a = np.asarray(a.data if isinstance(a, Tensor) else a)
        out: dict[str, Any] = {"s": list(a.shape), "dt": _dtype_name(a.dtype), "n": a.size}
        kind = a.dtype.kind
        if kind not in "biuf" or a.size == 0:
            return out
        small = a.size <= FULL_LIMIT
        cost = a.size if small else min(HEAT_SIDE * HEAT_SIDE, a.size)
        bad = nonfinite(a) if kind == "f" else None
        if bad:
            out["bad"] = bad
        if small and cost <= self.budget:
            # the common case, kept cheap: a 10,000-op graph encodes some 30,000 small arrays
            self.budget -= cost
            flat = a.ravel()
            out["v"] = ([_num(v) for v in flat.tolist()] if bad else
                        flat.astype(np.int64 if kind == "b" else flat.dtype).tolist())
            return out
        x = a.astype(np.float64)
        with np.errstate(all="ignore"):
            finite = x[np.isfinite(x)] if bad else x.ravel()
            if finite.size:
                out["st"] = [_num(finite.min()), _num(finite.mean()), _num(finite.max())]
        if cost > self.budget:
            self.dropped += 1
            out["dropped"] = True
            return out
        self.budget -= cost
        out["hm"] = _heat(x, finite)
        return out


@cache
def _dtype_name(dtype: np.dtype) -> str:
    return str(dtype)


def _num(v: Any) -> float | str:
    """A JSON number, or "nan" / "inf" / "-inf" (strict JSON has no such numbers)."""
    v = float(v)
    if np.isfinite(v):
        return v
    return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")


def _heat(x: np.ndarray, finite: np.ndarray) -> dict[str, Any]:
    """A 2-D picture of `x` (last axis across, the rest down), block-averaged to at most
    HEAT_SIDE a side, as bytes 0..254 over [min, max] and 255 where a block holds nan/inf."""
    m = x.reshape(-1, x.shape[-1]) if x.ndim >= 2 else x.reshape(1, -1)
    with np.errstate(all="ignore"):
        for axis in (0, 1):
            n = m.shape[axis]
            if n > HEAT_SIDE:
                starts = (np.arange(HEAT_SIDE) * n) // HEAT_SIDE
                counts = np.diff(np.append(starts, n))
                shape = [1, 1]
                shape[axis] = HEAT_SIDE
                m = np.add.reduceat(m, starts, axis=axis) / counts.reshape(shape)
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        scaled = (m - lo) / (hi - lo) * 254 if hi > lo else np.full(m.shape, 127.0)
        img = np.where(np.isfinite(m), np.clip(np.rint(scaled), 0, 254), 255).astype(np.uint8)
    return {"r": img.shape[0], "c": img.shape[1], "lo": _num(lo), "hi": _num(hi),
            "d": base64.b64encode(img.tobytes()).decode("ascii")}


@cache
def _formula(cls: type) -> tuple[str, str]:
    """(definition, derivative rule) from the op's docstring: its first paragraph, split where
    the first "d/d" starts."""
    doc = cls.__dict__.get("__doc__") or ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    if not para:
        return cls.__name__, "(no docstring: no rule to show)"
    m = re.search(r"\bd/d\w", para)
    if m is None:
        return para, ""
    return para[: m.start()].rstrip(" .;,"), para[m.start():]


def _articles() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("explore_assets/articles.json")
    return json.loads(text.read_text(encoding="utf-8"))


class _Payload:
    """The page's data: nodes, edges, module groups and backward steps, with ids that follow
    the graph's deterministic numbering ("o<order>" ops, "l<k>" leaves, "c<k>" constants)."""

    def __init__(self, graph: Graph, record: BackwardRecord | None, enc: _Encoder) -> None:
        self.g, self.r, self.enc = graph, record, enc
        self.nodes: list[dict[str, Any]] = []
        self.index: dict[Any, int] = {}
        self.edges: list[list[Any]] = []
        self.edge_set: set[tuple[int, int]] = set()
        self.groups: list[dict[str, Any]] = []
        self.group_of: dict[tuple[int, ...], int] = {}
        # NodeView.inputs builds new views on each call: read every node's once
        self.inputs = {n: n.inputs for n in graph.ops}
        self.roots = {NodeView.of(t) for t in graph.outputs}

    def build(self) -> dict[str, Any]:
        g = self.g
        self.leaf_of = {id(t): t for t in g.leaves}
        for k, t in enumerate(g.leaves):
            self.index[("leaf", id(t))] = self._leaf(t, f"l{k}")
        hidden_ids: dict[int, int] = {}
        for n in g.ops:
            if n in g.hidden:
                gi = g.hidden[n]
                if gi not in hidden_ids:
                    count = len(g.hidden_groups[gi])
                    hidden_ids[gi] = self._add({"id": f"h{gi}", "kind": "hidden",
                                                "label": f"… {count:,} ops hidden",
                                                "shape": None, "group": -1})
                self.index[n] = hidden_ids[gi]
            else:
                self.index[n] = self._op(n)
        for n in g.ops:
            self._inputs(n)
        steps = self._steps() if self.r is not None else []
        _Articles(self).attach(steps)
        return {"nodes": self.nodes, "edges": self.edges, "groups": self.groups,
                "steps": steps, "seeds": [self.enc(s) for s in self.r.seeds] if self.r else []}

    def _add(self, node: dict[str, Any]) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def _leaf(self, t: Tensor, nid: str) -> int:
        kind = "param" if is_parameter(t) else ("leaf" if t.requires_grad else "const")
        grad = t.grad if t.requires_grad else None
        total = self.r.leaf_total.get(id(t)) if self.r is not None else None
        node = {"id": nid, "kind": kind, "label": self.g.leaf_name(t) or f"leaf {nid[1:]}",
                "shape": list(t.shape), "dt": str(t.dtype), "value": self.enc(t.data),
                "group": self._leaf_group(t) if kind == "param" else -1,
                "grad": self.enc(grad if grad is not None else total),
                "gradFrom": ".grad" if grad is not None else ("replay" if total is not None
                                                              else None)}
        if any(t is o for o in self.g.outputs):
            node["output"] = True
        return self._add(node)

    def _leaf_group(self, t: Tensor) -> int:
        scopes = [u.scope for u in self.g.consumers_of_leaf(t)]
        if not scopes:
            return -1
        common = scopes[0]
        for s in scopes[1:]:
            k = 0
            while k < min(len(common), len(s)) and common[k] is s[k]:
                k += 1
            common = common[:k]
        return self._group(common)

    def _group(self, scope: tuple[Any, ...]) -> int:
        if not scope:
            return -1
        key = tuple(id(m) for m in scope)
        if key not in self.group_of:
            parent = self._group(scope[:-1])
            self.group_of[key] = len(self.groups)
            self.groups.append({"label": owner_label(scope[-1]), "parent": parent})
        return self.group_of[key]

    def _op(self, n: NodeView) -> int:
        g = self.g
        definition, derivative = _formula(type(n.function))
        known = g.known.get(n)
        value = known.data if known is not None else g.values.get(n)
        retained = n.retained
        grad = retained.grad if retained is not None and retained.grad is not None else None
        incoming = self.r.incoming.get(n) if self.r is not None else None
        node = {"id": f"o{g.order[n]}", "kind": "op", "label": n.name,
                "name": g.op_name(n), "args": op_args(n), "def": definition,
                "rule": derivative, "shape": list(n.shape), "dt": str(n.dtype),
                "group": self._group(n.scope), "value": self.enc(value),
                "grad": self.enc(grad if grad is not None else incoming),
                "gradFrom": ".grad" if grad is not None else ("replay" if incoming is not None
                                                              else None), "inputs": []}
        if n in self.roots:
            node["output"] = True
        return self._add(node)

    def _inputs(self, n: NodeView) -> None:
        """Each op's input list (name, source node, shape) and the edges into it."""
        me = self.index[n]
        node = self.nodes[me]
        for i, e in enumerate(self.inputs[n]):
            if e is None:
                if is_argument(n, i):
                    continue
                value = self.g.const_values.get((n, i))
                if value is None:
                    src, shape = None, None
                else:
                    src = self._add({"id": f"c{len(self.nodes)}", "kind": "const",
                                     "label": self.g.const_names.get((n, i)) or "constant",
                                     "shape": list(np.shape(value)), "group": -1,
                                     "dt": str(np.asarray(value).dtype),
                                     "value": self.enc(value), "grad": None})
                    shape = list(np.shape(value))
            elif isinstance(e, Tensor):
                src, shape = self.index[("leaf", id(e))], list(e.shape)
            else:
                src, shape = self.index[e], list(e.shape)
            if src is not None and src != me and (src, me) not in self.edge_set:
                self.edge_set.add((src, me))
                self.edges.append([src, me])
            if node["kind"] == "op":
                node["inputs"].append({"name": input_name(n, i), "src": src, "shape": shape})

    def _edge_parts(self) -> dict[Any, list[tuple[NodeView, int]]]:
        """For each op, the (consumer, input index) edges whose gradients sum into it."""
        parts: dict[Any, list[tuple[NodeView, int]]] = {}
        for key in self.r.outgoing:
            c, i = key
            e = self.inputs[c][i]
            if e is not None and not isinstance(e, Tensor):
                parts.setdefault(e, []).append(key)
        return parts

    def _steps(self) -> list[dict[str, Any]]:
        """One step per op in the engine's order, then one per leaf that got a gradient (in the
        order the engine reached them).

        An array the page already holds is not embedded twice: a step's incoming gradient is
        its node's gradient when that came from the replay, and a gradient sent to a node
        that gets nothing else is that node's incoming gradient ("same"), and a part of a sum
        is the gradient its consumer's step sent ("at": [step, out])."""
        r, g = self.r, self.g
        parts_of = self._edge_parts()
        steps: list[dict[str, Any]] = []
        self.at: dict[tuple[NodeView, int], list[int]] = {}
        for n, grad_in in r.incoming.items():
            if n in g.hidden:
                continue
            me = self.index[n]
            parts = parts_of.get(n, [])
            step = {"node": me, "parts": [self._part(p) for p in parts] if len(parts) > 1 else [],
                    "out": []}
            if self.nodes[me].get("gradFrom") != "replay":
                step["in"] = self.enc(grad_in)
            for i, e in enumerate(self.inputs[n]):
                if e is None and is_argument(n, i):
                    continue
                out: dict[str, Any] = {"input": input_name(n, i),
                                       "to": None if e is None else self._to(e)}
                if e is None:
                    out["note"] = "constant: no gradient"
                elif (n, i) in r.outgoing:
                    single = (len(r.leaf_parts.get(id(e), ())) if isinstance(e, Tensor)
                              else len(parts_of.get(e, ()))) == 1
                    if single and self.nodes[out["to"]].get("gradFrom") == "replay":
                        out["same"] = True
                    else:
                        out["g"] = self.enc(r.outgoing[(n, i)])
                        self.at[(n, i)] = [len(steps), len(step["out"])]
                if (n, i) in r.summed_from:
                    out["summed"] = list(r.summed_from[(n, i)])
                step["out"].append(out)
            steps.append(step)
        for key in r.leaf_total:  # in the order the engine first reached each leaf
            if ("leaf", key) not in self.index:
                continue
            t = self.leaf_of[key]
            me = self.index[("leaf", key)]
            parts = r.leaf_parts.get(id(t), [])
            step = {"node": me, "leaf": True, "out": [],
                    "parts": [self._part(p) for p in parts] if len(parts) > 1 else []}
            if self.nodes[me].get("gradFrom") != "replay":
                step["in"] = self.enc(r.leaf_total[id(t)])
            steps.append(step)
        return steps

    def _to(self, e: Any) -> int:
        return self.index[("leaf", id(e))] if isinstance(e, Tensor) else self.index[e]

    def _part(self, p: tuple[NodeView, int] | None) -> dict[str, Any]:
        if p is None:
            return {"from": None, "input": "seed", "g": None}
        part: dict[str, Any] = {"from": self.index[p[0]], "input": input_name(*p)}
        if p in self.at:
            part["at"] = self.at[p]
        else:
            part["g"] = self.enc(self.r.outgoing[p])
        return part


class _Articles:
    """Marks the seed articles' networks (hidden Linear -> Sigmoid -> output Linear [->
    Sigmoid] -> summed loss, where a Linear and the Sigmoid after it may be one fused
    LinearSigmoid node) and attaches each role's line of the hand-derived backprop."""

    _FAMILY: ClassVar[dict[str, str]] = {
        "SquaredError": "xor", "BinaryCrossEntropy": "binary", "SoftmaxCrossEntropy": "softmax"}

    def __init__(self, payload: _Payload) -> None:
        self.p = payload

    def _chain(self) -> tuple[str, list[tuple[str, NodeView]]] | None:
        roots = [NodeView.of(t) for t in self.p.g.outputs]
        if len(roots) != 1 or roots[0] is None or roots[0].kwargs.get("reduction") != "sum":
            return None
        loss = roots[0]
        family = self._FAMILY.get(loss.name)
        if family is None:
            return None
        want = ["out_lin", "hid_act", "hid_lin"]
        if family != "softmax":  # the cross-entropy op takes the logits
            want.insert(0, "out_act")
        found = [("loss", loss)]
        node = loss.inputs[0]
        while want:
            if not isinstance(node, NodeView):
                return None
            act, lin = want[0].endswith("_act"), want[-1].endswith("_lin")
            if node.name == "Sigmoid" and act:
                found.append((want.pop(0), node))
            elif node.name == "Linear" and not act:
                found.append((want.pop(0), node))
            elif node.name == "LinearSigmoid" and act and lin and len(want) > 1:
                found += [(want.pop(0), node), (want.pop(0), node)]
            else:
                return None
            node = node.inputs[0]
        has_bias = len(dict(found)["out_lin"].inputs) > 2
        if (family == "xor") == has_bias:  # the first article has no biases, the second has
            return None
        return family, found

    def attach(self, steps: list[dict[str, Any]]) -> None:
        found = self._chain()
        if found is None:
            return
        family, roles = found
        lines = _articles()[family]
        by_node: dict[int, list[str]] = {}
        for role, n in roles:
            by_node.setdefault(self.p.index[n], []).extend(lines.get(role, []))
        for s in steps:
            text = by_node.get(s["node"])
            if text:
                s["article"] = {"source": lines["source"], "lines": text}


def _lay_out(data: dict[str, Any], mode: str) -> str:
    """Give every node x, y, w, h (pixels, y down): by dot when asked, or in "auto" when it is
    installed, the graph has at most DOT_LIMIT nodes and dot finishes within DOT_SECONDS;
    else by the layered layout. Returns the method used, and why dot was not, if it was not."""
    nodes, edges = data["nodes"], data["edges"]
    for nd in nodes:
        text = max(len(nd["label"]), len(_sub(nd)))
        nd["w"] = min(320, max(70, 7 * text + 20))  # the page shortens longer labels
        nd["h"] = 40
    have_dot = shutil.which("dot") is not None
    if mode == "dot" and not have_dot:
        raise RuntimeError("explore: layout='dot' needs Graphviz's `dot` on PATH")
    if mode == "dot" or (mode == "auto" and have_dot and len(nodes) <= DOT_LIMIT):
        seconds = DOT_SECONDS if mode == "auto" else 600.0
        try:
            _dot_layout(nodes, edges, data["groups"], seconds)
            return "dot"
        except subprocess.TimeoutExpired:
            if mode == "dot":
                raise RuntimeError(f"explore: Graphviz's dot did not lay out {len(nodes):,} "
                                   f"nodes within {seconds:.0f} s; use layout='python'") from None
            _layered_layout(nodes, edges)
            return f"python (dot took over {seconds:.0f} s)"
        except (OSError, subprocess.CalledProcessError, ValueError):
            if mode == "dot":
                raise
    _layered_layout(nodes, edges)
    return "python"


def _sub(nd: dict[str, Any]) -> str:
    return "" if nd.get("shape") is None else fmt_shape(tuple(nd["shape"]))


def _dot_layout(nodes: list[dict[str, Any]], edges: list[list[Any]],
                groups: list[dict[str, Any]], seconds: float) -> None:
    lines = ["digraph G {", "rankdir=TB; nodesep=0.25; ranksep=0.45;",
             'node [shape=box, fixedsize=true, label=""];']
    if len(nodes) > 300:  # fewer network-simplex and crossing passes: minutes become seconds
        lines.append("nslimit=4; nslimit1=4; mclimit=0.5;")
    children: dict[int, list[int]] = {}
    members: dict[int, list[int]] = {}
    for k, nd in enumerate(nodes):
        members.setdefault(nd["group"], []).append(k)
    for gi, grp in enumerate(groups):
        children.setdefault(grp["parent"], []).append(gi)

    def emit(gi: int) -> None:
        if gi >= 0:
            lines.append(f"subgraph cluster_{gi} {{ margin=14;")
        for k in members.get(gi, []):
            lines.append(f'n{k} [width={nodes[k]["w"] / 72:.3f}, height={nodes[k]["h"] / 72:.3f}];')
        for child in children.get(gi, []):
            emit(child)
        if gi >= 0:
            lines.append("}")

    emit(-1)
    lines += [f"n{a} -> n{b};" for a, b in edges]
    lines.append("}")
    run = subprocess.run(["dot", "-Tplain"], input="\n".join(lines), capture_output=True,
                         text=True, timeout=seconds, check=True)
    height = None
    seen = 0
    for line in run.stdout.splitlines():
        f = line.split()
        if f and f[0] == "graph":
            height = float(f[3])
        elif f and f[0] == "node" and height is not None:
            nd = nodes[int(f[1][1:])]
            nd["x"] = round(float(f[2]) * 72, 1)
            nd["y"] = round((height - float(f[3])) * 72, 1)
            seen += 1
    if seen != len(nodes):
        raise ValueError(f"explore: dot placed {seen} of {len(nodes)} nodes")


def _layered_layout(nodes: list[dict[str, Any]], edges: list[list[Any]]) -> None:
    """Longest-path layers (outputs at the bottom, each node one layer above its highest
    consumer), then two barycenter sweeps to order each layer; linear in nodes and edges."""
    n = len(nodes)
    consumers: list[list[int]] = [[] for _ in range(n)]
    producers: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        consumers[a].append(b)
        producers[b].append(a)
    # edges run producer -> consumer, and nodes were numbered leaves first, then ops from the
    # outputs down: walking ops in that order visits every consumer before its producers
    depth = [0] * n
    order = sorted(range(n), key=lambda k: (nodes[k]["kind"] in ("param", "leaf", "const"), k))
    for k in order:
        for p in producers[k]:
            depth[p] = max(depth[p], depth[k] + 1)
    top = max(depth, default=0)
    layers: list[list[int]] = [[] for _ in range(top + 1)]
    for k in order:
        layers[top - depth[k]].append(k)
    pos = [0.0] * n
    for layer in layers:
        for i, k in enumerate(layer):
            pos[k] = float(i)
    for sweep in (range(top, -1, -1), range(top + 1)):
        for li in sweep:
            layer = layers[li]
            for k in layer:
                near = consumers[k] + producers[k]
                if near:
                    pos[k] = sum(pos[j] for j in near) / len(near)
            layer.sort(key=lambda k: pos[k])
            for i, k in enumerate(layer):
                pos[k] = float(i)
    widest = max((sum(nodes[k]["w"] + 24 for k in layer) for layer in layers), default=0)
    for li, layer in enumerate(layers):
        x = (widest - sum(nodes[k]["w"] + 24 for k in layer)) / 2 + 12
        for k in layer:
            nodes[k]["x"] = round(x + nodes[k]["w"] / 2, 1)
            nodes[k]["y"] = 30 + li * 70
            x += nodes[k]["w"] + 24


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(f"explore_assets/{name}").read_text("utf-8")


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: strict (no NaN), and no "<", ">" or "&" left, so no
    string can close the block or open a comment (JSON.parse reads the escapes back)."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _page(data: dict[str, Any], title: str) -> str:
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # or a browser may ask a server for /favicon.ico
        f"<title>{html.escape(title)}</title>",
        f"<style>\n{_asset('explore.css')}\n</style>",
        "</head><body>",
        f'<script type="application/json" id="mt-data">{_script_json(data)}</script>',
        f"<script>\n{_asset('explore.js')}\n</script>",
        "</body></html>",
    ])
