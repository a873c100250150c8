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


SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def detect_separator(path: Path) -> str:
    """The separator of a CSV file: of comma, semicolon and tab, the one that splits the
    first lines (quoted text aside) into the same number of fields, more than one, taking the
    most fields; a comma when none does."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            lines = [line for line in (f.readline() for _ in range(30)) if line.strip()]
    except OSError:
        return ","
    best, best_fields = ",", 1
    for sep in (",", ";", "\t"):
        counts = {_fields(line, sep) for line in lines}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = sep, fields
    return best


def _fields(line: str, sep: str) -> int:
    """How many fields `sep` splits one CSV line into, separators inside quotes ignored."""
    count, quoted = 1, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            count += 1
    return count


def load_table(source: str, sep: str | None = None) -> tuple[Any, str]:
    """Return (DataFrame, label) for a built-in data set name or a CSV path; `sep` is the
    separator (default: detected, see `detect_separator`)."""
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
    if sep is None:
        sep = detect_separator(path)
    try:
        with warnings.catch_warnings():  # pandas' parser warnings would add lines to stderr
            warnings.simplefilter("ignore")
            # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first
            # column's name; "?" marks a missing value in many public data sets
            df = pd.read_csv(path, sep=sep, skipinitialspace=True, encoding="utf-8-sig",
                             na_values=["?"])
            header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str,
                                 keep_default_na=False, encoding="utf-8-sig").iloc[0].tolist()
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
            f"(the separator read was the {SEPARATORS.get(sep, repr(sep))}; give --sep)"
        )
    repeated = sorted({str(c) for c in header if header.count(c) > 1})
    if repeated:
        raise UsageError(
            f"{source}: the header names column(s) {', '.join(map(repr, repeated))} more than once"
        )
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:")]
    if unnamed == [df.columns[0]] and _is_row_number(df[unnamed[0]]):
        # the index pandas writes with to_csv: row numbers, not data
        df = df.drop(columns=unnamed)
        unnamed = []
    if unnamed:
        raise UsageError(f"{source}: a column has no name in the header (column {unnamed[0]})")
    return df, path.name


def _is_row_number(series: Any) -> bool:
    """A column counting the rows: 0, 1, 2, ... or 1, 2, 3, ..."""
    values = series.to_numpy()
    if series.dtype.kind not in "iu" or len(values) == 0:
        return False
    return bool(values[0] in (0, 1) and np.all(np.diff(values) == 1))


# numbers with thousands separators: (grouping mark, decimal mark, pattern); a plain number
# like 999 matches too, but a column counts only when some value is grouped
_GROUPED = [
    (",", ".", r"^[+-]?\d{1,3}(?:,\d{3})*(?:\.\d+)?$"),
    (".", ",", r"^[+-]?\d{1,3}(?:\.\d{3})*(?:,\d+)?$"),
    (" ", ".", r"^[+-]?\d{1,3}(?: \d{3})*(?:[.,]\d+)?$"),
]
_DECIMAL_COMMA = r"^[+-]?\d*,\d+$"
_DATE = r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
_MAX_LEVELS = 50  # a text column with more distinct values is left out, not one-hot encoded


def tidy_columns(df: Any, target: str, label: str,
                 drop: bool = True) -> tuple[Any, list[str]]:
    """Make a table's columns what a person means by them, for `target ~ .`; returns the
    table and one note per change. Numbers written with a decimal comma ("1,5") or with
    thousands separators ("1,234", "1.234.567", "12 500") are read as numbers; a text column
    that is unique per row (an identifier), that holds dates, or that has more than 50
    distinct values is left out rather than one-hot encoded into hundreds of inputs; a text
    column kept is one-hot encoded. The target is only converted, never left out; with
    `drop` False (new rows to predict) nothing is left out."""
    import pandas as pd

    df = df.copy()
    notes: list[str] = []
    comma: list[str] = []
    for col in list(df.columns):
        series = df[col]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        text = series.dropna().astype(str).str.strip()
        if len(text) == 0:
            continue
        grouped = _grouped_numbers(text)
        if grouped is not None:
            df[col] = grouped
            notes.append(f"column {col!r}: numbers written with thousands separators (e.g. "
                         f"{text[text.str.len().idxmax()]!r}), read as numbers")
            continue
        if text.str.match(_DECIMAL_COMMA).all():
            df[col] = pd.to_numeric(series.astype(str).str.strip().str.replace(",", "."),
                                    errors="coerce")
            comma.append(str(col))
            continue
        if not drop or str(col) == target or pd.to_numeric(text, errors="coerce").notna().any():
            continue  # the target, or a numeric column with a typo (check_table names it)
        distinct = text.nunique()
        if _dates(text):
            df = df.drop(columns=[col])
            notes.append(f"column {col!r}: dates, left out (turn them into numbers, e.g. "
                         "days since a start, to use them)")
        elif distinct == len(series) and len(series) > 2:
            df = df.drop(columns=[col])
            notes.append(f"column {col!r}: a different value in every row (an identifier), "
                         "left out (name it in --formula to use it)")
        elif distinct > _MAX_LEVELS:
            df = df.drop(columns=[col])
            notes.append(f"column {col!r}: text with {distinct} distinct values, too many to "
                         "one-hot encode; left out (use --formula to include it)")
        else:
            notes.append(f"column {col!r}: text, one-hot encoded ({distinct} values, "
                         f"{distinct - 1} inputs)")
    if comma:
        shown = ", ".join(map(repr, comma[:5])) + (f" and {len(comma) - 5} more"
                                                   if len(comma) > 5 else "")
        notes.insert(0, f"column(s) {shown}: numbers with a decimal comma, read as numbers")
    return df, notes


def _grouped_numbers(text: Any) -> Any:
    """`text` (a column's values, stripped) as floats when every value is a number written
    in one thousands-separator style and some value uses the separator; else None. ("1,234"
    in every row reads as a thousand and more, not a decimal comma: decimals rarely all have
    exactly three digits.)"""
    import pandas as pd

    for group, decimal, pattern in _GROUPED:
        if text.str.match(pattern).all() and text.str.contains(group, regex=False).any():
            plain = text.str.replace(group, "", regex=False).str.replace(decimal, ".",
                                                                         regex=False)
            return pd.to_numeric(plain, errors="coerce").reindex(text.index)
    return None


def _dates(text: Any) -> bool:
    """Whether every value looks like a date (2024-01-31, 31/01/2024, 2024-01-31 10:00)."""
    import pandas as pd

    if not text.str.match(_DATE).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def handle_missing(df: Any, how: str, target: str, label: str
                   ) -> tuple[Any, list[str], dict[str, Any]]:
    """Missing values: an error naming the first column that has them and how many
    (`how` "error"), the rows that have them dropped ("drop"), or filled with the column's
    mean, or for text its most common value ("mean"); rows with a missing target are
    dropped either way but "error". Returns the table, notes, and with "mean" the value
    each predictor column would be filled with (every one of them, so that `predict` can
    fill new rows the same way: a number or a text value per column)."""
    fills: dict[str, Any] = {}
    if how == "mean":
        for col in df.columns:
            if str(col) == target or not df[col].notna().any():
                continue
            numeric = df[col].dtype.kind in "biuf"
            value = df[col].mean() if numeric else df[col].mode(dropna=True).iloc[0]
            fills[str(col)] = float(value) if numeric else str(value)
    counts = df.isna().sum()
    if not counts.any():
        return df, [], fills
    if how == "error":
        col = next(c for c in df.columns if counts[c])
        others = int((counts > 0).sum()) - 1
        raise UsageError(
            f"{label}: column {col!r} has {int(counts[col])} missing value(s) (of {len(df)} "
            f"rows; first in data row {int(df[col].isna().to_numpy().argmax()) + 1})"
            + (f", and {others} other column(s) have some too" if others else "")
            + "; use --missing drop (leave those rows out) or --missing mean (fill them in)"
        )
    notes: list[str] = []
    empty = [c for c in df.columns if str(c) != target and not df[c].notna().any()]
    if empty:  # nothing to fill them with and nothing to learn from: left out, said
        df = df.drop(columns=empty)
        notes.append(f"--missing {how}: column(s) {', '.join(map(repr, map(str, empty)))} "
                     "have no values at all and are left out")
        counts = df.isna().sum()
    if counts.get(target, 0):
        notes.append(f"{int(counts[target])} row(s) without a target value ({target!r}) left "
                     "out")
        df = df[df[target].notna()]
    if how == "drop":
        before = len(df)
        df = df.dropna()
        notes.append(f"--missing drop: {before - len(df)} row(s) with missing values left out")
    else:
        df = df.copy()
        for col in df.columns:
            n = int(df[col].isna().sum())
            if not n:
                continue
            numeric = df[col].dtype.kind in "biuf"
            fill = df[col].mean() if numeric else df[col].mode(dropna=True).iloc[0]
            df[col] = df[col].fillna(fill)
            if str(col) != target:
                fills[str(col)] = float(fill) if numeric else str(fill)
            notes.append(f"--missing mean: column {col!r}: {n} missing value(s) filled with "
                         f"{'its mean' if numeric else 'its most common value'} {fill!r}")
    if len(df) == 0:
        raise UsageError(f"{label}: no rows are left once those with missing values are left "
                         "out; try --missing mean")
    return df.reset_index(drop=True), notes, fills


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
