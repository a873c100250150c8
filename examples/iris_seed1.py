"""The second article's R6 class on Fisher's irises, with its trace.

    irisnet <- NeuralNetwork$new(Species ~ ., data = iris, hidden = 5)
    irisnet$train(9999, trace = 1e3, learn_rate = .0001)

in Python is nn.NeuralNetwork("Species ~ .", data=iris, hidden=5).train(9999, trace=1000,
learn_rate=1e-4): a sigmoid hidden layer, softmax outputs and gradient descent on the summed
negative log-likelihood. It starts from the article's own 0.01 * randn weights
(nn.datasets.article_weights()), so the trace is the article's, line for line (loss
151.054969487204, accuracy 0.68 at 1000 ... 20.7875204792586, 0.98 at 9000); --seed N starts
from NumPy's 0.01 * randn instead. Prints the trace, the final accuracy and a confusion table;
saves the loss curve.

Run: python examples/iris_seed1.py [--out examples-out] [--seed N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import nn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples-out"))
    parser.add_argument("--seed", type=int, default=None,
                        help="start from NumPy's 0.01 * randn with this seed, not the article's")
    parser.add_argument("--iterations", type=int, default=9999)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    iris = nn.datasets.iris()
    if args.seed is None:
        w = nn.datasets.article_weights()
        start = {"init": [w["iris_W1"], w["iris_W2"]]}
    else:
        start = {"random_state": args.seed}
    irisnet = nn.NeuralNetwork("Species ~ .", data=iris, hidden=5, **start)
    irisnet.train(args.iterations, trace=1000, learn_rate=1e-4)
    print(f"\naccuracy {irisnet.accuracy():.4f}, loss {irisnet.compute_loss():.4f}")
    print(
        pd.crosstab(iris["Species"], irisnet.predict(), rownames=["actual"], colnames=["predicted"])
    )
    print("\nnew flowers:", list(irisnet.predict(iris.iloc[[0, 75, 149]])))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(irisnet.loss_history_) + 1), irisnet.loss_history_)
    ax.set(
        xlabel="iteration",
        ylabel="loss (negative log-likelihood)",
        yscale="log",
        title="iris, 5 hidden units: loss while training",
    )
    fig.tight_layout()
    path = args.out / "iris_loss.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
