"""The engine: reuse, accumulation, graph freeing, retain_graph, deep graphs, mt.grad,
create_graph (Hessian-vector products), retain_grad, hooks, detach."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import oracles
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt


def leaf(values, dtype=np.float64) -> mt.Tensor:
    return mt.Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------------- reuse, accumulation
def test_reuse_of_a_tensor_adds_its_gradients() -> None:
    a = leaf(1.5)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


@given(S.arrays((3,)))
def test_diamond_graph_gradient(x) -> None:
    a = mt.Tensor(x, requires_grad=True)
    b = a * 2
    c = a.exp()
    (b * c).sum().backward()
    np.testing.assert_allclose(a.grad.data, 2 * np.exp(x) + 2 * x * np.exp(x), rtol=1e-12)


def test_gradients_accumulate_across_backward_calls() -> None:
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    np.testing.assert_array_equal(first.data, [2.0, 4.0]), "the earlier grad Tensor is not mutated"


def test_backward_on_a_leaf_gives_ones() -> None:
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_backward_with_explicit_gradient() -> None:
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, -6.0])


def test_backward_of_untracked_tensor_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        mt.tensor([1.0]).sum().backward()


# ------------------------------------------------------------------------- graph freeing
def test_second_backward_without_retain_graph_raises() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_backward_through_freed_shared_subgraph_raises() -> None:
    x = leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="freed"):
        (h * 2).sum().backward()


def test_retain_graph_allows_second_backward() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_backward_frees_saved_arrays() -> None:
    x = leaf(np.ones(3))
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert not node.saved


# ------------------------------------------------------------------------- deep graphs
@pytest.mark.slow
def test_hundred_thousand_deep_chain_backward() -> None:
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a 200,000-node graph must not recurse either
    gc.collect()


@pytest.mark.slow
def test_hundred_thousand_deep_chain_grad() -> None:
    x = leaf(2.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    (g,) = mt.grad(y, x)
    assert g.item() == 1.0


@pytest.mark.slow
def test_deep_chain_create_graph_second_derivative() -> None:
    x = leaf(0.5)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    z = y * y * y
    (g,) = mt.grad(z, x, create_graph=True)
    (h,) = mt.grad(g, x)
    assert g.item() == pytest.approx(3 * 0.25)
    assert h.item() == pytest.approx(6 * 0.5)


def test_graph_is_released_when_output_dies() -> None:
    x = leaf(np.ones(4))
    y = (x * 2).exp().sum()
    node = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert node() is None


# ------------------------------------------------------------------------- mt.grad
def test_grad_leaves_dot_grad_untouched() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    (g,) = mt.grad(y, x)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None


def test_grad_does_not_touch_retained_grad_of_non_leaf() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    mt.grad((h * h).sum(), x)
    assert h.grad is None


def test_grad_allow_unused() -> None:
    x, w = leaf([1.0, 2.0]), leaf([3.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        mt.grad(y, [x, w], retain_graph=True)
    gx, gw = mt.grad(y, [x, w], allow_unused=True)
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])
    assert gw is None


def test_grad_outputs_weights_each_output() -> None:
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = mt.grad(y, x, grad_outputs=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(g.data, [2.0, 40.0])


def test_grad_of_several_outputs_sums() -> None:
    x = leaf([1.0, 2.0])
    y1, y2 = (x * x).sum(), (x * 3).sum()
    (g,) = mt.grad([y1, y2], x)
    np.testing.assert_array_equal(g.data, [5.0, 7.0])


def test_grad_with_respect_to_non_leaf() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    (g,) = mt.grad((h * h).sum(), h)
    np.testing.assert_array_equal(g.data, 2 * h.data)


def test_grad_frees_graph_unless_retained() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    mt.grad(y, x, retain_graph=True)
    mt.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        mt.grad(y, x)


# ------------------------------------------------------------------------- higher order
@given(S.arrays((4,)))
def test_hessian_of_sum_of_cubes(x) -> None:
    t = mt.Tensor(x, requires_grad=True)
    (g,) = mt.grad((t**3).sum(), t, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x**2, rtol=1e-12)
    hessian = np.stack([mt.grad(g[i], t, retain_graph=True)[0].data for i in range(4)])
    np.testing.assert_allclose(hessian, oracles.cube_sum_hessian(x), rtol=1e-12, atol=1e-12)


@given(data=st.data())
def test_hessian_vector_product_of_quadratic_form(data) -> None:
    n = data.draw(st.integers(1, 5))
    a = data.draw(S.arrays((n, n)))
    x = data.draw(S.arrays((n,)))
    v = data.draw(S.arrays((n,)))
    t = mt.Tensor(x, requires_grad=True)
    f = t @ (mt.Tensor(a) @ t)
    (g,) = mt.grad(f, t, create_graph=True)
    np.testing.assert_allclose(g.data, oracles.quadratic_form_grad(a, x), rtol=1e-10, atol=1e-12)
    (hv,) = mt.grad((g * mt.Tensor(v)).sum(), t)
    np.testing.assert_allclose(hv.data, oracles.quadratic_form_hessian(a) @ v,
                               rtol=1e-10, atol=1e-12)


def test_backward_create_graph_then_differentiate_grad() -> None:
    x = leaf([1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 12.0])


def test_third_derivative() -> None:
    x = leaf(1.5)
    (g1,) = mt.grad(x**4, x, create_graph=True)
    (g2,) = mt.grad(g1, x, create_graph=True)
    (g3,) = mt.grad(g2, x)
    assert g3.item() == pytest.approx(24 * 1.5)


def test_first_order_gradients_carry_no_graph() -> None:
    x = leaf([1.0, 2.0])
    (x.exp() * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    (g,) = mt.grad((x * x).sum(), x)
    assert g.grad_fn is None


# ------------------------------------------------------------------------- retain_grad, hooks
def test_retain_grad_keeps_non_leaf_grad() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = h * h
    y.sum().backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)
    assert y.grad is None, "non-leaves without retain_grad keep no grad"


def test_retained_grad_accumulates_like_a_leaf() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = h.sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(h.grad.data, [2.0, 2.0])


def test_hook_is_called_and_can_replace_gradient() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []

    def hook(g: mt.Tensor) -> mt.Tensor:
        seen.append(g.data.copy())
        return g * 2

    handle = h.register_hook(hook)
    h.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    handle.remove()
    handle.remove()
    x.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert len(seen) == 1


def test_hook_returning_none_observes_only() -> None:
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.shape))
    (x * 2).sum().backward()
    assert seen == [(2,)]
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_leaf_hook_replaces_accumulated_gradient() -> None:
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 0)
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_hook_with_wrong_shape_raises() -> None:
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: mt.zeros(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        (x * 5).sum().backward()
    assert x.grad is None


def test_hooks_need_requires_grad() -> None:
    with pytest.raises(RuntimeError):
        mt.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(RuntimeError):
        mt.tensor([1.0]).retain_grad()


# ------------------------------------------------------------------------- detach
def test_detach_cuts_the_graph_and_shares_data() -> None:
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, d.data)
    assert np.shares_memory(x.detach().data, x.data)


# ------------------------------------------------------------------------- atomic errors
def test_failed_backward_leaves_grads_unchanged() -> None:
    class Broken(mt.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return np.ones(7)

    for broken_first in (True, False):  # whichever branch the walk reaches first
        a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
        a.grad = mt.tensor([10.0, 10.0])
        good, bad = (a * a).sum(), Broken.apply(b).sum()
        y = bad + good if broken_first else good + bad
        with pytest.raises(RuntimeError, match=r"Broken\.backward .*shape \(7,\).*shape \(2,\)"):
            y.backward()
        np.testing.assert_array_equal(a.grad.data, [10.0, 10.0])
        assert b.grad is None


def test_leaf_hook_applies_in_grad_too() -> None:
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (g,) = mt.grad((x * x).sum(), [x])
    np.testing.assert_array_equal(g.data, [20.0, 40.0])
    (g1, g2) = mt.grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(g2.data, [20.0, 40.0]), "a repeated input is hooked once"


def test_hook_under_create_graph_stays_differentiable() -> None:
    x = leaf([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: g * 2)
    (g,) = mt.grad(h.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [4.0, 8.0])
    (gg,) = mt.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.data, [4.0, 4.0])
