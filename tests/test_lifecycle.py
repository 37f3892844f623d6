"""chainrule.training.lifecycle: one run pipeline, callable from Python, under both commands."""

import json
import os

import pytest

from chainrule.apps.seed import SeedRunSpec, SeedSettings
from chainrule.apps.tabular import TrainRunSpec
from chainrule.cli import main
from chainrule.training import lifecycle
from chainrule.training.lifecycle import execute, resume_settings


def _train_config(**changes):
    config = {
        "source": "function", "function": "a * b + a", "range": None, "samples": 200,
        "noise": 0.0, "csv": None, "csv_sha256": None, "target": None, "features": None,
        "loss": "mse", "val_fraction": 0.2, "standardize": True, "standardize_target": True,
        "hidden": [8], "activation": "tanh", "init": "torch-default", "dtype": "float64",
        "optimizer": "adam", "lr": 0.01, "momentum": None, "weight_decay": 0.0,
        "scheduler": "none", "epochs": 3, "batch_size": 32, "seed": 0, "clip_value": None,
        "clip_norm": None, "normalize_grad": False, "patience": None,
    }
    config.update(changes)
    return config


def test_execute_from_python_equals_the_command(tmp_path, capsys):
    """The library call and `chainrule train` give the same run, number for number."""
    result = execute(TrainRunSpec(_train_config()), tmp_path / "py", plots=False, log=None)
    assert result.history.epoch == [1, 2, 3]
    assert main(["train", "--function", "a * b + a", "--samples", "200", "--hidden", "8",
                 "--dtype", "float64", "--lr", "0.01", "--epochs", "3", "--no-plots", "--json",
                 "--quiet", "--out", str(tmp_path / "cli")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["final_val_loss"] == result.summary()["final_val_loss"]
    assert json.loads((tmp_path / "py" / "config.json").read_text()) == \
        json.loads((tmp_path / "cli" / "config.json").read_text())


def test_resume_settings_and_execute_continue_a_run_exactly(tmp_path):
    straight = execute(TrainRunSpec(_train_config(epochs=4)), tmp_path / "a", plots=False,
                       log=None)
    execute(TrainRunSpec(_train_config(epochs=2)), tmp_path / "b", plots=False, log=None)
    config, checkpoint = resume_settings(tmp_path / "b", epochs=4)
    resumed = execute(TrainRunSpec(config), tmp_path / "b", checkpoint=checkpoint, plots=False,
                      log=None)
    assert resumed.initial_epoch == 2 and resumed.resumed
    assert resumed.history.step_loss == straight.history.step_loss


def test_a_finished_run_lacking_its_figures_draws_them_when_resumed(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_dir = tmp_path / "run"
    args = ["seed", "--samples", "300", "--epochs", "2", "--quiet"]
    assert main([*args, "--out", str(run_dir), "--no-plots"]) == 0
    assert not (run_dir / "loss_curve.png").exists()
    before = (run_dir / "metrics.csv").read_text()
    capsys.readouterr()
    assert main(["seed", "--resume", str(run_dir), "--quiet"]) == 0
    for name in ("loss_curve.png", "surface.png", "health.png"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "metrics.csv").read_text() == before  # no epoch was added
    # with every figure there, the finished run is finished
    assert main(["seed", "--resume", str(run_dir), "--quiet"]) == 2
    assert "has already finished (2 epochs of 2)" in capsys.readouterr().err


def test_ctrl_c_while_drawing_keeps_the_run_and_says_how_to_draw(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")

    def interrupted(self, result, setup):
        raise KeyboardInterrupt

    monkeypatch.setattr(SeedRunSpec, "draw", interrupted)
    run_dir = tmp_path / "run"
    assert main(["seed", "--samples", "300", "--epochs", "2", "--quiet", "--out",
                 str(run_dir)]) == 130
    err = capsys.readouterr().err
    assert f"the finished run is saved in {run_dir}" in err
    assert f"Draw them with: chainrule seed --resume {run_dir}" in err
    monkeypatch.undo()
    assert main(["seed", "--resume", str(run_dir), "--quiet"]) == 0
    assert (run_dir / "loss_curve.png").exists()


def test_the_seed_spec_runs_through_execute(tmp_path):
    config = {**vars(SeedSettings(samples=300, epochs=2)), "activation": "sigmoid",
              "init": "torch-default", "optimizer": "sgd", "momentum": None,
              "weight_decay": 0.0, "scheduler": "none", "patience": None,
              "compare_torch": False, "command": "seed"}
    result = execute(SeedRunSpec(config), tmp_path / "s", plots=False, log=None)
    summary = result.summary()
    assert summary["network"] == "2-10-1" and summary["parameters"] == 41
    assert sorted(os.listdir(tmp_path / "s")) == ["checkpoint.crk", "config.json", "health.txt",
                                                  "metrics.csv", "metrics.json"]


def test_lifecycle_divergence_note_names_the_specs_advice(tmp_path):
    result = execute(TrainRunSpec(_train_config(optimizer="sgd", lr=100.0, epochs=2,
                                                activation="relu")),
                     tmp_path / "d", plots=False, log=None)
    assert result.diverged
    assert result.notes[-1] == ("the loss is NaN or Inf: training diverged; try a smaller --lr, "
                                "--clip-norm, or a different --init.")
    assert lifecycle.RunSpec.divergence_advice.startswith("try a smaller learning rate")
