"""A custom autograd.Function with two outputs (values and their running maximum), one gradient
per output, and ctx.mark_non_differentiable for an integer output."""
import torch


class SortWithIndex(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        values, indices = torch.sort(x, dim=-1)
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        (indices,) = ctx.saved_tensors
        grad_x = torch.zeros_like(grad_values)
        grad_x.scatter_(-1, indices, grad_values)
        return grad_x


class SquareAndCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x, x * x * x

    @staticmethod
    def backward(ctx, grad_square, grad_cube):
        (x,) = ctx.saved_tensors
        return grad_square * 2 * x + grad_cube * 3 * x * x


x = torch.tensor([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]], requires_grad=True)
values, indices = SortWithIndex.apply(x)
print("sorted", values.tolist(), "indices", indices.tolist())
(values * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
print("grad through sort", x.grad.tolist())

x.grad = None
square, cube = SquareAndCube.apply(x)
(square.sum() + 0.5 * cube.sum()).backward()
print("grad of square + cube/2", x.grad.tolist())

x.grad = None
square, cube = SquareAndCube.apply(x)
cube.sum().backward()
print("only the cube used", x.grad.tolist())
