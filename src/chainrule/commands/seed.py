"""``chainrule seed``: the seed experiment in one command (the experiment itself: chainrule.apps.seed).

    chainrule seed                         50 epochs of the 2-10-1 sigmoid network, SGD lr 0.01
    chainrule seed --compare-torch         the same run in PyTorch, step by step beside it
    chainrule seed --sweep                 init x gradient treatment x lr, and the seed's backward

A run writes a run folder: config.json, metrics.csv, metrics.json, checkpoint.crk,
loss_curve.png, surface.png (and with --compare-torch: torch_step_loss.json). Ctrl-C, SIGTERM and
SIGHUP save the state after the last finished epoch, the checkpoint is also written during
training (--checkpoint-every), and ``--resume RUN_DIR`` continues it exactly (the PyTorch twin is
not resumed). A sweep writes sweep.md, sweep.json and sweep.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from ..files import atomic_write
from . import CommandError
from ..training.builders import (
    ACTIVATIONS, LIMITS, OPTIMIZERS, check_at_most, check_number, parse_activation, parse_hidden,
    parse_init, parse_optimizer, parse_scheduler,
)
from ..training.lifecycle import execute, resume_settings
from ._options import (
    HEALTH_NAMES,     add_model_options, add_optimizer_options, add_output_options, add_training_options,
    check_resume_options, check_training_options, checkpoint_every, given_options, logger,
    figures_to_redraw, print_seed_summary,
)

DEFAULT_EPOCHS = 50
DEFAULT_SWEEP_EPOCHS = 10

EXAMPLES = """\
examples:
  chainrule seed                                   the seed experiment (50 epochs, ~10 s)
  chainrule seed --batch-size 32 --epochs 5        smaller batches: val MSE about 2
  chainrule seed --compare-torch --dtype float64   PyTorch twin: step losses agree to ~1e-15
  chainrule seed --init uniform:-4:4 --clip-value 1  the seed author's own fixes
  chainrule seed --activation tanh --optimizer adam --lr 0.01   a slow start: the loss sits at
                                   the targets' variance for ~10 epochs, val MSE about 20 after 50
  chainrule seed --sweep                           init x gradient treatment x lr (about a minute)
  chainrule seed --sweep --sweep-inits xavier --sweep-treatments none,normalize --sweep-lrs 0.1
  chainrule seed --samples 2000 --epochs 2 --json  a quick check; JSON summary on stdout
  chainrule seed --resume runs/20261128-093000 --epochs 100   continue a run (Ctrl-C saves one)
  chainrule seed --epochs 500 --checkpoint-every 5    a checkpoint every 5 epochs

The data: z = 5a^2 + 3b^2 with a, b ~ N(0, 1), --samples rows (default 100000), 70/30
train/validation split. The network: 2-10-1, sigmoid, MSE, plain SGD (lr 0.01, batch 500).
Gradient treatments for --sweep-treatments: none, clip-value:X, clip-norm:X, normalize.

