"""Whole derivatives of a function at a point: jacobian, hessian, vjp, jvp, hvp, vhp.

Each takes a Python function ``func`` of Tensors and the point ``inputs`` (a Tensor, or a tuple of
Tensors for a function of several), runs ``func`` there with fresh copies of the inputs that require
grad, and answers with ``chainrule.autograd.grad``. Signatures, return structures and ``strict``
follow ``torch.autograd.functional``:

    jacobian(f, x)      J[i..., j...] = d f(x)[i...] / d x[j...]          shape f(x).shape + x.shape
    hessian(f, x)       H[i..., j...] = d^2 f(x) / d x[i...] d x[j...]    f returns one number
    vjp(f, x, v)        (f(x), v^T J)       reverse mode: one backward       v: f(x)'s shape
    jvp(f, x, v)        (f(x), J v)         by the double-vjp trick (below)  v: x's shape
    vhp(f, x, v)        (f(x), v^T H)       grad of the gradient, weighted by v
    hvp(f, x, v)        (f(x), H v)         the double-vjp trick on the gradient

A Tensor in, a Tensor out; a tuple in (or out), a tuple out, and for ``jacobian`` of a tuple of
outputs and a tuple of inputs a tuple of tuples with ``J[i][j] = d out_i / d in_j``; ``hessian``
of a tuple of inputs gives ``H[i][j] = d^2 f / d in_i d in_j``. ``vjp``, ``jvp``, ``vhp``, ``hvp``
return ``(func_output, product)``.

``create_graph=True`` computes the result in a graph (differentiable again, connected to inputs
that require grad); otherwise results are detached. ``strict=True`` raises when an output does not
depend on an input; otherwise that derivative is a tensor of zeros, its mathematical value.

How: one ``grad`` call per output element gives one row of the Jacobian (with a one-hot
``grad_outputs``: the gradient of that element alone), so a Jacobian costs as many backward passes
as the output has elements. A Hessian is the Jacobian of the gradient, the gradient computed with
``create_graph=True``. Every op on the way must be twice differentiable (have a ``backward_graph``)
for ``hessian``, ``jvp``, ``hvp`` and ``vhp``; the engine names the op that is not.

Not supported, refused by name: ``vectorize=True`` (PyTorch batches the rows with vmap; here the
rows are computed one at a time, which gives the same numbers, so leave it False) and the
``"forward-mode"`` strategies (chainrule has reverse mode only).
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .engine import grad as _engine_grad
from .mode import enable_grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


# --------------------------------------------------------------------------------------------
# Helpers: tuples in and out, fresh inputs, grad that tolerates outputs without a graph
# --------------------------------------------------------------------------------------------


def _as_tuple(value, what: str, fn: str):
    """(was it a tuple, the Tensors as a tuple). As in PyTorch, only a tuple counts as several."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for k, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"{what}[{k}]" if is_tuple else what
            raise TypeError(f"{fn}: {where} must be a Tensor (or {what} a tuple of Tensors). Got "
                            f"{type(item).__name__} instead.")
    return is_tuple, items


def _unpack(result, was_tuple):
    """Undo _as_tuple: ``was_tuple`` is one flag, or (outer, inner) for a tuple of tuples."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            result = tuple(row[0] for row in result)
        return result if outer else result[0]
    return result if was_tuple else result[0]


def _fresh(tensors, create_graph: bool, need_graph: bool) -> tuple:
    """New Tensor objects for the inputs, so that func's result depends on exactly these (and not
    on the same tensors captured some other way). With create_graph, an input that requires grad
    gets a differentiable alias (a reshape to its own shape), so the result stays connected to it;
    otherwise a detached copy of the reference that requires grad when ``need_graph``."""
    fresh = []
    for t in tensors:
        if create_graph and t.requires_grad:
            fresh.append(t.reshape(t.shape))
        else:
            leaf = t.detach()
            if need_graph:
                leaf.requires_grad_(True)
            fresh.append(leaf)
    return tuple(fresh)


def _detached(tensors, create_graph: bool):
    """Results without history unless create_graph asked for it (nested tuples too)."""
    if create_graph:
        return tensors
    return tuple(_detached(t, False) if isinstance(t, tuple) else t.detach() for t in tensors)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None) -> tuple:
    """``autograd.grad`` with allow_unused, skipping outputs that are None or have no graph (their
    gradient is zero); all None when none is left."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return _engine_grad([o for o, _ in kept], list(inputs), [g for _, g in kept],
                        retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


