"""Containers: ModuleList and Sequential (children named "0", "1", ..., or by the keys of an
OrderedDict given to Sequential), ModuleDict, ParameterList and ParameterDict."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from microtensor.grad_mode import current_scope, set_scope

from .module import Module, Parameter

_MODULE_CALL = Module.__call__


def _as_modules(items: Iterable[Any], where: str) -> list[Module]:
    mods = list(items)
    for i, m in enumerate(mods):
        if not isinstance(m, Module):
            raise TypeError(f"{where}: item {i} is a {type(m).__name__}, not a Module")
    return mods


class ModuleList(Module):
    """A list of modules, registered as children named "0", "1", ...: indexable, iterable,
    `append` and `extend` keep the dotted names up to date."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        self._items: list[Module] = []
        self.extend(modules)

    def _members(self) -> Iterator[tuple[str, Module | Parameter]]:
        names = self.__dict__.get("_names")
        for i, m in enumerate(self.__dict__.get("_items", ())):
            yield (names[i] if names else str(i)), m

    def _has_plain_container(self) -> bool:
        return False

    def _view(self, items: list[Module]) -> ModuleList:
        """A new container of the same type over `items`, without renaming them (they keep
        the dotted names of the tree they belong to)."""
        view = type(self).__new__(type(self))
        view.__dict__["_items"] = list(items)
        return view

    def _named_view(self, index: slice) -> ModuleList:
        """The view of `self[index]`, keeping the children's names when they have their own
        (a Sequential made from an OrderedDict)."""
        view = self._view(self._items[index])
        names = self.__dict__.get("_names")
        if names:
            view.__dict__["_names"] = names[index]
        return view

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        return self.extend([module])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of `modules` at the end; returns self."""
        mods = _as_modules(modules, type(self).__name__)
        names = self.__dict__.get("_names")
        if names:  # named children: the new ones are named by position, as PyTorch's
            taken = set(names)
            for i in range(len(mods)):
                name = str(len(self._items) + i)
                if name in taken:
                    raise KeyError(f"{type(self).__name__}.append: a child is already named "
                                   f"{name!r}")
                names.append(name)
        self._items.extend(mods)
        self._rename()
        return self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._named_view(index)
        return self._items[index]


class Sequential(ModuleList):
    """Modules applied in order: `Sequential(Linear(3, 4), Sigmoid(), Linear(4, 1))(x)`.

    Children are named "0", "1", ... so parameters read `"0.weight"`. Indexable (a slice is a
    new Sequential sharing the layers), `len`, iteration and `append` work like a list's.
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            named = list(modules[0].items())
            _check_names([k for k, _ in named], "Sequential")
            self.__dict__["_names"] = []
            super().__init__(m for _, m in named)
            self.__dict__["_names"] = [k for k, _ in named]
            self._rename()
            return
        super().__init__(modules)

    def __getattr__(self, name: str) -> Any:
        # only reached when ordinary lookup fails: a child of an OrderedDict by its key
        names = self.__dict__.get("_names")
        if names and name in names:
            return self.__dict__["_items"][names.index(name)]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def forward(self, x: Any) -> Any:
        """Feed `x` through each module in turn."""
        # what Module.__call__ does for a child without hooks (enter its scope, forward),
        # inlined: a stack of small layers spends as long in calls as in arithmetic. A child
        # with hooks, or whose class has its own __call__, is called the ordinary way.
        outer = current_scope()
        try:
            for m in self._items:
                if (m._forward_pre_hooks or m._forward_hooks
                        or type(m).__call__ is not _MODULE_CALL):
                    set_scope(outer)
                    x = m(x)
                else:
                    set_scope(outer + (m,))
                    x = m.forward(x)
        finally:
            set_scope(outer)
        return x


