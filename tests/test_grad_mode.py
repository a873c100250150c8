"""no_grad / enable_grad / set_grad_enabled: context managers, decorators, thread-locality."""

from __future__ import annotations

import threading

import numpy as np

import microtensor as mt


def test_no_grad_records_nothing() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        assert not mt.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert mt.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    z = x * 2
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator() -> None:
    x = mt.tensor([1.0], requires_grad=True)

    @mt.no_grad()
    def double(t: mt.Tensor) -> mt.Tensor:
        """Doc kept."""
        return t * 2

    y = double(x)
    assert not y.requires_grad
    assert double.__doc__ == "Doc kept."
    assert mt.is_grad_enabled()


def test_enable_grad_inside_no_grad() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    with mt.no_grad():
        with mt.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad

    @mt.enable_grad()
    def f(t: mt.Tensor) -> mt.Tensor:
        return t * 3

    with mt.no_grad():
        assert f(x).requires_grad


def test_set_grad_enabled() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    with mt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with mt.no_grad(), mt.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception() -> None:
    try:
        with mt.no_grad():
            raise KeyError
    except KeyError:
        pass
    assert mt.is_grad_enabled()


def test_grad_mode_is_thread_local() -> None:
    x = mt.tensor([1.0], requires_grad=True)
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, bool] = {}

    def worker_no_grad() -> None:
        with mt.no_grad():
            inside.set()
            release.wait(5)
            seen["worker_op"] = (x * 2).requires_grad

    th = threading.Thread(target=worker_no_grad)
    th.start()
    assert inside.wait(5)
    seen["main_enabled"] = mt.is_grad_enabled()
    seen["main_op"] = (x * 2).requires_grad
    release.set()
    th.join(5)
    assert seen == {"main_enabled": True, "main_op": True, "worker_op": False}

    def worker_default() -> None:
        seen["fresh_thread"] = mt.is_grad_enabled()

    with mt.no_grad():
        th = threading.Thread(target=worker_default)
        th.start()
        th.join(5)
    assert seen["fresh_thread"] is True


def test_backward_inside_no_grad_still_computes_gradients() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with mt.no_grad():
        y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_create_graph_backward_restores_grad_mode() -> None:
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward(create_graph=True)
    assert mt.is_grad_enabled()
    y = (x * x).sum()
    with mt.no_grad():
        (g,) = mt.grad(y, x, create_graph=True)
        assert not mt.is_grad_enabled()
    assert g.requires_grad, "create_graph records the gradient's graph even under no_grad"
