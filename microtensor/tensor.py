"""Tensor: a NumPy array that remembers how it was made.

Operators and methods only dispatch to the ops in `microtensor.ops`; `backward()` hands over to
the engine. dtype rule: Python numbers and lists become float64, arrays keep their dtype (a
float32 array stays float32 through every op), and only floating tensors may require grad.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_NUMERIC_KINDS = "biuf"


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert what a user passes to `Tensor(...)` into an ndarray, with a clear error."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    elif isinstance(data, (bool, int, float)):
        arr = np.asarray(data, dtype=np.float64)
    elif isinstance(data, (list, tuple)):
        try:
            arr = np.asarray(data, dtype=np.float64 if dtype is None else dtype)
        except (ValueError, TypeError) as e:
            raise TypeError(
                f"tensor: cannot make a numeric tensor from this {type(data).__name__} ({e})"
            ) from None
    else:
        raise TypeError(
            f"tensor: expected a number, a list or a numeric array, got {type(data).__name__}"
        )
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"tensor: unsupported dtype {arr.dtype} (microtensor holds bool, integer and float "
            "arrays; complex and object arrays are not supported)"
        )
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _make(data: np.ndarray, requires_grad: bool = False, grad_fn: Any = None) -> Tensor:
    """Fast internal constructor: `data` is already a valid ndarray."""
    t = object.__new__(Tensor)
    t.data = data
    t.grad = None
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t.name = None
    t._hooks = None
    return t


class RemovableHandle:
    """Returned by `register_hook`; `handle.remove()` unregisters the hook."""

    def __init__(self, hooks: list[Callable[..., Any]], fn: Callable[..., Any]) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    `Tensor(data, requires_grad=False, dtype=None, name=None)` wraps `data` (shared, not
    copied, when it is already an ndarray of the right dtype; `mt.tensor` always copies).
    Ops on tensors that require grad record a graph; `backward()` fills `.grad` of the leaves.
    """

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "name", "_hooks", "__weakref__")
    __array_priority__ = 1000

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self.name = name
        self._hooks: list[Callable[..., Any]] | None = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # ----------------------------------------------------------------- attributes
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor (set it only on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use detach() for a non-leaf"
            )
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require grad, this one is {self.data.dtype}"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that recorded a graph."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        """The tensor with its axes reversed (NumPy's `.T`)."""
        return _ops.transpose(self)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted, this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        """The values as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return _make(self.data)

    # ----------------------------------------------------------------- autograd
    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `gradient` is required unless this tensor has one element. The graph is freed unless
        `retain_graph` (default: `create_graph`); with `create_graph=True` the gradients are
        themselves differentiable.
        """
        _autograd.backward(self, gradient, retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self.grad_fn is not None:
            self.grad_fn._retain = weakref.ref(self)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `fn(grad)` when this tensor's gradient is computed; a non-None return replaces
        the gradient. Returns a handle whose `remove()` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        owner = self if self.grad_fn is None else self.grad_fn
        if owner._hooks is None:
            owner._hooks = []
        owner._hooks.append(fn)
        return RemovableHandle(owner._hooks, fn)

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops.remainder(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    # comparisons: untracked boolean tensors
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater_equal, self, other)

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- methods -> ops
    # Most op methods are the registered op functions themselves (`Tensor.exp is mt.exp`),
    # installed by `install_op_methods`; these have signatures of their own.
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape: a tuple or separate ints, one of them may be -1."""
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes (no axes: reverse them), like `np.transpose`."""
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def flatten(self) -> Tensor:
        """A 1-D copy of the values."""
        return _ops.reshape(self, -1)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        from .grad_mode import is_grad_enabled

        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(
                "setitem: in-place assignment to a tensor that requires grad would corrupt its "
                "gradient; build a new tensor (mt.where, mt.concatenate) or assign under "
                "mt.no_grad()"
            )
        self.data[index] = value.data if isinstance(value, Tensor) else value

    # ----------------------------------------------------------------- Python protocol
    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extras = []
        if self.data.dtype != np.float64:
            extras.append(f"dtype={self.data.dtype}")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- NumPy protocol
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from . import interop  # deferred: interop needs the finished ops package

        return interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        from . import interop

        return interop.array_function(func, args, kwargs)


from . import autograd as _autograd  # noqa: E402  (circular: ops and engine use Tensor)
from . import ops as _ops  # noqa: E402


def install_op_methods(registry: dict[str, Any]) -> None:
    """Make every registered op that asks for a method (ops/registry.py) a Tensor method: the
    op's function itself, so `t.exp()` is `exp(t)`. Called once, when every op is registered;
    a method name that Tensor already defines is an error (one definition per name)."""
    for entry in registry.values():
        if entry.method is None:
            continue
        current = Tensor.__dict__.get(entry.method)
        if current is not None and current is not entry.fn:
            raise RuntimeError(f"Tensor.{entry.method} is defined twice (tensor.py and the "
                               f"registered op {entry.name!r})")
        setattr(Tensor, entry.method, entry.fn)
