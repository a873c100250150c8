"""Trust tests for nn (issue 13): every fused op and loss against PyTorch on every memory
layout, and clear errors (that change nothing) from io, modules, optimizers and utils.

Layouts: a fused op gets raw arrays, so a backward that writes through `reshape(-1)` (a copy
unless the array is C-contiguous) silently loses its update on `x.T` or a Fortran-ordered
leaf. Each op runs on C-contiguous, transposed (an op in the graph), sliced with step 2 (an op
in the graph), Fortran-ordered (a leaf) and strided (a leaf holding a step-2 view) inputs, in
float32 and float64; values and first-order gradients are compared with PyTorch, second order
with PyTorch and with central differences (gradgradcheck) on small float64 cases.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is a test dependency
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

LAYOUTS = ("c", "transposed", "sliced", "fortran", "strided")
DTYPES = (np.float64, np.float32)
REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------- layouts
def _reverse(ndim: int) -> tuple[int, ...]:
    return tuple(reversed(range(ndim)))


def _leaf(base: np.ndarray, layout: str, rng: np.random.Generator) -> tuple[mt.Tensor, Any]:
    """A leaf holding `base` in `layout`, and the op input made from it (same values)."""
    if layout == "c":
        leaf = mt.Tensor(np.ascontiguousarray(base), requires_grad=True)
        return leaf, leaf
    if layout == "transposed":
        leaf = mt.Tensor(np.ascontiguousarray(base.transpose(_reverse(base.ndim))),
                         requires_grad=True)
        return leaf, leaf.transpose(_reverse(base.ndim))
    if layout == "fortran":
        leaf = mt.Tensor(np.asfortranarray(base), requires_grad=True)
        assert base.ndim < 2 or leaf.data.flags.f_contiguous
        return leaf, leaf
    wide = rng.normal(size=base.shape[:-1] + (2 * base.shape[-1],)).astype(base.dtype)
    wide[..., ::2] = base
    if layout == "sliced":
        leaf = mt.Tensor(wide, requires_grad=True)
        return leaf, leaf[..., ::2]
    assert layout == "strided"
    leaf = mt.Tensor(wide[..., ::2], requires_grad=True)
    assert not leaf.data.flags.c_contiguous or leaf.data.size < 2
    return leaf, leaf


def _grad_of_input(leaf: mt.Tensor, layout: str, ndim: int) -> np.ndarray:
    """The gradient with respect to the op input, read off the leaf's gradient."""
    assert leaf.grad is not None
    g = leaf.grad.data
    assert isinstance(g, np.ndarray) and g.shape == leaf.shape and g.dtype == leaf.dtype
    if layout == "transposed":
        return g.transpose(_reverse(ndim))
    if layout == "sliced":
        np.testing.assert_array_equal(g[..., 1::2], 0)  # the skipped columns get nothing
        return g[..., ::2]
    return g


# ---------------------------------------------------------------------- the op table
# Each case builds, from a generator and a dtype: the differentiable input arrays, and the
# same function for microtensor and for torch (each takes a list of inputs and a reduction).
Case = tuple[list[np.ndarray], Callable[..., Any], Callable[..., Any], bool]


def _torch_act(act: str | None) -> Callable[[Any], Any]:
    return {None: lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "relu": torch.relu}[act]


def _linear_case(act: str | None, bias: bool, batch: tuple[int, ...]) -> Callable[..., Case]:
    def make(rng: np.random.Generator, dtype: Any) -> Case:
        arrays = [rng.normal(size=(*batch, 5, 3)), rng.normal(size=(3, 4))]
        if bias:
            arrays.append(rng.normal(size=4))

        def ours(xs: list[Any], red: Any) -> Any:
            return F.linear(xs[0], xs[1], xs[2] if bias else None, activation=act)

        def theirs(xs: list[Any], red: Any) -> Any:
            z = xs[0] @ xs[1]
            return _torch_act(act)(z + xs[2] if bias else z)

        return arrays, ours, theirs, False
    return make


