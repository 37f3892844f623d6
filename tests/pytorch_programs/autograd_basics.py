"""Autograd basics: backward, gradients that accumulate, no_grad, and gradient descent by hand
(w -= lr * w.grad, then w.grad.zero_()), as in the autograd tutorial."""
import numpy as np
import torch

x = torch.tensor(3.0, requires_grad=True)
y = x ** 2 + 2 * x + 1
y.backward()
print("dy/dx at 3:", x.grad.item())

# Gradients accumulate until they are zeroed
y = x ** 2
y.backward()
print("accumulated:", x.grad.item())
x.grad.zero_()
(3 * x).backward()
print("after zero_:", x.grad.item())

# Non-leaf tensors, requires_grad, detach and no_grad
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a * 2
print("leaf", a.is_leaf, b.is_leaf, "requires_grad", b.requires_grad, b.detach().requires_grad)
with torch.no_grad():
    c = a * 2
print("under no_grad requires_grad:", c.requires_grad)
b.sum().backward()
print("grad of a:", a.grad.tolist())

# Linear model y = w x + b fitted by hand
rng = np.random.default_rng(0)
X = torch.tensor(rng.normal(size=(100, 1)), dtype=torch.float32)
Y = 3.0 * X - 1.0 + 0.1 * torch.tensor(rng.normal(size=(100, 1)), dtype=torch.float32)
w = torch.zeros(1, 1, requires_grad=True)
bias = torch.zeros(1, requires_grad=True)
lr = 0.1
for step in range(30):
    pred = X @ w + bias
    loss = ((pred - Y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        bias -= lr * bias.grad
        w.grad.zero_()
        bias.grad.zero_()
    if step % 5 == 0:
        print(f"step {step}: loss {loss.item():.6f}")
print(f"w = {w.item():.4f}, b = {bias.item():.4f}")

# The same with .data, the older style
w2 = torch.zeros(1, 1, requires_grad=True)
for _ in range(5):
    loss = ((X @ w2 - Y) ** 2).mean()
    loss.backward()
    w2.data -= lr * w2.grad.data
    w2.grad.data.zero_()
print(f"w2 after 5 steps = {w2.item():.5f}")

# A vector output needs an explicit gradient
v = torch.tensor([1.0, 2.0], requires_grad=True)
out = v * v
out.backward(torch.tensor([1.0, 0.5]))
print("vector backward:", v.grad.tolist())
