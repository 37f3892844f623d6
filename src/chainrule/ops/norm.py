"""Normalization: batch norm (training and eval), layer norm, group norm; instance norm is group
norm with one channel per group (see chainrule.nn.functional_conv.instance_norm).

All of them standardise x over some axes and then scale and shift per channel:

    mu = mean(x),  var = mean((x - mu)^2)            (over the normalised axes; biased variance)
    x_hat = (x - mu) / sqrt(var + eps)
    y = gamma * x_hat + beta

and share one backward. With m elements per normalised group, r = 1 / sqrt(var + eps) and
g = dL/dx_hat = dL/dy * gamma, the derivative of x_hat through mu and var gives three terms:

    dL/dx = r * ( g                                  the direct path x -> x_hat
                  - mean(g)                          the path through mu (every x moves the mean)
                  - x_hat * mean(g * x_hat) )        the path through var
    dL/dgamma = sum of dL/dy * x_hat,  dL/dbeta = sum of dL/dy      (over everything but the channel)

Derivation: x_hat_i = (x_i - mu) r. d mu / d x_j = 1/m. d var / d x_j = 2 (x_j - mu) / m, so
d r / d x_j = -r^3 (x_j - mu) / m = -r^2 x_hat_j / m. Then
    d x_hat_i / d x_j = r (delta_ij - 1/m) + (x_i - mu) d r / d x_j
                      = r (delta_ij - 1/m - x_hat_i x_hat_j / m),
and dL/dx_j = sum_i g_i d x_hat_i / d x_j = r (g_j - mean(g) - x_hat_j mean(g x_hat)).
In evaluation mode batch norm uses the running statistics, which are constants: dL/dx = g * r.
"""

import math

import numpy as np

from ..autograd import Function
from ..kernels import (Elementwise, SumOf, fused_kernels_enabled, sum_of_products,
                       sum_of_products_kernel)

# On a GPU (chainrule.kernels) each statistic is one reduction: r straight from the sum of
# squares about mu, or var and then r where batch norm keeps var; x_hat and y are one kernel from
# x, mu and r (x - mu is never stored); the backward is two sums and one kernel for its three
# terms, g = dL/dy gamma made inside them. On the CPU the kernels return None and the functions
# below run NumPy's calls. m: the elements per group.
_fused_inv_std = SumOf("inv_std", "x, mu", "(x - mu) * (x - mu)", then="1 / sqrt(s / m + eps)",
                       scalars="m, eps")
_fused_variance = SumOf("variance", "x, mu", "(x - mu) * (x - mu)", then="s / m", scalars="m")
_fused_inv_std_of_var = Elementwise("inv_std_of_var", "var", "r", "r = 1 / sqrt(var + eps)", "eps")
_fused_normalize = Elementwise("normalize", "x, mu, r", "x_hat", "x_hat = (x - mu) * r")
_fused_normalize_affine = Elementwise("normalize_affine", "x, mu, r, w, b", "x_hat, y",
                                      "x_hat = (x - mu) * r\ny = x_hat * w + b")
_fused_mean_of_product = SumOf("mean_of_product", "g, w", "g * w", then="s / m", scalars="m")
_fused_sum_of_three = SumOf("sum_of_product3", "g, w, x_hat", "g * w * x_hat")
_fused_standardize_backward = Elementwise(
    "standardize_backward", "g, x_hat, r, mean_g, sum_gx", "dx",
    "dx = (g - mean_g - x_hat * (sum_gx / m)) * r", "m")
_fused_standardize_backward_affine = Elementwise(
    "standardize_backward_affine", "gy, w, x_hat, r, mean_g, sum_gx", "dx",
    "dx = (gy * w - mean_g - x_hat * (sum_gx / m)) * r", "m")


def _count(x, axes):
    """m, the number of elements each statistic is taken over."""
    return math.prod(x.shape[a] for a in axes)


