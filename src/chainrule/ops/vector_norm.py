"""Vector norms: the Euclidean norm as one op (its derivative needs care at 0), and the entry
function ``norm`` behind ``Tensor.norm`` with PyTorch's ``p``, ``dim`` and ``keepdim``."""

import numbers

import numpy as np

from ..autograd import Function
from ..backend import as_array
from .dims import normalize_dims
from .reduce import _expand_to_input, _kept_shape


class Norm2(Function):
    """Euclidean (p = 2) norm over dims; over all elements it is the Frobenius norm.

    forward:  y = sqrt(sum_i x_i^2)
    backward: dL/dx_i = dL/dy * x_i / y          (0 where y = 0, PyTorch's subgradient)
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims("norm", dim, x.ndim)
        ctx.keepdim = keepdim
        ctx.shape = x.shape
        y = as_array(np.sqrt(np.sum(x * x, axis=ctx.dims, keepdims=keepdim)))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y = ctx.saved_tensors
        grad_y = _expand_to_input(grad_y, ctx.shape, ctx.dims, ctx.keepdim)
        y = _expand_to_input(y, ctx.shape, ctx.dims, ctx.keepdim)
        zero = y == 0
        return np.where(zero, 0, grad_y * x / np.where(zero, 1, y)).astype(x.dtype), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        from ..functions import where

        x, y = ctx.saved_tensors
        if not ctx.keepdim and ctx.dims:
            grad_y = grad_y.reshape(_kept_shape(ctx.shape, ctx.dims))
            y = y.reshape(_kept_shape(ctx.shape, ctx.dims))
        zero = (y == 0)._data  # a constant mask: the norm is not differentiable there
        one = y.dtype.type(1)
        safe_y = where(zero, one, y)
        grad_x = where(zero, y.dtype.type(0), grad_y * x / safe_y)
        return grad_x, None, None


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """``x.norm(p, dim, keepdim)`` as PyTorch's ``Tensor.norm``: p = 2 or 'fro' (the default),
    1, inf, -inf, 0 or any other positive number; over all elements or over ``dim``.

    p = 2 is one op (Norm2); the others are compositions of ops that have their own derivatives:
    sum(|x|) for 1, max(|x|) for inf, (sum |x|^p)^(1/p) otherwise. One difference from PyTorch:
    for 0 < p < 1 the gradient at an element equal to 0 is nan (|x|^p has an infinite slope
    there); PyTorch returns 0. p = 0 counts the non-zero elements and has no gradient.
    """
    from ..tensor import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"norm: expected a Tensor; got {type(x).__name__}.")
    if dtype is not None:
        raise ValueError("norm: the dtype argument is not supported; cast first with x.to(dtype).")
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ValueError(f"norm: p must be a number or 'fro'; got {p!r} ('nuc' is not supported).")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"norm: expected a floating-point tensor; got dtype {x.dtype}.")
    if p == 2:
        return Norm2.apply(x, dim, keepdim)
    dims = normalize_dims("norm", dim, x.ndim)
    size = x.abs()
    if p == 1:
        return size.sum(dim=dims, keepdim=keepdim)
    if p in (float("inf"), float("-inf")):
        for d in dims:  # one dim at a time, kept, then dropped at the end
            size = size.max(dim=d, keepdim=True)[0] if p > 0 else size.min(dim=d, keepdim=True)[0]
        return size if keepdim else size.reshape(tuple(n for d, n in enumerate(x.shape) if d not in dims))
    if p == 0:
        return (size != 0).to(x.dtype).sum(dim=dims, keepdim=keepdim)
    return (size ** p).sum(dim=dims, keepdim=keepdim) ** (1.0 / p)
