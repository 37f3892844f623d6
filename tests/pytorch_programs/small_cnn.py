"""A small CNN on scikit-learn's 8x8 digits: Conv2d, BatchNorm2d, ReLU(inplace=True), MaxPool2d,
Flatten, Linear; mini-batches from a DataLoader without shuffling, SGD with momentum, train and eval modes."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

digits = load_digits()
images = torch.tensor(digits.images[:512] / 16.0, dtype=torch.float32).unsqueeze(1)
labels = torch.tensor(digits.target[:512])
print("images", images.shape, images.dtype, "labels", labels.shape, labels.dtype)
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=False)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))  # 8 x 4 x 4
        x = self.pool(F.relu(self.conv2(x)))  # 16 x 2 x 2
        x = torch.flatten(x, 1)
        return self.fc(x)


model = SmallCNN()
rng = np.random.default_rng(0)
with torch.no_grad():
    for name, p in model.named_parameters():
        if "bn" in name:
            continue
        fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else p.shape[0]
        bound = 1.0 / np.sqrt(fan_in)
        p.copy_(torch.tensor(rng.uniform(-bound, bound, size=tuple(p.shape)), dtype=torch.float32))
print("parameters", sum(p.numel() for p in model.parameters()))
print("buffers", [name for name, _ in model.named_buffers()])
print("output shape", tuple(model(images[:5]).shape))

optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    running = 0.0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        running += loss.item()
    model.eval()
    with torch.no_grad():
        correct = (model(images).argmax(1) == labels).sum().item()
    print(f"epoch {epoch + 1}: loss {running / len(loader):.4f}, accuracy {correct / len(labels):.4f}")
print("running mean", [round(v, 4) for v in model.bn1.running_mean[:4].tolist()])
print("batches tracked", model.bn1.num_batches_tracked.item())
