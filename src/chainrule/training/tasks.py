"""Tasks: what a loss asks of the targets, how the targets are scaled, and how a run is scored.

    regression       mse, l1, huber         targets (n, 1) floats; the network outputs 1 number
    classification   cross_entropy          targets (n,) class indices 0..K-1; K outputs (logits)
    binary           bce_with_logits        targets (n, 1) of 0 and 1; 1 output (the logit)

A regression target is trained standardised, t' = (t - mean) / std; ``loss_for`` returns the loss
module and the factor that reports its value in the target's own units.

>>> task_of("huber")
'regression'
>>> labels, classes = class_targets(np.array([[0.0], [2.0], [1.0]]), "y")
>>> labels.tolist(), classes
([0, 2, 1], 3)
>>> accuracy("classification", np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
0.5
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..backend import to_numpy
from ..tensor import Tensor
from .builders import build_loss, parse_loss
from .callbacks import Callback

__all__ = ["LOSSES", "task_of", "class_targets", "binary_targets", "targets_for_task",
           "loss_for", "target_std", "accuracy", "chance_accuracy", "predicted_classes",
           "confusion_matrix", "prediction_columns", "AccuracyRecorder"]

LOSSES = {  # name: task
    "mse": "regression", "l1": "regression", "huber": "regression",
    "cross_entropy": "classification", "bce_with_logits": "binary",
}


def task_of(loss_name: str) -> str:
    """'regression', 'classification' or 'binary': what the loss ``loss_name`` trains."""
    return LOSSES[parse_loss(loss_name)]


def class_targets(y, target: str):
    """(labels (n,) int64, number of classes) from a column of class numbers 0, 1, ..., K-1;
    ValueError naming the first row that is no class, or when the labels make far more classes
    than there are rows or distinct labels (a whole-number regression target, such as prices,
    would otherwise build an output layer of a million classes).

    >>> class_targets(np.array([[3.0], [705033.0], [120.0]]), "price")
    Traceback (most recent call last):
    ...
    ValueError: --loss cross_entropy on 'price' would make 705034 classes (labels 0 to 705033) \
from 3 rows with 3 distinct values; a target like that is a number to predict, not a class: use \
--loss mse, l1 or huber, or number the classes 0, 1, ..., K-1.
    """
    labels = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0]
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0))
    if bad.size:
        raise ValueError(
            f"--loss cross_entropy needs class labels 0, 1, ..., K-1 in {target!r}; row "
            f"{bad[0] + 1} has {labels[bad[0]]:g}."
        )
    classes = int(labels.max()) + 1
    distinct = len(np.unique(labels))
    if classes > len(labels) or (classes > 20 and classes > 10 * distinct):
        raise ValueError(
            f"--loss cross_entropy on {target!r} would make {classes} classes (labels 0 to "
            f"{classes - 1}) from {len(labels)} rows with {distinct} distinct values; a target "
            "like that is a number to predict, not a class: use --loss mse, l1 or huber, or "
            "number the classes 0, 1, ..., K-1."
        )
    if classes < 2:
        raise ValueError(f"--loss cross_entropy needs at least 2 classes in {target!r}; "
                         "all labels are 0.")
    return labels.astype(np.int64), classes


def binary_targets(y, target: str):
    """The (n, 1) targets unchanged if every one is 0 or 1, else ValueError naming the row."""
    bad = np.flatnonzero((y[:, 0] != 0) & (y[:, 0] != 1))
    if bad.size:
        raise ValueError(
            f"--loss bce_with_logits needs 0/1 targets in {target!r}; row {bad[0] + 1} has "
            f"{y[bad[0], 0]:g}."
        )
    return y


def targets_for_task(y, task: str, target: str):
    """(targets, classes): int64 labels (n,) for classification, (n, 1) floats otherwise."""
    if task == "classification":
        return class_targets(y, target)
    if task == "binary":
        return binary_targets(y, target), None
    return y, None


def target_std(data: dict) -> float | None:
    """The std a run's regression target was divided by (from its data record), or None."""
    scaler = data.get("target_standardizer")
    return None if scaler is None else float(np.asarray(scaler["std"]).reshape(-1)[0])


