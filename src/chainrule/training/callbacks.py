"""Callbacks: how code watches or steers a training run without changing the fit loop.

The fit loop (``chainrule.train.fit``) calls these hooks, in this order, with one shared
``TrainState``::

    on_train_begin
    for each epoch:
        on_epoch_begin
        for each batch:
            forward, loss, backward
            on_after_backward      gradients are in p.grad, before clipping and the optimizer step
            clip, optimizer.step()
            on_step_end            parameters are updated; state.loss is this batch's loss
        evaluate
        on_epoch_end               state.history holds this epoch's train and validation loss
    on_train_end

A callback stops training by setting ``state.stop = True`` (early stopping does this).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainState:
    """What a callback can see (and, for ``stop``, change) during fit."""

    model: Any
    optimizer: Any
    epochs: int = 0  # planned number of epochs
    epoch: int = 0  # current epoch, counted from 1
    batch: int = 0  # batch index within the epoch, from 0
    step: int = 0  # optimizer steps taken so far in the whole run
    steps_per_epoch: int = 0
    loss: float | None = None  # the last batch's training loss (times loss_scale)
    loss_scale: float = 1.0  # fit's loss_scale: reported losses are the loss times this
    inputs: Any = None  # the current batch's inputs and targets (Tensors)
    targets: Any = None
    train_data: Any = None  # fit's train_loader and val_data, as given
    val_data: Any = None
    loss_fn: Any = None  # the loss function fit was given
    history: Any = None  # chainrule.train.History
    stop: bool = False
    messages: list = field(default_factory=list)  # plain-text warnings callbacks want shown


class Callback:
    """Base class: override the hooks you need; each receives the TrainState."""

    def on_train_begin(self, state: TrainState) -> None:
        pass

    def on_epoch_begin(self, state: TrainState) -> None:
        pass

    def on_after_backward(self, state: TrainState) -> None:
        pass

    def on_step_end(self, state: TrainState) -> None:
        pass

    def on_epoch_end(self, state: TrainState) -> None:
        pass

    def on_train_end(self, state: TrainState) -> None:
        pass
