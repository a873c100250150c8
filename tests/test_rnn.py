"""Recurrent layers (nn.RNN, nn.GRU, nn.LSTM and their cells) against PyTorch with the same
weights, the fused sequence ops of microtensor/ops/rnn.py against central differences (first
and second order) and their forward-mode rules, and the errors for wrong shapes."""

from __future__ import annotations

import numpy as np
import pytest

import microtensor as mt
import nn
from microtensor.ops import rnn as ops

torch = pytest.importorskip("torch")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
LAYOUTS = ("C", "F", "transposed", "sliced")


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values as `a` in another memory layout."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "sliced":
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        return big[::2]
    return np.ascontiguousarray(a)


def _pair(cls_name: str, dtype, **kwargs):
    """A PyTorch layer and ours with the same weights (loaded from PyTorch's state dict)."""
    theirs = getattr(torch.nn, cls_name)(**kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, cls_name)(dtype=dtype, **kwargs)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def _close(ours, theirs, dtype, what: str) -> None:
    np.testing.assert_allclose(ours.data if isinstance(ours, mt.Tensor) else ours,
                               theirs.detach().numpy(), err_msg=what, **TOL[dtype])


CONFIGS = [
    dict(),
    dict(batch_first=True),
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(bias=False),
]


def _compare(cls_name: str, dtype, config: dict, with_h0: bool, unbatched: bool = False,
             layout: str = "C", **extra) -> None:
    rng = np.random.default_rng(len(cls_name) + len(config) + with_h0)
    in_size, hidden, steps, batch = 5, 4, 6, 3
    theirs, ours = _pair(cls_name, dtype, input_size=in_size, hidden_size=hidden,
                         **config, **extra)
    shape = (steps, in_size) if unbatched else (
        (batch, steps, in_size) if config.get("batch_first") else (steps, batch, in_size))
    x = _layout(rng.standard_normal(shape).astype(dtype), layout)
    layers = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    state_shape = (layers, hidden) if unbatched else (layers, batch, hidden)
    n_states = 2 if cls_name == "LSTM" else 1
    states = [rng.standard_normal(state_shape).astype(dtype) for _ in range(n_states)]
    tx = torch.tensor(x, requires_grad=True)
    mx = mt.Tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    ms = [mt.Tensor(s, requires_grad=True) for s in states]
    if with_h0:
        targ = tuple(ts) if cls_name == "LSTM" else ts[0]
        marg = tuple(ms) if cls_name == "LSTM" else ms[0]
        t_out, t_h = theirs(tx, targ)
        m_out, m_h = ours(mx, marg)
    else:
        t_out, t_h = theirs(tx)
        m_out, m_h = ours(mx)
    t_final = list(t_h) if cls_name == "LSTM" else [t_h]
    m_final = list(m_h) if cls_name == "LSTM" else [m_h]
    _close(m_out, t_out, dtype, "output")
    for a, b in zip(m_final, t_final):
        assert a.shape == tuple(b.shape)
        _close(a, b, dtype, "final state")
    # a loss that reaches every output and final state with different weights
    w_out = rng.standard_normal(m_out.shape).astype(dtype)
    t_loss = (t_out * torch.tensor(w_out)).sum() + sum((h ** 2).sum() for h in t_final)
    m_loss = (m_out * w_out).sum() + sum((h ** 2).sum() for h in m_final)
    t_loss.backward()
    m_loss.backward()
    _close(mx.grad, tx.grad, dtype, "input gradient")
    if with_h0:
        for a, b in zip(ms, ts):
            _close(a.grad, b.grad, dtype, "initial state gradient")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert params[name].grad.dtype == np.dtype(dtype)
        _close(params[name].grad, p.grad, dtype, f"gradient of {name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS,
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_recurrent_layer_matches_torch(cls_name: str, config: dict, dtype) -> None:
    _compare(cls_name, dtype, config, with_h0=True)


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_recurrent_layer_without_h0_starts_from_zeros(cls_name: str) -> None:
    _compare(cls_name, np.float64, dict(num_layers=2), with_h0=False)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("cls_name", ["GRU", "LSTM"])
def test_recurrent_layer_any_memory_layout(cls_name: str, layout: str) -> None:
    _compare(cls_name, np.float64, dict(bidirectional=True), with_h0=True, layout=layout)


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_recurrent_layer_unbatched_input(cls_name: str) -> None:
    _compare(cls_name, np.float64, dict(num_layers=2, bidirectional=True), with_h0=True,
             unbatched=True)
    _compare(cls_name, np.float32, dict(), with_h0=False, unbatched=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnn_relu_matches_torch(dtype) -> None:
    _compare("RNN", dtype, dict(num_layers=2, bidirectional=True), with_h0=True,
             nonlinearity="relu")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls_name,extra", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                                            ("GRUCell", {}), ("LSTMCell", {}),
                                            ("LSTMCell", {"bias": False})])
