"""Losses as modules: ``criterion = MSELoss(); loss = criterion(prediction, target)``.

Each stores ``reduction`` ('mean', the default, 'sum' or 'none'; checked when constructed) and calls
the matching function of ``chainrule.nn.functional``, which calls a fused op in
``chainrule.ops.loss`` where the forward and its derivative are written.
"""

from __future__ import annotations

from ..ops.loss import check_reduction
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
    """Mean squared error: l_i = (x_i - t_i)^2, reduced. (scikit-learn's squared loss is halved.)"""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: l_i = |x_i - t_i|, reduced."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """l_i = 0.5 d_i^2 if |d_i| < delta else delta * (|d_i| - 0.5 delta), d = x - t, reduced."""

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            raise ValueError(
                f"The 'delta' parameter of HuberLoss must be a positive float. Got {delta!r} "
                "instead."
            )
        self.delta = float(delta)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer class targets (N,), fused and stable:
    l_i = logsumexp(x_i) - x_i[t_i]. Do not put a Softmax layer before it."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C): l_i = -x_i[t_i]. Pair with
    LogSoftmax(dim=1); together they equal CrossEntropyLoss."""

    def forward(self, input, target):
        return F.nll_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities: l_i = -(t_i log p_i + (1 - t_i) log(1 - p_i))."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw scores with the sigmoid fused in (stable at +-100); prefer it to
    Sigmoid followed by BCELoss."""

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
