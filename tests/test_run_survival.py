"""Runs that survive: one run per folder, SIGTERM/SIGHUP saved as Ctrl-C, periodic checkpoints
that a kill -9 cannot spoil, temporaries of a killed writer removed, a read-only folder or a full
disk named before or when it matters (issue #16, items 6, 7, 8 and 10).

The crash tests start real processes (``python -m chainrule``) and stop them with real signals at
seeded random moments; each resumed run must equal an uninterrupted one bit for bit.
"""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule
from chainrule.cli import main
from chainrule.files import atomic_write, stale_temporaries
from chainrule.training.claims import LOCK, claim_run_dir, run_dir_holder
from chainrule.training.runs import (
    CHECKPOINT, PeriodicCheckpoint, Terminated, check_new_run_dir, parse_checkpoint_every,
    signals_interrupt,
)

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
ENV = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))

# A tiny run: 40 steps an epoch, long enough that a signal lands while it trains.
RUN = ["train", "--function", "sin(x) * y", "--samples", "250", "--hidden", "4",
       "--batch-size", "8", "--epochs", "30", "--no-plots"]


def default_signals():
    """For a child: the default handling of Ctrl-C, SIGTERM and SIGHUP, even where this test runs
    with some ignored (a background job of a shell without job control ignores SIGINT, nohup
    ignores SIGHUP, and a child inherits that)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "chainrule", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=default_signals)


def chainrule_process(*args):
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True,
                          text=True, env=ENV, timeout=120, preexec_fn=default_signals)


def load(run_dir):
    return chainrule.load(os.path.join(run_dir, CHECKPOINT))


def assert_same_run(ours, theirs):
    """Two finished checkpoints hold the same run: weights, optimizer state, random state, epoch
    and every metric but the seconds, exactly."""
    for part in ("model", "optimizer", "rng", "epoch", "finished", "scheduler", "early_stopping",
                 "health"):
        assert_equal(ours[part], theirs[part], part)
    for name, values in theirs["history"].items():
        if name != "seconds":
            assert ours["history"][name] == values, name


def assert_equal(a, b, where):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


# ----- 6. one run per folder --------------------------------------------------------------------

def test_a_claim_is_exclusive_until_released_and_a_dead_runs_lock_is_taken_over(tmp_path):
    claim = claim_run_dir(tmp_path)
    assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    assert run_dir_holder(tmp_path) == os.getpid()
    with pytest.raises(ValueError, match=rf"the run folder .* is in use by another chainrule run "
                                         rf"\(process {os.getpid()}\); wait for it to end"):
        claim_run_dir(tmp_path)
    with pytest.raises(ValueError, match="is in use by another chainrule run"):
        check_new_run_dir(tmp_path)
    claim.release()
    claim.release()  # twice does nothing
    assert not (tmp_path / LOCK).exists() and run_dir_holder(tmp_path) is None
    # a lock file left by a run killed outright: its lock went with its process
    (tmp_path / LOCK).write_text("999999\n")
    assert run_dir_holder(tmp_path) is None
    check_new_run_dir(tmp_path)  # (the lock file alone does not make the folder hold anything)
    with claim_run_dir(tmp_path):
        assert run_dir_holder(tmp_path) == os.getpid()
    assert os.listdir(tmp_path) == []


def test_a_claim_removes_a_killed_writers_temporaries_and_nothing_else(tmp_path):
    ours = [".checkpoint.crk.0123456789ab.tmp", ".metrics.json.fedcba987654.tmp"]
    theirs = ["notes.tmp", ".checkpoint.crk.tmp", ".x.0123456789ab.tmp.bak", ".a.0123456789AB.tmp"]
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"half")
    os.mkdir(tmp_path / ".folder.0123456789ab.tmp")  # (a folder is never removed)
    assert [os.path.basename(p) for p in stale_temporaries(tmp_path)] == sorted(ours)
    with claim_run_dir(tmp_path) as claim:
        assert sorted(os.path.basename(p) for p in claim.removed) == sorted(ours)
    assert sorted(os.listdir(tmp_path)) == sorted(theirs + [".folder.0123456789ab.tmp"])


def test_two_runs_started_together_into_one_folder_one_runs_the_other_is_refused(tmp_path):
    args = ["train", "--function", "a*b", "--samples", "200", "--hidden", "4", "--epochs", "15",
            "--no-plots", "--quiet"]
    outcomes = []
    for trial in range(3):
        run_dir = tmp_path / f"same{trial}"
        first = start(*args, "--seed", "1", "--out", str(run_dir))
        second = start(*args, "--seed", "2", "--out", str(run_dir))
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read())
                   for p in (first, second)]
        for p in (first, second):
            p.stdout.close()
            p.stderr.close()
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], results
        code, out, err = max(results, key=lambda r: r[0])  # the refused one
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith("chainrule train: error: the run folder "), err
        assert "is in use by another chainrule run" in err or "already holds a run" in err, err
        outcomes.append("in use" if "in use" in err else "holds a run")
        # the folder holds one run whole: config, checkpoint and metrics of the same seed
        checkpoint = load(run_dir)
        config = json.loads((run_dir / "config.json").read_text())
        assert checkpoint["finished"] and config == checkpoint["config"]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["step_loss"] == checkpoint["history"]["step_loss"]
        assert sorted(os.listdir(run_dir)) == ["checkpoint.crk", "config.json", "health.txt",
                                               "metrics.csv", "metrics.json"]
    print("refusals:", outcomes)


# ----- 7. signals and periodic checkpoints -------------------------------------------------------

def test_checkpoint_every_parses_epochs_times_and_off():
    assert parse_checkpoint_every(5) == (5, None)
    assert parse_checkpoint_every("3") == (3, None)
    assert parse_checkpoint_every("30s") == (None, 30.0)
    assert parse_checkpoint_every("1.5m") == (None, 90.0)
    assert parse_checkpoint_every("1h") == (None, 3600.0)
    assert parse_checkpoint_every("off") == parse_checkpoint_every(None) == (None, None)
    for bad in (0, -1, "0", "x", "5d", "-3m", "nanm", True, 2.5):
        with pytest.raises(ValueError, match="checkpoint_every must be a number of epochs >= 1"):
            parse_checkpoint_every(bad)


def test_periodic_checkpoints_by_epochs_and_by_time(tmp_path):
    saved = []

    class Snapshot:
        latest = {"history": {"epoch": [], "train_loss": [], "val_loss": [], "lr": [],
                              "seconds": [], "step_loss": []}}

        def save(self, path):
            saved.append(path)

    class State:
        stop = False
        epochs = 10

    every_3 = PeriodicCheckpoint(Snapshot(), tmp_path, epochs=3)
    state = State()
    every_3.on_train_begin(state)
    for state.epoch in range(1, 11):
        every_3.on_epoch_end(state)
    assert every_3.saved == [3, 6, 9]  # never after the last epoch: the final checkpoint follows
    assert saved == [os.path.join(tmp_path, CHECKPOINT)] * 3
    assert (tmp_path / "metrics.csv").exists()

    now = [0.0]
    by_time = PeriodicCheckpoint(Snapshot(), tmp_path, seconds=60, clock=lambda: now[0])
    by_time.on_train_begin(state)
    for state.epoch, now[0] in zip(range(1, 10), (20, 50, 61, 100, 130, 190, 250, 251, 252)):
        by_time.on_epoch_end(state)
    assert by_time.saved == [3, 5, 6, 7]  # at 61, 130, 190 and 250 s
    state.stop, state.epoch, now[0] = True, 9, 1000  # an early stop: the final checkpoint follows
    by_time.on_epoch_end(state)
    assert by_time.saved == [3, 5, 6, 7]  # at 61, 130, 190 and 250 s


def test_signals_interrupt_takes_default_handlers_only_and_gives_them_back():
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this process handles SIGTERM itself")
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with signals_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler)
            with pytest.raises(Terminated) as caught:
                handler(signal.SIGTERM, None)  # what the signal would do, minus the signal
            assert isinstance(caught.value, KeyboardInterrupt)
            assert (caught.value.name, caught.value.signum) == ("SIGTERM", signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_real_sigterm_in_this_process_raises_terminated():
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this process handles SIGTERM itself")
    with pytest.raises(Terminated, match=str(int(signal.SIGTERM))):
        with signals_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # (else it would kill)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs at the next bytecode
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """The uninterrupted run, with no checkpoint written during training."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    result = chainrule_process(*RUN, "--checkpoint-every", "off", "--out", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    return load(run_dir)


