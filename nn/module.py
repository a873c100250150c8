"""Parameter and Module: the containers that turn ops into models.

A Module finds its parameters and sub-modules by looking at its attributes, in the order they
were first assigned, descending into plain lists, tuples and dicts. So `parameters()` is
deterministic, and every Parameter carries its dotted path (`"net.0.weight"`) in `.name`, which
pictures of the graph use as labels. `Module.__call__` runs `forward` inside `mt.scope(self)`,
so each op records the stack of modules that made it in `node._scope`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from microtensor import RemovableHandle, Tensor, compile_effect
from microtensor.grad_mode import current_scope, enter_scope, set_scope


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable: floating point, requires grad.

    `Parameter(data, requires_grad=True, dtype=None)` copies `data` (so two modules never share
    an array by accident); integer or boolean data becomes float64 unless `dtype` says otherwise.
    Its `name` is set to its dotted path when it is assigned to a Module.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        arr = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype, copy=True)
        if arr.dtype.kind != "f":
            if dtype is not None or arr.dtype.kind not in "biu":
                raise TypeError(f"Parameter: expected floating-point data, got {arr.dtype}")
            arr = arr.astype(np.float64)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _names_dtype(text: str) -> bool:
    """Whether a string given to `Module.to` names a dtype ("float32") rather than a device."""
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped: keys the module lacks or the dict lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


_INTERNAL = ("_name", "_forward_hooks", "_forward_pre_hooks", "_plain_containers", "training",
             "_buffers")


def _may_grow(value: Any) -> bool:
    """An empty list or dict attribute: modules may be appended to it later, unseen."""
    return isinstance(value, (list, dict)) and not value


def _is_member(value: Any) -> bool:
    """Whether an attribute value holds modules or parameters (directly or in a container)."""
    if isinstance(value, (Module, Parameter)):
        return True
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, (Module, Parameter)) for v in value)
    if isinstance(value, dict):
        return any(isinstance(v, (Module, Parameter)) for v in value.values())
    return False


def _as_buffer(owner: str, name: str, value: Any) -> Tensor | None:
    """A buffer's value as a Tensor that takes no gradient (an array or a number is wrapped,
    not copied, so the caller's array is the buffer), or None."""
    if value is None:
        return None
    if isinstance(value, Parameter):
        raise TypeError(f"{owner}: buffer {name!r} cannot be a Parameter (assign it as a "
                        "parameter instead)")
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        return Tensor(np.asarray(value))
    raise TypeError(f"{owner}: buffer {name!r} must be an array, a Tensor or None, got "
                    f"{type(value).__name__}")


class _Buffer(NamedTuple):
    """A persistent buffer met while walking a module's state (see `_state_members`)."""

    tensor: Tensor


def _state_members(module: Module) -> Iterator[tuple[str, Any]]:
    """A module's members for its state dict: in assignment order when it has no persistent
    buffers; else its parameters, its buffers (as `_Buffer`), then its sub-modules."""
    buffers = [(name, _Buffer(module.__dict__[name])) for name, keep in module._buffers.items()
               if keep and module.__dict__.get(name) is not None]
    if not buffers:
        yield from module._members()
        return
    members = list(module._members())
    yield from ((k, v) for k, v in members if isinstance(v, Parameter))
    yield from buffers
    yield from ((k, v) for k, v in members if not isinstance(v, Parameter))


