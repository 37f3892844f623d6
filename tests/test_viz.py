"""viz: DOT text of a graph (ops, shapes, parameter names, gradient norms) and rendering it."""

import json
import re
import shutil
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.apps import viz

HAS_DOT = shutil.which("dot") is not None


def _structure(dot: str) -> tuple:
    """A small DOT check that needs no Graphviz: one digraph, balanced braces, every edge between
    declared nodes. Returns ({node id: label}, [(from, to)])."""
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}") == 1
    nodes = dict(re.findall(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', dot, flags=re.M))
    edges = re.findall(r"^  (\w+) -> (\w+);$", dot, flags=re.M)
    assert nodes and edges
    for a, b in edges:
        assert a in nodes and b in nodes, (a, b)
    return {k: v.replace("\\n", "\n") for k, v in nodes.items()}, edges


def _seed(hidden=4):
    w1 = cr.nn.Parameter(np.random.default_rng(0).uniform(-1, 1, (hidden, 2)))
    b1 = cr.nn.Parameter(np.zeros(hidden))
    w2 = cr.nn.Parameter(np.random.default_rng(1).uniform(-1, 1, (1, hidden)))
    x = cr.tensor(np.array([[0.5, -1.2]]))
    h = (x @ w1.T + b1).sigmoid()
    h.retain_grad()
    loss = ((h @ w2.T - 3.0) ** 2).mean()
    return loss, h, {"x": x, "w1": w1, "b1": b1, "w2": w2}


def _norm(a) -> str:
    return f"{np.linalg.norm(np.asarray(a)):.3g}"


def test_dot_has_ops_with_shapes_and_named_leaves():
    loss, h, params = _seed()
    nodes, edges = _structure(viz.graph(loss, params=params, show_grad=False))
    labels = sorted(nodes.values())
    for expected in ("w1\n(4, 2)", "b1\n(4,)", "w2\n(1, 4)", "x\n(1, 2)", "Sigmoid\n(1, 4)",
                     "MatMul\n(1, 4)", "Add\n(1, 4)", "Mean\n()"):
        assert expected in labels, expected
    assert not any("|grad|" in label for label in labels)
    by_label = {v.split("\n")[0]: k for k, v in nodes.items()}
    assert (by_label["Add"], by_label["Sigmoid"]) in edges  # data flows from Add into Sigmoid
    assert (by_label["b1"], by_label["Add"]) in edges


def test_gradient_norms_before_backward_come_from_the_traced_backward():
    loss, h, params = _seed()
    nodes, _ = _structure(viz.graph(loss, params=params))
    sigmoid_label = next(v for v in nodes.values() if v.startswith("Sigmoid"))
    loss.backward()  # the graph is still there: graph() only traced it
    assert sigmoid_label.endswith(f"|grad| {_norm(h.grad.numpy())}")
    w1_label = next(v for v in nodes.values() if v.startswith("w1"))
    assert w1_label.endswith(f"|grad| {_norm(params['w1'].grad.numpy())}")
    data_label = next(v for v in nodes.values() if v.startswith("x"))
    assert "|grad|" not in data_label  # data has no gradient
    root = next(v for v in nodes.values() if v.startswith("Mean"))
    assert root.endswith("|grad| 1")


def test_after_backward_the_leaves_show_their_grad():
    loss, h, params = _seed()
    loss.backward()  # frees the graph: ops cannot be traced any more
    nodes, _ = _structure(viz.graph(loss, params=params))
    assert next(v for v in nodes.values() if v.startswith("w2")).endswith(
        f"|grad| {_norm(params['w2'].grad.numpy())}")
    # the retained gradient of h is still shown on its op
    assert next(v for v in nodes.values() if v.startswith("Sigmoid")).endswith(
        f"|grad| {_norm(h.grad.numpy())}")
    assert "|grad|" not in next(v for v in nodes.values() if v.startswith("Add"))


def test_a_module_graph_is_named_by_named_parameters():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 1))
    x = cr.randn(5, 2)
    loss = cr.nn.functional.mse_loss(model(x), cr.zeros(5, 1))
    nodes, _ = _structure(viz.graph(loss, params=dict(model.named_parameters())))
    names = {v.split("\n")[0] for v in nodes.values()}
    assert {"0.weight", "0.bias", "2.weight", "2.bias", "Linear", "Sigmoid", "MSELoss", "data"} <= names


def test_labels_are_escaped():
    x = cr.tensor(np.ones(2), requires_grad=True)
    dot = viz.graph((x * 2).sum(), params={'a "quoted" \\ name': x})
    assert r'a \"quoted\" \\ name' in dot
    _structure(dot)


def test_a_leaf_alone_is_one_node():
    x = cr.tensor(np.ones(3), requires_grad=True)
    dot = viz.graph(x, params={"x": x})
    assert 'leaf0 [label="x\\n(3,)"' in dot
    with pytest.raises(TypeError, match="graph: expected a Tensor. Got list instead."):
        viz.graph([1.0])


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_graphviz_parses_the_dot_text():
    graphviz = pytest.importorskip("graphviz")
    loss, _, params = _seed()
    dot = viz.graph(loss, params=params)
    layout = json.loads(graphviz.Source(dot).pipe(format="json").decode())
    names = sorted(o["name"] for o in layout["objects"])
    nodes, edges = _structure(dot)
    assert names == sorted(nodes)
    assert len(layout["edges"]) == len(edges)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_render_png_and_svg(tmp_path):
    pytest.importorskip("graphviz")
    loss, _, params = _seed()
    dot = viz.graph(loss, params=params)
    png = viz.render(dot, tmp_path / "graph.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    svg = viz.render(dot, tmp_path / "graph.svg", format="svg")
    text = open(svg).read()
    assert "<svg" in text and "Sigmoid" in text


def test_render_explains_how_to_install_what_is_missing(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="format must be one of png, svg, pdf. Got 'jpg' instead."):
        viz.render("digraph {}", tmp_path / "g.jpg", format="jpg")
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    if "graphviz" in sys.modules or _importable("graphviz"):
        with pytest.raises(ImportError, match="apt-get install graphviz"):
            viz.render("digraph {}", tmp_path / "g.png")
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install graphviz"):
        viz.render("digraph {}", tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
