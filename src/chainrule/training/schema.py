"""The schema of a run's checkpoint: what every entry must hold, checked once, when it is loaded.

``chainrule.load`` guarantees a well-formed file (every checksum right, every size in bounds); it
says nothing of what the file holds. A checkpoint that is well-formed but wrong (damaged by hand,
written by a bug, made to attack) must not crash, hang or fill the memory of the commands that
read it. So ``load_checkpoint`` passes what it loaded through this module before anything else
touches it, and every problem is one ``CheckpointError`` (a ValueError) naming the file, the field,
what it must be and what it is::

    runs/h/checkpoint.crk: config.loss must be one of mse, l1, huber, cross_entropy,
    bce_with_logits; got 'nope'.

Two levels:

``check_checkpoint(checkpoint, where)`` — any checkpoint of ``runs.make_checkpoint``:
    format, the entries and no others; model: names -> floating arrays; optimizer: its groups and
    per-parameter buffers; scheduler: plain data; epoch; finished; rng (field by field, see
    ``chainrule.random.check_rng_state``); history: equal-length lists of numbers, epochs
    increasing to ``epoch``; early_stopping: its five fields, best_state shaped as the model;
    health: the HealthMonitor's records, each of its kind, named after the model's parameters;
    config: a dict whose generic settings (seed, epochs, patience, clipping) are in range.

``check_run(checkpoint, where, command)`` — a run of ``chainrule train`` or ``chainrule seed``:
    every config field of that command, of its type and within ``LIMITS``; the saved weights
    exactly the shapes the config describes (so the model built from the config is the size of
    the weights in the file, never larger); the optimizer's groups and buffers as that optimizer
    keeps them; the scheduler's fields as the config's schedule keeps them; the data record
    (features, classes, standardizers) consistent with the weights.

``LIMITS`` bounds what a config may ask for, so that a few bytes of config cannot ask for
terabytes (``samples``) or years (``epochs``).
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..random import check_rng_state
from ..serialization import CheckpointError
from .builders import (
    ACTIVATIONS, DTYPES, LIMITS, LOSS_NAMES, OPTIMIZERS, SEED_END, parse_init, parse_scheduler,
)

__all__ = ["LIMITS", "check_checkpoint", "check_run", "check_resumable"]


FORMAT = "chainrule.train/1"
_REQUIRED = ("format", "model", "optimizer", "scheduler", "epoch", "rng", "history", "config")
_OPTIONAL = ("finished", "early_stopping", "data", "health", "imported_from")
_HISTORY = ("epoch", "train_loss", "val_loss", "lr", "seconds", "step_loss")
_TASKS = {"mse": "regression", "l1": "regression", "huber": "regression",
          "cross_entropy": "classification", "bce_with_logits": "binary"}

# The options of each optimizer's parameter group (as its state_dict writes them; "initial_lr"
# is added by a scheduler): a kind per option, see _Checker.option.
_GROUP = {
    "sgd": {"lr": "rate", "momentum": "fraction", "dampening": "closed fraction",
            "weight_decay": "rate", "nesterov": "bool", "maximize": "bool"},
    "adam": {"lr": "rate", "betas": "betas", "eps": "rate", "weight_decay": "rate",
             "amsgrad": "bool", "maximize": "bool", "decoupled_weight_decay": "bool"},
    "rmsprop": {"lr": "rate", "alpha": "closed fraction", "eps": "rate", "weight_decay": "rate",
                "momentum": "fraction", "centered": "bool", "maximize": "bool"},
    "adagrad": {"lr": "rate", "lr_decay": "rate", "weight_decay": "rate",
                "initial_accumulator_value": "rate", "eps": "rate", "maximize": "bool"},
}
_GROUP["adamw"] = _GROUP["adam"]

# The fields of each schedule's state_dict: "int>=N", "number", "lrs" (one rate per group), ...
_SCHEDULER = {
    "step": {"step_size": "int>=1", "gamma": "positive", "base_lrs": "lrs", "last_epoch": "int>=-1",
             "_step_count": "int>=0", "_is_initial": "bool", "_last_lr": "lrs"},
    "exponential": {"gamma": "positive", "base_lrs": "lrs", "last_epoch": "int>=-1",
                    "_step_count": "int>=0", "_is_initial": "bool", "_last_lr": "lrs"},
    "cosine": {"T_max": "int>=1", "eta_min": "rate", "base_lrs": "lrs", "last_epoch": "int>=-1",
               "_step_count": "int>=0", "_is_initial": "bool", "_last_lr": "lrs"},
    "plateau": {"mode": ("min", "max"), "factor": "fraction", "patience": "int>=0",
                "threshold": "rate", "threshold_mode": ("rel", "abs"), "cooldown": "int>=0",
                "default_min_lr": "rate", "min_lrs": "lrs", "eps": "rate", "best": "number",
                "num_bad_epochs": "int>=0", "cooldown_counter": "int>=0",
                "last_epoch": "int>=-1", "_last_lr": "lrs"},
}

_HEALTH_SERIES = ("grad_norms", "weight_norms", "update_ratios", "_finite_norms")
_HEALTH_NUMBERS = ("losses", "epoch_losses", "_target_variances", "_label_entropies")
_HEALTH_KINDS = ("sigmoid", "tanh", "relu")


def _shown(value) -> str:
    """A short description of a value for a message: arrays by shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, dict):
        return f"a dict with keys {_clip(repr(list(value)[:6]))}"
    if isinstance(value, (list, tuple)) and len(value) > 20:
        return f"a {type(value).__name__} of {len(value)} items"
    return _clip(repr(value))


