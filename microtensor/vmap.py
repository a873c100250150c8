"""vmap: run a function written for one example on a whole batch at once (`mt.func.vmap`).

`vmap(f)(X)` equals stacking `f(X[i])` over `i`, computed by one call of each op on the whole
batch. Inside `f` every batched argument is a `BatchedTensor`: a Tensor whose `shape`, `ndim`
and `dtype` are the logical ones (one example's), so the op functions' argument checks and
axis normalisation read what `f`'s author sees, while the values live in a physical Tensor
with the batch axis first. The transform sits on `Function.apply`'s hook (function.py): each
op call that involves a batched tensor of this vmap reaches `_Vmap.process`, which finds the
op's batching rule (insert length-one axes after the batch axis, shift axis arguments by one),
runs the op once on the physical values and wraps the result. An op with no rule runs once per
example and the results are stacked, with a one-time warning naming it (correct, slow).

Because the physical values are ordinary Tensors run through ordinary ops, the graph is
recorded as usual: a gradient through a vmapped function equals the per-example loop's, and
vmap of vmap nests (each level's physical values are the next level out's batched tensors).
The `.data` of a batched tensor holds no values (an object with the logical shape and dtype
only): reading values directly (`.item()`, `bool(...)`, NumPy on `.data`) raises instead of
silently computing on the wrong thing, since such data-dependent code cannot be batched.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .function import Function
from .grad_mode import _state
from .ops import conv as _conv
from .ops import dropout as _dropout
from .ops import elementwise as _ew
from .ops import fused as _fused
from .ops import indexing as _indexing
from .ops import linalg as _linalg
from .ops import losses as _losses
from .ops import normalization as _normalization
from .ops import reduce as _reduce
from .ops import scan as _scan
from .ops import shape as _shape
from .shapes import normalize_axis, normalize_one_axis
from .tensor import Tensor

__all__ = ["BatchedTensor", "batched_leaf", "check_randomness", "grad", "vmap"]

_RANDOMNESS = ("error", "same", "different")


def _values_error(what: str) -> RuntimeError:
    return RuntimeError(
        f"vmap: {what} reads the values of a batched tensor directly, which vmap cannot batch; "
        "inside vmap compute with microtensor ops only (no .item(), bool(), .numpy() or NumPy "
        "calls on .data, no Python control flow on values), and do not use a batched tensor "
        "after its vmap has returned"
    )


_LIKE = (np.zeros_like, np.ones_like, np.full_like, np.empty_like)


class _Placeholder:
    """The `.data` of a batched tensor: the logical shape, ndim, size and dtype, and no values.
    Not an ndarray on purpose: NumPy turns an ndarray subclass into a plain array without
    asking it (np.asarray), which would hand code values that are not the example's. This
    object answers shape queries and refuses everything else (`__array__` included)."""

    __slots__ = ("shape", "ndim", "size", "dtype", "_owner", "__weakref__")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, owner: Any) -> None:
        self.shape, self.ndim, self.dtype = shape, len(shape), dtype
        self.size = math.prod(shape)
        self._owner = owner  # a weak reference to the BatchedTensor, for ops that unwrap .data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _values_error("converting .data to an array")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise _values_error(f"np.{ufunc.__name__}")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in (np.shape, np.ndim, np.size) and len(args) == 1 and not kwargs:
            return getattr(self, func.__name__)
        if func in _LIKE and args and args[0] is self:
            # values that depend only on the shape: the same for every example
            return func(np.broadcast_to(np.zeros((), self.dtype), self.shape), *args[1:],
                        **kwargs)
        raise _values_error(f"np.{func.__name__}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol probes (NumPy's __array_interface__): absent
            raise AttributeError(name)
        raise _values_error(f".data.{name}")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<values of a batched tensor of logical shape {self.shape}>"

    __hash__ = object.__hash__


def _refuse(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any) -> Any:
        raise _values_error(f"{name} on .data")

    method.__name__ = name
    return method


# operators and conversions on the values, each a clear error rather than a TypeError
for _name in ("__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ "
              "__floordiv__ __rfloordiv__ __mod__ __rmod__ __pow__ __rpow__ __matmul__ "
              "__rmatmul__ __neg__ __pos__ __abs__ __invert__ __and__ __rand__ __or__ __ror__ "
              "__xor__ __rxor__ __lt__ __le__ __gt__ __ge__ __eq__ __ne__ __bool__ __float__ "
              "__int__ __index__ __iter__ __getitem__ __setitem__ __contains__").split():
    setattr(_Placeholder, _name, _refuse(_name))
_Placeholder.__hash__ = object.__hash__  # type: ignore[method-assign]


_CMP = {np.equal: operator.eq, np.not_equal: operator.ne, np.less: operator.lt,
        np.less_equal: operator.le, np.greater: operator.gt, np.greater_equal: operator.ge,
        np.bitwise_and: operator.and_, np.bitwise_or: operator.or_,
        np.bitwise_xor: operator.xor}


class BatchedTensor(Tensor):
    """A batched value inside `vmap`: it reports one example's (logical) shape, ndim and dtype;
    the values of the whole batch are in a physical Tensor with the batch axis first, which
    only the vmap that made it reads. Users meet it only inside a vmapped function and use it
    as any Tensor, through ops."""

    __slots__ = ("_phys", "_level")

    def __repr__(self) -> str:
        return (f"BatchedTensor(logical shape {self.shape}, batch size {self._level.size}, "
                f"dtype {self.dtype})")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        raise _values_error("np.asarray")

    def numpy(self) -> np.ndarray:
        """Refused: a batched tensor's values cannot be read inside vmap."""
        raise _values_error("numpy()")

    def detach(self) -> Tensor:
        """The same batched values cut from the graph."""
        return _wrap(self._phys.detach(), self._level)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Refused: call backward on vmap's result, or use mt.func.grad inside vmap."""
        raise RuntimeError("vmap: backward() on a batched tensor inside vmap is not supported; "
                           "call it on the result that vmap returns")

    def __setitem__(self, index: Any, value: Any) -> None:
        raise RuntimeError("vmap: assignment into a batched tensor is not supported inside "
                           "vmap; build a new tensor (mt.where, mt.concatenate)")

    def __invert__(self) -> Tensor:
        return _Vmap.pointwise(lambda a: ~a, self)

    def _compare(self, ufunc: np.ufunc, other: Any, reflected: bool = False) -> Tensor:
        op = _CMP[ufunc]
        return _Vmap.pointwise(op, other, self) if reflected else _Vmap.pointwise(op, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    __hash__ = object.__hash__

    def __and__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_and, other)

    def __rand__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_and, other, True)

    def __or__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_or, other)

    def __ror__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_or, other, True)

    def __xor__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_xor, other)

    def __rxor__(self, other: Any) -> Tensor:
        return self._compare(np.bitwise_xor, other, True)


