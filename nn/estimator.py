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
    INITS,
    SCHEDULES,
    build_network,
    is_given_init,
    make_optimizer,
    make_schedule,
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
)


class NeuralNetwork:
    """A multi-layer perceptron for classification or regression, set up like the article's
    `NeuralNetwork$new(formula, data, hidden)`.

    Give the data either as a formula and a DataFrame (`NeuralNetwork("Species ~ .",
    data=iris, hidden=5)`; nn.formula parses it with a restricted grammar that never evaluates
    anything, and builds the design matrix, intercept included) or as arrays
    (`NeuralNetwork(X, y, hidden=5)`); with data the network is built at once and `train()` may
    follow. Without data it is a scikit-learn estimator waiting for `fit`.

    The response decides the task (`task="auto"`): categories, text, booleans, integers and
    0/1 floats make a classifier (labels are kept as given; two classes use one sigmoid
    output, more use softmax), other floats a regression on squared error. The loss is summed
    over the rows, as in the article, so learning rates are the article's. Weights (and
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
    `train`. `random_state` seeds the initial weights.
    """

    def __init__(
        self,
        formula: Any = None,
        y: Any = None,
        *,
        data: pd.DataFrame | None = None,
        hidden: int | tuple[int, ...] = 5,
        activation: str = "sigmoid",
        task: str = "auto",
        init: str | Sequence[Any] = "small",
        optimizer: str = "sgd",
        learn_rate: float = 1e-2,
        iterations: int = 10_000,
        tolerance: float = 0.01,
        trace: int = 0,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        lr_schedule: str | Callable[[int], float] | None = None,
        lr_gamma: float = 0.5,
        lr_step: int = 1000,
        random_state: int | None = None,
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
        self.model_: Sequential | None = None
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
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else self.hidden
        sizes = tuple(int(h) for h in sizes if int(h) != 0)
        if any(h < 0 for h in sizes):
            raise ValueError(f"hidden sizes must be positive (0 for none), got {self.hidden}")
        return sizes

    def _check_params(self) -> None:
        for name, value, allowed in (
            ("activation", self.activation, tuple(ACTIVATIONS)),
            ("task", self.task, _TASKS),
            ("init", self.init, INITS),
            ("optimizer", self.optimizer, ("sgd", "adam")),
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

    def _setup(self, X: Any, y: Any) -> None:
        """Encode the data, choose the task and build and initialise the layers."""
        # pandas is optional (microtensor[nn]): `import nn` must not need them
        import pandas as pd

        from . import _design

        self._check_params()
        if self.formula is not None:
            design, matrix, response = _design.from_formula(self.formula, X)
            check_same_response(y, response)
        else:
            design, matrix, response = _design.from_arrays(X, y)
        self.design_ = design
        self.X_ = matrix
        self.y_ = response
        self.response_ = str(response.name) if response.name is not None else "y"
        self.n_features_in_ = matrix.shape[1]
        self.task_ = resolve_task(self.task, response)
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
            self._target = values.reshape(-1, 1)
            n_out = 1
        self.model_ = self._build(matrix.shape[1], n_out, design.intercept)
        self._opt = None
        self.output = self._probabilities(matrix)
        self.loss_history_: list[float] = []

    def _build(self, n_in: int, n_out: int, intercept: bool) -> Sequential:
        """The layers for n_in predictors and n_out outputs, freshly initialised."""
        sizes = [n_in, *self._hidden_sizes(), n_out]
        return build_network(sizes, intercept, self.activation, self.init, self.random_state)

    def _make_optimizer(self) -> Any:
        return make_optimizer(
            self.model_, self.optimizer, self.learn_rate, self.momentum, self.weight_decay
        )

    def _require_setup(self, what: str) -> None:
        if self.model_ is None:
            raise RuntimeError(
                f"{what}: this NeuralNetwork has no data yet; construct it with data or call "
                "fit(...) first"
            )

    # ------------------------------------------------------------------ training
    def _loss(self, out: mt.Tensor, target: np.ndarray) -> mt.Tensor:
        """The summed negative log-likelihood (squared error for regression)."""
        if self.task_ == "regression":
            return F.mse_loss(out, target, reduction="sum")
        if len(self.classes_) > 2:
            return F.cross_entropy(out, target, reduction="sum")
        return F.binary_cross_entropy_with_logits(out, target, reduction="sum")

    def _penalty(self) -> float:
        if not self.weight_decay:
            return 0.0
        squares = sum(float(np.sum(m.weight.data**2)) for m in self.model_ if isinstance(m, Linear))
        return 0.5 * self.weight_decay * squares

    def train(
        self,
        iterations: int = 10_000,
        learn_rate: float = 1e-2,
        tolerance: float = 0.01,
        trace: int = 100,
        callback: Callable[[int, float], Any] | None = None,
    ) -> NeuralNetwork:
        """Gradient steps on the training data, as the article's `train`; returns self.

        Each iteration runs the network forward, computes the summed loss, backpropagates by
        autodiff and steps the optimizer. Every `trace` iterations (0: never) it prints
        `Iteration i<TAB>Loss l<TAB>Accuracy a` (R2 for regression), the loss and accuracy
        being those of that iteration's forward pass, like the article's. It stops early once
        that loss (plus any weight-decay penalty) is below `tolerance`. `callback(i, loss)`, when
        given, is called after every iteration (progress bars, custom logging).
        """
        self._require_setup("train")
        if self._opt is None:
            self._opt = self._make_optimizer()
        for group in self._opt.param_groups:
            group["lr"] = group["initial_lr"] = learn_rate
        schedule = make_schedule(
            self._opt, self.lr_schedule, self.lr_gamma, self.lr_step, iterations
        )
        x = mt.Tensor(self.X_)
        params = list(self.model_.parameters())
        for i in range(1, iterations + 1):
            before = None
            try:
                out = self.model_(x)
                loss = self._loss(out, self._target)
                value = loss.item() + self._penalty()  # both at this iteration's weights
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss became {value}")
                self._opt.zero_grad()
                loss.backward()
                before = [p.data.copy() for p in params]
                self._opt.step()
                if not all(np.isfinite(p.data).all() for p in params):
                    raise FloatingPointError("a step made the weights non-finite")
            except FloatingPointError as e:
                # under np.errstate(...="raise") NumPy stops inside an op instead; either way
                # the weights go back to those of the last finite iteration
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
                self.output = self._from_logits(out.data)
                print(f"Iteration {i}\tLoss {value:.15g}\t{self._trace_metric()}", flush=True)
            if value < tolerance:
                break
        self.output = self._probabilities(self.X_)
        return self

    def _trace_metric(self) -> str:
        if self.task_ == "regression":
            return f"R2 {r2(self._target.ravel(), self.output.ravel()):.15g}"
        return f"Accuracy {self._accuracy_of(self.output, self._target):.15g}"

    def fit(self, X: Any, y: Any = None) -> NeuralNetwork:
        """scikit-learn's fit: set up on (X, y), or on a DataFrame X when there is a formula,
        then `train(self.iterations, self.learn_rate, self.tolerance, self.trace)`."""
        self._setup(X, y)
        return self.train(self.iterations, self.learn_rate, self.tolerance, self.trace)

    # ------------------------------------------------------------------ prediction
    def _matrix(self, newdata: Any) -> np.ndarray:
        return self.X_ if newdata is None else self.design_.transform(newdata)

    def _from_logits(self, logits: np.ndarray) -> np.ndarray:
        if self.task_ == "regression":
            return logits
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
        """The summed negative log-likelihood of the training data at the current weights (the
        article's `compute_loss`; squared error for a regression), plus the weight-decay
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
            matrix = self.design_.transform(X)
            if self.response_ not in X.columns:
                raise ValueError(f"score: the data lack the response column {self.response_!r}")
            response = X[self.response_]
            check_same_response(y, response)
        else:
            matrix = self.design_.transform(X)
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
