"""See the graph: Graphviz DOT text of the graph behind a tensor, and rendering it to PNG or SVG.

    loss = loss_fn(model(x), y)
    dot = chainrule.apps.viz.graph(loss, params=dict(model.named_parameters()))
    chainrule.apps.viz.render(dot, "graph.png")

Each op is a box with its name and output shape; each leaf an ellipse with its name (from
``params``) and shape: blue for tensors that require grad, grey and dashed for data. Edges follow the
data, from inputs to the op that uses them, so the loss is at the bottom. With ``show_grad`` every
node also shows the norm of the gradient of the loss with respect to it: for ops it is computed by
tracing the backward pass (``chainrule.apps.trace``) when the graph is still there and the root is a
scalar; for leaves it is their ``.grad`` after a ``backward()``, else the traced value.

``graph`` needs nothing but the standard library. ``render`` needs the optional ``graphviz`` Python
package and Graphviz's ``dot`` program (pip install graphviz; apt-get install graphviz).
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np

from ..autograd import Node, topological_order
from ..tensor import Tensor
from ..files import atomic_write

__all__ = ["graph", "render"]

FORMATS = ("png", "svg", "pdf")


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _grad_norm(array) -> str:
    value = math.sqrt(float(np.sum(np.square(np.asarray(array, dtype=np.float64)))))
    return f"|grad| {value:.3g}"


def _traced_grads(root: Tensor) -> tuple:
    """dL/d(output) per op node and dL/d(leaf) per leaf label, by tracing; empty when the graph was
    freed or the root is not a scalar."""
    from .trace import backward_steps

    if root._data.size != 1 or any(n.freed for n in topological_order(root.grad_fn)):
        return {}, {}
    by_node, by_leaf = {}, {}
    for step in backward_steps(root).steps:
        node = step.node
        by_node[node] = step.grad_output
        for x, item in zip(node.inputs, step.inputs):
            if isinstance(x, Tensor) and x.grad_fn is None and item.grad is not None:
                by_leaf[id(x)] = by_leaf[id(x)] + item.grad if id(x) in by_leaf else item.grad
    return by_node, by_leaf


def graph(tensor: Tensor, show_grad: bool = True, params: dict | None = None) -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    ``params`` names leaves: a mapping name -> Tensor, typically ``dict(model.named_parameters())``
    (add inputs too: ``{"x": x, **dict(model.named_parameters())}``). With ``show_grad`` nodes show
    the norm of their gradient (see the module docstring).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph: expected a Tensor. Got {type(tensor).__name__} instead.")
    names = {id(t): name for name, t in (params or {}).items() if isinstance(t, Tensor)}
    lines = [
        "digraph chainrule {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [arrowsize=0.7];',
    ]
    if tensor.grad_fn is None:
        lines += [f"  leaf0 [label={_quote(_leaf_label(tensor, names, show_grad, None))}, "
                  f"{_leaf_style(tensor)}];", "}"]
        return "\n".join(lines) + "\n"
    order = topological_order(tensor.grad_fn)
    node_grads, leaf_grads = _traced_grads(tensor) if show_grad else ({}, {})
    op_id = {node: f"op{i}" for i, node in enumerate(order)}
    leaf_id = {}
    edges = []
    for node in order:
        for x in node.inputs:  # the Node an input came from, a leaf Tensor, or a setting
            if isinstance(x, Node):
                edges.append((op_id[x], op_id[node]))
                continue
            if not isinstance(x, Tensor):
                continue  # settings such as dim or reduction
            if id(x) not in leaf_id:
                leaf_id[id(x)] = f"leaf{len(leaf_id)}"
                label = _leaf_label(x, names, show_grad, leaf_grads.get(id(x)))
                lines.append(f"  {leaf_id[id(x)]} [label={_quote(label)}, {_leaf_style(x)}];")
            edges.append((leaf_id[id(x)], op_id[node]))
    for node in order:
        label = f"{node.name}\n{node.output_shape}"
        grad = node_grads.get(node)
        if grad is None and node.retained is not None and node.retained.grad is not None:
            grad = node.retained.grad._data
        if show_grad and grad is not None:
            label += "\n" + _grad_norm(grad)
        extra = ", peripheries=2" if node is tensor.grad_fn else ""
        lines.append(f"  {op_id[node]} [label={_quote(label)}, shape=box, style=\"rounded,filled\", "
                     f"fillcolor=\"#fff2cc\"{extra}];")
    lines += [f"  {a} -> {b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _leaf_label(x: Tensor, names: dict, show_grad: bool, traced) -> str:
    label = f"{names.get(id(x), 'parameter' if x.requires_grad else 'data')}\n{x.shape}"
    if show_grad and x.requires_grad:
        if x.grad is not None:
            label += "\n" + _grad_norm(x.grad._data)
        elif traced is not None:
            label += "\n" + _grad_norm(traced)
    return label


def _leaf_style(x: Tensor) -> str:
    if x.requires_grad:
        return 'shape=ellipse, style=filled, fillcolor="#dae8fc"'
    return 'shape=ellipse, style="dashed,filled", fillcolor="#eeeeee", fontcolor="#555555"'


def check_renderer() -> None:
    """ImportError, saying how to install whichever is missing, unless ``render`` can run: it
    needs the ``graphviz`` Python package and Graphviz's ``dot`` program."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise ImportError("render needs the graphviz Python package and Graphviz's dot program: "
                          "pip install graphviz, and apt-get install graphviz (or brew install "
                          "graphviz).") from None
    if shutil.which("dot") is None:
        raise ImportError("render needs Graphviz's dot program, which is not on the PATH: "
                          "apt-get install graphviz (or brew install graphviz; see graphviz.org).")


def render(dot_text: str, path, format: str = "png") -> str:
    """Render DOT text to ``path`` as PNG, SVG or PDF; returns the path.

    Needs the ``graphviz`` Python package and Graphviz's ``dot`` program; raises ImportError saying
    how to install whichever is missing.
    """
    if not isinstance(dot_text, str):
        raise TypeError(f"render: dot_text must be a str. Got {type(dot_text).__name__} instead.")
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(FORMATS)}. Got {format!r} instead.")
    check_renderer()
    import graphviz

    image = graphviz.Source(dot_text).pipe(format=format)
    path = os.fspath(path)
    with atomic_write(path, "wb", what="render") as f:
        f.write(image)
    return path
