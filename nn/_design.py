"""Data in, design matrix out: the formula and array front ends of `nn.NeuralNetwork`.

A formula ("Species ~ .") is parsed by `nn.formula` (a restricted grammar, never evaluated)
and fitted to a DataFrame: each factor learns what it needs from the training data (a text
column its levels, scale() its mean and sd), and the terms become blocks of design columns
with formulaic's / R's names and coding (treatment contrasts `site[T.south]`, full coding
`site[north]` where the intercept or a lower-order term does not span the first level).
Everything a `Design` holds is plain data (strings, numbers, lists), so a model file can store
it and rebuild it without reading any code. Arrays are taken as they are. Either way every
problem with the data is reported here, before training, as a ValueError that names the
column or value at fault.
"""

# ruff: noqa: N803, N806  (X is the design matrix, as in scikit-learn and the article)

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .formula import MAX_POLY_DEGREE, TRANSFORMS, Factor, parse_formula, show

_MAX_COLUMNS = 100_000  # a design wider than this is a mistake (a.k.a. .*.*. on wide data)
_KINDS = ("numeric", "categorical")


@dataclass
class Encoding:
    """How one factor of a formula turns a data column into numbers, as plain data: the
    column, the transform ("" for none, or one of `nn.formula.TRANSFORMS`), poly's degree,
    the kind ("numeric", or "categorical": one indicator per level, the levels being in
    `Design.levels[column]`) and, for scale() and center(), the training data's mean and sd."""

    column: str
    transform: str = ""
    degree: int = 0
    kind: str = "numeric"
    mean: float = 0.0
    sd: float = 1.0

    @property
    def name(self) -> str:
        """The factor as design column names show it: `x`, `C(x)`, `poly(x, 2)`."""
        return Factor(self.column, self.transform, self.degree).name