def _clip(text: str, limit: int = 80) -> str:
    """One line (an array's repr inside a list spans several) of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, (bool, np.bool_))


def _finite(value) -> bool:
    return _is_number(value) and math.isfinite(value)


_MISSING = object()


class _Checker:
    """Raises CheckpointError("<where>: <field> must be <expected>; got <value>.")."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, field: str, expected: str, value=_MISSING):
        if value is _MISSING:
            raise CheckpointError(f"{self.where}: {field} is missing; it must be {expected}.")
        raise CheckpointError(f"{self.where}: {field} must be {expected}; got {_shown(value)}.")

    def dict(self, field, value, keys=None, optional=()) -> dict:
        """``value`` if it is a dict (with exactly ``keys``, plus any of ``optional``)."""
        if not isinstance(value, dict):
            self.fail(field, "a dict", value)
        if keys is not None:
            for key in keys:
                if key not in value:
                    self.fail(f"{field}.{key}", "present")
            extra = [key for key in value if key not in keys and key not in optional]
            if extra:
                raise CheckpointError(f"{self.where}: {field} has the unknown entry "
                                      f"{_shown(extra[0])}; expected only "
                                      f"{', '.join(map(str, (*keys, *optional)))}.")
        return value

    def int(self, field, value, low=None, high=None, none=False):
        if none and value is None:
            return None
        if not _is_int(value) or (low is not None and value < low) \
                or (high is not None and value > high):
            self.fail(field, _describe("an int", low, high, none), value)
        return int(value)

    def number(self, field, value, low=None, high=None, none=False, low_open=False,
               high_open=False, finite=True):
        if none and value is None:
            return None
        ok = _is_number(value) and (math.isfinite(value) or not finite)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            what = "a finite number" if finite else "a number"
            self.fail(field, _describe(what, low, high, none, low_open, high_open), value)
        return value

    def bool(self, field, value):
        if not isinstance(value, (bool, np.bool_)):
            self.fail(field, "true or false", value)
        return bool(value)

    def str(self, field, value, none=False, limit=10_000):
        if none and value is None:
            return None
        if not isinstance(value, str) or len(value) > limit:
            self.fail(field, f"a string{' or None' if none else ''} (at most {limit} characters)",
                      value)
        return value

    def choice(self, field, value, choices):
        if not isinstance(value, str) or value not in choices:
            self.fail(field, f"one of {', '.join(choices)}", value)
        return value

    def numbers(self, field, value, allow_none=False, integer=False):
        """A list of numbers (None too with ``allow_none``) or a 1-D numeric array."""
        if isinstance(value, np.ndarray):
            kinds = "iu" if integer else "iuf"
            if value.ndim != 1 or value.dtype.kind not in kinds:
                self.fail(field, f"a 1-D array of {'integers' if integer else 'numbers'}", value)
            return value
        if not isinstance(value, (list, tuple)):
            self.fail(field, f"a list of {'integers' if integer else 'numbers'}", value)
        test = _is_int if integer else _is_number
        for i, item in enumerate(value):
            if not (test(item) or (allow_none and item is None)):
                what = "an int" if integer else "a number" + (" or None" if allow_none else "")
                self.fail(f"{field}[{i}]", what, item)
        return value

    def array(self, field, value, shape=None, dtype=None):
        """A floating-point array (of ``shape`` and ``dtype`` when given)."""
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            self.fail(field, "an array of floating-point numbers", value)
        if shape is not None and value.shape != tuple(shape):
            self.fail(field, f"an array of shape {tuple(shape)}", value)
        if dtype is not None and value.dtype != np.dtype(dtype):
            self.fail(field, f"an array of dtype {dtype}", value)
        return value


