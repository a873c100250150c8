"""Pooling and reshaping layers against PyTorch: max/avg pooling 1-D and 2-D (kernel, stride,
padding, dilation, ceil_mode, count_include_pad), ties and nans in max pooling (PyTorch's
first-max rule), adaptive average pooling, Flatten, Unflatten, Upsample/interpolate (nearest);
forward, input gradient, float32 and float64, memory layouts, gradcheck/gradgradcheck and
forward mode on small sizes, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F
from microtensor.gradcheck import gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(11)


def layout(a: np.ndarray, kind: str) -> np.ndarray:
    """The values of `a` in another memory layout: C, Fortran, a transposed view or a slice."""
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "T":
        return np.ascontiguousarray(a.transpose(*range(a.ndim)[::-1])).transpose(
            *range(a.ndim)[::-1])
    if kind == "S":
        big = np.zeros(tuple(2 * n for n in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    return a


def compare(mt_fn, torch_fn, x, dtype=np.float64, kind="C", exact=False):
    """Forward and input gradient of mt_fn(x) vs torch_fn(x) for a random output gradient."""
    x = x.astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    xm = mt.Tensor(layout(x, kind), requires_grad=True)
    yt, ym = torch_fn(xt), mt_fn(xm)
    assert ym.shape == tuple(yt.shape) and ym.dtype == dtype
    # float32: values of order 1 summed over up to 8 neighbours, each rounded at 6e-8
    close = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                       "atol": 1e-12}
    tol = {"rtol": 0, "atol": 0} if exact else close
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **tol)
    g = RNG.standard_normal(ym.shape).astype(dtype)
    yt.backward(torch.tensor(g))
    ym.backward(g)
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), **close)


# (kernel, stride, padding, dilation, ceil_mode)
MAX2D = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, True),
    ((2, 3), (1, 2), (1, 1), 1, False),
    (3, 1, 1, (2, 1), False),
    ((3, 2), 2, (1, 0), 1, True),
    (2, 3, 0, 2, True),
]


@pytest.mark.parametrize("case", MAX2D)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_matches_torch(case, dtype):
    k, s, p, d, ceil = case
    x = RNG.standard_normal((2, 3, 9, 10))
    compare(lambda t: F.max_pool2d(t, k, s, p, d, ceil),
            lambda t: TF.max_pool2d(t, k, s, p, d, ceil), x, dtype, exact=True)


@pytest.mark.parametrize("kind", ["F", "T", "S"])
def test_max_and_avg_pool_any_memory_layout(kind):
    x = RNG.standard_normal((2, 3, 7, 8))
    compare(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), x,
            np.float32, kind)
    compare(lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: TF.avg_pool2d(t, 3, 2, 1), x,
            np.float64, kind)


@pytest.mark.parametrize("stride", [1, 2])
def test_max_pool_ties_send_the_gradient_to_the_first_maximum_as_torch(stride):
    """Windows full of equal values (and overlapping ones, stride 1, where a shared maximum
    collects several gradients): PyTorch's CPU rule, the first maximum in window order."""
    x = RNG.integers(0, 2, (2, 2, 7, 8)).astype(np.float64)
    compare(lambda t: F.max_pool2d(t, 3, stride, 1), lambda t: TF.max_pool2d(t, 3, stride, 1),
            x, exact=True)
    compare(lambda t: F.max_pool1d(t, 2, stride), lambda t: TF.max_pool1d(t, 2, stride),
            np.ones((1, 2, 9)), exact=True)
    y, idx = F.max_pool2d(mt.Tensor(x), 3, stride, 1, return_indices=True)
    _, ref = TF.max_pool2d(torch.tensor(x), 3, stride, 1, return_indices=True)
    np.testing.assert_array_equal(idx.data, ref.numpy())


def test_max_unpool2d_puts_the_maxima_back_like_torch():
    x = RNG.standard_normal((2, 3, 9, 8))
    for pool_kw, unpool_kw in [({"kernel_size": 2}, {}), ({"kernel_size": 3, "stride": 2,
                                                          "padding": 1}, {"output_size": (9, 8)})]:
        yt, it = TF.max_pool2d(torch.tensor(x), return_indices=True, **pool_kw)
        y, i = F.max_pool2d(mt.Tensor(x), return_indices=True, **pool_kw)
        compare(lambda t, i=i, kw={**pool_kw, **unpool_kw}: F.max_unpool2d(t, i, **kw),
                lambda t, i=it, kw={**pool_kw, **unpool_kw}: TF.max_unpool2d(t, i, **kw),
                y.data)
    with pytest.raises(ValueError, match="max_unpool2d: an index lies outside"):
        F.max_unpool2d(y, i, 3, 2, 1, output_size=(4, 4))
    yt, it = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    _, i = F.max_pool2d(mt.Tensor(x), 2, return_indices=True)
    compare(lambda t: nn.MaxUnpool2d(2)(t, i), lambda t: torch.nn.MaxUnpool2d(2)(t, it),
            yt.numpy())


