"""NumPy interop: `np.exp(t)`, `np.add(t, 1)`, `arr * t`, `np.where(c, t, 0)` on Tensors.

Ufuncs and functions with a microtensor op return tracked Tensors; comparisons and other
non-differentiable ufuncs return untracked Tensors; NumPy functions without an op run on the
data and return plain NumPy results (so `np.allclose(t, a)` just works, untracked).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .grad_mode import is_grad_enabled
from .tensor import Tensor, _make

_UFUNCS = {
    np.add: ops.add,
    np.subtract: ops.sub,
    np.multiply: ops.mul,
    np.true_divide: ops.div,
    np.power: ops.pow,
    np.negative: ops.neg,
    np.positive: lambda x: x,
    np.exp: ops.exp,
    np.log: ops.log,
    np.sqrt: ops.sqrt,
    np.absolute: ops.abs,
    np.tanh: ops.tanh,
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.matmul: ops.matmul,
    np.square: lambda x: ops.pow(x, 2),
}

_FUNCTIONS = {
    np.where: ops.where,
    np.concatenate: ops.concatenate,
    np.stack: ops.stack,
    np.broadcast_to: ops.broadcast_to,
    np.reshape: lambda a, shape=None, **kw: ops.reshape(_t(a), kw.get("newshape", shape)),
    np.transpose: lambda a, axes=None: ops.transpose(_t(a), axes),
    np.swapaxes: lambda a, axis1, axis2: ops.swapaxes(_t(a), axis1, axis2),
    np.expand_dims: lambda a, axis: ops.expand_dims(_t(a), axis),
    np.squeeze: lambda a, axis=None: ops.squeeze(_t(a), axis),
    np.sum: lambda a, axis=None, keepdims=False: ops.sum(_t(a), axis, keepdims),
    np.mean: lambda a, axis=None, keepdims=False: ops.mean(_t(a), axis, keepdims),
    np.max: lambda a, axis=None, keepdims=False: ops.max(_t(a), axis, keepdims),
    np.min: lambda a, axis=None, keepdims=False: ops.min(_t(a), axis, keepdims),
    np.clip: lambda a, a_min=None, a_max=None: ops.clip(_t(a), a_min, a_max),
    np.matmul: ops.matmul,
}


# zero almost everywhere: their results are returned untracked, like comparisons
_PIECEWISE_CONSTANT = {np.sign, np.floor, np.ceil, np.rint, np.trunc}


def _t(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


def _strip(x: Any) -> Any:
    """Replace Tensors by their arrays, inside lists and tuples too."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_strip(i) for i in x)
    return x


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict) -> Any:
    """Tensor.__array_ufunc__: route a NumPy ufunc call to a microtensor op."""
    if kwargs.get("out") is not None:
        raise TypeError(f"np.{ufunc.__name__}: out= is not supported for Tensors")
    op = _UFUNCS.get(ufunc)
    if method == "__call__" and op is not None and not kwargs:
        return op(*inputs)
    tracked = is_grad_enabled() and any(
        isinstance(x, Tensor) and x.requires_grad for x in inputs
    )
    result = getattr(ufunc, method)(*_strip(inputs), **kwargs)
    if tracked and np.asarray(result).dtype.kind == "f" and ufunc not in _PIECEWISE_CONSTANT:
        raise TypeError(
            f"np.{ufunc.__name__}{'' if method == '__call__' else '.' + method} has no gradient "
            "in microtensor; apply it to t.detach() (or t.data) if no gradient is needed"
        )
    return _make(np.asarray(result)) if method != "at" else result


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict) -> Any:
    """Tensor.__array_function__: differentiable where an op exists, else plain NumPy."""
    op = _FUNCTIONS.get(func)
    if op is not None:
        return op(*args, **kwargs)
    return func(*_strip(args), **{k: _strip(v) for k, v in kwargs.items()})
