"""Numerical gradient checks: central differences in float64 against the engine.

`gradcheck` compares the full Jacobian of `fn` from backward passes with the one measured by
central differences (and, with `check_forward_ad=True`, the one from forward mode, one jvp per
input element: `jvpcheck` alone); `gradgradcheck` does the same for the gradient itself
(second order), differentiating a `create_graph=True` backward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import forward_ad as _fwd
from .autograd import grad as _grad
from .tensor import Tensor, _make


class GradcheckError(AssertionError):
    """Raised by gradcheck / gradgradcheck when analytic and numerical gradients disagree."""


def _as_outputs(out: Any) -> list[Tensor]:
    outs = [out] if isinstance(out, Tensor) else list(out)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return outs


def _flat_outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> np.ndarray:
    outs = _as_outputs(fn(*inputs))
    return np.concatenate([o.data.astype(np.float64).ravel() for o in outs] or [np.zeros(0)])


def numerical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
                       ) -> list[np.ndarray | None]:
    """Central-difference Jacobians d(all outputs, flattened)/d(input k), one per input."""
    result: list[np.ndarray | None] = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            result.append(None)
            continue
        original = x.data
        work = original.copy()
        x.data = work
        cols = []
        try:
            for i in range(work.size):
                keep = work.flat[i]
                work.flat[i] = keep + eps
                plus = _flat_outputs(fn, inputs)
                work.flat[i] = keep - eps
                minus = _flat_outputs(fn, inputs)
                work.flat[i] = keep
                cols.append((plus - minus) / (2 * eps))
        finally:
            x.data = original
        m = _flat_outputs(fn, inputs).size
        result.append(np.stack(cols, axis=1) if cols else np.zeros((m, 0)))
    return result


def analytic_jacobian(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[np.ndarray | None]:
    """Jacobians d(all outputs, flattened)/d(input k) from one backward pass per output
    element."""
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    outs = _as_outputs(fn(*inputs))
    sizes = [o.size for o in outs]
    total = sum(sizes)
    jac = {id(x): np.zeros((total, x.size)) for x in wrt}
    row = 0
    for k, o in enumerate(outs):
        for j in range(o.size):
            if o.requires_grad and wrt:
                seed = np.zeros(o.shape, dtype=o.dtype)
                seed.flat[j] = 1
                # by position, not identity: fn may return the same Tensor twice (the
                # gradients of x + y are both the incoming gradient), and each copy is a
                # separate row block of the Jacobian
                grads = [seed if i == k else np.zeros(p.shape, dtype=p.dtype)
                         for i, p in enumerate(outs)]
                active = [(p, g) for p, g in zip(outs, grads) if p.requires_grad]
                gs = _grad([p for p, _ in active], wrt, grad_outputs=[g for _, g in active],
                           retain_graph=True, allow_unused=True)
                for x, g in zip(wrt, gs):
                    if g is not None:
                        jac[id(x)][row] = g.data.astype(np.float64).ravel()
            row += 1
    return [jac.get(id(x)) if isinstance(x, Tensor) and x.requires_grad else None
            for x in inputs]


def forward_jacobian(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[np.ndarray | None]:
    """Jacobians d(all outputs, flattened)/d(input k) by forward mode: one pass of `fn` with
    a one-hot tangent per element of each input that requires grad (the inputs are passed as
    constant handles on the same data, so the plain forward-mode path runs)."""
    wrt = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    plain = [_make(x.data) if k in wrt else x for k, x in enumerate(inputs)]
    result: list[np.ndarray | None] = [None] * len(inputs)
    for k in wrt:
        cols = []
        for j in range(plain[k].size):
            tangent = np.zeros(plain[k].shape, dtype=plain[k].dtype)
            tangent.flat[j] = 1
            with _fwd.dual_level() as level:
                _fwd.make_dual(plain[k], tangent)
                outs = _as_outputs(fn(*plain))
                col = [np.zeros(o.size) if level.tangent(o) is None else
                       np.asarray(getattr(level.tangent(o), "data", level.tangent(o)),
                                  dtype=np.float64).ravel() for o in outs]
            cols.append(np.concatenate(col) if col else np.zeros(0))
        m = _flat_outputs(fn, inputs).size
        result[k] = np.stack(cols, axis=1) if cols else np.zeros((m, 0))
    return result


def jvpcheck(fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
             rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check forward mode: the Jacobian of `fn(*inputs)` from one jvp per input element (each
    op's jvp rule) against central differences, as gradcheck checks reverse mode. Returns True
    or raises GradcheckError with a table of the largest difference per input."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_float64("jvpcheck", inputs)
    return _compare("jvpcheck: forward-mode and numerical derivatives differ",
                    forward_jacobian(fn, inputs), numerical_jacobian(fn, inputs, eps),
                    eps, atol, rtol, raise_exception)


def _check_float64(where: str, inputs: Sequence[Any]) -> None:
    for k, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise ValueError(f"{where}: input {k} is {x.dtype}; central differences need "
                             "float64")


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    check_forward_ad: bool = False,
) -> bool:
    """Check the gradients of `fn(*inputs)` against central differences.

    Every input that requires grad must be float64. Returns True, or raises GradcheckError
    with a table of the largest difference per input (or returns False if
    `raise_exception=False`). `check_forward_ad=True` checks forward mode too (`jvpcheck`).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_float64("gradcheck", inputs)
    numeric = numerical_jacobian(fn, inputs, eps)
    ok = _compare("gradcheck: analytic and numerical gradients differ",
                  analytic_jacobian(fn, inputs), numeric, eps, atol, rtol, raise_exception)
    if ok and check_forward_ad:
        ok = _compare("gradcheck: forward-mode and numerical derivatives differ",
                      forward_jacobian(fn, inputs), numeric, eps, atol, rtol, raise_exception)
    return ok


