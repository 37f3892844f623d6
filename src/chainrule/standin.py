"""A CPU stand-in for the GPU's array library, so that the device plumbing is tested everywhere.

chainrule's ``cuda`` device keeps its numbers in CuPy arrays. CuPy copies NumPy's API, and NumPy
functions given a CuPy array hand the work to CuPy (NEP 13 and NEP 18), so each op has one
implementation for both devices. What differs is what CuPy refuses: it will not turn a GPU array
into a NumPy array behind your back (``np.asarray(gpu_array)`` raises; ``.get()`` copies to the
host on purpose), and it will not mix a NumPy array into a GPU computation. A forgotten
``np.asarray`` or an index array made on the host works on the CPU and fails on a GPU.

``StandInArray`` behaves the same way on a machine without a GPU: it holds a NumPy array, runs
every NumPy function and operator on it (so results equal the CPU's bit for bit), and refuses
those conversions, plus the NumPy features CuPy lacks that chainrule could reach for (ufunc
methods, arguments of indices/repeat/sort, ``flags.writeable``: see ``_check_ufunc``).
``chainrule.backend.use_standin_cuda()`` puts it behind the ``cuda`` device; the test suite does
so where no GPU is present, so every device test runs on every machine.
It is a testing device, slower than NumPy itself, not a way to run models.
"""

from __future__ import annotations

import collections
import os
import sys
import types
import weakref

import numpy as np

__all__ = ["StandInArray", "xp", "asnumpy", "counts"]

_REFUSAL = (
    "Implicit conversion to a NumPy array is not allowed (a device array); copy it to the host "
    "on purpose with .get(), or Tensor.cpu() / Tensor.numpy() on a chainrule tensor."
)


def _mixed(where: str) -> TypeError:
    return TypeError(
        f"{where}: a NumPy (host) array was mixed into a device computation; move it to the "
        "device first (as CuPy refuses the same)."
    )


def _unwrap(value, where: str, strict: bool = True):
    """The NumPy arrays inside ``value`` (nested lists and tuples too); a NumPy array that is
    not a stand-in's is refused when ``strict`` (CuPy refuses host arrays in its functions).
    ``strict='data'`` lets integer host arrays through (axes, shapes and indices given to a
    function), refusing the others."""
    if type(value) is StandInArray:
        return value._a
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v, where, strict) for v in value)
    if strict and isinstance(value, np.ndarray) and (strict is True or value.dtype.kind not in "iu"):
        raise _mixed(where)
    return value


def _owner_wrapper(view: np.ndarray):
    """The wrapper of the NumPy array that owns ``view``'s memory (made if there is none); for
    ``view.base`` an array (the caller checks), the root of its chain of bases is one too."""
    owner = view.base
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    wrapper = _owners.get(id(owner))
    if wrapper is None or wrapper._a is not owner:
        wrapper = StandInArray(owner)
    return wrapper


def _wrap(value):
    """Results back on the stand-in device; a NumPy scalar from a reduction becomes a 0-d array,
    as CuPy returns."""
    if type(value) is np.ndarray:
        return StandInArray(value)
    if isinstance(value, np.generic):
        return StandInArray(np.asarray(value))
    if type(value) in (list, tuple):
        return type(value)(_wrap(v) for v in value)
    return value


# ----- where CuPy (13, 14) differs from NumPy in what it accepts --------------------------------
_COMPARISONS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"}
# ufunc methods CuPy has, and for ``at`` the dtypes it takes (CUDA's atomics)
_UFUNC_METHODS = {"reduce": {"add", "multiply"}, "accumulate": {"add", "multiply"},
                  "reduceat": {"add"}, "at": {"add", "maximum", "minimum"}}
_AT_DTYPES = {"add": "efdiIQL", "maximum": "fdiIQL", "minimum": "fdiIQL"}


def _check_ufunc(ufunc, method, inputs, where: str) -> None:
    name = ufunc.__name__
    operands = inputs[:1] + inputs[2:] if method == "at" else inputs  # at's second is an index
    if any(isinstance(x, (list, tuple)) for x in operands):
        raise TypeError(f"{where}: a list operand (CuPy takes arrays and numbers only).")
    if method == "at" and isinstance(inputs[1], tuple) and not _direct_at:
        raise TypeError(f"{where}: a tuple index given to NumPy's ufunc (CuPy's arrays hand it "
                        f"back); call the device library's own ufunc, xp.{name}.at.")
    if method == "at" and any(isinstance(i, np.ndarray) for i in
                              (inputs[1] if isinstance(inputs[1], tuple) else (inputs[1],))):
        raise _mixed(where)
    if method != "__call__":
        if name not in _UFUNC_METHODS.get(method, ()):
            raise NotImplementedError(f"{where}: CuPy has no {name}.{method}.")
        if method == "at" and np.dtype(inputs[0].dtype).char not in _AT_DTYPES[name]:
            raise TypeError(f"{where}: CuPy's {name}.at takes no {inputs[0].dtype} arrays.")


