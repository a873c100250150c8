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

from .data import (
    UsageError,
    check_size,
    check_start,
    check_table,
    load_table,
    require,
    resolve_formula,
    split_rows,
)
from .files import (
    atomic_path,
    check_output_file,
    check_output_folder,
    staged_folder,
    write_text,
)


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
    """A tqdm progress bar on stderr."""
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


_R2_UNDEFINED = ("undefined: R2 divides by the variance of the target, which is zero in these "
                 "rows (one row, or all targets equal)")


def _metrics(net: Any, df: Any) -> dict[str, Any]:
    """Loss per row and accuracy (or R2) of `net` on a DataFrame holding the response. A
    metric that is undefined on these rows is None, with a `notes` entry saying why."""
    from nn.estimator import label_ids

    if net.task_ == "classification":
        probs = net.predict_proba(df)
        ids = label_ids(df[net.response_], net.classes_, net.response_)
        p = np.clip(probs[np.arange(len(ids)), ids], 1e-300, 1)
        metrics: dict[str, Any] = {"loss_per_row": float(-np.log(p).mean()),
                                   "accuracy": float(np.mean(np.argmax(probs, axis=1) == ids))}
    else:
        pred = net.predict(df)
        y = df[net.response_].to_numpy(dtype=float)
        metrics = {"loss_per_row": float(np.mean((pred - y) ** 2)), "r2": float(net.score(df))}
    notes = {}
    for name, value in metrics.items():
        if not np.isfinite(value):
            metrics[name] = None
            notes[name] = (_R2_UNDEFINED if name == "r2" else
                           f"undefined: the value is {value} (the predictions overflow)")
    if notes:
        metrics["notes"] = notes
    return metrics


def _network(formula: str, df: Any, label: str, args: argparse.Namespace,
             hidden: tuple[int, ...], task: str = "auto") -> Any:
    """A NeuralNetwork set up on `df`; a problem with the data or formula is a UsageError."""
    import nn

    try:
        return nn.NeuralNetwork(formula, data=df, hidden=hidden, activation=args.activation,
                                optimizer=args.optimizer, task=task, random_state=args.seed,
                                init="xavier")
    except (ValueError, TypeError) as e:
        raise UsageError(f"{label}: {e}") from None


def _check_validation(net: Any, val_df: Any, label: str) -> None:
    """Before training: the validation rows can be scored by a network set up on the
    training rows (their classes and categorical values were all seen in training)."""
    try:
        with np.errstate(all="ignore"):
            _metrics(net, val_df)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{label}: the validation rows (--val-split) cannot be scored by a "
                         f"network trained on the other rows: {e}") from None


_TRAIN_OUTPUTS = ("model.safetensors", "loss.png", "boundary.png", "report.json")


def cmd_train(args: argparse.Namespace) -> int:
    """`microtensor train`: fit, report, save model + pictures.

    Everything the user gave is checked before training (arguments, output folder, data,
    formula, the split); the outputs are written into a temporary folder that replaces the
    old contents of --out only once all of them are complete.
    """
    require("train", "pandas", "matplotlib", "tqdm")
    import pandas as pd

    from nn.estimator_io import save_network

    from . import plots

    out = Path(args.out)
    check_output_folder(out, "--out")
    df, label = load_table(args.data)
    df = check_table(df, label)
    formula = resolve_formula(df, args.formula, args.target, label)
    probe = _network(formula, df, label, args, hidden=())  # task, classes, inputs: all rows
    check_size(probe, args.hidden)
    train_df, val_df, single = split_rows(df, probe, args.val_split, args.seed, label)
    net = _network(formula, train_df, label, args, hidden=args.hidden, task=probe.task_)
    if val_df is not None:
        _check_validation(net, val_df, label)
    check_start(net, train_df, label)
    if single:
        print(f"microtensor: warning: {label}: class(es) {', '.join(map(repr, single))} of "
              f"{net.response_!r} have a single row; kept for training, not validated",
              file=sys.stderr)
    lr = args.lr if args.lr is not None else 1e-2
    with staged_folder(out, "--out", owned=_TRAIN_OUTPUTS, last="report.json") as stage:
        print(f"training {net!r} on {label}: {formula}  ({len(train_df)} rows"
              + (f", {len(val_df)} held out" if val_df is not None else "") + ")",
              file=sys.stderr)
        try:
            train_network(net, args.iterations, lr, args.tolerance, "train")
        except FloatingPointError as e:
            raise UsageError(str(e)) from None
        report: dict[str, Any] = {"data": label, "formula": formula, "rows": len(train_df),
                                  "iterations": len(net.loss_history_),
                                  "train": _metrics(net, train_df)}
        if val_df is not None:
            report["validation_rows"] = len(val_df)
            report["validation"] = _metrics(net, val_df)
        try:
            save_network(net, stage / "model.safetensors", extra={"trained_on": label})
        except (ValueError, TypeError) as e:
            raise UsageError(f"cannot save the model: {e}") from None
        written = [stage / "model.safetensors"]
        written.append(plots.loss_curves(stage / "loss.png",
                                         {"training loss": net.loss_history_},
                                         f"{label}: {formula}", ylabel="summed loss",
                                         logy=min(net.loss_history_) > 0))
        variables = list(net.design_.variables)
        if net.task_ == "classification" and len(variables) == 2 and all(
            pd.api.types.is_numeric_dtype(df[v]) for v in variables
        ):
            def predict(grid: np.ndarray) -> Any:
                return net.predict(pd.DataFrame(grid, columns=variables))

            written.append(plots.decision_boundaries(
                stage / "boundary.png", df[variables].to_numpy(dtype=float), df[net.response_],
                [(f"hidden {args.hidden or 'none'}", predict)], axis_names=tuple(variables)))
        written.append(write_text(stage / "report.json", report_json(report)))
    _print_report(report)
    print("wrote:", *[f"  {out / Path(p).name}" for p in written], sep="\n")
    return 0


