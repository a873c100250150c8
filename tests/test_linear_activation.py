"""nn.Linear(..., activation=...): Linear and its activation as one graph node (ops/fused.py).

The fused ops must be indistinguishable from Linear followed by the activation module in
everything but the graph's shape: the same outputs and gradients bit for bit (any shapes,
any data, with or without bias, float32 or float64, batch axes), the same second
derivatives, the same errors, and the same training trace.
"""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import microtensor as mt
import nn
import nn.functional as F

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
OP_NAMES = {"sigmoid": "LinearSigmoid", "tanh": "LinearTanh", "relu": "LinearReLU"}


def _pair(act, n_in, n_out, bias, dtype, seed):
    """A fused layer and an unfused Sequential(Linear, activation) with the same weights."""
    mt.manual_seed(seed)
    fused = nn.Linear(n_in, n_out, bias=bias, dtype=dtype, activation=act)
    plain = nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
    plain.load_state_dict(fused.state_dict())
    return fused, nn.Sequential(plain, ACTIVATIONS[act]())


def _run(model, x, g):
    x = mt.Tensor(x.copy(), requires_grad=True)
    out = model(x)
    out.backward(g)
    grads = [x.grad] + [p.grad for p in model.parameters()]
    return out, grads


cases = st.tuples(
    st.sampled_from(sorted(ACTIVATIONS)),
    st.booleans(),
    st.sampled_from([np.float64, np.float32]),
    st.lists(st.integers(1, 4), min_size=0, max_size=2),  # batch axes before the features
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(0, 2**16),
)


@settings(max_examples=60, deadline=None)
@given(cases, st.data())
def test_fused_layer_is_bit_identical_to_linear_then_activation(case, data):
    act, bias, dtype, batch, n_in, n_out, seed = case
    elements = st.floats(-30, 30, width=32)
    x = data.draw(hnp.arrays(dtype, (*batch, n_in), elements=elements))
    g = data.draw(hnp.arrays(dtype, (*batch, n_out), elements=st.floats(-5, 5, width=32)))
    fused, plain = _pair(act, n_in, n_out, bias, dtype, seed)
    out_f, grads_f = _run(fused, x, g)
    out_p, grads_p = _run(plain, x, g)
    assert out_f.grad_fn.name == OP_NAMES[act]
    assert out_f.dtype == out_p.dtype == dtype
    np.testing.assert_array_equal(out_f.data, out_p.data)
    for a, b in zip(grads_f, grads_p):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_relu_slope_at_zero_is_one_half_like_relu():
    # z == 0 exactly (zero input, zero bias): Relu's gradient there is 0.5
    fused, plain = _pair("relu", 3, 2, True, np.float64, 0)
    for m in (fused, plain[0]):
        m.bias.data[...] = 0
    x = np.zeros((4, 3))
    x[0] = 1.0
    g = np.ones((4, 2))
    out_f, grads_f = _run(fused, x, g)
    out_p, grads_p = _run(plain, x, g)
    for a, b in zip(grads_f, grads_p):
        np.testing.assert_array_equal(a, b)
    # rows 1-3 have z == 0 (slope 0.5 each); row 0 has z = the weight's column sums
    z0 = x[0] @ fused.weight.data
    np.testing.assert_array_equal(grads_f[2], 3 * 0.5 + (z0 > 0))


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("bias", [True, False])
def test_fused_ops_pass_gradcheck_and_gradgradcheck(act, bias):
    rng = np.random.default_rng(7)
    x = mt.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w = mt.Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    inputs = [x, w]
    if bias:
        inputs.append(mt.Tensor(rng.normal(size=2), requires_grad=True))

    def fn(*args):
        return F.linear(*args[:2], args[2] if bias else None, activation=act)

    assert fn(*inputs).grad_fn.name == OP_NAMES[act]
    assert mt.gradcheck(fn, inputs)
    assert mt.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_second_derivatives_match_the_unfused_graph(act):
    fused, plain = _pair(act, 3, 2, True, np.float64, 3)
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(5, 3))
    results = []
    for model in (fused, plain):
        x = mt.Tensor(xs, requires_grad=True)
        (gx,) = mt.grad((model(x) ** 2).sum(), [x], create_graph=True)
        (ggx,) = mt.grad((gx * gx).sum(), [x])
        results.append((gx.data, ggx.data))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-14)


