"""Fuzzing the commands with hostile run folders: whatever a run folder or a PyTorch file holds,
every command that reads it ends with exit status 0 or 2, and with 2 one sentence on stderr:
no traceback, no crash (a negative exit status), no hang, no memory blowup.

test_fuzz_load.py covers the file format (any bytes: CheckpointError). This covers the layer
above it: checkpoints that load fine (every checksum valid) but hold wrong things, made by
mutating three real runs (a regression on a formula, a classifier on a CSV, a seed run):

    leaf      one entry anywhere in the checkpoint replaced by a hostile value (huge, negative,
              wrong type, NaN, an array of another shape or dtype, another entry of the file)
    delete    one entry removed;  add: one unknown entry added
    rng       bit generator states NumPy would crash on or reject
    files     config.csv a FIFO, /dev/zero, a folder, a file descriptor number; checkpoint.crk a
              FIFO, a folder, a link to /dev/zero, empty, random bytes; config.json a link
    torch     .pt files for export --from torch: zip bombs, a zip64 locator claiming two disks,
              truncated and bit-flipped zips, state dicts of other shapes, dtypes and contents

Every mutated folder goes through every command that reads runs: predict, export --to torch,
export --from torch, and train/seed --resume (explain reads no runs). The commands run in a
worker subprocess (``chainrule.cli.main`` per case, stdout and stderr captured) under
``resource.RLIMIT_AS`` (2 GiB) and a time limit per case; a worker that crashes is noted and
restarted for the cases after it. A command that raises the worker's peak memory by more than
GROWTH_LIMIT counts as a blowup even when it stays under the cap (the base runs are tiny).

The suite runs a fixed, seeded set (well under a minute). A longer run, on demand:

    PYTHONPATH=src python tests/test_fuzz_runs.py --count 3000 --seed 1
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import pytest

MEMORY_LIMIT = 2 << 30  # RLIMIT_AS of the worker: 2 GiB
CASE_SECONDS = 30  # per command
GROWTH_LIMIT = 256 << 20  # what one command may add to the worker's peak memory (tiny runs)
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

# Signs that a message speaks of the code rather than of the input.
LEAKS = ("object is not subscriptable", "has no attribute", "unsupported operand",
         "is not iterable", "KeyError", "IndexError", "index out of range",
         "object is not callable", "unhashable", "MemoryError", "Unable to allocate",
         "Cannot allocate", "RecursionError", "maximum recursion", "NoneType", "Traceback")

WORKER = r"""
import contextlib, io, json, os, resource, signal, sys, traceback
limit, seconds, fd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from chainrule.cli import main
try:
    import torch  # once, not per case
except ImportError:
    pass

class Hang(BaseException):
    pass

def alarm(signum, frame):
    raise Hang()

signal.signal(signal.SIGALRM, alarm)
results = os.fdopen(fd, "w")
for line in sys.stdin:
    case = json.loads(line)
    results.write(json.dumps({"start": case["id"]}) + "\n"); results.flush()
    out, err = io.StringIO(), io.StringIO()
    outcome = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the high-water mark
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(case["argv"])
    except SystemExit as exit:
        rc = exit.code if isinstance(exit.code, int) else 2
    except Hang:
        rc, outcome = None, "hang"
    except BaseException:
        rc, outcome = None, "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    results.write(json.dumps({"id": case["id"], "rc": rc, "outcome": outcome,
                              "grown_kib": grown, "stderr": err.getvalue()[-4000:]}) + "\n")
    results.flush()
