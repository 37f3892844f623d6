"""Saving and loading: torch.save(model.state_dict()), torch.load, load_state_dict, and a
checkpoint dict with the optimizer state to resume training exactly where it stopped."""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn


def make_model():
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))


rng = np.random.default_rng(11)
X = torch.tensor(rng.normal(size=(32, 3)), dtype=torch.float32)
y = torch.tensor(rng.normal(size=(32, 1)), dtype=torch.float32)
model = make_model()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.4, 0.4, size=tuple(p.shape)), dtype=torch.float32))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()


def train(model, optimizer, steps):
    for _ in range(steps):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


print(f"loss after 5 steps {train(model, optimizer, 5):.6f}")
folder = tempfile.mkdtemp()
weights_path = os.path.join(folder, "model.pt")
torch.save(model.state_dict(), weights_path)
checkpoint_path = os.path.join(folder, "checkpoint.pt")
torch.save({"epoch": 5, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(), "loss": 0.5}, checkpoint_path)

# Load the weights into a fresh model
fresh = make_model()
result = fresh.load_state_dict(torch.load(weights_path))
print("missing", list(result.missing_keys), "unexpected", list(result.unexpected_keys))
fresh.eval()
with torch.no_grad():
    same = (fresh(X) - model(X)).abs().max().item()
print("same predictions after load:", same == 0.0)
print("keys", list(torch.load(weights_path).keys()))

# Resume from the checkpoint: the same losses as training on without stopping
resumed = make_model()
resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
checkpoint = torch.load(checkpoint_path)
resumed.load_state_dict(checkpoint["model_state_dict"])
resumed_optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
print("epoch", checkpoint["epoch"], "loss", checkpoint["loss"])
print(f"resumed: {train(resumed, resumed_optimizer, 5):.6f}")
print(f"went on: {train(model, optimizer, 5):.6f}")
print("optimizer step count", int(resumed_optimizer.state_dict()["state"][0]["step"]))
