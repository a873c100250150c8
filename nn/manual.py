"""The seed articles' networks with their hand-derived backprop, in plain NumPy.

These functions are the project's test oracles (autodiff through `nn` must agree with them to
rounding error) and a place to study backprop written out by hand. Nothing here uses
microtensor; `nn.study.compare_gradients` puts the two side by side.

Arrays are float64 NumPy arrays; a sample is a row, as in the articles' R code.

First article (Tychobra, "build your own neural network from scratch in R"): a 2-layer sigmoid
network without biases, trained on 4 rows of XOR by sum of squared errors.

    sigmoid(x), sigmoid_derivative(s), sse_loss(y, output)
    xor_feedforward(X, weights1, weights2) -> (layer1, output)
    xor_backprop(X, y, weights1, weights2, layer1, output) -> (d_weights1, d_weights2)
        NEGATIVE gradients, as in the article, whose update is `weights += d_weights`
    train_xor(X, y, iterations=1500, hidden=None, rng=0, weights1=None, weights2=None) -> XorFit

Second article (Tea & Stats, "building a neural network from scratch in R"): intercepts as a
column of ones (`cbind(1, x)`), sigmoid hidden layer, summed cross-entropy (the negative
log-likelihood) and gradient descent `W -= learn_rate * dW`.

    add_intercept(x) -> [1, x]
    binary_feedforward(x, w1, w2) -> (h, y_hat)            one sigmoid output
    binary_backpropagate(x, y, y_hat, w1, w2, h) -> (dw1, dw2)   gradients of binary_nll
    binary_nll(x, y, w1, w2) -> float
    train_binary(x, y, hidden=None, learn_rate=1e-2, iterations=10_000, rng=0,
                 w1=None, w2=None) -> BinaryFit
    logistic_regression(x, y) -> LogisticFit      R's glm(family = binomial), by IRLS

    The multinomial version of its R6 class `NeuralNetwork` (X already holds the intercept
    column, as R's model.matrix makes it; W1 is D x H, W2 is (H+1) x K):
    softmax(z), onehot(labels, k)
    softmax_feedforward(X, W1, W2) -> (h, output)
    softmax_backpropagate(X, labels, output, W1, W2, h) -> (dW1, dW2)   gradients of softmax_nll
    softmax_nll(X, labels, W1, W2) -> float
    train_softmax(X, labels, hidden=None, learn_rate=1e-2, iterations=10_000, rng=0,
                  W1=None, W2=None) -> SoftmaxFit

Every train_* function draws its starting weights from `rng` unless they are given (the
second article's own are in `nn.datasets.article_weights()`); given weights are copied, never
changed in place.

Losses are computed from logits (log-sum-exp), so they are finite however confident the
network is; the probabilities the articles work with come out of the feedforward functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BinaryFit",
    "LogisticFit",
    "SoftmaxFit",
    "XorFit",
    "add_intercept",
    "binary_backpropagate",
    "binary_feedforward",
    "binary_nll",
    "logistic_regression",
    "onehot",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "softmax_backpropagate",
    "softmax_feedforward",
    "softmax_nll",
    "sse_loss",
    "train_binary",
    "train_softmax",
    "train_xor",
    "xor_backprop",
    "xor_feedforward",
]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _start(
    given: np.ndarray | None, shape: tuple[int, int], name: str, draw: object
) -> np.ndarray:
    """A float64 copy of the given starting weights, checked against the shape the network
    needs; or, when none are given, `draw(shape)`."""
    if given is None:
        return draw(shape)  # type: ignore[operator]
    w = np.array(given, dtype=np.float64)  # a copy: training never changes the caller's array
    if w.shape != shape:
        raise ValueError(f"{name} must have shape {shape} for this network, got {w.shape}")
    return w


def _width(hidden: int | None, given: np.ndarray | None, name: str, default: int) -> int:
    """The number of hidden units: as asked, else the given weights' column count, else the
    default; a given matrix of another width is an error."""
    if given is not None:
        cols = np.shape(given)[1] if np.ndim(given) == 2 else None
        if cols is None:
            raise ValueError(f"{name} must be a 2-D matrix, got shape {np.shape(given)}")
        if hidden is not None and hidden != cols:
            raise ValueError(f"hidden={hidden} but {name} has {cols} columns")
        return cols
    return default if hidden is None else hidden


def _column(y: np.ndarray, n: int) -> np.ndarray:
    """The articles' y is an R vector that recycles against an n x 1 matrix: make it (n, 1)."""
    return np.asarray(y, dtype=np.float64).reshape(n, 1)


