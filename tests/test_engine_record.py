"""mt.graph: the read-only view of a node (NodeView) and the watched backward pass
(record_backward) that viz uses instead of private slots and a copy of the engine."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import microtensor as mt
from microtensor.graph import BackwardRecord, NodeView, SavedValue, record_backward


def leaf(values, dtype=np.float64, name=None) -> mt.Tensor:
    return mt.Tensor(np.array(values, dtype=dtype), requires_grad=True, name=name)


# ------------------------------------------------------------------------- record_backward
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_record_backward_leaf_totals_equal_backward(dtype) -> None:
    x = leaf(np.arange(6.0).reshape(2, 3), dtype)
    b = leaf([1.0, 2.0, 3.0], dtype)  # broadcast over the rows: the engine sums it
    y = ((x * b).sigmoid() + b).sum()
    rec = record_backward([y])
    assert isinstance(rec, BackwardRecord)
    y.backward()
    for t in (x, b):
        got = rec.leaf_total[id(t)]
        assert got.dtype == dtype and got.shape == t.shape
        np.testing.assert_array_equal(got, t.grad.data)


def test_record_backward_edges_are_fitted_and_say_where_broadcasting_was_undone() -> None:
    x = leaf(np.ones((2, 3)))
    b = leaf([1.0, 2.0, 3.0])
    y = (x * b).sum()
    rec = record_backward([y])
    mul = NodeView.of(y).inputs[0]
    assert mul.name == "Mul"
    assert rec.outgoing[(mul, 1)].shape == (3,)
    assert rec.summed_from[(mul, 1)] == (2, 3)
    assert (mul, 0) not in rec.summed_from
    np.testing.assert_array_equal(rec.outgoing[(mul, 1)], [2.0, 2.0, 2.0])
    assert rec.leaf_parts[id(b)] == [(mul, 1)]
    np.testing.assert_array_equal(rec.incoming[mul], np.ones((2, 3)))


def test_record_backward_runs_nodes_in_the_engines_order() -> None:
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = (h * h + h.tanh()).sum()
    rec = record_backward([y])
    orders = [n.order for n in rec.incoming]
    assert orders == sorted(orders, reverse=True), "newest node first, as the engine runs"
    assert len(rec.incoming) == 5


def test_record_backward_writes_nothing_calls_no_hooks_keeps_the_graph() -> None:
    x = leaf([1.0, -2.0])
    h = x * 3.0
    h.retain_grad()
    calls = []
    h.register_hook(lambda g: calls.append("node") or g * 100)
    x.register_hook(lambda g: calls.append("leaf") or g * 100)
    y = (h * h).sum()
    rec = record_backward([y])
    np.testing.assert_array_equal(rec.leaf_total[id(x)], [18.0, -36.0])  # no hook applied
    assert calls == [] and x.grad is None and h.grad is None
    assert not any(n.freed for n in rec.incoming)
    y.backward()  # the graph is intact: a real backward still runs, hooks and all
    assert calls == ["node", "leaf"]


class NanGrad(mt.Function):
    """x.   d/dx = nan (a broken backward, for anomaly mode)"""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return np.full_like(grad, np.nan)


def test_record_backward_shows_nan_in_anomaly_mode_instead_of_raising() -> None:
    x = leaf([0.0, 4.0])
    y = NanGrad.apply(x).sum()
    with mt.detect_anomaly():
        rec = record_backward([y])
        with pytest.raises(FloatingPointError, match="detect_anomaly"):
            y.backward(retain_graph=True)
    assert np.isnan(rec.leaf_total[id(x)]).all()


def test_record_backward_seeds_and_errors() -> None:
    x = leaf([1.0, 2.0])
    y = x * 2
    frozen = mt.tensor([1.0])
    rec = record_backward([y, frozen], [np.array([1.0, -1.0]), None])
    assert rec.seeds[1] is None
    np.testing.assert_array_equal(rec.leaf_total[id(x)], [2.0, -2.0])
    with pytest.raises(RuntimeError, match="^viz: a gradient can be implied only"):
        record_backward([y], name="viz")
    with pytest.raises(ValueError, match="^record_backward: gradient shape"):
        record_backward([y], [np.ones(3)])


def test_record_backward_of_a_leaf_output_is_its_seed() -> None:
    x = leaf(2.0)
    rec = record_backward([x])
    assert rec.leaf_total[id(x)].item() == 1.0 and rec.leaf_parts[id(x)] == [None]


# ------------------------------------------------------------------------- NodeView
def test_node_view_reads_an_op() -> None:
    x = leaf(np.ones((2, 3)), name="x")
    s = x.sum(axis=0, keepdims=True)
    y = s * mt.tensor(2.0)
    mul, add_in = NodeView.of(y), NodeView.of(s)
    assert mul.name == "Mul" and mul.shape == (1, 3) and mul.dtype == np.float64
    assert mul.inputs == (add_in, None)  # an op's output, then a constant
    assert add_in.inputs[0] is x
    assert dict(add_in.kwargs) == {"axis": 0, "keepdims": True}
    with pytest.raises(TypeError):
        add_in.kwargs["axis"] = 1  # read-only
    assert add_in.order < mul.order
    assert NodeView.of(x) is None
    assert mul == NodeView(y.grad_fn) and hash(mul) == hash(NodeView(y.grad_fn))
    assert len({mul, NodeView(y.grad_fn), add_in}) == 2
    assert "Mul" in repr(mul)


def test_node_view_saved_values_say_what_they_are() -> None:
    x = leaf([1.0, -2.0])
    w = leaf([3.0, 4.0])
    kinds = {
        "mul": [(v.kind, v.index) for v in NodeView.of(x * w).saved],
        "exp": [(v.kind, v.index) for v in NodeView.of(x.exp()).saved],
        "abs": [(v.kind, v.index) for v in NodeView.of(x.abs()).saved],
    }
    assert kinds == {
        "mul": [("input", 0), ("input", 1)],
        "exp": [("output", None)],
        "abs": [("constant", None)],
    }
    e = x.exp()
    saved = NodeView.of(e).saved[0]
    assert isinstance(saved, SavedValue) and saved.value is e.data


def test_node_view_freed_scope_and_retained() -> None:
    x = leaf([1.0, 2.0])
    h = x * 2.0
    assert NodeView.of(h).retained is None
    h.retain_grad()
    assert NodeView.of(h).retained is h
    with mt.scope("block"):
        y = h.sum()
    view = NodeView.of(y)
    assert view.scope == ("block",) and NodeView.of(h).scope == ()
    assert not view.freed
    y.backward()
    assert view.freed and view.saved == ()


def test_node_view_refuses_what_is_not_a_recorded_op() -> None:
    with pytest.raises(TypeError, match="recorded op"):
        NodeView(mt.tensor([1.0]))


# ------------------------------------------------------------------------- viz stays outside
def test_viz_reads_no_private_name_of_the_core() -> None:
    """viz reaches nodes only through mt.graph: no `obj._name` attribute and no underscored
    import from the core (its own underscored modules are fine)."""
    viz = pathlib.Path(mt.__file__).parent / "viz"
    bad = []
    for path in sorted(viz.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            # dunders and IPython's `_repr_*_` display protocol are public by convention
            # (a viz class's own private members, `self._x`, are its business)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not (
                node.attr.endswith("_")
            ) and not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                bad.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x import y
                bad += [f"{path.name}:{node.lineno} {a.name}" for a in node.names
                        if a.name.startswith("_")]
            if isinstance(node, ast.Constant) and node.value in ("_freed", "_retain", "_scope",
                                                                  "_kwargs", "_saved_src"):
                bad.append(f"{path.name}:{node.lineno} getattr {node.value}")
    assert bad == []


def test_viz_replay_is_the_engines_record() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    graph = mt.viz._graph.build([y])
    assert isinstance(mt.viz._explain.replay(graph), BackwardRecord)
