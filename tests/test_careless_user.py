"""What a careless user found (issue 15), each fixed and held here."""

import csv

import pytest

from chainrule.cli import main
from chainrule.training.runs import check_new_run_dir


def _fails(capsys, argv, pattern):
    try:
        status = main(argv)
    except SystemExit as stop:  # (argparse's own errors end the program there)
        status = stop.code
    assert status == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0, err  # one sentence, no usage block
    assert __import__("re").search(pattern, err), err
    return captured


def test_out_into_a_folder_of_other_files_is_refused(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text("my own settings")
    (folder / "notes.txt").write_text("keep me")
    _fails(capsys, ["seed", "--samples", "200", "--epochs", "1", "--out", str(folder)],
           r"is not empty \(config.json, notes.txt\) and holds no run; .* choose a new or empty "
           r"--out")
    assert (folder / "config.json").read_text() == "my own settings"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["seed", "--samples", "200", "--epochs", "1", "--quiet", "--no-plots", "--out",
                 str(empty)]) == 0


def test_a_folder_holding_a_run_names_resume_only_where_it_applies(tmp_path):
    (tmp_path / "checkpoint.crk").write_bytes(b"")
    with pytest.raises(ValueError, match="continue it with --resume"):
        check_new_run_dir(tmp_path)
    with pytest.raises(ValueError, match=r"already holds a run; choose another --out\.$"):
        check_new_run_dir(tmp_path, resumable=False)  # (export --from torch)


def test_whole_numbers_far_beyond_the_rows_are_not_taken_as_classes(tmp_path, capsys):
    path = tmp_path / "houses.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["area", "price"])
        for i in range(40):
            writer.writerow([50 + i, 100_000 + 15_000 * i])
    _fails(capsys, ["train", "--csv", str(path), "--target", "price", "--loss", "cross_entropy",
                    "--out", str(tmp_path / "run")],
           r"would make 685001 classes \(labels 0 to 685000\) from 40 rows with 40 distinct "
           r"values; .* use --loss mse, l1 or huber")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--lr", "abc"], r"^chainrule train: error: --lr must be a number\. Got 'abc' "
                               r"instead\. See chainrule train --help\.$"),
    (["seed", "--epochs", "2.5"], r"--epochs must be an integer\. Got '2.5' instead"),
    (["train", "--function", "a", "--lr", "inf"], r"--lr must be a finite number > 0\. Got inf"),
    (["seed", "--init", "foo"], r"^chainrule seed: error: --init must be one of torch-default, .*"
                                r"Got 'foo' instead\.$"),
    (["train", "--function", "a", "--init", "foo"],
     r"^chainrule train: error: --init must be one of torch-default, .* Got 'foo' instead\.$"),
    (["train", "--dtype", "float16"], r"--dtype must be one of float32, float64\. Got 'float16'"),
])
def test_errors_have_one_shape(capsys, argv, pattern):
    _fails(capsys, argv, pattern)


def test_explain_checks_for_graphviz_before_printing_the_trace(tmp_path, capsys, monkeypatch):
    import chainrule.apps.viz as viz

    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    captured = _fails(capsys, ["explain", "--graph", str(tmp_path / "x.png")],
                      r"--graph .*x.png: render needs Graphviz's dot program.* Or save the DOT "
                      r"text with --graph .*x\.dot\.")
    assert captured.out == ""  # no trace was printed


def test_one_epoch_is_one_epoch(tmp_path, capsys):
    assert main(["seed", "--samples", "200", "--epochs", "1", "--quiet", "--no-plots", "--out",
                 str(tmp_path / "s")]) == 0
    assert "for 1 epoch in" in capsys.readouterr().out
    assert main(["train", "--function", "a", "--samples", "50", "--epochs", "1", "--quiet",
                 "--no-plots", "--out", str(tmp_path / "t")]) == 0
    assert "trained 1 epoch:" in capsys.readouterr().out


def _iris_like(path, rows=60):
    import numpy as np

    generator = np.random.default_rng(0)
    names = ["setosa", "versicolor", "virginica"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["petal", "sepal", "species"])
        for i in range(rows):
            k = i % 3
            writer.writerow([f"{k + generator.normal(0, 0.1):.3f}",
                             f"{2 * k + generator.normal(0, 0.1):.3f}", names[k]])


def test_text_class_labels_are_classes_and_predict_gives_them_back(tmp_path, capsys):
    data = tmp_path / "iris.csv"
    _iris_like(data)
    run_dir = tmp_path / "run"
    assert main(["train", "--csv", str(data), "--target", "species", "--loss", "cross_entropy",
                 "--epochs", "30", "--lr", "0.05", "--no-plots", "--quiet", "--json",
                 "--out", str(run_dir)]) == 0
    summary = __import__("json").loads(capsys.readouterr().out)
    assert summary["task"] == "classification" and summary["val_accuracy"] == 1.0
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(run_dir), "--csv", str(data), "--out", str(out)]) == 0
    assert "accuracy 1.0000" in capsys.readouterr().out
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-4:] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [row["prediction"] for row in rows] == [row["species"] for row in rows]


def test_a_text_feature_column_points_to_features(tmp_path, capsys):
    data = tmp_path / "iris.csv"
    _iris_like(data)
    _fails(capsys, ["train", "--csv", str(data), "--target", "petal", "--out",
                    str(tmp_path / "run")],
           r"column 'species': 'setosa' is not a number\. Every feature column must hold "
           r"numbers; choose the numeric ones with --features A,B,\.\.\.")


def test_a_classifiers_loss_curve_shows_its_accuracy(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import chainrule.apps.plot as plot

    drawn = {}
    real = plot.loss_curves

    def spy(*args, **kwargs):
        drawn.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(plot, "loss_curves", spy)
    data = tmp_path / "iris.csv"
    _iris_like(data)
    assert main(["train", "--csv", str(data), "--target", "species", "--loss", "cross_entropy",
                 "--epochs", "4", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert sorted(drawn["accuracy"]) == [1, 2, 3, 4]
    assert all(0 <= value <= 1 for value in drawn["accuracy"].values())
    assert (tmp_path / "run" / "loss_curve.png").exists()
