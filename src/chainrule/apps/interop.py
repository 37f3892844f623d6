"""PyTorch interop: chainrule and PyTorch state dicts are the same layout, so weights move both ways.

A chainrule model's ``state_dict()`` uses PyTorch's names and shapes: an ordered mapping from dotted
names ('0.weight', '0.bias', '2.weight', ...) to arrays, ``Linear.weight`` of shape (out, in). Only
the container of the numbers differs (NumPy arrays here, torch tensors there), so crossing over is a
copy per entry:

    torch_sd = to_torch_state_dict(model.state_dict())       # -> OrderedDict of torch tensors
    torch_model.load_state_dict(torch_sd)                     # a torch.nn.Sequential of the same layers
    model.load_state_dict(from_torch_state_dict(torch_model.state_dict()))
    model.load_state_dict(load_torch_file("weights.pt"))      # a .pt/.pth written by torch.save

Every value is copied (never a view of the other library's memory), keeps its dtype and its shape,
and comes out C-contiguous. PyTorch is optional: it is imported inside the functions that need it,
and a missing PyTorch gives an ImportError saying how to install it.

Why ``load_torch_file`` loads with ``weights_only=True`` only: a ``.pt`` file is a zip holding a
pickle, and unrestricted unpickling runs whatever code the file names, so opening a downloaded
checkpoint could take over the machine. PyTorch's weights-only unpickler builds tensors and plain
containers (dict, list, tuple, numbers, strings) and refuses everything else, so a file holding a
pickled object (a whole ``nn.Module``, an arbitrary class) is refused rather than executed.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

from ..backend import is_device_array, to_numpy
from ..files import open_regular
from ..tensor import Tensor

__all__ = ["to_torch_state_dict", "from_torch_state_dict", "load_torch_file"]

# Where a training checkpoint saved with torch.save usually keeps its model's state dict.
_NESTED_KEYS = ("state_dict", "model")


def _torch():
    from .torch_twin import require_torch  # its ImportError names pip install torch==2.13.0

    return require_torch()


def _as_array(value, key, where: str) -> np.ndarray:
    """A C-contiguous copy of ``value`` (NumPy array, chainrule Tensor or torch tensor)."""
    if isinstance(value, Tensor):
        value = to_numpy(value._data)  # a GPU tensor's numbers copied to the host
    elif is_device_array(value):
        value = to_numpy(value)
    elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        try:
            value = value.detach().cpu().numpy()
        except TypeError as err:  # a dtype NumPy has no counterpart for, such as bfloat16
            raise TypeError(
                f"{where}: the value for {key!r} has dtype {value.dtype}, which NumPy cannot "
                f"hold ({err}); convert it with .float() before importing."
            ) from None
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{where}: the value for {key!r} must be a tensor or an array. Got "
            f"{type(value).__name__} instead."
        )
    if value.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: the value for {key!r} must hold numbers. Got an array of dtype "
            f"{value.dtype} instead."
        )
    return np.array(value, dtype=value.dtype.newbyteorder("="), order="C", copy=True)


def _check_mapping(state_dict, where: str) -> None:
    if not hasattr(state_dict, "items"):
        raise TypeError(f"{where}: expected a state dict (a mapping from names to tensors). Got "
                        f"{type(state_dict).__name__} instead.")
    for key in state_dict.keys():
        if not isinstance(key, str):
            raise TypeError(f"{where}: state dict keys must be strings such as '0.weight'. Got "
                            f"{key!r} of type {type(key).__name__} instead.")


def to_torch_state_dict(state_dict) -> OrderedDict:
    """An OrderedDict of torch tensors with the same keys, in the same order, with the same dtypes
    and shapes as ``state_dict`` (arrays or chainrule Tensors); each tensor is a contiguous copy,
    ready for ``torch.nn.Module.load_state_dict`` or ``torch.save``."""
    torch = _torch()
    _check_mapping(state_dict, "to_torch_state_dict")
    return OrderedDict(
        (key, torch.from_numpy(_as_array(value, key, "to_torch_state_dict")))
        for key, value in state_dict.items()
    )


def from_torch_state_dict(state_dict) -> dict:
    """A dict of NumPy arrays (same keys, order, dtypes and shapes, each a C-contiguous copy) from
    a torch state dict, or from any mapping of names to torch tensors, NumPy arrays or chainrule
    Tensors; ready for chainrule's ``Module.load_state_dict``.

    Needs no PyTorch when the values are arrays (a torch tensor cannot exist without it).
    """
    _check_mapping(state_dict, "from_torch_state_dict")
    return {key: _as_array(value, key, "from_torch_state_dict")
            for key, value in state_dict.items()}


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


# Bounds on what a PyTorch file may unpack to, checked from the zip's directory before any member
# is read: a few megabytes of deflated zeros can claim gigabytes (a zip bomb). torch.save stores
# its members uncompressed, so a member that inflates more than MAX_RATIO times is no torch.save
# file; MAX_TOTAL bounds everything (the weights of any network chainrule trains are far smaller).
MAX_MEMBERS = 100_000
MAX_RATIO = 20
MAX_TOTAL = 1 << 30  # 1 GiB


def _looks_like_torch_file(path: str, handle) -> bool:
    """True for a zip archive (torch.save's format since PyTorch 1.6) or a file starting with the
    pickle protocol byte 0x80 (the legacy format), so that other files get their own message. A
    zip is checked against the bounds above first (ValueError naming the member)."""
    try:
        is_zip = zipfile.is_zipfile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path} is a damaged zip archive, not a PyTorch file that can be read "
                         f"({_first_line(err)}).") from None
    if is_zip:
        _check_zip_sizes(path, handle)
        return True
    handle.seek(0)
    return handle.read(1) == b"\x80"


def _check_zip_sizes(path: str, handle) -> None:
    """ValueError unless every member of the zip in ``handle`` unpacks to a bounded size."""
    try:
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError) as err:
        raise ValueError(f"{path} is a damaged zip archive, not a PyTorch file that can be read "
                         f"({_first_line(err)}).") from None
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"{path} is a zip archive of {len(members)} members, more than the "
                         f"{MAX_MEMBERS} a PyTorch file of weights may have.")
    total = 0
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > (1 << 20) and ratio > MAX_RATIO:
            raise ValueError(f"{path}: the zip member {info.filename!r} claims {info.file_size} "
                             f"bytes from {info.compress_size} ({ratio:.0f} times), more than "
                             f"the {MAX_RATIO} times a PyTorch file may inflate; it is refused "
                             "unread (a zip bomb?).")
        total += info.file_size
        if total > MAX_TOTAL:
            raise ValueError(f"{path}: the zip members claim more than {MAX_TOTAL} bytes in all, "
                             "more than a PyTorch file of weights may hold; it is refused unread.")
    handle.seek(0)


def _is_tensor_dict(torch, obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(value, torch.Tensor) for value in obj.values())


def load_torch_file(path) -> dict:
    """The state dict in the PyTorch file ``path`` (.pt/.pth), as a dict of NumPy arrays.

    The file is read with ``torch.load(path, map_location="cpu", weights_only=True)`` and never
    with unrestricted unpickling, which would run any code the file names (see the module
    docstring). Accepted contents: a state dict (a dict of tensors), or a dict whose 'state_dict'
    or 'model' entry is one (how training checkpoints often nest it). Anything else is a ValueError
    naming the file and what it holds; a missing file is FileNotFoundError.
    """
    torch = _torch()
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(path, str) and os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a PyTorch file (.pt).")
    with open_regular(path, "rb", what="the PyTorch file") as handle:
        if not _looks_like_torch_file(path, handle):
            raise ValueError(f"{path} is not a PyTorch file: it is neither a zip archive written "
                             "by torch.save nor a legacy torch.save pickle.")
        handle.seek(0)
        return _state_dict_of(torch, path, _torch_load(torch, path, handle))


def _torch_load(torch, path, handle):
    """torch.load(weights_only=True) of the open file, its failures as one ValueError."""
    try:
        return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path} holds Python objects other than tensors and plain containers, which "
            "torch.load(weights_only=True) refuses to unpickle (that could run code); save "
            "model.state_dict() instead of the model or another object."
        ) from None
    except Exception as err:  # torch.load reports a foreign or damaged file in many ways
        # Its own messages (RuntimeError, ...) say what is wrong; a KeyError or IndexError from
        # deep inside its unpickler says only that the bytes are damaged.
        said = isinstance(err, (RuntimeError, ValueError, OSError, EOFError, zipfile.BadZipFile))
        why = _first_line(err) if said else "it is damaged: torch.load failed while reading it"
        raise ValueError(f"{path} is not a PyTorch file that torch.load can read ({why}).") \
            from None


def _state_dict_of(torch, path, obj) -> dict:
    """The state dict in what torch.load returned (see load_torch_file)."""
    if _is_tensor_dict(torch, obj):
        return from_torch_state_dict(obj)
    if isinstance(obj, dict):
        for key in _NESTED_KEYS:
            if _is_tensor_dict(torch, obj.get(key)):
                return from_torch_state_dict(obj[key])
        if not obj:
            raise ValueError(f"{path} holds an empty dict, not a state dict.")
        others = [repr(key) for key, value in obj.items() if not isinstance(value, torch.Tensor)]
        raise ValueError(
            f"{path} holds a dict that is not a state dict: its entries {', '.join(others[:5])} "
            "are not tensors, and it has no 'state_dict' or 'model' entry holding one."
        )
    raise ValueError(f"{path} holds a {type(obj).__name__}, not a state dict (a dict of names "
                     "to tensors, as written by torch.save(model.state_dict(), path)).")
