"""Command-line options shared by ``chainrule train`` and ``chainrule seed``, and the builders that
turn them into a model, an initialisation, a loss, an optimizer and a schedule.

    add_model_options(parser)        --hidden --activation --init --dtype
    add_optimizer_options(parser)    --optimizer --lr --momentum --weight-decay --scheduler
    add_training_options(parser)     --epochs --batch-size --seed --clip-value --clip-norm --no-health
                                     --normalize-grad --patience --progress
    add_output_options(parser)       --out --json --quiet

    model = build_mlp(2, parse_hidden("64,64"), 1, "tanh", "float32")
    apply_init(model, "uniform:-4:4")
    optimizer = build_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.9)
    scheduler = build_scheduler("step:10:0.5", optimizer, epochs=50)

Every builder checks its input and raises CommandError with one sentence that names the flag, what
it accepts and what it got (listing the valid names for an unknown one).
"""

from __future__ import annotations

import functools
import math
import sys

from . import CommandError

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu",
               "selu", "softplus", "silu")
LOSSES = {  # name: task
    "mse": "regression", "l1": "regression", "huber": "regression",
    "cross_entropy": "classification", "bce_with_logits": "binary",
}
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 0.01, "adagrad": 0.01}
SCHEDULERS = "none, step:STEP:GAMMA, exponential:GAMMA, cosine, plateau"
INITS = "torch-default, uniform:A:B, normal:STD, truncnormal:STD:A:B, xavier, kaiming"
DTYPES = ("float32", "float64")


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
    group.add_argument("--no-health", dest="health", action="store_false",
                       help="do not watch the run's health (gradient norms, update sizes, saturated "
                            "or dead units, divergence); watched and reported by default")


def add_output_options(parser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--out", default=None, metavar="DIR",
                       help="run folder (default runs/<date-time>)")
    group.add_argument("--json", action="store_true",
                       help="print a machine-readable summary on stdout (logs go to stderr)")
    group.add_argument("--quiet", action="store_true",
                       help="print only the result and the run folder: no per-epoch log lines, "
                            "notes or file list")


# ----- checking numbers -------------------------------------------------------------------------

def check_number(flag: str, value, low=None, high=None, low_open=False, high_open=False,
                 integer=False):
    """``value`` if it lies in the range, else CommandError naming the flag and the range."""
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if integer:
        ok = ok and float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        if low is not None and high is not None:
            where = f"in the range {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = "that is finite"
        raise CommandError(f"{flag} must be {kind} {where}. Got {value!r} instead.")
    return int(value) if integer else value


def check_training_options(args) -> None:
    """Range checks of the options added by add_training_options and add_optimizer_options."""
    check_number("--epochs", args.epochs, 1, integer=True)
    check_number("--batch-size", args.batch_size, 1, integer=True)
    check_number("--seed", args.seed, 0, integer=True)
    check_number("--clip-value", args.clip_value, 0, low_open=True)
    check_number("--clip-norm", args.clip_norm, 0, low_open=True)
    check_number("--patience", args.patience, 1, integer=True)
    if args.normalize_grad and (args.clip_value is not None or args.clip_norm is not None):
        raise CommandError("--normalize-grad replaces clipping; give it without --clip-value "
                           "and --clip-norm.")
    check_number("--lr", args.lr, 0, low_open=True)
    check_number("--momentum", args.momentum, 0, 1, high_open=True)
    check_number("--weight-decay", args.weight_decay, 0)


# ----- parsing specs ----------------------------------------------------------------------------

def _choice(flag: str, value: str, choices) -> str:
    name = str(value).strip().lower().replace("-", "_")
    if name not in choices:
        raise CommandError(f"{flag} {value!r} is not known; choose one of {', '.join(choices)}.")
    return name


def _spec_numbers(flag: str, spec: str, form: str, count: int) -> list:
    """The ``count`` numbers after the name in 'name:X:Y', or CommandError showing ``form``."""
    parts = spec.split(":")[1:]
    if len(parts) != count:
        raise CommandError(f"{flag} {spec!r} does not have the form {form}.")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise CommandError(f"{flag} {spec!r} does not have the form {form} with numbers.") from None
    if not all(math.isfinite(n) for n in numbers):
        raise CommandError(f"{flag} {spec!r} must use finite numbers.")
    return numbers


def parse_hidden(text) -> list:
    """'64,64' -> [64, 64]; '' or 'none' -> [] (a linear model)."""
    if isinstance(text, (list, tuple)):
        sizes = list(text)
    else:
        text = str(text).strip()
        if text.lower() in ("", "none"):
            return []
        try:
            sizes = [int(part) for part in text.split(",")]
        except ValueError:
            raise CommandError(f"--hidden must be layer sizes separated by commas, such as "
                               f"64,64. Got {text!r} instead.") from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise CommandError(f"--hidden: every layer size must be an integer >= 1. Got "
                               f"{size!r} in {text!r} instead.")
    return sizes


