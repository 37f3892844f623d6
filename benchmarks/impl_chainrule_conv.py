"""chainrule as a user writes LeNet (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear in an
nn.Sequential) and a ResNet block (a Module with a skip connection and BatchNorm2d),
nn.CrossEntropyLoss, optim.SGD (impl_torch_conv.py with ``torch`` replaced). Quality is measured
in training mode for both workloads (batch statistics), as the floor computes it.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import chainrule as cr
from workloads import quality_from_outputs
from workloads_conv import make_problem

NAME = "chainrule"


def build(lib):
    """LeNet in chainrule or torch (the same code, ``lib`` the module)."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def build_resnet(lib):
    """A stem and one residual block (PyTorch's BasicBlock without downsampling), global average
    pooling and a Linear classifier, in chainrule or torch (the same code)."""
    nn = lib.nn

    class ResNetBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                      nn.ReLU())
            self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(16)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            h = self.stem(x)
            out = self.bn2(self.conv2(self.bn1(self.conv1(h)).relu()))
            return self.fc(self.pool((out + h).relu()).flatten(1))

    return ResNetBlock()


def layers_with_weights(model):
    """The convolutions and Linear layers, in the order of the workload's weights."""
    return [m for m in model.modules() if type(m).__name__ in ("Conv2d", "Linear")]


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    cr.manual_seed(seed)
    model = build(cr) if workload == "lenet" else build_resnet(cr)
    with cr.no_grad():
        for layer, (weight, bias) in zip(layers_with_weights(model), problem.weights):
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
    return {
        "problem": problem,
        "batches": [(cr.tensor(x), cr.tensor(y)) for x, y in problem.batches()],
        "model": model,
        "loss_fn": cr.nn.CrossEntropyLoss(),
        "optimizer": cr.optim.SGD(model.parameters(), lr=w.lr, momentum=w.momentum),
        "i": 0,
    }


def step(state):
    x, t = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    optimizer = state["optimizer"]
    optimizer.zero_grad()
    loss = state["loss_fn"](state["model"](x), t)
    loss.backward()
    optimizer.step()


def quality(state):
    problem = state["problem"]
    with cr.no_grad():
        out = state["model"](cr.tensor(problem.x_val))
    return quality_from_outputs(problem, out.numpy())
