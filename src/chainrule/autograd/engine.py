"""The backward walk: the chain rule through a graph, one Node at a time, and ``grad``.

First order (the usual ``loss.backward()``): every gradient is a NumPy array and each Node's
``backward`` (NumPy) gives its inputs' gradients. With ``create_graph=True`` the walk itself is
recorded: gradients are Tensors, each Node's ``backward_graph`` (the same formula written with
chainrule ops) gives its inputs' gradients, and the results can be differentiated again.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from heapq import heappop, heappush

import numpy as np

from ..backend import as_array, data_address, get_array_module, is_device_array, to_device
from .function import Node, OutputGradients, _GraphContext, next_sequence_nr
from .mode import _check_finite, _mode

__all__ = ["backward", "run_backward", "grad", "topological_order", "RemovableHandle"]

Tensor = None  # the Tensor class, set by autograd/__init__.py once tensor.py is loaded (a cycle)


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


# --------------------------------------------------------------------------------------------
# Gradient hooks
# --------------------------------------------------------------------------------------------

class IdentityWeakMap:
    """A mapping from objects, by identity, to values, that forgets an object when it is freed.
    (A WeakKeyDictionary compares keys with ==, which is element-wise for tensors.)"""

    def __init__(self):
        self._items = {}  # id(key) -> (weak reference to key, value)

    def __bool__(self):
        return bool(self._items)

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        item = self._items.get(id(key))
        return item is not None and item[0]() is key

    def get(self, key, default=None):
        item = self._items.get(id(key))
        return item[1] if item is not None and item[0]() is key else default

    def __getitem__(self, key):
        item = self._items.get(id(key))
        if item is None or item[0]() is not key:
            raise KeyError(key)
        return item[1]

    def __setitem__(self, key, value):
        items, key_id = self._items, id(key)
        items[key_id] = (weakref.ref(key, lambda _, k=key_id: items.pop(k, None)), value)

    def setdefault(self, key, default):
        if key not in self:
            self[key] = default
        return self[key]


# The leaf tensors that have hooks (the hooks themselves live on the tensor, a non-leaf's on its
# Node); a tensor leaves it when it is freed.
_leaf_hooks = IdentityWeakMap()


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def register_hook(tensor, hook) -> RemovableHandle:
    """Run ``hook(grad)`` whenever the gradient of ``tensor`` is computed; a hook that returns a
    Tensor replaces the gradient (see ``Tensor.register_hook``)."""
    if not callable(hook):
        raise TypeError(f"register_hook: the hook must be callable. Got {type(hook).__name__} instead.")
    if not tensor.requires_grad:
        raise RuntimeError(
            "register_hook: this tensor does not require grad, so no gradient will reach a hook on it."
        )
    node = tensor.grad_fn
    if node is None:
        hooks = getattr(tensor, "_hooks", None)  # on the tensor itself: a hook that refers to its
        if hooks is None:  # tensor makes a cycle the garbage collector can free
            tensor._hooks = hooks = []
        _leaf_hooks[tensor] = True  # (weakly) which leaves have hooks, for the walk
    else:
        if node.hooks is None:
            node.hooks = []
        hooks = node.hooks
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def _run_hooks(hooks, grad, create_graph: bool):
    """Each hook sees the gradient as a Tensor; one that returns a Tensor replaces it."""
    from ..tensor import Tensor

    for hook in list(hooks):
        as_tensor = grad if create_graph else Tensor._from_op(grad, None)
        result = hook(as_tensor)
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(
                    f"a gradient hook must return a Tensor or None. Got {type(result).__name__} instead."
                )
            if result.shape != as_tensor.shape:
                raise RuntimeError(
                    f"a gradient hook returned shape {result.shape} for a gradient of shape "
                    f"{as_tensor.shape}: they must be equal."
                )
            grad = result if create_graph else result._data
    return grad


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------


def _accumulate_into(tensor, grad, create_graph: bool = False) -> None:
    """tensor.grad += grad, creating .grad the first time.

    First order: in place, and the first gradient is copied (a backward may hand the same array to
    several inputs, add returns grad_y twice, or return an array it saved, and a later in-place +=
    or clip of .grad must not change those). With create_graph: out of place, recorded, so .grad can
    be differentiated.
    """
    from ..tensor import Tensor

    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        tensor.grad = Tensor._from_op(grad.copy(), None)
    else:
        accumulated = tensor.grad._data
        accumulated += grad


def backward(root, grad, retain_graph: bool = False, visit=None, *, create_graph: bool = False,
             inputs=None) -> None:
    """``root.backward(grad)``: dL/droot is ``grad``, an array of root's shape (a Tensor when
    ``create_graph``). See ``run_backward``; the usual case (first order, into every leaf's
    .grad, no hook on a leaf) takes ``_first_order``, the same walk with nothing else to check."""
    if (visit is None and not create_graph and inputs is None and not _leaf_hooks
            and root.grad_fn is not None):
        _first_order(root.grad_fn, grad, retain_graph)
        return
    run_backward((root,), (grad,), retain_graph=retain_graph, create_graph=create_graph,
                 targets=inputs, visit=visit)


def _first_order(first, grad, retain_graph) -> None:
    """``run_backward`` for one root, first order, every leaf's gradient into its ``.grad``: the
    training step's walk, written out without the options it does not use (it runs every step)."""
    anomaly = _mode.anomaly
    grads_at = {first: grad}
    waiting = [(-first.sequence_nr, first)]
    previous_mode, _mode.grad_enabled = _mode.grad_enabled, False  # backward records no graph
    try:
        while waiting:
            node = heappop(waiting)[1]
            grad_out = grads_at.pop(node)
            if node.hooks:
                grad_out = _run_hooks(node.hooks, grad_out, False)
            if node.saved_tensors is None:
                _refuse_freed(node)
            if _latest_change > node.sequence_nr:  # changed in place since this Node was made?
                _check_versions(node)
            inputs = node.inputs
            fn = node.fn
            if type(grad_out) is OutputGradients:  # an op with several outputs: one gradient each
                grad_inputs = _backward_several(node, grad_out, False)
            else:
                grad_inputs = fn.backward(node, grad_out)
            if type(grad_inputs) is not tuple:
                grad_inputs = (grad_inputs,)
            if len(grad_inputs) != len(inputs):
                grad_inputs = _match_count(node, grad_inputs)
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
                    if type(g) is OutputGradients:  # from one output of an op with several
                        shape, dtype = None, None
                    else:
                        g = _as_gradient(g, False)
                if shape is not None:
                    if g.shape != shape:
                        _refuse_shape(node, i, g.shape, shape)
                    if anomaly:
                        _check_finite(g, node.name, "backward", node.created_at)
                    if g.dtype is not dtype and g.dtype != dtype:
                        g = g.astype(dtype)
                if type(x) is Node:  # it waits at that Node, summed with other paths' parts
                    previous = grads_at.get(x)
                    if previous is None:
                        grads_at[x] = g
                        heappush(waiting, (-x.sequence_nr, x))
                    else:
                        grads_at[x] = previous + g
                elif x.grad is not None:  # a leaf: into .grad (as _accumulate_into, written out)
                    x.grad._data += g
                elif fn.backward_returns_new_arrays:  # an array nothing else holds: keep it
                    x.grad = Tensor._from_op(g, None)
                else:
                    x.grad = Tensor._from_op(g.copy(), None)
            if node.retained is not None:
                _accumulate_into(node.retained, grad_out)
            if not retain_graph:
                node.saved_tensors = None
                if node.output_nodes is not None:  # break the cycle with its outputs' Nodes,
                    node.output_nodes = None  # so the step's graph is freed without the collector
    finally:
        _mode.grad_enabled = previous_mode


