"""Hostile or damaged run folders, one finding of issue 16 at a time (the fuzz test of all of them
together is test_fuzz_runs.py): each gets one sentence naming the field, never a crash, a hang,
a huge allocation or a write through a link."""

import os
import signal
import struct
import subprocess
import sys
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest

import chainrule
from chainrule.cli import main
from chainrule.files import atomic_write, open_regular
from chainrule.random import check_rng_state, set_rng_state
from chainrule.serialization import CheckpointError
from chainrule.training.runs import load_checkpoint

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


@contextmanager
def deadline(seconds=20):
    """Fail (not hang) if the block takes longer than ``seconds``."""
    def expire(signum, frame):
        raise AssertionError(f"took more than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished train run (regression on a formula) and a seed run."""
    root = tmp_path_factory.mktemp("runs")
    common = ["--epochs", "2", "--no-plots", "--quiet"]
    assert main(["train", "--function", "a*b+a", "--samples", "60", "--hidden", "5",
                 *common, "--out", str(root / "train")]) == 0
    assert main(["seed", "--samples", "60", "--hidden", "3", *common,
                 "--out", str(root / "seed")]) == 0
    return root


def _mutated(runs, tmp_path, name, change):
    """A copy of run ``name`` whose checkpoint dict went through ``change`` (saved validly)."""
    import shutil

    folder = tmp_path / f"{name}-copy"
    while folder.exists():
        folder = folder.with_name(folder.name + "-again")
    shutil.copytree(runs / name, folder)
    checkpoint = chainrule.load(folder / "checkpoint.crk")
    change(checkpoint)
    chainrule.save(checkpoint, folder / "checkpoint.crk")
    return folder


def _one_sentence(capsys, command):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {command}: error: ")
    return lines[0]


# ----- 1. the random state -------------------------------------------------------------------------

@pytest.mark.parametrize("pos", [10**9, 700, -1])
def test_a_mersenne_twister_position_past_its_key_is_refused_not_a_crash(pos):
    """NumPy reads past the 624-word key at such a position (pos 10**9 was a segfault); run in a
    subprocess, so that a crash fails this test instead of ending the suite."""
    code = ("import numpy as np, chainrule\n"
            "state = {'bit_generator': 'MT19937', 'state': {'key': np.ones(624, np.uint32), "
            f"'pos': {pos}}}}}\n"
            "try:\n    chainrule.set_rng_state(state)\nexcept ValueError as err:\n"
            "    print(err)\nelse:\n    print('accepted')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, PYTHONPATH=SRC))
    assert result.returncode == 0, result.stderr
    assert "state['pos'] must be an int in [0, 625)" in result.stdout


@pytest.mark.parametrize("state, message", [
    ({"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
      "uinteger": 0}, r"PCG64 state's state\['state'\] must be an int in \[0, 2\*\*128\); got -1"),
    ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 2**128}, "has_uint32": 0,
      "uinteger": 0}, r"state\['inc'\] must be an int in \[0, 2\*\*128\)"),
    ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 2,
      "uinteger": 0}, r"'has_uint32' must be an int in \[0, 2\)"),
    ({"bit_generator": "MT19937", "state": {"key": np.ones(600, np.uint32), "pos": 1}},
     r"state\['key'\] must be an integer array of shape \(624,\)"),
    ({"bit_generator": "MT19937", "state": {"key": np.ones(624), "pos": 1}},
     r"state\['key'\] must be an integer array"),
    ({"bit_generator": "MT19937", "state": {"key": np.full(624, -1, np.int64), "pos": 1}},
     r"must hold integers in \[0, 2\*\*32\)"),
    ({"bit_generator": "SFC64", "state": {"state": np.zeros(3, np.uint64)}, "has_uint32": 0,
      "uinteger": 0}, r"shape \(4,\)"),
    ({"bit_generator": "Philox", "state": {"counter": np.zeros(4, np.uint64),
                                           "key": np.zeros(2, np.uint64)},
      "buffer": np.zeros(4, np.uint64), "buffer_pos": 9, "has_uint32": 0, "uinteger": 0},
     r"'buffer_pos' must be an int in \[0, 5\)"),
    ({"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}},
     "the PCG64 state is malformed: expected the fields"),
    ({"bit_generator": ["PCG64"]}, "unknown bit generator"),
])
def test_every_field_of_a_random_state_is_checked(state, message):
    with pytest.raises(ValueError, match=message):
        set_rng_state(state)


