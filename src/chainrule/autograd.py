"""The reverse-mode engine: Function, the graph node, no_grad, backward and anomaly detection.

How it works, in four sentences:

1. Every op is a subclass of ``Function`` with a ``forward`` and a ``backward`` that take and return
   NumPy arrays. ``MyOp.apply(*inputs)`` runs ``forward`` and, when an input requires grad, returns a
   Tensor whose ``grad_fn`` is a ``Node``: the op's context, holding what ``forward`` saved and the
   inputs it came from. The Nodes form a directed acyclic graph.
2. ``loss.backward()`` walks that graph from the loss back to the leaves, always taking next the
   waiting Node that was created last (Nodes are numbered as they are made; every Node is made after
   the Nodes its inputs came from, so that order is topological). A loop, never recursion: a chain
   of 100,000 ops is fine.
3. At each Node it calls the op's ``backward`` with dL/d(output) and gets dL/d(input) for every input
   (the chain rule, one local derivative at a time). Gradients that reach the same Node along several
   paths are added, and gradients that reach a leaf are accumulated into its ``.grad``.
4. After each backward the engine checks that every gradient has its input's shape and names the op
   if not; then, unless ``retain_graph=True``, it frees what the Nodes saved.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import os
import sys
import threading
from heapq import heappop, heappush

import numpy as np

__all__ = [
    "Function",
    "Node",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "is_anomaly_enabled",
    "keep_input_tensors",
    "backward",
    "topological_order",
]


class _Mode(threading.local):
    """Per-thread switches: is the graph being recorded, is anomaly detection on."""

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.keep_input_tensors = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside ``no_grad()``."""
    return _mode.grad_enabled


class _Switch(contextlib.ContextDecorator):
    """A context manager and decorator that sets one of the per-thread switches in ``_mode`` on
    entry and puts back the value it found on exit. Used as a decorator, every call enters its
    own copy, so a recursive function, or one run by two threads, restores the right value."""

    switch = ""  # the attribute of _mode
    value = True  # what it is set to inside

    def __enter__(self):
        self.prev = getattr(_mode, self.switch)
        setattr(_mode, self.switch, self.value)
        return self

    def __exit__(self, *exc):
        setattr(_mode, self.switch, self.prev)
        return False

    def _recreate_cm(self):
        return copy.copy(self)


class set_grad_enabled(_Switch):
    """Context manager and decorator that switches graph recording on or off."""

    switch = "grad_enabled"

    def __init__(self, mode: bool):
        self.value = bool(mode)
        self.prev = _mode.grad_enabled
        # Like PyTorch, calling set_grad_enabled(False) as a plain function also takes effect.
        _mode.grad_enabled = self.value

    def __enter__(self):
        # ``prev`` is the mode before __init__ switched it (``with set_grad_enabled(False):``
        # runs __init__ first), so the block's exit puts back what was there before it.
        _mode.grad_enabled = self.value
        return self

    def __call__(self, func):
        # Used as a decorator, it takes effect only inside the function, as in PyTorch: undo the
        # switch that __init__ made when the decorator line ran.
        _mode.grad_enabled = self.prev
        return super().__call__(func)

    def _recreate_cm(self):
        switch = copy.copy(self)  # each call of a decorated function: the mode at call time
        switch.prev = _mode.grad_enabled
        return switch


class no_grad(_Switch):
    """Context manager and decorator: ops inside record no graph (evaluation, optimizer updates).

    >>> with chainrule.no_grad():
    ...     val_loss = loss_fn(model(x_val), y_val)
    """

    switch, value = "grad_enabled", False


class enable_grad(_Switch):
    """Context manager and decorator: switch graph recording back on inside a ``no_grad`` block."""

    switch, value = "grad_enabled", True


# --------------------------------------------------------------------------------------------
# Anomaly detection
# --------------------------------------------------------------------------------------------

_PACKAGE_PREFIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")  # ends with a slash


def is_anomaly_enabled() -> bool:
    return _mode.anomaly


