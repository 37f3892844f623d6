"""PyTorch interop: state dicts both ways (chainrule.apps.interop) and ``chainrule export``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.training.builders import ACTIVATIONS, build_mlp
from chainrule.commands.export import build_run_model, torch_sequential_code
from chainrule.apps.tabular import load_run, predict_array
from chainrule.apps.interop import from_torch_state_dict, load_torch_file, to_torch_state_dict
from chainrule.training.runs import load_checkpoint
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny tensors: extra threads only spin on the shared machine

TRAIN = ["train", "--function", "x*y", "--epochs", "2", "--samples", "300", "--hidden", "8",
         "--quiet", "--no-plots", "--no-health"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One small run of chainrule train (2 inputs x, y; hidden 8; tanh; float32)."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    assert main([*TRAIN, "--out", str(folder)]) == 0
    return str(folder)


def cli(capsys, *args):
    """(exit status, stdout, stderr) of ``chainrule ARGS`` run in this process."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def torch_model_from_code(code: str):
    """Evaluate the nn.Sequential code that export prints, with torch.nn as ``nn``."""
    return eval(code, {"nn": torch.nn})  # our own generated code, checked by these tests


def raw_inputs(n=64, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 2)) * 1.5


def standardized(raw, scaler):
    return ((raw - np.array(scaler["mean"])) / np.array(scaler["std"])).astype(np.float32)


def in_target_units(outputs, scaler):
    """The network's outputs for a target that training scaled to mean 0, std 1, scaled back."""
    if scaler is None:
        return outputs
    return (outputs * np.float32(scaler["std"][0]) + np.float32(scaler["mean"][0])).astype(np.float32)


def assert_close_float32(actual, expected):
    """rtol 1e-6, plus an atol of 1e-6 of the outputs' scale: float32 sums in another order differ
    by an ulp or two (1.5e-7 measured at outputs near 1), which is a large relative error only
    where an output is near 0."""
    np.testing.assert_allclose(actual, expected, rtol=1e-6,
                               atol=1e-6 * float(np.abs(expected).max()))


def torch_predict(model, inputs):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()


# ----- chainrule.apps.interop ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_torch_state_dict_keeps_keys_order_dtypes_and_copies(dtype):
    model = build_mlp(3, [4, 5], 2, "relu", dtype)
    ours = model.state_dict()
    theirs = to_torch_state_dict(ours)
    assert list(theirs) == list(ours) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                          "4.weight", "4.bias"]
    for key, tensor in theirs.items():
        assert tensor.dtype == getattr(torch, dtype)
        assert tensor.is_contiguous()
        np.testing.assert_array_equal(tensor.numpy(), ours[key])
    theirs["0.weight"].add_(1.0)  # a copy: the model's parameter is untouched
    np.testing.assert_array_equal(model.state_dict()["0.weight"], ours["0.weight"])


def test_to_torch_state_dict_accepts_tensors_and_non_contiguous_arrays():
    weight = np.arange(12, dtype=np.float32).reshape(3, 4).T  # Fortran order
    theirs = to_torch_state_dict({"w": weight, "b": Tensor(np.ones(3, dtype=np.float64))})
    assert theirs["w"].is_contiguous() and theirs["w"].shape == (4, 3)
    np.testing.assert_array_equal(theirs["w"].numpy(), weight)
    assert theirs["b"].dtype == torch.float64


def test_from_torch_state_dict_loads_into_the_same_chainrule_model():
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    arrays = from_torch_state_dict(twin.state_dict())
    assert list(arrays) == list(twin.state_dict())
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 and a.flags.c_contiguous
               for a in arrays.values())
    model = build_mlp(3, [4], 2, "tanh")
    model.load_state_dict(arrays, strict=True)
    inputs = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    assert_close_float32(model(Tensor(inputs)).numpy(), torch_predict(twin, inputs))
    arrays["0.weight"][...] = 0.0  # a copy: the torch weights are untouched
    assert torch.count_nonzero(twin[0].weight) > 0


