"""A public, read-only view of the recorded graph, and a way to watch a backward pass.

Tools that draw or explain graphs (microtensor.viz, a user's own) read nodes through
`NodeView` instead of the node's private slots, and replay backward with `record_backward`,
which runs the engine's own walk: the same order, the same fitting of each gradient to its
input (undoing broadcasting, casting the dtype), the same sums.

    y = (x * w).sum()
    node = NodeView.of(y)             # the op that made y
    node.name, node.shape, node.inputs
    rec = record_backward([y])        # what backward() would send, without writing .grad
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from . import autograd as _autograd
from . import engine as _engine
from .function import Function
from .tensor import Tensor


class SavedValue(NamedTuple):
    """One value an op saved for backward: `kind` is "input" (then `index` is its position in
    the op's inputs), "output" or "constant" (a mask, an index: not differentiated)."""

    kind: str
    index: int | None
    value: Any


class NodeView:
    """A read-only view of one recorded op: what it is, what it read and made, what it kept.

    Two views of the same node are equal and hash alike, so views work as dict keys. `inputs`
    holds, per positional input, the leaf Tensor it read, a NodeView of the op that made it,
    or None for an input that needs no gradient (a constant).
    """

    __slots__ = ("_node",)

    def __init__(self, node: Function) -> None:
        if not isinstance(node, Function) or not hasattr(node, "_seq"):
            raise TypeError(f"NodeView: expected a recorded op (a Tensor's grad_fn), got {node!r}")
        self._node = node

    @classmethod
    def of(cls, tensor: Tensor) -> NodeView | None:
        """The view of the op that made `tensor`, or None for a leaf."""
        return None if tensor.grad_fn is None else cls(tensor.grad_fn)

    @property
    def function(self) -> Function:
        """The op object itself: its class gives the docstring and forward's parameter names,
        and op-specific public attributes (Pow's `exponent`, Clip's `lo`/`hi`) live on it."""
        return self._node

    @property
    def name(self) -> str:
        """The op's name (its class name): "Mul", "Sigmoid", "MatMul"."""
        return type(self._node).__name__

    @property
    def inputs(self) -> tuple[Tensor | NodeView | None, ...]:
        """Per positional input: a leaf Tensor, a NodeView of its op, or None (a constant)."""
        return tuple(e if e is None or isinstance(e, Tensor) else NodeView(e)
                     for e in self._node._edges)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the op's output."""
        return self._node._shape

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the op's output."""
        return self._node._dtype

    @property
    def kwargs(self) -> MappingProxyType[str, Any]:
        """The keyword arguments the op was applied with (axis, keepdims, index, ...)."""
        return MappingProxyType(self._node._kwargs or {})

    @property
    def saved(self) -> tuple[SavedValue, ...]:
        """What the op saved for backward, in order; empty when nothing (or when freed)."""
        saved = self._node.saved or ()
        src = getattr(self._node, "_saved_src", None) or (None,) * len(saved)
        return tuple(SavedValue("constant" if s is None else "output" if s == -1 else "input",
                                None if s is None or s == -1 else s, v)
                     for v, s in zip(saved, src))

    @property
    def freed(self) -> bool:
        """True once a backward without retain_graph released the saved values."""
        return self._node.saved is None

    @property
    def scope(self) -> tuple[Any, ...]:
        """The modules (outermost first) that were running when the op was recorded."""
        return self._node._scope or ()

    @property
    def order(self) -> int:
        """Creation order: a node is always newer than the nodes of its inputs."""
        return self._node._seq

    @property
    def retained(self) -> Tensor | None:
        """The output Tensor, if it called retain_grad() and is still alive."""
        ref = self._node._retain
        return None if ref is None else ref()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeView) and other._node is self._node

    def __hash__(self) -> int:
        return hash(self._node)

    def __repr__(self) -> str:
        return f"<NodeView {self.name} -> {self.shape}>"


@dataclass
class BackwardRecord:
    """What one backward pass moved, as arrays (see `record_backward`).

    `seeds`: each output's seed (None for an output that needs no grad). `incoming`: the
    gradient each node's backward received, in the order the engine ran them. `outgoing`: the
    gradient sent along each edge (node, input index), fitted to that input; `summed_from`: the
    shape backward returned where the engine undid broadcasting. `leaf_total`: per leaf
    (keyed by `id`, as Tensors compare elementwise) the sum that backward() adds to `.grad`;
    `leaf_parts`: the edges that fed it, None for an output's own seed.
    """

    seeds: list[np.ndarray | None]
    incoming: dict[NodeView, np.ndarray] = field(default_factory=dict)
    outgoing: dict[tuple[NodeView, int], np.ndarray] = field(default_factory=dict)
    summed_from: dict[tuple[NodeView, int], tuple[int, ...]] = field(default_factory=dict)
    leaf_total: dict[int, np.ndarray] = field(default_factory=dict)
    leaf_parts: dict[int, list[tuple[NodeView, int] | None]] = field(default_factory=dict)

    def on_node(self, n: Function, g: Any) -> None:
        """Observer call from the engine: node `n` runs with gradient `g`."""
        self.incoming[NodeView(n)] = _array(g)

    def on_edge(self, n: Function | None, i: int, e: Any, returned: Any, fitted: Any) -> None:
        """Observer call: input `i` of `n` (None: a seed) gets `fitted` (backward gave
        `returned`)."""
        source = None if n is None else (NodeView(n), i)
        if source is not None:
            self.outgoing[source] = _array(fitted)
            shape = np.shape(returned.data if isinstance(returned, Tensor) else returned)
            if shape != self.outgoing[source].shape:
                self.summed_from[source] = shape
        if isinstance(e, Tensor):
            self.leaf_parts.setdefault(id(e), []).append(source)


def _array(g: Any) -> np.ndarray:
    return np.array(g.data if isinstance(g, Tensor) else g)


def record_backward(outputs: list[Tensor], gradients: list[Any] | None = None, *,
                    name: str = "record_backward") -> BackwardRecord:
    """Run the engine's backward walk from `outputs` and record every gradient it moves.

    It is the real walk (the engine's order, fitting and sums), run with retain_graph and
    first order only, and it writes nothing: no `.grad` (of leaves or of retain_grad tensors),
    no hook is called (so a hook that changes gradients is not reflected), the saved values
    stay. `gradients` has one seed per output (None: ones, for a one-element output); an
    output that needs no grad is skipped. `name` starts error messages (a tool passes its own).
    The graph must still hold its saved values (before backward(), or after
    backward(retain_graph=True)).
    """
    gradients = list(gradients) if gradients is not None else [None] * len(outputs)
    seeds = [_autograd.root_grad(t, g, False, name) if t.requires_grad else None
             for t, g in zip(outputs, gradients)]
    record = BackwardRecord(seeds=seeds)
    live = [(t, s) for t, s in zip(outputs, seeds) if s is not None]
    starts = [t if t.grad_fn is None else t.grad_fn for t, _ in live]
    sink = _engine._run(starts, [s for _, s in live], True, False, None, record)
    record.leaf_total = {key: _array(entry[1]) for key, entry in sink.items()}
    return record