def test_max_pool_nan_wins_like_torch():
    x = RNG.standard_normal((1, 1, 4, 6))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    y, idx = F.max_pool2d(mt.Tensor(x), 2, return_indices=True)
    yt, ref = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(y.data, yt.numpy())  # nan in the same places
    np.testing.assert_array_equal(idx.data, ref.numpy())


def test_max_pool_integer_input_like_torch_on_the_same_values():
    x = RNG.integers(-50, 50, (2, 3, 7, 8))
    for dtype in (np.int64, np.int32, np.uint8):
        a = x.astype(dtype)
        y = F.max_pool2d(mt.Tensor(a), 3, 2, 1)
        assert y.dtype == dtype and not y.requires_grad
        ref = TF.max_pool2d(torch.tensor(a.astype(np.float64)), 3, 2, 1).numpy()
        np.testing.assert_array_equal(y.data, ref.astype(dtype))
    np.testing.assert_array_equal(F.max_pool1d(mt.Tensor(x[0]), 2, padding=1).data,
                                  TF.max_pool1d(torch.tensor(x[0]).double(), 2, padding=1))
    with pytest.raises(TypeError, match="avg_pool2d: expected a floating-point input"):
        F.avg_pool2d(mt.Tensor(x), 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool1d_matches_torch(dtype):
    x = RNG.standard_normal((2, 3, 13))
    for k, s, p, d, ceil in [(3, 2, 1, 1, True), (2, None, 0, 1, False), (3, 1, 1, 2, False)]:
        compare(lambda t, a=(k, s, p, d, ceil): F.max_pool1d(t, *a),
                lambda t, a=(k, s, p, d, ceil): TF.max_pool1d(t, *a), x, dtype, exact=True)


# (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG2D = [
    (2, None, 0, False, True, None),
    (3, 2, 1, True, True, None),
    (3, 2, 1, True, False, None),
    ((2, 3), (3, 2), (1, 1), True, False, None),
    ((3, 2), 1, (1, 0), False, True, 5),
]


