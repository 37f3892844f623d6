"""Adamax: Adam with the running root-mean-square replaced by a decaying maximum of |g|."""

from __future__ import annotations

import numpy as np

from .adam import check_betas
from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", section 7.1), as
    PyTorch computes it.

    Each parameter p keeps a step count t, m (``exp_avg``) and u (``exp_inf``, the infinity norm),
    both starting at 0. At every step, for each p with gradient g (skipped when p.grad is None):

        g = -g                                      if maximize
        g = g + weight_decay * p                    if weight_decay != 0
        t = t + 1
        m = beta1 * m + (1 - beta1) * g             (computed as m + (1 - beta1) * (g - m))
        u = max(beta2 * u, |g| + eps)               (element-wise)
        p = p - lr / (1 - beta1^t) * m / u

    Adam divides by the L2 norm of past gradients, sqrt(running mean of g^2); Adamax takes the
    limit p -> inf of the Lp norm, a maximum that needs no bias correction. The paper writes
    u = max(beta2 * u, |g|) and has no eps; PyTorch (followed here) adds eps inside the maximum,
    so u is never 0. Keras adds it to u in the denominator instead.

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 2e-3).
        betas: (beta1, beta2), each in [0, 1): decay rates of m and u (default (0.9, 0.999)).
        eps: >= 0, the floor of u (default 1e-8).
        weight_decay: L2 penalty, >= 0 (default 0).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        refuse_unsupported("Adamax", foreach=foreach, capturable=capturable,
                           differentiable=differentiable, has_foreach=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["betas"] = check_betas(name, options["betas"])
        options["eps"] = check_in_range(name, "eps", options["eps"])
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        options["maximize"] = check_bool(name, "maximize", options["maximize"])

    _state_arrays = ("exp_avg", "exp_inf")  # (with "step": Optimizer._init_state)

    def _update(self, group, params, states):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for _p, param, grad, state in self._steps(group, params, states):
            m, u = at_least_1d(state["exp_avg"]), at_least_1d(state["exp_inf"])
            m += (1 - beta1) * (grad - m)
            u *= beta2
            np.maximum(u, np.abs(grad) + eps, out=u)
            step_size = lr / (1 - beta1 ** state["step"])
            param -= step_size * m / u
