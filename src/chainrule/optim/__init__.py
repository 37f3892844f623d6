"""chainrule.optim: optimizers and learning-rate schedules.

Each optimizer's docstring gives its algorithm step by step, and its ``step()`` is that algorithm
as one loop over the parameters:

    optimizer.py     Optimizer: parameter groups, per-parameter state, state_dict
    sgd.py           SGD (momentum, Nesterov, weight decay)
    adam.py          Adam, AdamW
    rmsprop.py       RMSprop
    adagrad.py       Adagrad
    lr_scheduler.py  StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR,
                     ReduceLROnPlateau
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