def _refuse_freed(node):
    raise RuntimeError(
        f"backward: the graph through {node.name} was already freed by an earlier backward(). "
        "Pass retain_graph=True to the first backward() to backward through the same graph twice."
    )


def _refuse_shape(node, i, got, shape):
    raise RuntimeError(
        f"{node.name}.backward returned a gradient of shape {got} for input {i}, whose shape is "
        f"{shape}: they must be equal."
    )


def run_backward(roots, grads, retain_graph=False, create_graph=False, targets=None, capture=False,
                 visit=None):
    """The backward pass: the chain rule through the roots' graph, one Node at a time.

    ``grads[k]`` is dL/droots[k]. Starting at the roots' Nodes, the engine keeps the Nodes whose
    output gradient has arrived in a heap and always takes the one made last: every op that used a
    Node's output was made after it, so by then all of them have sent their part of its gradient
    (the multivariable chain rule: the parts are added). At each Node it runs the hooks registered
    on its output, calls the op's ``backward`` with dL/d(output) and checks each returned
    dL/d(input) (shape, dtype, and under detect_anomaly NaN/Inf); a gradient for an input made by
    another op waits at that op's Node, a gradient for a leaf is added into the leaf's ``.grad``
    (and a Node whose output asked to ``retain_grad()`` adds its own). Unless ``retain_graph``,
    each Node then drops what it saved.

    ``create_graph``: gradients are Tensors and each Node's ``backward_graph`` is called with graph
    recording on, so every gradient is itself in a graph and can be differentiated again.
    ``targets``: only these tensors receive gradients, and only the Nodes that lead to them are
    visited; with ``capture`` nothing's ``.grad`` changes and the gradients of the targets are
    returned, in order (None for one no gradient reached): this is ``chainrule.autograd.grad``.
    ``visit(node, grad_out, grad_inputs)``, when given, is called at every Node instead of touching
    any ``.grad`` (``grad_inputs[i]`` is dL/d(input i), or None where input i needs none): this is
    how ``chainrule.trace`` records the very walk that ``loss.backward()`` runs.
    """
    from ..tensor import Tensor

    anomaly = _mode.anomaly
    grads_at = {}  # gradients that have arrived at Nodes not visited yet, summed
    waiting = []  # those Nodes, the one made last on top
    needed = target_nodes = target_leaves = None
    captured = {}
    if targets is not None:
        target_nodes, target_leaves = {}, {}
        for t in targets:
            if t.grad_fn is None:
                target_leaves[id(t)] = t
            else:
                target_nodes[t.grad_fn] = t
        needed = _nodes_leading_to([r.grad_fn for r in roots if r.grad_fn is not None],
                                   target_nodes, target_leaves)
    leaf_hooks = _leaf_hooks
    special_leaves = bool(targets is not None or create_graph or leaf_hooks)

    hooked = {}  # id(leaf) -> [leaf, its gradient summed]: hooks see the total, as in PyTorch

    def deliver_leaf(x, g, hooks_done=False):  # a gradient for a leaf tensor (or a target)
        if target_leaves is not None and id(x) not in target_leaves:
            return
        if not hooks_done and leaf_hooks and x in leaf_hooks:
            pending = hooked.get(id(x))
            if pending is None:
                hooked[id(x)] = [x, g]
            else:
                pending[1] = pending[1] + g
            return
        if capture:
            previous = captured.get(id(x))
            captured[id(x)] = g if previous is None else previous + g
        else:
            _accumulate_into(x, g, create_graph)

    for root, g in zip(roots, grads):
        node = root.grad_fn
        if node is None:  # backward() on a leaf: its gradient is the one given
            if visit is None:
                deliver_leaf(root, g)
            continue
        previous = grads_at.get(node)
        if previous is None:
            grads_at[node] = g
            heappush(waiting, (-node.sequence_nr, node))
        else:
            grads_at[node] = previous + g

    previous_mode, _mode.grad_enabled = _mode.grad_enabled, create_graph  # recorded only if asked
    try:
        while waiting:
            node = heappop(waiting)[1]
            grad_out = grads_at.pop(node)
            if node.hooks:
                grad_out = _run_hooks(node.hooks, grad_out, create_graph)
            if target_nodes is not None:
                target = target_nodes.get(node)
                if target is not None:
                    if capture:
                        captured[id(target)] = grad_out
                    else:
                        _accumulate_into(target, grad_out, create_graph)
                if node not in needed:
                    continue
            if node.saved_tensors is None:
                _refuse_freed(node)
            if _latest_change > node.sequence_nr:  # changed in place since this Node was made?
                _check_versions(node)
            inputs = node.inputs
            fn = node.fn
            if type(grad_out) is OutputGradients:  # an op with several outputs: one gradient each
                grad_inputs = _backward_several(node, grad_out, create_graph)
            elif create_graph:
                grad_inputs = _backward_recorded(node, grad_out)
            else:
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
                    if type(g) is OutputGradients:  # from one output of an op with several
                        previous = grads_at.get(x)
                        if previous is None:
                            grads_at[x] = g
                            heappush(waiting, (-x.sequence_nr, x))
                        else:
                            grads_at[x] = previous + g
                        continue
                    g = _as_gradient(g, create_graph)
                if g.shape != shape:
                    _refuse_shape(node, i, g.shape, shape)
                if anomaly:
                    _check_finite(g._data if create_graph else g, node.name, "backward",
                                  node.created_at)
                if g.dtype is not dtype and g.dtype != dtype:
                    g = g.to(dtype) if create_graph else g.astype(dtype)
                if type(x) is Node:  # it waits at that Node, summed with other paths' parts
                    if needed is not None and x not in needed and x not in target_nodes:
                        continue
                    previous = grads_at.get(x)
                    if previous is None:
                        grads_at[x] = g
                        heappush(waiting, (-x.sequence_nr, x))
                    else:
                        grads_at[x] = previous + g
                elif visit is not None:
                    pass
                elif special_leaves:
                    deliver_leaf(x, g)
                elif x.grad is not None:  # a leaf: into .grad (as _accumulate_into, written out)
                    x.grad._data += g
                elif fn.backward_returns_new_arrays:  # an array nothing else holds: keep it
                    x.grad = Tensor._from_op(g, None)
                else:
                    x.grad = Tensor._from_op(g.copy(), None)
                if visit is not None:
                    checked[i] = g
            if visit is not None:
                visit(node, grad_out, checked)
            elif node.retained is not None and not capture and (
                    target_nodes is None or node not in target_nodes):  # (a target got it above)
                _accumulate_into(node.retained, grad_out, create_graph)
            if not retain_graph:
                node.saved_tensors = None
                if node.output_nodes is not None:
                    node.output_nodes = None
        for x, g in hooked.values():  # every part of a hooked leaf's gradient has arrived
            deliver_leaf(x, _run_hooks(x._hooks, g, create_graph), hooks_done=True)
    finally:
        _mode.grad_enabled = previous_mode
    if capture:
        return [captured.get(id(t)) for t in targets]
    return None


