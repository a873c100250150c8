"""Elementwise ops. Each backward is written over arrays-or-Tensors (see function.py).

Ties: where a function has a kink (abs, relu, clip, maximum, minimum) the gradient at the
kink is the average of the two one-sided derivatives, which is also what central differences
measure: relu'(0) = 0.5, abs'(0) = 0, d/dx maximum(x, y) = 0.5 where x == y.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor, _make
from . import vocab as V
from ._util import operand, operands, raw, tensor_arg
from .registry import register


class Add(Function):
    """x + y.   d/dx = 1,  d/dy = 1"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        return x + y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, grad

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.args[0]} + {e.args[1]}"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: the incoming gradient, to both."""
        return [], [e.grad, e.grad]

    def jvp(self, tx: Any, ty: Any) -> Any:
        return V.add_tangents(tx, ty)


class Sub(Function):
    """x - y.   d/dx = 1,  d/dy = -1"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        return x - y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if self.needs_input_grad[1] else None)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.args[0]} - {e.args[1]}"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: the gradient, and its negation."""
        if not self.needs_input_grad[1]:
            return [], [e.grad, None]
        return [f"{e.targets[1]} = -{e.grad}"], [e.grad, e.targets[1]]

    def jvp(self, tx: Any, ty: Any) -> Any:
        return V.add_tangents(tx, None if ty is None else -ty)


class Mul(Function):
    """x * y.   d/dx = y,  d/dy = x"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved
        need_x, need_y = self.needs_input_grad
        return (grad * y if need_x else None), (grad * x if need_y else None)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.args[0]} * {e.args[1]}"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad * y, grad * x."""
        lines, out = [], [None, None]
        for i, other in ((0, e.args[1]), (1, e.args[0])):
            if self.needs_input_grad[i]:
                out[i] = e.targets[i]
                lines.append(f"{out[i]} = {e.grad} * {other}")
        return lines, out

    def jvp(self, tx: Any, ty: Any) -> Any:
        x, y = self.saved
        return V.add_tangents(None if tx is None else tx * y, None if ty is None else x * ty)


class Div(Function):
    """x / y.   d/dx = 1 / y,  d/dy = -x / y**2 = -out / y"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        out = np.asarray(x / y)
        self.save_for_backward(y, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        y, out = self.saved
        need_x, need_y = self.needs_input_grad
        grad_x = grad / y if need_x else None
        grad_y = -grad * out / y if need_y else None
        return grad_x, grad_y

    def jvp(self, tx: Any, ty: Any) -> Any:
        y, out = self.saved
        return V.add_tangents(None if tx is None else tx / y,
                              None if ty is None else -ty * out / y)


class Neg(Function):
    """-x.   d/dx = -1"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, grad: Any) -> Any:
        return -grad

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = -{e.args[0]}"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: -grad."""
        return [f"{e.targets[0]} = -{e.grad}"], [e.targets[0]]

    def jvp(self, t: Any) -> Any:
        return -t


