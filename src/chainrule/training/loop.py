"""The training loop: ``fit`` runs it, ``evaluate`` measures a loss, ``History`` records it.

    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True)
    history = fit(model, nn.MSELoss(), optimizer, loader, val_data=(X_val, y_val), epochs=20)

``fit`` is written to be read top to bottom (after nanoGPT's train.py). Every epoch:

    for each batch (inputs, targets):
        forward:   predictions = model(inputs)
        loss:      loss = loss_fn(predictions, targets)
        backward:  loss.backward()                  callbacks.on_after_backward
        treat the gradients: clip_grad_value_, clip_grad_norm_, or normalize each to norm 1
        step:      optimizer.step()                 callbacks.on_step_end
        zero_grad: optimizer.zero_grad()
    train loss = the mean of the epoch's batch losses, each weighted by its batch size (so it is
                 the mean per-sample loss seen during the epoch, while the weights were changing;
                 it is not re-measured after the epoch)
    val loss   = evaluate(model, loss_fn, val_data) after the epoch, under no_grad, in eval mode
    scheduler.step()   (ReduceLROnPlateau: scheduler.step(val loss), or train loss without val)
    log "epoch 3: train loss 4.1230, val loss 4.4102"
    callbacks.on_epoch_end; early stopping; stop if a callback set state.stop

Resuming: pass ``initial_epoch`` (epochs already done) and the ``history`` so far; with the model,
optimizer, scheduler and random state restored (see ``chainrule.training.runs``) the run continues exactly
as if it had never stopped.
"""

from __future__ import annotations

import csv
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from .callbacks import Callback, TrainState
from ..data import DataLoader, TensorDataset
from ..files import atomic_write
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from ..optim.lr_scheduler import ReduceLROnPlateau
from ..tensor import Tensor

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "normalize_grad_", "format_loss"]

_EPOCH_FIELDS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


