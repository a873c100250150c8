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


# ---------------------------------------------------------------- issue 17
RMSPROP_CASES = [{}, {"alpha": 0.9, "eps": 1e-6}, {"weight_decay": 0.1},
                 {"momentum": 0.9}, {"centered": True},
                 {"momentum": 0.5, "centered": True, "weight_decay": 0.05}]
ADAGRAD_CASES = [{}, {"lr_decay": 0.1}, {"weight_decay": 0.1},
                 {"initial_accumulator_value": 0.5, "eps": 1e-6},
                 {"lr_decay": 0.05, "weight_decay": 0.02, "initial_accumulator_value": 0.1}]


def _torch_run(torch, name, kw, w0, grads):
    tp = torch.nn.Parameter(torch.tensor(w0))
    topt = getattr(torch.optim, name)([tp], **kw)
    out = []
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
        out.append(tp.detach().numpy().copy())
    return out


@pytest.mark.parametrize(("name", "kw"), [("RMSprop", c) for c in RMSPROP_CASES]
                         + [("Adagrad", c) for c in ADAGRAD_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop_adagrad_match_torch_every_step(name, kw, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(3, 4)).astype(dtype)
    grads = [rng.normal(size=(3, 4)).astype(dtype) for _ in range(20)]
    kw = {"lr": 1e-2, **kw}
    p = nn.Parameter(w0.copy())
    opt = getattr(nn.optim, name)([p], **kw)
    expected = _torch_run(torch, name, kw, w0, grads)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-14}
    for step, (g, want) in enumerate(zip(grads, expected)):
        p.grad = mt.Tensor(g)
        opt.step()
        assert p.dtype == dtype
        np.testing.assert_allclose(p.data, want, **tol, err_msg=f"{name} {kw} step {step}")


@pytest.mark.parametrize(("name", "kw"), [("RMSprop", {"momentum": 0.9, "centered": True}),
                                          ("Adagrad", {"lr_decay": 0.1})])
def test_rmsprop_adagrad_state_dict_round_trip_resumes_identically(name, kw):
    rng = np.random.default_rng(4)
    w0 = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(20)]
    a = nn.Parameter(w0.copy())
    opt_a = getattr(nn.optim, name)([a], lr=0.05, **kw)
    for g in grads[:10]:
        a.grad = mt.Tensor(g)
        opt_a.step()
    saved = opt_a.state_dict()
    b = nn.Parameter(a.data.copy())
    opt_b = getattr(nn.optim, name)([b], lr=0.05)  # hyperparameters come from the dict
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[0]["lr"] == 0.05 and opt_b.state[b]["step"] == 10
    for g in grads[10:]:
        a.grad, b.grad = mt.Tensor(g), mt.Tensor(g)
        opt_a.step()
        opt_b.step()
    np.testing.assert_array_equal(a.data, b.data)
    bad = opt_a.state_dict()
    key = "square_avg" if name == "RMSprop" else "sum"
    bad["state"][0][key] = np.zeros(4)
    with pytest.raises(ValueError, match=rf"state '{key}' of parameter 0 has shape \(4,\)"):
        opt_b.load_state_dict(bad)


def test_rmsprop_adagrad_reject_bad_arguments_by_name():
    p = nn.Parameter(np.zeros(2))
    for cls, kw, name in [(nn.optim.RMSprop, {"alpha": -0.1}, "alpha"),
                          (nn.optim.RMSprop, {"momentum": float("nan")}, "momentum"),
                          (nn.optim.RMSprop, {"eps": "x"}, "eps"),
                          (nn.optim.Adagrad, {"lr_decay": -1}, "lr_decay"),
                          (nn.optim.Adagrad, {"initial_accumulator_value": -1},
                           "initial_accumulator_value")]:
        with pytest.raises((ValueError, TypeError), match=name):
            cls([p], **kw)
    with pytest.raises(TypeError, match="centered"):
        nn.optim.RMSprop([p], centered="yes")


def _schedule(torch_mod, make, opt_name, n, opt_kw, metrics=None):
    """The lr (and momentum) after construction and after each of n steps."""
    if torch_mod is None:
        opt = getattr(nn.optim, opt_name)([nn.Parameter(np.ones(1)),
                                           ], **opt_kw)
    else:
        opt = getattr(torch_mod.optim, opt_name)([torch_mod.nn.Parameter(torch_mod.ones(1))],
                                                 **opt_kw)
    sched = make(opt)

    def now():
        g = opt.param_groups[0]
        m = g["betas"][0] if "betas" in g else g.get("momentum")
        return (float(g["lr"]), None if m is None else float(m))

    seq = [now()]
    for i in range(n):
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[i])
        seq.append(now())
    return seq


ONE_CYCLE_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"max_lr": 1.0, "total_steps": 30}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"max_lr": 0.5, "epochs": 4, "steps_per_epoch": 7,
                                           "pct_start": 0.4, "anneal_strategy": "linear"}),
    ("Adam", {"lr": 1e-3}, {"max_lr": 0.01, "total_steps": 25, "three_phase": True,
                            "div_factor": 10.0, "final_div_factor": 100.0}),
    ("Adam", {"lr": 1e-3}, {"max_lr": 0.01, "total_steps": 20, "base_momentum": 0.8,
                            "max_momentum": 0.9, "anneal_strategy": "linear"}),
    ("SGD", {"lr": 0.1}, {"max_lr": 0.3, "total_steps": 12, "cycle_momentum": False}),
]


