"""`microtensor demo`: both seed articles reproduced on built-in data, with pictures.

1. First article: the 2-layer sigmoid net on XOR, 1500 iterations of `w += d` (lr 1 on the
   sum of squares); its Predicted/Actual table and loss curve.
2. Second article: its own 200 hot dogs (two spirals) and its "random sample of five";
   logistic regression (R's glm, by IRLS) against hidden = 1, 5, 30 trained by autodiff from
   the article's own starting weights (learn_rate 1e-2 on the summed cross-entropy, 1e5
   iterations; --quick runs fewer); accuracies next to the article's and decision
   boundaries on its 0.25-spaced grid.
3. Second article's R6 class: iris, hidden 5, from the article's weights,
   `train(9999, trace=1000, learn_rate=1e-4)`: the article's nine trace lines.
4. The XOR net's forward and backward graphs, and the autodiff-vs-manual gradient table.

Everything lands in one folder with an index.html that shows it all.
"""

from __future__ import annotations

import contextlib
import html
import io
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import plots
from .files import staged_folder, write_text


def _say(text: str) -> None:
    print(text, flush=True)


def xor_run(iterations: int = 1500, seed: int = 0) -> tuple[Any, Any, list[float], Any]:
    """The first article with nn layers: returns (model, loss module output, losses, X/y)."""
    import microtensor as mt
    import nn

    X, y = nn.datasets.xor()
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Sigmoid(),
                          nn.Linear(4, 1, bias=False), nn.Sigmoid())
    start = np.random.default_rng(seed)  # the article's runif start, as nn.manual.train_xor
    model[0].weight.data[...] = start.uniform(size=(3, 4))
    model[2].weight.data[...] = start.uniform(size=(4, 1))
    loss_fn = nn.MSELoss(reduction="sum")
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    Xt, yt = mt.tensor(X), mt.tensor(y.reshape(-1, 1))
    losses = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses, Xt, yt


# The second article's results on its hot dogs: correct of 200 (it prints 68% for 137)
ARTICLE_CORRECT = {"logistic regression": 134, "hidden = 1": 137, "hidden = 5": 152,
                   "hidden = 30": 200}


def hotdog_sample() -> str:
    """The article's "random sample of five" rows of the hot dogs, as it prints them."""
    import nn

    df = nn.datasets.hotdogs()
    rows = df.iloc[list(nn.datasets.ARTICLE_SAMPLE)]
    lines = [f"{'x1':>6} {'x2':>6}  class"]
    lines += [f"{a:6.2f} {b:6.2f}  {c}" for a, b, c in rows.itertuples(index=False)]
    return "\n".join(lines)


def hotdog_runs(iterations: int = 100_000) -> tuple[Any, dict[str, Any]]:
    """The article's four models on its hot dogs: logistic regression (nn.manual's IRLS, as
    R's glm) and nn.NeuralNetwork with 1, 5 and 30 hidden units from the article's own
    starting weights, trained by autodiff at learn_rate 1e-2 (the article: 1e5 iterations).
    Returns the data and {title: (predict(grid) -> labels, correct of 200, line or None)}."""
    import nn
    from nn import manual

    from .commands import train_network

    df = nn.datasets.hotdogs()
    x = df[["x1", "x2"]].to_numpy()
    y = (df["class"] == "hot dog").to_numpy(dtype=float)
    classes = np.array(nn.datasets.HOTDOG_CLASSES, dtype=object)
    glm = manual.logistic_regression(x, y)

    def linear(grid: np.ndarray) -> np.ndarray:
        return classes[(manual.add_intercept(grid) @ glm.coef > 0).astype(int)]

    runs = {"logistic regression": (linear, int(np.sum((glm.fitted > 0.5) == (y > 0.5))),
                                    glm.boundary())}
    weights = nn.datasets.article_weights()
    for hidden in (1, 5, 30):
        title = f"hidden = {hidden}"
        net = nn.NeuralNetwork("`class` ~ x1 + x2", data=df, hidden=hidden,
                               init=[weights[f"w1_h{hidden}"], weights[f"w2_h{hidden}"]])
        train_network(net, iterations, 1e-2, 0.0, title)

        def predict(grid: np.ndarray, net: Any = net) -> np.ndarray:
            import pandas as pd

            return net.predict(pd.DataFrame(grid, columns=["x1", "x2"]))

        runs[title] = (predict, round(net.accuracy() * len(df)), None)
    return df, runs


def gradient_table() -> tuple[list[dict[str, Any]], str]:
    """Autodiff against the hand-derived gradients on the three seed networks."""
    from nn import study

    rows = study.seed_gradient_rows()
    return rows, study.format_table(rows)


# what the demo writes (the graphs as .svg, or as .dot without graphviz's `dot`)
DEMO_FILES = ("xor_loss.png", "hotdogs_boundaries.png", "iris_loss.png", "xor_forward.svg",
              "xor_backward.svg", "xor_forward.dot", "xor_backward.dot", "explore.html",
              "gradients.txt", "index.html")


def run_demo(out: Path, quick: bool = False) -> int:
    """Run everything, write pictures and index.html into `out`, print where they went.

    The files are written into a staging folder and moved into `out` only when all of them
    are complete (index.html last), so a failure half way leaves `out` as it was."""
    with staged_folder(out, "--out", owned=DEMO_FILES, last="index.html") as stage:
        count = _write_demo(stage, quick)
    _say(f"\nwrote {count} files into {out}/; open {out / 'index.html'}")
    return 0


