"""Matrix products: matmul, and the fused linear layer y = x Wᵀ + b."""

import numpy as np

from ..autograd import Function
from ..backend import is_array
from .arithmetic import unbroadcast


class MatMul(Function):
    """Matrix product with NumPy's rules: 1-D, 2-D, and batched N-D with broadcast batch dims.

    forward:  Y = A @ B
    backward: dL/dA = dL/dY @ Bᵀ,   dL/dB = Aᵀ @ dL/dY
              (a 1-D A is treated as a row (1, k) and a 1-D B as a column (k, 1); batch dims that
              were broadcast are summed back with unbroadcast)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, a, b):
        a_shape, b_shape = np.shape(a), np.shape(b)
        if not a_shape or not b_shape:
            raise ValueError(
                f"matmul: both operands need at least 1 dim; got shapes {a_shape} and {b_shape}."
            )
        k_a = a_shape[-1]
        k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: cannot multiply shapes {a_shape} and {b_shape}: inner dimensions "
                f"{k_a} != {k_b}."
            )
        ctx.save_for_backward(a, b)
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: cannot broadcast the batch dims of shapes {a_shape} and {b_shape}."
            ) from None

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        a2 = a[np.newaxis, :] if a.ndim == 1 else a  # row vector (1, k)
        b2 = b[:, np.newaxis] if b.ndim == 1 else b  # column vector (k, 1)
        g2 = grad_y
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        a, b = ctx.saved_tensors
        a2 = a.unsqueeze(0) if a.ndim == 1 else a  # row vector (1, k)
        b2 = b.unsqueeze(1) if b.ndim == 1 else b  # column vector (k, 1)
        g2 = grad_y
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = unbroadcast(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


def _mm(a, b):
    """a @ b. For two 2-D arrays, ``a.dot(b)``: the same BLAS product with less overhead per call
    than the @ operator (about 1 us here; a small network's step makes five products). A batch of
    rows times a matrix ((..., k) @ (k, n)) is one 2-D product too: NumPy's batched path for it can
    be many times slower."""
    if b.ndim == 2:
        if a.ndim == 2:
            return a.dot(b)
        if a.ndim > 2:
            return a.reshape(-1, a.shape[-1]).dot(b).reshape(*a.shape[:-1], b.shape[1])
    return a @ b


class Linear(Function):
    """The affine map of a fully connected layer, fused into one op (PyTorch's layout).

    forward:  Y = X Wᵀ + b            X: (..., in), W: (out, in), b: (out,), Y: (..., out)
    backward: dL/dX = dL/dY W
              dL/dW = (dL/dY)ᵀ X      (summed over the batch: one outer product per sample)
              dL/db = sum over the batch of dL/dY
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        x = x if is_array(x) else np.asarray(x)  # a constant input may come as a list
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit a weight of shape {weight.shape}: "
                f"the last dim of the input must be in_features = {weight.shape[1]}."
            )
        ctx.save_for_backward(x, weight)
        y = _mm(x, weight.T)
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = _mm(grad_y, weight) if needs[0] else None
        if x.ndim != 2:  # (..., in): every dim but the last is the batch
            grad_y, x = grad_y.reshape(-1, grad_y.shape[-1]), x.reshape(-1, x.shape[-1])
        grad_w = _mm(grad_y.T, x) if needs[1] else None
        grad_b = grad_y.sum(axis=0) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = grad_y @ weight if needs[0] else None
        if x.ndim != 2:  # (..., in): every dim but the last is the batch
            grad_y, x = grad_y.reshape(-1, grad_y.shape[-1]), x.reshape(-1, x.shape[-1])
        grad_w = grad_y.T @ x if needs[1] else None
        grad_b = grad_y.sum(dim=0) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b
