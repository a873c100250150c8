"""NumPy interop: `np.exp(t)`, `np.add(t, 1)`, `arr * t`, `np.where(c, t, 0)` on Tensors.

No silent loss of a gradient. A NumPy ufunc or function called on a Tensor either runs as a
microtensor op (tracked: `np.exp`, `np.dot`, `np.sum`, `np.var`, `np.concatenate`, ...), or
gives a result that carries no gradient (comparisons, `np.shape`, `np.argmax`, `np.allclose`,
piecewise-constant ufuncs such as `np.sign`), or, when some argument is a tensor that requires
grad (and grad mode is on), raises a TypeError naming the function and what to use instead.
Tensors that do not require grad, and calls under `no_grad`, fall through to NumPy and return
what NumPy returns, so plain-data uses (`np.allclose(t, a)`, `np.cumsum(t.detach())`) work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .grad_mode import is_grad_enabled
from .ops.registry import REGISTRY
from .shapes import normalize_axis
from .tensor import Tensor, _make

# NumPy ufuncs that run a registered op (ops/registry.py: `numpy=`), with the op's arguments,
# plus np.positive, which is the tensor itself
_UFUNCS: dict[Any, Any] = {
    route: entry.fn for entry in REGISTRY.values() for route in entry.numpy
    if isinstance(route, np.ufunc)
}
_UFUNCS[np.positive] = lambda x: x

# zero almost everywhere and without an op of their own (np.sign, np.floor, ... run their
# ops, with zero gradients as in PyTorch): returned untracked, like comparisons
_PIECEWISE_CONSTANT = {np.rint, np.fix}

_NO_VALUE = object()  # "not passed": NumPy's own defaults vary (keepdims=<no value>)


def _t(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


def _refuse(name: str, **given: Any) -> None:
    """TypeError naming a NumPy argument that the microtensor op behind np.<name> lacks."""
    for arg, value in given.items():
        if value is not _NO_VALUE and value is not None:
            raise TypeError(
                f"np.{name}: the argument {arg}= is not supported on Tensors (the call runs as "
                "a microtensor op); leave it out, or call np." + name + " on t.detach()"
            )


def _keep(keepdims: Any) -> bool:
    return False if keepdims is _NO_VALUE else bool(keepdims)


def _cast(a: Any, dtype: Any) -> Tensor:
    a = _t(a)
    return a if dtype is None or np.dtype(dtype) == a.dtype else ops.astype(a, dtype)


def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NO_VALUE,
         initial: Any = _NO_VALUE, where: Any = _NO_VALUE) -> Tensor:
    _refuse("sum", out=out, initial=initial, where=where)
    return ops.sum(_cast(a, dtype), axis, _keep(keepdims))


def _mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: Any = _NO_VALUE, *, where: Any = _NO_VALUE) -> Tensor:
    _refuse("mean", out=out, where=where)
    return ops.mean(_cast(a, dtype), axis, _keep(keepdims))


def _extreme(name: str, op: Any) -> Any:
    def route(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NO_VALUE,
              initial: Any = _NO_VALUE, where: Any = _NO_VALUE) -> Tensor:
        _refuse(name, out=out, initial=initial, where=where)
        return op(_t(a), axis, _keep(keepdims))

    return route


def _var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: Any = _NO_VALUE, *, where: Any = _NO_VALUE, mean: Any = _NO_VALUE,
         correction: Any = _NO_VALUE, name: str = "var") -> Tensor:
    """sum((a - mean(a)) ** 2) / (n - ddof), composed of tracked ops."""
    _refuse(name, out=out, where=where, mean=mean)
    if correction is not _NO_VALUE:
        if ddof != 0:
            raise ValueError(f"np.{name}: give ddof or correction, not both")
        ddof = correction
    a = _cast(a, dtype)
    if a.dtype.kind != "f":
        a = ops.astype(a, np.float64)
    axes = normalize_axis(axis, a.ndim, name)
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    d = a - ops.mean(a, axes, True)
    return ops.sum(d * d, axes, _keep(keepdims)) / max(n - ddof, 0)


def _std(*args: Any, **kwargs: Any) -> Tensor:
    return ops.sqrt(_var(*args, name="std", **kwargs))


def _product(name: str, a: Any, b: Any, hint: str, two_d: Any) -> Tensor:
    """np.dot / np.inner on Tensors: a scalar operand multiplies, 1-D and 2-D operands run
    `two_d` (a matmul), and higher ranks, which no microtensor op sums the same way, are
    refused when a gradient would be lost (NumPy's result otherwise)."""
    nd_a, nd_b = np.ndim(a), np.ndim(b)
    if nd_a == 0 or nd_b == 0:
        return ops.mul(a, b)
    if nd_a > 2 or nd_b > 2:
        if _tracked((a, b)):
            raise TypeError(f"np.{name} of {nd_a}-D and {nd_b}-D operands would drop the "
                            f"gradient{hint}; or call it on t.detach() if no gradient is needed")
        return getattr(np, name)(_strip(a), _strip(b))
    return two_d(a, b)


def _dot(a: Any, b: Any, out: Any = None) -> Tensor:
    _refuse("dot", out=out)
    return _product("dot", a, b, " (np.dot sums over the last axis of a and the second-to-last "
                    "of b, which no microtensor op does): use a @ b (batched over the leading "
                    "axes), or reshape first", ops.matmul)


def _inner(a: Any, b: Any) -> Tensor:
    return _product("inner", a, b, ": use a @ mt.swapaxes(b, -1, -2)",
                    lambda a, b: ops.matmul(a, ops.transpose(_t(b))))


def _reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
             copy: Any = None) -> Tensor:
    if order != "C":
        raise TypeError(f"np.reshape: order={order!r} is not supported on Tensors (only 'C')")
    return ops.reshape(_t(a), newshape if shape is None else shape)