Ctrl-C, SIGTERM and SIGHUP save the last finished epoch; the checkpoint is also written during
training (--checkpoint-every, default every minute), so a run killed outright (kill -9) loses at
most that much; --resume continues bit for bit from the last checkpoint. One run at a time in a
run folder: a second gets an error.
"""


def add_parser(subparsers) -> None:
    from ..apps.seed import DEFAULT_SWEEP_INITS, DEFAULT_SWEEP_LRS, DEFAULT_SWEEP_TREATMENTS

    parser = subparsers.add_parser(
        "seed", help="reproduce the seed experiment (z = 5a^2 + 3b^2, 2-10-1 sigmoid network)",
        description="Reproduce the seed experiment with the from-scratch engine: a 2-10-1 "
                    "sigmoid network learns z = 5a^2 + 3b^2 with MSE and plain SGD. Writes a run "
                    "folder with metrics, plots and a checkpoint; --compare-torch trains a "
                    "PyTorch twin in lockstep, --sweep answers the seed's questions with data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--samples", type=int, default=100_000,
                      help="rows of (a, b, z) to draw, split 70/30 (default 100000)")
    add_model_options(parser, hidden="10", activation="sigmoid", init="torch-default",
                      hidden_none_ok=False)  # (the seed's questions are about a hidden layer)
    add_optimizer_options(parser, optimizer="sgd", lr=0.01)
    add_training_options(parser, epochs=DEFAULT_EPOCHS, batch_size=500, seed=0)
    add_output_options(parser)
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run saved in RUN_DIR (Ctrl-C saves one) with its "
                             "saved settings; --epochs may raise the total")
    twin = parser.add_argument_group("PyTorch twin")
    twin.add_argument("--compare-torch", action="store_true",
                      help="also train a PyTorch twin from the same weights on the same batches; "
                           "print the largest relative difference of the per-step losses "
                           '(needs pip install "chainrule[torch]")')
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--sweep", action="store_true",
                       help="train once per init x gradient treatment x lr, plus the seed's "
                            "hand-derived backward beside the right one; writes sweep.md/.png")
    sweep.add_argument("--sweep-inits", default=",".join(DEFAULT_SWEEP_INITS), metavar="SPECS",
                       help=f"comma-separated --init specs (default {','.join(DEFAULT_SWEEP_INITS)})")
    sweep.add_argument("--sweep-treatments", default=",".join(DEFAULT_SWEEP_TREATMENTS),
                       metavar="NAMES",
                       help="comma-separated: none, clip-value:X, clip-norm:X, normalize "
                            f"(default {','.join(DEFAULT_SWEEP_TREATMENTS)})")
    sweep.add_argument("--sweep-lrs", default=",".join(f"{lr:g}" for lr in DEFAULT_SWEEP_LRS),
                       metavar="LRS", help="comma-separated learning rates (default "
                                           f"{','.join(f'{lr:g}' for lr in DEFAULT_SWEEP_LRS)})")
    sweep.add_argument("--sweep-epochs", type=int, default=DEFAULT_SWEEP_EPOCHS,
                       help=f"epochs per sweep run (default {DEFAULT_SWEEP_EPOCHS})")
    sweep.add_argument("--no-seed-rows", action="store_true",
                       help="leave out the rows with the seed's hand-derived backward")
    parser.set_defaults(run=run, _parser=parser)


# ----- checking the options ---------------------------------------------------------------------

def _option_error(name: str, expected: str, value) -> CommandError:
    return CommandError(f"--{name} must be {expected}. Got {value!r} instead.")


_INIT_EXPECTED = ("one of torch-default, uniform:A:B (A < B), normal:STD (STD > 0), "
                  "truncnormal:STD:A:B (STD > 0, A < B), xavier or kaiming")


def _checked_init(spec: str, name: str = "init") -> str:
    try:
        parse_init(spec)
    except ValueError:
        raise _option_error(name, _INIT_EXPECTED, spec) from None
    return spec.strip()


def _checked_choice(parse, name: str, choices, value) -> str:
    try:
        return parse(value)
    except ValueError:
        raise _option_error(name, f"one of {', '.join(choices)}", value) from None


def _split(text: str) -> list:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _check_common(args) -> dict:
    """Check every option a run and a sweep share; return the parsed values."""
    check_training_options(args)
    check_number("--samples", args.samples, 10, integer=True)
    check_at_most("--samples", args.samples, LIMITS["samples"])
    hidden = parse_hidden(args.hidden)
    if not hidden:
        raise _option_error("hidden", "one or more layer sizes >= 1 separated by commas, such as 10",
                            args.hidden)
    activation = _checked_choice(parse_activation, "activation", ACTIVATIONS, args.activation)
    optimizer = _checked_choice(parse_optimizer, "optimizer", OPTIMIZERS, args.optimizer)
    if args.momentum is not None and optimizer not in ("sgd", "rmsprop"):
        raise CommandError(f"--momentum applies to sgd and rmsprop only, not to {optimizer}.")
    parse_scheduler(args.scheduler)
    init = _checked_init(args.init)
    n_train = args.samples - int(math.floor(args.samples * 0.3 + 0.5))
    batch_size, notes = args.batch_size, []
    if batch_size > n_train:  # the rule of chainrule train: one batch of all the rows
        batch_size = n_train
        notes.append(f"the training set has {n_train} rows, fewer than --batch-size "
                     f"{args.batch_size}, so each epoch is one batch of {n_train} rows.")
    return {"hidden": hidden[0] if len(hidden) == 1 else hidden, "activation": activation,
            "optimizer": optimizer, "init": init, "batch_size": batch_size, "notes": notes}


def _check_sweep(args, given: set) -> dict:
    from ..apps.seed import parse_treatment

    not_with_sweep = ("init", "clip_value", "clip_norm", "normalize_grad", "lr", "epochs",
                      "compare_torch", "patience", "scheduler")
    clash = sorted(name for name in not_with_sweep if name in given)
    if clash:
        flags = ", ".join("--" + name.replace("_", "-") for name in clash)
        raise CommandError(f"--sweep sets init, gradient treatment, lr and epochs itself, so "
                           f"{flags} cannot be given with it; use --sweep-inits, "
                           "--sweep-treatments, --sweep-lrs and --sweep-epochs.")
    inits = [_checked_init(spec, "sweep-inits") for spec in _split(args.sweep_inits)]
    treatments = _split(args.sweep_treatments)
    for treatment in treatments:
        try:
            parse_treatment(treatment)
        except ValueError:
            raise _option_error("sweep-treatments", "a comma-separated list of none, "
                                "clip-value:X, clip-norm:X and normalize (X > 0)",
                                args.sweep_treatments) from None
    lrs = []
    for text in _split(args.sweep_lrs):
        try:
            lr = float(text)
        except ValueError:
            lr = math.nan
        if not (math.isfinite(lr) and lr > 0):
            raise _option_error("sweep-lrs", "a comma-separated list of numbers > 0",
                                args.sweep_lrs)
        lrs.append(lr)
    for name, values in (("sweep-inits", inits), ("sweep-treatments", treatments),
                         ("sweep-lrs", lrs)):
        if not values:
            raise _option_error(name, "a non-empty comma-separated list", getattr(
                args, name.replace("-", "_")))
    check_number("--sweep-epochs", args.sweep_epochs, 1, integer=True)
    return {"inits": inits, "treatments": treatments, "lrs": lrs}


# ----- running ----------------------------------------------------------------------------------



def _settings(args, parsed, **overrides):
    from ..apps.seed import SeedSettings

    values = dict(samples=args.samples, hidden=parsed["hidden"], epochs=args.epochs, lr=args.lr,
                  batch_size=parsed["batch_size"], clip_value=args.clip_value,
                  clip_norm=args.clip_norm, normalize_grad=args.normalize_grad, seed=args.seed,
                  dtype=args.dtype)
    values.update(overrides)
    return SeedSettings(**values)


def _config(args, parsed) -> dict:
    """The run's settings as a JSON-able dict (config.json, and what --resume rebuilds from)."""
    settings = _settings(args, parsed)
    return {"command": "seed", **vars(settings), "activation": parsed["activation"],
            "init": parsed["init"], "optimizer": parsed["optimizer"], "momentum": args.momentum,
            "weight_decay": args.weight_decay, "scheduler": args.scheduler,
            "patience": args.patience, "compare_torch": args.compare_torch}


