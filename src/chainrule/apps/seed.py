"""The seed experiment, as a library: what ``chainrule seed`` runs.

The question chainrule grew from: a 2-10-1 sigmoid network learning z = 5a^2 + 3b^2
(a, b ~ N(0, 1)), trained with MSE and plain SGD, reached a validation MSE near 3 in PyTorch and
stuck near 56-68 with a hand-derived backward. Init and exploding gradients were blamed; the real
cause was a wrong derivative (see ``chainrule.handwritten.SeedSigmoidLayer``).

    settings = SeedSettings(epochs=50)
    result = run_seed(settings)                     # data, network, SGD, fit: one seeded run
    result.final_val_loss                           # about 3.4

    settings = SeedSettings(epochs=10)
    grid, derivative = run_sweep(settings, inits=[("torch-default", None)],
                                 treatments=["none", "clip-value:1"], lrs=[0.01, 0.1],
                                 seed_row_init=("uniform:-4:4", init_function))
    print(sweep_table(grid, derivative, settings))  # derivative: the seed's backward vs the right

The seed's setting, the derivative rows of the sweep: init uniform [-4, 4] and clip value 1. With
them the seed's backward ends near 65 (lr 0.01 and 0.1) after 10 epochs, no better than predicting
the mean; the same network with the right backward near 15 (lr 0.01) and 4 (lr 0.1).

One run, in order (so a seed reproduces it exactly):
    manual_seed(seed)
    a, b ~ N(0, 1), z = 5a^2 + 3b^2             (``samples`` rows, drawn in float64, then cast)
    70/30 train/validation split                 (a random permutation)
    network Linear(2, hidden), activation, Linear(hidden, 1), then ``init`` applied
    SGD(lr), MSELoss, DataLoader(batch_size, shuffle=True), chainrule.train.fit
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from .. import nn, optim
from .. import random as _random
from ..data import DataLoader, TensorDataset, train_val_split
from .plot import figure, log_scale_plain, save_figure
from ..handwritten import SeedSigmoidLayer, SigmoidLayer
from ..tensor import Tensor
from ..training.lifecycle import RunSpec, Setup
from ..training.loop import fit

__all__ = [
    "SeedSettings", "SeedSetup", "SeedRun", "SweepRow", "prepare_seed", "train_seed",
    "target_function", "make_data", "build_network",
    "HandwrittenSigmoidLinear", "network_shape", "count_parameters", "run_seed", "parse_treatment",
    "treatment_label", "run_sweep", "sweep_table", "model_function",
    "target_on_points",
    "DEFAULT_SWEEP_INITS", "DEFAULT_SWEEP_TREATMENTS", "DEFAULT_SWEEP_LRS",
    "SEED_ROW_INIT", "SEED_ROW_TREATMENT", "plot_loss_curves", "plot_sweep", "SeedRunSpec",
    "seed_builders", "init_function",
]

TARGET_FORMULA = "z = 5a^2 + 3b^2"

# The sweep's default grid: init x gradient treatment x lr (see run_sweep).
DEFAULT_SWEEP_INITS = ("torch-default", "uniform:-4:4", "xavier")
DEFAULT_SWEEP_TREATMENTS = ("none", "clip-value:0.5", "clip-value:1", "clip-value:2",
                            "clip-norm:1", "normalize")
DEFAULT_SWEEP_LRS = (0.01, 0.1)
# The seed author's own setting, used for the derivative rows: uniform [-4, 4] and clip value 1.
SEED_ROW_INIT = "uniform:-4:4"
SEED_ROW_TREATMENT = "clip-value:1"


@dataclass
class SeedSettings:
    """Every number of the seed experiment, with the seed's values as defaults."""

    samples: int = 100_000
    val_fraction: float = 0.3
    hidden: int | list = 10  # one size, or a list of sizes
    epochs: int = 50
    lr: float = 0.01
    batch_size: int = 500
    clip_value: float | None = None
    clip_norm: float | None = None
    normalize_grad: bool = False
    seed: int = 0
    dtype: str = "float32"


@dataclass
class SeedRun:
    """What one run leaves behind: the trained model, its History, the data, the twin if any."""

    settings: SeedSettings
    model: nn.Module
    optimizer: object
    history: object  # chainrule.train.History
    train_data: tuple  # (inputs, targets) NumPy arrays
    val_data: tuple
    seconds: float
    twin: object = None  # chainrule.torch_twin.TorchTwin when compare_torch was asked for

    @property
    def final_val_loss(self) -> float:
        return self.history.val_loss[-1] if self.history.val_loss else math.nan


