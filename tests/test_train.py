"""The fit loop: it learns, records what it did, calls callbacks in order, treats gradients as told,
stops early with the best weights, and matches a PyTorch loop step by step."""

import json
import re
import sys

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.training.callbacks import Callback
from chainrule.data import DataLoader, TensorDataset
from chainrule.training.loop import EarlyStopping, History, evaluate, fit


def regression_data(n=64, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(dtype)
    y = (2.0 * X[:, :1] - X[:, 1:] + 0.5).astype(dtype)
    return X, y


def small_model(dtype=None):
    return nn.Sequential(nn.Linear(2, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 1, dtype=dtype))


def quiet(line):
    pass


def test_loss_decreases_on_a_tiny_regression():
    X, y = regression_data()
    model = small_model()
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    history = fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.05), loader,
                  val_data=(X, y), epochs=15, log=quiet)
    assert history.train_loss[-1] < history.train_loss[0] / 5
    assert history.val_loss[-1] < history.val_loss[0] / 5


def test_history_fields_agree_with_the_steps():
    X, y = regression_data(n=40)
    model = small_model()
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)  # batches 16, 16, 8
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader,
                  val_data=(X[:10], y[:10]), epochs=3, log=quiet)
    assert history.epoch == [1, 2, 3]
    assert len(history.train_loss) == len(history.val_loss) == len(history.lr) == 3
    assert len(history.seconds) == 3 and all(s >= 0 for s in history.seconds)
    assert history.lr == [0.1, 0.1, 0.1]
    assert len(history.step_loss) == 9
    for e in range(3):
        steps = history.step_loss[3 * e:3 * e + 3]
        weighted = (16 * steps[0] + 16 * steps[1] + 8 * steps[2]) / 40
        assert history.train_loss[e] == pytest.approx(weighted, rel=1e-12)
    assert history.val_loss[-1] == pytest.approx(
        evaluate(model, nn.MSELoss(), (X[:10], y[:10])), rel=1e-12)
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best


def test_val_loss_is_measured_after_each_epoch():
    X, y = regression_data()
    seen = []

    class Measure(Callback):
        def on_epoch_end(self, state):
            seen.append(evaluate(state.model, nn.MSELoss(), (X[:20], y[:20]), batch_size=7))

    model = small_model()
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
                  DataLoader(TensorDataset(X, y), batch_size=8), val_data=(X[:20], y[:20]),
                  epochs=3, callbacks=[Measure()], log=quiet)
    np.testing.assert_allclose(history.val_loss, seen, rtol=1e-6)


def test_log_line_per_epoch_has_the_documented_form():
    X, y = regression_data()
    lines = []
    model = small_model()
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
                  DataLoader(TensorDataset(X, y), batch_size=32), val_data=(X, y), epochs=2,
                  log=lines.append)
    assert lines == [
        f"epoch {e}: train loss {history.train_loss[e - 1]:.4f}, "
        f"val loss {history.val_loss[e - 1]:.4f}" for e in (1, 2)
    ]
    assert re.fullmatch(r"epoch 1: train loss \d+\.\d{4}, val loss \d+\.\d{4}", lines[0])
    lines.clear()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
        DataLoader(TensorDataset(X, y), batch_size=32), epochs=1, log=lines.append)
    assert re.fullmatch(r"epoch 1: train loss \d+\.\d{4}", lines[0])


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def _record(self, hook, state):
        self.calls.append((hook, state.epoch, state.batch, state.step))

    def on_train_begin(self, state):
        self._record("train_begin", state)

    def on_epoch_begin(self, state):
        self._record("epoch_begin", state)

    def on_after_backward(self, state):
        self._record("after_backward", state)
        assert state.inputs.shape == (10, 2) and state.targets.shape == (10, 1)
        assert state.loss is not None
        assert all(p.grad is not None for p in state.model.parameters())

    def on_step_end(self, state):
        self._record("step_end", state)
        assert state.history.step_loss[-1] == state.loss

    def on_epoch_end(self, state):
        self._record("epoch_end", state)
        assert state.history.epoch[-1] == state.epoch

    def on_train_end(self, state):
        self._record("train_end", state)


def test_callbacks_are_called_in_order_with_the_state_set():
    X, y = regression_data(n=20)
    model = small_model()
    recorder = Recorder()
    batches = []

    class SeeBatch(Callback):
        def on_after_backward(self, state):
            batches.append(state.inputs.numpy().copy())

    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
        DataLoader(TensorDataset(X, y), batch_size=10), epochs=2, callbacks=[recorder, SeeBatch()],
        log=quiet)
    assert recorder.calls == [
        ("train_begin", 0, 0, 0),
        ("epoch_begin", 1, 0, 0),
        ("after_backward", 1, 0, 0), ("step_end", 1, 0, 1),
        ("after_backward", 1, 1, 1), ("step_end", 1, 1, 2),
        ("epoch_end", 1, 1, 2),
        ("epoch_begin", 2, 1, 2),
        ("after_backward", 2, 0, 2), ("step_end", 2, 0, 3),
        ("after_backward", 2, 1, 3), ("step_end", 2, 1, 4),
        ("epoch_end", 2, 1, 4),
        ("train_end", 2, 1, 4),
    ]
    np.testing.assert_array_equal(batches[0], X[:10])  # no shuffle: batches in order
    np.testing.assert_array_equal(batches[1], X[10:])


