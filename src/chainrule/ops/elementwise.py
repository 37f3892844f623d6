"""Element-wise math: exp, log, sqrt, abs, sin, cos, clamp, log10, log2, log1p, expm1.

Each output element depends only on the same input element, so each backward is the upstream
gradient times the scalar derivative, element by element (never a matrix product).
"""

import numpy as np

from ..autograd import Function


class Exp(Function):
    """Exponential.

    forward:  y = exp(x)
    backward: dL/dx = dL/dy * y
    second:   d2y/dx2 = y
    """

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * y

    backward_graph = backward  # the same product on Tensors: y is the output, in the graph


class Log(Function):
    """Natural logarithm (nan for x < 0, -inf at 0, as in NumPy and PyTorch).

    forward:  y = log(x)
    backward: dL/dx = dL/dy / x
    second:   d2y/dx2 = -1 / x^2
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / x

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / x


class Sqrt(Function):
    """Square root.

    forward:  y = sqrt(x)
    backward: dL/dx = dL/dy / (2 y)
    second:   d2y/dx2 = -1 / (4 y^3)
    """

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / (2 * y)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / (2 * y)


class Abs(Function):
    """Absolute value.

    forward:  y = |x|
    backward: dL/dx = dL/dy * sign(x)        (sign(0) = 0, as in PyTorch)
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.sign(x)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.sign(x._data)  # a constant: sign's derivative is 0 wherever it exists


class Sin(Function):
    """Sine.

    forward:  y = sin(x)
    backward: dL/dx = dL/dy * cos(x)
    second:   d2y/dx2 = -sin(x) = -y
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * np.cos(x)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * x.cos()


class Cos(Function):
    """Cosine.

    forward:  y = cos(x)
    backward: dL/dx = -dL/dy * sin(x)
    second:   d2y/dx2 = -cos(x) = -y
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return -grad_y * np.sin(x)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return -grad_y * x.sin()


class Clamp(Function):
    """Clip every element to [min, max] (either bound may be None).

    forward:  y = min(max(x, min), max)
    backward: dL/dx = dL/dy where min <= x <= max, else 0      (bounds inclusive, as in PyTorch)
    """

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.bounds = (low, high)
        y = x
        if low is not None:
            y = np.maximum(y, x.dtype.type(low))
        if high is not None:
            y = np.minimum(y, x.dtype.type(high))
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = np.ones_like(x, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return grad_y * inside, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = np.ones_like(x._data, dtype=bool)  # a constant mask
        if low is not None:
            inside &= x._data >= low
        if high is not None:
            inside &= x._data <= high
        return grad_y * inside, None, None


LN10 = float(np.log(10.0))
LN2 = float(np.log(2.0))


class Log10(Function):
    """Base-10 logarithm (nan for x < 0, -inf at 0).

    forward:  y = log10(x)
    backward: dL/dx = dL/dy / (x ln 10)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / (x * x.dtype.type(LN10))

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y / (x * LN10)


class Log2(Function):
    """Base-2 logarithm (nan for x < 0, -inf at 0).

    forward:  y = log2(x)
    backward: dL/dx = dL/dy / (x ln 2)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / (x * x.dtype.type(LN2))

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y / (x * LN2)


class Log1p(Function):
    """log(1 + x), accurate for small x (where 1 + x would round to 1).

    forward:  y = log(1 + x)
    backward: dL/dx = dL/dy / (1 + x)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad_y / (1 + x)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y / (1 + x)


class Expm1(Function):
    """exp(x) - 1, accurate for small x (where exp(x) - 1 would lose every digit).

    forward:  y = exp(x) - 1
    backward: dL/dx = dL/dy * exp(x) = dL/dy * (y + 1)       (uses the saved output y)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x):
        y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (y + 1)

    @staticmethod
    def backward_graph(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (y + 1)