def test_every_state_numpy_writes_is_accepted():
    for name in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
        state = getattr(np.random, name)(5).state
        generator = chainrule.Generator().set_state(state)
        assert generator.get_state()["bit_generator"] == name
    before = chainrule.get_rng_state()
    set_rng_state(before)
    assert check_rng_state("x", before)["state"] == before["state"]


# ----- 2. bounded memory and reads -----------------------------------------------------------------

def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with deadline():
        with pytest.raises(ValueError, match=r"fifo is a FIFO \(named pipe\), not a regular file"):
            open_regular(fifo)
        with pytest.raises(ValueError, match="/dev/zero is a character device"):
            open_regular("/dev/zero")
        with pytest.raises(TypeError, match="must be a path .* Got int 0 instead"):
            open_regular(0)
        with pytest.raises(IsADirectoryError, match="is a folder"):
            open_regular(tmp_path)
        with pytest.raises(FileNotFoundError, match="no such file"):
            open_regular(tmp_path / "absent")
        with pytest.raises(ValueError, match="holds a NUL byte"):
            open_regular("a\0b")
        with pytest.raises(ValueError, match="FIFO"):
            chainrule.load(fifo)


def test_a_fifo_or_a_device_as_the_checkpoint_is_refused_without_waiting(runs, tmp_path, capsys):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(runs / "train", folder)
    os.unlink(folder / "checkpoint.crk")
    os.mkfifo(folder / "checkpoint.crk")
    with deadline():
        assert main(["predict", "--model", str(folder), "--csv", "x.csv"]) == 2
    assert "is a FIFO (named pipe), not a regular file" in _one_sentence(capsys, "predict")
    os.unlink(folder / "checkpoint.crk")
    os.symlink("/dev/zero", folder / "checkpoint.crk")
    with deadline():
        assert main(["train", "--resume", str(folder), "--epochs", "3"]) == 2
    assert "is a character device" in _one_sentence(capsys, "train")