def _describe(what, low, high, none=False, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        what += (f" in {'(' if low_open else '['}{_number(low)}, {_number(high)}"
                 f"{')' if high_open else ']'}")
    elif low is not None:
        what += f" {'>' if low_open else '>='} {_number(low)}"
    elif high is not None:
        what += f" {'<' if high_open else '<='} {_number(high)}"
    return what + (" or None" if none else "")


def _number(value) -> str:
    """10000000 as 10_000_000 (readable and exact), 2**62 as 2**62, floats as :g."""
    if isinstance(value, int):
        if value >= 2**32 and value & (value - 1) == 0:
            return f"2**{value.bit_length() - 1}"
        return f"{value:_}"
    return f"{value:g}"


# ----- any checkpoint --------------------------------------------------------------------------

def check_checkpoint(checkpoint, where: str) -> dict:
    """``checkpoint`` if it is a training checkpoint as ``make_checkpoint`` writes it (see the
    module docstring); else CheckpointError naming the field."""
    check = _Checker(where)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        raise CheckpointError(f"{where} is a chainrule file but not a training checkpoint "
                              f"(format {_shown(found)}, expected {FORMAT!r}).")
    missing = [key for key in _REQUIRED if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{where} is an incomplete training checkpoint: it lacks "
                              f"{', '.join(missing)}.")
    check.dict("the checkpoint", checkpoint, _REQUIRED, _OPTIONAL)
    _check_generic_config(check, checkpoint["config"])
    model = _check_model(check, checkpoint["model"])
    _check_optimizer(check, checkpoint["optimizer"])
    scheduler = checkpoint["scheduler"]
    if scheduler is not None:
        _check_plain(check, "scheduler", check.dict("scheduler", scheduler))
    epoch = check.int("epoch", checkpoint["epoch"], 0, LIMITS["epochs"])
    if "finished" in checkpoint:
        check.bool("finished", checkpoint["finished"])
    try:
        check_rng_state("rng", checkpoint["rng"])
    except ValueError as err:
        raise CheckpointError(f"{where}: {err}") from None
    epochs = _check_history(check, checkpoint["history"], epoch)
    if checkpoint.get("early_stopping") is not None:
        _check_early_stopping(check, checkpoint["early_stopping"], model, epochs)
    if checkpoint.get("data") is not None:
        _check_plain(check, "data", check.dict("data", checkpoint["data"]))
    if checkpoint.get("health") is not None:
        _check_health(check, checkpoint["health"], model)
    if "imported_from" in checkpoint:
        imported = check.dict("imported_from", checkpoint["imported_from"], ("file", "format"))
        check.str("imported_from.file", imported["file"])
        check.choice("imported_from.format", imported["format"], ("torch",))
    return checkpoint


def check_resumable(checkpoint, where: str) -> None:
    """The settings every resumed run reads (``lifecycle.execute``): config.seed and epochs."""
    check = _Checker(where)
    config = checkpoint["config"]
    for name in ("seed", "epochs"):
        if name not in config:
            check.fail(f"config.{name}", "present in a run that can be resumed")


def _check_generic_config(check, config) -> None:
    check.dict("config", config)
    for key in config:
        if not isinstance(key, str):
            check.fail("every key of config", "a string", key)
    _check_plain(check, "config", config)
    if "seed" in config:
        check.int("config.seed", config["seed"], 0, SEED_END - 1)
    if "epochs" in config:
        check.int("config.epochs", config["epochs"], 1, LIMITS["epochs"])
    if "patience" in config:
        check.int("config.patience", config["patience"], 1, LIMITS["epochs"], none=True)
    for name in ("clip_value", "clip_norm"):
        if name in config:
            check.number(f"config.{name}", config[name], 0, none=True, low_open=True)
    if "normalize_grad" in config:
        if check.bool("config.normalize_grad", config["normalize_grad"]) and (
                config.get("clip_value") is not None or config.get("clip_norm") is not None):
            raise CheckpointError(f"{check.where}: config.normalize_grad replaces clipping, so "
                                  "config.clip_value and config.clip_norm must be None with it.")
    if "command" in config:
        check.str("config.command", config["command"], limit=100)


def _check_plain(check, field, value, depth=0) -> None:
    """Plain data only (numbers, strings, None, bools, lists, dicts, arrays), not too deep."""
    if depth > 20:
        raise CheckpointError(f"{check.where}: {field} is nested more than 20 levels deep; a "
                              "run's checkpoint nests far less.")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(check, f"{field}[{key!r}]", item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(check, f"{field}[{i}]", item, depth + 1)


_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # BatchNorm's, not parameters


def _parameters(model) -> list:
    """The names in a model's state dict that are parameters (the optimizer's), not buffers."""
    return [name for name in model if name.rsplit(".", 1)[-1] not in _BUFFERS]


def _check_model(check, model) -> dict:
    """name -> floating array; returns it."""
    check.dict("model", model)
    if not model:
        check.fail("model", "a non-empty state dict", model)
    for name, value in model.items():
        if not isinstance(name, str):
            check.fail("every key of model", "a string such as '0.weight'", name)
        if name.endswith("num_batches_tracked"):  # BatchNorm's counter of batches
            if not (isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.int64
                    and int(value) >= 0):
                check.fail(f"model[{name!r}]", "a non-negative int64 count of shape ()", value)
            continue
        check.array(f"model[{name!r}]", value)
    return model


def _state_index(check, key):
    if _is_int(key) and key >= 0:
        return int(key)
    if isinstance(key, str) and key.isdigit() and len(key) < 10:
        return int(key)
    check.fail("every key of optimizer.state", "a parameter index (an int >= 0)", key)


def _check_optimizer(check, optimizer) -> None:
    check.dict("optimizer", optimizer, ("state", "param_groups"))
    groups = optimizer["param_groups"]
    if not isinstance(groups, (list, tuple)) or not groups:
        check.fail("optimizer.param_groups", "a non-empty list of dicts", groups)
    indices = set()
    for g, group in enumerate(groups):
        field = f"optimizer.param_groups[{g}]"
        check.dict(field, group)
        if "params" not in group:
            check.fail(f"{field}.params", "a list of parameter indices")
        params = check.numbers(f"{field}.params", group["params"], integer=True)
        for index in params:
            if index < 0 or int(index) in indices:
                check.fail(f"{field}.params", "distinct parameter indices >= 0", list(params))
            indices.add(int(index))
        for key, value in group.items():
            if not isinstance(key, str):
                check.fail(f"every key of {field}", "a string", key)
            _check_plain(check, f"{field}[{key!r}]", value)
    state = check.dict("optimizer.state", optimizer["state"])
    for key, buffers in state.items():
        index = _state_index(check, key)
        if index not in indices:
            check.fail(f"optimizer.state[{key!r}]", "the state of a parameter of param_groups",
                       key)
        check.dict(f"optimizer.state[{key!r}]", buffers)
        for name, value in buffers.items():
            field = f"optimizer.state[{key!r}][{name!r}]"
            if not isinstance(name, str):
                check.fail(f"every key of optimizer.state[{key!r}]", "a string", name)
            if not (isinstance(value, np.ndarray) and value.dtype.kind in "iuf") \
                    and not _is_number(value):
                check.fail(field, "a number or an array of numbers", value)


def _check_history(check, history, epoch) -> list:
    """The per-epoch lists; returns the epoch numbers."""
    check.dict("history", history, _HISTORY, ("best_epoch",))
    lengths = set()
    for name in _HISTORY:
        values = history[name]
        if isinstance(values, np.ndarray):  # a history is saved as lists
            check.fail(f"history.{name}", "a list", values)
        check.numbers(f"history.{name}", values, allow_none=name == "val_loss",
                      integer=name == "epoch")
        if name != "step_loss":
            lengths.add(len(values))
    if len(lengths) != 1:
        raise CheckpointError(f"{check.where}: the lists of history (epoch, train_loss, "
                              f"val_loss, lr, seconds) must have one length; got lengths "
                              f"{sorted(lengths)}.")
    epochs = [int(e) for e in history["epoch"]]
    if any(b <= a for a, b in zip(epochs, epochs[1:])) or (epochs and epochs[0] < 1):
        check.fail("history.epoch", "increasing epoch numbers from 1", epochs)
    if epochs and epochs[-1] != epoch:
        check.fail("history.epoch", f"a list ending at the checkpoint's epoch {epoch}", epochs)
    if "best_epoch" in history:
        check.int("history.best_epoch", history["best_epoch"], none=True)
    return epochs


def _check_early_stopping(check, state, model, epochs) -> None:
    keys = ("patience", "best_loss", "best_epoch", "best_state", "bad_epochs")
    check.dict("early_stopping", state, keys)
    check.int("early_stopping.patience", state["patience"], 1, LIMITS["epochs"])
    check.number("early_stopping.best_loss", state["best_loss"], finite=False)
    best = check.int("early_stopping.best_epoch", state["best_epoch"], none=True)
    if best is not None and best not in epochs:
        check.fail("early_stopping.best_epoch", "one of the epochs of history or None", best)
    check.int("early_stopping.bad_epochs", state["bad_epochs"], 0, LIMITS["epochs"])
    best_state = state["best_state"]
    if best_state is not None:
        check.dict("early_stopping.best_state", best_state, tuple(model))
        for name, value in best_state.items():
            if name.endswith("num_batches_tracked"):
                if not (isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.int64):
                    check.fail(f"early_stopping.best_state[{name!r}]", "an int64 count of shape ()",
                               value)
                continue
            check.array(f"early_stopping.best_state[{name!r}]", value, model[name].shape,
                        model[name].dtype)


def _check_health(check, health, model) -> None:
    keys = ("checked_steps", *_HEALTH_SERIES, "activations", *_HEALTH_NUMBERS[:3], "warnings",
            "warning_steps", "_step", "_epoch_start", "warned")
    check.dict("health", health, keys, ("_label_entropies", "findings"))
    checked = len(check.numbers("health.checked_steps", health["checked_steps"], integer=True))
    names = None
    for record in _HEALTH_SERIES:
        series = check.dict(f"health.{record}", health[record])
        if names is None:
            names = set(series)
        elif set(series) != names:
            check.fail(f"health.{record}", "keyed by the parameters that grad_norms names",
                       series)
        for name, values in series.items():
            if name not in model:
                check.fail(f"health.{record}", "keyed by names of the model's parameters", name)
            field = f"health.{record}[{name!r}]"
            check.numbers(field, values)
            # one gradient and weight norm per checked step; an update ratio and a finite norm
            # for at most each of them
            exact = record in ("grad_norms", "weight_norms")
            if len(values) > checked or (exact and len(values) != checked):
                check.fail(field, f"{'' if exact else 'at most '}one number per checked step "
                           f"({checked})", values)
    activations = check.dict("health.activations", health["activations"])
    for name, record in activations.items():
        field = f"health.activations[{name!r}]"
        check.str(f"the name of {field}", name, limit=1000)
        check.dict(field, record, ("kind", "steps", "fraction"))
        check.choice(f"{field}.kind", record["kind"], _HEALTH_KINDS)
        steps = check.numbers(f"{field}.steps", record["steps"], integer=True)
        if len(check.numbers(f"{field}.fraction", record["fraction"])) != len(steps):
            check.fail(f"{field}.fraction", f"one number per step of steps ({len(steps)})",
                       record["fraction"])
    for record in _HEALTH_NUMBERS:
        if record in health:
            check.numbers(f"health.{record}", health[record])
    warnings = health["warnings"]
    if not isinstance(warnings, (list, tuple)) or not all(isinstance(w, str) for w in warnings):
        check.fail("health.warnings", "a list of strings", warnings)
    for i, pair in enumerate(_list(check, "health.warning_steps", health["warning_steps"])):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and _is_int(pair[0])
                and isinstance(pair[1], str)):
            check.fail(f"health.warning_steps[{i}]", "a pair (step, kind)", pair)
    step = check.int("health._step", health["_step"], 0)
    losses = health["losses"]
    check.int("health._epoch_start", health["_epoch_start"], 0, len(losses))
    if len(losses) > step:
        check.fail("health.losses", f"at most one loss per step ({step} steps)", losses)
    for i, key in enumerate(_list(check, "health.warned", health["warned"])):
        if not (isinstance(key, str) or (isinstance(key, (list, tuple))
                                         and all(isinstance(part, str) for part in key))):
            check.fail(f"health.warned[{i}]", "a string or a list of strings", key)
    for i, finding in enumerate(_list(check, "health.findings", health.get("findings", []))):
        # [kind, step, epoch, text, where, evidence]; runs saved before the detectors have 4
        if not (isinstance(finding, (list, tuple)) and len(finding) in (4, 6)
                and isinstance(finding[0], str) and _is_int(finding[1])
                and (finding[2] is None or _is_int(finding[2])) and isinstance(finding[3], str)
                and (len(finding) == 4 or ((finding[4] is None or isinstance(finding[4], str))
                                           and isinstance(finding[5], dict)))):
            check.fail(f"health.findings[{i}]", "a list [kind, step, epoch or None, text] and, "
                       "since the detectors, [.., where (a string or None), evidence (a dict)]",
                       finding)
        if len(finding) == 6:
            _check_plain(check, f"health.findings[{i}] evidence", finding[5])


def _list(check, field, value) -> list:
    if not isinstance(value, (list, tuple)):
        check.fail(field, "a list", value)
    return value


# ----- a run of chainrule train or chainrule seed ---------------------------------------------

def check_run(checkpoint, where: str, command: str) -> dict:
    """``checkpoint`` (already through ``check_checkpoint``) if it is a run of ``command``
    ("train" or "seed") whose config, weights, optimizer, schedule and data record agree (see
    the module docstring); else CheckpointError naming the field."""
    check = _Checker(where)
    config = checkpoint["config"]
    if command == "seed":
        hidden = _check_seed_config(check, config)
        in_features, out_features = 2, 1
        if checkpoint.get("data") is not None:  # (its data is drawn, never read)
            check.fail("data", "None for a run of chainrule seed", checkpoint["data"])
    elif config.get("source") == "images":
        hidden = _check_train_config(check, config)
        image_shape, out_features = _check_image_data(check, checkpoint.get("data"), config)
    else:
        hidden = _check_train_config(check, config)
        in_features, out_features = _check_train_data(check, checkpoint.get("data"), config)
    _check_common_config(check, config)
    if config.get("source") == "images":
        expected, described = _image_model_shapes(check, config, image_shape, hidden, out_features)
    else:
        sizes = [in_features, *hidden, out_features]
        expected, described = _mlp_shapes(sizes), f"the {'-'.join(map(str, sizes))} network"
    model = checkpoint["model"]
    if list(model) != list(expected):
        raise CheckpointError(
            f"{where}: model must hold the weights of {described} that config describes "
            f"({_clip(', '.join(expected))}); got {_clip(', '.join(model))}.")
    for name, shape in expected.items():
        if not name.endswith("num_batches_tracked"):  # (checked by check_checkpoint)
            check.array(f"model[{name!r}]", model[name], shape, config["dtype"])
    _check_run_optimizer(check, checkpoint["optimizer"], config, model)
    _check_run_scheduler(check, checkpoint["scheduler"], config)
    health = checkpoint.get("health")
    if health is not None and set(health["grad_norms"]) != set(_parameters(model)):
        check.fail("health.grad_norms", "keyed by every parameter of the model",
                   health["grad_norms"])
    return checkpoint


def _mlp_shapes(sizes, first: int = 0) -> dict:
    """name -> shape of build_mlp's Linear layers for ``sizes``, numbered from ``first`` (an
    activation between two Linear layers)."""
    expected = {}
    for i in range(len(sizes) - 1):
        expected[f"{first + 2 * i}.weight"] = (sizes[i + 1], sizes[i])
        expected[f"{first + 2 * i}.bias"] = (sizes[i + 1],)
    return expected


def _image_model_shapes(check, config, image_shape, hidden, out_features) -> tuple:
    """(name -> shape, a description) of the network an image run's config describes:
    build_cnn's conv blocks (Conv2d, [BatchNorm2d], activation, MaxPool2d), Flatten and the MLP
    head; or Flatten and the MLP. Computed from the numbers, nothing built."""
    c, h, w = image_shape
    if config["model"] == "mlp":
        sizes = [c * h * w, *hidden, out_features]
        return _mlp_shapes(sizes, first=1), f"the Flatten + {'-'.join(map(str, sizes))} network"
    expected, index, c_in, k = {}, 0, c, config["kernel_size"]
    for c_out in config["channels"]:
        if h < 2 or w < 2:
            check.fail("config.channels", f"as many conv blocks as {c}x{image_shape[1]}x"
                       f"{image_shape[2]} images can be pooled by 2 (each halves them)",
                       config["channels"])
        expected[f"{index}.weight"], expected[f"{index}.bias"] = (c_out, c_in, k, k), (c_out,)
        index += 1
        if config["batch_norm"]:
            for name in ("weight", "bias", "running_mean", "running_var"):
                expected[f"{index}.{name}"] = (c_out,)
            expected[f"{index}.num_batches_tracked"] = ()
            index += 1
        index += 2  # the activation and the max-pool
        c_in, h, w = c_out, h // 2, w // 2
    sizes = [c_in * h * w, *hidden, out_features]
    expected.update(_mlp_shapes(sizes, first=index + 1))  # after Flatten
    return expected, f"the CNN with channels {config['channels']}"


def _check_hidden(check, field, value, allow_int) -> list:
    sizes = [value] if allow_int and _is_int(value) else value
    if not isinstance(sizes, (list, tuple)) or len(sizes) > LIMITS["layers"] \
            or (allow_int and not sizes):
        what = "a layer size or a list of them" if allow_int else "a list of layer sizes"
        check.fail(field, f"{what} (at most {LIMITS['layers']} layers)", value)
    for i, size in enumerate(sizes):
        check.int(f"{field}[{i}]" if not (allow_int and _is_int(value)) else field, size, 1,
                  LIMITS["layer_size"])
    return [int(size) for size in sizes]


def _check_common_config(check, config) -> None:
    """The fields both commands write, past their types: the spec strings parse."""
    check.choice("config.activation", config["activation"], ACTIVATIONS)
    for field, parse in (("init", parse_init), ("scheduler", parse_scheduler)):
        check.str(f"config.{field}", config[field], limit=200)
        try:
            parse(config[field])
        except ValueError as err:
            raise CheckpointError(f"{check.where}: config.{field}: {err}") from None
    check.choice("config.dtype", config["dtype"], DTYPES)
    optimizer = check.choice("config.optimizer", config["optimizer"], OPTIMIZERS)
    momentum = check.number("config.momentum", config["momentum"], 0, 1, none=True,
                            high_open=True)
    if momentum is not None and optimizer not in ("sgd", "rmsprop"):
        check.fail("config.momentum", f"None for {optimizer} (momentum is for sgd and rmsprop)",
                   momentum)
    check.number("config.weight_decay", config["weight_decay"], 0)
    check.int("config.batch_size", config["batch_size"], 1, LIMITS["batch_size"])


_TRAIN_FIELDS = ("source", "function", "range", "samples", "noise", "csv", "csv_sha256",
                 "target", "features", "loss", "val_fraction", "standardize", "hidden",
                 "activation", "init", "dtype", "optimizer", "lr", "momentum", "weight_decay",
                 "scheduler", "epochs", "batch_size", "seed", "clip_value", "clip_norm",
                 "normalize_grad", "patience")
_SEED_FIELDS = ("samples", "val_fraction", "hidden", "epochs", "lr", "batch_size", "clip_value",
                "clip_norm", "normalize_grad", "seed", "dtype", "activation", "init",
                "optimizer", "momentum", "weight_decay", "scheduler", "patience",
                "compare_torch")


def _require(check, config, fields) -> None:
    for name in fields:
        if name not in config:
            check.fail(f"config.{name}", "present in the run's settings")


def _check_train_config(check, config) -> list:
    _require(check, config, _TRAIN_FIELDS)
    source = check.choice("config.source", config["source"], ("function", "csv", "images"))
    if source == "images":
        _check_image_config(check, config)
    elif source == "function":
        check.str("config.function", config["function"], limit=LIMITS["function"])
        if config["range"] is not None:
            low_high = config["range"]
            if not (isinstance(low_high, (list, tuple)) and len(low_high) == 2
                    and all(_finite(v) for v in low_high) and low_high[0] < low_high[1]):
                check.fail("config.range", "None or [LOW, HIGH], finite with LOW < HIGH",
                           low_high)
        check.int("config.samples", config["samples"], 2, LIMITS["samples"])
        check.number("config.noise", config["noise"], 0)
    else:
        check.str("config.csv", config["csv"], limit=4096)
        sha = check.str("config.csv_sha256", config["csv_sha256"], limit=64)
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            check.fail("config.csv_sha256", "64 hexadecimal digits", sha)
        check.str("config.target", config["target"], limit=10_000)
        features = config["features"]
        if features is not None and (
                not isinstance(features, (list, tuple)) or not features
                or len(features) > LIMITS["features"]
                or not all(isinstance(name, str) for name in features)):
            check.fail("config.features", "None or a non-empty list of column names", features)
    check.choice("config.loss", config["loss"], LOSS_NAMES)
    check.number("config.val_fraction", config["val_fraction"], 0, 1, high_open=True)
    check.bool("config.standardize", config["standardize"])
    if "standardize_target" in config:
        check.bool("config.standardize_target", config["standardize_target"])
    check.number("config.lr", config["lr"], 0, none=True, low_open=True)
    if config.get("command", "train") != "train":
        check.fail("config.command", "'train' (or absent)", config["command"])
    return _check_hidden(check, "config.hidden", config["hidden"], allow_int=False)


def _check_image_config(check, config) -> None:
    _require(check, config, ("images", "images_sha256", "model", "channels", "kernel_size",
                             "batch_norm"))
    check.str("config.images", config["images"], limit=4096)
    sha = config["images_sha256"]
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        check.fail("config.images_sha256", "None (digits) or 64 hexadecimal digits", sha)
    model = check.choice("config.model", config["model"], ("cnn", "mlp"))
    if model == "mlp":
        for name in ("channels", "kernel_size", "batch_norm"):
            if config[name] is not None:
                check.fail(f"config.{name}", "None for --model mlp", config[name])
        return
    channels = config["channels"]
    if not isinstance(channels, (list, tuple)) or not 1 <= len(channels) <= LIMITS["layers"]:
        check.fail("config.channels", f"a list of 1 to {LIMITS['layers']} channel counts",
                   channels)
    for i, count in enumerate(channels):
        check.int(f"config.channels[{i}]", count, 1, LIMITS["layer_size"])
    kernel = check.int("config.kernel_size", config["kernel_size"], 1, LIMITS["kernel_size"])
    if kernel % 2 == 0:
        check.fail("config.kernel_size", "an odd number (padded to keep the image size)", kernel)
    check.bool("config.batch_norm", config["batch_norm"])


def _check_image_data(check, data, config) -> tuple:
    """(image_shape, out_features) of an image run, from its data record."""
    keys = ("source", "image_shape", "target", "task", "classes", "class_names", "loss", "dtype",
            "channel_standardizer", "standardizer", "target_standardizer")
    check.dict("data", data, keys)
    if data["source"] != "images":
        check.fail("data.source", "'images' (the source of config)", data["source"])
    shape = data["image_shape"]
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3
            and all(_is_int(n) and 1 <= n <= LIMITS["image_side"] for n in shape)):
        check.fail("data.image_shape", f"[C, H, W], each an int in [1, {LIMITS['image_side']}]",
                   shape)
    if data["standardizer"] is not None:
        check.fail("data.standardizer", "None for an image run", data["standardizer"])
    tabular = {**data, "features": [f"pixel {i}" for i in range(1)],
               "standardizer": data["channel_standardizer"]}
    _, out_features = _check_train_data_record(check, tabular, config, standardizer_size=shape[0],
                                               standardizer_key="channel_standardizer")
    return tuple(int(n) for n in shape), out_features


