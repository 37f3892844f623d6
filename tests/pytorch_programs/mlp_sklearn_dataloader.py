"""An MLP classifier on scikit-learn's digits with TensorDataset, random_split and DataLoader,
CrossEntropyLoss and Adam; a course-lab style training loop with evaluation per epoch."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
digits = load_digits()
X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target, dtype=torch.int64)
dataset = TensorDataset(X, y)
print("samples", len(dataset), "first sample shapes", tuple(dataset[0][0].shape),
      tuple(dataset[0][1].shape))
train_set, val_set = random_split(dataset, [1437, 360])
print("split", len(train_set), len(val_set))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
val_loader = DataLoader(val_set, batch_size=128)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


model = MLP()
rng = np.random.default_rng(0)
with torch.no_grad():
    for p in model.parameters():
        bound = 1.0 / np.sqrt(p.shape[-1])
        p.copy_(torch.tensor(rng.uniform(-bound, bound, size=tuple(p.shape)), dtype=torch.float32))
print("untrained loss on all data", round(F.cross_entropy(model(X), y).item(), 5))

optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = nn.CrossEntropyLoss()


def evaluate(loader):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb).argmax(dim=1)
            correct += (pred == yb).sum().item()
            total += yb.shape[0]
    return correct / total


for epoch in range(8):
    model.train()
    batches = 0
    for xb, yb in train_loader:
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batches += 1
    print(f"epoch {epoch}: {batches} batches, last batch shape {tuple(xb.shape)}")
val_acc = evaluate(val_loader)
print("validation accuracy above 0.9:", val_acc > 0.9)
print("train accuracy above 0.9:", evaluate(train_loader) > 0.9)
