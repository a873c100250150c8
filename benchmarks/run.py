"""Side-by-side timings: microtensor against hand-written NumPy (and PyTorch when installed).

Two microtensor rows: "microtensor" builds each layer as the seeds do (nn.Linear, then an
activation module), "mt-fused" gives the Linear its activation (`nn.Linear(...,
activation="sigmoid")`, one graph node per layer). Same weights, same arithmetic. Each has a
compiled twin ("mt-compiled", "mt-fused-comp"): the same training step through `mt.compile`,
traced on its first call (timed apart: "trace") and replayed after; the compiled and eager
steps give the same numbers bit for bit. `--retraces` also times a compiled step on batches
whose size keeps changing (one plan per size).

Run from the repository root:

    python -m benchmarks.run            # full run, a few minutes
    python -m benchmarks.run --quick    # ~30 s smoke run (what CI runs; it asserts nothing)

Implementations run interleaved (A B C A B C ...), so a slow phase of the machine hits all of
them alike; each number is the median over rounds of the mean step time within a round.
Garbage is collected before every timed block, and the NumPy floor is timed a second time by
itself after the interleaved rounds: the two must agree within ~10% (printed as the "floor
check"), or the ratios are measured against a floor that other implementations slowed down.
Every implementation starts from the same weights and takes the same number of steps, and the
final losses are printed side by side: if they disagree, the timing compares different work.
Because a chaotic workload can drift apart over thousands of steps from last-bit rounding
alone, fresh runs are also compared step by step over their first 20 steps.
Results go to stdout as a table and to a JSON file (`--json`, default
benchmarks/results/latest.json).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from . import workloads as wl


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def time_interleaved(impls: dict[str, wl.Workload], rounds: int, steps: int,
                     warmup: int) -> dict[str, dict[str, float]]:
    """Median seconds per step of each implementation, measured in interleaved rounds."""
    for w in impls.values():
        for _ in range(warmup):
            w.step()
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, w in impls.items():
            # a framework leaves garbage behind; collected here, it cannot land in the next
            # implementation's timed block (it did: NumPy's floor read 1.8x its true time)
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(steps):
                w.step()
            samples[name].append((time.perf_counter() - t0) / steps)
    return {name: {"median_s": statistics.median(s), "min_s": min(s), "loss": w.loss()}
            for (name, s), w in zip(samples.items(), impls.values())}


def time_alone(make: Any, spec: wl.Spec, rounds: int, steps: int, warmup: int) -> float:
    """Median seconds per step of one implementation timed by itself (the floor check: the
    NumPy step timed inside the interleaved run must match this within ~10%)."""
    return time_interleaved({"alone": make(spec)}, rounds, steps, warmup)["alone"]["median_s"]


AGREEMENT_STEPS = 20


def check_agreement(spec: wl.Spec, with_torch: bool) -> dict[str, float]:
    """Largest relative difference from NumPy's loss over the first steps of fresh runs.

    The final losses of the timed runs are printed too, but a chaotic workload (W2: summed
    loss, lr 1e-2) amplifies rounding differences over thousands of steps; the first
    AGREEMENT_STEPS steps show whether the implementations do the same arithmetic."""
    makers = {"microtensor": wl.microtensor_impl, "mt-fused": wl.microtensor_fused_impl,
              "mt-compiled": wl.microtensor_compiled_impl,
              "mt-fused-comp": wl.microtensor_fused_compiled_impl}
    if with_torch:
        makers["torch"] = wl.torch_impl
    steps = 2 if spec.X.shape[0] > 4096 else AGREEMENT_STEPS
    ref = wl.numpy_impl(spec)
    runs = {name: make(spec) for name, make in makers.items()}
    worst = {name: 0.0 for name in runs}
    for _ in range(steps):
        ref.step()
        for name, w in runs.items():
            w.step()
            diff = abs(w.loss() - ref.loss()) / max(abs(ref.loss()), 1e-300)
            worst[name] = max(worst[name], diff)
    return worst


def peak_memory(make: Any, spec: wl.Spec) -> float:
    """Peak bytes that NumPy allocates during two training steps (tracemalloc sees NumPy)."""
    w = make(spec)
    w.step()
    tracemalloc.start()
    tracemalloc.reset_peak()
    w.step()
    w.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return float(peak)


def run_workloads(quick: bool, only: str | None) -> list[dict[str, Any]]:
    """Time every workload in every available implementation."""
    results = []
    have_torch = _torch_available()
    for name, make_spec in wl.SPECS.items():
        title = name
        if only and not title.startswith(only):
            continue
        big = title.startswith("W4")
        spec = wl.spec_w4(1024 if quick else 8192) if big else make_spec()
        trace = tracing_cost(spec)
        impls = {"numpy": wl.numpy_impl(spec), "microtensor": wl.microtensor_impl(spec),
                 "mt-fused": wl.microtensor_fused_impl(spec),
                 "mt-compiled": wl.microtensor_compiled_impl(spec),
                 "mt-fused-comp": wl.microtensor_fused_compiled_impl(spec)}
        if have_torch:
            import torch

            torch.set_num_threads((os.cpu_count() or 1) if big else 1)
            impls["torch"] = wl.torch_impl(spec)
        if big:
            rounds, steps, warmup = (3, 1, 1) if quick else (7, 1, 2)
        else:
            # many short rounds: this kind of machine slows down in bursts of milliseconds,
            # and short rounds let every implementation share each burst
            rounds, steps, warmup = (10, 25, 20) if quick else (40, 50, 100)
        timing = time_interleaved(impls, rounds, steps, warmup)
        gc.collect()
        alone = time_alone(wl.numpy_impl, spec, rounds, steps, warmup)
        agreement = check_agreement(spec, have_torch and "torch" in impls)
        base = timing["numpy"]["median_s"]
        if big:
            title = title.replace("8192 rows", f"{spec.X.shape[0]} rows")
        row: dict[str, Any] = {"workload": title, "steps_each": warmup + rounds * steps,
                               "agreement": agreement, "trace": trace,
                               "traces": {k: impls[k].compiled.traces
                                          for k in ("mt-compiled", "mt-fused-comp")},
                               "numpy_alone_s": alone, "floor_in_run_over_alone": base / alone}
        for impl, t in timing.items():
            row[impl] = {**t, "ratio_to_numpy": t["median_s"] / base}
        if big:
            mem_np = peak_memory(wl.numpy_impl, spec)
            mem_mt = peak_memory(wl.microtensor_impl, spec)
            mem_fused = peak_memory(wl.microtensor_fused_impl, spec)
            mem_comp = peak_memory(wl.microtensor_compiled_impl, spec)
            row["peak_bytes"] = {"numpy": mem_np, "microtensor": mem_mt,
                                 "ratio": mem_mt / mem_np, "mt-fused": mem_fused,
                                 "ratio_fused": mem_fused / mem_np, "mt-compiled": mem_comp,
                                 "ratio_compiled": mem_comp / mem_np}
        results.append(row)
        _print_row(row)
    return results


def tracing_cost(spec: wl.Spec) -> dict[str, float]:
    """Seconds of a compiled step's first call (eager step plus tracing and code generation)
    and of one eager step, each on a fresh model (the first eager step pays warm-up too)."""
    gc.collect()
    eager = wl.microtensor_impl(spec)
    t0 = time.perf_counter()
    eager.step()
    t1 = time.perf_counter()
    eager.step()
    t2 = time.perf_counter()
    compiled = wl.microtensor_compiled_impl(spec)
    gc.collect()
    t3 = time.perf_counter()
    compiled.step()
    t4 = time.perf_counter()
    return {"first_compiled_call_s": t4 - t3, "first_eager_step_s": t1 - t0,
            "second_eager_step_s": t2 - t1}


def run_retraces(quick: bool) -> dict[str, Any]:
    """A compiled W3 step on minibatches whose size cycles through 150, 100, 64 and 37: one
    trace per size, each kept, then every step replays; timed against the eager step."""
    import microtensor as mt
    import nn

    spec = wl.spec_w3()
    sizes = [150, 100, 64, 37]
    results: dict[str, Any] = {"batch_sizes": sizes}
    for compiled in (False, True):
        model = nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3))
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
        opt = nn.optim.SGD(model.parameters(), lr=spec.lr)

        def train(x: Any, y: Any) -> Any:
            opt.zero_grad()  # noqa: B023 - each loop builds its own model and step
            loss = loss_fn(model(x), y)  # noqa: B023
            loss.backward()
            opt.step()  # noqa: B023
            return loss

        step = mt.compile(train) if compiled else train
        batches = [(mt.tensor(spec.X[:n]), mt.tensor(spec.y[:n])) for n in sizes]
        gc.collect()
        n_steps = 200 if quick else 2000
        t0 = time.perf_counter()
        for i in range(n_steps):
            step(*batches[i % len(batches)])
        per_step = (time.perf_counter() - t0) / n_steps
        key = "compiled" if compiled else "eager"
        results[f"{key}_step_s"] = per_step
        if compiled:
            results["traces"] = step.traces
    print(f"\nretraces on a changing batch size {sizes}: {results['traces']} traces; "
          f"mean step eager {_fmt(results['eager_step_s'])}, compiled "
          f"{_fmt(results['compiled_step_s'])}")
    return results


def _layer_steps() -> dict[str, tuple[Any, Any]]:
    """The CNN and LSTM training steps of benchmarks/cnn.py and benchmarks/lstm.py (their
    models, data and PyTorch's starting weights), each eager and through mt.compile."""
    import microtensor as mt
    import nn

    from . import cnn, lstm

    steps: dict[str, tuple[Any, Any]] = {}
    for name, mod in (("CNN", cnn), ("LSTM", lstm)):
        _, weights = mod._torch_step(1)
        eager = mod._mt_step(weights)
        if name == "CNN":
            f32 = np.float32
            model = nn.Sequential(
                nn.Conv2d(1, 6, 5, dtype=f32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(6, 16, 5, dtype=f32), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(256, 120, dtype=f32), nn.ReLU(), nn.Linear(120, 10, dtype=f32))
            model.load_state_dict({k: v.T if k.endswith("weight") and v.ndim == 2 else v
                                   for k, v in weights.items()})
            xa, ya = mod._data()
            x, y = mt.tensor(xa), mt.tensor(ya)
            params = list(model.parameters())
            loss_fn = nn.CrossEntropyLoss()

            def forward(x: Any, y: Any, model: Any = model, loss_fn: Any = loss_fn) -> Any:
                return loss_fn(model(x), y)
        else:
            rnn = nn.LSTM(lstm.INPUT, lstm.HIDDEN, dtype=np.float32)
            rnn.load_state_dict({k: v for k, v in weights.items() if not k.startswith("head.")})
            head = nn.Linear(lstm.HIDDEN, 1, dtype=np.float32)
            head.weight.data[...] = weights["head.weight"].T
            head.bias.data[...] = weights["head.bias"]
            x, y = (mt.tensor(a) for a in mod._data())
            params = list(rnn.parameters()) + list(head.parameters())

            def forward(x: Any, y: Any, rnn: Any = rnn, head: Any = head) -> Any:
                out, _ = rnn(x)
                return ((head(out[-1]) - y) ** 2).mean()

        opt = nn.optim.SGD(params, lr=0.01)

        def train(x: Any, y: Any, opt: Any = opt, forward: Any = forward) -> Any:
            opt.zero_grad()
            loss = forward(x, y)
            loss.backward()
            opt.step()
            return loss

        compiled = mt.compile(train)
        steps[name] = (eager, lambda c=compiled, x=x, y=y: c(x, y).item(), compiled)
    return steps


def run_layers_compiled(quick: bool) -> dict[str, Any]:
    """The CNN and LSTM steps, eager and compiled, interleaved (min over rounds)."""
    results: dict[str, Any] = {}
    try:
        steps = _layer_steps()
    except ImportError as e:  # the starting weights come from PyTorch's layers
        print(f"CNN / LSTM eager vs compiled: skipped ({e}; they start from PyTorch's weights)")
        return results
    for name, (eager, compiled_step, compiled) in steps.items():
        gc.collect()
        t0 = time.perf_counter()
        compiled_step()
        trace_s = time.perf_counter() - t0
        rounds = 3 if quick else 7
        best = {"eager": float("inf"), "compiled": float("inf")}
        for _ in range(rounds):
            for which, fn in (("eager", eager), ("compiled", compiled_step)):
                gc.collect()
                t0 = time.perf_counter()
                fn()
                best[which] = min(best[which], time.perf_counter() - t0)
        results[name] = {**{f"{k}_min_s": v for k, v in best.items()}, "trace_s": trace_s,
                         "traces": compiled.traces, "eager_reason": compiled.eager_reason}
        why = f", runs eagerly: {compiled.eager_reason}" if compiled.eager_reason else ""
        print(f"\n{name} step (benchmarks/{name.lower()}.py), min of {rounds}: eager "
              f"{_fmt(best['eager'])}, compiled {_fmt(best['compiled'])} "
              f"({best['compiled'] / best['eager']:.2f}x), first compiled call "
              f"{_fmt(trace_s)}{why}")
    return results


def run_overhead(quick: bool) -> dict[str, Any]:
    """Per-op overhead (one add + backward on 4x4), a 10-op chain, long chains, and what a
    first-order backward costs against one that records a graph (create_graph=True) on the
    same 5-op graph: the first must not pay for the second."""
    import microtensor as mt

    a = mt.randn(4, 4, requires_grad=True)
    b = mt.randn(4, 4)
    seed = np.ones((4, 4))
    an, bn = a.data, b.data
    n = 2000 if quick else 20000

    def best(fn: Any, number: int) -> float:
        for _ in range(number):  # warm-up: a fresh process's first thousands of nodes are slower
            fn()
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
        return min(times)

    def add_fwd_bwd() -> None:
        (a + b).backward(seed)

    def chain10() -> None:
        y = a
        for _ in range(10):
            y = y * 1.0001
        y.backward(seed)

    w = mt.randn(4, 4, requires_grad=True)
    loss = ((a @ w).sigmoid() * b).tanh().sum()

    def first_order() -> None:
        loss.backward(retain_graph=True)

    def second_order_ready() -> None:
        loss.backward(retain_graph=True, create_graph=True)

    out = {
        "backward_first_order_us": best(first_order, n) * 1e6,
        "backward_create_graph_us": best(second_order_ready, n // 4) * 1e6,
        "add_fwd_bwd_4x4_us": best(add_fwd_bwd, n) * 1e6,
        "numpy_add_4x4_us": best(lambda: an + bn, n) * 1e6,
        "chain10_fwd_bwd_us": best(chain10, n // 10) * 1e6,
    }
    for length in (10_000, 100_000) if quick else (10_000, 100_000, 300_000):
        gc.collect()  # time the chain, not the collection of what earlier runs left behind
        x = mt.tensor(1.0, requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(length):
            y = y * 1.0
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        out[f"chain_{length}_forward_s"] = t1 - t0
        out[f"chain_{length}_backward_s"] = t2 - t1
        out[f"chain_{length}_us_per_op"] = (t2 - t0) / length * 1e6
    print("\nper-op overhead")
    for k, v in out.items():
        print(f"  {k:<32} {v:10.3f}")
    return out


def _print_row(row: dict[str, Any]) -> None:
    names = [k for k in ("numpy", "microtensor", "mt-fused", "mt-compiled", "mt-fused-comp",
                         "torch") if k in row]
    print(f"\n{row['workload']}  ({row['steps_each']} steps each)")
    print(f"  {'impl':<12} {'median/step':>12} {'x numpy':>8} {'final loss':>16}")
    for k in names:
        r = row[k]
        print(f"  {k:<12} {_fmt(r['median_s']):>12} {r['ratio_to_numpy']:>8.2f} "
              f"{r['loss']:>16.8g}")
    if "torch" in row:
        ratios = [f"torch / {k} = {row['torch']['median_s'] / row[k]['median_s']:.2f}"
                  for k in ("microtensor", "mt-fused", "mt-compiled", "mt-fused-comp")]
        print("  " + ",  ".join(ratios))
    print(f"  floor check: NumPy step in this run {_fmt(row['numpy']['median_s'])}, timed alone "
          f"{_fmt(row['numpy_alone_s'])} (ratio {row['floor_in_run_over_alone']:.2f}; "
          f"{'ok' if abs(row['floor_in_run_over_alone'] - 1) <= 0.10 else 'OFF by more than 10%'})")
    tr = row["trace"]
    print(f"  compiled: first call (eager step + trace) {_fmt(tr['first_compiled_call_s'])}, "
          f"first eager step {_fmt(tr['first_eager_step_s'])}, second "
          f"{_fmt(tr['second_eager_step_s'])}; traces in the timed run: {row['traces']}")
    print("  min/step: " + ", ".join(f"{k} {_fmt(row[k]['min_s'])} "
                                      f"({row[k]['min_s'] / row['numpy']['min_s']:.2f}x)"
                                      for k in names))
    agree = ", ".join(f"{k} {v:.1e}" for k, v in row["agreement"].items())
    print(f"  largest relative loss difference from numpy in the first steps: {agree}")
    if "peak_bytes" in row:
        p = row["peak_bytes"]
        print(f"  peak NumPy memory: numpy {p['numpy'] / 2**20:.0f} MiB, microtensor "
              f"{p['microtensor'] / 2**20:.0f} MiB ({p['ratio']:.2f}x), mt-fused "
              f"{p['mt-fused'] / 2**20:.0f} MiB ({p['ratio_fused']:.2f}x), mt-compiled "
              f"{p['mt-compiled'] / 2**20:.0f} MiB ({p['ratio_compiled']:.2f}x)")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument("--only", help="run only workloads whose title starts with this (W1..W4)")
    parser.add_argument("--layers", action="store_true",
                        help="also time the CNN and LSTM steps eager and compiled")
    parser.add_argument("--retraces", action="store_true",
                        help="also time a compiled step on a changing batch size")
    parser.add_argument("--json", default="benchmarks/results/latest.json",
                        help="where to write the results")
    args = parser.parse_args(argv)
    info = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch": None,
    }
    if _torch_available():
        import torch

        info["torch"] = torch.__version__
    print("machine:", json.dumps(info))
    results = {"info": info, "workloads": run_workloads(args.quick, args.only)}
    if not args.only:
        results["overhead"] = run_overhead(args.quick)
    if args.retraces or not args.only:
        results["retraces"] = run_retraces(args.quick)
    if args.layers or not args.only:
        results["layers_compiled"] = run_layers_compiled(args.quick)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