def _ravel(a: Any, order: str = "C") -> Tensor:
    if order not in ("C", "K", "A"):  # the data of a Tensor is read in C order
        raise TypeError(f"np.ravel: order={order!r} is not supported on Tensors (only 'C')")
    return ops.reshape(_t(a), -1)


def _join(name: str, op: Any) -> Any:
    def route(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
              casting: Any = None) -> Tensor:
        _refuse(name, out=out, dtype=dtype)
        if axis is None and name == "concatenate":  # NumPy flattens every input first
            return op([ops.reshape(_t(x), -1) for x in arrays], axis=0)
        return op(arrays, axis=axis)

    return route


def _where(condition: Any, x: Any = _NO_VALUE, y: Any = _NO_VALUE) -> Any:
    if x is _NO_VALUE and y is _NO_VALUE:  # np.where(c) is np.nonzero(c): indices, no gradient
        return np.where(_strip(condition))
    if x is _NO_VALUE or y is _NO_VALUE:
        raise ValueError("np.where: either both or neither of x and y should be given")
    return ops.where(condition, x, y)


def _clip(a: Any, a_min: Any = _NO_VALUE, a_max: Any = _NO_VALUE, out: Any = None, *,
          min: Any = _NO_VALUE, max: Any = _NO_VALUE, **kwargs: Any) -> Tensor:  # noqa: A002
    _refuse("clip", out=out, **kwargs)
    lo = min if a_min is _NO_VALUE else a_min
    hi = max if a_max is _NO_VALUE else a_max
    lo = None if lo is _NO_VALUE else lo
    hi = None if hi is _NO_VALUE else hi
    scalar = (int, float, np.integer, np.floating)
    if (lo is None or isinstance(lo, scalar)) and (hi is None or isinstance(hi, scalar)):
        return ops.clip(_t(a), lo, hi)
    # array bounds: the same kinks as clip (ties share the gradient), elementwise
    out_t = _t(a) if lo is None else ops.maximum(a, lo)
    return out_t if hi is None else ops.minimum(out_t, hi)


def _transpose(a: Any, axes: Any = None) -> Tensor:
    return ops.transpose(_t(a), axes)


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Tensor:
    return ops.broadcast_to(array, shape)


# NumPy's signature for the registered ops whose NumPy function takes other arguments than
# the op (np.sum's dtype= and out=, np.reshape's order=, ...); the op itself otherwise
_SIGNATURES: dict[Any, Any] = {
    np.where: _where,
    np.concatenate: _join("concatenate", ops.concatenate),
    np.stack: _join("stack", ops.stack),
    np.broadcast_to: _broadcast_to,
    np.reshape: _reshape,
    np.transpose: _transpose,
    np.swapaxes: lambda a, axis1, axis2: ops.swapaxes(_t(a), axis1, axis2),
    np.expand_dims: lambda a, axis: ops.expand_dims(_t(a), axis),
    np.squeeze: lambda a, axis=None: ops.squeeze(_t(a), axis),
    np.sum: _sum,
    np.mean: _mean,
    np.max: _extreme("max", ops.max),
    np.amax: _extreme("amax", ops.max),
    np.min: _extreme("min", ops.min),
    np.amin: _extreme("amin", ops.min),
    np.clip: _clip,
}

