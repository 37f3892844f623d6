"""The LeNet benchmark keeps working: its quick mode runs to the end in a subprocess, and chainrule,
the NumPy im2col+GEMM floor and PyTorch reach the same validation loss (no timing asserted)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_conv_benchmark_quick_mode_runs_and_the_implementations_agree(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run_conv.py"), "--quick", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "conv_quick.json").read_text())
    assert set(report["summary"]) == {"lenet-256", "resnet-64"}
    for case, summary in report["summary"].items():
        assert {"floor", "chainrule"} <= set(summary)
        for variant, result in summary.items():
            assert "error" not in result, (case, variant, result)
            assert result["quality_ok"], (case, variant, result["quality"])
    assert "## Where chainrule's lenet-256 step goes" in (tmp_path / "conv_quick.md").read_text()
