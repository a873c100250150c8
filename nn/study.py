"""Autodiff next to the hand-derived backprop of `nn.manual`, parameter by parameter.

    model = nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 1), nn.Sigmoid())
    table = nn.study.compare_gradients(model, x, y, loss="bce")
    print(table)                      # one row per parameter: max |autodiff - manual|, timings
    table.max_abs_diff                # the worst difference, as a number
    print(nn.study.format_table(nn.study.seed_gradient_rows()))   # all three seed networks

The model must be one of the seed networks (a sigmoid hidden layer between two Linear layers;
each sigmoid either a module or the Linear's `activation="sigmoid"`, the fused form);
`loss` says which article's derivation applies:

    "sse"            first article: Linear(bias=False), Sigmoid, Linear(bias=False), Sigmoid;
                     sum of squared errors; y holds targets (n or n x 1)
    "bce"            second article: Linear, Sigmoid, Linear(h, 1), Sigmoid; summed binary
                     cross-entropy; y holds 0/1 targets
    "cross_entropy"  second article's R6 class: Linear, Sigmoid, Linear(h, k) giving logits;
                     summed softmax cross-entropy; y holds integer class ids 0..k-1

A Linear layer's bias is the first row of the article's weight matrix (the row that multiplies
the column of ones); a layer without bias gets a zero row, whose gradient is ignored.
"""

# ruff: noqa: N806  (the articles' matrix names (W1, dW2, X))

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import microtensor as mt

from . import functional as F
from . import manual
from .layers import Linear, Sigmoid
from .module import Module, Sequential

__all__ = [
    "GradientComparison",
    "GradientRow",
    "compare_gradients",
    "format_table",
    "seed_gradient_rows",
    "seed_networks",
]

_LOSSES = ("sse", "bce", "cross_entropy")


@dataclass(frozen=True)
class GradientRow:
    """One parameter: its name and shape, the largest |autodiff - manual| over its entries and
    the largest |gradient| (for scale)."""

    name: str
    shape: tuple[int, ...]
    max_abs_diff: float
    max_abs_grad: float


@dataclass(frozen=True)
class GradientComparison:
    """The result of `compare_gradients`: a row per parameter, the loss both ways, and the
    best-of-`repeat` time of a forward + backward pass each way (seconds)."""

    loss: str
    rows: tuple[GradientRow, ...]
    loss_autodiff: float
    loss_manual: float
    autodiff_seconds: float
    manual_seconds: float

    @property
    def max_abs_diff(self) -> float:
        """The largest difference over every parameter."""
        return max(r.max_abs_diff for r in self.rows)

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (e.g. for `pandas.DataFrame(...)`)."""
        return [
            {
                "parameter": r.name,
                "shape": r.shape,
                "max_abs_diff": r.max_abs_diff,
                "max_abs_grad": r.max_abs_grad,
            }
            for r in self.rows
        ]

    def __str__(self) -> str:
        lines = [
            f"loss {self.loss}: autodiff {self.loss_autodiff:.10g}, manual {self.loss_manual:.10g}",
            f"{'parameter':<12}{'shape':<12}{'max |grad|':>12}{'max |diff|':>12}",
        ]
        for r in self.rows:
            shape = "x".join(map(str, r.shape))
            lines.append(f"{r.name:<12}{shape:<12}{r.max_abs_grad:>12.3e}{r.max_abs_diff:>12.3e}")
        ratio = self.autodiff_seconds / self.manual_seconds if self.manual_seconds else np.inf
        lines.append(
            f"forward + backward: autodiff {self.autodiff_seconds * 1e6:.0f} us, "
            f"manual {self.manual_seconds * 1e6:.0f} us ({ratio:.1f}x)"
        )
        return "\n".join(lines)


def _article_matrix(layer: Linear) -> np.ndarray:
    """[bias; weight]: the article's (in + 1) x out layout (a zero row when bias-free)."""
    bias = layer.bias.data if layer.bias is not None else np.zeros(layer.out_features)
    return np.vstack([bias[None, :], layer.weight.data])


def _layers(model: Module, loss: str) -> tuple[Linear, Linear]:
    """Check that `model` is the seed network `loss` belongs to; return its two Linears.
    Each sigmoid may be a module of its own or the Linear's `activation="sigmoid"`."""
    steps = []  # the model as a list of "linear" and "sigmoid" steps
    for m in list(model) if hasattr(model, "__iter__") else [None]:
        if isinstance(m, Linear):
            steps.append(("linear", m))
            if m.activation is not None:
                steps.append((m.activation, None))
        else:
            steps.append(("sigmoid" if isinstance(m, Sigmoid) else repr(m), None))
    want = ["linear", "sigmoid", "linear"] + (["sigmoid"] if loss in ("sse", "bce") else [])
    ok = [kind for kind, _ in steps] == want
    first, second = (steps[0][1], steps[2][1]) if ok else (None, None)
    if ok and loss == "sse":
        ok = first.bias is None and second.bias is None
    if ok and loss == "bce":
        ok = second.out_features == 1
    if not ok:
        names = "Linear, Sigmoid, Linear" + (", Sigmoid" if len(want) == 4 else "")
        extra = {"sse": " (both Linear without bias)", "bce": " (one output)"}.get(loss, "")
        raise ValueError(
            f"compare_gradients(loss={loss!r}) needs Sequential({names}){extra}, each Sigmoid "
            f"a module or the Linear's activation='sigmoid'; got {model!r}"
        )
    return first, second


