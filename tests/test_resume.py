"""Resume: 6 epochs in one go equal 3 epochs, a checkpoint file, and 3 more from fresh objects."""

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.training.runs import (
    CHECKPOINT, EpochSnapshot, load_checkpoint, make_checkpoint, restore, save_checkpoint,
    save_on_interrupt,
)
from chainrule.training.loop import EarlyStopping, History, fit

rng = np.random.default_rng(3)
X = rng.normal(size=(40, 3)).astype(np.float32)
Y = (np.sin(X[:, :1]) + X[:, 1:2] * X[:, 2:]).astype(np.float32)


def build(optimizer_name, scheduler_name):
    """Model, optimizer, scheduler, loader: built the same way for every run of the test."""
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1))
    if optimizer_name == "adam":
        optimizer = optim.Adam(model.parameters(), lr=0.01)
    else:
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    if scheduler_name == "step":
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    elif scheduler_name == "plateau":
        scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    else:
        scheduler = None
    loader = DataLoader(TensorDataset(X[:30], Y[:30]), batch_size=8, shuffle=True)
    return model, optimizer, scheduler, loader


def quiet(line):
    pass


def without_seconds(history: History) -> dict:
    data = history.to_dict()
    data.pop("seconds")
    return data


@pytest.mark.parametrize("optimizer_name, scheduler_name",
                         [("adam", "step"), ("sgd", "plateau"), ("sgd", None)])
def test_three_plus_three_epochs_equal_six(tmp_path, optimizer_name, scheduler_name):
    val = (X[30:], Y[30:])
    chainrule.manual_seed(7)
    model, optimizer, scheduler, loader = build(optimizer_name, scheduler_name)
    straight = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=6,
                   scheduler=scheduler, log=quiet)
    expected = model.state_dict()
    expected_lr = optimizer.param_groups[0]["lr"]

    chainrule.manual_seed(7)
    model, optimizer, scheduler, loader = build(optimizer_name, scheduler_name)
    first = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=3,
                scheduler=scheduler, log=quiet)
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, make_checkpoint(model, optimizer, scheduler, epoch=3, history=first,
                                          config={"note": "test"}))
    chainrule.manual_seed(12345)  # anything drawn in between must not matter
    np.random.default_rng(0).normal(size=10)
    chainrule.randn(5)

    model, optimizer, scheduler, loader = build(optimizer_name, scheduler_name)  # fresh objects
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint["config"] == {"note": "test"}
    initial_epoch, history = restore(checkpoint, model, optimizer, scheduler)
    assert initial_epoch == 3
    resumed = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=6,
                  scheduler=scheduler, log=quiet, initial_epoch=initial_epoch, history=history)

    for name, array in model.state_dict().items():
        assert np.array_equal(array, expected[name]), name
    assert without_seconds(resumed) == without_seconds(straight)
    assert len(resumed.seconds) == 6
    assert optimizer.param_groups[0]["lr"] == expected_lr
    if scheduler_name is not None:
        assert len(set(straight.lr)) > 1  # the schedule did change the lr


def test_early_stopping_state_survives_a_resume(tmp_path):
    # Validate on -y: the val loss gets worse from epoch 1, so patience 3 stops at epoch 4.
    val = (X[30:], -Y[30:])
    chainrule.manual_seed(1)
    model, optimizer, _, loader = build("sgd", None)
    straight = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=20, patience=3,
                   log=quiet)
    expected = model.state_dict()

    chainrule.manual_seed(1)
    model, optimizer, _, loader = build("sgd", None)
    stopper = EarlyStopping(3)
    first = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=2,
                callbacks=[stopper], log=quiet)
    # fit restored the best weights at its end; a checkpoint taken mid-run holds the current
    # ones, so take it from a snapshot, as the CLI does.
    chainrule.manual_seed(1)
    model, optimizer, _, loader = build("sgd", None)
    stopper = EarlyStopping(3)
    snapshot = EpochSnapshot(model, optimizer, early_stopping=stopper)
    again = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=2,
                callbacks=[stopper, snapshot], log=quiet)
    assert without_seconds(again) == without_seconds(first)
    snapshot.save(tmp_path / CHECKPOINT)

    model, optimizer, _, loader = build("sgd", None)
    stopper = EarlyStopping(3)
    initial_epoch, history = restore(load_checkpoint(tmp_path), model, optimizer,
                                     early_stopping=stopper)
    resumed = fit(model, nn.MSELoss(), optimizer, loader, val_data=val, epochs=20,
                  callbacks=[stopper], log=quiet, initial_epoch=initial_epoch, history=history)
    assert resumed.epoch == straight.epoch and len(straight) < 20
    for name, array in model.state_dict().items():
        assert np.array_equal(array, expected[name]), name


