"""Functional forms of nn/normalization.py, nn/sparse.py and the dropout variants of
nn/layers.py, with PyTorch's names and arguments: batch_norm, layer_norm, group_norm,
dropout1d, dropout2d, alpha_dropout and embedding.

The normalizations are one fused node each (microtensor.ops.normalization.normalize: the statistics,
the normalization and the affine map, with a closed-form backward that is itself
differentiable); batch_norm in evaluation mode is an affine map of the input with constants
from the running statistics (two ops). Running statistics are updated in place, as PyTorch's.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops.dropout import dropout as _dropout
from microtensor.ops.normalization import embedding_lookup, normalize

__all__ = [
    "alpha_dropout", "batch_norm", "dropout1d", "dropout2d", "embedding", "group_norm",
    "layer_norm",
]


def _input(x: Any, where: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{where}: expected a Tensor or an array, got {type(x).__name__}")


def _array(value: Any) -> np.ndarray:
    """The array a buffer (a Tensor or an array) holds, itself (for in-place updates)."""
    return value.data if isinstance(value, Tensor) else value


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    """(1, C, 1, ...): a per-channel vector shaped to broadcast against x (N, C, *)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _per_channel(p: Any, x: Tensor, name: str, where: str) -> Any:
    """A per-channel parameter of shape (C,) reshaped to broadcast against x, or None."""
    if p is None:
        return None
    if tuple(p.shape) != (x.shape[1],):
        raise ValueError(f"{where}: {name} of shape {tuple(p.shape)} does not match the "
                         f"input's {x.shape[1]} channels (input shape {x.shape})")
    return p.reshape(_channel_shape(x))


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,  # noqa: A002
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization of `input` (N, C, *) per channel C, as torch's F.batch_norm.

    Training (or no running statistics): normalize with the batch's mean and biased
    variance over every axis but C, and when running statistics are given update them in
    place: running = (1 - momentum) * running + momentum * batch, with the unbiased variance.
    Evaluation: normalize with the running statistics. Then `* weight + bias` (each (C,)).
    """
    x = _input(input, "batch_norm")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {x.shape}")
    w = _per_channel(weight, x, "weight", "batch_norm")
    b = _per_channel(bias, x, "bias", "batch_norm")
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and tuple(r.shape) != (x.shape[1],):
            raise ValueError(f"batch_norm: {name} of shape {tuple(r.shape)} does not match the "
                             f"input's {x.shape[1]} channels (input shape {x.shape})")
    if not training and running_mean is not None and running_var is not None:
        rstd = 1.0 / np.sqrt(_array(running_var).astype(x.dtype, copy=False) + eps)
        mean = _array(running_mean).astype(x.dtype, copy=False)
        shape = _channel_shape(x)
        # y = x * scale + shift, scale = weight * rstd, shift = bias - mean * scale
        scale = rstd.reshape(shape) if w is None else w * rstd.reshape(shape)
        shift = -mean.reshape(shape) * scale
        if b is not None:
            shift = shift + b
        return x * scale + shift
    axes = (0, *range(2, x.ndim))
    count = x.size // x.shape[1] if x.shape[1] else 0
    if training and count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    stats: list[Any] = []
    if x.ndim > 3:
        # (N, C, H, W) as (N, C, H*W): NumPy's loops then run along whole rows of a channel
        # rather than rows of W elements (measured 2x faster on (64, 16, 14, 14))
        flat = (x.shape[0], x.shape[1], -1)
        out = normalize(x.reshape(flat), None if w is None else w.reshape((1, -1, 1)),
                        None if b is None else b.reshape((1, -1, 1)), (0, 2), eps, stats)
        out = out.reshape(x.shape)
    else:
        out = normalize(x, w, b, axes, eps, stats)
    if training and (running_mean is not None or running_var is not None):
        mean, var = (s.reshape(-1) for s in stats)
        m = float(momentum)
        if running_mean is not None:
            rm = _array(running_mean)
            rm *= 1.0 - m
            rm += m * mean
        if running_var is not None:
            rv = _array(running_var)
            rv *= 1.0 - m
            rv += (m * count / (count - 1)) * var
    return out


def _normalized_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Layer normalization over the last len(normalized_shape) axes (mean and biased
    variance of each sample there), then `* weight + bias` (each of normalized_shape), as
    torch's F.layer_norm."""
    x = _input(input, "layer_norm")
    shape = _normalized_shape(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k:] != shape or x.ndim < k:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the last axes "
                         f"of the input of shape {x.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(p.shape)}, expected "
                             f"normalized_shape {shape}")
    return normalize(x, weight, bias, tuple(range(x.ndim - k, x.ndim)), eps)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Group normalization of `input` (N, C, *): the C channels split into `num_groups`
    groups, each sample's group normalized over its channels and positions, then
    `* weight + bias` per channel (each (C,)), as torch's F.group_norm."""
    x = _input(input, "group_norm")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {x.shape}")
    n, c = x.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels cannot be split into {num_groups} groups "
                         f"(input shape {x.shape})")
    w = _per_channel(weight, x, "weight", "group_norm")
    b = _per_channel(bias, x, "bias", "group_norm")
    spatial = math.prod(x.shape[2:])
    grouped = (n, num_groups, c // num_groups, spatial)
    # the per-channel parameters as (1, G, C/G, 1): the affine map joins the same node
    w = None if w is None else w.reshape((1, num_groups, c // num_groups, 1))
    b = None if b is None else b.reshape((1, num_groups, c // num_groups, 1))
    out = normalize(x.reshape(grouped), w, b, (2, 3), eps)
    return out.reshape(x.shape)


def _channel_dropout(x: Tensor, p: float, training: bool, where: str, dims: int) -> Tensor:
    """Zero whole channels of x (N, C, *spatial) or (C, *spatial) with probability p and
    scale the rest by 1 / (1 - p); the identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: p must be in [0, 1], got {p}")
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{where}: expected a {dims + 1}-D or {dims + 2}-D input (channels "
                         f"and {dims} spatial axes, with or without a batch axis), got shape "
                         f"{x.shape}")
    if not training or p == 0.0:
        return x
    keep = x.shape[: x.ndim - dims] + (1,) * dims
    if p == 1.0:
        return x * np.zeros(keep, dtype=x.dtype)
    return _dropout(x, p, mask_shape=keep)  # the mask is drawn inside the op


def dropout1d(input: Any, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the rest by
    1 / (1 - p), as torch's F.dropout1d; the identity when not `training`."""
    return _channel_dropout(_input(input, "dropout1d"), p, training, "dropout1d", 1)


def dropout2d(input: Any, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, H, W) or (C, H, W) with probability p, scaling the rest
    by 1 / (1 - p), as torch's F.dropout2d; the identity when not `training`. A 3-D input is
    read as (N, C, L), with a warning, as PyTorch does today."""
    x = _input(input, "dropout2d")
    if x.ndim == 3:
        warnings.warn("dropout2d: a 3-D input is read as (N, C, L) and whole channels of "
                      "length L are dropped (PyTorch's behaviour); use dropout1d for that, "
                      "or give a 4-D (N, C, H, W) input", UserWarning, stacklevel=2)
        return _channel_dropout(x, p, training, "dropout2d", 1)
    return _channel_dropout(x, p, training, "dropout2d", 2)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False) -> Tensor:  # noqa: A002
    """Dropout that keeps SELU's zero mean and unit variance (Klambauer et al. 2017): dropped
    elements are set to SELU's negative saturation value, then an affine map a * x + b
    restores the statistics, as torch's F.alpha_dropout; the identity when not `training`."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: p must be in [0, 1], got {p}")
    x = _input(input, "alpha_dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    alpha = _SELU_ALPHA * _SELU_SCALE  # -alpha is SELU's limit at -infinity
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = (mt.default_generator().random(x.shape) >= p).astype(x.dtype)
    # kept: a * x + alpha * a * p; dropped: a * (-alpha) + alpha * a * p
    b = (keep - 1) * (alpha * a) + alpha * a * p
    return x * (keep * a) + b


def embedding(input: Any, weight: Any, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0) -> Tensor:
    """The rows of `weight` (num_embeddings, embedding_dim) at the integer indices `input`
    (a Tensor, an array or a list, any shape), shape input.shape + (embedding_dim,), as
    torch's F.embedding. Repeated indices add their gradients up; row `padding_idx` gets no
    gradient. `max_norm` renormalizes, in place, each looked-up row whose `norm_type` norm
    exceeds it (as PyTorch does, outside the graph)."""
    return _lookup(input, weight, padding_idx, max_norm, norm_type, "embedding")


def _lookup(input: Any, weight: Any, padding_idx: int | None, max_norm: float | None,  # noqa: A002
            norm_type: float, where: str) -> Tensor:
    """F.embedding, with `where` (the layer) named in the errors."""
    raw = input.data if isinstance(input, Tensor) else input
    idx = np.asarray(raw)
    if idx.dtype.kind not in "iu" and not (idx.size == 0 and idx.dtype.kind == "f"):
        raise TypeError(f"{where}: indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.intp, copy=False)
    if weight.ndim != 2:
        raise ValueError(f"{where}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    num = weight.shape[0]
    if idx.size:
        bad = (idx < 0) | (idx >= num)
        if bad.any():
            first = int(idx[bad].flat[0])
            raise IndexError(f"{where}: index {first} is out of range for an embedding of "
                             f"{num} rows (valid: 0 to {num - 1})")
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, num, where)
    if max_norm is not None:
        _renorm_rows(_array(weight), idx, float(max_norm), float(norm_type))
    return embedding_lookup(weight, idx, padding_idx)


def _padding_index(padding_idx: int, num: int, where: str) -> int:
    """padding_idx made non-negative (a negative one counts from the end, as PyTorch's)."""
    if not -num <= padding_idx < num:
        raise ValueError(f"{where}: padding_idx {padding_idx} is out of range for an embedding "
                         f"of {num} rows")
    return padding_idx % num


def _renorm_rows(table: np.ndarray, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale, in place, the rows of `table` at `idx` whose norm exceeds max_norm down to it
    (PyTorch's embedding_renorm_: the factor max_norm / (norm + 1e-7))."""
    rows = np.unique(idx)
    norms = np.linalg.norm(table[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    table[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(table.dtype)