def _wrap(phys: Tensor, level: _Vmap) -> BatchedTensor:
    """A BatchedTensor of `level` over the physical Tensor `phys` (batch axis first)."""
    t = object.__new__(BatchedTensor)
    t._phys, t._level = phys, level
    holder = _Placeholder(tuple(phys.shape[1:]), phys.dtype, weakref.ref(t))
    t.data = holder
    t.grad = None
    t._requires_grad = phys.requires_grad
    t.grad_fn = None
    t.name = None
    t._hooks = None
    return t


def _reshape(t: Any, shape: tuple[int, ...]) -> Any:
    return t if tuple(t.shape) == tuple(shape) else _shape.Reshape.apply(t, shape=tuple(shape))


def _pad(p: Tensor, rank: int) -> Tensor:
    """Physical `p` (batch first) with length-one axes after the batch axis, so that its
    logical rank is `rank` and NumPy broadcasting aligns it as the logical value would be."""
    lrank = p.ndim - 1
    if lrank >= rank:
        return p
    return _reshape(p, (p.shape[0],) + (1,) * (rank - lrank) + tuple(p.shape[1:]))


def _expand(t: Any, size: int) -> Tensor:
    """An unbatched value repeated along a new leading batch axis of length `size`."""
    t = t if isinstance(t, Tensor) else Tensor(np.asarray(t))
    shape = tuple(t.shape)
    return _shape.BroadcastTo.apply(_reshape(t, (1,) + shape), shape=(size,) + shape)


