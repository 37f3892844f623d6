"""Top-level functions of chainrule (``chainrule.cat``, ``chainrule.where``, ``chainrule.exp``, ...).

Each one only turns its arguments into Tensors or arrays and calls an op from ``chainrule.ops``.
"""

from __future__ import annotations

import numpy as np

from .backend import check_same_device, is_array, to_device_of
from . import ops
from .tensor import Tensor, _promoted

__all__ = [
    "cat", "stack", "where", "maximum", "minimum", "matmul",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp",
    "softmax", "log_softmax", "sum", "mean",
    "log10", "log2", "log1p", "expm1", "flatten", "t", "eq", "ne", "lt", "le", "gt", "ge",
    "all", "any", "isclose", "allclose", "equal", "max", "min", "argmax", "argmin",
    "numel", "is_tensor", "is_floating_point",
]


def _tensors(op, seq):
    """The sequence's items as Tensors, promoted to one dtype (int and float32 tensors: float32)."""
    if isinstance(seq, Tensor) or not isinstance(seq, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors. Got {type(seq).__name__} instead.")
    return _promoted([t if isinstance(t, Tensor) else Tensor(t) for t in seq])


def cat(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dim."""
    return ops.Cat.apply(dim, *_tensors("cat", tensors))


def stack(tensors, dim=0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    return ops.Stack.apply(dim, *_tensors("stack", tensors))


def where(condition, input, other) -> Tensor:
    """input where condition is true, else other (broadcast together), in the promoted dtype of
    input and other: where(cond, 2.5, int_tensor) is float32, as in PyTorch."""
    like_tensor = next((t for t in (input, other) if isinstance(t, Tensor)), None)
    if isinstance(condition, Tensor) and condition.ndim:  # (a 0-d one counts as a number)
        check_same_device("where", condition, like_tensor)
    cond = condition._data if isinstance(condition, Tensor) else condition
    cond = cond if is_array(cond) else np.asarray(cond)
    like = None if like_tensor is None else like_tensor._data
    cond = cond if like is None else to_device_of(cond, like)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean. Got dtype {cond.dtype} instead.")
    return ops.Where.apply(cond, *_promoted((input, other)))


def maximum(input, other) -> Tensor:
    """Element-wise maximum, in the promoted dtype of the two."""
    return ops.Maximum.apply(*_promoted((input, other)))


def minimum(input, other) -> Tensor:
    """Element-wise minimum, in the promoted dtype of the two."""
    return ops.Minimum.apply(*_promoted((input, other)))


def matmul(input, other) -> Tensor:
    """Matrix product (1-D, 2-D and batched), in the promoted dtype of the two."""
    return ops.MatMul.apply(*_promoted((input, other)))


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x):
    return _as_tensor(x).exp()


def log(x):
    return _as_tensor(x).log()


def sqrt(x):
    return _as_tensor(x).sqrt()


def abs(x):  # noqa: A001 - PyTorch's name
    return _as_tensor(x).abs()


def sin(x):
    return _as_tensor(x).sin()


def cos(x):
    return _as_tensor(x).cos()


def tanh(x):
    return _as_tensor(x).tanh()


def sigmoid(x):
    return _as_tensor(x).sigmoid()


def relu(x):
    return _as_tensor(x).relu()


def clamp(x, min=None, max=None):  # noqa: A002
    return _as_tensor(x).clamp(min, max)


def softmax(x, dim):
    return _as_tensor(x).softmax(dim)


def log_softmax(x, dim):
    return _as_tensor(x).log_softmax(dim)


def sum(input, *args, **kwargs):  # noqa: A001
    """sum(input, dim=None, keepdim=False); axis= and keepdims= too, as Tensor.sum."""
    return _as_tensor(input).sum(*args, **kwargs)


def mean(input, *args, **kwargs):
    """mean(input, dim=None, keepdim=False); axis= and keepdims= too, as Tensor.mean."""
    return _as_tensor(input).mean(*args, **kwargs)


# ----- PyTorch surface: more functions, each calling the Tensor method of the same name -----------
def log10(input):
    return _as_tensor(input).log10()


def log2(input):
    return _as_tensor(input).log2()


def log1p(input):
    return _as_tensor(input).log1p()


def expm1(input):
    return _as_tensor(input).expm1()


def flatten(input, start_dim=0, end_dim=-1):
    return _as_tensor(input).flatten(start_dim, end_dim)


def t(input):
    return _as_tensor(input).t()


def eq(input, other):
    return _as_tensor(input).eq(other)


def ne(input, other):
    return _as_tensor(input).ne(other)


def lt(input, other):
    return _as_tensor(input).lt(other)


def le(input, other):
    return _as_tensor(input).le(other)


def gt(input, other):
    return _as_tensor(input).gt(other)


def ge(input, other):
    return _as_tensor(input).ge(other)


def all(input, *args, **kwargs):  # noqa: A001
    """True where every element (over ``dim``, if given) is nonzero."""
    return _as_tensor(input).all(*args, **kwargs)


def any(input, *args, **kwargs):  # noqa: A001
    """True where some element (over ``dim``, if given) is nonzero."""
    return _as_tensor(input).any(*args, **kwargs)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _as_tensor(input).isclose(other, rtol, atol, equal_nan)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return _as_tensor(input).allclose(other, rtol, atol, equal_nan)


def equal(input, other) -> bool:
    return _as_tensor(input).equal(other)


def max(input, *args, **kwargs):  # noqa: A001
    """``max(x)``: the largest element; ``max(x, dim, keepdim=False)``: (values, indices);
    ``max(x, other)``: the element-wise maximum of two tensors, as in PyTorch."""
    if args and isinstance(args[0], Tensor) or "other" in kwargs:
        return maximum(input, *args, **kwargs)
    return _as_tensor(input).max(*args, **kwargs)


def min(input, *args, **kwargs):  # noqa: A001
    """``min(x)``: the smallest element; ``min(x, dim, keepdim=False)``: (values, indices);
    ``min(x, other)``: the element-wise minimum of two tensors, as in PyTorch."""
    if args and isinstance(args[0], Tensor) or "other" in kwargs:
        return minimum(input, *args, **kwargs)
    return _as_tensor(input).min(*args, **kwargs)


def argmax(input, *args, **kwargs):
    return _as_tensor(input).argmax(*args, **kwargs)


def argmin(input, *args, **kwargs):
    return _as_tensor(input).argmin(*args, **kwargs)


def numel(input) -> int:
    return _as_tensor(input).numel()


def is_tensor(obj) -> bool:
    """True for a chainrule Tensor (and Parameter)."""
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    if not isinstance(input, Tensor):
        raise TypeError(f"is_floating_point: expected a Tensor. Got {type(input).__name__} instead.")
    return input.is_floating_point()


# ----- sequence-model ops -----
# Each is the op's one entry function, defined beside its class in chainrule/ops/ (the argument
# checks and messages live there); Tensor methods call the same functions.
from .ops.einsum import baddbmm, bmm, einsum  # noqa: E402
from .ops.indexing import (  # noqa: E402
    gather, index_add, index_select, masked_fill, scatter, scatter_add,
)
from .ops.rearrange import (  # noqa: E402
    chunk, flip, repeat_interleave, roll, split, tril, triu, unbind,
)
from .ops.scan import cumprod, cumsum, logsumexp, prod  # noqa: E402
from .ops.sort import argsort, sort, topk  # noqa: E402

__all__ += [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
    "tril", "triu", "repeat_interleave", "flip", "roll", "split", "chunk", "unbind",
    "cumsum", "cumprod", "prod", "logsumexp", "sort", "argsort", "topk", "einsum", "bmm", "baddbmm",
]
