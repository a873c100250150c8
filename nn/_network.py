"""Building blocks of `nn.NeuralNetwork`: its layers, their starting weights, its optimizer
and its learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .layers import Linear, ReLU, Sigmoid, Tanh
from .module import Module, Sequential
from .optim import SGD, Adam, CosineAnnealingLR, ExponentialLR, LambdaLR, StepLR

ACTIVATIONS: dict[str, Callable[[], Module]] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
INITS = ("small", "randn", "xavier", "kaiming")
SCHEDULES = ("step", "exponential", "cosine")


def is_given_init(init: Any) -> bool:
    """Whether `init` is a list of starting matrices rather than the name of a scheme."""
    return not isinstance(init, str) and isinstance(init, Sequence)


def check_given_init(init: Sequence[Any], shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """The given starting matrices as float64 copies, checked against the network's layers:
    one (in + 1) x out matrix per layer (in x out for a layer without bias), or a ValueError
    naming the layer and both shapes."""
    if len(init) != len(shapes):
        raise ValueError(
            f"init: the network has {len(shapes)} layers (shapes "
            f"{', '.join('x'.join(map(str, s)) for s in shapes)}) but {len(init)} starting "
            "matrices were given"
        )
    out = []
    for i, (given, shape) in enumerate(zip(init, shapes), start=1):
        try:
            w = np.array(given, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"init: layer {i}'s starting matrix is not numeric ({e})") from None
        if w.shape != shape:
            raise ValueError(
                f"init: layer {i} needs a {shape[0]}x{shape[1]} matrix (intercept row first, "
                f"then one row per input; one column per unit), got shape {w.shape}"
            )
        if not np.isfinite(w).all():
            raise ValueError(f"init: layer {i}'s starting matrix has non-finite values")
        out.append(w)
    return out


def build_network(
    sizes: list[int],
    intercept: bool,
    activation: str,
    init: str | Sequence[Any],
    random_state: int | None,
) -> Sequential:
    """Linear layers of the given sizes with the activation between them (none after the last:
    it gives logits), initialised in the article's layout: each layer's [bias; weight] drawn
    as one (in + 1) x out matrix, layer by layer, so that a given random_state starts from the
    same numbers as nn.manual's training loops; or, when `init` is a list of such matrices,
    starting from those (row 0 becomes the bias). The first layer has a bias only when the
    design has an intercept; later layers always do (the article's [1, h])."""
    rng = np.random.default_rng(random_state)
    pairs = list(zip(sizes[:-1], sizes[1:]))
    given = None
    if is_given_init(init):
        shapes = [(a + int(intercept or i > 0), b) for i, (a, b) in enumerate(pairs)]
        given = check_given_init(init, shapes)
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(pairs):
        has_bias = intercept or i > 0
        layer = Linear(fan_in, fan_out, bias=has_bias)
        rows = fan_in + int(has_bias)
        if given is not None:
            w = given[i]
        elif init in ("small", "randn"):
            scale = 0.01 if init == "small" else 1.0
            w = scale * rng.standard_normal((rows, fan_out))
        else:
            fan = fan_in + fan_out if init == "xavier" else fan_in
            std = math.sqrt(2.0 / fan)
            w = np.vstack(
                [np.zeros((int(has_bias), fan_out)), std * rng.standard_normal((fan_in, fan_out))]
            )
        layer.weight.data[...] = w[int(has_bias) :]
        if has_bias:
            layer.bias.data[...] = w[0]
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)


def make_optimizer(
    model: Sequential, optimizer: str, lr: float, momentum: float, weight_decay: float
) -> Any:
    """SGD (with momentum) or Adam over the model; weight decay on the weights only, since
    penalising the biases (the intercepts) would pull the fit toward zero for no gain."""
    weights = [m.weight for m in model if isinstance(m, Linear)]
    biases = [m.bias for m in model if isinstance(m, Linear) and m.bias is not None]
    groups: list[dict[str, Any]] = [{"params": weights}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0})
    if optimizer == "adam":
        return Adam(groups, lr=lr, weight_decay=weight_decay)
    return SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def make_schedule(
    opt: Any,
    schedule: str | Callable[[int], float] | None,
    gamma: float,
    step: int,
    iterations: int,
) -> Any:
    """The learning-rate schedule for one `train` call, or None for a constant rate."""
    if schedule is None:
        return None
    if callable(schedule):
        return LambdaLR(opt, schedule)
    if schedule == "step":
        return StepLR(opt, step_size=step, gamma=gamma)
    if schedule == "exponential":
        return ExponentialLR(opt, gamma=gamma)
    return CosineAnnealingLR(opt, T_max=max(iterations, 1))


# The two sets of defaults. "article": the second article's network exactly (one sigmoid
# layer of 5, 0.01 * randn weights, plain gradient descent on the summed loss, raw inputs,
# every row every step). "default": settings that train on a user's own table the first time:
# standardized inputs and regression targets, Adam on the mean loss (so one learning rate
# suits 10 rows and 100,000), Glorot-scaled tanh units, minibatches, early stopping on a held-out
# validation loss.
PRESETS: dict[str, dict[str, Any]] = {
    "article": {"hidden": 5, "activation": "sigmoid", "init": "small", "optimizer": "sgd",
                "learn_rate": 1e-2, "iterations": 10_000, "tolerance": 0.01, "scale": False,
                "loss_reduction": "sum", "early_stopping": False, "batch_size": None},
    "default": {"hidden": (64,), "activation": "tanh", "init": "xavier", "optimizer": "adam",
                "learn_rate": 1e-3, "iterations": 1000, "tolerance": 0.0, "scale": True,
                "loss_reduction": "mean", "early_stopping": True, "batch_size": "auto"},
}
AUTO_BATCH = 200  # "auto" minibatches: min(200, rows), scikit-learn's choice
MIN_VALIDATION_ROWS = 50  # fewer rows than this: early stopping watches the training loss


def mean_and_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (ddof 0) of `values`, computed on the columns
    divided by their largest magnitude, so that numbers past 1e154 do not overflow when
    squared."""
    big = np.max(np.abs(values), axis=0)
    big = np.where(big > 0, big, 1.0)
    unit = values / big
    return unit.mean(axis=0) * big, unit.std(axis=0) * big


def standardize_stats(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (mean, scale) that make `matrix`'s columns mean 0 and sd 1. Indicator
    columns (only 0 and 1, e.g. one-hot text) stay as they are (mean 0, scale 1), and so does
    a column with no spread (scale 1), so that new data never divide by zero."""
    if not len(matrix):
        return np.zeros(matrix.shape[1]), np.ones(matrix.shape[1])
    mean, scale = mean_and_sd(matrix)
    indicator = np.all((matrix == 0) | (matrix == 1), axis=0)
    flat = ~(scale > 1e-12 * np.maximum(np.abs(mean), 1.0))
    mean = np.where(indicator, 0.0, mean)
    scale = np.where(indicator | flat, 1.0, scale)
    return mean.astype(np.float64), scale.astype(np.float64)


def stratified_rows(labels: np.ndarray | None, n: int, fraction: float,
                    rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of the rows to hold out: round(n_class * fraction) rows of each class
    (at least one, never all of a class; a class of one row stays in training), or, without
    labels, round(n * fraction) rows at random."""
    held = np.zeros(n, dtype=bool)
    if labels is None:
        k = min(max(int(round(n * fraction)), 1), n - 1)
        held[rng.permutation(n)[:k]] = True
        return held
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        if len(rows) < 2:
            continue
        k = min(max(int(round(len(rows) * fraction)), 1), len(rows) - 1)
        held[rng.permutation(rows)[:k]] = True
    return held
