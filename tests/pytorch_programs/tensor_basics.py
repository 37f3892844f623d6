"""Tensor basics, as in the first hour of a PyTorch course: creation, dtypes, indexing,
broadcasting, in-place ops, .data, .item() and f-strings of 0-d tensors."""
import numpy as np
import torch

# Creation
x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print("x:", x.tolist(), "shape", x.shape, "dtype", x.dtype)
z = torch.zeros(2, 3)
o = torch.ones(3)
print("zeros", z.tolist(), "ones", o.tolist())
r = torch.arange(6)
print("arange", r.tolist(), r.dtype)
a = np.arange(6, dtype=np.float64).reshape(2, 3)
t = torch.tensor(a)
print("from numpy", t.dtype, t.shape, t.sum().item())

# dtypes and conversion
i = torch.tensor([1, 2, 3])
print("ints", i.dtype, i.float().dtype, i.double().dtype)
print("int mean", i.float().mean().item())
print("int plus float", (i + 0.5).dtype, (i + 0.5).tolist())

# Indexing and slicing
print("row 1", x[1].tolist(), "col 2", x[:, 2].tolist(), "x[1, 2]", x[1, 2].item())
print("last col", x[..., -1].tolist(), "mask", x[x > 2.5].tolist())
print("fancy", x[[0, 1], [2, 0]].tolist())

# Shape ops
print("reshape", x.reshape(3, 2).tolist(), "view", x.view(-1).shape)
print("transpose", x.T.shape, x.t().shape)
print("unsqueeze", x.unsqueeze(0).shape, "squeeze", x.unsqueeze(1).squeeze(1).shape)
print("cat", torch.cat([x, x], dim=0).shape, "stack", torch.stack([x, x]).shape)

# Broadcasting
col = torch.tensor([[10.0], [20.0]])
print("broadcast", (x + col).tolist())
print("row-wise", (x * torch.tensor([1.0, 0.0, -1.0])).tolist())

# Reductions
print("sum", x.sum().item(), "dim0", x.sum(dim=0).tolist(), "mean dim1",
      x.mean(dim=1, keepdim=True).shape)
print("max", x.max().item(), "argmax", x.argmax().item(), "argmax dim1", x.argmax(dim=1).tolist())

# In-place operations
y = torch.ones(2, 3)
y.add_(1)
y.mul_(3)
y += x
y[0, 0] = -1.0
y[1] -= 1
print("in place", y.tolist())
y.zero_()
print("zeroed", y.tolist())

# .data, .item(), f-strings
w = torch.tensor([1.0, 2.0], requires_grad=True)
w.data.mul_(2)
print("w after .data.mul_", w.tolist(), "requires_grad", w.requires_grad,
      "data requires_grad", w.data.requires_grad)
loss = (w ** 2).sum()
print(f"loss {loss.item():.4f}")
print(f"loss formatted {loss:.3f}")
print("as numpy", loss.detach().numpy().tolist(), type(loss.item()).__name__)