def _module_linear_case(act: str | None) -> Callable[..., Case]:
    """nn.Linear(activation=...) as a module whose Parameters hold the arrays."""
    def make(rng: np.random.Generator, dtype: Any) -> Case:
        arrays = [rng.normal(size=(6, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)]

        def ours(xs: list[Any], red: Any) -> Any:
            layer = nn.Linear(3, 2, dtype=dtype, activation=act)
            # the layer's own parameters are replaced by the test's leaves (any layout):
            # object.__setattr__ keeps the Tensor itself, so its gradient is the leaf's
            object.__setattr__(layer, "weight", xs[1])
            object.__setattr__(layer, "bias", xs[2])
            return layer(xs[0])

        def theirs(xs: list[Any], red: Any) -> Any:
            return _torch_act(act)(xs[0] @ xs[1] + xs[2])

        return arrays, ours, theirs, False
    return make


def _ce_labels_case(batch: tuple[int, ...], module: bool = False) -> Callable[..., Case]:
    def make(rng: np.random.Generator, dtype: Any) -> Case:
        logits = rng.normal(size=(*batch, 4)) * 3
        labels = rng.integers(0, 4, size=batch)

        def ours(xs: list[Any], red: str) -> Any:
            # PyTorch's layout: a batched (N, d, C) case goes in as (N, C, d)
            x = xs[0] if xs[0].ndim < 3 else xs[0].transpose((0, 2, 1))
            if module:
                return nn.CrossEntropyLoss(reduction=red)(x, labels)
            return F.cross_entropy(x, labels, reduction=red)

        def theirs(xs: list[Any], red: str) -> Any:
            out = TF.cross_entropy(xs[0].reshape(-1, 4), torch.tensor(labels.reshape(-1)),
                                   reduction=red)
            return out.reshape(batch) if red == "none" else out

        return [logits], ours, theirs, True
    return make


def _ce_probs_case(rng: np.random.Generator, dtype: Any) -> Case:
    logits = rng.normal(size=(5, 3)) * 2
    probs = rng.dirichlet(np.ones(3), size=5)

    def ours(xs: list[Any], red: str) -> Any:
        return F.cross_entropy(xs[0], xs[1], reduction=red)

    def theirs(xs: list[Any], red: str) -> Any:
        return TF.cross_entropy(xs[0], xs[1], reduction=red)

    return [logits, probs], ours, theirs, True


def _pairwise_case(name: str) -> Callable[..., Case]:
    """Losses of (input, target), both differentiable: mse, l1, bce, bce_with_logits."""
    def make(rng: np.random.Generator, dtype: Any) -> Case:
        shape = (4, 3)
        if name.startswith("bce_with_logits"):  # logits, and targets in [0, 1]
            arrays = [rng.normal(size=shape) * 2, rng.uniform(0, 1, shape)]
        elif name.startswith("bce"):  # probabilities, and targets in [0, 1]
            arrays = [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]
        else:
            arrays = [rng.normal(size=shape) * 2, rng.uniform(-1, 1, shape)]
        weight = rng.uniform(0.5, 2, shape[-1]).astype(dtype)
        pos_weight = rng.uniform(0.5, 3, shape[-1]).astype(dtype)
        ours_fn: dict[str, Callable[..., Any]] = {
            "mse": F.mse_loss,
            "mse_module": lambda x, y, red: nn.MSELoss(red)(x, y),
            "l1": F.l1_loss,
            "l1_module": lambda x, y, red: nn.L1Loss(red)(x, y),
            "bce": lambda x, y, red: F.binary_cross_entropy(x, y, reduction=red),
            "bce_module": lambda x, y, red: nn.BCELoss(reduction=red)(x, y),
            "bce_weight": lambda x, y, red: F.binary_cross_entropy(x, y, weight, red),
            "bce_with_logits": lambda x, y, red: F.binary_cross_entropy_with_logits(
                x, y, reduction=red),
            "bce_with_logits_module": lambda x, y, red: nn.BCEWithLogitsLoss(
                reduction=red)(x, y),
            "bce_with_logits_weights": lambda x, y, red: F.binary_cross_entropy_with_logits(
                x, y, weight, pos_weight, red),
        }
        def tw() -> Any:
            return torch.tensor(weight)

        def tpw() -> Any:
            return torch.tensor(pos_weight)

        theirs_fn: dict[str, Callable[..., Any]] = {
            "mse": lambda x, y, red: TF.mse_loss(x, y, reduction=red),
            "l1": lambda x, y, red: TF.l1_loss(x, y, reduction=red),
            "bce": lambda x, y, red: TF.binary_cross_entropy(x, y, reduction=red),
            "bce_weight": lambda x, y, red: TF.binary_cross_entropy(x, y, tw(), reduction=red),
            "bce_with_logits": lambda x, y, red: TF.binary_cross_entropy_with_logits(
                x, y, reduction=red),
            "bce_with_logits_weights": lambda x, y, red: TF.binary_cross_entropy_with_logits(
                x, y, tw(), reduction=red, pos_weight=tpw()),
        }
        key = name.removesuffix("_module")

        def ours(xs: list[Any], red: str) -> Any:
            return ours_fn[name](xs[0], xs[1], red)

        def theirs(xs: list[Any], red: str) -> Any:
            return theirs_fn[key](xs[0], xs[1], red)

        return arrays, ours, theirs, True
    return make


def _nll_case(rng: np.random.Generator, dtype: Any) -> Case:
    logp = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)

    def ours(xs: list[Any], red: str) -> Any:
        return nn.NLLLoss(reduction=red)(xs[0], labels)

    def theirs(xs: list[Any], red: str) -> Any:
        return TF.nll_loss(xs[0], torch.tensor(labels), reduction=red)

    return [logp], ours, theirs, True


