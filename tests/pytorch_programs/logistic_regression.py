"""Logistic regression on two Gaussian blobs: sigmoid + BCELoss, then the same with
BCEWithLogitsLoss, accuracy by thresholding at 0.5."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(7)
n = 150
X_np = np.concatenate([rng.normal(-1.0, 1.0, size=(n, 2)), rng.normal(1.5, 1.0, size=(n, 2))])
y_np = np.concatenate([np.zeros(n), np.ones(n)]).reshape(-1, 1)
X = torch.tensor(X_np, dtype=torch.float32)
y = torch.tensor(y_np, dtype=torch.float32)


class LogisticRegression(nn.Module):
    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


model = LogisticRegression(2)
with torch.no_grad():
    model.linear.weight.copy_(torch.tensor([[0.1, -0.2]]))
    model.linear.bias.fill_(0.05)
criterion = nn.BCELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(100):
    y_pred = model(X)
    loss = criterion(y_pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if (epoch + 1) % 20 == 0:
        print(f"epoch: {epoch + 1}, loss = {loss.item():.4f}")

with torch.no_grad():
    y_predicted = model(X)
    y_predicted_cls = y_predicted.round()
    acc = (y_predicted_cls == y).sum().item() / float(y.shape[0])
print(f"accuracy: {acc:.4f}")
print("predicted classes", (y_predicted.data > 0.5).float().sum().item())

# The numerically stable version: logits and BCEWithLogitsLoss
linear = nn.Linear(2, 1)
with torch.no_grad():
    linear.weight.copy_(torch.tensor([[0.1, -0.2]]))
    linear.bias.fill_(0.05)
loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(linear.parameters(), lr=0.5)
for _ in range(100):
    loss = loss_fn(linear(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"with logits: loss {loss.item():.4f}, weight {[round(w, 4) for w in linear.weight[0].tolist()]}")
