"""Smoke tests: every example runs in quick mode in its own process, exits 0, prints its key lines
and writes its pictures."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None


def run_example(name, out_dir, *extra, env_quick=False):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("CHAINRULE_QUICK", None)
    args = [sys.executable, str(EXAMPLES / name), "--out", str(out_dir), *extra]
    if env_quick:
        env["CHAINRULE_QUICK"] = "1"
    else:
        args.append("--quick")
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def number_after(label, text):
    match = re.search(re.escape(label) + r"\s*([-+0-9.eE]+|nan|inf)", text)
    assert match, f"no {label!r} in:\n{text}"
    return float(match.group(1))


def test_seed_regression(tmp_path):
    out = run_example("seed_regression.py", tmp_path)
    assert "network 2-10-1 with 41 parameters" in out
    assert "epoch 5: train loss" in out
    val_mse = number_after("final validation MSE:", out)
    # five quick epochs of plain SGD must already clearly beat predicting the mean (whose MSE is
    # the variance of z)
    variance = number_after("the variance of z is", out)
    assert 0 < val_mse < 0.8 * variance
    if HAS_MATPLOTLIB:
        assert (tmp_path / "seed_loss.png").stat().st_size > 1000
        assert (tmp_path / "seed_surface.png").stat().st_size > 1000


@pytest.mark.skipif(not HAS_SKLEARN, reason="the digits data ship with scikit-learn")
def test_digits(tmp_path):
    out = run_example("digits.py", tmp_path)
    assert "| library | test accuracy | training time |" in out
    accuracy = number_after("| chainrule |", out)
    assert accuracy > 50  # percent; 3 quick epochs of Adam give about 90
    assert re.search(r"\| scikit-learn MLPClassifier \| [0-9.]+% \| [0-9.]+ s \|", out)
    if HAS_TORCH:
        # the twin starts from the same weights and sees the same batches
        assert number_after("| PyTorch twin |", out) == pytest.approx(accuracy, abs=1.0)
    else:
        assert "| PyTorch twin | not installed | not installed |" in out
    if HAS_MATPLOTLIB:
        assert (tmp_path / "digits_confusion.png").stat().st_size > 1000


def test_spiral(tmp_path):
    out = run_example("spiral.py", tmp_path)
    assert "epoch 10: train loss" in out
    assert number_after("accuracy", out.split("spiral:")[1]) > 0
    if HAS_MATPLOTLIB:
        assert (tmp_path / "spiral_boundary.png").stat().st_size > 1000


def test_custom_function_with_env_quick(tmp_path):
    out = run_example("custom_function.py", tmp_path, env_quick=True)
    lines = out.splitlines()
    passed = [line for line in lines if line.strip().endswith("True") or "True  (every" in line]
    assert len(passed) == 2  # Swish and the right SigmoidLayer
    assert "the gradient of input 0 (shape (4, 3)) is wrong" in out  # WrongSwish
    assert "SeedSigmoidLayer: GradcheckError: gradcheck: the gradients of 2 inputs are wrong" in out
    assert "epoch 3: train loss" in out  # quick mode: 3 epochs
    assert number_after("final validation MSE with the hand-written Swish:", out) > 0


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float64", 1e-12)])
def test_pytorch_side_by_side(tmp_path, dtype, tolerance):
    out = run_example("pytorch_side_by_side.py", tmp_path, "--dtype", dtype)
    assert re.search(r"^\s+5\s+[0-9.]+", out, flags=re.MULTILINE)
    if HAS_TORCH:
        assert number_after("largest relative difference over 5 steps:", out) < tolerance
    else:
        assert "PyTorch is not installed" in out


# ------------------------------------------------------------------------------------------------
# Derivatives of derivatives: the examples need their ops' backward_graph
# ------------------------------------------------------------------------------------------------

def skip_unless_twice_differentiable(*op_names):
    """Skip while one of these ops has no backward_graph yet (found at run time, so the test
    turns on by itself once they all have one)."""
    from chainrule import ops

    missing = [name for name in op_names if getattr(ops, name).backward_graph is None]
    if missing:
        pytest.skip(f"no backward_graph yet: {', '.join(missing)}")


def test_newton(tmp_path):
    skip_unless_twice_differentiable("GetItem", "Pow", "Sub", "Mul", "Add")
    out = run_example("newton.py", tmp_path)
    newton = re.search(r"Newton \(hessian\): reached \(([-0-9.]+), ([-0-9.]+)\) in (\d+) steps", out)
    assert newton, out
    assert abs(float(newton.group(1)) - 1) < 1e-4 and abs(float(newton.group(2)) - 1) < 1e-4
    assert int(newton.group(3)) <= 10  # 5 from (-1.2, 1)
    # quick mode gives gradient descent 300 steps: nowhere near (it needs about 23,000)
    assert number_after("gradient descent (lr 0.001): not there after", out) == 300
    if HAS_MATPLOTLIB:
        assert (tmp_path / "newton_paths.png").stat().st_size > 1000


def test_pinn_ode(tmp_path):
    skip_unless_twice_differentiable("Linear", "Tanh", "Pow", "Add", "Sub", "Mean", "Sum")
    out = run_example("pinn_ode.py", tmp_path)
    first = number_after("step 1: loss", out)
    last = number_after("step 150: loss", out)
    assert last < first / 5  # 150 quick steps already cut the loss about 20-fold
    assert 0 <= number_after("max |u - sin| on [0, 2 pi]:", out) < 2
    if HAS_MATPLOTLIB:
        assert (tmp_path / "pinn_ode.png").stat().st_size > 1000


def test_gradient_penalty_equals_torch(tmp_path):
    skip_unless_twice_differentiable("Linear", "Tanh", "Pow", "Sum", "Sqrt", "Sub", "Mean", "Mul")
    out = run_example("gradient_penalty.py", tmp_path)
    if HAS_TORCH:
        assert number_after("largest relative difference over 1 steps (loss, penalty, gradients, "
                            "weights):", out) < 1e-9
    else:
        assert "PyTorch is not installed" in out


# ------------------------------------------------------------------------------------------------
# The docs that teach with these examples: links resolve, printed outputs are real
# ------------------------------------------------------------------------------------------------

DOCS = ROOT / "docs"
TAUGHT_DOCS = ["backprop_by_hand.md", "coming_from_pytorch.md", "index.md", "architecture.md"]


def github_anchors(markdown: str) -> set:
    """The anchors GitHub makes from headings: lower case, punctuation dropped, spaces to '-'."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("name", TAUGHT_DOCS)