def test_cell_matches_torch(cls_name: str, extra: dict, dtype) -> None:
    rng = np.random.default_rng(1)
    theirs, ours = _pair(cls_name, dtype, input_size=5, hidden_size=4, **extra)
    for shape, state in (((3, 5), (3, 4)), ((5,), (4,))):
        x = rng.standard_normal(shape).astype(dtype)
        states = [rng.standard_normal(state).astype(dtype)
                  for _ in range(2 if cls_name == "LSTMCell" else 1)]
        tx, mx = torch.tensor(x, requires_grad=True), mt.Tensor(x, requires_grad=True)
        ts = [torch.tensor(s, requires_grad=True) for s in states]
        ms = [mt.Tensor(s, requires_grad=True) for s in states]
        if cls_name == "LSTMCell":
            t_out, m_out = list(theirs(tx, tuple(ts))), list(ours(mx, tuple(ms)))
        else:
            t_out, m_out = [theirs(tx, ts[0])], [ours(mx, ms[0])]
        for a, b in zip(m_out, t_out):
            assert a.shape == tuple(b.shape)
            _close(a, b, dtype, "cell output")
        sum((o ** 2).sum() for o in t_out).backward()
        sum((o ** 2).sum() for o in m_out).backward()
        _close(mx.grad, tx.grad, dtype, "input gradient")
        for a, b in zip(ms, ts):
            _close(a.grad, b.grad, dtype, "state gradient")
        params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            _close(params[name].grad, p.grad, dtype, f"gradient of {name}")
            p.grad = None
            params[name].grad = None
    # no state given: zeros
    x = rng.standard_normal((2, 5)).astype(dtype)
    t_out = theirs(torch.tensor(x))
    m_out = ours(x)
    for a, b in zip(m_out if cls_name == "LSTMCell" else [m_out],
                    t_out if cls_name == "LSTMCell" else [t_out]):
        _close(a, b, dtype, "cell output from zeros")


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
def test_parameters_have_torch_names_shapes_and_init(cls_name: str) -> None:
    kwargs = dict(input_size=3, hidden_size=16)
    if not cls_name.endswith("Cell"):
        kwargs.update(num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, cls_name)(**kwargs)
    mt.manual_seed(0)
    ours = getattr(nn, cls_name)(**kwargs)
    expected = [(k, tuple(v.shape)) for k, v in theirs.named_parameters()]
    assert [(k, v.shape) for k, v in ours.named_parameters()] == expected
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.data.ravel() for p in ours.parameters()])
    assert np.abs(values).max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound  # the whole range


def test_dropout_between_layers_only_in_training() -> None:
    mt.manual_seed(0)
    layer = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    trained = [layer(x)[0].data for _ in range(2)]
    assert not np.allclose(trained[0], trained[1])
    layer.eval()
    evaluated = layer(x)[0].data
    np.testing.assert_array_equal(evaluated, layer(x)[0].data)
    no_dropout = nn.LSTM(3, 8, num_layers=2)
    no_dropout.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(evaluated, no_dropout(x)[0].data)


def test_lstm_state_dict_round_trips_to_torch() -> None:
    ours = nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    theirs = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 5, 4))
    np.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ the fused sequence ops