def _check_v(fn, v, refs, refs_are_tuple: bool, refs_name: str):
    """v must have one Tensor per reference, each of its shape."""
    if len(v) != len(refs):
        if refs_are_tuple:
            raise RuntimeError(f"{fn}: v has {len(v)} tensors, but the {refs_name} are a tuple of "
                               f"{len(refs)}: give one per {refs_name[:-1]}.")
        raise RuntimeError(f"{fn}: v must be a single Tensor, as the {refs_name} are; got a tuple "
                           f"of {len(v)}.")
    for k, (t, ref) in enumerate(zip(v, refs)):
        if t.shape != ref.shape:
            which = f"v[{k}]" if refs_are_tuple else "v"
            name = f"{refs_name[:-1]} {k}" if refs_are_tuple else refs_name[:-1]
            raise RuntimeError(f"{fn}: {which} has shape {t.shape}, but {name} has shape "
                               f"{ref.shape}: they must be equal.")


def _check_outputs_have_graph(fn, outputs, strict: bool) -> None:
    if not strict:
        return
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"{fn}: output {i} of the function does not require grad, so it "
                               "does not depend on the inputs; strict=True refuses that (leave "
                               "strict off to get zeros).")


def _zeros(like: Tensor) -> Tensor:
    return Tensor._from_op(np.zeros_like(like._data), None)


def _zeros_requiring_grad(like: Tensor) -> Tensor:
    return _zeros(like).requires_grad_(True)


def _fill_zeros(fn, grads, refs, strict: bool, create_graph: bool, independent: str) -> tuple:
    """None (no dependence) becomes zeros of the reference's shape, or an error under strict;
    ``independent`` is the sentence for that error, with {i} for the index."""
    filled = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: {independent.format(i=i)}; strict=True refuses that "
                                   "(leave strict off to get zeros).")
            g = _zeros(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"{fn}: the result for input {i} does not depend on the inputs, so "
                               "it cannot be differentiated again; strict=True with "
                               "create_graph=True refuses that.")
        filled.append(g)
    return tuple(filled)


def _refuse(fn: str, vectorize, strategy_name: str, strategy) -> None:
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"{fn}: {strategy_name} must be 'reverse-mode' or 'forward-mode'. Got "
                         f"{strategy!r} instead.")
    if strategy == "forward-mode":
        raise ValueError(f"{fn}: {strategy_name}='forward-mode' is not supported: chainrule has "
                         "reverse mode only. Leave it 'reverse-mode' (the same numbers).")
    if vectorize:
        raise ValueError(f"{fn}: vectorize=True (PyTorch's vmap batching of the rows) is not "
                         "supported: the rows are computed one at a time. Leave vectorize=False; "
                         "the result is the same.")