@dataclass
class History:
    """What happened in a run, epoch by epoch and step by step.

    Per epoch (lists of equal length, one entry per finished epoch):
        epoch       1, 2, 3, ...
        train_loss  mean batch loss over the epoch, weighted by batch size
        val_loss    loss on the validation data after the epoch (None without validation data)
        lr          the first parameter group's learning rate used during the epoch
        seconds     wall-clock time of the epoch (training and evaluation)
    Per optimizer step:
        step_loss   every batch's training loss, in order (for step-by-step comparisons)

    ``best_epoch`` is the epoch with the lowest validation loss (the lowest train loss when there
    is no validation data); the first one wins a tie.
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def monitored(self) -> list:
        """The loss that decides the best epoch: validation loss if there is any, else train."""
        if self.val_loss and all(v is not None for v in self.val_loss):
            return self.val_loss
        return self.train_loss

    @property
    def best_epoch(self):
        losses = self.monitored
        best = None
        for epoch, loss in zip(self.epoch, losses):
            if loss is not None and not math.isnan(loss) and (best is None or loss < best[1]):
                best = (epoch, loss)
        return None if best is None else best[0]

    def to_dict(self) -> dict:
        """Plain lists and numbers (JSON-able); ``from_dict`` reads it back."""
        out = {name: list(getattr(self, name)) for name in _EPOCH_FIELDS}
        out["step_loss"] = list(self.step_loss)
        out["best_epoch"] = self.best_epoch
        return out

    @classmethod
    def from_dict(cls, data: dict) -> History:
        if not isinstance(data, dict):
            raise TypeError(f"History.from_dict: expected a dict. Got {type(data).__name__}.")
        missing = [name for name in (*_EPOCH_FIELDS, "step_loss") if name not in data]
        if missing:
            raise ValueError(f"History.from_dict: the dict lacks {', '.join(missing)}.")
        lengths = {len(data[name]) for name in _EPOCH_FIELDS}
        if len(lengths) != 1:
            raise ValueError(
                "History.from_dict: the per-epoch lists (epoch, train_loss, val_loss, lr, "
                f"seconds) must have one length. Got lengths {sorted(lengths)}."
            )
        return cls(**{name: list(data[name]) for name in (*_EPOCH_FIELDS, "step_loss")})

    def to_csv(self, path) -> None:
        """One row per epoch: epoch,train_loss,val_loss,lr,seconds (an empty cell for no val)."""
        with atomic_write(path, "w", newline="", what="History.to_csv") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(_EPOCH_FIELDS)
            for row in zip(*(getattr(self, name) for name in _EPOCH_FIELDS)):
                writer.writerow(["" if value is None else repr(value) for value in row])


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs; restore the best
    weights at the end.

    The monitored loss is the validation loss, or the train loss when fit has no validation data.
    After every epoch: if loss < best, remember it and a copy of the model's state_dict; else
    count one more epoch without improvement, and set ``state.stop`` once the count reaches
    ``patience``. At the end of training the model gets the best weights back.
    ``state_dict()``/``load_state_dict()`` carry this across a resume.
    """

    def __init__(self, patience: int, restore_best_weights: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
            raise ValueError(
                f"The 'patience' parameter of EarlyStopping must be an int >= 1. "
                f"Got {patience!r} instead."
            )
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.best_loss = math.inf
        self.best_epoch = None
        self.best_state = None
        self.bad_epochs = 0
        self.stopped_epoch = None

    def on_epoch_end(self, state: TrainState) -> None:
        loss = state.history.monitored[-1]
        if loss is not None and loss < self.best_loss:
            self.best_loss = float(loss)
            self.best_epoch = state.epoch
            self.best_state = state.model.state_dict()
            self.bad_epochs = 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            state.stop = True
            self.stopped_epoch = state.epoch
            state.messages.append(
                f"early stopping: no improvement for {self.patience} epoch(s); the best epoch "
                f"was {self.best_epoch}."
            )

    def on_train_end(self, state: TrainState) -> None:
        if self.restore_best_weights and self.best_state is not None:
            state.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        return {
            "patience": self.patience, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
            "best_state": None if self.best_state is None else dict(self.best_state),
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_loss = float(state["best_loss"])
        self.best_epoch = state["best_epoch"]
        self.best_state = state["best_state"]
        self.bad_epochs = int(state["bad_epochs"])


def normalize_grad_(parameters) -> None:
    """Rescale each parameter's gradient to unit L2 norm, in place: g <- g / ||g||_2.

    Each parameter on its own (not the joint norm of clip_grad_norm_); a zero gradient stays zero.
    Only the direction of each gradient is kept, so the step size is set by the learning rate.
    """
    for p in parameters:
        if p.grad is not None:
            norm = np.sqrt(np.sum(p.grad._data.astype(np.float64) ** 2))
            if norm > 0:
                p.grad._data /= p.grad._data.dtype.type(norm)


def _as_batches(data, batch_size: int):
    """An iterable of (inputs, targets) batches from a DataLoader, a dataset or an (X, y) pair."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(
                f"evaluate: the data must be an (inputs, targets) pair. Got {len(data)} items."
            )
        data = TensorDataset(*data)
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return DataLoader(data, batch_size=batch_size, shuffle=False)
    return data  # any other iterable of (inputs, targets)


def evaluate(model, loss_fn, data, batch_size: int = 1024) -> float:
    """The mean loss of ``model`` on ``data``, under no_grad and in eval mode.

    ``data`` is an (inputs, targets) pair of arrays or Tensors, a dataset, or a DataLoader. Each
    batch's loss is weighted by its size, so for a loss with reduction='mean' the result is the
    mean over all samples, whatever the batch size. The model's train/eval mode is restored.
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            device = _gpu_of(model)
            for inputs, targets in _as_batches(data, batch_size):
                if device is not None:
                    inputs, targets = _moved(inputs, device), _moved(targets, device)
                n = len(inputs)
                total += float(loss_fn(model(inputs), targets).item()) * n
                count += n
    finally:
        if was_training:
            model.train()
    if count == 0:
        raise ValueError("evaluate: the data has no samples.")
    return total / count


def _gpu_of(model):
    """The GPU device the model's parameters are on, or None for the CPU (or no parameters)."""
    first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return first.device if first is not None and first.is_cuda else None


def _moved(value, device):
    """A batch's inputs or targets (a Tensor, an array, or a tuple of them) on ``device``, as
    PyTorch code does by hand with ``x.to(device)`` after the DataLoader."""
    if isinstance(value, (tuple, list)):
        return type(value)(_moved(v, device) for v in value)
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, np.ndarray):
        return Tensor(value).to(device)
    return value


def format_loss(value: float) -> str:
    """Four decimals (4.1230); scientific notation from 1e6 on, so a diverging run stays short."""
    return f"{value:.4f}" if abs(value) < 1e6 or not math.isfinite(value) else f"{value:.4e}"


def _current_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _check_fit_arguments(epochs, initial_epoch, clip_value, clip_norm, normalize_grad, patience):
    for name, value, low in (("epochs", epochs, 0), ("initial_epoch", initial_epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(
                f"The '{name}' parameter of fit must be an int >= {low}. Got {value!r} instead."
            )
    for name, value in (("clip_value", clip_value), ("clip_norm", clip_norm)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not value > 0):
            raise ValueError(
                f"The '{name}' parameter of fit must be a number > 0 or None. "
                f"Got {value!r} instead."
            )
    if normalize_grad and (clip_value is not None or clip_norm is not None):
        raise ValueError(
            "fit: normalize_grad=True replaces clipping; pass it without clip_value or clip_norm."
        )
    if patience is not None and (isinstance(patience, bool)
                                 or not isinstance(patience, numbers.Integral) or patience < 1):
        raise ValueError(
            f"The 'patience' parameter of fit must be an int >= 1 or None. Got {patience!r} "
            "instead."
        )


class _Callbacks:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def __getattr__(self, hook):
        def call(state):
            for callback in self.callbacks:
                getattr(callback, hook)(state)
        return call


def _progress_bar(batches, enabled: bool, epoch: int):
    """A tqdm bar over the batches when asked for and tqdm is installed; else the batches."""
    if not enabled:
        return batches
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return batches
    return tqdm(batches, desc=f"epoch {epoch}", leave=False, unit="batch")


def fit(model, loss_fn, optimizer, train_loader, val_data=None, epochs=10, scheduler=None,
        clip_value=None, clip_norm=None, normalize_grad=False, callbacks=(), patience=None,
        log=print, progress=False, initial_epoch=0, history=None, loss_scale=1.0) -> History:
    """Train ``model`` for epochs ``initial_epoch + 1`` .. ``epochs``; return the History.

    Args:
        model: a Module (called on each batch's inputs).
        loss_fn: called as loss_fn(predictions, targets), returns a scalar Tensor.
        optimizer: an Optimizer over the model's parameters.
        train_loader: an iterable of (inputs, targets) batches, re-iterated every epoch
            (a DataLoader with shuffle=True draws a new order from the seeded generator).
        val_data: None, an (inputs, targets) pair, a dataset or a DataLoader.
        epochs: the last epoch to run (the total, counting epochs done before a resume).
        scheduler: an lr scheduler, stepped once per epoch (ReduceLROnPlateau with the val loss).
        clip_value: clamp every gradient element to [-clip_value, clip_value] before the step.
        clip_norm: rescale all gradients together to a joint L2 norm of at most clip_norm
            (applied after clip_value when both are given).
        normalize_grad: rescale each parameter's gradient to L2 norm 1 (not with clipping).
        callbacks: Callback objects, called in order (see chainrule.training.callbacks).
        patience: stop after this many epochs without improvement and restore the best
            weights (adds an EarlyStopping callback unless ``callbacks`` has one).
        log: a function taking one line of text (print by default), or None for silence.
        progress: show a tqdm progress bar over the batches, if tqdm is installed.
        initial_epoch, history: where a resumed run starts, and its History so far.
        loss_scale: every loss fit reports (the History, the log lines, ``state.loss`` for the
            callbacks, the val loss given to ReduceLROnPlateau) is the loss times this number. Training on
            standardized targets t' = (t - mean) / std, a scale of std^2 (MSE) or std (L1) reports
            the loss in the targets' own units; the gradients are those of the loss itself.
    """
    _check_fit_arguments(epochs, initial_epoch, clip_value, clip_norm, normalize_grad, patience)
    log = log if log is not None else (lambda line: None)
    history = history if history is not None else History()
    callbacks = list(callbacks)
    if patience is not None and not any(isinstance(c, EarlyStopping) for c in callbacks):
        callbacks.insert(0, EarlyStopping(patience))
    hooks = _Callbacks(callbacks)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    state = TrainState(model=model, optimizer=optimizer, loss_fn=loss_fn, epochs=epochs,
                       epoch=initial_epoch, loss_scale=loss_scale,
                       step=len(history.step_loss), history=history,
                       train_data=train_loader, val_data=val_data)
    try:
        state.steps_per_epoch = len(train_loader)
    except TypeError:
        state.steps_per_epoch = 0

    device = _gpu_of(model)  # a model on 'cuda' gets each batch moved there
    optimizer.zero_grad()  # start from clean gradients, whatever ran before
    hooks.on_train_begin(state)
    for epoch in range(initial_epoch + 1, epochs + 1):
        if state.stop:
            break
        started = time.perf_counter()
        state.epoch = epoch
        lr = _current_lr(optimizer)
        model.train()
        hooks.on_epoch_begin(state)
        loss_sum, sample_count = 0.0, 0
        for batch, (inputs, targets) in enumerate(_progress_bar(train_loader, progress, epoch)):
            if device is not None:
                inputs, targets = _moved(inputs, device), _moved(targets, device)
            state.batch, state.inputs, state.targets = batch, inputs, targets
            # forward, loss, backward
            predictions = model(inputs)
            loss = loss_fn(predictions, targets)
            loss.backward()
            state.loss = float(loss.item()) * loss_scale
            hooks.on_after_backward(state)
            # treat the gradients, then step
            if clip_value is not None:
                clip_grad_value_(parameters, clip_value)
            if clip_norm is not None:
                clip_grad_norm_(parameters, clip_norm)
            if normalize_grad:
                normalize_grad_(parameters)
            optimizer.step()
            state.step += 1
            history.step_loss.append(state.loss)
            hooks.on_step_end(state)
            optimizer.zero_grad()
            loss_sum += state.loss * len(inputs)
            sample_count += len(inputs)
            if state.stop:
                break
        if sample_count == 0:
            raise ValueError("fit: the training data gave no batches; it has no samples.")

        train_loss = loss_sum / sample_count
        val_loss = (evaluate(model, loss_fn, val_data) * loss_scale if val_data is not None
                    else None)
        if plateau:
            scheduler.step(val_loss if val_loss is not None else train_loss)
        elif scheduler is not None:
            scheduler.step()
        history.epoch.append(epoch)
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.lr.append(lr)
        history.seconds.append(time.perf_counter() - started)
        line = f"epoch {epoch}: train loss {format_loss(train_loss)}"
        log(line if val_loss is None else f"{line}, val loss {format_loss(val_loss)}")

        hooks.on_epoch_end(state)
        for message in state.messages:
            log(message)
        state.messages.clear()
    hooks.on_train_end(state)
    for message in state.messages:
        log(message)
    state.messages.clear()
    return history
