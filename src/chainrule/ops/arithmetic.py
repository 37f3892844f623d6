"""Arithmetic: add, sub, mul, div, neg, pow, and ``unbroadcast`` that undoes broadcasting.

Binary ops broadcast like NumPy. If an input of shape (3,) was broadcast against (4, 3), it was used
4 times, so its gradient is the sum of the 4 row gradients: ``unbroadcast(grad, (3,))``.
"""

import numpy as np

from ..autograd import Function
from ..backend import is_array


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Broadcasting (a) prepends dims of size 1 until both shapes have the same length, then (b)
    stretches size-1 dims. Undo (a) by summing over the leading extra dims and (b) by summing,
    with keepdims, over every dim where ``shape`` has 1 and the gradient does not. ``grad`` may be
    an array (backward) or a Tensor (backward_graph): the same sums, recorded.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    on_array = is_array(grad)
    if extra:
        leading = tuple(range(extra))
        grad = grad.sum(axis=leading) if on_array else grad.sum(dim=leading)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True) if on_array else grad.sum(dim=stretched, keepdim=True)
    return grad


def broadcasting(op: str, fn, *operands):
    """fn(*operands) for an element-wise NumPy function; where the shapes do not broadcast, the
    ValueError names the op and the shapes (checked only once NumPy has refused)."""
    try:
        return fn(*operands)
    except ValueError:
        check_broadcast(op, *operands)
        raise


def check_broadcast(op: str, *operands) -> None:
    """Raise a ValueError naming the op and the shapes if the operands do not broadcast together."""
    shapes = [np.shape(x) for x in operands]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
        raise ValueError(
            f"{op}: cannot broadcast shapes {listed}: aligned from the last dim, the sizes of each "
            "dim must be equal or 1."
        ) from None


class Add(Function):
    """Element-wise sum with broadcasting.

    forward:  y = a + b
    backward: dL/da = unbroadcast(dL/dy),  dL/db = unbroadcast(dL/dy)
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return broadcasting("add", np.add, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        shape_a, shape_b = ctx.shapes
        grad_a = unbroadcast(grad_y, shape_a) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad_y, shape_b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    backward_graph = backward  # the same sums on Tensors


class Sub(Function):
    """Element-wise difference with broadcasting.

    forward:  y = a - b
    backward: dL/da = unbroadcast(dL/dy),  dL/db = -unbroadcast(dL/dy)
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return broadcasting("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        shape_a, shape_b = ctx.shapes
        grad_a = unbroadcast(grad_y, shape_a) if ctx.needs_input_grad[0] else None
        grad_b = -unbroadcast(grad_y, shape_b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    backward_graph = backward  # the same sums on Tensors


class Mul(Function):
    """Element-wise product with broadcasting.

    forward:  y = a * b
    backward: dL/da = unbroadcast(dL/dy * b),  dL/db = unbroadcast(dL/dy * a)
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad_y * b, np.shape(a)) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad_y * a, np.shape(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad_y * b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad_y * a, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """Element-wise quotient with broadcasting.

    forward:  y = a / b
    backward: dL/da = unbroadcast(dL/dy / b),  dL/db = unbroadcast(-dL/dy * a / b^2)
    second:   d2y/db2 = 2 a / b^3,  d2y/da db = -1 / b^2
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting("div", np.divide, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad_y / b, np.shape(a)) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad_y * a / (b * b), np.shape(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        a, b = ctx.saved_tensors
        grad_a = unbroadcast(grad_y / b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad_y * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Remainder(Function):
    """Element-wise remainder with broadcasting, with the sign of the divisor (Python's %, NumPy's
    remainder, PyTorch's remainder).

    forward:  y = a - floor(a / b) * b
    backward: dL/da = unbroadcast(dL/dy),  dL/db = -unbroadcast(dL/dy * floor(a / b))
              (floor(a / b) is constant between its jumps, where neither derivative exists)
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        y = broadcasting("remainder", np.remainder, a, b)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(np.floor_divide(a, b))
        return y

    @staticmethod
    def backward(ctx, grad_y):
        shape_a, shape_b = ctx.shapes
        grad_a = unbroadcast(grad_y, shape_a) if ctx.needs_input_grad[0] else None
        grad_b = None
        if ctx.needs_input_grad[1]:
            (quotient,) = ctx.saved_tensors
            grad_b = -unbroadcast(grad_y * quotient, shape_b)
        return grad_a, grad_b

    backward_graph = backward  # on Tensors: the saved floor(a / b) is a constant there


class Neg(Function):
    """Negation.

    forward:  y = -x
    backward: dL/dx = -dL/dy
    """

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad_y):
        return -grad_y

    backward_graph = backward


class Pow(Function):
    """Element-wise power with broadcasting; the exponent may be a number or a tensor.

    forward:  y = a ** b
    backward: dL/da = unbroadcast(dL/dy * b * a^(b-1))          (0 where b == 0)
              dL/db = unbroadcast(dL/dy * y * log(a))            (0 where a == 0 and b >= 0)
    second:   d2y/da2 = b (b - 1) a^(b-2),  d2y/db2 = y log(a)^2,  d2y/da db = a^(b-1) (1 + b log(a))
    """

    @staticmethod
    def forward(ctx, a, b):
        y = broadcasting("pow", np.power, a, b)
        if y.dtype == np.int8 and np.result_type(a, b) == np.bool_:  # NumPy's bool ** bool
            y = y.astype(np.bool_)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        a, b, y = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** negative in the unused branch
                local = np.where(b == 0, 0.0, b * np.power(a, b - 1)).astype(grad_y.dtype, copy=False)
            grad_a = unbroadcast(grad_y * local, np.shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                local = np.where((a == 0) & (b >= 0), 0.0, y * np.log(a))
            grad_b = unbroadcast(grad_y * local.astype(grad_y.dtype, copy=False), np.shape(b))
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        # The same masks as backward; where a mask holds, the masked formula is also fed a safe
        # base (1 instead of 0), so that the inf of 0 ** negative or log(0) it would have made
        # cannot turn the second derivative into nan (0 * inf) through the unused branch.
        a, b, y = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            unused = b == 0
            base = _where(unused, 1, a) if unused.any() else a
            grad_a = unbroadcast(grad_y * _where(unused, 0, b * base ** (b - 1)), a.shape)
        if ctx.needs_input_grad[1]:
            unused = (a == 0) & (b >= 0)
            base = _where(a == 0, 1, a) if unused.any() else a
            grad_b = unbroadcast(grad_y * _where(unused, 0, y * base.log()), b.shape)
        return grad_a, grad_b


def _where(cond, x, y):
    """where(cond, x, y) for backward_graph, with at most one of x, y a number."""
    from .select import Where  # select.py imports this file

    dtype = (y if isinstance(x, (int, float)) else x).dtype
    constant = lambda v: dtype.type(v) if isinstance(v, (int, float)) else v  # noqa: E731
    return Where.apply(cond, constant(x), constant(y))
