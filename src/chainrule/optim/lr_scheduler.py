"""Learning-rate schedules: change each parameter group's ``lr`` as training goes on.

Use them as in PyTorch: build the scheduler after the optimizer (its constructor already sets the
lr of step 0), and call ``scheduler.step()`` once per epoch, after ``optimizer.step()``::

    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)    # calls optimizer.step() for every batch
        scheduler.step()                     # ReduceLROnPlateau: scheduler.step(val_loss)

``last_epoch`` counts the ``step()`` calls (0 after construction) and ``get_last_lr()`` returns the
lr of every group as last set. Like PyTorch's, most schedules here are recursive: each step
multiplies the group's current lr, so two schedulers on one optimizer compose. ``state_dict()``
holds plain numbers, strings, lists and dicts only (functions such as LambdaLR's lr_lambda and
CyclicLR's scale_fn are left out: pass the same ones when you rebuild the scheduler).

The schedules, by kind:

    step-wise decay     StepLR, MultiStepLR, ExponentialLR
    smooth decay        CosineAnnealingLR, PolynomialLR, LinearLR (also a warm-up), LambdaLR
    on a metric         ReduceLROnPlateau (step(val_loss))
    per batch, cyclic   CyclicLR, OneCycleLR (they move the momentum the other way)
    combinations        SequentialLR (one after another), ChainedScheduler (all at once)

Not carried over from PyTorch: the deprecated ``step(epoch)`` argument and the warning when
``scheduler.step()`` comes before ``optimizer.step()``.
"""

from __future__ import annotations

import bisect
import copy
import math

from .optimizer import Optimizer, check_bool, check_choice, check_in_range

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LambdaLR",
    "ReduceLROnPlateau",
    "LinearLR",
    "PolynomialLR",
    "SequentialLR",
    "ChainedScheduler",
    "CyclicLR",
    "OneCycleLR",
]


def _current_lrs(optimizer) -> list:
    return [group["lr"] for group in optimizer.param_groups]


def _check_optimizer(owner, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner} needs an Optimizer (such as optim.SGD) to schedule. Got "
            f"{type(optimizer).__name__} instead."
        )


class LRScheduler:
    """Base class: subclasses say in ``get_lr()`` what every group's lr becomes at ``last_epoch``.

    The constructor records each group's starting lr as ``group["initial_lr"]`` (also kept in
    ``base_lrs``) and performs the first step, which sets ``last_epoch = 0``. Each ``step()`` then
    adds one to ``last_epoch`` and writes ``get_lr()`` into the groups.

    To resume from a checkpoint, either pass ``last_epoch`` (the groups must then hold
    ``"initial_lr"``, as a loaded optimizer state does) or build the scheduler as new and call
    ``load_state_dict``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            check_in_range(type(self).__name__, "last_epoch", last_epoch, -1, integer=True)
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{type(self).__name__}: resuming with last_epoch={last_epoch} needs "
                        f"'initial_lr' in param_groups[{i}]; load the optimizer's state_dict "
                        "first, or leave last_epoch at -1."
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step the constructor performs; it keeps a resumed lr as it is."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """Every group's lr at ``last_epoch`` (called by ``step``; read ``get_last_lr()``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr().")

    def get_last_lr(self) -> list:
        """The lr of every parameter group, as the last step set it."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set every group's lr. Call it after ``optimizer.step()``."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch=None) -> None:
        """Set every group's lr for the next epoch, or (``epoch`` given, as SequentialLR does when
        it hands over to the next schedule) for that epoch, by the closed form where there is one."""
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            lrs = closed_form() if closed_form is not None else self.get_lr()
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):  # groups added after the scheduler was made
            raise ValueError(
                f"{type(self).__name__}: the optimizer has {len(groups)} parameter groups, but the "
                f"scheduler has a learning rate for {len(lrs)}: it was made before "
                "add_param_group(). Make the scheduler after adding every group."
            )
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        self._last_lr = _current_lrs(self.optimizer)

    _not_saved = ("optimizer", "lr_lambdas")  # the optimizer, and functions (not plain data)

    def state_dict(self) -> dict:
        """Everything the scheduler knows, as plain numbers and lists (not the optimizer)."""
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._not_saved
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``."""
        self.__dict__.update(
            (key, copy.deepcopy(value))
            for key, value in state_dict.items()
            if key not in self._not_saved
        )


