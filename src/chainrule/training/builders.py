"""Builders: turn the names and specs of a run's settings into a model, an initialisation, a loss,
an optimizer and a learning-rate schedule.

    model = build_mlp(2, parse_hidden("64,64"), 1, "tanh", "float32")
    apply_init(model, "uniform:-4:4")
    optimizer = build_optimizer("sgd", model.parameters(), lr=0.1, momentum=0.9)
    scheduler = build_scheduler("step:10:0.5", optimizer, epochs=50)

>>> parse_hidden("64,64")
[64, 64]
>>> parse_init("uniform:-4:4")
('uniform', (-4.0, 4.0))
>>> build_mlp(2, [10], 1, "sigmoid")
Sequential(
  (0): Linear(in_features=2, out_features=10, bias=True)
  (1): Sigmoid()
  (2): Linear(in_features=10, out_features=1, bias=True)
)

Every parser and builder checks its input and raises ValueError with one sentence that names the
setting by its command-line flag (``--init``), what it accepts and what it got (listing the valid
names for an unknown one).
"""

from __future__ import annotations

import math

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu",
               "selu", "softplus", "silu")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 0.01, "adagrad": 0.01}
SCHEDULERS = "none, step:STEP:GAMMA, exponential:GAMMA, cosine, plateau"
INITS = "torch-default, uniform:A:B, normal:STD, truncnormal:STD:A:B, xavier, kaiming"
DTYPES = ("float32", "float64")
LOSS_NAMES = ("mse", "l1", "huber", "cross_entropy", "bce_with_logits")

# What a run's settings may ask for, from the command line or from a saved config (checked again
# when a checkpoint is loaded, chainrule.training.schema), so that a few bytes of settings cannot
# ask for terabytes of data (samples) or years of training (epochs).
LIMITS = {
    "samples": 10_000_000,      # rows a --function run may draw
    "layer_size": 100_000,      # units of one hidden layer
    "layers": 100,              # hidden layers
    "features": 100_000,        # input columns
    "classes": 100_000,         # outputs of a classifier
    "epochs": 1_000_000,
    "batch_size": 10_000_000,
    "function": 1000,           # characters of a --function formula (as apps.expression)
    "image_side": 100_000,      # channels, height or width of an image (each)
    "kernel_size": 99,          # side of a conv kernel
}
SEED_END = 2**64  # seeds are ints in [0, 2**64)

# ----- checking numbers -------------------------------------------------------------------------

def check_number(flag: str, value, low=None, high=None, low_open=False, high_open=False,
                 integer=False):
    """``value`` if it lies in the range, else ValueError naming the flag and the range."""
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
        if isinstance(value, float) and not math.isfinite(value):
            kind = f"a finite {kind[kind.index(' ') + 1:]}"  # (inf and nan pass no range test)
        if low is not None and high is not None:
            where = f"in the range {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            where = f"{'>' if low_open else '>='} {low:g}"
        elif high is not None:
            where = f"{'<' if high_open else '<='} {high:g}"
        else:
            where = "that is finite"
        raise ValueError(f"{flag} must be {kind} {where}. Got {value!r} instead.")
    return int(value) if integer else value


def check_at_most(flag: str, value, limit: int):
    """``value`` unless it exceeds ``limit`` (one of LIMITS), else ValueError naming the flag.

    >>> check_at_most("--samples", 10**12, LIMITS["samples"])
    Traceback (most recent call last):
    ...
    ValueError: --samples must be at most 10_000_000. Got 1000000000000 instead.
    """
    if value is not None and value > limit:
        raise ValueError(f"{flag} must be at most {limit:_}. Got {value!r} instead.")
    return value


# ----- parsing specs ----------------------------------------------------------------------------

def _choice(flag: str, value: str, choices) -> str:
    name = str(value).strip().lower().replace("-", "_")
    if name not in choices:
        raise ValueError(f"{flag} must be one of {', '.join(choices)}. Got {value!r} instead.")
    return name


def _spec_numbers(flag: str, spec: str, form: str, count: int) -> list:
    """The ``count`` numbers after the name in 'name:X:Y', or ValueError showing ``form``."""
    parts = spec.split(":")[1:]
    if len(parts) != count:
        raise ValueError(f"{flag} {spec!r} does not have the form {form}.")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{flag} {spec!r} does not have the form {form} with numbers.") from None
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(f"{flag} {spec!r} must use finite numbers.")
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
            raise ValueError(f"--hidden must be layer sizes separated by commas, such as "
                               f"64,64. Got {text!r} instead.") from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"--hidden: every layer size must be an integer >= 1. Got "
                             f"{size!r} in {text!r} instead.")
        if size > LIMITS["layer_size"]:
            raise ValueError(f"--hidden: every layer size must be at most "
                             f"{LIMITS['layer_size']:_}. Got {size!r} in {text!r} instead.")
    if len(sizes) > LIMITS["layers"]:
        raise ValueError(f"--hidden: at most {LIMITS['layers']} hidden layers. Got "
                         f"{len(sizes)} instead.")
    return sizes


def parse_activation(name: str) -> str:
    return _choice("--activation", name, ACTIVATIONS)