def _best_time(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def compare_gradients(
    model: Module, x: np.ndarray, y: np.ndarray, loss: str, repeat: int = 5
) -> GradientComparison:
    """Gradients of `loss` on the batch (x, y) through `model` by autodiff and by the
    article's hand-derived formulas (nn.manual), compared per parameter and timed.

    Leaves the model's `.grad` holding the autodiff gradients.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
    first, second = _layers(model, loss)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    n = x.shape[0]

    def autodiff() -> tuple[float, dict[int, np.ndarray]]:
        model.zero_grad()
        out = model(mt.Tensor(x))
        if loss == "sse":
            value = F.mse_loss(out, y.reshape(n, 1).astype(np.float64), reduction="sum")
        elif loss == "bce":
            value = F.binary_cross_entropy(out, y.reshape(n, 1).astype(np.float64), reduction="sum")
        else:
            value = F.cross_entropy(out, y.astype(np.intp), reduction="sum")
        value.backward()
        return value.item(), {id(p): p.grad.data for p in model.parameters()}

    W1, W2 = _article_matrix(first), _article_matrix(second)

    def by_hand() -> tuple[float, np.ndarray, np.ndarray]:
        if loss == "sse":
            w1, w2 = first.weight.data, second.weight.data
            layer1, output = manual.xor_feedforward(x, w1, w2)
            d1, d2 = manual.xor_backprop(x, y, w1, w2, layer1, output)
            # the article's d_weights are negative gradients; a zero bias row keeps the layout
            return (
                manual.sse_loss(y, output),
                np.vstack([np.zeros((1, d1.shape[1])), -d1]),
                np.vstack([np.zeros((1, d2.shape[1])), -d2]),
            )
        if loss == "bce":
            h, y_hat = manual.binary_feedforward(x, W1, W2)
            dW1, dW2 = manual.binary_backpropagate(x, y, y_hat, W1, W2, h)
            return manual.binary_nll(x, y, W1, W2), dW1, dW2
        X = manual.add_intercept(x)
        labels = y.astype(np.intp)
        h, output = manual.softmax_feedforward(X, W1, W2)
        dW1, dW2 = manual.softmax_backpropagate(X, labels, output, W1, W2, h)
        return manual.softmax_nll(X, labels, W1, W2), dW1, dW2

    (loss_ad, grads), t_ad = _best_time(autodiff, repeat)
    (loss_man, dW1, dW2), t_man = _best_time(by_hand, repeat)
    expected: dict[int, np.ndarray] = {}
    for layer, dW in ((first, dW1), (second, dW2)):
        expected[id(layer.weight)] = dW[1:]
        if layer.bias is not None:
            expected[id(layer.bias)] = dW[0]
    rows = tuple(
        GradientRow(
            name=name,
            shape=tuple(p.shape),
            max_abs_diff=float(np.max(np.abs(grads[id(p)] - expected[id(p)]))),
            max_abs_grad=float(np.max(np.abs(expected[id(p)]))),
        )
        for name, p in model.named_parameters()
    )
    return GradientComparison(loss, rows, loss_ad, loss_man, t_ad, t_man)


def seed_networks(seed: int = 0, repeat: int = 5) -> dict[str, GradientComparison]:
    """`compare_gradients` for each seed network on its article's data: XOR (sum of squares),
    the hot dogs (binary cross-entropy) and iris (softmax cross-entropy), hidden sizes 4, 5
    and 5, starting weights from `mt.manual_seed(seed)`."""
    from . import datasets

    mt.manual_seed(seed)
    X, y = datasets.xor()
    xor = Sequential(Linear(3, 4, bias=False), Sigmoid(), Linear(4, 1, bias=False), Sigmoid())
    hotdogs = datasets.hotdogs()
    hx = hotdogs[["x1", "x2"]].to_numpy()
    hy = (hotdogs["class"] == "hot dog").to_numpy(dtype=float)
    hotdog_net = Sequential(Linear(2, 5), Sigmoid(), Linear(5, 1), Sigmoid())
    iris = datasets.iris()
    ix = iris.iloc[:, :4].to_numpy()
    iy = iris["Species"].cat.codes.to_numpy().astype(np.intp)
    iris_net = Sequential(Linear(4, 5), Sigmoid(), Linear(5, 3))
    return {
        "XOR (first article)": compare_gradients(xor, X, y, "sse", repeat),
        "hot dogs (second article)": compare_gradients(hotdog_net, hx, hy, "bce", repeat),
        "iris (R6 class)": compare_gradients(iris_net, ix, iy, "cross_entropy", repeat),
    }


def seed_gradient_rows(seed: int = 0, repeat: int = 5) -> list[dict[str, Any]]:
    """`seed_networks` flattened: one dict per parameter with the network's name, the
    parameter, its shape, max |grad|, max |autodiff - manual| and both timings (us)."""
    rows = []
    for network, table in seed_networks(seed, repeat).items():
        for row in table.as_dicts():
            rows.append(
                {
                    "network": network,
                    **row,
                    "autodiff_us": table.autodiff_seconds * 1e6,
                    "manual_us": table.manual_seconds * 1e6,
                }
            )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """`seed_gradient_rows` as a fixed-width text table."""
    header = (
        f"{'network':<28}{'parameter':<11}{'shape':<7}{'max |grad|':>11}{'max |diff|':>11}"
        f"{'autodiff':>10}{'manual':>9}"
    )
    lines = [header]
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        lines.append(
            f"{r['network']:<28}{r['parameter']:<11}{shape:<7}{r['max_abs_grad']:>11.2e}"
            f"{r['max_abs_diff']:>11.2e}{r['autodiff_us']:>8.0f}us{r['manual_us']:>7.0f}us"
        )
    return "\n".join(lines)