@pytest.mark.parametrize("how, trial", [("SIGTERM", 0), ("SIGHUP", 0), ("SIGKILL", 0),
                                        ("SIGKILL", 1)])  # (the checkpoint written every epoch)
def test_a_run_stopped_at_a_random_moment_resumes_bit_for_bit(tmp_path, straight_run, how,
                                                                trial):
    signum = getattr(signal, how)
    moment = random.Random(f"{how}-{trial}")  # seeded: a failure can be replayed
    epoch = moment.randint(2, 12)
    delay = moment.uniform(0, 0.03)
    run_dir = tmp_path / "run"
    process = start(*RUN, "--checkpoint-every", "1", "--out", str(run_dir))
    try:
        for line in process.stdout:  # the checkpoint of epoch-1 is written by now
            if line.startswith(f"epoch {epoch}:"):
                break
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == (-signum if how == "SIGKILL" else 128 + signum), err
    if how != "SIGKILL":
        assert f"Stopped by {how}: saved the state after epoch" in err
        assert f"Resume with: chainrule train --resume {run_dir}" in err
        assert err.strip().endswith(f"chainrule train: stopped by {how}.")
        assert not os.path.exists(run_dir / LOCK)
    saved = load(run_dir)
    stopped_at = saved["epoch"]
    assert epoch - 1 <= stopped_at < 30 and not saved["finished"], (epoch, stopped_at)

    result = chainrule_process("train", "--resume", str(run_dir), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["resumed_from_epoch"] == stopped_at and summary["epochs_run"] == 30
    assert_same_run(load(run_dir), straight_run)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step_loss"] == straight_run["history"]["step_loss"]
    # the lock and any temporary a kill left in the middle of a write are gone
    assert not [name for name in os.listdir(run_dir) if name.startswith(".")]


def test_checkpoint_every_is_checked(tmp_path, capsys):
    assert main([*RUN, "--checkpoint-every", "5d", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint-every must be a number of epochs >= 1 (such as 5), a time" in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--checkpoint-every WHEN" in capsys.readouterr().out


# ----- 10. a read-only folder, a full disk ------------------------------------------------------

def test_resume_in_a_folder_that_is_not_writable_is_refused_before_training(tmp_path, capsys,
                                                                             monkeypatch):
    run_dir = tmp_path / "r"
    assert main([*RUN, "--epochs", "2", "--out", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if os.fspath(path) == str(
        run_dir) and mode == os.W_OK else real_access(path, mode, **kw))
    started = time.perf_counter()
    code = main(["train", "--resume", str(run_dir), "--epochs", "400"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert f"the run folder '{run_dir}' is not writable (permission denied)" in err
    assert "epoch" not in out and time.perf_counter() - started < 5
    assert load(run_dir)["epoch"] == 2 and not (run_dir / LOCK).exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_resume_in_a_read_only_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert main([*RUN, "--epochs", "2", "--out", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    os.chmod(run_dir, 0o555)
    try:
        assert main(["train", "--resume", str(run_dir), "--epochs", "4"]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        os.chmod(run_dir, 0o755)


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.crk"
    path.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as caught:
        with atomic_write(path, "wb") as f:
            f.write(b"new")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert str(path) in str(caught.value)
    monkeypatch.undo()

    class Full:  # a write() that fails in the middle, as on a full disk
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left on device") as caught:
        with atomic_write(path, "wb"):
            Full().write(b"new")
    assert caught.value.filename == str(path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["checkpoint.crk"]


def test_a_full_disk_during_a_run_is_one_sentence_naming_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "fsync", no_space)
    run_dir = tmp_path / "r"
    assert main([*RUN, "--epochs", "2", "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"chainrule train: error: {run_dir / 'config.json'}: no space left on device."
    assert os.listdir(run_dir) == []  # no temporary, and the claim given back


def test_the_global_generator_is_shared_by_threads_as_documented():
    import threading

    chainrule.manual_seed(3)
    expected = chainrule.randn(4).numpy()
    chainrule.manual_seed(3)
    other = threading.Thread(target=lambda: chainrule.randn(4))  # draws from the same stream
    other.start()
    other.join()
    assert not np.array_equal(chainrule.randn(4).numpy(), expected)
    seen = []
    reseed = threading.Thread(target=lambda: chainrule.manual_seed(3))
    chainrule.manual_seed(99)
    reseed.start()
    reseed.join()  # a thread's manual_seed reseeds this thread's draws
    seen.append(chainrule.randn(4).numpy())
    assert np.array_equal(seen[0], expected)


def test_a_lock_that_is_a_link_or_a_fifo_is_refused_not_followed_or_waited_on(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    os.symlink(target, run_dir / LOCK)
    with pytest.raises(ValueError, match=r"\.run\.lock is a symbolic link"):
        claim_run_dir(run_dir)
    assert target.read_text() == "keep me"
    os.unlink(run_dir / LOCK)
    os.mkfifo(run_dir / LOCK)
    with pytest.raises(ValueError, match=r"\.run\.lock is not a regular file"):
        claim_run_dir(run_dir)
    assert run_dir_holder(run_dir) is None


@pytest.mark.parametrize("command", [
    ["seed", "--samples", "300", "--batch-size", "50"],
    ["train", "--function", "a*b", "--samples", "60", "--hidden", "4"],
])
def test_both_commands_write_the_checkpoints_asked_for(tmp_path, capsys, monkeypatch, command):
    from chainrule.training import lifecycle, runs

    written = []
    real_save = runs.save_checkpoint
    for module in (runs, lifecycle):  # (periodic and Ctrl-C saves; the final one)
        monkeypatch.setattr(module, "save_checkpoint",
                            lambda path, checkpoint: written.append(checkpoint["epoch"])
                            or real_save(path, checkpoint))
    for every, expected in (("1", [1, 2, 3, 4]), ("2", [2, 4]), ("off", [4])):
        written.clear()
        assert main([*command, "--epochs", "4", "--checkpoint-every", every, "--no-plots",
                     "--quiet", "--out", str(tmp_path / every)]) == 0, capsys.readouterr().err
        assert written == expected, every  # (never after the last epoch: the final one follows)


def test_a_sweep_claims_its_folder_too(tmp_path, capsys):
    sweep = ["seed", "--sweep", "--sweep-inits", "xavier", "--sweep-treatments", "none",
             "--sweep-lrs", "0.1", "--sweep-epochs", "1", "--samples", "200", "--no-seed-rows",
             "--no-plots", "--quiet"]
    run_dir = tmp_path / "s"
    run_dir.mkdir()
    with claim_run_dir(run_dir):
        assert main([*sweep, "--out", str(run_dir)]) == 2
        assert "is in use by another chainrule run" in capsys.readouterr().err
    assert main([*sweep, "--out", str(run_dir)]) == 0, capsys.readouterr().err
    assert sorted(os.listdir(run_dir)) == ["sweep.json", "sweep.md"]
