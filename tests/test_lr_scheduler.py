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
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, total_iters=10)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=20)),
    ("LinearLR", dict(start_factor=0.5, end_factor=0.0, total_iters=40)),  # ends after STEPS
    ("PolynomialLR", dict()),
    ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("PolynomialLR", dict(total_iters=40, power=0.5)),
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


# --------------------------------------------------------------------------------------------
# Schedules of schedules, and cyclical schedules that also move the momentum
# --------------------------------------------------------------------------------------------


def momentum_of(optimizer):
    """Every group's momentum, or beta1 for the Adam family."""
    return [group["betas"][0] if "betas" in group else group["momentum"]
            for group in optimizer.param_groups]


def trajectory(scheduler, optimizer, steps=STEPS):
    """Each group's lr and momentum after construction and after each step."""
    rows = [scheduler.get_last_lr() + momentum_of(optimizer)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rows.append(scheduler.get_last_lr() + momentum_of(optimizer))
        assert scheduler.get_last_lr() == [group["lr"] for group in optimizer.param_groups]
    return np.array(rows)


def adam_optimizers(torch, lrs=LRS):
    ours = optim.Adam([{"params": [Parameter(np.ones(2))], "lr": lr} for lr in lrs])
    theirs = torch.optim.Adam([{"params": [torch.ones(2, dtype=torch.float64,
                                                      requires_grad=True)], "lr": lr}
                               for lr in lrs])
    return ours, theirs


# Each builds a scheduler from a module (ours or torch's lr_scheduler) and an optimizer.
COMPOSED = {
    "warm-up then exponential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)],
        milestones=[5]),
    "step, cosine, lambda": lambda m, o: m.SequentialLR(
        o, [m.StepLR(o, step_size=3, gamma=0.5), m.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
            m.LambdaLR(o, lambda epoch: 0.9**epoch)], milestones=[8, 20]),
    "linear then polynomial": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.25, total_iters=4), m.PolynomialLR(o, total_iters=20)],
        milestones=[4]),
    "multistep then exponential, milestone 0": lambda m, o: m.SequentialLR(
        o, [m.MultiStepLR(o, milestones=[2]), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=2)], milestones=[0, 12]),
    "chained warm-up and decay": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)]),
    "chained three, optimizer given": lambda m, o: m.ChainedScheduler(
        [m.StepLR(o, step_size=4, gamma=0.7), m.MultiStepLR(o, milestones=[6, 9], gamma=0.5),
         m.CosineAnnealingLR(o, T_max=12)], optimizer=o),
    "sequential inside chained": lambda m, o: m.ChainedScheduler(
        [m.SequentialLR(o, [m.LinearLR(o, total_iters=3), m.PolynomialLR(o, total_iters=15)],
                        milestones=[3]), m.ExponentialLR(o, gamma=0.97)]),
    "cyclic triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "cyclic triangular2, up 3 down 5, lists": lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=3, step_size_down=5,
        mode="triangular2", base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.95]),
    "cyclic exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5,
                                               mode="exp_range", gamma=0.9),
    "cyclic own scale_fn per step": lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=2, scale_fn=lambda x: 1 / (1 + 0.1 * x),
        scale_mode="iterations"),
    "cyclic own scale_fn per cycle": lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=3, scale_fn=lambda c: 0.8**c),
    "cyclic no momentum": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                 cycle_momentum=False),
    "one cycle": lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=STEPS),
    "one cycle linear, lists": lambda m, o: m.OneCycleLR(
        o, max_lr=[0.1, 0.5], epochs=3, steps_per_epoch=10, anneal_strategy="linear",
        base_momentum=[0.8, 0.85], max_momentum=0.9),
    "one cycle three phases": lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, total_steps=STEPS + 5, three_phase=True, pct_start=0.25, div_factor=10,
        final_div_factor=100),
    "one cycle no momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=STEPS,
                                                      cycle_momentum=False, pct_start=0.5),
}
ADAM = {"cyclic triangular", "cyclic exp_range", "one cycle", "one cycle three phases"}


@pytest.mark.parametrize("optimizer, case", [("SGD", case) for case in COMPOSED]
                         + [("Adam", case) for case in sorted(ADAM)])
