"""Assignment into a tensor that is part of a graph (`y[index] = value`), against PyTorch:
the overwritten positions get no gradient, the value gets theirs, first and second order, on
every kind of index and layout; a leaf that requires grad is refused; no saved value is ever
changed under an op (copy-on-write)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import strategies as S
import torch

import microtensor as mt
from microtensor.gradcheck import gradcheck, gradgradcheck

# (index, shape of the value written there) on a (4, 5) tensor
INDICES: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "int": (lambda m: 1, (5,)),
    "int-broadcast-row": (lambda m: 2, (1,)),
    "scalar-value": (lambda m: (0, 3), ()),
    "slice": (lambda m: (slice(1, 3), slice(None, None, 2)), (2, 3)),
    "negative-step": (lambda m: (m.reversed_rows, 0), (4,)),
    "ellipsis": (lambda m: (Ellipsis, 4), (4,)),
    "bool-mask": (lambda m: m.asarray([True, False, True, False]), (2, 5)),
    "int-array": (lambda m: (m.asarray([0, 3]), m.asarray([1, 4])), (2,)),
    "mixed": (lambda m: (m.asarray([3, 1]), slice(0, 2)), (2, 2)),
}


class _NP:
    asarray = staticmethod(np.asarray)
    reversed_rows = slice(None, None, -1)


class _Torch:
    reversed_rows = torch.tensor([3, 2, 1, 0])  # PyTorch has no negative steps: the same rows

    @staticmethod
    def asarray(v: Any) -> Any:
        return torch.as_tensor(np.asarray(v))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", S.LAYOUTS)  # C, F, transposed, strided
@pytest.mark.parametrize("kind", sorted(INDICES))
def test_setitem_matches_torch(kind: str, layout: str, dtype: Any) -> None:
    make_index, vshape = INDICES[kind]
    rng = np.random.default_rng(0)
    xa = S.relayout(rng.normal(size=(4, 5)).astype(dtype), layout)
    va = rng.normal(size=vshape).astype(dtype)
    ga = rng.normal(size=(4, 5)).astype(dtype)

    x = mt.tensor(xa, requires_grad=True)
    v = mt.tensor(va, requires_grad=True)
    y = x.sin()  # sin saves its input, not its output: PyTorch allows the assignment
    y[make_index(_NP)] = v * 3
    (y * mt.tensor(ga)).sum().backward()

    tx = torch.tensor(xa.copy(), requires_grad=True)  # torch refuses negative strides
    tv = torch.tensor(va, requires_grad=True)
    ty = tx.sin()
    ty[make_index(_Torch)] = tv * 3
    (ty * torch.tensor(ga)).sum().backward()

    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert y.dtype == dtype and x.grad.dtype == dtype and v.grad.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(v.grad.data, tv.grad.numpy(), **tol)


@pytest.mark.parametrize("kind", sorted(INDICES))
def test_setitem_first_and_second_order(kind: str) -> None:
    make_index, vshape = INDICES[kind]
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(4, 5))
    v0 = rng.normal(size=vshape)

    def f(x: mt.Tensor, v: mt.Tensor) -> mt.Tensor:
        y = x * x
        y[make_index(_NP)] = v.sin()
        return (y * y).sum()

    inputs = [mt.tensor(x0, requires_grad=True), mt.tensor(v0, requires_grad=True)]
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


def test_filling_a_buffer_row_by_row() -> None:
    """The loop people write: an untracked buffer filled with tracked rows."""
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    buf = mt.zeros((3, 2))
    assert not buf.requires_grad
    for i in range(3):
        buf[i] = w * (i + 1)
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * buf).sum().backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    tb = torch.zeros(3, 2, dtype=torch.float64)
    for i in range(3):
        tb[i] = tw * (i + 1)
    (tb * tb).sum().backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy())


def test_overwriting_everything_cuts_the_gradient() -> None:
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 5
    y[:] = 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])


def test_saved_output_is_not_corrupted() -> None:
    """Exp saves its output; the assignment writes into a copy, so Exp's backward uses the
    values it made (PyTorch raises here; microtensor gives the gradient of what y holds)."""
    xa = np.array([0.5, 1.0, 2.0])
    x = mt.tensor(xa, requires_grad=True)
    y = x.exp()
    y[0] = 7.0
    (y * y).sum().backward()
    expected = 2 * np.exp(xa) * np.exp(xa)
    expected[0] = 0.0
    np.testing.assert_allclose(x.grad.data, expected)


def test_a_view_taken_before_keeps_its_values() -> None:
    """Copy-on-write: the documented difference from PyTorch. Each tensor's gradient is that of
    its own values, so it is never wrong."""
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    head = y[:2]
    y[0] = 100.0
    assert head.data.tolist() == [2.0, 4.0]
    head.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 0.0])


def test_assigning_into_a_leaf_that_requires_grad_is_refused_and_changes_nothing() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: .*leaf"):
        x[0] = mt.tensor(5.0, requires_grad=True)
    assert x.data.tolist() == [1.0, 2.0] and x.grad_fn is None


def test_bad_value_shape_names_the_op_and_the_shapes_and_changes_nothing() -> None:
    x = mt.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    before, fn = y.data.copy(), y.grad_fn
    with pytest.raises(ValueError, match=r"setitem: .*\(4,\).*\(3,\)"):
        y[0] = mt.tensor(np.ones(4), requires_grad=True)
    np.testing.assert_array_equal(y.data, before)
    assert y.grad_fn is fn


def test_bad_index_names_the_op() -> None:
    y = mt.tensor(np.ones(3), requires_grad=True) * 1
    with pytest.raises(IndexError, match="(?i)setitem"):
        y[5] = 1.0


def test_no_grad_assignment_stays_in_place() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    data = y.data
    with mt.no_grad():
        y[0] = 9.0
    assert y.data is data and data[0] == 9.0


def test_an_integer_tensor_is_assigned_in_place_with_a_tracked_value() -> None:
    """An int tensor holds no gradient: the assigned float is cast and nothing is recorded."""
    idx = mt.tensor(np.array([1, 2, 3]))
    v = mt.tensor(5.0, requires_grad=True)
    idx[0] = v
    assert idx.data.tolist() == [5, 2, 3] and not idx.requires_grad


def test_setitem_inside_a_function_transform_is_refused_clearly() -> None:
    x0 = mt.tensor(np.ones(3))

    def f(x: mt.Tensor) -> mt.Tensor:
        y = x * 2
        y[0] = 5.0
        return y

    with pytest.raises(NotImplementedError, match="setitem: .*mt.func"):
        mt.func.jvp(f, (x0,), (mt.tensor(np.ones(3)),))
