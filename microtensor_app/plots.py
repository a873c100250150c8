"""Pictures a person would rather look at than read: loss curves and decision boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(path: str | Path, curves: dict[str, Sequence[float]], title: str,
                ylabel: str = "loss", logy: bool = False) -> Path:
    """One line per named curve against the iteration number, saved as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, linewidth=1.6)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def decision_boundaries(
    path: str | Path,
    X: np.ndarray,
    labels: Sequence[Any],
    panels: list[tuple[str, Callable[[np.ndarray], Sequence[Any]]]],
    step: float = 0.25,
    axis_names: tuple[str, str] = ("x1", "x2"),
) -> Path:
    """Predicted classes on a `step`-spaced grid behind the observed points, one panel per
    model (the second article's pictures)."""
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()), key=str)
    colors = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"]
    g1 = np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1 + step / 2, step)
    g2 = np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1 + step / 2, step)
    grid = np.array([[a, b] for b in g2 for a in g1])
    cols = min(len(panels), 2)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.6 * rows), squeeze=False)
    for ax, (title, predict) in zip(axes.ravel(), panels):
        pred = np.asarray(predict(grid))
        for c, color in zip(classes, colors):
            m = pred == c
            ax.scatter(grid[m, 0], grid[m, 1], s=2, color=color, alpha=0.35, linewidths=0)
        for c, color in zip(classes, colors):
            m = labels == c
            ax.scatter(X[m, 0], X[m, 1], s=14, color=color, edgecolors="black",
                       linewidths=0.4, label=str(c))
        ax.set_title(title)
        ax.set_xlabel(axis_names[0])
        ax.set_ylabel(axis_names[1])
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    axes.ravel()[0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)
