"""Tensor: a NumPy array that remembers the op that made it, so gradients can flow back.

A Tensor holds ``data`` (a NumPy array; a CuPy array on the 'cuda' device), ``requires_grad``,
``grad`` (a Tensor, filled in by ``backward``) and ``grad_fn`` (the graph Node of the op that
produced it; None for leaves). Every
operator and method here only forwards to an op in ``chainrule.ops``, where each derivative is
written next to its forward.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections import namedtuple

import numpy as np

from . import autograd, dtypes
from .backend import _pending as _pending_checks
from .backend import (as_array, device_of, get_array_module, is_device_array, run_pending_checks,
                      to_device, to_device_of)
from .device import check_device, is_device
from .ops.dims import normalize_dim, normalize_dims, numpy_spellings
from .ops.promotion import result_dtype

__all__ = ["Tensor", "tensor", "float32", "float64", "int64", "bool_"]

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)


def _resolve_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return np.dtype(dtype)
        except TypeError:
            raise TypeError(f"tensor: unknown dtype name {dtype!r}; try 'float32' or 'float64'.") from None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"tensor: dtype must be a NumPy dtype or its name. Got {dtype!r} instead."
        ) from None


def _to_array(data, dtype=None, copy=True) -> np.ndarray:
    """Convert user data to an array: Python floats to the default dtype (float32), Python ints to int64,
    NumPy arrays keep their dtype unless ``dtype`` says otherwise."""
    dtype = _resolve_dtype(dtype)
    if isinstance(data, Tensor) or is_device_array(data):  # stays on its device
        array = getattr(data, "_data", data)
        xp = get_array_module(array)
        return xp.array(array, dtype=dtype, copy=True) if copy else xp.asarray(array, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)  # NumPy arrays and scalars keep their dtype
    else:
        try:
            array = np.asarray(data)
        except ValueError as err:
            raise ValueError(f"tensor: cannot make an array from {type(data).__name__}: {err}") from None
        if array.dtype.kind not in "biufc":  # objects, strings, dates: not numbers
            raise TypeError(
                f"tensor: data must be numbers, nested lists of numbers or an array. "
                f"Got {type(data).__name__} instead."
            )
        if array.dtype.kind == "f" and dtype is None:
            dtype = dtypes.get_default_dtype()  # float32 unless set_default_dtype changed it
        elif array.dtype.kind in "iu" and dtype is None:
            dtype = int64
    return np.array(array, dtype=dtype, copy=copy) if copy else np.asarray(array, dtype=dtype)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    >>> x = chainrule.tensor([[1.0, 2.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad            # dy/dx = 2x
    tensor([[2., 4.]])
    """

    __slots__ = ("_data", "grad", "requires_grad", "grad_fn", "_hooks", "__weakref__")  # _hooks: only
    # on a leaf that has gradient hooks (Tensor.register_hook); read with getattr(t, "_hooks", None)
    __array_ufunc__ = None  # numpy_array + tensor calls Tensor.__radd__, so the graph is kept
    __hash__ = object.__hash__

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = _to_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, array, grad_fn):
        """The engine's fast path: wrap an array an op produced, with no copy and no checks."""
        t = object.__new__(cls)
        t._data = array
        t.grad = None
        t.grad_fn = grad_fn
        t.requires_grad = grad_fn is not None
        return t

    # ----- attributes ---------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a new leaf that shares its memory and has no history, as in
        PyTorch: ``p.data -= lr * p.grad`` changes ``p``, unrecorded. (The NumPy array itself is
        ``.numpy()``.) Assigning ``t.data = other`` makes ``t`` hold other's values instead."""
        return Tensor._from_op(self._data, None)

    @data.setter
    def data(self, value) -> None:
        array = value._data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray) and not is_device_array(array):
            raise TypeError(
                f"data: assign a Tensor (or a NumPy array). Got {type(value).__name__} instead."
            )
        self._data = array

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """The dims in reverse order (a transpose for 2-D)."""
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        """The sub-tensors along dim 0, each through indexing (so gradients flow)."""
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor; use .item() for its number")
        return (self[i] for i in range(self._data.shape[0]))

    # ----- autograd ----------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as needing its gradient (in place); returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_: only leaf tensors can change requires_grad; use .detach() to "
                "start a new leaf from this one."
            )
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require grad. Got dtype "
                f"{self._data.dtype} instead; convert with .float() or .double() first."
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad.")
        if self.grad_fn is not None:
            self.grad_fn.retained = self

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn.retained is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time the gradient of this tensor is computed; if the hook
        returns a Tensor, it replaces the gradient (for the rest of backward, and in ``.grad``).
        Returns a handle whose ``.remove()`` takes the hook off.

        >>> h = x.register_hook(lambda g: g * 2)     # double x's gradient
        >>> h.remove()
        """
        return autograd.engine.register_hook(self, hook)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._from_op(self._data, None)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place: it becomes a leaf that does not require grad."""
        self.grad_fn = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, accumulating into ``.grad``.

        ``gradient`` is dL/d(self); it may be left out only when self is a single number.
        ``create_graph=True`` records the backward pass too, so the gradients it leaves in ``.grad``
        can be differentiated again; ``retain_graph`` (keep the graph for another backward)
        defaults to ``create_graph``. ``inputs``: accumulate only into these tensors' ``.grad``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward() on a tensor of shape {self.shape} that does not require grad: no "
                "input of the computation had requires_grad=True (or it ran under no_grad)."
            )
        retain_graph = create_graph if retain_graph is None else retain_graph
        if gradient is None and not create_graph:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward() on a tensor of shape {self.shape} needs an explicit gradient; "
                    "only scalar outputs get 1."
                )
            grad = np.array(1, dtype=self._data.dtype)  # dL/dL = 1 (np.ones is 4x slower here)
            if type(self._data) is not np.ndarray:
                grad = get_array_module(self._data).ones_like(self._data)
            elif self._data.ndim:
                grad = grad.reshape(self._data.shape)
        elif not create_graph and not isinstance(gradient, Tensor):
            grad = to_device(_to_array(gradient, dtype=self._data.dtype), self.device)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: the gradient has shape {grad.shape}, but the tensor has shape "
                    f"{self.shape}: they must be equal."
                )
        else:
            (grad,) = autograd.engine.initial_gradients((self,), (gradient,), create_graph, "backward")
        if inputs is not None:
            inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
            if not inputs:
                raise RuntimeError("backward: 'inputs' is empty: name at least one tensor, or leave it out.")
            for k, t in enumerate(inputs):
                if not isinstance(t, Tensor) or not t.requires_grad:
                    raise RuntimeError(f"backward: inputs[{k}] must be a tensor that requires grad.")
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph,
                          inputs=inputs)

    # ----- conversion --------------------------------------------------------------------
    def numpy(self, *, force=False) -> np.ndarray:
        """The underlying NumPy array (shared, not copied: changing one changes the other).

        A tensor on 'cuda' refuses, as in PyTorch: copy it to the host first with ``.cpu()`` (or
        ``numpy(force=True)``, a copy)."""
        if is_device_array(self._data):
            if force:
                return self.cpu()._data
            raise TypeError(_host_refusal(self))
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(
                f"item: only a tensor with one element can be turned into a Python number; this "
                f"one has shape {self.shape}."
            )
        if _pending_checks:  # the host waits for the GPU here: its pending checks are answered
            run_pending_checks()
        return self._data.item()

    def tolist(self):
        if _pending_checks:
            run_pending_checks()
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if is_device_array(self._data):  # never a silent copy from a GPU to the host
            raise TypeError(_host_refusal(self))
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"bool() of a tensor with {self._data.size} elements is ambiguous; use .any() or "
                ".all()."
            )
        if _pending_checks:
            run_pending_checks()
        return bool(self._data)

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False) -> Tensor:
        """This tensor in another dtype and/or on another device, as PyTorch's three forms:
        ``to(dtype)``, ``to(device=None, dtype=None)`` and ``to(other)`` (other's dtype and device).

        Returns self when nothing changes (unless ``copy=True``). A floating result stays in the
        graph (its gradient comes back in this tensor's dtype); an integer or boolean one leaves
        it, having no gradient. A move to another device ('cuda', 'cpu') copies the numbers and stays
        in the graph too (the gradient moves back). ``non_blocking`` is accepted; copies are
        synchronous.
        """
        device, dtype, _, copy = _to_arguments("to", args, dtype, device, non_blocking, copy)
        x = self
        if device is not None and device != self.device:
            x = ops.ToDevice.apply(x, device) if x.requires_grad else Tensor._from_op(
                to_device(x._data, device), None)
            copy = False
        if dtype is None or dtype == x._data.dtype:
            return ops.Cast.apply(x, None) if copy else x
        if dtype.kind not in "fc":  # integers and booleans have no gradient,
            return Tensor._from_op(x._data.astype(dtype), None)  # so they leave the graph
        return ops.Cast.apply(x, dtype)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def clone(self) -> Tensor:
        return ops.Cast.apply(self, None)

    # ----- PyTorch surface: conversions, comparisons, math aliases -----
    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def short(self) -> Tensor:
        return self.to(dtypes.int16)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type(self, dtype=None, non_blocking=False):
        """With no argument, the legacy type name, in chainrule's spelling: 'chainrule.FloatTensor'
        for float32 (PyTorch says 'torch.FloatTensor'). With a dtype, or a type name such as
        'torch.LongTensor' or 'chainrule.LongTensor', the tensor cast to it, as ``to(dtype)``."""
        if dtype is None:
            return dtypes.type_name(self._data.dtype)
        if isinstance(dtype, str) and ".cuda." in dtype:  # 'torch.cuda.FloatTensor': a GPU tensor
            check_device("type", "cuda")
        if isinstance(dtype, str) and dtypes.dtype_of_type_name(dtype) is not None:
            dtype = dtypes.dtype_of_type_name(dtype)
        return self.to(dtype, non_blocking=non_blocking)

    @property
    def device(self):
        """Where the numbers live: ``device(type='cpu')``, or ``device(type='cuda', index=0)``."""
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return is_device_array(self._data)

    def cpu(self) -> Tensor:
        """This tensor on the CPU: itself when it is there already (as PyTorch), else a copy that
        stays in the graph."""
        return self.to("cpu") if is_device_array(self._data) else self

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        """This tensor on the GPU ('cuda', index 0): itself when it is there already, else a copy
        that stays in the graph; refused where chainrule has no GPU."""
        return self.to(check_device("cuda", "cuda" if device is None else device))

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        """Bytes per element (4 for float32)."""
        return self._data.itemsize

    def nelement(self) -> int:
        return self._data.size

    def _new(self, array, dtype, device, requires_grad):
        device = self.device if device is None else check_device("new tensor", device)
        array = np.asarray(array, dtype=self._data.dtype if dtype is None else _resolve_dtype(dtype))
        t = Tensor._from_op(to_device(array, device), None)
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        """Zeros of ``size`` in this tensor's dtype (unless ``dtype`` says otherwise)."""
        return self._new(np.zeros(_size_argument("new_zeros", size)), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.ones(_size_argument("new_ones", size)), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self._new(np.zeros(_size_argument("new_empty", size)), dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
        shape = _size_argument("new_full", (size,))
        return self._new(np.full(shape, fill_value), dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A new leaf copied from ``data``, in this tensor's dtype unless ``dtype`` is given."""
        array = _to_array(data)  # a copy, as PyTorch's new_tensor always copies
        return self._new(array, dtype, device, requires_grad)

    def __index__(self):
        """The number of a one-element integer tensor, so ``classes[pred.argmax()]`` works."""
        if self._data.size != 1 or self._data.dtype.kind not in "biu":
            raise TypeError(
                f"only integer tensors of a single element can be used as an index; this one has "
                f"shape {self.shape} and dtype {self._data.dtype}."
            )
        return int(self.item())

    def __format__(self, format_spec):
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``); others take no format spec,
        as in PyTorch."""
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        if format_spec:
            raise TypeError(
                f"format: only a 0-d tensor takes a format spec such as {format_spec!r}; this one "
                f"has shape {self.shape}. Format t.item() (one element) or t.tolist() instead."
            )
        return str(self)

    def eq(self, other) -> Tensor:
        return self == other

    def ne(self, other) -> Tensor:
        return self != other

    def lt(self, other) -> Tensor:
        return self < other

    def le(self, other) -> Tensor:
        return self <= other

    def gt(self, other) -> Tensor:
        return self > other

    def ge(self, other) -> Tensor:
        return self >= other

    def equal(self, other) -> bool:
        """True when both have the same shape and the same values (compared after promotion)."""
        other = other if isinstance(other, Tensor) else Tensor(other)
        return self.shape == other.shape and bool((self == other).all())

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
        """|self - other| <= atol + rtol * |other|, element-wise (NaNs equal only with equal_nan)."""
        a, b = _promoted((self._data, other._data if isinstance(other, Tensor) else other))
        return Tensor._from_op(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), None)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def t(self) -> Tensor:
        """The transpose of a 2-D tensor; a 0-d or 1-D tensor comes back as it is, as in PyTorch."""
        if self.ndim > 2:
            raise ValueError(
                f"t: expected a tensor with at most 2 dims; got shape {self.shape}. Use "
                ".transpose(dim0, dim1) or .permute(...) instead."
            )
        return self.transpose(0, 1) if self.ndim == 2 else self

    def view_as(self, other) -> Tensor:
        return self.reshape(other.shape)

    def reshape_as(self, other) -> Tensor:
        return self.reshape(other.shape)

    def expand_as(self, other) -> Tensor:
        return self.expand(other.shape)

    def log10(self):
        return ops.Log10.apply(self._floating())

    def log2(self):
        return ops.Log2.apply(self._floating())

    def log1p(self):
        return ops.Log1p.apply(self._floating())

    def expm1(self):
        return ops.Expm1.apply(self._floating())

    def multinomial(self, num_samples, replacement=False, *, generator=None) -> Tensor:
        from .creation import multinomial  # creation imports this module

        return multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, *, generator=None) -> Tensor:
        from .creation import bernoulli

        return bernoulli(self, generator=generator)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> Tensor:
        """Fill with samples from U[from_, to), in place (``w.data.uniform_(-0.1, 0.1)``)."""
        from .random import numpy_generator

        values = numpy_generator("uniform_", generator).uniform(from_, to, self.shape)
        values = to_device_of(values, self._data)  # drawn on the host, as every random number
        return self._in_place("uniform_", lambda s: Tensor._from_op(values, None))

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
        """Fill with samples from N(mean, std^2), in place."""
        from .random import numpy_generator

        if std < 0:
            raise ValueError(f"normal_: std must be >= 0. Got {std} instead.")
        values = mean + std * numpy_generator("normal_", generator).standard_normal(self.shape)
        values = to_device_of(values, self._data)  # drawn on the host, as every random number
        return self._in_place("normal_", lambda s: Tensor._from_op(values, None))

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        """Fill with 1 (probability p, a number or a tensor broadcast to this one) or 0, in place."""
        from .creation import bernoulli

        probabilities = p if isinstance(p, Tensor) else Tensor._from_op(np.asarray(float(p)), None)
        values = bernoulli(probabilities.detach().expand(self.shape), generator=generator)
        return self._in_place("bernoulli_", lambda s: values.to(s.device, s.dtype))

    def __repr__(self):
        on_device = is_device_array(self._data)
        body = np.array2string(self.numpy(force=True), separator=", ", prefix="tensor(")
        extra = f", device='{self.device}'" if on_device else ""
        if self._data.dtype not in (float32, int64, bool_):
            extra += f", dtype={self._data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ----- in-place changes ------------------------------------------------------------------
    # x.add_(y), x += y, x[i] = v: the new values are written into x's own memory, so every view
    # of it sees them, as in PyTorch. Each change is stamped (autograd.engine.bump_version): an op
    # that saved these values for its backward, before the change, refuses to run that backward.
    # Inside the graph (x or the other operand requires grad, grad enabled) the change is also
    # recorded: the new values are computed by the ordinary op from a copy of x, and x takes that
    # op's place in the graph.

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has had (PyTorch's counter)."""
        return autograd.engine.version_of(self._data)

    def _in_place(self, op: str, compute, *others) -> Tensor:
        """Replace this tensor's values by ``compute(self, *others)`` (a Tensor), in place."""
        recording = autograd._mode.grad_enabled and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
        )
        if not recording:
            with autograd.no_grad():
                result = compute(self, *others)
            self._write(op, _to_array(result, copy=False) if not isinstance(result, Tensor) else result._data)
            return self
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"{op}: this is a leaf tensor that requires grad, and it cannot be changed in place "
                "while grad is enabled (backward needs its values as they were). Change it inside "
                "`with chainrule.no_grad():` (as optimizers and initialisers do), or compute a new "
                "tensor instead."
            )
        view = _views.get(self)
        if view is None and self._data.base is not None:
            raise RuntimeError(
                f"{op}: this tensor shares its memory with another one (it is a view, made by "
                "reshape, permute, expand, split, chunk, unbind, .T or .data), and chainrule "
                "records in-place changes of "
                "views in the graph only for indexing (x[i] += 1). Write it out of place instead "
                "(y = y + 1), or make it under no_grad."
            )
        result = compute(ops.Cast.apply(self, None), *others)  # from a copy: ops may save it
        result = self._fit(op, result)
        if view is not None:  # the base tensor records the change, through its own __setitem__
            base, index = view
            base[index] = result
        else:
            self._write(op, result._data)
        old_node = self.grad_fn
        self.grad_fn = result.grad_fn
        self.requires_grad = result.requires_grad
        if result.grad_fn is not None:
            result.grad_fn.output_id = id(self._data)  # this tensor's array is now that op's output
            if old_node is not None and old_node.retained is self:  # retain_grad() follows the tensor
                old_node.retained = None
                result.grad_fn.retained = self
        return self

    def _fit(self, op: str, result) -> Tensor:
        """The result of an in-place op, checked: it must keep this tensor's shape, and its dtype
        must cast to this tensor's (an int tensor cannot hold float results, as in PyTorch)."""
        if result.shape != self.shape:
            raise RuntimeError(
                f"{op}: the result has shape {result.shape}, which cannot be written into this tensor "
                f"of shape {self.shape} in place (an in-place op cannot change the shape)."
            )
        if result.dtype != self.dtype:
            if not np.can_cast(result.dtype, self.dtype, casting="same_kind"):
                raise RuntimeError(
                    f"{op}: the result is {result.dtype}, which cannot be written into this "
                    f"{self.dtype} tensor in place. Convert first, e.g. x = x.float()."
                )
            result = result.to(self.dtype)
        return result

    def _write(self, op: str, array) -> None:
        """Write the values into this tensor's memory, stamped as an in-place change."""
        array = to_device_of(array, self._data)  # host values (a number, a NumPy array) go there
        if np.shape(array) != self.shape:
            try:
                fits = np.broadcast_shapes(np.shape(array), self.shape) == self.shape
            except ValueError:
                fits = False
            if not fits:
                raise RuntimeError(
                    f"{op}: a result of shape {np.shape(array)} cannot be written into this tensor of "
                    f"shape {self.shape} in place (an in-place op cannot change the shape)."
                )
        if not _writeable(self._data):
            raise RuntimeError(
                f"{op}: this tensor's memory cannot be written (several of its elements are one "
                "element of memory, as after expand). Make a copy first: x = x.clone()."
            )
        result_dtype = array.dtype if hasattr(array, "dtype") else np.asarray(array).dtype
        if result_dtype.kind == "f" and self._data.dtype.kind in "iub":
            raise RuntimeError(
                f"{op}: the result is {result_dtype}, which cannot be written into this "
                f"{self._data.dtype} tensor in place. Convert first, e.g. x = x.float()."
            )
        autograd.engine.bump_version(self._data)
        self._data[...] = array

    def add_(self, other, alpha=1) -> Tensor:
        """self += alpha * other, in place."""
        return self._in_place("add_", lambda s, o: s + (o if alpha == 1 else alpha * o), other)

    def sub_(self, other, alpha=1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._in_place("sub_", lambda s, o: s - (o if alpha == 1 else alpha * o), other)

    def mul_(self, other) -> Tensor:
        return self._in_place("mul_", lambda s, o: s * o, other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        if rounding_mode is not None:
            raise ValueError(f"div_: rounding_mode {rounding_mode!r} is not supported; leave it None.")
        return self._in_place("div_", lambda s, o: s / o, other)

    def pow_(self, exponent) -> Tensor:
        return self._in_place("pow_", lambda s, o: s**o, exponent)

    def neg_(self) -> Tensor:
        return self._in_place("neg_", lambda s: -s)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._in_place("clamp_", lambda s: s.clamp(min, max))

    clip_ = clamp_

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def zero_(self) -> Tensor:
        return self.copy_(0)

    def fill_(self, value) -> Tensor:
        """Set every element to ``value`` (a number, or a one-element tensor that may require grad)."""
        if isinstance(value, Tensor) and value._data.size != 1:
            raise RuntimeError(f"fill_: the value must be a number or a one-element tensor. Got shape "
                               f"{value.shape}.")
        return self.copy_(value)

    def copy_(self, other, non_blocking=False) -> Tensor:
        """Copy other's values into this tensor (broadcast to its shape, cast to its dtype); the
        gradient flows to ``other``."""
        src = other if isinstance(other, Tensor) else Tensor._from_op(np.asarray(other), None)
        if src.device != self.device:  # copied across devices, as PyTorch's copy_
            src = src.to(self.device)
        try:
            fits = np.broadcast_shapes(src.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"copy_: cannot copy shape {src.shape} into shape {self.shape}.")

        def copied(s, o):  # every element replaced: the gradient goes to o, none to the old values
            o = o if o.dtype == s.dtype else o.to(s.dtype)
            return ops.SetItem.apply(s, o, Ellipsis)

        return self._in_place("copy_", copied, src)

    def __setitem__(self, index, value):
        """x[index] = value, written into x's memory; recorded (ops.SetItem) inside the graph."""
        if isinstance(value, Tensor):
            if value.device != self.device:  # written across devices, as PyTorch's setitem
                value = value.to(self.device)
            value_array, value_grad = value._data, value.requires_grad
        else:
            value_array, value_grad = to_device_of(_to_array(value, copy=False), self._data), False
        if not (autograd._mode.grad_enabled and (self.requires_grad or value_grad)):
            index_array, advanced = ops.shape._index_array(index, self._data)
            if advanced and is_device_array(self._data):
                ops.shape.check_index_bounds("setitem", index_array, self.shape)
            if value_array.dtype.kind == "f" and self._data.dtype.kind in "iub":
                raise RuntimeError(f"setitem: cannot write {value_array.dtype} values into this "
                                   f"{self._data.dtype} tensor. Convert first, e.g. x = x.float().")
            if not _writeable(self._data):
                raise RuntimeError("setitem: this tensor's memory cannot be written (as after expand). "
                                   "Make a copy first: x = x.clone().")
            autograd.engine.bump_version(self._data)
            try:
                self._data[index_array] = value_array
            except IndexError as err:
                raise IndexError(f"setitem: index {index!r} is out of bounds for shape {self.shape}: "
                                 f"{err}") from None
            except ValueError:
                raise ValueError(f"setitem: cannot assign a value of shape {value_array.shape} to "
                                 f"x[index] of shape {np.shape(self._data[index_array])}: the value must "
                                 "broadcast to it.") from None
            return
        if not isinstance(value, Tensor):
            value = Tensor._from_op(value_array.astype(self._data.dtype, copy=False), None)
        elif value.dtype != self.dtype:
            value = value.to(self.dtype)
        self._in_place("setitem", lambda s, v: ops.SetItem.apply(s, v, index), value)

    # ----- arithmetic --------------------------------------------------------------------
    def _binary(self, op, other, reflected=False, true_divide=False):
        """Apply the binary op to (self, other), or (other, self) when reflected.

        ``other`` may be a Tensor, a NumPy array, a list or a Python or NumPy number. Both operands
        are brought to the dtype PyTorch's promotion gives (``ops.promotion.result_dtype``): a
        Python number takes a floating tensor's dtype, so float32 stays float32; int tensor * 0.5
        and int / int are float32; int64 tensor + float32 tensor is float32 (not NumPy's float64).
        ``true_divide`` (for /) takes integers and booleans to float32.
        """
        dtype = self._data.dtype
        if type(other) is np.ndarray and type(self._data) is not np.ndarray:
            other = to_device_of(other, self._data)  # a constant goes to the tensor's device
        if isinstance(other, Tensor):  # the common case, one dtype: no promotion, no Cast op
            if other._data.dtype is dtype and (not true_divide or dtype.kind in "fc"):
                return op.apply(other, self) if reflected else op.apply(self, other)
        elif type(other) is float or type(other) is int:
            if dtype.kind in "fc":  # a number takes a floating tensor's dtype
                b = _constant(other, dtype, self._data)
                return op.apply(b, self) if reflected else op.apply(self, b)
        elif type(other) is np.ndarray and other.dtype is dtype and other.ndim:  # a constant
            if not true_divide or dtype.kind in "fc":  # array of the same dtype: as a Tensor
                return op.apply(other, self) if reflected else op.apply(self, other)
        elif isinstance(other, (list, tuple)):
            other = _to_array(other)
        elif not isinstance(other, (np.ndarray, numbers.Number, np.bool_)) and not is_device_array(other):
            return NotImplemented
        operands = (other, self) if reflected else (self, other)
        return op.apply(*_promoted(operands, true_divide=true_divide))

    def __add__(self, other):
        return self._binary(ops.Add, other)

    def __radd__(self, other):
        return self._binary(ops.Add, other, reflected=True)

    def __sub__(self, other):
        return self._binary(ops.Sub, other)

    def __rsub__(self, other):
        return self._binary(ops.Sub, other, reflected=True)

    def __mul__(self, other):
        return self._binary(ops.Mul, other)

    def __rmul__(self, other):
        return self._binary(ops.Mul, other, reflected=True)

    def __truediv__(self, other):
        return self._binary(ops.Div, other, true_divide=True)

    def __rtruediv__(self, other):
        return self._binary(ops.Div, other, reflected=True, true_divide=True)

    def __pow__(self, other):
        return self._binary(ops.Pow, other)

    def __rpow__(self, other):
        return self._binary(ops.Pow, other, reflected=True)

    def __mod__(self, other):
        return self._binary(ops.Remainder, other)

    def __rmod__(self, other):
        return self._binary(ops.Remainder, other, reflected=True)

    def __floordiv__(self, other):
        return self._floor_divide(other, reflected=False)

    def __rfloordiv__(self, other):
        return self._floor_divide(other, reflected=True)

    def _floor_divide(self, other, reflected):
        """floor(a / b), in the promoted dtype, as a constant: a floor's derivative is 0 wherever
        it exists, so no graph is recorded (PyTorch records none it can differentiate either)."""
        if isinstance(other, Tensor):
            other = other._data
        elif not isinstance(other, (np.ndarray, list, tuple, numbers.Number, np.bool_)):
            return NotImplemented
        a, b = _promoted((other, self._data) if reflected else (self._data, other))
        return Tensor._from_op(np.floor_divide(a, b), None)

    # ----- rounding: step functions, returned as constants as floor division is --------------
    def round(self, *, decimals=0):  # noqa: A003 - PyTorch's name
        """Round half to even (as PyTorch and NumPy), to ``decimals`` places. A step function's
        derivative is 0 wherever it exists, so no graph is recorded: the result does not require
        grad (PyTorch's does, with a zero gradient; see docs/coming_from_pytorch.md)."""
        if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
            raise TypeError(f"round: decimals must be an int; got {type(decimals).__name__}.")
        return Tensor._from_op(as_array(np.round(self._data, int(decimals))), None)

    def floor(self):
        """The largest integer <= x, element-wise; a constant, as ``round``."""
        return Tensor._from_op(as_array(np.floor(self._data)), None)

    def ceil(self):
        """The smallest integer >= x, element-wise; a constant, as ``round``."""
        return Tensor._from_op(as_array(np.ceil(self._data)), None)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """PyTorch's ``Tensor.norm``: the 2-norm by default, over all elements or ``dim``."""
        return ops.vector_norm.norm(self, p, dim, keepdim, dtype)

    def __matmul__(self, other):
        if isinstance(other, Tensor) and other._data.dtype is self._data.dtype:
            return ops.MatMul.apply(self, other)
        return ops.MatMul.apply(*_promoted((self, other)))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(*_promoted((other, self)))

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.Abs.apply(self)

    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, exponent):
        return self**exponent

    def matmul(self, other):
        return self @ other

    # ----- comparisons: boolean tensors, no graph ----------------------------------------
    def _compare(self, other, op):
        """op(self, other) on arrays of the promoted dtype, as PyTorch compares: int > 0.5 and
        float32 == 0-d float64 tensor are compared in float32."""
        if isinstance(other, Tensor) and other._data.dtype is self._data.dtype:
            return Tensor._from_op(op(self._data, other._data), None)
        if (type(other) is float or type(other) is int) and self._data.dtype.kind in "fc":
            return Tensor._from_op(op(self._data, _constant(other, self._data.dtype, self._data)), None)
        if not isinstance(other, (Tensor, np.ndarray, list, tuple, numbers.Number, np.bool_)):
            return Tensor._from_op(op(self._data, other), None)
        a, b = _promoted((self._data, other._data if isinstance(other, Tensor) else other))
        return Tensor._from_op(op(a, b), None)

    def _logical(self, other, op):
        o = other._data if isinstance(other, Tensor) else other
        return Tensor._from_op(op(self._data, o), None)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __invert__(self):  # logical not of booleans, bitwise not of integers, as in PyTorch
        return Tensor._from_op(np.invert(self._data), None)

    def __and__(self, other):
        return self._logical(other, np.bitwise_and)

    def __or__(self, other):
        return self._logical(other, np.bitwise_or)

    @numpy_spellings
    def all(self, dim=None, keepdim=False):
        return Tensor._from_op(_logical_reduce(np.all, self._data, dim, keepdim), None)

    @numpy_spellings
    def any(self, dim=None, keepdim=False):
        return Tensor._from_op(_logical_reduce(np.any, self._data, dim, keepdim), None)

    def isfinite(self):
        return Tensor._from_op(np.isfinite(self._data), None)

    def isnan(self):
        return Tensor._from_op(np.isnan(self._data), None)

    @numpy_spellings
    def argmax(self, dim=None, keepdim=False):
        return Tensor._from_op(_arg_reduce(np.argmax, self._data, dim, keepdim), None)

    @numpy_spellings
    def argmin(self, dim=None, keepdim=False):
        return Tensor._from_op(_arg_reduce(np.argmin, self._data, dim, keepdim), None)

    # ----- element-wise math and activations ----------------------------------------------
    def _floating(self) -> Tensor:
        """Self, or for an integer or boolean tensor its copy in the default dtype (float32): what
        a function with real-valued results (exp, sigmoid, softmax, ...) takes, so that its result
        is float32 as in PyTorch, not NumPy's float64."""
        return self if self._data.dtype.kind in "fc" else self.to(dtypes.get_default_dtype())

    def exp(self):
        return ops.Exp.apply(self._floating())

    def log(self):
        return ops.Log.apply(self._floating())

    def sqrt(self):
        return ops.Sqrt.apply(self._floating())

    def abs(self):
        return ops.Abs.apply(self)

    def sin(self):
        return ops.Sin.apply(self._floating())

    def cos(self):
        return ops.Cos.apply(self._floating())

    def tanh(self):
        return ops.Tanh.apply(self._floating())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._floating())

    def relu(self):
        return ops.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        """Clip to [min, max]; an integer tensor with a float bound is clipped in float32, as in
        PyTorch (int_tensor.clamp(min=1.5) is float32)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of 'min' and 'max' must be given.")
        return ops.Clamp.apply(_cast(self, result_dtype(self, min, max)), min, max)

    clip = clamp

    @numpy_spellings
    def softmax(self, dim):
        return ops.Softmax.apply(self._floating(), dim)

    @numpy_spellings
    def log_softmax(self, dim):
        return ops.LogSoftmax.apply(self._floating(), dim)

    # ----- reductions ----------------------------------------------------------------------
    @numpy_spellings
    def sum(self, dim=None, keepdim=False):
        return ops.Sum.apply(self, dim, keepdim)

    @numpy_spellings
    def mean(self, dim=None, keepdim=False):
        return ops.Mean.apply(self, dim, keepdim)

    @numpy_spellings
    def var(self, dim=None, keepdim=False, *, correction=None, unbiased=None):
        """Variance over dims: sum((x - mean)^2) / (n - correction), n the number of elements
        reduced. ``correction`` defaults to 1 (Bessel's, the sample variance); ``unbiased=False``
        is the old spelling of correction=0, as in PyTorch. An integer tensor is taken as float32."""
        return self._var("var", dim, keepdim, correction, unbiased)

    @numpy_spellings
    def std(self, dim=None, keepdim=False, *, correction=None, unbiased=None):
        """Standard deviation over dims: sqrt(var(dim, keepdim, correction=...)); the same
        arguments as ``var``. Composed of var's ops and sqrt, so it needs no derivative of its own."""
        return self._var("std", dim, keepdim, correction, unbiased).sqrt()

    def _var(self, op, dim, keepdim, correction, unbiased):
        if unbiased is not None:
            if correction is not None:
                raise TypeError(f"{op}: give 'correction' or 'unbiased', not both.")
            if not isinstance(unbiased, (bool, np.bool_)):
                raise TypeError(f"{op}: unbiased must be a bool. Got {unbiased!r} instead.")
            correction = 1 if unbiased else 0
        elif correction is None:
            correction = 1
        elif isinstance(correction, bool) or not isinstance(correction, numbers.Real):
            raise TypeError(f"{op}: correction must be a number. Got {correction!r} instead.")
        dims = normalize_dims(op, dim, self.ndim)  # checked here, so an error names var or std
        x = self._floating()
        centered = x - x.mean(dims, keepdim=True)
        n = math.prod(self.shape[d] for d in dims)
        squares = (centered * centered).sum(dims, keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: inf or nan, as
            return squares / max(0, n - correction)  # in PyTorch (which warns)

    @numpy_spellings
    def max(self, dim=None, keepdim=False):
        """The largest element; with ``dim``, the named tuple (values, indices) like PyTorch."""
        if dim is None:
            return ops.Max.apply(self, None, False)
        values = ops.Max.apply(self, dim, keepdim)
        return _MaxResult(values, self.argmax(dim, keepdim))

    @numpy_spellings
    def min(self, dim=None, keepdim=False):
        """The smallest element; with ``dim``, the named tuple (values, indices) like PyTorch."""
        if dim is None:
            return ops.Min.apply(self, None, False)
        values = ops.Min.apply(self, dim, keepdim)
        return _MinResult(values, self.argmin(dim, keepdim))

    # ----- shape ---------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start = normalize_dim("flatten", start_dim, self.ndim)
        end = normalize_dim("flatten", end_dim, self.ndim)
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}.")
        size = math.prod(self.shape[start:end + 1])  # not -1, which is ambiguous when a dim is 0
        return self.reshape(self.shape[:start] + (size,) + self.shape[end + 1:])

    @numpy_spellings
    def unsqueeze(self, dim):
        dim = normalize_dim("unsqueeze", dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    @numpy_spellings
    def squeeze(self, dim=None):
        """Remove dims of size 1: all of them, or those of ``dim`` (an int or a tuple of ints)
        that have size 1; the others stay, as in PyTorch."""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        if isinstance(dim, (tuple, list)):
            dims = normalize_dims("squeeze", dim, self.ndim) if dim else ()  # () squeezes nothing
        else:
            dims = (normalize_dim("squeeze", dim, self.ndim),)
        keep = tuple(s for d, s in enumerate(self.shape) if d not in dims or s != 1)
        return self if keep == self.shape else self.reshape(keep)

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        dim0, dim1 = (normalize_dim("transpose", d, self.ndim) for d in (dim0, dim1))
        if self.ndim:
            axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return ops.Permute.apply(self, tuple(axes))

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return ops.Permute.apply(self, dims)

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Expand.apply(self, shape)

    def __getitem__(self, index):
        result = ops.GetItem.apply(self, index)
        if (result.requires_grad and result._data.base is not None
                and np.may_share_memory(result._data, self._data)):  # a view of self's memory
            _views[result] = (self, index)  # so that result += 1 changes self in the graph too
        return result

    # ----- indexing, rearranging, scans and sorts -----------------------------------------
    # Each calls the op's one entry function in chainrule/ops/ (indexing.py, rearrange.py,
    # scan.py, sort.py, einsum.py), where the checks, the forward and the derivative live.
    def gather(self, dim, index):
        return ops.indexing.gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return ops.indexing.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return ops.indexing.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return ops.indexing.index_select(self, dim, index)

    def index_add(self, dim, index, source, *, alpha=1):
        return ops.indexing.index_add(self, dim, index, source, alpha=alpha)

    def masked_fill(self, mask, value):
        return ops.indexing.masked_fill(self, mask, value)

    # the in-place spellings: the same ops, written back through _in_place (recorded in the
    # graph and stamped as a change, as add_ is)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return self._in_place(
            "scatter_", lambda s, o: s.scatter(dim, index, o, value=value, reduce=reduce), src
        )

    def scatter_add_(self, dim, index, src):
        return self._in_place("scatter_add_", lambda s, o: s.scatter_add(dim, index, o), src)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._in_place("index_add_", lambda s, o: s.index_add(dim, index, o, alpha=alpha), source)

    def masked_fill_(self, mask, value):
        return self._in_place("masked_fill_", lambda s, v: s.masked_fill(mask, v), value)

    def tril(self, diagonal=0):
        return ops.rearrange.tril(self, diagonal)

    def triu(self, diagonal=0):
        return ops.rearrange.triu(self, diagonal)

    def repeat(self, *sizes):
        return ops.rearrange.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return ops.rearrange.repeat_interleave(self, repeats, dim, output_size=output_size)

    def flip(self, *dims):
        if not dims:  # as PyTorch: x.flip() names no dims, and is a mistake
            raise TypeError("flip: dims is required (an int or a tuple of ints, such as x.flip(0)).")
        if len(dims) == 1:  # x.flip(0), x.flip((0, 1)): passed on as given, so the words match
            dims = dims[0]
        return ops.rearrange.flip(self, dims)

    def maximum(self, other):
        """The element-wise maximum with ``other`` (``chainrule.maximum``)."""
        from .functions import maximum

        return maximum(self, other)

    def minimum(self, other):
        """The element-wise minimum with ``other`` (``chainrule.minimum``)."""
        from .functions import minimum

        return minimum(self, other)

    def roll(self, shifts, dims=None):
        return ops.rearrange.roll(self, shifts, dims)

    def split(self, split_size, dim=0):
        return ops.rearrange.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return ops.rearrange.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return ops.rearrange.unbind(self, dim)

    def cumsum(self, dim, *, dtype=None):
        return ops.scan.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return ops.scan.cumprod(self, dim, dtype=dtype)

    @numpy_spellings
    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return ops.scan.prod(self, dim, keepdim, dtype=dtype)

    @numpy_spellings
    def logsumexp(self, dim, keepdim=False):
        return ops.scan.logsumexp(self, dim, keepdim)

    def sort(self, dim=-1, descending=False, stable=False):
        return ops.sort.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return ops.sort.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
        return ops.sort.topk(self, k, dim, largest, sorted)

    def bmm(self, mat2):
        return ops.einsum.bmm(self, mat2)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return ops.einsum.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)


