"""Adagrad: divide the gradient by the root of the sum of all its past squares."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods"), as PyTorch computes it.

    Each parameter p keeps a step count t and the sum s of its squared gradients, starting at
    ``initial_accumulator_value``. At every step, for each p with gradient g (skipped when p.grad
    is None):

        g = -g                                      if maximize
        g = g + weight_decay * p                    if weight_decay != 0
        t = t + 1
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - lr_t * g / (sqrt(s) + eps)

    Coordinates with large past gradients take small steps, rare ones large steps. Since s only
    grows, the steps shrink for good: RMSprop and Adam replace the sum by a running average.
    Keras adds eps inside the square root and starts s at 0.1 by default; TensorFlow's
    initial_accumulator_value is 0.1 too.

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 1e-2).
        lr_decay: >= 0; lr_t = lr / (1 + (t - 1) * lr_decay) (default 0).
        weight_decay: L2 penalty, >= 0 (default 0).
        initial_accumulator_value: >= 0, the starting value of s (default 0).
        eps: >= 0, added to the denominator (default 1e-10).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        differentiable, fused: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        refuse_unsupported("Adagrad", foreach=foreach, differentiable=differentiable, fused=fused,
                           has_foreach=True)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        for option in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            options[option] = check_in_range(name, option, options[option])
        options["maximize"] = check_bool(name, "maximize", options["maximize"])

    def _init_state(self, group, p, state):
        state["step"] = 0
        state["sum"] = np.full_like(p._data, group["initial_accumulator_value"])

    def _update(self, group, params, states):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        for _p, param, grad, state in self._steps(group, params, states):
            lr_t = lr / (1 + (state["step"] - 1) * lr_decay)
            total = at_least_1d(state["sum"])
            total += grad * grad
            update = np.sqrt(total)  # the denominator, then the step
            update += eps
            np.divide(grad, update, out=update)
            update *= lr_t
            param -= update
