"""Health detectors: pure functions over the statistics a training run records, each returning a
``Finding`` (kind, where, evidence) or None. They know nothing of the fit loop, files, plots or
the command line; ``chainrule.training.health.HealthMonitor`` records the statistics during fit,
calls these, and words what they find (naming the settings a remedy changes as its caller says).

    detector                 looks at                              finds
    exploding_gradients      gradient norms per parameter          the newest norm far above its median
    vanishing_gradients      gradient norms of the weights         a weight's norm a tiny fraction
                                                                   of the largest
    large_updates            ||delta W|| / ||W|| per parameter     steps larger than the weights
    divergence               the loss at every step                a NaN/Inf loss, or one far above
                                                                   the first step's
    stall                    the mean loss per epoch               no change for several epochs
    no_better_than_mean      epoch losses, targets' variances      an MSE still at what predicting
                                                                   the mean scores
    no_better_than_chance    epoch losses, labels' entropies       a cross-entropy still at what
                                                                   predicting the frequencies scores
    saturated_units          a layer's saturated fraction          sigmoid/tanh outputs stuck in
                                                                   their tails
    dead_units               a layer's dead fraction               ReLU units that output 0 always

and the measurements they are given: ``saturated_fraction`` and ``dead_fraction`` of a layer's
outputs, ``label_entropy`` of class labels, ``norm`` and ``median``.

A finding's ``evidence`` holds every number its sentence quotes, so a report can word it without
the run (``chainrule.training.health.word``):

>>> finding = divergence([2.0, 20.0, 150.0, 250.0], factor=100.0)
>>> finding.kind, finding.where, finding.evidence
('divergence', None, {'loss': 250.0, 'first': 2.0})
>>> stall([5.0, 5.001, 5.002, 5.0015], epochs=4, tolerance=1e-3).evidence
{'low': 5.0, 'epochs': 4, 'tolerance': 0.001}
>>> finding = exploding_gradients({"0.weight": [0.8, 0.7, 0.9, 3.2e5], "0.bias": [1.0, 1.0, 1.0]})
>>> finding.kind, finding.where, finding.evidence
('exploding gradients', '0.weight', {'norm': 320000.0, 'median': 0.8, 'also': []})
>>> print(stall([10.0, 8.0, 6.0, 5.0], epochs=4, tolerance=1e-3))
None
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..backend import is_device_array, to_numpy

__all__ = ["Finding", "exploding_gradients", "vanishing_gradients", "large_updates", "divergence",
           "stall", "no_better_than_mean", "no_better_than_chance", "saturated_units",
           "dead_units", "saturated_fraction", "dead_fraction", "label_entropy", "norm", "median",
           "SATURATION_MARGIN"]

SATURATION_MARGIN = 0.01  # "within 0.01 of the asymptotes"


@dataclass
class Finding:
    """One thing a detector found.

    kind:     what it is, the first words of its sentence ("exploding gradients", "stall", ...)
    where:    the parameter or layer it concerns (the worst one), or None for the loss
    evidence: the numbers behind it, by name (each detector's docstring lists them)
    step, epoch: when it was found (counted from 0, and from 1), filled in by the monitor
    text:     the sentence that words it, filled in by ``chainrule.training.health.word``
    """

    kind: str
    where: str | None = None
    evidence: dict = field(default_factory=dict)
    step: int | None = None
    epoch: int | None = None
    text: str = ""


# ----- measurements --------------------------------------------------------------------------

def norm(array) -> float:
    """||a||_2 of all elements, summed in float64 (float32 squares of 1e20 would overflow)."""
    flat = array.astype(np.float64, copy=False).ravel()
    return math.sqrt(flat.dot(flat))


def median(values) -> float:
    """The median of a short list, nan for an empty one (plain Python: np.median costs ~20 us a
    call on small lists).

    >>> median([3.0, 1.0, 2.0]), median([4.0, 1.0]), median([])
    (2.0, 2.5, nan)
    """
    n = len(values)
    if n == 0:
        return float("nan")
    ordered = sorted(values)
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def saturated_fraction(outputs, kind: str) -> float:
    """The fraction of a sigmoid's ("sigmoid") or tanh's ("tanh") outputs within
    ``SATURATION_MARGIN`` of an asymptote (0 or 1; -1 or 1), where the derivative is nearly 0.

    >>> saturated_fraction(np.array([0.001, 0.5, 0.995, 0.3]), "sigmoid")
    0.5
    """
    low = 0.0 if kind == "sigmoid" else -1.0
    return float(np.mean((outputs - low < SATURATION_MARGIN) | (1.0 - outputs < SATURATION_MARGIN)))


def _units(outputs):
    """A ReLU's outputs as (observations, units): a unit is a feature (the last axis of (N, F) or
    (N, L, F)), or a channel of a 2-D feature map (N, C, H, W), observed at every sample and
    position."""
    if outputs.ndim == 4:
        return np.moveaxis(outputs, 1, -1).reshape(-1, outputs.shape[1])
    return outputs.reshape(-1, outputs.shape[-1]) if outputs.ndim > 1 else outputs.reshape(1, -1)


def unit_count(outputs) -> int:
    """How many units a ReLU's outputs hold (features, or the channels of a feature map)."""
    return _units(outputs).shape[-1]