def _arg_reduce(fn, data, dim, keepdim):
    """argmax/argmin with PyTorch's shapes: dim None gives the index into the flattened tensor;
    a 0-d tensor's only index is 0, of shape () whether or not keepdim."""
    if dim is None:
        out = as_array(fn(data))
        return out.reshape((1,) * data.ndim) if keepdim else out
    axis = normalize_dim(fn.__name__, dim, data.ndim)
    if data.ndim == 0:
        return np.zeros_like(data, shape=(), dtype=np.int64)
    out = fn(data, axis=axis)
    return np.expand_dims(out, axis) if keepdim else out


# Tensors made by indexing that share their base's memory -> (base, index), so that an in-place
# change of one inside the graph is recorded on the base as well (Tensor._in_place).
_views = autograd.engine.IdentityWeakMap()

_MaxResult = namedtuple("max", ("values", "indices"))  # what x.max(dim) returns, as torch.return_types
_MinResult = namedtuple("min", ("values", "indices"))


def _cast(x, dtype):
    """x in ``dtype``: a Tensor through ``Tensor.to`` (the Cast op, so its gradient comes back in
    its own dtype), an array or number as a constant array; unchanged when already of that dtype.
    A number out of an integer dtype's range wraps around, as in PyTorch (uint8 tensor - 1)."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == dtype else x.to(dtype)
    if isinstance(x, np.ndarray) or is_device_array(x):
        return x if x.dtype == dtype else x.astype(dtype)
    return np.asarray(x).astype(dtype, copy=False)


def _constant(value, dtype, like):
    """A number or host array as a constant of ``dtype`` on the device of array ``like``: a 0-d
    array on the CPU; on a GPU a number stays a (NumPy) number, which CuPy passes to its kernel
    as an argument, where a 0-d array would be a copy from the host at every use."""
    if type(like) is np.ndarray:
        return np.asarray(value, dtype=dtype)
    if np.ndim(value) == 0 and not is_device_array(value):
        return dtype.type(value)
    return get_array_module(like).asarray(value, dtype=dtype)


def _promoted(operands, true_divide=False) -> list:
    """The operands of one op (Tensors, arrays, lists, numbers), all in the dtype that PyTorch's
    promotion gives them (``ops.promotion.result_dtype``); lists become arrays first, as
    ``tensor`` would make them (floats float32)."""
    operands = [_to_array(x, copy=False) if isinstance(x, (list, tuple)) else x for x in operands]
    dtype = result_dtype(*operands, true_divide=true_divide)
    cast = [_cast(x, dtype) for x in operands]
    on_device = next((x._data for x in cast if isinstance(x, Tensor) and is_device_array(x._data)), None)
    if on_device is None:
        return cast
    # constants (numbers, NumPy arrays) go to the tensors' device, as PyTorch moves a number
    return [x if isinstance(x, Tensor) else _constant(x, dtype, on_device) for x in cast]


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Make a new leaf Tensor from a number, nested list, NumPy array or Tensor (data is copied).

    Python floats give the default dtype (float32 unless ``set_default_dtype`` changed it), Python
    ints int64; NumPy arrays keep their dtype. ``dtype`` accepts NumPy dtypes and their names
    ("float64"); ``device`` 'cpu' or, where a GPU is, 'cuda' (None: the default device, or the
    device of a Tensor or device array given as data).
    """
    on_device = isinstance(data, Tensor) or is_device_array(data)
    if device is not None or not on_device:
        device = check_device("tensor", device)
    t = Tensor(data, dtype=dtype)
    if device is not None and device != t.device:
        t._data = to_device(t._data, device)
    return t.requires_grad_(True) if requires_grad else t


