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

Each warning is a sentence in ``warnings`` and a ``Finding`` (kind, step, epoch, sentence) in
``findings``. A remedy names the settings as ``names`` says: ``lr`` and ``clip_norm=1`` by
default; a command passes its flags (``--lr``, ``--clip-norm 1``).

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
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from .callbacks import Callback, TrainState

__all__ = ["HealthMonitor", "Finding", "LIBRARY_NAMES"]

SATURATION_MARGIN = 0.01  # "within 0.01 of the asymptotes"


def _norm(array) -> float:
    """||a||_2 of all elements, summed in float64 (float32 squares of 1e20 would overflow)."""
    flat = array.astype(np.float64, copy=False).ravel()
    return math.sqrt(flat.dot(flat))


def _median(values) -> float:
    """The median of a short list (plain Python: np.median costs ~20 us a call on small lists)."""
    n = len(values)
    if n == 0:
        return float("nan")
    ordered = sorted(values)
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def _also(found, shown) -> str:
    """ ', also 0.bias and 2.weight' for the other parameters in ``found`` (tuples, name second)."""
    others = [name for _, name, *_ in found if name != shown]
    return f"; also {', '.join(others)}" if others else ""


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
            captured[_name] = output._data

        handles.append(module.register_forward_hook(keep))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


@dataclass
class Finding:
    """One thing the monitor found: its kind ("exploding gradients", "saturated units", ...),
    where (the step, counted from 0, and the epoch), and the sentence that words it."""

    kind: str
    step: int
    epoch: int
    text: str


