"""chainrule.apps.plot writes readable PNG files; matplotlib is needed only when a plot is drawn."""

import subprocess
import sys

import numpy as np
import pytest

from chainrule.apps import plot
from chainrule.training.loop import History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == PNG_MAGIC


def history(train, val=None):
    n = len(train)
    return History(epoch=list(range(1, n + 1)), train_loss=list(train),
                   val_loss=list(val) if val is not None else [None] * n, lr=[0.1] * n,
                   seconds=[0.0] * n)


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib")


def test_available_matches_the_import(matplotlib):
    assert plot.available()


def test_loss_curves_of_several_histories_and_lists(matplotlib, tmp_path):
    runs = {"adam": history([50, 20, 8, 4], [55, 25, 10, 5]), "seed": history([60, 58, 57, 56]),
            "plain list": [70.0, 65.0, 64.0]}
    path = plot.loss_curves(runs, tmp_path / "loss.png", title="test")
    assert path == str(tmp_path / "loss.png") and is_png(path)
    single = plot.loss_curves(history([1e3, 10, 0.1]), tmp_path / "one.png")
    assert is_png(single)
    steps = history([3.0, 2.0])
    steps.step_loss = [4.0, 3.5, 2.5, 2.0]
    assert is_png(plot.loss_curves({"run": steps}, tmp_path / "steps.png", per_step=True))
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_loss_curves_needs_something_to_plot(matplotlib, tmp_path):
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.loss_curves({}, tmp_path / "x.png")


def test_surface_comparison_calls_both_functions_on_a_grid(matplotlib, tmp_path):
    seen = []

    def target(points):
        seen.append(points.shape)
        return 5 * points[:, 0] ** 2 + 3 * points[:, 1] ** 2

    path = plot.surface_comparison(target, lambda p: target(p) + 0.1, tmp_path / "s.png",
                                   resolution=21, names=("a", "b"),
                                   train_points=np.zeros((5, 2)))
    assert is_png(path)
    assert seen == [(21 * 21, 2), (21 * 21, 2)]


def test_bar_chart_and_heatmap(matplotlib, tmp_path):
    bars = plot.bar_chart(["none", "clip-value:1", "diverged"], [56.0, 3.4, np.nan],
                          tmp_path / "b.png", title="sweep", ylabel="val MSE", reference=3.0,
                          reference_label="PyTorch", log_scale=True)
    assert is_png(bars)
    grid = plot.heatmap([[56.0, 3.4], [np.inf, 4.1]], ["default", "uniform"], ["0.01", "0.1"],
                        tmp_path / "h.png", xlabel="lr", ylabel="init", log_color=True)
    assert is_png(grid)
    with pytest.raises(ValueError, match="2 labels but 3 values"):
        plot.bar_chart(["a", "b"], [1, 2, 3], tmp_path / "x.png")
    with pytest.raises(ValueError, match="the table has shape"):
        plot.heatmap([[1, 2]], ["a", "b"], ["c", "d"], tmp_path / "x.png")


def test_missing_folder_is_a_clear_error(matplotlib, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot.loss_curves([1.0, 0.5], tmp_path / "nowhere" / "x.png")


def test_importing_chainrule_plot_does_not_import_matplotlib():
    code = ("import sys, chainrule, chainrule.apps.plot, chainrule.training.loop, chainrule.training.runs; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert not plot.available()
    with pytest.raises(ImportError, match=r'pip install "chainrule\[plot\]"'):
        plot.loss_curves([1.0, 0.5], tmp_path / "x.png")
