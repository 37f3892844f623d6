"""Scaled dot-product attention, fused into one op with its backward written out by hand.

Attention is three steps: scores S = Q Kᵀ * scale (+ mask), weights P = softmax of each row of S,
output O = P V. Its backward walks them in reverse: dV = Pᵀ dO, dP = dO Vᵀ, then the softmax's
row-wise derivative dS = P * (dP - rowsum(dP * P)), and dQ = dS K * scale, dK = dSᵀ Q * scale.
docs/sequence_models.md derives each line.
"""

import numpy as np

from ..autograd import Function
from ..backend import contiguous
from ..kernels import Elementwise, sum_of_products
from .activation import Softmax
from .arithmetic import unbroadcast


def _softmax_rows_(scores):
    """Softmax along the last dim, in place on the CPU (scores is overwritten and returned; on a
    GPU a new array, from one fused kernel), shifted by each row's maximum (a row of -inf stays
    NaN, as in PyTorch's math path)."""
    m = scores.max(axis=-1, keepdims=True)
    z = Softmax.fused_sum_exp(scores, m, axis=-1, keepdims=True)
    weights = None if z is None else Softmax.fused_forward(scores, m, z)
    if weights is None:
        scores -= m
        weights = np.exp(scores, out=scores)
        weights /= weights.sum(axis=-1, keepdims=True)
    return weights


def _swap(a):
    return np.swapaxes(a, -1, -2)


def _contiguous_on_a_gpu(a):
    """``a`` C-contiguous on a GPU, where CuPy copies each operand of a product of stacks of
    matrices that is not, at every product. Q and dO (views of a projection, the heads swapped in
    front) are each an operand of two products as they are, so they are copied once, here (K and
    V are copied at their products anyway: each is transposed in one of them). On the CPU as it
    is: NumPy's products read such views without a copy."""
    return a if type(a) is np.ndarray else contiguous(a)


class ScaledDotProductAttention(Function):
    """softmax(Q Kᵀ * scale + M) V, over the last two dims (batch dims in front, equal for Q, K, V).

    Q: (..., L, E), K: (..., S, E), V: (..., S, Ev), M: an additive mask broadcast to (..., L, S)
    (0 where a query may look at a key, -inf where it may not; or any real numbers), or None.
    ``keep`` is dropout's mask on the weights, already divided by (1 - p) (None: no dropout).

    forward:  S = Q Kᵀ * scale + M                     (..., L, S) scores
              P = softmax(S) along each row            the attention weights; a -inf score gives 0
              D = P * keep                             (dropout on the weights, or D = P)
              O = D V                                  (..., L, Ev)
    backward: dL/dV = Dᵀ dO
              dD = dO Vᵀ,   dP = dD * keep
              dS = P * (dP - rowsum(dP * P))           the softmax Jacobian, one row at a time
              dL/dQ = dS K * scale
              dL/dK = dSᵀ Q * scale
              dL/dM = dS, summed over the dims M was broadcast along
              (where M = -inf, P = 0, so dS = 0: no gradient reaches a masked score)
    """

    backward_returns_new_arrays = True  # (see Function)
    # S = Q Kᵀ * scale + M after the product, as one kernel on a GPU (chainrule.kernels)
    fused_scores = Elementwise("attention_scores", "a, mask", "s", "s = a * scale + mask",
                               "scale")
    # and dS * scale, the factor both dL/dQ and dL/dK take (where M needs no gradient of its own)
    fused_scaled_scores_grad = Elementwise("attention_scores_backward", "dp, p, row", "ds",
                                           "ds = (dp - row) * p * scale", "scale")

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, keep=None):
        ctx.save_for_backward(q, k, v, mask)  # (the inputs themselves, for backward_graph)
        q = ctx.q = _contiguous_on_a_gpu(q)
        scores = np.matmul(q, _swap(k))  # a new array: the steps below work in place on it
        fused = None if mask is None else ScaledDotProductAttention.fused_scores(scores, mask, scale)
        if fused is not None:
            scores = fused
        else:
            scores *= scale
            if mask is not None and np.broadcast_shapes(scores.shape, np.shape(mask)) == scores.shape:
                scores += mask
            elif mask is not None:  # the mask has batch dims that Q and K lack
                scores = scores + mask
        weights = _softmax_rows_(scores)
        dropped = weights if keep is None else weights * keep
        ctx.scale = scale
        ctx.keep = keep
        ctx.weights = weights
        ctx.dropped = dropped
        return np.matmul(dropped, v)

    @staticmethod
    def backward(ctx, grad_out):
        _, k, v, mask = ctx.saved_tensors
        q, grad_out = ctx.q, _contiguous_on_a_gpu(grad_out)
        weights, dropped, keep, scale = ctx.weights, ctx.dropped, ctx.keep, ctx.scale
        needs = ctx.needs_input_grad
        grad_v = np.matmul(_swap(dropped), grad_out) if needs[2] else None
        grad_weights = np.matmul(grad_out, _swap(v))
        if keep is not None:
            grad_weights *= keep
        # dS = P * (dP - rowsum(dP * P)), in place on dP (on a GPU, one fused kernel)
        row = sum_of_products(grad_weights, weights, -1, keepdims=True)
        scaled = None if needs[3] else ScaledDotProductAttention.fused_scaled_scores_grad(
            grad_weights, weights, row, scale)  # dS * scale
        if scaled is not None:
            grad_q = np.matmul(scaled, k) if needs[0] else None
            grad_k = np.matmul(_swap(scaled), q) if needs[1] else None
            return grad_q, grad_k, grad_v, None, None, None
        grad_scores = Softmax.fused_backward(grad_weights, weights, row)
        if grad_scores is None:
            grad_weights -= row
            grad_weights *= weights
            grad_scores = grad_weights
        grad_q = np.matmul(grad_scores, k) * scale if needs[0] else None
        grad_k = np.matmul(_swap(grad_scores), q) * scale if needs[1] else None
        grad_mask = unbroadcast(grad_scores, np.shape(mask)) if needs[3] else None
        return grad_q, grad_k, grad_v, grad_mask, None, None

    @staticmethod
    def backward_graph(ctx, grad_out):
        """The same formulas in chainrule ops, the weights recomputed from the saved inputs (the
        dropout mask is a constant)."""
        q, k, v, mask = ctx.saved_tensors
        scale, keep = ctx.scale, ctx.keep
        scores = (q @ k.transpose(-1, -2)) * scale
        if mask is not None:
            scores = scores + mask
        weights = scores.softmax(-1)
        dropped = weights if keep is None else weights * keep
        grad_v = dropped.transpose(-1, -2) @ grad_out
        grad_weights = grad_out @ v.transpose(-1, -2)
        if keep is not None:
            grad_weights = grad_weights * keep
        row = (grad_weights * weights).sum(dim=-1, keepdim=True)
        grad_scores = weights * (grad_weights - row)
        grad_mask = None
        if mask is not None and ctx.needs_input_grad[3]:
            grad_mask = grad_scores
            lead = grad_mask.ndim - mask.ndim
            if lead:
                grad_mask = grad_mask.sum(dim=tuple(range(lead)))
            dims = tuple(i for i, s in enumerate(mask.shape) if s == 1 and grad_mask.shape[i] != 1)
            if dims:
                grad_mask = grad_mask.sum(dim=dims, keepdim=True)
        return (grad_scores @ k * scale, grad_scores.transpose(-1, -2) @ q * scale, grad_v,
                grad_mask, None, None)
