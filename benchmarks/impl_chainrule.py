"""chainrule as a user writes it: nn.Sequential of nn.Linear layers, nn.MSELoss /
nn.CrossEntropyLoss, optim.SGD; the same code as impl_torch with ``torch`` replaced by ``chainrule``.

The weights are copied in from the shared initial weights (PyTorch's layout, so no transpose).
NumPy's BLAS is pinned to the thread count by the driver (environment and threadpoolctl).
impl_chainrule_ops.py runs the same steps on the bare engine, without Module and optimizer.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import chainrule as cr
from workloads import make_problem, quality_from_outputs

NAME = "chainrule"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    cr.manual_seed(seed)
    layers = []
    for j, (weight, bias) in enumerate(problem.weights):
        linear = cr.nn.Linear(weight.shape[1], weight.shape[0])
        with cr.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        layers.append(linear)
        if j + 1 < len(problem.weights):
            layers.append(cr.nn.Sigmoid() if w.activation == "sigmoid" else cr.nn.ReLU())
    model = cr.nn.Sequential(*layers)
    return {
        "problem": problem,
        # Batches become Tensors once, here, as a data loader would hand them over.
        "batches": [(cr.tensor(x), cr.tensor(y)) for x, y in problem.batches()],
        "model": model,
        "loss_fn": cr.nn.MSELoss() if w.loss == "mse" else cr.nn.CrossEntropyLoss(),
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
