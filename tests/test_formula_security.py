"""Formulas and model files never run code: nn.formula's restricted grammar (each construct and
its design columns), injection attempts through the Python API, the command line and forged
model files (each refused, a marker file never created), and damaged model metadata (one
ValueError naming the file and the key)."""

from __future__ import annotations

import builtins
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import nn
from nn.estimator_io import load_network, save_network
from nn.formula import parse_formula

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
MARK = "MARKER"  # replaced by the absolute path of a marker file in each test

# Each would create the marker file if any part of it were evaluated as Python.
INJECTIONS = {
    "braces": "y ~ x + {__import__('os').system('touch MARKER')}",
    "I()": "y ~ I(__import__('os').system('touch MARKER'))",
    "bare-call": "y ~ x + __import__('os').system('touch MARKER')",
    "np-function": "y ~ np.log(x)",
    "eval-call": "y ~ eval(x)",
    "getattr-call": "y ~ getattr(x, z)",
    "I-no-quotes": "y ~ I(x)",
    "nested-no-quotes": "y ~ log(exp(x))",
    "poly-call": "y ~ poly(x, len(x))",
    "lambda-no-quotes": "y ~ lambda: x",
    "braces-no-quotes": "y ~ {x}",
    "attribute": "y ~ x.__class__.__init__.__globals__",
    "lambda": "y ~ (lambda: __import__('os').system('touch MARKER'))()",
    "dunder-name": "y ~ __import__",
    "nested-call": "y ~ log(exp(__import__('os').system('touch MARKER')))",
    "poly-degree": "y ~ poly(x, __import__('os').system('touch MARKER'))",
    "C-argument": "y ~ C(x, __import__('os').system('touch MARKER'))",
    "code-in-backquotes": "y ~ `__import__('os').system('touch MARKER')`",
    "string-literal": "y ~ x + 'touch MARKER'",
    "matmul": "y ~ x @ z",
    "semicolon": "y ~ x; __import__('os').system('touch MARKER')",
    "newline": "y ~ x\n+ __import__('os').system('touch MARKER')",
    "open-file": "y ~ x + {open('MARKER', 'w')}",
    "response-code": "__import__('os').system('touch MARKER') ~ x",
    "subscript": "y ~ x[__import__('os').system('touch MARKER')]",
    "power": "y ~ x ** __import__('os').system('touch MARKER')",
    "ansi": "y ~ x + \x1b[31mz",
}


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    x = rng.uniform(0.5, 3.0, n)
    z = rng.uniform(0.5, 3.0, n)
    return pd.DataFrame({
        "x": x,
        "z": z,
        "a": np.array(["n", "s", "e", "n"])[np.arange(n) % 4],
        "b": np.array(["u", "v"])[np.arange(n) % 2],
        "k": (np.arange(n) % 3 + 1).astype(np.int64),
        "y": np.where(x + z > 3.5, "big", "small"),
    })


def _formula(template: str, marker: Path) -> str:
    return template.replace(MARK, str(marker))


def _one_line(message: str) -> None:
    assert "\n" not in message and "\x1b" not in message, message


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a formula or model file ran code"


# ----------------------------------------------------------------------------- grammar
GRAMMAR = {
    "y ~ .": ["x", "z", "a[T.n]", "a[T.s]", "b[T.v]", "k"],
    "y ~ x + z": ["x", "z"],
    "y ~ . - a - b": ["x", "z", "k"],
    "y ~ x + z - z": ["x"],
    "y ~ x:z": ["x:z"],
    "y ~ x*z": ["x", "z", "x:z"],
    "y ~ (x + z):b": ["x:b[u]", "x:b[v]", "z:b[u]", "z:b[v]"],
    "y ~ a": ["a[T.n]", "a[T.s]"],
    "y ~ 0 + a": ["a[e]", "a[n]", "a[s]"],
    "y ~ -1 + a + b": ["a[e]", "a[n]", "a[s]", "b[T.v]"],
    "y ~ a + 0 + 1": ["a[T.n]", "a[T.s]"],
    "y ~ a:b": ["b[T.v]", "a[T.n]:b[u]", "a[T.s]:b[u]", "a[T.n]:b[v]", "a[T.s]:b[v]"],
    "y ~ a*b": ["a[T.n]", "a[T.s]", "b[T.v]", "a[T.n]:b[T.v]", "a[T.s]:b[T.v]"],
    "y ~ x:a": ["x:a[e]", "x:a[n]", "x:a[s]"],
    "y ~ C(k)": ["C(k)[T.2]", "C(k)[T.3]"],
    "y ~ log(x) + exp(z) + sqrt(x)": ["log(x)", "exp(z)", "sqrt(x)"],
    "y ~ scale(x) + center(z)": ["scale(x)", "center(z)"],
    "y ~ poly(x, 3)": ["poly(x, 3)[1]", "poly(x, 3)[2]", "poly(x, 3)[3]"],
    "y ~ `x` + `z`": ["x", "z"],
}


