"""Issue 18: defaults that work on a user's own table (nn.NeuralNetwork's "default" preset and
`microtensor train` with default flags), with the article's settings one flag away."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nn
from microtensor_app import cli, data, plots
from nn.estimator_io import load_network, save_network


def main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, *words: str) -> None:
    assert status == 2, (status, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("microtensor: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])


def badly_scaled(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two classes told apart by inputs in very different units (as real tables are)."""
    rng = np.random.default_rng(seed)
    area = rng.normal(800.0, 300.0, n)
    ratio = rng.normal(0.1, 0.02, n)
    y = np.where((area - 800) / 300 + (ratio - 0.1) / 0.02 > 0, "big", "small")
    return pd.DataFrame({"area": area, "ratio": ratio, "y": y})


# ------------------------------------------------------------------ NeuralNetwork
def test_default_preset_learns_badly_scaled_inputs():
    # before: sigmoid units on raw inputs, summed loss: the majority class
    df = badly_scaled()
    net = nn.NeuralNetwork("y ~ .", random_state=0).fit(df)
    assert net.preset_ == "default" and net.settings_["scale"] is True
    assert net.score(df) > 0.95


def test_scaling_is_stored_applied_by_predict_and_saved(tmp_path: Path):
    df = badly_scaled()
    net = nn.NeuralNetwork("y ~ .", random_state=0, iterations=30).fit(df)
    np.testing.assert_allclose(net.x_mean_, df[["area", "ratio"]].mean(), rtol=1e-12)
    np.testing.assert_allclose(net.x_scale_, df[["area", "ratio"]].std(ddof=0), rtol=1e-12)
    save_network(net, tmp_path / "m.safetensors")
    again = load_network(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(again.x_scale_, net.x_scale_)
    np.testing.assert_array_equal(again.predict_proba(df), net.predict_proba(df))


def test_regression_target_is_standardized_and_predicted_in_its_own_units(tmp_path: Path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(400, 2))
    y = 5e6 + 2e6 * np.sin(x[:, 0]) + 1e6 * x[:, 1]
    net = nn.NeuralNetwork(random_state=0).fit(x, y)
    assert net.task_ == "regression" and net.y_scale_ > 1e5
    assert net.score(x, y) > 0.97
    assert abs(np.mean(net.predict(x)) - y.mean()) < 0.05 * y.std()
    save_network(net, tmp_path / "r.safetensors")
    np.testing.assert_array_equal(load_network(tmp_path / "r.safetensors").predict(x),
                                  net.predict(x))


def test_early_stopping_restores_the_best_weights():
    df = badly_scaled(200)
    df.loc[::3, "y"] = "small"  # label noise: the validation loss turns up after a while
    net = nn.NeuralNetwork("y ~ .", hidden=64, learn_rate=0.05, random_state=0,
                           patience=5).fit(df)
    history = net.validation_loss_history_
    assert len(history) == net.n_iter_ < 1000
    assert net.best_iteration_ == int(np.argmin(history)) + 1 < net.n_iter_
    assert history[-1] > min(history)


def test_minibatches_for_large_tables(monkeypatch: pytest.MonkeyPatch):
    steps = []
    net = nn.NeuralNetwork(iterations=2, early_stopping=False, random_state=0)
    x = np.random.default_rng(0).normal(size=(1000, 3))
    real_setup = net._make_optimizer

    def counting() -> object:
        opt = real_setup()
        step = opt.step
        opt.step = lambda: (steps.append(1), step())[1]
        return opt

    monkeypatch.setattr(net, "_make_optimizer", counting)
    net.fit(x, x[:, 0] > 0)
    assert len(steps) == 2 * 5  # two epochs of five 200-row minibatches


def test_article_preset_is_the_articles_network():
    X, y = nn.datasets.xor()
    article = nn.NeuralNetwork(X, y, hidden=4, random_state=3).train(50, tolerance=0, trace=0)
    fitted = nn.NeuralNetwork(hidden=4, random_state=3, preset="article", iterations=50,
                              tolerance=0).fit(X, y)
    assert article.preset_ == fitted.preset_ == "article"
    assert fitted.x_mean_ is None and fitted.settings_["loss_reduction"] == "sum"
    for a, b in zip(article.weights, fitted.weights):
        np.testing.assert_array_equal(a, b)
    assert article.loss_history_ == fitted.loss_history_


def test_whole_number_target_with_many_values_is_a_regression():
    from nn._response import task_reason

    assert task_reason(pd.Series(np.arange(100) * 3))[0] == "regression"
    assert task_reason(pd.Series(np.arange(100) % 10))[0] == "classification"
    task, why = task_reason(pd.Series(np.arange(100) * 3))
    assert "100 distinct" in why


def test_scikit_learn_grid_search_and_pipeline_with_the_defaults():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    df = badly_scaled(150)
    X, y = df[["area", "ratio"]].to_numpy(), df["y"].to_numpy()
    est = nn.NeuralNetwork(hidden=8, iterations=100, random_state=0)
    assert clone(est).get_params() == est.get_params()
    search = GridSearchCV(est, {"learn_rate": [1e-2, 3e-2]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.85
    assert make_pipeline(MinMaxScaler(), clone(est)).fit(X, y).score(X, y) > 0.85


def test_bad_new_parameters_are_named():
    X, y = nn.datasets.xor()
    for params, word in (({"batch_size": 0}, "batch_size"), ({"preset": "fast"}, "preset"),
                         ({"validation_fraction": 1.0}, "validation_fraction"),
                         ({"patience": 0}, "patience"), ({"loss_reduction": "max"},
                                                         "loss_reduction")):
        with pytest.raises(ValueError, match=word):
            nn.NeuralNetwork(**params).fit(X, y)


# ------------------------------------------------------------------ the command
def test_cli_default_flags_learn_a_badly_scaled_table(capsys, tmp_path: Path):
    badly_scaled(300).to_csv(tmp_path / "d.csv", index=False)
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--out", tmp_path / "m")
    assert status == 0, err
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["validation"]["accuracy"] > 0.93
    assert set(report["input_scaling"]) == {"area", "ratio"}
    assert report["settings"]["preset"] == "default"
    assert "task: classification" in out and "confusion matrix" in out
    assert (tmp_path / "m" / "boundary.png").exists()


@pytest.mark.parametrize("sep", [";", "\t"])
def test_cli_detects_the_separator(capsys, tmp_path: Path, sep: str):
    df = badly_scaled(60)
    text = df.to_csv(sep=sep, index=False)
    if sep == ";":
        text = text.replace(".", ",")  # the decimal comma that goes with semicolons
    (tmp_path / "d.csv").write_text(text)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "3",
                          "--out", tmp_path / "m")
    assert status == 0, err
    assert nn.load_metadata(tmp_path / "m" / "model.safetensors")["formula"] == "y ~ ."
    arch = json.loads(nn.load_metadata(tmp_path / "m" / "model.safetensors")["architecture"])
    assert arch["layers"][0][0] == 2  # area and ratio, read as numbers


def test_cli_sep_flag_and_a_bad_one(capsys, tmp_path: Path):
    (tmp_path / "d.csv").write_text("a|b|y\n1|2|p\n3|4|q\n5|6|p\n7|8|q\n")
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--sep", "|",
                          "--iterations", "2", "--out", tmp_path / "m")
    assert status == 0, err
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--sep", "ab",
                          "--out", tmp_path / "n")
    assert_one_line_error(status, err, "--sep")