class detect_anomaly(_Switch):
    """Raise as soon as any op produces NaN or Inf, in forward or backward, naming the op and where it
    was created in your code.

    >>> with chainrule.autograd.detect_anomaly():
    ...     loss = model(x).log().mean()
    RuntimeError: Log produced nan in forward (created at train.py:42)

    Each op then records the file and line that created it and every array is checked, so this is
    slower: use it to find a problem, not for every run.
    """

    switch, value = "anomaly", True


class keep_input_tensors(_Switch):
    """Ops recorded inside also keep their input Tensors (``node.input_tensors``), so tools that
    show a graph's values (``chainrule.trace``, ``chainrule.viz``) can find every intermediate
    result. Off by default: the graph then holds only what backward needs, and intermediate
    results are freed as soon as nothing else uses them."""

    switch, value = "keep_input_tensors", True


def _user_frame() -> str:
    """'file.py:line' of the innermost stack frame outside the chainrule package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_PREFIX):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _check_finite(array, op_name: str, where: str, created_at: str | None) -> None:
    if array is None or array.dtype.kind not in "fc":
        return
    if np.isfinite(array).all():
        return
    what = "nan" if np.isnan(array).any() else "inf"
    origin = f" (created at {created_at})" if created_at else ""
    raise RuntimeError(f"{op_name} produced {what} in {where}{origin}")


# --------------------------------------------------------------------------------------------
# Function and its graph node
# --------------------------------------------------------------------------------------------


class Node:
    """The context of one op call, and that op's node in the graph.

    ``forward`` receives it as ``ctx`` and may keep arrays with ``ctx.save_for_backward(...)`` and any
    other value as an attribute (``ctx.dim = dim``). ``backward`` reads them back.

    ``inputs`` says where each input's gradient goes: for an input made by another op, that op's
    Node (not the Tensor, so its array can be freed as soon as nothing else needs it: the graph
    keeps only what the backward passes saved); for a leaf, the Tensor itself, whose ``.grad``
    receives it; any other argument as it was given. ``output_shape`` and ``output_dtype`` describe
    this op's output, which the engine checks the incoming gradients against. ``sequence_nr``
    numbers the Nodes in the order they were made, which is the order backward walks backwards.
    """

    __slots__ = (
        "fn",
        "inputs",
        "needs_input_grad",
        "saved_tensors",
        "output_shape",
        "output_dtype",
        "sequence_nr",
        "__dict__",
    )

    # Rarely set, so class-level defaults rather than per-Node slots (an instance sets its own):
    input_tensors = None  # the input Tensors themselves, only under keep_input_tensors()
    retained = None  # the output Tensor, when retain_grad() asked to keep its grad
    created_at = None  # "file.py:line" of the user code that made it, under detect_anomaly()

    def __init__(self, fn):
        self.fn = fn
        self.inputs = ()
        self.saved_tensors = ()
        self.output_shape = ()
        self.output_dtype = None
        self.sequence_nr = -1

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for ``backward`` (read back as ``ctx.saved_tensors``)."""
        self.saved_tensors = arrays

    @property
    def freed(self) -> bool:
        """True once a backward without ``retain_graph=True`` has dropped what this Node saved."""
        return self.saved_tensors is None

    @property
    def name(self) -> str:
        return self.fn.name()

    def next_functions(self):
        """The Nodes this one's inputs came from (leaves and constants have none)."""
        return [x for x in self.inputs if type(x) is Node]

    def __repr__(self):
        return f"<{self.name}Backward>"

    def __reduce_ex__(self, protocol):
        # copy, deepcopy and pickle all come here. A Node's sequence_nr orders backward only among
        # the Nodes of this process: a copy would share its number, an unpickled one would carry
        # another process's. PyTorch refuses the same for tensors made by an op.
        raise TypeError(
            f"A graph node ({self.name}) cannot be copied or pickled: only tensors made by you "
            "(leaves) can. Copy a result with .detach() first, e.g. copy.deepcopy(t.detach())."
        )


_sequence_nr = itertools.count()  # numbers every recorded Node in the order it was made


