"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch's names,
arguments, defaults, state_dict keys and initialisation).

The arithmetic is in ``chainrule.ops.conv`` (im2col + one matrix product, and its adjoint); the
argument checks and error sentences in ``chainrule.nn.functional_conv``, which these layers call
with their own description so that an error names the layer.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import argument_error, check_bool, check_choice, check_in_range
from ..tensor import _resolve_dtype
from . import functional_conv as FC
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What the four layers share: arguments, weight and bias, PyTorch's default init, repr."""

    _d = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, output_padding=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.in_channels = check_in_range(name, "in_channels", in_channels, 1, integer=True)
        self.out_channels = check_in_range(name, "out_channels", out_channels, 1, integer=True)
        self.groups = check_in_range(name, "groups", groups, 1, integer=True)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must divide both in_channels={in_channels} and "
                f"out_channels={out_channels}."
            )
        d = self._d
        self.kernel_size = FC._ints(name, "kernel_size", kernel_size, d, 1)
        self.stride = FC._ints(name, "stride", stride, d, 1)
        self.dilation = FC._ints(name, "dilation", dilation, d, 1)
        if isinstance(padding, str):
            check_choice(name, "padding", padding, ("same", "valid"))
            if self._transposed:
                raise argument_error(name, "padding", "an int or a tuple of ints", padding, TypeError)
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1; got stride={self.stride}.")
            self.padding = padding
        else:
            self.padding = FC._ints(name, "padding", padding, d, 0)
        self.output_padding = FC._ints(name, "output_padding", output_padding, d, 0)
        self.padding_mode = check_choice(name, "padding_mode", padding_mode, PADDING_MODES)
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, as in PyTorch.")
        dtype = _resolve_dtype(dtype) or np.dtype(np.float32)
        if dtype.kind != "f":
            raise TypeError(f"{name}: dtype must be a floating-point dtype. Got {dtype} instead.")
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if check_bool(name, "bias", bias):
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(W, a=sqrt(5)), which is U(+-1/sqrt(fan_in)) with
        fan_in = weight.shape[1] * prod(kernel_size), then b ~ U(+-1/sqrt(fan_in)); weight first.
        (For a transposed convolution weight.shape[1] is out_channels / groups, as in PyTorch.)"""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _owner(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        d = self._d
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def forward(self, input):
        owner = self._owner()
        padding = self.padding
        if self.padding_mode != "zeros" and padding != "valid":
            # pad the input first (reflect, replicate, circular), then convolve without padding
            x = FC._check_input(owner, input, self._d)
            if padding == "same":
                totals = [dl * (k - 1) for k, dl in zip(self.kernel_size, self.dilation)]
                pairs = [(t // 2, t - t // 2) for t in totals]
            else:
                pairs = [(p, p) for p in padding]
            widths = tuple(w for pair in reversed(pairs) for w in pair)
            input, padding = FC.pad(x, widths, mode=self.padding_mode), 0
        return FC._conv(owner, self._d, input, self.weight, self.bias, self.stride, padding,
                        self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): y = conv1d(x, W) + b, W of shape
    (out_channels, in_channels / groups, kernel_size).

    Shape:
        - Input: (N, C_in, L_in), C_in = in_channels
        - Output: (N, C_out, L_out), C_out = out_channels,
          L_out = floor((L_in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1

    Example:
        >>> m = nn.Conv1d(16, 33, 3, stride=2)
        >>> m(chainrule.randn(20, 16, 50)).shape
        (20, 33, 24)
        >>> nn.Conv1d(3, 8, 5, padding=2)(chainrule.randn(4, 3, 32)).shape  # keeps the length
        (4, 8, 32)
        >>> m = nn.Conv1d(1, 1, 3, bias=False)
        >>> _ = nn.init.ones_(m.weight)  # a moving sum of 3
        >>> m(chainrule.tensor([[[1.0, 2.0, 3.0, 4.0]]]))
        tensor([[[6., 9.]]], grad_fn=<ConvBackward>)
    """

    _d = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, dtype=dtype)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): im2col + one matrix product (``ops.Conv``), whose
    input gradient is a transposed convolution. W: (out_channels, in_channels / groups, kH, kW).

    Shape:
        - Input: (N, C_in, H_in, W_in), C_in = in_channels
        - Output: (N, C_out, H_out, W_out), C_out = out_channels,
          H_out = floor((H_in + 2 padding[0] - dilation[0] (kernel_size[0] - 1) - 1) / stride[0])
          + 1, and W_out the same with the second entries

    Example:
        >>> m = nn.Conv2d(1, 6, 5)
        >>> m(chainrule.randn(2, 1, 28, 28)).shape
        (2, 6, 24, 24)
        >>> m = nn.Conv2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2))
        >>> m(chainrule.randn(2, 16, 20, 30)).shape
        (2, 33, 13, 30)
    """

    _d = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, dtype=dtype)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, dtype=dtype)
        for o, s, dl in zip(self.output_padding, self.stride, self.dilation):
            if o >= s and o >= dl:
                raise ValueError(
                    f"{type(self).__name__}: output_padding={self.output_padding} must be smaller "
                    f"than the stride {self.stride} or the dilation {self.dilation}."
                )

    def forward(self, input, output_size=None):
        owner = self._owner()
        output_padding = self.output_padding
        if output_size is not None:  # choose the output_padding that gives this size
            x = FC._check_input(owner, input, self._d)
            wanted = tuple(output_size)[-self._d:]
            smallest = [(h - 1) * s - 2 * p + dl * (k - 1) + 1 for h, s, p, dl, k in
                        zip(x.shape[2:], self.stride, self.padding, self.dilation, self.kernel_size)]
            output_padding = tuple(w - m for w, m in zip(wanted, smallest))
            if any(o < 0 or (o >= s and o >= dl) for o, s, dl in
                   zip(output_padding, self.stride, self.dilation)):
                raise ValueError(
                    f"{owner}: output_size {tuple(output_size)} is not reachable from an input of "
                    f"shape {x.shape}; the smallest is {tuple(smallest)}."
                )
        return FC._conv_transpose(owner, self._d, input, self.weight, self.bias, self.stride,
                                  self.padding, output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the adjoint of Conv1d in its input), W of shape
    (in_channels, out_channels / groups, kernel_size).

    Shape:
        - Input: (N, C_in, L_in), C_in = in_channels
        - Output: (N, C_out, L_out), C_out = out_channels, L_out = (L_in - 1) stride - 2 padding
          + dilation (kernel_size - 1) + output_padding + 1

    Example:
        >>> m = nn.ConvTranspose1d(16, 33, 3, stride=2)
        >>> m(chainrule.randn(20, 16, 50)).shape
        (20, 33, 101)
    """

    _d = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2d in its input; its input gradient is a
    convolution), W of shape (in_channels, out_channels / groups, kH, kW).

    Shape:
        - Input: (N, C_in, H_in, W_in), C_in = in_channels
        - Output: (N, C_out, H_out, W_out), C_out = out_channels, H_out = (H_in - 1) stride[0]
          - 2 padding[0] + dilation[0] (kernel_size[0] - 1) + output_padding[0] + 1, and W_out
          the same with the second entries

    Example:
        >>> m = nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)  # doubles H and W
        >>> m(chainrule.randn(2, 8, 16, 16)).shape
        (2, 3, 32, 32)
    """

    _d = 2
