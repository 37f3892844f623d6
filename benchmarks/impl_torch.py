"""PyTorch eager: nn.Sequential of nn.Linear layers, nn.MSELoss / nn.CrossEntropyLoss, optim.SGD.

The weights are copied in from the shared initial weights (PyTorch's own layout, so no
transpose). The thread count is set by the driver (torch.set_num_threads in the child process).

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import torch

from workloads import make_problem, quality_from_outputs

NAME = "pytorch"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    layers = []
    for j, (weight, bias) in enumerate(problem.weights):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        layers.append(linear)
        if j + 1 < len(problem.weights):
            layers.append(torch.nn.Sigmoid() if w.activation == "sigmoid" else torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    return {
        "problem": problem,
        "batches": [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in problem.batches()],
        "model": model,
        "loss_fn": torch.nn.MSELoss() if w.loss == "mse" else torch.nn.CrossEntropyLoss(),
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
