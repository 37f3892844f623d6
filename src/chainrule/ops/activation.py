"""Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, gelu, elu, selu, softplus, silu.

The element-wise ones multiply the upstream gradient by their scalar derivative element by element.
Softmax and log_softmax mix the elements along ``dim``, so their backward has a sum along it.
"""

import math

import numpy as np

from ..autograd import Function
from ..backend import cuda_backend, is_device_array, to_device_of, to_numpy
from ..kernels import Elementwise, SumOf, sum_of_products
from .dims import normalize_dim
from .select import Where


class ReLU(Function):
    """Rectified linear unit.

    forward:  y = max(x, 0)
    backward: dL/dx = dL/dy * (x > 0)          (0 at x == 0, as in PyTorch; computed as y != 0,
                                                which like PyTorch passes dL/dy through a NaN)
    """

    backward_returns_new_arrays = True  # (see Function)
    # the backward's formula as one kernel on a GPU (chainrule.kernels); None on the CPU
    fused_backward = Elementwise("relu_backward", "g, y", "dx", "dx = g * (y != 0)")

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        # (the kernel is asked for off the CPU only: on an MLP's small arrays even asking costs
        # a share of the step one can measure)
        fused = None if type(y) is np.ndarray else ReLU.fused_backward(grad_y, y)
        if fused is not None:
            return fused
        return grad_y * (y != 0)  # y >= 0 or NaN: the same as x > 0 except at NaN

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (y._data != 0)  # a constant mask: its derivative is 0 (none at the kink)


