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
holds plain numbers and lists only.

Not carried over from PyTorch: the deprecated ``step(epoch)`` argument and the warning when
``scheduler.step()`` comes before ``optimizer.step()``.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer, check_choice, check_in_range

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LambdaLR",
    "ReduceLROnPlateau",
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
        self.last_epoch += 1
        lrs = self.get_lr()
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

    def state_dict(self) -> dict:
        """Everything the scheduler knows, as plain numbers and lists (not the optimizer)."""
        return {
            key: list(value) if isinstance(value, list) else value
            for key, value in self.__dict__.items()
            if key not in ("optimizer", "lr_lambdas")
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``."""
        self.__dict__.update(
            (key, list(value) if isinstance(value, list) else value)
            for key, value in state_dict.items()
            if key not in ("optimizer", "lr_lambdas")
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
