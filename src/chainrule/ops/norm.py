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
from ..kernels import Elementwise, sum_of_products, sum_of_products_kernel

# on a GPU (chainrule.kernels) the sums of products are one kernel each (sum_of_products_kernel),
# and so are the element-wise steps after them (m elements per group); on the CPU these return
# None and the functions below run NumPy's calls
_fused_inv_std = Elementwise("inv_std", "sum_sq", "r", "r = 1 / sqrt(sum_sq / m + eps)", "m, eps")
_fused_scale_shift = Elementwise("scale_shift", "centered, r, w, b", "x_hat, y",
                                 "x_hat = centered * r\ny = x_hat * w + b")
_fused_standardize_backward = Elementwise(
    "standardize_backward", "g, x_hat, r, mean_g, sum_gx", "dx",
    "dx = (g - mean_g - x_hat * (sum_gx / m)) * r", "m")


def _count(x, axes):
    """m, the number of elements each statistic is taken over."""
    return math.prod(x.shape[a] for a in axes)


def _standardize(x, axes, eps, need_var=False):
    """(x - mu, r, mu, var) with r = 1 / sqrt(var + eps), the statistics kept with their reduced
    axes as size 1; ``_scale_shift`` makes x_hat and y from the first two. (On a GPU r comes from
    the sum of squares in two kernels, and var is None unless ``need_var``.)"""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    sum_sq = sum_of_products_kernel(centered, centered, axis=axes, keepdims=True)  # None: CPU
    if sum_sq is None:
        var = np.mean(centered * centered, axis=axes, keepdims=True)
    else:
        m = _count(x, axes)
        inv_std = _fused_inv_std(sum_sq, m, eps)
        if inv_std is not None:
            return centered, inv_std, mean, sum_sq / m if need_var else None
        var = sum_sq / m
    return centered, 1.0 / np.sqrt(var + eps), mean, var


def _scale_shift(centered, inv_std, weight, bias):
    """x_hat = (x - mu) r, and y = gamma x_hat + beta (gamma, beta: None for none), as
    (x_hat, y); ``centered`` is overwritten (it is ``_standardize``'s own array)."""
    if weight is not None and bias is not None:
        fused = _fused_scale_shift(centered, inv_std, weight, bias)
        if fused is not None:
            return fused
    centered *= inv_std  # now x_hat (in place: centered is ours)
    y = centered if weight is None else centered * weight
    if bias is not None:
        y = y + bias
    return centered, y


def _standardize_backward(grad_x_hat, x_hat, inv_std, axes):
    """The three terms: r * (g - mean(g) - x_hat * mean(g * x_hat)), means over ``axes``."""
    mean_g = grad_x_hat.mean(axis=axes, keepdims=True)
    sum_gx = sum_of_products_kernel(grad_x_hat, x_hat, axis=axes, keepdims=True)  # None: CPU
    if sum_gx is None:
        mean_gx = (grad_x_hat * x_hat).mean(axis=axes, keepdims=True)
    else:
        m = _count(x_hat, axes)
        fused = _fused_standardize_backward(grad_x_hat, x_hat, inv_std, mean_g, sum_gx, m)
        if fused is not None:
            return fused
        mean_gx = sum_gx / m
    grad_x = grad_x_hat - mean_g  # then in place on this new array
    grad_x -= x_hat * mean_gx
    grad_x *= inv_std
    return grad_x


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
            centered, inv_std, mean, var = _standardize(x, axes, eps, need_var=True)
            m = x.size // x.shape[1]  # elements per channel
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(-1)
            if running_var is not None:
                unbiased = var.reshape(-1) * (m / max(m - 1, 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased
        else:
            inv_std = (1.0 / np.sqrt(running_var + eps)).reshape(shape)
            centered = x - running_mean.reshape(shape)
        x_hat, y = _scale_shift(centered, inv_std, None if weight is None else weight.reshape(shape),
                                None if bias is None else bias.reshape(shape))
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
            grad_x_hat = grad_y if weight is None else grad_y * weight.reshape(shape)
            if ctx.training:
                grad_x = _standardize_backward(grad_x_hat, x_hat, inv_std, axes)
            else:
                grad_x = grad_x_hat * inv_std
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
        centered, inv_std, _, _ = _standardize(x, axes, eps)
        x_hat, y = _scale_shift(centered, inv_std, weight, bias)
        ctx.save_for_backward(x, weight, bias)
        ctx.x_hat, ctx.inv_std, ctx.k, ctx.eps = x_hat, inv_std, k, eps
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, bias = ctx.saved_tensors
        axes = tuple(range(x.ndim - ctx.k, x.ndim))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x_hat = grad_y if weight is None else grad_y * weight
            grad_x = _standardize_backward(grad_x_hat, ctx.x_hat, ctx.inv_std, axes)
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
        centered, inv_std, _, _ = _standardize(grouped, (2,), eps)
        centered *= inv_std  # now x_hat, by group
        x_hat = centered.reshape(x.shape)  # gamma and beta are per channel: they need x's shape
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
            grad_x = _standardize_backward(grad_x_hat.reshape(n, groups, -1),
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