# --------------------------------------------------------------------------------------------
# Data and network
# --------------------------------------------------------------------------------------------


def target_function(a, b):
    """The seed's target: z = 5a^2 + 3b^2."""
    return 5 * a**2 + 3 * b**2


def make_data(samples: int, dtype="float32", generator=None) -> tuple:
    """``samples`` points (a, b) ~ N(0, 1) as an (n, 2) array and z = 5a^2 + 3b^2 as (n, 1).

    Drawn in float64 from ``generator`` (default: chainrule's seeded generator), then cast to
    ``dtype``, so float32 and float64 runs see the same numbers up to rounding.
    """
    generator = generator if generator is not None else _random.default_generator()
    inputs = generator.standard_normal((samples, 2))
    targets = target_function(inputs[:, :1], inputs[:, 1:])
    return inputs.astype(dtype), targets.astype(dtype)


class HandwrittenSigmoidLinear(nn.Linear):
    """Linear(in, out) followed by a sigmoid, computed by one hand-written Function of
    ``chainrule.handwritten`` (``SigmoidLayer``, right, or ``SeedSigmoidLayer``, the seed's).

    It keeps Linear's parameters, names and default init, so a network with it starts from the
    same weights as Sequential(Linear, Sigmoid, ...) and differs only in the backward.
    """

    def __init__(self, in_features: int, out_features: int, function=SigmoidLayer, dtype=None):
        super().__init__(in_features, out_features, dtype=dtype)
        self.function = function

    def forward(self, x):
        return self.function.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, function={self.function.__name__}"


def build_network(hidden=10, activation=None, dtype="float32", hidden_function=None):
    """The seed network: Sequential(Linear(2, hidden), activation(), Linear(hidden, 1)).

    ``hidden`` is a size or a list of sizes (several hidden layers, an activation after each).
    ``activation`` is a function returning a fresh activation Module (default nn.Sigmoid).
    With ``hidden_function`` (a Function of chainrule.handwritten) the first two layers are one
    HandwrittenSigmoidLinear instead: Sequential(HandwrittenSigmoidLinear(2, hidden), Linear).
    """
    sizes = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    if hidden_function is not None:
        if len(sizes) != 1:
            raise ValueError(
                f"build_network: a hand-written hidden layer needs exactly one hidden size. Got "
                f"{sizes} instead."
            )
        return nn.Sequential(HandwrittenSigmoidLinear(2, sizes[0], hidden_function, dtype=dtype),
                             nn.Linear(sizes[0], 1, dtype=dtype))
    activation = activation if activation is not None else nn.Sigmoid
    widths = [2, *sizes, 1]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], dtype=dtype))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def network_shape(hidden) -> str:
    """'2-10-1' for hidden=10, '2-32-32-1' for [32, 32]."""
    sizes = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    return "-".join(str(n) for n in [2, *sizes, 1])


def count_parameters(model) -> int:
    """The number of trainable numbers: 2*10 + 10 + 10*1 + 1 = 41 for the seed network."""
    return sum(p._data.size for p in model.parameters())


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


@dataclass
class SeedSetup:
    """Everything a run needs before training: data, model, optimizer, schedule, loss, batches."""

    settings: SeedSettings
    model: nn.Module
    optimizer: object
    scheduler: object
    loss_fn: nn.Module
    loader: DataLoader
    train_data: tuple  # (inputs, targets) NumPy arrays
    val_data: tuple


