"""Rearranging: tril, triu, repeat, flip, roll, split (and chunk), unbind, and the composition
repeat_interleave.

These ops move or copy numbers without changing them, so each backward undoes the move on the
gradient: flip it back, roll it back, keep the same triangle, add up the copies. split and unbind
are one op each with several outputs (views of the input): their backward joins the pieces'
gradients back together in one go (cat, stack), so cutting a sequence into T steps costs O(T) in
the backward, not T full-size gradients of zeros. repeat_interleave is index_select with a
repeated index, so its copies' gradients are added up by index_select's backward.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..backend import arange_on
from ..autograd import Function
from .dims import normalize_dim, normalize_dims


class Tril(Function):
    """The lower triangle of the last two dims: elements with column - row <= diagonal; the
    rest are set to 0.

    forward:  y[..., i, j] = x[..., i, j] if j - i <= diagonal else 0
    backward: dL/dx = tril(dL/dy, diagonal)      (the zeroed elements do not reach y)
    """

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return np.tril(x, diagonal)

    @staticmethod
    def backward(ctx, grad_y):
        return np.tril(grad_y, ctx.diagonal), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return Tril.apply(grad_y, ctx.diagonal), None


class Triu(Function):
    """The upper triangle of the last two dims: elements with column - row >= diagonal; the
    rest are set to 0.

    forward:  y[..., i, j] = x[..., i, j] if j - i >= diagonal else 0
    backward: dL/dx = triu(dL/dy, diagonal)
    """

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.diagonal = diagonal
        return np.triu(x, diagonal)

    @staticmethod
    def backward(ctx, grad_y):
        return np.triu(grad_y, ctx.diagonal), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return Triu.apply(grad_y, ctx.diagonal), None


class Repeat(Function):
    """Tile x: ``sizes[d]`` copies along each dim d (x gets leading 1-dims if sizes is longer).

    forward:  y = tile(x, sizes)          y[a*s + i] = x[i] along each dim of size s
    backward: dL/dx[i] = sum over the copies a of dL/dy[a*s + i]: reshape dL/dy to
              (r_0, s_0, r_1, s_1, ...) and sum over the r axes
    """

    @staticmethod
    def forward(ctx, x, sizes):
        shape = (1,) * (len(sizes) - x.ndim) + x.shape
        ctx.shape, ctx.split = x.shape, tuple(v for r, s in zip(sizes, shape) for v in (r, s))
        ctx.copy_axes = tuple(range(0, 2 * len(sizes), 2))
        return np.tile(x.reshape(shape), sizes)

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y.reshape(ctx.split).sum(axis=ctx.copy_axes).reshape(ctx.shape), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return grad_y.reshape(ctx.split).sum(ctx.copy_axes).reshape(ctx.shape), None


class Flip(Function):
    """Reverse the order of elements along dims.

    forward:  y[..., i, ...] = x[..., n-1-i, ...]   (along each dim in dims)
    backward: dL/dx = flip(dL/dy, dims)             (a flip is its own inverse)
    """

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims)

    @staticmethod
    def backward(ctx, grad_y):
        return np.flip(grad_y, ctx.dims), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return Flip.apply(grad_y, ctx.dims), None


class Roll(Function):
    """Shift elements cyclically along dims (without dims: over the flattened tensor).

    forward:  y[..., (i + shift) mod n, ...] = x[..., i, ...]
    backward: dL/dx = roll(dL/dy, -shifts, dims)      (shift back)
    """

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, grad_y):
        return np.roll(grad_y, _negated(ctx.shifts), ctx.dims), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return Roll.apply(grad_y, _negated(ctx.shifts), ctx.dims), None, None


class Split(Function):
    """Cut x along a dim into consecutive pieces: one op with several outputs (PyTorch's
    SplitBackward), each a view of x. chunk is split with equal pieces.

    forward:  y_k = x[..., b_k : b_{k+1}, ...]         (bounds b_0 = 0 < ... along dim)
    backward: dL/dx = cat(dL/dy_1, ..., dL/dy_K) along dim      (zeros for a piece not used)
    """

    @staticmethod
    def forward(ctx, x, axis, bounds):
        ctx.axis = axis
        before = (slice(None),) * axis
        return tuple(x[(*before, slice(a, b))] for a, b in zip(bounds[:-1], bounds[1:]))

    @staticmethod
    def backward(ctx, *grad_ys):
        return np.concatenate(grad_ys, axis=ctx.axis), None, None

    @staticmethod
    def backward_graph(ctx, *grad_ys):
        from .shape import Cat

        return Cat.apply(ctx.axis, *grad_ys), None, None


class Unbind(Function):
    """The slices of x along a dim, that dim removed: one op with several outputs (PyTorch's
    UnbindBackward), each a view of x.

    forward:  y_i = x[..., i, ...]                       (i = 0 .. n-1 along dim)
    backward: dL/dx = stack(dL/dy_0, ..., dL/dy_{n-1}) along dim   (zeros for a slice not used)
    """

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        before = (slice(None),) * axis
        # (..., Ellipsis): a 0-d view even when one integer picks a single element
        return tuple(x[(*before, i, Ellipsis)] for i in range(x.shape[axis]))

    @staticmethod
    def backward(ctx, *grad_ys):
        return np.stack(grad_ys, axis=ctx.axis), None

    @staticmethod
    def backward_graph(ctx, *grad_ys):
        from .shape import Stack

        return Stack.apply(ctx.axis, *grad_ys), None


def _negated(shifts):
    return tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts


# --------------------------------------------------------------------------------------------
# Entry functions
# --------------------------------------------------------------------------------------------


def _tensor(op, x):
    from .indexing import _tensor

    return _tensor(op, x)


def _int(op, name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int. Got {value!r} instead.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}. Got {value} instead.")
    return int(value)


def _sizes(op, sizes):
    """*sizes or one tuple/list of sizes, as a tuple of ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(_int(op, "each size", s) for s in sizes)