class Function:
    """Base class of every op: built-in ones and your own hand-written layers alike.

    Subclass it and write two static methods on NumPy arrays::

        class Square(Function):
            '''forward: y = x^2        backward: dL/dx = dL/dy * 2x'''

            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad_y):
                (x,) = ctx.saved_tensors
                return grad_y * 2 * x

        y = Square.apply(t)          # t is a Tensor; y is a Tensor that remembers Square

    ``forward`` receives Tensor inputs as their arrays and any other argument (an int, a tuple of dims)
    as it is. ``backward`` receives dL/d(output) and returns one gradient per input of ``forward``, in
    order, with each input's shape; None for inputs that are not Tensors or need no gradient
    (``ctx.needs_input_grad[i]`` says which do). A Function has one output.
    """

    # True when every array ``backward`` returns is one it has just made, for that input alone:
    # not the incoming gradient, not something forward saved, not a view of either, not one array
    # for two inputs. The engine may then keep such an array as a leaf's ``.grad`` instead of a copy
    # (as PyTorch does with a gradient nothing else holds). Off unless an op says so;
    # tests/test_ops.py checks every op that does, on every one of its cases.
    backward_returns_new_arrays = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The flag is a promise about one backward: a subclass that writes its own backward
        # makes no promise unless it says so itself.
        if "backward" in vars(cls) and "backward_returns_new_arrays" not in vars(cls):
            cls.backward_returns_new_arrays = False

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define forward(ctx, *args).")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must define backward(ctx, *grad_outputs).")

    @classmethod
    def apply(cls, *inputs):
        """Run forward on the inputs' arrays and, when needed, record the op in the graph."""
        ctx = Node(cls)
        arrays, needs, edges = [], [], []
        for x in inputs:  # per input: its array for forward, whether it needs a gradient, and
            if isinstance(x, Tensor):  # where that gradient goes (its op's Node, or the leaf)
                arrays.append(x._data)
                needs.append(x.requires_grad)
                edges.append(x.grad_fn or x)
            else:
                arrays.append(x)
                needs.append(False)
                edges.append(x)
        ctx.needs_input_grad = needs = tuple(needs)
        out = cls.forward(ctx, *arrays)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        mode = _mode
        if mode.anomaly:
            ctx.created_at = _user_frame()
            _check_finite(out, cls.name(), "forward", ctx.created_at)
        result = _new_tensor(Tensor)  # Tensor._from_op, written out: apply runs for every op
        result._data = out
        result.grad = None
        if mode.grad_enabled and True in needs:  # record: the output remembers this Node
            ctx.inputs = tuple(edges)
            ctx.output_shape = out.shape
            ctx.output_dtype = out.dtype
            ctx.sequence_nr = next(_sequence_nr)
            if mode.keep_input_tensors:
                ctx.input_tensors = inputs
            result.grad_fn = ctx
            result.requires_grad = True
        else:
            result.grad_fn = None
            result.requires_grad = False
        return result


_new_tensor = object.__new__


# --------------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------------


def topological_order(root: Node) -> list:
    """Every Node reachable from ``root``, each after all the Nodes its inputs came from.

    A Node is always made after the Nodes its inputs came from, so ordering the reachable Nodes by
    ``sequence_nr`` (the order they were made) is a topological order; walked backwards, it is the
    order in which ``backward`` visits them. Finding them is a loop with an explicit stack, never
    recursion, so a chain of 100,000 ops is fine.
    """
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().inputs:
            if type(parent) is Node and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_made_at)


def _made_at(node: Node) -> int:
    return node.sequence_nr


def _accumulate_into(tensor, grad) -> None:
    """tensor.grad += grad (in place), creating .grad the first time.

    The first gradient is copied: a backward may hand the same array to several inputs (add
    returns grad_y twice) or return an array it saved, and a later in-place += or clip of .grad
    must not change those.
    """
    if tensor.grad is None:
        tensor.grad = Tensor._from_op(grad.copy(), None)
    else:
        accumulated = tensor.grad._data
        accumulated += grad


