"""``chainrule.train`` is kept as a name for the training loop, which lives in
``chainrule.training.loop``: documentation and user scripts import ``fit`` from here."""

from .training.loop import EarlyStopping, History, evaluate, fit, format_loss, normalize_grad_

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "normalize_grad_", "format_loss"]
