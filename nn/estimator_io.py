"""Saving a trained `NeuralNetwork` as one self-contained safetensors file, and loading it.

The weights go in as tensors; everything else needed to predict on new data goes in the
file's string metadata as JSON: the formula (or the array column names), the class labels,
the task, the architecture and the constructor's parameters. No pickle: a model file from a
stranger cannot run code. A formula's encoding is rebuilt at load time by running formulaic
on a small prototype frame holding every categorical level seen in training, and the rebuilt
design columns must equal the saved ones, or loading stops with an error.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from . import _design
from .io import load as _load
from .io import save as _save

FORMAT = "microtensor.NeuralNetwork"
VERSION = "1"


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a label or parameter (NumPy scalars become Python ones)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_network(net: Any, path: str | os.PathLike[str],
                 extra: dict[str, str] | None = None) -> None:
    """Write `net` (a set-up NeuralNetwork) to `path` atomically, weights and metadata."""
    net._require_setup("save")
    design = net.design_
    params = {k: _plain(v) for k, v in net.get_params().items() if not callable(v)}
    linears = [m for m in net.model_ if hasattr(m, "weight")]
    architecture = {
        "layers": [[int(m.weight.shape[0]), int(m.weight.shape[1]), m.bias is not None]
                   for m in linears],
        "activation": net.activation,
        "hidden": [int(h) for h in net._hidden_sizes()],
    }
    classes = None if net.classes_ is None else [_plain(c) for c in net.classes_]
    body = {
        "params": params,
        "task": net.task_,
        "response": net.response_,
        "classes": classes,
        "design": {
            "formula": design.formula,
            "columns": design.columns,
            "variables": design.variables,
            "intercept": design.intercept,
            "levels": {k: sorted((_plain(v) for v in vals), key=str)
                       for k, vals in design.levels.items()},
            "frame_columns": design.frame_columns,
        },
        "architecture": architecture,
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


def load_network(path: str | os.PathLike[str]) -> Any:
    """Rebuild a NeuralNetwork saved by `save_network`, ready to `predict` on new data.
    A file that is not a microtensor model is a ValueError naming the path."""
    from .estimator import NeuralNetwork

    arrays, meta = _load(path, with_metadata=True)
    if meta.get("format") != FORMAT or "network" not in meta:
        raise ValueError(
            f"{os.fspath(path)!r} is a safetensors file but not a microtensor model "
            "(no NeuralNetwork metadata)"
        )
    if meta.get("version") != VERSION:
        raise ValueError(f"{os.fspath(path)!r}: unsupported model version {meta.get('version')!r}")
    try:
        body = json.loads(meta["network"])
        params = body["params"]
        d = body["design"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{os.fspath(path)!r}: damaged model metadata ({e})") from None
    params["hidden"] = tuple(params["hidden"]) if isinstance(params["hidden"], list) else (
        params["hidden"])
    net = NeuralNetwork(**params)
    net.task_ = body["task"]
    net.response_ = body["response"]
    net.classes_ = None if body["classes"] is None else np.array(body["classes"], dtype=object)
    design = _design.Design(
        formula=d["formula"], columns=d["columns"], variables=d["variables"],
        intercept=d["intercept"], levels={k: set(v) for k, v in d["levels"].items()},
        frame_columns=d["frame_columns"],
    )
    if design.formula is not None:
        design.spec = _rebuild_spec(design, body["response"], path)
    net.design_ = design
    layers = body["architecture"]["layers"]
    net.model_ = net._build(layers[0][0], layers[-1][1], design.intercept)
    try:
        net.model_.load_state_dict(arrays)
    except (KeyError, ValueError, RuntimeError) as e:
        raise ValueError(f"{os.fspath(path)!r}: weights do not fit the saved architecture "
                         f"({e})") from None
    net.n_features_in_ = layers[0][0]
    net.X_ = net.y_ = net._target = None
    net.output = None
    net._opt = None
    net.loss_history_ = []
    return net


def _rebuild_spec(design: Any, response: str, path: Any) -> Any:
    """formulaic's model spec for `design.formula`, from a prototype frame that holds every
    categorical level seen in training (numeric columns are zeros)."""
    n = max([1, *(len(v) for v in design.levels.values())])
    frame = {}
    for name in design.variables:
        if name in design.levels:
            levels = sorted(design.levels[name], key=str)
            frame[name] = [levels[i % len(levels)] for i in range(n)]
        else:
            frame[name] = np.zeros(n)
    frame.setdefault(response, np.zeros(n))
    rebuilt, _, _ = _design.from_formula(design.formula, pd.DataFrame(frame))
    if sorted(rebuilt.columns) != sorted(design.columns):
        raise ValueError(
            f"{os.fspath(path)!r}: the formula {design.formula!r} no longer gives the saved "
            f"design columns ({rebuilt.columns} vs {design.columns})"
        )
    return rebuilt.spec