_direct_at = False  # True while a ufunc's at() runs through the device library (xp.add.at)


class _DeviceUfunc:
    """A ufunc reached through the device library (``xp.add``, as ``cupy.add``): the same ufunc,
    except that its ``at`` takes a tuple index, which NumPy's own ufunc handed a CuPy array does
    not (CuPy's ``__array_ufunc__`` returns NotImplemented for a tuple operand)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return self._ufunc(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._ufunc, name)

    def at(self, a, indices, b=None):
        global _direct_at
        _direct_at = True
        try:
            return self._ufunc.at(a, indices) if b is None else self._ufunc.at(a, indices, b)
        finally:
            _direct_at = False


def _check_function(name: str, args, kwargs, where: str) -> None:
    if name == "as_strided" and ({"writeable", "subok"} & kwargs.keys() or len(args) > 3):
        raise TypeError(f"{where}: CuPy's as_strided takes x, shape and strides only.")
    if name == "indices" and "sparse" in kwargs:
        raise TypeError(f"{where}: CuPy's indices has no sparse= argument.")
    if name == "repeat":
        repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
        if type(repeats) is StandInArray:
            raise ValueError(f"{where}: CuPy takes no device array as repeats (give a list).")
    if name in ("sort", "argsort") and kwargs.get("kind", args[2] if len(args) > 2 else None) \
            not in (None, "stable"):
        raise ValueError(f"{where}: CuPy's {name} takes kind=None or 'stable' only.")


class Counts:
    """What device code asked of the array library, counted while ``counting`` is True: ``calls``,
    the operations that would each launch a GPU kernel (views, reshapes and basic slices launch
    none and are not counted), ``waits``, the times the host needed a device value (bool, float,
    int, item, a copy to the host, a boolean mask), each a wait for every kernel queued before
    it, and ``uploads``, copies from the host to the device. On a GPU whose every launch costs the
    host tens of microseconds, these numbers say where a launch-bound step's time goes
    (benchmarks/run_gpu.py --count). They are estimates: a NumPy function counts as one launch
    even where CuPy's version makes several."""

    def __init__(self):
        self.counting = False
        self.calls = 0
        self.waits = 0
        self.uploads = 0  # copies from the host to the device
        self.sites = None  # with where(): a Counter of launches per line of the caller's code

    def reset(self):
        self.calls = self.waits = self.uploads = 0
        if self.sites is not None:
            self.sites.clear()

    def where(self, on: bool = True) -> None:
        """Also count the launches per line of code that asked for them (the innermost frame
        outside this module and NumPy): ``sites``, a Counter of 'file:line function' (slow)."""
        self.sites = collections.Counter() if on else None

    def _record(self, n) -> None:
        frame = sys._getframe(2)
        while frame is not None and (frame.f_code.co_filename in _NOT_CALLERS
                                     or f"{os.sep}numpy{os.sep}" in frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None:
            code = frame.f_code
            name = code.co_filename.rsplit(f"{os.sep}src{os.sep}", 1)[-1]
            self.sites[f"{name}:{frame.f_lineno} {code.co_name}"] += n


counts = Counts()
# the files whose lines are never the launch site: this one, and the fused kernels' (their
# launch is the op's line that calls the kernel)
_NOT_CALLERS = {__file__, os.path.join(os.path.dirname(__file__), "kernels.py")}
# functions and ndarray methods that return a view or metadata: no kernel
_VIEWS = {"reshape", "view", "transpose", "swapaxes", "squeeze", "ravel", "as_strided",
          "broadcast_to", "expand_dims", "shape", "ndim", "size", "result_type",
          "may_share_memory"}  # (CuPy compares the arrays' memory bounds on the host)


# functions whose result's size depends on the values: CuPy reads them from the device first
_SIZED_BY_VALUES = {"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"}


def _matmul_copies(*operands) -> int:
    """The copies CuPy makes of matrix product operands before its cuBLAS call, each a kernel of
    its own: in a product of stacks of matrices (more than 2 dims) every operand that is not
    C-contiguous (a transposed view, say), in a product of two matrices one that is neither C- nor
    F-contiguous (cuBLAS reads either through its transpose flags)."""
    arrays = [x._a if isinstance(x, StandInArray) else x for x in operands]
    arrays = [x for x in arrays if isinstance(x, np.ndarray)]
    if not counts.counting or not arrays:
        return 0
    if max(x.ndim for x in arrays) > 2:
        return sum(not x.flags.c_contiguous for x in arrays)
    return sum(not (x.flags.c_contiguous or x.flags.f_contiguous) for x in arrays)


def _already_contiguous(name, args, kwargs) -> bool:
    """Whether the function ``name`` is ascontiguousarray given an array that already is (and no
    other dtype): CuPy returns it as it is, launching nothing."""
    if name != "ascontiguousarray" or not args or not isinstance(args[0], StandInArray):
        return False
    dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
    return args[0]._a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == args[0].dtype)


