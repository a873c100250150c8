"""`microtensor demo`: both seed articles reproduced on built-in data, with pictures.

1. First article: the 2-layer sigmoid net on XOR, 1500 iterations of `w += d` (lr 1 on the
   sum of squares); its Predicted/Actual table and loss curve.
2. Second article: logistic regression against hidden = 1, 5, 30 on the 200 hot dogs (randn
   weights, learn_rate 1e-2 on the summed cross-entropy); accuracies and decision boundaries
   on a 0.25-spaced grid.
3. Second article's R6 class: iris, hidden 5, `train(9999, trace=1000, learn_rate=1e-4)`.
4. The XOR net's forward and backward graphs, and the autodiff-vs-manual gradient table.

Everything lands in one folder with an index.html that shows it all.
"""

from __future__ import annotations

import html
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import plots
from .files import write_text


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


def hotdog_runs(iterations: int, seed: int = 1) -> tuple[Any, dict[str, Any]]:
    """Logistic regression and hidden = 1, 5, 30 on the hot dogs, the article's recipe
    (randn weights, learn_rate 1e-2 on the summed cross-entropy). The logistic regression
    takes 5e-4: at 1e-2 plain gradient descent oscillates on inputs this large, where R's glm
    uses Newton's method."""
    import nn

    from .commands import train_network

    df = nn.datasets.hotdogs()
    nets = {}
    for hidden in ((), 1, 5, 30):
        if hidden == ():
            title = "logistic regression"
            net = nn.NeuralNetwork("`class` ~ x1 + x2", data=df, hidden=(), random_state=seed)
            train_network(net, min(iterations, 2000), 5e-4, 0.0, title)
        else:
            title = f"hidden = {hidden}"
            net = nn.NeuralNetwork("`class` ~ x1 + x2", data=df, hidden=hidden, init="randn",
                                   random_state=seed)
            train_network(net, iterations, 1e-2, 0.0, title)
        nets[title] = net
    return df, nets


def gradient_table() -> tuple[list[dict[str, Any]], str]:
    """Autodiff against the hand-derived gradients on the three seed networks."""
    from nn import study

    rows = study.seed_gradient_rows()
    return rows, study.format_table(rows)


def run_demo(out: Path, quick: bool = False) -> int:
    """Run everything, write pictures and index.html into `out`, print where they went."""
    import microtensor as mt
    import nn

    out.mkdir(parents=True, exist_ok=True)
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

    iterations = 1_000 if quick else 5_000
    _say(f"\n== Second article: hot dogs, {iterations:,} iterations each")
    df, nets = hotdog_runs(iterations)
    lines = [f"{title:<22} accuracy {net.accuracy():.0%}" for title, net in nets.items()]
    _say("\n".join(lines))
    X = df[["x1", "x2"]].to_numpy(dtype=float)

    def predictor(net: Any) -> Any:
        import pandas as pd

        return lambda grid: net.predict(pd.DataFrame(grid, columns=["x1", "x2"]))

    boundary = plots.decision_boundaries(
        out / "hotdogs_boundaries.png", X, df["class"].astype(str),
        [(f"{t} ({n.accuracy():.0%})", predictor(n)) for t, n in nets.items()])
    sections.append(("Second article: hot dogs", "\n".join(lines), [boundary]))

    iris_iters = 999 if quick else 9999
    _say(f"\n== Second article's R6 class on iris: train({iris_iters}, trace=1000, "
         "learn_rate=1e-4)")
    buf_lines: list[str] = []
    iris_net = nn.NeuralNetwork("Species ~ .", data=nn.datasets.iris(), hidden=5,
                                random_state=2)
    iris_net.train(iris_iters, learn_rate=1e-4, trace=0,
                   callback=lambda i, loss: buf_lines.append(
                       f"Iteration {i}\tLoss {loss:.6g}\tAccuracy {iris_net.accuracy():.4g}")
                   if i % 1000 == 0 else None)
    trace = "\n".join(buf_lines)
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

    index = _index_html(out, sections, time.perf_counter() - started)
    _say(f"\nwrote {len(list(out.iterdir()))} files into {out}/; open {index}")
    return 0


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


__all__ = ["gradient_table", "hotdog_runs", "run_demo", "xor_run"]
