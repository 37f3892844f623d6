"""Checkpoints: ``save(obj, path)`` and ``load(path)`` in a small format that can never run code.

What can be stored: nested dicts, lists and tuples whose leaves are NumPy arrays, chainrule Tensors,
NumPy scalars, Python numbers (int, float, bool), None and strings. Dict keys may be strings or ints
(an optimizer's state is keyed by parameter index) and keep their type and their order.

What comes back is plain data:
- a Tensor (or Parameter) is saved as its array and loaded back as a NumPy array (no grad, no
  graph); copy it into a model with ``load_state_dict`` or wrap it with ``chainrule.tensor``;
- any dict (OrderedDict included) comes back as a plain dict in the same order, any tuple
  (namedtuple included) as a tuple;
- arrays come back C-contiguous, writable, in native byte order, with their dtype and shape;
- NumPy scalars come back as NumPy scalars of the same dtype.

Why not pickle: loading a pickle runs whatever code the file names, so a checkpoint downloaded from
anywhere could take over the machine. ``load`` refuses pickles (PyTorch ``.pt`` zips, ``.npz`` and
``.npy`` files holding object arrays, raw pickles) whatever the file is called.

The file format (version 1), every integer little-endian::

    offset 0   magic          14 bytes  b"\\x89CHAINRULE\\r\\n\\x1a\\n"
    offset 14  version        uint16    1
    offset 16  header_nbytes  uint64    length of the header in bytes
    offset 24  header_crc32   uint32    zlib.crc32 of the header bytes
    offset 28  header         JSON text (ASCII), right-padded with spaces so the data starts at a
                              multiple of 64 bytes
    then       data           the raw bytes of every array, each starting at a multiple of 64
                              bytes from the start of the data, zero bytes in between

The magic, like PNG's, catches the usual ways a file gets damaged in transit: the non-ASCII first
byte a 7-bit channel, the \\r\\n and \\n a newline conversion.

The header is one JSON object::

    {"format": "chainrule", "data_nbytes": 4160, "root": NODE}

and each NODE is a JSON object with a "type":

    {"type": "none"}
    {"type": "bool", "value": true}
    {"type": "int", "value": 3}
    {"type": "float", "value": 0.1}       value is a number or one of "nan", "inf", "-inf"
                                          (JSON cannot hold non-finite numbers)
    {"type": "str", "value": "relu"}
    {"type": "list", "items": [NODE, ...]}
    {"type": "tuple", "items": [NODE, ...]}
    {"type": "dict", "items": [[KEY, NODE], ...]}    KEY a JSON string or integer, in order
    {"type": "array", "dtype": "float32", "shape": [2, 3], "offset": 0, "nbytes": 24,
     "crc32": 123456789, "scalar": false}             offset counts from the start of the data;
                                                      "scalar": true for a NumPy scalar

The bytes of an array are its elements in C order, little-endian, of one of the dtypes in
``DTYPES``. Every array's bytes carry a CRC-32, so a flipped bit is reported rather than loaded.

Loading checks everything before it trusts it: the magic, the version, that the header fits in the
file and matches its checksum, that it is valid JSON of the shape above, that every dtype is on the
list, that every shape agrees with its byte count, and that every array lies inside the data. Every
size is checked against the size of the file before anything is allocated, so a damaged or
malicious file gives a ``CheckpointError`` naming the file and the problem, never a crash, a hang
or a huge allocation.

Saving is atomic: the checkpoint is written to a temporary file in the same folder, flushed and
fsync-ed, then renamed over ``path`` with ``os.replace`` (atomic on POSIX and Windows), and the
folder is fsync-ed so the rename survives a power cut. If anything fails on the way, the temporary
file is removed and the previous checkpoint at ``path`` is untouched.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib

import numpy as np

from .backend import is_device_array, to_device, to_numpy
from .device import CPU, check_device, device
from .files import atomic_write, open_regular
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION", "DTYPES"]

MAGIC = b"\x89CHAINRULE\r\n\x1a\n"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<14sHQI")  # magic, version, header_nbytes, header_crc32
ALIGNMENT = 64
MAX_NDIM = 64  # NumPy's own limit on the number of dims
_MAX_DIM = 2**62

DTYPES = {
    name: np.dtype(name).newbyteorder("<")
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64",
    )
}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CheckpointError(ValueError):
    """A file that is not a readable chainrule checkpoint: truncated, corrupt, foreign or newer."""


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------


def save(obj, path) -> None:
    """Write ``obj`` (a state dict, or any nesting of dicts, lists and tuples of arrays, Tensors,
    numbers, None and strings) to ``path``, atomically.

    >>> chainrule.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
    ...                "checkpoint.crk")

    Tensors are stored as their arrays (``load`` returns NumPy arrays). Raises TypeError, naming
    where in ``obj`` it is, for anything else (a set, a function, an object array, ...); nothing is
    written then.
    """
    path = _fspath("save", path)
    arrays = []
    root = _encode(obj, "", arrays, set())
    data_nbytes = 0
    for entry, _ in arrays:  # lay out the data: each array at the next multiple of ALIGNMENT
        entry["offset"] = _align(data_nbytes)
        data_nbytes = entry["offset"] + entry["nbytes"]
    header = {"format": "chainrule", "data_nbytes": data_nbytes, "root": root}
    header_bytes = json.dumps(header, ensure_ascii=True, allow_nan=False,
                              separators=(",", ":")).encode("ascii")
    header_bytes += b" " * (_align(_PREAMBLE.size + len(header_bytes)) - _PREAMBLE.size
                            - len(header_bytes))
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes), zlib.crc32(header_bytes))
    with atomic_write(path, "wb", what="save") as file:
        file.write(preamble)
        file.write(header_bytes)
        position = 0
        for entry, array in arrays:
            file.write(b"\0" * (entry["offset"] - position))
            _write_array_bytes(file, array)
            position = entry["offset"] + entry["nbytes"]


def _encode(obj, where: str, arrays: list, open_containers: set):
    """The header NODE for ``obj``; its arrays are appended to ``arrays`` as (entry, array)."""
    if isinstance(obj, Tensor):  # saved on the host, whatever the device
        return _encode_array(to_numpy(obj._data), where, arrays, scalar=False)
    if isinstance(obj, np.ndarray) or is_device_array(obj):
        return _encode_array(to_numpy(obj), where, arrays, scalar=False)
    if isinstance(obj, np.generic):  # before float: np.float64 is a subclass of float
        return _encode_array(np.asarray(obj), where, arrays, scalar=True)
    if obj is None:
        return {"type": "none"}
    if isinstance(obj, bool):
        return {"type": "bool", "value": obj}
    if isinstance(obj, int):
        return {"type": "int", "value": int(obj)}
    if isinstance(obj, float):
        value = float(obj)
        if not math.isfinite(value):
            value = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return {"type": "float", "value": value}
    if isinstance(obj, str):
        return {"type": "str", "value": str(obj)}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_containers:
            raise ValueError(f"save: the {type(obj).__name__} at {_where(where)} contains itself; "
                             "a checkpoint cannot hold a cycle.")
        open_containers.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = []
                for key, value in obj.items():
                    key = _encode_key(key, where)
                    node = _encode(value, f"{where}[{key!r}]", arrays, open_containers)
                    items.append([key, node])
                return {"type": "dict", "items": items}
            items = [_encode(value, f"{where}[{i}]", arrays, open_containers)
                     for i, value in enumerate(obj)]
            return {"type": "tuple" if isinstance(obj, tuple) else "list", "items": items}
        finally:
            open_containers.discard(id(obj))
    raise TypeError(
        f"save: cannot store {_a(type(obj).__name__)} at {_where(where)}; a checkpoint holds only "
        "dicts, lists, tuples, arrays, Tensors, numbers, None and strings."
    )


def _encode_key(key, where: str):
    if isinstance(key, str):
        return str(key)
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    raise TypeError(
        f"save: dict keys must be str or int; got {_a(type(key).__name__)} key {key!r} at "
        f"{_where(where)}."
    )


def _encode_array(array: np.ndarray, where: str, arrays: list, scalar: bool) -> dict:
    name = _dtype_name(array.dtype)
    if name is None:
        raise TypeError(
            f"save: cannot store an array of dtype {array.dtype} at {_where(where)}; allowed "
            f"dtypes are {', '.join(DTYPES)}."
        )
    stored = np.asarray(array, dtype=DTYPES[name], order="C")  # little-endian, C order, any ndim
    entry = {
        "type": "array", "dtype": name, "shape": list(stored.shape), "offset": 0,
        "nbytes": stored.nbytes, "crc32": zlib.crc32(_raw_bytes(stored)), "scalar": scalar,
    }
    arrays.append((entry, stored))
    return entry


def _write_array_bytes(file, array: np.ndarray) -> None:
    """Write the raw bytes of a C-contiguous little-endian array (a hook the tests break)."""
    file.write(_raw_bytes(array))


def _raw_bytes(array: np.ndarray) -> memoryview:
    return memoryview(array.reshape(-1).view(np.uint8))


def _dtype_name(dtype: np.dtype):
    """The DTYPES name of ``dtype`` (any byte order), or None if it is not allowed."""
    for name, allowed in DTYPES.items():
        if dtype.kind == allowed.kind and dtype.itemsize == allowed.itemsize and not dtype.fields:
            return name
    return None


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def load(path, map_location=None):
    """Read a checkpoint written by ``save``; arrays (and saved Tensors) come back as NumPy arrays,
    or as arrays on the device ``map_location`` names ('cuda', a ``chainrule.device``; None or
    'cpu': NumPy). Checkpoints are written from the host, so one saved on a GPU loads anywhere.

    Raises FileNotFoundError if ``path`` does not exist, IsADirectoryError or ValueError if it is
    not a regular file (a folder, a FIFO, a device: never opened, so never waited on), and
    CheckpointError (a ValueError) naming
    the file and the problem if it is not a readable chainrule checkpoint: truncated, corrupt,
    written by a newer chainrule, or a foreign format such as a pickle.
    """
    path = _fspath("load", path)
    if map_location is not None and not isinstance(map_location, (str, device)):
        raise TypeError(
            f"load: map_location must be a device such as 'cpu' or 'cuda' (or None). Got "
            f"{type(map_location).__name__} instead; chainrule does not take a function or a dict."
        )
    target = CPU if map_location is None else check_device("load", map_location)
    with open_regular(path, "rb", what="load: the checkpoint") as file:
        file_size = os.fstat(file.fileno()).st_size
        reader = _Reader(path, file, file_size)
        result = reader.read()
    return result if target == CPU else _mapped(result, target)


def _mapped(obj, target):
    """``obj`` as loaded, its arrays copied to device ``target``."""
    if isinstance(obj, np.ndarray):
        return to_device(obj, target)
    if isinstance(obj, dict):
        return type(obj)((k, _mapped(v, target)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_mapped(v, target) for v in obj)
    return obj


class _Reader:
    """Validates a checkpoint piece by piece, raising CheckpointError at the first problem."""

    def __init__(self, path: str, file, file_size: int):
        self.path = path
        self.file = file
        self.file_size = file_size

    def fail(self, problem: str):
        raise CheckpointError(f"load: {self.path!r} is not a valid chainrule checkpoint: {problem}")

    def read(self):
        preamble = self.file.read(_PREAMBLE.size)
        if not preamble.startswith(MAGIC[: len(preamble)]) or not preamble:
            raise CheckpointError(f"load: {self.path!r} {_describe_foreign(self.file, preamble)}")
        if len(preamble) < len(MAGIC) + 2:
            self.fail(f"the file is truncated: it has {self.file_size} bytes, fewer than the "
                      f"{_PREAMBLE.size}-byte preamble.")
        (version,) = struct.unpack_from("<H", preamble, len(MAGIC))
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"load: {self.path!r} was written by format version {version}; this chainrule "
                f"reads up to version {FORMAT_VERSION}; upgrade chainrule."
            )
        if version < 1:
            self.fail(f"the format version is {version}, but versions start at 1.")
        if len(preamble) < _PREAMBLE.size:
            self.fail(f"the file is truncated: it has {self.file_size} bytes, fewer than the "
                      f"{_PREAMBLE.size}-byte preamble.")
        _, _, header_nbytes, header_crc = _PREAMBLE.unpack(preamble)
        available = self.file_size - _PREAMBLE.size
        if header_nbytes > available:
            self.fail(f"truncated header: the preamble announces {header_nbytes} header bytes but "
                      f"only {available} follow.")
        header_bytes = self.file.read(header_nbytes)
        if len(header_bytes) != header_nbytes:
            self.fail(f"truncated header: read {len(header_bytes)} of {header_nbytes} bytes.")
        if zlib.crc32(header_bytes) != header_crc:
            self.fail("the header does not match its CRC-32 checksum (the file is corrupt).")
        header = self._parse_header(header_bytes)
        self.data_start = _PREAMBLE.size + header_nbytes
        self.data_nbytes = self._int(header, "data_nbytes", "the header")
        self.bytes_read = 0
        expected_size = self.data_start + self.data_nbytes
        if expected_size != self.file_size:
            what = "is truncated" if expected_size > self.file_size else "has trailing bytes"
            self.fail(f"the file {what}: the header describes {expected_size} bytes, the file has "
                      f"{self.file_size}.")
        if "root" not in header:
            self.fail("the header has no 'root' entry.")
        try:
            return self._decode(header["root"], "")
        except RecursionError:
            self.fail("the header nests too deeply.")

    def _parse_header(self, header_bytes: bytes) -> dict:
        def refuse_constant(name):
            raise ValueError(f"non-standard JSON constant {name}")

        try:
            header = json.loads(header_bytes.decode("ascii"), parse_constant=refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            self.fail(f"the header is not valid JSON ({type(err).__name__}: {err}).")
        if not isinstance(header, dict) or header.get("format") != "chainrule":
            self.fail("the header is not a chainrule header (no \"format\": \"chainrule\").")
        return header

    # ----- header NODEs -------------------------------------------------------------------
    def _decode(self, node, where: str):
        if not isinstance(node, dict):
            self.fail(f"the entry at {_where(where)} is not a JSON object.")
        kind = node.get("type")
        what = f"the {kind} at {_where(where)}"
        if kind == "none":
            return None
        if kind == "bool":
            return self._field(node, "value", bool, what)
        if kind == "int":
            return self._int(node, "value", what, minimum=None)
        if kind == "float":
            return self._float(node.get("value"), what)
        if kind == "str":
            return self._field(node, "value", str, what)
        if kind in ("list", "tuple"):
            items = [self._decode(item, f"{where}[{i}]")
                     for i, item in enumerate(self._field(node, "items", list, what))]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return self._decode_dict(node, where, what)
        if kind == "array":
            return self._read_array(node, what)
        self.fail(f"the entry at {_where(where)} has unknown type {kind!r}.")

    def _float(self, value, what: str) -> float:
        if isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                pass
        self.fail(f"{what} has value {value!r}, expected a number or one of 'nan', 'inf', "
                  "'-inf'.")

    def _decode_dict(self, node, where: str, what: str) -> dict:
        out = {}
        for pair in self._field(node, "items", list, what):
            if not (isinstance(pair, list) and len(pair) == 2):
                self.fail(f"{what} has an item that is not a [key, value] pair.")
            key, value = pair
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                self.fail(f"{what} has a key {key!r} that is not a string or an integer.")
            if key in out:
                self.fail(f"{what} has the key {key!r} twice.")
            out[key] = self._decode(value, f"{where}[{key!r}]")
        return out

    def _read_array(self, node, what: str):
        name = self._field(node, "dtype", str, what)
        if name not in DTYPES:
            self.fail(f"{what} has unknown dtype {name!r}; allowed dtypes are "
                      f"{', '.join(DTYPES)}.")
        dtype = DTYPES[name]
        shape = self._field(node, "shape", list, what)
        if len(shape) > MAX_NDIM or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= _MAX_DIM for n in shape
        ):
            self.fail(f"{what} has an invalid shape {shape!r}.")
        shape = tuple(shape)
        offset = self._int(node, "offset", what)
        nbytes = self._int(node, "nbytes", what)
        crc = self._int(node, "crc32", what)
        scalar = self._field(node, "scalar", bool, what)
        needed = math.prod(shape) * dtype.itemsize
        if nbytes != needed:
            self.fail(f"{what} has shape {shape} and dtype {name}, which need {needed} bytes, but "
                      f"its byte count is {nbytes} (shape/byte-count mismatch).")
        if offset + nbytes > self.data_nbytes:
            self.fail(f"the bytes of {what} (offset {offset}, {nbytes} bytes) are out of range: "
                      f"the data holds {self.data_nbytes} bytes.")
        self.bytes_read += nbytes  # arrays never share bytes (save writes each once), so the
        if self.bytes_read > self.data_nbytes:  # total stays within the file: no blown-up loads
            self.fail(f"the arrays of the file claim {self.bytes_read} bytes in all, more than the "
                      f"{self.data_nbytes} bytes of data it holds (arrays overlap).")
        if scalar and shape:
            self.fail(f"{what} is marked as a scalar but has shape {shape}.")
        try:
            array = np.empty(shape, dtype=dtype)
        except (ValueError, MemoryError) as err:
            self.fail(f"{what} of shape {shape} cannot be made: {err}")
        buffer = _raw_bytes(array)
        self.file.seek(self.data_start + offset)
        if self.file.readinto(buffer) != nbytes:
            self.fail(f"the bytes of {what} are truncated.")
        if zlib.crc32(buffer) != crc:
            self.fail(f"the bytes of {what} do not match their CRC-32 checksum (the file is "
                      "corrupt).")
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        return array[()] if scalar else array

    def _field(self, node: dict, name: str, kind: type, what: str):
        value = node.get(name)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(f"{what} has {name} = {value!r}, expected {_a(kind.__name__)}.")
        return value

    def _int(self, node: dict, name: str, what: str, minimum=0) -> int:
        value = self._field(node, name, int, what)
        if minimum is not None and value < minimum:
            self.fail(f"{what} has {name} = {value}, expected at least {minimum}.")
        return value


def _describe_foreign(file, start: bytes) -> str:
    """Why a file that lacks chainrule's magic cannot be loaded (naming pickles as such)."""
    if not start:
        return "is empty (0 bytes), not a chainrule checkpoint."
    refusal = ("chainrule never loads pickles, because unpickling can run arbitrary code; "
               "re-save the data with chainrule.save (for PyTorch: convert tensors to NumPy "
               "arrays first).")
    if start[:1] == b"\x80" and len(start) > 1 and start[1] <= 5:
        return f"is a Python pickle (protocol {start[1]}), not a chainrule checkpoint: {refusal}"
    if start[:1] in _OLD_PICKLE_FIRST_OPCODES and _last_byte(file) == b".":
        return ("looks like a Python pickle (protocol 0 or 1: it starts with a pickle opcode and "
                f"ends with the STOP opcode '.'), not a chainrule checkpoint: {refusal}")
    if start.startswith(b"\x93NUMPY"):
        if _npy_holds_pickle(file, 0):
            return f"is a NumPy .npy file of objects, which holds a pickle: {refusal}"
        return "is a NumPy .npy file, not a chainrule checkpoint; read it with numpy.load."
    if start.startswith(b"PK"):
        if _zip_holds_pickle(file):
            return ("is a zip archive (a PyTorch .pt or NumPy .npz file) holding a pickle: "
                    + refusal)
        return "is a zip archive, not a chainrule checkpoint."
    return (f"is not a chainrule checkpoint: it starts with {start[:8]!r}, not chainrule's magic "
            f"{MAGIC!r}.")


