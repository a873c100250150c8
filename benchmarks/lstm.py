"""One LSTM training step, microtensor against PyTorch CPU eager (issue 17's measure).

Batch 32, 50 time steps, input 32, hidden 128, one layer, float32; the loss is the mean
square of the last output through a linear head; the step is forward, backward and an SGD
update. Both frameworks start from the same weights (their first losses are printed side by
side) and run with the same number of threads (`--threads`, default 1 for BLAS and for
torch). Each timed block runs after gc.collect, the two frameworks' blocks alternate (a busy
machine slows both alike), and the reported time is the minimum over `--repeats` blocks of
`--steps` steps. Peak memory is
the growth of the peak resident set over one first step, each framework in a fresh process
(the same measure for both: PyTorch's allocator is invisible to tracemalloc).

    python -m benchmarks.lstm [--threads 1] [--repeats 7] [--steps 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from collections.abc import Callable

BATCH, STEPS, INPUT, HIDDEN = 32, 50, 32, 128


def _threads(n: int) -> None:
    """Limit NumPy's BLAS (threadpoolctl when installed; otherwise the environment, which
    only counts for libraries not loaded yet) and torch to `n` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(n)


def _best(step: Callable[[], None], repeats: int, steps: int) -> float:
    """The minimum over `repeats` blocks of the mean time of one step, in seconds."""
    step()  # warm up: first calls allocate and import
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    return x, y


def _torch_step(threads: int) -> tuple[Callable[[], None], dict]:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(INPUT, HIDDEN)
    head = torch.nn.Linear(HIDDEN, 1)
    x, y = (torch.from_numpy(a) for a in _data())
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01)

    def step() -> None:
        opt.zero_grad()
        out, _ = lstm(x)
        loss = ((head(out[-1]) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    losses: list[float] = []
    step.losses = losses  # type: ignore[attr-defined]
    weights = {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}
    weights.update({"head." + k: v.detach().numpy().copy()
                    for k, v in head.state_dict().items()})
    return step, weights


def _mt_step(weights: dict) -> Callable[[], None]:
    import numpy as np

    import microtensor as mt
    import nn

    lstm = nn.LSTM(INPUT, HIDDEN, dtype=np.float32)
    lstm.load_state_dict({k: v for k, v in weights.items() if not k.startswith("head.")})
    head = nn.Linear(HIDDEN, 1, dtype=np.float32)
    head.weight.data[...] = weights["head.weight"].T  # nn.Linear keeps (in, out)
    head.bias.data[...] = weights["head.bias"]
    xa, ya = _data()
    x, y = mt.tensor(xa), mt.tensor(ya)
    opt = nn.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        out, _ = lstm(x)
        loss = ((head(out[-1]) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())

    losses: list[float] = []
    step.losses = losses  # type: ignore[attr-defined]
    return step


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _one_step_peak(which: str, threads: int) -> None:
    """In a fresh process: print how much a first training step raises the peak resident set
    (KiB), the same measure for both frameworks (PyTorch's allocator is invisible to
    tracemalloc). The step runs in a forked child, whose peak starts at the parent's current
    resident set, so the transient peak of importing the libraries does not hide it."""
    torch_step, weights = _torch_step(threads)
    step = torch_step if which == "torch" else _mt_step(weights)
    gc.collect()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one step, then report and leave at once
        os.close(read)
        start = _rss_now_kib()
        step()
        os.write(write, str(_rss_kib() - start).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        print(pipe.read())
    os.waitpid(pid, 0)


def _rss_now_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_mib(which: str, threads: int) -> float:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "benchmarks.lstm", "--peak-of", which,
                          "--threads", str(threads)], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)) or ".")
    return int(out.stdout.split()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    """Print the time per step of both frameworks, timed in alternating blocks so that a
    busy machine slows both alike, the peak memory of one step, and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--peak-of", choices=("torch", "microtensor"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _threads(args.threads)
    try:
        torch_step, weights = _torch_step(args.threads)
    except ImportError:
        print("PyTorch is not installed: nothing to compare with", file=sys.stderr)
        return 1
    if args.peak_of:
        _one_step_peak(args.peak_of, args.threads)
        return 0
    mt_step = _mt_step(weights)
    t_torch = t_mt = float("inf")
    for _ in range(args.repeats):
        t_torch = min(t_torch, _best(torch_step, 1, args.steps))
        t_mt = min(t_mt, _best(mt_step, 1, args.steps))
    peak_torch = _peak_mib("torch", args.threads)
    peak_mt = _peak_mib("microtensor", args.threads)
    print(f"LSTM step (batch {BATCH}, {STEPS} steps, input {INPUT}, hidden {HIDDEN}, float32, "
          f"{args.threads} thread(s))")
    print(f"  first losses: pytorch {torch_step.losses[0]:.6f}, "  # type: ignore[attr-defined]
          f"microtensor {mt_step.losses[0]:.6f}")  # type: ignore[attr-defined]
    print(f"  pytorch     {t_torch * 1e3:8.2f} ms   peak {peak_torch:7.2f} MiB")
    print(f"  microtensor {t_mt * 1e3:8.2f} ms   peak {peak_mt:7.2f} MiB   time ratio "
          f"{t_mt / t_torch:.2f}x, memory ratio {peak_mt / max(peak_torch, 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
