"""``chainrule train --images`` and ``chainrule predict --images`` end to end: a CNN (or an MLP) on
scikit-learn's digits, on an .npz file and on a folder of .npy images; resume bit for bit; predict;
export to PyTorch; the figures (learned filters, confusion matrix); and one clear sentence for
every kind of input that is not images, or not the images the run knows.

Runs go through ``chainrule.cli.main`` in this process (the code path of ``python -m chainrule``
minus the interpreter start-up), with a small CNN (--channels 4,8) and few epochs, to stay fast.
"""

import csv
import json
import os
import re

import numpy as np
import pytest

from chainrule.apps import plot
from chainrule.apps.images import load_image_run, load_images, predict_images
from chainrule.cli import main
from chainrule.training.health import HealthMonitor
from chainrule.training.runs import load_checkpoint

pytest.importorskip("sklearn")
needs_plots = pytest.mark.skipif(not plot.available(), reason="needs matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"
SMALL = ("--channels", "4,8", "--quiet", "--json")


def run_main(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def train(capsys, *args):
    """The JSON summary of a chainrule train run that must succeed."""
    code, out, err = run_main(capsys, "train", *args)
    assert code == 0, err
    return json.loads(out)


def fails_with(capsys, pattern, *args):
    code, out, err = run_main(capsys, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {args[0]}: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def halves(n=120, channels=3, size=6, seed=0):
    """Images (n, C, size, size) of two classes, 'left' (bright left half) and 'right': a CNN
    separates them within a few epochs."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.3, (n, channels, size, size))
    for i, label in enumerate(labels):
        if label:
            x[i, :, :, size // 2:] += 1.0
        else:
            x[i, :, :, : size // 2] += 1.0
    return x, np.array(["left", "right"])[labels]


@pytest.fixture
def halves_npz(tmp_path):
    x, y = halves()
    path = tmp_path / "halves.npz"
    np.savez(path, images=x.astype(np.float32), labels=y)
    return str(path)


def is_png(path):
    with open(path, "rb") as handle:
        return handle.read(8) == PNG


# ----- whole runs -------------------------------------------------------------------------------

@needs_plots
def test_cnn_on_digits_learns_and_writes_the_run_folder_with_its_figures(capsys, tmp_path):
    out = tmp_path / "digits"
    summary = train(capsys, "--images", "digits", "--epochs", "3", "--out", str(out), "--quiet",
                    "--json")
    images = summary["images"]
    assert images["shape"] == [1, 8, 8] and images["count"] == 1797 and images["classes"] == 10
    assert images["layout"] == "(N, H, W): one channel"
    assert images["model"] == "cnn"
    assert images["architecture"] == ("Conv2d(1->16, 3x3) ReLU MaxPool2d(2) Conv2d(16->32, 3x3) "
                                      "ReLU MaxPool2d(2) Flatten Linear(128->10)")
    assert summary["task"] == "classification"
    # three epochs of the default CNN: far above the 13% of always guessing the commonest digit
    # (measured: 0.93)
    assert summary["val_accuracy"] > 0.85 and summary["chance_accuracy"] < 0.2
    names = {os.path.basename(path) for path in summary["files"]}
    assert {"checkpoint.crk", "config.json", "metrics.csv", "health.txt", "loss_curve.png",
            "filters.png", "confusion_matrix.png", "health.png"} <= names
    for path in summary["files"]:
        assert os.path.exists(path)
        if path.endswith(".png"):
            assert is_png(path)
    config = json.loads((out / "config.json").read_text())
    assert config["source"] == "images" and config["images"] == "digits"
    assert config["loss"] == "cross_entropy" and config["hidden"] == []
    assert config["activation"] == "relu" and config["channels"] == [16, 32]


def test_the_text_summary_states_the_image_shape_and_how_to_predict(capsys, tmp_path):
    code, out, _ = run_main(capsys, "train", "--images", "digits", "--epochs", "1", "--channels",
                            "4", "--no-plots", "--no-health", "--out", str(tmp_path / "r"))
    assert code == 0
    assert ("data: 1797 images of 1x8x8 (C x H x W) from digits, 10 classes; model cnn with "
            in out)
    assert f"predict with: chainrule predict --model {tmp_path / 'r'} --images SOURCE" in out
    assert re.search(r"epoch 1: train loss [\d.]+, val loss [\d.]+", out)


def test_npz_with_text_labels_and_three_channels(capsys, tmp_path, halves_npz):
    summary = train(capsys, "--images", halves_npz, "--epochs", "6", "--out",
                    str(tmp_path / "r"), "--no-plots", *SMALL)
    images = summary["images"]
    assert images["shape"] == [3, 6, 6] and images["layout"] == "(N, C, H, W)"
    assert images["class_names"] == ["left", "right"] and images["classes"] == 2
    assert summary["val_accuracy"] >= 0.95  # an easy task (measured: 1.0)
    checkpoint = load_checkpoint(str(tmp_path / "r"))
    assert checkpoint["data"]["image_shape"] == [3, 6, 6]
    assert len(checkpoint["data"]["channel_standardizer"]["mean"]) == 3  # one per channel


def test_npz_of_n_h_w_arrays_is_read_as_one_channel_with_keys_x_and_y(capsys, tmp_path):
    x, y = halves(channels=1)
    path = tmp_path / "gray.npz"
    np.savez(path, x=x[:, 0], y=(y == "right").astype(np.int64))
    summary = train(capsys, "--images", str(path), "--epochs", "1", "--out",
                    str(tmp_path / "r"), "--no-plots", *SMALL)
    assert summary["images"]["shape"] == [1, 6, 6]
    assert summary["images"]["layout"] == "(N, H, W): one channel"
    assert summary["images"]["class_names"] is None


def test_folder_of_npy_images_in_class_subfolders_and_predict_on_a_loose_folder(capsys, tmp_path):
    x, y = halves(n=60, channels=1, size=8)
    for i, (image, label) in enumerate(zip(x, y)):
        (tmp_path / "train" / label).mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "train" / label / f"{i:03d}.npy", image[0])  # (H, W) per file
    summary = train(capsys, "--images", str(tmp_path / "train"), "--epochs", "8", "--out",
                    str(tmp_path / "r"), "--no-plots", "--batch-size", "16", *SMALL)
    assert summary["images"]["shape"] == [1, 8, 8]
    assert summary["images"]["class_names"] == ["left", "right"]
    assert summary["images"]["layout"] == "one image per file, (H, W): one channel"
    new = tmp_path / "new"
    new.mkdir()
    np.save(new / "a.npy", x[0, 0])
    np.save(new / "b.npy", x[1, 0])
    code, out, err = run_main(capsys, "predict", "--model", str(tmp_path / "r"), "--images",
                              str(new), "--out", str(tmp_path / "p.csv"))
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [row["image"] for row in rows] == ["a.npy", "b.npy"]
    assert set(rows[0]) == {"image", "prediction", "p_left", "p_right"}  # no labels: no label
    assert [row["prediction"] for row in rows] == list(y[:2])  # (measured: right, learned)


def test_mlp_on_images_flattens_them_and_draws_a_confusion_matrix_but_no_filters(capsys,
                                                                                  tmp_path):
    summary = train(capsys, "--images", "digits", "--model", "mlp", "--hidden", "16",
                    "--epochs", "2", "--out", str(tmp_path / "r"), "--quiet", "--json")
    assert summary["images"]["architecture"] == "Flatten Linear(64->16) Tanh Linear(16->10)"
    names = {os.path.basename(path) for path in summary["files"]}
    if plot.available():
        assert "confusion_matrix.png" in names
    assert "filters.png" not in names


@needs_plots
def test_a_csv_classifier_run_draws_a_confusion_matrix_too(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    label = (X[:, 0] > 0).astype(int)
    path = tmp_path / "c.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "label"])
        writer.writerows([[*X[i], label[i]] for i in range(80)])
    summary = train(capsys, "--csv", str(path), "--target", "label", "--loss", "cross_entropy",
                    "--epochs", "2", "--hidden", "8", "--out", str(tmp_path / "r"), "--quiet",
                    "--json")
    (matrix,) = [p for p in summary["files"] if p.endswith("confusion_matrix.png")]
    assert is_png(matrix)


def test_typed_defaults_are_kept_and_a_regression_on_images_works(capsys, tmp_path):
    """--loss mse, --hidden 64,64 and --activation tanh, typed, are what the run uses, although
    they are the MLP defaults that --images and --model cnn change."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2, 4, 4))
    path = tmp_path / "r.npz"
    np.savez(path, x=x, y=10 * x[:, 0].mean(axis=(1, 2)) + 3)
    summary = train(capsys, "--images", str(path), "--loss", "mse", "--hidden", "64,64",
                    "--activation", "tanh", "--epochs", "2", "--out", str(tmp_path / "r"),
                    *SMALL)
    assert summary["task"] == "regression" and summary["val_accuracy"] is None
    assert summary["images"]["architecture"].endswith("Flatten Linear(8->64) Tanh "
                                                      "Linear(64->64) Tanh Linear(64->1)")
    names = {os.path.basename(p) for p in summary["files"]}
    assert "confusion_matrix.png" not in names  # numbers, not classes
    code, out, err = run_main(capsys, "predict", "--model", str(tmp_path / "r"), "--images",
                              str(path), "--out", str(tmp_path / "p.csv"))
    assert code == 0, err
    assert "mse loss on the 60 labelled images" in out
    assert next(csv.reader(open(tmp_path / "p.csv"))) == ["image", "label", "prediction"]


# ----- resume, predict, export ------------------------------------------------------------------

def test_resume_continues_bit_for_bit_with_batch_norm_buffers(capsys, tmp_path, halves_npz):
    common = ("--images", halves_npz, "--batch-norm", "--no-plots", *SMALL)
    straight = train(capsys, *common, "--epochs", "3", "--out", str(tmp_path / "a"))
    train(capsys, *common, "--epochs", "1", "--out", str(tmp_path / "b"))
    resumed = train(capsys, "--resume", str(tmp_path / "b"), "--epochs", "3", "--quiet",
                    "--json", "--no-plots")
    assert resumed["resumed_from_epoch"] == 1
    assert resumed["final_val_loss"] == straight["final_val_loss"]
    a, b = load_checkpoint(str(tmp_path / "a")), load_checkpoint(str(tmp_path / "b"))
    assert "1.running_mean" in a["model"] and "1.num_batches_tracked" in a["model"]
    assert list(a["model"]) == list(b["model"])
    for key in a["model"]:
        np.testing.assert_array_equal(np.asarray(a["model"][key]), np.asarray(b["model"][key]),
                                      err_msg=key)


def test_resume_refuses_when_the_images_changed(capsys, tmp_path, halves_npz):
    train(capsys, "--images", halves_npz, "--epochs", "1", "--out", str(tmp_path / "r"),
          "--no-plots", *SMALL)
    x, y = halves(seed=1)
    np.savez(halves_npz, images=x, labels=y)
    fails_with(capsys, r"halves.npz has changed \(or gone\) since the run started", "train",
               "--resume", str(tmp_path / "r"), "--epochs", "2")


def test_predict_with_labels_reports_the_accuracy_of_its_own_predictions(capsys, tmp_path,
                                                                         halves_npz):
    run_dir = str(tmp_path / "r")
    train(capsys, "--images", halves_npz, "--epochs", "4", "--out", run_dir, "--no-plots",
          *SMALL)
    x, y = halves(n=40, seed=5)
    test = tmp_path / "test.npz"
    np.savez(test, x=x, y=y)
    code, out, err = run_main(capsys, "predict", "--model", run_dir, "--images", str(test),
                              "--out", str(tmp_path / "p.csv"), "--json")
    assert code == 0, err
    report = json.loads(out)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert report["columns"] == ["image", "label", "prediction", "p_left", "p_right"]
    assert [row["image"] for row in rows] == [str(i) for i in range(40)]
    assert [row["label"] for row in rows] == list(y)
    hits = np.mean([row["prediction"] == row["label"] for row in rows])
    assert report["accuracy"] == pytest.approx(hits)
    # the probabilities are the model's on the images scaled as in training
    model, data, _ = load_image_run(run_dir)
    outputs = predict_images(model, data, load_images(str(test)).x)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    np.testing.assert_allclose([[float(row["p_left"]), float(row["p_right"])] for row in rows],
                               probabilities, rtol=1e-6)


def test_export_to_torch_gives_a_model_with_the_same_outputs(capsys, tmp_path, halves_npz):
    torch = pytest.importorskip("torch")
    run_dir = str(tmp_path / "r")
    train(capsys, "--images", halves_npz, "--epochs", "1", "--batch-norm", "--out", run_dir,
          "--no-plots", *SMALL)
    code, out, err = run_main(capsys, "export", "--to", "torch", run_dir, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["image_shape"] == [3, 6, 6]
    assert len(summary["channel_standardizer"]["mean"]) == 3
    namespace = {}
    exec("\n".join(summary["snippet"]), namespace)  # the lines the command tells the user
    theirs = namespace["model"].eval()
    model, data, _ = load_image_run(run_dir)
    x = halves(n=10, seed=3)[0]
    ours = predict_images(model, data, x)
    scaler = summary["channel_standardizer"]
    scaled = (x - np.reshape(scaler["mean"], (1, 3, 1, 1))) / np.reshape(scaler["std"], (1, 3, 1, 1))
    with torch.no_grad():
        expected = theirs(torch.tensor(scaled, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


# ----- refusals ---------------------------------------------------------------------------------

def test_a_cnn_needs_images(capsys, tmp_path):
    fails_with(capsys, r"--model cnn needs image-shaped input, and --function gives rows of "
                       r"numbers: give --images digits, FILE.npz or FOLDER", "train",
               "--function", "a*b", "--model", "cnn")
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    fails_with(capsys, r"--model cnn needs image-shaped input, and --csv gives rows", "train",
               "--csv", str(path), "--target", "b", "--model", "cnn")
    fails_with(capsys, r"--model cnn needs images: give --images", "train", "--model", "cnn")
    fails_with(capsys, r"--channels applies to --model cnn on --images only", "train",
               "--function", "a*b", "--channels", "8")
    fails_with(capsys, r"--batch-norm applies to --model cnn, not to --model mlp", "train",
               "--images", "digits", "--model", "mlp", "--batch-norm")
    fails_with(capsys, r"--target does not apply to --images", "train", "--images", "digits",
               "--target", "y")
    fails_with(capsys, r"--csv and --images cannot be used together", "train", "--images",
               "digits", "--csv", str(path))


def test_bad_model_settings_for_images(capsys):
    fails_with(capsys, r"--channels 16,32,64,128 makes 4 conv blocks, each halving the image "
                       r"with a 2x2 max-pool, but 8x8 images are down to 1x1 before block 4; "
                       r"give at most 3 channel counts", "train", "--images", "digits",
               "--channels", "16,32,64,128")
    fails_with(capsys, r"--kernel-size must be an odd integer >= 1", "train", "--images",
               "digits", "--kernel-size", "2")
    fails_with(capsys, r"--activation softmax normalises along the last dim, which in a conv "
                       r"feature map \(N, C, H, W\) is the image width", "train", "--images",
               "digits", "--activation", "softmax")
    fails_with(capsys, r"--channels: every channel count must be an integer >= 1", "train",
               "--images", "digits", "--channels", "8,0")


@pytest.mark.parametrize("arrays, pattern", [
    ({"x": np.zeros((10, 64)), "y": np.zeros(10)},
     r"'x' has shape \(10, 64\): rows of 64 numbers, not images \(N, C, H, W\) or \(N, H, W\); "
     r"reshape it \(for 64 pixels of a square image: x.reshape\(-1, 8, 8\)\)"),
    ({"x": np.zeros((10, 28, 28, 3)), "y": np.zeros(10)},
     r"'x' has shape \(10, 28, 28, 3\): it looks channels-last \(N, H, W, C\), and chainrule, "
     r"as PyTorch, reads channels first: save x.transpose\(0, 3, 1, 2\) instead"),
    ({"x": np.zeros((10, 1, 2, 3, 4)), "y": np.zeros(10)},
     r"has shape \(10, 1, 2, 3, 4\); images must be \(N, C, H, W\) or \(N, H, W\)"),
    ({"pixels": np.zeros((10, 8, 8))},
     r"has the arrays 'pixels'; expected the images under 'x' or 'images'"),
    ({"x": np.zeros((10, 8, 8))}, r"has images under 'x' but no labels; training needs them"),
    ({"x": np.zeros((10, 8, 8)), "y": np.zeros(9)}, r"'y' has 9 labels for 10 images"),
    ({"x": np.full((10, 8, 8), np.nan), "y": np.zeros(10)},
     r"'x' holds NaN or Inf \(first at index \(0, 0, 0, 0\)\)"),
    ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) + 0.5},
     r"--loss cross_entropy needs class labels 0, 1, ..., K-1 in 'the labels of .*'; row 1 "
     r"has 0.5"),
    ({"x": np.zeros((10, 8, 8)), "images": np.zeros((10, 8, 8)), "y": np.zeros(10)},
     r"has both 'x' and 'images'; keep one array of images"),
])
def test_arrays_that_are_not_labelled_images_are_refused_naming_shape_and_fix(
        capsys, tmp_path, arrays, pattern):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    fails_with(capsys, pattern, "train", "--images", str(path), "--out", str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()  # refused before any run folder is made


def test_bad_sources_are_refused(capsys, tmp_path):
    fails_with(capsys, r"--images nowhere.npz: no such file or folder", "train", "--images",
               "nowhere.npz")
    np.save(tmp_path / "one.npy", np.zeros((4, 8, 8)))
    fails_with(capsys, r"one.npy is one .npy array; give an .npz file with the images under "
                       r"'x'", "train", "--images", str(tmp_path / "one.npy"))
    (tmp_path / "text.npz").write_text("not numpy")
    fails_with(capsys, r"text.npz is not an .npz file that NumPy can read", "train",
               "--images", str(tmp_path / "text.npz"))
    loose = tmp_path / "loose"
    loose.mkdir()
    np.save(loose / "a.npy", np.zeros((8, 8)))
    fails_with(capsys, r"loose has no class subfolders; training needs labels: put each class's "
                       r".npy images in a subfolder", "train", "--images", str(loose))
    mixed = tmp_path / "mixed"
    (mixed / "cat").mkdir(parents=True)
    (mixed / "dog").mkdir()
    np.save(mixed / "cat" / "1.npy", np.zeros((8, 8)))
    np.save(mixed / "dog" / "2.npy", np.zeros((8, 9)))
    fails_with(capsys, r"dog/2.npy has shape \(8, 9\), an image of 1x8x9 \(C x H x W\), but "
                       r".*cat/1.npy is 1x8x8 \(C x H x W\); every image must have the same "
                       r"shape", "train", "--images", str(mixed))
    np.save(mixed / "dog" / "2.npy", np.zeros((8, 8, 3)))
    fails_with(capsys, r"dog/2.npy has shape \(8, 8, 3\): it looks channels-last \(H, W, C\), "
                       r"and chainrule, as PyTorch, reads channels first: save "
                       r"x.transpose\(2, 0, 1\) instead", "train", "--images", str(mixed))


def test_predict_refuses_the_wrong_kind_of_input(capsys, tmp_path, halves_npz):
    run_dir = str(tmp_path / "r")
    train(capsys, "--images", halves_npz, "--epochs", "1", "--out", run_dir, "--no-plots",
          *SMALL)
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    fails_with(capsys, r"was trained on images of 3x6x6 \(C x H x W\), not on CSV columns; "
                       r"predict with --images SOURCE", "predict", "--model", run_dir,
               "--csv", str(path))
    fails_with(capsys, r"the images have shape 1x8x8 \(C x H x W\) but the model was trained on "
                       r"3x6x6 \(C x H x W\); give images of that shape", "predict", "--model",
               run_dir, "--images", "digits")
    tabular = str(tmp_path / "tab")
    train(capsys, "--function", "a*b", "--samples", "50", "--epochs", "1", "--hidden", "4",
          "--out", tabular, "--no-plots", "--quiet", "--json")
    fails_with(capsys, r"was not trained on images \(chainrule train --images\); predict on its "
                       r"CSV columns with --csv FILE", "predict", "--model", tabular,
               "--images", halves_npz)


# ----- the figures and the health monitor -------------------------------------------------------

@needs_plots
def test_the_figures_refuse_bad_shapes_and_draw_several_input_channels(tmp_path):
    with pytest.raises(ValueError, match=r"conv_filters: expected a Conv2d weight \(out_channels, "
                                         r"in_channels, kh, kw\). Got shape \(4, 3, 3\)"):
        plot.conv_filters(np.zeros((4, 3, 3)), tmp_path / "f.png")
    with pytest.raises(ValueError, match=r"confusion_matrix: expected a square table of counts. "
                                         r"Got shape \(2, 3\)"):
        plot.confusion_matrix(np.zeros((2, 3)), tmp_path / "c.png")
    with pytest.raises(ValueError, match=r"confusion_matrix: 3 labels for 2 classes"):
        plot.confusion_matrix(np.eye(2), tmp_path / "c.png", labels=["a", "b", "c"])
    weight = np.random.default_rng(0).normal(size=(10, 3, 5, 5))  # more filters than shown
    assert is_png(plot.conv_filters(weight, tmp_path / "rgb.png", max_filters=6))
    assert is_png(plot.confusion_matrix(np.array([[5, 1], [0, 4]]), tmp_path / "c.png",
                                        labels=["cat", "dog"]))


def test_dead_relu_channels_of_a_conv_are_counted_as_units():
    """In a feature map (N, C, H, W) a unit is a channel: 3 of 4 channels with a bias of -100
    never fire, and the monitor says 3 of 4 units (not a count of image columns)."""
    import chainrule as cr
    from chainrule.data import DataLoader, TensorDataset
    from chainrule.training.loop import fit

    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Conv2d(1, 4, 3, padding=1), cr.nn.ReLU(), cr.nn.Flatten(),
                             cr.nn.Linear(4 * 6 * 6, 2))
    model[0].bias.numpy()[:3] = -100.0
    x = np.random.default_rng(0).normal(size=(32, 1, 6, 6)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 2, 32)
    monitor = HealthMonitor()
    fit(model, cr.nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.01),
        DataLoader(TensorDataset(x, y), batch_size=16), epochs=1, callbacks=[monitor], log=None)
    (dead,) = [w for w in monitor.warnings if w.startswith("dead ReLUs:")]
    assert "3 of 4 units of layer 1 (ReLU) output 0 for every probe sample" in dead
    assert monitor.activations["1"]["fraction"][0] == 0.75


# ----- the numbers docs/convolution.md quotes ---------------------------------------------------

@pytest.mark.skipif(not os.environ.get("CHAINRULE_DOC_NUMBERS"),
                    reason="five runs of 10 and 50 epochs (about a minute): set "
                           "CHAINRULE_DOC_NUMBERS=1")
def test_the_digits_table_in_the_convolution_doc_is_what_the_command_prints(capsys, tmp_path):
    import pathlib

    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "convolution.md").read_text(
        encoding="utf-8")
    rows = {
        (): r"^\| \(defaults: `--model cnn`, channels 16,32\) \| [\d,]+ \| ([\d.]+)% \| ([\d.]+)% \|",
        ("--batch-norm",): r"^\| `--batch-norm` \| [\d,]+ \| ([\d.]+)% \| ([\d.]+)% \|",
        ("--model", "mlp"): r"^\| `--model mlp` \(64,64 tanh\) \| [\d,]+ \| ([\d.]+)% \| ([\d.]+)% \|",
    }
    for flags, pattern in rows.items():
        row = re.search(pattern, doc, re.M)
        assert row, pattern
        printed = []
        for epochs in ("10", "50"):
            summary = train(capsys, "--images", "digits", *flags, "--epochs", epochs, "--out",
                            str(tmp_path / f"{'-'.join(flags)}{epochs}"), "--no-plots",
                            "--quiet", "--json")
            printed.append(f"{100 * summary['val_accuracy']:.2f}")
        assert printed == list(row.groups()), flags


def test_init_reaches_the_conv_layers_too():
    """--init re-initialises the Conv2d weights as it does the Linear ones."""
    import chainrule as cr
    from chainrule.training.builders import apply_init, build_cnn

    cr.manual_seed(0)
    model = build_cnn((1, 8, 8), [64], 10)
    default_std = float(np.std(model[0].weight.numpy()))  # kaiming-uniform a=sqrt(5): 1/sqrt(27)
    apply_init(model, "normal:2")
    assert default_std < 0.25
    assert float(np.std(model[0].weight.numpy())) == pytest.approx(2.0, rel=0.15)
    assert float(np.std(model[-1].weight.numpy())) == pytest.approx(2.0, rel=0.15)
