"""gradcheck: compare hand-written backward passes with finite differences, entry by entry.

For a function f of some tensors, backward gives the Jacobian J[j, i] = d out_j / d in_i one row at a
time (the gradient of out_j alone). Central finite differences give the same numbers independently:

    J[j, i] ~ (f(in + eps e_i)_j - f(in - eps e_i)_j) / (2 eps)

with an error of order eps^2. If the two disagree anywhere beyond atol + rtol * |numerical|, a
derivative is wrong, and the message names every input whose gradient is wrong, each with its worst
element and both values there. The seed network's hidden layer with the seed's derivative
(``chainrule.handwritten.SeedSigmoidLayer``, x as data, W and b checked):

    >>> chainrule.gradcheck(SeedSigmoidLayer.apply, (x, w, b))
    GradcheckError: gradcheck: the gradients of 2 inputs are wrong (atol 1e-05, rtol 0.001):
      input 1 (shape (10, 2)): 1000 of 1000 Jacobian entries wrong; worst at element (5, 0) for
      output element (3, 8): numerical 0, analytical 3.03243 (max difference 3.03)
      input 2 (shape (10,)): 499 of 500 Jacobian entries wrong; worst at element (5,) for output
      element (0, 8): numerical 0, analytical 0.465097 (max difference 0.465)

Numerical 0 where backward says 3.03: weight row 5 cannot move hidden unit 8, yet the matrix product
Hᵀ(1 - H) mixed every unit into every other. ``SigmoidLayer`` (H * (1 - H) element-wise) passes.

Run it in float64: in float32 the finite differences themselves are too noisy to judge anything.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .backend import contiguous, to_device, to_numpy, zeros_on
from .autograd import enable_grad, no_grad
from .tensor import Tensor

__all__ = [
    "gradcheck", "gradcheck_module", "check_gradients", "check_module_gradients",
    "gradgradcheck", "check_second_derivatives",
    "GradcheckError", "GradcheckResult", "InputMismatch",
]


class GradcheckError(RuntimeError):
    """A backward pass disagrees with finite differences."""


@dataclass
class InputMismatch:
    """Where one input's gradient disagrees most with finite differences."""

    index: int  # position among the inputs (for a module's parameters: among the checked tensors)
    name: str  # "input 1" or "parameter '0.weight'"
    shape: tuple
    element: tuple  # the input element whose derivative is worst
    output_element: tuple  # ... for this output element
    numerical: float
    analytical: float
    max_abs_error: float  # the largest |analytical - numerical| over this input's whole Jacobian
    bad_entries: int  # how many Jacobian entries are outside the tolerance
    entries: int  # how many there are

    def describe(self) -> str:
        return (
            f"{self.name} (shape {self.shape}): {self.bad_entries} of {self.entries} Jacobian "
            f"entries wrong; worst at element {self.element} for output element "
            f"{self.output_element}: numerical {self.numerical:.6g}, analytical "
            f"{self.analytical:.6g} (max difference {self.max_abs_error:.3g})"
        )


@dataclass
class GradcheckResult:
    """What a check found: ``mismatches`` has one entry per input whose gradient is wrong, in input
    order; the flat fields repeat the worst of them (the one furthest outside the tolerance)."""

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
    mismatches: list = field(default_factory=list)

    def message(self) -> str:
        if self.ok:
            return f"gradcheck passed (largest difference {self.max_abs_error:.3g})."
        if len(self.mismatches) == 1:
            (m,) = self.mismatches
            return (
                f"gradcheck: the gradient of {m.name} (shape {m.shape}) is wrong at element "
                f"{m.element} for output element {m.output_element}: numerical {m.numerical:.6g}, "
                f"analytical {m.analytical:.6g} (max difference {m.max_abs_error:.3g}; "
                f"atol {self.atol:g}, rtol {self.rtol:g})."
            )
        lines = [
            f"gradcheck: the gradients of {len(self.mismatches)} inputs are wrong "
            f"(atol {self.atol:g}, rtol {self.rtol:g}):"
        ]
        lines += [f"  {m.describe()}" for m in self.mismatches]
        return "\n".join(lines)


def _as_output_tensor(out) -> Tensor:
    if isinstance(out, Tensor):
        return out
    raise TypeError(f"gradcheck: the function must return a Tensor. Got {type(out).__name__} instead.")


