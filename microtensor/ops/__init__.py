"""Differentiable ops, grouped by kind. Each op is a `Function` subclass plus a function
that checks its arguments and calls `Op.apply`. The primitives' functions are exported here;
the fused layers (`fused`: nn.Linear's ops) and the losses (`losses`: nn.functional's) are
modules of their own, built on the primitives' derivative helpers (`_derivatives`)."""

from ..tensor import install_op_methods as _install_op_methods
from . import fused, indexing, losses, math, registry, scan, vocab  # noqa: F401
from .elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
    abs,
    add,
    astype,
    clip,
    compare,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .linalg import MatMul, matmul
from .reduce import (
    LogSoftmax,
    LogSumExp,
    Max,
    Mean,
    Min,
    Softmax,
    Sum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    sum,
)
from .shape import (
    BroadcastTo,
    Concatenate,
    GetItem,
    IndexAdd,
    Reshape,
    Stack,
    Transpose,
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
)

__all__ = [
    "fused", "losses", "registry", "vocab",
    "Abs", "Add", "BroadcastTo", "Cast", "Clip", "Concatenate", "Div", "Exp", "GetItem",
    "IndexAdd", "Log", "LogSoftmax", "LogSumExp", "MatMul", "Max", "Maximum", "Mean", "Min",
    "Minimum", "Mul", "Neg", "Pow", "Relu", "Reshape", "Sigmoid", "Softmax", "Sqrt", "Stack",
    "Sub", "Sum", "Tanh", "Transpose", "Where",
    "abs", "add", "astype", "broadcast_to", "clip", "compare", "concatenate", "div", "exp",
    "expand_dims", "getitem", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "neg", "pow", "relu", "reshape", "sigmoid", "softmax",
    "sqrt", "squeeze", "stack", "sub", "sum", "swapaxes", "tanh", "transpose", "where",
]

# every registered op's function, here too (a new op needs no line in this file)
globals().update({name: entry.fn for name, entry in registry.REGISTRY.items()})
__all__.extend(sorted(set(registry.REGISTRY) - set(__all__)))
_install_op_methods(registry.REGISTRY)  # t.exp(), t.sum(axis), ...