def test_composed_and_cyclic_schedules_equal_torch(optimizer, case):
    torch = pytest.importorskip("torch")
    if optimizer == "SGD":
        ours_opt, theirs_opt = our_optimizer(), torch_optimizer(torch)
    else:
        ours_opt, theirs_opt = adam_optimizers(torch)
    ours = COMPOSED[case](lr_scheduler, ours_opt)
    theirs = COMPOSED[case](torch.optim.lr_scheduler, theirs_opt)
    mine, reference = trajectory(ours, ours_opt), trajectory(theirs, theirs_opt)
    np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-15, err_msg=case)
    assert len(np.unique(mine[:, 0])) > 3  # the lr did change
    if "cyclic" in case or "one cycle" in case:
        cycled = "no momentum" not in case
        assert (len(np.unique(mine[:, 2])) > 3) == cycled  # the momentum (beta1) cycled, or not
    if optimizer == "Adam":
        assert ours_opt.param_groups[0]["betas"][1] == 0.999  # beta2 is left alone


def test_one_cycle_shape_by_hand():
    # max_lr 1.0, total_steps 10, pct_start 0.3, div_factor 25, final_div_factor 1e4, linear:
    # initial_lr = 1 / 25 = 0.04, min_lr = 0.04 / 1e4 = 4e-6.
    # Phase 1: steps 0 .. 2 (end_step = 0.3 * 10 - 1 = 2): 0.04 -> 1.0, so step 1 is 0.52.
    # Phase 2: steps 2 .. 9: 1.0 -> 4e-6 in 7 steps; momentum goes 0.95 -> 0.85 -> 0.95.
    opt = our_optimizer(lrs=(0.1,))
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    rows = trajectory(scheduler, opt, steps=9)
    np.testing.assert_allclose(rows[:3, 0], [0.04, 0.52, 1.0], rtol=1e-14)
    np.testing.assert_allclose(rows[2:, 0], 1.0 + (4e-6 - 1.0) * np.arange(8) / 7, rtol=1e-12)
    np.testing.assert_allclose(rows[[0, 1, 2, 9], 1], [0.95, 0.90, 0.85, 0.95], rtol=1e-14)
    assert opt.param_groups[0]["max_lr"] == 1.0
    assert opt.param_groups[0]["min_lr"] == pytest.approx(4e-6, rel=1e-14)
    scheduler.step()  # step 10 = total_steps is still allowed (as in PyTorch); 11 is not
    with pytest.raises(ValueError, match=r"OneCycleLR: step\(\) was called 11 times, but the "
                                         r"cycle has total_steps=10"):
        scheduler.step()


def test_cyclic_triangle_by_hand():
    # base 0.1, max 0.5, 2 steps up, 2 down: 0.1, 0.3, 0.5, 0.3, 0.1, 0.3, ...;
    # the momentum does the opposite: 0.9, 0.85, 0.8, 0.85, 0.9.
    opt = our_optimizer(lrs=(1.0,))
    scheduler = lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2)
    rows = trajectory(scheduler, opt, steps=5)
    np.testing.assert_allclose(rows[:, 0], [0.1, 0.3, 0.5, 0.3, 0.1, 0.3], rtol=1e-14)
    np.testing.assert_allclose(rows[:, 1], [0.9, 0.85, 0.8, 0.85, 0.9, 0.85], rtol=1e-14)


def test_sequential_hands_over_at_the_milestone_by_hand():
    # LinearLR from 0.1 * 1.0 to 1.0 in 2 epochs, then ExponentialLR(0.5) from epoch 3:
    # epoch 0: 0.1, 1: 0.55, 2: 1.0; epoch 3 (milestone): the exponential starts at its epoch 0,
    # the base lr 1.0; then 0.5, 0.25.
    opt = our_optimizer(lrs=(1.0,))
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)
    decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    scheduler = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[3])
    rows = trajectory(scheduler, opt, steps=5)
    np.testing.assert_allclose(rows[:, 0], [0.1, 0.55, 1.0, 1.0, 0.5, 0.25], rtol=1e-14)


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


ROUND_TRIP_COMPOSED = ["warm-up then exponential", "step, cosine, lambda",
                       "chained three, optimizer given", "sequential inside chained",
                       "cyclic triangular2, up 3 down 5, lists", "cyclic own scale_fn per cycle",
                       "one cycle three phases", "one cycle linear, lists"]


@pytest.mark.parametrize("case", ROUND_TRIP_COMPOSED)
def test_state_dict_round_trip_of_composed_and_cyclic_schedules(case):
    def advance(scheduler, opt, epochs):
        rows = []
        for _ in range(epochs):
            opt.step()
            scheduler.step()
            rows.append(scheduler.get_last_lr() + momentum_of(opt))
        return rows

    opt = our_optimizer()
    scheduler = COMPOSED[case](lr_scheduler, opt)
    advance(scheduler, opt, 10)
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    assert_plain(saved)
    expected = advance(scheduler, opt, STEPS - 10)

    opt2 = our_optimizer()
    scheduler2 = COMPOSED[case](lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    scheduler2.load_state_dict(saved)
    assert advance(scheduler2, opt2, STEPS - 10) == expected
    # The saved state is a snapshot: stepping on did not change it.
    assert scheduler.state_dict() != saved


TORCH_STATE = [
    ("ExponentialLR", dict(gamma=0.9)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.5)),
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.2, total_iters=12)),
    ("PolynomialLR", dict(total_iters=25, power=2.0)),
]


