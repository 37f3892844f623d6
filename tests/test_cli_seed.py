"""``chainrule seed`` end to end: subprocesses on small sizes (exit codes, files, JSON, errors)."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest

import chainrule
from chainrule.cli import main

SMALL = ["--samples", "2000", "--epochs", "2"]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "chainrule", "seed", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_a_small_run_writes_its_run_folder(tmp_path):
    out = tmp_path / "run"
    result = run_cli(*SMALL, "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("seed experiment: 2-10-1 sigmoid network, 2000 samples, sgd lr 0.01")
    assert re.fullmatch(r"epoch 1: train loss \d+\.\d{4}, val loss \d+\.\d{4}", lines[1])
    assert re.fullmatch(r"epoch 2: train loss \d+\.\d{4}, val loss \d+\.\d{4}", lines[2])
    assert "(41 parameters)" in result.stdout
    for name in ("config.json", "metrics.csv", "metrics.json", "checkpoint.crk", "loss_curve.png",
                 "surface.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["step_loss"]) == 2 * 3  # 1400 training rows in batches of 500
    checkpoint = chainrule.load(str(out / "checkpoint.crk"))
    assert sorted(checkpoint["model"]) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert checkpoint["config"]["batch_size"] == 500 and checkpoint["epoch"] == 2
    with open(out / "loss_curve.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_json_summary(tmp_path):
    result = run_cli(*SMALL, "--batch-size", "100", "--init", "xavier", "--clip-norm", "1",
                     "--out", str(tmp_path / "r"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # only JSON on stdout; the epoch lines went to stderr
    assert "epoch 2: train loss" in result.stderr
    assert summary["parameters"] == 41 and summary["network"] == "2-10-1"
    assert summary["epochs_run"] == 2 and summary["torch"] is None
    assert isinstance(summary["final_val_loss"], float) and summary["final_val_loss"] > 0
    assert summary["run_dir"] == str(tmp_path / "r")
    assert {os.path.basename(f) for f in summary["files"]} >= {"metrics.csv", "checkpoint.crk"}
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (config["init"], config["clip_norm"], config["batch_size"]) == ("xavier", 1.0, 100)


def test_compare_torch_agrees_in_float64(tmp_path):
    pytest.importorskip("torch")
    result = run_cli(*SMALL, "--batch-size", "50", "--dtype", "float64", "--compare-torch",
                     "--clip-value", "1", "--out", str(tmp_path / "t"), "--json")
    assert result.returncode == 0, result.stderr
    twin = json.loads(result.stdout)["torch"]
    assert twin["steps"] == 2 * 28
    assert twin["max_relative_step_loss_difference"] < 1e-9
    steps = json.loads((tmp_path / "t" / "torch_step_loss.json").read_text())["step_loss"]
    ours = json.loads((tmp_path / "t" / "metrics.json").read_text())["step_loss"]
    assert len(steps) == len(ours) and steps != [steps[0]] * len(steps)


def test_compare_torch_without_torch_says_how_to_install(tmp_path):
    fake = tmp_path / "no_torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    result = run_cli(*SMALL, "--compare-torch", "--out", str(tmp_path / "x"), env=env)
    assert result.returncode == 2
    assert 'pip install "chainrule[torch]"' in result.stderr
    assert "torch==2.13.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_without_matplotlib_the_run_still_writes_everything_else(tmp_path):
    fake = tmp_path / "no_mpl" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    result = run_cli(*SMALL, "--out", str(tmp_path / "m"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert 'pip install "chainrule[plot]"' in summary["notes"][0]
    assert sorted(os.listdir(tmp_path / "m")) == ["checkpoint.crk", "config.json", "health.txt",
                                                   "metrics.csv", "metrics.json"]


def test_sweep_shows_the_seeds_derivative_is_what_held_it(tmp_path):
    """A small sweep: the row with the seed's hand-derived backward ends far worse than the same
    network with the right backward (same init and clipping; 2x or more at these sizes)."""
    result = run_cli("--sweep", "--samples", "3000", "--batch-size", "100", "--sweep-epochs", "4",
                     "--sweep-inits", "torch-default", "--sweep-treatments", "none,clip-value:1",
                     "--sweep-lrs", "0.1", "--out", str(tmp_path / "s"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["runs"] == 4
    assert [(r["init"], r["treatment"]) for r in summary["grid"]] == [
        ("torch-default", "none"), ("torch-default", "clip-value:1")]
    seed_row, right_row = summary["derivative"]
    assert seed_row["backward"] == "SeedSigmoidLayer" and right_row["backward"] == "SigmoidLayer"
    assert right_row["val_loss"] < 0.6 * seed_row["val_loss"]
    table = (tmp_path / "s" / "sweep.md").read_text()
    assert "a subsample of 3,000 samples" in table and "SeedSigmoidLayer" in table
    assert (tmp_path / "s" / "sweep.png").stat().st_size > 0
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["grid"][0]["val_curve"]


@pytest.mark.parametrize("args, message", [
    (["--init", "uniform:4:-4"],
     r"--init must be one of torch-default, uniform:A:B \(A < B\), .*"
     r"Got 'uniform:4:-4' instead\."),
    (["--init", "gaussian"], r"--init must be .* Got 'gaussian' instead\."),
    (["--activation", "swish"], r"--activation must be one of relu, .*softmax.*"
                                r"Got 'swish' instead\."),
    (["--optimizer", "lbfgs"], r"--optimizer must be one of sgd, adam.*"
                               r"Got 'lbfgs' instead\."),
    (["--epochs", "0"], r"--epochs must be an integer >= 1\. Got 0 instead\."),
    (["--normalize-grad", "--clip-value", "1"], r"--normalize-grad replaces clipping"),
    (["--sweep", "--clip-value", "1"], r"--clip-value cannot be given with it"),
    (["--sweep-epochs", "3"], r"--sweep-epochs applies to --sweep only; add --sweep or leave it"),
    (["--sweep", "--sweep-treatments", "none,clip:1"],
     r"--sweep-treatments must be .* Got 'none,clip:1' instead\."),
    (["--sweep", "--sweep-lrs", "0.1,-1"],
     r"--sweep-lrs must be a comma-separated list of numbers > 0\. Got '0.1,-1'"),
    (["--sweep", "--sweep-inits", "xavier,uniform:1"],
     r"--sweep-inits must be .* Got 'uniform:1' instead\."),
])
def test_bad_flags_give_one_sentence(args, message, capsys, tmp_path):
    """In-process (the same main() the program runs): exit status 2, one line on stderr."""
    status = main(["seed", "--samples", "2000", "--out", str(tmp_path / "never"), *args])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("chainrule seed: error: ")
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()


def test_a_batch_larger_than_the_training_set_is_one_batch(capsys, tmp_path):
    status = main(["seed", "--samples", "200", "--epochs", "2", "--batch-size", "5000", "--out",
                   str(tmp_path / "b"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    assert summary["notes"] == ["the training set has 140 rows, fewer than --batch-size 5000, so "
                                "each epoch is one batch of 140 rows."]
    assert len(json.loads((tmp_path / "b" / "metrics.json").read_text())["step_loss"]) == 2


def test_bad_flag_in_a_subprocess_exits_2():
    result = run_cli("--init", "uniform:4:-4")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("Got 'uniform:4:-4' instead.")


def test_help_has_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "chainrule seed --compare-torch" in result.stdout
    for flag in ("--epochs", "--lr", "--batch-size", "--hidden", "--activation", "--optimizer",
                 "--init", "--clip-value", "--clip-norm", "--normalize-grad", "--seed", "--dtype",
                 "--out", "--samples", "--sweep", "--sweep-inits", "--sweep-treatments",
                 "--sweep-lrs", "--sweep-epochs", "--json"):
        assert flag in result.stdout, flag


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "softmax",
                                        "log_softmax", "gelu", "elu", "selu", "softplus", "silu"])
def test_every_activation_runs(activation, capsys, tmp_path):
    status = main(["seed", "--samples", "200", "--epochs", "1", "--batch-size", "70",
                   "--activation", activation, "--out", str(tmp_path / activation), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["parameters"] == 41 and summary["epochs_run"] == 1
    config = json.loads((tmp_path / activation / "config.json").read_text())
    assert config["activation"] == activation


def _step_losses(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())["step_loss"]


def test_resume_continues_exactly(tmp_path, capsys):
    args = ["seed", "--samples", "600", "--batch-size", "50", "--scheduler", "step:1:0.5",
            "--patience", "5", "--json"]
    assert main([*args, "--epochs", "4", "--out", str(tmp_path / "straight")]) == 0
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "split")]) == 0
    capsys.readouterr()
    assert main(["seed", "--resume", str(tmp_path / "split"), "--epochs", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from_epoch"] == 2 and summary["epochs_run"] == 4
    assert _step_losses(tmp_path / "split") == _step_losses(tmp_path / "straight")


def test_ctrl_c_saves_the_last_epoch_and_resume_finishes_the_run(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt in epoch 3 (raised by a callback, as Ctrl-C would arrive): exit 130,
    the state after epoch 2 saved; --resume then ends exactly where an unbroken run ends."""
    import chainrule.training.lifecycle as lifecycle
    from chainrule.training.callbacks import Callback

    class CtrlC(Callback):
        def on_step_end(self, state):
            if state.epoch == 3:
                raise KeyboardInterrupt

    real_fit = lifecycle.fit
    args = ["seed", "--samples", "600", "--batch-size", "50", "--epochs", "4"]
    assert main([*args, "--out", str(tmp_path / "straight"), "--quiet"]) == 0
    monkeypatch.setattr(lifecycle, "fit", lambda *a, callbacks=(), **k: real_fit(
        *a, callbacks=[*callbacks, CtrlC()], **k))
    assert main([*args, "--out", str(tmp_path / "broken"), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "saved the state after epoch 2" in err
    assert f"chainrule seed --resume {tmp_path / 'broken'}" in err
    monkeypatch.setattr(lifecycle, "fit", real_fit)
    assert len(_step_losses(tmp_path / "broken")) == 2 * 9
    assert main(["seed", "--resume", str(tmp_path / "broken"), "--quiet"]) == 0
    assert _step_losses(tmp_path / "broken") == _step_losses(tmp_path / "straight")


@pytest.mark.parametrize("args, message", [
    (["--epochs", "2"], r"has already finished \(2 epochs of 2\); give --epochs with more than 2"),
    (["--lr", "0.1"], r"only --epochs, --quiet, --json, --progress, --no-plots, --no-health and "
                      r"--checkpoint-every can be given with it, not --lr\."),
])
def test_resume_refuses(args, message, tmp_path, capsys):
    assert main(["seed", "--samples", "200", "--epochs", "2", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    assert main(["seed", "--resume", str(tmp_path / "r"), *args]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_health_monitor_is_on_by_default_and_explains_a_bad_run(tmp_path):
    bad = run_cli(*SMALL, "--lr", "5", "--init", "uniform:-4:4", "--out", str(tmp_path / "bad"),
                  "--json")
    assert bad.returncode == 0, bad.stderr
    warnings = json.loads(bad.stdout)["health_warnings"]
    assert any(w.startswith("exploding gradients: ") for w in warnings), warnings
    assert "exploding gradients" in (tmp_path / "bad" / "health.txt").read_text()
    good = run_cli(*SMALL, "--out", str(tmp_path / "good"), "--json")
    assert json.loads(good.stdout)["health_warnings"] == []
    off = run_cli(*SMALL, "--no-health", "--out", str(tmp_path / "off"), "--json")
    assert json.loads(off.stdout)["health_warnings"] is None
    assert not (tmp_path / "off" / "health.txt").exists()


def test_early_stopping_reports_the_loss_of_the_weights_it_kept(tmp_path, capsys):
    args = ["seed", "--patience", "2", "--samples", "5000", "--epochs", "40", "--lr", "0.3",
            "--no-health", "--out"]
    assert main([*args, str(tmp_path / "a"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with open(tmp_path / "a" / "metrics.json") as handle:
        val_loss = json.load(handle)["val_loss"]
    kept = summary["kept_epoch"]
    assert kept == summary["best_epoch"] < summary["epochs_run"]  # it stopped after the best
    assert summary["kept_val_loss"] == val_loss[kept - 1] == min(val_loss)
    assert main([*args, str(tmp_path / "b"), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"validation MSE {summary['kept_val_loss']:.4f} at epoch {kept}, "
                           "whose weights were kept")
    assert out[1:] == [f"run folder: {tmp_path / 'b'}"]  # --quiet: the result only


def test_a_sweep_of_another_activation_leaves_out_the_sigmoid_rows_and_says_so(tmp_path):
    result = run_cli("--sweep", "--activation", "relu", "--samples", "2000", "--sweep-epochs",
                     "1", "--sweep-inits", "torch-default", "--sweep-treatments", "none",
                     "--sweep-lrs", "0.1", "--out", str(tmp_path / "s"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["runs"] == 1 and summary["derivative"] == []
    assert any("backward of a sigmoid layer" in note and "relu" in note
               for note in summary["notes"])
    assert "SeedSigmoidLayer" not in (tmp_path / "s" / "sweep.md").read_text()


def test_a_sweep_stopped_with_ctrl_c_keeps_its_finished_runs(tmp_path, capsys, monkeypatch):
    import chainrule.apps.seed

    real_one_row, calls = chainrule.apps.seed._one_row, []

    def one_row(*args, **kwargs):  # Ctrl-C arrives during the third run
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_one_row(*args, **kwargs)

    monkeypatch.setattr(chainrule.apps.seed, "_one_row", one_row)
    out = tmp_path / "s"
    assert main(["seed", "--sweep", "--samples", "1000", "--sweep-epochs", "1",
                 "--sweep-inits", "torch-default", "--sweep-treatments", "none,clip-value:1",
                 "--sweep-lrs", "0.1", "--out", str(out), "--quiet"]) == 130
    saved = json.loads((out / "sweep.json").read_text())
    assert saved["interrupted"] and saved["runs_planned"] == 4 and len(saved["grid"]) == 2
    assert "interrupted after 2 of 4 runs" in capsys.readouterr().err
