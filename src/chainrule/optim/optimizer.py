"""Optimizer: what every optimizer shares: parameter groups, per-parameter state, the state dict.

An optimizer holds

- ``param_groups``: a list of dicts, each with ``"params"`` (a list of Parameters) and that group's
  options (``"lr"``, ``"momentum"``, ...). Options a group leaves out come from ``defaults``, the
  optimizer's constructor arguments. Groups let one model use, say, a smaller lr for its
  embeddings:  ``SGD([{"params": emb, "lr": 1e-3}, {"params": head}], lr=1e-2)``.
- ``state``: a dict from each Parameter (the object itself, in registration order) to a dict of its
  buffers (Adam's ``exp_avg``, SGD's ``momentum_buffer``, ...), empty until its first step.

Subclasses write the update of one parameter, ``_update``, on its arrays directly (``p._data`` in
place, ``p.grad._data`` read only), so no graph is recorded; ``step()`` runs it as a loop over the
parameters, or once per group on all its parameters as one flat vector (``foreach``, PyTorch's
default on a GPU; chainrule.optim.flat). Optimizers with a step of another shape (L-BFGS)
write ``step()`` itself.

``state_dict()`` follows PyTorch's layout with parameters replaced by their position in the groups
(0, 1, 2, ... in registration order)::

    {"state": {0: {"step": 5, "exp_avg": array, ...}, 2: {...}},
     "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), ..., "params": [0, 1]}, {...}]}

Buffers are NumPy arrays and everything else is a plain Python number, bool or tuple, so a
checkpoint needs no pickle.
"""

from __future__ import annotations

import numpy as np

from ..backend import is_array, is_device_array, to_device
from ..autograd import enable_grad
from ..autograd.engine import mark_step
from ..checks import (  # re-exported for the optimizers
    argument_error,
    check_bool,
    check_choice,
    check_in_range,
)
from ..tensor import Tensor
from .flat import FlatParameter, FlatState

__all__ = ["Optimizer", "at_least_1d", "check_in_range", "check_bool", "check_choice",
           "refuse_unsupported", "decayed_gradient"]


def at_least_1d(array: np.ndarray) -> np.ndarray:
    """The array itself, or for a 0-d array (a scalar parameter, say a temperature) a 1-element
    view of it. NumPy arithmetic on 0-d arrays gives scalars, not arrays, so an update such as
    ``buf *= momentum`` on one would rebind a name instead of changing the buffer; on the view it
    changes the array, and so the parameter or the state it belongs to."""
    return array if array.ndim else array.reshape(1)


def decayed_gradient(group: dict, param, grad, decoupled: bool = False):
    """The gradient an update uses, from the group's options: negated when it ascends
    (``maximize``), plus the L2 penalty's gradient ``weight_decay * p`` (coupled decay); with
    ``decoupled`` decay (AdamW's) the parameter is shrunk in place instead, p *= 1 - lr * wd, and
    the gradient left as it is."""
    if group["maximize"]:
        grad = -grad
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if decoupled:
            param *= 1 - group["lr"] * weight_decay
        else:
            grad = grad + weight_decay * param
    return grad


def refuse_unsupported(owner, *, foreach=None, capturable=False, differentiable=False,
                       fused=None, has_foreach=False) -> None:
    """Accept PyTorch's implementation switches only where chainrule does what they ask.

    chainrule runs each optimizer's update outside the graph, either as a loop over the
    parameters or, for the optimizers whose update is written once for both (``has_foreach``:
    they implement ``_update``), on a whole group at once (``foreach``; see chainrule.optim.flat).
    So ``foreach`` may be None, False or, where it exists, True; ``fused`` None or False; and
    ``capturable`` (CUDA graphs) and ``differentiable`` (a step recorded in the graph) only False.
    Anything else is refused by name instead of being silently ignored.
    """
    for name, value, allowed in (("foreach", foreach, (None, False, True) if has_foreach else
                                  (None, False)),
                                 ("capturable", capturable, (False,)),
                                 ("differentiable", differentiable, (False,)),
                                 ("fused", fused, (None, False))):
        if value is None and None in allowed:
            continue
        if not isinstance(value, (bool, np.bool_)):
            raise argument_error(owner, name, "a bool", value, TypeError)
        if bool(value) not in allowed:
            shown = " or ".join(repr(a) for a in allowed if a is not True)
            raise argument_error(
                owner, name,
                f"{shown}: chainrule runs the update outside the graph, with NumPy's (or CuPy's) "
                "array operations, as a loop over the parameters or on a group at once (foreach)",
                value)


