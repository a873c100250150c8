"""mt.viz.explain: the chain rule printed node by node, checked against hand-derived gradients,
and the promise that explaining changes nothing (no .grad, no freed graph, no hooks)."""

import io

import numpy as np
import pytest

import microtensor as mt


def three_ops():
    """out = (x * y + x) ** 2 at x = 2, y = 3: z = 6, w = 8, out = 64.

    By hand: d out/dw = 2w = 16; Add passes 16 to z and to x; Mul sends 16 * y = 48 to x and
    16 * x = 32 to y; so d out/dx = 16 + 48 = 64 = 2(xy + x)(y + 1), d out/dy = 32 = 2(xy + x)x.
    """
    x = mt.Tensor(2.0, requires_grad=True, name="x")
    y = mt.Tensor(3.0, requires_grad=True, name="y")
    z = x * y
    w = z + x
    out = w**2
    return x, y, z, w, out


def test_explain_three_ops_matches_hand_computed_gradients():
    x, y, z, w, out = three_ops()
    text = mt.viz.explain(out, names={w: "w"}, file=io.StringIO())
    expected = [
        "explain(out): backward pass through 3 ops to 2 leaves",
        "seed: ∂out/∂out = () 1",
        "",
        "[1] Pow (exponent=2) -> ()",
        "    rule:     x ** y.   d/dx = y * x ** (y - 1),  d/dy = out * log(x)",
        "    grad in:  () 1",
        "    d/dx -> [2] Add 'w': () 16",
        "    d/dy: constant 2 (no gradient)",
        "",
        "[2] Add 'w' -> ()",
        "    rule:     x + y.   d/dx = 1,  d/dy = 1",
        "    grad in:  () 16",
        "    d/dx -> [3] Mul: () 16",
        "    d/dy -> x: () 16",
        "",
        "[3] Mul -> ()",
        "    rule:     x * y.   d/dx = y,  d/dy = x",
        "    grad in:  () 16",
        "    d/dx -> x: () 48",
        "    d/dy -> y: () 32",
        "",
        "leaf gradients (what backward() adds to .grad):",
        "    x: () 64  (sum over [2] Add 'w', [3] Mul)",
        "    y: () 32",
    ]
    assert text.splitlines() == expected
    out.backward()
    assert x.grad.item() == 64 and y.grad.item() == 32


def test_explain_prints_and_returns_the_same_text(capsys):
    *_, out = three_ops()
    text = mt.viz.explain(out)
    assert capsys.readouterr().out == text


def test_explain_leaves_grads_graph_and_hooks_untouched():
    x, y, z, w, out = three_ops()
    w.retain_grad()
    calls = []
    x.register_hook(calls.append)
    mt.viz.explain(out, file=io.StringIO())
    mt.viz.explain(out, file=io.StringIO())
    assert x.grad is None and y.grad is None and w.grad is None
    assert calls == []
    out.backward()  # the graph was not freed by explaining it
    assert x.grad.item() == 64 and w.grad.item() == 16 and len(calls) == 1


def test_explain_after_backward_retain_graph_and_freed_graph_error():
    *_, out = three_ops()
    out.backward(retain_graph=True)
    assert "() 64" in mt.viz.explain(out, file=io.StringIO())
    out.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        mt.viz.explain(out, file=io.StringIO())


def test_explain_marks_undone_broadcasting():
    x = mt.Tensor(np.ones((4, 3)), name="x")
    b = mt.Tensor(np.zeros(3), requires_grad=True, name="b")
    text = mt.viz.explain((x + b).sum(), file=io.StringIO())
    assert "d/dy -> b: (3,) [4, 4, 4]  (summed from (4, 3): broadcasting)" in text
    assert "    b: (3,) [4, 4, 4]" in text


def test_explain_nonscalar_output_needs_a_gradient():
    x = mt.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x * x
    with pytest.raises(RuntimeError, match="gradient="):
        mt.viz.explain(y, file=io.StringIO())
    text = mt.viz.explain(y, gradient=np.array([1.0, 10.0]), file=io.StringIO())
    assert "    x: (2,) [2, 40]" in text


def test_explain_rejects_untracked_outputs():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.viz.explain(mt.tensor([1.0]), file=io.StringIO())
    with pytest.raises(TypeError):
        mt.viz.explain(np.ones(2), file=io.StringIO())


def test_explain_seed1_leaf_gradients_equal_backward():
    X = mt.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = mt.tensor([[0], [1], [1], [0]])
    w1 = mt.Tensor(np.linspace(0.1, 0.9, 12).reshape(3, 4), requires_grad=True, name="w1")
    w2 = mt.Tensor(np.linspace(-0.5, 0.5, 4).reshape(4, 1), requires_grad=True, name="w2")
    layer1 = (X @ w1).sigmoid()
    output = (layer1 @ w2).sigmoid()
    loss = ((y - output) ** 2).sum()
    text = mt.viz.explain(loss, names=locals(), file=io.StringIO())
    lines = text.splitlines()
    assert lines[0] == "explain(loss): backward pass through 7 ops to 2 leaves"
    assert [line.split(" ->")[0] for line in lines if line.startswith("[")] == [
        "[1] Sum 'loss'",
        "[2] Pow (exponent=2)",
        "[3] Sub",
        "[4] Sigmoid 'output'",
        "[5] MatMul",
        "[6] Sigmoid 'layer1'",
        "[7] MatMul",
    ]
    # the hand-derived backprop of the first seed (with the sign of a gradient, not of d)
    delta2 = -2 * (y.numpy() - output.numpy()) * output.numpy() * (1 - output.numpy())
    grad_w2 = layer1.numpy().T @ delta2
    grad_w1 = X.numpy().T @ ((delta2 @ w2.numpy().T) * layer1.numpy() * (1 - layer1.numpy()))
    fmt = mt.viz._format.summarize
    assert f"    w2: (4, 1) {fmt(grad_w2, 12)}" in lines
    assert f"    w1: (3, 4) {fmt(grad_w1, 12)}" in lines
    loss.backward()
    np.testing.assert_allclose(w1.grad.numpy(), grad_w1, rtol=1e-12)
