"""Linear regression with nn.Linear, nn.MSELoss and optim.SGD, the classic first model."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(42)
X_np = rng.uniform(-1, 1, size=(200, 3)).astype(np.float32)
true_w = np.array([[2.0], [-3.0], [0.5]], dtype=np.float32)
y_np = X_np @ true_w + 1.0 + 0.05 * rng.normal(size=(200, 1)).astype(np.float32)
X = torch.from_numpy(X_np)
y = torch.tensor(y_np)

model = nn.Linear(3, 1)
with torch.no_grad():
    model.weight.copy_(torch.tensor(rng.uniform(-0.5, 0.5, size=(1, 3)), dtype=torch.float32))
    model.bias.zero_()
print("weight shape", tuple(model.weight.shape), "bias shape", tuple(model.bias.shape))
print("parameters:", sum(p.numel() for p in model.parameters()))

criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for epoch in range(60):
    optimizer.zero_grad()
    outputs = model(X)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    if (epoch + 1) % 10 == 0:
        print(f"Epoch [{epoch + 1}/60], Loss: {loss.item():.6f}")

with torch.no_grad():
    predicted = model(X)
print("learned weight", [round(v, 3) for v in model.weight.flatten().tolist()])
print(f"learned bias {model.bias.item():.3f}")
print("prediction shape", tuple(predicted.shape), "final MSE below 0.01:",
      criterion(predicted, y).item() < 0.01)
