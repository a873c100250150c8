"""Attention as a function (nn.functional.scaled_dot_product_attention), PyTorch's form.

Built from core ops (matmul, softmax, the elementwise ops), so first and second derivatives
come from theirs. Masks are constants: a boolean mask says which positions take part (True),
a float mask is added to the scores. A query row that no key may attend to gives zeros (and
zero gradients), as PyTorch's scaled_dot_product_attention, not NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def _as_tensor(x: Any, op: str, label: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{op}: {label} must be a float tensor, got dtype {arr.dtype}")
    return mt.tensor(arr)


def additive_mask(mask: Any, dtype: Any, take_part: bool, op: str, label: str) -> np.ndarray:
    """A mask as an array to add to attention scores (a constant): a boolean mask becomes 0
    where positions take part and -inf elsewhere (`take_part` says which value of the mask
    means taking part: True for scaled_dot_product_attention, False for
    MultiheadAttention's masks, as in PyTorch); a float mask is used as it is, in `dtype`."""
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype == np.bool_:
        allowed = arr if take_part else ~arr
        return np.where(allowed, 0.0, -np.inf).astype(dtype)
    if arr.dtype.kind != "f":
        raise TypeError(f"{op}: {label} must be a bool or float mask, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


def mask_to_add(mask: Any, dtype: Any, take_part: bool, op: str, label: str) -> Any:
    """`additive_mask`, except that a float Tensor that requires grad (a learned bias) stays
    a Tensor, in `dtype`, so that it gets its gradient as in PyTorch."""
    if isinstance(mask, Tensor) and mask.dtype.kind == "f" and mask.requires_grad:
        return mask if mask.dtype == dtype else mask.astype(dtype)
    return additive_mask(mask, dtype, take_part, op, label)


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Any, dropout_p: float,
           scale: float) -> tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v over the last two axes, and the attention weights
    (after dropout, as PyTorch returns them). `mask` is None, a constant array, or a float
    Tensor (then it gets a gradient, as in PyTorch). Rows whose mask is -inf everywhere give
    zero weights instead of NaN."""
    scores = mt.matmul(q, mt.swapaxes(k, -1, -2)) * scale
    dead = None
    if mask is not None:
        values = mask.data if isinstance(mask, Tensor) else mask
        blocked = np.isneginf(values).all(axis=-1, keepdims=True)
        if blocked.any():
            # a fully masked row: softmax over finite scores, then zeroed
            dead = blocked
            mask = mt.where(blocked, np.zeros((), dtype=values.dtype), mask) if isinstance(
                mask, Tensor) else np.where(blocked, np.zeros((), dtype=values.dtype), mask)
        scores = scores + mask
    weights = scores.softmax(axis=-1)
    if dead is not None:
        weights = weights * (~dead).astype(weights.dtype)
    if dropout_p > 0.0:
        keep = (mt.default_generator().random(weights.shape) >= dropout_p).astype(weights.dtype)
        if dropout_p < 1.0:  # p == 1 keeps nothing: no 1 / 0 for the empty rest
            keep /= 1.0 - dropout_p
        weights = weights * keep
    return mt.matmul(weights, v), weights


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query key^T * scale + mask) value, PyTorch's function: query (..., L, E),
    key (..., S, E), value (..., S, Ev) with broadcasting leading axes; `scale` defaults to
    1/sqrt(E). `attn_mask` broadcastable to (..., L, S) is boolean (True = takes part) or
    float (added to the scores; a float Tensor that requires grad gets its gradient);
    `is_causal` lets query i attend to keys 0..i only (the top-left aligned lower triangle;
    not together with attn_mask); `dropout_p` drops attention weights (always, as PyTorch's
    function: pass 0 in evaluation); `enable_gqa` lets key and value have fewer heads (axis
    -3) than query, each shared by a group of query heads. Returns (..., L, Ev)."""
    op = "scaled_dot_product_attention"
    q = _as_tensor(query, op, "query")
    k = _as_tensor(key, op, "key")
    v = _as_tensor(value, op, "value")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: query, key and value need at least 2 dimensions, got "
                         f"{q.shape}, {k.shape} and {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: query {q.shape} and key {k.shape} must share the last "
                         f"dimension and key and value {v.shape} the sequence length")
    if enable_gqa:
        k, v = _share_heads(op, q, k, v)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give attn_mask or is_causal, not both")
    length, source = q.shape[-2], k.shape[-2]
    dtype = np.result_type(q.dtype, k.dtype)
    mask: Any = None
    if is_causal:
        mask = additive_mask(np.tri(length, source, dtype=bool), dtype, True, op, "is_causal")
    elif attn_mask is not None:
        mask = mask_to_add(attn_mask, dtype, True, op, "attn_mask")
        try:
            np.broadcast_shapes(mask.shape, q.shape[:-2] + (length, source))
        except ValueError:
            raise ValueError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to the "
                             f"scores' shape {q.shape[:-2] + (length, source)}") from None
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return attend(q, k, v, mask, float(dropout_p), factor)[0]


def _share_heads(op: str, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Grouped-query attention: key and value heads (axis -3) repeated so that each serves
    its group of query heads."""
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3 or k.shape[-3] != v.shape[-3] or (
            q.shape[-3] % k.shape[-3]):
        raise ValueError(f"{op}: with enable_gqa the number of key and value heads (axis -3 "
                         f"of {k.shape} and {v.shape}) must be equal and divide the query's "
                         f"({q.shape})")
    group = q.shape[-3] // k.shape[-3]
    if group == 1:
        return k, v
    return (mt.repeat_interleave(k, group, axis=-3), mt.repeat_interleave(v, group, axis=-3))
