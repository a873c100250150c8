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
    handle_missing,
    load_table,
    require,
    resolve_formula,
    split_rows,
    tidy_columns,
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

    return tqdm(total=total, desc=desc, unit="epoch", mininterval=0.25, file=sys.stderr,
                dynamic_ncols=True, leave=True)


def train_network(net: Any, iterations: int, lr: float | None, tolerance: float, desc: str,
                  validation: Any = None) -> Any:
    """Train `net` with a progress bar showing the live loss (and, every 500 epochs, the
    training accuracy); `validation` rows, when given, decide when to stop."""
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
                      callback=report, validation=validation)
    finally:
        bar.close()
    return net


_R2_UNDEFINED = ("undefined: R2 divides by the variance of the target, which is zero in these "
                 "rows (one row, or all targets equal)")


def _metrics(net: Any, df: Any) -> dict[str, Any]:
    """Loss per row and accuracy and confusion matrix (or R2 and RMSE, in the target's own
    units) of `net` on a DataFrame holding the response. A metric that is undefined on these
    rows is None, with a `notes` entry saying why."""
    from nn.estimator import label_ids

    if net.task_ == "classification":
        probs = net.predict_proba(df)
        ids = label_ids(df[net.response_], net.classes_, net.response_)
        p = np.clip(probs[np.arange(len(ids)), ids], 1e-300, 1)
        guess = np.argmax(probs, axis=1)
        k = len(net.classes_)
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (ids, guess), 1)
        metrics: dict[str, Any] = {
            "loss_per_row": float(-np.log(p).mean()),
            "accuracy": float(np.mean(guess == ids)),
            "majority_rate": float(np.bincount(ids, minlength=k).max() / len(ids)),
            "confusion_matrix": confusion.tolist()}
    else:
        pred = net.predict(df)
        y = df[net.response_].to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            # in units of the largest error, so that targets past 1e154 give a finite RMSE
            big = float(np.max(np.abs(pred - y))) or 1.0
            rmse = big * float(np.sqrt(np.mean(((pred - y) / big) ** 2)))
            metrics = {"loss_per_row": float(np.square(rmse)), "rmse": rmse,
                       "r2": float(net.score(df))}
    notes = {}
    for name, value in metrics.items():
        if isinstance(value, float) and not np.isfinite(value):
            metrics[name] = None
            notes[name] = (_R2_UNDEFINED if name == "r2" else
                           f"undefined: the value is {value} (the predictions overflow)")
    if notes:
        metrics["notes"] = notes
    return metrics


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The NeuralNetwork parameters the flags ask for (None: the preset's)."""
    settings: dict[str, Any] = {
        "preset": args.preset, "hidden": args.hidden, "activation": args.activation,
        "optimizer": args.optimizer, "loss_reduction": args.loss_reduction,
        "patience": args.patience}
    if args.batch_size is not None:
        settings["batch_size"] = args.batch_size or None
    if args.no_scale:
        settings["scale"] = False
    if args.no_early_stopping:
        settings["early_stopping"] = False
    if args.preset == "article":
        # the CLI's article run as before: the article's init scaled to the layer sizes
        settings["init"] = "xavier"
    return settings


def _network(formula: str, df: Any, label: str, args: argparse.Namespace,
             task: str = "auto", **overrides: Any) -> Any:
    """A NeuralNetwork set up on `df`; a problem with the data or formula is a UsageError."""
    import nn

    settings = {**_settings(args), **overrides}
    try:
        return nn.NeuralNetwork(formula, data=df, task=task, random_state=args.seed,
                                **settings)
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


def _prepare(args: argparse.Namespace) -> tuple[Any, str, str, list[str], dict[str, Any]]:
    """The table as the network will see it: read (separator detected or --sep), --exclude
    applied, columns tidied (for `target ~ .`), missing values handled, checked. Returns the
    table, its label, the formula, notes for the user and the --missing mean fill values."""
    df, label = load_table(args.data, args.sep)
    excluded = [c.strip() for item in args.exclude for c in item.split(",") if c.strip()]
    unknown = [c for c in excluded if c not in map(str, df.columns)]
    if unknown:
        raise UsageError(f"--exclude {unknown[0]}: {label} has no such column (columns: "
                         f"{', '.join(map(str, df.columns))})")
    df = df.drop(columns=[c for c in df.columns if str(c) in excluded])
    formula = resolve_formula(df, args.formula, args.target, label)
    target = args.target if args.target is not None else str(df.columns[-1])
    notes: list[str] = []
    if not args.formula:
        if len(df.columns) < 2:
            raise UsageError(f"{label}: no predictor columns are left besides the target "
                             f"{target!r}")
        df, notes = tidy_columns(df, target, label)
        if len(df.columns) < 2:
            raise UsageError(f"{label}: every predictor column was left out (see the notes "
                             "above); name the ones to use in --formula")
    else:
        target = formula.split("~")[0].strip().strip("`")
    df, missing_notes, fills = handle_missing(df, args.missing, target, label)
    return check_table(df, label), label, formula, notes + missing_notes, fills


def _task_line(probe: Any, args: argparse.Namespace) -> str:
    """One line: the task and why."""
    from nn._response import task_reason

    if args.task != "auto":
        return f"task: {args.task} (--task {args.task})"
    _, why = task_reason(probe.y_)
    other = "regression" if probe.task_ == "classification" else "classification"
    return (f"task: {probe.task_}, because the target {probe.response_!r} {why} "
            f"(--task {other} to change it)")


def cmd_train(args: argparse.Namespace) -> int:
    """`microtensor train`: fit, report, save model + pictures.

    Everything the user gave is checked before training (arguments, output folder, data,
    formula, the split); the outputs are written into a temporary folder that replaces the
    old contents of --out only once all of them are complete.
    """
    require("train", "pandas", "matplotlib", "tqdm")
    import time

    from nn.estimator_io import save_network

    out = Path(args.out)
    check_output_folder(out, "--out")
    df, label, formula, notes, fills = _prepare(args)
    probe = _network(formula, df, label, args, task=args.task, hidden=())
    check_size(probe, args.hidden if args.hidden is not None else probe._hidden_sizes())
    fraction = args.val_split
    if fraction is None:
        fraction = 0.2 if (args.preset == "default" and not args.no_early_stopping
                           and len(df) >= 50) else 0.0
    train_df, val_df, single = split_rows(df, probe, fraction, args.seed, label)
    net = _network(formula, train_df, label, args, task=probe.task_)
    if val_df is not None:
        _check_validation(net, val_df, label)
    check_start(net, train_df, label)
    iterations = args.iterations or (5000 if args.preset == "article" else None)
    iterations = iterations or net.settings_["iterations"]
    with staged_folder(out, "--out", owned=_TRAIN_OUTPUTS, last="report.json") as stage:
        # the output folder is known to be writable now: anything printed before this
        # would have come ahead of that error's one line. Notes go to stdout with the
        # summary: stderr keeps the progress, warnings and errors
        for note in notes:
            print(f"note: {note}")
        print(_task_line(probe, args))
        _warn_single_rows(probe, df, single, fraction, label)
        print(f"training {net!r} on {label}: {formula}  ({len(train_df)} rows"
              + (f", {len(val_df)} held out for validation" if val_df is not None else "")
              + ")", file=sys.stderr)
        started = time.perf_counter()
        try:
            train_network(net, iterations, args.lr, args.tolerance, "train",
                          validation=val_df)
        except FloatingPointError as e:
            raise UsageError(str(e)) from None
        seconds = time.perf_counter() - started
        report = _report(net, label, formula, train_df, val_df, notes, args, seconds)
        try:
            extra = {"trained_on": label}
            if fills:  # --missing mean: predict fills new rows' gaps with the same values
                extra["missing_fill"] = json.dumps(fills)
            save_network(net, stage / "model.safetensors", extra=extra)
        except (ValueError, TypeError) as e:
            raise UsageError(f"cannot save the model: {e}") from None
        written = [stage / "model.safetensors", _loss_plot(net, stage, label, formula,
                                                          len(train_df))]
        boundary = _boundary_plot(net, df, stage, args)
        if boundary is not None:
            written.append(boundary)
        written.append(write_text(stage / "report.json", report_json(report)))
    _print_report(report)
    print("wrote:", *[f"  {out / Path(p).name}" for p in written], sep="\n")
    return 0


def _warn_single_rows(probe: Any, df: Any, single: list[Any], fraction: float,
                      label: str) -> None:
    """A warning naming the classes that have a single row (nothing to learn them from
    but that row; never in validation)."""
    if probe.task_ != "classification":
        return
    counts = df[probe.response_].value_counts()
    lonely = single or [c for c in probe.classes_.tolist() if counts.get(c, 0) == 1]
    if lonely:
        print(f"microtensor: warning: {label}: class(es) {', '.join(map(repr, lonely))} of "
              f"{probe.response_!r} have a single row"
              + ("; kept for training, not validated" if fraction else ""), file=sys.stderr)


def _report(net: Any, label: str, formula: str, train_df: Any, val_df: Any,
            notes: list[str], args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """Everything the run did, for report.json and the summary."""
    settings = dict(net.settings_)
    settings["learn_rate"] = args.lr or settings["learn_rate"]
    settings["patience"] = net.patience
    report: dict[str, Any] = {
        "data": label, "formula": formula, "task": net.task_, "rows": len(train_df),
        "iterations": len(net.loss_history_), "best_iteration": net.best_iteration_,
        "seconds": round(seconds, 3), "settings": _plain(settings), "notes": notes,
        "train": _metrics(net, train_df)}
    if val_df is not None:
        report["validation_rows"] = len(val_df)
        report["validation"] = _metrics(net, val_df)
    if net.x_mean_ is not None:
        report["input_scaling"] = {name: {"mean": float(m), "scale": float(s)} for name, m, s
                                   in zip(net.design_.columns, net.x_mean_, net.x_scale_)}
    if net.task_ == "regression" and net.y_scale_ != 1.0:
        report["target_scaling"] = {"mean": net.y_mean_, "scale": net.y_scale_}
    if net.classes_ is not None:
        report["classes"] = _plain(list(net.classes_))
    return report


def _plain(value: Any) -> Any:
    """JSON-ready: NumPy scalars and tuples become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _loss_plot(net: Any, stage: Path, label: str, formula: str, rows: int) -> Path:
    """Training loss per row, and validation loss beside it when there was one."""
    from . import plots

    train_loss = np.asarray(net.loss_history_, dtype=float)
    if net.settings_["loss_reduction"] == "sum":
        train_loss = train_loss / max(rows, 1)
    curves = {"training loss": train_loss}
    if net.validation_loss_history_:
        curves["validation loss"] = np.asarray(net.validation_loss_history_, dtype=float)
    return plots.loss_curves(stage / "loss.png", curves, f"{label}: {formula}",
                             ylabel="loss per row", xlabel="epoch", logy=None,
                             best=net.best_iteration_ if net.validation_loss_history_ else None)


def _boundary_plot(net: Any, df: Any, stage: Path, args: argparse.Namespace) -> Path | None:
    """The decision regions over the two inputs of a two-input classifier (else None)."""
    import pandas as pd

    from . import plots

    variables = list(net.design_.variables)
    if net.task_ != "classification" or len(variables) != 2 or not all(
            pd.api.types.is_numeric_dtype(df[v]) for v in variables):
        return None

    def predict(grid: np.ndarray) -> Any:
        with np.errstate(all="ignore"):
            return net.predict(pd.DataFrame(grid, columns=variables))

    hidden = net._hidden_sizes()
    return plots.decision_regions(
        stage / "boundary.png", df[variables].to_numpy(dtype=float), df[net.response_],
        predict, classes=list(net.classes_), axis_names=(variables[0], variables[1]),
        title=f"hidden {','.join(map(str, hidden)) or 'none'}")


def report_json(report: dict[str, Any]) -> str:
    """The report as strict JSON: a number that is not finite (NaN, infinity) becomes null,
    wherever it is, so that every JSON reader accepts the file."""
    return json.dumps(_finite(report), indent=2, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _print_report(report: dict[str, Any]) -> None:
    """The end-of-run summary on stdout: metrics, confusion matrix, time, settings, and what
    to try when the model looks like it learned nothing."""
    classification = "accuracy" in report["train"]
    columns = ("loss/row", "accuracy") if classification else ("loss/row", "R2", "RMSE")
    print(f"{'':12}" + "".join(f"{c:>12}" for c in columns))
    for part in ("train", "validation"):
        if part in report:
            m = report[part]
            values = ([m["loss_per_row"], m["accuracy"]] if classification
                      else [m["loss_per_row"], m["r2"], m["rmse"]])
            print(f"{part:<12}" + "".join(f"{'n/a' if v is None else f'{v:.4f}':>12}"
                                          for v in values))
            for name, why in m.get("notes", {}).items():
                print(f"{'':12}{name}: {why}")
    part = "validation" if "validation" in report else "train"
    m = report[part]
    if classification and "confusion_matrix" in m:
        names = [str(c) for c in report.get("classes", [])]
        width = max([8, *(len(n) + 1 for n in names)])
        print(f"confusion matrix ({part} rows; rows: actual, columns: predicted)")
        print(" " * width + "".join(f"{n:>{width}}" for n in names))
        for name, row in zip(names, m["confusion_matrix"]):
            print(f"{name:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    s = report["settings"]
    stopped = (f", best epoch {report['best_iteration']}" if report.get("best_iteration")
               and "validation" in report else "")
    print(f"time {report['seconds']:.1f} s, {report['iterations']} epochs{stopped}; "
          f"preset {s['preset']}: hidden {s['hidden']}, {s['activation']}, {s['optimizer']} "
          f"lr {s['learn_rate']:g}, {s['loss_reduction']} loss, batch "
          f"{s['batch_size'] or 'all'}, inputs {'standardized' if s['scale'] else 'as given'}")
    if classification and m["accuracy"] is not None and len(report.get("classes", [])) > 1 \
            and m["accuracy"] <= m["majority_rate"] + 1e-12:
        print(f"hint: the {part} accuracy {m['accuracy']:.3f} is the share of the most common "
              f"class ({m['majority_rate']:.3f}): the model predicts that class and has "
              "learned nothing else. Try more --iterations, a larger --lr, more --hidden "
              "units, or check that the inputs say something about the target.")


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


def _fill_as_trained(df: Any, model: str) -> Any:
    """Fill missing values the way `train --missing mean` filled them (the values it stored
    in the model file); a model trained without it leaves them for check_table to report."""
    import nn

    stored = nn.load_metadata(model).get("missing_fill")  # the model itself loaded already
    try:
        fills = json.loads(stored) if stored else {}
    except ValueError:
        fills = None
    if not isinstance(fills, dict):
        raise UsageError(f"{model}: its metadata key 'missing_fill' is damaged")
    usable = {c: v for c, v in fills.items()
              if c in df.columns and isinstance(v, (int, float, str))}
    return df.fillna(usable) if usable and df.isna().any().any() else df


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
    df, _ = tidy_columns(df[used] if used else df, "", label, drop=False)
    df = _fill_as_trained(df, args.model)
    df = check_table(df, label)
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


def model_loss(net: Any) -> tuple[Any, Any]:
    """`net`'s loss on one row of zeros, named "loss", and that row (a tensor named x)."""
    import microtensor as mt

    x = mt.Tensor(np.zeros((1, net.n_features_in_)), name="x")
    out = net.model_(x)
    target = np.zeros((1, 1)) if out.shape[1] == 1 else np.zeros(1, dtype=np.int64)
    loss = net._loss(out, target)
    loss.name = "loss"
    return loss, x


def model_loss_graph(net: Any, backward: bool) -> Any:
    """A picture of `net`'s loss on one row of zeros (inputs named x, target y)."""
    import microtensor as mt

    loss, _ = model_loss(net)
    if backward:
        return mt.viz.draw_backward(loss, show_grad=True, title="gradient flow (one row)")
    return mt.viz.draw(loss, title="forward graph (one row)")


def cmd_graph(args: argparse.Namespace) -> int:
    """`microtensor graph`: the model's forward or backward graph, to SVG/PNG/PDF or DOT, or
    the interactive explorer (`--html`)."""
    if args.html:
        return _graph_html(args)
    if args.code:
        return _graph_code(args)
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


def _graph_code(args: argparse.Namespace) -> int:
    """`microtensor graph MODEL --code`: mt.compile's NumPy source of one gradient step of the
    model's loss (on one row of zeros; the program is the same for any rows)."""
    import microtensor as mt

    require("graph", "pandas")
    net = _load_model(args.model)
    x = mt.Tensor(np.zeros((1, net.n_features_in_)))
    probe = net.model_(x)
    target = np.zeros((1, 1)) if probe.shape[1] == 1 else np.zeros(1, dtype=np.int64)

    def step(x: Any, y: Any) -> Any:
        loss = net._loss(net.model_(x), y)
        loss.backward()
        return loss

    compiled = mt.compile(step)
    compiled(x, mt.tensor(target))
    for p in net.model_.parameters():  # the traced step's gradients are not the model's
        p.grad = None
    if compiled.eager_reason is not None:
        raise UsageError(f"{args.model}: this model's step cannot be compiled "
                         f"({compiled.eager_reason})")
    print(compiled.source)
    return 0


def _graph_html(args: argparse.Namespace) -> int:
    """`microtensor graph MODEL --html OUT`: mt.viz.explore of the loss on one row."""
    import microtensor as mt

    require("graph", "pandas")
    target = Path(args.html)
    check_output_file(target, "--html")
    net = _load_model(args.model)
    loss, x = model_loss(net)
    page = mt.viz.explore(loss, model=net.model_, inputs={"x": x},
                          title=f"{Path(args.model).name}: loss on one row, backward step by step")
    try:
        write_text(target, page.html)
    except OSError as e:
        raise UsageError(f"--html {target}: cannot write it ({e.strerror or e})") from None
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
