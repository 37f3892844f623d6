"""Dtypes under PyTorch's names, and the default floating dtype.

chainrule's dtypes are NumPy dtypes: ``chainrule.float`` is ``np.dtype('float32')``, so a tensor's
``.dtype`` compares equal to both. The names follow PyTorch: ``float`` is float32 (not Python's
float64), ``double`` float64, ``half`` float16, ``long`` int64, ``int`` int32, ``short`` int16.

The default dtype (float32 unless ``set_default_dtype`` changes it) is what Python floats become in
``chainrule.tensor``, in the factories (``zeros``, ``rand``, ``linspace``, ...), in arithmetic
(``int_tensor * 0.5``, ``int_tensor / 2``) and in nn layers' parameters, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "float16", "float32", "float64", "half", "float", "double",
    "uint8", "int8", "int16", "int32", "int64", "short", "int", "long", "bool",
    "complex64", "complex128", "cfloat", "cdouble",
    "get_default_dtype", "set_default_dtype", "type_name",
]

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001 - PyTorch's names
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)

_default = float32

# The legacy tensor-type names of ``Tensor.type()``: 'chainrule.FloatTensor' for float32, ...
_TYPE_NAMES = {
    float16: "HalfTensor", float32: "FloatTensor", float64: "DoubleTensor",
    uint8: "ByteTensor", int8: "CharTensor", int16: "ShortTensor", int32: "IntTensor",
    int64: "LongTensor", bool: "BoolTensor",
    complex64: "ComplexFloatTensor", complex128: "ComplexDoubleTensor",
}


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become (float32 unless ``set_default_dtype`` changed it)."""
    return _default


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float32 or float64; float16 too, as PyTorch allows) the dtype that Python
    floats become in ``tensor``, the factories, arithmetic with Python numbers and nn layers'
    parameters. Complex numbers follow: complex64 with float32 (and float16), complex128 with
    float64. Tensors that already exist keep their dtype."""
    global _default
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.kind != "f" or resolved.itemsize > 8:  # (not `in`: dtype == None)
        raise TypeError(
            f"set_default_dtype: only floating-point dtypes (chainrule.float32, float64 or "
            f"float16) can be the default. Got {dtype!r} instead."
        )
    _default = resolved


def default_complex_dtype() -> np.dtype:
    """The dtype Python complex numbers become: complex128 when the default is float64."""
    return complex128 if _default == float64 else complex64


def type_name(dtype) -> str:
    """The legacy tensor-type name of a dtype, in chainrule's spelling: 'chainrule.FloatTensor'."""
    return f"chainrule.{_TYPE_NAMES[np.dtype(dtype)]}"


def dtype_of_type_name(name: str):
    """The dtype of a legacy tensor-type name ('chainrule.FloatTensor', 'torch.LongTensor', or the
    bare 'FloatTensor'), or None if the name is not one."""
    bare = name.rsplit(".", 1)[-1]
    for dtype, type_ in _TYPE_NAMES.items():
        if type_ == bare and name in (bare, f"chainrule.{bare}", f"torch.{bare}"):
            return dtype
    return None
