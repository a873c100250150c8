"""Function: the base of every op, built-in or written by a user.

An op is a subclass with `forward` and `backward` side by side. `Op.apply(*args, **kwargs)`
runs `forward` on plain NumPy arrays (Tensors are unwrapped, other arguments pass through) and,
when grad mode is on and some input requires grad, makes the instance itself a node of the
graph: the node is the `ctx` of the custom-op API (`self.save_for_backward`,
`self.needs_input_grad`, `self.saved`).

Why backward formulas are written over "arrays or Tensors" (the second way in DESIGN.md):
a first-order backward runs every formula on ndarrays, paying nothing for higher order; with
`create_graph=True` the engine hands the same formulas Tensors instead (the incoming gradient
and the saved values, re-attached to the graph), and NumPy dispatch (`__array_ufunc__`,
`__array_function__`) plus the shared method names (`sum`, `reshape`, `transpose`, `[...]`)
record them as ordinary ops. One formula per op, two speeds.

Saved values say what they are when saved: `save_for_backward` takes the arrays `forward`
received (inputs), the array it returns (the output), or values wrapped in `constant(...)`
(masks, indices, anything the gradient does not flow through). Under `create_graph` an input
or the output comes back attached to the graph and a constant comes back as it was; anything
else (a copy of an input, an intermediate) is refused with an error saying what to do.
"""

from __future__ import annotations

import traceback
from itertools import count
from typing import Any

import numpy as np

from .grad_mode import _state
from .tensor import Tensor, _make

_ERRORS = (ValueError, TypeError, IndexError)


