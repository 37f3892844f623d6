"""``chainrule train``: fit a multilayer perceptron to a formula or a CSV file, into a run folder.

What one run does, in order (so ``--seed`` reproduces it, and ``--resume`` can rebuild it):
    manual_seed(seed)
    data:   --function: each variable ~ N(0, 1) (or U(LOW, HIGH) with --range), target = EXPR
            --csv:      the --features columns (default: all but the target) and the --target
    split:  a random --val-fraction of the rows for validation (0: no validation)
    scale:  inputs standardized with the training rows' mean and std, and for a regression
            loss the target too; losses are reported in the target's units (--no-standardize:
            neither)
    model:  Linear, activation, ..., Linear, then --init; loss, optimizer, scheduler
    fit:    chainrule.train.fit, with early stopping if --patience is given
    write:  config.json, metrics.csv, metrics.json, checkpoint.crk, loss_curve.png (+ surface.png
            for a formula of two variables)

The rule for small data: a training set with fewer rows than --batch-size is trained as one batch
of all its rows per epoch, and a note says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

from . import CommandError
from ._options import (
    LOSSES, add_model_options, add_optimizer_options, add_output_options, add_training_options,
    apply_init, build_loss, build_mlp, build_optimizer, build_scheduler, check_number,
    check_training_options, parse_activation, parse_hidden, parse_init, parse_loss,
    parse_optimizer, parse_range, parse_scheduler, resume_epochs, logger, json_number, kept_weights,
)

EXAMPLES = """\
examples:
  chainrule train --function "5*a**2 + 3*b**2" --epochs 30
  chainrule train --function "sin(x) * y" --range=-3:3 --samples 2000 --hidden 32,32 \\
                  --activation relu --optimizer sgd --lr 0.05 --momentum 0.9 --scheduler cosine
  chainrule train --csv houses.csv --target price --features area,rooms --loss huber --out runs/h
  chainrule train --csv iris.csv --target species --loss cross_entropy --patience 10 --json
  chainrule train --resume runs/h                 continue a stopped run (Ctrl-C saves one)
  chainrule predict --model runs/h --csv new_houses.csv --out predictions.csv

