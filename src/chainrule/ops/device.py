"""The move between devices: ToDevice (host to GPU and back), recorded like any op."""

from __future__ import annotations

from ..autograd import Function
from ..backend import device_of, to_device


class ToDevice(Function):
    """A copy of x on another device ('cpu' or 'cuda'); the values are unchanged.

    forward:  y = x, its numbers copied to ``device``
    backward: dL/dx = dL/dy, copied back to x's device
    """

    backward_returns_new_arrays = False  # on the same device, y may be x itself

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = device_of(x)
        return to_device(x, device).copy() if device_of(x) == device else to_device(x, device)

    @staticmethod
    def backward(ctx, grad_y):
        return to_device(grad_y, ctx.source), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        return ToDevice.apply(grad_y, ctx.source), None
