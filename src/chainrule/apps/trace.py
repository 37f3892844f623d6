"""The chain rule, step by step: record what backward does at every node of a graph.

``backward_steps(loss)`` runs the engine's own backward walk (``autograd.backward`` with a
``visit`` callback: the very loop that ``loss.backward()`` runs, the same order, each op's own
``backward``, the same checks), recording at every node:

    the op and its local derivative formula   (the "backward:" lines of the op's docstring)
    the incoming gradient dL/d(output)        (what flowed in from the nodes after it)
    the outgoing gradients dL/d(input)        (what the op's backward hands to each input)

Gradients reaching the same node along several paths are added, as in the engine; gradients
reaching a leaf are collected in ``Trace.leaf_grads`` instead of ``.grad``, so tracing changes
nothing: the graph is kept (nothing is freed) and no ``.grad`` is touched. ``explain`` prints the
trace so a learner can put it beside their own notes (``chainrule explain`` does it for the seed
network).

    >>> from chainrule.apps.trace import backward_steps, format_trace
    >>> model = chainrule.nn.Linear(2, 1)
    >>> x = chainrule.tensor([[1.0, 2.0]])
    >>> loss = model(x).sigmoid().sum()
    >>> trace = backward_steps(loss, names={x: "x", **dict(model.named_parameters())})
    >>> len(trace.leaf_grads) >= 2            # dL/dweight and dL/dbias, nothing touched
    True
    >>> model.weight.grad is None
    True
    >>> "sigmoid" in format_trace(trace).lower()
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .. import autograd
from ..autograd import Node, topological_order
from ..tensor import Tensor

__all__ = ["Step", "InputGrad", "Trace", "backward_steps", "formula", "format_trace", "explain"]


@dataclass
class InputGrad:
    """One input of a node and the gradient the node's backward sent to it."""

    label: str  # "0.weight", "x", "output of Sigmoid (step 3)", "'mean'"
    kind: str  # "leaf" (requires grad), "data" (a leaf that does not), "intermediate", "argument"
    shape: tuple
    grad: np.ndarray | None  # None when the input needs no gradient


@dataclass
class Step:
    """What backward did at one node."""

    index: int  # 1 for the node backward visits first (the loss)
    name: str  # the op's name, e.g. "Sigmoid"
    forward: str  # the "forward:" formula of the op's docstring
    backward: str  # the "backward:" formula (may span lines)
    created_at: str | None  # file:line, when the graph was built under detect_anomaly
    output_shape: tuple
    output: np.ndarray | None  # the forward value of the node's output, when it is known
    grad_output: np.ndarray  # dL/d(output), summed over every path
    inputs: list = field(default_factory=list)  # one InputGrad per input of the op
    node: object = None  # the graph Node itself (its inputs are node.inputs)


@dataclass
class Trace:
    """The steps in backward order and the gradient collected at every leaf (by label)."""

    steps: list
    leaf_grads: dict  # label -> array, for leaves that require grad
    difference: float | None = None  # set by explain: largest |traced - .grad| over named leaves


def formula(fn, which: str = "backward") -> str:
    """The ``which:`` formula from a Function's docstring ("forward" or "backward"), continuation
    lines included and joined with newlines; '' when the docstring has none."""
    lines = (fn.__doc__ or "").splitlines()
    for number, line in enumerate(lines):
        match = re.match(rf"^(\s*){which}:(\s*)(.*)$", line)
        if not match:
            continue
        text_column = len(match.group(1)) + len(which) + 1 + len(match.group(2))
        found = [match.group(3).rstrip()]
        for following in lines[number + 1:]:
            indent = len(following) - len(following.lstrip())
            if not following.strip() or indent < text_column or re.match(r"^\s*\w+:", following):
                break
            found.append(following.strip())
        return "\n".join(found)
    return ""


def _name_by_id(names: dict) -> dict:
    """id(tensor) -> name, from a mapping name -> Tensor or Tensor -> name (or both mixed)."""
    by_id = {}
    for key, value in names.items():
        if isinstance(key, str) and isinstance(value, Tensor):
            by_id[id(value)] = key
        elif isinstance(key, Tensor) and isinstance(value, str):
            by_id[id(key)] = value
    return by_id


