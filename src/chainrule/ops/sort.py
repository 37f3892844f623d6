"""Sorting: sort, argsort, topk.

No op of their own: the order is found on the values (an index array, which has no gradient), and
the sorted values are then read through that order with gather. So the derivative is gather's:
each sorted value's gradient is routed back to the position it came from,

    values = gather(x, dim, indices)        dL/dx[..., indices[k], ...] = dL/dvalues[..., k, ...]

(argmax and argmin are Tensor methods in tensor.py.)
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..backend import arange_on, zeros_on
from .dims import normalize_dim

_SortResult = namedtuple("sort", ("values", "indices"))  # as torch.return_types.sort
_TopkResult = namedtuple("topk", ("values", "indices"))


def _order(x, axis, descending):
    """Indices that sort ``x`` along ``axis``, stably (equal elements keep their order), NaN
    counted as the largest value as in PyTorch. Descending: the ascending stable sort of the
    reversed array, read backwards, so ties still come in their original order."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(order, axis)


def _sort_args(op, input, dim):
    from .indexing import _tensor

    x = _tensor(op, input)
    axis = normalize_dim(op, dim, x.ndim)
    return x, axis


def _check_bool(op, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool. Got {value!r} instead.")
    return bool(value)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort input along ``dim`` (int64, no gradient). The sort is always stable
    here, which ``stable=False`` permits."""
    x, axis = _sort_args("argsort", input, dim)
    from ..tensor import Tensor

    descending = _check_bool("argsort", "descending", descending)
    _check_bool("argsort", "stable", stable)
    if x.ndim == 0:
        return Tensor._from_op(zeros_on(x, (), dtype=np.int64), None)
    return Tensor._from_op(_order(x._data, axis, descending).astype(np.int64), None)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices): input sorted along ``dim``, and where each value came from. The values
    are gather(input, dim, indices), so their gradient goes back to those positions."""
    from ..tensor import Tensor
    from .indexing import Gather

    x, axis = _sort_args("sort", input, dim)
    descending = _check_bool("sort", "descending", descending)
    _check_bool("sort", "stable", stable)
    if x.ndim == 0:  # a 0-d tensor is sorted already, as in PyTorch
        values, indices = sort(x.reshape(1), 0, descending, stable)
        return _SortResult(values.reshape(()), indices.reshape(()))
    indices = _order(x._data, axis, descending).astype(np.int64)
    return _SortResult(Gather.apply(x, axis, indices), Tensor._from_op(indices, None))


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    """(values, indices): the k largest (or smallest) elements along ``dim``, largest first (or
    smallest first). The values are gather(input, dim, indices), so each one's gradient goes back
    to its position. Results always come sorted, which ``sorted=False`` permits."""
    from ..tensor import Tensor
    from .indexing import Gather

    x, axis = _sort_args("topk", input, dim)
    largest = _check_bool("topk", "largest", largest)
    _check_bool("topk", "sorted", sorted)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int. Got {k!r} instead.")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(
            f"topk: k = {k} is out of range for dim {axis} of size {n} (input shape {x.shape}); "
            f"k must be in [0, {n}]."
        )
    if x.ndim == 0 and k == 1:  # a 0-d tensor is its own top 1, as in PyTorch
        values, indices = topk(x.reshape(1), 1, 0, largest, sorted)
        return _TopkResult(values.reshape(()), indices.reshape(()))
    x = x.reshape(1) if x.ndim == 0 else x
    order = _order(x._data, axis, descending=largest)
    indices = np.take(order, arange_on(order, k), axis=axis).astype(np.int64)
    return _TopkResult(Gather.apply(x, axis, indices), Tensor._from_op(indices, None))
