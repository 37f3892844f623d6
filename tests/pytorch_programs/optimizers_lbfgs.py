"""Optimizers side by side on one regression problem from the same start: SGD with Nesterov,
Adam, AdamW, RMSprop, Adagrad, and LBFGS with a closure (also on the Rosenbrock function)."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(21)
X = torch.tensor(rng.normal(size=(128, 5)), dtype=torch.float32)
y = torch.tensor(np.sin(rng.normal(size=(128, 1))), dtype=torch.float32)
start = [rng.uniform(-0.3, 0.3, size=s) for s in [(16, 5), (16,), (1, 16), (1,)]]


def make_model():
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    with torch.no_grad():
        for p, value in zip(model.parameters(), start):
            p.copy_(torch.tensor(value, dtype=torch.float32))
    return model


loss_fn = nn.MSELoss()
for name, make_optimizer in [
    ("SGD nesterov", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99))),
    ("AdamW", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
    ("RMSprop", lambda ps: torch.optim.RMSprop(ps, lr=0.005, alpha=0.9)),
    ("Adagrad", lambda ps: torch.optim.Adagrad(ps, lr=0.1)),
]:
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"{name}: first {losses[0]:.6f} step 10 {losses[10]:.6f} last {losses[-1]:.6f}")

# LBFGS needs a closure that re-evaluates the loss
model = make_model()
optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=10, history_size=5)
for step in range(3):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        return loss
    loss = optimizer.step(closure)
    print(f"LBFGS step {step}: loss {loss.item():.6f}")

# Rosenbrock with strong Wolfe line search
xy = torch.tensor([-1.5, 2.0], requires_grad=True)
optimizer = torch.optim.LBFGS([xy], lr=1, max_iter=50, line_search_fn="strong_wolfe")


def rosenbrock():
    optimizer.zero_grad()
    value = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
    value.backward()
    return value


for _ in range(4):
    optimizer.step(rosenbrock)
print("Rosenbrock minimum found:", [round(v, 3) for v in xy.tolist()])
