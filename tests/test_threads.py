"""Threads: grad mode is per thread, and training in threads changes no result.

A barrier makes the threads overlap for real: each one switches its mode (or starts training)
only once every thread is inside the critical region, so a global switch would be seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

import microtensor as mt
import nn


def run_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in its own thread; return their results, re-raising the first error."""
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []

    def wrap(i: int, fn: Callable[[], Any]) -> None:
        try:
            results[i] = fn()
        except BaseException as e:  # re-raised in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_no_grad_is_per_thread():
    """no_grad() entered in one thread does not stop another thread (inside the same window of
    time, forced by barriers) from recording graphs, and vice versa."""
    inside = threading.Barrier(2, timeout=30)
    checked = threading.Barrier(2, timeout=30)

    def quiet() -> tuple[bool, bool]:
        x = mt.Tensor(np.ones(3), requires_grad=True)
        with mt.no_grad():
            inside.wait()  # the other thread now records while this one is in no_grad
            y = x * 2
            enabled = mt.is_grad_enabled()
            checked.wait()
        return enabled, y.requires_grad

    def recording() -> tuple[bool, bool]:
        x = mt.Tensor(np.ones(3), requires_grad=True)
        inside.wait()
        y = x * 2
        enabled = mt.is_grad_enabled()
        checked.wait()
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.data, 2.0)
        return enabled, y.requires_grad

    (q_enabled, q_records), (r_enabled, r_records) = run_threads(quiet, recording)
    assert (q_enabled, q_records) == (False, False)
    assert (r_enabled, r_records) == (True, True)
    assert mt.is_grad_enabled()


def test_enable_grad_inside_no_grad_is_per_thread():
    """A thread inside no_grad stays in no_grad while another thread nests enable_grad inside
    its own no_grad and leaves both."""
    step = threading.Barrier(2, timeout=30)
    seen: dict[str, list[bool]] = {"a": [], "b": []}

    def a() -> None:
        with mt.no_grad():
            step.wait()
            seen["a"].append(mt.is_grad_enabled())
            step.wait()
            seen["a"].append(mt.is_grad_enabled())
        seen["a"].append(mt.is_grad_enabled())

    def b() -> None:
        with mt.no_grad():
            step.wait()
            with mt.enable_grad():
                seen["b"].append(mt.is_grad_enabled())
                step.wait()
            seen["b"].append(mt.is_grad_enabled())
        seen["b"].append(mt.is_grad_enabled())

    run_threads(a, b)
    assert seen == {"a": [False, False, True], "b": [True, False, True]}


def test_new_thread_starts_with_grad_enabled():
    """A thread started while the main thread is in no_grad records graphs (the mode is not
    inherited: it is per thread, defaulting to enabled)."""
    with mt.no_grad():
        (enabled,) = run_threads(mt.is_grad_enabled)
        assert not mt.is_grad_enabled()
    assert enabled


def _train(seed: int, steps: int, start: threading.Barrier | None = None) -> list[np.ndarray]:
    """Train a small MLP on its own data (seeded) with momentum SGD; return the parameters
    and the loss history. With `start`, wait at the barrier before the first step."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 6))
    y = (X[:, :1] * X[:, 1:2] > 0).astype(np.float64)
    gen_w = [rng.normal(scale=0.5, size=s) for s in ((6, 16), (16,), (16, 1), (1,))]
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    for p, w in zip(model.parameters(), gen_w):
        p.data[...] = w
    opt = nn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.BCEWithLogitsLoss()
    x = mt.tensor(X)
    losses = []
    if start is not None:
        start.wait()
    for i in range(steps):
        if i % 10 == 0:
            with mt.no_grad():  # an evaluation pass: must not switch off the other thread
                model(x)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return [p.data.copy() for p in model.parameters()] + [np.array(losses)]


def test_two_models_in_two_threads_bit_identical():
    """Two models trained at the same time in two threads (each with no_grad evaluations in
    between) end with exactly the parameters and loss curves of training them one after the
    other."""
    steps = 300
    serial = [_train(11, steps), _train(22, steps)]
    start = threading.Barrier(2, timeout=30)
    threaded = run_threads(lambda: _train(11, steps, start), lambda: _train(22, steps, start))
    for got, want in zip(threaded, serial):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_manual_seed_factories_in_threads_reproducible():
    """Random factories used from two threads at once give, as a set, the same draws as the
    same calls made serially (the generator is shared, so no draw is lost or duplicated)."""
    mt.manual_seed(123)
    serial = sorted(float(mt.randn(1000).data.sum()) for _ in range(2))
    mt.manual_seed(123)
    start = threading.Barrier(2, timeout=30)

    def draw() -> float:
        start.wait()
        return float(mt.randn(1000).data.sum())

    threaded = sorted(run_threads(draw, draw))
    assert threaded == serial