def _as_gradient(g, create_graph):
    """A gradient a backward returned that is not a NumPy array: a number or a list becomes one;
    under create_graph a Tensor stays a Tensor and an array becomes a constant Tensor."""
    from ..tensor import Tensor

    if create_graph:
        return g if isinstance(g, Tensor) else Tensor._from_op(as_array(g), None)
    if isinstance(g, Tensor):
        return g._data
    return as_array(g)


def _backward_recorded(node, grad_out):
    """One Node's backward with create_graph: its ``backward_graph`` on Tensors, recorded.

    A Function without one has only the NumPy ``backward``, whose result is a constant to the new
    graph. That is right only if it depends on nothing that requires grad: neither the incoming
    gradient nor what forward saved from the inputs and the output. Otherwise it would silently drop
    the second derivative, so it is refused.
    """
    from ..tensor import Tensor

    fn = node.fn
    ctx = _GraphContext(node)
    if fn.backward_graph is not None:
        return fn.backward_graph(ctx, grad_out)
    depends = grad_out.requires_grad or any(
        isinstance(t, Tensor) and t.requires_grad for t in ctx.saved_tensors
    )
    if depends:
        raise RuntimeError(
            f"{fn.name()}.backward is written on NumPy arrays, so it can be differentiated only "
            f"once: create_graph=True needs the derivative of its derivative. Give {fn.name()} a "
            "backward_graph(ctx, grad) that computes the same formula with chainrule Tensor ops "
            "(see docs/higher_order.md), or leave create_graph off."
        )
    previous, _mode.grad_enabled = _mode.grad_enabled, False
    try:
        result = fn.backward(node, grad_out._data)
    finally:
        _mode.grad_enabled = previous
    if type(result) is not tuple:
        result = (result,)
    return tuple(None if g is None else Tensor._from_op(as_array(g), None) for g in result)


