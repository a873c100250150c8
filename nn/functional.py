"""Stateless activations and losses (`import nn.functional as F`), numerically stable.

The activations take PyTorch's names and arguments and are composed of core ops (so their
gradients, and gradients of gradients, come from those ops); where a function has a kink its
gradient there is the average of the one-sided ones, the core's convention (relu'(0) = 0.5).
The losses and the fused softplus live in the core (microtensor/ops/losses.py) and are
re-exported here under PyTorch's names (softplus without PyTorch's beta and threshold: the
core's function does not take them yet); `linear` calls the fused layer ops of
microtensor/ops/fused.py. Losses take `reduction="mean" | "sum" | "none"`; targets may be
Tensors, arrays or lists and are cast to the input's dtype (a float32 model stays float32).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops import fused
from microtensor.ops.dropout import dropout as _dropout
from microtensor.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    class_labels,
    cosine_embedding_loss,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    softplus,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "celu", "cosine_embedding_loss",
    "cross_entropy", "huber_loss", "kl_div", "smooth_l1_loss",
    "dropout", "elu", "gelu", "glu", "hardsigmoid", "hardswish", "hardtanh", "l1_loss",
    "leaky_relu", "linear", "log_softmax", "logsigmoid", "mish", "mse_loss", "nll_loss",
    "one_hot", "pad", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus",
    "softsign", "tanh", "tanhshrink",
]

# SELU's constants (Klambauer et al. 2017), to PyTorch's precision
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------- activations
def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for any x."""
    return _tensor(x, "sigmoid").sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _tensor(x, "tanh").tanh()


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return _tensor(x, "relu").relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (the gradient at 0 is negative_slope)."""
    x = _tensor(x, "leaky_relu")
    return mt.where(x.data > 0, x, x * negative_slope)


def softmax(x: Tensor, axis: int | None = None, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x), axis), stable for any x; `dim` is PyTorch's name for `axis`
    (default the last axis)."""
    return _tensor(x, "softmax").softmax(_axis("softmax", axis, dim))


def log_softmax(x: Tensor, axis: int | None = None, dim: int | None = None) -> Tensor:
    """x - logsumexp(x, axis), stable for any x; `dim` is PyTorch's name for `axis`
    (default the last axis)."""
    return _tensor(x, "log_softmax").log_softmax(_axis("log_softmax", axis, dim))


def softmin(x: Tensor, dim: int | None = None, axis: int | None = None) -> Tensor:
    """softmax(-x) along `dim` (or `axis`; default the last axis, as F.softmax here, where
    PyTorch asks for dim), stable for any x."""
    return (-_tensor(x, "softmin")).softmax(_axis("softmin", axis, dim))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt(2))); with
    approximate="tanh", 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3))), as PyTorch."""
    x = _tensor(x, "gelu")
    if approximate == "none":
        return x * 0.5 * (1 + mt.erf(x * math.sqrt(0.5)))
    if approximate == "tanh":
        # tanh is +-1 to the last bit beyond |x| = 10: clipping there keeps x**3 finite
        near = x.clip(-10.0, 10.0)
        inner = (near + 0.044715 * (near * near * near)) * math.sqrt(2 / math.pi)
        return x * 0.5 * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (swish), stable for any x."""
    x = _tensor(x, "silu")
    return x * x.sigmoid()


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere. Written max(x, 0) + alpha *
    expm1(min(x, 0)) so that exp never sees a large positive x (no overflow, no nan gradient
    from the branch not taken); the gradient at 0 is (1 + alpha) / 2."""
    x = _tensor(x, "elu")
    alpha = _number(alpha, "elu", "alpha")
    return x.relu() + mt.expm1(mt.minimum(x, 0.0)) * alpha


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with SELU's self-normalizing constants (alpha ~ 1.6733,
    scale ~ 1.0507), as PyTorch."""
    return elu(_tensor(x, "selu"), _SELU_ALPHA) * _SELU_SCALE


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha must be nonzero."""
    x = _tensor(x, "celu")
    alpha = _number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be nonzero")
    return x.relu() + mt.expm1(mt.minimum(x, 0.0) / alpha) * alpha


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    return -softplus(-_tensor(x, "logsigmoid"))


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val] (gradient 1 inside, 0 outside, 0.5 on a bound)."""
    x = _tensor(x, "hardtanh")
    lo, hi = _number(min_val, "hardtanh", "min_val"), _number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return x.clip(lo, hi)


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6)."""
    return _tensor(x, "relu6").clip(0.0, 6.0)


def hardsigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, x / 6 + 1 / 2 between."""
    return (_tensor(x, "hardsigmoid") + 3.0).clip(0.0, 6.0) / 6.0


