"""Memory: the graph lets go of its arrays.

Properties checked here:

- after `backward()` without `retain_graph`, every array a node saved for backward and every
  intermediate result no longer referenced by the user is freed at once, by reference counting
  alone (the tests run with the garbage collector disabled, so a reference cycle would show up
  as an array that stays alive);
- dropping an output frees its whole graph, again without the garbage collector;
- 10,000 training steps of the seeds' networks (nn layers + nn.optim.SGD) keep the traced
  memory flat (growth under 1 MB after a warm-up);
- loops of second-order gradients (`create_graph=True`) keep memory flat too.

One reference cycle exists by design, as in PyTorch: `y.backward(create_graph=True)` stores in
`x.grad` a tensor whose graph leads back to `x` itself (x -> x.grad -> graph -> x). Such a
cycle is freed by `gc.collect()`, or at once by resetting `x.grad = None` (zero_grad) or by
using `mt.grad(...)`, which writes no `.grad`; `test_create_graph_backward_cycle_documented`
pins that behaviour down.

Figures measured on the development machine are printed with `-s` (`MEMORY ...` lines).
"""

from __future__ import annotations

import contextlib
import gc
import tracemalloc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

import microtensor as mt
import nn

MB = 1024 * 1024


@contextlib.contextmanager
def gc_disabled() -> Iterator[None]:
    """Run a block with the cyclic garbage collector off (only reference counting frees)."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Scratch(mt.Function):
    """y = 2 * x, saving a large scratch array for backward (to watch it being freed)."""

    last_scratch: weakref.ref | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        scratch = np.full(x.shape, 2.0)
        Scratch.last_scratch = weakref.ref(scratch)
        self.save_for_backward(mt.constant(scratch))  # constant for differentiation
        return 2 * x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (scratch,) = self.saved
        return grad * scratch


def test_backward_frees_saved_arrays_by_refcount():
    """A custom op's saved array is released as soon as backward (no retain_graph) is done,
    while the loss tensor (and so the graph's nodes) is still alive."""
    with gc_disabled():
        x = mt.Tensor(np.random.default_rng(0).random(10_000), requires_grad=True)
        loss = Scratch.apply(x).exp().sum()
        saved = Scratch.last_scratch
        assert saved() is not None
        loss.backward()
        assert saved() is None, "the saved array outlived backward()"
        np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data))
        del loss


def test_backward_frees_intermediate_arrays_by_refcount():
    """Intermediate results the user dropped (and that ops saved, like exp's output) are freed
    by backward(), the loss and the leaves being still alive."""
    with gc_disabled():
        x = mt.Tensor(np.random.default_rng(1).random((100, 100)), requires_grad=True)
        h = (x * 3.0).exp()  # Exp saves its output: h.data is referenced by the graph
        s = h.sigmoid()  # Sigmoid saves its output too
        refs = [weakref.ref(h.data), weakref.ref(s.data)]
        loss = (s * s).mean()
        del h, s
        assert all(r() is not None for r in refs), "the graph should hold them before backward"
        loss.backward()
        alive = [i for i, r in enumerate(refs) if r() is not None]
        assert not alive, f"intermediates {alive} outlived backward()"
        assert x.grad is not None and x.grad.shape == x.shape


def test_retain_graph_keeps_saved_arrays_until_the_graph_is_dropped():
    """With retain_graph=True the saved arrays stay (a second backward needs them) and are
    freed, without the garbage collector, once the output goes away."""
    with gc_disabled():
        x = mt.Tensor(np.ones(1000), requires_grad=True)
        loss = Scratch.apply(x).sum()
        saved = Scratch.last_scratch
        loss.backward(retain_graph=True)
        assert saved() is not None
        loss.backward()
        np.testing.assert_allclose(x.grad.data, 4.0)
        assert saved() is None


def test_dropping_output_frees_graph_without_gc():
    """An unused graph (forward only) is freed by reference counting when its output is dropped:
    nodes hold no reference cycle."""
    with gc_disabled():
        x = mt.Tensor(np.random.default_rng(2).random((50, 50)), requires_grad=True)
        w = mt.Tensor(np.random.default_rng(3).random((50, 50)), requires_grad=True)
        a = (x @ w).tanh()
        b = mt.concatenate([a, a * 2], axis=0)[::2].softmax(axis=1)
        out = mt.where(b > 0.01, b, b * 0).logsumexp(axis=0).sum()
        refs = [weakref.ref(a.data), weakref.ref(b.data), weakref.ref(out.grad_fn)]
        del a, b, out
        assert all(r() is None for r in refs), "a forward graph needs the gc to be freed"


