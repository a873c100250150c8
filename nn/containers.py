"""Containers: ModuleList and Sequential, whose children are named "0", "1", ..."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
        for i, m in enumerate(self.__dict__.get("_items", ())):
            yield str(i), m

    def _has_plain_container(self) -> bool:
        return False

    def _view(self, items: list[Module]) -> ModuleList:
        """A new container of the same type over `items`, without renaming them (they keep
        the dotted names of the tree they belong to)."""
        view = type(self).__new__(type(self))
        view.__dict__["_items"] = list(items)
        return view

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end; returns self."""
        return self.extend([module])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of `modules` at the end; returns self."""
        self._items.extend(_as_modules(modules, type(self).__name__))
        self._rename()
        return self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._view(self._items[index])
        return self._items[index]


class Sequential(ModuleList):
    """Modules applied in order: `Sequential(Linear(3, 4), Sigmoid(), Linear(4, 1))(x)`.

    Children are named "0", "1", ... so parameters read `"0.weight"`. Indexable (a slice is a
    new Sequential sharing the layers), `len`, iteration and `append` work like a list's.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

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
