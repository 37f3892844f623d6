"""``chainrule train``: fit a multilayer perceptron to a formula or a CSV file, or a small CNN (or an
MLP) to labelled images, into a run folder.

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
from ..device import check_device
from ..training.builders import (
    LIMITS, check_at_most, parse_activation, parse_hidden, parse_init, parse_loss, parse_optimizer,
    parse_range, parse_scheduler,
)
from ..training.lifecycle import execute, resume_settings
from ..training.tasks import LOSSES, task_of
from . import CommandError
from ._options import (
    HEALTH_NAMES,     add_model_options, add_optimizer_options, add_output_options, add_training_options,
    check_number, check_resume_options, check_training_options, checkpoint_every, flag,
    given_options, logger, figures_to_redraw, note_printer, print_train_summary,
)

EXAMPLES = """\
examples:
  chainrule train --function "5*a**2 + 3*b**2" --epochs 30
  chainrule train --function "sin(x) * y" --range=-3:3 --samples 2000 --hidden 32,32 \\
                  --activation relu --optimizer sgd --lr 0.05 --momentum 0.9 --scheduler cosine
  chainrule train --csv houses.csv --target price --features area,rooms --loss huber --out runs/h
  chainrule train --csv iris.csv --target species --loss cross_entropy --patience 10 --json
  chainrule train --images digits --epochs 20 --out runs/digits      a CNN on scikit-learn's digits
  chainrule train --images shapes.npz --channels 8,16 --batch-norm   arrays x (N, C, H, W), y (N,)
  chainrule train --images my_images/ --model mlp        a folder of .npy images, one subfolder per class
  chainrule train --resume runs/h                 continue a stopped run (Ctrl-C saves one)
  chainrule predict --model runs/h --csv new_houses.csv --out predictions.csv
  chainrule predict --model runs/digits --images new.npz --out predictions.csv

Losses: mse, l1, huber (regression); cross_entropy (integer class labels 0..K-1 in the target
column); bce_with_logits (0/1 targets). A training set smaller than one batch is trained as one
batch per epoch. Ctrl-C, SIGTERM and SIGHUP save the last finished epoch into the run folder, and
the checkpoint is also written during training (--checkpoint-every, default every minute), so
even a run killed outright (kill -9, out of memory) loses at most that much; --resume continues it
exactly from the last checkpoint (same weights, optimizer state, data order, random draws and
metrics). One run at a time in a run folder: a second gets an error.

