"""A training loop with model.train() / model.eval() and Dropout: eval is deterministic, train is
not, the training converges; the losses under dropout depend on the library's random stream, so
only what both must agree on is printed."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(2)
X = torch.tensor(rng.normal(size=(256, 10)), dtype=torch.float32)
labels = (X[:, 0] + X[:, 1] * X[:, 2] > 0).long()


class Classifier(nn.Module):
    def __init__(self, p=0.3):
        super().__init__()
        self.fc1 = nn.Linear(10, 64)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(64, 2)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.fc1(x))))


model = Classifier()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.3, 0.3, size=tuple(p.shape)), dtype=torch.float32))

model.eval()
with torch.no_grad():
    first, second = model(X), model(X)
print("eval deterministic:", bool((first == second).all().item()))
print(f"eval loss before training {F.cross_entropy(first, labels).item():.6f}")
model.train()
with torch.no_grad():
    a, b = model(X), model(X)
print("train mode differs between calls:", bool((a != b).any().item()))
zeros = (model.drop(torch.ones(10000)) == 0).float().mean().item()
print("dropped fraction near 0.3:", abs(zeros - 0.3) < 0.03)
print("kept units scaled to", round(model.drop(torch.ones(1000)).max().item(), 4))

optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for _ in range(30):
    model.train()
    loss = F.cross_entropy(model(X), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    accuracy = (model(X).argmax(dim=1) == labels).float().mean().item()
print("train accuracy above 0.85:", accuracy > 0.85)
print("functional dropout off in eval:", bool((F.dropout(X, 0.5, training=False) == X).all().item()))
