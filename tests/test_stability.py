"""sigmoid, softmax, log_softmax and logsumexp at extreme inputs: finite, correct values and
gradients for |x| up to 1e4 in float64 and float32, with no overflow (the autouse fixture in
conftest.py turns any NumPy overflow/invalid/divide warning into an error)."""

from __future__ import annotations

import numpy as np
import oracles
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt

EXTREME = [-1e4, -800.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 800.0, 1e4]


def big_arrays(dtype: type) -> st.SearchStrategy[np.ndarray]:
    """1-D or 2-D arrays with values up to 1e4 in magnitude, as `dtype`."""
    width = 32 if dtype == np.float32 else 64
    return S.shapes(min_dims=1, max_dims=2).flatmap(
        lambda s: S.hnp.arrays(dtype, s, elements=st.floats(-1e4, 1e4, width=width)
                               | st.sampled_from(EXTREME))
    )


def _grad_of(fn, x: np.ndarray, g: np.ndarray):
    t = mt.Tensor(x.copy(), requires_grad=True)
    y = fn(t)
    y.backward(g.astype(x.dtype))
    return y, t.grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_extremes(dtype) -> None:
    x = np.array(EXTREME, dtype=dtype)
    y, g = _grad_of(mt.sigmoid, x, np.ones_like(x))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.isfinite(y.data).all() and np.isfinite(g.data).all()
    with np.errstate(over="ignore", under="ignore"):
        want = 1 / (1 + np.exp(-x.astype(np.float64)))
    eps = np.finfo(dtype).eps
    # float32 outputs near 1e-44 are subnormal: compare them absolutely
    np.testing.assert_allclose(y.data, want, rtol=10 * eps, atol=1e-40)
    # s * (1 - s) loses relative (not absolute) precision where s is near 1
    np.testing.assert_allclose(g.data, want * (1 - want), rtol=10 * eps, atol=eps)
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and g.data[0] == 0.0 and g.data[-1] == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_softmax_family_is_finite_and_correct_at_extremes(dtype, data) -> None:
    x = data.draw(big_arrays(dtype))
    g = data.draw(S.arrays(x.shape, dtype))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-12}

    y, gx = _grad_of(mt.softmax, x, g)
    for t in (y, gx):
        assert t.dtype == dtype and np.isfinite(t.data).all()
    np.testing.assert_allclose(y.data, oracles.softmax(x64), **tol)
    np.testing.assert_allclose(gx.data, oracles.softmax_vjp(x64, g64), **tol)

    y, gx = _grad_of(mt.log_softmax, x, g)
    for t in (y, gx):
        assert t.dtype == dtype and np.isfinite(t.data).all()
    want = x64 - x64.max(-1, keepdims=True)
    want = want - np.log(np.exp(want).sum(-1, keepdims=True))
    np.testing.assert_allclose(y.data, want, rtol=tol["rtol"], atol=tol["atol"] * 1e4)
    np.testing.assert_allclose(gx.data, oracles.log_softmax_vjp(x64, g64), **tol)

    gr = g[..., 0]
    y, gx = _grad_of(lambda t: t.logsumexp(axis=-1), x, gr)
    for t in (y, gx):
        assert t.dtype == dtype and np.isfinite(t.data).all()
    m = x64.max(-1)
    np.testing.assert_allclose(y.data, m + np.log(np.exp(x64 - m[..., None]).sum(-1)), **tol)
    np.testing.assert_allclose(gx.data, oracles.logsumexp_vjp(x64, gr.astype(np.float64)),
                               **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_small_outputs_keep_relative_precision(dtype) -> None:
    y = mt.sigmoid(mt.tensor(np.array([-40.0, -80.0], dtype=dtype)))
    with np.errstate(under="ignore"):
        np.testing.assert_allclose(y.data, np.exp([-40.0, -80.0]), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_of_all_minus_inf_row(dtype) -> None:
    x = mt.tensor(np.array([[-np.inf, -np.inf], [0.0, np.log(3.0)]], dtype=dtype),
                  requires_grad=True)
    y = x.logsumexp(axis=1)
    assert y.data[0] == -np.inf
    np.testing.assert_allclose(y.data[1], np.log(4.0), rtol=1e-6)
    y.backward(np.ones(2, dtype=dtype))
    assert not np.isnan(x.grad.data).any()
    np.testing.assert_array_equal(x.grad.data[0], [0.0, 0.0])
    np.testing.assert_allclose(x.grad.data[1], [0.25, 0.75], rtol=1e-6)


def test_logsumexp_all_minus_inf_over_everything() -> None:
    x = mt.tensor(np.full((2, 2), -np.inf), requires_grad=True)
    y = x.logsumexp()
    assert y.item() == -np.inf
    y.backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 2)))


def test_logsumexp_with_some_minus_inf_entries() -> None:
    x = mt.tensor([-np.inf, 0.0, 0.0], requires_grad=True)
    y = x.logsumexp()
    np.testing.assert_allclose(y.item(), np.log(2.0))
    y.backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 0.5])


def test_log_softmax_with_minus_inf_entry_is_finite_elsewhere() -> None:
    x = mt.tensor([[-np.inf, 0.0, 0.0]], requires_grad=True)
    y = x.log_softmax()
    assert y.data[0, 0] == -np.inf
    np.testing.assert_allclose(y.data[0, 1:], np.log(0.5))
    y.backward(np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.5, -0.5]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tanh_and_exp_saturation_are_finite(dtype) -> None:
    x = mt.tensor(np.array([-1e4, 1e4], dtype=dtype), requires_grad=True)
    x.tanh().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    assert x.grad.dtype == dtype


def test_second_order_is_finite_at_extremes() -> None:
    x = mt.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    for fn in (mt.sigmoid, mt.softmax, mt.log_softmax, lambda t: t.logsumexp(axis=-1)):
        y = fn(x)
        (g,) = mt.grad(y, x, grad_outputs=np.ones(y.shape), create_graph=True)
        (h,) = mt.grad(g.sum(), x, allow_unused=True)
        assert np.isfinite(g.data).all()
        assert h is None or np.isfinite(h.data).all()
