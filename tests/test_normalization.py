"""BatchNorm1d/2d, LayerNorm, GroupNorm and their functional forms against PyTorch with the
same weights and buffers: forward, input and parameter gradients, running statistics over
several steps, eval outputs, state dicts key by key; float32/float64, every memory layout;
gradcheck, gradgradcheck and forward mode on small sizes; the dropout variants."""

import warnings

import numpy as np
import pytest
import torch

import microtensor as mt
import nn
import nn.functional as F
from microtensor import forward_ad as fwd
from microtensor.ops.normalization import Normalize

TOL = {np.float32: dict(rtol=2e-4, atol=1e-4), np.float64: dict(rtol=1e-9, atol=1e-11)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def layouts(x):
    """x as C-contiguous, Fortran-ordered, transposed-view and sliced arrays (same values)."""
    big = np.zeros(tuple(2 * n for n in x.shape), dtype=x.dtype)
    sl = tuple(slice(None, None, 2) for _ in x.shape)
    big[sl] = x
    return {"c": np.ascontiguousarray(x), "fortran": np.asfortranarray(x),
            "transposed": np.ascontiguousarray(x.T).T, "sliced": big[sl]}


def copy_params(ours, theirs, rng):
    """Random values into our parameters and buffers, and the same into torch's."""
    sd = {}
    for name, arr in ours.state_dict().items():
        if arr.dtype.kind == "f":
            val = rng.normal(size=arr.shape).astype(arr.dtype)
            if "running_var" in name:
                val = np.abs(val) + 0.5
            sd[name] = val
        else:
            sd[name] = arr
    ours.load_state_dict(sd)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})