class Pow(Function):
    """x ** y.   d/dx = y * x ** (y - 1),  d/dy = out * log(x)

    At the edges the values are PyTorch's: d/dx x ** 0 = 0 even where x ** -1 is not finite
    (x = 0, a subnormal, nan: 0 * inf otherwise); d/dy 0 ** y = 0 for y >= 0 (the constant
    0 or 1), and out * log(0) = inf * -inf = -inf for y < 0.
    """

    def forward(self, x: Any, y: Any) -> np.ndarray:
        out = np.asarray(x**y)
        # x ** 1 (a number, not a tensor that could require grad): d/dx is the gradient itself
        self.unit_exponent = type(y) in (int, float) and y == 1
        self.save_for_backward(x, y, out)
        return out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y, out = self.saved
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        if need_x:
            if self.unit_exponent:
                grad_x = grad
            else:
                # y == 0 with x ** -1 not finite (x zero, subnormal or nan): there (only there,
                # so d/dy of this gradient stays 1 / x elsewhere) the base becomes 1 and the
                # factor y zeroes the term, instead of 0 * inf
                zero = V.mask(_singular_zero_power, x, y, np.finfo(out.dtype).tiny)
                base = V.where(zero, 1, x) if zero.any() else x
                grad_x = grad * y * base ** (y - 1)
        if need_y:
            const = V.mask(_constant_power, x, y)
            with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(-1) = nan
                log_x = V.log(V.where(const, 1, x) if const.any() else x)
            grad_y = grad * out * log_x
        return grad_x, grad_y

    def emit_forward(self, e: Any) -> list[str] | None:
        """Code template for a constant exponent other than 0 (mt.compile, compiler.Emit);
        a tensor exponent, or 0 (whose gradient needs backward's masks), is called as it is."""
        y = e.values[1]
        if type(y) not in (int, float) or y == 0:
            return None
        expr = f"{e.args[0]} ** {e.lit(y)}"
        if e.out_value.ndim == 0:
            expr = f"{e.fn('asarray', np.asarray, 'numpy')}({expr})"
        return [f"{e.out} = {expr}"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad * y * x ** (y - 1), with y - 1 taken when traced."""
        if not self.needs_input_grad[0]:
            return [], [None, None]
        if self.unit_exponent:
            return [], [e.grad, None]
        y = e.values[1]
        line = f"{e.targets[0]} = {e.grad} * {e.lit(y)} * {e.args[0]} ** {e.lit(y - 1)}"
        return [line], [e.targets[0], None]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


def _singular_zero_power(x: Any, y: Any, tiny: float) -> np.ndarray:
    """Where y == 0 and x ** -1 is not finite (x zero, subnormal or nan)."""
    zero = np.equal(y, 0)
    if zero.any():
        with np.errstate(invalid="ignore"):
            zero = zero & ~(np.abs(x) >= tiny)
    return zero


def _constant_power(x: Any, y: Any) -> np.ndarray:
    """Where x ** y is the constant 0 ** y (y >= 0): d/dy is 0 there."""
    return np.equal(x, 0) & np.greater_equal(y, 0)


class Exp(Function):
    """exp(x).   d/dx = exp(x) = out"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad * out

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.fn('exp', np.exp, 'numpy')}({e.args[0]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad * out."""
        return [f"{e.targets[0]} = {e.grad} * {e.out}"], [e.targets[0]]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Log(Function):
    """log(x).   d/dx = 1 / x"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / x

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.fn('log', np.log, 'numpy')}({e.args[0]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad / x."""
        return [f"{e.targets[0]} = {e.grad} / {e.args[0]}"], [e.targets[0]]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Log1p(Function):
    """log(1 + x), precise for small x (NumPy's log1p).   d/dx = 1 / (1 + x)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log1p(x)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad / (1 + x)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Sqrt(Function):
    """sqrt(x).   d/dx = 1 / (2 * sqrt(x)) = 0.5 / out"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return grad * 0.5 / out

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Abs(Function):
    """|x|.   d/dx = sign(x)  (0 at x == 0: the average of -1 and +1)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.needs_input_grad[0]:  # np.sign has no bool loop: only float inputs get here
            self.save_for_backward(constant(np.sign(x)))
        return np.abs(x)

    def backward(self, grad: Any) -> Any:
        (sign,) = self.saved
        return grad * sign

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Tanh(Function):
    """tanh(x).   d/dx = 1 - tanh(x)**2 = 1 - out**2"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return V.tanh_grad(grad, out)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.fn('tanh', np.tanh, 'numpy')}({e.args[0]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: tanh_grad, grad * (1 - out * out)."""
        return [f"{e.targets[0]} = {e.grad} * (1 - {e.out} * {e.out})"], [e.targets[0]]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Sigmoid(Function):
    """sigmoid(x) = 1 / (1 + exp(-x)).   d/dx = s * (1 - s), s = out

    Forward is SciPy's `expit`: one ufunc (a composite takes four NumPy calls, which is what
    costs on small arrays), computed as exp(x) / (1 + exp(x)) for x < 0, so it never overflows
    and keeps the relative precision of small outputs (sigmoid(-40) = 4.2e-18, not 0).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = V.expit(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad: Any) -> Any:
        (out,) = self.saved
        return V.sigmoid_grad(grad, out)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit): SciPy's expit."""
        from scipy import special  # what V.expit calls

        return [f"{e.out} = {e.fn('expit', special.expit, 'scipy.special')}({e.args[0]})"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: sigmoid_grad's three steps, (1 - out) * out * grad."""
        d = e.targets[0]
        return [f"{d} = 1 - {e.out}", f"{d} *= {e.out}", f"{d} *= {e.grad}"], [d]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Relu(Function):
    """relu(x) = max(x, 0).   d/dx = 1 if x > 0, 0 if x < 0, 0.5 at x == 0"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.maximum(x, 0)

    def backward(self, grad: Any) -> Any:
        (x,) = self.saved
        return grad * V.relu_slope(x)

    def emit_forward(self, e: Any) -> list[str]:
        """Code template (mt.compile, see microtensor.compiler.Emit)."""
        return [f"{e.out} = {e.fn('maximum', np.maximum, 'numpy')}({e.args[0]}, 0)"]

    def emit_backward(self, e: Any) -> tuple[list[str], list[Any]]:
        """Code template: grad * relu_slope(x), the slope (sign(x) + 1) * 0.5 in place."""
        slope, d = e.local("slope"), e.targets[0]
        return [f"{slope} = {e.fn('sign', np.sign, 'numpy')}({e.args[0]})", f"{slope} += 1",
                f"{slope} *= {e.lit(V.RELU_SLOPE_AT_ZERO)}", f"{d} = {e.grad} * {slope}"], [d]

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Clip(Function):
    """clip(x, lo, hi).   d/dx = 1 inside, 0 outside, 0.5 on a bound"""

    def forward(self, x: np.ndarray, lo: Any = None, hi: Any = None) -> np.ndarray:
        self.save_for_backward(x)
        self.lo, self.hi = lo, hi
        return np.clip(x, lo, hi)

    def backward(self, grad: Any) -> tuple[Any, None, None]:
        (x,) = self.saved
        return grad * V.mask(self._slope, x), None, None

    def _slope(self, x: np.ndarray) -> np.ndarray:
        """1 inside the bounds, 0 outside, 0.5 on a bound (a constant)."""
        slope = np.ones_like(x)
        if self.lo is not None:
            slope = slope * (0.5 * ((x > self.lo).astype(x.dtype) + (x >= self.lo)))
        if self.hi is not None:
            slope = slope * (0.5 * ((x < self.hi).astype(x.dtype) + (x <= self.hi)))
        return slope

    def jvp(self, t: Any, t_lo: Any = None, t_hi: Any = None) -> Any:
        (x,) = self.saved
        return t * V.mask(self._slope, x)


class Maximum(Function):
    """maximum(x, y).   d/dx = 1 where x > y, 0.5 where x == y;  d/dy likewise"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        self.save_for_backward(x, y)
        return np.maximum(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved
        return _pick(grad, x, y, self.needs_input_grad)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Minimum(Function):
    """minimum(x, y).   d/dx = 1 where x < y, 0.5 where x == y;  d/dy likewise"""

    def forward(self, x: Any, y: Any) -> np.ndarray:
        self.save_for_backward(x, y)
        return np.minimum(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved
        return _pick(grad, y, x, self.needs_input_grad)

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


def _pick(grad: Any, big: Any, small: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    """Route `grad` to the winner of a maximum (x = big wins where big > small); ties split."""
    tie = V.mask(np.equal, big, small) * 0.5
    grad_x = grad * (V.mask(np.greater, big, small) + tie) if needs[0] else None
    grad_y = grad * (V.mask(np.less, big, small) + tie) if needs[1] else None
    return grad_x, grad_y


class Where(Function):
    """where(cond, a, b).   d/da = cond,  d/db = not cond  (cond is not differentiable)"""

    def forward(self, cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
        self.save_for_backward(cond)
        return np.where(cond, a, b)

    def backward(self, grad: Any) -> tuple[None, Any, Any]:
        (cond,) = self.saved  # a boolean input: never attached, always an array
        _, need_a, need_b = self.needs_input_grad
        grad_a = V.where(cond, grad, 0) if need_a else None
        grad_b = V.where(cond, 0, grad) if need_b else None
        return None, grad_a, grad_b

    def jvp(self, *tangents: Any) -> Any:
        """Elementwise: the tangent times the derivative (see V.diagonal_jvp)."""
        return V.diagonal_jvp(self, tangents)


class Cast(Function):
    """x.astype(dtype).   d/dx = 1 (the engine casts the gradient back to x's dtype)"""

    def forward(self, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        return x.astype(dtype)

    def backward(self, grad: Any) -> tuple[Any, None]:
        return grad, None

    def jvp(self, t: Any, t_dtype: Any = None) -> Any:
        return t  # mt.forward_ad casts it to the output's dtype (none for an integer output)


# ---------------------------------------------------------------------- functional API
@register(export=False, numpy=np.add)
def add(x: Any, y: Any) -> Tensor:
    """x + y with NumPy broadcasting."""
    return Add.apply(*operands(x, y, "add"))


@register(export=False, numpy=np.subtract)
def sub(x: Any, y: Any) -> Tensor:
    """x - y with NumPy broadcasting."""
    return Sub.apply(*operands(x, y, "sub"))


@register(export=False, numpy=np.multiply)
def mul(x: Any, y: Any) -> Tensor:
    """x * y with NumPy broadcasting."""
    return Mul.apply(*operands(x, y, "mul"))


@register(export=False, numpy=np.true_divide)
def div(x: Any, y: Any) -> Tensor:
    """x / y with NumPy broadcasting."""
    return Div.apply(*operands(x, y, "div"))


@register(export=False, numpy=np.power)
def pow(x: Any, y: Any) -> Tensor:  # noqa: A001 - the operator's name
    """x ** y; either may be a tensor."""
    return Pow.apply(*operands(x, y, "pow"))


@register(export=False, numpy=np.negative)
def neg(x: Any) -> Tensor:
    """-x."""
    return Neg.apply(_tensor(x, "neg"))


@register(method=True, numpy=np.exp)
def exp(x: Any) -> Tensor:
    """Elementwise e ** x."""
    return Exp.apply(_tensor(x, "exp"))


@register(method=True, numpy=np.log)
def log(x: Any) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(_tensor(x, "log"))


@register(method=True, numpy=np.log1p)
def log1p(x: Any) -> Tensor:
    """Elementwise log(1 + x), precise where x is small."""
    return Log1p.apply(_tensor(x, "log1p"))


@register(method=True, numpy=np.sqrt)
def sqrt(x: Any) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(_tensor(x, "sqrt"))


@register(method=True, numpy=np.absolute)
def abs(x: Any) -> Tensor:  # noqa: A001
    """Elementwise absolute value."""
    return Abs.apply(_tensor(x, "abs"))


@register(method=True, numpy=np.tanh)
def tanh(x: Any) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return Tanh.apply(_tensor(x, "tanh"))


@register(method=True)
def sigmoid(x: Any) -> Tensor:
    """Elementwise logistic function, stable for any input."""
    return Sigmoid.apply(_tensor(x, "sigmoid"))


@register(method=True)
def relu(x: Any) -> Tensor:
    """Elementwise max(x, 0)."""
    return Relu.apply(_tensor(x, "relu"))


@register(method=True, numpy=np.clip)
def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit x to [min, max]; the bounds are numbers or None."""
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, (int, float, np.integer, np.floating)):
            raise TypeError(f"clip: {name} must be a number or None, got {type(bound).__name__}")
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip.apply(_tensor(x, "clip"), min, max)


@register(numpy=np.maximum)
def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum with broadcasting; ties share the gradient."""
    return Maximum.apply(*operands(x, y, "maximum"))


@register(numpy=np.minimum)
def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum with broadcasting; ties share the gradient."""
    return Minimum.apply(*operands(x, y, "minimum"))


@register(numpy=np.where)
def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Pick `a` where `cond` is true and `b` elsewhere (broadcasting all three)."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(operand(cond, "where"))
    if c.dtype != np.bool_:
        if c.dtype.kind not in "biuf":
            raise TypeError(f"where: condition must be boolean or numeric, got {c.dtype}")
        c = c != 0
    return Where.apply(c, operand(a, "where"), operand(b, "where"))


@register(method=True, export=False)
def astype(x: Any, dtype: Any) -> Tensor:
    """Cast to `dtype` (bool, integer or float); the gradient flows back in x's dtype."""
    x = _tensor(x, "astype")
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"astype: {dtype!r} is not a dtype ({e})") from None
    if dt.kind not in "biuf":
        raise TypeError(
            f"astype: unsupported dtype {dt} (microtensor holds bool, integer and float "
            "arrays; complex, object, string and datetime dtypes are not supported)"
        )
    return Cast.apply(x, dt)


def compare(ufunc: np.ufunc, x: Any, y: Any) -> Tensor:
    """An untracked boolean Tensor from a comparison ufunc."""
    name = ufunc.__name__
    try:
        return _make(np.asarray(ufunc(raw(operand(x, name)), raw(operand(y, name)))))
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    except FloatingPointError as e:  # under np.errstate(over="raise"): float32 == 1e308
        raise FloatingPointError(f"{name}: {e}") from None


_tensor = tensor_arg  # a Tensor, or anything a Tensor can be made from (the mt.exp(x) style)
