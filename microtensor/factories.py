"""Functions that make tensors: `tensor`, `zeros`, `ones`, `full`, `rand`, `randn`, ..."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import random as _random
from .grad_mode import _state
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


def _random_draw(op: str) -> None:
    """Inside a function transform (vmap), let it refuse a draw made outside ops: vmap's
    randomness= rule decides (microtensor/vmap.py check_randomness). Free otherwise."""
    if _state.transforms:
        from .vmap import check_randomness

        check_randomness(op)


def rand(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the shared generator (see `manual_seed`)."""
    _random_draw("rand")
    data = _random.default_generator().random(_shape(shape, "rand")).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the shared generator (see `manual_seed`)."""
    _random_draw("randn")
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


def empty(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are whatever the memory held (fast; fill it before reading)."""
    return Tensor(np.empty(_shape(shape, "empty"), dtype=dtype), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with `array` (a change to one is seen in the other), as
    PyTorch's `from_numpy`; `mt.tensor` copies instead."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def linspace(start: float, end: float, steps: int, dtype: Any = np.float64,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from `start` to `end`, both included (PyTorch's argument
    names; `np.linspace(start, end, steps)`)."""
    n = _count(steps, "linspace")
    return Tensor(np.linspace(start, end, n).astype(dtype, copy=False),
                  requires_grad=requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = np.float64,
             requires_grad: bool = False) -> Tensor:
    """`base ** linspace(start, end, steps)`: values evenly spaced on a log scale."""
    n = _count(steps, "logspace")
    return Tensor(np.logspace(start, end, n, base=base).astype(dtype, copy=False),
                  requires_grad=requires_grad)


def randint(low: int, high: Any = None, size: Any = None, dtype: Any = np.int64) -> Tensor:
    """Integers drawn uniformly from [low, high) by the shared generator (see `manual_seed`).

    PyTorch's forms `randint(high, size)` and `randint(low, high, size)` and NumPy's
    `randint(high)` (one integer, 0-d) all work; an integer result never requires grad."""
    _random_draw("randint")
    if isinstance(high, (tuple, list)) and size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    dims = () if size is None else _shape((size,), "randint")
    low, high = operator.index(low), operator.index(high)
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    return Tensor(_random.default_generator().integers(low, high, dims, dtype=dtype))


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, dtype: Any = np.float64,
           requires_grad: bool = False) -> Tensor:
    """Normal samples with mean `mean` and standard deviation `std` (numbers, or arrays and
    tensors that broadcast: one sample per element) from the shared generator."""
    _random_draw("normal")
    loc, scale = _param(mean, "normal", "mean"), _param(std, "normal", "std")
    if np.any(scale < 0):
        raise ValueError("normal: std must be non-negative")
    dims = None if size is None else _shape((size,), "normal")
    data = np.asarray(_random.default_generator().normal(loc, scale, dims))
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)


def uniform(low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = np.float64,
            requires_grad: bool = False) -> Tensor:
    """Uniform samples in [low, high) (numbers, or arrays and tensors that broadcast) from the
    shared generator."""
    _random_draw("uniform")
    lo, hi = _param(low, "uniform", "low"), _param(high, "uniform", "high")
    dims = None if size is None else _shape((size,), "uniform")
    data = np.asarray(_random.default_generator().uniform(lo, hi, dims))
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)


def randperm(n: int, dtype: Any = np.int64) -> Tensor:
    """A random permutation of 0 .. n-1 from the shared generator."""
    _random_draw("randperm")
    n = _count(n, "randperm")
    return Tensor(_random.default_generator().permutation(n).astype(dtype, copy=False))


def full_like(t: Any, fill_value: float, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    """`fill_value` everywhere, with the shape (and dtype) of `t`."""
    return Tensor(np.full_like(_as_array(t), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`rand` with the shape and floating dtype of `t`."""
    _random_draw("rand_like")
    arr = _as_array(t)
    return rand(arr.shape, dtype=_float_like(arr, dtype, "rand_like"),
                requires_grad=requires_grad)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`randn` with the shape and floating dtype of `t`."""
    _random_draw("randn_like")
    arr = _as_array(t)
    return randn(arr.shape, dtype=_float_like(arr, dtype, "randn_like"),
                 requires_grad=requires_grad)


def _count(n: Any, where: str) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{where}: the number of values must be an integer, got {n!r}") from None
    if n < 0:
        raise ValueError(f"{where}: the number of values must be non-negative, got {n}")
    return n


def _param(value: Any, where: str, name: str) -> Any:
    """A distribution's parameter as NumPy's generator takes it (a Tensor's array; numbers as
    they are), refusing what is not a real number or a numeric array."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    try:
        arr = _as_array(value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be a number, an array or a Tensor, got "
                        f"{type(value).__name__}") from None
    return arr


def _float_like(arr: np.ndarray, dtype: Any, where: str) -> Any:
    """The dtype of a random tensor like `arr`: `dtype`, else arr's own, which must be
    floating (as PyTorch, which has no random integers from rand_like)."""
    dt = np.dtype(arr.dtype if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{where}: random samples need a floating dtype, got {dt} (pass dtype=)")
    return dt