def _matrix(op, input):
    x = _tensor(op, input)
    if x.ndim < 2:
        raise ValueError(
            f"{op}: expected a tensor with at least 2 dims (a matrix or a batch of them); got "
            f"shape {x.shape}."
        )
    return x


def tril(input, diagonal=0):
    """The lower triangle of the last two dims, the rest 0: keeps column - row <= diagonal."""
    return Tril.apply(_matrix("tril", input), _int("tril", "diagonal", diagonal))


def triu(input, diagonal=0):
    """The upper triangle of the last two dims, the rest 0: keeps column - row >= diagonal."""
    return Triu.apply(_matrix("triu", input), _int("triu", "diagonal", diagonal))


def repeat(input, *sizes):
    """Tile input ``sizes[d]`` times along each dim (PyTorch's ``Tensor.repeat``)."""
    x = _tensor("repeat", input)
    sizes = _sizes("repeat", sizes)
    if len(sizes) < x.ndim:
        raise ValueError(
            f"repeat: needs at least one size per dim of the input (shape {x.shape}, {x.ndim} "
            f"dims); got sizes {sizes}."
        )
    if any(s < 0 for s in sizes):
        raise ValueError(f"repeat: sizes must be non-negative. Got {sizes} instead.")
    return Repeat.apply(x, sizes)


def flip(input, dims):
    """Reverse the order of elements along each of ``dims`` (an int or a tuple of ints). The one
    entry of ``chainrule.flip(x, dims)`` and ``x.flip(*dims)``, so both check and word alike."""
    x = _tensor("flip", input)
    # (None is refused, as PyTorch does: to a reduction it means every dim, here nothing)
    items = dims if isinstance(dims, (tuple, list)) else (dims,)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in items):
        raise TypeError(f"flip: dims must be an int or a tuple of ints. Got {dims!r} instead.")
    empty = isinstance(dims, (tuple, list)) and len(dims) == 0
    axes = () if empty else normalize_dims("flip", dims, x.ndim)  # () flips nothing
    return Flip.apply(x, axes)