def _backward_several(node, grad_out, create_graph):
    """The backward of an op with several outputs, given one gradient per output."""
    grads = grad_out.arguments(node, as_tensors=create_graph)
    if not create_graph:
        return node.fn.backward(node, *grads)
    if node.fn.backward_graph is not None:
        return node.fn.backward_graph(_GraphContext(node), *grads)
    if any(g is not None and g.requires_grad for g in grads):
        raise RuntimeError(
            f"{node.fn.name()}.backward is written on NumPy arrays, so it can be differentiated "
            f"only once: create_graph=True needs the derivative of its derivative. Give "
            f"{node.fn.name()} a backward_graph(ctx, *grads) with the same formula in chainrule "
            "Tensor ops (see docs/higher_order.md), or leave create_graph off."
        )
    from ..tensor import Tensor

    previous, _mode.grad_enabled = _mode.grad_enabled, False
    try:
        result = node.fn.backward(node, *(None if g is None else g._data for g in grads))
    finally:
        _mode.grad_enabled = previous
    result = result if type(result) is tuple else (result,)
    return tuple(None if g is None else Tensor._from_op(as_array(g), None) for g in result)


def _nodes_leading_to(roots, target_nodes, target_leaves) -> set:
    """The Nodes from which a target can be reached, so a backward towards the targets alone
    visits nothing else (and needs nothing else's saved arrays)."""
    if not roots:
        return set()
    top = max(roots, key=_made_at)
    order = topological_order(top) if len(roots) == 1 else sorted(
        set().union(*(topological_order(r) for r in roots)), key=_made_at)
    needed = set()
    for node in order:  # inputs before the Nodes that used them
        for x in node.inputs:
            if type(x) is Node:
                if x in needed or x in target_nodes:
                    needed.add(node)
                    break
            elif id(x) in target_leaves:
                needed.add(node)
                break
    return needed


