"""The reverse-mode engine: an iterative walk of the graph from the outputs to the leaves.

No recursion anywhere, so a chain of a million ops is as fine as a chain of three. Nodes are
numbered as they are made (`Function.apply`), and a node's inputs are always older than it,
so the walk takes nodes newest first from a heap: each runs its backward after every consumer
has sent it a gradient, in a single pass (see `_run`). Every gradient is then fitted to its
input: summed over broadcast axes (`unbroadcast`, the only place that undoes broadcasting)
and cast to the input's dtype.

First-order passes move plain ndarrays and run under no_grad. With `create_graph=True` the
same backward formulas receive Tensors (see function.py), so the gradients carry a graph.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import Any

import numpy as np

from .grad_mode import _state
from .shapes import unbroadcast
from .tensor import Tensor, _make

# Serialises the read-modify-write of `.grad` in _commit: two threads running backward() into
# one shared leaf would otherwise both read the old .grad and one sum would be lost. One
# uncontended acquire per backward call (not per op), so the single-thread cost is ~0.1 us.
_grad_lock = threading.Lock()
_lock, _unlock = _grad_lock.acquire, _grad_lock.release  # bound once: cheaper than `with`


def backward(
    tensor: Tensor, gradient: Any = None, retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensor)/d(leaf) into `leaf.grad` for every leaf that requires grad."""
    if not tensor._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad (no input of it requires grad, or it "
            "was computed under no_grad)"
        )
    root = _root_grad(tensor, gradient, create_graph, "backward")
    _run([tensor], [root], create_graph if retain_graph is None else retain_graph,
         create_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple; `.grad` is untouched.

    `grad_outputs` holds one gradient per output (None for one-element outputs). An input that
    the outputs do not depend on is an error unless `allow_unused`, which gives None for it.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs"
        )
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad")
    roots = [_root_grad(t, g, create_graph, "grad") for t, g in zip(outputs, grad_outputs)]
    found = _run(outputs, roots, create_graph if retain_graph is None else retain_graph,
                 create_graph, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs "
                    "(pass allow_unused=True to get None for it)"
                )
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else _make(np.array(g)))
    return tuple(result)


def _root_grad(t: Tensor, gradient: Any, create_graph: bool, where: str) -> Any:
    """The seed gradient of an output: ones for a one-element output, else `gradient`."""
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{where}: a gradient can be implied only for a one-element output; this output "
                f"has shape {t.shape}, so pass gradient= (an array of that shape)"
            )
        data = t.data
        # np.ones is a Python-level function; a 0-d output (every loss) takes the cheap way
        g = np.array(1, dtype=data.dtype) if not data.ndim else np.ones(data.shape, data.dtype)
    else:
        if isinstance(gradient, Tensor):
            g = gradient.data
        else:
            try:
                g = np.asarray(gradient)
            except (TypeError, ValueError) as e:  # a ragged list
                raise TypeError(f"{where}: cannot use this gradient as an array ({e})") from None
            if g.dtype.kind not in "biuf":  # complex would lose its imaginary part in the cast
                raise TypeError(
                    f"{where}: the gradient must be a real (bool, integer or float) array, "
                    f"got dtype {g.dtype}"
                )
        if g.shape != t.shape:
            raise ValueError(
                f"{where}: gradient shape {g.shape} does not match the output shape {t.shape}"
            )
        if g.dtype != t.dtype:
            try:
                g = g.astype(t.dtype)
            except FloatingPointError as e:  # errstate(over="raise"): 1e308 into float32
                raise FloatingPointError(f"{where}: casting the gradient: {e}") from None
    if create_graph:
        return gradient if isinstance(gradient, Tensor) and gradient.dtype == t.dtype else _make(g)
    return g