def _check_names(names: list[Any], where: str) -> None:
    """Keys that can be parts of a dotted name: non-empty strings without '.'."""
    for k in names:
        if not isinstance(k, str) or not k or "." in k:
            raise KeyError(f"{where}: keys must be non-empty strings without '.', got {k!r}")


class _Keyed(Module):
    """What ModuleDict and ParameterDict share: members kept in insertion order in `_dict`,
    registered under their keys, and the read side of the dict protocol. Each subclass says
    how `update` checks and converts what it is given."""

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
                 ) -> None:
        self._dict: dict[str, Any] = {}
        if items is not None:
            self.update(items)

    def update(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        raise NotImplementedError

    def _members(self) -> Iterator[tuple[str, Module | Parameter]]:
        yield from self.__dict__.get("_dict", {}).items()

    def _has_plain_container(self) -> bool:
        return False

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update([(key, value)])

    def __delitem__(self, key: str) -> None:
        del self._dict[key]
        self._rename()

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def keys(self) -> Any:
        """The keys, in insertion order."""
        return self._dict.keys()

    def values(self) -> Any:
        """The members, in insertion order."""
        return self._dict.values()

    def items(self) -> Any:
        """(key, member) pairs, in insertion order."""
        return self._dict.items()


class ModuleDict(_Keyed):
    """A dict of modules, registered as children named by their keys (`"encoder.weight"`),
    in insertion order: `d[key]`, `d[key] = m`, `del d[key]`, `len`, `in`, iteration over the
    keys, `keys()`, `values()`, `items()`, `update()`, `pop()` and `clear()`, as PyTorch's."""

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) the modules of a mapping or of (key, module) pairs, checked first
        so that a bad one adds nothing."""
        pairs = list(modules.items() if isinstance(modules, Mapping) else modules)
        _check_names([k for k, _ in pairs], "ModuleDict")
        _as_modules([m for _, m in pairs], "ModuleDict")
        self._dict.update(pairs)
        self._rename()

    def pop(self, key: str) -> Module:
        """Remove the module at `key` and return it."""
        m = self._dict.pop(key)
        self._rename()
        return m

    def clear(self) -> None:
        """Remove every module."""
        self._dict.clear()


def _as_parameter(value: Any) -> Parameter:
    """A Parameter as it is; an array or a Tensor becomes one (PyTorch's containers wrap)."""
    return value if isinstance(value, Parameter) else Parameter(value)


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ...: indexing, assignment, `append`,
    `extend`, `len` and iteration; arrays and Tensors given to it become Parameters."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        self._items: list[Parameter] = []
        if values is not None:
            self.extend(values)

    def _members(self) -> Iterator[tuple[str, Module | Parameter]]:
        for i, p in enumerate(self.__dict__.get("_items", ())):
            yield str(i), p

    def _has_plain_container(self) -> bool:
        return False

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end; returns self."""
        return self.extend([value])

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Add each of `values` at the end; returns self."""
        self._items.extend([_as_parameter(v) for v in values])
        self._rename()
        return self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._items)

    def __getitem__(self, index: int) -> Parameter:
        return self._items[index]

    def __setitem__(self, index: int, value: Any) -> None:
        self._items[index] = _as_parameter(value)
        self._rename()

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): {p.dtype}{list(p.shape)}" for i, p in enumerate(self._items))


class ParameterDict(_Keyed):
    """A dict of Parameters registered by key: `d[key]`, `d[key] = value`, `del`, `len`, `in`,
    iteration over the keys, `keys()`, `values()`, `items()` and `update()`."""

    def update(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add (or replace) parameters from a mapping or (key, value) pairs; all or nothing."""
        pairs = list(values.items() if isinstance(values, Mapping) else values)
        _check_names([k for k, _ in pairs], "ParameterDict")
        self._dict.update([(k, _as_parameter(v)) for k, v in pairs])
        self._rename()

    def extra_repr(self) -> str:
        return ", ".join(f"({k}): {p.dtype}{list(p.shape)}" for k, p in self._dict.items())


__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]
