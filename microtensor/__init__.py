"""microtensor: reverse-mode automatic differentiation on NumPy, small enough to read.

    import microtensor as mt
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])
"""

from . import ops  # noqa: I001
from .engine import grad
from .factories import arange, eye, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .function import Function, constant
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    scope,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (
    abs,
    broadcast_to,
    clip,
    concatenate,
    exp,
    expand_dims,
    log,
    log_softmax,
    logsumexp,
    matmul,
    maximum,
    mean,
    minimum,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    squeeze,
    stack,
    sum,
    swapaxes,
    tanh,
    transpose,
    where,
)
from .ops import max as max  # noqa: PLC0414 - re-export under NumPy's name
from .ops import min as min  # noqa: PLC0414
from .random import default_generator, manual_seed
from .tensor import RemovableHandle, Tensor  # first: the ops import it
from . import graph  # noqa: F401 - mt.graph: read-only node views, record_backward
from . import viz  # noqa: F401 - mt.viz (graphviz itself is imported only when drawing)

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "RemovableHandle", "Tensor", "abs", "arange", "broadcast_to",
    "clip", "concatenate", "constant", "default_generator", "detect_anomaly", "enable_grad", "exp",
    "expand_dims", "eye", "full", "grad", "gradcheck", "gradgradcheck", "is_anomaly_enabled",
    "is_grad_enabled", "log", "log_softmax", "logsumexp", "manual_seed", "matmul", "max",
    "maximum", "mean", "min", "minimum", "no_grad", "ones", "ones_like", "ops", "rand", "randn",
    "relu", "reshape", "scope", "set_grad_enabled", "sigmoid", "softmax", "sqrt", "squeeze",
    "stack", "sum", "swapaxes", "tanh", "tensor", "transpose", "where", "zeros", "zeros_like",
]
