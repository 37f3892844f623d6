"""Command-line options shared by ``chainrule train`` and ``chainrule seed``, their checks, and the
printing of a run's summary. (The builders that turn the options into a model, an optimizer and
a schedule are ``chainrule.training.builders``.)

    add_model_options(parser)        --hidden --activation --init --dtype
    add_optimizer_options(parser)    --optimizer --lr --momentum --weight-decay --scheduler
    add_training_options(parser)     --epochs --batch-size --seed --clip-value --clip-norm --no-health
                                     --normalize-grad --patience --progress --checkpoint-every
    add_output_options(parser)       --out --json --quiet

Every check raises CommandError (or ValueError, from the builders) with one sentence that names
the flag, what it accepts and what it got.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from . import CommandError

from ..training.builders import (  # noqa: F401  (the names the option help lists)
    ACTIVATIONS, DTYPES, INITS, LIMITS, OPTIMIZERS, SCHEDULERS, SEED_END, check_at_most,
    check_number,
)
from ..training.tasks import LOSSES  # noqa: F401
from ..training.lifecycle import CHECKPOINT_EVERY


# ----- adding options to a parser ---------------------------------------------------------------

def add_model_options(parser, hidden="64,64", activation="tanh", init="torch-default",
                      dtype="float32", hidden_none_ok=True) -> None:
    group = parser.add_argument_group("model")
    none = "; '' for none" if hidden_none_ok else ""
    group.add_argument("--hidden", default=hidden, metavar="SIZES",
                       help=f"hidden layer sizes, comma-separated{none} (default {hidden})")
    group.add_argument("--activation", default=activation, metavar="NAME",
                       help=f"activation after each hidden layer: {', '.join(ACTIVATIONS)} "
                            f"(default {activation}; softmax works along the feature dim)")
    group.add_argument("--init", default=init, metavar="SPEC",
                       help=f"weight initialisation: {INITS} (default {init})")
    group.add_argument("--dtype", default=dtype, choices=DTYPES,
                       help=f"floating-point type of data and weights (default {dtype})")


def add_optimizer_options(parser, optimizer="adam", lr=None, scheduler="none") -> None:
    group = parser.add_argument_group("optimizer")
    group.add_argument("--optimizer", default=optimizer, metavar="NAME",
                       help=f"{', '.join(OPTIMIZERS)} (default {optimizer})")
    group.add_argument("--lr", type=float, default=lr,
                       help="learning rate (default: sgd 0.01, adam 0.001, adamw 0.001, "
                            "rmsprop 0.01, adagrad 0.01)" if lr is None else
                            f"learning rate (default {lr})")
    group.add_argument("--momentum", type=float, default=None,
                       help="momentum for sgd and rmsprop, in [0, 1) (default 0)")
    group.add_argument("--weight-decay", type=float, default=0.0,
                       help="L2 weight decay, >= 0 (default 0)")
    group.add_argument("--scheduler", default=scheduler, metavar="SPEC",
                       help=f"learning-rate schedule, stepped once per epoch: {SCHEDULERS} "
                            f"(default {scheduler})")


def add_training_options(parser, epochs=50, batch_size=32, seed=0) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=epochs, help=f"(default {epochs})")
    group.add_argument("--batch-size", type=int, default=batch_size,
                       help=f"(default {batch_size}); a training set smaller than one batch is "
                            "trained as one batch per epoch")
    group.add_argument("--seed", type=int, default=seed,
                       help=f"seeds data, initialisation and shuffling (default {seed})")
    group.add_argument("--clip-value", type=float, default=None,
                       help="clamp every gradient element to [-V, V] before each step")
    group.add_argument("--clip-norm", type=float, default=None,
                       help="rescale the gradients to a joint L2 norm of at most N")
    group.add_argument("--normalize-grad", action="store_true",
                       help="rescale each parameter's gradient to L2 norm 1 (not with clipping)")
    group.add_argument("--patience", type=int, default=None,
                       help="stop after this many epochs without improvement and keep the best "
                            "weights")
    group.add_argument("--progress", action="store_true",
                       help="show a progress bar over batches (needs tqdm)")
    group.add_argument("--checkpoint-every", default=CHECKPOINT_EVERY, metavar="WHEN",
                       help="also write the checkpoint during training: every N epochs (such as "
                            "5), at the end of the first epoch a time after the last save (30s, "
                            f"10m, 1h), or off (default {CHECKPOINT_EVERY}); a run killed outright "
                            "(kill -9) resumes from the last one written. Ctrl-C, SIGTERM and "
                            "SIGHUP save the run in any case")
    group.add_argument("--no-health", dest="health", action="store_false",
                       help="do not watch the run's health (gradient norms, update sizes, saturated "
                            "or dead units, divergence); watched and reported by default")


def add_output_options(parser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--out", default=None, metavar="DIR",
                       help="run folder (default runs/<date-time>)")
    group.add_argument("--json", action="store_true",
                       help="print a machine-readable summary on stdout (logs go to stderr)")
    group.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                       help="draw the figures: loss_curve.png, surface.png, health.png, and for "
                            "classifiers confusion_matrix.png, for a CNN filters.png (default "
                            "on; needs matplotlib)")
    group.add_argument("--quiet", action="store_true",
                       help="print only the result and the run folder: no per-epoch log lines, "
                            "notes or file list")


# ----- checking the options ---------------------------------------------------------------------

def check_training_options(args) -> None:
    """Range checks of the options added by add_training_options and add_optimizer_options."""
    check_number("--epochs", args.epochs, 1, integer=True)
    check_number("--batch-size", args.batch_size, 1, integer=True)
    check_number("--seed", args.seed, 0, integer=True)
    check_number("--clip-value", args.clip_value, 0, low_open=True)
    check_number("--clip-norm", args.clip_norm, 0, low_open=True)
    check_number("--patience", args.patience, 1, integer=True)
    # (what a saved config may hold: chainrule.training.schema)
    check_at_most("--epochs", args.epochs, LIMITS["epochs"])
    check_at_most("--batch-size", args.batch_size, LIMITS["batch_size"])
    check_at_most("--seed", args.seed, SEED_END - 1)
    check_at_most("--patience", args.patience, LIMITS["epochs"])
    if args.normalize_grad and (args.clip_value is not None or args.clip_norm is not None):
        raise CommandError("--normalize-grad replaces clipping; give it without --clip-value "
                           "and --clip-norm.")
    check_number("--lr", args.lr, 0, low_open=True)
    check_number("--momentum", args.momentum, 0, 1, high_open=True)
    check_number("--weight-decay", args.weight_decay, 0)


def checkpoint_every(args):
    """The --checkpoint-every setting, checked (CommandError naming the flag)."""
    from ..training.runs import parse_checkpoint_every

    try:
        parse_checkpoint_every(args.checkpoint_every, name="--checkpoint-every")
    except ValueError as err:
        raise CommandError(str(err)) from None
    return args.checkpoint_every


def given_options(args) -> set:
    """The option names whose values differ from the parser's defaults (what the user typed)."""
    defaults = vars(args._parser.parse_args([]))
    return {name for name, value in vars(args).items()
            if not name.startswith("_") and name not in ("run", "command")
            and defaults.get(name) != value}