def _sequence_inputs(kind: str, rng: np.random.Generator, steps: int = 3, batch: int = 2,
                     hidden: int = 2) -> list[mt.Tensor]:
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[kind] * hidden
    arrays = [rng.standard_normal((steps, batch, gates)), rng.standard_normal((batch, hidden))]
    if kind == "lstm":
        arrays.append(rng.standard_normal((batch, hidden)))
    arrays.append(rng.standard_normal((gates, hidden)))
    if kind == "gru":
        arrays.append(rng.standard_normal(gates))
    return [mt.Tensor(a, requires_grad=True) for a in arrays]


def _sequence_fn(kind: str):
    if kind == "lstm":
        return ops.lstm_sequence
    if kind == "gru":
        return ops.gru_sequence
    return lambda gx, h0, w: ops.rnn_sequence(gx, h0, w, nonlinearity=kind[4:])


KINDS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_op_gradcheck_and_gradgradcheck(kind: str) -> None:
    inputs = _sequence_inputs(kind, np.random.default_rng(3))
    fn = _sequence_fn(kind)
    assert mt.gradcheck(fn, inputs)
    assert mt.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_op_jvp_matches_central_differences(kind: str) -> None:
    rng = np.random.default_rng(4)
    inputs = _sequence_inputs(kind, rng)
    fn = _sequence_fn(kind)
    out = fn(*inputs)
    tangents = [rng.standard_normal(t.shape) for t in inputs]
    eps = 1e-6
    plus = fn(*[t.data + eps * d for t, d in zip(inputs, tangents)]).data
    minus = fn(*[t.data - eps * d for t, d in zip(inputs, tangents)]).data
    expected = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(out.grad_fn.jvp(*tangents), expected, rtol=1e-6, atol=1e-8)
    # a tangent for one argument only; None for the others
    only = [None] * len(inputs)
    only[1] = tangents[1]
    plus = fn(*[t.data + (eps * d if d is not None else 0) for t, d in zip(inputs, only)]).data
    minus = fn(*[t.data - (eps * d if d is not None else 0) for t, d in zip(inputs, only)]).data
    np.testing.assert_allclose(out.grad_fn.jvp(*only), (plus - minus) / (2 * eps), rtol=1e-6,
                               atol=1e-8)
    assert out.grad_fn.jvp(*[None] * len(inputs)) is None


def test_lstm_layer_gradgradcheck_through_the_module() -> None:
    mt.manual_seed(0)
    layer = nn.LSTM(2, 2, bidirectional=True)
    x = mt.Tensor(np.random.default_rng(5).standard_normal((3, 1, 2)), requires_grad=True)

    def fn(x: mt.Tensor) -> mt.Tensor:
        out, (h, c) = layer(x)
        return (out ** 2).sum() + (c * h).sum()

    assert mt.gradcheck(fn, [x])
    assert mt.gradgradcheck(fn, [x])


def test_sequence_backward_is_one_node_per_layer_and_direction() -> None:
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    out, _ = layer(np.zeros((30, 2, 3)))
    seen, stack, names = set(), [out.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "_edges"):
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(e for e in node._edges if e is not None and not isinstance(e, mt.Tensor))
    assert names.count("GRUSequence") == 4
    assert len(names) < 60  # no node per time step


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_wrong_input_size_names_the_layer_and_shapes(cls_name: str) -> None:
    layer = getattr(nn, cls_name)(4, 3)
    with pytest.raises(ValueError, match=rf"{cls_name}: input of shape \(5, 2, 7\) has 7 "
                                         r"features, but input_size is 4"):
        layer(np.zeros((5, 2, 7)))
    with pytest.raises(ValueError, match=rf"{cls_name}: expected input of 2 .* got shape"):
        layer(np.zeros((5, 2, 1, 4)))


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_wrong_state_shape_names_the_layer_and_shapes(cls_name: str) -> None:
    layer = getattr(nn, cls_name)(4, 3, num_layers=2)
    bad = np.zeros((1, 2, 3))
    hx = (bad, np.zeros((2, 2, 3))) if cls_name == "LSTM" else bad
    with pytest.raises(ValueError, match=rf"{cls_name}: expected h_0 of shape \(2, 2, 3\) for "
                                         r"input of shape \(5, 2, 4\), got \(1, 2, 3\)"):
        layer(np.zeros((5, 2, 4)), hx)


