"""Tests for chainrule.optim.lr_scheduler: lr sequences equal to torch's, the state dict round
trip, and argument checks."""

import math

import numpy as np
import pytest

from chainrule import optim
from chainrule.nn import Parameter
from chainrule.optim import lr_scheduler

STEPS = 30
LRS = (0.1, 0.03)  # two parameter groups with different starting lrs


def our_optimizer(lrs=LRS):
    groups = [{"params": [Parameter(np.ones(2))], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0], momentum=0.9)


def torch_optimizer(torch, lrs=LRS):
    groups = [{"params": [torch.ones(2, dtype=torch.float64, requires_grad=True)], "lr": lr}
              for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def lr_sequence(scheduler, optimizer, metrics=None):
    """get_last_lr() after construction and after each of STEPS steps; also checks the groups
    hold what get_last_lr() says."""
    sequence = [scheduler.get_last_lr()]
    for epoch in range(STEPS):
        optimizer.step()  # no gradients: nothing moves, but the order of calls is the real one
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        sequence.append(scheduler.get_last_lr())
        assert sequence[-1] == [group["lr"] for group in optimizer.param_groups]
    return np.array(sequence)


SCHEDULES = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.5)),
    ("MultiStepLR", dict(milestones=[20, 5])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: min(1.0, (epoch + 1) / 5),
                                 lambda epoch: 1 / (1 + epoch)])),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES)
def test_lr_sequence_equals_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_optimizer(), torch_optimizer(torch)
    ours = getattr(lr_scheduler, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    mine, reference = lr_sequence(ours, ours_opt), lr_sequence(theirs, theirs_opt)
    np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-15)
    assert len(np.unique(mine[:, 0])) > 2  # the schedule did change the lr


METRICS = {
    # falls, then stalls: reductions after the patience runs out
    "stall": [1.0, 0.8, 0.7, 0.7, 0.69995, 0.71, 0.72, 0.65, 0.66, 0.66] + [0.66] * 20,
    # rises, then wobbles: for mode 'max'
    "rise": [0.1, 0.2, 0.3, 0.31, 0.30, 0.29, 0.35, 0.34] + [0.34, 0.36, 0.33] * 7 + [0.3],
}

PLATEAU = [
    (dict(), "stall"),
    (dict(patience=2), "stall"),
    (dict(patience=1, factor=0.5, cooldown=2), "stall"),
    (dict(patience=0, factor=0.5, min_lr=[0.01, 0.005]), "stall"),
    (dict(patience=1, threshold=0.05, threshold_mode="abs", min_lr=0.001), "stall"),
    (dict(mode="max", patience=1, factor=0.3), "rise"),
    (dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs", cooldown=1), "rise"),
    (dict(patience=0, factor=0.9, eps=0.005), "stall"),  # group 1 changes too little
]


@pytest.mark.parametrize("kwargs, metrics", PLATEAU)
def test_reduce_lr_on_plateau_equals_torch(kwargs, metrics):
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_optimizer(), torch_optimizer(torch)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    values = METRICS[metrics]
    mine = lr_sequence(ours, ours_opt, values)
    reference = lr_sequence(theirs, theirs_opt, values)
    np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-15)
    assert (mine[-1] < mine[0]).any()  # the lr was reduced at least once


def test_step_lr_by_hand():
    # lr 0.1, step_size 3, gamma 0.5: 0.1 for epochs 0-2, 0.05 for 3-5, 0.025 for 6.
    opt = our_optimizer(lrs=(0.1,))
    scheduler = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    seen = [scheduler.get_last_lr()[0]]
    for _ in range(6):
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
    assert seen == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    assert scheduler.last_epoch == 6
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_cosine_follows_the_closed_form():
    # eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2, down and back up again.
    opt = our_optimizer(lrs=(0.1,))
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.02)
    for t in range(1, STEPS + 1):
        scheduler.step()
        closed_form = 0.02 + (0.1 - 0.02) * (1 + math.cos(math.pi * t / 8)) / 2
        assert scheduler.get_last_lr()[0] == pytest.approx(closed_form, rel=1e-12, abs=1e-15)


