"""nn.functional's activations and their modules (nn/activations.py) against PyTorch: values,
gradients and gradients of gradients in float32 and float64 on every memory layout, the
arguments PyTorch takes, stability at extreme inputs, and clean errors. Also the PyTorch
behaviours of the elementwise math ops (microtensor/ops/math.py) that the op table's NumPy
references do not pin down: the // and % operators, zero gradients of the rounding ops,
remainder's divisor gradient, lerp's weight, round's decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import strategies as S

import microtensor as mt
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float64: 1e-10, np.float32: 2e-5}

# (name, keyword arguments): each runs as F.<name>(x, **kw) and torch's F.<name>(x, **kw)
ACTIVATIONS: list[tuple[str, dict[str, Any]]] = [
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("elu", {}),
    ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {}), ("celu", {"alpha": 1.7}),
    ("softplus", {}), ("logsigmoid", {}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.25, "max_val": 2.0}), ("relu6", {}), ("hardsigmoid", {}),
    ("hardswish", {}), ("mish", {}), ("softsign", {}), ("tanhshrink", {}), ("glu", {}),
    ("glu", {"dim": 0}), ("softmin", {"dim": 1}), ("softmin", {"dim": 0}),
    ("softmax", {"dim": 0}), ("log_softmax", {"dim": 1}),
]
# where each activation has a kink (or jump): drawn data stay away from these points, since
# microtensor's gradient at a kink is the average of the one-sided ones and PyTorch's is not
KINKS = {"elu": (0.0,), "selu": (0.0,), "hardtanh": (-1.0, 1.0, -0.25, 2.0),
         "relu6": (0.0, 6.0), "hardsigmoid": (-3.0, 3.0), "hardswish": (-3.0, 3.0),
         "softplus": (10.0, 1.5, 2.0, 20.0)}


def _ids(cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw in cases]


def _data(name: str, dtype: Any, layout: str, seed: int = 0) -> np.ndarray:
    """A 4x6 array over [-8, 8] (both saturated ends of every activation) away from kinks,
    in `layout` (C, F, transposed or strided)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-8, 8, (4, 6))
    for k in KINKS.get(name, ()):
        a[np.abs(a - k) < 1e-2] += 0.05
    return S.relayout(a.astype(dtype), layout)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("layout", S.LAYOUTS)
@pytest.mark.parametrize(("name", "kw"), ACTIVATIONS, ids=_ids(ACTIVATIONS))
def test_activation_matches_pytorch_values_and_gradients(name, kw, layout, dtype):
    """Values, dtype and the gradient of a weighted sum equal PyTorch's, on every layout."""
    a = _data(name, dtype, layout)
    x = mt.Tensor(a, requires_grad=True)
    xt = torch.tensor(np.ascontiguousarray(a), requires_grad=True)
    y = getattr(F, name)(x, **kw)
    yt = getattr(TF, name)(xt, **kw)
    assert y.dtype == a.dtype and y.shape == tuple(yt.shape)
    w = np.random.default_rng(1).uniform(0.5, 1.5, y.shape).astype(dtype)
    (y * w).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=tol, atol=tol)
    assert x.grad.dtype == a.dtype
    if (name == "celu" and kw) or name == "hardsigmoid":  # PyTorch's gradients round
        tol = max(tol, 1e-6)  # 1 / alpha and 1 / 6 to float32: test_*_gradient_is_exact
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_array_equal(x.data, a)  # the input is never changed


