"""Run folders: where a training run keeps its settings, its metrics and its checkpoint.

    runs/20261128-093000/
        config.json       the settings of the run (enough to rebuild data, model and optimizer)
        metrics.csv       one row per epoch: epoch,train_loss,val_loss,lr,seconds
        metrics.json      the whole History, per-step losses included, plus best_epoch
        checkpoint.crk    the checkpoint (chainrule.save format; never a pickle)
        .run.lock         while a run trains in the folder: its claim (claims.py)
        loss_curve.png    when matplotlib is installed

A checkpoint is one dict, saved atomically with ``chainrule.save``::

    {"format": "chainrule.train/1",
     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
     "scheduler": scheduler.state_dict() or None,
     "epoch": epochs finished, "finished": whether training ended (all epochs or early stop),
     "rng": chainrule.random.get_rng_state(), "history": history.to_dict(),
     "early_stopping": its state_dict() or None, "config": {...}, "data": {...} or None,
     "health": the HealthMonitor's records or None (absent in runs made before it was kept)}

``load_checkpoint`` checks what a checkpoint holds against ``chainrule.training.schema`` before
anything uses it: a run folder is input, and a wrong entry is one CheckpointError naming it.

Restoring all of it (``restore``) lets ``fit`` continue bit for bit: the same weights, optimizer
buffers, learning rate, data order and random draws as if the run had never stopped.

Ctrl-C: ``EpochSnapshot`` (a callback) keeps the state at the end of the last finished epoch in
memory, and ``save_on_interrupt`` writes it when KeyboardInterrupt arrives, so a run stopped in the
middle of an epoch resumes from that epoch's end. SIGTERM and SIGHUP do the same inside
``signals_interrupt`` (they raise ``Terminated``, a KeyboardInterrupt).

What no program can catch (kill -9, the OOM killer, a power cut): ``PeriodicCheckpoint`` writes
the snapshot during training too, every N epochs or every so many minutes, so such a run loses at
most that much (plus the epoch under way) and resumes, bit for bit, from the last one written.

While a run trains, it holds its folder (``claims.py``): a second run into the same folder is
refused, and the temporary files of a write that a kill interrupted are removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import signal
import sys
import time

from .. import random as _random
from .callbacks import Callback
from ..serialization import CheckpointError, load, save
from .loop import History
from ..files import TEMPORARY_NAME, atomic_write
from .claims import LOCK, claim_run_dir, run_dir_holder

__all__ = [
    "CHECKPOINT", "CONFIG", "METRICS_CSV", "METRICS_JSON", "FORMAT",
    "check_new_run_dir", "new_run_dir", "write_json", "read_json", "write_metrics", "make_checkpoint",
    "save_checkpoint", "load_checkpoint", "restore", "EpochSnapshot", "save_on_interrupt",
]
__all__ += ["claim_new_run_dir", "PeriodicCheckpoint", "parse_checkpoint_every", "Terminated",
            "signals_interrupt"]

CHECKPOINT = "checkpoint.crk"
CONFIG = "config.json"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
FORMAT = "chainrule.train/1"
_KEYS = ("model", "optimizer", "scheduler", "epoch", "rng", "history", "config")


def check_new_run_dir(out, resumable: bool = True) -> None:
    """ValueError unless ``out`` can become a new run folder: absent, or an empty folder (so a
    finished or interrupted run, or the user's own files, are never overwritten). ``resumable``:
    whether the message may suggest --resume for a folder that holds a run."""
    if out is None:
        return
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"the run folder {out!r} exists and is a file, not a folder.")
    holder = run_dir_holder(out) if os.path.isdir(out) else None
    if holder is not None:
        who = f" (process {holder})" if holder else ""
        raise ValueError(f"the run folder {out!r} is in use by another chainrule run{who}; choose "
                         "another --out.")
    _check_contents(out, resumable)


def _check_contents(out: str, resumable: bool = True) -> None:
    if os.path.exists(os.path.join(out, CHECKPOINT)):
        how = f"continue it with --resume {out} or choose" if resumable else "choose"
        raise ValueError(f"the run folder {out!r} already holds a run; {how} another --out.")
    # (a lock left by a run that ended, and a killed writer's temporaries, do not count)
    names = sorted(name for name in os.listdir(out) if name != LOCK
                   and not TEMPORARY_NAME.fullmatch(name)) if os.path.isdir(out) else []
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise ValueError(f"the run folder {out!r} is not empty ({shown}) and holds no run; a run "
                         "writes config.json, metrics.csv and more there, so choose a new or "
                         "empty --out.")


def claim_new_run_dir(out=None, root: str = "runs"):
    """Create the run folder as ``new_run_dir`` does and claim it (``claims.claim_run_dir``);
    return ``(path, claim)``. The folder is checked again once claimed, so of two runs started
    together into one folder only one passes; the other gets the ValueError of
    ``check_new_run_dir`` or of the claim."""
    path = new_run_dir(out, root)
    claim = claim_run_dir(path)
    try:
        _check_contents(path)
    except BaseException:
        claim.release()
        raise
    return path, claim


def new_run_dir(out=None, root: str = "runs") -> str:
    """Create and return the run folder: ``out``, or ``root/<YYYYmmdd-HHMMSS>`` (with -2, -3, ...
    added if that exists). An existing ``out`` is accepted only if it is empty."""
    if out is not None:
        check_new_run_dir(out)
        out = os.fspath(out)
        os.makedirs(out, exist_ok=True)
        return out
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = os.path.join(root, stamp), 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            n += 1
            path = os.path.join(root, f"{stamp}-{n}")


def _strict_json(value):
    """``value`` with NaN and +-Inf floats replaced by the strings "nan", "inf", "-inf" (strict
    JSON has no such numbers, and a diverged run has them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    return value


def write_json(path, obj) -> None:
    """Write ``obj`` as indented, strict JSON (NaN and Inf as strings), atomically (temporary
    file, then os.replace)."""
    with atomic_write(path, "w", what="write_json") as handle:
        json.dump(_strict_json(obj), handle, indent=2, allow_nan=False)
        handle.write("\n")


def read_json(path):
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file.") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}).") from None


def write_metrics(run_dir, history: History) -> list:
    """metrics.csv and metrics.json in ``run_dir``; returns their paths."""
    csv_path = os.path.join(run_dir, METRICS_CSV)
    json_path = os.path.join(run_dir, METRICS_JSON)
    history.to_csv(csv_path)
    write_json(json_path, history.to_dict())
    return [csv_path, json_path]


def make_checkpoint(model, optimizer, scheduler=None, epoch=0, history=None, config=None,
                    early_stopping=None, data=None, finished=False, health=None) -> dict:
    """The checkpoint dict described in the module docstring, with the random state of now."""
    history = history if history is not None else History()
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": int(epoch),
        "finished": bool(finished),
        "rng": _random.get_rng_state(),
        "history": history.to_dict(),
        "early_stopping": None if early_stopping is None else early_stopping.state_dict(),
        "config": dict(config or {}),
        "data": data,
        "health": None if health is None else health.state_dict(),
    }


