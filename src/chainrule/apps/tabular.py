"""Tabular runs: a network fitted to a formula of named variables or to the columns of a CSV file
(what ``chainrule train`` runs and ``chainrule predict`` applies).

    config = {...}                              # the settings (chainrule train's config.json)
    result = execute(TrainRunSpec(config), "runs/houses")
    model, data, config = load_run("runs/houses")
    outputs = predict_array(model, data, X_new)  # scaled as in training, in the target's units

One run, in order (so a seed reproduces it and a resume rebuilds it):
    manual_seed(seed)                           (by execute)
    data:   function: each variable ~ N(0, 1) (or U(LOW, HIGH) with range), target = EXPR
            csv:      the features columns (default: all but the target) and the target
    split:  a random val_fraction of the rows for validation (0: no validation)
    scale:  inputs standardized with the training rows' mean and std, and for a regression
            loss the target too; losses are reported in the target's units
    model:  Linear, activation, ..., Linear, then init; loss, optimizer, scheduler
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from ..autograd import no_grad
from ..data import DataLoader, Standardizer, TensorDataset
from ..files import open_regular
from ..tensor import Tensor
from ..training.builders import apply_init, build_mlp, build_optimizer, build_scheduler
from ..training.lifecycle import RunSpec, Setup
from ..training.runs import load_checkpoint
from ..training.tasks import (
    AccuracyRecorder, accuracy, chance_accuracy, confusion_matrix, loss_for, target_std,
    targets_for_task, task_of,
)

__all__ = ["Prepared", "prepare_data", "data_record", "build_model", "TrainRunSpec", "load_run",
           "predict_array", "file_sha256", "check_csv_unchanged"]


def file_sha256(path: str, shown: str) -> str:
    """The SHA-256 of the file at ``path`` (named ``shown`` in errors), to notice a changed CSV."""
    if os.path.isdir(path):
        raise ValueError(f"{shown} is a folder, not a CSV file.")
    digest = hashlib.sha256()
    try:
        with open_regular(path, "rb", what="the CSV file") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):  # in blocks: any size
                digest.update(block)
    except FileNotFoundError:
        raise FileNotFoundError(f"{shown}: no such file.") from None
    return digest.hexdigest()


class Prepared:
    """The data of a run: split, scaled and cast, plus what predict needs to know about it."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _function_data(config, generator):
    from .expression import compile_expression

    try:
        expression = compile_expression(config["function"])
    except ValueError as err:
        raise ValueError(f"--function: {err}") from None
    names = list(expression.variables)
    n = config["samples"]
    if config["range"] is None:
        X = generator.normal(size=(n, len(names)))
    else:
        X = generator.uniform(config["range"][0], config["range"][1], size=(n, len(names)))
    with np.errstate(all="ignore"):
        y = np.broadcast_to(expression(**{name: X[:, i] for i, name in enumerate(names)}), (n,))
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        where = "N(0, 1)" if config["range"] is None else f"U{tuple(config['range'])}"
        raise ValueError(
            f"--function {config['function']!r} gives NaN or Inf at {bad} of the {n} points "
            f"sampled from {where}; choose a --range where it is defined."
        )
    if config["noise"]:
        y = y + generator.normal(0.0, config["noise"], size=n)
    y = np.asarray(y, dtype=np.float64).reshape(n, 1)
    if not config["standardize"]:  # trained unscaled, in the run's dtype: it must fit there
        largest = float(np.finfo(np.dtype(config["dtype"])).max)
        for values, what in ((X, "the sampled " + ", ".join(names)), (y, "the target")):
            too_large = np.flatnonzero(np.abs(values).max(axis=1) > largest)
            if too_large.size:
                row = int(too_large[0])
                raise ValueError(
                    f"--function {config['function']!r}: {np.abs(values[row]).max():.3g} at row "
                    f"{row + 1} of {what} is too large for {config['dtype']} (largest "
                    f"{largest:.3g}); use --dtype float64, a smaller --range, or leave "
                    "--standardize on.")
    return X, y, names, "target", expression


