"""The benchmark workloads, each written three ways from the same initial weights.

Every workload is a function `make_<name>(impl, size)` returning a `step()` callable that runs
one training step and returns nothing, plus a `loss()` callable that returns the current loss
as a float, so the harness can time steps and then check that all implementations agree.

- W1 first seed: XOR 4x3, 2-layer sigmoid, no biases, sum of squares, lr 1 (`w += d`).
- W2 second seed: the article's 200 hot-dog spiral points and its starting weights, hidden 5
  sigmoid, biases, summed cross-entropy, lr 1e-2.
- W3 second seed's R6 run: iris 150x4, hidden 5 sigmoid, softmax, summed cross-entropy,
  lr 1e-4.
- W4 large: 8192x784 float32, 784-512-256-10 ReLU MLP, mean softmax cross-entropy, SGD.

microtensor is written the way a user would write it (nn layers, a loss module, an
optimizer); NumPy is the hand-derived backprop (the floor); PyTorch eager is used only when
torch is importable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Workload:
    """One implementation of one workload: a training step and the current loss."""

    step: Callable[[], None]
    loss: Callable[[], float]
    compiled: Any = None  # the mt.compile object of a compiled variant (traces, source)


@dataclass
class Spec:
    """Data, initial weights and hyper-parameters shared by every implementation."""

    X: np.ndarray
    y: np.ndarray                # targets: (n, 1) floats, or (n,) integer labels
    weights: list[np.ndarray]    # (in, out) weight matrices, then biases, in layer order
    lr: float
    kind: str                    # "sse" | "bce" | "ce_sum" | "ce_mean"
    act: str                     # hidden activation: "sigmoid" | "relu"
    bias: bool


def spec_w1() -> Spec:
    """XOR from the first article: X has a constant third column; uniform(0, 1) weights."""
    rng = np.random.default_rng(1)
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return Spec(X, y, [rng.random((3, 4)), rng.random((4, 1))], 1.0, "sse", "sigmoid", False)


def _two_blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(0, 5, size=(n, 2))
    y = ((X[:, 0] ** 2 + X[:, 1] ** 2) < 30).astype(np.float64)[:, None]
    return X, y


def spec_w2() -> Spec:
    """The second article's hot dogs: its 200 spiral points and its own starting weights for
    hidden = 5 (sigmoid, biases, summed cross-entropy, lr 1e-2); two random blobs and randn
    weights when nn is not importable."""
    rng = np.random.default_rng(2)
    try:
        import nn

        df = nn.datasets.hotdogs()
        X = df[["x1", "x2"]].to_numpy(dtype=np.float64)
        y = (df["class"] == "hot dog").to_numpy(dtype=np.float64)[:, None]
        w = nn.datasets.article_weights()
        w1, w2 = w["w1_h5"], w["w2_h5"]  # row 0 of each is the intercept (the bias)
        weights = [w1[1:].copy(), w2[1:].copy(), w1[0].copy(), w2[0].copy()]
    except ImportError:
        X, y = _two_blobs(200, rng)
        weights = [rng.standard_normal((2, 5)), rng.standard_normal((5, 1)),
                   rng.standard_normal(5), rng.standard_normal(1)]
    return Spec(X, y, weights, 1e-2, "bce", "sigmoid", True)


def spec_w3() -> Spec:
    """Iris 150x4, hidden 5 sigmoid, softmax over 3 classes; 0.01 * randn init."""
    rng = np.random.default_rng(3)
    try:
        import nn

        df = nn.datasets.iris()
        X = df.iloc[:, :4].to_numpy(dtype=np.float64)
        y = df["Species"].cat.codes.to_numpy().astype(np.int64)
    except (ImportError, AttributeError, TypeError):
        X = rng.normal(5, 1.5, size=(150, 4))
        y = np.repeat(np.arange(3), 50)
    weights = [0.01 * rng.standard_normal((4, 5)), 0.01 * rng.standard_normal((5, 3)),
               0.01 * rng.standard_normal(5), 0.01 * rng.standard_normal(3)]
    return Spec(X, y, weights, 1e-4, "ce_sum", "sigmoid", True)


def spec_w4(rows: int = 8192) -> Spec:
    """A 784-512-256-10 ReLU MLP on random float32 data (MNIST-sized), mean cross-entropy."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=rows)
    sizes = [784, 512, 256, 10]
    ws = [(rng.standard_normal((a, b), dtype=np.float32) * np.float32(np.sqrt(2 / a)))
          for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b, dtype=np.float32) for b in sizes[1:]]
    return Spec(X, y, ws + bs, 0.01, "ce_mean", "relu", True)


