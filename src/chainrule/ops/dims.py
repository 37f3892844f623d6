"""Checking dims: one place that turns a user's dim (negative allowed) into an axis, or says why not.

PyTorch's rule: a tensor with n dims (n >= 1) takes dims -n .. n-1; a 0-d tensor takes -1 and 0.
Anything else is an error — never wrapped around with %, which would silently pick another dim.
"""

import functools

import numpy as np


def normalize_dim(op: str, dim, ndim: int) -> int:
    """``dim`` as an axis in [0, max(ndim, 1)), or a TypeError/ValueError naming op and values."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int. Got {dim!r} instead.")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise ValueError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
            f"(expected a dim in [{-size}, {size - 1}])."
        )
    return int(dim) % size


def normalize_dims(op: str, dim, ndim: int) -> tuple:
    """dim (None, int or tuple, negatives allowed) as a sorted tuple of distinct axes; None and an
    empty tuple mean every axis (PyTorch's reading: ``x.sum(())`` sums everything)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{op}: dim must be an int or a tuple of ints. Got {dim!r} instead.")
    axes = [normalize_dim(op, d, ndim) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim!r} names the same dim twice.")
    return tuple(sorted(axes)) if ndim else ()


def numpy_spellings(method):
    """Let a reduction method also take NumPy's spellings ``axis=`` for ``dim=`` and
    ``keepdims=`` for ``keepdim=``, as PyTorch's reductions do (``x.sum(axis=1, keepdims=True)``),
    and refuse a keepdim that is not a bool."""
    name = method.__name__

    @functools.wraps(method)
    def reduction(self, *args, **kwargs):
        if kwargs:
            for numpy_name, torch_name, position in (("axis", "dim", 0), ("keepdims", "keepdim", 1)):
                if numpy_name in kwargs:
                    if torch_name in kwargs or len(args) > position:
                        raise TypeError(f"{name}: give {torch_name!r} or {numpy_name!r}, not both.")
                    kwargs[torch_name] = kwargs.pop(numpy_name)
            keepdim = kwargs.get("keepdim", False)
            if not isinstance(keepdim, (bool, np.bool_)):  # keepdim=3 is a mistake, as in PyTorch
                raise TypeError(f"{name}: keepdim must be a bool. Got {keepdim!r} instead.")
        return method(self, *args, **kwargs)

    return reduction
