"""The second article to the digit: its own hot dogs (two spirals) and starting weights give its
numbers exactly, by the hand-derived loops (nn.manual) and by autodiff (a plain nn.Sequential
and nn.NeuralNetwork). All of it is deterministic: no random numbers are drawn.

The article (learn_rate 1e-2, 1e5 iterations): logistic regression 134 of 200; hidden = 5:
152 (76%); hidden = 30: 200 (100%); hidden = 1: 137 (68.5%, printed as 68%); and the R6 class
on iris prints nine trace lines, reproduced here to 1e-10 relative.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import microtensor as mt
import nn
from nn import functional as F
from nn import manual

ITERATIONS = 100_000
CORRECT = {5: 152, 30: 200, 1: 137}  # of 200, the article's (68% printed for 137)
FORMULA = "`class` ~ x1 + x2"

# irisnet$train(9999, trace = 1e3, learn_rate = .0001), as the article prints it
IRIS_TRACE = [
    (1000, 151.054969487204, 0.68),
    (2000, 81.6280605667542, 0.853333333333333),
    (3000, 64.5735942975868, 0.966666666666667),
    (4000, 51.0996158369837, 0.973333333333333),
    (5000, 40.105949050699, 0.973333333333333),
    (6000, 32.3280157122779, 0.973333333333333),
    (7000, 27.0449301604686, 0.98),
    (8000, 23.3961690114, 0.98),
    (9000, 20.7875204792586, 0.98),
]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    df = nn.datasets.hotdogs()
    return df[["x1", "x2"]].to_numpy(), (df["class"] == "hot dog").to_numpy(dtype=float)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return nn.datasets.article_weights()


def sequential(w1: np.ndarray, w2: np.ndarray) -> nn.Sequential:
    """The article's network as plain nn layers, from its (in + 1) x out matrices."""
    model = nn.Sequential(nn.Linear(2, w1.shape[1]), nn.Sigmoid(), nn.Linear(w1.shape[1], 1))
    for layer, w in ((model[0], w1), (model[2], w2)):
        layer.bias.data[...] = w[0]  # the intercept row is the bias
        layer.weight.data[...] = w[1:]
    return model


