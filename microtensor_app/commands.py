"""What each `microtensor` subcommand does (argument parsing is in microtensor_app/cli.py)."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .data import UsageError, check_table, load_table, resolve_formula
from .files import atomic_path, write_text


def run(args: argparse.Namespace) -> int:
    """Dispatch to the subcommand."""
    return {
        "demo": cmd_demo,
        "train": cmd_train,
        "predict": cmd_predict,
        "graph": cmd_graph,
        "check": cmd_check,
        "bench": cmd_bench,
    }[args.command](args)


# ------------------------------------------------------------------------------ train
def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", mininterval=0.25, file=sys.stderr,
                dynamic_ncols=True, leave=True)


def train_network(net: Any, iterations: int, lr: float, tolerance: float, desc: str) -> Any:
    """Train `net` with a progress bar showing the live loss (and, every 500 iterations, the
    training accuracy)."""
    bar = _progress(iterations, desc)
    post: dict[str, str] = {}

    def report(i: int, loss: float) -> None:
        bar.update(1)
        if i % 500 == 0 and net.task_ == "classification":
            post["acc"] = f"{net.accuracy():.3f}"
        if i % 50 == 0 or i == iterations:
            post["loss"] = f"{loss:.4g}"
            bar.set_postfix(post, refresh=False)

    try:
        # divergence is caught by the estimator (non-finite loss or weights): NumPy's own
        # overflow warnings would only add noise before that one clear error
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            net.train(iterations, learn_rate=lr, tolerance=tolerance, trace=0,
                      callback=report)
    finally:
        bar.close()
    return net


def _metrics(net: Any, df: Any) -> dict[str, float]:
    """Loss per row and accuracy (or R2) of `net` on a DataFrame holding the response."""
    from nn.estimator import label_ids

    if net.task_ == "classification":
        probs = net.predict_proba(df)
        ids = label_ids(df[net.response_], net.classes_, net.response_)
        p = np.clip(probs[np.arange(len(ids)), ids], 1e-300, 1)
        return {"loss_per_row": float(-np.log(p).mean()),
                "accuracy": float(np.mean(np.argmax(probs, axis=1) == ids))}
    pred = net.predict(df)
    y = df[net.response_].to_numpy(dtype=float)
    return {"loss_per_row": float(np.mean((pred - y) ** 2)), "r2": float(net.score(df))}


def cmd_train(args: argparse.Namespace) -> int:
    """`microtensor train`: fit, report, save model + pictures."""
    import nn
    from nn.estimator_io import save_network

    from . import plots

    df, label = load_table(args.data)
    check_table(df, label)
    formula = resolve_formula(df, args.formula, args.target, label)
    train_df, val_df = df, None
    if args.val_split:
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(df))
        n_val = int(round(len(df) * args.val_split))
        if n_val < 1 or n_val >= len(df):
            raise UsageError(f"--val-split {args.val_split} leaves no rows for one side "
                             f"({len(df)} rows)")
        val_df = df.iloc[order[:n_val]].reset_index(drop=True)
        train_df = df.iloc[order[n_val:]].reset_index(drop=True)
    lr = args.lr if args.lr is not None else 1e-2
    try:
        net = nn.NeuralNetwork(formula, data=train_df, hidden=args.hidden,
                               activation=args.activation, optimizer=args.optimizer,
                               random_state=args.seed, init="xavier")
    except (ValueError, TypeError) as e:
        raise UsageError(f"{label}: {e}") from None
    print(f"training {net!r} on {label}: {formula}  ({len(train_df)} rows"
          + (f", {len(val_df)} held out" if val_df is not None else "") + ")", file=sys.stderr)
    try:
        train_network(net, args.iterations, lr, args.tolerance, "train")
    except FloatingPointError as e:
        raise UsageError(str(e)) from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"data": label, "formula": formula, "rows": len(train_df),
                              "iterations": len(net.loss_history_),
                              "train": _metrics(net, train_df)}
    if val_df is not None:
        report["validation"] = _metrics(net, val_df)
    model_path = out / "model.safetensors"
    save_network(net, model_path, extra={"trained_on": label})
    written = [model_path]
    written.append(plots.loss_curves(out / "loss.png", {"training loss": net.loss_history_},
                                     f"{label}: {formula}", ylabel="summed loss",
                                     logy=min(net.loss_history_) > 0))
    variables = net.design_.variables
    if net.task_ == "classification" and len(variables) == 2 and all(
        np.issubdtype(df[v].dtype, np.number) for v in variables
    ):
        def predict(grid: np.ndarray) -> Any:
            import pandas as pd

            return net.predict(pd.DataFrame(grid, columns=variables))

        written.append(plots.decision_boundaries(
            out / "boundary.png", df[variables].to_numpy(dtype=float), df[net.response_],
            [(f"hidden {args.hidden or 'none'}", predict)], axis_names=tuple(variables)))
    written.append(write_text(out / "report.json", json.dumps(report, indent=2) + "\n"))
    _print_report(report)
    print("wrote:", *[f"  {p}" for p in written], sep="\n")
    return 0


def _print_report(report: dict[str, Any]) -> None:
    print(f"{'':12}{'loss/row':>12}{'accuracy' if 'accuracy' in report['train'] else 'R2':>12}")
    for part in ("train", "validation"):
        if part in report:
            m = report[part]
            score = m.get("accuracy", m.get("r2"))
            print(f"{part:<12}{m['loss_per_row']:>12.5f}{score:>12.4f}")


# ------------------------------------------------------------------------------ predict / graph
def _load_model(path: str) -> Any:
    from nn.estimator_io import load_network

    if not Path(path).exists():
        raise UsageError(f"{path}: no such model file")
    try:
        return load_network(path)
    except (ValueError, OSError) as e:
        raise UsageError(str(e).replace("load: ", "")) from None


def cmd_predict(args: argparse.Namespace) -> int:
    """`microtensor predict`: a CSV of predictions (or probabilities)."""
    import pandas as pd

    net = _load_model(args.model)
    df, label = load_table(args.data)
    check_table(df, label)
    try:
        if args.proba:
            if net.task_ != "classification":
                raise UsageError("--proba is for classifiers; this model is a regression")
            values = net.predict_proba(df)
            result = pd.DataFrame(values, columns=[f"p({c})" for c in net.classes_])
        else:
            result = pd.DataFrame({f"predicted {net.response_}": net.predict(df)})
    except (ValueError, TypeError) as e:
        raise UsageError(f"{label} does not fit the model {args.model}: {e}") from None
    if args.output:
        with atomic_path(args.output) as tmp:
            result.to_csv(tmp, index=False)
        print(f"wrote {len(result)} predictions to {args.output}", file=sys.stderr)
    else:
        buf = io.StringIO()
        result.to_csv(buf, index=False)
        sys.stdout.write(buf.getvalue())
    return 0


def model_loss_graph(net: Any, backward: bool) -> Any:
    """A picture of `net`'s loss on one row of zeros (inputs named x, target y)."""
    import microtensor as mt

    x = mt.Tensor(np.zeros((1, net.n_features_in_)), name="x")
    out = net.model_(x)
    target = np.zeros((1, 1)) if out.shape[1] == 1 else np.zeros(1, dtype=np.int64)
    loss = net._loss(out, target)
    loss.name = "loss"
    if backward:
        return mt.viz.draw_backward(loss, show_grad=True, title="gradient flow (one row)")
    return mt.viz.draw(loss, title="forward graph (one row)")