def _csv_data(config):
    """(X, y, names, target, None, class_names): class labels given as text (cross_entropy) are
    numbered in sorted order, class_names[k] being the text of class k (None for numbers)."""
    from .csvdata import load_csv

    classes_as_text = task_of(config["loss"]) == "classification"
    try:
        # Unscaled, the numbers are trained in the run's dtype: a cell too large for it (1e39
        # in float32) is refused by line and column, never turned into Inf.
        dtype = np.float64 if config["standardize"] else np.dtype(config["dtype"])
        X, y, names = load_csv(config["csv"], target=config["target"],
                               features=config["features"], target_as_text=classes_as_text,
                               dtype=dtype)
        X = X.astype(np.float64)
        y = y if classes_as_text else y.astype(np.float64)
    except ValueError as err:
        if "is not a number" in str(err) and config["features"] is None:
            raise ValueError(f"{err} Every feature column must hold numbers; choose the numeric "
                             "ones with --features A,B,...") from None
        if "is too large for" in str(err):
            raise ValueError(f"{str(err).rstrip('.')} (unscaled, with --no-standardize); use "
                             "--dtype float64 or leave --standardize on.") from None
        raise
    class_names = None
    if classes_as_text:
        try:
            y = np.array([[float(cell)] for cell in y[:, 0]], dtype=np.float64)
        except ValueError:  # labels such as 'setosa': number them in sorted order
            class_names = sorted(set(y[:, 0]))
            index = {name: k for k, name in enumerate(class_names)}
            y = np.array([[index[cell]] for cell in y[:, 0]], dtype=np.float64)
    return X, y, names, config["target"], None, class_names


def prepare_data(config) -> Prepared:
    """Draw or read the data, split, scale and cast it (call right after manual_seed)."""
    from .. import random as _random
    from ..data import Standardizer, train_val_split

    generator = _random.default_generator()
    if config["source"] == "function":
        X, y, names, target, expression = _function_data(config, generator)
        class_names = None
    else:
        X, y, names, target, expression, class_names = _csv_data(config)
    task = task_of(config["loss"])
    y, classes = targets_for_task(y, task, target)
    if len(X) < 2:
        raise ValueError(f"the data has {len(X)} row(s); training needs at least 2.")
    if config["val_fraction"] > 0:
        try:
            (X_train, y_train), (X_val, y_val) = train_val_split(
                X, y, val_fraction=config["val_fraction"])
        except ValueError as err:  # too few rows for this share: name the flags, not the function
            empty = "validation" if "validation set empty" in str(err) else "training"
            more = "--samples" if config["source"] == "function" else "rows in the CSV"
            raise ValueError(
                f"--val-fraction {config['val_fraction']:g} of {len(X)} rows leaves the {empty} "
                f"set empty; use more {more} or another --val-fraction (0: no validation)."
            ) from None
    else:
        X_train, y_train, X_val, y_val = X, y, None, None
    standardizer = Standardizer().fit(X_train) if config["standardize"] else None
    # A regression network learns the target scaled to mean 0 and std 1, whatever its units: a
    # target of mean 400 would otherwise need output weights hundreds of times the init's.
    target_scaler = Standardizer().fit(y_train) if config.get("standardize_target") else None
    dtype = np.dtype(config["dtype"])

    def scale(inputs):
        if inputs is None:
            return None
        inputs = standardizer.transform(inputs) if standardizer is not None else inputs
        return np.ascontiguousarray(inputs, dtype=dtype)

    def cast(targets):
        if targets is None or task == "classification":
            return targets
        return (targets if target_scaler is None else target_scaler.transform(targets)).astype(dtype)

    return Prepared(
        X_train=scale(X_train), y_train=cast(y_train), X_val=scale(X_val), y_val=cast(y_val),
        raw_X_train=X_train, features=names, target=target, task=task, classes=classes,
        class_names=class_names,
        standardizer=standardizer, target_scaler=target_scaler, expression=expression,
    )


def data_record(prepared: Prepared, config) -> dict:
    """What predict needs, stored in the checkpoint."""
    return {
        "features": list(prepared.features), "target": prepared.target, "task": prepared.task,
        "classes": prepared.classes, "loss": config["loss"], "dtype": config["dtype"],
        "class_names": prepared.class_names,  # the text of each class, or None
        "standardizer": (None if prepared.standardizer is None
                         else prepared.standardizer.state_dict()),
        "target_standardizer": (None if prepared.target_scaler is None
                                else prepared.target_scaler.state_dict()),
    }


def build_model(config, in_features: int, classes):
    out_features = classes if classes else 1
    model = build_mlp(in_features, config["hidden"], out_features, config["activation"],
                      config["dtype"])
    apply_init(model, config["init"])
    return model



