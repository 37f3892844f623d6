"""Adam and AdamW: per-parameter step sizes from running averages of the gradient and its square."""

from __future__ import annotations

import numpy as np

from ..kernels import Elementwise
from .optimizer import Optimizer, at_least_1d, check_bool, check_in_range, refuse_unsupported

__all__ = ["Adam", "AdamW"]


def check_betas(owner, betas) -> tuple:
    """``betas`` as a tuple of two floats after checking each lies in [0, 1) (Adam's family)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(
            f"The 'betas' parameter of {owner} must be a pair of floats (beta1, beta2). "
            f"Got {betas!r} instead."
        )
    return (check_in_range(owner, "betas[0]", betas[0], 0, 1),
            check_in_range(owner, "betas[1]", betas[1], 0, 1))


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization"), as PyTorch computes it.

    Each parameter p keeps m (``exp_avg``), v (``exp_avg_sq``) and a step count t. At every step,
    for each p with gradient g (skipped when p.grad is None):

        g = -g                                      if maximize
        g = g + weight_decay * p                    if weight_decay != 0 (L2, coupled: Adam)
        p = p * (1 - lr * weight_decay)             if weight_decay != 0 (decoupled: AdamW)
        t = t + 1
        m = beta1 * m + (1 - beta1) * g             (computed as m + (1 - beta1) * (g - m))
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v); v = v_max            if amsgrad (largest v so far)
        step_size = lr / (1 - beta1^t)              (bias correction of m, which starts at 0)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps   (bias correction of v)
        p = p - step_size * m / denom

    This is the paper's p - lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1^t) and
    v_hat = v / (1 - beta2^t), arranged as PyTorch arranges it (eps is added after the division
    by sqrt(1 - beta2^t)), so the two agree to the last few bits. The paper adds eps to
    sqrt(v_hat) too; some libraries (Keras, TensorFlow's "epsilon hat") add it to sqrt(v) before
    the bias correction, which changes the early steps when eps is large.

    With coupled weight decay (Adam's weight_decay) the penalty's gradient is divided by sqrt(v)
    like any other, so weights with large gradients are barely decayed; AdamW (Loshchilov &
    Hutter, 2019) shrinks p directly instead.

    Args:
        params: Parameters, or dicts defining parameter groups.
        lr: learning rate, >= 0 (default 1e-3).
        betas: (beta1, beta2), each in [0, 1): decay rates of m and v (default (0.9, 0.999)).
        eps: >= 0, added to the denominator so it is never 0 (default 1e-8).
        weight_decay: >= 0 (default 0).
        amsgrad: divide by the largest v seen so far (Reddi et al., 2018) (default False).
        maximize: ascend the objective instead of descending it (default False).
        decoupled_weight_decay: shrink p directly, as AdamW does (default False).
        foreach: update each group's parameters as one flat vector (True), loop over them
            (False), or the first on a GPU and the second on the CPU (None, the default), as
            PyTorch chooses; the results are the same (chainrule.optim.flat).
        capturable, differentiable, fused: PyTorch's implementation switches, accepted at
            None/False only (see ``refuse_unsupported``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        refuse_unsupported(type(self).__name__, foreach=foreach, capturable=capturable,
                           differentiable=differentiable, fused=fused, has_foreach=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, foreach)

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["betas"] = check_betas(name, options["betas"])
        options["eps"] = check_in_range(name, "eps", options["eps"])
        options["weight_decay"] = check_in_range(name, "weight_decay", options["weight_decay"])
        for flag in ("amsgrad", "maximize", "decoupled_weight_decay"):
            options[flag] = check_bool(name, flag, options[flag])

    _state_arrays = ("exp_avg", "exp_avg_sq")  # (with "step": Optimizer._init_state)

    # a step (without amsgrad) as one kernel on a GPU (chainrule.kernels); None on the CPU
    fused_update = Elementwise(
        "adam_update", "g", "p, m, v",
        "m += (1 - beta1) * (g - m)\n"
        "v = v * beta2 + (1 - beta2) * g * g\n"
        "p -= m / (sqrt(v) / bias_correction2_sqrt + eps) * step_size",
        "beta1, beta2, bias_correction2_sqrt, eps, step_size")

    def _update(self, group, params, states):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p, param, grad, state in self._steps(group, params, states, group["decoupled_weight_decay"]):
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(param).reshape(p._data.shape)
            m, v = at_least_1d(state["exp_avg"]), at_least_1d(state["exp_avg_sq"])
            step_size = lr / (1 - beta1 ** state["step"])
            bias_correction2_sqrt = (1 - beta2 ** state["step"]) ** 0.5
            if not group["amsgrad"] and Adam.fused_update(
                    grad, beta1, beta2, bias_correction2_sqrt, eps, step_size,
                    out=(param, m, v)) is not None:
                continue
            m += (1 - beta1) * (grad - m)
            v *= beta2
            v += (1 - beta2) * grad * grad
            if group["amsgrad"]:
                max_v = at_least_1d(state["max_exp_avg_sq"])
                v = np.maximum(max_v, v, out=max_v)
            update = np.sqrt(v)  # one array holds denom, then m / denom, then the step
            update /= bias_correction2_sqrt
            update += eps
            np.divide(m, update, out=update)
            update *= step_size
            param -= update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019, "Decoupled Weight Decay
    Regularization"), as in PyTorch.

    The same algorithm as ``Adam`` (see its docstring) except for weight decay, which shrinks the
    parameter directly before the Adam update instead of being added to the gradient:

        p = p * (1 - lr * weight_decay)
        ... then Adam's update with g left as it is.

    So the decay does not pass through the 1/sqrt(v) scaling, and every weight decays at the same
    rate. Note the decay is multiplied by lr (as in PyTorch and Keras; the paper's schedule
    multiplier eta_t plays that role). The default weight_decay is 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def _check_options(self, options):
        options["decoupled_weight_decay"] = True  # AdamW always decouples, even from old state
        super()._check_options(options)
