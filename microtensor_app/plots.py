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


# ggplot2's default hues for two and three classes (the second article's pictures)
GGPLOT_COLORS = {2: ["#F8766D", "#00BFC4"], 3: ["#F8766D", "#00BA38", "#619CFF"]}


def article_grid(X: np.ndarray, step: float = 0.25) -> np.ndarray:
    """The second article's `expand.grid(x1 = seq(min(x1) - 1, max(x1) + 1, by = step), x2 =
    ...)`: x1 varies fastest. Like R's seq, no point passes max + 1."""
    axes = []
    for col in (0, 1):
        lo, hi = X[:, col].min() - 1.0, X[:, col].max() + 1.0
        count = int(np.floor((hi - lo) / step + 1e-10)) + 1
        axes.append(lo + step * np.arange(count))
    g1, g2 = np.meshgrid(*axes)
    return np.column_stack([g1.ravel(), g2.ravel()])


Predict = Callable[[np.ndarray], Sequence[Any]]
# (title, predict), or (title, predict, (intercept, slope)) to draw a line as well
Panel = tuple[str, Predict] | tuple[str, Predict, tuple[float, float] | None]


def decision_boundaries(
    path: str | Path,
    X: np.ndarray,
    labels: Sequence[Any],
    panels: list[Panel],
    step: float = 0.25,
    axis_names: tuple[str, str] = ("x1", "x2"),
    classes: Sequence[Any] | None = None,
) -> Path:
    """Predicted classes on the article's `step`-spaced grid behind the observed points, one
    panel per model (the second article's pictures). A panel is `(title, predict)`, where
    `predict(grid)` returns a class per grid row, or `(title, predict, (intercept, slope))` to
    draw the line x2 = intercept + slope * x1 as well (the article's `geom_abline` for its
    logistic regression). `classes` fixes the legend's order and colours (default: the order
    of first appearance); two or three classes get ggplot2's default colours."""
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    if classes is None:
        classes = list(dict.fromkeys(labels.tolist()))
    colors = GGPLOT_COLORS.get(len(classes), ["#d95f02", "#1b9e77", "#7570b3", "#e7298a",
                                              "#66a61e", "#e6ab02"])
    grid = article_grid(X, step)
    cols = min(len(panels), 2)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.6 * rows), squeeze=False)
    for ax, panel in zip(axes.ravel(), panels):
        title, predict = panel[0], panel[1]
        pred = np.asarray(predict(grid))
        for c, color in zip(classes, colors):
            m = pred == c
            ax.scatter(grid[m, 0], grid[m, 1], s=2, color=color, alpha=0.45, linewidths=0)
        for c, color in zip(classes, colors):
            m = labels == c
            ax.scatter(X[m, 0], X[m, 1], s=14, color=color, edgecolors="black",
                       linewidths=0.4, label=str(c))
        if len(panel) > 2 and panel[2] is not None:
            intercept, slope = panel[2]
            ax.axline((0.0, intercept), slope=slope, color="black", linewidth=1.0)
        ax.set_xlim(grid[:, 0].min() - step, grid[:, 0].max() + step)
        ax.set_ylim(grid[:, 1].min() - step, grid[:, 1].max() + step)
        ax.set_title(title, fontsize=10)
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