def check_csv_unchanged(config) -> None:
    """ValueError if the CSV a run was trained on has changed since (a resume would differ)."""
    if config["source"] == "csv" and file_sha256(config["csv"], config["csv"]) != config["csv_sha256"]:
        raise ValueError(f"{config['csv']} has changed since the run started, so the run cannot "
                         "be continued exactly; start a new run instead.")


def _two_variable_formula(config) -> bool:
    if config["source"] != "function" or task_of(config["loss"]) != "regression":
        return False
    from .expression import compile_expression

    return len(compile_expression(config["function"]).variables) == 2


class TrainRunSpec(RunSpec):
    """A run of ``chainrule train`` for ``execute``: config is its config.json."""

    command = "train"
    divergence_advice = "try a smaller --lr, --clip-norm, or a different --init"

    samples = "rows"  # what one training sample is called in the notes

    def prepare(self) -> tuple:
        """(prepared data, the model, the data record the checkpoint keeps) from the config."""
        prepared = prepare_data(self.config)
        model = build_model(self.config, len(prepared.features), prepared.classes)
        return prepared, model, data_record(prepared, self.config)

    def build(self) -> Setup:
        config = self.config
        prepared, model, data = self.prepare()
        loss_fn, loss_scale = loss_for(config["loss"], target_std(data))
        optimizer = build_optimizer(config["optimizer"], model.parameters(), config["lr"],
                                    config["momentum"], config["weight_decay"])
        scheduler = build_scheduler(config["scheduler"], optimizer, config["epochs"])
        n_train, batch_size, notes = len(prepared.X_train), config["batch_size"], []
        if n_train < batch_size:
            batch_size = n_train
            notes.append(f"the training set has {n_train} {self.samples}, fewer than --batch-size "
                         f"{config['batch_size']}, so each epoch is one batch of {n_train} "
                         f"{self.samples}.")
        loader = DataLoader(TensorDataset(prepared.X_train, prepared.y_train),
                            batch_size=batch_size, shuffle=True)
        val_data = None if prepared.X_val is None else (prepared.X_val, prepared.y_val)
        extras, callbacks = {"prepared": prepared}, []
        if prepared.task != "regression" and val_data is not None:
            extras["accuracy"] = AccuracyRecorder(prepared.task, val_data)
            callbacks.append(extras["accuracy"])
        return Setup(model, loss_fn, optimizer, loader, val_data, scheduler, loss_scale, data,
                     callbacks=callbacks, notes=notes, extras=extras)

    def resume_command(self, run_dir) -> str:
        return f"chainrule train --resume {run_dir}"

    def figures(self, monitored: bool) -> list:
        from . import plot

        if not plot.available():
            return []
        return (["loss_curve.png"] + (["surface.png"] if _two_variable_formula(self.config) else [])
                + (["confusion_matrix.png"] if confusion_drawn(self.config) else [])
                + (["health.png"] if monitored else []))

    def draw(self, result, setup: Setup) -> None:
        """loss_curve.png, surface.png for a two-variable formula, confusion_matrix.png for a
        classifier, health.png."""
        from . import plot

        if not plot.available():
            result.notes.append(f"no plots were drawn because matplotlib is not installed; get "
                                f"them with: {plot.INSTALL_HINT}")
            return
        run_dir, prepared = result.run_dir, setup.extras["prepared"]
        name = os.path.basename(os.path.normpath(run_dir))
        # (a resumed run shows the accuracy of the epochs it trained in this call)
        result.files.append(plot.loss_curves(
            {"": result.history}, os.path.join(run_dir, "loss_curve.png"),
            title=f"Training run {name}", ylabel=f"{self.config['loss']} loss",
            accuracy=setup.extras["accuracy"].per_epoch if "accuracy" in setup.extras else None))
        if prepared.expression is not None and len(prepared.features) == 2 \
                and prepared.task == "regression":
            result.files.append(_surface(plot, run_dir, prepared, result.model))
        if confusion_drawn(self.config):
            result.files.append(draw_confusion(plot, run_dir, result.model, prepared, "rows"))
        if result.monitor is not None and result.monitor.losses:
            result.files.append(plot.health_curves(result.monitor,
                                                   os.path.join(run_dir, "health.png")))

    def summarize(self, result, setup: Setup) -> dict:
        prepared = setup.extras["prepared"]
        val_accuracy = chance = None
        if prepared.task != "regression" and prepared.X_val is not None and len(prepared.X_val):
            # of the weights the run ends with (the kept ones, if it stopped early)
            with no_grad():
                result.model.eval()
                outputs = result.model(Tensor(prepared.X_val))._data
            val_accuracy = accuracy(prepared.task, outputs, prepared.y_val)
            chance = chance_accuracy(prepared.y_val)
        return {"val_accuracy": val_accuracy, "chance_accuracy": chance, "task": prepared.task,
                "features": prepared.features}


