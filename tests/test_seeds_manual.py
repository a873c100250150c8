"""The headline oracle tests: autodiff through nn layers equals the seed articles' hand-derived
backprop (nn.manual) to 1e-10 relative, for random sample counts, widths, hidden sizes, class
counts and data; one gradient-descent step taken either way lands on the same weights; and a
wrong formula is caught."""

# ruff: noqa: N803  (W1, W2: the articles' matrix names)

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import microtensor as mt
import nn
import nn.study
from nn import manual
from nn.study import compare_gradients

RTOL = 1e-10


def assert_grads_match(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal to RTOL relative; the absolute floor scales with the matrix so that entries that
    are sums cancelling to ~0 are judged against the size of what cancelled."""
    assert got.shape == expected.shape
    atol = 1e-13 * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=atol)


def _values(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def seed_problems(draw: st.DrawFn, classes: int | None = None, weight_bound: float = 3.0):
    """A batch (x, labels) and the article-layout weights W1 ((d+1) x h), W2 ((h+1) x k):
    n in 1..12 samples, d in 1..5 inputs, h in 1..6 hidden units, k classes (2..5 when drawn)."""
    n = draw(st.integers(1, 12), label="n")
    d = draw(st.integers(1, 5), label="d")
    h = draw(st.integers(1, 6), label="h")
    k = draw(st.integers(2, 5), label="k") if classes is None else classes
    x = draw(arrays(np.float64, (n, d), elements=_values(-5, 5)), label="x")
    W1 = draw(arrays(np.float64, (d + 1, h), elements=_values(-weight_bound, weight_bound)))
    W2 = draw(arrays(np.float64, (h + 1, k), elements=_values(-weight_bound, weight_bound)))
    labels = draw(arrays(np.intp, n, elements=st.integers(0, max(k - 1, 1))), label="labels")
    return x, labels, W1, W2


def _set(layer: nn.Linear, W: np.ndarray) -> None:
    """Load an article-layout matrix [bias; weight] into a Linear layer."""
    if layer.bias is None:
        layer.weight.data[...] = W
    else:
        layer.bias.data[...] = W[0]
        layer.weight.data[...] = W[1:]


def _article_grad(layer: nn.Linear) -> np.ndarray:
    """The layer's autodiff gradient in the article's [bias; weight] layout."""
    if layer.bias is None:
        return layer.weight.grad.data
    return np.vstack([layer.bias.grad.data[None, :], layer.weight.grad.data])


# ----------------------------------------------------------------- the networks, as a user writes
def xor_net(W1: np.ndarray, W2: np.ndarray) -> nn.Sequential:
    model = nn.Sequential(
        nn.Linear(W1.shape[0], W1.shape[1], bias=False),
        nn.Sigmoid(),
        nn.Linear(W2.shape[0], W2.shape[1], bias=False),
        nn.Sigmoid(),
    )
    _set(model[0], W1)
    _set(model[2], W2)
    return model


def binary_net(W1: np.ndarray, W2: np.ndarray, logits: bool = False) -> nn.Sequential:
    layers = [nn.Linear(W1.shape[0] - 1, W1.shape[1]), nn.Sigmoid(), nn.Linear(W2.shape[0] - 1, 1)]
    model = nn.Sequential(*layers) if logits else nn.Sequential(*layers, nn.Sigmoid())
    _set(model[0], W1)
    _set(model[2], W2)
    return model


def softmax_net(W1: np.ndarray, W2: np.ndarray) -> nn.Sequential:
    model = nn.Sequential(
        nn.Linear(W1.shape[0] - 1, W1.shape[1]),
        nn.Sigmoid(),
        nn.Linear(W2.shape[0] - 1, W2.shape[1]),
    )
    _set(model[0], W1)
    _set(model[2], W2)
    return model


def _backward(model: nn.Sequential, loss_fn: nn.Module, x: np.ndarray, target) -> float:
    model.zero_grad()
    loss = loss_fn(model(mt.tensor(x)), target)
    loss.backward()
    return loss.item()


# ----------------------------------------------------------------- first article
@given(seed_problems(classes=1))
def test_xor_backprop_matches_autodiff(problem):
    x, labels, W1, W2 = problem
    w1, w2 = W1[1:], W2[1:]  # the first article has no biases
    y = labels.astype(np.float64).reshape(-1, 1)
    model = xor_net(w1, w2)
    loss = _backward(model, nn.MSELoss(reduction="sum"), x, y)

    layer1, output = manual.xor_feedforward(x, w1, w2)
    d_weights1, d_weights2 = manual.xor_backprop(x, y, w1, w2, layer1, output)
    # the article's d_weights are NEGATIVE gradients (its update is weights += d_weights)
    assert_grads_match(model[0].weight.grad.data, -d_weights1)
    assert_grads_match(model[2].weight.grad.data, -d_weights2)
    np.testing.assert_allclose(loss, manual.sse_loss(y, output), rtol=RTOL)


@given(seed_problems(classes=1), st.floats(0.01, 1.0))
def test_xor_gradient_step_gives_the_same_weights(problem, learn_rate):
    x, labels, W1, W2 = problem
    w1, w2 = W1[1:], W2[1:]
    y = labels.astype(np.float64).reshape(-1, 1)
    model = xor_net(w1, w2)
    opt = nn.optim.SGD(model.parameters(), lr=learn_rate)
    _backward(model, nn.MSELoss(reduction="sum"), x, y)
    opt.step()

    layer1, output = manual.xor_feedforward(x, w1, w2)
    d1, d2 = manual.xor_backprop(x, y, w1, w2, layer1, output)
    assert_grads_match(model[0].weight.data, w1 + learn_rate * d1)
    assert_grads_match(model[2].weight.data, w2 + learn_rate * d2)


def test_xor_training_reproduces_the_article():
    X, y = nn.datasets.xor()
    fit = manual.train_xor(X, y, iterations=1500, rng=0)
    # article: 0.017 0.975 0.982 0.024 (its random start differs from ours)
    np.testing.assert_allclose(fit.output.ravel(), [0.017, 0.975, 0.985, 0.023], atol=6e-4)
    assert fit.losses.shape == (1500,)
    assert fit.losses[-1] < 0.005
    assert fit.losses[0] > 1.0
    assert np.all(np.diff(fit.losses) < 0)


def test_xor_training_by_autodiff_follows_the_same_path():
    """1500 SGD steps (lr 1 = the article's update) through nn land where train_xor does."""
    X, y = nn.datasets.xor()
    start = np.random.default_rng(0)
    w1, w2 = start.uniform(size=(3, 4)), start.uniform(size=(4, 1))
    model = xor_net(w1, w2)
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(1500):
        _backward(model, nn.MSELoss(reduction="sum"), X, y.reshape(-1, 1))
        opt.step()
    fit = manual.train_xor(X, y, iterations=1500, rng=0)
    np.testing.assert_allclose(model[0].weight.data, fit.weights1, rtol=1e-9)
    np.testing.assert_allclose(model[2].weight.data, fit.weights2, rtol=1e-9)


# ----------------------------------------------------------------- second article, binary
@given(seed_problems(classes=1))
def test_binary_backpropagate_matches_autodiff(problem):
    """Sigmoid output + BCELoss(sum): the article's network as written. Weights within +-3 keep
    p (1 - p) above BCELoss's 1e-12 clamp, below which PyTorch's convention (and ours) departs
    from the exact derivative on purpose."""
    x, labels, W1, W2 = problem
    y = labels.astype(np.float64).reshape(-1, 1)
    model = binary_net(W1, W2)
    loss = _backward(model, nn.BCELoss(reduction="sum"), x, y)

    h, y_hat = manual.binary_feedforward(x, W1, W2)
    dw1, dw2 = manual.binary_backpropagate(x, y, y_hat, W1, W2, h)
    assert_grads_match(_article_grad(model[0]), dw1)
    assert_grads_match(_article_grad(model[2]), dw2)
    # A loss computed from probabilities inherits p's rounding through log(p) and log(1 - p):
    # an error of ~1 ulp in p moves the loss by ~1e-16 / min(p, 1 - p). That bounds the gap to
    # the exact loss computed from the logits.
    atol = 1e-15 * np.sum(1 / np.minimum(y_hat, 1 - y_hat))
    np.testing.assert_allclose(loss, manual.binary_nll(x, y, W1, W2), rtol=1e-12, atol=atol)


@given(seed_problems(classes=1, weight_bound=20.0))
def test_binary_backpropagate_matches_autodiff_with_logits(problem):
    """Logits + BCEWithLogitsLoss(sum): exact even when the output saturates."""
    x, labels, W1, W2 = problem
    y = labels.astype(np.float64).reshape(-1, 1)
    model = binary_net(W1, W2, logits=True)
    loss = _backward(model, nn.BCEWithLogitsLoss(reduction="sum"), x, y)

    h, y_hat = manual.binary_feedforward(x, W1, W2)
    dw1, dw2 = manual.binary_backpropagate(x, y, y_hat, W1, W2, h)
    assert_grads_match(_article_grad(model[0]), dw1)
    assert_grads_match(_article_grad(model[2]), dw2)
    np.testing.assert_allclose(loss, manual.binary_nll(x, y, W1, W2), rtol=1e-9, atol=1e-12)


@given(seed_problems(classes=1), st.floats(1e-4, 0.1))
def test_binary_gradient_step_gives_the_same_weights(problem, learn_rate):
    x, labels, W1, W2 = problem
    y = labels.astype(np.float64).reshape(-1, 1)
    model = binary_net(W1, W2)
    opt = nn.optim.SGD(model.parameters(), lr=learn_rate)
    _backward(model, nn.BCELoss(reduction="sum"), x, y)
    opt.step()

    h, y_hat = manual.binary_feedforward(x, W1, W2)
    dw1, dw2 = manual.binary_backpropagate(x, y, y_hat, W1, W2, h)
    assert_grads_match(np.vstack([model[0].bias.data, model[0].weight.data]), W1 - learn_rate * dw1)
    assert_grads_match(np.vstack([model[2].bias.data, model[2].weight.data]), W2 - learn_rate * dw2)


# ----------------------------------------------------------------- second article, R6 softmax
@given(seed_problems())
def test_softmax_backpropagate_matches_autodiff(problem):
    x, labels, W1, W2 = problem
    model = softmax_net(W1, W2)
    loss = _backward(model, nn.CrossEntropyLoss(reduction="sum"), x, labels)

    X = manual.add_intercept(x)
    h, output = manual.softmax_feedforward(X, W1, W2)
    dW1, dW2 = manual.softmax_backpropagate(X, labels, output, W1, W2, h)
    assert_grads_match(_article_grad(model[0]), dW1)
    assert_grads_match(_article_grad(model[2]), dW2)
    np.testing.assert_allclose(loss, manual.softmax_nll(X, labels, W1, W2), rtol=1e-9)


@given(seed_problems(), st.floats(1e-5, 0.1))
def test_softmax_gradient_step_gives_the_same_weights(problem, learn_rate):
    x, labels, W1, W2 = problem
    model = softmax_net(W1, W2)
    opt = nn.optim.SGD(model.parameters(), lr=learn_rate)
    _backward(model, nn.CrossEntropyLoss(reduction="sum"), x, labels)
    opt.step()

    X = manual.add_intercept(x)
    h, output = manual.softmax_feedforward(X, W1, W2)
    dW1, dW2 = manual.softmax_backpropagate(X, labels, output, W1, W2, h)
    assert_grads_match(np.vstack([model[0].bias.data, model[0].weight.data]), W1 - learn_rate * dW1)
    assert_grads_match(np.vstack([model[2].bias.data, model[2].weight.data]), W2 - learn_rate * dW2)


@given(seed_problems())
def test_softmax_probabilities_match_nn_softmax(problem):
    x, _, W1, W2 = problem
    model = nn.Sequential(*softmax_net(W1, W2), nn.Softmax(axis=-1))
    _, output = manual.softmax_feedforward(manual.add_intercept(x), W1, W2)
    np.testing.assert_allclose(model(mt.tensor(x)).data, output, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-12)


# ----------------------------------------------------------------- the oracles can fail
def _xor_without_the_2(x, y, W1, W2):
    w1, w2 = W1[1:], W2[1:]
    layer1, output = manual.xor_feedforward(x, w1, w2)
    delta2 = (y - output) * output * (1 - output)
    return -(x.T @ ((delta2 @ w2.T) * layer1 * (1 - layer1))), -(layer1.T @ delta2)


def _binary_derivative_of_the_wrong_thing(x, y, W1, W2):
    h, y_hat = manual.binary_feedforward(x, W1, W2)
    z1 = manual.add_intercept(x) @ W1  # sigmoid_derivative wants the output h, not z1
    dh = (y_hat - y) @ W2[1:].T
    return manual.add_intercept(x).T @ (z1 * (1 - z1) * dh), manual.add_intercept(h).T @ (y_hat - y)


def _binary_wrong_row_of_w2(x, y, W1, W2):
    h, y_hat = manual.binary_feedforward(x, W1, W2)
    dh = (y_hat - y) @ W2[:-1].T  # drops the last row instead of the intercept row
    return (manual.add_intercept(x).T @ (h * (1 - h) * dh), manual.add_intercept(h).T @ (y_hat - y))


def _softmax_forgets_the_hidden_derivative(x, labels, W1, W2):
    X = manual.add_intercept(x)
    h, output = manual.softmax_feedforward(X, W1, W2)
    haty_y = output - manual.onehot(labels, W2.shape[1])
    return X.T @ (haty_y @ W2[1:].T), manual.add_intercept(h).T @ haty_y


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ("xor", _xor_without_the_2),
        ("binary", _binary_derivative_of_the_wrong_thing),
        ("binary", _binary_wrong_row_of_w2),
        ("softmax", _softmax_forgets_the_hidden_derivative),
    ],
    ids=[
        "xor-missing-factor-2",
        "binary-derivative-of-z",
        "binary-wrong-w2-row",
        "softmax-no-sigmoid-derivative",
    ],
)
def test_a_wrong_formula_is_caught(kind: str, wrong: Callable):
    """The same comparison that passes above fails for plausible mistakes."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 3))
    W1, W2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3 if kind == "softmax" else 1))
    labels = np.array([0, 1, 2, 1, 0, 2]) if kind == "softmax" else np.array([0, 1, 1, 0, 1, 0])
    if kind == "xor":
        W1[0], W2[0] = 0.0, 0.0
        model = xor_net(W1[1:], W2[1:])
        y = labels.reshape(-1, 1).astype(np.float64)
        _backward(model, nn.MSELoss(reduction="sum"), x, y)
        got = (model[0].weight.grad.data, model[2].weight.grad.data)
        expected = wrong(x, y, W1, W2)
    elif kind == "binary":
        model = binary_net(W1, W2)
        y = labels.reshape(-1, 1).astype(np.float64)
        _backward(model, nn.BCELoss(reduction="sum"), x, y)
        got = (_article_grad(model[0]), _article_grad(model[2]))
        expected = wrong(x, y, W1, W2)
    else:
        model = softmax_net(W1, W2)
        _backward(model, nn.CrossEntropyLoss(reduction="sum"), x, labels)
        got = (_article_grad(model[0]), _article_grad(model[2]))
        expected = wrong(x, labels, W1, W2)
    with pytest.raises(AssertionError):
        for g, e in zip(got, expected):
            assert_grads_match(g, e)


# ----------------------------------------------------------------- the study helper
@pytest.mark.parametrize("loss", ["sse", "bce", "cross_entropy"])
def test_compare_gradients_table(loss: str):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 3))
    if loss == "sse":
        model = nn.Sequential(
            nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
        )
        y = rng.integers(0, 2, 20).astype(float)
    elif loss == "bce":
        model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        y = rng.integers(0, 2, 20).astype(float)
    else:
        model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 3))
        y = rng.integers(0, 3, 20)
    table = compare_gradients(model, x, y, loss=loss, repeat=2)
    names = [name for name, _ in model.named_parameters()]
    assert [r.name for r in table.rows] == names
    assert table.max_abs_diff < 1e-12
    assert table.loss_autodiff == pytest.approx(table.loss_manual, rel=1e-12)
    assert table.autodiff_seconds > 0 and table.manual_seconds > 0
    text = str(table)
    assert all(name in text for name in names) and "max |diff|" in text
    assert [d["parameter"] for d in table.as_dicts()] == names


def test_seed_gradient_rows_cover_the_three_networks():
    rows = nn.study.seed_gradient_rows(repeat=1)
    assert [r["network"] for r in rows].count("XOR (first article)") == 2
    assert len(rows) == 10 and max(r["max_abs_diff"] for r in rows) < 1e-12
    text = nn.study.format_table(rows)
    assert text.count("\n") == 10 and "iris (R6 class)" in text


def test_compare_gradients_refuses_other_networks():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
    with pytest.raises(ValueError, match="Sigmoid"):
        compare_gradients(model, np.zeros((2, 3)), np.zeros(2), loss="bce")
    with pytest.raises(ValueError, match="without bias"):
        compare_gradients(
            nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid()),
            np.zeros((2, 3)),
            np.zeros(2),
            loss="sse",
        )
    with pytest.raises(ValueError, match="loss must be one of"):
        compare_gradients(model, np.zeros((2, 3)), np.zeros(2), loss="hinge")


# ----------------------------------------------------------------- manual helpers
def test_sigmoid_is_finite_and_exact_at_the_extremes():
    x = np.array([-1e6, -745.0, -30.0, 0.0, 30.0, 1e6])
    s = manual.sigmoid(x)
    assert np.all(np.isfinite(s)) and s[3] == 0.5 and s[-1] == 1.0
    np.testing.assert_allclose(s[2], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-15)
    np.testing.assert_allclose(manual.sigmoid_derivative(s[3]), 0.25)


def test_onehot_and_intercept():
    np.testing.assert_array_equal(manual.onehot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(manual.add_intercept(np.array([[5.0], [6.0]])), [[1, 5], [1, 6]])


def test_train_softmax_fits_iris():
    df = nn.datasets.iris()
    X = manual.add_intercept(df.iloc[:, :4].to_numpy())
    fit = manual.train_softmax(
        X, df["Species"].cat.codes.to_numpy(), hidden=5, learn_rate=1e-4, iterations=3000, rng=2
    )
    assert np.mean(fit.output.argmax(axis=1) == df["Species"].cat.codes.to_numpy()) > 0.9


# ----------------------------------------------------------------- the fused form of the seeds
def _fused(W1: np.ndarray, W2: np.ndarray, loss: str) -> nn.Sequential:
    """The seed network with each sigmoid as its Linear's activation (one node per layer)."""
    bias = loss != "sse"
    rows1, rows2 = (W1.shape[0] - 1, W2.shape[0] - 1) if bias else W1.shape[:1] + W2.shape[:1]
    model = nn.Sequential(
        nn.Linear(rows1, W1.shape[1], bias=bias, activation="sigmoid"),
        nn.Linear(rows2, W2.shape[1], bias=bias,
                  activation=None if loss == "cross_entropy" else "sigmoid"),
    )
    _set(model[0], W1)
    _set(model[1], W2)
    return model


