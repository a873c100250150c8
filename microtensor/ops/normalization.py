"""Fused ops of nn's normalization and embedding layers: one node each where the composition
of primitives would make six to eight (mean, subtract, square, mean, add, power, multiply, and
the affine pair), each of which keeps an array of the input's size for backward.

`Normalize` is batch, layer and group normalization alike: the axes it reduces over and the
shape of the affine parameters are all that differ. `EmbeddingLookup` is a row gather whose
gradient sums repeated indices and skips the padding row. Backward formulas are written in the
vocabulary (microtensor/ops/vocab.py), so gradients of gradients work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor
from . import vocab as V
from ._util import tensor_arg
from .shape import IndexAdd

__all__ = ["EmbeddingLookup", "Normalize", "embedding_lookup", "normalize"]


def _moments(x: Any, axes: tuple[int, ...], eps: float) -> tuple[Any, Any]:
    """(x - mean) * rstd and rstd = 1 / sqrt(biased var + eps) over `axes`, on arrays or
    (recorded) on Tensors: the backward's recomputation under create_graph."""
    centered = x - x.mean(axis=axes, keepdims=True)
    rstd = ((centered * centered).mean(axis=axes, keepdims=True) + eps) ** -0.5
    return centered * rstd, rstd


class Normalize(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, mean and biased var over `axes`.

    d/dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = grad * weight,
    d/dweight = grad * xhat, d/dbias = grad (the engine sums them to the parameters' shapes).
    weight and bias are None or broadcast against x. First order reuses xhat and rstd from
    forward (kept as constants); under create_graph they are recomputed from x, recorded.
    `stats`, a list, receives the batch's (mean, biased var) for running statistics.
    """

    def forward(self, x: np.ndarray, weight: Any = None, bias: Any = None,
                axes: tuple[int, ...] = (), eps: float = 1e-5,
                stats: list[Any] | None = None) -> np.ndarray:
        if x.dtype.kind != "f":
            raise TypeError(f"normalize: expected a floating-point input, got {x.dtype}")
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        scratch = np.square(xhat)
        var = scratch.mean(axis=axes, keepdims=True)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat *= rstd
        if stats is not None:
            stats.extend((mean, var))
        self.axes, self.eps = axes, eps
        out = xhat
        if weight is not None or bias is not None:  # into the scratch: xhat is kept
            out = scratch
            if weight is None:
                np.copyto(out, xhat)
            else:
                np.multiply(xhat, weight, out=out, casting="unsafe")
            if bias is not None:
                np.add(out, bias, out=out, casting="unsafe")
        if any(self.needs_input_grad):
            self.save_for_backward(x, weight, constant(xhat), constant(rstd))
        return out

    def _xhat_rstd(self, like: Any) -> tuple[Any, Any]:
        x, _, xhat, rstd = self.saved
        return V.first_order(like, lambda: (xhat, rstd),
                             lambda: _moments(x, self.axes, self.eps))

    def _dxhat(self, g: Any, xhat: Any, rstd: Any) -> Any:
        """The normalization's Jacobian (symmetric) applied to g."""
        return _dxhat(g, xhat, rstd, self.axes)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        weight = self.saved[1]
        needs = self.needs_input_grad
        xhat, rstd = self._xhat_rstd(grad)
        grad_x = None
        if needs[0]:
            grad_x = self._dxhat(grad if weight is None else grad * weight, xhat, rstd)
        grad_w = grad * xhat if needs[1] else None
        grad_b = grad if needs[2] else None
        return grad_x, grad_w, grad_b

    def jvp(self, t_x: Any, t_w: Any = None, t_b: Any = None) -> Any:
        """d y = dxhat(t_x) * weight + xhat * t_weight + t_bias."""
        like = next((t for t in (t_x, t_w, t_b) if t is not None), None)
        if like is None:
            return None
        weight = self.saved[1]
        xhat, rstd = self._xhat_rstd(like)
        out = None
        if t_x is not None:
            out = self._dxhat(t_x, xhat, rstd)
            if weight is not None:
                out = out * weight
        if t_w is not None:
            out = xhat * t_w if out is None else out + xhat * t_w
        if t_b is not None:
            out = V.broadcast_to(t_b, xhat.shape) if out is None else out + t_b
        return out


def _dxhat_tensors(g: Any, xhat: Any, rstd: Any, axes: tuple[int, ...]) -> Any:
    return rstd * (g - g.mean(axis=axes, keepdims=True)
                   - xhat * (g * xhat).mean(axis=axes, keepdims=True))


def _dxhat_arrays(g: np.ndarray, xhat: np.ndarray, rstd: np.ndarray,
                  axes: tuple[int, ...]) -> np.ndarray:
    # the same formula with one array of x's size instead of four (large temporaries are
    # most of the cost: each is fresh memory the kernel must hand over page by page)
    mean_g = g.mean(axis=axes, keepdims=True)
    out = np.multiply(g, xhat)
    mean_gx = out.mean(axis=axes, keepdims=True)
    np.multiply(xhat, mean_gx, out=out)
    np.subtract(g, out, out=out)
    out -= mean_g
    out *= rstd
    return out


_dxhat = V.dual(_dxhat_arrays, _dxhat_tensors)


def normalize(x: Any, weight: Any = None, bias: Any = None, axes: tuple[int, ...] = (),
              eps: float = 1e-5, stats: list[Any] | None = None) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias with the mean and the biased variance
    over `axes` (a tuple of non-negative axes of x), as one node: the core of batch, layer
    and group normalization. `weight` and `bias` (None, or broadcasting against x) are
    learnable; a list given as `stats` receives (mean, var) as arrays (kept dims)."""
    x = tensor_arg(x, "normalize")
    return Normalize.apply(x, weight, bias, axes=tuple(axes), eps=float(eps), stats=stats)


class EmbeddingLookup(Function):
    """weight[indices] (rows of a table).   d/dweight = zeros with grad's rows added at the
    indices (repeats add up), the row `padding_idx` left at zero, as PyTorch's embedding"""

    _fresh_grads = True

    def forward(self, weight: np.ndarray, indices: Any = None,
                padding_idx: int | None = None) -> np.ndarray:
        self.num, self.indices, self.padding_idx = weight.shape[0], indices, padding_idx
        return np.take(weight, indices, axis=0)

    def backward(self, grad: Any) -> Any:
        idx = self.indices
        if self.padding_idx is not None:
            grad = V.where((idx != self.padding_idx)[..., None], grad, 0)
        rows = grad.reshape(-1, grad.shape[-1])
        return _rows_add(rows, self.num, idx.reshape(-1))

    def jvp(self, t: Any) -> Any:
        """The lookup is linear in the table: the tangent's rows."""
        return None if t is None else t[self.indices]


def _rows_add_arrays(rows: np.ndarray, num: int, flat: np.ndarray) -> np.ndarray:
    # sort the indices once and sum each run of equal ones with np.add.reduceat: measured
    # (1,600 to 20,000 lookups, tables of 30 x 128 to 50,000 x 300) never far from the best
    # of np.add.at (4x slower with many repeats), a bincount over (index, column) pairs (4x
    # slower on large tables: it fills a float64 table) and a one-hot matmul (far slower);
    # sums run in float64, so a float32 gradient is rounded once, at the end
    out = np.zeros((num, rows.shape[1]), dtype=rows.dtype)
    if flat.size == 0:
        return out
    order = np.argsort(flat, kind="stable")
    keys = flat[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    out[keys[starts]] = np.add.reduceat(rows[order], starts, axis=0,
                                        dtype=np.promote_types(rows.dtype, np.float64))
    return out


def _rows_add_recorded(rows: Tensor, num: int, flat: np.ndarray) -> Tensor:
    return IndexAdd.apply(rows, shape=(num, rows.shape[1]), index=flat)


_rows_add = V.dual(_rows_add_arrays, _rows_add_recorded)


def embedding_lookup(weight: Any, indices: Any, padding_idx: int | None = None) -> Tensor:
    """The rows of the 2-D table `weight` at the integer array `indices` (any shape; the
    result has shape indices.shape + (dim,)), as one node whose gradient sums repeated
    indices and leaves row `padding_idx` (non-negative, or None) at zero. The indices must
    be in range (the caller checks them and names its layer)."""
    weight = tensor_arg(weight, "embedding")
    return EmbeddingLookup.apply(weight, indices=np.asarray(indices), padding_idx=padding_idx)
