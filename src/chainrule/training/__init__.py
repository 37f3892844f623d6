"""Training: the layer above nn, optim and data, below the applications and the commands.

    loop.py        fit, evaluate, History, EarlyStopping: the training loop
    callbacks.py   Callback and TrainState: how code watches or steers fit
    health.py      HealthMonitor: records a run's statistics, words what the detectors find
    detectors.py   what goes wrong in a run, as pure functions over those records
    runs.py        run folders, checkpoints, snapshots, saving on Ctrl-C
"""

from .callbacks import Callback, TrainState
from .loop import EarlyStopping, History, evaluate, fit

__all__ = ["fit", "evaluate", "History", "EarlyStopping", "Callback", "TrainState"]
