"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm2d
(PyTorch's names, arguments, defaults, buffers and state_dict keys).

The arithmetic, and batch norm's backward derived with its three terms, are in
``chainrule.ops.norm``. Batch norm keeps running statistics as buffers (``running_mean``,
``running_var``, ``num_batches_tracked``), updated in training and used in evaluation:

    running = (1 - momentum) * running + momentum * batch statistic     (variance: unbiased)
    momentum=None: the cumulative average, momentum = 1 / num_batches_tracked
"""

from __future__ import annotations

import numpy as np

from ..checks import check_bool, check_in_range, check_real
from ..tensor import Tensor, _resolve_dtype
from . import functional_conv as FC
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d"]


def _float_dtype(name, dtype):
    dtype = _resolve_dtype(dtype) or np.dtype(np.float32)
    if dtype.kind != "f":
        raise TypeError(f"{name}: dtype must be a floating-point dtype. Got {dtype} instead.")
    return dtype


def _affine_parameters(module, name, shape, affine, bias, dtype):
    """weight (ones) and, unless bias=False, bias (zeros) when affine; else None for both."""
    with_bias = check_bool(name, "bias", bias)
    if affine:
        module.weight = Parameter(np.ones(shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if affine and with_bias:
        module.bias = Parameter(np.zeros(shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class _NormBase(Module):
    """Per-channel gamma (weight, ones) and beta (bias, zeros) and, when tracked, the running
    statistics: PyTorch's _NormBase."""

    _layouts = {}  # ndim -> layout, for the error sentence

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=None, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = check_in_range(name, "num_features", num_features, 1, integer=True)
        self.eps = check_real(name, "eps", eps)
        self.momentum = None if momentum is None else check_real(name, "momentum", momentum)
        self.affine = check_bool(name, "affine", affine)
        self.track_running_stats = check_bool(name, "track_running_stats", track_running_stats)
        dtype = _float_dtype(name, dtype)
        _affine_parameters(self, name, (num_features,), self.affine, bias, dtype)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check(self, x):
        """The input as a Tensor of an accepted rank with num_features channels."""
        owner = f"{type(self).__name__}({self.num_features})"
        x = FC._tensor(owner, x)
        if x.ndim not in self._layouts:
            wanted = " or ".join(f"{n}-D {layout}" for n, layout in self._layouts.items())
            fix = " Add a batch dim with x.unsqueeze(0)." if x.ndim + 1 in self._layouts else ""
            raise ValueError(f"{owner}: expected a {wanted} input; got shape {x.shape}.{fix}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{owner}: the input has {x.shape[1]} channels (dim 1 of shape {x.shape}) but "
                f"num_features is {self.num_features}; make them equal."
            )
        return x, owner

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        x, owner = self._check(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        # batch statistics in training, and in evaluation when no running statistics are kept
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return FC.batch_norm(x, self.running_mean if keep else None,
                             self.running_var if keep else None, self.weight, self.bias,
                             use_batch, factor, self.eps, owner=owner)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L): per channel, y = gamma x_hat + beta with x_hat
    standardised by the batch's statistics (training) or the running ones (evaluation).
    Buffers: running_mean, running_var, num_batches_tracked (in state_dict, as PyTorch).

    Shape:
        - Input: (N, C) or (N, C, L), C = num_features
        - Output: the input's shape

    Example:
        >>> m = nn.BatchNorm1d(2)
        >>> m(chainrule.tensor([[1.0, 10.0], [3.0, 30.0]]))  # each column to -1, 1 (eps aside)
        tensor([[-0.999995, -1.      ],
                [ 0.999995,  1.      ]], grad_fn=<BatchNormBackward>)
        >>> m.running_mean, m.running_var  # 0.9 x (0, 1) + 0.1 x the batch's (unbiased variance)
        (tensor([0.2, 2. ]), tensor([ 1.1, 20.9]))
    """

    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W): statistics per channel over (N, H, W).
    Buffers: running_mean, running_var, num_batches_tracked (in state_dict, as PyTorch).

    Shape:
        - Input: (N, C, H, W), C = num_features
        - Output: (N, C, H, W), the input's shape

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16))
        >>> model(chainrule.randn(2, 3, 7, 7)).shape
        (2, 16, 5, 5)
    """

    _layouts = {4: "(N, C, H, W)"}


class InstanceNorm2d(_NormBase):
    """Instance normalization of (N, C, H, W): each channel of each sample standardised over its
    positions (group norm with one channel per group). Defaults as PyTorch: affine=False,
    track_running_stats=False; with tracking, evaluation uses the running statistics.

    Shape:
        - Input: (N, C, H, W), C = num_features
        - Output: (N, C, H, W), the input's shape

    Example:
        >>> _ = chainrule.manual_seed(0)
        >>> m = nn.InstanceNorm2d(3)
        >>> y = m(chainrule.randn(2, 3, 4, 4))
        >>> y.shape, bool(y.mean(dim=(2, 3)).abs().max() < 1e-6)  # every channel of every sample
        ((2, 3, 4, 4), True)
    """

    _layouts = {4: "(N, C, H, W)"}

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)

    def forward(self, input):
        x, owner = self._check(input)
        return FC.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            use_input_stats=self.training or not self.track_running_stats,
            momentum=0.0 if self.momentum is None else self.momentum, eps=self.eps, owner=owner)


