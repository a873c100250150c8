"""Cases of the shape and indexing ops (microtensor/ops/indexing.py) that the op table's drawn
rows do not pin down: einsum forms, pad modes and scatter with repeated indices against
PyTorch, NumPy dispatch with NumPy's own argument names, PyTorch's argument names, and the
errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import microtensor as mt

RNG = np.random.default_rng(16)


def _pair(*shapes: tuple[int, ...], dtype: Any = np.float64) -> tuple[list, list]:
    arrays = [RNG.normal(size=s).astype(dtype) for s in shapes]
    return ([mt.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def assert_matches_torch(out: mt.Tensor, ref: torch.Tensor, ms: list, ts: list,
                         rtol: float = 1e-10) -> None:
    """Values and first-order gradients (for a fixed random seed gradient) agree."""
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=rtol)
    assert out.dtype == ref.detach().numpy().dtype
    seed = RNG.normal(size=out.shape)
    out.backward(mt.tensor(seed.astype(out.dtype)))
    ref.backward(torch.tensor(seed, dtype=ref.dtype))
    for m, t in zip(ms, ts):
        want = t.grad.numpy() if t.grad is not None else np.zeros(m.shape)
        np.testing.assert_allclose(m.grad.data, want, rtol=rtol, atol=rtol)


# ----------------------------------------------------------------------------------- einsum
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->", [(3, 3)]), ("ii->i", [(4, 4)]),
    ("bii->b", [(2, 3, 3)]), ("iij->ij", [(2, 2, 3)]), ("ij->", [(2, 3)]), ("ji", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("i,j->ij", [(3,), (2,)]), ("ij,ij->", [(2, 3), (2, 3)]), ("ij,jk,kl->il",
                                                               [(2, 3), (3, 4), (4, 2)]),
    ("iji->j", [(2, 3, 2)]), ("ij,ik->jk", [(3, 2), (3, 4)]), ("...i,...i", [(2, 3), (3,)]),
    ("ab,ab->ab", [(1, 3), (2, 3)]),
]


@pytest.mark.parametrize(("spec", "shapes"), EINSUM, ids=[s for s, _ in EINSUM])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_einsum_forms_match_pytorch(spec: str, shapes: list, dtype: Any) -> None:
    ms, ts = _pair(*shapes, dtype=dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_matches_torch(mt.einsum(spec, *ms), torch.einsum(spec, *ts), ms, ts, rtol)


@pytest.mark.parametrize(("spec", "shapes"), [f for f in EINSUM if "..." not in f[0]][:10])
def test_einsum_second_order(spec: str, shapes: list) -> None:
    ms, _ = _pair(*shapes)
    assert mt.gradgradcheck(lambda *xs: mt.einsum(spec, *xs), ms)


def test_einsum_repeated_index_gradient_lies_on_the_diagonal() -> None:
    x = mt.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    mt.einsum("ii->", x).backward()
    np.testing.assert_array_equal(x.grad.data, np.eye(3))


def test_einsum_numpy_dispatch_and_operand_list() -> None:
    (a, b), _ = _pair((2, 3), (3, 2))
    y = np.einsum("ij,jk", a, b)
    assert isinstance(y, mt.Tensor) and y.grad_fn is not None
    np.testing.assert_allclose(mt.einsum("ij,jk", [a, b]).data, y.data)


@pytest.mark.parametrize(("spec", "shapes", "match"), [
    ("ij,jk", [(2, 3), (4, 2)], "einsum"), ("ii", [(2, 3)], "different lengths"),
    ("i->j", [(2,)], "output"), ("ij", [(2,)], "do not match"), ("i,i", [(2,)], "operands"),
    ("i!", [(2,)], "invalid"), ("...i->i", [(2, 3)], "ellipsis|'...'"),
])
def test_einsum_errors_name_the_problem(spec: str, shapes: list, match: str) -> None:
    ms = [mt.tensor(np.ones(s), requires_grad=True) for s in shapes]
    with pytest.raises(ValueError, match=match):
        mt.einsum(spec, *ms)


# --------------------------------------------------------------------------------- pad
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("layout", ["C", "F", "T", "sliced"])
def test_pad_modes_match_torch_f_pad(mode: str, layout: str) -> None:
    base = RNG.normal(size=(2, 3, 4, 5))
    arr = {"C": base, "F": np.asfortranarray(base), "T": base.T.copy().T,
           "sliced": RNG.normal(size=(4, 3, 4, 10))[::2, :, :, ::2]}[layout]
    m, t = mt.tensor(arr, requires_grad=True), torch.tensor(arr.copy(), requires_grad=True)
    pw = ((0, 0), (0, 0), (1, 2), (2, 1))
    kw = {"value": 0.5} if mode == "constant" else {}
    assert_matches_torch(mt.pad(m, pw, mode, **kw), F.pad(t, (2, 1, 1, 2), mode=mode, **kw),
                         [m], [t])


def test_pad_numpy_dispatch_takes_numpy_names() -> None:
    x = mt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = np.pad(x, ((1, 0), (0, 2)), mode="constant", constant_values=7.0)
    np.testing.assert_array_equal(y.data, np.pad(x.data, ((1, 0), (0, 2)), constant_values=7))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    for mode in ("reflect", "edge", "symmetric", "wrap"):
        np.testing.assert_array_equal(np.pad(x, 3, mode=mode).data, np.pad(x.data, 3, mode=mode))


def test_pad_edge_gradient_counts_every_copy() -> None:
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mt.pad(x, (2, 1), "edge").sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 1.0, 2.0])


def test_pad_of_0d_returns_the_value_as_numpy_does() -> None:
    x = mt.tensor(2.5, requires_grad=True)
    np.testing.assert_array_equal(mt.pad(x, 0).data, np.pad(np.float64(2.5), 0))
    with pytest.raises(ValueError, match="pad: .*negative"):
        mt.pad(x, -1)


@pytest.mark.parametrize(("args", "kwargs", "err", "match"), [
    ((1, "bogus"), {}, ValueError, "unknown mode"), ((-1,), {}, ValueError, "negative"),
    (((1, 2, 3),), {}, ValueError, "does not fit"), ((1, "edge"), {"value": 1.0}, ValueError,
                                                     "constant"),
    ((1.5,), {}, TypeError, "ints"),
])
def test_pad_errors_name_the_problem(args: tuple, kwargs: dict, err: type, match: str) -> None:
    x = mt.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(err, match=match):
        mt.pad(x, *args, **kwargs)


# ---------------------------------------------------------------------- scatter and gather
def test_scatter_add_with_repeated_indices_matches_torch() -> None:
    (x, src), (tx, tsrc) = _pair((3, 4), (2, 4))
    idx = np.array([[0, 0, 2, 2], [0, 1, 2, 2]])
    assert_matches_torch(mt.scatter_add(x, 0, idx, src),
                         torch.scatter_add(tx, 0, torch.tensor(idx), tsrc), [x, src], [tx, tsrc])


def test_scatter_with_repeated_indices_last_write_wins_and_gets_the_gradient() -> None:
    x = mt.tensor(np.zeros(3), requires_grad=True)
    src = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mt.scatter(x, 0, np.array([1, 1, 0]), src)
    np.testing.assert_array_equal(y.data, [3.0, 2.0, 0.0])
    (y * mt.tensor([10.0, 20.0, 30.0])).sum().backward()
    np.testing.assert_array_equal(src.grad.data, [0.0, 20.0, 10.0])  # src[0] was overwritten
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 30.0])
    assert mt.gradcheck(lambda s: mt.scatter(x.detach(), 0, np.array([1, 1, 0]), s * s), [src])


def test_gather_take_along_axis_index_select_match_torch() -> None:
    (x,), (tx,) = _pair((3, 4))
    idx = np.array([[0, 3], [1, 1]])
    assert_matches_torch(x.gather(1, idx), torch.gather(tx, 1, torch.tensor(idx)), [x], [tx])
    (x,), (tx,) = _pair((3, 4))
    full = np.array([[0, 3], [1, 1], [2, 2]])
    assert_matches_torch(np.take_along_axis(x, full, axis=1),
                         torch.take_along_dim(tx, torch.tensor(full), 1), [x], [tx])
    (x,), (tx,) = _pair((3, 4))
    sel = np.array([2, 0, 2])
    assert_matches_torch(x.index_select(0, sel), torch.index_select(tx, 0, torch.tensor(sel)),
                         [x], [tx])


def test_gather_out_of_range_is_an_index_error_naming_the_op() -> None:
    x = mt.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match="gather: .*out of range"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(TypeError, match="gather: indices must be integers"):
        x.gather(1, np.array([[0.5]]))


def test_masked_fill_matches_torch() -> None:
    (x,), (tx,) = _pair((3, 4), dtype=np.float32)
    mask = RNG.random((1, 4)) < 0.5
    assert_matches_torch(x.masked_fill(mask, -2.0), tx.masked_fill(torch.tensor(mask), -2.0),
                         [x], [tx], 1e-6)
    with pytest.raises(ValueError, match="masked_fill: mask of shape"):
        x.masked_fill(np.ones((2, 4), bool), 0.0)


# ------------------------------------------------------------------- flip, roll and friends
def test_flip_roll_accept_numpy_and_pytorch_names() -> None:
    (x,), (tx,) = _pair((3, 4))
    assert_matches_torch(mt.flip(x, dims=(0, 1)), torch.flip(tx, (0, 1)), [x], [tx])
    (x,), (tx,) = _pair((3, 4))
    assert_matches_torch(x.roll(shifts=(1, -2), dims=(0, 1)), torch.roll(tx, (1, -2), (0, 1)),
                         [x], [tx])
    np.testing.assert_array_equal(np.flip(x, 1).data, np.flip(x.data, 1))
    np.testing.assert_array_equal(np.roll(x, 5).data, np.roll(x.data, 5))


def test_roll_without_axis_sums_the_shifts_as_numpy_does() -> None:
    x = mt.tensor(np.arange(6.0), requires_grad=True)
    np.testing.assert_array_equal(mt.roll(x, (1, 2)).data, np.roll(x.data, (1, 2)))


def test_tril_triu_match_torch_with_diagonal() -> None:
    for name in ("tril", "triu"):
        (x,), (tx,) = _pair((2, 3, 4))
        assert_matches_torch(getattr(mt, name)(x, diagonal=1), getattr(torch, name)(tx, 1),
                             [x], [tx])
    x = mt.tensor(np.arange(3.0))
    np.testing.assert_array_equal(mt.tril(x).data, np.tril(np.arange(3.0)))  # 1-D: NumPy's


def test_tile_and_repeat_interleave_match_torch() -> None:
    (x,), (tx,) = _pair((2, 3))
    assert_matches_torch(x.tile((2, 1, 2)), tx.repeat(2, 1, 2), [x], [tx])
    (x,), (tx,) = _pair((2, 3))
    reps = np.array([1, 0, 3])
    assert_matches_torch(x.repeat_interleave(reps, dim=1),
                         torch.repeat_interleave(tx, torch.tensor(reps), dim=1), [x], [tx])
    np.testing.assert_array_equal(np.tile(x, 2).data, np.tile(x.data, 2))
    np.testing.assert_array_equal(np.repeat(x, 2).data, np.repeat(x.data, 2))


def test_split_is_numpy_and_chunk_is_pytorch() -> None:
    x = mt.tensor(np.arange(10.0), requires_grad=True)
    assert [p.shape for p in mt.split(x, [3, 7])] == [(3,), (4,), (3,)]
    assert [p.shape for p in np.split(x, 5)] == [(2,)] * 5
    assert [p.shape for p in x.chunk(4)] == [tuple(c.shape) for c in torch.arange(10).chunk(4)]
    with pytest.raises(ValueError, match="split: 3 sections"):
        mt.split(x, 3)
    sum(p.sum() * (i + 1) for i, p in enumerate(mt.split(x, [3, 7]))).backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 1, 2, 2, 2, 2, 3, 3, 3])


def test_diagonal_unfold_moveaxis_tensordot_outer_meshgrid_match_torch() -> None:
    (x,), (tx,) = _pair((2, 3, 4))
    assert_matches_torch(x.diagonal(1, dim1=2, dim2=0), torch.diagonal(tx, 1, 2, 0), [x], [tx])
    (x,), (tx,) = _pair((2, 7))
    assert_matches_torch(x.unfold(1, 3, 2), tx.unfold(1, 3, 2), [x], [tx])
    (x,), (tx,) = _pair((2, 3, 4))
    assert_matches_torch(np.moveaxis(x, (0, 1), (2, 0)), torch.movedim(tx, (0, 1), (2, 0)),
                         [x], [tx])
    (a, b), (ta, tb) = _pair((2, 3, 4), (4, 3, 5))
    assert_matches_torch(np.tensordot(a, b, ((1, 2), (1, 0))),
                         torch.tensordot(ta, tb, ((1, 2), (1, 0))), [a, b], [ta, tb])
    (a, b), (ta, tb) = _pair((3,), (4,))
    assert_matches_torch(mt.outer(a, b), torch.outer(ta, tb), [a, b], [ta, tb])
    (a, b), (ta, tb) = _pair((3,), (4,))
    got = mt.stack(mt.meshgrid(a, b, indexing="ij"))
    assert_matches_torch(got, torch.stack(torch.meshgrid(ta, tb, indexing="ij")), [a, b],
                         [ta, tb])


def test_take_along_axis_defaults_to_the_last_axis_as_numpy_2() -> None:
    x = mt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    idx = np.array([[2], [0]])
    np.testing.assert_array_equal(np.take_along_axis(x, idx).data,
                                  np.take_along_axis(x.data, idx))
    np.testing.assert_array_equal(mt.take_along_axis(x, np.array([5, 0]), None).data, [5, 0])