def test_cli_missing_values_error_names_column_and_count(capsys, tmp_path: Path):
    df = badly_scaled(60)
    df.loc[[3, 7, 9], "ratio"] = np.nan
    df.to_csv(tmp_path / "d.csv", index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--out", tmp_path / "m")
    assert_one_line_error(status, err, "'ratio'", "3 missing", "--missing")
    assert not (tmp_path / "m").exists()
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--missing", "drop",
                          "--iterations", "2", "--out", tmp_path / "m")
    assert status == 0, err
    assert json.loads((tmp_path / "m" / "report.json").read_text())["rows"] == 57 - 11
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--missing", "mean",
                            "--iterations", "2", "--out", tmp_path / "m2")
    assert status == 0 and "filled" in out, err


def test_cli_reports_text_identifier_date_and_thousands_columns(capsys, tmp_path: Path):
    df = badly_scaled(60)
    df.insert(0, "customer", [f"c{i:04d}" for i in range(60)])
    df.insert(1, "joined", pd.date_range("2020-01-01", periods=60).strftime("%Y-%m-%d"))
    df.insert(2, "color", ["red", "green", "blue"] * 20)
    df.insert(3, "income", [f"{v:,}" for v in range(1000, 61000, 1000)])
    df.to_csv(tmp_path / "d.csv", index=False)
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "2",
                            "--out", tmp_path / "m")
    assert status == 0, err
    notes = [ln for ln in out.splitlines() if ln.startswith("note:")]
    assert any("'customer'" in n and "identifier" in n for n in notes), notes
    assert any("'joined'" in n and "dates" in n for n in notes), notes
    assert any("'color'" in n and "one-hot" in n for n in notes), notes
    assert any("'income'" in n and "thousands" in n for n in notes), notes
    variables = load_network(tmp_path / "m" / "model.safetensors").design_.variables
    assert variables == ["color", "income", "area", "ratio"]