def _labels(root: Tensor, order: list, names: dict) -> tuple:
    """Step numbers per node (backward order, from 1), the output Tensor of every node we can
    find, and a function giving each input its label and kind.

    A node's inputs are the Nodes they came from, leaf Tensors, or other arguments (see
    ``autograd.Node``); intermediate results are found only when the graph was recorded under
    ``autograd.keep_input_tensors()`` (``chainrule explain`` does that) or for the root itself."""
    step_of = {node: i + 1 for i, node in enumerate(reversed(order))}
    outputs = {root.grad_fn: root}
    for node in order:
        for x in node.input_tensors or ():
            if isinstance(x, Tensor) and x.grad_fn is not None:
                outputs.setdefault(x.grad_fn, x)
    by_id = _name_by_id(names)
    unnamed = {}

    def label(x) -> tuple:
        if isinstance(x, Node):
            output = outputs.get(x)
            default = f"output of {x.name} (step {step_of[x]})"
            return (by_id.get(id(output), default) if output is not None else default), "intermediate"
        if not isinstance(x, Tensor):
            return repr(x), "argument"
        kind = "leaf" if x.requires_grad else "data"
        if id(x) not in by_id and kind == "leaf":  # unnamed leaves: "leaf 1", "leaf 2", ...
            unnamed[id(x)] = unnamed.get(id(x), f"leaf {len(unnamed) + 1}")
            return unnamed[id(x)], kind
        return by_id.get(id(x), kind), kind

    return step_of, outputs, label