def backward(root, grad, retain_graph: bool = False, visit=None) -> None:
    """The backward pass: the chain rule through root's graph, one node at a time.

    ``grad`` is dL/droot, an array of root's shape. Starting at root's Node, the engine keeps the
    Nodes whose output gradient has arrived in a heap and always takes the one made last: every op
    that used a Node's output was made after it, so by then all of them have sent their part of
    its gradient (the multivariable chain rule: the parts are added). At each Node it calls the op's
    ``backward`` with dL/d(output) and checks each returned dL/d(input) (shape, dtype, and under
    detect_anomaly NaN/Inf); a gradient for an input made by another op waits at that op's Node, a
    gradient for a leaf is added into the leaf's ``.grad`` (and a Node whose output asked to
    ``retain_grad()`` adds its own). Unless ``retain_graph``, each Node then drops what it saved.

    ``visit(node, grad_out, grad_inputs)``, when given, is called at every Node instead of touching
    any ``.grad`` (``grad_inputs[i]`` is dL/d(input i), or None where input i needs none): this is
    how ``chainrule.trace`` records the very walk that ``loss.backward()`` runs.
    """
    first = root.grad_fn
    if first is None:  # backward() on a leaf: its gradient is the one given
        if visit is None:
            _accumulate_into(root, grad)
        return
    anomaly = _mode.anomaly
    grads = {first: grad}  # gradients that have arrived at Nodes not visited yet, summed
    waiting = [(-first.sequence_nr, first)]  # those Nodes, the one made last on top
    previous_mode, _mode.grad_enabled = _mode.grad_enabled, False  # backward records no graph
    try:
        while waiting:
            node = heappop(waiting)[1]
            grad_out = grads.pop(node)
            if node.saved_tensors is None:
                raise RuntimeError(
                    f"backward: the graph through {node.name} was already freed by an earlier "
                    "backward(). Pass retain_graph=True to the first backward() to backward "
                    "through the same graph twice."
                )
            inputs = node.inputs
            fn = node.fn
            grad_inputs = fn.backward(node, grad_out)
            if type(grad_inputs) is not tuple:
                grad_inputs = (grad_inputs,)
            if len(grad_inputs) != len(inputs):
                grad_inputs = _match_count(node, grad_inputs)
            checked = [None] * len(inputs) if visit is not None else None
            needs = node.needs_input_grad
            for i, g in enumerate(grad_inputs):
                if g is None or not needs[i]:
                    continue
                x = inputs[i]  # the Node the input came from, or a leaf Tensor
                if type(x) is Node:
                    shape, dtype = x.output_shape, x.output_dtype
                else:
                    shape, dtype = x._data.shape, x._data.dtype
                if type(g) is not np.ndarray:
                    g = np.asarray(g)
                if g.shape != shape:
                    raise RuntimeError(
                        f"{node.name}.backward returned a gradient of shape {g.shape} for input "
                        f"{i}, whose shape is {shape}: they must be equal."
                    )
                if anomaly:
                    _check_finite(g, node.name, "backward", node.created_at)
                if g.dtype is not dtype and g.dtype != dtype:
                    g = g.astype(dtype)
                if type(x) is Node:  # it waits at that Node, summed with other paths' parts
                    previous = grads.get(x)
                    if previous is None:
                        grads[x] = g
                        heappush(waiting, (-x.sequence_nr, x))
                    else:
                        grads[x] = previous + g
                elif visit is None:  # a leaf: into .grad (as _accumulate_into, written out)
                    if x.grad is not None:
                        x.grad._data += g
                    elif fn.backward_returns_new_arrays:  # an array nothing else holds: keep it
                        x.grad = Tensor._from_op(g, None)
                    else:
                        x.grad = Tensor._from_op(g.copy(), None)
                if visit is not None:
                    checked[i] = g
            if visit is not None:
                visit(node, grad_out, checked)
            elif node.retained is not None:
                _accumulate_into(node.retained, grad_out)
            if not retain_graph:
                node.saved_tensors = None
    finally:
        _mode.grad_enabled = previous_mode


def _match_count(node, grad_inputs):
    """Allow trailing Nones for optional forward arguments that were left out; else raise."""
    n = len(node.inputs)
    if len(grad_inputs) > n and all(g is None for g in grad_inputs[n:]):
        return grad_inputs[:n]
    raise RuntimeError(
        f"{node.name}.backward returned {len(grad_inputs)} gradients, but forward had {n} "
        "inputs: return one per input (None where none)."
    )


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module first; no cycle at use)
