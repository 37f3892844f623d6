"""One training run from start to summary: what ``chainrule train`` and ``chainrule seed`` both do,
callable from Python.

    from chainrule.apps.tabular import TrainRunSpec
    spec = TrainRunSpec(config)                 # an application says what to build and draw
    result = execute(spec, "runs/houses")       # the whole run, into a run folder
    result.summary()["final_val_loss"]

    config, checkpoint = resume_settings("runs/houses", epochs=80)   # continue it later
    result = execute(TrainRunSpec(config), "runs/houses", checkpoint=checkpoint)

What ``execute`` does, in order (so a seed reproduces a run and a resume continues it exactly):
    check the run folder        a new run never writes into a folder holding a run or other files
                                (a resumed run claims its folder here: writable and not in use)
    manual_seed(config["seed"]), then spec.build()      data, model, loss, optimizer, schedule
    early stopping (config["patience"]) and a HealthMonitor (``health``)
    resume: restore weights, optimizer, schedule, early stopping, health records, random state
    new run: create and claim the folder (one run per folder; claims.py), checked again
    config.json
    fit, with an EpochSnapshot that Ctrl-C, SIGTERM and SIGHUP save (and say how to resume),
        and a PeriodicCheckpoint (``checkpoint_every``) for a kill that cannot be caught
    checkpoint.crk (finished), metrics.csv, metrics.json, health.txt
    spec.finish()   the application's own files (the seed's PyTorch twin losses)
    spec.draw()     the figures; Ctrl-C here keeps the finished run, and resuming it redraws them
    the divergence note, the weights kept, the summary: a RunResult

The spec (a ``RunSpec``) belongs to the layer above: it builds the run from its config, names
the command that resumes it, and draws; this module knows nothing of data formats or plots.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..device import check_device
from .. import random as _random
from .health import HealthMonitor
from .loop import EarlyStopping, History, fit
from .claims import claim_run_dir
from .runs import (
    CHECKPOINT, CONFIG, EpochSnapshot, check_new_run_dir, load_checkpoint, make_checkpoint,
    restore, save_checkpoint, save_on_interrupt, write_json, write_metrics,
)
from .runs import (
    PeriodicCheckpoint, claim_new_run_dir, parse_checkpoint_every, signals_interrupt,
)

__all__ = ["RunSpec", "Setup", "RunResult", "execute", "resume_settings", "resume_epochs",
           "kept_weights", "json_number"]

# How often a run writes its checkpoint while training, unless told otherwise: a run killed
# outright (kill -9, the OOM killer) loses at most about a minute, plus the epoch under way.
CHECKPOINT_EVERY = "1m"


@dataclass
class Setup:
    """What a run trains, as ``RunSpec.build`` returns it."""

    model: Any
    loss_fn: Any
    optimizer: Any
    loader: Any  # the training batches, re-iterated every epoch
    val_data: Any = None  # an (inputs, targets) pair, or None
    scheduler: Any = None
    loss_scale: float = 1.0  # reported loss = loss x this (targets trained standardised)
    data: dict | None = None  # what predicting needs to know, kept in every checkpoint
    callbacks: list = field(default_factory=list)  # after the snapshot (the twin's lockstep)
    notes: list = field(default_factory=list)  # said before training and in the summary
    extras: dict = field(default_factory=dict)  # anything the spec wants back in finish/draw


class RunSpec:
    """An application's description of a run: subclass it and write ``build``.

    ``config`` is a JSON-able dict, saved as config.json and in every checkpoint; ``execute``
    reads ``seed``, ``epochs``, ``patience``, ``clip_value``, ``clip_norm`` and
    ``normalize_grad`` from it. Everything else is the spec's own.
    """

    command = "run"  # the command that made the run (checkpoints of other commands are refused)
    divergence_advice = "try a smaller learning rate, gradient clipping or another initialisation"

    def __init__(self, config: dict, notes=(), health_names=None):
        self.config = config
        self.notes = list(notes)
        self.health_names = health_names  # how health remedies name settings (HealthMonitor)

    def build(self) -> Setup:
        """Data, model, loss, optimizer and schedule (called right after manual_seed)."""
        raise NotImplementedError(f"{type(self).__name__} must define build()")

    def describe(self, setup: Setup) -> str | None:
        """A line to log before training, or None."""
        return None

    def resume_command(self, run_dir) -> str:
        """How the user continues this run (said when Ctrl-C saves it)."""
        return f"chainrule.training.lifecycle.resume_settings({os.fspath(run_dir)!r})"

    def health_monitor(self) -> HealthMonitor:
        return HealthMonitor(names=self.health_names)

    def finish(self, result: RunResult, setup: Setup) -> None:
        """Write the application's own files after training (add them to result.files)."""

    def figures(self, monitored: bool) -> list:
        """The file names ``draw`` writes (a finished run missing one is redrawn on resume)."""
        return []

    def draw(self, result: RunResult, setup: Setup) -> None:
        """Draw the figures into result.run_dir; add their paths to result.files."""

    def summarize(self, result: RunResult, setup: Setup) -> dict:
        """Entries of the application's own for the summary."""
        return {}


