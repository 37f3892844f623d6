"""Convolution, pooling, normalization, padding and resampling as functions (``F.conv2d(x, w)``).

Each function checks its arguments, says in one sentence what is wrong before any NumPy error, and
calls one op from ``chainrule.ops.conv``, ``ops.pool``, ``ops.norm`` or ``ops.resample``, where the
forward and its hand-written derivative sit side by side. ``chainrule.nn.functional`` re-exports
them; the modules in ``chainrule.nn.conv``, ``nn.pooling`` and ``nn.normalization`` call them with
their own name (``owner``) so that an error names the layer.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import argument_error, check_bool, check_in_range, check_real, refuse_inplace
from ..ops.conv import Conv, ConvTranspose, Fold, Unfold, out_size
from ..ops.norm import BatchNorm, GroupNorm, LayerNorm
from ..ops.pool import (
    AdaptiveMaxPool, AvgPool, MaxPool, adaptive_bounds, adaptive_max_arrays, argmax_index,
    avg_pool_divisor, max_pool_arrays,
)
from ..ops.resample import Pad, Resample
from ..random import default_generator
from ..tensor import Tensor

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
    "adaptive_max_pool2d", "batch_norm", "layer_norm", "group_norm", "instance_norm",
    "pad", "interpolate", "dropout2d",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}


# ----- argument checks ---------------------------------------------------------------------


def _tensor(op: str, x, what: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: expected a Tensor as {what}. Got {type(x).__name__} instead.")


def _check_input(op: str, x, d: int) -> Tensor:
    """x as a Tensor of d spatial dims plus (N, C), else the sentence with the fix."""
    x = _tensor(op, x)
    if x.ndim != d + 2:
        fix = " Add a batch dim with x.unsqueeze(0)." if x.ndim == d + 1 else ""
        raise ValueError(
            f"{op}: expected a {d + 2}-D input {_LAYOUT[d]}; got shape {x.shape}.{fix}"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input. Got dtype {x.dtype}; use x.float().")
    return x


def _ints(op: str, name: str, value, d: int, minimum: int) -> tuple:
    """An int or a sequence of d ints, each >= minimum, as a d-tuple."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * d
    if len(values) != d or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    ):
        raise argument_error(op, name, f"an int or a tuple of {d} ints", value, TypeError)
    if any(v < minimum for v in values):
        raise argument_error(op, name, f"at least {minimum}", value)
    return tuple(int(v) for v in values)


def _to_2d(d, *tuples):
    """1-D options as 2-D ones of height 1: (k,) -> (1, k)."""
    return tuple(t if d == 2 else (1,) + t for t in tuples)


def _pairs(d, padding):
    """Symmetric padding (p_h, p_w) as ((top, bottom), (left, right)) over 2 spatial dims."""
    pads = tuple((p, p) for p in padding)
    return pads if d == 2 else ((0, 0),) + pads


def _check_fits(op: str, x: Tensor, kernel, padding, dilation, d: int) -> None:
    """Refuse a (dilated) kernel larger than the padded input, naming the sizes."""
    size = x.shape[2:]
    for k, p, dl, s in zip(kernel[-d:], padding[-d:], dilation[-d:], size):
        if (k - 1) * dl + 1 > s + p[0] + p[1]:
            effective = tuple((kk - 1) * dd + 1 for kk, dd in zip(kernel[-d:], dilation[-d:]))
            padded = tuple(ss + pp[0] + pp[1] for ss, pp in zip(size, padding[-d:]))
            raise ValueError(
                f"{op}: the kernel of size {tuple(kernel[-d:])} (with dilation: {effective}) is "
                f"larger than the padded input of size {padded} (input {tuple(size)}); use a "
                "smaller kernel, more padding or a larger input."
            )


def _same_dtype(op: str, x: Tensor, weight: Tensor) -> None:
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} differ; convert one, "
            "e.g. model.double() or x.float()."
        )


# ----- convolution -------------------------------------------------------------------------