def _analytical_jacobians(run, leaves, out_shape, out_dtype):
    """One backward per output element: row j of each input's Jacobian is d out_j / d input.

    Through ``autograd.grad``, which returns the gradients without touching any ``.grad``: an
    input may be a leaf or a tensor made by an op (``x.clone()``) alike."""
    from .autograd import grad

    out_size = int(np.prod(out_shape))
    jacobians = [np.zeros((out_size, leaf._data.size)) for leaf in leaves]
    for j in range(out_size):
        with enable_grad():
            out = _as_output_tensor(run())
        if not out.requires_grad:
            break  # output does not depend on any input: all-zero Jacobian
        seed = np.zeros(out_size, dtype=out_dtype)
        seed[j] = 1
        grads = grad(out, leaves, seed.reshape(out_shape), allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                jacobians[k][j] = to_numpy(g._data).reshape(-1)
    return jacobians


def _numerical_jacobians(run, leaves, eps):
    """Central differences: column i of each leaf's Jacobian from perturbing element i by +-eps."""
    jacobians = []
    with no_grad():
        for leaf in leaves:
            flat = leaf._data.reshape(-1)  # a view: perturbing it perturbs the leaf
            if not np.shares_memory(flat, leaf._data):
                raise RuntimeError("gradcheck: leaf data must be contiguous to be perturbed.")
            columns = []
            for i in range(flat.size):
                original = flat[i].copy()  # a copy: on a GPU flat[i] is a view
                flat[i] = original + eps
                plus = to_numpy(run()._data).astype(np.float64).reshape(-1)
                flat[i] = original - eps
                minus = to_numpy(run()._data).astype(np.float64).reshape(-1)
                flat[i] = original
                columns.append((plus - minus) / (2 * eps))
            jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((0, 0)))
    return jacobians


def _check(run, leaves, names, indices, eps, atol, rtol) -> GradcheckResult:
    for name, leaf in zip(names, leaves):
        if leaf._data.dtype != np.float64:
            warnings.warn(
                f"gradcheck: {name} is {leaf._data.dtype}; finite differences need float64 to be "
                "trusted (convert with .double()).",
                stacklevel=3,
            )
        if not leaf._data.flags.c_contiguous:
            leaf._data = contiguous(leaf._data)
    saved_grads = [leaf.grad for leaf in leaves]
    try:
        with no_grad():
            probe = _as_output_tensor(run())
        out_shape, out_dtype = probe.shape, probe._data.dtype
        analytical = _analytical_jacobians(run, leaves, out_shape, out_dtype)
        numerical = _numerical_jacobians(run, leaves, eps)
    finally:
        for leaf, grad in zip(leaves, saved_grads):
            leaf.grad = grad

    result = GradcheckResult(ok=True, max_abs_error=0.0, atol=atol, rtol=rtol)
    worst_excess = -np.inf
    for k, (a, n) in enumerate(zip(analytical, numerical)):
        if a.size == 0:
            continue
        mismatch, excess = _compare(a, n, atol, rtol)
        diff = np.abs(a - n)
        if np.isfinite(diff).any():
            result.max_abs_error = max(result.max_abs_error, float(np.nanmax(diff)))
        if mismatch is None:
            continue
        shape = leaves[k]._data.shape
        j, i = mismatch
        found = InputMismatch(
            index=indices[k],
            name=names[k],
            shape=shape,
            element=tuple(int(v) for v in np.unravel_index(i, shape)) if shape else (),
            output_element=tuple(int(v) for v in np.unravel_index(j, out_shape)) if out_shape else (),
            numerical=float(n[j, i]),
            analytical=float(a[j, i]),
            max_abs_error=float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))),
            bad_entries=int(np.count_nonzero(excess > 0)),
            entries=int(a.size),
        )
        result.ok = False
        result.mismatches.append(found)
        if excess[j, i] > worst_excess:
            worst_excess = excess[j, i]
            result.input_index = found.index
            result.input_name = found.name
            result.input_shape = found.shape
            result.input_element = found.element
            result.output_element = found.output_element
            result.numerical = found.numerical
            result.analytical = found.analytical
    return result


def _compare(analytical, numerical, atol, rtol):
    """The worst (row, column) of one Jacobian outside ``atol + rtol * |numerical|`` (None when
    every entry is inside), and the excess over the tolerance of every entry (inf where exactly one
    of the two is NaN, so a NaN gradient always fails)."""
    diff = np.abs(analytical - numerical)
    excess = diff - (atol + rtol * np.abs(numerical))
    one_nan = np.isnan(analytical) != np.isnan(numerical)
    excess = np.where(one_nan, np.inf, np.nan_to_num(excess, nan=-np.inf, posinf=np.inf))
    j, i = np.unravel_index(int(np.argmax(excess)), excess.shape)
    if excess[j, i] <= 0:
        return None, excess
    return (j, i), excess


def _check_tolerances(eps, atol, rtol) -> None:
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"gradcheck: '{name}' must be a number >= 0. Got {value!r} instead.")
    if eps == 0:
        raise ValueError("gradcheck: 'eps' must be > 0 (it is the finite-difference step). Got 0.")


def _as_tuple(inputs) -> tuple:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> GradcheckResult:
    """Like ``gradcheck`` but returns the GradcheckResult: ``ok``, the largest difference, and one
    InputMismatch per input whose gradient is wrong."""
    _check_tolerances(eps, atol, rtol)
    inputs = _as_tuple(inputs)
    indices = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not indices:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check.")
    leaves = [inputs[i] for i in indices]
    names = [f"input {i}" for i in indices]
    return _check(lambda: fn(*inputs), leaves, names, indices, eps, atol, rtol)


