"""The cost of a full Jacobian by forward mode and by reverse mode (issue 16's measure).

`mt.func.jacobian(f, mode="forward")` runs one jvp per input element (each op's jvp rule
carries a one-hot tangent through one pass of f); `mode="reverse"` runs f once and then one
vjp per output element (one backward pass each). So forward mode costs about n_in passes and
reverse mode about n_out, and the cheaper one is decided by the shape of the Jacobian.

The functions are the seeds' networks on one example x of n_in features: the first seed's
sigmoid MLP, sigmoid(sigmoid(x W1) W2) with the seed's hidden width 3, and the second seed's
softmax network, softmax(x W). Two sweeps per network: n_in grows with n_out = 1, and n_out
grows with n_in = 2. Each time is the minimum over `--repeats` runs (after gc.collect, with
the collector off while timing, as timeit does) of the process's CPU time, not wall time: on
a shared machine a run of a hundred passes is almost always preempted somewhere, which wall
time would count. Milliseconds, float64, one BLAS thread.

    python -m benchmarks.jacobian_modes [--repeats 5] [--quick] [--png docs/jacobian_modes.png]

prints a Markdown table (n_in, n_out, forward ms, reverse ms, ratio forward / reverse) and
writes the plot of both curves.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402 - after the thread limits

import microtensor as mt  # noqa: E402

SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
QUICK_SIZES = (1, 4, 16, 64)
HIDDEN = 3  # the first seed's hidden width


def mlp(n_in: int, n_out: int, rng: np.random.Generator) -> Callable[[mt.Tensor], mt.Tensor]:
    """The first seed's network, n_in -> 3 -> n_out, sigmoid on both layers."""
    w1 = rng.standard_normal((n_in, HIDDEN))
    w2 = rng.standard_normal((HIDDEN, n_out))
    return lambda x: mt.sigmoid(mt.sigmoid(x @ w1) @ w2)


def softmax_net(n_in: int, n_out: int, rng: np.random.Generator
                ) -> Callable[[mt.Tensor], mt.Tensor]:
    """The second seed's network, softmax(x W) over n_out classes (n_out = 1 is a constant
    1: its Jacobian is zero, and both modes still do all their passes)."""
    w = rng.standard_normal((n_in, n_out))
    return lambda x: mt.softmax(x @ w, axis=-1)


NETWORKS = {"sigmoid MLP (n_in-3-n_out)": mlp, "softmax network (n_in-n_out)": softmax_net}


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """The minimum over `repeats` calls of fn of the process's CPU time, in milliseconds."""
    times = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()  # as timeit does: a full collection landing in one run is not its cost
        try:
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        finally:
            gc.enable()
    return min(times) * 1e3


def measure(repeats: int, sizes: tuple[int, ...]) -> list[dict[str, object]]:
    """One row per (network, sweep, n_in, n_out): both modes' times, the Jacobians checked
    equal."""
    rng = np.random.default_rng(0)
    rows = []
    for name, make in NETWORKS.items():
        for sweep in ("n_in grows", "n_out grows"):
            for n in sizes:
                n_in, n_out = (n, 1) if sweep == "n_in grows" else (2, n)
                f = make(n_in, n_out, rng)
                x = rng.standard_normal(n_in)
                fwd = mt.func.jacobian(f, mode="forward")
                rev = mt.func.jacobian(f, mode="reverse")
                np.testing.assert_allclose(fwd(x).data, rev(x).data, rtol=1e-10, atol=1e-12)
                t_fwd = best_ms(lambda fwd=fwd, x=x: fwd(x), repeats)
                t_rev = best_ms(lambda rev=rev, x=x: rev(x), repeats)
                rows.append({"network": name, "sweep": sweep, "n_in": n_in, "n_out": n_out,
                             "forward_ms": t_fwd, "reverse_ms": t_rev})
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| network | n_in | n_out | forward ms | reverse ms | forward / reverse |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['n_in']} | {r['n_out']} | "
                     f"{r['forward_ms']:.2f} | {r['reverse_ms']:.2f} | "
                     f"{r['forward_ms'] / r['reverse_ms']:.2f} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, object]], path: str) -> None:
    """Both modes' times against the growing size, one panel per network and sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = list(NETWORKS)
    fig, axes = plt.subplots(len(nets), 2, figsize=(10, 4 * len(nets)), squeeze=False)
    for i, net in enumerate(nets):
        for j, sweep in enumerate(("n_in grows", "n_out grows")):
            ax = axes[i][j]
            sel = [r for r in rows if r["network"] == net and r["sweep"] == sweep]
            key = "n_in" if sweep == "n_in grows" else "n_out"
            xs = [r[key] for r in sel]
            ax.plot(xs, [r["forward_ms"] for r in sel], "o-", label="forward mode (jvp per input)")
            ax.plot(xs, [r["reverse_ms"] for r in sel], "s-", label="reverse mode (vjp per output)")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            fixed = "n_out = 1" if key == "n_in" else "n_in = 2"
            ax.set_title(f"{net}: {key} grows, {fixed}", fontsize=10)
            ax.set_xlabel(key)
            ax.set_ylabel("full Jacobian, ms")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    parser.add_argument("--png", default=None, help="write the plot here")
    args = parser.parse_args(argv)
    rows = measure(args.repeats, QUICK_SIZES if args.quick else SIZES)
    print(table(rows))
    if args.png:
        plot(rows, args.png)
        print(f"\nplot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
