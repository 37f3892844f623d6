"""``chainrule seed``: the seed experiment in one command (the experiment itself: chainrule.seed).

    chainrule seed                         50 epochs of the 2-10-1 sigmoid network, SGD lr 0.01
    chainrule seed --compare-torch         the same run in PyTorch, step by step beside it
    chainrule seed --sweep                 init x gradient treatment x lr, and the seed's backward

A run writes a run folder: config.json, metrics.csv, metrics.json, checkpoint.crk,
loss_curve.png, surface.png (and with --compare-torch: torch_step_loss.json). Ctrl-C saves the
state after the last finished epoch, and ``--resume RUN_DIR`` continues it exactly (the PyTorch
twin is not resumed). A sweep writes sweep.md, sweep.json and sweep.png.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys

from ..files import atomic_write
from . import CommandError
from ._options import (
    ACTIVATIONS, OPTIMIZERS, add_model_options, add_optimizer_options, add_output_options,
    add_training_options, apply_init, build_activation, build_optimizer, build_scheduler,
    check_number, check_training_options, parse_activation, parse_hidden, parse_init,
    parse_optimizer, parse_scheduler, resume_epochs, logger, json_number, kept_weights,
)

DEFAULT_EPOCHS = 50
DEFAULT_SWEEP_EPOCHS = 10

EXAMPLES = """\
examples:
  chainrule seed                                   the seed experiment (50 epochs, ~10 s)
  chainrule seed --batch-size 32 --epochs 5        smaller batches: val MSE about 2
  chainrule seed --compare-torch --dtype float64   PyTorch twin: step losses agree to ~1e-15
  chainrule seed --init uniform:-4:4 --clip-value 1  the seed author's own fixes
  chainrule seed --activation tanh --optimizer adam --lr 0.01
  chainrule seed --sweep                           init x gradient treatment x lr (about a minute)
  chainrule seed --sweep --sweep-inits xavier --sweep-treatments none,normalize --sweep-lrs 0.1
  chainrule seed --samples 2000 --epochs 2 --json  a quick check; JSON summary on stdout
  chainrule seed --resume runs/20261128-093000 --epochs 100   continue a run (Ctrl-C saves one)

The data: z = 5a^2 + 3b^2 with a, b ~ N(0, 1), --samples rows (default 100000), 70/30
train/validation split. The network: 2-10-1, sigmoid, MSE, plain SGD (lr 0.01, batch 500).
Gradient treatments for --sweep-treatments: none, clip-value:X, clip-norm:X, normalize.
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
    return CommandError(f"The '{name}' option must be {expected}. Got {value!r} instead.")


_INIT_EXPECTED = ("one of torch-default, uniform:A:B (A < B), normal:STD (STD > 0), "
                  "truncnormal:STD:A:B (STD > 0, A < B), xavier or kaiming")


def _checked_init(spec: str, name: str = "init") -> str:
    try:
        parse_init(spec)
    except CommandError:
        raise _option_error(name, _INIT_EXPECTED, spec) from None
    return spec.strip()


def _checked_choice(parse, name: str, choices, value) -> str:
    try:
        return parse(value)
    except CommandError:
        raise _option_error(name, f"one of {', '.join(choices)}", value) from None


def _given(args) -> set:
    """The option names whose values differ from the defaults (what the user typed)."""
    defaults = vars(args._parser.parse_args([]))
    return {name for name, value in vars(args).items()
            if not name.startswith("_") and name not in ("run", "command")
            and defaults.get(name) != value}


def _split(text: str) -> list:
    return [part.strip() for part in str(text).split(",") if part.strip()]


def _check_common(args) -> dict:
    """Check every option a run and a sweep share; return the parsed values."""
    check_training_options(args)
    check_number("--samples", args.samples, 10, integer=True)
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


def _builders(config):
    """(activation, optimizer, scheduler) factories for chainrule.seed.prepare_seed, from the
    run's config (or from a dict with the same keys)."""
    activation = functools.partial(build_activation, config["activation"])

    def optimizer(params, lr):
        return build_optimizer(config["optimizer"], params, lr, config["momentum"],
                               config["weight_decay"])

    def scheduler(opt):
        return build_scheduler(config["scheduler"], opt, config["epochs"])

    return activation, optimizer, scheduler


def _config(args, parsed) -> dict:
    """The run's settings as a JSON-able dict (config.json, and what --resume rebuilds from)."""
    settings = _settings(args, parsed)
    return {"command": "seed", **vars(settings), "activation": parsed["activation"],
            "init": parsed["init"], "optimizer": parsed["optimizer"], "momentum": args.momentum,
            "weight_decay": args.weight_decay, "scheduler": args.scheduler,
            "patience": args.patience, "compare_torch": args.compare_torch}