class Constant:
    """A value saved for backward that is constant for differentiation (see `constant`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"constant({self.value!r})"


def constant(value: Any) -> Constant:
    """Mark `value` as constant for differentiation when saving it for backward:
    `self.save_for_backward(x, mt.constant(mask))`. Backward gets the value itself; under
    `create_graph` it stays a plain value (no gradient flows through it), which is right for
    masks, indices and signs, and wrong for anything computed from a differentiable input."""
    return Constant(value)
_new = object.__new__
_next_seq = count().__next__  # creation order of nodes: the engine's topological order


class Function:
    """Base class of differentiable ops.

    Subclasses define `forward(self, *arrays, **kwargs) -> ndarray` and
    `backward(self, grad) -> grad_input | tuple[grad_input, ...]`, with one gradient (or None)
    per positional argument of `forward`. The engine undoes broadcasting and casts each
    gradient to its input's dtype, so backward may return a broadcast-shaped gradient.
    `self.needs_input_grad` (one bool per positional argument, all False when nothing is
    recorded) is already set inside `forward`.

    The rule for op authors, so that one backward serves first and higher order:
    1. save only inputs, the output, or `constant(...)` values (`save_for_backward` checks);
    2. write backward with operators, NumPy ufuncs, the shared methods (`sum`, `reshape`, `.T`,
       `[...]`, `.dtype`) and the helpers of `microtensor.ops.vocab` (`V.where`, `V.mask`, ...);
    3. never test for Tensor or unwrap one in backward: a helper that needs to does it.
    """

    __slots__ = (
        "_edges",
        "needs_input_grad",
        "saved",
        "_saved_src",
        "_shape",
        "_dtype",
        "_kwargs",
        "_scope",
        "_seq",
        "_raw_inputs",
        "__dict__",
        "__weakref__",
    )
    # Rarely set, so class-level defaults rather than four stores per op in apply (the
    # hottest function there is); the few nodes that need them get instance values.
    _hooks = None
    _retain = None
    _trace = None
    # True for an op whose first-order backward always returns arrays it just made (never
    # its incoming gradient, a view of it, or a saved array): the engine may then store them
    # in a leaf's .grad without a defensive copy
    _fresh_grads = False

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """Compute the op on arrays; override in subclasses."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, grad: Any) -> Any:
        """Map the output's gradient to the inputs' gradients; override in subclasses."""
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    def jvp(self, *tangents: Any) -> Any:
        """Forward mode: map one tangent per positional argument of `forward` (None where that
        argument carries none) to the output's tangent, sum_i d(out)/d(arg_i) . tangent_i, in
        the output's shape (None when every tangent is None). Called on the node right after
        its `forward`, so it may read what forward kept; written like backward (operators,
        ufuncs, the vocabulary), so it runs on arrays and, recorded, on Tensors. An op
        without a rule says so when mt.func.jvp reaches it."""
        raise NotImplementedError(
            f"{type(self).__name__} has no forward-mode rule: define "
            f"{type(self).__name__}.jvp(self, *tangents) to use it under mt.func.jvp, "
            "mt.func.jacobian(mode='forward') or forward_ad"
        )

    @property
    def _freed(self) -> bool:
        """True once a backward without retain_graph has released this node's saved values."""
        return self.saved is None

    def save_for_backward(self, *values: Any) -> None:
        """Keep `values` for backward as `self.saved`, each declared by what it is: one of the
        arrays `forward` received (an input), the array it returns (the output, checked when
        it returns), or a value wrapped in `constant(...)` (kept unwrapped; None counts as a
        constant too). Call it inside `forward`; a later call replaces the earlier one."""
        try:
            inputs = self._raw_inputs
        except AttributeError:
            inputs = None
        if inputs is None:
            raise RuntimeError(
                f"{type(self).__name__}.save_for_backward: call it inside forward (through "
                f"{type(self).__name__}.apply), where the inputs are known"
            )
        src = []
        marked = False
        for v in values:
            if type(v) is Constant or v is None:
                src.append(None)
                marked = True
                continue
            i = 0
            for r in inputs:  # identity, not equality: which argument this very array is
                if v is r:
                    src.append(i)
                    break
                i += 1
            else:
                src.append(-1)  # the output, or nothing declared: apply tells them apart
        if marked:
            values = tuple(v.value if type(v) is Constant else v for v in values)
        self.saved = values
        self._saved_src = tuple(src)  # ints only: a tuple the garbage collector skips

    @property
    def name(self) -> str:
        """The op's name, as shown in errors and pictures: its class name."""
        return type(self).__name__

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on `args` and return its output Tensor, recording the graph if needed."""
        state = _state
        if state.transforms:  # mt.func's forward mode or vmap is active: it runs the op
            return _transformed(cls, args, kwargs)
        node = _new(cls)
        node.saved = ()
        raw = []
        edges = []
        needs = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if a._requires_grad:
                    requires = True
                    fn = a.grad_fn
                    edges.append(a if fn is None else fn)
                    needs.append(True)
                    continue
            else:
                raw.append(a)
            edges.append(None)
            needs.append(False)
        record = requires and state.grad_enabled
        # known before forward, as in PyTorch, so a forward can skip saving what no
        # gradient will need
        node.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        node._raw_inputs = raw  # for save_for_backward, during forward only
        try:
            result = node.forward(*raw, **kwargs)
        except _ERRORS as e:
            raise _wrap_error(cls.__name__, e, args) from None
        except FloatingPointError as e:
            # NumPy raising under np.errstate(...="raise"): say which op it was
            raise _float_error(cls.__name__, "forward", e) from None
        finally:
            node._raw_inputs = None
        out = result if type(result) is np.ndarray else np.asarray(result)
        saved = node.saved
        if saved:
            src = node._saved_src
            if -1 in src:  # what save_for_backward could not place must be the output
                i = -1
                for s in saved:
                    i += 1
                    if src[i] == -1 and s is not result and s is not out:
                        raise _undeclared(node, i)
        anomaly = state.anomaly
        if anomaly:
            _check_forward(cls.__name__, raw, out)
        if not record or out.dtype.kind != "f":
            return _make(out)
        node._edges = edges
        node._shape = out.shape
        node._dtype = out.dtype
        node._kwargs = kwargs or None  # most ops have none: no empty dict per node
        node._scope = state.scope
        node._seq = _next_seq()
        if anomaly:
            node._trace = traceback.extract_stack()[:-1]
        return _make(out, True, node)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def _transformed(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Hand the op call `cls.apply(*args, **kwargs)` to the innermost active function transform
    (`transform.process(cls, args, kwargs)`), with that transform taken off the stack while it
    runs: the ops it calls itself go to the next transform out, or straight to the op. This is
    how transforms nest (vmap of jvp): each sees only the calls of the level inside it."""
    stack = _state.transforms
    _state.transforms = stack[:-1]
    try:
        return stack[-1].process(cls, args, kwargs)
    finally:
        _state.transforms = stack


