"""vmap (issue 16): vmap(f)(X) equals stacking f(X[i]), equals torch.func.vmap on the same
function, and gradients through it equal the per-example loop's."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import LAYOUTS, relayout

import microtensor as mt
from microtensor import vmap as vmap_module
from microtensor.vmap import BatchedTensor, vmap

RNG = np.random.default_rng(16)
DTYPES = (np.float64, np.float32)


def _tol(dtype: type) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-5}


def _data(shape: tuple[int, ...], dtype: type = np.float64, layout: str = "C") -> np.ndarray:
    return relayout(RNG.normal(size=shape).astype(dtype), layout)


def _slice(a: np.ndarray, dim: int | None, i: int) -> np.ndarray:
    return a if dim is None else np.take(a, i, axis=dim)


def assert_vmap_matches(fn, arrays, in_dims=0, out_dims=0, torch_fn=None, dtype=np.float64):
    """vmap(fn) on `arrays` equals the stack of fn over the examples (and torch.func.vmap of
    torch_fn, when given); returns the vmapped result."""
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(arrays)
    size = next(a.shape[d] for a, d in zip(arrays, dims) if d is not None)
    got = vmap(fn, in_dims=in_dims, out_dims=out_dims)(*(mt.Tensor(a) for a in arrays))
    assert not isinstance(got, BatchedTensor)
    loop = np.stack([fn(*(mt.Tensor(_slice(a, d, i)) for a, d in zip(arrays, dims))).data
                     for i in range(size)], axis=out_dims)
    assert got.shape == loop.shape and got.dtype == loop.dtype
    np.testing.assert_allclose(got.data, loop, **_tol(dtype))
    if torch_fn is not None:
        ref = torch.func.vmap(torch_fn, in_dims=in_dims, out_dims=out_dims)(
            *(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
        np.testing.assert_allclose(got.data, ref.numpy(), **_tol(dtype))
    return got


# ---------------------------------------------------------------------- elementwise
UNARY = [
    ("exp", lambda x: x.exp(), torch.exp),
    ("tanh", lambda x: x.tanh(), torch.tanh),
    ("sigmoid", lambda x: x.sigmoid(), torch.sigmoid),
    ("relu", lambda x: x.relu(), torch.relu),
    ("abs", abs, torch.abs),
    ("neg", lambda x: -x, torch.neg),
    ("sin", mt.sin, torch.sin),
    ("square", mt.square, torch.square),
    ("log1p_abs", lambda x: mt.log1p(abs(x)), lambda x: torch.log1p(torch.abs(x))),
    ("clip", lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5)),
    ("pow", lambda x: x ** 2 * 0.5 - 1.0 / (1.0 + x * x), lambda x: x ** 2 * 0.5 - 1.0 / (
        1.0 + x * x)),
    ("where", lambda x: mt.where(x > 0, x, x * 0.1), lambda x: torch.where(x > 0, x, x * 0.1)),
    ("compare", lambda x: ((0.2 < x) & (x < 1.0)).astype(x.dtype),
     lambda x: ((0.2 < x) & (x < 1.0)).to(x.dtype)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,tfn", UNARY, ids=[u[0] for u in UNARY])
def test_vmap_unary_matches_loop_and_torch(name, fn, tfn, dtype):
    for layout in LAYOUTS:
        assert_vmap_matches(fn, [_data((4, 3, 2), dtype, layout)], torch_fn=tfn, dtype=dtype)


# (batched shape, other shape, which are batched): logical ranks differ both ways
BINARY_SHAPES = [
    ((5, 3), (3,), (0, None)),
    ((5, 3), (2, 3), (0, None)),
    ((5, 2, 3), (5, 3), (0, 0)),
    ((5, 3), (5, 4, 3), (0, 0)),
    ((5, 4, 1), (5, 3), (0, 0)),
    ((5,), (4, 3), (0, None)),
    ((2, 3), (5, 4, 1, 3), (None, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_vmap_binary_broadcasting_matches_loop_and_torch(shapes, dtype):
    sx, sy, dims = shapes
    x, y = _data(sx, dtype), _data(sy, dtype)
    pairs = [(lambda a, b: a + b, None), (lambda a, b: a * b - b, None),
             (lambda a, b: a / (b * b + 1), None), (mt.maximum, torch.maximum)]
    for fn, tfn in pairs:
        assert_vmap_matches(fn, [x, y], in_dims=dims, torch_fn=tfn or fn, dtype=dtype)


def test_vmap_in_dims_nonzero_and_out_dims():
    x, y = _data((3, 5, 2)), _data((2, 5))
    got = assert_vmap_matches(lambda a, b: a * b, [x, y], in_dims=(1, 1), out_dims=1,
                              torch_fn=lambda a, b: a * b)
    assert got.shape == (3, 5, 2)
    assert_vmap_matches(lambda a: a.sum(axis=0), [x], in_dims=-1, out_dims=-1,
                        torch_fn=lambda a: a.sum(dim=0))


# ---------------------------------------------------------------------- reductions
REDUCTIONS = [
    ("sum", lambda x, a, k: x.sum(axis=a, keepdims=k), lambda x, a, k: x.sum(dim=a, keepdim=k)),
    ("mean", lambda x, a, k: x.mean(axis=a, keepdims=k),
     lambda x, a, k: x.mean(dim=a, keepdim=k)),
    ("max", lambda x, a, k: x.max(axis=a, keepdims=k), lambda x, a, k: x.amax(dim=a, keepdim=k)),
    ("min", lambda x, a, k: x.min(axis=a, keepdims=k), lambda x, a, k: x.amin(dim=a, keepdim=k)),
    ("prod", lambda x, a, k: mt.prod(x, axis=a, keepdims=k), None),
    ("var", lambda x, a, k: mt.var(x, axis=a, keepdims=k, ddof=1),
     lambda x, a, k: torch.var(x, dim=a, keepdim=k, correction=1)),
    ("std", lambda x, a, k: mt.std(x, axis=a, keepdims=k),
     lambda x, a, k: torch.std(x, dim=a, keepdim=k, correction=0)),
    ("logsumexp", lambda x, a, k: x.logsumexp(axis=a, keepdims=k),
     lambda x, a, k: torch.logsumexp(x, dim=a if a is not None else (0, 1, 2), keepdim=k)),
    ("norm", lambda x, a, k: mt.norm(x, axis=a, keepdims=k),
     lambda x, a, k: torch.linalg.vector_norm(x, dim=a, keepdim=k)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,tfn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_vmap_reductions_match_loop_and_torch(name, fn, tfn, dtype):
    x = _data((4, 2, 3, 5), dtype, "F")
    for axis in (None, 0, -1, 1, (0, 2), (-1, -3)):
        for keepdims in (False, True):
            if name == "prod" and isinstance(axis, tuple):
                continue
            t = None
            if tfn is not None and not (name in ("max", "min") and axis is None):
                def t(v, a=axis, k=keepdims):
                    return tfn(v, a, k)
            assert_vmap_matches(lambda v, a=axis, k=keepdims: fn(v, a, k), [x], torch_fn=t,
                                dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vmap_softmax_family_and_scans(dtype):
    x = _data((4, 3, 5), dtype, "transposed")
    for axis in (0, 1, -1, -2):
        assert_vmap_matches(lambda v, a=axis: v.softmax(axis=a), [x],
                            torch_fn=lambda v, a=axis: torch.softmax(v, dim=a), dtype=dtype)
        assert_vmap_matches(lambda v, a=axis: v.log_softmax(axis=a), [x],
                            torch_fn=lambda v, a=axis: torch.log_softmax(v, dim=a), dtype=dtype)
        assert_vmap_matches(lambda v, a=axis: mt.cumsum(v, axis=a), [x],
                            torch_fn=lambda v, a=axis: torch.cumsum(v, dim=a), dtype=dtype)


def test_vmap_reduction_axis_out_of_range_names_logical_rank():
    with pytest.raises(ValueError, match="sum: axis 2 is out of bounds.*dimension 2"):
        vmap(lambda v: v.sum(axis=2))(mt.Tensor(_data((4, 3, 5))))


# ---------------------------------------------------------------------- matmul
MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((3,), (2, 3, 4)), ((2, 2, 3), (3,)), ((2, 2, 3), (3, 4)),
                 ((2, 3), (2, 3, 4)), ((1, 2, 3), (2, 3, 4)), ((2, 1, 2, 3), (2, 3, 4))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dims", [(0, 0), (0, None), (None, 0)], ids=str)
def test_vmap_matmul_every_rank_matches_loop_and_torch(shapes, dims, dtype):
    arrays = [_data(((5,) if d == 0 else ()) + s, dtype) for s, d in zip(shapes, dims)]
    assert_vmap_matches(lambda a, b: a @ b, arrays, in_dims=dims,
                        torch_fn=lambda a, b: a @ b, dtype=dtype)


def test_vmap_matmul_mismatch_reports_logical_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4, 2\)"):
        vmap(lambda a: a @ mt.Tensor(_data((4, 2))))(mt.Tensor(_data((5, 3))))


def test_vmap_fused_linear_with_batched_and_shared_weights():
    x, w, b = _data((5, 2, 3)), _data((5, 3, 4)), _data((4,))
    from microtensor.ops import fused

    for fn in (fused.linear, lambda *a: fused.linear(*a, activation="tanh")):
        assert_vmap_matches(lambda a, c=b, f=fn: f(a, mt.Tensor(w[0]), c), [x],
                            torch_fn=None)
        assert_vmap_matches(lambda a, ww, f=fn: f(a, ww, mt.Tensor(b)), [x, w],
                            torch_fn=None)


# ---------------------------------------------------------------------- shape ops
SHAPE_OPS = [
    ("reshape", lambda x: x.reshape(6, -1), lambda x: x.reshape(6, -1)),
    ("view", lambda x: x.view(-1), lambda x: x.view(-1)),
    ("transpose", lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1)),
    ("T", lambda x: x.T, lambda x: x.permute(2, 1, 0)),
    ("permute_neg", lambda x: x.permute(-1, 0, 1), lambda x: x.permute(-1, 0, 1)),
    ("swapaxes", lambda x: mt.swapaxes(x, 0, -1), lambda x: x.transpose(0, -1)),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
    ("expand_dims", lambda x: mt.expand_dims(x, 1), lambda x: x.unsqueeze(1)),
    ("squeeze", lambda x: x[:, :1].squeeze(1), lambda x: x[:, :1].squeeze(1)),
    ("squeeze_all", lambda x: x[:1, :, :1].squeeze(), lambda x: x[:1, :, :1].squeeze()),
    ("flatten", lambda x: x.flatten(), lambda x: x.flatten()),
    ("flatten_1", lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("slice", lambda x: x[1:, ::2], lambda x: x[1:, ::2]),
    ("int_index", lambda x: x[-1, :, 0], lambda x: x[-1, :, 0]),
    ("ellipsis_none", lambda x: x[..., None, 1], lambda x: x[..., None, 1]),
    ("int_array", lambda x: x[:, [2, 0, 2]], lambda x: x[:, [2, 0, 2]]),
    ("broadcast_to", lambda x: mt.broadcast_to(x[0], (2, 3, 4, 5)),
     lambda x: torch.broadcast_to(x[0], (2, 3, 4, 5))),
    ("expand", lambda x: x[:, :1].expand(3, 4, 5), lambda x: x[:, :1].expand(3, 4, 5)),
    ("cat", lambda x: mt.cat([x, x * 2], dim=-1), lambda x: torch.cat([x, x * 2], dim=-1)),
    ("concatenate_const", lambda x: mt.concatenate([x, mt.ones((3, 4, 1))], axis=2),
     lambda x: torch.cat([x, torch.ones((3, 4, 1), dtype=x.dtype)], dim=2)),
    ("stack", lambda x: mt.stack([x, mt.zeros((3, 4, 5)), x], axis=-1),
     lambda x: torch.stack([x, torch.zeros((3, 4, 5), dtype=x.dtype), x], dim=-1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,tfn", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_vmap_shape_ops_match_loop_and_torch(name, fn, tfn, dtype):
    for layout in ("C", "strided"):
        assert_vmap_matches(fn, [_data((2, 3, 4, 5), dtype, layout)], torch_fn=tfn,
                            dtype=dtype)


def test_vmap_shape_ops_run_without_fallback():
    # every rule above batches the op: no per-example loop, so no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _, fn, _ in SHAPE_OPS + UNARY:
            vmap(fn)(mt.Tensor(_data((2, 3, 4, 5))))


MORE_OPS = [
    ("flip", lambda x: mt.flip(x, -1), lambda x: torch.flip(x, (-1,))),
    ("roll", lambda x: mt.roll(x, (1, 2), (0, -1)), lambda x: torch.roll(x, (1, 2), (0, -1))),
    ("diagonal", lambda x: mt.diagonal(x, 1, 0, 2), lambda x: torch.diagonal(x, 1, 0, 2)),
    ("tril", mt.tril, torch.tril),
    ("triu", lambda x: mt.triu(x, 1), lambda x: torch.triu(x, 1)),
    ("sort", lambda x: mt.sort(x, 1), lambda x: torch.sort(x, 1).values),
    ("cumprod", lambda x: mt.cumprod(x, -2), lambda x: torch.cumprod(x, -2)),
    ("einsum", lambda x: mt.einsum("ijk,ikl->jl", x, x.transpose(0, 2, 1)),
     lambda x: torch.einsum("ijk,ikl->jl", x, x.permute(0, 2, 1))),
    ("einsum_ellipsis", lambda x: mt.einsum("...j->...", x), lambda x: torch.einsum(
        "...j->...", x)),
    ("pad", lambda x: mt.pad(x, ((1, 0), (0, 0), (0, 2))),
     lambda x: torch.nn.functional.pad(x, (0, 2, 0, 0, 1, 0))),
    ("repeat_interleave", lambda x: mt.repeat_interleave(x, 2, axis=1),
     lambda x: torch.repeat_interleave(x, 2, dim=1)),
    ("unfold", lambda x: x.unfold(2, 2, 1), lambda x: x.unfold(2, 2, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,tfn", MORE_OPS, ids=[m[0] for m in MORE_OPS])
def test_vmap_more_ops_batched_by_rules(name, fn, tfn, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a rule, not the per-example loop
        assert_vmap_matches(fn, [_data((2, 3, 4, 5), dtype, "F")], torch_fn=tfn, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vmap_conv_and_pooling_fold_the_batch_axis(dtype):
    import nn

    F, tf = nn.functional, torch.nn.functional
    w, b = _data((4, 3, 3, 3), dtype), _data((4,), dtype)
    tw, tb = torch.from_numpy(w), torch.from_numpy(b)
    wt = _data((4, 2, 3, 3), dtype)  # conv_transpose: (in_channels, out_channels, kh, kw)

    def f(v):
        y = F.max_pool2d(F.conv2d(v, mt.Tensor(w), mt.Tensor(b), padding=1).relu(), 2)
        return F.avg_pool2d(F.conv_transpose2d(y, mt.Tensor(wt), stride=2), 2)

    def g(v):
        y = tf.max_pool2d(tf.conv2d(v, tw, tb, padding=1).relu(), 2)
        return tf.avg_pool2d(tf.conv_transpose2d(y, torch.from_numpy(wt), stride=2), 2)

    x = _data((3, 2, 3, 6, 6), dtype, "F")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # folded into the op's own batch axis: no loop
        assert_vmap_matches(f, [x], torch_fn=g, dtype=dtype)
        xt = mt.Tensor(x, requires_grad=True)
        vmap(f)(xt).sum().backward()
    tx = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    torch.func.vmap(g)(tx).sum().backward()
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), **_tol(dtype))


def test_vmap_layer_and_group_norm_shift_their_axes():
    import nn

    ln, gn = nn.LayerNorm(5), nn.GroupNorm(2, 4)
    ln.weight.data[:] = RNG.normal(size=5)
    ln.bias.data[:] = RNG.normal(size=5)
    tln = torch.nn.LayerNorm(5).double()
    with torch.no_grad():
        tln.weight.copy_(torch.from_numpy(ln.weight.data))
        tln.bias.copy_(torch.from_numpy(ln.bias.data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_vmap_matches(ln, [_data((3, 4, 5))], torch_fn=lambda v: tln(v).detach())
        assert_vmap_matches(gn, [_data((3, 2, 4, 3, 3))])


# ---------------------------------------------------------------------- fallback
def test_vmap_op_without_rule_loops_with_one_warning():
    x = _data((3, 4, 5))
    vmap_module._WARNED.discard(mt.ops.indexing.Tile)
    with pytest.warns(RuntimeWarning, match="no batching rule for Tile"):
        got = assert_vmap_matches(lambda v: mt.tile(v, (2, 1)) * 2, [x],
                                  torch_fn=lambda v: torch.tile(v, (2, 1)) * 2)
    assert got.shape == (3, 8, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per op, not one per call
        vmap(lambda v: mt.tile(v, (1, 3)))(mt.Tensor(x))


def test_vmap_fallback_handles_separated_advanced_indices():
    x = _data((3, 4, 5, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_vmap_matches(lambda v: v[[0, 2], :, [1, 1]], [x],
                            torch_fn=lambda v: v[[0, 2], :, [1, 1]])


def test_vmap_fallback_refuses_results_of_different_shapes():
    class Positive(mt.Function):
        def forward(self, x):
            return x[x > 0]

    x = mt.Tensor(np.array([[1.0, -1.0], [1.0, 2.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"vmap: Positive gives results of different "
                                             r"shapes for different examples \(\(1,\), \(2,\)\)"):
            vmap(Positive.apply)(x)


def test_vmap_custom_function_falls_back_and_differentiates():
    class Cube(mt.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):
            (x,) = self.saved
            return 3 * x * x * grad

    x = mt.Tensor(_data((4, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vmap(lambda v: Cube.apply(v).sum())(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)


# ---------------------------------------------------------------------- gradients, nesting
def _mlp(x, w1, b1, w2, b2):
    return ((x @ w1 + b1).tanh() @ w2 + b2).log_softmax(axis=-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vmap_backward_equals_loop_gradients(dtype):
    x = _data((6, 4), dtype, "F")
    params = [_data((4, 3), dtype), _data((3,), dtype), _data((3, 2), dtype), _data((2,), dtype)]
    ts = [mt.Tensor(a, requires_grad=True) for a in [x] + params]
    out = vmap(_mlp, in_dims=(0, None, None, None, None))(*ts)
    (out * mt.Tensor(np.arange(12.0).reshape(6, 2).astype(dtype))).sum().backward()
    loop = [mt.Tensor(a, requires_grad=True) for a in [x] + params]
    total = sum((_mlp(loop[0][i], *loop[1:]) * mt.Tensor(np.arange(2.0 * i, 2.0 * i + 2).astype(
        dtype))).sum() for i in range(6))
    total.backward()
    for a, b in zip(ts, loop):
        np.testing.assert_allclose(a.grad.data, b.grad.data, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vmap_per_example_gradients_match_torch(dtype):
    """The classic use: per-example gradients of a small MLP's loss. microtensor: parameters
    repeated per example (in_dims 0), one backward of the sum; PyTorch: vmap(grad(loss))."""
    n = 8
    x, y = _data((n, 4), dtype), RNG.integers(0, 2, size=n)
    params = [_data((4, 3), dtype), _data((3,), dtype), _data((3, 2), dtype), _data((2,), dtype)]
    onehot = np.eye(2, dtype=dtype)[y]

    def loss(w1, b1, w2, b2, xi, yi):
        return -(_mlp(xi, w1, b1, w2, b2) * yi).sum()

    batched = [mt.Tensor(np.repeat(p[None], n, axis=0), requires_grad=True) for p in params]
    vmap(loss)(*batched, mt.Tensor(x), mt.Tensor(onehot)).sum().backward()

    def tloss(w1, b1, w2, b2, xi, yi):
        h = torch.tanh(xi @ w1 + b1) @ w2 + b2
        return -(torch.log_softmax(h, dim=-1) * yi).sum()

    grads = torch.func.vmap(torch.func.grad(tloss, argnums=(0, 1, 2, 3)),
                            in_dims=(None, None, None, None, 0, 0))(
        *(torch.from_numpy(p) for p in params), torch.from_numpy(x), torch.from_numpy(onehot))
    for mine, ref in zip(batched, grads):
        assert mine.grad.shape == (n,) + ref.shape[1:]
        np.testing.assert_allclose(mine.grad.data, ref.numpy(), **_tol(dtype))


def test_vmap_nested_matches_double_loop_and_torch():
    x, w = _data((3, 4, 5)), _data((5, 2))
    fn = lambda v: (v @ mt.Tensor(w)).softmax(axis=-1) * v.sum()  # noqa: E731
    got = vmap(vmap(fn))(mt.Tensor(x))
    loop = np.stack([np.stack([fn(mt.Tensor(x[i, j])).data for j in range(4)]) for i in range(3)])
    np.testing.assert_allclose(got.data, loop, rtol=1e-12)
    ref = torch.func.vmap(torch.func.vmap(
        lambda v: torch.softmax(v @ torch.from_numpy(w), dim=-1) * v.sum()))(torch.from_numpy(x))
    np.testing.assert_allclose(got.data, ref.numpy(), rtol=1e-12)


def test_vmap_nested_over_different_arguments_with_gradients():
    x, y = _data((3, 4)), _data((5, 4))
    tx, ty = mt.Tensor(x, requires_grad=True), mt.Tensor(y, requires_grad=True)
    # an outer product of rows: the inner vmap's batched y meets the outer level's x
    dist = vmap(lambda a: vmap(lambda b: ((a - b) ** 2).sum(), in_dims=0)(ty))(tx)
    expect = ((x[:, None] - y[None]) ** 2).sum(-1)
    np.testing.assert_allclose(dist.data, expect, rtol=1e-12)
    (dist > 1.0).astype(np.float64)  # comparisons on results are ordinary
    dist.sum().backward()
    np.testing.assert_allclose(tx.grad.data, 2 * (5 * x - y.sum(0)), rtol=1e-12)
    np.testing.assert_allclose(ty.grad.data, 2 * (3 * y - x.sum(0)), rtol=1e-12)


# ---------------------------------------------------------------------- errors, randomness
def test_vmap_refuses_reading_values_of_a_batched_tensor():
    """Code that reads values (not ops) cannot be batched: a clear error, never the values of
    something else (np.asarray of an ndarray placeholder would give zeros)."""
    x = mt.Tensor(_data((3, 2)))
    idx = mt.Tensor(np.array([1, 0, 1]))
    cases = [
        (lambda v: v.sum().item(), "item"),
        (lambda v: v if v.sum() > 0 else -v, "__bool__"),
        (np.asarray, "np.asarray"),
        (lambda v: np.asarray(v.data), "converting .data to an array"),
        (mt.tensor, "copy"),
        (lambda v: np.exp(v.data), "np.exp"),
        (lambda v: v.data * 2, "__mul__"),
    ]
    for fn, what in cases:
        with pytest.raises(RuntimeError, match=f"vmap: .*{re.escape(what)}.* reads the values"):
            vmap(fn)(x)
    with pytest.raises(RuntimeError, match="vmap: __index__ on .data reads the values"):
        vmap(lambda v, k: v[k])(x, idx)  # a batched index: refused, not read as zeros
    leaked = []
    vmap(lambda v: leaked.append(v) or v)(x)
    with pytest.raises(RuntimeError, match="after its vmap has returned"):
        leaked[0] + 1


def test_vmap_argument_errors():
    x, y = mt.Tensor(_data((3, 2))), mt.Tensor(_data((4, 2)))
    with pytest.raises(ValueError, match=r"different sizes.*\[3, 4\]"):
        vmap(lambda a, b: a + b)(x, y)
    with pytest.raises(ValueError, match="in_dims has 1 entries for 2"):
        vmap(lambda a, b: a + b, in_dims=(0,))(x, y)
    with pytest.raises(ValueError, match="in_dims 2 is out of range"):
        vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="no argument is batched"):
        vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(TypeError, match="must return tensors"):
        vmap(lambda a: 1.0)(x)
    with pytest.raises(ValueError, match="randomness"):
        vmap(lambda a: a, randomness="sometimes")


def test_vmap_unbatched_output_is_repeated_and_state_restored():
    x = mt.Tensor(_data((3, 2)))
    c = mt.Tensor(np.arange(2.0))
    out = vmap(lambda a: (a, c))(x)
    np.testing.assert_array_equal(out[1].data, np.tile(np.arange(2.0), (3, 1)))
    from microtensor.grad_mode import _state

    assert _state.transforms == ()
    with pytest.raises(ZeroDivisionError):
        vmap(lambda a: 1 / 0)(x)
    assert _state.transforms == ()


def test_vmap_check_randomness_raises_naming_the_op():
    x = mt.Tensor(_data((3, 2)))

    def draw(v):
        vmap_module.check_randomness("rand")
        return v

    with pytest.raises(RuntimeError, match="vmap: rand draws random numbers"):
        vmap(draw)(x)
    with pytest.raises(RuntimeError, match="rand inside vmap.randomness='different'"):
        vmap(draw, randomness="different")(x)
    vmap(draw, randomness="same")(x)
    vmap_module.check_randomness("rand")  # outside vmap: nothing to refuse


def test_vmap_dropout_randomness_error_same_different():
    import nn

    x = mt.Tensor(np.ones((6, 50)))
    drop = lambda v: nn.functional.dropout(v, 0.5)  # noqa: E731
    with pytest.raises(RuntimeError, match="vmap: Dropout draws random numbers"):
        vmap(drop)(x)
    with pytest.raises(RuntimeError, match="Dropout"):  # refused even on an unbatched input
        vmap(lambda v: drop(mt.Tensor(np.ones(50))) + v)(x)
    mt.manual_seed(0)
    same = vmap(drop, randomness="same")(x).data
    assert set(np.unique(same)) == {0.0, 2.0} and (same == same[0]).all()
    mt.manual_seed(0)
    diff = vmap(drop, randomness="different")(x).data
    assert set(np.unique(diff)) == {0.0, 2.0} and not (diff == diff[0]).all()
    # an unbatched input still gets a mask per example under "different"
    diff2 = vmap(lambda v: drop(mt.Tensor(np.ones(50))) + 0 * v, randomness="different")(x)
    assert diff2.shape == (6, 50) and not (diff2.data == diff2.data[0]).all()
    # gradients flow through each example's own mask
    xt = mt.Tensor(np.ones((6, 50)), requires_grad=True)
    out = vmap(drop, randomness="different")(xt)
    out.sum().backward()
    np.testing.assert_array_equal(xt.grad.data, out.data)


def test_vmap_random_factories_raise_by_default():
    with pytest.raises(RuntimeError, match="rand"):
        vmap(lambda v: v + mt.rand(2))(mt.Tensor(_data((3, 2))))


# ---------------------------------------------------------------------- losses, factories
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_vmap_fused_losses_match_loop_and_torch(reduction):
    import nn

    F = nn.functional
    x, y = _data((4, 5, 3)), _data((5, 3))
    labels = RNG.integers(0, 3, size=5)
    prob = (y > 0).astype(np.float64)
    ty, tl, tp = torch.from_numpy(y), torch.from_numpy(labels), torch.from_numpy(prob)
    tf = torch.nn.functional
    cases = [
        (lambda v: F.mse_loss(v, y, reduction=reduction),
         lambda v: tf.mse_loss(v, ty, reduction=reduction)),
        (lambda v: F.binary_cross_entropy(v.sigmoid(), prob, reduction=reduction),
         lambda v: tf.binary_cross_entropy(torch.sigmoid(v), tp, reduction=reduction)),
        (lambda v: F.cross_entropy(v, labels, reduction=reduction),
         lambda v: tf.cross_entropy(v, tl, reduction=reduction)),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # batched by rules, not per example
        for fn, tfn in cases:
            assert_vmap_matches(fn, [x], torch_fn=tfn)


def test_vmap_like_factories_of_a_batched_tensor():
    x = _data((4, 3), np.float32)
    got = assert_vmap_matches(lambda v: v + mt.ones_like(v) + mt.full_like(v, 2.0), [x],
                              torch_fn=lambda v: v + torch.ones_like(v) + torch.full_like(v, 2.0),
                              dtype=np.float32)
    assert got.dtype == np.float32


# ---------------------------------------------------------------------- reverse mode inside
def _grad_transform(f):
    """What mt.func.grad does, through vmap's reverse-mode helpers (batched_leaf, grad)."""
    def grad_f(*args):
        leaves = [vmap_module.batched_leaf(a) for a in args]
        return vmap_module.grad(f(*leaves), leaves, create_graph=True)
    return grad_f


