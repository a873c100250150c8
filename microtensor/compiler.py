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

    __slots__ = ("cls", "args", "kwargs", "out")

    def __init__(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any],
                 out: Tensor) -> None:
        self.cls, self.args, self.kwargs, self.out = cls, args, kwargs, out


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
            try:  # the engine's own walk, observed, writing nothing
                _engine._run([start], [root], True, False, None, schedule)
            except _Unsupported as e:
                self.unsupported = str(e)
            self.events.append(("backward", tensor, gradient, schedule, bool(retain_graph)))
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
        self.traces = 0
        self.eager_reason: str | None = None  # why it runs eagerly, once it does
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @property
    def source(self) -> str:
        """The Python source of the latest plan (traced on the first call)."""
        if self._last is None:
            raise RuntimeError("compile: call the compiled function once before reading source")
        return self._last.source

    def __call__(self, *args: Any) -> Any:
        if self.eager_reason is not None:
            return self.fn(*args)
        key = _signature(args)
        plan = self._plans.get(key)
        if plan is not None and plan.guards_hold():
            if self.check:
                return self._checked(plan, args)
            return plan.run(args)
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
            plan = _Plan(rec, args, result, self.fn)
        except _Unsupported as e:
            self._go_eager(str(e))
            return result
        self._plans[key] = plan
        self._last = plan
        return result

    def _checked(self, plan: _Plan, args: tuple[Any, ...]) -> Any:
        """Run the plan, put back everything it may have changed (the tensors it reads and
        their gradients, the effects' objects, the random generator), run `fn` eagerly, and
        compare the results, the tensors and their gradients, exactly."""
        leaves = plan.tensors()
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


# ------------------------------------------------------------------------ the plan
def _data(a: Any) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _fit(g: Any, shape: tuple[int, ...], dtype: Any, n: Any, i: int) -> Any:
    return _engine._fit(g, shape, dtype, n, i)


