"""chainrule.nn.functional: layers, activations and losses as plain functions (``F.relu(x)``).

Each function checks its arguments and calls one op from ``chainrule.ops``, where the forward and
its hand-written derivative live side by side; a few options (cross-entropy against class
probabilities, element weights of the binary losses) are short compositions of those ops. The
modules in ``chainrule.nn`` call these.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import ops
from ..backend import check_same_device
from ..checks import argument_error, check_in_range, check_positive, check_real, refuse_inplace
from ..ops.loss import check_reduction
from ..ops.promotion import result_dtype
from ..random import default_generator
from ..tensor import Tensor, _to_array

__all__ = [
    "linear", "dropout",
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "gelu", "elu", "selu", "softplus", "silu",
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "embedding", "scaled_dot_product_attention",
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


def _input_and_target(op: str, input: Tensor, target):
    """The input and a real-valued target in one dtype, as PyTorch promotes them: an array or a
    list takes the input's dtype; a Tensor of another dtype meets it at their promoted dtype
    (float32 input, int64 target: float32; float32 input, float64 target: float64), each cast by
    the Cast op so a gradient comes back in its own dtype."""
    target = _float_target(op, target, input)
    if not isinstance(target, Tensor) or target.dtype == input.dtype:
        return input, target
    dtype = result_dtype(input, target)
    if dtype.kind not in "fc":  # two integer tensors: the loss is real-valued
        dtype = np.dtype(np.float32)
    return tuple(t if t.dtype == dtype else t.to(dtype) for t in (input, target))


def _class_target(op: str, target, like) -> np.ndarray:
    """Integer class indices as an array (class targets never get a gradient); a Tensor on
    another device than the scores ``like`` is refused, as PyTorch does."""
    if isinstance(target, Tensor):
        check_same_device(op, target, like)
        return target._data
    if isinstance(target, (np.ndarray, list, tuple, np.integer)):  # np.integer: labels[i]
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


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: during training, zero each element with probability p and scale the rest
    by 1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling.

    forward:  y = x * m / (1 - p),   m_i ~ Bernoulli(1 - p)   (drawn from the seeded generator)
    backward: dL/dx = dL/dy * m / (1 - p)                      (through the multiplication op)
    With ``training=False`` or p = 0 it returns the input itself; p = 1 gives zeros.
    ``inplace=True`` is refused (as by nn.Dropout): the result is always a new tensor.
    """
    p = check_in_range("dropout", "p", p, 0, 1, high_closed=True)
    refuse_inplace("dropout", inplace)
    x = _input("dropout", input)
    if not training or p == 0.0:
        return x
    keep = default_generator().random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * (keep * np.asarray(scale, dtype=x.dtype)).astype(x.dtype, copy=False)


# ----- activations -------------------------------------------------------------------------


def relu(input, inplace: bool = False) -> Tensor:
    """max(x, 0). With ``inplace=True`` the result is written into ``input`` (see _activation)."""
    return _activation("relu", _input("relu", input), inplace, ops.ReLU.apply)


def _activation(name, x, inplace, apply, *args):
    """``apply(x, *args)``, or with ``inplace=True`` the same values written into x itself, as
    PyTorch's ``inplace=True``: recorded in the graph (the write is an op whose backward is the
    activation's), refused on a leaf that requires grad, and a later backward that needs x's old
    values refuses to run, as in PyTorch."""
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{name}: inplace must be a bool. Got {inplace!r} instead.")
    if not inplace:
        return apply(x, *args)
    return x._in_place(name + "_", lambda s: apply(s, *args))


