"""chainrule.optim: optimizers and learning-rate schedules.

Each optimizer's docstring gives its algorithm step by step, and its ``step()`` is that algorithm
as one loop over the parameters:

    optimizer.py     Optimizer: parameter groups, per-parameter state, state_dict
    sgd.py           SGD (momentum, Nesterov, weight decay)
    adam.py          Adam, AdamW
    rmsprop.py       RMSprop
    adagrad.py       Adagrad
    adadelta.py      Adadelta
    adamax.py        Adamax
    nadam.py         NAdam (Nesterov momentum; NAdamW with decoupled_weight_decay)
    radam.py         RAdam (rectified Adam)
    lbfgs.py         LBFGS (limited-memory BFGS with a closure; strong Wolfe line search)
    lr_scheduler.py  StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR,
                     ReduceLROnPlateau, LinearLR, PolynomialLR, SequentialLR, ChainedScheduler,
                     CyclicLR, OneCycleLR
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "LBFGS", "lr_scheduler"]