def _check_seed_config(check, config) -> list:
    _require(check, config, _SEED_FIELDS)
    samples = check.int("config.samples", config["samples"], 10, LIMITS["samples"])
    fraction = check.number("config.val_fraction", config["val_fraction"], 0, 1, low_open=True,
                            high_open=True)
    n_val = int(math.floor(samples * fraction + 0.5))
    if not 1 <= n_val <= samples - 1:
        check.fail("config.val_fraction", f"a share that leaves rows for training and for "
                   f"validation of the {samples} samples", fraction)
    check.number("config.lr", config["lr"], 0, low_open=True)
    check.bool("config.compare_torch", config["compare_torch"])
    return _check_hidden(check, "config.hidden", config["hidden"], allow_int=True)


def _check_train_data(check, data, config) -> tuple:
    """(in_features, out_features) of the network, from the data record."""
    keys = ("features", "target", "task", "classes", "loss", "dtype", "class_names",
            "standardizer", "target_standardizer")
    check.dict("data", data, keys)
    return _check_train_data_record(check, data, config)


def _check_train_data_record(check, data, config, standardizer_size=None,
                             standardizer_key="standardizer") -> tuple:
    features = data["features"]
    if not isinstance(features, (list, tuple)) or not features \
            or len(features) > LIMITS["features"] \
            or not all(isinstance(name, str) for name in features):
        check.fail("data.features", f"a list of 1 to {LIMITS['features']} column names",
                   features)
    check.str("data.target", data["target"])
    if data["loss"] != config["loss"]:
        check.fail("data.loss", f"the loss of config ({config['loss']!r})", data["loss"])
    task = _TASKS[config["loss"]]
    if data["task"] != task:
        check.fail("data.task", f"{task!r} (the task of the loss {config['loss']})", data["task"])
    if data["dtype"] != config["dtype"]:
        check.fail("data.dtype", f"the dtype of config ({config['dtype']!r})", data["dtype"])
    classes = data["classes"]
    if task == "classification":
        classes = check.int("data.classes", classes, 2, LIMITS["classes"])
        names = data["class_names"]
        if names is not None and (not isinstance(names, (list, tuple)) or len(names) != classes
                                  or not all(isinstance(n, str) for n in names)
                                  or len(set(names)) != classes):
            check.fail("data.class_names", f"None or {classes} distinct strings", names)
    else:
        if classes is not None:
            check.fail("data.classes", f"None for a {task} run", classes)
        if data["class_names"] is not None:
            check.fail("data.class_names", f"None for a {task} run", data["class_names"])
    input_size = len(features) if standardizer_size is None else standardizer_size
    for key, record_key, size in (("standardizer", standardizer_key, input_size),
                                  ("target_standardizer", "target_standardizer", 1)):
        scaler = data[key]
        if scaler is None:
            continue
        if key == "target_standardizer" and task != "regression":
            check.fail(f"data.{record_key}", f"None for a {task} run", scaler)
        check.dict(f"data.{record_key}", scaler, ("mean", "std"))
        mean = check.array(f"data.{record_key}.mean", scaler["mean"], (size,))
        std = check.array(f"data.{record_key}.std", scaler["std"], (size,))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            check.fail(f"data.{record_key}", "finite means and finite stds > 0", scaler)
    return len(features), classes if task == "classification" else 1