@pytest.mark.parametrize(("opt_name", "opt_kw", "kw"), ONE_CYCLE_CASES)
def test_one_cycle_lr_and_momentum_sequences_match_torch(opt_name, opt_kw, kw):
    torch = pytest.importorskip("torch")
    n = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    ours = _schedule(None, lambda o: nn.optim.OneCycleLR(o, **kw), opt_name, n - 1, opt_kw)
    theirs = _schedule(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(o, **kw),
                       opt_name, n - 1, opt_kw)
    np.testing.assert_allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float),
                               rtol=1e-12, atol=1e-15)


def test_one_cycle_refuses_stepping_past_the_end_and_bad_arguments():
    opt = nn.optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
    sched = nn.optim.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="total_steps is 3"):
        sched.step()
    assert opt.param_groups[0]["lr"] == lr and sched.last_epoch == 3  # nothing changed
    with pytest.raises(ValueError, match="total_steps, or both epochs and steps_per_epoch"):
        nn.optim.OneCycleLR(opt, max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="anneal_strategy"):
        nn.optim.OneCycleLR(opt, max_lr=1.0, total_steps=3, anneal_strategy="exp")
    with pytest.raises(ValueError, match="pct_start"):
        nn.optim.OneCycleLR(opt, max_lr=1.0, total_steps=3, pct_start=1.5)
    with pytest.raises(ValueError, match="one per parameter group"):
        nn.optim.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=3)
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        nn.optim.OneCycleLR(nn.optim.Adagrad([nn.Parameter(np.ones(1))]), max_lr=1.0,
                            total_steps=3)


PLATEAU_CASES = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "abs", "cooldown": 2},
    {"factor": 0.5, "patience": 0, "min_lr": 0.02, "threshold_mode": "rel", "threshold": 0.05},
    {"mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 0.5, "eps": 0.01},
]


@pytest.mark.parametrize("kw", PLATEAU_CASES)
def test_reduce_lr_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(kw))
    metrics = list(np.round(np.cumsum(rng.normal(-0.05, 0.5, 40)) + 10, 2))
    ours = _schedule(None, lambda o: nn.optim.ReduceLROnPlateau(o, **kw), "SGD", 40,
                     {"lr": 0.5}, metrics)
    theirs = _schedule(torch, lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kw),
                       "SGD", 40, {"lr": 0.5}, metrics)
    np.testing.assert_allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float),
                               rtol=1e-12)
    assert len({lr for lr, _ in ours}) > 1  # the schedule did reduce


def test_reduce_lr_on_plateau_errors_name_the_argument():
    opt = nn.optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    for kw, name in [({"factor": 1.0}, "factor"), ({"mode": "up"}, "mode"),
                     ({"threshold_mode": "pct"}, "threshold_mode"), ({"patience": -1},
                                                                     "patience"),
                     ({"min_lr": [0.1, 0.2]}, "min_lr")]:
        with pytest.raises(ValueError, match=name):
            nn.optim.ReduceLROnPlateau(opt, **kw)
    with pytest.raises(TypeError, match="metrics must be a number"):
        nn.optim.ReduceLROnPlateau(opt).step("low")


_ALL_SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.9**e}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 20}),
    ("ReduceLROnPlateau", {"patience": 1, "factor": 0.5}),
]


@pytest.mark.parametrize(("name", "kw"), _ALL_SCHEDULERS)
def test_every_scheduler_state_dict_round_trip_resumes_identically(name, kw):
    metrics = [5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]

    def make():
        opt = nn.optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
        return opt, getattr(nn.optim, name)(opt, **kw)

    def step(sched, i):
        sched.step(metrics[i]) if name == "ReduceLROnPlateau" else sched.step()

    opt_a, sched_a = make()
    for i in range(6):
        step(sched_a, i)
    state = sched_a.state_dict()
    import json

    assert json.loads(json.dumps(state)) is not None  # plain values only, no callables
    opt_b, sched_b = make()
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(state)
    for i in range(6, 15):
        step(sched_a, i)
        step(sched_b, i)
        assert sched_a.get_last_lr() == sched_b.get_last_lr()
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"]
        assert opt_a.param_groups[0]["momentum"] == opt_b.param_groups[0]["momentum"]


def test_scheduler_load_state_dict_refuses_unknown_keys_and_code():
    opt = nn.optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    sched = nn.optim.StepLR(opt, step_size=2)
    before = sched.state_dict()
    with pytest.raises(ValueError, match="unknown entry 'bogus'"):
        sched.load_state_dict({**before, "bogus": 1})
    with pytest.raises(TypeError, match="entry 'gamma' must hold only numbers"):
        sched.load_state_dict({**before, "gamma": print})
    with pytest.raises(ValueError, match="'base_lrs' has 2 values"):
        sched.load_state_dict({**before, "base_lrs": [0.1, 0.2]})
    assert sched.state_dict() == before
