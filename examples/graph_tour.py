"""A tour of microtensor.viz on the two seed networks: forward and backward graphs, and the
chain rule printed node by node.

Run: python examples/graph_tour.py [--out examples-out]

Writes SVG pictures to the --out folder (DOT text instead when Graphviz's `dot` program is
not installed, saying so), then prints `mt.viz.explain` for the first seed's network.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import numpy as np

import microtensor as mt


def seed1() -> tuple[mt.Tensor, dict[str, mt.Tensor]]:
    """Tychobra's net: sigmoid(sigmoid(X @ w1) @ w2), loss = sum of squared errors."""
    mt.manual_seed(0)
    X = mt.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = mt.tensor([[0], [1], [1], [0]])
    w1 = mt.rand(3, 4, requires_grad=True)
    w2 = mt.rand(4, 1, requires_grad=True)
    layer1 = (X @ w1).sigmoid()
    output = (layer1 @ w2).sigmoid()
    loss = ((y - output) ** 2).sum()
    return loss, {
        "X": X,
        "y": y,
        "w1": w1,
        "w2": w2,
        "layer1": layer1,
        "output": output,
        "loss": loss,
    }


def seed2(n: int = 200, hidden: int = 5) -> tuple[mt.Tensor, dict[str, mt.Tensor]]:
    """Tea & Stats' net: sigmoid(cbind(1, sigmoid(cbind(1, x) @ W_in)) @ W_out), loss = the
    negative log-likelihood (binary cross-entropy, summed)."""
    mt.manual_seed(1)
    x = mt.randn(n, 2)
    y = mt.tensor((x.numpy() ** 2).sum(axis=1, keepdims=True) < 1.0).astype("float64")
    W_in = (mt.randn(3, hidden) * 0.5).detach().requires_grad_()
    W_out = (mt.randn(hidden + 1, 1) * 0.5).detach().requires_grad_()
    ones = mt.ones(n, 1)
    X = mt.concatenate([ones, x], axis=1)
    h = (X @ W_in).sigmoid()
    y_hat = (mt.concatenate([ones, h], axis=1) @ W_out).sigmoid()
    loss = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).sum()
    names = {
        "cbind(1, x)": X,
        "1": ones,
        "y": y,
        "W_in": W_in,
        "W_out": W_out,
        "h": h,
        "y_hat": y_hat,
        "loss": loss,
    }
    return loss, names


def model_loss() -> tuple[mt.Tensor, Any] | None:
    """An nn.Sequential's loss, to show module clusters and parameter names (when nn exists)."""
    try:
        import nn

        model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        loss_fn = nn.MSELoss(reduction="sum")
    except (ImportError, AttributeError):
        return None
    mt.manual_seed(0)
    X = mt.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = mt.tensor([[0], [1], [1], [0]])
    return loss_fn(model(X), y), model


def write(graph: Any, out: Path, stem: str, have_dot: bool) -> Path:
    """SVG when `dot` is installed, DOT text otherwise."""
    return mt.viz.save(graph, out / f"{stem}.{'svg' if have_dot else 'dot'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples-out", help="folder for the pictures")
    args = parser.parse_args(argv)
    out = Path(args.out)
    have_dot = shutil.which("dot") is not None
    if not have_dot:
        print(
            "Graphviz 'dot' was not found, so the graphs are written as DOT text "
            "(install it with apt-get/brew/conda install graphviz to get SVG)."
        )

    loss1, names1 = seed1()
    loss2, names2 = seed2()
    pictures = {
        "seed1_forward": mt.viz.draw(
            loss1,
            names=names1,
            show_data=True,
            title="seed 1: sigmoid(sigmoid(X @ w1) @ w2), SSE loss",
        ),
        "seed1_backward": mt.viz.draw_backward(
            loss1, names=names1, show_grad=True, title="seed 1: gradient flow"
        ),
        "seed2_forward": mt.viz.draw(
            loss2,
            names=names2,
            show_data=True,
            title="seed 2: cbind(1, x) @ W_in, sigmoid, cbind(1, h) @ W_out, sigmoid, NLL",
        ),
        "seed2_backward": mt.viz.draw_backward(
            loss2, names=names2, show_grad=True, title="seed 2: gradient flow"
        ),
    }
    made = model_loss()
    if made is None:
        print("nn is not available yet: skipping the nn.Sequential picture")
    else:
        loss3, model = made
        pictures["sequential_forward"] = mt.viz.draw(loss3, title="nn.Sequential: modules")
        pictures["sequential_collapsed"] = mt.viz.draw(
            loss3, collapse=["Linear"], title="nn.Sequential, Linear collapsed"
        )
    for stem, graph in pictures.items():
        print("wrote", write(graph, out, stem, have_dot))

    print()
    mt.viz.explain(loss1, names=names1)
    loss1.backward()
    w1 = names1["w1"]
    assert w1.grad is not None and np.isfinite(w1.grad.numpy()).all()


if __name__ == "__main__":
    main()
