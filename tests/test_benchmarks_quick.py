"""The benchmark suite keeps working: its quick mode runs to the end in a subprocess, and every
implementation trains to a finite validation quality that matches the NumPy floor's.

No timing is asserted here (speed targets live only in benchmarks/ and its reports).
"""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {"seed-32": "val_mse", "seed-500": "val_mse", "wide-256": "val_loss"}


def expected_variants():
    variants = ["floor", "floor-dot", "chainrule", "chainrule-ops"]
    if importlib.util.find_spec("torch") is not None:
        variants.append("torch-1t")
    if importlib.util.find_spec("sklearn") is not None:
        variants.append("sklearn-1t")
    return variants


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    return done, out


def test_quick_mode_completes_and_writes_results(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    markdown = (out / "quick.md").read_text()
    assert "python benchmarks/run.py --quick" in markdown  # the command that made it
    assert "## Targets" in markdown
    for case in CASES:
        assert f"## {case}:" in markdown
    assert markdown.strip() in done.stdout  # the table is also printed


def test_every_implementation_reports_finite_quality_matching_the_floor(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "quick.json").read_text())
    for case, metric in CASES.items():
        summary = report["summaries"][case]
        assert sorted(summary) == sorted(expected_variants())
        floor_quality = summary["floor"]["quality"][metric]
        initial = report["initial_quality"][case][metric]
        assert floor_quality < initial  # the floor's steps did train the network
        for variant, result in summary.items():
            assert "error" not in result, f"{case} {variant}: {result.get('error')}"
            quality = result["quality"][metric]
            assert math.isfinite(quality), f"{case} {variant}: {metric} is {quality}"
            assert quality == pytest.approx(floor_quality, rel=1e-3), f"{case} {variant}"
            assert result["quality_ok"] is True
            assert result["us_per_step"][0] > 0


def test_every_child_reports_the_blas_library_it_ran(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "quick.json").read_text())
    for case in CASES:
        for variant, result in report["summaries"][case].items():
            assert "(1t)" in result["blas"], f"{case} {variant}: {result['blas']!r}"


def test_targets_table_names_every_target(quick_run):
    done, out = quick_run
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "quick.json").read_text())
    assert len(report["targets"]) == 8
    for row in report["targets"]:
        assert row["result"] in ("pass", "FAIL", "not measured")
        if row["result"] == "not measured" or "memory" in row["target"]:
            continue
        if "/ floor " in row["target"]:  # the floor against itself would say nothing
            assert row["floor_ratio"] is None
        else:  # against PyTorch or scikit-learn: the floor's own ratio, from the same rounds
            median, low, high = row["floor_ratio"]
            assert 0 < low <= median <= high


def test_paired_timing_runs_and_reports_every_implementation():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "paired.py"), "--impls",
         "chainrule,floor-dot,floor", "--rounds", "2", "--block", "2", "--warmup", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "reference floor" in lines[0]
    for name, line in zip(["chainrule", "floor-dot", "floor"], lines[1:]):
        assert line.split()[0] == name and "median of pair ratios" in line
    assert lines[-1].rstrip().endswith("1.00")  # the reference against itself
