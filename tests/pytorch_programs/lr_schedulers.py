"""Learning-rate schedulers: the learning rate per epoch under StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR, LambdaLR, OneCycleLR and ReduceLROnPlateau, each driving a small training run."""
import numpy as np
import torch
import torch.nn as nn
from torch.optim import lr_scheduler

rng = np.random.default_rng(5)
X = torch.tensor(rng.normal(size=(64, 4)), dtype=torch.float32)
y = torch.tensor(rng.normal(size=(64, 1)), dtype=torch.float32)
start = [rng.uniform(-0.5, 0.5, size=(1, 4)), rng.uniform(-0.5, 0.5, size=(1,))]


def run(make_scheduler, epochs=8, per_batch=False):
    model = nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(start[0], dtype=torch.float32))
        model.bias.copy_(torch.tensor(start[1], dtype=torch.float32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(epochs):
        for batch in range(4 if per_batch else 1):
            xb, yb = X[batch * 16:(batch + 1) * 16], y[batch * 16:(batch + 1) * 16]
            loss = nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if per_batch:
                scheduler.step()
        lrs.append(round(optimizer.param_groups[0]["lr"], 6))
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)  # a plateau: the validation loss never improves
        elif not per_batch:
            scheduler.step()
    return lrs, loss.item()


for name, make, per_batch in [
    ("StepLR", lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), False),
    ("MultiStepLR", lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1), False),
    ("ExponentialLR", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8), False),
    ("CosineAnnealingLR", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.001), False),
    ("LambdaLR", lambda o: lr_scheduler.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e)), False),
    ("OneCycleLR", lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=32), True),
    ("ReduceLROnPlateau", lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1), False),
]:
    lrs, last_loss = run(make, per_batch=per_batch)
    print(f"{name}: lrs {lrs} final loss {last_loss:.5f}")

model = nn.Linear(4, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
scheduler = lr_scheduler.StepLR(optimizer, step_size=2)
scheduler.step()
scheduler.step()
print("get_last_lr", scheduler.get_last_lr(), "last_epoch", scheduler.last_epoch)