def _statistics(x, axes, eps, need_var=False):
    """(mu, r, var, centered): mu and var of x over ``axes`` (kept as size 1), r = 1 / sqrt(var +
    eps), and x - mu where it was made on the way (the CPU's path; ``_scale_shift`` overwrites
    it). On a GPU: mu and r one reduction each, var None unless ``need_var`` (then var and r one
    launch each), centered None."""
    mean = x.mean(axis=axes, keepdims=True)
    m = _count(x, axes)
    if need_var:
        var = _fused_variance(x, mean, m, axis=axes, keepdims=True)  # None: the CPU
        inv_std = None if var is None else _fused_inv_std_of_var(var, eps)
    else:
        var, inv_std = None, _fused_inv_std(x, mean, m, eps, axis=axes, keepdims=True)
    if inv_std is not None:
        return mean, inv_std, var, None
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    return mean, 1.0 / np.sqrt(var + eps), var, centered


def _scale_shift(x, mean, inv_std, weight, bias, centered=None):
    """(x_hat, y): x_hat = (x - mu) r and y = gamma x_hat + beta (gamma, beta: None for none; y is
    x_hat itself without both). ``centered``, x - mu where the caller has it, is overwritten."""
    if weight is not None and bias is not None:
        fused = _fused_normalize_affine(x, mean, inv_std, weight, bias)  # None: the CPU
        if fused is not None:
            return fused
    x_hat = _fused_normalize(x, mean, inv_std)
    if x_hat is None:
        x_hat = x - mean if centered is None else centered
        x_hat *= inv_std  # (in place: the array is ours)
    y = x_hat if weight is None else x_hat * weight
    if bias is not None:
        y = y + bias
    return x_hat, y


def _standardize_backward(grad_y, weight, x_hat, inv_std, axes):
    """The three terms: r * (g - mean(g) - x_hat * mean(g * x_hat)), g = dL/dy gamma (``weight``:
    gamma broadcast against dL/dy, or None for 1), means over ``axes``."""
    fused = _standardize_backward_fused(grad_y, weight, x_hat, inv_std, axes)
    if fused is not None:
        return fused
    g = grad_y if weight is None else grad_y * weight
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * x_hat).mean(axis=axes, keepdims=True)
    grad_x = g - mean_g  # then in place on this new array
    grad_x -= x_hat * mean_gx
    grad_x *= inv_std
    return grad_x


def _standardize_backward_fused(grad_y, weight, x_hat, inv_std, axes):
    """``_standardize_backward`` in three kernels on a GPU (two sums, then the terms), or None."""
    if type(grad_y) is np.ndarray or not fused_kernels_enabled():
        return None
    m = _count(x_hat, axes)
    if weight is None:
        mean_g = grad_y.mean(axis=axes, keepdims=True)
        sum_gx = sum_of_products_kernel(grad_y, x_hat, axis=axes, keepdims=True)
        return None if sum_gx is None else _fused_standardize_backward(
            grad_y, x_hat, inv_std, mean_g, sum_gx, m)
    mean_g = _fused_mean_of_product(grad_y, weight, m, axis=axes, keepdims=True)
    sum_gx = None if mean_g is None else _fused_sum_of_three(grad_y, weight, x_hat, axis=axes,
                                                             keepdims=True)
    return None if sum_gx is None else _fused_standardize_backward_affine(
        grad_y, weight, x_hat, inv_std, mean_g, sum_gx, m)


def _standardize_graph(x, axes, eps):
    """x_hat and r in Tensor ops, recomputed from the saved input (for backward_graph)."""
    centered = x - x.mean(dim=axes, keepdim=True)
    inv_std = 1.0 / ((centered * centered).mean(dim=axes, keepdim=True) + eps).sqrt()
    return centered * inv_std, inv_std


def _standardize_backward_graph(grad_x_hat, x_hat, inv_std, axes):
    mean_g = grad_x_hat.mean(dim=axes, keepdim=True)
    mean_gx = (grad_x_hat * x_hat).mean(dim=axes, keepdim=True)
    return inv_std * (grad_x_hat - mean_g - x_hat * mean_gx)


def _channel_shape(ndim):
    """(1, C, 1, 1, ...) broadcasting a per-channel vector over an (N, C, ...) input."""
    return (1, -1) + (1,) * (ndim - 2)


def _affine_grads(ctx, grad_y, x_hat, weight, bias, axes, w_index=1):
    """dL/dgamma and dL/dbeta: sums over ``axes``, every axis but gamma's (so already of its
    shape: arrays of their own, not reshaped views, which an optimizer may adopt as they are)."""
    needs = ctx.needs_input_grad
    grad_w = sum_of_products(grad_y, x_hat, axes) if weight is not None and needs[w_index] else None
    grad_b = grad_y.sum(axis=axes) if bias is not None and needs[w_index + 1] else None
    return grad_w, grad_b