def _unary_case(name: str) -> Callable[..., Case]:
    def make(rng: np.random.Generator, dtype: Any) -> Case:
        x = rng.normal(size=(4, 5)) * 4
        ours_fn = {"softplus": F.softplus, "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
                   "softmax": F.softmax, "log_softmax": F.log_softmax}[name]
        theirs_fn = {"softplus": TF.softplus,
                     "leaky_relu": lambda t: TF.leaky_relu(t, 0.1),
                     "softmax": lambda t: TF.softmax(t, -1),
                     "log_softmax": lambda t: TF.log_softmax(t, -1)}[name]
        return [x], lambda xs, red: ours_fn(xs[0]), lambda xs, red: theirs_fn(xs[0]), False
    return make


CASES: dict[str, Callable[..., Case]] = {
    "linear_none": _linear_case(None, True, ()),
    **{f"linear_{act}": _linear_case(act, True, ()) for act in ("sigmoid", "tanh", "relu")},
    "linear_relu_nobias": _linear_case("relu", False, ()),
    "linear_sigmoid_batched": _linear_case("sigmoid", True, (2,)),
    "linear_none_batched_nobias": _linear_case(None, False, (2,)),
    **{f"module_linear_{act}": _module_linear_case(act) for act in (None, "sigmoid", "tanh",
                                                                   "relu")},
    "cross_entropy_labels": _ce_labels_case((6,)),
    "cross_entropy_labels_batched": _ce_labels_case((2, 3)),
    "cross_entropy_module": _ce_labels_case((5,), module=True),
    "cross_entropy_probs": _ce_probs_case,
    "nll_module": _nll_case,
    **{name: _pairwise_case(name) for name in (
        "mse", "mse_module", "l1", "l1_module", "bce", "bce_module", "bce_weight",
        "bce_with_logits", "bce_with_logits_module", "bce_with_logits_weights")},
    **{name: _unary_case(name) for name in ("softplus", "leaky_relu", "softmax",
                                            "log_softmax")},
}


def _build(name: str, seed: int, dtype: Any) -> Case:
    rng = np.random.default_rng(seed)
    arrays, ours, theirs, is_loss = CASES[name](rng, dtype)
    return [a.astype(dtype) for a in arrays], ours, theirs, is_loss


def _run_both(name: str, layout: str, dtype: Any, red: str | None, seed: int = 0
              ) -> tuple[list[tuple[Any, Any]], list[tuple[np.ndarray, np.ndarray]]]:
    """Run a case in both frameworks; returns [(our value, torch value)] and
    [(our input gradient, torch's)]."""
    arrays, ours, theirs, _ = _build(name, seed, dtype)
    rng = np.random.default_rng(seed + 1)
    leaves, inputs = zip(*[_leaf(a, layout, rng) for a in arrays])
    out = ours(list(inputs), red)
    t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    t_out = theirs(t_leaves, red)
    g = np.random.default_rng(seed + 2).normal(size=out.shape).astype(dtype)
    out.backward(mt.Tensor(g))
    t_out.backward(torch.tensor(g))
    values = [(out.data, t_out.detach().numpy())]
    grads = [(_grad_of_input(leaf, layout, a.ndim), t.grad.numpy())
             for leaf, t, a in zip(leaves, t_leaves, arrays)]
    return values, grads


def _tol(dtype: Any) -> dict[str, float]:
    return {"rtol": 1e-9, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5,
                                                                       "atol": 2e-6}


CASE_NAMES = sorted(CASES)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_fused_ops_and_losses_match_torch_on_every_layout(name, layout, dtype):
    is_loss = _build(name, 0, dtype)[3]
    for red in (REDUCTIONS if is_loss else (None,)):
        values, grads = _run_both(name, layout, dtype, red)
        for ours, theirs in values:
            assert ours.dtype == dtype, (name, layout, red)
            assert ours.shape == theirs.shape, (name, layout, red)
            np.testing.assert_allclose(ours, theirs, **_tol(dtype), err_msg=f"{name} {red}")
        for k, (ours, theirs) in enumerate(grads):
            np.testing.assert_allclose(ours, theirs, **_tol(dtype),
                                       err_msg=f"{name} {layout} {red}: gradient of input {k}")


def test_cross_entropy_gradient_rows_sum_to_zero_on_transposed_logits():
    # the repro: softmax - onehot sums to 0 along each row; softmax alone sums to 1
    x = mt.tensor(np.random.default_rng(0).random((4, 2)), requires_grad=True)
    F.cross_entropy(x.T, [2, 3], reduction="sum").backward()
    np.testing.assert_allclose(x.grad.data.sum(axis=0), 0, atol=1e-12)
    f = mt.Tensor(np.asfortranarray(np.random.default_rng(1).random((2, 4))), requires_grad=True)
    nn.CrossEntropyLoss(reduction="sum")(f, [2, 3]).backward()
    np.testing.assert_allclose(f.grad.data.sum(axis=1), 0, atol=1e-12)


def test_linear_relu_slope_at_exact_zero_on_fortran_input():
    # the fused ReLU writes 0.5 at exact zeros of z by flat index: any layout must get it
    x = mt.Tensor(np.asfortranarray(np.zeros((3, 2))), requires_grad=True)
    w = mt.Tensor(np.asfortranarray(np.ones((2, 4))), requires_grad=True)
    b = mt.Tensor(np.zeros(4), requires_grad=True)
    F.linear(x, w, b, activation="relu").sum().backward()
    np.testing.assert_array_equal(b.grad.data, np.full(4, 1.5))


