"""The `microtensor` command (also `python -m microtensor`).

    microtensor demo [--out DIR]                 both articles on built-in data, with pictures
    microtensor train DATA [options]             train on xor, hotdogs, iris or a CSV
    microtensor predict MODEL DATA [--proba]     apply a saved model to a CSV
    microtensor graph MODEL [--backward]         draw a saved model's graph
    microtensor graph MODEL --html OUT.html      ... as the interactive backprop explorer
    microtensor check                            autodiff against the articles' backprop
    microtensor bench [--quick]                  the benchmarks (from a source checkout)

A mistake in what the user typed or gave (a bad argument, a missing file, a column that is
not there, text in a numeric column, a file that is not a model, a missing optional package)
ends with one line on stderr, `microtensor: error: ...`, and exit status 2, found before any
training starts wherever it can be; outputs are written atomically (a folder of outputs as a
whole), so nothing already there is damaged and nothing is left half-written. This is the app
layer: the only part of microtensor that imports nn.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from microtensor import __version__

from .data import UsageError, missing_dependency


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (`microtensor: error: ...`) instead of the usage
    text and a second line: every error of the command looks the same."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _number(cast: Callable[[str], float], ok: Callable[[float], bool],
            need: str) -> Callable[[str], float]:
    """An argparse type: `cast` the text, then require `ok(value)` (`need` says what)."""
    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            kind = "a whole number" if cast is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "at least 1")
_fraction = _number(float, lambda v: 0 <= v < 1, "in [0, 1)")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")
_non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
_seed = _number(int, lambda v: 0 <= v < 2**63, "a whole number from 0 to 2**63 - 1")


def _hidden(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("", "0", "()", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected layer sizes like 5 or 5,3 (0 for none), got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be at least 1, got {text!r}")
    return sizes


def _separator(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    sep = named.get(text.lower(), text)
    if len(sep) != 1 or sep in "\"\n\r" or sep.isalnum():
        raise argparse.ArgumentTypeError(
            f"expected one character such as ',', ';' or 'tab', got {text!r}")
    return sep


def _batch(text: str) -> int:
    """--batch-size: a number of rows, or 'all' (given as 0)."""
    return 0 if text.strip().lower() == "all" else int(_positive_int(text))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with a --help on every subcommand."""
    parser = _Parser(
        prog="microtensor",
        description="Reverse-mode autodiff on NumPy: reproduce the seed articles, train on "
        "your own CSV, draw computation graphs.",
    )
    parser.add_argument("--version", action="version", version=f"microtensor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="reproduce both articles on built-in data, with pictures",
                       description="Reproduce both seed articles (XOR, hot dogs, iris) and "
                       "write loss curves, decision boundaries, graphs, the autodiff-vs-manual "
                       "table and an index.html into DIR.")
    p.add_argument("--out", default="microtensor-demo", metavar="DIR",
                   help="output folder (default: ./microtensor-demo)")
    p.add_argument("--quick", action="store_true", help="fewer iterations (for smoke tests)")

    p = sub.add_parser("train", help="train a network on built-in data or a CSV",
                       description="Train a network (the second article's NeuralNetwork) and "
                       "save the model, its loss curve and, for two inputs, its decision "
                       "boundary.")
    p.add_argument("data", metavar="DATA", help="xor, hotdogs, iris, or a CSV file")
    p.add_argument("--formula", help="model formula, e.g. 'Species ~ .' (default: last column "
                   "~ the others)")
    p.add_argument("--target", help="response column (default: the last column)")
    p.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="leave column COL out (repeat it, or give COL1,COL2)")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="auto (the default) picks from the target column and says why")
    p.add_argument("--sep", type=_separator, default=None, metavar="SEP",
                   help="the CSV separator: ',', ';', 'tab' or '\\t' (default: detected)")
    p.add_argument("--missing", choices=("error", "drop", "mean"), default="error",
                   help="missing values: an error (default), drop the rows, or fill them in "
                   "with the column's mean (the most common value for text)")
    p.add_argument("--preset", choices=("default", "article"), default="default",
                   help="default: settings that work on most tables (standardized inputs, "
                   "Adam, minibatches, early stopping); article: the second article's "
                   "network exactly (sigmoid, summed loss, plain gradient descent)")
    p.add_argument("--hidden", type=_hidden, default=None, metavar="SIZES",
                   help="hidden layer sizes, e.g. 5 or 5,3; 0 for none (default: 64; "
                   "article: 5)")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default=None,
                   help="default: tanh; article: sigmoid")
    p.add_argument("--iterations", type=_positive_int, default=None, metavar="N",
                   help="at most N epochs (passes over the training rows; default: 1000, "
                   "fewer when early stopping ends it; article: 5000)")
    p.add_argument("--lr", type=_positive_float, default=None, metavar="X",
                   help="learning rate (default: 1e-3 with Adam on the mean loss; article: "
                   "1e-2 with gradient descent on the summed loss)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                   help="default: adam; article: sgd")
    p.add_argument("--loss", choices=("mean", "sum"), default=None, dest="loss_reduction",
                   help="the loss over the rows: mean (default) or sum (article)")
    p.add_argument("--batch-size", type=_batch, default=None, metavar="N",
                   help="rows per gradient step: a number or 'all' (default: up to 200; "
                   "article: all)")
    p.add_argument("--no-scale", action="store_true",
                   help="do not standardize inputs and regression targets (article: off)")
    p.add_argument("--patience", type=_positive_int, default=20, metavar="N",
                   help="early stopping: stop after N epochs without a better validation "
                   "loss, keeping the best weights (default: 20)")
    p.add_argument("--no-early-stopping", action="store_true",
                   help="train all --iterations epochs")
    p.add_argument("--tolerance", type=_non_negative_float, default=0.0, metavar="X",
                   help="stop once the training loss is below X (default: 0, never)")
    p.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help="random seed for the weights, the split and the minibatches "
                   "(default: 0)")
    p.add_argument("--val-split", type=_fraction, default=None, metavar="F",
                   help="fraction of rows held out for validation and early stopping, "
                   "stratified by class (default: 0.2 for tables of 50 rows or more, else "
                   "0; article: 0)")
    p.add_argument("--out", default="microtensor-model", metavar="DIR",
                   help="output folder (default: ./microtensor-model)")

    p = sub.add_parser("predict", help="apply a saved model to a CSV",
                       description="Predict with a model saved by `microtensor train`.")
    p.add_argument("model", metavar="MODEL", help="a .safetensors model file")
    p.add_argument("data", metavar="DATA", help="a CSV file with the model's input columns")
    p.add_argument("--proba", action="store_true", help="class probabilities, not labels")
    p.add_argument("--output", metavar="FILE", help="write the CSV here (default: stdout)")

    p = sub.add_parser("graph", help="draw a saved model's computation graph",
                       description="Draw the graph of a saved model's loss on one row.")
    p.add_argument("model", metavar="MODEL", help="a .safetensors model file")
    p.add_argument("--backward", action="store_true", help="draw the gradient flow instead")
    p.add_argument("--out", metavar="FILE",
                   help="output file: .svg, .png or .pdf (needs graphviz's dot) or .dot "
                   "(default: MODEL's name with .svg, or .dot without dot)")
    p.add_argument("--html", metavar="FILE",
                   help="write the interactive explorer instead: one self-contained HTML file "
                   "with the graph and the backward pass step by step (no graphviz needed)")
    p.add_argument("--code", action="store_true",
                   help="print the backprop mt.compile derives for one training step, as "
                   "NumPy code (the articles' hand-written loop, written by the machine)")

    sub.add_parser("check", help="compare autodiff with the articles' hand-derived backprop",
                   description="Compare autodiff gradients with the hand-derived ones on the "
                   "seed networks; exit 1 if any differs by more than 1e-8.")

    p = sub.add_parser("bench", help="run the benchmarks (from a source checkout)",
                       description="Run benchmarks/run.py (needs the source checkout).")
    p.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    return parser


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def one_line(text: str) -> str:
    """`text` as one plain line: colour codes removed, line breaks and runs of spaces made
    single spaces (a library's message may span lines or carry terminal colours)."""
    return " ".join(_ANSI.sub("", text).split()) or "unknown error"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `microtensor` command; returns the exit status.

    A UsageError (a mistake in the arguments, the data or a model file), a missing optional
    package, an output that cannot be written or memory that runs out is reported as one
    line on stderr with exit status 2; anything else is a bug and keeps its traceback.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("give a command: demo, train, predict, graph, check or bench "
                             "(see `microtensor --help`)")
        from . import commands

        return commands.run(args)
    except UsageError as e:
        return _fail(str(e))
    except ImportError as e:
        message = missing_dependency(e, command or "")
        if message is None:
            raise
        return _fail(message)
    except MemoryError:
        return _fail("not enough memory (a smaller --hidden or less data may fit)")
    except BrokenPipeError:
        # the reader of our output went away (`microtensor predict ... | head`): not an error
        # worth a line; point stdout at nothing so that the exit flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        if e.filename is None:
            raise
        return _fail(f"{e.filename}: {e.strerror or e}")
    except KeyboardInterrupt:
        print("microtensor: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    """Print the one error line and give the exit status of a usage error."""
    print(f"microtensor: error: {one_line(message)}", file=sys.stderr)
    return 2