def parse_loss(name: str) -> str:
    return _choice("--loss", name, LOSS_NAMES)


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
            raise ValueError(f"--init {spec!r}: A must be less than B.")
        return name, (a, b)
    if name == "normal":
        (std,) = _spec_numbers("--init", spec, "normal:STD", 1)
        if not std > 0:
            raise ValueError(f"--init {spec!r}: STD must be > 0.")
        return name, (std,)
    if name == "truncnormal":
        std, a, b = _spec_numbers("--init", spec, "truncnormal:STD:A:B", 3)
        if not (std > 0 and a < b):
            raise ValueError(f"--init {spec!r}: STD must be > 0 and A less than B.")
        return name, (std, a, b)
    raise ValueError(f"--init must be one of {INITS}. Got {spec!r} instead.")


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
            raise ValueError(f"--scheduler {spec!r}: STEP must be an integer >= 1 and "
                               "GAMMA > 0.")
        return name, (int(step), gamma)
    if name == "exponential":
        (gamma,) = _spec_numbers("--scheduler", spec, "exponential:GAMMA", 1)
        if not gamma > 0:
            raise ValueError(f"--scheduler {spec!r}: GAMMA must be > 0.")
        return name, (gamma,)
    raise ValueError(f"--scheduler must be one of {SCHEDULERS}. Got {spec!r} instead.")


def parse_range(text: str) -> tuple:
    """'LOW:HIGH' -> (low, high) with low < high."""
    parts = str(text).split(":")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--range must have the form LOW:HIGH, such as -2:2. Got {text!r} "
                           "instead.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"--range {text!r}: LOW and HIGH must be finite with LOW < HIGH.")
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


def parse_channels(text) -> list:
    """'16,32' -> [16, 32]: the output channels of a CNN's conv blocks (--channels), at least one.

    >>> parse_channels("8, 16")
    [8, 16]
    """
    if isinstance(text, (list, tuple)):
        sizes = list(text)
    else:
        try:
            sizes = [int(part) for part in str(text).split(",")]
        except ValueError:
            raise ValueError(f"--channels must be channel counts separated by commas, such as "
                             f"16,32. Got {text!r} instead.") from None
    if not sizes or any(isinstance(size, bool) or not isinstance(size, int) or size < 1
                        for size in sizes):
        raise ValueError(f"--channels: every channel count must be an integer >= 1, and at "
                         f"least one is needed. Got {text!r} instead.")
    return sizes


def cnn_feature_shape(image_shape, channels, kernel_size=3) -> tuple:
    """(C, H, W) of the feature maps that build_cnn's conv blocks leave from images of
    ``image_shape`` (C, H, W): each block keeps H and W (padding kernel_size // 2) and its
    2x2 max-pool halves them, rounding down; ValueError when a block would pool below 1x1.

    >>> cnn_feature_shape((1, 8, 8), [16, 32])
    (32, 2, 2)
    """
    _, h, w = image_shape
    for block, _ in enumerate(channels, start=1):
        if h < 2 or w < 2:
            raise ValueError(
                f"--channels {','.join(map(str, channels))} makes {len(channels)} conv blocks, "
                f"each halving the image with a 2x2 max-pool, but {image_shape[1]}x"
                f"{image_shape[2]} images are down to {h}x{w} before block {block}; give at most "
                f"{block - 1} channel counts.")
        h, w = h // 2, w // 2
    return channels[-1], h, w


def build_cnn(image_shape, channels, out_features: int, hidden=(), activation="relu",
              kernel_size=3, batch_norm=False, dtype="float32"):
    """A small CNN for images of ``image_shape`` (C, H, W), as nn.Sequential:

        for each c in channels:  Conv2d(c_in, c, kernel_size, padding=kernel_size // 2),
                                 [BatchNorm2d(c)], activation, MaxPool2d(2)
        Flatten, then Linear(c_last * h * w, hidden...), activation, ..., Linear(..., out)

    >>> build_cnn((1, 8, 8), [4], 10)
    Sequential(
      (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): ReLU()
      (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
      (3): Flatten(start_dim=1, end_dim=-1)
      (4): Linear(in_features=64, out_features=10, bias=True)
    )
    """
    from .. import nn

    channels = parse_channels(channels)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 \
            or kernel_size % 2 == 0:
        raise ValueError(f"--kernel-size must be an odd integer >= 1 (padded to keep the image "
                         f"size). Got {kernel_size!r} instead.")
    activation = parse_activation(activation)
    if activation in ("softmax", "log_softmax"):
        raise ValueError(f"--activation {activation} normalises along the last dim, which in a "
                         "conv feature map (N, C, H, W) is the image width; choose relu, "
                         "leaky_relu, tanh or another element-wise activation for --model cnn.")
    feature_shape = cnn_feature_shape(image_shape, channels, kernel_size)
    layers, c_in = [], image_shape[0]
    for c_out in channels:
        layers.append(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, dtype=dtype))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out, dtype=dtype))
        layers += [build_activation(activation), nn.MaxPool2d(2)]
        c_in = c_out
    layers.append(nn.Flatten())
    head = build_mlp(int(math.prod(feature_shape)), hidden, out_features, activation, dtype)
    return nn.Sequential(*layers, *head)


def apply_init(model, spec: str) -> None:
    """Re-initialise every Linear and Conv layer of ``model`` in place, in layer order, weight
    then bias.

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
        if not isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
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
            raise ValueError(f"--momentum applies to sgd and rmsprop only, not to {name}.")
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


