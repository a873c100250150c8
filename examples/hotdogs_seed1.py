"""The second article's hot dogs, exactly: its own data, its own starting weights, its numbers.

The article (Tea & Stats, "building a neural network from scratch in R") classifies 200 "hot
dog" / "not hot dog" points that lie on two interleaved spirals. Its logistic regression
(R's glm) gets 134 of 200 right (67%) with a straight, nearly vertical boundary; its network
`train(x, y, hidden, learn_rate = 1e-2, iterations = 1e5)` gets 76% with 5 hidden units, 100%
with 30 and 68% (137 of 200) with 1, whose boundary again looks straight.

Here the points are the article's own (nn.datasets.hotdogs(), R's rows), the logistic
regression is nn.manual.logistic_regression (IRLS, like glm) and the networks are
nn.NeuralNetwork trained by autodiff from the article's own starting weights
(nn.datasets.article_weights()), so the numbers come out as the article's, to the point.
Prints the article's "random sample of five" and the accuracies next to the article's, and
saves the four decision boundaries on the article's 0.25-spaced grid.

Run: python examples/hotdogs_seed1.py [--out examples-out] [--iterations 100000]
(the full 1e5 iterations take a minute or two; fewer give the same pictures, roughly)
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
from nn import manual  # noqa: E402

FORMULA = "`class` ~ x1 + x2"  # backticks: `class` is a Python keyword
ARTICLE = {"logistic regression": 134, "hidden = 1": 137, "hidden = 5": 152, "hidden = 30": 200}
COLOURS = {"not hot dog": "#F8766D", "hot dog": "#00BFC4"}  # ggplot2's, as in the article


def grid(data: pd.DataFrame) -> pd.DataFrame:
    """The article's expand.grid(x1 = seq(min(x1) - 1, max(x1) + 1, by = .25), x2 = ...)."""
    axes = []
    for col in ("x1", "x2"):
        lo, hi = data[col].min() - 1, data[col].max() + 1
        axes.append(lo + 0.25 * np.arange(int(np.floor((hi - lo) / 0.25 + 1e-10)) + 1))
    g1, g2 = np.meshgrid(*axes)  # x1 varies fastest, as in expand.grid
    return pd.DataFrame({"x1": g1.ravel(), "x2": g2.ravel()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples-out"))
    parser.add_argument("--iterations", type=int, default=100_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    hotdogs = nn.datasets.hotdogs()
    print("A random sample of five (the article's, R's rows 28, 36, 103, 160, 23):")
    sample = hotdogs.iloc[list(nn.datasets.ARTICLE_SAMPLE)]
    print(sample.round(2).to_string(index=False))
    print()
    x = hotdogs[["x1", "x2"]].to_numpy()
    y = (hotdogs["class"] == "hot dog").to_numpy(dtype=float)
    points = grid(hotdogs)
    classes = np.array(nn.datasets.HOTDOG_CLASSES)
    weights = nn.datasets.article_weights()

    fig, axes = plt.subplots(2, 2, figsize=(10, 9), sharex=True, sharey=True)
    for ax, hidden in zip(axes.ravel(), (0, 1, 5, 30)):
        start = time.perf_counter()
        line = None
        if hidden == 0:
            name = "logistic regression"
            glm = manual.logistic_regression(x, y)
            correct = int(np.sum((glm.fitted > 0.5) == (y > 0.5)))
            predicted = classes[(manual.add_intercept(points.to_numpy()) @ glm.coef > 0) * 1]
            line = glm.boundary()
        else:
            name = f"hidden = {hidden}"
            net = nn.NeuralNetwork(FORMULA, data=hotdogs, hidden=hidden,
                                   init=[weights[f"w1_h{hidden}"], weights[f"w2_h{hidden}"]])
            net.train(args.iterations, learn_rate=1e-2, trace=0, tolerance=0)
            correct = round(net.accuracy() * len(hotdogs))
            predicted = net.predict(points)
        seconds = time.perf_counter() - start
        print(
            f"{name:<20} accuracy {correct / 2:.1f}% ({correct} of {len(hotdogs)}; "
            f"article: {ARTICLE[name]})   [{seconds:.1f} s]"
        )
        for label, colour in COLOURS.items():
            on = predicted == label
            ax.scatter(points["x1"][on], points["x2"][on], s=1, color=colour, alpha=0.4)
        for label, colour in COLOURS.items():
            mine = hotdogs["class"] == label
            ax.scatter(hotdogs["x1"][mine], hotdogs["x2"][mine], s=12, color=colour,
                       edgecolor="k", linewidth=0.3, label=label)
        if line is not None:  # the article's geom_abline(-b0/b2, -b1/b2)
            ax.axline((0.0, line[0]), slope=line[1], color="k", linewidth=1)
        ax.set_title(f"{name}: {correct / 2:.1f}% correct (article: {ARTICLE[name] / 2:.0f}%)")
    ax.set_xlim(points["x1"].min() - 0.25, points["x1"].max() + 0.25)
    ax.set_ylim(points["x2"].min() - 0.25, points["x2"].max() + 0.25)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("$x_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$x_2$")
    if args.iterations != 100_000:
        fig.suptitle(f"{args.iterations:,} iterations (the article ran 100,000)")
    fig.tight_layout()
    path = args.out / "hotdogs_boundaries.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
