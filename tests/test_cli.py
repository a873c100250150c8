"""The `microtensor` command end to end, in subprocesses and temporary folders."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ENV = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}


def run(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python -m microtensor ARGS` and capture everything."""
    return subprocess.run([sys.executable, "-m", "microtensor", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout, check=False)


def assert_user_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, exactly one line on stderr starting with 'microtensor: error:', no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("microtensor: error:"), lines[0]
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def blobs_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two numeric columns and a text label that a small network can learn."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, size=(80, 2))
    label = np.where(x[:, 0] * x[:, 1] > 0, "same", "opposite")
    path = tmp_path_factory.mktemp("data") / "blobs.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": label}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, blobs_csv: Path) -> Path:
    out = tmp_path_factory.mktemp("model")
    result = run("train", str(blobs_csv), "--hidden", "8", "--iterations", "400",
                 "--optimizer", "adam", "--lr", "0.05", "--val-split", "0.25", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_cli_version_and_help() -> None:
    result = run("--version")
    assert result.returncode == 0 and re.match(r"microtensor \d+\.\d+", result.stdout)
    for cmd in ("demo", "train", "predict", "graph", "check", "bench"):
        result = run(cmd, "--help")
        assert result.returncode == 0, (cmd, result.stderr)
        assert "usage: microtensor " + cmd in result.stdout


def test_cli_train_writes_model_curve_boundary_and_report(trained: Path) -> None:
    for name in ("model.safetensors", "loss.png", "boundary.png", "report.json"):
        assert (trained / name).stat().st_size > 0, name
    report = json.loads((trained / "report.json").read_text())
    assert report["formula"] == "label ~ ."
    assert report["rows"] == 60
    assert 0.0 <= report["validation"]["accuracy"] <= 1.0
    assert report["train"]["accuracy"] > 0.8


def test_cli_model_metadata_is_self_contained(trained: Path) -> None:
    import nn

    meta = nn.load_metadata(trained / "model.safetensors")
    assert meta["format"] == "microtensor.NeuralNetwork"
    assert meta["formula"] == "label ~ ."
    assert json.loads(meta["classes"]) == ["opposite", "same"]
    arch = json.loads(meta["architecture"])
    assert arch["hidden"] == [8] and arch["layers"][0][:2] == [2, 8]


def test_cli_predict_round_trip(trained: Path, blobs_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "pred.csv"
    result = run("predict", str(trained / "model.safetensors"), str(blobs_csv),
                 "--output", str(out))
    assert result.returncode == 0, result.stderr
    pred = pd.read_csv(out)
    truth = pd.read_csv(blobs_csv)
    assert list(pred.columns) == ["predicted label"]
    assert len(pred) == len(truth)
    assert (pred["predicted label"] == truth["label"]).mean() > 0.8
    proba = run("predict", str(trained / "model.safetensors"), str(blobs_csv), "--proba")
    assert proba.returncode == 0, proba.stderr
    table = pd.read_csv(__import__("io").StringIO(proba.stdout))
    assert list(table.columns) == ["p(opposite)", "p(same)"]
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-9)


def test_cli_graph_svg_and_dot(trained: Path, tmp_path: Path) -> None:
    dot_file = tmp_path / "g.dot"
    result = run("graph", str(trained / "model.safetensors"), "--out", str(dot_file))
    assert result.returncode == 0, result.stderr
    text = dot_file.read_text()
    assert text.startswith("digraph") and "<B>Linear</B>" in text and "0.weight" in text
    back = tmp_path / "b.dot"
    assert run("graph", str(trained / "model.safetensors"), "--backward",
               "--out", str(back)).returncode == 0
    assert "Backward" in back.read_text()
    if shutil.which("dot"):
        svg = tmp_path / "g.svg"
        assert run("graph", str(trained / "model.safetensors"), "--out", str(svg)).returncode == 0
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_cli_check_passes() -> None:
    result = run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "largest difference" in result.stdout


# ------------------------------------------------------------------------------ user errors
def test_cli_error_missing_file(tmp_path: Path) -> None:
    assert_user_error(run("train", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")),
                      "nope.csv", "no such file")
    assert not (tmp_path / "o").exists()


def test_cli_error_empty_and_unreadable_csv(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_user_error(run("train", str(empty), "--out", str(tmp_path / "o")), "empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,y\n")
    assert_user_error(run("train", str(header_only), "--out", str(tmp_path / "o")), "no data")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 20)
    assert_user_error(run("train", str(binary), "--out", str(tmp_path / "o")), "binary.csv")
    assert not (tmp_path / "o").exists()


def test_cli_error_missing_column_and_text_in_numbers(tmp_path: Path, blobs_csv: Path) -> None:
    assert_user_error(run("train", str(blobs_csv), "--target", "nope",
                          "--out", str(tmp_path / "o")), "nope")
    assert_user_error(run("train", str(blobs_csv), "--formula", "label ~ a + zzz",
                          "--out", str(tmp_path / "o")), "zzz")
    df = pd.read_csv(blobs_csv)
    df["a"] = df["a"].astype(object)
    df.loc[3, "a"] = "abc"
    bad = tmp_path / "text.csv"
    df.to_csv(bad, index=False)
    assert_user_error(run("train", str(bad), "--out", str(tmp_path / "o")), "'a'", "abc")
    assert not (tmp_path / "o").exists()


def test_cli_error_not_a_model(tmp_path: Path, blobs_csv: Path) -> None:
    text = tmp_path / "model.safetensors"
    text.write_text("hello, I am not a model")
    assert_user_error(run("predict", str(text), str(blobs_csv)), "model.safetensors")
    import nn

    foreign = tmp_path / "weights.safetensors"
    nn.save({"w": np.zeros(3)}, foreign)
    assert_user_error(run("predict", str(foreign), str(blobs_csv)), "not a microtensor model")
    assert_user_error(run("graph", str(tmp_path / "missing.safetensors")), "no such model")


def test_cli_error_columns_do_not_match_model(trained: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}).to_csv(other, index=False)
    target = tmp_path / "pred.csv"
    target.write_text("keep me\n")
    assert_user_error(run("predict", str(trained / "model.safetensors"), str(other),
                          "--output", str(target)), "other.csv")
    assert target.read_text() == "keep me\n"  # the old file is untouched


def test_cli_error_bad_arguments_exit_2() -> None:
    result = run("train", "xor", "--iterations", "-3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert_user_error(result, "--iterations")
    result = run("train", "xor", "--hidden", "a,b")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert_user_error(result, "--hidden")


# ------------------------------------------------------------------------------ demo
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = run("demo", "--quick", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Predicted" in result.stdout and "index.html" in result.stdout
    return out


@pytest.mark.slow
def test_cli_demo_index_references_existing_files(demo_dir: Path) -> None:
    html = (demo_dir / "index.html").read_text()
    refs = re.findall(r"(?:src|href)='([^']+)'", html)
    assert len(refs) >= 4
    for ref in refs:
        assert (demo_dir / ref).stat().st_size > 0, ref
    for name in ("xor_loss.png", "hotdogs_boundaries.png", "iris_loss.png"):
        assert name in refs


@pytest.mark.slow
def test_cli_demo_page_images_load_in_a_real_browser(demo_dir: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it)")
    page = demo_dir / "check_images.html"
    html = (demo_dir / "index.html").read_text()
    probe = ("<script>window.addEventListener('load', () => { const r = [...document.images]"
             ".map(i => i.getAttribute('src') + '=' + i.naturalWidth).join(';');"
             " const p = document.createElement('pre'); p.id = 'probe'; p.textContent = r;"
             " document.body.appendChild(p); });</script></body>")
    page.write_text(html.replace("</body>", probe))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="probe">([^<]*)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    widths = dict(item.rsplit("=", 1) for item in found.group(1).split(";") if item)
    assert len(widths) >= 3
    for src, width in widths.items():
        assert int(width) > 0, f"{src} did not load"


def test_cli_graph_html_writes_the_explorer(trained: Path, tmp_path: Path) -> None:
    page = tmp_path / "net.html"
    result = run("graph", str(trained / "model.safetensors"), "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "default-src 'none'" in text
    assert '"label":"0.weight"' in text and '"label":"x"' in text


def test_cli_graph_code_prints_the_compiled_backprop(trained: Path) -> None:
    """`graph MODEL --code`: mt.compile's NumPy backprop of one step, named after the layers."""
    result = run("graph", str(trained / "model.safetensors"), "--code")
    assert result.returncode == 0, result.stderr
    src = result.stdout
    assert src.startswith("import numpy as np") and "\ndef step(" in src
    assert "d_layer0_weight = dot(" in src and "return " in src
    compile(src, "<graph --code>", "exec")  # valid Python
