"""Data in, design matrix out: the formula and array front ends of `nn.NeuralNetwork`.

A formula ("Species ~ .") and a DataFrame go through formulaic, which builds the design matrix
(intercept included) and remembers how, so that new data are encoded the same way. Arrays are
taken as they are. Either way every problem with the data is reported here, before training,
as a ValueError that names the column or value at fault.
"""

# ruff: noqa: N803, N806  (X is the design matrix, as in scikit-learn and the article)

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_INTERCEPT = "Intercept"


@dataclass
class Design:
    """How data become the network's input: a formulaic model spec, or plain columns.

    `columns` are the design matrix's predictor columns (the intercept, when there is one,
    is not among them: the first layer's bias plays its part), `variables` the data columns
    they are computed from, `levels` the values seen in each non-numeric predictor.
    """

    formula: str | None
    columns: list[str]
    variables: list[str]
    intercept: bool = True
    spec: Any = None
    levels: dict[str, set[Any]] = field(default_factory=dict)
    frame_columns: list[str] | None = None

    def transform(self, data: Any) -> np.ndarray:
        """The predictor matrix (n, len(columns)) of new data, encoded as at fit time."""
        if self.spec is None:
            return _array_matrix(data, self)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"this network was built from the formula {self.formula!r}: give new data as a "
                f"pandas DataFrame, got {type(data).__name__}"
            )
        missing = [v for v in self.variables if v not in data.columns]
        if missing:
            raise ValueError(
                f"new data lack column(s) {', '.join(map(repr, missing))} needed by the formula "
                f"{self.formula!r} (they have: {', '.join(map(str, data.columns))})"
            )
        _check_missing_values(data, self.variables)
        for name, seen in self.levels.items():
            unseen = sorted(set(data[name].dropna().unique()) - seen, key=str)
            if unseen:
                raise ValueError(
                    f"column {name!r} has value(s) {', '.join(map(repr, unseen[:5]))} not seen in "
                    f"the training data (seen: {', '.join(map(repr, sorted(seen, key=str)))})"
                )
        try:
            mm = self.spec.get_model_matrix(data, na_action="ignore")
        except Exception as e:  # formulaic's errors have no common base with NumPy's
            raise ValueError(f"cannot encode new data with {self.formula!r}: {e}") from e
        return (
            _numeric_matrix(mm, self.formula)
            .drop(columns=_INTERCEPT, errors="ignore")[self.columns]
            .to_numpy(dtype=np.float64)
        )


def from_formula(formula: str, data: Any) -> tuple[Design, np.ndarray, pd.Series]:
    """Parse `formula` against `data` (a DataFrame): the design, the predictor matrix and the
    response column (as given: a categorical stays categorical)."""
    from formulaic import Formula, model_matrix

    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"a formula needs its data as a pandas DataFrame, got {type(data).__name__}"
        )
    if "~" not in formula:
        raise ValueError(f"formula {formula!r} has no response: write it as 'y ~ x1 + x2'")
    try:
        parsed = Formula.from_spec(
            formula, context={"__formulaic_variables_available__": list(data.columns)}
        )
    except Exception as e:
        raise ValueError(f"cannot parse the formula {formula!r}: {e}") from e
    lhs_names = _lookups(parsed.lhs)
    rhs_names = _lookups(parsed.rhs)
    missing = [v for v in lhs_names + rhs_names if v not in data.columns]
    if missing:
        raise ValueError(
            f"column(s) {', '.join(map(repr, missing))} named in the formula {formula!r} "
            f"are not in the data (columns: {', '.join(map(str, data.columns))})"
        )
    if len(list(parsed.lhs)) != 1 or len(lhs_names) != 1:
        raise ValueError(f"formula {formula!r}: the response (left of '~') must be a single column")
    response_name = lhs_names[0]
    _check_missing_values(data, [response_name, *rhs_names])
    levels = {}
    for name in rhs_names:
        levels.update(_check_encodable(data[name], name))
    try:
        mm = model_matrix(parsed.rhs, data, na_action="ignore")
    except Exception as e:
        raise ValueError(f"cannot encode the predictors of {formula!r}: {e}") from e
    spec = mm.model_spec
    variables = sorted(spec.variables_by_source.get("data", set()))
    _check_missing_values(data, variables)
    mm = _numeric_matrix(mm, formula)
    intercept = _INTERCEPT in mm.columns
    predictors = mm.drop(columns=_INTERCEPT, errors="ignore")
    design = Design(
        formula=formula,
        columns=[str(c) for c in predictors.columns],
        variables=variables,
        intercept=intercept,
        spec=spec,
        levels=levels,
    )
    return design, predictors.to_numpy(dtype=np.float64), data[response_name]


