"""nn.functional.pad in PyTorch's form (pairs from the last axis; constant, reflect,
replicate, circular; negative widths crop), values and gradients against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import strategies as S
import torch
import torch.nn.functional as TF

import microtensor as mt
import nn.functional as F
from microtensor.gradcheck import gradcheck, gradgradcheck

CASES = [
    ("constant", (2, 3, 5), (1, 2)),
    ("constant", (2, 3, 5), (1, 0, 2, 1)),
    ("constant", (2, 3, 5), (0, 1, 1, 0, 2, 2)),
    ("constant", (2, 3, 5), (-1, 2, 1, -2)),
    ("reflect", (2, 3, 5), (2, 4)),
    ("reflect", (1, 2, 4, 5), (1, 3, 2, 1)),
    ("replicate", (2, 3, 5), (3, 1)),
    ("replicate", (1, 2, 4, 5), (2, 0, 1, 3)),
    ("circular", (2, 3, 5), (2, 5)),
    ("circular", (1, 2, 4, 5), (1, 2, 4, 0)),
]


@pytest.mark.parametrize("layout", S.LAYOUTS)  # C, F, transposed, strided
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("mode", "shape", "widths"), CASES)
def test_pad_matches_torch(mode: str, shape: tuple[int, ...], widths: tuple[int, ...],
                           dtype: Any, layout: str) -> None:
    rng = np.random.default_rng(0)
    a = S.relayout(rng.normal(size=shape).astype(dtype), layout)
    x = mt.tensor(a, requires_grad=True)
    tx = torch.tensor(a.copy(), requires_grad=True)  # torch refuses negative strides
    value = 0.5 if mode == "constant" else None
    kw = {} if value is None else {"value": value}
    y = F.pad(x, widths, mode=mode, **kw)
    ty = TF.pad(tx, widths, mode=mode, **kw)
    assert y.shape == tuple(ty.shape) and y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6)
    g = rng.normal(size=y.shape).astype(dtype)
    (y * mt.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mode", "shape", "widths"), CASES[::3])
def test_pad_first_and_second_order(mode: str, shape: tuple[int, ...],
                                   widths: tuple[int, ...]) -> None:
    x = mt.tensor(np.random.default_rng(1).normal(size=shape), requires_grad=True)

    def f(t: mt.Tensor) -> mt.Tensor:
        return (F.pad(t, widths, mode=mode) ** 2).sum()

    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


@pytest.mark.parametrize(("widths", "mode", "match"), [
    ((1, 2, 3), "constant", "even length"),
    ((1, 1) * 4, "constant", "at most"),
    ((1.5, 1), "constant", "integers"),
    ("ab", "constant", "integers"),
    ((1, 1), "mirror", "mode must be one of"),
    ((5, 0), "reflect", "smaller than the axis"),
    ((6, 0), "circular", "at most the axis"),
    ((-1, 0), "replicate", "crop only"),
    ((-3, -3), "constant", "crop more"),
])
def test_pad_errors_name_the_problem(widths: Any, mode: str, match: str) -> None:
    x = mt.tensor(np.ones((2, 5)), requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=f"pad: .*{match}"):
        F.pad(x, widths, mode=mode)


def test_pad_value_only_for_constant() -> None:
    with pytest.raises(ValueError, match="value is only used"):
        F.pad(mt.ones((2, 3)), (1, 1), mode="reflect", value=1.0)
