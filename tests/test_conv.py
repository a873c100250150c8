"""Convolution against PyTorch with the same weights: F.conv1d/conv2d/conv_transpose1d/2d and
nn.Conv1d/Conv2d/ConvTranspose1d/2d (forward, input and parameter gradients, float32 and
float64, odd sizes, stride/padding/dilation/groups, C, Fortran, transposed and sliced inputs),
gradcheck, gradgradcheck and forward mode on small sizes, and errors that name the layer."""

from __future__ import annotations

import math

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F
from microtensor.gradcheck import gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
TF = torch.nn.functional

RNG = np.random.default_rng(17)


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


def tol(dtype: type) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-9,
                                                                       "atol": 1e-10}


def compare(mt_fn, torch_fn, arrays, dtype=np.float64, kind="C", **kwargs):
    """Forward and every input's gradient (with a random output gradient) of mt_fn vs
    torch_fn on the same arrays."""
    arrays = [a.astype(dtype) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ms = [mt.Tensor(layout(a, kind), requires_grad=True) for a in arrays]
    yt, ym = torch_fn(*ts, **kwargs), mt_fn(*ms, **kwargs)
    assert ym.dtype == dtype and ym.shape == tuple(yt.shape)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **tol(dtype))
    g = RNG.standard_normal(ym.shape).astype(dtype)
    yt.backward(torch.tensor(g))
    ym.backward(g)
    for m, t in zip(ms, ts):
        assert m.grad.dtype == dtype
        np.testing.assert_allclose(m.grad.data, t.grad.numpy(), **tol(dtype))


# (in_channels, out_channels, kernel, stride, padding, dilation, groups), odd sizes
CONV2D = [
    (3, 4, (3, 3), 1, 0, 1, 1),
    (3, 5, (3, 2), (2, 1), (1, 2), 1, 1),
    (4, 6, (2, 3), 2, 1, (2, 1), 2),
    (4, 4, 3, 1, "same", 2, 4),
    (2, 6, (4, 2), 1, "same", 1, 2),
    (3, 2, (1, 1), 3, "valid", 1, 1),
    (6, 3, 5, (1, 3), 2, (1, 2), 3),
]


@pytest.mark.parametrize("case", CONV2D)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_matches_torch(case, dtype):
    cin, cout, k, s, p, d, g = case
    kh, kw = (k, k) if isinstance(k, int) else k
    x = RNG.standard_normal((2, cin, 9, 11))
    w = RNG.standard_normal((cout, cin // g, kh, kw))
    b = RNG.standard_normal(cout)
    compare(F.conv2d, TF.conv2d, [x, w, b], dtype, stride=s, padding=p, dilation=d, groups=g)


@pytest.mark.parametrize("kind", ["F", "T", "S"])
def test_conv2d_any_memory_layout(kind):
    x = RNG.standard_normal((3, 4, 7, 8))
    w = RNG.standard_normal((6, 2, 3, 2))
    compare(F.conv2d, TF.conv2d, [x, w], np.float64, kind, stride=(2, 1), padding=1, groups=2)
    compare(F.conv2d, TF.conv2d, [x, w], np.float32, kind, padding="same", groups=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [(1, 0, 1, 1), (2, 1, 1, 1), (3, 2, 2, 2), (1, "same", 3, 1),
                                  (2, "valid", 1, 3)])
def test_conv1d_matches_torch(case, dtype):
    s, p, d, g = case
    x = RNG.standard_normal((2, 6, 13))
    w = RNG.standard_normal((6, 6 // g, 3))
    b = RNG.standard_normal(6)
    compare(F.conv1d, TF.conv1d, [x, w, b], dtype, stride=s, padding=p, dilation=d, groups=g)


# (in, out, kernel, stride, padding, output_padding, groups, dilation)
TRANSPOSED = [
    (3, 4, 3, 1, 0, 0, 1, 1),
    (4, 6, (3, 2), 2, 1, 1, 2, 1),
    (2, 3, (2, 3), (2, 3), (1, 0), (1, 2), 1, 1),
    (4, 2, 3, (2, 1), 1, (0, 1), 2, (1, 2)),
    (3, 3, 2, 3, 0, 2, 3, 2),
]


@pytest.mark.parametrize("case", TRANSPOSED)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_transpose2d_matches_torch(case, dtype):
    cin, cout, k, s, p, op, g, d = case
    kh, kw = (k, k) if isinstance(k, int) else k
    x = RNG.standard_normal((2, cin, 5, 7))
    w = RNG.standard_normal((cin, cout // g, kh, kw))
    b = RNG.standard_normal(cout)
    compare(F.conv_transpose2d, TF.conv_transpose2d, [x, w, b], dtype, stride=s, padding=p,
            output_padding=op, groups=g, dilation=d)


@pytest.mark.parametrize("kind", ["C", "F", "S"])
def test_conv_transpose1d_matches_torch(kind):
    x = RNG.standard_normal((2, 4, 9))
    w = RNG.standard_normal((4, 3, 3))
    compare(F.conv_transpose1d, TF.conv_transpose1d, [x, w, RNG.standard_normal(6)],
            np.float64, kind, stride=2, padding=1, output_padding=1, groups=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv3d_and_conv_transpose3d_match_torch(dtype):
    x = RNG.standard_normal((2, 4, 5, 6, 7))
    compare(F.conv3d, TF.conv3d, [x, RNG.standard_normal((6, 2, 3, 2, 3)),
                                  RNG.standard_normal(6)],
            dtype, stride=(2, 1, 2), padding=(1, 0, 2), dilation=(1, 2, 1), groups=2)
    compare(F.conv3d, TF.conv3d, [x, RNG.standard_normal((3, 4, 2, 3, 3))], dtype,
            padding="same")
    compare(F.conv_transpose3d, TF.conv_transpose3d,
            [x, RNG.standard_normal((4, 3, 2, 3, 2)), RNG.standard_normal(6)], dtype,
            stride=(2, 1, 3), padding=(1, 1, 0), output_padding=(1, 0, 2), groups=2)


def _torch_pair(layer, torch_layer, dtype):
    """Our layer loaded with the torch layer's parameters (PyTorch's layout as is)."""
    state = {k: v.detach().numpy().astype(dtype) for k, v in torch_layer.state_dict().items()}
    layer.load_state_dict(state)
    return layer


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("Conv2d", (3, 6, (3, 5)), {"stride": 2, "padding": (1, 2), "dilation": (2, 1)},
     (2, 3, 11, 9)),
    ("Conv2d", (4, 8, 3), {"groups": 4, "padding": "same", "bias": False}, (1, 4, 6, 7)),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "groups": 2}, (3, 4, 10)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1,
                                    "groups": 2}, (2, 4, 5, 4)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 3, "dilation": 2}, (2, 3, 5)),
    ("Conv3d", (2, 4, (2, 3, 2)), {"stride": (1, 2, 1), "padding": 1}, (2, 2, 4, 5, 4)),
    ("ConvTranspose3d", (2, 4, 2), {"stride": 2, "output_padding": 1}, (1, 2, 3, 2, 3)),
])
def test_conv_layers_match_torch_with_the_same_weights(name, args, kwargs, shape, dtype):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    t_layer = getattr(torch.nn, name)(*args, **kwargs, dtype=tdtype)
    layer = _torch_pair(getattr(nn, name)(*args, **kwargs, dtype=dtype), t_layer, dtype)
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in t_layer.named_parameters()]
    x = RNG.standard_normal(shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    xm = mt.Tensor(x, requires_grad=True)
    yt, ym = t_layer(xt), layer(xm)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), **tol(dtype))
    g = RNG.standard_normal(ym.shape).astype(dtype)
    yt.backward(torch.tensor(g))
    ym.backward(g)
    np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), **tol(dtype))
    for (n, p), (_, tp) in zip(layer.named_parameters(), t_layer.named_parameters()):
        assert p.grad.dtype == dtype, n
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), **tol(dtype))


