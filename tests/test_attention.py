"""Attention against PyTorch with the same inputs and weights: F.scaled_dot_product_attention
(bool, float and causal masks, scale, broadcasting batch axes, memory layouts) and
nn.MultiheadAttention (batch_first, kdim/vdim, key_padding_mask, attn_mask, head weights,
unbatched input), gradients of inputs and parameters, second order, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "sliced":
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        return big[::2]
    return a


def _close(ours, theirs, dtype, what: str) -> None:
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), err_msg=what, **TOL[dtype])


def _cast(value, dtype):
    """A float mask in the inputs' dtype (PyTorch refuses a float64 mask on float32)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    return value


def _masks(rng: np.random.Generator, length: int, source: int) -> dict[str, dict]:
    allowed = rng.random((length, source)) > 0.3
    allowed[:, 0] = True
    return {
        "none": {},
        "causal": {"is_causal": True},
        "bool": {"attn_mask": allowed},
        "bool-broadcast": {"attn_mask": rng.random((2, 1, length, source)) > 0.4},
        "float": {"attn_mask": rng.standard_normal((length, source))},
        "scale": {"scale": 0.37},
    }


@pytest.mark.parametrize("layout", ["C", "F", "transposed", "sliced"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "bool-broadcast", "float", "scale"])
def test_sdpa_matches_torch(mask: str, dtype, layout: str) -> None:
    rng = np.random.default_rng(0)
    length, source = 4, 6
    arrays = [_layout(rng.standard_normal(s).astype(dtype), layout)
              for s in ((2, 3, length, 5), (2, 3, source, 5), (2, 3, source, 7))]
    kwargs = {k: _cast(v, dtype) for k, v in _masks(rng, length, source)[mask].items()}
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ms = [mt.Tensor(a, requires_grad=True) for a in arrays]
    t_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                for k, v in kwargs.items()}
    t_out = torch.nn.functional.scaled_dot_product_attention(*ts, **t_kwargs)
    m_out = F.scaled_dot_product_attention(*ms, **kwargs)
    assert m_out.dtype == np.dtype(dtype)
    _close(m_out, t_out, dtype, "output")
    w = rng.standard_normal(m_out.shape).astype(dtype)
    (t_out * torch.tensor(w)).sum().backward()
    (m_out * w).sum().backward()
    for name, a, b in zip("qkv", ms, ts):
        _close(a.grad, b.grad, dtype, f"gradient of {name}")


def test_sdpa_fully_masked_row_gives_zeros_like_torch() -> None:
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((3, 4), (5, 4), (5, 2)))
    allowed = np.ones((3, 5), dtype=bool)
    allowed[1] = False
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    ms = [mt.Tensor(a, requires_grad=True) for a in (q, k, v)]
    t_out = torch.nn.functional.scaled_dot_product_attention(*ts,
                                                             attn_mask=torch.tensor(allowed))
    m_out = F.scaled_dot_product_attention(*ms, attn_mask=allowed)
    np.testing.assert_array_equal(m_out.data[1], 0.0)
    _close(m_out, t_out, np.float64, "output")
    t_out.sum().backward()
    m_out.sum().backward()
    for a, b in zip(ms, ts):
        assert np.isfinite(a.grad.data).all()
        _close(a.grad, b.grad, np.float64, "gradient")


def test_sdpa_gradcheck_and_gradgradcheck() -> None:
    rng = np.random.default_rng(2)
    inputs = [mt.Tensor(rng.standard_normal(s), requires_grad=True)
              for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3))]
    mask = rng.standard_normal((3, 4))

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    assert mt.gradcheck(fn, inputs)
    assert mt.gradgradcheck(fn, inputs)

    def causal(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    assert mt.gradgradcheck(causal, inputs)


def test_sdpa_dropout_drops_and_rescales_weights() -> None:
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((1, 50, 4)), rng.standard_normal((1, 50, 4))
    v = np.eye(50)[None]  # the output is the weights themselves
    mt.manual_seed(0)
    plain = F.scaled_dot_product_attention(q, k, v).data
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    kept = dropped != 0
    assert 0.35 < kept.mean() < 0.65
    np.testing.assert_allclose(dropped[kept], plain[kept] * 2)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).data, 0)


