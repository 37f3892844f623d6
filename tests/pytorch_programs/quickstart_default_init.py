"""The quickstart shape of a program, with the layers' own random initialisation: the two
libraries draw different start weights, so what is compared is what both must reach (a loss below
a threshold, an accuracy above one) and the shapes, dtypes and state_dict layout."""
import torch
import torch.nn as nn
from sklearn.datasets import make_moons

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"Using {device} device")

X_np, y_np = make_moons(n_samples=400, noise=0.15, random_state=0)
X = torch.tensor(X_np, dtype=torch.float32).to(device)
y = torch.tensor(y_np, dtype=torch.float32).unsqueeze(1).to(device)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1),
        )

    def forward(self, x):
        return self.linear_relu_stack(x)


model = NeuralNetwork().to(device)
print(model)
for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | dtype {param.dtype}")
bound = 1 / 2 ** 0.5
first = model.linear_relu_stack[0].weight
print("default init within U(-1/sqrt(fan_in), 1/sqrt(fan_in)):",
      bool((first.abs() <= bound).all().item()), "not all zero:", bool((first != 0).any().item()))

loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for _ in range(150):
    model.train()
    pred = model(X)
    loss = loss_fn(pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    logits = model(X)
    accuracy = ((logits > 0).float() == y).float().mean().item()
print("logits", logits.shape, logits.dtype)
print("final loss below 0.15:", loss.item() < 0.15)
print("accuracy above 0.95:", accuracy > 0.95)
