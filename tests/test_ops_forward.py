"""Every op in the table: forward values against NumPy, in float64 and float32, and the
structural invariants of its gradient (input shape and dtype, nothing mutated, no graph under
no_grad), on inputs in every memory layout (C, Fortran, transposed, strided with negative
steps): each layout gives the same values and the same gradients as C order. One draw per
example checks all of them: drawing the inputs is the expensive part."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st
from op_table import OPS, OpSpec

import microtensor as mt

TOLERANCE = {np.float64: {"rtol": 1e-12, "atol": 1e-14}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}


def leaves(arrays: tuple[np.ndarray, ...], layout: str = "C") -> list[mt.Tensor]:
    """Wrap test arrays (fresh copies in `layout`) as tensors; the float ones require grad."""
    return [mt.Tensor(S.relayout(a, layout), requires_grad=a.dtype.kind == "f")
            for a in arrays]


def assert_forward_matches_numpy(op: OpSpec, arrays, kw, dtype, layout: str = "C") -> None:
    out = op.fn(*leaves(arrays, layout), **kw)
    expected = np.asarray(op.ref(*arrays, **kw))
    assert isinstance(out, mt.Tensor)
    assert out.shape == expected.shape
    assert out.dtype == dtype, "a float32 input must give a float32 output (no upcast)"
    np.testing.assert_allclose(out.data, expected, **TOLERANCE[dtype])


def assert_gradient_invariants(op: OpSpec, arrays, kw, dtype, layout: str = "C"
                               ) -> list[np.ndarray | None]:
    """Gradients have their input's shape and dtype; no input, seed or kwarg is mutated by
    forward or backward; .grad never aliases the seed. Returns the gradients."""
    originals = [a.copy() for a in arrays]
    tensors = leaves(arrays, layout)
    inputs_before = [t.data.copy() for t in tensors]
    out = op.fn(*tensors, **kw)
    seed = np.linspace(-1, 1, out.size).reshape(out.shape).astype(dtype)
    seed_before = seed.copy()
    out.backward(seed)
    for t, before in zip(tensors, inputs_before):
        np.testing.assert_array_equal(t.data, before)
        if t.requires_grad:
            assert t.grad is not None
            assert t.grad.shape == t.shape
            assert t.grad.dtype == t.dtype
            assert type(t.grad.data) is np.ndarray
            assert not np.shares_memory(t.grad.data, seed)
    np.testing.assert_array_equal(seed, seed_before)
    for a, before in zip(arrays, originals):
        np.testing.assert_array_equal(a, before)
    return [t.grad.data if t.requires_grad else None for t in tensors]


@pytest.mark.parametrize("op", OPS, ids=str)
@given(data=st.data(), dtype=S.float_dtypes())
def test_op_forward_and_gradient_invariants(op: OpSpec, data: st.DataObject, dtype) -> None:
    arrays, kw = data.draw(op.cases(dtype, True))
    assert_forward_matches_numpy(op, arrays, kw, dtype)
    expected = assert_gradient_invariants(op, arrays, kw, dtype)
    for layout in S.LAYOUTS[1:]:
        assert_forward_matches_numpy(op, arrays, kw, dtype, layout)
        grads = assert_gradient_invariants(op, arrays, kw, dtype, layout)
        for got, want in zip(grads, expected):
            if want is not None:
                np.testing.assert_allclose(got, want, **TOLERANCE[dtype],
                                           err_msg=f"{op.name}: gradient on {layout} input")
    with mt.no_grad():
        out = op.fn(*leaves(arrays), **kw)
    assert out.grad_fn is None and not out.requires_grad


def test_stack_and_concatenate_convert_python_numbers_as_numpy_does():
    # found by the fuzzer: a Python bool beside a float32 tensor gave float64
    f32 = mt.tensor(np.array(2.0, dtype=np.float32))
    assert mt.stack([False, f32]).dtype == np.stack([False, np.float32(2.0)]).dtype
    i32 = mt.tensor(np.array(1, dtype=np.int32))
    assert mt.stack([1, i32]).dtype == np.stack([1, np.int32(1)]).dtype
    got = mt.concatenate([mt.tensor([1.5]), mt.stack([2.5])])
    np.testing.assert_array_equal(got.data, [1.5, 2.5])
    with pytest.raises(ValueError, match="stack: the integer"):
        mt.stack([2**70, 1])
