"""Text for pictures and for `explain`: value summaries, op arguments, derivative rules.

Pure functions on arrays and nodes; nothing here imports graphviz.
"""

from __future__ import annotations

import html
import inspect
import re
from functools import cache
from typing import Any

import numpy as np

from ..graph import NodeView

#: Tensors with at most this many elements are printed in full in a picture.
PICTURE_LIMIT = 6
#: ... and in `explain`'s text.
TEXT_LIMIT = 12


def esc(text: Any) -> str:
    """Escape text for a Graphviz HTML-like label."""
    return html.escape(str(text), quote=True)


def fmt_shape(shape: tuple[int, ...]) -> str:
    """(3, 4) as "(3, 4)"; a 0-d shape as "()"."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_number(v: Any) -> str:
    """A short, exact-looking number: 16 -> "16", 0.1049787 -> "0.105", True -> "True"."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v) + 0.0:.4g}"  # + 0.0 turns -0.0 into 0.0: no "-0" in pictures


def nonfinite(a: Any) -> str | None:
    """ "2 nan, 1 inf" when a float array holds nan/inf, else None."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return None
    finite = np.isfinite(a)
    if finite.all():
        return None
    nan = int(np.isnan(a).sum())
    inf = a.size - int(finite.sum()) - nan
    parts = ([f"{nan} nan"] if nan else []) + ([f"{inf} inf"] if inf else [])
    return ", ".join(parts)


def summarize(a: Any, limit: int = PICTURE_LIMIT) -> str:
    """Values of a small array in full; a large one as min / mean / max (over finite values).

    nan and inf are counted rather than allowed to swallow the statistics.
    """
    a = np.asarray(a)
    if a.size == 0:
        return "[]"
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true" if a.size > limit else _full(a)
    if a.size == 1:
        return fmt_number(a.reshape(()).item())
    if a.size <= limit:
        return _full(a)
    # statistics of huge or nan-holding arrays must never warn (tests raise on warnings)
    with np.errstate(all="ignore"):
        flat = a.astype(np.float64, copy=False).ravel()
        finite = flat[np.isfinite(flat)]
        bad = nonfinite(a)
        if finite.size == 0:
            return bad or "[]"
        text = (
            f"min {fmt_number(finite.min())}  mean {fmt_number(finite.mean())}  "
            f"max {fmt_number(finite.max())}"
        )
    return text + (f"  ({bad})" if bad else "")


def _full(a: np.ndarray) -> str:
    # every number as fmt_number writes it: [0.235, 0.1966], not NumPy's aligned [0.235 , 0.1966]
    with np.errstate(all="ignore"):
        return np.array2string(
            a,
            separator=", ",
            max_line_width=10**6,
            threshold=10**6,
            formatter={"float_kind": fmt_number, "int_kind": fmt_number},
        ).replace("\n", "")


def fmt_index(index: Any) -> str:
    """An index as it was written: (slice(None), slice(1, None)) -> "[:, 1:]"."""
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(_fmt_index_item(i) for i in items) + "]"


def _fmt_index_item(i: Any) -> str:
    if isinstance(i, slice):
        parts = ["" if v is None else str(v) for v in (i.start, i.stop)]
        text = ":".join(parts)
        return text + (f":{i.step}" if i.step is not None else "")
    if i is None:
        return "None"
    if i is Ellipsis:
        return "..."
    if isinstance(i, np.ndarray):
        kind = "bool mask" if i.dtype.kind == "b" else "indices"
        return f"{kind} {fmt_shape(i.shape)}" if i.size > 4 else str(i.tolist())
    return str(i)


def _fmt_arg(v: Any) -> str:
    if isinstance(v, tuple):
        return fmt_shape(v) if all(isinstance(n, (int, np.integer)) for n in v) else str(v)
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return str(np.dtype(v))
    if isinstance(v, (int, float, np.number, bool, np.bool_)):
        return fmt_number(v)
    if isinstance(v, np.ndarray):
        return summarize(v)
    text = str(v)
    return text if len(text) <= 24 else text[:21] + "..."


def op_args(fn: NodeView) -> list[str]:
    """The key arguments of an op node: its keyword arguments (axis, keepdims, shape, index,
    ...; defaults such as axis=None are left out) and what forward recorded (Pow's exponent,
    Clip's bounds)."""
    out = []
    op = fn.function
    exponent = getattr(op, "exponent", None)
    if exponent is None and fn.name == "Pow":  # x ** c: c is Pow's input y, saved for backward
        exponent = next((v for kind, i, v in fn.saved
                         if kind == "input" and i == 1 and np.ndim(v) == 0), None)
    if exponent is not None:
        out.append(f"exponent={_fmt_arg(exponent)}")
    for attr, label in (("lo", "min"), ("hi", "max")):
        bound = vars(op).get(attr)
        if bound is not None:
            out.append(f"{label}={_fmt_arg(bound)}")
    for key, value in fn.kwargs.items():
        if value is None or value is False:
            continue
        if key == "index":
            out.append(fmt_index(value))
        elif value is True:
            out.append(key)
        else:
            out.append(f"{key}={_fmt_arg(value)}")
    return out


@cache
def _doc_line(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return ""
    return doc.strip().splitlines()[0].strip()


def rule(fn: NodeView) -> str:
    """The first line of the op's docstring: its definition and one-line derivative rule."""
    return _doc_line(type(fn.function)) or f"{fn.name} (no docstring: no rule to show)"


def split_rule(text: str) -> tuple[str, str]:
    """("x * y", "d/dx = y,  d/dy = x") from "x * y.   d/dx = y,  d/dy = x"."""
    parts = re.split(r"\.\s{2,}", text, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", text)


@cache
def _input_names(cls: type) -> tuple[tuple[str, ...], str | None, frozenset[int]]:
    """Names of forward's positional parameters, the *args name if any, and the indices of
    positional parameters with defaults (arguments such as Clip's bounds, not inputs)."""
    try:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return (), None, frozenset()
    names: list[str] = []
    star = None
    optional = set()
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is not p.empty:
                optional.add(len(names))
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            star = p.name
    return tuple(names), star, frozenset(optional)


def input_name(fn: NodeView, i: int) -> str:
    """The name forward gives its input `i` ("x", "y", "xs[2]"), or "input i"."""
    names, star, _ = _input_names(type(fn.function))
    if i < len(names):
        return names[i]
    if star is not None:
        return f"{star}[{i - len(names)}]"
    return f"input {i}"


def is_argument(fn: NodeView, i: int) -> bool:
    """True when positional input `i` is an argument with a default (Clip's min/max, Cast's
    dtype) rather than an array input: such inputs are shown on the op, not as nodes."""
    return i in _input_names(type(fn.function))[2]


def saved_items(fn: NodeView) -> list[tuple[str, Any]]:
    """What an op saved for backward, as (what, value): "x", "out", or "aux" for constants it
    computed (masks, signs). Empty when it saved nothing; see `freed` for freed nodes."""
    short = {"constant": "aux", "output": "out"}
    return [(short.get(kind) or input_name(fn, i), value) for kind, i, value in fn.saved]


def describe_value(value: Any) -> str:
    """ "(4, 3) float64" for arrays, the number itself for scalars."""
    if isinstance(value, np.ndarray):
        return f"{fmt_shape(value.shape)} {value.dtype}"
    if hasattr(value, "data") and isinstance(value.data, np.ndarray):
        return describe_value(value.data)
    return _fmt_arg(value)
