"""Fused layers: x @ weight + bias, and that followed by an activation, as one graph node.

On the seed networks a training step is a dozen ops on arrays of a few hundred numbers, so
Python overhead per node, not arithmetic, decides the speed (benchmarks/: W1-W3). nn.Linear is
in every network, so its MatMul-then-Add (and the activation after it) is the most frequent
chain of ops: each op here computes it in one node, with the primitives' own derivative
helpers (ops/_derivatives.py), so values and gradients are theirs bit for bit. Backward is
written over arrays or Tensors (see microtensor/function.py): gradients of gradients work.
The price of fusing: the pre-activation is never a tensor of its own (no picture of it, no
hook on it). nn.Linear and nn.functional.linear call the functions at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor
from . import vocab as V
from ._util import tensor_arg

# np.dot rather than @ for 2-D arrays: the same BLAS call without the ufunc machinery around
# matmul, 0.5-0.8 us less per product (a W1 step makes eight)
_dot = np.dot


class Linear(Function):
    """x @ weight + bias.   d/dx = grad @ weight^T,  d/dweight = x^T @ grad,  d/dbias = sum(grad)

    One node instead of two (MatMul, then Add with a broadcast bias whose gradient the engine
    would sum back). Leading axes of x are batch axes; weight is (in, out), bias (out,).
    """

    _fresh_grads = True  # three matmuls: new arrays (the engine need not copy them)

    # -- code templates (mt.compile): the statements forward and backward run, for 2-D x
    def emit_forward(self, e: Any) -> list[str] | None:
        """x @ weight (+ bias) as statements (see microtensor.compiler.Emit)."""
        return self._emit_affine(e)

    def emit_backward(self, e: Any) -> tuple[list[str], list[str | None]]:
        """Linear's gradients as statements (see microtensor.compiler.Emit)."""
        return self._emit_grads(e, e.grad, [])

    @staticmethod
    def _emit_affine(e: Any) -> list[str] | None:
        x, weight = e.values[0], e.values[1]
        bias = e.values[2] if len(e.values) > 2 else None
        if type(x) is not np.ndarray or x.ndim != 2 or type(weight) is not np.ndarray:
            return None
        dot = e.fn("dot", np.dot, "numpy")
        lines = [f"{e.out} = {dot}({e.args[0]}, {e.args[1]})"]
        if bias is not None:
            if bias.dtype == np.result_type(x.dtype, weight.dtype):
                lines.append(f"{e.out} += {e.args[2]}")
            else:
                lines.append(f"{e.out} = {e.out} + {e.args[2]}")
        return lines

    def _emit_grads(self, e: Any, grad: str, lines: list[str]) -> tuple[list[str],
                                                                         list[str | None]]:
        """`_grads` as statements: V.matmul of 2-D arrays is np.dot, V.column_sum a product
        with a row of ones."""
        dot = e.fn("dot", np.dot, "numpy")
        needs = self.needs_input_grad
        x, weight = e.args[0], e.args[1]
        out: list[str | None] = [None] * len(needs)
        if needs[0]:
            out[0] = e.targets[0]
            lines.append(f"{out[0]} = {dot}({grad}, {weight}.T)")
        if needs[1]:
            out[1] = e.targets[1]
            lines.append(f"{out[1]} = {dot}({x}.T, {grad})")
        if len(needs) > 2 and needs[2]:
            n, dtype = e.out_value.shape[0], e.out_value.dtype
            ones = e.const(f"ones_{n}", V._ones_row(n, dtype), f"np.ones({n}, {str(dtype)!r})")
            out[2] = e.targets[2]
            lines.append(f"{out[2]} = {dot}({ones}, {grad})  # column sums")
        return lines, out

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = self._affine(x, weight, bias)
        self.save_for_backward(x, weight)
        return out

    @staticmethod
    def _affine(x: np.ndarray, weight: np.ndarray, bias: Any) -> np.ndarray:
        """x @ weight + bias as a new array, the shapes checked (each subclass saves what its
        own backward needs, once)."""
        if weight.ndim != 2 or (bias is not None and bias.shape != weight.shape[1:]):
            raise ValueError(
                f"linear: weight must be (in, out) and bias (out,), got weight {weight.shape}"
                + ("" if bias is None else f" and bias {bias.shape}")
            )
        if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape "
                f"{weight.shape} (weight has {weight.shape[0]} input features)"
            )
        out = _dot(x, weight) if x.ndim == 2 else x @ weight
        if bias is not None:
            if bias.dtype == out.dtype:
                out += bias  # out is ours: no second array for the sum
            else:
                out = out + bias
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight = self.saved
        return self._grads(grad, x, weight)

    def _grads(self, grad: Any, x: Any, weight: Any) -> tuple[Any, ...]:
        """The gradients of x, weight (and bias) given the gradient of x @ weight + bias."""
        needs = self.needs_input_grad
        grad_x = V.matmul(grad, weight.T) if needs[0] else None
        rows = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
        grad_w = None
        if needs[1]:
            flat = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            grad_w = V.matmul(flat.T, rows)
        if len(needs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, (V.column_sum(rows) if needs[2] else None)

    def jvp(self, tx: Any, tw: Any, tb: Any = None) -> Any:
        x, weight = self.saved[:2]
        return self._affine_jvp(x, weight, tx, tw, tb)

    @staticmethod
    def _affine_jvp(x: Any, weight: Any, tx: Any, tw: Any, tb: Any) -> Any:
        """The tangent of z = x @ weight + bias: tx @ weight + x @ tw + tb."""
        return V.add_tangents(None if tx is None else V.matmul(tx, weight),
                              None if tw is None else V.matmul(x, tw), tb)


class LinearSigmoid(Linear):
    """sigmoid(x @ weight + bias).   dz = grad * out * (1 - out), then Linear's rule with dz

    The sigmoid is Sigmoid's expit, computed in place on the product; the gradient is
    Sigmoid's `sigmoid_grad`.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = self._affine(x, weight, bias)
        V.expit(out, out=out)
        self.save_for_backward(x, weight, out)
        return out

    def emit_forward(self, e: Any) -> list[str] | None:
        """The affine statements, then expit in place (see microtensor.compiler.Emit)."""
        lines = self._emit_affine(e)
        if lines is not None:
            from scipy import special  # what V.expit calls (imported on first use there too)

            expit = e.fn("expit", special.expit, "scipy.special")
            lines.append(f"{expit}({e.out}, out={e.out})")
        return lines

    def emit_backward(self, e: Any) -> tuple[list[str], list[str | None]]:
        """sigmoid_grad's three in-place steps, then Linear's (see compiler.Emit)."""
        dz = e.local("dz", "d_" + e.out.replace("h", "z", 1))
        lines = [f"{dz} = 1 - {e.out}", f"{dz} *= {e.out}", f"{dz} *= {e.grad}"]
        return self._emit_grads(e, dz, lines)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out = self.saved
        return self._grads(V.sigmoid_grad(grad, out), x, weight)

    def jvp(self, tx: Any, tw: Any, tb: Any = None) -> Any:
        x, weight, out = self.saved
        return V.sigmoid_grad(self._affine_jvp(x, weight, tx, tw, tb), out)


class LinearTanh(Linear):
    """tanh(x @ weight + bias).   dz = grad * (1 - out**2), then Linear's rule with dz

    tanh in place on the product; the gradient is Tanh's `tanh_grad`."""

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = self._affine(x, weight, bias)
        np.tanh(out, out=out)
        self.save_for_backward(x, weight, out)
        return out

    def emit_forward(self, e: Any) -> list[str] | None:
        """The affine statements, then tanh in place (see microtensor.compiler.Emit)."""
        lines = self._emit_affine(e)
        if lines is not None:
            lines.append(f"{e.fn('tanh', np.tanh, 'numpy')}({e.out}, out={e.out})")
        return lines

    def emit_backward(self, e: Any) -> tuple[list[str], list[str | None]]:
        """tanh_grad, then Linear's (see microtensor.compiler.Emit)."""
        dz = e.local("dz", "d_" + e.out.replace("h", "z", 1))
        return self._emit_grads(e, dz, [f"{dz} = {e.grad} * (1 - {e.out} * {e.out})"])

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out = self.saved
        return self._grads(V.tanh_grad(grad, out), x, weight)

    def jvp(self, tx: Any, tw: Any, tb: Any = None) -> Any:
        x, weight, out = self.saved
        return V.tanh_grad(self._affine_jvp(x, weight, tx, tw, tb), out)


class LinearReLU(Linear):
    """max(x @ weight + bias, 0).   dz = grad * relu'(z), then Linear's rule with dz

    The max is taken in place. ReLU's slope (0.5 at z == 0 exactly, as Relu's) is rebuilt from
    the output, which the next layer keeps anyway, and the flat indices of the exact zeros of
    z (almost always none): no array of z's size beyond what the unfused pair keeps.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        z = self._affine(x, weight, bias)
        if any(self.needs_input_grad):
            self.save_for_backward(x, weight, z, constant(np.flatnonzero(z == 0)))
        np.maximum(z, 0, out=z)  # NaN stays NaN, so sign(out) is Relu's NaN slope too
        return z

    def emit_forward(self, e: Any) -> list[str] | None:
        """The affine statements, the exact zeros kept, the max in place (compiler.Emit)."""
        lines = self._emit_affine(e)
        if lines is None:
            return None
        if any(self.needs_input_grad):
            flatnonzero = e.fn("flatnonzero", np.flatnonzero, "numpy")
            lines.append(f"{e.local('zeros')} = {flatnonzero}({e.out} == 0)")
        lines.append(f"{e.fn('maximum', np.maximum, 'numpy')}({e.out}, 0, out={e.out})")
        return lines

    def emit_backward(self, e: Any) -> tuple[list[str], list[str | None]]:
        """relu_slope_of_output and mul_, then Linear's (see microtensor.compiler.Emit)."""
        dz, zeros = e.local("dz", "d_" + e.out.replace("h", "z", 1)), e.local("zeros")
        put = e.fn("put", np.put, "numpy")
        lines = [f"{dz} = {e.fn('sign', np.sign, 'numpy')}({e.out})",
                 f"if {zeros}.size: {put}({dz}, {zeros}, {e.lit(V.RELU_SLOPE_AT_ZERO)})",
                 f"{dz} *= {e.grad}"]
        return self._emit_grads(e, dz, lines)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, weight, out, at_zero = self.saved
        slope = V.relu_slope_of_output(out, at_zero)  # a new constant array
        return self._grads(V.mul_(slope, grad), x, weight)  # the slope array becomes dz

    def jvp(self, tx: Any, tw: Any, tb: Any = None) -> Any:
        x, weight, out, at_zero = self.saved
        slope = V.relu_slope_of_output(out, at_zero)
        return self._affine_jvp(x, weight, tx, tw, tb) * slope


# one function per activation, so that nn.Linear looks its function up once (when the
# activation is set) and each forward is one call and one apply
def _plain(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "linear")
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def _sigmoid(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "linear")
    return LinearSigmoid.apply(x, weight) if bias is None else LinearSigmoid.apply(x, weight,
                                                                                   bias)


def _tanh(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "linear")
    return LinearTanh.apply(x, weight) if bias is None else LinearTanh.apply(x, weight, bias)


def _relu(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        x = tensor_arg(x, "linear")
    return LinearReLU.apply(x, weight) if bias is None else LinearReLU.apply(x, weight, bias)


_FUNCTIONS: dict[str | None, Callable[..., Tensor]] = {
    None: _plain, "sigmoid": _sigmoid, "tanh": _tanh, "relu": _relu,
}
ACTIVATIONS: tuple[str | None, ...] = tuple(_FUNCTIONS)


def linear_function(activation: str | None) -> Callable[..., Tensor]:
    """The fused function `f(x, weight, bias=None)` for `activation` (None, "sigmoid", "tanh"
    or "relu"): what nn.Linear(..., activation=...) looks up once and calls on every forward.
    Anything else is a ValueError listing the choices."""
    fn = _FUNCTIONS.get(activation) if activation is None or isinstance(activation, str) else None
    if fn is None:
        raise ValueError("linear: activation must be None, 'sigmoid', 'tanh' or 'relu', "
                         f"got {activation!r}")
    return fn


def linear(x: Any, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """activation(x @ weight + bias) as one graph node (`Linear`, `LinearSigmoid`,
    `LinearTanh` or `LinearReLU`): weight (in, out), bias (out,) or None, leading axes of x
    are batch axes; other shapes are a ValueError naming them. `activation` is None,
    "sigmoid", "tanh" or "relu"."""
    return linear_function(activation)(x, weight, bias)
