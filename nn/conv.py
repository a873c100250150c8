"""Convolution layers with PyTorch's names, arguments, parameter names and shapes, so weights
move between the two: `Conv1d`, `Conv2d`, `Conv3d`, `ConvTranspose1d`, `ConvTranspose2d`,
`ConvTranspose3d`.

Unlike `nn.Linear` (which keeps the articles' (in, out) weight), these keep PyTorch's layout:
a Conv2d weight is (out_channels, in_channels / groups, kh, kw), a ConvTranspose2d weight
(in_channels, out_channels / groups, kh, kw), and the bias (out_channels,). Initialised as
PyTorch does (kaiming_uniform with a = sqrt(5), which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
and the bias in the same bound), from the shared generator, so `mt.manual_seed` repeats them.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from microtensor import Tensor

from . import _fconv as F
from . import init
from .module import Module, Parameter

__all__: list[str] = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                       "ConvTranspose3d"]


def _tuple(value: Any, n: int, layer: str, what: str) -> tuple[int, ...]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    try:
        items = tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{layer}: {what} must be an int or a tuple of {n} ints, "
                        f"got {value!r}") from None
    if len(items) != n:
        raise ValueError(f"{layer}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    return items


class _ConvNd(Module):
    """What the convolution layers share: checks, PyTorch's initialisation, repr and the
    errors, which name the layer."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float64,
                 output_padding: Any = 0) -> None:
        name, nd = type(self).__name__, self._nd
        if in_channels < 1 or out_channels < 1 or groups < 1:
            raise ValueError(f"{name}: in_channels, out_channels and groups must be positive, "
                             f"got {in_channels}, {out_channels}, {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: padding_mode {padding_mode!r} is not supported; "
                             "use 'zeros'")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, nd, name, "kernel_size")
        self.stride = _tuple(stride, nd, name, "stride")
        self.dilation = _tuple(dilation, nd, name, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(f"{name}: padding {padding!r} is not supported")
            if padding == "same" and max(self.stride) > 1:
                raise ValueError(f"{name}: padding='same' needs stride 1, got {self.stride}")
            self.padding: Any = padding
        else:
            self.padding = _tuple(padding, nd, name, "padding")
        self.output_padding = _tuple(output_padding, nd, name, "output_padding")
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        # PyTorch's fan_in is weight.shape[1] times the kernel size, for both kinds
        fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform's gain sqrt(2 / (1 + 5)) * sqrt(3 / fan)
        init.uniform_(self.weight, -bound, bound)
        self.bias: Parameter | None = None
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)

    def _call(self, fn: Any, x: Tensor, *args: Any) -> Tensor:
        try:
            return fn(x, self.weight, self.bias, *args)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{type(self).__name__}({self.extra_repr()}): {e}") from None

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            text += f", padding={self.padding!r}"
        if self._transposed and self.output_padding != (0,) * self._nd:
            text += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class _Conv(_ConvNd):
    """A convolution layer: `_function` (F.conv1d, conv2d or conv3d) of the input with the
    layer's weight and bias."""

    _function: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float64) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, x: Tensor) -> Tensor:
        """The convolution of x with the weight, plus the bias."""
        return self._call(self._function, x, self.stride, self.padding, self.dilation,
                          self.groups)


class _ConvTranspose(_ConvNd):
    """A transposed convolution layer: `_function` (F.conv_transpose1d, 2d or 3d)."""

    _transposed = True
    _function: Any = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float64) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding)

    def forward(self, x: Tensor) -> Tensor:
        """The transposed convolution of x with the weight, plus the bias."""
        return self._call(self._function, x, self.stride, self.padding,
                          self.output_padding, self.groups, self.dilation)


class Conv1d(_Conv):
    """1-D convolution of (N, in_channels, L) with a weight (out_channels, in_channels /
    groups, k), plus bias: PyTorch's nn.Conv1d."""

    _nd = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) of (N, in_channels, H, W) with a weight
    (out_channels, in_channels / groups, kh, kw), plus bias: PyTorch's nn.Conv2d (stride,
    padding as an int, a pair, "same" or "valid", dilation, groups; padding_mode "zeros")."""

    _function = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution of (N, in_channels, D, H, W) with a weight (out_channels, in_channels /
    groups, kd, kh, kw), plus bias: PyTorch's nn.Conv3d."""

    _nd = 3
    _function = staticmethod(F.conv3d)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution of (N, in_channels, L) with a weight (in_channels,
    out_channels / groups, k): PyTorch's nn.ConvTranspose1d."""

    _nd = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input) of
    (N, in_channels, H, W) with a weight (in_channels, out_channels / groups, kh, kw), plus
    bias: PyTorch's nn.ConvTranspose2d (stride, padding, output_padding, groups, dilation).
    Output height (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1."""

    _function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution of (N, in_channels, D, H, W) with a weight (in_channels,
    out_channels / groups, kd, kh, kw): PyTorch's nn.ConvTranspose3d."""

    _nd = 3
    _function = staticmethod(F.conv_transpose3d)