def relu_(input) -> Tensor:
    """relu(input, inplace=True)."""
    return relu(input, inplace=True)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    slope = check_real("leaky_relu", "negative_slope", negative_slope)
    return _activation("leaky_relu", _real_input("leaky_relu", input), inplace, ops.LeakyReLU.apply,
                       slope)


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x))."""
    return ops.Sigmoid.apply(_real_input("sigmoid", input))


def tanh(input) -> Tensor:
    """tanh(x)."""
    return ops.Tanh.apply(_real_input("tanh", input))


def _implicit_dim(op: str, x: Tensor) -> int:
    """PyTorch's old default when softmax is called without ``dim``: dim 0 for 0-, 1- and 3-D
    input, else 1; with its deprecation warning, as the choice is rarely what was meant."""
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X "
        "as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if x.ndim in (0, 1, 3) else 1


def softmax(input, dim=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (without dim, PyTorch's implicit choice, warned)."""
    x = _real_input("softmax", input)
    dim = _implicit_dim("softmax", x) if dim is None else dim
    return ops.Softmax.apply(x, dim)  # the op checks dim: one message for x.softmax and F.softmax


def log_softmax(input, dim=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably (without dim, PyTorch's implicit choice, warned)."""
    x = _real_input("log_softmax", input)
    dim = _implicit_dim("log_softmax", x) if dim is None else dim
    return ops.LogSoftmax.apply(x, dim)  # the op checks dim, as for softmax


def gelu(input, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi: the standard normal CDF); approximate='tanh' uses the tanh formula."""
    return ops.GELU.apply(_real_input("gelu", input), _gelu_approximate("gelu", approximate))


def _gelu_approximate(owner, approximate) -> str:
    """gelu's ``approximate`` checked: the one check of F.gelu and nn.GELU (each names itself)."""
    if approximate not in ("none", "tanh"):
        raise argument_error(owner, "approximate", "'none' or 'tanh'", approximate)
    return approximate


def elu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    alpha = check_real("elu", "alpha", alpha)
    return _activation("elu", _real_input("elu", input), inplace, ops.ELU.apply, alpha)


def selu(input, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the fixed constants of Klambauer et al. (2017)."""
    return _activation("selu", _real_input("selu", input), inplace, ops.SELU.apply)


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    beta = check_real("softplus", "beta", beta)
    threshold = check_real("softplus", "threshold", threshold)
    if beta == 0:
        raise argument_error("softplus", "beta", "non-zero", beta)
    return ops.Softplus.apply(_real_input("softplus", input), beta, threshold)


def silu(input, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return _activation("silu", _real_input("silu", input), inplace, ops.SiLU.apply)


# ----- losses --------------------------------------------------------------------------------
# ``reduction`` is keyword-only: PyTorch's positional slots after the target are deprecated
# arguments (size_average, reduce), so a positional value would mean something else there.


def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """(x - t)^2, reduced by 'mean', 'sum' or 'none'. Input and target must have the same shape."""
    check_reduction("mse_loss", reduction)
    x, t = _input_and_target("mse_loss", _input("mse_loss", input), target)
    return ops.MSELoss.apply(x, t, reduction)


def l1_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """|x - t|, reduced by 'mean', 'sum' or 'none'. Input and target must have the same shape."""
    check_reduction("l1_loss", reduction)
    x, t = _input_and_target("l1_loss", _input("l1_loss", input), target)
    return ops.L1Loss.apply(x, t, reduction)


def huber_loss(input, target, *, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), with d = x - t."""
    check_reduction("huber_loss", reduction)
    delta = check_positive("huber_loss", "delta", delta)  # (as nn.HuberLoss checks it)
    x, t = _input_and_target("huber_loss", _input("huber_loss", input), target)
    return ops.HuberLoss.apply(x, t, reduction, delta)


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
        value = value._data
    try:
        array = _to_array(value, copy=False)
    except (TypeError, ValueError):
        array = np.asarray(value, dtype=object)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {name} must hold numbers. Got dtype {array.dtype} instead.")
    return array if input is None else array.astype(input.dtype, copy=False)


def _class_weight(op: str, weight, input: Tensor):
    """Class weights as a 1-D array of the input's dtype with one entry per class (the input's
    dim 1, or dim 0 for one sample's (C,) scores), or None."""
    if weight is None:
        return None
    weight = _constant_weights(op, "weight", weight, input, number_ok=False)
    n_classes = input.shape[_class_dim(input)] if input.ndim else None
    if n_classes is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise ValueError(f"{op}: weight must hold one weight per class: shape ({n_classes},) "
                         f"for an input of shape {input.shape}. Got shape {weight.shape} instead.")
    return weight


def _ignore_index(op: str, ignore_index) -> int:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise argument_error(op, "ignore_index", "an int", ignore_index, TypeError)
    return int(ignore_index)


def _rows_of_scores(op: str, x: Tensor, target: np.ndarray):
    """Class losses take input (C,), (N, C) or (N, C, d1, ..., dk) (a score vector per sample, or
    per sample and position) with one class index per score vector. The fused ops work on rows:
    this returns the input as (M, C) (class dim moved last, then flattened), the target as (M,),
    and the shape a 'none' loss has (the target's); for (N, C) input, both unchanged and None."""
    _check_class_dim(op, x)
    if x.ndim == 2:
        return x, target, None
    loss_shape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    if target.shape != loss_shape:
        raise ValueError(
            f"{op}: for input of shape {x.shape} (class dim {_class_dim(x)}), the target "
            f"of class indices must have shape {loss_shape}. Got {target.shape} instead."
        )
    n_classes = x.shape[_class_dim(x)]
    if x.ndim > 2:
        x = x.permute(0, *range(2, x.ndim), 1)
    return x.reshape(-1, n_classes), target.reshape(-1), loss_shape


def _check_class_dim(op: str, x: Tensor) -> None:
    """Input must have a class dim (dim 1, or dim 0 for one sample's scores) with classes in it."""
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class dim: shape (C,), (N, C) or "
                         "(N, C, d1, ..., dk). Got a 0-d input.")
    if x.shape[_class_dim(x)] == 0:
        raise ValueError(f"{op}: input of shape {x.shape} has no classes (C = 0 along its class "
                         f"dim {_class_dim(x)}).")


def _class_dim(x) -> int:
    """Where the classes are: dim 1 of (N, C, ...) input, dim 0 of one sample's (C,) scores."""
    return 0 if x.ndim == 1 else 1


def _is_floating(target) -> bool:
    """Whether a target holds real numbers (class probabilities) rather than class indices."""
    dtype = target.dtype if isinstance(target, (Tensor, np.ndarray)) else np.asarray(target).dtype
    return dtype.kind == "f"


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits, with PyTorch's shapes, targets and options.

    Input (N, C), or (C,) for one sample, or (N, C, d1, ..., dk) for a score vector per position.
    The target is either
    - class indices, integers of the input's shape without the class dim: the fused, stable
      l = logsumexp(x) - x[t] (ops.CrossEntropyLoss), or
    - class probabilities, real numbers of the input's shape (soft labels):
      l = -sum_c w_c t_c log_softmax(x)_c, composed of log_softmax, products and a sum.
    Options: ``weight`` (one per class; with class indices 'mean' divides by the summed weights
    of the targets, with probabilities by the number of score vectors, as PyTorch does),
    ``ignore_index`` (class indices only: targets with this value add nothing and are not counted)
    and ``label_smoothing`` (eps in [0, 1]: the target becomes (1 - eps) target + eps / C)."""
    op = "cross_entropy"
    check_reduction(op, reduction)
    if label_smoothing != 0.0:  # (the check costs more than the rest of a small loss's call)
        label_smoothing = check_in_range(op, "label_smoothing", label_smoothing, 0.0, 1.0,
                                         high_closed=True)
    x = _real_input(op, input)
    if _is_floating(target):
        return _cross_entropy_of_probabilities(x, target, weight, ignore_index, reduction,
                                               label_smoothing)
    weight = _class_weight(op, weight, x)
    rows, classes, loss_shape = _rows_of_scores(op, x, _class_target(op, target, x))
    loss = ops.CrossEntropyLoss.apply(rows, classes, reduction, weight,
                                      _ignore_index(op, ignore_index), label_smoothing)
    return loss if loss_shape is None or reduction != "none" else loss.reshape(loss_shape)


def _cross_entropy_of_probabilities(x: Tensor, target, weight, ignore_index, reduction: str,
                                    label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities t (same shape as the logits x, classes along
    dim 1, or dim 0 for one sample): l = -sum_c w_c q_c log_softmax(x)_c with
    q = (1 - eps) t + eps / C. A composition of ops, each with its own derivative, so a target
    that requires grad gets one too (dL/dt_c = -dL/dl (1 - eps) w_c log_softmax(x)_c)."""
    op = "cross_entropy"
    if ignore_index != -100:
        raise ValueError(f"{op}: ignore_index ({ignore_index}) applies to class indices only; this "
                         "target holds class probabilities (a floating dtype).")
    _check_class_dim(op, x)
    target = _float_target(op, target, x)
    if tuple(target.shape) != x.shape:
        raise ValueError(
            f"{op}: a target of class probabilities (a floating dtype) must have the input's "
            f"shape {x.shape}. Got {tuple(target.shape)} instead; class indices must be integers."
        )
    class_dim = _class_dim(x)
    n_classes = x.shape[class_dim]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    if weight is not None:
        weight = _class_weight(op, weight, x)
        shape = [1] * x.ndim
        shape[class_dim] = n_classes
        target = target * weight.reshape(shape)
    loss = -(ops.LogSoftmax.apply(x, class_dim) * target).sum(class_dim)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def nll_loss(input, target, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """-w[t] x[t] for log-probabilities (the output of log_softmax) and class indices; shapes
    ((C,), (N, C), (N, C, d1, ..., dk)), ``weight`` and ``ignore_index`` as in cross_entropy."""
    op = "nll_loss"
    check_reduction(op, reduction)
    x = _real_input(op, input)
    weight = _class_weight(op, weight, x)
    rows, classes, loss_shape = _rows_of_scores(op, x, _class_target(op, target, x))
    loss = ops.NLLLoss.apply(rows, classes, reduction, weight, _ignore_index(op, ignore_index))
    return loss if loss_shape is None or reduction != "none" else loss.reshape(loss_shape)


def _broadcast_weights(op: str, name: str, value, input: Tensor) -> np.ndarray:
    """Weights (pos_weight, element weight) as an array of the input's dtype that broadcasts to
    the input's shape without enlarging it."""
    weights = _constant_weights(op, name, value, input)
    try:
        fits = np.broadcast_shapes(weights.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} of shape {weights.shape} does not broadcast to the "
                         f"input's shape {input.shape}.")
    return weights


def _element_weighted(op: str, loss_of, input: Tensor, weight, reduction: str) -> Tensor:
    """``loss_of(reduction)`` is an op's loss; with element weights w (broadcast over the input)
    the loss is reduce(w * l) instead, as PyTorch's ``weight`` of the binary losses: the op's
    'none' loss times w (a product op, with its own derivative), then summed, or averaged over
    the elements (not divided by the summed weights)."""
    if weight is None:
        return loss_of(reduction)
    loss = loss_of("none") * _broadcast_weights(op, "weight", weight, input)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1] (logs clamped at -100);
    ``weight`` (broadcast over the input) rescales each element's loss."""
    op = "binary_cross_entropy"
    check_reduction(op, reduction)
    x, target = _input_and_target(op, _input(op, input), target)
    return _element_weighted(op, lambda r: ops.BCELoss.apply(x, target, r), x, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of raw scores with the sigmoid fused in, stable at +-100.
    ``weight`` (broadcast over the input) rescales each element's loss; ``pos_weight`` (broadcast
    over the input, usually one per class) scales the positive term: above 1 it counts missed
    positives more (for rare positives, n_negative / n_positive)."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    x, target = _input_and_target(op, _real_input(op, input), target)
    if pos_weight is not None:
        pos_weight = _broadcast_weights(op, "pos_weight", pos_weight, x)
    return _element_weighted(
        op, lambda r: ops.BCEWithLogitsLoss.apply(x, target, r, pos_weight), x, weight, reduction)


# ----- embeddings ----------------------------------------------------------------------------


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) looked up by the integer ids ``input``
    (any shape): the result has shape input.shape + (embedding_dim,). The gradient is the
    scatter-add of ``ops.Embedding``; the row ``padding_idx`` gets none.

    ``max_norm``: before the lookup, every row that is looked up and whose ``norm_type``-norm
    exceeds max_norm is rescaled in place to norm max_norm (as PyTorch, under no_grad: the
    rescaling is not differentiated). ``scale_grad_by_freq`` and ``sparse`` are not supported.
    """
    return _embedding("embedding", input, weight, padding_idx, max_norm, norm_type,
                      scale_grad_by_freq, sparse)


def _embedding(op, input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq,
               sparse) -> Tensor:
    """embedding, with ``op`` naming the caller in its errors (the functional, or the layer)."""
    if scale_grad_by_freq:
        raise ValueError(f"{op}: scale_grad_by_freq=True is not supported by chainrule.")
    if sparse:
        raise ValueError(f"{op}: sparse=True is not supported by chainrule (gradients are dense).")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a 2-D Tensor (num_embeddings, embedding_dim). "
                         f"Got {shape} instead.")
    from ..ops.embedding import check_ids
    check_same_device(op, input, weight)
    ids = input._data if isinstance(input, Tensor) else _to_array(input, copy=False)
    check_ids(op, ids, weight.shape[0])
    padding_idx = _padding_idx(op, padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, ids, check_real(op, "max_norm", max_norm),
                     check_real(op, "norm_type", norm_type))
    return ops.Embedding.apply(weight, ids, padding_idx)


def _padding_idx(op: str, padding_idx, num_embeddings: int):
    """padding_idx as a row index in [0, num_embeddings) (a negative one counts from the end, as
    in PyTorch), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise argument_error(op, "padding_idx", "an int or None", padding_idx, TypeError)
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise argument_error(op, "padding_idx", f"in [-{num_embeddings}, {num_embeddings - 1}] "
                             f"(num_embeddings={num_embeddings})", padding_idx)
    return int(padding_idx) % num_embeddings