@pytest.mark.parametrize("make, fan_in, shape", [
    (lambda: nn.Conv2d(6, 8, (3, 5), groups=2), 3 * 15, (8, 3, 3, 5)),
    (lambda: nn.Conv1d(4, 2, 7), 4 * 7, (2, 4, 7)),
    (lambda: nn.ConvTranspose2d(6, 8, 3, groups=2), 4 * 9, (6, 4, 3, 3)),
])
def test_conv_layers_initialise_like_pytorch(make, fan_in, shape):
    mt.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.shape == shape and layer.weight.dtype == np.float64
    assert layer.bias.shape == (shape[1] * 2 if "Transpose" in type(layer).__name__
                                else shape[0],)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound  # spread over the bound, not less
    mt.manual_seed(0)
    np.testing.assert_array_equal(make().weight.data, layer.weight.data)
    assert nn.Conv2d(1, 2, 3, dtype=np.float32).weight.dtype == np.float32


@pytest.mark.slow
def test_conv_gradcheck_and_gradgradcheck_small():
    x = mt.Tensor(RNG.standard_normal((2, 4, 5, 4)), requires_grad=True)
    w = mt.Tensor(RNG.standard_normal((6, 2, 3, 2)), requires_grad=True)
    wt = mt.Tensor(RNG.standard_normal((4, 3, 2, 3)), requires_grad=True)
    w1 = mt.Tensor(RNG.standard_normal((3, 4, 2)), requires_grad=True)
    x1 = mt.Tensor(RNG.standard_normal((2, 4, 6)), requires_grad=True)
    x3 = mt.Tensor(RNG.standard_normal((1, 2, 3, 4, 3)), requires_grad=True)
    w3 = mt.Tensor(RNG.standard_normal((2, 2, 2, 2, 2)), requires_grad=True)
    cases = [
        (lambda a, b: F.conv2d(a, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
         [x, w]),
        (lambda a, b: F.conv3d(a, b, stride=(1, 2, 1), padding=(0, 1, 1)), [x3, w3]),
        (lambda a, b: F.conv_transpose2d(a, b, stride=(2, 1), padding=1, output_padding=(1, 0),
                                         groups=2), [x, wt]),
        (lambda a, b: F.conv1d(a, b, stride=2, padding=1), [x1, w1]),
    ]
    for fn, inputs in cases:
        assert mt.gradcheck(fn, inputs, check_forward_ad=True)
        assert gradgradcheck(fn, inputs)


def test_conv_double_backward_matches_torch():
    """Hessian-vector products through conv (ConvTranspose and ConvWeight recorded)."""
    x = RNG.standard_normal((2, 4, 6, 5))
    w = RNG.standard_normal((6, 2, 3, 3))
    v = RNG.standard_normal((2, 4, 6, 5))

    def run(lib, xa, wa, va):
        conv = TF.conv2d if lib is torch else F.conv2d
        y = conv(xa, wa, stride=(2, 1), padding=1, groups=2)
        loss = (y * y).sum()
        if lib is torch:
            (gx,) = torch.autograd.grad(loss, xa, create_graph=True)
            return torch.autograd.grad((gx * va).sum(), (xa, wa))
        (gx,) = mt.grad(loss, [xa], create_graph=True)
        return mt.grad((gx * va).sum(), [xa, wa])

    ref = run(torch, *(torch.tensor(a, requires_grad=True) for a in (x, w)), torch.tensor(v))
    got = run(mt, *(mt.Tensor(a, requires_grad=True) for a in (x, w)), v)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.data, r.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_conv_forward_over_reverse_matches_torch_func():
    """jvp of the gradient of conv: the jvp rules of ConvTranspose and ConvWeight."""
    x, w = RNG.standard_normal((2, 4, 5, 5)), RNG.standard_normal((4, 2, 2, 3))
    tx, tw = RNG.standard_normal(x.shape), RNG.standard_normal(w.shape)

    def mt_grads(a, b):
        y = F.conv2d(a, b, stride=2, padding=1, groups=2)
        return mt.grad((y * y).sum(), [a, b], create_graph=True)

    def t_loss(a, b):
        return (TF.conv2d(a, b, stride=2, padding=1, groups=2) ** 2).sum()

    t_grads = torch.func.grad(t_loss, argnums=(0, 1))

    _, ref = torch.func.jvp(t_grads, tuple(map(torch.tensor, (x, w))),
                            tuple(map(torch.tensor, (tx, tw))))
    _, got = mt.func.jvp(lambda a, b: tuple(mt_grads(a, b)),
                         (mt.Tensor(x, requires_grad=True), mt.Tensor(w, requires_grad=True)),
                         (tx, tw))
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g.data, r.numpy(), rtol=1e-9, atol=1e-9)