def _sum_leading(t, leading):
    return t.sum(dim=leading) if leading else t


class BatchNorm(Function):
    """Batch normalization over (N, C, ...): statistics per channel, over the batch and positions.

    forward:  training: mu, var over (N, H, W) per channel (biased var); running statistics
                        updated in place: running = (1 - momentum) running + momentum stat, with
                        the unbiased variance var * m / (m - 1)
              eval:     mu, var = the running statistics
              y = gamma (x - mu) / sqrt(var + eps) + beta
    backward: training: dL/dx = r (g - mean(g) - x_hat mean(g x_hat)),  g = dL/dy gamma
                        (the three terms derived in this module's docstring)
              eval:     dL/dx = r g                  (the running statistics are constants)
              dL/dgamma = sum over (N, H, W) of dL/dy x_hat,  dL/dbeta = sum of dL/dy
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        axes = (0, *range(2, x.ndim))
        shape = _channel_shape(x.ndim)
        if training:
            mean, inv_std, var, centered = _statistics(x, axes, eps,
                                                       need_var=running_var is not None)
            m = x.size // x.shape[1]  # elements per channel
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
            if running_var is not None:
                unbiased = var.reshape(-1) * (m / max(m - 1, 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased
        else:
            mean, centered = running_mean.reshape(shape), None
            inv_std = (1.0 / np.sqrt(running_var + eps)).reshape(shape)
        x_hat, y = _scale_shift(x, mean, inv_std, None if weight is None else weight.reshape(shape),
                                None if bias is None else bias.reshape(shape), centered)
        ctx.save_for_backward(x, weight, bias, running_mean, running_var)
        ctx.x_hat, ctx.inv_std = x_hat, inv_std
        ctx.training, ctx.eps = training, eps
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors[:3]
        axes = (0, *range(2, x.ndim))
        shape = _channel_shape(x.ndim)
        x_hat, inv_std = ctx.x_hat, ctx.inv_std
        grad_x = None
        if ctx.needs_input_grad[0]:
            gamma = None if weight is None else weight.reshape(shape)
            if ctx.training:
                grad_x = _standardize_backward(grad_y, gamma, x_hat, inv_std, axes)
            else:
                grad_x = (grad_y if gamma is None else grad_y * gamma) * inv_std
        grad_w, grad_b = _affine_grads(ctx, grad_y, x_hat, weight, bias, axes)
        return grad_x, grad_w, grad_b, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight, bias, running_mean, running_var = ctx.saved_tensors
        axes = (0, *range(2, x.ndim))
        shape = _channel_shape(x.ndim)
        if ctx.training:
            x_hat, inv_std = _standardize_graph(x, axes, ctx.eps)
        else:
            inv_std = 1.0 / (running_var.reshape(shape) + ctx.eps).sqrt()
            x_hat = (x - running_mean.reshape(shape)) * inv_std
        grad_x_hat = grad_y if weight is None else grad_y * weight.reshape(shape)
        if ctx.training:
            grad_x = _standardize_backward_graph(grad_x_hat, x_hat, inv_std, axes)
        else:
            grad_x = grad_x_hat * inv_std
        grad_w = None if weight is None else (grad_y * x_hat).sum(dim=axes)
        grad_b = None if bias is None else grad_y.sum(dim=axes)
        return grad_x, grad_w, grad_b, None, None, None, None, None


class LayerNorm(Function):
    """Layer normalization over the last k dims (normalized_shape), with element-wise gamma, beta
    of that shape.

    forward:  x_hat = (x - mu) / sqrt(var + eps),  mu, var over the last k dims of each sample
              y = gamma x_hat + beta
    backward: dL/dx = r (g - mean(g) - x_hat mean(g x_hat)),  g = dL/dy gamma, means over the last
              k dims (the three terms derived in this module's docstring)
              dL/dgamma = sum over the leading dims of dL/dy x_hat,  dL/dbeta = sum of dL/dy
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        mean, inv_std, _, centered = _statistics(x, axes, eps)
        x_hat, y = _scale_shift(x, mean, inv_std, weight, bias, centered)
        ctx.save_for_backward(x, weight, bias)
        ctx.x_hat, ctx.inv_std, ctx.k, ctx.eps = x_hat, inv_std, k, eps
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        axes = tuple(range(x.ndim - ctx.k, x.ndim))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _standardize_backward(grad_y, weight, ctx.x_hat, ctx.inv_std, axes)
        leading = tuple(range(x.ndim - ctx.k))
        grad_w, grad_b = _affine_grads(ctx, grad_y, ctx.x_hat, weight, bias, leading)
        return grad_x, grad_w, grad_b, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        axes = tuple(range(x.ndim - ctx.k, x.ndim))
        leading = tuple(range(x.ndim - ctx.k))
        x_hat, inv_std = _standardize_graph(x, axes, ctx.eps)
        grad_x_hat = grad_y if weight is None else grad_y * weight
        grad_x = _standardize_backward_graph(grad_x_hat, x_hat, inv_std, axes)
        # (no leading dims: nothing to sum over; a Tensor's sum(dim=()) would sum every dim)
        grad_w = None if weight is None else _sum_leading(grad_y * x_hat, leading)
        grad_b = None if bias is None else _sum_leading(grad_y, leading)
        return grad_x, grad_w, grad_b, None, None


class GroupNorm(Function):
    """Group normalization: the C channels of (N, C, ...) split into G groups; statistics per
    sample and group; gamma, beta per channel. (Instance norm: G = C.)

    forward:  x_hat = (x - mu) / sqrt(var + eps),  mu, var over the C/G channels and all positions
              of a group of a sample;  y = gamma[c] x_hat + beta[c]
    backward: dL/dx = r (g - mean(g) - x_hat mean(g x_hat)),  g = dL/dy gamma[c], means over the
              group (the three terms derived in this module's docstring)
              dL/dgamma[c] = sum over (N, positions) of dL/dy x_hat,  dL/dbeta[c] = sum of dL/dy
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, num_groups, weight, bias, eps):
        n = x.shape[0]
        shape = _channel_shape(x.ndim)
        grouped = x.reshape(n, num_groups, -1)
        mean, inv_std, _, centered = _statistics(grouped, (2,), eps)
        x_hat, _ = _scale_shift(grouped, mean, inv_std, None, None, centered)  # by group
        x_hat = x_hat.reshape(x.shape)  # gamma and beta are per channel: they need x's shape
        y = x_hat if weight is None else x_hat * weight.reshape(shape)
        if bias is not None:
            y = y + bias.reshape(shape)
        ctx.save_for_backward(x, weight, bias)
        ctx.x_hat, ctx.inv_std, ctx.groups, ctx.eps = x_hat, inv_std, num_groups, eps
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        n, groups = x.shape[0], ctx.groups
        shape = _channel_shape(x.ndim)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x_hat = grad_y if weight is None else grad_y * weight.reshape(shape)
            grad_x = _standardize_backward(grad_x_hat.reshape(n, groups, -1), None,
                                           ctx.x_hat.reshape(n, groups, -1), ctx.inv_std, (2,))
            grad_x = grad_x.reshape(x.shape)
        axes = (0, *range(2, x.ndim))
        grad_w, grad_b = _affine_grads(ctx, grad_y, ctx.x_hat, weight, bias, axes, 2)
        return grad_x, None, grad_w, grad_b, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        n, groups = x.shape[0], ctx.groups
        shape = _channel_shape(x.ndim)
        x_hat, inv_std = _standardize_graph(x.reshape(n, groups, -1), (2,), ctx.eps)
        grad_x_hat = grad_y if weight is None else grad_y * weight.reshape(shape)
        grad_x = _standardize_backward_graph(grad_x_hat.reshape(n, groups, -1), x_hat, inv_std, (2,))
        x_hat = x_hat.reshape(x.shape)
        axes = (0, *range(2, x.ndim))
        grad_w = None if weight is None else (grad_y * x_hat).sum(dim=axes)
        grad_b = None if bias is None else grad_y.sum(dim=axes)
        return grad_x.reshape(x.shape), None, grad_w, grad_b, None
