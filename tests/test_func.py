"""mt.func (microtensor/func.py) against torch.func on the seeds' networks (a 2-3-1 sigmoid
MLP and a softmax network), float32 and float64: vjp, jvp, jacobian in both modes, hessian,
grad (argnums, has_aux), nesting, and the errors that name the function."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
from microtensor import func

torch = pytest.importorskip("torch")
tfunc = torch.func

RNG = np.random.default_rng(16)
W1, W2 = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 1))
WS = RNG.standard_normal((4, 3))


def mlp(x, w1=None, w2=None):
    """The first seed's network: sigmoid(sigmoid(x W1) W2), x of shape (n, 2)."""
    w1 = W1.astype(x.dtype) if w1 is None else w1
    w2 = W2.astype(x.dtype) if w2 is None else w2
    return mt.sigmoid(mt.sigmoid(x @ w1) @ w2)


def mlp_t(x, w1=None, w2=None):
    w1 = torch.tensor(W1, dtype=x.dtype) if w1 is None else w1
    w2 = torch.tensor(W2, dtype=x.dtype) if w2 is None else w2
    return torch.sigmoid(torch.sigmoid(x @ w1) @ w2)


def softmax_net(x):
    """The second seed's network: softmax(x W) over classes, x of shape (n, 4)."""
    return mt.softmax(x @ WS.astype(x.dtype), axis=1)


def softmax_net_t(x):
    return torch.softmax(x @ torch.tensor(WS, dtype=x.dtype), dim=1)


NETS = {"mlp": (mlp, mlp_t, (5, 2)), "softmax": (softmax_net, softmax_net_t, (3, 4))}
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10,
                                                                     "atol": 1e-13}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("net", sorted(NETS))
