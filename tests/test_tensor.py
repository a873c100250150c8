"""Tensor construction, attributes, dtype discipline and factories."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt


def test_python_numbers_and_lists_become_float64() -> None:
    assert mt.tensor(3).dtype == np.float64
    assert mt.tensor([1, 2]).dtype == np.float64
    assert mt.Tensor(True).dtype == np.float64
    assert mt.tensor([[1.5, 2.0]]).shape == (1, 2)


def test_arrays_keep_their_dtype() -> None:
    for dtype in (np.float32, np.float64, np.int64, np.bool_):
        assert mt.Tensor(np.zeros(2, dtype=dtype)).dtype == dtype


def test_tensor_shares_but_mt_tensor_copies() -> None:
    a = np.ones(3)
    assert mt.Tensor(a).data is a
    b = mt.tensor(a)
    assert not np.shares_memory(b.data, a)


@given(shape=S.shapes(), dtype=S.float_dtypes())
def test_attributes(shape, dtype) -> None:
    a = np.zeros(shape, dtype=dtype)
    t = mt.Tensor(a, requires_grad=True)
    assert t.shape == shape and t.ndim == len(shape) and t.size == a.size and t.dtype == dtype
    assert t.is_leaf and t.grad is None and t.grad_fn is None and t.requires_grad
    assert t.numpy() is a
    assert len(repr(t)) > 0


def test_item_and_conversions() -> None:
    t = mt.tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(mt.tensor(3.0)) == 3
    assert mt.tensor([1.0, 2.0]).tolist() == [1.0, 2.0]


def test_repr_is_readable() -> None:
    assert repr(mt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(mt.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(mt.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float32" in repr(mt.tensor(np.ones(1, dtype=np.float32)))


def test_requires_grad_underscore_returns_self() -> None:
    t = mt.zeros(2)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad


def test_non_leaf_properties() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.requires_grad and type(y.grad_fn).__name__ == "Mul"
    assert (mt.tensor([1.0]) * 2).is_leaf


def test_int_tensors_compute_but_are_untracked() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    i = mt.arange(2)
    assert i.dtype == np.int64
    y = x * i
    assert y.requires_grad and y.dtype == np.float64
    assert not x.astype(np.int64).requires_grad


@pytest.mark.parametrize("scalar", [2, 2.5, True, np.float32(2.0)])
def test_python_scalars_never_upcast_float32(scalar) -> None:
    x = mt.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for y in (x + scalar, scalar * x, x / scalar, scalar - x, x**scalar, scalar**x,
              mt.maximum(x, scalar), mt.where(x > 0, x, scalar), x.clip(0, scalar)):
        assert y.dtype == np.float32
        x.grad = None
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_astype_gradient_comes_back_in_input_dtype() -> None:
    x = mt.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64) * mt.tensor([3.0, 4.0])
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_float32_second_order_stays_float32() -> None:
    x = mt.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (g,) = mt.grad((x**3).sum(), x, create_graph=True)
    (h,) = mt.grad(g.sum(), x)
    assert g.dtype == np.float32 and h.dtype == np.float32
    np.testing.assert_allclose(h.data, [6.0, 12.0])


def test_factories() -> None:
    assert mt.zeros(2, 3).shape == (2, 3) and mt.zeros((2, 3)).shape == (2, 3)
    assert mt.ones(2).data.tolist() == [1.0, 1.0]
    assert mt.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    assert mt.eye(2).data.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert mt.arange(3).data.tolist() == [0, 1, 2]
    assert mt.zeros_like(mt.ones(2, dtype=np.float32)).dtype == np.float32
    assert mt.ones_like(np.zeros((1, 2))).shape == (1, 2)
    assert mt.randn(2, 2, requires_grad=True).requires_grad
    assert mt.rand(3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="zeros"):
        mt.zeros(-1)
    with pytest.raises(TypeError, match="ones"):
        mt.ones(1.5)


@given(st.integers(0, 2**31))
def test_manual_seed_makes_random_factories_repeat(seed) -> None:
    mt.manual_seed(seed)
    a, b = mt.rand(3), mt.randn(2, 2)
    mt.manual_seed(seed)
    np.testing.assert_array_equal(a.data, mt.rand(3).data)
    np.testing.assert_array_equal(b.data, mt.randn(2, 2).data)


def test_setitem_under_no_grad_and_on_untracked() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        x[0] = 5.0
    assert x.data[0] == 5.0
    y = mt.zeros(2)
    y[1] = mt.tensor(3.0)
    assert y.data.tolist() == [0.0, 3.0]


def test_iteration_and_len() -> None:
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert len(x) == 2 and len(rows) == 2
    (rows[0] * 2 + rows[1]).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 2.0], [1.0, 1.0]])
    with pytest.raises(TypeError):
        len(mt.tensor(1.0))


def test_pow_zero_exponent_has_zero_gradient_at_zero_base() -> None:
    for exponent in (0, 0.0, np.int64(0), np.array(0.0), np.zeros(2)):
        x = mt.tensor([0.0, 2.0], requires_grad=True)
        (x**exponent).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x = mt.tensor([0.0, 2.0], requires_grad=True)
    y = mt.tensor([0.0, 3.0], requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0])
    np.testing.assert_allclose(y.grad.data, [0.0, 8 * np.log(2.0)])
    assert mt.gradgradcheck(lambda a: a ** mt.tensor([0.0, 3.0]), [mt.tensor([0.5, 2.0],
                                                                              requires_grad=True)])


def test_untracked_bool_and_int_tensors_follow_numpy() -> None:
    np.testing.assert_array_equal(abs(mt.Tensor(np.array([True, False]))).data, [True, False])
    assert (-mt.arange(3)).data.tolist() == [0, -1, -2]
    assert mt.maximum(mt.arange(3), 1).data.tolist() == [1, 1, 2]
    assert mt.tensor([1.0, 2.0]).reshape(np.array([2, 1])).shape == (2, 1)
