"""Top-level functions of chainrule (``chainrule.cat``, ``chainrule.where``, ``chainrule.exp``, ...).

Each one only turns its arguments into Tensors or arrays and calls an op from ``chainrule.ops``.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .tensor import Tensor, _promoted

__all__ = [
    "cat", "stack", "where", "maximum", "minimum", "matmul",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp",
    "softmax", "log_softmax", "sum", "mean",
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
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
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


def sum(x, dim=None, keepdim=False):  # noqa: A001
    return _as_tensor(x).sum(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    return _as_tensor(x).mean(dim, keepdim)


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