class LayerNorm(Module):
    """Layer normalization over the last dims (normalized_shape) of each sample, with element-wise
    weight (ones) and bias (zeros) of that shape when elementwise_affine.

    Shape:
        - Input: (N, *), whose last dims are normalized_shape
        - Output: (N, *), the input's shape

    Example:
        >>> m = nn.LayerNorm(3)
        >>> m(chainrule.tensor([[1.0, 2.0, 3.0]]))  # (x - 2) / sqrt(2/3 + eps)
        tensor([[-1.2247356,  0.       ,  1.2247356]], grad_fn=<LayerNormBackward>)
        >>> nn.LayerNorm([5, 10, 10])(chainrule.randn(20, 5, 10, 10)).shape
        (20, 5, 10, 10)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        shape = normalized_shape
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        self.normalized_shape = FC._ints("LayerNorm", "normalized_shape", shape, len(shape), 1)
        self.eps = check_real("LayerNorm", "eps", eps)
        self.elementwise_affine = check_bool("LayerNorm", "elementwise_affine", elementwise_affine)
        dtype = _float_dtype("LayerNorm", dtype)
        _affine_parameters(self, "LayerNorm", self.normalized_shape, self.elementwise_affine, bias,
                           dtype)

    def forward(self, input):
        return FC.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps,
                             owner=f"LayerNorm({self.extra_repr()})")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization: the channels split into num_groups groups, each standardised per
    sample; per-channel weight (ones) and bias (zeros) when affine.

    Shape:
        - Input: (N, C, *), C = num_channels, a multiple of num_groups
        - Output: (N, C, *), the input's shape

    Example:
        >>> m = nn.GroupNorm(3, 6)  # 3 groups of 2 channels
        >>> m(chainrule.randn(20, 6, 10, 10)).shape
        (20, 6, 10, 10)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None, *, bias=True):
        super().__init__()
        self.num_groups = check_in_range("GroupNorm", "num_groups", num_groups, 1, integer=True)
        self.num_channels = check_in_range("GroupNorm", "num_channels", num_channels, 1, integer=True)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_groups={num_groups} must divide num_channels={num_channels}."
            )
        self.eps = check_real("GroupNorm", "eps", eps)
        self.affine = check_bool("GroupNorm", "affine", affine)
        _affine_parameters(self, "GroupNorm", (num_channels,), self.affine, bias,
                           _float_dtype("GroupNorm", dtype))

    def forward(self, input):
        owner = f"GroupNorm({self.extra_repr()})"
        x = FC._tensor(owner, input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"{owner}: expected an input (N, {self.num_channels}, ...); got shape {x.shape}."
            )
        return FC.group_norm(x, self.num_groups, self.weight, self.bias, self.eps, owner=owner)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
