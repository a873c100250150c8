"""User-defined ops (`mt.Function`), gradcheck's own failure report, and detect_anomaly."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given

import microtensor as mt


class Cube(mt.Function):
    """x ** 3, backward written over arrays-or-Tensors so it is differentiable too."""

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, grad):
        (x,) = self.saved
        return 3 * grad * x * x


class ScaledProduct(mt.Function):
    """x * y * scale, with a keyword argument and needs_input_grad checks."""

    calls: list[tuple[bool, ...]] = []

    def forward(self, x, y, scale=1.0):
        type(self).calls.append(self.needs_input_grad)
        self.scale = scale
        self.save_for_backward(x, y)
        return x * y * scale

    def backward(self, grad):
        x, y = self.saved
        grad_x = grad * y * self.scale if self.needs_input_grad[0] else None
        grad_y = grad * x * self.scale if self.needs_input_grad[1] else None
        return grad_x, grad_y


class WrongSquare(mt.Function):
    """Claims d/dx x**2 = x (off by a factor of two): gradcheck must catch it."""

    def forward(self, x):
        self.save_for_backward(x)
        return x**2

    def backward(self, grad):
        (x,) = self.saved
        return grad * x


@given(S.arrays((3,)))
def test_custom_function_first_and_second_order(x) -> None:
    t = mt.Tensor(x, requires_grad=True)
    y = Cube.apply(t)
    assert type(y.grad_fn) is Cube
    np.testing.assert_allclose(y.data, x**3)
    assert mt.gradcheck(Cube.apply, [t])
    assert mt.gradgradcheck(Cube.apply, [t])


def test_custom_function_needs_input_grad_and_kwargs() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = mt.tensor([3.0, 4.0])
    ScaledProduct.calls.clear()
    out = ScaledProduct.apply(x, y, scale=2.0)
    assert ScaledProduct.calls == [(True, False)], "needs_input_grad is known inside forward"
    assert out.grad_fn.needs_input_grad == (True, False)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
    assert y.grad is None


def test_custom_function_gradient_is_unbroadcast_by_engine() -> None:
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = mt.tensor([10.0, 20.0], requires_grad=True)
    ScaledProduct.apply(x, y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [4.0, 6.0])
    assert mt.gradcheck(lambda a, b: ScaledProduct.apply(a, b, scale=0.5), [x, y])


def test_custom_function_with_no_grad_records_nothing() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    with mt.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None


def test_custom_function_returning_too_few_gradients() -> None:
    class TooFew(mt.Function):
        def forward(self, x, y):
            return x + y

        def backward(self, grad):
            return (grad,)

    x = mt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"TooFew\.backward returned 1 gradients for 2"):
        TooFew.apply(x, x).backward()
    assert x.grad is None


def test_gradcheck_reports_wrong_gradient_in_a_table() -> None:
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(mt.GradcheckError) as info:
        mt.gradcheck(WrongSquare.apply, [x])
    msg = str(info.value)
    assert "analytic" in msg and "numerical" in msg and "max |diff|" in msg
    row = next(line for line in msg.splitlines() if line.split()[:2] == ["0", "no"])
    analytic, numerical = (float(v) for v in row.split()[-2:])
    assert numerical == pytest.approx(2 * analytic, rel=1e-6)
    assert mt.gradcheck(WrongSquare.apply, [x], raise_exception=False) is False


def test_gradgradcheck_catches_wrong_second_derivative() -> None:
    class FrozenCube(Cube):
        """Right first derivative, but saves a detached copy: no second derivative."""

        def backward(self, grad):
            (x,) = self.saved
            x = x.detach() if isinstance(x, mt.Tensor) else x
            return 3 * grad * x * x

    x = mt.tensor([1.0, 2.0], requires_grad=True)
    assert mt.gradcheck(FrozenCube.apply, [x])
    with pytest.raises(mt.GradcheckError):
        mt.gradgradcheck(FrozenCube.apply, [x])


def test_gradcheck_requires_float64() -> None:
    x = mt.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        mt.gradcheck(mt.exp, [x])


# ------------------------------------------------------------------------- anomaly mode
def test_detect_anomaly_names_op_for_nan_in_forward() -> None:
    x = mt.tensor([-1.0, 1.0], requires_grad=True)
    with mt.detect_anomaly(), pytest.raises(FloatingPointError, match="Log"):
        x.log()


def test_detect_anomaly_names_op_for_nan_in_forward_without_numpy_errors() -> None:
    x = mt.tensor([-1.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), mt.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log.*forward"):
            x.log()


def test_detect_anomaly_names_op_for_nan_in_backward() -> None:
    x = mt.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"), mt.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError, match=r"Sqrt\.backward"):
            y.backward()
    assert x.grad is None


def test_detect_anomaly_names_op_when_numpy_raises_in_backward() -> None:
    x = mt.tensor([0.0, 1.0], requires_grad=True)
    with mt.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError, match="Sqrt"):
            y.backward()


def test_detect_anomaly_is_off_by_default_and_restored() -> None:
    assert not mt.is_anomaly_enabled()
    with mt.detect_anomaly():
        assert mt.is_anomaly_enabled()
    assert not mt.is_anomaly_enabled()


# ------------------------------------------------------------------------- saved values
class CubeFromCopy(Cube):
    """Saves a copy of its input: neither the input, the output, nor a declared constant."""

    def forward(self, x):
        self.save_for_backward(x.copy())
        return x**3


class CubeWithConstant(mt.Function):
    """x ** 3 with a mask saved as a declared constant (where x > 0 the slope is doubled)."""

    def forward(self, x):
        self.save_for_backward(x, mt.constant((x > 0).astype(x.dtype)))
        return x**3

    def backward(self, grad):
        x, mask = self.saved
        return 3 * grad * x * x * (1 + mask)


def test_save_for_backward_refuses_an_undeclared_value() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"CubeFromCopy\.save_for_backward: value 0 is neither "
                                        r"an input, the output, nor marked constant.*mt\.constant"):
        CubeFromCopy.apply(x)
    with mt.no_grad(), pytest.raises(TypeError, match="neither an input"):
        CubeFromCopy.apply(x)  # the same op is refused whether or not it records


def test_save_for_backward_keeps_a_constant_unwrapped_and_unattached() -> None:
    x = mt.tensor([-1.0, 2.0], requires_grad=True)
    y = CubeWithConstant.apply(x)
    mask = y.grad_fn.saved[1]
    assert type(mask) is np.ndarray and y.grad_fn._saved_src == (0, None)
    (g,) = mt.grad(y.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.data, [3.0, 24.0])
    (gg,) = mt.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.data, [-6.0, 24.0])  # d/dx 3 x^2 (1 + mask): the mask is fixed


def test_save_for_backward_declares_the_output() -> None:
    class Exp2(mt.Function):
        def forward(self, x):
            out = np.exp(x)
            self.save_for_backward(out)
            return out

        def backward(self, grad):
            (out,) = self.saved
            return grad * out

    x = mt.tensor([0.5, 1.0], requires_grad=True)
    y = Exp2.apply(x)
    assert y.grad_fn._saved_src == (-1,)
    assert mt.gradgradcheck(Exp2.apply, [x])


def test_save_for_backward_outside_forward_is_refused() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    node = Cube.apply(x).grad_fn
    with pytest.raises(RuntimeError, match=r"Cube\.save_for_backward: call it inside forward"):
        node.save_for_backward(x.data)
