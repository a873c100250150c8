"""Where ops live and what nn may touch: every Function subclass in microtensor/ops, nn on the
core's public API only, the fused ops on the primitives' derivative helpers, and the public
module-scope calls that nn.Module uses."""

import re
import threading
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F
from microtensor.grad_mode import current_scope, enter_scope, set_scope
from microtensor.ops import _derivatives, fused, losses

ROOT = Path(__file__).resolve().parents[1]


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_builtin_function_subclass_lives_in_microtensor_ops():
    import microtensor_app  # noqa: F401 - everything above the core, imported
    import nn.estimator  # noqa: F401

    ours = [c for c in _all_subclasses(mt.Function)
            if c.__module__.split(".")[0] in ("microtensor", "nn", "microtensor_app")]
    outside = [f"{c.__module__}.{c.__qualname__}" for c in ours
               if not c.__module__.startswith("microtensor.ops.")]
    assert not outside, outside
    names = {c.__name__ for c in ours}  # pictures label nodes with these names: they stay
    assert {"Linear", "LinearSigmoid", "LinearTanh", "LinearReLU", "SoftmaxCrossEntropy",
            "SquaredError", "BinaryCrossEntropy", "Softplus"} <= names
    for path in (ROOT / "nn").rglob("*.py"):
        assert not re.search(r"^class \w+\((mt\.)?Function\)", path.read_text(), re.M), path


def test_nn_uses_only_the_public_api_of_the_core():
    private = re.compile(
        r"mt\._|microtensor\.[\w.]*\._|from microtensor[\w.]* import (\(\s*)?_|"
        r"grad_mode\._state|\._expit|\bops\.\w+\.[A-Z]\w*\.apply\(|[A-Z]\w*\.apply\("
    )
    hits = []
    for path in sorted((ROOT / "nn").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if private.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_functional_losses_are_the_core_losses():
    for name in ("mse_loss", "l1_loss", "binary_cross_entropy", "cross_entropy", "nll_loss",
                 "binary_cross_entropy_with_logits", "softplus"):
        assert getattr(F, name) is getattr(losses, name)


def test_enter_scope_and_set_scope_nest_and_restore():
    assert current_scope() == ()
    outer = enter_scope("a")
    assert outer == () and current_scope() == ("a",)
    inner = enter_scope("b")
    assert inner == ("a",)
    x = mt.tensor([1.0], requires_grad=True)
    y = x * 2.0
    with mt.scope("c"):
        z = y + 1.0
        assert current_scope() == ("a", "b", "c")
    set_scope(inner)
    assert current_scope() == ("a",)
    set_scope(outer)
    assert current_scope() == ()
    assert y.grad_fn._scope == ("a", "b") and z.grad_fn._scope == ("a", "b", "c")


def test_scope_is_per_thread():
    seen = []
    prev = enter_scope("main")
    try:
        t = threading.Thread(target=lambda: seen.append(current_scope()))
        t.start()
        t.join()
    finally:
        set_scope(prev)
    assert seen == [()]


def test_module_call_restores_the_scope_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            assert current_scope() == (self,)
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Boom()(mt.ones(2))
    assert current_scope() == ()


@pytest.mark.parametrize("shape", [(5, 1), (5, 3), (4, 16), (3, 17), (0, 4)])
def test_softmax_row_max_shift_matches_numpys_max(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape) * 30
    if x.size:
        x[0, 0] = np.nan
        x[-1] = -np.inf
        if shape[1] > 1:
            x[1, 1] = np.inf
    ref = np.max(x, axis=1, keepdims=True, initial=-np.inf)
    np.testing.assert_array_equal(_derivatives.max_keepdims(x, -1), ref)
    np.testing.assert_array_equal(_derivatives.max_keepdims(np.asfortranarray(x), (1,)), ref)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - ref)
        expect = e / e.sum(axis=1, keepdims=True)
        got = mt.softmax(mt.tensor(x), axis=-1).data
    np.testing.assert_array_equal(got, expect)


def test_fused_activations_use_the_primitives_gradients_bit_for_bit():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4))
    x[0, :] = 0.0  # exact zeros of z: ReLU's kink
    w = rng.normal(size=(4, 3))
    b = np.zeros(3)
    for act, prim in (("sigmoid", mt.sigmoid), ("tanh", mt.tanh), ("relu", mt.relu)):
        leaves = [mt.tensor(a, requires_grad=True) for a in (x, w, b)]
        fused.linear(*leaves, activation=act).sum().backward()
        plain = [mt.tensor(a, requires_grad=True) for a in (x, w, b)]
        prim(plain[0] @ plain[1] + plain[2]).sum().backward()
        for a, c in zip(leaves[:2], plain[:2]):  # (the bias sums rows in another order)
            np.testing.assert_array_equal(a.grad.data, c.grad.data, err_msg=act)
        np.testing.assert_allclose(leaves[2].grad.data, plain[2].grad.data, rtol=1e-15)
    assert _derivatives.RELU_SLOPE_AT_ZERO == 0.5
    np.testing.assert_array_equal(_derivatives.relu_slope(np.array([-1.0, 0.0, 2.0, np.nan])),
                                  [0.0, 0.5, 1.0, np.nan])


def test_linear_function_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be None, 'sigmoid', 'tanh' or"):
        fused.linear_function("gelu")
    with pytest.raises(ValueError, match="activation must be None"):
        fused.linear(mt.ones((1, 2)), mt.ones((2, 2)), activation=1)
