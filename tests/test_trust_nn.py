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
            if module:
                return nn.CrossEntropyLoss(reduction=red)(xs[0], labels)
            return F.cross_entropy(xs[0], labels, reduction=red)

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