@dataclass
class Design:
    """How data become the network's input: a fitted formula, or plain columns.

    `columns` are the design matrix's predictor columns (the intercept, when there is one,
    is not among them: the first layer's bias plays its part), `variables` the data columns
    they are computed from. For a formula, `factors` are the fitted encodings and `blocks`
    the design's column blocks, each a list of (factor index, full coding) pairs whose
    columns are multiplied together; `levels` holds each categorical column's levels in
    coding order. `formula` is kept as text for display only: nothing is ever re-parsed from
    it. Without a formula, `factors` is empty and `frame_columns` are the DataFrame's names.
    """

    formula: str | None
    columns: list[str]
    variables: list[str]
    intercept: bool = True
    factors: list[Encoding] = field(default_factory=list)
    blocks: list[list[tuple[int, bool]]] = field(default_factory=list)
    levels: dict[str, list[Any]] = field(default_factory=dict)
    frame_columns: list[str] | None = None

    def transform(self, data: Any) -> np.ndarray:
        """The predictor matrix (n, len(columns)) of new data, encoded as at fit time."""
        if not self.factors:
            return _array_matrix(data, self)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"this network was built from the formula {self.formula!r}: give new data as a "
                f"pandas DataFrame, got {type(data).__name__}"
            )
        frame = _by_name(data, self.variables)
        missing = [v for v in self.variables if v not in frame.columns]
        if missing:
            raise ValueError(
                f"new data lack column(s) {', '.join(map(repr, missing))} needed by the formula "
                f"{self.formula!r} (they have: {show(', '.join(map(str, data.columns)))})"
            )
        _check_missing_values(frame, self.variables)
        return self._matrix(frame)

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The design matrix of `frame` (columns named as strings, checked for NaN)."""
        per_factor = [_encode(enc, frame[enc.column], self.levels.get(enc.column))
                      for enc in self.factors]
        names: list[str] = []
        blocks: list[np.ndarray] = []
        for block in self.blocks:
            parts = [per_factor[i][1] if full else per_factor[i][0] for i, full in block]
            for name, values in _products(parts):
                names.append(name)
                blocks.append(values)
        matrix = np.column_stack(blocks) if blocks else np.zeros((len(frame), 0))
        finite = np.isfinite(matrix)
        if not finite.all():
            col = names[int(np.argwhere(~finite)[0][1])]
            raise ValueError(
                f"design column {col!r} of {self.formula!r} has infinite or NaN values (e.g. "
                "log or sqrt of a value outside its domain)"
            )
        return matrix

    def column_names(self) -> list[str]:
        """The design columns that `factors`, `blocks` and `levels` give (no data needed)."""
        per_factor = [_names(enc, self.levels.get(enc.column)) for enc in self.factors]
        names: list[str] = []
        for block in self.blocks:
            parts = [[(n, None) for n in (per_factor[i][1] if full else per_factor[i][0])]
                     for i, full in block]
            names.extend(name for name, _ in _products(parts))
        return names

    def to_dict(self) -> dict[str, Any]:
        """The design as JSON-ready data (what a model file stores)."""
        return {
            "formula": self.formula,
            "columns": list(self.columns),
            "variables": list(self.variables),
            "intercept": bool(self.intercept),
            "factors": [{"column": f.column, "transform": f.transform, "degree": f.degree,
                         "kind": f.kind, "mean": f.mean, "sd": f.sd} for f in self.factors],
            "blocks": [[[int(i), bool(full)] for i, full in block] for block in self.blocks],
            "levels": {k: [_plain(v) for v in vals] for k, vals in self.levels.items()},
            "frame_columns": self.frame_columns,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Design:
        """Rebuild a design from `to_dict`'s data, checking every field: anything damaged is
        a ValueError naming the key ("design.levels", ...). Nothing is parsed or evaluated."""
        return _design_from_dict(d)


def from_formula(formula: str, data: Any) -> tuple[Design, np.ndarray, pd.Series]:
    """Parse `formula` against `data` (a DataFrame) and fit it: the design, the predictor
    matrix and the response column (as given: a categorical stays categorical)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"a formula needs its data as a pandas DataFrame, got {type(data).__name__}"
        )
    names = [str(c) for c in data.columns]
    parsed = parse_formula(formula, names)
    used = [parsed.response, *parsed.variables]
    twice = sorted({n for n in used if names.count(n) > 1})
    if twice:
        raise ValueError(f"the data have more than one column named {twice[0]!r}: rename them")
    frame = _by_name(data, used)
    _check_missing_values(frame, used)
    index: dict[Factor, int] = {}
    factors: list[Encoding] = []
    levels: dict[str, list[Any]] = {}
    for term in parsed.terms:
        for factor in term:
            if factor not in index:
                index[factor] = len(factors)
                factors.append(_fit(factor, frame[factor.column], levels))
    categorical = {f for f, i in index.items() if factors[i].kind == "categorical"}
    blocks = _blocks(parsed.terms, index, categorical, parsed.intercept)
    design = Design(formula=formula, columns=[], variables=parsed.variables,
                    intercept=parsed.intercept, factors=factors, blocks=blocks, levels=levels)
    design.columns = design.column_names()
    if not design.columns:
        raise ValueError(
            f"formula {formula!r} gives no design columns (a categorical predictor with a single "
            "level has nothing to tell apart): a network needs at least one input"
        )
    if len(design.columns) > _MAX_COLUMNS:
        raise ValueError(f"formula {formula!r} gives {len(design.columns)} design columns, "
                         f"more than {_MAX_COLUMNS}")
    matrix = design._matrix(frame)
    return design, matrix, data[data.columns[names.index(parsed.response)]]


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


# ----------------------------------------------------------------------------- fitting
def _plain(value: Any) -> Any:
    """A level as a plain Python value (NumPy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _by_name(data: pd.DataFrame, wanted: list[str]) -> pd.DataFrame:
    """The columns of `data` named (as strings) in `wanted`, keyed by those strings; a name
    that is not there is left out (the caller names it)."""
    names = [str(c) for c in data.columns]
    picked = {n: data.iloc[:, names.index(n)] for n in dict.fromkeys(wanted) if n in names}
    return pd.DataFrame(picked, index=data.index)


def _column_kind(column: pd.Series, name: str) -> str:
    """'numeric' or 'categorical': a predictor must be numeric, boolean, categorical or text."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if dtype.kind in "biuf":
        return "numeric"
    if dtype.kind in "OSU" or pd.api.types.is_string_dtype(dtype):
        odd = [v for v in column if not isinstance(v, (str, bool, int, float, np.generic))]
        if not odd:
            return "categorical"
        example = odd[0]
        raise ValueError(
            f"column {name!r} holds {type(example).__name__} values (e.g. {example!r}), which "
            "a formula cannot encode as a predictor: use numbers, text or a categorical"
        )
    raise ValueError(
        f"column {name!r} has dtype {dtype}, which a formula cannot encode as a predictor: "
        "convert it to numbers (or a categorical) first"
    )


