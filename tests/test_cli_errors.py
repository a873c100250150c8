"""The `microtensor` command on bad input: one line on stderr (`microtensor: error: ...`, no
traceback, no colour codes), exit status 2, every argument and output path checked before
training, and nothing half-written. Most tests call `microtensor_app.cli.main` in-process
(fast); the missing-package tests run a subprocess that hides the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtensor_app import cli, commands, data

ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
FAST = ("--iterations", "5")


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in-process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, *words: str) -> str:
    """Exit 2 and exactly one plain line on stderr, `microtensor: error: ...` naming `words`
    (so no training started: training prints its own line first)."""
    assert status == 2, (status, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("microtensor: error: "), lines[0]
    assert "Traceback" not in err and "\x1b" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def write_csv(path: Path, frame: dict[str, list]) -> Path:
    pd.DataFrame(frame).to_csv(path, index=False)
    return path


def blobs(n: int = 24, seed: int = 0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return {"a": a.tolist(), "b": b.tolist(),
            "y": np.where(a * b > 0, "same", "other").tolist()}


# ------------------------------------------------------------------------------ 1: text columns
def test_cli_train_text_predictor_is_one_hot_encoded(capsys, tmp_path: Path) -> None:
    data = blobs()
    data["color"] = (["red", "blue", "green"] * 8)[: len(data["a"])]
    del data["b"]
    csv = write_csv(tmp_path / "text.csv", {k: data[k] for k in ("a", "color", "y")})
    out = tmp_path / "model"
    status, _, err = main(capsys, "train", csv, *FAST, "--out", out)
    assert status == 0, err
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "report.json", "loss.png"}
    json.loads((out / "report.json").read_text())
    status, printed, err = main(capsys, "predict", out / "model.safetensors", csv)
    assert status == 0, err
    assert len(printed.splitlines()) == len(data["a"]) + 1


def test_cli_train_failure_leaves_no_partial_output(capsys, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from microtensor_app import plots

    def broken(*args, **kwargs):
        raise RuntimeError("the picture failed")

    csv = write_csv(tmp_path / "d.csv", blobs())
    monkeypatch.setattr(plots, "loss_curves", broken)
    with pytest.raises(RuntimeError):
        cli.main(["train", str(csv), *FAST, "--out", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old"
    old.mkdir()
    (old / "report.json").write_text("{}")
    with pytest.raises(RuntimeError):
        cli.main(["train", str(csv), *FAST, "--out", str(old)])
    assert sorted(p.name for p in old.iterdir()) == ["report.json"]  # no model, no temp folder
    assert (old / "report.json").read_text() == "{}"


def test_cli_train_into_existing_folder_replaces_the_whole_set(capsys, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "boundary.png").write_text("stale picture of an older model")
    (out / "notes.txt").write_text("the user's own file")
    csv = write_csv(tmp_path / "d.csv", {"a": [1.0, 2, 3, 4, 5], "y": [1.0, 2.5, 2, 4, 6]})
    status, _, err = main(capsys, "train", csv, *FAST, "--out", out)
    assert status == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["loss.png", "model.safetensors", "notes.txt", "report.json"]


# ------------------------------------------------------------------------------ 2: the split
def test_cli_val_split_is_stratified(capsys, tmp_path: Path) -> None:
    # before: a class with two rows could land wholly in validation (a traceback after
    # training); now every class with two rows or more is on both sides, for every seed
    y = ["p"] * 20 + ["q", "q", "r", "r"]
    rng = np.random.default_rng(1)
    csv = write_csv(tmp_path / "d.csv", {"a": rng.normal(size=24).tolist(), "y": y})
    for seed in range(3):
        out = tmp_path / f"o{seed}"
        status, _, err = main(capsys, "train", csv, *FAST, "--val-split", "0.3",
                              "--seed", seed, "--out", out)
        assert status == 0, err
        report = json.loads((out / "report.json").read_text())
        assert (report["rows"], report["validation_rows"]) == (16, 8)  # p: 6, q: 1, r: 1 held out


def test_split_rows_keeps_every_class_on_both_sides() -> None:
    import nn

    rng = np.random.default_rng(0)
    y = rng.choice(["a", "b", "c", "d"], size=40, p=[0.7, 0.2, 0.05, 0.05]).tolist() + ["c", "d"]
    df = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    probe = nn.NeuralNetwork("y ~ .", data=df, hidden=())
    for seed in range(20):
        for fraction in (0.01, 0.2, 0.5, 0.9):
            train, val, _ = data.split_rows(df, probe, fraction, seed, "d")
            assert len(train) + len(val) == len(df)
            assert set(train["y"]) == set(val["y"]) == set(y)


def test_cli_single_row_class_stays_in_training_with_a_warning(capsys, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    csv = write_csv(tmp_path / "d.csv", {"a": rng.normal(size=13).tolist(),
                                         "y": ["p"] * 6 + ["q"] * 6 + ["lonely"]})
    status, _, err = main(capsys, "train", csv, *FAST, "--val-split", "0.5",
                          "--out", tmp_path / "o")
    assert status == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("microtensor: warning:")]
    assert len(warnings) == 1 and "'lonely'" in warnings[0]
    assert json.loads((tmp_path / "o" / "report.json").read_text())["rows"] == 7


def test_cli_val_split_with_nothing_to_hold_out_fails_before_training(capsys,
                                                                     tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "d.csv", {"a": [1.0, 2.0, 3.0], "y": ["p", "q", "r"]})
    status, _, err = main(capsys, "train", csv, *FAST, "--val-split", "0.3",
                          "--out", tmp_path / "o")
    assert_one_line_error(status, err, "--val-split", "single row")
    assert not (tmp_path / "o").exists()


def test_cli_val_rows_with_unseen_category_fail_before_training(capsys,
                                                               tmp_path: Path) -> None:
    # 'green' appears once: whichever side it lands on alone, the other cannot encode it
    color = ["red", "blue"] * 10 + ["green"]
    y = ["p", "p", "q", "q"] * 5 + ["q"]
    csv = write_csv(tmp_path / "d.csv", {"color": color, "y": y})
    for seed in range(4):
        status, _, err = main(capsys, "train", csv, *FAST, "--val-split", "0.4",
                              "--seed", seed, "--out", tmp_path / f"o{seed}")
        if status != 0:
            assert_one_line_error(status, err, "validation", "green")
            assert not (tmp_path / f"o{seed}").exists()


# ------------------------------------------------------------------------------ 3: arguments
@pytest.mark.parametrize("args, words", [
    (("--seed", "-1", "--val-split", "0.5"), ("--seed",)),
    (("--seed", "1.5"), ("--seed",)),
    (("--hidden", "abc"), ("--hidden", "abc")),
    (("--hidden", "-1"), ("--hidden",)),
    (("--hidden", "5,0"), ("--hidden",)),
    (("--hidden", "100000,100000"), ("--hidden", "weights")),
    (("--lr", "nan"), ("--lr",)),
    (("--lr", "0"), ("--lr",)),
    (("--lr", "inf"), ("--lr",)),
    (("--iterations", "0"), ("--iterations",)),
    (("--iterations", "ten"), ("--iterations",)),
    (("--tolerance", "nan"), ("--tolerance",)),
    (("--tolerance", "-1"), ("--tolerance",)),
    (("--val-split", "1"), ("--val-split",)),
    (("--val-split", "nan"), ("--val-split",)),
    (("--activation", "swish"), ("--activation",)),
    (("--nonsense",), ("--nonsense",)),
])
def test_cli_bad_argument_is_one_line_before_training(capsys, tmp_path: Path, args,
                                                      words) -> None:
    status, _, err = main(capsys, "train", "xor", *args, "--out", tmp_path / "o")
    assert_one_line_error(status, err, *words)
    assert not (tmp_path / "o").exists()


def test_cli_no_command_is_one_line(capsys) -> None:
    status, _, err = main(capsys)
    assert_one_line_error(status, err, "command")


def test_cli_train_out_is_a_file_fails_before_training(capsys, tmp_path: Path) -> None:
    target = tmp_path / "taken.txt"
    target.write_text("mine")
    status, _, err = main(capsys, "train", "xor", "--out", target)
    assert_one_line_error(status, err, "taken.txt", "not a folder")
    assert target.read_text() == "mine"
    status, _, err = main(capsys, "train", "xor", "--out", target / "sub")
    assert_one_line_error(status, err, "taken.txt")


def test_cli_train_out_unwritable_fails_before_training(capsys, tmp_path: Path) -> None:
    if Path("/sys").is_dir() and sys.platform.startswith("linux"):
        # even root cannot make a folder in sysfs: the probe catches what os.access cannot
        status, _, err = main(capsys, "train", "xor", "--out", "/sys/microtensor-test-out")
        assert_one_line_error(status, err, "/sys/microtensor-test-out")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        for out in (locked, locked / "model"):
            status, _, err = main(capsys, "train", "xor", "--out", out)
            assert_one_line_error(status, err, "locked", "permission denied")
    finally:
        locked.chmod(0o755)


def test_cli_output_file_that_is_a_folder_fails_before_work(capsys, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "d.csv", {"a": [1.0, 2, 3], "y": [1.0, 2, 4]})
    status, _, err = main(capsys, "train", csv, *FAST, "--out", tmp_path / "m")
    assert status == 0, err
    model = tmp_path / "m" / "model.safetensors"
    status, _, err = main(capsys, "predict", model, csv, "--output", tmp_path)
    assert_one_line_error(status, err, "--output", "folder")
    status, _, err = main(capsys, "graph", model, "--out", tmp_path)
    assert_one_line_error(status, err, "--out", "folder")


# ------------------------------------------------------------------------------ 4: nan, report
def test_cli_predict_refuses_non_finite_weights(capsys, tmp_path: Path) -> None:
    import nn
    from nn.estimator_io import save_network

    df = pd.DataFrame(blobs())
    net = nn.NeuralNetwork("y ~ .", data=df, hidden=3, random_state=0)
    net.model_[0].weight.data[0, 0] = np.nan
    save_network(net, tmp_path / "nan.safetensors")
    csv = write_csv(tmp_path / "d.csv", blobs())
    status, printed, err = main(capsys, "predict", tmp_path / "nan.safetensors", csv)
    assert_one_line_error(status, err, "nan.safetensors", "finite")
    assert printed == ""


def test_cli_predict_refuses_predictions_that_overflow(capsys, tmp_path: Path) -> None:
    # finite weights this large give inf - inf = nan logits, whose argmax is a meaningless
    # label: before, predict printed those labels and exited 0
    import nn
    from nn.estimator_io import save_network

    data = blobs()
    data["y"] = (["u", "v", "w"] * 8)[: len(data["y"])]
    net = nn.NeuralNetwork("y ~ .", data=pd.DataFrame(data), hidden=3, random_state=0)
    for param in net.model_.parameters():
        param.data[...] = 1e308  # every logit inf: softmax gives nan
    save_network(net, tmp_path / "huge.safetensors")
    csv = write_csv(tmp_path / "d.csv", data)
    for extra in ((), ("--proba",)):
        status, printed, err = main(capsys, "predict", tmp_path / "huge.safetensors", csv, *extra)
        assert_one_line_error(status, err, "d.csv", "non-finite")
        assert printed == ""


def test_cli_report_is_strict_json_for_one_row_regression(capsys, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "one.csv", {"a": [1.0], "y": [2.0]})
    status, printed, err = main(capsys, "train", csv, *FAST, "--out", tmp_path / "o")
    assert status == 0, err

    def refuse(name: str) -> None:
        raise ValueError(f"report.json holds {name}, which is not JSON")

    report = json.loads((tmp_path / "o" / "report.json").read_text(), parse_constant=refuse)
    assert report["train"]["r2"] is None
    assert "variance" in report["train"]["notes"]["r2"]
    assert "n/a" in printed


def test_report_json_never_writes_nan() -> None:
    # issue 18: a metric that is not finite is written as null (the file stays valid JSON)
    # rather than stopping the run after training
    def refuse(name: str) -> None:
        raise ValueError(f"report.json holds {name}, which is not JSON")

    text = commands.report_json({"train": {"r2": float("nan"), "x": [float("inf")]}})
    assert json.loads(text, parse_constant=refuse) == {"train": {"r2": None, "x": [None]}}


# ------------------------------------------------------------------------------ 5: extras
def run_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command in a subprocess where importing `module` fails, as after a plain
    `pip install microtensor` without the extras."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from microtensor_app.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=cwd, env=ENV, timeout=120, check=False)


@pytest.mark.parametrize("module, args", [
    ("matplotlib", ("demo", "--out", "demo-out")),
    ("graphviz", ("demo", "--out", "demo-out")),
    ("matplotlib", ("train", "xor", "--out", "demo-out")),
    ("tqdm", ("train", "xor", "--out", "demo-out")),
    ("pandas", ("predict", "model.safetensors", "d.csv")),
    ("graphviz", ("graph", "model.safetensors", "--out", "g.dot")),
])
def test_cli_missing_optional_package_names_the_extra(tmp_path: Path, module: str,
                                                       args: tuple[str, ...]) -> None:
    result = run_without(module, *args, cwd=tmp_path)
    line = assert_one_line_error(result.returncode, result.stderr, module,
                                 'pip install "microtensor[app]"')
    assert f"microtensor {args[0]}" in line
    assert not (tmp_path / "demo-out").exists()


# ------------------------------------------------------------------------------ 6: careless use
CARELESS_CSV = {
    "empty.csv": b"",
    "header-only.csv": b"a,b,y\n",
    "one-column.csv": b"y\n1\n2\n",
    "duplicated.csv": b"a,a,y\n1,2,0\n3,4,1\n5,6,0\n",
    "latin1.csv": "a,b,y\n1,caf\u00e9,0\n2,th\u00e9,1\n".encode("latin-1"),
    "huge-float.csv": b"a,y\n1,0\n1e400,1\n3,0\n4,1\n",
    "huge-int.csv": b"a,y\n1,0\n" + b"9" * 400 + b",1\n3,0\n4,1\n",
    "binary.csv": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(CARELESS_CSV))
def test_cli_careless_csv_is_one_line(capsys, tmp_path: Path, name: str) -> None:
    csv = tmp_path / name
    csv.write_bytes(CARELESS_CSV[name])
    status, _, err = main(capsys, "train", csv, *FAST, "--out", tmp_path / "o")
    assert_one_line_error(status, err, name)
    assert not (tmp_path / "o").exists()


def test_cli_folder_as_data_is_one_line(capsys, tmp_path: Path) -> None:
    status, _, err = main(capsys, "train", tmp_path, "--out", tmp_path / "o")
    assert_one_line_error(status, err, "folder")


@pytest.fixture()
def model_and_data(capsys, tmp_path: Path) -> tuple[Path, Path]:
    csv = write_csv(tmp_path / "d.csv", blobs())
    status, _, err = main(capsys, "train", csv, *FAST, "--out", tmp_path / "m")
    assert status == 0, err
    return tmp_path / "m" / "model.safetensors", csv


def test_cli_bad_model_files_are_one_line(capsys, tmp_path: Path,
                                          model_and_data: tuple[Path, Path]) -> None:
    model, csv = model_and_data
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x01\x00")
    for bad in (csv, truncated, tiny, tmp_path / "missing.safetensors", tmp_path):
        for args in (("predict", bad, csv), ("graph", bad, "--out", tmp_path / "g.dot")):
            status, printed, err = main(capsys, *args)
            assert_one_line_error(status, err, bad.name)
            assert printed == ""
    assert not (tmp_path / "g.dot").exists()


def test_cli_loader_value_error_is_one_plain_line(capsys, monkeypatch: pytest.MonkeyPatch,
                                                  model_and_data: tuple[Path, Path]) -> None:
    import nn.estimator_io

    model, csv = model_and_data

    def damaged(path):
        raise ValueError("damaged\n  \x1b[31mmetadata\x1b[0m here")

    monkeypatch.setattr(nn.estimator_io, "load_network", damaged)
    status, _, err = main(capsys, "predict", model, csv)
    line = assert_one_line_error(status, err, "damaged metadata here")
    assert str(model) in line


def test_cli_programming_errors_keep_their_traceback(monkeypatch: pytest.MonkeyPatch,
                                                     model_and_data: tuple[Path, Path]) -> None:
    import nn.estimator_io

    model, csv = model_and_data

    def buggy(path):
        raise AttributeError("a bug in our own code")

    monkeypatch.setattr(nn.estimator_io, "load_network", buggy)
    with pytest.raises(AttributeError):
        cli.main(["predict", str(model), str(csv)])


def test_cli_predict_columns_that_do_not_fit_are_one_line(capsys, tmp_path: Path,
                                                          model_and_data) -> None:
    model, _ = model_and_data
    other = write_csv(tmp_path / "other.csv", {"x": [1.0, 2.0], "z": ["u", "v"]})
    status, printed, err = main(capsys, "predict", model, other)
    assert_one_line_error(status, err, "other.csv")
    assert printed == ""


def test_cli_predict_ignores_blank_columns_the_model_does_not_use(capsys, tmp_path: Path,
                                                                   model_and_data) -> None:
    model, csv = model_and_data
    new = pd.read_csv(csv)
    new["y"] = np.nan  # rows to predict: the response is not known yet
    new["comment"] = ["note"] + [None] * (len(new) - 1)
    new.to_csv(tmp_path / "new.csv", index=False)
    status, printed, err = main(capsys, "predict", model, tmp_path / "new.csv")
    assert status == 0, err
    assert len(printed.splitlines()) == len(new) + 1
    new.loc[2, "a"] = np.nan
    new.to_csv(tmp_path / "new.csv", index=False)
    status, printed, err = main(capsys, "predict", model, tmp_path / "new.csv")
    assert_one_line_error(status, err, "'a'", "row 3")


def test_cli_target_too_large_for_the_loss_fails_before_training(capsys,
                                                                  tmp_path: Path) -> None:
    # before: a divergence after the first step, blamed on the learning rate
    # (the article's settings: the default ones standardize the target, and train on it)
    csv = write_csv(tmp_path / "d.csv", {"a": [1.0, 2, 3, 4], "y": [0.5, 1e300, 0.2, 1.5]})
    status, _, err = main(capsys, "train", csv, *FAST, "--preset", "article",
                          "--out", tmp_path / "o")
    assert_one_line_error(status, err, "d.csv", "'y'", "1e+300", "rescale")
    assert not (tmp_path / "o").exists()
    status, _, err = main(capsys, "train", csv, *FAST, "--out", tmp_path / "o")
    assert status == 0, err


def test_demo_failure_half_way_leaves_the_output_folder_as_it_was(tmp_path: Path,
                                                                  monkeypatch) -> None:
    from microtensor_app import demo

    out = tmp_path / "demo"
    out.mkdir()
    (out / "index.html").write_text("the old page")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "gradient_table", broken)  # the last step before index.html
    with pytest.raises(RuntimeError, match="disk full"):
        demo.run_demo(out, quick=True)
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert (out / "index.html").read_text() == "the old page"
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging folder left behind
