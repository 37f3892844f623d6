"""Second derivatives with torch.autograd.grad(create_graph=True): of a polynomial, of tanh, a
Hessian-vector product, Newton's method in one dimension, and a gradient penalty in training."""
import numpy as np
import torch
import torch.nn as nn

x = torch.tensor(2.0, requires_grad=True)
y = x ** 3 + 2 * x ** 2
(dy,) = torch.autograd.grad(y, x, create_graph=True)
(d2y,) = torch.autograd.grad(dy, x)
print(f"y = x^3 + 2x^2 at 2: dy {dy.item():.4f}, d2y {d2y.item():.4f}")

t = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
(g,) = torch.autograd.grad(torch.tanh(t).sum(), t, create_graph=True)
(h,) = torch.autograd.grad(g.sum(), t)
print("tanh first", [round(v, 6) for v in g.tolist()], "second", [round(v, 6) for v in h.tolist()])

# Hessian-vector product of f(w) = sum(sigmoid(A w)^2)
rng = np.random.default_rng(4)
A = torch.tensor(rng.normal(size=(5, 3)), dtype=torch.float32)
w = torch.tensor(rng.normal(size=3), dtype=torch.float32, requires_grad=True)
v = torch.tensor([1.0, 0.0, -1.0])
f = (torch.sigmoid(A @ w) ** 2).sum()
(grad_w,) = torch.autograd.grad(f, w, create_graph=True)
(hvp,) = torch.autograd.grad(grad_w @ v, w)
print("Hv", [round(val, 5) for val in hvp.tolist()])

# Newton's method for the root of g(z) = z^3 - 2z - 5, using g' from autograd
z = torch.tensor(2.0, requires_grad=True)
for step in range(4):
    value = z ** 3 - 2 * z - 5
    (slope,) = torch.autograd.grad(value, z)
    with torch.no_grad():
        z -= value / slope
    print(f"newton step {step}: z = {z.item():.6f}")

# A gradient penalty (as in WGAN-GP): the loss depends on a gradient, so backward goes through it
model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, size=tuple(p.shape)), dtype=torch.float32))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
points = torch.tensor(rng.normal(size=(16, 2)), dtype=torch.float32, requires_grad=True)
for step in range(5):
    out = model(points)
    (grad_points,) = torch.autograd.grad(out.sum(), points, create_graph=True)
    penalty = ((grad_points.norm(2, dim=1) - 1) ** 2).mean()
    loss = out.mean() + 10 * penalty
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: penalty {penalty.item():.6f} loss {loss.item():.6f}")
