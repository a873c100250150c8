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

from .grad_mode import _state
from .grad_mode import is_grad_enabled as _grad_enabled
from .shapes import normalize_one_axis

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


def _value(x: Any, op: str) -> Any:
    """The operand of an in-place method as NumPy takes it (a Tensor's array, a number, an
    array, or a list made an array with NumPy's own dtype), or a TypeError naming `op`."""
    if x is None or isinstance(x, (bool, int, float, np.generic)):
        return x
    if isinstance(x, Tensor):
        return x.data
    arr = np.asarray(x) if isinstance(x, (np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{op}: expected a number, a Tensor or a numeric array, got "
                        f"{type(x).__name__}")
    return arr


def _is_dtype_name(name: str) -> bool:
    """Whether a string given to `to` names a dtype ("float32") rather than a device."""
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


class _Size(int):
    """A tensor's number of elements (NumPy's `t.size`) that PyTorch's `t.size()` can also
    call: `t.size()` is the shape, `t.size(dim)` one length."""

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[normalize_one_axis(dim, len(self.shape), "size")]


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
        """Number of elements, as NumPy's `a.size`; calling it is PyTorch's `size()`: `t.size()`
        is the shape and `t.size(dim)` the length of one axis."""
        n = _Size(self.data.size)
        n.shape = self.data.shape
        return n

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
        tracer = _state.tracer
        if tracer is not None:  # mt.compile is tracing a step: it records this backward
            tracer.backward(self, gradient, retain_graph, create_graph)
            return
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

    # logical and bitwise operators on bool and integer tensors (NumPy's &, |, ^, ~): untracked,
    # like comparisons, so `x[(x > 0) & ~mask]` reads as it does in NumPy and PyTorch
    def __and__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_and, self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_and, other, self)

    def __or__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_or, self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_or, other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_xor, self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _ops.compare(np.bitwise_xor, other, self)

    def __invert__(self) -> Tensor:
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"invert: ~ needs a bool or integer tensor, not {self.dtype}")
        return _make(np.invert(self.data))

    # ----------------------------------------------------------------- methods -> ops
    # Most op methods are the registered op functions themselves (`Tensor.exp is mt.exp`),
    # installed by `install_op_methods`; these have signatures of their own.
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape: a tuple or separate ints, one of them may be -1."""
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes (no axes: reverse them), like `np.transpose`."""
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """The values with axes `start_dim`..`end_dim` (inclusive) merged into one; by default
        all of them (a 1-D tensor; a 0-d tensor becomes shape (1,), as in PyTorch)."""
        ndim = max(self.data.ndim, 1)
        start = normalize_one_axis(start_dim, ndim, "flatten")
        end = normalize_one_axis(end_dim, ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                             f"for a tensor of shape {self.shape}")
        shape = self.data.shape or (1,)
        merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
        return _ops.reshape(self, shape[:start] + (merged,) + shape[end + 1:])

    def unflatten(self, dim: int, sizes: Any) -> Tensor:
        """Axis `dim` split into axes of `sizes` (their product is its length; one entry may be
        -1, inferred), as PyTorch's `unflatten`: the inverse of `flatten`."""
        axis = normalize_one_axis(dim, self.data.ndim, "unflatten")
        try:
            sizes = tuple(int(n) for n in sizes)
        except (TypeError, ValueError):
            raise TypeError(f"unflatten: sizes must be a sequence of integers, got "
                            f"{sizes!r}") from None
        n = self.data.shape[axis]
        known = int(np.prod([k for k in sizes if k != -1], dtype=np.int64))
        if not sizes or sizes.count(-1) > 1 or any(k < -1 for k in sizes) or (
                -1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
            raise ValueError(f"unflatten: sizes {sizes} do not split axis {dim} of length {n} "
                             f"(tensor of shape {self.shape})")
        if -1 in sizes:
            sizes = tuple(n // known if k == -1 else k for k in sizes)
        shape = self.data.shape
        return _ops.reshape(self, shape[:axis] + sizes + shape[axis + 1:])

    # ----------------------------------------------------------------- PyTorch's names
    # One existing op each, under the name a PyTorch user reaches for (not a second API).
    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for `reshape` (any layout is accepted; NumPy copies when it must)."""
        return self.reshape(*shape)

    def permute(self, *dims: Any) -> Tensor:
        """PyTorch's name for `transpose(axes)`: `t.permute(2, 0, 1)` or `t.permute((2, 0, 1))`."""
        return self.transpose(*dims)

    def unsqueeze(self, dim: int) -> Tensor:
        """PyTorch's name for `expand_dims`: a length-one axis inserted at `dim`."""
        return _ops.expand_dims(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        """PyTorch's `expand`: `broadcast_to` the shape `sizes`, where -1 keeps that axis's
        length (`x.expand(8, -1, -1)`); the gradient is summed back."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.data.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a tensor of shape {self.shape}")
        shape = tuple(self.data.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(sizes))
        return _ops.broadcast_to(self, shape)

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-d or 1-d tensor is returned unchanged), as PyTorch."""
        if self.data.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape "
                             f"{self.shape}; use transpose or permute")
        return _ops.transpose(self)

    def clone(self) -> Tensor:
        """A copy of the values that stays in the graph (the gradient flows through it)."""
        return _ops.astype(self, self.data.dtype)  # Cast always copies

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """PyTorch's name for `clip`: limit the values to [min, max]."""
        return _ops.clip(self, min, max)

    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        """self + alpha * other (PyTorch's `add`)."""
        return _ops.add(self, other if alpha == 1 else _ops.mul(other, alpha))

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        """self - alpha * other (PyTorch's `sub`)."""
        return _ops.sub(self, other if alpha == 1 else _ops.mul(other, alpha))

    def mul(self, other: Any) -> Tensor:
        """self * other."""
        return _ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        """self / other."""
        return _ops.div(self, other)

    def matmul(self, other: Any) -> Tensor:
        """self @ other."""
        return _ops.matmul(self, other)

    def pow(self, exponent: Any) -> Tensor:
        """self ** exponent."""
        return _ops.pow(self, exponent)

    def neg(self) -> Tensor:
        """-self."""
        return _ops.neg(self)

    def dim(self) -> int:
        """Number of dimensions (PyTorch's name for `ndim`)."""
        return self.data.ndim

    def numel(self) -> int:
        """Number of elements (PyTorch's name for `size`)."""
        return self.data.size

    def float(self) -> Tensor:
        """This tensor as float32 (itself when it already is); differentiable."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """This tensor as float64 (itself when it already is); differentiable."""
        return self.to(np.float64)

    def long(self) -> Tensor:
        """This tensor as int64 (itself when it already is), cut from the graph."""
        return self.to(np.int64)

    def bool(self) -> Tensor:
        """This tensor as a boolean tensor (itself when it already is)."""
        return self.to(np.bool_)

    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """PyTorch's `to`: `t.to(mt.float32)`, `t.to("cpu")`, `t.to(other)` (other's dtype),
        `t.to("cpu", mt.float64)`. Returns `self` when nothing changes (unless `copy`), else a
        cast that stays in the graph. The only device is "cpu": microtensor runs on NumPy."""
        for arg in args:
            if isinstance(arg, str) and not _is_dtype_name(arg):
                device = arg
            elif isinstance(arg, Tensor):
                dtype = arg.data.dtype
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"to: microtensor runs on NumPy, on the CPU only; there is no "
                               f"device {device!r} (use 'cpu')")
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.clone() if copy else self
        return _ops.astype(self, dtype)

    def cpu(self) -> Tensor:
        """This tensor itself: microtensor's tensors always live on the CPU."""
        return self

    # ----------------------------------------------------------------- in place
    # PyTorch's rule: in-place changes are for tensors outside autograd (x.grad.zero_(), a
    # buffer, an optimizer step under no_grad). A recorded graph may hold this array, so
    # changing a tensor that requires grad is refused rather than risking a wrong gradient.
    def _inplace(self, op: str) -> np.ndarray:
        """The array to write into, after refusing what PyTorch refuses."""
        if self._requires_grad:
            if self.grad_fn is not None:
                raise RuntimeError(
                    f"{op}: this tensor requires grad and was made by "
                    f"{type(self.grad_fn).__name__}; changing it in place would corrupt the "
                    "gradients of the ops that used it (use the out-of-place op)")
            if _grad_enabled():
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad cannot be changed in place while "
                    "grad mode is on; do it under `with mt.no_grad():` (as an optimizer step "
                    "does), or on x.detach()")
        if not self.data.flags.writeable:
            raise RuntimeError(f"{op}: this tensor's array (shape {self.shape}) is read-only "
                               "(a broadcast view or a read-only NumPy array); clone() it first")
        _versions.note_change(self.data)  # a graph that saved it refuses to use it (versions.py)
        return self.data

    def _ufunc_(self, op: str, ufunc: np.ufunc, other: Any) -> Tensor:
        """self = ufunc(self, other) in place: NumPy broadcasting of `other` to self's shape,
        self's dtype kept (a cast that loses kind, float into int, is refused)."""
        out = self._inplace(op)
        value = _value(other, op)
        try:
            ufunc(out, value, out=out, casting="same_kind")
        except TypeError:  # numpy's UFuncTypeError: the result's dtype cannot go into self's
            dt = np.result_type(out, value)
            raise RuntimeError(f"{op}: the result ({dt}) cannot be stored in this {out.dtype} "
                               "tensor in place") from None
        except ValueError:
            raise RuntimeError(f"{op}: an operand of shape {np.shape(value)} cannot be applied "
                               f"in place to a tensor of shape {self.shape}") from None
        return self

    def zero_(self) -> Tensor:
        """Set every value to 0 in place; returns self (`x.grad.zero_()`)."""
        self._inplace("zero_")[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        """Set every value to the number `value` in place; returns self."""
        self._inplace("fill_")[...] = _value(value, "fill_")
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """self += alpha * other in place (broadcast to self's shape); returns self."""
        return self._ufunc_("add_", np.add, other if alpha == 1 else _value(other, "add_") * alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """self -= alpha * other in place; returns self."""
        return self._ufunc_("sub_", np.subtract,
                            other if alpha == 1 else _value(other, "sub_") * alpha)

    def mul_(self, other: Any) -> Tensor:
        """self *= other in place; returns self."""
        return self._ufunc_("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        """self /= other in place (refused on an integer tensor, whose quotient is a float)."""
        return self._ufunc_("div_", np.true_divide, other)

    def copy_(self, src: Any) -> Tensor:
        """Copy `src`'s values into self in place (broadcast to self's shape, cast to self's
        dtype, as PyTorch's copy_); returns self."""
        out = self._inplace("copy_")
        value = _value(src, "copy_")
        try:
            np.copyto(out, value, casting="unsafe")
        except ValueError:
            raise RuntimeError(f"copy_: a source of shape {np.shape(value)} cannot be copied "
                               f"into a tensor of shape {self.shape}") from None
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit the values to [min, max] in place; returns self."""
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        out = self._inplace("clamp_")
        np.clip(out, _value(min, "clamp_"), _value(max, "clamp_"), out=out)
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """`t[index] = value`. Without a graph (nothing involved requires grad, or under
        no_grad) the write is in place, as in NumPy, and noted for the version check. With
        one, it is the op SetItem (microtensor/ops/setitem.py): the tensor takes a copy with
        the value written, and its history becomes SetItem(old history, value), so the
        overwritten positions get no gradient and `value` gets theirs. A leaf that requires
        grad cannot be assigned into (its gradient would no longer be that of its values)."""
        if _state.transforms and not all(getattr(t, "traces_only", False)
                                         for t in _state.transforms):
            raise NotImplementedError(
                "setitem: assignment inside mt.func.jvp / vmap is not supported (the tangent "
                "or the batch would not follow it); build the value with mt.where or "
                "mt.scatter instead"
            )
        tracked = _state.grad_enabled and (
            self._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
        if not tracked:
            _versions.note_change(self.data)
            self.data[index] = value.data if isinstance(value, Tensor) else value
            return
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "setitem: in-place assignment to a leaf tensor that requires grad would corrupt "
                "its gradient; assign into a copy (y = x.clone(); y[i] = v), build a new tensor "
                "(mt.where, mt.concatenate), or assign under mt.no_grad()"
            )
        from .ops.setitem import SetItem
        from .ops.shape import _clean_index

        new = SetItem.apply(self, value, index=_clean_index(index))
        self.data, self.grad_fn, self._requires_grad = new.data, new.grad_fn, new._requires_grad

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
from . import versions as _versions  # noqa: E402


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