SECOND_ORDER = ["gelu", "silu", "elu", "celu", "softplus", "logsigmoid", "mish", "softsign",
                "tanhshrink", "glu", "softmin", "hardswish"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_activation_second_order_gradgradcheck_and_pytorch_hvp(name):
    """Gradients of gradients: central differences (gradgradcheck, float64) and PyTorch's
    Hessian-vector product agree with create_graph=True."""
    a = np.random.default_rng(2).uniform(-3, 3, (3, 4))
    a[np.abs(a) < 0.05] += 0.1
    a[np.abs(np.abs(a) - 3) < 0.05] -= 0.1
    kw = {"dim": -1} if name == "softmin" else {}
    fn, th_fn = (lambda t: getattr(F, name)(t, **kw)), (lambda t: getattr(TF, name)(t, **kw))
    assert mt.gradgradcheck(fn, [mt.Tensor(a, requires_grad=True)])
    x = mt.Tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    v = np.random.default_rng(3).normal(size=a.shape)
    (g,) = mt.grad(fn(x).sum(), [x], create_graph=True)
    (hv,) = mt.grad((g * v).sum(), [x])
    (gt,) = torch.autograd.grad(th_fn(xt).sum(), [xt], create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.from_numpy(v)).sum(), [xt])
    np.testing.assert_allclose(hv.data, hvt.numpy(), rtol=1e-9, atol=1e-10)


STABLE = ["gelu", "gelu_tanh", "silu", "elu", "selu", "celu", "softplus", "logsigmoid",
          "mish", "softsign", "tanhshrink", "hardswish", "hardsigmoid"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", STABLE)
def test_activation_stable_at_extreme_inputs(name, dtype):
    """At +-1e4 and +-1e30 (exp overflows) values and gradients are finite and PyTorch's
    (where PyTorch's are finite: its float32 tanh-gelu overflows to nan at 1e30), with no
    floating-point warning (the suite turns them into errors)."""
    a = np.array([-1e30, -1e4, -80.0, -9.0, 9.0, 80.0, 1e4, 1e30], dtype=dtype)
    kw = {"approximate": "tanh"} if name == "gelu_tanh" else {}
    name = name.removesuffix("_tanh")
    x = mt.Tensor(a, requires_grad=True)
    y = getattr(F, name)(x, **kw)
    y.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    yt = getattr(TF, name)(xt, **kw)
    yt.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    tol = TOL[dtype]
    for got, want in ((y.data, yt.detach().numpy()), (x.grad.data, xt.grad.numpy())):
        ok = np.isfinite(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=tol, atol=tol)


def test_kinks_take_the_average_of_the_one_sided_gradients():
    """The core's convention (relu'(0) = 0.5) carried to the composed activations: elu with
    alpha at 0 gives (1 + alpha) / 2, relu6 at 0 and 6 gives 0.5, hardsigmoid at +-3 gives
    1 / 12; where the function is smooth (celu, elu with alpha = 1) the gradient is PyTorch's."""
    cases = [(lambda x: F.elu(x, 0.5), 0.0, 0.75), (F.relu6, 0.0, 0.5), (F.relu6, 6.0, 0.5),
             (F.hardsigmoid, 3.0, 1 / 12), (F.hardsigmoid, -3.0, 1 / 12),
             (lambda x: F.celu(x, 1.7), 0.0, 1.0), (F.elu, 0.0, 1.0)]
    for fn, at, want in cases:
        x = mt.tensor([at], requires_grad=True)
        fn(x).sum().backward()
        np.testing.assert_allclose(x.grad.data, [want], rtol=1e-12)


def test_celu_gradient_is_exact():
    """d/dx celu(x, alpha) = exp(x / alpha) for x < 0, to float64 rounding (PyTorch's own is
    off by ~1e-7 relative: it scales by 1 / alpha rounded to float32)."""
    a = np.array([-3.0512, -0.5, -7.25])
    x = mt.Tensor(a, requires_grad=True)
    F.celu(x, 1.7).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(a / 1.7), rtol=1e-15)


def test_hardsigmoid_gradient_is_exact():
    """d/dx hardsigmoid(x) = 1 / 6 inside (-3, 3), to float64 rounding (PyTorch's is 1 / 6
    rounded to float32), 0 outside."""
    x = mt.Tensor(np.array([-4.0, -2.5, 0.3, 2.9, 3.5]), requires_grad=True)
    F.hardsigmoid(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1 / 6, 1 / 6, 1 / 6, 0.0])


