"""Numbers the README quotes from a command are the numbers the command prints today: each test
runs the command the README names and compares (so a change to the engine that moves a number
fails here until the README says the new one)."""

import json
import os
import pathlib
import re

import pytest

from chainrule.cli import main

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_the_seed_default_val_mse(tmp_path, capsys):
    summary = _run_json(capsys, ["seed", "--json", "--quiet", "--no-plots", "--no-health",
                                 "--out", str(tmp_path / "run")])
    row = re.search(r"^\| defaults \(50 epochs, batch 500\) \| ([0-9.]+) \|", README, re.M)
    assert row, "the README's table of chainrule seed runs has no 'defaults' row"
    assert row.group(1) == f"{summary['kept_val_loss']:.4f}"


@pytest.mark.skipif(not os.environ.get("CHAINRULE_DOC_NUMBERS"),
                    reason="six 50-epoch runs (20 s on an idle core): set CHAINRULE_DOC_NUMBERS=1")
def test_the_sweep_table_is_what_the_named_command_prints(tmp_path, capsys):
    command = re.search(r"`chainrule (seed --sweep [^`]+)`\n\(seed 0, float32", README)
    assert command, "the README does not name the flags of its sweep table"
    argv = command.group(1).split()
    summary = _run_json(capsys, [*argv, "--json", "--quiet", "--no-plots",
                                 "--out", str(tmp_path / "sweep")])
    printed = {(row["backward"], row["lr"]): f"{row['val_loss']:.2f}"
               for row in summary["derivative"]}
    seed_row = re.search(r"^\| the seed's: .* \| ([0-9.]+) \| ([0-9.]+) \|$", README, re.M)
    right_row = re.search(r"^\| right: .* \| ([0-9.]+) \| ([0-9.]+) \|$", README, re.M)
    assert seed_row and right_row
    assert [printed[("SeedSigmoidLayer", 0.01)], printed[("SeedSigmoidLayer", 0.1)]] == \
        list(seed_row.groups())
    assert [printed[("SigmoidLayer", 0.01)], printed[("SigmoidLayer", 0.1)]] == \
        list(right_row.groups())


def test_the_gradcheck_lines_backprop_by_hand_shows(capsys):
    """docs/backprop_by_hand.md shows the end of `chainrule gradcheck --include-seed-layer`: the
    case count and the seed's rows are what the command prints today (whitespace aside)."""
    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "backprop_by_hand.md").read_text(
        encoding="utf-8")
    block = re.search(r"`chainrule gradcheck --include-seed-layer` runs every.*?```\n(.*?)```",
                      doc, re.S)
    assert block, "backprop_by_hand.md no longer shows the gradcheck command's output"
    main(["gradcheck", "--include-seed-layer"])
    printed = {" ".join(line.split()) for line in capsys.readouterr().out.splitlines()}
    shown = [" ".join(line.split()) for line in block.group(1).splitlines() if line.strip()]
    assert shown and all(line in printed for line in shown), shown


# ----- the seed table's other cells: the batch-32 row, the PyTorch twin and its differences -------

def _seed_row(label):
    """The README's seed-table row whose first cell is ``label``: its three numeric cells."""
    row = re.search(rf"^\| {re.escape(label)} \| ([0-9.]+) \| ([0-9.]+) \| (.*) \|$", README, re.M)
    assert row, f"the README's table of chainrule seed runs has no {label!r} row"
    return row.groups()


def _differences(cell):
    """{'float32': '2.2e-06', 'float64': '4.7e-15'} from a cell '2.2e-06 (float32), 4.7e-15 (...)'"""
    return {("float64" if "float64" in what else "float32"): number
            for number, what in re.findall(r"([0-9.]+e-[0-9]+) \(([^)]*)\)", cell)}


