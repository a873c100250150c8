"""The reverse-mode engine: one iterative walk from the outputs to the leaves (`_run`).

1. Seeds (autograd.py's `root_grad`) go to the outputs' nodes. Nodes are numbered as they are
   made and a node's inputs are always older, so taking nodes newest first from a heap runs
   each node after all of its consumers, in one pass: no recursion, no counting of
   dependencies, and a node that gets no gradient is never visited. A chain keeps one heap
   entry, so any length is fine.
2. A node's summed gradient goes through its hooks (and into a retain_grad tensor), then its
   backward runs: on ndarrays with grad mode off, or, with `create_graph`, on Tensors wired to
   its saved inputs and output (`_attach`) so that the gradients carry a graph.
3. Each result is fitted to its input (`_fit`: `unbroadcast`, the only place that undoes
   broadcasting, then the input's dtype) and added (`_add`) to what that input got so far: in
   `grads` for a node, in the sink for a leaf.
4. `.grad` is written only once the whole walk succeeded (`_commit`), so a backward that fails
   half way changes no `.grad`. `mt.grad` reads the sink instead; `graph.record_backward`
   watches the walk through an observer and writes nothing.

The front ends (`Tensor.backward`, `mt.grad`: argument checks and the seed gradients) are in
autograd.py; this file is the walk alone.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterable
from heapq import heappop, heappush
from typing import Any

import numpy as np

from . import versions as _versions
from .grad_mode import _state
from .shapes import unbroadcast
from .tensor import Tensor, _make

# Serialises the read-modify-write of `.grad` in _commit: two threads running backward() into
# one shared leaf would otherwise both read the old .grad and one sum would be lost. One
# uncontended acquire per backward call (not per op), so the single-thread cost is ~0.1 us.
_grad_lock = threading.Lock()
_lock, _unlock = _grad_lock.acquire, _grad_lock.release  # bound once: cheaper than `with`
_NONE: dict[Any, Any] = {}  # an empty table shared by every backward() (never written)


def _run(starts: list[Any], seeds: list[Any], retain_graph: bool, create_graph: bool,
         targets: list[Tensor] | None = None, observer: Any = None) -> dict[int, list[Any]]:
    """Send `seeds` back from `starts` (each output's node, or the output if it is a leaf) and
    return the sink, id(tensor) -> [tensor, gradient, owned] (owned: the engine or the op made
    the array). backward() commits it (every leaf and retain_grad tensor) to `.grad`; with
    `targets` (mt.grad) it keeps only theirs and only nodes that lead to one run; an `observer`
    sees each node and edge, and then no hook runs."""
    sink: dict[int, list[Any]] = {}
    grads: dict[Any, Any] = {}  # node -> its summed gradient, until it runs
    heap: list[tuple[int, Any]] = []
    wanted = needed = None
    caught: dict[Any, Tensor] = _NONE  # node -> the non-leaf target it made (mt.grad)
    if targets is not None:
        wanted = {id(t) for t in targets}
        caught = {t.grad_fn: t for t in targets if t.grad_fn is not None}
        needed = _needed([e for e in starts if not isinstance(e, Tensor)], wanted, caught)
    hooked = observer is None  # an observed pass runs no hooks,
    plain = hooked and targets is None  # and only backward() fills retain_grad and .grad
    anomaly = _state.anomaly and hooked
    changed_at = _versions.latest  # nodes older than the latest in-place change are checked
    prev_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    try:
        n, edges, results, owned = None, starts, seeds, False  # the seeds come from no node
        while True:
            i = -1
            for e in edges:
                i += 1
                if e is None:
                    continue
                gi = results[i]
                if gi is None:
                    continue
                leaf = isinstance(e, Tensor)
                if leaf:
                    data = e.data
                    shape, dtype = data.shape, data.dtype
                else:
                    shape, dtype = e._shape, e._dtype
                # most gradients fit already: two comparisons rather than a call (NumPy's
                # built-in dtypes are shared objects, so `is` settles most)
                if (type(gi) is not np.ndarray or gi.shape != shape
                        or (gi.dtype is not dtype and gi.dtype != dtype)):
                    gi = _fit(gi, shape, dtype, n, i)
                if observer is not None:
                    observer.on_edge(n, i, e, results[i], gi)
                if leaf:
                    entry = sink.get(id(e))
                    if entry is not None:
                        entry[1] = _add(entry[1], gi)
                        entry[2] = True  # a sum the engine made
                    elif wanted is None or id(e) in wanted:
                        sink[id(e)] = [e, gi, owned]
                    continue
                prev = grads.get(e)
                if prev is not None:
                    grads[e] = _add(prev, gi)
                elif needed is None or e in needed:
                    grads[e] = gi
                    heappush(heap, (-e._seq, e))
            if not heap:
                break
            n = heappop(heap)[1]
            g = grads.pop(n)
            if n._hooks or n._retain is not None or (caught and n in caught):  # rare
                if n._hooks and hooked:
                    g = _call_hooks(n._hooks, g, create_graph)
                owner = n._retain() if n._retain is not None and plain else None
                if owner is not None:
                    sink[id(owner)] = [owner, g, False]
                if caught and n in caught:
                    sink[id(caught[n])] = [caught[n], g, False]
            if observer is not None:
                observer.on_node(n, g)
            saved = n.saved
            if n._seq < changed_at and saved:  # made before an in-place change (versions.py)
                _versions.check_saved(n)
            if saved is None:
                raise RuntimeError(f"backward: the graph through {type(n).__name__} was already "
                                   "freed by an earlier backward(); call the first backward with "
                                   "retain_graph=True to go through it twice")
            try:
                if create_graph and saved:
                    n.saved = _attach(n, saved)
                    try:
                        results = n.backward(g)
                    finally:
                        n.saved = saved
                else:
                    results = n.backward(g)
            except FloatingPointError as e:  # np.errstate(...="raise"): name the op
                raise FloatingPointError(f"{type(n).__name__}.backward: {e}"
                                         + _made_at(n, "")) from None
            if not retain_graph:
                n.saved = None  # frees the arrays; also marks the node as freed
            if type(results) is not tuple:
                results = results if type(results) is list else (results,)
            edges = n._edges
            if len(results) != len(edges):
                raise RuntimeError(f"{type(n).__name__}.backward returned {len(results)} "
                                   f"gradients for {len(edges)} inputs")
            if anomaly:
                _check_backward(n, g, results)
            owned = n._fresh_grads
        if hooked:  # a leaf's hooks see its total gradient, in backward and in mt.grad alike
            for entry in sink.values() if targets is None else (
                    sink[k] for k in dict.fromkeys(map(id, targets)) if k in sink):
                t = entry[0]
                if t._hooks and t.grad_fn is None:
                    entry[1], entry[2] = _call_hooks(t._hooks, entry[1], create_graph), False
        if plain and sink:
            _commit(sink.values(), create_graph)
    finally:
        _state.grad_enabled = prev_mode
    return sink


def _needed(starts: list[Any], wanted: set[int], caught: dict[Any, Tensor]) -> set[Any]:
    """Nodes from which some target can be reached: mt.grad runs no other backward."""
    seen, stack = set(starts), list(starts)
    while stack:
        for e in stack.pop()._edges:
            if e is not None and not isinstance(e, Tensor) and e not in seen:
                seen.add(e)
                stack.append(e)
    needed: set[Any] = set()
    for n in sorted(seen, key=lambda n: n._seq):  # oldest first: inputs before their node
        if n in caught or any(e is not None and (id(e) in wanted if isinstance(e, Tensor)
                                                 else e in needed) for e in n._edges):
            needed.add(n)
    return needed


def _attach(n: Any, saved: tuple[Any, ...]) -> tuple[Any, ...]:
    """Saved arrays as Tensors wired into the graph, so that a backward can be differentiated:
    a saved input becomes that input (its leaf, or a new handle on its node), the saved output
    a handle on this node; anything else stays a constant array."""
    out = []
    for s, src in zip(saved, n._saved_src):
        e = n if src == -1 else None if src is None else n._edges[src]
        out.append(s if e is None else e if isinstance(e, Tensor) else _make(s, True, e))
    return tuple(out)


def _fit(g: Any, shape: tuple[int, ...], dtype: np.dtype, n: Any, i: int) -> Any:
    """Make gradient `g` (for input `i` of node `n`) match its input's shape and dtype."""
    g = g if isinstance(g, (np.ndarray, Tensor)) else np.asarray(g)
    if g.shape != shape:
        try:
            g = unbroadcast(g, shape)
        except (ValueError, IndexError):
            pass
        if g.shape != shape:
            raise RuntimeError(f"{type(n).__name__}.backward returned a gradient of shape "
                               f"{g.shape} for input {i} of shape {shape}")
    g = g if g.dtype == dtype else g.astype(dtype)
    # a full reduction or astype of a 0-d array gives a NumPy scalar, and an ndarray subclass
    # would leak into .grad: every gradient the engine moves is an ndarray or a Tensor
    return g if type(g) is np.ndarray or isinstance(g, Tensor) else np.asarray(g)


def _add(a: Any, b: Any) -> Any:
    """a + b for two gradients of one tensor; stays an ndarray when both are 0-d (NumPy
    returns a scalar for 0-d + 0-d, which would reach `.grad` as a numpy.float64)."""
    s = a + b
    return s if type(s) is np.ndarray or isinstance(s, Tensor) else np.asarray(s)


def _commit(entries: Iterable[list[Any]], create_graph: bool) -> None:
    """Accumulate the gathered gradients into `.grad`. A first-order gradient is copied unless
    it is `owned`, so `.grad` never aliases an array the caller or an op still holds."""
    _lock()
    try:
        for t, g, owned in entries:
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
            out = out if isinstance(out, Tensor) else _make(np.asarray(out))
            if out.shape != t.shape:
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned a gradient "
                                   f"of shape {out.shape} for a tensor of shape {t.shape}")
            t = out
    return t if create_graph else t.data


def _made_at(n: Any, unknown: str) -> str:
    """Where node `n` was made (kept in anomaly mode), as a paragraph for an error."""
    where = "".join(traceback.format_list(n._trace[-4:])) if n._trace else unknown
    return f"\nThe op was created at:\n{where}" if where else ""


def _check_backward(n: Any, g: Any, results: tuple[Any, ...]) -> None:
    """Anomaly mode: raise if a backward made nan/inf out of a finite incoming gradient."""
    def finite(a: Any) -> bool:
        a = a.data if isinstance(a, Tensor) else np.asarray(a)
        return a.dtype.kind != "f" or bool(np.isfinite(a).all())

    for i, r in enumerate(results):
        if r is not None and not finite(r) and finite(g):
            raise FloatingPointError(f"detect_anomaly: {type(n).__name__}.backward produced "
                                     f"nan/inf in the gradient of input {i} from a finite "
                                     "incoming gradient." + _made_at(n, "(unknown)\n"))
