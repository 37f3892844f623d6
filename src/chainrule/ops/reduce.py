"""Reductions: sum, mean, max, min over all elements or over ``dim`` (an int or a tuple of ints).

A reduction maps many inputs to one output, so backward copies the output's gradient back to every
input that contributed: all of them for sum and mean, only the chosen one for max and min.
"""

import numpy as np

from ..autograd import Function
from ..backend import as_array
from .dims import normalize_dims


def _expand_to_input(grad_y, shape, dims, keepdim):
    """Undo the reduction's shape change: put back the reduced dims, then copy along them."""
    if not keepdim and dims:
        grad_y = np.expand_dims(grad_y, dims)
    grad_x = np.empty_like(grad_y, shape=shape)
    grad_x[...] = grad_y  # broadcasting assignment (np.broadcast_to costs several times more)
    return grad_x


class Sum(Function):
    """Sum over dims.

    forward:  y = sum_i x_i            (over the reduced dims)
    backward: dL/dx_i = dL/dy           (every summed element gets the output's gradient)
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims("sum", dim, x.ndim)
        ctx.keepdim = keepdim
        ctx.shape = x.shape
        return np.sum(x, axis=ctx.dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_y):
        return _expand_to_input(grad_y, ctx.shape, ctx.dims, ctx.keepdim), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        if not ctx.keepdim and ctx.dims:
            grad_y = grad_y.reshape(_kept_shape(ctx.shape, ctx.dims))
        return grad_y.expand(ctx.shape), None, None


def _kept_shape(shape, dims) -> tuple:
    """The shape of a reduction's result with keepdim=True: 1 in every reduced dim."""
    return tuple(1 if d in dims else n for d, n in enumerate(shape))


class Mean(Function):
    """Mean over dims.

    forward:  y = (1/n) sum_i x_i       (n = number of elements reduced)
    backward: dL/dx_i = dL/dy / n
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.dims = normalize_dims("mean", dim, x.ndim)
        ctx.keepdim = keepdim
        ctx.shape = x.shape
        ctx.count = int(np.prod([x.shape[d] for d in ctx.dims]))
        return np.sum(x, axis=ctx.dims, keepdims=keepdim) / ctx.count  # = np.mean, cheaper

    @staticmethod
    def backward(ctx, grad_y):
        grad_y = grad_y / grad_y.dtype.type(ctx.count)
        return _expand_to_input(grad_y, ctx.shape, ctx.dims, ctx.keepdim), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        grad_y = grad_y / ctx.count
        if not ctx.keepdim and ctx.dims:
            grad_y = grad_y.reshape(_kept_shape(ctx.shape, ctx.dims))
        return grad_y.expand(ctx.shape), None, None


class Max(Function):
    """Largest element, overall or along one dim.

    forward:  y = max_i x_i
    backward: overall: dL/dx_i = dL/dy / k for each of the k elements equal to the max (ties
              share, as in PyTorch; a NaN max is the NaN elements'), 0 elsewhere;
              along dim: dL/dx_i = dL/dy at the first index of the max (the index returned), 0
              elsewhere
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        return _extreme_forward(ctx, "max", np.max, np.argmax, x, dim, keepdim)

    @staticmethod
    def backward(ctx, grad_y):
        return _extreme_backward(ctx, grad_y), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return _extreme_backward_graph(ctx, grad_y), None, None


class Min(Function):
    """Smallest element, overall or along one dim.

    forward:  y = min_i x_i
    backward: as for max: to the k tied minima (overall) or to the first index of the min (dim)
    """

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        return _extreme_forward(ctx, "min", np.min, np.argmin, x, dim, keepdim)

    @staticmethod
    def backward(ctx, grad_y):
        return _extreme_backward(ctx, grad_y), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return _extreme_backward_graph(ctx, grad_y), None, None


def _extreme_forward(ctx, op, reduce, arg, x, dim, keepdim):
    if x.size == 0:
        raise ValueError(f"{op}: cannot take the {op} of an empty tensor of shape {x.shape}.")
    ctx.shape = x.shape
    ctx.keepdim = keepdim
    if dim is None:
        y = reduce(x)
        ctx.dim = None
        # the elements equal to it share the gradient; a NaN max or min is the NaN elements'
        ctx.save_for_backward(np.isnan(x) if y != y else x == y)
        return as_array(y).reshape((1,) * x.ndim) if keepdim else as_array(y)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be a single int. Got {dim!r} instead.")
    (ctx.dim,) = normalize_dims(op, dim, x.ndim) or (0,)
    index = np.expand_dims(arg(x, axis=ctx.dim), ctx.dim) if x.ndim else np.zeros_like(x, shape=(), dtype=int)
    ctx.save_for_backward(index)
    y = np.take_along_axis(x, index, ctx.dim) if x.ndim else x
    return y if keepdim or not x.ndim else np.squeeze(y, ctx.dim)


def _extreme_backward(ctx, grad_y):
    (saved,) = ctx.saved_tensors
    if ctx.dim is None:
        mask = saved
        return np.reshape(grad_y, ()) * mask / mask.sum().astype(grad_y.dtype)
    if not ctx.shape:
        return grad_y
    grad_x = np.zeros_like(grad_y, shape=ctx.shape)
    g = grad_y if ctx.keepdim else np.expand_dims(grad_y, ctx.dim)
    np.put_along_axis(grad_x, saved, g, ctx.dim)
    return grad_x


def _extreme_backward_graph(ctx, grad_y):
    """_extreme_backward on Tensors: dL/dy times a constant mask of the chosen elements (the
    maxima share it overall; along dim, a one-hot mask of the index)."""
    (saved,) = ctx.saved_tensors
    saved = saved._data  # the mask or the index: a constant
    if ctx.dim is None:
        share = saved / saved.sum().astype(grad_y.dtype)
        return grad_y.reshape(()) * share.astype(grad_y.dtype, copy=False)
    if not ctx.shape:
        return grad_y
    chosen = np.zeros_like(saved, shape=ctx.shape, dtype=grad_y.dtype)
    np.put_along_axis(chosen, saved, 1, ctx.dim)
    if not ctx.keepdim:
        grad_y = grad_y.unsqueeze(ctx.dim)
    return grad_y.expand(ctx.shape) * chosen