def loss_for(loss_name: str, std: float | None = None):
    """The loss module training uses on targets divided by ``std`` (None: not scaled), and the
    factor from its value to the target's units.

    On a target scaled by 1/std: MSE scales by 1/std^2 and L1 by 1/std; Huber with delta / std
    is exactly Huber(delta) / std^2 (both pieces, 0.5 r^2 and delta (|r| - delta / 2), scale so),
    so every reported loss is the one the user asked for, in the target's units.

    >>> loss, scale = loss_for("huber", 2.0)
    >>> loss.delta, scale
    (0.5, 4.0)
    """
    if std is None:
        return build_loss(loss_name), 1.0
    if loss_name == "l1":
        return build_loss(loss_name), std
    if loss_name == "huber":
        from ..nn import HuberLoss

        return HuberLoss(delta=1.0 / std), std * std
    return build_loss(loss_name), std * std


def accuracy(task: str, outputs: np.ndarray, y: np.ndarray):
    """The share of rows whose predicted class is the target's (classification and binary
    tasks), or None for regression."""
    if task == "classification":
        predicted = outputs.argmax(axis=1)
    elif task == "binary":
        predicted = (outputs[:, 0] >= 0).astype(np.int64)  # sigmoid(logit) >= 0.5, as the column
    else:
        return None
    return float(np.mean(predicted == np.asarray(y).reshape(-1).astype(np.int64))) if len(y) else None


def predicted_classes(task: str, outputs: np.ndarray) -> np.ndarray:
    """The class each row of ``outputs`` predicts: the argmax of the logits (classification), or
    1 where the logit is >= 0, that is sigmoid >= 0.5 (binary)."""
    if task == "classification":
        return outputs.argmax(axis=1)
    if task == "binary":
        return (outputs[:, 0] >= 0).astype(np.int64)
    raise ValueError(f"a {task} task predicts numbers, not classes.")


def confusion_matrix(task: str, outputs: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    """counts (classes, classes), int64: counts[i, j] is the number of rows of true class i that
    the model predicts as class j (rows: truth, columns: prediction, as scikit-learn's).

    >>> confusion_matrix("classification", np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]),
    ...                  np.array([0, 0, 1]), 2).tolist()
    [[1, 1], [1, 0]]
    """
    truth = np.asarray(y).reshape(-1).astype(np.int64)
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (truth, predicted_classes(task, outputs)), 1)
    return counts


def chance_accuracy(labels) -> float:
    """The accuracy of always predicting the most common label: what a classifier that learned
    nothing scores.

    >>> chance_accuracy(np.array([0, 1, 1, 1]))
    0.75
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0


def prediction_columns(task: str, outputs):
    """(header names, columns array) of what a model predicts from its ``outputs``:
    regression: prediction; classification: prediction (the most likely class) and p_0 ... p_K-1
    (softmax probabilities); binary: prediction (0 or 1) and probability (of class 1)."""
    if task == "classification":
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        labels = outputs.argmax(axis=1).astype(np.float64)
        names = ["prediction"] + [f"p_{k}" for k in range(outputs.shape[1])]
        return names, np.column_stack([labels, probabilities])
    if task == "binary":
        probability = 0.5 * np.tanh(0.5 * outputs[:, 0].astype(np.float64)) + 0.5
        return ["prediction", "probability"], np.column_stack(
            [(probability >= 0.5).astype(np.float64), probability])
    return ["prediction"], outputs[:, :1]


class AccuracyRecorder(Callback):
    """A fit callback: the validation accuracy after every epoch, in ``per_epoch`` ({epoch:
    accuracy}), for a classification or binary task. Measured under no_grad in eval mode."""

    def __init__(self, task: str, val_data):
        self.task, self.val_data = task, val_data
        self.per_epoch = {}

    def on_epoch_end(self, state) -> None:
        inputs, targets = self.val_data
        model, was_training = state.model, state.model.training
        model.eval()
        device = next(iter(model.parameters())).device  # the model's ('cuda' after --device)
        with no_grad():
            outputs = to_numpy(model(Tensor(inputs).to(device))._data)
        if was_training:
            model.train()
        self.per_epoch[state.epoch] = accuracy(self.task, outputs, targets)
