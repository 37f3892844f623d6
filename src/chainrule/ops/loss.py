"""Fused losses: mse, l1, huber, cross-entropy (log-softmax + NLL), NLL, BCE, BCE with logits.

Each is one op with a numerically stable forward and its own short backward, instead of a chain of
small ops: cross-entropy stays finite at logits of +-1000 and BCE-with-logits at +-100, and a step
costs fewer NumPy calls. ``reduction`` is 'mean' (average over elements), 'sum', or 'none'.
"""

import math

import numpy as np

from ..autograd import Function
from ..backend import (arange_on, as_array, check_later, is_device_array, ones_on, outside_range,
                       to_numpy, zeros_on)
from ..kernels import Elementwise, SumOf, fused_kernels_enabled
from .activation import Softmax, log_softmax_arrays

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"The 'reduction' parameter of {op} must be one of {REDUCTIONS}. Got {reduction!r} "
            "instead."
        )


def _reduce(loss, reduction):
    """'mean': sum / n, the same number as loss.mean() at a third of its cost; 'sum'; or 'none'.
    The sum is NumPy's pairwise one (np.add.reduce, without ndarray.sum's Python-level wrapper):
    a BLAS dot product would be faster but adds up float32 in float32, 1000 times less accurate
    over ten million elements."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss, axis=None)
    return as_array(total / loss.size if reduction == "mean" else total)


def _per_element_grad(grad_y, reduction, count):
    """dL/d(per-element loss): for 'none' the upstream array itself; for 'mean' and 'sum' a
    single number (dL/dL / n, or dL/dL) that broadcasts over the elements it reduced. The number
    is a Python number: arithmetic with it keeps the arrays' dtype and costs no NumPy call. On a
    GPU it stays a 0-d device array, so that the backward never waits for the GPU."""
    if reduction == "none":
        return grad_y
    if type(grad_y) is not np.ndarray and is_device_array(grad_y):  # on a GPU: kept there
        if reduction == "sum":
            return grad_y
        if is_device_array(count):  # a total weight on the GPU, unread: where it is 0, the
            return grad_y / count   # division gives inf or nan, and the weights 0 make it nan
        return grad_y / count if count else grad_y * math.nan
    if reduction == "mean":  # count 0 (no samples, or a total weight of 0): nan, as PyTorch
        return grad_y.item() / count if count else math.nan
    return grad_y.item()


def _per_element_grad_graph(grad_y, reduction, count):
    """_per_element_grad for backward_graph: a Tensor, so that the result stays a function of
    dL/dL (its second derivative with respect to the upstream gradient is the first derivative)."""
    if reduction == "none":
        return grad_y
    if reduction == "mean":
        return grad_y / count if count else grad_y * math.nan
    return grad_y


def _zero_where_not(kept, grad):
    """0 in the rows of ignored samples (kept is a constant boolean array, one per row), also
    where grad is nan there; grad unchanged where nothing is ignored. For backward_graph."""
    if kept is None:
        return grad
    from .select import Where

    return Where.apply(kept[:, None], grad, grad.dtype.type(0))


def _array(t):
    """The array of a saved Tensor (a constant to backward_graph), or None."""
    return None if t is None else t._data


def _one_per_input(ctx, *grads):
    """The gradients, padded with None to one per argument given to apply (optional arguments
    such as weight or pos_weight may have been left out or given)."""
    return (*grads, *[None] * (len(ctx.needs_input_grad) - len(grads)))


def _check_same_shape(op, a, b, names=("input", "target")):
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: {names[0]} shape {a.shape} and {names[1]} shape {b.shape} differ; they must be "
            "equal (broadcasting (N, 1) against (N,) would silently compare every pair)."
        )


class MSELoss(Function):
    """Mean squared error.

    forward:  l_i = (x_i - t_i)^2,  then reduced ('mean': L = (1/n) sum_i l_i)
    backward: dL/dx_i = dL/dl_i * 2 (x_i - t_i),   dL/dt_i = -dL/dx_i
              ('mean': dL/dl_i = dL/dL / n)
    second:   d2l_i/dx_i^2 = 2
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        _check_same_shape("mse_loss", x, target)
        diff = x - target
        ctx.save_for_backward(diff, x, target)  # x and target for backward_graph
        ctx.reduction = reduction
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad_y):
        diff = ctx.saved_tensors[0]
        grad_l = _per_element_grad(grad_y, ctx.reduction, diff.size)
        grad_x = diff * (2 * grad_l)
        return grad_x, (-grad_x if ctx.needs_input_grad[1] else None), None

    @staticmethod
    def backward_graph(ctx, grad_y):
        _, x, target = ctx.saved_tensors
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, x.numel())
        grad_x = (x - target) * (2 * grad_l)
        return grad_x, (-grad_x if ctx.needs_input_grad[1] else None), None


