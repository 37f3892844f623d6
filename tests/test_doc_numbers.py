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
