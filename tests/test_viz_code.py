"""mt.viz.code: the program mt.compile derived, as a static page (escaped, no script)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import microtensor as mt
import nn


def _compiled() -> Any:
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    model[0].weight.name = "</pre><script>alert(1)</script>"
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    def step(x: mt.Tensor, y: mt.Tensor) -> mt.Tensor:
        opt.zero_grad()
        loss = nn.MSELoss(reduction="sum")(model(x), y)
        loss.backward()
        opt.step()
        return loss

    c = mt.compile(step)
    c(mt.tensor(np.ones((4, 3))), mt.tensor(np.zeros((4, 1))))
    return c


def test_code_page_shows_the_program_escaped(tmp_path: Path) -> None:
    c = _compiled()
    page = mt.viz.code(c, tmp_path / "step.html")
    text = (tmp_path / "step.html").read_text(encoding="utf-8")
    assert page.path == tmp_path / "step.html" and text == page.html == page._repr_html_()
    assert "default-src 'none'" in text and "<script" not in text.lower()
    assert text.count('class="l"') == len(c.source.splitlines())
    assert "d_" in text and "dot(" in text and "backward of" in text
    assert mt.viz.code(c.source).html.count('class="l"') == len(c.source.splitlines())


@pytest.mark.parametrize("bad", [3, None, lambda x: x])
def test_code_needs_a_compiled_step(bad: object) -> None:
    with pytest.raises((TypeError, RuntimeError), match="code|compile"):
        mt.viz.code(bad)
