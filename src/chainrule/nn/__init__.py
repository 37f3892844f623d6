"""chainrule.nn: modules, layers, losses, initialisers and gradient clipping."""

from .parameter import Parameter

__all__ = ["Parameter"]
