"""mt.compile: trace a training step once, then replay it as one flat NumPy program.

    step = mt.compile(train_step)      # train_step(x, y): zero_grad, forward, backward, step
    for x, y in batches:
        loss = step(x, y)              # first call: eager, traced; later calls: replayed
    print(step.source)                 # the program it replays, as Python source

The first call runs `fn` eagerly while recording what ran: every op (through the function
transform hook of `Function.apply`), each `backward()` (its schedule taken from the engine's
own walk, so the order of every gradient sum is the engine's), and the calls marked as
effects with `mt.compile_effect` (nn's optimizer `step`/`zero_grad`). From that record it
writes a Python function, straight-line code with no Tensors, no graph and no heap: each op's
own `forward`/`backward` on arrays, the engine's fitting and sums inlined where the trace saw
them, `.grad` written as `backward()` writes it, effects called in place. Later calls with
inputs of the same kind (shapes, dtypes, grad mode, the modules' train/eval flags and
attributes, the parameters' shapes and dtypes) run that function; anything else is traced
again (or is an error with `fullgraph=True`). Results are bit-identical to eager: the same
operations run in the same order.

What tracing cannot see, and so replays as it was at the first call (as in every tracing
compiler): Python control flow that depends on values (`if loss.item() > 1`), values made
outside ops (a number from `.item()`, a NumPy computation), side effects other than the
marked effects (appending to a list, changing `.grad` or `.data` by hand). `check=True` runs
the compiled program and the eager function side by side on every call and raises on the
first difference in the returned values or the gradients. Hooks, `retain_grad`,
`create_graph`, `mt.grad` and in-place changes of tensors inside the step are not traced:
the step runs eagerly, with a warning once.
"""

from __future__ import annotations

import builtins
import copy
import functools
import inspect
import keyword
import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import autograd as _autograd
from . import engine as _engine
from . import random as _random
from . import versions as _versions
from .function import Function
from .grad_mode import _state
from .tensor import Tensor, _make

__all__ = ["CompileError", "Compiled", "compile", "compile_effect"]  # mt.compile, ...

_MAX_PLANS = 8  # retraces kept per compiled function before it gives up and runs eagerly
_MISS = object()  # what a plan's function returns when its guards do not hold
_FREE_BYTES = 1 << 20  # arrays this large are dropped after their last use in a replay


class CompileError(RuntimeError):
    """A compiled step that cannot run as asked: a retrace under `fullgraph=True`, or a
    difference between compiled and eager results under `check=True`."""


class _Unsupported(Exception):  # noqa: N818 - a reason, caught inside this module
    """Raised inside tracing for something the compiler does not trace (the reason)."""