def confusion_drawn(config) -> bool:
    return task_of(config["loss"]) != "regression"


def draw_confusion(plot, run_dir, model, prepared, count_name) -> str:
    """confusion_matrix.png of ``model`` on the validation set (the training set when there is
    none), for a classification or binary task."""
    if prepared.X_val is not None and len(prepared.X_val):
        inputs, targets, part = prepared.X_val, prepared.y_val, "validation"
    else:
        inputs, targets, part = prepared.X_train, prepared.y_train, "training"
    with no_grad():
        model.eval()
        outputs = model(Tensor(inputs))._data
    classes = prepared.classes or 2
    matrix = confusion_matrix(prepared.task, outputs, targets, classes)
    labels = prepared.class_names or [str(k) for k in range(classes)]
    share = accuracy(prepared.task, outputs, targets)
    return plot.confusion_matrix(
        matrix, os.path.join(run_dir, "confusion_matrix.png"), labels=labels,
        title=f"Confusion matrix on the {len(inputs)} {part} {count_name}: accuracy {share:.1%}",
        count_name=f"{part} {count_name}")


def _surface(plot, run_dir, prepared, model) -> str:
    expression, names = prepared.expression, prepared.features
    raw = prepared.raw_X_train
    low = np.percentile(raw, 1, axis=0)
    high = np.percentile(raw, 99, axis=0)

    def target(points):
        return np.broadcast_to(expression(**{n: points[:, i] for i, n in enumerate(names)}),
                               (len(points),))

    def learned(points):
        inputs = points if prepared.standardizer is None \
            else prepared.standardizer.transform(points)
        with no_grad():
            model.eval()
            out = model(Tensor(np.asarray(inputs, dtype=prepared.X_train.dtype)))._data
        if prepared.target_scaler is not None:
            out = prepared.target_scaler.inverse_transform(out)
        return out[:, 0]

    return plot.surface_comparison(
        target, learned, os.path.join(run_dir, "surface.png"),
        x_range=(float(low[0]), float(high[0])), y_range=(float(low[1]), float(high[1])),
        names=tuple(names), title=f"{expression.text}: target and learned surface",
        train_points=raw, value_name=prepared.target)


def load_run(model_path):
    """(model, data record, config) from a run folder or checkpoint written by chainrule train."""
    checkpoint = load_checkpoint(model_path, command="train")
    data, config = checkpoint.get("data"), checkpoint["config"]
    if isinstance(data, dict) and data.get("source") == "images":
        raise ValueError(f"{model_path} was trained on images of "
                         f"{'x'.join(map(str, data['image_shape']))} (C x H x W), not on CSV "
                         f"columns; predict with --images SOURCE (an .npz file, a folder of .npy "
                         "images, or digits).")
    if not isinstance(data, dict) or "features" not in data:
        raise ValueError(f"{model_path} was not written by chainrule train: its checkpoint "
                         "has no record of the feature columns to predict from.")
    out_features = data["classes"] or 1
    model = build_mlp(len(data["features"]), config["hidden"], out_features,
                      config["activation"], config["dtype"])
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, data, config


def predict_array(model, data, X, batch_size=4096) -> np.ndarray:
    """Model outputs (n, out) for the unscaled inputs X, scaled as in training; a regression
    target that training scaled is scaled back to its own units."""
    if data["standardizer"] is not None:
        scaler = Standardizer()
        scaler.load_state_dict(data["standardizer"])
        X = scaler.transform(X)
    X = np.ascontiguousarray(X, dtype=np.dtype(data["dtype"]))
    outputs = []
    with no_grad():
        for start in range(0, len(X), batch_size):
            outputs.append(model(Tensor(X[start:start + batch_size]))._data)
    outputs = np.concatenate(outputs, axis=0)
    if data.get("target_standardizer") is not None:  # (runs made before it have none)
        scaler = Standardizer()
        scaler.load_state_dict(data["target_standardizer"])
        outputs = scaler.inverse_transform(outputs).astype(outputs.dtype, copy=False)
    return outputs