# --------------------------------------------------------------------------- first article


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)).

    x is first raised to -700, where sigmoid(x) ~ 1e-304 already: the articles' literal formula
    would overflow in exp(-x) past x = -709, and nothing else changes. (The literal formula is
    accurate elsewhere, and about 2.5x faster than the `logaddexp` form.)
    """
    return 1.0 / (1.0 + np.exp(-np.maximum(x, -700.0)))


def sigmoid_derivative(s: np.ndarray) -> np.ndarray:
    """d sigmoid(z) / dz written in terms of the output s = sigmoid(z): s * (1 - s).

    Like the article's `sigmoid_derivative`, it takes the sigmoid's *output*, not z.
    """
    return s * (1.0 - s)


def sse_loss(y: np.ndarray, output: np.ndarray) -> float:
    """The first article's loss: the sum of squared errors sum((y - output)^2)."""
    output = np.asarray(output, dtype=np.float64)
    return float(np.sum((_column(y, output.shape[0]) - output) ** 2))


def xor_feedforward(
    X: np.ndarray, weights1: np.ndarray, weights2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """layer1 = sigmoid(X @ weights1); output = sigmoid(layer1 @ weights2). No biases."""
    layer1 = sigmoid(X @ weights1)
    output = sigmoid(layer1 @ weights2)
    return layer1, output


def xor_backprop(
    X: np.ndarray,
    y: np.ndarray,
    weights1: np.ndarray,
    weights2: np.ndarray,
    layer1: np.ndarray,
    output: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The first article's `backprop`: the NEGATIVE gradients of sse_loss.

    With L = sum((y - o)^2), o = sigmoid(z2), z2 = layer1 @ weights2, layer1 = sigmoid(z1),
    z1 = X @ weights1, the chain rule gives

        -dL/dz2       = delta2 = 2 (y - o) * o (1 - o)
        -dL/dweights2 = layer1^T delta2
        -dL/dz1       = delta1 = (delta2 @ weights2^T) * layer1 (1 - layer1)
        -dL/dweights1 = X^T delta1

    The article keeps the minus sign inside `2 * (y - output)` and so updates with
    `weights += d_weights` (gradient descent with learning rate 1). Returns
    `(d_weights1, d_weights2)`, shaped like the weights.
    """
    delta2 = 2.0 * (_column(y, output.shape[0]) - output) * sigmoid_derivative(output)
    d_weights2 = layer1.T @ delta2
    delta1 = (delta2 @ weights2.T) * sigmoid_derivative(layer1)
    d_weights1 = X.T @ delta1
    return d_weights1, d_weights2


@dataclass
class XorFit:
    """What `train_xor` returns: final weights, the last output and the loss per iteration."""

    weights1: np.ndarray
    weights2: np.ndarray
    output: np.ndarray
    losses: np.ndarray = field(repr=False)


def train_xor(
    X: np.ndarray,
    y: np.ndarray,
    iterations: int = 1500,
    hidden: int | None = None,
    rng: np.random.Generator | int | None = 0,
    weights1: np.ndarray | None = None,
    weights2: np.ndarray | None = None,
) -> XorFit:
    """The first article's training loop: feedforward, backprop, `weights += d_weights`.

    Weights start uniform on (0, 1) unless given: weights1 is ncol(X) x hidden and weights2 is
    hidden x 1; `hidden` defaults to the width of a given weights1, else to nrow(X) because
    the article shapes weights1 as ncol(X) x nrow(X). A missing matrix is drawn from `rng`
    (weights1 first). As in the article, `losses[i]` and the returned `output` are those of
    the forward pass at the start of iteration i (before that iteration's update).
    """
    X = np.asarray(X, dtype=np.float64)
    gen = _rng(rng)
    hidden = _width(hidden, weights1, "weights1", X.shape[0])
    weights1 = _start(weights1, (X.shape[1], hidden), "weights1", lambda s: gen.uniform(size=s))
    weights2 = _start(weights2, (hidden, 1), "weights2", lambda s: gen.uniform(size=s))
    losses = np.empty(iterations)
    output = np.zeros((X.shape[0], 1))
    for i in range(iterations):
        layer1, output = xor_feedforward(X, weights1, weights2)
        d_weights1, d_weights2 = xor_backprop(X, y, weights1, weights2, layer1, output)
        weights1 = weights1 + d_weights1
        weights2 = weights2 + d_weights2
        losses[i] = sse_loss(y, output)
    return XorFit(weights1, weights2, output, losses)


# --------------------------------------------------------------------------- second article


def add_intercept(x: np.ndarray) -> np.ndarray:
    """R's `cbind(1, x)`: prepend a column of ones (the intercept, or 'bias')."""
    x = np.asarray(x, dtype=np.float64)
    return np.hstack([np.ones((x.shape[0], 1)), x])


def binary_feedforward(
    x: np.ndarray, w1: np.ndarray, w2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """h = sigmoid([1, x] @ w1); y_hat = sigmoid([1, h] @ w2). Returns (h, y_hat).

    w1 is (d+1) x hidden and w2 is (hidden+1) x 1: each weight matrix's first row multiplies
    the column of ones, so it is that layer's bias.
    """
    h = sigmoid(add_intercept(x) @ w1)
    y_hat = sigmoid(add_intercept(h) @ w2)
    return h, y_hat


def binary_backpropagate(
    x: np.ndarray,
    y: np.ndarray,
    y_hat: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    h: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the summed binary cross-entropy `binary_nll` (the article's `backpropagate`).

    With l = -sum(y log y_hat + (1 - y) log(1 - y_hat)) and y_hat = sigmoid(z2), the sigmoid's
    derivative cancels the denominator of dl/dy_hat, leaving dl/dz2 = y_hat - y. Then

        dw2 = [1, h]^T (y_hat - y)
        dh  = (y_hat - y) w2[1:]^T          (the intercept row of w2 does not reach h)
        dw1 = [1, x]^T (h (1 - h) * dh)

    Returns `(dw1, dw2)`; the article's update is `w -= learn_rate * dw`.
    """
    err = y_hat - _column(y, y_hat.shape[0])
    dw2 = add_intercept(h).T @ err
    dh = err @ w2[1:].T
    dw1 = add_intercept(x).T @ (sigmoid_derivative(h) * dh)
    return dw1, dw2


def binary_nll(x: np.ndarray, y: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> float:
    """The summed binary cross-entropy (negative log-likelihood) of the second article.

    -sum(y log y_hat + (1 - y) log(1 - y_hat)) = sum(log(1 + exp(z2)) - y z2), the right-hand
    form being finite for any logit z2.
    """
    h = sigmoid(add_intercept(x) @ w1)
    z2 = add_intercept(h) @ w2
    return float(np.sum(np.logaddexp(0.0, z2) - _column(y, z2.shape[0]) * z2))


@dataclass
class BinaryFit:
    """What `train_binary` returns, like the article's `list(output, w1, w2)`."""

    output: np.ndarray
    w1: np.ndarray
    w2: np.ndarray


def train_binary(
    x: np.ndarray,
    y: np.ndarray,
    hidden: int | None = None,
    learn_rate: float = 1e-2,
    iterations: int = 10_000,
    rng: np.random.Generator | int | None = 0,
    w1: np.ndarray | None = None,
    w2: np.ndarray | None = None,
) -> BinaryFit:
    """The second article's `train`: standard-normal weights (or the given w1, w2), then
    gradient descent.

    w1 is (d+1) x hidden and w2 is (hidden+1) x 1, intercept row first; `hidden` defaults to
    the width of a given w1, else 5. Each iteration runs `binary_feedforward`,
    `binary_backpropagate` and `w -= learn_rate * dw`. The returned `output` is that of the
    last forward pass (before the last update), as in the article. From
    `nn.datasets.article_weights()` and the hot dogs, 1e5 iterations give the article's
    accuracies: 152 of 200 (hidden = 5), 200 (hidden = 30) and 137 (hidden = 1).
    """
    x = np.asarray(x, dtype=np.float64)
    gen = _rng(rng)
    hidden = _width(hidden, w1, "w1", 5)
    w1 = _start(w1, (x.shape[1] + 1, hidden), "w1", gen.standard_normal)
    w2 = _start(w2, (hidden + 1, 1), "w2", gen.standard_normal)
    y_hat = np.zeros((x.shape[0], 1))
    for _ in range(iterations):
        h, y_hat = binary_feedforward(x, w1, w2)
        dw1, dw2 = binary_backpropagate(x, y, y_hat, w1, w2, h)
        w1 = w1 - learn_rate * dw1
        w2 = w2 - learn_rate * dw2
    return BinaryFit(y_hat, w1, w2)


@dataclass
class LogisticFit:
    """What `logistic_regression` returns: the coefficients (intercept first, as R's
    `coef(glm)`), the fitted probabilities, the deviance and the IRLS iterations taken."""

    coef: np.ndarray
    fitted: np.ndarray
    deviance: float
    iterations: int

    def boundary(self) -> tuple[float, float]:
        """The decision boundary of a fit on two inputs as the line x2 = a + b x1 (the
        article's `geom_abline(intercept = -beta[1]/beta[3], slope = -beta[2]/beta[3])`)."""
        if self.coef.shape != (3,):
            raise ValueError(f"boundary needs a fit on two inputs, got {self.coef.shape[0]} coef")
        b0, b1, b2 = self.coef
        return float(-b0 / b2), float(-b1 / b2)


def logistic_regression(
    x: np.ndarray, y: np.ndarray, tol: float = 1e-8, max_iter: int = 25
) -> LogisticFit:
    """R's `glm(y ~ x, family = binomial)`: maximum likelihood by iteratively reweighted least
    squares (Newton's method), stopped like glm, when the deviance changes by less than
    `tol * (|deviance| + 0.1)`, after at most `max_iter` steps.

    Each step solves the weighted least squares problem of the working response
    z = eta + (y - p) / (p (1 - p)) with weights p (1 - p), on the design [1, x]. The second
    article's logistic regression on the hot dogs classifies 134 of 200 (67%) correctly.
    """
    X = add_intercept(x)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"logistic_regression: x has {X.shape[0]} rows but y has {y.shape[0]}")
    beta = np.zeros(X.shape[1])
    eta = np.zeros(X.shape[0])
    deviance = np.inf
    for step in range(1, max_iter + 1):
        p = sigmoid(eta)
        w = np.maximum(p * (1.0 - p), 1e-300)  # a fitted 0 or 1 must not divide by zero
        z = eta + (y - p) / w
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        eta = X @ beta
        new = 2.0 * float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        if abs(new - deviance) < tol * (abs(new) + 0.1):
            return LogisticFit(beta, sigmoid(eta), new, step)
        deviance = new
    return LogisticFit(beta, sigmoid(eta), deviance, max_iter)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax exp(z) / rowSums(exp(z)), shifted by the row maximum so exp never
    overflows (the shift cancels in the ratio)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def onehot(labels: np.ndarray, k: int) -> np.ndarray:
    """The n x k indicator matrix of integer class ids 0..k-1 (R's `col(output) == Yid`)."""
    labels = np.asarray(labels)
    return (labels.reshape(-1, 1) == np.arange(k)).astype(np.float64)


def softmax_feedforward(
    X: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The R6 class's `fit`: h = sigmoid(X W1); output = softmax([1, h] W2). Returns (h, output).

    X already contains the intercept column (R's model.matrix), so W1 is D x H with D counting
    it; W2 is (H+1) x K, one column per class.
    """
    h = sigmoid(X @ W1)
    output = softmax(add_intercept(h) @ W2)
    return h, output


def softmax_backpropagate(
    X: np.ndarray,
    labels: np.ndarray,
    output: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    h: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the summed cross-entropy `softmax_nll` (the R6 class's `backpropagate`).

    For l = -sum_i log softmax(s_i)[y_i] the softmax's Jacobian cancels as the sigmoid's does in
    the binary case: dl/ds = output - onehot(y), the article's `haty_y` ("E[y] - y"). Then

        dW2 = [1, h]^T haty_y
        dh  = haty_y W2[1:]^T
        dW1 = X^T (h (1 - h) * dh)

    `labels` are integer class ids 0..K-1. Returns `(dW1, dW2)`.
    """
    haty_y = output - onehot(labels, output.shape[1])
    dW2 = add_intercept(h).T @ haty_y
    dh = haty_y @ W2[1:].T
    dW1 = X.T @ (sigmoid_derivative(h) * dh)
    return dW1, dW2


def softmax_nll(X: np.ndarray, labels: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> float:
    """The R6 class's `compute_loss`: -sum_i log output[i, y_i], from the scores via
    log-sum-exp so that it stays finite when a probability rounds to 0."""
    h = sigmoid(X @ W1)
    score = add_intercept(h) @ W2
    shifted = score - score.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    labels = np.asarray(labels)
    return float(-np.sum(log_probs[np.arange(labels.shape[0]), labels]))


@dataclass
class SoftmaxFit:
    """What `train_softmax` returns: the last output and the final weights."""

    output: np.ndarray
    W1: np.ndarray
    W2: np.ndarray


def train_softmax(
    X: np.ndarray,
    labels: np.ndarray,
    hidden: int | None = None,
    learn_rate: float = 1e-2,
    iterations: int = 10_000,
    rng: np.random.Generator | int | None = 0,
    W1: np.ndarray | None = None,
    W2: np.ndarray | None = None,
) -> SoftmaxFit:
    """The R6 class's training in plain NumPy: weights 0.01 * randn (or the given W1, W2),
    then gradient descent on the summed cross-entropy. `X` includes the intercept column;
    `labels` are ids 0..K-1; W1 is D x hidden and W2 is (hidden+1) x K; `hidden` defaults to
    the width of a given W1, else 5."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    gen = _rng(rng)
    hidden = _width(hidden, W1, "W1", 5)
    W1 = _start(W1, (X.shape[1], hidden), "W1", lambda s: 0.01 * gen.standard_normal(s))
    W2 = _start(W2, (hidden + 1, k), "W2", lambda s: 0.01 * gen.standard_normal(s))
    output = np.full((X.shape[0], k), 1.0 / k)
    for _ in range(iterations):
        h, output = softmax_feedforward(X, W1, W2)
        dW1, dW2 = softmax_backpropagate(X, labels, output, W1, W2, h)
        W1 = W1 - learn_rate * dW1
        W2 = W2 - learn_rate * dW2
    return SoftmaxFit(output, W1, W2)
