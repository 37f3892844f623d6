"""PyTorch eager LeNet and ResNet block: the same modules as impl_chainrule_conv.py, CrossEntropyLoss,
SGD.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import torch

from impl_chainrule_conv import build, build_resnet, layers_with_weights
from workloads import quality_from_outputs
from workloads_conv import make_problem

NAME = "pytorch"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    model = build(torch) if workload == "lenet" else build_resnet(torch)
    with torch.no_grad():
        for layer, (weight, bias) in zip(layers_with_weights(model), problem.weights):
            layer.weight.copy_(torch.from_numpy(weight))
            if bias is not None:
                layer.bias.copy_(torch.from_numpy(bias))
    return {
        "problem": problem,
        "batches": [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in problem.batches()],
        "model": model,
        "loss_fn": torch.nn.CrossEntropyLoss(),
        "optimizer": torch.optim.SGD(model.parameters(), lr=w.lr, momentum=w.momentum),
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
    with torch.no_grad():
        out = state["model"](torch.from_numpy(problem.x_val))
    return quality_from_outputs(problem, out.numpy())
