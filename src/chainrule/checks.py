"""Argument checks with one sentence shape for the whole library (chainrule.nn, chainrule.optim).

Every bad argument is reported as

    The '<name>' parameter of <owner> must be <expectation>. Got <value> instead.

for example

    ValueError: The 'momentum' parameter of SGD must be a float in the range [0, 1). Got 1.5 instead.

TypeError when the value has the wrong type, ValueError when it has the right type but a bad value.
``argument_error`` builds that sentence; the ``check_*`` helpers below use it, and so can a check
that fits none of them (``raise argument_error("normal_", "std", "non-negative", std)``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["argument_error", "check_real", "check_in_range", "check_bool", "check_choice",
           "check_positive", "refuse_inplace"]


def _show(value) -> str:
    """How a bad value is printed in an error: 1.5, 'fast', [1, 2] (NumPy scalars as plain numbers)."""
    if isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Number):
        return str(value)
    return repr(value)


def _bound(x) -> str:
    return "inf" if x == math.inf else f"{x:g}"


def argument_error(owner, name, expectation, value, error=ValueError) -> Exception:
    """The exception (not raised) for a bad argument, in the house sentence:

    >>> raise argument_error("softplus", "beta", "non-zero", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: The 'beta' parameter of softplus must be non-zero. Got 0.0 instead.

    Pass ``error=TypeError`` for a value of the wrong type.
    """
    return error(f"The '{name}' parameter of {owner} must be {expectation}. Got {_show(value)} instead.")


def check_real(owner, name, value) -> float:
    """Return ``value`` as a float after checking it is a real number (any, nan and inf included).

    Python and NumPy ints and floats pass; a bool, a string, a complex number or an array raise
    TypeError:  The 'p' parameter of dropout must be a real number. Got 'x' instead.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise argument_error(owner, name, "a real number", value, TypeError)
    return float(value)


def check_in_range(owner, name, value, low=0.0, high=math.inf, *, low_closed=True,
                   high_closed=False, integer=False):
    """Return ``value`` as a float (an int if ``integer``) after checking it lies in the range.

    >>> check_in_range("SGD", "momentum", 1.5, 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: The 'momentum' parameter of SGD must be a float in the range [0, 1). Got 1.5 instead.

    The range is [low, high) by default; ``low_closed`` and ``high_closed`` choose each end (an
    infinite ``high`` is always open, so inf itself is refused). nan lies in no range. A value of the
    wrong type (a string, a bool, a list; a float where ``integer``) raises TypeError with the same
    sentence. Sizes are ``check_in_range(owner, name, n, 0, integer=True)``.
    """
    high_closed = high_closed and high != math.inf
    interval = (
        ("[" if low_closed else "(") + f"{_bound(low)}, {_bound(high)}" + ("]" if high_closed else ")")
    )
    expectation = f"{'an int' if integer else 'a float'} in the range {interval}"
    wanted = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise argument_error(owner, name, expectation, value, TypeError)
    above_low = value >= low if low_closed else value > low
    below_high = value <= high if high_closed else value < high
    if not (above_low and below_high):  # also catches nan, which compares False with everything
        raise argument_error(owner, name, expectation, value)
    return int(value) if integer else float(value)


def check_bool(owner, name, value) -> bool:
    """Return ``value`` after checking it is True or False (TypeError otherwise)."""
    if not isinstance(value, (bool, np.bool_)):
        raise argument_error(owner, name, "a bool", value, TypeError)
    return bool(value)


def check_choice(owner, name, value, choices):
    """Return ``value`` after checking it is one of ``choices`` (ValueError otherwise)."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise argument_error(owner, name, f"one of {listed}", value)
    return value


def check_positive(owner, name, value) -> float:
    """Return ``value`` as a float after checking it is a real number above 0 (inf included; nan
    refused): TypeError for a wrong type, ValueError for a number <= 0.

    >>> check_positive("HuberLoss", "delta", -1)
    Traceback (most recent call last):
    ...
    ValueError: The 'delta' parameter of HuberLoss must be positive. Got -1.0 instead.
    """
    value = check_real(owner, name, value)
    if not value > 0:  # (nan compares False)
        raise argument_error(owner, name, "positive", value)
    return value


def refuse_inplace(owner, inplace) -> bool:
    """``inplace`` checked as a bool and refused when True, for an op that chainrule always runs
    out of place (dropout): one sentence for a module and its function. Returns False.

    >>> refuse_inplace("Dropout", True)
    Traceback (most recent call last):
    ...
    ValueError: Dropout: inplace=True is not supported: chainrule's version returns a new tensor. ...
    """
    if check_bool(owner, "inplace", inplace):
        raise ValueError(f"{owner}: inplace=True is not supported: chainrule's version returns a new "
                         "tensor. Use inplace=False (the values are the same).")
    return False
