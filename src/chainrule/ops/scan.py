"""Scans and products: cumsum, cumprod, prod, logsumexp.

cumsum adds each element into every later output, so its backward adds each output's gradient
into every earlier input: a cumulative sum taken from the other end. prod's derivative with
respect to one factor is the product of all the others, computed without dividing (so zeros are
exact); cumprod's likewise, with a running sum from the end. logsumexp is a smooth maximum; its
derivative is the softmax.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import arange_on, get_array_module, ones_on
from .dims import normalize_dim, normalize_dims


class CumSum(Function):
    """Running sum along ``dim``.

    forward:  y_i = x_0 + x_1 + ... + x_i
    backward: dL/dx_i = dL/dy_i + dL/dy_(i+1) + ... + dL/dy_(n-1)
              (x_i appears in y_i and every later output: the running sum of dL/dy taken from
              the end, flip(cumsum(flip(dL/dy))))
    """

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, grad_y):
        reversed_ = np.flip(grad_y, ctx.dim)
        return np.flip(np.cumsum(reversed_, axis=ctx.dim), ctx.dim), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        from .rearrange import Flip

        reversed_ = Flip.apply(grad_y, (ctx.dim,))
        return Flip.apply(CumSum.apply(reversed_, ctx.dim), (ctx.dim,)), None


def _product_of_others(x, axis):
    """prod_{j != i} x_j along ``axis``, for every i, without division: the product of the
    elements before i (an exclusive cumulative product from the front) times the product of those
    after i (one from the back). Exact when x holds zeros, where y / x_i would be 0/0."""
    n = x.shape[axis]
    ones = ones_on(x, x.shape[:axis] + (1,) + x.shape[axis + 1:])
    take = lambda a, b: np.take(x, arange_on(x, a, b), axis=axis)  # noqa: E731
    before = np.cumprod(np.concatenate([ones, take(0, n - 1)], axis), axis=axis)
    after = np.flip(np.cumprod(np.flip(np.concatenate([take(1, n), ones], axis), axis), axis), axis)
    return before * after


class Prod(Function):
    """Product of all elements, or along one dim.

    forward:  y = x_0 * x_1 * ... * x_(n-1)
    backward: dL/dx_i = dL/dy * prod_{j != i} x_j
              computed as (product of the x_j before i) * (product of the x_j after i) with two
              cumulative products, never as y / x_i: with one zero in x, only that element's
              derivative is nonzero (the product of the others); with two or more, all are 0.
    """

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.save_for_backward(x)
        ctx.dim, ctx.keepdim = dim, keepdim
        return np.prod(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        if ctx.dim is None:
            others = _product_of_others(x.reshape(-1), 0).reshape(x.shape)
            return np.reshape(grad_y, (1,) * x.ndim) * others, None, None
        if x.ndim == 0:
            return grad_y * np.ones_like(x), None, None
        g = grad_y if ctx.keepdim else np.expand_dims(grad_y, ctx.dim)
        return g * _product_of_others(x, ctx.dim), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        # prod_{j != i} x_j in Tensor ops, so it can be differentiated again: lay x out as rows
        # x[..., i, j] = x_j, put 1 on the diagonal (j == i) and take each row's product (Prod
        # itself). O(n^2) numbers per slice, exact with zeros.
        from ..functions import where

        (x,) = ctx.saved_tensors
        if x.ndim == 0:
            return grad_y * 1.0, None, None
        if ctx.dim is None:
            flat = x.reshape(-1)
            g = grad_y.reshape((1,) * x.ndim)
            moved, dim = flat, 0
        else:
            dim = ctx.dim
            g = grad_y if ctx.keepdim else grad_y.unsqueeze(dim)
            moved = x.transpose(dim, -1)
        n = moved.shape[-1]
        rows = moved.unsqueeze(-2).expand(*moved.shape[:-1], n, n)
        eye = get_array_module(x).eye(n, dtype=bool)
        others = Prod.apply(where(eye, x.dtype.type(1), rows), -1 % rows.ndim, False)
        others = others.reshape(x.shape) if ctx.dim is None else others.transpose(dim, -1)
        return g * others, None, None


class CumProd(Function):
    """Running product along ``dim``.

    forward:  y_k = x_0 * x_1 * ... * x_k
    backward: dL/dx_i = sum_{k >= i} dL/dy_k * prod_{j <= k, j != i} x_j
                      = (x_0 * ... * x_(i-1)) * R_i,   with R_(n-1) = dL/dy_(n-1) and
                        R_i = dL/dy_i + x_(i+1) * R_(i+1)   (a running sum from the end)
              no division by x_i anywhere, so zeros in x are exact
    """

    @staticmethod
    def forward(ctx, x, dim):
        ctx.save_for_backward(x)
        ctx.dim = dim
        return np.cumprod(x, axis=dim)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        x_moved, g = np.moveaxis(x, ctx.dim, 0), np.moveaxis(grad_y, ctx.dim, 0)
        n = x_moved.shape[0]
        running = np.empty_like(g)  # R_i
        if n:
            running[n - 1] = g[n - 1]
        for i in range(n - 2, -1, -1):
            running[i] = g[i] + x_moved[i + 1] * running[i + 1]
        before = np.cumprod(np.concatenate([np.ones_like(x_moved[:1]), x_moved[:-1]]), axis=0)
        return np.moveaxis(before * running, 0, ctx.dim), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        from ..functions import cat, stack
        from ..tensor import Tensor

        (x,) = ctx.saved_tensors
        dim = ctx.dim
        n = x.shape[dim]
        if n == 0:
            return grad_y * 1.0, None
        at = lambda t, i: t[(slice(None),) * dim + (i,)]  # noqa: E731
        running = [at(grad_y, n - 1)]
        for i in range(n - 2, -1, -1):
            running.append(at(grad_y, i) + at(x, i + 1) * running[-1])
        running = stack(running[::-1], dim)
        one = Tensor(ones_on(x, x.shape[:dim] + (1,) + x.shape[dim + 1:]))
        shifted = cat([one, x[(slice(None),) * dim + (slice(0, n - 1),)]], dim)
        return CumProd.apply(shifted, dim) * running, None


class LogSumExp(Function):
    """log(sum(exp(x))) over dims, computed stably (a smooth maximum).

    forward:  y = m + log(sum_i exp(x_i - m)),   m = max_i x_i  (so no exp overflows; m = 0
              when the max is infinite, so -inf rows give -inf and +inf rows give +inf)
    backward: dL/dx_i = dL/dy * exp(x_i - y)     (= dL/dy * softmax(x)_i)
    """

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        if x.size == 0:
            y = np.full_like(x, -np.inf, shape=np.sum(x, axis=dims, keepdims=keepdim).shape)
        else:
            m = np.max(x, axis=dims, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            with np.errstate(divide="ignore"):
                y = np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)) + m
            if not keepdim:
                y = np.squeeze(y, dims)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            grad_y, y = np.expand_dims(grad_y, ctx.dims), np.expand_dims(y, ctx.dims)
        with np.errstate(invalid="ignore"):
            softmax = np.exp(x - y)
        softmax = np.where(np.isneginf(y), 0, softmax)  # a row of -inf: no element moves y
        return grad_y * softmax, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            kept = tuple(1 if d in ctx.dims else s for d, s in enumerate(x.shape))
            grad_y, y = grad_y.reshape(kept), y.reshape(kept)
        return grad_y * (x - y).exp(), None, None


# --------------------------------------------------------------------------------------------
# Entry functions
# --------------------------------------------------------------------------------------------


def _input(op, input, dtype):
    from ..tensor import _resolve_dtype
    from .indexing import _tensor

    x = _tensor(op, input)
    if dtype is not None:
        x = x.to(_resolve_dtype(dtype))
    elif x.dtype.kind in "bu" or (x.dtype.kind == "i" and x.dtype != np.int64):
        x = x.to(np.int64)  # integer and boolean sums and products are int64, as in PyTorch
    return x


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim`` (see ``CumSum``); integers and booleans give int64."""
    x = _input("cumsum", input, dtype)
    axis = normalize_dim("cumsum", dim, x.ndim)
    if x.ndim == 0:
        return CumSum.apply(x.reshape(1), 0).reshape(())
    return CumSum.apply(x, axis)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (see ``CumProd``); integers and booleans give int64."""
    x = _input("cumprod", input, dtype)
    axis = normalize_dim("cumprod", dim, x.ndim)
    if x.ndim == 0:
        return CumProd.apply(x.reshape(1), 0).reshape(())
    return CumProd.apply(x, axis)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or along ``dim`` (one int), as in PyTorch (see ``Prod``)."""
    x = _input("prod", input, dtype)
    if dim is None:
        if keepdim:
            raise TypeError("prod: keepdim needs a dim; give prod(input, dim, keepdim=True).")
        return Prod.apply(x, None, False)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be a single int. Got {dim!r} instead; call prod once per dim.")
    axis = normalize_dim("prod", dim, x.ndim)
    if x.ndim == 0:
        return Prod.apply(x, None, False)
    return Prod.apply(x, axis, bool(keepdim))


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) over ``dim`` (an int or a tuple of ints), without overflow (see
    ``LogSumExp``). Integer inputs are taken as float32."""
    from .indexing import _tensor

    x = _tensor("logsumexp", input)._floating()
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        raise ValueError("logsumexp: dim must name at least one dim; give dim=tuple(range(x.ndim)) for all.")
    dims = normalize_dims("logsumexp", dim, x.ndim)
    return LogSumExp.apply(x, dims, bool(keepdim))