# NumPy functions that run a registered op, and those composed of several ops
_FUNCTIONS: dict[Any, Any] = {
    route: _SIGNATURES.get(route, entry.fn) for entry in REGISTRY.values()
    for route in entry.numpy if not isinstance(route, np.ufunc)
}
_FUNCTIONS.update({
    np.ravel: _ravel,
    np.var: _var,
    np.std: _std,
    np.dot: _dot,
    np.inner: _inner,
})

# Functions whose result carries no gradient (shapes, indices, booleans, constants, or the
# values copied out, as np.asarray does): they run on the data even for a tracked tensor.
_NO_GRADIENT = {
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.array_equiv,
    np.argmax, np.argmin, np.argsort, np.argpartition, np.argwhere, np.nonzero,
    np.flatnonzero, np.count_nonzero, np.searchsorted, np.digitize, np.isin, np.any, np.all,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.result_type, np.can_cast,
    np.iscomplexobj, np.isrealobj, np.may_share_memory, np.shares_memory, np.array_repr,
    np.array_str, np.array2string, np.copyto, np.save, np.savez, np.savez_compressed,
    np.savetxt, np.unravel_index, np.ravel_multi_index, np.min_scalar_type,
}

# What to use instead, for the untracked functions people reach for most
_HINTS = {
    "vdot": "use (a * b).sum()",
    "average": "use mt.mean(t, axis), or (t * w).sum(axis) / w.sum(axis) for weights",
    "diff": "use t[1:] - t[:-1] (slices along the axis)",
    "trace": "use mt.diagonal(t).sum()",
    "ptp": "use mt.max(t, axis) - mt.min(t, axis)",
    "hstack": "use mt.concatenate(seq, axis=1) (axis=0 for 1-D), or mt.cat",
    "vstack": "use mt.concatenate with each tensor reshaped to 2-D",
    "atleast_1d": "use t.reshape(...)",
    "atleast_2d": "use t.reshape(...)",
    "cross": "write the components with indexing, * and -",
    "nanmean": "use mt.where(mask, t, 0).sum() / mask.sum()",
    "nansum": "use mt.where(mask, t, 0).sum()",
}


def _strip(x: Any) -> Any:
    """Replace Tensors by their arrays, inside lists and tuples too."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_strip(i) for i in x)
    return x


def _tracked(x: Any) -> bool:
    """True when grad mode is on and `x` holds a tensor that requires grad."""
    return is_grad_enabled() and _requires_grad(x)


def _requires_grad(x: Any) -> bool:
    """True when `x` is, or (in a list or tuple) holds, a tensor that requires grad."""
    if isinstance(x, Tensor):
        return x._requires_grad
    if isinstance(x, (list, tuple)):
        return any(_requires_grad(i) for i in x)
    return False


def _name(func: Any) -> str:
    """The function's name as a user writes it after `np.` (cumsum, linalg.norm, fft.fft)."""
    module = getattr(func, "__module__", None) or ""
    public = [p for p in module.split(".")[1:] if not p.startswith("_")]
    return ".".join([*public, func.__name__])


def _untracked_error(func: Any) -> TypeError:
    name = _name(func)
    instead = _HINTS.get(name) or (
        "use the microtensor ops (operators, Tensor methods, mt.sum, mt.matmul, mt.where, "
        "mt.concatenate, ...)")
    return TypeError(
        f"np.{name} would drop the gradient of a tensor that requires grad (microtensor has no "
        f"op for it): {instead}; or call it on t.detach() (or t.data) if no gradient is needed"
    )


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
    if tracked and method == "at":  # writes into the tensor's data in place
        raise TypeError(
            f"np.{ufunc.__name__}.at would change a tensor that requires grad in place; build "
            "a new tensor instead, or call it under mt.no_grad()"
        )
    result = getattr(ufunc, method)(*_strip(inputs), **kwargs)
    if tracked and np.asarray(result).dtype.kind == "f" and ufunc not in _PIECEWISE_CONSTANT:
        raise TypeError(
            f"np.{ufunc.__name__}{'' if method == '__call__' else '.' + method} has no gradient "
            "in microtensor; apply it to t.detach() (or t.data) if no gradient is needed"
        )
    return _make(np.asarray(result)) if method != "at" else result


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict) -> Any:
    """Tensor.__array_function__: a microtensor op where one exists; otherwise NumPy on the
    data, unless that would drop the gradient of a tensor that requires grad (a TypeError)."""
    route = _FUNCTIONS.get(func)
    if route is not None:
        return route(*args, **kwargs)
    if func not in _NO_GRADIENT and (_tracked(args) or _tracked(tuple(kwargs.values()))):
        raise _untracked_error(func)
    return func(*_strip(args), **{k: _strip(v) for k, v in kwargs.items()})