class _Vmap:
    """One level of vmap: the batch size and the batching of every op call made inside it."""

    def __init__(self, size: int, randomness: str, depth: int) -> None:
        self.size, self.randomness, self.depth = size, randomness, depth

    # ------------------------------------------------------------------ the hook
    def process(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the op call `cls.apply(*args, **kwargs)` for the whole batch (function.py's
        transform hook): by its batching rule when it has one and the call fits it, else once
        per example. Calls that hold no batched value of this level pass through unchanged."""
        if cls in _RANDOM_OPS:
            return self.random(cls, args, kwargs)
        if not any(self.own(a) is not None for a in args) and not _holds(self, kwargs):
            return cls.apply(*args, **kwargs)
        return _wrap(self.physical(cls, args, kwargs), self)

    def physical(self, cls: type[Function], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Tensor:
        """The op's physical result (batch axis first)."""
        if not _holds(self, kwargs):
            rule = _rule(cls)
            if rule is not None:
                out = rule(self, cls, args, kwargs)
                if out is not NotImplemented:
                    return out
        return self.loop(cls, args, kwargs)

    def random(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A random op (dropout: its mask is drawn inside the op, `mask_shape` broadcasting
        to x): refused under randomness="error"; "same" draws one mask of the example's shape
        for every example; "different" draws one per example, unbatched inputs included."""
        if self.randomness == "error":
            raise RuntimeError(_random_error(cls.__name__))
        x, rest = args[0], args[1:]
        shape = kwargs.get("mask_shape")
        shape = tuple(x.shape) if shape is None else tuple(shape)
        if self.randomness == "same":
            p = self.own(x)
            if p is None:
                return cls.apply(*args, **kwargs)
        else:
            p = self.lift(x)
            shape = (self.size,) + (1,) * (x.ndim - len(shape)) + shape
        return _wrap(cls.apply(p, *rest, **dict(kwargs, mask_shape=shape)), self)

    def own(self, a: Any) -> Tensor | None:
        """The physical value behind `a` when it is batched at this level (a BatchedTensor, or
        the `.data` of one that an op function unwrapped), else None."""
        if type(a) is BatchedTensor:
            return a._phys if a._level is self else None
        if type(a) is _Placeholder and a._owner is not None:
            t = a._owner()
            if t is not None and t._level is self:
                return t._phys
        return None

    # ------------------------------------------------------------------ the fallback
    def loop(self, cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
        """Run the op once per example and stack the results (for ops without a rule)."""
        if cls not in _WARNED:
            _WARNED.add(cls)
            warnings.warn(
                f"vmap: there is no batching rule for {cls.__name__}, so it runs once per "
                "example (correct, but slow)", RuntimeWarning, stacklevel=4)
        outs = [cls.apply(*self._example(args, i), **self._example(kwargs, i))
                for i in range(self.size)]
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) > 1:
            raise ValueError(f"vmap: {cls.__name__} gives results of different shapes for "
                             f"different examples ({', '.join(map(str, sorted(shapes)))}); "
                             "a vmapped function must give every example the same shape")
        return _shape.Stack.apply(*outs, axis=0)

    def _example(self, value: Any, i: int) -> Any:
        """`value` with everything batched at this level replaced by its example `i`."""
        if isinstance(value, tuple):
            return tuple(self._example(v, i) for v in value)
        if isinstance(value, list):
            return [self._example(v, i) for v in value]
        if isinstance(value, dict):
            return {k: self._example(v, i) for k, v in value.items()}
        p = self.own(value)
        if p is None:
            return value
        one = _shape.GetItem.apply(p, index=i)
        return one.data if type(value) is _Placeholder else one

    # ------------------------------------------------------------------ shared helpers
    def lift(self, a: Any) -> Tensor:
        """The physical value of `a` at this level, unbatched values repeated over the batch."""
        p = self.own(a)
        return p if p is not None else _expand(a, self.size)

    @staticmethod
    def pointwise(fn: Callable[..., Any], *values: Any) -> Tensor:
        """`fn(*values)` for a pointwise Python operator (comparisons, ~) on values of which
        some are batched: the innermost of their levels runs `fn` on the physical values."""
        levels = [v._level for v in values if type(v) is BatchedTensor]
        level = max(levels, key=lambda lv: lv.depth)
        rank = max(v.ndim if isinstance(v, (Tensor, np.ndarray)) else 0 for v in values)
        phys = [level.own(v) for v in values]
        out = fn(*(v if p is None else _pad(p, rank) for v, p in zip(values, phys)))
        return _wrap(out, level)


_WARNED: set[type] = set()
_RANDOM_OPS = {_dropout.Dropout}


def _holds(level: _Vmap, value: Any) -> bool:
    """Whether a keyword argument (an index, possibly nested) holds a batched value of `level`."""
    if isinstance(value, (tuple, list)):
        return any(_holds(level, v) for v in value)
    if isinstance(value, dict):
        return any(_holds(level, v) for v in value.values())
    return level.own(value) is not None


# ---------------------------------------------------------------------- batching rules
# Each takes (level, op class, args, kwargs) and returns the physical result, or
# NotImplemented when this call is outside what it handles (the per-example loop runs then).
def _elementwise(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
    """Pointwise ops with NumPy broadcasting: batched operands get length-one axes after the
    batch axis up to the highest logical rank, so unbatched ones align from the right."""
    rank = max((a.ndim for a in args if isinstance(a, (Tensor, np.ndarray))), default=0)
    new = []
    for a in args:
        p = level.own(a)
        new.append(a if p is None else _pad(p, rank))
    return cls.apply(*new, **kwargs)


def _one_input(level: _Vmap, args: tuple[Any, ...]) -> Tensor | None:
    p = level.own(args[0]) if len(args) == 1 else None
    return p


def _reduction(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
    """Reductions over `axis` (None: every logical axis): the logical axes, shifted by one."""
    p = _one_input(level, args)
    if p is None:
        return NotImplemented
    axes = normalize_axis(kwargs.get("axis"), p.ndim - 1, cls.__name__.lower())
    return cls.apply(p, **dict(kwargs, axis=tuple(a + 1 for a in axes)))


def _axes(*names: str) -> Callable[..., Any]:
    """The rule of an op whose keyword arguments `names` are axes (an int or a tuple of ints;
    softmax, scans, sort, flip, roll, diagonal, unfold): each shifted by one, after the batch
    axis. An axis left out or None (flatten) is the per-example loop's."""

    def rule(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
        p = _one_input(level, args)
        if p is None or p.ndim == 1:  # a 0-d example: the op's own rule for 0-d
            return NotImplemented
        lrank, op, new = p.ndim - 1, cls.__name__.lower(), dict(kwargs)
        for name in names:
            v = kwargs.get(name)
            if v is None:
                return NotImplemented
            if isinstance(v, (tuple, list)):
                new[name] = tuple(normalize_one_axis(a, lrank, op) + 1 for a in v)
            else:
                new[name] = normalize_one_axis(v, lrank, op) + 1
        return cls.apply(p, **new)

    return rule


def _last_two(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    """tril and triu act on the last two axes, which the batch axis never is."""
    p = _one_input(level, args)
    return NotImplemented if p is None or p.ndim < 3 else cls.apply(p, **kwargs)


def _pad_rule(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    p = _one_input(level, args)
    width = kwargs.get("pad_width")
    if p is None or not isinstance(width, tuple) or len(width) != p.ndim - 1 or p.ndim == 1:
        return NotImplemented
    return cls.apply(p, **dict(kwargs, pad_width=((0, 0),) + width))


def _einsum(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
    """Explicit subscripts ("ij,jk->ik"): a letter of its own for the batch axis, on the
    batched operands and first in the output."""
    subscripts = kwargs.get("subscripts", "")
    spare = [c for c in _LETTERS if c not in subscripts]
    if "->" not in subscripts or "." in subscripts or not spare or len(kwargs) != 1:
        return NotImplemented
    lhs, out = subscripts.split("->")
    terms, ops = lhs.split(","), []
    for i, a in enumerate(args):
        p = level.own(a)
        if p is not None:
            terms[i] = spare[0] + terms[i]
        ops.append(a if p is None else p)
    return cls.apply(*ops, subscripts=",".join(terms) + "->" + spare[0] + out)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _normalize(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
    """Batch, layer and group normalization's core, over `axes` of one example with shared
    weight and bias (broadcasting from the right): the axes shifted by one. Running statistics
    (`stats`) are the per-example loop's: their shapes are the caller's."""
    p = level.own(args[0])
    if (p is None or kwargs.get("stats") is not None
            or any(level.own(a) is not None for a in args[1:])):
        return NotImplemented
    axes = tuple(normalize_one_axis(a, p.ndim - 1, "normalize") + 1
                 for a in kwargs.get("axes", ()))
    return cls.apply(p, *args[1:], **dict(kwargs, axes=axes))


def _fold(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    """Ops whose first operand has a leading axis of examples of its own (convolution and
    pooling on (N, C, H, W)), the others shared: vmap's batch axis folded into that axis."""
    p = level.own(args[0])
    if p is None or p.ndim < 3 or any(level.own(a) is not None for a in args[1:]):
        return NotImplemented
    size, n = p.shape[0], p.shape[1]
    out = cls.apply(_reshape(p, (size * n,) + tuple(p.shape[2:])), *args[1:], **kwargs)
    return _reshape(out, (size, n) + tuple(out.shape[1:]))


def _matmul(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
    """np.matmul's rules per example: a batched 1-D operand becomes a one-row (x) or
    one-column (y) matrix, batched operands get length-one axes up to the larger logical rank
    (so the batch axis stays first), and the added row or column is dropped afterwards."""
    x, y = args
    px, py = level.own(x), level.own(y)
    _linalg._check_matmul(x.shape, y.shape)  # the op's own error, with the logical shapes
    drop_row = px is not None and x.ndim == 1
    drop_col = py is not None and y.ndim == 1
    if drop_row:
        px = _reshape(px, (px.shape[0], 1, px.shape[1]))
    if drop_col:
        py = _reshape(py, (py.shape[0], py.shape[1], 1))
    rank = max(x.ndim, y.ndim, 2)
    out = cls.apply(x if px is None else _pad(px, rank), y if py is None else _pad(py, rank))
    shape = tuple(out.shape)
    if drop_row and drop_col:
        out = _reshape(out, shape[:-2])
    elif drop_row:  # an unbatched 1-D y already took the last axis away
        out = _reshape(out, shape[:-1] if y.ndim == 1 else shape[:-2] + shape[-1:])
    elif drop_col:
        out = _reshape(out, shape[:-1])
    return out


_LINEAR_ACT = {_fused.Linear: None, _fused.LinearSigmoid: _ew.Sigmoid,
               _fused.LinearTanh: _ew.Tanh, _fused.LinearReLU: _ew.Relu}


def _linear(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
    """The fused layer: one call when only x is batched (its leading axes are batch axes);
    with batched weights (per-example parameters), matmul, add and the activation's rules."""
    if all(level.own(a) is None for a in args[1:]):
        return cls.apply(level.own(args[0]), *args[1:], **kwargs)
    if cls not in _LINEAR_ACT:
        return NotImplemented
    out = _wrap(level.physical(_linalg.MatMul, args[:2], {}), level)
    if len(args) > 2 and args[2] is not None:
        out = _wrap(level.physical(_ew.Add, (out, args[2]), {}), level)
    act = _LINEAR_ACT[cls]
    return out._phys if act is None else level.physical(act, (out,), {})


def _reshape_rule(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
    p = _one_input(level, args)
    if p is None:
        return NotImplemented
    return cls.apply(p, shape=(p.shape[0],) + tuple(kwargs.get("shape", ())))


def _transpose(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
    p = _one_input(level, args)
    if p is None:
        return NotImplemented
    lrank = p.ndim - 1
    axes = kwargs.get("axes")
    if axes is None:
        axes = tuple(range(lrank))[::-1]
    if sorted(a % lrank if lrank else a for a in axes) != list(range(lrank)) or any(
            not -lrank <= a < lrank for a in axes):
        raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the {lrank} "
                         f"axes of a tensor of shape {args[0].shape}")
    return cls.apply(p, axes=(0,) + tuple(a % lrank + 1 for a in axes))


def _broadcast_to(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Any:
    p = _one_input(level, args)
    if p is None:
        return NotImplemented
    shape = tuple(kwargs.get("shape", ()))
    if p.ndim - 1 > len(shape):
        raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {args[0].shape} "
                         f"to shape {shape}")
    return cls.apply(_pad(p, len(shape)), shape=(p.shape[0],) + shape)


def _getitem(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
    """Basic indexing, and advanced indices that sit next to each other (NumPy then keeps
    their axes in place, so a leading full slice for the batch axis changes nothing else)."""
    p = _one_input(level, args)
    if p is None:
        return NotImplemented
    index = kwargs.get("index")
    items = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, it in enumerate(items)
                if isinstance(it, (np.ndarray, bool, np.bool_))]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return NotImplemented
    return cls.apply(p, index=(slice(None),) + items)


def _join(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    """concatenate and stack: unbatched parts repeated over the batch, the axis shifted."""
    if not args or "axis" not in kwargs:
        return NotImplemented
    lrank = args[0].ndim + (cls is _shape.Stack)
    if lrank == 0:
        return NotImplemented  # the op's own error, from the per-example call
    ax = normalize_one_axis(kwargs["axis"], lrank, cls.__name__.lower())
    return cls.apply(*(level.lift(a) for a in args), axis=ax + 1)


_LOSS_DEFAULT = {_losses.SquaredError: "mean", _losses.BinaryCrossEntropy: "none",
                 _losses.SoftmaxCrossEntropy: "mean"}


def _loss(level: _Vmap, cls: type[Function], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    """The fused losses: the unreduced loss by the pointwise rule (class labels, the same for
    every example, repeated over the batch), then the example's own sum or mean."""
    reduction = kwargs.get("reduction", _LOSS_DEFAULT[cls])
    rest = {k: v for k, v in kwargs.items() if k != "reduction"}
    if cls is _losses.SoftmaxCrossEntropy:
        p, labels = _one_input(level, args), rest.get("labels")
        if p is None or set(rest) != {"labels"} or not isinstance(labels, np.ndarray):
            return NotImplemented
        labels = np.broadcast_to(labels, (level.size,) + labels.shape)
        out = cls.apply(p, labels=labels, reduction="none")
    elif rest:
        return NotImplemented
    else:
        out = _elementwise(level, cls, args, {"reduction": "none"})
    if reduction == "none":
        return out
    axes = tuple(range(1, out.ndim))
    return (_reduce.Sum if reduction == "sum" else _reduce.Mean).apply(out, axis=axes)


_RULES: dict[type, Callable[..., Any]] = {
    _losses.SquaredError: _loss,
    _losses.BinaryCrossEntropy: _loss,
    _losses.SoftmaxCrossEntropy: _loss,
    _losses.Softplus: _elementwise,
    _linalg.MatMul: _matmul,
    _shape.Reshape: _reshape_rule,
    _shape.Transpose: _transpose,
    _shape.BroadcastTo: _broadcast_to,
    _shape.GetItem: _getitem,
    _shape.Concatenate: _join,
    _shape.Stack: _join,
    _reduce.Softmax: _axes("axis"),
    _reduce.LogSoftmax: _axes("axis"),
    _scan.CumSum: _axes("axis"),
    _scan.CumProd: _axes("axis"),
    _scan.LogCumSumExp: _axes("axis"),
    _scan.Sort: _axes("axis"),
    _indexing.Flip: _axes("axes"),
    _indexing.Roll: _axes("axis"),
    _indexing.Diagonal: _axes("axis1", "axis2"),
    _indexing.Unfold: _axes("axis"),
    _indexing.RepeatInterleave: _axes("axis"),
    _indexing._Triangle: _last_two,
    _indexing.Pad: _pad_rule,
    _indexing.Einsum: _einsum,
    _conv.Conv: _fold,
    _conv.ConvTranspose: _fold,
    _conv.MaxPool: _fold,
    _normalization.Normalize: _normalize,
    _scan.Var: _reduction,
    _scan.Prod: _reduction,
    _scan.VectorNorm: _reduction,
    _reduce._Reduction: _reduction,
    _fused.Linear: _linear,
}
_POINTWISE_MODULES = (_ew.__name__, "microtensor.ops.math")


def _rule(cls: type[Function]) -> Callable[..., Any] | None:
    """The batching rule of an op class (a subclass shares its base's: Std is Var's)."""
    for klass in cls.__mro__:
        rule = _RULES.get(klass)
        if rule is not None:
            return rule
    if cls.__module__ in _POINTWISE_MODULES:
        return _elementwise
    return None


# ---------------------------------------------------------------------- reverse mode inside
# mt.func.grad and vjp inside vmap differentiate each example on its own. Physically that is
# one reverse pass: make every input batched at every active vmap level (an unbatched input
# repeated, so each example has its own copy), take the gradient of the physical outputs with
# ones (examples never mix, so the sum's gradient holds each example's), and batch it back.
def _vmap_levels() -> list[_Vmap]:
    return [t for t in _state.transforms if isinstance(t, _Vmap)]


def _bottom(x: Any, levels: list[_Vmap]) -> Tensor:
    """The plain physical Tensor behind `x`, with one leading batch axis per level in
    `levels` (outermost first), `x` repeated along the levels where it is not batched."""
    for i in range(len(levels) - 1, -1, -1):
        level = levels[i]
        p = level.own(x)
        x = _expand(x, level.size) if p is None else p
    return x


def _rebatch(g: Tensor, levels: list[_Vmap]) -> Tensor:
    for level in levels:
        g = _wrap(g, level)
    return g


def batched_leaf(x: Tensor) -> Tensor | None:
    """For mt.func's reverse-mode transforms: inside vmap, the tensor to differentiate with
    respect to in place of `x` (batched at every active vmap level, each example its own copy,
    still attached to x's graph when x requires grad); None outside vmap."""
    levels = _vmap_levels()
    if not levels:
        return None
    bottom = _bottom(x, levels)
    if not bottom.requires_grad:
        bottom = Tensor(bottom.data, requires_grad=True)
    return _rebatch(bottom, levels)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         **kwargs: Any) -> tuple[Tensor | None, ...]:
    """`mt.grad` that also takes batched outputs and inputs (inputs from `batched_leaf`):
    each example's gradient of its own outputs. Outside vmap it is `mt.grad` itself."""
    from .autograd import grad as engine_grad

    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    levels = _vmap_levels()
    if not levels or not any(type(t) is BatchedTensor for t in outs + ins):
        return engine_grad(outputs, inputs, grad_outputs, **kwargs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    phys = [_bottom(o, levels) for o in outs]
    cts = [Tensor(np.ones(p.shape, p.dtype)) if c is None else _bottom(
        c if isinstance(c, Tensor) else Tensor(np.asarray(c)), levels)
        for p, c in zip(phys, grad_outputs)]
    gs = engine_grad(phys, [_bottom(t, levels) for t in ins], cts, **kwargs)
    return tuple(None if g is None else _rebatch(g, levels) for g in gs)


# ---------------------------------------------------------------------- the transform
def _random_error(op: str) -> str:
    return (f"vmap: {op} draws random numbers inside vmap(randomness='error'); draw them "
            "outside and pass them in, or choose vmap(..., randomness='same') (one draw "
            "shared by every example) or 'different' (one draw per example)")


def check_randomness(op: str) -> None:
    """For random draws made outside ops (the random factories): raise inside a vmap whose
    randomness is "error" (the default, as PyTorch's), and inside one whose randomness is
    "different", which such a draw (one value, the example's shape) cannot honour; "same" is
    what it does. Random ops (Dropout) are batched by vmap itself."""
    for t in _state.transforms:
        if isinstance(t, _Vmap) and t.randomness == "error":
            raise RuntimeError(_random_error(op))
        if isinstance(t, _Vmap) and t.randomness == "different":
            raise RuntimeError(
                f"vmap: {op} inside vmap(randomness='different') would draw one value shared by "
                "every example; draw the batch's values outside vmap and pass them in, or use "
                "randomness='same'")


def _tree_map(fn: Callable[..., Any], value: Any, spec: Any, where: str) -> Any:
    """Apply `fn(leaf, dim)` over nested tuples, lists and dicts, with `spec` either one dim for
    the whole subtree or a structure that matches it."""
    if isinstance(value, (tuple, list)):
        if isinstance(spec, (tuple, list)):
            if len(spec) != len(value):
                raise ValueError(f"vmap: {where} has {len(spec)} entries for a sequence of "
                                 f"{len(value)} values")
            parts = [_tree_map(fn, v, s, where) for v, s in zip(value, spec)]
        else:
            parts = [_tree_map(fn, v, spec, where) for v in value]
        return type(value)(parts) if isinstance(value, list) else tuple(parts)
    if isinstance(value, dict):
        if isinstance(spec, dict):
            return {k: _tree_map(fn, v, spec.get(k), where) for k, v in value.items()}
        return {k: _tree_map(fn, v, spec, where) for k, v in value.items()}
    if isinstance(spec, (tuple, list, dict)):
        raise ValueError(f"vmap: {where} gives a structure {spec!r} for a single value")
    return fn(value, spec)


def _dim(dim: Any, ndim: int, where: str) -> int:
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"vmap: {where} must be an int or None, got {dim!r}") from None
    if not -ndim <= d < ndim:
        raise ValueError(f"vmap: {where} {d} is out of range for a tensor with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return d % ndim


def _move_to_front(t: Tensor, d: int) -> Tensor:
    if d == 0:
        return t
    order = (d,) + tuple(i for i in range(t.ndim) if i != d)
    return _shape.Transpose.apply(t, axes=order)


def _move_from_front(t: Tensor, d: int) -> Tensor:
    if d == 0:
        return t
    order = tuple(range(1, d + 1)) + (0,) + tuple(range(d + 1, t.ndim))
    return _shape.Transpose.apply(t, axes=order)


def vmap(fn: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0,
         randomness: str = "error") -> Callable[..., Any]:
    """Vectorise `fn` over a batch axis, as `torch.func.vmap`: `vmap(f)(X)` equals
    `stack([f(X[i]) for i in range(len(X))])`, computed by one call of each op on the batch.
    `in_dims` is one int or None for every positional argument, or one per argument (nested
    like the arguments themselves; None: that argument is the same for every example);
    `out_dims` says where the batch axis goes in each output. Keyword arguments are not
    batched. Gradients flow through (backward on the result gives each input's gradient),
    vmap nests, and ops without a batching rule run once per example with a warning.
    `randomness="error"` refuses random ops inside `fn` (dropout); "same" shares one draw
    between the examples, "different" draws for each."""
    if randomness not in _RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {', '.join(map(repr, _RANDOMNESS))}, "
                         f"got {randomness!r}")
    if not callable(fn):
        raise TypeError(f"vmap: expected a function, got {type(fn).__name__}")

    @functools.wraps(fn)
    def batched(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(in_dims)} entries for {len(args)} "
                             "positional arguments")
        dims = tuple(in_dims) if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        sizes: list[tuple[int, int]] = []

        def measure(value: Any, dim: Any) -> Any:
            if dim is None:
                return value
            if not isinstance(value, Tensor):
                if not isinstance(value, np.ndarray):
                    raise TypeError(f"vmap: in_dims {dim} given for a {type(value).__name__}; "
                                    "only tensors and arrays can be batched (use None)")
                value = Tensor(value)
            d = _dim(dim, value.ndim, "in_dims")
            sizes.append((value.shape[d], len(sizes)))
            return _move_to_front(value, d)

        moved = _tree_map(measure, args, dims, "in_dims")
        if not sizes:
            raise ValueError("vmap: no argument is batched (every in_dims is None)")
        if len({n for n, _ in sizes}) != 1:
            raise ValueError("vmap: the batched arguments have different sizes along their "
                             f"in_dims: {[n for n, _ in sizes]}")
        stack = _state.transforms
        level = _Vmap(sizes[0][0], randomness, len(stack))
        inner = _tree_map(lambda v, d: v if d is None else _wrap(v, level), moved, dims,
                          "in_dims")
        _state.transforms = stack + (level,)
        try:
            out = fn(*inner, **kwargs)
        finally:
            _state.transforms = stack

        def unwrap(value: Any, dim: Any) -> Any:
            if not isinstance(value, Tensor):
                raise TypeError(f"vmap: the function must return tensors (or tuples, lists and "
                                f"dicts of them), got {type(value).__name__}")
            p = level.own(value)
            p = _expand(value, level.size) if p is None else p
            if dim is None:
                raise ValueError("vmap: out_dims None is not supported; give an int")
            return _move_from_front(p, _dim(dim, p.ndim, "out_dims"))

        return _tree_map(unwrap, out, out_dims, "out_dims")

    return batched
