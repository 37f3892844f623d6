"""Index assignment as an op: ``x[index] = value``, recorded so that gradients flow through it.

``Tensor.__setitem__`` uses it when the change has to be in the graph (x or value requires grad):
the new values are computed out of place, then written into x's memory (see tensor.py).
"""

import numpy as np

from ..autograd import Function
from ..backend import as_array, is_device_array
from .arithmetic import unbroadcast
from .shape import _index_array, check_index_bounds


class SetItem(Function):
    """x with x[index] replaced by value (value broadcast to the indexed shape).

    forward:  y = x;  y[index] = value
    backward: dL/dx = dL/dy with zeros at x[index]      (those elements were overwritten)
              dL/dvalue = unbroadcast(dL/dy[index])      (summed where value was broadcast)
    """

    @staticmethod
    def forward(ctx, x, value, index):
        index, advanced = _index_array(index, x)
        if advanced and is_device_array(x):
            check_index_bounds("setitem", index, x.shape)
        ctx.index = index
        ctx.value_shape = np.shape(value)
        y = x.copy()
        try:
            y[index] = value
        except IndexError as err:
            raise IndexError(
                f"setitem: index {index!r} is out of bounds for shape {x.shape}: {err}"
            ) from None
        except ValueError:
            target = np.shape(x[index])
            raise ValueError(
                f"setitem: cannot assign a value of shape {np.shape(value)} to x[index] of shape "
                f"{target}: the value must broadcast to it."
            ) from None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        grad_x = grad_value = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_y.copy()
            grad_x[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            grad_value = unbroadcast(as_array(grad_y[ctx.index]), ctx.value_shape)
        return grad_x, grad_value, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        grad_x = grad_value = None
        if ctx.needs_input_grad[0]:
            zeros = grad_y.dtype.type(0)
            grad_x = SetItem.apply(grad_y, zeros, ctx.index)
        if ctx.needs_input_grad[1]:
            grad_value = unbroadcast(grad_y[ctx.index], ctx.value_shape)
        return grad_x, grad_value, None
