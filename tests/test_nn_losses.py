"""nn.functional losses and the loss modules: NumPy references, gradcheck, stability, errors."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microtensor as mt
import nn
import nn.functional as F

REDUCTIONS = ("mean", "sum", "none")


def _reduce(a, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](a)


def _log_softmax(a):
    m = a.max(axis=-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=-1, keepdims=True))


def _t(a):
    return mt.Tensor(np.array(a, dtype=np.float64), requires_grad=True)


floats = st.floats(-5, 5, allow_nan=False, width=64)
batches = st.tuples(st.integers(1, 6), st.integers(2, 5))


@st.composite
def logits_and_labels(draw):
    n, c = draw(batches)
    logits = draw(hnp.arrays(np.float64, (n, c), elements=floats))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return logits, labels


@st.composite
def pairs(draw, lo=-5.0, hi=5.0, tlo=-5.0, thi=5.0):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False)))
    y = draw(hnp.arrays(np.float64, shape, elements=st.floats(tlo, thi, allow_nan=False)))
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=pairs())
def test_mse_loss_matches_numpy(data, reduction):
    x, y = data
    got = F.mse_loss(mt.Tensor(x), y, reduction).data
    np.testing.assert_allclose(got, _reduce((x - y) ** 2, reduction), rtol=1e-12, atol=1e-12)
    l1 = F.l1_loss(mt.Tensor(x), y, reduction).data
    np.testing.assert_allclose(l1, _reduce(np.abs(x - y), reduction), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=pairs(lo=0.01, hi=0.99, tlo=0.0, thi=1.0))
def test_binary_cross_entropy_matches_numpy(data, reduction):
    p, y = data
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    got = F.binary_cross_entropy(mt.Tensor(p), y, reduction=reduction).data
    np.testing.assert_allclose(got, _reduce(expected, reduction), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=pairs(lo=-30.0, hi=30.0, tlo=0.0, thi=1.0))
def test_binary_cross_entropy_with_logits_matches_numpy(data, reduction):
    x, y = data
    expected = np.logaddexp(0, x) - x * y
    got = F.binary_cross_entropy_with_logits(mt.Tensor(x), y, reduction=reduction).data
    np.testing.assert_allclose(got, _reduce(expected, reduction), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=logits_and_labels())
def test_cross_entropy_and_nll_match_numpy(data, reduction):
    logits, labels = data
    lsm = _log_softmax(logits)
    expected = _reduce(-lsm[np.arange(len(labels)), labels], reduction)
    for target in (labels, labels.tolist(), mt.Tensor(labels)):
        got = F.cross_entropy(mt.Tensor(logits), target, reduction).data
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    nll = F.nll_loss(mt.Tensor(lsm), labels, reduction).data
    np.testing.assert_allclose(nll, expected, rtol=1e-10, atol=1e-12)
    onehot = F.one_hot(labels, logits.shape[1])
    probs = F.cross_entropy(mt.Tensor(logits), onehot, reduction).data
    np.testing.assert_allclose(probs, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_gradcheck(reduction):
    rng = np.random.default_rng(0)
    x = _t(rng.normal(size=(4, 3)))
    y = rng.uniform(size=(4, 3))
    p = _t(rng.uniform(0.05, 0.95, size=(4, 3)))
    labels = np.array([0, 2, 1, 2])
    cases = [
        (lambda a: F.mse_loss(a, y, reduction), x),
        (lambda a: F.l1_loss(a, y + 3, reduction), x),
        (lambda a: F.binary_cross_entropy(a, y, reduction=reduction), p),
        (lambda a: F.binary_cross_entropy(a, y, weight=np.arange(3.0), reduction=reduction), p),
        (lambda a: F.binary_cross_entropy_with_logits(a, y, reduction=reduction), x),
        (lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=np.array([1.0, 2, 3]),
                                                      reduction=reduction), x),
        (lambda a: F.cross_entropy(a, labels, reduction), x),
        (lambda a: F.cross_entropy(a, y / y.sum(1, keepdims=True), reduction), x),
        (lambda a: F.nll_loss(a.log_softmax(), labels, reduction), x),
    ]
    for fn, inp in cases:
        assert mt.gradcheck(fn, [inp])


def test_losses_gradcheck_with_respect_to_targets_and_second_order():
    rng = np.random.default_rng(1)
    x, y = _t(rng.normal(size=(3, 2))), _t(rng.uniform(0.1, 0.9, size=(3, 2)))
    p = _t(rng.uniform(0.1, 0.9, size=(3, 2)))
    assert mt.gradcheck(F.binary_cross_entropy, [p, y])
    assert mt.gradcheck(F.binary_cross_entropy_with_logits, [x, y])
    assert mt.gradcheck(F.mse_loss, [x, y])
    assert mt.gradgradcheck(F.binary_cross_entropy, [p, y])
    assert mt.gradgradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y), [x])
    assert mt.gradgradcheck(lambda a: F.cross_entropy(a, [0, 1, 1]), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_stable_at_huge_logits(dtype):
    a = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [1e4, 1e4, -1e4]], dtype=dtype)
    y = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1]], dtype=dtype)
    cases = [
        lambda x: F.cross_entropy(x, [1, 0, 2]),
        lambda x: F.cross_entropy(x, y / y.sum(1, keepdims=True)),
        lambda x: F.nll_loss(x.log_softmax(), [0, 2, 1]),
        lambda x: F.binary_cross_entropy_with_logits(x, y),
        lambda x: F.binary_cross_entropy_with_logits(x, y, pos_weight=np.full(3, 2.0)),
        lambda x: F.binary_cross_entropy(x.sigmoid(), y),
        lambda x: F.mse_loss(x.softmax(), y),
    ]
    for fn in cases:
        x = mt.Tensor(a.copy(), requires_grad=True)
        loss = fn(x)
        loss.backward()
        assert loss.dtype == dtype and x.grad.dtype == dtype
        assert np.isfinite(loss.data).all() and np.isfinite(x.grad.data).all()


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = mt.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, [1.0, 0.0, 0.0, 1.0], reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(p.grad.data).all()
    np.testing.assert_allclose(p.grad.data, [-1e12, 1e12, 0.0, 0.0])


def test_cross_entropy_probabilities_match_soft_label_formula():
    rng = np.random.default_rng(2)
    logits, probs = rng.normal(size=(5, 4)), rng.dirichlet(np.ones(4), size=5)
    got = F.cross_entropy(mt.Tensor(logits), probs, reduction="none").data
    np.testing.assert_allclose(got, -(probs * _log_softmax(logits)).sum(-1), rtol=1e-12)


def test_cross_entropy_single_sample_and_extra_axes():
    logits = np.array([0.5, 1.5, -1.0])
    got = F.cross_entropy(mt.Tensor(logits), 1).data
    np.testing.assert_allclose(got, -_log_softmax(logits)[1])
    batch = np.random.default_rng(3).normal(size=(2, 3, 4))
    labels = np.array([[0, 1, 3], [2, 2, 0]])
    # PyTorch's layout: the class axis is axis 1, (N, C, d1) logits with (N, d1) labels
    got = F.cross_entropy(mt.Tensor(np.moveaxis(batch, -1, 1)), labels, reduction="none").data
    lsm = _log_softmax(batch)
    np.testing.assert_allclose(got, -np.take_along_axis(lsm, labels[..., None], -1)[..., 0])


def test_class_label_errors_name_the_bad_label():
    x = mt.zeros(3, 4)
    with pytest.raises(ValueError, match=r"class label 4 at index 1 .* for 4 classes"):
        F.cross_entropy(x, [0, 4, 1])
    with pytest.raises(ValueError, match=r"class label -1 at index 2"):
        F.nll_loss(x, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match=r"class label 1.5 at index 1 is not a whole number"):
        F.cross_entropy(x, [0.0, 1.5, 1.0])
    with pytest.raises(ValueError, match=r"class label nan at index 0"):
        F.cross_entropy(x, [np.nan, 1.0, 1.0])
    with pytest.raises(TypeError, match="must be integers, got dtype bool"):
        F.cross_entropy(x, [True, False, True])
    whole = F.cross_entropy(x, mt.tensor([0, 3, 1]))  # mt.tensor makes float64 labels
    assert whole.item() == F.cross_entropy(x, [0, 3, 1]).item()
    with pytest.raises(ValueError, match=r"labels of shape \(2,\)"):
        F.cross_entropy(x, [0, 1])
    with pytest.raises(ValueError, match="0-d"):
        F.cross_entropy(mt.tensor(1.0), 0)


def test_loss_errors_for_bad_reduction_shapes_and_probabilities():
    x = mt.zeros(3, 1)
    for fn in (F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match="reduction"):
            fn(x, np.zeros((3, 1)), reduction="avg")
        with pytest.raises(ValueError, match=r"target shape \(3,\) differs"):
            fn(x, np.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="max")
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(mt.tensor([0.5, 1.5]), [0.0, 1.0])


def test_loss_modules_match_functional():
    rng = np.random.default_rng(4)
    x, y = mt.Tensor(rng.normal(size=(4, 3))), rng.uniform(size=(4, 3))
    p = x.sigmoid()
    labels = [0, 1, 2, 1]
    pairs_ = [
        (nn.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, "sum")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.BCELoss()(p, y), F.binary_cross_entropy(p, y)),
        (nn.BCEWithLogitsLoss(pos_weight=np.ones(3) * 2)(x, y),
         F.binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(3) * 2)),
        (nn.CrossEntropyLoss(reduction="none")(x, labels), F.cross_entropy(x, labels, "none")),
        (nn.NLLLoss()(x.log_softmax(), labels), F.nll_loss(x.log_softmax(), labels)),
    ]
    for a, b in pairs_:
        np.testing.assert_array_equal(a.data, b.data)
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_losses_match_torch_when_installed():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 4)) * 3, rng.uniform(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    p = 1 / (1 + np.exp(-x))
    pw = np.array([0.5, 1.0, 2.0, 3.0])
    tx, ty, tp = torch.tensor(x), torch.tensor(y), torch.tensor(p)
    for red in REDUCTIONS:
        checks = [
            (F.binary_cross_entropy(mt.Tensor(p), y, reduction=red),
             tf.binary_cross_entropy(tp, ty, reduction=red)),
            (F.binary_cross_entropy_with_logits(mt.Tensor(x), y, pos_weight=pw, reduction=red),
             tf.binary_cross_entropy_with_logits(tx, ty, pos_weight=torch.tensor(pw),
                                                 reduction=red)),
            (F.cross_entropy(mt.Tensor(x), labels, red),
             tf.cross_entropy(tx, torch.tensor(labels), reduction=red)),
            (F.cross_entropy(mt.Tensor(x), y, red), tf.cross_entropy(tx, ty, reduction=red)),
        ]
        for ours, theirs in checks:
            np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    edge = np.array([0.0, 1.0, 0.3])
    ours = mt.Tensor(edge.copy(), requires_grad=True)
    theirs = torch.tensor(edge, requires_grad=True)
    F.binary_cross_entropy(ours, [1.0, 0.0, 1.0], reduction="sum").backward()
    tf.binary_cross_entropy(theirs, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
                         reduction="sum").backward()
    # torch keeps its 1e-12 floor in float32 (9.99999996e-13), hence rtol 1e-8
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-8)


def test_activation_functions_extra():
    a = np.array([-50.0, -1.0, 0.5, 800.0])
    np.testing.assert_allclose(F.softplus(mt.Tensor(a)).data, np.logaddexp(0, a), rtol=1e-12)
    x = mt.Tensor(a[:3], requires_grad=True)
    assert mt.gradcheck(F.softplus, [x]) and mt.gradgradcheck(F.softplus, [x])
    small = F.binary_cross_entropy_with_logits(mt.tensor([40.0, -40.0]), [1.0, 0.0],
                                               reduction="none")
    np.testing.assert_allclose(small.data, np.logaddexp(0, -40.0), rtol=1e-12)
    np.testing.assert_allclose(F.leaky_relu(mt.Tensor(a), 0.1).data, np.where(a > 0, a, 0.1 * a))
    w, b = mt.ones(4, 2), mt.ones(2)
    np.testing.assert_allclose(F.linear(mt.Tensor(a[None]), w, b).data, [[a.sum() + 1] * 2])
    with pytest.raises(ValueError, match="out of range"):
        F.one_hot([0, 3], 3)


@pytest.mark.parametrize("loss, name", [
    (lambda p, y, w: F.binary_cross_entropy(p, y, weight=w, reduction="none"), "weight"),
    (lambda p, y, w: F.binary_cross_entropy(p, y, weight=w), "weight"),
    (lambda p, y, w: F.binary_cross_entropy_with_logits(p, y, weight=w), "weight"),
    (lambda p, y, w: F.binary_cross_entropy_with_logits(p, y, pos_weight=w), "pos_weight"),
    (lambda p, y, w: nn.BCELoss(weight=w, reduction="sum")(p, y), "weight"),
])
def test_bce_weight_that_would_enlarge_the_loss_is_refused(loss, name):
    # as PyTorch: a weight scales each element's loss; it must broadcast to the input's shape
    p0 = _t(0.3)
    with pytest.raises(ValueError, match=rf"{name} of shape \(3,\) does not broadcast to the "
                                         r"input's shape \(\)"):
        loss(p0, 1.0, np.ones(3))
    p = _t(np.full((2, 3), 0.3))
    with pytest.raises(ValueError, match=rf"{name} of shape \(4, 1, 1\)"):
        loss(p, np.ones((2, 3)), np.ones((4, 1, 1)))
    assert p.grad is None
    for w in (np.arange(3.0), np.ones((2, 1)), 2.0):  # these broadcast to (2, 3): allowed
        assert loss(p, np.ones((2, 3)), w).shape in ((2, 3), ())


# ---------------------------------------------------------------- issue 17: PyTorch's options
def _layouts(a):
    """The same values as C-ordered, Fortran-ordered and transposed-then-back arrays."""
    return {"c": np.ascontiguousarray(a), "fortran": np.asfortranarray(a),
            "transposed": np.ascontiguousarray(a.T).T}


def _labels_for(rng, shape, n_classes, ignore=True):
    label_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    labels = rng.integers(0, n_classes, size=label_shape)
    if ignore and labels.size > 1:
        labels.flat[1] = -100
    return labels


_CE_OPTIONS = [{}, {"weight": True}, {"label_smoothing": 0.2},
               {"weight": True, "label_smoothing": 0.3, "ignore_index": 2}]


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2), (2, 5, 3, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_nll_options_match_torch(shape, dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(sum(shape))
    n_classes = 5
    weight = rng.uniform(0.5, 2.0, n_classes).astype(dtype)
    labels = _labels_for(rng, shape, n_classes)
    tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10,
                                                                      "atol": 1e-12}
    for layout, arr in _layouts((rng.normal(size=shape) * 2).astype(dtype)).items():
        for opts in _CE_OPTIONS:
            for red in REDUCTIONS:
                for ours_fn, theirs_fn in ((F.cross_entropy, tf.cross_entropy),
                                           (F.nll_loss, tf.nll_loss)):
                    if ours_fn is F.nll_loss and "label_smoothing" in opts:
                        continue
                    kw = dict(opts, reduction=red)
                    tkw = dict(kw)
                    if opts.get("weight"):
                        kw["weight"], tkw["weight"] = weight, torch.tensor(weight)
                    x = mt.Tensor(arr, requires_grad=True)
                    # torch gets a C-ordered copy: its nll_loss2d backward refuses others
                    tx = torch.tensor(np.ascontiguousarray(arr), requires_grad=True)
                    lab = np.where(labels == -100, opts.get("ignore_index", -100), labels)
                    ours = ours_fn(x, lab, **kw)
                    theirs = theirs_fn(tx, torch.tensor(lab), **tkw)
                    assert ours.dtype == dtype and ours.shape == tuple(theirs.shape)
                    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol,
                                               err_msg=f"{ours_fn.__name__} {layout} {opts}")
                    g = rng.normal(size=ours.shape).astype(dtype)
                    ours.backward(g)
                    theirs.backward(torch.tensor(g))
                    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), **tol,
                                               err_msg=f"{ours_fn.__name__} {layout} {opts}")


@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 5, 2)])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.25},
                                  {"weight": True, "label_smoothing": 0.1}])
def test_cross_entropy_probability_targets_match_torch(shape, opts):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    probs = np.moveaxis(rng.dirichlet(np.ones(5), size=shape[:1] + shape[2:] if
                                      len(shape) > 1 else ()), -1, min(1, len(shape) - 1))
    weight = rng.uniform(0.5, 2.0, 5)
    for red in REDUCTIONS:
        kw = dict(opts, reduction=red)
        tkw = dict(kw)
        if opts.get("weight"):
            kw["weight"], tkw["weight"] = weight, torch.tensor(weight)
        a, ta = _t(x), torch.tensor(x, requires_grad=True)
        ours = F.cross_entropy(a, probs, **kw)
        theirs = torch.nn.functional.cross_entropy(ta, torch.tensor(probs), **tkw)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_entropy_options_gradcheck_and_second_order():
    rng = np.random.default_rng(2)
    x = _t(rng.normal(size=(3, 4, 2)))
    labels = np.array([[0, -100], [3, 1], [2, 2]])
    w = _t(rng.uniform(0.5, 2.0, 4))
    probs = np.moveaxis(rng.dirichlet(np.ones(4), size=(3, 2)), -1, 1)
    for red in REDUCTIONS:
        def ce(a, weight, red=red):
            return F.cross_entropy(a, labels, weight=weight, reduction=red, label_smoothing=0.2)

        def nll(a, weight, red=red):
            return F.nll_loss(a.log_softmax(axis=1), labels, weight=weight, reduction=red)

        def soft(a, weight, red=red):
            return F.cross_entropy(a, probs, weight=weight, reduction=red, label_smoothing=0.1)

        for fn in (ce, nll, soft):
            assert mt.gradcheck(fn, [x, w])  # the class weight is differentiable too
            assert mt.gradgradcheck(fn, [x, w])


def test_cross_entropy_plain_case_keeps_the_fused_node():
    x = _t(np.random.default_rng(0).normal(size=(4, 3)))
    assert type(F.cross_entropy(x, [0, 1, 2, 0]).grad_fn).__name__ == "SoftmaxCrossEntropy"
    # (N, C, d) logits: one transpose, then the same fused node
    y = _t(np.random.default_rng(0).normal(size=(2, 3, 5)))
    loss = F.cross_entropy(y, np.zeros((2, 5), dtype=int))
    assert type(loss.grad_fn).__name__ == "SoftmaxCrossEntropy"
    # only when a label is actually ignored does the general path run
    assert type(F.cross_entropy(x, [0, -100, 2, 0]).grad_fn).__name__ != "SoftmaxCrossEntropy"


def test_cross_entropy_all_ignored_mean_is_nan_and_sum_is_zero():
    x = _t(np.ones((2, 3)))
    assert np.isnan(F.cross_entropy(x, [-100, -100]).item())
    assert F.cross_entropy(x, [-100, -100], reduction="sum").item() == 0.0


def test_cross_entropy_option_errors_name_the_argument():
    x = mt.zeros(3, 4)
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(4,\)"):
        F.cross_entropy(x, [0, 1, 2], weight=np.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, [0, 1, 2], label_smoothing=1.5)
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        F.nll_loss(x, [0, 1, 2], ignore_index=0.5)
    with pytest.raises(ValueError, match=r"class label -7 .* or ignore_index=-100"):
        F.cross_entropy(x, [0, -7, 2])
    with pytest.raises(ValueError, match="class axis is axis 1"):
        F.cross_entropy(mt.zeros(2, 3, 4), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)


def test_cross_entropy_third_positional_argument_reduction_still_works():
    x = _t(np.random.default_rng(4).normal(size=(3, 4)))
    np.testing.assert_allclose(F.cross_entropy(x, [0, 1, 2], "sum").data,
                               F.cross_entropy(x, [0, 1, 2], reduction="sum").data)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's kl_div
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huber_smooth_l1_kl_div_cosine_match_torch(dtype):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    from microtensor.ops import losses as L

    rng = np.random.default_rng(3)
    tol = {"rtol": 2e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10,
                                                                      "atol": 1e-12}
    d, y = (rng.normal(size=(4, 3)) * 2).astype(dtype), rng.normal(size=(4, 3)).astype(dtype)
    lp = np.log(rng.dirichlet(np.ones(3), size=4)).astype(dtype)
    tp = rng.dirichlet(np.ones(3), size=4).astype(dtype)
    sign = np.array([1, -1, 1, -1])
    cases = [
        (lambda a, b, r: L.huber_loss(a, b, r, delta=0.7),
         lambda a, b, r: tf.huber_loss(a, b, reduction=r, delta=0.7), d, y),
        (lambda a, b, r: L.smooth_l1_loss(a, b, r, beta=0.6),
         lambda a, b, r: tf.smooth_l1_loss(a, b, reduction=r, beta=0.6), d, y),
        (lambda a, b, r: L.smooth_l1_loss(a, b, r, beta=0.0),
         lambda a, b, r: tf.smooth_l1_loss(a, b, reduction=r, beta=0.0), d, y),
        (L.kl_div, lambda a, b, r: tf.kl_div(a, b, reduction=r),
         lp, tp),
        (lambda a, b, r: L.kl_div(a, b, r, log_target=True),
         lambda a, b, r: tf.kl_div(a, b, reduction=r, log_target=True), lp, np.log(tp)),
        (lambda a, b, r: L.cosine_embedding_loss(a, b, sign, -0.2, r),
         lambda a, b, r: tf.cosine_embedding_loss(a, b, torch.tensor(sign), margin=-0.2,
                                                  reduction=r), d, y),
    ]
    for (ours_fn, theirs_fn, a0, b0), red, layout in itertools.product(
            cases, (*REDUCTIONS, "batchmean"), ("c", "fortran", "transposed")):
        if red == "batchmean" and ours_fn is not L.kl_div:
            continue
        # the input in each memory layout, the target C-ordered
        a = mt.Tensor(_layouts(a0)[layout], requires_grad=True)
        b = mt.Tensor(b0, requires_grad=True)
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a0, b0))
        ours, theirs = ours_fn(a, b, red), theirs_fn(ta, tb, red)
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **tol)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), **tol)
        np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), **tol)


def test_new_losses_gradcheck_second_order_and_modules():
    from microtensor.ops import losses as L

    rng = np.random.default_rng(8)
    a, b = _t(rng.normal(size=(3, 4)) * 2), _t(rng.normal(size=(3, 4)))
    lp = _t(np.log(rng.dirichlet(np.ones(4), size=3)))
    tp = _t(rng.dirichlet(np.ones(4), size=3))
    for fn, inputs in [(lambda x, y: L.huber_loss(x, y, delta=0.5), [a, b]),
                       (lambda x, y: L.smooth_l1_loss(x, y, beta=0.5), [a, b]),
                       (lambda x, y: L.kl_div(x, y, "batchmean"), [lp, tp]),
                       (lambda x, y: L.cosine_embedding_loss(x, y, [1, -1, 1], 0.1), [a, b])]:
        assert mt.gradcheck(fn, inputs)
        assert mt.gradgradcheck(fn, inputs)
    x, t = mt.Tensor(a.data), b.data
    assert nn.losses.HuberLoss(delta=0.5)(x, t).item() == L.huber_loss(x, t, delta=0.5).item()
    assert nn.losses.SmoothL1Loss(beta=2.0)(x, t).item() == L.smooth_l1_loss(x, t,
                                                                             beta=2.0).item()
    assert nn.losses.KLDivLoss("batchmean")(lp, tp).item() == L.kl_div(lp, tp,
                                                                       "batchmean").item()
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        nn.losses.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="reduction must be"):
        nn.losses.KLDivLoss("average")


def _jvp_of(op_call, arrays, tangents):
    """out.grad_fn.jvp(*tangents) for the fused op built by op_call on tensors."""
    xs = [mt.Tensor(a, requires_grad=True) for a in arrays]
    out = op_call(*xs)
    return out.grad_fn.jvp(*tangents)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_loss_jvp_matches_torch_func_jvp(reduction):
    torch = pytest.importorskip("torch")
    from torch.func import jvp

    from microtensor.ops import losses as L

    tf = torch.nn.functional
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p, q = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0.1, 0.9, (4, 3))
    tx, ty = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    labels = np.array([0, 2, 1, 1])
    T = torch.tensor
    checks = [
        (_jvp_of(L.Softplus.apply, [x], [tx]),
         jvp(tf.softplus, (T(x),), (T(tx),))[1]),
        (_jvp_of(lambda a, b: L.SquaredError.apply(a, b, reduction=reduction), [x, y],
                 [tx, ty]),
         jvp(lambda a, b: tf.mse_loss(a, b, reduction=reduction), (T(x), T(y)),
             (T(tx), T(ty)))[1]),
        (_jvp_of(lambda a, b: L.SquaredError.apply(a, b, reduction=reduction), [x, y],
                 [None, ty]),
         jvp(lambda b: tf.mse_loss(T(x), b, reduction=reduction), (T(y),), (T(ty),))[1]),
        (_jvp_of(lambda a, b: L.BinaryCrossEntropy.apply(a, b, reduction=reduction), [p, q],
                 [tx, ty]),
         jvp(lambda a, b: tf.binary_cross_entropy(a, b, reduction=reduction), (T(p), T(q)),
             (T(tx), T(ty)))[1]),
        (_jvp_of(lambda a: L.SoftmaxCrossEntropy.apply(a, labels=labels, reduction=reduction),
                 [x], [tx]),
         jvp(lambda a: tf.cross_entropy(a, T(labels), reduction=reduction), (T(x),),
             (T(tx),))[1]),
    ]
    for ours, theirs in checks:
        np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), rtol=1e-10, atol=1e-12)
    assert _jvp_of(L.Softplus.apply, [x], [None]) is None


def test_every_loss_passes_forward_mode_gradcheck():
    from microtensor.ops import losses as L

    rng = np.random.default_rng(12)
    x, y = _t(rng.normal(size=(4, 3))), rng.normal(size=(4, 3))
    p = _t(rng.uniform(0.1, 0.9, (4, 3)))
    x3 = _t(rng.normal(size=(2, 3, 2)))
    cases = [
        (lambda a: L.cross_entropy(a, [0, 1, 2, 1]), x),
        (lambda a: L.cross_entropy(a, [0, -100, 2, 1], weight=np.arange(1.0, 4.0),
                                   label_smoothing=0.1), x),
        (lambda a: L.cross_entropy(a, np.array([[0, 2], [1, 1]]), reduction="none"), x3),
        (lambda a: L.nll_loss(a, [0, 1, 2, 1], weight=np.arange(1.0, 4.0)), x),
        (lambda a: L.mse_loss(a, y), x),
        (lambda a: L.binary_cross_entropy(a, np.full((4, 3), 0.3), reduction="sum"), p),
        (lambda a: L.binary_cross_entropy_with_logits(a, np.full((4, 3), 0.3)), x),
        (L.softplus, x),
        (lambda a: L.huber_loss(a, y, delta=0.5), x),
        (lambda a: L.smooth_l1_loss(a, y, beta=0.5), x),
        (lambda a: L.kl_div(a, np.full((4, 3), 1 / 3), "batchmean"), x),
        (lambda a: L.cosine_embedding_loss(a, y, [1, -1, 1, -1]), x),
    ]
    for fn, inp in cases:
        assert mt.gradcheck(fn, [inp], check_forward_ad=True)