@pytest.mark.parametrize("case", AVG2D)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avg_pool2d_matches_torch(case, dtype):
    k, s, p, ceil, include, div = case
    x = RNG.standard_normal((2, 3, 9, 8))
    compare(lambda t: F.avg_pool2d(t, k, s, p, ceil, include, div),
            lambda t: TF.avg_pool2d(t, k, s, p, ceil, include, div), x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avg_pool3d_matches_torch(dtype):
    x = RNG.standard_normal((2, 2, 5, 6, 7))
    for args in [(2,), ((3, 2, 3), (2, 1, 2), (1, 0, 1), True, False),
                 (3, 2, 1, True, True, 4)]:
        compare(nn.AvgPool3d(*args), torch.nn.AvgPool3d(*args), x, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avg_pool1d_matches_torch(dtype):
    x = RNG.standard_normal((2, 3, 11))
    for k, s, p, ceil, include in [(3, 2, 1, True, False), (2, None, 0, False, True),
                                   (4, 3, 2, True, True)]:
        compare(lambda t, a=(k, s, p, ceil, include): F.avg_pool1d(t, *a),
                lambda t, a=(k, s, p, ceil, include): TF.avg_pool1d(t, *a), x, dtype)


@pytest.mark.parametrize("size", [(3, 4), 1, (5, None), (None, 2), 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_avg_pool2d_matches_torch(size, dtype):
    x = RNG.standard_normal((2, 3, 7, 9))
    compare(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x, dtype)
    compare(lambda t: F.adaptive_avg_pool2d(t, size),
            lambda t: TF.adaptive_avg_pool2d(t, size), x[0], dtype)  # (C, H, W) too


def test_adaptive_avg_pool1d_matches_torch():
    x = RNG.standard_normal((2, 3, 10))
    for size in (1, 3, 4, 10):
        compare(nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), x)


@pytest.mark.parametrize("kwargs", [{"scale_factor": 2}, {"scale_factor": 1.5},
                                    {"size": (5, 13)}, {"scale_factor": (2, 3)},
                                    {"size": (3, 3)}])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_upsample_nearest_matches_torch(kwargs, dtype):
    x = RNG.standard_normal((2, 3, 4, 6))
    compare(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x, dtype)


_MODES = [("linear", (2, 3, 7)), ("bilinear", (2, 2, 5, 6)), ("trilinear", (1, 2, 3, 4, 5))]


@pytest.mark.parametrize("mode, shape, align", [
    *((m, s, a) for m, s in _MODES for a in (None, True)),
    ("nearest-exact", (2, 2, 5, 6), None), ("nearest", (1, 2, 3, 4, 5), None)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_modes_match_torch(mode, shape, align, dtype):
    x = RNG.standard_normal(shape)
    nd = len(shape) - 2
    for kw in ({"size": (9, 4, 3)[:nd]}, {"scale_factor": 1.7}, {"scale_factor": (2, 1.5, 3)[:nd]},
               {"size": (1, 1, 2)[:nd]}):
        compare(lambda t, k=kw: F.interpolate(t, mode=mode, align_corners=align, **k),
                lambda t, k=kw: TF.interpolate(t, mode=mode, align_corners=align, **k), x, dtype)
    compare(nn.Upsample(scale_factor=2, mode=mode, align_corners=align),
            torch.nn.Upsample(scale_factor=2, mode=mode, align_corners=align), x, dtype)


def test_interpolate_1d_matches_torch():
    x = RNG.standard_normal((2, 3, 5))
    for kwargs in ({"scale_factor": 3}, {"size": 7}, {"size": 2}, {"scale_factor": 1.7},
                   {"scale_factor": 1.7, "recompute_scale_factor": True}):
        compare(lambda t, kw=kwargs: F.interpolate(t, **kw),
                lambda t, kw=kwargs: TF.interpolate(t, **kw), x)


def test_flatten_and_unflatten_match_torch():
    x = RNG.standard_normal((2, 3, 4, 5))
    for args in ((), (0,), (1, 2), (2, -1), (-3, -2)):
        compare(nn.Flatten(*args), torch.nn.Flatten(*args), x)
    compare(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), x)
    compare(nn.Unflatten(-1, (5, -1)), torch.nn.Unflatten(-1, (5, -1)), x)
    with pytest.raises(ValueError, match=r"Unflatten: cannot split axis 1 of size 3"):
        nn.Unflatten(1, (2, 2))(mt.Tensor(x))


@pytest.mark.slow
def test_pooling_gradcheck_gradgradcheck_and_forward_mode_small():
    x = mt.Tensor(RNG.standard_normal((2, 2, 5, 6)), requires_grad=True)
    x1 = mt.Tensor(RNG.standard_normal((2, 2, 7)), requires_grad=True)
    cases = [
        (lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x),
        (lambda t: F.max_pool2d(t, 2, 1), x),  # overlapping windows
        (lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), x),
        (lambda t: F.adaptive_avg_pool2d(t, (2, 4)), x),
        (lambda t: F.interpolate(t, scale_factor=2), x),
        (lambda t: F.interpolate(t, size=(3, 8), mode="bilinear"), x),
        (lambda t: F.interpolate(t, size=(7, 4), mode="bilinear", align_corners=True), x),
        (lambda t: F.max_pool1d(t, 3, 2, 1), x1),
        (lambda t: F.avg_pool1d(t, 2), x1),
        (lambda t: F.max_unpool2d(t, F.max_pool2d(x, 2, return_indices=True)[1], 2),
         mt.Tensor(RNG.standard_normal((2, 2, 2, 3)), requires_grad=True)),
    ]
    for fn, inp in cases:
        assert mt.gradcheck(fn, [inp], check_forward_ad=True)
        assert gradgradcheck(fn, [inp])


def test_max_pool_double_backward_matches_torch():
    """A second derivative through max pooling: the gradient of (d loss / dx) . v."""
    x, v = RNG.standard_normal((2, 3, 6, 6)), RNG.standard_normal((2, 3, 6, 6))

    def run(lib, xa, va):
        pool = TF.max_pool2d if lib is torch else F.max_pool2d
        y = pool(xa, 3, 1, 1)
        grad = torch.autograd.grad if lib is torch else mt.grad
        (gx,) = grad(((y * y) ** 2).sum() if lib is torch else ((y * y) ** 2).sum(), [xa],
                     create_graph=True)
        return grad((gx * va).sum(), [xa])[0]

    ref = run(torch, torch.tensor(x, requires_grad=True), torch.tensor(v))
    got = run(mt, mt.Tensor(x, requires_grad=True), v)
    np.testing.assert_allclose(got.data, ref.numpy(), rtol=1e-10, atol=1e-10)


def test_lenet_shapes_and_one_step_match_torch():
    """A LeNet-like model (the benchmark's) built from both frameworks' layers with the same
    weights: the same loss and the same parameter gradients, float32."""
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(256, 10))
    m = nn.Sequential(
        nn.Conv2d(1, 6, 5, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(256, 10, dtype=np.float32))
    m.load_state_dict({k: (v.T if v.ndim == 2 else v).detach().numpy()
                       for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((4, 1, 28, 28)).astype(np.float32)
    y = RNG.integers(0, 10, 4)
    lt = TF.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
    lm = F.cross_entropy(m(mt.Tensor(x)), y)
    np.testing.assert_allclose(lm.item(), lt.item(), rtol=1e-5)
    lt.backward()
    lm.backward()
    for (name, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters()):
        ref = tp.grad.numpy()
        np.testing.assert_allclose(p.grad.data, ref.T if ref.ndim == 2 else ref,
                                   rtol=1e-4, atol=1e-5, err_msg=name)


def test_pooling_errors_name_the_layer_and_the_shapes():
    x = mt.Tensor(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=4.*max_pool2d: kernel of "
                                         r"size \(4, 4\).*\(1, 2, 3, 3\)"):
        nn.MaxPool2d(4)(x)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding \(2, 2\) should be at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 4-D input.*\(2, 3, 3\)"):
        F.max_pool2d(mt.Tensor(np.zeros((2, 3, 3))), 2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="Upsample: mode 'bicubic'"):
        nn.Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' takes a 4-D input, "
                                         r"got shape \(1, 2, 3\)"):
        F.interpolate(mt.Tensor(np.zeros((1, 2, 3))), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