Images (--images): 'digits' (scikit-learn's 8x8 digits), an .npz file with the images under x
(or images) and the labels under y (or labels), or a folder of .npy files, one image each, in a
subfolder per class. Images are (N, C, H, W), or (N, H, W) read as one channel; each channel is
standardized with the training images' mean and std. The loss defaults to cross_entropy. --model
cnn (the default for images): per --channels entry a 3x3 conv (padding 1), relu, 2x2 max-pool;
then flatten and Linear layers (--hidden, default none). --model mlp flattens the images.
"""

def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a network on a formula, a CSV file or labelled images",
        description="Train a multilayer perceptron on a formula (--function) or a CSV file\n"
                    "(--csv), or a small CNN on labelled images (--images), and write a run\n"
                    "folder with metrics, plots and a checkpoint.",
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
    data.add_argument("--images", metavar="SOURCE",
                      help="labelled images: digits, FILE.npz (arrays x and y, or images and "
                           "labels) or a FOLDER of .npy images in a subfolder per class")
    data.add_argument("--loss", default="mse", metavar="NAME",
                      help=f"{', '.join(LOSSES)} (default mse; cross_entropy with --images)")
    data.add_argument("--val-fraction", type=float, default=0.2,
                      help="share of rows held out for validation, in [0, 1) (default 0.2)")
    data.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                      help="scale inputs, and the target of a regression loss, to mean 0 "
                           "and std 1 using the training rows; losses are still reported in "
                           "the target's units (default on)")
    add_model_options(parser)
    image_model = parser.add_argument_group(
        "image model", "with --images, --hidden defaults to none and --activation to relu for "
                       "--model cnn")
    image_model.add_argument("--model", choices=MODELS, default=None,
                             help="cnn (the default with --images) or mlp (on the flattened "
                                  "pixels; the only choice for --function and --csv)")
    image_model.add_argument("--channels", default=DEFAULT_CHANNELS, metavar="SIZES",
                             help="output channels of the conv blocks, comma-separated; each "
                                  f"block halves the image (default {DEFAULT_CHANNELS})")
    image_model.add_argument("--kernel-size", type=int, default=3,
                             help="odd kernel size of every conv, padded to keep the image size "
                                  "(default 3)")
    image_model.add_argument("--batch-norm", action="store_true",
                             help="add a BatchNorm2d after every conv")
    add_optimizer_options(parser)
    add_training_options(parser)
    parser.add_argument("--device", default="cpu",
                        help="where to train: cpu (the default) or cuda (a GPU, through CuPy: "
                             "pip install chainrule[cuda]); checkpoints are saved on the host, so "
                             "a run resumes, predicts and exports anywhere")
    add_output_options(parser)
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run saved in RUN_DIR (with its saved settings; "
                             "--epochs may raise the total)")
    # (None: not typed; the defaults depend on the data and model, see _resolve_defaults)
    parser.set_defaults(run=run, _parser=parser, loss=None, hidden=None, activation=None)


# ----- settings ---------------------------------------------------------------------------------

MODELS = ("mlp", "cnn")
DEFAULT_CHANNELS = "16,32"
CNN_OPTIONS = ("channels", "kernel_size", "batch_norm")


def _check_sources(args, given: set) -> None:
    sources = [name for name in ("function", "csv", "images") if getattr(args, name) is not None]
    if not sources:
        if args.model == "cnn":
            raise CommandError("--model cnn needs images: give --images digits, FILE.npz or "
                               "FOLDER (see chainrule train --help).")
        raise CommandError("give the data with --function EXPR, with --csv FILE --target "
                           "COLUMN, or with --images SOURCE (see chainrule train --help).")
    if len(sources) > 1:
        raise CommandError(f"{' and '.join(flag(name) for name in sources)} cannot be used "
                           "together; choose one source.")
    if args.images is None:
        if args.model == "cnn":
            raise CommandError(
                f"--model cnn needs image-shaped input, and {flag(sources[0])} gives rows of "
                "numbers: give --images digits, FILE.npz or FOLDER, or leave out --model to "
                "train an MLP.")
        extra = [name for name in CNN_OPTIONS if name in given]
        if extra:
            raise CommandError(f"{flag(extra[0])} applies to --model cnn on --images only.")
        return
    for name in ("target", "features", "range", "samples", "noise"):
        if name in given:
            raise CommandError(f"{flag(name)} does not apply to --images; the labels come with "
                               "the images.")
    if args.model == "mlp":
        extra = [name for name in CNN_OPTIONS if name in given]
        if extra:
            raise CommandError(f"{flag(extra[0])} applies to --model cnn, not to --model mlp.")


def _image_config(args, given: set) -> dict:
    """The settings only image runs have, with the defaults --model cnn changes."""
    from ..apps.images import DIGITS, images_sha256
    from ..training.builders import parse_channels

    model = args.model or "cnn"
    path = args.images if args.images == DIGITS else os.path.abspath(args.images)
    if args.images != DIGITS and not os.path.exists(path):
        raise CommandError(f"--images {args.images}: no such file or folder (give digits, an "
                           ".npz file or a folder of .npy images).")
    config = {
        "images": path, "images_sha256": images_sha256(path), "model": model,
        "channels": parse_channels(args.channels) if model == "cnn" else None,
        "kernel_size": args.kernel_size if model == "cnn" else None,
        "batch_norm": args.batch_norm if model == "cnn" else None,
    }
    if model == "cnn" and (args.kernel_size < 1 or args.kernel_size % 2 == 0):
        raise CommandError(f"--kernel-size must be an odd integer >= 1 (padded to keep the "
                           f"image size). Got {args.kernel_size} instead.")
    return config


def _resolve_defaults(args) -> None:
    """The defaults of the options left out: --loss mse (cross_entropy for --images); --hidden
    64,64 and --activation tanh (none and relu for --model cnn)."""
    images, cnn = args.images is not None, args.images is not None and args.model != "mlp"
    if args.loss is None:
        args.loss = "cross_entropy" if images else "mse"
    if args.hidden is None:
        args.hidden = "" if cnn else "64,64"
    if args.activation is None:
        args.activation = "relu" if cnn else "tanh"


def config_from_args(args, given: set) -> dict:
    """Check every option and return the run's settings as a JSON-able dict."""
    _check_sources(args, given)
    _resolve_defaults(args)
    if args.function is not None:
        for name in ("target", "features"):
            if name in given:
                raise CommandError(f"{flag(name)} applies to --csv only; --function names its "
                                   "variables itself.")
    elif args.csv is not None:
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
    image_config = _image_config(args, given) if args.images is not None else {}
    if image_config.get("model") == "cnn" and parse_activation(args.activation) in (
            "softmax", "log_softmax"):
        raise CommandError(f"--activation {args.activation} normalises along the last dim, which "
                           "in a conv feature map (N, C, H, W) is the image width; choose relu, "
                           "leaky_relu, tanh or another element-wise activation for --model cnn.")
    config = {
        "source": ("images" if args.images is not None else
                   "function" if args.function is not None else "csv"),
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
        **image_config,
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
    from ..apps.images import check_images_unchanged
    from ..apps.tabular import check_csv_unchanged

    check_resume_options(given, also=("device",))
    run_dir = args.resume

    def written_by_train(config):
        needed = ("source", "loss", "hidden", "activation", "optimizer", "epochs", "seed")
        if not all(key in config for key in needed) or config.get("command", "train") != "train":
            raise CommandError(f"{run_dir} was not written by chainrule train, so chainrule "
                               "train cannot resume it.")

    config, checkpoint = resume_settings(
        run_dir, args.epochs if "epochs" in given else None, command="train",
        check_config=written_by_train,
        missing_figures=figures_to_redraw(args, spec_for, run_dir))
    check_csv_unchanged(config)
    check_images_unchanged(config)
    return config, checkpoint


def spec_for(config, **kwargs):
    """The RunSpec of a train config: an ImageRunSpec for --images, else a TrainRunSpec."""
    if config.get("source") == "images":
        from ..apps.images import ImageRunSpec

        return ImageRunSpec(config, **kwargs)
    from ..apps.tabular import TrainRunSpec

    return TrainRunSpec(config, **kwargs)


def _device(args):
    """--device, checked (None for the CPU)."""
    try:
        device = check_device("--device", args.device)
    except (RuntimeError, TypeError) as err:
        raise CommandError(str(err)) from None
    return None if device.type == "cpu" else device


def run(args) -> int:
    given = given_options(args)
    device = _device(args)
    if args.resume is not None:
        config, checkpoint = _resume_settings(args, given)
    else:
        config, checkpoint = config_from_args(args, given), None
    result = execute(spec_for(config, health_names=HEALTH_NAMES), args.resume if checkpoint else args.out,
                     checkpoint=checkpoint, health=args.health, plots=args.plots,
                     log=logger(args), note=note_printer(args), progress=args.progress,
                     checkpoint_every=checkpoint_every(args), device=device)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_train_summary(summary, result.notes[result.early_notes:], brief=args.quiet)
    return 0