def _check_class_targets(op, logits, target, ignore_index=-100) -> bool:
    """Check input (N, C) and integer targets (N,), each a class or ignore_index; return whether
    the loss must treat some targets as ignored. On the CPU that is whether one is; the usual
    case (every target a class, ignore_index not among them) costs one reduction.

    On a GPU the answer would make the host wait for the device (the forward pass done) at every
    step, so there the loss always takes the path that ignores targets, whether or not any is
    ignore_index, and the range check is answered later (``_check_later_in_range``)."""
    if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"{op}: expected input of shape (N, C) and integer target of shape (N,). Got input "
            f"{logits.shape} and target {target.shape} instead."
        )
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices. Got dtype {target.dtype}.")
    if not target.size:
        return False
    if is_device_array(target):
        return True
    n_classes = logits.shape[1]
    if not outside_range(target, n_classes):  # the usual case: one reduction
        return bool(0 <= ignore_index < n_classes and (target == ignore_index).any())
    out_of_range = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if out_of_range.any():
        _refuse_target(op, target[out_of_range][0], n_classes, ignore_index)
    return True  # the targets outside 0..C-1 are all ignore_index


def _refuse_target(op, value, n_classes, ignore_index):
    raise ValueError(
        f"{op}: target class {value} is out of range for {n_classes} classes (expected 0 to "
        f"{n_classes - 1}, or ignore_index={ignore_index})."
    )


def _check_later_in_range(op, failed, values, n_classes, ignore_index):
    """On a GPU: that every target is a class or ignore_index, answered at the next moment the
    host waits anyway (backend.check_later). ``failed``: a 0-d device array, nonzero where some
    target is neither (a range check, or a count of them); ``values``: the targets as the loss
    read them, an array of their own (whatever later happens to the targets), read for the
    error's value only if the check fails."""
    def fail():
        host = to_numpy(values)
        _refuse_target(op, host[((host < 0) | (host >= n_classes)) & (host != ignore_index)][0],
                       n_classes, ignore_index)

    check_later(failed, fail)


def _kept(target, ignore_index):
    """k_i: True where the target is not ignore_index."""
    limits = np.iinfo(target.dtype)
    if limits.min <= ignore_index <= limits.max:
        return target != ignore_index
    return ones_on(target, target.shape, dtype=bool)  # (no target of this dtype can be it:
    # uint8 targets and -100, say)


def _class_weights(op, target, weight, ignore_index, any_ignored, dtype, n_classes):
    """For class-indexed losses: each sample's weight w[t_i], 0 where t_i == ignore_index, and the
    targets with those entries set to 0 so that they can index (their weight removes them).

    Returns (sample_weight, kept, safe_target, total): sample_weight is None when every sample
    counts once (no class weights, nothing ignored), the common case, which then costs nothing;
    total is what 'mean' divides by: the sum of the sample weights (N in the common case)."""
    if weight is None and not any_ignored:
        return None, None, target, target.shape[0]
    kept = _kept(target, ignore_index)
    safe_target = np.where(kept, target, 0)
    if is_device_array(target):
        _check_later_in_range(op, outside_range(safe_target, n_classes, wait=False),
                              safe_target, n_classes, ignore_index)
    if weight is None:  # k_i itself (booleans count as 0 and 1 in arithmetic)
        return kept, kept, safe_target, kept.sum(dtype=dtype)
    sample_weight = weight[safe_target] * kept
    return sample_weight, kept, safe_target, sample_weight.sum()