class StepLR(LRScheduler):
    """Multiply every group's lr by ``gamma`` every ``step_size`` epochs.

        lr(epoch) = lr(epoch - 1) * gamma   if epoch is a positive multiple of step_size
        lr(epoch) = lr(epoch - 1)           otherwise

    which from a fixed start is lr(epoch) = initial_lr * gamma^(epoch // step_size).
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_in_range("StepLR", "step_size", step_size, 1, integer=True)
        self.gamma = check_in_range("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _current_lrs(self.optimizer)
        return [lr * self.gamma for lr in _current_lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply every group's lr by ``gamma`` when the epoch reaches each of ``milestones``.

        lr(epoch) = lr(epoch - 1) * gamma^k   where k = how often epoch appears in milestones

    which from a fixed start is initial_lr * gamma^(number of milestones <= epoch).
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = sorted(
            check_in_range("MultiStepLR", "milestones", m, 0, integer=True) for m in milestones
        )
        self.gamma = check_in_range("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        times = self.milestones.count(self.last_epoch)
        if times == 0:
            return _current_lrs(self.optimizer)
        return [lr * self.gamma**times for lr in _current_lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; milestones may also come as PyTorch keeps them, a mapping
        {milestone: how many times it appears} (a Counter)."""
        super().load_state_dict(state_dict)
        if isinstance(self.milestones, dict):
            self.milestones = sorted(m for m, times in self.milestones.items()
                                     for _ in range(times))