def _run_for_jvp(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any],
                 tangent_mask: list[bool], record_graph: bool = True
                 ) -> tuple[Tensor, Function, bool]:
    """`cls.apply(*args, **kwargs)` for forward mode: the same steps, but the node is returned
    too (its `jvp` runs next, on what forward kept) and `needs_input_grad` is also True for
    every argument that carries a tangent (`tangent_mask`), so that forward saves what jvp
    needs. The node joins the reverse graph, as apply would make it, when some input
    requires grad in grad mode (and `record_graph`); the bool says whether it did. A copy of
    apply's steps rather than a parameter of apply: apply is the hottest function of the
    library, and forward mode must not cost it anything."""
    state = _state
    node = _new(cls)
    node.saved = ()
    raw = []
    edges = []
    needs = []
    requires = False
    for a in args:
        if isinstance(a, Tensor):
            raw.append(a.data)
            if a._requires_grad:
                requires = True
                fn = a.grad_fn
                edges.append(a if fn is None else fn)
                needs.append(True)
                continue
        else:
            raw.append(a)
        edges.append(None)
        needs.append(False)
    record = requires and state.grad_enabled and record_graph
    node.needs_input_grad = tuple((n and record) or m for n, m in zip(needs, tangent_mask))
    node._raw_inputs = raw
    try:
        result = node.forward(*raw, **kwargs)
    except _ERRORS as e:
        raise _wrap_error(cls.__name__, e, args) from None
    except FloatingPointError as e:
        raise _float_error(cls.__name__, "forward", e) from None
    finally:
        node._raw_inputs = None
    out = result if type(result) is np.ndarray else np.asarray(result)
    saved = node.saved
    if saved:
        src = node._saved_src
        i = -1
        for s in saved:
            i += 1
            if src[i] == -1 and s is not result and s is not out:
                raise _undeclared(node, i)
    if state.anomaly:
        _check_forward(cls.__name__, raw, out)
    node._edges = edges
    # the output's shape and dtype, which a jvp rule may read (apply keeps them only on nodes
    # of the graph)
    node._shape = out.shape
    node._dtype = out.dtype
    if not record or out.dtype.kind != "f":
        return _make(out), node, False
    node._kwargs = kwargs or None
    node._scope = state.scope
    node._seq = _next_seq()
    if state.anomaly:
        node._trace = traceback.extract_stack()[:-1]
    return _make(out, True, node), node, True


def _undeclared(node: Function, i: int) -> TypeError:
    """The error for saved value `i` of `node`: neither an input, the output, nor a constant."""
    return TypeError(
        f"{type(node).__name__}.save_for_backward: value {i} is neither an input, the output, "
        "nor marked constant; save the input itself (the array forward received) or the array "
        "forward returns, or wrap it in mt.constant(...) if it is constant for differentiation "
        "(a mask, indices); for a value computed from an input, save the input and recompute "
        "it in backward"
    )


def _shapes_of(args: tuple[Any, ...]) -> str:
    shapes = [str(tuple(np.shape(a.data if isinstance(a, Tensor) else a))) for a in args
              if isinstance(a, (Tensor, np.ndarray))]
    return ", ".join(shapes)


def _wrap_error(op: str, err: Exception, args: tuple[Any, ...]) -> Exception:
    """Re-raise a NumPy error from inside `forward` with the op's name and the input shapes."""
    msg = str(err)
    head = msg.split(":", 1)[0].replace("_", "").lower()
    if ":" in msg and head == op.lower():
        return err
    kind = IndexError if isinstance(err, IndexError) else (
        TypeError if isinstance(err, TypeError) else ValueError)
    shapes = _shapes_of(args)
    return kind(f"{op}: {msg}" + (f" (input shapes {shapes})" if shapes else ""))


def _float_error(op: str, where: str, err: FloatingPointError) -> FloatingPointError:
    """A FloatingPointError from NumPy inside an op's `forward` or `backward`, with the op's
    name (and, in anomaly mode, where the op was called)."""
    msg = f"{op}: {err} in its {where} pass"
    if _state.anomaly:
        trace = "".join(traceback.format_list(traceback.extract_stack()[-7:-2]))
        msg = f"detect_anomaly: {msg}.\nThe op was called at:\n{trace}"
    return FloatingPointError(msg)


def _check_forward(op: str, raw: list[Any], out: np.ndarray) -> None:
    """Anomaly mode: raise if the op made nan/inf out of finite float inputs."""
    if out.dtype.kind != "f" or np.isfinite(out).all():
        return
    for r in raw:
        if isinstance(r, np.ndarray) and r.dtype.kind == "f" and not np.isfinite(r).all():
            return
    where = "".join(traceback.format_list(traceback.extract_stack()[-6:-2]))
    raise FloatingPointError(
        f"detect_anomaly: {op} produced nan/inf in its forward pass from finite inputs.\n"
        f"The op was called at:\n{where}"
    )
