"""The seed networks' training steps through mt.compile, and the NumPy backprop it derives.

    python examples/compile_seed.py            # prints the three programs
    python examples/compile_seed.py hotdogs    # one of them: xor, hotdogs, iris

Each network is written as a user writes it (nn.Module with fc1 and fc2, a loss module,
nn.optim.SGD); the compiled step's `source` is the program mt.compile replays, as NumPy.
The gradients it computes are checked against the articles' hand-derived ones (nn/manual.py)
before it is printed. docs/compile.md puts the programs beside the articles' code.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import microtensor as mt
import nn
from nn import manual


class TwoLayer(nn.Module):
    """fc2(sigmoid(fc1(x))), then a sigmoid unless the loss takes logits."""

    def __init__(self, n_in: int, hidden: int, n_out: int, bias: bool, out_sigmoid: bool):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, n_out, bias=bias)
        self.out_sigmoid = out_sigmoid

    def forward(self, x: mt.Tensor) -> mt.Tensor:
        h = self.fc1(x).sigmoid()
        out = self.fc2(h)
        return out.sigmoid() if self.out_sigmoid else out


def compiled_step(model: nn.Module, loss_fn: nn.Module, lr: float) -> Any:
    """The training step of the articles (forward, loss, backward, W -= lr * dW), compiled."""
    opt = nn.optim.SGD(model.parameters(), lr=lr)

    def step(x: mt.Tensor, y: mt.Tensor) -> mt.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return mt.compile(step)


def xor() -> str:
    """First article: XOR, 3-4-1 sigmoid, no biases, sum of squared errors, lr 1."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    mt.manual_seed(0)
    model = TwoLayer(3, 4, 1, bias=False, out_sigmoid=True)
    w1, w2 = model.fc1.weight.data.copy(), model.fc2.weight.data.copy()
    step = compiled_step(model, nn.MSELoss(reduction="sum"), lr=1.0)
    step(mt.tensor(X), mt.tensor(y))
    layer1, output = manual.xor_feedforward(X, w1, w2)
    d1, d2 = manual.xor_backprop(X, y, w1, w2, layer1, output)  # negative gradients
    np.testing.assert_allclose(model.fc1.weight.grad.data, -d1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.fc2.weight.grad.data, -d2, rtol=1e-12, atol=1e-15)
    return step.source


def hotdogs() -> str:
    """Second article: hot dogs, 2-5-1 sigmoid with intercepts, summed cross-entropy."""
    df = nn.datasets.hotdogs()
    X = df[["x1", "x2"]].to_numpy(dtype=np.float64)
    y = (df["class"] == "hot dog").to_numpy(dtype=np.float64)[:, None]
    w = nn.datasets.article_weights()
    w1, w2 = w["w1_h5"], w["w2_h5"]  # row 0: the intercepts
    model = TwoLayer(2, 5, 1, bias=True, out_sigmoid=True)
    for layer, full in ((model.fc1, w1), (model.fc2, w2)):
        layer.bias.data[...] = full[0]
        layer.weight.data[...] = full[1:]
    step = compiled_step(model, nn.BCELoss(reduction="sum"), lr=1e-2)
    step(mt.tensor(X), mt.tensor(y))
    h, y_hat = manual.binary_feedforward(X, w1, w2)
    dw1, dw2 = manual.binary_backpropagate(X, y, y_hat, w1, w2, h)
    np.testing.assert_allclose(model.fc1.weight.grad.data, dw1[1:], rtol=1e-9)
    np.testing.assert_allclose(model.fc2.bias.grad.data, dw2[0], rtol=1e-9)
    return step.source


def iris() -> str:
    """Second article's R6 class: iris, 4-5-3 sigmoid, softmax, summed cross-entropy."""
    df = nn.datasets.iris()
    X = df.iloc[:, :4].to_numpy(dtype=np.float64)
    labels = df["Species"].cat.codes.to_numpy().astype(np.int64)
    mt.manual_seed(3)
    model = TwoLayer(4, 5, 3, bias=True, out_sigmoid=False)
    step = compiled_step(model, nn.CrossEntropyLoss(reduction="sum"), lr=1e-4)
    w1 = np.vstack([model.fc1.bias.data, model.fc1.weight.data])
    w2 = np.vstack([model.fc2.bias.data, model.fc2.weight.data])
    step(mt.tensor(X), mt.tensor(labels))
    Xi = manual.add_intercept(X)
    h, output = manual.softmax_feedforward(Xi, w1, w2)
    dW1, dW2 = manual.softmax_backpropagate(Xi, labels, output, w1, w2, h)
    np.testing.assert_allclose(model.fc1.weight.grad.data, dW1[1:], rtol=1e-9)
    np.testing.assert_allclose(model.fc2.weight.grad.data, dW2[1:], rtol=1e-9)
    return step.source


SEEDS = {"xor": xor, "hotdogs": hotdogs, "iris": iris}


def main(argv: list[str]) -> int:
    """Print the compiled program of each seed network asked for (all by default)."""
    for name in argv or list(SEEDS):
        print(f"# ---- {name}\n{SEEDS[name]()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
