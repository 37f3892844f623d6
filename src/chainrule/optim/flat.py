"""The parameters of a group as one long vector: how an optimizer's ``foreach`` step works.

PyTorch's optimizers have two implementations of the same update: a loop over the parameters
(``foreach=False``), and multi-tensor kernels that update every parameter of a group at once
(``foreach=True``, its default on a GPU). On a GPU, each array operation is a kernel launch that
costs the host tens of microseconds whatever its size, so Adam's dozen operations per parameter,
times the fifty parameters of a small transformer, cost more than the model's own forward pass.

chainrule gets the same effect from the arithmetic alone: the optimizer's update (its
``_update``, the one written-out formula) runs once on a ``FlatParameter``, a stand-in whose
arrays hold every parameter and gradient of the group end to end, so it costs a dozen operations
for the whole group, plus one to gather the parameters, one the gradients and one copy back per
parameter. Element by element it is the same arithmetic in the same order, so the two
implementations agree to the last bit.

``FlatState`` keeps a group's state (Adam's ``exp_avg``, SGD's ``momentum_buffer``) as one flat
array per name, and each parameter's entry in ``optimizer.state`` as a view of its piece: the
state dict, a checkpoint and a user looking at ``state[p]`` see per-parameter arrays as before.
When something replaces an entry (``load_state_dict``, a user), the views no longer match and
the flat array is gathered again.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module

__all__ = ["FlatState", "FlatParameter"]


class FlatState:
    """The flat state arrays of one parameter group, for a fixed list of parameters."""

    def __init__(self, params):
        self.params = tuple(params)
        self.shapes = [p._data.shape for p in self.params]
        self.sizes = [p._data.size for p in self.params]
        self.offsets = np.cumsum([0] + self.sizes[:-1]).tolist()
        self.arrays: dict = {}  # state name -> (flat array, the views handed to the states)

    def matches(self, params) -> bool:
        """Whether these are still the parameters (the same objects, in order, of the same shapes)."""
        return (len(params) == len(self.params)
                and all(p is q for p, q in zip(params, self.params))
                and all(p._data.shape == shape for p, shape in zip(params, self.shapes)))

    def gather(self, arrays):
        """One flat array holding ``arrays`` (one per parameter) end to end."""
        xp = get_array_module(arrays[0])
        return xp.concatenate([a.reshape(-1) for a in arrays])

    def scatter(self, flat, targets) -> None:
        """Copy the pieces of ``flat`` into ``targets`` (one array per parameter), in place."""
        for target, view in zip(targets, self.views(flat)):
            target[...] = view

    def views(self, flat) -> list:
        """Each parameter's piece of ``flat``, in its shape (views, no copies)."""
        return [flat[o:o + n].reshape(shape)
                for o, n, shape in zip(self.offsets, self.sizes, self.shapes)]

    def state_array(self, name, states):
        """The flat array behind every parameter's ``states[k][name]``: the one kept from the last
        step while each entry is still its view, else gathered anew (and the entries made views of
        it)."""
        values = [state[name] for state in states]
        kept = self.arrays.get(name)
        if kept is not None and all(v is w for v, w in zip(values, kept[1])):
            return kept[0]
        flat = self.gather(values)
        self.share(name, flat, states)
        return flat

    def share(self, name, flat, states) -> None:
        """Make every parameter's ``states[k][name]`` a view of ``flat`` (unless it is already)."""
        kept = self.arrays.get(name)
        if kept is not None and kept[0] is flat:
            return
        views = self.views(flat)
        for state, view in zip(states, views):
            state[name] = view
        self.arrays[name] = (flat, views)


class _FlatGradient:
    __slots__ = ("_data",)

    def __init__(self, data):
        self._data = data


class FlatParameter:
    """A group's parameters end to end, as an optimizer's ``_update`` sees one parameter: its
    ``_data`` and its ``grad._data`` are the flat arrays."""

    __slots__ = ("_data", "grad")

    def __init__(self, data, grad):
        self._data = data
        self.grad = _FlatGradient(grad)