def dead_fraction(outputs) -> float:
    """The fraction of a ReLU's units that output 0 for every sample (and, for a feature map
    (N, C, H, W), every position: a unit is a channel).

    >>> dead_fraction(np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]]))  # unit 0 of 3 is dead
    0.3333333333333333
    """
    return float(np.mean(np.all(_units(outputs) <= 0, axis=0)))


def label_entropy(labels) -> float | None:
    """-sum p log p of the class labels' frequencies p (in nats): the cross-entropy of always
    predicting those frequencies. None for labels that are not whole numbers, or none at all.

    >>> round(label_entropy(np.array([0, 1, 0, 1])), 6)  # two equal classes: log 2
    0.693147
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind not in "iu" or not labels.size:
        return None
    frequencies = np.bincount(labels) / labels.size
    frequencies = frequencies[frequencies > 0]
    return float(-(frequencies * np.log(frequencies)).sum())


# ----- detectors -----------------------------------------------------------------------------

def exploding_gradients(grad_norms: dict, finite_norms: dict | None = None, *,
                        reference: int = 20, factor: float = 50.0) -> Finding | None:
    """The newest gradient norm of each parameter against the median of its ``reference`` finite
    norms before it: exploding when above ``factor`` x that median, or not finite.

    grad_norms:   name -> the norms at every checked step so far (the newest last)
    finite_norms: name -> the finite ones among them (kept by a monitor so as not to filter a
                  growing list at every step); taken from ``grad_norms`` when not given
    where: the parameter with the largest ratio; evidence: norm, median, also (the others found
    at the same step, in ``grad_norms`` order).
    """
    found = []  # (how many times its median, name, norm, median)
    for name, norms in grad_norms.items():
        if not norms:
            continue
        g = norms[-1]
        finite = (finite_norms[name] if finite_norms is not None
                  else [v for v in norms if math.isfinite(v)])
        earlier = finite[-reference - 1:-1] if math.isfinite(g) else finite[-reference:]
        if not earlier:
            continue
        middle = median(earlier)
        if not math.isfinite(g):
            found.append((math.inf, name, g, middle))
        elif g > factor * max(middle, 1e-12):
            found.append((g / max(middle, 1e-12), name, g, middle))
    if not found:
        return None
    _, name, g, middle = max(found)
    return Finding("exploding gradients", name,
                   {"norm": g, "median": middle, "also": _others(found, name)})


def vanishing_gradients(grad_norms: dict, *, window: int = 5, ratio: float = 1e-5) -> Finding | None:
    """Each weight's median gradient norm over its last ``window`` checks against the largest
    weight's: vanishing when below ``ratio`` x it. Needs two weights or more.

    grad_norms: name -> norms at every checked step, for the weights only (parameters of two or
    more dimensions: a bias's gradient may well be small)
    where: the weight with the smallest ratio; evidence: norm, ratio, window, largest (its name),
    largest_norm, also.
    """
    if len(grad_norms) < 2:
        return None
    recent = {name: median(norms[-window:]) for name, norms in grad_norms.items()}
    largest = max(recent, key=recent.get)
    if not (math.isfinite(recent[largest]) and recent[largest] > 0):
        return None
    found = [(recent[n] / recent[largest], n, recent[n], None) for n in grad_norms
             if recent[n] < ratio * recent[largest]]
    if not found:
        return None
    smallest, name, g, _ = min(found)
    return Finding("vanishing gradients", name,
                   {"norm": g, "ratio": smallest, "window": window, "largest": largest,
                    "largest_norm": recent[largest], "also": _others(found, name)})


def large_updates(update_ratios: dict, *, window: int = 5, limit: float = 1.0) -> Finding | None:
    """The median update-to-weight ratio ||delta W|| / ||W|| of each parameter over its last
    ``window`` checks: too large above ``limit`` (about 1e-3 is typical).

    update_ratios: name -> the ratio at every checked step
    where: the parameter with the largest; evidence: ratio, window, also.
    """
    found = []
    for name, ratios in update_ratios.items():
        if len(ratios) >= window:
            recent = median(ratios[-window:])
            if recent > limit:
                found.append((recent, name, recent, None))
    if not found:
        return None
    ratio, name, _, _ = max(found)
    return Finding("large updates", name,
                   {"ratio": ratio, "window": window, "also": _others(found, name)})


def divergence(losses: list, *, factor: float = 100.0) -> Finding | None:
    """The newest training loss: diverged when it is NaN or Inf (evidence: loss, previous: the
    loss the step before, or None), or when it is above ``factor`` x the first step's (evidence:
    loss, first)."""
    if not losses:
        return None
    loss = losses[-1]
    if not math.isfinite(loss):
        return Finding("divergence", None,
                       {"loss": loss, "previous": losses[-2] if len(losses) > 1 else None})
    first = losses[0]
    if math.isfinite(first) and first > 0 and loss > factor * first:
        return Finding("divergence", None, {"loss": loss, "first": first})
    return None


def stall(epoch_losses: list, *, epochs: int = 5, tolerance: float = 1e-3) -> Finding | None:
    """The mean loss of the last ``epochs`` epochs: stalled when they all lie within
    ``tolerance`` (relative to the highest) of each other. Evidence: low, epochs, tolerance."""
    recent = epoch_losses[-epochs:]
    if len(recent) < epochs or not all(math.isfinite(v) for v in recent):
        return None
    high, low = max(recent), min(recent)
    if high - low <= tolerance * abs(high):
        return Finding("stall", None, {"low": low, "epochs": epochs, "tolerance": tolerance})
    return None


def no_better_than_mean(epoch_losses: list, target_variances: list, *, epochs: int = 5,
                        ratio: float = 0.9) -> Finding | None:
    """An MSE that, after ``epochs`` epochs, is still at least ``ratio`` of the targets'
    variance (the mean of ``target_variances``, one per checked batch, in the loss's units): what
    always predicting their mean scores, so the network has learned almost nothing. (The seed
    network with its hand-derived backward ends exactly there.) Evidence: epochs (so far), loss
    (the last epoch's), variance."""
    if len(epoch_losses) < epochs or not target_variances:
        return None
    variance = float(np.mean(target_variances))
    loss = epoch_losses[-1]
    if variance > 0 and math.isfinite(loss) and loss >= ratio * variance:
        return Finding("no better than the mean", None,
                       {"epochs": len(epoch_losses), "loss": loss, "variance": variance})
    return None


def no_better_than_chance(epoch_losses: list, label_entropies: list, *, epochs: int = 5,
                          ratio: float = 0.9) -> Finding | None:
    """A cross-entropy that, after ``epochs`` epochs, is still at least ``ratio`` of the entropy
    of the labels' frequencies (the mean of ``label_entropies``, one per checked batch): what
    always predicting those frequencies scores, a classifier at chance (as a whole-number
    regression target trained as thousands of classes ends). Evidence: epochs, loss, entropy."""
    if len(epoch_losses) < epochs or not label_entropies:
        return None
    entropy = float(np.mean(label_entropies))
    loss = epoch_losses[-1]
    if entropy > 0 and math.isfinite(loss) and loss >= ratio * entropy:
        return Finding("no better than chance", None,
                       {"epochs": len(epoch_losses), "loss": loss, "entropy": entropy})
    return None


def saturated_units(layer: str, fraction: float, *, at_start: bool, module: str = "Sigmoid",
                    init_limit: float = 0.1, limit: float = 0.5) -> Finding | None:
    """A sigmoid or tanh layer with more than ``init_limit`` of its outputs saturated at the
    start of training, before any update (the initialisation is too wide), or more than
    ``limit`` later (a trained network may use its tails on purpose, hence the higher bar).
    Evidence: fraction, module (its class name), at_start, margin."""
    if (at_start and fraction > init_limit) or fraction > limit:
        return Finding("saturated units", layer,
                       {"fraction": fraction, "module": module,
                        "at_start": bool(at_start and fraction > init_limit),
                        "margin": SATURATION_MARGIN})
    return None


def dead_units(layer: str, fraction: float, units: int, *, module: str = "ReLU",
               limit: float = 0.5) -> Finding | None:
    """A ReLU layer with more than ``limit`` of its ``units`` dead (output 0 for every sample:
    they get no gradient and never recover). Evidence: dead (how many), units, module."""
    if fraction > limit:
        return Finding("dead ReLUs", layer,
                       {"dead": round(fraction * units), "units": units, "module": module})
    return None


def _others(found, shown) -> list:
    """The names in ``found`` (tuples, name second) other than ``shown``, in order."""
    return [name for _, name, *_ in found if name != shown]


# ----- the data ------------------------------------------------------------------------------

def _first_non_finite(array):
    """(count, index tuple, value) of the NaN and Inf in a float array, or None."""
    array = getattr(array, "_data", array)  # a Tensor's array
    if is_device_array(array):  # (only looked at when something is already NaN or Inf)
        array = to_numpy(array)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    finite = np.isfinite(array)
    if finite.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~finite)[0])
    return int(finite.size - np.count_nonzero(finite)), index, array[index]


