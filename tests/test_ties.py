"""The tie rule (microtensor/ops/elementwise.py): at a kink the gradient is the average of the
one-sided derivatives, which is also what central differences measure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt


def grad_of(fn, *values):
    ts = [mt.tensor(np.asarray(v, dtype=float), requires_grad=True) for v in values]
    fn(*ts).sum().backward()
    return [t.grad.data for t in ts]


def test_relu_at_zero_is_half() -> None:
    (g,) = grad_of(mt.relu, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0])


def test_abs_at_zero_is_zero() -> None:
    (g,) = grad_of(mt.abs, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("op", [mt.maximum, mt.minimum])
def test_maximum_minimum_tie_splits_half_each(op) -> None:
    gx, gy = grad_of(op, [1.0, 2.0, 3.0], [1.0, 1.0, 5.0])
    big = op is mt.maximum
    np.testing.assert_array_equal(gx, [0.5, 1.0 if big else 0.0, 0.0 if big else 1.0])
    np.testing.assert_array_equal(gx + gy, [1.0, 1.0, 1.0])


def test_maximum_tie_with_broadcast_scalar() -> None:
    gx, gy = grad_of(mt.maximum, [0.0, 0.0, 1.0], 0.0)
    np.testing.assert_array_equal(gx, [0.5, 0.5, 1.0])
    assert gy.shape == () and gy == 1.0


def test_clip_on_a_bound_is_half() -> None:
    (g,) = grad_of(lambda x: x.clip(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.5, 1.0, 0.5, 0.0])


@pytest.mark.parametrize("reduce", ["max", "min"])
@given(k=st.integers(1, 5), others=st.integers(0, 3))
def test_reduce_ties_split_one_over_k(reduce, k, others) -> None:
    extreme = 5.0 if reduce == "max" else -5.0
    values = [extreme] * k + [0.0] * others
    (g,) = grad_of(lambda x: getattr(x, reduce)(), values)
    np.testing.assert_allclose(g, [1.0 / k] * k + [0.0] * others)


def test_reduce_ties_along_an_axis() -> None:
    (g,) = grad_of(lambda x: x.max(axis=1), [[1.0, 1.0, 0.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(g, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize(
    "fn",
    [mt.relu, mt.abs, lambda x: x.clip(0.0, 1.0), lambda x: mt.maximum(x, 0.0),
     lambda x: mt.minimum(x, 0.0)],
    ids=["relu", "abs", "clip", "maximum", "minimum"],
)
def test_tie_rule_agrees_with_central_differences(fn) -> None:
    x = mt.tensor([0.0, 1.0, -1.0], requires_grad=True)
    assert mt.gradcheck(fn, [x])


def test_two_way_max_tie_agrees_with_central_differences() -> None:
    x = mt.tensor([2.0, 2.0, 0.0], requires_grad=True)
    assert mt.gradcheck(lambda t: t.max(), [x])