def run_both(ours, theirs, x, dtype, seed=0):
    """Forward and backward of both modules with a random upstream gradient; compare."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=x.shape).astype(dtype)
    X = mt.Tensor(x, requires_grad=True)
    T = torch.tensor(np.array(x), requires_grad=True)
    y, ty = ours(X), theirs(T)
    tol = TOL[dtype]
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(X.grad.data, T.grad.numpy(), **tol)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, named[name].grad.numpy(), **tol, err_msg=name)
    ours.zero_grad()
    theirs.zero_grad()


def assert_same_state(ours, theirs, dtype):
    ts = theirs.state_dict()
    sd = ours.state_dict()
    assert list(sd) == list(ts)
    for k, v in ts.items():
        assert sd[k].shape == tuple(v.shape), k
        np.testing.assert_allclose(sd[k], v.numpy(), **TOL[dtype], err_msg=k)


BN_CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (7, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (5, 3, 4)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 5, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [0.3, None])
@pytest.mark.parametrize("case", BN_CASES, ids=["1d-NC", "1d-NCL", "2d"])
def test_batchnorm_matches_torch_train_steps_then_eval(case, momentum, dtype):
    ours_cls, torch_cls, shape = case
    rng = np.random.default_rng(1)
    ours = ours_cls(3, momentum=momentum, dtype=dtype)
    theirs = torch_cls(3, momentum=momentum).to(TORCH_DTYPE[dtype])
    copy_params(ours, theirs, rng)
    for step, layout in enumerate(["c", "fortran", "transposed", "sliced"]):
        x = layouts((rng.normal(size=shape) * 3 + 1).astype(dtype))[layout]
        run_both(ours, theirs, x, dtype, seed=step)
        assert_same_state(ours, theirs, dtype)
    assert int(ours.num_batches_tracked.data) == 4
    ours.eval()
    theirs.eval()
    for x in layouts(rng.normal(size=shape).astype(dtype)).values():
        run_both(ours, theirs, x, dtype)
    assert_same_state(ours, theirs, dtype)  # eval leaves the running statistics alone


@pytest.mark.parametrize("affine,track", [(False, True), (True, False), (False, False)])
def test_batchnorm_without_affine_or_running_stats_matches_torch(affine, track):
    rng = np.random.default_rng(2)
    ours = nn.BatchNorm2d(4, affine=affine, track_running_stats=track)
    theirs = torch.nn.BatchNorm2d(4, affine=affine, track_running_stats=track).double()
    copy_params(ours, theirs, rng)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for mode in ("train", "eval", "train"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        run_both(ours, theirs, rng.normal(size=(3, 4, 2, 3)), np.float64)
        assert_same_state(ours, theirs, np.float64)


def test_batchnorm_loads_torch_state_dict_and_matches():
    rng = np.random.default_rng(3)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    theirs.train()
    for _ in range(3):  # give the running statistics values of their own
        theirs(torch.randn(6, 4))
    theirs.eval()
    ours = nn.Sequential(nn.Linear(4, 3, dtype=np.float32), nn.BatchNorm1d(3, dtype=np.float32))
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    state["0.weight"] = state["0.weight"].T.copy()  # nn.Linear keeps (in, out)
    assert list(ours.state_dict()) == list(state)
    assert all(ours.state_dict()[k].shape == v.shape for k, v in state.items())
    ours.load_state_dict(state)
    ours.eval()
    x = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mt.Tensor(x)).data,
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert int(ours[1].num_batches_tracked.data) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 5), (3, 5)),
                                              ((3, 1, 7), (7,)), ((5, 1), 1)])
def test_layernorm_matches_torch(shape, normalized, dtype):
    rng = np.random.default_rng(4)
    ours = nn.LayerNorm(normalized, dtype=dtype)
    theirs = torch.nn.LayerNorm(normalized).to(TORCH_DTYPE[dtype])
    copy_params(ours, theirs, rng)
    for x in layouts((rng.normal(size=shape) * 2 - 1).astype(dtype)).values():
        run_both(ours, theirs, x, dtype)
    ours.eval()
    theirs.eval()
    run_both(ours, theirs, rng.normal(size=shape).astype(dtype), dtype)


@pytest.mark.parametrize("affine,bias", [(False, True), (True, False)])
def test_layernorm_without_affine_or_bias_matches_torch(affine, bias):
    rng = np.random.default_rng(5)
    ours = nn.LayerNorm(5, elementwise_affine=affine, bias=bias)
    theirs = torch.nn.LayerNorm(5, elementwise_affine=affine, bias=bias).double()
    copy_params(ours, theirs, rng)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    run_both(ours, theirs, rng.normal(size=(3, 5)), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups,shape", [(2, (3, 6, 4, 3)), (3, (2, 3, 5)), (1, (4, 5)),
                                          (5, (2, 5, 2, 2))])
def test_groupnorm_matches_torch(groups, shape, dtype):
    rng = np.random.default_rng(6)
    ours = nn.GroupNorm(groups, shape[1], dtype=dtype)
    theirs = torch.nn.GroupNorm(groups, shape[1]).to(TORCH_DTYPE[dtype])
    copy_params(ours, theirs, rng)
    for x in layouts(rng.normal(size=shape).astype(dtype)).values():
        run_both(ours, theirs, x, dtype)


def test_groupnorm_without_affine_matches_torch():
    rng = np.random.default_rng(7)
    ours, theirs = nn.GroupNorm(2, 4, affine=False), torch.nn.GroupNorm(2, 4, affine=False)
    run_both(ours, theirs.double(), rng.normal(size=(3, 4, 5)), np.float64)
    assert ours.state_dict() == {}


def test_functional_forms_match_torch():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 3, 5))
    w, b = rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), np.abs(rng.normal(size=3)) + 0.1
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    t = torch.tensor(x)
    tw, tb = torch.tensor(w), torch.tensor(b)
    ours = F.batch_norm(mt.Tensor(x), rm, rv, mt.Tensor(w), mt.Tensor(b), True, 0.3, 1e-3)
    theirs = torch.nn.functional.batch_norm(t, trm, trv, tw, tb, True, 0.3, 1e-3)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12)  # updated in place, as torch's
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12)
    ours = F.batch_norm(x, rm, rv, w, b, training=False)
    theirs = torch.nn.functional.batch_norm(t, trm, trv, tw, tb, training=False)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.layer_norm(x, (3, 5)).data,
                               torch.nn.functional.layer_norm(t, (3, 5)).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.group_norm(x, 3, w, b).data,
                               torch.nn.functional.group_norm(t, 3, tw, tb).numpy(), atol=1e-12)


@pytest.mark.parametrize("fn,shape", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (3, 2, 3)),
    (lambda x, w, b: F.batch_norm(x, np.zeros(2), np.ones(2), w, b, False), (3, 2)),
    (lambda x, w, b: F.layer_norm(x, 2, w, b), (3, 2)),
    (lambda x, w, b: F.group_norm(x, 1, w, b), (2, 2, 3)),
], ids=["batch", "batch-eval", "layer", "group"])
def test_normalization_gradcheck_and_gradgradcheck(fn, shape):
    rng = np.random.default_rng(9)
    inputs = [mt.Tensor(rng.normal(size=s), requires_grad=True) for s in (shape, 2, 2)]
    assert mt.gradcheck(fn, inputs)
    assert mt.gradgradcheck(fn, inputs)


def test_normalize_second_order_matches_torch():
    rng = np.random.default_rng(10)
    x, w, b = rng.normal(size=(4, 3, 2)), rng.normal(size=3), rng.normal(size=3)
    v = rng.normal(size=x.shape)
    X = mt.Tensor(x, requires_grad=True)
    W = mt.Tensor(w, requires_grad=True)
    out = F.group_norm(X, 3, W, mt.Tensor(b))
    (gx,) = mt.grad((out * out * out).sum(), [X], create_graph=True)
    hx, hw = mt.grad((gx * mt.Tensor(v)).sum(), [X, W])
    T = torch.tensor(x, requires_grad=True)
    TW = torch.tensor(w, requires_grad=True)
    tout = torch.nn.functional.group_norm(T, 3, TW, torch.tensor(b))
    (tgx,) = torch.autograd.grad((tout ** 3).sum(), [T], create_graph=True)
    thx, thw = torch.autograd.grad((tgx * torch.tensor(v)).sum(), [T, TW])
    np.testing.assert_allclose(hx.data, thx.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(hw.data, thw.numpy(), rtol=1e-8, atol=1e-10)


def test_normalize_jvp_matches_torch():
    rng = np.random.default_rng(11)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    tx, tw, tb = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    with fwd.dual_level():
        out = F.layer_norm(fwd.make_dual(x, tx), 4, fwd.make_dual(w, tw), fwd.make_dual(b, tb))
        got = fwd.unpack_dual(out).tangent
    _, expected = torch.func.jvp(
        lambda x, w, b: torch.nn.functional.layer_norm(x, (4,), w, b),
        (torch.tensor(x), torch.tensor(w), torch.tensor(b)),
        (torch.tensor(tx), torch.tensor(tw), torch.tensor(tb)))
    np.testing.assert_allclose(np.asarray(got.data if hasattr(got, "data") else got),
                               expected.numpy(), rtol=1e-9, atol=1e-11)


def test_normalize_is_one_node_and_saves_nothing_in_eval_or_no_grad():
    x = mt.Tensor(np.random.default_rng(0).normal(size=(4, 5)), requires_grad=True)
    m = nn.LayerNorm(5)
    y = m(x)
    assert type(y.grad_fn) is Normalize
    with mt.no_grad():
        assert m(x).grad_fn is None


def test_batchnorm_errors_name_layer_and_change_nothing():
    bn = nn.BatchNorm1d(3)
    before = bn.state_dict()
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 3 channels.*\(4, 2\)"):
        bn(mt.Tensor(np.ones((4, 2))))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(mt.Tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a \(N, C\) or \(N, C, L\)"):
        bn(mt.Tensor(np.ones((2, 3, 4, 5))))
    after = bn.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    bn.eval()
    bn(mt.Tensor(np.ones((1, 3))))  # one sample is fine in evaluation mode
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="layer_norm: normalized_shape"):
        nn.LayerNorm(4)(mt.Tensor(np.ones((2, 3))))


def test_batchnorm_buffers_follow_dtype_and_survive_save_load(tmp_path):
    bn = nn.BatchNorm2d(3)
    bn(mt.Tensor(np.random.default_rng(0).normal(size=(2, 3, 2, 2))))
    bn.float()
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert bn.num_batches_tracked.dtype == np.int64
    nn.save(bn, tmp_path / "bn.safetensors")
    loaded = nn.load(tmp_path / "bn.safetensors")
    assert list(loaded) == ["weight", "bias", "running_mean", "running_var",
                            "num_batches_tracked"]
    other = nn.BatchNorm2d(3, dtype=np.float32)
    other.load_state_dict(loaded)
    assert int(other.num_batches_tracked.data) == 1
    np.testing.assert_array_equal(other.running_var.data, bn.running_var.data)
    bn.double()
    assert bn.running_mean.dtype == np.float64


def test_batchnorm_repr_like_torch():
    assert repr(nn.BatchNorm2d(4)).startswith(
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)")
    assert repr(nn.LayerNorm(4)).startswith("LayerNorm((4,), eps=1e-05, elementwise_affine=True)")


# ---------------------------------------------------------------------- dropout variants
@pytest.mark.parametrize("layer,shape,axes", [
    (nn.Dropout1d, (6, 5, 7), (2,)), (nn.Dropout1d, (5, 7), (1,)),
    (nn.Dropout2d, (4, 5, 3, 3), (2, 3)), (nn.Dropout2d, (5, 3, 3), (2,))])
def test_channel_dropout_drops_whole_channels_and_respects_eval(layer, shape, axes):
    mt.manual_seed(0)
    m = layer(0.4)
    x = mt.Tensor(np.ones(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = m(x)
    data = y.data
    assert np.all((data == 0).all(axis=axes) | np.isclose(data, 1 / 0.6).all(axis=axes))
    assert 0 < (data == 0).mean() < 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, data)  # gradient is the same mask
    m.eval()
    assert m(x) is x


def test_dropout2d_3d_input_reads_as_ncl_like_torch():
    mt.manual_seed(0)
    with pytest.warns(UserWarning, match="dropout2d"):
        y = F.dropout2d(np.ones((2, 50, 4)), 0.5)
    assert np.all((y.data == 0).all(axis=2) | (y.data == 2).all(axis=2))


def test_alpha_dropout_keeps_selu_statistics_and_formula():
    mt.manual_seed(0)
    x = F.selu(mt.Tensor(np.random.default_rng(0).normal(size=200_000)))
    y = F.alpha_dropout(x, 0.2, training=True)
    assert abs(y.data.mean()) < 0.01 and abs(y.data.std() - 1) < 0.01
    mt.manual_seed(1)
    got = nn.AlphaDropout(0.3)(mt.Tensor(np.arange(5.0)))
    mt.manual_seed(1)
    keep = mt.default_generator().random(5) >= 0.3
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * 0.3 + 1) * 0.7)
    expected = np.where(keep, np.arange(5.0) * a, -alpha * a) + alpha * a * 0.3
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)
    m = nn.AlphaDropout(0.3).eval()
    x = mt.Tensor(np.ones(3))
    assert m(x) is x


def test_dropout_variants_refuse_bad_p_and_shapes():
    for cls in (nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout):
        with pytest.raises(ValueError, match=f"{cls.__name__}: p must be in"):
            cls(1.5)
    with pytest.raises(ValueError, match="dropout1d: expected a 2-D or 3-D"):
        F.dropout1d(np.ones((2, 3, 4, 5)))