class LeakyReLU(Function):
    """Leaky ReLU with slope ``negative_slope`` below zero.

    forward:  y = x if x > 0 else negative_slope * x
    backward: dL/dx = dL/dy * (1 if x > 0 else negative_slope)
    """

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return np.where(x > 0, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.where(x > 0, 1, ctx.slope).astype(grad_y.dtype), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.where(x._data > 0, 1, ctx.slope).astype(grad_y.dtype), None  # constant


class Sigmoid(Function):
    """Logistic sigmoid, element-wise.

    forward:  y = 1 / (1 + exp(-x))
    backward: dL/dx = dL/dy * y * (1 - y)        (element-wise, using the saved output y)
    second:   d2y/dx2 = y (1 - y) (1 - 2y)
    """

    backward_returns_new_arrays = True  # (see Function)
    # forward and backward as one kernel each on a GPU (chainrule.kernels); None on the CPU
    fused_forward = Elementwise("sigmoid", "x", "y", "y = tanh(0.5 * x) * 0.5 + 0.5")
    fused_backward = Elementwise("sigmoid_backward", "g, y", "dx", "dx = (1 - y) * y * g")

    @staticmethod
    def forward(ctx, x):
        y = None if type(x) is np.ndarray else Sigmoid.fused_forward(x)  # (see ReLU.backward)
        if y is None:
            y = np.tanh(0.5 * x)  # y = 0.5 tanh(x / 2) + 0.5: equal to the formula, cannot overflow
            y *= 0.5
            y += 0.5
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        fused = None if type(y) is np.ndarray else Sigmoid.fused_backward(grad_y, y)
        if fused is not None:
            return fused
        grad_x = 1 - y  # one new array, the rest in place
        grad_x *= y
        grad_x *= grad_y
        return grad_x

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * y * (1 - y)


class Tanh(Function):
    """Hyperbolic tangent.

    forward:  y = tanh(x)
    backward: dL/dx = dL/dy * (1 - y^2)
    second:   d2y/dx2 = -2 y (1 - y^2)
    """

    backward_returns_new_arrays = True  # (see Function)
    # the backward as one kernel on a GPU (chainrule.kernels); None on the CPU
    fused_backward = Elementwise("tanh_backward", "g, y", "dx", "dx = g * (1 - y * y)")

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        fused = None if type(y) is np.ndarray else Tanh.fused_backward(grad_y, y)
        if fused is not None:
            return fused
        return grad_y * (1 - y * y)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (1 - y * y)


class Softmax(Function):
    """Softmax along ``dim``: exponentials normalised to sum to 1.

    forward:  y_i = exp(x_i - m) / sum_j exp(x_j - m)      (m = max_j x_j; stable at +-1000)
    backward: dL/dx_i = y_i * (dL/dy_i - sum_j dL/dy_j * y_j)
              (the Jacobian is diag(y) - y yᵀ; its product with dL/dy, without building it)
    """

    # on a GPU (chainrule.kernels) the sum of exp(x - m) is one reduction and y one kernel, so
    # the forward is three launches with the max; None on the CPU (scaled_dot_product_attention's
    # softmax, log_softmax and cross_entropy use them too)
    fused_sum_exp = SumOf("sum_exp_shifted", "x, m", "exp(x - m)")
    fused_forward = Elementwise("softmax", "x, m, z", "y", "y = exp(x - m) / z")
    fused_backward = Elementwise("softmax_backward", "g, y, s", "dx", "dx = y * (g - s)")

    @staticmethod
    def forward(ctx, x, dim):
        dim = normalize_dim("softmax", dim, x.ndim)
        dim = dim if x.ndim else None  # a 0-d x (dim 0 or -1): its one element
        m = x.max(axis=dim, keepdims=True)
        z = Softmax.fused_sum_exp(x, m, axis=dim, keepdims=True)
        y = None if z is None else Softmax.fused_forward(x, m, z)
        if y is None:
            e = np.exp(x - m)
            y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        s = sum_of_products(grad_y, y, ctx.dim, keepdims=True)  # sum_j dL/dy_j y_j
        fused = Softmax.fused_backward(grad_y, y, s)
        return (y * (grad_y - s) if fused is None else fused), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return y * (grad_y - (grad_y * y).sum(dim=ctx.dim, keepdim=True)), None


def log_softmax_arrays(x, dim):
    """log_softmax of an array along ``dim`` (None: every element): x - m - log(sum exp(x - m)),
    m = max x, stable at +-1000; on a GPU in three launches (max, the sum, the rest)."""
    m = x.max(axis=dim, keepdims=True)
    z = Softmax.fused_sum_exp(x, m, axis=dim, keepdims=True)
    y = None if z is None else LogSoftmax.fused_from_sum(x, m, z)
    if y is None:
        shifted = x - m
        y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return y


class LogSoftmax(Function):
    """Log of softmax along ``dim``, by log-sum-exp (stable at +-1000).

    forward:  y_i = x_i - m - log(sum_j exp(x_j - m))       (m = max_j x_j)
    backward: dL/dx_i = dL/dy_i - softmax(x)_i * sum_j dL/dy_j     (softmax(x) = exp(y))
    second:   d2y_i/dx_j dx_k = -(s_j [j == k] - s_j s_k),  s = softmax(x)   (the same for every i)
    """

    # y from x, m and the sum of exp(x - m), as one kernel on a GPU (chainrule.kernels; the
    # exponentials are Softmax's kernel); cross_entropy uses them too
    fused_from_sum = Elementwise("log_softmax", "x, m, s", "y", "y = x - m - log(s)")

    @staticmethod
    def forward(ctx, x, dim):
        dim = normalize_dim("log_softmax", dim, x.ndim)
        dim = dim if x.ndim else None  # a 0-d x (dim 0 or -1): its one element
        y = log_softmax_arrays(x, dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y - np.exp(y) * grad_y.sum(axis=ctx.dim, keepdims=True), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y - y.exp() * grad_y.sum(dim=ctx.dim, keepdim=True), None


_erf_elementwise = np.frompyfunc(math.erf, 1, 1)  # math.erf per element: exact, but a Python loop


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt(2))) / 2, element-wise, as an array of x's dtype (0-d too)."""
    if is_device_array(x):
        if cuda_backend().name == "cupy":  # CuPy's erf, on the GPU
            from cupyx.scipy.special import erf

            return (0.5 * (1 + erf(x / _SQRT_2))).astype(x.dtype)
        return to_device_of(np.asarray(_normal_cdf(to_numpy(x))), x)  # the stand-in: on the host
    erf = np.asarray(_erf_elementwise(x / _SQRT_2), dtype=np.float64)
    return (0.5 * (1 + erf)).astype(x.dtype)
