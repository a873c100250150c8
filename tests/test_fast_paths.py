"""The shortcuts taken for speed (issue 7) give the same answers as the long way round.

Each test names the shortcut it pins down: the engine's newest-first walk, gradients stored
without a copy, the fused losses' cheaper formulas (vdot, column-wise row max, BLAS row and
column sums, flat label indices, one-reduction label checks), the plain-SGD loop and
Sequential's inlined child calls.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microtensor as mt
import nn
import nn.functional as F
from microtensor import Function


# ------------------------------------------------------------------ engine order
class _Boom(Function):
    """Identity forward; a backward that must never run."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        raise AssertionError("this node receives no gradient and must not be visited")


class _OnlyFirst(Function):
    """f(x, y) = x; the gradient for y is None."""

    def forward(self, x, y):
        return x.copy()

    def backward(self, grad):
        return grad, None


def test_a_node_that_receives_no_gradient_is_never_visited():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    dead = _Boom.apply(mt.tensor([3.0, 4.0], requires_grad=True))
    out = _OnlyFirst.apply(x * 2, dead).sum()
    out.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_newest_first_order_handles_a_node_used_long_after_it_was_made():
    # h is made first and consumed by the last op as well as by a long chain: its backward
    # must wait for both gradients (creation order, not position in the chain, decides)
    x = mt.tensor([0.3, -0.7], requires_grad=True)
    h = x.tanh()
    y = h
    for _ in range(20):
        y = y * 1.1 + 0.01
    out = (y * h).sum()
    out.backward()
    hn = np.tanh(x.data)
    yn = hn.copy()
    for _ in range(20):
        yn = yn * 1.1 + 0.01
    grad_h = hn * 1.1 ** 20 + yn
    np.testing.assert_allclose(x.grad.data, grad_h * (1 - hn ** 2), rtol=1e-12)


def test_two_roots_sharing_nodes_in_mt_grad():
    x = mt.tensor([0.5, 1.5], requires_grad=True)
    a = x.sigmoid()
    b = a * x
    c = a.exp()
    gx, = mt.grad([b.sum(), c.sum()], [x])
    s = 1 / (1 + np.exp(-x.data))
    expect = (s * (1 - s)) * x.data + s + np.exp(s) * s * (1 - s)
    np.testing.assert_allclose(gx.data, expect, rtol=1e-12)


# ------------------------------------------------------------------ .grad without copies
def test_pass_through_gradients_are_copied_into_grad():
    a = mt.zeros(3, requires_grad=True)
    b = mt.zeros(3, requires_grad=True)
    seed = np.ones(3)
    (a + b).backward(seed)
    seed[...] = 7.0  # the caller's array changes later
    assert a.grad.data is not b.grad.data
    np.testing.assert_array_equal(a.grad.data, 1.0)
    a.grad.data[...] = 5.0  # and one leaf's gradient is not another's
    np.testing.assert_array_equal(b.grad.data, 1.0)


def test_linear_gradients_are_stored_without_copy_and_accumulate():
    lin = nn.Linear(3, 2)
    x = mt.tensor(np.arange(6.0).reshape(2, 3))
    lin(x).sum().backward()
    first = lin.weight.grad.data.copy()
    np.testing.assert_allclose(first, x.data.T @ np.ones((2, 2)))
    np.testing.assert_allclose(lin.bias.grad.data, [2.0, 2.0])
    lin(x).sum().backward()  # accumulates into a new array
    np.testing.assert_allclose(lin.weight.grad.data, 2 * first)