def _write_demo(out: Path, quick: bool) -> int:
    """The demo's work, writing into `out`; returns the number of files written."""
    import microtensor as mt
    import nn

    started = time.perf_counter()
    sections: list[tuple[str, str, list[Path]]] = []

    _say("== First article: a 2-layer sigmoid network learns XOR (1500 iterations)")
    model, losses, Xt, yt = xor_run()
    with mt.no_grad():
        pred = model(Xt).numpy().ravel()
    table = "  Predicted Actual\n" + "\n".join(
        f"{i + 1} {p:9.3f} {a:6.0f}" for i, (p, a) in enumerate(zip(pred, yt.numpy().ravel())))
    _say(table)
    curve = plots.loss_curves(out / "xor_loss.png", {"sum of squares": losses},
                              "XOR: loss falls toward zero", ylabel="loss")
    sections.append(("First article: XOR", table, [curve]))

    iterations = 2_000 if quick else 100_000
    _say("\n== Second article: its hot dogs (two spirals); a random sample of five:")
    sample = hotdog_sample()
    _say(sample)
    _say(f"   logistic regression, then hidden = 1, 5, 30 from the article's weights, "
         f"{iterations:,} iterations each (the article: 100,000)")
    df, runs = hotdog_runs(iterations)
    lines = [f"{title:<22} {n} of 200 correct ({n / 200:.1%}; article: {ARTICLE_CORRECT[title]})"
             for title, (_, n, _) in runs.items()]
    _say("\n".join(lines))
    X = df[["x1", "x2"]].to_numpy(dtype=float)
    steps = "" if iterations == 100_000 else f" after {iterations:,} steps"
    boundary = plots.decision_boundaries(
        out / "hotdogs_boundaries.png", X, df["class"].astype(str),
        [(f"{t}: {n / 200:.1%} correct{'' if line else steps} "
          f"(article: {ARTICLE_CORRECT[t] / 200:.0%})", p, line)
         for t, (p, n, line) in runs.items()],
        classes=list(nn.datasets.HOTDOG_CLASSES))
    sections.append(("Second article: hot dogs", sample + "\n\n" + "\n".join(lines),
                     [boundary]))

    # the whole run even with --quick: 9999 steps of a 150 x 5 network take seconds
    _say("\n== Second article's R6 class on iris, from the article's weights: "
         "train(9999, trace=1000, learn_rate=1e-4)")
    start = nn.datasets.article_weights()
    iris_net = nn.NeuralNetwork("Species ~ .", data=nn.datasets.iris(), hidden=5,
                                init=[start["iris_W1"], start["iris_W2"]])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        iris_net.train(9999, learn_rate=1e-4, trace=1000)
    trace = printed.getvalue().rstrip("\n")
    _say(trace)
    iris_curve = plots.loss_curves(out / "iris_loss.png",
                                   {"negative log-likelihood": iris_net.loss_history_},
                                   "iris: summed cross-entropy", ylabel="loss")
    sections.append(("R6 class: iris", trace, [iris_curve]))

    _say("\n== Graphs of the XOR network")
    pictures = _graphs(model, Xt, yt, out)
    sections.append(("Computation graphs (XOR network)", pictures[0], pictures[1]))

    _say("\n== Autodiff against the articles' hand-derived backprop")
    _, grad_text = gradient_table()
    _say(grad_text)
    write_text(out / "gradients.txt", grad_text + "\n")
    sections.append(("Autodiff vs manual backprop", grad_text, []))

    _index_html(out, sections, time.perf_counter() - started)
    return len(list(out.iterdir()))


def _graphs(model: Any, Xt: Any, yt: Any, out: Path) -> tuple[str, list[Path]]:
    import microtensor as mt
    import nn

    loss = nn.MSELoss(reduction="sum")(model(Xt), yt)
    loss.name = "loss"
    fwd = mt.viz.draw(loss, show_data=True, names={"X": Xt, "y": yt}, title="XOR net: forward")
    bwd = mt.viz.draw_backward(loss, show_grad=True, title="XOR net: gradient flow")
    files = []
    if shutil.which("dot"):
        for name, g in (("xor_forward", fwd), ("xor_backward", bwd)):
            path = out / f"{name}.svg"
            path.write_bytes(g.pipe(format="svg"))
            files.append(path)
        note = "rendered with graphviz's dot"
    else:
        for name, g in (("xor_forward", fwd), ("xor_backward", bwd)):
            files.append(write_text(out / f"{name}.dot", g.source))
        note = ("graphviz's `dot` is not installed, so the graphs are DOT text "
                "(apt-get install graphviz to render them)")
        print(note, file=sys.stderr)
    page = mt.viz.explore(loss, model=model, inputs={"X": Xt, "y": yt},
                          title="XOR net: the backward pass, step by step")
    files.append(write_text(out / "explore.html", page.html))
    return note, files


def _index_html(out: Path, sections: list[tuple[str, str, list[Path]]], seconds: float) -> Path:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>microtensor demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "pre{background:#f5f5f5;padding:.8em;overflow:auto}img{max-width:100%;"
        "border:1px solid #ddd;margin:.5em 0}h2{border-bottom:1px solid #ccc}</style>",
        "</head><body><h1>microtensor demo</h1>",
        f"<p>Both seed articles reproduced with microtensor in {seconds:.0f} s.</p>",
    ]
    for title, text, files in sections:
        parts.append(f"<h2>{html.escape(title)}</h2><pre>{html.escape(text)}</pre>")
        for f in files:
            if f.suffix in (".png", ".svg"):
                parts.append(f"<img src='{html.escape(f.name)}' alt='{html.escape(f.stem)}'>")
            else:
                parts.append(f"<p><a href='{html.escape(f.name)}'>{html.escape(f.name)}</a></p>")
    parts.append("</body></html>")
    return write_text(out / "index.html", "\n".join(parts))


__all__ = ["ARTICLE_CORRECT", "gradient_table", "hotdog_runs", "hotdog_sample", "run_demo",
           "xor_run"]
