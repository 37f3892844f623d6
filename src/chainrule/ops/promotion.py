"""Dtype promotion: which dtype an op on several operands computes in, by PyTorch's rules.

NumPy and PyTorch disagree here, and chainrule follows PyTorch (``torch.result_type``):

1. Dtypes fall into categories, bool < integer < floating < complex.
2. Operands come in three priorities: tensors (and arrays) with at least one dim, then 0-d
   tensors, then Python and NumPy scalars. Start from the promoted dtype of the dimensioned
   operands; the 0-d ones, and after them the scalars, change it only if their category is
   higher. So float32 tensor + 0-d float64 tensor is float32, and int32 tensor + 5 is int32.
3. A Python float counts as the default dtype (float32 unless set_default_dtype changed it), an
   int as int64, a bool as bool, a complex as complex64 (complex128 with a float64 default).
4. Two dtypes of one category promote as in NumPy (float32 + float64 -> float64); across
   categories the dtype of the higher category wins as it is: int64 tensor + float32 tensor is
   float32 (NumPy says float64). Float with complex keeps the larger precision
   (float64 + complex64 -> complex128), as in both libraries.

True division of integers or booleans gives the default dtype, float32
(``result_dtype(..., true_divide=True)``).
"""

import numbers

import numpy as np

from ..dtypes import default_complex_dtype, get_default_dtype

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # dtype.kind -> bool, integer, floating, complex
_SCALAR_DTYPES = {  # what a Python or NumPy scalar counts as: its category's default dtype
    0: np.dtype(np.bool_),
    1: np.dtype(np.int64),
}  # floats: get_default_dtype() (float32 unless set_default_dtype changed it); complex: its pair


def _category(dtype) -> int:
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:
        raise TypeError(
            f"dtype {dtype} takes no part in arithmetic; only bool, integer, floating and complex "
            "dtypes do."
        ) from None


def promote_types(a, b):
    """The dtype holding both a and b (``torch.promote_types``); None stands for "no operand"."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    category_a, category_b = _category(a), _category(b)
    if category_a == category_b or {category_a, category_b} == {2, 3}:
        return np.promote_types(a, b)
    return a if category_a > category_b else b


def _combine(higher, lower):
    """Add a lower-priority dtype (0-d tensors, scalars) to the result of the higher-priority
    operands: it counts only if its category is higher (PyTorch's ``combine_categories``)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.kind == "c":
        return higher
    if lower.kind == "c":  # a floating dtype keeps its precision: float64 + complex64 -> complex128
        return np.promote_types(higher, np.complex64) if higher.kind == "f" else lower
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def scalar_dtype(x):
    """The dtype a Python or NumPy scalar counts as, or None if x is not a number."""
    if isinstance(x, (bool, np.bool_)):
        return _SCALAR_DTYPES[0]
    if isinstance(x, numbers.Integral):
        return _SCALAR_DTYPES[1]
    if isinstance(x, numbers.Real):
        return get_default_dtype()
    if isinstance(x, numbers.Complex):
        return default_complex_dtype()
    return None


def result_dtype(*operands, true_divide=False):
    """The dtype an op on these operands computes in (``torch.result_type``).

    Operands are Tensors, NumPy arrays (both ranked by whether they have dims) and Python or
    NumPy scalars; None is skipped (an absent clamp bound).

    >>> result_dtype(chainrule.tensor([1, 2]), 2.5)        # int64 tensor, Python float
    dtype('float32')
    """
    dimensioned = zero_dim = scalars = None
    for x in operands:
        if x is None:
            continue
        dtype = None if isinstance(x, np.generic) else getattr(x, "dtype", None)
        if dtype is not None:  # a Tensor or an array
            _category(dtype)
            if x.ndim:
                dimensioned = promote_types(dimensioned, dtype)
            else:
                zero_dim = promote_types(zero_dim, dtype)
            continue
        dtype = scalar_dtype(x)
        if dtype is None:
            raise TypeError(
                f"expected a tensor, an array or a number. Got {type(x).__name__} instead."
            )
        scalars = promote_types(scalars, dtype)
    dtype = _combine(dimensioned, _combine(zero_dim, scalars))
    if true_divide and dtype is not None and dtype.kind in "biu":
        return get_default_dtype()
    return dtype