# ------------------------------------------------------------------ fused losses
def _log_softmax(a):
    m = a.max(axis=-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("classes", [1, 2, 3, 16, 17, 40])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_any_class_count(classes, reduction):
    # 16 columns or fewer take the column-wise row max, more take NumPy's
    rng = np.random.default_rng(classes)
    logits = rng.normal(0, 3, (7, classes))
    labels = rng.integers(0, classes, 7)
    x = mt.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, labels, reduction)
    ref = -_log_softmax(logits)[np.arange(7), labels]
    expect = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(loss.data, expect, rtol=1e-12, atol=1e-14)
    loss.sum().backward()
    p = np.exp(_log_softmax(logits))
    p[np.arange(7), labels] -= 1
    scale = 1 / 7 if reduction == "mean" else 1.0
    np.testing.assert_allclose(x.grad.data, p * scale, rtol=1e-10, atol=1e-14)


def test_cross_entropy_row_max_propagates_nan_and_handles_inf():
    x = mt.tensor([[0.0, np.nan, 1.0], [1e308, 0.0, -np.inf]], requires_grad=True)
    loss = F.cross_entropy(x, [0, 0], "none")
    assert np.isnan(loss.data[0])
    assert loss.data[1] == 0.0


def test_cross_entropy_on_batched_logits_picks_each_rows_label():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4))
    labels = rng.integers(0, 4, (2, 3))
    x = mt.tensor(logits, requires_grad=True)
    # PyTorch's layout: classes on axis 1 of a 3-D input, so the (2, 3, 4) logits go in as
    # (2, 4, 3)
    loss = F.cross_entropy(x.transpose((0, 2, 1)), labels, "none")
    ref = -np.take_along_axis(_log_softmax(logits), labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss.data, ref, rtol=1e-12)
    loss.backward(np.ones((2, 3)))
    assert x.grad.shape == (2, 3, 4)
    np.testing.assert_allclose(x.grad.data.sum(axis=-1), 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64", ">i8"])
def test_label_range_check_for_every_integer_type(dtype):
    logits = mt.zeros(3, 4, requires_grad=True)
    ok = np.array([0, 3, 1], dtype=dtype)
    F.cross_entropy(logits, ok)  # fine
    too_big = np.array([0, 4, 1], dtype=dtype)
    with pytest.raises(ValueError, match=r"class label 4 at index 1 is out of range"):
        F.cross_entropy(logits, too_big)
    if np.dtype(dtype).kind == "i":
        negative = np.array([0, 1, -1], dtype=dtype)
        with pytest.raises(ValueError, match=r"class label -1 at index 2 is out of range"):
            F.cross_entropy(logits, negative)
    assert logits.grad is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_refuses_probabilities_outside_0_1_in_every_reduction(reduction):
    for bad in ([0.5, 1.5], [-0.1, 0.5]):
        p = mt.tensor(bad, requires_grad=True)
        with pytest.raises(ValueError, match=r"binary_cross_entropy: input must be"):
            F.binary_cross_entropy(p, [1.0, 0.0], reduction=reduction)


def test_bce_with_nan_input_is_nan_not_an_error():
    loss = F.binary_cross_entropy(mt.tensor([np.nan, 0.5]), [1.0, 0.0], reduction="sum")
    assert np.isnan(loss.item())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_reduced_matches_elementwise_and_clamps(dtype, reduction):
    p = np.array([0.0, 1.0, 0.25, 0.9], dtype=dtype)
    y = np.array([1.0, 1.0, 0.0, 0.5], dtype=dtype)
    x = mt.tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(x, y, reduction=reduction)
    each = F.binary_cross_entropy(mt.tensor(p), y, reduction="none").data
    assert loss.dtype == dtype
    assert each[0] == pytest.approx(100.0)  # log(0) clamped at -100, as PyTorch does
    expect = each.sum() if reduction == "sum" else each.mean()
    np.testing.assert_allclose(loss.data, expect, rtol=1e-6 if dtype == np.float32 else 1e-13)
    loss.backward()
    q = p.astype(np.float64)
    grad = (q - y) / np.maximum(q * (1 - q), 1e-12) / (4 if reduction == "mean" else 1)
    np.testing.assert_allclose(x.grad.data, grad, rtol=1e-5 if dtype == np.float32 else 1e-12)


@settings(max_examples=40, deadline=None)
@given(d=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=6),
                    elements=st.floats(-1e3, 1e3)),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_vdot_matches_square_and_sum(d, reduction):
    x = mt.tensor(d, requires_grad=True)
    loss = F.mse_loss(x, np.zeros_like(d), reduction)
    sq = d * d
    expect = {"mean": sq.mean() if sq.size else np.nan, "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(loss.data, expect, rtol=1e-12)


def test_mse_overflow_raises_under_errstate_raise():
    x = mt.tensor([1e200, 1.0], requires_grad=True)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="SquaredError"):
        F.mse_loss(x, [0.0, 0.0], "sum")
    with np.errstate(over="ignore"):
        assert F.mse_loss(x, [0.0, 0.0], "sum").item() == np.inf


