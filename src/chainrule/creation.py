"""Tensor factories: zeros, ones, full, arange, randn, rand and the *_like variants.

Random ones draw from the generator that ``chainrule.manual_seed`` seeds.
"""

from __future__ import annotations

import numpy as np

from .random import default_generator
from .tensor import Tensor, _resolve_dtype, float32

__all__ = ["zeros", "ones", "full", "zeros_like", "ones_like", "arange", "randn", "rand", "empty"]


def _shape(op, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints. Got {tuple(size)} instead.")
    return tuple(int(s) for s in size)


def _make(array, requires_grad):
    t = Tensor._from_op(array, None)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.zeros(_shape("zeros", size), dtype=_resolve_dtype(dtype) or float32), requires_grad)


def ones(*size, dtype=None, requires_grad=False) -> Tensor:
    return _make(np.ones(_shape("ones", size), dtype=_resolve_dtype(dtype) or float32), requires_grad)


def empty(*size, dtype=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    shape = _shape("full", (size,) if isinstance(size, (tuple, list)) else (size,))
    if dtype is None:
        dtype = float32 if isinstance(fill_value, float) else np.asarray(fill_value).dtype
        dtype = np.int64 if np.dtype(dtype).kind in "iu" else dtype
    return _make(np.full(shape, fill_value, dtype=_resolve_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    data = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.zeros(data.shape, dtype=_resolve_dtype(dtype) or data.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    data = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.ones(data.shape, dtype=_resolve_dtype(dtype) or data.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Numbers from start (inclusive) to end (exclusive); ints give int64, floats float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if is_float else np.int64
    return _make(np.arange(start, end, step, dtype=_resolve_dtype(dtype)), requires_grad)


def randn(*size, dtype=None, requires_grad=False) -> Tensor:
    """Samples from N(0, 1)."""
    dtype = _resolve_dtype(dtype) or float32
    data = default_generator().standard_normal(_shape("randn", size)).astype(dtype)
    return _make(data, requires_grad)


def rand(*size, dtype=None, requires_grad=False) -> Tensor:
    """Samples from U[0, 1)."""
    dtype = _resolve_dtype(dtype) or float32
    data = default_generator().random(_shape("rand", size)).astype(dtype)
    return _make(data, requires_grad)