"""


# ----- the base runs -----------------------------------------------------------------------------

def make_bases(root: str) -> dict:
    """Three small finished runs, their CSVs and PyTorch files, under ``root``."""
    from chainrule.cli import main

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    labels = np.where(X[:, 0] > 0, "yes", np.where(X[:, 1] > 0, "maybe", "no"))
    cls_csv = os.path.join(root, "classes.csv")
    with open(cls_csv, "w") as handle:
        handle.write("a,b,c,label\n")
        for row, label in zip(X, labels):
            handle.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    reg_csv = os.path.join(root, "points.csv")
    with open(reg_csv, "w") as handle:
        handle.write("a,b\n")
        for row in X:
            handle.write(f"{row[0]:.4f},{row[1]:.4f}\n")
    images = os.path.join(root, "images.npz")  # 24 one-channel 8x8 images of 3 classes
    np.savez(images, x=rng.normal(size=(24, 8, 8)).astype(np.float32),
             y=np.arange(24) % 3)
    common = ["--epochs", "2", "--no-plots", "--quiet"]
    runs = {
        "reg": ["train", "--function", "a*b+a", "--samples", "60", "--hidden", "5,4",
                "--patience", "3", "--scheduler", "step:1:0.5", *common],
        "cls": ["train", "--csv", cls_csv, "--target", "label", "--loss", "cross_entropy",
                "--optimizer", "sgd", "--momentum", "0.9", "--scheduler", "plateau",
                "--hidden", "4", *common],
        "seed": ["seed", "--samples", "60", "--hidden", "3", "--optimizer", "rmsprop",
                 "--momentum", "0.5", "--scheduler", "cosine", *common],
        "img": ["train", "--images", images, "--channels", "2,3", "--batch-norm", "--hidden", "4",
                "--patience", "3", *common],
    }
    bases = {}
    with open(os.devnull, "w") as quiet:
        import contextlib

        with contextlib.redirect_stdout(quiet):
            for name, argv in runs.items():
                folder = os.path.join(root, name)
                assert main([*argv, "--out", folder]) == 0, name
                bases[name] = folder
    bases["csv"] = {"reg": reg_csv, "cls": cls_csv, "seed": reg_csv}
    bases["images"] = {"img": images}
    bases["torch"] = {}
    try:
        import torch  # noqa: F401
    except ImportError:
        return bases
    import contextlib

    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        for name in NAMES:
            path = os.path.join(root, f"{name}.pt")
            assert main(["export", "--to", "torch", bases[name], "--out", path]) == 0
            bases["torch"][name] = path
    return bases


NAMES = ("reg", "cls", "seed", "img")  # the base runs: --function, --csv, seed, --images


# ----- mutations ---------------------------------------------------------------------------------

def hostile_values(rnd: random.Random, here=None, leaves=()):
    """A hostile value: of another type, out of range, huge, non-finite, or another entry."""
    pool = [None, True, False, 0, -1, 1, 2, 3, 7, 700, 10**9, 10**12, -10**12, 2**63, 2**64,
            2**200, 0.0, -0.5, 1.5, 1e308, math.nan, math.inf, -math.inf, "", "nope", "0",
            "relu", "x" * 5000, [], [1], [1, 2, 3], [[1]], ["a", "b"], [None], {}, {"a": 1},
            {0: 1}, (1,), np.zeros(0), np.ones(3), np.ones((2, 2)), np.full(4, np.nan),
            np.float32(2.5), np.int64(-3), np.ones(624, np.uint32), np.arange(3, dtype=np.int64),
            np.zeros((0, 50_000), np.float32), np.ones((1, 1, 1)), np.array(True)]
    if isinstance(here, np.ndarray):
        with np.errstate(all="ignore"):
            pool += [here.astype(np.float16), here.astype(np.int64), here.astype(np.float64),
                     here.reshape(-1), here[None], here.T, here * np.nan, here * 1e38, -here]
            if here.ndim:  # (a 0-d array, such as BatchNorm's num_batches_tracked, has no rows)
                pool += [here[:1], np.concatenate([here, here]),
                         np.zeros((0, *here.shape[1:]), here.dtype)]
    if isinstance(here, bool):
        pool += [not here]
    elif isinstance(here, int):
        pool += [here + 1, here - 1, -here, here * 1000, here + 10**9]
    elif isinstance(here, float):
        pool += [here * 1e30, -here, here + 1]
    elif isinstance(here, str):
        pool += [here.upper(), here + "x", here[:-1], "step:0:1", "step:1:-1", "cosine:1",
                 "uniform:1", "uniform:5:1", "normal:-1", "exponential:0", "truncnormal:1:2:1",
                 "plateau", "a/0", "log(-a)", "a**1e10", "(" * 200 + "a" + ")" * 200,
                 "__import__('os').system('true')", "exp(exp(exp(a)))", "float64", "int8",
                 "sgd", "lbfgs", "cross_entropy", "bce_with_logits", "function", "csv", "seed"]
    elif isinstance(here, (list, tuple)):
        pool += [list(here) * 2, list(here)[:-1], list(reversed(here)), tuple(here)]
    if leaves:
        pool += [copy.deepcopy(rnd.choice(leaves)) for _ in range(8)]
    return copy.deepcopy(rnd.choice(pool))


def _nodes(value, path=()):
    """(path, value) of every entry of a nested dict/list/tuple."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _nodes(item, (*path, i))