Losses: mse, l1, huber (regression); cross_entropy (integer class labels 0..K-1 in the target
column); bce_with_logits (0/1 targets). A training set smaller than one batch is trained as one
batch per epoch. Ctrl-C saves the last finished epoch into the run folder; --resume continues it
exactly (same weights, optimizer state, data order and random draws).
"""

# What may be given together with --resume (everything else comes from the saved config).
RESUME_OPTIONS = ("epochs", "quiet", "json", "progress", "plots", "resume", "health")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a network on a formula or a CSV file",
        description="Train a multilayer perceptron on a formula (--function) or a CSV file\n"
                    "(--csv), and write a run folder with metrics, plots and a checkpoint.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--function", metavar="EXPR",
                      help='a formula of named variables, such as "5*a**2 + 3*b**2" '
                           "(+ - * / **, abs cos exp log relu sigmoid sin sqrt tan tanh, pi, e)")
    data.add_argument("--range", default=None, metavar="LOW:HIGH",
                      help="sample the variables from U(LOW, HIGH) instead of N(0, 1); "
                           "write --range=-3:3 when LOW is negative")
    data.add_argument("--samples", type=int, default=1000,
                      help="rows to sample for --function (default 1000)")
    data.add_argument("--noise", type=float, default=0.0,
                      help="std of Gaussian noise added to the --function target (default 0)")
    data.add_argument("--csv", metavar="FILE", help="a CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    data.add_argument("--features", metavar="A,B,...",
                      help="the CSV columns to use as inputs (default: all but the target)")
    data.add_argument("--loss", default="mse", metavar="NAME",
                      help=f"{', '.join(LOSSES)} (default mse)")
    data.add_argument("--val-fraction", type=float, default=0.2,
                      help="share of rows held out for validation, in [0, 1) (default 0.2)")
    data.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                      help="scale inputs, and the target of a regression loss, to mean 0 "
                           "and std 1 using the training rows; losses are still reported in "
                           "the target's units (default on)")
    add_model_options(parser)
    add_optimizer_options(parser)
    add_training_options(parser)
    add_output_options(parser)
    parser.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                        help="draw loss_curve.png (and surface.png) (default on; needs "
                             "matplotlib)")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run saved in RUN_DIR (with its saved settings; "
                             "--epochs may raise the total)")
    parser.set_defaults(run=run, _parser=parser)


# ----- settings ---------------------------------------------------------------------------------

def _given(args) -> list:
    """The option names whose values differ from the defaults (what the user typed)."""
    defaults = vars(args._parser.parse_args([]))
    return [name for name, value in vars(args).items()
            if not name.startswith("_") and name not in ("run", "command")
            and defaults.get(name) != value]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def config_from_args(args) -> dict:
    """Check every option and return the run's settings as a JSON-able dict."""
    given = set(_given(args))
    if args.function is None and args.csv is None:
        raise CommandError("give the data with --function EXPR or with --csv FILE --target "
                           "COLUMN (see chainrule train --help).")
    if args.function is not None and args.csv is not None:
        raise CommandError("--function and --csv cannot be used together; choose one source.")
    if args.function is not None:
        for name in ("target", "features"):
            if name in given:
                raise CommandError(f"{_flag(name)} applies to --csv only; --function names its "
                                   "variables itself.")
    else:
        if args.target is None:
            raise CommandError("--csv needs --target COLUMN, the column to predict.")
        for name in ("range", "samples", "noise"):
            if name in given:
                raise CommandError(f"{_flag(name)} applies to --function only, not to --csv.")
    check_training_options(args)
    check_number("--samples", args.samples, 2, integer=True)
    check_number("--noise", args.noise, 0)
    check_number("--val-fraction", args.val_fraction, 0, 1, high_open=True)
    optimizer = parse_optimizer(args.optimizer)
    if args.momentum is not None and optimizer not in ("sgd", "rmsprop"):
        raise CommandError(f"--momentum applies to sgd and rmsprop only, not to {optimizer}.")
    parse_init(args.init)
    parse_scheduler(args.scheduler)
    config = {
        "source": "function" if args.function is not None else "csv",
        "function": args.function,
        "range": list(parse_range(args.range)) if args.range is not None else None,
        "samples": args.samples,
        "noise": args.noise,
        "csv": os.path.abspath(args.csv) if args.csv is not None else None,
        "csv_sha256": None,
        "target": args.target,
        "features": _parse_features(args.features),
        "loss": parse_loss(args.loss),
        "val_fraction": args.val_fraction,
        "standardize": args.standardize,
        # (a key of its own: runs made before targets were scaled resume as they were made)
        "standardize_target": args.standardize and LOSSES[parse_loss(args.loss)] == "regression",
        "hidden": parse_hidden(args.hidden),
        "activation": parse_activation(args.activation),
        "init": args.init,
        "dtype": args.dtype,
        "optimizer": optimizer,
        "lr": args.lr,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "scheduler": args.scheduler,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "clip_value": args.clip_value,
        "clip_norm": args.clip_norm,
        "normalize_grad": args.normalize_grad,
        "patience": args.patience,
    }
    if config["csv"] is not None:
        config["csv_sha256"] = _sha256(config["csv"], args.csv)
    return config


def _parse_features(text):
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise CommandError(f"--features must be column names separated by commas. Got {text!r}.")
    return names


def _sha256(path: str, shown: str) -> str:
    if os.path.isdir(path):
        raise CommandError(f"{shown} is a folder, not a CSV file.")
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        raise FileNotFoundError(f"{shown}: no such file.") from None


# ----- data -------------------------------------------------------------------------------------

