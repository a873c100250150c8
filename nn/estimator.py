"""NeuralNetwork: the second article's R6 class, rebuilt on nn layers, autodiff and nn.optim.

    net = nn.NeuralNetwork("Species ~ .", data=nn.datasets.iris(), hidden=5, random_state=1)
    net.train(9999, trace=1000, learn_rate=1e-4)      # prints the article's trace; returns net
    net.predict(new_irises)                           # species names

The article's class hard-codes one sigmoid hidden layer, softmax outputs, 0.01 * randn weights
and plain gradient descent on the summed negative log-likelihood; those stay the defaults.
Its "left as an exercise" list is here as options: `activation`, `weight_decay`
(regularisation, included in `compute_loss()`), `hidden` as a tuple (any depth, () for
logistic / softmax regression), regression for a numeric response, `init` ("xavier",
"kaiming"), and `lr_schedule`. It follows scikit-learn's conventions as well (`fit`,
`predict`, `predict_proba`, `score`, `get_params`, `set_params`), so it works in pipelines and
`cross_val_score`.

Two sets of defaults (`preset`): "article" is the article's network exactly, and is what the
article's own API gets (`NeuralNetwork(formula, data=..., hidden=...)` then `train(...)`);
"default" is what `fit` gets: standardized inputs and regression targets (the statistics are
kept and applied by `predict`, and saved in model files), Adam on the mean loss, 64 tanh units,
minibatches of up to 200 rows and early stopping on a held-out validation loss with the best
weights restored. Any setting given explicitly wins over the preset.
"""

# ruff: noqa: N803  (X is the design matrix, as in scikit-learn and the article)

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import microtensor as mt

from . import functional as F
from ._network import (
    ACTIVATIONS,
    AUTO_BATCH,
    INITS,
    MIN_VALIDATION_ROWS,
    PRESETS,
    SCHEDULES,
    build_network,
    is_given_init,
    make_optimizer,
    make_schedule,
    mean_and_sd,
    standardize_stats,
    stratified_rows,
)
from ._response import check_same_response, classes_of, label_ids, r2, resolve_task
from .layers import Linear
from .module import Sequential

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NeuralNetwork"]

_TASKS = ("auto", "classification", "regression")
_PARAMS = (
    "formula",
    "hidden",
    "activation",
    "task",
    "init",
    "optimizer",
    "learn_rate",
    "iterations",
    "tolerance",
    "trace",
    "weight_decay",
    "momentum",
    "lr_schedule",
    "lr_gamma",
    "lr_step",
    "random_state",
    "preset",
    "scale",
    "loss_reduction",
    "early_stopping",
    "validation_fraction",
    "patience",
    "batch_size",
    "compile",
)
_PRESET_KEYS = tuple(PRESETS["default"])


