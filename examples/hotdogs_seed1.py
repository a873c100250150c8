"""The second article's hot dogs: logistic regression against networks with 1, 5 and 30
hidden units, and their decision boundaries.

Every model is an nn.NeuralNetwork trained by autodiff with the article's recipe: standard-normal
starting weights, gradient descent at learning rate 1e-2 on the summed cross-entropy. The
logistic regression (hidden = 0, the article's `glm`) takes a smaller rate: at 1e-2 plain gradient
descent oscillates on inputs as large as these, where R's glm uses Newton's method. The article
ran 1e5 iterations; 5000 get the same picture in seconds here.

Run: python examples/hotdogs_seed1.py [--out examples-out] [--iterations 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import nn  # noqa: E402

FORMULA = "`class` ~ x1 + x2"  # backticks: `class` is a Python keyword


def fit(data: pd.DataFrame, hidden: int, iterations: int, seed: int) -> nn.NeuralNetwork:
    if hidden == 0:
        net = nn.NeuralNetwork(FORMULA, data=data, hidden=0, random_state=seed)
        return net.train(2000, learn_rate=5e-4, trace=0)
    net = nn.NeuralNetwork(FORMULA, data=data, hidden=hidden, init="randn", random_state=seed)
    return net.train(iterations, learn_rate=1e-2, trace=0)


def grid(data: pd.DataFrame) -> pd.DataFrame:
    """The article's expand.grid: a 0.25-spaced grid one unit beyond the data."""
    x1 = np.arange(data["x1"].min() - 1, data["x1"].max() + 1, 0.25)
    x2 = np.arange(data["x2"].min() - 1, data["x2"].max() + 1, 0.25)
    g1, g2 = np.meshgrid(x1, x2)
    return pd.DataFrame({"x1": g1.ravel(), "x2": g2.ravel()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples-out"))
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    hotdogs = nn.datasets.hotdogs(seed=args.seed)
    print("A random sample of five:")
    print(hotdogs.sample(5, random_state=args.seed).round(2).to_string(index=False))
    print()
    points = grid(hotdogs)
    colours = {"hot dog": "tab:orange", "not hot dog": "tab:blue"}
    fig, axes = plt.subplots(2, 2, figsize=(10, 9), sharex=True, sharey=True)
    for ax, hidden in zip(axes.ravel(), (0, 1, 5, 30)):
        start = time.perf_counter()
        net = fit(hotdogs, hidden, args.iterations, args.seed)
        seconds = time.perf_counter() - start
        acc = net.accuracy()
        name = "logistic regression" if hidden == 0 else f"hidden = {hidden}"
        print(
            f"{name:<20} accuracy {acc:.0%} ({round(acc * len(hotdogs))} of "
            f"{len(hotdogs)})   [{seconds:.1f} s]"
        )
        predicted = net.predict(points)
        for label, colour in colours.items():
            on = predicted == label
            ax.scatter(points["x1"][on], points["x2"][on], s=1, color=colour, alpha=0.3)
            mine = hotdogs["class"] == label
            ax.scatter(
                hotdogs["x1"][mine],
                hotdogs["x2"][mine],
                s=12,
                color=colour,
                edgecolor="k",
                linewidth=0.3,
                label=label,
            )
        ax.set_title(f"{name}: {acc:.0%} correct")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("$x_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$x_2$")
    fig.tight_layout()
    path = args.out / "hotdogs_boundaries.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