def _reduce_weighted(loss, reduction, total):
    """_reduce, with 'mean' dividing by the total sample weight. A total of 0 (every sample
    ignored, or weighted 0) gives nan, as in PyTorch."""
    if reduction != "mean":
        return _reduce(loss, reduction)
    if is_device_array(total):  # a total weight on a GPU: 0 / 0 is nan there too, unread
        return as_array(np.add.reduce(loss, axis=None) / total)
    if total == 0:
        return np.full_like(loss, np.nan, shape=())
    return as_array(np.add.reduce(loss, axis=None) / total)


def _zero_ignored(values, kept):
    """0 for an ignored sample, in ``values`` (a loss per sample, or a gradient row per sample),
    as PyTorch: its loss also where its stand-in class 0 has a log-probability of -inf (which
    -(-inf) * 0 would make nan), its gradient also where the 'mean' scale is nan (a total weight
    of 0: PyTorch gives nan for the samples that count and 0 for the ignored ones). (np.where,
    not a write through a boolean mask: on a GPU that would wait for the device to count rows.)"""
    if kept is None:
        return values
    return np.where(kept if values.ndim == 1 else kept[:, None], values, values.dtype.type(0))


# cross_entropy on a GPU without class weights or label smoothing (chainrule.kernels): the loss
# in three launches (max, sum of exp(x - m), the picked losses summed), for 'mean' two more (the
# count kept, the division), the range check's two (its count, a copy of the targets for its
# message), and the gradient in one. x: the logits (N, C), m and z: each row's max and sum of
# exp(x - m) (N, 1), t: the targets as given (N, 1), ignore: ignore_index, c: the class indices
# (C,). (m is read by the targets' sums for its dtype alone.)
_picked_loss = SumOf("cross_entropy_picked", "x, m, z, t:int, c:int",
                     "where(t != ignore, where(c == t, -((x - m) - log(z)), 0), 0)",
                     scalars="ignore")
_kept_count = SumOf("cross_entropy_kept", "m, t:int", "where(t != ignore, 1, 0)",
                    scalars="ignore")
_targets_outside = SumOf("cross_entropy_outside", "m, t:int",
                         "where(t != ignore, (t < 0) + (t >= classes), 0)",
                         scalars="ignore, classes")
# CuPy sums to one number with one block of threads: up to this many logits the picked losses
# are summed so, in one launch; beyond it by rows (many blocks), then the rows' sum
_ONE_BLOCK = 1 << 16
_fused_cross_entropy_backward = Elementwise(
    "cross_entropy_backward", "x, m, z, g, t:int, c:int", "dx",
    "dx = where(t != ignore, (exp((x - m) - log(z)) - (c == t)) * g, 0)", "ignore")


