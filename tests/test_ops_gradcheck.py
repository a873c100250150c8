"""Every op in the table against central differences: first order (with and without
broadcasting) and second order through a create_graph backward, on inputs in a drawn memory
layout (C, Fortran, transposed or strided: the analytic gradient runs on that layout, the
central differences on a C-ordered copy)."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import OPS, OpSpec

import microtensor as mt

BROADCASTING = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}


def leaves(arrays: tuple[np.ndarray, ...], layout: str = "C") -> list[mt.Tensor]:
    """Float inputs become leaves that require grad (fresh copies in `layout`); a boolean
    condition stays constant."""
    return [mt.Tensor(S.relayout(a, layout), requires_grad=a.dtype.kind == "f")
            for a in arrays]


def _params() -> list:
    out = []
    for op in OPS:
        out.append(pytest.param(op, False, id=f"{op.name}"))
        if op.name in BROADCASTING:
            out.append(pytest.param(op, True, id=f"{op.name}-broadcast"))
    return out


@pytest.mark.parametrize(("op", "broadcast"), _params())
@given(data=st.data())
def test_op_gradcheck(op: OpSpec, broadcast: bool, data: st.DataObject) -> None:
    arrays, kw = data.draw(op.cases(np.float64, broadcast))
    layout = data.draw(S.layouts(), label="layout")
    assert mt.gradcheck(lambda *xs: op.fn(*xs, **kw), leaves(arrays, layout))


@pytest.mark.parametrize(("op", "broadcast"), _params())
@settings(max_examples=max(10, settings.default.max_examples // 2))  # each example is costly
@given(data=st.data())
def test_op_gradgradcheck(op: OpSpec, broadcast: bool, data: st.DataObject) -> None:
    arrays, kw = data.draw(op.cases(np.float64, broadcast))
    layout = data.draw(S.layouts(), label="layout")
    assert mt.gradgradcheck(lambda *xs: op.fn(*xs, **kw), leaves(arrays, layout))