def test_doc_links_resolve(name):
    text = (DOCS / name).read_text(encoding="utf-8")
    base = DOCS
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        target = (base / path).resolve() if path else DOCS / name
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md" and anchor not in github_anchors(
                target.read_text(encoding="utf-8")):
            broken.append(link)
    assert not broken, f"{name} has links to nothing: {broken}"


def python_blocks_with_output(markdown: str) -> list:
    """(code, printed output) for every ```python block followed directly by a plain ``` block."""
    blocks = []  # (language, text) of every fenced block, in order, and None between blocks
    language, lines = None, None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if lines is None:
                language, lines = line[3:].strip(), []
            else:
                blocks.append((language, "\n".join(lines) + "\n"))
                language, lines = None, None
        elif lines is not None:
            lines.append(line)
        elif line.strip():
            blocks.append(None)  # prose between two blocks: they are not a pair
    return [(first[1], second[1]) for first, second in zip(blocks, blocks[1:])
            if first and second and first[0] == "python" and second[0] == ""]


def test_backprop_by_hand_prints_what_it_says():
    """Every snippet of backprop_by_hand.md that shows its output prints exactly that output (or,
    for the gradcheck snippet, raises with exactly that message)."""
    pairs = python_blocks_with_output((DOCS / "backprop_by_hand.md").read_text(encoding="utf-8"))
    # the engine check, the seed's gradients, gradcheck on the seed's layer, the health monitor
    assert len(pairs) == 4
    for code, expected in pairs:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert expected.strip() in result.stdout + result.stderr, (
            f"the snippet\n{code}\nprinted\n{result.stdout}{result.stderr}")


def test_higher_order_doc_links_resolve_and_snippets_print_what_they_say():
    """docs/higher_order.md: every link resolves, and each snippet shown with its output prints
    exactly that (the error snippet included)."""
    text = (DOCS / "higher_order.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        path, _, anchor = link.partition("#")
        target = (DOCS / path).resolve() if path else DOCS / "higher_order.md"
        assert target.exists(), link
        if anchor:
            assert anchor in github_anchors(target.read_text(encoding="utf-8")), link
    skip_unless_twice_differentiable("Sigmoid", "Pow")
    pairs = python_blocks_with_output(text)
    assert len(pairs) == 4  # x^3, sigmoid, a Function without backward_graph, one with
    for code, expected in pairs:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert expected.strip() in result.stdout + result.stderr, (
            f"the snippet\n{code}\nprinted\n{result.stdout}{result.stderr}")


@pytest.mark.skipif(not (HAS_SKLEARN and HAS_TORCH), reason="needs scikit-learn's digits and torch")
def test_cnn_digits_matches_torch_step_for_step(tmp_path):
    out = run_example("cnn_digits.py", tmp_path)
    assert "| chainrule CNN |" in out
    assert number_after("| chainrule CNN |", out) > 50  # percent, after 3 quick epochs
    # the PyTorch twin from the same weights on the same batches, float64: rounding only
    assert number_after("largest relative loss difference:", out) < 1e-9
    if HAS_MATPLOTLIB:
        assert (tmp_path / "cnn_digits_filters.png").stat().st_size > 1000
        assert (tmp_path / "cnn_digits_confusion.png").stat().st_size > 1000