def _score(w, x):
    return (x * w).sum().tanh() ** 2


def _torch_score(w, x):
    return torch.tanh((x * w).sum()) ** 2


def test_vmap_of_grad_gives_per_example_gradients_like_torch():
    w, x = _data((3,)), _data((4, 3))
    got = vmap(_grad_transform(_score), in_dims=(None, 0))(mt.Tensor(w), mt.Tensor(x))
    ref = torch.func.vmap(torch.func.grad(_torch_score, argnums=(0, 1)), in_dims=(None, 0))(
        torch.from_numpy(w), torch.from_numpy(x))
    for a, b in zip(got, ref):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-12, atol=1e-14)


def test_vmap_of_vmap_of_grad_and_backward_through_it():
    w, x = _data((3,)), _data((2, 4, 3))
    tw = mt.Tensor(w, requires_grad=True)
    inner = vmap(_grad_transform(_score), in_dims=(None, 0))
    gw, gx = vmap(inner, in_dims=(None, 0))(tw, mt.Tensor(x))
    rw = torch.from_numpy(w).requires_grad_()
    tinner = torch.func.vmap(torch.func.grad(_torch_score, argnums=(0, 1)), in_dims=(None, 0))
    rgw, rgx = torch.func.vmap(tinner, in_dims=(None, 0))(rw, torch.from_numpy(x))
    np.testing.assert_allclose(gw.data, rgw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gx.data, rgx.detach().numpy(), rtol=1e-12, atol=1e-14)
    (gw * gw).sum().backward()  # second order: through the per-example gradients
    (rgw * rgw).sum().backward()
    np.testing.assert_allclose(tw.grad.data, rw.grad.numpy(), rtol=1e-10)


