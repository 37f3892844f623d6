"""Layers around convolutions: Unflatten, Upsample, Dropout2d (PyTorch's names and arguments).
(Flatten and Identity are in layers.py.)"""

from __future__ import annotations

import math

import numpy as np

from ..checks import argument_error, check_in_range, refuse_inplace
from ..ops.dims import normalize_dim
from . import functional_conv as FC
from .module import Module

__all__ = ["Unflatten", "Upsample", "Dropout2d"]


class Unflatten(Module):
    """Split one dim into several: ``Unflatten(1, (16, 4, 4))`` maps (N, 256) to (N, 16, 4, 4)
    (the inverse of Flatten). One entry of unflattened_size may be -1.

    Shape:
        - Input: (*, S_dim, *), S_dim = the product of unflattened_size
        - Output: (*, U_1, ..., U_n, *), (U_1, ..., U_n) = unflattened_size

    Example:
        >>> m = nn.Unflatten(1, (16, 4, 4))
        >>> m(chainrule.ones(2, 256)).shape
        (2, 16, 4, 4)
        >>> nn.Unflatten(1, (2, -1))(chainrule.ones(2, 256)).shape
        (2, 2, 128)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise argument_error("Unflatten", "dim", "an int", dim, TypeError)
        size = tuple(unflattened_size) if isinstance(unflattened_size, (tuple, list)) else None
        if not size or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                               for s in size):
            raise argument_error("Unflatten", "unflattened_size", "a tuple of ints",
                                 unflattened_size, TypeError)
        self.dim, self.unflattened_size = int(dim), size

    def forward(self, input):
        x = FC._tensor("Unflatten", input)
        dim = normalize_dim("Unflatten", self.dim, x.ndim)
        known = math.prod(s for s in self.unflattened_size if s != -1)
        fits = (x.shape[dim] % known == 0) if -1 in self.unflattened_size else x.shape[dim] == known
        if not fits:
            raise ValueError(
                f"Unflatten: dim {self.dim} of the input (shape {x.shape}) has size "
                f"{x.shape[dim]}, which cannot be split into {self.unflattened_size}."
            )
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(Module):
    """Resize the spatial dims: F.interpolate with mode 'nearest' (default), 'linear' or
    'bilinear'. Give size or scale_factor. ``Upsample(scale_factor=2)`` doubles H and W.

    Shape:
        - Input: (N, C, L_in) or (N, C, H_in, W_in)
        - Output: (N, C, L_out) or (N, C, H_out, W_out), L_out = floor(L_in * scale_factor) (the
          same for H and W), or ``size``

    Example:
        >>> m = nn.Upsample(scale_factor=2)  # nearest: each value repeated
        >>> m(chainrule.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor.")
        self.size = size
        if scale_factor is not None and not isinstance(scale_factor, (tuple, list)):
            scale_factor = float(scale_factor)
        elif scale_factor is not None:
            scale_factor = tuple(float(f) for f in scale_factor)
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return FC.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                              self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"


class Dropout2d(Module):
    """Channel dropout: in training, zero whole channels of (N, C, H, W) with probability p and
    scale the others by 1 / (1 - p); the identity in evaluation.

    Shape:
        - Input: (N, C, H, W)
        - Output: (N, C, H, W), the input's shape

    Example:
        >>> _ = chainrule.manual_seed(0)
        >>> y = nn.Dropout2d(p=0.5)(chainrule.ones(1, 4, 2, 2))
        >>> y.sum(dim=(2, 3))  # per channel: 4 x 1 / (1 - 0.5), or 0 for a dropped channel
        tensor([[8., 0., 0., 0.]])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_in_range("Dropout2d", "p", p, 0, 1, high_closed=True)
        self.inplace = refuse_inplace("Dropout2d", inplace)  # as F.dropout2d refuses it

    def forward(self, input):
        return FC.dropout2d(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
