"""nn.Module subclassing: ModuleList, ModuleDict, register_buffer, named_parameters, state_dict
keys, children, apply with nn.init, parameter counting and requires_grad_ to freeze a part."""
import numpy as np
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, sizes, heads):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.heads = nn.ModuleDict({name: nn.Linear(sizes[-1], n) for name, n in heads.items()})
        self.act = nn.Tanh()
        self.register_buffer("scale", torch.tensor([2.0]))
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x, head):
        self.calls += 1
        for layer in self.layers:
            x = self.act(layer(x))
        return self.heads[head](x) * self.scale


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.bias, 0.01)


net = Net([4, 8, 6], {"a": 3, "b": 2})
for name, p in net.named_parameters():
    print(name, tuple(p.shape), p.requires_grad)
print("state_dict keys", list(net.state_dict().keys()))
print("children", [type(c).__name__ for c in net.children()])
print("modules", len(list(net.modules())))
print("parameters", sum(p.numel() for p in net.parameters()))

rng = np.random.default_rng(3)
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.5, size=tuple(p.shape)), dtype=torch.float32))
net.apply(init_weights)
print("biases after apply", sorted({round(m.bias[0].item(), 4) for m in net.modules()
                                    if isinstance(m, nn.Linear)}))

x = torch.tensor(rng.normal(size=(5, 4)), dtype=torch.float32)
out_a = net(x, "a")
out_b = net(x, "b")
print("out a", tuple(out_a.shape), [round(v, 5) for v in out_a[0].tolist()])
print("out b", tuple(out_b.shape), [round(v, 5) for v in out_b[0].tolist()])
print("calls buffer", net.calls.item())

# Freeze the trunk, train only head "a"
for p in net.layers.parameters():
    p.requires_grad_(False)
trainable = [p for p in net.parameters() if p.requires_grad]
print("trainable tensors", len(trainable))
optimizer = torch.optim.SGD(trainable, lr=0.1)
target = torch.tensor(rng.normal(size=(5, 3)), dtype=torch.float32)
before = net.layers[0].weight.clone()
for step in range(5):
    loss = ((net(x, "a") - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step} loss {loss.item():.5f}")
print("trunk unchanged:", bool((net.layers[0].weight == before).all().item()))
print("trunk grad", net.layers[0].weight.grad)
net.eval()
print("training flags", net.training, net.layers[0].training)