def run(args) -> int:
    given = given_options(args)
    if args.resume is not None:
        return _run_once(args, *_resume_settings(args, given))
    parsed = _check_common(args)
    if args.sweep:
        return _run_sweep(args, parsed, _check_sweep(args, given))
    sweep_only = sorted(name for name in given if name.startswith("sweep_") or
                        name == "no_seed_rows")
    if sweep_only:
        flags = ", ".join("--" + name.replace("_", "-") for name in sweep_only)
        raise CommandError(f"{flags} applies to --sweep only; add --sweep or leave it out.")
    return _run_once(args, _config(args, parsed), None, None, parsed["notes"])


def _resume_settings(args, given: set):
    """(config, checkpoint, run_dir, notes) for --resume RUN_DIR, with --epochs applied."""
    from ..apps.seed import SeedRunSpec

    check_resume_options(given)
    config, checkpoint = resume_settings(
        args.resume, args.epochs if "epochs" in given else None, command="seed",
        missing_figures=figures_to_redraw(args, SeedRunSpec, args.resume))
    notes = []
    if config["compare_torch"]:
        notes.append("the PyTorch twin is not resumed (its state is not saved); the rest of the "
                     "run continues without it.")
        config["compare_torch"] = False
    return config, checkpoint, args.resume, notes


def _progress_wanted(args, settings) -> bool:
    """A bar on long epochs (1000+ steps) when stderr is a terminal, or whenever --progress."""
    n_train = settings.samples - int(math.floor(settings.samples * settings.val_fraction + 0.5))
    steps = math.ceil(n_train / settings.batch_size)
    return args.progress or (steps >= 1000 and sys.stderr.isatty() and not args.quiet)


def _run_once(args, config, checkpoint, run_dir, notes) -> int:
    """Train (or, with a checkpoint, continue) one run and write its run folder."""
    from ..apps.seed import SeedRunSpec, SeedSettings

    settings = SeedSettings(**{name: config[name] for name in SeedSettings.__dataclass_fields__})
    result = execute(SeedRunSpec(config, notes, HEALTH_NAMES), args.out if checkpoint is None else run_dir,
                     checkpoint=checkpoint, health=args.health, plots=args.plots,
                     log=logger(args),
                     progress=_progress_wanted(args, settings),
                     checkpoint_every=checkpoint_every(args))
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_seed_summary(summary, settings.dtype, brief=args.quiet)
    return 0