@pytest.mark.parametrize("formula", sorted(GRAMMAR))
def test_formula_grammar_design_columns(formula):
    """Each supported construct gives formulaic's / R's design columns (names and order)."""
    net = nn.NeuralNetwork(formula, data=_data(), hidden=2, random_state=0)
    assert net.design_.columns == GRAMMAR[formula]
    assert net.X_.shape == (40, len(GRAMMAR[formula]))
    assert net.design_.intercept == (formula not in ("y ~ 0 + a", "y ~ -1 + a + b"))


def test_formula_transform_values():
    """Transforms compute what their docstring says; scale/center keep the training mean/sd,
    poly gives raw powers; categorical columns are 0/1 indicators."""
    df = _data()
    net = nn.NeuralNetwork("y ~ log(x) + sqrt(z) + scale(x) + center(z) + poly(x, 2) + C(k)",
                           data=df, hidden=2, random_state=0)
    x, z = df["x"].to_numpy(), df["z"].to_numpy()
    expected = np.column_stack([
        np.log(x), np.sqrt(z), (x - x.mean()) / x.std(ddof=1), z - z.mean(), x, x**2,
        df["k"] == 2, df["k"] == 3,
    ]).astype(float)
    np.testing.assert_allclose(net.X_, expected, rtol=1e-12)
    # new data are encoded with the training statistics, not their own
    new = df.iloc[:3]
    np.testing.assert_allclose(net.design_.transform(new), expected[:3], rtol=1e-12)


def test_formula_backquoted_names_with_any_characters():
    df = pd.DataFrame({"petal width (cm)": [1.0, 2, 3, 4], "a+b": [0.0, 1, 0, 2],
                       "it`s": [1.0, 0, 1, 1], "class": ["p", "q", "p", "q"]})
    net = nn.NeuralNetwork(r"`class` ~ `petal width (cm)` + `a+b` + sqrt(`it\`s`)",
                           data=df, hidden=0)
    assert net.design_.columns == ["petal width (cm)", "a+b", "sqrt(it`s)"]
    assert parse_formula("class ~ x", ["class", "x"]).response == "class"  # keywords are names


@pytest.mark.parametrize("formula", ["y ~ 1", "y ~ 0", "y ~ x - x", "y ~ -1"])
def test_formula_without_predictors_is_a_clear_error(formula):
    """`y ~ 1` is refused before any layer is built (not 'Linear: in_features ... got 0')."""
    with pytest.raises(ValueError, match="no predictors") as info:
        nn.NeuralNetwork(formula, data=_data())
    _one_line(str(info.value))


def test_formula_errors_name_the_problem():
    df = _data()
    cases = {
        "y ~ x + nope": "'nope'",
        "y ~ y + x": "response 'y' cannot also be a predictor",
        "y ~ x + ": "ends where a term should follow",
        "y ~ poly(x, 11)": "poly",
        "y ~ poly(x)": "poly",
        "y ~ log(a)": "not numbers",
        "y ~ (x + z": "no matching ')'",
        "y ~ x ~ z": "one '~'",
        "y ~ 2": "`2` is not allowed",
        "y ~ `x": "no closing backquote",
        "y ~ x:1": "intercept",
        "y ~ (1 + x)": "top level",
        "y ~ " + "(" * 40 + "x" + ")" * 40: "nest",
    }
    for formula, words in cases.items():
        with pytest.raises(ValueError) as info:
            nn.NeuralNetwork(formula, data=df)
        _one_line(str(info.value))
        assert words in str(info.value), (formula, str(info.value))


