"""PyTorch's old autograd names, kept so that older code and tutorials run unchanged.

``Variable`` is the pre-0.4 wrapper that PyTorch keeps as a deprecated alias: ``Variable(t)`` is a
new leaf sharing t's values (no history), ``Variable(t, requires_grad=True)`` the same leaf needing
its gradient, and every Tensor counts as a Variable in ``isinstance``. Write
``t.detach().requires_grad_()`` (or ``chainrule.tensor(..., requires_grad=True)``) in new code.
"""

from __future__ import annotations

import warnings

from .tensor import Tensor

__all__ = ["Variable"]


class _VariableMeta(type):
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False)``: a new leaf Tensor sharing data's memory, as in
    PyTorch (which returns a Tensor too). ``volatile`` is accepted with PyTorch's warning and has
    no effect; use ``with chainrule.no_grad():``."""

    def __new__(cls, data, requires_grad=False, volatile=None):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable: data has to be a Tensor. Got {type(data).__name__} instead.")
        if volatile is not None:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with chainrule.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        return data.detach().requires_grad_(bool(requires_grad))
