"""Autodiff equals the hand-derived gradient of each single op (tests/oracles.py)."""

from __future__ import annotations

import numpy as np
import oracles
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def vjp(fn, *arrays: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    """Gradients of fn(*tensors) against the incoming gradient g, via backward()."""
    ts = [mt.Tensor(a.copy(), requires_grad=True) for a in arrays]
    fn(*ts).backward(g)
    return [t.grad.data for t in ts]


@st.composite
def array_and_grad(draw: st.DrawFn, domain: str = "real", min_dims: int = 0):
    shape = draw(S.shapes(min_dims=min_dims))
    return draw(S.arrays(shape, domain=domain)), draw(S.arrays(shape))


UNARY = [
    ("sigmoid", mt.sigmoid, oracles.sigmoid_vjp, "wide"),
    ("tanh", mt.tanh, oracles.tanh_vjp, "wide"),
    ("exp", mt.exp, oracles.exp_vjp, "real"),
    ("log", mt.log, oracles.log_vjp, "positive"),
    ("sqrt", mt.sqrt, oracles.sqrt_vjp, "positive"),
    ("relu", mt.relu, oracles.relu_vjp, "real"),
    ("abs", mt.abs, oracles.abs_vjp, "real"),
]


@pytest.mark.parametrize(("name", "fn", "oracle", "domain"), UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_gradient_matches_oracle(name, fn, oracle, domain, data) -> None:
    x, g = data.draw(array_and_grad(domain))
    (got,) = vjp(fn, x, g=g)
    np.testing.assert_allclose(got, oracle(x, g), **TIGHT)


@given(array_and_grad("wide"))
def test_sigmoid_derivative_is_s_times_one_minus_s(xg) -> None:
    x, _ = xg
    t = mt.Tensor(x, requires_grad=True)
    s = t.sigmoid()
    s.sum().backward()
    np.testing.assert_allclose(t.grad.data, s.data * (1 - s.data), rtol=1e-12, atol=1e-15)


@given(data=st.data())
def test_div_and_pow_gradients_match_oracle(data) -> None:
    shape = data.draw(S.shapes())
    x = data.draw(S.arrays(shape, domain="positive"))
    y = data.draw(S.arrays(shape, domain="nonzero"))
    g = data.draw(S.arrays(shape))
    for got, want in zip(vjp(lambda a, b: a / b, x, y, g=g), oracles.div_vjp(x, y, g)):
        np.testing.assert_allclose(got, want, **TIGHT)
    for got, want in zip(vjp(lambda a, b: a**b, x, y, g=g), oracles.pow_vjp(x, y, g)):
        np.testing.assert_allclose(got, want, **TIGHT)


@given(data=st.data())
def test_softmax_vjp_matches_jacobian(data) -> None:
    n = data.draw(st.integers(1, 6))
    x = data.draw(S.arrays((n,), domain="wide"))
    g = data.draw(S.arrays((n,)))
    (got,) = vjp(mt.softmax, x, g=g)
    np.testing.assert_allclose(got, oracles.softmax_jacobian(x).T @ g, **TIGHT)
    np.testing.assert_allclose(got, oracles.softmax_vjp(x, g), **TIGHT)


@given(data=st.data())
def test_softmax_family_vjp_along_any_axis(data) -> None:
    shape = data.draw(S.shapes(min_dims=1))
    axis = data.draw(S.one_axis(len(shape)))
    x = data.draw(S.arrays(shape, domain="wide"))
    g = data.draw(S.arrays(shape))
    (got,) = vjp(lambda t: t.softmax(axis=axis), x, g=g)
    np.testing.assert_allclose(got, oracles.softmax_vjp(x, g, axis), **TIGHT)
    (got,) = vjp(lambda t: t.log_softmax(axis=axis), x, g=g)
    np.testing.assert_allclose(got, oracles.log_softmax_vjp(x, g, axis), **TIGHT)
    g_red = np.take(g, 0, axis=axis)
    (got,) = vjp(lambda t: t.logsumexp(axis=axis), x, g=g_red)
    np.testing.assert_allclose(got, oracles.logsumexp_vjp(x, g_red, axis), **TIGHT)


@given(data=st.data())
def test_logsumexp_gradient_is_softmax(data) -> None:
    shape = data.draw(S.shapes(min_dims=1))
    x = data.draw(S.arrays(shape, domain="wide"))
    t = mt.Tensor(x, requires_grad=True)
    t.logsumexp(axis=-1).sum().backward()
    np.testing.assert_allclose(t.grad.data, oracles.softmax(x, -1), **TIGHT)


@given(data=st.data())
def test_matmul_gradients_match_oracle(data) -> None:
    m, k, n = (data.draw(st.integers(1, 4)) for _ in range(3))
    x, y = data.draw(S.arrays((m, k))), data.draw(S.arrays((k, n)))
    g = data.draw(S.arrays((m, n)))
    for got, want in zip(vjp(lambda a, b: a @ b, x, y, g=g), oracles.matmul_vjp(x, y, g)):
        np.testing.assert_allclose(got, want, **TIGHT)
    v, gv = data.draw(S.arrays((k,))), data.draw(S.arrays((m,)))
    for got, want in zip(vjp(lambda a, b: a @ b, x, v, g=gv), oracles.matvec_vjp(x, v, gv)):
        np.testing.assert_allclose(got, want, **TIGHT)


@given(data=st.data())
def test_batched_matmul_gradient_sums_broadcast_batch(data) -> None:
    b, m, k, n = (data.draw(st.integers(1, 3)) for _ in range(4))
    x, y = data.draw(S.arrays((b, m, k))), data.draw(S.arrays((k, n)))
    g = data.draw(S.arrays((b, m, n)))
    gx, gy = vjp(lambda p, q: p @ q, x, y, g=g)
    np.testing.assert_allclose(gx, g @ y.T, **TIGHT)
    np.testing.assert_allclose(gy, sum(x[i].T @ g[i] for i in range(b)), **TIGHT)


@given(data=st.data())
def test_max_and_mean_gradients_match_oracle(data) -> None:
    shape = data.draw(S.shapes(min_dims=1))
    axis = data.draw(S.one_axis(len(shape)))
    x = data.draw(S.arrays(shape, domain="smooth"))  # a coarse grid: ties are common
    g = data.draw(S.arrays(np.max(x, axis=axis).shape))
    (got,) = vjp(lambda t: t.max(axis=axis), x, g=g)
    np.testing.assert_allclose(got, oracles.max_vjp(x, axis, g), **TIGHT)
    (got,) = vjp(lambda t: t.mean(axis=axis), x, g=g)
    np.testing.assert_allclose(got, oracles.mean_vjp(x, axis, g), **TIGHT)


@given(data=st.data())
def test_getitem_gradient_matches_oracle(data) -> None:
    shape = data.draw(S.shapes(min_dims=1))
    index = data.draw(S.index_expressions(shape))
    x = data.draw(S.arrays(shape))
    g = data.draw(S.arrays(x[index].shape))
    (got,) = vjp(lambda t: t[index], x, g=g)
    np.testing.assert_allclose(got, oracles.getitem_vjp(shape, index, g), **TIGHT)


@given(data=st.data())
def test_maximum_and_clip_gradients_match_oracle(data) -> None:
    shape = data.draw(S.shapes())
    x = data.draw(S.arrays(shape, domain="smooth", offset=0.0))  # hits 0 and +-0.5 exactly
    y = data.draw(S.arrays(shape, domain="smooth", offset=0.0))
    g = data.draw(S.arrays(shape))
    for got, want in zip(vjp(mt.maximum, x, y, g=g), oracles.maximum_vjp(x, y, g)):
        np.testing.assert_allclose(got, want, **TIGHT)
    (got,) = vjp(lambda t: t.clip(-0.5, 0.5), x, g=g)
    np.testing.assert_allclose(got, oracles.clip_vjp(x, -0.5, 0.5, g), **TIGHT)