def save_checkpoint(path, checkpoint: dict) -> None:
    save(checkpoint, path)


def load_checkpoint(path, command=None) -> dict:
    """Read a checkpoint (a file, or a run folder holding checkpoint.crk) and check it against
    the schema of ``chainrule.training.schema``: every entry of the kind and within the bounds a
    run writes, or one CheckpointError naming the file and the field.

    command: the command(s) whose runs are accepted ("train", "seed" or a tuple of them); the
    run's own schema (config, weight shapes, optimizer buffers, data record) is then checked
    too. None: any training checkpoint (made by ``make_checkpoint`` from Python)."""
    from .schema import check_checkpoint, check_run

    path = os.fspath(path)
    if os.path.isdir(path):
        folder = path
        path = os.path.join(path, CHECKPOINT)
        if not os.path.lexists(path):
            raise FileNotFoundError(f"{folder} holds no {CHECKPOINT}; is it a run folder?")
    elif not os.path.lexists(path):
        raise FileNotFoundError(f"{path}: no such file or run folder.")
    checkpoint = check_checkpoint(load(path), path)
    if command is not None:
        accepted = (command,) if isinstance(command, str) else tuple(command)
        made_by = checkpoint["config"].get("command", "train")
        if made_by not in accepted:
            raise ValueError(f"{path} holds a run of chainrule {made_by}, not of chainrule "
                             f"{' or '.join(accepted)}.")
        check_run(checkpoint, path, made_by)
    return checkpoint


