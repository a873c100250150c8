"""Multi-head attention with PyTorch's names, arguments, layouts and parameters.

`in_proj_weight` (3E, E) and `out_proj.weight` (E, E) have PyTorch's (out, in) orientation,
unlike nn.Linear's (in, out), so PyTorch's state dict (`in_proj_weight`, `in_proj_bias`,
`out_proj.weight`, `out_proj.bias`) loads as it is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops import fused

from . import init
from ._fseq import attend, mask_to_add
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


class OutProjection(Module):
    """MultiheadAttention's output layer: y = x @ weight^T + bias with weight in PyTorch's
    (out_features, in_features) orientation (PyTorch's NonDynamicallyQuantizableLinear),
    initialised as PyTorch's nn.Linear, so its state dict keys and shapes are PyTorch's."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float64) -> None:
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias: Parameter | None = None
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """x @ weight^T + bias over the last axis of x."""
        return fused.linear(x, self.weight.T, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else mt.tensor(np.asarray(x))


class MultiheadAttention(Module):
    """Attention over `num_heads` heads of embed_dim // num_heads each, PyTorch's
    nn.MultiheadAttention: query (L, N, E), key (S, N, kdim) and value (S, N, vdim), batch
    first with `batch_first`, or unbatched (L, E). Parameters `in_proj_weight` (3E, E) (or
    `q_proj_weight`, `k_proj_weight`, `v_proj_weight` when kdim or vdim differ from E),
    `in_proj_bias` (3E,), `out_proj.weight` (E, E) and `out_proj.bias`, in PyTorch's (out, in)
    orientation (unlike nn.Linear) and initialisation. `dropout` drops attention weights in
    training mode. add_bias_kv and add_zero_attn are not supported."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 dtype: Any = np.float64) -> None:
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive "
                             f"multiple of num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                             "supported")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
            init.xavier_uniform_(self.in_proj_weight)
        else:
            self.in_proj_weight = None
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=dtype))
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=dtype)) if bias else None
        self.out_proj = OutProjection(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias.data[...] = 0

    def _projections(self) -> list[tuple[Tensor, Tensor | None]]:
        e = self.embed_dim
        b = self.in_proj_bias
        biases = [None] * 3 if b is None else [b[:e], b[e:2 * e], b[2 * e:]]
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = [w[:e], w[e:2 * e], w[2 * e:]]
        else:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        return list(zip(weights, biases))

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from query to key/value; returns (output, weights): output like query
        with E features, weights (N, L, S) averaged over heads (or (N, num_heads, L, S)
        with average_attn_weights=False; no N for unbatched input), None unless
        need_weights. key_padding_mask (N, S): True (or -inf) marks keys to ignore;
        attn_mask (L, S) or (N * num_heads, L, S): True marks pairs NOT allowed, a float
        mask is added; is_causal without attn_mask applies the causal mask (PyTorch asks
        for the mask too)."""
        name = "MultiheadAttention"
        q, k, v = _tensor(query), _tensor(key), _tensor(value)
        batched = q.ndim == 3
        want = 3 if batched else 2
        if q.ndim not in (2, 3) or k.ndim != want or v.ndim != want:
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or "
                             f"2-D (unbatched), got {q.shape}, {k.shape} and {v.shape}")
        for label, t, size in (("query", q, self.embed_dim), ("key", k, self.kdim),
                               ("value", v, self.vdim)):
            if t.shape[-1] != size:
                raise ValueError(f"{name}: {label} of shape {t.shape} has {t.shape[-1]} "
                                 f"features, expected {size}")
        if not batched:
            q, k, v = (t.reshape(1, *t.shape) for t in (q, k, v))
        elif not self.batch_first:
            q, k, v = (t.transpose((1, 0, 2)) for t in (q, k, v))
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        if k.shape[:2] != (n, source) or v.shape[:2] != (n, source):
            raise ValueError(f"{name}: key {tuple(key.shape)} and value "
                             f"{tuple(value.shape)} must share batch and sequence length, "
                             f"and match query {tuple(query.shape)}'s batch")
        heads, d = self.num_heads, self.head_dim
        projected = []
        for t, (w, b) in zip((q, k, v), self._projections()):
            x = fused.linear(t, w.T, b)
            projected.append(x.reshape(n, x.shape[1], heads, d).transpose((0, 2, 1, 3)))
        dtype = projected[0].dtype
        mask = self._mask(key_padding_mask, attn_mask, is_causal, n, length, source, dtype,
                          batched)
        p = self.dropout if self.training else 0.0
        out, weights = attend(*projected, mask, p, 1.0 / math.sqrt(d))
        out = out.transpose((0, 2, 1, 3)).reshape(n, length, self.embed_dim)
        out = self.out_proj(out)
        if not batched:
            out = out.reshape(length, self.embed_dim)
        elif not self.batch_first:
            out = out.transpose((1, 0, 2))
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            weights = weights.reshape(weights.shape[1:])
        return out, weights

    def _mask(self, key_padding_mask: Any, attn_mask: Any, is_causal: bool, n: int,
              length: int, source: int, dtype: Any, batched: bool) -> Any:
        """The masks as one value broadcastable to the scores (N, heads, L, S): a constant
        array, or a Tensor when a float mask requires grad."""
        name = "MultiheadAttention"
        mask = None
        if attn_mask is None and is_causal:
            attn_mask = ~np.tri(length, source, dtype=bool)
        if attn_mask is not None:
            m = mask_to_add(attn_mask, dtype, False, name, "attn_mask")
            if m.shape == (length, source):
                mask = m
            elif m.shape == (n * self.num_heads, length, source):
                mask = m.reshape(n, self.num_heads, length, source)
            else:
                raise ValueError(f"{name}: attn_mask must be {(length, source)} or "
                                 f"{(n * self.num_heads, length, source)}, got {m.shape}")
        if key_padding_mask is not None:
            m = mask_to_add(key_padding_mask, dtype, False, name, "key_padding_mask")
            expected = (n, source) if batched else (source,)
            if m.shape != expected:
                raise ValueError(f"{name}: key_padding_mask must be {expected}, got "
                                 f"{m.shape}")
            m = m.reshape(n, 1, 1, source)
            mask = m if mask is None else mask + m
        return mask

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.batch_first:
            text += ", batch_first=True"
        return text