def _run_sweep(args, parsed, sweep) -> int:
    from ..training.runs import claim_new_run_dir, signals_interrupt
    from ..apps.seed import SEED_ROW_INIT, init_function, seed_builders

    settings = _settings(args, parsed, epochs=args.sweep_epochs)
    activation, optimizer, _ = seed_builders({
        "activation": parsed["activation"], "optimizer": parsed["optimizer"],
        "momentum": args.momentum, "weight_decay": args.weight_decay, "scheduler": "none",
        "epochs": settings.epochs})
    inits = [(spec, init_function(spec)) for spec in sweep["inits"]]
    seed_row = None
    notes = list(parsed["notes"])
    if not args.no_seed_rows and parsed["activation"] != "sigmoid":
        notes.append(f"the rows of the seed's hand-written backward were left out: it is the "
                     f"backward of a sigmoid layer, and this grid's network uses "
                     f"{parsed['activation']}.")
    elif not args.no_seed_rows:
        if not isinstance(parsed["hidden"], int):
            raise CommandError("the seed's rows need one hidden layer; give --hidden with one "
                               "size or add --no-seed-rows.")
        seed_row = (SEED_ROW_INIT, init_function(SEED_ROW_INIT))
    # one run per folder, as for a training run; SIGTERM and SIGHUP keep the finished runs as
    # Ctrl-C does
    run_dir, claim = claim_new_run_dir(args.out)
    with claim, signals_interrupt():
        return _sweep_into(run_dir, args, parsed, sweep, settings, activation, optimizer, inits,
                           seed_row, notes)


def _sweep_into(run_dir, args, parsed, sweep, settings, activation, optimizer, inits, seed_row,
                notes) -> int:
    from ..apps import plot
    from ..training.runs import write_json
    from ..apps.seed import plot_sweep, run_sweep, sweep_table

    log = logger(args)
    runs = len(inits) * len(sweep["treatments"]) * len(sweep["lrs"])
    runs += 2 * len(sweep["lrs"]) if seed_row else 0
    if log:
        log(f"sweep: {runs} runs of {settings.epochs} epochs on {settings.samples} samples")
    grid, derivative = [], []
    json_path = os.path.join(run_dir, "sweep.json")

    def record(**extra):
        write_json(json_path, {"settings": vars(settings), "activation": parsed["activation"],
                               "optimizer": parsed["optimizer"], **extra,
                               "grid": [row.to_dict() for row in grid],
                               "derivative": [row.to_dict() for row in derivative]})

    try:
        run_sweep(settings, inits, sweep["treatments"], sweep["lrs"], seed_row_init=seed_row,
                  activation=activation, optimizer=optimizer, log=log,
                  results=(grid, derivative))
    except KeyboardInterrupt:  # keep the finished runs: an hour of sweep is not thrown away
        done = len(grid) + len(derivative)
        record(interrupted=True, runs_planned=runs)
        print(f"interrupted after {done} of {runs} runs; the finished ones are in {json_path}",
              file=sys.stderr)
        raise
    optimizer_text = "plain SGD" if parsed["optimizer"] == "sgd" and not args.momentum \
        else parsed["optimizer"]
    table = sweep_table(grid, derivative, settings, optimizer=optimizer_text,
                        activation=parsed["activation"])
    files = []
    table_path = os.path.join(run_dir, "sweep.md")
    with atomic_write(table_path, "w", what="--sweep") as handle:
        handle.write(table)
    files.append(table_path)
    record()
    files.append(json_path)
    if not args.plots:
        pass
    elif plot.available():
        files.append(plot_sweep(grid, derivative, os.path.join(run_dir, "sweep.png"),
                                title=f"Final validation MSE after {settings.epochs} epochs"))
    else:
        notes.append(f"no plot was drawn because matplotlib is not installed; get it with: "
                     f"{plot.INSTALL_HINT}")
    seconds = sum(row.seconds for row in [*grid, *derivative])
    if args.json:
        print(json.dumps({
            "run_dir": run_dir, "runs": len(grid) + len(derivative),
            "seconds": round(seconds, 3),
            "grid": [{k: v for k, v in row.to_dict().items() if k != "val_curve"} for row in grid],
            "derivative": [{k: v for k, v in row.to_dict().items() if k != "val_curve"}
                           for row in derivative],
            "files": files, "notes": notes,
        }, indent=2))
    else:
        if not args.quiet:
            print(table)
        print(f"{len(grid) + len(derivative)} runs in {seconds:.1f} s of training; run folder: "
              f"{run_dir}")
        if args.quiet:
            return 0
        for path in files:
            print(f"  {os.path.basename(path)}")
        for note in notes:
            print(f"note: {note}")
    return 0