class Module:
    """Base class of layers and models: subclass it, assign layers and Parameters as
    attributes in `__init__`, and write `forward`.

    Discovery needs no registration: attributes that are Modules or Parameters, or plain
    lists, tuples and dicts of them, are found in assignment order (`"fc1.weight"`,
    `"layers.0.bias"`). Calling `super().__init__()` is optional. `module(x)` runs the forward
    pre-hooks, `forward` (inside `mt.scope(self)`) and the forward hooks.
    """

    training: bool
    _name: str

    def __new__(cls, *args: Any, **kwargs: Any) -> Module:
        # State lives here rather than in __init__ so a subclass that forgets
        # super().__init__() still works.
        self = super().__new__(cls)
        d = self.__dict__
        d["training"] = True
        d["_name"] = ""
        d["_forward_hooks"] = []
        d["_forward_pre_hooks"] = []
        d["_plain_containers"] = False
        d["_buffers"] = {}  # buffer name -> persistent (the values are plain attributes)
        return self

    def __init__(self) -> None:
        pass

    # ------------------------------------------------------------------ registration
    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.__dict__.get("_buffers", ()):
            value = _as_buffer(type(self).__name__, key, value)
        object.__setattr__(self, key, value)
        if key not in _INTERNAL and (_is_member(value) or _may_grow(value)):
            self._rename()

    def __delattr__(self, key: str) -> None:
        member = _is_member(self.__dict__.get(key))
        object.__delattr__(self, key)
        self.__dict__["_buffers"].pop(key, None)
        if member:
            self._rename()

    def _members(self) -> Iterator[tuple[str, Module | Parameter]]:
        """(local name, value) for each module or parameter directly held, in order."""
        for key, value in self.__dict__.items():
            if key in _INTERNAL:
                continue
            if isinstance(value, (Module, Parameter)):
                yield key, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, (Module, Parameter)):
                        yield f"{key}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, (Module, Parameter)):
                        yield f"{key}.{k}", v

    def _rename(self) -> None:
        """Give every module below this one its dotted path (`_name`) and every parameter its
        `.name`, relative to the outermost module this one is attached to."""
        plain = False
        for path, m in self.named_modules(prefix=self._name, _refresh=False):
            m.__dict__["_name"] = path
            for key, value in m._members():
                if isinstance(value, Parameter):
                    value.name = f"{path}.{key}" if path else key
            plain = plain or m._has_plain_container()
        self.__dict__["_plain_containers"] = plain

    def _has_plain_container(self) -> bool:
        """Whether a plain list or dict attribute holds members or is empty: either may grow
        without this module seeing it, so names are refreshed on the outermost call."""
        return any(
            isinstance(v, (list, tuple, dict)) and (_is_member(v) or _may_grow(v))
            for k, v in self.__dict__.items() if k not in _INTERNAL
        )

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct sub-module, in assignment order."""
        seen: set[int] = set()
        for key, value in self._members():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield key, value

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in assignment order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "", _refresh: bool = True) -> Iterator[
            tuple[str, Module]]:
        """(dotted name, module) for this module (name `prefix`) and every module below it,
        depth first, each module once."""
        if _refresh and self._plain_containers:
            self._rename()
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            path, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield path, m
            kids = [(f"{path}.{k}" if path else k, c) for k, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every parameter, in assignment order, descending into
        each sub-module where it was assigned (so `fc1.*` comes before a later `scale`);
        a parameter or module shared in two places is listed once."""
        if self._plain_containers:
            self._rename()
        seen: set[int] = {id(self)}
        stack = [(prefix, self._members())]
        while stack:
            path, members = stack[-1]
            for key, value in members:
                if id(value) in seen:
                    continue
                seen.add(id(value))
                full = f"{path}.{key}" if path else key
                if isinstance(value, Parameter):
                    yield full, value
                else:
                    stack.append((full, value._members()))
                    break
            else:
                stack.pop()

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter once, in the order of `named_parameters()`."""
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar values in the parameters (only those requiring grad if asked)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    @property
    def full_name(self) -> str:
        """This module's dotted path from the outermost module it is attached to ("" for that
        one), e.g. `"net.0"`; pictures label a cluster `net.0: Linear`."""
        return self._name

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active) on this module and all below; returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (Dropout off); same as `train(False)`."""
        return self.train(False)

    @compile_effect  # mt.compile replays the call itself (it is not made of ops)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients: `.grad = None` (or zeros with `set_to_none=False`)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register `tensor` (an array, a Tensor or None) as the buffer `name`: state that is
        not learned (BatchNorm's running statistics), reachable as `self.<name>`, listed by
        `buffers()`, cast by `to()` when floating, and, when `persistent`, saved in
        `state_dict()` under its dotted name (`"0.running_mean"`), as PyTorch's."""
        owner = type(self).__name__
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{owner}.register_buffer: the name must be a non-empty string "
                           f"without '.', got {name!r}")
        if name in _INTERNAL or (hasattr(self, name) and name not in self._buffers):
            raise KeyError(f"{owner}.register_buffer: attribute {name!r} already exists")
        value = _as_buffer(f"{owner}.register_buffer", name, tensor)
        self._buffers[name] = bool(persistent)
        object.__setattr__(self, name, value)

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[
            tuple[str, Tensor]]:
        """(dotted name, buffer) for every buffer that is not None, module by module in the
        order of `named_modules()` (only this module's own with `recurse=False`)."""
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        seen: set[int] = set()
        for path, m in mods:
            for name in m._buffers:
                value = m.__dict__.get(name)
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{path}.{name}" if path else name), value

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer that is not None, in the order of `named_buffers()`."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """(key, Tensor) of the state dict: the parameters in `named_parameters()` order,
        except that a module holding persistent buffers lists its own parameters, then its
        buffers, then its sub-modules, as PyTorch does (`"1.weight", "1.bias",
        "1.running_mean"`)."""
        if self._plain_containers:
            self._rename()
        seen: set[int] = {id(self)}
        stack = [("", _state_members(self))]
        while stack:
            path, members = stack[-1]
            for key, value in members:
                full = f"{path}.{key}" if path else key
                if type(value) is _Buffer:
                    yield full, value.tensor
                    continue
                if id(value) in seen:
                    continue
                seen.add(id(value))
                if isinstance(value, Parameter):
                    yield full, value
                else:
                    stack.append((full, _state_members(value)))
                    break
            else:
                stack.pop()

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Cast every parameter (and its gradient) and every floating buffer to the floating
        `dtype` in place, keeping
        the same Parameter objects (an optimizer built before still holds them), as PyTorch's
        `module.to`: `m.to(mt.float32)`, `m.to("cpu")`, `m.to("cpu", np.float64)`. The only
        device is the CPU. Returns self."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and not _names_dtype(arg):
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"Module.to: microtensor runs on NumPy, on the CPU only; there is "
                               f"no device {device!r} (use 'cpu')")
        if dtype is None:
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Module.to: {dtype!r} is not a dtype") from None
        if dtype.kind != "f":
            raise TypeError(f"Module.to: parameters must stay floating point, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad.data = p.grad.data.astype(dtype, copy=False)
        for b in self.buffers():  # float buffers follow; counters stay integers, as PyTorch's
            if b.dtype.kind == "f":
                b.data = b.data.astype(dtype, copy=False)
        return self

    def float(self) -> Module:
        """Cast every parameter to float32 in place (`to(np.float32)`); returns self."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast every parameter to float64 in place (`to(np.float64)`); returns self."""
        return self.to(np.float64)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as the sub-module `name`, as `setattr(self, name, module)` does,
        for names made at run time (PyTorch's `add_module`)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"add_module: the name must be a non-empty string without '.', got "
                           f"{name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got "
                            f"{type(module).__name__}")
        if hasattr(self, name) and not isinstance(getattr(self, name), Module | None):
            raise KeyError(f"add_module: attribute {name!r} already exists and is not a module")
        setattr(self, name, module)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn(m)` on every sub-module and then on this one: each child's whole subtree
        first, in assignment order, then the parent, the order PyTorch's `apply` visits them
        (a module shared by two parents is visited once); returns self."""
        seen: set[int] = set()
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            m, expanded = stack.pop()
            if expanded:
                fn(m)
                continue
            if id(m) in seen:
                continue
            seen.add(id(m))
            stack.append((m, True))
            stack.extend((c, False) for c in reversed(list(m.children())))
        return self

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._plain_containers and not any(isinstance(s, Module) for s in current_scope()):
            self._rename()  # the outermost call: a plain list may have grown since assigned
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks):
                new = hook(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        # what `with mt.scope(self):` does, as two calls: this runs once per module per step
        outer = enter_scope(self)
        try:
            out = self.forward(*args, **kwargs)
        finally:
            set_scope(outer)
        if self._forward_hooks:
            for hook in list(self._forward_hooks):
                new = hook(self, args, out)
                if new is not None:
                    out = new
        return out

    def register_forward_hook(
        self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
    ) -> RemovableHandle:
        """Call `hook(module, inputs, output)` after each forward; a non-None result replaces
        the output. Returns a handle whose `remove()` unregisters it."""
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(
        self, hook: Callable[[Module, tuple[Any, ...]], Any]
    ) -> RemovableHandle:
        """Call `hook(module, inputs)` before each forward; a non-None result replaces the
        inputs. Returns a handle whose `remove()` unregisters it."""
        self._forward_pre_hooks.append(hook)
        return RemovableHandle(self._forward_pre_hooks, hook)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> a copy of each parameter's array, in `named_parameters()` order, with the
        persistent buffers (`"bn.running_mean"`, `"bn.num_batches_tracked"`) after the
        parameters of the module that holds them."""
        return {name: t.data.copy() for name, t in self._state_items()}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy arrays (or Tensors) from `state_dict` into the parameters and persistent
        buffers, in place.

        Everything is checked before anything is written, so a failure changes nothing.
        Strict: a missing, unexpected, mis-shaped or mis-typed key is one ValueError listing
        them all. Not strict: missing and unexpected keys are skipped (and returned), values
        are cast to the parameter's dtype, but a wrong shape is still an error.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of parameter name -> array (what "
                f"state_dict() or nn.load() return), got {type(state_dict).__name__}"
            )
        params = dict(self._state_items())
        values = {}
        problems = []
        for key, value in state_dict.items():
            if key not in params:
                continue
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            p = params[key]
            if arr.shape != p.shape:
                problems.append(f"  {key}: shape {arr.shape} in the dict, {p.shape} in the model")
            elif arr.dtype != p.dtype and (strict or arr.dtype.kind not in "biuf"):
                problems.append(f"  {key}: dtype {arr.dtype} in the dict, {p.dtype} in the model")
            values[key] = arr
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict:
            problems += [f"  missing key: {k}" for k in missing]
            problems += [f"  unexpected key: {k}" for k in unexpected]
        if problems:
            raise ValueError(
                f"load_state_dict: {type(self).__name__} cannot load this state dict "
                "(nothing was loaded):\n" + "\n".join(problems)
            )
        for key, arr in values.items():
            np.copyto(params[key].data, arr, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: Any, metadata: Mapping[str, str] | None = None) -> None:
        """Write the state dict to `path` in safetensors format (atomically); see `nn.save`."""
        from .io import save

        save(self, path, metadata=metadata)

    def load(self, path: Any, strict: bool = True) -> Module:
        """Load parameters saved by `save` from `path` (see `load_state_dict`); returns self."""
        from .io import load

        self.load_state_dict(load(path), strict=strict)
        return self

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's one-line repr (override it)."""
        return ""

    def _repr_body(self) -> str:
        kids = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for key, m in kids:
            body = m._repr_body().replace("\n", "\n  ")
            lines.append(f"  ({key}): {body}")
        return "\n".join(lines) + "\n)"

    def __repr__(self) -> str:
        n = self.num_parameters()
        return self._repr_body() + (f"  # {n:,} parameters" if n else "")


# DESIGN.md puts Sequential here; it lives in containers.py to keep this file short
from .containers import ModuleList, Sequential  # noqa: E402, F401