def test_cli_exclude(capsys, tmp_path: Path):
    badly_scaled(60).to_csv(tmp_path / "d.csv", index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--exclude", "ratio",
                          "--iterations", "2", "--out", tmp_path / "m")
    assert status == 0, err
    assert load_network(tmp_path / "m" / "model.safetensors").design_.variables == ["area"]
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--exclude", "nope",
                          "--out", tmp_path / "n")
    assert_one_line_error(status, err, "--exclude", "nope")


def test_cli_task_flag_and_reason(capsys, tmp_path: Path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=80), "price": rng.integers(100, 900, 80)}).to_csv(
        tmp_path / "d.csv", index=False)
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "2",
                            "--out", tmp_path / "m")
    assert status == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("task:"))
    assert "regression" in line and "whole numbers" in line and "--task" in line
    assert "RMSE" in out
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--task", "banana",
                          "--out", tmp_path / "n")
    assert_one_line_error(status, err, "--task")


def test_cli_hint_when_accuracy_is_the_majority_rate(capsys, tmp_path: Path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=60), "y": ["a"] * 45 + ["b"] * 15}).to_csv(
        tmp_path / "d.csv", index=False)
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "1",
                            "--lr", "1e-6", "--out", tmp_path / "m")
    assert status == 0, err
    assert "hint:" in out and "learned nothing" in out


def test_cli_article_preset_keeps_the_old_behaviour(capsys, tmp_path: Path):
    badly_scaled(40).to_csv(tmp_path / "d.csv", index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--preset", "article",
                          "--iterations", "3", "--out", tmp_path / "m")
    assert status == 0, err
    net = load_network(tmp_path / "m" / "model.safetensors")
    assert net.x_mean_ is None and net.settings_["activation"] == "sigmoid"
    assert net._hidden_sizes() == (5,) and net.settings_["loss_reduction"] == "sum"


def test_cli_bad_batch_size_is_one_line(capsys, tmp_path: Path):
    status, _, err = main(capsys, "train", "xor", "--batch-size", "0", "--out", tmp_path / "m")
    assert_one_line_error(status, err, "--batch-size")


# ------------------------------------------------------------------ pictures
def test_loss_axis_is_logarithmic_only_past_two_decades():
    assert not plots.wants_log_axis({"t": [0.7, 0.5, 0.3, 0.1]})
    assert plots.wants_log_axis({"t": [10.0, 1.0, 0.01]})
    assert not plots.wants_log_axis({"t": [10.0, 0.0]})


def test_decision_regions_one_vectorized_pass_any_units(tmp_path: Path):
    calls = []
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(5e4, 1e4, 50), rng.normal(0, 1e-3, 50)])
    labels = np.array([f"k{i % 12}" for i in range(50)])

    def predict(grid: np.ndarray) -> np.ndarray:
        calls.append(grid.shape)
        return np.array([f"k{i % 12}" for i in range(len(grid))])

    plots.decision_regions(tmp_path / "b.png", X, labels, predict,
                           classes=[f"k{i}" for i in range(12)])
    assert calls == [(40_000, 2)]
    assert (tmp_path / "b.png").stat().st_size > 0


def test_report_json_nulls_every_non_finite_number():
    from microtensor_app.commands import report_json

    text = report_json({"a": float("nan"), "b": [1.0, float("inf")],
                        "c": {"d": np.float64(-np.inf)}})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": None}}


def test_separator_detection_ignores_quoted_separators(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text('name;value\n"a,b";1\n"c,d";2\n')
    assert data.detect_separator(path) == ";"
    path.write_text("a,b\n1,2\n")
    assert data.detect_separator(path) == ","


def test_cli_warns_of_single_row_classes_without_a_split(capsys, tmp_path: Path):
    pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
                  "y": ["a", "a", "a", "b", "b", "b", "rare"]}).to_csv(tmp_path / "d.csv",
                                                                        index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "2",
                          "--out", tmp_path / "m")
    assert status == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("microtensor: warning:")]
    assert len(warnings) == 1 and "'rare'" in warnings[0] and "single row" in warnings[0]