def _cross_entropy_fused(ctx, logits, target, reduction, ignore_index):
    """CrossEntropyLoss.forward on a GPU by fused kernels (weights and smoothing aside), or None
    where they do not run (then the op's NumPy code runs). The same numbers as that code: each
    row's loss -log_softmax(x)[t], 0 where t is ignore_index; 'mean' divides by the rows kept.
    The targets are read as given: no array of the kept ones, or of safe ones, is made."""
    n_classes = logits.shape[1]
    if (not fused_kernels_enabled() or logits.dtype not in (np.float32, np.float64)
            or abs(ignore_index) >= 2 ** 53):  # (the kernels read it as a double: exactly, below)
        return None  # (before any launch: the op's own code runs)
    m = logits.max(axis=1, keepdims=True)
    s = Softmax.fused_sum_exp(logits, m, axis=1, keepdims=True)
    if s is None:
        return None
    t = target[:, None]
    outside = _targets_outside(m, t, ignore_index, n_classes)  # how many: 0 when all are right
    if outside is None:
        return None
    _check_later_in_range("cross_entropy", outside, target.copy(), n_classes, ignore_index)
    classes = arange_on(logits, n_classes)
    whole = reduction != "none" and logits.size <= _ONE_BLOCK  # summed in one launch
    loss = _picked_loss(logits, m, s, t, classes, ignore_index, axis=None if whole else 1)
    total = None if loss is None or reduction != "mean" else _kept_count(m, t, ignore_index)
    if loss is None or (reduction == "mean" and total is None):
        return None
    if reduction != "none" and not whole:
        loss = np.add.reduce(loss, axis=None)
    ctx.save_for_backward(None, target, None, None, None, logits)  # (the targets as given)
    ctx.reduction, ctx.total, ctx.eps = reduction, total, 0.0
    ctx.fused = (m, s, classes, ignore_index)
    return loss / total if reduction == "mean" else loss


def _targets_kept(ctx, target, sample_weight, kept):
    """(targets safe to index with, k_i w[t_i], kept) as the unfused forward saves them; after the
    fused forward, which saved the targets as given, made here from them."""
    if ctx.fused is None:
        return target, sample_weight, kept
    kept = _kept(target, ctx.fused[3])
    return np.where(kept, target, 0), kept, kept