def train_sequential(model: nn.Sequential, x: np.ndarray, y: np.ndarray, iterations: int) -> None:
    opt = nn.optim.SGD(model.parameters(), lr=1e-2)
    xt, target = mt.tensor(x), y.reshape(-1, 1)
    for _ in range(iterations):
        loss = F.binary_cross_entropy_with_logits(model(xt), target, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()


def correct(logits_or_probs: np.ndarray, y: np.ndarray, threshold: float) -> int:
    return int(np.sum((logits_or_probs.ravel() > threshold) == (y > 0.5)))


# ----------------------------------------------------------------- the data and the weights
def test_hotdogs_are_the_articles_spirals():
    df = nn.datasets.hotdogs()
    assert list(df.columns) == ["x1", "x2", "class"] and len(df) == 200
    assert list(df["class"].cat.categories) == ["not hot dog", "hot dog"]  # R's levels
    assert (df["class"].iloc[:100] == "not hot dog").all()
    assert (df["class"].iloc[100:] == "hot dog").all()
    assert df[["x1", "x2"]].dtypes.eq(np.float64).all()
    # the article's "random sample of five", as it prints them (2 decimals)
    sample = df.iloc[list(nn.datasets.ARTICLE_SAMPLE)].round(2)
    assert sample.to_numpy().tolist() == [
        [8.81, -6.19, "not hot dog"],
        [10.0, 0.84, "not hot dog"],
        [-1.78, 4.48, "hot dog"],
        [6.83, -0.02, "hot dog"],
        [1.71, -10.29, "not hot dog"],
    ]
    # full precision: R's first row, exactly
    assert df.iloc[0, :2].tolist() == [7.9588023807257509, -6.1946789782450224]


def test_article_weights_shapes_and_orientation(weights):
    expected = {
        "w1_h5": (3, 5), "w2_h5": (6, 1), "w1_h30": (3, 30), "w2_h30": (31, 1),
        "w1_h1": (3, 1), "w2_h1": (2, 1), "iris_W1": (5, 5), "iris_W2": (6, 3),
    }  # fmt: skip
    assert {k: v.shape for k, v in weights.items()} == expected
    assert all(v.dtype == np.float64 for v in weights.values())
    # R fills a matrix column by column: entry i = 2 of w1_h5 is row 2, column 1
    assert weights["w1_h5"][0, 0] == 1.2449328804173638
    assert weights["w1_h5"][1, 0] == -1.0512478083197154
    assert weights["w1_h5"][2, 0] == -0.66507123512017285
    assert weights["w1_h5"][0, 1] == 0.73407063960225427
    assert np.abs(weights["iris_W1"]).max() < 0.05  # already times 0.01
    fresh = nn.datasets.article_weights()
    fresh["w1_h5"][0, 0] = 0.0
    assert nn.datasets.article_weights()["w1_h5"][0, 0] == 1.2449328804173638


def test_iris_columns_line_up_with_rs_model_matrix():
    """iris_W1's rows are (Intercept), Sepal.Length, Sepal.Width, Petal.Length, Petal.Width
    and iris_W2's columns setosa, versicolor, virginica: our design must be in that order."""
    net = nn.NeuralNetwork("Species ~ .", data=nn.datasets.iris(), hidden=5)
    assert net.design_.intercept
    assert net.design_.columns == ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
    assert list(net.classes_) == ["setosa", "versicolor", "virginica"]


# ----------------------------------------------------------------- two_spirals
def test_two_spirals_shape_and_balance():
    df = nn.datasets.two_spirals(seed=3)
    assert list(df.columns) == ["x1", "x2", "class"] and len(df) == 200
    assert df["class"].value_counts().to_dict() == {"not hot dog": 100, "hot dog": 100}
    assert list(df["class"].cat.categories) == ["not hot dog", "hot dog"]
    odd = nn.datasets.two_spirals(n=201, seed=3)
    assert odd["class"].value_counts().to_dict() == {"not hot dog": 100, "hot dog": 101}
    pd.testing.assert_frame_equal(df, nn.datasets.two_spirals(seed=3))
    assert not df.equals(nn.datasets.two_spirals(seed=4))
    with pytest.raises(ValueError, match="at least 2"):
        nn.datasets.two_spirals(n=1)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_two_spirals_arms_are_mirror_images(seed):
    """Without the noise, arm 2 is arm 1 mirrored through the origin; the noise is U(0, 1)
    added to each coordinate (spiral2 - noise = -(spiral1 - noise))."""
    clean = nn.datasets.two_spirals(seed=seed, noise=0.0)[["x1", "x2"]].to_numpy()
    noisy = nn.datasets.two_spirals(seed=seed)[["x1", "x2"]].to_numpy()
    np.testing.assert_allclose(clean[100:], -clean[:100], rtol=0, atol=1e-12)
    noise = noisy - clean
    assert noise.min() >= 0.0 and noise.max() < 1.0
    assert noise.std() > 0.2  # really uniform noise, not a constant
    # the angles run from theta0 to theta0 + radians, so the radius from pi/2 to 3.5 pi
    r = np.hypot(clean[:, 0], clean[:, 1])
    assert r.min() >= np.pi / 2 - 1e-12 and r.max() <= 3.5 * np.pi + 1e-12


def test_two_spirals_looks_like_the_articles():
    """Same formula, other random numbers: the same layout (range, balance, a poor linear fit)."""
    ours = nn.datasets.two_spirals(seed=42)
    article = nn.datasets.hotdogs()
    for col in ("x1", "x2"):
        assert abs(ours[col].min() - article[col].min()) < 2.0
        assert abs(ours[col].max() - article[col].max()) < 2.0
    x, y = ours[["x1", "x2"]].to_numpy(), (ours["class"] == "hot dog").to_numpy(float)
    fit = manual.logistic_regression(x, y)
    assert 0.5 <= np.mean((fit.fitted > 0.5) == (y > 0.5)) <= 0.8


# ----------------------------------------------------------------- logistic regression
def test_logistic_regression_gets_134(data):
    x, y = data
    fit = manual.logistic_regression(x, y)
    assert correct(fit.fitted, y, 0.5) == 134  # the article: 134 (67%)
    # a nearly vertical boundary near x1 = 0.5
    intercept, slope = fit.boundary()
    assert abs(slope) > 100
    assert 0.4 < -intercept / slope < 0.6
    # the maximum-likelihood point: the score X^T (y - p) vanishes
    score = manual.add_intercept(x).T @ (y - fit.fitted)
    np.testing.assert_allclose(score, 0.0, atol=1e-8)


def test_logistic_regression_matches_scikit_learn(data):
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, y = data
    ref = sklearn.LogisticRegression(C=1e12, solver="newton-cg", tol=1e-12).fit(x, y)
    fit = manual.logistic_regression(x, y)
    np.testing.assert_allclose(fit.coef, [ref.intercept_[0], *ref.coef_[0]], rtol=1e-4, atol=1e-6)


def test_logistic_regression_through_the_estimator(data):
    """hidden = 0 is logistic regression; trained by autodiff to the same maximum."""
    x, y = data
    net = nn.NeuralNetwork(FORMULA, data=nn.datasets.hotdogs(), hidden=0, init="randn",
                           optimizer="adam", random_state=0)
    net.train(3000, learn_rate=0.05, trace=0, tolerance=0)
    np.testing.assert_allclose(net.weights[0].ravel(), manual.logistic_regression(x, y).coef,
                               rtol=1e-3, atol=1e-4)
    assert round(net.accuracy() * 200) == 134


# ----------------------------------------------------------------- the networks, by hand
@pytest.mark.slow
@pytest.mark.parametrize("hidden", [5, 30, 1])
def test_manual_train_gives_the_articles_accuracy(data, weights, hidden):
    x, y = data
    fit = manual.train_binary(x, y, learn_rate=1e-2, iterations=ITERATIONS,
                              w1=weights[f"w1_h{hidden}"], w2=weights[f"w2_h{hidden}"])
    assert correct(fit.output, y, 0.5) == CORRECT[hidden]


def test_given_weights_are_not_changed(data, weights):
    x, y = data
    w1 = weights["w1_h5"].copy()
    manual.train_binary(x, y, iterations=5, w1=w1, w2=weights["w2_h5"])
    np.testing.assert_array_equal(w1, weights["w1_h5"])


def test_given_weights_of_the_wrong_shape_are_refused(data, weights):
    x, y = data
    with pytest.raises(ValueError, match=r"w2 must have shape \(6, 1\).*\(31, 1\)"):
        manual.train_binary(x, y, iterations=1, w1=weights["w1_h5"], w2=weights["w2_h30"])
    with pytest.raises(ValueError, match="hidden=4 but w1 has 5 columns"):
        manual.train_binary(x, y, hidden=4, iterations=1, w1=weights["w1_h5"])
    X, labels = manual.add_intercept(np.ones((3, 4))), np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"W1 must have shape \(5, 5\)"):
        manual.train_softmax(X, labels, W1=np.zeros((4, 5)), iterations=1)
    with pytest.raises(ValueError, match=r"weights2 must have shape \(4, 1\)"):
        manual.train_xor(*nn.datasets.xor(), weights1=np.ones((3, 4)), weights2=np.ones((3, 1)))