# ------------------------------------------------------------------------------ NumPy
def numpy_impl(spec: Spec) -> Workload:
    """Hand-written forward and backward passes: the floor every framework is measured against."""
    n_layers = len(spec.weights) // (2 if spec.bias else 1)
    W = [w.copy() for w in spec.weights[:n_layers]]
    B = [b.copy() for b in spec.weights[n_layers:]] if spec.bias else []
    X, y, lr = spec.X, spec.y, spec.lr
    onehot = None
    if spec.kind.startswith("ce"):
        onehot = np.zeros((len(y), W[-1].shape[1]), dtype=X.dtype)
        onehot[np.arange(len(y)), y] = 1
    state = {"loss": np.nan}

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    def step() -> None:
        acts = [X]
        for i in range(n_layers):
            z = acts[-1] @ W[i]
            if B:
                z += B[i]
            last = i == n_layers - 1
            if last and spec.kind.startswith("ce"):
                acts.append(z)
            elif spec.act == "relu" and not last:
                acts.append(np.maximum(z, 0))
            else:
                acts.append(sigmoid(z))
        out = acts[-1]
        if spec.kind == "sse":
            state["loss"] = float(((y - out) ** 2).sum())
            delta = 2 * (out - y) * out * (1 - out)
        elif spec.kind == "bce":
            state["loss"] = float(-(y * np.log(out) + (1 - y) * np.log(1 - out)).sum())
            delta = out - y
        else:
            shifted = out - out.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            p = e / s
            logp = shifted - np.log(s)
            total = -(logp * onehot).sum()
            delta = p - onehot
            if spec.kind == "ce_mean":
                total /= len(y)
                delta /= len(y)
            state["loss"] = float(total)
        for i in range(n_layers - 1, -1, -1):
            grad_w = acts[i].T @ delta
            grad_b = delta.sum(axis=0) if B else None
            if i:
                delta = delta @ W[i].T
                a = acts[i]
                delta = delta * (a > 0) if spec.act == "relu" else delta * a * (1 - a)
            W[i] -= lr * grad_w
            if B:
                B[i] -= lr * grad_b

    return Workload(step, lambda: state["loss"])


# ------------------------------------------------------------------------------ frameworks
_LOSSES = {  # spec.kind -> (loss class name, reduction); the same names in nn and torch.nn
    "sse": ("MSELoss", "sum"),
    "bce": ("BCELoss", "sum"),
    "ce_sum": ("CrossEntropyLoss", "sum"),
    "ce_mean": ("CrossEntropyLoss", "mean"),
}


def _layers(spec: Spec) -> list[tuple[np.ndarray, np.ndarray | None, str | None]]:
    """(weight (in, out), bias or None, activation class name or None) per linear layer."""
    n_layers = len(spec.weights) // (2 if spec.bias else 1)
    plan = []
    for i in range(n_layers):
        last = i == n_layers - 1
        act = None if last and spec.kind.startswith("ce") else (
            "ReLU" if spec.act == "relu" and not last else "Sigmoid")
        plan.append((spec.weights[i], spec.weights[n_layers + i] if spec.bias else None, act))
    return plan


