"""NaN, Inf and huge numbers in the data are named as the data (row, column), never diagnosed as
a training problem (issue #16, item 9)."""

import os

import numpy as np

import chainrule
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.data import DataLoader, Standardizer, TensorDataset
from chainrule.training.health import HealthMonitor
from chainrule.training.loop import fit

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3)).astype(np.float32)
Y = (X[:, :1] - X[:, 1:2]).astype(np.float32)


def train(data, val_data=None, lr=0.1, epochs=3):
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    monitor = HealthMonitor()
    with np.errstate(all="ignore"):  # (the NaN and overflow are what is tested)
        history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr), data,
                      val_data=val_data, epochs=epochs, callbacks=[monitor], log=None)
    return monitor, history


def kinds(monitor):
    return [finding.kind for finding in monitor.findings]


def test_nan_in_the_training_inputs_is_named_before_training_and_blamed_for_the_nan_loss():
    inputs = X.copy()
    inputs[5, 1] = np.nan
    monitor, history = train(DataLoader(TensorDataset(inputs, Y), batch_size=8))
    assert monitor.warnings[0].startswith(
        "bad data: the training inputs hold nan at row 5, column 1; the loss and gradients")
    assert "bad data: the gradients are NaN or Inf at epoch 1 step 0 because the batch's inputs " \
           "hold nan at row 5, column 1: the data is the cause, not the training; training " \
           "stopped" in monitor.warnings[1]
    assert kinds(monitor) == ["bad data", "bad data"]  # no divergence, no exploding gradients
    assert len(history) == 1  # stopped, as a NaN loss stops a run


def test_inf_in_validation_targets_and_several_bad_values_are_counted():
    targets = Y.copy()
    targets[[2, 7, 9], 0] = [np.inf, -np.inf, np.nan]
    monitor, _ = train(DataLoader(TensorDataset(X[:30], Y[:30]), batch_size=8),
                       val_data=(X[30:], targets[30:]))
    assert monitor.warnings == []  # rows 30.. are clean: nothing to say
    monitor, _ = train(DataLoader(TensorDataset(X, Y), batch_size=8), val_data=(X, targets))
    assert monitor.warnings[0].startswith("bad data: the validation targets hold inf at row 2, "
                                          "column 0 (3 values are NaN or Inf)")


def test_data_fit_cannot_see_is_blamed_batch_by_batch():
    inputs = X.copy()
    inputs[9, 0] = np.inf

    class Batches:  # a plain iterable: nothing to scan before training
        def __iter__(self):
            for start in range(0, 40, 8):
                yield chainrule.tensor(inputs[start:start + 8]), chainrule.tensor(Y[start:start + 8])

    monitor, history = train(Batches())
    assert kinds(monitor) == ["bad data"]
    assert monitor.warnings[0].startswith(
        "bad data: the gradients are NaN or Inf at epoch 1 step 1 because the batch's inputs hold "
        "inf at row 1, column 0")


def test_a_real_divergence_on_clean_data_is_still_divergence():
    monitor, _ = train(DataLoader(TensorDataset(X, Y * 1e3), batch_size=8), lr=50.0, epochs=5)
    assert "bad data" not in kinds(monitor)
    assert "divergence" in kinds(monitor) or "exploding gradients" in kinds(monitor)


def test_the_standardizer_scales_a_column_of_huge_numbers_instead_of_zeroing_it():
    Z = rng.normal(size=(50, 2))
    huge = Z * np.array([1.0, 1e160])
    scaled = Standardizer().fit(huge).transform(huge)
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaled, Standardizer().fit_transform(Z), rtol=0, atol=1e-12)
    back = Standardizer().fit(huge).inverse_transform(scaled)
    np.testing.assert_allclose(back, huge, rtol=1e-12)
    ordinary = Standardizer().fit(Z)  # the ordinary path is untouched, bit for bit
    assert np.array_equal(ordinary.mean, Z.mean(axis=0)) and np.array_equal(ordinary.std,
                                                                             Z.std(axis=0))


def write(path, text):
    path.write_text(text)
    return str(path)


def test_a_cell_too_large_for_the_dtype_is_named_by_line_and_column(tmp_path, capsys):
    rows = "".join(f"{i},{i * 0.5},{2 * i}\n" for i in range(30))
    csv = write(tmp_path / "a.csv", "a,b,y\n" + rows + "1e39,1,2\n")
    code = main(["train", "--csv", csv, "--target", "y", "--epochs", "2", "--no-standardize",
                 "--out", str(tmp_path / "r1"), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip() == (f"chainrule train: error: {csv}, line 32, column 'a': '1e39' is too "
                           "large for float32 (unscaled, with --no-standardize); use --dtype "
                           "float64 or leave --standardize on.")
    # standardized (the default) it is a large number like any other: no Inf, no divergence
    assert main(["train", "--csv", csv, "--target", "y", "--epochs", "2", "--out",
                 str(tmp_path / "r2"), "--no-plots", "--json"]) == 0
    out = capsys.readouterr().out
    assert "divergence" not in out and "bad data" not in out
    code = main(["train", "--function", "exp(x)", "--range=0:100", "--epochs", "2",
                 "--no-standardize", "--out", str(tmp_path / "r3")])
    assert code == 2
    assert "--function 'exp(x)': " in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r1") and not os.path.exists(tmp_path / "r3")


def test_a_column_of_huge_numbers_trains_instead_of_being_zeroed(tmp_path, capsys):
    rows = "".join(f"{i},{(i % 7) * 1e160},{i % 7}\n" for i in range(40))
    csv = write(tmp_path / "b.csv", "a,b,y\n" + rows)
    assert main(["train", "--csv", csv, "--target", "y", "--epochs", "40", "--lr", "0.01",
                 "--dtype", "float64", "--out", str(tmp_path / "r"), "--no-plots",
                 "--quiet"]) == 0, capsys.readouterr().err
    checkpoint = chainrule.load(os.path.join(tmp_path, "r", "checkpoint.crk"))
    std = checkpoint["data"]["standardizer"]["std"]
    assert np.all(np.isfinite(std)) and std[1] > 1e159
    # y is b / 1e160 exactly: with b kept (not zeroed) the network learns it well
    assert checkpoint["history"]["val_loss"][-1] < 0.2 * checkpoint["history"]["val_loss"][0]