def _match_count(node, grad_inputs):
    """Allow trailing Nones for optional forward arguments that were left out; else raise."""
    n = len(node.inputs)
    if len(grad_inputs) > n and all(g is None for g in grad_inputs[n:]):
        return grad_inputs[:n]
    raise RuntimeError(
        f"{node.name}.backward returned {len(grad_inputs)} gradients, but forward had {n} "
        "inputs: return one per input (None where none)."
    )


# --------------------------------------------------------------------------------------------
# In-place changes and the arrays backward saved
# --------------------------------------------------------------------------------------------

# id(array that owns the memory) -> (sequence number of its last in-place change, a weak reference
# to the array, how many changes). Empty until something is changed in place, so plain training
# never looks here.
_versions: dict = {}
_latest_change = -1  # the stamp of the latest in-place change: a Node made after it needs no check


def _memory_owner(array):
    """The array that owns ``array``'s memory (itself, or the base its views share)."""
    base = array.base
    while base is not None and (isinstance(base, np.ndarray) or is_device_array(base)):
        array, base = base, base.base
    return array


# Memory blocks that hold several tensors end to end (an optimizer's flat vector of parameters,
# chainrule.optim.flat): id(block) -> (weak reference to it, the byte offset where each piece
# starts). Their changes are counted per piece, so that changing one parameter in place is not
# taken for a change of every parameter of its group.
_pieced: dict = {}