@dataclass
class RunResult:
    """What a run leaves behind: its folder, History, trained objects, files and notes."""

    run_dir: str
    config: dict
    history: History
    model: Any
    optimizer: Any
    scheduler: Any = None
    stopper: Any = None
    monitor: Any = None
    initial_epoch: int = 0
    resumed: bool = False
    seconds: float = 0.0
    files: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    early_notes: int = 0  # notes[:early_notes] were known, and said, before training
    extras: dict = field(default_factory=dict)  # the spec's summary entries

    @property
    def diverged(self) -> bool:
        last = [losses[-1] for losses in (self.history.train_loss, self.history.val_loss)
                if losses and losses[-1] is not None]
        return any(not math.isfinite(loss) for loss in last)

    def summary(self) -> dict:
        """The run as a JSON-able dict (NaN and Inf as strings)."""
        history = self.history
        kept_epoch, kept_loss = kept_weights(history, self.stopper)
        return {
            "run_dir": self.run_dir,
            "epochs_run": len(history),
            "epochs_this_call": len(history) - self.initial_epoch,
            "resumed_from_epoch": self.initial_epoch if self.resumed else None,
            "seconds": round(self.seconds, 3),
            "final_train_loss": json_number(history.train_loss[-1] if history.train_loss else None),
            "final_val_loss": json_number(history.val_loss[-1] if history.val_loss else None),
            "best_epoch": history.best_epoch,
            "stopped_early": bool(self.stopper and self.stopper.stopped_epoch is not None),
            # the weights saved: the best epoch's after early stopping, else the last epoch's
            "kept_epoch": kept_epoch,
            "kept_val_loss": json_number(kept_loss),
            **self.extras,
            "health_warnings": self.monitor.warnings if self.monitor is not None else None,
            "files": list(self.files),
            "notes": list(self.notes),
        }


def execute(spec: RunSpec, run_dir=None, *, checkpoint=None, health=True, plots=True, log=print,
            note=None, progress=False, checkpoint_every=CHECKPOINT_EVERY, device=None) -> RunResult:
    """Run ``spec`` into ``run_dir`` (a new run; None: runs/<date-time>), or continue the run in
    ``run_dir`` from its ``checkpoint`` (see ``resume_settings``); return the RunResult.

    health: watch the run with the spec's HealthMonitor (a resumed run goes on as it was made).
    plots: draw the spec's figures. log: a function taking a line (None: silence), for the
    per-epoch lines. note: a function told each note known before training (None: they are only
    in the result). progress: a progress bar over batches (needs tqdm).
    checkpoint_every: write the checkpoint during training too, every N epochs (an int), at the
    end of the first epoch a time after the last save ("30s", "10m", "1h"), or never ("off");
    see ``runs.PeriodicCheckpoint``. A run killed outright resumes from the last one written.
    device: train on this device ('cuda' where chainrule has a GPU; None: the CPU). The model
    goes there for training and comes back after it; checkpoints hold host arrays, so a run
    trained on a GPU resumes, predicts and exports anywhere, and bit for bit only on the device
    it trained on.

    The run holds its folder (``claims.claim_run_dir``) from before its first write to the end,
    so two runs never write into one folder; a resumed run claims it before building anything,
    which also checks that the folder is writable. SIGTERM and SIGHUP save the run as Ctrl-C
    does (``runs.signals_interrupt``).
    """
    every_epochs, every_seconds = parse_checkpoint_every(checkpoint_every)
    claims = []  # the claim on the run folder, once taken; given up at the end, whatever happens
    with signals_interrupt():
        try:
            return _execute(spec, run_dir, checkpoint, health, plots, log, note, progress,
                            every_epochs, every_seconds, claims, device)
        finally:
            for claim in claims:
                claim.release()