def flag(name: str) -> str:
    """'clip_value' -> '--clip-value'."""
    return "--" + name.replace("_", "-")


# How the health monitor's remedies name the settings: as the flags that set them.
HEALTH_NAMES = {"lr": "--lr", "clip_norm": "--clip-norm 1"}

# What may be given together with --resume (everything else comes from the saved config).
RESUME_OPTIONS = ("epochs", "quiet", "json", "progress", "plots", "resume", "health",
                  "checkpoint_every")


def check_resume_options(given: set, also=()) -> None:
    """CommandError unless every option given with --resume may be (see RESUME_OPTIONS, and
    ``also``: a command's own, such as train's device)."""
    allowed = RESUME_OPTIONS + tuple(also)
    extra = sorted(name for name in given if name not in allowed)
    if extra:
        names = ["--epochs", "--quiet", "--json", "--progress", "--no-plots", "--no-health",
                 "--checkpoint-every", *(flag(name) for name in also)]
        raise CommandError(
            f"--resume continues with the saved settings; only {', '.join(names[:-1])} and "
            f"{names[-1]} can be given with it, not {', '.join(flag(name) for name in extra)}."
        )


def figures_to_redraw(args, spec_class, run_dir):
    """For resume_settings: a function (config, checkpoint) -> the figures the finished run in
    ``run_dir`` lacks (resuming it draws them); None with --no-plots."""
    if not args.plots:
        return None

    def missing(config, checkpoint) -> list:
        watched = args.health and not ("health" in checkpoint and checkpoint["health"] is None)
        return [name for name in spec_class(config).figures(watched)
                if not os.path.exists(os.path.join(run_dir, name))]

    return missing