def _init_function(spec: str):
    return None if spec == "torch-default" else functools.partial(apply_init, spec=spec)




def run(args) -> int:
    given = _given(args)
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


# What may be given together with --resume (everything else comes from the saved config).
RESUME_OPTIONS = ("epochs", "quiet", "json", "progress", "resume", "health")


def _resume_settings(args, given: set):
    """(config, checkpoint, run_dir, notes) for --resume RUN_DIR, with --epochs applied."""
    from ..training.runs import load_checkpoint

    extra = sorted(name for name in given if name not in RESUME_OPTIONS)
    if extra:
        flags = ", ".join("--" + name.replace("_", "-") for name in extra)
        raise CommandError(f"--resume continues with the saved settings; only --epochs, --quiet, "
                           f"--json, --progress and --no-health can be given with it, not {flags}.")
    checkpoint = load_checkpoint(args.resume)
    config = dict(checkpoint["config"])
    if config.get("command") != "seed":
        raise CommandError(f"{args.resume} holds a run of chainrule train, not of chainrule seed; "
                           f"continue it with chainrule train --resume {args.resume}.")
    resume_epochs(config, checkpoint, args.epochs if "epochs" in given else None, args.resume)
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
    from ..apps import plot
    from ..training.runs import (
        CHECKPOINT, CONFIG, EpochSnapshot, make_checkpoint, new_run_dir, restore, save_checkpoint,
        save_on_interrupt, write_json, write_metrics,
    )
    from ..apps.seed import (
        SeedSettings, count_parameters, model_function, network_shape, plot_loss_curves,
        prepare_seed, target_on_points, train_seed,
    )
    from ..training.health import HealthMonitor
    from ..training.loop import EarlyStopping

    if config["compare_torch"]:
        from ..apps.torch_twin import require_torch

        # Before training, so a missing PyTorch is said at once. One thread: the twin's tensors
        # are tiny, and extra threads only spin (30x slower per step, measured on 2 busy cores).
        require_torch().set_num_threads(1)
    notes = list(notes)
    settings = SeedSettings(**{name: config[name] for name in SeedSettings.__dataclass_fields__})
    activation, optimizer, scheduler = _builders(config)
    setup = prepare_seed(settings, activation=activation, init=_init_function(config["init"]),
                         optimizer=optimizer, scheduler=scheduler)
    stopper = EarlyStopping(config["patience"]) if config["patience"] else None
    # watched unless --no-health; a resumed run goes on as it was made (its checkpoint's
    # "health" is None when it was made with --no-health; runs from before it have no entry)
    unwatched = checkpoint is not None and "health" in checkpoint and checkpoint["health"] is None
    monitor = HealthMonitor() if args.health and not unwatched else None  # fit prints warnings
    log = logger(args)
    initial_epoch, history = 0, None
    if checkpoint is not None:
        initial_epoch, history = restore(checkpoint, setup.model, setup.optimizer,
                                         setup.scheduler, stopper, monitor)
        if log:
            log(f"resuming {run_dir} after epoch {initial_epoch} of {settings.epochs}")
    else:
        run_dir = new_run_dir(args.out)
    write_json(os.path.join(run_dir, CONFIG), config)
    if log:
        log(f"seed experiment: {network_shape(settings.hidden)} {config['activation']} network, "
            f"{settings.samples} samples, {config['optimizer']} lr {settings.lr:g}, batch "
            f"{settings.batch_size}, {settings.epochs} epochs, {settings.dtype}"
            + (", with a PyTorch twin" if config["compare_torch"] else ""))
    snapshot = EpochSnapshot(setup.model, setup.optimizer, setup.scheduler, config, stopper,
                             health=monitor)
    # the snapshot last: it keeps every epoch as the other callbacks leave it
    callbacks = [c for c in (stopper, monitor) if c is not None] + [snapshot]
    with save_on_interrupt(snapshot, run_dir, f"chainrule seed --resume {run_dir}"):
        result = train_seed(setup, compare_torch=config["compare_torch"], callbacks=callbacks,
                            log=log, progress=_progress_wanted(args, settings),
                            initial_epoch=initial_epoch, history=history)
        history = result.history
        checkpoint_path = os.path.join(run_dir, CHECKPOINT)
        save_checkpoint(checkpoint_path, make_checkpoint(
            result.model, result.optimizer, setup.scheduler, history.epoch[-1] if history.epoch
            else initial_epoch, history, config, stopper, finished=True, health=monitor))
        files = [os.path.join(run_dir, CONFIG), *write_metrics(run_dir, history),
                 checkpoint_path]
        if monitor is not None:
            files += monitor.write(run_dir, plots=plot.available())

    difference = None
    twin_summary = None
    if result.twin is not None:
        from ..apps.torch_twin import max_relative_difference

        difference = max_relative_difference(history.step_loss, result.twin.step_loss)
        twin_path = os.path.join(run_dir, "torch_step_loss.json")
        write_json(twin_path, {"step_loss": result.twin.step_loss,
                               "val_loss": result.twin.epoch_val_loss})
        files.append(twin_path)
        twin_summary = {
            "max_relative_step_loss_difference": json_number(difference),
            "steps": len(result.twin.step_loss),
            "final_val_loss": json_number(result.twin.epoch_val_loss[-1]
                                           if result.twin.epoch_val_loss else None),
        }

    if plot.available():
        files.append(plot_loss_curves(history, os.path.join(run_dir, "loss_curve.png"),
                                      twin=result.twin, difference=difference))
        files.append(plot.surface_comparison(
            target_on_points, model_function(result.model), os.path.join(run_dir, "surface.png"),
            names=("a", "b"), title=f"z = 5a^2 + 3b^2: target and learned surface "
                                    f"(after {len(history)} epochs)"))
    else:
        notes.append(f"no plots were drawn because matplotlib is not installed; get them with: "
                     f"{plot.INSTALL_HINT}")

    final_val = history.val_loss[-1] if history.val_loss else None
    if final_val is not None and not math.isfinite(final_val):
        notes.append("the loss is NaN or Inf: training diverged; try a smaller --lr, "
                     "--clip-norm, or a different --init.")
    kept_epoch, kept_loss = kept_weights(history, stopper)
    summary = {
        "run_dir": run_dir,
        "network": network_shape(settings.hidden),
        "parameters": count_parameters(result.model),
        "epochs_run": len(history),
        "resumed_from_epoch": initial_epoch if checkpoint is not None else None,
        "seconds": round(result.seconds, 3),
        "final_train_loss": json_number(history.train_loss[-1] if history.train_loss else None),
        "final_val_loss": json_number(final_val),
        "best_epoch": history.best_epoch,
        # the weights saved: the best epoch's after early stopping, else the last epoch's
        "kept_epoch": kept_epoch,
        "kept_val_loss": json_number(kept_loss),
        "torch": twin_summary,
        "health_warnings": monitor.warnings if monitor is not None else None,
        "files": files,
        "notes": notes,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary, settings, brief=args.quiet)
    return 0