# ---------------------------------------------------------------------- second order
SECOND_ORDER = ["linear_sigmoid", "linear_tanh", "linear_relu", "linear_none",
                "cross_entropy_labels", "cross_entropy_probs", "mse", "bce",
                "bce_with_logits_weights", "nll_module", "l1", "softplus", "log_softmax"]


@needs_torch
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_fused_ops_second_order_match_torch_on_every_layout(name, layout):
    arrays, ours, theirs, is_loss = _build(name, 3, np.float64)
    red = "sum" if is_loss else None
    rng = np.random.default_rng(4)
    leaves, inputs = zip(*[_leaf(a, layout, rng) for a in arrays])
    t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = ours(list(inputs), red), theirs(t_leaves, red)
    g = rng.normal(size=out.shape)
    vs = [rng.normal(size=a.shape) for a in arrays]
    firsts = mt.grad(out, list(inputs), grad_outputs=mt.Tensor(g), create_graph=True)
    t_firsts = torch.autograd.grad(t_out, t_leaves, torch.tensor(g), create_graph=True)
    total = sum((f * mt.Tensor(v)).sum() for f, v in zip(firsts, vs))
    t_total = sum((f * torch.tensor(v)).sum() for f, v in zip(t_firsts, vs))
    if total.requires_grad:  # else the gradient is constant (nll, l1): second order is 0
        total.backward()
    if t_total.requires_grad:
        t_total.backward()
    for leaf, t, a in zip(leaves, t_leaves, arrays):
        ours_g = (_grad_of_input(leaf, layout, a.ndim) if leaf.grad is not None
                  else np.zeros(a.shape))
        theirs_g = t.grad.numpy(force=True) if t.grad is not None else np.zeros(a.shape)
        np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("layout", ["transposed", "fortran", "sliced"])
@pytest.mark.parametrize("name", ["linear_sigmoid", "cross_entropy_labels", "bce", "mse",
                                  "bce_with_logits", "softplus"])
def test_fused_ops_gradgradcheck_on_noncontiguous_inputs(name, layout):
    arrays, ours, _, is_loss = _build(name, 5, np.float64)
    arrays = [a[:3] if a.ndim == 2 and a.shape[0] > 3 and k == 0 and name.startswith(
        "linear") else a for k, a in enumerate(arrays)]
    red = "sum" if is_loss else None
    rng = np.random.default_rng(6)
    leaves, _ = zip(*[_leaf(a, layout, rng) for a in arrays])

    def fn(*ls: Any) -> Any:
        made = []
        for leaf in ls:
            if layout == "transposed":
                made.append(leaf.transpose(_reverse(leaf.ndim)))
            elif layout == "sliced":
                made.append(leaf[..., ::2])
            else:
                made.append(leaf)
        return ours(made, red)

    assert mt.gradcheck(fn, leaves)
    assert mt.gradgradcheck(fn, leaves)


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["bce", "bce_module", "bce_with_logits", "mse", "l1",
                                  "mse_module"])
def test_losses_on_0d_inputs_match_torch(name, dtype):
    # a 0-d input (one prediction): ufuncs return scalars there, which `out=` refuses
    make = _pairwise_case(name)
    for red in REDUCTIONS:
        arrays, ours, theirs, _ = make(np.random.default_rng(7), dtype)
        arrays = [np.asarray(a.flat[0], dtype=dtype) for a in arrays]
        leaves = [mt.Tensor(a.copy(), requires_grad=True) for a in arrays]
        t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, t_out = ours(leaves, red), theirs(t_leaves, red)
        np.testing.assert_allclose(out.data, t_out.detach().numpy(), **_tol(dtype))
        assert out.dtype == dtype
        out.sum().backward()
        t_out.sum().backward()
        for leaf, t in zip(leaves, t_leaves):
            assert type(leaf.grad.data) is np.ndarray and leaf.grad.shape == ()
            np.testing.assert_allclose(leaf.grad.data, t.grad.numpy(), **_tol(dtype))


def test_bce_loss_on_0d_input_gives_a_0d_loss():
    x = mt.tensor(0.25, requires_grad=True)
    loss = nn.BCELoss()(x, 1.0)
    assert loss.shape == () and np.isclose(loss.item(), -np.log(0.25))
    loss.backward()
    assert np.isclose(x.grad.item(), -4.0)


