"""Fused recurrences: one graph node runs a whole sequence through an LSTM, GRU or Elman cell.

nn.LSTM, nn.GRU and nn.RNN (and their cells, as sequences of length 1) project the inputs of
every time step in one matrix product up front (`gx`, shape (L, N, gates)); what is left per
step is one (N, H) @ (H, gates) product and a few elementwise functions. Recording each step
as primitive ops would cost tens of graph nodes per step and, for the slices of `gx`, a full
(L, N, gates) scatter per step in backward (quadratic in L). Here forward loops over time on
arrays and backward is backpropagation through time in closed form: one node per layer and
direction, one product per step each way, and the weight gradient as one product over all
steps at the end.

Backward is written over arrays or Tensors (microtensor/function.py): the gate activations
forward keeps are a constant for first order; under create_graph they are recomputed from the
saved inputs as recorded ops (`V.first_order`), so gradients of gradients are exact; the
same holds for the jvp rules when their saved values come attached (reverse-over-forward). The
weight `w_hh` has PyTorch's (gates, H) orientation. Each op also has a forward-mode rule
(`jvp`). Gate orders are PyTorch's: LSTM i, f, g, o; GRU r, z, n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, constant
from ..tensor import Tensor
from . import vocab as V
from ._util import tensor_arg

__all__ = ["GRUSequence", "LSTMSequence", "RNNSequence", "gru_sequence", "lstm_sequence",
           "rnn_sequence"]


def _check(op: str, gx: np.ndarray, gates: int, states: tuple[np.ndarray, ...],
           w_hh: np.ndarray, b_hh: Any = None) -> int:
    """Check the shapes of a recurrence's arrays; return the hidden size H."""
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh must be ({gates} * H, H), got {w_hh.shape}")
    hidden = w_hh.shape[1]
    if gx.ndim != 3 or gx.shape[2] != gates * hidden:
        raise ValueError(f"{op}: gx must be (L, N, {gates * hidden}) for w_hh of shape "
                         f"{w_hh.shape}, got {gx.shape}")
    if gx.shape[0] == 0:
        raise ValueError(f"{op}: the sequence is empty (gx of shape {gx.shape}); it needs at "
                         "least one step")
    for s in states:
        if s.shape != (gx.shape[1], hidden):
            raise ValueError(f"{op}: the initial state must be (N, H) = "
                             f"{(gx.shape[1], hidden)} for gx {gx.shape}, got {s.shape}")
    if b_hh is not None and b_hh.shape != (gates * hidden,):
        raise ValueError(f"{op}: b_hh must be ({gates * hidden},), got {b_hh.shape}")
    return hidden


def _previous(states: Any, first: Any, t: int) -> Any:
    """The state before step t of the states (L, N, H): `first` at t == 0."""
    return first if t == 0 else states[t - 1]


def _all_previous(states: Any, first: Any) -> Any:
    """The state before every step of the states (L, N, H), as (L * N, H)."""
    steps, n, hidden = states.shape
    before = np.concatenate([first.reshape(1, n, hidden), states[:-1]], axis=0)
    return before.reshape(steps * n, hidden)


def _or_zeros(tangent: Any, like: Any) -> Any:
    return V.zeros_like(like) if tangent is None else tangent