def test_formula_size_limits_are_quick_errors():
    """Formulas that would expand to huge designs are refused at once (not after minutes)."""
    import time

    columns = ["y"] + [f"c{i}" for i in range(30)]
    start = time.perf_counter()
    assert len(parse_formula("y ~ .*.*.", columns).terms) == 30 + 435 + 4060
    for formula, words in (("y ~ .*.*.*.", "10000 terms"),
                           ("y ~ c1*c2*c3*c4*c5*c6*c7", "at most 6 factors")):
        with pytest.raises(ValueError, match=words):
            parse_formula(formula, columns)
    assert time.perf_counter() - start < 5


def test_formula_never_evaluates_python(monkeypatch, tmp_path):
    """Parsing, fitting, saving, loading and predicting with a formula network while eval,
    exec and compile are booby-trapped: none of them is reached. (One untrapped run first:
    Python's import machinery calls exec for each module imported the first time.)"""
    def trap(*args, **kwargs):
        raise AssertionError("eval/exec/compile called")

    def round_trip(name: str) -> None:
        net = nn.NeuralNetwork("y ~ log(x) * C(k) + scale(z) + a", data=df, hidden=2,
                               random_state=0)
        save_network(net, tmp_path / name)
        again = load_network(tmp_path / name)
        np.testing.assert_array_equal(again.predict(df), net.predict(df))

    df = _data()
    round_trip("warm.safetensors")
    with monkeypatch.context() as m:
        for name in ("eval", "exec", "compile"):
            m.setattr(builtins, name, trap)
        round_trip("trapped.safetensors")


