"""chainrule as a user writes LeNet: nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear in an
nn.Sequential, nn.CrossEntropyLoss, optim.SGD (impl_torch_conv.py with ``torch`` replaced).

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


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    cr.manual_seed(seed)
    model = build(cr)
    with cr.no_grad():
        for layer, (weight, bias) in zip([m for m in model if hasattr(m, "weight")], problem.weights):
            layer.weight.copy_(weight)
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