# ---------------------------------------------------------------------- nn.save / nn.load
def _forge(path: Any, header_text: str, body: bytes = b"") -> Any:
    """A file with a hand-written header (for values json.dumps cannot write, like 1e400)."""
    raw = header_text.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def test_save_0d_tensor_keeps_its_shape(tmp_path):
    path = tmp_path / "s.safetensors"
    nn.save({"a": np.array(2.5), "b": mt.tensor(-1.0), "c": np.array(7, dtype=np.int16)}, path)
    back = nn.load(path)
    assert back["a"].shape == back["b"].shape == back["c"].shape == ()
    assert back["a"] == 2.5 and back["b"] == -1.0 and back["c"].dtype == np.int16

    class Scaled(nn.Module):
        def __init__(self) -> None:
            self.scale = nn.Parameter(np.array(3.0))
            self.fc = nn.Linear(2, 1)

        def forward(self, x: Any) -> Any:
            return self.fc(x) * self.scale

    src, dst = Scaled(), Scaled()
    src.scale.data[...] = 0.125
    src.save(tmp_path / "m.safetensors")
    dst.load(tmp_path / "m.safetensors")
    assert dst.scale.shape == () and dst.scale.item() == 0.125


def test_save_load_keeps_dtypes_layouts_and_order(tmp_path):
    path = tmp_path / "d.safetensors"
    rng = np.random.default_rng(0)
    data = {"z": rng.normal(size=(3, 4)).T, "y": np.asfortranarray(rng.normal(size=(2, 3))),
            "x": rng.normal(size=(2, 6))[:, ::2].astype(np.float32),
            "w": np.array([1, 2], dtype=">i4"), "v": np.array([True, False]),
            "u": np.zeros((0, 3), dtype=np.float16)}
    nn.save(data, path)
    back = nn.load(path)
    assert list(back) == list(data)  # the order given, not sorted
    for key, arr in data.items():
        assert back[key].dtype == arr.dtype.newbyteorder("=") and back[key].shape == arr.shape
        np.testing.assert_array_equal(back[key], arr)


def test_save_files_are_read_by_safetensors_and_back():
    st = pytest.importorskip("safetensors.numpy")
    with tempfile.TemporaryDirectory() as d:
        data = {"b": np.arange(6.0).reshape(2, 3).T, "a": np.array(1.5, dtype=np.float32),
                "c": np.array([1, 0], dtype=np.uint8)}
        nn.save(data, os.path.join(d, "ours.safetensors"), metadata={"k": "v"})
        theirs = st.load_file(os.path.join(d, "ours.safetensors"))
        for key, arr in data.items():
            assert theirs[key].shape == arr.shape and theirs[key].dtype == arr.dtype
            np.testing.assert_array_equal(theirs[key], arr)
        st.save_file({k: np.ascontiguousarray(v) for k, v in data.items()},
                     os.path.join(d, "theirs.safetensors"), metadata={"k": "v"})
        back, meta = nn.load(os.path.join(d, "theirs.safetensors"), with_metadata=True)
        assert meta == {"k": "v"}
        for key, arr in data.items():
            np.testing.assert_array_equal(back[key], arr)