def test_a_callback_can_stop_training():
    class StopAtTwo(Callback):
        def on_epoch_end(self, state):
            state.stop = state.epoch == 2

    X, y = regression_data()
    model = small_model()
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
                  DataLoader(TensorDataset(X, y), batch_size=32), epochs=10,
                  callbacks=[StopAtTwo()], log=quiet)
    assert history.epoch == [1, 2]


def test_callback_messages_are_logged():
    class Warn(Callback):
        def on_epoch_end(self, state):
            state.messages.append(f"note from epoch {state.epoch}")

    X, y = regression_data()
    model = small_model()
    lines = []
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
        DataLoader(TensorDataset(X, y), batch_size=64), epochs=2, callbacks=[Warn()],
        log=lines.append)
    assert lines[1] == "note from epoch 1" and lines[3] == "note from epoch 2"


class Snapshots(Callback):
    def __init__(self):
        self.states = {}

    def on_epoch_end(self, state):
        self.states[state.epoch] = state.model.state_dict()


def test_early_stopping_restores_the_best_weights():
    # Train on y = x but validate on y = -x: the better the fit, the worse the val loss.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(32, 1)).astype(np.float32)
    model = nn.Linear(1, 1)
    snapshots = Snapshots()
    lines = []
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                  DataLoader(TensorDataset(X, X), batch_size=8), val_data=(X, -X), epochs=20,
                  patience=2, callbacks=[snapshots], log=lines.append)
    assert history.epoch == [1, 2, 3]  # epoch 1 best, then 2 epochs without improvement
    assert history.best_epoch == 1
    assert history.val_loss[1] > history.val_loss[0] and history.val_loss[2] > history.val_loss[0]
    assert "early stopping" in lines[-1] and "best epoch was 1" in lines[-1]
    final = model.state_dict()
    for name in final:
        np.testing.assert_array_equal(final[name], snapshots.states[1][name])
        assert not np.array_equal(final[name], snapshots.states[3][name])


def test_early_stopping_checks_patience():
    with pytest.raises(ValueError, match="'patience' parameter of EarlyStopping must be an int"):
        EarlyStopping(0)
    model = small_model()
    with pytest.raises(ValueError, match="'patience' parameter of fit must be an int >= 1"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), [], patience=-1)


class GradientWatch(Callback):
    """Records gradients and weights before treatment (after backward) and after the step."""

    def __init__(self):
        self.raw, self.treated, self.before, self.after = [], [], [], []

    def on_after_backward(self, state):
        params = list(state.model.parameters())
        self.raw.append([p.grad.numpy().copy() for p in params])
        self.before.append([p.numpy().copy() for p in params])

    def on_step_end(self, state):
        params = list(state.model.parameters())
        self.treated.append([p.grad.numpy().copy() for p in params])
        self.after.append([p.numpy().copy() for p in params])


def run_with_watch(lr=0.5, **options):
    X, y = regression_data(n=32, dtype=np.float64)
    model = small_model(dtype=np.float64)
    with chainrule.no_grad():
        for p in model.parameters():  # large weights, so that gradients are large
            p.data *= 4
    watch = GradientWatch()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr),
        DataLoader(TensorDataset(X, 10 * y), batch_size=16), epochs=1, callbacks=[watch],
        log=quiet, **options)
    # the step used the treated gradient: w_after = w_before - lr * g_treated
    for before, after, grads in zip(watch.before, watch.after, watch.treated):
        for b, a, g in zip(before, after, grads):
            np.testing.assert_allclose(a, b - lr * g, rtol=1e-12, atol=1e-12)
    return watch


def test_clip_value_clamps_every_gradient_element_before_the_step():
    watch = run_with_watch(clip_value=0.01)
    assert max(np.abs(g).max() for grads in watch.raw for g in grads) > 0.01
    for raw, treated in zip(watch.raw, watch.treated):
        for r, t in zip(raw, treated):
            np.testing.assert_array_equal(t, np.clip(r, -0.01, 0.01))


def test_clip_norm_rescales_the_joint_norm_before_the_step():
    watch = run_with_watch(clip_norm=0.5)
    for raw, treated in zip(watch.raw, watch.treated):
        raw_norm = np.sqrt(sum((r ** 2).sum() for r in raw))
        assert raw_norm > 0.5
        treated_norm = np.sqrt(sum((t ** 2).sum() for t in treated))
        assert treated_norm == pytest.approx(0.5, rel=1e-5)
        for r, t in zip(raw, treated):  # the same direction
            np.testing.assert_allclose(t, r * (0.5 / (raw_norm + 1e-6)), rtol=1e-12)


