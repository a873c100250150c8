"""NumPy interop: arrays out of tensors, ufuncs and functions on tensors stay tracked.

In the table, `np.exp` applied to a Tensor goes through `Tensor.__array_ufunc__` (the same
function serves as the op under test and as the NumPy reference on plain arrays)."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given

import microtensor as mt


def test_asarray_gives_the_data() -> None:
    t = mt.tensor([1.0, 2.0], requires_grad=True)
    a = np.asarray(t)
    assert type(a) is np.ndarray and a is t.data
    np.testing.assert_array_equal(np.array(t), [1.0, 2.0])
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


INTEROP = [
    ("np.exp", np.exp, np.exp, np.exp),
    ("np.add", lambda t: np.add(t, 1), lambda x: x + 1, np.ones_like),
    ("ndarray*t", lambda t: np.full(3, 2.0) * t, lambda x: 2 * x, lambda x: np.full_like(x, 2)),
    ("t*ndarray", lambda t: t * np.full(3, 2.0), lambda x: 2 * x, lambda x: np.full_like(x, 2)),
    ("ndarray-t", lambda t: np.ones(3) - t, lambda x: 1 - x, lambda x: -np.ones_like(x)),
    ("ndarray@t", lambda t: np.ones((2, 3)) @ t, lambda x: np.ones((2, 3)) @ x,
     lambda x: np.full_like(x, 2)),
    ("np.where", lambda t: np.where(np.array([True, False, True]), t, 0.0),
     lambda x: np.where([True, False, True], x, 0), lambda x: np.array([1.0, 0.0, 1.0])),
    ("np.concatenate", lambda t: np.concatenate([t, t * 2]),
     lambda x: np.concatenate([x, 2 * x]), lambda x: np.full_like(x, 3)),
    ("np.stack", lambda t: np.stack([t, t]), lambda x: np.stack([x, x]),
     lambda x: np.full_like(x, 2)),
    ("np.sum", lambda t: np.sum(t * t), lambda x: np.sum(x * x), lambda x: 2 * x),
    ("np.mean", lambda t: np.mean(t, axis=0), np.mean, lambda x: np.full_like(x, 1 / 3)),
    ("np.maximum", lambda t: np.maximum(t, 0.5), lambda x: np.maximum(x, 0.5),
     lambda x: (x > 0.5).astype(float)),
    ("np.tanh", np.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("np.square", np.square, np.square, lambda x: 2 * x),
    ("np.negative", np.negative, np.negative, lambda x: -np.ones_like(x)),
    ("np.reshape", lambda t: np.reshape(t, (3, 1)), lambda x: x.reshape(3, 1),
     np.ones_like),
    ("np.dot", lambda t: np.dot(t, t), lambda x: np.dot(x, x), lambda x: 2 * x),
    ("np.dot-matrix", lambda t: np.dot(np.ones((2, 3)), t), lambda x: np.ones((2, 3)) @ x,
     lambda x: np.full_like(x, 2)),
    ("np.inner", lambda t: np.inner(t, np.arange(3.0)), lambda x: np.inner(x, np.arange(3.0)),
     lambda x: np.arange(3.0)),
    ("np.outer", lambda t: np.outer(t, np.arange(2.0)), lambda x: np.outer(x, np.arange(2.0)),
     np.ones_like),
    ("np.amax", np.amax, np.amax, lambda x: (x == x.max()) / (x == x.max()).sum()),
    ("np.amin", lambda t: np.amin(t, axis=0), np.amin,
     lambda x: (x == x.min()) / (x == x.min()).sum()),
    ("np.var", np.var, np.var, lambda x: 2 * (x - x.mean()) / 3),
    ("np.std-ddof", lambda t: np.std(t + np.arange(3.0), ddof=1),
     lambda x: np.std(x + np.arange(3.0), ddof=1),
     lambda x: (x + np.arange(3.0) - (x + np.arange(3.0)).mean())
     / (2 * np.std(x + np.arange(3.0), ddof=1))),
    ("np.ravel", np.ravel, np.ravel, np.ones_like),
    ("np.clip", lambda t: np.clip(t, -0.9, 0.9), lambda x: np.clip(x, -0.9, 0.9),
     lambda x: (np.abs(x) < 0.9).astype(float)),
    ("np.transpose", lambda t: np.transpose(t, 0), lambda x: np.transpose(x, 0), np.ones_like),
]


@pytest.mark.parametrize(("name", "fn", "value", "grad"), INTEROP, ids=[i[0] for i in INTEROP])
@given(S.arrays((3,), domain="smooth"))
def test_numpy_call_returns_tracked_tensor_with_correct_gradient(name, fn, value, grad, x) -> None:
    t = mt.Tensor(x.copy(), requires_grad=True)
    y = fn(t)
    assert isinstance(y, mt.Tensor) and y.requires_grad and y.grad_fn is not None
    np.testing.assert_allclose(y.data, value(x), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.data, grad(x), rtol=1e-12, atol=1e-15)


def test_numpy_calls_are_differentiable_twice() -> None:
    t = mt.tensor([0.3, -0.2], requires_grad=True)
    assert mt.gradgradcheck(lambda x: np.exp(np.add(x, 1)) * np.where([True, False], x, 2.0), [t])


def test_comparisons_return_untracked_bool_tensors() -> None:
    t = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    results = [t > 2, t >= 2, t < 2, t <= 2, t == 2, t != 2, np.greater(t, 2),
               np.ones(3) < t, 2 < t]
    for r in results:
        assert isinstance(r, mt.Tensor)
        assert r.dtype == np.bool_ and not r.requires_grad and r.grad_fn is None
    np.testing.assert_array_equal((t > 2).data, [False, False, True])
    np.testing.assert_array_equal((np.ones(3) < t).data, [False, True, True])


def test_comparisons_can_mask_and_select() -> None:
    t = mt.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    y = mt.where(t > 0, t, t * 0.1)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.data, [0.1, 1.0, 0.1])
    t.grad = None
    t[t > 0].sum().backward()
    np.testing.assert_array_equal(t.grad.data, [0.0, 1.0, 0.0])


def test_ufunc_without_gradient_on_tracked_tensor_raises() -> None:
    t = mt.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="cbrt"):
        np.cbrt(t)  # a ufunc microtensor has no op for
    np.testing.assert_allclose(np.asarray(np.cbrt(t.detach())), np.cbrt(1.0))


def test_piecewise_constant_ufunc_without_an_op_is_untracked() -> None:
    t = mt.tensor([1.5, -0.5], requires_grad=True)
    s = np.rint(t)
    assert not s.requires_grad
    np.testing.assert_array_equal(s.data, [2.0, -0.0])


def test_sign_and_rounding_ufuncs_run_their_ops_with_zero_gradient_as_pytorch() -> None:
    for ufunc in (np.sign, np.floor, np.ceil, np.trunc):
        t = mt.tensor([1.5, -0.5], requires_grad=True)
        s = ufunc(t)
        assert s.requires_grad  # like torch.sign(t): tracked, with a zero gradient
        np.testing.assert_array_equal(s.data, ufunc(np.array([1.5, -0.5])))
        s.sum().backward()
        np.testing.assert_array_equal(t.grad.data, [0.0, 0.0])


def test_ufunc_out_argument_is_refused() -> None:
    t = mt.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="out="):
        np.exp(t, out=np.empty(1))


def test_numpy_functions_without_op_return_plain_numpy() -> None:
    t = mt.tensor([1.0, 2.0], requires_grad=True)
    assert np.allclose(t, [1.0, 2.0])
    assert np.shape(t) == (2,)
    assert np.argmax(t) == 1
    np.testing.assert_array_equal(np.zeros_like(t), [0.0, 0.0])
    plain = mt.tensor([1.0, 2.0])  # no gradient to lose: NumPy's own result, as before
    np.testing.assert_array_equal(np.cumsum(plain), [1.0, 3.0])
    with mt.no_grad():
        np.testing.assert_array_equal(np.cumsum(t), [1.0, 3.0])


def test_float32_survives_numpy_calls() -> None:
    t = mt.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = np.exp(np.add(t, 1)) * 2.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad.dtype == np.float32
