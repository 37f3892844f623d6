"""``chainrule.backends``: PyTorch's backend switches, for a library that runs on NumPy.

``backends.mps.is_available()`` is False; ``backends.cudnn``'s flags (``benchmark``,
``deterministic``, ``enabled``) may be set, as seeding code does, and change nothing: chainrule
uses no cuDNN, and its CPU results are deterministic already.
"""

from . import cudnn, mps

__all__ = ["cudnn", "mps"]
