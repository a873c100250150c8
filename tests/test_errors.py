"""Every error is raised at the op that is wrong, names the op and the shapes or values
involved, and leaves every tensor (data, grad, graph) as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest

import microtensor as mt


@pytest.fixture
def tensors():
    """Two tracked tensors, each with a .grad from an earlier backward, and their snapshots."""
    a = mt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = mt.tensor(np.arange(20.0).reshape(4, 5), requires_grad=True)
    (a.sum() + b.sum()).backward()
    snap = {id(t): (t.data.copy(), t.grad.data.copy(), t.grad_fn) for t in (a, b)}
    yield a, b
    for t in (a, b):
        data, grad, fn = snap[id(t)]
        np.testing.assert_array_equal(t.data, data)
        np.testing.assert_array_equal(t.grad.data, grad)
        assert t.grad_fn is fn


SHAPE_ERRORS = [
    ("matmul", lambda a, b: a @ b, ValueError, [r"matmul", r"\(2, 3\)", r"\(4, 5\)"]),
    ("matmul-1d", lambda a, b: a[0] @ b[0], ValueError, [r"matmul", r"\(3,\)", r"\(5,\)"]),
    ("matmul-batch", lambda a, b: a.reshape(2, 1, 3) @ mt.ones(4, 3, 2), ValueError,
     [r"matmul", r"\(2, 1, 3\)", r"\(4, 3, 2\)"]),
    ("matmul-0d", lambda a, b: a @ 2.0, ValueError, [r"matmul", r"0-d"]),
    ("add", lambda a, b: a + b, ValueError, [r"(?i)add", r"\(2, ?3\)", r"\(4, ?5\)"]),
    ("sub", lambda a, b: a - b, ValueError, [r"(?i)sub", r"\(2, ?3\)", r"\(4, ?5\)"]),
    ("mul-array", lambda a, b: a * np.ones(4), ValueError, [r"(?i)mul", r"\(4,\)"]),
    ("rmul-array", lambda a, b: np.ones(4) * a, ValueError, [r"(?i)mul", r"\(4,\)"]),
    ("div", lambda a, b: a / b, ValueError, [r"(?i)div", r"\(2, ?3\)"]),
    ("pow", lambda a, b: a**b, ValueError, [r"(?i)pow", r"\(2, ?3\)"]),
    ("maximum", mt.maximum, ValueError, [r"(?i)maximum", r"\(4, ?5\)"]),
    ("where", lambda a, b: mt.where(np.ones(4, bool), a, 0.0), ValueError,
     [r"(?i)where", r"\(4,\)"]),
    ("compare", lambda a, b: a < b, ValueError, [r"less", r"\(2, ?3\)"]),
    ("reshape", lambda a, b: a.reshape(4, 2), ValueError, [r"reshape", r"\(2, 3\)", r"\(4, 2\)"]),
    ("reshape-two-minus-ones", lambda a, b: a.reshape(-1, -1), ValueError, [r"reshape"]),
    ("reshape-non-int", lambda a, b: a.reshape(2.5, 2), TypeError, [r"reshape", r"2\.5"]),
    ("broadcast_to", lambda a, b: mt.broadcast_to(a, (3, 3)), ValueError,
     [r"broadcast_to", r"\(2, 3\)", r"\(3, 3\)"]),
    ("concatenate", lambda a, b: mt.concatenate([a, b]), ValueError,
     [r"concatenate", r"\(2, 3\)", r"\(4, 5\)"]),
    ("stack", lambda a, b: mt.stack([a, b]), ValueError, [r"stack", r"\(2, 3\)", r"\(4, 5\)"]),
    ("concatenate-0d", lambda a, b: mt.concatenate([a.sum(), b.sum()]), ValueError,
     [r"concatenate", r"0-d", r"\(\)"]),
    ("transpose", lambda a, b: a.transpose(0, 0), ValueError, [r"transpose", r"\(0, 0\)"]),
    ("squeeze", lambda a, b: mt.squeeze(a, 0), ValueError, [r"squeeze", r"\(2, 3\)"]),
]

AXIS_ERRORS = [
    ("sum-out-of-range", lambda a: a.sum(axis=2), ValueError, [r"sum", r"axis 2", r"dimension 2"]),
    ("mean-negative-out-of-range", lambda a: a.mean(axis=-3), ValueError, [r"mean", r"-3"]),
    ("max-repeated", lambda a: a.max(axis=(0, -2)), ValueError, [r"max", r"repeated"]),
    ("min-non-int", lambda a: a.min(axis=1.5), TypeError, [r"min", r"1\.5"]),
    ("sum-string", lambda a: a.sum(axis="0"), TypeError, [r"sum", r"'0'"]),
    ("logsumexp-out-of-range", lambda a: a.logsumexp(axis=5), ValueError, [r"logsumexp", r"5"]),
    ("softmax-out-of-range", lambda a: a.softmax(axis=2), ValueError, [r"softmax", r"2"]),
    ("log_softmax-non-int", lambda a: a.log_softmax(axis=None), TypeError, [r"log_softmax"]),
    ("concatenate-axis", lambda a: mt.concatenate([a, a], axis=2), ValueError,
     [r"concatenate", r"2"]),
    ("stack-axis", lambda a: mt.stack([a, a], axis=-4), ValueError, [r"stack", r"-4"]),
    ("expand_dims-axis", lambda a: mt.expand_dims(a, 3), ValueError, [r"expand_dims", r"3"]),
    ("swapaxes-axis", lambda a: mt.swapaxes(a, 0, 2), ValueError, [r"swapaxes", r"2"]),
    ("transpose-axis", lambda a: a.transpose(0, 2), ValueError, [r"transpose", r"\(0, 2\)"]),
]

INDEX_ERRORS = [
    ("int", lambda a: a[5], [r"getitem", r"5", r"\(2, 3\)"]),
    ("negative-int", lambda a: a[:, -4], [r"getitem", r"-4", r"\(2, 3\)"]),
    ("array", lambda a: a[[0, 7]], [r"getitem", r"7", r"\(2, 3\)"]),
    ("mask", lambda a: a[np.array([True, False, True])], [r"getitem", r"\(2, 3\)"]),
    ("too-many", lambda a: a[0, 0, 0], [r"getitem", r"\(2, 3\)"]),
    ("float", lambda a: a[1.0], [r"getitem", r"float"]),
    ("float-array", lambda a: a[np.array([0.5])], [r"getitem", r"float64"]),
]


def _check(match_all: list[str], err: BaseException) -> None:
    msg = str(err)
    for pattern in match_all:
        assert re.search(pattern, msg), f"{pattern!r} not in {msg!r}"


@pytest.mark.parametrize(("name", "fn", "kind", "patterns"), SHAPE_ERRORS,
                         ids=[e[0] for e in SHAPE_ERRORS])
def test_shape_error_names_op_and_shapes(tensors, name, fn, kind, patterns) -> None:
    a, b = tensors
    with pytest.raises(kind) as info:
        fn(a, b)
    _check(patterns, info.value)


@pytest.mark.parametrize(("name", "fn", "kind", "patterns"), AXIS_ERRORS,
                         ids=[e[0] for e in AXIS_ERRORS])
def test_bad_axis_names_op_and_axis(tensors, name, fn, kind, patterns) -> None:
    a, _ = tensors
    with pytest.raises(kind) as info:
        fn(a)
    _check(patterns, info.value)


@pytest.mark.parametrize(("name", "fn", "patterns"), INDEX_ERRORS,
                         ids=[e[0] for e in INDEX_ERRORS])
def test_bad_index_names_op_and_shape(tensors, name, fn, patterns) -> None:
    a, _ = tensors
    with pytest.raises(IndexError) as info:
        fn(a)
    _check(patterns, info.value)


NON_NUMERIC = [
    ("str", "abc"),
    ("none", None),
    ("complex", 1j),
    ("complex-array", np.ones(2, dtype=complex)),
    ("object-array", np.array([1, "a"], dtype=object)),
    ("string-array", np.array(["a", "b"])),
    ("ragged", [[1.0, 2.0], [3.0]]),
    ("dict", {"a": 1}),
]


@pytest.mark.parametrize(("name", "value"), NON_NUMERIC, ids=[n[0] for n in NON_NUMERIC])
def test_non_numeric_tensor_raises_type_error(name, value) -> None:
    with pytest.raises(TypeError, match="tensor"):
        mt.Tensor(value)
    with pytest.raises(TypeError, match="tensor"):
        mt.tensor(value)


@pytest.mark.parametrize(("name", "value"), NON_NUMERIC, ids=[n[0] for n in NON_NUMERIC])
@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "pow", "maximum", "matmul"])
def test_non_numeric_operand_raises_type_error_naming_op(tensors, name, value, op) -> None:
    a, _ = tensors
    with pytest.raises(TypeError, match=op):
        getattr(mt.ops, op)(a, value)
    with pytest.raises(TypeError, match=op):
        getattr(mt.ops, op)(value, a)


@pytest.mark.parametrize(("name", "value"), NON_NUMERIC[:3], ids=[n[0] for n in NON_NUMERIC[:3]])
@pytest.mark.parametrize("op", ["exp", "log", "sigmoid", "relu", "abs"])
def test_non_numeric_unary_input_raises(name, value, op) -> None:
    with pytest.raises(TypeError, match=op):
        getattr(mt, op)(value)


def test_non_scalar_backward_without_gradient(tensors) -> None:
    a, _ = tensors
    y = a * 2
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        mt.grad(y, a)


def test_backward_gradient_of_wrong_shape(tensors) -> None:
    a, _ = tensors
    y = a * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        mt.grad(y, a, grad_outputs=np.ones(3))
    y.backward(np.ones((2, 3)))  # the failed calls did not free the graph
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 3.0))
    a.grad = mt.ones(2, 3)  # restore for the fixture's check


def test_requires_grad_on_int_or_bool_raises() -> None:
    with pytest.raises(TypeError, match="int64"):
        mt.Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        mt.Tensor(np.array([True]), requires_grad=True)
    t = mt.arange(3)
    with pytest.raises(TypeError, match="floating"):
        t.requires_grad_()
    assert not t.requires_grad


def test_requires_grad_on_non_leaf_raises() -> None:
    y = mt.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_setitem_on_tracked_tensor_raises_and_changes_nothing(tensors) -> None:
    a, _ = tensors
    with pytest.raises(RuntimeError, match="setitem"):
        a[0, 0] = 5.0


def test_clip_with_bad_bounds() -> None:
    x = mt.tensor([1.0])
    with pytest.raises(TypeError, match="clip"):
        x.clip("a")
    with pytest.raises(ValueError, match="clip"):
        x.clip()


def test_item_of_multi_element_tensor() -> None:
    with pytest.raises(ValueError, match=r"item.*\(2,\)"):
        mt.tensor([1.0, 2.0]).item()


def test_reduce_empty_axis_raises() -> None:
    with pytest.raises(ValueError, match=r"max.*\(0, 2\)"):
        mt.zeros(0, 2).max(axis=0)


def test_mixing_float32_and_float64_is_allowed_and_follows_numpy() -> None:
    a = mt.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = mt.tensor(np.ones(2), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_numpy_floating_point_errors_name_the_op() -> None:
    x = mt.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError, match=r"Log: divide by zero.*forward"):
            x.log()
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError, match=r"Sqrt\.backward: divide by zero"):
            y.backward()
    assert x.grad is None
