"""Tensor factories, as PyTorch's: constant ones (zeros, ones, full, empty, eye), ranges (arange,
linspace, logspace), random ones (rand, randn, randint, randperm, normal, bernoulli, multinomial),
their ``*_like`` variants, and ``from_numpy``/``as_tensor``, which share memory with NumPy.

Every factory takes ``dtype=``, ``device=`` ('cpu', or 'cuda' where a GPU is; see
``chainrule.device``; a ``*_like`` defaults to its input's device) and,
where PyTorch does, ``requires_grad=``. Floating results default to the default dtype (float32
unless ``chainrule.set_default_dtype`` changed it); integer ranges and indices are int64.

Random factories draw from ``generator=`` (a ``chainrule.Generator``) or, by default, from the
global generator that ``chainrule.manual_seed`` seeds. The numbers are NumPy's, so a seed gives the
same numbers in chainrule every time, but not the ones PyTorch draws with that seed. They are
drawn on the host and copied to the device asked for, so a seed gives the same numbers on 'cuda'
as on the CPU.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import dtypes
from .backend import array_module, to_device, to_numpy
from .device import check_device
from .random import numpy_generator
from .tensor import Tensor, _resolve_dtype, _size_argument, _to_array

__all__ = [
    "zeros", "ones", "full", "empty", "eye", "arange", "linspace", "logspace",
    "zeros_like", "ones_like", "full_like", "empty_like",
    "rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial",
    "rand_like", "randn_like", "randint_like", "from_numpy", "as_tensor",
]


def _make(op, array, device, requires_grad, like=None) -> Tensor:
    """A new leaf on ``device`` (None: like's device, else the default one), once the device is
    known to exist. ``array`` is a host array (random numbers, drawn on the host so that a seed
    gives the same numbers on every device), or a function of the device's array library that
    makes it there (zeros, ranges: nothing copied from the host)."""
    device = like.device if device is None and isinstance(like, Tensor) else check_device(op, device)
    if callable(array):
        array = array(array_module(device))
    t = Tensor._from_op(to_device(array, device), None)
    return t.requires_grad_(True) if requires_grad else t


def _floating_dtype(op, dtype):
    """``dtype`` (default: the default dtype), refused unless floating: rand of int64 has no meaning."""
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating-point dtype. Got {dtype} instead.")
    return dtype


def _check_int(op, name, value, minimum=None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int. Got {value!r} instead.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}. Got {value} instead.")
    return int(value)


def _like(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor. Got {type(input).__name__} instead.")
    return input


# ----- constant tensors ---------------------------------------------------------------------------
def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    shape = _size_argument("zeros", size)
    return _make("zeros", lambda xp: xp.zeros(shape, dtype=dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    shape = _size_argument("ones", size)
    return _make("ones", lambda xp: xp.ones(shape, dtype=dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor to be filled in. PyTorch leaves its values undefined; chainrule gives zeros."""
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    shape = _size_argument("empty", size)
    return _make("empty", lambda xp: xp.zeros(shape, dtype=dtype), device, requires_grad)


def _fill_dtype(fill_value):
    """The dtype PyTorch gives ``full`` without a dtype: bool, int64, the default float or complex."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(fill_value, numbers.Integral):
        return dtypes.int64
    if isinstance(fill_value, numbers.Real):
        return dtypes.get_default_dtype()
    if isinstance(fill_value, numbers.Complex):
        return dtypes.default_complex_dtype()
    raise TypeError(f"full: fill_value must be a number. Got {type(fill_value).__name__} instead.")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value (bool, int64, the
    default float) unless ``dtype`` is given."""
    shape = _size_argument("full", (size,) if isinstance(size, (tuple, list)) else (size,))
    dtype = _resolve_dtype(dtype) or _fill_dtype(fill_value)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _make("full", lambda xp: xp.full(shape, value, dtype=dtype), device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m defaults to n): ones on the diagonal, zeros elsewhere."""
    n = _check_int("eye", "n", n, 0)
    m = n if m is None else _check_int("eye", "m", m, 0)
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    return _make("eye", lambda xp: xp.eye(n, m, dtype=dtype), device, requires_grad)


# ----- ranges -------------------------------------------------------------------------------------
def _check_real(op, name, value):
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number. Got {value!r} instead.")
    if not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite. Got {value} instead.")
    return value


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Numbers from start (inclusive) to end (exclusive) by step: ``arange(5)``, ``arange(1, 4)``,
    ``arange(0, 1, 0.25)``. All-int arguments give int64, any float the default dtype."""
    if end is None:
        start, end = 0, start
    start, end, step = (_check_real("arange", name, value)
                        for name, value in (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise ValueError("arange: step must be nonzero. Got 0 instead.")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: end {end} cannot be reached from start {start} by step {step}; the step's "
            "sign must be that of end - start."
        )
    if dtype is None:
        is_float = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else dtypes.int64
    dtype = _resolve_dtype(dtype)
    if all(isinstance(v, numbers.Integral) for v in (start, end, step)):  # exact, however large
        return _make("arange", lambda xp: xp.arange(start, end, step, dtype=np.int64).astype(
            dtype, copy=False), device, requires_grad)
    # start + i * step in float64, then rounded once to the dtype
    values = start + step * np.arange(max(0, math.ceil((end - start) / step)), dtype=np.float64)
    return _make("arange", values.astype(dtype), device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced numbers from start to end, both included."""
    start, end = _check_real("linspace", "start", start), _check_real("linspace", "end", end)
    steps = _check_int("linspace", "steps", steps, 0)
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    values = np.linspace(start, end, steps, dtype=np.float64)
    return _make("linspace", values.astype(dtype), device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` numbers base ** x for x evenly spaced from start to end, both included."""
    start, end = _check_real("logspace", "start", start), _check_real("logspace", "end", end)
    steps = _check_int("logspace", "steps", steps, 0)
    base = _check_real("logspace", "base", base)
    dtype = _resolve_dtype(dtype) or dtypes.get_default_dtype()
    values = np.power(float(base), np.linspace(start, end, steps, dtype=np.float64))
    return _make("logspace", values.astype(dtype), device, requires_grad)


# ----- *_like: the input's shape, and its dtype unless dtype= says otherwise ----------------------
def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    data = input._data if isinstance(input, Tensor) else np.asarray(input)
    dtype = _resolve_dtype(dtype) or data.dtype
    return _make("zeros_like", lambda xp: xp.zeros(data.shape, dtype=dtype), device, requires_grad,
                 input)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    data = input._data if isinstance(input, Tensor) else np.asarray(input)
    dtype = _resolve_dtype(dtype) or data.dtype
    return _make("ones_like", lambda xp: xp.ones(data.shape, dtype=dtype), device, requires_grad,
                 input)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros of the input's shape (PyTorch leaves the values undefined)."""
    return zeros_like(_like("empty_like", input), dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``fill_value`` in the input's shape and dtype (a float fill of an int tensor is truncated,
    as in PyTorch)."""
    data = _like("full_like", input)._data
    dtype = _resolve_dtype(dtype) or data.dtype
    return _make("full_like", lambda xp: xp.full(data.shape, fill_value, dtype=dtype), device,
                 requires_grad, input)


# ----- random -------------------------------------------------------------------------------------
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from N(0, 1)."""
    dtype = _floating_dtype("randn", dtype)
    data = numpy_generator("randn", generator).standard_normal(_size_argument("randn", size)).astype(dtype)
    return _make("randn", data, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from U[0, 1)."""
    dtype = _floating_dtype("rand", dtype)
    data = numpy_generator("rand", generator).random(_size_argument("rand", size)).astype(dtype)
    return _make("rand", data, device, requires_grad)


def randint(*args, size=None, low=None, high=None, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)`` (low defaults to 0); int64 unless ``dtype`` says otherwise."""
    given = list(args) + [v for v in (low, high, size) if v is not None]
    if len(given) == 2:
        (high, size), low = given, 0
    elif len(given) == 3:
        low, high, size = given
    else:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size).")
    low, high = _check_int("randint", "low", low), _check_int("randint", "high", high)
    if low >= high:
        raise ValueError(f"randint: low must be less than high. Got low={low}, high={high} instead.")
    shape = _size_argument("randint", (size,) if isinstance(size, (tuple, list)) else (size,))
    dtype = _resolve_dtype(dtype) or dtypes.int64
    data = numpy_generator("randint", generator).integers(low, high, shape, dtype=np.int64)
    return _make("randint", data.astype(dtype), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1; int64 unless ``dtype`` says otherwise."""
    n = _check_int("randperm", "n", n, 0)
    dtype = _resolve_dtype(dtype) or dtypes.int64
    data = numpy_generator("randperm", generator).permutation(n).astype(dtype)
    return _make("randperm", data, device, requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from U[0, 1) in the input's shape and dtype."""
    data = _like("rand_like", input)._data
    return rand(data.shape, generator=generator, dtype=dtype or data.dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples from N(0, 1) in the input's shape and dtype."""
    data = _like("randn_like", input)._data
    return randn(data.shape, generator=generator, dtype=dtype or data.dtype,
                 device=input.device if device is None else device, requires_grad=requires_grad)


def randint_like(input, *args, low=None, high=None, generator=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """Integers from [low, high) in the input's shape and dtype: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    data = _like("randint_like", input)._data
    bounds = [*args, *(v for v in (low, high) if v is not None)]
    if len(bounds) not in (1, 2):
        raise TypeError("randint_like: expected randint_like(input, high) or (input, low, high).")
    return randint(*bounds, data.shape, generator=generator, dtype=dtype or data.dtype,
                   device=input.device if device is None else device, requires_grad=requires_grad)


def _real_array(op, x, name="input") -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (numbers.Real, np.ndarray, list, tuple)) and not isinstance(x, (bool, np.bool_)):
        return _to_array(x, copy=False)
    raise TypeError(f"{op}: {name} must be a Tensor or a number. Got {type(x).__name__} instead.")


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Samples from N(mean, std^2), in PyTorch's forms: ``normal(mean_tensor, std_tensor)`` (one
    sample per element, shapes broadcast), ``normal(mean_tensor, std)``, ``normal(mean,
    std_tensor)``, and ``normal(mean, std, size)`` with numbers.

    The result is a constant (PyTorch records it in the graph with zero gradients for mean and std).
    """
    tensors = isinstance(mean, Tensor) or isinstance(std, Tensor)
    if tensors and size is not None:
        raise TypeError("normal: give size only when mean and std are both numbers.")
    if not tensors and size is None:
        raise TypeError("normal: with numbers for mean and std, give the size too: normal(0., 1., (2, 3)).")
    mean_array, std_array = _real_array("normal", mean, "mean"), _real_array("normal", std, "std")
    if np.any(std_array < 0):
        raise ValueError(f"normal: std must be >= 0. Got a minimum of {std_array.min()} instead.")
    if tensors:
        shape = np.broadcast_shapes(mean_array.shape, std_array.shape)
        given = [x.dtype for x in (mean, std) if isinstance(x, Tensor)]
        dtype = _resolve_dtype(dtype) or np.result_type(*given)
        if dtype.kind != "f":
            raise TypeError(f"normal: mean and std tensors must be floating point. Got {dtype} instead.")
    else:
        shape = _size_argument("normal", (size,) if isinstance(size, (tuple, list)) else (size,))
        dtype = _floating_dtype("normal", dtype)
    noise = numpy_generator("normal", generator).standard_normal(shape)
    return _make("normal", (mean_array + std_array * noise).astype(dtype), device, requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability p, else 0, per element: p is the input's element (or the number ``p``,
    in the input's shape). The result has the input's dtype and is a constant."""
    data = to_numpy(_like("bernoulli", input)._data)  # drawn on the host (see the module's docstring)
    probabilities = data if p is None else np.full(data.shape, _check_real("bernoulli", "p", p))
    if probabilities.size and not (np.all(probabilities >= 0) and np.all(probabilities <= 1)):
        raise ValueError(
            f"bernoulli: probabilities must be in [0, 1]. Got values from {probabilities.min()} to "
            f"{probabilities.max()} instead."
        )
    draws = numpy_generator("bernoulli", generator).random(data.shape) < probabilities
    return Tensor._from_op(to_device(draws.astype(data.dtype), input.device), None)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Category indices drawn with probabilities proportional to the input's rows (non-negative
    weights, not necessarily summing to 1): a 1-D input gives (num_samples,), a 2-D (rows,
    num_samples); int64. Without replacement, each category is drawn at most once."""
    weights = to_numpy(_like("multinomial", input)._data)  # drawn on the host
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(f"multinomial: expected a 1-D or 2-D input of weights; got shape {weights.shape}.")
    num_samples = _check_int("multinomial", "num_samples", num_samples, 1)
    rows = weights.reshape(-1, weights.shape[-1]).astype(np.float64)
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise ValueError("multinomial: the weights must be finite and non-negative.")
    totals = rows.sum(axis=1)
    if np.any(totals == 0):
        raise ValueError("multinomial: every row of weights must have a positive sum.")
    if not replacement and np.any((rows > 0).sum(axis=1) < num_samples):
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with "
            f"fewer categories of nonzero weight; pass replacement=True or draw fewer."
        )
    rng = numpy_generator("multinomial", generator)
    drawn = np.stack([
        rng.choice(rows.shape[1], size=num_samples, replace=bool(replacement), p=row / total)
        for row, total in zip(rows, totals)
    ]).astype(np.int64)
    return Tensor._from_op(to_device(drawn.reshape(weights.shape[:-1] + (num_samples,)), input.device), None)


# ----- NumPy interop ------------------------------------------------------------------------------
def from_numpy(ndarray) -> Tensor:
    """A tensor sharing the array's memory (changing one changes the other) and keeping its dtype."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array. Got {type(ndarray).__name__} instead.")
    if ndarray.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: the array must hold numbers. Got dtype {ndarray.dtype} instead.")
    return Tensor._from_op(ndarray, None)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a Tensor, sharing memory where it can: a Tensor of the same dtype is returned
    itself, a NumPy array of the same dtype is wrapped without a copy; anything else is copied
    (Python floats becoming the default dtype, as in ``tensor``). Without ``device``, a Tensor
    stays where it is and anything else goes to the default device (``set_default_device``), as
    in PyTorch: memory is shared only where that is the CPU."""
    dtype = _resolve_dtype(dtype)
    if isinstance(data, Tensor):
        device = None if device is None else check_device("as_tensor", device)
        return data.to(device=device, dtype=dtype)
    device = check_device("as_tensor", device)
    if isinstance(data, np.ndarray) and (dtype is None or dtype == data.dtype):
        t = from_numpy(data)
    else:
        t = Tensor(data, dtype=dtype)
    return t if t.device == device else t.to(device)