class LSTMSequence(Function):
    """out[0, t] = h_t, out[1, t] = c_t for t < L, with gates z = gx[t] + h_{t-1} @ w_hh^T
    split as i, f, g, o = sig, sig, tanh, sig; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t).

    d/dz comes from dc_t += dh_t * o * (1 - tanh(c_t)^2): di = dc * g, df = dc * c_{t-1},
    dg = dc * i, do = dh * tanh(c_t) through each gate's derivative; then d/dgx[t] = dz,
    d/dh_{t-1} = dz @ w_hh, d/dc_{t-1} = dc * f, d/dw_hh = sum_t dz^T h_{t-1}.
    Inputs gx (L, N, 4H) (both biases included), h0 and c0 (N, H), w_hh (4H, H); the output
    (2, L, N, H) holds every h_t and every c_t, each step a contiguous block.
    """

    _fresh_grads = True

    def forward(self, gx: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                w_hh: np.ndarray) -> np.ndarray:
        hidden = _check("lstm", gx, 4, (h0, c0), w_hh)
        steps, n = gx.shape[:2]
        dtype = np.result_type(gx, h0, c0, w_hh)
        w_t = w_hh.T.astype(dtype, copy=False)
        out = np.empty((2, steps, n, hidden), dtype=dtype)
        acts = np.empty((steps, n, 4 * hidden), dtype=dtype)
        tanhs = np.empty((steps, n, hidden), dtype=dtype)  # tanh(c_t), for backward
        h, c = h0.astype(dtype, copy=False), c0.astype(dtype, copy=False)
        two, three = 2 * hidden, 3 * hidden
        for t in range(steps):
            z = acts[t]
            np.dot(h, w_t, out=z)
            z += gx[t]
            # one sigmoid over all four gates (a ufunc on a contiguous block is several
            # times faster than on column slices), with tanh(x) = 2 sigmoid(2x) - 1 for g
            g = z[:, two:three]
            g *= 2
            V.expit(z, out=z)
            g *= 2
            g -= 1
            c_new = out[1, t]
            np.multiply(z[:, hidden:two], c, out=c_new)
            c_new += z[:, :hidden] * g
            tc = tanhs[t]
            np.tanh(c_new, out=tc)
            h_new = out[0, t]
            np.multiply(tc, z[:, three:], out=h_new)
            h, c = h_new, c_new
        if any(self.needs_input_grad):
            self.save_for_backward(gx, h0, c0, w_hh, out, constant(acts), constant(tanhs))
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        gx, h0, c0, w_hh, out, acts, tanhs = self.saved
        acts, tanhs = V.first_order(grad, lambda: (acts, tanhs),
                                    lambda: _lstm_recompute(gx, h0, c0, w_hh))
        hidden = w_hh.shape[1]
        two, three = 2 * hidden, 3 * hidden
        steps = gx.shape[0]
        # the gates' and tanh(c)'s derivatives for all steps at once: a few passes over
        # (L, N, 4H) instead of a dozen small ones per step
        slopes = _lstm_slopes(acts, hidden)
        tanh_slopes = 1 - tanhs * tanhs
        dz_steps: list[Any] = [None] * steps
        dh = dc = None
        for t in reversed(range(steps)):
            dh_t = grad[0, t] if dh is None else grad[0, t] + dh
            dc_t = grad[1, t] if dc is None else grad[1, t] + dc
            a = acts[t]
            i, f, g, o = a[:, :hidden], a[:, hidden:two], a[:, two:three], a[:, three:]
            dc_t = dc_t + dh_t * o * tanh_slopes[t]
            c_prev = _previous(out[1], c0, t)
            dz = V.mul_(np.concatenate([dc_t * g, dc_t * c_prev, dc_t * i, dh_t * tanhs[t]],
                                       axis=-1), slopes[t])
            dz_steps[t] = dz
            dh = V.matmul(dz, w_hh)
            dc = dc_t * f
        dgx = np.stack(dz_steps)
        needs = self.needs_input_grad
        grad_w = None
        if needs[3]:
            grad_w = V.matmul(V.mT(dgx.reshape(-1, 4 * hidden)),
                              _all_previous(out[0], h0))
        return dgx, dh, dc, grad_w

    def jvp(self, t_gx: Any, t_h0: Any, t_c0: Any, t_w: Any) -> Any:
        if t_gx is None and t_h0 is None and t_c0 is None and t_w is None:
            return None
        gx, h0, c0, w_hh, out, acts, tanhs = self.saved
        # saved values attached to a graph (reverse-over-forward): the gates recorded too
        acts, tanhs = V.first_order(out, lambda: (acts, tanhs),
                                    lambda: _lstm_recompute(gx, h0, c0, w_hh))
        hidden = w_hh.shape[1]
        two, three = 2 * hidden, 3 * hidden
        dh, dc = _or_zeros(t_h0, h0), _or_zeros(t_c0, c0)
        w_t = V.mT(w_hh)
        hs, cs = [], []
        for t in range(gx.shape[0]):
            dz = V.matmul(dh, w_t)
            if t_gx is not None:
                dz = dz + t_gx[t]
            if t_w is not None:
                dz = dz + V.matmul(_previous(out[0], h0, t), V.mT(t_w))
            a = acts[t]
            i, f, g, o = a[:, :hidden], a[:, hidden:two], a[:, two:three], a[:, three:]
            tc = tanhs[t]
            dc = (V.sigmoid_grad(dz[:, hidden:two], f) * _previous(out[1], c0, t)
                  + f * dc + V.sigmoid_grad(dz[:, :hidden], i) * g
                  + i * V.tanh_grad(dz[:, two:three], g))
            dh = V.sigmoid_grad(dz[:, three:], o) * tc + V.tanh_grad(o * dc, tc)
            hs.append(dh)
            cs.append(dc)
        return np.stack([np.stack(hs), np.stack(cs)])


