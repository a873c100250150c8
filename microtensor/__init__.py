"""microtensor: reverse-mode automatic differentiation on NumPy, small enough to read.

    import microtensor as mt
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])
"""

from . import ops  # noqa: I001
from .autograd import grad
import numpy as _np

from .factories import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from .function import Function, constant
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
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
from . import func  # noqa: F401 - mt.func: vjp, jvp, jacobian, hessian, grad, vmap
from .compiler import CompileError, compile, compile_effect  # noqa: A004 - mt.compile

__version__ = "0.1.0"

# dtype names as PyTorch spells them; they are NumPy dtypes (`t.dtype == mt.float32`). bool,
# float, double, half and long stay out of __all__: `from microtensor import *` must not
# replace the builtins bool and float
float16, float32, float64 = _np.dtype("float16"), _np.dtype("float32"), _np.dtype("float64")
int32, int64, bool = _np.dtype("int32"), _np.dtype("int64"), _np.dtype("bool")  # noqa: A001
half, float, double, long = float16, float32, float64, int64  # noqa: A001

# every op registered with export=True (ops/registry.py) is mt.<name>: exp, sum, where, ...
_OPS = {name: entry.fn for name, entry in _REGISTRY.items() if entry.export}
globals().update(_OPS)
cat = concatenate  # noqa: F821 - PyTorch's name, registered above as concatenate

__all__ = [
    "CompileError", "Function", "GradcheckError", "compile", "compile_effect",
    "RemovableHandle", "Tensor", "arange", "constant",
    "default_generator", "detect_anomaly", "enable_grad", "eye", "full", "grad", "gradcheck",
    "gradgradcheck", "is_anomaly_enabled", "is_grad_enabled", "manual_seed", "no_grad",
    "ones", "ones_like", "ops", "rand", "randn", "scope", "set_grad_enabled", "tensor", "zeros",
    "zeros", "zeros_like",
    "cat", "empty", "float16", "float32", "float64", "from_numpy", "full_like",
    "inference_mode", "int32", "int64", "linspace", "logspace", "normal", "rand_like",
    "randint", "randn_like", "randperm", "uniform",
]
__all__.extend(sorted(_OPS))