def test_load_bf16_as_exact_float32(tmp_path):
    values = np.array([0.0, -0.0, 1.0, -2.5, 3.140625, 1.5 * 2.0**120, 2.0**-130, np.inf, -np.inf],
                      dtype=np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")  # each value is exact in bf16
    header = {"w": {"dtype": "BF16", "shape": [3, 3], "data_offsets": [0, bits.nbytes]}}
    back = nn.load(_forge(tmp_path / "bf16.safetensors", json.dumps(header), bits.tobytes()))
    assert back["w"].dtype == np.float32 and back["w"].shape == (3, 3)
    np.testing.assert_array_equal(back["w"].ravel(), values)
    assert np.signbit(back["w"].ravel()[1])


@needs_torch
def test_load_bf16_and_f8_files_written_by_torch_match_torch(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    tensors = {"bf": torch.randn(4, 5, generator=torch.Generator().manual_seed(0)).bfloat16(),
               "e4m3": codes.view(torch.float8_e4m3fn).reshape(16, 16),
               "e5m2": codes.clone().view(torch.float8_e5m2)}
    path = tmp_path / "t.safetensors"
    st.save_file(tensors, str(path))
    back = nn.load(path)
    for key, t in tensors.items():
        assert back[key].dtype == np.float32 and back[key].shape == tuple(t.shape)
        np.testing.assert_array_equal(back[key], t.float().numpy())  # NaN == NaN here
    for key in ("e4m3", "e5m2"):  # -0.0 stays -0.0 (NaN's sign is nobody's business)
        ours, theirs = back[key], tensors[key].float().numpy()
        assert np.isnan(ours).sum() == np.isnan(theirs).sum() > 0
        real = ~np.isnan(theirs)
        np.testing.assert_array_equal(np.signbit(ours[real]), np.signbit(theirs[real]))


@pytest.mark.parametrize("dtype", ["F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4", "F6_E2M3",
                                   "C64", "Q99"])
def test_load_unsupported_dtype_is_value_error_naming_key_and_dtype(tmp_path, dtype):
    header = {"__metadata__": {"a": "b"},
              "layer.w": {"dtype": dtype, "shape": [2], "data_offsets": [0, 16]}}
    path = _forge(tmp_path / "x.safetensors", json.dumps(header), b"\0" * 16)
    with pytest.raises(ValueError, match=f"'layer.w'.*{dtype}") as e:
        nn.load(path)
    assert "x.safetensors" in str(e.value)
    with pytest.raises(ValueError, match="layer.w"):
        nn.load_metadata(path)


@pytest.mark.parametrize("offsets", ["[0, Infinity]", "[0, 1e400]", "[-Infinity, 8]",
                                     "[0, NaN]", "[0.0, 8.0]", "[true, 8]", "[0, -8]",
                                     "[8, 0]", '["0", "8"]', "[0]", "[0, 8, 16]", "null",
                                     "[0, 99999999999999999999999999]"])
def test_load_bad_data_offsets_are_value_errors(tmp_path, offsets):
    text = '{"w": {"dtype": "F64", "shape": [1], "data_offsets": ' + offsets + "}}"
    path = _forge(tmp_path / "o.safetensors", text, b"\0" * 8)
    with pytest.raises(ValueError) as e:
        nn.load(path)
    assert "o.safetensors" in str(e.value)
    assert "'w'" in str(e.value) or "JSON" in str(e.value)


@pytest.mark.parametrize(("header", "message"), [
    ('{"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}, '
     '"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}', "twice"),
    ('{"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}, '
     '"b": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}', "overlaps"),
    ('{"a": {"dtype": "F64", "shape": [0], "data_offsets": [8, 8]}}', "gap"),
    ('{"a": {"dtype": "F64", "shape": [99999999999999999999, 0], "data_offsets": [0, 0]}}',
     "shape"),
    ('{"a": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}}', "shape"),
    ('{"a": {"dtype": "F64", "shape": 1, "data_offsets": [0, 8]}}', "shape"),
    ('{"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}, "b": 3}', "'b'"),
    ('{"a": {"dtype": 7, "shape": [1], "data_offsets": [0, 8]}}', "dtype"),
])
def test_load_forged_headers_are_value_errors(tmp_path, header, message):
    body = b"\0" * 8 if "[0, 8]" in header or "[8, 8]" in header else b""
    path = _forge(tmp_path / "f.safetensors", header, body)
    with pytest.raises(ValueError, match=message):
        nn.load(path)


@pytest.mark.parametrize("value", [
    np.array(["a", "b"]), np.array([b"x"]), np.array([object()]), np.array([1 + 2j]),
    np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1], dtype="timedelta64[s]"),
    np.zeros(2, dtype=[("a", "f8")]), np.zeros(2, dtype=np.longdouble),
])
def test_save_unsupported_dtype_is_type_error_naming_key(tmp_path, value):
    if value.dtype == np.float64:  # np.longdouble is float64 on some platforms
        pytest.skip("longdouble is float64 here")
    path = tmp_path / "m.safetensors"
    nn.save({"ok": np.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="'bad.key'"):
        nn.save({"ok": np.ones(2), "bad.key": value}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_oversized_or_bad_metadata_is_value_or_type_error(tmp_path):
    path = tmp_path / "m.safetensors"
    big = "x" * (100 * 1024 * 1024 + 1)
    with pytest.raises(ValueError, match="'notes'"):
        nn.save({"a": np.ones(1)}, path, metadata={"small": "1", "notes": big})
    with pytest.raises(TypeError, match="metadata"):
        nn.save({"a": np.ones(1)}, path, metadata=[("a", "b")])
    with pytest.raises(ValueError, match="__metadata__"):
        nn.save({"__metadata__": np.ones(1)}, path)
    assert not path.exists()


def test_save_to_symlink_to_folder_is_an_error_and_keeps_the_link(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    with pytest.raises(IsADirectoryError, match="link"):
        nn.save({"a": np.ones(1)}, link)
    assert link.is_symlink() and os.readlink(link) == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "models"]
    with pytest.raises(IsADirectoryError, match="models"):
        nn.save({"a": np.ones(1)}, folder)


def test_save_to_symlink_to_file_writes_through_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.safetensors"
    nn.save({"a": np.ones(1)}, real)
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    nn.save({"a": np.full(2, 5.0)}, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(nn.load(real)["a"], [5.0, 5.0])


def test_save_failure_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "target.safetensors"

    def refuse(*args: Any, **kwargs: Any) -> Any:
        name = os.path.join(str(tmp_path), ".target.safetensors.abc123.tmp")
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match="target.safetensors") as e:
        nn.save({"a": np.ones(1)}, path)
    assert ".tmp" not in str(e.value) and "Permission denied" in str(e.value)
    assert not path.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_save_into_read_only_folder_names_the_target(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="target.safetensors") as e:
            nn.save({"a": np.ones(1)}, folder / "target.safetensors")
        assert ".tmp" not in str(e.value)
    finally:
        folder.chmod(0o700)


# ---------------------------------------------------------------------- modules, optimizers
def _state_of(opt: Any) -> str:
    """Everything an optimizer holds, as text (to check that a failure changed nothing)."""
    sd = opt.state_dict()
    return repr((sd["param_groups"], {i: {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                          for k, v in st.items()}
                                      for i, st in sd["state"].items()}))


@pytest.mark.parametrize("bad", [[("0.weight", np.ones((3, 4)))], None, "0.weight", 3,
                                 np.ones(3)])
def test_module_load_state_dict_of_a_non_dict_is_type_error(bad):
    model = nn.Sequential(nn.Linear(3, 4))
    before = model.state_dict()
    with pytest.raises(TypeError, match="expected a dict.*got"):
        model.load_state_dict(bad)
    for key, arr in model.state_dict().items():
        np.testing.assert_array_equal(arr, before[key])


def _trained_adam(amsgrad: bool = False) -> tuple[Any, Any]:
    p = nn.Parameter(np.arange(6.0).reshape(2, 3))
    opt = nn.optim.Adam([p], lr=0.1, amsgrad=amsgrad)
    p.grad = mt.ones(2, 3)
    opt.step()
    return p, opt


@pytest.mark.parametrize(("bad", "error", "message"), [
    ({}, ValueError, "'state' or 'param_groups'"),
    ({"state": {}}, ValueError, "'param_groups'"),
    (None, TypeError, "expected the dict"),
    ({"state": [], "param_groups": [{"params": [0]}]}, ValueError, "'state' must be a dict"),
    ({"state": {}, "param_groups": [3]}, ValueError, "list of dicts"),
    ({"state": {}, "param_groups": [{"params": [0], "lr": "0.1"}]}, TypeError, "lr"),
    ({"state": {}, "param_groups": [{"params": [0], "lr": -1.0}]}, ValueError, "lr"),
    ({"state": {}, "param_groups": [{"params": [0], "betas": (0.9, 1.5)}]}, ValueError,
     "betas"),
    ({"state": {5: {}}, "param_groups": [{"params": [0]}]}, ValueError, "5"),
    ({"state": {"x": {}}, "param_groups": [{"params": [0]}]}, ValueError, "'x'"),
    ({"state": {0: 3}, "param_groups": [{"params": [0]}]}, ValueError, "must be a dict"),
    ({"state": {0: {"step": 1, "exp_avg": np.zeros((3, 2)), "exp_avg_sq": np.zeros((2, 3))}},
      "param_groups": [{"params": [0]}]}, ValueError, r"exp_avg.*\(3, 2\).*\(2, 3\)"),
    ({"state": {0: {"step": 1, "exp_avg": np.zeros((2, 3))}}, "param_groups": [{"params": [0]}]},
     ValueError, "exp_avg_sq"),
    ({"state": {0: {"step": -1, "exp_avg": np.zeros((2, 3)), "exp_avg_sq": np.zeros((2, 3))}},
      "param_groups": [{"params": [0]}]}, ValueError, "step"),
    ({"state": {0: {"step": 1, "exp_avg": [0.0] * 6, "exp_avg_sq": np.zeros((2, 3))}},
      "param_groups": [{"params": [0]}]}, ValueError, "exp_avg"),
])
def test_optimizer_load_bad_state_dict_is_clear_error_and_changes_nothing(bad, error, message):
    p, opt = _trained_adam()
    before = _state_of(opt)
    with pytest.raises(error, match=message):
        opt.load_state_dict(bad)
    assert _state_of(opt) == before
    p.grad = mt.ones(2, 3)
    opt.step()  # still usable


def test_optimizer_state_shape_error_names_the_parameter_and_both_shapes():
    model = nn.Sequential(nn.Linear(3, 2))
    opt = nn.optim.Adam(model.parameters(), lr=0.01)
    model(mt.ones(1, 3)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"0\.weight.*\(2, 3\).*\(3, 2\)"):
        opt.load_state_dict(sd)
    sgd = nn.optim.SGD([nn.Parameter(np.ones(4))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="momentum_buffer"):
        sgd.load_state_dict({"state": {0: {"momentum_buffer": np.ones(5)}},
                             "param_groups": [{"params": [0]}]})


def test_optimizer_state_dict_round_trip_through_text_keys():
    p, opt = _trained_adam(amsgrad=True)
    sd = opt.state_dict()
    sd["state"] = {str(k): v for k, v in sd["state"].items()}  # as after a JSON round trip
    q = nn.Parameter(p.data.astype(np.float32))
    other = nn.optim.Adam([q], lr=0.5, amsgrad=True)
    other.load_state_dict(sd)
    assert other.state[q]["exp_avg"].dtype == np.float32 and other.state[q]["step"] == 1
    q.grad = mt.ones(2, 3, dtype=np.float32)
    other.step()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda p: nn.optim.SGD(p, lr="0.1"), TypeError, "lr"),
    (lambda p: nn.optim.SGD(p, lr=None), TypeError, "lr"),
    (lambda p: nn.optim.SGD(p, lr=-0.1), ValueError, "lr"),
    (lambda p: nn.optim.SGD(p, lr=float("nan")), ValueError, "lr"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum="x"), TypeError, "momentum"),
    (lambda p: nn.optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    (lambda p: nn.optim.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda p: nn.optim.SGD(p, lr=0.1, momentum=0.9, nesterov="yes"), TypeError, "nesterov"),
    (lambda p: nn.optim.SGD(p, lr=0.1, dampening=float("inf")), ValueError, "dampening"),
    (lambda p: nn.optim.SGD([{"params": p, "lr": "1"}], lr=0.1), TypeError, "lr"),
    (lambda p: nn.optim.Adam(p, lr="0.1"), TypeError, "lr"),
    (lambda p: nn.optim.Adam(p, betas=(0.9, 1.0)), ValueError, "betas"),
    (lambda p: nn.optim.Adam(p, betas=(-0.1, 0.9)), ValueError, "betas"),
    (lambda p: nn.optim.Adam(p, betas=0.9), TypeError, "betas"),
    (lambda p: nn.optim.Adam(p, betas=("a", 0.9)), TypeError, "beta1"),
    (lambda p: nn.optim.Adam(p, betas=(0.9, 0.99, 0.5)), TypeError, "betas"),
    (lambda p: nn.optim.Adam(p, eps=-1e-8), ValueError, "eps"),
    (lambda p: nn.optim.Adam(p, weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda p: nn.optim.Adam(p, amsgrad="no"), TypeError, "amsgrad"),
    (lambda p: nn.optim.AdamW(p, lr=-1), ValueError, "lr"),
    (lambda p: nn.optim.AdamW(p, weight_decay=None), TypeError, "weight_decay"),
])
def test_optimizer_bad_hyperparameter_is_clear_error(make, error, message):
    p = nn.Parameter(np.ones(2))
    with pytest.raises(error, match=message):
        make([p])


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda o: nn.optim.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: nn.optim.StepLR(o, step_size="2"), TypeError, "step_size"),
    (lambda o: nn.optim.StepLR(o, step_size=1.5), TypeError, "step_size"),
    (lambda o: nn.optim.StepLR(o, step_size=2, gamma=-0.5), ValueError, "gamma"),
    (lambda o: nn.optim.StepLR(o, step_size=2, gamma="0.5"), TypeError, "gamma"),
    (lambda o: nn.optim.ExponentialLR(o, gamma=float("nan")), ValueError, "gamma"),
    (lambda o: nn.optim.ExponentialLR(o, gamma=None), TypeError, "gamma"),
    (lambda o: nn.optim.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: nn.optim.CosineAnnealingLR(o, T_max=10, eta_min=-1), ValueError, "eta_min"),
    (lambda o: nn.optim.LambdaLR(o, lr_lambda=0.5), TypeError, "lr_lambda"),
    (lambda o: nn.optim.LambdaLR(o, lr_lambda=lambda e: -1.0), ValueError, "learning rate"),
    (lambda o: nn.optim.LambdaLR(o, lr_lambda=lambda e: "x"), TypeError, "learning rate"),
    (lambda o: nn.optim.StepLR(o, step_size=2, last_epoch=-2), ValueError, "last_epoch"),
    (lambda o: nn.optim.StepLR(nn.Linear(2, 2), step_size=2), TypeError, "Optimizer"),
])
def test_scheduler_bad_argument_is_clear_error_and_changes_nothing(make, error, message):
    opt = nn.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    before = _state_of(opt)
    with pytest.raises(error, match=message):
        make(opt)
    assert _state_of(opt) == before