def test_softplus_threshold_and_beta_as_pytorch():
    """Above beta * x > threshold softplus is x itself with gradient 1; below, log(1 +
    exp(beta x)) / beta with gradient sigmoid(beta x); the defaults are beta=1, threshold=20."""
    a = np.array([-30.0, -1.0, 0.0, 0.9, 1.1, 19.0, 21.0, 50.0])
    for kw in ({"beta": 1.0, "threshold": 20.0}, {"beta": 2.0, "threshold": 2.0},
               {"beta": 0.25, "threshold": 0.2}, {"beta": -1.0, "threshold": 5.0}):
        x = mt.Tensor(a, requires_grad=True)
        xt = torch.tensor(a, requires_grad=True)
        F.softplus(x, **kw).sum().backward()
        TF.softplus(xt, **kw).sum().backward()
        np.testing.assert_allclose(F.softplus(mt.tensor(a), **kw).data,
                                   TF.softplus(torch.tensor(a), **kw).numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_activation_modules_match_functional_and_pytorch():
    """Each module takes PyTorch's arguments and gives its function's (and PyTorch's)
    values; the repr shows the arguments."""
    a = _data("modules", np.float64, "C")
    modules = [
        (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.SiLU(), torch.nn.SiLU()), (nn.ELU(0.3), torch.nn.ELU(0.3)),
        (nn.SELU(), torch.nn.SELU()), (nn.CELU(2.0), torch.nn.CELU(2.0)),
        (nn.Softplus(), torch.nn.Softplus()),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()),
        (nn.Hardtanh(-2.0, 3.0), torch.nn.Hardtanh(-2.0, 3.0)), (nn.ReLU6(), torch.nn.ReLU6()),
        (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
        (nn.Mish(), torch.nn.Mish()), (nn.Softsign(), torch.nn.Softsign()),
        (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.GLU(0), torch.nn.GLU(0)),
        (nn.Softmin(1), torch.nn.Softmin(1)), (nn.ELU(inplace=True), torch.nn.ELU()),
    ]
    for ours, theirs in modules:
        got = ours(mt.tensor(a)).data
        np.testing.assert_allclose(got, theirs(torch.tensor(a)).numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=repr(ours))
        assert not list(ours.parameters())
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.ELU(0.5)) == "ELU(alpha=0.5)"
    assert repr(nn.Hardtanh(-2, 2, inplace=True)) == "Hardtanh(min_val=-2, max_val=2, inplace=True)"
    assert repr(nn.GLU()) == "GLU(dim=-1)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"


def test_softplus_module_beta_threshold_as_pytorch():
    """nn.Softplus(beta, threshold) gives PyTorch's values."""
    a = _data("softplus", np.float64, "C")
    np.testing.assert_allclose(nn.Softplus(2.0, 5.0)(mt.tensor(a)).data,
                               torch.nn.Softplus(2.0, 5.0)(torch.tensor(a)).numpy(),
                               rtol=1e-12)


def test_inplace_flag_leaves_the_input_unchanged():
    """inplace=True is accepted (PyTorch code runs) but the result is a new tensor."""
    a = np.array([-1.0, 2.0, 7.0])
    x = mt.tensor(a)
    y = nn.ReLU6(inplace=True)(x)
    np.testing.assert_array_equal(x.data, a)
    np.testing.assert_array_equal(y.data, [0.0, 2.0, 6.0])


