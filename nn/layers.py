"""Layers: Linear and the activations as modules, plus Identity, Dropout and its variants
(Dropout1d, Dropout2d, AlphaDropout)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops import fused

from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight + bias, with weight of shape (in_features, out_features), so a batch of
    rows `x` (n, in) maps to (n, out) like the seeds' `X W`.

    Initialised like PyTorch: weight and bias uniform in +-1/sqrt(in_features) (kaiming_uniform
    with a = sqrt(5)), drawn from the shared generator (`mt.manual_seed` repeats them).
    `dtype=np.float32` makes a float32 layer.

    `activation="sigmoid"`, `"tanh"` or `"relu"` applies that function to the result inside
    the same graph node (Keras's `Dense(units, activation=...)`): the same values and
    gradients as Linear followed by the activation module, bit for bit, at one node's cost
    instead of two, which on small networks is most of the time. What is lost: the
    pre-activation is not a tensor of its own, so graph pictures show one op (LinearSigmoid,
    ...) and no hook sees it.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float64, activation: str | None = None) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got {in_features} "
                f"and {out_features}"
            )
        self.activation = activation  # checked by the setter below
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((in_features, out_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias: Parameter | None = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            bound = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound)

    @property
    def activation(self) -> str | None:
        """None, "sigmoid", "tanh" or "relu": the function applied inside the layer's node."""
        return self._activation

    @activation.setter
    def activation(self, value: str | None) -> None:
        if not (value is None or isinstance(value, str)) or value not in fused.ACTIVATIONS:
            raise ValueError(
                f"Linear: activation must be None, 'sigmoid', 'tanh' or 'relu', got {value!r}"
            )
        self._activation = value
        self._linear = fused.linear_function(value)  # the fused op's function

    def forward(self, x: Tensor) -> Tensor:
        """x @ weight (+ bias), then the activation if one was given."""
        if isinstance(x, Tensor):  # the fused op checks the shapes itself
            return self._linear(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias, self._activation)

    def extra_repr(self) -> str:
        act = "" if self.activation is None else f", activation={self.activation!r}"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}{act}")


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, x: Any) -> Any:
        """x."""
        return x


class Sigmoid(Module):
    """sigmoid(x) = 1 / (1 + exp(-x)), elementwise and stable for any x."""

    def forward(self, x: Tensor) -> Tensor:
        """sigmoid(x)."""
        return mt.sigmoid(x) if isinstance(x, Tensor) else F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return mt.tanh(x) if isinstance(x, Tensor) else F.tanh(x)


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """relu(x)."""
        return mt.relu(x) if isinstance(x, Tensor) else F.relu(x)


class LeakyReLU(Module):
    """x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        """leaky_relu(x)."""
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `axis` (default the last), without overflow."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        """softmax(x, axis)."""
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """x - logsumexp(x) along `axis` (default the last), without overflow."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        """log_softmax(x, axis)."""
        return F.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Dropout(Module):
    """Inverted dropout: in training mode each element is zeroed with probability `p` and the
    survivors scaled by 1 / (1 - p), so evaluation mode (`model.eval()`) is the identity.
    The mask comes from the shared generator (`mt.manual_seed` repeats it)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """dropout(x, p) in training mode, x in evaluation mode."""
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(Module):
    """Channel dropout for (N, C, L) or (C, L) inputs: in training mode each whole channel is
    zeroed with probability `p` and the others scaled by 1 / (1 - p); the identity in
    evaluation mode (F.dropout1d)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout1d: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """dropout1d(x, p) in training mode, x in evaluation mode."""
        return F.dropout1d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout1d):
    """Channel dropout for (N, C, H, W) or (C, H, W) inputs: in training mode each whole
    channel is zeroed with probability `p` and the others scaled by 1 / (1 - p); the identity
    in evaluation mode (F.dropout2d, which reads a 3-D input as (N, C, L) as PyTorch does)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """dropout2d(x, p) in training mode, x in evaluation mode."""
        return F.dropout2d(x, self.p, self.training)


class AlphaDropout(Dropout1d):
    """Dropout for self-normalizing (SELU) networks: dropped elements take SELU's negative
    saturation value and an affine map keeps zero mean and unit variance; the identity in
    evaluation mode (F.alpha_dropout)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"AlphaDropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """alpha_dropout(x, p) in training mode, x in evaluation mode."""
        return F.alpha_dropout(x, self.p, self.training)
