"""``chainrule train`` and ``chainrule predict`` end to end: files, JSON, exit codes, Ctrl-C and
resume, and one clear sentence for every kind of bad input.

Whole runs go through a subprocess (``python -m chainrule``), as a user would start them; the many
bad-input cases call ``chainrule.cli.main`` in this process, which is the same code path minus
the interpreter start-up.
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import chainrule
from chainrule.apps import plot
from chainrule.cli import main
from chainrule.training.builders import ACTIVATIONS, OPTIMIZERS, build_loss
from chainrule.apps.tabular import load_run, predict_array
from chainrule.apps.tabular import prepare_data
from chainrule.training.tasks import loss_for, target_std

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def chainrule_process(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True,
                          text=True, env=env, timeout=120, **kwargs)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + 3
    rows = [[f"id{i}", *X[i], y[i]] for i in range(60)]
    return write_csv(tmp_path / "data.csv", ["id", "a", "b", "c", "y"], rows)


def run_main(capsys, *args):
    """(exit code, stdout, stderr) of chainrule.cli.main in this process."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def fails_with(capsys, pattern, *args):
    code, out, err = run_main(capsys, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {args[0]}: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


# ----- whole runs in a subprocess ---------------------------------------------------------------

def test_function_run_writes_the_run_folder_and_a_json_summary(tmp_path):
    out = tmp_path / "run"
    result = chainrule_process("train", "--function", "5*a**2 + 3*b**2", "--samples", "120",
                               "--epochs", "3", "--hidden", "8", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["run_dir"] == str(out)
    assert summary["epochs_run"] == 3 and summary["task"] == "regression"
    assert summary["features"] == ["a", "b"]
    names = {os.path.basename(p) for p in summary["files"]}
    assert {"config.json", "metrics.csv", "metrics.json", "checkpoint.crk"} <= names
    if plot.available():
        assert {"loss_curve.png", "surface.png"} <= names
    for path in summary["files"]:
        assert os.path.getsize(path) > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert summary["final_train_loss"] == metrics["train_loss"][-1]
    assert summary["final_val_loss"] == metrics["val_loss"][-1]
    assert len(metrics["step_loss"]) == 3 * 3  # 96 training rows in batches of 32
    assert len((out / "metrics.csv").read_text().splitlines()) == 4
    config = json.loads((out / "config.json").read_text())
    assert config["function"] == "5*a**2 + 3*b**2" and config["hidden"] == [8]
    assert "epoch 1: train loss" in result.stderr  # with --json the log goes to stderr


def test_help_has_examples():
    for command in ("train", "predict"):
        result = chainrule_process(command, "--help")
        assert result.returncode == 0
        assert "examples:" in result.stdout and f"chainrule {command} " in result.stdout


def test_bad_input_in_a_subprocess_is_one_sentence_and_exit_2(tmp_path):
    result = chainrule_process("train", "--csv", str(tmp_path / "missing.csv"), "--target", "y")
    assert result.returncode == 2
    assert result.stderr.strip() == f"chainrule train: error: {tmp_path / 'missing.csv'}: no such file."
    assert result.stdout == ""


def test_csv_run_and_predict_round_trip(tmp_path, regression_csv):
    run_dir = tmp_path / "run"
    result = chainrule_process("train", "--csv", regression_csv, "--target", "y",
                               "--features", "a,b,c", "--epochs", "4", "--hidden", "8",
                               "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9",
                               "--scheduler", "step:2:0.5", "--out", str(run_dir), "--quiet",
                               "--no-plots")
    assert result.returncode == 0, result.stderr
    # --quiet: the result and the run folder only
    assert result.stdout.splitlines()[0].startswith("trained 4 epochs: train loss ")
    assert result.stdout.splitlines()[1:] == [f"run folder: {run_dir}"] and result.stderr == ""
    predictions = tmp_path / "p.csv"
    result = chainrule_process("predict", "--model", str(run_dir), "--csv", regression_csv,
                               "--out", str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # every input column is carried along as it was (the id beside its prediction)
    assert summary["rows"] == 60
    assert summary["columns"] == ["id", "a", "b", "c", "y", "prediction"]

    with open(predictions) as handle:
        rows = list(csv.DictReader(handle))
    written = np.array([float(r["prediction"]) for r in rows])
    with open(regression_csv) as handle:
        source = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == [r["id"] for r in source]
    assert [r["a"] for r in rows] == [r["a"] for r in source]  # the cells' own text
    X = np.array([[float(r[k]) for k in "abc"] for r in source])
    y = np.array([float(r["y"]) for r in source])
    model, data, _ = load_run(str(run_dir))
    expected = predict_array(model, data, X)[:, 0]
    np.testing.assert_array_equal(written, expected)  # shortest repr reads back exactly
    mse = float(np.mean((expected.astype(np.float32) - y.astype(np.float32)) ** 2))
    assert summary["loss"] == pytest.approx(mse, rel=1e-5)
    # the standardizer was fitted on the training rows only, and is the one predict applied
    mean = np.asarray(data["standardizer"]["mean"])
    assert mean.shape == (3,) and not np.allclose(mean, X.mean(axis=0))


def test_classification_run_and_predict(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    path = write_csv(tmp_path / "c.csv", ["x1", "x2", "label"],
                     [[*X[i], labels[i]] for i in range(60)])
    code, out, _ = run_main(capsys, "train", "--csv", path, "--target", "label", "--loss",
                            "cross_entropy", "--epochs", "3", "--hidden", "8", "--out",
                            str(tmp_path / "run"), "--json", "--quiet", "--no-plots")
    summary = json.loads(out)
    assert code == 0 and summary["task"] == "classification"
    assert 0 <= summary["val_accuracy"] <= 1
    code, out, _ = run_main(capsys, "predict", "--model", str(tmp_path / "run"), "--csv", path)
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["x1", "x2", "label", "prediction", "p_0", "p_1", "p_2"]
    for row in rows:
        probabilities = [float(row[f"p_{k}"]) for k in range(3)]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
        assert int(row["prediction"]) == int(np.argmax(probabilities))
    code, out, _ = run_main(capsys, "predict", "--model", str(tmp_path / "run"), "--csv", path,
                            "--out", str(tmp_path / "p.csv"), "--json")
    hits = np.mean([int(row["prediction"]) == int(row["label"]) for row in rows])
    assert json.loads(out)["accuracy"] == pytest.approx(hits)


def test_binary_run_and_predict(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2))
    path = write_csv(tmp_path / "b.csv", ["x1", "x2", "yes"],
                     [[*X[i], int(X[i, 0] > 0)] for i in range(40)])
    code, _, _ = run_main(capsys, "train", "--csv", path, "--target", "yes", "--loss",
                          "bce_with_logits", "--epochs", "2", "--hidden", "4", "--out",
                          str(tmp_path / "run"), "--quiet", "--no-plots")
    assert code == 0
    code, out, _ = run_main(capsys, "predict", "--model", str(tmp_path / "run"), "--csv", path)
    rows = list(csv.DictReader(out.splitlines()))
    assert all(int(r["prediction"]) == int(float(r["probability"]) >= 0.5) for r in rows)


def final_weights(run_dir):
    return chainrule.load(os.path.join(run_dir, "checkpoint.crk"))["model"]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_bit_for_bit(tmp_path):
    # Enough steps per epoch that the run is still going when the Ctrl-C arrives: with 40 samples
    # all 600 epochs could finish (their lines waiting in the pipe) before the test read "epoch 2".
    args = ["train", "--function", "sin(x) * y", "--samples", "800", "--hidden", "4",
            "--batch-size", "16", "--epochs", "600", "--no-plots"]
    reference = tmp_path / "straight"
    result = chainrule_process(*args, "--out", str(reference), "--quiet")
    assert result.returncode == 0, result.stderr

    run_dir = tmp_path / "interrupted"
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # The child takes Ctrl-C the default way even where this test runs with SIGINT ignored (a job
    # started in the background by a shell without job control inherits SIG_IGN, and Python then
    # never raises KeyboardInterrupt).
    process = subprocess.Popen([sys.executable, "-m", "chainrule", *args, "--out", str(run_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in process.stdout:  # wait until training is under way
            if line.startswith("epoch 2:"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Interrupted: saved the state after epoch" in err
    assert f"Resume with: chainrule train --resume {run_dir}" in err
    checkpoint = chainrule.load(os.path.join(run_dir, "checkpoint.crk"))
    stopped_at = checkpoint["epoch"]
    assert 1 <= stopped_at < 600 and not checkpoint["finished"]

    result = chainrule_process("train", "--resume", str(run_dir), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["resumed_from_epoch"] == stopped_at
    assert summary["epochs_run"] == 600
    straight, resumed = final_weights(reference), final_weights(run_dir)
    for name in straight:
        assert np.array_equal(straight[name], resumed[name]), name
    ours = json.loads((run_dir / "metrics.json").read_text())
    theirs = json.loads((reference / "metrics.json").read_text())
    assert ours["step_loss"] == theirs["step_loss"]

    result = chainrule_process("train", "--resume", str(run_dir))
    assert result.returncode == 2
    assert "has already finished (600 epochs of 600)" in result.stderr


# ----- options: every name works ----------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_trains(tmp_path, capsys, activation):
    code, out, err = run_main(capsys, "train", "--function", "a*b", "--samples", "20",
                              "--epochs", "1", "--hidden", "4", "--activation", activation,
                              "--out", str(tmp_path / "r"), "--json", "--quiet", "--no-plots")
    assert code == 0, err
    assert np.isfinite(json.loads(out)["final_train_loss"])


@pytest.mark.parametrize("optimizer, scheduler, init", [
    ("sgd", "none", "torch-default"), ("adam", "step:1:0.5", "uniform:-1:1"),
    ("adamw", "exponential:0.9", "normal:0.1"), ("rmsprop", "cosine", "truncnormal:0.1:-0.2:0.2"),
    ("adagrad", "plateau", "xavier"), ("sgd", "none", "kaiming"),
])
def test_every_optimizer_scheduler_and_init_trains(tmp_path, capsys, optimizer, scheduler, init):
    assert optimizer in OPTIMIZERS
    code, out, err = run_main(capsys, "train", "--function", "a + b", "--samples", "20",
                              "--epochs", "2", "--hidden", "4", "--optimizer", optimizer,
                              "--scheduler", scheduler, "--init", init, "--out",
                              str(tmp_path / "r"), "--json", "--quiet", "--no-plots",
                              "--dtype", "float64", "--loss", "huber", "--clip-norm", "1")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["epochs_run"] == 2 and np.isfinite(summary["final_train_loss"])
    if init.startswith("uniform"):
        weights = final_weights(tmp_path / "r")
        assert all(np.abs(w).max() <= 1.5 for w in weights.values())


def test_fewer_rows_than_a_batch_is_one_batch_with_a_note(tmp_path, capsys):
    code, out, _ = run_main(capsys, "train", "--function", "a", "--samples", "10", "--epochs",
                            "2", "--batch-size", "64", "--out", str(tmp_path / "r"), "--json",
                            "--quiet", "--no-plots")
    assert code == 0
    summary = json.loads(out)
    assert any("fewer than --batch-size 64" in note and "one batch of 8 rows" in note
               for note in summary["notes"])
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert len(metrics["step_loss"]) == 2  # one step per epoch


def test_patience_stops_early(tmp_path, capsys):
    code, out, err = run_main(capsys, "train", "--function", "a", "--samples", "40", "--epochs",
                              "200", "--lr", "0.5", "--optimizer", "sgd", "--patience", "2",
                              "--out", str(tmp_path / "r"), "--json", "--no-plots")
    assert code == 0
    summary = json.loads(out)
    assert summary["stopped_early"] and summary["epochs_run"] < 200
    assert "early stopping" in err


# ----- bad input: one sentence, exit 2 ----------------------------------------------------------

def test_unknown_columns(capsys, regression_csv):
    fails_with(capsys, r"no column 'price' for the target; the columns are id, a, b, c, y",
               "train", "--csv", regression_csv, "--target", "price")
    fails_with(capsys, r"no column 'd' for a feature", "train", "--csv", regression_csv,
               "--target", "y", "--features", "a,d")


def test_non_numeric_cell_names_the_line(capsys, tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["a", "y"], [[1, 2], [3, 4], ["abc", 5]])
    fails_with(capsys, r"line 4, column 'a': 'abc' is not a number", "train", "--csv", path,
               "--target", "y")


def test_nan_and_inf_in_the_data(capsys, tmp_path):
    path = write_csv(tmp_path / "nan.csv", ["a", "y"], [[1, 2], [3, "nan"], [4, 5]])
    fails_with(capsys, r"line 3, column 'y': 'nan' is not a finite number", "train", "--csv",
               path, "--target", "y")
    fails_with(capsys, r"gives NaN or Inf at \d+ of the 50 points.*--range", "train",
               "--function", "log(x)", "--samples", "50")


def test_missing_file_and_folder_as_file(capsys, tmp_path):
    fails_with(capsys, r"no such file", "train", "--csv", str(tmp_path / "nope.csv"),
               "--target", "y")
    fails_with(capsys, r"is a folder, not a CSV file", "train", "--csv", str(tmp_path),
               "--target", "y")


def test_impossible_shapes(capsys, tmp_path):
    fails_with(capsys, r"--hidden: every layer size must be an integer >= 1. Got 0", "train",
               "--function", "a", "--hidden", "8,0")
    fails_with(capsys, r"--hidden must be layer sizes separated by commas", "train",
               "--function", "a", "--hidden", "8,,8")
    path = write_csv(tmp_path / "one.csv", ["a", "y"], [[1, 2]])
    fails_with(capsys, r"has 1 row\(s\); training needs at least 2", "train", "--csv", path,
               "--target", "y", "--val-fraction", "0")
    two = write_csv(tmp_path / "two.csv", ["a", "y"], [[1, 2], [3, 4]])
    fails_with(capsys, r"--val-fraction 0.2 of 2 rows leaves the validation set empty; use more "
                       r"rows in the CSV", "train", "--csv", two, "--target", "y")


@pytest.mark.parametrize("flag, value, pattern", [
    ("--lr", "-1", r"--lr must be a number > 0. Got -1.0 instead"),
    ("--lr", "nan", r"--lr must be a finite number > 0. Got nan instead"),
    ("--lr", "inf", r"--lr must be a finite number > 0. Got inf instead"),
    ("--epochs", "0", r"--epochs must be an integer >= 1. Got 0 instead"),
    ("--batch-size", "0", r"--batch-size must be an integer >= 1"),
    ("--momentum", "1.5", r"--momentum must be a number in the range \[0, 1\). Got 1.5"),
    ("--weight-decay", "-0.1", r"--weight-decay must be a number >= 0"),
    ("--val-fraction", "1", r"--val-fraction must be a number in the range \[0, 1\)"),
    ("--clip-norm", "0", r"--clip-norm must be a number > 0"),
    ("--clip-value", "-2", r"--clip-value must be a number > 0"),
    ("--patience", "0", r"--patience must be an integer >= 1"),
    ("--samples", "1", r"--samples must be an integer >= 2"),
    ("--noise", "-1", r"--noise must be a number >= 0"),
    ("--init", "uniform:1:-1", r"--init 'uniform:1:-1': A must be less than B"),
    ("--init", "orthogonal", r"--init must be one of torch-default, "),
    ("--scheduler", "step:0:0.5", r"STEP must be an integer >= 1"),
    ("--scheduler", "linear", r"--scheduler must be one of none, step"),
    ("--range", "2:1", r"--range '2:1': LOW and HIGH must be finite with LOW < HIGH"),
])
def test_hyper_parameters_out_of_range(capsys, flag, value, pattern):
    extra = ["--optimizer", "sgd"] if flag == "--momentum" else []
    fails_with(capsys, pattern, "train", "--function", "a", flag, value, *extra)


def test_unknown_names_list_the_valid_ones(capsys):
    fails_with(capsys, r"--activation must be one of relu, leaky_relu, "
               r"sigmoid, tanh, softmax, log_softmax, gelu, elu, selu, softplus, silu\.",
               "train", "--function", "a", "--activation", "swish")
    fails_with(capsys, r"--optimizer must be one of sgd, adam, adamw, "
               r"rmsprop, adagrad\.", "train", "--function", "a", "--optimizer", "lbfgs")
    fails_with(capsys, r"--loss must be one of mse, l1, huber, "
               r"cross_entropy, bce_with_logits\.", "train", "--function", "a", "--loss", "hinge")


def test_conflicting_or_missing_options(capsys, regression_csv):
    fails_with(capsys, r"give the data with --function EXPR, with --csv FILE --target COLUMN, "
                       r"or with --images SOURCE", "train")
    fails_with(capsys, r"--function and --csv cannot be used together", "train", "--function",
               "a", "--csv", regression_csv)
    fails_with(capsys, r"--csv needs --target COLUMN", "train", "--csv", regression_csv)
    fails_with(capsys, r"--range applies to --function only", "train", "--csv", regression_csv,
               "--target", "y", "--range", "0:1")
    fails_with(capsys, r"--target applies to --csv only", "train", "--function", "a",
               "--target", "y")
    fails_with(capsys, r"--momentum applies to sgd and rmsprop only, not to adam", "train",
               "--function", "a", "--momentum", "0.9")
    fails_with(capsys, r"--normalize-grad replaces clipping", "train", "--function", "a",
               "--normalize-grad", "--clip-value", "1")
    fails_with(capsys, r"--function: expression: '__import__' is not allowed", "train",
               "--function", "__import__('os')")


def test_targets_that_do_not_fit_the_loss(capsys, regression_csv):
    fails_with(capsys, r"--loss cross_entropy needs class labels 0, 1, ..., K-1 in 'y'; row 1 "
               r"has", "train", "--csv", regression_csv, "--target", "y", "--features", "a,b",
               "--loss", "cross_entropy")
    fails_with(capsys, r"--loss bce_with_logits needs 0/1 targets in 'y'", "train", "--csv",
               regression_csv, "--target", "y", "--features", "a", "--loss", "bce_with_logits")


def test_predict_errors(capsys, tmp_path, regression_csv):
    run_dir = str(tmp_path / "run")
    code, _, _ = run_main(capsys, "train", "--csv", regression_csv, "--target", "y", "--features",
                          "a,b,c", "--epochs", "1", "--hidden", "4", "--out", run_dir, "--quiet",
                          "--no-plots")
    assert code == 0
    other = write_csv(tmp_path / "other.csv", ["a", "b", "z"], [[1, 2, 3]])
    fails_with(capsys, r"other.csv lacks the column\(s\) c that the model was trained on; it "
               r"needs a, b, c and has a, b, z\.", "predict", "--model", run_dir, "--csv", other)
    fails_with(capsys, r"holds no checkpoint.crk", "predict", "--model", str(tmp_path),
               "--csv", regression_csv)
    fails_with(capsys, r"--json prints a summary on stdout, so the predictions need --out",
               "predict", "--model", run_dir, "--csv", regression_csv, "--json")
    bad = write_csv(tmp_path / "bad.csv", ["a", "b", "c"], [[1, 2, 3], [1, "x", 3]])
    fails_with(capsys, r"line 3, column 'b': 'x' is not a number", "predict", "--model",
               run_dir, "--csv", bad)


def test_resume_errors(capsys, tmp_path, regression_csv):
    run_dir = str(tmp_path / "run")
    code, _, _ = run_main(capsys, "train", "--csv", regression_csv, "--target", "y", "--features",
                          "a,b,c", "--epochs", "2", "--hidden", "4", "--out", run_dir, "--quiet",
                          "--no-plots")
    assert code == 0
    fails_with(capsys, r"the run folder .* already holds a run; continue it with --resume",
               "train", "--csv", regression_csv, "--target", "y", "--features", "nope", "--out",
               run_dir)
    fails_with(capsys, r"--resume continues with the saved settings; only --epochs, .* not "
               r"--lr", "train", "--resume", run_dir, "--lr", "0.1")
    fails_with(capsys, r"has already finished \(2 epochs of 2\); give --epochs with more than 2",
               "train", "--resume", run_dir, "--no-plots")
    code, out, _ = run_main(capsys, "train", "--resume", run_dir, "--epochs", "3", "--json",
                            "--quiet", "--no-plots")
    assert code == 0 and json.loads(out)["epochs_run"] == 3
    from chainrule.training.runs import make_checkpoint, save_checkpoint

    other = tmp_path / "other"
    other.mkdir()
    model = chainrule.nn.Linear(1, 1)
    save_checkpoint(other / "checkpoint.crk", make_checkpoint(
        model, chainrule.optim.SGD(model.parameters(), lr=0.1), config={"epochs": 3}))
    fails_with(capsys, r"was not written by chainrule train, so chainrule train cannot resume it",
               "train", "--resume", str(other))
    with open(regression_csv, "a") as handle:
        handle.write("extra,1,2,3,4\n")
    fails_with(capsys, r"has changed since the run started", "train", "--resume", run_dir,
               "--epochs", "4")


def test_resume_refuses_to_stretch_a_cosine_schedule(tmp_path):
    out = tmp_path / "cos"
    first = chainrule_process("train", "--function", "a*b", "--samples", "200", "--epochs", "2",
                    "--scheduler", "cosine", "--optimizer", "sgd", "--out", str(out), "--quiet",
                    "--no-plots")
    assert first.returncode == 0, first.stderr
    again = chainrule_process("train", "--resume", str(out), "--epochs", "6")
    assert again.returncode == 2
    assert "--epochs cannot change when resuming a run with --scheduler cosine" in again.stderr


def test_predict_out_folder_and_os_errors_are_one_sentence(tmp_path, regression_csv):
    run = tmp_path / "r"
    first = chainrule_process("train", "--csv", str(regression_csv), "--target", "y",
                              "--features", "a,b,c", "--epochs", "1", "--out", str(run), "--quiet",
                              "--no-plots")
    assert first.returncode == 0, first.stderr
    to_folder = chainrule_process("predict", "--model", str(run), "--csv", str(regression_csv),
                                  "--out", str(tmp_path))
    assert to_folder.returncode == 2
    assert "is a folder; give a file name" in to_folder.stderr
    assert "Traceback" not in to_folder.stderr
    too_long = chainrule_process("train", "--function", "a*b", "--samples", "100", "--epochs", "1",
                                 "--out", str(tmp_path / ("a" * 300)), "--quiet", "--no-plots")
    assert too_long.returncode == 2
    assert "file name too long." in too_long.stderr and "Traceback" not in too_long.stderr


def test_a_regression_target_is_learned_standardized_and_reported_in_its_units(tmp_path, capsys):
    # The first example of `chainrule train --help`: a target of mean 8 and variance near 70.
    # Learned raw, its val loss stayed above the variance (no better than predicting the mean).
    run_dir = str(tmp_path / "run")
    code, out, err = run_main(capsys, "train", "--function", "5*a**2 + 3*b**2", "--epochs", "30",
                              "--out", run_dir, "--no-plots", "--no-health", "--json")
    assert code == 0, err
    summary = json.loads(out)
    model, data, config = load_run(run_dir)
    chainrule.manual_seed(config["seed"])
    prepared = prepare_data(config)  # the same split and scaling, rebuilt from the config
    raw_val_targets = prepared.target_scaler.inverse_transform(prepared.y_val)
    assert summary["final_val_loss"] < 0.2 * float(np.var(raw_val_targets))
    # the reported val loss is the MSE in the target's units of what predict outputs
    predictions = predict_array(model, data, prepared.standardizer.inverse_transform(
        prepared.X_val))
    mse = float(np.mean((predictions.astype(np.float64) - raw_val_targets) ** 2))
    assert summary["final_val_loss"] == pytest.approx(mse, rel=1e-4)


@pytest.mark.parametrize("loss", ["mse", "l1", "huber"])
def test_the_loss_on_a_scaled_target_times_its_scale_is_the_loss_in_the_targets_units(loss):
    rng = np.random.default_rng(0)
    mean, std = 40.0, 7.5
    z, z_target = rng.normal(size=(50, 1)), rng.normal(size=(50, 1))  # in standard units
    data = {"target_standardizer": {"mean": np.array([mean]), "std": np.array([std])}}
    scaled_loss, scale = loss_for(loss, target_std(data))
    original_loss = build_loss(loss)  # (huber: delta 1 in the target's units)
    expected = original_loss(chainrule.tensor(z * std + mean), chainrule.tensor(z_target * std + mean))
    got = scaled_loss(chainrule.tensor(z), chainrule.tensor(z_target)).item() * scale
    assert got == pytest.approx(expected.item(), rel=1e-12)
    assert loss_for(loss, target_std({"target_standardizer": None}))[1] == 1.0


def test_predict_never_overwrites_its_input(tmp_path, capsys, regression_csv):
    run_dir = str(tmp_path / "run")
    assert main(["train", "--csv", regression_csv, "--target", "y", "--features", "a,b,c",
                 "--epochs", "1", "--hidden", "4", "--out", run_dir, "--quiet", "--no-plots"]) == 0
    with open(regression_csv) as handle:
        before = handle.read()
    fails_with(capsys, r"--out .*data.csv is the input file .*choose another --out", "predict",
               "--model", run_dir, "--csv", regression_csv, "--out", regression_csv)
    with open(regression_csv) as handle:
        assert handle.read() == before
    out = str(tmp_path / "p.csv")
    assert main(["predict", "--model", run_dir, "--csv", regression_csv, "--out", out]) == 0
    fails_with(capsys, r"already has the column\(s\) prediction that predict adds",
               "predict", "--model", run_dir, "--csv", out)


def test_resuming_a_run_that_stopped_early_is_refused_with_the_reason(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    code, out, err = run_main(capsys, "train", "--function", "a*b", "--samples", "200",
                              "--patience", "1", "--epochs", "200", "--lr", "0.05",
                              "--out", run_dir, "--json", "--no-plots", "--no-health")
    summary = json.loads(out)
    assert code == 0 and summary["stopped_early"], err
    fails_with(capsys, rf"stopped early after epoch {summary['epochs_run']}: .* for 1 epochs "
                       rf"since epoch {summary['kept_epoch']}, whose weights it kept",
               "train", "--resume", run_dir, "--epochs", "300")


def test_too_few_rows_for_the_validation_share_names_the_flag(capsys):
    fails_with(capsys, r"--val-fraction 0.2 of 2 rows leaves the validation set empty; use more "
                       r"--samples or another --val-fraction \(0: no validation\)", "train",
               "--function", "a+b", "--samples", "2")
