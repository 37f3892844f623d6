"""HealthMonitor: a fit-loop callback that watches a training run and says in plain words what is
going wrong, with the evidence and a remedy.

    fit(model, ..., callbacks=[HealthMonitor()])

The seed network (2-10-1 sigmoid) with weights drawn from U(-4, 4) and lr 5 gives, in order:

    saturated units: 26% of the outputs of layer 1 (Sigmoid) are within 0.01 of their asymptotes
        at the start of training, before any update, where their derivative is nearly 0: the
        initial weights are too large; try a smaller initialisation (...) or standardised inputs
    exploding gradients: 2.bias grad norm 1.6e+02 at epoch 1 step 2 (median 2.8); try
        --clip-norm 1 or a lower --lr
    divergence: the loss rose from 87.8 at the first step to 1.28e+06 at epoch 1 step 3; ...
    large updates: each step changes 2.bias by 14 times its own size (...); try a lower --lr
    divergence: the loss became inf at epoch 1 step 17 (it was 2.3e+34 the step before); training
        stopped; try a lower --lr or --clip-norm 1

What it records, per parameter (names from ``model.named_parameters()``):
    gradient norm ||g||                      at every checked step (after backward, before clipping)
    update-to-weight ratio ||delta W|| / ||W||   the relative size of the optimizer's step
and per activation module (Sigmoid, Tanh, ReLU found in ``model.named_modules()``):
    saturated fraction   sigmoid/tanh outputs within 0.01 of an asymptote (0 or 1; -1 or 1), where
                         the local derivative is nearly 0 and little gradient passes
    dead fraction        ReLU units that output 0 for every sample of the probe batch (in a conv
                         feature map (N, C, H, W) a unit is a channel, 0 at every position)
and the training loss at every step (the loss trend is its mean per epoch).

The monitor records; the detectors judge; this module words. The detectors
(``chainrule.training.detectors``) are pure functions over the records that return a ``Finding``
(kind, where, evidence) or None; the monitor stamps the step and epoch, and ``word(finding,
names)`` turns it into the sentence. Each warning is that sentence in ``warnings`` and the
``Finding`` (with its ``text``) in ``findings``. A remedy names the settings as ``names`` says:
``lr`` and ``clip_norm=1`` by default; a command passes its flags (``--lr``, ``--clip-norm 1``).

What it recognises (each kind of warning once per run, or once per layer for activations; the
parameter shown is the worst, the others affected at that step follow "also"). Warnings go into
``state.messages``, which fit prints at the end of the epoch; ``verbose=True`` also prints each to
stderr the moment it is found:
    exploding gradients   ||g|| above ``explode_factor`` x the median of its last ``reference``
                          checks, or not finite
    vanishing gradients   a weight's ||g|| below ``vanish_ratio`` x the largest weight gradient, over
                          the last ``window`` checks
    large updates         ||delta W|| / ||W|| above ``update_ratio_limit`` over the last ``window``
    divergence            a NaN or Inf loss (training is then stopped, unless stop_on_nan=False), or
                          a loss ``diverge_factor`` x above the first step's
    bad data              NaN or Inf in the data, named before training (row and column) where fit
                          can see the arrays (an (inputs, targets) pair, a TensorDataset, a
                          DataLoader over one); a NaN or Inf loss or gradient on a batch that
                          holds NaN or Inf is blamed on the data, never reported as divergence
                          or exploding gradients (and stops training as a NaN loss does)
    stall                 the epoch's mean loss within ``stall_tolerance`` (relative) for
                          ``stall_epochs`` epochs in a row
    no better than mean   with an MSE loss, after ``mean_epochs`` epochs the epoch loss still at
                          least ``mean_ratio`` (90%) of the targets' variance: what always
                          predicting their mean scores (where the seed's wrong backward ends)
    no better than chance with a cross-entropy loss, after ``mean_epochs`` epochs the epoch loss
                          still at least ``mean_ratio`` of the entropy of the labels' frequencies:
                          what always predicting those frequencies scores (a classifier at chance)
    saturation            more than ``init_saturation_limit`` (10%) of a layer's outputs saturated
                          at the first step, before any update (the initialisation is too wide),
                          or more than ``saturation_limit`` (50%) later. A trained network may
                          use its sigmoids' tails on purpose: the seed network trained with the
                          defaults has about 30% of its outputs saturated after 20 epochs while
                          its loss keeps falling, hence the higher bar once training has begun
    dead ReLUs            more than ``dead_limit`` (half) of a layer's units dead (a run that learns
                          well may lose a few units; losing most is the problem)

Cost: gradient norms and update ratios are computed at every step for the first ``dense_steps``
steps (explosions usually start there) and then every ``every`` steps; the activations come from a
small probe forward (``probe_size`` rows of the current batch, under no_grad, in eval mode and with
the random state restored, so training is unchanged) every ``probe_every`` steps. On the seed
workload (batch 500) this costs about 5% (benchmarks/health_overhead.py measures it).

Activations called as functions inside a custom ``forward`` (``x.sigmoid()``) are not seen; use the
activation modules (``nn.Sigmoid()``) to have them watched.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager

import numpy as np

from ..backend import to_numpy
from ..autograd import no_grad
from . import detectors
from .callbacks import Callback, TrainState
from .detectors import Finding
from .detectors import median as _median
from .detectors import norm as _norm

__all__ = ["HealthMonitor", "Finding", "LIBRARY_NAMES", "word"]


def _activation_kind(module) -> str | None:
    from ..nn.activation import ReLU, Sigmoid, Tanh

    if isinstance(module, Sigmoid):
        return "sigmoid"
    if isinstance(module, Tanh):
        return "tanh"
    if isinstance(module, ReLU):
        return "relu"
    return None


@contextmanager
def _capture_outputs(modules: dict):
    """While active, each module in ``modules`` (name -> module) stores its last output array in
    the returned dict, through a forward hook (removed on exit)."""
    captured = {}
    handles = []
    for name, module in modules.items():
        def keep(module, args, output, _name=name):
            captured[_name] = to_numpy(output._data)  # (from a GPU: a copy to the host)

        handles.append(module.register_forward_hook(keep))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


# How a warning names the settings it suggests changing. A command passes its flags instead
# (chainrule's commands: {"lr": "--lr", "clip_norm": "--clip-norm 1"}).
LIBRARY_NAMES = {"lr": "lr", "clip_norm": "clip_norm=1"}


# ----- wording: a finding's sentence, with its evidence and a remedy -------------------------

def _also(others) -> str:
    """'; also 0.bias, 2.weight' for the other parameters a detector found at the same step."""
    return f"; also {', '.join(others)}" if others else ""


def _at(finding) -> str:
    return f"epoch {finding.epoch} step {finding.step}"


def _exploding(f, names):
    e = f.evidence
    return (f"exploding gradients: {f.where} grad norm {e['norm']:.2g} at {_at(f)} "
            f"(median {e['median']:.2g}){_also(e['also'])}; try "
            f"{names['clip_norm']} or a lower {names['lr']}")


def _vanishing(f, names):
    e = f.evidence
    return (f"vanishing gradients: {f.where} grad norm {e['norm']:.2g} (median of the last "
            f"{e['window']} checks, to {_at(f)}), {e['ratio']:.1g} times "
            f"{e['largest']}'s {e['largest_norm']:.2g}{_also(e['also'])}; that layer has "
            "almost stopped learning: check for saturated units, try a smaller "
            "initialisation or ReLU")


def _updates(f, names):
    e = f.evidence
    return (f"large updates: each step changes {f.where} by {e['ratio']:.2g} times its own size "
            f"(median of the last {e['window']} checks, to {_at(f)}; about "
            f"1e-3 is typical){_also(e['also'])}; try a lower {names['lr']}")


def _divergence(f, names):
    e = f.evidence
    if "first" in e:
        return (f"divergence: the loss rose from {e['first']:.3g} at the first step to "
                f"{e['loss']:.3g} at {_at(f)}; try a lower {names['lr']} or {names['clip_norm']}")
    before = f" (it was {e['previous']:.3g} the step before)" if e["previous"] is not None else ""
    stopping = "; training stopped" if e.get("stopped") else ""
    return (f"divergence: the loss became {e['loss']} at {_at(f)}{before}{stopping}; try a lower "
            f"{names['lr']} or {names['clip_norm']}")


def _stall(f, names):
    e = f.evidence
    return (f"stall: the epoch loss stayed within {e['tolerance']:.1%} of {e['low']:.4g} "
            f"for {e['epochs']} epochs (to epoch {f.epoch}); if that is not the "
            f"loss you expect, try a higher {names['lr']}, momentum, or check for "
            "saturated units")


def _mean(f, names):
    e = f.evidence
    return (f"no better than the mean: after {e['epochs']} epochs the training "
            f"MSE {e['loss']:.4g} is {e['loss'] / e['variance']:.0%} of the targets' variance "
            f"{e['variance']:.4g}, which is what always predicting their mean scores; the "
            "network has learned almost nothing. If you wrote a backward by hand, check "
            f"it with chainrule.gradcheck; otherwise try a higher {names['lr']} or "
            "more epochs")


def _chance(f, names):
    e = f.evidence
    return (f"no better than chance: after {e['epochs']} epochs the training "
            f"cross-entropy {e['loss']:.4g} is {e['loss'] / e['entropy']:.0%} of "
            f"{e['entropy']:.4g}, the entropy of the labels' frequencies, which is what always "
            "predicting those frequencies scores; the classifier has learned almost nothing. "
            "Check that the target holds classes (not a number to regress), or try a higher "
            f"{names['lr']} or more epochs")


def _saturated(f, names):
    e = f.evidence
    start = (f"saturated units: {e['fraction']:.0%} of the outputs of layer {f.where} "
             f"({e['module']}) are within {e['margin']} of their asymptotes at ")
    if e["at_start"]:
        return start + ("the start of training, before any update, where their derivative is "
                        "nearly 0: the initial weights are too large; try a smaller "
                        "initialisation (the default U(-1/sqrt(fan_in), 1/sqrt(fan_in))) or "
                        "standardised inputs")
    return start + (f"{_at(f)}, where their derivative is nearly 0 and little "
                    "gradient passes; if the loss stops falling, try standardised inputs "
                    "and targets, or a smaller initialisation")


def _dead(f, names):
    e = f.evidence
    return (f"dead ReLUs: {e['dead']} of {e['units']} units of layer {f.where} ({e['module']}) "
            f"output 0 for every probe sample at {_at(f)}; they get no gradient and never "
            f"recover: try a lower {names['lr']}, LeakyReLU, or a smaller initialisation")


def _bad_data(f, names):
    e = f.evidence
    if f.where == "batch":
        stopping = "; training stopped" if e.get("stopped") else ""
        return (f"bad data: {e['what']} at {_at(f)} because {e['found']}: the data is the cause, not "
                f"the training{stopping}; remove or fill the NaN and Inf values in the data")
    return (f"bad data: {e['found']}; the loss and gradients of every batch holding it will be NaN "
            "or Inf because of the data, not of the training: remove or fill those values first")


_WORDING = {"bad data": _bad_data, "exploding gradients": _exploding, "vanishing gradients": _vanishing,
            "large updates": _updates, "divergence": _divergence, "stall": _stall,
            "no better than the mean": _mean, "no better than chance": _chance,
            "saturated units": _saturated, "dead ReLUs": _dead}


def word(finding: Finding, names: dict | None = None) -> str:
    """The sentence for a detector's finding: what, where, the evidence, and a remedy that names
    the settings as ``names`` says (``LIBRARY_NAMES`` by default; a command passes its flags).

    >>> finding = detectors.divergence([2.0, 20.0, 150.0, 250.0], factor=100.0)
    >>> finding.step, finding.epoch = 3, 1
    >>> print(word(finding, {"lr": "--lr", "clip_norm": "--clip-norm 1"}))
    divergence: the loss rose from 2 at the first step to 250 at epoch 1 step 3; try a lower --lr
    or --clip-norm 1
    """
    if finding.kind not in _WORDING:
        raise ValueError(f"word: no wording for a finding of kind {finding.kind!r}; the kinds are "
                         f"{', '.join(map(repr, _WORDING))}.")
    return _WORDING[finding.kind](finding, {**LIBRARY_NAMES, **(names or {})})


def _key(finding: Finding):
    """What makes two findings the same warning, given once per run (once per layer for
    activations). These keys are stored in checkpoints: keep them as they are."""
    if finding.kind == "divergence":
        return "divergence: rising" if "first" in finding.evidence else "divergence: nan"
    if finding.kind == "bad data":
        return "bad data: batch" if finding.where == "batch" else ("bad data", finding.where)
    if finding.kind in ("saturated units", "dead ReLUs"):
        return ("saturated" if finding.kind == "saturated units" else "dead", finding.where)
    return {"exploding gradients": "exploding", "vanishing gradients": "vanishing",
            "large updates": "updates"}.get(finding.kind, finding.kind)


class HealthMonitor(Callback):
    """Watch gradients, updates, activations and the loss during fit, and warn with a remedy.

    Attach it with ``callbacks=[HealthMonitor()]``; afterwards ``monitor.report()`` is a plain-text
    summary and ``chainrule.apps.plot.health_curves(monitor, 'health.png')`` draws the gradient
    norms per layer over training.
    The thresholds are arguments; the defaults stay silent on a healthy run.
    """

    def __init__(self, every: int = 20, dense_steps: int = 10, probe_every: int = 200,
                 probe_size: int = 256, window: int = 5, reference: int = 20,
                 explode_factor: float = 50.0,
                 vanish_ratio: float = 1e-5, update_ratio_limit: float = 1.0,
                 diverge_factor: float = 100.0, stall_epochs: int = 5, stall_tolerance: float = 1e-3,
                 init_saturation_limit: float = 0.1, saturation_limit: float = 0.5,
                 dead_limit: float = 0.5, mean_epochs: int = 5, mean_ratio: float = 0.9,
                 stop_on_nan: bool = True,
                 verbose: bool = False, file=None, names=None):
        for name, value in (("every", every), ("probe_every", probe_every),
                            ("probe_size", probe_size), ("window", window), ("reference", reference),
                            ("stall_epochs", stall_epochs), ("mean_epochs", mean_epochs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"The '{name}' parameter of HealthMonitor must be an int >= 1. "
                                 f"Got {value!r} instead.")
        if isinstance(dense_steps, bool) or not isinstance(dense_steps, int) or dense_steps < 0:
            raise ValueError(f"The 'dense_steps' parameter of HealthMonitor must be an int >= 0. "
                             f"Got {dense_steps!r} instead.")
        for name, value in (("vanish_ratio", vanish_ratio), ("update_ratio_limit", update_ratio_limit),
                            ("stall_tolerance", stall_tolerance)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"The '{name}' parameter of HealthMonitor must be a number > 0. "
                                 f"Got {value!r} instead.")
        for name, value in (("explode_factor", explode_factor), ("diverge_factor", diverge_factor)):
            if not (isinstance(value, (int, float)) and value > 1):
                raise ValueError(f"The '{name}' parameter of HealthMonitor must be a number > 1. "
                                 f"Got {value!r} instead.")
        for name, value in (("init_saturation_limit", init_saturation_limit),
                            ("saturation_limit", saturation_limit), ("dead_limit", dead_limit),
                            ("mean_ratio", mean_ratio)):
            if not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ValueError(f"The '{name}' parameter of HealthMonitor must be a fraction in "
                                 f"[0, 1]. Got {value!r} instead.")
        self.every, self.dense_steps = every, dense_steps
        self.probe_every, self.probe_size, self.window = probe_every, probe_size, window
        self.reference = reference
        self.explode_factor, self.vanish_ratio = explode_factor, vanish_ratio
        self.update_ratio_limit, self.diverge_factor = update_ratio_limit, diverge_factor
        self.stall_epochs, self.stall_tolerance = stall_epochs, stall_tolerance
        self.init_saturation_limit = init_saturation_limit
        self.saturation_limit, self.dead_limit = saturation_limit, dead_limit
        self.mean_epochs, self.mean_ratio = mean_epochs, mean_ratio
        self.stop_on_nan, self.verbose, self.file = stop_on_nan, verbose, file
        self.names = {**LIBRARY_NAMES, **(names or {})}  # how a remedy names lr and clipping
        self._reset()
        self._resumed = False  # records loaded from a checkpoint: the next fit continues them

    # ----- records ---------------------------------------------------------------------------
    def _reset(self) -> None:
        self.params = {}  # name -> Parameter
        self.checked_steps = []  # steps at which gradient norms were taken
        self.grad_norms = {}  # name -> [norm per checked step]
        self.weight_norms = {}  # name -> [||W|| before the step, per checked step]
        self.update_ratios = {}  # name -> [||delta W|| / ||W|| per checked step]
        self.activations = {}  # layer name -> {"kind", "steps": [], "fraction": []}
        self.losses = []  # training loss at every step
        self.epoch_losses = []  # mean training loss per epoch
        self._target_variances = []  # batch target variance at checked steps (MSE runs only)
        self.warnings = []
        self.warning_steps = []  # (step, kind) of each warning, for the plot
        self.findings = []  # Finding of each warning
        self._label_entropies = []  # entropy of the batch's class frequencies (cross-entropy runs)
        self._warned = set()
        self._step = 0
        self._before = None  # parameter arrays copied before a checked step
        self._epoch_start = 0
        self._activation_modules = {}
        self._finite_norms = {}

    def on_train_begin(self, state: TrainState) -> None:
        if not self._resumed:  # a fresh run; a resumed one goes on with the records it loaded
            self._reset()
        self._resumed = False
        for data, which in ((state.train_data, "training"), (state.val_data, "validation")):
            # said first: NaN and Inf in the data are no training problem
            self._warn(state, detectors.bad_data(data, which))
        self.params = {name: p for name, p in state.model.named_parameters() if p.requires_grad}
        for name in self.params:
            for records in (self.grad_norms, self.weight_norms, self.update_ratios,
                            self._finite_norms):  # (finite grad norms: the explosion reference)
                records.setdefault(name, [])
        self._activation_modules = {}
        for name, module in state.model.named_modules():
            kind = _activation_kind(module)
            if kind is not None:
                self._activation_modules[name] = module
                self.activations.setdefault(name, {"kind": kind, "steps": [], "fraction": []})

    # ----- saving and loading: a resumed run continues its records ----------------------------
    _RECORDS = ("checked_steps", "grad_norms", "weight_norms", "update_ratios", "_finite_norms",
                "activations", "losses", "epoch_losses", "_target_variances", "warnings",
                "warning_steps", "_step", "_epoch_start")

    def state_dict(self) -> dict:
        """The records so far, as numbers, strings, lists and dicts (for a checkpoint), so that a
        resumed run is watched as if it had never stopped: its report covers every epoch, and
        "at the start of training" means the real start."""
        state = {name: _packed(getattr(self, name)) for name in self._RECORDS}
        state["_label_entropies"] = _packed(self._label_entropies)
        state["findings"] = [[f.kind, f.step, f.epoch, f.text, f.where, dict(f.evidence)]
                             for f in self.findings]
        state["warned"] = sorted(self._warned, key=repr)  # (a set; a checkpoint holds lists)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Take the records of ``state_dict()``; the next ``fit`` continues them."""
        missing = [name for name in (*self._RECORDS, "warned") if name not in state]
        if missing:
            raise ValueError(f"HealthMonitor.load_state_dict: the state lacks {', '.join(missing)}.")
        for name in self._RECORDS:
            setattr(self, name, _unpacked(state[name]))
        self._warned = {tuple(key) if isinstance(key, list) else key for key in state["warned"]}
        # (runs saved before these were kept have none)
        self._label_entropies = _unpacked(state.get("_label_entropies", []))
        # (a finding is [kind, step, epoch, text, where, evidence]; runs saved before findings
        # held their evidence have the first four)
        self.findings = [_finding(entry) for entry in state.get("findings", [])] or [
            Finding(kind, step=step, text=text)
            for (step, kind), text in zip(self.warning_steps, self.warnings)]
        self._before = None
        self._resumed = True

    def _warn(self, state: TrainState, finding: Finding | None) -> None:
        """Word a detector's finding and warn with it, unless that warning was given already."""
        if finding is None:
            return
        key = _key(finding)
        if key in self._warned:
            return
        self._warned.add(key)
        finding.step, finding.epoch = self._step, state.epoch
        finding.text = message = word(finding, self.names)
        self.warnings.append(message)
        self.warning_steps.append((self._step, finding.kind))
        self.findings.append(finding)
        state.messages.append(message)
        if self.verbose:
            print(f"health: {message}", file=self.file or sys.stderr)

    # ----- hooks -----------------------------------------------------------------------------
    def on_after_backward(self, state: TrainState) -> None:
        step = self._step
        if self._activation_modules and step % self.probe_every == 0 and state.inputs is not None:
            self._probe(state)  # before the update: at step 0 this sees the initial weights
        if not self.params or (step >= self.dense_steps and step % self.every):
            return  # not a checked step
        self.checked_steps.append(self._step)
        if _is_mse(state.loss_fn) and state.targets is not None:  # what predicting the mean scores
            variance = float(np.var(to_numpy(state.targets._data).astype(np.float64)))
            # in the reported loss's units: for an MSE on targets scaled by 1/std, the scale is std^2
            self._target_variances.append(variance * state.loss_scale)
        elif _is_cross_entropy(state.loss_fn) and state.targets is not None:
            entropy = detectors.label_entropy(to_numpy(state.targets._data))
            if entropy is not None:
                self._label_entropies.append(entropy)
        self._before = {}
        for name, p in self.params.items():
            g = _norm(p.grad._data) if p.grad is not None else 0.0
            self.grad_norms[name].append(g)
            if math.isfinite(g):
                self._finite_norms[name].append(g)
            before = p._data.astype(np.float64)  # a copy, to measure the optimizer's step
            self.weight_norms[name].append(_norm(before))
            self._before[name] = before
        self._check_gradients(state)

    def on_step_end(self, state: TrainState) -> None:
        if self._before is not None:
            for name, p in self.params.items():
                change = _norm(p._data - self._before[name])
                self.update_ratios[name].append(change / (self.weight_norms[name][-1] or 1.0))
            self._before = None
            if len(self.checked_steps) % self.window == 0:  # once per window of fresh evidence
                self._warn(state, detectors.large_updates(
                    self.update_ratios, window=self.window, limit=self.update_ratio_limit))
        if state.loss is not None:
            self._check_loss(state, float(state.loss))
        self._step += 1

    def on_epoch_end(self, state: TrainState) -> None:
        losses = self.losses[self._epoch_start:]
        self._epoch_start = len(self.losses)
        if not losses:
            return
        self.epoch_losses.append(float(np.mean(losses)))
        self._warn(state, detectors.stall(self.epoch_losses, epochs=self.stall_epochs,
                                          tolerance=self.stall_tolerance))
        self._warn(state, detectors.no_better_than_mean(
            self.epoch_losses, self._target_variances, epochs=self.mean_epochs,
            ratio=self.mean_ratio))
        self._warn(state, detectors.no_better_than_chance(
            self.epoch_losses, self._label_entropies, epochs=self.mean_epochs,
            ratio=self.mean_ratio))

    # ----- checks: the detectors, called on the records ----------------------------------------
    def _bad_batch(self, state: TrainState, what: str) -> bool:
        """When the current batch holds NaN or Inf, say that the data (not the training) made
        ``what`` non-finite (stopping training as a NaN loss does), and return True."""
        finding = detectors.bad_batch(state.inputs, state.targets, what)
        if finding is None:
            return False
        finding.evidence["stopped"] = self.stop_on_nan
        self._warn(state, finding)
        if self.stop_on_nan:
            state.stop = True
        return True

    def _check_gradients(self, state: TrainState) -> None:
        if any(not math.isfinite(norms[-1]) for norms in self.grad_norms.values() if norms) \
                and self._bad_batch(state, "the gradients are NaN or Inf"):
            return
        self._warn(state, detectors.exploding_gradients(
            self.grad_norms, self._finite_norms, reference=self.reference,
            factor=self.explode_factor))
        if len(self.checked_steps) % self.window:
            return  # judge vanishing once per window of fresh evidence
        weights = {n: self.grad_norms[n] for n, p in self.params.items() if p._data.ndim >= 2}
        self._warn(state, detectors.vanishing_gradients(weights, window=self.window,
                                                        ratio=self.vanish_ratio))

    def _check_loss(self, state: TrainState, loss: float) -> None:
        self.losses.append(loss)
        if not math.isfinite(loss) and self._bad_batch(state, f"the loss is {loss}"):
            return
        finding = detectors.divergence(self.losses, factor=self.diverge_factor)
        if finding is not None and not math.isfinite(loss):
            finding.evidence["stopped"] = self.stop_on_nan
            if self.stop_on_nan:
                state.stop = True
        self._warn(state, finding)

    def _probe(self, state: TrainState) -> None:
        """Run the model on a few rows of the current batch and measure its activations."""
        from ..random import get_rng_state, set_rng_state
        from ..tensor import Tensor

        inputs = state.inputs if isinstance(state.inputs, (tuple, list)) else (state.inputs,)
        rows = [Tensor._from_op(x._data[: self.probe_size], None) if isinstance(x, Tensor) else x
                for x in inputs]
        model = state.model
        modes = [(m, m.training) for m in model.modules()]
        rng_state = get_rng_state()
        try:
            model.eval()
            with no_grad(), _capture_outputs(self._activation_modules) as outputs:
                model(*rows)
        finally:
            for m, training in modes:
                object.__setattr__(m, "training", training)
            set_rng_state(rng_state)
        for name, y in outputs.items():
            record = self.activations[name]
            module = type(self._activation_modules[name]).__name__
            if record["kind"] == "relu":
                fraction = detectors.dead_fraction(y)
                finding = detectors.dead_units(name, fraction, detectors.unit_count(y), module=module,
                                               limit=self.dead_limit)
            else:
                fraction = detectors.saturated_fraction(y, record["kind"])
                finding = detectors.saturated_units(
                    name, fraction, at_start=self._step == 0, module=module,
                    init_limit=self.init_saturation_limit, limit=self.saturation_limit)
            record["steps"].append(self._step)
            record["fraction"].append(fraction)
            self._warn(state, finding)

    # ----- summaries -------------------------------------------------------------------------
    def report(self) -> str:
        """A plain-text summary: per parameter the gradient norms and update ratios, per
        activation layer the saturated or dead fraction, the loss per epoch and every warning."""
        numbers = sum(p._data.size for p in self.params.values())
        lines = [f"training health: {len(self.params)} parameter tensors ({numbers} numbers), "
                 f"{self._step} steps, "
                 f"{len(self.epoch_losses)} epochs, {len(self.checked_steps)} checked steps"]
        if self.params:
            width = max(len("parameter"), *(len(n) for n in self.params))
            lines.append(f"  {'parameter':<{width}}  {'shape':<10}  {'grad norm: first':>16}  "
                         f"{'median':>8}  {'last':>8}  {'max':>8}  {'update/weight':>13}")
            for name, p in self.params.items():
                norms = self.grad_norms[name]
                finite = [v for v in norms if math.isfinite(v)]
                ratio = _median([v for v in self.update_ratios[name] if math.isfinite(v)])
                if not norms:
                    lines.append(f"  {name:<{width}}  {str(p._data.shape):<10}  (no checked step)")
                    continue
                lines.append(
                    f"  {name:<{width}}  {str(p._data.shape):<10}  {norms[0]:>16.3g}  "
                    f"{_median(finite):>8.3g}  {norms[-1]:>8.3g}  "
                    f"{(max(finite) if finite else float('nan')):>8.3g}  {ratio:>13.3g}"
                )
        for name, record in self.activations.items():
            what = "dead units" if record["kind"] == "relu" else "saturated outputs"
            if record["fraction"]:
                fractions = record["fraction"]
                lines.append(f"  layer {name} ({record['kind']}): {what} {fractions[0]:.1%} at the "
                             f"first probe, {fractions[-1]:.1%} at the last ({len(fractions)} probes)")
        if self.epoch_losses:
            shown = ", ".join(f"{v:.4g}" for v in self.epoch_losses[:10])
            more = f", ... ({len(self.epoch_losses)} epochs)" if len(self.epoch_losses) > 10 else ""
            lines.append(f"  loss per epoch: {shown}{more}")
        elif self.losses:
            lines.append(f"  loss: {self.losses[0]:.4g} at the first step, {self.losses[-1]:.4g} "
                         "at the last")
        if self.warnings:
            lines.append("warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        else:
            lines.append("no warnings: gradients, updates, activations and loss look healthy.")
        return "\n".join(lines)

    def write_report(self, run_dir) -> str:
        """Write health.txt (the report) into a run folder; return its path. (The figure of the
        records is ``chainrule.apps.plot.health_curves(monitor, path)``.)"""
        import os

        from ..files import atomic_write

        path = os.path.join(run_dir, "health.txt")
        with atomic_write(path, "w", what="HealthMonitor.write_report") as f:
            f.write(self.report() + "\n")
        return path


def _finding(entry) -> Finding:
    """A finding from its checkpoint entry [kind, step, epoch, text, where, evidence] (runs saved
    before findings held their evidence have the first four)."""
    kind, step, epoch, text, *rest = entry
    where, evidence = rest if len(rest) == 2 else (None, {})
    return Finding(kind, where, dict(evidence), step=step, epoch=epoch, text=text)


def _is_mse(loss_fn) -> bool:
    """Whether the run's loss is the mean squared error (module or function)."""
    from ..nn import MSELoss
    from ..nn.functional import mse_loss

    return isinstance(loss_fn, MSELoss) or loss_fn is mse_loss


def _is_cross_entropy(loss_fn) -> bool:
    """Whether the run's loss is the cross-entropy of class labels (module or function)."""
    from ..nn import CrossEntropyLoss
    from ..nn.functional import cross_entropy

    return isinstance(loss_fn, CrossEntropyLoss) or loss_fn is cross_entropy


def _packed(value):
    """A copy of a record for a checkpoint: lists of numbers (one per step, they grow with the
    run) as float64 or int64 arrays, which a checkpoint stores as binary, not as text."""
    if isinstance(value, dict):
        return {key: _packed(item) for key, item in value.items()}
    if isinstance(value, list):
        if value and all(type(v) is int for v in value):
            return np.array(value, dtype=np.int64)
        if value and all(type(v) in (int, float) for v in value):
            return np.array(value, dtype=np.float64)
        return list(value)  # (warnings: strings and tuples, never changed in place)
    return value


def _unpacked(value):
    """The record ``_packed`` copied, as the lists of Python numbers the monitor appends to."""
    if isinstance(value, dict):
        return {key: _unpacked(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else value