def test_cell_errors_name_the_cell_and_shapes() -> None:
    cell = nn.LSTMCell(4, 3)
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(N, 4\)"):
        cell(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(2, 3\)"):
        cell(np.zeros((2, 4)), (np.zeros((2, 3)), np.zeros((3, 3))))
    with pytest.raises(TypeError, match="LSTMCell: hx must be a tuple"):
        cell(np.zeros((2, 4)), np.zeros((2, 3)))


def test_bad_constructor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="GRU: hidden_size must be a positive integer"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"LSTM: dropout must be in \[0, 1\]"):
        nn.LSTM(3, 4, dropout=1.5)


def test_sequence_op_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"lstm: gx must be \(L, N, 8\)"):
        ops.lstm_sequence(np.zeros((3, 2, 6)), np.zeros((2, 2)), np.zeros((2, 2)),
                          np.zeros((8, 2)))
    with pytest.raises(ValueError, match=r"gru: the initial state must be \(N, H\)"):
        ops.gru_sequence(np.zeros((3, 2, 6)), np.zeros((3, 2)), np.zeros((6, 2)))


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_empty_sequence_is_refused(cls_name: str) -> None:
    with pytest.raises(ValueError, match=r"the sequence is empty \(gx of shape \(0, 2, "):
        getattr(nn, cls_name)(3, 4)(np.zeros((0, 2, 3)))


def test_repr_reads_like_torch() -> None:
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)).startswith(
        "LSTM(3, 4, num_layers=2, batch_first=True")


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_forward_mode_through_the_layer_matches_central_differences(cls_name: str) -> None:
    from microtensor import func

    mt.manual_seed(0)
    layer = getattr(nn, cls_name)(3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(9)
    x, t = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 3))

    def f(x):
        out, h = layer(x)
        last = h[1] if cls_name == "LSTM" else h  # c_n for LSTM
        return mt.concatenate([out.reshape(-1), last.reshape(-1)])

    _, tangent = func.jvp(f, (mt.tensor(x),), (mt.tensor(t),))
    eps = 1e-6
    expected = (f(x + eps * t).data - f(x - eps * t).data) / (2 * eps)
    np.testing.assert_allclose(tangent.data, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("order", ["forward-over-reverse", "reverse-over-forward"])
@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_hessian_vector_product_both_ways(cls_name: str, order: str) -> None:
    from microtensor import func

    mt.manual_seed(0)
    layer = getattr(nn, cls_name)(2, 3)
    rng = np.random.default_rng(10)
    x, v = rng.standard_normal((3, 1, 2)), rng.standard_normal((3, 1, 2))

    def f(x):
        return (layer(x)[0] ** 2).sum()

    grad_f = func.grad(f)
    if order == "forward-over-reverse":
        got = func.jvp(grad_f, (mt.tensor(x),), (mt.tensor(v),))[1]
    else:  # the gradient of the jvp: needs the gates recorded inside the jvp rule
        got = func.grad(lambda x: func.jvp(f, (x,), (mt.tensor(v),))[1])(mt.tensor(x))
    eps = 1e-5
    expected = (grad_f(mt.tensor(x + eps * v)).data
                - grad_f(mt.tensor(x - eps * v)).data) / (2 * eps)
    np.testing.assert_allclose(got.data, expected, rtol=1e-6, atol=1e-8)


def test_torch_habits_flatten_parameters_all_weights_and_proj_size() -> None:
    theirs = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    ours = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    ours.flatten_parameters()
    assert [[tuple(w.shape) for w in ws] for ws in theirs.all_weights] == [
        [w.shape for w in ws] for ws in ours.all_weights]
    assert ours.all_weights[3][0] is ours.weight_ih_l1_reverse
    with pytest.raises(ValueError, match="LSTM: proj_size=2 is not supported"):
        nn.LSTM(3, 4, proj_size=2)
