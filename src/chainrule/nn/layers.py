"""Layers: Linear, Sequential, Identity, Flatten, Dropout."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import ops
from ..checks import argument_error, check_in_range, refuse_inplace
from ..dtypes import get_default_dtype
from ..tensor import _resolve_dtype
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "Sequential", "Identity", "Flatten", "Dropout"]


class Linear(Module):
    """Fully connected layer, PyTorch's convention: y = x Wᵀ + b.

    weight: (out_features, in_features),  bias: (out_features,),  x: (..., in_features).
    The product is one fused op (``chainrule.ops.Linear``) with its own backward:
    dL/dx = dL/dy W,  dL/dW = (dL/dy)ᵀ x,  dL/db = dL/dy summed over the batch.

    Default initialisation (as PyTorch): W ~ U(-k, k) by kaiming_uniform_(a=sqrt(5)), which equals
    k = 1 / sqrt(in_features), then b ~ U(-k, k) with the same k; both drawn from the seeded
    generator, weight first. (Chainer and scikit-learn use (in, out) weights and other inits.)

    Shape:
        - Input: (*, H_in), H_in = in_features; * is any number of leading dimensions (none
          for a single sample)
        - Output: (*, H_out), H_out = out_features

    Example:
        >>> m = nn.Linear(20, 30)
        >>> m(chainrule.randn(128, 20)).shape
        (128, 30)
        >>> m.weight.shape, m.bias.shape
        ((30, 20), (30,))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = check_in_range("Linear", "in_features", in_features, 0, integer=True)
        self.out_features = check_in_range("Linear", "out_features", out_features, 0, integer=True)
        dtype = _resolve_dtype(dtype) or get_default_dtype()  # float32 unless set_default_dtype
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be a floating-point dtype. Got {dtype} instead.")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(W, a=sqrt(5)) = U(+-1/sqrt(fan_in)), same for b."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return ops.Linear.apply(x, self.weight, self.bias)  # x Wᵀ + b, see ops/linalg.py

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """A chain of modules applied in order: Sequential(a, b, c)(x) = c(b(a(x))).

    Children are named '0', '1', ... (or by the keys of an OrderedDict passed alone), so parameter
    names are '0.weight', '0.bias', '2.weight' as in PyTorch. It can be indexed (an int gives the
    module, a slice a new Sequential that keeps the names), iterated, measured with len() and grown
    with append().

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        >>> model(chainrule.ones(4, 2)).shape
        (4, 1)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def add_module(self, name, module) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: every element must be a Module. Got {type(module).__name__} "
                f"for {name!r} instead."
            )
        super().add_module(name, module)

    def _index(self, index) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(
                f"Sequential indices must be ints or slices. Got {type(index).__name__} instead."
            )
        n = len(self._modules)
        if not -n <= index < n:
            raise IndexError(f"Sequential index {index} is out of range for {n} modules.")
        return int(index) % n

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return type(self)(OrderedDict(items[index]))
        return items[self._index(index)][1]

    def __setitem__(self, index, module) -> None:
        name = list(self._modules)[self._index(index)]
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: can only hold Modules. Got {type(module).__name__}.")
        self._modules[name] = module

    def __delitem__(self, index) -> None:
        names = list(self._modules)
        targets = names[index] if isinstance(index, slice) else [names[self._index(index)]]
        for name in targets:
            del self._modules[name]
        # Renumber, as PyTorch does, so the names stay '0', '1', ...
        modules = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add a module at the end (named by its position); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index`` (as list.insert); renumbers; returns self."""
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index!r} is out of range for {n} modules.")
        self.append(module)  # checks the module
        modules = list(self._modules.values())
        modules.insert(int(index) + n if index < 0 else int(index), modules.pop())
        self._modules.clear()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m
        return self

    def pop(self, index=-1) -> Module:
        """Remove and return the module at ``index`` (the last by default); renumbers."""
        module = self[index]
        del self[index]
        return module

    def __add__(self, other) -> Sequential:
        """A new Sequential: this one's modules, then ``other``'s."""
        if not isinstance(other, Sequential):
            raise TypeError(
                f"Sequential + {type(other).__name__}: only a Sequential can be added."
            )
        return Sequential(*self, *other)

    def __iadd__(self, other) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError(
                f"Sequential += {type(other).__name__}: only a Sequential can be added."
            )
        return self.extend(list(other))

    def __mul__(self, times) -> Sequential:
        """A new Sequential repeating these modules (the same objects) ``times`` times."""
        if isinstance(times, bool) or not isinstance(times, (int, np.integer)):
            raise TypeError(f"Sequential * {type(times).__name__}: multiply by an int.")
        if times < 1:
            raise ValueError(f"Sequential * {times}: multiply by an int >= 1.")
        return Sequential(*(list(self) * int(times)))

    __rmul__ = __mul__

    def __imul__(self, times) -> Sequential:
        repeated = self * times
        self._modules.clear()
        self._modules.update(repeated._modules)
        return self

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a removed layer); ignores any arguments.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> m = nn.Identity(54, unused="argument")
        >>> m(chainrule.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.

    Shape:
        - Input: (*, S_start, ..., S_end, *), any number of dimensions
        - Output: (*, S_start * ... * S_end, *)

    Example:
        >>> nn.Flatten()(chainrule.ones(32, 1, 5, 5)).shape
        (32, 25)
        >>> nn.Flatten(0, 2)(chainrule.ones(32, 1, 5, 5)).shape
        (160, 5)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise argument_error("Flatten", name, "an int", value, TypeError)
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x):
        ndim = max(x.ndim, 1)
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -ndim <= dim < ndim:
                raise ValueError(
                    f"Flatten: {name}={dim} is out of range for an input of shape {x.shape}."
                )
        if self.start_dim % ndim > self.end_dim % ndim:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} for an "
                f"input of shape {x.shape}."
            )
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the survivors
    by 1 / (1 - p); in evaluation (``model.eval()``) the identity. Masks come from the seeded
    generator, so ``chainrule.manual_seed`` reproduces them.

    Shape:
        - Input: (*), any number of dimensions
        - Output: (*), the input's shape

    Example:
        >>> _ = chainrule.manual_seed(0)
        >>> m = nn.Dropout(p=0.5)
        >>> m(chainrule.ones(8))  # each element 0, or 1 / (1 - 0.5)
        tensor([2., 0., 0., 0., 2., 2., 2., 2.])
        >>> m.eval()(chainrule.ones(4))  # the identity in evaluation
        tensor([1., 1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_in_range("Dropout", "p", p, 0, 1, high_closed=True)
        self.inplace = refuse_inplace("Dropout", inplace)  # as F.dropout refuses it

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
