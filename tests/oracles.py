"""Hand-derived gradients of single ops, in plain NumPy: the oracles the autodiff must equal.

Each function takes the op's inputs and the incoming gradient `g` (same shape as the output)
and returns the vector-Jacobian product(s), derived on paper, not by calling microtensor.
Kinks follow the documented tie rule (average of the one-sided derivatives).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, written without overflow: 1 / (1 + e^-x) = (1 + tanh(x/2)) / 2."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def sigmoid_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d sigmoid / dx = s (1 - s)."""
    s = sigmoid(x)
    return g * s * (1 - s)


def tanh_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d tanh / dx = 1 - tanh^2."""
    return g * (1 - np.tanh(x) ** 2)


def exp_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d e^x / dx = e^x."""
    return g * np.exp(x)


def log_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d log x / dx = 1 / x."""
    return g / x


def sqrt_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d sqrt(x) / dx = 1 / (2 sqrt(x))."""
    return g / (2 * np.sqrt(x))


def div_vjp(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d (x / y) = dx / y - x dy / y^2 (same shapes, no broadcasting)."""
    return g / y, -g * x / y**2


def pow_vjp(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d x^y = y x^(y-1) dx + x^y log(x) dy, for x > 0."""
    return g * y * x ** (y - 1), g * x**y * np.log(x)


def relu_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """relu'(x) = 1 for x > 0, 0 for x < 0, 1/2 at 0 (the tie rule)."""
    return g * np.where(x > 0, 1.0, np.where(x < 0, 0.0, 0.5))


def abs_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """|x|' = sign(x), 0 at 0 (the average of -1 and +1)."""
    return g * np.sign(x)


def clip_vjp(x: np.ndarray, lo: float, hi: float, g: np.ndarray) -> np.ndarray:
    """clip' = 1 strictly inside, 0 strictly outside, 1/2 on a bound."""
    slope = np.where((x > lo) & (x < hi), 1.0, 0.0)
    slope = np.where((x == lo) | (x == hi), 0.5, slope)
    return g * slope


def maximum_vjp(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """maximum: the larger input gets g, ties give g / 2 to each."""
    wx = np.where(x > y, 1.0, np.where(x < y, 0.0, 0.5))
    return g * wx, g * (1 - wx)


def max_vjp(x: np.ndarray, axis: int, g: np.ndarray) -> np.ndarray:
    """max over `axis` (g has that axis removed): the k tied maxima of a slice get g / k each."""
    mask = (x == x.max(axis=axis, keepdims=True)).astype(float)
    return np.expand_dims(g, axis) * mask / mask.sum(axis=axis, keepdims=True)


def mean_vjp(x: np.ndarray, axis: int, g: np.ndarray) -> np.ndarray:
    """mean over `axis`: every element gets g / n."""
    return np.broadcast_to(np.expand_dims(g, axis) / x.shape[axis], x.shape)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max))."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_jacobian(x: np.ndarray) -> np.ndarray:
    """For a 1-D x: J[i, j] = d s_i / d x_j = s_i (delta_ij - s_j) = diag(s) - s s^T."""
    s = softmax(x)
    return np.diag(s) - np.outer(s, s)


def softmax_vjp(x: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """J^T g = s * (g - sum(g * s)) along `axis` (J is symmetric)."""
    s = softmax(x, axis)
    return s * (g - (g * s).sum(axis=axis, keepdims=True))


def log_softmax_vjp(x: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """d (x_i - lse(x)) / d x_j = delta_ij - s_j, so J^T g = g - s * sum(g)."""
    return g - softmax(x, axis) * g.sum(axis=axis, keepdims=True)


def logsumexp_vjp(x: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    """d lse(x) / d x = softmax(x)."""
    return np.expand_dims(g, axis) * softmax(x, axis)


def matmul_vjp(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For 2-D x (m, k), y (k, n): d(x y) = dx y + x dy, so grad_x = g y^T, grad_y = x^T g."""
    return g @ y.T, x.T @ g


def matvec_vjp(a: np.ndarray, v: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a (m, k), v (k,): grad_a = outer(g, v), grad_v = a^T g."""
    return np.outer(g, v), a.T @ g


def cube_sum_hessian(x: np.ndarray) -> np.ndarray:
    """Hessian of sum(x^3) over a 1-D x: diag(6 x)."""
    return np.diag(6 * x)


def quadratic_form_hessian(a: np.ndarray) -> np.ndarray:
    """Hessian of x^T A x: A + A^T (independent of x)."""
    return a + a.T


def quadratic_form_grad(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of x^T A x: (A + A^T) x."""
    return (a + a.T) @ x


def getitem_vjp(shape: tuple[int, ...], index: Any, g: np.ndarray) -> np.ndarray:
    """x[index]: zeros with g added at every selected position, repeated positions adding up
    (an explicit loop over the selected flat positions, independent of np.add.at)."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    out = np.zeros(int(np.prod(shape)))
    for p, v in zip(np.ravel(positions), np.ravel(g)):
        out[p] += v
    return out.reshape(shape)