def check_module_gradients(module, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> GradcheckResult:
    """Like ``gradcheck_module`` but returns the GradcheckResult. Inputs that require grad are
    named 'input i', parameters "parameter '0.weight'" (their index counts after the inputs)."""
    _check_tolerances(eps, atol, rtol)
    inputs = _as_tuple(inputs)
    leaves, names = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            leaves.append(x)
            names.append(f"input {i}")
    for name, param in module.named_parameters():
        if param.requires_grad:
            leaves.append(param)
            names.append(f"parameter '{name}'")
    if not leaves:
        raise ValueError("gradcheck_module: no parameter or input requires grad, so there is nothing "
                         "to check.")
    return _check(lambda: module(*inputs), leaves, names, list(range(len(leaves))), eps, atol, rtol)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check ``fn``'s backward against central finite differences, for every input that requires
    grad and every element of the output (the full Jacobian).

    Algorithm: for each output element j, one backward of a one-hot upstream gradient e_j gives row
    j of every input's Jacobian; for each input element i, two forwards at +-eps give column i.
    The full Jacobian matters: a check through sum(fn(x)) sees only the column sums, and misses a
    softmax backward that is wrong everywhere except in that sum.

    Returns True when all entries agree within ``atol + rtol * |numerical|``. Otherwise raises a
    GradcheckError (or returns False when ``raise_exception=False``) whose message names every
    input whose gradient is wrong, each with its worst element, the numerical and the analytical
    value there and the largest difference. Inputs should be float64 (a warning says so if not).
    """
    result = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol)
    if not result.ok and raise_exception:
        raise GradcheckError(result.message())
    return result.ok


def gradcheck_module(module, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """gradcheck for a Module: checks the gradients of its parameters, named as in
    ``named_parameters()`` ("parameter '0.weight'"), and of every input that requires grad.
    Convert the module and the inputs to float64 first (``model.double()``)."""
    result = check_module_gradients(module, inputs, eps=eps, atol=atol, rtol=rtol)
    if not result.ok and raise_exception:
        raise GradcheckError(result.message())
    return result.ok


def check_second_derivatives(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                             seed: int = 0) -> GradcheckResult:
    """Like ``gradgradcheck`` but returns the GradcheckResult (inputs named 'input i', the upstream
    gradient 'grad_outputs')."""
    from .autograd import grad
    from .functions import cat

    _check_tolerances(eps, atol, rtol)
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check.")
    with no_grad():
        probe = _as_output_tensor(fn(*inputs))
    if grad_outputs is None:  # random, not ones: a sum hides errors that cancel
        upstream = np.random.default_rng(seed).standard_normal(probe.shape)
        grad_outputs = Tensor._from_op(to_device(upstream.astype(probe._data.dtype), probe.device), None)
        grad_outputs.requires_grad_(True)
    elif not isinstance(grad_outputs, Tensor) or grad_outputs.shape != probe.shape:
        raise ValueError(f"gradgradcheck: grad_outputs must be a Tensor of the output's shape "
                         f"{probe.shape}.")
    n = len(inputs)

    def first_gradients(*args):  # d<fn(x), v>/dx, recorded: its gradient is the second derivative
        xs, v = args[:n], args[n]
        with enable_grad():
            out = fn(*xs)
            if not out.requires_grad:
                return Tensor._from_op(zeros_on(xs[0], sum(xs[i]._data.size for i in diff), np.float64), None)
            grads = grad(out, [xs[i] for i in diff], grad_outputs=v, create_graph=True,
                         allow_unused=True)
        parts = [(g if g is not None else Tensor._from_op(np.zeros_like(xs[i]._data), None)).reshape(-1)
                 for i, g in zip(diff, grads)]
        return cat(parts) if len(parts) > 1 else parts[0]

    all_inputs = (*inputs, grad_outputs)
    leaves = [all_inputs[i] for i in diff] + ([grad_outputs] if grad_outputs.requires_grad else [])
    names = [f"input {i}" for i in diff] + (["grad_outputs"] if grad_outputs.requires_grad else [])
    indices = diff + ([n] if grad_outputs.requires_grad else [])
    return _check(lambda: first_gradients(*all_inputs), leaves, names, indices, eps, atol, rtol)


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True) -> bool:
    """Check the second derivatives of ``fn`` against finite differences of its first derivatives.

    The first derivative is computed with ``autograd.grad(fn(x), x, grad_outputs=v,
    create_graph=True)`` for a random upstream gradient v (which also requires grad): that is a
    function of x and v whose own backward runs every op's ``backward_graph``. ``gradcheck`` of
    that function (full Jacobian, central differences) then checks the derivative of the derivative
    with respect to every input and to v, and the message points at the worst entry. Use float64.

    >>> x = chainrule.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    >>> chainrule.autograd.gradgradcheck(lambda x: x.sigmoid(), (x,))
    True
    """
    result = check_second_derivatives(fn, inputs, grad_outputs, eps=eps, atol=atol, rtol=rtol)
    if not result.ok and raise_exception:
        raise GradcheckError(result.message().replace("gradcheck:", "gradgradcheck:", 1))
    return result.ok
