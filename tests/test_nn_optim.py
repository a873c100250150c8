"""nn.optim and nn.utils: each optimizer's step against a hand-computed NumPy step (and against
PyTorch where installed), schedules' learning-rate sequences, gradient clipping."""

import math

import numpy as np
import pytest

import microtensor as mt
import nn

STEPS = 4


def _problem(seed=0, dtype=np.float64):
    """A parameter, and a fixed gradient per step (as if from a loss)."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=(3, 2)).astype(dtype)
    grads = [rng.normal(size=(3, 2)).astype(dtype) for _ in range(STEPS)]
    return w0, grads


def _run(make_opt, w0, grads):
    p = nn.Parameter(w0)
    opt = make_opt([p])
    for g in grads:
        p.grad = mt.Tensor(g.copy())
        opt.step()
    return p.data


def _sgd_reference(w0, grads, lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False):
    w, buf = w0.copy(), None
    for g in grads:
        d = g + wd * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


def _adam_reference(w0, grads, lr, betas=(0.9, 0.999), eps=1e-8, wd=0.0, decoupled=False,
                    amsgrad=False):
    b1, b2 = betas
    w, m, v, vmax = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2**t)
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(vhat) + eps)
    return w


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.8, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1, "nesterov": True},
]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_step_matches_hand_computed(kw):
    w0, grads = _problem()
    got = _run(lambda ps: nn.optim.SGD(ps, **kw), w0, grads)
    ref_kw = {("wd" if k == "weight_decay" else k): v for k, v in kw.items()}
    np.testing.assert_allclose(got, _sgd_reference(w0, grads, **ref_kw), rtol=1e-13, atol=1e-15)


ADAM_CASES = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "amsgrad": True},
]


@pytest.mark.parametrize("kw", ADAM_CASES)
@pytest.mark.parametrize("cls", [nn.optim.Adam, nn.optim.AdamW])
def test_adam_step_matches_hand_computed(cls, kw):
    w0, grads = _problem(1)
    got = _run(lambda ps: cls(ps, **kw), w0, grads)
    decoupled = cls is nn.optim.AdamW
    wd = kw.get("weight_decay", 1e-2 if decoupled else 0.0)
    expected = _adam_reference(w0, grads, kw.get("lr", 1e-3), kw.get("betas", (0.9, 0.999)),
                               kw.get("eps", 1e-8), wd, decoupled, kw.get("amsgrad", False))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("ours", "theirs", "kw"),
    [("SGD", "SGD", c) for c in SGD_CASES]
    + [(name, name, c) for name in ("Adam", "AdamW") for c in ADAM_CASES],
)
def test_optimizers_match_torch_when_installed(ours, theirs, kw):
    torch = pytest.importorskip("torch")
    w0, grads = _problem(2)
    kw = {"lr": 1e-3, **kw}
    got = _run(lambda ps: getattr(nn.optim, ours)(ps, **kw), w0, grads)
    tp = torch.nn.Parameter(torch.tensor(w0))
    topt = getattr(torch.optim, theirs)([tp], **kw)
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(got, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_optimizer_step_builds_no_graph_and_skips_params_without_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = nn.optim.SGD([a, b], lr=0.5)
    (a * a).sum().backward(create_graph=True)
    data_before = a.data
    opt.step()
    assert a.is_leaf and a.grad_fn is None and a.data is data_before  # updated in place
    np.testing.assert_allclose(a.data, [0.0, 0.0])
    np.testing.assert_allclose(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None


def test_optimizer_param_groups_have_their_own_lr():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = nn.optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    a.grad, b.grad = mt.ones(1), mt.ones(1)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.0])


def test_optimizer_rejects_bad_arguments():
    p = nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match="empty"):
        nn.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        nn.optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        nn.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        nn.optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="more than one"):
        nn.optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        nn.optim.SGD([np.ones(1)], lr=0.1)
    with pytest.raises(ValueError, match="leaf"):
        nn.optim.SGD([p * 2], lr=0.1)


def test_optimizer_step_closure_returns_loss():
    p = nn.Parameter(np.array([3.0]))
    opt = nn.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0 and p.item() == 1.5


def test_optimizers_minimise_a_quadratic():
    target = np.array([1.0, -2.0, 3.0])
    for make in (lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=0.9),
                 lambda ps: nn.optim.Adam(ps, lr=0.1), lambda ps: nn.optim.AdamW(ps, lr=0.1)):
        p = nn.Parameter(np.zeros(3))
        opt = make([p])
        for _ in range(300):
            opt.zero_grad()
            ((p - target) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(p.data, target, atol=0.05)


def _lrs(make_sched, n=8, lr=1.0):
    opt = nn.optim.SGD([nn.Parameter(np.ones(1))], lr=lr)
    sched = make_sched(opt)
    out = [sched.get_last_lr()[0]]
    for _ in range(n - 1):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
    return out


def test_schedulers_lr_sequences():
    np.testing.assert_allclose(
        _lrs(lambda o: nn.optim.StepLR(o, step_size=3, gamma=0.5)),
        [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    np.testing.assert_allclose(
        _lrs(lambda o: nn.optim.ExponentialLR(o, gamma=0.9), lr=0.1),
        [0.1 * 0.9**k for k in range(8)], rtol=1e-14)
    cos = _lrs(lambda o: nn.optim.CosineAnnealingLR(o, T_max=4, eta_min=0.1), n=9)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(9)]
    np.testing.assert_allclose(cos, expected, rtol=1e-14)
    assert cos[4] == pytest.approx(0.1) and cos[8] == pytest.approx(1.0)
    np.testing.assert_allclose(_lrs(lambda o: nn.optim.LambdaLR(o, lambda e: 1 / (e + 1)), n=4),
                               [1, 1 / 2, 1 / 3, 1 / 4])


@pytest.mark.parametrize(
    ("ours", "theirs", "kw"),
    [("StepLR", "StepLR", {"step_size": 3, "gamma": 0.5}),
     ("ExponentialLR", "ExponentialLR", {"gamma": 0.9}),
     ("CosineAnnealingLR", "CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01})],
)
def test_schedulers_match_torch_when_installed(ours, theirs, kw):
    torch = pytest.importorskip("torch")
    ours_lrs = _lrs(lambda o: getattr(nn.optim, ours)(o, **kw), n=6, lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    tsched = getattr(torch.optim.lr_scheduler, theirs)(topt, **kw)
    theirs_lrs = [tsched.get_last_lr()[0]]
    for _ in range(5):
        topt.step()
        tsched.step()
        theirs_lrs.append(tsched.get_last_lr()[0])
    np.testing.assert_allclose(ours_lrs, theirs_lrs, rtol=1e-12)


def test_clip_grad_norm_scales_to_max_norm_and_returns_total():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1))
    a.grad, b.grad = mt.tensor([3.0, 0.0]), mt.tensor([4.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad.data, b.grad.data]),
                               np.array([3.0, 0.0, 4.0]) / (5.0 + 1e-6))
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    a.grad = mt.tensor([-3.0, 0.5])
    assert nn.utils.clip_grad_norm_(a, 10.0, norm_type=math.inf) == 3.0
    nn.utils.clip_grad_value_([a], 1.0)
    np.testing.assert_allclose(a.grad.data, [-1.0, 0.5])
    assert nn.utils.clip_grad_norm_([nn.Parameter(np.ones(1))], 1.0) == 0.0


def test_clip_grad_norm_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).normal(size=(4, 3))
    p = nn.Parameter(np.zeros((4, 3)))
    p.grad = mt.Tensor(g.copy())
    tp = torch.nn.Parameter(torch.zeros(4, 3, dtype=torch.float64))
    tp.grad = torch.tensor(g)
    ours = nn.utils.clip_grad_norm_([p], 0.5)
    theirs = torch.nn.utils.clip_grad_norm_([tp], 0.5)
    assert ours == pytest.approx(float(theirs), rel=1e-12)
    np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12)


def test_optimizer_state_dict_round_trip_resumes_identically():
    w0, grads = _problem(3)
    full = _run(lambda ps: nn.optim.Adam(ps, lr=0.01, weight_decay=0.1), w0, grads)
    p = nn.Parameter(w0)
    opt = nn.optim.Adam([p], lr=0.01, weight_decay=0.1)
    for g in grads[:2]:
        p.grad = mt.Tensor(g.copy())
        opt.step()
    saved = opt.state_dict()
    q = nn.Parameter(p.data)
    resumed = nn.optim.Adam([q], lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.01
    for g in grads[2:]:
        q.grad = mt.Tensor(g.copy())
        resumed.step()
    assert q.data.tobytes() == full.tobytes()
    with pytest.raises(ValueError, match="sizes"):
        nn.optim.SGD([q, nn.Parameter(np.ones(1))], lr=0.1).load_state_dict(saved)
