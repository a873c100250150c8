"""Arrays changed in place after an op saved them: PyTorch's version counter, kept off the
hot path.

An in-place change (`zero_`, `add_`, ..., `t[i] = v`) notes the array it wrote into, and
every array that one is a view of, with a sequence number from the same counter that numbers
the graph's nodes. Before a node's backward runs, the engine asks `check_saved` only if the
node is older than the latest change: if a value the node saved is (or is a view of) an
array changed after the node was made, the gradient would be computed from the new values,
so it is an error instead. Nothing is recorded per op: the cost falls on in-place changes,
which are rare.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .function import _next_seq

# id(array) -> (weak reference to it, sequence number of its latest change)
changed: dict[int, tuple[weakref.ref, int]] = {}
# the sequence number of the latest change: only nodes made before it can be affected, so a
# training loop that zeroes .grad in place before each forward pays nothing in backward
latest = -1


def _forget(key: int, ref: weakref.ref) -> None:
    entry = changed.get(key)
    if entry is not None and entry[0] is ref:
        del changed[key]


def note_change(array: np.ndarray) -> None:
    """Record that `array` (and so every array it views) is being changed in place now."""
    global latest
    seq = latest = _next_seq()
    a: Any = array
    while isinstance(a, np.ndarray):
        key = id(a)
        entry = changed.get(key)
        if entry is not None and entry[0]() is a:
            changed[key] = (entry[0], seq)
        else:
            changed[key] = (weakref.ref(a, lambda r, key=key: _forget(key, r)), seq)
        a = a.base


def check_saved(node: Any) -> None:
    """Raise if a value `node` saved for backward was changed in place after `node` ran."""
    for i, value in enumerate(node.saved):
        a: Any = value
        while isinstance(a, np.ndarray):
            entry = changed.get(id(a))
            if entry is not None and entry[0]() is a and entry[1] > node._seq:
                raise RuntimeError(
                    f"{type(node).__name__}.backward: saved value {i} (shape {value.shape}) was "
                    "changed in place after the op used it, so its gradient would be computed "
                    "from the new values; change a copy (t.clone()) instead, or run backward "
                    "before changing it")
            a = a.base
