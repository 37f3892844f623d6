"""HealthMonitor: flags exploding and vanishing gradients, large updates, divergence, stalls,
saturated sigmoids and dead ReLUs, each once with its evidence, and stays silent on a healthy run."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.training.callbacks import TrainState
from chainrule.data import DataLoader, TensorDataset
from chainrule.training.health import HealthMonitor
from chainrule.training.loop import fit
from chainrule.apps import plot


def _seed_data(n=10_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    z = (5 * x[:, :1] ** 2 + 3 * x[:, 1:] ** 2).astype(np.float32)
    return cr.tensor(x), cr.tensor(z)


def _seed_model(init_bound=None, activation=cr.nn.Sigmoid):
    model = cr.nn.Sequential(cr.nn.Linear(2, 10), activation(), cr.nn.Linear(10, 1))
    if init_bound is not None:
        for p in model.parameters():
            cr.nn.init.uniform_(p, -init_bound, init_bound)
    return model


def _fit(model, lr, epochs, monitor, n=10_000, batch=500):
    x, z = _seed_data(n)
    loader = DataLoader(TensorDataset(x, z), batch_size=batch, shuffle=True)
    logged = []
    history = fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=lr), loader,
                  epochs=epochs, callbacks=[monitor], log=logged.append)
    return history, logged


def _kinds(monitor):
    return [w.split(":")[0] for w in monitor.warnings]


# ---------------------------------------------------------------------------------------------
# Through the fit loop
# ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the diverging loss overflows float32
def test_flags_exploding_gradients_on_the_seed_network_with_lr_5_and_wide_init():
    monitor = HealthMonitor()
    history, logged = _fit(_seed_model(init_bound=4.0), lr=5.0, epochs=3, monitor=monitor)
    explosions = [w for w in monitor.warnings if w.startswith("exploding gradients:")]
    assert len(explosions) == 1  # once, not every step
    assert "grad norm" in explosions[0] and "(median" in explosions[0]
    assert "try clip_norm=1 or a lower lr" in explosions[0]
    # The evidence names a real parameter and a step within the first epoch.
    assert any(f" {name} grad norm" in explosions[0] for name in ("0.weight", "0.bias", "2.weight", "2.bias"))
    assert "at epoch 1 step" in explosions[0]
    # The run diverges to inf/nan: recognised, and training stops in the first epoch.
    assert "divergence" in _kinds(monitor)
    assert any("the loss became" in w and "training stopped" in w for w in monitor.warnings)
    assert len(history.train_loss) == 1
    # fit printed each warning once, through state.messages.
    for warning in monitor.warnings:
        assert logged.count(warning) == 1


def test_silent_on_the_default_seed_run():
    # The seed run itself: 70,000 samples, batch 500, lr 0.01, torch-default init, for 20 epochs
    # (the hidden sigmoids drift into their tails as it learns, which must not read as a problem).
    monitor = HealthMonitor()
    history, logged = _fit(_seed_model(), lr=0.01, epochs=20, monitor=monitor, n=70_000)
    assert monitor.warnings == [], monitor.report()
    assert len(history.train_loss) == 20
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]  # it did learn
    assert "no warnings" in monitor.report()
    assert len(monitor.epoch_losses) == 20
    assert all(math.isfinite(v) for v in monitor.epoch_losses)


def test_flags_saturated_sigmoids_with_the_wide_init():
    monitor = HealthMonitor()
    _fit(_seed_model(init_bound=4.0), lr=0.001, epochs=1, monitor=monitor, n=2_000)
    (saturated,) = [w for w in monitor.warnings if w.startswith("saturated units:")]
    assert "layer 1 (Sigmoid)" in saturated and "within 0.01 of their asymptotes" in saturated
    assert "at the start of training, before any update" in saturated
    assert "the initial weights are too large" in saturated
    assert monitor.activations["1"]["steps"][0] == 0
    assert monitor.activations["1"]["fraction"][0] > monitor.init_saturation_limit


def _probe_once(monitor, model, x, step):
    state = _state(model)
    state.inputs = x
    monitor._step = step
    monitor.on_after_backward(state)
    return state


def test_saturation_after_the_start_needs_the_higher_bar():
    # A trained seed network uses its sigmoids' tails: about 30% saturated is not a warning later
    # on, but more than half is.
    model = _seed_model()
    params = dict(model.named_parameters())
    x = _seed_data(256)[0]
    monitor = HealthMonitor(probe_every=1)
    monitor.on_train_begin(_state(model))
    _probe_once(monitor, model, x, step=0)
    assert monitor.warnings == []  # default init: nothing saturated
    params["0.weight"].numpy()[...] = np.where(np.arange(10)[:, None] < 4, 8.0, 0.3)  # 4 of 10 units
    _probe_once(monitor, model, x, step=100)
    assert 0.1 < monitor.activations["1"]["fraction"][-1] < 0.5
    assert monitor.warnings == []
    params["0.weight"].numpy()[...] = 8.0  # every unit far in its tails for most samples
    state = _probe_once(monitor, model, x, step=200)
    assert monitor.activations["1"]["fraction"][-1] > 0.5
    (message,) = state.messages
    assert message.startswith("saturated units:") and "at epoch 1 step 200" in message


def test_the_saturated_fraction_is_measured_on_the_probe_rows():
    model = _seed_model(init_bound=4.0)
    monitor, state = HealthMonitor(probe_size=100), _state(model)
    monitor.on_train_begin(state)
    state.inputs = _seed_data(300)[0]
    monitor.on_after_backward(state)  # step 0: a probe
    params = dict(model.named_parameters())
    x = state.inputs.numpy()[:100]
    h = 1 / (1 + np.exp(-(x @ params["0.weight"].numpy().T + params["0.bias"].numpy())))
    expected = np.mean((h < 0.01) | (h > 0.99))
    assert monitor.activations["1"]["fraction"] == [pytest.approx(expected)]
    assert monitor.activations["1"]["steps"] == [0]


def test_default_init_sigmoids_are_not_saturated():
    monitor = HealthMonitor()
    _fit(_seed_model(), lr=0.01, epochs=1, monitor=monitor, n=2_000)
    assert monitor.activations["1"]["fraction"][0] < 0.01


def test_flags_dead_relus():
    model = _seed_model(activation=cr.nn.ReLU)
    params = dict(model.named_parameters())
    params["0.bias"].numpy()[...] = -20.0  # every hidden unit is negative for every sample
    monitor = HealthMonitor()
    _fit(model, lr=0.01, epochs=1, monitor=monitor, n=2_000)
    (dead,) = [w for w in monitor.warnings if w.startswith("dead ReLUs:")]
    assert "10 of 10 units of layer 1 (ReLU) output 0 for every probe sample" in dead
    assert monitor.activations["1"]["fraction"][0] == 1.0


def test_healthy_relus_are_not_dead():
    monitor = HealthMonitor()
    _fit(_seed_model(activation=cr.nn.ReLU), lr=0.01, epochs=1, monitor=monitor, n=2_000)
    assert "dead ReLUs" not in _kinds(monitor)
    assert monitor.activations["1"]["fraction"][0] < monitor.dead_limit


def test_the_probe_does_not_change_training():
    # Dropout draws from the seeded generator: the probe must neither draw nor leave eval mode on.
    def run(callbacks):
        cr.manual_seed(3)
        model = cr.nn.Sequential(cr.nn.Linear(2, 10), cr.nn.Sigmoid(), cr.nn.Dropout(0.5),
                                 cr.nn.Linear(10, 1))
        x, z = _seed_data(1_000)
        loader = DataLoader(TensorDataset(x, z), batch_size=100, shuffle=True)
        fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.01), loader, epochs=2,
            callbacks=callbacks, log=None)
        return model

    plain = run([])
    monitor = HealthMonitor(probe_every=1)
    watched = run([monitor])
    assert len(monitor.activations["1"]["fraction"]) == 20  # probed at every step
    for (name, a), (_, b) in zip(plain.named_parameters(), watched.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert watched.training and all(m.training for m in watched.modules())
    assert all("forward" not in m.__dict__ for m in watched.modules())  # the capture is removed


def test_report_and_plot(tmp_path):
    monitor = HealthMonitor()
    _fit(_seed_model(), lr=0.01, epochs=2, monitor=monitor, n=2_000)
    report = monitor.report()
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert name in report
    assert "layer 1 (sigmoid): saturated outputs" in report
    assert "loss per epoch:" in report
    pytest.importorskip("matplotlib")
    path = tmp_path / "health.png"
    plot.health_curves(monitor, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# Driving the hooks directly
# ---------------------------------------------------------------------------------------------


def _state(model):
    return TrainState(model=model, optimizer=None, epoch=1)


def _set_grads(model, **norms):
    """Give each named parameter a gradient of the given L2 norm (all elements equal)."""
    for name, p in model.named_parameters():
        value = norms[name.replace(".", "_")]
        p.grad = cr.tensor(np.full(p.shape, value / math.sqrt(p.numpy().size), dtype=np.float32))


def test_nan_loss_is_divergence_and_stops_training():
    model = _seed_model()
    monitor, state = HealthMonitor(), _state(model)
    monitor.on_train_begin(state)
    for loss in (4.0, 3.5, float("nan")):
        state.loss = loss
        monitor.on_step_end(state)
    assert state.stop
    assert state.messages == [
        "divergence: the loss became nan at epoch 1 step 2 (it was 3.5 the step before); training "
        "stopped; try a lower lr or clip_norm=1"
    ]


def test_nan_loss_can_be_left_running():
    model = _seed_model()
    monitor, state = HealthMonitor(stop_on_nan=False), _state(model)
    monitor.on_train_begin(state)
    state.loss = float("inf")
    monitor.on_step_end(state)
    assert not state.stop and "divergence" in _kinds(monitor)


def test_rising_loss_is_divergence():
    model = _seed_model()
    monitor, state = HealthMonitor(), _state(model)
    monitor.on_train_begin(state)
    for loss in (2.0, 20.0, 150.0, 250.0):
        state.loss = loss
        monitor.on_step_end(state)
    assert state.messages == [
        "divergence: the loss rose from 2 at the first step to 250 at epoch 1 step 3; try a lower "
        "lr or clip_norm=1"
    ]
    assert not state.stop


def test_stall_is_flagged_after_flat_epochs_only():
    model = _seed_model()
    monitor, state = HealthMonitor(stall_epochs=4), _state(model)
    monitor.on_train_begin(state)
    epoch_losses = [10.0, 8.0, 6.0, 5.0, 5.001, 5.002, 5.0015]
    for epoch, loss in enumerate(epoch_losses, start=1):
        state.epoch = epoch
        state.loss = loss
        monitor.on_step_end(state)
        monitor.on_epoch_end(state)
        if epoch < 7:
            assert "stall" not in _kinds(monitor), epoch
    (stall,) = monitor.warnings
    assert stall.startswith("stall: the epoch loss stayed within 0.1% of 5 for 4 epochs (to epoch 7)")


def test_exploding_gradient_evidence_by_hand():
    model = _seed_model()
    monitor, state = HealthMonitor(), _state(model)
    monitor.on_train_begin(state)
    for g in (0.8, 0.7, 0.9, 3.2e5):
        _set_grads(model, **{"0_weight": g, "0_bias": 1.0, "2_weight": 1.0, "2_bias": 1.0})
        monitor.on_after_backward(state)
        monitor.on_step_end(state)
    (message,) = monitor.warnings
    assert message == ("exploding gradients: 0.weight grad norm 3.2e+05 at epoch 1 step 3 "
                       "(median 0.8); try clip_norm=1 or a lower lr")


def test_vanishing_gradients_by_hand():
    model = _seed_model()
    monitor, state = HealthMonitor(window=3), _state(model)
    monitor.on_train_begin(state)
    for step in range(3):
        _set_grads(model, **{"0_weight": 1e-9, "0_bias": 1e-9, "2_weight": 0.5, "2_bias": 0.5})
        monitor.on_after_backward(state)
        monitor.on_step_end(state)
        if step < 2:
            assert monitor.warnings == []  # needs a full window of evidence
    (message,) = monitor.warnings
    assert message.startswith("vanishing gradients: 0.weight grad norm 1e-09 (median of the last 3 "
                              "checks, to epoch 1 step 2), 2e-09 times 2.weight's 0.5")


def test_update_ratio_is_measured_and_large_updates_flagged():
    model = _seed_model()
    monitor, state = HealthMonitor(window=2), _state(model)
    monitor.on_train_begin(state)
    params = dict(model.named_parameters())
    for _ in range(2):
        _set_grads(model, **{"0_weight": 1.0, "0_bias": 1.0, "2_weight": 1.0, "2_bias": 1.0})
        monitor.on_after_backward(state)
        before = params["0.weight"].numpy().copy()
        params["0.weight"].data *= 4.0  # an update of 3 times the weight's own size
        params["0.bias"].data *= 1.001
        monitor.on_step_end(state)
        assert monitor.update_ratios["0.weight"][-1] == pytest.approx(
            np.linalg.norm(params["0.weight"].numpy() - before) / np.linalg.norm(before), rel=1e-5)
    assert monitor.update_ratios["0.bias"][-1] == pytest.approx(0.001, rel=1e-3)
    assert monitor.update_ratios["2.weight"][-1] == 0.0
    (message,) = monitor.warnings
    assert message.startswith("large updates: each step changes 0.weight by 3 times its own size")


def test_checks_are_dense_at_first_then_every_few_steps():
    model = _seed_model()
    monitor, state = HealthMonitor(every=10, dense_steps=5), _state(model)
    monitor.on_train_begin(state)
    for _ in range(31):
        _set_grads(model, **{"0_weight": 1.0, "0_bias": 1.0, "2_weight": 1.0, "2_bias": 1.0})
        monitor.on_after_backward(state)
        monitor.on_step_end(state)
    assert monitor.checked_steps == [0, 1, 2, 3, 4, 10, 20, 30]


def test_verbose_prints_each_warning_once(capsys):
    import sys

    model = _seed_model()
    monitor, state = HealthMonitor(verbose=True, file=sys.stdout), _state(model)
    monitor.on_train_begin(state)
    for _ in range(3):
        state.loss = float("nan")
        monitor.on_step_end(state)
    out = capsys.readouterr().out
    assert out.count("health: divergence: the loss became nan") == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"every": 0}, "The 'every' parameter of HealthMonitor must be an int >= 1. Got 0 instead."),
    ({"probe_size": 2.5}, "The 'probe_size' parameter of HealthMonitor must be an int >= 1"),
    ({"explode_factor": 0.5}, "The 'explode_factor' parameter of HealthMonitor must be a number > 1"),
    ({"saturation_limit": 2}, "The 'saturation_limit' parameter of HealthMonitor must be a fraction"),
    ({"dense_steps": -1}, "The 'dense_steps' parameter of HealthMonitor must be an int >= 0. Got -1"),
    ({"stall_tolerance": 0}, "The 'stall_tolerance' parameter of HealthMonitor must be a number > 0"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HealthMonitor(**kwargs)


def test_the_seeds_wrong_backward_is_called_no_better_than_the_mean():
    from chainrule.handwritten import SeedSigmoidLayer, SigmoidLayer
    from chainrule.apps.seed import HandwrittenSigmoidLinear

    def network(function):
        cr.manual_seed(0)
        model = cr.nn.Sequential(HandwrittenSigmoidLinear(2, 10, function=function),
                                 cr.nn.Linear(10, 1))
        for p in model.parameters():  # the seed's own init: U(-4, 4)
            cr.nn.init.uniform_(p, -4, 4)
        return model

    wrong = HealthMonitor()
    _fit(network(SeedSigmoidLayer), lr=0.01, epochs=6, monitor=wrong)
    assert "no better than the mean" in _kinds(wrong), wrong.warnings
    message = next(w for w in wrong.warnings if w.startswith("no better than the mean"))
    assert "check it with chainrule.gradcheck" in message
    right = HealthMonitor()
    _fit(network(SigmoidLayer), lr=0.01, epochs=6, monitor=right)
    assert "no better than the mean" not in _kinds(right), right.warnings


def test_remedies_name_the_settings_as_the_caller_says_and_findings_hold_the_evidence():
    model = cr.nn.Linear(1, 1)
    with cr.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(0.0)
    x = np.ones((4, 1), dtype=np.float32)
    monitor = HealthMonitor(names={"lr": "--lr", "clip_norm": "--clip-norm 1"})
    fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=1e3),
        DataLoader(TensorDataset(x, x * 3), batch_size=4), epochs=5, callbacks=[monitor], log=None)
    assert monitor.warnings and "--lr" in monitor.warnings[0]
    finding = monitor.findings[0]
    assert (finding.kind, finding.text) == (monitor.warning_steps[0][1], monitor.warnings[0])
    assert finding.epoch >= 1 and finding.step == monitor.warning_steps[0][0]


def test_a_classifier_at_chance_is_flagged():
    """Labels that carry no information about the inputs: the cross-entropy cannot fall below
    the entropy of the labels' frequencies, and the monitor says the classifier is at chance."""
    generator = np.random.default_rng(0)
    x = generator.normal(size=(400, 3)).astype(np.float32)
    labels = generator.integers(0, 4, size=400)
    cr.manual_seed(0)
    model = cr.nn.Linear(3, 4)
    monitor = HealthMonitor()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.01),
        DataLoader(TensorDataset(x, labels), batch_size=100), epochs=6, callbacks=[monitor],
        log=None)
    chance = [w for w in monitor.warnings if w.startswith("no better than chance")]
    assert len(chance) == 1 and "entropy of the labels' frequencies" in chance[0]
    # labels that follow the inputs are learned, and not flagged
    monitor, model = HealthMonitor(), cr.nn.Linear(3, 4)
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.5),
        DataLoader(TensorDataset(x, np.argmax(x @ generator.normal(size=(3, 4)), axis=1)),
                   batch_size=100), epochs=6, callbacks=[monitor], log=None)
    assert not any(w.startswith("no better than chance") for w in monitor.warnings)