class ExponentialLR(LRScheduler):
    """Multiply every group's lr by ``gamma`` every epoch: lr(epoch) = lr(epoch - 1) * gamma,
    which from a fixed start is initial_lr * gamma^epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_in_range("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _current_lrs(self.optimizer)
        return [lr * self.gamma for lr in _current_lrs(self.optimizer)]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal every group's lr from its initial value to ``eta_min`` along half a cosine over
    ``T_max`` epochs (the schedule of SGDR, Loshchilov & Hutter, 2017, without the restarts):

        lr(t) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    Like PyTorch, it is computed recursively from the current lr, so it composes with other
    changes to the lr:

        lr(t) = eta_min + (lr(t-1) - eta_min) * (1 + cos(pi * t / T_max)) / (1 + cos(pi * (t-1) / T_max))

    Where that ratio is 0/0 (the epoch after each minimum, t - 1 = T_max, 3 T_max, ...) it adds
    the closed form's difference instead:

        lr(t) = lr(t-1) + (initial_lr - eta_min) * (1 - cos(pi / T_max)) / 2

    Past T_max the lr climbs back along the cosine (a period of 2 T_max); it does not restart.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = check_in_range("CosineAnnealingLR", "T_max", T_max, 1, integer=True)
        self.eta_min = check_in_range("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        lrs = _current_lrs(self.optimizer)
        if self._is_initial:
            return lrs
        if self._step_count == 1 and t > 0:  # resumed at epoch t: the closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T_max)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - T_max) % (2 * T_max) == 0:  # just after a minimum: 0/0 in the ratio
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                    for lr, base_lr in zip(lrs, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T_max)) / (1 + math.cos(math.pi * (t - 1) / T_max))
        return [ratio * (lr - eta_min) + eta_min for lr in lrs]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """Set every group's lr to its initial lr times a function of the epoch:

        lr(epoch) = initial_lr * lr_lambda(epoch)

    ``lr_lambda`` is one function for all groups or a list with one per group, e.g. a linear
    warm-up ``lambda epoch: min(1.0, (epoch + 1) / 5)``. The functions are not part of
    ``state_dict()``: pass the same ones when you rebuild the scheduler.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(
                    f"LambdaLR: the optimizer has {groups} parameter groups, so lr_lambda must "
                    f"be one function or a list of {groups}. Got a list of {len(lr_lambda)} "
                    "instead."
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(
                    f"LambdaLR: lr_lambda must be a function of the epoch. Got "
                    f"{type(fn).__name__} instead."
                )
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class ReduceLROnPlateau(LRScheduler):
    """Multiply every group's lr by ``factor`` when a metric (say the validation loss) has stopped
    improving for more than ``patience`` epochs. Call ``scheduler.step(metric)`` once per epoch.

    At each step, with best the best metric so far (it starts at +inf, or -inf for mode 'max'):

        improved = metric < best * (1 - threshold)     mode 'min', threshold_mode 'rel'
                   metric < best - threshold           mode 'min', threshold_mode 'abs'
                   metric > best * (1 + threshold)     mode 'max', threshold_mode 'rel'
                   metric > best + threshold           mode 'max', threshold_mode 'abs'
        if improved: best = metric, bad_epochs = 0
        else:        bad_epochs = bad_epochs + 1
        if in cooldown (cooldown_counter > 0): cooldown_counter -= 1, bad_epochs = 0
        if bad_epochs > patience:
            for each group: new_lr = max(lr * factor, min_lr)
                            lr = new_lr   if lr - new_lr > eps   (skip changes smaller than eps)
            cooldown_counter = cooldown, bad_epochs = 0

    Args:
        optimizer: the optimizer whose lrs to reduce.
        mode: 'min' (the metric should fall, default) or 'max' (it should rise).
        factor: in [0, 1), the lr is multiplied by it (default 0.1).
        patience: epochs without improvement tolerated before reducing (default 10).
        threshold: how much better counts as an improvement, >= 0 (default 1e-4).
        threshold_mode: 'rel' (a fraction of best, default) or 'abs'.
        cooldown: epochs to wait after a reduction before counting bad epochs again (default 0).
        min_lr: a lower bound on the lr, >= 0, one for all groups or a list (default 0).
        eps: >= 0, a reduction smaller than this is skipped (default 1e-8).
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        self.mode = check_choice(name, "mode", mode, ("min", "max"))
        self.factor = check_in_range(name, "factor", factor, 0, 1)
        self.patience = check_in_range(name, "patience", patience, 0, integer=True)
        self.threshold = check_in_range(name, "threshold", threshold)
        self.threshold_mode = check_choice(name, "threshold_mode", threshold_mode,
                                           ("rel", "abs"))
        self.cooldown = check_in_range(name, "cooldown", cooldown, 0, integer=True)
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(
                    f"ReduceLROnPlateau: the optimizer has {groups} parameter groups, so min_lr "
                    f"must be one number or a list of {groups}. Got a list of {len(min_lr)} "
                    "instead."
                )
            self.min_lrs = [check_in_range(name, "min_lr", m) for m in min_lr]
            self.default_min_lr = None
        else:
            self.default_min_lr = check_in_range(name, "min_lr", min_lr)
            self.min_lrs = [self.default_min_lr] * groups
        self.eps = check_in_range(name, "eps", eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = _current_lrs(optimizer)

    def is_better(self, metric, best) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - self.threshold)
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (self.threshold + 1.0)
        return metric > best + self.threshold

    def step(self, metrics) -> None:
        """Record one epoch's metric (a number or a one-element Tensor) and reduce the lr if due."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        groups = len(self.optimizer.param_groups)
        if len(self.min_lrs) != groups:  # groups added since: one min_lr fits all, a list does not
            if getattr(self, "default_min_lr", None) is None:  # (None in old state dicts too)
                raise ValueError(
                    f"ReduceLROnPlateau: the optimizer now has {groups} parameter groups, but "
                    f"min_lr is a list of {len(self.min_lrs)}. Make the scheduler after adding "
                    "every group, or give one min_lr for all."
                )
            self.min_lrs = [self.default_min_lr] * groups
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _current_lrs(self.optimizer)


# --------------------------------------------------------------------------------------------
# Warm-up and decay to a fixed end: LinearLR, PolynomialLR
# --------------------------------------------------------------------------------------------


class LinearLR(LRScheduler):
    """Scale every group's lr by a factor that moves linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs, then stays (a linear warm-up by default):

        factor(epoch) = start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters
        lr(epoch)     = initial_lr * factor(epoch)

    Like PyTorch, it is computed recursively, multiplying the current lr by factor(epoch) /
    factor(epoch - 1), so it composes with other schedules (in ChainedScheduler, say).

    Args:
        optimizer: the optimizer whose lrs to schedule.
        start_factor: in (0, 1], the factor at epoch 0 (default 1/3).
        end_factor: in [0, 1], the factor from epoch total_iters on (default 1).
        total_iters: >= 1, the number of epochs the change takes (default 5).
        last_epoch: the epoch to resume from (default -1, a new schedule).
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        name = "LinearLR"
        self.start_factor = check_in_range(name, "start_factor", start_factor, 0, 1,
                                           low_closed=False, high_closed=True)
        self.end_factor = check_in_range(name, "end_factor", end_factor, 0, 1, high_closed=True)
        self.total_iters = check_in_range(name, "total_iters", total_iters, 1, integer=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = _current_lrs(self.optimizer)
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        change = self.end_factor - self.start_factor
        # factor(t) / factor(t - 1), with factor(t) = start + change * t / total_iters
        ratio = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in lrs]

    def _get_closed_form_lr(self):
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)
                for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay every group's lr to 0 along a polynomial over ``total_iters`` epochs, then keep 0:

        lr(epoch) = initial_lr * (1 - min(epoch, total_iters) / total_iters)^power

    power 1 (the default) is a straight line to 0; power 2 falls fast and flattens near the end.
    Computed recursively, as PyTorch does: lr(epoch) = lr(epoch - 1) * ((1 - epoch / total_iters) /
    (1 - (epoch - 1) / total_iters))^power.

    Args:
        optimizer: the optimizer whose lrs to schedule.
        total_iters: >= 1, the epoch at which the lr reaches 0 (default 5).
        power: >= 0, the exponent (default 1.0).
        last_epoch: the epoch to resume from (default -1, a new schedule).
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = check_in_range("PolynomialLR", "total_iters", total_iters, 1,
                                          integer=True)
        self.power = check_in_range("PolynomialLR", "power", power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = _current_lrs(self.optimizer)
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        t, total = self.last_epoch, self.total_iters
        decay = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return [lr * decay for lr in lrs]

    def _get_closed_form_lr(self):
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * left**self.power for base_lr in self.base_lrs]


# --------------------------------------------------------------------------------------------
# Schedules of schedules: SequentialLR, ChainedScheduler
# --------------------------------------------------------------------------------------------


def _check_schedulers(owner, schedulers, optimizer) -> list:
    """The schedulers as a list, after checking each is a stepped-without-arguments scheduler of
    ``optimizer``."""
    if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, (list, tuple)):
        raise TypeError(
            f"{owner} needs a list of schedulers. Got {type(schedulers).__name__} instead."
        )
    if not schedulers:
        raise ValueError(f"{owner} needs at least one scheduler. Got an empty list instead.")
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(
                f"{owner}: schedulers[{i}] must be an lr scheduler. Got "
                f"{type(scheduler).__name__} instead."
            )
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} cannot hold a ReduceLROnPlateau (schedulers[{i}]): it steps with a "
                "metric, step(val_loss), and the others without. Step it on its own."
            )
        if scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{owner}: schedulers[{i}] ({type(scheduler).__name__}) schedules another "
                "optimizer; all the schedulers must belong to the same one."
            )
    return list(schedulers)


class _ScheduleOfSchedules(LRScheduler):
    """What SequentialLR and ChainedScheduler share: their state includes their schedulers'."""

    _not_saved = ("optimizer", "_schedulers")

    def state_dict(self) -> dict:
        """Its own state, with every inner scheduler's state_dict() under ``"_schedulers"``."""
        state = super().state_dict()
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``, the inner schedulers' states included."""
        super().load_state_dict(state_dict)
        for scheduler, state in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(state)


class SequentialLR(_ScheduleOfSchedules):
    """Run several schedules one after the other, handing over at the ``milestones`` epochs:
    ``schedulers[0]`` for epochs 0 .. milestones[0] - 1, ``schedulers[1]`` from milestones[0], ...
    A linear warm-up, then cosine decay::

        warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(optimizer, T_max=95)
        scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])

    At each step, with i = how many milestones are <= epoch:

        if epoch is one of the milestones:  schedulers[i] starts again at its epoch 0 (its lr at
                                            epoch 0, from its closed form where it has one)
        otherwise:                          schedulers[i].step()

    Building the schedulers already stepped them once each; the constructor undoes that, puts
    every group's lr back to its initial lr and starts only ``schedulers[0]``, as PyTorch does.
    Each handed-over schedule carries on from the lr the previous one left, so a recursive
    schedule (ExponentialLR) continues from where the last one ended.

    Args:
        optimizer: the optimizer all the schedulers belong to.
        schedulers: the schedules, in order (not ReduceLROnPlateau).
        milestones: one fewer epochs than schedulers, where each next one takes over.
        last_epoch: the epoch to resume from (default -1).
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer("SequentialLR", optimizer)
        schedulers = _check_schedulers("SequentialLR", schedulers, optimizer)
        milestones = [check_in_range("SequentialLR", "milestones", m, 0, integer=True)
                      for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR needs one milestone fewer than schedulers: {len(schedulers)} "
                f"schedulers take over at {len(schedulers) - 1} milestones. Got "
                f"{len(milestones)} milestones instead."
            )
        check_in_range("SequentialLR", "last_epoch", last_epoch, -1, integer=True)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @classmethod
    def _undo_initial_steps(cls, scheduler) -> None:
        """Take one epoch back from every scheduler inside (the step their constructors made)."""
        inner = getattr(scheduler, "_schedulers", None)
        if inner is not None:
            for each in inner:
                cls._undo_initial_steps(each)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:
        """Advance one epoch: step the current schedule, or start the next at a milestone."""
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_ScheduleOfSchedules):
    """Step several schedules together, each one acting on the lr the one before it left: at
    every ``step()``, ``schedulers[0].step()``, then ``schedulers[1].step()``, and so on.

    Recursive schedules compose this way: ``ChainedScheduler([LinearLR(opt, 0.1, total_iters=5),
    ExponentialLR(opt, gamma=0.95)])`` warms up while it decays. (A schedule that sets the lr from
    a closed form, as LambdaLR does, overrides the ones before it.)

    Args:
        schedulers: the schedules (not ReduceLROnPlateau), all of one optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    def __init__(self, schedulers, optimizer=None):
        if optimizer is None and isinstance(schedulers, (list, tuple)) and schedulers \
                and isinstance(schedulers[0], LRScheduler):
            optimizer = schedulers[0].optimizer
        if optimizer is not None:
            _check_optimizer("ChainedScheduler", optimizer)
        self._schedulers = _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = _current_lrs(optimizer)

    def step(self) -> None:
        """Step every schedule once, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _current_lrs(self.optimizer)


# --------------------------------------------------------------------------------------------
# Cyclical schedules: CyclicLR, OneCycleLR (they cycle the momentum too)
# --------------------------------------------------------------------------------------------


def _per_group(owner, name, value, optimizer, low=0.0, high=math.inf, high_closed=False) -> list:
    """One number per parameter group, from one number or a list of one per group."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(
                f"{owner}: the optimizer has {groups} parameter groups, so {name} must be one "
                f"number or a list of {groups}. Got a list of {len(value)} instead."
            )
        return [check_in_range(owner, name, v, low, high, high_closed=high_closed) for v in value]
    return [check_in_range(owner, name, value, low, high, high_closed=high_closed)] * groups