def _check_run_optimizer(check, optimizer, config, model) -> None:
    name = config["optimizer"]
    options = _GROUP[name]
    groups = optimizer["param_groups"]
    if len(groups) != 1:
        check.fail("optimizer.param_groups", "one group (a run trains all its parameters alike)",
                   groups)
    group = groups[0]
    field = "optimizer.param_groups[0]"
    check.dict(field, group, ("params", *options), ("initial_lr",))
    parameters = _parameters(model)
    if [int(i) for i in group["params"]] != list(range(len(parameters))):
        check.fail(f"{field}.params", f"the indices 0 to {len(parameters) - 1} of the model's "
                   "parameters", group["params"])
    for option, kind in {**options, "initial_lr": "rate"}.items():
        if option in group:
            _option(check, f"{field}.{option}", group[option], kind)
    needed = _buffers(name, group)
    shapes = [model[name].shape for name in parameters]
    for key, buffers in optimizer["state"].items():
        index = _state_index(check, key)
        where = f"optimizer.state[{key!r}]"
        if set(buffers) != needed:
            check.fail(where, f"the buffers {', '.join(sorted(needed))} of {name}",
                       buffers)
        for buffer, value in buffers.items():
            if buffer == "step":
                check.int(f"{where}['step']", value, 0, 2**62)
            else:
                check.array(f"{where}[{buffer!r}]", value, shapes[index])


