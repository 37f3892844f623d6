"""Function, the base class of every op, and Node, the record of one op call in the graph."""

from __future__ import annotations

import itertools

import numpy as np

from ..backend import device_mismatch, get_array_module, is_device_array, to_device_of
from .mode import _check_finite, _mode, _user_frame

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
        "output_id",
        "sequence_nr",
        "__dict__",
    )

    # Rarely set, so class-level defaults rather than per-Node slots (an instance sets its own):
    input_tensors = None  # the input Tensors themselves, only under keep_input_tensors()
    retained = None  # the output Tensor, when retain_grad() asked to keep its grad
    created_at = None  # "file.py:line" of the user code that made it, under detect_anomaly()
    hooks = None  # functions registered on the output with Tensor.register_hook, run on its gradient
    non_differentiable = None  # ids of outputs forward marked with ctx.mark_non_differentiable
    materialize_grads = True  # an output no gradient reached gets zeros (ctx.set_materialize_grads)
    output_nodes = None  # for an op with several outputs: one small Node per output (see _OutputOf)

    def __init__(self, fn):
        self.fn = fn
        self.inputs = ()
        self.saved_tensors = ()
        self.output_shape = ()
        self.output_dtype = None
        self.sequence_nr = -1  # (output_id is set when the Node is recorded)

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for ``backward`` (read back as ``ctx.saved_tensors``)."""
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *arrays) -> None:
        """Outputs (the arrays forward returns) that have no gradient: their Tensors do not
        require grad, and backward receives zeros (or None) for them, as in PyTorch."""
        self.non_differentiable = {id(a) for a in arrays}

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None, not zeros, for an output no gradient reached."""
        self.materialize_grads = bool(value)

    @property
    def freed(self) -> bool:
        """True once a backward without ``retain_graph=True`` has dropped what this Node saved."""
        return self.saved_tensors is None

    @property
    def name(self) -> str:
        if self.fn is _OutputOf:  # one output of an op with several: named after that op
            return self.inputs[0].name
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
next_sequence_nr = _sequence_nr.__next__  # also stamps in-place changes (engine.bump_version)


class _GraphContext:
    """What ``backward_graph`` receives as ``ctx``: the Node, whose saved arrays are Tensors here.

    A saved array that is the op's output comes back as a Tensor made by this Node, one that is an
    input as that input (a leaf itself, or a Tensor made by the input's Node): so the gradient of
    the gradient flows through them. Any other saved array (a mask, indices) is a constant. Every
    other attribute (``ctx.dim``, ``ctx.needs_input_grad``) is the Node's.
    """

    def __init__(self, node):
        self._node = node
        saved = node.saved_tensors
        if any(isinstance(a, np.generic) for a in saved):  # a number (a constant operand on a
            like = next((a for a in saved if is_device_array(a)), None)  # GPU): a 0-d array there,
            # a constant, never matched by id (a new array may have the id of a freed output's)
            self.saved_tensors = tuple(
                Tensor._from_op(_number_as_array(a, like), None) if isinstance(a, np.generic)
                else _as_graph_tensor(node, a) for a in saved)
        else:
            self.saved_tensors = tuple(_as_graph_tensor(node, a) for a in saved)

    def __getattr__(self, name):
        return getattr(self._node, name)


def _number_as_array(number, like):
    """A NumPy number as a 0-d array on the device of array ``like`` (the CPU for None)."""
    return np.asarray(number) if like is None else to_device_of(np.asarray(number), like)


def _as_graph_tensor(node, array):
    if not isinstance(array, np.ndarray) and not is_device_array(array):
        return array
    key = id(array)
    if key == node.output_id:
        return Tensor._from_op(array, node)
    for output in node.output_nodes or ():  # an op with several outputs: one of them
        if output is not None and key == output.output_id:
            return Tensor._from_op(array, output)
    for x in node.inputs:
        if type(x) is Node:
            if key == x.output_id:
                return Tensor._from_op(array, x)
        elif isinstance(x, Tensor) and x._data is array:
            return x
    return Tensor._from_op(array, None)


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
    (``ctx.needs_input_grad[i]`` says which do). A forward that returns a tuple of arrays gives a
    tuple of Tensors, and ``backward(ctx, *grads)`` then receives one gradient per output (zeros for
    an output no gradient reached, or None after ``ctx.set_materialize_grads(False)``); outputs that
    have no derivative (indices, masks) are named with ``ctx.mark_non_differentiable(...)``.

    To be differentiable twice (``backward(create_graph=True)``, ``autograd.grad(...,
    create_graph=True)``), add a third static method with the same formula written with chainrule
    Tensor ops, which the engine calls instead of ``backward`` when it records the backward pass::

            @staticmethod
            def backward_graph(ctx, grad_y):       # grad_y and ctx.saved_tensors are Tensors here
                (x,) = ctx.saved_tensors           # x is the input itself, in the graph
                return grad_y * 2 * x

    Save the input and output arrays themselves (not copies): those come back to ``backward_graph``
    as Tensors in the graph; any other saved array is a constant there. Without ``backward_graph``, a
    second derivative through the op is refused with a message that says so.
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

    # The same derivative written with chainrule Tensor ops, so that the backward pass can itself be
    # recorded and differentiated (backward(create_graph=True), autograd.grad(create_graph=True)).
    # A static method backward_graph(ctx, grad) on Tensors, returning Tensors; None when the op has
    # only its NumPy backward (differentiable once).
    backward_graph = None

    @classmethod
    def apply(cls, *inputs):
        """Run forward on the inputs' arrays and, when needed, record the op in the graph."""
        ctx = Node(cls)
        arrays, needs, edges = [], [], []
        host_constants = False
        for x in inputs:  # per input: its array for forward, whether it needs a gradient, and
            if isinstance(x, Tensor):  # where that gradient goes (its op's Node, or the leaf)
                arrays.append(x._data)
                needs.append(x.requires_grad)
                edges.append(x.grad_fn or x)
            else:
                arrays.append(x)
                needs.append(False)
                edges.append(x)
                host_constants = host_constants or type(x) is np.ndarray
        if host_constants:  # a NumPy constant (a target, a mask) goes to the tensors' device
            arrays = _constants_to_device(arrays)
        ctx.needs_input_grad = needs = tuple(needs)
        try:
            out = cls.forward(ctx, *arrays)
        except TypeError:  # a tensor on the GPU and one on the CPU: say so, else re-raise
            mismatch = device_mismatch(cls.name(), *arrays)
            if mismatch is None:
                raise
            raise RuntimeError(mismatch) from None
        if type(out) is not np.ndarray:
            if type(out) is tuple:
                return _apply_several(cls, ctx, out, inputs, edges)
            if not is_device_array(out):  # (on a GPU: an array already) a NumPy scalar (an op
                scalar, out = out, np.asarray(out)  # on a 0-d array) or a number
                if ctx.saved_tensors:  # saved as the output: backward_graph must know it as such
                    ctx.saved_tensors = tuple(out if a is scalar else a
                                              for a in ctx.saved_tensors)
        mode = _mode
        if mode.anomaly:
            ctx.created_at = _user_frame()
            _check_finite(out, cls.name(), "forward", ctx.created_at)
        result = _new_tensor(Tensor)  # Tensor._from_op, written out: apply runs for every op
        result._data = out
        result.grad = None
        if mode.grad_enabled and True in needs and (  # record: the output remembers this Node
                ctx.non_differentiable is None or id(out) not in ctx.non_differentiable):
            ctx.inputs = tuple(edges)
            ctx.output_shape = out.shape
            ctx.output_dtype = out.dtype
            ctx.output_id = id(out)  # how backward_graph knows a saved array is the output
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


