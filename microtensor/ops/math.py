"""Elementwise math beyond the primitives: trigonometric, hyperbolic, rounding, erf and the
two-argument functions. Each op is a `Function` subclass registered once (see registry.py).

Backward formulas use NumPy ufuncs (np.cos, np.sqrt, ...) and operators, which run on arrays at
first order and, through NumPy dispatch, as the registered ops on Tensors under create_graph.
The rounding ops (sign, floor, ceil, round, trunc, floor_divide) are piecewise constant: their
gradient is zero everywhere, as PyTorch gives it (not None: a leaf reached only through them
gets a zero gradient).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor
from . import vocab as V
from ._util import operand, operands, tensor_arg
from .registry import register

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    """SciPy's erf, imported on first use (SciPy costs an import only where erf is used)."""
    from scipy import special

    return special.erf(x)


# ------------------------------------------------------------------ trigonometric
class Sin(Function):
    """sin(x).   d/dx = cos(x)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * np.cos(x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Cos(Function):
    """cos(x).   d/dx = -sin(x)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return -grad * np.sin(x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Tan(Function):
    """tan(x).   d/dx = 1 + tan(x)**2 = 1 + out**2"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tan(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad * (1 + out * out)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arcsin(Function):
    """arcsin(x).   d/dx = 1 / sqrt(1 - x**2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arcsin(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / np.sqrt(1 - x * x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arccos(Function):
    """arccos(x).   d/dx = -1 / sqrt(1 - x**2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arccos(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return -grad / np.sqrt(1 - x * x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arctan(Function):
    """arctan(x).   d/dx = 1 / (1 + x**2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arctan(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / (1 + x * x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arctan2(Function):
    """arctan2(y, x), the angle of the point (x, y).
    d/dy = x / (x**2 + y**2),  d/dx = -y / (x**2 + y**2)"""

    def forward(self, y: Any, x: Any) -> np.ndarray:
        self.save_for_backward(y, x)
        return np.arctan2(y, x)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        y, x = self.saved
        need_y, need_x = self.needs_input_grad
        scaled = grad / (x * x + y * y)
        return (scaled * x if need_y else None), (-scaled * y if need_x else None)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


# ------------------------------------------------------------------ hyperbolic
class Sinh(Function):
    """sinh(x).   d/dx = cosh(x)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.sinh(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * np.cosh(x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Cosh(Function):
    """cosh(x).   d/dx = sinh(x)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.cosh(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * np.sinh(x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arcsinh(Function):
    """arcsinh(x).   d/dx = 1 / sqrt(x**2 + 1)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arcsinh(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / np.sqrt(x * x + 1)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arccosh(Function):
    """arccosh(x), x >= 1.   d/dx = 1 / sqrt(x**2 - 1)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arccosh(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / np.sqrt(x * x - 1)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Arctanh(Function):
    """arctanh(x), |x| < 1.   d/dx = 1 / (1 - x**2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.arctanh(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / (1 - x * x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


# ------------------------------------------------------------------ exponents and logarithms
class Expm1(Function):
    """exp(x) - 1, precise for small x.   d/dx = exp(x)

    Not out + 1: for negative x that sum cancels (float32 expm1(-9) + 1 keeps 3 digits of
    exp(-9)), while exp(x) is exact to rounding."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.expm1(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * V.exp(x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Exp2(Function):
    """2 ** x.   d/dx = ln(2) * out"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.exp2(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad * out * _LN2

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Log2(Function):
    """log2(x).   d/dx = 1 / (x ln 2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log2(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / (x * _LN2)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Log10(Function):
    """log10(x).   d/dx = 1 / (x ln 10)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log10(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / (x * _LN10)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Rsqrt(Function):
    """1 / sqrt(x).   d/dx = -0.5 * x ** -1.5 = -0.5 * out**3"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = 1 / np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad * (out * out * out) * -0.5

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Square(Function):
    """x ** 2.   d/dx = 2 x"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.square(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * 2 * x

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Reciprocal(Function):
    """1 / x.   d/dx = -1 / x**2 = -out**2"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        # 1 / x, not np.reciprocal, which truncates integers (reciprocal(2) == 0)
        out = np.asarray(1 / x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return -grad * (out * out)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Erf(Function):
    """erf(x).   d/dx = 2 / sqrt(pi) * exp(-x**2)

    Backward squares x clipped to +-30 (exp(-900) is already 0 in float64), so a huge x
    (1e20 in float32) gives the gradient 0 instead of overflowing in x**2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return _erf(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        near = np.clip(x, -30.0, 30.0)
        return grad * V.exp(-(near * near)) * _TWO_OVER_SQRT_PI

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Logaddexp(Function):
    """log(exp(x) + exp(y)), without overflow.   d/dx = exp(x - out),  d/dy = exp(y - out)"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        out = np.asarray(np.logaddexp(x, y))
        self.save_for_backward(x, y, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y, out = self.saved
        need_x, need_y = self.needs_input_grad
        grad_x = grad * V.exp(x - out) if need_x else None
        grad_y = grad * V.exp(y - out) if need_y else None
        return grad_x, grad_y

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Hypot(Function):
    """sqrt(x**2 + y**2), without overflow.   d/dx = x / out,  d/dy = y / out"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        out = np.asarray(np.hypot(x, y))
        self.save_for_backward(x, y, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y, out = self.saved
        need_x, need_y = self.needs_input_grad
        return (grad * x / out if need_x else None), (grad * y / out if need_y else None)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


# ------------------------------------------------------------------ piecewise
class Copysign(Function):
    """|x| with the sign of y.   d/dx = sign(x) * sign(y) (0 at x == 0, as PyTorch),  d/dy = 0"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        out = np.asarray(np.copysign(x, y))
        if self.needs_input_grad[0]:
            self.save_for_backward(constant(_copysign_slope(x, out)))
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        grad_x = grad * self.saved[0] if need_x else None
        return grad_x, (V.zeros_like(grad) if need_y else None)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


def _copysign_slope(x: Any, out: np.ndarray) -> np.ndarray:
    """+1 where copysign kept x's sign, -1 where it flipped it, 0 where x is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.equal(x, 0), 0, np.sign(out) * np.sign(x)).astype(out.dtype)


class _Piecewise(Function):
    """A piecewise-constant function of x, `rule` (NumPy's ufunc).   d/dx = 0 (PyTorch's
    value; the derivative is 0 wherever it exists). One subclass per function, so graph
    pictures name it."""

    rule: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        return type(self).rule(x)

    def backward(self, grad: Any) -> Any:
        return V.zeros_like(grad)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Sign(_Piecewise):
    """sign(x): -1, 0 or 1 (nan stays nan).   d/dx = 0"""

    rule = np.sign


class Floor(_Piecewise):
    """floor(x).   d/dx = 0"""

    rule = np.floor


class Ceil(_Piecewise):
    """ceil(x).   d/dx = 0"""

    rule = np.ceil


class Trunc(_Piecewise):
    """trunc(x), toward zero.   d/dx = 0"""

    rule = np.trunc


class Round(Function):
    """round(x, decimals), halves to even.   d/dx = 0"""

    def forward(self, x: np.ndarray, decimals: int = 0) -> np.ndarray:
        return np.round(x, decimals)

    def backward(self, grad: Any) -> tuple[Any, None]:
        return V.zeros_like(grad), None

    def jvp(self, t: Any, t_decimals: Any = None) -> Any:
        return V.zeros_like(t)


class FloorDivide(Function):
    """floor(x / y) (Python's //).   d/dx = d/dy = 0, as PyTorch's div(rounding_mode="floor")"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        return np.floor_divide(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        zero = V.zeros_like(grad)
        return (zero if need_x else None), (zero if need_y else None)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Remainder(Function):
    """x - floor(x / y) * y (Python's %, the sign of y).   d/dx = 1,  d/dy = -floor(x / y)"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        if self.needs_input_grad[1]:
            self.save_for_backward(constant(np.floor_divide(x, y)))
        return np.remainder(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        return (grad if need_x else None), (-grad * self.saved[0] if need_y else None)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Lerp(Function):
    """start + weight * (end - start).
    d/dstart = 1 - weight,  d/dend = weight,  d/dweight = end - start"""

    def forward(self, start: Any, end: Any, weight: Any) -> np.ndarray:
        self.save_for_backward(start, end, weight)
        return np.asarray(start + weight * (end - start))

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        start, end, weight = self.saved
        need_s, need_e, need_w = self.needs_input_grad
        grad_s = grad * (1 - weight) if need_s else None
        grad_e = grad * weight if need_e else None
        grad_w = grad * (end - start) if need_w else None
        return grad_s, grad_e, grad_w

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)



# ---------------------------------------------------------------------- functional API
@register(method=True, numpy=np.sin)
def sin(x: Any) -> Tensor:
    """Elementwise sine (radians)."""
    return Sin.apply(tensor_arg(x, "sin"))


@register(method=True, numpy=np.cos)
def cos(x: Any) -> Tensor:
    """Elementwise cosine (radians)."""
    return Cos.apply(tensor_arg(x, "cos"))


@register(method=True, numpy=np.tan)
def tan(x: Any) -> Tensor:
    """Elementwise tangent (radians)."""
    return Tan.apply(tensor_arg(x, "tan"))


@register(method=True, numpy=np.arcsin)
def arcsin(x: Any) -> Tensor:
    """Elementwise inverse sine (nan outside [-1, 1], as NumPy)."""
    return Arcsin.apply(tensor_arg(x, "arcsin"))


@register(method=True, numpy=np.arccos)
def arccos(x: Any) -> Tensor:
    """Elementwise inverse cosine (nan outside [-1, 1], as NumPy)."""
    return Arccos.apply(tensor_arg(x, "arccos"))


@register(method=True, numpy=np.arctan)
def arctan(x: Any) -> Tensor:
    """Elementwise inverse tangent."""
    return Arctan.apply(tensor_arg(x, "arctan"))


@register(method=True, numpy=np.arctan2)
def arctan2(y: Any, x: Any) -> Tensor:
    """Elementwise angle of the point (x, y), in (-pi, pi], with broadcasting."""
    return Arctan2.apply(*operands(y, x, "arctan2"))


@register(method=True, numpy=np.sinh)
def sinh(x: Any) -> Tensor:
    """Elementwise hyperbolic sine."""
    return Sinh.apply(tensor_arg(x, "sinh"))


@register(method=True, numpy=np.cosh)
def cosh(x: Any) -> Tensor:
    """Elementwise hyperbolic cosine."""
    return Cosh.apply(tensor_arg(x, "cosh"))


@register(method=True, numpy=np.arcsinh)
def arcsinh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic sine."""
    return Arcsinh.apply(tensor_arg(x, "arcsinh"))


@register(method=True, numpy=np.arccosh)
def arccosh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic cosine (nan below 1, as NumPy)."""
    return Arccosh.apply(tensor_arg(x, "arccosh"))


@register(method=True, numpy=np.arctanh)
def arctanh(x: Any) -> Tensor:
    """Elementwise inverse hyperbolic tangent (inf at +-1, nan beyond, as NumPy)."""
    return Arctanh.apply(tensor_arg(x, "arctanh"))


@register(method=True, numpy=np.expm1)
def expm1(x: Any) -> Tensor:
    """Elementwise exp(x) - 1, precise where x is small."""
    return Expm1.apply(tensor_arg(x, "expm1"))


@register(method=True, numpy=np.exp2)
def exp2(x: Any) -> Tensor:
    """Elementwise 2 ** x."""
    return Exp2.apply(tensor_arg(x, "exp2"))


@register(method=True, numpy=np.log2)
def log2(x: Any) -> Tensor:
    """Elementwise base-2 logarithm."""
    return Log2.apply(tensor_arg(x, "log2"))


@register(method=True, numpy=np.log10)
def log10(x: Any) -> Tensor:
    """Elementwise base-10 logarithm."""
    return Log10.apply(tensor_arg(x, "log10"))


@register(method=True)
def rsqrt(x: Any) -> Tensor:
    """Elementwise 1 / sqrt(x) (PyTorch's rsqrt; NumPy has no such function)."""
    return Rsqrt.apply(tensor_arg(x, "rsqrt"))


@register(method=True, numpy=np.square)
def square(x: Any) -> Tensor:
    """Elementwise x ** 2."""
    return Square.apply(tensor_arg(x, "square"))


@register(method=True, numpy=np.reciprocal)
def reciprocal(x: Any) -> Tensor:
    """Elementwise 1 / x (a float result for integer input, as PyTorch's reciprocal)."""
    return Reciprocal.apply(tensor_arg(x, "reciprocal"))


@register(method=True)
def erf(x: Any) -> Tensor:
    """Elementwise error function, 2 / sqrt(pi) * integral of exp(-t**2) from 0 to x."""
    return Erf.apply(tensor_arg(x, "erf"))


@register(method=True, numpy=np.logaddexp)
def logaddexp(x: Any, y: Any) -> Tensor:
    """Elementwise log(exp(x) + exp(y)), stable for inputs of any size, with broadcasting."""
    return Logaddexp.apply(*operands(x, y, "logaddexp"))


@register(method=True, numpy=np.hypot)
def hypot(x: Any, y: Any) -> Tensor:
    """Elementwise sqrt(x**2 + y**2), without overflow, with broadcasting."""
    return Hypot.apply(*operands(x, y, "hypot"))


@register(method=True, numpy=np.copysign)
def copysign(x: Any, y: Any) -> Tensor:
    """Elementwise |x| with the sign of y (its sign bit: -0.0 counts as negative)."""
    return Copysign.apply(*operands(x, y, "copysign"))


@register(method=True, numpy=np.sign)
def sign(x: Any) -> Tensor:
    """Elementwise -1, 0 or 1 (nan stays nan, as NumPy); zero gradient."""
    x = tensor_arg(x, "sign")
    if x.dtype == np.bool_:  # NumPy's sign has no boolean loop
        raise TypeError("sign: boolean input is not supported (NumPy's sign has no bool loop)")
    return Sign.apply(x)


@register(method=True, numpy=np.floor)
def floor(x: Any) -> Tensor:
    """Elementwise largest integer <= x; zero gradient."""
    return Floor.apply(tensor_arg(x, "floor"))


@register(method=True, numpy=np.ceil)
def ceil(x: Any) -> Tensor:
    """Elementwise smallest integer >= x; zero gradient."""
    return Ceil.apply(tensor_arg(x, "ceil"))


@register(method=True, numpy=np.trunc)
def trunc(x: Any) -> Tensor:
    """Elementwise x rounded toward zero; zero gradient."""
    return Trunc.apply(tensor_arg(x, "trunc"))


@register(method=True, numpy=np.round)
def round(x: Any, decimals: int = 0, out: None = None) -> Tensor:  # noqa: A001
    """x rounded to `decimals` decimal places, halves to even (as NumPy and PyTorch); zero
    gradient. `out` (NumPy's signature) must be None."""
    if out is not None:
        raise TypeError("round: out= is not supported (microtensor makes a new tensor)")
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    return Round.apply(tensor_arg(x, "round"), int(decimals))


@register(numpy=np.floor_divide)
def floor_divide(x: Any, y: Any) -> Tensor:
    """Elementwise floor(x / y) (the // operator, Python's rounding); zero gradient."""
    return FloorDivide.apply(*operands(x, y, "floor_divide"))


@register(numpy=np.remainder)
def remainder(x: Any, y: Any) -> Tensor:
    """Elementwise x - floor(x / y) * y (the % operator: the result has y's sign)."""
    return Remainder.apply(*operands(x, y, "remainder"))


@register(method=True)
def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """start + weight * (end - start), with broadcasting; `weight` is a number or a tensor
    (PyTorch's torch.lerp; any of the three may require grad)."""
    start, end = operands(start, end, "lerp")
    return Lerp.apply(start, end, operand(weight, "lerp"))