def test_reduce_lr_on_plateau_accepts_a_tensor_metric():
    import chainrule as cr

    opt = our_optimizer(lrs=(0.1,))
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(cr.tensor(1.0))
    scheduler.step(cr.tensor([2.0]))  # no improvement, patience 0: reduce
    assert scheduler.get_last_lr() == pytest.approx([0.01])


# --------------------------------------------------------------------------------------------
# State dict
# --------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 12, 12])),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1 / (1 + epoch))),
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1)),
]


def assert_plain(value):
    if isinstance(value, dict):
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_plain(item)
    else:
        assert isinstance(value, (int, float, bool, str)) or value is None, type(value)


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_round_trip(name, kwargs):
    metrics = METRICS["stall"]
    cls = getattr(lr_scheduler, name)

    def advance(scheduler, opt, epochs):
        for epoch in epochs:
            opt.step()
            scheduler.step(metrics[epoch]) if name == "ReduceLROnPlateau" else scheduler.step()

    opt = our_optimizer()
    scheduler = cls(opt, **kwargs)
    advance(scheduler, opt, range(10))
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    assert_plain(saved)
    assert "lr_lambdas" not in saved and "optimizer" not in saved
    advance(scheduler, opt, range(10, STEPS))

    opt2 = our_optimizer()
    scheduler2 = cls(opt2, **kwargs)
    opt2.load_state_dict(saved_opt)
    scheduler2.load_state_dict(saved)
    assert scheduler2.get_last_lr() == [g["lr"] for g in opt2.param_groups]
    advance(scheduler2, opt2, range(10, STEPS))
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()
    assert scheduler2.last_epoch == scheduler.last_epoch


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(ValueError, match=r"needs 'initial_lr' in param_groups\[0\]"):
        lr_scheduler.StepLR(our_optimizer(), step_size=2, last_epoch=5)


def test_resuming_cosine_with_last_epoch_uses_the_closed_form():
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_optimizer(), torch_optimizer(torch)
    for group in ours_opt.param_groups + theirs_opt.param_groups:
        group["initial_lr"] = group["lr"]
    ours = lr_scheduler.CosineAnnealingLR(ours_opt, T_max=10, last_epoch=4)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=10, last_epoch=4)
    np.testing.assert_allclose(lr_sequence(ours, ours_opt), lr_sequence(theirs, theirs_opt),
                               rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (lr_scheduler.StepLR, dict(step_size=0), ValueError,
     r"The 'step_size' parameter of StepLR must be an int in the range \[1, inf\)\. Got 0"),
    (lr_scheduler.StepLR, dict(step_size=2.5), TypeError, r"'step_size' parameter of StepLR"),
    (lr_scheduler.StepLR, dict(step_size=2, gamma=-0.1), ValueError,
     r"'gamma' parameter of StepLR must be a float in the range \[0, inf\)"),
    (lr_scheduler.MultiStepLR, dict(milestones=[2, -1]), ValueError,
     r"'milestones' parameter of MultiStepLR must be an int .* Got -1"),
    (lr_scheduler.ExponentialLR, dict(gamma="0.9"), TypeError,
     r"'gamma' parameter of ExponentialLR .* Got '0.9'"),
    (lr_scheduler.CosineAnnealingLR, dict(T_max=0), ValueError,
     r"'T_max' parameter of CosineAnnealingLR"),
    (lr_scheduler.CosineAnnealingLR, dict(T_max=5, eta_min=-1.0), ValueError,
     r"'eta_min' parameter of CosineAnnealingLR"),
    (lr_scheduler.LambdaLR, dict(lr_lambda=[lambda e: 1.0]), ValueError,
     r"the optimizer has 2 parameter groups, so lr_lambda must be one function or a list of 2"),
    (lr_scheduler.LambdaLR, dict(lr_lambda=0.5), TypeError,
     r"lr_lambda must be a function of the epoch\. Got float instead"),
    (lr_scheduler.ReduceLROnPlateau, dict(mode="up"), ValueError,
     r"The 'mode' parameter of ReduceLROnPlateau must be one of 'min', 'max'\. Got 'up'"),
    (lr_scheduler.ReduceLROnPlateau, dict(factor=1.0), ValueError,
     r"The 'factor' parameter of ReduceLROnPlateau must be a float in the range \[0, 1\)\."),
    (lr_scheduler.ReduceLROnPlateau, dict(patience=-1), ValueError,
     r"'patience' parameter of ReduceLROnPlateau must be an int"),
    (lr_scheduler.ReduceLROnPlateau, dict(threshold_mode="relative"), ValueError,
     r"'threshold_mode' parameter of ReduceLROnPlateau must be one of 'rel', 'abs'"),
    (lr_scheduler.ReduceLROnPlateau, dict(cooldown=1.5), TypeError,
     r"'cooldown' parameter of ReduceLROnPlateau"),
    (lr_scheduler.ReduceLROnPlateau, dict(min_lr=[0.0]), ValueError,
     r"min_lr must be one number or a list of 2\. Got a list of 1 instead"),
    (lr_scheduler.ReduceLROnPlateau, dict(min_lr=-1e-3), ValueError,
     r"'min_lr' parameter of ReduceLROnPlateau"),
]