class Prepared:
    """The data of a run: split, scaled and cast, plus what predict needs to know about it."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _function_data(config, generator):
    from ..apps.expression import compile_expression

    try:
        expression = compile_expression(config["function"])
    except ValueError as err:
        raise CommandError(f"--function: {err}") from None
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
        raise CommandError(
            f"--function {config['function']!r} gives NaN or Inf at {bad} of the {n} points "
            f"sampled from {where}; choose a --range where it is defined."
        )
    if config["noise"]:
        y = y + generator.normal(0.0, config["noise"], size=n)
    return X, np.asarray(y, dtype=np.float64).reshape(n, 1), names, "target", expression


def _csv_data(config):
    from ..apps.csvdata import load_csv

    X, y, names = load_csv(config["csv"], target=config["target"], features=config["features"])
    return X, y, names, config["target"], None


def _targets_for_task(y, task: str, target: str):
    """(targets, classes): int64 labels (n,) for classification, (n, 1) floats otherwise."""
    if task == "classification":
        labels = y[:, 0]
        bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0))
        if bad.size:
            raise CommandError(
                f"--loss cross_entropy needs class labels 0, 1, ..., K-1 in {target!r}; row "
                f"{bad[0] + 1} has {labels[bad[0]]:g}."
            )
        classes = int(labels.max()) + 1
        if classes < 2:
            raise CommandError(f"--loss cross_entropy needs at least 2 classes in {target!r}; "
                               "all labels are 0.")
        return labels.astype(np.int64), classes
    if task == "binary":
        bad = np.flatnonzero((y[:, 0] != 0) & (y[:, 0] != 1))
        if bad.size:
            raise CommandError(
                f"--loss bce_with_logits needs 0/1 targets in {target!r}; row {bad[0] + 1} has "
                f"{y[bad[0], 0]:g}."
            )
    return y, None


def prepare_data(config) -> Prepared:
    """Draw or read the data, split, scale and cast it (call right after manual_seed)."""
    from .. import random as _random
    from ..data import Standardizer, train_val_split

    generator = _random.default_generator()
    if config["source"] == "function":
        X, y, names, target, expression = _function_data(config, generator)
    else:
        X, y, names, target, expression = _csv_data(config)
    task = LOSSES[config["loss"]]
    y, classes = _targets_for_task(y, task, target)
    if len(X) < 2:
        raise CommandError(f"the data has {len(X)} row(s); training needs at least 2.")
    if config["val_fraction"] > 0:
        try:
            (X_train, y_train), (X_val, y_val) = train_val_split(
                X, y, val_fraction=config["val_fraction"])
        except ValueError as err:  # too few rows for this share: name the flags, not the function
            empty = "validation" if "validation set empty" in str(err) else "training"
            more = "--samples" if config["source"] == "function" else "rows in the CSV"
            raise CommandError(
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
        standardizer=standardizer, target_scaler=target_scaler, expression=expression,
    )


def target_std(data: dict) -> float | None:
    """The std the run's regression target was divided by, or None if it was not scaled."""
    scaler = data.get("target_standardizer")
    return None if scaler is None else float(np.asarray(scaler["std"]).reshape(-1)[0])


def training_loss(loss_name: str, data: dict):
    """The loss module training uses, and the factor from its value to the target's units.

    On a target scaled by 1/std: MSE scales by 1/std^2 and L1 by 1/std; Huber with delta / std
    is exactly Huber(delta) / std^2 (both pieces, 0.5 r^2 and delta (|r| - delta / 2), scale so),
    so every reported loss is the one the user asked for, in the target's units."""
    std = target_std(data)
    if std is None:
        return build_loss(loss_name), 1.0
    if loss_name == "l1":
        return build_loss(loss_name), std
    if loss_name == "huber":
        from ..nn import HuberLoss

        return HuberLoss(delta=1.0 / std), std * std
    return build_loss(loss_name), std * std


