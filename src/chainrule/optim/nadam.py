"""NAdam: Adam with Nesterov momentum, looking one step ahead along the running average."""

from __future__ import annotations

import numpy as np

from .adam import check_betas
from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat, 2016, "Incorporating Nesterov Momentum into Adam"), as PyTorch computes it.

    Each parameter p keeps a step count t, m (``exp_avg``) and v (``exp_avg_sq``) starting at 0,
    and the product of all momentum coefficients so far, P (``mu_product``), starting at 1. At
    every step, for each p with gradient g (skipped when p.grad is None):

        g = -g                                      if maximize
        g = g + weight_decay * p                    if weight_decay != 0, coupled (L2)
        p = p * (1 - lr * weight_decay)             if weight_decay != 0, decoupled (as AdamW)
        t = t + 1
        mu      = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))      (this step's momentum)
        mu_next = beta1 * (1 - 0.5 * 0.96^((t + 1) * momentum_decay))
        P = P * mu
        m = beta1 * m + (1 - beta1) * g             (computed as m + (1 - beta1) * (g - m))
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu) / (1 - P) * g / denom                   (the gradient's part)
        p = p - lr * mu_next / (1 - P * mu_next) * m / denom          (the look-ahead momentum)

    Nesterov momentum evaluates the step at the point the momentum is about to carry p to; NAdam
    gets the same effect by using next step's momentum coefficient mu_next on m, and this step's
    (1 - mu) on the fresh gradient. The schedule of mu (the "momentum decay") warms the momentum
    up from beta1 / 2 towards beta1: with momentum_decay = 0.004 it takes thousands of steps.
    Keras's Nadam uses the same schedule with momentum_decay fixed at 0.004.
    P is a Python float here; PyTorch keeps it in a tensor of its default dtype, so under float32
    its P is rounded at every step and its trajectories differ from these by about 1e-7 relative
    (with torch.set_default_dtype(torch.float64) the two agree).

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 2e-3).
        betas: (beta1, beta2), each in [0, 1): decay rates of m and v (default (0.9, 0.999)).
        eps: >= 0, added to the denominator (default 1e-8).
        weight_decay: >= 0 (default 0).
        momentum_decay: >= 0, psi in the momentum schedule (default 4e-3).
        decoupled_weight_decay: shrink p directly, as AdamW does (NAdamW) (default False).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        refuse_unsupported("NAdam", foreach=foreach, capturable=capturable,
                           differentiable=differentiable, has_foreach=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["betas"] = check_betas(name, options["betas"])
        for option in ("eps", "weight_decay", "momentum_decay"):
            options[option] = check_in_range(name, option, options[option])
        for flag in ("decoupled_weight_decay", "maximize"):
            options[flag] = check_bool(name, flag, options[flag])

    def _init_state(self, group, p, state):
        state["step"] = 0
        state["mu_product"] = 1.0
        state["exp_avg"] = np.zeros_like(p._data)
        state["exp_avg_sq"] = np.zeros_like(p._data)

    def _update(self, group, params, states):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        momentum_decay = group["momentum_decay"]
        for _p, param, grad, state in self._steps(group, params, states, group["decoupled_weight_decay"]):
            t = state["step"]
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
            state["mu_product"] *= mu
            mu_product = state["mu_product"]
            m, v = at_least_1d(state["exp_avg"]), at_least_1d(state["exp_avg_sq"])
            m += (1 - beta1) * (grad - m)
            v *= beta2
            v += (1 - beta2) * grad * grad
            denom = np.sqrt(v / (1 - beta2**t))
            denom += eps
            param -= lr * (1.0 - mu) / (1.0 - mu_product) * grad / denom
            param -= lr * mu_next / (1.0 - mu_product * mu_next) * m / denom
