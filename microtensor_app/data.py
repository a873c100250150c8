"""Reading the data a user names on the command line, and checking it against what the
command will do with it (the split, the network's size, its starting loss), with errors a
person can act on.

Every problem becomes a `UsageError` whose message is one line naming the file, the column
or the value; the command turns it into `microtensor: error: ...` and exit status 2.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

BUILT_IN = ("xor", "hotdogs", "iris")

# the optional packages the command uses, all in the "app" extra (which includes "nn" and "viz")
OPTIONAL = ("pandas", "matplotlib", "tqdm", "graphviz")
INSTALL_HINT = 'pip install "microtensor[app]"'


class UsageError(Exception):
    """A mistake in what the user asked for or gave us (exit status 2, one line, no traceback)."""


def require(command: str, *modules: str) -> None:
    """Import the optional `modules` that `command` needs, before it does any work; a missing
    one is a UsageError naming it and the extra to install."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UsageError(missing_dependency(e, command)
                             or f"`microtensor {command}` cannot import {name} ({e})") from None


def missing_dependency(error: BaseException, command: str) -> str | None:
    """The one-line message for an ImportError (or one it caused) of an optional package,
    or None when the missing module is not one of ours to name (a bug, not an install)."""
    seen: BaseException | None = error
    for _ in range(10):  # follow `raise ... from` chains, which a library may add
        if seen is None:
            break
        name = getattr(seen, "name", None)
        if isinstance(seen, ImportError) and name and name.split(".")[0] in OPTIONAL:
            who = f"microtensor {command}".strip()
            return f"`{who}` needs {name.split('.')[0]}, which is not installed: {INSTALL_HINT}"
        seen = seen.__cause__ or seen.__context__
    return None


def load_table(source: str) -> tuple[Any, str]:
    """Return (DataFrame, label) for a built-in data set name or a CSV path."""
    import pandas as pd

    import nn

    if source in BUILT_IN:
        if source == "xor":
            X, y = nn.datasets.xor()
            df = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
            df["y"] = y.ravel()
            return df, "xor"
        if source == "hotdogs":
            return nn.datasets.hotdogs(), "hotdogs"
        return nn.datasets.iris(), "iris"
    path = Path(source)
    if not path.exists():
        raise UsageError(
            f"{source}: no such file (DATA is a CSV path or one of: {', '.join(BUILT_IN)})"
        )
    if path.is_dir():
        raise UsageError(f"{source}: is a folder, not a CSV file")
    try:
        with warnings.catch_warnings():  # pandas' parser warnings would add lines to stderr
            warnings.simplefilter("ignore")
            df = pd.read_csv(path)
            header = pd.read_csv(path, header=None, nrows=1, dtype=str,
                                 keep_default_na=False).iloc[0].tolist()
    except pd.errors.EmptyDataError:
        raise UsageError(f"{source}: the file is empty") from None
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{source}: is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
            "save it as a UTF-8 CSV"
        ) from None
    except (pd.errors.ParserError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"{source}: cannot read it as CSV ({first})") from None
    except OSError as e:
        raise UsageError(f"{source}: cannot read it ({e.strerror or e})") from None
    if df.shape[0] == 0:
        raise UsageError(f"{source}: has a header but no data rows")
    if df.shape[1] < 2:
        raise UsageError(
            f"{source}: has {df.shape[1]} column; need at least one predictor and a target "
            "(is the separator a comma?)"
        )
    repeated = sorted({str(c) for c in header if header.count(c) > 1})
    if repeated:
        raise UsageError(
            f"{source}: the header names column(s) {', '.join(map(repr, repeated))} more than once"
        )
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise UsageError(f"{source}: a column has no name in the header (column {unnamed[0]})")
    return df, path.name


def check_table(df: Any, label: str) -> Any:
    """Reject what a formula would silently misread: missing values, infinite numbers, and
    text in a column that is otherwise numeric (a typo, not a category). Returns the table
    with any column of whole numbers too long for int64 (which pandas keeps as Python ints)
    made float64."""
    import pandas as pd

    df = df.copy()
    for col in df.columns:
        series = df[col]
        if series.isna().any():
            row = int(series.isna().to_numpy().nonzero()[0][0])
            raise UsageError(f"{label}: column {col!r} has a missing value in data row {row + 1}")
        if series.dtype == object and all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in series
        ):
            series = df[col] = _as_float(series, col, label)
        if pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_numeric_dtype(series):
            finite = np.isfinite(series.to_numpy(dtype=np.float64))
            if not finite.all():
                row = int((~finite).nonzero()[0][0])
                raise UsageError(
                    f"{label}: column {col!r} holds {series.iloc[row]} in data row {row + 1} "
                    "(a number too large for float64, or a literal inf)"
                )
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.notna().any() and numeric.isna().any():
            bad = int(numeric.isna().to_numpy().nonzero()[0][0])
            raise UsageError(
                f"{label}: column {col!r} is numeric except data row {bad + 1}, which holds "
                f"{series.iloc[bad]!r}"
            )
    return df


