"""RAdam: Adam whose adaptive step is switched on only once the variance estimate is reliable."""

from __future__ import annotations

import math

import numpy as np

from .adam import check_betas
from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), as
    PyTorch computes it.

    Each parameter p keeps a step count t, m (``exp_avg``) and v (``exp_avg_sq``), both starting
    at 0. With rho_inf = 2 / (1 - beta2) - 1 (the length of the simple moving average that v
    approximates), at every step, for each p with gradient g (skipped when p.grad is None):

        g = -g                                      if maximize
        g = g + weight_decay * p                    if weight_decay != 0, coupled (L2)
        p = p * (1 - lr * weight_decay)             if weight_decay != 0, decoupled (as AdamW)
        t = t + 1
        m = beta1 * m + (1 - beta1) * g             (computed as m + (1 - beta1) * (g - m))
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1^t)
        rho_t = rho_inf - 2 * t * beta2^t / (1 - beta2^t)
        if rho_t > 5:                               (enough steps for a usable variance)
            l = sqrt(1 - beta2^t) / (sqrt(v) + eps)                     (Adam's 1 / sqrt(v_hat))
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * l * r
        else:
            p = p - lr * m_hat                      (SGD with momentum, no adaptive scaling)

    The rectification r < 1 shrinks the adaptive step while v rests on few gradients, which is
    the job a learning-rate warm-up does for Adam. With beta2 = 0.999 the first five steps are
    plain momentum steps (rho_t <= 5 until t = 6). As in PyTorch, eps is added to sqrt(v) before
    the bias correction (the paper has no eps).

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 1e-3).
        betas: (beta1, beta2), each in [0, 1): decay rates of m and v (default (0.9, 0.999)).
        eps: >= 0, added to the denominator (default 1e-8).
        weight_decay: >= 0 (default 0).
        decoupled_weight_decay: shrink p directly, as AdamW does (default False).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        refuse_unsupported("RAdam", foreach=foreach, capturable=capturable,
                           differentiable=differentiable, has_foreach=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["betas"] = check_betas(name, options["betas"])
        options["eps"] = check_in_range(name, "eps", options["eps"])
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        for flag in ("decoupled_weight_decay", "maximize"):
            options[flag] = check_bool(name, flag, options[flag])

    _state_arrays = ("exp_avg", "exp_avg_sq")  # (with "step": Optimizer._init_state)

    def _update(self, group, params, states):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        rho_inf = 2 / (1 - beta2) - 1
        for _p, param, grad, state in self._steps(group, params, states, group["decoupled_weight_decay"]):
            t = state["step"]
            m, v = at_least_1d(state["exp_avg"]), at_least_1d(state["exp_avg_sq"])
            m += (1 - beta1) * (grad - m)
            v *= beta2
            v += (1 - beta2) * grad * grad
            bias_correction2 = 1 - beta2**t
            m_hat = m / (1 - beta1**t)
            rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
            if rho_t > 5.0:
                adaptive = math.sqrt(bias_correction2) / (np.sqrt(v) + eps)  # l
                rectification = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))  # r
                param -= m_hat * lr * adaptive * rectification
            else:
                param -= m_hat * lr