def count_pieces_apart(block, offsets) -> None:
    """Count the in-place changes of ``block`` (a 1-D array) per piece: the pieces start at the
    element ``offsets`` (ascending, the first 0) and each runs to the next."""
    itemsize = block.itemsize
    _pieced[id(block)] = (weakref.ref(block), [o * itemsize for o in offsets])
    for key in [k for k, (ref, _) in _pieced.items() if ref() is None]:
        del _pieced[key]


def _version_key(array, owner):
    """What the changes of ``array`` are counted under: its owner's id, or for a piece of a block
    counted apart (count_pieces_apart), the owner's id and the piece's number."""
    entry = _pieced.get(id(owner))
    if entry is None or entry[0]() is not owner:
        return id(owner)
    if not array.size:  # (an empty piece has no address of its own; no change reaches it)
        return id(owner), "empty"
    where = data_address(array) - data_address(owner)
    return id(owner), bisect_right(entry[1], where) - 1


def bump_version(array) -> None:
    """Record that ``array``'s memory is being changed in place now: a Node made before this that
    saved it (or a view of the same memory) will refuse to run its backward."""
    global _latest_change
    owner = _memory_owner(array)
    key = _version_key(array, owner)
    entry = _versions.get(key)
    count = 1 if entry is None or entry[1]() is not owner else entry[2] + 1
    _latest_change = next_sequence_nr()
    _versions[key] = (_latest_change, weakref.ref(owner), count)
    if len(_versions) > 4096:  # forget arrays that no longer exist
        for key in [k for k, e in _versions.items() if e[1]() is None]:
            del _versions[key]


def carry_version(old, new) -> None:
    """``new`` takes the place of ``old`` (the same numbers in other memory: a parameter moved
    into an optimizer's flat vector): its version count goes on from old's."""
    owner = _memory_owner(new)
    _versions[_version_key(new, owner)] = (-1, weakref.ref(owner), version_of(old))


# Optimizers that have stepped (each keeps the stamp of its latest step): their parameters are
# changed in place at every step, stamped once per step, not once per parameter.
_optimizers_stepped = weakref.WeakSet()


def mark_step(optimizer) -> None:
    """An optimizer is about to change its parameters in place (called at the start of step())."""
    global _latest_change
    optimizer._step_stamp = _latest_change = next_sequence_nr()
    if not optimizer.__dict__.get("_in_stepped_set"):  # (a flag: cheaper than adding every step)
        _optimizers_stepped.add(optimizer)
        optimizer._in_stepped_set = True


def _stepped_since(owner, node) -> bool:
    """Whether an optimizer has stepped a parameter whose memory is ``owner`` since ``node``."""
    for optimizer in list(_optimizers_stepped):
        if optimizer._step_stamp > node.sequence_nr:
            for p in optimizer._all_params():
                if _memory_owner(p._data) is owner:
                    return True
    return False


def version_of(array) -> int:
    """How many in-place changes the memory of ``array`` has had (PyTorch's ``_version``)."""
    owner = _memory_owner(array)
    entry = _versions.get(_version_key(array, owner))
    return 0 if entry is None or entry[1]() is not owner else entry[2]


def _check_versions(node) -> None:
    for i, array in enumerate(node.saved_tensors):
        if not isinstance(array, np.ndarray) and not is_device_array(array):
            continue
        owner = _memory_owner(array)
        entry = _versions.get(_version_key(array, owner))
        if (entry is not None and entry[0] > node.sequence_nr and entry[1]() is owner
                or _optimizers_stepped and _stepped_since(owner, node)):
            raise RuntimeError(
                f"backward: one of the arrays {node.name} saved for its backward (saved value {i}, "
                f"shape {array.shape}) was changed by an in-place operation after {node.name} "
                "used it, so its gradient would be computed from the wrong numbers. Change a copy "
                "instead (x = x.clone(), or an out-of-place op such as x = x + 1 for x += 1), or "
                "do the in-place change after backward()."
            )


# --------------------------------------------------------------------------------------------
# grad
# --------------------------------------------------------------------------------------------