def test_the_readme_names_the_commands_of_the_seed_table():
    """The twin's columns cost about a minute of runs, so CI checks them only with
    CHAINRULE_DOC_NUMBERS=1 (below); the README says so and names the commands that give them."""
    assert "Measured with `chainrule seed --compare-torch`" in README
    assert "`--dtype float64`" in _seed_row("defaults (50 epochs, batch 500)")[2]
    _seed_row("`--batch-size 32 --epochs 5`")
    assert "CHAINRULE_DOC_NUMBERS=1" in README
    assert "largest relative step-loss difference" in README  # what --compare-torch prints


def test_the_batch_32_row(tmp_path, capsys):
    chainrule_mse, _, _ = _seed_row("`--batch-size 32 --epochs 5`")
    summary = _run_json(capsys, ["seed", "--batch-size", "32", "--epochs", "5", "--json",
                                 "--quiet", "--no-plots", "--no-health",
                                 "--out", str(tmp_path / "run")])
    assert chainrule_mse == f"{summary['kept_val_loss']:.4f}"


@pytest.mark.skipif(not os.environ.get("CHAINRULE_DOC_NUMBERS"),
                    reason="three runs beside a PyTorch twin (a minute): set CHAINRULE_DOC_NUMBERS=1")
@pytest.mark.parametrize("label, flags", [
    ("defaults (50 epochs, batch 500)", []),
    ("`--batch-size 32 --epochs 5`", ["--batch-size", "32", "--epochs", "5"]),
])
def test_the_torch_twin_columns(tmp_path, capsys, label, flags):
    pytest.importorskip("torch")
    chainrule_mse, twin_mse, cell = _seed_row(label)
    shown = _differences(cell)
    summary = _run_json(capsys, ["seed", *flags, "--compare-torch", "--json", "--quiet",
                                 "--no-plots", "--no-health", "--out", str(tmp_path / "f32")])
    assert chainrule_mse == f"{summary['kept_val_loss']:.4f}"
    assert twin_mse == f"{summary['torch']['final_val_loss']:.4f}"
    assert shown["float32"] == f"{summary['torch']['max_relative_step_loss_difference']:.1e}"
    if "float64" in shown:
        summary = _run_json(capsys, ["seed", *flags, "--compare-torch", "--dtype", "float64",
                                     "--json", "--quiet", "--no-plots", "--no-health",
                                     "--out", str(tmp_path / "f64")])
        assert shown["float64"] == f"{summary['torch']['max_relative_step_loss_difference']:.1e}"


def _side_by_side(tmp_path, dtype):
    """What examples/pytorch_side_by_side.py prints (20 steps, a second)."""
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "examples" / "pytorch_side_by_side.py"),
                             "--dtype", dtype], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root / "src")})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_side_by_side_agreement_the_docs_quote(tmp_path):
    """The README's 'the per-step losses agree to 3e-16 in float64' is what the example prints
    with --dtype float64, to one digit; the lines docs/coming_from_pytorch.md shows of its output
    (float32 and float64) are lines it prints."""
    pytest.importorskip("torch")
    printed = {dtype: _side_by_side(tmp_path, dtype) for dtype in ("float32", "float64")}
    quoted = re.search(r"the per-step losses\s+agree to ([0-9]e-[0-9]+) in float64 \(\[`examples/"
                       r"pytorch_side_by_side.py`\]", README)
    assert quoted, "the README no longer quotes the side-by-side example's float64 agreement"
    worst = re.search(r"largest relative difference over \d+ steps: (\S+)", printed["float64"])
    assert worst, printed["float64"]
    assert quoted.group(1) == f"{float(worst.group(1)):.0e}"
    doc = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "coming_from_pytorch.md").read_text(
        encoding="utf-8")
    blocks = re.findall(r"```\n\$ python examples/pytorch_side_by_side.py( --dtype float64)?\n(.*?)```",
                        doc, re.S)
    assert len(blocks) == 2, "coming_from_pytorch.md no longer shows the example's two outputs"
    for flag, block in blocks:
        lines = set(printed["float64" if flag else "float32"].splitlines())
        shown = [line for line in block.splitlines() if line.strip() not in ("", "...")]
        assert shown and all(line in lines for line in shown), (flag, shown)


# ----- the speed section: the recorded benchmark, not a timing in CI ------------------------------