def _lstm_recompute(gx: Any, h0: Any, c0: Any, w_hh: Any) -> tuple[Any, Any]:
    """The activated gates and tanh(c_t) of every step as recorded ops (create_graph's
    path)."""
    hidden = w_hh.shape[1]
    two, three = 2 * hidden, 3 * hidden
    w_t = V.mT(w_hh)
    h, c = h0, c0
    acts, tanhs = [], []
    for t in range(gx.shape[0]):
        z = gx[t] + V.matmul(h, w_t)
        i, f = V.sigmoid(z[:, :hidden]), V.sigmoid(z[:, hidden:two])
        g, o = np.tanh(z[:, two:three]), V.sigmoid(z[:, three:])
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        acts.append(np.concatenate([i, f, g, o], axis=-1))
        tanhs.append(tc)
    return np.stack(acts), np.stack(tanhs)


def _slopes_recorded(acts: Any, hidden: int) -> Any:
    """Each gate's derivative from its value: s (1 - s) for i, f, o, 1 - g^2 for g."""
    sig = acts * (1 - acts)
    g = acts[..., 2 * hidden:3 * hidden]
    return np.concatenate([sig[..., :2 * hidden], 1 - g * g, sig[..., 3 * hidden:]], axis=-1)


def _slopes_arrays(acts: np.ndarray, hidden: int) -> np.ndarray:
    """`_slopes_recorded` on an array, into one new array (no temporaries of its size)."""
    out = np.subtract(1, acts)
    out *= acts
    g_slope = out[..., 2 * hidden:3 * hidden]
    np.multiply(acts[..., 2 * hidden:3 * hidden], acts[..., 2 * hidden:3 * hidden],
                out=g_slope)
    np.subtract(1, g_slope, out=g_slope)
    return out


# the gates' derivatives of an LSTM, a word of the vocabulary (in place on arrays)
_lstm_slopes = V.dual(_slopes_arrays, _slopes_recorded)