def _where_in(index) -> str:
    """'row 5, column 1' for a (row, column) index; 'row 5' or 'row 5, index (1, 2)' otherwise."""
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}"
    return f"row {index[0]}, index {index[1:]}"


def _described(prefix: str, inputs, targets) -> str | None:
    """'<prefix> inputs hold nan at row 5, column 1 (3 values are NaN or Inf)' for the first of
    inputs and targets that holds NaN or Inf, or None."""
    for name, array in (("inputs", inputs), ("targets", targets)):
        found = _first_non_finite(array)
        if found is not None:
            count, index, value = found
            more = f" ({count} values are NaN or Inf)" if count > 1 else ""
            return f"{prefix} {name} hold {value} at {_where_in(index)}{more}"
    return None


def _non_finite_in_data(data, which: str) -> str | None:
    """Where fit's training or validation data holds NaN or Inf, when it can be seen without
    drawing a batch (an (inputs, targets) pair, a TensorDataset, a DataLoader over one); rows
    counted from 0 as in the arrays. None for clean data or data it cannot see."""
    data = getattr(data, "dataset", data)  # a DataLoader's dataset
    arrays = getattr(data, "tensors", data)  # a TensorDataset's tensors
    if not isinstance(arrays, (tuple, list)) or not 1 <= len(arrays) <= 2:
        return None
    return _described(f"the {which}", arrays[0], arrays[1] if len(arrays) > 1 else None)


def bad_data(data, which: str) -> Finding | None:
    """NaN or Inf in fit's ``which`` ('training' or 'validation') data, seen before training where
    the arrays can be seen (an (inputs, targets) pair, a TensorDataset, a DataLoader over one).
    Evidence: found (where, as a phrase)."""
    found = _non_finite_in_data(data, which)
    return None if found is None else Finding("bad data", which, {"found": found})


def bad_batch(inputs, targets, what: str) -> Finding | None:
    """The current batch holds NaN or Inf, which made ``what`` (the loss, the gradients) non-finite:
    the data is the cause, not the training. Evidence: what, found."""
    found = _described("the batch's", inputs, targets)
    return None if found is None else Finding("bad data", "batch", {"what": what, "found": found})