def _run(
    roots: list[Tensor], seeds: list[Any], retain_graph: bool, create_graph: bool,
    targets: list[Tensor] | None,
) -> dict[int, Any]:
    """Propagate `seeds` from `roots`. With `targets`, collect their gradients in a dict (by
    id) instead of touching `.grad`; otherwise accumulate into the leaves' `.grad`.

    Order: every node carries a sequence number from its creation (`Function.apply`), and a
    node is always created after the nodes of its inputs. So taking nodes newest first (a
    heap keyed on -seq) runs each node after all of its consumers, in one pass: no counting
    of dependencies beforehand, and nodes that receive no gradient are never visited. A chain
    keeps one entry in the heap, so it costs the same per op at any length.

    `.grad` is written only after the whole walk succeeded (leaf gradients and retained
    non-leaf gradients are gathered first, then committed), so a backward that fails half way
    (a wrong-shaped gradient, a hook that raises) leaves every `.grad` as it was.
    """
    found: dict[int, Any] = {}
    target_ids = None if targets is None else {id(t) for t in targets}
    target_nodes = None if targets is None else {
        t.grad_fn: id(t) for t in targets if t.grad_fn is not None}
    pending: dict[int, list[Any]] = {}  # id(tensor) -> [tensor, summed gradient]
    grads: dict[Any, Any] = {}
    heap: list[tuple[int, Any]] = []
    for t, g in zip(roots, seeds):
        n = t.grad_fn
        if n is None:
            _deliver(t, g, target_ids, found, pending)
        elif n in grads:
            grads[n] = _add(grads[n], g)
        else:
            grads[n] = g
            heap.append((-n._seq, n))
    heapify(heap)
    needed = None if targets is None else _needed(list(grads), target_ids, target_nodes)
    prev_mode = _state.grad_enabled
    anomaly = _state.anomaly
    _state.grad_enabled = create_graph
    grad_call = targets is not None
    try:
        while heap:
            n = heappop(heap)[1]
            g = grads.pop(n)
            if grad_call or n._hooks or n._retain is not None:  # the rare cases, one test
                if needed is not None and n not in needed:
                    continue
                if n._hooks:
                    g = _call_hooks(n._hooks, g, create_graph)
                if n._retain is not None and targets is None:
                    owner = n._retain()
                    if owner is not None:
                        _gather(pending, owner, g)
                if target_nodes is not None and n in target_nodes:
                    key = target_nodes[n]
                    found[key] = _add(found[key], g) if key in found else g
            if not create_graph and n.saved is not None:  # _call_backward's common case
                try:
                    results = n.backward(g)
                except FloatingPointError as e:
                    raise _backward_float_error(n, e) from None
            else:
                results = _call_backward(n, g, create_graph)
            if not retain_graph:
                n.saved = None  # frees the arrays; also marks the node as freed
            if type(results) is not tuple:
                results = results if type(results) is list else (results,)
            if len(results) != len(n._edges):
                raise RuntimeError(
                    f"{type(n).__name__}.backward returned {len(results)} gradients for "
                    f"{len(n._edges)} inputs"
                )
            if anomaly:
                _check_backward(n, g, results)
            i = -1
            for e in n._edges:
                i += 1
                if e is None:
                    continue
                gi = results[i]
                if gi is None:
                    continue
                if isinstance(e, Tensor):
                    data = e.data
                    # the common case (an array of the right shape and dtype already)
                    # costs two comparisons here instead of a call to _fit (NumPy's
                    # built-in dtypes are shared objects, so `is` settles most)
                    if (type(gi) is not np.ndarray or gi.shape != data.shape
                            or (gi.dtype is not data.dtype and gi.dtype != data.dtype)):
                        gi = _fit(gi, data.shape, data.dtype, n, i)
                    if target_ids is None:  # backward(): gathered for .grad
                        entry = pending.get(id(e))
                        if entry is None:
                            pending[id(e)] = [e, gi, n._fresh_grads]
                        else:
                            entry[1] = _add(entry[1], gi)
                            entry[2] = True  # a sum the engine made
                    else:
                        _deliver(e, gi, target_ids, found, pending)
                    continue
                if (type(gi) is not np.ndarray or gi.shape != e._shape
                        or (gi.dtype is not e._dtype and gi.dtype != e._dtype)):
                    gi = _fit(gi, e._shape, e._dtype, n, i)
                prev = grads.get(e)
                if prev is None:
                    grads[e] = gi
                    heappush(heap, (-e._seq, e))
                else:
                    grads[e] = _add(prev, gi)
        if pending:
            _commit(pending, create_graph)
        if targets is not None:
            # a leaf's hooks see its gradient in mt.grad too, as they do in backward
            for t in {id(t): t for t in targets}.values():
                if t.grad_fn is None and t._hooks and id(t) in found:
                    found[id(t)] = _call_hooks(t._hooks, found[id(t)], create_graph)
    finally:
        _state.grad_enabled = prev_mode
    return found


