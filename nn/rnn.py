"""Recurrent layers with PyTorch's names, arguments, layouts and parameters: RNN, GRU, LSTM
and their cells.

Unlike nn.Linear (weight (in, out)), every weight here has PyTorch's (out, in) orientation,
`weight_ih_l{k}` (gates * hidden, in) and `weight_hh_l{k}` (gates * hidden, hidden), so a
PyTorch state dict loads as it is. Each layer and direction projects the inputs of all time
steps in one product up front and runs the recurrence as one fused node
(microtensor/ops/rnn.py), so a step costs one small product each way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import microtensor as mt
from microtensor import Tensor
from microtensor.ops import fused
from microtensor.ops import rnn as ops

from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else mt.tensor(np.asarray(x))


def _reset(module: Module, hidden_size: int) -> None:
    """PyTorch's initialisation: every weight and bias uniform in +-1/sqrt(hidden_size)."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _projection(x: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
                fold_b_hh: bool) -> Tensor:
    """x @ w_ih^T + b_ih (+ b_hh when it can be folded in), for all steps in one product."""
    bias = b_ih
    if fold_b_hh and b_hh is not None:
        bias = b_ih + b_hh
    return fused.linear(x, w_ih.T, bias)


def _run(mode: str, gx: Tensor, state: tuple[Any, ...], w_hh: Tensor,
         b_hh: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """One direction of one layer over the projected inputs gx (L, N, gates): every h_t,
    the last h and (LSTM) the last c."""
    if mode == "LSTM":
        out = ops.lstm_sequence(gx, state[0], state[1], w_hh)
        return out[0], out[0, -1], out[1, -1]
    if mode == "GRU":
        out = ops.gru_sequence(gx, state[0], w_hh, b_hh)
    else:
        out = ops.rnn_sequence(gx, state[0], w_hh,
                               nonlinearity="tanh" if mode == "RNN_TANH" else "relu")
    return out, out[-1], None


class RNNBase(Module):
    """The machinery shared by RNN, GRU and LSTM (PyTorch's RNNBase): parameters
    `weight_ih_l{k}[_reverse]` (gates * hidden_size, in), `weight_hh_l{k}[_reverse]`
    (gates * hidden_size, hidden_size), `bias_ih_l{k}[_reverse]` and `bias_hh_l{k}[_reverse]`
    (gates * hidden_size,), in PyTorch's (out, in) orientation and gate order, initialised
    uniform in +-1/sqrt(hidden_size). Input (L, N, input_size), (N, L, input_size) with
    `batch_first`, or unbatched (L, input_size); `dropout` acts on the outputs of every layer
    but the last, in training mode only."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float64) -> None:
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size),
                             ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {label} must be a positive integer, got {value!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        gates = _GATES[mode] * self.hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + suffix,
                        Parameter(np.empty((gates, width), dtype=dtype)))
                setattr(self, "weight_hh" + suffix,
                        Parameter(np.empty((gates, self.hidden_size), dtype=dtype)))
                if self.bias:
                    setattr(self, "bias_ih" + suffix, Parameter(np.empty(gates, dtype=dtype)))
                    setattr(self, "bias_hh" + suffix, Parameter(np.empty(gates, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias again, uniform in +-1/sqrt(hidden_size)."""
        _reset(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch packs its weights for cuDNN here); kept so that code
        written for PyTorch runs unchanged."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order: [weight_ih,
        weight_hh, bias_ih, bias_hh] (no biases with bias=False)."""
        directions = 2 if self.bidirectional else 1
        return [[w for w in self._weights(layer, d) if w is not None]
                for layer in range(self.num_layers) for d in range(directions)]

    def _weights(self, layer: int, direction: int) -> tuple[Any, ...]:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return (getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix),
                getattr(self, "bias_ih" + suffix, None), getattr(self, "bias_hh" + suffix, None))

    def _states(self, hx: Any, shape: tuple[int, ...], batched: bool, dtype: Any,
                input_shape: tuple[int, ...]) -> list[Any]:
        """The initial states as (layers * directions, N, H) values: zeros when not given."""
        name = type(self).__name__
        count = 2 if self.mode == "LSTM" else 1
        if hx is None:
            return [np.zeros(shape, dtype=dtype)] * count
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            given = [_as_tensor(h) for h in hx]
        else:
            given = [_as_tensor(hx)]
        expected = shape if batched else (shape[0], shape[2])
        states = []
        for label, h in zip(("h_0", "c_0"), given):
            if h.shape != expected:
                raise ValueError(f"{name}: expected {label} of shape {expected} for input of "
                                 f"shape {input_shape}, got {h.shape}")
            states.append(h if batched else h.reshape(shape))
        return states

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:  # noqa: A002
        """Run the layers over the sequence; returns (output, h_n) ((output, (h_n, c_n)) for
        LSTM): output (L, N, D * hidden_size) (batch first if asked, unbatched for unbatched
        input) and the final states (num_layers * D, N, hidden_size)."""
        name = type(self).__name__
        x = _as_tensor(input)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of 2 (unbatched) or 3 dimensions, got "
                             f"shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape} has {x.shape[-1]} features, "
                             f"but input_size is {self.input_size}")
        batched = x.ndim == 3
        if not batched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = x.transpose((1, 0, 2))
        steps, n = x.shape[:2]
        directions = 2 if self.bidirectional else 1
        dtype = np.result_type(x.dtype, self.weight_ih_l0.dtype)
        shape = (self.num_layers * directions, n, self.hidden_size)
        states = self._states(hx, shape, batched, dtype, input.shape if hasattr(
            input, "shape") else np.shape(input))
        fold = self.mode != "GRU"  # GRU's b_hh sits inside the reset gate's product
        last_h: list[Tensor] = []
        last_c: list[Tensor] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
                k = layer * directions + direction
                gx = _projection(x, w_ih, b_ih, b_hh, fold)
                if direction:
                    gx = gx[::-1]
                hs, h_n, c_n = _run(self.mode, gx, tuple(s[k] for s in states), w_hh,
                                    None if fold else b_hh)
                outputs.append(hs[::-1] if direction else hs)
                last_h.append(h_n)
                if c_n is not None:
                    last_c.append(c_n)
            x = outputs[0] if directions == 1 else mt.concatenate(outputs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        h = mt.stack(last_h, axis=0)
        c = mt.stack(last_c, axis=0) if last_c else None
        if not batched:
            x = x.reshape(steps, x.shape[-1])
            h = h.reshape(shape[0], self.hidden_size)
            c = c.reshape(shape[0], self.hidden_size) if c is not None else None
        elif self.batch_first:
            x = x.transpose((1, 0, 2))
        return x, ((h, c) if self.mode == "LSTM" else h)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with act tanh or relu
    (`nonlinearity`), PyTorch's nn.RNN: its arguments, layouts and parameter names and shapes
    (weights in (out, in) orientation, unlike nn.Linear, so PyTorch's state dict loads as it
    is). Returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float64) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's nn.GRU: gates r, z, n in that order,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h; PyTorch's
    arguments, layouts and parameter names and shapes (weights in (out, in) orientation,
    unlike nn.Linear). Returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float64) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's nn.LSTM: gates i, f, g, o in that order,
    c' = f * c + i * g, h' = o * tanh(c'); PyTorch's arguments, layouts and parameter names
    and shapes (weights in (out, in) orientation, unlike nn.Linear). hx is (h_0, c_0) or
    None; returns (output, (h_n, c_n)). Projections (proj_size > 0) are not supported."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float64) -> None:
        if proj_size:
            raise ValueError(f"LSTM: proj_size={proj_size} is not supported (only 0)")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)


class RNNCellBase(Module):
    """One step of a recurrence (PyTorch's cells): `weight_ih` (gates * hidden, input_size),
    `weight_hh` (gates * hidden, hidden), `bias_ih`, `bias_hh`, in PyTorch's (out, in)
    orientation, initialised uniform in +-1/sqrt(hidden_size). Input (N, input_size) or
    unbatched (input_size,)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float64) -> None:
        name = type(self).__name__
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {label} must be a positive integer, got {value!r}")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        gates = _GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.empty(gates, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(gates, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias again, uniform in +-1/sqrt(hidden_size)."""
        _reset(self, self.hidden_size)

    def _step(self, input: Any, hx: Any) -> tuple[Tensor, Tensor | None, bool]:  # noqa: A002
        name = type(self).__name__
        x = _as_tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        batched = x.ndim == 2
        n = x.shape[0] if batched else 1
        expected = (n, self.hidden_size) if batched else (self.hidden_size,)
        dtype = np.result_type(x.dtype, self.weight_ih.dtype)
        count = 2 if self.mode == "LSTM" else 1
        if hx is None:
            states: list[Any] = [np.zeros((n, self.hidden_size), dtype=dtype)] * count
        else:
            if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
            given = [_as_tensor(h) for h in (hx if self.mode == "LSTM" else (hx,))]
            states = []
            for label, h in zip(("h", "c"), given):
                if h.shape != expected:
                    raise ValueError(f"{name}: expected {label} of shape {expected} for input "
                                     f"of shape {x.shape}, got {h.shape}")
                states.append(h.reshape(n, self.hidden_size))
        gx = _projection(x.reshape(1, n, self.input_size), self.weight_ih, self.bias_ih,
                         self.bias_hh, self.mode != "GRU")
        hs, h, c = _run(self.mode, gx, tuple(states), self.weight_hh,
                        self.bias_hh if self.mode == "GRU" else None)
        if not batched:
            h = h.reshape(self.hidden_size)
            c = c.reshape(self.hidden_size) if c is not None else None
        return h, c, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        return text


class RNNCell(RNNCellBase):
    """One Elman step, h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu:
    PyTorch's nn.RNNCell (weights (out, in), unlike nn.Linear). Returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = np.float64) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """The next hidden state, (N, hidden_size) (or (hidden_size,) unbatched)."""
        return self._step(input, hx)[0]


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))):
    PyTorch's nn.GRUCell (weights (out, in), unlike nn.Linear). Returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float64) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002
        """The next hidden state, (N, hidden_size) (or (hidden_size,) unbatched)."""
        return self._step(input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): PyTorch's nn.LSTMCell (weights (out, in), unlike
    nn.Linear). hx is (h, c) or None; returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float64) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """The next (h, c), each (N, hidden_size) (or (hidden_size,) unbatched)."""
        h, c, _ = self._step(input, hx)
        return h, c