def data_record(prepared: Prepared, config) -> dict:
    """What predict needs, stored in the checkpoint."""
    return {
        "features": list(prepared.features), "target": prepared.target, "task": prepared.task,
        "classes": prepared.classes, "loss": config["loss"], "dtype": config["dtype"],
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


# ----- the command ------------------------------------------------------------------------------

def _resume_settings(args):
    """(run_dir, config, checkpoint) for --resume, with --epochs applied if given."""
    from ..training.runs import load_checkpoint

    extra = [name for name in _given(args) if name not in RESUME_OPTIONS]
    if extra:
        flags = ", ".join(_flag(name) for name in extra)
        raise CommandError(
            f"--resume continues with the saved settings; only --epochs, --quiet, --json, "
            f"--progress, --no-plots and --no-health can be given with it, not {flags}."
        )
    run_dir = args.resume
    checkpoint = load_checkpoint(run_dir)
    config = dict(checkpoint["config"])
    needed = ("source", "loss", "hidden", "activation", "optimizer", "epochs", "seed")
    if not all(key in config for key in needed) or config.get("command", "train") != "train":
        raise CommandError(f"{run_dir} was not written by chainrule train, so chainrule train "
                           "cannot resume it.")
    resume_epochs(config, checkpoint, args.epochs if "epochs" in _given(args) else None, run_dir)
    if config["source"] == "csv":
        now = _sha256(config["csv"], config["csv"])
        if now != config["csv_sha256"]:
            raise CommandError(f"{config['csv']} has changed since the run started, so the run "
                               "cannot be continued exactly; start a new run instead.")
    return run_dir, config, checkpoint




def run(args) -> int:
    import chainrule

    from ..apps import plot
    from ..data import DataLoader, TensorDataset
    from ..training.runs import (
        CHECKPOINT, CONFIG, EpochSnapshot, check_new_run_dir, make_checkpoint, new_run_dir,
        restore,
        save_checkpoint, save_on_interrupt, write_json, write_metrics,
    )
    from ..training.health import HealthMonitor
    from ..training.loop import EarlyStopping, fit

    if args.resume is not None:
        run_dir, config, checkpoint = _resume_settings(args)
    else:
        config = config_from_args(args)
        check_new_run_dir(args.out)
        checkpoint = None
    log = logger(args)
    notes = []

    chainrule.manual_seed(config["seed"])
    prepared = prepare_data(config)
    model = build_model(config, len(prepared.features), prepared.classes)
    data = data_record(prepared, config)
    loss_fn, loss_scale = training_loss(config["loss"], data)
    optimizer = build_optimizer(config["optimizer"], model.parameters(), config["lr"],
                                config["momentum"], config["weight_decay"])
    scheduler = build_scheduler(config["scheduler"], optimizer, config["epochs"])
    stopper = EarlyStopping(config["patience"]) if config["patience"] else None
    # watched unless --no-health; a resumed run goes on as it was made (its checkpoint's
    # "health" is None when it was made with --no-health; runs from before it have no entry)
    unwatched = checkpoint is not None and "health" in checkpoint and checkpoint["health"] is None
    monitor = HealthMonitor() if args.health and not unwatched else None  # fit prints warnings
    initial_epoch, history = 0, None
    if checkpoint is not None:
        initial_epoch, history = restore(checkpoint, model, optimizer, scheduler, stopper,
                                         monitor)
        if log:
            log(f"resuming {run_dir} after epoch {initial_epoch} of {config['epochs']}")
    else:
        run_dir = new_run_dir(args.out)
        write_json(os.path.join(run_dir, CONFIG), config)

    n_train = len(prepared.X_train)
    batch_size = config["batch_size"]
    if n_train < batch_size:
        batch_size = n_train
        notes.append(f"the training set has {n_train} rows, fewer than --batch-size "
                     f"{config['batch_size']}, so each epoch is one batch of {n_train} rows.")
    if not args.quiet:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    early_notes = len(notes)
    loader = DataLoader(TensorDataset(prepared.X_train, prepared.y_train),
                        batch_size=batch_size, shuffle=True)
    val_data = None if prepared.X_val is None else (prepared.X_val, prepared.y_val)
    snapshot = EpochSnapshot(model, optimizer, scheduler, config, stopper, data, monitor)
    # the snapshot last: it keeps every epoch as the other callbacks leave it
    callbacks = [c for c in (stopper, monitor) if c is not None] + [snapshot]

    # Overflow in a diverging run is reported once, by the note below, not by NumPy per op.
    with save_on_interrupt(snapshot, run_dir, f"chainrule train --resume {run_dir}"), \
            np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, loss_fn, optimizer, loader, val_data=val_data,
                      epochs=config["epochs"], scheduler=scheduler,
                      clip_value=config["clip_value"], clip_norm=config["clip_norm"],
                      normalize_grad=config["normalize_grad"], callbacks=callbacks, log=log,
                      progress=args.progress, initial_epoch=initial_epoch, history=history,
                      loss_scale=loss_scale)
        last_epoch = history.epoch[-1] if history.epoch else initial_epoch
        checkpoint_path = os.path.join(run_dir, CHECKPOINT)
        save_checkpoint(checkpoint_path, make_checkpoint(
            model, optimizer, scheduler, last_epoch, history, config, stopper, data,
            finished=True, health=monitor))
        files = [os.path.join(run_dir, CONFIG), *write_metrics(run_dir, history), checkpoint_path]
        if monitor is not None:
            files += monitor.write(run_dir, plots=args.plots and plot.available())

    if args.plots:
        files += _plots(plot, run_dir, history, prepared, model, notes, config["loss"])
    final_train = history.train_loss[-1] if history.train_loss else None
    final_val = history.val_loss[-1] if history.val_loss else None
    val_accuracy = None
    if prepared.task != "regression" and prepared.X_val is not None and len(prepared.X_val):
        from .predict import accuracy  # of the weights the run ends with (kept ones, if stopped)

        with chainrule.no_grad():
            model.eval()
            outputs = model(chainrule.tensor(prepared.X_val))._data
        val_accuracy = accuracy(prepared.task, outputs, prepared.y_val)
    if final_train is not None and not np.isfinite(final_train):
        notes.append("the training loss is NaN or Inf: training diverged; try a smaller --lr, "
                     "--clip-norm, or a different --init.")
    kept_epoch, kept_loss = kept_weights(history, stopper)
    summary = {
        "run_dir": run_dir,
        "epochs_run": len(history),
        "epochs_this_call": len(history) - initial_epoch,
        "resumed_from_epoch": initial_epoch if checkpoint is not None else None,
        "final_train_loss": json_number(final_train),
        "final_val_loss": json_number(final_val),
        "best_epoch": history.best_epoch,
        "stopped_early": bool(stopper and stopper.stopped_epoch is not None),
        # the weights saved: the best epoch's after early stopping, else the last epoch's
        "kept_epoch": kept_epoch,
        "kept_val_loss": json_number(kept_loss),
        "val_accuracy": val_accuracy,
        "task": prepared.task,
        "features": prepared.features,
        "health_warnings": monitor.warnings if monitor is not None else None,
        "files": files,
        "notes": notes,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary, notes[early_notes:], brief=args.quiet)
    return 0




