"""The seed examples run, print what the articles print and save their pictures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytest.importorskip("matplotlib")


def run_example(name: str, out: Path, *args: str) -> str:
    # the checkout first on the path, installed or not
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--out", str(out), *args],
        env={**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_xor_example_prints_the_articles_table(tmp_path):
    text = run_example("xor_seed0.py", tmp_path, "--seeds", "10")
    assert "published no seed" in text
    assert "converged (every output within 0.05 of its target): 100% of seeds" in text
    share = re.search(r"within 0.01 of all four printed values: (\d+)% of seeds", text)
    assert share and 30 <= int(share.group(1)) <= 90  # about 60% over 100 seeds
    rows = re.findall(r"^(\d) +([0-9.]+) +([01])$", text, flags=re.MULTILINE)
    assert [(i, a) for i, _, a in rows] == [("1", "0"), ("2", "1"), ("3", "1"), ("4", "0")]
    assert all(abs(float(p) - float(a)) < 0.05 for _, p, a in rows)
    assert (tmp_path / "xor_loss.png").stat().st_size > 0


@pytest.mark.slow
def test_hotdogs_example_compares_the_four_models(tmp_path):
    """A short run (the full 1e5 iterations are tested in test_article_exact): the article's
    sample of five, the four models next to the article's numbers, and the picture."""
    text = run_example("hotdogs_seed1.py", tmp_path, "--iterations", "300")
    assert "8.81 -6.19 not hot dog" in re.sub(r" +", " ", text)
    assert "1.71 -10.29 not hot dog" in re.sub(r" +", " ", text)
    rows = re.findall(
        r"^(logistic regression|hidden = \d+) +accuracy [0-9.]+% \((\d+) of 200; article: "
        r"(\d+)\)",
        text,
        flags=re.MULTILINE,
    )
    got = {name: (int(n), int(article)) for name, n, article in rows}
    assert set(got) == {"logistic regression", "hidden = 1", "hidden = 5", "hidden = 30"}
    assert got["logistic regression"] == (134, 134)  # IRLS: independent of --iterations
    assert [got[f"hidden = {h}"][1] for h in (1, 5, 30)] == [137, 152, 200]
    assert (tmp_path / "hotdogs_boundaries.png").stat().st_size > 0


@pytest.mark.slow
def test_iris_example_prints_the_trace(tmp_path):
    text = run_example("iris_seed1.py", tmp_path, "--iterations", "2000")
    # from the article's weights: its trace, line for line
    assert "Iteration 1000\tLoss 151.054969487204\tAccuracy 0.68\n" in text
    assert "Iteration 2000\tLoss 81.6280605667542\tAccuracy 0.853333333333333\n" in text
    assert "predicted" in text and (tmp_path / "iris_loss.png").stat().st_size > 0


def test_autodiff_vs_manual_example_agrees(tmp_path):
    text = run_example("autodiff_vs_manual.py", tmp_path)
    diffs = [float(d) for d in re.findall(r" ([0-9.]+e[+-]\d+)$", text, flags=re.MULTILINE)]
    assert len(diffs) == 10  # 2 + 4 + 4 parameters
    assert max(diffs) < 1e-10  # the max |diff| column, one per parameter
    assert (tmp_path / "autodiff_vs_manual.png").stat().st_size > 0