def _waited():
    if counts.counting:
        counts.waits += 1


def _launched(n=1):
    if counts.counting:
        counts.calls += n
        if counts.sites is not None and n:
            counts._record(n)


class _Flags:
    """The flags a CuPy array has."""

    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous, self.owndata = (
            flags.c_contiguous, flags.f_contiguous, flags.owndata)


class StandInArray(np.lib.mixins.NDArrayOperatorsMixin):
    """A NumPy array that refuses to leave its (pretend) device implicitly, as a CuPy array does."""

    __slots__ = ("_a", "_owner", "__weakref__")
    __array_priority__ = 100.0

    def __init__(self, array: np.ndarray):
        self._a = array
        self._owner = None
        if not isinstance(array.base, np.ndarray):  # owns its memory (or rests on a buffer that
            _owners[id(array)] = self  # is no array): the one wrapper views name as their base
        else:  # a view holds its owner's wrapper, as a CuPy view holds its base
            self._owner = _owner_wrapper(array)

    # -- what CuPy refuses ---------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_REFUSAL)

    # -- NumPy's functions and operators, run on the array inside --------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        _check_ufunc(ufunc, method, inputs, where)
        _launched()
        if ufunc is np.matmul:
            _launched(_matmul_copies(*inputs))
        if ufunc.__name__ in _COMPARISONS:  # CuPy takes a 0-d host array there (as a number)
            inputs = tuple(x.item() if type(x) is np.ndarray and x.ndim == 0 else x for x in inputs)
        args = _unwrap(inputs, where)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _unwrap(out, where)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:  # written in place: the same device arrays, as NumPy returns its out
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        where = f"numpy.{func.__name__}"
        _check_function(func.__name__, args, kwargs, where)
        _launched(func.__name__ not in _VIEWS)
        if func.__name__ in _SIZED_BY_VALUES:
            _waited()
        args = _unwrap(args, where, "data")
        return _wrap(func(*args, **{k: _unwrap(v, where, "data") for k, v in kwargs.items()}))

    # -- the ndarray surface --------------------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__"):  # never NumPy's own doors (__array_interface__, __array_struct__)
            raise AttributeError(name)
        attribute = getattr(self._a, name)
        if not callable(attribute):
            return _wrap(attribute) if type(attribute) is np.ndarray else attribute

        def method(*args, **kwargs):
            where = f"ndarray.{name}"
            if name in ("item", "tolist"):
                _waited()
            elif name in _SIZED_BY_VALUES:
                _launched()
                _waited()
            elif name not in _VIEWS and not (name == "astype" and kwargs.get("copy") is False
                                             and np.dtype(args[0]) == self._a.dtype):
                _launched()
                if name == "dot":
                    _launched(_matmul_copies(self, *args))
            args = _unwrap(args, where, "data")
            return _wrap(attribute(*args, **{k: _unwrap(v, where, "data") for k, v in kwargs.items()}))

        return method

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def flags(self):
        """CuPy's flags: c_contiguous, f_contiguous, owndata (no writeable: CuPy has none)."""
        return _Flags(self._a.flags)

    @property
    def base(self):
        """The array that owns this view's memory (None for an owner), the same object each time,
        as CuPy's (the engine's in-place version counter keys on it)."""
        return self._owner

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return StandInArray(self._a.T)

    def __getitem__(self, index):
        index = _wrap_around(_unwrap(index, "indexing", strict=False), self._a.shape)
        result = self._a[index]
        _launched(_advanced(index))
        if isinstance(result, np.generic):  # one element: a 0-d view, as CuPy gives, not a copy
            return StandInArray(self._a[(*index, Ellipsis) if type(index) is tuple else (index, Ellipsis)])
        return _wrap(result)

    def __setitem__(self, index, value):
        _launched()
        index = _wrap_around(_unwrap(index, "indexing", strict=False), self._a.shape)
        self._a[index] = _unwrap(value, "assignment")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for row in self._a:
            yield _wrap(row)

    def __bool__(self):
        _waited()
        return bool(self._a)

    def __float__(self):
        _waited()
        return float(self._a)

    def __int__(self):
        _waited()
        return int(self._a)

    def __complex__(self):
        _waited()
        return complex(self._a)

    def __copy__(self):
        return StandInArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StandInArray(self._a.copy())

    def get(self) -> np.ndarray:
        """A NumPy copy on the host, on purpose (CuPy's name)."""
        _waited()
        return self._a.copy()

    def __repr__(self):
        return repr(self._a).replace("array(", "standin_array(", 1)

    __hash__ = None


