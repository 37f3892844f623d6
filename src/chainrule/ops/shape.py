"""Shape and layout: reshape, permute (transpose), expand, indexing, cat, stack, dtype casts.

These ops move numbers around without changing them, so each backward moves the gradient back:
reshape it back, permute it back, scatter it back into the places it was read from.
"""

import numpy as np

from ..autograd import Function
from ..backend import (as_array, check_later, get_array_module, is_array, is_device_array,
                       outside_range, to_device_of)
from .arithmetic import unbroadcast
from .dims import normalize_dim


class Reshape(Function):
    """Same elements, new shape (one entry may be -1).

    forward:  y = reshape(x, shape)
    backward: dL/dx = reshape(dL/dy, shape of x)
    """

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
                f"shape {tuple(shape)}."
            ) from None

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y.reshape(ctx.shape), None

    backward_graph = backward  # Tensor.reshape: the same call on Tensors


class Permute(Function):
    """Reorder dims; transpose(d0, d1) is the permutation that swaps two of them.

    forward:  y = permute(x, dims)           (y's dim i is x's dim dims[i])
    backward: dL/dx = permute(dL/dy, argsort(dims))   (the inverse permutation)
    """

    @staticmethod
    def forward(ctx, x, dims):
        axes = tuple(normalize_dim("permute", d, x.ndim) for d in dims) if x.ndim else tuple(dims)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(
                f"permute: dims {tuple(dims)} are not a permutation of the {x.ndim} dims of a "
                f"tensor of shape {x.shape}."
            )
        ctx.dims = axes
        return np.transpose(x, ctx.dims)

    @staticmethod
    def backward(ctx, grad_y):
        return np.transpose(grad_y, np.argsort(ctx.dims)), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return grad_y.permute(tuple(int(d) for d in np.argsort(ctx.dims))), None


class Expand(Function):
    """Broadcast to a larger shape without copying (-1 keeps a dim).

    forward:  y = broadcast_to(x, shape)
    backward: dL/dx = unbroadcast(dL/dy, shape of x)     (sum over the copies)
    """

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        lead = len(shape) - x.ndim
        if lead < 0 or any(s == -1 for s in shape[:lead]):
            raise ValueError(
                f"expand: cannot expand shape {x.shape} to {tuple(shape)}: the new shape needs at "
                "least as many dims, and -1 (keep) only where the tensor has a dim."
            )
        shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}.") from None

    @staticmethod
    def backward(ctx, grad_y):
        return unbroadcast(grad_y, ctx.shape), None

    backward_graph = backward  # the same sums on Tensors


def _index_array(index, like=None):
    """Tensors and lists inside an index become arrays, on the device of array ``like``; returns
    (index, has_integer_arrays)."""
    from ..tensor import Tensor

    parts = index if isinstance(index, tuple) else (index,)
    converted = []
    advanced = False
    for part in parts:
        if isinstance(part, Tensor):
            part = part._data
        elif isinstance(part, list):
            part = np.asarray(part)
        if is_array(part) and part.dtype.kind in "iu":
            advanced = True
        converted.append(part)
    index = tuple(converted) if isinstance(index, tuple) else converted[0]
    return (index if like is None else to_device_of(index, like)), advanced