def test_cli_predict_reads_numbers_the_way_train_did(capsys, tmp_path: Path):
    df = pd.DataFrame({"income": [f"{v:,}" for v in range(1000, 61000, 1000)],
                       "y": ["lo"] * 30 + ["hi"] * 30})
    df.to_csv(tmp_path / "d.csv", index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--iterations", "50",
                          "--out", tmp_path / "m")
    assert status == 0, err
    status, out, err = main(capsys, "predict", tmp_path / "m" / "model.safetensors",
                            tmp_path / "d.csv")
    assert status == 0, err
    assert len(out.splitlines()) == 61


def test_cli_byte_order_mark_and_question_marks(capsys, tmp_path: Path):
    (tmp_path / "d.csv").write_bytes("\ufeffa,b,y\n1,2,p\n3,?,q\n5,6,p\n7,8,q\n".encode())
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--out", tmp_path / "m")
    assert_one_line_error(status, err, "'b'", "1 missing")
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--missing", "drop",
                          "--iterations", "2", "--out", tmp_path / "m")
    assert status == 0, err
    assert load_network(tmp_path / "m" / "model.safetensors").design_.variables == ["a", "b"]


def test_scikit_learn_knows_whether_it_is_fitted():
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    net = nn.NeuralNetwork(iterations=2)
    with pytest.raises(NotFittedError):
        check_is_fitted(net)
    X, y = nn.datasets.xor()
    check_is_fitted(net.fit(X, y))


def test_whole_numbers_written_as_floats_are_treated_as_whole_numbers():
    from nn._response import task_reason

    assert task_reason(pd.Series([1.0, 2.0, 3.0, 2.0]))[0] == "classification"
    assert task_reason(pd.Series(np.arange(50) * 2.0 + 100))[0] == "regression"
    assert task_reason(pd.Series([1.5, 2.0, 3.0]))[0] == "regression"


def test_cli_predict_fills_missing_values_as_train_missing_mean_did(capsys, tmp_path: Path):
    """`train --missing mean` stores the fill values in the model file; `predict` fills new
    rows' gaps with them (the training means), so its predictions equal those on the rows
    filled by hand; a model trained without it still reports the gap."""
    df = badly_scaled(60)
    df.loc[[3, 7], "ratio"] = np.nan
    df.to_csv(tmp_path / "d.csv", index=False)
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--missing", "mean",
                          "--iterations", "3", "--out", tmp_path / "m")
    assert status == 0, err
    mean = float(df.loc[df["ratio"].notna(), "ratio"].mean())
    new = badly_scaled(5).drop(columns=[df.columns[-1]])
    new.loc[[1, 3], "ratio"] = np.nan
    new.to_csv(tmp_path / "new.csv", index=False)
    new.fillna({"ratio": mean}).to_csv(tmp_path / "filled.csv", index=False)
    model = tmp_path / "m" / "model.safetensors"
    status, _, err = main(capsys, "predict", model, tmp_path / "new.csv", "--output",
                          tmp_path / "p1.csv")
    assert status == 0, err
    status, _, err = main(capsys, "predict", model, tmp_path / "filled.csv", "--output",
                          tmp_path / "p2.csv")
    assert status == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p1.csv"),
                                  pd.read_csv(tmp_path / "p2.csv"))
    status, _, err = main(capsys, "train", tmp_path / "d.csv", "--missing", "drop",
                          "--iterations", "3", "--out", tmp_path / "m3")
    assert status == 0, err
    status, _, err = main(capsys, "predict", tmp_path / "m3" / "model.safetensors",
                          tmp_path / "new.csv")
    assert_one_line_error(status, err, "'ratio'", "missing")


@pytest.mark.parametrize("how", ["mean", "drop"])
def test_cli_a_column_with_no_values_is_left_out_with_a_note(capsys, tmp_path: Path, how: str):
    df = badly_scaled(60)
    df.insert(1, "empty", np.nan)
    df.to_csv(tmp_path / "d.csv", index=False)
    status, out, err = main(capsys, "train", tmp_path / "d.csv", "--missing", how,
                            "--iterations", "2", "--out", tmp_path / "m")
    assert status == 0, err
    assert any("'empty'" in ln and "no values at all" in ln for ln in out.splitlines())
    assert json.loads((tmp_path / "m" / "report.json").read_text())["rows"] == 60 - 12