def test_scheduler_step_that_fails_changes_nothing():
    opt = nn.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    sched = nn.optim.LambdaLR(opt, lambda e: 1.0 if e < 2 else -1.0)
    sched.step()
    with pytest.raises(ValueError, match="epoch 2"):
        sched.step()
    assert sched.last_epoch == 1 and opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"max_norm": 1.0, "norm_type": 0}, ValueError, "norm_type 0"),
    ({"max_norm": 1.0, "norm_type": 0.0}, ValueError, "norm_type 0"),
    ({"max_norm": 1.0, "norm_type": -1.0}, ValueError, "norm_type"),
    ({"max_norm": 1.0, "norm_type": float("nan")}, ValueError, "norm_type"),
    ({"max_norm": 1.0, "norm_type": "2"}, TypeError, "norm_type"),
    ({"max_norm": -1.0}, ValueError, "max_norm"),
    ({"max_norm": None}, TypeError, "max_norm"),
])
def test_clip_grad_norm_bad_arguments_are_clear_errors(kwargs, error, message):
    p = nn.Parameter(np.ones(3))
    p.grad = mt.Tensor(np.array([3.0, -4.0, 0.0]))
    with pytest.raises(error, match=message):
        nn.utils.clip_grad_norm_([p], **kwargs)
    np.testing.assert_array_equal(p.grad.data, [3.0, -4.0, 0.0])
    with pytest.raises(ValueError, match="clip_value"):
        nn.utils.clip_grad_value_([p], -1.0)


@needs_torch
@pytest.mark.parametrize("norm_type", [0.5, 1, 2, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 2.0, 100.0, float("inf")])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), np.array([0.0, 1.5, 0.0]), rng.normal(size=())]
    ours = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = mt.Tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(total, t_total.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)