def test_create_graph_backward_cycle_documented():
    """backward(create_graph=True) makes the documented cycle x -> x.grad -> graph -> x: without
    the gc, x stays alive until x.grad is reset; gc.collect() frees it either way."""
    with gc_disabled():
        x = mt.Tensor(np.random.default_rng(4).random(100), requires_grad=True)
        (x * x * x).sum().backward(create_graph=True)
        rx = weakref.ref(x)
        del x
        assert rx() is not None  # the cycle: documented, not a leak the user cannot avoid
        gc.collect()
        assert rx() is None

        x = mt.Tensor(np.random.default_rng(4).random(100), requires_grad=True)
        (x * x * x).sum().backward(create_graph=True)
        x.grad = None  # what zero_grad() does
        rx = weakref.ref(x)
        del x
        assert rx() is None


def _traced_growth(step, warmup: int, steps: int) -> tuple[int, int]:
    """Run `step()` `warmup` times, then `steps` times under tracemalloc; return the growth of
    the traced memory (current, after minus before) and the peak over the measured steps."""
    for _ in range(warmup):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(steps):
            step()
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return after - before, peak - before


def _xor_step():
    """One training step of the first seed's network (XOR, 3-4-1 sigmoid, no bias, SSE, SGD)."""
    X, y = nn.datasets.xor()
    mt.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1, bias=False), nn.Sigmoid()
    )
    loss_fn = nn.MSELoss(reduction="sum")
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    x, target = mt.tensor(X), y.reshape(-1, 1)

    def step() -> None:
        loss = loss_fn(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, model


def _softmax_step():
    """One step of the second seed's network on iris-like data: intercept, sigmoid hidden layer,
    softmax outputs, summed cross-entropy, SGD with momentum."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 4))
    labels = rng.integers(0, 3, size=150)
    mt.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3))
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    opt = nn.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = mt.tensor(X)

    def step() -> None:
        loss = loss_fn(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, model


@pytest.mark.slow
@pytest.mark.parametrize("make", [_xor_step, _softmax_step], ids=["xor", "softmax"])
def test_training_10k_steps_memory_flat(make):
    """10,000 training steps of a seed network grow the traced memory by less than 1 MB (after
    500 warm-up steps), and the parameters stay finite."""
    step, model = make()
    growth, peak = _traced_growth(step, warmup=500, steps=10_000)
    print(f"\nMEMORY {make.__name__}: 10,000 steps, growth {growth / 1024:.1f} KiB, "
          f"peak above start {peak / 1024:.1f} KiB")
    assert growth < 1 * MB
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_create_graph_loop_memory_flat():
    """Hessian-vector products in a loop (mt.grad with create_graph=True, then a second
    backward) keep memory flat, with the gc disabled: nothing needs the collector."""
    rng = np.random.default_rng(6)
    x = mt.Tensor(rng.random(1000), requires_grad=True)
    v = rng.random(1000)

    def step() -> None:
        (g,) = mt.grad((x.tanh() * x).sum(), x, create_graph=True)
        (g * v).sum().backward()
        x.grad = None

    with gc_disabled():
        growth, peak = _traced_growth(step, warmup=50, steps=1000)
    print(f"\nMEMORY create_graph mt.grad loop: 1,000 steps, growth {growth / 1024:.1f} KiB, "
          f"peak above start {peak / 1024:.1f} KiB")
    assert growth < 1 * MB


def test_create_graph_backward_loop_memory_flat():
    """backward(create_graph=True) in a loop, with the gradients reset each step as an optimizer
    does (x.grad = None), keeps memory flat with the gc disabled."""
    rng = np.random.default_rng(7)
    w = mt.Tensor(rng.random((20, 20)), requires_grad=True)
    data = mt.tensor(rng.random((8, 20)))

    def step() -> None:
        loss = (data @ w).sigmoid().sum()
        loss.backward(create_graph=True)
        penalty = (w.grad * w.grad).sum()  # gradient penalty: a second-order term
        w.grad = None
        penalty.backward()
        w.grad = None

    with gc_disabled():
        growth, peak = _traced_growth(step, warmup=50, steps=1000)
    print(f"\nMEMORY create_graph backward loop: 1,000 steps, growth {growth / 1024:.1f} KiB, "
          f"peak above start {peak / 1024:.1f} KiB")
    assert growth < 1 * MB