def from_arrays(X: Any, y: Any) -> tuple[Design, np.ndarray, pd.Series]:
    """Take predictors and response as given (arrays, lists or a DataFrame and a Series)."""
    frame_columns = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    n_cols = np.shape(X)[1] if np.ndim(X) == 2 else 0
    names = frame_columns or [f"x{i + 1}" for i in range(n_cols)]  # R's default names
    design = Design(formula=None, columns=names, variables=names, frame_columns=frame_columns)
    matrix = _array_matrix(X, design, fitting=True)
    if np.ndim(y) > 1 and np.shape(y)[1] != 1:
        raise ValueError(f"y must be one column, got shape {np.shape(y)}")
    response = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y).ravel(), name="y")
    if len(response) != matrix.shape[0]:
        raise ValueError(
            f"X has {matrix.shape[0]} rows but y has {len(response)}: give one label per row"
        )
    _check_missing_values(pd.DataFrame({"y": response.to_numpy()}), ["y"])
    return design, matrix, response.reset_index(drop=True)


def _lookups(formula: Any) -> list[str]:
    """The data columns a formula side names directly (its 'lookup' factors), in order."""
    names: list[str] = []
    for term in formula:
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", factor.eval_method)
            if method == "lookup" and factor.expr not in names:
                names.append(factor.expr)
    return names


def _check_missing_values(data: pd.DataFrame, columns: list[str]) -> None:
    """NaN / None anywhere in `columns` is an error naming the column and the first rows."""
    for name in columns:
        bad = data[name].isna().to_numpy()
        if bad.any():
            rows = list(data.index[bad][:5])
            raise ValueError(
                f"column {name!r} has {int(bad.sum())} missing value(s) (NaN) at row(s) "
                f"{', '.join(map(str, rows))}{' ...' if bad.sum() > 5 else ''}: drop or impute "
                "them first"
            )


def _check_encodable(column: pd.Series, name: str) -> dict[str, set[Any]]:
    """A predictor must be numeric, boolean, categorical or text; returns its levels when it is
    not numeric (so that prediction can refuse unseen ones)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return {name: set(column.unique())}
    if dtype.kind in "biuf":
        return {}
    if dtype.kind in "OSU" or pd.api.types.is_string_dtype(dtype):
        odd = [v for v in column if not isinstance(v, (str, bool, int, float, np.generic))]
        if not odd:
            return {name: set(column.unique())}
        example = odd[0]
        raise ValueError(
            f"column {name!r} holds {type(example).__name__} values (e.g. {example!r}), which "
            "a formula cannot encode as a predictor: use numbers, text or a categorical"
        )
    raise ValueError(
        f"column {name!r} has dtype {dtype}, which a formula cannot encode as a predictor: "
        "convert it to numbers (or a categorical) first"
    )


def _numeric_matrix(mm: Any, formula: str | None) -> pd.DataFrame:
    """The model matrix as a float DataFrame; complex or non-finite columns are named."""
    frame = pd.DataFrame(mm)
    for name in frame.columns:
        kind = frame[name].dtype.kind
        if kind not in "biuf":
            raise ValueError(
                f"design column {name!r} of {formula!r} is {frame[name].dtype}, not real numbers"
            )
    values = frame.to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        col = frame.columns[np.argwhere(~finite)[0][1]]
        raise ValueError(f"design column {col!r} of {formula!r} has infinite or NaN values")
    return frame.astype(np.float64)


def _array_matrix(X: Any, design: Design, fitting: bool = False) -> np.ndarray:
    """Predictors given as an array (or DataFrame without a formula) as a float matrix."""
    if isinstance(X, pd.DataFrame):
        if design.frame_columns is not None:
            missing = [c for c in design.frame_columns if c not in X.columns]
            if missing:
                raise ValueError(
                    f"new data lack column(s) {', '.join(map(repr, missing))} "
                    f"(the network was fitted on: {', '.join(design.frame_columns)})"
                )
            X = X[design.frame_columns]
        _check_missing_values(X, list(X.columns))
        for name in X.columns:
            if X[name].dtype.kind not in "biuf":
                raise ValueError(
                    f"column {name!r} has dtype {X[name].dtype}; without a formula every "
                    "predictor must be numeric (pass a formula to encode categories)"
                )
    try:
        matrix = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"X must be numeric: {e}") from e
    if matrix.ndim != 2:
        raise ValueError(f"X must be 2-D (rows = samples), got shape {matrix.shape}")
    bad = ~np.isfinite(matrix)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"X has a non-finite value ({matrix[row, col]}) in column {design.columns[col]!r} "
            f"(index {col}) at row {row}"
            if col < len(design.columns)
            else f"X has a non-finite value at row {row}, column {col}"
        )
    if not fitting and matrix.shape[1] != len(design.columns):
        raise ValueError(
            f"X has {matrix.shape[1]} columns but the network was fitted on {len(design.columns)}"
        )
    return matrix