def test_no_module_imports_formulaic():
    for folder in ("microtensor", "nn", "microtensor_app"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert not re.search(r"^\s*(import|from)\s+formulaic", text, re.M), path


# ----------------------------------------------------------------------------- injections
@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_injection_refused_by_the_python_api(name, marker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    formula = _formula(INJECTIONS[name], marker)
    df = _data()
    with pytest.raises(ValueError) as info:
        nn.NeuralNetwork(formula, data=df, hidden=2)
    _one_line(str(info.value))
    with pytest.raises(ValueError):
        nn.NeuralNetwork(formula, hidden=2, iterations=1).fit(df)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "microtensor"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "microtensor"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=ENV,
                          timeout=120, check=False)


def _assert_cli_refused(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("microtensor: error:") and "\x1b" not in lines[0], lines[0]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "d.csv"
    _data().to_csv(path, index=False)
    return path


# one process per attempt: a dozen keep the file fast and cover every way of refusing
CLI_CASES = ["braces", "I()", "bare-call", "np-function", "attribute", "lambda", "nested-call",
             "poly-degree", "code-in-backquotes", "string-literal", "matmul", "semicolon",
             "newline", "ansi"]


@pytest.mark.parametrize("name", CLI_CASES)
def test_injection_refused_by_the_cli(name, marker, tmp_path, csv_file):
    formula = _formula(INJECTIONS[name], marker)
    result = _cli("train", str(csv_file), "--formula", formula, "--iterations", "1",
                  "--out", str(tmp_path / "out"), cwd=tmp_path)
    _assert_cli_refused(result)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- model files
@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = nn.NeuralNetwork("y ~ x + log(z) + a + C(k)", data=_data(), hidden=3,
                           random_state=0)
    net.train(20, trace=0)
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_network(net, path)
    return path


def _forge(source: Path, target: Path, change) -> Path:
    """Rewrite a model file's metadata with the safetensors library itself (a forger's tool):
    `change(meta, body)` edits the top-level metadata and the decoded 'network' JSON."""
    with safe_open(str(source), framework="np") as f:
        meta = dict(f.metadata())
    body = json.loads(meta["network"])
    change(meta, body)
    if body is not None:
        meta["network"] = json.dumps(body)
    save_file(load_file(str(source)), str(target), metadata=meta)
    return target


def test_model_file_round_trip_needs_no_formula_evaluation(model_file, tmp_path):
    net = load_network(model_file)
    df = _data()
    again = nn.NeuralNetwork("y ~ x + log(z) + a + C(k)", data=df, hidden=3, random_state=0)
    again.train(20, trace=0)
    np.testing.assert_allclose(net.predict_proba(df), again.predict_proba(df), rtol=1e-12)
    meta = nn.load_metadata(model_file)
    design = json.loads(meta["network"])["design"]
    assert design["levels"] == {"a": ["e", "n", "s"], "k": [1, 2, 3]}
    assert [f["transform"] for f in design["factors"]] == ["", "log", "", "C"]


def _set_formula(formula: str):
    def change(meta, body):
        meta["formula"] = formula
        body["design"]["formula"] = formula
    return change


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_injection_in_a_model_file_formula_is_refused(name, model_file, marker, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = _forge(model_file, tmp_path / "evil.safetensors",
                  _set_formula(_formula(INJECTIONS[name], marker)))
    with pytest.raises(ValueError) as info:
        load_network(evil)
    _one_line(str(info.value))
    assert str(evil) in str(info.value) and "formula" in str(info.value)


def _evil_column(meta, body):
    """Everything consistent, but the input column is named with code."""
    code = "__import__('os').system('touch pwned')"
    d = body["design"]
    d["variables"][0] = code
    d["factors"][0]["column"] = code
    d["columns"][0] = code
    d["formula"] = meta["formula"] = d["formula"].replace("y ~ x", f"y ~ `{code}`")


FORGERIES = {
    "formula-code": _set_formula("y ~ x + {__import__('os').system('touch pwned')}"),
    "formula-other-design": _set_formula("y ~ x + z"),
    "top-formula-differs": lambda m, b: m.update(formula="y ~ x"),
    "transform-eval": lambda m, b: b["design"]["factors"][1].update(transform="eval"),
    "transform-import": lambda m, b: b["design"]["factors"][1].update(transform="__import__"),
    "kind-pickle": lambda m, b: b["design"]["factors"][2].update(kind="pickle"),
    "activation-code": lambda m, b: (b["params"].update(activation="os.system"),
                                     b["architecture"].update(activation="os.system")),
    "lr-schedule-code": lambda m, b: b["params"].update(lr_schedule="__import__('os')"),
    "unknown-param": lambda m, b: b["params"].update(__class__="x"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_model_file_is_refused(name, model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = _forge(model_file, tmp_path / "evil.safetensors", FORGERIES[name])
    with pytest.raises(ValueError) as info:
        load_network(evil)
    _one_line(str(info.value))
    assert str(evil) in str(info.value)
    assert not (tmp_path / "pwned").exists()


def test_forged_column_names_are_only_looked_up(model_file, tmp_path, monkeypatch):
    """A consistent file whose input column is named with code loads (a name is data), and
    prediction says the data lack that column; nothing runs."""
    monkeypatch.chdir(tmp_path)
    evil = _forge(model_file, tmp_path / "evil.safetensors", _evil_column)
    net = load_network(evil)
    with pytest.raises(ValueError, match="lack column"):
        net.predict(_data())
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", ["formula-code", "transform-eval", "evil-column"])
def test_forged_model_file_refused_by_cli_predict(name, model_file, csv_file, tmp_path):
    change = _evil_column if name == "evil-column" else FORGERIES[name]
    evil = _forge(model_file, tmp_path / "evil.safetensors", change)
    result = _cli("predict", str(evil), str(csv_file), cwd=tmp_path)
    _assert_cli_refused(result)
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- damaged metadata
def _drop(path: list, key: str):
    def change(meta, body):
        target = body
        for p in path:
            target = target[p]
        del target[key]
    return change


def _put(path: list, key: str, value):
    def change(meta, body):
        target = body
        for p in path:
            target = target[p]
        target[key] = value
    return change


DAMAGED = {
    "missing-hidden": (_drop(["params"], "hidden"), "hidden"),
    "missing-task": (_drop([], "task"), "task"),
    "missing-params": (_drop([], "params"), "params"),
    "missing-design": (_drop([], "design"), "design"),
    "missing-architecture": (_drop([], "architecture"), "architecture"),
    "missing-classes": (_drop([], "classes"), "classes"),
    "missing-levels": (_drop(["design"], "levels"), "design.levels"),
    "hidden-text": (_put(["params"], "hidden", "3"), "hidden"),
    "hidden-float-list": (_put(["params"], "hidden", [3.5]), "hidden"),
    "hidden-differs": (_put(["params"], "hidden", 4), "architecture"),
    "task-number": (_put([], "task", 3), "task"),
    "task-unknown": (_put([], "task", "ranking"), "task"),
    "response-list": (_put([], "response", ["y"]), "response"),
    "classes-one": (_put([], "classes", ["big"]), "classes"),
    "classes-dict": (_put([], "classes", {"a": 1}), "classes"),
    "params-list": (_put([], "params", [1, 2]), "params"),
    "layers-empty": (_put(["architecture"], "layers", []), "layers"),
    "layers-text": (_put(["architecture"], "layers", "big"), "layers"),
    "layers-short": (_put(["architecture"], "layers", [[7, 3]]), "layers"),
    "layers-zero": (_put(["architecture"], "layers", [[0, 3, True], [3, 1, True]]), "layers"),
    "activation-unknown": (_put(["architecture"], "activation", "swish"), "activation"),
    "activation-number": (_put(["architecture"], "activation", 1), "activation"),
    "params-activation": (_put(["params"], "activation", "swish"), "activation"),
    "columns-number": (_put(["design"], "columns", 7), "design.columns"),
    "columns-renamed": (_put(["design"], "columns", ["q"] * 7), "design.columns"),
    "intercept-text": (_put(["design"], "intercept", "yes"), "design.intercept"),
    "levels-empty": (_put(["design", "levels"], "a", []), "design.levels.a"),
    "levels-twice": (_put(["design", "levels"], "a", ["e", "e", "s"]), "design.levels.a"),
    "levels-objects": (_put(["design", "levels"], "a", [{"x": 1}]), "design.levels.a"),
    "factors-text": (_put(["design"], "factors", "x"), "design.factors"),
    "blocks-index": (_put(["design"], "blocks", [[[99, True]]]), "design.blocks"),
    "degree-bool": (lambda m, b: b["design"]["factors"][0].update(degree=True),
                    "design.factors[0]"),
    "sd-zero": (lambda m, b: b["design"]["factors"][0].update(sd=0), "design.factors[0]"),
    "factor-extra-key": (lambda m, b: b["design"]["factors"][0].update(code="x"),
                         "design.factors[0]"),
    "design-list": (_put([], "design", []), "design"),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_model_metadata_names_file_and_key(name, model_file, tmp_path):
    change, key = DAMAGED[name]
    path = _forge(model_file, tmp_path / f"{name}.safetensors", change)
    with pytest.raises(ValueError) as info:
        load_network(path)
    message = str(info.value)
    _one_line(message)
    assert str(path) in message and key in message, message


@pytest.mark.parametrize("network", ["[]", "3", "null", "[" * 5000 + "]" * 5000, "{}"])
def test_damaged_network_json(model_file, tmp_path, network):
    def change(meta, body):
        meta["network"] = network
    path = tmp_path / "bad.safetensors"
    with safe_open(str(model_file), framework="np") as f:
        meta = dict(f.metadata())
    change(meta, None)
    save_file(load_file(str(model_file)), str(path), metadata=meta)
    with pytest.raises(ValueError) as info:
        load_network(path)
    assert str(path) in str(info.value)
    _one_line(str(info.value))


def test_nan_weights_are_refused(model_file, tmp_path):
    with safe_open(str(model_file), framework="np") as f:
        meta = dict(f.metadata())
    arrays = load_file(str(model_file))
    name = sorted(arrays)[0]
    arrays[name] = np.full_like(arrays[name], np.nan)
    path = tmp_path / "nan.safetensors"
    save_file(arrays, str(path), metadata=meta)
    with pytest.raises(ValueError, match=re.escape(name)):
        load_network(path)
