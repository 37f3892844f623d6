"""chainrule.nn.functional: layers, activations and losses as plain functions (``F.relu(x)``).

Each function checks its arguments and calls one op from ``chainrule.ops``, where the forward and
its hand-written derivative live side by side. The modules in ``chainrule.nn`` call these.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..checks import argument_error, check_in_range, check_real
from ..ops.loss import check_reduction
from ..random import default_generator
from ..tensor import Tensor, _to_array

__all__ = [
    "linear", "dropout",
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "gelu", "elu", "selu", "softplus", "silu",
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]


def _input(op: str, x) -> Tensor:
    """The input as a Tensor (arrays and lists become constant Tensors)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number)):
        return Tensor(x)
    raise TypeError(f"{op}: expected a Tensor or an array as input. Got {type(x).__name__} instead.")


def _real_input(op: str, x) -> Tensor:
    """_input for functions with real-valued results (sigmoid, softmax, gelu, the losses of
    scores, ...): an integer input is taken as float32. PyTorch gives float32 for sigmoid and
    tanh of integers and refuses integers for the others; chainrule computes them in float32."""
    return _input(op, x)._floating()


def _float_target(op: str, target, input: Tensor):
    """A Tensor target stays a Tensor (its gradient is computed if it requires grad); an array or
    list becomes a constant array of the input's dtype."""
    if isinstance(target, Tensor):
        return target
    if isinstance(target, (np.ndarray, list, tuple, numbers.Number)):
        return _to_array(target, dtype=input.dtype, copy=False)
    raise TypeError(f"{op}: expected a Tensor or an array as target. Got {type(target).__name__} instead.")


def _class_target(op: str, target) -> np.ndarray:
    """Integer class indices as an array (class targets never get a gradient)."""
    if isinstance(target, Tensor):
        return target.data
    if isinstance(target, (np.ndarray, list, tuple)):
        return _to_array(target, copy=False)
    raise TypeError(
        f"{op}: expected integer class indices (a Tensor or an array) as target. Got "
        f"{type(target).__name__} instead."
    )


# ----- layers ------------------------------------------------------------------------------


def linear(input, weight, bias=None) -> Tensor:
    """y = x Wᵀ + b with W of shape (out_features, in_features) and b of shape (out_features,)
    (the fused op ``ops.Linear``)."""
    return ops.Linear.apply(_input("linear", input), weight, bias)