def test_from_torch_state_dict_accepts_mixed_values_and_rejects_others():
    arrays = from_torch_state_dict({"a": torch.ones(2, dtype=torch.float64),
                                    "b": np.zeros((2, 2), dtype=">f4"), "c": Tensor([1.0])})
    assert arrays["a"].dtype == np.float64 and arrays["b"].dtype == np.float32
    assert arrays["b"].dtype.isnative
    with pytest.raises(TypeError, match="the value for 'n' must be a tensor or an array. Got int"):
        from_torch_state_dict({"n": 3})
    with pytest.raises(TypeError, match="keys must be strings"):
        from_torch_state_dict({0: np.zeros(1)})
    with pytest.raises(TypeError, match="expected a state dict"):
        from_torch_state_dict([np.zeros(1)])
    with pytest.raises(TypeError, match="bfloat16, which NumPy cannot hold"):
        from_torch_state_dict({"w": torch.zeros(2, dtype=torch.bfloat16)})


def test_missing_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        to_torch_state_dict({"w": np.zeros(2)})
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        load_torch_file("anything.pt")


class Payload:
    """Unpickling this would create a folder: the proof that a file was not executed."""

    def __init__(self, folder):
        self.folder = folder

    def __reduce__(self):
        return os.mkdir, (self.folder,)


def test_load_torch_file_refuses_pickled_objects_without_running_them(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.pt"
    torch.save({"0.weight": torch.zeros(2, 2), "extra": Payload(str(marker))}, path)
    with pytest.raises(ValueError, match=r"evil\.pt holds Python objects other than tensors.*"
                                         r"weights_only=True"):
        load_torch_file(path)
    assert not marker.exists()
    whole = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 3), whole)  # the whole module, not its state dict
    with pytest.raises(ValueError, match=r"module\.pt holds Python objects.*save "
                                         r"model\.state_dict\(\)"):
        load_torch_file(whole)