class NeuralNetwork:
    """A multi-layer perceptron for classification or regression, set up like the article's
    `NeuralNetwork$new(formula, data, hidden)`.

    Give the data either as a formula and a DataFrame (`NeuralNetwork("Species ~ .",
    data=iris, hidden=5)`; nn.formula parses it with a restricted grammar that never evaluates
    anything, and builds the design matrix, intercept included) or as arrays
    (`NeuralNetwork(X, y, hidden=5)`); with data the network is built at once and `train()` may
    follow. Without data it is a scikit-learn estimator waiting for `fit`.

    `preset` chooses the settings left as None: "article" (the default when data are given
    here: the article's R6 API) is one layer of 5 sigmoid units, `init="small"`, "sgd" at
    learn_rate 1e-2 on the loss summed over the rows (`loss_reduction="sum"`), every row every
    step, inputs as given; "default" (the default for `fit`) is 64 tanh units, "xavier",
    "adam" at 1e-3 on the mean loss, minibatches of up to 200 rows (`batch_size="auto"`),
    standardized inputs and regression targets (`scale=True`: `x_mean_`, `x_scale_`,
    `y_mean_`, `y_scale_`, applied by predict and saved in model files) and, with at least 50
    rows, early stopping (`early_stopping=True`) on a stratified `validation_fraction` of the
    rows after `patience` epochs without improvement, the best weights restored.
    `settings_` shows the settings in force. `compile=True` (the default) runs each
    gradient step through `mt.compile`: the same ops in the same order, so the same numbers bit
    for bit, without the graph's bookkeeping; `compile=False` runs it eagerly.

    The response decides the task (`task="auto"`): categories, text, booleans, whole numbers
    with at most 20 distinct values and 0/1 floats make a classifier (labels are kept as
    given; two classes use one sigmoid output, more use softmax), other numbers a regression
    on squared error. Weights (and
    biases, the first row of the article's W matrices) start as 0.01 * randn
    (`init="small"`), or as the article's `train` did, randn ("randn"), or scaled to the
    layer ("xavier", "kaiming"; biases zero), or from given matrices: `init=[W1, W2, ...]`,
    one per layer in the article's orientation ((in + 1) x out, the intercept row first,
    which becomes the layer's bias), e.g. the article's own from `nn.datasets.article_weights()`;
    a matrix of the wrong shape is a ValueError naming the layer.
    `optimizer` is "sgd" (with `momentum`) or "adam"; `weight_decay` is an L2 penalty
    weight_decay / 2 * |W|^2 on the weights (not the biases); `lr_schedule` is "step"
    (times `lr_gamma` every `lr_step` iterations), "exponential" (times `lr_gamma` every
    iteration), "cosine" (to zero over a `train` call) or a function of the iteration giving a
    factor. `iterations`, `learn_rate`, `tolerance` and `trace` are what `fit` passes to
    `train` (an iteration is an epoch). `random_state` seeds the initial weights, the
    validation split and the minibatch order.
    """

    def __init__(
        self,
        formula: Any = None,
        y: Any = None,
        *,
        data: pd.DataFrame | None = None,
        hidden: int | tuple[int, ...] | None = None,
        activation: str | None = None,
        task: str = "auto",
        init: str | Sequence[Any] | None = None,
        optimizer: str | None = None,
        learn_rate: float | None = None,
        iterations: int | None = None,
        tolerance: float | None = None,
        trace: int = 0,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        lr_schedule: str | Callable[[int], float] | None = None,
        lr_gamma: float = 0.5,
        lr_step: int = 1000,
        random_state: int | None = None,
        preset: str | None = None,
        scale: bool | None = None,
        loss_reduction: str | None = None,
        early_stopping: bool | None = None,
        validation_fraction: float = 0.1,
        patience: int = 20,
        batch_size: int | str | None = None,
        compile: bool = True,  # noqa: A002 - PyTorch's and the issue's name for it
    ) -> None:
        # scikit-learn's clone() rebuilds an estimator from get_params(): parameters are
        # stored exactly as given, and the data (not a parameter) only triggers _setup.
        self.formula = formula if isinstance(formula, str) else None
        self.hidden = hidden
        self.activation = activation
        self.task = task
        self.init = init
        self.optimizer = optimizer
        self.learn_rate = learn_rate
        self.iterations = iterations
        self.tolerance = tolerance
        self.trace = trace
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.lr_schedule = lr_schedule
        self.lr_gamma = lr_gamma
        self.lr_step = lr_step
        self.random_state = random_state
        self.preset = preset
        self.scale = scale
        self.loss_reduction = loss_reduction
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.batch_size = batch_size
        self.compile = compile
        self.model_: Sequential | None = None
        # the article's API (data given here, then train()) gets the article's network
        self._article_api = data is not None or formula is not None and not isinstance(
            formula, str)
        if isinstance(formula, str):
            if y is not None:
                raise TypeError("give a formula's data as data=..., not as a second argument")
            if data is not None:
                self._setup(data, None)
        elif formula is not None:
            if y is None:
                raise TypeError("NeuralNetwork(X, y): y is missing")
            self._setup(formula, y)
        elif data is not None:
            raise TypeError("data=... needs a formula, e.g. NeuralNetwork('y ~ .', data=df)")

    # ------------------------------------------------------------------ set-up
    @property
    def settings_(self) -> dict[str, Any]:
        """The settings in force: each of `hidden`, `activation`, `init`, `optimizer`,
        `learn_rate`, `iterations`, `tolerance`, `scale`, `loss_reduction`, `early_stopping`
        and `batch_size` as given, or the preset's value where it is None, plus `preset`."""
        preset = self.preset or ("article" if getattr(self, "_article_api", False) else "default")
        # an unknown preset is reported by _check_params (at fit), not here: scikit-learn
        # reads an estimator's settings before it is fitted
        base = PRESETS.get(preset, PRESETS["default"]) if isinstance(preset, str) else (
            PRESETS["default"])
        chosen = {k: getattr(self, k) for k in _PRESET_KEYS}
        settings = {k: base[k] if v is None else v for k, v in chosen.items()}
        settings["preset"] = preset
        return settings

    def _hidden_sizes(self) -> tuple[int, ...]:
        hidden = self.settings_["hidden"]
        sizes = (hidden,) if isinstance(hidden, (int, np.integer)) else hidden
        sizes = tuple(int(h) for h in sizes if int(h) != 0)
        if any(h < 0 for h in sizes):
            raise ValueError(f"hidden sizes must be positive (0 for none), got {hidden}")
        return sizes

    def _check_params(self) -> None:
        s = self.settings_
        if s["preset"] not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
        for name, value, allowed in (
            ("activation", s["activation"], tuple(ACTIVATIONS)),
            ("task", self.task, _TASKS),
            ("init", s["init"], INITS),
            ("optimizer", s["optimizer"], ("sgd", "adam")),
            ("loss_reduction", s["loss_reduction"], ("sum", "mean")),
        ):
            if name == "init" and is_given_init(value):
                continue  # starting matrices: build_network checks them against the layers
            if not isinstance(value, str) or value not in allowed:
                extra = " or a list of starting matrices" if name == "init" else ""
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}{extra}, got {value!r}"
                )
        if not (callable(self.lr_schedule) or self.lr_schedule in (None, *SCHEDULES)):
            raise ValueError(
                f"lr_schedule must be None, {', '.join(SCHEDULES)} or a function, got "
                f"{self.lr_schedule!r}"
            )
        batch = s["batch_size"]
        if not (batch in (None, "auto") or isinstance(batch, (int, np.integer))
                and not isinstance(batch, bool) and batch >= 1):
            raise ValueError(f"batch_size must be None (every row), 'auto' or a whole number "
                             f">= 1, got {batch!r}")
        if not (isinstance(self.validation_fraction, (int, float))
                and 0 <= self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in [0, 1), got "
                             f"{self.validation_fraction!r}")
        if not (isinstance(self.patience, (int, np.integer)) and self.patience >= 1):
            raise ValueError(f"patience must be a whole number >= 1, got {self.patience!r}")

    def _setup(self, X: Any, y: Any) -> None:
        """Encode the data, choose the task, learn the scaling and build and initialise the
        layers."""
        # pandas is optional (microtensor[nn]): `import nn` must not need them
        import pandas as pd

        from . import _design

        self._check_params()
        settings = self.settings_
        if self.formula is not None:
            design, matrix, response = _design.from_formula(self.formula, X)
            check_same_response(y, response)
        else:
            design, matrix, response = _design.from_arrays(X, y)
        self.design_ = design
        self.preset_ = settings["preset"]
        self.x_mean_, self.x_scale_ = (standardize_stats(matrix) if settings["scale"]
                                       else (None, None))
        self.X_ = self._scaled(matrix)
        self.y_ = response
        self.response_ = str(response.name) if response.name is not None else "y"
        self.n_features_in_ = matrix.shape[1]
        self.task_ = resolve_task(self.task, response)
        self.y_mean_, self.y_scale_ = 0.0, 1.0
        if self.task_ == "classification":
            self.classes_ = classes_of(response, self.response_)
            ids = label_ids(response, self.classes_, self.response_)
            self._target = ids if len(self.classes_) > 2 else ids.reshape(-1, 1).astype(float)
            n_out = len(self.classes_) if len(self.classes_) > 2 else 1
        else:
            values = pd.to_numeric(response, errors="coerce").to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():
                raise ValueError(f"response {self.response_!r} must be finite numbers")
            self.classes_ = None
            y_mean, y_sd = mean_and_sd(values)
            if settings["scale"] and len(values) > 1 and y_sd > 0:
                # the network learns a target of sd 1; predictions come back in its units
                self.y_mean_, self.y_scale_ = float(y_mean), float(y_sd)
                self._target = ((values - self.y_mean_) / self.y_scale_).reshape(-1, 1)
            else:
                self._target = values.reshape(-1, 1)
            n_out = 1
        self.model_ = self._build(matrix.shape[1], n_out, design.intercept)
        self._opt = None
        self.output = self._probabilities(self.X_)
        self.loss_history_: list[float] = []
        self.validation_loss_history_: list[float] = []
        self.best_iteration_: int | None = None

    def _scaled(self, matrix: np.ndarray) -> np.ndarray:
        """The design matrix in the network's units (standardized when `scale`)."""
        if self.x_mean_ is None:
            return matrix
        return (matrix - self.x_mean_) / self.x_scale_

    def _build(self, n_in: int, n_out: int, intercept: bool) -> Sequential:
        """The layers for n_in predictors and n_out outputs, freshly initialised."""
        s = self.settings_
        sizes = [n_in, *self._hidden_sizes(), n_out]
        return build_network(sizes, intercept, s["activation"], s["init"], self.random_state)

    def _make_optimizer(self) -> Any:
        s = self.settings_
        return make_optimizer(
            self.model_, s["optimizer"], s["learn_rate"], self.momentum, self.weight_decay
        )

    def _require_setup(self, what: str) -> None:
        if self.model_ is None:
            raise RuntimeError(
                f"{what}: this NeuralNetwork has no data yet; construct it with data or call "
                "fit(...) first"
            )

    # ------------------------------------------------------------------ training
    def _loss(self, out: mt.Tensor, target: np.ndarray, reduction: str | None = None) -> mt.Tensor:
        """The negative log-likelihood (squared error for regression), summed over the rows
        as in the article or averaged (`loss_reduction`)."""
        reduction = reduction or self.settings_["loss_reduction"]
        if self.task_ == "regression":
            return F.mse_loss(out, target, reduction=reduction)
        if len(self.classes_) > 2:
            return F.cross_entropy(out, target, reduction=reduction)
        return F.binary_cross_entropy_with_logits(out, target, reduction=reduction)

    def _penalty(self) -> float:
        if not self.weight_decay:
            return 0.0
        squares = sum(float(np.sum(m.weight.data**2)) for m in self.model_ if isinstance(m, Linear))
        return 0.5 * self.weight_decay * squares

    def _data_seed(self) -> int:
        """The seed of the validation split and the minibatch order: `random_state`, or 0
        when it is None, so that training from given starting matrices is repeatable."""
        return 0 if self.random_state is None else int(self.random_state)

    def _batch_rows(self, n: int) -> int:
        batch = self.settings_["batch_size"]
        if batch is None:
            return n
        return min(AUTO_BATCH if batch == "auto" else int(batch), n)

    def train(
        self,
        iterations: int | None = None,
        learn_rate: float | None = None,
        tolerance: float | None = None,
        trace: int = 100,
        callback: Callable[[int, float], Any] | None = None,
        validation: Any = None,
    ) -> NeuralNetwork:
        """Train on the training data, as the article's `train`; returns self.

        Each iteration is one epoch: a pass over the training rows, in one gradient step
        (`batch_size` None, the article) or in shuffled minibatches; each step runs the
        network forward, computes the loss, backpropagates by autodiff and steps the
        optimizer. `iterations`, `learn_rate` and `tolerance` default to the settings
        (`settings_`). Every `trace` iterations (0: never) it prints `Iteration i<TAB>Loss
        l<TAB>Accuracy a` (R2 for regression) like the article's. It stops once the loss (plus
        any weight-decay penalty) is below `tolerance`. `validation`, rows held out in the form
        `score` takes (a DataFrame with the response for a formula, else (X, y)), turns on
        early stopping: the validation loss per row is recorded in `validation_loss_history_`,
        training stops after `patience` epochs without improvement and the weights of the best
        epoch (`best_iteration_`) are restored. With `early_stopping` and no validation rows,
        training stops once the training loss has not improved for `patience` epochs.
        `callback(i, loss)`, when given, is called after every iteration.
        """
        self._require_setup("train")
        val = None if validation is None else self._encode(validation, "validation")
        return self._train(iterations, learn_rate, tolerance, trace, callback, val)

    def _train(self, iterations: int | None, learn_rate: float | None,
               tolerance: float | None, trace: int,
               callback: Callable[[int, float], Any] | None,
               val: tuple[np.ndarray, np.ndarray] | None) -> NeuralNetwork:
        s = self.settings_
        iterations = s["iterations"] if iterations is None else iterations
        learn_rate = s["learn_rate"] if learn_rate is None else learn_rate
        tolerance = s["tolerance"] if tolerance is None else tolerance
        if self._opt is None:
            self._opt = self._make_optimizer()
        for group in self._opt.param_groups:
            group["lr"] = group["initial_lr"] = learn_rate
        schedule = make_schedule(
            self._opt, self.lr_schedule, self.lr_gamma, self.lr_step, iterations
        )
        n = len(self.X_)
        rows = self._batch_rows(n)
        mean = s["loss_reduction"] == "mean"
        shuffle = np.random.default_rng(self._data_seed())
        x = mt.Tensor(self.X_)
        params = list(self.model_.parameters())
        watch = val is not None or s["early_stopping"]
        best, best_state, stale = math.inf, None, 0
        opt, model, loss_of = self._opt, self.model_, self._loss

        def forward_backward(x: mt.Tensor, target: Any) -> tuple[mt.Tensor, mt.Tensor]:
            # one gradient step's ops; the optimizer's step stays outside, after the loss
            # is checked: a diverged loss never moves the weights
            opt.zero_grad()
            out = model(x)
            loss = loss_of(out, target)
            loss.backward()
            return out, loss

        # mt.compile replays the same ops in the same order (bit for bit the eager numbers:
        # the article's runs are unchanged) without the graph's bookkeeping
        run = mt.compile(forward_backward) if self.compile else forward_backward
        for i in range(1, iterations + 1):
            before = None
            try:
                if rows >= n:
                    out, loss = run(x, self._target)
                    value = loss.item() + self._penalty()  # both at this iteration's weights
                    if not math.isfinite(value):
                        raise FloatingPointError(f"the loss became {value}")
                    before = [p.data.copy() for p in params]
                    self._opt.step()
                    if not all(np.isfinite(p.data).all() for p in params):
                        raise FloatingPointError("a step made the weights non-finite")
                else:
                    total = 0.0
                    order = shuffle.permutation(n)
                    for start in range(0, n, rows):
                        idx = order[start:start + rows]
                        out, loss = run(mt.Tensor(self.X_[idx]), self._target[idx])
                        part = loss.item()
                        if not math.isfinite(part):
                            raise FloatingPointError(f"the loss became {part}")
                        total += part * len(idx) if mean else part
                        before = [p.data.copy() for p in params]
                        self._opt.step()
                        if not all(np.isfinite(p.data).all() for p in params):
                            raise FloatingPointError("a step made the weights non-finite")
                    value = (total / n if mean else total) + self._penalty()
            except FloatingPointError as e:
                # under np.errstate(...="raise") NumPy stops inside an op instead; either way
                # the weights go back to those of the last finite step
                if before is not None:
                    for p, b in zip(params, before):
                        p.data[...] = b
                raise FloatingPointError(
                    f"train: diverged at iteration {i}: {e}; the steps are too large "
                    f"(learn_rate {learn_rate}): try a smaller one. The weights are those "
                    f"after iteration {i - 1}."
                ) from None
            if schedule is not None:
                schedule.step()
            self.loss_history_.append(value)
            if callback is not None:
                callback(i, value)
            if trace and i % trace == 0:
                self.output = (self._from_logits(out.data) if rows >= n
                               else self._probabilities(self.X_))
                print(f"Iteration {i}\tLoss {value:.15g}\t{self._trace_metric()}", flush=True)
            if value < tolerance:
                break
            if watch:
                if val is not None:
                    with mt.no_grad():
                        watched = self._loss(self.model_(mt.Tensor(val[0])), val[1],
                                             "mean").item()
                    self.validation_loss_history_.append(watched)
                else:
                    watched = value
                # an epoch counts as better only by a margin, so that a plateau ends
                if watched < best - 1e-4 * abs(best) if math.isfinite(best) else True:
                    best, stale, self.best_iteration_ = watched, 0, i
                    best_state = [p.data.copy() for p in params] if val is not None else None
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
        if best_state is not None:
            for p, b in zip(params, best_state):
                p.data[...] = b
        self.n_iter_ = len(self.loss_history_)
        self.output = self._probabilities(self.X_)
        return self

    def _trace_metric(self) -> str:
        if self.task_ == "regression":
            y = self._target.ravel() * self.y_scale_ + self.y_mean_
            return f"R2 {r2(y, self.output.ravel()):.15g}"
        return f"Accuracy {self._accuracy_of(self.output, self._target):.15g}"

    def fit(self, X: Any, y: Any = None) -> NeuralNetwork:
        """scikit-learn's fit: set up on (X, y), or on a DataFrame X when there is a formula,
        then train with the settings. With `early_stopping` and at least 50 rows, a
        stratified `validation_fraction` of the rows is held out to decide when to stop."""
        self._setup(X, y)
        val = None
        n = len(self.X_)
        if (self.settings_["early_stopping"] and self.validation_fraction > 0
                and n >= MIN_VALIDATION_ROWS):
            labels = self._target.ravel() if self.task_ == "classification" else None
            rng = np.random.default_rng(self._data_seed())
            held = stratified_rows(labels, n, self.validation_fraction, rng)
            if held.any():
                val = (self.X_[held], self._target[held])
                self.X_, self._target = self.X_[~held], self._target[~held]
                self.y_ = self.y_[~held].reset_index(drop=True)
        return self._train(None, None, None, self.trace, None, val)

    # ------------------------------------------------------------------ prediction
    def _matrix(self, newdata: Any) -> np.ndarray:
        return self.X_ if newdata is None else self._scaled(self.design_.transform(newdata))

    def _encode(self, data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows with their response ((X, y), or a DataFrame holding the response for a
        formula) as (matrix, target) in the network's units; a label the network does not know
        is a ValueError naming it."""
        import pandas as pd

        if self.formula is not None:
            if not isinstance(data, pd.DataFrame) or self.response_ not in data.columns:
                raise ValueError(f"{what}: give a DataFrame holding the response column "
                                 f"{self.response_!r}")
            matrix, response = self._matrix(data), data[self.response_]
        else:
            X, y = data
            matrix, response = self._matrix(X), pd.Series(np.asarray(y).ravel())
        if self.task_ == "classification":
            ids = label_ids(response, self.classes_, self.response_)
            target = ids if len(self.classes_) > 2 else ids.reshape(-1, 1).astype(float)
        else:
            values = pd.to_numeric(response).to_numpy(dtype=np.float64)
            target = ((values - self.y_mean_) / self.y_scale_).reshape(-1, 1)
        return matrix, target

    def _from_logits(self, logits: np.ndarray) -> np.ndarray:
        if self.task_ == "regression":
            if self.y_scale_ == 1.0 and self.y_mean_ == 0.0:
                return logits
            return logits * self.y_scale_ + self.y_mean_
        if len(self.classes_) > 2:
            shifted = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-np.maximum(logits, -700.0)))
        return np.hstack([1.0 - p, p])

    def _probabilities(self, matrix: np.ndarray) -> np.ndarray:
        with mt.no_grad():
            logits = self.model_(mt.Tensor(matrix)).data
        return self._from_logits(logits)

    def predict_proba(self, newdata: Any = None) -> np.ndarray:
        """Class probabilities (rows = samples, columns in the order of `classes_`) for new
        data (a DataFrame with the formula's columns, or an array), by default the training
        data (the article's `fit`)."""
        self._require_setup("predict_proba")
        if self.task_ == "regression":
            raise ValueError("predict_proba is for classification; this network is a regression")
        return self._probabilities(self._matrix(newdata))

    def predict(self, newdata: Any = None) -> np.ndarray:
        """The most probable class of each row (as the user's labels), or the fitted value for
        a regression; by default for the training data."""
        self._require_setup("predict")
        out = self._probabilities(self._matrix(newdata))
        if self.task_ == "regression":
            return out.ravel()
        return self.classes_[np.argmax(out, axis=1)]

    def _accuracy_of(self, probs: np.ndarray, target: np.ndarray) -> float:
        ids = target.ravel().astype(np.intp)
        return float(np.mean(np.argmax(probs, axis=1) == ids))

    def accuracy(self) -> float:
        """The fraction of training rows classified correctly (the article's `accuracy`)."""
        self._require_setup("accuracy")
        if self.task_ == "regression":
            raise ValueError("accuracy is for classification; use score() (R2) for a regression")
        return self._accuracy_of(self._probabilities(self.X_), self._target)

    def compute_loss(self) -> float:
        """The negative log-likelihood of the training data at the current weights (the
        article's `compute_loss`; squared error, on the standardized target when `scale`, for
        a regression), summed or averaged as `loss_reduction` says, plus the weight-decay
        penalty when there is one."""
        self._require_setup("compute_loss")
        with mt.no_grad():
            loss = self._loss(self.model_(mt.Tensor(self.X_)), self._target).item()
        return loss + self._penalty()

    def score(self, X: Any = None, y: Any = None) -> float:
        """Accuracy (classification) or R2 (regression) on (X, y); with a formula, X is a
        DataFrame holding the response; with nothing, the training data."""
        self._require_setup("score")
        import pandas as pd

        if X is None:
            matrix, response = self.X_, self.y_
        elif self.formula is not None:
            matrix = self._matrix(X)
            if self.response_ not in X.columns:
                raise ValueError(f"score: the data lack the response column {self.response_!r}")
            response = X[self.response_]
            check_same_response(y, response)
        else:
            matrix = self._matrix(X)
            response = pd.Series(np.asarray(y).ravel())
        pred = self._probabilities(matrix)
        if self.task_ == "regression":
            return r2(pd.to_numeric(response).to_numpy(dtype=float), pred.ravel())
        ids = label_ids(response, self.classes_, self.response_, strict=False)
        return self._accuracy_of(pred, ids)

    @property
    def weights(self) -> list[np.ndarray]:
        """Each layer's weights in the article's layout: the bias as the first row over the
        weight matrix, (in + 1) x out (in x out for a layer without bias)."""
        self._require_setup("weights")
        return [
            np.vstack([m.bias.data[None, :], m.weight.data])
            if m.bias is not None
            else m.weight.data.copy()
            for m in self.model_
            if isinstance(m, Linear)
        ]

    # ------------------------------------------------------------------ scikit-learn
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (not the data), as scikit-learn expects."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> NeuralNetwork:
        """Set constructor parameters by name; returns self."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(
                    f"NeuralNetwork has no parameter {name!r} (parameters: {', '.join(_PARAMS)})"
                )
            setattr(self, name, value)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Whether the network has been set up on data (scikit-learn's check_is_fitted asks
        this rather than looking for attributes ending in '_')."""
        return self.model_ is not None

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        regression = self.task == "regression"
        return Tags(
            estimator_type="regressor" if regression else "classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=None if regression else ClassifierTags(),
            regressor_tags=RegressorTags() if regression else None,
        )

    def __repr__(self) -> str:
        defaults = NeuralNetwork()

        def shown(name: str) -> str:
            value = getattr(self, name)
            if name == "init" and is_given_init(value):  # shapes, not every number
                return "[" + ", ".join("x".join(map(str, np.shape(w))) for w in value) + "]"
            return repr(value)

        changed = [
            f"{name}={shown(name)}"
            for name in _PARAMS
            if name == "init" and is_given_init(self.init)
            or getattr(self, name) != getattr(defaults, name)
        ]
        return f"NeuralNetwork({', '.join(changed)})"