def test_ctrl_c_saves_the_last_finished_epoch(tmp_path):
    class Interrupt(chainrule.training.callbacks.Callback):
        def on_step_end(self, state):
            if state.epoch == 3 and state.batch == 1:
                raise KeyboardInterrupt

    chainrule.manual_seed(5)
    model, optimizer, scheduler, loader = build("adam", "step")
    snapshot = EpochSnapshot(model, optimizer, scheduler, config={"epochs": 6})
    messages = []

    class Stream:
        def write(self, text):
            messages.append(text)

        def flush(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        with save_on_interrupt(snapshot, tmp_path, f"chainrule train --resume {tmp_path}",
                               stream=Stream()):
            fit(model, nn.MSELoss(), optimizer, loader, epochs=6, scheduler=scheduler,
                callbacks=[Interrupt(), snapshot], log=quiet)
    text = "".join(messages)
    assert "saved the state after epoch 2" in text
    assert f"chainrule train --resume {tmp_path}" in text
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 3  # header + 2 epochs

    model, optimizer, scheduler, loader = build("adam", "step")
    initial_epoch, history = restore(load_checkpoint(tmp_path), model, optimizer, scheduler)
    assert initial_epoch == 2
    fit(model, nn.MSELoss(), optimizer, loader, epochs=6, scheduler=scheduler, log=quiet,
        initial_epoch=initial_epoch, history=history)

    chainrule.manual_seed(5)
    reference, ref_optimizer, ref_scheduler, ref_loader = build("adam", "step")
    straight = fit(reference, nn.MSELoss(), ref_optimizer, ref_loader, epochs=6,
                   scheduler=ref_scheduler, log=quiet)
    assert history.step_loss == straight.step_loss
    for name, array in model.state_dict().items():
        assert np.array_equal(array, reference.state_dict()[name]), name


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no checkpoint.crk"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file or run folder"):
        load_checkpoint(tmp_path / "nothing")
    chainrule.save({"weights": np.zeros(3)}, tmp_path / "other.crk")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "other.crk")


def test_metrics_json_is_strict_json_even_for_a_diverged_run(tmp_path):
    import json

    from chainrule.training.runs import write_metrics

    history = History(epoch=[1, 2], train_loss=[1e30, float("inf")], val_loss=[float("nan"), None],
                      lr=[0.1, 0.1], seconds=[0.0, 0.0], step_loss=[1e30, float("-inf")])
    write_metrics(tmp_path, history)

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    data = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=refuse)
    assert data["train_loss"] == [1e30, "inf"] and data["val_loss"] == ["nan", None]
    assert data["step_loss"] == [1e30, "-inf"] and data["best_epoch"] == 1


def test_a_malformed_checkpoint_entry_is_one_clear_error():
    from chainrule.random import get_rng_state, set_rng_state
    from chainrule.training.runs import restore
    from chainrule.serialization import CheckpointError

    with pytest.raises(ValueError, match="unknown bit generator 'random'"):
        set_rng_state({"bit_generator": "random"})
    with pytest.raises(ValueError, match="the PCG64 state is malformed"):
        set_rng_state({"bit_generator": "PCG64", "state": {}})
    model = chainrule.nn.Linear(2, 1)
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.1)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": None, "rng": {"bit_generator": "random"}, "epoch": 1,
                  "history": {}}
    with pytest.raises(CheckpointError, match="the checkpoint's 'rng' entry cannot be restored"):
        restore(checkpoint, model, optimizer)
    del checkpoint["optimizer"]
    with pytest.raises(CheckpointError, match="'optimizer' entry"):
        restore(checkpoint, model, optimizer)
    set_rng_state(get_rng_state())  # a real state round-trips


def test_health_records_survive_a_resume(tmp_path):
    # A resumed run is watched as if it had never stopped: the same report, and no warning that
    # belongs to the start of training (saturated initial weights) raised again mid-run.
    from chainrule.training.health import HealthMonitor

    def run(epochs, monitor, model, optimizer, initial_epoch=0, history=None):
        return fit(model, nn.MSELoss(), optimizer, loader, epochs=epochs, callbacks=[monitor],
                   log=quiet, initial_epoch=initial_epoch, history=history)

    chainrule.manual_seed(7)
    model, optimizer, _, loader = build("sgd", None)
    straight = HealthMonitor(probe_every=3, dense_steps=5)
    run(6, straight, model, optimizer)

    chainrule.manual_seed(7)
    model, optimizer, _, loader = build("sgd", None)
    first = HealthMonitor(probe_every=3, dense_steps=5)
    history = run(3, first, model, optimizer)
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, make_checkpoint(model, optimizer, None, 3, history, health=first))

    model, optimizer, _, loader = build("sgd", None)
    second = HealthMonitor(probe_every=3, dense_steps=5)
    epoch, history = restore(load_checkpoint(path), model, optimizer, health=second)
    run(6, second, model, optimizer, initial_epoch=epoch, history=history)
    assert second.report() == straight.report()
    assert second.losses == straight.losses and len(second.epoch_losses) == 6


def test_health_records_are_compact_and_a_run_without_health_resumes_without_it(tmp_path):
    from chainrule.cli import main
    from chainrule.training.health import HealthMonitor

    chainrule.manual_seed(7)
    model, optimizer, _, loader = build("sgd", None)
    monitor = HealthMonitor()
    fit(model, nn.MSELoss(), optimizer, loader, epochs=2, callbacks=[monitor], log=quiet)
    state = monitor.state_dict()
    assert isinstance(state["losses"], np.ndarray) and state["losses"].dtype == np.float64
    again = HealthMonitor()
    again.load_state_dict(state)
    for name in HealthMonitor._RECORDS:  # (the report needs the model too: see the test above)
        assert getattr(again, name) == getattr(monitor, name), name

    run_dir = str(tmp_path / "run")
    assert main(["train", "--function", "a*b", "--samples", "100", "--epochs", "1",
                 "--no-health", "--no-plots", "--quiet", "--out", run_dir]) == 0
    assert load_checkpoint(run_dir)["health"] is None
    assert main(["train", "--resume", run_dir, "--epochs", "2", "--quiet"]) == 0
    assert not (tmp_path / "run" / "health.txt").exists()  # still unwatched, as it was made