def _benchmark():
    root = pathlib.Path(__file__).resolve().parents[1]
    return json.loads((root / "benchmarks" / "results" / "latest.json").read_text(encoding="utf-8"))


def _fastest(summaries, workload, implementation):
    return summaries[workload][implementation]["us_per_step"][1]  # (median, fastest, slowest)


def test_the_speed_table_is_the_recorded_benchmark():
    """Timings cannot be reproduced in CI (a shared machine, minutes of runs): the README's speed
    table quotes benchmarks/results/latest.json, written by the command the README names, and
    this test holds the two together (re-measure, and the README must follow)."""
    bench = _benchmark()
    command = bench["meta"]["command"]
    assert f"the fastest of {bench['meta']['rounds']} rounds of `{command}`" in " ".join(README.split())
    rows = {"seed network 2-10-1, batch 32": "seed-32", "seed network, batch 500": "seed-500",
            "MLP 784-512-512-10, batch 256": "wide-256"}
    columns = ("floor", "chainrule", "torch-1t", "sklearn-1t")
    for label, workload in rows.items():
        row = re.search(rf"^\| {re.escape(label)} \| (.*) \|$", README, re.M)
        assert row, f"the README's speed table has no {label!r} row"
        us = [_fastest(bench["summaries"], workload, c) for c in columns]
        expected = [f"{t / 1000:.1f} ms" if workload == "wide-256" else f"{t:.0f} µs" for t in us]
        assert [cell.strip() for cell in row.group(1).split("|")] == expected, label


def test_the_speed_claims_are_the_recorded_benchmark():
    """The sentence under the speed table, number by number: ratios of the fastest times against
    PyTorch (as the table shows them), the targets' medians over rounds against the floor, and the
    wide MLP's tie with PyTorch, which holds only while the per-round ratios straddle 1."""
    bench = _benchmark()
    summaries = bench["summaries"]
    targets = {t["target"].split(":")[0] + ":" + t["target"].split(":")[1].split("<")[0].strip(): t
               for t in bench["targets"]}
    vs_floor_32 = targets["seed-32:chainrule time / floor"]
    vs_floor_500 = targets["seed-500:chainrule time / floor"]
    vs_floor_wide = targets["wide-256:chainrule time / floor"]
    vs_torch_wide = targets["wide-256:chainrule time / torch-1t"]
    faster_32 = _fastest(summaries, "seed-32", "torch-1t") / _fastest(summaries, "seed-32", "chainrule")
    faster_500 = (_fastest(summaries, "seed-500", "torch-1t")
                  / _fastest(summaries, "seed-500", "chainrule"))
    memory = (summaries["wide-256"]["chainrule"]["step_peak_mb"],
              summaries["wide-256"]["floor"]["step_peak_mb"])
    assert min(vs_torch_wide["per_round"]) <= 1 <= max(vs_torch_wide["per_round"]), \
        "the README says chainrule ties PyTorch on the wide MLP; the recorded rounds do not"
    assert memory[0] < memory[1], "the README says the wide step needs less memory than the floor's"
    target_32 = float(vs_floor_32["target"].split("<=")[1])
    expected = (
        f"chainrule is {faster_32:.1f}× faster than PyTorch on the seed network at batch 32 and "
        f"{faster_500:.1f}× at batch 500, {vs_floor_500['ratio'][0]:.2f}× the hand-written floor "
        f"at batch 500, within {(vs_floor_wide['ratio'][0] - 1) * 100:.0f}% of it on the wide MLP "
        f"(where it ties PyTorch: {vs_torch_wide['ratio'][0]:.2f}×, with the floor itself at "
        f"{vs_torch_wide['floor_ratio'][0]:.2f}×), and its wide step needs less memory than the "
        f"floor's ({memory[0]:.1f} vs {memory[1]:.1f} MB). At batch 32 it is "
        f"{vs_floor_32['ratio'][0]:.1f}× the floor (the target was {target_32:.1f}×)")
    assert expected in " ".join(README.split())
