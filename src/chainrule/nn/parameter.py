"""Parameter: a Tensor that a Module registers as something to learn."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _to_array


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that Modules collect in ``parameters()``.

    Its ``data`` is a float array the optimizer updates in place.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        array = _to_array(data)
        self._data = array
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
