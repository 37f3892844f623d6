"""gradcheck: compare hand-written backward passes with finite differences, entry by entry.

For a function f of some tensors, backward gives the Jacobian J[j, i] = d out_j / d in_i one row at a
time (the gradient of out_j alone). Central finite differences give the same numbers independently:

    J[j, i] ~ (f(in + eps e_i)_j - f(in - eps e_i)_j) / (2 eps)

with an error of order eps^2. If the two disagree anywhere beyond atol + rtol * |numerical|, a
derivative is wrong, and the message names the input, the element and both values:

    >>> chainrule.gradcheck(my_layer, (x, w, b))
    GradcheckError: gradcheck: the gradient of input 1 (shape (10, 2)) is wrong at element (3, 0)
    for output element (5, 0): numerical 0.0123, analytical 0.5821 (difference 0.5698; atol 1e-05,
    rtol 0.001).

Run it in float64: in float32 the finite differences themselves are too noisy to judge anything.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .autograd import enable_grad, no_grad
from .tensor import Tensor

__all__ = ["gradcheck", "gradcheck_module", "check_gradients", "GradcheckError", "GradcheckResult"]


class GradcheckError(RuntimeError):
    """A backward pass disagrees with finite differences."""


@dataclass
class GradcheckResult:
    """What a check found. ``worst`` describes the largest disagreement over all inputs."""

    ok: bool
    max_abs_error: float
    input_index: int = -1
    input_name: str = ""
    input_shape: tuple = ()
    input_element: tuple = ()
    output_element: tuple = ()
    numerical: float = 0.0
    analytical: float = 0.0
    atol: float = 0.0
    rtol: float = 0.0

    def message(self) -> str:
        if self.ok:
            return f"gradcheck passed (largest difference {self.max_abs_error:.3g})."
        return (
            f"gradcheck: the gradient of {self.input_name} (shape {self.input_shape}) is wrong at "
            f"element {self.input_element} for output element {self.output_element}: numerical "
            f"{self.numerical:.6g}, analytical {self.analytical:.6g} (difference "
            f"{abs(self.numerical - self.analytical):.3g}; atol {self.atol:g}, rtol {self.rtol:g})."
        )


def _as_output_tensor(out) -> Tensor:
    if isinstance(out, Tensor):
        return out
    raise TypeError(f"gradcheck: the function must return a Tensor. Got {type(out).__name__} instead.")


def _analytical_jacobians(run, leaves, out_shape, out_dtype):
    """One backward per output element: row j of each leaf's Jacobian is d out_j / d leaf."""
    out_size = int(np.prod(out_shape))
    jacobians = [np.zeros((out_size, leaf.data.size)) for leaf in leaves]
    for j in range(out_size):
        for leaf in leaves:
            leaf.grad = None
        with enable_grad():
            out = _as_output_tensor(run())
        if not out.requires_grad:
            break  # output does not depend on any leaf: all-zero Jacobian
        seed = np.zeros(out_size, dtype=out_dtype)
        seed[j] = 1
        out.backward(seed.reshape(out_shape))
        for k, leaf in enumerate(leaves):
            if leaf.grad is not None:
                jacobians[k][j] = leaf.grad.data.reshape(-1)
    return jacobians


def _numerical_jacobians(run, leaves, eps):
    """Central differences: column i of each leaf's Jacobian from perturbing element i by +-eps."""
    jacobians = []
    with no_grad():
        for leaf in leaves:
            flat = leaf.data.reshape(-1)  # a view: perturbing it perturbs the leaf
            if not np.shares_memory(flat, leaf.data):
                raise RuntimeError("gradcheck: leaf data must be contiguous to be perturbed.")
            columns = []
            for i in range(flat.size):
                original = flat[i]
                flat[i] = original + eps
                plus = np.array(run().data, dtype=np.float64).reshape(-1)
                flat[i] = original - eps
                minus = np.array(run().data, dtype=np.float64).reshape(-1)
                flat[i] = original
                columns.append((plus - minus) / (2 * eps))
            jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((0, 0)))
    return jacobians


def _check(run, leaves, names, eps, atol, rtol) -> GradcheckResult:
    for name, leaf in zip(names, leaves):
        if leaf.data.dtype != np.float64:
            warnings.warn(
                f"gradcheck: {name} is {leaf.data.dtype}; finite differences need float64 to be "
                "trusted (convert with .double()).",
                stacklevel=3,
            )
        if not leaf.data.flags.c_contiguous:
            leaf.data = np.ascontiguousarray(leaf.data)
    saved_grads = [leaf.grad for leaf in leaves]
    try:
        with no_grad():
            probe = _as_output_tensor(run())
        out_shape, out_dtype = probe.shape, probe.data.dtype
        analytical = _analytical_jacobians(run, leaves, out_shape, out_dtype)
        numerical = _numerical_jacobians(run, leaves, eps)
    finally:
        for leaf, grad in zip(leaves, saved_grads):
            leaf.grad = grad

    result = GradcheckResult(ok=True, max_abs_error=0.0, atol=atol, rtol=rtol)
    worst_excess = 0.0
    for k, (a, n) in enumerate(zip(analytical, numerical)):
        if a.size == 0:
            continue
        diff = np.abs(a - n)
        excess = np.nan_to_num(diff - (atol + rtol * np.abs(n)), nan=-np.inf)
        result.max_abs_error = max(result.max_abs_error, float(np.nanmax(diff)))
        bad = np.isnan(a) != np.isnan(n)
        j, i = np.unravel_index(int(np.argmax(np.where(bad, np.inf, excess))), a.shape)
        if bad[j, i] or excess[j, i] > worst_excess:
            worst_excess = np.inf if bad[j, i] else float(excess[j, i])
            shape = leaves[k].data.shape
            result.ok = False
            result.input_index = k
            result.input_name = names[k]
            result.input_shape = shape
            result.input_element = tuple(int(v) for v in np.unravel_index(i, shape)) if shape else ()
            result.output_element = (
                tuple(int(v) for v in np.unravel_index(j, out_shape)) if out_shape else ()
            )
            result.numerical = float(n[j, i])
            result.analytical = float(a[j, i])
    return result


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> GradcheckResult:
    """Like ``gradcheck`` but returns a GradcheckResult describing the worst disagreement."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    indices = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not indices:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check.")
    leaves = [inputs[i] for i in indices]
    names = [f"input {i}" for i in indices]
    return _check(lambda: fn(*inputs), leaves, names, eps, atol, rtol)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check ``fn``'s backward against central finite differences, for every input that requires
    grad and every element of the output (the full Jacobian).

    Returns True when all entries agree within ``atol + rtol * |numerical|``. Otherwise raises a
    GradcheckError naming the input, the worst element, the numerical and the analytical value (or
    returns False when ``raise_exception=False``). Inputs should be float64.
    """
    result = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol)
    if not result.ok and raise_exception:
        raise GradcheckError(result.message())
    return result.ok


def gradcheck_module(module, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """gradcheck for a Module: checks the gradients of its parameters (by name) and of every input
    that requires grad. Convert the module with ``.double()`` first."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    leaves, names = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            leaves.append(x)
            names.append(f"input {i}")
    for name, p in module.named_parameters():
        if p.requires_grad:
            leaves.append(p)
            names.append(f"parameter '{name}'")
    if not leaves:
        raise ValueError("gradcheck_module: no parameter or input requires grad.")
    result = _check(lambda: module(*inputs), leaves, names, eps, atol, rtol)
    if not result.ok and raise_exception:
        raise GradcheckError(result.message())
    return result.ok
