"""Gradient clipping in a training loop: clip_grad_norm_ returns the total norm before clipping,
clip_grad_value_ bounds each element; an exploding setup stays finite."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(9)
X = torch.tensor(rng.normal(scale=5.0, size=(64, 6)), dtype=torch.float32)
y = torch.tensor(rng.normal(scale=10.0, size=(64, 1)), dtype=torch.float32)
model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 1))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, size=tuple(p.shape)), dtype=torch.float32))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()
for step in range(12):
    optimizer.zero_grad()
    loss = loss_fn(model(X), y)
    loss.backward()
    total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    clipped = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    optimizer.step()
    print(f"step {step}: loss {loss.item():.5f} norm before {float(total_norm):.5f} "
          f"after {clipped.item():.5f}")

optimizer.zero_grad()
loss_fn(model(X), y).backward()
nn.utils.clip_grad_value_(model.parameters(), clip_value=0.05)
print("largest element after clip_grad_value_:",
      round(max(p.grad.abs().max().item() for p in model.parameters()), 6))
norm_inf = nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0, norm_type=float("inf"))
print(f"largest gradient element (the infinity norm) {float(norm_inf):.6f}")
