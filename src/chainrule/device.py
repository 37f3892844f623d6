"""Devices: where a tensor's numbers live. The CPU (NumPy), and 'cuda' (CuPy) where a GPU is.

``chainrule.device('cpu')`` and the ``device=`` argument of every factory, ``Tensor.to`` and
``Module.to`` work as in PyTorch. ``check_device`` is the single place that decides which devices
exist here: 'cpu' always; 'cuda' (index 0) when ``chainrule.backend.cuda_backend()`` finds CuPy
and a GPU, or the CPU stand-in is switched on for tests. Any other ('mps', 'cuda:1', or 'cuda'
without a GPU) is refused in one sentence.

In the package, the name ``chainrule.device`` is the class (as ``torch.device``); reach this
module's functions with ``from chainrule.device import check_device``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["device", "check_device", "get_default_device", "set_default_device"]

# The device types PyTorch knows, so that 'cuda' is "not available" while 'cdua' is a typo.
KNOWN_TYPES = (
    "cpu", "cuda", "mps", "xpu", "xla", "meta", "hpu", "mtia", "ipu", "hip", "ve", "fpga", "maia",
    "lazy", "vulkan", "mkldnn", "opengl", "opencl", "ideep", "privateuseone",
)


class device:  # noqa: N801 - PyTorch's name
    """A device: a type ('cpu', 'cuda', ...) and an optional index, as ``torch.device``.

    >>> chainrule.device('cpu')
    device(type='cpu')
    >>> chainrule.device('cuda:1').index
    1

    Making a device object never fails for a known type (as in PyTorch); using one chainrule does
    not have (in a factory, ``.to``) raises, naming it. As in PyTorch, a device equals another
    device of the same type and index, not a string: ``t.device == 'cpu'`` is False, so compare
    ``t.device.type == 'cpu'``.
    """

    __slots__ = ("_type", "_index", "_previous")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: give an index only with a device type string.")
            self._type, self._index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(
                f"device: expected a device type string such as 'cpu' (or a device). Got "
                f"{type!r} instead."
            )
        name, _, index_text = type.partition(":")
        if name not in KNOWN_TYPES:
            raise RuntimeError(
                f"device: unknown device type {name!r} in {type!r}; expected one of "
                f"{', '.join(KNOWN_TYPES)}."
            )
        if index_text:
            if index is not None:
                raise RuntimeError(f"device: {type!r} already names an index; do not pass one too.")
            if not index_text.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}; expected 'type:index'.")
            index = int(index_text)
        if index is not None and (
            isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or index < 0
        ):
            raise RuntimeError(f"device: the index must be a non-negative int. Got {index!r} instead.")
        self._type = name
        self._index = None if index is None else int(index)

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self):
        return self._index

    def __eq__(self, other):
        if not isinstance(other, device):
            return False  # as PyTorch: device('cpu') == 'cpu' is False
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self):
        return hash((self._type, self._index))

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __reduce__(self):
        return (device, (self._type, self._index))

    def __enter__(self):
        """``with chainrule.device('cpu'):`` makes factories default to this device inside the
        block, as in PyTorch; entering another device is refused (``check_device``)."""
        global _default_device
        self._previous = _default_device
        _default_device = check_device("device", self)
        return self

    def __exit__(self, *exc):
        global _default_device
        _default_device = self._previous
        return False


CPU = device("cpu")
CUDA = device("cuda", 0)
_default_device = CPU


def check_device(op: str, dev=None) -> device:
    """The device a user asked for (None: the default device), once chainrule is known to have it.

    The one place that decides which devices exist: every factory, ``Tensor.to``, ``Module.to``
    and ``Generator`` call it, so the sentence for a missing device is the same everywhere.
    """
    if dev is None:
        return _default_device
    if isinstance(dev, (int, np.integer)) and not isinstance(dev, (bool, np.bool_)):
        dev = device("cuda", dev)  # PyTorch reads a bare index as an accelerator's
    resolved = device(dev) if isinstance(dev, (str, device)) else None
    if resolved is None:
        raise TypeError(
            f"{op}: device must be a string such as 'cpu' or a chainrule.device. Got {dev!r} instead."
        )
    if resolved.type == "cpu" and resolved.index in (None, 0):
        return CPU
    if resolved.type == "cuda" and resolved.index in (None, 0):
        from .backend import cuda_backend

        if cuda_backend() is not None:
            return CUDA
        raise RuntimeError(
            f"{op}: device {str(resolved)!r} is not available: chainrule runs on a GPU through "
            "CuPy, and found no CuPy with a GPU here (pip install chainrule[cuda] on a machine with "
            "an NVIDIA GPU); use device='cpu' or leave it out."
        )
    raise RuntimeError(
        f"{op}: device {str(resolved)!r} is not available; chainrule runs on 'cpu' and, with "
        "CuPy and a GPU, on 'cuda' (index 0)."
    )


def is_device(value) -> bool:
    """True when ``value`` names a device (a device, or a string such as 'cpu' or 'cuda:0'), as
    ``Tensor.to`` must tell ``to('cpu')`` from ``to('float64')``."""
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.partition(":")[0] in KNOWN_TYPES


def get_default_device() -> device:
    """The device factories use when given none (the CPU unless set otherwise)."""
    return _default_device


def set_default_device(dev) -> None:
    """Set the device factories use when given none ('cpu', or 'cuda' where it exists; None is
    the CPU)."""
    global _default_device
    _default_device = CPU if dev is None else check_device("set_default_device", dev)
