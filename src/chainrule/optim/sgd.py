"""SGD: stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..kernels import Elementwise
from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's algorithm and conventions).

    At every step, for each parameter p with gradient g (skipped when p.grad is None):

        g = -g                                  if maximize
        g = g + weight_decay * p                if weight_decay != 0   (L2 penalty 0.5*wd*|p|^2)
        if momentum != 0:
            b = g                                           on the first step
            b = momentum * b + (1 - dampening) * g          on later steps
            g = g + momentum * b                if nesterov
            g = b                               otherwise
        p = p - lr * g

    The momentum buffer b is a running sum of gradients: it starts at g and holds no lr.

    How other libraries differ: scikit-learn's MLP and Chainer's MomentumSGD keep a velocity
    v = momentum * v - lr * g (starting at 0) and set p = p + v. With a constant lr and no
    dampening this gives the same trajectory (v = -lr * b), but when a scheduler changes lr,
    PyTorch's update uses the new lr at once while the velocity still carries the old one.
    (scikit-learn's squared loss is also halved, so its gradients are half of MSELoss's.)

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 1e-3).
        momentum: momentum factor in [0, 1) (default 0, plain SGD).
        dampening: in [0, 1]; scales the gradient added to the buffer (default 0).
        weight_decay: L2 penalty, >= 0 (default 0).
        nesterov: Nesterov momentum; needs momentum > 0 and dampening == 0 (default False).
        maximize: ascend the objective instead of descending it (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        differentiable, fused: PyTorch's implementation switches, accepted at None/False only
            (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        refuse_unsupported("SGD", foreach=foreach, differentiable=differentiable, fused=fused,
                           has_foreach=True)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["momentum"] = check_in_range(name, "momentum", options["momentum"], 0, 1)
        options["dampening"] = check_in_range(name, "dampening", options["dampening"], 0, 1,
                                              high_closed=True)
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        options["nesterov"] = check_bool(name, "nesterov", options["nesterov"])
        options["maximize"] = check_bool(name, "maximize", options["maximize"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                f"The 'nesterov' parameter of {name} requires momentum > 0 and dampening == 0. "
                f"Got momentum={options['momentum']} and dampening={options['dampening']} instead."
            )

    # a step as one kernel on a GPU (chainrule.kernels): without momentum, and with it from the
    # second step on (damp = 1 - dampening), Nesterov's aside
    fused_step = Elementwise("sgd_step", "g", "p", "p -= lr * g", "lr")
    fused_momentum_step = Elementwise("sgd_momentum_step", "g", "p, b",
                                      "b = b * momentum + g * damp\np -= lr * b",
                                      "lr, momentum, damp")

    def _update(self, group, params, states):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        # on a GPU one kernel a step (asked for there only: on the CPU even asking costs the seed
        # network's step a share one can measure; a kernel given a host array declines anyway)
        fuse = bool(params) and type(params[0]._data) is not np.ndarray
        for p in params:
            if p.grad is None:
                continue
            param, grad = at_least_1d(p._data), at_least_1d(p.grad._data)
            if maximize:
                grad = -grad
            if weight_decay != 0:
                grad = grad + weight_decay * param
            if momentum != 0:
                state = states[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.copy()
                    state["momentum_buffer"] = buf.reshape(p._data.shape)  # (a view of buf)
                else:
                    buf = at_least_1d(buf)
                    if fuse and not nesterov and SGD.fused_momentum_step(
                            grad, lr, momentum, 1 - dampening, out=(param, buf)) is not None:
                        continue
                    buf *= momentum
                    buf += grad if dampening == 0 else (1 - dampening) * grad
                grad = grad + momentum * buf if nesterov else buf
            if fuse and SGD.fused_step(grad, lr, out=param) is not None:
                continue
            param -= lr * grad