class CrossEntropyLoss(Function):
    """Softmax cross-entropy with integer class targets, fused and stable; optional class weights
    w, an ignored target value, and label smoothing eps over C classes (PyTorch's definitions).

    forward:  p_i = log_softmax(x_i) = x_i - logsumexp(x_i)           (x: (N, C), t: (N,))
              l_i = k_i [ (1 - eps) (-w[t_i] p_i[t_i]) + (eps / C) (-sum_c w_c p_i[c]) ]
              (k_i = 0 where t_i == ignore_index, else 1; w = 1 without weights;
              'mean' divides the sum by sum_i k_i w[t_i], not by N)
    backward: dL/dx_i = dL/dl_i * k_i [ (1 - eps) w[t_i] (softmax(x_i) - onehot(t_i))
                                        + (eps / C) (softmax(x_i) sum_c w_c - w) ]
              (without weights, ignoring or smoothing: dL/dl_i * (softmax(x_i) - onehot(t_i)))
    second:   d2l_i/dx_i^2 = c_i (diag(s) - s sᵀ),  s = softmax(x_i),
              c_i = k_i ((1 - eps) w[t_i] + (eps / C) sum_c w_c)      (c_i = 1 without options)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, logits, target, reduction="mean", weight=None, ignore_index=-100,
                label_smoothing=0.0):
        any_ignored = _check_class_targets("cross_entropy", logits, target, ignore_index)
        ctx.fused = None
        if weight is None and not label_smoothing and is_device_array(logits) and target.size:
            fused = _cross_entropy_fused(ctx, logits, target, reduction, ignore_index)
            if fused is not None:
                return fused
        log_prob = log_softmax_arrays(logits, 1)
        sample_weight, kept, safe_target, total = _class_weights(
            "cross_entropy", target, weight, ignore_index, any_ignored, logits.dtype,
            logits.shape[1])
        picked = log_prob[arange_on(log_prob, logits.shape[0]), safe_target]
        loss = -picked if weight is None else -picked * sample_weight  # (k_i: _zero_ignored)
        if label_smoothing:
            every_class = log_prob.sum(axis=1) if weight is None else log_prob @ weight
            smooth = -every_class
            loss = (1 - label_smoothing) * loss + (label_smoothing / logits.shape[1]) * smooth
            if is_device_array(total):  # unread: where it is 0, nan (not sum / 0, which the
                total = np.where(total != 0, total, math.nan)  # smoothing term makes inf)
        loss = _zero_ignored(loss, kept)
        ctx.save_for_backward(log_prob, safe_target, sample_weight, kept, weight, logits)
        ctx.reduction, ctx.total, ctx.eps = reduction, total, label_smoothing
        return _reduce_weighted(loss, reduction, total)

    @staticmethod
    def backward(ctx, grad_y):
        log_prob, target, sample_weight, kept, weight = ctx.saved_tensors[:5]
        grad_l = _per_element_grad(grad_y, ctx.reduction, ctx.total)
        if ctx.fused is not None:  # on a GPU: one kernel (see _cross_entropy_fused)
            m, s, classes, ignore_index = ctx.fused
            logits = ctx.saved_tensors[5]
            g = grad_l[:, None] if ctx.reduction == "none" else grad_l
            grad_x = _fused_cross_entropy_backward(logits, m, s, g, target[:, None], classes,
                                                   ignore_index)
            if grad_x is not None:
                return _one_per_input(ctx, grad_x)
            log_prob = (logits - m) - np.log(s)  # (kernels turned off since the forward)
            target, sample_weight, kept = _targets_kept(ctx, target, sample_weight, kept)
        n, n_classes = log_prob.shape
        eps = ctx.eps
        grad_x = np.exp(log_prob)  # softmax(x)
        rows = arange_on(grad_x, n)
        if not eps:  # softmax(x) - onehot(t), each row times its k_i w[t_i] where there are any
            grad_x[rows, target] -= 1
            if kept is not None:  # 0 for an ignored sample, also where dL/dl is nan (see below)
                grad_l = np.where(kept, grad_l if weight is None else grad_l * sample_weight, 0)
            grad_x *= grad_l[:, None] if getattr(grad_l, "ndim", 0) else grad_l
            return _one_per_input(ctx, grad_x)
        ones = ones_on(log_prob, n)  # with label smoothing: the whole formula
        w_t = ones if sample_weight is None else sample_weight  # k_i w[t_i]
        k = ones if kept is None else kept
        class_sum = n_classes if weight is None else weight.sum()  # sum_c w_c
        grad_x *= ((1 - eps) * w_t + (eps / n_classes) * class_sum * k)[:, None]
        grad_x[rows, target] -= (1 - eps) * w_t
        w = 1.0 if weight is None else weight[None, :]
        grad_x -= (eps / n_classes) * k[:, None] * w
        grad_x *= grad_l[:, None] if getattr(grad_l, "ndim", 0) else grad_l
        return _one_per_input(ctx, _zero_ignored(grad_x, kept))

    @staticmethod
    def backward_graph(ctx, grad_y):
        # softmax(x) from the logits themselves (in the graph); every other term is a constant
        target, sample_weight, kept, weight = (_array(t) for t in ctx.saved_tensors[1:5])
        target, sample_weight, kept = _targets_kept(ctx, target, sample_weight, kept)
        logits = ctx.saved_tensors[5]
        n, n_classes = logits.shape
        eps = ctx.eps
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, ctx.total)
        if ctx.reduction == "none":
            grad_l = grad_l.reshape(n, 1)
        onehot = zeros_on(logits, (n, n_classes))
        onehot[arange_on(onehot, n), target] = 1
        if sample_weight is None and not eps:  # the common case: softmax(x) - onehot(t)
            grad_x = logits.softmax(1) - onehot
        else:
            ones = ones_on(logits, n)
            w_t = ones if sample_weight is None else sample_weight  # k_i w[t_i]
            k = ones if kept is None else kept
            class_sum = n_classes if weight is None else weight.sum()  # sum_c w_c
            scale = ((1 - eps) * w_t + (eps / n_classes) * class_sum * k)[:, None]
            w = 1.0 if weight is None else weight[None, :]
            constant = (1 - eps) * w_t[:, None] * onehot + (eps / n_classes) * k[:, None] * w
            grad_x = logits.softmax(1) * scale.astype(logits.dtype) - constant.astype(logits.dtype)
        # (dL/dl zeroed in the ignored rows too, so that its nan or inf where every sample is
        # ignored reaches no second derivative: 0 there, as in PyTorch)
        return _one_per_input(ctx, _zero_where_not(kept, grad_x * _zero_where_not(kept, grad_l)))


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities (the output of log_softmax); optional class
    weights w and an ignored target value (PyTorch's definitions).

    forward:  l_i = -k_i w[t_i] x_i[t_i]
              (k_i = 0 where t_i == ignore_index, else 1; w = 1 without weights;
              'mean' divides the sum by sum_i k_i w[t_i], not by N)
    backward: dL/dx_i = -dL/dl_i * k_i w[t_i] onehot(t_i)
    """

    @staticmethod
    def forward(ctx, log_prob, target, reduction="mean", weight=None, ignore_index=-100):
        any_ignored = _check_class_targets("nll_loss", log_prob, target, ignore_index)
        sample_weight, kept, safe_target, total = _class_weights(
            "nll_loss", target, weight, ignore_index, any_ignored, log_prob.dtype,
            log_prob.shape[1])
        picked = log_prob[arange_on(log_prob, log_prob.shape[0]), safe_target]
        picked = _zero_ignored(picked, kept)  # (so k_i needs no product: only class weights do)
        ctx.save_for_backward(safe_target, sample_weight, kept)
        ctx.shape, ctx.reduction, ctx.total = log_prob.shape, reduction, total
        return _reduce_weighted(-picked if weight is None else -picked * sample_weight,
                                reduction, total)

    @staticmethod
    def backward(ctx, grad_y):
        target, sample_weight, kept = ctx.saved_tensors
        n = ctx.shape[0]
        grad_l = _per_element_grad(grad_y, ctx.reduction, ctx.total)
        if sample_weight is not None:
            grad_l = grad_l * sample_weight
        grad_x = zeros_on(grad_y, ctx.shape)
        grad_x[arange_on(grad_x, n), target] = -grad_l
        return _one_per_input(ctx, _zero_ignored(grad_x, kept))

    @staticmethod
    def backward_graph(ctx, grad_y):  # linear in dL/dl: its only second derivative is that one
        target, sample_weight, kept = (_array(t) for t in ctx.saved_tensors)
        n = ctx.shape[0]
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, ctx.total)
        if ctx.reduction == "none":
            grad_l = grad_l.reshape(n, 1)
        picked = zeros_on(grad_y, ctx.shape)  # -k_i w[t_i] onehot(t_i), a constant
        picked[arange_on(picked, n), target] = (-1 if sample_weight is None
                                                 else -sample_weight.astype(picked.dtype))
        return _one_per_input(ctx, _zero_where_not(kept, grad_l * picked))


