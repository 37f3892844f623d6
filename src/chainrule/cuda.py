"""``chainrule.cuda``: the probes PyTorch code asks before choosing a device, answered for a
library that runs on the CPU only.

    device = "cuda" if chainrule.cuda.is_available() else "cpu"     # picks "cpu"

Seeding calls (``manual_seed``, ``manual_seed_all``) do nothing, as PyTorch's do without a GPU.
"""

from __future__ import annotations

from .device import check_device

__all__ = ["is_available", "is_initialized", "device_count", "current_device", "manual_seed",
           "manual_seed_all", "synchronize", "empty_cache"]


def is_available() -> bool:
    """False: chainrule has no GPU backend (yet)."""
    return False


def is_initialized() -> bool:
    """False: there is no GPU to initialise."""
    return False


def empty_cache() -> None:
    """Does nothing (there is no GPU memory to free), as ``torch.cuda.empty_cache`` without a GPU."""


def device_count() -> int:
    """0: no GPU is usable by chainrule."""
    return 0


def current_device() -> int:
    """Refused, as there is no GPU to be current."""
    check_device("cuda.current_device", "cuda")
    return 0  # not reached while check_device refuses 'cuda'


def synchronize(device=None) -> None:
    """Refused, as there is no GPU to wait for."""
    check_device("cuda.synchronize", "cuda" if device is None else device)


def manual_seed(seed: int) -> None:
    """Does nothing (there is no GPU generator), as ``torch.cuda.manual_seed`` without a GPU."""


def manual_seed_all(seed: int) -> None:
    """Does nothing (there is no GPU generator), as ``torch.cuda.manual_seed_all`` without a GPU."""
