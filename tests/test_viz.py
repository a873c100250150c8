"""mt.viz.draw and draw_backward: DOT text checked structurally (nodes, edges, labels, names,
clusters, colours), determinism, and a 100,000-op chain behind max_nodes."""

import io
import re

import numpy as np
import pytest

import microtensor as mt

pytest.importorskip("graphviz")

NAN_FILL = 'fillcolor="#fee2e2"'
NODE = re.compile(r"^\s*(\w+) \[label=(.*)$", re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


def nodes(g) -> dict[str, str]:
    """node id -> the rest of its line (label and attributes), without the legend."""
    return {k: v for k, v in NODE.findall(g.source) if k != "legend"}


def edges(g) -> list[tuple[str, str]]:
    return [(a, b) for a, b, _ in EDGE.findall(g.source)]


def small():
    x = mt.Tensor([1.0, 2.0], requires_grad=True, name="x")
    w = mt.Tensor([0.5, -0.5], requires_grad=True, name="w")
    return x, w, (x * w).sigmoid().sum()


class Parameter(mt.Tensor):
    """Stands in for nn.Parameter: viz recognises parameters by class name."""

    __slots__ = ()


class Block:
    """Stands in for an nn.Module: a dotted name that viz shows on the cluster."""

    def __init__(self, full_name: str) -> None:
        self.full_name = full_name


def test_draw_small_graph_nodes_edges_and_labels():
    x, w, y = small()
    g = mt.viz.draw(y)
    ns = nodes(g)
    assert sorted(ns) == ["leaf1", "leaf2", "op1", "op2", "op3", "t1", "t2", "t3"]
    assert sorted(edges(g)) == sorted(
        [
            ("leaf1", "op3"),
            ("leaf2", "op3"),
            ("op3", "t3"),
            ("t3", "op2"),
            ("op2", "t2"),
            ("t2", "op1"),
            ("op1", "t1"),
        ]
    )
    assert "<B>Mul</B>" in ns["op3"] and "<B>Sigmoid</B>" in ns["op2"]
    assert "<B>Sum</B>" in ns["op1"]
    assert "<B>x</B>" in ns["leaf1"] and "(2,) float64" in ns["leaf1"]
    assert "<B>w</B>" in ns["leaf2"]
    assert "output" in ns["t1"] and "() float64" in ns["t1"] and "penwidth=2" in ns["t1"]
    assert "legend" in g.source


def test_draw_colours_each_kind_and_the_legend_lists_them():
    p = Parameter(np.ones((2, 2)), requires_grad=True, name="fc.weight")
    x = mt.Tensor(np.ones(2), requires_grad=True, name="x")
    y = (x @ p + 1.0).sum()
    ns = nodes(mt.viz.draw(y))
    assert 'fillcolor="#dbeafe"' in ns["leaf2"] and "fc.weight" in ns["leaf2"]  # parameter
    assert 'fillcolor="#dcfce7"' in ns["leaf1"]  # input leaf
    assert 'fillcolor="#fef3c7"' in ns["t1"] and "penwidth=2" in ns["t1"]  # output
    assert all('fillcolor="#ede9fe"' in ns[k] for k in ns if k.startswith("op"))
    const = [k for k in ns if k.startswith("c")]
    assert len(const) == 1 and "dashed" in ns[const[0]]
    legend = mt.viz.draw(y).source.split("legend [label=")[1]
    for text in ("parameter", "leaf that requires grad", "constant", "output", "op"):
        assert text in legend
    assert "holds nan" not in legend


def test_draw_names_from_dicts_locals_retain_grad_and_constants():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    data = mt.tensor([3.0, 4.0])
    hidden = (x * data).tanh()
    hidden.name = "ignored unless kept"
    out = hidden.sum()
    ns = nodes(mt.viz.draw(out, names=locals()))
    assert "<B>x</B>" in ns["leaf1"]
    assert "<B>hidden</B>" in ns["t2"] and "<B>out</B>" in ns["t1"]
    assert "<B>data</B>" in ns["c3_1"]  # a constant named after the tensor holding its array
    hidden.retain_grad()
    ns = nodes(mt.viz.draw(out, names={x: "input"}))
    assert "<B>input</B>" in ns["leaf1"] and "ignored unless kept" in ns["t2"]


def test_draw_op_arguments():
    x = mt.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x[:, 1:].reshape(4, 1).clip(0, 3) ** 2
    z = y.sum(axis=0, keepdims=True).softmax(axis=1).transpose()
    src = mt.viz.draw(z).source
    for text in (
        "[:, 1:]",
        "shape=(4, 1)",
        "min=0",
        "max=3",
        "exponent=2",
        "axis=0",
        "keepdims",
        "axis=1",
        "<B>Transpose</B>",
    ):
        assert text in src, text
    # Clip's bounds are arguments, not inputs: no constant nodes for them
    assert len([k for k in nodes(mt.viz.draw(x.clip(0, 1).sum())) if k.startswith("c")]) == 0


def test_draw_show_data_and_show_grad():
    x, w, y = small()
    before = nodes(mt.viz.draw(y, show_data=True))
    assert "data [0.6225, 0.2689]" in before["t2"]  # sigmoid's saved output is still known
    y.backward()
    ns = nodes(mt.viz.draw(y, show_data=True, show_grad=True))
    assert "data [1, 2]" in ns["leaf1"]
    assert "data" not in ns["t2"]  # ... until backward() freed it
    s = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    grad_x = s * (1 - s) * w.numpy()
    assert f"grad {mt.viz._format.summarize(grad_x)}" in ns["leaf1"]
    assert "grad [0.1175, -0.09831]" in ns["leaf1"]
    assert "data " in ns["t1"]  # the output itself
    big = mt.Tensor(np.arange(100.0), requires_grad=True, name="big")
    ns = nodes(mt.viz.draw((big * 2).sum(), show_data=True))
    assert "data min 0  mean 49.5  max 99" in ns["leaf1"]
    x, w, y = small()
    h = x * w
    h.retain_grad()
    h.sigmoid().sum().backward()
    kept = nodes(mt.viz.draw(h, show_grad=True))  # retain_grad keeps an intermediate's grad
    assert "grad [0.235, 0.1966]" in kept["t1"]
    plain = nodes(mt.viz.draw(y))
    assert "data" not in plain["leaf1"] and "grad" not in plain["leaf1"]


def test_draw_nan_and_inf_tensors_are_red():
    x = mt.Tensor([1.0, np.nan], requires_grad=True, name="x")
    w = mt.Tensor([1.0, 1000.0], requires_grad=True, name="w")
    with np.errstate(over="ignore"):
        big = w.exp()
    y = (x * big).sum()
    ns = nodes(mt.viz.draw(y))
    assert NAN_FILL in ns["leaf1"] and "1 nan" in ns["leaf1"]
    assert NAN_FILL not in ns["leaf2"]
    exp_out = [k for k, v in ns.items() if k.startswith("t") and "1 inf" in v]
    assert len(exp_out) == 1 and NAN_FILL in ns[exp_out[0]]
    assert NAN_FILL in ns["t1"] and "peripheries=2" in ns["t1"]  # the nan output
    assert "holds nan / inf" in mt.viz.draw(y).source


def test_draw_is_deterministic():
    def build():
        x, w, y = small()
        z = mt.concatenate([y.reshape(1), (x * x).sum().reshape(1)]).max()
        return z

    a = mt.viz.draw(build(), show_data=True).source
    b = mt.viz.draw(build(), show_data=True).source
    assert a == b
    z = build()
    assert mt.viz.draw_backward(z).source == mt.viz.draw_backward(z).source


def test_draw_module_scopes_nest_into_clusters_and_collapse():
    outer, first, second = Block(""), Block("fc1"), Block("fc2")
    outer.full_name = ""  # the outermost module has no dotted name: shown by class name
    w1 = Parameter(np.full((2, 3), 0.1), requires_grad=True, name="fc1.weight")
    w2 = Parameter(np.full((3, 1), 0.1), requires_grad=True, name="fc2.weight")
    x = mt.tensor([[1.0, 2.0]])
    with mt.scope(outer):
        with mt.scope(first):
            h = (x @ w1).sigmoid()
        with mt.scope(second):
            y = h @ w2
    loss = (y * y).sum()
    src = mt.viz.draw(loss).source
    assert src.count("subgraph cluster_") == 3
    # each cluster is labelled with its module and the shape of what it computed last
    assert re.search(r'subgraph cluster_\d+ \{\s+graph \[[^\]]*label="Block  → \(1, 1\)"', src)
    assert 'label="fc1: Block  → (1, 3)"' in src and 'label="fc2: Block  → (1, 1)"' in src
    # fc1's cluster holds its ops and its parameter, and sits inside the outer cluster
    fc1 = src.split('label="fc1: Block  → (1, 3)"')[1].split("}")[0]
    assert "<B>MatMul</B>" in fc1 and "<B>Sigmoid</B>" in fc1 and "fc1.weight" in fc1
    collapsed = mt.viz.draw(loss, collapse=["fc1"])
    ns = nodes(collapsed)
    mod = [k for k in ns if k.startswith("mod")]
    assert len(mod) == 1 and "box3d" in ns[mod[0]] and "2 ops" in ns[mod[0]]
    assert "<B>Sigmoid</B>" not in collapsed.source
    assert ("leaf1", mod[0]) in edges(collapsed) or ("leaf2", mod[0]) in edges(collapsed)
    by_class = nodes(mt.viz.draw(loss, collapse=[Block]))
    assert len([k for k in by_class if k.startswith("mod")]) == 1  # the outermost wins


def test_draw_nn_sequential_parameter_names_and_clusters():
    nn = pytest.importorskip("nn")
    if not hasattr(nn, "Sequential") or not hasattr(nn, "Linear"):
        pytest.skip("nn.Sequential is not available yet")
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    loss = (model(mt.ones(5, 3)) ** 2).sum()
    src = mt.viz.draw(loss).source
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert f"<B>{name}</B>" in src
    assert 'label="Sequential  → ' in src and 'label="0: Linear  → ' in src
    assert 'label="1: Sigmoid  → ' in src
    ns = nodes(mt.viz.draw(loss, collapse=["Linear"]))
    assert len([k for k in ns if k.startswith("mod")]) == 2
    text = mt.viz.explain(loss, file=io.StringIO())
    # nn.Linear records one fused op (nn/_fused.py), named after its forward's inputs
    assert "[5] Linear -> (5, 4)   in Sequential > 0: Linear" in text.splitlines()
    assert "    d/dweight -> 0.weight: (3, 4) " in text


def test_draw_several_outputs():
    x = mt.Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = (x * 3.0).tanh()
    loss = h.sum()
    ns = nodes(mt.viz.draw(loss, h))
    outputs = [k for k, v in ns.items() if "<I>output</I>" in v]
    assert sorted(outputs) == ["t1", "t2"]  # h is drawn once, as an output, and feeds Sum
    assert ("t2", "op1") in edges(mt.viz.draw(loss, h))
    g = mt.viz.draw_backward((x * 2.0).sum(), (x * x).sum())
    assert "∂out1/∂out1" in g.source and "∂out2/∂out2" in g.source
    assert sorted(e for e in edges(g) if e[1] == "leaf1") == [("op3", "leaf1"), ("op4", "leaf1")]


@pytest.mark.slow
def test_draw_long_chain_with_max_nodes_hides_the_middle():
    x = mt.Tensor([1.0], requires_grad=True, name="x")
    t = x
    for _ in range(50_000):
        t = t + 1.0
        t = t * 1.0
    g = mt.viz.draw(t, max_nodes=20)
    assert g.hidden_ops == 99_980
    assert "max_nodes=20: 99,980 of 100,000 ops hidden" in g.source
    ns = nodes(g)
    assert len([k for k in ns if k.startswith("op")]) == 20
    hidden = [k for k in ns if k.startswith("hid")]
    assert len(hidden) == 1 and "99,980 ops hidden" in ns[hidden[0]]
    assert "<B>x</B>" in g.source  # both ends stay: the leaf and the output
    gb = mt.viz.draw_backward(t, max_nodes=20)
    assert gb.hidden_ops == 99_980 and "99,980 ops hidden" in gb.source


def test_draw_without_intermediates_or_constants():
    x, w, y = small()
    ns = nodes(mt.viz.draw(y, intermediates=False))
    assert sorted(ns) == ["leaf1", "leaf2", "op1", "op2", "op3", "t1"]
    assert "→ (2,)" in ns["op3"]
    z = (x * 2.0 + 1.0).sum()
    assert not [k for k in nodes(mt.viz.draw(z, show_constants=False)) if k.startswith("c")]
    assert len([k for k in nodes(mt.viz.draw(z)) if k.startswith("c")]) == 2


def test_draw_outputs_that_are_leaves_and_bad_arguments():
    x = mt.Tensor([1.0], requires_grad=True, name="x")
    ns = nodes(mt.viz.draw(x))
    assert list(ns) == ["leaf1"] and "penwidth=2" in ns["leaf1"]
    with pytest.raises(TypeError, match="expected Tensors"):
        mt.viz.draw(np.ones(2))
    with pytest.raises(ValueError, match="at least one"):
        mt.viz.draw()


def test_draw_backward_structure_saved_values_and_rules():
    x, w, y = small()
    g = mt.viz.draw_backward(y)
    ns = nodes(g)
    assert sorted(ns) == ["leaf1", "leaf2", "op1", "op2", "op3", "seed1"]
    assert sorted(edges(g)) == sorted(
        [
            ("seed1", "op1"),
            ("op1", "op2"),
            ("op2", "op3"),
            ("op3", "leaf1"),
            ("op3", "leaf2"),
        ]
    )
    assert "SigmoidBackward" in ns["op2"] and "d/dx = s * (1 - s), s = out" in ns["op2"]
    assert "saved out: (2,) float64" in ns["op2"]
    assert "saved x: (2,) float64" in ns["op3"] and "saved y: (2,) float64" in ns["op3"]
    assert "saved: nothing" in ns["op1"]
    y.backward()
    freed = mt.viz.draw_backward(y, show_grad=True)
    assert "saved: freed by backward()" in freed.source
    assert "gradients not shown" in freed.source


def test_draw_backward_show_grad_writes_gradients_on_edges():
    x, w, y = small()
    g = mt.viz.draw_backward(y, show_grad=True)
    s = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    ds = s * (1 - s)
    labels = {(a, b): attrs for a, b, attrs in EDGE.findall(g.source)}
    fmt = mt.viz._format.summarize
    assert fmt(ds * w.numpy()) in labels[("op3", "leaf1")]
    assert fmt(ds * x.numpy()) in labels[("op3", "leaf2")]
    assert x.grad is None  # replayed, not run
    b = mt.Tensor(np.zeros(3), requires_grad=True, name="b")
    g = mt.viz.draw_backward((mt.ones(4, 3) + b).sum(), show_grad=True)
    assert "summed from (4, 3)" in g.source


def test_module_clusters_are_labelled_with_their_output_shape() -> None:
    """Each layer's cluster says what it produces: "0: Linear  → (5, 8)"."""
    import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    src = mt.viz.draw(model(mt.tensor(np.ones((5, 4)))).sum()).source
    for label in ("Sequential  → (5, 3)", "0: Linear  → (5, 8)", "1: ReLU  → (5, 8)",
                  "2: Linear  → (5, 3)"):
        assert f'label="{label}"' in src