def _check_probabilities(p):
    """Every p in [0, 1] (nan passes, as in PyTorch); on a GPU answered later (check_later)."""
    def fail():
        low, high = float(p.min()), float(p.max())
        shown = (f"Got values from {low:.4g} to {high:.4g}" if low < 0 or high > 1 else
                 "Some were not (the inputs have been changed in place since)")
        raise ValueError(
            f"binary_cross_entropy: every input must be a probability in [0, 1]. {shown}; use "
            "binary_cross_entropy_with_logits for raw scores."
        )

    if is_device_array(p):
        check_later(((p < 0) | (p > 1)).any(), fail)
    elif p.min() < 0 or p.max() > 1:
        fail()


class BCELoss(Function):
    """Binary cross-entropy of probabilities p in [0, 1]; logs clamped at -100 as in PyTorch.

    forward:  l_i = -(t_i log(p_i) + (1 - t_i) log(1 - p_i))
    backward: dL/dp_i = dL/dl_i * (p_i - t_i) / max(p_i (1 - p_i), 1e-12)
              dL/dt_i = dL/dl_i * (log(1 - p_i) - log(p_i))
    second:   d2l_i/dp_i^2 = t_i / p_i^2 + (1 - t_i) / (1 - p_i)^2
    """

    @staticmethod
    def forward(ctx, p, target, reduction="mean"):
        _check_same_shape("binary_cross_entropy", p, target)
        if p.size:
            _check_probabilities(p)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        ctx.save_for_backward(p, target, log_p, log_1mp)
        ctx.reduction = reduction
        return _reduce(-(target * log_p + (1 - target) * log_1mp), reduction)

    @staticmethod
    def backward(ctx, grad_y):
        p, target, log_p, log_1mp = ctx.saved_tensors
        grad_l = _per_element_grad(grad_y, ctx.reduction, p.size)
        grad_p = grad_l * (p - target) / np.maximum(p * (1 - p), 1e-12)
        grad_t = grad_l * (log_1mp - log_p) if ctx.needs_input_grad[1] else None
        return grad_p, grad_t, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        p, target = ctx.saved_tensors[:2]  # the logs recomputed from p, in the graph
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, p.numel())
        grad_p = grad_l * (p - target) / (p * (1 - p)).clamp(min=1e-12)
        grad_t = None
        if ctx.needs_input_grad[1]:
            log_p, log_1mp = p.log().clamp(min=-100), (-p).log1p().clamp(min=-100)
            grad_t = grad_l * (log_1mp - log_p)
        return grad_p, grad_t, None


