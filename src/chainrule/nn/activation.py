"""Activation functions as modules, for use inside Sequential.

Each one stores its settings and calls the matching function of ``chainrule.nn.functional``, which
calls the op in ``chainrule.ops.activation`` where the forward and its derivative are written.
"""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = [
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "GELU", "ELU", "SELU", "Softplus", "SiLU",
]


def _inplace_repr(inplace) -> str:
    return "inplace=True" if inplace else ""  # PyTorch shows it only when set


class ReLU(Module):
    """y = max(x, 0). ``inplace=True`` writes the result into the input, as PyTorch does (see
    ``chainrule.nn.functional.relu``).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.ReLU()
        >>> m(chainrule.tensor([-2.0, 0.0, 3.0]))
        tensor([0., 0., 3.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.LeakyReLU(0.1)
        >>> m(chainrule.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2,  0. ,  3. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.Sigmoid()
        >>> m(chainrule.tensor([-100.0, 0.0, 100.0]))  # saturated at both ends
        tensor([0. , 0.5, 1. ])
    """

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """y = tanh(x).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.Tanh()
        >>> m(chainrule.tensor([-100.0, 0.0, 0.5]))
        tensor([-1.       ,  0.       ,  0.4621172])
    """

    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (which dim holds the classes; without it,
    PyTorch's implicit choice, with its warning, as F.softmax).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape; values in [0, 1] that sum to 1 along ``dim``

    Example:
        >>> import math
        >>> m = nn.Softmax(dim=1)
        >>> m(chainrule.tensor([[0.0, 0.0], [0.0, math.log(3)]]))
        tensor([[0.5 , 0.5 ],
                [0.25, 0.75]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = log(softmax(x)_i) along ``dim``, computed stably (pair with NLLLoss); without ``dim``,
    PyTorch's implicit choice, with its warning.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape; values in (-inf, 0]

    Example:
        >>> m = nn.LogSoftmax(dim=1)
        >>> m(chainrule.tensor([[0.0, 0.0]]))  # log(1/2) twice
        tensor([[-0.6931472, -0.6931472]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """y = x * Phi(x), Phi the standard normal CDF; approximate='tanh' for the tanh formula.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.GELU()
        >>> m(chainrule.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.15865526,  0.        ,  0.8413447 ])
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = F._gelu_approximate("GELU", approximate)  # F.gelu's check

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """y = x if x > 0 else alpha * (exp(x) - 1).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.ELU()
        >>> m(chainrule.tensor([-100.0, 0.0, 2.0]))  # -alpha far below 0
        tensor([-1.,  0.,  2.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """y = scale * elu(x, alpha), alpha = 1.6732632423543772, scale = 1.0507009873554805.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.SELU()
        >>> m(chainrule.tensor([-100.0, 0.0, 1.0]))  # -scale * alpha, 0, scale
        tensor([-1.7580993,  0.       ,  1.050701 ])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.selu(x, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.Softplus()
        >>> m(chainrule.tensor([0.0, 30.0]))  # log 2, and 30 itself (above the threshold 20)
        tensor([ 0.6931472, 30.       ])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """y = x * sigmoid(x) (also called swish).

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.SiLU()
        >>> m(chainrule.tensor([0.0, 1.0]))
        tensor([0.       , 0.7310586])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.silu(x, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)
