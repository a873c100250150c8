"""Forward mode (microtensor/forward_ad.py): every op's jvp rule against central differences
over the op table (one test per row, so an op without a rule fails by name), the rules of
every Function subclass of the core, the dual-number API, and forward mode mixed with reverse
mode (grad of a jvp, jvp of a grad) against PyTorch."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import OPS, OpSpec

import microtensor as mt
from microtensor import forward_ad as fwd
from microtensor.function import Function
from microtensor.gradcheck import GradcheckError, jvpcheck

torch = pytest.importorskip("torch")

BROADCASTING = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}


def leaves(arrays: tuple[np.ndarray, ...], layout: str = "C") -> list[mt.Tensor]:
    """Float inputs become Tensors that require grad (the ones jvpcheck perturbs), in
    `layout`; a boolean condition stays constant."""
    return [mt.Tensor(S.relayout(a, layout), requires_grad=a.dtype.kind == "f")
            for a in arrays]


def _params() -> list:
    out = []
    for op in OPS:
        out.append(pytest.param(op, False, id=op.name))
        if op.name in BROADCASTING:
            out.append(pytest.param(op, True, id=f"{op.name}-broadcast"))
    return out


@pytest.mark.parametrize(("op", "broadcast"), _params())
@settings(max_examples=max(8, settings.default.max_examples // 5))  # ~125 rows: the budget
@given(data=st.data())
def test_op_jvp_matches_central_differences(op: OpSpec, broadcast: bool,
                                            data: st.DataObject) -> None:
    arrays, kw = data.draw(op.cases(np.float64, broadcast))
    layout = data.draw(S.layouts(), label="layout")
    assert jvpcheck(lambda *xs: op.fn(*xs, **kw), leaves(arrays, layout))



@pytest.mark.parametrize(("op", "broadcast"), _params())
@settings(max_examples=3)  # each example is a gradcheck of a jvp: costly
@given(data=st.data())
def test_op_jvp_rule_is_differentiable(op: OpSpec, broadcast: bool,
                                       data: st.DataObject) -> None:
    # the rule run on Tensors (the saved values attached to the reverse graph), as grad of a
    # jvp runs it: reverse mode through the tangent against central differences of the jvp
    arrays, kw = data.draw(op.cases(np.float64, broadcast))
    rng = np.random.default_rng(0)
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    vs = [rng.standard_normal(arrays[i].shape) for i in floats]

    def tangent(*xs: mt.Tensor) -> mt.Tensor:
        def f(*ys: mt.Tensor) -> mt.Tensor:
            full = list(arrays)
            for i, y in zip(floats, ys):
                full[i] = y
            return op.fn(*full, **kw)

        return mt.func.jvp(f, xs, vs)[1]

    assert mt.gradcheck(tangent, [mt.Tensor(arrays[i], requires_grad=True) for i in floats])

# ----------------------------------------------------------------- every op class has a rule
_CORE_OP_MODULES = ("elementwise", "math", "scan", "shape", "linalg", "reduce", "indexing",
                    "fused", "losses", "conv", "normalization", "rnn", "setitem", "dropout")


def _function_classes() -> list[type]:
    seen, stack = [], list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        seen.append(c)
        stack.extend(c.__subclasses__())
    return sorted(set(seen), key=lambda c: (c.__module__, c.__name__))


@pytest.mark.parametrize(
    "cls", [c for c in _function_classes()
            if c.__module__.rsplit(".", 1)[-1] in _CORE_OP_MODULES
            and c.__module__.startswith("microtensor.ops")
            and "forward" in {n for k in c.__mro__[:-2] for n in vars(k)}],
    ids=lambda c: c.__name__)
def test_core_op_class_has_a_jvp_rule(cls: type) -> None:
    assert cls.jvp is not Function.jvp, f"{cls.__name__} has no jvp rule"


def test_op_without_a_rule_names_itself() -> None:
    class Cube(mt.Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            self.save_for_backward(x)
            return x**3

        def backward(self, grad: np.ndarray) -> np.ndarray:
            (x,) = self.saved
            return grad * 3 * x**2

    with pytest.raises(NotImplementedError, match="Cube has no forward-mode rule"):
        mt.func.jvp(Cube.apply, (np.ones(2),), (np.ones(2),))
    # the same op without tangents runs as usual inside a level
    with fwd.dual_level():
        assert np.allclose(Cube.apply(mt.tensor([2.0])).data, 8.0)


def test_custom_function_with_a_jvp_rule_runs_it() -> None:
    class Cube(mt.Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            self.save_for_backward(x)
            return x**3

        def backward(self, grad: np.ndarray) -> np.ndarray:
            (x,) = self.saved
            return grad * 3 * x**2

        def jvp(self, t: np.ndarray) -> np.ndarray:
            (x,) = self.saved
            return t * 3 * x**2

    _, t = mt.func.jvp(Cube.apply, (np.array([1.0, 2.0]),), (np.array([1.0, 0.5]),))
    np.testing.assert_allclose(t.data, [3.0, 6.0])


# ------------------------------------------------------------------------- against PyTorch
def _torch_jvp(f, xs, ts):
    _, t = torch.func.jvp(f, tuple(torch.tensor(np.ascontiguousarray(x)) for x in xs),
                          tuple(torch.tensor(np.ascontiguousarray(t)) for t in ts))
    return t.numpy()


def _ours(f, xs, ts):
    _, t = mt.func.jvp(f, tuple(xs), tuple(ts))
    return t.data


_RNG = np.random.default_rng(7)
_X = _RNG.standard_normal((4, 5))
_CASES = {
    "sort": (lambda x: mt.sort(x, axis=1), lambda x: torch.sort(x, dim=1).values),
    "topk": (lambda x: mt.topk(x, 2, axis=0)[0], lambda x: torch.topk(x, 2, dim=0).values),
    "cumprod": (lambda x: mt.cumprod(x, axis=1), lambda x: torch.cumprod(x, dim=1)),
    "logcumsumexp": (lambda x: mt.logcumsumexp(x, axis=0),
                     lambda x: torch.logcumsumexp(x, dim=0)),
    "norm2": (lambda x: mt.norm(x, axis=1), lambda x: torch.linalg.vector_norm(x, dim=1)),
    "norm3": (lambda x: mt.norm(x, 3, axis=0),
              lambda x: torch.linalg.vector_norm(x, 3, dim=0)),
    "norm_inf": (lambda x: mt.norm(x, np.inf, axis=1),
                 lambda x: torch.linalg.vector_norm(x, float("inf"), dim=1)),
    "softmax": (lambda x: mt.softmax(x, axis=0), lambda x: torch.softmax(x, dim=0)),
    "log_softmax": (mt.log_softmax, lambda x: torch.log_softmax(x, dim=-1)),
    "logsumexp": (lambda x: mt.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, dim=1)),
    "einsum": (lambda x: mt.einsum("ij,kj->ik", x, x * 2.0),
               lambda x: torch.einsum("ij,kj->ik", x, x * 2.0)),
    "var": (lambda x: mt.var(x, axis=0, ddof=1), lambda x: torch.var(x, dim=0)),
    "std": (lambda x: mt.std(x, axis=1), lambda x: torch.std(x, dim=1, correction=0)),
    "prod": (lambda x: mt.prod(x, axis=1), lambda x: torch.prod(x, dim=1)),
    "clip": (lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5)),
    "where": (lambda x: mt.where(x > 0, x * x, -x), lambda x: torch.where(x > 0, x * x, -x)),
    "cast": (lambda x: x.astype(np.float32).astype(np.float64) * x,
             lambda x: x.float().double() * x),
    "getitem": (lambda x: x[[0, 2, 0], 1:4], lambda x: x[[0, 2, 0], 1:4]),
    "pad": (lambda x: mt.pad(x, ((1, 2), (0, 1)), mode="reflect"),
            lambda x: torch.nn.functional.pad(x[None], (0, 1, 1, 2), mode="reflect")[0]),
    "matmul_tanh": (lambda x: mt.tanh(x @ x.T + 1.0), lambda x: torch.tanh(x @ x.T + 1.0)),
}


@pytest.mark.parametrize("name", sorted(_CASES))
@pytest.mark.parametrize("layout", ["C", "F", "transposed", "strided"])
def test_jvp_matches_torch(name: str, layout: str) -> None:
    ours, theirs = _CASES[name]
    x = S.relayout(_X, layout)
    t = S.relayout(_RNG.standard_normal(_X.shape), layout)
    np.testing.assert_allclose(_ours(ours, [x], [t]), _torch_jvp(theirs, [x], [t]),
                               rtol=1e-10, atol=1e-12)


def test_cumprod_jvp_with_zeros_matches_torch() -> None:
    x = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.5, 2.0, 0.0, -1.0, 0.5]])
    t = _RNG.standard_normal(x.shape)
    np.testing.assert_allclose(
        _ours(lambda a: mt.cumprod(a, axis=1), [x], [t]),
        _torch_jvp(lambda a: torch.cumprod(a, dim=1), [x], [t]), rtol=1e-12, atol=1e-300)


def test_cumprod_jvp_where_products_underflow() -> None:
    # y_1 = 1e-200 * 1e-200 underflows to 0, but dy_1 = t_0 x_1 + t_1 x_0 does not (PyTorch's
    # rule gives 0 there): the reference is the sum over k of t_k prod_{j <= i, j != k} x_j
    x = np.array([1e-200, 1e-200, 2.0, -1.0])
    t = np.array([0.5, -1.0, 2.0, 1.0])
    expected = [sum(t[k] * np.prod([x[j] for j in range(i + 1) if j != k])
                    for k in range(i + 1)) for i in range(4)]
    np.testing.assert_allclose(_ours(mt.cumprod, [x], [t]), expected,
                               rtol=1e-12, atol=0)


def test_max_jvp_averages_ties_as_backward_does() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    t = np.array([[5.0, 1.0, 2.0], [3.0, 6.0, 0.0]])
    _, got = mt.func.jvp(lambda a: mt.max(a, axis=1), (x,), (t,))
    np.testing.assert_allclose(got.data, [1.5, 3.0])  # the mean of the tied tangents
    xt = mt.Tensor(x, requires_grad=True)
    mt.max(xt, axis=1).backward(np.ones(2))
    np.testing.assert_allclose((xt.grad.data * t).sum(axis=1), got.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jvp_keeps_float32_and_matches_torch(dtype: type) -> None:
    x = _X.astype(dtype)
    t = np.ones_like(x)
    f = (lambda a: (mt.sigmoid(a) * a).sum(axis=0)), (lambda a: (torch.sigmoid(a) * a).sum(0))
    out, got = mt.func.jvp(f[0], (x,), (t,))
    assert out.dtype == dtype and got.dtype == dtype
    np.testing.assert_allclose(got.data, _torch_jvp(f[1], [x], [t]),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


# ------------------------------------------------------------------------ the dual-number API
def test_make_dual_and_unpack_dual() -> None:
    with fwd.dual_level():
        x = fwd.make_dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
        y = (x * x).exp()
        primal, tangent = fwd.unpack_dual(y)
        np.testing.assert_allclose(primal.data, np.exp([1.0, 4.0]))
        np.testing.assert_allclose(tangent.data, [2 * np.e, 0.0])
        assert fwd.unpack_dual(mt.tensor([1.0])).tangent is None
        assert fwd.unpack_dual(x.detach()).tangent is None  # a detached copy is a constant


def test_dual_api_errors_name_the_problem() -> None:
    with pytest.raises(RuntimeError, match="make_dual: no forward-mode level"):
        fwd.make_dual(np.ones(2), np.ones(2))
    with fwd.dual_level():
        with pytest.raises(ValueError, match=r"make_dual: tangent shape \(3,\).*\(2,\)"):
            fwd.make_dual(np.ones(2), np.ones(3))
        with pytest.raises(TypeError, match="make_dual: the primal must be a float"):
            fwd.make_dual(np.array([1, 2]), np.ones(2))
    with pytest.raises(RuntimeError, match="unpack_dual: no forward-mode level"):
        fwd.unpack_dual(mt.tensor([1.0]))


def test_tangent_takes_the_primal_dtype() -> None:
    x = np.ones(3, dtype=np.float32)
    _, t = mt.func.jvp(lambda a: a * 2.0, (x,), (np.ones(3, dtype=np.float64),))
    assert t.dtype == np.float32


def test_levels_do_not_confuse_their_perturbations() -> None:
    # d/dx [x * d/dy (x * y)] = d/dx x**2 = 2x; a shared tangent would give 3x (PyTorch: 2x)
    def inner(x: mt.Tensor) -> mt.Tensor:
        _, dy = mt.func.jvp(lambda y: x * y, (np.array([3.0]),), (np.array([1.0]),))
        return x * dy

    _, got = mt.func.jvp(inner, (np.array([2.0]),), (np.array([1.0]),))
    np.testing.assert_allclose(got.data, [4.0])


def test_forward_over_forward_second_derivative() -> None:
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 1.0, 1.0])

    def d_sin(a: mt.Tensor) -> mt.Tensor:
        return mt.func.jvp(mt.sin, (a,), (v,))[1]

    _, second = mt.func.jvp(d_sin, (x,), (v,))
    np.testing.assert_allclose(second.data, -np.sin(x), rtol=1e-12)


def test_no_level_left_behind_after_an_error() -> None:
    with pytest.raises(ValueError):
        mt.func.jvp(lambda a: a.reshape(7), (np.ones(4),), (np.ones(4),))
    from microtensor.grad_mode import _state
    assert _state.transforms == ()


# ------------------------------------------------------------------ forward and reverse mixed
def _mlp_torch(w1, w2):
    return lambda x: torch.sigmoid(torch.sigmoid(x @ w1) @ w2).sum()


def test_jvp_of_grad_is_torch_hessian_vector_product() -> None:
    rng = np.random.default_rng(3)
    x, v = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    w1, w2 = rng.standard_normal((2, 3)), rng.standard_normal((3, 1))

    def loss(a: mt.Tensor) -> mt.Tensor:
        return mt.sigmoid(mt.sigmoid(a @ w1) @ w2).sum()

    _, hvp = mt.func.jvp(mt.func.grad(loss), (x,), (v,))
    _, expected = torch.func.jvp(torch.func.grad(_mlp_torch(torch.tensor(w1),
                                                            torch.tensor(w2))),
                                 (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(hvp.data, expected.numpy(), rtol=1e-10, atol=1e-14)


def test_grad_of_jvp_matches_torch() -> None:
    rng = np.random.default_rng(4)
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def ours(a: mt.Tensor) -> mt.Tensor:
        return mt.func.jvp(lambda b: mt.log_softmax(b * b, axis=1).sum(axis=0),
                           (a,), (v,))[1].sum()

    def theirs(a):
        return torch.func.jvp(lambda b: torch.log_softmax(b * b, dim=1).sum(0),
                              (a,), (torch.tensor(v),))[1].sum()

    np.testing.assert_allclose(mt.func.grad(ours)(x).data,
                               torch.func.grad(theirs)(torch.tensor(x)).numpy(), rtol=1e-10)


def test_tangent_requiring_grad_is_differentiable() -> None:
    x = np.array([0.5, 1.5])
    v = mt.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    _, t = mt.func.jvp(mt.exp, (x,), (v,))
    t.sum().backward()
    np.testing.assert_allclose(v.grad.data, np.exp(x))


def test_reverse_graph_through_jvp_primal_output() -> None:
    x = mt.Tensor(np.array([0.1, 0.2]), requires_grad=True)
    out, t = mt.func.jvp(mt.tanh, (x,), (np.ones(2),))
    (out.sum() + t.sum()).backward()
    s = np.tanh(x.data)
    np.testing.assert_allclose(x.grad.data, (1 - s**2) + (-2 * s * (1 - s**2)), rtol=1e-12)


def test_jvpcheck_reports_a_wrong_rule() -> None:
    class Twice(mt.Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return 2 * x

        def backward(self, grad: np.ndarray) -> np.ndarray:
            return 2 * grad

        def jvp(self, t: np.ndarray) -> np.ndarray:
            return 3 * t

    x = mt.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(GradcheckError, match="forward-mode and numerical"):
        jvpcheck(Twice.apply, [x])
    assert mt.gradcheck(Twice.apply, [x])
    assert not mt.gradcheck(Twice.apply, [x], check_forward_ad=True, raise_exception=False)


def test_function_jvp_docstring_states_the_contract() -> None:
    assert "tangent" in inspect.getdoc(Function.jvp)


def test_jvp_inside_vmap_is_refused_with_the_way_round() -> None:
    def f(a: mt.Tensor, t: mt.Tensor) -> mt.Tensor:
        return mt.func.jvp(lambda u: (u.sin() * u).sum(axis=0), (a,), (t,))[1]

    with pytest.raises(NotImplementedError, match=r"jvp inside vmap.*mt.func.jvp\(mt.func.vmap"):
        mt.func.vmap(f)(mt.Tensor(np.ones((4, 3))), mt.Tensor(np.ones((4, 3))))
    from microtensor.grad_mode import _state
    assert _state.transforms == ()


def test_cumprod_tangent_is_differentiable_where_the_quotient_cancels() -> None:
    # the fast rule y * cumsum(t / x) has a derivative that cancels terms of size 1 / x**2 to
    # 0 (here 3.7e97 - 3.7e97); recorded, the rule takes the division-free table
    x = mt.Tensor(np.array([1.0, 1.9e-98]), requires_grad=True)
    v = np.array([0.3, 0.7])
    _, t = mt.func.jvp(mt.cumprod, (x,), (v,))
    (g,) = mt.grad(t[1], x)
    np.testing.assert_allclose(g.data, [0.7, 0.3], rtol=1e-12)


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_linear_jvp_matches_torch(activation: str | None, bias: bool) -> None:
    from microtensor.ops.fused import linear

    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    tx, tw, tb = (rng.standard_normal(a.shape) for a in (x, w, b))
    act = {None: lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid,
           "tanh": torch.tanh}[activation]
    if bias:
        ours = _ours(lambda *a: linear(*a, activation=activation), [x, w, b], [tx, tw, tb])
        theirs = _torch_jvp(lambda x, w, b: act(x @ w + b), [x, w, b], [tx, tw, tb])
    else:
        ours = _ours(lambda *a: linear(*a, activation=activation), [x, w], [tx, tw])
        theirs = _torch_jvp(lambda x, w: act(x @ w), [x, w], [tx, tw])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
