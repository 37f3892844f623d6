"""Recurrent layers: RNN, LSTM, GRU, and their one-step cells, with PyTorch's names and layout.

A recurrent layer reads a sequence one time step at a time and carries a hidden state from step
to step:  h_t = cell(x_t, h_{t-1}).  Each step is one fused op (``ops.LSTMCell``, ``ops.GRUCell``,
or Linear + tanh/relu for the plain RNN) whose backward is written out by hand in ops/rnn.py; the
engine walks the steps in reverse, which is backpropagation through time.

Parameters carry PyTorch's names and shapes, so ``load_state_dict(torch_lstm.state_dict())``
works: for layer k and direction suffix '' or '_reverse',

    weight_ih_l{k}{suffix}   (G*hidden_size, input size of layer k)     G gate blocks, stacked
    weight_hh_l{k}{suffix}   (G*hidden_size, proj_size or hidden_size)
    bias_ih_l{k}{suffix}     (G*hidden_size,)        bias_hh_l{k}{suffix}   (G*hidden_size,)
    weight_hr_l{k}{suffix}   (proj_size, hidden_size)                    LSTM with proj_size only

G = 4 for the LSTM (gates i, f, g, o), 3 for the GRU (r, z, n), 1 for the RNN. All are drawn from
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import zeros_on
from .. import ops
from ..checks import check_bool, check_choice, check_in_range
from ..functions import cat, stack
from ..tensor import Tensor, _resolve_dtype
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _float_dtype(owner: str, dtype) -> np.dtype:
    dtype = _resolve_dtype(dtype) or np.dtype(np.float32)
    if dtype.kind != "f":
        raise TypeError(f"{owner}: dtype must be a floating-point dtype. Got {dtype} instead.")
    return dtype


def _as_tensor(owner: str, what: str, x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{owner}: {what} must be a Tensor. Got {type(x).__name__} instead.")


def _rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, relu: bool):
    """The plain RNN cell: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu), composed of two
    Linear ops, an add and the activation, each with its own derivative."""
    pre = ops.Linear.apply(x, w_ih, b_ih) + ops.Linear.apply(h, w_hh, b_hh)
    return F.relu(pre) if relu else F.tanh(pre)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, the checks of
    the input and initial state, and the loop over layers, directions and time steps."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        self.mode = mode
        self.input_size = check_in_range(name, "input_size", input_size, 1, integer=True)
        self.hidden_size = check_in_range(name, "hidden_size", hidden_size, 1, integer=True)
        self.num_layers = check_in_range(name, "num_layers", num_layers, 1, integer=True)
        self.bias = check_bool(name, "bias", bias)
        self.batch_first = check_bool(name, "batch_first", batch_first)
        self.dropout = check_in_range(name, "dropout", dropout, 0, 1, high_closed=True)
        self.bidirectional = check_bool(name, "bidirectional", bidirectional)
        if proj_size != 0 and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported by LSTM. Got proj_size="
                             f"{proj_size!r}.")
        self.proj_size = check_in_range(name, "proj_size", proj_size, 0, self.hidden_size,
                                        integer=True)
        dtype = _float_dtype(name, dtype)
        gates = _GATES[mode] * self.hidden_size
        out_size = self.proj_size or self.hidden_size
        directions = 2 if self.bidirectional else 1
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else out_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [(f"weight_ih_l{layer}{suffix}", (gates, layer_input)),
                          (f"weight_hh_l{layer}{suffix}", (gates, out_size))]
                if self.bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (gates,)),
                               (f"bias_hh_l{layer}{suffix}", (gates,))]
                if self.proj_size:
                    shapes.append((f"weight_hr_l{layer}{suffix}", (self.proj_size, self.hidden_size)))
                for param_name, shape in shapes:
                    self.register_parameter(param_name, Parameter(np.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(param_name)
        self.reset_parameters()

    @property
    def _name(self) -> str:
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch's)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _weights(self, layer: int, suffix: str):
        """(W_ih, W_hh, b_ih, b_hh, W_hr) of one layer and direction (None where absent)."""
        get = self._parameters.get
        return tuple(get(f"{kind}_l{layer}{suffix}") for kind in
                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    # ----- checks ----------------------------------------------------------------------------
    def _check_input(self, x: Tensor) -> bool:
        """Returns True for one unbatched sequence (2-D input)."""
        name = self._name
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected a 3-D input {layout} (batch_first={self.batch_first}) or a 2-D "
                f"input (L, H_in) for one unbatched sequence. Got shape {x.shape} instead.")
        if x.shape[-1] != self.input_size:
            hint = (" A 2-D input is read as one unbatched sequence (L, H_in); a batch must be "
                    f"3-D {layout}." if x.ndim == 2 else "")
            raise ValueError(
                f"{name}: the last dim of the input must be input_size={self.input_size}. Got "
                f"shape {x.shape} instead.{hint}")
        if x._data.dtype.kind != "f":
            raise TypeError(f"{name}: the input must be floating-point. Got dtype {x.dtype} "
                            "instead (token ids go through an nn.Embedding first).")
        return x.ndim == 2

    def _check_state(self, what: str, state, batch: int, size: int, unbatched: bool) -> Tensor:
        state = _as_tensor(self._name, what, state)
        layers = self.num_layers * (2 if self.bidirectional else 1)
        expected = (layers, size) if unbatched else (layers, batch, size)
        if state.shape != expected:
            size_name = "proj_size" if what == "h0" and self.proj_size else "hidden_size"
            dims = "(num_layers * num_directions, " + ("" if unbatched else "batch, ") + size_name + ")"
            kind = " for an unbatched input" if unbatched else ""
            raise ValueError(f"{self._name}: {what} must have shape {expected} {dims}{kind}. Got "
                             f"{state.shape} instead.")
        return state.unsqueeze(1) if unbatched else state

    def _initial_states(self, hx, batch: int, dtype, unbatched: bool):
        """(h0, c0) as (layers * directions, N, size) Tensors (c0 None except for the LSTM)."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        out_size = self.proj_size or self.hidden_size
        if hx is None:
            like = self.weight_ih_l0  # the states start on the weights' device
            h0 = Tensor._from_op(zeros_on(like, (layers, batch, out_size), dtype), None)
            c0 = Tensor._from_op(zeros_on(like, (layers, batch, self.hidden_size), dtype), None)
            return h0, (c0 if self.mode == "LSTM" else None)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: the initial state must be a tuple (h0, c0). Got "
                                f"{type(hx).__name__} instead.")
            return (self._check_state("h0", hx[0], batch, out_size, unbatched),
                    self._check_state("c0", hx[1], batch, self.hidden_size, unbatched))
        return self._check_state("h0", hx, batch, out_size, unbatched), None

    # ----- the loop ----------------------------------------------------------------------------
    def forward(self, input, hx=None):
        """input: (L, N, H_in), or (N, L, H_in) with batch_first, or (L, H_in) unbatched.
        Returns (output, h_n) for RNN and GRU, (output, (h_n, c_n)) for the LSTM:
        output (L, N, D * H_out) (batch first if batch_first; D = 2 if bidirectional, H_out =
        proj_size or hidden_size), h_n (num_layers * D, N, H_out), c_n (num_layers * D, N,
        hidden_size); without the N dims for an unbatched input."""
        x = _as_tensor(self._name, "the input", input)
        unbatched = self._check_input(x)
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        h0, c0 = self._initial_states(hx, batch, x.dtype, unbatched)
        directions = 2 if self.bidirectional else 1
        # The layer's input, one (N, H_in) Tensor per step: the outputs of one op (unbind), whose
        # backward stacks the steps' gradients in one go. (T slices x[t] would each send back a
        # gradient of x's full size: O(T^2) work and memory in the backward.)
        steps = list(x.unbind(0))
        h0 = h0.unbind(0)
        c0 = None if c0 is None else c0.unbind(0)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            per_direction = []
            for direction, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + direction
                outputs, h, c = self._run_direction(
                    steps, h0[k], None if c0 is None else c0[k], self._weights(layer, suffix),
                    reverse=direction == 1)
                per_direction.append(outputs)
                h_n.append(h)
                c_n.append(c)
            if directions == 2:
                steps = [cat([forward, backward], -1) for forward, backward in zip(*per_direction)]
            else:
                steps = per_direction[0]
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                steps = [F.dropout(s, self.dropout, True) for s in steps]  # between layers only
        output = stack(steps, 0)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if self.mode == "LSTM" else None
        if unbatched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)

    def _run_direction(self, steps, h, c, weights, reverse: bool):
        """Run one direction of one layer over the steps; returns (outputs per step, h, c)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        outputs = [None] * len(steps)
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        if self.mode == "LSTM":
            # the input's share of every step's gates, x_t W_ihᵀ + b_ih, in one product for all
            # steps (as PyTorch does); each cell adds h W_hhᵀ + b_hh
            steps = ops.Linear.apply(stack(steps, 0), w_ih, b_ih).unbind(0)
        for t in order:
            if self.mode == "LSTM":
                h, c = ops.LSTMCell.apply(steps[t], h, c, None, w_hh, None, b_hh)
                if w_hr is not None:
                    h = ops.Linear.apply(h, w_hr)  # the projection h = (o * tanh(c)) W_hrᵀ
            elif self.mode == "GRU":
                h = ops.GRUCell.apply(steps[t], h, w_ih, w_hh, b_ih, b_hh)
            else:
                h = _rnn_step(steps[t], h, w_ih, w_hh, b_ih, b_hh, self.mode == "RNN_RELU")
            outputs[t] = h
        return outputs, h, c

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
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
    """Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or relu with
    nonlinearity='relu'), stacked num_layers deep, optionally in both directions.

    Arguments as PyTorch: input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0 (between layers, in training only), bidirectional=False
    (proj_size is the LSTM's only, refused here as in PyTorch). Returns (output, h_n); see
    RNNBase.forward for the shapes.

    Shape:
        - Input: (L, N, H_in), L the sequence length, N the batch, H_in = input_size; (N, L,
          H_in) with batch_first; (L, H_in) for one unbatched sequence
        - h_0: (D * num_layers, N, H_out), D = 2 if bidirectional else 1 (zeros if not given)
        - Output: (L, N, D * H_out), H_out = hidden_size ((N, L, D * H_out) with batch_first),
          the last layer's h_t at every step
        - h_n: (D * num_layers, N, H_out), every layer's h at the last step

    Example:
        >>> rnn = nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(chainrule.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype=None):
        check_choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's equations (gate order i, f, g, o):

        i = sigmoid(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi)      f = sigmoid(... f rows ...)
        g = tanh(... g rows ...)                           o = sigmoid(... o rows ...)
        c' = f * c + i * g                                 h' = o * tanh(c')
        with proj_size > 0: h' = (o * tanh(c')) W_hrᵀ     (h has proj_size features)

    One fused op per step (``ops.LSTMCell``), whose docstring gives the gates' derivatives.
    Arguments as PyTorch: input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0. ``forward(input, (h0, c0))`` returns
    (output, (h_n, c_n)); see RNNBase.forward for the shapes.

    Shape:
        - Input: (L, N, H_in), L the sequence length, N the batch, H_in = input_size; (N, L,
          H_in) with batch_first; (L, H_in) for one unbatched sequence
        - h_0, c_0: (D * num_layers, N, H_out) and (D * num_layers, N, H_cell), D = 2 if
          bidirectional else 1 (zeros if not given)
        - Output: (L, N, D * H_out), H_out = proj_size if > 0 else hidden_size ((N, L, D * H_out)
          with batch_first)
        - h_n: (D * num_layers, N, H_out); c_n: (D * num_layers, N, H_cell), H_cell = hidden_size

    Example:
        >>> lstm = nn.LSTM(10, 20, batch_first=True)
        >>> output, (h_n, c_n) = lstm(chainrule.randn(3, 5, 10))
        >>> output.shape, h_n.shape, c_n.shape
        ((3, 5, 20), (1, 3, 20), (1, 3, 20))
        >>> output, (h_n, c_n) = nn.LSTM(10, 20, proj_size=5)(chainrule.randn(5, 3, 10))
        >>> output.shape, h_n.shape, c_n.shape
        ((5, 3, 5), (1, 3, 5), (1, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's equations (gate order r, z, n):

        r = sigmoid(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)      z = sigmoid(... z rows ...)
        n = tanh(x W_inᵀ + b_in + r * (h W_hnᵀ + b_hn))   h' = (1 - z) * n + z * h

    One fused op per step (``ops.GRUCell``). Arguments as PyTorch: input_size, hidden_size,
    num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False.
    Returns (output, h_n); see RNNBase.forward for the shapes.

    Shape:
        - Input: (L, N, H_in), L the sequence length, N the batch, H_in = input_size; (N, L,
          H_in) with batch_first; (L, H_in) for one unbatched sequence
        - h_0: (D * num_layers, N, H_out), D = 2 if bidirectional else 1 (zeros if not given)
        - Output: (L, N, D * H_out), H_out = hidden_size ((N, L, D * H_out) with batch_first)
        - h_n: (D * num_layers, N, H_out)

    Example:
        >>> gru = nn.GRU(10, 20, bidirectional=True)
        >>> output, h_n = gru(chainrule.randn(5, 3, 10))
        >>> output.shape, h_n.shape  # both directions' features side by side in the output
        ((5, 3, 40), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)


# ----- cells: one time step, called by the user in their own loop -------------------------------


class RNNCellBase(Module):
    """What the cells share: weight_ih (G*hidden, input), weight_hh (G*hidden, hidden), bias_ih,
    bias_hh (G*hidden,), all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)); input (N, H_in) or
    (H_in,) for one sample."""

    def __init__(self, name: str, input_size: int, hidden_size: int, bias: bool, gates: int,
                 dtype=None):
        super().__init__()
        self._name = name
        self.input_size = check_in_range(name, "input_size", input_size, 1, integer=True)
        self.hidden_size = check_in_range(name, "hidden_size", hidden_size, 1, integer=True)
        self.bias = check_bool(name, "bias", bias)
        dtype = _float_dtype(name, dtype)
        rows = gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dtype))
            self.bias_hh = Parameter(np.empty(rows, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _input(self, input) -> tuple:
        """The input as (N, H_in), and whether it was one unbatched sample."""
        x = _as_tensor(self._name, "the input", input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._name}: expected an input of shape (N, {self.input_size}), or "
                f"({self.input_size},) for one sample (input_size={self.input_size}). Got shape "
                f"{x.shape} instead.")
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _state(self, what: str, state, x: Tensor, unbatched: bool) -> Tensor:
        if state is None:
            return Tensor(zeros_on(x, (x.shape[0], self.hidden_size)))
        state = _as_tensor(self._name, what, state)
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        if state.shape != expected:
            raise ValueError(f"{self._name}: {what} must have shape {expected} (batch, "
                             f"hidden_size) for this input. Got {state.shape} instead.")
        return state.unsqueeze(0) if unbatched else state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One step of the Elman RNN: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu).
    ``forward(input, hx=None)`` returns h' (hx defaults to zeros).

    Shape:
        - Input: (N, H_in), H_in = input_size, or (H_in,) for one sample
        - hx: (N, H_out), H_out = hidden_size, or (H_out,)
        - Output: h', (N, H_out), or (H_out,)

    Example:
        >>> cell = nn.RNNCell(10, 20)
        >>> h = None
        >>> for x in chainrule.randn(6, 3, 10):  # 6 steps of a batch of 3
        ...     h = cell(x, h)
        >>> h.shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=None):
        check_choice("RNNCell", "nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__("RNNCell", input_size, hidden_size, bias, 1, dtype)

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state("hx", hx, x, unbatched)
        h = _rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                      self.nonlinearity == "relu")
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step (``ops.LSTMCell``, gates i, f, g, o). ``forward(input, (h, c))`` returns
    (h', c'); the state defaults to zeros.

    Shape:
        - Input: (N, H_in), H_in = input_size, or (H_in,) for one sample
        - (h, c): each (N, H_out), H_out = hidden_size, or (H_out,)
        - Output: (h', c'), each (N, H_out), or (H_out,)

    Example:
        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = cell(chainrule.randn(3, 10))
        >>> h, c = cell(chainrule.randn(3, 10), (h, c))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__("LSTMCell", input_size, hidden_size, bias, 4, dtype)

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: the state must be a tuple (h, c). Got "
                            f"{type(hx).__name__} instead.")
        h = self._state("h", None if hx is None else hx[0], x, unbatched)
        c = self._state("c", None if hx is None else hx[1], x, unbatched)
        h, c = ops.LSTMCell.apply(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                  self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (``ops.GRUCell``, gates r, z, n). ``forward(input, hx=None)`` returns h'.

    Shape:
        - Input: (N, H_in), H_in = input_size, or (H_in,) for one sample
        - hx: (N, H_out), H_out = hidden_size, or (H_out,)
        - Output: h', (N, H_out), or (H_out,)

    Example:
        >>> cell = nn.GRUCell(10, 20)
        >>> cell(chainrule.randn(10)).shape  # one sample
        (20,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__("GRUCell", input_size, hidden_size, bias, 3, dtype)

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state("hx", hx, x, unbatched)
        h = ops.GRUCell.apply(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h