def _execute(spec, run_dir, checkpoint, health, plots, log, note, progress, every_epochs,
             every_seconds, claims, device=None) -> RunResult:
    config = spec.config
    if checkpoint is None:
        check_new_run_dir(run_dir)  # before the data is read or drawn, which may take long
    else:
        claims.append(claim_run_dir(run_dir))  # before the long part: busy or read-only, say so
    device = None if device is None else check_device("train", device)
    _random.manual_seed(config["seed"])
    setup = spec.build()
    if device is not None:  # parameters move in place: the optimizer keeps them
        setup.model.to(device)
        if hasattr(setup.loss_fn, "to"):  # a loss module's weights go along
            setup.loss_fn.to(device)
    stopper = EarlyStopping(config["patience"]) if config.get("patience") else None
    # a resumed run goes on as it was made: its checkpoint's "health" is None when it was made
    # without (runs from before health was kept have no entry)
    unwatched = checkpoint is not None and "health" in checkpoint and checkpoint["health"] is None
    monitor = spec.health_monitor() if health and not unwatched else None
    initial_epoch, history = 0, None
    if checkpoint is not None:
        initial_epoch, history = restore(checkpoint, setup.model, setup.optimizer,
                                         setup.scheduler, stopper, monitor)
        run_dir = os.fspath(run_dir)
        if log:
            log(f"resuming {run_dir} after epoch {initial_epoch} of {config['epochs']}")
    else:
        run_dir, claim = claim_new_run_dir(run_dir)
        claims.append(claim)
    write_json(os.path.join(run_dir, CONFIG), config)
    line = spec.describe(setup)
    if log and line:
        log(line)
    notes = [*spec.notes, *setup.notes]
    if note is not None:
        for text in notes:
            note(text)
    result = RunResult(run_dir, config, history, setup.model, setup.optimizer, setup.scheduler,
                       stopper, monitor, initial_epoch, checkpoint is not None, notes=notes,
                       early_notes=len(notes))

    snapshot = EpochSnapshot(setup.model, setup.optimizer, setup.scheduler, config, stopper,
                             setup.data, monitor)
    # the snapshot after the callbacks that change the run, so it keeps every epoch as they
    # leave it; the spec's own (the twin's lockstep) watch only
    callbacks = [c for c in (stopper, monitor) if c is not None] + [snapshot]
    if every_epochs is not None or every_seconds is not None:
        callbacks.append(PeriodicCheckpoint(snapshot, run_dir, every_epochs, every_seconds))
    callbacks += setup.callbacks
    # Overflow in a diverging run is reported once, by the note below, not by NumPy per op.
    with save_on_interrupt(snapshot, run_dir, spec.resume_command(run_dir)), \
            np.errstate(over="ignore", invalid="ignore"):
        started = time.perf_counter()
        result.history = fit(
            setup.model, setup.loss_fn, setup.optimizer, setup.loader, val_data=setup.val_data,
            epochs=config["epochs"], scheduler=setup.scheduler,
            clip_value=config.get("clip_value"), clip_norm=config.get("clip_norm"),
            normalize_grad=config.get("normalize_grad", False), callbacks=callbacks, log=log,
            progress=progress, initial_epoch=initial_epoch, history=history,
            loss_scale=setup.loss_scale)
        result.seconds = time.perf_counter() - started
        if device is not None:  # back on the host for the checkpoint, figures and summary
            setup.model.to("cpu")
            if hasattr(setup.loss_fn, "to"):
                setup.loss_fn.to("cpu")
        history = result.history
        checkpoint_path = os.path.join(run_dir, CHECKPOINT)
        save_checkpoint(checkpoint_path, make_checkpoint(
            setup.model, setup.optimizer, setup.scheduler,
            history.epoch[-1] if history.epoch else initial_epoch, history, config, stopper,
            setup.data, finished=True, health=monitor))
        result.files += [os.path.join(run_dir, CONFIG), *write_metrics(run_dir, history),
                         checkpoint_path]
        if monitor is not None:
            result.files.append(monitor.write_report(run_dir))

    spec.finish(result, setup)
    if plots:
        with _say_on_interrupt(f"Interrupted while drawing the figures; the finished run is "
                               f"saved in {run_dir}. Draw them with: "
                               f"{spec.resume_command(run_dir)}"):
            spec.draw(result, setup)
    if result.diverged:
        result.notes.append(f"the loss is NaN or Inf: training diverged; "
                            f"{spec.divergence_advice}.")
    result.extras = spec.summarize(result, setup)
    return result