def restore(checkpoint: dict, model, optimizer, scheduler=None, early_stopping=None,
            health=None):
    """Load the model, optimizer, scheduler, early stopping, health records and random state from
    ``checkpoint``; returns ``(initial_epoch, history)`` to pass to ``fit``.

    A checkpoint whose contents do not fit (a missing or malformed entry) raises one
    CheckpointError naming the entry, never a bare KeyError from deep inside."""
    part = "model"
    try:
        model.load_state_dict(checkpoint["model"])
        part = "optimizer"
        optimizer.load_state_dict(checkpoint["optimizer"])
        part = "scheduler"
        if scheduler is not None and checkpoint["scheduler"] is not None:
            scheduler.load_state_dict(checkpoint["scheduler"])
        part = "early_stopping"
        if early_stopping is not None and checkpoint.get("early_stopping") is not None:
            early_stopping.load_state_dict(checkpoint["early_stopping"])
        part = "health"
        if health is not None and checkpoint.get("health") is not None:  # (older runs: none)
            health.load_state_dict(checkpoint["health"])
        part = "rng"
        _random.set_rng_state(checkpoint["rng"])
        part = "epoch"
        epoch = int(checkpoint["epoch"])
        part = "history"
        return epoch, History.from_dict(checkpoint["history"])
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as err:
        raise CheckpointError(
            f"the checkpoint's {part!r} entry cannot be restored: {type(err).__name__}: {err}"
        ) from None