def test_linear_bias_gradient_by_blas_matches_sum_for_float32():
    rng = np.random.default_rng(1)
    lin = nn.Linear(5, 3, dtype=np.float32)
    x = mt.tensor(rng.normal(size=(1000, 5)).astype(np.float32))
    g = rng.normal(size=(1000, 3)).astype(np.float32)
    lin(x).backward(g)
    assert lin.bias.grad.dtype == np.float32
    np.testing.assert_allclose(lin.bias.grad.data, g.astype(np.float64).sum(axis=0), rtol=1e-4)


def test_linear_refuses_a_weight_or_bias_of_the_wrong_shape():
    lin = nn.Linear(3, 2)
    lin.bias = nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"linear: .*bias"):
        lin(mt.ones(4, 3))


# ------------------------------------------------------------------ optimizer, Sequential
def test_plain_sgd_keeps_no_state_and_follows_the_scheduled_lr():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    opt = nn.optim.SGD([w], lr=0.5)
    sched = nn.optim.StepLR(opt, step_size=1, gamma=0.1)
    for lr in (0.5, 0.05):
        opt.zero_grad()
        (w * w).sum().backward()
        before = w.data.copy()
        opt.step()
        np.testing.assert_allclose(w.data, before - lr * 2 * before)
        sched.step()
    assert opt.state == {}


def test_sgd_with_weight_decay_or_momentum_still_takes_the_full_path():
    w = mt.tensor([1.0], requires_grad=True)
    opt = nn.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    (w * 3.0).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.1 * (3.0 + 0.01)])
    assert "momentum_buffer" in opt.state[w]


def test_sequential_children_record_their_scope_with_and_without_hooks():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    calls = []
    net[1].register_forward_hook(lambda m, args, out: calls.append(m))
    out = net(mt.ones(4, 2))
    assert calls == [net[1]]
    sig_node = out.grad_fn._edges[0]
    first_node = sig_node._edges[0]
    assert out.grad_fn._scope == (net, net[2])
    assert sig_node._scope == (net, net[1])
    assert first_node._scope == (net, net[0])
    assert mt.grad_mode.current_scope() == ()


def test_sequential_restores_the_scope_when_a_child_raises():
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="linear"):
        net(mt.ones(1, 2))
    assert mt.grad_mode.current_scope() == ()


def test_sequential_calls_a_child_that_defines_its_own_call():
    class Doubling(nn.Module):
        def __call__(self, x):
            return super().__call__(x) * 2.0

        def forward(self, x):
            return x + 1.0

    net = nn.Sequential(Doubling(), nn.Identity())
    np.testing.assert_array_equal(net(mt.ones(2)).data, [4.0, 4.0])


@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy])
def test_mean_of_an_empty_loss_is_nan_and_sum_is_zero(loss):
    x = mt.tensor(np.zeros((0, 1)), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "mean of empty slice"
        assert np.isnan(loss(x, np.zeros((0, 1)), reduction="mean").item())
    assert loss(x, np.zeros((0, 1)), reduction="sum").item() == 0.0