def _levels_of(column: pd.Series, name: str) -> list[Any]:
    """A categorical predictor's levels in coding order: a categorical's own order (those
    present), else sorted (by type, then text, when the values do not compare)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.unique())
        values = [c for c in column.cat.categories if c in present]
    else:
        values = list(pd.unique(column.to_numpy(dtype=object)))
        try:
            values = sorted(values)
        except TypeError:
            values = sorted(values, key=lambda v: (type(v).__name__, str(v)))
    levels = list(dict.fromkeys(_plain(v) for v in values))
    for v in levels:
        if not _is_level(v):
            raise ValueError(f"column {name!r} has the level {v!r}: levels must be text, "
                             "booleans or finite numbers")
    return levels


def _is_level(v: Any) -> bool:
    return isinstance(v, (str, bool, int)) or (isinstance(v, float) and math.isfinite(v))


def _fit(factor: Factor, column: pd.Series, levels: dict[str, list[Any]]) -> Encoding:
    """The encoding of one factor, learnt from its training column."""
    name = factor.column
    kind = _column_kind(column, name)
    if factor.transform in ("", "C"):
        if factor.transform == "C" or kind == "categorical":
            levels.setdefault(name, _levels_of(column, name))
            return Encoding(name, factor.transform, 0, "categorical")
        return Encoding(name)
    if kind != "numeric":
        raise ValueError(
            f"{factor.name}: column {name!r} holds {column.dtype} values, not numbers; only "
            f"numeric columns can be transformed (C({name}) encodes categories)"
        )
    x = column.to_numpy(dtype=np.float64)
    enc = Encoding(name, factor.transform, factor.degree)
    if factor.transform in ("scale", "center"):
        enc.mean = float(x.mean())
        if not math.isfinite(enc.mean):
            raise ValueError(f"{factor.name}: the mean of column {name!r} is not finite")
    if factor.transform == "scale":
        enc.sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        if not (math.isfinite(enc.sd) and enc.sd > 0):
            raise ValueError(f"{factor.name}: column {name!r} has no spread (sd {enc.sd}): "
                             "it cannot be scaled")
    return enc


def _blocks(terms: tuple[tuple[Factor, ...], ...], index: dict[Factor, int],
            categorical: set[Factor], intercept: bool) -> list[list[tuple[int, bool]]]:
    """The column blocks of the terms, with each categorical factor's coding (full, or
    reduced: the first level dropped), chosen as patsy and formulaic choose it so that the
    design has full rank: within the terms that share the same numeric factors, a term's
    categorical part is split into the subsets that earlier terms (and the intercept) do not
    already span; a subset {a-} next to a superset {a-, b-} merges into {a-, b+}."""
    spanned: dict[frozenset[Factor], set[frozenset[Factor]]] = {}
    if intercept:
        spanned[frozenset()] = {frozenset()}
    blocks: list[list[tuple[int, bool]]] = []
    for term in terms:
        cats = [f for f in term if f in categorical]
        seen = spanned.setdefault(frozenset(f for f in term if f not in categorical), set())
        subsets = [frozenset(s) for k in range(len(cats) + 1)
                   for s in itertools.combinations(cats, k)]
        subterms: list[dict[Factor, bool]] = [dict.fromkeys(s, False) for s in subsets
                                              if s not in seen]
        seen.update(subsets)
        merged = True
        while merged:
            merged = False
            for i, short in enumerate(subterms):
                for j in range(i + 1, len(subterms)):
                    long = subterms[j]
                    if len(long) == len(short) + 1 and all(
                        long.get(f) is flag for f, flag in short.items()
                    ):
                        (extra,) = [f for f in long if f not in short]
                        if long[extra] is False:
                            subterms[j] = {**short, extra: True}
                            del subterms[i]
                            merged = True
                            break
                if merged:
                    break
        for sub in subterms:
            blocks.append([(index[f], sub.get(f, True)) for f in term
                           if f not in categorical or f in sub])
    return blocks


# ----------------------------------------------------------------------------- encoding
def _numbers(column: pd.Series, name: str) -> np.ndarray:
    if column.dtype.kind not in "biuf":
        raise ValueError(f"column {name!r} must hold numbers, as in the training data; got "
                         f"dtype {column.dtype}")
    return column.to_numpy(dtype=np.float64)


def _names(enc: Encoding, levels: list[Any] | None) -> tuple[list[str], list[str]]:
    """A factor's column names: (reduced coding, full coding); the same for a number."""
    if enc.kind == "categorical":
        levels = levels or []
        return ([f"{enc.name}[T.{v}]" for v in levels[1:]], [f"{enc.name}[{v}]" for v in levels])
    if enc.transform == "poly":
        names = [f"{enc.name}[{p}]" for p in range(1, enc.degree + 1)]
    else:
        names = [enc.name]
    return names, names


