"""``chainrule.utils.data``: the same objects as :mod:`chainrule.data`, under PyTorch's path.

``from torch.utils.data import DataLoader, TensorDataset`` becomes
``from chainrule.utils.data import DataLoader, TensorDataset``; the classes are the very ones in
``chainrule.data`` (not copies), so ``isinstance`` checks agree across the two paths.
"""

from ..data import *  # noqa: F403  (the whole public surface of chainrule.data)
from ..data import __all__  # noqa: F401