def test_load_torch_file_accepts_nested_state_dicts_and_names_the_file_otherwise(tmp_path):
    state = torch.nn.Linear(2, 3).state_dict()
    for key in ("state_dict", "model"):
        torch.save({key: state, "epoch": 7}, tmp_path / f"{key}.pt")
        loaded = load_torch_file(tmp_path / f"{key}.pt")
        assert list(loaded) == ["weight", "bias"]
        np.testing.assert_array_equal(loaded["weight"], state["weight"].numpy())
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt holds a list, not a state dict"):
        load_torch_file(tmp_path / "list.pt")
    torch.save({"epoch": 3, "weight": torch.zeros(1)}, tmp_path / "mixed.pt")
    with pytest.raises(ValueError, match=r"mixed\.pt holds a dict that is not a state dict: its "
                                         r"entries 'epoch' are not tensors"):
        load_torch_file(tmp_path / "mixed.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"text\.pt is not a PyTorch file: it is neither"):
        load_torch_file(tmp_path / "text.pt")
    np.savez(tmp_path / "arrays.npz", w=np.zeros(2))  # a zip, but not torch's
    with pytest.raises(ValueError, match=r"arrays\.npz is not a PyTorch file that torch\.load "
                                         r"can read \(RuntimeError: "):
        load_torch_file(tmp_path / "arrays.npz")
    with pytest.raises(FileNotFoundError, match=r"absent\.pt: no such file"):
        load_torch_file(tmp_path / "absent.pt")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_printed_torch_code_builds_the_same_network(activation):
    dtype = "float64"
    model = build_mlp(3, [4, 5], 2, activation, dtype)
    code = torch_sequential_code(model)
    assert code.endswith(".double()")
    twin = torch_model_from_code(code)
    twin.load_state_dict(to_torch_state_dict(model.state_dict()), strict=True)
    inputs = np.random.default_rng(2).normal(size=(32, 3))
    np.testing.assert_allclose(torch_predict(twin, inputs), model(Tensor(inputs)).numpy(),
                               rtol=1e-12, atol=1e-14)


# ----- chainrule export --to torch --------------------------------------------------------------

def test_export_writes_a_pt_that_torch_loads_strictly_with_equal_predictions(run_dir, capsys):
    out = os.path.join(os.path.dirname(run_dir), "exported.pt")
    status, stdout, _ = cli(capsys, "export", "--to", "torch", run_dir, "--out", out, "--json")
    assert status == 0
    summary = json.loads(stdout)
    assert summary["out"] == out and summary["features"] == ["x", "y"]
    twin = torch_model_from_code(summary["torch_model"])
    result = twin.load_state_dict(torch.load(out, map_location="cpu", weights_only=True),
                                  strict=True)
    assert not result.missing_keys and not result.unexpected_keys

    model, data, _ = load_run(run_dir)
    raw = raw_inputs()
    ours = predict_array(model, data, raw)  # chainrule scales raw inputs itself
    theirs = in_target_units(torch_predict(twin, standardized(raw, summary["standardizer"])),
                             summary["target_standardizer"])
    assert summary["target_standardizer"] is not None  # (an MSE run scales its target)
    assert ours.dtype == theirs.dtype == np.float32
    assert_close_float32(theirs, ours)
    assert np.std(ours) > 0  # a real network, not a constant


def test_export_default_file_and_printed_snippet(run_dir, capsys):
    status, stdout, _ = cli(capsys, "export", "--to", "torch", run_dir)
    assert status == 0
    path = os.path.join(run_dir, "model.pt")
    assert os.path.isfile(path)
    assert not [name for name in os.listdir(run_dir) if name.endswith(".tmp")]
    assert "model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))" in stdout
    assert f"model.load_state_dict(torch.load({path!r}, weights_only=True))" in stdout
    assert "mean = " in stdout and "std  = " in stdout
    lines = stdout.splitlines()
    start = lines.index("load it into the equivalent PyTorch model with:") + 1
    snippet = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        snippet.append(line.strip())
    assert len(snippet) == 4
    namespace = {}
    exec("\n".join(snippet), namespace)  # the printed lines run as they are
    weights = load_checkpoint(run_dir)["model"]
    np.testing.assert_array_equal(namespace["model"][2].weight.detach().numpy(),
                                  weights["2.weight"])


def test_export_errors_are_one_sentence_with_exit_2(run_dir, tmp_path, capsys):
    status, _, err = cli(capsys, "export", "--to", "torch", str(tmp_path / "nowhere"))
    assert status == 2 and "nowhere: no such file or run folder." in err
    assert err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    status, _, err = cli(capsys, "export", "--to", "torch", str(tmp_path / "empty"))
    assert status == 2 and "holds no checkpoint.crk; is it a run folder?" in err
    assert err.count("\n") == 1
    status, _, err = cli(capsys, "export", "--to", "torch", run_dir, "--out",
                         str(tmp_path / "no" / "folder.pt"))
    assert status == 2 and "does not exist" in err
    status, _, err = cli(capsys, "export", "--to", "torch", run_dir, "--like", run_dir)
    assert status == 2 and "--like applies to --from torch only" in err


def test_export_without_torch_says_how_to_install(run_dir, tmp_path):
    fake = tmp_path / "no_torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    out = tmp_path / "x.pt"
    result = subprocess.run([sys.executable, "-m", "chainrule", "export", "--to", "torch",
                             run_dir, "--out", str(out)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 2
    assert "pip install torch==2.13.0" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


# ----- chainrule export --from torch ------------------------------------------------------------

def test_import_round_trip_predict_uses_the_torch_weights(run_dir, tmp_path, capsys):
    status, stdout, _ = cli(capsys, "export", "--to", "torch", run_dir,
                            "--out", str(tmp_path / "a.pt"), "--json")
    summary = json.loads(stdout)
    twin = torch_model_from_code(summary["torch_model"])
    twin.load_state_dict(torch.load(tmp_path / "a.pt", weights_only=True))
    with torch.no_grad():  # new weights, as fine-tuning in PyTorch would give
        for param in twin.parameters():
            param.mul_(-1.5).add_(0.25)
    torch.save({"model": twin.state_dict(), "epoch": 9}, tmp_path / "tuned.pt")

    new = str(tmp_path / "tuned-run")
    status, stdout, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "tuned.pt"),
                              "--like", run_dir, "--out", new, "--json")
    assert status == 0, err
    assert sorted(os.listdir(new)) == ["checkpoint.crk", "config.json"]
    checkpoint = load_checkpoint(new)
    assert checkpoint["optimizer"]["state"] == {} and checkpoint["early_stopping"] is None
    assert checkpoint["imported_from"]["file"] == str(tmp_path / "tuned.pt")
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(checkpoint["model"][key], value.numpy())

    raw = raw_inputs(40)
    with open(tmp_path / "rows.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y"])
        writer.writerows(raw.tolist())
    status, _, err = cli(capsys, "predict", "--model", new, "--csv", str(tmp_path / "rows.csv"),
                         "--out", str(tmp_path / "p.csv"))
    assert status == 0, err
    with open(tmp_path / "p.csv", newline="") as handle:
        predicted = np.array([float(row["prediction"]) for row in csv.DictReader(handle)])
    theirs = in_target_units(torch_predict(twin, standardized(raw, summary["standardizer"])),
                             summary["target_standardizer"])[:, 0]
    assert_close_float32(predicted, theirs)
    original, data, _ = load_run(run_dir)
    assert not np.allclose(predict_array(original, data, raw)[:, 0], theirs)