def test_vmap_grad_helpers_outside_vmap_are_mt_grad():
    assert vmap_module.batched_leaf(mt.Tensor(np.ones(2))) is None
    x = mt.Tensor(_data((3,)), requires_grad=True)
    (g,) = vmap_module.grad((x * x).sum(), [x])
    np.testing.assert_allclose(g.data, 2 * x.data)


def test_vmap_of_func_grad_per_example_gradients():
    w, x = _data((3,)), _data((4, 3))
    got = mt.func.vmap(mt.func.grad(_score, argnums=(0, 1)), in_dims=(None, 0))(
        mt.Tensor(w), mt.Tensor(x))
    ref = torch.func.vmap(torch.func.grad(_torch_score, argnums=(0, 1)), in_dims=(None, 0))(
        torch.from_numpy(w), torch.from_numpy(x))
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-12, atol=1e-14)


def test_jvp_of_vmap_carries_tangents_through_the_batch():
    x, v = _data((4, 3)), _data((4, 3))
    expect = (np.cos(x) * v).sum(1, keepdims=True) * x + np.sin(x).sum(1, keepdims=True) * v
    for dims, xs, vs in ((0, x, v), (1, x.T, v.T)):
        _, t = mt.func.jvp(vmap(lambda u: u.sin().sum() * u, in_dims=dims), (mt.Tensor(xs),),
                           (mt.Tensor(vs),))
        np.testing.assert_allclose(t.data, expect, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- random programs
# Steps that keep a tensor of rank >= 1 (shape may change); each a function of (v, w) where w
# is a second operand of the example's last-axis length.
_STEPS = [
    lambda v, w: v * w + 1.0,
    lambda v, w: (v - w).tanh(),
    lambda v, w: mt.maximum(v, w.sum()),
    lambda v, w: v.softmax(axis=-1),
    lambda v, w: v.log_softmax(axis=0),
    lambda v, w: v - v.mean(axis=-1, keepdims=True),
    lambda v, w: v.sum(axis=0, keepdims=True) + v,
    lambda v, w: v.max(axis=-1, keepdims=True) * v,
    lambda v, w: v[..., ::-1] + v,
    lambda v, w: v.unsqueeze(0).squeeze(0),
    lambda v, w: mt.where(v > w, v, w * 2),
    lambda v, w: (v @ mt.ones((v.shape[-1], v.shape[-1]))) / 3,
    lambda v, w: mt.concatenate([v, w.reshape((1,) * (v.ndim - 1) + (-1,))
                                 .expand(*v.shape)], axis=-1)[..., : v.shape[-1]],
    lambda v, w: v.transpose().transpose(),
    lambda v, w: mt.stack([v, v * w], axis=-1).sum(axis=-1),
    lambda v, w: mt.logsumexp(v, axis=-1, keepdims=True) - v,
]


@given(st.lists(st.integers(0, len(_STEPS) - 1), min_size=1, max_size=4),
       st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(1, 3),
       st.sampled_from([0, 1, -1]), st.booleans(), st.sampled_from(DTYPES),
       st.integers(0, 2**32 - 1))
def test_vmap_random_programs_match_the_loop(steps, shape, size, dim, shared, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    dim = dim % (len(shape) + 1)
    x = np.moveaxis(rng.normal(size=(size,) + shape).astype(dtype), 0, dim)
    w = rng.normal(size=(shape[-1],) if shared else (size, shape[-1])).astype(dtype)

    def program(v, u):
        for i in steps:
            v = _STEPS[i](v, u)
        return v

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every step is batched by a rule
        assert_vmap_matches(program, [x, w], in_dims=(dim, None if shared else 0),
                            dtype=dtype)


def test_vmap_of_a_module_gives_the_parameters_the_loop_gradients():
    import nn

    mt.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.LayerNorm(6), nn.Linear(6, 2),
                          nn.Tanh())
    x = _data((5, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = vmap(model, in_dims=1, out_dims=1)(mt.Tensor(x))
    (out * out).sum().backward()
    got = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    loop = mt.stack([model(mt.Tensor(x[:, i])) for i in range(3)], axis=1)
    np.testing.assert_allclose(out.data, loop.data, rtol=1e-12)
    (loop * loop).sum().backward()
    for g, p in zip(got, model.parameters()):
        np.testing.assert_allclose(g, p.grad.data, rtol=1e-10, atol=1e-13)
