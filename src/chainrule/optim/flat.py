"""The parameters of a group as one long vector: how an optimizer's ``foreach`` step works.

PyTorch's optimizers have two implementations of the same update: a loop over the parameters
(``foreach=False``), and multi-tensor kernels that update every parameter of a group at once
(``foreach=True``, its default on a GPU). On a GPU, each array operation is a kernel launch that
costs the host tens of microseconds whatever its size, so Adam's dozen operations per parameter,
times the fifty parameters of a small transformer, cost more than the model's own forward pass.

chainrule gets the same effect from the arithmetic alone: the optimizer's update (its
``_update``, the one written-out formula) runs once on a ``FlatParameter``, a stand-in whose
arrays hold every parameter and gradient of the group end to end, so it costs a dozen operations
for the whole group, plus one to gather the gradients. Element by element it is the same
arithmetic in the same order, so the two implementations agree to the last bit.

``FlatState`` keeps a group's state (Adam's ``exp_avg``, SGD's ``momentum_buffer``) as one flat
array per name, and each parameter's entry in ``optimizer.state`` as a view of its piece: the
state dict, a checkpoint and a user looking at ``state[p]`` see per-parameter arrays as before.
When something replaces an entry (``load_state_dict``, a user), the views no longer match and
the flat array is gathered again.

The parameters themselves live in a flat array the same way: at the first step each parameter's
array is replaced by the view of its piece, which holds the same numbers, so that updating the
flat array updates the parameters, with nothing to copy back. Only an array that nothing else
holds is replaced (``backend.held_only_by``): a parameter whose array another Tensor, a view or
a name in user code still holds keeps it, and gets its numbers copied in before each update and
back out after it. When the optimizer lets go of its flat state (a state dict loaded), the next
step finds the parameters still the pieces of their flat array and takes it up again.

The in-place checks count each parameter's changes apart (``engine.count_pieces_apart``): an
in-place change of one parameter between a forward pass and its backward stops only the ops that
saved that parameter, as with arrays of their own, and a parameter's ``_version`` goes on from
its count before it moved into the flat array.
"""

from __future__ import annotations

import numpy as np

from ..autograd.engine import carry_version, count_pieces_apart
from ..backend import data_address, get_array_module, held_only_by

__all__ = ["FlatState", "FlatParameter"]


class FlatState:
    """The flat state arrays of one parameter group, for a fixed list of parameters."""

    def __init__(self, params):
        self.params = tuple(params)
        self.shapes = [p._data.shape for p in self.params]
        self.kind = (type(self.params[0]._data), self.params[0]._data.dtype)
        self.sizes = [p._data.size for p in self.params]
        self.offsets = np.cumsum([0] + self.sizes[:-1]).tolist()
        self.arrays: dict = {}  # state name -> (flat array, the views handed to the states)
        self.values = None      # the parameters' flat array and its views (``parameters``)
        self.loose: list = []   # (parameter, its view) for those whose own arrays are kept

    def matches(self, params) -> bool:
        """Whether these are still the parameters (the same objects, in order, of the same shapes,
        array type and dtype)."""
        return (len(params) == len(self.params)
                and all(p is q for p, q in zip(params, self.params))
                and all(p._data.shape == shape for p, shape in zip(params, self.shapes))
                and all((type(p._data), p._data.dtype) == self.kind for p in params))

    def parameters(self, params):
        """The flat array that holds the parameters' numbers end to end, for an update in place.
        Each parameter's array is the view of its piece where nothing else holds the array (see
        the module's docstring); the others, and any array a user assigned since the last step,
        have their numbers copied in (``write_back`` copies them out after the update)."""
        if self.values is None:
            arrays = [p._data for p in params]
            flat = self.joined(arrays)  # (their flat array from before, after a state dict load)
            if flat is None:
                flat = self.gather(arrays)
                views = self.views(flat)
            else:
                views = arrays
            count_pieces_apart(flat, self.offsets)  # (each parameter's changes counted apart)
            del arrays
            self.values, copy_in = (flat, views), False
        else:
            (flat, views), copy_in = self.values, True
        if copy_in and len(self.loose) == len(params):  # none could be taken in (see below):
            arrays = [p._data for p in params]  # their numbers copied in with one operation
            get_array_module(flat).concatenate([a.reshape(-1) for a in arrays], out=flat)
            return flat
        self.loose = []
        for p, view in zip(params, views):
            if p._data is view:
                continue
            if copy_in:
                view[...] = p._data
            if held_only_by(p):
                carry_version(p._data, view)
                p._data = view
            else:  # (held elsewhere, or a view itself: of the flat array of an earlier set of
                self.loose.append((p, view))  # parameters, when their step counts parted)
        return flat

    def write_back(self) -> None:
        """After an update: the parameters that keep arrays of their own get their new numbers."""
        for p, view in self.loose:
            p._data[...] = view

    def joined(self, arrays):
        """The one flat array whose consecutive pieces ``arrays`` are, in this layout, or None:
        the parameters' flat array of an earlier FlatState, which the optimizer dropped (a state
        dict was loaded), taken up again as it is."""
        flat = arrays[0].base
        if (type(flat) is not type(arrays[0]) or flat.dtype != arrays[0].dtype or flat.ndim != 1
                or flat.size != sum(self.sizes) or not flat.flags.c_contiguous):
            return None  # (a base that is no array of theirs: a memory map, a bytes buffer, ...)
        start, item = data_address(flat), flat.itemsize
        for array, offset in zip(arrays, self.offsets):
            if (array.base is not flat or not array.flags.c_contiguous
                    or array.size and data_address(array) != start + offset * item):
                return None  # (an empty piece's address is no offset: it is not compared)
        return flat

    def gather(self, arrays):
        """One flat array holding ``arrays`` (one per parameter) end to end."""
        xp = get_array_module(arrays[0])
        return xp.concatenate([a.reshape(-1) for a in arrays])

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
