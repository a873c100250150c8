"""The reductions and scans of microtensor/ops/scan.py at the cases the op table's random
draws rarely reach: zeros in prod and cumprod (one and several, first and second order),
logcumsumexp at large and -inf inputs, norms at the zero vector, ties in sort and topk,
PyTorch's argument names, the untracked integer and boolean results, and NumPy dispatch.
PyTorch is the reference throughout (float64 and float32)."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt

torch = pytest.importorskip("torch")


def _pair(a: np.ndarray) -> tuple[mt.Tensor, torch.Tensor]:
    return mt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _grads_and_hvp(fn_mt, fn_th, a: np.ndarray, seed: int = 0):
    """First-order gradient and a Hessian-vector product of sum(w * fn(x)), both frameworks."""
    rng = np.random.default_rng(seed)
    m, t = _pair(a)
    out_m, out_t = fn_mt(m), fn_th(t)
    w = rng.uniform(0.5, 1.5, out_m.shape).astype(a.dtype)
    v = rng.uniform(-1, 1, a.shape).astype(a.dtype)
    (gm,) = mt.grad((out_m * w).sum(), [m], create_graph=True)
    (gt,) = torch.autograd.grad((out_t * torch.from_numpy(w)).sum(), [t], create_graph=True,
                                allow_unused=True, materialize_grads=True)
    # a gradient that does not depend on x (cumsum, the 1- and inf-norms) has no graph
    hm = mt.grad((gm * v).sum(), [m])[0].data if gm.requires_grad else np.zeros_like(a)
    ht = torch.autograd.grad((gt * torch.from_numpy(v)).sum(), [t], allow_unused=True)[0] if (
        gt.requires_grad) else None
    ht = torch.zeros_like(t) if ht is None else ht
    def plain(v: torch.Tensor) -> np.ndarray:  # PyTorch may give a lazy ZeroTensor
        return (torch.zeros(v.shape, dtype=v.dtype) + v.detach()).numpy()

    return (out_m.data, plain(out_t)), (gm.data, plain(gt)), (hm, plain(ht))


def _assert_pairs_close(*pairs, rtol: float = 1e-10) -> None:
    for got, want in pairs:
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


ZERO_CASES = {
    "one zero": [[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, 3.0, 4.0]],
    "two zeros": [[0.0, 2.0, 0.0, 3.0], [0.5, 0.0, -2.0, 0.0]],
    "all zeros": [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]],
    "zero first and last": [[0.0, 2.0, 3.0, 0.0], [0.0, -1.0, 2.0, 1.5]],
}


@pytest.mark.parametrize("case", ZERO_CASES, ids=str)
@pytest.mark.parametrize("axis", [0, 1, None])
def test_prod_gradients_with_zeros_match_torch(case: str, axis) -> None:
    a = np.array(ZERO_CASES[case])
    th = (lambda t: t.prod()) if axis is None else (lambda t: t.prod(axis))
    _assert_pairs_close(*_grads_and_hvp(lambda t: mt.prod(t, axis), th, a))


@pytest.mark.parametrize("case", ZERO_CASES, ids=str)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumprod_gradients_with_zeros_match_torch(case: str, axis: int) -> None:
    a = np.array(ZERO_CASES[case])
    _assert_pairs_close(*_grads_and_hvp(lambda t: mt.cumprod(t, axis),
                                        lambda t: torch.cumprod(t, axis), a))


def test_cumprod_and_prod_second_order_at_subnormal_inputs_stay_finite() -> None:
    # found by the op table: the division formula's second derivative (1 / x**2) overflowed
    x = mt.tensor([5e-324, 2.0, -1e-200], requires_grad=True)
    assert mt.gradgradcheck(lambda t: mt.cumprod(t, 0), [x])
    assert mt.gradgradcheck(mt.prod, [x])
    # found by the op table too: d/dx (g * y / x) = g / x - g * x / x**2 cancels to 1e85 of
    # rounding at x = 3e-102; under create_graph the gradient is the division-free one
    assert mt.gradgradcheck(lambda t: mt.cumprod(t, None), [mt.tensor([3.18e-102],
                                                                      requires_grad=True)])


def test_cumprod_gradient_when_the_running_product_underflows() -> None:
    # y underflows to 0 from the second element on, though no input is 0: d y_2 / d x_0 is
    # x_1 * x_2 = 1, which revcumsum(g * y) / x (PyTorch's formula) loses
    a = np.array([1e-200, 1e-200, 1e200])
    w = np.array([0.5, 2.0, 3.0])
    x = mt.tensor(a, requires_grad=True)
    (g,) = mt.grad((mt.cumprod(x, 0) * w).sum(), [x])
    exact = [sum(w[i] * np.prod([a[j] for j in range(i + 1) if j != k]) for i in range(k, 3))
             for k in range(3)]
    np.testing.assert_allclose(g.data, exact, rtol=1e-12)
    assert g.data[0] == pytest.approx(0.5 + 3.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cumsum_cumprod_float32_stays_float32_and_matches_torch(dtype) -> None:
    a = np.random.default_rng(1).uniform(-2, 2, (3, 4)).astype(dtype)
    for mt_fn, th_fn in ((mt.cumsum, torch.cumsum), (mt.cumprod, torch.cumprod),
                         (mt.logcumsumexp, torch.logcumsumexp)):
        _assert_pairs_close(*_grads_and_hvp(lambda t, f=mt_fn: f(t, dim=1),
                                            lambda t, f=th_fn: f(t, 1), a),
                            rtol=1e-10 if dtype == np.float64 else 1e-4)


def test_logcumsumexp_large_inputs_are_stable() -> None:
    a = np.array([[1000.0, 1000.0, -1000.0, 999.0], [-800.0, -900.0, -800.0, -1000.0]])
    # (the conftest makes overflow and invalid values errors)
    _assert_pairs_close(*_grads_and_hvp(lambda t: mt.logcumsumexp(t, 1),
                                        lambda t: torch.logcumsumexp(t, 1), a))


def test_logcumsumexp_minus_inf_inputs_get_zero_gradient() -> None:
    # the limit of d/dx exp(x - y) as x -> -inf is 0 (PyTorch gives nan before the first
    # finite element)
    a = np.array([-np.inf, -np.inf, 0.5, -np.inf, 2.0])
    x = mt.tensor(a, requires_grad=True)
    y = mt.logcumsumexp(x, 0)
    expected = torch.logcumsumexp(torch.tensor(a), 0).numpy()
    np.testing.assert_allclose(y.data, expected)
    w = np.arange(1.0, 6.0)
    (g,) = mt.grad((y * w).sum(), [x])
    assert np.all(g.data[[0, 1, 3]] == 0)
    t = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.logcumsumexp(t, 0) * torch.from_numpy(w)).sum(), [t])
    np.testing.assert_allclose(g.data[[2, 4]], gt.numpy()[[2, 4]], rtol=1e-12)


@pytest.mark.parametrize("order", [2, 1, np.inf, -np.inf, 3, 0.5, 0])
def test_norm_gradient_at_the_zero_vector_is_zero_as_torch(order) -> None:
    x = mt.zeros(4)
    x.requires_grad_()
    (g,) = mt.grad(mt.norm(x, order), [x])  # no 0 / 0, no 0 ** -0.5 (the conftest raises)
    np.testing.assert_array_equal(g.data, np.zeros(4))
    assert mt.norm(x, order).item() == 0.0


@pytest.mark.parametrize("order", [2, 1, np.inf, -np.inf, 3, 0.5, -1, 0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vector_norms_match_torch(order, dtype) -> None:
    a = np.random.default_rng(2).uniform(-2, 2, (3, 5)).astype(dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    _assert_pairs_close(*_grads_and_hvp(lambda t: mt.norm(t, order, axis=1),
                                        lambda t: torch.linalg.vector_norm(t, order, dim=1), a),
                        rtol=rtol)
    # PyTorch's p= takes the vector norm over every element
    _assert_pairs_close(*_grads_and_hvp(lambda t: mt.norm(t, p=order),
                                        lambda t: torch.linalg.vector_norm(t, order), a),
                        rtol=rtol)


@pytest.mark.parametrize("order", ["fro", 1, -1, np.inf, -np.inf])
def test_matrix_norms_match_torch_and_numpy(order) -> None:
    a = np.random.default_rng(3).uniform(-2, 2, (2, 3, 4))
    _assert_pairs_close(*_grads_and_hvp(
        lambda t: mt.norm(t, order, axis=(1, 2)),
        lambda t: torch.linalg.matrix_norm(t, order, dim=(1, 2)), a))
    np.testing.assert_allclose(mt.norm(a[0], order).data, np.linalg.norm(a[0], order))
    np.testing.assert_allclose(mt.norm(a, order, axis=(2, 0), keepdims=True).data,
                               np.linalg.norm(a, order, axis=(2, 0), keepdims=True))


def test_norm_refuses_what_it_does_not_compute() -> None:
    x = mt.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="norm: the matrix norm ord=2"):
        mt.norm(x, 2)
    with pytest.raises(ValueError, match="norm: invalid norm order 'fro'"):
        mt.norm(x, "fro", axis=0)
    with pytest.raises(TypeError, match="norm: give ord or p"):
        mt.norm(x, 2, p=2)


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std_correction_and_dim_match_torch(correction: int) -> None:
    a = np.random.default_rng(4).uniform(-2, 2, (3, 5))
    for mt_fn, th_fn in ((mt.var, torch.var), (mt.std, torch.std)):
        _assert_pairs_close(*_grads_and_hvp(
            lambda t, f=mt_fn: f(t, dim=1, correction=correction, keepdim=True),
            lambda t, f=th_fn: f(t, dim=1, correction=correction, keepdim=True), a))
        np.testing.assert_allclose(mt_fn(a, axis=0, ddof=correction).data,
                                   (np.var if mt_fn is mt.var else np.std)(a, 0, ddof=correction))
    assert mt.var(a, unbiased=True).item() == pytest.approx(np.var(a, ddof=1))
    # PyTorch's positional var(x, dim, unbiased): the bool is ddof 1 or 0
    np.testing.assert_allclose(mt.var(a, 1, True).data, torch.var(torch.tensor(a), 1, True))
    with pytest.raises(TypeError, match="var: give one of ddof, correction"):
        mt.var(a, ddof=1, correction=1)


def test_sort_ties_keep_their_order_and_gradients_go_back() -> None:
    a = np.array([[3.0, 1.0, 3.0, 2.0, 1.0]])
    for descending in (False, True):
        x = mt.tensor(a, requires_grad=True)
        values = mt.sort(x, descending=descending)
        th_values, th_idx = torch.sort(torch.tensor(a), descending=descending, stable=True)
        np.testing.assert_array_equal(values.data, th_values.numpy())
        np.testing.assert_array_equal(mt.argsort(x, descending=descending).data, th_idx.numpy())
        w = np.arange(1.0, 6.0)
        values.backward(np.broadcast_to(w, (1, 5)).copy())
        expected = np.zeros(5)
        expected[th_idx.numpy()[0]] = w  # each value's weight lands where it came from
        np.testing.assert_array_equal(x.grad.data[0], expected)


def test_sort_puts_nan_last_ascending_and_first_descending_as_torch() -> None:
    a = np.array([1.0, np.nan, -2.0, 0.5])
    for descending in (False, True):
        got = mt.sort(a, descending=descending).data
        want = torch.sort(torch.tensor(a), descending=descending)[0].numpy()
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_topk_matches_torch(largest: bool, dtype) -> None:
    a = np.random.default_rng(5).permutation(24).reshape(4, 6).astype(dtype) / 7
    for dim, k in ((1, 3), (0, 2), (-1, 6), (0, 0)):
        values, indices = mt.topk(mt.tensor(a), k, dim=dim, largest=largest)
        tv, ti = torch.topk(torch.tensor(a), k, dim=dim, largest=largest)
        np.testing.assert_array_equal(values.data, tv.numpy())
        np.testing.assert_array_equal(indices.data, ti.numpy())
        assert indices.dtype == np.int64 and values.dtype == dtype
        _assert_pairs_close(*_grads_and_hvp(
            lambda t, k=k, d=dim: mt.topk(t, k, d, largest)[0],
            lambda t, k=k, d=dim: torch.topk(t, k, d, largest)[0], a),
            rtol=1e-10 if dtype == np.float64 else 1e-5)


def test_topk_with_ties_takes_the_first_indices() -> None:
    x = mt.tensor([1.0, 5.0, 5.0, 2.0, 5.0], requires_grad=True)
    values, indices = mt.topk(x, 2)
    np.testing.assert_array_equal(indices.data, [1, 2])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="topk: k=6 is out of range"):
        mt.topk(x, 6)


def test_arg_and_truth_reductions_are_untracked_int64_and_bool() -> None:
    x = mt.tensor([[1.0, 3.0, 0.0], [4.0, -1.0, 4.0]], requires_grad=True)
    for got, want in ((mt.argmax(x, 1), [1, 0]), (x.argmin(dim=0, keepdim=True), [[0, 1, 0]]),
                      (mt.argmax(x), 3), (np.argmax(x, axis=0), [1, 0, 1])):
        assert isinstance(got, mt.Tensor) and got.dtype == np.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.data, want)
    for got, want in ((mt.any(x == 4, 1), [False, True]), (x.all(dim=1), [False, True]),
                      (np.all(x), False), (mt.any(x, axis=(0, 1), keepdims=True), [[True]])):
        assert isinstance(got, mt.Tensor) and got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.data, want)
    with pytest.raises(ValueError, match="argmax: cannot reduce an empty"):
        mt.argmax(mt.zeros((2, 0)), axis=1)


def test_numpy_functions_run_the_scan_ops() -> None:
    x = mt.tensor([[1.0, -2.0, 3.0], [0.5, 2.0, -1.0]], requires_grad=True)
    for y, name in ((np.prod(x, axis=1), "Prod"), (np.cumsum(x, 0), "CumSum"),
                    (np.cumprod(x, axis=1), "CumProd"), (np.sort(x), "Sort"),
                    (x.cumsum(dim=1), "CumSum"), (x.norm(), "VectorNorm"),
                    (x.var(1), "Var"), (x.std(), "Std")):
        assert type(y.grad_fn).__name__ == name
    np.testing.assert_array_equal(np.argsort(x).data, np.argsort(x.data))
    np.testing.assert_array_equal(np.sort(x, axis=None).data, np.sort(x.data, axis=None))


def test_scan_ops_refuse_bad_arguments_naming_the_op() -> None:
    x = mt.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="cumsum: give axis or dim"):
        mt.cumsum(x, 0, dim=1)
    with pytest.raises(ValueError, match="cumprod: axis 2 is out of bounds"):
        mt.cumprod(x, 2)
    with pytest.raises(TypeError, match="prod: keepdims must be a bool"):
        mt.prod(x, 0, "yes")
    with pytest.raises(TypeError, match="sort: order="):
        mt.sort(x, order="f")
    with pytest.raises(TypeError, match="topk: k must be an int"):
        mt.topk(x, 1.5)


def test_median_is_numpys_and_its_gradient_is_torch_quantiles() -> None:
    a = np.random.default_rng(6).permutation(24).reshape(4, 6) / 5.0
    for axis in (0, 1, None):
        th = (lambda t: torch.quantile(t, 0.5)) if axis is None else (
            lambda t, d=axis: torch.quantile(t, 0.5, dim=d))
        _assert_pairs_close(*_grads_and_hvp(lambda t, d=axis: mt.median(t, d), th, a))
    np.testing.assert_allclose(mt.median(a, (0, 1), keepdims=True).data,
                               np.median(a, axis=(0, 1), keepdims=True))
    b = a.copy()
    b[1, 2] = np.nan
    np.testing.assert_array_equal(np.isnan(mt.median(b, 1).data), [False, True, False, False])
    assert np.median(mt.tensor(a, requires_grad=True), axis=0).requires_grad


def test_numpy_linalg_norm_runs_mt_norm() -> None:
    x = mt.tensor([[3.0, -4.0], [1.0, 2.0]], requires_grad=True)
    for args in ((), (None, 1), (np.inf, 0), (1,), ("fro",)):
        y = np.linalg.norm(x, *args)
        assert y.requires_grad
        np.testing.assert_allclose(y.data, np.linalg.norm(x.data, *args))


def test_logcumsumexp_second_order_with_zeros_in_the_incoming_gradient() -> None:
    # exact zeros in the gradient reaching logcumsumexp (a saturated tanh after it gives them):
    # PyTorch's double backward is wrong there (its gradgradcheck fails); this one is exact
    x = mt.tensor([-1.36466515, -2.13968009, 3.77165049], requires_grad=True)
    for w in ([1.0, 0.0, 0.5], [0.3, 0.7, 0.0], [-1.0, 0.5, 0.0], [0.0, 0.0, 0.0]):
        assert mt.gradgradcheck(lambda t, w=w: (mt.logcumsumexp(t, 0) * mt.tensor(w)).sum(), [x])
