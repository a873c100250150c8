"""Rendering: SVG when Graphviz's `dot` is installed, a clear install hint when it is not,
DOT text without it, and `import microtensor` without the graphviz package at all."""

import os
import shutil
import subprocess
import sys

import pytest

import microtensor as mt

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def loss():
    x = mt.Tensor([1.0, 2.0], requires_grad=True, name="x")
    return (x * x).sigmoid().sum()


def test_draw_returns_a_graphviz_digraph():
    g = mt.viz.draw(loss())
    assert isinstance(g, graphviz.Digraph)
    assert g.source.startswith("digraph forward {")
    assert mt.viz.draw_backward(loss()).source.startswith("digraph backward {")


@needs_dot
def test_render_svg_when_dot_is_installed(tmp_path):
    g = mt.viz.draw(loss(), show_data=True)
    path = mt.viz.save(g, tmp_path / "graph.svg")
    svg = path.read_text()
    assert "<svg" in svg and "Sigmoid" in svg and "legend" in svg
    assert b"<svg" in mt.viz.draw_backward(loss(), show_grad=True).pipe(format="svg")
    assert g.render(tmp_path / "rendered", format="svg").endswith(".svg")
    assert "image/svg+xml" in g._repr_mimebundle_()  # shown inline in Jupyter


def test_render_without_dot_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    g = mt.viz.draw(loss())
    for attempt in (
        lambda: g.pipe(format="svg"),
        lambda: g.render(tmp_path / "g", format="png"),
        lambda: mt.viz.save(g, tmp_path / "g.svg"),
    ):
        with pytest.raises(mt.viz.DotNotFoundError, match="apt-get install graphviz") as err:
            attempt()
        assert "brew install graphviz" in str(err.value) and "conda" in str(err.value)
    assert not (tmp_path / "g.svg").exists()  # a failed render leaves no file behind
    dot = mt.viz.save(g, tmp_path / "g.dot")  # DOT text needs no Graphviz program
    assert dot.read_text() == g.source
    bundle = g._repr_mimebundle_()
    assert "digraph forward" in bundle["text/plain"] and "install" in bundle["text/plain"]


def test_import_microtensor_works_without_the_graphviz_package():
    code = (
        "import sys; sys.modules['graphviz'] = None\n"
        "import microtensor as mt\n"
        "x = mt.tensor([1.0], requires_grad=True)\n"
        "try:\n"
        "    mt.viz.draw((x * x).sum())\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "pip install graphviz" in out.stdout


def test_graph_tour_example_writes_pictures(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "graph_tour.py")
    out = subprocess.run(
        [sys.executable, script, "--out", str(tmp_path)], capture_output=True, text=True, check=True
    )
    suffix = ".svg" if shutil.which("dot") else ".dot"
    for stem in ("seed1_forward", "seed1_backward", "seed2_forward", "seed2_backward"):
        assert (tmp_path / f"{stem}{suffix}").stat().st_size > 0
    assert "explain(loss): backward pass through 7 ops to 2 leaves" in out.stdout


def test_dot_text_is_the_same_in_every_process():
    code = (
        "import sys; sys.path.insert(0, 'examples')\n"
        "import graph_tour, microtensor as mt\n"
        "loss, names = graph_tour.seed2(n=6)\n"
        "print(mt.viz.draw(loss, names=names, show_data=True).source)\n"
        "print(mt.viz.draw_backward(loss, names=names, show_grad=True).source)\n"
    )
    root = os.path.join(os.path.dirname(__file__), "..")
    texts = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=True,
        )
        texts.add(run.stdout)
    assert len(texts) == 1