class BCEWithLogitsLoss(Function):
    """Binary cross-entropy of raw scores x (sigmoid fused in), stable at +-100; an optional
    pos_weight p scales the positive term (broadcast over x, as PyTorch's).

    forward:  l_i = max(x_i, 0) - x_i t_i + log(1 + exp(-|x_i|)) + (p - 1) t_i softplus(-x_i)
              (softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log(1 + exp(-|x|)): no overflow;
              equal to -(p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))); p = 1 without it)
    backward: dL/dx_i = dL/dl_i * ((1 + (p - 1) t_i) sigmoid(x_i) - p t_i)      (p = 1: sigmoid(x_i) - t_i)
              dL/dt_i = dL/dl_i * (-x_i + (p - 1) softplus(-x_i))              (p = 1: -x_i)
    second:   d2l_i/dx_i^2 = (1 + (p - 1) t_i) sigmoid(x_i) (1 - sigmoid(x_i))
    """

    @staticmethod
    def forward(ctx, x, target, reduction="mean", pos_weight=None):
        _check_same_shape("binary_cross_entropy_with_logits", x, target)
        ctx.save_for_backward(x, target, pos_weight)
        ctx.reduction = reduction
        log_term = np.log1p(np.exp(-np.abs(x)))
        loss = np.maximum(x, 0) - x * target + log_term
        if pos_weight is not None:
            loss += (pos_weight - 1) * target * (np.maximum(-x, 0) + log_term)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_y):
        x, target, pos_weight = ctx.saved_tensors
        grad_l = _per_element_grad(grad_y, ctx.reduction, x.size)
        sigmoid = 0.5 * np.tanh(0.5 * x) + 0.5
        if pos_weight is None:
            grad_x = grad_l * (sigmoid - target)
            grad_t = -grad_l * x if ctx.needs_input_grad[1] else None
            return _one_per_input(ctx, grad_x, grad_t)
        grad_x = grad_l * ((1 + (pos_weight - 1) * target) * sigmoid - pos_weight * target)
        grad_t = None
        if ctx.needs_input_grad[1]:
            softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
            grad_t = grad_l * ((pos_weight - 1) * softplus_neg - x)
        return _one_per_input(ctx, grad_x, grad_t)

    @staticmethod
    def backward_graph(ctx, grad_y):
        x, target, pos_weight = ctx.saved_tensors
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, x.numel())
        sigmoid = x.sigmoid()
        if pos_weight is None:
            grad_x = grad_l * (sigmoid - target)
            grad_t = -grad_l * x if ctx.needs_input_grad[1] else None
            return _one_per_input(ctx, grad_x, grad_t)
        grad_x = grad_l * ((1 + (pos_weight - 1) * target) * sigmoid - pos_weight * target)
        grad_t = None
        if ctx.needs_input_grad[1]:
            from .activation import Softplus

            softplus_neg = Softplus.apply(-x, 1.0, math.inf)  # log(1 + exp(-x)), stable
            grad_t = grad_l * ((pos_weight - 1) * softplus_neg - x)
        return _one_per_input(ctx, grad_x, grad_t)