def _needed(starts: list[Any], target_ids: set[int], target_nodes: dict[Any, int]) -> set[Any]:
    """Nodes from which some target is reachable (mt.grad skips every other backward)."""
    seen = set(starts)
    stack = list(starts)
    while stack:
        for e in stack.pop()._edges:
            if e is not None and not isinstance(e, Tensor) and e not in seen:
                seen.add(e)
                stack.append(e)
    needed: set[Any] = set()
    for n in sorted(seen, key=_seq_of):  # oldest first: a node's inputs come before it
        if n in target_nodes or any(
            e is not None and (id(e) in target_ids if isinstance(e, Tensor) else e in needed)
            for e in n._edges
        ):
            needed.add(n)
    return needed


def _seq_of(n: Any) -> int:
    return n._seq


def _call_backward(n: Any, g: Any, create_graph: bool) -> Any:
    """Run one node's backward the careful way: refuse a freed node, and under create_graph
    hand the formulas the saved values as Tensors wired into the graph."""
    saved = n.saved
    if saved is None:
        raise RuntimeError(
            f"backward: the graph through {type(n).__name__} was already freed by an earlier "
            "backward(); call the first backward with retain_graph=True to go through it twice"
        )
    try:
        if create_graph and saved:
            n.saved = _attach(n, saved)
            try:
                return n.backward(g)
            finally:
                n.saved = saved
        return n.backward(g)
    except FloatingPointError as e:
        raise _backward_float_error(n, e) from None


def _backward_float_error(n: Any, e: FloatingPointError) -> FloatingPointError:
    """NumPy raising under np.errstate(...="raise") in a backward: name the op and, in
    anomaly mode, where it was made."""
    where = "".join(traceback.format_list(n._trace[-4:])) if n._trace else ""
    return FloatingPointError(
        f"{type(n).__name__}.backward: {e}" + (f"\nThe op was created at:\n{where}"
                                                if where else "")
    )


def _attach(n: Any, saved: tuple[Any, ...]) -> tuple[Any, ...]:
    """Saved arrays as Tensors wired into the graph, so a backward pass can be differentiated:
    a saved input becomes that input (its leaf, or a new handle on its node), the saved output
    becomes a handle on this node, and anything else stays a constant array."""
    out = []
    for s, src in zip(saved, n._saved_src):
        if src is None:
            out.append(s)
        elif src == -1:
            out.append(_make(s, True, n))
        else:
            e = n._edges[src]
            if e is None:
                out.append(s)
            elif isinstance(e, Tensor):
                out.append(e)
            else:
                out.append(_make(s, True, e))
    return tuple(out)


def _fit(g: Any, shape: tuple[int, ...], dtype: np.dtype, n: Any, i: int) -> Any:
    """Make gradient `g` (for input `i` of node `n`) match its input's shape and dtype."""
    if not isinstance(g, (np.ndarray, Tensor)):
        g = np.asarray(g)
    if g.shape != shape:
        try:
            g = unbroadcast(g, shape)
        except (ValueError, IndexError):
            pass
        if g.shape != shape:
            raise RuntimeError(
                f"{type(n).__name__}.backward returned a gradient of shape {g.shape} for "
                f"input {i} of shape {shape}"
            )
    if g.dtype != dtype:
        g = g.astype(dtype)
    if type(g) is not np.ndarray and not isinstance(g, Tensor):
        # a full reduction in unbroadcast or astype on a 0-d array gives a NumPy scalar (and
        # an ndarray subclass would leak into .grad): every gradient the engine moves is an
        # ndarray
        g = np.asarray(g)
    return g