def _plots(plot, run_dir, history, prepared, model, notes, loss_name) -> list:
    """loss_curve.png, and surface.png for a two-variable formula; [] without matplotlib."""
    if not plot.available():
        notes.append(f"no plots were drawn because matplotlib is not installed; get them with: "
                     f"{plot.INSTALL_HINT}")
        return []
    files = [plot.loss_curves({"": history}, os.path.join(run_dir, "loss_curve.png"),
                              title=f"Training run {os.path.basename(os.path.normpath(run_dir))}",
                              ylabel=f"{loss_name} loss")]
    if prepared.expression is not None and len(prepared.features) == 2 \
            and prepared.task == "regression":
        files.append(_surface(plot, run_dir, prepared, model))
    return files


def _surface(plot, run_dir, prepared, model) -> str:
    from ..autograd import no_grad
    from ..tensor import Tensor

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
        train_points=raw)


def _short(value) -> str:
    from ..training.loop import format_loss

    return format_loss(value) if isinstance(value, float) else str(value)


def _print_summary(summary, notes, brief=False) -> None:
    """The result; unless ``brief`` (--quiet), also the files written, notes and how to predict."""
    losses = f"train loss {_short(summary['final_train_loss'])}"
    if summary["final_val_loss"] is not None:
        losses += f", val loss {_short(summary['final_val_loss'])}"
    if summary["stopped_early"]:
        kept = "val" if summary["final_val_loss"] is not None else "train"
        losses += (f"; early stopping kept the weights of epoch {summary['kept_epoch']} "
                   f"({kept} loss {_short(summary['kept_val_loss'])})")
    else:
        losses += f" (best epoch {summary['best_epoch']})"
    if summary["val_accuracy"] is not None:
        losses += f"; val accuracy {summary['val_accuracy']:.4f}"
    print(f"trained {summary['epochs_run']} epochs: {losses}")
    print(f"run folder: {summary['run_dir']}")
    if brief:
        return
    for path in summary["files"]:
        print(f"  {os.path.basename(path)}")
    for note in notes:
        print(f"note: {note}")
    print(f"predict with: chainrule predict --model {summary['run_dir']} --csv FILE")