def test_vjp_matches_torch(net, dtype):
    f, ft, shape = NETS[net]
    x = RNG.standard_normal(shape).astype(dtype)
    out, vjp_fn = func.vjp(f, x)
    v = RNG.standard_normal(out.shape).astype(dtype)
    (got,) = vjp_fn(v)
    tout, tvjp = tfunc.vjp(ft, torch.tensor(x))
    (expected,) = tvjp(torch.tensor(v))
    assert got.dtype == dtype
    np.testing.assert_allclose(out.data, tout.numpy(), **_tol(dtype))
    np.testing.assert_allclose(got.data, expected.numpy(), **_tol(dtype))
    (again,) = vjp_fn(v)  # vjp_fn may be called again
    np.testing.assert_allclose(again.data, got.data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("net", sorted(NETS))
def test_jvp_matches_torch(net, dtype):
    f, ft, shape = NETS[net]
    x, v = (RNG.standard_normal(shape).astype(dtype) for _ in range(2))
    out, got = func.jvp(f, (x,), (v,))
    tout, expected = tfunc.jvp(ft, (torch.tensor(x),), (torch.tensor(v),))
    assert got.dtype == dtype and got.shape == out.shape
    np.testing.assert_allclose(got.data, expected.numpy(), **_tol(dtype))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("net", sorted(NETS))
def test_jacobian_matches_torch(net, dtype, mode):
    f, ft, shape = NETS[net]
    x = RNG.standard_normal(shape).astype(dtype)
    got = func.jacobian(f, mode=mode)(x)
    expected = tfunc.jacrev(ft)(torch.tensor(x))
    assert got.shape == tuple(expected.shape) and got.dtype == dtype
    np.testing.assert_allclose(got.data, expected.numpy(), **_tol(dtype))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jacobian_argnums_tuple_and_several_outputs(mode):
    x = RNG.standard_normal((4, 2))

    def f(x, w1, w2):
        h = mt.sigmoid(x @ w1)
        return mt.sigmoid(h @ w2), h.sum()

    def ft(x, w1, w2):
        h = torch.sigmoid(x @ w1)
        return torch.sigmoid(h @ w2), h.sum()

    got = func.jacobian(f, argnums=(1, 2), mode=mode)(x, W1, W2)
    expected = tfunc.jacrev(ft, argnums=(1, 2))(*(torch.tensor(a) for a in (x, W1, W2)))
    for g_out, e_out in zip(got, expected):
        for g, e in zip(g_out, e_out):
            np.testing.assert_allclose(g.data, e.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hessian_matches_torch(dtype):
    x = RNG.standard_normal((3, 2)).astype(dtype)

    def loss(w1):
        return mlp(x, w1).sum()

    def loss_t(w1):
        return mlp_t(torch.tensor(x), w1).sum()

    got = func.hessian(loss)(W1.astype(dtype))
    expected = tfunc.hessian(loss_t)(torch.tensor(W1.astype(dtype)))
    assert got.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(got.data, expected.numpy(), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_matches_torch(dtype):
    x = RNG.standard_normal((5, 2)).astype(dtype)
    y = RNG.random((5, 1)).astype(dtype)

    def loss(w1, w2):
        return ((mlp(x, w1, w2) - y) ** 2).sum()

    def loss_t(w1, w2):
        return ((mlp_t(torch.tensor(x), w1, w2) - torch.tensor(y)) ** 2).sum()

    w = (W1.astype(dtype), W2.astype(dtype))
    g1, g2 = func.grad(loss, argnums=(0, 1))(*w)
    e1, e2 = tfunc.grad(loss_t, argnums=(0, 1))(*(torch.tensor(a) for a in w))
    np.testing.assert_allclose(g1.data, e1.numpy(), **_tol(dtype))
    np.testing.assert_allclose(g2.data, e2.numpy(), **_tol(dtype))
    only = func.grad(loss, argnums=1)(*w)
    np.testing.assert_allclose(only.data, g2.data)


def test_grad_has_aux_and_nesting():
    def f(x):
        return (x**3).sum(), x * 2

    g, aux = func.grad(f, has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g.data, [3.0, 12.0])
    np.testing.assert_allclose(aux.data, [2.0, 4.0])
    # grad of grad: d/dx sum(3 x**2) = 6 x
    gg = func.grad(lambda x: func.grad(lambda y: (y**3).sum())(x).sum())(np.array([1.0, 2.0]))
    np.testing.assert_allclose(gg.data, [6.0, 12.0])


def test_grad_leaves_inputs_untouched():
    x = mt.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    func.grad(lambda a: (a * a).sum())(x)
    assert x.grad is None


def test_errors_name_the_function():
    with pytest.raises(RuntimeError, match=r"grad: the function must return a one-element"):
        func.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match="grad: argnums 2 is out of range"):
        func.grad(lambda x, y: (x * y).sum(), argnums=2)(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="grad: argnums must be an int"):
        func.grad(lambda x: x.sum(), argnums="0")(np.ones(2))
    with pytest.raises(ValueError, match="jacobian: mode must be 'reverse' or 'forward'"):
        func.jacobian(mlp, mode="sideways")
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(3,\), its primal \(2,\)"):
        func.jvp(lambda x: x, (np.ones(2),), (np.ones(3),))
    with pytest.raises(TypeError, match="jvp: primals and tangents must be tuples"):
        func.jvp(lambda x: x, np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="vjp: the function must return a Tensor"):
        func.vjp(lambda x: 3.0, np.ones(2))
    with pytest.raises(TypeError, match="grad: with has_aux=True"):
        func.grad(lambda x: x.sum(), has_aux=True)(np.ones(2))


def test_constant_outputs_get_zero_derivatives():
    _, t = func.jvp(lambda x: mt.ones(3) * 2.0, (np.ones(2),), (np.ones(2),))
    np.testing.assert_array_equal(t.data, np.zeros(3))
    np.testing.assert_array_equal(func.grad(lambda x: mt.tensor(1.0))(np.ones(2)).data, 0.0)


def test_vmap_is_reexported():
    assert func.vmap is mt.func.vmap
    assert callable(func.vmap)


def test_hessian_of_several_arguments_matches_torch():
    x = RNG.standard_normal((3, 2))

    def loss(w1, w2):
        return mlp(x, w1, w2).sum()

    def loss_t(w1, w2):
        return mlp_t(torch.tensor(x), w1, w2).sum()

    got = func.hessian(loss, argnums=(0, 1))(W1, W2)
    expected = tfunc.hessian(loss_t, argnums=(0, 1))(torch.tensor(W1), torch.tensor(W2))
    for g_row, e_row in zip(got, expected):
        for g, e in zip(g_row, e_row):
            assert g.shape == tuple(e.shape)
            np.testing.assert_allclose(g.data, e.numpy(), rtol=1e-10, atol=1e-13)
