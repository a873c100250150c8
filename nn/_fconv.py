"""Functional convolution and pooling (`nn.functional.conv2d`, ...): PyTorch's names,
arguments and layouts. The ops themselves live in the core (microtensor/ops/conv.py, where
their derivatives of every order are written); these are the same functions."""

from __future__ import annotations

from microtensor.ops.conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)

__all__: list[str] = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "interpolate", "max_pool1d", "max_pool2d", "max_unpool2d",
]
