"""Padding and resampling: F.pad, F.interpolate (nearest, bilinear), adaptive average pooling.

Each of these moves or mixes elements along each spatial dim independently, so each is a linear
map applied dim by dim: along a dim of size n_in it multiplies by a matrix A of shape (n_out, n_in).

    interpolate, nearest:    A[o, i] = 1 where i is the source of o
    interpolate, bilinear:   two entries per row, 1 - lambda and lambda (bilinear = linear in H,
                             then linear in W)
    adaptive_avg_pool:       A[o, i] = 1 / len(window o) over the window
    pad, reflect/replicate/circular:  A[o, i] = 1 where i is the element that o copies

The backward of a linear map is its transpose: dL/dx = dL/dy multiplied by A (not Aᵀ) along
each dim, which sends every output's gradient back to the inputs it was made of, with the same
weights (a padded element's gradient is added to the element it copied).
"""

import numpy as np

from ..autograd import Function
from ..backend import to_device_of, contiguous


def _along(x, matrices, transpose=False):
    """Apply matrices[k] along dim -len(matrices) + k of x (or their transposes)."""
    d = len(matrices)
    for k, a in enumerate(matrices):
        if a is None:
            continue
        axis = x.ndim - d + k
        moved = np.moveaxis(x, axis, -1)
        moved = np.matmul(moved, a if transpose else a.T)
        x = np.moveaxis(moved, -1, axis)
    return contiguous(x)


def _along_graph(x, matrices, transpose=False):
    """_along in Tensor ops, with the matrices as constants (for backward_graph)."""
    from ..tensor import Tensor

    d = len(matrices)
    for k, a in enumerate(matrices):
        if a is None:
            continue
        axis = x.ndim - d + k
        moved = x.transpose(axis, -1)
        constant = to_device_of(a.astype(x.dtype) if transpose else a.T.astype(x.dtype), x._data)
        moved = moved @ Tensor._from_op(constant, None)
        x = moved.transpose(axis, -1)
    return x


class Resample(Function):
    """A linear map along each of the last dims: interpolate (nearest, bilinear) and adaptive
    average pooling. The matrices A_k (n_out_k, n_in_k) are built by the caller.

    forward:  y = x multiplied by A_k along dim k, for each k     (2-D: y = A_h x A_wᵀ)
    backward: dL/dx = dL/dy multiplied by A_kᵀ along dim k          (2-D: A_hᵀ dL/dy A_w)
    """

    @staticmethod
    def forward(ctx, x, matrices):
        ctx.matrices = tuple(None if a is None else to_device_of(a.astype(x.dtype), x) for a in matrices)
        return _along(x, ctx.matrices)

    @staticmethod
    def backward(ctx, grad_y):
        return _along(grad_y, ctx.matrices, transpose=True), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return _along_graph(grad_y, ctx.matrices, transpose=True), None


NUMPY_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


def source_index(size, before, after, mode):
    """For each element along a padded dim, the index of the element it copies (-1: the fill
    value of constant padding). NumPy's pad modes 'reflect', 'edge' and 'wrap' are PyTorch's
    'reflect', 'replicate' and 'circular'."""
    if mode == "constant":
        return np.concatenate([np.full(before, -1), np.arange(size), np.full(after, -1)])
    return np.pad(np.arange(size), (before, after), mode=NUMPY_PAD_MODES[mode])


class Pad(Function):
    """Padding of the last dims (F.pad): 'constant' (a fill value), 'reflect' (mirror without
    repeating the edge), 'replicate' (repeat the edge), 'circular' (wrap around).

    forward:  y[o] = x[source(o)]                    (constant: the value where no source)
    backward: dL/dx[i] = sum of dL/dy[o] over the o with source(o) = i
              (constant: the slice of dL/dy over x; the others: a padded element's gradient is
              added to the element it copies)
    """

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        # widths: ((before, after), ...) for the last len(widths) dims, first dim first
        d = len(widths)
        ctx.shape, ctx.widths, ctx.mode = x.shape, widths, mode
        full = ((0, 0),) * (x.ndim - d) + tuple(widths)
        if mode == "constant":
            return np.pad(x, full, mode="constant", constant_values=value)
        ctx.matrices = tuple(
            _one_hot(source_index(x.shape[x.ndim - d + k], *widths[k], mode), x.shape[x.ndim - d + k])
            for k in range(d)
        )
        return np.pad(x, full, mode=NUMPY_PAD_MODES[mode])

    @staticmethod
    def backward(ctx, grad_y):
        if ctx.mode == "constant":
            return contiguous(grad_y[_crop(ctx)]), None, None, None
        matrices = tuple(a.astype(grad_y.dtype) for a in ctx.matrices)
        return _along(grad_y, matrices, transpose=True), None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        if ctx.mode == "constant":
            return grad_y[_crop(ctx)], None, None, None
        return _along_graph(grad_y, ctx.matrices, transpose=True), None, None, None


def _crop(ctx):
    d = len(ctx.widths)
    lead = (slice(None),) * (len(ctx.shape) - d)
    return lead + tuple(slice(before, before + ctx.shape[len(ctx.shape) - d + k])
                        for k, (before, _) in enumerate(ctx.widths))


def _one_hot(index, size):
    """(len(index), size) with a 1 at [o, index[o]] (a row of zeros where index is -1)."""
    a = np.zeros((len(index), size))
    rows = np.flatnonzero(index >= 0)
    a[rows, index[rows]] = 1.0
    return a