def test_normalize_grad_gives_unit_norm_gradients_before_the_step():
    watch = run_with_watch(normalize_grad=True)
    for raw, treated in zip(watch.raw, watch.treated):
        for r, t in zip(raw, treated):
            assert np.linalg.norm(t) == pytest.approx(1.0, rel=1e-12)
            np.testing.assert_allclose(t, r / np.linalg.norm(r), rtol=1e-12)


def test_normalize_grad_and_clipping_do_not_mix():
    model = small_model()
    with pytest.raises(ValueError, match="normalize_grad=True replaces clipping"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), [], normalize_grad=True,
            clip_norm=1.0)
    with pytest.raises(ValueError, match="'clip_value' parameter of fit must be a number > 0"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), [], clip_value=-1)


def test_schedulers_step_once_per_epoch():
    X, y = regression_data()
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, nn.MSELoss(), optimizer, DataLoader(TensorDataset(X, y), batch_size=32),
                  epochs=3, scheduler=scheduler, log=quiet)
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])


def test_plateau_scheduler_gets_the_val_loss():
    metrics = []

    class Recording(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, value):
            metrics.append(value)
            super().step(value)

    X, y = regression_data()
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.MSELoss(), optimizer, DataLoader(TensorDataset(X, y), batch_size=32),
                  val_data=(X[:8], y[:8]), epochs=3, scheduler=Recording(optimizer), log=quiet)
    assert metrics == history.val_loss


def test_history_round_trips_through_dict_json_and_csv(tmp_path):
    X, y = regression_data()
    model = small_model()
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
                  DataLoader(TensorDataset(X, y), batch_size=32), val_data=(X, y), epochs=3,
                  log=quiet)
    data = json.loads(json.dumps(history.to_dict()))
    assert data["best_epoch"] == history.best_epoch
    again = History.from_dict(data)
    assert again == history
    history.to_csv(tmp_path / "m.csv")
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,lr,seconds"
    assert len(lines) == 4
    cells = lines[2].split(",")
    assert int(cells[0]) == 2 and float(cells[1]) == history.train_loss[1]
    assert float(cells[2]) == history.val_loss[1]
    with pytest.raises(ValueError, match="must have one length"):
        History.from_dict({**data, "lr": [0.1]})


def test_history_csv_leaves_val_empty_without_validation(tmp_path):
    history = History(epoch=[1], train_loss=[0.5], val_loss=[None], lr=[0.1], seconds=[0.2])
    history.to_csv(tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().splitlines()[1] == "1,0.5,,0.1,0.2"
    assert history.best_epoch == 1


def test_evaluate_weights_batches_by_size_and_restores_train_mode():
    X, y = regression_data(n=50)
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    model.train()
    whole = evaluate(model, nn.MSELoss(), (X, y), batch_size=1000)
    in_sevens = evaluate(model, nn.MSELoss(), (X, y), batch_size=7)
    assert in_sevens == pytest.approx(whole, rel=1e-5)  # eval mode: dropout is off, so equal
    assert model.training
    with chainrule.no_grad():
        direct = float(((model.eval()(chainrule.tensor(X)) - chainrule.tensor(y)) ** 2).mean())
    assert whole == pytest.approx(direct, rel=1e-5)


def test_progress_bar_with_and_without_tqdm(monkeypatch, capsys):
    X, y = regression_data()
    model = small_model()
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    with_bar = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), loader,
                   epochs=1, progress=True, log=quiet)
    assert "epoch 1" in capsys.readouterr().err  # tqdm draws on stderr
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    without = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), loader,
                  initial_epoch=1, epochs=2, progress=True, log=quiet, history=with_bar)
    assert without.epoch == [1, 2]
    assert capsys.readouterr().err == ""


def test_step_losses_match_a_pytorch_loop():
    torch = pytest.importorskip("torch")
    X, y = regression_data(n=24, dtype=np.float64)
    model = small_model(dtype=np.float64)
    reference = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    reference = reference.double()
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), reference.parameters()):
            theirs.copy_(torch.from_numpy(ours.numpy()))
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  DataLoader(TensorDataset(X, y), batch_size=8), epochs=3, clip_norm=1.0,
                  log=quiet)
    opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    torch_losses = []
    for _ in range(3):
        for start in range(0, 24, 8):
            loss = torch.nn.functional.mse_loss(reference(torch.from_numpy(X[start:start + 8])),
                                                torch.from_numpy(y[start:start + 8]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            torch_losses.append(loss.item())
    np.testing.assert_allclose(history.step_loss, torch_losses, rtol=1e-10)
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_format_loss_keeps_diverging_runs_short():
    from chainrule.training.loop import format_loss

    assert format_loss(4.123) == "4.1230"
    assert format_loss(1.5e8) == "1.5000e+08"
    assert format_loss(float("inf")) == "inf" and format_loss(float("nan")) == "nan"
