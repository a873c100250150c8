"""The README's Python tour runs as written (in a scratch folder: it saves a model and a
picture), so the examples people copy first stay true."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_readme_python_tour_runs(tmp_path: Path, monkeypatch: Any) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The Python API", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, "README: no python block in the API section"
    if shutil.which("dot") is None:
        pytest.skip("the tour renders a graph with graphviz's dot, which is not installed")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme_tour"}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our README
    assert (tmp_path / "model.safetensors").is_file()
    assert namespace["h"].shape == (1, 2) and namespace["step"].traces == 0