class EpochSnapshot(Callback):
    """Keep, in memory, the checkpoint of the start of training and of every finished epoch.

    Put it last in fit's callbacks, so it sees the epoch after every other callback (early
    stopping included) has had its say. ``latest`` is the newest checkpoint dict; ``save(path)``
    writes it. ``config`` and ``data`` go into every checkpoint as given.
    """

    def __init__(self, model, optimizer, scheduler=None, config=None, early_stopping=None,
                 data=None, health=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.config, self.early_stopping, self.data = config, early_stopping, data
        self.health = health
        self.latest = None

    def _take(self, state) -> None:
        snapshot = make_checkpoint(self.model, self.optimizer, self.scheduler, state.epoch,
                                   state.history, self.config, self.early_stopping, self.data,
                                   health=self.health)
        self.latest = snapshot  # one assignment, so an interrupt never leaves half a snapshot

    def on_train_begin(self, state) -> None:
        self._take(state)

    def on_epoch_end(self, state) -> None:
        self._take(state)

    def save(self, path) -> None:
        if self.latest is None:
            raise RuntimeError("EpochSnapshot.save: no snapshot yet; training has not started.")
        save_checkpoint(path, self.latest)


def parse_checkpoint_every(every, name: str = "checkpoint_every"):
    """``(epochs, seconds)`` from a periodic-checkpoint setting: N (an int, or its text) for
    every N epochs; "30s", "10m", "1h" for the end of the first epoch that ends that long after the
    last save; "off" (or None) for none, ``(None, None)``."""
    if every is None or (isinstance(every, str) and every.strip().lower() in ("off", "never")):
        return None, None
    if isinstance(every, numbers.Integral) and not isinstance(every, bool):
        text = str(int(every))
    elif isinstance(every, str):
        text = every.strip().lower()
    else:
        text = None
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
            if math.isfinite(seconds) and seconds >= 0:
                return None, seconds
        elif text is not None and int(text) >= 1:
            return int(text), None
    except ValueError:
        pass
    raise ValueError(f"{name} must be a number of epochs >= 1 (such as 5), a time (such as 30s, "
                     f"10m or 1h) or off. Got {every!r} instead.")


class PeriodicCheckpoint(Callback):
    """Write the snapshot's checkpoint and the metrics into ``run_dir`` every ``epochs`` epochs,
    or at the end of the first epoch that ends ``seconds`` after the last save (or both), so
    that a run killed outright (kill -9, the OOM killer, a power cut) loses at most that much.

    Put it right after the EpochSnapshot in fit's callbacks. It saves at epoch ends only (the
    state in the middle of an epoch is not resumable), never after the last epoch or an early
    stop (the finished checkpoint follows at once). The writes are atomic: a kill in the middle
    keeps the previous checkpoint whole. ``saved`` lists the epochs written.
    """

    def __init__(self, snapshot: EpochSnapshot, run_dir, epochs=None, seconds=None,
                 clock=time.monotonic):
        self.snapshot, self.run_dir = snapshot, os.fspath(run_dir)
        self.epochs, self.seconds, self.clock = epochs, seconds, clock
        self.saved = []
        self._last = None

    def on_train_begin(self, state) -> None:
        self._last = self.clock()

    def on_epoch_end(self, state) -> None:
        if state.stop or state.epoch >= state.epochs:
            return
        due = ((self.epochs is not None and state.epoch % self.epochs == 0)
               or (self.seconds is not None and self.clock() - self._last >= self.seconds))
        if not due:
            return
        self.snapshot.save(os.path.join(self.run_dir, CHECKPOINT))
        write_metrics(self.run_dir, History.from_dict(self.snapshot.latest["history"]))
        self._last = self.clock()
        self.saved.append(state.epoch)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised (inside ``signals_interrupt``) as Ctrl-C raises
    KeyboardInterrupt, so that a run saves itself the same way; the CLI then exits with
    128 + the signal's number. A KeyboardInterrupt, so every handler of Ctrl-C handles it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)
        self.name = signal.Signals(signum).name


# the signals that ask a program to end (a plain `kill`, a closed terminal, a batch system's
# time limit) and that a run turns into Terminated
_ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_interrupt():
    """Inside the block, SIGTERM and SIGHUP raise ``Terminated`` in the main thread.

    Only a signal whose handler is the default one is taken over: one that is ignored (``nohup``
    ignores SIGHUP) or that the program handles itself stays as it is. Outside the main thread
    (where Python allows no handlers) nothing changes. The old handlers come back at the end.
    """
    previous = {}
    try:
        for signum in _ENDING:
            try:
                if signal.getsignal(signum) is signal.SIG_DFL:
                    previous[signum] = signal.signal(signum, _raise_terminated)
            except ValueError:  # not the main thread
                break
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def save_on_interrupt(snapshot: EpochSnapshot, run_dir, resume_command: str, stream=None):
    """On Ctrl-C inside the block (or SIGTERM and SIGHUP, as ``Terminated``, inside
    ``signals_interrupt``): save the last epoch's checkpoint and metrics into ``run_dir``, say how
    to resume, and re-raise (the CLI then exits with 130, or 128 + the signal's number).

    Another Ctrl-C, SIGTERM or SIGHUP while saving is ignored, so the checkpoint is written whole
    (it is written atomically in any case, so the previous one survives anything).
    """
    try:
        yield
    except KeyboardInterrupt as interrupt:
        stream = stream if stream is not None else sys.stderr
        if snapshot.latest is None:
            raise
        previous = _ignore_interrupts()
        try:
            path = os.path.join(run_dir, CHECKPOINT)
            snapshot.save(path)
            write_metrics(run_dir, History.from_dict(snapshot.latest["history"]))
            epoch = snapshot.latest["epoch"]
            how = (f"Stopped by {interrupt.name}" if isinstance(interrupt, Terminated)
                   else "Interrupted")
            print(f"{how}: saved the state after epoch {epoch} to {path}.", file=stream)
            print(f"Resume with: {resume_command}", file=stream, flush=True)
        finally:
            _restore_handlers(previous)
        raise


def _ignore_interrupts() -> dict:
    previous = {}
    for signum in (signal.SIGINT, *_ENDING):
        try:
            previous[signum] = signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread
            break
    return previous


def _restore_handlers(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
