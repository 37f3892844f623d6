"""Where a tensor's numbers live, and the array library that computes on them.

A Tensor holds one array: a NumPy array on the CPU, a CuPy array on the ``cuda`` device. Every op
is written once, with NumPy's functions; given CuPy arrays, NumPy hands the work to CuPy
(``np.exp(gpu_array)`` runs on the GPU and returns a GPU array). Only code that makes a new array
from nothing (``np.zeros(shape)``) must ask which library to use: ``get_array_module(x)`` answers
from the arrays at hand, as DeZero's function of that name.

This module is the one place that knows the devices' array libraries:

- ``get_array_module(*values)``: ``numpy``, or the ``cuda`` device's library when a value lives
  there;
- ``device_of(array)``, ``to_device(array, device)``, ``to_numpy(array)``: the moves between host
  and device, always on purpose (a device array refuses to become a NumPy array implicitly);
- ``device_mismatch(op, *arrays)``: the one sentence for arrays on two devices;
- ``cuda_backend()``: CuPy when it is installed and sees a GPU; the CPU stand-in
  (``chainrule.standin``) after ``use_standin_cuda()`` or with ``CHAINRULE_CUDA=standin`` in the
  environment; None otherwise (then ``'cuda'`` is refused by ``check_device``).

CuPy is optional (``pip install chainrule[cuda]``); importing chainrule never imports it.
"""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = [
    "get_array_module", "device_of", "to_device", "to_numpy", "to_device_of", "is_device_array",
    "is_array", "as_array", "contiguous", "zeros_on", "ones_on", "arange_on", "cuda_backend",
    "use_standin_cuda", "device_mismatch", "outside_range", "array_module", "check_later",
    "run_pending_checks", "check_same_device", "held_only_by", "data_address",
]


class CudaBackend:
    """The ``cuda`` device's array library: ``xp`` (the module), its array type, the copies."""

    def __init__(self, name: str, xp, array_type, to_host):
        self.name = name            # 'cupy' or 'standin'
        self.xp = xp                # module-like: xp.zeros, xp.asarray, ...
        self.array_type = array_type
        self._to_host = to_host

    def to_device(self, array):
        return self.xp.asarray(array)

    def to_host(self, array) -> np.ndarray:
        if _pending:
            run_pending_checks()
        return self._to_host(array)

    def synchronize(self) -> None:
        if self.name == "cupy":
            self.xp.cuda.runtime.deviceSynchronize()
        run_pending_checks()


_cuda: CudaBackend | None = None
_cuda_probed = False
_standin_forced = os.environ.get("CHAINRULE_CUDA", "") == "standin"


def _standin() -> CudaBackend:
    from . import standin

    return CudaBackend("standin", standin.xp, standin.StandInArray, standin.asnumpy)


def _probe_cupy() -> CudaBackend | None:
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # noqa: BLE001 - CuPy raises its own CUDA errors when no driver/GPU exists
        return None
    return CudaBackend("cupy", cupy, cupy.ndarray, cupy.asnumpy)


def cuda_backend() -> CudaBackend | None:
    """The ``cuda`` device's library, or None when chainrule has no GPU here."""
    global _cuda, _cuda_probed
    if _standin_forced:
        if _cuda is None or _cuda.name != "standin":
            _cuda = _standin()
        return _cuda
    if not _cuda_probed:
        _cuda, _cuda_probed = _probe_cupy(), True
    return _cuda


def use_standin_cuda(enabled: bool = True) -> None:
    """Back the ``cuda`` device with the CPU stand-in (True), or go back to CuPy if present (False).

    For tests of device code on machines without a GPU: tensors on 'cuda' then hold stand-in
    arrays, which compute with NumPy but refuse implicit conversion to NumPy as CuPy's arrays do.
    Tensors already made keep the arrays they hold: switch before making any.
    """
    global _standin_forced, _cuda, _cuda_probed
    try:
        if _cuda is not None and _cuda.name == "standin" and not enabled:
            run_pending_checks()  # the stand-in's own, answered while it is still the device
    finally:  # switched even when one of them fails
        _standin_forced = bool(enabled)
        if not enabled and _cuda is not None and _cuda.name == "standin":
            _cuda, _cuda_probed = None, False


def is_device_array(value) -> bool:
    """True for an array of the ``cuda`` device (CuPy's or the stand-in's)."""
    if type(value) is np.ndarray or _cuda is None:
        return False
    return isinstance(value, _cuda.array_type)


def _references(holder, name) -> int:
    return sys.getrefcount(getattr(holder, name))


class _Holder:
    __slots__ = ("_data",)

    def __init__(self, data):
        self._data = data


# the count for an array that one attribute alone holds (None where Python keeps no counts)
_ALONE = _references(_Holder(np.empty(0)), "_data") if hasattr(sys, "getrefcount") else None