@pytest.mark.parametrize("name, kwargs", TORCH_STATE)
def test_a_torch_scheduler_state_dict_loads_and_continues_the_same(name, kwargs):
    # The same attribute names as PyTorch (last_epoch, base_lrs, _last_lr, _step_count, ...),
    # so a torch scheduler's state_dict() continues in chainrule; get_last_lr() agrees throughout.
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_optimizer(), torch_optimizer(torch)
    ours = getattr(lr_scheduler, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    for _ in range(7):
        theirs_opt.step()
        theirs.step()
    assert set(ours.state_dict()) <= set(theirs.state_dict())
    for group, their_group in zip(ours_opt.param_groups, theirs_opt.param_groups):
        group["lr"] = their_group["lr"]
    ours.load_state_dict(theirs.state_dict())
    assert ours.get_last_lr() == theirs.get_last_lr()
    np.testing.assert_allclose(lr_sequence(ours, ours_opt), lr_sequence(theirs, theirs_opt),
                               rtol=1e-12, atol=1e-15)


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
    (lr_scheduler.LinearLR, dict(start_factor=0.0), ValueError,
     r"The 'start_factor' parameter of LinearLR must be a float in the range \(0, 1\]\. Got 0.0"),
    (lr_scheduler.LinearLR, dict(end_factor=1.5), ValueError,
     r"'end_factor' parameter of LinearLR must be a float in the range \[0, 1\]"),
    (lr_scheduler.LinearLR, dict(total_iters=0), ValueError, r"'total_iters' parameter of LinearLR"),
    (lr_scheduler.PolynomialLR, dict(total_iters=2.0), TypeError,
     r"'total_iters' parameter of PolynomialLR must be an int"),
    (lr_scheduler.PolynomialLR, dict(power=-1), ValueError, r"'power' parameter of PolynomialLR"),
    (lr_scheduler.CyclicLR, dict(base_lr=0.01, max_lr=0.1, mode="sine"), ValueError,
     r"The 'mode' parameter of CyclicLR must be one of 'triangular', 'triangular2', 'exp_range'\."
     r" Got 'sine' instead\."),
    (lr_scheduler.CyclicLR, dict(base_lr=[0.01], max_lr=0.1), ValueError,
     r"CyclicLR: the optimizer has 2 parameter groups, so base_lr must be one number or a list "
     r"of 2\. Got a list of 1 instead\."),
    (lr_scheduler.CyclicLR, dict(base_lr=0.01, max_lr=0.1, step_size_up=0), ValueError,
     r"'step_size_up' parameter of CyclicLR"),
    (lr_scheduler.CyclicLR, dict(base_lr=0.01, max_lr=0.1, scale_fn=2.0), TypeError,
     r"CyclicLR: scale_fn must be a function of the cycle or the step\. Got float instead"),
    (lr_scheduler.CyclicLR, dict(base_lr=0.01, max_lr=0.1, scale_mode="epoch"), ValueError,
     r"'scale_mode' parameter of CyclicLR must be one of 'cycle', 'iterations'"),
    (lr_scheduler.CyclicLR, dict(base_lr=0.01, max_lr=0.1, max_momentum=1.5), ValueError,
     r"'max_momentum' parameter of CyclicLR must be a float in the range \[0, 1\]"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1), ValueError,
     r"OneCycleLR needs the length of the cycle: total_steps, or both epochs and steps_per_epoch"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1, total_steps=0), ValueError,
     r"'total_steps' parameter of OneCycleLR must be an int in the range \[1, inf\)"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1, epochs=2, steps_per_epoch=-1), ValueError,
     r"'steps_per_epoch' parameter of OneCycleLR"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"'pct_start' parameter of OneCycleLR must be a float in the range \[0, 1\]"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     r"'anneal_strategy' parameter of OneCycleLR must be one of 'cos', 'linear'"),
    (lr_scheduler.OneCycleLR, dict(max_lr=0.1, total_steps=10, div_factor=0), ValueError,
     r"'div_factor' parameter of OneCycleLR must be a float in the range \(0, inf\)"),
    (lr_scheduler.OneCycleLR, dict(max_lr=[0.1, 0.2, 0.3], total_steps=10), ValueError,
     r"so max_lr must be one number or a list of 2\. Got a list of 3"),
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