def _renorm_rows(weight: Tensor, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """In place, as torch.embedding_renorm_: each looked-up row w with ||w||_p > max_norm becomes
    w * max_norm / (||w||_p + 1e-7)."""
    rows = np.unique(ids)
    norms = np.linalg.norm(weight._data[rows], ord=norm_type, axis=1)
    over = norms > max_norm
    scale = max_norm / (norms[over] + 1e-7)
    weight._data[rows[over]] *= scale[:, None].astype(weight.dtype)


# scaled_dot_product_attention lives in attention.py beside MultiheadAttention, which uses it
from .attention import scaled_dot_product_attention  # noqa: E402
# ----- sequence-model helpers -----
__all__ += ["one_hot"]
__all__ += ["relu_"]


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot rows: shape (*tensor.shape, num_classes), int64, no gradient
    (see ``chainrule.ops.indexing.one_hot``)."""
    return ops.indexing.one_hot(tensor, num_classes)


# ----- convolution, pooling, normalization (nn/functional_conv.py) -------------------------

from .functional_conv import (  # noqa: E402, F401  (listed in __all__ below)
    adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, batch_norm, conv1d, conv2d,
    conv_transpose1d, conv_transpose2d, dropout2d, fold, group_norm, instance_norm, interpolate,
    layer_norm, max_pool1d, max_pool2d, pad, unfold,
)
from .functional_conv import __all__ as _conv_all  # noqa: E402

__all__ += _conv_all