def _as_sequence(value, what: str) -> tuple:
    from ..tensor import Tensor

    if isinstance(value, Tensor):
        return (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"grad: {what} must be a Tensor or a sequence of Tensors. Got "
                        f"{type(value).__name__} instead.") from None
    for k, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: {what}[{k}] must be a Tensor. Got {type(t).__name__} instead.")
    return items


def initial_gradients(outputs, grad_outputs, create_graph: bool, op: str) -> list:
    """dL/d(output) for each output: the given ones (checked), or 1 for a one-element output."""
    from ..tensor import Tensor, _to_array

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{op}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs: "
                         "give one per output (None for a one-element output).")
    grads = []
    for k, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: output {k} (shape {out.shape}) does not require grad: no input of its "
                "computation had requires_grad=True (or it ran under no_grad)."
            )
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{op}: output {k} has shape {out.shape}, so it needs an explicit gradient "
                    "(grad_outputs); only one-element outputs get 1."
                )
            array = get_array_module(out._data).ones(out._data.shape, dtype=out._data.dtype)
            grads.append(Tensor._from_op(array, None) if create_graph else array)
            continue
        if isinstance(g, Tensor):
            if g.shape != out.shape:
                raise ValueError(f"{op}: grad_outputs[{k}] has shape {g.shape}, but output {k} has "
                                 f"shape {out.shape}: they must be equal.")
            if create_graph:
                grads.append(g if g.dtype == out.dtype else g.to(out.dtype))
            else:
                grads.append(g._data.astype(out._data.dtype, copy=False))
            continue
        array = to_device(_to_array(g, dtype=out._data.dtype), out.device)
        if array.shape != out.shape:
            raise ValueError(f"{op}: grad_outputs[{k}] has shape {array.shape}, but output {k} "
                             f"has shape {out.shape}: they must be equal.")
        grads.append(Tensor._from_op(array, None) if create_graph else array)
    return grads


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (no ``.grad`` changes).

    ``grad_outputs`` are dL/d(output), one per output (None or left out for one-element outputs).
    With ``create_graph=True`` the returned gradients are in a graph of their own and can be
    differentiated again (second derivatives, Hessian-vector products, gradient penalties);
    ``retain_graph`` defaults to ``create_graph``. An input that no gradient reaches is an error
    unless ``allow_unused=True`` (its gradient is then None) or ``materialize_grads=True``
    (zeros), as in PyTorch.

    >>> x = chainrule.tensor(2.0, requires_grad=True)
    >>> (dy,) = chainrule.autograd.grad(x ** 3, x, create_graph=True)     # 3x^2 = 12
    >>> (d2y,) = chainrule.autograd.grad(dy, x)                            # 6x = 12
    """
    from ..tensor import Tensor

    if is_grads_batched:
        raise ValueError("grad: is_grads_batched=True is not supported; call grad once per "
                         "gradient.")
    if materialize_grads and allow_unused is False:
        raise ValueError("grad: materialize_grads=True needs allow_unused to be True or left out.")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    outputs = _as_sequence(outputs, "outputs")
    inputs = _as_sequence(inputs, "inputs")
    if not inputs:
        raise ValueError("grad: inputs is empty: name the tensors to differentiate with respect to.")
    for k, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{k}] (shape {t.shape}) does not require grad, so it "
                               "has no gradient; create it with requires_grad=True.")
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads = initial_gradients(outputs, grad_outputs, create_graph, "grad")
    result = run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                          targets=inputs, capture=True)
    answer = []
    for k, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{k}] (shape {t.shape}) was not used to compute the outputs, so "
                    "it has no gradient. Pass allow_unused=True to get None for it (or "
                    "materialize_grads=True for zeros)."
                )
            answer.append(Tensor._from_op(np.zeros_like(t._data), None) if materialize_grads else None)
        elif isinstance(g, Tensor):
            answer.append(g)
        else:
            answer.append(Tensor._from_op(g.copy(), None))  # never an array the graph still holds
    return tuple(answer)
