"""Functions that make tensors: `tensor`, `zeros`, `ones`, `full`, `rand`, `randn`, ..."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import random as _random
from .tensor import Tensor, _as_array


def _shape(shape: tuple[Any, ...], where: str) -> tuple[int, ...]:
    """Accept `f(2, 3)` and `f((2, 3))`, like NumPy and PyTorch."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        dims = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{where}: shape must be integers, got {shape!r}") from None
    if any(n < 0 for n in dims):
        raise ValueError(f"{where}: negative dimension in shape {dims}")
    return dims


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of `data` (numbers and lists become float64)."""
    arr = _as_array(data, dtype)
    return Tensor(arr.copy(), requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`."""
    return Tensor(np.zeros(_shape(shape, "zeros"), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape, "ones"), dtype=dtype), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = np.float64,
         requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `fill_value`."""
    dims = _shape((shape,), "full")
    return Tensor(np.full(dims, fill_value, dtype=dtype), requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the shared generator (see `manual_seed`)."""
    data = _random.default_generator().random(_shape(shape, "rand")).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the shared generator (see `manual_seed`)."""
    gen = _random.default_generator()
    data = gen.standard_normal(_shape(shape, "randn")).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values, like `np.arange` (integers in give int64 out)."""
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = np.float64,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype) of `t`."""
    return Tensor(np.zeros_like(_as_array(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype) of `t`."""
    return Tensor(np.ones_like(_as_array(t), dtype=dtype), requires_grad=requires_grad)