def test_sdpa_errors_name_the_function_and_shapes() -> None:
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: query \(2, 3, 4\) "
                                         r"and key \(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, np.zeros((2, 5, 3)), v)
    with pytest.raises(ValueError, match="attn_mask of shape \\(3, 4\\) does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 4), dtype=bool))
    with pytest.raises(ValueError, match="give attn_mask or is_causal, not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=bool),
                                       is_causal=True)
    with pytest.raises(TypeError, match="bool or float mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=int))


# ------------------------------------------------------------------ MultiheadAttention
def _pair(dtype, **kwargs):
    theirs = torch.nn.MultiheadAttention(8, 2, **kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.MultiheadAttention(8, 2, dtype=dtype, **kwargs)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return theirs, ours


MHA_CONFIGS = {"default": {}, "batch_first": {"batch_first": True},
               "kdim-vdim": {"kdim": 3, "vdim": 5}, "no-bias": {"bias": False}}


def _mha_masks(rng: np.random.Generator, n: int, length: int, source: int) -> dict[str, dict]:
    padding = rng.random((n, source)) > 0.7
    padding[:, 0] = False
    return {
        "none": {},
        "key_padding-bool": {"key_padding_mask": padding},
        "key_padding-float": {"key_padding_mask": np.where(padding, -1e9, 0.0)},
        "attn-bool": {"attn_mask": rng.random((length, source)) > 0.8},
        "attn-float-3d": {"attn_mask": rng.standard_normal((n * 2, length, source))},
        "both-per-head": {"key_padding_mask": padding, "average_attn_weights": False,
                          "attn_mask": ~np.tri(length, source, dtype=bool)},
        "no-weights": {"need_weights": False},
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask", ["none", "key_padding-bool", "key_padding-float",
                                  "attn-bool", "attn-float-3d", "both-per-head", "no-weights"])
@pytest.mark.parametrize("config", list(MHA_CONFIGS))
def test_mha_matches_torch(config: str, mask: str, dtype) -> None:
    kwargs = MHA_CONFIGS[config]
    rng = np.random.default_rng(4)
    theirs, ours = _pair(dtype, **kwargs)
    n, length, source = 3, 4, 6

    def shape(seq: int, features: int) -> tuple[int, ...]:
        return (n, seq, features) if kwargs.get("batch_first") else (seq, n, features)

    arrays = [rng.standard_normal(shape(length, 8)).astype(dtype),
              rng.standard_normal(shape(source, kwargs.get("kdim", 8))).astype(dtype),
              rng.standard_normal(shape(source, kwargs.get("vdim", 8))).astype(dtype)]
    options = {k: _cast(v, dtype) for k, v in _mha_masks(rng, n, length, source)[mask].items()}
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ms = [mt.Tensor(a, requires_grad=True) for a in arrays]
    t_out, t_w = theirs(*ts, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                for k, v in options.items()})
    m_out, m_w = ours(*ms, **options)
    _close(m_out, t_out, dtype, "output")
    t_loss = (t_out ** 2).sum()
    m_loss = (m_out ** 2).sum()
    if t_w is None:
        assert m_w is None
    else:
        assert m_w.shape == tuple(t_w.shape)
        _close(m_w, t_w, dtype, "attention weights")
        t_loss = t_loss + (t_w ** 3).sum()
        m_loss = m_loss + (m_w ** 3).sum()
    t_loss.backward()
    m_loss.backward()
    for name, a, b in zip(("query", "key", "value"), ms, ts):
        _close(a.grad, b.grad, dtype, f"gradient of {name}")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        _close(params[name].grad, p.grad, dtype, f"gradient of {name}")


def test_mha_unbatched_matches_torch() -> None:
    rng = np.random.default_rng(5)
    theirs, ours = _pair(np.float64)
    x = rng.standard_normal((4, 8))
    padding = np.array([False, True, False, False])
    t_out, t_w = theirs(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(padding))
    m_out, m_w = ours(x, x, x, key_padding_mask=padding)
    _close(m_out, t_out, np.float64, "output")
    _close(m_w, t_w, np.float64, "weights")


def test_mha_state_dict_keys_shapes_and_init_are_torch_like() -> None:
    theirs = torch.nn.MultiheadAttention(8, 2)
    ours = nn.MultiheadAttention(8, 2)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == [
        (k, v.shape) for k, v in ours.state_dict().items()]
    np.testing.assert_array_equal(ours.in_proj_bias.data, 0)
    np.testing.assert_array_equal(ours.out_proj.bias.data, 0)
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform over (3E, E)
    assert np.abs(ours.in_proj_weight.data).max() <= bound
    different = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    theirs = torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert sorted(k for k in theirs.state_dict()) == sorted(different.state_dict())


def test_mha_dropout_only_in_training() -> None:
    mt.manual_seed(0)
    layer = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = np.random.default_rng(6).standard_normal((2, 5, 8))
    first, second = layer(x, x, x)[1].data, layer(x, x, x)[1].data
    assert not np.allclose(first, second)
    layer.eval()
    np.testing.assert_array_equal(layer(x, x, x)[1].data, layer(x, x, x)[1].data)
    np.testing.assert_allclose(layer(x, x, x)[1].data.sum(axis=-1), 1.0)


def test_mha_gradgradcheck() -> None:
    mt.manual_seed(0)
    layer = nn.MultiheadAttention(4, 2)
    x = mt.Tensor(np.random.default_rng(7).standard_normal((3, 1, 4)), requires_grad=True)
    mask = ~np.tri(3, 3, dtype=bool)

    def fn(x: mt.Tensor) -> mt.Tensor:
        out, w = layer(x, x, x, attn_mask=mask)
        return (out ** 2).sum() + (w ** 2).sum()

    assert mt.gradcheck(fn, [x])
    assert mt.gradgradcheck(fn, [x])


def test_mha_errors_name_the_layer_and_shapes() -> None:
    layer = nn.MultiheadAttention(8, 2)
    x = np.zeros((4, 3, 8))
    with pytest.raises(ValueError, match=r"MultiheadAttention: key of shape \(4, 3, 6\) has 6 "
                                         r"features, expected 8"):
        layer(x, np.zeros((4, 3, 6)), x)
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(3, 4\), got \(4, 3\)"):
        layer(x, x, x, key_padding_mask=np.zeros((4, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask must be \(4, 4\) or \(6, 4, 4\)"):
        layer(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match="must all be 3-D"):
        layer(x, np.zeros((4, 8)), x)
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be a positive multiple of "
                                         r"num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)


def test_mha_is_causal_applies_the_causal_mask() -> None:
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    x = np.random.default_rng(8).standard_normal((1, 5, 4))
    _, w = layer(x, x, x, is_causal=True)
    np.testing.assert_array_equal(np.triu(w.data[0], 1), 0)
    _, w_mask = layer(x, x, x, attn_mask=~np.tri(5, 5, dtype=bool))
    np.testing.assert_allclose(w.data, w_mask.data)


def test_forward_mode_through_attention_matches_central_differences() -> None:
    from microtensor import func

    mt.manual_seed(0)
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    rng = np.random.default_rng(9)
    x, t = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    padding = np.array([[False, False, True], [False, False, False]])

    def f(x):
        out, w = layer(x, x, x, key_padding_mask=padding)
        return out.sum(axis=-1) + w.sum(axis=-1) * 0.5 + F.scaled_dot_product_attention(
            x, x, x, is_causal=True).sum(axis=-1)

    _, tangent = func.jvp(f, (mt.tensor(x),), (mt.tensor(t),))
    eps = 1e-6
    expected = (f(x + eps * t).data - f(x - eps * t).data) / (2 * eps)
    np.testing.assert_allclose(tangent.data, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sdpa_float_mask_that_requires_grad_gets_its_gradient(dtype) -> None:
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s).astype(dtype)
              for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), (2, 1, 4, 6))]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ms = [mt.Tensor(a, requires_grad=True) for a in arrays]
    t_out = torch.nn.functional.scaled_dot_product_attention(*ts[:3], attn_mask=ts[3])
    m_out = F.scaled_dot_product_attention(*ms[:3], attn_mask=ms[3])
    _close(m_out, t_out, dtype, "output")
    (t_out ** 2).sum().backward()
    (m_out ** 2).sum().backward()
    assert ms[3].grad is not None and ms[3].grad.shape == (2, 1, 4, 6)
    for name, a, b in zip(("q", "k", "v", "mask"), ms, ts):
        _close(a.grad, b.grad, dtype, f"gradient of {name}")


def test_sdpa_grouped_query_attention_matches_torch() -> None:
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal(s) for s in ((2, 6, 4, 3), (2, 2, 5, 3), (2, 2, 5, 7))]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ms = [mt.Tensor(a, requires_grad=True) for a in arrays]
    t_out = torch.nn.functional.scaled_dot_product_attention(*ts, enable_gqa=True,
                                                             is_causal=True)
    m_out = F.scaled_dot_product_attention(*ms, enable_gqa=True, is_causal=True)
    _close(m_out, t_out, np.float64, "output")
    (t_out ** 2).sum().backward()
    (m_out ** 2).sum().backward()
    for a, b in zip(ms, ts):
        _close(a.grad, b.grad, np.float64, "gradient")
    with pytest.raises(ValueError, match="enable_gqa the number of key and value heads"):
        F.scaled_dot_product_attention(np.zeros((1, 5, 4, 3)), arrays[1], arrays[2],
                                       enable_gqa=True)


def test_mha_float_masks_that_require_grad_get_their_gradients() -> None:
    rng = np.random.default_rng(13)
    theirs, ours = _pair(np.float64, batch_first=True)
    x = rng.standard_normal((2, 4, 8))
    masks = [rng.standard_normal((4, 4)), rng.standard_normal((2, 4))]
    t_masks = [torch.tensor(m, requires_grad=True) for m in masks]
    m_masks = [mt.Tensor(m, requires_grad=True) for m in masks]
    t_out, t_w = theirs(*(torch.tensor(x),) * 3, attn_mask=t_masks[0],
                        key_padding_mask=t_masks[1])
    m_out, m_w = ours(x, x, x, attn_mask=m_masks[0], key_padding_mask=m_masks[1])
    _close(m_out, t_out, np.float64, "output")
    ((t_out ** 2).sum() + (t_w ** 2).sum()).backward()
    ((m_out ** 2).sum() + (m_w ** 2).sum()).backward()
    for name, a, b in zip(("attn_mask", "key_padding_mask"), m_masks, t_masks):
        _close(a.grad, b.grad, np.float64, f"gradient of {name}")