def _momentum_key(owner, optimizer) -> str:
    """'momentum' for optimizers with one (SGD, RMSprop), 'betas' for the Adam family (whose
    beta1 is cycled instead); ValueError for an optimizer with neither."""
    if "betas" in optimizer.defaults:
        return "betas"
    if "momentum" in optimizer.defaults:
        return "momentum"
    raise ValueError(
        f"{owner}: cycle_momentum=True needs an optimizer with a 'momentum' or 'betas' option; "
        f"{type(optimizer).__name__} has neither. Pass cycle_momentum=False."
    )


def _set_momentum(group, key, momentum) -> None:
    if key == "betas":
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CyclicLR(LRScheduler):
    """Cycle every group's lr between ``base_lr`` and ``max_lr`` (Smith, 2017, "Cyclical Learning
    Rates for Training Neural Networks"), with the momentum cycling the opposite way. Step it
    after every batch, not every epoch.

    A cycle is ``step_size_up`` steps up and ``step_size_down`` (default: the same) steps down.
    At step n, with total = step_size_up + step_size_down:

        cycle = floor(1 + n / total)                   (1 for the first cycle)
        x     = 1 + n / total - cycle                  (the position in the cycle, in [0, 1))
        rise  = x / ratio               if x <= ratio  (ratio = step_size_up / total)
                (x - 1) / (ratio - 1)   otherwise      (0 at the cycle's ends, 1 at its peak)
        lr       = base_lr + (max_lr - base_lr) * rise * scale
        momentum = max_momentum - (max_momentum - base_momentum) * rise * scale   (cycle_momentum)

    where scale, by ``mode``:
        'triangular':  1                               (the same triangle every cycle)
        'triangular2': 1 / 2^(cycle - 1)               (the height halves every cycle)
        'exp_range':   gamma^n                         (the height decays every step)
    or ``scale_fn(cycle)`` / ``scale_fn(n)`` for your own function with ``scale_mode`` 'cycle' /
    'iterations' (then ``mode`` is not used). The momentum is the group's ``momentum`` (SGD,
    RMSprop) or beta1 of its ``betas`` (Adam and family). The constructor sets every group's lr
    to base_lr; the schedule is not recursive, so it overrides other schedules.

    Args:
        optimizer: the optimizer whose lrs to schedule.
        base_lr: >= 0, the lower lr, one for all groups or a list of one per group.
        max_lr: >= 0, the upper lr, likewise.
        step_size_up: >= 1, steps in the rising half (default 2000).
        step_size_down: >= 1, steps in the falling half (default None: step_size_up).
        mode: 'triangular' (default), 'triangular2' or 'exp_range'.
        gamma: > 0, the decay of 'exp_range' (default 1.0).
        scale_fn: your own function of the cycle or the step, returning a scale (default None).
        scale_mode: 'cycle' (default) or 'iterations', what scale_fn receives.
        cycle_momentum: cycle the momentum too (default True).
        base_momentum: in [0, 1], the momentum at the lr's peak (default 0.8).
        max_momentum: in [0, 1], the momentum at the cycle's ends (default 0.9).
        last_epoch: the step to resume from (default -1).
    """

    _not_saved = ("optimizer", "_scale_fn_custom")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        name = "CyclicLR"
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group(name, "base_lr", base_lr, optimizer)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        step_size_up = float(check_in_range(name, "step_size_up", step_size_up, 1, integer=True))
        step_size_down = step_size_up if step_size_down is None else float(
            check_in_range(name, "step_size_down", step_size_down, 1, integer=True))
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(
                f"CyclicLR: scale_fn must be a function of the cycle or the step. Got "
                f"{type(scale_fn).__name__} instead."
            )
        if scale_fn is None:  # (with your own scale_fn the mode is not used, as in PyTorch)
            check_choice(name, "mode", mode, ("triangular", "triangular2", "exp_range"))
        self.mode = mode
        self.gamma = check_in_range(name, "gamma", gamma, 0, low_closed=False)
        self._scale_fn_custom = scale_fn
        self.scale_mode = check_choice(name, "scale_mode", scale_mode, ("cycle", "iterations"))
        if scale_fn is None:  # the built-in modes fix what their scale depends on
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"
        self.cycle_momentum = check_bool(name, "cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = _momentum_key(name, optimizer) == "betas"
            self.base_momentums = _per_group(name, "base_momentum", base_momentum, optimizer, 0, 1,
                                             high_closed=True)
            self.max_momentums = _per_group(name, "max_momentum", max_momentum, optimizer, 0, 1,
                                            high_closed=True)
            if last_epoch == -1:
                for low, high, group in zip(self.base_momentums, self.max_momentums,
                                            optimizer.param_groups):
                    _set_momentum(group, "betas" if self.use_beta1 else "momentum", high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x) -> float:
        """The height's scale at cycle x ('cycle' scale mode) or step x ('iterations')."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * rise * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            key = "betas" if self.use_beta1 else "momentum"
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums,
                                        self.max_momentums):
                _set_momentum(group, key, high - (high - low) * rise * scale)
        return lrs


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2019, "Super-Convergence"): the lr rises from
    max_lr / div_factor to ``max_lr``, then falls far below where it started, over
    ``total_steps`` steps in all; the momentum moves the opposite way. Step it after every batch.

    The phases (a step n in a phase from step a to step b is at pct = (n - a) / (b - a)):

        two phases (default):
            0 .. pct_start * total_steps - 1:   lr initial_lr -> max_lr, momentum max -> base
            ... total_steps - 1:                lr max_lr -> min_lr,     momentum base -> max
        three_phase=True (the paper's version):
            0 .. pct_start * total_steps - 1:         lr initial_lr -> max_lr,  momentum max -> base
            ... 2 * pct_start * total_steps - 2:      lr max_lr -> initial_lr,  momentum base -> max
            ... total_steps - 1:                      lr initial_lr -> min_lr,  momentum max

        initial_lr = max_lr / div_factor,  min_lr = initial_lr / final_div_factor

    and within a phase from start to end, by ``anneal_strategy``:

        'cos':     value = end + (start - end) * (1 + cos(pi * pct)) / 2
        'linear':  value = start + (end - start) * pct

    The momentum is the group's ``momentum`` (SGD, RMSprop) or beta1 of its ``betas`` (Adam and
    family). Stepping more than total_steps times is an error, as in PyTorch. The constructor
    writes ``initial_lr``, ``max_lr`` and ``min_lr`` (and ``max_momentum``, ``base_momentum``)
    into every group; the schedule is not recursive, so it overrides other schedules.

    Args:
        optimizer: the optimizer whose lrs to schedule.
        max_lr: >= 0, the peak lr, one for all groups or a list of one per group.
        total_steps: >= 1, the steps in the cycle; or give epochs and steps_per_epoch.
        epochs, steps_per_epoch: >= 1 each, total_steps = epochs * steps_per_epoch.
        pct_start: in [0, 1], the fraction of the steps spent rising (default 0.3).
        anneal_strategy: 'cos' (default) or 'linear'.
        cycle_momentum: cycle the momentum too (default True).
        base_momentum: in [0, 1], the momentum at the lr's peak (default 0.85).
        max_momentum: in [0, 1], the momentum at the start and end (default 0.95).
        div_factor: > 0, initial_lr = max_lr / div_factor (default 25).
        final_div_factor: > 0, min_lr = initial_lr / final_div_factor (default 1e4).
        three_phase: use the three-phase schedule (default False).
        last_epoch: the step to resume from (default -1).
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            self.total_steps = check_in_range(name, "total_steps", total_steps, 1, integer=True)
        elif epochs is not None and steps_per_epoch is not None:
            epochs = check_in_range(name, "epochs", epochs, 1, integer=True)
            steps_per_epoch = check_in_range(name, "steps_per_epoch", steps_per_epoch, 1,
                                             integer=True)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(
                "OneCycleLR needs the length of the cycle: total_steps, or both epochs and "
                "steps_per_epoch (total_steps = epochs * steps_per_epoch)."
            )
        pct_start = check_in_range(name, "pct_start", pct_start, 0, 1, high_closed=True)
        self._anneal_func_type = check_choice(name, "anneal_strategy", anneal_strategy,
                                              ("cos", "linear"))
        div_factor = check_in_range(name, "div_factor", div_factor, 0, low_closed=False)
        final_div_factor = check_in_range(name, "final_div_factor", final_div_factor, 0,
                                          low_closed=False)
        three_phase = check_bool(name, "three_phase", three_phase)
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum",
                     end_momentum="max_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = check_bool(name, "cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = _momentum_key(name, optimizer) == "betas"
            max_momentums = _per_group(name, "max_momentum", max_momentum, optimizer, 0, 1,
                                       high_closed=True)
            base_momentums = _per_group(name, "base_momentum", base_momentum, optimizer, 0, 1,
                                        high_closed=True)
            if last_epoch == -1:
                for high, low, group in zip(max_momentums, base_momentums,
                                            optimizer.param_groups):
                    _set_momentum(group, "betas" if self.use_beta1 else "momentum", high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: step() was called {step} times, but the cycle has total_steps="
                f"{self.total_steps}. Make the schedule as long as the training (total_steps, or "
                "epochs and steps_per_epoch)."
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                        _set_momentum(group, "betas" if self.use_beta1 else "momentum", momentum)
                    break
                start_step = phase["end_step"]
        return lrs