@given(seed_problems(), st.sampled_from(["sse", "bce", "cross_entropy"]))
def test_fused_seed_networks_match_the_hand_derived_gradients(problem, loss):
    """nn.Linear(..., activation="sigmoid") layers against the articles' formulas, on any
    shapes and data: the fused ops are oracle-checked like the unfused ones."""
    x, labels, W1, W2 = problem
    if loss == "sse":
        W1, W2, y = W1[1:], W2[1:, :1], labels.astype(np.float64) % 2
    elif loss == "bce":
        W2, y = W2[:, :1], (labels % 2).astype(np.float64)
    else:
        y = labels
    model = _fused(W1, W2, loss)
    table = compare_gradients(model, x, y, loss=loss, repeat=1)
    assert [r.name for r in table.rows] == [n for n, _ in model.named_parameters()]
    for row in table.rows:
        assert row.max_abs_diff <= 1e-10 * max(1.0, row.max_abs_grad), row


def test_compare_gradients_refuses_fused_layers_with_another_activation():
    model = nn.Sequential(nn.Linear(3, 4, activation="tanh"), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        compare_gradients(model, np.zeros((2, 3)), np.zeros(2, dtype=int), loss="cross_entropy")
    model = nn.Sequential(nn.Linear(3, 4, activation="sigmoid"), nn.Sigmoid(), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="needs Sequential"):  # two sigmoids in a row
        compare_gradients(model, np.zeros((2, 3)), np.zeros(2, dtype=int), loss="cross_entropy")
