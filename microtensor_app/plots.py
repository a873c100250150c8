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


def wants_log_axis(curves: dict[str, Sequence[float]], decades: float = 2.0) -> bool:
    """Whether the curves' positive values span more than `decades` powers of ten (a linear
    axis would flatten the end of training into the floor); never with a value <= 0."""
    values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in curves.values()]
                            or [np.zeros(0)])
    values = values[np.isfinite(values)]
    if len(values) == 0 or values.min() <= 0:
        return False
    return bool(np.log10(values.max() / values.min()) > decades)


def loss_curves(path: str | Path, curves: dict[str, Sequence[float]], title: str,
                ylabel: str = "loss", logy: bool | None = False, xlabel: str = "iteration",
                best: int | None = None) -> Path:
    """One line per named curve against the iteration (or epoch) number, saved as PNG.
    `logy` None chooses a log axis only when the values span more than two decades; `best`
    marks the epoch whose weights were kept."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, linewidth=1.6)
    if best is not None:
        ax.axvline(best, color="grey", linestyle="--", linewidth=1.0,
                   label=f"best epoch ({best}): weights kept")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy or logy is None and wants_log_axis(curves):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(curves) > 1 or best is not None:
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


def region_colors(count: int) -> list[Any]:
    """One colour per class: ggplot2's hues for two or three (the article's pictures),
    matplotlib's tab10 / tab20 up to 20, then evenly spaced hues of a continuous map."""
    if count in GGPLOT_COLORS:
        return list(GGPLOT_COLORS[count])
    import matplotlib

    if count <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(count)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def decision_regions(path: str | Path, X: np.ndarray, labels: Sequence[Any],
                     predict: Predict, classes: Sequence[Any],
                     axis_names: tuple[str, str] = ("x1", "x2"), title: str = "",
                     resolution: int = 200) -> Path:
    """The predicted class over the data's range as filled regions, the observed points on
    top and a legend naming every class. The grid is `resolution` x `resolution` points
    spanning the data plus a 5% margin on each axis, whatever the units, and `predict(grid)`
    is called once on all of it."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    classes = list(classes)
    axes = []
    for col in (0, 1):
        lo, hi = float(X[:, col].min()), float(X[:, col].max())
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.05
        axes.append(np.linspace(lo - pad, hi + pad, resolution))
    g1, g2 = np.meshgrid(*axes)
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    pred = np.asarray(predict(grid))
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup.get(p, -1) for p in pred.tolist()], dtype=float)
    codes[codes < 0] = np.nan
    colors = region_colors(len(classes))
    cmap = ListedColormap(colors)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ax.pcolormesh(g1, g2, codes.reshape(g1.shape), cmap=cmap, vmin=-0.5,
                  vmax=len(classes) - 0.5, alpha=0.35, shading="auto")
    point_codes = np.array([lookup.get(v, -1) for v in labels.tolist()])
    known = point_codes >= 0
    ax.scatter(X[known, 0], X[known, 1], c=point_codes[known], cmap=cmap, vmin=-0.5,
               vmax=len(classes) - 0.5, s=14, edgecolors="black", linewidths=0.4)
    ax.set_xlim(axes[0][0], axes[0][-1])
    ax.set_ylim(axes[1][0], axes[1][-1])
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(f"{title}: predicted class (regions) and data (points)", fontsize=10)
    handles = [Patch(facecolor=c, edgecolor="black", label=str(k))
               for c, k in zip(colors, classes)]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8,
              title="class", ncol=1 if len(classes) <= 20 else 2, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)
