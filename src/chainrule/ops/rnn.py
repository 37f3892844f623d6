"""One time step of an LSTM and of a GRU, each fused into one op with its derivatives by hand.

A recurrent layer runs its cell once per time step; backward then walks the steps in reverse
(backpropagation through time). Each cell here is one node in the graph per step: its forward is
the cell's equations, its backward the chain rule through the gates, written out below, so a
reader sees every derivative of an LSTM in one place. (nn.RNN's plain tanh/relu cell is a short
composition of ops/linalg.py's Linear and an activation; it needs no op of its own.)

Weights follow PyTorch's layout, so a PyTorch state_dict loads: W_ih (G*H, in), W_hh (G*H, H_h),
b_ih and b_hh (G*H,), with the G gate blocks stacked in PyTorch's order: i, f, g, o for the LSTM
and r, z, n for the GRU.
"""

import numpy as np

from ..autograd import Function
from .linalg import _mm


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5  # equal to 1 / (1 + exp(-x)); cannot overflow


def _sigmoid_(x):
    """x <- sigmoid(x) in place, as 0.5 tanh(x / 2) + 0.5."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def _times_sigmoid_slope_(grad, s):
    """grad <- grad * s * (1 - s) in place: the derivative of a sigmoid, from its output s."""
    grad *= s
    grad *= 1.0 - s


def _affine_grads(needs, grad_gi, grad_gh, x, h, w_ih, w_hh):
    """The gradients of the two affine maps gi = x W_ihᵀ + b_ih and gh = h W_hhᵀ + b_hh, given
    dL/dgi and dL/dgh, for the inputs (x, h, W_ih, W_hh, b_ih, b_hh) whose ``needs`` is set:
        dL/dx = dL/dgi W_ih          dL/dW_ih = dL/dgiᵀ x        dL/db_ih = sum over the batch of dL/dgi
        dL/dh = dL/dgh W_hh          dL/dW_hh = dL/dghᵀ h        dL/db_hh = sum over the batch of dL/dgh
    Returns the four that depend on x and W (dL/dh is added by the caller to the direct path).
    Without W_ih (x is then gi itself, see LSTMCell), dL/dx = dL/dgi."""
    grad_x = (grad_gi if w_ih is None else _mm(grad_gi, w_ih)) if needs[0] else None
    grad_w_ih = _mm(grad_gi.T, x) if needs[3] else None
    grad_w_hh = _mm(grad_gh.T, h) if needs[4] else None
    grad_b_ih = grad_gi.sum(axis=0) if len(needs) > 5 and needs[5] else None
    grad_b_hh = grad_gh.sum(axis=0) if len(needs) > 6 and needs[6] else None
    return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _gates(x, h, w_ih, w_hh, b_ih, b_hh):
    """gi = x W_ihᵀ + b_ih and gh = h W_hhᵀ + b_hh (NumPy); without W_ih, gi = x (not a copy)."""
    gh = _mm(h, w_hh.T)
    if w_ih is None:
        gi = x if b_ih is None else x + b_ih
    else:
        gi = _mm(x, w_ih.T)
        if b_ih is not None:
            gi += b_ih
    if b_hh is not None:
        gh += b_hh
    return gi, gh


def _check_cell(op, x, h, c, w_ih, w_hh, gates):
    """Shapes of a cell's inputs, named in one sentence before NumPy's own errors."""
    hidden = w_hh.shape[0] // gates
    if w_ih is None:  # x is the input's share of the gates, x W_ihᵀ + b_ih, computed by the caller
        if x.ndim != 2 or x.shape[1] != w_hh.shape[0]:
            raise ValueError(f"{op}: without W_ih the input must be the input gates x W_ihᵀ + b_ih, "
                             f"of shape (batch, {w_hh.shape[0]}). Got {x.shape} instead.")
    elif x.ndim != 2 or x.shape[1] != w_ih.shape[1]:
        raise ValueError(f"{op}: input must have shape (batch, input_size={w_ih.shape[1]}). Got "
                         f"{x.shape} instead.")
    expected = (x.shape[0], w_hh.shape[1])
    if h.shape != expected:
        raise ValueError(f"{op}: hidden state must have shape {expected}. Got {h.shape} instead.")
    if c is not None and c.shape != (x.shape[0], hidden):
        raise ValueError(f"{op}: cell state must have shape {(x.shape[0], hidden)}. Got {c.shape} "
                         "instead.")


class LSTMCell(Function):
    """One LSTM time step (batch-first rows), PyTorch's equations and gate order i, f, g, o.

    forward:  gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh        (N, 4H), split into four (N, H) blocks
              i = sigmoid(gates_i)   input gate
              f = sigmoid(gates_f)   forget gate
              g = tanh(gates_g)      candidate cell
              o = sigmoid(gates_o)   output gate
              c' = f * c + i * g
              h' = o * tanh(c')       two outputs, h' and c', each (N, H)
    backward: with dh' = dL/dh' and dc' = dL/dc' (what flows back from the next step and from
              the layer's output), and t = tanh(c'):
              dc = dc' + dh' * o * (1 - t^2)                 total gradient reaching c'
              do = dh' * t                 dgates_o = do * o * (1 - o)
              di = dc * g                  dgates_i = di * i * (1 - i)
              dg = dc * i                  dgates_g = dg * (1 - g^2)
              df = dc * c                  dgates_f = df * f * (1 - f)
              dL/dc = dc * f                                 (to the previous step's cell)
              then, with dgates = [dgates_i | dgates_f | dgates_g | dgates_o]:
              dL/dx = dgates W_ih,   dL/dh = dgates W_hh
              dL/dW_ih = dgatesᵀ x,  dL/dW_hh = dgatesᵀ h,  dL/db_ih = dL/db_hh = sum_n dgates
    With W_ih None, x is the input's share of the gates, x W_ihᵀ + b_ih, already computed (nn.LSTM
    does it for all time steps in one product, as PyTorch does): gates = x + h W_hhᵀ + b_hh and
    dL/dx = dgates.
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
        _check_cell("lstm_cell", x, h, c, w_ih, w_hh, 4)
        gi, gh = _gates(x, h, w_ih, w_hh, b_ih, b_hh)
        gates = gh  # a new array (gi may be the input itself)
        gates += gi
        hidden = gates.shape[1] // 4
        i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))  # views
        _sigmoid_(gates[:, :2 * hidden])  # the gates activated in place: i and f,
        np.tanh(g, out=g)                 # g,
        _sigmoid_(o)                      # and o
        c_next = f * c
        c_next += i * g
        tanh_c = np.tanh(c_next)
        h_next = o * tanh_c
        ctx.save_for_backward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        ctx.activations = (i, f, g, o, tanh_c)
        return h_next, c_next

    @staticmethod
    def backward(ctx, grad_h_next, grad_c_next):
        x, h, c, w_ih, w_hh, _, _ = ctx.saved_tensors
        i, f, g, o, tanh_c = ctx.activations
        grad_c = 1.0 - tanh_c * tanh_c  # dc = dc' + dh' * o * (1 - t^2), in place
        grad_c *= o
        grad_c *= grad_h_next
        grad_c += grad_c_next
        hidden = grad_c.shape[1]
        grad_gates = np.empty_like(grad_c, shape=(grad_c.shape[0], 4 * hidden))
        grad_i, grad_f, grad_g, grad_o = (grad_gates[:, k * hidden:(k + 1) * hidden]
                                          for k in range(4))
        np.multiply(grad_c, g, out=grad_i)  # dgates_i = dc * g * i * (1 - i)
        _times_sigmoid_slope_(grad_i, i)
        np.multiply(grad_c, c, out=grad_f)  # dgates_f = dc * c * f * (1 - f)
        _times_sigmoid_slope_(grad_f, f)
        np.multiply(grad_c, i, out=grad_g)  # dgates_g = dc * i * (1 - g^2)
        grad_g *= 1.0 - g * g
        np.multiply(grad_h_next, tanh_c, out=grad_o)  # dgates_o = dh' * t * o * (1 - o)
        _times_sigmoid_slope_(grad_o, o)
        needs = ctx.needs_input_grad
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = _affine_grads(
            needs, grad_gates, grad_gates, x, h, w_ih, w_hh)
        grad_h = _mm(grad_gates, w_hh) if needs[1] else None
        grad_c_prev = grad_c * f if needs[2] else None
        return grad_x, grad_h, grad_c_prev, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh

    @staticmethod
    def backward_graph(ctx, grad_h_next, grad_c_next):
        """The same formulas in chainrule ops, the gates recomputed from the saved inputs."""
        x, h, c, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        gates = _gates_graph(x, h, w_ih, w_hh, b_ih, b_hh)
        hidden = w_hh.shape[0] // 4
        i = gates[:, :hidden].sigmoid()
        f = gates[:, hidden:2 * hidden].sigmoid()
        g = gates[:, 2 * hidden:3 * hidden].tanh()
        o = gates[:, 3 * hidden:].sigmoid()
        tanh_c = (f * c + i * g).tanh()
        grad_c = grad_c_next + grad_h_next * o * (1 - tanh_c * tanh_c)
        grad_gates = _cat_graph((grad_c * g * i * (1 - i), grad_c * c * f * (1 - f),
                                 grad_c * i * (1 - g * g), grad_h_next * tanh_c * o * (1 - o)))
        if w_ih is None:
            return (grad_gates, grad_gates @ w_hh, grad_c * f, None, grad_gates.T @ h,
                    _bias_grad_graph(grad_gates, b_ih), _bias_grad_graph(grad_gates, b_hh))
        return (grad_gates @ w_ih, grad_gates @ w_hh, grad_c * f, grad_gates.T @ x,
                grad_gates.T @ h, _bias_grad_graph(grad_gates, b_ih),
                _bias_grad_graph(grad_gates, b_hh))