class GRUSequence(Function):
    """out[t] = h_t, with a = h_{t-1} @ w_hh^T + b_hh split as a_r, a_z, a_n and
    r = sig(gx_r + a_r), z = sig(gx_z + a_z), n = tanh(gx_n + r * a_n),
    h_t = (1 - z) * n + z * h_{t-1} (PyTorch's GRU: the reset gate multiplies a_n, bias
    included).

    dn = dh (1 - z), dz = dh (h_{t-1} - n); through the gates' derivatives that gives
    d/dgx[t] = (dr', dz', dn') and d/da = (dr', dz', dn' * r) with dr' from dn' * a_n;
    d/dh_{t-1} = dh * z + d/da @ w_hh, d/dw_hh = sum_t (d/da)^T h_{t-1}, d/db_hh = sum d/da.
    Inputs gx (L, N, 3H) (b_ih included), h0 (N, H), w_hh (3H, H), b_hh (3H,) or None.
    """

    _fresh_grads = True

    def forward(self, gx: np.ndarray, h0: np.ndarray, w_hh: np.ndarray,
                b_hh: Any = None) -> np.ndarray:
        hidden = _check("gru", gx, 3, (h0,), w_hh, b_hh)
        steps, n = gx.shape[:2]
        dtype = np.result_type(gx, h0, w_hh, *(() if b_hh is None else (b_hh,)))
        w_t = w_hh.T.astype(dtype, copy=False)
        out = np.empty((steps, n, hidden), dtype=dtype)
        # r, z, n and a_n of every step: what backward needs besides the states
        acts = np.empty((steps, n, 4 * hidden), dtype=dtype)
        h = h0.astype(dtype, copy=False)
        two, three = 2 * hidden, 3 * hidden
        for t in range(steps):
            cell = acts[t]
            a = np.dot(h, w_t)
            if b_hh is not None:
                a += b_hh
            rz = cell[:, :two]
            np.add(gx[t, :, :two], a[:, :two], out=rz)
            V.expit(rz, out=rz)
            cell[:, three:] = a[:, two:]
            new = cell[:, two:three]
            np.multiply(cell[:, :hidden], a[:, two:], out=new)
            new += gx[t, :, two:]
            np.tanh(new, out=new)
            h_new = out[t]
            np.subtract(h, new, out=h_new)
            h_new *= cell[:, hidden:two]
            h_new += new
            h = h_new
        if any(self.needs_input_grad):
            self.save_for_backward(gx, h0, w_hh, b_hh, out, constant(acts))
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        gx, h0, w_hh, b_hh, out, acts = self.saved
        acts = V.first_order(grad, lambda: acts,
                             lambda: _gru_recompute(gx, h0, w_hh, b_hh))
        hidden = w_hh.shape[1]
        two, three = 2 * hidden, 3 * hidden
        steps = gx.shape[0]
        dgx_steps: list[Any] = [None] * steps
        da_steps: list[Any] = [None] * steps
        dh = None
        for t in reversed(range(steps)):
            dh_t = grad[t] if dh is None else grad[t] + dh
            c = acts[t]
            r, z, new, a_n = c[:, :hidden], c[:, hidden:two], c[:, two:three], c[:, three:]
            h_prev = _previous(out, h0, t)
            d_new = V.tanh_grad(dh_t * (1 - z), new)
            d_r = V.sigmoid_grad(d_new * a_n, r)
            d_z = V.sigmoid_grad(dh_t * (h_prev - new), z)
            dgx_steps[t] = np.concatenate([d_r, d_z, d_new], axis=-1)
            da = np.concatenate([d_r, d_z, d_new * r], axis=-1)
            da_steps[t] = da
            dh = dh_t * z + V.matmul(da, w_hh)
        dgx = np.stack(dgx_steps)
        needs = self.needs_input_grad
        grad_w = grad_b = None
        if needs[2] or needs[3]:
            da_all = np.stack(da_steps).reshape(-1, 3 * hidden)
            if needs[2]:
                grad_w = V.matmul(V.mT(da_all), _all_previous(out, h0))
            if needs[3]:
                grad_b = da_all.sum(axis=0)
        return dgx, dh, grad_w, grad_b

    def jvp(self, t_gx: Any, t_h0: Any, t_w: Any, t_b: Any) -> Any:
        if t_gx is None and t_h0 is None and t_w is None and t_b is None:
            return None
        gx, h0, w_hh, b_hh, out, acts = self.saved
        # saved values attached to a graph (reverse-over-forward): the gates recorded too
        acts = V.first_order(out, lambda: acts, lambda: _gru_recompute(gx, h0, w_hh, b_hh))
        hidden = w_hh.shape[1]
        two, three = 2 * hidden, 3 * hidden
        dh = _or_zeros(t_h0, h0)
        w_t = V.mT(w_hh)
        result = []
        for t in range(gx.shape[0]):
            h_prev = _previous(out, h0, t)
            da = V.matmul(dh, w_t)
            if t_w is not None:
                da = da + V.matmul(h_prev, V.mT(t_w))
            if t_b is not None:
                da = da + t_b
            dg = da if t_gx is None else da + t_gx[t, :, :]
            c = acts[t]
            r, z, new, a_n = c[:, :hidden], c[:, hidden:two], c[:, two:three], c[:, three:]
            d_r = V.sigmoid_grad(dg[:, :hidden], r)
            d_z = V.sigmoid_grad(dg[:, hidden:two], z)
            pre_n = d_r * a_n + r * da[:, two:]
            if t_gx is not None:
                pre_n = pre_n + t_gx[t, :, two:]
            d_new = V.tanh_grad(pre_n, new)
            dh = d_new + d_z * (h_prev - new) + z * (dh - d_new)
            result.append(dh)
        return np.stack(result)


def _gru_recompute(gx: Any, h0: Any, w_hh: Any, b_hh: Any) -> list[Any]:
    """r, z, n and a_n of every step as recorded ops (create_graph's path)."""
    hidden = w_hh.shape[1]
    two = 2 * hidden
    w_t = V.mT(w_hh)
    h = h0
    acts = []
    for t in range(gx.shape[0]):
        a = V.matmul(h, w_t)
        if b_hh is not None:
            a = a + b_hh
        r = V.sigmoid(gx[t, :, :hidden] + a[:, :hidden])
        z = V.sigmoid(gx[t, :, hidden:two] + a[:, hidden:two])
        new = np.tanh(gx[t, :, two:] + r * a[:, two:])
        h = new + z * (h - new)
        acts.append(np.concatenate([r, z, new, a[:, two:]], axis=-1))
    return acts


def _relu_slope(out: np.ndarray) -> np.ndarray:
    # PyTorch's slope at the kink (0): an output of 0 cannot tell z == 0 from z < 0
    return (out > 0).astype(out.dtype)