def held_only_by(tensor) -> bool:
    """Whether ``tensor`` alone holds its array, and the array its memory: no other Tensor or
    name holds it, no view of it exists, it is no view itself. Then the array may be swapped for
    another that holds the same numbers (an optimizer's flat vector keeps parameters and gradients
    as its pieces this way) without anyone seeing a difference. Python's reference count answers,
    as NumPy's own ``ndarray.resize`` asks before it moves an array's memory; where Python keeps
    none (not CPython) the answer is False."""
    array = tensor._data
    if _ALONE is None or array.base is not None:
        return False
    del array
    if _references(tensor, "_data") != _ALONE:
        return False
    # (the stand-in's arrays wrap a NumPy array, which the stand-in's views hold: it counts too)
    return not hasattr(tensor._data, "_a") or _references(tensor._data, "_a") == _ALONE


def data_address(array) -> int:
    """Where ``array``'s first element lies in its device's memory (to tell whether arrays are
    consecutive pieces of one)."""
    if type(array) is np.ndarray:
        return array.__array_interface__["data"][0]
    inner = getattr(array, "_a", None)  # the stand-in's NumPy array
    return inner.__array_interface__["data"][0] if inner is not None else array.data.ptr


def is_array(value) -> bool:
    """True for an array of any device (a NumPy array, or a CuPy or stand-in one), as ops tell an
    array (backward) from a Tensor (backward_graph)."""
    return isinstance(value, np.ndarray) or is_device_array(value)


def get_array_module(*values):
    """The array library for these values (arrays or Tensors): NumPy, or the ``cuda`` device's.

    >>> get_array_module(np.zeros(3)) is np
    True
    """
    cuda = _cuda
    if cuda is not None:
        array_type = cuda.array_type
        for v in values:
            if isinstance(getattr(v, "_data", v), array_type):
                return cuda.xp
    return np


def device_of(array):
    """The chainrule device an array lives on."""
    from .device import CPU, CUDA

    return CUDA if is_device_array(array) else CPU


def device_mismatch(op: str, *arrays) -> str | None:
    """The sentence naming both devices when arrays live on different devices (as PyTorch
    says it), or None when they share one."""
    devices = {str(device_of(a)) for a in arrays if isinstance(a, np.ndarray) or is_device_array(a)}
    if len(devices) < 2:
        return None
    first, second = sorted(devices, reverse=True)[:2]
    return (
        f"{op}: expected all tensors to be on the same device, but found at least two devices, "
        f"{first} and {second}; move them with .to(device) first."
    )


def array_module(dev):
    """The array library of device ``dev`` (a chainrule.device): NumPy for the CPU, the ``cuda``
    device's for the GPU."""
    return cuda_backend().xp if dev.type == "cuda" else np


def check_same_device(op: str, value, like) -> None:
    """Refuse, as PyTorch does, a Tensor ``value`` (class targets, token ids, an index) on another
    device than the Tensor ``like`` it goes with, in one sentence naming both devices. Arrays and
    lists are constants and go to like's device; only a Tensor says where it lives."""
    data = getattr(value, "_data", None)
    if data is not None and hasattr(like, "_data"):
        mismatch = device_mismatch(op, data, like._data)
        if mismatch is not None:
            raise RuntimeError(mismatch)