def _encode(enc: Encoding, column: pd.Series,
            levels: list[Any] | None) -> tuple[list[tuple[str, np.ndarray]], ...]:
    """A factor's columns on new data: (reduced coding, full coding) as (name, values)."""
    reduced_names, full_names = _names(enc, levels)
    if enc.kind == "categorical":
        levels = levels or []
        lookup: dict[Any, int] = {}
        for i, v in enumerate(levels):
            lookup.setdefault(v, i)
        values = column.to_numpy(dtype=object)
        try:
            codes = np.fromiter((lookup.get(v, -1) for v in values), np.intp, len(values))
        except TypeError:  # an unhashable value cannot be any level
            codes = np.array([lookup.get(v, -1) if isinstance(v, (str, int, float, np.generic))
                              else -1 for v in values], dtype=np.intp)
        if (codes < 0).any():
            unseen = list(dict.fromkeys(_plain(v) for v in values[codes < 0]))
            raise ValueError(
                f"column {enc.column!r} has value(s) {', '.join(map(repr, unseen[:5]))} not "
                f"seen in the training data (seen: {', '.join(map(repr, levels))})"
            )
        full = [(n, (codes == i).astype(np.float64)) for i, n in enumerate(full_names)]
        return full[1:], full
    x = _numbers(column, enc.column)
    with np.errstate(all="ignore"):
        if enc.transform == "poly":
            cols = [x**p for p in range(1, enc.degree + 1)]
        else:
            cols = [{
                "": lambda: x,
                "log": lambda: np.log(x),
                "exp": lambda: np.exp(x),
                "sqrt": lambda: np.sqrt(x),
                "scale": lambda: (x - enc.mean) / enc.sd,
                "center": lambda: x - enc.mean,
            }[enc.transform]()]
    pairs = list(zip(reduced_names, cols))
    return pairs, pairs


def _products(parts: list[list[tuple[str, Any]]]) -> list[tuple[str, Any]]:
    """The columns of an interaction: every combination of one column per factor, named
    a:b and multiplied, the first factor varying fastest (as formulaic orders them)."""
    out: list[tuple[str, Any]] = [("", None)]
    for part in parts:
        out = [(f"{n1}:{n2}" if n1 else n2,
                v2 if v1 is None else (None if v2 is None else v1 * v2))
               for n2, v2 in part for n1, v1 in out]
        if len(out) > _MAX_COLUMNS:
            raise ValueError(f"an interaction gives more than {_MAX_COLUMNS} design columns")
    return out


# ----------------------------------------------------------------------------- from a file
def _damaged(key: str, what: str) -> ValueError:
    return ValueError(f"key {key!r} {what}")


def _str_list(value: Any, key: str) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise _damaged(key, "must be a list of strings")
    return value