class RNNSequence(Function):
    """out[t] = h_t = act(gx[t] + h_{t-1} @ w_hh^T), act tanh or relu (PyTorch's Elman RNN).

    dz = dh * act'(z) from the output (1 - h_t^2 for tanh, h_t > 0 for relu); d/dgx[t] = dz,
    d/dh_{t-1} = dz @ w_hh, d/dw_hh = sum_t dz^T h_{t-1}. Inputs gx (L, N, H) (both biases
    included), h0 (N, H), w_hh (H, H); the output is (L, N, H).
    """

    _fresh_grads = True

    def forward(self, gx: np.ndarray, h0: np.ndarray, w_hh: np.ndarray,
                nonlinearity: str = "tanh") -> np.ndarray:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        hidden = _check("rnn", gx, 1, (h0,), w_hh)
        steps, n = gx.shape[:2]
        dtype = np.result_type(gx, h0, w_hh)
        w_t = w_hh.T.astype(dtype, copy=False)
        out = np.empty((steps, n, hidden), dtype=dtype)
        h = h0.astype(dtype, copy=False)
        for t in range(steps):
            h_new = out[t]
            np.dot(h, w_t, out=h_new)
            h_new += gx[t]
            if nonlinearity == "tanh":
                np.tanh(h_new, out=h_new)
            else:
                np.maximum(h_new, 0, out=h_new)
            h = h_new
        if any(self.needs_input_grad):
            self.save_for_backward(gx, h0, w_hh, out)
        return out

    def _slope(self, grad: Any, h: Any) -> Any:
        if self.nonlinearity == "tanh":
            return V.tanh_grad(grad, h)
        return grad * V.mask(_relu_slope, h)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        gx, h0, w_hh, out = self.saved
        hidden = w_hh.shape[1]
        steps = gx.shape[0]
        dz_steps: list[Any] = [None] * steps
        dh = None
        for t in reversed(range(steps)):
            dh_t = grad[t] if dh is None else grad[t] + dh
            dz = self._slope(dh_t, out[t])
            dz_steps[t] = dz
            dh = V.matmul(dz, w_hh)
        dgx = np.stack(dz_steps)
        grad_w = None
        if self.needs_input_grad[2]:
            grad_w = V.matmul(V.mT(dgx.reshape(-1, hidden)), _all_previous(out, h0))
        return dgx, dh, grad_w

    def jvp(self, t_gx: Any, t_h0: Any, t_w: Any) -> Any:
        if t_gx is None and t_h0 is None and t_w is None:
            return None
        gx, h0, w_hh, out = self.saved
        dh = _or_zeros(t_h0, h0)
        w_t = V.mT(w_hh)
        result = []
        for t in range(gx.shape[0]):
            dz = V.matmul(dh, w_t)
            if t_gx is not None:
                dz = dz + t_gx[t]
            if t_w is not None:
                dz = dz + V.matmul(_previous(out, h0, t), V.mT(t_w))
            dh = self._slope(dz, out[t])
            result.append(dh)
        return np.stack(result)


def _tensors(op: str, *args: Any) -> list[Any]:
    return [a if a is None or isinstance(a, Tensor) else tensor_arg(a, op) for a in args]


def lstm_sequence(gx: Any, h0: Any, c0: Any, w_hh: Any) -> Tensor:
    """Run an LSTM over a sequence as one node (`LSTMSequence`): gx (L, N, 4H) the projected
    inputs with both biases, h0 and c0 (N, H), w_hh (4H, H) in PyTorch's orientation and gate
    order (i, f, g, o). Returns (2, L, N, H): every h_t in [0], every c_t in [1]."""
    return LSTMSequence.apply(*_tensors("lstm", gx, h0, c0, w_hh))


def gru_sequence(gx: Any, h0: Any, w_hh: Any, b_hh: Any = None) -> Tensor:
    """Run a GRU over a sequence as one node (`GRUSequence`): gx (L, N, 3H) the projected
    inputs with b_ih, h0 (N, H), w_hh (3H, H) and b_hh (3H,) or None, PyTorch's orientation
    and gate order (r, z, n). Returns every h_t, (L, N, H)."""
    return GRUSequence.apply(*_tensors("gru", gx, h0, w_hh, b_hh))


def rnn_sequence(gx: Any, h0: Any, w_hh: Any, nonlinearity: str = "tanh") -> Tensor:
    """Run an Elman RNN over a sequence as one node (`RNNSequence`): gx (L, N, H) the
    projected inputs with both biases, h0 (N, H), w_hh (H, H); `nonlinearity` "tanh" or
    "relu". Returns every h_t, (L, N, H)."""
    return RNNSequence.apply(*_tensors("rnn", gx, h0, w_hh), nonlinearity=nonlinearity)
