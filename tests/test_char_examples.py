"""examples/char_lstm.py and examples/makemore_names.py in quick mode: each trains (the loss falls
well below the uniform guess), prints tokens/s, and samples text made of its corpus's characters;
the LSTM also saves a checkpoint that --resume continues and --sample-only samples from, stops
after --minutes, and its PyTorch twin (same weights, same batches) prints the same losses."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _run(example, *args):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / example), *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _alphabet(name):
    return set((DATA / name).read_text(encoding="utf-8"))


def test_char_lstm_quick_trains_saves_resumes_and_samples(tmp_path):
    out = _run("char_lstm.py", "--quick", "--out", str(tmp_path))
    steps = re.findall(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+), lr \S+, "
                       r"([0-9,]+) tokens/s", out, re.M)
    assert [s[0] for s in steps] == ["20", "40"], out
    assert float(steps[-1][2]) < 3.6, out  # from about ln 65 = 4.17 (uniform over 65 characters)
    sample = out.split("sample:\n", 1)[1]
    assert len(sample) >= 80 and set(sample) <= _alphabet("tiny_shakespeare.txt"), sample

    checkpoint = str(tmp_path / "char_lstm.crk")
    resumed = _run("char_lstm.py", "--quick", "--resume", checkpoint, "--steps", "60",
                   "--samples", "10")
    assert re.findall(r"^step (\d+):", resumed, re.M) == ["60"], resumed  # continues at step 41

    sampled = _run("char_lstm.py", "--sample-only", checkpoint, "--samples", "50",
                   "--temperature", "0.5", "--top-k", "5", "--prompt", "ROMEO:")
    text = sampled.split("\n", 1)[1]
    assert text.startswith("ROMEO:") and len(text) >= 56, sampled
    assert set(text) <= _alphabet("tiny_shakespeare.txt"), text


@pytest.mark.skipif(not HAS_TORCH, reason="the twin is PyTorch's")
def test_char_lstm_torch_twin_prints_the_same_losses():
    # the same model, weights and batches in PyTorch: the same losses (float32)
    out = _run("char_lstm.py", "--quick", "--steps", "20", "--eval-every", "10", "--samples", "5",
               "--compare-torch")
    ours = re.findall(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+)", out, re.M)
    twin = re.findall(r"^torch step (\d+): train loss ([0-9.]+), val loss ([0-9.]+)", out, re.M)
    assert [s[0] for s in ours] == [t[0] for t in twin] == ["10", "20"], out
    for a, b in zip(ours, twin):
        assert abs(float(a[1]) - float(b[1])) < 2e-3 and abs(float(a[2]) - float(b[2])) < 2e-3, out


def test_char_lstm_stops_after_its_minutes():
    out = _run("char_lstm.py", "--quick", "--steps", "100000", "--minutes", "0.01", "--samples", "5")
    assert re.search(r"^stopped after 0.01 minutes, at step \d+ of 100000$", out, re.M), out


@pytest.mark.parametrize("model, last_step", [("mlp", "300"), ("gpt", "60")])
def test_makemore_names_quick_trains_and_samples_names(model, last_step):
    out = _run("makemore_names.py", "--quick", "--model", model, "--samples", "10")
    steps = re.findall(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+)", out, re.M)
    assert steps[0][0] == "0" and steps[-1][0] == last_step, out
    assert float(steps[0][2]) > 3.2  # the first predictions are near uniform: ln 27 = 3.30
    assert float(steps[-1][2]) < 2.65, out
    assert re.search(rf"^step {last_step}: .* ([0-9,]+) characters/s$", out, re.M), out
    names = out.split("samples:\n", 1)[1].splitlines()
    assert len(names) == 10, out
    assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz") for name in names), names
    assert sum(len(name) > 0 for name in names) >= 8, names