def _design_from_dict(d: Any) -> Design:
    """`Design.from_dict`: every field type- and range-checked, then the column names that
    the factors and blocks give must be the stored ones."""
    if not isinstance(d, dict):
        raise _damaged("design", "must be an object")
    for key in ("formula", "columns", "variables", "intercept", "factors", "blocks", "levels",
                "frame_columns"):
        if key not in d:
            raise _damaged(f"design.{key}", "is missing")
    formula = d["formula"]
    if formula is not None and not isinstance(formula, str):
        raise _damaged("design.formula", "must be a string or null")
    columns = _str_list(d["columns"], "design.columns")
    variables = _str_list(d["variables"], "design.variables")
    if not isinstance(d["intercept"], bool):
        raise _damaged("design.intercept", "must be true or false")
    frame = d["frame_columns"]
    if frame is not None:
        _str_list(frame, "design.frame_columns")
    levels = d["levels"]
    if not isinstance(levels, dict):
        raise _damaged("design.levels", "must be an object of lists")
    for name, vals in levels.items():
        key = f"design.levels.{name}"
        if not (isinstance(vals, list) and vals and all(_is_level(v) for v in vals)):
            raise _damaged(key, "must be a non-empty list of text, booleans or finite numbers")
        if len({(v if isinstance(v, str) else float(v)) for v in vals}) != len(vals):
            raise _damaged(key, "has a level twice")
    factors = []
    raw_factors = d["factors"]
    if not isinstance(raw_factors, list):
        raise _damaged("design.factors", "must be a list")
    for i, f in enumerate(raw_factors):
        key = f"design.factors[{i}]"
        if not (isinstance(f, dict) and set(f) == {"column", "transform", "degree", "kind",
                                                    "mean", "sd"}):
            raise _damaged(key, "must be an object with column, transform, degree, kind, mean "
                           "and sd")
        enc = Encoding(**f)
        numbers_ok = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                         and math.isfinite(v) for v in (enc.mean, enc.sd, enc.degree))
        if not (isinstance(enc.column, str) and enc.column in variables):
            raise _damaged(f"{key}.column", "must name one of design.variables")
        if not (isinstance(enc.transform, str) and enc.transform in ("", *TRANSFORMS)):
            raise _damaged(f"{key}.transform",
                           f"must be one of {', '.join(map(repr, ('', *TRANSFORMS)))}")
        if not numbers_ok or enc.sd <= 0 or not isinstance(enc.degree, int):
            raise _damaged(key, "has a degree, mean or sd that is not a valid number")
        if enc.degree != 0 and enc.transform != "poly" or (
            enc.transform == "poly" and not 1 <= enc.degree <= MAX_POLY_DEGREE
        ):
            raise _damaged(f"{key}.degree", f"must be 1 to {MAX_POLY_DEGREE} for poly, else 0")
        want = (("categorical",) if enc.transform == "C" else
                _KINDS if enc.transform == "" else ("numeric",))
        if enc.kind not in want:
            raise _damaged(f"{key}.kind", f"must be {' or '.join(want)} here")
        if enc.kind == "categorical" and enc.column not in levels:
            raise _damaged("design.levels", f"has no levels for column {enc.column!r}")
        factors.append(enc)
    blocks = d["blocks"]
    if not isinstance(blocks, list):
        raise _damaged("design.blocks", "must be a list")
    for i, block in enumerate(blocks):
        if not (isinstance(block, list) and block and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], int)
            and not isinstance(p[0], bool) and 0 <= p[0] < len(factors)
            and isinstance(p[1], bool) for p in block
        )):
            raise _damaged(f"design.blocks[{i}]", "must be a non-empty list of [factor index, "
                           "full coding] pairs")
    design = Design(formula=formula, columns=columns, variables=variables,
                    intercept=d["intercept"], factors=factors,
                    blocks=[[(p[0], p[1]) for p in b] for b in blocks],
                    levels={k: list(v) for k, v in levels.items()}, frame_columns=frame)
    if factors:
        if formula is None:
            raise _damaged("design.formula", "is missing (the design has factors)")
        if {f.column for f in factors} != set(variables):
            raise _damaged("design.variables", "must be the columns that design.factors read")
        if design.column_names() != columns:
            raise _damaged("design.columns", "differ from the columns that design.factors and "
                           "design.blocks give")
    elif blocks or formula is not None:
        raise _damaged("design.factors", "is empty, but the design has a formula")
    elif frame is not None and frame != columns:
        raise _damaged("design.frame_columns", "must equal design.columns")
    elif columns != variables:
        raise _damaged("design.variables", "must equal design.columns without a formula")
    if not columns:
        raise _damaged("design.columns", "is empty: a network needs at least one input")
    return design
