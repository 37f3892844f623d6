"""chainrule's engine used directly: Parameters, the fused ops, backward and a hand-written SGD.

No Module and no optimizer object: only ``chainrule.ops.Linear.apply``, the activation op, the
fused loss op, ``loss.backward()`` and an update loop on the arrays. Compared with impl_chainrule
(what a user writes, with nn.Sequential and optim.SGD) it shows how much of a step is the engine
itself (ops, graph, backward) and how much the Module and optimizer layers add.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import numpy as np

import chainrule as cr
from chainrule import ops
from chainrule.nn import Parameter
from workloads import make_problem, quality_from_outputs

NAME = "chainrule (ops)"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    params = []
    for w, b in problem.weights:
        params += [Parameter(w.copy()), Parameter(b.copy())]
    momentum = problem.workload.momentum
    return {
        "problem": problem,
        # Batches become Tensors once, here, as a data loader would hand them over.
        "batches": [(cr.tensor(x), cr.tensor(y)) for x, y in problem.batches()],
        "params": params,
        "activation": ops.Sigmoid if problem.workload.activation == "sigmoid" else ops.ReLU,
        "loss": ops.MSELoss if problem.workload.loss == "mse" else ops.CrossEntropyLoss,
        "buffers": [np.zeros_like(p.numpy()) for p in params] if momentum else None,
        "i": 0,
    }


def forward(state, x):
    params, activation = state["params"], state["activation"]
    out = x
    for j in range(0, len(params), 2):
        out = ops.Linear.apply(out, params[j], params[j + 1])
        if j + 2 < len(params):
            out = activation.apply(out)
    return out


def step(state):
    """Forward, loss, backward, then p -= lr * grad (with momentum: buf = mu buf + grad first)."""
    x, t = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    workload = state["problem"].workload
    for p in state["params"]:
        p.grad = None
    loss = state["loss"].apply(forward(state, x), t, "mean")
    loss.backward()
    lr, momentum, buffers = workload.lr, workload.momentum, state["buffers"]
    for j, p in enumerate(state["params"]):
        grad = p.grad.numpy()
        if buffers is not None:
            buffers[j] *= momentum
            buffers[j] += grad
            grad = buffers[j]
        p.data -= lr * grad


def quality(state):
    problem = state["problem"]
    with cr.no_grad():
        out = forward(state, cr.tensor(problem.x_val))
    return quality_from_outputs(problem, out.numpy())
