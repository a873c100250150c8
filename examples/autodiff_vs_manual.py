"""Autodiff next to the articles' hand-derived backprop, for each seed network.

For the first article's XOR network, the second article's hot-dog network and its R6 class's
softmax network on iris, nn.study.seed_networks (compare_gradients on each) computes every
parameter's gradient both ways (microtensor's autodiff through nn layers; the articles'
formulas in nn.manual) and prints the largest difference and the time each took. Saves a bar
chart of the timings.

Run: python examples/autodiff_vs_manual.py [--out examples-out]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nn import study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples-out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    tables = study.seed_networks()
    for title, table in tables.items():
        print(f"== {title}")
        print(table)
        print()

    fig, ax = plt.subplots(figsize=(7, 4))
    names = [t.split(" (")[0] for t in tables]
    at = np.arange(len(names))
    ax.bar(at - 0.2, [t.autodiff_seconds * 1e6 for t in tables.values()], 0.4, label="autodiff")
    ax.bar(
        at + 0.2,
        [t.manual_seconds * 1e6 for t in tables.values()],
        0.4,
        label="hand-derived (NumPy)",
    )
    ax.set_xticks(at, names)
    ax.set(ylabel="forward + backward (us)", title="one gradient evaluation")
    ax.legend()
    fig.tight_layout()
    path = args.out / "autodiff_vs_manual.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