class _Plan:
    """The replayable program built from one trace, with its guards."""

    def __init__(self, rec: _Recorder, args: tuple[Any, ...], result: Any,
                 fn: Callable[..., Any]) -> None:
        self.ns: dict[str, Any] = {"_data": _data, "_fit": _fit, "_add": _engine._add,
                                   "_make": _make, "_np": np, "_asarray": np.asarray,
                                   "_array": np.array, "_ones": np.ones}
        self.lines: list[str] = []
        self.slots: dict[int, str] = {}  # id(Tensor or array) -> variable holding its array
        self.keep: list[Any] = []  # objects whose ids are keys of slots (kept alive)
        self.leaves: list[Tensor] = []
        self.leaf_guards: list[tuple[Tensor, tuple[int, ...], Any]] = []
        self.counter = 0
        self.modules = [(m, getattr(m, "training", None), _attr_ids(m))
                        for m in rec.modules.values()]
        self.arg_arrays: list[tuple[str, np.ndarray]] = []
        self.commits: list[tuple[str, Tensor]] = []
        self.effects: list[Any] = []
        params = []
        for k, a in enumerate(args):
            params.append(f"a{k}")
            if isinstance(a, (Tensor, np.ndarray)):
                name = f"x{k}"
                self.lines.append(f"{name} = _data(a{k})")
                self._bind(a, name)
                if isinstance(a, Tensor):
                    self._bind(a.data, name)
                self.arg_arrays.append((name, _data(a)))
        node_names: dict[int, str] = {}
        for event in rec.events:
            kind = event[0]
            if kind == "op":
                self._op(event[1], node_names)
            elif kind == "effect":
                _, method, eargs, ekwargs = event
                e = self._const((method, eargs, ekwargs), "effect")
                self.effects.append(eargs[0] if eargs else getattr(method, '__self__', None))
                self.lines.append(f"{e}[0](*{e}[1], **{e}[2])")
            else:
                self._backward(event, node_names)
        self.result_expr = self._result(result)
        body = "\n".join("    " + line for line in self.lines)
        name = getattr(fn, "__name__", "step")
        name = name if name.isidentifier() else "step"
        self.source = (f"def {name}_compiled({', '.join(params)}):\n{body}\n"
                       f"    return {self.result_expr}\n")
        code = builtins.compile(self.source, f"<mt.compile {name}>", "exec")  # our own text
        exec(code, self.ns)  # noqa: S102 - runs the program written above, nothing else
        self.run_fn = self.ns[f"{name}_compiled"]

    # -- naming
    def _new(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _const(self, value: Any, prefix: str = "c") -> str:
        name = self._new(prefix)
        self.ns[name] = value
        return name

    def _bind(self, obj: Any, name: str) -> None:
        self.slots[id(obj)] = name
        self.keep.append(obj)

    def _value(self, a: Any) -> str:
        """The expression for argument `a` of an op, binding leaves and constants."""
        if isinstance(a, Tensor):
            name = self.slots.get(id(a)) or self.slots.get(id(a.data))
            if name is not None:
                return name
            if a.grad_fn is not None:
                raise _Unsupported(f"a tensor made by {type(a.grad_fn).__name__} outside the "
                                   "step (or before it) is used inside it")
            match = self._input_copy(a.data)
            if match is not None:
                return match
            leaf = self._const(a, "t")
            name = self._new("w")
            self.lines.append(f"{name} = {leaf}.data")
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
            return self._const(a)
        if a is None or isinstance(a, (bool, int, float, str)):
            return repr(a)
        return self._const(a)

    def _input_copy(self, arr: np.ndarray) -> str | None:
        """An array made from an input outside ops (a cast, a copy): replayed as that cast of
        the new input. Found by value, the only way there is: equal shape and values."""
        for name, src in self.arg_arrays:
            if (src.shape == arr.shape and src.dtype != arr.dtype
                    and np.array_equal(src.astype(arr.dtype), arr)):
                expr = self._new("cast")
                self.lines.append(f"{expr} = {name}.astype({self._const(arr.dtype, 'dt')})")
                self._bind(arr, expr)
                return expr
            if src.shape == arr.shape and src.dtype == arr.dtype and arr is not src and (
                    np.array_equal(src, arr)):
                self._bind(arr, name)
                return name
        return None

    # -- ops
    def _op(self, call: _Call, node_names: dict[int, str]) -> None:
        args = [self._value(a) for a in call.args]
        kwargs = ", ".join(f"{k}={self._value(v)}" for k, v in call.kwargs.items())
        node = call.out.grad_fn
        if node is None:  # an op that records nothing (no input needs grad): a fresh instance
            node = object.__new__(call.cls)
            node.saved = ()
            node.needs_input_grad = (False,) * len(call.args)
        n = self._const(node, "n")
        node_names[id(node)] = n
        self.keep.append(node)
        out = self._new("v")
        self.lines.append(f"{n}._raw_inputs = [{', '.join(args)}]")
        call_args = ", ".join(args + ([kwargs] if kwargs else []))
        self.lines.append(f"{out} = {n}.forward({call_args})")
        self.lines.append(f"if type({out}) is not _np.ndarray: {out} = _asarray({out})")
        self._bind(call.out, out)
        self._bind(call.out.data, out)

    # -- backward
    def _backward(self, event: tuple[Any, ...], node_names: dict[int, str]) -> None:
        _, tensor, gradient, schedule, retain = event
        root = self._value(tensor)
        if gradient is None:
            seed = f"_ones({root}.shape, {root}.dtype)"
        else:
            seed = self._value(gradient)
        grads: dict[int, str] = {}  # id(node) -> variable of its summed gradient
        sink: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, variable, owned]
        results = "r"
        owned = False
        current = None
        for ev in schedule.events:
            if ev[0] == "node":
                current = ev[1]
                n = node_names.get(id(current))
                if n is None:
                    raise _Unsupported(f"backward through {type(current).__name__}, an op made "
                                       "before the step")
                self.lines.append(f"{results} = {n}.backward({grads.pop(id(current))})")
                self.lines.append(f"if type({results}) is not tuple: {results} = {results} "
                                  f"if type({results}) is list else ({results},)")
                if not retain:
                    self.lines.append(f"{n}.saved = None")
                owned = current._fresh_grads
                continue
            _, src, i, e, returned, fitted = ev
            value = seed if src is None else f"{results}[{i}]"
            if returned != fitted or returned[0] is not np.ndarray:
                shape, dtype = (e.data.shape, e.data.dtype) if isinstance(e, Tensor) else (
                    e._shape, e._dtype)
                value = (f"_fit({value}, {shape!r}, {self._const(dtype, 'dt')}, "
                         f"{node_names.get(id(src), 'None')}, {i})")
            if isinstance(e, Tensor):
                entry = sink.get(id(e))
                if entry is None:
                    var = self._new("s")
                    self.lines.append(f"{var} = {value}")
                    sink[id(e)] = [e, var, owned and src is not None]
                else:
                    self.lines.append(f"{entry[1]} = _add({entry[1]}, {value})")
                    entry[2] = True
                continue
            var = grads.get(id(e))
            if var is None:
                var = self._new("g")
                grads[id(e)] = var
                self.lines.append(f"{var} = {value}")
            else:
                self.lines.append(f"{var} = _add({var}, {value})")
        # .grad, as backward() writes it (engine._commit)
        for leaf, var, is_owned in sink.values():
            t = self._const(leaf, "leaf")
            self.commits.append((var, leaf))
            fresh = var if is_owned else f"_array({var})"
            self.lines.append(f"if {t}.grad is None: {t}.grad = _make({fresh})")
            self.lines.append(f"else: {t}.grad = _make(_asarray({t}.grad.data + {var}))")

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
        return None

    def run(self, args: tuple[Any, ...]) -> Any:
        return self.run_fn(*args)

    def tensors(self) -> list[Tensor]:
        """The tensors the step reads or writes the gradient of (not its inputs)."""
        seen: dict[int, Tensor] = {}
        for t, _, _ in self.leaf_guards:
            seen.setdefault(id(t), t)
        for _, t in self.commits:
            seen.setdefault(id(t), t)
        return list(seen.values())

    def effect_objects(self) -> list[Any]:
        """The objects whose methods are the step's effects (optimizers)."""
        objs: dict[int, Any] = {}
        for obj in self.effects:  # a marked method's first argument: its object
            if obj is not None and hasattr(obj, "__dict__"):
                objs.setdefault(id(obj), obj)
        return list(objs.values())


def _attr_ids(m: Any) -> tuple[int, ...]:
    try:
        return tuple(map(id, vars(m).values()))
    except TypeError:
        return ()