def hardswish(x: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6."""
    x = _tensor(x, "hardswish")
    return x * ((x + 3.0).clip(0.0, 6.0) / 6.0)


def mish(x: Tensor) -> Tensor:
    """x * tanh(softplus(x)), stable for any x."""
    x = _tensor(x, "mish")
    return x * softplus(x).tanh()


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = _tensor(x, "softsign")
    return x / (x.abs() + 1.0)


def tanhshrink(x: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = _tensor(x, "tanhshrink")
    return x - x.tanh()


def glu(x: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the first and second halves of x along `dim` (whose
    length must be even), as PyTorch."""
    x = _tensor(x, "glu")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"glu: dim must be an int, got {type(dim).__name__}")
    if x.ndim == 0:
        raise ValueError("glu: a 0-d tensor has no dimension to halve")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for a {x.ndim}-d tensor")
    axis = int(dim) % x.ndim
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: dimension {dim} of shape {x.shape} has odd length {n}; "
                         "it must split into two halves")
    lead = (slice(None),) * axis
    return x[(*lead, slice(0, n // 2))] * x[(*lead, slice(n // 2, n))].sigmoid()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight + bias, with weight of shape (in, out) and bias of shape (out,): one fused
    node (see microtensor/ops/fused.py); other shapes fall back to matmul and broadcasting add.
    `activation` ("sigmoid", "tanh" or "relu") is applied inside the same node, as
    nn.Linear(..., activation=...) does."""
    if activation is not None:
        fn = fused.linear_function(activation)  # a ValueError for an unknown activation
        return fn(_tensor(x, "linear"), _tensor(weight, "linear"),
                  None if bias is None else _tensor(bias, "linear"))
    if (isinstance(weight, Tensor) and weight.ndim == 2 and isinstance(x, Tensor)
            and (bias is None or (isinstance(bias, Tensor) and bias.shape == weight.shape[1:]))):
        return fused.linear(x, weight, bias)
    y = x @ weight
    return y if bias is None else y + bias


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability `p`, scale the rest by
    1 / (1 - p); the identity when not `training` or p == 0. Uses the shared generator."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = _tensor(x, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    return _dropout(x, p)  # the mask is drawn inside the op (see microtensor/ops/dropout.py)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """PyTorch's F.pad: `pad` lists (before, after) pairs starting from the LAST axis:
    (left, right) pads the last axis, (left, right, top, bottom) the last two, and so on.
    Modes "constant" (filled with `value`, default 0; a negative width crops), "reflect"
    (mirror without repeating the edge; each width must be smaller than the axis),
    "replicate" (repeat the edge) and "circular" (wrap around; width at most the axis).
    `mt.pad` takes NumPy's form (pairs from the FIRST axis) and modes."""
    x = _tensor(input, "pad")
    try:
        flat = [int(p) for p in pad]
        if any(float(p) != int(p) or isinstance(p, bool) for p in pad):
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"pad: pad must be a sequence of integers, got {pad!r}") from None
    if len(flat) % 2 or len(flat) // 2 > x.ndim:
        raise ValueError(
            f"pad: pad must have an even length of at most 2 * ndim = {2 * x.ndim} for a "
            f"tensor of shape {x.shape}, got {len(flat)} values")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    if value is not None and mode != "constant":
        raise ValueError(f"pad: value is only used by mode='constant', not {mode!r}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(flat) // 2):  # pair k pads axis -1 - k
        widths[x.ndim - 1 - k] = (flat[2 * k], flat[2 * k + 1])
    for axis, (before, after) in enumerate(widths):
        size = x.shape[axis]
        if mode != "constant" and min(before, after) < 0:
            raise ValueError(f"pad: negative widths crop only in mode='constant', got "
                             f"{(before, after)} for axis {axis} in mode {mode!r}")
        if mode == "reflect" and max(before, after) >= size:
            raise ValueError(f"pad: reflect widths must be smaller than the axis, got "
                             f"{(before, after)} for axis {axis} of size {size}")
        if mode == "circular" and max(before, after) > size:
            raise ValueError(f"pad: circular widths must be at most the axis, got "
                             f"{(before, after)} for axis {axis} of size {size}")
        if mode == "replicate" and size == 0 and max(before, after) > 0:
            raise ValueError(f"pad: cannot replicate the edge of axis {axis}, which is empty")
        if size + before + after < 0:
            raise ValueError(f"pad: widths {(before, after)} crop more than axis {axis} of "
                             f"size {size} holds")
    grow = [(max(b, 0), max(a, 0)) for b, a in widths]
    out = x
    if any(b or a for b, a in grow):
        out = mt.pad(x, grow, mode=_PAD_MODES[mode],
                     value=None if value is None else _number(value, "pad", "value"))
    if any(b < 0 or a < 0 for b, a in widths):
        crop = tuple(slice(-min(b, 0), out.shape[i] + min(a, 0))
                     for i, (b, a) in enumerate(widths))
        out = out[crop]
    return out


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """An array of shape labels.shape + (num_classes,) with a 1 at each label."""
    arr = class_labels(labels, num_classes, None, "one_hot")
    return (arr[..., None] == np.arange(num_classes)).astype(dtype)


# ---------------------------------------------------------------------- helpers
def _axis(where: str, axis: Any, dim: Any) -> Any:
    """The axis given as NumPy's `axis` or PyTorch's `dim` (-1 when neither is)."""
    if axis is not None and dim is not None and axis != dim:
        raise TypeError(f"{where}: axis={axis!r} and dim={dim!r} disagree; give one of them")
    chosen = axis if axis is not None else dim
    return -1 if chosen is None else chosen


def _number(value: Any, where: str, name: str) -> float:
    """A real-number argument of an activation (alpha, beta, a bound), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def _tensor(x: Any, where: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{where}: expected a Tensor or an array, got {type(x).__name__}")


# the functional forms of the layers in nn/conv.py, nn/pooling.py, nn/normalization.py,
# nn/sparse.py, nn/rnn.py and nn/attention.py (conv2d, max_pool2d, layer_norm, embedding,
# scaled_dot_product_attention, ...) live beside them, one file per family
from . import _fconv, _fnorm, _fseq  # noqa: E402
from ._fconv import *  # noqa: E402, F403
from ._fnorm import *  # noqa: E402, F403
from ._fseq import *  # noqa: E402, F403

__all__ += _fconv.__all__ + _fnorm.__all__ + _fseq.__all__