def _size_argument(op, size) -> tuple:
    """A size given as ints or as one tuple/list of ints (``zeros(2, 3)``, ``zeros((2, 3))``)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for s in size:
        try:  # ints, NumPy ints and one-element integer tensors (through __index__); not bools
            n = -1 if isinstance(s, (bool, np.bool_)) else operator.index(s)
        except TypeError:
            n = -1
        if n < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints. Got {tuple(size)} instead.")
        shape.append(n)
    return tuple(shape)


def _logical_reduce(fn, data, dim, keepdim):
    """all/any over every element or over dim, as PyTorch: bool results (uint8 for a uint8 tensor)."""
    dims = normalize_dims(fn.__name__, dim, data.ndim)
    out = as_array(fn(data, axis=dims, keepdims=keepdim))
    return out.astype(np.uint8) if data.dtype == np.uint8 else out


def _to_arguments(op, args, dtype=None, device=None, non_blocking=False, copy=False) -> tuple:
    """PyTorch's forms of ``to``: (dtype, non_blocking, copy), (device, dtype, non_blocking, copy)
    and (other, non_blocking, copy), positional or by keyword. Returns (device, dtype,
    non_blocking, copy), the device checked (``check_device``) and the dtype resolved (or None)."""
    args = list(args)
    if args:
        first = args.pop(0)
        if isinstance(first, Tensor):
            if dtype is not None or device is not None:
                raise TypeError(
                    f"{op}: to(other) takes other's dtype and device; give no dtype= or device= too."
                )
            dtype, device = first.dtype, first.device
        elif is_device(first) or (isinstance(first, numbers.Integral) and not isinstance(first, bool)):
            if device is not None:
                raise TypeError(f"{op}: the device is given twice, as {first!r} and device={device!r}.")
            device = first
            if args and not isinstance(args[0], bool):
                if dtype is not None:
                    raise TypeError(f"{op}: the dtype is given twice, as {args[0]!r} and dtype={dtype!r}.")
                dtype = args.pop(0)
        else:
            if dtype is not None:
                raise TypeError(f"{op}: the dtype is given twice, as {first!r} and dtype={dtype!r}.")
            dtype = first
        if len(args) > 2:
            raise TypeError(f"{op}: too many arguments; after the dtype come non_blocking and copy.")
        non_blocking, copy = (args + [non_blocking, copy][len(args):])[:2]
    for name, flag in (("non_blocking", non_blocking), ("copy", copy)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{op}: {name} must be a bool. Got {flag!r} instead.")
    device = None if device is None else check_device(op, device)
    if dtype is not None:
        try:
            resolved = np.dtype(dtype)
        except TypeError:
            resolved = None
        if resolved is None or resolved.kind not in "biufc":
            raise TypeError(
                f"{op}: expected a dtype (such as chainrule.float64) or a device (such as 'cpu'). "
                f"Got {dtype!r} instead."
            )
        dtype = resolved
    return device, dtype, bool(non_blocking), bool(copy)


from . import ops  # noqa: E402  (ops import Tensor; imported last to avoid a cycle)


def _host_refusal(t) -> str:
    return (
        f"can't convert a {t.device} device tensor to a NumPy array; copy it to the host first "
        "with .cpu() (or .numpy(force=True))."
    )


def _writeable(array) -> bool:
    """False for memory that several elements share (an expanded view): NumPy marks those
    read-only; CuPy has no such flag, so look for a zero stride on a dim longer than 1."""
    if type(array) is np.ndarray:
        return array.flags.writeable
    return not any(stride == 0 and n > 1 for n, stride in zip(array.shape, array.strides))
