"""microtensor: reverse-mode automatic differentiation on NumPy, small enough to read.

    import microtensor as mt
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])
"""

from . import ops  # noqa: I001
from .autograd import grad
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
from .ops.registry import REGISTRY as _REGISTRY
from .random import default_generator, manual_seed
from .tensor import RemovableHandle, Tensor  # first: the ops import it
from . import graph  # noqa: F401 - mt.graph: read-only node views, record_backward
from . import viz  # noqa: F401 - mt.viz (graphviz itself is imported only when drawing)

__version__ = "0.1.0"

# every op registered with export=True (ops/registry.py) is mt.<name>: exp, sum, where, ...
_OPS = {name: entry.fn for name, entry in _REGISTRY.items() if entry.export}
globals().update(_OPS)

__all__ = [
    "Function", "GradcheckError", "RemovableHandle", "Tensor", "arange", "constant",
    "default_generator", "detect_anomaly", "enable_grad", "eye", "full", "grad", "gradcheck",
    "gradgradcheck", "is_anomaly_enabled", "is_grad_enabled", "manual_seed", "no_grad",
    "ones", "ones_like", "ops", "rand", "randn", "scope", "set_grad_enabled", "tensor", "zeros",
    "zeros", "zeros_like",
]
__all__.extend(sorted(_OPS))