def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims``; without dims, over the flattened
    tensor (its shape is kept)."""
    x = _tensor("roll", input)
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise ValueError(
                    f"roll: without dims, shifts must be one int; got {tuple(shifts)}. Give dims "
                    "to roll along several dims."
                )
            shifts = shifts[0]
        return Roll.apply(x, _int("roll", "shifts", shifts), None)
    many = isinstance(shifts, (tuple, list)) or isinstance(dims, (tuple, list))
    if not many:
        return Roll.apply(x, _int("roll", "shifts", shifts), normalize_dim("roll", dims, x.ndim))
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise ValueError(
            f"roll: shifts {shifts} and dims {dims} must have the same length (one shift per dim)."
        )
    shifts = tuple(_int("roll", "shifts", s) for s in shifts)
    return Roll.apply(x, shifts, tuple(normalize_dim("roll", d, x.ndim) for d in dims))


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times in place: [a, b] with
    repeats 2 is [a, a, b, b]. ``repeats`` is an int or a 1-D integer tensor with one count per
    element along dim; without dim the input is flattened first.

    Computed as index_select(input, dim, [0]*r_0 + [1]*r_1 + ...), so its gradient is
    index_select's: each element gets the sum of its copies' gradients.
    """
    from .indexing import index_array, index_select

    x = _tensor("repeat_interleave", input)
    if dim is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_dim("repeat_interleave", dim, x.ndim)
        if x.ndim == 0:
            x = x.reshape(1)
    n = x.shape[axis]
    if isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        counts = np.full_like(x._data, int(repeats), shape=n, dtype=np.int64)
    else:
        counts = index_array("repeat_interleave", repeats, "repeats")
        if counts.ndim == 0 or counts.shape == (1,):
            counts = np.full_like(x._data, int(counts.reshape(-1)[0]), shape=n, dtype=np.int64)
        elif counts.shape != (n,):
            raise ValueError(
                f"repeat_interleave: repeats must be an int or hold one count per element along "
                f"dim {axis} ({n}); got repeats of shape {counts.shape} for input shape {x.shape}."
            )
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative. Got {counts.tolist()}.")
    if output_size is not None and output_size != int(counts.sum()):
        raise ValueError(
            f"repeat_interleave: output_size {output_size} differs from the sum of repeats "
            f"{int(counts.sum())}."
        )
    return index_select(x, axis, np.repeat(arange_on(counts, n), counts))


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of tensor along ``dim``: of ``split_size`` each (the last may be smaller), or of
    the sizes in a list (which must add up to the dim's size). The pieces are the outputs of one
    op (Split), views of tensor; their gradients go back together, joined by one cat."""
    x = _tensor("split", tensor)
    if x.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor; it has no dim to split along.")
    axis = normalize_dim("split", dim, x.ndim)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = [_int("split", "each section size", s, 0) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: section sizes {sizes} add up to {sum(sizes)}, but dim {axis} of the "
                f"input (shape {x.shape}) has size {n}; they must be equal."
            )
    else:
        size = _int("split", "split_size", split_size_or_sections, 0)
        if size == 0:
            if n:
                raise ValueError(f"split: split_size 0 cannot split dim {axis} of size {n}.")
            sizes = [0]
        else:
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
    bounds = tuple(int(b) for b in np.cumsum([0] + sizes))
    return Split.apply(x, axis, bounds)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces along ``dim``, each of ceil(n / chunks) elements (the last
    may be smaller, and there may be fewer pieces, as in PyTorch)."""
    x = _tensor("chunk", input)
    chunks = _int("chunk", "chunks", chunks, 1)
    if x.ndim == 0:
        raise ValueError("chunk: cannot chunk a 0-d tensor; it has no dim to split along.")
    axis = normalize_dim("chunk", dim, x.ndim)
    n = x.shape[axis]
    if n == 0:  # PyTorch gives ``chunks`` empty pieces
        return Split.apply(x, axis, (0,) * (chunks + 1))
    return split(x, -(-n // chunks), axis)


def unbind(input, dim=0):
    """The slices along ``dim``, that dim removed: a tuple of x.size(dim) tensors, x[..., i, ...],
    the outputs of one op (Unbind); their gradients go back together, joined by one stack."""
    x = _tensor("unbind", input)
    if x.ndim == 0:
        raise ValueError("unbind: cannot unbind a 0-d tensor; it has no dim to take slices along.")
    axis = normalize_dim("unbind", dim, x.ndim)
    if x.shape[axis] == 0:
        return ()
    return Unbind.apply(x, axis)