def _constants_to_device(arrays: list) -> list:
    """The op's arguments with NumPy arrays that are not Tensors (constants such as class targets
    or masks) copied to the device of its Tensors' arrays, when those live on a GPU."""
    device_array = next((a for a in arrays if is_device_array(a)), None)
    if device_array is None:
        return arrays
    return [to_device_of(a, device_array) if type(a) is np.ndarray else a for a in arrays]


class _OutputOf(Function):
    """One output of an op that returns several (forward returned a tuple of arrays).

    forward:  (the op's forward made every output at once)
    backward: dL/d(outputs) = (.., dL/d(output k), ..): output k's gradient, sent on to the op in
              its place among the outputs; the op's backward receives them all at once
    """

    engine_internal = True  # part of the engine, tested with the Functions of several outputs

    @staticmethod
    def backward(ctx, grad_y):
        return OutputGradients(ctx.count, {ctx.index: grad_y})

    backward_graph = backward


class OutputGradients:
    """The gradients of the outputs of an op with several, as they arrive one output at a time:
    parts from different paths are added output by output."""

    __slots__ = ("count", "parts")

    def __init__(self, count, parts):
        self.count, self.parts = count, parts

    def __add__(self, other):
        parts = dict(self.parts)
        for k, g in other.parts.items():
            parts[k] = g if parts.get(k) is None else parts[k] + g
        return OutputGradients(self.count, parts)

    def arguments(self, node, as_tensors: bool) -> list:
        """One gradient per output for the op's backward: zeros where none arrived (or None,
        after ctx.set_materialize_grads(False))."""
        grads = []
        for k in range(self.count):
            g = self.parts.get(k)
            if g is None and node.materialize_grads:
                xp = get_array_module(*(p for p in self.parts.values() if p is not None))
                zeros = xp.zeros(node.output_shape[k], dtype=node.output_dtype[k])
                g = Tensor._from_op(zeros, None) if as_tensors else zeros
            grads.append(g)
        return grads


def _apply_several(cls, ctx, outs, inputs, edges):
    """Function.apply for a forward that returned several arrays: a tuple of Tensors, each with a
    small Node of its own (_OutputOf) that passes its gradient to this op's Node."""
    outs = tuple(o if type(o) is np.ndarray or is_device_array(o) else np.asarray(o) for o in outs)
    if _mode.anomaly:
        ctx.created_at = _user_frame()
        for o in outs:
            _check_finite(o, cls.name(), "forward", ctx.created_at)
    marked = ctx.non_differentiable or ()
    if not (_mode.grad_enabled and True in ctx.needs_input_grad):
        return tuple(Tensor._from_op(o, None) for o in outs)
    ctx.inputs = tuple(edges)
    ctx.output_shape = tuple(o.shape for o in outs)
    ctx.output_dtype = tuple(o.dtype for o in outs)
    ctx.output_id = -1  # its outputs are its output Nodes'
    ctx.sequence_nr = next(_sequence_nr)
    if _mode.keep_input_tensors:
        ctx.input_tensors = inputs
    ctx.output_nodes = [None] * len(outs)
    results = []
    for k, o in enumerate(outs):
        if id(o) in marked or o.dtype.kind not in "fc":
            results.append(Tensor._from_op(o, None))
            continue
        node = Node(_OutputOf)
        node.inputs = (ctx,)
        node.needs_input_grad = (True,)
        node.index, node.count = k, len(outs)
        node.output_shape, node.output_dtype, node.output_id = o.shape, o.dtype, id(o)
        node.sequence_nr = next(_sequence_nr)
        ctx.output_nodes[k] = node
        results.append(Tensor._from_op(o, node))
    return tuple(results)

Tensor = None  # the Tensor class, set by autograd/__init__.py once tensor.py is loaded (a cycle)