def test_conv_of_an_empty_batch_is_empty_as_torch():
    x = mt.Tensor(np.zeros((0, 2, 5, 5)), requires_grad=True)
    w = mt.Tensor(RNG.standard_normal((4, 2, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == tuple(TF.conv2d(torch.zeros(0, 2, 5, 5), torch.ones(4, 2, 3, 3),
                                      padding=1).shape)
    y.sum().backward()
    assert x.grad.shape == x.shape and not w.grad.data.any()
    assert F.conv_transpose2d(x, w.data.transpose(1, 0, 2, 3)).shape == (0, 4, 7, 7)
    assert F.max_pool2d(x, 2).shape == (0, 2, 2, 2)


def test_conv_float32_stays_float32_and_no_input_is_changed():
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    before = x.copy()
    layer = nn.Conv2d(3, 4, 3, padding=1, dtype=np.float32)
    xm = mt.Tensor(x, requires_grad=True)
    y = layer(xm)
    y.sum().backward()
    assert y.dtype == xm.grad.dtype == layer.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_conv_errors_name_the_layer_and_the_shapes():
    x = mt.Tensor(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*\(1, 2, 5, 5\) has 2 channels.*"
                                         r"\(4, 3, 3, 3\)"):
        nn.Conv2d(3, 4, 3)(x)
    with pytest.raises(ValueError, match=r"Conv2d\(2, 4.*kernel of size \(7, 7\).*larger"):
        nn.Conv2d(2, 4, 7)(x)
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D input.*\(2, 5, 5\)"):
        F.conv2d(mt.Tensor(np.zeros((2, 5, 5))), np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="same.*stride 1"):
        nn.Conv2d(2, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv1d.*conv1d: input of shape \(1, 3, 8\)"):
        nn.Conv1d(2, 2, 3)(mt.Tensor(np.zeros((1, 3, 8))))
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*output_padding"):
        nn.ConvTranspose2d(2, 2, 3, stride=1, output_padding=1)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(TypeError, match="conv2d: groups must be an int"):
        F.conv2d(x, np.zeros((4, 2, 3, 3)), groups=1.5)
    with pytest.raises(ValueError, match=r"bias of shape \(3,\)"):
        F.conv2d(x, np.zeros((4, 2, 3, 3)), np.zeros(3))


def test_conv_layers_repr_and_functional_names():
    assert repr(nn.Conv2d(1, 6, 5)).startswith("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))")
    assert "output_padding=(1, 1)" in repr(nn.ConvTranspose2d(2, 3, 3, 2, output_padding=1))
    for name in ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"):
        assert callable(getattr(F, name))