def _print_summary(summary, settings, brief=False) -> None:
    """The result; unless ``brief`` (--quiet), also the files written and the notes."""
    result = f"validation MSE {_short(summary['kept_val_loss'])}"
    if summary["kept_epoch"] != summary["epochs_run"]:  # early stopping kept an earlier epoch
        result += f" at epoch {summary['kept_epoch']}, whose weights were kept"
    print(f"trained the {summary['network']} network ({summary['parameters']} parameters) for "
          f"{summary['epochs_run']} epochs in {summary['seconds']:.3g} s: {result}")
    twin = summary["torch"]
    if twin is not None:
        print(f"PyTorch twin: validation MSE {_short(twin['final_val_loss'])}; largest relative "
              f"difference between the {twin['steps']} per-step losses: "
              f"{_short(twin['max_relative_step_loss_difference'], '.2e')} ({settings.dtype})")
    print(f"run folder: {summary['run_dir']}")
    if brief:
        return
    for path in summary["files"]:
        print(f"  {os.path.basename(path)}")
    for note in summary["notes"]:
        print(f"note: {note}")


def _short(value, fmt=".4f") -> str:
    return format(value, fmt) if isinstance(value, float) else str(value)


def _run_sweep(args, parsed, sweep) -> int:
    from ..apps import plot
    from ..training.runs import new_run_dir, write_json
    from ..apps.seed import SEED_ROW_INIT, plot_sweep, run_sweep, sweep_table

    settings = _settings(args, parsed, epochs=args.sweep_epochs)
    activation, optimizer, _ = _builders({
        "activation": parsed["activation"], "optimizer": parsed["optimizer"],
        "momentum": args.momentum, "weight_decay": args.weight_decay, "scheduler": "none",
        "epochs": settings.epochs})
    inits = [(spec, _init_function(spec)) for spec in sweep["inits"]]
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
        seed_row = (SEED_ROW_INIT, _init_function(SEED_ROW_INIT))
    run_dir = new_run_dir(args.out)
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
    if plot.available():
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