ERRORS: list[tuple[Callable[[], Any], type, str]] = [
    (lambda: F.gelu(mt.ones(2), approximate="fast"), ValueError, "gelu"),
    (lambda: nn.GELU("fast"), ValueError, "GELU"),
    (lambda: F.glu(mt.ones((2, 3))), ValueError, "glu.*odd"),
    (lambda: F.glu(mt.tensor(1.0)), ValueError, "glu"),
    (lambda: F.glu(mt.ones((2, 4)), dim=2), IndexError, "glu"),
    (lambda: F.glu(mt.ones((2, 4)), dim=0.5), TypeError, "glu"),
    (lambda: F.celu(mt.ones(2), alpha=0.0), ValueError, "celu"),
    (lambda: F.elu(mt.ones(2), alpha="1"), TypeError, "elu.*alpha"),
    (lambda: F.hardtanh(mt.ones(2), 1.0, -1.0), ValueError, "hardtanh"),
    (lambda: nn.Hardtanh(1.0, -1.0), ValueError, "Hardtanh"),
    (lambda: F.softmin(mt.ones((2, 2)), dim=0, axis=1), TypeError, "softmin"),
    (lambda: F.softmax(mt.ones((2, 2)), 0, dim=1), TypeError, "softmax"),
    (lambda: F.silu("x"), TypeError, "silu"),
    (lambda: F.mish(None), TypeError, "mish"),
]


@pytest.mark.parametrize(("call", "error", "match"), ERRORS)
def test_activation_bad_arguments_raise_clear_errors(call, error, match):
    """A wrong argument is an error naming the activation (and the argument)."""
    with pytest.raises(error, match=match):
        call()


def test_softmax_family_takes_dim_as_pytorch():
    """F.softmax(x, dim=1) (the PyTorch habit), F.log_softmax and F.softmin with dim."""
    a = np.random.default_rng(4).normal(size=(3, 4))
    for name in ("softmax", "log_softmax", "softmin"):
        for dim in (0, 1, -1):
            np.testing.assert_allclose(getattr(F, name)(mt.tensor(a), dim=dim).data,
                                       getattr(TF, name)(torch.tensor(a), dim=dim).numpy(),
                                       rtol=1e-12)
    np.testing.assert_allclose(F.softmin(mt.tensor(a)).data,
                               TF.softmin(torch.tensor(a), dim=-1).numpy(), rtol=1e-12)