@pytest.mark.parametrize("csv, message", [
    ("/dev/zero", "/dev/zero is a character device, not a regular file"),
    (0, "the CSV file must be a path"),
    ("FIFO", "is a FIFO"),
])
def test_the_saved_csv_path_is_opened_only_if_it_is_a_regular_file(runs, tmp_path, capsys, csv,
                                                                    message):
    csv_file = tmp_path / "data.csv"
    csv_file.write_text("a,b,y\n1,2,3\n2,3,4\n3,4,5\n4,5,6\n5,6,7\n")
    assert main(["train", "--csv", str(csv_file), "--target", "y", "--epochs", "1",
                 "--no-plots", "--quiet", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    if csv == "FIFO":
        csv = str(tmp_path / "fifo")
        os.mkfifo(csv)

    def change(checkpoint):
        checkpoint["config"]["csv"] = csv

    folder = _mutated(tmp_path, tmp_path, "run", change)
    with deadline():
        assert main(["train", "--resume", str(folder), "--epochs", "3"]) == 2
    line = _one_sentence(capsys, "train")
    if isinstance(csv, int):  # an int is no path: the schema refuses it by name
        assert "config.csv must be a string" in line
    else:
        assert message in line


@pytest.mark.parametrize("field, value, message", [
    ("hidden", [40000, 40000], r"model must hold the weights of the 2-40000-40000-1 network that "
                               r"config describes \(0.weight, 0.bias"),
    ("hidden", [200_000], r"config.hidden\[0\] must be an int in \[1, 100_000\]; got 200000"),
    ("samples", 10**12, r"config.samples must be an int in \[2, 10_000_000\]; got 1000000000000"),
    ("epochs", 10**9, r"config.epochs must be an int in \[1, 1_000_000\]"),
    ("loss", "nope", r"config.loss must be one of mse, l1, huber, cross_entropy, "
                     r"bce_with_logits; got 'nope'\."),
])
def test_a_config_asking_too_much_is_refused_before_anything_is_built(runs, tmp_path, capsys,
                                                                       field, value, message):
    def change(checkpoint):
        checkpoint["config"][field] = value

    folder = _mutated(runs, tmp_path, "train", change)
    for argv in (["predict", "--model", str(folder), "--csv", "x.csv"],
                 ["train", "--resume", str(folder), "--epochs", "3"]):
        assert main(argv) == 2
        line = _one_sentence(capsys, argv[0])
        assert str(folder / "checkpoint.crk") in line
        assert __import__("re").search(message, line), line


def test_more_classes_than_the_saved_weights_is_refused(runs, tmp_path):
    def change(checkpoint):
        checkpoint["data"]["classes"] = 10**9

    folder = _mutated(runs, tmp_path, "train", change)
    with pytest.raises(CheckpointError, match=r"data.classes must be None for a regression run"):
        load_checkpoint(folder, command="train")


def test_the_command_line_has_the_same_bounds(capsys):
    assert main(["train", "--function", "a", "--samples", str(10**12)]) == 2
    assert "--samples must be at most 10_000_000. Got 1000000000000" in capsys.readouterr().err
    assert main(["train", "--function", "a", "--hidden", "200000"]) == 2
    assert "every layer size must be at most 100_000. Got 200000" in capsys.readouterr().err
    assert main(["seed", "--epochs", str(10**9)]) == 2
    assert "--epochs must be at most 1_000_000. Got 1000000000" in capsys.readouterr().err


# ----- 3. one schema, checked at load --------------------------------------------------------------

def _set(path, value):
    def change(checkpoint):
        node = checkpoint
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return change


@pytest.mark.parametrize("path, value, message", [
    (("model", "0.weight"), 3, r"model\['0.weight'\] must be an array of floating-point numbers; "
                               r"got 3\."),
    (("model", "0.weight"), np.ones((5, 3), np.float32), r"model\['0.weight'\] must be an array "
                                                         r"of shape \(5, 2\)"),
    (("optimizer", "state", 0, "exp_avg"), KeyError, r"optimizer.state\[0\] must be the buffers "
                                                     r"exp_avg, exp_avg_sq, step of adam"),
    (("optimizer", "state", 0, "step"), -1, r"optimizer.state\[0\]\['step'\] must be an int"),
    (("optimizer", "param_groups", 0, "betas"), (2, 3), r"betas must be two numbers in \[0, 1\)"),
    (("rng", "state", "state"), -1, r"rng: the PCG64 state's state\['state'\] must be an int"),
    (("data", "standardizer"), KeyError, r"data.standardizer is missing"),
    (("data", "standardizer", "std"), np.zeros(2), r"data.standardizer must be finite means and "
                                                   r"finite stds > 0"),
    (("health", "losses"), "many", r"health.losses must be a list of numbers; got 'many'"),
    (("health", "grad_norms", "0.weight"), [1.0, "x"], r"health.grad_norms\['0.weight'\]\[1\] "
                                                       r"must be a number"),
    (("health", "warned"), [[["deep"]]], r"health.warned\[0\] must be a string or a list of "
                                         r"strings"),
    (("health", "grad_norms", "0.weight"), [1.0], r"health.grad_norms\['0.weight'\] must be "
                                                  r"one number per checked step"),
    (("health", "_epoch_start"), 10**6, r"health._epoch_start must be an int in \[0, "),
    (("health", "activations", "1", "kind"), "swish", r"kind must be one of sigmoid, tanh, relu"),
    (("history", "train_loss"), [1.0], r"must have one length; got lengths \[1, 2\]"),
    (("history", "epoch"), [2, 1], r"history.epoch must be increasing epoch numbers from 1"),
    (("scheduler",), {"last_epoch": 1}, r"scheduler must be None for config.scheduler 'none'"),
    (("data", "class_names"), ["a", np.ones((3, 4))], r"data.class_names must be None for a "
                                                       r"regression run; got \['a', array\(\[\[1"),
    (("epoch",), -1, r"epoch must be an int in \[0, 1_000_000\]; got -1"),
    (("config", "optimizer"), "lbfgs", r"config.optimizer must be one of sgd, adam"),
    (("config", "momentum"), 0.9, r"config.momentum must be None for adam"),
    (("config", "init"), "uniform:5:1", r"config.init: --init 'uniform:5:1': A must be less"),
    (("extra",), 1, r"the checkpoint has the unknown entry 'extra'"),
])
def test_each_wrong_entry_is_one_error_naming_its_field(runs, tmp_path, capsys, path, value,
                                                        message):
    folder = _mutated(runs, tmp_path, "train", _set(path, value))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder, command="train")
    for argv in (["predict", "--model", str(folder), "--csv", "x.csv"],
                 ["train", "--resume", str(folder), "--epochs", "3", "--no-plots"]):
        assert main(argv) == 2
        assert __import__("re").search(message, _one_sentence(capsys, argv[0]))


def test_a_seed_run_is_checked_against_the_seed_schema(runs, tmp_path, capsys):
    folder = _mutated(runs, tmp_path, "seed", _set(("config", "val_fraction"), 0.999))
    assert main(["seed", "--resume", str(folder), "--epochs", "3"]) == 2
    assert "config.val_fraction must be a share that leaves rows for training and for " \
           "validation of the 60 samples; got 0.999" in _one_sentence(capsys, "seed")
    folder = _mutated(runs, tmp_path, "seed", _set(("data",), {"standardizer": {"mean": "x"}}))
    assert main(["export", "--to", "torch", str(folder), "--out", str(tmp_path / "x.pt")]) == 2
    assert "data must be None for a run of chainrule seed" in _one_sentence(capsys, "export")
    assert main(["predict", "--model", str(runs / "seed"), "--csv", "x.csv"]) == 2
    assert "holds a run of chainrule seed, not of chainrule train" in _one_sentence(capsys,
                                                                                    "predict")


def test_valid_runs_still_load_and_resume(runs, tmp_path):
    import shutil

    for name in ("train", "seed"):
        load_checkpoint(runs / name, command=name)
        folder = tmp_path / name
        shutil.copytree(runs / name, folder)
        assert main([name, "--resume", str(folder), "--epochs", "3", "--no-plots",
                     "--quiet"]) == 0


# ----- 4. and 10. PyTorch files: zip bombs and damaged zips ----------------------------------------

@pytest.fixture
def good_pt(runs, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "good.pt"
    assert main(["export", "--to", "torch", str(runs / "train"), "--out", str(path)]) == 0
    return path


def test_a_zip_bomb_is_refused_before_it_is_read(good_pt, tmp_path):
    from chainrule.apps.interop import load_torch_file

    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(good_pt) as source, zipfile.ZipFile(bomb, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        info = zipfile.ZipInfo("good/data/99")
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w", force_zip64=True) as member:
            for _ in range(64):  # 64 MiB of zeros, deflated to about 64 KB
                member.write(bytes(1 << 20))
    assert bomb.stat().st_size < 1 << 20
    with deadline(10), pytest.raises(ValueError, match=r"claims 67108864 bytes from \d+ .* \(a zip "
                                                       r"bomb"):
        load_torch_file(bomb)


def test_members_claiming_more_than_the_total_bound_are_refused(good_pt, tmp_path):
    from chainrule.apps import interop

    data = bytearray(good_pt.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    while central > 0:  # every member claims almost 4 GiB, stored (ratio checks cannot see it)
        struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)
        struct.pack_into("<I", data, central + 20, 0xFFFFFFF0)
        central = data.rfind(b"PK\x01\x02", 0, central)
    claim = tmp_path / "claim.pt"
    claim.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="claim more than 1073741824 bytes in all"):
        interop.load_torch_file(claim)


def test_a_zip64_locator_claiming_two_disks_is_refused_cleanly(good_pt, tmp_path, runs, capsys):
    data = bytearray(good_pt.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end:end] = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 2)
    two = tmp_path / "two.pt"
    two.write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile):  # what zipfile itself does with it
        zipfile.is_zipfile(two)
    assert main(["export", "--from", "torch", str(two), "--like", str(runs / "train"),
                 "--out", str(tmp_path / "new")]) == 2
    assert "is a damaged zip archive" in _one_sentence(capsys, "export")