def _as_float(series: Any, col: Any, label: str) -> Any:
    """A column of Python numbers as float64; one beyond float64's range is a UsageError."""
    import pandas as pd

    values = np.empty(len(series))
    for i, v in enumerate(series.tolist()):
        try:
            values[i] = float(v)
        except OverflowError:
            raise UsageError(
                f"{label}: column {col!r} holds {str(v)[:30]}... in data row {i + 1}, a number "
                "too large for float64"
            ) from None
    return pd.Series(values, index=series.index, name=series.name)


def resolve_formula(df: Any, formula: str | None, target: str | None, label: str) -> str:
    """The model formula from --formula, or from --target (default: the last column)."""
    if formula:
        if target:
            raise UsageError("give --formula or --target, not both")
        if "~" not in formula:
            raise UsageError(f"--formula {formula!r}: expected 'target ~ predictors'")
        return formula
    target = target if target is not None else str(df.columns[-1])
    if target not in df.columns:
        raise UsageError(
            f"{label}: no column {target!r} (columns: {', '.join(map(str, df.columns))})"
        )
    return f"{_quote(target)} ~ ."


def _quote(name: str) -> str:
    """Quote a column name for a formula when it is not a plain identifier."""
    if str(name).isidentifier():
        return name
    return "`" + str(name).replace("\\", "\\\\").replace("`", "\\`") + "`"


# a network past this many weights would take many GB (and minutes per iteration)
_MAX_WEIGHTS = 50_000_000


def check_size(probe: Any, hidden: tuple[int, ...]) -> None:
    """Refuse, before allocating it, a network too large to hold in memory."""
    n_out = 1 if probe.classes_ is None or len(probe.classes_) <= 2 else len(probe.classes_)
    sizes = [probe.n_features_in_, *hidden, n_out]
    count = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if count > _MAX_WEIGHTS:
        raise UsageError(
            f"--hidden {','.join(map(str, hidden))}: the network would have {count:,} weights "
            f"(layers {sizes}); the limit is {_MAX_WEIGHTS:,}"
        )


def split_rows(df: Any, probe: Any, fraction: float, seed: int,
               label: str) -> tuple[Any, Any, list[Any]]:
    """(training rows, validation rows or None, the classes kept out of validation) for
    --val-split `fraction`; `probe` is a NeuralNetwork set up on all rows (for the task,
    the response and the classes).

    A classification is split stratified: each class with two rows or more puts
    round(n * fraction) of them, but at least one and at most n - 1, in validation, so every
    class is seen in training and tested in validation; a class with a single row stays in
    training (the caller warns). A regression is split at random.
    """
    single: list[Any] = []
    if not fraction:
        return df, None, single
    rng = np.random.default_rng(seed)
    if probe.task_ == "classification":
        groups: dict[Any, list[int]] = {}
        for i, value in enumerate(df[probe.response_].tolist()):
            groups.setdefault(value, []).append(i)
        val_rows: list[int] = []
        for cls in probe.classes_.tolist():
            rows = np.array(groups.get(cls, []), dtype=np.intp)
            if len(rows) == 1:
                single.append(cls)
                continue
            n_val = min(max(int(round(len(rows) * fraction)), 1), len(rows) - 1)
            val_rows.extend(rng.permutation(rows)[:n_val].tolist())
        if not val_rows:
            raise UsageError(f"--val-split {fraction}: every class of {probe.response_!r} has a "
                             "single row, so none can be held out for validation")
        is_val = np.zeros(len(df), dtype=bool)
        is_val[val_rows] = True
    else:
        n_val = int(round(len(df) * fraction))
        if n_val < 1 or n_val >= len(df):
            raise UsageError(f"--val-split {fraction} leaves no rows for one side "
                             f"({len(df)} rows)")
        is_val = np.zeros(len(df), dtype=bool)
        is_val[rng.permutation(len(df))[:n_val]] = True
    return df[~is_val].reset_index(drop=True), df[is_val].reset_index(drop=True), single


def check_start(net: Any, df: Any, label: str) -> None:
    """Before training: the loss at the starting weights is a finite number. Values so large
    that it is not (a squared target past 1e154 overflows) would only surface as a
    divergence after the first step, blamed on the learning rate."""
    import pandas as pd

    with np.errstate(all="ignore"):
        loss = net.compute_loss()
    if np.isfinite(loss):
        return
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    where = ""
    if numeric:
        values = df[numeric].to_numpy(dtype=np.float64)
        row, col = np.unravel_index(np.argmax(np.abs(values)), values.shape)
        where = f" (column {numeric[col]!r} holds {values[row, col]:.3g} in data row {row + 1})"
    raise UsageError(f"{label}: the loss is {loss} at the starting weights, before any "
                     f"training: the numbers in the data are too large{where}; rescale them")
