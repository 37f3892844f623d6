"""A short demo: backward through a tiny 2-10-1 sigmoid network, gradients printed."""

import chainrule as cr

cr.manual_seed(0)
x = cr.randn(4, 2)
target = (5 * x[:, 0] ** 2 + 3 * x[:, 1] ** 2).reshape(4, 1)
w1 = cr.randn(10, 2, requires_grad=True)
b1 = cr.zeros(10, requires_grad=True)
w2 = cr.randn(1, 10, requires_grad=True)
b2 = cr.zeros(1, requires_grad=True)

hidden = (x @ w1.T + b1).sigmoid()
prediction = hidden @ w2.T + b2
loss = ((prediction - target) ** 2).mean()
loss.backward()
print(f"loss {loss.item():.4f}")
for name, p in [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)]:
    print(f"d loss / d {name}: shape {p.grad.shape}, norm {float((p.grad.data ** 2).sum()) ** 0.5:.4f}")
