"""nn.Embedding and F.embedding against PyTorch: lookups of any index shape, gradients that
add repeated indices up, padding_idx, max_norm, from_pretrained, errors, second order and
forward mode."""

import numpy as np
import pytest
import torch

import microtensor as mt
import nn
import nn.functional as F
from microtensor import forward_ad as fwd
from microtensor.ops.normalization import EmbeddingLookup


def pair(num, dim, padding_idx=None, dtype=np.float64, seed=0):
    """Our Embedding and torch's, with the same table."""
    ours = nn.Embedding(num, dim, padding_idx=padding_idx, dtype=dtype)
    theirs = torch.nn.Embedding(num, dim, padding_idx=padding_idx,
                                dtype=torch.float32 if dtype == np.float32 else torch.float64)
    table = np.random.default_rng(seed).normal(size=(num, dim)).astype(dtype)
    if padding_idx is not None:
        table[padding_idx] = 0
    ours.load_state_dict({"weight": table})
    theirs.load_state_dict({"weight": torch.from_numpy(table.copy())})
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2), (0,)])
def test_embedding_matches_torch_forward_and_gradient(shape, padding_idx, dtype):
    ours, theirs = pair(6, 3, padding_idx, dtype)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 6, size=shape)
    if idx.size:
        idx.flat[0] = 2  # the padding row, and repeats
        idx.flat[-1] = 2
    y, ty = ours(idx), theirs(torch.from_numpy(idx))
    assert y.shape == tuple(ty.shape) and y.dtype == dtype
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    g = rng.normal(size=y.shape).astype(dtype)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["list", "tensor", "fortran", "transposed", "int32", "uint8"])
def test_embedding_accepts_index_lists_tensors_and_layouts(kind):
    ours, theirs = pair(7, 2)
    idx = np.random.default_rng(2).integers(0, 7, size=(3, 4))
    given = {"list": idx.tolist(), "tensor": mt.Tensor(idx), "fortran": np.asfortranarray(idx),
             "transposed": np.ascontiguousarray(idx.T).T, "int32": idx.astype(np.int32),
             "uint8": idx.astype(np.uint8)}[kind]
    np.testing.assert_array_equal(ours(given).data, theirs(torch.from_numpy(idx)).detach())


def test_embedding_padding_row_initialised_to_zero_and_gets_no_gradient():
    mt.manual_seed(0)
    emb = nn.Embedding(5, 4, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.data[1], 0)
    assert emb.weight.data[0].any()
    emb.weight.data[1] = 3.0  # a non-zero padding row is still looked up as it is
    y = emb([[1, 1, 0]])
    np.testing.assert_array_equal(y.data[0, 0], 3.0)
    y.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[1], 0)
    np.testing.assert_array_equal(emb.weight.grad.data[0], 1)
    assert emb.padding_idx == 1 and nn.Embedding(5, 4, padding_idx=-2).padding_idx == 3


def test_embedding_out_of_range_index_error_names_layer_index_and_size():
    emb = nn.Embedding(4, 2)
    for bad in ([0, 4], [[1], [-1]]):
        with pytest.raises(IndexError, match=r"Embedding: index (4|-1) .* 4 rows"):
            emb(bad)
    with pytest.raises(TypeError, match="Embedding: indices must be integers"):
        emb(np.array([0.5]))
    with pytest.raises(ValueError, match="padding_idx 4 is out of range"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(IndexError, match="embedding: index 9"):
        F.embedding([9], mt.Tensor(np.ones((3, 2))))


def test_embedding_max_norm_renormalizes_looked_up_rows_like_torch():
    ours, theirs = pair(6, 3, seed=3)
    ours.max_norm = theirs.max_norm = 1.0
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    y, ty = ours(idx), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-12)


def test_embedding_from_pretrained_copies_and_freezes():
    table = np.arange(6.0).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    table[0, 0] = 99
    np.testing.assert_array_equal(emb([0]).data, [[0.0, 1.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_state_dict_matches_torch_and_repr():
    ours, theirs = pair(5, 3, padding_idx=0)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert repr(ours).startswith("Embedding(5, 3, padding_idx=0)")


def test_embedding_is_one_node_and_second_order_and_jvp_work():
    rng = np.random.default_rng(4)
    idx = np.array([[0, 3, 3], [1, 0, 2]])
    w = mt.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    y = F.embedding(idx, w, padding_idx=1)
    assert type(y.grad_fn) is EmbeddingLookup
    # (the padding row's gradient is zero by definition, not by differences: check without)
    assert mt.gradcheck(lambda w: F.embedding(idx, w) ** 2, [w])
    assert mt.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [w])
    (g,) = mt.grad((y ** 3).sum(), [w], create_graph=True)
    (h,) = mt.grad(g.sum(), [w])
    tw = torch.tensor(w.data, requires_grad=True)
    (tg,) = torch.autograd.grad((torch.nn.functional.embedding(
        torch.from_numpy(idx), tw, padding_idx=1) ** 3).sum(), [tw], create_graph=True)
    np.testing.assert_allclose(h.data, torch.autograd.grad(tg.sum(), [tw])[0].numpy(),
                               rtol=1e-12)
    t = rng.normal(size=(4, 3))
    with fwd.dual_level():
        out = F.embedding(idx, fwd.make_dual(w.data, t))
        tangent = fwd.unpack_dual(out).tangent
    np.testing.assert_array_equal(np.asarray(getattr(tangent, "data", tangent)), t[idx])


def test_embedding_float32_gradient_sums_many_repeats_accurately():
    emb = nn.Embedding(3, 2, dtype=np.float32)
    idx = np.zeros(100_000, dtype=np.int64)
    emb(idx).backward(np.full((100_000, 2), 0.1, dtype=np.float32))
    assert emb.weight.grad.dtype == np.float32
    np.testing.assert_allclose(emb.weight.grad.data[0], 10_000.0, rtol=1e-6)