def parse_activation(name: str) -> str:
    return _choice("--activation", name, ACTIVATIONS)


def parse_loss(name: str) -> str:
    return _choice("--loss", name, tuple(LOSSES))


def parse_optimizer(name: str) -> str:
    return _choice("--optimizer", name, OPTIMIZERS)


def parse_init(spec: str) -> tuple:
    """('torch-default' | 'xavier' | 'kaiming', ()) or ('uniform', (a, b)), ('normal', (std,)),
    ('truncnormal', (std, a, b))."""
    spec = str(spec).strip()
    name = spec.split(":")[0].lower()
    if name in ("torch-default", "xavier", "kaiming") and ":" not in spec:
        return name, ()
    if name == "uniform":
        a, b = _spec_numbers("--init", spec, "uniform:A:B", 2)
        if not a < b:
            raise CommandError(f"--init {spec!r}: A must be less than B.")
        return name, (a, b)
    if name == "normal":
        (std,) = _spec_numbers("--init", spec, "normal:STD", 1)
        if not std > 0:
            raise CommandError(f"--init {spec!r}: STD must be > 0.")
        return name, (std,)
    if name == "truncnormal":
        std, a, b = _spec_numbers("--init", spec, "truncnormal:STD:A:B", 3)
        if not (std > 0 and a < b):
            raise CommandError(f"--init {spec!r}: STD must be > 0 and A less than B.")
        return name, (std, a, b)
    raise CommandError(f"--init {spec!r} is not known; choose one of {INITS}.")


def parse_scheduler(spec: str) -> tuple:
    """('none', ()), ('step', (step, gamma)), ('exponential', (gamma,)), ('cosine', ()),
    ('plateau', ())."""
    spec = str(spec).strip()
    name = spec.split(":")[0].lower()
    if name in ("none", "cosine", "plateau") and ":" not in spec:
        return name, ()
    if name == "step":
        step, gamma = _spec_numbers("--scheduler", spec, "step:STEP:GAMMA", 2)
        if not (step >= 1 and step.is_integer() and gamma > 0):
            raise CommandError(f"--scheduler {spec!r}: STEP must be an integer >= 1 and "
                               "GAMMA > 0.")
        return name, (int(step), gamma)
    if name == "exponential":
        (gamma,) = _spec_numbers("--scheduler", spec, "exponential:GAMMA", 1)
        if not gamma > 0:
            raise CommandError(f"--scheduler {spec!r}: GAMMA must be > 0.")
        return name, (gamma,)
    raise CommandError(f"--scheduler {spec!r} is not known; choose one of {SCHEDULERS}.")


def parse_range(text: str) -> tuple:
    """'LOW:HIGH' -> (low, high) with low < high."""
    parts = str(text).split(":")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise CommandError(f"--range must have the form LOW:HIGH, such as -2:2. Got {text!r} "
                           "instead.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise CommandError(f"--range {text!r}: LOW and HIGH must be finite with LOW < HIGH.")
    return low, high


# ----- builders ---------------------------------------------------------------------------------

def build_activation(name: str):
    """A fresh activation module; softmax and log_softmax work along the last (feature) dim."""
    from .. import nn

    name = parse_activation(name)
    if name == "softmax":
        return nn.Softmax(dim=-1)
    if name == "log_softmax":
        return nn.LogSoftmax(dim=-1)
    return {
        "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
        "gelu": nn.GELU, "elu": nn.ELU, "selu": nn.SELU, "softplus": nn.Softplus, "silu": nn.SiLU,
    }[name]()


def build_mlp(in_features: int, hidden, out_features: int, activation="tanh", dtype="float32"):
    """Linear(in, h1), act, Linear(h1, h2), act, ..., Linear(h_last, out), as nn.Sequential."""
    from .. import nn

    sizes = [in_features, *parse_hidden(hidden), out_features]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(build_activation(activation))
    return nn.Sequential(*layers)


def apply_init(model, spec: str) -> None:
    """Re-initialise every Linear layer of ``model`` in place, in layer order, weight then bias.

        torch-default       leave PyTorch's default, U(+-1/sqrt(fan_in)) for weight and bias
        uniform:A:B         weight and bias ~ U(A, B)
        normal:STD          weight and bias ~ N(0, STD^2)
        truncnormal:STD:A:B weight and bias ~ N(0, STD^2) truncated to [A, B]
        xavier              weight by xavier_uniform_ (Glorot), bias 0
        kaiming             weight by kaiming_uniform_ (He, for relu), bias 0
    """
    from .. import nn

    name, numbers = parse_init(spec)
    if name == "torch-default":
        return
    for module in model.modules():
        if not isinstance(module, nn.Linear):
            continue
        tensors = [module.weight] + ([module.bias] if module.bias is not None else [])
        if name == "uniform":
            for t in tensors:
                nn.init.uniform_(t, *numbers)
        elif name == "normal":
            for t in tensors:
                nn.init.normal_(t, 0.0, numbers[0])
        elif name == "truncnormal":
            for t in tensors:
                nn.init.trunc_normal_(t, 0.0, *numbers)
        else:
            if name == "xavier":
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build_loss(name: str):
    from .. import nn

    return {
        "mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss,
        "cross_entropy": nn.CrossEntropyLoss, "bce_with_logits": nn.BCEWithLogitsLoss,
    }[parse_loss(name)]()


def build_optimizer(name: str, params, lr=None, momentum=None, weight_decay=0.0):
    """The named optimizer; ``lr`` None means the per-optimizer default in DEFAULT_LR."""
    from .. import optim

    name = parse_optimizer(name)
    lr = DEFAULT_LR[name] if lr is None else check_number("--lr", lr, 0, low_open=True)
    check_number("--weight-decay", weight_decay, 0)
    if momentum is not None:
        check_number("--momentum", momentum, 0, 1, high_open=True)
        if name not in ("sgd", "rmsprop"):
            raise CommandError(f"--momentum applies to sgd and rmsprop only, not to {name}.")
    momentum = momentum or 0.0
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad}[name](
        params, lr=lr, weight_decay=weight_decay)