def check_index_bounds(op, index, shape) -> None:
    """Integer index arrays within their axes ([-n, n)), for an array on a GPU, whose indexing
    does not check them (CuPy wraps around): the answer comes at the next synchronisation
    (backend.check_later), as PyTorch's device-side check does. NumPy raises by itself."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is None or p is Ellipsis or (is_array(p) and p.dtype.kind == "b") for p in parts):
        return  # (axes not one per part; such indexes are rare on a GPU and left unchecked)
    for axis, (part, n) in enumerate(zip(parts, shape)):
        if is_device_array(part) and part.dtype.kind in "iu" and part.size:
            def fail(part=part, axis=axis, n=n):
                bad = int(part.min()) if int(part.min()) < -n else int(part.max())
                raise IndexError(f"{op}: index {bad} is out of bounds for axis {axis} with size {n}.")

            shifted = part.astype(np.int64) + n  # [-n, n) to [0, 2n), in a dtype that holds 2n
            check_later(outside_range(shifted, 2 * n, wait=False), fail)


class GetItem(Function):
    """Indexing x[index]: ints, slices, None, Ellipsis, integer arrays, boolean masks.

    forward:  y = x[index]
    backward: dL/dx = zeros of x's shape, with dL/dy added at x[index]; an element read several
              times (repeated integer indices) gets the sum of its gradients
    """

    @staticmethod
    def forward(ctx, x, index):
        index, ctx.advanced = _index_array(index, x)
        ctx.index = index
        ctx.shape = x.shape
        if ctx.advanced and is_device_array(x):
            check_index_bounds("getitem", index, x.shape)
        try:
            y = x[index]
            if not is_array(y):  # one element by integers: a 0-d view (x[i, ...])
                y = x[(*index, Ellipsis) if isinstance(index, tuple) else (index, Ellipsis)]
            elif ctx.advanced and y.base is not None:  # NumPy's own buffer, not x: an array of its
                y = y.copy()  # own, so that nothing takes it for a view of x
            return y
        except IndexError as err:
            raise IndexError(
                f"getitem: index {index!r} is out of bounds for shape {x.shape}: {err}"
            ) from None

    @staticmethod
    def backward(ctx, grad_y):
        grad_x = np.zeros_like(grad_y, shape=ctx.shape)
        if ctx.advanced:
            # accumulates repeated indices; the array's own library's ufunc, as CuPy's arrays hand
            # np.add.at back when the index is a tuple
            get_array_module(grad_x).add.at(grad_x, ctx.index, grad_y)
        else:
            grad_x[ctx.index] = grad_y
        return grad_x, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return IndexPut.apply(grad_y, ctx.shape, ctx.index), None


class IndexPut(Function):
    """Zeros of a given shape with values added at [index]: the adjoint of indexing, which is
    GetItem's backward made an op of its own so that it can be differentiated again (PyTorch:
    zeros(shape).index_put_(index, values, accumulate=True)).

    forward:  y = zeros(shape);  y[index] += v        (repeated integer indices add up)
    backward: dL/dv = dL/dy[index]                     (which is GetItem: the two are adjoints)
    """

    @staticmethod
    def forward(ctx, values, shape, index):
        index, advanced = _index_array(index, values)
        ctx.index = index
        y = np.zeros_like(values, shape=shape)
        try:
            if advanced:
                get_array_module(y).add.at(y, index, values)
            else:
                y[index] = values
        except (IndexError, ValueError) as err:
            raise ValueError(
                f"index_put: cannot add values of shape {values.shape} at index {index!r} of a "
                f"tensor of shape {tuple(shape)}: {err}"
            ) from None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        return as_array(grad_y[ctx.index]), None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return GetItem.apply(grad_y, ctx.index), None, None


class Cat(Function):
    """Join tensors along an existing dim.

    forward:  y = [x_1 | x_2 | ... ] along dim
    backward: dL/dx_k = the slice of dL/dy that x_k occupies
    """

    @staticmethod
    def forward(ctx, dim, *xs):
        for k, x in enumerate(xs):
            if x.ndim == 0:
                raise ValueError(
                    f"cat: zero-dimensional tensors cannot be concatenated; tensor {k} has shape (). "
                    "Use stack to join them along a new dim."
                )
        if xs:
            dim = normalize_dim("cat", dim, xs[0].ndim)
        _check_same_shapes("cat", xs, skip_dim=dim)
        ctx.dim = dim
        ctx.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad_y):
        return (None, *np.split(grad_y, ctx.bounds, axis=ctx.dim))

    @staticmethod
    def backward_graph(ctx, grad_y):
        from .rearrange import Split  # one op for all the pieces (its backward is this cat)

        bounds = (0, *(int(b) for b in ctx.bounds), grad_y.shape[ctx.dim])
        return (None, *Split.apply(grad_y, ctx.dim, bounds))


class Stack(Function):
    """Join same-shaped tensors along a new dim.

    forward:  y[..., k, ...] = x_k          (k along the new dim)
    backward: dL/dx_k = dL/dy[..., k, ...]
    """

    @staticmethod
    def forward(ctx, dim, *xs):
        _check_same_shapes("stack", xs, skip_dim=None)
        dim = normalize_dim("stack", dim, xs[0].ndim + 1)
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad_y):
        return (None, *np.moveaxis(grad_y, ctx.dim, 0))

    @staticmethod
    def backward_graph(ctx, grad_y):
        from .rearrange import Unbind  # one op for all the slices (its backward is this stack)

        return (None, *Unbind.apply(grad_y, ctx.dim))


def _check_same_shapes(op, xs, skip_dim):
    if not xs:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors.")
    first = xs[0].shape
    for k, x in enumerate(xs[1:], start=1):
        a = list(first)
        b = list(x.shape)
        if skip_dim is not None and len(a) == len(b) and len(a) > 0:
            a[skip_dim] = b[skip_dim] = None
        if a != b:
            where = "" if skip_dim is None else f" except in dim {skip_dim}"
            raise ValueError(
                f"{op}: all tensors must have the same shape{where}; tensor 0 has shape {first}, "
                f"tensor {k} has shape {x.shape}."
            )


class Cast(Function):
    """Convert to another dtype (None: same dtype, a copy).

    forward:  y = x as dtype
    backward: dL/dx = dL/dy as x's dtype
    """

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(x.dtype if dtype is None else dtype, copy=True)

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y.astype(ctx.dtype, copy=False), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return (grad_y if grad_y.dtype == ctx.dtype else grad_y.to(ctx.dtype)), None
