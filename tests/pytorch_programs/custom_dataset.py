"""A map-style Dataset subclass (as in the "Datasets & DataLoaders" tutorial) with a transform,
a DataLoader with a collate_fn and drop_last, Subset and ConcatDataset, and a model trained on it
in a fixed order."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset


class SineDataset(Dataset):
    """x in [-3, 3], y = sin(x) + noise; the transform standardises x."""

    def __init__(self, n, seed, transform=None):
        rng = np.random.default_rng(seed)
        self.x = rng.uniform(-3, 3, size=(n, 1)).astype(np.float32)
        self.y = (np.sin(self.x) + 0.05 * rng.normal(size=(n, 1))).astype(np.float32)
        self.transform = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        x = torch.tensor(self.x[idx])
        if self.transform:
            x = self.transform(x)
        return x, torch.tensor(self.y[idx])


def collate(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.stack(ys)


train = SineDataset(200, seed=0, transform=lambda x: x / 3.0)
extra = SineDataset(56, seed=1, transform=lambda x: x / 3.0)
both = ConcatDataset([train, extra])
first_half = Subset(train, list(range(100)))
print("lengths", len(train), len(extra), len(both), len(first_half))
sample_x, sample_y = both[230]
print("sample", tuple(sample_x.shape), sample_x.dtype, round(sample_y.item(), 5))

loader = DataLoader(both, batch_size=32, shuffle=False, collate_fn=collate, drop_last=True)
print("batches", len(loader))
default_loader = DataLoader(first_half, batch_size=40)
print("default collate batch shapes", [tuple(xb.shape) for xb, _ in default_loader])

model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
rng = np.random.default_rng(3)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.5, size=tuple(p.shape)), dtype=torch.float32))
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
loss_fn = nn.MSELoss()
for epoch in range(10):
    total, count = 0.0, 0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    if epoch % 3 == 0 or epoch == 9:
        print(f"epoch {epoch}: mean loss {total / count:.5f} over {count} samples")
