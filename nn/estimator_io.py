"""Saving a trained `NeuralNetwork` as one self-contained safetensors file, and loading it.

The weights go in as tensors; everything else needed to predict on new data goes in the
file's string metadata as JSON data: the design (input columns, each factor's column,
transform and kind, categorical levels, scale()/center() statistics, the column blocks), the
class labels, the task, the architecture and the constructor's parameters. No pickle, and
nothing in a model file is ever run, evaluated or parsed as code: the design is rebuilt from
that data alone (the formula is kept as text, for display). Loading checks every key: damaged
or forged metadata is one ValueError naming the file and the key.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from . import _design
from .io import load as _load
from .io import save as _save

FORMAT = "microtensor.NeuralNetwork"
VERSION = "3"  # 3 adds the scaling; 2 (read as the article's unscaled network) lacks it;
# 1: the design was a formulaic spec rebuilt from the formula (no longer read)
_READS = ("2", "3")
_TASKS = ("classification", "regression")


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a label or parameter: NumPy scalars become Python ones, and
    arrays (the starting matrices of `init=[W1, W2]`) nested lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def save_network(net: Any, path: str | os.PathLike[str],
                 extra: dict[str, str] | None = None) -> None:
    """Write `net` (a set-up NeuralNetwork) to `path` atomically, weights and metadata."""
    net._require_setup("save")
    design = net.design_
    # the settings in force, not the Nones that meant "the preset's": a loaded network must
    # not depend on what the presets are in another version
    params = {k: _plain(v) for k, v in {**net.get_params(), **net.settings_}.items()
              if not callable(v)}
    params["preset"] = net.preset_
    linears = [m for m in net.model_ if hasattr(m, "weight")]
    architecture = {
        "layers": [[int(m.weight.shape[0]), int(m.weight.shape[1]), m.bias is not None]
                   for m in linears],
        "activation": net.settings_["activation"],
        "hidden": [int(h) for h in net._hidden_sizes()],
    }
    classes = None if net.classes_ is None else [_plain(c) for c in net.classes_]
    body = {
        "params": params,
        "task": net.task_,
        "response": net.response_,
        "classes": classes,
        "design": design.to_dict(),
        "architecture": architecture,
        "scaling": {
            "x_mean": None if net.x_mean_ is None else [float(v) for v in net.x_mean_],
            "x_scale": None if net.x_scale_ is None else [float(v) for v in net.x_scale_],
            "y_mean": float(net.y_mean_),
            "y_scale": float(net.y_scale_),
        },
    }
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "formula": design.formula or "",
        "classes": json.dumps(classes),
        "architecture": json.dumps(architecture),
        "network": json.dumps(body),
    }
    metadata.update(extra or {})
    _save(net.model_, path, metadata=metadata)


class _MetaError(ValueError):
    """A key of the metadata is missing or wrong (the message names it)."""


def _key(body: dict[str, Any], key: str, kinds: type | tuple[type, ...], what: str) -> Any:
    """body[key], which must be of `kinds` (bool is not an int here)."""
    if key not in body:
        raise _MetaError(f"key {key!r} is missing")
    value = body[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,))):
        raise _MetaError(f"key {key!r} must be {what}, got {type(value).__name__} {value!r:.80}")
    return value


def load_network(path: str | os.PathLike[str]) -> Any:
    """Rebuild a NeuralNetwork saved by `save_network`, ready to `predict` on new data.
    A file that is not a microtensor model, or whose metadata is damaged or forged, is a
    ValueError naming the path (and the key at fault); nothing in the file is ever run."""
    arrays, meta = _load(path, with_metadata=True)
    where = repr(os.fspath(path))
    if meta.get("format") != FORMAT or "network" not in meta:
        raise ValueError(
            f"{where} is a safetensors file but not a microtensor model "
            "(no NeuralNetwork metadata)"
        )
    if meta.get("version") not in _READS:
        raise ValueError(
            f"{where}: unsupported model version {meta.get('version')!r} (this microtensor "
            f"reads versions {', '.join(_READS)}; retrain the model to save it again)"
        )
    try:
        return _network_from(meta, arrays)
    except _MetaError as e:
        raise ValueError(f"{where}: damaged model metadata: {e}") from None


def _check_formula(design: Any, response: str) -> None:
    """The stored formula text must be one the restricted grammar accepts and must describe
    the stored design (same response, factors and intercept). It is only compared, never used
    to build anything: the design comes from the stored data."""
    from .formula import parse_formula

    try:
        parsed = parse_formula(design.formula, [response, *design.variables])
    except (TypeError, ValueError) as e:
        raise _MetaError(f"key 'design.formula': {e}") from None
    stored = {(f.column, f.transform, f.degree) for f in design.factors}
    named = {(f.column, f.transform, f.degree) for term in parsed.terms for f in term}
    if parsed.response != response or named != stored or parsed.intercept != design.intercept:
        raise _MetaError("key 'design.formula' does not describe the stored design (its "
                         "response, factors or intercept differ)")


def _numbers(value: Any, key: str, count: int, positive: bool) -> np.ndarray:
    """A stored list of `count` finite numbers (positive ones for a scale)."""
    if not (isinstance(value, list) and len(value) == count and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and (v > 0 or not positive) for v in value)):
        what = "positive" if positive else "finite"
        raise _MetaError(f"key {key!r} must list {count} {what} numbers (one per design "
                         f"column), got {value!r:.80}")
    return np.array(value, dtype=np.float64)


def _scaling(stored: Any, n_columns: int, task: str) -> tuple[Any, Any, float, float]:
    """(x_mean, x_scale, y_mean, y_scale) from the file's `scaling` key (absent: none)."""
    if stored is None:
        return None, None, 0.0, 1.0
    if not isinstance(stored, dict):
        raise _MetaError("key 'scaling' must be an object")
    mean, scale = stored.get("x_mean"), stored.get("x_scale")
    if (mean is None) != (scale is None):
        raise _MetaError("keys 'scaling.x_mean' and 'scaling.x_scale' must both be given or "
                         "both be null")
    if mean is not None:
        mean = _numbers(mean, "scaling.x_mean", n_columns, False)
        scale = _numbers(scale, "scaling.x_scale", n_columns, True)
    y_mean, y_scale = stored.get("y_mean", 0.0), stored.get("y_scale", 1.0)
    _numbers([y_mean], "scaling.y_mean", 1, False)
    _numbers([y_scale], "scaling.y_scale", 1, True)
    if task == "classification" and (y_mean, y_scale) != (0.0, 1.0):
        raise _MetaError("keys 'scaling.y_mean' and 'scaling.y_scale' must be 0 and 1 for a "
                         "classifier")
    return mean, scale, float(y_mean), float(y_scale)


