"""Long graphs and big tensors.

- A chain of 1,000,000 ops runs backward to the right gradient (in a subprocess, so that its
  time and peak resident memory are its own; both are printed with `-s`, measured, not
  asserted), and dropping the chain afterwards does not crash the interpreter.
- One float32 training step (forward, backward, SGD) of a 784-512-256-10 MLP on 60,000 rows
  stays under 2 GB of traced memory (tracemalloc sees NumPy's buffers) and stays float32.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import microtensor as mt
import nn

ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3

CHAIN = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    import microtensor as mt

    n = int(sys.argv[1])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    x = mt.Tensor(np.array([0.5, -2.0]), requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for i in range(n):  # alternate an op that saves nothing and one that saves its inputs
        y = y * 1.0000001 if i % 2 else y + 1e-7
    loss = y.sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    grad = x.grad.data.tolist()
    del loss, y  # a million-node chain deallocated at once must not overflow the C stack
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"forward_s": t1 - t0, "backward_s": t2 - t1, "free_s": t3 - t2,
                      "peak_rss_mib": peak / 1024, "import_rss_mib": base / 1024,
                      "grad": grad}))
    """
)


def run_chain(n: int) -> dict:
    """Run the chain of `n` ops in a fresh interpreter and return its figures."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", CHAIN, str(n)], check=False, cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def chain_gradient(n: int) -> float:
    """d/dx of the chain: the product of the multiplications' factors."""
    return 1.0000001 ** (n // 2)


def test_chain_10k_backward_in_subprocess():
    """The subprocess harness itself, on a 10,000-op chain: right gradient, clean exit."""
    fig = run_chain(10_000)
    np.testing.assert_allclose(fig["grad"], chain_gradient(10_000), rtol=1e-12)


@pytest.mark.slow
def test_chain_million_ops_backward_completes():
    """backward() through a chain of 1,000,000 ops completes (no RecursionError, no crash)
    and gives the exact product of the factors; time and peak memory are reported."""
    n = 1_000_000
    fig = run_chain(n)
    print(f"\nCHAIN 1,000,000 ops: forward {fig['forward_s']:.1f} s, backward "
          f"{fig['backward_s']:.1f} s, freeing {fig['free_s']:.1f} s, peak RSS "
          f"{fig['peak_rss_mib']:.0f} MiB (after imports {fig['import_rss_mib']:.0f} MiB)")
    np.testing.assert_allclose(fig["grad"], chain_gradient(n), rtol=1e-9)


@pytest.mark.slow
def test_mlp_784_512_256_10_step_on_60k_rows_under_2gb():
    """One float32 step (forward, cross-entropy, backward, SGD) of a 784-512-256-10 MLP on
    60,000 rows keeps traced memory under 2 GB, keeps every array float32 and changes the
    weights by finite amounts."""
    gc.collect()
    tracemalloc.start()  # from before the data exist: the peak counts data, model and graph
    try:
        peak = _mlp_step()
    finally:
        tracemalloc.stop()
    print(f"\nMLP 784-512-256-10, 60,000 float32 rows, one step: peak traced memory "
          f"{peak / 2**20:.0f} MiB (data, model, graph and gradients together)")
    assert peak < 2 * GB


def _mlp_step() -> int:
    """Build data and model, take one step, check dtypes and finiteness; return the traced
    peak."""
    rng = np.random.default_rng(0)
    X = rng.random((60_000, 784), dtype=np.float32)
    labels = rng.integers(0, 10, size=60_000)
    mt.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
    ).to(np.float32)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    x = mt.Tensor(X)
    before = [p.data.copy() for p in model.parameters()]
    out = model(x)
    loss = loss_fn(out, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    _, peak = tracemalloc.get_traced_memory()
    assert out.dtype == np.float32 and loss.dtype == np.float32
    for p, b in zip(model.parameters(), before):
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
        assert np.isfinite(p.data).all()
        assert not np.array_equal(p.data, b)
    return peak
