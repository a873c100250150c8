"""Dropout as an op: the random mask is drawn inside `forward`, from the shared generator.

Drawn inside the op (rather than by the caller, who would pass the op a ready mask) so that
the randomness belongs to the graph: `mt.compile` replays the op and so draws a new mask on
every step, where a mask made outside ops would be replayed as a constant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, constant
from ..random import default_generator
from ._util import tensor_arg


class Dropout(Function):
    """x * mask / (1 - p), mask ~ Bernoulli(1 - p) of shape `mask_shape` (x's shape, or one
    that broadcasts to it: (N, C, 1, 1) drops whole channels).   d/dx = mask / (1 - p)"""

    def forward(self, x: np.ndarray, p: float = 0.5, mask_shape: Any = None) -> np.ndarray:
        scale = (default_generator().random(x.shape if mask_shape is None else mask_shape)
                 >= p).astype(x.dtype)
        scale *= 1.0 / (1.0 - p)
        self.save_for_backward(constant(scale))
        return x * scale

    def backward(self, grad: Any) -> Any:
        (scale,) = self.saved
        return grad * scale

    def jvp(self, tx: Any, *rest: Any) -> Any:
        (scale,) = self.saved
        return None if tx is None else tx * scale


def dropout(x: Any, p: float, mask_shape: Any = None) -> Any:
    """x times a fresh dropout mask (see Dropout); nn.functional.dropout checks p and the
    training flag, then calls this."""
    return Dropout.apply(tensor_arg(x, "dropout"), p=float(p), mask_shape=mask_shape)