# The opcodes a protocol 0 or 1 pickle can start with (before protocol 2 added the b"\x80" header):
# MARK, dict, list, tuple, global, int, long, float, string, unicode, None, binary variants.
_OLD_PICKLE_FIRST_OPCODES = {bytes([c]) for c in b"(}])cILFSVNGJKMTUX"}


def _last_byte(file) -> bytes:
    try:
        file.seek(-1, os.SEEK_END)
        return file.read(1)
    except OSError:
        return b""


def _npy_holds_pickle(file, position: int) -> bool:
    """Whether the .npy file at ``position`` has an object dtype (stored as a pickle)."""
    try:
        file.seek(position)
        head = file.read(12)
        size_format = "<H" if head[6:7] == b"\x01" else "<I"
        offset = 10 if size_format == "<H" else 12
        (size,) = struct.unpack_from(size_format, head, 8)
        file.seek(position + offset)
        header = file.read(min(size, 65536))
    except (OSError, struct.error):
        return False
    return b"'|O'" in header or b'"|O"' in header


def _zip_holds_pickle(file) -> bool:
    """Whether a zip archive holds a pickle: a ``.pkl`` member (PyTorch) or an object ``.npy``."""
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist()[:10000]:
                if info.filename.endswith(".pkl"):
                    return True
                if info.filename.endswith(".npy"):
                    with archive.open(info) as member:
                        start = member.read(65536 + 12)
                    if start.startswith(b"\x93NUMPY") and _npy_bytes_hold_pickle(start):
                        return True
    except Exception:  # noqa: BLE001 - a damaged zip is still reported as a zip
        return False
    return False


def _npy_bytes_hold_pickle(start: bytes) -> bool:
    import io

    return _npy_holds_pickle(io.BytesIO(start), 0)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _fspath(op: str, path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{op}: path must be a str or os.PathLike. Got {type(path).__name__} "
                        "instead.")
    return os.fspath(path)


def _where(where: str) -> str:
    return where if where else "the top level"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