def _compare(title: str, analytic: list[np.ndarray | None], numeric: list[np.ndarray | None],
             eps: float, atol: float, rtol: float, raise_exception: bool) -> bool:
    """True when each input's two Jacobians agree; else raise (or return False) with a table
    of the largest difference per input."""
    rows = []
    ok = True
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if a is None or n is None:
            continue
        bad = ~np.isclose(a, n, rtol=rtol, atol=atol, equal_nan=True)
        diff = np.abs(a - n)
        worst = int(np.nanargmax(diff)) if diff.size else 0
        if bad.any():
            ok = False
            worst = int(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1)))
        if diff.size:
            r, c = np.unravel_index(worst, diff.shape)
            rows.append((k, bool(bad.any()), float(diff.flat[worst]), int(r), int(c),
                         float(a.flat[worst]), float(n.flat[worst])))
    if ok:
        return True
    if not raise_exception:
        return False
    lines = [title,
             f"{'input':>5} {'ok':>3} {'max |diff|':>12} {'output':>6} {'element':>7} "
             f"{'analytic':>14} {'numerical':>14}"]
    for k, bad, d, r, c, a, n in rows:
        lines.append(f"{k:>5} {'no' if bad else 'yes':>3} {d:>12.3e} {r:>6} {c:>7} "
                     f"{a:>14.6e} {n:>14.6e}")
    lines.append(f"(atol={atol}, rtol={rtol}, eps={eps})")
    raise GradcheckError("\n".join(lines))


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> v . d fn / d inputs, where the
    inner gradient comes from a `create_graph=True` pass. `grad_outputs` (the v's) default to
    random float64 arrays from a fixed seed."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    n = len(inputs)
    outs = _as_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [rng.standard_normal(o.shape) for o in outs]
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    vs = [Tensor(np.array(np.asarray(v.data if isinstance(v, Tensor) else v), dtype=np.float64),
                 requires_grad=True) for v in grad_outputs]

    def first_order(*args: Any) -> tuple[Tensor, ...]:
        xs, v = args[:n], args[n:]
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        got = _as_outputs(fn(*xs))
        active = [(o, g) for o, g in zip(got, v) if o.requires_grad]
        if not active:
            return tuple(_make(np.zeros(x.shape)) for x in wrt)
        gs = _grad([o for o, _ in active], wrt, grad_outputs=[g for _, g in active],
                   create_graph=True, allow_unused=True)
        return tuple(g if g is not None else _make(np.zeros(x.shape)) for g, x in zip(gs, wrt))

    return gradcheck(first_order, (*inputs, *vs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
