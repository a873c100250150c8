"""Function transforms, after torch.func: `vjp`, `jvp`, `jacobian`, `hessian`, `grad` (and
`vmap`, from microtensor/vmap.py).

    import microtensor as mt
    out, vjp_fn = mt.func.vjp(f, x)          # reverse mode: vjp_fn(v) = v^T J
    out, jv = mt.func.jvp(f, (x,), (v,))     # forward mode: J v, one pass with f
    J = mt.func.jacobian(f, mode="forward")(x)
    H = mt.func.hessian(f)(x)                # forward-over-reverse
    g = mt.func.grad(f)(x)

Functions take Tensors or arrays and return Tensors. `jvp` is true forward mode (every op's
own `jvp` rule, microtensor/forward_ad.py), not a double vjp; `vjp` and `grad` run the
reverse-mode engine. The transforms nest: `jvp(grad(f))` is a Hessian-vector product,
`grad(lambda x: jvp(f, (x,), (v,))[1])` differentiates a tangent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import forward_ad as fwd
from .grad_mode import _state, enable_grad
from .tensor import Tensor, _make

__all__ = ["grad", "hessian", "jacobian", "jvp", "vjp", "vmap"]  # noqa: F822 - vmap: lazy


def _as_tensor(x: Any, where: str, what: str) -> Tensor:
    """`x` as a Tensor (arrays, lists and numbers become new float Tensors)."""
    if isinstance(x, Tensor):
        return x
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: cannot use {what} as an array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {what} must be a real array, got dtype {a.dtype}")
    return _make(a.astype(np.float64) if a.dtype.kind in "biu" else np.array(a))


def _outputs(out: Any, where: str) -> tuple[list[Tensor], bool]:
    """The outputs of a transformed function as a list, and whether it was one Tensor."""
    if isinstance(out, Tensor):
        return [out], True
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return list(out), False
    raise TypeError(f"{where}: the function must return a Tensor or a tuple of Tensors, got "
                    f"{type(out).__name__}")


def _argnums(argnums: int | Sequence[int], n: int, where: str) -> tuple[tuple[int, ...], bool]:
    """`argnums` checked against `n` positional arguments, as a tuple, and whether it was
    one int."""
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    nums = (argnums,) if single else tuple(argnums) if isinstance(argnums, (tuple, list)) else None
    if nums is None or not nums or any(
            isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in nums):
        raise TypeError(f"{where}: argnums must be an int or a non-empty tuple of ints, got "
                        f"{argnums!r}")
    out = []
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{where}: argnums {a} is out of range for a function called with "
                             f"{n} positional argument{'s' if n != 1 else ''}")
        out.append(int(a) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: argnums {argnums!r} repeats an argument")
    return tuple(out), single


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """Run `f(*primals)` and return its output with `vjp_fn`: `vjp_fn(v)` (one cotangent per
    output, in its shape) gives v^T J, one gradient per primal (a tuple), by reverse mode.
    vjp_fn may be called several times. Gradients of the result are recorded when a primal
    requires grad or a transform is active (so vjp nests)."""
    xs = [_leaf(_as_tensor(p, "vjp", f"primal {i}")) for i, p in enumerate(primals)]
    with enable_grad():
        out = f(*xs)
    outs, single = _outputs(out, "vjp")
    create = _nested(primals)

    def vjp_fn(*cotangents: Any) -> tuple[Tensor, ...]:
        """v^T J for cotangents `v` (one per output of f), one gradient per primal."""
        if len(cotangents) == 1 and not single and isinstance(cotangents[0], (tuple, list)):
            cotangents = tuple(cotangents[0])
        if len(cotangents) != len(outs):
            raise ValueError(f"vjp: got {len(cotangents)} cotangents for {len(outs)} outputs")
        live = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
        if not live:
            return tuple(_make(np.zeros(x.shape, x.dtype)) for x in xs)
        cts = [c if isinstance(c, Tensor) else _as_tensor(c, "vjp", "a cotangent") for _, c in live]
        for (o, _), c in zip(live, cts):
            if c.shape != o.shape:
                raise ValueError(f"vjp: cotangent shape {c.shape} does not match the output "
                                 f"shape {o.shape}")
        with enable_grad():
            gs = _engine_grad([o for o, _ in live], xs, grad_outputs=cts, retain_graph=True,
                              create_graph=create, allow_unused=True)
        return tuple(_make(np.zeros(x.shape, x.dtype)) if g is None else g
                     for x, g in zip(xs, gs))

    return out, vjp_fn


def _nested(primals: tuple[Any, ...]) -> bool:
    """Whether gradients must be recorded: a primal requires grad (an outer reverse pass) or
    a transform is active (an outer jvp must see the backward's ops)."""
    return bool(_state.transforms) or any(isinstance(p, Tensor) and p.requires_grad
                                          for p in primals)


def _vmap_module() -> Any:
    """microtensor.vmap, imported on first use (vmap imports the core, as func does)."""
    from . import vmap as vmap_module
    return vmap_module


def _engine_grad(outputs: Any, inputs: list[Tensor], **kwargs: Any) -> tuple[Any, ...]:
    """mt.grad, through vmap's helper, which inside vmap differentiates each example of a
    batched output by its own inputs (outside vmap it is mt.grad itself)."""
    return _vmap_module().grad(outputs, inputs, **kwargs)


def _leaf(x: Tensor) -> Tensor:
    """`x` ready to be differentiated: inside vmap, vmap's batched leaf (each example its own
    copy); else itself when it already requires grad (so an outer reverse pass sees through),
    else a new leaf on the same data that keeps x's tangents."""
    batched = _vmap_module().batched_leaf(x) if _state.transforms else None
    if batched is not None:
        return batched
    if x.requires_grad:
        return x
    leaf = _make(x.data, True)
    fwd._share_tangents(x, leaf)
    return leaf


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """Forward mode: `f(*primals)` and its Jacobian-vector product J v along `tangents` (one
    per primal, in its shape), computed in the same pass by each op's jvp rule. Returns
    (output, tangent of the output), each a Tensor or a tuple of Tensors as f returns; an
    output that does not depend on the primals gets a zero tangent."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (jvp(f, (x,), (v,)))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents")
    ps = [_as_tensor(p, "jvp", f"primal {i}") for i, p in enumerate(primals)]
    with fwd.dual_level() as level:
        duals = []
        for i, (p, given) in enumerate(zip(ps, tangents)):
            t = given if isinstance(given, Tensor) else _as_tensor(given, "jvp",
                                                                   f"tangent {i}").data
            if tuple(t.shape) != p.shape:
                raise ValueError(f"jvp: tangent {i} has shape {tuple(t.shape)}, its primal "
                                 f"{p.shape}")
            if p.data.dtype.kind != "f":
                raise TypeError(f"jvp: primal {i} has dtype {p.dtype}; forward mode needs "
                                "float primals")
            duals.append(fwd.make_dual(p, t))
        out = f(*duals)
        outs, single = _outputs(out, "jvp")
        tans = []
        for o in outs:
            t = level.tangent(o)
            if t is None:
                t = np.zeros(o.shape, o.dtype)
            tans.append(t if isinstance(t, Tensor) else _make(np.array(t)))
    return (outs[0], tans[0]) if single else (tuple(outs), tuple(tans))


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The gradient function of `f`, which must return a one-element Tensor (with has_aux, a
    pair (output, aux)): `grad(f)(*args)` is d f / d args[argnums] (a tuple for a tuple of
    argnums; with has_aux, (gradient, aux)). Records its own graph when nested (under jvp,
    or when an argument requires grad), so grad(grad(f)) and jvp(grad(f)) work."""

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _argnums(argnums, len(args), "grad")
        args = list(args)
        originals = [args[i] for i in nums]
        for i in nums:
            args[i] = _leaf(_as_tensor(args[i], "grad", f"argument {i}"))
        with enable_grad():
            out = f(*args, **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError("grad: with has_aux=True the function must return a pair "
                                f"(output, aux), got {type(out).__name__}")
            out, aux = out
        if not isinstance(out, Tensor):
            raise TypeError(f"grad: the function must return a Tensor, got "
                            f"{type(out).__name__}")
        if out.size != 1:
            raise RuntimeError(f"grad: the function must return a one-element Tensor (a "
                               f"scalar), got shape {out.shape}; use mt.func.vjp or "
                               "mt.func.jacobian for other outputs")
        inputs = [args[i] for i in nums]
        if out.requires_grad:
            with enable_grad():
                gs = _engine_grad(out, inputs, create_graph=_nested(tuple(originals)),
                                  allow_unused=True)
        else:
            gs = (None,) * len(inputs)
        gs = tuple(_make(np.zeros(x.shape, x.dtype)) if g is None else g
                   for x, g in zip(inputs, gs))
        result = gs[0] if single else gs
        return (result, aux) if has_aux else result

    return grad_f


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
             mode: str = "reverse") -> Callable[..., Any]:
    """The Jacobian function of `f`: `jacobian(f)(*args)` has shape out.shape + x.shape for
    output `out` and argument `x = args[argnums]` (nested tuples for several outputs or
    argnums, as torch.func.jacrev). mode="reverse" runs one vjp per output element (cheap
    for few outputs), mode="forward" one jvp per input element (cheap for few inputs)."""
    if mode not in ("reverse", "forward"):
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")

    def jac_f(*args: Any) -> Any:
        nums, single = _argnums(argnums, len(args), "jacobian")
        xs = [_as_tensor(args[i], "jacobian", f"argument {i}") for i in nums]

        def g(*chosen: Tensor) -> Any:
            full = list(args)
            for i, c in zip(nums, chosen):
                full[i] = c
            return f(*full)

        if mode == "reverse":
            blocks, one_out = _jac_reverse(g, xs)
        else:
            blocks, one_out = _jac_forward(g, xs)
        # blocks[o][k]: d output o / d argument k
        rows = [b[0] if single else tuple(b) for b in blocks]
        return rows[0] if one_out else tuple(rows)

    return jac_f


def _jac_reverse(g: Callable[..., Any], xs: list[Tensor]) -> tuple[list[list[Tensor]], bool]:
    out, vjp_fn = vjp(g, *xs)
    outs, one_out = _outputs(out, "jacobian")
    blocks = []
    for k, o in enumerate(outs):
        rows: list[list[Any]] = [[] for _ in xs]
        for j in range(o.size):
            seed = [np.zeros(p.shape, p.dtype) for p in outs]
            seed[k].reshape(-1)[j] = 1
            for i, gi in enumerate(vjp_fn(*seed)):
                rows[i].append(gi)
        blocks.append([_stack(r, o.shape, x.shape, o.dtype) for r, x in zip(rows, xs)])
    return blocks, one_out


def _jac_forward(g: Callable[..., Any], xs: list[Tensor]) -> tuple[list[list[Tensor]], bool]:
    cols: list[list[list[Any]]] | None = None  # [output][argument] -> tangent per element
    one_out = True
    outs: list[Tensor] = []
    for k, x in enumerate(xs):
        for j in range(x.size):
            tangents = [np.zeros(p.shape, p.dtype) for p in xs]
            tangents[k].reshape(-1)[j] = 1
            out, t = jvp(g, tuple(xs), tuple(tangents))
            outs, one_out = _outputs(out, "jacobian")
            ts = [t] if one_out else list(t)
            if cols is None:
                cols = [[[] for _ in xs] for _ in outs]
            for o in range(len(outs)):
                cols[o][k].append(ts[o])
    if cols is None:  # only empty arguments: run f once for the output shapes
        outs, one_out = _outputs(g(*xs), "jacobian")
        cols = [[[] for _ in xs] for _ in outs]
    blocks = []
    for o, out in enumerate(outs):
        row = []
        for k, x in enumerate(xs):
            col = _stack(cols[o][k], x.shape, out.shape, out.dtype)  # x.shape + out.shape
            nx = len(x.shape)
            perm = (*range(nx, nx + out.ndim), *range(nx))
            row.append(col.transpose(perm) if perm else col)
        blocks.append(row)
    return blocks, one_out


def _stack(parts: list[Any], lead: tuple[int, ...], tail: tuple[int, ...],
           dtype: np.dtype) -> Tensor:
    """Tensors `parts` (one per element of shape `lead`, each of shape `tail`) as one Tensor
    of shape lead + tail (recorded when the parts are)."""
    if not parts:
        return _make(np.zeros(lead + tuple(tail), dtype))
    if any(p.requires_grad for p in parts):
        from .ops.shape import stack
        return stack(parts).reshape(lead + tuple(tail))
    return _make(np.stack([p.data for p in parts]).reshape(lead + tuple(tail)))


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian function of a scalar `f`: forward-over-reverse, the forward-mode Jacobian
    of `grad(f)` (one jvp through a gradient per input element, as torch.func.hessian),
    of shape x.shape + x.shape."""
    return jacobian(grad(f, argnums), argnums, mode="forward")


def __getattr__(name: str) -> Any:
    # vmap lives in vmap.py (its own helper writes it): imported on first use, so this module
    # works whatever state vmap.py is in
    if name == "vmap":
        from .vmap import vmap
        return vmap
    raise AttributeError(f"module 'microtensor.func' has no attribute {name!r}")