def _buffers(name: str, group: dict) -> set:
    """The per-parameter buffers the optimizer ``name`` keeps with the options of ``group``."""
    if name == "sgd":
        return {"momentum_buffer"} if group["momentum"] > 0 else set()
    if name in ("adam", "adamw"):
        return {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group["amsgrad"]
                                                    else set())
    if name == "rmsprop":
        return ({"step", "square_avg"} | ({"momentum_buffer"} if group["momentum"] > 0 else set())
                | ({"grad_avg"} if group["centered"] else set()))
    return {"step", "sum"}  # adagrad


def _option(check, field, value, kind) -> None:
    if kind == "rate":
        check.number(field, value, 0)
    elif kind == "fraction":
        check.number(field, value, 0, 1, high_open=True)
    elif kind == "closed fraction":
        check.number(field, value, 0, 1)
    elif kind == "bool":
        check.bool(field, value)
    elif kind == "betas":
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(_finite(b) and 0 <= b < 1 for b in value)):
            check.fail(field, "two numbers in [0, 1)", value)


def _check_run_scheduler(check, state, config) -> None:
    kind, _ = parse_scheduler(config["scheduler"])
    if kind == "none":
        if state is not None:
            check.fail("scheduler", "None for config.scheduler 'none'", state)
        return
    if state is None:
        return  # (a run saved before its schedule existed starts the schedule afresh)
    fields = _SCHEDULER[kind]
    check.dict("scheduler", state, tuple(fields))
    for name, spec in fields.items():
        field, value = f"scheduler.{name}", state[name]
        if isinstance(spec, tuple):
            check.choice(field, value, spec)
        elif spec == "bool":
            check.bool(field, value)
        elif spec.startswith("int>="):
            check.int(field, value, int(spec[5:]), 2**62)
        elif spec == "positive":
            check.number(field, value, 0, low_open=True)
        elif spec == "rate":
            check.number(field, value, 0)
        elif spec == "number":
            check.number(field, value, finite=False)
        elif spec == "fraction":
            check.number(field, value, 0, 1, low_open=True, high_open=True)
        elif spec == "lrs":
            if not (isinstance(value, (list, tuple)) and len(value) == 1
                    and _finite(value[0]) and value[0] >= 0):
                check.fail(field, "a list of one learning rate >= 0", value)