def _framework_impl(spec: Spec, lib: Any, linear: Callable[..., Any], optim: Any,
                    X: Any, y: Any, fuse: bool = False, compiled: bool = False) -> Workload:
    """The same model, loss and SGD loop in nn or torch.nn (they share these names).
    `fuse=True` (nn only) gives each Linear its activation: nn.Linear(..., activation=...);
    `compiled=True` (nn only) runs the same step through `mt.compile`."""
    layers = []
    for w, b, act in _layers(spec):
        if fuse:
            layers.append(linear(w, b, act and act.lower()))
            continue
        layers.append(linear(w, b))
        if act:
            layers.append(getattr(lib, act)())
    model = lib.Sequential(*layers)
    name, reduction = _LOSSES[spec.kind]
    loss_fn = getattr(lib, name)(reduction=reduction)
    opt = optim.SGD(model.parameters(), lr=spec.lr)
    state = {"loss": np.nan}

    if compiled:
        import microtensor as mt

        def train(x: Any, target: Any) -> Any:
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            opt.step()
            return loss

        train_compiled = mt.compile(train)

        def step_compiled() -> None:
            state["loss"] = train_compiled(X, y).item()

        return Workload(step_compiled, lambda: state["loss"], train_compiled)

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        state["loss"] = loss.item()

    return Workload(step, lambda: state["loss"])


def microtensor_impl(spec: Spec, fuse: bool = False, compiled: bool = False) -> Workload:
    """The way a user writes it: nn.Sequential of layers, a loss module, nn.optim.SGD.
    With `fuse=True` each activation is the Linear layer's `activation=` argument (one graph
    node per layer) instead of a module of its own; `compiled=True` wraps the training step
    in `mt.compile` (traced on the first step, replayed after)."""
    import microtensor as mt
    import nn

    def linear(w: np.ndarray, b: np.ndarray | None, activation: str | None = None) -> Any:
        lin = nn.Linear(w.shape[0], w.shape[1], bias=b is not None, dtype=w.dtype,
                        activation=activation)
        lin.weight.data[...] = w
        if b is not None:
            lin.bias.data[...] = b
        return lin

    return _framework_impl(spec, nn, linear, nn.optim, mt.Tensor(spec.X), mt.Tensor(spec.y),
                           fuse, compiled)


def microtensor_fused_impl(spec: Spec) -> Workload:
    """microtensor with nn.Linear(..., activation=...) layers (see microtensor_impl)."""
    return microtensor_impl(spec, fuse=True)


def microtensor_compiled_impl(spec: Spec) -> Workload:
    """microtensor layer by layer, the step compiled with mt.compile (see microtensor_impl)."""
    return microtensor_impl(spec, compiled=True)


def microtensor_fused_compiled_impl(spec: Spec) -> Workload:
    """microtensor with fused Linear layers, the step compiled (see microtensor_impl)."""
    return microtensor_impl(spec, fuse=True, compiled=True)


def torch_impl(spec: Spec) -> Workload:
    """PyTorch eager with the same layers, loss and optimizer (only when torch is installed)."""
    import torch

    def linear(w: np.ndarray, b: np.ndarray | None) -> Any:
        lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=b is not None,
                              dtype=getattr(torch, str(w.dtype)))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))  # torch stores (out, in)
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b))
        return lin

    X, y = torch.from_numpy(spec.X.copy()), torch.from_numpy(spec.y.copy())
    return _framework_impl(spec, torch.nn, linear, torch.optim, X, y)


SPECS: dict[str, Callable[[], Spec]] = {
    "W1 seed 1: XOR 4x3, sigmoid, SSE": spec_w1,
    "W2 hot dogs: 200x2, hidden 5, BCE": spec_w2,
    "W3 seed 2 R6: iris, hidden 5, softmax": spec_w3,
    "W4 784-512-256-10 ReLU, 8192 rows, f32": spec_w4,
}