# ----- 5. writes never follow a link -----------------------------------------------------------

def test_atomic_write_replaces_a_link_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "out.txt"
    os.symlink(target, link)
    with atomic_write(link, "w") as handle:
        handle.write("new")
    assert target.read_text() == "keep me"
    assert not os.path.islink(link) and link.read_text() == "new"
    folder_link = tmp_path / "to-folder"
    os.symlink(tmp_path, folder_link)  # a link to a folder is replaced too, not refused
    with atomic_write(folder_link, "w") as handle:
        handle.write("x")
    assert not os.path.islink(folder_link)


def test_export_from_torch_never_writes_through_a_link_in_the_new_folder(good_pt, runs, tmp_path,
                                                                         monkeypatch):
    from chainrule.training import runs as runs_module

    out = tmp_path / "trap"
    out.mkdir()
    precious = tmp_path / "precious.json"
    precious.write_text("keep me")
    os.symlink(precious, out / "config.json")
    # (the folder check refuses a non-empty --out; a link made after it is the race to survive)
    monkeypatch.setattr(runs_module, "check_new_run_dir", lambda *args, **kwargs: None)
    assert main(["export", "--from", "torch", str(good_pt), "--like", str(runs / "train"),
                 "--out", str(out)]) == 0
    assert precious.read_text() == "keep me"
    assert not os.path.islink(out / "config.json")
    load_checkpoint(out, command="train")