def prepare_seed(settings: SeedSettings | None = None, *, activation=None, init=None,
                 optimizer=None, scheduler=None, hidden_function=None) -> SeedSetup:
    """Seed, draw the data, split it, build and initialise the network, optimizer and schedule.

    activation: a function returning a fresh activation Module (default nn.Sigmoid).
    init: a function that re-initialises the model's parameters in place (default: keep Linear's
        PyTorch-style default init).
    optimizer: a function (parameters, lr) -> Optimizer (default: plain SGD).
    scheduler: a function (optimizer) -> lr scheduler or None (default: none).
    hidden_function: build the hidden layer from this hand-written Function (build_network).
    """
    settings = settings if settings is not None else SeedSettings()
    _random.manual_seed(settings.seed)
    inputs, targets = make_data(settings.samples, settings.dtype)
    train_data, val_data = train_val_split(inputs, targets, val_fraction=settings.val_fraction)
    model = build_network(settings.hidden, activation, settings.dtype, hidden_function)
    if init is not None:
        init(model)
    if optimizer is None:
        opt = optim.SGD(model.parameters(), lr=settings.lr)
    else:
        opt = optimizer(model.parameters(), settings.lr)
    lr_scheduler = scheduler(opt) if scheduler is not None else None
    loader = DataLoader(TensorDataset(*train_data), batch_size=settings.batch_size, shuffle=True)
    return SeedSetup(settings, model, opt, lr_scheduler, nn.MSELoss(), loader, train_data,
                     val_data)


def train_seed(setup: SeedSetup, *, patience=None, compare_torch=False, callbacks=(), log=print,
               progress=False, initial_epoch=0, history=None) -> SeedRun:
    """Train a prepared run with ``chainrule.train.fit`` up to ``settings.epochs``.

    compare_torch: also train a PyTorch twin from the current weights on the same batches
        (chainrule.torch_twin); it is returned as ``SeedRun.twin``.
    patience, callbacks, log, progress, initial_epoch, history: passed to ``fit`` (the last two
        continue a run restored with ``chainrule.training.runs.restore``).
    """
    settings, model, opt = setup.settings, setup.model, setup.optimizer
    callbacks = list(callbacks)
    twin = None
    if compare_torch:
        from .torch_twin import TorchTwin

        twin = TorchTwin(model, setup.loss_fn, opt, clip_value=settings.clip_value,
                         clip_norm=settings.clip_norm, normalize_grad=settings.normalize_grad)
        callbacks.append(twin.lockstep(setup.val_data))
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run shows as inf/nan loss
        history = fit(model, setup.loss_fn, opt, setup.loader, val_data=setup.val_data,
                      epochs=settings.epochs, clip_value=settings.clip_value,
                      clip_norm=settings.clip_norm, normalize_grad=settings.normalize_grad,
                      scheduler=setup.scheduler, patience=patience, callbacks=callbacks, log=log,
                      progress=progress, initial_epoch=initial_epoch, history=history)
    seconds = time.perf_counter() - started
    return SeedRun(settings, model, opt, history, setup.train_data, setup.val_data, seconds, twin)


def run_seed(settings: SeedSettings | None = None, *, activation=None, init=None, optimizer=None,
             scheduler=None, patience=None, hidden_function=None, compare_torch=False,
             callbacks=(), log=print, progress=False) -> SeedRun:
    """Run the seed experiment once: ``prepare_seed`` then ``train_seed`` (see both for the
    arguments); return the model, History and data."""
    setup = prepare_seed(settings, activation=activation, init=init, optimizer=optimizer,
                         scheduler=scheduler, hidden_function=hidden_function)
    return train_seed(setup, patience=patience, compare_torch=compare_torch, callbacks=callbacks,
                      log=log, progress=progress)


def model_function(model):
    """The trained network as a plain function: an (n, 2) array of points -> n predictions
    (under no_grad, in eval mode), for ``chainrule.apps.plot.surface_comparison``."""
    from ..autograd import no_grad

    dtype = next(iter(model.parameters()))._data.dtype

    def predict(points):
        model.eval()
        with no_grad():
            out = model(Tensor._from_op(np.asarray(points, dtype=dtype), None))._data[:, 0]
        model.train()
        return out

    return predict


def target_on_points(points):
    """z = 5a^2 + 3b^2 for an (n, 2) array of points (a, b)."""
    points = np.asarray(points, dtype=np.float64)
    return target_function(points[:, 0], points[:, 1])


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