def cmd_graph(args: argparse.Namespace) -> int:
    """`microtensor graph`: the model's forward or backward graph, to SVG/PNG/PDF or DOT."""
    net = _load_model(args.model)
    graph = model_loss_graph(net, args.backward)
    have_dot = shutil.which("dot") is not None
    target = Path(args.out) if args.out else Path(args.model).with_suffix(
        (".backward" if args.backward else "") + (".svg" if have_dot else ".dot"))
    fmt = target.suffix.lstrip(".").lower()
    if fmt in ("dot", "gv"):
        write_text(target, graph.source)
    elif fmt in ("svg", "png", "pdf"):
        if not have_dot:
            raise UsageError(f"{target}: rendering {fmt.upper()} needs graphviz's `dot` "
                             "(apt-get install graphviz, brew install graphviz); or use .dot")
        with atomic_path(target) as tmp:
            tmp.write_bytes(graph.pipe(format=fmt))
    else:
        raise UsageError(f"{target}: unknown picture format {target.suffix!r} "
                         "(use .svg, .png, .pdf or .dot)")
    if not args.out and not have_dot:
        print("graphviz's `dot` is not installed: wrote DOT text (apt-get install graphviz to "
              "render it)", file=sys.stderr)
    print(f"wrote {target}")
    return 0


# ------------------------------------------------------------------------------ check / bench
def cmd_check(args: argparse.Namespace) -> int:
    """`microtensor check`: autodiff vs the hand-derived gradients; exit 1 past 1e-8."""
    from .demo import gradient_table

    rows, text = gradient_table()
    print(text)
    worst = max(r["max_abs_diff"] for r in rows)
    print(f"\nlargest difference {worst:.3g} ({'ok' if worst <= 1e-8 else 'FAILED'}: limit 1e-8)")
    return 0 if worst <= 1e-8 else 1


def cmd_bench(args: argparse.Namespace) -> int:
    """`microtensor bench`: benchmarks/run.py, when run from a source checkout."""
    root = Path.cwd()
    if not (root / "benchmarks" / "run.py").exists():
        raise UsageError("the benchmarks live in the source checkout: run this from the "
                         "repository root (benchmarks/run.py not found here)")
    sys.path.insert(0, os.fspath(root))
    from benchmarks.run import main as bench_main

    return bench_main(["--quick"] if args.quick else [])


def cmd_demo(args: argparse.Namespace) -> int:
    """`microtensor demo`: see microtensor_app/demo.py."""
    from .demo import run_demo

    return run_demo(Path(args.out), quick=args.quick)