def test_cycling_the_momentum_needs_an_optimizer_with_one():
    opt = optim.Adagrad([Parameter(np.ones(2))], lr=0.1)
    for make in (lambda: lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1),
                 lambda: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)):
        with pytest.raises(ValueError, match=r"cycle_momentum=True needs an optimizer with a "
                                             r"'momentum' or 'betas' option; Adagrad has neither\. "
                                             r"Pass cycle_momentum=False\."):
            make()
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)  # fine


def test_schedules_of_schedules_check_their_schedulers():
    opt, other = our_optimizer(), our_optimizer()
    exponential = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.raises(ValueError, match=r"SequentialLR needs one milestone fewer than "
                                         r"schedulers: 2 schedulers take over at 1 milestones\. "
                                         r"Got 2 milestones instead\."):
        lr_scheduler.SequentialLR(opt, [exponential, lr_scheduler.StepLR(opt, 2)], [3, 5])
    with pytest.raises(ValueError, match=r"SequentialLR needs at least one scheduler"):
        lr_scheduler.SequentialLR(opt, [], [])
    with pytest.raises(TypeError, match=r"SequentialLR needs a list of schedulers\. Got "
                                        r"ExponentialLR instead"):
        lr_scheduler.SequentialLR(opt, exponential, [])
    with pytest.raises(ValueError, match=r"schedulers\[1\] \(StepLR\) schedules another "
                                         r"optimizer"):
        lr_scheduler.SequentialLR(opt, [exponential, lr_scheduler.StepLR(other, 2)], [3])
    with pytest.raises(ValueError, match=r"ChainedScheduler cannot hold a ReduceLROnPlateau "
                                         r"\(schedulers\[1\]\)"):
        lr_scheduler.ChainedScheduler([exponential, lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(TypeError, match=r"ChainedScheduler: schedulers\[0\] must be an lr "
                                        r"scheduler\. Got function instead"):
        lr_scheduler.ChainedScheduler([lambda epoch: 0.1])
    with pytest.raises(ValueError, match=r"'milestones' parameter of SequentialLR"):
        lr_scheduler.SequentialLR(opt, [exponential, lr_scheduler.StepLR(opt, 2)], [-1])


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


@pytest.mark.parametrize("name", [n for n in lr_scheduler.__all__ if n != "LRScheduler"])
def test_signature_is_torchs(name):
    # The same argument names, order, kinds and defaults as torch.optim.lr_scheduler's.
    torch = pytest.importorskip("torch")
    import inspect

    def described(cls):
        return [(p.name, p.kind, p.default)
                for p in inspect.signature(cls.__init__).parameters.values()]

    assert described(getattr(lr_scheduler, name)) == \
        described(getattr(torch.optim.lr_scheduler, name))


TRAINING = [
    ("SGD", dict(lr=0.1, momentum=0.9),
     lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS)),
    ("Adam", dict(lr=0.01),
     lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.05, step_size_up=4, mode="triangular2")),
    ("NAdam", dict(lr=0.01),
     lambda m, o: m.OneCycleLR(o, max_lr=0.05, total_steps=STEPS, three_phase=True)),
    ("RMSprop", dict(lr=0.01),  # momentum 0 to start: the schedule switches it on
     lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=3)),
    ("Adadelta", dict(),
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                                     m.PolynomialLR(o, total_iters=30, power=2.0)],
                                 milestones=[5])),
]


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype (for NAdam's momentum product; see test_optim)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name, kwargs, make", TRAINING)
def test_training_with_a_schedule_follows_torch(torch64, name, kwargs, make):
    # The optimizers read the lr and momentum (or beta1) the schedule writes into their groups
    # at every step, as torch's do: the weights stay equal over a scheduled run.
    torch = torch64
    import chainrule as cr

    rng = np.random.default_rng(5)
    w0, x, y = rng.normal(size=(3, 4)), rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    w, tw = Parameter(w0.copy()), torch.tensor(w0, requires_grad=True)
    ours_opt = getattr(optim, name)([w], **kwargs)
    theirs_opt = getattr(torch.optim, name)([tw], foreach=False, **kwargs)
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    for step in range(STEPS):
        ours_opt.zero_grad()
        ((cr.tensor(x) @ w.T).tanh() - cr.tensor(y)).pow(2).mean().backward()
        ours_opt.step()
        ours.step()
        theirs_opt.zero_grad()
        ((torch.tensor(x) @ tw.T).tanh() - torch.tensor(y)).pow(2).mean().backward()
        theirs_opt.step()
        theirs.step()
        np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name} differs from torch after step {step + 1}")
    assert np.abs(w.numpy() - w0).max() > 1e-2
