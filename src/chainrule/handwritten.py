"""The seed network's hidden layer written by hand as one Function, twice: right, and as the seed
author first wrote it. Used by ``chainrule seed --sweep`` (the seed's own row) and by the gradcheck
example, so the mistake is measured and caught rather than described.

The layer:  Z = X Wᵀ + b,  H = sigmoid(Z)        X: (N, in), W: (out, in), b: (out,), H: (N, out)
"""

import numpy as np

from .autograd import Function


def _sigmoid(z):
    return 0.5 * np.tanh(0.5 * z) + 0.5


class SigmoidLayer(Function):
    """A fully connected sigmoid layer with its derivative done right.

    forward:  H = sigmoid(X Wᵀ + b)
    backward: dL/dZ = dL/dH * H * (1 - H)          (element-wise: each unit's own slope)
              dL/dW = (dL/dZ)ᵀ X,   dL/db = sum over the batch of dL/dZ,   dL/dX = dL/dZ W
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        h = _sigmoid(x @ weight.T + bias)
        ctx.save_for_backward(x, weight, h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        x, weight, h = ctx.saved_tensors
        grad_z = grad_h * h * (1 - h)
        return grad_z @ weight, grad_z.T @ x, grad_z.sum(axis=0)

    @staticmethod
    def backward_graph(ctx, grad_h):  # the same formula on Tensors
        x, weight, h = ctx.saved_tensors
        grad_z = grad_h * h * (1 - h)
        return grad_z @ weight, grad_z.T @ x, grad_z.sum(dim=0)


class SeedSigmoidLayer(Function):
    """The same layer with the seed author's two mistakes (kept to be caught, never to be used).

    forward:  H = sigmoid(X Wᵀ + b)                         (right)
    backward: dL/dZ = dL/dH @ (Hᵀ (1 - H))                   (WRONG: a (out, out) matrix product
                                                              mixing every unit and every sample,
                                                              instead of H * (1 - H) element-wise)
              dL/db = mean over the batch of dL/dZ           (WRONG: the loss already averages, so
                                                              the batch sum is right; this is N
                                                              times too small)
              dL/dW = (dL/dZ)ᵀ X,   dL/dX = dL/dZ W          (right, given dL/dZ)

    The shapes all fit — (N, out) @ (out, out) is (N, out) — which is why nothing complained.
    """

    known_wrong = True  # the op registry test expects gradcheck to fail on this one

    @staticmethod
    def forward(ctx, x, weight, bias):
        h = _sigmoid(x @ weight.T + bias)
        ctx.save_for_backward(x, weight, h)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        x, weight, h = ctx.saved_tensors
        grad_z = grad_h @ (h.T @ (1 - h))
        return grad_z @ weight, grad_z.T @ x, grad_z.mean(axis=0)

    @staticmethod
    def backward_graph(ctx, grad_h):  # the same (wrong) formula on Tensors, for the same lesson
        x, weight, h = ctx.saved_tensors
        grad_z = grad_h @ (h.T @ (1 - h))
        return grad_z @ weight, grad_z.T @ x, grad_z.mean(dim=0)
