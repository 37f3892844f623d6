"""``chainrule train``: fit a multilayer perceptron to a formula or a CSV file, into a run folder.

This module parses and checks the options into the run's config, hands it to
``chainrule.training.lifecycle.execute`` as a ``chainrule.apps.tabular.TrainRunSpec`` (which
says what one run does, in order) and prints the summary. ``--resume`` rebuilds the run from its
saved config.

The rule for small data: a training set with fewer rows than --batch-size is trained as one batch
of all its rows per epoch, and a note says so.
"""

from __future__ import annotations

import argparse
import json
import os

from ..apps.tabular import file_sha256
from ..training.builders import (
    LIMITS, check_at_most, parse_activation, parse_hidden, parse_init, parse_loss, parse_optimizer,
    parse_range, parse_scheduler,
)
from ..training.lifecycle import execute, resume_settings
from ..training.tasks import LOSSES, task_of
from . import CommandError
from ._options import (
    HEALTH_NAMES,     add_model_options, add_optimizer_options, add_output_options, add_training_options,
    check_number, check_resume_options, check_training_options, flag,
    given_options, logger, figures_to_redraw, note_printer, print_train_summary,
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
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run saved in RUN_DIR (with its saved settings; "
                             "--epochs may raise the total)")
    parser.set_defaults(run=run, _parser=parser)


# ----- settings ---------------------------------------------------------------------------------

def config_from_args(args, given: set) -> dict:
    """Check every option and return the run's settings as a JSON-able dict."""
    if args.function is None and args.csv is None:
        raise CommandError("give the data with --function EXPR or with --csv FILE --target "
                           "COLUMN (see chainrule train --help).")
    if args.function is not None and args.csv is not None:
        raise CommandError("--function and --csv cannot be used together; choose one source.")
    if args.function is not None:
        for name in ("target", "features"):
            if name in given:
                raise CommandError(f"{flag(name)} applies to --csv only; --function names its "
                                   "variables itself.")
    else:
        if args.target is None:
            raise CommandError("--csv needs --target COLUMN, the column to predict.")
        for name in ("range", "samples", "noise"):
            if name in given:
                raise CommandError(f"{flag(name)} applies to --function only, not to --csv.")
    check_training_options(args)
    check_number("--samples", args.samples, 2, integer=True)
    check_at_most("--samples", args.samples, LIMITS["samples"])
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
        "standardize_target": args.standardize and task_of(args.loss) == "regression",
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
        config["csv_sha256"] = file_sha256(config["csv"], args.csv)
    return config


def _parse_features(text):
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise CommandError(f"--features must be column names separated by commas. Got {text!r}.")
    return names


def _resume_settings(args, given: set):
    """(config, checkpoint) for --resume, with --epochs applied if given."""
    from ..apps.tabular import TrainRunSpec, check_csv_unchanged

    check_resume_options(given)
    run_dir = args.resume

    def written_by_train(config):
        needed = ("source", "loss", "hidden", "activation", "optimizer", "epochs", "seed")
        if not all(key in config for key in needed) or config.get("command", "train") != "train":
            raise CommandError(f"{run_dir} was not written by chainrule train, so chainrule "
                               "train cannot resume it.")

    config, checkpoint = resume_settings(
        run_dir, args.epochs if "epochs" in given else None, command="train",
        check_config=written_by_train,
        missing_figures=figures_to_redraw(args, TrainRunSpec, run_dir))
    check_csv_unchanged(config)
    return config, checkpoint


def run(args) -> int:
    from ..apps.tabular import TrainRunSpec

    given = given_options(args)
    if args.resume is not None:
        config, checkpoint = _resume_settings(args, given)
    else:
        config, checkpoint = config_from_args(args, given), None
    result = execute(TrainRunSpec(config, health_names=HEALTH_NAMES), args.resume if checkpoint else args.out,
                     checkpoint=checkpoint, health=args.health, plots=args.plots,
                     log=logger(args), note=note_printer(args), progress=args.progress)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_train_summary(summary, result.notes[result.early_notes:], brief=args.quiet)
    return 0
