"""Embedding: a learnable table of vectors looked up by integer index, with PyTorch's
arguments and parameter (`weight`, (num_embeddings, embedding_dim)). The lookup is
nn/_fnorm.py's F.embedding."""

from __future__ import annotations

from typing import Any

import numpy as np

from microtensor import Tensor

from . import _fnorm, init
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table `weight` of `num_embeddings` rows of size `embedding_dim`, initialised N(0, 1)
    as PyTorch's; `layer(indices)` returns the rows at integer indices of any shape (a Tensor,
    an array or a list), shape indices.shape + (embedding_dim,). Repeated indices add their
    gradients up. `padding_idx`: that row starts at zero and gets no gradient. `max_norm`:
    looked-up rows whose `norm_type` norm exceeds it are scaled down to it in place. An index
    out of range is an IndexError naming the layer, the index and the table's size.
    `_weight` gives the initial table (copied); `dtype` is the table's when it is drawn."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 _weight: Any = None, dtype: Any = np.float64) -> None:
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be positive, "
                             f"got {num_embeddings} and {embedding_dim}")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = (None if padding_idx is None
                            else _fnorm._padding_index(padding_idx, num_embeddings, "Embedding"))
        self.max_norm = max_norm
        self.norm_type = norm_type
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype))
            init.normal_(self.weight)
            if self.padding_idx is not None:
                self.weight.data[self.padding_idx] = 0
        else:
            if tuple(np.shape(_weight)) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {tuple(np.shape(_weight))}, "
                                 f"expected ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0) -> Embedding:
        """An Embedding whose table is a copy of the 2-D `embeddings`, frozen unless
        `freeze=False` (PyTorch's constructor of the same name)."""
        shape = tuple(np.shape(embeddings.data if isinstance(embeddings, Tensor)
                               else embeddings))
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{shape}")
        layer = cls(shape[0], shape[1], padding_idx, max_norm, norm_type, _weight=embeddings)
        layer.weight.requires_grad = not freeze
        return layer

    def forward(self, indices: Any) -> Tensor:
        """The rows of `weight` at `indices`."""
        return _fnorm._lookup(indices, self.weight, self.padding_idx, self.max_norm,
                              self.norm_type, "Embedding")

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        return text
