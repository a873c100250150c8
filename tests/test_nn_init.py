"""nn.init: distributions (bounds, std), fan computation in our (in, out) layout, gains,
in-place behaviour and reproducibility under mt.manual_seed."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
import nn
from nn import init

SHAPE = (400, 250)  # fan_in 400, fan_out 250 in our (in, out) layout


def _param(shape=SHAPE, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def test_fan_in_fan_out_uses_in_out_layout():
    assert init.calculate_fan_in_and_fan_out((3, 5)) == (3, 5)
    assert init.calculate_fan_in_and_fan_out((2, 3, 5)) == (6, 10)
    with pytest.raises(ValueError, match="at least 2"):
        init.calculate_fan_in_and_fan_out((4,))


def test_calculate_gain_values():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize(
    ("fn", "bound"),
    [(lambda t: init.uniform_(t, -0.3, 0.7), (-0.3, 0.7)),
     (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(6 / 650)),
     (init.kaiming_uniform_, math.sqrt(2) * math.sqrt(3 / 400)),
     (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
      math.sqrt(2) * math.sqrt(3 / 250))],
)
def test_uniform_inits_respect_bounds_and_fill(fn, bound):
    mt.manual_seed(0)
    t = fn(_param())
    lo, hi = bound if isinstance(bound, tuple) else (-bound, bound)
    assert t.data.min() >= lo and t.data.max() <= hi
    # filled, not just bounded: the extremes come close to the bounds
    assert t.data.min() < lo + 0.01 * (hi - lo) and t.data.max() > hi - 0.01 * (hi - lo)
    assert t.data.std() == pytest.approx((hi - lo) / math.sqrt(12), rel=0.02)


@pytest.mark.parametrize(
    ("fn", "mean", "std"),
    [(lambda t: init.normal_(t, 1.5, 0.2), 1.5, 0.2),
     (lambda t: init.xavier_normal_(t, gain=3.0), 0.0, 3 * math.sqrt(2 / 650)),
     (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), 0.0, math.sqrt(2 / 400)),
     (lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"), 0.0,
      math.sqrt(2 / 1.04) / math.sqrt(250))],
)
def test_normal_inits_have_the_right_moments(fn, mean, std):
    mt.manual_seed(1)
    t = fn(_param())
    assert t.data.mean() == pytest.approx(mean, abs=3 * std / math.sqrt(t.size) + 1e-12)
    assert t.data.std() == pytest.approx(std, rel=0.02)


def test_constant_inits():
    t = _param((2, 3))
    assert np.all(init.ones_(t).data == 1)
    assert np.all(init.constant_(t, 2.5).data == 2.5)
    assert np.all(init.zeros_(t).data == 0)


@given(st.integers(0, 2**32 - 1))
def test_inits_reproducible_under_manual_seed_and_in_place(seed):
    fns = [init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
           init.kaiming_uniform_, init.kaiming_normal_]
    runs = []
    for _ in range(2):
        mt.manual_seed(seed)
        out = []
        for fn in fns:
            t = _param((4, 3))
            data = t.data
            assert fn(t) is t and t.data is data  # in place, returns the tensor
            out.append(t.data.tobytes())
        runs.append(out)
    assert runs[0] == runs[1]


def test_inits_keep_dtype_and_accept_arrays():
    t = init.kaiming_uniform_(_param((5, 4), np.float32))
    assert t.dtype == np.float32 and np.abs(t.data).max() > 0
    arr = np.zeros((3, 3))
    assert init.normal_(arr) is arr and arr.std() > 0
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(_param((2, 2)), mode="fan_avg")
