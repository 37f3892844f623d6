"""Adadelta: steps whose size is a running RMS of past steps over a running RMS of gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method"), as PyTorch computes it.

    Each parameter p keeps a step count t, v (``square_avg``, a running mean of g^2) and u
    (``acc_delta``, a running mean of the squared steps), both starting at 0. At every step, for
    each p with gradient g (skipped when p.grad is None):

        g = -g                                          if maximize
        g = g + weight_decay * p                        if weight_decay != 0
        t = t + 1
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g       (the step, before lr)
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    The ratio of the two RMS values gives delta the units of p, which is the paper's point: it
    needs no learning rate, and its algorithm is lr = 1 (PyTorch's default, kept here). Since u
    starts at 0, the first steps are about sqrt(eps) / RMS(g) * g, so eps sets how fast it starts:
    with the default 1e-6 the first step is about 1e-3 * sign(g) / sqrt(1 - rho). Keras uses the
    same formula with other defaults: lr = 1e-3, rho = 0.95, eps = 1e-7.

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: >= 0, scales delta before it is applied (default 1.0).
        rho: in [0, 1], the decay of both running means (default 0.9).
        eps: >= 0, added inside both square roots (default 1e-6).
        weight_decay: L2 penalty, >= 0 (default 0).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        refuse_unsupported("Adadelta", foreach=foreach, capturable=capturable,
                           differentiable=differentiable, has_foreach=True)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["rho"] = check_in_range(name, "rho", options["rho"], 0, 1, high_closed=True)
        options["eps"] = check_in_range(name, "eps", options["eps"])
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        options["maximize"] = check_bool(name, "maximize", options["maximize"])

    _state_arrays = ("square_avg", "acc_delta")  # (with "step": Optimizer._init_state)

    def _update(self, group, params, states):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for _p, param, grad, state in self._steps(group, params, states):
            v, u = at_least_1d(state["square_avg"]), at_least_1d(state["acc_delta"])
            v *= rho
            v += (1 - rho) * grad * grad
            delta = np.sqrt(u + eps) / np.sqrt(v + eps) * grad
            u *= rho
            u += (1 - rho) * delta * delta
            param -= lr * delta