# ----- printing ---------------------------------------------------------------------------------

def logger(args):
    """The per-epoch log for fit: None with --quiet; stderr with --json (stdout holds the JSON)."""
    if args.quiet:
        return None
    stream = sys.stderr if args.json else sys.stdout
    return functools.partial(print, file=stream, flush=True)


def note_printer(args):
    """Where notes known before training go: stderr, unless --quiet."""
    if args.quiet:
        return None
    return lambda text: print(f"note: {text}", file=sys.stderr, flush=True)


def short(value, fmt=None) -> str:
    """A loss for a summary line: format_loss (4 decimals), or ``fmt``; other values as str."""
    from ..training.loop import format_loss

    if not isinstance(value, float):
        return str(value)
    return format_loss(value) if fmt is None else format(value, fmt)


def epochs_text(n: int) -> str:
    """'1 epoch', '2 epochs'."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def print_files_and_notes(summary, notes) -> None:
    for path in summary["files"]:
        print(f"  {os.path.basename(path)}")
    for note in notes:
        print(f"note: {note}")


def print_seed_summary(summary, dtype, brief=False) -> None:
    """The result of chainrule seed; unless ``brief`` (--quiet), also files and notes."""
    result = f"validation MSE {short(summary['kept_val_loss'], '.4f')}"
    if summary["kept_epoch"] != summary["epochs_run"]:  # early stopping kept an earlier epoch
        result += f" at epoch {summary['kept_epoch']}, whose weights were kept"
    print(f"trained the {summary['network']} network ({summary['parameters']} parameters) for "
          f"{epochs_text(summary['epochs_run'])} in {summary['seconds']:.3g} s: {result}")
    twin = summary["torch"]
    if twin is not None:
        print(f"PyTorch twin: validation MSE {short(twin['final_val_loss'], '.4f')}; largest "
              f"relative difference between the {twin['steps']} per-step losses: "
              f"{short(twin['max_relative_step_loss_difference'], '.2e')} ({dtype})")
    print(f"run folder: {summary['run_dir']}")
    if not brief:
        print_files_and_notes(summary, summary["notes"])


def print_train_summary(summary, notes, brief=False) -> None:
    """The result of chainrule train; unless ``brief`` (--quiet), also the files written, the
    notes and how to predict."""
    losses = f"train loss {short(summary['final_train_loss'])}"
    if summary["final_val_loss"] is not None:
        losses += f", val loss {short(summary['final_val_loss'])}"
    if summary["stopped_early"]:
        kept = "val" if summary["final_val_loss"] is not None else "train"
        losses += (f"; early stopping kept the weights of epoch {summary['kept_epoch']} "
                   f"({kept} loss {short(summary['kept_val_loss'])})")
    else:
        losses += f" (best epoch {summary['best_epoch']})"
    if summary.get("val_accuracy") is not None:
        losses += f"; val accuracy {summary['val_accuracy']:.4f}"
        if summary.get("chance_accuracy") is not None:
            losses += f" (always the most common class: {summary['chance_accuracy']:.4f})"
    images = summary.get("images")
    if images is not None:
        classes = f", {images['classes']} classes" if images.get("classes") else ""
        print(f"data: {images['count']} images of {'x'.join(map(str, images['shape']))} "
              f"(C x H x W) from {images['source']}{classes}; model {images['model']} with "
              f"{images['parameters']} parameters")
    print(f"trained {epochs_text(summary['epochs_run'])}: {losses}")
    print(f"run folder: {summary['run_dir']}")
    if brief:
        return
    print_files_and_notes(summary, notes)
    print("predict with: " + summary.get(
        "predict_with", f"chainrule predict --model {summary['run_dir']} --csv FILE"))