# --------------------------------------------------------------------------------------------
# The base class
# --------------------------------------------------------------------------------------------


class Optimizer:
    """Base class of all optimizers: holds ``param_groups`` and ``state``, and saves/loads them.

    ``params`` is an iterable of Parameters (or leaf Tensors), or of dicts that each define a group
    (``{"params": [...], "lr": 0.1}``); ``defaults`` holds the options every group starts from.

    A subclass passes its constructor arguments as ``defaults``, checks a group's options in
    ``_check_options(group)`` (called on the defaults and on every group added) and implements
    ``step()``.
    """

    def __init__(self, params, defaults: dict, foreach=None):
        self.foreach = foreach  # None: a whole group at once on a GPU, a loop on the CPU
        self._flat: dict = {}   # (group index, parameter ids) -> their flat state (optim.flat)
        self.defaults = dict(defaults)
        self._check_options(self.defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"params of {self._name} must be an iterable of Tensors or of dicts. Got a single "
                f"Tensor instead; wrap it in a list: {self._name}([tensor])."
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"params of {self._name} must be an ordered iterable (a list); a set has no fixed "
                "order, so the state dict could not name its parameters."
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name} got an empty parameter list.")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_options(self, options: dict) -> None:
        """Check (and normalise, in place) a group's hyper-parameters. Subclasses override it."""

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ----- parameter groups ----------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options; options it leaves out take the defaults.

        Useful to start training layers that were frozen:
        ``opt.add_param_group({"params": model.head.parameters(), "lr": 1e-3})``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"add_param_group: a parameter group must be a dict. Got "
                f"{type(param_group).__name__} instead."
            )
        if "params" not in param_group:
            raise ValueError("add_param_group: a parameter group needs a 'params' entry.")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "add_param_group: 'params' must be an ordered iterable (a list), not a set."
            )
        else:
            params = list(params)
        names = None
        if params and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                          for p in params):  # model.named_parameters(): kept as "param_names"
            names, params = [name for name, _ in params], [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name} can only optimize Tensors. Got {type(p).__name__} instead."
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name} can't optimize a non-leaf Tensor (one made by an op); optimize "
                    "the leaf Parameters it came from, or .detach() it to make a new leaf."
                )
        seen = set(map(id, self._all_params()))
        for p in params:
            if id(p) in seen:
                raise ValueError(
                    f"{self._name}: a parameter of shape {p.shape} appears more than once in the "
                    "parameter groups; each parameter may be in one group, once."
                )
            seen.add(id(p))

        group = {"params": params}
        if names is not None:
            group["param_names"] = names
        group.update((k, v) for k, v in param_group.items() if k != "params")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_options(group)
        self.param_groups.append(group)
        for p in params:
            self.state[p] = {}

    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    # ----- gradients and the update --------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (which would otherwise add to them).

        ``set_to_none=True`` (the default) sets ``p.grad = None``: it frees the memory, and ``step``
        skips a parameter whose grad is None. ``set_to_none=False`` fills the existing gradient
        with zeros instead, so an optimizer with weight decay or momentum still moves it.
        """
        for p in self._all_params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient, once; returns the closure's loss, if given.

        A subclass implements ``_update`` (and ``_init_state`` or ``_state_arrays`` for state that
        starts before the first update), or ``step`` itself. With ``_update`` it gets both of
        PyTorch's implementations: a loop over the parameters, or with ``foreach`` (PyTorch's
        default on a GPU, and chainrule's) one update of each group's parameters as a single flat
        vector (chainrule.optim.flat), the same arithmetic in far fewer array operations."""
        loss = self._evaluate(closure)
        foreach, states = self.foreach, self.state
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            if (foreach is not False and len(params) > 1
                    and (foreach or is_device_array(params[0]._data))  # None: on a GPU
                    and self._step_flat(index, group, [p for p in params if p.grad is not None])):
                continue
            self._update(group, params, states)
        return loss

    _state_arrays: tuple = ()  # names of state arrays that start as zeros of p's shape

    def _init_state(self, group: dict, p, state: dict) -> None:
        """Fill ``state`` (empty) for parameter ``p`` before its first update: a step count and
        the ``_state_arrays``, zeros, if the optimizer has them (a subclass whose state starts
        otherwise overrides it)."""
        if self._state_arrays:
            state["step"] = 0
            for name in self._state_arrays:
                state[name] = np.zeros_like(p._data)

    def _update(self, group: dict, params: list, states: dict) -> None:
        """The update of each of ``params`` that has a gradient (subclasses): ``p._data`` changed
        in place from ``p.grad._data``, with ``states[p]``, its buffers and step count (filled by
        ``_init_state`` when empty).

        With ``foreach`` ``params`` is one stand-in parameter whose arrays hold every parameter
        of the group end to end (``optim.flat.FlatParameter``), so the update must treat its
        arrays element by element (it does: an optimizer's update is element-wise)."""
        raise NotImplementedError(f"{self._name} must implement step() or _update().")

    def _steps(self, group: dict, params: list, states: dict, decoupled: bool = False):
        """For ``_update``: each of ``params`` that has a gradient, as ``(p, param, grad,
        state)``, with its state filled on its first step (``_init_state``), its step count
        advanced, its arrays at least 1-d and its gradient negated or decayed as the group says
        (``decayed_gradient``; ``decoupled``: AdamW's decay, which shrinks ``param``)."""
        for p in params:
            if p.grad is None:
                continue
            param, state = at_least_1d(p._data), states[p]
            if not state:
                self._init_state(group, p, state)
            grad = decayed_gradient(group, param, at_least_1d(p.grad._data), decoupled)
            state["step"] += 1
            yield p, param, grad, state

    def _step_flat(self, index: int, group: dict, params: list) -> bool:
        """``_update`` on the group's ``params`` (those with a gradient) as flat vectors; False,
        having changed nothing but the states' first filling, where they cannot be (arrays of
        several types or dtypes, or states of different kinds), and the loop runs instead.

        Parameters whose numbers in the state differ (a step count one behind, after a step
        without a gradient) cannot share one update: each set of equal numbers gets its own."""
        if len(params) < 2:
            return False
        kind, dtype = type(params[0]._data), params[0]._data.dtype  # (no name holds an array:
        # flat.parameters() swaps a parameter's array only where nothing else holds it)
        for p in params:
            if type(p._data) is not kind or p._data.dtype != dtype or p.grad._data.dtype != dtype:
                return False
        if len({id(p._data) for p in params}) < len(params):  # two parameters on one array (tied
            return False  # through .data): the loop applies both updates to it, one after the other
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if not state:
                self._init_state(group, p, state)
        names = list(states[0])
        arrays = [name for name in names if is_array(states[0][name])]
        subsets: dict = {}  # the state's numbers (step counts) -> the parameters that have them
        for p, state in zip(params, states):
            if list(state) != names or any(is_array(state[name]) != (name in arrays) for name in names):
                return False  # (a name that is an array for one parameter and not for another)
            numbers = tuple(state[name] for name in names if name not in arrays)
            try:
                subsets.setdefault(numbers, []).append(p)
            except TypeError:  # an unhashable value: not a number
                return False
        kept = {key: flat for key, flat in self._flat.items() if key[0] == index}
        for key in kept:  # this group's flat states: those of the sets used now stay, others go
            del self._flat[key]
        for subset in subsets.values():
            key = (index, tuple(map(id, subset)))
            flat = kept.get(key)
            if flat is None or not flat.matches(subset):
                flat = FlatState(subset)
            self._flat[key] = flat
            self._update_flat(group, subset, flat, arrays)
        return True

    def _update_flat(self, group, params, flat, arrays) -> None:
        """One ``_update`` of ``params`` (whose states hold the same numbers) as flat vectors."""
        states = [self.state[p] for p in params]
        together = {name: (flat.state_array(name, states) if name in arrays else value)
                    for name, value in states[0].items()}
        whole = FlatParameter(flat.parameters(params), flat.gather([p.grad._data for p in params]))
        self._update(group, [whole], {whole: together})
        for name, value in together.items():
            if is_array(value):
                flat.share(name, value, states)
            else:
                for state in states:
                    state[name] = value
        flat.write_back()

    def __getstate__(self):
        """A copy (copy.deepcopy, pickle) without the flat state arrays: the copy's state entries
        become arrays of their own, so its next flat step gathers them again."""
        state = dict(self.__dict__)
        state["_flat"] = {}
        state.pop("_in_stepped_set", None)  # (a copy is not yet among the optimizers that stepped)
        return state

    def __setstate__(self, state):
        state.setdefault("foreach", None)
        state["_flat"] = {}
        self.__dict__.update(state)

    def _evaluate(self, closure):
        """Run ``closure`` (re-computes the loss and calls backward) with the graph switched on.
        Every step calls it first: it also records that the parameters are about to change in
        place, so a graph made before, that saved them, refuses a later backward (as PyTorch)."""
        mark_step(self)
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ----- saving and loading --------------------------------------------------------------
    def state_dict(self) -> dict:
        """A snapshot of the optimizer: ``{"state": {index: {name: value}}, "param_groups": [...]}``.

        Parameters are numbered 0, 1, 2, ... through the groups in order. Buffers are copied, so
        the snapshot does not change as training goes on. Parameters without state yet are left
        out of ``"state"``, as in PyTorch.
        """
        state = {}
        groups = []
        index = 0
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = list(range(index, index + len(group["params"])))
            groups.append(packed)
            for p in group["params"]:
                if self.state.get(p):
                    state[index] = {name: _snapshot(value) for name, value in self.state[p].items()}
                index += 1
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``: the groups' options and every parameter's buffers.

        The optimizer must have been built over the same parameters, in the same groups and order
        (their values can differ; they are not part of the state). Buffers are copied and cast to
        their parameter's dtype; state keys may be ints or their strings.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                "load_state_dict: expected a dict with 'state' and 'param_groups', as made by "
                "state_dict()."
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: the saved state has {len(saved_groups)} parameter groups, but "
                f"this {self._name} has {len(self.param_groups)}."
            )
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"load_state_dict: saved parameter group {i} has {len(saved['params'])} "
                    f"parameters, but this {self._name}'s group {i} has {len(group['params'])}."
                )

        saved_state = state_dict["state"]
        new_groups = []
        new_state = {}
        for saved, group in zip(saved_groups, self.param_groups):
            new_group = {"params": group["params"]}
            new_group.update((k, v) for k, v in saved.items() if k != "params")
            self._check_options(new_group)
            new_groups.append(new_group)
            for index, p in zip(saved["params"], group["params"]):
                buffers = saved_state.get(index, saved_state.get(str(index), {}))
                new_state[p] = {
                    name: self._restore_value(value, p, name, index)
                    for name, value in buffers.items()
                }
        self.param_groups = new_groups
        self.state = new_state
        self._flat = {}  # (the loaded arrays are gathered again at the next flat step)

    def _restore_value(self, value, param, name, index):
        """One saved state value made ready for ``param`` (a subclass with other kinds of state,
        such as LBFGS's flat vectors, overrides it)."""
        return _restore(value, param, name, index)


def _snapshot(value):
    """A copy of a state value that later steps cannot change: arrays copied, also in lists."""
    if is_array(value):
        return value.copy()
    if isinstance(value, list):
        return [_snapshot(item) for item in value]
    return value


def _restore(value, param, name, index):
    """A saved state value made ready for ``param``: arrays copied in its dtype, numbers unwrapped."""
    if is_array(value) and value.shape == param.shape:  # onto the parameter's device, a copy
        return to_device(value, param.device).astype(param.dtype)
    if is_array(value) or isinstance(value, np.generic):
        if value.size != 1:
            raise ValueError(
                f"load_state_dict: the saved '{name}' of parameter {index} has shape "
                f"{value.shape}, but the parameter has shape {param.shape}."
            )
        return value.item()
    return value