@contextlib.contextmanager
def _say_on_interrupt(message: str):
    try:
        yield
    except KeyboardInterrupt:
        print(message, file=sys.stderr, flush=True)
        raise


def resume_settings(run_dir, epochs=None, *, command=None, check_config=None,
                    missing_figures=None):
    """(config, checkpoint) to continue the run in ``run_dir`` with ``execute``: the saved config,
    with ``epochs`` (the new total; None keeps it) applied by ``resume_epochs``.

    command: refuse a run made by another command (config["command"], "train" when absent).
    check_config: a function given the saved config, to refuse one that cannot be resumed.
    missing_figures: a function (config, checkpoint) -> the figures a finished run lacks; a
    finished run lacking some may be resumed without more epochs, to draw them.
    """
    from .schema import check_resumable, check_run

    checkpoint = load_checkpoint(run_dir)
    config = dict(checkpoint["config"])
    made_by = config.get("command", "train")
    if command is not None and made_by != command:
        raise ValueError(f"{run_dir} holds a run of chainrule {made_by}, not of chainrule "
                         f"{command}; continue it with chainrule {made_by} --resume {run_dir}.")
    if check_config is not None:
        check_config(config)
    where = os.fspath(run_dir)
    where = os.path.join(where, CHECKPOINT) if os.path.isdir(where) else where
    if command is not None:  # the run's own schema: config, weight shapes, buffers, data
        check_run(checkpoint, where, command)
    check_resumable(checkpoint, where)
    redraw = bool(missing_figures(config, checkpoint)) if missing_figures else False
    resume_epochs(config, checkpoint, epochs, run_dir, redraw=redraw)
    return config, checkpoint


def resume_epochs(config: dict, checkpoint: dict, epochs, run_dir, redraw=False) -> None:
    """Set config['epochs'] for a resumed run: ``epochs`` (the --epochs flag, None when not given)
    or the saved number. A finished run needs more epochs (unless ``redraw``: it lacks figures,
    and resuming it only draws them); a cosine schedule, which spans the epochs it was built for,
    cannot be stretched (it would restart its cycle mid-run)."""
    from .builders import LIMITS, check_at_most, check_number

    done = int(checkpoint["epoch"])
    if redraw and epochs is None and checkpoint.get("finished"):
        config["epochs"] = done
        return
    stopper = checkpoint.get("early_stopping")
    if isinstance(stopper, dict) and stopper.get("bad_epochs", 0) >= stopper.get("patience", 1e9):
        raise ValueError(
            f"the run in {run_dir} stopped early after epoch {done}: its loss had not improved for "
            f"{stopper['patience']} epochs since epoch {stopper.get('best_epoch')}, whose weights "
            "it kept. Resumed with the same --patience it would stop again after one epoch; "
            "start a new run (with a larger --patience, or none) instead."
        )
    if epochs is not None:
        check_number("--epochs", epochs, 1, integer=True)
        check_at_most("--epochs", epochs, LIMITS["epochs"])
        if epochs != config["epochs"] and str(config.get("scheduler", "")).startswith("cosine"):
            raise ValueError(
                f"--epochs cannot change when resuming a run with --scheduler cosine: its schedule "
                f"spans the {config['epochs']} epochs it was started with; start a new run instead."
            )
        config["epochs"] = epochs
    if done >= config["epochs"] or (checkpoint.get("finished") and epochs is None):
        raise ValueError(
            f"the run in {run_dir} has already finished ({done} epochs of {config['epochs']}); "
            f"give --epochs with more than {done} to train it further."
        )


def kept_weights(history, stopper):
    """(epoch, its validation loss) of the weights a run ends with: the best epoch's when early
    stopping restored them, else the last epoch's (the train loss where there is no validation)."""
    if not history.epoch:
        return None, None
    epoch = history.epoch[-1]
    if stopper is not None and stopper.stopped_epoch is not None and stopper.best_epoch is not None:
        epoch = stopper.best_epoch
    index = history.epoch.index(epoch)
    losses = history.val_loss if history.val_loss[index] is not None else history.train_loss
    return epoch, losses[index]


def json_number(value):
    """A float for a JSON summary; NaN and Inf as the strings "nan" and "inf".

    >>> json_number(float("inf")), json_number(2)
    ('inf', 2.0)
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else str(value)