def build_scheduler(spec: str, optimizer, epochs: int):
    """None for 'none'; cosine anneals to 0 over ``epochs``; plateau is ReduceLROnPlateau with
    factor 0.5 and patience 5 on the validation loss."""
    from ..optim import lr_scheduler

    name, numbers = parse_scheduler(spec)
    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=numbers[0], gamma=numbers[1])
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=numbers[0])
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=5)


def resume_epochs(config: dict, checkpoint: dict, epochs, run_dir) -> None:
    """Set config['epochs'] for a resumed run: ``epochs`` (the --epochs flag, None when not given)
    or the saved number. A finished run needs more epochs; a cosine schedule, which spans the
    epochs it was built for, cannot be stretched (it would restart its cycle mid-run)."""
    done = int(checkpoint["epoch"])
    stopper = checkpoint.get("early_stopping")
    if isinstance(stopper, dict) and stopper.get("bad_epochs", 0) >= stopper.get("patience", 1e9):
        raise CommandError(
            f"the run in {run_dir} stopped early after epoch {done}: its loss had not improved for "
            f"{stopper['patience']} epochs since epoch {stopper.get('best_epoch')}, whose weights "
            "it kept. Resumed with the same --patience it would stop again after one epoch; "
            "start a new run (with a larger --patience, or none) instead."
        )
    if epochs is not None:
        check_number("--epochs", epochs, 1, integer=True)
        if epochs != config["epochs"] and str(config.get("scheduler", "")).startswith("cosine"):
            raise CommandError(
                f"--epochs cannot change when resuming a run with --scheduler cosine: its schedule "
                f"spans the {config['epochs']} epochs it was started with; start a new run instead."
            )
        config["epochs"] = epochs
    if done >= config["epochs"] or (checkpoint.get("finished") and epochs is None):
        raise CommandError(
            f"the run in {run_dir} has already finished ({done} epochs of {config['epochs']}); "
            f"give --epochs with more than {done} to train it further."
        )


def kept_weights(history, stopper):
    """(epoch, its validation loss) of the weights a run ends with: the best epoch's when early
    stopping restored them, else the last epoch's (the train loss where there is no validation)."""
    if not history.epoch:
        return None, None
    epoch = history.epoch[-1]
    if stopper is not None and stopper.stopped_epoch is not None and stopper.best_epoch is not None:
        epoch = stopper.best_epoch
    index = history.epoch.index(epoch)
    losses = history.val_loss if history.val_loss[index] is not None else history.train_loss
    return epoch, losses[index]


def logger(args):
    """The per-epoch log for fit: None with --quiet; stderr with --json (stdout holds the JSON)."""
    if args.quiet:
        return None
    stream = sys.stderr if args.json else sys.stdout
    return functools.partial(print, file=stream, flush=True)


def json_number(value):
    """A float for a JSON summary; NaN and Inf as the strings "nan" and "inf"."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else str(value)
