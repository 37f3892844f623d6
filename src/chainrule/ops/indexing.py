"""Indexing: gather, scatter, scatter_add, index_select, index_add, masked_fill.

Each op reads or writes the elements an integer index names, so each backward moves the gradient
along the same index the other way: what gather reads, its backward adds back (as np.add.at
would, so an element read twice gets both gradients; ``add_at`` below does the same faster); what
scatter_add adds, its backward reads back (gather). The ops come in such pairs, and each one's
second derivative is its partner.

How an index names elements (PyTorch's gather/scatter rule, for an index with the input's number
of dims): the element at position (i, j, k) of ``index`` names, along ``dim`` = 1, the element
(i, index[i, j, k], k) of the input. ``_positions`` turns an index into those coordinates.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import (check_later, check_same_device, contiguous, get_array_module, is_array, ones_on,
                       outside_range, to_device_of, zeros_on)
from .dims import normalize_dim


def _positions(index, dim):
    """The coordinates an index names: a tuple of arrays, one per dim, broadcast to index's shape.
    ``x[_positions(index, dim)]`` is gather; ``np.add.at(out, _positions(index, dim), src)`` is
    scatter_add."""
    xp = get_array_module(index)  # (CuPy's indices has no sparse=)
    grids = [xp.arange(n).reshape((1,) * d + (n,) + (1,) * (index.ndim - d - 1))
             for d, n in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


def add_at(out, index, rows):
    """out[index[j]] += rows[j] for every j along axis 0, repeated indices adding up: what
    ``np.add.at(out, index, rows)`` does, several times faster. Sort the index (stably, so each
    position's terms are added in their original order), then add each run of equal indices with
    one np.add.reduceat."""
    if index.size == 0:
        return
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    first = ones_on(ordered, 1, dtype=bool)
    starts = np.flatnonzero(np.concatenate((first, ordered[1:] != ordered[:-1])))
    out[ordered[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def _add_at_positions(out, index, dim, values):
    """out[_positions(index, dim)] += values, repeated positions adding up (add_at on the flat
    position of each element). ``out`` must be C-contiguous (the callers make it), so that its
    flat reshape is a view that the sums land in."""
    flat = np.ravel_multi_index(np.broadcast_arrays(*_positions(index, dim)), out.shape)
    add_at(out.reshape(-1), flat.reshape(-1), contiguous(values).reshape(-1))


def _leading_block(array, shape):
    """The block of ``array`` at its origin with ``shape`` (src may be larger than index)."""
    if array.shape == tuple(shape):
        return array
    return array[tuple(slice(0, s) for s in shape)]


def _pad_to(grad, shape):
    """``grad`` (index's shape) placed at the origin of zeros of ``shape`` (src's shape)."""
    if grad.shape == tuple(shape):
        return grad
    out = zeros_on(grad, shape)
    out[tuple(slice(0, s) for s in grad.shape)] = grad
    return out


def _pad_to_graph(grad, shape):
    """_pad_to in Tensor ops (cat with constant zeros, dim by dim), for backward_graph."""
    from ..functions import cat
    from ..tensor import Tensor

    for d, size in enumerate(shape):
        missing = size - grad.shape[d]
        if missing:
            zeros = zeros_on(grad, grad.shape[:d] + (missing,) + grad.shape[d + 1:])
            grad = cat([grad, Tensor(zeros)], d)
    return grad


class Gather(Function):
    """Read x along ``dim`` at the positions an index names (PyTorch's gather).

    forward:  y[i][j][k] = x[i][index[i][j][k]][k]          (for dim = 1; y has index's shape)
    backward: dL/dx = zeros of x's shape with dL/dy added at the positions read,
              dL/dx[i][index[i][j][k]][k] += dL/dy[i][j][k]   (np.add.at: an element read several
              times gets the sum of its gradients) -- that is scatter_add(0, dim, index, dL/dy)
    """

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.index, ctx.shape = dim, index, x.shape
        return x[_positions(index, dim)]

    @staticmethod
    def backward(ctx, grad_y):
        grad_x = zeros_on(grad_y, ctx.shape)
        _add_at_positions(grad_x, ctx.index, ctx.dim, grad_y)
        return grad_x, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        zeros = zeros_on(grad_y, ctx.shape)
        return ScatterAdd.apply(zeros, ctx.dim, ctx.index, grad_y), None, None


class Scatter(Function):
    """Write src (or one value) into a copy of x at the positions an index names.

    forward:  y = x, then y[i][index[i][j][k]][k] = src[i][j][k]      (for dim = 1)
    backward: dL/dx = dL/dy with zeros at the positions written (those x values were overwritten)
              dL/dsrc[i][j][k] = dL/dy[i][index[i][j][k]][k]  (gather), zeros where src is larger
              than index; a scalar value gets no gradient
    With an index that names a position twice, which write survives is undefined in PyTorch; like
    PyTorch, every src element that was written gets the gradient of its position.
    """

    @staticmethod
    def forward(ctx, x, dim, index, src):
        positions = _positions(index, dim)
        y = x.copy()
        y[positions] = _leading_block(src, index.shape) if np.ndim(src) else src
        keep = ones_on(x, x.shape, dtype=bool)
        keep[positions] = False
        ctx.dim, ctx.index, ctx.keep, ctx.src_shape = dim, index, keep, np.shape(src)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        grad_x = grad_y * ctx.keep if ctx.needs_input_grad[0] else None
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = _pad_to(grad_y[_positions(ctx.index, ctx.dim)], ctx.src_shape)
        return grad_x, None, None, grad_src

    @staticmethod
    def backward_graph(ctx, grad_y):
        grad_x = grad_y * ctx.keep.astype(grad_y.dtype) if ctx.needs_input_grad[0] else None
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = _pad_to_graph(Gather.apply(grad_y, ctx.dim, ctx.index), ctx.src_shape)
        return grad_x, None, None, grad_src


class ScatterAdd(Function):
    """Add src into a copy of x at the positions an index names (repeated positions add up).

    forward:  y = x, then y[i][index[i][j][k]][k] += src[i][j][k]     (for dim = 1)
    backward: dL/dx = dL/dy
              dL/dsrc[i][j][k] = dL/dy[i][index[i][j][k]][k]  (gather), zeros where src is larger
              than index
    """

    @staticmethod
    def forward(ctx, x, dim, index, src):
        y = x.astype(np.result_type(x, src), copy=True)
        _add_at_positions(y, index, dim, _leading_block(src, index.shape))
        ctx.dim, ctx.index, ctx.src_shape = dim, index, np.shape(src)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = _pad_to(grad_y[_positions(ctx.index, ctx.dim)], ctx.src_shape)
        return grad_y, None, None, grad_src

    @staticmethod
    def backward_graph(ctx, grad_y):
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = _pad_to_graph(Gather.apply(grad_y, ctx.dim, ctx.index), ctx.src_shape)
        return grad_y, None, None, grad_src


class IndexSelect(Function):
    """Whole slices of x along ``dim``, in the order (and with the repeats) of a 1-D index.

    forward:  y[..., j, ...] = x[..., index[j], ...]            (j along dim)
    backward: dL/dx[..., index[j], ...] += dL/dy[..., j, ...]   (np.add.at: a slice chosen
              several times gets the sum of its gradients) -- that is index_add(0, dim, index, dL/dy)
    """

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.index, ctx.shape = dim, index, x.shape
        return np.take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad_y):
        grad_x = zeros_on(grad_y, ctx.shape)
        add_at(np.moveaxis(grad_x, ctx.dim, 0), ctx.index, np.moveaxis(grad_y, ctx.dim, 0))
        return grad_x, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        zeros = zeros_on(grad_y, ctx.shape)
        return IndexAdd.apply(zeros, ctx.dim, ctx.index, grad_y, 1.0), None, None


class IndexAdd(Function):
    """Add alpha * source's slices into a copy of x at the slices a 1-D index names.

    forward:  y = x, then y[..., index[j], ...] += alpha * source[..., j, ...]   (j along dim)
    backward: dL/dx = dL/dy
              dL/dsource[..., j, ...] = alpha * dL/dy[..., index[j], ...]   (index_select)
    """

    @staticmethod
    def forward(ctx, x, dim, index, source, alpha):
        y = x.astype(np.result_type(x, source), copy=True)
        add_at(np.moveaxis(y, dim, 0), index, alpha * np.moveaxis(source, dim, 0))
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return y

    @staticmethod
    def backward(ctx, grad_y):
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = ctx.alpha * np.take(grad_y, ctx.index, axis=ctx.dim)
        return grad_y, None, None, grad_source, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = IndexSelect.apply(grad_y, ctx.dim, ctx.index) * ctx.alpha
        return grad_y, None, None, grad_source, None


class MaskedFill(Function):
    """x with ``value`` wherever the (broadcast) boolean mask is true. The mask gets no gradient.

    forward:  y = mask ? value : x
    backward: dL/dx = mask ? 0 : dL/dy
              dL/dvalue = sum of dL/dy where mask (when value is a 0-d tensor that requires grad)
    """

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        value = value.astype(x.dtype) if is_array(value) else x.dtype.type(value)
        return np.where(mask, value, x)

    @staticmethod
    def backward(ctx, grad_y):
        (mask,) = ctx.saved_tensors
        zero = grad_y.dtype.type(0)
        grad_x = np.where(mask, zero, grad_y) if ctx.needs_input_grad[0] else None
        grad_value = None
        if ctx.needs_input_grad[2]:
            grad_value = np.where(mask, grad_y, zero).sum()
        return grad_x, None, grad_value

    @staticmethod
    def backward_graph(ctx, grad_y):
        from ..functions import where

        (mask,) = ctx.saved_tensors
        mask = mask._data if hasattr(mask, "_data") else mask  # a constant, never differentiated
        zero = grad_y.dtype.type(0)
        grad_x = where(mask, zero, grad_y) if ctx.needs_input_grad[0] else None
        grad_value = where(mask, grad_y, zero).sum() if ctx.needs_input_grad[2] else None
        return grad_x, None, grad_value


# --------------------------------------------------------------------------------------------
# Entry functions: the one argument check of each op (Tensor methods, chainrule.X and F.X all
# come here)
# --------------------------------------------------------------------------------------------


def _tensor(op, x, name="input"):
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, int, float, np.number)):
        return Tensor(x)
    raise TypeError(f"{op}: expected a Tensor as {name}. Got {type(x).__name__} instead.")


def index_array(op, index, name="index", like=None) -> np.ndarray:
    """An index (a Tensor, array or list of integers) as an int64 array, or a TypeError naming
    the op, the argument and the dtype it got; an index Tensor on another device than the Tensor
    ``like`` it indexes is refused."""
    from ..tensor import Tensor

    if isinstance(index, Tensor):
        check_same_device(op, index, like)
        array = index._data
    elif is_array(index):
        array = index
    elif isinstance(index, (list, tuple, int, np.integer)) and not isinstance(index, bool):
        array = np.asarray(index)
        if array.size == 0:
            array = array.astype(np.int64)
    else:
        raise TypeError(
            f"{op}: {name} must be a tensor of integers. Got {type(index).__name__} instead."
        )
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: {name} must be a tensor of integers (int64); got dtype {array.dtype}. "
            f"Convert it with {name}.to(chainrule.int64)."
        )
    return array.astype(np.int64, copy=False)


def _check_in_range(op, index, size, dim, shape, name="index"):
    """Every index in [0, size); on a GPU the answer comes at the next synchronisation."""
    if not index.size:
        return

    def fail():
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(
            f"{op}: {name} {int(bad)} is out of range for dim {dim} of size {size} (input shape "
            f"{shape}); every {name} must be in [0, {size - 1}]."
        )

    check_later(outside_range(index, size, wait=False), fail)


def _check_index_shape(op, index, dim, x_shape, src_shape=None):
    """PyTorch's rule: index has x's number of dims, is no larger than x in any dim but ``dim``,
    and no larger than src (scatter) in any dim."""
    if index.ndim != len(x_shape):
        raise ValueError(
            f"{op}: index must have as many dims as the input; got index shape {index.shape} for "
            f"input shape {x_shape}. Add or remove dims with unsqueeze/squeeze."
        )
    for d, (i, s) in enumerate(zip(index.shape, x_shape)):
        if d != dim and i > s:
            raise ValueError(
                f"{op}: index shape {index.shape} is larger than input shape {x_shape} in dim {d} "
                f"({i} > {s}); only dim {dim} may be larger."
            )
    if src_shape is not None:
        if len(src_shape) != index.ndim or any(i > s for i, s in zip(index.shape, src_shape)):
            raise ValueError(
                f"{op}: src of shape {src_shape} must have index's dims and be at least as large "
                f"as index {index.shape} in each of them."
            )


def _scalar_zero_d(op, fn, x, dim, index, *rest):
    """Gather/scatter on a 0-d input: PyTorch allows it, as the 1-element 1-d case."""
    return fn(x.reshape(1), dim, index.reshape(1), *rest).reshape(())


def gather(input, dim, index):
    """Values of input along ``dim`` at the positions ``index`` names (see ``Gather``)."""
    x = _tensor("gather", input)
    index = index_array("gather", index, like=x)
    axis = normalize_dim("gather", dim, x.ndim)
    if x.ndim == 0:
        return _scalar_zero_d("gather", gather, x, 0, index)
    _check_index_shape("gather", index, axis, x.shape)
    _check_in_range("gather", index, x.shape[axis], axis, x.shape)
    return Gather.apply(x, axis, index)


def _scatter_args(op, input, dim, index, src):
    from ..tensor import Tensor

    x = _tensor(op, input)
    index = index_array(op, index, like=x)
    axis = normalize_dim(op, dim, x.ndim)
    if isinstance(src, Tensor):
        if src.dtype != x.dtype:
            src = src.to(x.dtype)
        src_shape = src.shape
    elif isinstance(src, (int, float, bool, np.number)):
        src_shape = None
    else:
        src = _tensor(op, src, "src").to(x.dtype)
        src_shape = src.shape
    _check_index_shape(op, index, axis, x.shape, src_shape)
    _check_in_range(op, index, x.shape[axis] if x.ndim else 1, axis, x.shape)
    return x, axis, index, src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of input with src (a tensor) or ``value`` (a number) written at the positions
    ``index`` names (see ``Scatter``). ``reduce`` is not supported: use scatter_add to add."""
    if reduce is not None:
        raise ValueError(
            f"scatter: reduce={reduce!r} is not supported by chainrule; use scatter_add for "
            "reduce='add'."
        )
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or number) and value (a number).")
    x, axis, index, src = _scatter_args("scatter", input, dim, index, src if value is None else value)
    if not hasattr(src, "_data"):
        src = to_device_of(np.asarray(src, dtype=x.dtype), x._data)
    if x.ndim == 0:
        return _scalar_zero_d("scatter", scatter, x, 0, index, src.reshape(1) if src.ndim else src)
    return Scatter.apply(x, axis, index, src)


def scatter_add(input, dim, index, src):
    """A copy of input with src added at the positions ``index`` names; positions named several
    times receive the sum (see ``ScatterAdd``)."""
    from ..tensor import Tensor

    if not isinstance(src, Tensor):
        src = _tensor("scatter_add", src, "src")
    x, axis, index, src = _scatter_args("scatter_add", input, dim, index, src)
    if x.ndim == 0:
        return _scalar_zero_d("scatter_add", scatter_add, x, 0, index, src.reshape(1))
    return ScatterAdd.apply(x, axis, index, src)


def _vector_index(op, index, x, axis):
    index = index_array(op, index, like=x)
    if index.ndim > 1:
        raise ValueError(
            f"{op}: index must be 1-D (or 0-d); got shape {index.shape}. Flatten it with "
            "index.reshape(-1) and reshape the result."
        )
    size = x.shape[axis] if x.ndim else 1
    _check_in_range(op, index, size, axis, x.shape)
    return index.reshape(-1)


def index_select(input, dim, index):
    """The slices of input along ``dim`` that a 1-D index names, repeats allowed (see
    ``IndexSelect``)."""
    x = _tensor("index_select", input)
    axis = normalize_dim("index_select", dim, x.ndim)
    index = _vector_index("index_select", index, x, axis)
    if x.ndim == 0:
        return IndexSelect.apply(x.reshape(1), 0, index).reshape(())
    return IndexSelect.apply(x, axis, index)


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of input with alpha * source's slices added at the slices a 1-D index names (see
    ``IndexAdd``)."""
    x = _tensor("index_add", input)
    source = _tensor("index_add", source, "source")
    if source.dtype != x.dtype:
        source = source.to(x.dtype)
    axis = normalize_dim("index_add", dim, x.ndim)
    index = _vector_index("index_add", index, x, axis)
    expected = x.shape[:axis] + (len(index),) + x.shape[axis + 1:] if x.ndim else (len(index),)
    if source.shape != expected and not (x.ndim == 0 and source.ndim == 0):
        raise ValueError(
            f"index_add: source of shape {source.shape} does not fit input {x.shape} with "
            f"{len(index)} indices along dim {axis}: expected source shape {expected}."
        )
    if x.ndim == 0:
        return IndexAdd.apply(x.reshape(1), 0, index, source.reshape(1), alpha).reshape(())
    return IndexAdd.apply(x, axis, index, source, alpha)


def masked_fill(input, mask, value):
    """input with ``value`` (a number or a 0-d tensor) where the boolean mask (broadcast to
    input's shape) is true (see ``MaskedFill``)."""
    from ..tensor import Tensor

    x = _tensor("masked_fill", input)
    if isinstance(mask, Tensor) and mask.ndim:  # (a 0-d one counts as a number)
        check_same_device("masked_fill", mask, x)
    mask_array = mask._data if isinstance(mask, Tensor) else to_device_of(np.asarray(mask), x._data)
    if mask_array.dtype != np.bool_:
        raise TypeError(
            f"masked_fill: mask must be a boolean tensor; got dtype {mask_array.dtype}. Make one "
            "with a comparison (x > 0) or mask.to(chainrule.bool_)."
        )
    try:
        fits = np.broadcast_shapes(mask_array.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"masked_fill: mask of shape {mask_array.shape} cannot be broadcast to the input's "
            f"shape {x.shape}; give a mask of shape {x.shape} or one that broadcasts to it."
        )
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill: value must be a number or a 0-d tensor; got a tensor of shape "
                f"{value.shape}. Use chainrule.where(mask, value, input) to fill from a tensor."
            )
        if value.dtype != x.dtype:
            value = value.to(x.dtype) if x.dtype.kind in "fc" else value.detach()
    elif not isinstance(value, (int, float, bool, np.number)):
        raise TypeError(
            f"masked_fill: value must be a number or a 0-d tensor. Got {type(value).__name__} "
            "instead."
        )
    return MaskedFill.apply(x, mask_array, value)


def one_hot(tensor, num_classes=-1):
    """Class indices as one-hot rows: shape (*tensor.shape, num_classes), int64, 1 at each
    index and 0 elsewhere. No gradient (indices have none). num_classes=-1 takes max + 1."""
    from ..tensor import Tensor

    if isinstance(tensor, Tensor):
        indices = tensor._data
    elif isinstance(tensor, (np.ndarray, list, tuple)):
        indices = np.asarray(tensor)
    else:
        raise TypeError(f"one_hot: expected a Tensor of class indices. Got {type(tensor).__name__} instead.")
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"one_hot: class indices must be integers (int64); got dtype {indices.dtype}. Convert "
            "them with tensor.to(chainrule.int64)."
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int. Got {num_classes!r} instead.")
    if num_classes == -1:
        if indices.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; give num_classes.")
        num_classes = int(indices.max()) + 1
    elif num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 (infer) or non-negative. Got {num_classes}.")
    if indices.size and outside_range(indices, num_classes):
        bad = int(indices.min() if indices.min() < 0 else indices.max())
        raise ValueError(
            f"one_hot: class index {bad} is out of range for num_classes = {num_classes}; every "
            f"index must be in [0, {num_classes - 1}]."
        )
    out = zeros_on(indices, indices.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, indices[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._from_op(out, None)
