"""examples/tiny_gpt.py in quick mode: it trains (the validation loss falls well below the
uniform guess ln 65 = 4.17 nats per character), prints tokens/s, saves a checkpoint that
--resume continues and --sample-only samples from."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def _run(*args):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "tiny_gpt.py"), *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_tiny_gpt_quick_trains_saves_resumes_and_samples(tmp_path):
    out = _run("--quick", "--out", str(tmp_path), *(["--compare-torch"] if HAS_TORCH else []))
    steps = re.findall(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+), lr \S+, "
                       r"([0-9,]+) tokens/s", out, re.M)
    assert [s[0] for s in steps] == ["20", "40"], out
    assert float(steps[-1][2]) < 3.7, out  # from about 4.17 (uniform over 65 characters)
    if HAS_TORCH:  # the same model, weights and batches in PyTorch: the same losses (float32)
        twin = re.findall(r"^torch step (\d+): train loss ([0-9.]+), val loss ([0-9.]+)", out, re.M)
        assert [t[0] for t in twin] == ["20", "40"], out
        for ours, theirs in zip(steps, twin):
            assert abs(float(ours[1]) - float(theirs[1])) < 2e-3, out
            assert abs(float(ours[2]) - float(theirs[2])) < 2e-3, out
    assert (tmp_path / "tiny_gpt.crk").exists()
    sample = out.split("sample:\n", 1)[1]
    assert len(sample) >= 80

    resumed = _run("--quick", "--resume", str(tmp_path / "tiny_gpt.crk"), "--steps", "60",
                   "--out", str(tmp_path))
    assert re.findall(r"step (\d+):", resumed) == ["60"], resumed  # continues at step 41

    sampled = _run("--sample-only", str(tmp_path / "tiny_gpt.crk"), "--samples", "50",
                   "--temperature", "0.5", "--top-k", "5", "--prompt", "ROMEO:")
    assert sampled.splitlines()[1].startswith("ROMEO:")
