"""Pooling layers: MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d,
AdaptiveMaxPool2d (PyTorch's names, arguments and defaults; no parameters).

The arithmetic is in ``chainrule.ops.pool`` (max: the gradient is routed to each window's argmax;
average: an equal share to each element counted) and ``ops.resample`` (adaptive average).
"""

from __future__ import annotations

from ..checks import check_bool, check_in_range
from . import functional_conv as FC
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d"]


def _kernel_and_stride(name, d, kernel_size, stride):
    kernel = FC._ints(name, "kernel_size", kernel_size, d, 1)
    stride = kernel if stride is None else FC._ints(name, "stride", stride, d, 1)
    return kernel, stride


class _MaxPoolNd(Module):
    _d = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        name = type(self).__name__
        FC._ints(name, "padding", padding, self._d, 0)
        FC._ints(name, "dilation", dilation, self._d, 1)
        _kernel_and_stride(name, self._d, kernel_size, stride)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices = check_bool(name, "return_indices", return_indices)
        self.ceil_mode = check_bool(name, "ceil_mode", ceil_mode)

    def forward(self, input):
        return FC._max_pool(f"{type(self).__name__}({self.extra_repr()})", self._d, input,
                            self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L); stride defaults to kernel_size; the gradient is
    routed to each window's argmax.

    Shape:
        - Input: (N, C, L_in)
        - Output: (N, C, L_out), L_out = floor((L_in + 2 padding - dilation (kernel_size - 1) - 1)
          / stride) + 1 (ceil with ceil_mode)

    Example:
        >>> m = nn.MaxPool1d(2)
        >>> m(chainrule.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]))  # the last 4 is in no full window
        tensor([[[3., 5.]]])
    """

    _d = 1


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W); stride defaults to kernel_size; the gradient is
    routed to each window's argmax.

    Shape:
        - Input: (N, C, H_in, W_in)
        - Output: (N, C, H_out, W_out), H_out = floor((H_in + 2 padding - dilation (kernel_size
          - 1) - 1) / stride) + 1 (ceil with ceil_mode), the same for W

    Example:
        >>> x = chainrule.arange(16.0).reshape(1, 1, 4, 4)
        >>> nn.MaxPool2d(2)(x)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> nn.MaxPool2d(3, stride=2)(chainrule.ones(2, 3, 9, 9)).shape
        (2, 3, 4, 4)
    """

    _d = 2


class AvgPool1d(Module):
    """Mean over sliding windows of (N, C, L); stride defaults to kernel_size; zero padding is
    counted unless count_include_pad=False.

    Shape:
        - Input: (N, C, L_in)
        - Output: (N, C, L_out), L_out = floor((L_in + 2 padding - kernel_size) / stride) + 1
          (ceil with ceil_mode)

    Example:
        >>> m = nn.AvgPool1d(2)
        >>> m(chainrule.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]))
        tensor([[[2. , 3.5]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride = _kernel_and_stride("AvgPool1d", 1, kernel_size, stride)
        self.padding = FC._ints("AvgPool1d", "padding", padding, 1, 0)
        self.ceil_mode = check_bool("AvgPool1d", "ceil_mode", ceil_mode)
        self.count_include_pad = check_bool("AvgPool1d", "count_include_pad", count_include_pad)

    def forward(self, input):
        return FC._avg_pool(f"AvgPool1d({self.extra_repr()})", 1, input, self.kernel_size,
                            self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over sliding windows of (N, C, H, W); stride defaults to kernel_size; zero padding is
    counted unless count_include_pad=False; divisor_override replaces the count.

    Shape:
        - Input: (N, C, H_in, W_in)
        - Output: (N, C, H_out, W_out), H_out = floor((H_in + 2 padding - kernel_size) / stride)
          + 1 (ceil with ceil_mode), the same for W

    Example:
        >>> x = chainrule.arange(16.0).reshape(1, 1, 4, 4)
        >>> nn.AvgPool2d(2)(x)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        _kernel_and_stride("AvgPool2d", 2, kernel_size, stride)
        FC._ints("AvgPool2d", "padding", padding, 2, 0)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = check_bool("AvgPool2d", "ceil_mode", ceil_mode)
        self.count_include_pad = check_bool("AvgPool2d", "count_include_pad", count_include_pad)
        if divisor_override is not None:
            check_in_range("AvgPool2d", "divisor_override", divisor_override, 1, integer=True)
        self.divisor_override = divisor_override

    def forward(self, input):
        return FC._avg_pool(f"AvgPool2d({self.extra_repr()})", 2, input, self.kernel_size,
                            self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Mean over adaptive windows, to an output of size output_size (an int, or a pair in which
    None keeps the input's size). ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Shape:
        - Input: (N, C, H_in, W_in)
        - Output: (N, C, S_0, S_1), (S_0, S_1) = output_size (H_in or W_in where it is None)

    Example:
        >>> nn.AdaptiveAvgPool2d(1)(chainrule.ones(2, 64, 8, 9)).shape
        (2, 64, 1, 1)
        >>> nn.AdaptiveAvgPool2d((5, None))(chainrule.ones(2, 64, 8, 9)).shape
        (2, 64, 5, 9)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return FC.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max over adaptive windows, to an output of size output_size; the gradient is routed to the
    argmax.

    Shape:
        - Input: (N, C, H_in, W_in)
        - Output: (N, C, S_0, S_1), (S_0, S_1) = output_size (H_in or W_in where it is None)

    Example:
        >>> x = chainrule.arange(16.0).reshape(1, 1, 4, 4)
        >>> nn.AdaptiveMaxPool2d(2)(x)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = check_bool("AdaptiveMaxPool2d", "return_indices", return_indices)

    def forward(self, input):
        return FC.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
