"""RMSprop: divide the gradient by a running root-mean-square of its recent values."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012; centered form from Graves, 2013), as PyTorch
    computes it.

    Each parameter p keeps s (``square_avg``), and also a (``grad_avg``) when centered and b
    (``momentum_buffer``) when momentum > 0, all starting at 0. At every step, for each p with
    gradient g (skipped when p.grad is None):

        g = -g                                  if maximize
        g = g + weight_decay * p                if weight_decay != 0
        s = alpha * s + (1 - alpha) * g * g     (running mean of g^2)
        if centered:
            a = alpha * a + (1 - alpha) * g     (running mean of g, as a + (1 - alpha) * (g - a))
            avg = sqrt(s - a * a) + eps         (an estimate of the standard deviation of g)
        else:
            avg = sqrt(s) + eps
        if momentum > 0:
            b = momentum * b + g / avg
            p = p - lr * b
        else:
            p = p - lr * g / avg

    There is no bias correction (unlike Adam), so the first steps are large: s starts at 0, so
    after one step avg is about sqrt(1 - alpha) * |g| and the step is about 10 * lr for
    alpha = 0.99. Keras and TensorFlow call alpha rho, add eps inside the square root,
    sqrt(s + eps), and keep lr inside their momentum buffer.

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 1e-2).
        alpha: smoothing constant in [0, 1) (default 0.99).
        eps: >= 0, added to the denominator (default 1e-8).
        weight_decay: L2 penalty, >= 0 (default 0).
        momentum: momentum factor in [0, 1) (default 0).
        centered: normalise by the estimated variance of g instead of its second moment
            (default False).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable: PyTorch's implementation switches, accepted at None/False
            only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        refuse_unsupported("RMSprop", foreach=foreach, capturable=capturable,
                           differentiable=differentiable, has_foreach=True)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["alpha"] = check_in_range(name, "alpha", options["alpha"], 0, 1)
        options["eps"] = check_in_range(name, "eps", options["eps"])
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        options["momentum"] = check_in_range(name, "momentum", options["momentum"], 0, 1)
        options["centered"] = check_bool(name, "centered", options["centered"])
        options["maximize"] = check_bool(name, "maximize", options["maximize"])

    _state_arrays = ("square_avg",)  # (with "step": Optimizer._init_state)

    def _update(self, group, params, states):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum = group["momentum"]
        for p, param, grad, state in self._steps(group, params, states):
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(param).reshape(p._data.shape)
            if group["centered"] and "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(param).reshape(p._data.shape)
            square_avg = at_least_1d(state["square_avg"])
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if group["centered"]:
                grad_avg = at_least_1d(state["grad_avg"])
                grad_avg += (1 - alpha) * (grad - grad_avg)
                avg = square_avg - grad_avg * grad_avg
                np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(square_avg)
            avg += eps
            np.divide(grad, avg, out=avg)  # avg now holds g / avg
            if momentum > 0:
                buf = at_least_1d(state["momentum_buffer"])
                buf *= momentum
                buf += avg
                param -= lr * buf
            else:
                avg *= lr
                param -= avg
