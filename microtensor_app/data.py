"""Reading the data a user names on the command line, with errors a person can act on.

Every problem becomes a `UsageError` whose message is one line naming the file, the column
or the value; the command turns it into `microtensor: error: ...` and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BUILT_IN = ("xor", "hotdogs", "iris")


class UsageError(Exception):
    """A mistake in what the user asked for or gave us (exit status 2, one line, no traceback)."""


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
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UsageError(f"{source}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
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
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise UsageError(f"{source}: a column has no name in the header (column {unnamed[0]})")
    return df, path.name


def check_table(df: Any, label: str) -> None:
    """Reject what a formula would silently misread: missing values, and text in a column
    that is otherwise numeric (a typo, not a category)."""
    import pandas as pd

    for col in df.columns:
        series = df[col]
        if series.isna().any():
            row = int(series.isna().to_numpy().nonzero()[0][0])
            raise UsageError(f"{label}: column {col!r} has a missing value in data row {row + 1}")
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.notna().any() and numeric.isna().any():
            bad = int(numeric.isna().to_numpy().nonzero()[0][0])
            raise UsageError(
                f"{label}: column {col!r} is numeric except data row {bad + 1}, which holds "
                f"{series.iloc[bad]!r}"
            )


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
    return name if str(name).isidentifier() else f"`{name}`"
