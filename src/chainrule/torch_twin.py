"""``chainrule.torch_twin`` is kept as a name for ``chainrule.apps.torch_twin`` (the PyTorch twin
trained in lockstep), which docs/coming_from_pytorch.md links to by this path."""

from .apps.torch_twin import *  # noqa: F401,F403
from .apps.torch_twin import __all__  # noqa: F401
