"""``chainrule.accelerator``: PyTorch 2.x's device-agnostic probes.

    device = chainrule.accelerator.current_accelerator() or chainrule.device("cpu")

picks 'cuda' where chainrule can use a GPU (``chainrule.cuda.is_available()``), else the CPU, as
in PyTorch.
"""

from __future__ import annotations

from .backend import cuda_backend

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available() -> bool:
    """True when a GPU is usable by chainrule."""
    return cuda_backend() is not None


def current_accelerator(check_available: bool = False):
    """``device(type='cuda')`` when a GPU is usable, else None (as PyTorch without one)."""
    from .device import device

    return device("cuda") if cuda_backend() is not None else None


def device_count() -> int:
    """1 when a GPU is usable by chainrule, else 0."""
    return 1 if cuda_backend() is not None else 0