def report_json(report: dict[str, Any]) -> str:
    """The report as strict JSON (no NaN or Infinity: a metric that is undefined is null,
    and the metric's `notes` say why)."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


def _print_report(report: dict[str, Any]) -> None:
    print(f"{'':12}{'loss/row':>12}{'accuracy' if 'accuracy' in report['train'] else 'R2':>12}")
    for part in ("train", "validation"):
        if part in report:
            m = report[part]
            loss, score = m["loss_per_row"], m.get("accuracy", m.get("r2"))
            loss_text = "n/a" if loss is None else f"{loss:.5f}"
            score_text = "n/a" if score is None else f"{score:.4f}"
            print(f"{part:<12}{loss_text:>12}{score_text:>12}")
            for name, why in m.get("notes", {}).items():
                print(f"{'':12}{name}: {why}")


# ------------------------------------------------------------------------------ predict / graph
def _load_model(path: str) -> Any:
    """A NeuralNetwork from a model file; any problem with the file is a UsageError naming
    it, and so are weights that are not all finite (a damaged file or a diverged run would
    give meaningless predictions)."""
    from nn.estimator_io import load_network

    file = Path(path)
    if not file.exists():
        raise UsageError(f"{path}: no such model file")
    if file.is_dir():
        raise UsageError(f"{path}: is a folder, not a model file")
    try:
        net = load_network(path)
    except (ValueError, TypeError) as e:
        message = str(e).replace("load: ", "")
        raise UsageError(message if path in message else f"{path}: {message}") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it ({e.strerror or e})") from None
    for name, param in net.model_.named_parameters():
        if not np.isfinite(param.data).all():
            raise UsageError(f"{path}: the model's weights are not all finite (nan or inf in "
                             f"{name!r}): the file is damaged or its training diverged")
    return net


def cmd_predict(args: argparse.Namespace) -> int:
    """`microtensor predict`: a CSV of predictions (or probabilities)."""
    require("predict", "pandas")
    import pandas as pd

    if args.output:
        check_output_file(args.output, "--output")
    net = _load_model(args.model)
    if args.proba and net.task_ != "classification":
        raise UsageError("--proba is for classifiers; this model is a regression")
    df, label = load_table(args.data)
    # only the model's inputs need to be clean: a blank response column is the usual case
    used = [v for v in net.design_.variables if v in df.columns]
    df = check_table(df[used] if used else df, label)
    try:
        with np.errstate(all="ignore"):  # overflow is checked below, row by row
            if net.task_ == "classification":
                values = net.predict_proba(df)
            else:
                values = net.predict(df)
            if args.proba:
                result = pd.DataFrame(values, columns=[f"p({c})" for c in net.classes_])
            else:
                result = pd.DataFrame({f"predicted {net.response_}": net.predict(df)})
    except (ValueError, TypeError) as e:
        raise UsageError(f"{label} does not fit the model {args.model}: {e}") from None
    finite = np.isfinite(np.asarray(values, dtype=float).reshape(len(df), -1)).all(axis=1)
    if not finite.all():
        row = int((~finite).nonzero()[0][0])
        raise UsageError(f"{label}: data row {row + 1} gives a non-finite prediction (its "
                         "values are far outside what the model was trained on)")
    if args.output:
        try:
            with atomic_path(args.output) as tmp:
                result.to_csv(tmp, index=False)
        except OSError as e:
            raise UsageError(f"--output {args.output}: cannot write it "
                             f"({e.strerror or e})") from None
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
    require("graph", "pandas", "graphviz")
    have_dot = shutil.which("dot") is not None
    target = Path(args.out) if args.out else Path(args.model).with_suffix(
        (".backward" if args.backward else "") + (".svg" if have_dot else ".dot"))
    check_output_file(target, "--out")
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in ("dot", "gv", "svg", "png", "pdf"):
        raise UsageError(f"{target}: unknown picture format {target.suffix!r} "
                         "(use .svg, .png, .pdf or .dot)")
    if fmt in ("svg", "png", "pdf") and not have_dot:
        raise UsageError(f"{target}: rendering {fmt.upper()} needs graphviz's `dot` "
                         "(apt-get install graphviz, brew install graphviz); or use .dot")
    net = _load_model(args.model)
    graph = model_loss_graph(net, args.backward)
    try:
        if fmt in ("dot", "gv"):
            write_text(target, graph.source)
        else:
            with atomic_path(target) as tmp:
                tmp.write_bytes(graph.pipe(format=fmt))
    except OSError as e:
        raise UsageError(f"--out {target}: cannot write it ({e.strerror or e})") from None
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
    require("demo", "pandas", "matplotlib", "tqdm", "graphviz")
    check_output_folder(args.out, "--out")
    from .demo import run_demo

    return run_demo(Path(args.out), quick=args.quick)