def test_train_xor_from_given_weights_is_the_articles_loop():
    X, y = nn.datasets.xor()
    start = np.random.default_rng(0)
    w1, w2 = start.uniform(size=(3, 4)), start.uniform(size=(4, 1))
    given = manual.train_xor(X, y, iterations=50, weights1=w1, weights2=w2)
    drawn = manual.train_xor(X, y, iterations=50, rng=0)  # the same numbers, drawn
    np.testing.assert_array_equal(given.weights1, drawn.weights1)
    np.testing.assert_array_equal(given.losses, drawn.losses)


# ----------------------------------------------------------------- the networks, by autodiff
# hidden = 5 is chaotic early on: autodiff's rounding (x @ W + b, a fused logits loss) differs
# from the hand-derived loop's by 1e-16, which grows to 1e-3 by iteration 400 before both
# settle into the same minimum (152 of 200, final weights within 1e-2). So the step-for-step
# comparisons stop at PREFIX iterations, and hidden = 5 runs the whole 1e5 by autodiff.
PREFIX = {5: 150, 30: 600, 1: 1000}


@pytest.mark.slow
def test_sequential_autodiff_gives_152_with_five_hidden_units(data, weights):
    """All 1e5 iterations through autodiff (plain nn layers, SGD) for hidden = 5: the
    article's 152 of 200. (nn.NeuralNetwork gives 152, 200 and 137 for hidden = 5, 30, 1 over
    the full 1e5 as well; those runs take minutes together, so they stay out of the suite.)"""
    x, y = data
    model = sequential(weights["w1_h5"], weights["w2_h5"])
    train_sequential(model, x, y, ITERATIONS)
    with mt.no_grad():
        logits = model(mt.tensor(x)).data
    assert correct(logits, y, 0.0) == 152