_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class NormalCDF(Function):
    """The standard normal CDF, element-wise: GELU's Phi as an op of its own, so that GELU's
    backward_graph can differentiate it (PyTorch: torch.special.ndtr).

    forward:  y = Phi(x) = (1 + erf(x / sqrt(2))) / 2
    backward: dL/dx = dL/dy * phi(x),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
    second:   d2y/dx2 = -x phi(x)
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _normal_cdf(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * (_INV_SQRT_2PI * np.exp(-0.5 * x * x))

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * (_INV_SQRT_2PI * (-0.5 * x * x).exp())


class GELU(Function):
    """Gaussian error linear unit: x times the standard normal CDF of x.

    forward:  y = x * Phi(x),  Phi(x) = (1 + erf(x / sqrt(2))) / 2
              approximate='tanh': y = x/2 * (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
    backward: dL/dx = dL/dy * (Phi(x) + x * phi(x)),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
              approximate='tanh': dL/dx = dL/dy * (1/2 (1 + t) + x/2 (1 - t^2) u'),
              t = tanh(u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    second:   d2y/dx2 = phi(x) (2 - x^2)
    """

    # forward and backward as one kernel each on a GPU (chainrule.kernels); None on the CPU
    _constants = {"K": _SQRT_2_OVER_PI, "C3": 3 * 0.044715,
                  "S2": _SQRT_2, "P": _INV_SQRT_2PI}
    fused_forward = Elementwise("gelu", "x", "y", "y = x * (0.5 * (1 + erf(x / S2)))", "",
                                _constants)
    fused_backward = Elementwise(
        "gelu_backward", "g, x", "dx",
        "dx = g * (0.5 * (1 + erf(x / S2)) + x * (P * exp(-0.5 * x * x)))", "", _constants)
    fused_tanh_forward = Elementwise(
        "gelu_tanh", "x", "y, t",
        "t = tanh((x * x * 0.044715 + 1) * x * K)\ny = (t + 1) * x * 0.5", "", _constants)
    fused_tanh_backward = Elementwise(
        "gelu_tanh_backward", "g, x, t", "dx",
        "dx = g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (K * (C3 * (x * x) + 1)))", "",
        _constants)

    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            fused = GELU.fused_tanh_forward(x)
            if fused is not None:
                y, ctx.tanh = fused
                return y
            t = np.multiply(x, x, out=np.empty_like(x))  # t = tanh(u), in place on one new array
            with np.errstate(over="ignore"):  # u = +-inf for a huge |x|: t = +-1, as it should be
                t *= 0.044715
                t += 1.0
                t *= x
                t *= _SQRT_2_OVER_PI
            np.tanh(t, out=t)
            ctx.tanh = t  # kept for backward (it needs t, not just x)
            y = t + 1.0
            y *= x
            y *= 0.5
            return y
        fused = GELU.fused_forward(x)
        if fused is not None:
            return fused
        cdf = _normal_cdf(x)
        return x * cdf

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = ctx.tanh
            fused = GELU.fused_tanh_backward(grad_y, x, t)
            if fused is not None:
                return fused, None
            # x/2 (1 - t^2) first, then u': where |x| is huge, t = 1 and the product is 0 (as in
            # PyTorch), not inf * 0 = nan; in place on two new arrays
            slope = t * t
            np.subtract(1.0, slope, out=slope)
            slope *= x
            du = np.multiply(x, x, out=np.empty_like(x))  # u'/2 = sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2
            du *= 3 * 0.044715
            du += 1.0
            du *= 0.5 * _SQRT_2_OVER_PI  # (halving is exact: the same numbers as x/2 first)
            slope *= du
            slope += 0.5 * (1.0 + t)  # 1/2 (1 + t) + x/2 (1 - t^2) u'
            slope *= grad_y
            return slope, None
        fused = GELU.fused_backward(grad_y, x)
        if fused is not None:
            return fused, None
        cdf = _normal_cdf(x)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return grad_y * (cdf + x * pdf), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = (_SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))).tanh()
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad_y * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du), None
        cdf = NormalCDF.apply(x)
        pdf = _INV_SQRT_2PI * (-0.5 * x * x).exp()
        return grad_y * (cdf + x * pdf), None


class ELU(Function):
    """Exponential linear unit.

    forward:  y = x if x > 0 else alpha * (exp(x) - 1)
    backward: dL/dx = dL/dy * (1 if x > 0 else alpha * exp(x))
    second:   d2y/dx2 = 0 if x > 0 else alpha * exp(x)
    """

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.where(x > 0, 1, ctx.alpha * np.exp(np.minimum(x, 0))), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * _one_where_positive(x, ctx.alpha * _below(x, 0).exp()), None


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class SELU(Function):
    """Scaled ELU with the fixed constants of Klambauer et al. (2017), self-normalising.

    forward:  y = scale * (x if x > 0 else alpha * (exp(x) - 1))
    backward: dL/dx = dL/dy * scale * (1 if x > 0 else alpha * exp(x))
              alpha = 1.6732632423543772, scale = 1.0507009873554805
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        local = SELU_SCALE * np.where(x > 0, 1, SELU_ALPHA * np.exp(np.minimum(x, 0)))
        return grad_y * local

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * (SELU_SCALE * _one_where_positive(x, SELU_ALPHA * _below(x, 0).exp()))


def _one_where_positive(x, value):
    """where(x > 0, 1, value) on Tensors (ELU's and SELU's slope), no gradient through value
    where x > 0."""
    return Where.apply(x._data > 0, value.dtype.type(1), value)


def _below(x, bound):
    """min(x, bound) on Tensors, whose derivative is 1 only where x < bound: at x == bound it is 0.
    So at the kink of a slope (ELU's at 0, Softplus's at its threshold) the slope keeps the value
    backward gives it, and its own derivative there is 0, as PyTorch's second derivatives have it."""
    return Where.apply(x._data < bound, x, x.dtype.type(bound))


class Softplus(Function):
    """A smooth ReLU: log(1 + exp(beta x)) / beta, linear where beta x > threshold (as PyTorch).

    forward:  y = log(1 + exp(beta x)) / beta      (computed as max(z, 0) + log1p(exp(-|z|)), z = beta x)
    backward: dL/dx = dL/dy * sigmoid(beta x)       (1 where beta x > threshold)
    second:   d2y/dx2 = beta s (1 - s),  s = sigmoid(beta x)      (0 where beta x > threshold)
    """

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        z = x * beta
        ctx.save_for_backward(z, x)  # x for backward_graph, which differentiates z = beta x
        ctx.threshold, ctx.beta = threshold, beta
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(z > threshold, x, soft)

    @staticmethod
    def backward(ctx, grad_y):
        z = ctx.saved_tensors[0]
        local = np.where(z > ctx.threshold, 1, 0.5 * np.tanh(0.5 * z) + 0.5)
        return grad_y * local, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        x = ctx.saved_tensors[1]
        z = x * ctx.beta
        slope = _below(z, ctx.threshold).sigmoid()
        local = Where.apply(z._data > ctx.threshold, z.dtype.type(1), slope)
        return grad_y * local, None, None


class SiLU(Function):
    """Sigmoid linear unit (swish): x times sigmoid(x).

    forward:  y = x * s,  s = sigmoid(x)
    backward: dL/dx = dL/dy * s * (1 + x (1 - s))
    second:   d2y/dx2 = s (1 - s) (2 + x (1 - 2s))
    """

    @staticmethod
    def forward(ctx, x):
        s = 0.5 * np.tanh(0.5 * x) + 0.5
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_y):
        x, s = ctx.saved_tensors
        return grad_y * s * (1 + x * (1 - s))

    @staticmethod
    def backward_graph(ctx, grad_y):
        x = ctx.saved_tensors[0]
        s = x.sigmoid()  # recomputed: the saved s is a constant to the graph
        return grad_y * s * (1 + x * (1 - s))
