"""Losses as modules: ``criterion = MSELoss(); loss = criterion(prediction, target)``.

Each stores ``reduction`` ('mean', the default, 'sum' or 'none'; checked when constructed) and calls
the matching function of ``chainrule.nn.functional``, which calls a fused op in
``chainrule.ops.loss`` where the forward and its derivative are written.
"""

from __future__ import annotations


from ..checks import check_in_range, check_positive
from ..ops.loss import check_reduction
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = [
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
]


class _Loss(Module):
    """Holds and checks ``reduction``; keyword-only, since PyTorch's positional slots before it are
    deprecated arguments."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__()
        check_reduction(type(self).__name__, reduction)
        self.reduction = reduction


class MSELoss(_Loss):
    """Mean squared error: l_i = (x_i - t_i)^2, reduced. (scikit-learn's squared loss is halved.)

    Shape:
        - Input: (*), any number of dimensions
        - Target: (*), the input's shape
        - Output: a scalar; with reduction='none', (*), the input's shape

    Example:
        >>> loss = nn.MSELoss()
        >>> loss(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 0.0]))  # (1 + 4) / 2
        tensor(2.5)
        >>> nn.MSELoss(reduction="none")(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 0.0]))
        tensor([1., 4.])
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: l_i = |x_i - t_i|, reduced.

    Shape:
        - Input: (*), any number of dimensions
        - Target: (*), the input's shape
        - Output: a scalar; with reduction='none', (*), the input's shape

    Example:
        >>> loss = nn.L1Loss()
        >>> loss(chainrule.tensor([1.0, -2.0]), chainrule.tensor([0.0, 0.0]))  # (1 + 2) / 2
        tensor(1.5)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """l_i = 0.5 d_i^2 if |d_i| < delta else delta * (|d_i| - 0.5 delta), d = x - t, reduced.

    Shape:
        - Input: (*), any number of dimensions
        - Target: (*), the input's shape
        - Output: a scalar; with reduction='none', (*), the input's shape

    Example:
        >>> loss = nn.HuberLoss()  # delta 1: 0.5 * 0.5^2 = 0.125 and 1 * (3 - 0.5) = 2.5
        >>> loss(chainrule.tensor([0.5, 3.0]), chainrule.tensor([0.0, 0.0]))
        tensor(1.3125)
    """

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = check_positive("HuberLoss", "delta", delta)  # as F.huber_loss checks it

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


def _weight_buffer(owner: str, name: str, value, number_ok: bool = True) -> Tensor | None:
    """A loss module's weight or pos_weight as a Tensor for its buffer, checked as the functional
    form checks it (numbers only, no requires_grad)."""
    if value is None:
        return None
    checked = F._constant_weights(owner, name, value, number_ok=number_ok)
    return value if isinstance(value, Tensor) else Tensor(checked)


class _WeightedClassLoss(_Loss):
    """CrossEntropyLoss and NLLLoss: ``weight`` (one per class, kept as a buffer, as in PyTorch,
    so it is in the state dict and follows ``to(dtype)``) and ``ignore_index``."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        name = type(self).__name__
        weight = _weight_buffer(name, "weight", weight, number_ok=False)
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"{name}: weight must be 1-D, one weight per class. Got shape "
                             f"{weight.shape} instead.")
        self.register_buffer("weight", weight)
        self.ignore_index = F._ignore_index(name, ignore_index)


class CrossEntropyLoss(_WeightedClassLoss):
    """Softmax cross-entropy of logits (N, C) (also (C,) or (N, C, d1, ..., dk)) against integer
    class targets (N,), fused and stable: l_i = logsumexp(x_i) - x_i[t_i], or against class
    probabilities of the input's shape. Do not put a Softmax layer before it. Options as PyTorch's:
    ``weight`` per class, ``ignore_index``, ``label_smoothing`` in [0, 1] (see F.cross_entropy).

    Shape:
        - Input: (N, C) logits, C = the number of classes; also (C,) for one sample, or
          (N, C, d_1, ..., d_k) for a class per position
        - Target: (N,) class indices in [0, C) (() or (N, d_1, ..., d_k) with the inputs
          above), or class probabilities of the input's shape
        - Output: a scalar; with reduction='none', (N,) (or () or (N, d_1, ..., d_k))

    Example:
        >>> loss = nn.CrossEntropyLoss()
        >>> loss(chainrule.tensor([[0.0, 0.0, 0.0]]), chainrule.tensor([2]))  # log 3: at chance
        tensor(1.0986123)
        >>> logits = chainrule.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 10.0]])
        >>> loss(logits, chainrule.tensor([2, 2]))  # (log 3 + about 0) / 2
        tensor(0.5493516)
    """

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index=ignore_index, reduction=reduction)
        self.label_smoothing = check_in_range("CrossEntropyLoss", "label_smoothing",
                                              label_smoothing, 0.0, 1.0, high_closed=True)

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedClassLoss):
    """Negative log-likelihood of log-probabilities (N, C): l_i = -w[t_i] x_i[t_i]. Pair with
    LogSoftmax(dim=1); together they equal CrossEntropyLoss. ``weight`` and ``ignore_index`` as
    there.

    Shape:
        - Input: (N, C) log-probabilities (also (C,), or (N, C, d_1, ..., d_k))
        - Target: (N,) class indices in [0, C) (or () or (N, d_1, ..., d_k))
        - Output: a scalar; with reduction='none', (N,) (or () or (N, d_1, ..., d_k))

    Example:
        >>> loss = nn.NLLLoss()
        >>> loss(chainrule.tensor([[-1.0, -2.0]]), chainrule.tensor([1]))  # -x[0][1]
        tensor(2.)
    """

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities: l_i = -(t_i log p_i + (1 - t_i) log(1 - p_i)).
    ``weight`` (a buffer, broadcast over the input) rescales each element's loss, as in PyTorch.

    Shape:
        - Input: (*) probabilities in [0, 1], any number of dimensions
        - Target: (*), the input's shape, in [0, 1]
        - Output: a scalar; with reduction='none', (*), the input's shape

    Example:
        >>> loss = nn.BCELoss()
        >>> loss(chainrule.tensor([0.5, 0.5]), chainrule.tensor([1.0, 0.0]))  # log 2
        tensor(0.6931472)
    """

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _weight_buffer("BCELoss", "weight", weight))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw scores with the sigmoid fused in (stable at +-100); prefer it to
    Sigmoid followed by BCELoss. ``weight`` rescales each element's loss and ``pos_weight`` scales
    the positive term (usually one per class); both are buffers broadcast over the input, as in
    PyTorch.

    Shape:
        - Input: (*) raw scores (logits), any number of dimensions
        - Target: (*), the input's shape, in [0, 1]
        - Output: a scalar; with reduction='none', (*), the input's shape

    Example:
        >>> loss = nn.BCEWithLogitsLoss()
        >>> loss(chainrule.tensor([0.0, 0.0]), chainrule.tensor([1.0, 0.0]))  # sigmoid(0) = 1/2
        tensor(0.6931472)
    """

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction=reduction)
        self.register_buffer("weight", _weight_buffer("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer("pos_weight", _weight_buffer("BCEWithLogitsLoss", "pos_weight",
                                                          pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