# How a warning names the settings it suggests changing. A command passes its flags instead
# (chainrule's commands: {"lr": "--lr", "clip_norm": "--clip-norm 1"}).
LIBRARY_NAMES = {"lr": "lr", "clip_norm": "clip_norm=1"}


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
        state["findings"] = [[f.kind, f.step, f.epoch, f.text] for f in self.findings]
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
        self.findings = [Finding(*entry) for entry in state.get("findings", [])] or [
            Finding(kind, step, None, text)
            for (step, kind), text in zip(self.warning_steps, self.warnings)]
        self._before = None
        self._resumed = True

    def _where(self, state: TrainState) -> str:
        return f"epoch {state.epoch} step {self._step}"

    def _warn(self, state: TrainState, key, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        self.warnings.append(message)
        self.warning_steps.append((self._step, message.split(":")[0]))
        self.findings.append(Finding(message.split(":")[0], self._step, state.epoch, message))
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
            variance = float(np.var(np.asarray(state.targets._data, dtype=np.float64)))
            # in the reported loss's units: for an MSE on targets scaled by 1/std, the scale is std^2
            self._target_variances.append(variance * state.loss_scale)
        elif _is_cross_entropy(state.loss_fn) and state.targets is not None:
            labels = np.asarray(state.targets._data).reshape(-1)
            if labels.dtype.kind in "iu" and labels.size:
                frequencies = np.bincount(labels) / labels.size
                frequencies = frequencies[frequencies > 0]
                self._label_entropies.append(float(-(frequencies * np.log(frequencies)).sum()))
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
            self._check_updates(state)
        if state.loss is not None:
            self._check_loss(state, float(state.loss))
        self._step += 1

    def on_epoch_end(self, state: TrainState) -> None:
        losses = self.losses[self._epoch_start:]
        self._epoch_start = len(self.losses)
        if not losses:
            return
        self.epoch_losses.append(float(np.mean(losses)))
        self._check_stall(state)
        self._check_no_better_than_mean(state)
        self._check_no_better_than_chance(state)

    # ----- checks ----------------------------------------------------------------------------
    def _check_gradients(self, state: TrainState) -> None:
        exploding = []  # (how many times its median, name, norm, median)
        for name, norms in self.grad_norms.items():
            g = norms[-1]
            finite = self._finite_norms[name]
            earlier = finite[-self.reference - 1:-1] if math.isfinite(g) else finite[-self.reference:]
            if not earlier:
                continue
            median = _median(earlier)
            if not math.isfinite(g):
                exploding.append((math.inf, name, g, median))
            elif g > self.explode_factor * max(median, 1e-12):
                exploding.append((g / max(median, 1e-12), name, g, median))
        if exploding:
            _, name, g, median = max(exploding)
            self._warn(state, "exploding",
                       f"exploding gradients: {name} grad norm {g:.2g} at {self._where(state)} "
                       f"(median {median:.2g}){_also(exploding, name)}; try "
                       f"{self.names['clip_norm']} or a lower {self.names['lr']}")
        if len(self.checked_steps) % self.window:
            return  # judge vanishing once per window of fresh evidence
        weights = [n for n, p in self.params.items() if p._data.ndim >= 2]
        if len(weights) < 2:
            return
        recent = {n: _median(self.grad_norms[n][-self.window:]) for n in weights}
        largest = max(recent, key=recent.get)
        if not (math.isfinite(recent[largest]) and recent[largest] > 0):
            return
        vanishing = [(recent[n] / recent[largest], n, recent[n], None) for n in weights
                     if recent[n] < self.vanish_ratio * recent[largest]]
        if vanishing:
            ratio, name, g, _ = min(vanishing)
            self._warn(state, "vanishing",
                       f"vanishing gradients: {name} grad norm {g:.2g} (median of the last "
                       f"{self.window} checks, to {self._where(state)}), {ratio:.1g} times "
                       f"{largest}'s {recent[largest]:.2g}{_also(vanishing, name)}; that layer has "
                       "almost stopped learning: check for saturated units, try a smaller "
                       "initialisation or ReLU")

    def _check_updates(self, state: TrainState) -> None:
        if len(self.checked_steps) % self.window:
            return  # judge once per window of fresh evidence
        large = []
        for name, ratios in self.update_ratios.items():
            if len(ratios) >= self.window:
                recent = _median(ratios[-self.window:])
                if recent > self.update_ratio_limit:
                    large.append((recent, name, recent, None))
        if large:
            ratio, name, _, _ = max(large)
            self._warn(state, "updates",
                       f"large updates: each step changes {name} by {ratio:.2g} times its own size "
                       f"(median of the last {self.window} checks, to {self._where(state)}; about "
                       f"1e-3 is typical){_also(large, name)}; try a lower "
                       f"{self.names['lr']}")

    def _check_loss(self, state: TrainState, loss: float) -> None:
        self.losses.append(loss)
        if not math.isfinite(loss):
            previous = self.losses[-2] if len(self.losses) > 1 else None
            before = f" (it was {previous:.3g} the step before)" if previous is not None else ""
            stopping = "; training stopped" if self.stop_on_nan else ""
            self._warn(state, "divergence: nan",
                       f"divergence: the loss became {loss} at {self._where(state)}{before}"
                       f"{stopping}; try a lower {self.names['lr']} or {self.names['clip_norm']}")
            if self.stop_on_nan:
                state.stop = True
            return
        first = self.losses[0]
        if math.isfinite(first) and first > 0 and loss > self.diverge_factor * first:
            self._warn(state, "divergence: rising",
                       f"divergence: the loss rose from {first:.3g} at the first step to {loss:.3g} "
                       f"at {self._where(state)}; try a lower {self.names['lr']} or "
                       f"{self.names['clip_norm']}")

    def _check_stall(self, state: TrainState) -> None:
        recent = self.epoch_losses[-self.stall_epochs:]
        if len(recent) < self.stall_epochs or not all(math.isfinite(v) for v in recent):
            return
        high, low = max(recent), min(recent)
        if high - low <= self.stall_tolerance * abs(high):
            self._warn(state, "stall",
                       f"stall: the epoch loss stayed within {self.stall_tolerance:.1%} of {low:.4g} "
                       f"for {self.stall_epochs} epochs (to epoch {state.epoch}); if that is not the "
                       f"loss you expect, try a higher {self.names['lr']}, momentum, or check for "
                       "saturated units")

    def _check_no_better_than_mean(self, state: TrainState) -> None:
        """An MSE that, after ``mean_epochs`` epochs, is still near the variance of the targets is
        what always predicting their mean scores: the network has learned almost nothing. (The
        seed network with its hand-derived backward ends exactly there.)"""
        if len(self.epoch_losses) < self.mean_epochs or not self._target_variances:
            return
        variance = float(np.mean(self._target_variances))
        loss = self.epoch_losses[-1]
        if variance > 0 and math.isfinite(loss) and loss >= self.mean_ratio * variance:
            self._warn(state, "no better than the mean",
                       f"no better than the mean: after {len(self.epoch_losses)} epochs the training "
                       f"MSE {loss:.4g} is {loss / variance:.0%} of the targets' variance "
                       f"{variance:.4g}, which is what always predicting their mean scores; the "
                       "network has learned almost nothing. If you wrote a backward by hand, check "
                       f"it with chainrule.gradcheck; otherwise try a higher {self.names['lr']} or "
                       "more epochs")

    def _check_no_better_than_chance(self, state: TrainState) -> None:
        """A cross-entropy that, after ``mean_epochs`` epochs, is still near the entropy of the
        labels' frequencies is what always predicting those frequencies scores: a classifier at
        chance (as a whole-number regression target trained as thousands of classes ends)."""
        if len(self.epoch_losses) < self.mean_epochs or not self._label_entropies:
            return
        entropy = float(np.mean(self._label_entropies))
        loss = self.epoch_losses[-1]
        if entropy > 0 and math.isfinite(loss) and loss >= self.mean_ratio * entropy:
            self._warn(state, "no better than chance",
                       f"no better than chance: after {len(self.epoch_losses)} epochs the training "
                       f"cross-entropy {loss:.4g} is {loss / entropy:.0%} of {entropy:.4g}, the "
                       "entropy of the labels' frequencies, which is what always predicting those "
                       "frequencies scores; the classifier has learned almost nothing. Check that "
                       "the target holds classes (not a number to regress), or try a higher "
                       f"{self.names['lr']} or more epochs")

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
            kind = record["kind"]
            if kind == "relu":
                # a unit is a feature (N, F), or a channel of a feature map (N, C, H, W): its
                # every output over the probe samples (and positions) is 0 when it is dead
                if y.ndim > 2:
                    units = np.moveaxis(y, 1, -1).reshape(-1, y.shape[1])
                else:
                    units = y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(1, -1)
                fraction = float(np.mean(np.all(units <= 0, axis=0)))
            else:
                low = 0.0 if kind == "sigmoid" else -1.0
                fraction = float(np.mean((y - low < SATURATION_MARGIN) | (1.0 - y < SATURATION_MARGIN)))
            record["steps"].append(self._step)
            record["fraction"].append(fraction)
            module_kind = type(self._activation_modules[name]).__name__
            if kind == "relu" and fraction > self.dead_limit:
                units_total = units.shape[-1]
                self._warn(state, ("dead", name),
                           f"dead ReLUs: {round(fraction * units_total)} of {units_total} units of "
                           f"layer {name} ({module_kind}) output 0 for every probe sample at "
                           f"{self._where(state)}; they get no gradient and never recover: try a "
                           f"lower {self.names['lr']}, LeakyReLU, or a smaller initialisation")
            elif kind != "relu" and self._step == 0 and fraction > self.init_saturation_limit:
                self._warn(state, ("saturated", name),
                           f"saturated units: {fraction:.0%} of the outputs of layer {name} "
                           f"({module_kind}) are within {SATURATION_MARGIN} of their asymptotes at "
                           f"the start of training, before any update, where their derivative is "
                           f"nearly 0: the initial weights are too large; try a smaller "
                           "initialisation (the default U(-1/sqrt(fan_in), 1/sqrt(fan_in))) or "
                           "standardised inputs")
            elif kind != "relu" and fraction > self.saturation_limit:
                self._warn(state, ("saturated", name),
                           f"saturated units: {fraction:.0%} of the outputs of layer {name} "
                           f"({module_kind}) are within {SATURATION_MARGIN} of their asymptotes at "
                           f"{self._where(state)}, where their derivative is nearly 0 and little "
                           "gradient passes; if the loss stops falling, try standardised inputs "
                           "and targets, or a smaller initialisation")

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