def backward_steps(root: Tensor, grad=None, names: dict | None = None) -> Trace:
    """Trace the backward pass from ``root`` without running it: a Trace with one Step per node.

    ``grad`` is dL/droot (default 1 for a scalar root, as ``backward()``). ``names`` labels the
    tensors in the output; it maps name -> Tensor (``dict(model.named_parameters())``) or
    Tensor -> name, and both may be mixed. The graph must not have been freed by a backward
    without ``retain_graph=True``.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"backward_steps: expected a Tensor. Got {type(root).__name__} instead.")
    if root.grad_fn is None:
        raise ValueError("backward_steps: the tensor was not produced by an op that requires grad, "
                         "so there is no graph to trace.")
    if grad is None:
        if root._data.size != 1:
            raise ValueError(f"backward_steps: a tensor of shape {root.shape} needs an explicit "
                             "gradient; only scalar outputs get 1.")
        grad = np.ones_like(root._data)
    grad = np.asarray(grad._data if isinstance(grad, Tensor) else grad, dtype=root._data.dtype)
    if grad.shape != root.shape:
        raise ValueError(f"backward_steps: grad has shape {grad.shape}, but the tensor has shape "
                         f"{root.shape}; they must be equal.")
    order = topological_order(root.grad_fn)
    step_of, outputs, label = _labels(root, order, names or {})
    leaf_grads = {}
    steps = []
    # The engine's own walk (each op's backward, the same checks and sums), with the graph kept;
    # leaf gradients are recorded here instead of being added into .grad.

    def record(node, grad_out, grad_inputs):
        output = outputs.get(node)
        step = Step(
            index=step_of[node], name=node.name, forward=formula(node.fn, "forward"),
            backward=formula(node.fn, "backward"), created_at=node.created_at,
            output_shape=tuple(node.output_shape),
            output=output._data if output is not None else None, grad_output=grad_out,
            node=node,
        )
        for x, g in zip(node.inputs, grad_inputs):
            name, kind = label(x)
            shape = x.output_shape if isinstance(x, Node) else tuple(np.shape(x._data)) \
                if isinstance(x, Tensor) else ()
            step.inputs.append(InputGrad(name, kind, shape, g))
            if g is not None and not isinstance(x, Node):
                leaf_grads[name] = leaf_grads[name] + g if name in leaf_grads else g
        steps.append(step)

    autograd.backward(root, grad, retain_graph=True, visit=record)
    return Trace(steps, leaf_grads)


WIDTH = 100  # characters per printed line
INDENT = " " * 6


def _array(a, precision: int, indent: str = INDENT) -> str:
    if a is None:
        return "(none)"
    text = np.array2string(np.asarray(a), precision=precision, suppress_small=True,
                           max_line_width=WIDTH - len(indent), separator=" ")
    return text.replace("\n", "\n" + indent)


def _labelled(head: str, a, precision: int) -> str:
    """'head = value' on one line when it fits, else the value below the head, indented."""
    one_line = np.array2string(np.asarray(a), precision=precision, suppress_small=True,
                               max_line_width=10**6, separator=" ")
    if "\n" not in one_line and len(head) + 3 + len(one_line) <= WIDTH:
        return f"{head} = {one_line}"
    return f"{head} =\n{INDENT}{_array(a, precision)}"


def format_trace(trace: Trace, precision: int = 4, values: bool = True) -> str:
    """The trace as text: per step the op, its formulas, its value, dL/d(output) coming in and
    every dL/d(input) going out."""
    lines = []
    for step in trace.steps:
        where = f"   (created at {step.created_at})" if step.created_at else ""
        lines.append(f"step {step.index}: {step.name}, output shape {step.output_shape}{where}")
        if step.forward:
            lines.append("  forward:  " + step.forward.replace("\n", "\n            "))
        if step.backward:
            lines.append("  backward: " + step.backward.replace("\n", "\n            "))
        if values and step.output is not None:
            lines.append(_labelled("  value", step.output, precision))
        g = step.grad_output
        head = f"  in:  dL/d(output) {tuple(g.shape)}"
        lines.append(_labelled(head, g, precision) if values else head)
        for i, item in enumerate(step.inputs):
            if item.kind == "argument":
                continue  # a setting such as reduction='mean', not a tensor
            head = f"  out: dL/d(input {i}: {item.label}) {item.shape}"
            if item.grad is None:
                lines.append(f"{head}: no gradient needed")
            else:
                lines.append(_labelled(head, item.grad, precision) if values else head)
    return "\n".join(lines)


def explain(loss: Tensor, names: dict | None = None, precision: int = 4, file=None) -> Trace:
    """Print the backward pass of ``loss`` step by step, then the gradient of every named leaf, and
    check that they equal what ``loss.backward()`` gives; returns the Trace.

    ``loss.backward()`` runs at the end (with ``retain_graph=True``), so the leaves' ``.grad`` is
    filled as usual afterwards.
    """
    import sys

    out = file or sys.stdout
    trace = backward_steps(loss, names=names)
    print(format_trace(trace, precision), file=out)
    named = {}
    for key, value in (names or {}).items():
        if isinstance(key, str) and isinstance(value, Tensor):
            named[key] = value
        elif isinstance(key, Tensor) and isinstance(value, str):
            named[value] = key
    for t in named.values():
        t.grad = None
    loss.backward(retain_graph=True)
    print("\ngradients at the leaves (what accumulates in .grad):", file=out)
    worst = 0.0
    in_order = [label for label in named if label in trace.leaf_grads]
    in_order += [label for label in trace.leaf_grads if label not in named]
    for label in in_order:
        g = trace.leaf_grads[label]
        print(_labelled(f"  dL/d{label} {tuple(g.shape)}", g, precision), file=out)
        tensor = named.get(label)
        if tensor is not None:
            engine = tensor.grad._data if tensor.grad is not None else np.zeros_like(g)
            worst = max(worst, float(np.max(np.abs(engine - g))) if g.size else 0.0)
    checked = [label for label in in_order if label in named]
    trace.difference = worst
    verdict = "equal" if worst == 0.0 else f"differ by up to {worst:.3g}"
    print(f"check: the traced gradients of {', '.join(checked) or 'no named leaf'} and "
          f"loss.backward()'s .grad {verdict}.", file=out)
    return trace