def _conv(op: str, d: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    x = _check_input(op, input, d)
    weight = _tensor(op, weight, "weight")
    if weight.ndim != d + 2:
        raise ValueError(
            f"{op}: expected a {d + 2}-D weight (C_out, C_in / groups, {'kH, kW' if d == 2 else 'kL'});"
            f" got shape {weight.shape}."
        )
    _same_dtype(op, x, weight)
    groups = check_in_range(op, "groups", groups, 1, integer=True)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels ({c_in}) and the output "
            f"channels ({c_out})."
        )
    if weight.shape[1] * groups != c_in:
        raise ValueError(
            f"{op}: the input has {c_in} channels but the weight of shape {weight.shape} expects "
            f"{weight.shape[1]} * groups={groups} = {weight.shape[1] * groups}; check in_channels "
            "or the input's dim 1."
        )
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (c_out,)):
        shape = bias.shape if isinstance(bias, Tensor) else type(bias).__name__
        raise ValueError(f"{op}: expected a bias of shape ({c_out},); got {shape}.")
    stride = _ints(op, "stride", stride, d, 1)
    dilation = _ints(op, "dilation", dilation, d, 1)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1; got stride {stride}.")
            # total padding d(k - 1) per dim, the odd one extra at the end (as PyTorch)
            totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise argument_error(op, "padding", "an int, a tuple of ints, 'same' or 'valid'", padding)
        pads = pads if d == 2 else ((0, 0),) + pads
    else:
        pads = _pairs(d, _ints(op, "padding", padding, d, 0))
    kernel2, stride2, dilation2 = _to_2d(d, kernel, stride, dilation)
    _check_fits(op, x, kernel2, pads, dilation2, d)
    return Conv.apply(x, weight, bias, stride2, pads, dilation2, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution of (N, C_in, L) with a weight (C_out, C_in / groups, k): im2col + one
    matrix product (``ops.Conv``). padding: an int, 'valid' (none) or 'same' (stride 1)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution of (N, C_in, H, W) with a weight (C_out, C_in / groups, kH, kW):
    im2col + one matrix product (``ops.Conv``); its input gradient is conv_transpose2d.
    padding: an int, a pair, 'valid' (none) or 'same' (stride 1; an odd total goes at the end)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, d, input, weight, bias, stride, padding, output_padding, groups,
                    dilation, output_size=None) -> Tensor:
    x = _check_input(op, input, d)
    weight = _tensor(op, weight, "weight")
    if weight.ndim != d + 2:
        raise ValueError(
            f"{op}: expected a {d + 2}-D weight (C_in, C_out / groups, "
            f"{'kH, kW' if d == 2 else 'kL'}); got shape {weight.shape}."
        )
    _same_dtype(op, x, weight)
    groups = check_in_range(op, "groups", groups, 1, integer=True)
    c_in = x.shape[1]
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}).")
    if weight.shape[0] != c_in:
        raise ValueError(
            f"{op}: the input has {c_in} channels but the weight of shape {weight.shape} expects "
            f"{weight.shape[0]} (its dim 0 is in_channels)."
        )
    c_out = weight.shape[1] * groups
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (c_out,)):
        raise ValueError(f"{op}: expected a bias of shape ({c_out},).")
    stride = _ints(op, "stride", stride, d, 1)
    padding = _ints(op, "padding", padding, d, 0)
    dilation = _ints(op, "dilation", dilation, d, 1)
    output_padding = _ints(op, "output_padding", output_padding, d, 0)
    kernel = tuple(weight.shape[2:])
    for op_, s, dl in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= dl:
            raise ValueError(
                f"{op}: output_padding {output_padding} must be smaller than the stride {stride} "
                f"or the dilation {dilation}."
            )
    out = tuple((h - 1) * s - 2 * p + dl * (k - 1) + o + 1 for h, s, p, dl, k, o in
                zip(x.shape[2:], stride, padding, dilation, kernel, output_padding))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: the output size {out} would be empty; use less padding.")
    stride2, dilation2 = _to_2d(d, stride, dilation)
    out2 = out if d == 2 else (1,) + out
    return ConvTranspose.apply(x, weight, bias, stride2, _pairs(d, padding), dilation2, groups, out2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution (the adjoint of conv1d in its input), weight (C_in, C_out / groups,
    k); output length (L - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution (the adjoint of conv2d in its input; its input gradient is
    conv2d), weight (C_in, C_out / groups, kH, kW); output size per dim
    (H - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: every receptive field of (N, C, H, W) as a column of (N, C * kH * kW, L)."""
    x = _check_input("unfold", input, 2)
    kernel = _ints("unfold", "kernel_size", kernel_size, 2, 1)
    dilation = _ints("unfold", "dilation", dilation, 2, 1)
    stride = _ints("unfold", "stride", stride, 2, 1)
    pads = _pairs(2, _ints("unfold", "padding", padding, 2, 0))
    _check_fits("unfold", x, kernel, pads, dilation, 2)
    return Unfold.apply(x, kernel, dilation, pads, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im, the adjoint of unfold: columns (N, C * kH * kW, L) added back into (N, C, H, W)."""
    x = _tensor("fold", input)
    size = _ints("fold", "output_size", output_size, 2, 1)
    kernel = _ints("fold", "kernel_size", kernel_size, 2, 1)
    dilation = _ints("fold", "dilation", dilation, 2, 1)
    stride = _ints("fold", "stride", stride, 2, 1)
    pads = _pairs(2, _ints("fold", "padding", padding, 2, 0))
    k = kernel[0] * kernel[1]
    blocks = [out_size(s, p, kk, st, dl) for s, p, kk, st, dl in zip(size, pads, kernel, stride, dilation)]
    if x.ndim != 3 or x.shape[1] % k or x.shape[2] != blocks[0] * blocks[1] or min(blocks) < 1:
        raise ValueError(
            f"fold: expected input (N, C * {k}, {max(blocks[0], 0) * max(blocks[1], 0)}) for "
            f"output_size {size} and kernel {kernel}; got shape {x.shape}."
        )
    return Fold.apply(x, size, kernel, dilation, pads, stride)


# ----- pooling -----------------------------------------------------------------------------


def _pool_geometry(op, x, d, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    """Normalised (kernel, stride, padding pairs with ceil_mode's extra, dilation, out) over 2 dims."""
    kernel = _ints(op, "kernel_size", kernel_size, d, 1)
    stride = kernel if stride is None or stride == () or stride == [] else _ints(op, "stride", stride, d, 1)
    padding = _ints(op, "padding", padding, d, 0)
    dilation = _ints(op, "dilation", dilation, d, 1)
    ceil_mode = check_bool(op, "ceil_mode", ceil_mode)
    for k, p, dl in zip(kernel, padding, dilation):
        half = ((k - 1) * dl + 1) / 2 if max_pool else k / 2
        if p > half:
            raise ValueError(
                f"{op}: padding {padding} must be at most half of the kernel size {kernel}."
            )
    out, pads = [], []
    for size, k, s, p, dl in zip(x.shape[2:], kernel, stride, padding, dilation):
        span = size + 2 * p - dl * (k - 1) - 1
        if span < 0:
            raise ValueError(
                f"{op}: the kernel of size {kernel} (dilation {dilation}) is larger than the "
                f"padded input of size {tuple(s_ + 2 * p_ for s_, p_ in zip(x.shape[2:], padding))};"
                " use a smaller kernel or more padding."
            )
        n = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (n - 1) * s >= size + p:  # the last window must start inside
            n -= 1
        extra = max(0, (n - 1) * s + dl * (k - 1) + 1 - (size + 2 * p))
        out.append(n)
        pads.append((p, p + extra))
    if d == 1:
        return (1,) + kernel, (1,) + stride, ((0, 0), *pads), (1,) + dilation, (1,) + tuple(out)
    return kernel, stride, tuple(pads), dilation, tuple(out)


def _max_pool(op, d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x = _check_input(op, input, d)
    kernel, stride, pads, dilation, out = _pool_geometry(
        op, x, d, kernel_size, stride, padding, dilation, ceil_mode, True)
    y = MaxPool.apply(x, kernel, stride, pads, dilation, out)
    if not check_bool(op, "return_indices", return_indices):
        return y
    x2 = x._data if d == 2 else x._data[:, :, None, :]
    offset = max_pool_arrays(x2, kernel, stride, pads, dilation, out)[1]
    index = argmax_index(offset, kernel, stride, pads, dilation, x2.shape[3])
    return y, Tensor(index if d == 2 else index[:, :, 0])


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of (N, C, L); the gradient goes to each window's argmax (``ops.MaxPool``).
    stride defaults to kernel_size; padding is -inf; return_indices also gives the argmax positions."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of (N, C, H, W); the gradient goes to each window's argmax
    (``ops.MaxPool``). return_indices also gives each maximum's position in the flattened H * W."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(op, d, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override=None):
    x = _check_input(op, input, d)
    kernel, stride, pads, dilation, out = _pool_geometry(
        op, x, d, kernel_size, stride, padding, 1, ceil_mode, False)
    check_bool(op, "count_include_pad", count_include_pad)
    if divisor_override is not None:
        divisor_override = check_in_range(op, "divisor_override", divisor_override, 1, integer=True)
    size = x.shape[2:] if d == 2 else (1,) + x.shape[2:]
    divisor = avg_pool_divisor(size, kernel, stride, pads, out, count_include_pad, divisor_override)
    return AvgPool.apply(x, kernel, stride, pads, out, divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of (N, C, L) (``ops.AvgPool``); zero padding counted unless
    count_include_pad=False."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of (N, C, H, W) (``ops.AvgPool``); zero padding counted unless
    count_include_pad=False; divisor_override replaces the count."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_size(op, x, output_size):
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise argument_error(op, "output_size", "an int or a pair (None keeps a size)", output_size)
    sizes = tuple(s if s is not None else x.shape[2 + k] for k, s in enumerate(sizes))
    return _ints(op, "output_size", sizes, 2, 1)


def _adaptive_matrix(size, out):
    a = np.zeros((out, size))
    for o, (start, end) in enumerate(adaptive_bounds(size, out)):
        a[o, start:end] = 1.0 / (end - start)
    return a


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Mean over PyTorch's adaptive windows, to an output of the requested (OH, OW): a linear map
    along H and along W (``ops.Resample``), so backward is its transpose."""
    x = _check_input("adaptive_avg_pool2d", input, 2)
    oh, ow = _adaptive_size("adaptive_avg_pool2d", x, output_size)
    matrices = (_adaptive_matrix(x.shape[2], oh), _adaptive_matrix(x.shape[3], ow))
    return Resample.apply(x, matrices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows (``ops.AdaptiveMaxPool``); the gradient goes to the
    argmax. return_indices also gives each maximum's position in the flattened H * W."""
    x = _check_input("adaptive_max_pool2d", input, 2)
    out = _adaptive_size("adaptive_max_pool2d", x, output_size)
    y = AdaptiveMaxPool.apply(x, out)
    if not check_bool("adaptive_max_pool2d", "return_indices", return_indices):
        return y
    return y, Tensor(adaptive_max_arrays(x._data, out)[1])


# ----- normalization -----------------------------------------------------------------------


def _affine(op, name, value, shape):
    if value is None:
        return None
    if not isinstance(value, Tensor) or value.shape != tuple(shape):
        got = value.shape if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{op}: expected {name} of shape {tuple(shape)}; got {got}.")
    return value


def _buffer(value):
    return None if value is None else (value._data if isinstance(value, Tensor) else value)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, owner="batch_norm") -> Tensor:
    """Normalise each channel of (N, C, ...) with the batch's statistics (training) or the running
    ones (evaluation) and scale and shift (``ops.BatchNorm``). In training the running statistics,
    when given, are updated in place with ``momentum`` (unbiased variance), as in PyTorch."""
    x = _tensor(owner, input)
    if x.ndim < 2:
        raise ValueError(f"{owner}: expected an input (N, C, ...) with at least 2 dims; got shape {x.shape}.")
    c = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and tuple(value.shape) != (c,):
            raise ValueError(
                f"{owner}: the input has {c} channels (dim 1 of shape {x.shape}) but {name} has "
                f"shape {tuple(value.shape)}; check num_features."
            )
    weight, bias = _affine(owner, "weight", weight, (c,)), _affine(owner, "bias", bias, (c,))
    training = bool(training)
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{owner}: evaluation needs running_mean and running_var (or training=True).")
    if training and x.numel() // c <= 1:
        raise ValueError(
            f"{owner}: expected more than 1 value per channel when training; got input shape "
            f"{x.shape}."
        )
    momentum = 0.0 if momentum is None else check_real(owner, "momentum", momentum)
    eps = check_real(owner, "eps", eps)
    return BatchNorm.apply(x, weight, bias, _buffer(running_mean), _buffer(running_var), training,
                           momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, *, owner="layer_norm"):
    """Normalise over the last dims (normalized_shape) of each sample, then scale and shift
    element-wise (``ops.LayerNorm``)."""
    x = _tensor(owner, input)
    shape = normalized_shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"{owner}: normalized_shape {shape} must equal the last dims of the input; got input "
            f"shape {x.shape}."
        )
    weight, bias = _affine(owner, "weight", weight, shape), _affine(owner, "bias", bias, shape)
    return LayerNorm.apply(x, weight, bias, k, check_real(owner, "eps", eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, *, owner="group_norm"):
    """Normalise each group of C / num_groups channels of each sample, then scale and shift per
    channel (``ops.GroupNorm``)."""
    x = _tensor(owner, input)
    if x.ndim < 2:
        raise ValueError(f"{owner}: expected an input (N, C, ...); got shape {x.shape}.")
    num_groups = check_in_range(owner, "num_groups", num_groups, 1, integer=True)
    c = x.shape[1]
    if c % num_groups:
        raise ValueError(
            f"{owner}: num_groups={num_groups} must divide the {c} channels of the input "
            f"(shape {x.shape})."
        )
    weight, bias = _affine(owner, "weight", weight, (c,)), _affine(owner, "bias", bias, (c,))
    return GroupNorm.apply(x, num_groups, weight, bias, check_real(owner, "eps", eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5, *, owner="instance_norm"):
    """Normalise each channel of each sample over its positions: group norm with one channel per
    group (``ops.GroupNorm``). With running statistics given, they are updated in place with the
    batch's average of the per-sample statistics; use_input_stats=False normalises with them
    instead (as batch norm in evaluation)."""
    x = _tensor(owner, input)
    if x.ndim < 3:
        raise ValueError(f"{owner}: expected an input (N, C, ...) with positions; got shape {x.shape}.")
    c = x.shape[1]
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps,
                          owner=owner)
    weight, bias = _affine(owner, "weight", weight, (c,)), _affine(owner, "bias", bias, (c,))
    momentum = check_real(owner, "momentum", momentum)
    if running_mean is not None or running_var is not None:
        data = x._data.reshape(x.shape[0], c, -1)
        m = data.shape[2]
        if running_mean is not None:
            rm = _buffer(running_mean)
            rm *= 1 - momentum
            rm += momentum * data.mean(axis=(0, 2))
        if running_var is not None:
            rv = _buffer(running_var)
            rv *= 1 - momentum
            rv += momentum * (data.var(axis=2) * (m / max(m - 1, 1))).mean(axis=0)
    return GroupNorm.apply(x, c, weight, bias, check_real(owner, "eps", eps))


# ----- padding, resampling, dropout --------------------------------------------------------


def pad(input, pad, mode="constant", value=None) -> Tensor:
    """Pad the last dims: pad = (left, right) for the last dim, then (top, bottom) for the one
    before, ... (PyTorch's order). mode: 'constant' (value, default 0), 'reflect', 'replicate',
    'circular' (``ops.Pad``)."""
    x = _tensor("pad", input)
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise argument_error("pad", "mode", "one of 'constant', 'reflect', 'replicate', 'circular'", mode)
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise argument_error("pad", "pad", "a tuple of an even number of ints", pad, TypeError)
    d = len(pad) // 2
    if d > x.ndim:
        raise ValueError(f"pad: {len(pad)} padding values pad {d} dims, but the input has shape {x.shape}.")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported; slice the input instead.")
    widths = tuple((int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(d))[::-1]
    if mode != "constant":
        if value not in (None, 0, 0.0):
            raise ValueError(f"pad: value is only used with mode='constant'; got mode={mode!r}.")
        for size, (lo, hi) in zip(x.shape[x.ndim - d:], widths):
            if mode == "reflect" and max(lo, hi) >= size:
                raise ValueError(
                    f"pad: reflect padding {tuple(pad)} must be smaller than the padded dims of "
                    f"input shape {x.shape}."
                )
            if mode == "circular" and max(lo, hi) > size:
                raise ValueError(
                    f"pad: circular padding {tuple(pad)} must be at most the padded dims of input "
                    f"shape {x.shape}."
                )
    fill = 0.0 if value is None else check_real("pad", "value", value)
    return Pad.apply(x, widths, mode, fill)


def _nearest_matrix(size, out, scale):
    """PyTorch's 'nearest': source = min(floor(o * scale), size - 1), scale in float32."""
    if out == size:
        src = np.arange(out)
    else:
        src = np.minimum((np.arange(out, dtype=np.float32) * np.float32(scale)).astype(np.int64),
                         size - 1)
    a = np.zeros((out, size))
    a[np.arange(out), src] = 1.0
    return a


def _linear_matrix(size, out, scale, align_corners):
    """PyTorch's linear interpolation along one dim: source = o * (size - 1) / (out - 1) with
    align_corners, else (o + 0.5) * scale - 0.5 clamped at 0; two weights per row."""
    o = np.arange(out, dtype=np.float64)
    if align_corners:
        src = o * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = np.maximum((o + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(src.astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    a = np.zeros((out, size))
    np.add.at(a, (np.arange(out), i0), 1.0 - lam)
    np.add.at(a, (np.arange(out), i1), lam)
    return a


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False) -> Tensor:
    """Resize the spatial dims of (N, C, L) or (N, C, H, W): mode 'nearest' (copy the nearest
    source) or 'bilinear' (4-D; with align_corners the corner pixels' centres line up). A linear
    map along each dim (``ops.Resample``), so backward is its transpose."""
    x = _tensor("interpolate", input)
    if mode not in ("nearest", "bilinear", "linear"):
        raise argument_error("interpolate", "mode", "'nearest', 'linear' or 'bilinear'", mode)
    d = x.ndim - 2
    if d not in (1, 2) or (mode == "bilinear" and d != 2) or (mode == "linear" and d != 1):
        raise ValueError(f"interpolate: mode {mode!r} does not fit an input of shape {x.shape}.")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported by chainrule.")
    if recompute_scale_factor:
        raise ValueError("interpolate: recompute_scale_factor=True is not supported by chainrule.")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to 'linear' and 'bilinear'.")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor.")
    in_sizes = x.shape[2:]
    if size is not None:
        out = _ints("interpolate", "size", size, d, 1)
        scales = [i / o for i, o in zip(in_sizes, out)]
    else:
        factors = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
                   else (scale_factor,) * d)
        if len(factors) != d or any(check_real("interpolate", "scale_factor", f) <= 0 for f in factors):
            raise argument_error("interpolate", "scale_factor", f"a positive number or {d} of them",
                                 scale_factor)
        out = tuple(int(math.floor(i * f)) for i, f in zip(in_sizes, factors))
        scales = [1.0 / f for f in factors]
    if mode == "nearest":
        matrices = tuple(_nearest_matrix(i, o, s) for i, o, s in zip(in_sizes, out, scales))
    else:
        matrices = tuple(_linear_matrix(i, o, s, bool(align_corners))
                         for i, o, s in zip(in_sizes, out, scales))
    return Resample.apply(x, matrices)


def dropout2d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Channel dropout: in training, zero whole channels of (N, C, H, W) with probability p and
    scale the rest by 1 / (1 - p) (one Bernoulli draw per sample and channel, from the seeded
    generator). forward: y = x * m / (1 - p); backward: dL/dx = dL/dy * m / (1 - p) (through Mul)."""
    p = check_in_range("dropout2d", "p", p, 0, 1, high_closed=True)
    refuse_inplace("dropout2d", inplace)
    x = _tensor("dropout2d", input)
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W); got shape {x.shape}.")
    if not training or p == 0.0:
        return x
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    keep = default_generator().random(shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * (keep * np.asarray(scale, dtype=x.dtype)).astype(x.dtype, copy=False)