def to_device(array, dev):
    """``array`` on device ``dev`` (a chainrule.device): the same array when it is already there,
    else a copy (host to GPU or back)."""
    if dev.type == "cuda":
        if is_device_array(array):
            return array
        return cuda_backend().to_device(np.asarray(array))
    return to_numpy(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array on the host: the array itself on the CPU, a copy of a device array."""
    if is_device_array(array):
        return _cuda.to_host(array)
    return np.asarray(array)


def as_array(value):
    """An op's result as an array: arrays (host or device) as they are, a number or NumPy scalar
    as a 0-d NumPy array (what ``np.asarray`` did, without pulling a device array to the host)."""
    if type(value) is np.ndarray or is_device_array(value):
        return value
    return np.asarray(value)


def to_device_of(value, like):
    """``value`` (an array, a number, or a tuple of them, such as an index) with its NumPy arrays
    moved to the device of array ``like``; unchanged when ``like`` is on the CPU."""
    if type(like) is np.ndarray or not is_device_array(like):
        return value
    if isinstance(value, tuple):
        return tuple(to_device_of(v, like) for v in value)
    if isinstance(value, np.ndarray):
        return _cuda.to_device(value)
    return value


def contiguous(array):
    """``array`` laid out in C order: itself when it is already, else a copy (on its device)."""
    return get_array_module(array).ascontiguousarray(array)


def zeros_on(like, shape, dtype=None):
    """Zeros of ``shape`` on the device of ``like`` (an array or a Tensor), in ``dtype`` (default:
    like's): ``np.zeros`` for code that must run on both devices."""
    like = getattr(like, "_data", like)
    return get_array_module(like).zeros(shape, dtype=like.dtype if dtype is None else dtype)


def ones_on(like, shape, dtype=None):
    """Ones of ``shape`` on the device of ``like``, as ``zeros_on``."""
    like = getattr(like, "_data", like)
    return get_array_module(like).ones(shape, dtype=like.dtype if dtype is None else dtype)


def arange_on(like, *args, dtype=None):
    """``np.arange(*args)`` on the device of ``like`` (an array or a Tensor), to read only (an
    index, a comparison): on a GPU the array made for the same arguments before is handed out
    again, because CuPy makes a range in Python, at the host cost of several operations."""
    xp = get_array_module(getattr(like, "_data", like))
    if xp is np:
        return np.arange(*args, dtype=dtype)
    key = ("arange", xp, tuple((type(a), a) for a in args),
           None if dtype is None else np.dtype(dtype).str)
    try:
        hash(key)
    except TypeError:  # (an argument that is not a number: made anew)
        return xp.arange(*args, dtype=dtype)
    return kept_on_device(key, lambda: xp.arange(*args, dtype=dtype))


def kept_on_device(key, make):
    """A device array to read only that depends on ``key`` alone (a range, the positions of an
    index): ``make()`` the first time, the same array after, the 32 asked for last kept. On the
    stand-in it is made read-only, so that a test sees any write to it."""
    found = _kept.get(key)
    if found is None:
        found = make()
        if hasattr(found, "_a"):
            found._a.flags.writeable = False
        if len(_kept) >= 32:
            _kept.pop(next(iter(_kept)))
        _kept[key] = found
    return found


_kept: dict = {}  # key (its first item names the maker) -> the device array


def outside_range(values, n: int, wait: bool = True):
    """Whether any of the integers ``values`` lies outside [0, n). Seen as unsigned, a negative
    integer is a huge one, so one comparison and one reduction answer it: a single wait for a
    GPU, where asking min() and max() in turn would wait twice. ``wait=False`` returns the
    answer as a 0-d boolean array of the values' device instead (for ``check_later``).
    (A dtype whose largest value is below n, such as int8 ids for 300 rows, is widened to int64
    first: viewed as uint8, -1 would be 255, which is below 300.)"""
    if n > np.iinfo(values.dtype).max:  # only negative values can be outside
        if values.dtype.kind == "u":
            answer = zeros_on(values, (), dtype=bool)
            return False if wait else answer
        values = values.astype(np.int64)
    if values.dtype.kind == "i":
        values = values.view(f"u{values.dtype.itemsize}")
    answer = (values >= n).any()
    if not wait:
        return answer
    if _pending:  # the host waits for the device here: the checks waiting for it are answered
        return run_pending_checks(answer)  # in the same copy to the host
    return bool(answer)


# ----- checks a GPU answers later ------------------------------------------------------------
# Reading a number computed on a GPU makes the host wait for every kernel queued before it, so a
# check of every step's token ids would stall every step. PyTorch checks such indices inside
# its kernels and reports a failure at the next synchronisation; chainrule does the same with
# array operations: the check's answer stays on the device until the host waits anyway.
_pending: list = []   # (0-d boolean device array: the check failed?, function that raises)
PENDING_LIMIT = 64    # at most this many checks wait for an answer (then one wait answers all)


def check_later(failed, fail) -> None:
    """Call ``fail()`` (which raises) if ``failed``, a 0-d boolean array, is True: at once on the
    CPU; on a GPU at the next moment the host waits for the device anyway (a copy to the host,
    ``.item()``, ``cuda.synchronize()``), or once ``PENDING_LIMIT`` checks are waiting."""
    if not is_device_array(failed):
        if failed:
            fail()
        return
    _pending.append((failed, fail))
    if len(_pending) >= PENDING_LIMIT:
        run_pending_checks()


def run_pending_checks(also=None):
    """Answer every check ``check_later`` left on the device, with one copy to the host, and
    raise the first failure (its message says it was found later, as a GPU reports it). ``also``,
    a 0-d boolean device array the caller needs, comes back in the same copy, as a bool."""
    if not _pending:
        return None if also is None else bool(also)
    pending = _pending[:]
    _pending.clear()  # (cleared in place: modules hold the list itself to look at it)
    flags = [failed for failed, _ in pending] + ([] if also is None else [also])
    answers = _cuda._to_host(get_array_module(flags[0]).stack(flags))
    for (_, fail), failed in zip(pending, answers):
        if failed:
            try:
                fail()
            except Exception as err:
                raise type(err)(f"{err} (Found on the GPU at the next synchronisation after the op "
                                "ran, as PyTorch reports a device-side check; results computed "
                                "since then are not valid.)") from None
    return None if also is None else bool(answers[-1])