def _add(a: Any, b: Any) -> Any:
    """a + b for two gradients of one tensor; stays an ndarray when both are 0-d (NumPy
    returns a scalar for 0-d + 0-d, which would reach `.grad` as a numpy.float64)."""
    s = a + b
    if type(s) is np.ndarray or isinstance(s, Tensor):
        return s
    return np.asarray(s)


def _deliver(leaf: Tensor, g: Any, target_ids: set[int] | None, found: dict[int, Any],
             pending: dict[int, list[Any]]) -> None:
    """A leaf's gradient: into `found` (mt.grad) or gathered for `.grad` (backward)."""
    if target_ids is not None:
        key = id(leaf)
        if key in target_ids:
            found[key] = _add(found[key], g) if key in found else g
        return
    _gather(pending, leaf, g)


def _gather(pending: dict[int, list[Any]], t: Tensor, g: Any) -> None:
    entry = pending.get(id(t))
    if entry is None:
        pending[id(t)] = [t, g, False]
    else:
        entry[1] = _add(entry[1], g)
        entry[2] = True


def _commit(pending: dict[int, list[Any]], create_graph: bool) -> None:
    """Run leaf hooks on each leaf's total gradient, then accumulate every gradient into
    `.grad`. A first-order gradient is copied unless the engine or the op made it (a sum, or
    an op with `_fresh_grads`), so `.grad` never aliases an array the caller or an op still
    holds."""
    final = pending.values()
    if any(t._hooks for t, _, _ in final):
        final = [
            (t, _call_hooks(t._hooks, g, create_graph), False)
            if t.grad_fn is None and t._hooks else (t, g, owned)
            for t, g, owned in final
        ]
    _lock()
    try:
        for t, g, owned in final:
            if create_graph:
                new = g if isinstance(g, Tensor) else _make(np.array(g))
                t.grad = new if t.grad is None else t.grad + new
            elif t.grad is None:
                t.grad = _make(g if owned else np.array(g))
            else:
                total = t.grad.data + g
                t.grad = _make(total if type(total) is np.ndarray else np.asarray(total))
    finally:
        _unlock()


def _call_hooks(hooks: list[Any], g: Any, create_graph: bool) -> Any:
    """Call each hook with the gradient as a Tensor; a non-None result replaces it."""
    t = g if create_graph else _make(np.asarray(g))
    for hook in list(hooks):
        out = hook(t)
        if out is not None:
            if not isinstance(out, Tensor):
                out = _make(np.asarray(out))
            if out.shape != t.shape:
                raise RuntimeError(
                    f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                    f"{out.shape} for a tensor of shape {t.shape}"
                )
            t = out
    return t if create_graph else t.data


def _check_backward(n: Any, g: Any, results: tuple[Any, ...]) -> None:
    """Anomaly mode: raise if a backward made nan/inf out of a finite incoming gradient."""
    def finite(a: Any) -> bool:
        a = a.data if isinstance(a, Tensor) else np.asarray(a)
        return a.dtype.kind != "f" or bool(np.isfinite(a).all())

    if not finite(g):
        return
    for i, r in enumerate(results):
        if r is not None and not finite(r):
            where = "".join(traceback.format_list(n._trace[-4:])) if n._trace else "(unknown)\n"
            raise FloatingPointError(
                f"detect_anomaly: {type(n).__name__}.backward produced nan/inf in the gradient "
                f"of input {i} from a finite incoming gradient.\nThe op was created at:\n{where}"
            )