# --------------------------------------------------------------------------------------------
# The six functions
# --------------------------------------------------------------------------------------------


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: ``J[i..., j...] = d out[i...] / d in[j...]``.

    Shape ``out.shape + in.shape`` for one output and one input; a tuple over the inputs (or over
    the outputs) when one of them is a tuple; a tuple of tuples ``J[i][j]`` (output i, input j)
    when both are. Each entry has its input's dtype.

    Algorithm: for every element k of an output, one reverse pass with ``grad_outputs`` the one-hot
    e_k (the gradient of that element alone) gives row k: ``d out[k] / d in`` for every input.
    The rows are stacked and reshaped to ``out.shape + in.shape``. With ``create_graph=True`` the
    passes are recorded and the stacking is a chainrule op, so the Jacobian can be differentiated
    (``hessian`` does exactly that).

    >>> x = chainrule.tensor([1.0, 2.0], dtype="float64")
    >>> jacobian(lambda x: x * x, x)            # diag(2x)
    tensor([[2., 0.],
            [0., 4.]], dtype=float64)
    """
    _refuse("jacobian", vectorize, "strategy", strategy)
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "jacobian")
        _check_outputs_have_graph("jacobian", outputs, strict)

        result = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]  # rows[j]: d out[k] / d input j, for k = 0, 1, ...
            for k in range(out.numel()):
                one_hot = np.zeros(out._data.size, dtype=out._data.dtype)
                one_hot[k] = 1
                seed = Tensor._from_op(one_hot.reshape(out.shape), None)
                grads = _grad((out,), inputs, (seed,), create_graph=create_graph, retain_graph=True)
                for j, (g, x) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"jacobian: output {i} of the function does not depend on input "
                                f"{j}; strict=True refuses that (leave strict off to get zeros)."
                            )
                        g = _zeros(x)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            f"jacobian: the Jacobian of output {i} with respect to input {j} does "
                            "not depend on the inputs, so it cannot be differentiated again; "
                            "strict=True with create_graph=True refuses that."
                        )
                    rows[j].append(g)
            result.append(tuple(_assemble(r, out, x, create_graph) for r, x in zip(rows, inputs)))
    result = tuple(_detached(row, create_graph) for row in result)
    return _unpack(result, (outputs_tuple, inputs_tuple))


def _assemble(rows, out: Tensor, x: Tensor, create_graph: bool) -> Tensor:
    """The rows d out[k] / d x, k = 0, 1, ..., as one Tensor of shape out.shape + x.shape."""
    from ..functions import stack

    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:  # an output with no elements
        return Tensor._from_op(np.zeros(shape, dtype=x._data.dtype), None)
    if len(rows) == 1 and out.ndim == 0:  # one number out: the Jacobian is the gradient itself
        return rows[0]
    if create_graph:
        return stack(rows).reshape(shape)
    return Tensor._from_op(np.stack([r._data for r in rows]).reshape(shape), None)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: ``H[i..., j...] = d^2 f / d x[i...] d x[j...]``.

    ``func`` returns a Tensor with one element. For one input x, shape ``x.shape + x.shape``; for a
    tuple of inputs, a tuple of tuples with ``H[i][j] = d^2 f / d in_i d in_j`` of shape
    ``in_i.shape + in_j.shape``.

    Algorithm: the Jacobian of the gradient. The gradient g(x) = df/dx is computed with
    ``create_graph=True`` (every op's ``backward_graph`` records it as a graph of its own), and
    ``jacobian`` differentiates that graph once per element of g: row k is d g[k] / dx. (PyTorch
    computes g as ``jacobian`` of f; for one number out that is the same gradient.)

    >>> x = chainrule.tensor([1.0, 2.0], dtype="float64")
    >>> hessian(lambda x: (x * x * x).sum(), x)  # diag(6x)
    tensor([[ 6.,  0.],
            [ 0., 12.]], dtype=float64)
    """
    _refuse("hessian", vectorize, "outer_jacobian_strategy", outer_jacobian_strategy)
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*xs):
        out = func(*xs)
        _, outs = _as_tuple(out, "the function's output", "hessian")
        _check_outputs_have_graph("hessian", outs, strict)
        if isinstance(out, tuple):
            raise RuntimeError(f"hessian: the function must return a single Tensor, not a tuple of "
                               f"{len(out)}.")
        if out.numel() != 1:
            raise RuntimeError(f"hessian: the function must return a Tensor with one element. Got "
                               f"shape {out.shape} instead.")
        return out if out.ndim == 0 else out.reshape(())

    def gradient(*xs):  # g = df/dx for every input, recorded (create_graph) so it can be differentiated
        with enable_grad():
            grads = _grad((scalar_func(*xs),), xs, create_graph=True)
        result = []
        for i, (g, x) in enumerate(zip(grads, xs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"hessian: the function does not depend on input {i}; "
                                       "strict=True refuses that (leave strict off to get zeros).")
                g = _zeros(x)
            elif strict and not g.requires_grad:
                raise RuntimeError(f"hessian: the gradient with respect to input {i} does not "
                                   "depend on the inputs (is the function linear in it?); "
                                   "strict=True refuses that (leave strict off to get zeros).")
            result.append(g)
        return tuple(result)

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return _unpack(result, (inputs_tuple, inputs_tuple))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product, one reverse pass.

    ``v`` has the output's shape (a tuple of them for a tuple of outputs); it may be left out when
    the output is one Tensor with one element (v = 1, which gives the gradient). The product has the
    inputs' shapes: ``sum_k v[k] * d out[k] / d in``.
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "vjp")
        _check_outputs_have_graph("vjp", outputs, strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _fresh(v, create_graph, need_graph=False)
            _check_v("vjp", v, outputs, outputs_tuple, "outputs")
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("vjp: v may be left out only when the function returns a single "
                               "Tensor with one element; give v with the output's shape.")
    grads = _grad(outputs, inputs, v, create_graph=create_graph)
    product = _fill_zeros("vjp", grads, inputs, strict, create_graph,
                          "the output does not depend on input {i}")
    return (_unpack(_detached(outputs, create_graph), outputs_tuple),
            _unpack(_detached(product, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick.

    ``v`` has the inputs' shapes; it may be left out when the input is one Tensor with one element.

    chainrule has reverse mode only, so J v is found with two reverse passes (as PyTorch's
    ``autograd.functional.jvp`` does): for an output gradient u that requires grad,
    g(u) = J^T u is linear in u, and its vector-Jacobian product with v is
    d(v . J^T u)/du = J v. The first pass computes g(u) with ``create_graph=True`` (u = 0 is
    enough: g's derivative in u does not depend on u), the second differentiates it with respect
    to u with ``grad_outputs=v``. Every op in ``func`` must therefore be twice differentiable.
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, need_graph=True)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _fresh(v, create_graph, need_graph=False)
            _check_v("jvp", v, inputs, inputs_tuple, "inputs")
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("jvp: v may be left out only when the input is a single Tensor with "
                               "one element; give v with the inputs' shapes.")
        outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "jvp")
        _check_outputs_have_graph("jvp", outputs, strict)
        u = tuple(_zeros_requiring_grad(out) for out in outputs)  # J^T u is linear in u
        transposed = _grad(outputs, inputs, u, create_graph=True)  # g(u) = J^T u, recorded
        if strict:
            for i, g in enumerate(transposed):
                if g is None or not g.requires_grad:
                    raise RuntimeError(f"jvp: the gradient with respect to input {i} does not "
                                       "depend on the output gradient; strict=True refuses that "
                                       "(leave strict off to get zeros).")
    grads = _grad(transposed, u, v, create_graph=create_graph)  # d(v . J^T u)/du = J v
    product = _fill_zeros("jvp", grads, outputs, strict, create_graph,
                          "output {i} does not depend on the inputs")
    return (_unpack(_detached(outputs, create_graph), outputs_tuple),
            _unpack(_detached(product, create_graph), outputs_tuple))


def _scalar_outputs(fn, func, inputs, strict):
    outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's output", fn)
    _check_outputs_have_graph(fn, outputs, strict)
    if outputs_tuple:
        raise RuntimeError(f"{fn}: the function must return a single Tensor, not a tuple of "
                           f"{len(outputs)}.")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"{fn}: the function must return a Tensor with one element. Got shape "
                           f"{outputs[0].shape} instead.")
    return outputs


def _hessian_inputs(fn, inputs, v, create_graph):
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _fresh(inputs, create_graph, need_graph=True)
    if v is not None:
        _, v = _as_tuple(v, "v", fn)
        v = _fresh(v, create_graph, need_graph=False)
        _check_v(fn, v, inputs, inputs_tuple, "inputs")
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError(f"{fn}: v may be left out only when the input is a single Tensor with "
                           "one element; give v with the inputs' shapes.")
    return inputs_tuple, inputs, v


def _check_gradient_has_graph(fn, gradient, strict):
    if not strict:
        return
    for i, g in enumerate(gradient):
        if g is None:
            raise RuntimeError(f"{fn}: the output does not depend on input {i}; strict=True "
                               "refuses that (leave strict off to get zeros).")
        if not g.requires_grad:
            raise RuntimeError(f"{fn}: the gradient with respect to input {i} does not depend on "
                               "the inputs (is the function linear in it?); strict=True refuses "
                               "that (leave strict off to get zeros).")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar function: the gradient of the gradient, weighted.

    The gradient g = df/dx is computed with ``create_graph=True``; one more reverse pass with
    ``grad_outputs=v`` gives d(v . g)/dx = v^T H. ``v`` has the inputs' shapes.
    """
    with enable_grad():
        inputs_tuple, inputs, v = _hessian_inputs("vhp", inputs, v, create_graph)
        outputs = _scalar_outputs("vhp", func, inputs, strict)
        gradient = _grad(outputs, inputs, create_graph=True)  # g = df/dx, recorded
        _check_gradient_has_graph("vhp", gradient, strict)
    grads = _grad(gradient, inputs, v, create_graph=create_graph)  # d(v . g)/dx = v^T H
    product = _fill_zeros("vhp", grads, inputs, strict, create_graph,
                          "the gradient does not depend on input {i}")
    return (_unpack(_detached(outputs, create_graph), False),
            _unpack(_detached(product, create_graph), inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar function, by the double-vjp trick on the gradient.

    The gradient g = df/dx is computed with ``create_graph=True``; then h(w) = d(w . g)/dx = H^T w
    for an auxiliary w that requires grad (recorded, w = 0), and a last pass with
    ``grad_outputs=v`` differentiates h with respect to w: d(v . H^T w)/dw = H v. For a twice
    continuously differentiable f, H is symmetric and ``hvp`` equals ``vhp``, which is one pass
    cheaper.
    """
    with enable_grad():
        inputs_tuple, inputs, v = _hessian_inputs("hvp", inputs, v, create_graph)
        outputs = _scalar_outputs("hvp", func, inputs, strict)
        gradient = _grad(outputs, inputs, create_graph=True)  # g = df/dx, recorded
        _check_gradient_has_graph("hvp", gradient, strict)
        w = tuple(_zeros_requiring_grad(x) for x in inputs)
        transposed = _grad(gradient, inputs, w, create_graph=True)  # h(w) = H^T w, recorded
    grads = _grad(transposed, w, v, create_graph=create_graph)  # d(v . H^T w)/dw = H v
    product = _fill_zeros("hvp", grads, inputs, strict, create_graph,
                          "the Hessian does not depend on input {i}")
    return (_unpack(_detached(outputs, create_graph), False),
            _unpack(_detached(product, create_graph), inputs_tuple))
