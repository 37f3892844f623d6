"""The diagnosis commands: ``chainrule gradcheck`` and ``chainrule explain``."""

import json
import shutil

import numpy as np

import pytest

import chainrule.op_cases
from chainrule.autograd import Function
from chainrule.cli import main
from chainrule.op_cases import OpCase, all_cases


class WrongSquare(Function):
    """forward: y = x^2      backward (WRONG, not marked known_wrong): dL/dx = dL/dy * x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * x


def _wrong_case():
    return OpCase("wrong square", lambda lib, a: WrongSquare.apply(a), ((3,),), (WrongSquare,))


# ---------------------------------------------------------------------------------------------
# chainrule gradcheck
# ---------------------------------------------------------------------------------------------


def test_gradcheck_command_prints_a_row_per_case_and_a_summary(capsys):
    assert main(["gradcheck", "--filter", "sigmoid"]) == 0
    out = capsys.readouterr().out
    expected = [c for c in all_cases() if "sigmoid" in c.name.lower()
                or any("sigmoid" in op.__name__.lower() for op in c.covers)]
    assert len(expected) >= 3
    for case in expected:
        assert case.name in out
    assert "max |analytical - numerical|" in out
    assert f"{len(expected)} cases: {len(expected)} passed, 0 failed" in out
    assert "FAIL" not in out


def test_gradcheck_command_json_lists_every_case(capsys):
    status = main(["gradcheck", "--json", "--filter", "matmul"])
    report = json.loads(capsys.readouterr().out)
    names = [row["name"] for row in report["cases"]]
    assert status == 0
    assert names == [c.name for c in all_cases() if "matmul" in c.name.lower()
                     or any("matmul" in op.__name__.lower() for op in c.covers)]
    assert report["failed"] == 0
    assert all(row["passed"] and row["max_abs_error"] < 1e-6 for row in report["cases"])
    assert all("MatMul" in row["ops"] or "Linear" in row["ops"] for row in report["cases"])


def test_gradcheck_command_exits_1_and_explains_a_failing_op(monkeypatch, capsys):
    monkeypatch.setattr(chainrule.op_cases, "all_cases", lambda: [_wrong_case()])
    assert main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "wrong square" in out and "FAIL" in out
    assert "1 cases: 0 passed, 1 failed" in out
    assert "gradient of input 0 (shape (3,))" in out


def test_gradcheck_command_shows_the_seed_layer_failing_without_failing_the_run(capsys):
    assert main(["gradcheck", "--filter", "hand-written", "--include-seed-layer"]) == 0
    out = capsys.readouterr().out
    assert "FAIL (expected)" in out
    assert "input 1 (shape (10, 2))" in out  # the weight gradient is blamed


def test_gradcheck_command_rejects_a_filter_that_matches_nothing(capsys):
    assert main(["gradcheck", "--filter", "no-such-op"]) == 2
    assert "no op case matches --filter 'no-such-op'" in capsys.readouterr().err


def test_gradcheck_command_rejects_negative_tolerances(capsys):
    assert main(["gradcheck", "--atol", "-1"]) == 2
    assert "--atol and --rtol must be numbers >= 0" in capsys.readouterr().err


def test_gradcheck_command_covers_every_case_by_default(monkeypatch, capsys):
    # Run the whole table through the command but with a cheap stand-in check, so this stays fast;
    # the real gradcheck of every case runs in tests/test_ops.py.
    import chainrule.commands.gradcheck as command

    seen = []
    monkeypatch.setattr(command, "check_case", lambda case, atol, rtol: seen.append(case.name) or {
        "name": case.name, "ops": [op.__name__ for op in case.covers], "max_abs_error": 0.0,
        "passed": True, "expected_to_fail": False, "message": ""})
    assert main(["gradcheck"]) == 0
    assert seen == [c.name for c in all_cases()]
    out = capsys.readouterr().out
    assert all(name in out for name in seen)


@pytest.mark.parametrize("argv", [["gradcheck", "--help"]])
def test_gradcheck_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "--filter" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# chainrule explain
# ---------------------------------------------------------------------------------------------


def test_explain_prints_the_seed_networks_backward_step_by_step(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "The seed network 2-10-1" in out
    steps = [line.split(",")[0] for line in out.splitlines() if line.startswith("step ")]
    assert steps == ["step 1: MSELoss", "step 2: Linear", "step 3: Sigmoid", "step 4: Linear"]
    assert "backward: dL/dx = dL/dy * y * (1 - y)" in out
    assert "out: dL/d(input 1: 0.weight) (10, 2)" in out
    assert out.rstrip().endswith("and loss.backward()'s .grad equal.")


def test_explain_options_change_the_network_and_the_sample(capsys):
    assert main(["explain", "--hidden", "3", "--sample", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "The seed network 2-3-1" in out and "seed 1, sample 2" in out
    assert "out: dL/d(input 1: 0.weight) (3, 2)" in out
    a, b = np.random.default_rng(1).standard_normal((3, 2))[2]
    assert f"x = [a, b] = [{a:.4f}, {b:.4f}]" in out


@pytest.mark.parametrize("argv, message", [
    (["explain", "--hidden", "0"], "--hidden must be an int in [1, 64]"),
    (["explain", "--sample", "-1"], "--sample must be an int in [0, 100000)"),
    (["explain", "--precision", "40"], "--precision must be an int in [0, 16]"),
])
def test_explain_rejects_bad_options(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_explain_checks_the_graphs_folder_before_printing_the_trace(tmp_path, capsys):
    assert main(["explain", "--graph", str(tmp_path / "missing" / "g.dot")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"the folder {tmp_path / 'missing'} does not exist" in err


def test_explain_saves_the_graph_as_dot_text(tmp_path, capsys):
    path = tmp_path / "seed.dot"
    assert main(["explain", "--hidden", "3", "--graph", str(path)]) == 0
    dot = path.read_text()
    assert dot.startswith("digraph chainrule {")
    for label in ("0.weight\\n(3, 2)", "Sigmoid\\n(1, 3)", "MSELoss\\n()"):
        assert label in dot
    assert f"graph saved to {path}" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_explain_renders_the_graph(tmp_path):
    pytest.importorskip("graphviz")
    path = tmp_path / "seed.png"
    assert main(["explain", "--hidden", "3", "--graph", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_rejects_an_unknown_graph_format(capsys):
    assert main(["explain", "--graph", "seed.jpg"]) == 2
    assert "--graph must end in .dot, .png, .svg or .pdf. Got 'seed.jpg' instead." in capsys.readouterr().err