def parse_treatment(spec: str) -> dict:
    """A gradient treatment's fit arguments from its name.

        none             {}
        clip-value:X     {"clip_value": X}      clamp each gradient element to [-X, X]
        clip-norm:X      {"clip_norm": X}       rescale all gradients to a joint norm <= X
        normalize        {"normalize_grad": True}   each gradient to unit L2 norm
    """
    message = (
        "The 'treatment' option must be one of none, clip-value:X, clip-norm:X or normalize, "
        f"with X a number > 0. Got {spec!r} instead."
    )
    if not isinstance(spec, str):
        raise ValueError(message)
    text = spec.strip().lower()
    if text == "none":
        return {}
    if text in ("normalize", "normalise"):
        return {"normalize_grad": True}
    kind, _, number = text.partition(":")
    if kind not in ("clip-value", "clip-norm") or not number:
        raise ValueError(message)
    try:
        value = float(number)
    except ValueError:
        raise ValueError(message) from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(message)
    return {"clip_value" if kind == "clip-value" else "clip_norm": value}


def treatment_label(spec: str) -> str:
    """How a treatment reads in the table: 'clip value 1', 'clip norm 1', 'normalise', 'none'."""
    options = parse_treatment(spec)
    if "clip_value" in options:
        return f"clip value {options['clip_value']:g}"
    if "clip_norm" in options:
        return f"clip norm {options['clip_norm']:g}"
    return "normalise" if options else "none"


@dataclass
class SweepRow:
    """One cell of the sweep: its settings and the final losses."""

    init: str
    treatment: str
    lr: float
    val_loss: float
    train_loss: float
    seconds: float
    backward: str = "chainrule ops"  # or the hand-written Function's name (the derivative rows)
    val_curve: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "init": self.init, "treatment": self.treatment, "lr": self.lr,
            "backward": self.backward, "val_loss": _json_number(self.val_loss),
            "train_loss": _json_number(self.train_loss), "seconds": self.seconds,
            "val_curve": [_json_number(v) for v in self.val_curve],
        }


def _json_number(value):
    """A float for JSON: None for nan or inf, which JSON cannot hold."""
    return float(value) if value is not None and math.isfinite(value) else None


def _one_row(settings, init_label, init, treatment, lr, hidden_function, activation, optimizer):
    options = parse_treatment(treatment)
    run_settings = replace(settings, lr=lr, clip_value=options.get("clip_value"),
                           clip_norm=options.get("clip_norm"),
                           normalize_grad=options.get("normalize_grad", False))
    run = run_seed(run_settings, activation=activation, init=init, optimizer=optimizer,
                   hidden_function=hidden_function, log=None)
    backward = hidden_function.__name__ if hidden_function is not None else "chainrule ops"
    return SweepRow(init_label, treatment, lr, run.final_val_loss, run.history.train_loss[-1],
                    run.seconds, backward, list(run.history.val_loss))


def run_sweep(settings: SeedSettings, inits, treatments, lrs, *, seed_row_init=None,
              activation=None, optimizer=None, log=print, results=None) -> tuple:
    """Train the seed network once per cell of inits x treatments x lrs; return (grid, derivative).

    settings: everything else (epochs, samples, batch size, seed, dtype); every run starts from
        the same seed, so every cell sees the same data and batches.
    inits: (label, init function or None) pairs; treatments: names for parse_treatment;
    lrs: learning rates.
    seed_row_init: (label, init function) for the derivative rows; when given, two more runs
        per lr with the seed's own setting (that init, clip value 1): the hidden layer as
        handwritten.SeedSigmoidLayer (the seed's backward) and as handwritten.SigmoidLayer (the
        same layer, derivative right).
    log: a function taking one line per finished run, or None.
    results: a (grid, derivative) pair of lists to fill as runs finish, so a caller stopped
        midway (Ctrl-C) still holds the finished ones; by default, new lists.
    """
    log = log if log is not None else (lambda line: None)
    grid, derivative = results if results is not None else ([], [])
    treatments = list(treatments)
    for treatment in treatments:
        parse_treatment(treatment)
    cells = [(label, init, treatment, lr) for label, init in inits for treatment in treatments
             for lr in lrs]
    total = len(cells) + (2 * len(lrs) if seed_row_init is not None else 0)
    for index, (label, init, treatment, lr) in enumerate(cells, start=1):
        row = _one_row(settings, label, init, treatment, lr, None, activation, optimizer)
        grid.append(row)
        log(f"sweep {index}/{total}: init {label}, {treatment_label(treatment)}, lr {lr:g}: "
            f"val loss {row.val_loss:.4f} ({row.seconds:.1f} s)")
    if seed_row_init is not None:
        label, init = seed_row_init
        runs = [(function, lr) for function in (SeedSigmoidLayer, SigmoidLayer) for lr in lrs]
        for index, (function, lr) in enumerate(runs, start=len(cells) + 1):
            row = _one_row(settings, label, init, SEED_ROW_TREATMENT, lr, function, None,
                           optimizer)
            derivative.append(row)
            log(f"sweep {index}/{total}: hidden layer {function.__name__}, init {label}, "
                f"{treatment_label(SEED_ROW_TREATMENT)}, lr {lr:g}: val loss "
                f"{row.val_loss:.4f} ({row.seconds:.1f} s)")
    return grid, derivative


