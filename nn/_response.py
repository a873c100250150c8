"""The response side of `nn.NeuralNetwork`: classes in R's order, labels as class ids, and the
checks that go with them. pandas is imported only when a function needs it (it is optional)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


MAX_INTEGER_CLASSES = 20  # whole-number targets with more distinct values are quantities


def resolve_task(task: str, response: pd.Series) -> str:
    """'classification' or 'regression': as asked, or (task="auto") from the response (see
    `task_reason`)."""
    return task if task != "auto" else task_reason(response)[0]


def task_reason(response: pd.Series) -> tuple[str, str]:
    """The task "auto" picks for `response`, and why, in words: floats make a regression,
    unless they are all 0 and 1 (an indicator, like the articles' y) or all whole (then as
    whole numbers); whole numbers make a
    classifier when there are at most 20 distinct values (codes, counts of stars), else a
    regression (a quantity); categories, text and booleans make a classifier."""
    kind = response.dtype.kind
    distinct = int(response.nunique())
    if kind == "f":
        values = response.to_numpy()
        if set(np.unique(values)) == {0.0, 1.0}:
            return "classification", "holds only 0 and 1"
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if not whole or distinct < 2:
            return "regression", f"holds fractional numbers ({distinct} distinct values)"
        kind = "i"  # 1.0, 2.0, 3.0: whole numbers written as floats (a CSV's "2.0")
    if kind == "c":
        return "regression", "holds complex numbers"
    if kind in "iu":
        if distinct > MAX_INTEGER_CLASSES:
            return "regression", (f"holds whole numbers with {distinct} distinct values "
                                  f"(more than {MAX_INTEGER_CLASSES})")
        return "classification", (f"holds whole numbers with {distinct} distinct values "
                                  f"(at most {MAX_INTEGER_CLASSES})")
    if kind == "b":
        return "classification", "holds true/false values"
    return "classification", f"holds labels ({distinct} distinct values)"


def classes_of(response: pd.Series, name: str) -> np.ndarray:
    """The classes in R's order: a categorical's levels (those present), else sorted."""
    import pandas as pd

    if isinstance(response.dtype, pd.CategoricalDtype):
        present = set(response.unique())
        classes = np.array([c for c in response.cat.categories if c in present], dtype=object)
    else:
        values = pd.unique(response)
        try:
            classes = np.array(sorted(values))
        except TypeError:  # mixed types do not sort: keep order of appearance
            classes = np.array(list(values), dtype=object)
    if len(classes) < 2:
        raise ValueError(
            f"response {name!r} has a single class ({classes.tolist()[0]!r} in every row): "
            "a classifier needs at least two"
        )
    return classes


def check_same_response(y: Any, response: pd.Series) -> None:
    """With a formula the response comes from the data; a y given as well (scikit-learn's
    cross-validation passes one, to stratify) must be that same column."""
    if y is None:
        return
    if np.asarray(y, dtype=object).ravel().tolist() != response.astype(object).tolist():
        raise ValueError(
            f"y differs from the formula's response column {response.name!r}: with a formula, "
            "leave y out (the response is read from the data)"
        )


def label_ids(
    response: pd.Series, classes: np.ndarray, name: str, strict: bool = True
) -> np.ndarray:
    """Each label's index in `classes`; an unknown label is an error naming it (or, when not
    `strict`, -1: a label the network cannot predict, so scored as wrong)."""
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    ids = np.empty(len(response), dtype=np.intp)
    for i, value in enumerate(response.tolist()):
        if value not in lookup:
            if not strict:
                ids[i] = -1
                continue
            raise ValueError(
                f"response {name!r} has the label {value!r}, not one of the classes "
                f"{', '.join(map(repr, classes.tolist()))}"
            )
        ids[i] = lookup[value]
    return ids


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SSE / SST."""
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - pred) ** 2))
    return 1.0 - sse / sst if sst > 0 else float("nan")