def dropout(input, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: during training, zero each element with probability p and scale the rest
    by 1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling.

    forward:  y = x * m / (1 - p),   m_i ~ Bernoulli(1 - p)   (drawn from the seeded generator)
    backward: dL/dx = dL/dy * m / (1 - p)                      (through the multiplication op)
    With ``training=False`` or p = 0 it returns the input itself; p = 1 gives zeros.
    """
    p = check_in_range("dropout", "p", p, 0, 1, high_closed=True)
    x = _input("dropout", input)
    if not training or p == 0.0:
        return x
    keep = default_generator().random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * (keep * np.asarray(scale, dtype=x.dtype)).astype(x.dtype, copy=False)


# ----- activations -------------------------------------------------------------------------


def relu(input) -> Tensor:
    """max(x, 0)."""
    return ops.ReLU.apply(_input("relu", input))


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    slope = check_real("leaky_relu", "negative_slope", negative_slope)
    return ops.LeakyReLU.apply(_real_input("leaky_relu", input), slope)


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x))."""
    return ops.Sigmoid.apply(_real_input("sigmoid", input))


def tanh(input) -> Tensor:
    """tanh(x)."""
    return ops.Tanh.apply(_real_input("tanh", input))


def _check_dim(op: str, x: Tensor, dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise argument_error(op, "dim", "an int", dim, TypeError)
    ndim = max(x.ndim, 1)
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{op}: dim {dim} is out of range for a tensor of shape {x.shape} (expected "
            f"{-ndim} to {ndim - 1})."
        )
    return int(dim)


def softmax(input, dim: int) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""
    x = _real_input("softmax", input)
    return ops.Softmax.apply(x, _check_dim("softmax", x, dim))


def log_softmax(input, dim: int) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    x = _real_input("log_softmax", input)
    return ops.LogSoftmax.apply(x, _check_dim("log_softmax", x, dim))


def gelu(input, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: the standard normal CDF); approximate='tanh' uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"The 'approximate' parameter of gelu must be 'none' or 'tanh'. Got {approximate!r} "
            "instead."
        )
    return ops.GELU.apply(_real_input("gelu", input), approximate)


def elu(input, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return ops.ELU.apply(_real_input("elu", input), check_real("elu", "alpha", alpha))


def selu(input) -> Tensor:
    """scale * elu(x, alpha) with the fixed constants of Klambauer et al. (2017)."""
    return ops.SELU.apply(_real_input("selu", input))


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    beta = check_real("softplus", "beta", beta)
    threshold = check_real("softplus", "threshold", threshold)
    if beta == 0:
        raise argument_error("softplus", "beta", "non-zero", beta)
    return ops.Softplus.apply(_real_input("softplus", input), beta, threshold)


def silu(input) -> Tensor:
    """x * sigmoid(x)."""
    return ops.SiLU.apply(_real_input("silu", input))


# ----- losses --------------------------------------------------------------------------------
# ``reduction`` is keyword-only: PyTorch's positional slots after the target are deprecated
# arguments (size_average, reduce), so a positional value would mean something else there.


def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """(x - t)^2, reduced by 'mean', 'sum' or 'none'. Input and target must have the same shape."""
    check_reduction("mse_loss", reduction)
    x = _input("mse_loss", input)
    return ops.MSELoss.apply(x, _float_target("mse_loss", target, x), reduction)


def l1_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """|x - t|, reduced by 'mean', 'sum' or 'none'. Input and target must have the same shape."""
    check_reduction("l1_loss", reduction)
    x = _input("l1_loss", input)
    return ops.L1Loss.apply(x, _float_target("l1_loss", target, x), reduction)


def huber_loss(input, target, *, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), with d = x - t."""
    check_reduction("huber_loss", reduction)
    delta = check_real("huber_loss", "delta", delta)
    if delta <= 0:
        raise argument_error("huber_loss", "delta", "positive", delta)
    x = _input("huber_loss", input)
    return ops.HuberLoss.apply(x, _float_target("huber_loss", target, x), reduction, delta)


def _constant_weights(op: str, name: str, value, input: Tensor | None = None,
                      number_ok: bool = True) -> np.ndarray:
    """A loss's weights (weight, pos_weight) as an array, of the input's dtype when there is one.
    They are constants: no gradient flows to them, so one that requires grad is refused rather
    than silently left without."""
    kinds = (Tensor, np.ndarray, list, tuple) + ((numbers.Number,) if number_ok else ())
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a Tensor or an array of numbers. Got "
                        f"{type(value).__name__} instead.")
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ValueError(f"{op}: {name} requires grad, but no gradient flows to a loss's "
                             f"{name}; pass {name}.detach().")
        value = value.data
    try:
        array = _to_array(value, copy=False)
    except (TypeError, ValueError):
        array = np.asarray(value, dtype=object)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {name} must hold numbers. Got dtype {array.dtype} instead.")
    return array if input is None else array.astype(input.dtype, copy=False)


def _class_weight(op: str, weight, input: Tensor):
    """Class weights as a 1-D array of the input's dtype with one entry per class, or None."""
    if weight is None:
        return None
    weight = _constant_weights(op, "weight", weight, input, number_ok=False)
    if input.ndim == 2 and (weight.ndim != 1 or weight.shape[0] != input.shape[1]):
        raise ValueError(f"{op}: weight must hold one weight per class: shape ({input.shape[1]},) "
                         f"for an input of shape {input.shape}. Got shape {weight.shape} instead.")
    return weight  # (an input that is not (N, C) is refused by the op, naming both shapes)


def _ignore_index(op: str, ignore_index) -> int:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise argument_error(op, "ignore_index", "an int", ignore_index, TypeError)
    return int(ignore_index)


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) against integer classes (N,): the fused, stable
    logsumexp(x_i) - x_i[t_i], with PyTorch's options: ``weight`` (one per class; 'mean' then
    divides by the summed weights of the targets), ``ignore_index`` (targets with this value add
    nothing and are not counted) and ``label_smoothing`` (eps in [0, 1]: the target becomes
    (1 - eps) onehot + eps / C)."""
    op = "cross_entropy"
    check_reduction(op, reduction)
    if label_smoothing != 0.0:  # (the check costs more than the rest of a small loss's call)
        label_smoothing = check_in_range(op, "label_smoothing", label_smoothing, 0.0, 1.0,
                                         high_closed=True)
    x = _real_input(op, input)
    return ops.CrossEntropyLoss.apply(x, _class_target(op, target), reduction,
                                      _class_weight(op, weight, x), _ignore_index(op, ignore_index),
                                      label_smoothing)


def nll_loss(input, target, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w[t_i] x_i[t_i] for log-probabilities (N, C) (the output of log_softmax) and classes (N,);
    ``weight`` and ``ignore_index`` as in cross_entropy."""
    op = "nll_loss"
    check_reduction(op, reduction)
    x = _real_input(op, input)
    return ops.NLLLoss.apply(x, _class_target(op, target), reduction, _class_weight(op, weight, x),
                             _ignore_index(op, ignore_index))


def binary_cross_entropy(input, target, *, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1] (logs clamped at -100)."""
    check_reduction("binary_cross_entropy", reduction)
    x = _input("binary_cross_entropy", input)
    target = _float_target("binary_cross_entropy", target, x)
    return ops.BCELoss.apply(x, target, reduction)


def binary_cross_entropy_with_logits(input, target, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of raw scores with the sigmoid fused in, stable at +-100.
    ``pos_weight`` (broadcast over the input, usually one per class) scales the positive term:
    above 1 it counts missed positives more (for rare positives, n_negative / n_positive)."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    x = _real_input(op, input)
    if pos_weight is not None:
        pos_weight = _constant_weights(op, "pos_weight", pos_weight, x)
        try:
            fits = np.broadcast_shapes(pos_weight.shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{op}: pos_weight of shape {pos_weight.shape} does not broadcast "
                             f"to the input's shape {x.shape}.")
    return ops.BCEWithLogitsLoss.apply(x, _float_target(op, target, x), reduction, pos_weight)
