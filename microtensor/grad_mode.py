"""Grad mode and anomaly mode: per-thread switches read by every op.

Both live in one `threading.local`, so a `no_grad()` in one thread never changes what another
thread records (two models can train at once in two threads).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    grad_enabled: bool = True
    anomaly: bool = False
    scope: tuple[Any, ...] = ()
    # active function transforms (mt.func's forward mode, vmap), innermost last; Function.apply
    # hands every op call to the innermost one (see function._transformed)
    transforms: tuple[Any, ...] = ()
    # mt.compile's recorder while it traces a step (Tensor.backward and marked effects report
    # to it); None otherwise
    tracer: Any = None


_state = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph needed for backward (the default)."""
    return _state.grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode, restoring the old mode on exit.

    As a decorator it works with and without parentheses (`@mt.no_grad()`, `@mt.no_grad`):
    given a function instead of its arguments, the class returns the decorated function."""

    _enabled = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        if len(args) == 1 and callable(args[0]):
            return self(args[0])  # @no_grad without parentheses
        return self

    def __enter__(self) -> None:
        self._prev = _state.grad_enabled
        _state.grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: can only decorate a function, got "
                            f"{type(fn).__name__}")
        enabled = self._enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(enabled):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - named like the context managers people know
    """Record nothing: results of ops have no `grad_fn` and do not require grad.

    Use as `with mt.no_grad(): ...` or as a decorator, `@mt.no_grad()` or `@mt.no_grad`.
    """

    _enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record the graph again inside a `no_grad` block (context manager or decorator, with or
    without parentheses)."""

    _enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set grad mode to `mode` for the block: `with mt.set_grad_enabled(False): ...`."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)


class inference_mode(_GradMode):  # noqa: N801
    """PyTorch's `inference_mode`: here the same as `no_grad` (microtensor has no separate
    inference tensors). `inference_mode(False)` records as usual; like `no_grad` it is a
    context manager and a decorator, with or without parentheses."""

    _enabled = False

    def __init__(self, mode: Any = True) -> None:
        self._enabled = not mode


class detect_anomaly:  # noqa: N801
    """Raise as soon as an op's forward or backward turns finite values into nan or inf.

    Inside the block every op remembers where it was created (a short stack trace), and the
    error names the op, the pass (forward or backward) and that place. Slow: for debugging.
    """

    def __enter__(self) -> None:
        self._prev = _state.anomaly
        _state.anomaly = True

    def __exit__(self, *exc: object) -> None:
        _state.anomaly = self._prev


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly()`."""
    return _state.anomaly


class scope:  # noqa: N801
    """Tag every op created inside the block with `owner` (nn.Module uses it so that pictures
    can group ops by the module that made them). Scopes nest; the tag is a tuple, outermost first.
    """

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    def __enter__(self) -> None:
        self._prev = _state.scope
        _state.scope = self._prev + (self._owner,)

    def __exit__(self, *exc: object) -> None:
        _state.scope = self._prev


# The same scope as plain calls, for code that enters a scope once per module per step
# (nn.Module.__call__, nn.Sequential): no context-manager object, one call in and one out.
def current_scope() -> tuple[Any, ...]:
    """This thread's scope: the owners of the enclosing `scope` blocks, outermost first."""
    return _state.scope


def enter_scope(owner: Any) -> tuple[Any, ...]:
    """Start tagging this thread's ops with `owner` inside the current scope, as
    `with scope(owner):` does on entry, and return the scope it replaced: pass that to
    `set_scope` when done (in a `finally`), as the block's exit does."""
    prev = _state.scope
    _state.scope = prev + (owner,)
    return prev


def set_scope(scope: tuple[Any, ...]) -> None:
    """Make `scope` this thread's scope: a tuple of owners, outermost first, usually what
    `enter_scope` or `current_scope` returned (or one of those plus an owner)."""
    _state.scope = scope
