"""In-place changes never give a wrong gradient: a value an op saved for backward and changed
in place afterwards (zero_, add_, mul_, copy_, fill_, clamp_, setitem, through a view) makes
backward raise, as PyTorch's version counter does; a change made before the op is fine."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt

CHANGES = {
    "mul_": lambda t: t.mul_(2.0),
    "add_": lambda t: t.add_(1.0),
    "sub_": lambda t: t.sub_(1.0),
    "div_": lambda t: t.div_(2.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(3.0),
    "copy_": lambda t: t.copy_(np.full(t.shape, 5.0)),
    "clamp_": lambda t: t.clamp_(max=0.0),
    "setitem": lambda t: t.__setitem__(0, 9.0),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_inplace_change_of_a_saved_input_makes_backward_raise(change: str) -> None:
    w = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = mt.tensor([3.0, 4.0, 5.0])
    y = (w * x).sum()
    CHANGES[change](x)
    with pytest.raises(RuntimeError, match=r"Mul\.backward: saved value 1 .* changed in place"):
        y.backward()
    assert w.grad is None  # nothing half-written


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_inplace_change_before_the_op_is_fine(change: str) -> None:
    w = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = mt.tensor([3.0, 4.0, 5.0])
    CHANGES[change](x)
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad.data, x.data)


def test_inplace_change_through_a_view_or_of_the_base_is_caught() -> None:
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    base = np.arange(6.0).reshape(3, 2)
    x = mt.from_numpy(base)
    row = mt.from_numpy(base[1])  # a tensor on a view of the same memory
    y = (w * row).sum()
    x[2] = 0.0  # the base changes (a different row, but the same buffer: refused, not guessed)
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_optimizer_style_update_of_a_saved_leaf_makes_a_retained_backward_raise() -> None:
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with mt.no_grad():
        w.sub_(0.1 * w.grad.data)
    with pytest.raises(RuntimeError, match="Mul.backward: saved value 0"):
        y.backward()


def test_zeroing_grad_in_place_each_step_trains_as_before() -> None:
    w = mt.tensor([1.0, -2.0], requires_grad=True)
    x = mt.tensor([0.5, 0.25])
    for _ in range(3):
        if w.grad is not None:
            w.grad.zero_()
        ((w * x).sum() ** 2).backward()
        with mt.no_grad():
            w.sub_(0.1 * w.grad.data)
    ref = np.array([1.0, -2.0])
    for _ in range(3):
        ref -= 0.1 * 2 * (ref @ x.data) * x.data
    np.testing.assert_allclose(w.data, ref)


def test_second_order_graph_and_a_changed_grad_array() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mt.grad((x ** 3).sum(), x, create_graph=True)
    (h,) = mt.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)