class L1Loss(Function):
    """Mean absolute error.

    forward:  l_i = |x_i - t_i|,  then reduced ('mean': L = (1/n) sum_i l_i)
    backward: dL/dx_i = dL/dl_i * sign(x_i - t_i),   dL/dt_i = -dL/dx_i
              (sign(0) = 0, as in PyTorch)
    """

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        _check_same_shape("l1_loss", x, target)
        diff = x - target
        ctx.save_for_backward(diff)
        ctx.reduction = reduction
        return _reduce(np.abs(diff), reduction)

    @staticmethod
    def backward(ctx, grad_y):
        (diff,) = ctx.saved_tensors
        grad_l = _per_element_grad(grad_y, ctx.reduction, diff.size)
        grad_x = grad_l * np.sign(diff)
        return grad_x, (-grad_x if ctx.needs_input_grad[1] else None), None

    @staticmethod
    def backward_graph(ctx, grad_y):  # sign(x - t) is a constant: only dL/dl is differentiated
        diff = ctx.saved_tensors[0]._data
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, diff.size)
        grad_x = grad_l * np.sign(diff)
        return grad_x, (-grad_x if ctx.needs_input_grad[1] else None), None


class HuberLoss(Function):
    """Huber loss: squared error for small differences, absolute error (scaled) for large ones.

    forward:  d_i = x_i - t_i
              l_i = 0.5 d_i^2                       if |d_i| < delta
                    delta * (|d_i| - 0.5 delta)     otherwise
    backward: dL/dx_i = dL/dl_i * (d_i if |d_i| < delta else delta * sign(d_i)),   dL/dt_i = -dL/dx_i
              (both pieces meet with value and slope at |d| = delta; equal to clip(d, -delta, delta))
    second:   d2l_i/dx_i^2 = 1 if |d_i| < delta else 0
    """

    @staticmethod
    def forward(ctx, x, target, reduction="mean", delta=1.0):
        _check_same_shape("huber_loss", x, target)
        diff = x - target
        abs_diff = np.abs(diff)
        ctx.save_for_backward(diff, x, target)  # x and target for backward_graph
        ctx.reduction = reduction
        ctx.delta = delta
        loss = np.where(abs_diff < delta, 0.5 * diff * diff, delta * (abs_diff - 0.5 * delta))
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_y):
        diff = ctx.saved_tensors[0]
        grad_l = _per_element_grad(grad_y, ctx.reduction, diff.size)
        delta = ctx.delta
        local = np.where(np.abs(diff) < delta, diff, delta * np.sign(diff))
        grad_x = grad_l * local
        return _one_per_input(ctx, grad_x, -grad_x if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx, grad_y):
        from .select import Where

        _, x, target = ctx.saved_tensors
        diff = x - target
        grad_l = _per_element_grad_graph(grad_y, ctx.reduction, x.numel())
        delta = ctx.delta
        outer = (delta * np.sign(diff._data)).astype(diff.dtype)  # a constant
        local = Where.apply(np.abs(diff._data) < delta, diff, outer)
        grad_x = grad_l * local
        return _one_per_input(ctx, grad_x, -grad_x if ctx.needs_input_grad[1] else None)