def compile_effect(method: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method whose effect is not made of ops (an optimizer's `step`, `zero_grad`) so
    that `mt.compile` replays the call itself, in its place in the step. Outside tracing the
    mark costs one attribute read per call."""

    @functools.wraps(method)
    def marked(*args: Any, **kwargs: Any) -> Any:
        rec = _state.tracer
        if rec is None:
            return method(*args, **kwargs)
        return rec.effect(method, args, kwargs)

    return marked


def compile(fn: Callable[..., Any] | None = None, *, check: bool = False,  # noqa: A001
            fullgraph: bool = False) -> Any:
    """Compile `fn` (a training step, or any function of Tensors): see the module docstring.
    Usable as `mt.compile(fn)`, `@mt.compile` or `@mt.compile(check=True)`."""
    if fn is None:
        return lambda f: Compiled(f, check=check, fullgraph=fullgraph)
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    return Compiled(fn, check=check, fullgraph=fullgraph)


# ------------------------------------------------------------------------ recording
class _Call:
    """One op call seen while tracing."""

    __slots__ = ("cls", "args", "kwargs", "out", "node", "data", "arg_data")

    def __init__(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any],
                 out: Tensor) -> None:
        self.cls, self.args, self.kwargs, self.out = cls, args, kwargs, out
        # as they are now: an assignment `out[i] = v` later gives the tensor a new array and
        # node (ops/setitem.py), and this call's are the ones the plan replays
        self.node, self.data = out.grad_fn, out.data
        self.arg_data = tuple(a.data if isinstance(a, Tensor) else None for a in args)


class _Schedule:
    """An engine observer: the backward walk as a list of ("node", n) and
    ("edge", n, i, e, returned, fitted) events, in the engine's order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_node(self, n: Function, g: Any) -> None:
        if n._hooks or n._retain is not None:
            raise _Unsupported(f"a hook or retain_grad on the output of {type(n).__name__}")
        self.events.append(("node", n))

    def on_edge(self, n: Function | None, i: int, e: Any, returned: Any, fitted: Any) -> None:
        if isinstance(e, Tensor) and e._hooks:
            raise _Unsupported("a hook on a leaf tensor")
        self.events.append(("edge", n, i, e, _kind(returned), _kind(fitted)))


def _random_state() -> Any:
    g = _random.default_generator()
    return id(g), g.bit_generator.state["state"]


def _kind(a: Any) -> tuple[Any, ...]:
    a = a.data if isinstance(a, Tensor) else a
    return (type(a), np.shape(a), getattr(a, "dtype", None))


class _Recorder:
    """The tracer: a function transform (every op call comes through `process`), the target
    of `Tensor.backward` while tracing, and the recorder of effects."""

    traces_only = True  # it runs every op as it is (setitem and friends may run under it)

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.quiet = 0  # > 0 inside an effect or a backward: ops there are not part of the step
        self.modules: dict[int, Any] = {}
        self.unsupported: str | None = None  # why this step cannot be replayed (it runs on)
        self.seen_change = _versions.latest
        self.seen_random = _random_state()

    def _note_changes(self) -> None:
        """An in-place change of a tensor, or a random draw, outside ops and the marked
        effects cannot be replayed (a mask drawn outside ops would be replayed as a constant)."""
        if self.unsupported is not None:
            return
        if _versions.latest != self.seen_change:
            self.unsupported = "a tensor was changed in place inside the step"
        elif _random_state() != self.seen_random:
            self.unsupported = ("random numbers were drawn outside ops (a mask made by the "
                                "caller would be replayed as a constant)")

    def process(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not self.quiet:
            self._note_changes()
        out = cls.apply(*args, **kwargs)
        if not self.quiet:
            self.seen_random = _random_state()  # draws inside an op are replayed by the op
            self.events.append(("op", _Call(cls, args, kwargs, out)))
            for owner in _state.scope:
                self.modules.setdefault(id(owner), owner)
        return out

    def effect(self, method: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
        if not self.quiet:
            self._note_changes()
            self.events.append(("effect", method, args, kwargs))
        self.quiet += 1
        try:
            return method(*args, **kwargs)
        finally:
            self.quiet -= 1
            if not self.quiet:
                self.seen_change, self.seen_random = _versions.latest, _random_state()

    def backward(self, tensor: Tensor, gradient: Any, retain_graph: Any,
                 create_graph: bool) -> None:
        if self.quiet:
            self.unsupported = self.unsupported or "backward() inside an effect (a closure)"
        elif create_graph:
            self.unsupported = self.unsupported or "backward(create_graph=True)"
        elif tensor._requires_grad and self.unsupported is None:
            self._note_changes()
            root = _autograd.root_grad(tensor, gradient, False, "backward")
            start = tensor if tensor.grad_fn is None else tensor.grad_fn
            schedule = _Schedule()
            try:  # the engine's own walk, observed (it runs no hook and writes nothing)
                sink = _engine._run([start], [root], True, False, None, schedule)
            except _Unsupported as e:
                self.unsupported = str(e)
            self.events.append(("backward", tensor, gradient, schedule, bool(retain_graph)))
            if self.unsupported is None and not _state.anomaly:
                # the walk computed every gradient already: write .grad as backward() would
                # (_commit) and free what it would have freed, rather than walk a second time
                _engine._commit(sink.values(), False)
                if not retain_graph:
                    for ev in schedule.events:
                        if ev[0] == "node":
                            ev[1].saved = None
                return
        self.quiet += 1
        try:  # the real backward (its errors are the eager ones)
            _autograd.backward(tensor, gradient, retain_graph, create_graph)
        finally:
            self.quiet -= 1


# ------------------------------------------------------------------------ the compiled step
class Compiled:
    """A compiled function (see `compile`). Call it like `fn`; `source` is the program the
    latest plan replays; `traces` counts how many times it traced."""

    def __init__(self, fn: Callable[..., Any], check: bool, fullgraph: bool) -> None:
        self.fn, self.check, self.fullgraph = fn, check, fullgraph
        self._plans: dict[Any, _Plan] = {}
        self._last: _Plan | None = None
        self._fast: Callable[..., Any] | None = None
        self.traces = 0
        self.eager_reason: str | None = None  # why it runs eagerly, once it does
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def source(self) -> str:
        """The Python source of the latest plan (traced on the first call)."""
        if self._last is None:
            raise RuntimeError("compile: call the compiled function once before reading source")
        return self._last.source

    @property
    def run_source(self) -> str:
        """The function the latest plan runs: `source`'s arithmetic plus the Tensor
        bookkeeping (reading `.data`, writing `.grad`, calling effects)."""
        if self._last is None:
            raise RuntimeError("compile: call the compiled function once before reading source")
        return self._last.run_source

    def __call__(self, *args: Any) -> Any:
        fast = self._fast  # the latest plan, its guards written into its own first line
        if fast is not None:
            out = fast(*args)
            if out is not _MISS:
                return out
        if self.eager_reason is not None:
            return self.fn(*args)
        key = _signature(args)
        plan = self._plans.get(key)
        if plan is not None and plan.guards_hold():
            if self.check:
                return self._checked(plan, args)
            out = plan.run(args)
            if out is not _MISS:
                self._last = plan
                self._fast = plan.run_fn if plan.fast else None
                return out
        if self._plans and self.fullgraph:
            raise CompileError(
                f"compile: {getattr(self.fn, '__name__', 'fn')} would be traced again "
                f"(fullgraph=True): {_what_changed(plan, key, self._plans)}")
        if len(self._plans) >= _MAX_PLANS:
            self._go_eager(f"traced {_MAX_PLANS} times (inputs or modules keep changing)")
            return self.fn(*args)
        return self._trace(key, args)

    def _go_eager(self, reason: str) -> None:
        self.eager_reason = reason
        self._fast = None
        warnings.warn(f"compile: {getattr(self.fn, '__name__', 'fn')} runs eagerly: {reason}",
                      RuntimeWarning, stacklevel=3)

    def _trace(self, key: Any, args: tuple[Any, ...]) -> Any:
        if _state.tracer is not None or _state.transforms:
            raise CompileError("compile: a compiled function cannot run inside another one, "
                               "or inside mt.func transforms")
        rec = _Recorder()
        _state.tracer = rec
        _state.transforms = (*_state.transforms, rec)
        try:
            result = self.fn(*args)
        finally:
            _state.tracer, _state.transforms = None, _state.transforms[:-1]
        self.traces += 1
        rec._note_changes()
        if rec.unsupported is not None:
            self._go_eager(rec.unsupported)
            return result
        try:
            plan = _Plan(rec, args, result, self.fn, key[0])
        except _Unsupported as e:
            self._go_eager(str(e))
            return result
        self._plans[key] = plan
        self._last = plan
        self._fast = plan.run_fn if plan.fast and not self.check else None
        return result

    def _checked(self, plan: _Plan, args: tuple[Any, ...]) -> Any:
        """Run the plan, put back everything it may have changed (the tensors it reads and
        their gradients, the effects' objects, the random generator), run `fn` eagerly, and
        compare the results, the tensors and their gradients, exactly."""
        leaves = plan.tensors()
        known = {id(t) for t in leaves}  # and the arguments this call passes (their .grad)
        leaves += [a for a in args if isinstance(a, Tensor) and id(a) not in known]
        receivers = plan.effect_objects()
        memo: dict[int, Any] = {id(t): t for t in leaves}
        before = [(t, t.data.copy(), None if t.grad is None else t.grad.data.copy())
                  for t in leaves]
        states = [(obj, copy.deepcopy(vars(obj), memo)) for obj in receivers]
        gen = _random.default_generator()
        gen_state = gen.bit_generator.state
        compiled_out = plan.run(args)
        compiled_after = [(t.data.copy(), None if t.grad is None else t.grad.data.copy())
                          for t in leaves]
        for t, data, grad in before:
            t.data = data
            t.grad = None if grad is None else _make(grad)
        for obj, state in states:
            vars(obj).update(state)
        gen.bit_generator.state = gen_state
        eager_out = self.fn(*args)
        problems = [where for where, a, b in _pairs(compiled_out, eager_out, "the result")
                    if not _same(a, b)]
        for t, (data, grad) in zip(leaves, compiled_after):
            what = t.name or f"a tensor of shape {t.shape}"
            if not _same(data, t.data):
                problems.append(f"the values of {what}")
            if not _same(grad, None if t.grad is None else t.grad.data):
                problems.append(f"the gradient of {what}")
        if problems:
            raise CompileError(
                "compile(check=True): the compiled step and the eager one differ in "
                + ", ".join(problems) + "; the step depends on something tracing does not see "
                "(Python control flow on values, values made outside ops, side effects)")
        return eager_out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    a = a.data if isinstance(a, Tensor) else a
    b = b.data if isinstance(b, Tensor) else b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a == b


def _pairs(a: Any, b: Any, where: str) -> list[tuple[str, Any, Any]]:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _pairs(x, y, f"{where}[{i}]")
        return out
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        out = []
        for k in a:
            out += _pairs(a[k], b[k], f"{where}[{k!r}]")
        return out
    return [(where, a, b)]


def _arg_kind(a: Any) -> Any:
    if isinstance(a, Tensor):
        return ("T", a.data.shape, a.data.dtype.str, a._requires_grad)
    if isinstance(a, np.ndarray):
        return ("A", a.shape, a.dtype.str)
    if isinstance(a, (bool, int, float, str, type(None))):
        return ("S", type(a), a)
    if isinstance(a, (tuple, list)):
        return (type(a), tuple(_arg_kind(x) for x in a))
    return ("O", id(a))


def _signature(args: tuple[Any, ...]) -> Any:
    return (_state.grad_enabled, tuple(_arg_kind(a) for a in args))


def _what_changed(plan: Any, key: Any, plans: dict[Any, Any]) -> str:
    if plan is not None:
        return plan.broken_guard() or "a guard failed"
    return f"the inputs or grad mode changed (now {key!r})"


# ------------------------------------------------------------------------ code templates
class Emit:
    """What an op's code template sees: `emit_forward(self, e)` and `emit_backward(self, e)`
    on a Function subclass write the op as NumPy statements, with the arithmetic of its own
    `forward` / `backward` (the same helpers, in the same order), so that a replay that uses
    the template is bit-identical to one that calls the op. `self` is the traced node (its
    `needs_input_grad` and what forward kept: reduction, counts); shape- and dtype-dependent
    choices are taken from `e.values` at trace time (the plan's guards keep them valid).

    Forward: `e.args` are the expressions of the positional arguments, `e.kw` of the keyword
    ones, `e.values` / `e.kwargs` their traced values (arrays for Tensors), `e.out` the
    variable to assign and `e.out_value` the traced result. Return the lines, or None where
    the template does not cover these inputs (the op is then called as it is).
    Backward: `e.grad` is the incoming gradient's expression and `e.targets[i]` the variable
    proposed for input i's gradient (None where no gradient is needed); return
    `(lines, exprs)`, exprs[i] the expression of input i's gradient (often `e.targets[i]`).
    `e.local(hint)` names a temporary shared by the two templates (a loss's difference);
    `e.fn(name, obj, module)` a helper (`from module import name` in the source's header);
    `e.const(hint, value, source)` an array made once (`source` rebuilds it in the header).
    """

    def __init__(self, plan: _Plan, node: Function, values: list[Any], kwargs: dict[str, Any],
                 args: list[str], kw: dict[str, str], out: str, out_value: np.ndarray) -> None:
        self._plan = plan
        self.node, self.values, self.kwargs = node, values, kwargs
        self.args, self.kw, self.out, self.out_value = args, kw, out, out_value
        self.grad = ""
        self.targets: list[str | None] = []
        self._locals: dict[str, str] = {}

    def local(self, hint: str, name: str | None = None) -> str:
        """A variable for this op's temporary `hint` (called `name` if that is free), the
        same variable in forward and backward."""
        var = self._locals.get(hint)
        if var is None:
            var = self._locals[hint] = self._plan._fresh(name or f"{self.out}_{hint}")
            self._plan.sizes[var] = max([self.out_value.nbytes] + [
                v.nbytes for v in self.values if isinstance(v, np.ndarray)])
        return var

    def fn(self, name: str, obj: Any, module: str) -> str:
        """The name under which generated code calls `obj` (`from module import name`)."""
        return self._plan._helper(name, obj, module)

    def const(self, hint: str, value: Any, source: str) -> str:
        """A constant array (made once, read-only) named after `hint`; `source` is the
        expression that rebuilds it in the standalone source's header."""
        return self._plan._const_named(hint, value, source)

    def lit(self, value: Any) -> str:
        """A Python number, string, tuple or None as source text."""
        if isinstance(value, float) and not np.isfinite(value):
            return f"float({str(value)!r})"
        return repr(value)


# ------------------------------------------------------------------------ the plan
def _data(a: Any) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _fit(g: Any, shape: tuple[int, ...], dtype: Any, n: Any, i: int) -> Any:
    return _engine._fit(g, shape, dtype, n, i)


def fit_to(g: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A gradient fitted to its input as the engine fits it: broadcasting undone, then the
    input's dtype (what a compiled step's standalone source calls)."""
    return _engine._fit(g, shape, np.dtype(dtype), None, 0)


# what each kind of op's output is called in the source: the articles' z (a layer's
# pre-activation), h (an activation) and loss
_LAYER_OPS = {"Linear": "z", "MatMul": "z", "LinearSigmoid": "h", "LinearTanh": "h",
              "LinearReLU": "h"}
_ACTIVATIONS = {"Sigmoid", "Tanh", "Relu", "Softplus"}
_LOSSES = {"SquaredError", "BinaryCrossEntropy", "SoftmaxCrossEntropy"}
_RESERVED = {"np"}


def _identifier(text: str) -> str:
    """A Python identifier made from a dotted parameter path ("0.weight" -> "layer0_weight")."""
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_"
                   for c in text).strip("_") or "t"
    if name[0].isdigit():
        name = "layer" + name
    return name if not keyword.iskeyword(name) else name + "_"


class _Plan:
    """The replayable program built from one trace, with its guards.

    Each line is kept with where it belongs: "both" (the arithmetic: the replay and the
    standalone source), "run" (Tensor bookkeeping only the replay does: reading `.data`,
    writing `.grad`, calling effects) or "src" (what only the source shows)."""

    def __init__(self, rec: _Recorder, args: tuple[Any, ...], result: Any,
                 fn: Callable[..., Any], grad_enabled: bool = True) -> None:
        self.ns: dict[str, Any] = {"_data": _data, "_fit": _fit, "_add": _engine._add,
                                   "_make": _make, "_np": np, "_asarray": np.asarray,
                                   "_array": np.array, "_ones": np.ones, "_MISS": _MISS,
                                   "_st": _state, "_Tensor": Tensor, "_ndarray": np.ndarray,
                                   "_commit": _engine._commit}
        self.lines: list[tuple[str, str]] = []
        self.used: set[str] = set(self.ns) | _RESERVED | set(dir(builtins))
        self.header: dict[str, str] = {}  # name -> the header line that defines it
        self.src_params: list[str] = []  # what the standalone function takes (arrays)
        self.slots: dict[int, str] = {}  # id(Tensor or array) -> variable holding its array
        self.keep: list[Any] = []  # objects whose ids are keys of slots (kept alive)
        self.leaf_guards: list[tuple[Tensor, tuple[int, ...], Any]] = []
        self.leaf_consts: dict[int, str] = {}  # id(leaf) -> the constant naming it
        self.group_guards: list[tuple[dict[str, Any], tuple[int, ...], bool]] = []
        self.counter = 0
        self.layer = 0
        self.last_layer_out: str | None = None
        self.modules = [(m, getattr(m, "training", None), _attr_ids(m))
                        for m in rec.modules.values()]
        self.module_names = _module_names(rec.modules.values())
        self.arg_arrays: list[tuple[str, np.ndarray]] = []
        self.commits: list[tuple[str, Tensor]] = []
        self.grad_state: dict[int, str | None] = {}  # id(leaf) -> .grad's array (None: unset)
        self.effects: list[Any] = []
        self.emits: dict[int, Emit] = {}  # id(node) -> its template context
        self.sizes: dict[str, int] = {}  # variable -> bytes of the array it held when traced
        self.outputs: dict[int, str] = {}  # id(node) -> its output's variable
        self.generic_nodes: dict[int, str] = {}  # id(node) -> the node an op call uses
        self.scope_shown: Any = None
        params = _param_names(fn, len(args))
        self.arg_tensors: dict[int, str] = {}  # id(Tensor argument) -> the run's parameter
        run_params = []
        for k, a in enumerate(args):
            if isinstance(a, (Tensor, np.ndarray)):
                name = self._fresh(params[k])
                params[k] = name
                self.src_params.append(name)
                if isinstance(a, Tensor):  # the Tensor passed in, for its .grad
                    self.arg_tensors[id(a)] = self._fresh(f"{name}_tensor")
                    self.lines.append((f"{name} = {self.arg_tensors[id(a)]}.data", "run"))
                self._bind(a, name)
                if isinstance(a, Tensor):
                    self._bind(a.data, name)
                self.arg_arrays.append((name, _data(a)))
            else:
                params[k] = self._fresh(params[k])
            run_params.append(self.arg_tensors.get(id(a), params[k]))
        for event in rec.events:
            kind = event[0]
            if kind == "op":
                self._op(event[1])
            elif kind == "effect":
                self._effect(*event[1:])
            else:
                self._backward(event)
        self.result_expr = self._result(result)
        name = getattr(fn, "__name__", "step")
        name = name if name.isidentifier() else "step"
        self._free_dead()
        guard = self._guard(args, run_params, grad_enabled)
        self.fast = guard is not None
        if guard is not None:  # the guards as one expression: ~40 ns a check
            self.lines.insert(0, ("if not (" + "\n        and ".join(guard) + "):\n"
                                  "    return _MISS", "run"))
        run_body = _indent(t for t, where in self.lines if where != "src")
        self.run_source = (f"def {name}_compiled({', '.join(run_params)}):\n{run_body}\n"
                           f"    return {self.result_expr}\n")
        code = builtins.compile(self.run_source, f"<mt.compile {name}>", "exec")  # our text
        exec(code, self.ns)  # noqa: S102 - runs the program written above, nothing else
        self.run_fn = self.ns[f"{name}_compiled"]
        self.source = self._standalone(name, result)

    # -- naming
    def _new(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _fresh(self, hint: str) -> str:
        """`hint`, or `hint_2`, `hint_3`... : a variable name not used yet."""
        name, k = hint, 1
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    def _helper(self, name: str, obj: Any, module: str) -> str:
        if self.ns.get(name) is obj:
            return name
        alias = self._fresh(name)
        self.ns[alias] = obj
        self.header[alias] = (f"from {module} import {name}" if alias == name
                              else f"from {module} import {name} as {alias}")
        return alias

    def _const_named(self, hint: str, value: Any, source: str) -> str:
        for k, v in self.ns.items():  # one binding per constant array
            if v is value and k in self.header:
                return k
        name = self._fresh(hint)
        self.ns[name] = value
        self.header[name] = f"{name} = {source}"
        return name

    def _const(self, value: Any, prefix: str = "c") -> str:
        name = self._fresh(self._new(prefix))
        self.ns[name] = value
        return name

    def _bind(self, obj: Any, name: str) -> None:
        self.slots[id(obj)] = name
        self.keep.append(obj)

    def _value(self, a: Any, data: Any = None) -> str:
        """The expression for argument `a` of an op, binding leaves and constants; `data` is
        the array a Tensor held when the op was called (an assignment may have changed it
        since)."""
        if isinstance(a, Tensor):
            held = a.data if data is None else data
            name = self.slots.get(id(held)) or self.slots.get(id(a))
            if name is not None:
                return name
            if a.grad_fn is not None:
                raise _Unsupported(f"a tensor made by {type(a.grad_fn).__name__} outside the "
                                   "step (or before it) is used inside it")
            match = self._input_copy(a.data)
            if match is not None:
                return match
            name = self._fresh(_identifier(a.name) if a.name else self._new("w"))
            leaf = self._const(a, f"t_{name}_")
            self.leaf_consts[id(a)] = leaf
            self.lines.append((f"{name} = {leaf}.data", "run"))
            self.src_params.append(name)
            self._bind(a, name)
            self._bind(a.data, name)
            self.leaf_guards.append((a, a.data.shape, a.data.dtype))
            return name
        if isinstance(a, np.ndarray):
            name = self.slots.get(id(a))
            if name is not None:
                return name
            match = self._input_copy(a)
            if match is not None:
                return match
            name = self._const(a)
            self.src_params.append(name)
            return name
        if a is None or isinstance(a, (bool, int, float, str)):
            return repr(a) if not isinstance(a, float) or np.isfinite(a) else f"float('{a}')"
        name = self._const(a)
        self.src_params.append(name)
        return name

    def _input_copy(self, arr: np.ndarray) -> str | None:
        """An array made from an input outside ops (a cast, a copy): replayed as that cast of
        the new input. Found by value, the only way there is: equal shape and values."""
        for name, src in self.arg_arrays:
            if (src.shape == arr.shape and src.dtype != arr.dtype
                    and np.array_equal(src.astype(arr.dtype), arr)):
                expr = self._fresh(f"{name}_{arr.dtype}")
                self.lines.append((f"{expr} = {name}.astype({str(arr.dtype)!r})", "both"))
                self._bind(arr, expr)
                return expr
            if src.shape == arr.shape and src.dtype == arr.dtype and arr is not src and (
                    np.array_equal(src, arr)):
                self._bind(arr, name)
                return name
        return None

    def _comment(self, node: Any, what: str = "") -> None:
        """A comment naming the module that made the op, once per block of its ops."""
        scope = getattr(node, "_scope", None) or ()
        owner = scope[-1] if scope else None
        key = (id(owner), what, type(node) if not self.module_names.get(id(owner)) else None)
        if owner is None or key == self.scope_shown:
            return
        self.scope_shown = key
        name = self.module_names.get(id(owner), "")
        label = (f"{name} ({type(owner).__name__})" if name  # an op of the outermost module:
                 else f"{type(owner).__name__}: {type(node).__name__}")  # name the op too
        # a module's name can be any string (a ModuleDict key): only printable ASCII goes
        # into the generated program, so no name can end the comment and become code
        text = "".join(c if " " <= c <= "~" else "?" for c in f"{what}{label}")
        self.lines.append((f"# {text}", "both"))

    def _out_name(self, cls: type[Function]) -> str:
        kind = cls.__name__
        if kind in _LAYER_OPS:
            self.layer += 1
            name = f"{_LAYER_OPS[kind]}{self.layer}"
            self.last_layer_out = name if name.startswith("z") else None
        elif kind in _LOSSES:
            name = "loss"
        elif kind in _ACTIVATIONS and self.last_layer_out is not None:
            name = f"h{self.layer}"
            self.last_layer_out = None
        else:
            name = self._new("v")
        return self._fresh(name)

    # -- ops
    def _op(self, call: _Call) -> None:
        args = [self._value(a, d) for a, d in zip(call.args, call.arg_data)]
        kw = {k: self._value(v) for k, v in call.kwargs.items()}
        node = call.node
        if node is None:  # an op that records nothing (no input needs grad): a fresh instance
            node = object.__new__(call.cls)
            node.saved = ()
            node.needs_input_grad = (False,) * len(call.args)
        else:
            self._comment(node)
        out = self._out_name(call.cls)
        self.outputs[id(node)] = out
        lines = None
        if hasattr(call.cls, "emit_forward"):
            e = Emit(self, node, [a.data if isinstance(a, Tensor) else a for a in call.args],
                     {k: v.data if isinstance(v, Tensor) else v for k, v in call.kwargs.items()},
                     args, kw, out, call.data)
            lines = node.emit_forward(e)
            if lines is not None:
                self.emits[id(node)] = e
        if lines is None:
            n = self._const(node, "n")
            self.src_params.append(n)
            self.keep.append(node)
            self.lines.append((f"{n}._raw_inputs = [{', '.join(args)}]", "run"))
            call_args = ", ".join(args + [f"{k}={v}" for k, v in kw.items()])
            self.lines += [(f"{out} = {n}.forward({call_args})", "both"),
                           (f"if type({out}) is not _np.ndarray: {out} = _asarray({out})", "run"),
                           (f"{out} = np.asarray({out})  # an op without a code template, "
                            "called as it is", "src")]
            self.generic_nodes[id(node)] = n
            lines = []
        self.lines.extend((t, "both") for t in lines)
        self._bind(call.out, out)
        self._bind(call.data, out)
        self.sizes[out] = call.data.nbytes

    # -- effects (an optimizer's step and zero_grad, a scheduler's step)
    def _effect(self, method: Callable[..., Any], eargs: tuple[Any, ...],
                ekwargs: dict[str, Any]) -> None:
        obj = eargs[0] if eargs else getattr(method, "__self__", None)
        self.effects.append(obj)
        if self._inline_effect(method, obj, eargs[1:], ekwargs):
            return
        e = self._const(functools.partial(method, *eargs, **ekwargs), "effect")
        label = f"{type(obj).__name__}.{getattr(method, '__name__', 'call')}"
        self.lines.append((f"# {label}() runs as it is (not written out)", "src"))
        self.lines.append((f"{e}()  # {label}", "run"))
        for t in self._group_params(obj):
            self.grad_state.pop(id(t), None)  # unknown after a call

    @staticmethod
    def _group_params(obj: Any) -> list[Any]:
        groups = getattr(obj, "param_groups", None)
        if not isinstance(groups, list):
            return []
        return [p for g in groups if isinstance(g, dict) for p in g.get("params", ())]

    def _inline_effect(self, method: Callable[..., Any], obj: Any, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> bool:
        """Write out an optimizer's zero_grad(set_to_none=True), and plain SGD's step (no
        momentum, no weight decay: `p.data -= lr * p.grad.data`, nn/optim/sgd.py
        `_update_group`), as the statements they run; anything else stays a call."""
        cls = type(obj)
        if not cls.__module__.startswith("nn.optim") or not isinstance(
                getattr(obj, "param_groups", None), list):
            return False
        what = getattr(method, "__qualname__", "")
        groups = obj.param_groups
        if what == "Optimizer.zero_grad":
            if not (args in ((), (True,)) and kwargs in ({}, {"set_to_none": True})):
                return False
            for g in groups:
                self.group_guards.append((g, tuple(map(id, g["params"])), False))
                for p in g["params"]:
                    t = self._const(p, "t_param")
                    self.lines.append((f"{t}.grad = None", "run"))
                    self.grad_state[id(p)] = None
            return True
        update = getattr(cls, "_update_group", None)
        if (what != "Optimizer.step" or args or kwargs or update is None
                or update.__qualname__ != "SGD._update_group"):
            return False
        for g in groups:
            if g.get("momentum") != 0 or g.get("weight_decay") != 0:
                return False
            if any(id(p) not in self.grad_state for p in g["params"]):
                return False  # a .grad the plan cannot name: the call reads it
        self.lines.append((f"# {cls.__name__}.step(): p -= lr * d_p", "both"))
        for g in groups:
            self.group_guards.append((g, tuple(map(id, g["params"])), True))
            group = self._const(g, "group")
            lr = self._fresh("lr")
            self.src_params.append(lr)
            self.lines.append((f"{lr} = {group}['lr']", "run"))
            for p in g["params"]:
                grad = self.grad_state[id(p)]
                if grad is None:
                    continue
                self.lines.append((f"{self._value(p)} -= {lr} * {grad}", "both"))
        return True

    # -- backward
    def _backward(self, event: tuple[Any, ...]) -> None:
        _, tensor, gradient, schedule, retain = event
        root = self._value(tensor)
        if gradient is None:
            seed = f"d_{root}"
            if (tensor.data.ndim == 0 and id(tensor.grad_fn) in self.emits
                    and type(tensor.grad_fn).__name__ in _LOSSES | {"Sum", "Mean"}):
                # these templates only read their incoming gradient: one read-only 1.0
                one = np.ones((), tensor.data.dtype)
                one.flags.writeable = False
                const = self._const_named(f"one_{tensor.data.dtype}", one,
                                          f"np.ones((), {str(tensor.data.dtype)!r})")
                self.lines.append((f"{seed} = {const}", "both"))
            else:
                self.lines.append((f"{seed} = _ones({root}.shape, {root}.dtype)", "run"))
                self.lines.append((f"{seed} = np.ones({root}.shape, {root}.dtype)", "src"))
            self.used.add(seed)
        else:
            seed = self._value(gradient)
        grads: dict[int, str] = {}  # id(node) -> variable of its summed gradient
        sink: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, variable, owned]
        events = schedule.events
        k = 0
        while k < len(events):
            node = None
            if events[k][0] == "node":
                node = events[k][1]
                k += 1
            edges = []
            while k < len(events) and events[k][0] == "edge":
                edges.append(events[k])
                k += 1
            if node is None:
                exprs: dict[int, str] = {ev[2]: seed for ev in edges}
                self._edges(edges, exprs, grads, sink, False)
            else:
                self._node_backward(node, edges, grads, sink, retain)
        # .grad, as backward() writes it (engine._commit)
        for leaf, var, is_owned in sink.values():
            # an argument's gradient goes to the Tensor passed in this time
            t = self.arg_tensors.get(id(leaf)) or self._const(leaf, "t_grad")
            self.commits.append((var, leaf))
            fresh = var if is_owned else f"_array({var})"
            state = self.grad_state.get(id(leaf), "?")
            if state is None:
                self.lines.append((f"{t}.grad = _make({fresh})", "run"))
                self.grad_state[id(leaf)] = var
                continue
            # .grad may hold an earlier gradient: the engine's own commit (its lock included)
            self.lines.append((f"_commit((({t}, {var}, {is_owned}),), False)", "run"))
            self.grad_state.pop(id(leaf), None)

    def _receiver(self, e: Any) -> str:
        """The gradient variable for the tensor that edge target `e` stands for."""
        if isinstance(e, Tensor):
            return f"d_{self._value(e)}"
        return f"d_{self.outputs.get(id(e), 'v')}"

    def _node_backward(self, node: Function, edges: list[tuple[Any, ...]],
                       grads: dict[int, str], sink: dict[int, list[Any]], retain: bool) -> None:
        g = grads.pop(id(node))
        self._comment(node, "backward of ")
        e = self.emits.get(id(node))
        exprs: dict[int, str] = {}
        if e is not None:
            targets: list[str | None] = [None] * len(node.needs_input_grad)
            for ev in edges:
                _, _, i, recv, returned, fitted = ev
                have = sink if isinstance(recv, Tensor) else grads
                name = self._receiver(recv)
                direct = id(recv) not in have and returned == fitted and name not in self.used
                targets[i] = name if direct else f"{name}_part"
                if direct:
                    self.used.add(name)
                else:
                    targets[i] = self._fresh(f"{name}_part")
            for i, need in enumerate(node.needs_input_grad):
                if need and targets[i] is None:
                    targets[i] = self._fresh("unused")
            for ev in edges:  # each input's gradient: the size the engine fitted it to
                kind, t = ev[5], targets[ev[2]]
                if t is not None and kind[2] is not None:
                    self.sizes[t] = int(np.prod(kind[1])) * np.dtype(kind[2]).itemsize
            e.grad, e.targets = g, targets
            lines, results = node.emit_backward(e)
            self.lines.extend((t, "both") for t in lines)
            exprs = {ev[2]: results[ev[2]] for ev in edges}
        else:
            n = self.generic_nodes.get(id(node))
            if n is None:
                raise _Unsupported(f"backward through {type(node).__name__}, an op made "
                                   "before the step")
            r = self._fresh("r")
            self.lines.append((f"{r} = {n}.backward({g})", "both"))
            self.lines.append((f"if type({r}) is not tuple: {r} = {r} if type({r}) is list "
                               f"else ({r},)", "both"))
            if not retain:
                self.lines.append((f"{n}.saved = None", "run"))
            exprs = {ev[2]: f"{r}[{ev[2]}]" for ev in edges}
        self._edges(edges, exprs, grads, sink, node._fresh_grads)

    def _edges(self, edges: list[tuple[Any, ...]], exprs: dict[int, str],
               grads: dict[int, str], sink: dict[int, list[Any]], owned: bool) -> None:
        for _, src, i, e, returned, fitted in edges:
            value = exprs[i]
            if returned != fitted or returned[0] is not np.ndarray:
                shape, dtype = (e.data.shape, e.data.dtype) if isinstance(e, Tensor) else (
                    e._shape, e._dtype)
                value = (f"{self._helper('fit_to', fit_to, 'microtensor.compiler')}"
                         f"({value}, {shape!r}, {str(dtype)!r})")
            zero_d = fitted[1] == ()
            if isinstance(e, Tensor):
                entry = sink.get(id(e))
                if entry is None:
                    var = self._receiver(e)
                    self.used.add(var)
                    if value != var:
                        self.lines.append((f"{var} = {value}", "both"))
                    sink[id(e)] = [e, var, owned and src is not None]
                else:
                    self.lines.append((_sum_line(entry[1], value, zero_d), "both"))
                    entry[2] = True
                continue
            var = grads.get(id(e))
            if var is None:
                var = self._receiver(e)
                self.used.add(var)
                grads[id(e)] = var
                if value != var:
                    self.lines.append((f"{var} = {value}", "both"))
            else:
                self.lines.append((_sum_line(var, value, zero_d), "both"))

    def _result(self, result: Any) -> str:
        if isinstance(result, Tensor):
            name = self.slots.get(id(result))
            if name is None:
                return self._const(result)
            return f"_make({name})"
        if isinstance(result, (tuple, list)):
            inner = ", ".join(self._result(r) for r in result)
            return f"({inner},)" if isinstance(result, tuple) else f"[{inner}]"
        if isinstance(result, dict):
            return "{" + ", ".join(f"{k!r}: {self._result(v)}" for k, v in result.items()) + "}"
        if result is None or isinstance(result, (bool, int, str)):
            return repr(result)
        raise _Unsupported(f"the step returns a {type(result).__name__} made outside ops "
                           "(return the Tensor and call .item() on it outside the step)")

    def _free_dead(self) -> None:
        """`del` each large array's variable after its last use, as eager backward frees a
        node's saved arrays once it ran: without it a replay would hold every activation
        and gradient of the step until it returns (peak memory, W4)."""
        big = {v for v, n in self.sizes.items() if n >= _FREE_BYTES}
        if not big:
            return
        words = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
        last: dict[str, int] = {}
        for k, (text, where) in enumerate(self.lines):
            if where != "src":
                for w in words.findall(text):
                    if w in big:
                        last[w] = k
        for w in words.findall(self.result_expr):
            last.pop(w, None)
        dead: dict[int, list[str]] = {}
        for w, k in last.items():
            dead.setdefault(k, []).append(w)
        for k in sorted(dead, reverse=True):
            self.lines.insert(k + 1, (f"del {', '.join(sorted(dead[k]))}", "run"))

    def _standalone(self, name: str, result: Any) -> str:
        """The program as a module of its own: imports, constants, and a function of arrays
        (the inputs, the parameters, each learning rate) that returns the result's arrays
        and the gradients."""
        imports: dict[str, list[str]] = {}
        consts = []
        for line in self.header.values():
            if line.startswith("from "):
                module, _, what = line[5:].partition(" import ")
                imports.setdefault(module, []).append(what)
            else:
                consts.append(line)
        head = ["import numpy as np"] + [f"from {m} import {', '.join(sorted(w))}"
                                         for m, w in sorted(imports.items())] + consts
        body = [t for t, where in self.lines if where != "run"]
        out = self.result_expr.replace("_make(", "(")
        grads = "".join(f"\n        {self._leaf_name(t)!r}: {v}," for v, t in self.commits)
        params = ", ".join(self.src_params)
        text = "\n".join(head) + f"\n\n\ndef {name}({params}):\n"
        text += _indent(body)
        return text + f"\n    return {out}, {{{grads}\n    }}\n"

    def _leaf_name(self, t: Tensor) -> str:
        return self.slots.get(id(t), "?")

    def _guard(self, args: tuple[Any, ...], params: list[str],
               grad_enabled: bool) -> list[str] | None:
        """`_signature` and `broken_guard` as conditions of the generated code (None when an
        argument is of a kind they do not cover: then the plan is found by its key alone)."""
        conds = [f"_st.grad_enabled is {bool(grad_enabled)}"]
        for a, p in zip(args, params):
            if isinstance(a, (Tensor, np.ndarray)):
                d = a.data if isinstance(a, Tensor) else a
                dt = self._const(d.dtype, "dt")
                arr = p
                if isinstance(a, Tensor):
                    conds.append(f"isinstance({p}, _Tensor) and {p}._requires_grad is "
                                 f"{a._requires_grad}")
                    arr = f"{p}.data"
                else:
                    conds.append(f"type({p}) is _ndarray")
                conds.append(f"{arr}.shape == {d.shape!r} and {arr}.dtype == {dt}")
            elif a is None or isinstance(a, (bool, str)):
                conds.append(f"{p} is {self._const(a, 'arg')}" if a is not None else
                             f"{p} is None")
            elif type(a) in (int, float) and not math.isnan(a):
                conds.append(f"type({p}) is {type(a).__name__} and {p} == {a!r}")
            else:
                return None
        for t, shape, dtype in self.leaf_guards:
            name = self.leaf_consts[id(t)]
            conds.append(f"{name}.data.shape == {shape!r} and "
                         f"{name}.data.dtype == {self._const(dtype, 'dt')}")
        for m, training, _ in self.modules:
            try:
                attrs = vars(m)
            except TypeError:
                continue
            d = self._const(attrs, "attrs")
            checks = [f"len({d}) == {len(attrs)}"]
            checks += [f"{d}[{k!r}] is {self._const(v, 'attr')}" for k, v in attrs.items()]
            if "training" not in attrs:
                checks.append(f"getattr({self._const(m, 'm')}, 'training', None) == "
                              f"{training!r}")
            conds.append(" and ".join(checks))
        for g, ids, plain in self.group_guards:
            name = self._const(g, "group")
            conds.append(f"tuple(map(id, {name}['params'])) == {ids!r}")
            if plain:
                conds.append(f"{name}.get('momentum', 0) == 0 and "
                             f"{name}.get('weight_decay', 0) == 0")
        return conds

    # -- running
    def guards_hold(self) -> bool:
        return self.broken_guard() is None

    def broken_guard(self) -> str | None:
        for t, shape, dtype in self.leaf_guards:
            d = t.data
            if d.shape != shape or d.dtype != dtype:
                return (f"a tensor the step reads changed from {shape} {dtype} to {d.shape} "
                        f"{d.dtype}")
        for m, training, ids in self.modules:
            if getattr(m, "training", None) != training:
                return f"{type(m).__name__} switched between train() and eval()"
            if _attr_ids(m) != ids:
                return f"an attribute of {type(m).__name__} was replaced"
        for g, ids, plain in self.group_guards:
            if tuple(map(id, g["params"])) != ids or plain and (
                    g.get("momentum", 0) != 0 or g.get("weight_decay", 0) != 0):
                return "an optimizer's parameter group or its momentum/weight decay changed"
        return None

    def run(self, args: tuple[Any, ...]) -> Any:
        return self.run_fn(*args)

    def tensors(self) -> list[Tensor]:
        """The tensors the step reads or writes the gradient of (not its inputs)."""
        seen: dict[int, Tensor] = {}
        for t, _, _ in self.leaf_guards:
            seen.setdefault(id(t), t)
        for _, t in self.commits:
            if id(t) not in self.arg_tensors:  # an argument is new on every call
                seen.setdefault(id(t), t)
        return list(seen.values())

    def effect_objects(self) -> list[Any]:
        """The objects whose methods are the step's effects (optimizers)."""
        objs: dict[int, Any] = {}
        for obj in self.effects:  # a marked method's first argument: its object
            if obj is not None and hasattr(obj, "__dict__"):
                objs.setdefault(id(obj), obj)
        return list(objs.values())


def _indent(lines: Any) -> str:
    return "\n".join("    " + part for t in lines for part in t.split("\n"))


def _sum_line(var: str, value: str, zero_d: bool) -> str:
    """`var = var + value` (engine._add: a 0-d sum goes through _add, which keeps an array)."""
    return f"{var} = _add({var}, {value})" if zero_d else f"{var} = {var} + {value}"


def _param_names(fn: Callable[..., Any], n: int) -> list[str]:
    """The names of fn's first n positional parameters (a0, a1, ... where unknown)."""
    names = [f"a{k}" for k in range(n)]
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return names
    pos = [p.name for p in sig.parameters.values()
           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for k, p in enumerate(pos[:n]):
        if p.isidentifier() and not keyword.iskeyword(p):
            names[k] = p
    return names


def _module_names(modules: Any) -> dict[int, str]:
    """id(module) -> its dotted path in the outermost module that holds it ("0", "fc1")."""
    names: dict[int, str] = {}
    for m in modules:
        walk = getattr(m, "named_modules", None)
        if walk is None or id(m) in names:
            continue
        for path, sub in walk():
            names.setdefault(id(sub), path)
    return names


def _attr_ids(m: Any) -> tuple[int, ...]:
    try:
        return tuple(map(id, vars(m).values()))
    except TypeError:
        return ()