def test_import_of_a_different_architecture_names_keys_and_shapes(run_dir, tmp_path, capsys):
    wide = torch.nn.Sequential(torch.nn.Linear(2, 9), torch.nn.Tanh(), torch.nn.Linear(9, 1))
    torch.save(wide.state_dict(), tmp_path / "wide.pt")
    status, _, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "wide.pt"),
                         "--like", run_dir, "--out", str(tmp_path / "w"))
    assert status == 2
    assert "does not fit the model of" in err
    assert "the value for '0.weight' has shape (9, 2), but the parameter in the model has shape " \
           "(8, 2)" in err
    assert not (tmp_path / "w").exists()
    deeper = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                 torch.nn.Tanh(), torch.nn.Linear(8, 1))
    torch.save(deeper.state_dict(), tmp_path / "deep.pt")
    status, _, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "deep.pt"),
                         "--like", run_dir, "--out", str(tmp_path / "d"))
    assert status == 2 and "unexpected key(s) '4.weight', '4.bias'" in err


def test_import_refuses_unsafe_files_and_bad_options(run_dir, tmp_path, capsys):
    marker = tmp_path / "unpickled"
    torch.save(Payload(str(marker)), tmp_path / "evil.pt")
    status, _, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "evil.pt"),
                         "--like", run_dir, "--out", str(tmp_path / "e"))
    assert status == 2 and "weights_only=True" in err and err.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "e").exists()
    status, _, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "evil.pt"))
    assert status == 2 and "--from torch needs --like RUN_DIR" in err
    torch.save(torch.nn.Linear(2, 1).state_dict(), tmp_path / "ok.pt")
    status, _, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "ok.pt"),
                         "--like", run_dir, "--out", run_dir)
    assert status == 2 and "already holds a run" in err


def test_a_float64_seed_run_goes_to_torch_and_back(tmp_path, capsys):
    run = str(tmp_path / "seed")
    assert main(["seed", "--samples", "200", "--epochs", "1", "--dtype", "float64", "--hidden",
                 "4,3", "--activation", "leaky_relu", "--no-health", "--quiet", "--out", run]) == 0
    capsys.readouterr()
    status, stdout, err = cli(capsys, "export", "--to", "torch", run, "--json")
    assert status == 0, err
    summary = json.loads(stdout)
    assert summary["standardizer"] is None and summary["dtype"] == "float64"
    twin = torch_model_from_code(summary["torch_model"])
    twin.load_state_dict(torch.load(summary["out"], weights_only=True), strict=True)
    model = load_checkpoint(run)["model"]
    inputs = np.random.default_rng(3).normal(size=(20, 2))
    ours = build_run_model(load_checkpoint(run), run)(Tensor(inputs)).numpy()
    np.testing.assert_allclose(torch_predict(twin, inputs), ours, rtol=1e-12, atol=1e-14)

    torch.save(twin.float().state_dict(), tmp_path / "single.pt")
    status, stdout, err = cli(capsys, "export", "--from", "torch", str(tmp_path / "single.pt"),
                              "--like", run, "--out", str(tmp_path / "back"), "--json")
    assert status == 0, err
    assert json.loads(stdout)["cast"] == ["float32 -> float64"]
    back = load_checkpoint(tmp_path / "back")["model"]
    for key, value in model.items():
        assert back[key].dtype == np.float64
        np.testing.assert_array_equal(back[key], value.astype(np.float32).astype(np.float64))