def _replace(root, path, new):
    """``root`` with the entry at ``path`` replaced by ``new`` (tuples rebuilt)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(root, tuple):
        items = list(root)
        items[head] = _replace(items[head], rest, new)
        return tuple(items)
    root[head] = _replace(root[head], rest, new)
    return root


def _delete(root, path):
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, list):
        del parent[path[-1]]
    return root


def mutate_checkpoint(rnd: random.Random, checkpoint: dict):
    """(description, mutated copy) of a checkpoint dict."""
    checkpoint = copy.deepcopy(checkpoint)
    nodes = list(_nodes(checkpoint))
    leaves = [value for _, value in nodes if not isinstance(value, (dict, list, tuple))]
    kind = rnd.choices(["leaf", "delete", "add", "rng", "numbers"], [60, 12, 6, 6, 16])[0]
    if kind == "rng":
        key = np.ones(624, np.uint32)
        state = rnd.choice([
            {"bit_generator": "MT19937", "state": {"key": key, "pos": 10**9}},
            {"bit_generator": "MT19937", "state": {"key": key, "pos": 700}},
            {"bit_generator": "MT19937", "state": {"key": key, "pos": -1}},
            {"bit_generator": "MT19937", "state": {"key": key[:10], "pos": 1}},
            {"bit_generator": "MT19937", "state": {"key": key.astype(np.float64), "pos": 1}},
            {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0,
             "uinteger": 0},
            {"bit_generator": "PCG64", "state": {"state": 2**130, "inc": 1}, "has_uint32": 0,
             "uinteger": 0},
            {"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 7,
             "uinteger": -1},
            {"bit_generator": "Philox", "state": {"counter": np.zeros(4, np.uint64),
                                                  "key": np.zeros(2, np.uint64)},
             "buffer": np.zeros(4, np.uint64), "buffer_pos": 99, "has_uint32": 0, "uinteger": 0},
            {"bit_generator": "SFC64", "state": {"state": np.zeros(3, np.uint64)},
             "has_uint32": 0, "uinteger": 0},
            {"bit_generator": "os.system"}, {"bit_generator": None}, "PCG64", None,
        ])
        return f"rng = {_short(state)}", _replace(checkpoint, ("rng",), state)
    if kind == "delete":
        candidates = [path for path, _ in nodes if path]
        path = rnd.choice(candidates)
        return f"delete {_path(path)}", _delete(checkpoint, path)
    if kind == "add":
        dicts = [path for path, value in nodes if isinstance(value, dict)]
        path = rnd.choice(dicts)
        value = hostile_values(rnd)
        key = rnd.choice(["extra", "0.weight", "state", 5, "momentum_buffer", "step", "__class__"])
        target = checkpoint
        for step in path:
            target = target[step]
        target[key] = value
        return f"add {_path((*path, key))} = {_short(value)}", checkpoint
    if kind == "numbers":  # a number or array entry nudged: plausible but wrong
        numeric = [(path, value) for path, value in nodes if path and (
            isinstance(value, np.ndarray) or (isinstance(value, (int, float))
                                              and not isinstance(value, bool)))]
        path, value = rnd.choice(numeric)
        new = hostile_values(rnd, value)
        return f"{_path(path)} = {_short(new)}", _replace(checkpoint, path, new)
    section = rnd.choice(list(checkpoint))  # a section first, so the large ones (health)
    path, value = rnd.choice([(p, v) for p, v in nodes if p and p[0] == section])  # don't crowd
    new = hostile_values(rnd, value, leaves)
    return f"{_path(path)} = {_short(new)}", _replace(checkpoint, path, new)


def _path(path) -> str:
    return "".join(f"[{key!r}]" for key in path)


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}:{value.dtype}"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# ----- files that are not files ------------------------------------------------------------------

def file_mutations(folder: str, name: str):
    """(description, function(folder)) for the file-level cases."""
    import chainrule

    def set_config(**changes):
        def apply(run):
            path = os.path.join(run, "checkpoint.crk")
            data = chainrule.load(path)
            for key, value in changes.items():
                if callable(value):
                    value = value(run)
                data["config"][key] = value
            chainrule.save(data, path)
        return apply

    def fifo(run, relative="feed"):
        path = os.path.join(run, relative)
        os.mkfifo(path)
        return path

    def replace_checkpoint(make):
        def apply(run):
            path = os.path.join(run, "checkpoint.crk")
            os.unlink(path)
            make(path)
        return apply

    cases = [
        ("checkpoint.crk is a FIFO", replace_checkpoint(os.mkfifo)),
        ("checkpoint.crk is a folder", replace_checkpoint(os.mkdir)),
        ("checkpoint.crk links to /dev/zero", replace_checkpoint(
            lambda path: os.symlink("/dev/zero", path))),
        ("checkpoint.crk is a dangling link", replace_checkpoint(
            lambda path: os.symlink("/nonexistent/x", path))),
        ("checkpoint.crk is empty", replace_checkpoint(lambda path: open(path, "w").close())),
        ("checkpoint.crk is random bytes", replace_checkpoint(
            lambda path: open(path, "wb").write(os.urandom(5000)))),
        ("config.json links outside", lambda run: (os.unlink(os.path.join(run, "config.json")),
                                                   os.symlink("/etc/hostname",
                                                              os.path.join(run, "config.json")))),
    ]
    if name == "cls":
        cases += [
            ("config.csv = /dev/zero", set_config(csv="/dev/zero")),
            ("config.csv = 0 (stdin's descriptor)", set_config(csv=0)),
            ("config.csv = 3", set_config(csv=3)),
            ("config.csv a FIFO", set_config(csv=fifo)),
            ("config.csv a folder", set_config(csv=lambda run: run)),
            ("config.csv with a NUL byte", set_config(csv="/tmp/a\0b")),
            ("config.csv = /etc/passwd", set_config(csv="/etc/passwd")),
        ]
    else:
        cases += [
            ("config.samples = 10**12", set_config(samples=10**12)),
            ("config.hidden = [40000, 40000]", set_config(hidden=[40000, 40000])),
            ("config.epochs = 10**9", set_config(epochs=10**9)),
            ("config.function nested 5000 deep", set_config(function="(" * 5000 + "a" + ")" * 5000)),
        ]
    return cases


def torch_mutations(root: str, good: str, rnd: random.Random, flips: int = 6):
    """(description, path) of hostile PyTorch files written under ``root``."""
    files = []

    def path(name):
        return os.path.join(root, name)

    # a zip bomb: a tiny data.pkl followed by gigabytes of deflated zeros
    bomb = path("bomb.pt")
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bomb, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        info = zipfile.ZipInfo("archive/data/99")
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(64):  # 64 MiB of zeros, about 64 KB deflated
                member.write(block)
    files.append(("a zip bomb", bomb))
    # the same claim written in the directory only (file_size patched, no data behind it)
    claim = path("claim.pt")
    data = bytearray(open(good, "rb").read())
    central = data.rfind(b"PK\x01\x02")
    while central > 0:  # patch every central directory entry's uncompressed size
        struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)
        central = data.rfind(b"PK\x01\x02", 0, central)
    open(claim, "wb").write(data)
    files.append(("members claiming 4 GiB each", claim))
    # a zip64 end-of-central-directory locator claiming two disks
    two = path("twodisks.pt")
    data = bytearray(open(good, "rb").read())
    end = data.rfind(b"PK\x05\x06")
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 2)
    data[end:end] = locator
    open(two, "wb").write(data)
    files.append(("a zip64 locator claiming two disks", two))
    # truncated, bit-flipped, empty, random
    raw = open(good, "rb").read()
    for i, cut in enumerate((10, len(raw) // 2, len(raw) - 5)):
        p = path(f"cut{i}.pt")
        open(p, "wb").write(raw[:cut])
        files.append((f"truncated at {cut}", p))
    for i in range(flips):
        flipped = bytearray(raw)
        for _ in range(rnd.randint(1, 8)):
            flipped[rnd.randrange(len(flipped))] ^= 1 << rnd.randrange(8)
        p = path(f"flip{i}.pt")
        open(p, "wb").write(bytes(flipped))
        files.append((f"bit flips {i}", p))
    p = path("empty.pt")
    open(p, "wb").close()
    files.append(("empty", p))
    p = path("fifo.pt")
    os.mkfifo(p)
    files.append(("a FIFO", p))
    files.append(("/dev/zero", "/dev/zero"))
    files.append(("a folder", root))
    try:
        import torch
    except ImportError:
        return files
    state = torch.load(good, weights_only=True)
    variants = {
        "shapes transposed": {k: v.T.contiguous() if v.ndim == 2 else v for k, v in state.items()},
        "bfloat16": {k: v.to(torch.bfloat16) for k, v in state.items()},
        "int64": {k: v.to(torch.int64) for k, v in state.items()},
        "complex": {k: v.to(torch.complex64) for k, v in state.items()},
        "a key missing": dict(list(state.items())[1:]),
        "an extra key": {**state, "9.weight": torch.zeros(2, 2)},
        "a nested dict": {"model": state, "epoch": 3},
        "a list": list(state.values()),
        "an empty dict": {},
        "non-tensors": {k: 1.5 for k in state},
        "a huge zero-size tensor": {**state, "0.weight": torch.zeros(0, 10**9)},
        "an expanded view": {**state, "0.weight": torch.zeros(1).expand(10**6)},
        "a 0-d tensor": {k: torch.tensor(1.0) for k in state},
    }
    for i, (name, value) in enumerate(variants.items()):
        p = path(f"variant{i}.pt")
        torch.save(value, p)
        files.append((name, p))
    return files


# ----- running the commands ----------------------------------------------------------------------

def commands_for(name: str, folder: str, bases: dict, scratch: str, plots: bool = False):
    """The command lines that read the run in ``folder`` (a copy of base ``name``)."""
    lines = []
    if name == "img":
        lines.append(["predict", "--model", folder, "--images", bases["images"][name]])
    elif name != "seed":
        lines.append(["predict", "--model", folder, "--csv", bases["csv"][name]])
    if bases["torch"]:
        lines.append(["export", "--to", "torch", folder, "--out", os.path.join(scratch, "x.pt")])
        lines.append(["export", "--from", "torch", bases["torch"][name], "--like", folder,
                      "--out", os.path.join(scratch, "imported")])
    command = "seed" if name == "seed" else "train"
    lines.append([command, "--resume", folder, "--epochs", "3", "--quiet",
                  "--plots" if plots else "--no-plots"])  # (figures cost ~1 s: now and then)
    return lines


def judge(result: dict) -> str | None:
    """None if the command ended as it must; else what went wrong."""
    if result.get("outcome") == "hang":
        return "hang"
    if result.get("outcome") == "crash":
        return "crash"
    if result.get("outcome") == "traceback" or "Traceback" in result["stderr"]:
        return "traceback"
    if result.get("grown_kib", 0) > GROWTH_LIMIT // 1024:
        return f"blowup (the peak memory grew by {result['grown_kib'] // 1024} MiB)"
    rc = result["rc"]
    if rc not in (0, 2):
        return f"exit status {rc}"
    if rc == 2:
        lines = result["stderr"].strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("chainrule ") or ": error: " not in lines[0]:
            return "not one line"
        if any(leak in lines[0] for leak in LEAKS):
            return "a message leaking internals"
        if any(word in lines[0] for word in ("Unable to allocate", "MemoryError")):
            return "blowup"
    return None


class Worker:
    """A subprocess running cases (one chainrule.cli.main call each) under RLIMIT_AS."""

    def __init__(self, limit: int, seconds: int):
        self.limit, self.seconds = limit, seconds
        self.process = None

    def start(self, queue):
        read, write = os.pipe()
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env.pop("CHAINRULE_DEBUG", None)  # (it turns errors into tracebacks)
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(self.limit), str(self.seconds), str(write)],
            stdin=queue, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(write,), env=env, text=True)
        os.close(write)
        self.results = os.fdopen(read, "r")

    def run(self, cases: list) -> dict:
        """{case id: result} for every case; a crash or a stuck worker ends its case."""
        import select

        results, pending = {}, list(cases)
        while pending:
            with tempfile.TemporaryFile("w+") as queue:  # (a file: no pipe to fill up)
                for case in pending:
                    queue.write(json.dumps(case) + "\n")
                queue.seek(0)
                self.start(queue)
            current = None
            deadline = None
            while True:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([self.results], [], [], timeout)
                line = self.results.readline() if ready else None
                if line is None:  # stuck past the worker's own alarm: kill it
                    self.process.kill()
                    self.process.wait()
                    results[current] = {"id": current, "rc": None, "outcome": "hang",
                                        "stderr": ""}
                    break
                if not line:  # the worker ended
                    code = self.process.wait()
                    if current is not None and current not in results:
                        results[current] = {"id": current, "rc": code, "outcome": "crash",
                                            "stderr": f"worker died with status {code}"}
                    break
                message = json.loads(line)
                if "start" in message:
                    current = message["start"]
                    deadline = time.monotonic() + self.seconds + 30
                else:
                    results[message["id"]] = message
                    deadline = None
            self.results.close()
            pending = [case for case in pending if case["id"] not in results]
        return results


def build_cases(bases: dict, root: str, count: int, seed: int, special: bool = True):
    """The cases: ``count`` random checkpoint mutations, plus the file and torch cases."""
    import chainrule

    rnd = random.Random(seed)
    cases, about = [], {}
    originals = {name: chainrule.load(os.path.join(bases[name], "checkpoint.crk"))
                 for name in NAMES}

    def copy_base(name, label):
        folder = os.path.join(root, f"case{len(about)}")
        shutil.copytree(bases[name], folder, symlinks=True)
        scratch = folder + "-out"
        os.makedirs(scratch)
        about[folder] = label
        return folder, scratch

    def add(name, folder, scratch, label, lines=None):
        plots = rnd.random() < 0.05
        for argv in lines or commands_for(name, folder, bases, scratch, plots):
            cases.append({"id": len(cases), "argv": argv, "about": f"{name}: {label}"})

    for _ in range(count):
        name = rnd.choice(NAMES)
        label, mutated = mutate_checkpoint(rnd, originals[name])
        folder, scratch = copy_base(name, label)
        try:
            chainrule.save(mutated, os.path.join(folder, "checkpoint.crk"))
        except (TypeError, ValueError):  # not storable (a cycle, a dtype): nothing to test
            continue
        add(name, folder, scratch, label)
    if not special:
        return cases
    for name in NAMES:
        for label, apply in file_mutations(bases[name], name):
            folder, scratch = copy_base(name, label)
            apply(folder)
            add(name, folder, scratch, label)
    if bases["torch"]:
        for label, path in torch_mutations(root, bases["torch"]["reg"], rnd,
                                           flips=max(6, count // 20)):
            folder, scratch = copy_base("reg", label)
            add("reg", folder, scratch, f"torch file: {label}", [
                ["export", "--from", "torch", path, "--like", folder,
                 "--out", os.path.join(scratch, "imported")]])
    return cases


def fuzz(count: int, seed: int, root: str, special=True, log=None) -> tuple:
    """(cases, failures): run ``count`` random mutations plus the fixed cases."""
    os.makedirs(os.path.join(root, "bases"))
    bases = make_bases(os.path.join(root, "bases"))
    cases = build_cases(bases, root, count, seed, special)
    if log:
        log(f"{len(cases)} command runs")
    results = Worker(MEMORY_LIMIT, CASE_SECONDS).run(cases)
    failures, statuses = [], {}
    for case in cases:
        result = results[case["id"]]
        statuses[result["rc"]] = statuses.get(result["rc"], 0) + 1
        problem = judge(result)
        if problem:
            failures.append({"problem": problem, "about": case["about"], "argv": case["argv"],
                             "stderr": result["stderr"][-1500:]})
    if log:
        log(f"exit statuses: {statuses}")
    return cases, failures


# ----- the tests -----------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only (FIFOs, RLIMIT_AS)")
def test_hostile_run_folders_get_one_sentence_and_exit_2(tmp_path):
    pytest.importorskip("torch")  # the export commands and .pt mutations need it
    started = time.monotonic()
    cases, failures = fuzz(count=300, seed=0, root=str(tmp_path))
    shown = "\n".join(f"{f['problem']}: {f['about']}: chainrule {' '.join(map(str, f['argv']))}"
                      f"\n    {f['stderr'].strip()[-600:]}" for f in failures[:10])
    assert not failures, f"{len(failures)} of {len(cases)} command runs failed:\n{shown}"
    assert len(cases) > 1000
    print(f"{len(cases)} command runs in {time.monotonic() - started:.1f} s, all clean")


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Fuzz the commands with hostile run folders.")
    parser.add_argument("--count", type=int, default=1000, help="random checkpoint mutations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-special", action="store_true",
                        help="only the random mutations (not the file and torch cases)")
    parser.add_argument("--json", metavar="PATH", help="write every failure here")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="chainrule-fuzz-")
    started = time.monotonic()
    try:
        cases, failures = fuzz(args.count, args.seed, root, not args.no_special,
                               log=lambda text: print(text, flush=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    kinds = {}
    for failure in failures:
        kinds[failure["problem"]] = kinds.get(failure["problem"], 0) + 1
    print(f"{args.count} mutations, {len(cases)} command runs in "
          f"{time.monotonic() - started:.0f} s: {len(failures)} failures {kinds or ''}")
    for failure in failures[:30]:
        print(f"- {failure['problem']}: {failure['about']}: chainrule "
              f"{' '.join(map(str, failure['argv']))}\n    {failure['stderr'].strip()[-400:]}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(failures, handle, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
