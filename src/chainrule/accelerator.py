"""``chainrule.accelerator``: PyTorch 2.x's device-agnostic probes, for a library with no
accelerator: ``is_available()`` is False and ``current_accelerator()`` None, so

    device = chainrule.accelerator.current_accelerator() or chainrule.device("cpu")

picks the CPU, as it does in PyTorch on a machine without a GPU.
"""

from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available() -> bool:
    """False: chainrule has no accelerator backend (yet)."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (PyTorch returns None too when it finds none)."""
    return None


def device_count() -> int:
    """0: no accelerator is usable by chainrule."""
    return 0