class GRUCell(Function):
    """One GRU time step (batch-first rows), PyTorch's equations and gate order r, z, n.

    forward:  gi = x W_ihᵀ + b_ih,  gh = h W_hhᵀ + b_hh        (N, 3H) each, blocks r, z, n
              r = sigmoid(gi_r + gh_r)         reset gate
              z = sigmoid(gi_z + gh_z)         update gate
              n = tanh(gi_n + r * gh_n)        candidate (the reset gate scales h W_hnᵀ + b_hn)
              h' = (1 - z) * n + z * h
    backward: with dh' = dL/dh':
              dn = dh' * (1 - z)          dn_pre = dn * (1 - n^2)
              dz = dh' * (h - n)          dz_pre = dz * z * (1 - z)
              dr = dn_pre * gh_n          dr_pre = dr * r * (1 - r)
              dgi = [dr_pre | dz_pre | dn_pre]
              dgh = [dr_pre | dz_pre | dn_pre * r]
              dL/dh = dh' * z + dgh W_hh        (the direct path through z * h, and through gh)
              dL/dx = dgi W_ih
              dL/dW_ih = dgiᵀ x,  dL/dW_hh = dghᵀ h,  dL/db_ih = sum_n dgi,  dL/db_hh = sum_n dgh
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih=None, b_hh=None):
        if w_ih is None:
            raise TypeError("gru_cell: W_ih must be a Tensor (only lstm_cell takes precomputed "
                            "input gates).")
        _check_cell("gru_cell", x, h, None, w_ih, w_hh, 3)
        gi, gh = _gates(x, h, w_ih, w_hh, b_ih, b_hh)
        gi_r, gi_z, gi_n = np.split(gi, 3, axis=1)
        gh_r, gh_z, gh_n = np.split(gh, 3, axis=1)
        r = _sigmoid(gi_r + gh_r)
        z = _sigmoid(gi_z + gh_z)
        n = np.tanh(gi_n + r * gh_n)
        ctx.save_for_backward(x, h, w_ih, w_hh, b_ih, b_hh)
        ctx.activations = (r, z, n, gh_n)
        return (1 - z) * n + z * h

    @staticmethod
    def backward(ctx, grad_h_next):
        x, h, w_ih, w_hh, _, _ = ctx.saved_tensors
        r, z, n, gh_n = ctx.activations
        grad_n_pre = grad_h_next * (1 - z) * (1 - n * n)
        grad_z_pre = grad_h_next * (h - n) * z * (1 - z)
        grad_r_pre = grad_n_pre * gh_n * r * (1 - r)
        grad_gi = np.concatenate((grad_r_pre, grad_z_pre, grad_n_pre), axis=1)
        grad_gh = np.concatenate((grad_r_pre, grad_z_pre, grad_n_pre * r), axis=1)
        needs = ctx.needs_input_grad
        # _affine_grads reads needs as (x, h, c, W_ih, W_hh, b_ih, b_hh): the GRU has no c
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = _affine_grads(
            (needs[0], needs[1], False, *needs[2:]), grad_gi, grad_gh, x, h, w_ih, w_hh)
        grad_h = grad_h_next * z + _mm(grad_gh, w_hh) if needs[1] else None
        return grad_x, grad_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh

    @staticmethod
    def backward_graph(ctx, grad_h_next):
        """The same formulas in chainrule ops, the gates recomputed from the saved inputs."""
        x, h, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        hidden = w_ih.shape[0] // 3
        gi = x @ w_ih.T if b_ih is None else x @ w_ih.T + b_ih
        gh = h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh
        r = (gi[:, :hidden] + gh[:, :hidden]).sigmoid()
        z = (gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden]).sigmoid()
        gh_n = gh[:, 2 * hidden:]
        n = (gi[:, 2 * hidden:] + r * gh_n).tanh()
        grad_n_pre = grad_h_next * (1 - z) * (1 - n * n)
        grad_z_pre = grad_h_next * (h - n) * z * (1 - z)
        grad_r_pre = grad_n_pre * gh_n * r * (1 - r)
        grad_gi = _cat_graph((grad_r_pre, grad_z_pre, grad_n_pre))
        grad_gh = _cat_graph((grad_r_pre, grad_z_pre, grad_n_pre * r))
        return (grad_gi @ w_ih, grad_h_next * z + grad_gh @ w_hh, grad_gi.T @ x, grad_gh.T @ h,
                _bias_grad_graph(grad_gi, b_ih), _bias_grad_graph(grad_gh, b_hh))


def _gates_graph(x, h, w_ih, w_hh, b_ih, b_hh):
    """x W_ihᵀ + b_ih + h W_hhᵀ + b_hh in chainrule ops (for backward_graph); x W_ihᵀ is x itself
    without W_ih."""
    gates = (x if w_ih is None else x @ w_ih.T) + h @ w_hh.T
    for b in (b_ih, b_hh):
        if b is not None:
            gates = gates + b
    return gates


def _cat_graph(parts):
    from .shape import Cat

    return Cat.apply(1, *parts)


def _bias_grad_graph(grad_gates, bias):
    return None if bias is None else grad_gates.sum(dim=0)