def _grid_twins(grid, rows) -> list:
    """The grid cells with the same init, treatment and lr as ``rows``, if every one has a cell
    and equal final validation loss (to 1e-6 relative), else []."""
    cells = {(row.init, row.treatment, row.lr): row for row in grid}
    found = [cells.get((row.init, row.treatment, row.lr)) for row in rows]
    if not rows or any(cell is None for cell in found):
        return []
    if all(math.isclose(cell.val_loss, row.val_loss, rel_tol=1e-6)
           for cell, row in zip(found, rows)):
        return found
    return []


def _cell(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "diverged"


def sweep_table(grid, derivative, settings: SeedSettings, full_samples: int = 100_000,
                optimizer: str = "plain SGD", activation: str = "sigmoid") -> str:
    """The sweep as markdown: one row per init and treatment, one column per lr (final val MSE),
    then the derivative rows."""
    lrs = sorted({row.lr for row in grid})
    sample_note = (f"{settings.samples:,} samples" if settings.samples == full_samples
                   else f"a subsample of {settings.samples:,} samples (the seed used "
                        f"{full_samples:,})")
    lines = [
        "# The seed's questions, answered with data",
        "",
        f"Final validation MSE of the {network_shape(settings.hidden)} {activation} network learning "
        f"{TARGET_FORMULA} after {settings.epochs} epoch{'' if settings.epochs == 1 else 's'}; "
        f"{sample_note}, 70/30 split, batch {settings.batch_size}, {optimizer}, seed "
        f"{settings.seed}, {settings.dtype}. Predicting the mean gives about 68.",
        "",
    ]
    if grid:
        lines.append("| init | gradient treatment | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |")
        lines.append("|---|---|" + "---:|" * len(lrs))
        keys = []
        for row in grid:
            if (row.init, row.treatment) not in keys:
                keys.append((row.init, row.treatment))
        by_key = {(row.init, row.treatment, row.lr): row for row in grid}
        for init, treatment in keys:
            cells = [by_key.get((init, treatment, lr)) for lr in lrs]
            text = [_cell(c.val_loss) if c is not None else "" for c in cells]
            lines.append(f"| {init} | {treatment_label(treatment)} | " + " | ".join(text) + " |")
        best = min((row for row in grid if math.isfinite(row.val_loss)),
                   key=lambda row: row.val_loss, default=None)
        if best is not None:
            lines += ["", f"Best cell: init {best.init}, {treatment_label(best.treatment)}, "
                          f"lr {best.lr:g}: {best.val_loss:.2f}."]
    if derivative:
        lrs_d = sorted({row.lr for row in derivative})
        lines += [
            "",
            "## The derivative, not the init or the clipping",
            "",
            f"The same network with its hidden layer as one hand-written Function, with the seed's "
            f"own setting (init {derivative[0].init}, {treatment_label(derivative[0].treatment)}):",
            "",
            "| hidden layer backward | " + " | ".join(f"lr {lr:g}" for lr in lrs_d) + " |",
            "|---|" + "---:|" * len(lrs_d),
        ]
        names = {"SeedSigmoidLayer": "the seed's: dL/dZ = dL/dH @ (Hᵀ(1 - H)), bias grad a mean "
                                     "(SeedSigmoidLayer)",
                 "SigmoidLayer": "right: dL/dZ = dL/dH * H * (1 - H), bias grad a sum "
                                 "(SigmoidLayer)"}
        for backward in dict.fromkeys(row.backward for row in derivative):
            by_lr = {row.lr: row for row in derivative if row.backward == backward}
            text = [_cell(by_lr[lr].val_loss) if lr in by_lr else "" for lr in lrs_d]
            lines.append(f"| {names.get(backward, backward)} | " + " | ".join(text) + " |")
        same = _grid_twins(grid, [row for row in derivative if row.backward == "SigmoidLayer"])
        if same:
            lines += ["", f"The right backward reproduces the grid's '{same[0].init}, "
                          f"{treatment_label(same[0].treatment)}' cells (to 6 digits), as it should: "
                          "it is the same network with its derivative written by hand."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Pictures (matplotlib, imported here only; Figure objects, so no pyplot state or GUI backend)
# --------------------------------------------------------------------------------------------


def _finite_or_none(values):
    return [v if v is not None and math.isfinite(v) else np.nan for v in values]


def _moving_average(values, window: int):
    """The mean of each run of ``window`` consecutive values (nan-aware), one per step."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or values.size < window:
        return values
    finite = np.where(np.isfinite(values), values, 0.0)
    counts = np.convolve(np.isfinite(values).astype(float), np.ones(window), mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.convolve(finite, np.ones(window), mode="same") / counts


def plot_loss_curves(history, path, twin=None, title="Seed experiment: loss curves",
                     difference=None) -> str:
    """Save a PNG: the per-step training loss (faint, with its moving average) and the per-epoch
    train/val loss, log scale. With a TorchTwin: PyTorch's curves dashed on the same axes, and a
    middle panel with the relative difference of the two losses at every step."""
    steps = np.arange(1, len(history.step_loss) + 1)
    window = max(1, len(steps) // 100)
    panels = 3 if twin is not None else 2
    fig = figure(5.2 * panels, 4.2)
    axes = fig.subplots(1, panels)
    steps_ax, epochs_ax = axes[0], axes[-1]
    ours = np.array(_finite_or_none(history.step_loss), dtype=np.float64)
    steps_ax.plot(steps, ours, lw=0.5, color="C0", alpha=0.25)
    steps_ax.plot(steps, _moving_average(ours, window), lw=1.2, color="C0",
                  label=f"chainrule (mean of {window} steps)" if window > 1 else "chainrule")
    if twin is not None:
        theirs = np.array(_finite_or_none(twin.step_loss), dtype=np.float64)
        steps_ax.plot(steps[:len(theirs)], _moving_average(theirs, window), lw=1.5, ls="--",
                      color="C3", label="PyTorch twin")
        n = min(len(ours), len(theirs))
        scale = np.maximum(np.maximum(np.abs(ours[:n]), np.abs(theirs[:n])), 1e-300)
        relative = np.abs(ours[:n] - theirs[:n]) / scale
        diff_ax = axes[1]
        diff_ax.plot(steps[:n], np.where(relative > 0, relative, np.nan), ".", ms=1.5, color="C4")
        diff_ax.set(xlabel="optimizer step", ylabel="|chainrule - PyTorch| / |loss|",
                    yscale="log", title="relative difference of the step losses")
        diff_ax.grid(True, which="both", alpha=0.3)
    steps_ax.set(xlabel="optimizer step", ylabel="batch MSE (log scale)",
                 title="training loss per step")
    epochs = history.epoch
    epochs_ax.plot(epochs, _finite_or_none(history.train_loss), "o-", ms=3, color="C0",
                   label="chainrule train")
    if any(v is not None for v in history.val_loss):
        epochs_ax.plot(epochs, _finite_or_none(history.val_loss), "s-", ms=3, color="C1",
                       label="chainrule validation")
    if twin is not None and twin.epoch_val_loss:
        epochs_ax.plot(epochs[:len(twin.epoch_val_loss)], _finite_or_none(twin.epoch_val_loss),
                       "--", lw=1.5, color="C3", label="PyTorch validation")
    epochs_ax.set(xlabel="epoch", ylabel="MSE (log scale)", title="loss per epoch")
    epochs_ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in (steps_ax, epochs_ax):
        log_scale_plain(ax)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    if difference is not None:
        title = f"{title} (largest relative step-loss difference {difference:.2e})"
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_sweep(grid, derivative, path, title="Final validation MSE") -> str:
    """Save a PNG of the sweep: one colour-map panel per lr (rows: gradient treatments, columns:
    inits), then one panel for the derivative rows (rows: backward, columns: lr). One log colour
    scale for all; every cell has its value written in it; a diverged run is grey."""
    from matplotlib.colors import LogNorm

    lrs = sorted({row.lr for row in grid})
    inits = list(dict.fromkeys(row.init for row in grid))
    treatments = list(dict.fromkeys(row.treatment for row in grid))
    lrs_d = sorted({row.lr for row in derivative})
    backwards = list(dict.fromkeys(row.backward for row in derivative))
    panels = []  # (title, table, row labels, column labels)
    for lr in lrs:
        cells = {(row.treatment, row.init): row.val_loss for row in grid if row.lr == lr}
        table = [[cells.get((t, i), np.nan) for i in inits] for t in treatments]
        panels.append((f"lr {lr:g}", table, [treatment_label(t) for t in treatments], inits))
    if derivative:
        cells = {(row.backward, row.lr): row.val_loss for row in derivative}
        table = [[cells.get((b, lr), np.nan) for lr in lrs_d] for b in backwards]
        names = {"SeedSigmoidLayer": "seed's backward", "SigmoidLayer": "right backward"}
        panels.append((f"hidden layer backward\n(init {derivative[0].init}, "
                       f"{treatment_label(derivative[0].treatment)})", table,
                       [names.get(b, b) for b in backwards], [f"lr {lr:g}" for lr in lrs_d]))
    if not panels:
        raise ValueError("plot_sweep: there is nothing to plot (no sweep rows given).")
    every = np.array([v for _, table, _, _ in panels for line in table for v in line], dtype=float)
    finite = every[np.isfinite(every) & (every > 0)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if finite.size else None
    widths = [max(len(columns), 1.5) for _, _, _, columns in panels]
    fig = figure(2.2 + 1.5 * sum(widths), 1.6 + 0.5 * max(len(rows) for _, _, rows, _ in panels))
    axes = fig.subplots(1, len(panels), width_ratios=widths)
    axes = np.atleast_1d(axes)
    for ax, (name, table, rows, columns) in zip(axes, panels):
        values = np.array(table, dtype=float).reshape(len(rows), len(columns))
        ax.set_facecolor("lightgrey")
        image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis_r", norm=norm, aspect="auto")
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                value = values[i, j]
                text = f"{value:.2f}" if math.isfinite(value) else "diverged"
                dark = math.isfinite(value) and norm is not None and norm(value) > 0.6
                ax.text(j, i, text, ha="center", va="center", fontsize="small",
                        color="white" if dark else "black")
        ax.set_xticks(np.arange(len(columns)), columns, fontsize="small")
        ax.set_yticks(np.arange(len(rows)), rows, fontsize="small")
        ax.set_title(name, fontsize="medium")
    for ax in axes[:len(lrs)]:
        ax.set_xlabel("init", fontsize="small")
    if lrs:
        axes[0].set_ylabel("gradient treatment", fontsize="small")
    fig.colorbar(image, ax=list(axes), label="validation MSE (log colour)", shrink=0.9)
    fig.suptitle(title)
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------------
# The run of chainrule seed: a spec for chainrule.training.lifecycle.execute
# --------------------------------------------------------------------------------------------


def init_function(spec: str):
    """A function re-initialising a model by the --init ``spec`` (None for torch-default)."""
    from functools import partial

    from ..training.builders import apply_init

    return None if spec == "torch-default" else partial(apply_init, spec=spec)


def seed_builders(config):
    """(activation, optimizer, scheduler) factories for ``prepare_seed``, from a run's config (or
    a dict with its keys activation, optimizer, momentum, weight_decay, scheduler and epochs)."""
    from functools import partial

    from ..training.builders import build_activation, build_optimizer, build_scheduler

    def optimizer(params, lr):
        return build_optimizer(config["optimizer"], params, lr, config["momentum"],
                               config["weight_decay"])

    def scheduler(opt):
        return build_scheduler(config["scheduler"], opt, config["epochs"])

    return partial(build_activation, config["activation"]), optimizer, scheduler


class SeedRunSpec(RunSpec):
    """The seed experiment as one run of ``execute``: config holds the SeedSettings fields and
    activation, init, optimizer, momentum, weight_decay, scheduler, patience, compare_torch.

    >>> from chainrule.training.lifecycle import execute
    >>> config = {**vars(SeedSettings(samples=200, epochs=2)), "activation": "sigmoid",
    ...           "init": "torch-default", "optimizer": "sgd", "momentum": None,
    ...           "weight_decay": 0.0, "scheduler": "none", "patience": None,
    ...           "compare_torch": False}
    >>> import tempfile, os
    >>> result = execute(SeedRunSpec(config), os.path.join(tempfile.mkdtemp(), "run"),
    ...                  plots=False, log=None)
    >>> result.history.epoch
    [1, 2]
    """

    command = "seed"
    divergence_advice = "try a smaller --lr, --clip-norm, or a different --init"

    def build(self) -> Setup:
        config = self.config
        if config["compare_torch"]:
            from .torch_twin import require_torch

            # Before training, so a missing PyTorch is said at once. One thread: the twin's
            # tensors are tiny, and extra threads only spin (30x slower per step, measured on 2
            # busy cores).
            require_torch().set_num_threads(1)
        settings = SeedSettings(**{name: config[name] for name in SeedSettings.__dataclass_fields__})
        activation, optimizer, scheduler = seed_builders(config)
        setup = prepare_seed(settings, activation=activation, init=init_function(config["init"]),
                             optimizer=optimizer, scheduler=scheduler)
        callbacks, twin = [], None
        if config["compare_torch"]:
            from .torch_twin import TorchTwin

            twin = TorchTwin(setup.model, setup.loss_fn, setup.optimizer,
                             clip_value=settings.clip_value, clip_norm=settings.clip_norm,
                             normalize_grad=settings.normalize_grad)
            callbacks.append(twin.lockstep(setup.val_data))
        return Setup(setup.model, setup.loss_fn, setup.optimizer, setup.loader, setup.val_data,
                     setup.scheduler, callbacks=callbacks,
                     extras={"settings": settings, "twin": twin, "difference": None})

    def describe(self, setup: Setup) -> str:
        settings, config = setup.extras["settings"], self.config
        return (f"seed experiment: {network_shape(settings.hidden)} {config['activation']} "
                f"network, {settings.samples} samples, {config['optimizer']} lr {settings.lr:g}, "
                f"batch {settings.batch_size}, {settings.epochs} epochs, {settings.dtype}"
                + (", with a PyTorch twin" if config["compare_torch"] else ""))

    def resume_command(self, run_dir) -> str:
        return f"chainrule seed --resume {run_dir}"

    def finish(self, result, setup: Setup) -> None:
        import os

        from ..training.runs import write_json

        twin = setup.extras["twin"]
        if twin is None:
            return
        from .torch_twin import max_relative_difference

        setup.extras["difference"] = max_relative_difference(result.history.step_loss,
                                                             twin.step_loss)
        path = os.path.join(result.run_dir, "torch_step_loss.json")
        write_json(path, {"step_loss": twin.step_loss, "val_loss": twin.epoch_val_loss})
        result.files.append(path)

    def figures(self, monitored: bool) -> list:
        from . import plot

        if not plot.available():
            return []
        return ["loss_curve.png", "surface.png"] + (["health.png"] if monitored else [])

    def draw(self, result, setup: Setup) -> None:
        import os

        from . import plot

        if not plot.available():
            result.notes.append(f"no plots were drawn because matplotlib is not installed; get "
                                f"them with: {plot.INSTALL_HINT}")
            return
        run_dir, history = result.run_dir, result.history
        result.files.append(plot_loss_curves(history, os.path.join(run_dir, "loss_curve.png"),
                                             twin=setup.extras["twin"],
                                             difference=setup.extras["difference"]))
        result.files.append(plot.surface_comparison(
            target_on_points, model_function(result.model), os.path.join(run_dir, "surface.png"),
            names=("a", "b"), title=f"z = 5a^2 + 3b^2: target and learned surface "
                                    f"(after {len(history)} epochs)", value_name="z"))
        if result.monitor is not None and result.monitor.losses:
            result.files.append(plot.health_curves(result.monitor,
                                                   os.path.join(run_dir, "health.png")))

    def summarize(self, result, setup: Setup) -> dict:
        from ..training.lifecycle import json_number

        twin = setup.extras["twin"]
        summary = None
        if twin is not None:
            summary = {
                "max_relative_step_loss_difference": json_number(setup.extras["difference"]),
                "steps": len(twin.step_loss),
                "final_val_loss": json_number(twin.epoch_val_loss[-1]
                                              if twin.epoch_val_loss else None),
            }
        settings = setup.extras["settings"]
        return {"network": network_shape(settings.hidden),
                "parameters": count_parameters(result.model), "torch": summary}
