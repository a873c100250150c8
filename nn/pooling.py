"""Pooling and reshaping layers with PyTorch's names and arguments: `MaxPool1d/2d`,
`MaxUnpool2d`, `AvgPool1d/2d/3d`, `AdaptiveAvgPool1d/2d`, `Flatten`, `Unflatten` and
`Upsample`. They hold no parameters; each is the function of the same name in nn.functional."""

from __future__ import annotations

import math
from typing import Any

from microtensor import Tensor

from . import _fconv as F
from .module import Module

__all__: list[str] = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "Flatten",
    "MaxPool1d",
    "MaxPool2d", "MaxUnpool2d", "Unflatten", "Upsample",
]


class _Pool(Module):
    """Shared by the pooling layers: the error of a call names the layer and its settings."""

    def _run(self, fn: Any, x: Tensor, *args: Any) -> Any:
        try:
            return fn(x, *args)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{type(self).__name__}({self.extra_repr()}): {e}") from None


class MaxPool2d(_Pool):
    """The maximum of each kernel_size window of (N, C, H, W), every stride (default: the
    kernel size), with -inf padding; dilation, ceil_mode and return_indices as in PyTorch.
    The gradient goes to the first maximum of each window (PyTorch's CPU convention)."""

    _fn = staticmethod(F.max_pool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        """max_pool(x)."""
        return self._run(self._fn, x, self.kernel_size, self.stride, self.padding,
                         self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """The maximum of each window of (N, C, L): PyTorch's nn.MaxPool1d."""

    _fn = staticmethod(F.max_pool1d)


class MaxUnpool2d(_Pool):
    """The inverse of MaxPool2d's selection: `forward(x, indices, output_size=None)` puts each
    value back at its index in a zero plane (PyTorch's nn.MaxUnpool2d)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        """max_unpool2d(x, indices)."""
        return self._run(F.max_unpool2d, x, indices, self.kernel_size, self.stride,
                         self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_Pool):
    """The mean of each kernel_size window of (N, C, H, W), every stride (default: the kernel
    size), zero padding counted in the divisor when count_include_pad; ceil_mode and
    divisor_override as in PyTorch."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        """avg_pool2d(x)."""
        return self._run(F.avg_pool2d, x, self.kernel_size, self.stride, self.padding,
                         self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """The mean of each window of (N, C, D, H, W): PyTorch's nn.AvgPool3d."""

    def forward(self, x: Tensor) -> Tensor:
        """avg_pool3d(x)."""
        return self._run(F.avg_pool3d, x, self.kernel_size, self.stride, self.padding,
                         self.ceil_mode, self.count_include_pad, self.divisor_override)


class AvgPool1d(_Pool):
    """The mean of each window of (N, C, L): PyTorch's nn.AvgPool1d."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        """avg_pool1d(x)."""
        return self._run(F.avg_pool1d, x, self.kernel_size, self.stride, self.padding,
                         self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool):
    """The mean over PyTorch's adaptive bins, giving output_size (an int, a pair, None for
    "keep this size") whatever the input's (H, W)."""

    def __init__(self, output_size: Any) -> None:
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """adaptive_avg_pool2d(x)."""
        return self._run(F.adaptive_avg_pool2d, x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """The mean over PyTorch's adaptive bins of (N, C, L), giving output_size."""

    def forward(self, x: Tensor) -> Tensor:
        """adaptive_avg_pool1d(x)."""
        return self._run(F.adaptive_avg_pool1d, x, self.output_size)


class Flatten(Module):
    """Axes start_dim..end_dim merged into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """x.flatten(start_dim, end_dim)."""
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Axis `dim` split into `unflattened_size` (which may hold one -1)."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        """x with axis dim reshaped to unflattened_size."""
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < x.ndim:
            raise ValueError(f"Unflatten: dim {self.dim} is out of range for a tensor of shape "
                             f"{x.shape}")
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if (-1 in sizes and (known == 0 or x.shape[dim] % known)) or (
                -1 not in sizes and known != x.shape[dim]):
            raise ValueError(f"Unflatten: cannot split axis {dim} of size {x.shape[dim]} "
                             f"(tensor shape {x.shape}) into {sizes}")
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(_Pool):
    """Upsampling of (N, C, L), (N, C, H, W) or (N, C, D, H, W) to `size` or by
    `scale_factor`: PyTorch's nn.Upsample (modes "nearest", "nearest-exact", "linear",
    "bilinear", "trilinear"; align_corners for the linear ones)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "trilinear"):
            raise ValueError(f"Upsample: mode {mode!r} is not supported; use 'nearest', "
                             "'nearest-exact', 'linear', 'bilinear' or 'trilinear'")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        """interpolate(x, size, scale_factor, mode, align_corners)."""
        return self._run(F.interpolate, x, self.size, self.scale_factor, self.mode,
                         self.align_corners, self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