def _wrap_around(index, shape):
    """Integer index arrays taken modulo their axis's length: CuPy does not check them against
    the array's bounds (it wraps around), so code that relies on NumPy's IndexError for an
    index out of range is wrong on a GPU. (Indexes with None or Ellipsis are left as they are.)"""
    parts = index if type(index) is tuple else (index,)
    if (len(parts) > len(shape) or any(p is None or p is Ellipsis for p in parts)
            or any(type(p) is np.ndarray and p.dtype.kind == "b" for p in parts)  # (a mask spans
            or not any(type(p) is np.ndarray and p.dtype.kind in "iu" for p in parts)):  # axes)
        return index
    wrapped = tuple(np.mod(p.astype(np.int64), n) if type(p) is np.ndarray and p.dtype.kind in "iu"
                    and n else p for p, n in zip(parts, shape))
    return wrapped if type(index) is tuple else wrapped[0]


def _advanced(index) -> bool:
    """Whether an index gathers (arrays or masks in it: a kernel) rather than slices (a view).
    A boolean mask also counts as a wait: the result's size is the number of Trues, which CuPy
    reads from the device."""
    parts = index if type(index) is tuple else (index,)
    if any(type(part) is np.ndarray and part.dtype.kind == "b" for part in parts):
        _waited()
    return any(isinstance(part, (np.ndarray, list)) for part in parts)


# id(NumPy array) -> the stand-in array that wraps it, for arrays that own their memory
_owners: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def asnumpy(a) -> np.ndarray:
    """A host (NumPy) copy of a stand-in array; NumPy arrays and numbers as NumPy arrays."""
    if type(a) is StandInArray:
        _waited()
        return a._a.copy()
    return np.asarray(a)


def _asarray(obj, dtype=None, order=None, *, copy=False):
    if type(obj) is StandInArray:
        if dtype is None or np.dtype(dtype) == obj.dtype:
            return obj.copy() if copy else obj
        _launched()
        return StandInArray(obj._a.astype(dtype))
    if counts.counting:
        counts.uploads += 1
    return StandInArray(np.array(_unwrap(obj, "asarray", strict=False), dtype=dtype, order=order))


def _array(obj, dtype=None, copy=True, order="K", ndmin=0):
    if type(obj) is StandInArray and not copy and ndmin == 0:
        return _asarray(obj, dtype)
    if counts.counting:
        if type(obj) is StandInArray:
            counts.calls += 1
        else:
            counts.uploads += 1
    return StandInArray(np.array(_unwrap(obj, "array", strict=False), dtype=dtype, order=order, ndmin=ndmin))


class _Namespace:
    """NumPy's module as a device array library: functions take and return stand-in arrays."""

    def __init__(self, module, special=None):
        self._module = module
        self._special = special or {}

    def __getattr__(self, name):
        if name in self._special:
            return self._special[name]
        attribute = getattr(self._module, name)
        if isinstance(attribute, types.ModuleType):
            return _Namespace(attribute)
        if isinstance(attribute, np.ufunc):
            return _DeviceUfunc(attribute)  # dispatches to the array itself
        if isinstance(attribute, type) or not callable(attribute):
            return attribute  # dtypes, constants

        def function(*args, **kwargs):
            where = f"{self._module.__name__}.{name}"
            _check_function(name, args, kwargs, where)
            _launched(name not in _VIEWS and not _already_contiguous(name, args, kwargs))
            if name in _SIZED_BY_VALUES:
                _waited()
            args = _unwrap(args, where, "data")
            return _wrap(attribute(*args, **{k: _unwrap(v, where, "data") for k, v in kwargs.items()}))

        return function


xp = _Namespace(np, {"ndarray": StandInArray, "asarray": _asarray, "array": _array, "asnumpy": asnumpy})
