"""The op registry: one declaration per op gives its function, its Tensor method, its export
and its NumPy dispatch entry.

    @register(method=True, numpy=np.log1p)
    def log1p(x: Any) -> Tensor:
        '''Elementwise log(1 + x).'''
        return Log1p.apply(tensor_arg(x, "log1p"))

`microtensor/__init__.py` exports every op registered with `export=True` (the default) as
`mt.<name>`, `tensor.py` installs the function itself as the method `Tensor.<name>` (so
`t.log1p()` is `log1p(t)`), and `interop.py` routes the NumPy ufuncs and functions given as
`numpy=` to it. The tests' op table must hold a row named after every registered op, and the
fuzzers draw their op lists from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["OpEntry", "REGISTRY", "register"]


@dataclass(frozen=True)
class OpEntry:
    """One registered op: `fn` is the function (`mt.<name>` when `export`), `method` the name
    of the Tensor method it also is (or None), `numpy` the NumPy ufuncs and functions that run
    it when called on a Tensor."""

    name: str
    fn: Callable[..., Any]
    method: str | None
    export: bool
    numpy: tuple[Any, ...]


REGISTRY: dict[str, OpEntry] = {}


def register(name: str | None = None, *, method: bool | str = False, export: bool = True,
             numpy: Any = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated op function under `name` (default: its own name).

    `method=True` makes it the Tensor method of the same name (a string: under that name),
    `export=False` keeps it out of `microtensor`'s namespace (the arithmetic behind the
    operators), and `numpy` is a NumPy ufunc or function (or a tuple of them) that, called on
    a Tensor, runs this op: a ufunc with the op's own arguments, a function through the
    adapter for NumPy's signature in interop.py where the two differ. Registering a name twice
    is an error."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        if key in REGISTRY:
            raise ValueError(f"register: an op named {key!r} is already registered")
        as_method = (key if method is True else method) or None
        routes = numpy if isinstance(numpy, tuple) else (numpy,)
        REGISTRY[key] = OpEntry(key, fn, as_method, export, routes)
        return fn

    return decorate
