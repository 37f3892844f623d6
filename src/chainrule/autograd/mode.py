"""Switches of the engine, per thread: graph recording (no_grad, enable_grad, set_grad_enabled),
anomaly detection, and keeping input tensors for tools that show a graph."""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading

import numpy as np

class _Mode(threading.local):
    """Per-thread switches: is the graph being recorded, is anomaly detection on."""

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.keep_input_tensors = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside ``no_grad()``."""
    return _mode.grad_enabled


class _Switch(contextlib.ContextDecorator):
    """A context manager and decorator that sets one of the per-thread switches in ``_mode`` on
    entry and puts back the value it found on exit. Used as a decorator, every call enters its
    own copy, so a recursive function, or one run by two threads, restores the right value."""

    switch = ""  # the attribute of _mode
    value = True  # what it is set to inside

    def __enter__(self):
        self.prev = getattr(_mode, self.switch)
        setattr(_mode, self.switch, self.value)
        return self

    def __exit__(self, *exc):
        setattr(_mode, self.switch, self.prev)
        return False

    def _recreate_cm(self):
        return copy.copy(self)


class set_grad_enabled(_Switch):
    """Context manager and decorator that switches graph recording on or off."""

    switch = "grad_enabled"

    def __init__(self, mode: bool):
        self.value = bool(mode)
        self.prev = _mode.grad_enabled
        # Like PyTorch, calling set_grad_enabled(False) as a plain function also takes effect.
        _mode.grad_enabled = self.value

    def __enter__(self):
        # ``prev`` is the mode before __init__ switched it (``with set_grad_enabled(False):``
        # runs __init__ first), so the block's exit puts back what was there before it.
        _mode.grad_enabled = self.value
        return self

    def __call__(self, func):
        # Used as a decorator, it takes effect only inside the function, as in PyTorch: undo the
        # switch that __init__ made when the decorator line ran.
        _mode.grad_enabled = self.prev
        return super().__call__(func)

    def _recreate_cm(self):
        switch = copy.copy(self)  # each call of a decorated function: the mode at call time
        switch.prev = _mode.grad_enabled
        return switch


class no_grad(_Switch):
    """Context manager and decorator: ops inside record no graph (evaluation, optimizer updates).

    >>> with chainrule.no_grad():
    ...     val_loss = loss_fn(model(x_val), y_val)
    """

    switch, value = "grad_enabled", False


class enable_grad(_Switch):
    """Context manager and decorator: switch graph recording back on inside a ``no_grad`` block."""

    switch, value = "grad_enabled", True


# --------------------------------------------------------------------------------------------
# Anomaly detection
# --------------------------------------------------------------------------------------------

_PACKAGE_PREFIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")  # ends with /


def is_anomaly_enabled() -> bool:
    return _mode.anomaly


class detect_anomaly(_Switch):
    """Raise as soon as any op produces NaN or Inf, in forward or backward, naming the op and where it
    was created in your code.

    >>> with chainrule.autograd.detect_anomaly():
    ...     loss = model(x).log().mean()
    RuntimeError: Log produced nan in forward (created at train.py:42)

    Each op then records the file and line that created it and every array is checked, so this is
    slower: use it to find a problem, not for every run.
    """

    switch, value = "anomaly", True


class keep_input_tensors(_Switch):
    """Ops recorded inside also keep their input Tensors (``node.input_tensors``), so tools that
    show a graph's values (``chainrule.trace``, ``chainrule.viz``) can find every intermediate
    result. Off by default: the graph then holds only what backward needs, and intermediate
    results are freed as soon as nothing else uses them."""

    switch, value = "keep_input_tensors", True


def _user_frame() -> str:
    """'file.py:line' of the innermost stack frame outside the chainrule package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_PREFIX):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _check_finite(array, op_name: str, where: str, created_at: str | None) -> None:
    if array is None or array.dtype.kind not in "fc":
        return
    if np.isfinite(array).all():
        return
    what = "nan" if np.isnan(array).any() else "inf"
    origin = f" (created at {created_at})" if created_at else ""
    raise RuntimeError(f"{op_name} produced {what} in {where}{origin}")
