"""PyTorch eager, the same two sequence models as impl_chainrule_seq.py (the same module code with
``torch`` in place of ``chainrule``), the same losses, clipping and optimizers.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import torch

from impl_chainrule_seq import build
from workloads_seq import cross_entropy_of_logits, make_problem

NAME = "pytorch"


def setup(workload, batch, seed=0, n_train=None, tiny=False):
    problem = make_problem(workload, batch, seed, n_train, tiny)
    torch.manual_seed(seed)
    model, optimizer = build(torch, workload, problem)
    return {"problem": problem, "model": model, "optimizer": optimizer,
            "params": list(model.parameters()),
            "batches": [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in problem.batches],
            "i": 0}


def step(state):
    ids, targets = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    optimizer, clip = state["optimizer"], state["problem"].workload.grad_clip
    optimizer.zero_grad()
    logits = state["model"](ids)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             targets.reshape(-1))
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(state["params"], clip)
    optimizer.step()
    state["loss"] = loss.item()


def quality(state):
    problem, model = state["problem"], state["model"]
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(problem.val[0])).numpy()
    model.train()
    return {"val_loss": cross_entropy_of_logits(logits, problem.val[1])}
