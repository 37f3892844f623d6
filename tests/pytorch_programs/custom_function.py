"""A custom autograd.Function (the "extending PyTorch" tutorial): a hand-written forward and
backward, checked against autograd, with ctx.save_for_backward and needs_input_grad.
The tutorial's LegendrePolynomial3 is the first."""
import numpy as np
import torch


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = (5 x^3 - 3 x) / 2, and its derivative 1.5 (5 x^2 - 1)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x ** 3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x ** 2 - 1)


class ScaledSquare(torch.autograd.Function):
    """y = scale * x**2, with a Python number as a second argument."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * scale

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * 2 * x * ctx.scale
        return grad_x, None


rng = np.random.default_rng(1)
x = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float32, requires_grad=True)
upstream = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float32)

y = LegendrePolynomial3.apply(x)
y.backward(upstream)
mine = x.grad.clone()
x.grad = None
(0.5 * (5 * x ** 3 - 3 * x)).backward(upstream)
print("P3 forward sum", round(y.sum().item(), 4))
print("P3 grad equals autograd:", (mine - x.grad).abs().max().item() < 1e-5)

x.grad = None
z = ScaledSquare.apply(x, 3.0)
z.sum().backward()
print("ScaledSquare grad", [round(v, 4) for v in x.grad[0].tolist()])

# Use the Function inside a tiny training loop
w = torch.tensor([0.5], requires_grad=True)
data = torch.tensor([0.1, 0.2, 0.3])
for step in range(3):
    loss = LegendrePolynomial3.apply(w * data).sum()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
    print(f"step {step}: loss {loss.item():.6f} w {w.item():.6f}")