def _network_from(meta: dict[str, str], arrays: dict[str, np.ndarray]) -> Any:
    from .estimator import _PARAMS, NeuralNetwork

    try:
        body = json.loads(meta["network"])
    except (json.JSONDecodeError, RecursionError) as e:
        raise _MetaError(f"key 'network' is not valid JSON ({e})") from None
    if not isinstance(body, dict):
        raise _MetaError("key 'network' must be a JSON object")
    params = _key(body, "params", dict, "an object")
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise _MetaError(f"key 'params' has unknown parameter(s) {', '.join(map(repr, unknown))}")
    if "scaling" not in body:  # a version-2 file: the article's network, inputs as they are
        params = {**params, "preset": params.get("preset", "article")}
    hidden = _key(params, "hidden", (int, list), "a whole number or a list of them")
    _key(params, "activation", str, "a string")
    if isinstance(hidden, list):
        hidden = tuple(hidden)
    if not (isinstance(hidden, int) and not isinstance(hidden, bool) or isinstance(
            hidden, tuple) and all(isinstance(h, int) and not isinstance(h, bool)
                                   for h in hidden)):
        raise _MetaError(f"key 'params.hidden' must be a whole number or a list of them, got "
                       f"{hidden!r:.80}")
    task = _key(body, "task", str, "'classification' or 'regression'")
    if task not in _TASKS:
        raise _MetaError(f"key 'task' must be 'classification' or 'regression', got {task!r:.80}")
    response = _key(body, "response", str, "a column name")
    if "design" not in body:
        raise _MetaError("key 'design' is missing")
    try:
        design = _design.Design.from_dict(body["design"])
    except ValueError as e:
        raise _MetaError(str(e)) from None
    arch = _key(body, "architecture", dict, "an object")
    layers = _key(arch, "layers", list, "a list")
    if not layers:
        raise _MetaError("key 'architecture.layers' is empty")
    for i, layer in enumerate(layers):
        if not (isinstance(layer, list) and len(layer) == 3
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                        for n in layer[:2]) and isinstance(layer[2], bool)):
            raise _MetaError(f"key 'architecture.layers[{i}]' must be [inputs >= 1, outputs >= 1, "
                           f"bias true/false], got {layer!r:.80}")
    activation = _key(arch, "activation", str, "a string")
    classes = body.get("classes", "missing")
    if classes == "missing":
        raise _MetaError("key 'classes' is missing")
    if task == "classification":
        if not (isinstance(classes, list) and len(classes) >= 2 and all(
                isinstance(c, (str, bool, int)) or isinstance(c, float) and math.isfinite(c)
                for c in classes)):
            raise _MetaError("key 'classes' must list at least two labels for a classifier")
        if len({repr(c) for c in classes}) != len(classes):
            raise _MetaError("key 'classes' has a label twice")
    elif classes is not None:
        raise _MetaError("key 'classes' must be null for a regression")
    try:
        net = NeuralNetwork(**{**params, "hidden": hidden})
        net._check_params()
        sizes = list(net._hidden_sizes())
    except (TypeError, ValueError) as e:
        raise _MetaError(f"key 'params': {e}") from None
    if activation != net.settings_["activation"]:
        raise _MetaError(f"key 'architecture.activation' ({activation!r:.80}) differs from "
                       f"params.activation ({net.settings_['activation']!r:.80})")
    n_out = 1 if task == "regression" or len(classes) == 2 else len(classes)
    want = list(zip([len(design.columns), *sizes], [*sizes, n_out]))
    got = [(layer[0], layer[1]) for layer in layers]
    if got != want or [layer[2] for layer in layers] != [design.intercept] + [True] * len(sizes):
        raise _MetaError(f"key 'architecture.layers' {got} does not fit the design's "
                       f"{len(design.columns)} columns, params.hidden {sizes} and {n_out} "
                       "output(s)")
    if arch.get("hidden", sizes) != sizes:
        raise _MetaError(f"key 'architecture.hidden' differs from params.hidden {sizes}")
    if meta.get("formula", "") != (design.formula or ""):
        raise _MetaError("key 'formula' differs from design.formula")
    if design.formula is not None:
        _check_formula(design, response)
    scaling = _scaling(body.get("scaling"), len(design.columns), task)
    net.x_mean_, net.x_scale_, net.y_mean_, net.y_scale_ = scaling
    net.preset_ = net.settings_["preset"]
    net.task_ = task
    net.response_ = response
    net.classes_ = None if classes is None else np.array(classes, dtype=object)
    net.design_ = design
    net.model_ = net._build(len(design.columns), n_out, design.intercept)
    try:
        net.model_.load_state_dict(arrays)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise _MetaError(f"the weights do not fit the saved architecture ({e})") from None
    bad = sorted(k for k, a in arrays.items() if not np.isfinite(a).all())
    if bad:
        raise _MetaError(f"tensor {bad[0]!r} holds NaN or infinite weights")
    net.n_features_in_ = len(design.columns)
    net.X_ = net.y_ = net._target = None
    net.output = None
    net._opt = None
    net.loss_history_ = []
    return net
