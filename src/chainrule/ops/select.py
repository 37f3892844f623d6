"""Selection: where, maximum, minimum. The gradient goes to whichever input was chosen."""

import numpy as np

from ..autograd import Function
from ..backend import is_array, to_device_of
from .arithmetic import broadcasting, unbroadcast


class Where(Function):
    """Pick from a where cond is true, else from b (cond is a boolean array, no gradient).

    forward:  y = cond ? a : b
    backward: dL/da = unbroadcast(dL/dy * cond),  dL/db = unbroadcast(dL/dy * (1 - cond))
    """

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = to_device_of(cond if is_array(cond) else np.asarray(cond), a if is_array(a) else b)
        cond = cond if cond.dtype == bool else cond.astype(bool)
        ctx.save_for_backward(cond)
        ctx.shapes = (np.shape(a), np.shape(b))
        return broadcasting("where", np.where, cond, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        (cond,) = ctx.saved_tensors
        shape_a, shape_b = ctx.shapes
        zero = grad_y.dtype.type(0)
        grad_a = unbroadcast(np.where(cond, grad_y, zero), shape_a) if ctx.needs_input_grad[1] else None
        grad_b = unbroadcast(np.where(cond, zero, grad_y), shape_b) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad_y):
        (cond,) = ctx.saved_tensors
        shape_a, shape_b = ctx.shapes
        zero = grad_y.dtype.type(0)
        grad_a = unbroadcast(Where.apply(cond, grad_y, zero), shape_a) if ctx.needs_input_grad[1] else None
        grad_b = unbroadcast(Where.apply(cond, zero, grad_y), shape_b) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b


class Maximum(Function):
    """Element-wise maximum of two tensors, with broadcasting.

    forward:  y = max(a, b)
    backward: dL/da = unbroadcast(dL/dy * w_a),  dL/db = unbroadcast(dL/dy * w_b),
              w_a = 1 where a > b, 0 where a < b, 1/2 where a == b (ties share, as in PyTorch),
              w_b = 1 - w_a; where a or b is NaN (no order) both get dL/dy, as in PyTorch
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting("maximum", np.maximum, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        return _share(grad_y, a, b, a < b, a > b, ctx.needs_input_grad)

    @staticmethod
    def backward_graph(ctx, grad_y):  # grad_y a Tensor; the weights are constants
        a, b = (t._data for t in ctx.saved_tensors)
        return _share(grad_y, a, b, a < b, a > b, ctx.needs_input_grad)


class Minimum(Function):
    """Element-wise minimum of two tensors, with broadcasting.

    forward:  y = min(a, b)
    backward: dL/da = unbroadcast(dL/dy * w_a),  dL/db = unbroadcast(dL/dy * w_b),
              w_a = 1 where a < b, 0 where a > b, 1/2 where a == b, w_b = 1 - w_a;
              where a or b is NaN both get dL/dy, as in PyTorch
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting("minimum", np.minimum, a, b)

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        return _share(grad_y, a, b, a > b, a < b, ctx.needs_input_grad)

    @staticmethod
    def backward_graph(ctx, grad_y):  # grad_y a Tensor; the weights are constants
        a, b = (t._data for t in ctx.saved_tensors)
        return _share(grad_y, a, b, a > b, a < b, ctx.needs_input_grad)


def _share(grad_y, a, b, a_loses, b_loses, needs):
    """dL/dy to the winner of each pair, half each on a tie; a pair with a NaN (where neither
    comparison holds and they are not equal) gives both the whole of it, as PyTorch does.
    a and b are arrays; grad_y an array (backward) or a Tensor (backward_graph)."""
    tie = 0.5 * (a == b)
    weight_a = (1 - tie - a_loses).astype(grad_y.dtype, copy=False)
    weight_b = (1 - tie - b_loses).astype(grad_y.dtype, copy=False)
    grad_a = unbroadcast(grad_y * weight_a, np.shape(a)) if needs[0] else None
    grad_b = unbroadcast(grad_y * weight_b, np.shape(b)) if needs[1] else None
    return grad_a, grad_b
