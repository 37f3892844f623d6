"""chainrule.utils: PyTorch's ``torch.utils`` paths, so imports port by a prefix change.

    data.py     chainrule.utils.data is chainrule.data (Dataset, DataLoader, random_split, ...)
"""

from . import data

__all__ = ["data"]
