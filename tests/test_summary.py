"""nn.summary: one row per called module in call order, output shapes, own parameter counts,
totals equal to the model's; hooks removed afterwards, even when the forward fails."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
import nn


class Two(nn.Module):
    """A model with two outputs and a parameter of its own."""

    def __init__(self) -> None:
        self.body = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
        self.scale = nn.Parameter(np.ones(3))

    def forward(self, x: mt.Tensor) -> tuple[mt.Tensor, mt.Tensor]:
        h = self.body(x) * self.scale
        return h, h.sum(axis=1)


def test_summary_of_a_sequential_mlp() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    s = nn.summary(model, (5, 4))
    assert [(r.name, r.kind, r.depth) for r in s.rows] == [
        ("", "Sequential", 0), ("0", "Linear", 1), ("1", "ReLU", 1), ("2", "Linear", 1)]
    assert [r.output_shape for r in s.rows] == [(5, 2), (5, 8), (5, 8), (5, 2)]
    assert [r.params for r in s.rows] == [0, 40, 0, 18]
    assert s.total_params == s.trainable_params == 58 == model.num_parameters()
    text = str(s)
    assert "0: Linear" in text and "(5, 8)" in text and "Total params: 58" in text
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_summary_counts_own_parameters_and_tuple_outputs() -> None:
    model = Two()
    model.body[0].weight.requires_grad = False
    s = nn.summary(model, [2, 4])
    top = s.rows[0]
    assert top.kind == "Two" and top.params == 3 and top.output_shape == [(2, 3), (2,)]
    assert s.total_params == 12 + 3 + 3
    assert s.trainable_params == s.total_params - 12
    assert "Non-trainable params: 12" in str(s)


def test_summary_uses_the_model_dtype_and_records_nothing() -> None:
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float32))
    seen = []
    model.register_forward_hook(lambda m, a, out: seen.append((out.dtype, out.requires_grad)))
    nn.summary(model, (1, 3))
    assert seen == [(np.float32, False)]


def test_summary_removes_its_hooks_when_the_forward_fails() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ValueError):
        nn.summary(model, (4, 5))  # wrong number of features
    assert not model[0]._forward_hooks and not model[0]._forward_pre_hooks


@pytest.mark.parametrize("bad", ["abc", (2, -1), (2.5, 3), 7])
def test_summary_bad_shape(bad: object) -> None:
    with pytest.raises(TypeError, match="summary: input_shape"):
        nn.summary(nn.Sequential(nn.Linear(3, 2)), bad)


def test_summary_needs_a_module() -> None:
    with pytest.raises(TypeError, match="summary: expected an nn.Module"):
        nn.summary(lambda x: x, (1, 2))
