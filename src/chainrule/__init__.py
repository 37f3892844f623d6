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

# ----- PyTorch surface: dtypes, devices, factories, random, more functions -----
import math as _math  # noqa: E402

from . import accelerator, backends, cuda  # noqa: E402
from .creation import (  # noqa: E402
    as_tensor, bernoulli, empty_like, eye, from_numpy, full_like, linspace, logspace, multinomial,
    normal, rand_like, randint, randint_like, randn_like, randperm,
)
from .device import device, get_default_device, set_default_device  # noqa: E402
from .dtypes import (  # noqa: E402
    bool, cdouble, cfloat, complex64, complex128, double, float, float16, get_default_dtype, half,
    int, int8, int16, int32, long, set_default_dtype, short, uint8,
)
from .functions import (  # noqa: E402
    all, allclose, any, argmax, argmin, eq, equal, expm1, flatten, ge, gt, is_floating_point,
    is_tensor, isclose, le, log1p, log2, log10, lt, max, min, ne, numel, t,
)
from .random import Generator, initial_seed  # noqa: E402  (seed(): chainrule.random.seed, as
# chainrule.seed is the seed experiment's module)

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan

__all__ += [
    "float", "double", "half", "long", "int", "short", "bool", "float16", "int8", "int16", "int32",
    "uint8", "complex64", "complex128", "cfloat", "cdouble", "get_default_dtype", "set_default_dtype",
    "device", "get_default_device", "set_default_device", "cuda", "accelerator", "backends",
    "eye", "linspace", "logspace", "full_like", "empty_like", "rand_like", "randn_like",
    "randint", "randint_like", "randperm", "normal", "bernoulli", "multinomial",
    "from_numpy", "as_tensor", "Generator", "initial_seed",
    "log10", "log2", "log1p", "expm1", "flatten", "t", "eq", "ne", "lt", "le", "gt", "ge",
    "all", "any", "isclose", "allclose", "equal", "max", "min", "argmax", "argmin",
    "numel", "is_tensor", "is_floating_point", "pi", "e", "inf", "nan",
]

from . import data, utils  # noqa: E402  (torch.utils.data's path: cr.utils.data is cr.data)

__all__ += ["data", "utils"]
