"""The sequence benchmarks keep working: quick mode (tiny GPT and LSTM) runs to the end in a
subprocess, and chainrule, the hand-fused NumPy floors and PyTorch agree on the first step's loss
and on the validation loss after their steps (no timing asserted)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_seq_benchmark_quick_mode_runs_and_the_implementations_agree(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run_seq.py"), "--quick", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "seq_quick.json").read_text())
    assert set(report["summary"]) == {"gpt-16", "lstm-32"}
    for case, summary in report["summary"].items():
        assert {"floor", "chainrule"} <= set(summary)
        floor_loss = summary["floor"]["first_loss"]
        assert 3.0 < floor_loss < 5.0, floor_loss  # about ln 65 = 4.17 from a fresh model
        for variant, result in summary.items():
            assert "error" not in result, (case, variant, result)
            assert result["quality_ok"], (case, variant, result["first_loss"], result["quality"])
            assert abs(result["first_loss"] - floor_loss) <= 1e-5 * floor_loss
    for case, paired in report["paired"].items():  # the implementations taking turns in one process
        assert "error" not in paired, (case, paired)
        assert set(paired["summary"]) >= {"floor", "chainrule"}
    text = (tmp_path / "seq_quick.md").read_text()
    assert "## Where chainrule's lstm-32 step goes" in text
