"""The front ends of the engine: `Tensor.backward()` and `mt.grad()` check their arguments,
make each output's seed gradient and hand the walk to engine.py's `_run`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import _run
from .tensor import Tensor, _make


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into `leaf.grad` for every leaf that requires grad."""
    if not tensor._requires_grad:
        raise RuntimeError("backward: this tensor does not require grad (no input of it requires "
                           "grad, or it was computed under no_grad)")
    root = root_grad(tensor, gradient, create_graph, "backward")
    start = tensor if tensor.grad_fn is None else tensor.grad_fn
    _run([start], [root], create_graph if retain_graph is None else retain_graph, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple; `.grad` is untouched.

    `grad_outputs` holds one gradient per output (None for one-element outputs). An input that
    the outputs do not depend on is an error unless `allow_unused`, which gives None for it.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} is not a tensor that requires grad")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad")
    roots = [root_grad(t, g, create_graph, "grad") for t, g in zip(outputs, grad_outputs)]
    starts = [t if t.grad_fn is None else t.grad_fn for t in outputs]
    sink = _run(starts, roots, create_graph if retain_graph is None else retain_graph,
                create_graph, inputs)
    for i, t in enumerate(inputs):
        if id(t) not in sink and not allow_unused:
            raise RuntimeError(f"grad: input {i} was not used to compute the outputs (pass "
                               "allow_unused=True to get None for it)")
    got = [sink[id(t)][1] if id(t) in sink else None for t in inputs]
    return tuple(g if g is None or isinstance(g, Tensor) else _make(np.array(g)) for g in got)


def root_grad(t: Tensor, gradient: Any, create_graph: bool, where: str) -> Any:
    """The seed gradient of output `t`: ones for a one-element output, else `gradient`."""
    data = t.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(f"{where}: a gradient can be implied only for a one-element "
                               f"output; this output has shape {t.shape}, so pass gradient= (an "
                               "array of that shape)")
        # np.ones is a Python-level function; a 0-d output (every loss) takes the cheap way
        g = np.array(1, dtype=data.dtype) if not data.ndim else np.ones(data.shape, data.dtype)
    else:
        try:
            g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
        except (TypeError, ValueError) as e:  # a ragged list
            raise TypeError(f"{where}: cannot use this gradient as an array ({e})") from None
        # complex would lose its imaginary part in the cast (a Tensor passes as it is)
        if g.dtype.kind not in "biuf" and not isinstance(gradient, Tensor):
            raise TypeError(f"{where}: the gradient must be a real (bool, integer or float) "
                            f"array, got dtype {g.dtype}")
        if g.shape != data.shape:
            raise ValueError(f"{where}: gradient shape {g.shape} does not match the output "
                             f"shape {t.shape}")
        try:
            g = g if g.dtype == data.dtype else g.astype(data.dtype)
        except FloatingPointError as e:  # errstate(over="raise"): 1e308 into float32
            raise FloatingPointError(f"{where}: casting the gradient: {e}") from None
    if create_graph:
        return gradient if isinstance(gradient, Tensor) and gradient.dtype == t.dtype else _make(g)
    return g
