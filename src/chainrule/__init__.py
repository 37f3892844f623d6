"""chainrule: reverse-mode autodiff written by hand on NumPy, readable and proven equal to PyTorch.

    import chainrule as cr
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    loss = (x.sigmoid() ** 2).sum()
    loss.backward()
    x.grad
"""

from . import autograd, ops, random
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import arange, empty, full, ones, ones_like, rand, randn, zeros, zeros_like
from .functions import (
    abs, cat, clamp, cos, exp, log, log_softmax, matmul, maximum, mean, minimum, relu, sigmoid,
    sin, softmax, sqrt, stack, sum, tanh, where,
)
from .functions import (  # sequence-model ops
    argsort, baddbmm, bmm, chunk, cumprod, cumsum, einsum, flip, gather, index_add, index_select,
    logsumexp, masked_fill, prod, repeat_interleave, roll, scatter, scatter_add, sort, split,
    topk, tril, triu, unbind,
)
from .gradcheck import gradcheck, gradcheck_module
from .random import get_rng_state, manual_seed, set_rng_state
from .serialization import load, save
from .tensor import Tensor, bool_, float32, float64, int64, tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "float32", "float64", "int64", "bool_",
    "autograd", "ops", "random", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "gradcheck", "gradcheck_module", "manual_seed", "get_rng_state", "set_rng_state",
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "arange", "randn", "rand",
    "cat", "stack", "where", "maximum", "minimum", "matmul",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp",
    "softmax", "log_softmax", "sum", "mean",
    "save", "load",
]
__all__ += [  # sequence-model ops
    "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
    "tril", "triu", "repeat_interleave", "flip", "roll", "split", "chunk", "unbind",
    "cumsum", "cumprod", "prod", "logsumexp", "sort", "argsort", "topk", "einsum", "bmm", "baddbmm",
]

from . import nn, optim  # noqa: E402  (they import the engine above)

__all__ += ["nn", "optim"]

from . import data, utils  # noqa: E402  (torch.utils.data's path: cr.utils.data is cr.data)

__all__ += ["data", "utils"]