# ------------------------------------------------------------------ elementwise math vs PyTorch
def _pair(a: np.ndarray) -> tuple[mt.Tensor, Any]:
    return mt.Tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_floordiv_and_mod_operators_match_python_and_pytorch(dtype):
    """t // y and t % y (and the reflected forms) give Python's floor rounding and the
    divisor's sign, as NumPy and PyTorch; % has d/dx = 1, d/dy = -floor(x / y); // has a zero
    gradient (PyTorch's div(rounding_mode="floor"))."""
    a = np.array([7.5, -7.5, 7.5, -7.5, 0.3], dtype=dtype)
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.7], dtype=dtype)
    (x, xt), (y, yt) = _pair(a), _pair(b)
    r, rt = x % y, xt % yt
    np.testing.assert_allclose(r.data, rt.detach().numpy(), rtol=1e-6)
    r.sum().backward()
    rt.sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy())
    np.testing.assert_allclose(y.grad.data, yt.grad.numpy())
    np.testing.assert_array_equal(y.grad.data, -np.floor_divide(a, b))
    (x, xt), (y, yt) = _pair(a), _pair(b)
    q = x // y
    np.testing.assert_array_equal(q.data, torch.div(xt, yt, rounding_mode="floor").detach())
    q.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0)
    np.testing.assert_array_equal(y.grad.data, 0)
    assert q.dtype == dtype and x.grad.dtype == dtype
    x = mt.Tensor(a)
    np.testing.assert_array_equal((x // 2).data, a // 2)
    np.testing.assert_array_equal((10 // x).data, 10 // a)
    np.testing.assert_array_equal((x % 2).data, a % 2)
    np.testing.assert_array_equal((10 % x).data, 10 % a)
    np.testing.assert_array_equal((np.floor_divide(x, 2)).data, a // 2)


def test_expm1_gradient_precise_for_negative_inputs():
    """d/dx expm1(x) = exp(x) to float32 rounding at x = -9 (out + 1 would cancel: 3 digits)."""
    x = mt.Tensor(np.array([-9.0, -20.0, 0.5], dtype=np.float32), requires_grad=True)
    mt.expm1(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data.astype(np.float64)), rtol=1e-6)


def test_rounding_ops_have_zero_gradients_like_pytorch():
    """sign, floor, ceil, trunc and round: a zero gradient (not None), also at second order."""
    a = np.array([-1.5, -0.4, 0.0, 0.5, 2.5, 2.7])
    for name in ("sign", "floor", "ceil", "trunc", "round"):
        x, xt = _pair(a)
        y = getattr(mt, name)(x)
        np.testing.assert_array_equal(y.data, getattr(torch, name)(xt).detach().numpy())
        (g,) = mt.grad((y * x).sum(), [x], create_graph=True)
        (gt,) = torch.autograd.grad((getattr(torch, name)(xt) * xt).sum(), [xt],
                                    create_graph=True)
        np.testing.assert_array_equal(g.data, gt.detach().numpy())
        (h,) = mt.grad(g.sum(), [x])
        np.testing.assert_array_equal(h.data, 0)


def test_round_decimals_and_numpy_dispatch():
    """round(x, decimals) as NumPy and PyTorch (halves to even); np.round(t, 1) is tracked."""
    a = np.array([0.25, 0.35, -1.45, 12.5, 13.5])
    t = mt.Tensor(a, requires_grad=True)
    for d in (0, 1, -1):
        np.testing.assert_array_equal(mt.round(t, d).data, torch.round(torch.tensor(a),
                                                                       decimals=d).numpy())
    y = np.round(t, 1)
    assert isinstance(y, mt.Tensor) and y.requires_grad
    with pytest.raises(TypeError, match="round"):
        mt.round(t, 1.5)


def test_lerp_weight_tensor_gradients_match_pytorch():
    """lerp(start, end, weight) with a broadcasting weight tensor: all three gradients."""
    rng = np.random.default_rng(5)
    s, e, w = rng.normal(size=(2, 3)), rng.normal(size=(3,)), rng.uniform(size=(2, 1))
    (sm, st), (em, et), (wm, wt) = _pair(s), _pair(e), _pair(w)
    y, yt = mt.lerp(sm, em, wm), torch.lerp(st, et, wt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    for m, t in ((sm, st), (em, et), (wm, wt)):
        np.testing.assert_allclose(m.grad.data, t.grad.numpy(), rtol=1e-12)
    assert mt.gradgradcheck(mt.lerp, [mt.Tensor(s, requires_grad=True),
                                      mt.Tensor(e, requires_grad=True),
                                      mt.Tensor(w, requires_grad=True)])


def test_copysign_gradient_is_zero_at_zero_like_pytorch():
    """d/dx copysign(x, y) = sign(x) sign(y), 0 at x == 0; d/dy = 0."""
    a = np.array([1.5, -1.5, 0.0, -0.0, 2.0])
    b = np.array([-1.0, -1.0, -1.0, 1.0, 0.5])
    (x, xt), (y, yt) = _pair(a), _pair(b)
    mt.copysign(x, y).sum().backward()
    torch.copysign(xt, yt).sum().backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(y.grad.data, yt.grad.numpy())


def test_math_ops_are_methods_and_numpy_dispatch():
    """Each op is a Tensor method and NumPy's ufunc of the same meaning runs it, tracked."""
    x = mt.Tensor(np.array([0.2, 0.6]), requires_grad=True)
    for name, ufunc in (("sin", np.sin), ("arctanh", np.arctanh), ("expm1", np.expm1),
                        ("log10", np.log10), ("square", np.square), ("sign", np.sign)):
        y = ufunc(x)
        assert isinstance(y, mt.Tensor) and y.requires_grad, name
        np.testing.assert_array_equal(getattr(x, name)().data, ufunc(x.data))
    y = np.hypot(x, 2.0)
    assert y.requires_grad
    np.testing.assert_allclose(x.erf().data, torch.erf(torch.tensor(x.data)).numpy())
    np.testing.assert_allclose(x.rsqrt().data, 1 / np.sqrt(x.data))
