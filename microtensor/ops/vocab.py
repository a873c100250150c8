"""The backward vocabulary: what a backward body calls instead of branching on types.

A backward formula runs on ndarrays at first order and on Tensors under create_graph (see
microtensor/function.py). Operators, NumPy ufuncs and the shared methods (`sum`, `reshape`,
`transpose`, `[...]`, `.T`, `.dtype`) already work on both; the helpers here cover the rest,
each with one meaning on both kinds: on arrays the fast way (in place where the array is one
backward just made), on Tensors as recorded ops, so gradients of gradients work. A helper may
look at types; an op's backward never does. Masks and other piecewise-constant values come
from `mask`, which always gives a constant array (nothing flows through a comparison).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..shapes import unbroadcast
from ..tensor import Tensor
from . import _derivatives as _d
from ._derivatives import (
    RELU_SLOPE_AT_ZERO,
    max_keepdims,
    relu_slope,
    relu_slope_of_output,
    row_max,
    sigmoid,
    sigmoid_grad,
    tanh_grad,
)

__all__ = [
    "RELU_SLOPE_AT_ZERO", "add_tangents", "broadcast_to", "column_sum", "diagonal_jvp", "div_",
    "dual", "exp", "expit", "reduction_jvp",
    "first_order", "log", "mask", "matmul", "max_keepdims", "mT", "mul_", "relu_slope",
    "relu_slope_of_output", "row_max", "scalar", "sigmoid", "sigmoid_grad", "sub_at", "sum_to",
    "tanh_grad", "where", "zeros_like",
]


def dual(on_arrays: Callable[..., Any], on_tensors: Callable[..., Any]) -> Callable[..., Any]:
    """A helper of the vocabulary made from two spellings of one function: `on_arrays` when
    the first argument is an array (or a number), `on_tensors` when it is a Tensor. This is
    how an op adds a word of its own (GetItem's scatter-add, for example)."""

    def helper(x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, Tensor):
            return on_tensors(x, *args, **kwargs)
        return on_arrays(x, *args, **kwargs)

    helper.__name__ = getattr(on_arrays, "__name__", "helper")
    helper.__doc__ = on_arrays.__doc__
    return helper


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def expit(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sigmoid(x) on an array (SciPy's expit, into `out` if given): a forward helper."""
    return _d.expit(x, out=out)


def exp(x: Any) -> Any:
    """e ** x."""
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x: Any) -> Any:
    """Natural logarithm."""
    return x.log() if isinstance(x, Tensor) else np.log(x)


def mask(fn: Callable[..., Any], *args: Any) -> np.ndarray:
    """`fn` applied to the values of `args` (a Tensor's data, anything else as it is), as a
    constant array: for masks, signs and other piecewise-constant functions of saved values,
    through which no gradient flows (so their value is all a backward needs)."""
    return np.asarray(fn(*(_value(a) for a in args)))


def where(cond: np.ndarray, a: Any, b: Any) -> Any:
    """`a` where the constant mask `cond` is true, `b` elsewhere (broadcasting all three); with
    a Tensor among a and b, NumPy dispatch records it as the Where op."""
    return np.where(cond, a, b)


def zeros_like(x: Any) -> np.ndarray:
    """A new array of zeros with x's shape and dtype (a constant)."""
    return np.zeros(np.shape(_value(x)), dtype=_value(x).dtype)


def sum_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """`grad` summed down to `shape`, undoing NumPy broadcasting."""
    return unbroadcast(grad, shape)


def broadcast_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """`grad` broadcast to `shape`: for an array a new, writable array (filling one is several
    times cheaper than np.broadcast_to, a Python-level function), for a Tensor the recorded
    BroadcastTo op."""
    if isinstance(grad, Tensor):
        return np.broadcast_to(grad, shape)
    out = np.empty(shape, dtype=grad.dtype)
    out[...] = grad
    return out


def mT(a: Any) -> Any:  # noqa: N802 - NumPy's name for the matrix transpose
    """`a` with its last two axes swapped."""
    if a.ndim == 2:
        return a.T
    return a.transpose((*range(a.ndim - 2), a.ndim - 1, a.ndim - 2))


def matmul(a: Any, b: Any) -> Any:
    """a @ b; two 2-D arrays go through np.dot, the same BLAS call without the ufunc machinery
    around matmul (0.5-0.8 us less per product, which counts on small layers)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return np.dot(a, b)
    return a @ b


@functools.lru_cache(maxsize=64)
def _ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    """np.ones(n, dtype), read-only and kept (a column sum is `_ones_row(...) @ x`)."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def column_sum(rows: Any) -> Any:
    """rows.sum(axis=0) of a 2-D value; for an array through BLAS (3x NumPy's sum, any size)."""
    if type(rows) is np.ndarray:
        return np.dot(_ones_row(rows.shape[0], rows.dtype), rows)
    return rows.sum(axis=0)


def scalar(grad: Any) -> Any:
    """A 0-d gradient as a factor: a Python float for an array (multiplying by it is cheaper
    and keeps the other operand's dtype), the Tensor itself under create_graph."""
    return grad if isinstance(grad, Tensor) else float(grad)


def _fits(fresh: np.ndarray, other: Any) -> bool:
    """True when `fresh op= other` gives what `fresh op other` gives, in fresh's memory."""
    if type(other) is float or type(other) is int:
        return True
    return (type(other) is np.ndarray and other.shape == fresh.shape
            and other.dtype == fresh.dtype)


def mul_(fresh: Any, other: Any) -> Any:
    """fresh * other, in place in `fresh` when it is an array backward just made (nobody else
    holds it) and the product has its shape and dtype; recorded when either is a Tensor.
    Multiplying by the Python number 1 returns `fresh` as it is."""
    if type(fresh) is np.ndarray and _fits(fresh, other):
        if type(other) is not np.ndarray and other == 1:
            return fresh
        fresh *= other
        return fresh
    return fresh * other


def div_(fresh: Any, other: Any) -> Any:
    """fresh / other, in place in `fresh` on the same terms as `mul_`."""
    if type(fresh) is np.ndarray and _fits(fresh, other):
        fresh /= other
        return fresh
    return fresh / other


def sub_at(fresh: Any, flat_indices: np.ndarray, value: float) -> Any:
    """`fresh` minus `value` at the C-order flat indices `flat_indices` (each at most once):
    in place for a C-contiguous array backward just made, recorded (minus a constant array
    holding `value` there) for a Tensor."""
    if type(fresh) is np.ndarray and fresh.flags.c_contiguous:
        fresh.reshape(-1)[flat_indices] -= value
        return fresh
    hole = zeros_like(fresh)
    np.put(hole, flat_indices, value)
    return fresh - hole


def first_order(grad: Any, cached: Callable[[], Any], recorded: Callable[[], Any]) -> Any:
    """A value backward needs, computed the first-order way, `cached()` (from arrays forward
    kept as constants), when `grad` is an array, or the recorded way, `recorded()` (from the
    saved inputs, so that it has a gradient), under create_graph. For fused ops whose forward
    leaves a cheaper intermediate behind (a loss's difference, a softmax's exponentials)."""
    return recorded() if isinstance(grad, Tensor) else cached()


# ------------------------------------------------------------------ forward mode (jvp rules)
def add_tangents(*terms: Any) -> Any:
    """The sum of the tangent contributions that are not None (None when all are): how a jvp
    rule adds the parts d(out)/d(arg_i) . tangent_i of the arguments that carry a tangent."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def diagonal_jvp(node: Any, tangents: tuple[Any, ...]) -> Any:
    """The jvp of an elementwise op from its backward: each argument's Jacobian is diagonal
    (up to broadcasting), backward(g)[i] = g * d(out)/d(arg_i) elementwise, so
    backward(t_i)[i] is the contribution of tangent t_i (in the broadcast shape). One partial
    per tangent, at the op's own formula: its kinks and tie rules are backward's."""
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        part = node.backward(t)
        part = part[i] if type(part) is tuple else part
        total = part if total is None else total + part
    return total


def reduction_jvp(node: Any, t: Any) -> Any:
    """The jvp of a reduction (each output element depends on one slice of x): the slice's
    partial derivatives, backward of ones (a gradient of the reduced shape), times the
    tangent, summed over the reduced axes (`node.axes`, `node.keepdims`, `node.kshape`)."""
    slope = node.backward(np.ones(node.kshape, dtype=t.dtype))
    return (t * slope).sum(axis=node.axes, keepdims=node.keepdims)
