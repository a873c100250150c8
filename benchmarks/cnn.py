"""One LeNet-like CNN training step, microtensor against PyTorch CPU eager (issue 17's measure).

Batch 64 of 1x28x28 float32 images: conv(1, 6, 5) - relu - maxpool 2 - conv(6, 16, 5) - relu -
maxpool 2 - flatten - linear(256, 120) - relu - linear(120, 10), cross-entropy loss; the step
is forward, backward and an SGD update. Both frameworks start from the same weights (PyTorch's,
copied; nn.Linear's weight transposed to our (in, out)) and run with the same number of threads
(`--threads`, default 1: OpenBLAS's threads through the environment before NumPy loads, and
torch.set_num_threads). Each timed block runs after gc.collect; the reported time is the
minimum over `--repeats` blocks of `--steps` steps, the two frameworks' blocks
alternating.

Memory of one step: tracemalloc's peak for microtensor (NumPy's allocations are traced); for
PyTorch, whose CPU allocator tracemalloc does not see, the bytes its ops allocate during a step
as torch.profiler(profile_memory=True) records them, an upper bound of its peak (frees between
ops are not recorded). The growth of the resident set was tried and reads 0 for both: a step's
buffers fit in memory the process already holds. `--no-memory` skips the profiler run.

    python -m benchmarks.cnn [--threads 1] [--repeats 7] [--steps 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from collections.abc import Callable

BATCH = 64


def _threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def _best(steps_by_name: dict[str, Callable[[], float]], repeats: int,
          steps: int) -> dict[str, float]:
    """The minimum over `repeats` blocks of the mean time of one step, in seconds, for each
    implementation; their blocks alternate (A B A B ...), so a busy phase of a shared machine
    slows both alike rather than one of them."""
    for step in steps_by_name.values():
        step()  # warm up: first calls allocate and import
    best = dict.fromkeys(steps_by_name, float("inf"))
    for _ in range(repeats):
        for name, step in steps_by_name.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    return x, y


def _torch_step(threads: int) -> tuple[Callable[[], float], dict]:
    import torch
    from torch import nn as tnn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(256, 120), tnn.ReLU(), tnn.Linear(120, 10))
    xa, ya = _data()
    x, y = torch.from_numpy(xa), torch.from_numpy(ya)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = tnn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return step, weights


def _mt_step(weights: dict) -> Callable[[], float]:
    import numpy as np

    import microtensor as mt
    import nn

    f32 = np.float32
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, dtype=f32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, dtype=f32), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(256, 120, dtype=f32), nn.ReLU(), nn.Linear(120, 10, dtype=f32))
    model.load_state_dict({k: v.T if k.endswith("weight") and v.ndim == 2 else v
                           for k, v in weights.items()})
    xa, ya = _data()
    x, y = mt.tensor(xa), ya
    opt = nn.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def _torch_allocated(step: Callable[[], float]) -> int:
    """Bytes PyTorch's ops allocate during one step, as its profiler records them (the sum of
    each op's own allocations): an upper bound of its peak, since frees that happen between
    ops (tensors Python lets go of) are not seen. Its CPU allocator is not traced otherwise."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    return sum(max(e.self_cpu_memory_usage, 0) for e in prof.events())


def main(argv: list[str] | None = None) -> int:
    """Print the time per step and the peak memory of one step for both frameworks, and
    their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-memory", dest="memory", action="store_false")
    args = parser.parse_args(argv)
    _threads(args.threads)
    try:
        torch_step, weights = _torch_step(args.threads)
    except ImportError:
        print("PyTorch is not installed: nothing to compare with", file=sys.stderr)
        return 1
    mt_step = _mt_step(weights)
    first = (torch_step(), mt_step())  # the same weights and data: the same first loss
    best = _best({"pytorch": torch_step, "microtensor": mt_step}, args.repeats, args.steps)
    t_torch, t_mt = best["pytorch"], best["microtensor"]
    gc.collect()
    tracemalloc.start()
    mt_step()
    mt_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"LeNet step (batch {BATCH}, 1x28x28, float32, {args.threads} thread(s)); first "
          f"losses torch {first[0]:.6f}, microtensor {first[1]:.6f}")
    print(f"  pytorch     {t_torch * 1e3:8.2f} ms")
    print(f"  microtensor {t_mt * 1e3:8.2f} ms   ratio {t_mt / t_torch:.2f}x")
    print(f"  microtensor peak of a step (tracemalloc): {mt_peak / 2**20:.2f} MiB")
    if args.memory:
        torch_bytes = _torch_allocated(torch_step)
        print(f"  pytorch: allocated by its ops in a step (profiler; bounds its peak from "
              f"above): {torch_bytes / 2**20:.2f} MiB; microtensor peak / that bound: "
              f"{mt_peak / max(torch_bytes, 1):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