def test_only_the_inputs_that_need_gradients_get_them():
    fused, _ = _pair("sigmoid", 3, 2, True, np.float64, 1)
    x = mt.Tensor(np.ones((2, 3)))  # no grad wanted for the data
    fused(x).sum().backward()
    assert x.grad is None
    assert fused.weight.grad.shape == (3, 2) and fused.bias.grad.shape == (2,)
    fused.weight.requires_grad = False
    fused.zero_grad()
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    fused(x).sum().backward()
    assert fused.weight.grad is None and x.grad.shape == (2, 3)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_no_grad_and_plain_arrays(act):
    fused, plain = _pair(act, 3, 2, True, np.float64, 2)
    x = np.random.default_rng(2).normal(size=(6, 3))
    with mt.no_grad():
        out = fused(mt.Tensor(x))
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_array_equal(out.data, plain(x).data)
    np.testing.assert_array_equal(fused(x.tolist()).data, out.data)  # a list is converted


def test_a_seed_training_run_is_identical_fused_or_not():
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    traces = []
    for fused in (True, False):
        mt.manual_seed(0)
        if fused:
            model = nn.Sequential(nn.Linear(3, 4, bias=False, activation="sigmoid"),
                                  nn.Linear(4, 1, bias=False, activation="sigmoid"))
        else:
            model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Sigmoid(),
                                  nn.Linear(4, 1, bias=False), nn.Sigmoid())
        opt = nn.optim.SGD(model.parameters(), lr=1.0)
        loss_fn = nn.MSELoss(reduction="sum")
        trace = []
        for _ in range(200):
            opt.zero_grad()
            loss = loss_fn(model(mt.Tensor(X)), y)
            loss.backward()
            opt.step()
            trace.append(loss.item())
        traces.append(trace)
    assert traces[0] == traces[1]
    assert traces[0][-1] < traces[0][0]


def test_bad_activation_and_bad_shapes_are_named():
    with pytest.raises(ValueError, match="Linear: activation must be None, 'sigmoid'.*'softmax'"):
        nn.Linear(3, 2, activation="softmax")
    with pytest.raises(ValueError, match="activation must be"):
        nn.Linear(3, 2, activation=["relu"])
    with pytest.raises(ValueError, match="linear: activation must be"):
        F.linear(mt.ones(2, 3), mt.ones(3, 2), activation="Sigmoid")
    layer = nn.Linear(3, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"LinearTanh: linear: input of shape \(2, 4\)"):
        layer(mt.ones(2, 4))
    with pytest.raises(ValueError, match="activation must be.*'gelu'"):
        layer.activation = "gelu"  # changed after construction: refused, nothing changed
    assert layer.activation == "tanh" and layer(mt.ones(2, 3)).grad_fn.name == "LinearTanh"
    layer.activation = "relu"  # a valid change takes effect
    assert layer(mt.ones(2, 3)).grad_fn.name == "LinearReLU"


def test_repr_state_dict_and_pictures_show_the_fused_op():
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, activation="relu"), nn.Linear(4, 1))
    assert "activation='relu'" in repr(model)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    loss = model(mt.ones(5, 3)).sum()
    src = mt.viz.draw(loss).source
    assert "LinearReLU" in src and 'label="0: Linear  → ' in src  # the cluster, with its shape
    text = mt.viz.explain(loss, file=io.StringIO())
    assert any("LinearReLU -> (5, 4)   in Sequential > 0: Linear" in line
               for line in text.splitlines())
    assert "max(x @ weight + bias, 0)" in text  # the op's rule, from its docstring


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_special_values_give_the_same_outputs_and_gradients(act):
    # z = x @ w exactly: nan, +-inf, -0.0 and +0.0 pre-activations
    fused, plain = _pair(act, 1, 6, False, np.float64, 0)
    for m in (fused, plain[0]):
        m.weight.data[...] = [[np.nan, np.inf, -np.inf, -0.0, 0.0, -2.0]]
    x = np.ones((2, 1))
    g = np.full((2, 6), 3.0)
    with np.errstate(invalid="ignore"):
        out_f, grads_f = _run(fused, x, g)
        out_p, grads_p = _run(plain, x, g)
    np.testing.assert_array_equal(out_f.data, out_p.data)
    assert np.signbit(out_f.data).tolist() == np.signbit(out_p.data).tolist()
    for a, b in zip(grads_f, grads_p):
        np.testing.assert_array_equal(a, b)