@pytest.mark.parametrize("cls, kwargs, error, message", BAD_ARGUMENTS)
def test_bad_arguments_are_named(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(our_optimizer(), **kwargs)


@pytest.mark.parametrize("cls", [lr_scheduler.ExponentialLR, lr_scheduler.ReduceLROnPlateau,
                                 lr_scheduler.LambdaLR])
def test_a_scheduler_needs_an_optimizer(cls):
    args = {lr_scheduler.ExponentialLR: (0.9,), lr_scheduler.LambdaLR: (lambda e: 1.0,)}
    with pytest.raises(TypeError, match=r"needs an Optimizer .* Got list instead"):
        cls([Parameter(np.ones(2))], *args.get(cls, ()))


def test_a_group_added_after_the_scheduler_follows_torch_or_is_refused():
    torch = pytest.importorskip("torch")
    for name, kwargs, metrics in (("StepLR", dict(step_size=2), None),
                                  ("ExponentialLR", dict(gamma=0.5), None),
                                  ("ReduceLROnPlateau", dict(patience=0, min_lr=1e-3), [1.0] * 6)):
        ours, theirs = our_optimizer(), torch_optimizer(torch)
        our_scheduler = getattr(lr_scheduler, name)(ours, **kwargs)
        their_scheduler = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
        ours.add_param_group({"params": [Parameter(np.ones(2))], "lr": 0.2})
        theirs.add_param_group({"params": [torch.ones(2, requires_grad=True)], "lr": 0.2})
        for epoch in range(6):
            for optimizer, scheduler in ((ours, our_scheduler), (theirs, their_scheduler)):
                optimizer.step()  # (no gradients: nothing moves; the calls in the real order)
                scheduler.step() if metrics is None else scheduler.step(metrics[epoch])
        mine = [group["lr"] for group in ours.param_groups]
        expected = [group["lr"] for group in theirs.param_groups]
        np.testing.assert_allclose(mine, expected, rtol=1e-12, err_msg=name)
        assert mine[2] < 0.2  # the added group's lr was scheduled too

    # A schedule that starts from each group's initial lr cannot know a group added later.
    optimizer = our_optimizer()
    scheduler = lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5)
    optimizer.add_param_group({"params": [Parameter(np.ones(2))], "lr": 0.2})
    with pytest.raises(ValueError, match=r"3 parameter groups.*a learning rate for 2.*before "
                                         r"add_param_group"):
        scheduler.step()
    optimizer = our_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=[0.0, 0.0])
    optimizer.add_param_group({"params": [Parameter(np.ones(2))], "lr": 0.2})
    with pytest.raises(ValueError, match=r"now has 3 parameter groups, but min_lr is a list of 2"):
        scheduler.step(1.0)
