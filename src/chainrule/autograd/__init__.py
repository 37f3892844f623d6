"""The reverse-mode engine: Function, the graph node, no_grad, backward, grad and anomaly detection.

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

And a fifth, for derivatives of derivatives: with ``create_graph=True`` the walk calls each op's
``backward_graph`` instead, the same formula written with chainrule ops, with recording on, so the
gradients it returns are themselves in a graph (``grad``, ``functional.hessian``).

mode.py      the per-thread switches: no_grad, enable_grad, set_grad_enabled, detect_anomaly
function.py  Function and Node (the graph), and what backward_graph sees as ctx
engine.py    the backward walk, grad, gradient hooks, the in-place change check
functional.py  jacobian, hessian, vjp, jvp, hvp, vhp
"""

from .function import Function, Node
from .engine import RemovableHandle, backward, grad, run_backward, topological_order  # noqa: F401
from .mode import (  # noqa: F401  (_mode: the switches, read by tensor.py)
    _mode, detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, keep_input_tensors,
    no_grad, set_grad_enabled,
)

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
    "grad",
    "topological_order",
    "RemovableHandle",
    "gradcheck",
    "gradgradcheck",
    "functional",
    "Variable",
]

from .. import tensor as _tensor  # noqa: E402  (tensor.py and the ops import Function from here)
from . import engine, function as _function  # noqa: E402

_function.Tensor = _tensor.Tensor
engine.Tensor = _tensor.Tensor


def __getattr__(name):
    # Loaded on first use: gradcheck and functional import Tensor, which imports this package.
    if name in ("gradcheck", "gradgradcheck"):
        import importlib

        return getattr(importlib.import_module("chainrule.gradcheck"), name)
    if name == "Variable":  # PyTorch's deprecated alias (chainrule/autograd_compat.py)
        from ..autograd_compat import Variable

        return Variable
    if name == "functional":  # (not "from . import functional": that asks __getattr__ again)
        import importlib

        return importlib.import_module("chainrule.autograd.functional")
    raise AttributeError(f"module 'chainrule.autograd' has no attribute {name!r}")