@pytest.mark.parametrize("hidden", [5, 30, 1])
def test_sequential_follows_the_manual_trajectory(data, weights, hidden):
    """Autodiff takes the hand-derived loop's steps: equal weights (to rounding) after the
    first PREFIX[hidden] iterations."""
    x, y = data
    w1, w2 = weights[f"w1_h{hidden}"], weights[f"w2_h{hidden}"]
    model = sequential(w1, w2)
    train_sequential(model, x, y, PREFIX[hidden])
    fit = manual.train_binary(x, y, iterations=PREFIX[hidden], w1=w1, w2=w2)
    got = [np.vstack([m.bias.data[None], m.weight.data]) for m in (model[0], model[2])]
    np.testing.assert_allclose(got[0], fit.w1, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(got[1], fit.w2, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("hidden", [5, 30, 1])
def test_neural_network_follows_the_manual_trajectory(data, weights, hidden):
    x, y = data
    w1, w2 = weights[f"w1_h{hidden}"], weights[f"w2_h{hidden}"]
    net = nn.NeuralNetwork(FORMULA, data=nn.datasets.hotdogs(), hidden=hidden, init=[w1, w2])
    np.testing.assert_array_equal(net.weights[0], w1)  # the intercept row became the bias
    np.testing.assert_array_equal(net.weights[1], w2)
    assert list(net.classes_) == ["not hot dog", "hot dog"]  # y = 1 is "hot dog", as in R
    net.train(PREFIX[hidden], learn_rate=1e-2, trace=0, tolerance=0)
    fit = manual.train_binary(x, y, iterations=PREFIX[hidden], w1=w1, w2=w2)
    np.testing.assert_allclose(net.weights[0], fit.w1, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(net.weights[1], fit.w2, rtol=1e-9, atol=1e-10)


# ----------------------------------------------------------------- init=[W1, W2]
def test_init_matrices_are_checked_against_the_layers(weights):
    df = nn.datasets.hotdogs()
    with pytest.raises(ValueError, match=r"layer 2 needs a 6x1 matrix.*got shape \(31, 1\)"):
        nn.NeuralNetwork(FORMULA, data=df, hidden=5, init=[weights["w1_h5"], weights["w2_h30"]])
    with pytest.raises(ValueError, match=r"layer 1 needs a 3x4 matrix.*got shape \(3, 5\)"):
        nn.NeuralNetwork(FORMULA, data=df, hidden=4, init=[weights["w1_h5"], weights["w2_h5"]])
    with pytest.raises(ValueError, match="2 layers .* but 1 starting matrices"):
        nn.NeuralNetwork(FORMULA, data=df, hidden=5, init=[weights["w1_h5"]])
    with pytest.raises(ValueError, match="non-finite"):
        nn.NeuralNetwork(FORMULA, data=df, hidden=5,
                         init=[weights["w1_h5"] * np.nan, weights["w2_h5"]])
    with pytest.raises(ValueError, match="init must be one of small, randn"):
        nn.NeuralNetwork(FORMULA, data=df, hidden=5, init="ones")


def test_init_by_name_still_works():
    df = nn.datasets.hotdogs()
    for init in ("small", "randn", "xavier", "kaiming"):
        net = nn.NeuralNetwork(FORMULA, data=df, hidden=3, init=init, random_state=0)
        assert [w.shape for w in net.weights] == [(3, 3), (4, 1)]


def test_init_matrices_survive_params_and_clone(weights):
    given = [weights["iris_W1"], weights["iris_W2"]]
    net = nn.NeuralNetwork("Species ~ .", hidden=5, init=given, iterations=20)
    assert net.get_params()["init"] is given
    assert "init=[5x5, 6x3]" in repr(net)
    net.fit(nn.datasets.iris())
    other = nn.NeuralNetwork("Species ~ .", hidden=3, iterations=20)
    other.set_params(hidden=5, init=given)
    other.fit(nn.datasets.iris())
    for a, b in zip(net.weights, other.weights):
        np.testing.assert_array_equal(a, b)
    base = pytest.importorskip("sklearn.base")
    twin = base.clone(net).fit(nn.datasets.iris())
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(given[0], nn.datasets.article_weights()["iris_W1"])


# ----------------------------------------------------------------- the R6 class on iris
def test_iris_trace_is_the_articles(weights, capsys):
    net = nn.NeuralNetwork("Species ~ .", data=nn.datasets.iris(), hidden=5,
                           init=[weights["iris_W1"], weights["iris_W2"]])
    assert net.train(9999, trace=1000, learn_rate=1e-4) is net
    lines = capsys.readouterr().out.splitlines()
    got = [
        tuple(float(v) for v in re.fullmatch(r"Iteration (\d+)\tLoss (\S+)\tAccuracy (\S+)",
                                              line).groups())
        for line in lines
    ]
    assert [int(i) for i, _, _ in got] == [i for i, _, _ in IRIS_TRACE]
    for (_, loss, acc), (_, want_loss, want_acc) in zip(got, IRIS_TRACE):
        assert loss == pytest.approx(want_loss, rel=1e-10)
        assert acc == pytest.approx(want_acc, rel=1e-10)


def test_iris_manual_softmax_from_the_articles_weights(weights):
    iris = nn.datasets.iris()
    X = manual.add_intercept(iris.iloc[:, :4].to_numpy())
    labels = iris["Species"].cat.codes.to_numpy()
    fit = manual.train_softmax(X, labels, learn_rate=1e-4, iterations=9000,
                               W1=weights["iris_W1"], W2=weights["iris_W2"])
    # fit.output is that of the 9000th forward pass (after 8999 steps): the last trace line
    loss = -np.sum(np.log(fit.output[np.arange(150), labels]))
    assert loss == pytest.approx(20.7875204792586, rel=1e-10)
    assert np.mean(fit.output.argmax(axis=1) == labels) == pytest.approx(0.98)


def test_network_with_given_starting_weights_saves_and_loads(tmp_path) -> None:
    from nn.estimator_io import load_network, save_network

    w = nn.datasets.article_weights()
    iris = nn.datasets.iris()
    net = nn.NeuralNetwork("Species ~ .", data=iris, hidden=5, init=[w["iris_W1"], w["iris_W2"]])
    net.train(10)
    path = tmp_path / "iris.safetensors"
    save_network(net, path)
    back = load_network(path)
    np.testing.assert_array_equal(back.predict_proba(iris), net.predict_proba(iris))
    np.testing.assert_array_equal(np.asarray(back.get_params()["init"][0]), w["iris_W1"])
